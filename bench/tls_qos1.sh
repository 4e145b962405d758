#!/usr/bin/env bash
# tls_qos1.sh - QoS 1 throughput over TLS, hookmq vs mosquitto, same certificates (ECDSA P-256,
#   TLS 1.3, server certificate only), same run: N publishers -> N subscribers (pairs), QoS 1,
#   1 KiB payloads, window 100, max rate; each broker fresh for every run, the brokers alternating.
# Prints every run, then a Markdown table of medians (delivered msg/s, deliveries per broker
# CPU-second) and the hookmq / mosquitto ratios. See docs/benchmarks.md. Loopback only; kills
# only what it started.
#
# usage: bench/tls_qos1.sh [-n PUBS] [-d SECONDS] [-r REPEAT] [-p PAYLOAD]
# environment: HOOKMQ_BIN (build/hookmq), MOSQUITTO_BIN (/usr/sbin/mosquitto),
#   HMQ_BENCH (build/hmq-bench), WORKERS (hookmq workers, default nproc)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_defaults
HOOKMQ_BIN=${HOOKMQ_BIN:-$ROOT/build/hookmq}
N=10
SECS=10
REPEAT=3
PAYLOAD=1024
while getopts "n:d:r:p:h" opt; do
  case $opt in
    n) N=$OPTARG ;;
    d) SECS=$OPTARG ;;
    r) REPEAT=$OPTARG ;;
    p) PAYLOAD=$OPTARG ;;
    *) bench_usage; exit 2 ;;
  esac
done
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
D=$(mktemp -d "${TMPDIR:-/tmp}/hookmq-tls-qos1.XXXXXX")
BROKER_PID=""
BENCH_ON_EXIT='wait 2>/dev/null; rm -rf "$D"'
bench_kill_on_exit BROKER_PID

bench_certs "$D"
cd "$D"

start() { # broker -> BROKER_PID, PORT
  PORT=$(bench_free_port)
  if [ "$1" = hookmq ]; then
    cat > h.yaml <<YAML
broker: {workers: $WORKERS, sys_interval: 0}
limits: {max_inflight: 1000, max_queued: 1000000}
listeners:
  - {name: tls, type: tls, bind: 127.0.0.1, port: $PORT, tls_cert_file: $D/server.crt,
     tls_key_file: $D/server.key}
YAML
    "$HOOKMQ_BIN" --config h.yaml 2>h.log & BROKER_PID=$!
  else
    # certfile and keyfile apply to the listener line that mosquitto_config starts with
    { mosquitto_config "$PORT"; echo "certfile $D/server.crt"; echo "keyfile $D/server.key"
      echo "user root"; } > m.conf
    "$MOSQUITTO_BIN" -c m.conf 2>m.log & BROKER_PID=$!
  fi
  bench_wait_port "$BROKER_PID" "$PORT" || { echo "tls_qos1.sh: $1 did not start" >&2; exit 1; }
}
stop() { bench_stop "$BROKER_PID"; BROKER_PID=""; }

echo "# $(date -u +%FT%TZ), $(nproc) CPUs, load average before: $(loadavg3)"
ARGS="pubsub --pubs $N --subs $N --sub-mode pairs --qos 1 --payload $PAYLOAD --window 100 --duration $SECS --cafile $D/ca.crt"
echo "# hmq-bench $ARGS"
for r in $(seq "$REPEAT"); do
  for b in hookmq mosquitto; do
    start $b
    # shellcheck disable=SC2086
    "$HMQ_BENCH" $ARGS --port "$PORT" --broker-pid "$BROKER_PID" --json --label "$b" 2>>bench.err |
      grep '^{' >> results.json || echo "tls_qos1.sh: $b run $r gave no result" >&2
    stop
    tail -1 results.json | "$PY" -c 'import json,sys; j=json.loads(sys.stdin.read())
print("run: {label:9} {delivered_per_s:>10.0f} msg/s  lost {lost}  broker CPU {broker_cpu_s:.1f} s  others CPU {other_cpu_s:.1f} s".format(**j))'
  done
done
echo "# load average after: $(loadavg3)"
"$PY" - results.json "$N" "$PAYLOAD" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for b in ("hookmq", "mosquitto"):
    r = [x for x in rows if x["label"] == b]
    med[b] = {k: statistics.median(x[k] for x in r) for k in ("delivered_per_s", "deliveries_per_cpu_s", "lat_p50_us", "lat_p99_us", "other_cpu_s")}
    med[b]["lost"] = sum(x["lost"] for x in r)
    med[b]["n"] = len(r)
h, m = med["hookmq"], med["mosquitto"]
print(f"\n| QoS 1 over TLS, {sys.argv[2]} -> {sys.argv[2]}, {sys.argv[3]} B (median of {h['n']}) | hookmq | mosquitto | hookmq / mosquitto |")
print("|---|---:|---:|---:|")
def row(name, k, fmt="{:,.0f}"):
    ratio = h[k] / m[k] if m[k] else float("nan")
    print(f"| {name} | {fmt.format(h[k])} | {fmt.format(m[k])} | {ratio:.2f} |")
row("delivered msg/s", "delivered_per_s")
row("deliveries per broker CPU-second", "deliveries_per_cpu_s")
row("latency p50, us", "lat_p50_us")
row("latency p99, us", "lat_p99_us")
print(f"| messages lost | {h['lost']} | {m['lost']} | |")
print(f"| CPU-seconds used by other processes during a run (busy machine if > 1) | {h['other_cpu_s']:.1f} | {m['other_cpu_s']:.1f} | |")
PYEOF
