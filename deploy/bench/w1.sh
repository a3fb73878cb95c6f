#!/usr/bin/env bash
# W1, the reference workload of the data path, measured beside a plain Python implementation in one run.
#
#   deploy/bench/w1.sh [EVENTS] [WORK_DIR]        (defaults: 1000000, /tmp/insightd-w1)
#
# Generates EVENTS account transactions of ~210 bytes over 50,000 clients (deploy/bench/w1/gen_events.py,
# seed 42), converts them to insightd's envelope, and runs, each pinned to one core (taskset -c 0) and
# to every core:
#   - the Python + orjson reference (deploy/bench/w1/ref_python.py): a per-client sliding 24 h debit sum;
#   - insightd replay with only risk-alerts' velocity rule on (max_debit_total 49999.99);
#   - insightd ingest of the file into a fresh journal (synchronous=FULL);
#   - the daemon's dispatch of that journal (insightd run, until its position reaches the journal's head).
# Prints seconds, events/s, the ratio to the reference and peak RSS, and writes them to WORK_DIR/w1.json.
# W1_BIG=1 also runs the reference and replay on a 10x larger file (kept in WORK_DIR, ~4.5 GB with its
# original form), to show that replay's memory does not grow with the input.
# Needs python3 (orjson: pip install orjson, else the json module), sqlite3, /usr/bin/time and taskset.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
events=${1:-1000000}
work=${2:-/tmp/insightd-w1}
bin=${INSIGHTD:-$repo/.build/release/insightd}
mkdir -p "$work"
[ -n "${INSIGHTD:-}" ] || swift build -c release --product insightd >/dev/null
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
lib=json; python3 -c 'import orjson' 2>/dev/null && lib=orjson

bench=$repo/deploy/bench/w1
if [ ! -s "$work/events-$events.jsonl" ]; then
  echo "generating $events events"
  python3 "$bench/gen_events.py" "$events" "$work/events-$events.jsonl"
  python3 "$bench/to_insightd.py" "$work/events-$events.jsonl" "$work/w1-$events.jsonl"
fi
python3 "$bench/w1-config.py" "$repo/plugins-config" "$work"
cores=$(nproc)
all=0-$((cores - 1))

results=()
# measure LABEL CPUS COMMAND...: runs COMMAND pinned to CPUS; records seconds and peak RSS.
measure() {
  local label=$1 cpus=$2; shift 2
  taskset -c "$cpus" /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/$label.out" 2>"$work/$label.err" || {
    echo "$label failed:"; tail -5 "$work/$label.err"; exit 1; }
  read -r secs kb < "$work/time.out"
  record "$label" "$cpus" "$secs" "$kb"
}
reference=()
record() { # label cpus seconds kilobytes
  local rate ratio=""
  rate=$(python3 -c "print(round($events / max($3, 0.001)))")
  case $1 in python*) reference[$(cpuset_size "$2")]=$3 ;; esac
  local ref=${reference[$(cpuset_size "$2")]:-}
  [ -n "$ref" ] && case $1 in python*) ;; *) ratio=$(python3 -c "print(round($ref / $3, 2))") ;; esac
  printf '%-24s %-5s %8.2f s %10s events/s %6s MB peak RSS %s\n' "$1" "$(cpuset_size "$2")c" "$3" "$rate" \
    "$(( $4 / 1024 ))" "${ratio:+  ratio to Python $ratio}"
  results+=("{\"what\":\"$1\",\"cores\":$(cpuset_size "$2"),\"seconds\":$3,\"events_per_second\":$rate,\"peak_rss_mb\":$(( $4 / 1024 ))${ratio:+,\"ratio_to_python\":$ratio}}")
}
cpuset_size() { case $1 in *-*) echo $(( ${1#*-} - ${1%-*} + 1 )) ;; *) echo 1 ;; esac; }

# dispatch LABEL CPUS: the daemon on a copy of the ingested state, timed until it has dispatched the journal.
dispatch() {
  local label=$1 cpus=$2 state="$work/state-$1"
  rm -rf "$state"; cp -r "$work/state" "$state"
  local head; head=$(sqlite3 "$state/insightd.sqlite" "SELECT MAX(seq) FROM journal")
  sed "s|^state_dir: .*|state_dir: $state|" "$work/insightd.yaml" > "$work/dispatch.yaml"
  local start; start=$(date +%s.%N)
  taskset -c "$cpus" /usr/bin/time -f "%e %M" -o "$work/time.out" "$bin" run --config "$work/dispatch.yaml" \
    >"$work/$label.out" 2>"$work/$label.err" &
  local pid=$!
  local position=0
  while [ "$position" != "$head" ]; do
    sleep 0.1
    kill -0 $pid 2>/dev/null || { echo "$label: the daemon stopped:"; tail -5 "$work/$label.err"; exit 1; }
    position=$(sqlite3 "$state/insightd.sqlite" "SELECT MIN(position) FROM consumer WHERE name IN ('dispatcher', 'dispatcher.state')" 2>/dev/null || echo 0)
  done
  local secs; secs=$(python3 -c "import time; print(round(time.time() - $start, 2))")
  pkill -TERM -P $pid 2>/dev/null || kill -TERM $pid; wait $pid || true
  local kb; read -r _ kb < "$work/time.out"
  record "$label" "$cpus" "$secs" "$kb"
  rm -rf "$state"
}

echo "W1: $events events, $(basename "$bin") at $(git -C "$repo" rev-parse --short HEAD), $cores cores, python $lib"
input="$work/w1-$events.jsonl"
for cpus in 0 "$all"; do
  measure "python-$lib" "$cpus" python3 "$bench/ref_python.py" "$work/events-$events.jsonl" "$work/ref.jsonl" "$lib"
  measure replay "$cpus" "$bin" replay "$input" --config "$work/insightd.yaml" --format json
  rm -rf "$work/state"
  measure ingest "$cpus" "$bin" ingest "$input" --config "$work/insightd.yaml"
  dispatch dispatch "$cpus"
done
leads=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['leads']))" "$work/replay.out")
echo "replay: $leads leads (Python reference: $(wc -l < "$work/ref.jsonl") upward crossings; insightd makes one lead per burst)"

if [ "${W1_BIG:-0}" = 1 ]; then
  big=$((events * 10))
  if [ ! -s "$work/w1-$big.jsonl" ] || [ ! -s "$work/events-$big.jsonl" ]; then
    python3 "$bench/gen_events.py" "$big" "$work/events-$big.jsonl"
    python3 "$bench/to_insightd.py" "$work/events-$big.jsonl" "$work/w1-$big.jsonl"
  fi
  saved=$events; events=$big
  # The reference on the same file first: the ratio of the 10x replay is to it.
  measure python-10x "$all" python3 "$bench/ref_python.py" "$work/events-$big.jsonl" "$work/ref-10x.jsonl" "$lib"
  measure replay-10x "$all" "$bin" replay "$work/w1-$big.jsonl" --config "$work/insightd.yaml" --format table
  events=$saved
fi

printf '{"events":%s,"cores":%s,"commit":"%s","python":"%s","leads":%s,"runs":[%s]}\n' "$events" "$cores" \
  "$(git -C "$repo" rev-parse --short HEAD)" "$lib" "$leads" "$(IFS=,; echo "${results[*]}")" > "$work/w1.json"
echo "figures: $work/w1.json"
