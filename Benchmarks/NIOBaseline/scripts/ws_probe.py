#!/usr/bin/env python3
"""Smoke client for nio-fanout (or any server speaking our quote protocol).

Subscribes to a few symbols, prints the replies and the first quotes with their latency
(receive time - ts), and exits. Needs the `websockets` package.

    python3 scripts/ws_probe.py --url ws://127.0.0.1:8090/ws --symbols S0001,S0002 --count 5
"""
import argparse
import asyncio
import json
import time

import websockets


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8090/ws")
    parser.add_argument("--symbols", default="S0000,S0001,S0002")
    parser.add_argument("--count", type=int, default=5, help="quotes to print before exiting")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    symbols = args.symbols.split(",")
    async with websockets.connect(args.url) as ws:
        await ws.send(json.dumps({"action": "subscribe", "symbols": symbols}))
        quotes = 0
        deadline = time.monotonic() + args.timeout
        while quotes < args.count:
            raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            message = json.loads(raw)
            if message.get("type") == "quote":
                quotes += 1
                latency_ms = (time.time_ns() - message["ts"]) / 1e6
                print(f"{raw}  latency={latency_ms:.3f}ms")
            else:
                print(raw)
        await ws.send(json.dumps({"action": "unsubscribe", "symbols": symbols}))
        print(await ws.recv())


if __name__ == "__main__":
    asyncio.run(main())
