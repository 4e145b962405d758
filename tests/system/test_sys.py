"""$SYS topics (retained, republished every broker.sys_interval = 1 s by the test config):
version, uptime, clients connected, message and byte counters.

The values are read as text; counters and uptime as the leading integer of the payload
(mosquitto, the debugging peer, writes uptime as "12 seconds")."""

from __future__ import annotations

import queue
import re
import time

from helpers import TIMEOUT, V5, V311

SYS_WAIT = TIMEOUT + 3.0  # a few sys intervals


def number(payload: bytes) -> int:
    m = re.match(rb"\s*(\d+)", payload)
    assert m, f"not a number: {payload!r}"
    return int(m.group(1))


class SysWatcher:
    """Subscribes to $SYS topics and keeps the latest value of each."""

    def __init__(self, broker, topics: list[str], protocol: int = V5) -> None:
        self.c = broker.client(protocol=protocol)
        self.c.connect()
        self.c.subscribe([(t, 0) for t in topics])
        self.latest: dict[str, bytes] = {}

    def _pump(self, timeout: float) -> None:
        try:
            m = self.c.messages.get(timeout=timeout)
        except queue.Empty:
            return
        self.latest[m.topic] = m.payload

    def wait(self, topic: str, predicate, timeout: float = SYS_WAIT, what: str = "") -> bytes:
        """Wait until the latest value of `topic` satisfies `predicate(payload)`."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.latest.get(topic)
            if value is not None and predicate(value):
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{topic}: last value {value!r}, waited {timeout}s for {what}")
            self._pump(min(remaining, 0.2))


def test_sys_version_is_retained_and_uptime_increases(broker):
    w = SysWatcher(broker, ["$SYS/broker/version", "$SYS/broker/uptime"])
    version = w.wait("$SYS/broker/version", lambda v: True, what="a version")
    assert version.strip() and version.decode("utf-8").isprintable()
    late = broker.client(protocol=V311)
    late.connect()
    late.subscribe("$SYS/broker/version", qos=0)
    m = late.expect_message()
    assert (m.payload, m.retain) == (version, True), "version not retained"

    first = number(w.wait("$SYS/broker/uptime", lambda v: True, what="an uptime"))
    later = number(w.wait("$SYS/broker/uptime", lambda v: number(v) > first,
                          what=f"uptime above {first}"))
    assert first < later < first + 60


def test_sys_clients_connected_follows_connections(broker):
    topic = "$SYS/broker/clients/connected"
    w = SysWatcher(broker, [topic])
    w.wait(topic, lambda v: number(v) == 1, what="only the watcher connected")
    clients = []
    for _ in range(3):
        c = broker.client(protocol=V311)
        c.connect()
        clients.append(c)
    w.wait(topic, lambda v: number(v) == 4, what="4 clients")
    clients[0].disconnect()
    clients[1].drop()
    w.wait(topic, lambda v: number(v) == 2, what="2 clients after a disconnect and a drop")


def test_sys_message_and_byte_counters_increase(broker):
    counters = ["$SYS/broker/messages/received", "$SYS/broker/messages/sent",
                "$SYS/broker/bytes/received", "$SYS/broker/bytes/sent"]
    w = SysWatcher(broker, counters)
    start = {t: number(w.wait(t, lambda v: True, what="a first value")) for t in counters}
    subs = []
    for _ in range(3):
        s = broker.client(protocol=V5)
        s.connect()
        s.subscribe("count/t", qos=1)
        subs.append(s)
    pub = broker.client(protocol=V5)
    pub.connect()
    n, size = 20, 500
    for i in range(n):
        pub.publish("count/t", bytes([65 + i % 26]) * size, qos=1)
    for s in subs:
        s.expect_messages(n)
    # $SYS traffic to the watcher alone adds a handful of messages and < 1 KB per interval.
    w.wait(counters[0], lambda v: number(v) >= start[counters[0]] + n, what=f"+{n} received")
    w.wait(counters[1], lambda v: number(v) >= start[counters[1]] + 3 * n, what=f"+{3 * n} sent")
    w.wait(counters[2], lambda v: number(v) >= start[counters[2]] + n * size,
           what=f"+{n * size} bytes received")
    w.wait(counters[3], lambda v: number(v) >= start[counters[3]] + 3 * n * size,
           what=f"+{3 * n * size} bytes sent")
