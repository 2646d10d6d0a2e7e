#!/usr/bin/env python3
"""TLS interop client for Wire's TLS server side (TLSEngine behind a TCPListener or a test socket).

Usage: echo_client.py HOST PORT CAFILE [SERVER_NAME]

Connects with Python's ssl module (OpenSSL underneath, but an independent TLS client stack from
ours), verifies the server certificate against CAFILE and SERVER_NAME (default "localhost"), sends
messages of several sizes (one byte, one record, many records) to an echo handler, checks each echo
byte for byte, then closes with close_notify and waits for the server's (ssl unwrap()).
Prints "OK <version> <cipher>" and exits 0 on success; prints the problem and exits 1 otherwise.
"""
import socket
import ssl
import sys


def recv_exactly(tls, n):
    chunks = []
    while n > 0:
        chunk = tls.recv(min(n, 65536))
        if not chunk:
            raise RuntimeError("connection closed with %d bytes missing" % n)
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def main():
    host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server_name = sys.argv[4] if len(sys.argv) > 4 else "localhost"
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((host, port), timeout=10) as raw:
        tls = context.wrap_socket(raw, server_hostname=server_name)
        for size in (1, 100, 16384, 100_000):
            payload = bytes((i * 7 + size) % 256 for i in range(size))
            tls.sendall(payload)
            echoed = recv_exactly(tls, size)
            if echoed != payload:
                print("echo mismatch for %d bytes" % size)
                return 1
        version, cipher = tls.version(), tls.cipher()[0]
        tls.unwrap()  # our close_notify, then wait for the server's
    print("OK %s %s" % (version, cipher))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # any failure is a test failure with its reason on stdout
        print("FAIL %s: %s" % (type(error).__name__, error))
        sys.exit(1)
