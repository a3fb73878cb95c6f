#!/usr/bin/env bash
# Crash proof for the dispatcher's checkpointed state: dispatches W1's journal with the daemon, SIGKILLs it KILLS
# times in the middle (after 2, 3, 4 … seconds), lets it finish, and compares the state and the leads with an
# uninterrupted dispatch of the same journal.
#
#   deploy/bench/w1-crash.sh [KILLS] [WORK_DIR]      (defaults: 3, /tmp/insightd-w1; run deploy/bench/w1.sh first)
#
# The uninterrupted dispatch writes its state with every batch (`state_checkpoint: 0s`), the other path. Prints each
# kill's positions (the leads' `dispatcher`, the state's `dispatcher.state`) and lead count, then whether the state
# tables, the leads (less their live timestamps) and the other outputs (interactions, plugin failures, deliveries)
# are identical. Exits 1 if they are not, if a kill did not land mid-dispatch, or if a dispatch takes over 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=${1:-3}
work=${2:-/tmp/insightd-w1}
bin=${INSIGHTD:-$(pwd)/.build/release/insightd}
[ -d "$work/state" ] && [ -s "$work/insightd.yaml" ] || { echo "run deploy/bench/w1.sh first (no $work/state)"; exit 1; }
head=$(sqlite3 "$work/state/insightd.sqlite" "SELECT MAX(seq) FROM journal")
positions() { sqlite3 "$1/insightd.sqlite" "SELECT group_concat(name || '=' || position, ' ') FROM consumer WHERE name LIKE 'dispatcher%'"; }

# config STATE [EXTRA]: the W1 config with STATE as its state directory (and EXTRA appended).
config() {
  sed "s|^state_dir: .*|state_dir: $1|" "$work/insightd.yaml" > "$work/crash.yaml"
  [ -z "${2:-}" ] || printf '%b\n' "$2" >> "$work/crash.yaml"
}

# run STATE [EXTRA]: the daemon on STATE until both positions reach the journal's head, then a clean stop.
run() {
  config "$@"
  "$bin" run --config "$work/crash.yaml" >/dev/null 2>>"$work/crash.err" &
  local pid=$! position=0 deadline=$((SECONDS + 600))
  while [ "$position" != "$head" ]; do
    sleep 0.2
    kill -0 $pid 2>/dev/null || { echo "the daemon stopped:"; tail -5 "$work/crash.err"; exit 1; }
    [ $SECONDS -lt $deadline ] || { kill -9 $pid; echo "no end after 10 minutes:"; tail -5 "$work/crash.err"; exit 1; }
    position=$(sqlite3 "$1/insightd.sqlite" \
      "SELECT MIN(position) FROM consumer WHERE name IN ('dispatcher', 'dispatcher.state')" 2>/dev/null || echo 0)
  done
  kill -TERM $pid; wait $pid
}

# digest STATE: the state tables (a client's last event time by day: checkpointed state keeps the day's latest where
# a batch-by-batch write may keep an earlier one), the leads without their live timestamps, and how many
# interactions, plugin failures and deliveries there are (none of which a lead key would deduplicate).
digest() {
  { sqlite3 "$1/insightd.sqlite" "SELECT id, profile, segment, last_event_ms / 86400000, memory FROM client ORDER BY id"
    sqlite3 "$1/insightd.sqlite" "SELECT * FROM account ORDER BY id"
    sqlite3 "$1/insightd.sqlite" "SELECT * FROM balance_snapshot ORDER BY client_id, as_of"
    sqlite3 "$1/insightd.sqlite" "SELECT (SELECT COUNT(*) FROM interaction), (SELECT COUNT(*) FROM plugin_failure),
                                         (SELECT COUNT(*) FROM delivery), (SELECT COUNT(*) FROM lead)"
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
run "$work/state-whole" "dispatcher:\n  state_checkpoint: 0s"
behind=0
for i in $(seq 1 "$kills"); do
  config "$work/state-crash"
  "$bin" run --config "$work/crash.yaml" >/dev/null 2>>"$work/crash.err" &
  pid=$!; sleep $((1 + i))
  kill -0 $pid 2>/dev/null || { echo "the daemon stopped before kill $i:"; tail -5 "$work/crash.err"; exit 1; }
  kill -9 $pid; wait $pid 2>/dev/null || true
  handled=$(sqlite3 "$work/state-crash/insightd.sqlite" "SELECT position FROM consumer WHERE name = 'dispatcher'")
  state=$(sqlite3 "$work/state-crash/insightd.sqlite" "SELECT position FROM consumer WHERE name = 'dispatcher.state'")
  echo "kill -9 $i: $(positions "$work/state-crash"), $(sqlite3 "$work/state-crash/insightd.sqlite" "SELECT COUNT(*) FROM lead") leads"
  [ "$handled" -lt "$head" ] || { echo "kill $i came after the dispatch had finished: use a larger journal (w1.sh EVENTS)"; exit 1; }
  [ "$state" -lt "$handled" ] && behind=1
done
[ $behind = 1 ] || { echo "no kill left the state behind the leads: nothing was handled again"; exit 1; }
run "$work/state-crash"
leads=$(sqlite3 "$work/state-crash/insightd.sqlite" "SELECT COUNT(*) || ' leads, ' || COUNT(DISTINCT key) || ' keys' FROM lead")
echo "after the last start: $(positions "$work/state-crash"), $leads"
whole=$(digest "$work/state-whole"); crashed=$(digest "$work/state-crash")
rm -rf "$work/state-whole" "$work/state-crash"
if [ "$whole" = "$crashed" ]; then
  echo "identical to an uninterrupted dispatch: state, leads, interactions, failures and deliveries ($whole)"
else
  echo "DIFFERENT from an uninterrupted dispatch: $crashed against $whole"; exit 1
fi
