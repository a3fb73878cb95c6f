#!/usr/bin/env bash
# Crash proof for the dispatcher's checkpointed state: dispatches W1's journal with the daemon, SIGKILLs it KILLS
# times in the middle (after 2, 3, 4 … seconds), lets it finish, and compares the state and the leads with an
# uninterrupted dispatch of the same journal.
#
#   deploy/bench/w1-crash.sh [KILLS] [WORK_DIR]      (defaults: 3, /tmp/insightd-w1; run deploy/bench/w1.sh first)
#
# Prints each kill's positions (the leads' `dispatcher`, the state's `dispatcher.state`) and lead count, then whether
# the client and account tables and the leads (less their live timestamps) are identical. Exits 1 if they are not.
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=${1:-3}
work=${2:-/tmp/insightd-w1}
bin=${INSIGHTD:-$(pwd)/.build/release/insightd}
[ -d "$work/state" ] && [ -s "$work/insightd.yaml" ] || { echo "run deploy/bench/w1.sh first (no $work/state)"; exit 1; }
head=$(sqlite3 "$work/state/insightd.sqlite" "SELECT MAX(seq) FROM journal")
positions() { sqlite3 "$1/insightd.sqlite" "SELECT group_concat(name || '=' || position, ' ') FROM consumer WHERE name LIKE 'dispatcher%'"; }

# run STATE: the daemon on STATE until both positions reach the journal's head, then a clean stop.
run() {
  sed "s|^state_dir: .*|state_dir: $1|" "$work/insightd.yaml" > "$work/crash.yaml"
  "$bin" run --config "$work/crash.yaml" >/dev/null 2>>"$work/crash.err" &
  local pid=$! position=0
  while [ "$position" != "$head" ]; do
    sleep 0.2
    kill -0 $pid 2>/dev/null || { echo "the daemon stopped:"; tail -5 "$work/crash.err"; exit 1; }
    position=$(sqlite3 "$1/insightd.sqlite" \
      "SELECT MIN(position) FROM consumer WHERE name IN ('dispatcher', 'dispatcher.state')" 2>/dev/null || echo 0)
  done
  kill -TERM $pid; wait $pid
}

# digest STATE: the client and account tables, and the leads without their live timestamps.
digest() {
  { sqlite3 "$1/insightd.sqlite" "SELECT id, profile, segment, last_event_ms / 86400000, memory FROM client ORDER BY id"
    sqlite3 "$1/insightd.sqlite" "SELECT * FROM account ORDER BY id"
    sqlite3 "$1/insightd.sqlite" "SELECT body FROM lead ORDER BY key" | python3 -c '
import json, sys
for line in sys.stdin:
    lead = json.loads(line); lead.pop("createdAt", None); lead.pop("dueAt", None)
    print(json.dumps(lead, sort_keys=True, ensure_ascii=False))'
  } | md5sum | cut -d" " -f1
}

: > "$work/crash.err"
rm -rf "$work/state-whole" "$work/state-crash"
cp -r "$work/state" "$work/state-whole"; cp -r "$work/state" "$work/state-crash"
run "$work/state-whole"
for i in $(seq 1 "$kills"); do
  sed "s|^state_dir: .*|state_dir: $work/state-crash|" "$work/insightd.yaml" > "$work/crash.yaml"
  "$bin" run --config "$work/crash.yaml" >/dev/null 2>>"$work/crash.err" &
  pid=$!; sleep $((1 + i)); kill -9 $pid; wait $pid 2>/dev/null || true
  echo "kill -9 $i: $(positions "$work/state-crash"), $(sqlite3 "$work/state-crash/insightd.sqlite" "SELECT COUNT(*) FROM lead") leads"
done
run "$work/state-crash"
leads=$(sqlite3 "$work/state-crash/insightd.sqlite" "SELECT COUNT(*) || ' leads, ' || COUNT(DISTINCT key) || ' keys' FROM lead")
echo "after the last start: $(positions "$work/state-crash"), $leads"
whole=$(digest "$work/state-whole"); crashed=$(digest "$work/state-crash")
rm -rf "$work/state-whole" "$work/state-crash"
if [ "$whole" = "$crashed" ]; then
  echo "identical to an uninterrupted dispatch: clients, accounts and leads ($whole)"
else
  echo "DIFFERENT from an uninterrupted dispatch: $crashed against $whole"; exit 1
fi
