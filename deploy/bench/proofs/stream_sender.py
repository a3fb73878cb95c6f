#!/usr/bin/env python3
"""The crash proof's sender: streams Standard-Webhooks-signed POST /v1/events requests at about --rate requests/s
from --threads threads (keep-alive connections), each a single event of common.lead_event, every --batch-every-th
request an array of 5. A request is retried with the same webhook-id and body (a fresh timestamp and signature)
on a connection error, a timeout or a 5xx, until it gets a 2xx, which acknowledges its events: their ids are then
appended to --acks, one a line, flushed. A 4xx is recorded as rejected (never expected).

Usage: stream_sender.py --url http://127.0.0.1:PORT --acks FILE [--rate 100] [--threads 4] [--prefix ev]
SIGTERM stops it: each thread finishes the request it has (retrying up to --drain-seconds), then it prints
a one-line JSON summary (sent, acknowledged requests and events, retries, errors by kind, rejected)."""
import argparse
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--acks", required=True)
ap.add_argument("--rate", type=float, default=100)
ap.add_argument("--threads", type=int, default=4)
ap.add_argument("--clients", type=int, default=300)
ap.add_argument("--batch-every", type=int, default=10)
ap.add_argument("--prefix", default="ev")
ap.add_argument("--secret", default=common.SECRET)
ap.add_argument("--drain-seconds", type=float, default=60)
args = ap.parse_args()
url = urllib.parse.urlparse(args.url)
key = common.key_bytes(args.secret)
stopping = threading.Event()
lock = threading.Lock()
acks = open(args.acks, "a", buffering=1)
stats = {"requests": 0, "acked_requests": 0, "acked_events": 0, "duplicate_answers": 0, "retries": 0,
         "connection_errors": 0, "http_5xx": 0, "rejected": 0, "gave_up": 0}
rejections = []


def bump(name, by=1):
    with lock:
        stats[name] += by


def post(conn, wid, body):
    conn.request("POST", "/v1/events", body=body, headers=common.headers(key, wid, body))
    resp = conn.getresponse()
    return resp.status, resp.read()


def worker(index):
    conn = None
    interval = args.threads / args.rate
    n = index
    next_at = time.monotonic()
    while not stopping.is_set():
        batch = args.batch_every > 0 and (n // args.threads) % args.batch_every == args.batch_every - 1
        ids = [f"{args.prefix}-{n}-{k}" for k in range(5)] if batch else [f"{args.prefix}-{n}"]
        events = [common.lead_event(eid, n + k * 1000003, args.clients) for k, eid in enumerate(ids)]
        body = common.dumps(events if batch else events[0])
        wid = f"wh-{args.prefix}-{n}"
        bump("requests")
        deadline = None
        while True:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
                status, answer = post(conn, wid, body)
            except (OSError, http.client.HTTPException):
                bump("connection_errors")
                status, answer = None, b""
                if conn is not None:
                    conn.close()
                conn = None
            if status is not None and 200 <= status < 300:
                with lock:
                    stats["acked_requests"] += 1
                    stats["acked_events"] += len(ids)
                    stats["duplicate_answers"] += status == 200
                    acks.write("".join(i + "\n" for i in ids))
                break
            if status is not None and 400 <= status < 500:
                with lock:
                    stats["rejected"] += 1
                    rejections.append(f"{status} {answer[:200]!r}")
                break
            if status is not None:
                bump("http_5xx")
            if stopping.is_set():
                deadline = deadline or time.monotonic() + args.drain_seconds
                if time.monotonic() > deadline:
                    bump("gave_up")
                    break
            bump("retries")
            time.sleep(random.uniform(0.05, 0.2))
        n += args.threads
        next_at += interval
        pause = next_at - time.monotonic()
        if pause > 0:
            stopping.wait(pause)
        else:
            next_at = time.monotonic()  # behind (the daemon was down): no burst to catch up


signal.signal(signal.SIGTERM, lambda *_: stopping.set())
signal.signal(signal.SIGINT, lambda *_: stopping.set())
threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
for t in threads:
    t.start()
while any(t.is_alive() for t in threads):
    for t in threads:
        t.join(0.5)
acks.close()
print(json.dumps(dict(stats, rejections=rejections[:5])))
