#!/usr/bin/env bash
# HTTP ingest benchmark: signed single-event webhooks, then batched ingest (1,000 events a request),
# against a release build of insightd on loopback, with durable (synchronous=FULL) commits.
# Needs wrk (apt-get install wrk). Prints wrk's req/s and latency percentiles.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product insightd >/dev/null
swift build -c release --product insightd-bench >/dev/null
work=$(mktemp -d)
trap 'kill $(cat "$work/pid") 2>/dev/null || true; rm -rf "$work"' EXIT
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
.build/release/insightd run --config "$work/insightd.yaml" 2>"$work/log" & echo $! > "$work/pid"
for _ in $(seq 100); do curl -sf 127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
curl -sf 127.0.0.1:18080/healthz >/dev/null || { echo "insightd did not start:"; cat "$work/log"; exit 1; }
threads=2
duration=${DURATION:-15s}

echo "== single-event signed webhooks (wrk -t$threads -c${CONNECTIONS:-32} -d$duration)"
.build/release/insightd-bench signed-requests --count 150000 --events-per-request 1 --output "$work/single.tsv"
wrk -t$threads -c"${CONNECTIONS:-32}" -d"$duration" --latency -s deploy/bench/signed.lua http://127.0.0.1:18080 -- "$work/single.tsv" $threads

echo "== batched ingest, 1,000 events per signed request (wrk -t$threads -c8 -d$duration)"
.build/release/insightd-bench signed-requests --count 1000 --events-per-request 1000 --output "$work/batch.tsv"
wrk -t$threads -c8 -d"$duration" --latency -s deploy/bench/signed.lua http://127.0.0.1:18080 -- "$work/batch.tsv" $threads
echo "(events/s for the batched run = req/s x 1000 while the file lasts; repeats after it wraps are 200 replays)"
sqlite3 "$work/state/insightd.sqlite" "select count(*) || ' events journaled' from journal"
