#!/usr/bin/env bash
# Prometheus (and promtool) from Debian's package, for local runs and the tests. No Docker.
#
#   deploy/prometheus.sh install   apt-get install prometheus if prometheus/promtool are missing (root only)
#   deploy/prometheus.sh check     promtool check config + check rules + test rules on deploy/prometheus/
#   deploy/prometheus.sh start     install if needed, then run prometheus with deploy/prometheus/prometheus.yml
#                                  on 127.0.0.1:$PROM_PORT (9090), data in .run/prometheus/
#   deploy/prometheus.sh stop      SIGTERM the Prometheus this script started
#
# Debian starts no service in a container without systemd; `start` runs our own process either way.
set -euo pipefail

HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd -- "$HERE/.." && pwd -P)"
CONF="$HERE/prometheus"
RUN_DIR="$ROOT/.run/prometheus"
PROM_PORT="${PROM_PORT:-9090}"

say() { printf 'prometheus: %s\n' "$*"; }
die() { printf 'prometheus: error: %s\n' "$*" >&2; exit 1; }

cmd_install() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    say "already installed ($(promtool --version 2>&1 | head -n 1 | sed 's/^promtool, //'))"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "Prometheus is not installed; as root run: apt-get update && apt-get install -y prometheus"
  command -v apt-get >/dev/null || die "Prometheus is not installed and apt-get is not available"
  say "installing Prometheus with apt-get (Debian package 'prometheus') ..."
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
  command -v promtool >/dev/null || die "apt-get install prometheus finished but promtool is missing"
  say "installed $(promtool --version 2>&1 | head -n 1)"
}

cmd_check() {
  command -v promtool >/dev/null || cmd_install
  promtool check config "$CONF/prometheus.yml"
  promtool check rules "$CONF/alerts.yml"
  (cd "$CONF" && promtool test rules alerts.test.yml)
}

cmd_start() {
  command -v prometheus >/dev/null || cmd_install
  mkdir -p "$RUN_DIR/data"
  if [ -s "$RUN_DIR/prometheus.pid" ] && kill -0 "$(cat "$RUN_DIR/prometheus.pid")" 2>/dev/null; then
    say "already running (pid $(cat "$RUN_DIR/prometheus.pid"))"
    return 0
  fi
  (cd "$RUN_DIR" && exec setsid nohup prometheus --config.file="$CONF/prometheus.yml" \
    --storage.tsdb.path="$RUN_DIR/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
    >>"$RUN_DIR/prometheus.log" 2>&1 </dev/null) &
  echo $! >"$RUN_DIR/prometheus.pid"
  say "started (pid $!) on http://127.0.0.1:$PROM_PORT, log .run/prometheus/prometheus.log"
}

cmd_stop() {
  local pid
  pid="$(cat "$RUN_DIR/prometheus.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    say "stopped (pid $pid)"
  else
    say "not running"
  fi
  rm -f "$RUN_DIR/prometheus.pid"
}

case "${1:-}" in
  install) cmd_install ;;
  check) cmd_check ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
