#!/usr/bin/env python3
"""A webhook receiver for cluster tests and benchmarks: answers 200 to every POST and appends one line per request
to LOG: its webhook-id, and the lead keys in its body. Usage: receiver.py PORT LOG"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, log_path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
log = open(log_path, "a", buffering=1, encoding="utf-8")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        keys = []
        try:
            document = json.loads(body)
            # One lead is the lead's JSON; a digest holds them in "leads".
            leads = document.get("leads") if "leads" in document else [document]
            keys = [lead.get("key") for lead in leads if isinstance(lead, dict)]
        except ValueError:
            pass
        with lock:
            log.write(json.dumps({"webhookId": self.headers.get("webhook-id"), "keys": keys}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
