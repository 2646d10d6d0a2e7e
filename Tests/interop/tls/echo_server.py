#!/usr/bin/env python3
"""TLS interop server for Wire's TLS client side (TCPConnection.connect(tls:)).

Usage: echo_server.py CERTFILE KEYFILE

Listens on 127.0.0.1 on a free port with Python's ssl module, prints "PORT <n>" on stdout (flushed),
accepts one connection, echoes every byte until the client's close_notify, answers with its own
(unwrap()), prints "OK <version> <bytes>" and exits 0. Exits 1 with the reason on failure; gives up
after 15 seconds so a broken client cannot hang the test.
"""
import socket
import ssl
import sys


def main():
    certfile, keyfile = sys.argv[1], sys.argv[2]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(15)
        print("PORT %d" % listener.getsockname()[1], flush=True)
        raw, _ = listener.accept()
        raw.settimeout(15)
        tls = context.wrap_socket(raw, server_side=True)
        total = 0
        while True:
            data = tls.recv(65536)
            if not data:  # the client's close_notify
                break
            total += len(data)
            tls.sendall(data)
        version = tls.version()
        tls.unwrap()
        raw.close()
    print("OK %s %d" % (version, total), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:
        print("FAIL %s: %s" % (type(error).__name__, error), flush=True)
        sys.exit(1)
