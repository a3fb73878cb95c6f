#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks: a new cluster in DIR, on a free loopback port, run by a
# user that is not root (PostgreSQL refuses to run as root), with password (SCRAM) authentication.
#
#   deploy/pg/throwaway.sh start DIR     initialises DIR, starts the server, prints its URL on stdout
#   deploy/pg/throwaway.sh stop DIR      stops it (DIR stays, for its log: DIR/server.log)
#
# Needs Debian's postgresql-15 (apt-get install postgresql-15), or initdb and pg_ctl on PATH. As root, the server runs
# as the `postgres` user the package creates (or INSIGHTD_PG_USER); as another user, as that user.
#
#   export INSIGHTD_TEST_POSTGRES_URL=$(deploy/pg/throwaway.sh start /tmp/insightd-pg)
#   swift test --skip-build
#   deploy/pg/throwaway.sh stop /tmp/insightd-pg
set -euo pipefail
command=${1:?usage: throwaway.sh start|stop DIR}
dir=${2:?usage: throwaway.sh start|stop DIR}
dir=$(realpath -m "$dir")

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
pg() { # runs a PostgreSQL program as the server's user
  local program=$1; shift
  local path=$program
  [ -n "$bin" ] && [ -x "$bin/$program" ] && path="$bin/$program"
  # From /: the server's user may not be allowed into the caller's directory (a checkout under /root).
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u "${INSIGHTD_PG_USER:-postgres}" -- "$path" "$@")
  else
    (cd / && "$path" "$@")
  fi
}

case $command in
start)
  if [ -e "$dir/data/postmaster.pid" ]; then echo "throwaway.sh: a server is already running in $dir" >&2; exit 1; fi
  # Only an empty directory, or one a previous run made (it has the marker), is used: never someone's files.
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -e "$dir/.insightd-throwaway" ]; then
    echo "throwaway.sh: $dir is not empty and was not made by throwaway.sh; give a new or empty directory" >&2; exit 1
  fi
  [ -e "$dir/.insightd-throwaway" ] && rm -rf "$dir"
  mkdir -p "$dir"
  touch "$dir/.insightd-throwaway"
  [ "$(id -u)" -eq 0 ] && chown "${INSIGHTD_PG_USER:-postgres}" "$dir"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  (umask 077; echo "$password" > "$dir/password")
  [ "$(id -u)" -eq 0 ] && chown "${INSIGHTD_PG_USER:-postgres}" "$dir/password"
  pg initdb -D "$dir/data" -U insightd --pwfile="$dir/password" --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    echo "throwaway.sh: initdb failed:" >&2; tail -20 "$dir/initdb.log" >&2; exit 1; }
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Loopback only, sockets in DIR; fsync stays on (the store's durability is what the tests check).
  pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200" \
    start >"$dir/pg_ctl.log" 2>&1 || {
    echo "throwaway.sh: the server did not start:" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
  echo "$port" > "$dir/port"
  # A loopback throwaway has no certificate: TLS is off.
  echo "postgres://insightd:$password@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  [ -e "$dir/data/postmaster.pid" ] || exit 0
  pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null
  ;;
*)
  echo "usage: throwaway.sh start|stop DIR" >&2; exit 2
  ;;
esac
