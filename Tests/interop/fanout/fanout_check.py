#!/usr/bin/env python3
"""Independent client checks of a fanout node (DESIGN.md client protocol), run by the Swift tests.

usage: fanout_check.py SCENARIO URL
Prints 'OK <details>' and exits 0 on success; prints the failure and exits 1 otherwise.
Every wait is bounded, so a broken server fails the check instead of hanging it.
"""
import asyncio
import json
import os
import socket
import ssl
import sys
import time

import websockets


async def recv_json(ws, timeout=5.0):
    msg = await asyncio.wait_for(ws.recv(), timeout)
    if isinstance(msg, bytes):
        raise AssertionError(f"binary frame from server: {msg[:40]!r}")
    return json.loads(msg)


def quotes_of(msg):
    if msg.get("type") == "quote":
        return [msg]
    if msg.get("type") == "quotes":
        return msg["data"]
    return []


async def collect(ws, seconds):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            msg = await recv_json(ws, max(0.01, end - time.monotonic()))
        except asyncio.TimeoutError:
            break
        out.append(msg)
    return out


def tls_context():
    ca = os.environ.get("FANOUT_CHECK_CA")
    if not ca:
        return None
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


async def basic(url, compression):
    kw = {"ssl": tls_context()} if url.startswith("wss://") else {}
    async with websockets.connect(url, compression=compression, max_size=2**22, **kw) as ws:
        await ws.send(json.dumps({"action": "subscribe", "symbols": ["S0001", "S0002"]}))
        first = await recv_json(ws)
        assert first == {"type": "subscribed", "symbols": ["S0001", "S0002"]}, first
        msgs = await collect(ws, 1.5)
        quotes = [q for m in msgs for q in quotes_of(m)]
        assert quotes, "no quotes within 1.5 s"
        syms = {q["symbol"] for q in quotes}
        assert syms <= {"S0001", "S0002"}, f"foreign symbols: {syms}"
        last = {}
        for q in quotes:
            for k in ("symbol", "ltp", "bid", "ask", "ts", "seq"):
                assert k in q, f"missing {k}: {q}"
            s = q["symbol"]
            assert q["seq"] > last.get(s, 0), f"seq not increasing for {s}: {last.get(s)} then {q['seq']}"
            last[s] = q["seq"]
        await ws.send(json.dumps({"action": "unsubscribe", "symbols": ["S0002"]}))
        # Quotes already on the wire may still arrive; after the reply, none of S0002 may.
        msgs = await collect(ws, 1.0)
        seen_reply = False
        after = []
        for m in msgs:
            if m.get("type") == "unsubscribed":
                seen_reply = True
                continue
            if seen_reply:
                after += quotes_of(m)
        assert seen_reply, f"no unsubscribed reply in {msgs[:3]}"
        assert all(q["symbol"] == "S0001" for q in after), "S0002 after unsubscribe"
        assert after, "S0001 stopped too"
        print(f"OK quotes={len(quotes)} symbols={sorted(syms)} after_unsub={len(after)}")


async def snapshot(url):
    # A late subscriber gets the latest quote of each symbol first (the feed runs before we connect).
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"action": "subscribe", "symbols": ["S0003"]}))
        first = await recv_json(ws)
        assert first["type"] == "subscribed", first
        t0 = time.monotonic()
        nxt = await recv_json(ws, 2.0)
        q = quotes_of(nxt)
        assert q and q[0]["symbol"] == "S0003", nxt
        assert time.monotonic() - t0 < 0.5, "snapshot was not immediate"
        print(f"OK snapshot seq={q[0]['seq']}")


async def bad_input(url):
    async with websockets.connect(url, max_size=2**22) as ws:
        cases = [
            ("not json", "bad_request"),
            ('{"action":"fly","symbols":[]}', "unknown_action"),
            ('{"action":"subscribe","symbols":"S0001"}', "bad_request"),
            ('{"action":"subscribe","symbols":["NOPE_X"]}', "unknown_symbol"),
            (json.dumps({"action": "subscribe", "symbols": [f"S{i:04d}" for i in range(10000)]}), "too_many_symbols"),
        ]
        for text, code in cases:
            await ws.send(text)
            while True:
                m = await recv_json(ws)
                if m.get("type") in ("quote", "quotes"):
                    continue
                break
            assert m.get("type") == "error" and m.get("code") == code, f"{text[:40]!r}: {m}"
            assert m.get("message"), m
        await ws.send(b"\x01\x02binary")
        m = await recv_json(ws)
        assert m.get("type") == "error" and m.get("code") == "binary_not_supported", m
        # Still healthy: a normal subscribe works.
        await ws.send(json.dumps({"action": "subscribe", "symbols": ["S0004"]}))
        while True:
            m = await recv_json(ws)
            if m.get("type") == "subscribed":
                break
        assert m["symbols"] == ["S0004"], m
        print("OK bad input answered with errors, connection healthy")


async def slow(url, hold_seconds):
    # A raw socket that completes the handshake, subscribes to many symbols and never reads.
    host, port = url.split("//")[1].split("/")[0].split(":")
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    resp = s.recv(1024)
    assert resp.startswith(b"HTTP/1.1 101"), resp
    payload = json.dumps({"action": "subscribe", "symbols": [f"S{i:04d}" for i in range(200)]}).encode()
    mask = b"\x01\x02\x03\x04"
    hdr = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask
    s.sendall(hdr + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    # Meanwhile a fast client must keep getting quotes.
    async with websockets.connect(url) as fast:
        await fast.send(json.dumps({"action": "subscribe", "symbols": ["S0001"]}))
        got = 0
        end = time.monotonic() + hold_seconds
        while time.monotonic() < end:
            try:
                got += len(quotes_of(await recv_json(fast, 1.0)))
            except asyncio.TimeoutError:
                pass
        assert got > 0, "fast client starved"
    # Now read the slow socket: it must end (closed by the server) within a bounded time.
    s.settimeout(0.5)
    s.setblocking(True)
    deadline = time.monotonic() + 30
    closed = False
    total = 0
    tail = b""
    while time.monotonic() < deadline:
        try:
            b = s.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            closed = True
            break
        if not b:
            closed = True
            break
        total += len(b)
        tail = (tail + b)[-256:]
    assert closed, "slow consumer was not closed"
    has_1008 = b"\x88" in tail and (1008).to_bytes(2, "big") in tail
    print(f"OK fast_quotes={got} slow_bytes={total} close_1008={has_1008}")


def main():
    scenario, url = sys.argv[1], sys.argv[2]
    try:
        if scenario == "basic":
            asyncio.run(basic(url, None))
        elif scenario == "basic-deflate":
            asyncio.run(basic(url, "deflate"))
        elif scenario == "snapshot":
            asyncio.run(snapshot(url))
        elif scenario == "bad-input":
            asyncio.run(bad_input(url))
        elif scenario == "slow":
            asyncio.run(slow(url, float(sys.argv[3]) if len(sys.argv) > 3 else 3.0))
        else:
            print(f"unknown scenario {scenario}")
            sys.exit(2)
    except Exception as e:  # report, never hang
        print(f"FAIL {type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
