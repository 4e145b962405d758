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
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOOKMQ_BIN=${HOOKMQ_BIN:-$ROOT/build/hookmq}
MOSQUITTO_BIN=${MOSQUITTO_BIN:-/usr/sbin/mosquitto}
HMQ_BENCH=${HMQ_BENCH:-$ROOT/build/hmq-bench}
WORKERS=${WORKERS:-$(nproc)}
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
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
D=$(mktemp -d "${TMPDIR:-/tmp}/hookmq-tls-qos1.XXXXXX")
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT

o() { openssl "$@" >/dev/null 2>&1; }
cd "$D"
o ecparam -name prime256v1 -genkey -noout -out ca.key
o req -x509 -new -key ca.key -days 2 -subj /CN=bench-ca -out ca.crt
o ecparam -name prime256v1 -genkey -noout -out server.key
o req -new -key server.key -subj /CN=server -out server.csr
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > san.ext
o x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # broker -> PID, PORT
  PORT=$(free_port)
  if [ "$1" = hookmq ]; then
    cat > h.yaml <<YAML
broker: {workers: $WORKERS, sys_interval: 0}
limits: {max_inflight: 1000, max_queued: 1000000}
listeners:
  - {name: tls, type: tls, bind: 127.0.0.1, port: $PORT, tls_cert_file: $D/server.crt,
     tls_key_file: $D/server.key}
YAML
    "$HOOKMQ_BIN" --config h.yaml 2>h.log & PID=$!
  else
    cat > m.conf <<CONF
listener $PORT 127.0.0.1
certfile $D/server.crt
keyfile $D/server.key
allow_anonymous true
max_inflight_messages 1000
max_queued_messages 1000000
set_tcp_nodelay true
sys_interval 0
persistence false
user root
CONF
    "$MOSQUITTO_BIN" -c m.conf 2>m.log & PID=$!
  fi
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0
    sleep 0.05
  done
  echo "tls_qos1.sh: $1 did not start" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

echo "# $(date -u +%FT%TZ), $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
ARGS="pubsub --pubs $N --subs $N --sub-mode pairs --qos 1 --payload $PAYLOAD --window 100 --duration $SECS --cafile $D/ca.crt"
echo "# hmq-bench $ARGS"
for r in $(seq "$REPEAT"); do
  for b in hookmq mosquitto; do
    start $b
    # shellcheck disable=SC2086
    "$HMQ_BENCH" $ARGS --port "$PORT" --broker-pid "$PID" --json --label "$b" 2>>bench.err |
      grep '^{' >> results.json || echo "tls_qos1.sh: $b run $r gave no result" >&2
    stop
    tail -1 results.json | "$PY" -c 'import json,sys; j=json.loads(sys.stdin.read())
print("run: {label:9} {delivered_per_s:>10.0f} msg/s  lost {lost}  broker CPU {broker_cpu_s:.1f} s  others CPU {other_cpu_s:.1f} s".format(**j))'
  done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
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
