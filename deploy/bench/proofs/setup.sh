# Shared by deploy/bench/crashloop.sh and deploy/bench/soak.sh (sourced, after `work`, `proofs` and `bin` are set and
# the cleanup trap is in place): a free port for the daemon, the `hook` and `aml` webhook receivers
# (proofs/receiver.py) failing FAIL of their requests, the shipped plugins-config, and WORK_DIR/insightd.yaml with
# the RETRY_SCHEDULE given (a YAML list), checked by `insightd check`. Sets port, receiver (its PID), hook (its port),
# db and q (a read-only query of the daemon's database).
#
#   proofs_setup FAIL RETRY_SCHEDULE
proofs_setup() {
  local fail=$1 schedule=$2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 "$proofs/receiver.py" --port-file "$work/receiver.port" --log "$work/receiver.log" --fail "$fail" \
    >"$work/receiver.out" 2>&1 &
  receiver=$!
  for _ in $(seq 50); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
  hook=$(cat "$work/receiver.port")

  cp -r plugins-config "$work/plugins"
  cat > "$work/insightd.yaml" <<YAML
listen: 127.0.0.1:$port
state_dir: state
plugins_dir: plugins
timezone: Asia/Shanghai
sources:
  - {name: core-banking, kind: webhook, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
receivers:
  - {name: hook, kind: webhook, url: "http://127.0.0.1:$hook/leads", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
  - {name: aml, kind: webhook, url: "http://127.0.0.1:$hook/aml", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
routes:
  - {match: {}, receivers: [hook], mode: immediate}
delivery:
  retry_schedule: $schedule
  unassigned: [hook]               # the clients have no manager
  compliance: [aml]
  group_window: 0s                 # one message per lead
logging: {level: warning, format: json}
YAML
  "$bin" check --config "$work/insightd.yaml" >/dev/null 2>&1 || { "$bin" check --config "$work/insightd.yaml"; exit 1; }

  db=$work/state/insightd.sqlite
}

q() { sqlite3 -readonly "$db" "$1" 2>/dev/null || echo "?"; }
