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

. "$(dirname "$0")/lib.sh"
bench_defaults
HOOKMQ_BIN=${HOOKMQ_BIN:-$(bench_bin hookmq)}
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
    *) bench_usage; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/hooks-profile-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

BROKER_PID="" HOOKS_PID="" LOAD_PID=""
bench_kill_on_exit LOAD_PID BROKER_PID HOOKS_PID

profile() { # TAG with|without
  local tag=$1 port ready
  port=$(bench_free_port)
  ready=$(hookmq_ready "$port")
  hookmq_config "$port" >"$OUT/broker-$tag.yaml"
  if [ "$2" = with ]; then
    hooks_start "$OUT" "$tag" --on-publish '#' || return 1
    echo "hooks: {endpoints: \"127.0.0.1:$HOOKS_PORT\", mandatory: true}" >>"$OUT/broker-$tag.yaml"
    ready="msg=hook_handshake"
  fi
  bench_start "$OUT/broker-$tag.log" "$ready" 100 "$HOOKMQ_BIN" --config "$OUT/broker-$tag.yaml" ||
    return 1
  "$HMQ_BENCH" pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 1 --duration "$D" --port "$port" \
    --broker-pid "$BROKER_PID" >"$OUT/bench-$tag.txt" 2>&1 &
  LOAD_PID=$!
  sleep 1
  echo "load average: $(loadavg3)" >"$OUT/perf-$tag.txt"
  "$PERF" record -q -F "$PERF_FREQ" -g -p "$BROKER_PID" -o "$OUT/perf-$tag.data" -- sleep "$((D - 2))" \
    2>>"$OUT/perf-$tag.err" || true
  wait "$LOAD_PID" || true
  LOAD_PID=""
  echo "load average after: $(loadavg3)" >>"$OUT/perf-$tag.txt"
  bench_stop "$BROKER_PID"
  BROKER_PID=""
  hooks_stop
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
