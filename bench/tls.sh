#!/usr/bin/env bash
# tls.sh - TLS costs, hookmq vs mosquitto, same certificates (ECDSA P-256), one run:
#   full handshakes/s without and with a client certificate, resumed handshakes/s (openssl
#   s_time: connect, handshake, close; 1 client process), and broker RSS per idle mTLS connection
#   (N connections that completed TLS and MQTT CONNECT, held open).
# Prints a Markdown table. See docs/benchmarks.md. Loopback only; kills only what it started.
#
# usage: bench/tls.sh [-t SECONDS] [-n IDLE_CONNECTIONS] [-i] [-b BROKERS]
#   -i: only the idle memory row;  -b "hookmq": only these brokers (default "hookmq mosquitto")
# environment: HOOKMQ_ENV="MALLOC_ARENA_MAX=1 ..." runs hookmq with these variables (experiments)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_defaults
HOOKMQ_BIN=${HOOKMQ_BIN:-$ROOT/build/hookmq}
SECS=10
IDLE=2000
ONLY_IDLE=0
BROKERS="hookmq mosquitto"
while getopts "t:n:ib:h" opt; do
  case $opt in
    t) SECS=$OPTARG ;;
    n) IDLE=$OPTARG ;;
    i) ONLY_IDLE=1 ;;
    b) BROKERS=$OPTARG ;;
    *) bench_usage; exit 2 ;;
  esac
done
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
D=$(mktemp -d "${TMPDIR:-/tmp}/hookmq-tls-bench.XXXXXX")
BROKER_PID=""
BENCH_ON_EXIT='wait 2>/dev/null; rm -rf "$D"'
bench_kill_on_exit BROKER_PID

# certificates: CA, server (SAN localhost/127.0.0.1), client
bench_certs "$D" client
cd "$D"

start() { # broker mode(none|required) -> sets BROKER_PID, PORT
  PORT=$(bench_free_port)
  if [ "$1" = hookmq ]; then
    cat > h.yaml <<YAML
broker: {workers: $WORKERS, sys_interval: 0}
listeners:
  - {name: tls, type: tls, bind: 127.0.0.1, port: $PORT, tls_cert_file: $D/server.crt,
     tls_key_file: $D/server.key, tls_ca_file: $D/ca.crt, tls_client_cert: $2}
YAML
    # shellcheck disable=SC2086
    env ${HOOKMQ_ENV:-} "$HOOKMQ_BIN" --config h.yaml 2>h.log & BROKER_PID=$!
  else
    { echo "listener $PORT 127.0.0.1"; echo "certfile $D/server.crt"; echo "keyfile $D/server.key"
      echo "cafile $D/ca.crt"; echo "allow_anonymous true"; echo "user root"
      [ "$2" = required ] && echo "require_certificate true"; } > m.conf
    "$MOSQUITTO_BIN" -c m.conf 2>m.log & BROKER_PID=$!
  fi
  bench_wait_port "$BROKER_PID" "$PORT" || { echo "tls.sh: $1 did not start" >&2; exit 1; }
}
stop() { bench_stop "$BROKER_PID"; BROKER_PID=""; }

rate() { # s_time output -> connections per second
  awk '/connections in .* real seconds/ {for (i=1;i<=NF;i++) if ($i=="connections") c=$(i-1);
       for (i=1;i<=NF;i++) if ($i=="real") s=$(i-1)} END {if (s>0) printf "%.0f", c/s; else print 0}'
}

rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }

idle_rss() { # broker -> bytes per idle mTLS connection
  start "$1" required
  local before; before=$(rss_kb "$BROKER_PID")
  "$PY" - "$PORT" "$IDLE" "$D" >/dev/null <<'PYEOF' &
import socket, ssl, sys, time
port, n, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=f"{d}/ca.crt")
ctx.load_cert_chain(f"{d}/client.crt", f"{d}/client.key")
conns = []
for i in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    cid = f"idle-{i}".encode()
    body = b"\x00\x04MQTT\x04\x02\x02\x58" + len(cid).to_bytes(2, "big") + cid
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    conns.append(s)
time.sleep(3600)
PYEOF
  local cpid=$!
  sleep 1
  while [ "$(ls /proc/$cpid/fd 2>/dev/null | wc -l)" -lt "$IDLE" ]; do sleep 0.2; done
  sleep 3
  local after; after=$(rss_kb "$BROKER_PID")
  kill $cpid; wait $cpid 2>/dev/null || true
  stop
  echo $(( (after - before) * 1024 / IDLE ))
}

declare -A R
for b in $BROKERS; do
  R[$b,idle]=$(idle_rss $b)
  [ "$ONLY_IDLE" = 1 ] && continue
  start $b none
  R[$b,full]=$(openssl s_time -connect 127.0.0.1:$PORT -new -time "$SECS" -CAfile ca.crt 2>/dev/null | rate)
  R[$b,resumed]=$(openssl s_time -connect 127.0.0.1:$PORT -reuse -time "$SECS" -CAfile ca.crt 2>/dev/null | rate)
  stop
  start $b required
  R[$b,mtls]=$(openssl s_time -connect 127.0.0.1:$PORT -new -time "$SECS" -CAfile ca.crt \
      -cert client.crt -key client.key 2>/dev/null | rate)
  stop
done
if [ "$ONLY_IDLE" = 1 ]; then
  for b in $BROKERS; do echo "| broker RSS per idle mTLS connection ($IDLE), bytes, $b | ${R[$b,idle]} |"; done
  exit 0
fi
ratio() { "$PY" -c "print(f'{$1/$2:.2f}' if $2 else '-')"; }
echo "| measure | hookmq | mosquitto | hookmq / mosquitto |"
echo "|---|---:|---:|---:|"
echo "| full handshakes/s, no client certificate | ${R[hookmq,full]} | ${R[mosquitto,full]} | $(ratio ${R[hookmq,full]} ${R[mosquitto,full]}) |"
echo "| full handshakes/s, client certificate (mTLS) | ${R[hookmq,mtls]} | ${R[mosquitto,mtls]} | $(ratio ${R[hookmq,mtls]} ${R[mosquitto,mtls]}) |"
echo "| resumed handshakes/s | ${R[hookmq,resumed]} | ${R[mosquitto,resumed]} | $(ratio ${R[hookmq,resumed]} ${R[mosquitto,resumed]}) |"
echo "| broker RSS per idle mTLS connection ($IDLE), bytes | ${R[hookmq,idle]} | ${R[mosquitto,idle]} | $(ratio ${R[hookmq,idle]} ${R[mosquitto,idle]}) |"
