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

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOOKMQ_BIN=${HOOKMQ_BIN:-$ROOT/build/hookmq}
MOSQUITTO_BIN=${MOSQUITTO_BIN:-/usr/sbin/mosquitto}
WORKERS=${WORKERS:-$(nproc)}
COUNT=20000
QOS_LIST="0 1"
OUT=""
while getopts "n:q:o:h" opt; do
  case $opt in
    n) COUNT=$OPTARG ;;
    q) QOS_LIST=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/callgrind-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
if [ -z "${HMQ_BENCH:-}" ]; then
  HMQ_BENCH=$ROOT/build/hmq-bench
  [ -x "$HMQ_BENCH" ] || HMQ_BENCH=$ROOT/build-bench/hmq-bench
fi
[ -x "$HMQ_BENCH" ] || { echo "callgrind.sh: no hmq-bench; build it: make build" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
BROKERS=(hookmq mosquitto)
if [ ! -x "$HOOKMQ_BIN" ]; then
  echo "callgrind.sh: $HOOKMQ_BIN not found: measuring mosquitto only (hookmq: pending)" >&2
  BROKERS=(mosquitto)
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ]; then
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME TAG: the broker under callgrind, same settings as compare.sh; sets BROKER_PID, PORT.
start() {
  PORT=$(free_port)
  local log=$OUT/$1-$2.log cg=$OUT/callgrind.$1.$2.out ready
  local vg=(valgrind --tool=callgrind --callgrind-out-file="$cg" --dump-instr=no)
  if [ "$1" = hookmq ]; then
    cat >"$OUT/hookmq-$2.yaml" <<EOF
broker: {workers: $WORKERS, sys_interval: 0}
listeners: [{name: default, type: tcp, bind: 127.0.0.1, port: $PORT}]
limits: {max_inflight: 1000, max_queued: 1000000}
log: {level: info}
EOF
    "${vg[@]}" "$HOOKMQ_BIN" --config "$OUT/hookmq-$2.yaml" 2>"$log" &
    ready="msg=listening.*port=$PORT"
  else
    # `user`: started as root, mosquitto would switch to user mosquitto, and callgrind could no
    # longer write its output file when the broker exits.
    cat >"$OUT/mosquitto-$2.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
max_inflight_messages 1000
max_queued_messages 1000000
set_tcp_nodelay true
sys_interval 0
persistence false
user $(id -un)
EOF
    "${vg[@]}" "$MOSQUITTO_BIN" -c "$OUT/mosquitto-$2.conf" 2>"$log" &
    ready="mosquitto version .* running"
  fi
  BROKER_PID=$!
  for _ in $(seq 600); do
    grep -Eq "$ready" "$log" 2>/dev/null && return 0
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "callgrind.sh: $1 did not start under valgrind, see $log" >&2
  return 1
}

# stop: SIGTERM, then give callgrind time to write its file.
stop() {
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  for _ in $(seq 600); do
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

total_ir() { # callgrind file -> total instructions
  [ -f "$1" ] || { echo 0; return; }
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
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
    start "$b" "$run" || continue
    json=$("$HMQ_BENCH" "${args[@]}" --port "$PORT" --connect-timeout 120 --drain 60 \
      --drain-idle 5 --json --label "$run:$b" 2>>"$OUT/bench-errors.log" |
      tee -a "$OUT/summary.txt" | grep '^{' || true)
    stop
    ir=$(total_ir "$OUT/callgrind.$b.$run.out")
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
