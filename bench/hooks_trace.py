"""Broker-side time of each CONNECT, from the broker's own system calls (bench/hooks_trace.sh).

Reads `perf script -F tid,time,event,trace --ns` output of syscall tracepoints recorded on the
broker's threads while hmq-bench connects one client at a time, and prints one JSON line:

  no hook:   broker time = CONNACK written - CONNECT read
  with hook: broker time = (Authenticate request written to the hook server's socket - CONNECT
             read) + (CONNACK written - last read of the answer from that socket); "outside" =
             answer read - request written (the kernel's loopback hops and the hook server).

Clients connect one at a time. CONNECT read: the first read of the socket accept4 returned;
CONNACK written: the first 4-byte write after it (an MQTT 3.1.1 CONNACK; the connection may have
moved to another worker and socket by then; the workers' eventfd writes are 8 bytes). The hook
server's socket is the one gRPC uses (sendmsg/recvmsg; libuv reads and writes clients with
read/write). Time stamps are the entry of a write and the exit of a read. Connections whose
sequence is incomplete are skipped and counted.
"""

from __future__ import annotations

import json
import re
import sys

LINE = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$")
FD = re.compile(r"fd: (0x[0-9a-f]+)")
COUNT = re.compile(r"count: (0x[0-9a-f]+)")


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    last_enter: dict[int, tuple[str, int]] = {}
    accepted_by: dict[int, int] = {}  # tid -> fd it accepted last
    clients: set[int] = set()
    grpc: set[int] = set()
    cur: dict[str, float] | None = None
    cur_fd = -1
    broker: list[float] = []
    outside: list[float] = []
    before: list[float] = []  # CONNECT read -> request written
    after: list[float] = []  # answer read -> CONNACK written
    skipped = 0

    def close_conn() -> None:
        nonlocal cur, skipped
        if cur is None:
            return
        c = cur
        cur = None
        if "connect" not in c or "connack" not in c:
            skipped += 1
            return
        if "req" in c:
            if "resp" not in c:
                skipped += 1
                return
            broker.append((c["req"] - c["connect"]) + (c["connack"] - c["resp"]))
            outside.append(c["resp"] - c["req"])
            before.append(c["req"] - c["connect"])
            after.append(c["connack"] - c["resp"])
        else:
            broker.append(c["connack"] - c["connect"])

    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        tid, t, kind, name, rest = int(m[1]), float(m[2]) * 1e6, m[3], m[4], m[5]
        if kind == "enter":
            f = FD.search(rest)
            fd = int(f[1], 16) if f else -1
            last_enter[tid] = (name, fd)
            if name in ("sendmsg", "recvmsg") and fd not in clients:
                grpc.add(fd)
            if cur is None:
                continue
            if name == "sendmsg" and fd in grpc and "connect" in cur and "req" not in cur:
                cur["req"] = t
            elif name == "write" and "connect" in cur and "connack" not in cur and fd not in grpc:
                n = COUNT.search(rest)
                if n and int(n[1], 16) == 4:
                    cur["connack"] = t
            continue
        ret = rest.strip()
        try:
            rv = int(ret, 16) if ret.startswith("0x") else int(ret)
            if rv >= 1 << 63:
                rv -= 1 << 64  # -errno
        except ValueError:
            continue
        name_e, fd = last_enter.get(tid, ("", -1))
        if name == "accept4" and rv >= 0:
            close_conn()
            clients.add(rv)
            grpc.discard(rv)
            cur, cur_fd = {}, rv
        elif cur is not None and name in ("read", "readv") and fd == cur_fd and rv > 0 \
                and "connect" not in cur:
            cur["connect"] = t
        elif cur is not None and name == "recvmsg" and fd in grpc and rv > 0 and "req" in cur \
                and "connack" not in cur:
            cur["resp"] = t
    close_conn()
    out = {
        "connections": len(broker), "skipped": skipped,
        "broker_p50_us": round(pct(broker, 0.5), 1), "broker_p90_us": round(pct(broker, 0.9), 1),
        "broker_p99_us": round(pct(broker, 0.99), 1),
        "broker_mean_us": round(sum(broker) / len(broker), 1) if broker else 0,
        "outside_p50_us": round(pct(outside, 0.5), 1), "outside_p99_us": round(pct(outside, 0.99), 1),
        "to_request_p50_us": round(pct(before, 0.5), 1), "to_request_p99_us": round(pct(before, 0.99), 1),
        "from_answer_p50_us": round(pct(after, 0.5), 1), "from_answer_p99_us": round(pct(after, 0.99), 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
