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

. "$(dirname "$0")/lib.sh"
bench_defaults
HOOKMQ_BIN=${HOOKMQ_BIN:-$(bench_bin hookmq)}
COUNT=20000
OUT=""
while getopts "n:o:h" opt; do
  case $opt in
    n) COUNT=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) bench_usage; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/hooks-callgrind-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "hooks_callgrind.sh: valgrind is not installed" >&2; exit 1; }

BROKER_PID="" HOOKS_PID=""
bench_kill_on_exit BROKER_PID HOOKS_PID

start() { # VARIANT RUN: hook server (if the variant has one) and the broker under callgrind
  local tag=$1-$2 ready args=()
  case $1 in
    grants) args=(--auth grants) ;;
    cache) args=(--auth allow --authorize 600) ;;
    on_publish) args=(--on-publish '#') ;;
  esac
  PORT=$(bench_free_port)
  ready=$(hookmq_ready "$PORT")
  hookmq_config "$PORT" >"$OUT/broker-$tag.yaml"
  if [ ${#args[@]} -gt 0 ]; then
    hooks_start "$OUT" "$tag" "${args[@]}" || return 1
    echo "hooks: {endpoints: \"127.0.0.1:$HOOKS_PORT\", mandatory: true, authenticate_deadline_ms: 5000}" \
      >>"$OUT/broker-$tag.yaml"
    ready="msg=hook_handshake"
  fi
  bench_start "$OUT/broker-$tag.log" "$ready" 600 valgrind --tool=callgrind \
    --callgrind-out-file="$OUT/callgrind.$tag.out" --dump-instr=no \
    "$HOOKMQ_BIN" --config "$OUT/broker-$tag.yaml"
}

stop() {
  bench_stop "$BROKER_PID" 600
  BROKER_PID=""
  hooks_stop
}

RESULTS=$OUT/results.txt
: >"$RESULTS"
echo "# $(date -u +%FT%TZ), load average $(loadavg3), $COUNT QoS 1 messages" |
  tee -a "$RESULTS"
for var in ${VARIANTS:-none grants cache on_publish}; do
  for run in base msgs; do
    n=0
    [ "$run" = msgs ] && n=$COUNT
    start "$var" "$run" || { stop; continue; }
    "$HMQ_BENCH" pubsub --pubs 1 --subs 1 --qos 1 --window 100 --count "$n" --port "$PORT" \
      --topic-prefix bench/p --connect-timeout 120 --drain 60 --drain-idle 5 \
      >>"$OUT/summary.txt" 2>&1 || true
    stop
    echo "$var $run $(callgrind_total_ir "$OUT/callgrind.$var-$run.out")" | tee -a "$RESULTS"
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
