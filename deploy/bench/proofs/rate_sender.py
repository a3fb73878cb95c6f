#!/usr/bin/env python3
"""The soak's sender: signed POST /v1/events requests (one event each, common.soak_event) at a fixed rate, open
loop: request i is due at start + i / RATE whatever the answers before it, and goes out on the first free one of
--connections keep-alive connections. Latency is measured from the moment a request was due (so a stall counts
for every request it delays, no coordinated omission) and, beside it, from the moment it was written (service time).

Usage: rate_sender.py --url http://127.0.0.1:PORT --seconds S [--rate 500] [--connections 64] [--clients 20000]
                      [--csv FILE] [--summary FILE]
--csv gets one line per 10 s (elapsed, sent, ok, errors, p50 and p99 ms in that window); --summary (and stdout)
the totals as JSON: requests due and answered, the achieved rate, errors by kind, p50/p90/p99/p99.9/max of both
latencies."""
import argparse
import asyncio
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--seconds", type=float, required=True)
ap.add_argument("--rate", type=float, default=500)
ap.add_argument("--connections", type=int, default=64)
ap.add_argument("--clients", type=int, default=20000)
ap.add_argument("--prefix", default="soak")
ap.add_argument("--secret", default=common.SECRET)
ap.add_argument("--timeout", type=float, default=10)
ap.add_argument("--csv")
ap.add_argument("--summary")
args = ap.parse_args()
url = urllib.parse.urlparse(args.url)
key = common.key_bytes(args.secret)
total = int(args.seconds * args.rate)
due_lat, svc_lat = [], []
window = []  # (done_at, latency ms, ok)
errors = {}


def percentile(values, p):
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def error(kind):
    errors[kind] = errors.get(kind, 0) + 1


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, fields.get("connection", "").lower() == "close"


async def worker(queue):
    reader = writer = None
    while True:
        item = await queue.get()
        if item is None:
            break
        i, due = item
        body = common.dumps(common.soak_event(f"{args.prefix}-{i}", i, args.clients))
        h = common.headers(key, f"wh-{args.prefix}-{i}", body)
        request = (f"POST /v1/events HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\nwebhook-id: {h['webhook-id']}\r\n"
                   f"webhook-timestamp: {h['webhook-timestamp']}\r\nwebhook-signature: {h['webhook-signature']}\r\n"
                   "\r\n").encode() + body
        ok = False
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(url.hostname, url.port)
            sent = time.monotonic()
            writer.write(request)
            status, close = await asyncio.wait_for(read_response(reader), args.timeout)
            done = time.monotonic()
            ok = 200 <= status < 300
            if ok:
                due_lat.append((done - due) * 1000)
                svc_lat.append((done - sent) * 1000)
            else:
                error(f"http {status}")
            if close:
                writer.close()
                writer = None
        except asyncio.TimeoutError:
            error("timeout")
            writer.close()
            writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
            error(type(e).__name__)
            if writer is not None:
                writer.close()
            writer = None
        window.append((time.monotonic(), (time.monotonic() - due) * 1000, ok))
    if writer is not None:
        writer.close()


async def reporter(start, out):
    mark = start
    while True:
        await asyncio.sleep(10)
        now = time.monotonic()
        batch = [w for w in window if w[0] >= mark]
        del window[:]
        lat = sorted(w[1] for w in batch if w[2])
        if out:
            out.write(f"{now - start:.0f},{len(batch)},{len(lat)},{len(batch) - len(lat)},"
                      f"{percentile(lat, 50):.2f},{percentile(lat, 99):.2f}\n")
            out.flush()
        mark = now


async def main():
    queue = asyncio.Queue()
    workers = [asyncio.create_task(worker(queue)) for _ in range(args.connections)]
    out = open(args.csv, "w") if args.csv else None
    if out:
        out.write("elapsed_s,answered,ok,errors,p50_ms,p99_ms\n")
    start = time.monotonic()
    report = asyncio.create_task(reporter(start, out))
    lag_max = 0.0
    i = 0
    while i < total:
        now = time.monotonic()
        due_count = min(total, int((now - start) * args.rate) + 1)
        while i < due_count:
            queue.put_nowait((i, start + i / args.rate))
            i += 1
        lag_max = max(lag_max, queue.qsize() / args.rate)
        await asyncio.sleep(max(0.0, start + i / args.rate - time.monotonic()))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.monotonic() - start
    report.cancel()
    due_lat.sort()
    svc_lat.sort()
    answered = len(due_lat)
    summary = {
        "due": total, "ok": answered, "errors": sum(errors.values()), "errors_by_kind": errors,
        "seconds": round(elapsed, 2), "target_rate": args.rate, "achieved_rate": round(answered / elapsed, 1),
        "max_queue_s": round(lag_max, 3),
        "latency_ms": {p: round(percentile(due_lat, float(p)), 2) for p in ("50", "90", "99", "99.9")}
        | {"max": round(due_lat[-1], 2) if due_lat else None},
        "service_ms": {p: round(percentile(svc_lat, float(p)), 2) for p in ("50", "90", "99", "99.9")}
        | {"max": round(svc_lat[-1], 2) if svc_lat else None},
    }
    line = json.dumps(summary)
    print(line)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(line + "\n")


asyncio.run(main())
