#!/usr/bin/env bash
# Installs insightd on this host (or into a packaging root with --prefix):
#   - builds a release binary with the Swift standard library linked statically (or takes --binary PATH);
#   - creates the system user and group insightd (not with --prefix);
#   - installs the binary to /usr/local/bin, the configuration to /etc/insightd (insightd.yaml and plugins.d/
#     from plugins-config/), the environment example and the systemd unit.
# It is idempotent and never overwrites a configuration file that was edited: the shipped version goes
# beside it as <file>.dist. --dry-run prints what it would do and changes nothing.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: deploy/install.sh [--prefix DIR] [--binary PATH] [--dry-run]
  --prefix DIR   install under DIR (a packaging root) instead of /; creates no user, reloads no systemd
  --binary PATH  install this insightd binary instead of building one
  --dry-run      print every step, change nothing
USAGE
}

prefix=""
binary=""
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --binary=*) binary="${1#--binary=}"; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${prefix%/}"
bindir="$prefix/usr/local/bin"
confdir="$prefix/etc/insightd"
unitdir="$prefix/etc/systemd/system"
docdir="$prefix/usr/local/share/doc/insightd"

run() {
  if [ "$dry_run" -eq 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}
say() { printf '%s\n' "$*"; }

if [ -z "$prefix" ] && [ "$dry_run" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root to install into / (or use --prefix DIR for a packaging root)" >&2
  exit 1
fi

# 1. The binary.
if [ -z "$binary" ]; then
  say "building a release binary (static Swift standard library)"
  run swift build --package-path "$repo" -c release --static-swift-stdlib --product insightd
  binary="$repo/.build/release/insightd"
fi
if [ "$dry_run" -eq 0 ] && [ ! -x "$binary" ]; then
  echo "install.sh: $binary is not an executable insightd" >&2
  exit 1
fi

# 2. The service user (a static, unprivileged system account).
if [ -z "$prefix" ]; then
  if getent passwd insightd >/dev/null 2>&1; then
    say "user insightd exists"
  else
    run useradd --system --user-group --home-dir /var/lib/insightd --no-create-home --shell /usr/sbin/nologin \
      --comment "insightd service" insightd
  fi
fi

# 3. Files. A configuration file is written only when it is absent; an edited one stays, and the shipped
#    version goes beside it as .dist when they differ.
install_config() {  # source target mode
  local source="$1" target="$2" mode="$3"
  if [ -e "$target" ]; then
    if cmp -s "$source" "$target"; then
      say "unchanged: $target"
    else
      say "kept (edited): $target; the shipped version is $target.dist"
      run install -m "$mode" "$source" "$target.dist"
    fi
  else
    run install -D -m "$mode" "$source" "$target"
  fi
}

run install -D -m 0755 "$binary" "$bindir/insightd"
run install -d -m 0750 "$confdir" "$confdir/plugins.d"
run install -d -m 0700 "$confdir/credentials"

# The main file for production: state under /var/lib/insightd (StateDirectory=), plugins from
# /etc/insightd/plugins.d, and the demo's literal secrets replaced by systemd credentials (LoadCredential=).
production="$(mktemp)"
trap 'rm -f "$production"' EXIT
sed -e 's|^state_dir: .*|state_dir: /var/lib/insightd            # StateDirectory= of insightd.service|' \
    -e 's|^plugins_dir: .*|plugins_dir: /etc/insightd/plugins.d     # one <plugin-id>.yaml per plugin|' \
    -e 's#\./var/#/var/lib/insightd/#g' \
    -e 's#secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"#secret: "credential:core-banking-whsec"#' \
    -e 's#token: "demo-crm-token"#token: "credential:crm-token"#' \
    -e 's#token: "demo-ops-token"#token: "credential:ops-token"#' \
    -e 's#token: "demo-compliance-token"#token: "credential:compliance-token"#' \
    "$repo/deploy/insightd.yaml" > "$production"
install_config "$production" "$confdir/insightd.yaml" 0640
for file in "$repo"/plugins-config/*.yaml; do
  install_config "$file" "$confdir/plugins.d/$(basename "$file")" 0640
done
if [ -d "$repo/plugins-config/templates" ]; then
  for file in "$repo"/plugins-config/templates/*.mustache; do
    [ -e "$file" ] || continue
    install_config "$file" "$confdir/plugins.d/templates/$(basename "$file")" 0640
  done
fi
install_config "$repo/deploy/insightd.env.example" "$confdir/insightd.env" 0640

run install -D -m 0644 "$repo/deploy/insightd.service" "$unitdir/insightd.service"
run install -D -m 0644 "$repo/README.md" "$docdir/README.md"

# 4. Ownership and systemd, on a real host.
if [ -z "$prefix" ]; then
  run chown -R root:insightd "$confdir"
  run chown root:root "$confdir/credentials"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    run systemctl daemon-reload
  fi
  cat <<'NEXT'

insightd is installed. Next:
  1. edit /etc/insightd/insightd.yaml (receivers, routes, sources)
  2. put each secret in /etc/insightd/credentials/<name> (0600 root), as named by LoadCredential= in
     /etc/systemd/system/insightd.service (core-banking-whsec, crm-token, ops-token, compliance-token,
     gateway-whsec)
  3. check it: CREDENTIALS_DIRECTORY=/etc/insightd/credentials insightd check --config /etc/insightd/insightd.yaml
  4. systemctl enable --now insightd; journalctl -u insightd -f
NEXT
fi
