"""Behaviour that must hold whatever worker thread a connection lands on (run with 1 and 4
workers like the rest): per-publisher ordering to many subscribers, and session takeover
repeated many times, also while messages flow."""

from __future__ import annotations

import threading

from helpers import SLOW, TIMEOUT, V5, V311, unique, wait_until


def test_per_publisher_ordering_to_many_subscribers(start_broker):
    """[MQTT-4.6.0-5] [MQTT-4.6.0-6] (3.1.1 and 5.0): messages of one publisher on a topic reach
    each subscriber in publish order (same QoS). One publisher sends 1000 numbered QoS 1
    messages while a second one interleaves 250 of its own; four subscribers (3.1.1 and 5.0)
    on separate connections (so, with 4 workers, on different workers)."""
    broker = start_broker(limits={"max_queued": 5000})  # a slow subscriber must not drop
    subs = []
    for proto in (V311, V5, V311, V5):
        s = broker.client(protocol=proto)
        s.connect()
        s.subscribe("order/t", qos=1)
        subs.append(s)
    counts = {"A": 1000, "B": 250}
    pubs = []
    for name in counts:
        p = broker.client(protocol=V5)
        p.connect()
        pubs.append((name, p))

    def run(name: str, p) -> None:
        for i in range(counts[name]):
            p.publish("order/t", f"{name}{i}".encode(), qos=1, wait=False)

    threads = [threading.Thread(target=run, args=pair) for pair in pubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(counts.values())
    for s in subs:
        got = [m.payload.decode() for m in s.expect_messages(total, timeout=30 * SLOW)]
        for name, n in counts.items():
            seq = [int(x[1:]) for x in got if x[0] == name]
            assert seq == list(range(n)), f"{s.client_id}: publisher {name} out of order"


def test_repeated_takeover(broker, proto):
    """The session follows its client id through 30 takeovers (new connections are spread over
    the workers): each new connection has Session Present 1, the old one is closed, and the
    subscription delivers to the new owner only."""
    cid = unique("tk")
    props = {"SessionExpiryInterval": 300} if proto == V5 else None
    first = broker.client(cid, protocol=proto, clean=(proto == V5))
    first.connect(props=props)
    first.subscribe("tk/t", qos=1)
    pub = broker.client(protocol=proto)
    pub.connect()
    owner = first
    seen: set[bytes] = set()
    for i in range(30):
        new = broker.client(cid, protocol=proto, clean=False)
        assert new.connect(props=props).session_present, f"takeover {i}: session lost"
        owner.wait_disconnected()
        owner.close()
        pub.publish("tk/t", f"m{i}".encode(), qos=1)
        # Earlier messages may come again (DUP) if their PUBACK was still in flight when the
        # session moved: at least once, never something unseen.
        before = new.collect_until(f"m{i}".encode())
        assert all(m.dup and m.payload in seen for m in before), before
        seen.add(f"m{i}".encode())
        assert owner.pending() == [], f"takeover {i}: old connection got a message"
        owner = new
    pub.publish("tk/t", b"marker", qos=1)
    assert all(m.dup and m.payload in seen for m in owner.collect_until(b"marker"))


def test_takeover_while_messages_flow_loses_nothing(broker, proto):
    """QoS 1 messages queued or in flight when the session moves are delivered to the next
    connection (at least once): 300 messages, 10 takeovers, nothing lost."""
    cid = unique("tf")
    props = {"SessionExpiryInterval": 300} if proto == V5 else None
    owner = broker.client(cid, protocol=proto, clean=(proto == V5))
    owner.connect(props=props)
    owner.subscribe("tf/t", qos=1)
    incarnations = [owner]
    n = 300
    pub = broker.client(protocol=proto)
    pub.connect()
    published = threading.Event()

    def publish_all() -> None:
        for i in range(n):
            pub.publish("tf/t", str(i).encode(), qos=1)
        published.set()

    t = threading.Thread(target=publish_all)
    t.start()
    try:
        for _ in range(10):
            new = broker.client(cid, protocol=proto, clean=False)
            assert new.connect(props=props).session_present
            owner.wait_disconnected()
            owner, _ = new, incarnations.append(new)
    finally:
        t.join(60 * SLOW)
    assert published.is_set(), "publisher did not finish"
    received: set[bytes] = set()

    def all_received() -> bool:
        for c in incarnations:
            received.update(m.payload for m in c.pending())
        return len(received) == n

    wait_until(all_received, TIMEOUT * 2,
               message=f"all {n} messages across takeovers (have {len(received)})")
