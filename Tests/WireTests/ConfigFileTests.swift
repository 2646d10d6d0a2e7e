// Tests for ConfigParser, ConfigSchema and ConfigFile: values, every error message, overrides, rendering.
import Testing

@testable import Wire

#if canImport(Glibc)
import Glibc
#endif

private let schema: ConfigSchema = {
    var s = ConfigSchema(keys: [
        .string("name", default: "broker", doc: "Instance name."),
        .string(
            "fanout.listen", default: "0.0.0.0:8080", doc: "Address the WebSocket listener binds.",
            check: { v in
                guard case .string(let s) = v, s.contains(":") else { return "expected HOST:PORT" }
                return nil
            }),
        .integer(
            "fanout.max_connections", default: 10_000, bounds: 1...19_000,
            doc: "Connections one process holds.\nBounded by RLIMIT_NOFILE."),
        .bool("fanout.echo", default: false, doc: "Adds /echo."),
        .string("fanout.feed", default: "kafka", doc: "Quote source.", allowed: ["kafka", "synthetic"]),
        .float("fanout.zipf", default: 1.0, bounds: 0...4, doc: "Zipf exponent for synthetic clients."),
        .strings("fanout.symbols", default: [], doc: "Symbols to preload."),
        .integers("fanout.partitions", default: [0, 1], bounds: 0...1023, doc: "Kafka partitions."),
        .string("fanout.tls.cert", default: "", doc: "PEM certificate chain; empty disables TLS."),
    ])
    s.document(table: "fanout", "The WebSocket fanout node.")
    return s
}()

private func parse(_ text: String, env: [String: String] = [:], overrides: [ConfigOverride] = [])
    throws(ConfigError) -> ConfigFile
{
    try ConfigFile(text: text, name: "broker.toml", schema: schema, environment: env, overrides: overrides)
}

/// The description of the error `text` raises, or "no error".
private func error(_ text: String, env: [String: String] = [:], overrides: [ConfigOverride] = []) -> String {
    do {
        _ = try parse(text, env: env, overrides: overrides)
        return "no error"
    } catch {
        return error.description
    }
}

@Suite struct ConfigFileTests {
    @Test func emptyFileGivesDefaults() throws {
        let c = try parse("")
        #expect(c.string("fanout.listen") == "0.0.0.0:8080")
        #expect(c.int("fanout.max_connections") == 10_000)
        #expect(c.bool("fanout.echo") == false)
        #expect(c.double("fanout.zipf") == 1.0)
        #expect(c.strings("fanout.symbols") == [])
        #expect(c.ints("fanout.partitions") == [0, 1])
        #expect(c.origin(of: "fanout.echo") == .schemaDefault)
    }

    @Test func parsesEveryValueForm() throws {
        let c = try parse(
            """
            # leading comment
            name = 'lit\\eral'   # literal strings keep backslashes
            [fanout]
            listen = "127.0.0.1:9000"
            max_connections = 1_500
            echo = true
            zipf = 1.25e0
            feed = "synthetic"
            symbols = [
              "TCS",   # comments inside arrays
              "A\\u00e9\\t\\"q\\"\\\\",
            ]
            partitions = [3, 4,5]
            tls.cert = "/etc/cert.pem"
            """)
        #expect(c.string("name") == "lit\\eral")
        #expect(c.string("fanout.listen") == "127.0.0.1:9000")
        #expect(c.int("fanout.max_connections") == 1500)
        #expect(c.bool("fanout.echo"))
        #expect(c.double("fanout.zipf") == 1.25)
        #expect(c.string("fanout.feed") == "synthetic")
        #expect(c.strings("fanout.symbols") == ["TCS", "Aé\t\"q\"\\"])
        #expect(c.ints("fanout.partitions") == [3, 4, 5])
        #expect(c.string("fanout.tls.cert") == "/etc/cert.pem")
        #expect(c.origin(of: "fanout.echo") == .file(line: 6))
    }

    @Test func subTableHeaderAndCRLF() throws {
        let c = try parse("[fanout.tls]\r\ncert = \"x\"\r\n[ fanout ]\r\nzipf = 2\r\n")
        #expect(c.string("fanout.tls.cert") == "x")
        #expect(c.double("fanout.zipf") == 2.0)  // integers are accepted where floats are expected
    }

    @Test func syntaxErrorsNameTheLine() {
        let cases: [(String, String)] = [
            ("[fanout]\nlisten \"x\"", "broker.toml:2: expected '=' after key 'fanout.listen'"),
            ("[fanout]\nlisten = ", "broker.toml:2: expected a value"),
            ("name = \"abc", "broker.toml:1: unterminated string"),
            ("name = 'abc\n", "broker.toml:1: unterminated string"),
            ("name = \"a\\qb\"", "broker.toml:1: invalid escape '\\q' in string"),
            ("name = \"\\u12\"", "broker.toml:1: invalid unicode escape in string"),
            ("name = \"\"\"x\"\"\"", "broker.toml:1: multi-line strings are not supported"),
            ("name = {a = 1}", "broker.toml:1: inline tables are not supported"),
            ("[[fanout]]", "broker.toml:1: arrays of tables ([[...]]) are not supported"),
            ("\"name\" = 1", "broker.toml:1: quoted keys are not supported"),
            ("= 1", "broker.toml:1: expected a key, found '='"),
            ("[fanout\nx = 1", "broker.toml:1: expected ']' after table name 'fanout'"),
            ("name = \"a\" b", "broker.toml:1: unexpected 'b' after value"),
            ("[fanout] x", "broker.toml:1: unexpected 'x' after value"),
            ("name = localhost", "broker.toml:1: expected a value, found 'localhost' (strings need quotes)"),
            ("[fanout]\nmax_connections = 1__0", "broker.toml:2: invalid integer '1__0'"),
            ("[fanout]\nmax_connections = _1", "broker.toml:2: expected a value, found '_1' (strings need quotes)"),
            ("[fanout]\nmax_connections = 012", "broker.toml:2: invalid integer '012'"),
            ("[fanout]\nmax_connections = 0x1F", "broker.toml:2: invalid integer '0x1F'"),
            (
                "[fanout]\nmax_connections = 99999999999999999999",
                "broker.toml:2: integer '99999999999999999999' overflows"
            ),
            ("[fanout]\nzipf = 1.", "broker.toml:2: invalid number '1.'"),
            ("[fanout]\nzipf = .5", "broker.toml:2: expected a value, found '.5' (strings need quotes)"),
            ("[fanout]\nzipf = 1e", "broker.toml:2: invalid number '1e'"),
            ("[fanout]\nsymbols = [\"a\", 1]", "broker.toml:2: mixed types in array (a string and an integer)"),
            ("[fanout]\nsymbols = [[\"a\"]]", "broker.toml:2: nested arrays are not supported"),
            ("[fanout]\nsymbols = [\"a\"\n\"b\"]", "broker.toml:3: expected ',' or ']' in array, found '\"'"),
            ("[fanout]\nsymbols = [\"a\",\n", "broker.toml:3: unterminated array"),
        ]
        for (text, expected) in cases {
            #expect(error(text) == expected, "\(text)")
        }
    }

    @Test func schemaErrorsNameKeyAndLine() {
        let cases: [(String, String)] = [
            ("[fanout]\n\nmax_conns = 5", "broker.toml:3: unknown key 'fanout.max_conns'"),
            ("fanout.max_conns = 5", "broker.toml:1: unknown key 'fanout.max_conns'"),
            ("# c\n[fanot]\nlisten = \"x\"", "broker.toml:2: unknown table '[fanot]'"),
            ("[fanout]\necho = true\necho = false", "broker.toml:3: duplicate key 'fanout.echo' (first set on line 2)"),
            ("[fanout]\n[fanout]", "broker.toml:2: duplicate table '[fanout]' (first on line 1)"),
            (
                "[fanout]\nmax_connections = \"5\"",
                "broker.toml:2: key 'fanout.max_connections' expects an integer, found a string"
            ),
            ("[fanout]\necho = 1", "broker.toml:2: key 'fanout.echo' expects a boolean, found an integer"),
            ("[fanout]\nzipf = true", "broker.toml:2: key 'fanout.zipf' expects a float, found a boolean"),
            ("[fanout]\nlisten = 1.5", "broker.toml:2: key 'fanout.listen' expects a string, found a float"),
            (
                "[fanout]\nsymbols = \"TCS\"",
                "broker.toml:2: key 'fanout.symbols' expects an array of strings, found a string"
            ),
            (
                "[fanout]\nsymbols = [1, 2]",
                "broker.toml:2: key 'fanout.symbols' expects an array of strings, found an array of integers"
            ),
            (
                "[fanout]\npartitions = [\"1\"]",
                "broker.toml:2: key 'fanout.partitions' expects an array of integers, found an array of strings"
            ),
            (
                "[fanout]\nmax_connections = 0",
                "broker.toml:2: key 'fanout.max_connections' value 0 is out of range 1...19000"
            ),
            (
                "[fanout]\nmax_connections = -5",
                "broker.toml:2: key 'fanout.max_connections' value -5 is out of range 1...19000"
            ),
            ("[fanout]\nzipf = 4.5", "broker.toml:2: key 'fanout.zipf' value 4.5 is out of range 0.0...4.0"),
            (
                "[fanout]\npartitions = [1, 2048]",
                "broker.toml:2: key 'fanout.partitions' element 2048 is out of range 0...1023"
            ),
            (
                "[fanout]\nfeed = \"redis\"",
                "broker.toml:2: key 'fanout.feed' value \"redis\" is not one of \"kafka\", \"synthetic\""
            ),
            ("[fanout]\nlisten = \"8080\"", "broker.toml:2: key 'fanout.listen' expected HOST:PORT"),
            ("[fanout]\ntls = \"x\"", "broker.toml:2: unknown key 'fanout.tls'"),
        ]
        for (text, expected) in cases {
            #expect(error(text) == expected, "\(text)")
        }
    }

    @Test func errorKindsAreTyped() {
        #expect(throws: ConfigError(.unknownKey, origin: "broker.toml:1", "unknown key 'nope'")) {
            try parse("nope = 1")
        }
        do {
            _ = try parse("[fanout]\nzipf = 9")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .invalidValue)
        }
    }

    @Test func environmentOverridesFileAndFlagsOverrideEnvironment() throws {
        let text = "[fanout]\nlisten = \"a:1\"\nmax_connections = 5\n"
        let env = [
            "BROKER_FANOUT_LISTEN": "b:2", "BROKER_FANOUT_MAX_CONNECTIONS": "1_000",
            "BROKER_FANOUT_SYMBOLS": "TCS, INFY", "BROKER_FANOUT_PARTITIONS": "[7, 8]",
            "BROKER_FANOUT_TLS_CERT": "\"/q\\tx\"", "PATH": "/bin",
        ]
        let c = try parse(
            text, env: env, overrides: [ConfigOverride(key: "fanout.listen", text: "c:3", origin: "--listen")])
        #expect(c.string("fanout.listen") == "c:3")
        #expect(c.origin(of: "fanout.listen") == .commandLine("--listen"))
        #expect(c.int("fanout.max_connections") == 1000)
        #expect(c.origin(of: "fanout.max_connections") == .environment("BROKER_FANOUT_MAX_CONNECTIONS"))
        #expect(c.strings("fanout.symbols") == ["TCS", "INFY"])
        #expect(c.ints("fanout.partitions") == [7, 8])
        #expect(c.string("fanout.tls.cert") == "/q\tx")
    }

    @Test func overrideErrors() {
        #expect(
            error("", env: ["BROKER_FANOUT_MAX_CONNS": "1"])
                == "environment BROKER_FANOUT_MAX_CONNS: no config key is named by this variable")
        #expect(
            error("", env: ["BROKER_FANOUT_ECHO": "yes"])
                == "environment BROKER_FANOUT_ECHO: key 'fanout.echo' expects a boolean, found 'yes' "
                + "(expected a value, found 'yes' (strings need quotes))")
        #expect(
            error("", env: ["BROKER_FANOUT_MAX_CONNECTIONS": "20000"])
                == "environment BROKER_FANOUT_MAX_CONNECTIONS: "
                + "key 'fanout.max_connections' value 20000 is out of range 1...19000"
        )
        #expect(
            error("", overrides: [ConfigOverride(key: "fanout.nope", text: "1", origin: "--set fanout.nope")])
                == "--set fanout.nope: unknown key 'fanout.nope'")
        #expect(
            error(
                "",
                overrides: [ConfigOverride(key: "fanout.partitions", text: "1,x", origin: "--set fanout.partitions")])
                == "--set fanout.partitions: key 'fanout.partitions' expects an array of integers, found 'x' "
                + "(expected a value, found 'x' (strings need quotes))")
        #expect(
            error("", overrides: [ConfigOverride(key: "fanout.feed", text: "kafkaa", origin: "--feed")])
                == "--feed: key 'fanout.feed' value \"kafkaa\" is not one of \"kafka\", \"synthetic\"")
        // Ignored variables and other prefixes pass.
        #expect(
            (try? ConfigFile(
                text: "", name: "x", schema: schema, environment: ["BROKER_CONFIG": "/x"],
                ignoredEnvironment: ["BROKER_CONFIG"])) != nil)
        #expect(
            (try? ConfigFile(
                text: "", name: "x", schema: schema, environment: ["BROKER_X": "/x"],
                environmentPrefix: nil)) != nil)
    }

    @Test func commandLineExtraction() throws {
        let flags = [
            ConfigFlag("--listen", key: "fanout.listen"),
            ConfigFlag("--echo", key: "fanout.echo", impliedValue: "true"),
        ]
        let (o, rest) = try ConfigCommandLine.extractOverrides(
            from: [
                "fanout", "--config", "b.toml", "--set", "fanout.zipf=2.5", "--listen", "h:1", "--echo",
                "--set=fanout.feed=synthetic", "--listen=h:2", "--echo=false",
            ],
            flags: flags)
        #expect(rest == ["fanout", "--config", "b.toml"])
        #expect(
            o == [
                ConfigOverride(key: "fanout.zipf", text: "2.5", origin: "--set fanout.zipf"),
                ConfigOverride(key: "fanout.listen", text: "h:1", origin: "--listen"),
                ConfigOverride(key: "fanout.echo", text: "true", origin: "--echo"),
                ConfigOverride(key: "fanout.feed", text: "synthetic", origin: "--set fanout.feed"),
                ConfigOverride(key: "fanout.listen", text: "h:2", origin: "--listen"),
                ConfigOverride(key: "fanout.echo", text: "false", origin: "--echo"),
            ])
        let c = try parse("", overrides: o)
        #expect(c.string("fanout.listen") == "h:2")
        #expect(c.bool("fanout.echo") == false)
        #expect(c.double("fanout.zipf") == 2.5)

        #expect(throws: ConfigError(.badArgument, origin: "--set", "expected section.key=value, found 'fanout.zipf'")) {
            try ConfigCommandLine.extractOverrides(from: ["--set", "fanout.zipf"])
        }
        #expect(throws: ConfigError(.badArgument, origin: "--set", "missing value")) {
            try ConfigCommandLine.extractOverrides(from: ["--set"])
        }
        #expect(throws: ConfigError(.badArgument, origin: "--listen", "missing value")) {
            try ConfigCommandLine.extractOverrides(from: ["--listen"], flags: flags)
        }
    }

    @Test func renderedDefaultsParseBackToDefaults() throws {
        let text = schema.renderDefaults(header: "broker.toml: every tunable.")
        let c = try ConfigFile(text: text, name: "rendered", schema: schema)
        for k in schema.keys {
            #expect(c.value(k.name) == k.defaultValue, "\(k.name)")
            #expect(c.origin(of: k.name) != .schemaDefault, "\(k.name) should be written in the rendered file")
        }
        #expect(
            text.contains(
                """
                # The WebSocket fanout node.
                [fanout]

                # Address the WebSocket listener binds.
                # Type: a string. Env: BROKER_FANOUT_LISTEN.
                listen = "0.0.0.0:8080"

                # Connections one process holds.
                # Bounded by RLIMIT_NOFILE.
                # Type: an integer, range 1...19000. Env: BROKER_FANOUT_MAX_CONNECTIONS.
                max_connections = 10000
                """))
        #expect(
            text.contains(
                "# Type: a string, one of \"kafka\", \"synthetic\". Env: BROKER_FANOUT_FEED.\nfeed = \"kafka\""))
        #expect(text.hasPrefix("# broker.toml: every tunable.\n\n\n# Instance name.\n"))
        #expect(text.contains("[fanout.tls]\n\n# PEM certificate chain; empty disables TLS."))
        let commented = schema.renderDefaults(commentedOut: true)
        #expect(commented.contains("# listen = \"0.0.0.0:8080\"\n"))
        #expect(
            try ConfigFile(text: commented, name: "c", schema: schema).origin(of: "fanout.listen") == .schemaDefault)
    }

    @Test func quotingRoundTrips() throws {
        let s = ConfigSchema(keys: [.string("a", default: "q\"\\\n\t\r\u{01}é", doc: "x")])
        let c = try ConfigFile(text: s.renderDefaults(), name: "r", schema: s)
        #expect(c.string("a") == "q\"\\\n\t\r\u{01}é")
    }

    @Test func effectiveRenderingNamesOrigins() throws {
        let c = try parse("[fanout]\necho = true", env: ["BROKER_FANOUT_FEED": "synthetic"])
        let text = c.renderEffective()
        #expect(text.contains("fanout.echo = true  # line 2\n"))
        #expect(text.contains("fanout.feed = \"synthetic\"  # environment BROKER_FANOUT_FEED\n"))
        #expect(text.contains("fanout.listen = \"0.0.0.0:8080\"  # default\n"))
    }

    @Test func loadsFromDiskAndReportsMissingFile() throws {
        let path = "/tmp/wire-config-test-\(getpid()).toml"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        let body = "[fanout]\nmax_connections = 77\n" + String(repeating: "# padding past one read\n", count: 400)
        _ = body.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        defer { unlink(path) }
        let c = try ConfigFile.load(path: path, schema: schema)
        #expect(c.int("fanout.max_connections") == 77)

        #expect(
            throws: ConfigError(
                .unreadable(ENOENT), origin: "/nonexistent/broker.toml",
                "cannot read: No such file or directory")
        ) {
            try ConfigFile.load(path: "/nonexistent/broker.toml", schema: schema)
        }
        #expect(try ConfigFile.load(path: nil, schema: schema).int("fanout.max_connections") == 10_000)
        #expect(ConfigFile.processEnvironment()["PATH"] != nil)
    }
}

@Suite struct ConfigFileMutationTests {
    /// Seeded mutations of a valid file must end in a value or a ConfigError naming a line, never a trap.
    @Test func mutatedFilesFailWithALineNumber() {
        let valid = Array(schema.renderDefaults().utf8) + Array("[fanout]\nsymbols = [\"a\", \"b\\t\"]\n".utf8)
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let interesting: [UInt8] = Array("\"'[]=.#\\\n\r \t,{u0_-+e".utf8) + [0x00, 0xFF]
        var errors = 0
        for _ in 0..<1500 {
            var bytes = valid
            for _ in 0..<(1 + next(3)) {
                let at = next(bytes.count)
                let b = interesting[next(interesting.count)]
                if next(2) == 0 { bytes[at] = b } else { bytes.insert(b, at: at) }
            }
            do {
                _ = try ConfigFile(text: String(decoding: bytes, as: UTF8.self), name: "m.toml", schema: schema)
            } catch {
                errors += 1
                #expect(error.origin.hasPrefix("m.toml:"), "\(error)")
            }
        }
        #expect(errors > 300)
    }
}
