#!/usr/bin/env python3
"""Interop check: the `websockets` client against our echo endpoint.

Usage: echo_client.py PORT [--deflate] [--path /echo]
Exits 0 and prints "OK <extensions>" when every check passes; prints the failure and exits 1 otherwise.
Run by Tests/WebSocketTests/WebSocketInteropTests.swift; the server must echo text and binary.
"""
import argparse
import sys

from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosedOK


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--deflate", action="store_true")
    ap.add_argument("--path", default="/echo")
    args = ap.parse_args()

    uri = f"ws://127.0.0.1:{args.port}{args.path}"
    compression = "deflate" if args.deflate else None
    with connect(uri, compression=compression, open_timeout=5, close_timeout=5, max_size=2**22) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        if args.deflate and "permessage-deflate" not in ext:
            raise SystemExit(f"FAIL deflate not negotiated: {ext!r}")
        if not args.deflate and ext:
            raise SystemExit(f"FAIL unexpected extensions: {ext!r}")

        messages = [
            "hello",
            "",
            "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞",
            "x" * 125,
            "y" * 126,
            "z" * 65535,
            "{\"type\":\"quote\",\"symbol\":\"S0001\",\"ltp\":2450.75}" * 2000,
            b"\x00\x01\x02\xff" * 1000,
            bytes(range(256)) * 300,
        ]
        for m in messages:
            ws.send(m)
            got = ws.recv(timeout=5)
            if got != m:
                raise SystemExit(f"FAIL echo mismatch for {type(m).__name__} of length {len(m)}")

        # A fragmented message (RFC 6455 §5.4) comes back whole.
        ws.send(iter(["frag", "mented", " message"]))
        got = ws.recv(timeout=5)
        if got != "fragmented message":
            raise SystemExit(f"FAIL fragmented echo: {got!r}")

        # Ping gets a pong (§5.5.2).
        pong = ws.ping(b"interop")
        if not pong.wait(5):
            raise SystemExit("FAIL no pong")

        ws.close(code=1000, reason="done")
    if ws.close_code != 1000:
        raise SystemExit(f"FAIL close code {ws.close_code}")
    print(f"OK {ext}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConnectionClosedOK as e:
        print(f"FAIL closed early: {e}")
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as e:  # any failure is a test failure with its reason on stdout
        print(f"FAIL {type(e).__name__}: {e}")
        sys.exit(1)
