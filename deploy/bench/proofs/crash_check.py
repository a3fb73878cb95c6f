#!/usr/bin/env python3
"""The crash proof's checks, on a stopped daemon's database. Prints each count and exits 1 if any check fails.

Usage: crash_check.py --db STATE/insightd.sqlite --acks FILE --receiver-log FILE --insightd BIN --config YAML
                      [--sender-summary JSON-FILE]
- lost events: the acknowledged event ids (2xx answers) that are not in the journal;
- duplicated leads: leads against distinct dedupe keys, and the ledger's keys against those of an uninterrupted
  `insightd replay` of the same journal (same plugins-config): a key only in the ledger is a lead made twice or
  wrongly, one only in the replay a lead lost;
- delivery: every lead not held back (suppressed) has outbox rows and all of them are sent, none pending or dead;
  the receiver accepted (2xx) every lead; one outbox row per lead and receiver. A delivery id (webhook-id)
  accepted more than once is an at-least-once redelivery after a kill: counted, not a failure."""
import argparse
import collections
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--db", required=True)
ap.add_argument("--acks", required=True)
ap.add_argument("--receiver-log", required=True)
ap.add_argument("--insightd", required=True)
ap.add_argument("--config", required=True)
ap.add_argument("--sender-summary")
args = ap.parse_args()
db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return "ok" if ok else "FAIL"


def sample(items, n=5):
    items = sorted(items)
    return "" if not items else " e.g. " + ", ".join(map(str, items[:n]))


# 1. Acknowledged events are journaled.
with open(args.acks) as f:
    acked = {line.strip() for line in f if line.strip()}
journaled = {row[0] for row in db.execute("SELECT event_id FROM journal WHERE source = 'core-banking'")}
lost = acked - journaled
print(f"events: {len(acked)} acknowledged, {len(journaled)} journaled "
      f"({len(journaled - acked)} without an ack: answer lost to a kill or the sender stopped), "
      f"{len(lost)} lost  {check(not lost, 'acknowledged events lost')}{sample(lost)}")
if args.sender_summary and os.path.exists(args.sender_summary):
    with open(args.sender_summary) as f:
        sender = json.loads(f.read().strip().splitlines()[-1])
    print(f"sender: {sender['requests']} requests, {sender['acked_requests']} acknowledged "
          f"({sender['duplicate_answers']} as a replay: 200 duplicate), {sender['retries']} retries "
          f"({sender['connection_errors']} connection errors, {sender['http_5xx']} 5xx), "
          f"{sender['rejected']} rejected, {sender['gave_up']} given up  "
          f"{check(sender['rejected'] == 0, 'requests rejected')}"
          + (f" {sender['rejections']}" if sender["rejections"] else ""))

# 2. Leads: unique keys, and the same keys as an uninterrupted replay of the journal.
leads, keys, ids = db.execute("SELECT COUNT(*), COUNT(DISTINCT key), COUNT(DISTINCT id) FROM lead").fetchone()
print(f"leads: {leads}, distinct dedupe keys {keys}, distinct ids {ids}, duplicated {leads - keys}  "
      f"{check(leads == keys == ids, 'leads duplicated in the ledger')}")
by_kind = db.execute("SELECT plugin || '/' || kind, COUNT(*) FROM lead GROUP BY 1 ORDER BY 2 DESC").fetchall()
print("  by plugin/kind: " + ", ".join(f"{k} {n}" for k, n in by_kind))
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "journal.ndjson")
    with open(path, "w") as out:
        for event_id, source, type_, client, time_ms, data in db.execute(
                "SELECT event_id, source, type, client_id, time_ms, data FROM journal ORDER BY seq"):
            time = datetime.datetime.fromtimestamp(time_ms / 1000, datetime.timezone(datetime.timedelta(hours=8)))
            event = {"id": event_id, "type": type_, "time": time.isoformat(timespec="milliseconds"),
                     "source": source, "data": json.loads(data)}
            if client:
                event["clientId"] = client
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
    run = subprocess.run([args.insightd, "replay", path, "--config", args.config, "--format", "json"],
                         capture_output=True, text=True, env=dict(os.environ, TMPDIR=tmp))
if run.returncode != 0:
    print(f"replay of the journal failed: {run.stderr.strip()[-500:]}")
    failures.append("replay failed")
else:
    replayed = {lead["key"] for lead in json.loads(run.stdout)["leads"]}
    ledger = {row[0] for row in db.execute("SELECT key FROM lead")}
    extra, missing = ledger - replayed, replayed - ledger
    print(f"  against an uninterrupted replay of the journal ({len(replayed)} leads): "
          f"{len(extra)} only in the ledger, {len(missing)} only in the replay  "
          f"{check(not extra and not missing, 'ledger differs from a replay')}{sample(extra)}{sample(missing)}")

# 3. Delivery.
statuses = dict(db.execute("SELECT status, COUNT(*) FROM delivery GROUP BY status").fetchall())
lead_status = dict(db.execute("SELECT status, COUNT(*) FROM lead GROUP BY status").fetchall())
routed = {row[0] for row in db.execute("SELECT DISTINCT lead_id FROM delivery WHERE lead_id IS NOT NULL")}
wanted = {row[0] for row in db.execute("SELECT id FROM lead WHERE status != 'suppressed'")}
unsent = {row[0] for row in db.execute(
    "SELECT DISTINCT lead_id FROM delivery WHERE status NOT IN ('sent', 'batched', 'cancelled')")}
twice = db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM delivery WHERE lead_id IS NOT NULL "
                   "GROUP BY lead_id, receiver, purpose HAVING COUNT(*) > 1)").fetchone()[0]
print(f"outbox: {sum(statuses.values())} deliveries, " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
      + f"; leads " + ", ".join(f"{n} {s}" for s, n in sorted(lead_status.items())))
print(f"  leads to deliver {len(wanted)}: without an outbox row {len(wanted - routed)}, "
      f"with a row not sent {len(unsent & wanted)}, two rows for one receiver {twice}  "
      f"{check(not (wanted - routed) and not (unsent & wanted) and twice == 0, 'leads not delivered')}")
sent_ids = {row[0] for row in db.execute("SELECT id FROM delivery WHERE status = 'sent'")}
accepted = collections.Counter()
per_lead = collections.defaultdict(set)
answered = collections.Counter()
bad_sig = truncated = 0
received_leads = set()
with open(args.receiver_log) as f:
    for line in f:
        entry = json.loads(line)
        if entry.get("truncated"):
            truncated += 1
            continue
        answered[entry["status"]] += 1
        bad_sig += not entry["sig"]
        if entry["status"] == 200:
            accepted[entry["wid"]] += 1
            for lead in entry["leads"]:
                per_lead[(entry["path"], lead)].add(entry["wid"])
                received_leads.add(lead)
redelivered = sum(n - 1 for n in accepted.values())
not_received = wanted - received_leads
two_ids = sum(1 for wids in per_lead.values() if len(wids) > 1)
unknown = set(accepted) - sent_ids
print(f"receiver: {sum(answered.values())} requests, {answered[200]} accepted, {answered[500]} answered 500 "
      f"(retried), {bad_sig} bad signatures, {truncated} cut short by a kill; {len(accepted)} delivery ids accepted")
print(f"  leads received {len(received_leads & wanted)} of {len(wanted)}, not received {len(not_received)}  "
      f"{check(not not_received, 'leads not received')}{sample(not_received)}; bad signatures "
      f"{check(bad_sig == 0, 'deliveries with a bad signature')}")
print(f"  redeliveries (a delivery id accepted again after a kill, at-least-once): {redelivered} "
      f"({sum(1 for n in accepted.values() if n > 1)} delivery ids)")
print(f"  one lead under two delivery ids at one path: {two_ids}, accepted ids the outbox does not have as sent: "
      f"{len(unknown)}  {check(two_ids == 0 and not unknown, 'deliveries duplicated or unknown to the outbox')}{sample(unknown)}")
if failures:
    print("FAILED: " + "; ".join(failures))
    sys.exit(1)
