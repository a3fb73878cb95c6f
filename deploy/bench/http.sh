#!/usr/bin/env bash
# HTTP ingest benchmark: signed single-event webhooks, then batched ingest (1,000 events a request),
# against a release build of insightd on loopback, with durable (synchronous=FULL) commits.
# Needs wrk (apt-get install wrk). Prints wrk's req/s and latency percentiles.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product insightd >/dev/null
swift build -c release --product insightd-bench >/dev/null
work=$(mktemp -d)
trap 'kill -9 $(cat "$work/pid") 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/plugins"
cp plugins-config/rules.yaml "$work/plugins/"
cat > "$work/insightd.yaml" <<YAML
listen: 127.0.0.1:18080
state_dir: state
plugins_dir: plugins
sources:
  - {name: core-banking, kind: webhook, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
logging: {level: warning}
YAML
.build/release/insightd run --config "$work/insightd.yaml" >/dev/null 2>"$work/log" & echo $! > "$work/pid"
for _ in $(seq 100); do curl -sf 127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
curl -sf 127.0.0.1:18080/healthz >/dev/null || { echo "insightd did not start:"; cat "$work/log"; exit 1; }
threads=2
duration=${DURATION:-15s}

echo "== single-event signed webhooks (wrk -t$threads -c${CONNECTIONS:-32} -d$duration)"
.build/release/insightd-bench signed-requests --count 150000 --events-per-request 1 --output "$work/single.tsv"
wrk -t$threads -c"${CONNECTIONS:-32}" -d"$duration" --latency -s deploy/bench/signed.lua http://127.0.0.1:18080 -- "$work/single.tsv" $threads

echo "== batched ingest, 1,000 events per signed request (wrk -t$threads -c8 -d5s)"
.build/release/insightd-bench signed-requests --count 1500 --events-per-request 1000 --output "$work/batch.tsv"
before=$(sqlite3 "$work/state/insightd.sqlite" "select count(*) from journal")
wrk -t$threads -c8 -d5s --latency -s deploy/bench/signed.lua http://127.0.0.1:18080 -- "$work/batch.tsv" $threads
after=$(sqlite3 "$work/state/insightd.sqlite" "select count(*) from journal")
echo "batched: $((after - before)) new events journaled in 5 s = $(( (after - before) / 5 )) events/s"

kill -TERM "$(cat "$work/pid")"
for _ in $(seq 50); do kill -0 "$(cat "$work/pid")" 2>/dev/null || break; sleep 0.2; done
kill -0 "$(cat "$work/pid")" 2>/dev/null && echo "insightd did not stop within 10 s of SIGTERM" || echo "insightd stopped on SIGTERM"
