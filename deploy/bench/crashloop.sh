#!/usr/bin/env bash
# Crash proof of the whole path (issue 14): signed events stream in and a webhook receiver fails a third of its
# deliveries while the daemon is killed with SIGKILL at random points, KILLS times; at the end no acknowledged event
# is lost, no lead is duplicated, every lead is delivered and the database passes `PRAGMA integrity_check`.
#
#   deploy/bench/crashloop.sh [KILLS] [WORK_DIR]      (defaults: 50, /tmp/insightd-crashloop; quick check: 5)
#
# Environment: INSIGHTD (the binary; default .build/release/insightd, built unless INSIGHTD is set), RATE (requests/s
# of the sender, default 100), SEED (of the kill times, default the shell's PID), DRAIN_SECONDS (default 180).
# Needs python3 (standard library only), sqlite3 and curl.
#
# - deploy/bench/proofs/receiver.py: the `hook` and `aml` webhook receivers (every lead is routed to `hook`, the AML
#   leads also go in full to `aml`, the compliance queue), answering 500 to every third request and logging each;
# - deploy/bench/proofs/stream_sender.py: ~RATE signed requests/s (common.lead_event: cash withdrawals, large
#   transfers in and out, lapsed policies over 300 clients; every 10th request a batch of 5), each retried with its
#   webhook-id on a connection error or a 5xx until answered 2xx, which acknowledges its events (logged);
# - the loop: start the daemon, SIGKILL it after a random 0.5-3 s, KILLS times; one line per kill (delay, whether it
#   was serving, journal, leads, outbox pending); then a copy of the killed state gets `PRAGMA integrity_check`;
# - the end: a last start, the sender stopped, the outbox drained (the router at the ledger's head, no delivery
#   pending), SIGTERM; then deploy/bench/proofs/crash_check.py prints the counts: events acknowledged, journaled and
#   lost; leads, distinct keys and the ledger against an uninterrupted `insightd replay` of the journal; the outbox
#   by status, leads delivered and received; redeliveries (one delivery id accepted again after a kill: at-least-once,
#   counted, not a failure); and `PRAGMA integrity_check`. Exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
kills=${1:-50}
work=${2:-/tmp/insightd-crashloop}
bin=${INSIGHTD:-$repo/.build/release/insightd}
rate=${RATE:-100}
seed=${SEED:-$$}
RANDOM=$seed
proofs=$repo/deploy/bench/proofs
[ -n "${INSIGHTD:-}" ] || swift build -c release --product insightd >/dev/null
for tool in python3 sqlite3 curl; do command -v $tool >/dev/null || { echo "needs $tool"; exit 1; }; done

mkdir -p "$work"
rm -rf "$work/state" "$work/plugins" "$work/killed-copy"
rm -f "$work"/{acks.txt,receiver.log,receiver.out,receiver.port,sender.out,daemon.out,daemon.err,insightd.yaml}
pid="" receiver="" sender=""
cleanup() {
  [ -z "$sender" ] || kill -KILL "$sender" 2>/dev/null || true
  [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
  [ -z "$receiver" ] || kill -TERM "$receiver" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$proofs/setup.sh"
# The receivers fail a third of their requests; the retries never give up within the run.
proofs_setup 0.3333333333333333 "[0s, 1s, 1s, 2s, 2s, 3s, 3s, 3s, 3s, 3s, 3s, 3s, 3s, 3s, 3s, 3s]"
start() { "$bin" run --config "$work/insightd.yaml" >>"$work/daemon.out" 2>>"$work/daemon.err" & pid=$!; }
serving() { curl -sf -m 0.5 "127.0.0.1:$port/healthz" >/dev/null 2>&1; }

echo "crashloop: $kills kills, seed $seed, sender ~$rate requests/s, receiver failing 1 in 3, $(basename "$bin"), work $work"
python3 "$proofs/stream_sender.py" --url "http://127.0.0.1:$port" --acks "$work/acks.txt" --rate "$rate" \
  >"$work/sender.out" 2>&1 &
sender=$!
served=0
for i in $(seq 1 "$kills"); do
  start
  delay=$((500 + RANDOM % 2501))
  until_ms=$(( $(date +%s%3N) + delay )) up=no
  while [ "$(date +%s%3N)" -lt $until_ms ]; do
    if [ $up = no ] && serving; then up=yes; fi
    [ $up = yes ] && break
    sleep 0.05
  done
  left=$(( until_ms - $(date +%s%3N) ))
  [ $left -le 0 ] || sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
  kill -0 $pid 2>/dev/null || { echo "the daemon stopped before kill $i:"; tail -5 "$work/daemon.err"; exit 1; }
  figures="journal $(q "SELECT COUNT(*) FROM journal"), leads $(q "SELECT COUNT(*) FROM lead"), pending $(q "SELECT COUNT(*) FROM delivery WHERE status = 'pending'")"
  kill -KILL $pid; wait $pid 2>/dev/null || true; pid=""
  [ $up = no ] || served=$((served + 1))
  printf 'kill -9 %3d after %4d ms (%s): %s\n' "$i" "$delay" "$([ $up = yes ] && echo serving || echo starting)" "$figures"
done
cp -r "$work/state" "$work/killed-copy"
after_kill=$(sqlite3 "$work/killed-copy/insightd.sqlite" "PRAGMA integrity_check" | tr '\n' ' ')
rm -rf "$work/killed-copy"
echo "$kills kills, $served while serving; integrity_check of the state as the last kill left it: $after_kill"

start
for _ in $(seq 100); do serving && break; sleep 0.1; done
serving || { echo "the daemon did not start after the kills:"; tail -5 "$work/daemon.err"; exit 1; }
sleep 2
kill -TERM $sender; wait $sender || true; sender=""
head=$(q "SELECT MAX(seq) FROM journal")
deadline=$((SECONDS + ${DRAIN_SECONDS:-180}))
while :; do
  state=$(q "SELECT (SELECT position FROM consumer WHERE name = 'dispatcher') || ' ' ||
                    COALESCE((SELECT position FROM consumer WHERE name = 'router'), 0) || ' ' ||
                    COALESCE((SELECT MAX(seq) FROM lead), 0) || ' ' ||
                    (SELECT COUNT(*) FROM delivery WHERE status = 'pending')")
  read -r dispatched routed last pending <<<"$state"
  [ "$dispatched" = "$head" ] && [ "$routed" -ge "$last" ] && [ "$pending" = 0 ] && break
  [ $SECONDS -lt $deadline ] || { echo "not drained after ${DRAIN_SECONDS:-180} s: dispatcher $dispatched/$head, router $routed/$last, $pending pending"; break; }
  sleep 0.5
done
echo "drained: dispatcher at $dispatched of $head, router at $routed of $last leads, $pending deliveries pending"
kill -TERM $pid
status=0; wait $pid || status=$?; pid=""
echo "insightd exited $status on SIGTERM"
kill -TERM $receiver; wait $receiver || true; receiver=""

fail=0
python3 "$proofs/crash_check.py" --db "$db" --acks "$work/acks.txt" --receiver-log "$work/receiver.log" \
  --insightd "$bin" --config "$work/insightd.yaml" --sender-summary "$work/sender.out" || fail=1
integrity=$(sqlite3 "$db" "PRAGMA integrity_check" | tr '\n' ' ')
echo "PRAGMA integrity_check: $integrity"
[ "$integrity" = "ok " ] && [ "$after_kill" = "ok " ] || fail=1
[ "$status" = 0 ] || fail=1
errors=$(grep -c '"level":"\(error\|critical\)"' "$work/daemon.err" || true)
echo "daemon log: $errors error lines ($work/daemon.err)"
[ $fail = 0 ] && echo "PASS" || echo "FAIL"
exit $fail
