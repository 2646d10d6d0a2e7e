#!/usr/bin/env python3
"""Independent WebSocket client for the market-data end-to-end tests (DESIGN.md client protocol).

usage: md_client.py URL SYMBOLS SECONDS
  SYMBOLS: comma-separated symbols to subscribe to.
Checks: the first reply is `subscribed` with exactly SYMBOLS; every symbol's first quote arrives
within 1 s (the snapshot from the last-value cache, or live); only SYMBOLS arrive; seq strictly
increases per symbol. Prints 'OK {json summary}' and exits 0, or 'FAIL reason' and exits 1.
Every wait is bounded so a broken server fails the check instead of hanging it.
"""
import asyncio
import json
import sys
import time

import websockets


def quotes_of(msg):
    if msg.get("type") == "quote":
        return [msg]
    if msg.get("type") == "quotes":
        return msg["data"]
    return []


async def run(url, symbols, seconds):
    async with websockets.connect(url, max_size=2**22) as ws:
        t0 = time.monotonic()
        await ws.send(json.dumps({"action": "subscribe", "symbols": symbols}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first == {"type": "subscribed", "symbols": symbols}, first
        first_at = {}
        counts = {s: 0 for s in symbols}
        last = {}
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
            except asyncio.TimeoutError:
                break
            assert isinstance(raw, str), "binary frame"
            for q in quotes_of(json.loads(raw)):
                s = q["symbol"]
                assert s in counts, f"foreign symbol {s}"
                for k in ("ltp", "bid", "ask", "ts", "seq"):
                    assert k in q, f"missing {k}: {q}"
                assert q["seq"] > last.get(s, 0), f"seq not increasing for {s}: {last.get(s)} then {q['seq']}"
                last[s] = q["seq"]
                counts[s] += 1
                first_at.setdefault(s, time.monotonic() - t0)
        missing = [s for s in symbols if s not in first_at]
        assert not missing, f"no quote for {missing} in {seconds}s"
        slow = {s: round(t, 3) for s, t in first_at.items() if t > 1.0}
        assert not slow, f"first quote late (no snapshot?): {slow}"
        print("OK " + json.dumps({"counts": counts, "last_seq": last}))


def main():
    url, symbols, seconds = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
    try:
        asyncio.run(run(url, symbols, seconds))
    except Exception as e:  # report, never hang
        print(f"FAIL {type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
