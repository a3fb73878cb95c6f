#!/usr/bin/env python3
"""Slow-loris load for the soak: --connections connections to the daemon, each sending a request head that never
ends ("POST /v1/events HTTP/1.1", a Host line, then header lines without end) one byte every --interval seconds
(±50%). When the server closes one (EOF, a reset, or an answer such as 408 or 431), it is counted and reopened.

Usage: loris.py --host 127.0.0.1 --port PORT [--connections 100] [--interval 1.0] [--status FILE]
--status is rewritten every 10 s with the JSON figures; SIGTERM prints them and exits: connections opened, open
now, closed by the server (by answer status, or eof/reset), connect failures, bytes sent."""
import argparse
import asyncio
import json
import random
import signal

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--connections", type=int, default=100)
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--status")
args = ap.parse_args()
stats = {"opened": 0, "open": 0, "closed_by_server": 0, "reconnections": 0, "closed_how": {},
         "connect_failures": 0, "bytes_sent": 0}


def head_bytes():
    yield from f"POST /v1/events HTTP/1.1\r\nHost: {args.host}:{args.port}\r\nContent-Type: application/json\r\n".encode()
    n = 0
    while True:
        yield from f"X-Loris-{n}: {'a' * 16}\r\n".encode()
        n += 1


async def watch(reader):
    data = await reader.read(256)
    if not data:
        return "eof"
    first = data.split(b"\r\n", 1)[0].split()
    return f"http {first[1].decode()}" if len(first) > 1 and first[0].startswith(b"HTTP/") else "data"


async def loris(index):
    await asyncio.sleep(random.uniform(0, args.interval))  # spread the connects
    first = True
    while True:
        try:
            reader, writer = await asyncio.open_connection(args.host, args.port)
        except OSError:
            stats["connect_failures"] += 1
            await asyncio.sleep(1)
            continue
        stats["opened"] += 1
        stats["open"] += 1
        if not first:
            stats["reconnections"] += 1
        first = False
        closed = asyncio.create_task(watch(reader))
        how = None
        try:
            for byte in head_bytes():
                writer.write(bytes([byte]))
                await writer.drain()
                stats["bytes_sent"] += 1
                done, _ = await asyncio.wait({closed}, timeout=args.interval * random.uniform(0.5, 1.5))
                if done:
                    how = closed.result()
                    break
        except (ConnectionError, OSError) as e:
            how = type(e).__name__
        closed.cancel()
        writer.close()
        stats["open"] -= 1
        stats["closed_by_server"] += 1
        stats["closed_how"][how] = stats["closed_how"].get(how, 0) + 1
        await asyncio.sleep(0.1)


async def main():
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    tasks = [asyncio.create_task(loris(i)) for i in range(args.connections)]
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 10)
        except asyncio.TimeoutError:
            pass
        if args.status:
            with open(args.status, "w") as f:
                f.write(json.dumps(stats) + "\n")
    for t in tasks:
        t.cancel()
    print(json.dumps(stats))


asyncio.run(main())
