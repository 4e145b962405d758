#!/usr/bin/env bash
# callgrind.sh - instructions per routed message, hookmq vs mosquitto, counted by callgrind.
#
# Wall-clock numbers on a shared 2-CPU machine are noisy; instruction counts are not. Each broker
# is started under `valgrind --tool=callgrind` (fresh for every run, on a free loopback port),
# hmq-bench sends a fixed number of messages (10 pubs -> 10 subs), the broker is stopped with
# SIGTERM so callgrind writes its totals, and the instructions of a baseline run that only
# connects, subscribes and disconnects the same clients are subtracted:
#
#   Ir per delivery = (Ir(run) - Ir(baseline)) / deliveries
#
# Prints a Markdown table; callgrind files and logs stay in the output directory, for
# `callgrind_annotate`. See docs/benchmarks.md. Takes a few minutes (the brokers run ~50x slower).
#
# usage: bench/callgrind.sh [-n MESSAGES] [-q "0 1"] [-o DIR]
# environment: HOOKMQ_BIN, MOSQUITTO_BIN, HMQ_BENCH, WORKERS as for compare.sh.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_defaults
HOOKMQ_BIN=${HOOKMQ_BIN:-$ROOT/build/hookmq}
COUNT=20000
QOS_LIST="0 1"
OUT=""
while getopts "n:q:o:h" opt; do
  case $opt in
    n) COUNT=$OPTARG ;;
    q) QOS_LIST=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) bench_usage; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/callgrind-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
[ -x "$HMQ_BENCH" ] || { echo "callgrind.sh: no hmq-bench; build it: make build" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
BROKERS=(hookmq mosquitto)
if [ ! -x "$HOOKMQ_BIN" ]; then
  echo "callgrind.sh: $HOOKMQ_BIN not found: measuring mosquitto only (hookmq: pending)" >&2
  BROKERS=(mosquitto)
fi
PY=$(bench_python)

BROKER_PID=""
bench_kill_on_exit BROKER_PID

# start NAME TAG: the broker under callgrind, same settings as compare.sh; sets BROKER_PID, PORT.
start() {
  PORT=$(bench_free_port)
  local log=$OUT/$1-$2.log
  local vg=(valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$1.$2.out" --dump-instr=no)
  if [ "$1" = hookmq ]; then
    hookmq_config "$PORT" >"$OUT/hookmq-$2.yaml"
    bench_start "$log" "$(hookmq_ready "$PORT")" 600 "${vg[@]}" "$HOOKMQ_BIN" --config "$OUT/hookmq-$2.yaml"
  else
    # `user`: started as root, mosquitto would switch to user mosquitto, and callgrind could no
    # longer write its output file when the broker exits.
    { mosquitto_config "$PORT"; echo "user $(id -un)"; } >"$OUT/mosquitto-$2.conf"
    bench_start "$log" "$MOSQUITTO_READY" 600 "${vg[@]}" "$MOSQUITTO_BIN" -c "$OUT/mosquitto-$2.conf"
  fi
}

# stop: SIGTERM, then give callgrind time (up to 60 s) to write its file.
stop() {
  bench_stop "$BROKER_PID" 600
  BROKER_PID=""
}

RESULTS=$OUT/results.txt
: >"$RESULTS"
for b in "${BROKERS[@]}"; do
  for run in base $QOS_LIST; do
    if [ "$run" = base ]; then
      args=(pubsub --pubs 10 --subs 10 --count 0)
    else
      args=(pubsub --pubs 10 --subs 10 --qos "$run" --window 100 --count "$COUNT")
    fi
    echo "== $b: ${args[*]}"
    start "$b" "$run" || { stop; continue; }
    json=$("$HMQ_BENCH" "${args[@]}" --port "$PORT" --connect-timeout 120 --drain 60 \
      --drain-idle 5 --json --label "$run:$b" 2>>"$OUT/bench-errors.log" |
      tee -a "$OUT/summary.txt" | grep '^{' || true)
    stop
    ir=$(callgrind_total_ir "$OUT/callgrind.$b.$run.out")
    [ -n "$json" ] || json='{}'
    echo "$b $run ${ir:-0} $json" >>"$RESULTS"
    echo "   total Ir ${ir:-?}"
  done
done

$PY - "$RESULTS" "$COUNT" <<'EOF' | tee "$OUT/table.md"
import json, sys
rows = {}
for line in open(sys.argv[1]):
    b, run, ir, js = line.split(" ", 3)
    rows[(b, run)] = (int(ir or 0), json.loads(js))
print()
print(f"| run ({sys.argv[2]} messages, 10 pubs -> 10 subs) | broker | deliveries | lost | Ir total | "
      "Ir baseline | Ir per delivery | Ir per published message |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
runs = sorted({r for _, r in rows if r != "base"})
for run in runs:
    per = {}
    for b in ("hookmq", "mosquitto"):
        if (b, run) not in rows:
            print(f"| QoS {run} | {b} | pending | | | | | |")
            continue
        ir, r = rows[(b, run)]
        base = rows.get((b, "base"), (0, {}))[0]
        d, s = r.get("delivered", 0), r.get("sent", 0)
        per[b] = (ir - base) / d if d else None
        pp = (ir - base) / s if s else 0
        print(f"| QoS {run} | {b} | {d:,} | {r.get('lost', '?')} | {ir:,} | {base:,} | "
              f"{per[b]:,.0f} | {pp:,.0f} |" if per[b] else f"| QoS {run} | {b} | {d} | | | | | |")
    if per.get("hookmq") and per.get("mosquitto"):
        print(f"| QoS {run} | **hookmq / mosquitto** | | | | | **{per['hookmq'] / per['mosquitto']:.2f}** | |")
EOF
echo "callgrind files: $OUT"
