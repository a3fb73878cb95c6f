#!/usr/bin/env bash
# The journal on SQLite beside PostgreSQL, in one run: append (one writer, then several) and read back.
#
#   deploy/bench/store.sh [EVENTS]            (default 200000)
#
# Starts a throwaway PostgreSQL 15 server (deploy/pg/throwaway.sh, fsync on) for the run and stops it afterwards.
# Needs postgresql-15 (apt-get install postgresql-15). INSIGHTD_BENCH=path/to/insightd-bench skips the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-200000}
bench=${INSIGHTD_BENCH:-.build/release/insightd-bench}
[ -n "${INSIGHTD_BENCH:-}" ] || swift build -c release --product insightd-bench >/dev/null
dir=$(mktemp -d /tmp/insightd-store-bench-pg.XXXXXX)
trap 'deploy/pg/throwaway.sh stop "$dir" || true; rm -rf "$dir"' EXIT
# The URL (it holds the password) goes by the environment, not on a command line that `ps` shows.
INSIGHTD_PG_URL=$(deploy/pg/throwaway.sh start "$dir")
export INSIGHTD_PG_URL
"$bench" store --events "$events"
