# lib.sh - what the bench/ scripts share: where the binaries are, a free loopback port, starting a
# broker (or the hook server) and waiting until it is ready, stopping it by its PID, killing what
# is left when a script ends, the load average, CPU time of a process, the common broker
# configurations and throw-away TLS certificates. Sourced (`. "$(dirname "$0")/lib.sh"`) by
# compare.sh, callgrind.sh, tls.sh, tls_qos1.sh, hooks.sh, hooks_callgrind.sh and
# hooks_profile.sh; it defines functions and ROOT only, and starts nothing by itself.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# bench_bin NAME: build/NAME if it is executable, else build-bench/NAME (the Release build).
bench_bin() { [ -x "$ROOT/build/$1" ] && echo "$ROOT/build/$1" || echo "$ROOT/build-bench/$1"; }

# bench_defaults: MOSQUITTO_BIN, HMQ_BENCH, SDK_PY (the Python SDK's venv, for the hook server)
# and WORKERS (hookmq workers), each unless the environment sets it. HOOKMQ_BIN is the scripts'
# own: compare.sh and callgrind.sh want build/hookmq or nothing ("pending"), the hooks scripts
# take build-bench/hookmq too.
bench_defaults() {
  MOSQUITTO_BIN=${MOSQUITTO_BIN:-/usr/sbin/mosquitto}
  HMQ_BENCH=${HMQ_BENCH:-$(bench_bin hmq-bench)}
  SDK_PY=${SDK_PY:-$ROOT/sdk-python/.venv/bin/python}
  WORKERS=${WORKERS:-$(nproc)}
}

# bench_usage: the script's leading comment block (after the #! line), without the "# ".
bench_usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0" | sed 's/^# \{0,1\}//'; }

# bench_python: the interpreter for the small helpers below (any Python 3 will do).
bench_python() { [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3; }

# bench_free_port: a loopback TCP port nobody listens on right now.
bench_free_port() {
  "$(bench_python)" -c \
    'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# loadavg: the 1-minute load average; loadavg3: the 1-, 5- and 15-minute ones.
loadavg() { cut -d' ' -f1 /proc/loadavg; }
loadavg3() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_machine: one comment line naming the time, the CPUs and their model.
bench_machine() {
  echo "# $(date -u +%FT%TZ) on $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

# cpu_of PID: CPU seconds (utime + stime, all threads) of a process; 0 once it is gone.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# bench_wait_log PID LOG REGEX [TRIES]: wait (0.1 s steps, TRIES of them: 100) until LOG matches
# the extended REGEX. Fails, with LOG's last lines on stderr, if PID exits first or time runs out.
bench_wait_log() {
  local pid=$1 log=$2 ready=$3 tries=${4:-100}
  for _ in $(seq "$tries"); do
    grep -Eq "$ready" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "${0##*/}: not ready (no /$ready/), see $log" >&2
  tail -5 "$log" >&2 2>/dev/null || true
  return 1
}

# bench_wait_port PID PORT [TRIES]: wait (0.05 s steps, TRIES of them: 100) until 127.0.0.1:PORT
# accepts a connection; fails if PID exits first or time runs out.
bench_wait_port() {
  local pid=$1 port=$2 tries=${3:-100}
  for _ in $(seq "$tries"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "${0##*/}: nothing listens on port $port" >&2
  return 1
}

# bench_start LOG REGEX TRIES COMMAND...: COMMAND in the background with stderr to LOG, then
# bench_wait_log. Sets BROKER_PID (also when it fails: stop it with bench_stop).
bench_start() {
  local log=$1 ready=$2 tries=$3
  shift 3
  "$@" 2>"$log" &
  BROKER_PID=$!
  bench_wait_log "$BROKER_PID" "$log" "$ready" "$tries"
}

# bench_stop PID [TRIES]: SIGTERM, up to TRIES x 0.1 s (50) for it to exit (callgrind needs a while
# to write its file), then SIGKILL; reaps it. Nothing happens for an empty PID.
bench_stop() {
  local pid=$1 tries=${2:-50}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq "$tries"); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# bench_kill PID...: SIGKILL and reap, for the exit trap.
bench_kill() {
  local p
  for p in "$@"; do
    [ -n "$p" ] || continue
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

# bench_kill_on_exit VAR...: when the script exits, however it exits, SIGKILL the processes whose
# PIDs these variables hold at that moment, then run BENCH_ON_EXIT (if set: e.g. removing a
# temporary directory). SIGINT and SIGTERM end the script with status 130.
bench_kill_on_exit() {
  BENCH_EXIT_VARS="$*"
  trap bench_on_exit_ EXIT
  trap 'exit 130' INT TERM
}
bench_on_exit_() {
  local v
  for v in $BENCH_EXIT_VARS; do bench_kill "${!v:-}"; done
  [ -z "${BENCH_ON_EXIT:-}" ] || eval "$BENCH_ON_EXIT"
}

# hookmq_config PORT: the broker configuration every plain-TCP run uses (WORKERS workers, the
# in-flight and queue limits of docs/benchmarks.md); callers append their own lines (hooks: ...).
hookmq_config() {
  cat <<EOF
broker: {workers: ${WORKERS:-$(nproc)}, sys_interval: 0}
listeners: [{name: default, type: tcp, bind: 127.0.0.1, port: $1}]
limits: {max_inflight: 1000, max_queued: 1000000}
log: {level: info}
EOF
}

# mosquitto_config PORT [QUOTA [NODELAY]]: mosquitto's counterpart (in-flight quota 1000, Nagle
# off); QUOTA and NODELAY put its defaults back (20, false) for compare.sh's EXTRA runs.
mosquitto_config() {
  cat <<EOF
listener $1 127.0.0.1
allow_anonymous true
max_inflight_messages ${2:-1000}
max_queued_messages 1000000
set_tcp_nodelay ${3:-true}
sys_interval 0
persistence false
EOF
}

# The lines the brokers log once they listen on PORT (extended regexes, for bench_wait_log).
hookmq_ready() { echo "msg=listening.*port=$1"; }
MOSQUITTO_READY="mosquitto version .* running"

# hooks_start DIR TAG ARGS...: bench/hooks_server.py ARGS (with SDK_PY, under `nice -n HOOKS_NICE`
# if that is set), counters to DIR/hooks-TAG.stats (HOOKS_STATS), stdout DIR/hooks-TAG.out,
# stderr DIR/hooks-TAG.err. Its stdin is a FIFO held open on descriptor 7, so the server also
# ends when this script does. Waits for its "PORT n" line; sets HOOKS_PID and HOOKS_PORT.
hooks_start() {
  local dir=$1 tag=$2
  shift 2
  HOOKS_STATS=$dir/hooks-$tag.stats
  : >"$HOOKS_STATS"
  rm -f "$dir/hooks.fifo"
  mkfifo "$dir/hooks.fifo"
  ${HOOKS_NICE:+nice -n "$HOOKS_NICE"} "$SDK_PY" "$ROOT/bench/hooks_server.py" \
    --stats "$HOOKS_STATS" "$@" <"$dir/hooks.fifo" >"$dir/hooks-$tag.out" 2>"$dir/hooks-$tag.err" &
  HOOKS_PID=$!
  exec 7>"$dir/hooks.fifo"
  for _ in $(seq 100); do
    HOOKS_PORT=$(awk '/^PORT/{print $2}' "$dir/hooks-$tag.out")
    [ -n "$HOOKS_PORT" ] && return 0
    kill -0 "$HOOKS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "${0##*/}: hook server did not start, see $dir/hooks-$tag.err" >&2
  return 1
}

# hooks_stop: SIGTERM to the hook server, close its stdin, up to 5 s, then SIGKILL.
hooks_stop() {
  [ -n "${HOOKS_PID:-}" ] || return 0
  kill -TERM "$HOOKS_PID" 2>/dev/null || true
  exec 7>&-
  bench_stop "$HOOKS_PID"
  HOOKS_PID=""
}

# callgrind_total_ir FILE: the total instructions callgrind wrote (0 without a file).
callgrind_total_ir() {
  [ -f "$1" ] || { echo 0; return; }
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

bench_openssl() { openssl "$@" >/dev/null 2>&1; }

# bench_certs DIR [client]: a CA and a server certificate (ECDSA P-256, SAN localhost and
# 127.0.0.1) in DIR, and with "client" a client certificate: ca.crt, server.{crt,key},
# client.{crt,key}.
bench_certs() {
  local dir=$1 n names=server
  [ "${2:-}" = client ] && names="server client"
  bench_openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  bench_openssl req -x509 -new -key "$dir/ca.key" -days 2 -subj /CN=bench-ca -out "$dir/ca.crt"
  for n in $names; do
    bench_openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$n.key"
    bench_openssl req -new -key "$dir/$n.key" -subj "/CN=$n" -out "$dir/$n.csr"
  done
  printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" >"$dir/san.ext"
  bench_openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/san.ext" -out "$dir/server.crt"
  if [ "${2:-}" = client ]; then
    bench_openssl x509 -req -in "$dir/client.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 2 -out "$dir/client.crt"
  fi
}
