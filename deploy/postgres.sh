#!/usr/bin/env bash
# A private PostgreSQL server for the data mart: its own cluster in .run/postgres/, loopback only. No Docker.
#
#   deploy/postgres.sh install     apt-get install postgresql if no /usr/lib/postgresql/*/bin/initdb exists
#   deploy/postgres.sh start       install if needed, initdb once, start, create role + database svh (idempotent)
#   deploy/postgres.sh stop        fast shutdown (then immediate if it hangs)
#   deploy/postgres.sh status      exit 0 if the server runs and accepts connections (1: not accepting, 3: stopped)
#   deploy/postgres.sh url         print postgresql+psycopg://svh:<password>@127.0.0.1:<port>/svh
#   deploy/postgres.sh psql [ARGS] psql as svh over TCP (password from .run/postgres/password)
#   deploy/postgres.sh reset       stop and delete the cluster, logs and password
#
# Env: PG_PORT (55432; without it, the port of the last start in this checkout is reused until reset).
#      PG_RUN_DIR (.run/postgres) puts a whole cluster elsewhere (fault tests run their own server this way).
# State (.run/postgres/ at the repo root): data/ (the cluster, owned by the server's OS user), run/ (unix socket
# and postgres.log), password (chmod 600), port. As root the server runs as the OS user `postgres`
# (runuser), since PostgreSQL refuses to run as root; as any other user it runs as that user.
set -euo pipefail

HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd -- "$HERE/.." && pwd -P)"
RUN_DIR="${PG_RUN_DIR:-$ROOT/.run/postgres}"
DATA_DIR="$RUN_DIR/data"
SOCK_DIR="$RUN_DIR/run"
LOG_FILE="$SOCK_DIR/postgres.log"
PW_FILE="$RUN_DIR/password"
PORT_FILE="$RUN_DIR/port"
LOCK_FILE="$RUN_DIR/.lock"
PG_HOST=127.0.0.1
PG_DB=svh
PG_ROLE=svh
DEFAULT_PORT=55432

say() { printf 'postgres: %s\n' "$*"; }
die() { printf 'postgres: error: %s\n' "$*" >&2; exit 1; }
rel() { printf '%s' "${1#"$ROOT"/}"; }

if [ "$(id -u)" = 0 ]; then PG_USER=postgres; else PG_USER="$(id -un)"; fi

# PG_PORT wins, else the port of the last start in this checkout (until `reset`), else 55432.
pick_port() {
  if [ -n "${PG_PORT:-}" ]; then PORT="$PG_PORT"
  elif [ -s "$PORT_FILE" ]; then PORT="$(<"$PORT_FILE")"
  else PORT="$DEFAULT_PORT"; fi
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "PG_PORT must be a number, got '$PORT'"
}

# Newest installed PostgreSQL bin dir (Debian layout), or empty.
find_bindir() {
  local f v best="" bestv=-1
  for f in /usr/lib/postgresql/*/bin/initdb; do # no match: the literal pattern fails -x
    [ -x "$f" ] || continue
    v="${f#/usr/lib/postgresql/}"
    v="${v%%/*}"
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if [ "$v" -gt "$bestv" ]; then bestv="$v"; best="${f%/initdb}"; fi
  done
  printf '%s' "$best"
}

# Run as the server's OS user (root: runuser -u postgres; anyone else: themselves). Never inherits the lock fd.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@" 9>&-
  else "$@" 9>&-; fi
}

LOCKED=0
take_lock() {
  [ "$LOCKED" = 1 ] && return 0
  mkdir -p "$RUN_DIR"
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "another deploy/postgres.sh holds $(rel "$LOCK_FILE") for > 300 s"
  LOCKED=1
}

port_open() {
  python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)' "$1" "$2" 2>/dev/null
}

cmd_install() {
  BINDIR="$(find_bindir)"
  if [ -n "$BINDIR" ]; then
    say "PostgreSQL $("$BINDIR/postgres" --version | sed 's/^[^0-9]*//') already installed ($BINDIR)"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; as root run: apt-get update && apt-get install -y postgresql"
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available"
  say "installing PostgreSQL with apt-get (Debian package 'postgresql') ..."
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  BINDIR="$(find_bindir)"
  [ -n "$BINDIR" ] || die "apt-get install postgresql finished but no /usr/lib/postgresql/*/bin/initdb exists"
  say "installed PostgreSQL $("$BINDIR/postgres" --version | sed 's/^[^0-9]*//')"
}

need_bindir() {
  BINDIR="$(find_bindir)"
  [ -n "$BINDIR" ] || die "PostgreSQL is not installed (run: deploy/postgres.sh install)"
}

# The server's OS user must be able to reach .run/postgres: give o+x (search only, no read) to any parent
# directory it cannot traverse, e.g. a clone under /root (0700) or a repo created with umask 077.
ensure_reachable() {
  [ "$(id -u)" = 0 ] || return 0
  as_pg test -x "$RUN_DIR" && return 0
  local p="$RUN_DIR"
  local -a dirs=()
  while [ "$p" != / ]; do dirs=("$p" "${dirs[@]}"); p="$(dirname "$p")"; done
  for p in "${dirs[@]}"; do
    if ! as_pg test -x "$p"; then
      chmod o+x "$p"
      say "chmod o+x $p (so the '$PG_USER' user can reach its data directory)"
    fi
  done
  as_pg test -x "$RUN_DIR" || die "user '$PG_USER' still cannot reach $RUN_DIR"
}

pg_running() { [ -f "$DATA_DIR/PG_VERSION" ] && as_pg "$BINDIR/pg_ctl" status -D "$DATA_DIR" >/dev/null 2>&1; }

gen_password() {
  [ -s "$PW_FILE" ] && return 0
  (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$PW_FILE.tmp")
  chmod 600 "$PW_FILE.tmp"
  mv "$PW_FILE.tmp" "$PW_FILE"
  say "generated a password for role '$PG_ROLE' in $(rel "$PW_FILE") (chmod 600)"
}

# The mart owner may create roles: 'hub mart init' creates the writer and analyst roles (no superuser).
# SQL via the unix socket as the bootstrap superuser (local connections are 'trust', but the socket directory
# is 0700 and owned by the server's user, so only that user and root can reach it).
admin_psql() {
  as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres "$@"
}

ensure_role_and_db() {
  local pw
  pw="$(<"$PW_FILE")"
  [[ "$pw" =~ ^[A-Za-z0-9_-]+$ ]] || die "$(rel "$PW_FILE") must hold a URL-safe password ([A-Za-z0-9_-]); run reset"
  # via stdin, so the password never shows up in a process list
  admin_psql <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN CREATEROLE PASSWORD '$pw';
  ELSE
    ALTER ROLE $PG_ROLE LOGIN CREATEROLE PASSWORD '$pw';
  END IF;
END
\$\$;
SQL
  if [ "$(admin_psql -tA -c "SELECT count(*) FROM pg_database WHERE datname = '$PG_DB'")" = 0 ]; then
    admin_psql -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE ENCODING 'UTF8'"
    say "created database '$PG_DB' owned by role '$PG_ROLE'"
  fi
}

write_conf() {
  local sock_q="${SOCK_DIR//\'/\'\'}"
  as_pg tee "$DATA_DIR/svh.conf" >/dev/null <<EOF
# GENERATED by deploy/postgres.sh on every start - edit the script, not this file.
listen_addresses = '$PG_HOST'
port = $PORT
unix_socket_directories = '$sock_q'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
max_connections = 100
shared_buffers = 128MB
log_timezone = 'UTC'
timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  if ! grep -qx "include_if_exists = 'svh.conf'" "$DATA_DIR/postgresql.conf"; then
    printf "\n# deploy/postgres.sh settings (port, listen address, socket dir)\ninclude_if_exists = 'svh.conf'\n" |
      as_pg tee -a "$DATA_DIR/postgresql.conf" >/dev/null
  fi
}

cmd_start() {
  take_lock
  pick_port
  [ -n "$(find_bindir)" ] || cmd_install
  need_bindir
  ensure_reachable
  mkdir -p "$DATA_DIR" "$SOCK_DIR"
  chown "$PG_USER:" "$DATA_DIR" "$SOCK_DIR"
  chmod 700 "$DATA_DIR" "$SOCK_DIR"
  gen_password

  if pg_running; then
    local running_port
    running_port="$(sed -n '4p' "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
    if [ -n "${PG_PORT:-}" ] && [ "$running_port" != "$PORT" ]; then
      die "already running on port $running_port, not PG_PORT=$PORT; run 'deploy/postgres.sh stop' first"
    fi
    PORT="${running_port:-$PORT}"
    ensure_role_and_db
    say "already running on $PG_HOST:$PORT (data $(rel "$DATA_DIR")) - nothing to do"
    return 0
  fi

  if port_open "$PG_HOST" "$PORT"; then
    die "$PG_HOST:$PORT is already in use by another process (set PG_PORT)"
  fi

  if [ ! -f "$DATA_DIR/PG_VERSION" ]; then
    [ -z "$(ls -A "$DATA_DIR")" ] || die "$(rel "$DATA_DIR") is not empty but holds no cluster; run 'deploy/postgres.sh reset'"
    local locale_opt=--no-locale
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale_opt=--locale=C.UTF-8; fi
    say "initdb $(rel "$DATA_DIR") ($("$BINDIR/postgres" --version | sed 's/^[^0-9]*//'), UTF8, $locale_opt) ..."
    as_pg "$BINDIR/initdb" -D "$DATA_DIR" -U postgres -E UTF8 "$locale_opt" \
      --auth-local=trust --auth-host=scram-sha-256 >"$RUN_DIR/initdb.log" 2>&1 ||
      { tail -n 20 "$RUN_DIR/initdb.log" >&2; die "initdb failed (full output in $(rel "$RUN_DIR/initdb.log"))"; }
  fi
  write_conf

  local t0=$SECONDS
  say "starting on $PG_HOST:$PORT ..."
  if ! as_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 start >/dev/null; then
    tail -n 20 "$LOG_FILE" >&2 || true
    die "pg_ctl start failed (log $(rel "$LOG_FILE"))"
  fi
  printf '%s\n' "$PORT" >"$PORT_FILE"
  ensure_role_and_db
  # prove the URL works: TCP + password, as the application will connect
  PGPASSWORD="$(<"$PW_FILE")" "$BINDIR/psql" -X -q -tA -h "$PG_HOST" -p "$PORT" -U "$PG_ROLE" -d "$PG_DB" \
    -c 'SELECT 1' >/dev/null || die "server started but '$PG_ROLE' cannot log in over TCP"
  say "ready in $((SECONDS - t0)) s on $PG_HOST:$PORT (database '$PG_DB', role '$PG_ROLE'); 'deploy/postgres.sh url' prints the URL"
}

cmd_stop() {
  take_lock
  need_bindir
  if ! pg_running; then
    say "not running"
    return 0
  fi
  local t0=$SECONDS
  say "stopping (fast shutdown) ..."
  if ! as_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >/dev/null; then
    say "fast shutdown timed out, using immediate shutdown"
    as_pg "$BINDIR/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 30 stop >/dev/null || die "could not stop the server"
  fi
  say "stopped in $((SECONDS - t0)) s"
}

cmd_status() {
  pick_port
  need_bindir
  if ! pg_running; then
    say "not running"
    return 3
  fi
  if "$BINDIR/pg_isready" -q -h "$PG_HOST" -p "$PORT" -d "$PG_DB" -t 3; then
    say "running on $PG_HOST:$PORT, accepting connections (data $(rel "$DATA_DIR"))"
    return 0
  fi
  say "server process running but $PG_HOST:$PORT is not accepting connections"
  return 1
}

cmd_url() {
  pick_port
  [ -s "$PW_FILE" ] || die "no password yet: run 'deploy/postgres.sh start' first"
  printf 'postgresql+psycopg://%s:%s@%s:%s/%s\n' "$PG_ROLE" "$(<"$PW_FILE")" "$PG_HOST" "$PORT" "$PG_DB"
}

cmd_psql() {
  pick_port
  need_bindir
  [ -s "$PW_FILE" ] || die "no password yet: run 'deploy/postgres.sh start' first"
  PGPASSWORD="$(<"$PW_FILE")" exec "$BINDIR/psql" -X -h "$PG_HOST" -p "$PORT" -U "$PG_ROLE" -d "$PG_DB" "$@"
}

cmd_reset() {
  take_lock
  if [ -n "$(find_bindir)" ]; then cmd_stop; fi
  if [ -d "$RUN_DIR" ]; then
    find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  fi
  say "deleted the cluster, logs and password in $(rel "$RUN_DIR")"
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

BINDIR=""
PORT="$DEFAULT_PORT"
case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  psql) shift; cmd_psql "$@" ;;
  reset) cmd_reset ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
