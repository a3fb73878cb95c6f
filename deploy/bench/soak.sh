#!/usr/bin/env bash
# Soak proof (issue 14): MINUTES at RATE signed requests/s while a webhook receiver fails 30% of its deliveries and
# 100 slow-loris connections are held open; the daemon's RSS and descriptors stay flat, the outbox drains, and the
# p99 latency of the valid requests stays under 50 ms.
#
#   deploy/bench/soak.sh [MINUTES] [WORK_DIR]      (defaults: 30, /tmp/insightd-soak; quick check: 1)
#
# Environment: INSIGHTD (the binary; default .build/release/insightd, built unless INSIGHTD is set), RATE (default
# 500), CONNECTIONS (the sender's keep-alive connections, 64), LORIS (slow-loris connections, 100), CLIENTS (20000),
# DRAIN_SECONDS (the wait for the outbox after the load, 120). Needs python3 (standard library only), sqlite3, curl.
#
# - deploy/bench/proofs/rate_sender.py: open-loop signed requests at RATE (python asyncio; wrk has no fixed rate and
#   wrk2 is not packaged in Debian), one event each (common.soak_event: mostly small card transactions over CLIENTS
#   clients, 4% CNY 60,000 cash withdrawals that make an AML and a rules lead, 2% CNY 800,000 credits; the small
#   ones are credits, as debits would fill risk-alerts' 24-hour velocity windows for a day); latency is
#   taken from the moment each request was due (no coordinated omission) and, beside it, from when it was written;
# - deploy/bench/proofs/receiver.py: the `hook` and `aml` webhook receivers, answering 500 to 30% of the requests;
# - deploy/bench/proofs/loris.py: LORIS connections writing a request head that never ends, a byte a second, each
#   reopened when the daemon closes it (the reconnections are counted: with header deadlines the daemon closes them);
# - every 10 s the daemon's VmRSS, open descriptors, threads, CPU seconds, seconds waited for a CPU, the machine's
#   CPU and IO pressure (PSI) and the pending outbox rows go to WORK_DIR/samples.csv (the sender's per-10 s latency
#   to WORK_DIR/latency.csv).
# Prints the achieved rate against the target, p50/p99/max latency and the error count of the valid requests, RSS
# and descriptors (idle, the first sample under load, 20% into the run, the highest, the end of the load, after
# it), the daemon's CPU and the time it waited for one, the machine's load and pressure (it may be shared: a p99
# taken on a busy machine says little), the slow-loris figures, the outbox pending
# at the end of the load and after the drain, and how long SIGTERM took with the slow-loris connections still open.
# Exits 1 if a check fails: errors, under 95% of the rate, p99 >= 50 ms, the outbox not drained, and on runs of
# 5 minutes or more (shorter ones are still warming their caches) the end RSS over 1.25x the figure 20% into the
# run or the descriptors over 16 more than it.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
minutes=${1:-30}
work=${2:-/tmp/insightd-soak}
bin=${INSIGHTD:-$repo/.build/release/insightd}
rate=${RATE:-500}
loris_count=${LORIS:-100}
seconds=$(python3 -c "print(int(float('$minutes') * 60))")
proofs=$repo/deploy/bench/proofs
[ -n "${INSIGHTD:-}" ] || swift build -c release --product insightd >/dev/null
for tool in python3 sqlite3 curl; do command -v $tool >/dev/null || { echo "needs $tool"; exit 1; }; done

mkdir -p "$work"
rm -rf "$work/state" "$work/plugins"
rm -f "$work"/{receiver.log,receiver.out,receiver.port,sender.json,sender.out,loris.json,loris.out,samples.csv,latency.csv,daemon.out,daemon.err,insightd.yaml}
pid="" receiver="" loris="" sampler=""
cleanup() {
  for p in $sampler $loris; do kill -TERM "$p" 2>/dev/null || true; done
  [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
  [ -z "$receiver" ] || kill -TERM "$receiver" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$proofs/setup.sh"
# The receivers fail 30% of their requests; the retry schedule is short, so the outbox drains within the wait.
proofs_setup 0.3 "[0s, 1s, 2s, 5s, 10s, 10s, 10s, 10s, 10s, 10s]"
pending() { q "SELECT COUNT(*) FROM delivery WHERE status = 'pending'"; }
"$bin" run --config "$work/insightd.yaml" >"$work/daemon.out" 2>"$work/daemon.err" &
pid=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "127.0.0.1:$port/healthz" >/dev/null || { echo "insightd did not start:"; tail -5 "$work/daemon.err"; exit 1; }

t0=$(date +%s)
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' /proc/$pid/stat; }
# Seconds the daemon's live threads have waited on a run queue for a CPU, and the machine's CPU and IO pressure
# (PSI "some" avg10, %): on a shared machine they tell a stall of the daemon from one of the machine.
runq() { cat /proc/$pid/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%.1f", s / 1e9}'; }
psi() { awk '/^some/ {sub("avg10=", "", $2); print $2}' "/proc/pressure/$1" 2>/dev/null || echo ""; }
sample() { # PHASE: one CSV line: phase,elapsed_s,rss_kb,fds,threads,cpu_s,runq_wait_s,psi_cpu,psi_io,pending
  local rss threads fds
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null) || return 1
  threads=$(awk '/^Threads/ {print $2}' /proc/$pid/status 2>/dev/null) || return 1
  fds=$(ls /proc/$pid/fd 2>/dev/null | wc -l)
  echo "$1,$(( $(date +%s) - t0 )),$rss,$fds,$threads,$(cpu),$(runq),$(psi cpu),$(psi io),$(pending)"
}
echo "phase,elapsed_s,rss_kb,fds,threads,cpu_s,runq_wait_s,psi_cpu,psi_io,pending" > "$work/samples.csv"
idle=$(sample idle); echo "$idle" >> "$work/samples.csv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "soak: $minutes min at $rate requests/s, $loris_count slow-loris connections, receiver failing 30%, $(basename "$bin"), work $work"
echo "idle: RSS $(( $(cut -d, -f3 <<<"$idle") / 1024 )) MB, $(cut -d, -f4 <<<"$idle") descriptors, $(cut -d, -f5 <<<"$idle") threads; load average $load_before"

python3 "$proofs/loris.py" --port "$port" --connections "$loris_count" --status "$work/loris.json" \
  >"$work/loris.out" 2>&1 &
loris=$!
( while sleep 10; do sample load >> "$work/samples.csv" || exit 0; done ) &
sampler=$!
python3 "$proofs/rate_sender.py" --url "http://127.0.0.1:$port" --seconds "$seconds" --rate "$rate" \
  --connections "${CONNECTIONS:-64}" --clients "${CLIENTS:-20000}" --csv "$work/latency.csv" \
  --summary "$work/sender.json" >"$work/sender.out" 2>&1 || { echo "the sender failed:"; tail -5 "$work/sender.out"; exit 1; }
kill -0 $pid 2>/dev/null || { echo "the daemon died during the load:"; tail -5 "$work/daemon.err"; exit 1; }
kill -TERM $sampler; wait $sampler 2>/dev/null || true; sampler=""
sample after >> "$work/samples.csv"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
pending_end=$(pending)

drain_start=$SECONDS
deadline=$((SECONDS + ${DRAIN_SECONDS:-120}))
head=$(q "SELECT MAX(seq) FROM journal")
while :; do
  read -r dispatched routed last now_pending <<<"$(q "SELECT (SELECT position FROM consumer WHERE name = 'dispatcher')
    || ' ' || COALESCE((SELECT position FROM consumer WHERE name = 'router'), 0) || ' ' ||
    COALESCE((SELECT MAX(seq) FROM lead), 0) || ' ' || (SELECT COUNT(*) FROM delivery WHERE status = 'pending')")"
  [ "$dispatched" = "$head" ] && [ "$routed" -ge "$last" ] && [ "$now_pending" = 0 ] && break
  [ $SECONDS -lt $deadline ] || break
  sleep 1
done
drain_secs=$((SECONDS - drain_start))
loris_figures=$(cat "$work/loris.json" 2>/dev/null || echo '{}')
outbox=$(q "SELECT group_concat(n || ' ' || status, ', ') FROM (SELECT status, COUNT(*) n FROM delivery GROUP BY status)")
leads=$(q "SELECT COUNT(*) FROM lead")
journal=$(q "SELECT COUNT(*) FROM journal")

stop_start=$(date +%s%3N)
kill -TERM $pid
for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  stopped="did not stop within 30 s of SIGTERM (slow-loris connections open): killed"
  kill -KILL $pid
else
  stopped="stopped $(( $(date +%s%3N) - stop_start )) ms after SIGTERM, with the slow-loris connections open"
fi
status=0; wait $pid || status=$?; pid=""
kill -TERM $loris; wait $loris 2>/dev/null || true; loris=""
kill -TERM $receiver; wait $receiver 2>/dev/null || true; receiver=""

python3 - "$work" "$rate" "$pending_end" "$now_pending" "$drain_secs" "$loris_figures" "$outbox" "$leads" \
  "$journal" "$stopped (exit $status)" "$load_before" "$load_after" "$(nproc)" "$seconds" <<'PY'
import csv, json, sys
work, rate, pending_end, pending_after, drain_secs, loris, outbox, leads, journal, stopped, la0, la1, cores, planned \
    = sys.argv[1:]
rate = float(rate)
s = json.load(open(f"{work}/sender.json"))
rows = [r for r in csv.DictReader(open(f"{work}/samples.csv"))]
for r in rows:
    for k in r:
        r[k] = int(r[k]) if r[k].lstrip("-").isdigit() else float(r[k]) if k in ("cpu_s", "runq_wait_s") else r[k]
idle = rows[0]
after = rows[-1]
load = [r for r in rows if r["phase"] == "load"] or [after]
run = load[-1]["elapsed_s"]
warm = next(r for r in load if r["elapsed_s"] >= 0.2 * run)
first, end = load[0], load[-1]
judged = int(planned) >= 300  # RSS and descriptors are judged on 5 minutes or more; before that the caches are warming
rss_max = max(load or [idle], key=lambda r: r["rss_kb"])
fd_max = max(load or [idle], key=lambda r: r["fds"])
mb = lambda kb: f"{kb / 1024:.0f} MB"
failures = []
def check(ok, what):
    if not ok:
        failures.append(what)
    return "ok" if ok else "FAIL"
lat, svc = s["latency_ms"], s["service_ms"]
print(f"requests: {s['due']} due, {s['ok']} answered 2xx in {s['seconds']} s: {s['achieved_rate']}/s against "
      f"{rate:g}/s  {check(s['achieved_rate'] >= 0.95 * rate, 'rate under 95% of the target')}")
print(f"errors: {s['errors']} {s['errors_by_kind'] or ''}  {check(s['errors'] == 0, 'errors')}")
print(f"latency of the valid requests (from when due): p50 {lat['50']} ms, p90 {lat['90']}, p99 {lat['99']}, "
      f"p99.9 {lat['99.9']}, max {lat['max']}  {check(lat['99'] is not None and lat['99'] < 50, 'p99 >= 50 ms')}")
print(f"  service time (from when written): p50 {svc['50']} ms, p99 {svc['99']}, max {svc['max']}; "
      f"the sender's queue peaked at {s['max_queue_s']} s of requests")
verdict = lambda ok, what: check(ok, what) if judged else "(not judged under 5 minutes)"
print(f"RSS: idle {mb(idle['rss_kb'])}, first sample under load {mb(first['rss_kb'])} ({first['elapsed_s']} s), "
      f"at 20% {mb(warm['rss_kb'])} ({warm['elapsed_s']} s), max {mb(rss_max['rss_kb'])} ({rss_max['elapsed_s']} s), "
      f"end of the load {mb(end['rss_kb'])} ({end['elapsed_s']} s), after it {mb(after['rss_kb'])}  "
      f"{verdict(end['rss_kb'] <= 1.25 * warm['rss_kb'], 'RSS grew')}")
print(f"descriptors: idle {idle['fds']}, first under load {first['fds']}, at 20% {warm['fds']}, max {fd_max['fds']} "
      f"({fd_max['elapsed_s']} s), end of the load {end['fds']}, after it {after['fds']}; threads {idle['threads']} "
      f"idle, {end['threads']} at the end  {verdict(end['fds'] <= warm['fds'] + 16, 'descriptors grew')}")
psi_cpu = [float(r["psi_cpu"]) for r in load if r["psi_cpu"]]
psi_io = [float(r["psi_io"]) for r in load if r["psi_io"]]
mean = lambda v: f"{sum(v) / len(v):.0f}%" if v else "?"
print(f"daemon CPU: {after['cpu_s'] - idle['cpu_s']:.1f} s over {after['elapsed_s']} s on {cores} cores, "
      f"{after['runq_wait_s'] - idle['runq_wait_s']:.1f} s waiting for a CPU; machine: load average {la0} before, "
      f"{la1} after, CPU pressure {mean(psi_cpu)} (max {max(psi_cpu, default=0):.0f}%), IO pressure {mean(psi_io)} "
      f"(max {max(psi_io, default=0):.0f}%) of the time (PSI some, avg10)")
l = json.loads(loris or "{}")
print(f"slow-loris: {l.get('open', '?')} open at the end, {l.get('opened', '?')} opened, "
      f"{l.get('reconnections', '?')} reconnections after the daemon closed one"
      f"{' ' + json.dumps(l['closed_how']) if l.get('closed_how') else ''}, "
      f"{l.get('connect_failures', '?')} connect failures, {l.get('bytes_sent', '?')} bytes sent")
print(f"journal {journal} events, {leads} leads; outbox: {outbox}")
print(f"outbox pending: {pending_end} at the end of the load, {pending_after} after a {drain_secs} s drain  "
      f"{check(pending_after == '0', 'outbox not drained')}")
print(open(f"{work}/receiver.out").read().strip())
print(f"insightd {stopped}")
print(f"samples: {work}/samples.csv, {work}/latency.csv")
print("PASS" if not failures else "FAIL: " + "; ".join(failures))
sys.exit(1 if failures else 0)
PY
