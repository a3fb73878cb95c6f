#!/usr/bin/env bash
# Ingest and dispatch with 1, 2 and 3 insightd instances on one PostgreSQL, beside one instance on SQLite, in one run.
#
#   deploy/bench/cluster.sh [EVENTS] [CLIENTS]        (default 200000 events, 20000 clients)
#
# The events are `insightd simulate`'s synthetic bank, every built-in plugin on (plugins-config), no receivers.
# For each setup:
#   ingest    the events POSTed in batches of 500 by 8 concurrent clients, spread over the instances; events/s
#             acknowledged (202: journaled and committed);
#   caught up when the last of them was handled (lag 0), counted from the first POST: the cluster's sustained rate;
#   dispatch  the same journal handled again from the start by freshly started instances (the state, leads and
#             positions reset; on SQLite the journal appended with `insightd ingest`): dispatch alone.
# Starts a throwaway PostgreSQL 15 (deploy/pg/throwaway.sh, fsync on) unless INSIGHTD_PG_URL is set. Needs
# postgresql-15, curl and python3. INSIGHTD=path/to/insightd skips the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-200000}
clients=${2:-20000}
insightd=${INSIGHTD:-.build/release/insightd}
[ -n "${INSIGHTD:-}" ] || swift build -c release --product insightd >/dev/null
work=$(mktemp -d /tmp/insightd-cluster-bench.XXXXXX)
# Run as root, the throwaway server runs as user postgres (deploy/pg/throwaway.sh), which must reach $work/pg.
chmod 755 "$work"
pids=()
stop_all() { for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
             for pid in "${pids[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done; pids=(); }
cleanup() { stop_all; [ -n "${own_pg:-}" ] && deploy/pg/throwaway.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${INSIGHTD_PG_URL:-}" ]; then
    own_pg=1
    INSIGHTD_PG_URL=$(deploy/pg/throwaway.sh start "$work/pg")
fi
export INSIGHTD_PG_URL BENCH_TOKEN=bench-token

"$insightd" simulate --clients "$clients" --events "$events" --days 30 > "$work/events.ndjson"
total=$(wc -l < "$work/events.ndjson")
mkdir -p "$work/chunks"
split -l 500 -d -a 5 "$work/events.ndjson" "$work/chunks/c"
echo "workload: $total events of insightd simulate ($clients clients), $(ls "$work/chunks" | wc -l) requests of 500"
echo "machine: $(nproc) cores; PostgreSQL $(postgres --version 2>/dev/null | awk '{print $3}' || echo '?')"

# config NAME PORT KIND: one instance's config file.
config() {
    local name=$1 port=$2 kind=$3 file="$work/$1.yaml"
    cat > "$file" <<EOF
listen: 127.0.0.1:$port
state_dir: $work/$name-state
timezone: Asia/Shanghai
plugins_dir: $PWD/plugins-config
sources:
  - {name: core-banking, kind: webhook, token: "env:BENCH_TOKEN"}
api_tokens:
  - {name: ops, token: "env:BENCH_TOKEN", scopes: [read, admin]}
dispatcher: {shards: 2, poll_interval: 100ms}
logging: {level: warning, format: json}
EOF
    if [ "$kind" = postgres ]; then
        cat >> "$file" <<EOF
store: {kind: postgres, url: "env:INSIGHTD_PG_URL", schema: bench, pool: 8}
cluster: {instance: $name, partitions: 64, lease_timeout: 6s}
EOF
    fi
    echo "$file"
}

now() { date +%s.%N; }
# CPU seconds so far of the instances, and of every postgres process (server and backends) on this machine.
ticks=$(getconf CLK_TCK)
cpu_insightd() { local total=0; for pid in "${pids[@]:-}"; do
                     [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
                 python3 -c "print($total / $ticks)"; }
cpu_postgres() { python3 - "$ticks" <<'PY'
import glob, sys
total = 0
for path in glob.glob("/proc/[0-9]*/stat"):
    try:
        text = open(path).read()
    except OSError:
        continue
    name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
    if name.startswith("postgres"):
        total += int(rest[11]) + int(rest[12])
print(total / int(sys.argv[1]))
PY
}
# lag PORT KIND: events journaled and not handled yet, as the instance reports them.
lag() {
    if [ "$2" = postgres ]; then
        curl -s --max-time 5 -H "Authorization: Bearer $BENCH_TOKEN" "http://127.0.0.1:$1/readyz" |
            python3 -c 'import json,sys; print(json.load(sys.stdin).get("store",{}).get("lagEvents",-1))' 2>/dev/null || echo -1
    else
        curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk '/^insightd_journal_lag_events /{print int($2)}'
    fi
}
wait_ready() { for _ in $(seq 1 300); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/healthz" && return 0; sleep 0.1; done
               echo "instance on $1 did not start" >&2; return 1; }
wait_caught_up() {
    local port=$1 kind=$2 value
    while true; do
        value=$(lag "$port" "$kind")
        [ "$value" = 0 ] && return 0
        sleep 0.2
    done
}
start() { "$insightd" run --config "$1" >>"$work/log" 2>&1 & pids+=($!); }
reset_pg() {
    psql -q "$INSIGHTD_PG_URL" -c "DROP SCHEMA IF EXISTS bench CASCADE" >/dev/null 2>&1 || true
}
reset_pg_state() {
    psql -q "$INSIGHTD_PG_URL" <<'SQL' >/dev/null
SET search_path = bench;
TRUNCATE client, account, balance_snapshot, term_deposit, loan, holding, financials, manager, interaction,
         plugin_failure, schedule_run, lead, lead_activity, lead_decision, delivery, delivery_attempt, route_count,
         partition_offset, tick_claim, cluster_instance, partition_lease, consumer;
SQL
}
rate() { python3 -c "print(f'{$1 / ($3 - $2):,.0f}')"; }

# post PORTS...: every chunk, 8 at a time, round-robin over the ports; fails on any answer but 202.
post() {
    local ports=("$@")
    ls "$work/chunks" | awk -v n=${#ports[@]} '{print NR % n, $0}' | while read -r index chunk; do
        echo "${ports[$index]} $work/chunks/$chunk"
    done | xargs -P 8 -L 1 sh -c 'code=$(curl -s -o /dev/null -w "%{http_code}" --max-time 60 -X POST \
        "http://127.0.0.1:$0/v1/events" -H "Authorization: Bearer $BENCH_TOKEN" -H "Content-Type: application/x-ndjson" \
        --data-binary "@$1"); [ "$code" = 202 ] || { echo "POST to $0: $code" >&2; exit 255; }'
}

printf '\n%-22s %14s %16s %16s\n' "setup" "ingest ev/s" "caught up ev/s" "dispatch ev/s"

# SQLite: one instance.
file=$(config sqlite 18100 sqlite)
start "$file"; wait_ready 18100
t0=$(now); post 18100; t1=$(now); wait_caught_up 18100 sqlite; t2=$(now)
stop_all
rm -rf "$work/sqlite-state"
"$insightd" ingest --config "$file" --source core-banking "$work/events.ndjson" >/dev/null
start "$file"; t3=$(now); wait_ready 18100; wait_caught_up 18100 sqlite; t4=$(now)
cpu_i=$(cpu_insightd)
stop_all
printf '%-22s %14s %16s %16s   dispatch CPU: insightd %.1f s, wall %.1f s\n' "SQLite, 1 instance" \
    "$(rate "$total" "$t0" "$t1")" "$(rate "$total" "$t0" "$t2")" "$(rate "$total" "$t3" "$t4")" "$cpu_i" \
    "$(python3 -c "print($t4 - $t3)")"

# PostgreSQL: 1, 2, 3 instances.
for count in 1 2 3; do
    reset_pg
    ports=()
    files=()
    for i in $(seq 1 "$count"); do ports+=($((18100 + i))); files+=("$(config "app-$i" $((18100 + i)) postgres)"); done
    for f in "${files[@]}"; do start "$f"; done
    for p in "${ports[@]}"; do wait_ready "$p"; done
    sleep 7   # the instances share the partitions (a renewal or two)
    t0=$(now); post "${ports[@]}"; t1=$(now); wait_caught_up "${ports[0]}" postgres; t2=$(now)
    stop_all
    reset_pg_state
    pg0=$(cpu_postgres)
    for f in "${files[@]}"; do start "$f"; done
    t3=$(now)
    for p in "${ports[@]}"; do wait_ready "$p"; done
    wait_caught_up "${ports[0]}" postgres; t4=$(now)
    cpu_i=$(cpu_insightd); pg1=$(cpu_postgres)
    stop_all
    printf '%-22s %14s %16s %16s   dispatch CPU: insightd %.1f s, postgres %.1f s, wall %.1f s\n' \
        "PostgreSQL, $count inst." "$(rate "$total" "$t0" "$t1")" "$(rate "$total" "$t0" "$t2")" "$(rate "$total" "$t3" "$t4")" \
        "$cpu_i" "$(python3 -c "print($pg1 - $pg0)")" "$(python3 -c "print($t4 - $t3)")"
done
