#!/usr/bin/env python3
"""Throughput of the MessageHooks stream: one hook server process, one "broker" client process.

The client (this process) plays the broker: it pre-encodes MessageBatch payloads (so its own
cost is small), keeps the server's credit window full, and counts decisions. The server is a
separate process running ``hooks.serve()`` with one trivial ``on_publish`` handler.

    python bench/stream_throughput.py                      # defaults: sync handler, batch 128
    python bench/stream_throughput.py --handler async --batch 64 --seconds 5

Reported, after a warm-up: messages/s (decisions received per second of wall time) and the
server process's CPU time per message (user+system, all threads), which does not depend on
what else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time

import grpc

from hookmq.v1 import hooks_pb2 as pb

SERVER = textwrap.dedent(
    """
    import sys
    from hookmq import Hooks
    hooks = Hooks("bench", window={window})
    kind = "{handler}"
    if kind == "sync":
        @hooks.on_publish("pay/+/notify")
        def h(req):
            return None
    elif kind == "async":
        @hooks.on_publish("pay/+/notify")
        async def h(req):
            return None
    elif kind == "enrich":
        @hooks.on_publish("pay/+/notify")
        def h(req):
            return req.message.with_user_property("merchant", "Acme")
    elif kind == "enrich-async":
        @hooks.on_publish("pay/+/notify")
        async def h(req):
            return req.message.with_user_property("merchant", "Acme")
    hooks.serve("127.0.0.1:{port}")
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_batches(n_batches: int, batch: int, payload: bytes) -> list[bytes]:
    out = []
    client = pb.ClientInfo(client_id="pos-0001", username="pos-0001", has_username=True,
                           listener="default", protocol_version=5, peer_address="10.1.2.3",
                           peer_port=50123, keepalive=60)
    nid = 1
    for _ in range(n_batches):
        b = pb.MessageBatch()
        for _ in range(batch):
            it = b.publish.add(id=nid, deadline_ms=200)
            nid += 1
            it.hook_ids.append(1)
            it.client.CopyFrom(client)
            m = it.message
            m.topic = "pay/0001/notify"
            m.payload = payload
            m.payload_size = len(payload)
            m.qos = 1
        out.append(b.SerializeToString())
    return out


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(port: int, batch: int, seconds: float, warmup: float, pid: int) -> tuple[float, float]:
    payload = b'{"amount":"12.50","currency":"CNY","order":"A1B2C3D4E5"}'
    batches = make_batches(max(64, 2 * 65536 // batch), batch, payload)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        await asyncio.wait_for(ch.channel_ready(), 10)
        call = ch.stream_stream(
            "/hookmq.v1.HookProvider/MessageHooks",
            request_serializer=None,
            response_deserializer=pb.DecisionBatch.FromString,
        )()
        credits = 0
        done = 0
        cpu0 = 0.0
        credit_ev = asyncio.Event()

        async def reader() -> None:
            nonlocal credits, done
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    return
                credits += msg.credits
                done += len(msg.publish)
                credit_ev.set()

        rt = asyncio.ensure_future(reader())
        i = 0
        t_start = time.perf_counter()
        t_measure = t_start + warmup
        done_at_measure = None
        t_end = t_measure + seconds
        while True:
            now = time.perf_counter()
            if done_at_measure is None and now >= t_measure:
                done_at_measure = done
                t_measure = now
                cpu0 = cpu_seconds(pid)
            if now >= t_end:
                break
            while credits < batch:
                credit_ev.clear()
                await credit_ev.wait()
            credits -= batch
            await call.write(batches[i % len(batches)])
            i += 1
        elapsed = time.perf_counter() - t_measure
        n = done - (done_at_measure or 0)
        cpu = cpu_seconds(pid) - cpu0
        await call.done_writing()
        await rt
        return n / elapsed, cpu / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--window", type=int, default=4096)
    ap.add_argument("--handler", choices=["sync", "async", "enrich", "enrich-async"], default="sync")
    args = ap.parse_args()
    port = free_port()
    src = SERVER.format(port=port, handler=args.handler, window=args.window)
    proc = subprocess.Popen([sys.executable, "-c", src], env=dict(os.environ))
    try:
        rate, cpu_us = asyncio.run(run(port, args.batch, args.seconds, args.warmup, proc.pid))
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"handler={args.handler} batch={args.batch} window={args.window}: {rate:,.0f} msg/s; "
        f"server CPU {cpu_us:.2f} us/msg (= {1e6 / cpu_us:,.0f} msg/s per fully used core)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
