#!/usr/bin/env python3
"""Interop check: a `websockets` echo server for our WebSocketClient.

Usage: echo_server.py [--deflate]
Binds 127.0.0.1 on a free port, prints "PORT <n>" on one line, echoes every message, and exits
after the first connection closes (or after 30 s). Exit code 0 when the client closed with 1000.
"""
import argparse
import sys
import threading

from websockets.sync.server import serve


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deflate", action="store_true")
    args = ap.parse_args()
    result = {"code": None}

    def handler(ws):
        try:
            for message in ws:
                ws.send(message)
        finally:
            result["code"] = ws.close_code
            threading.Thread(target=server.shutdown, daemon=True).start()

    compression = "deflate" if args.deflate else None
    with serve(handler, "127.0.0.1", 0, compression=compression, max_size=2**22) as server:
        port = server.socket.getsockname()[1]
        print(f"PORT {port}", flush=True)
        timer = threading.Timer(30, server.shutdown)
        timer.daemon = True
        timer.start()
        server.serve_forever()
    print(f"CLOSED {result['code']}", flush=True)
    return 0 if result["code"] == 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
