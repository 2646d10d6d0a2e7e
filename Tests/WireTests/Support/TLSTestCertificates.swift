// TLSTestCertificates: a self-signed certificate made at test time with the openssl CLI.
// One per test process (EC P-256 keys take milliseconds); nothing is checked into the repository.
#if canImport(Glibc)
import Glibc
#endif

struct TLSTestCertificates: Sendable {
    /// Directory holding the files.
    let directory: String
    /// Self-signed leaf for CN=localhost, SAN DNS:localhost and IP:127.0.0.1; also its own CA.
    let certificatePath: String
    /// The leaf's private key.
    let privateKeyPath: String
    /// A key that does not match the certificate.
    let otherKeyPath: String

    /// Generated once per test process.
    static let shared = TLSTestCertificates()

    private init() {
        directory = makeTemporaryDirectory("wire-tls")
        certificatePath = directory + "/cert.pem"
        privateKeyPath = directory + "/key.pem"
        otherKeyPath = directory + "/other-key.pem"
        let req = TestProcess.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", privateKeyPath, "-out", certificatePath, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        precondition(req.status == 0, "openssl req failed: \(req.output)")
        let other = TestProcess.run([
            "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", otherKeyPath,
        ])
        precondition(other.status == 0, "openssl genpkey failed: \(other.output)")
    }
}
