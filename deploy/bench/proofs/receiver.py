#!/usr/bin/env python3
"""A webhook receiver for the proofs: a threaded http.server on loopback that answers 500 to a fixed share of the
deliveries (request n fails when floor(n * FAIL) > floor((n - 1) * FAIL): exactly every third request for 1/3,
4, 7, 10, 14, … for 0.3) and 200 to the others, checks each Standard Webhooks signature (401 when it is wrong),
and logs one JSON line per request: {"n", "path", "wid" (the webhook-id, insightd's delivery id), "leads" (lead
ids), "status", "sig"}. A request whose body ends before its Content-Length (the daemon killed mid-send) is
logged with "truncated": true and not answered.

Usage: receiver.py --port-file F --log F [--fail 0.3333] [--secret whsec_…]
Binds a free port and writes it to --port-file. SIGTERM stops it and prints a one-line summary."""
import argparse
import http.server
import json
import math
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--fail", type=float, default=1 / 3)
ap.add_argument("--secret", default=common.SECRET)
args = ap.parse_args()
key = common.key_bytes(args.secret)
lock = threading.Lock()
log = open(args.log, "a", buffering=1)
counts = {"requests": 0, "failed": 0, "bad_signature": 0, "truncated": 0}


def lead_ids(body):
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    if isinstance(doc, dict) and isinstance(doc.get("leads"), list):  # a digest or a group message
        return [lead.get("id") for lead in doc["leads"] if isinstance(lead, dict)]
    return [doc.get("id")] if isinstance(doc, dict) else []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        wid = self.headers.get("webhook-id")
        if len(body) < length:  # the sender died mid-request (a kill): nothing to answer
            with lock:
                counts["truncated"] += 1
                log.write(json.dumps({"n": None, "path": self.path, "wid": wid, "leads": [], "status": None,
                                      "sig": None, "truncated": True}) + "\n")
            self.close_connection = True
            return
        good = common.verify(key, wid, self.headers.get("webhook-timestamp"), body,
                             self.headers.get("webhook-signature"))
        with lock:
            counts["requests"] += 1
            n = counts["requests"]
            fail = math.floor(n * args.fail) > math.floor((n - 1) * args.fail)
            counts["failed"] += fail
            counts["bad_signature"] += not good
            status = 401 if not good else 500 if fail else 200
            log.write(json.dumps({"n": n, "path": self.path, "wid": wid, "leads": lead_ids(body),
                                  "status": status, "sig": good}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


server = Server(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)


def stop(*_):
    threading.Thread(target=server.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
server.serve_forever()
with lock:
    log.flush()
    print("receiver: %(requests)d requests, %(failed)d answered 500, %(bad_signature)d bad signatures (401), "
          "%(truncated)d cut short by a kill" % counts)
