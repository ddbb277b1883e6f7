#!/usr/bin/env bash
# Bring the production profile up on a fresh Debian server (docs/DEPLOY.md):
#
#   sudo deploy/install.sh --domain clinic.example.org [--email ops@example.org] [--external-ip IP[/PRIVATE_IP]]
#   sudo deploy/install.sh --lan [--site clinic.lan] [--site 192.168.1.10]
#   add --app-servers N for N Streamlit processes behind Caddy (sticky sessions; needs
#   CLINIC_DATABASE_URL in portal.env: docs/DEPLOY.md "Several app servers")
#
# Installs the Debian packages, copies the portal to /opt/clinic-portal and prepares it
# (`make setup`), creates the service user and its directories (data 0700), renders the
# Caddyfile, coturn config, portal.env and systemd units from deploy/templates, initialises the
# clinic and enables everything. Safe to run again (an update): portal.env, the TURN password
# and the master key are kept.
#
#   deploy/install.sh (--domain ... | --lan ...) --render-only DIR
# only writes the rendered files into DIR (no root needed; the tests use this).
set -euo pipefail

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP_DIR=/opt/clinic-portal
DATA_DIR=/var/lib/clinic-portal
CONFIG_DIR=/etc/clinic-portal
BACKUP_DIR=/var/backups/clinic-portal
CADDYFILE=/etc/caddy/clinic-portal.Caddyfile
SERVICE_USER=clinic
KEEP=14
APP_SERVERS=1

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

MODE=""
DOMAIN=""
EMAIL=""
EXTERNAL_IP=""
RENDER_ONLY=""
SITES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) MODE=domain; DOMAIN="${2:?--domain needs a name}"; shift 2 ;;
    --lan) MODE=lan; shift ;;
    --site) SITES+=("${2:?--site needs a name or IP}"); shift 2 ;;
    --email) EMAIL="${2:?}"; shift 2 ;;
    --external-ip) EXTERNAL_IP="${2:?}"; shift 2 ;;
    --keep) KEEP="${2:?}"; shift 2 ;;
    --app-servers) APP_SERVERS="${2:?}"; shift 2 ;;
    --render-only) RENDER_ONLY="${2:?--render-only needs a directory}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
[ -n "$MODE" ] || usage

# The arguments deploy/render.py gets (the same for --render-only and a real install).
render_args=(--keep "$KEEP" --app-dir "$APP_DIR" --data-dir "$DATA_DIR" --config-dir "$CONFIG_DIR"
  --backup-dir "$BACKUP_DIR" --user "$SERVICE_USER" --app-servers "$APP_SERVERS")
if [ "$MODE" = domain ]; then
  render_args+=(--domain "$DOMAIN")
  [ -n "$EMAIL" ] && render_args+=(--email "$EMAIL")
  if [ -z "$EXTERNAL_IP" ]; then
    # coturn must announce the address patients reach: the domain's (override behind NAT).
    EXTERNAL_IP="$(getent ahostsv4 "$DOMAIN" 2>/dev/null | awk 'NR==1 {print $1}')" || true
  fi
  if [ -n "$EXTERNAL_IP" ]; then
    render_args+=(--external-ip "$EXTERNAL_IP")
  else
    echo "warning: $DOMAIN does not resolve; give --external-ip for the TURN relay" >&2
  fi
else
  render_args+=(--lan)
  if [ ${#SITES[@]} -eq 0 ]; then
    # Default: the server's host name and its addresses, as clinic devices would open them.
    SITES=("$(hostname)")
    for ip in $(hostname -I 2>/dev/null); do
      case "$ip" in *:*) ;; *) SITES+=("$ip") ;; esac
    done
  fi
fi
for site in "${SITES[@]}"; do render_args+=(--site "$site"); done

render() {  # render INTO_DIR PYTHON [extra args]
  local out="$1" python="$2"
  shift 2
  (cd "$APP_OR_SOURCE" && "$python" -m deploy.render "${render_args[@]}" "$@" --out "$out")
}

if [ -n "$RENDER_ONLY" ]; then
  APP_OR_SOURCE="$SOURCE_DIR"
  python="$SOURCE_DIR/.venv/bin/python"
  [ -x "$python" ] || python=python3
  render "$RENDER_ONLY" "$python" >/dev/null
  echo "rendered into $RENDER_ONLY"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo), or use --render-only DIR" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "this installer is for Debian (apt-get)" >&2; exit 1; }

echo "== Debian packages"
# Pango/HarfBuzz and DejaVu: the report letter (WeasyPrint) shapes and embeds its text with them.
packages=(python3 python3-venv make caddy rsync libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)
[ "$MODE" = domain ] && packages+=(coturn)
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

echo "== service user and directories"
id -u "$SERVICE_USER" >/dev/null 2>&1 ||
  useradd --system --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR" "$BACKUP_DIR" "$CONFIG_DIR/key"
install -d -m 0755 -o root -g root "$CONFIG_DIR"

echo "== portal code in $APP_DIR"
# An update: the portal holds the database open (DuckDB: one process), and its code changes now.
systemctl stop clinic-portal.service 'clinic-portal@*.service' >/dev/null 2>&1 || true
install -d -m 0755 "$APP_DIR"
if [ "$SOURCE_DIR" != "$APP_DIR" ]; then
  # The code only: no local data, virtual environment or git history travel to the server copy.
  rsync -a --delete --exclude=.git --exclude=.venv --include=/data/README.md --exclude='/data/*' \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache "$SOURCE_DIR/" "$APP_DIR/"
fi
make -C "$APP_DIR" setup
APP_OR_SOURCE="$APP_DIR"

echo "== configuration"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
extra=()
if [ -f "$CONFIG_DIR/turnserver.conf" ]; then
  # Keep the TURN password: portal.env (kept as it is) already carries it.
  old_password="$(sed -n 's/^user=[^:]*:\(.*\)$/\1/p' "$CONFIG_DIR/turnserver.conf" | head -1)"
  [ -n "$old_password" ] && extra+=(--turn-password "$old_password")
fi
if [ -f "$CONFIG_DIR/portal.env" ]; then
  # Keep the sticky cookie's secret: the kept portal.env and the new Caddyfile must agree.
  old_secret="$(sed -n 's/^CLINIC_STICKY_SECRET=//p' "$CONFIG_DIR/portal.env" | head -1)"
  [ -n "$old_secret" ] && extra+=(--sticky-secret "$old_secret")
fi
render "$work" "$APP_DIR/.venv/bin/python" "${extra[@]}" >/dev/null

install -m 0644 -o root -g root "$work/Caddyfile" "$CADDYFILE"
if [ -f "$CONFIG_DIR/portal.env" ]; then
  install -m 0640 -o root -g "$SERVICE_USER" "$work/portal.env" "$CONFIG_DIR/portal.env.new"
  echo "kept $CONFIG_DIR/portal.env (the newly rendered one is portal.env.new)"
else
  install -m 0640 -o root -g "$SERVICE_USER" "$work/portal.env" "$CONFIG_DIR/portal.env"
fi
if [ "$MODE" = domain ]; then
  install -m 0640 -o root -g turnserver "$work/turnserver.conf" "$CONFIG_DIR/turnserver.conf"
fi
for unit in "$work"/*.service "$work"/*.timer; do  # clinic-portal@.service with --app-servers
  install -m 0644 -o root -g root "$unit" "/etc/systemd/system/$(basename "$unit")"
done
/usr/bin/caddy validate --adapter caddyfile --config "$CADDYFILE" >/dev/null

echo "== clinic data"
install -m 0755 -o root -g root "$APP_DIR/deploy/clinic-portal-cli" /usr/local/sbin/clinic-portal
CLINIC_APP_DIR="$APP_DIR" CLINIC_CONFIG_DIR="$CONFIG_DIR" CLINIC_SERVICE_USER="$SERVICE_USER" \
  /usr/local/sbin/clinic-portal init

echo "== services"
# Debian's own caddy and coturn services would want the same ports as ours.
systemctl disable --now caddy.service >/dev/null 2>&1 || true
systemctl disable --now coturn.service >/dev/null 2>&1 || true
systemctl daemon-reload
portal_units=(clinic-portal.service)
if [ "$APP_SERVERS" -gt 1 ]; then
  systemctl disable --now clinic-portal.service >/dev/null 2>&1 || true
  portal_units=()
  for ((i = 0; i < APP_SERVERS; i++)); do portal_units+=("clinic-portal@$((8501 + i)).service"); done
fi
units=("${portal_units[@]}" clinic-caddy.service clinic-backup.timer)
[ "$MODE" = domain ] && units+=(clinic-turn.service)
systemctl enable --now "${units[@]}"
systemctl restart "${portal_units[@]}" clinic-caddy.service

url="$(sed -n 's/^CLINIC_PUBLIC_URL=//p' "$CONFIG_DIR/portal.env")"
cat <<EOF

The clinic portal is up: $url
- Create the first admin (the password is read from standard input):
    sudo clinic-portal create-user --role admin --email you@example.org --name "Your Name"
- Open in the firewall: TCP 443 and 80 (certificates, redirects)$([ "$MODE" = domain ] && echo "; UDP+TCP 3478 and UDP 49160-49200 (TURN)")
- Backups: nightly into $BACKUP_DIR (systemctl list-timers clinic-backup.timer); docs/DEPLOY.md says how to restore.
- Keep a copy of the master key $CONFIG_DIR/key/master.key somewhere else: backups cannot be read without it.
EOF
if [ "$MODE" = lan ]; then
  echo "- Install Caddy's root certificate on the clinic's devices: /var/lib/caddy/clinic-portal/pki/authorities/local/root.crt"
fi
