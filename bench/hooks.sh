#!/usr/bin/env bash
# hooks.sh - the performance targets of the hooks (docs/benchmarks.md, "Hooks"): hookmq with a
# Python SDK hook server (bench/hooks_server.py) against the same load without hooks, in one run.
#
# Every run starts a fresh broker on a free loopback port and, when the variant has hooks, a fresh
# hook server (sdk-python/.venv/bin/python bench/hooks_server.py) that the broker calls; both are
# stopped by their PIDs afterwards. Variants of a scenario alternate run by run, so slow drifts of
# the shared machine hit all of them. Each hmq-bench JSON line is kept with the scenario, the
# variant, the load average before and after, the hook server's counters and its CPU time; at the
# end bench/hooks_table.py prints medians per scenario and variant.
#
# usage: bench/hooks.sh [-s SCENARIOS] [-d SECONDS] [-r RUNS] [-o DIR]
#   -s  comma-separated subset of 1,2,3,4,5,t (default: 1-5)
#       1  slow or stopped on_publish hook of client A vs client B on an un-hooked topic
#       2  publish authorization: no hooks / grants from Authenticate / authorize hook with a
#          cache TTL / authorize hook without cache (every publish is a call)
#       3  CONNECT -> CONNACK latency, one connection at a time, with and without Authenticate
#       4  connect rate (64 handshakes at once) with and without Authenticate
#       5  on_publish on every message (trivial async handler): max rate, and p99 at fixed rates
#          of 20,000 and 5,000 msg/s
#       t  (only when named; needs perf) scenario 3 split by the broker's own system calls into
#          the broker's part and the hook server's part
#   -d  publishing time per load run, seconds (default 5)
#   -r  runs per variant (default 3; the table shows medians)
#   -o  output directory (default bench/results/hooks-<time>/)
# environment: HOOKMQ_BIN (build/hookmq, else build-bench/hookmq), HMQ_BENCH (likewise),
#   SDK_PY (sdk-python/.venv/bin/python; make it with `bash sdk-python/scripts/test.sh`),
#   WORKERS (hookmq workers: nproc), CONNECTS (connections per connect run: 2000),
#   HOOKS_NICE (run the hook server under `nice -n HOOKS_NICE`), T1_VARIANTS (scenario 1's
#   variants: b-alone a-unhooked fast slow stopped).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_defaults
HOOKMQ_BIN=${HOOKMQ_BIN:-$(bench_bin hookmq)}
CONNECTS=${CONNECTS:-2000}
D=5
RUNS=3
ONLY=""
OUT=""
while getopts "s:d:r:o:h" opt; do
  case $opt in
    s) ONLY=",$OPTARG," ;;
    d) D=$OPTARG ;;
    r) RUNS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) bench_usage; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/bench/results/hooks-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
for f in "$HOOKMQ_BIN" "$HMQ_BENCH" "$SDK_PY"; do
  [ -x "$f" ] || { echo "hooks.sh: $f not found (make build; bash sdk-python/scripts/test.sh)" >&2; exit 1; }
done
PY=$SDK_PY
ulimit -n "$(ulimit -Hn)"

BROKER_PID="" HOOKS_PID="" A_PID="" STOPPED=""
bench_kill_on_exit A_PID BROKER_PID HOOKS_PID # SIGKILL also ends a SIGSTOPped hook server

# start_broker TAG [hooks]: fresh broker on a free port (with the hook server if "hooks");
# waits until it listens and, with hooks, until the handshake is done. Sets BROKER_PID, PORT.
start_broker() {
  local tag=$1 ready
  PORT=$(bench_free_port)
  {
    hookmq_config "$PORT"
    if [ "${2:-}" = hooks ]; then
      echo "hooks: {endpoints: \"127.0.0.1:$HOOKS_PORT\", on_failure: deny, mandatory: true,"
      echo "        authenticate_deadline_ms: 500}"
    fi
  } >"$OUT/broker-$tag.yaml"
  ready=$(hookmq_ready "$PORT")
  [ "${2:-}" = hooks ] && ready="msg=hook_handshake"
  bench_start "$OUT/broker-$tag.log" "$ready" 100 "$HOOKMQ_BIN" --config "$OUT/broker-$tag.yaml"
}

stop_broker() {
  bench_stop "$BROKER_PID"
  BROKER_PID=""
}

# bench SCENARIO VARIANT RUN -- hmq-bench ARGS: one measured hmq-bench run against $PORT; its
# JSON line goes to results.jsonl with the load average, the hook server's CPU time and counters.
bench() {
  local sc=$1 var=$2 run=$3
  shift 4
  local l0 l1 h0=0 h1=0 line
  l0=$(loadavg)
  [ -n "$HOOKS_PID" ] && h0=$(cpu_of "$HOOKS_PID")
  line=$("$HMQ_BENCH" "$@" --port "$PORT" --broker-pid "$BROKER_PID" --json \
    --label "$sc:$var" 2>>"$OUT/bench-errors.log" | tee -a "$OUT/summary.txt" | grep '^{' || true)
  [ -n "$HOOKS_PID" ] && h1=$(cpu_of "$HOOKS_PID")
  l1=$(loadavg)
  if [ -z "$line" ]; then
    echo "  $sc $var run $run: no result (see $OUT/bench-errors.log)"
    return 0
  fi
  local stats=""
  if [ -n "$HOOKS_PID" ]; then
    : >"$HOOKS_STATS"
    kill -USR1 "$HOOKS_PID"
    for _ in $(seq 20); do [ -s "$HOOKS_STATS" ] && break; sleep 0.05; done
    stats=$(tail -1 "$HOOKS_STATS")
    kill -USR2 "$HOOKS_PID" # counters start again for the next measured run
  fi
  $PY - "$line" "$sc" "$var" "$run" "$l0" "$l1" "$h0" "$h1" "$stats" >>"$RESULTS" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
r.update(scenario=sys.argv[2], variant=sys.argv[3], run=int(sys.argv[4]),
         load_before=float(sys.argv[5]), load_after=float(sys.argv[6]),
         hooks_cpu_s=round(float(sys.argv[8]) - float(sys.argv[7]), 3))
if sys.argv[9]:
    r["hooks"] = json.loads(sys.argv[9])
print(json.dumps(r))
EOF
  tail -1 "$RESULTS" | $PY "$ROOT/bench/hooks_table.py" --brief
}

wanted() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }

# with_hooks TAG HOOK-SERVER-ARGS... -- COMMAND...: broker + hook server around COMMAND;
# "none" as the only server argument: broker without hooks.
with_hooks() {
  local tag=$1
  shift
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  if [ "${args[*]}" = none ]; then
    start_broker "$tag" || { stop_broker; return 0; }
  else
    hooks_start "$OUT" "$tag" "${args[@]}" || { hooks_stop; return 0; }
    start_broker "$tag" hooks || { stop_broker; hooks_stop; return 0; }
  fi
  "$@" || true
  stop_broker
  hooks_stop
}

{
  bench_machine
  echo "# hookmq: $HOOKMQ_BIN (workers $WORKERS); bench: $HMQ_BENCH; SDK: $($SDK_PY -V)"
  echo "# load average before: $(loadavg3)"
} | tee "$OUT/machine.txt"

# ---- 1: a slow or stopped hook of client A does not delay client B ------------------------------
# B: 10 publishers -> 10 subscribers (pairs), QoS 1, 5,000 msg/s on bench/b/<n> (no hook matches).
# A: the same at 2,000 msg/s on slow/a/<n>, where an on_publish hook sleeps 100 ms (variant slow)
# or answers at once (variant fast: the reference for "slow adds nothing"), or on bench/a/<n>
# without a hook (variant a-unhooked), or on slow/a/<n> with the hook server SIGSTOPped for B's
# whole run (variant stopped: A's calls time out, 200 ms, on_failure deny).
B_ARGS=(pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 1 --rate 5000 --topic-prefix bench/b)
t1_run() { # VARIANT RUN
  local var=$1 run=$2 a_prefix=slow/a
  [ "$var" = a-unhooked ] && a_prefix=bench/a
  if [ "$var" != b-alone ]; then
    "$HMQ_BENCH" pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 1 --rate 2000 \
      --topic-prefix "$a_prefix" --duration "$((D + 3))" --port "$PORT" --json --label "1:A-$var" \
      >>"$OUT/client-a.txt" 2>&1 &
    A_PID=$!
    sleep 1.5 # A is publishing (and, with the hook, waiting on it) before B starts
  fi
  if [ "$var" = stopped ]; then
    kill -STOP "$HOOKS_PID"
    STOPPED=$HOOKS_PID
  fi
  bench 1 "$var" "$run" -- "${B_ARGS[@]}" --duration "$D"
  if [ -n "$STOPPED" ]; then
    kill -CONT "$STOPPED"
    STOPPED=""
  fi
  if [ -n "$A_PID" ]; then
    wait "$A_PID" || true
    A_PID=""
  fi
}
if wanted 1; then
  echo "== 1: client B (QoS 1, 5k msg/s, no hook) beside client A (QoS 1, 2k msg/s) whose hook is slow/stopped"
  for run in $(seq "$RUNS"); do
    for var in ${T1_VARIANTS:-b-alone a-unhooked fast slow stopped}; do
      ms=100
      [ "$var" = fast ] && ms=0 # the same hooked traffic of A, answered at once
      with_hooks "1-$var-$run" --slow 'slow/#' --slow-ms "$ms" -- t1_run "$var" "$run"
    done
  done
fi

# ---- 2: authorization by grants or by cached authorize answers --------------------------------
# one publisher -> one subscriber, QoS 1, max rate (saturation of one connection), and 10 -> 10
# (pairs) at a fixed 20,000 msg/s; broker CPU per message and latency.
if wanted 2; then
  echo "== 2: publish authorization: none / grants / authorize + cache TTL / authorize, no cache"
  for run in $(seq "$RUNS"); do
    for var in none grants cache nocache; do
      case $var in
        none) hs=(none) ;;
        grants) hs=(--auth grants) ;;
        cache) hs=(--auth allow --authorize 600) ;;
        nocache) hs=(--auth allow --authorize 0) ;;
      esac
      with_hooks "2-$var-$run" "${hs[@]}" -- bench 2-1conn "$var" "$run" -- pubsub --pubs 1 --subs 1 \
        --qos 1 --topic-prefix bench/p --duration "$D"
      with_hooks "2r-$var-$run" "${hs[@]}" -- bench 2-20k "$var" "$run" -- pubsub --pubs 10 \
        --subs 10 --sub-mode pairs --qos 1 --rate 20000 --topic-prefix bench/p --duration "$D"
    done
  done
fi

# ---- 3 and 4: Authenticate on every CONNECT -----------------------------------------------------
# 3: one connection at a time (latency without queueing); 4: 64 handshakes at once (rate).
# A warm-up of 200 connections precedes each measured run (the broker's channel, Python's caches).
connect_runs() { # VARIANT RUN
  if wanted 3; then
    "$HMQ_BENCH" connect --connections 200 --connect-concurrency 1 --port "$PORT" >/dev/null 2>&1 || true
    [ -n "$HOOKS_PID" ] && kill -USR2 "$HOOKS_PID"
    bench 3 "$1" "$2" -- connect --connections "$CONNECTS" --connect-concurrency 1
  fi
  if wanted 4; then
    "$HMQ_BENCH" connect --connections 200 --port "$PORT" >/dev/null 2>&1 || true
    [ -n "$HOOKS_PID" ] && kill -USR2 "$HOOKS_PID"
    bench 4 "$1" "$2" -- connect --connections "$CONNECTS" --connect-concurrency 64
  fi
}
if wanted 3 || wanted 4; then
  echo "== 3/4: connects, $CONNECTS per run, without hooks and with a Python Authenticate (grants)"
  for run in $(seq "$RUNS"); do
    with_hooks "34-none-$run" none -- connect_runs none "$run"
    with_hooks "34-auth-$run" --auth grants -- connect_runs authenticate "$run"
  done
fi

# ---- t: scenario 3 from the broker's own system calls (perf; not in the default set) -----------
# perf records the broker's socket system calls (tracepoints) while CONNECTS/4 clients connect one
# at a time; bench/hooks_trace.py splits each CONNECT -> CONNACK into the broker's part and the
# part outside the broker (loopback hops to the hook server and back, and the server itself).
TRACE_EVENTS=syscalls:sys_enter_accept4,syscalls:sys_exit_accept4,syscalls:sys_enter_read
TRACE_EVENTS+=,syscalls:sys_exit_read,syscalls:sys_enter_readv,syscalls:sys_exit_readv
TRACE_EVENTS+=,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendmsg
TRACE_EVENTS+=,syscalls:sys_enter_recvmsg,syscalls:sys_exit_recvmsg
trace_run() { # VARIANT RUN
  local data=$OUT/trace-$1-$2.data perf_pid
  "$HMQ_BENCH" connect --connections 200 --connect-concurrency 1 --port "$PORT" >/dev/null 2>&1 || true
  [ -n "$HOOKS_PID" ] && kill -USR2 "$HOOKS_PID"
  ${PERF:-perf} record -q -e "$TRACE_EVENTS" -p "$BROKER_PID" -o "$data" 2>>"$OUT/perf.err" &
  perf_pid=$!
  sleep 1 # attached
  bench t "$1" "$2" -- connect --connections "$((CONNECTS / 4))" --connect-concurrency 1
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  ${PERF:-perf} script -i "$data" -F tid,time,event,trace --ns 2>/dev/null |
    $PY "$ROOT/bench/hooks_trace.py" >"$OUT/trace-$1-$2.json"
  rm -f "$data"
  $PY - "$RESULTS" "$OUT/trace-$1-$2.json" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
last = json.loads(lines[-1])
last["trace"] = json.load(open(sys.argv[2]))
lines[-1] = json.dumps(last)
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
print("    broker's own part: " + json.dumps(last["trace"]))
EOF
}
if [[ "$ONLY" == *",t,"* ]]; then
  echo "== t: broker-side part of CONNECT -> CONNACK (perf syscall tracepoints), one at a time"
  for run in $(seq "$RUNS"); do
    with_hooks "t-none-$run" none -- trace_run none "$run"
    with_hooks "t-auth-$run" --auth grants -- trace_run authenticate "$run"
  done
fi

# ---- 5: on_publish on every message -------------------------------------------------------------
if wanted 5; then
  echo "== 5: on_publish('#') on every message, trivial async handler, one server process"
  for run in $(seq "$RUNS"); do
    for var in none on_publish; do
      hs=(none)
      [ "$var" = on_publish ] && hs=(--on-publish '#')
      with_hooks "5-$var-$run" "${hs[@]}" -- bench 5-max "$var" "$run" -- pubsub --pubs 10 \
        --subs 10 --sub-mode pairs --qos 1 --duration "$D"
      for rate in 20000 5000; do
        with_hooks "5r$rate-$var-$run" "${hs[@]}" -- bench "5-$((rate / 1000))k" "$var" "$run" -- \
          pubsub --pubs 10 --subs 10 --sub-mode pairs --qos 1 --rate "$rate" --duration "$D"
      done
    done
  done
fi

echo "# load average after: $(loadavg3)" | tee -a "$OUT/machine.txt"
echo
$PY "$ROOT/bench/hooks_table.py" <"$RESULTS" | tee "$OUT/table.md"
echo
echo "raw results: $RESULTS"
