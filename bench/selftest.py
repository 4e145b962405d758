#!/usr/bin/env python3
"""selftest.py - checks that hmq-bench counts what it claims to count.

Runs hmq-bench against a deliberately faulty MQTT 3.1.1 broker (asyncio, loopback, free port) that
drops, duplicates and swaps known messages on their way to the subscribers, at QoS 0, 1 and 2
(full PUBREC/PUBREL/PUBCOMP flows on both sides), and asserts the lost / duplicated / reordered
counts of the JSON line. Exit status 0 when every check passes.

usage: bench/selftest.py [path/to/hmq-bench]
"""
import asyncio
import json
import os
import struct
import subprocess
import sys

COUNT, SUBS, EVERY = 500, 2, 50  # per subscriber: COUNT / EVERY drops, dups and swaps
DROP, DUP, SWAP = 7, 13, 20      # seq % EVERY: dropped, sent twice, sent after seq + 1


def packet(first, body):
    n, rl = len(body), b""
    while True:
        d, n = n % 128, n // 128
        rl += bytes([d | (0x80 if n else 0)])
        if not n:
            return bytes([first]) + rl + body


class Client:
    def __init__(self, broker, writer):
        self.broker, self.w, self.subs, self.next_id, self.held = broker, writer, [], 1, None

    def send(self, data):
        self.w.write(data)

    def deliver(self, topic, payload, qos):
        body = struct.pack(">H", len(topic)) + topic
        if qos:
            body += struct.pack(">H", self.next_id)
            self.next_id = self.next_id % 65535 + 1
        self.send(packet(0x30 | qos << 1, body + payload))

    def route(self, topic, payload, qos):
        """Forward to this subscriber, mangled according to the sequence number."""
        sub_qos = next((q for f, q in self.subs if f == topic or
                        (f.endswith(b"/+") and topic.startswith(f[:-1]))), None)
        if sub_qos is None:
            return
        q = min(qos, sub_qos)
        seq = struct.unpack_from("<I", payload, 8)[0] % EVERY
        if seq == DROP:
            return
        if seq == SWAP:
            self.held = (topic, payload, q)
            return
        self.deliver(topic, payload, q)
        if seq == DUP:
            self.deliver(topic, payload, q)
        if self.held and seq == SWAP + 1:
            self.deliver(*self.held)
            self.held = None


class Broker:
    def __init__(self):
        self.clients = []

    async def handle(self, reader, writer):
        c = Client(self, writer)
        self.clients.append(c)
        try:
            while True:
                first = (await reader.readexactly(1))[0]
                mult, rl = 1, 0
                while True:
                    b = (await reader.readexactly(1))[0]
                    rl += (b & 127) * mult
                    mult *= 128
                    if b < 128:
                        break
                body = await reader.readexactly(rl)
                if not self.packet(c, first, body):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.clients.remove(c)
        writer.close()

    def packet(self, c, first, body):
        t = first >> 4
        if t == 1:  # CONNECT
            c.send(b"\x20\x02\x00\x00")
        elif t == 8:  # SUBSCRIBE
            pid, pos, codes = body[:2], 2, b""
            while pos < len(body):
                n = struct.unpack_from(">H", body, pos)[0]
                c.subs.append((body[pos + 2:pos + 2 + n], body[pos + 2 + n]))
                codes += bytes([body[pos + 2 + n]])
                pos += 3 + n
            c.send(packet(0x90, pid + codes))
        elif t == 3:  # PUBLISH
            qos = first >> 1 & 3
            n = struct.unpack_from(">H", body)[0]
            topic, pos = body[2:2 + n], 2 + n
            if qos:
                pid, pos = body[pos:pos + 2], pos + 2
                c.send(packet(0x40 if qos == 1 else 0x50, pid))
            for other in self.clients:
                other.route(topic, body[pos:], qos)
        elif t == 5:  # PUBREC from a subscriber
            c.send(packet(0x62, body[:2]))
        elif t == 6:  # PUBREL from a publisher
            c.send(packet(0x70, body[:2]))
        elif t == 12:  # PINGREQ
            c.send(b"\xd0\x00")
        elif t == 14:  # DISCONNECT
            return False
        return True  # PUBACK (4), PUBCOMP (7): nothing to do


async def run_bench(bench, port, qos):
    proc = await asyncio.create_subprocess_exec(
        bench, "pubsub", "--port", str(port), "--pubs", "1", "--subs", str(SUBS), "--qos",
        str(qos), "--count", str(COUNT), "--drain-idle", "0.3", "--json",
        stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    return json.loads(next(line for line in out.decode().splitlines() if line.startswith("{")))


async def main():
    here = os.path.dirname(os.path.abspath(__file__))
    bench = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build", "hmq-bench")
    server = await asyncio.start_server(Broker().handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    n = COUNT // EVERY * SUBS
    failures = 0
    for qos in (0, 1, 2):
        r = await run_bench(bench, port, qos)
        dups, other = ("dup_qos1", "dup") if qos == 1 else ("dup", "dup_qos1")
        # Every subscriber misses n / SUBS messages and gets as many twice: delivered stays even.
        want = {"sent": COUNT, "delivered": COUNT * SUBS, "lost": n, "reordered": n, dups: n,
                other: 0, "protocol_errors": 0, "unacked": 0}
        got = {k: r[k] for k in want}
        ok = got == want
        failures += not ok
        print(f"QoS {qos}: {'ok' if ok else 'FAILED'}  got {got}" + ("" if ok else f" want {want}"))
    server.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
