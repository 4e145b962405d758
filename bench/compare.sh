#!/usr/bin/env bash
# compare.sh - hookmq and mosquitto under identical load, in one run, one broker at a time.
#
# For every scenario each broker is started fresh on a free loopback port, measured alone (with
# only the load generator beside it) by hmq-bench, which samples the broker's CPU time and RSS in
# /proc, and stopped again by its PID. The scenarios alternate between the brokers so that slow
# drifts of the machine hit both alike. At the end a Markdown table with both brokers and the
# hookmq/mosquitto ratios is printed; the JSON lines, configs and broker logs stay in the output
# directory (bench/results/<time>/ by default, git-ignored). docs/benchmarks.md explains the
# scenarios and the numbers. Called by `make bench`, or directly.
#
# usage: bench/compare.sh [-s SCENARIOS] [-d SECONDS] [-r REPEAT] [-o DIR]
#   -s  comma-separated subset of a,b,c,d,e0,e1,e2,f (default: all)
#   -d  publishing time per load scenario, in seconds (default 10)
#   -r  run every load scenario REPEAT times per broker, alternating; the table shows medians
#   -o  output directory
# environment: HOOKMQ_BIN (build/hookmq), MOSQUITTO_BIN (/usr/sbin/mosquitto),
#   HMQ_BENCH (build/hmq-bench, else build-bench/hmq-bench), WORKERS (hookmq workers: nproc),
#   BENCH_THREADS (hmq-bench threads: 1), IDLE_COUNTS (1000 5000 10000 max),
#   EXTRA=1 also runs mosquitto with two of its defaults (in-flight quota 20 at QoS 2: silent
#   loss; Nagle on in (a) and (e0)), see docs/benchmarks.md.
# Takes about 4 minutes with the defaults (each load scenario: connect, 10 s, drain).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_defaults
HOOKMQ_BIN=${HOOKMQ_BIN:-$ROOT/build/hookmq}
BENCH_THREADS=${BENCH_THREADS:-1}
DURATION=10
REPEAT=1
ONLY=""
OUT=""
while getopts "s:d:r:o:h" opt; do
  case $opt in
    s) ONLY=",$OPTARG," ;;
    d) DURATION=$OPTARG ;;
    r) REPEAT=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) bench_usage; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

[ -x "$HMQ_BENCH" ] || { echo "compare.sh: no hmq-bench; build it: make build" >&2; exit 1; }
[ -x "$MOSQUITTO_BIN" ] || { echo "compare.sh: no mosquitto at $MOSQUITTO_BIN" >&2; exit 1; }
BROKERS=(hookmq mosquitto)
if [ ! -x "$HOOKMQ_BIN" ]; then
  echo "compare.sh: $HOOKMQ_BIN not found: measuring mosquitto only (hookmq: pending)" >&2
  BROKERS=(mosquitto)
fi
PY=$(bench_python)

# Both brokers and the bench get the hard descriptor limit; each connection costs one descriptor
# in the broker and one in the bench, so the largest idle test leaves some for everything else.
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
IDLE_MAX=$((NOFILE - 100))
IDLE_COUNTS=${IDLE_COUNTS:-"1000 5000 10000 max"}

BROKER_PID=""
bench_kill_on_exit BROKER_PID

# start_broker NAME TAG VARIANT: start it on a free port, wait until it listens; sets BROKER_PID,
# PORT. VARIANT changes mosquitto's configuration: quota20 = its default max_inflight_messages
# (20), nagle = its default set_tcp_nodelay false.
start_broker() {
  local quota=1000 nodelay=true log=$OUT/$1-$2.log
  [ "${3:-}" = quota20 ] && quota=20
  [ "${3:-}" = nagle ] && nodelay=false
  PORT=$(bench_free_port)
  hookmq_config "$PORT" >"$OUT/hookmq-$2.yaml"
  mosquitto_config "$PORT" "$quota" "$nodelay" >"$OUT/mosquitto-$2.conf"
  if [ "$1" = hookmq ]; then
    bench_start "$log" "$(hookmq_ready "$PORT")" 100 "$HOOKMQ_BIN" --config "$OUT/hookmq-$2.yaml"
  else
    bench_start "$log" "$MOSQUITTO_READY" 100 "$MOSQUITTO_BIN" -c "$OUT/mosquitto-$2.conf"
  fi
}

stop_broker() {
  bench_stop "$BROKER_PID"
  BROKER_PID=""
}

# run_one BROKER TAG VARIANT -- hmq-bench arguments
run_one() {
  local broker=$1 tag=$2 variant=$3
  shift 4
  start_broker "$broker" "$tag" "$variant" || { stop_broker; return 0; }
  local line
  line=$("$HMQ_BENCH" "$@" --port "$PORT" --threads "$BENCH_THREADS" --broker-pid "$BROKER_PID" \
    --json --label "$tag:$broker" 2>>"$OUT/bench-errors.log" | tee -a "$OUT/summary.txt" |
    grep '^{' || true)
  if [ -n "$line" ]; then
    echo "$line" >>"$RESULTS"
    printf '  %-10s %s\n' "$broker" "$(echo "$line" | $PY "$ROOT/bench/table.py" --brief)"
  else
    echo "  $broker: no result (see $OUT/bench-errors.log)"
  fi
  stop_broker
}

wanted() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }

D=$DURATION
SCENARIOS=(
  "a|pubsub --pubs 10 --subs 10 --qos 0 --duration $D"
  "b|pubsub --pubs 10 --subs 10 --qos 1 --window 100 --duration $D"
  "c|pubsub --pubs 10 --subs 10 --qos 2 --window 100 --duration $D"
  "d|fanout --subs 1000 --qos 0 --duration $D"
  "e0|pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 0 --rate 20000 --duration $D"
  "e1|pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 1 --rate 20000 --duration $D"
  "e2|pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 2 --rate 10000 --duration $D"
)

{
  bench_machine
  echo "# kernel $(uname -r); $("$MOSQUITTO_BIN" -h 2>/dev/null | head -1)"
  echo "# hookmq: $HOOKMQ_BIN (workers $WORKERS); bench: $HMQ_BENCH (threads $BENCH_THREADS)"
  echo "# load average before: $(loadavg3)"
} | tee "$OUT/machine.txt"

for s in "${SCENARIOS[@]}"; do
  id=${s%%|*}
  args=${s#*|}
  wanted "$id" || continue
  echo "== $id: hmq-bench $args"
  for _ in $(seq "$REPEAT"); do
    for b in "${BROKERS[@]}"; do
      # shellcheck disable=SC2086
      run_one "$b" "$id" "" -- $args
    done
  done
done

# Mosquitto with two of its defaults put back, to show what the fair configuration changes.
if [ "${EXTRA:-0}" = 1 ]; then
  for s in "c-quota20|quota20|c" "a-nagle|nagle|a" "e0-nagle|nagle|e0"; do
    IFS='|' read -r tag variant base <<<"$s"
    wanted "$base" || continue
    args=$(printf '%s\n' "${SCENARIOS[@]}" | sed -n "s/^$base|//p")
    echo "== $tag: mosquitto ($variant) hmq-bench $args"
    # shellcheck disable=SC2086
    run_one mosquitto "$tag" "$variant" -- $args
  done
fi

if wanted f; then
  for n in $IDLE_COUNTS; do
    [ "$n" = max ] && n=$IDLE_MAX
    echo "== f: idle $n connections"
    for b in "${BROKERS[@]}"; do
      run_one "$b" "f$n" "" -- idle --connections "$n" --hold 0 --settle 2 \
        --connect-concurrency 64 --src-addrs 4
    done
  done
fi

echo "# load average after: $(loadavg3)" | tee -a "$OUT/machine.txt"
echo
$PY "$ROOT/bench/table.py" <"$RESULTS" | tee "$OUT/table.md"
echo
echo "raw results: $RESULTS"
