#!/usr/bin/env bash
# hooks_callgrind.sh - instructions per published message for publish authorization by grants or
# by cached authorize answers, against no hooks at all: the broker under valgrind's callgrind,
# the hook server (bench/hooks_server.py) outside it. Instruction counts do not depend on the
# load of the machine, so this is the robust form of hooks.sh's scenario 2 on a shared machine.
#
# Per variant: a baseline run that only connects and subscribes (--count 0) and a run of N
# QoS 1 messages, 1 publisher -> 1 subscriber; Ir per message = (Ir(run) - Ir(baseline)) / N,
# all broker threads (workers, the hooks loop, gRPC's threads) together.
#   none     no hooks section
#   grants   Authenticate answers carry grants; publishes are checked against them locally
#   cache    Authenticate allows without grants; an authorize hook answers with a cache TTL
#            of 600 s, so only the first publishes of a topic are calls
#   on_publish  no authentication hook; a trivial on_publish hook on '#' (every message is a
#            call on the MessageHooks stream): the broker's side of it, not the server's
#
# usage: bench/hooks_callgrind.sh [-n MESSAGES] [-o DIR]   (default 20000)
# environment: as bench/hooks.sh; VARIANTS (none grants cache on_publish).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
pick() { [ -x "$ROOT/build/$1" ] && echo "$ROOT/build/$1" || echo "$ROOT/build-bench/$1"; }
HOOKMQ_BIN=${HOOKMQ_BIN:-$(pick hookmq)}
HMQ_BENCH=${HMQ_BENCH:-$(pick hmq-bench)}
SDK_PY=${SDK_PY:-$ROOT/sdk-python/.venv/bin/python}
WORKERS=${WORKERS:-$(nproc)}
COUNT=20000
OUT=""
while getopts "n:o:h" opt; do
  case $opt in
    n) COUNT=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/hooks-callgrind-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "hooks_callgrind.sh: valgrind is not installed" >&2; exit 1; }

BROKER_PID="" HOOKS_PID=""
cleanup() {
  for p in $BROKER_PID $HOOKS_PID; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
  $SDK_PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() { # VARIANT RUN
  local tag=$1-$2 hooks="" args=()
  case $1 in
    grants) args=(--auth grants) ;;
    cache) args=(--auth allow --authorize 600) ;;
    on_publish) args=(--on-publish '#') ;;
  esac
  if [ ${#args[@]} -gt 0 ]; then
    rm -f "$OUT/fifo"
    mkfifo "$OUT/fifo"
    "$SDK_PY" "$ROOT/bench/hooks_server.py" "${args[@]}" --stats "$OUT/hooks-$tag.stats" \
      <"$OUT/fifo" >"$OUT/hooks-$tag.out" 2>&1 &
    HOOKS_PID=$!
    exec 7>"$OUT/fifo"
    for _ in $(seq 100); do grep -q '^PORT' "$OUT/hooks-$tag.out" && break; sleep 0.1; done
    hooks="hooks: {endpoints: \"127.0.0.1:$(awk '/^PORT/{print $2}' "$OUT/hooks-$tag.out")\", mandatory: true, authenticate_deadline_ms: 5000}"
  fi
  PORT=$(free_port)
  cat >"$OUT/broker-$tag.yaml" <<EOF
broker: {workers: $WORKERS, sys_interval: 0}
listeners: [{name: default, type: tcp, bind: 127.0.0.1, port: $PORT}]
limits: {max_inflight: 1000, max_queued: 1000000}
log: {level: info}
$hooks
EOF
  valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$tag.out" --dump-instr=no \
    "$HOOKMQ_BIN" --config "$OUT/broker-$tag.yaml" 2>"$OUT/broker-$tag.log" &
  BROKER_PID=$!
  local ready="msg=listening"
  [ -n "$hooks" ] && ready="msg=hook_handshake"
  for _ in $(seq 600); do
    grep -q "$ready" "$OUT/broker-$tag.log" && return 0
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "hooks_callgrind.sh: broker did not start, see $OUT/broker-$tag.log" >&2
  return 1
}

stop() {
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
  if [ -n "$HOOKS_PID" ]; then
    kill -TERM "$HOOKS_PID" 2>/dev/null || true
    exec 7>&-
    wait "$HOOKS_PID" 2>/dev/null || true
    HOOKS_PID=""
  fi
}

total_ir() { awk '/^(summary|totals):/ {print $2; exit}' "$1" 2>/dev/null || echo 0; }

RESULTS=$OUT/results.txt
: >"$RESULTS"
echo "# $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg), $COUNT QoS 1 messages" |
  tee -a "$RESULTS"
for var in ${VARIANTS:-none grants cache on_publish}; do
  for run in base msgs; do
    n=0
    [ "$run" = msgs ] && n=$COUNT
    start "$var" "$run" || continue
    "$HMQ_BENCH" pubsub --pubs 1 --subs 1 --qos 1 --window 100 --count "$n" --port "$PORT" \
      --topic-prefix bench/p --connect-timeout 120 --drain 60 --drain-idle 5 \
      >>"$OUT/summary.txt" 2>&1 || true
    stop
    echo "$var $run $(total_ir "$OUT/callgrind.$var-$run.out")" | tee -a "$RESULTS"
  done
done
echo
echo "| variant | Ir baseline | Ir with $COUNT messages | Ir per message | + vs none |"
echo "|---|---:|---:|---:|---:|"
awk -v n="$COUNT" '
  /^#/ {next}
  {ir[$1 " " $2] = $3; if (!($1 in seen)) {seen[$1] = 1; order[++k] = $1}}
  END {
    for (i = 1; i <= k; i++) {
      v = order[i]; per = (ir[v " msgs"] - ir[v " base"]) / n
      if (i == 1) ref = per
      printf "| %s | %d | %d | %.0f | %+.0f |\n", v, ir[v " base"], ir[v " msgs"], per, per - ref
    }
  }' "$RESULTS" | tee "$OUT/table.md"
