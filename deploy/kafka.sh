#!/usr/bin/env bash
# Single-node Apache Kafka 4.x (KRaft, combined broker + controller) from Maven Central jars. No Docker.
#
#   deploy/kafka.sh fetch          download the broker jars into deploy/kafka/libs (skipped when present)
#   deploy/kafka.sh start          fetch if needed, format storage once, start the broker in the background
#   deploy/kafka.sh stop           SIGTERM, wait up to KAFKA_STOP_TIMEOUT s (60), then SIGKILL
#   deploy/kafka.sh status         exit 0 if the broker runs and its port answers (1: not answering, 3: stopped)
#   deploy/kafka.sh wait [SECS]    block until the broker answers a metadata request (default 120 s)
#   deploy/kafka.sh reset          stop and delete all data, logs and generated config
#   deploy/kafka.sh logs [-f]      show (or follow) the broker log
#   deploy/kafka.sh cluster start|wait|stop [N]|kill N|status|bootstrap|reset
#                                  KAFKA_NODES (3) nodes on loopback, each broker + controller, replication factor 3,
#                                  min.insync.replicas 2 (producers use acks=all); node i on KAFKA_CLUSTER_PORT (19092)
#                                  + 2(i-1), its controller on the next port; state in KAFKA_CLUSTER_DIR
#                                  (.run/kafka-cluster/node-i); `bootstrap` prints the host:port list for HUB_KAFKA_BOOTSTRAP
#
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HEAP_OPTS ("-Xms256m -Xmx512m"), KAFKA_OPTS (extra
#      JVM flags), KAFKA_WAIT_TIMEOUT (120), KAFKA_STOP_TIMEOUT (60), KAFKA_PYTHON (interpreter with kafka-python for
#      `wait`; default .venv/bin/python when it can import kafka), JAVA (java).
#      Without KAFKA_PORT, the ports of the last start in this checkout are reused (.run/kafka/ports) until reset.
#      KAFKA_RUN_DIR (.run/kafka) puts a broker's whole state elsewhere (tests run their own brokers this way).
# State: everything the broker writes lives in .run/kafka/ at the repo root (data/, kafka.log, kafka.pid, ports,
#        server.properties rendered from deploy/kafka/server.properties.in, cluster-id).
set -euo pipefail

HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd -- "$HERE/.." && pwd -P)"
KDIR="$HERE/kafka"
LIBS="$KDIR/libs"
RUN_DIR="${KAFKA_RUN_DIR:-$ROOT/.run/kafka}"
DATA_DIR="$RUN_DIR/data"
LOG_FILE="$RUN_DIR/kafka.log"
PID_FILE="$RUN_DIR/kafka.pid"
PROPS="$RUN_DIR/server.properties"
LOCK_FILE="$RUN_DIR/.lock"
PORTS_FILE="$RUN_DIR/ports"

KAFKA_HOST=127.0.0.1
# Env wins, else the ports of the last start in this checkout (until `reset`), else the defaults.
if [ -z "${KAFKA_PORT:-}" ] && [ -s "$PORTS_FILE" ]; then
  read -r KAFKA_PORT _saved_controller_port <"$PORTS_FILE" || true
  KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$_saved_controller_port}"
fi
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_OPTS="${KAFKA_OPTS:-}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"
JAVA="${JAVA:-java}"
KAFKA_VERSION="$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$KDIR/pom.xml")"
LOG4J_OPT="-Dlog4j2.configurationFile=$KDIR/log4j2.properties"

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }
rel() { printf '%s' "${1#"$ROOT"/}"; }

[ -n "$KAFKA_VERSION" ] || die "cannot read <kafka.version> from $KDIR/pom.xml"
[[ "$KAFKA_PORT" =~ ^[0-9]+$ && "$KAFKA_CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_PORT / KAFKA_CONTROLLER_PORT must be numbers"
[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

# One start/stop/reset/fetch at a time (e.g. parallel test sessions). The broker must not inherit fd 9.
LOCKED=0
take_lock() {
  [ "$LOCKED" = 1 ] && return 0
  mkdir -p "$RUN_DIR"
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "another deploy/kafka.sh holds $(rel "$LOCK_FILE") for > 300 s"
  LOCKED=1
}

# True if a TCP connect to host:port succeeds within 1 s.
port_open() {
  python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)' "$1" "$2" 2>/dev/null
}

# Live (non-zombie) process?
alive() {
  local pid="$1" state
  [ -r "/proc/$pid/stat" ] || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Print the broker pid if the pid file points at our live broker (guards against stale files / pid reuse).
running_pid() {
  local pid cmdline
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"kafka.Kafka $PROPS"* ]] || return 1
  printf '%s\n' "$pid"
}

libs_ok() {
  [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && compgen -G "$LIBS/log4j-core-*.jar" >/dev/null
}

jar_has() { # jar, entry
  # (no `unzip -l | grep -q`: grep quitting early SIGPIPEs unzip, which pipefail turns into a failure)
  if command -v unzip >/dev/null; then unzip -l "$1" "$2" >/dev/null 2>&1
  else python3 -c 'import sys, zipfile; sys.exit(sys.argv[2] not in zipfile.ZipFile(sys.argv[1]).namelist())' "$1" "$2"
  fi
}

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+: apt-get install -y openjdk-17-jre-headless)"
  local v
  v="$("$JAVA" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')"
  if [ -z "$v" ] || [ "$v" -lt 17 ]; then
    die "Kafka $KAFKA_VERSION needs Java 17+, found: $("$JAVA" -version 2>&1 | head -n 1)"
  fi
}

tail_log() {
  [ -f "$LOG_FILE" ] || return 0
  printf 'kafka: --- last lines of %s ---\n' "$(rel "$LOG_FILE")" >&2
  tail -n 25 "$LOG_FILE" >&2
}

cmd_fetch() {
  take_lock
  if libs_ok; then
    say "jars for Kafka $KAFKA_VERSION already in $(rel "$LIBS") ($(find "$LIBS" -name '*.jar' | wc -l) jars), skipping fetch"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  local tmp="$RUN_DIR/libs.tmp" t0=$SECONDS
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $(rel "$LIBS") ..."
  rm -rf "$tmp"
  # -q still prints bare ANSI resets on stdout (Debian's mvn 3.8): strip them and blank lines, keep real errors
  if ! (cd "$KDIR" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime 2>&1) |
    sed -e $'s/\033\\[[0-9;]*m//g' -e '/^[[:space:]]*$/d'; then
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed"
  fi
  jar_has "$tmp/kafka_2.13-$KAFKA_VERSION.jar" kafka/tools/StorageTool.class \
    || { rm -rf "$tmp"; die "kafka.tools.StorageTool not found in kafka_2.13-$KAFKA_VERSION.jar"; }
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

# Replace the value of an existing `key=value` line (the key must be in the template).
set_prop() { # text, key, value
  grep -q "^$2=" <<<"$1" || die "set_prop: $2 is not in server.properties.in"
  awk -v k="$2" -v v="$3" 'index($0, k "=") == 1 { print k "=" v; next } { print }' <<<"$1"
}

render_props() {
  local tpl="$KDIR/server.properties.in" out
  shopt -u patsub_replacement 2>/dev/null || true # bash 5.2: '&' in a replacement must stay literal
  out="$(<"$tpl")"
  out="${out//@KAFKA_HOST@/$KAFKA_HOST}"
  out="${out//@KAFKA_PORT@/$KAFKA_PORT}"
  out="${out//@KAFKA_CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT}"
  out="${out//@KAFKA_DATA_DIR@/$DATA_DIR}"
  # Cluster nodes (cmd_cluster): own node id, the shared voter list, replication 3 / min ISR 2.
  if [ -n "${KAFKA_NODE_ID:-}" ]; then out="$(set_prop "$out" node.id "$KAFKA_NODE_ID")"; fi
  if [ -n "${KAFKA_QUORUM_VOTERS:-}" ]; then out="$(set_prop "$out" controller.quorum.voters "$KAFKA_QUORUM_VOTERS")"; fi
  if [ -n "${KAFKA_REPLICATION:-}" ]; then
    local key isr=$((KAFKA_REPLICATION > 2 ? 2 : KAFKA_REPLICATION))
    for key in offsets.topic.replication.factor transaction.state.log.replication.factor \
      share.coordinator.state.topic.replication.factor default.replication.factor; do
      out="$(set_prop "$out" "$key" "$KAFKA_REPLICATION")"
    done
    for key in transaction.state.log.min.isr share.coordinator.state.topic.min.isr min.insync.replicas; do
      out="$(set_prop "$out" "$key" "$isr")"
    done
  fi
  if grep -q '@[A-Z_]*@' <<<"$out"; then die "unreplaced placeholder in $tpl: $(grep -o '@[A-Z_]*@' <<<"$out" | head -n 1)"; fi
  printf '# GENERATED by deploy/kafka.sh from deploy/kafka/server.properties.in on %s - edit the template\n%s\n' \
    "$(date -Is)" "$out" >"$PROPS.tmp"
  mv "$PROPS.tmp" "$PROPS"
}

format_storage() {
  if [ -f "$DATA_DIR/meta.properties" ]; then return 0; fi
  if [ -d "$DATA_DIR" ] && [ -n "$(ls -A "$DATA_DIR")" ]; then
    die "$(rel "$DATA_DIR") is not empty but has no meta.properties; run 'deploy/kafka.sh reset' to start over"
  fi
  local cid="${KAFKA_CLUSTER_ID:-}"
  [ -n "$cid" ] || cid="$("$JAVA" -Xmx128m "$LOG4J_OPT" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE" | tail -n 1)"
  [[ "$cid" =~ ^[A-Za-z0-9_-]{22}$ ]] || { tail_log; die "StorageTool random-uuid gave '$cid'"; }
  say "formatting storage in $(rel "$DATA_DIR") (cluster id $cid, static quorum) ..."
  if ! "$JAVA" -Xmx256m "$LOG4J_OPT" -cp "$LIBS/*" kafka.tools.StorageTool format -t "$cid" -c "$PROPS" >>"$LOG_FILE" 2>&1; then
    tail_log
    rm -rf "$DATA_DIR"
    die "storage format failed"
  fi
  printf '%s\n' "$cid" >"$RUN_DIR/cluster-id"
}

cmd_start() {
  take_lock
  local pid
  if pid="$(running_pid)"; then
    local cur_port="" _cp
    [ -s "$PORTS_FILE" ] && read -r cur_port _cp <"$PORTS_FILE"
    if [ -n "$cur_port" ] && [ "$cur_port" != "$KAFKA_PORT" ]; then
      die "already running (pid $pid) on port $cur_port, not KAFKA_PORT=$KAFKA_PORT; run 'deploy/kafka.sh stop' first"
    fi
    say "already running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT - nothing to do"
    return 0
  fi
  rm -f "$PID_FILE"
  check_java
  libs_ok || cmd_fetch
  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$KAFKA_HOST" "$port"; then
      die "$KAFKA_HOST:$port is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    fi
  done
  render_props
  printf '%s %s\n' "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" >"$PORTS_FILE"
  format_storage

  local -a heap extra
  read -r -a heap <<<"$KAFKA_HEAP_OPTS"
  read -r -a extra <<<"$KAFKA_OPTS"
  local -a cmd=("$JAVA" "${heap[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15
    -Djava.awt.headless=true "$LOG4J_OPT" ${extra[@]+"${extra[@]}"} -cp "$LIBS/*" kafka.Kafka "$PROPS")
  printf '\n===== %s deploy/kafka.sh start: Kafka %s on %s:%s =====\n' \
    "$(date -Is)" "$KAFKA_VERSION" "$KAFKA_HOST" "$KAFKA_PORT" >>"$LOG_FILE"
  # New session (setsid) so the broker outlives this shell and its process group; the child writes its own
  # pid (then execs java) so the pid file is right whatever setsid/nohup do about forking.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner bash
  (cd "$RUN_DIR" && exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" "${cmd[@]}" \
    >>"$LOG_FILE" 2>&1 </dev/null 9>&-) &

  local deadline=$((SECONDS + 10))
  pid=""
  while [ $SECONDS -lt $deadline ]; do
    pid="$(running_pid || true)"
    [ -n "$pid" ] && break
    sleep 0.2
  done
  [ -n "$pid" ] || { tail_log; die "broker did not start (no live kafka.Kafka process after 10 s)"; }
  # Catch early deaths (bad config, port race) before claiming success.
  deadline=$((SECONDS + 3))
  while [ $SECONDS -lt $deadline ]; do
    alive "$pid" || { tail_log; rm -f "$PID_FILE"; die "broker exited during startup"; }
    port_open "$KAFKA_HOST" "$KAFKA_PORT" && break
    sleep 0.5
  done
  say "started (pid $pid) on $KAFKA_HOST:$KAFKA_PORT, controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT, log $(rel "$LOG_FILE")"
  say "run 'deploy/kafka.sh wait' to block until it serves metadata"
}

cmd_stop() {
  take_lock
  local pid t0=$SECONDS
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  say "stopping (pid $pid, SIGTERM, up to ${KAFKA_STOP_TIMEOUT} s) ..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while alive "$pid"; do
    if [ $SECONDS -ge $deadline ]; then
      say "still running after ${KAFKA_STOP_TIMEOUT} s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      local k=0
      while alive "$pid" && [ $k -lt 50 ]; do sleep 0.2; k=$((k + 1)); done
      alive "$pid" && die "pid $pid survived SIGKILL"
      break
    fi
    sleep 0.25
  done
  rm -f "$PID_FILE"
  say "stopped in $((SECONDS - t0)) s"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
      say "running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT, data $(rel "$DATA_DIR")"
      return 0
    fi
    say "process running (pid $pid) but $KAFKA_HOST:$KAFKA_PORT does not answer (still starting?)"
    return 1
  fi
  say "not running"
  return 3
}

# Python with kafka-python for the metadata check, or empty.
pick_python() {
  local py
  for py in "${KAFKA_PYTHON:-}" "$ROOT/.venv/bin/python"; do
    if [ -z "$py" ] || [ ! -x "$py" ]; then continue; fi
    if "$py" -c 'import kafka.admin' 2>/dev/null; then printf '%s\n' "$py"; return 0; fi
  done
  return 1
}

# Exit 0 = ready, 3 = not ready yet (retry), 4 = the check itself is broken (no point retrying).
METADATA_CHECK='import sys
try:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError
except ImportError as e:
    sys.exit(print("cannot import kafka-python:", e) or 4)
opts = {"bootstrap_servers": sys.argv[1], "client_id": "svh-kafka-wait", "request_timeout_ms": 5000}
for key in ("bootstrap_timeout_ms", "api_version_auto_timeout_ms"):  # kafka-python 3.x / 2.x spelling
    if key in KafkaAdminClient.DEFAULT_CONFIG:
        opts[key] = 5000
try:
    admin = KafkaAdminClient(**opts)
    try:
        cluster = admin.describe_cluster()
        topics = admin.list_topics()
    finally:
        admin.close()
except (KafkaConfigurationError, TypeError, AttributeError) as e:
    sys.exit(print("metadata check is broken:", repr(e)) or 4)
except Exception as e:
    sys.exit(print("not ready:", repr(e)) or 3)
brokers = cluster.get("brokers") or []
if not brokers:
    sys.exit(print("not ready: metadata has no brokers yet") or 3)
print("cluster_id=%s brokers=%d topics=%d" % (cluster.get("cluster_id"), len(brokers), len(topics)))'

cmd_wait() {
  local timeout="${1:-${KAFKA_WAIT_TIMEOUT:-120}}" t0=$SECONDS py="" out="" had_pid=0
  [[ "$timeout" =~ ^[0-9]+$ ]] || die "wait: timeout must be whole seconds, got '$timeout'"
  local deadline=$((SECONDS + timeout))
  [ -f "$PID_FILE" ] && had_pid=1
  say "waiting up to ${timeout} s for $KAFKA_HOST:$KAFKA_PORT ..."
  until port_open "$KAFKA_HOST" "$KAFKA_PORT"; do
    # our broker died: fail now rather than at the deadline (no pid file = maybe a broker we did not start)
    if [ $had_pid = 1 ] && ! running_pid >/dev/null; then tail_log; die "broker process is not running"; fi
    [ $SECONDS -lt $deadline ] || { tail_log; die "port $KAFKA_PORT not open after ${timeout} s"; }
    sleep 0.5
  done
  if ! py="$(pick_python)"; then
    say "port open after $((SECONDS - t0)) s (no python with kafka-python in .venv/KAFKA_PYTHON: port check only)"
    return 0
  fi
  while :; do
    local rc=0
    out="$(timeout 20 "$py" -c "$METADATA_CHECK" "$KAFKA_HOST:$KAFKA_PORT" 2>&1)" || rc=$?
    if [ $rc = 0 ]; then
      say "ready after $((SECONDS - t0)) s: $(tail -n 1 <<<"$out")"
      return 0
    fi
    [ $rc != 4 ] || die "$(tail -n 1 <<<"$out") ($py)"
    if [ $had_pid = 1 ] && ! running_pid >/dev/null; then tail_log; die "broker process is not running"; fi
    if [ $SECONDS -ge $deadline ]; then
      printf '%s\n' "$out" | tail -n 5 >&2
      die "broker did not answer a metadata request within ${timeout} s"
    fi
    sleep 1
  done
}

cmd_reset() {
  take_lock
  cmd_stop
  if [ -d "$RUN_DIR" ]; then
    find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  fi
  say "deleted data, logs and config in $(rel "$RUN_DIR") (jars in $(rel "$LIBS") kept)"
}

cmd_logs() {
  [ -f "$LOG_FILE" ] || die "no log yet at $(rel "$LOG_FILE")"
  if [ "${1:-}" = "-f" ]; then exec tail -n 100 -F "$LOG_FILE"; fi
  tail -n "${1:-100}" "$LOG_FILE"
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# --- a cluster of KAFKA_NODES (3) combined broker+controller nodes on loopback: replication 3, min ISR 2 ---
# Node i listens on KAFKA_CLUSTER_PORT + 2(i-1) (broker) and the next port (controller); state in
# KAFKA_CLUSTER_DIR/node-i. Each node is this script's single-node `start` with the cluster's settings.
CLUSTER_DIR="${KAFKA_CLUSTER_DIR:-$ROOT/.run/kafka-cluster}"
CLUSTER_PORT="${KAFKA_CLUSTER_PORT:-19092}"
NODES="${KAFKA_NODES:-3}"

node_port() { printf '%s' $((CLUSTER_PORT + 2 * ($1 - 1))); }

node() { # i, command...
  local i="$1"
  shift
  local voters="" j
  for j in $(seq 1 "$NODES"); do voters="${voters:+$voters,}$j@$KAFKA_HOST:$(($(node_port "$j") + 1))"; done
  KAFKA_RUN_DIR="$CLUSTER_DIR/node-$i" KAFKA_PORT="$(node_port "$i")" KAFKA_CONTROLLER_PORT="$(($(node_port "$i") + 1))" \
    KAFKA_NODE_ID="$i" KAFKA_QUORUM_VOTERS="$voters" KAFKA_REPLICATION="$NODES" \
    KAFKA_CLUSTER_ID="$(cat "$CLUSTER_DIR/cluster-id" 2>/dev/null || true)" bash "${BASH_SOURCE[0]}" "$@"
}

cmd_cluster() {
  local action="${1:-}" which="${2:-}" i rc=0 list=""
  [[ "$NODES" =~ ^[1-9]$ ]] || die "KAFKA_NODES must be 1-9"
  [[ "$CLUSTER_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_CLUSTER_PORT must be a number"
  local nodes
  nodes="$(seq 1 "$NODES")"
  [ -z "$which" ] || nodes="$which"
  case "$action" in
    start)
      libs_ok || cmd_fetch
      mkdir -p "$CLUSTER_DIR"
      if [ ! -s "$CLUSTER_DIR/cluster-id" ]; then
        check_java
        "$JAVA" -Xmx128m "$LOG4J_OPT" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 \
          >"$CLUSTER_DIR/cluster-id"
      fi
      # in parallel: each node's start is mostly JVM start-up (storage format, then the broker)
      local -a pids=()
      for i in $nodes; do node "$i" start & pids+=("$!"); done
      for i in "${pids[@]}"; do wait "$i" || rc=1; done
      [ "$rc" = 0 ] || die "a node did not start (see $(rel "$CLUSTER_DIR")/node-*/kafka.log)"
      say "cluster of $NODES on $(cmd_cluster bootstrap) (replication $NODES, min ISR $((NODES > 2 ? 2 : NODES)))" ;;
    wait)
      local -a pids=()
      for i in $nodes; do node "$i" wait "${KAFKA_WAIT_TIMEOUT:-120}" & pids+=("$!"); done
      for i in "${pids[@]}"; do wait "$i" || rc=1; done
      [ "$rc" = 0 ] || die "a node did not become ready" ;;
    stop) for i in $nodes; do node "$i" stop; done ;;
    kill) # SIGKILL one node (fault tests): a crash, not a controlled shutdown
      [ -n "$which" ] || die "cluster kill needs a node number"
      local pid
      pid="$(cat "$CLUSTER_DIR/node-$which/kafka.pid" 2>/dev/null || true)"
      [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || die "node $which is not running"
      kill -KILL "$pid"
      say "node $which (pid $pid) killed" ;;
    status) for i in $nodes; do node "$i" status || rc=$?; done; return "$rc" ;;
    bootstrap)
      for i in $(seq 1 "$NODES"); do list="${list:+$list,}$KAFKA_HOST:$(node_port "$i")"; done
      printf '%s\n' "$list" ;;
    reset) # the data goes too, so no controlled shutdown (which waits on the quorum as nodes leave)
      local pid
      for i in $(seq 1 "$NODES"); do
        pid="$(cat "$CLUSTER_DIR/node-$i/kafka.pid" 2>/dev/null || true)"
        if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then kill -KILL "$pid"; fi
      done
      rm -rf "$CLUSTER_DIR"
      say "deleted $(rel "$CLUSTER_DIR")" ;;
    *) die "cluster: start|wait|stop [N]|kill N|status|bootstrap|reset" ;;
  esac
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wait) cmd_wait "${2:-}" ;;
  reset) cmd_reset ;;
  logs) cmd_logs "${2:-}" ;;
  cluster) cmd_cluster "${2:-}" "${3:-}" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
