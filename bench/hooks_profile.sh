#!/usr/bin/env bash
# hooks_profile.sh - where the broker's CPU goes when every message passes an on_publish hook:
# `perf record` on the broker (all threads) during hooks.sh's scenario 5 load (10 -> 10 pairs,
# QoS 1, max rate, bench/hooks_server.py --on-publish '#'), then the flat profile by shared
# object and by symbol. Also the same load without hooks, for comparison.
#
# usage: bench/hooks_profile.sh [-d SECONDS] [-o DIR] [-n]   (-n: skip the run without hooks)
# environment: as bench/hooks.sh; PERF (perf), PERF_FREQ (sampling Hz, 2999).
# Needs perf with permission to profile the broker (root, or perf_event_paranoid <= 1).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
pick() { [ -x "$ROOT/build/$1" ] && echo "$ROOT/build/$1" || echo "$ROOT/build-bench/$1"; }
HOOKMQ_BIN=${HOOKMQ_BIN:-$(pick hookmq)}
HMQ_BENCH=${HMQ_BENCH:-$(pick hmq-bench)}
SDK_PY=${SDK_PY:-$ROOT/sdk-python/.venv/bin/python}
PERF=${PERF:-perf}
PERF_FREQ=${PERF_FREQ:-2999}
D=8
OUT=""
NOHOOKS=1
while getopts "d:o:nh" opt; do
  case $opt in
    d) D=$OPTARG ;;
    o) OUT=$OPTARG ;;
    n) NOHOOKS=0 ;;
    *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/hooks-profile-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

BROKER_PID="" HOOKS_PID="" LOAD_PID=""
cleanup() {
  for p in $LOAD_PID $BROKER_PID $HOOKS_PID; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
  $SDK_PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

profile() { # TAG with|without
  local tag=$1 hooks="" port
  HOOKS_PID=""
  if [ "$2" = with ]; then
    rm -f "$OUT/fifo-$tag"
    mkfifo "$OUT/fifo-$tag"
    "$SDK_PY" "$ROOT/bench/hooks_server.py" --on-publish '#' --stats "$OUT/hooks-$tag.stats" \
      <"$OUT/fifo-$tag" >"$OUT/hooks-$tag.out" 2>&1 &
    HOOKS_PID=$!
    exec 7>"$OUT/fifo-$tag"
    for _ in $(seq 100); do grep -q '^PORT' "$OUT/hooks-$tag.out" && break; sleep 0.1; done
    hooks="hooks: {endpoints: \"127.0.0.1:$(awk '/^PORT/{print $2}' "$OUT/hooks-$tag.out")\", mandatory: true}"
  fi
  port=$(free_port)
  cat >"$OUT/broker-$tag.yaml" <<EOF
broker: {workers: $(nproc), sys_interval: 0}
listeners: [{name: default, type: tcp, bind: 127.0.0.1, port: $port}]
limits: {max_inflight: 1000, max_queued: 1000000}
log: {level: info}
$hooks
EOF
  "$HOOKMQ_BIN" --config "$OUT/broker-$tag.yaml" 2>"$OUT/broker-$tag.log" &
  BROKER_PID=$!
  local ready="msg=listening"
  [ -n "$hooks" ] && ready="msg=hook_handshake"
  for _ in $(seq 100); do grep -q "$ready" "$OUT/broker-$tag.log" && break; sleep 0.1; done
  "$HMQ_BENCH" pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 1 --duration "$D" --port "$port" \
    --broker-pid "$BROKER_PID" >"$OUT/bench-$tag.txt" 2>&1 &
  LOAD_PID=$!
  sleep 1
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/perf-$tag.txt"
  "$PERF" record -q -F "$PERF_FREQ" -g -p "$BROKER_PID" -o "$OUT/perf-$tag.data" -- sleep "$((D - 2))" \
    2>>"$OUT/perf-$tag.err" || true
  wait "$LOAD_PID" || true
  LOAD_PID=""
  kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true; BROKER_PID=""
  if [ -n "$HOOKS_PID" ]; then
    kill -TERM "$HOOKS_PID"; exec 7>&-; wait "$HOOKS_PID" 2>/dev/null || true; HOOKS_PID=""
  fi
  {
    grep -E "sent|delivered|broker" "$OUT/bench-$tag.txt" || true
    for sort in dso comm dso,sym; do
      echo "--- by $sort (self)"
      "$PERF" report -i "$OUT/perf-$tag.data" --no-children --sort "$sort" --stdio -g none \
        2>/dev/null >"$OUT/report-$tag-$sort.txt" || true
      grep -v '^#' "$OUT/report-$tag-$sort.txt" | grep -v '^$' | sed -n 1,40p || true
    done
  } >>"$OUT/perf-$tag.txt"
  echo "== $tag: $OUT/perf-$tag.txt"
  cat "$OUT/perf-$tag.txt"
}

profile on_publish with
[ "$NOHOOKS" = 1 ] && profile none without
exit 0
