"""Message hooks and the flow of messages: per-connection order of deliveries and PUBACKs kept
behind slow hooks (with few credits and with backpressure too), other clients not slowed or
blocked by them, publishes of a closed connection never routed late, one server with two
endpoints, and events delivered to an on_event handler.
Hook server: tests/system/hook_apps/message_hooks.py (SDK).
"""
from __future__ import annotations

import json

import pytest

from helpers import (BROKER_KIND, TIMEOUT, V311, V5, hook_server_entry, publish_nowait,
                     pubacks_received, unique, wait_hooks_ready, wait_puback, wait_until)
from mqttraw import PUBACK, publish as raw_publish

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's hook engine")

N = 300
TOPICS = ("slow/a", "fast/a", "plain/a")  # hook sleeps 20-50 ms / hook answers at once / no hook
MARK = {"slow/a": ("slow", "1"), "fast/a": ("fast", "1")}


@pytest.mark.parametrize("window", [4096, 4], ids=["credits4096", "credits4"])
def test_order_kept_behind_slow_hooks_and_other_clients_not_slowed(start_broker, hook_app,
                                                                   window):
    # credits4: the server grants the broker only 4 outstanding requests at a time
    app = hook_app("message_hooks.py", "--features", "slow", "--window", str(window))
    b = start_broker(hooks={"servers": [hook_server_entry("msg", app.port, deadline_ms=10000)]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("slow/#", 1), ("fast/#", 1), ("plain/#", 1)])
    other_sub = b.client(protocol=V5)
    other_sub.connect()
    other_sub.subscribe("other/#", qos=1)
    other = b.client(protocol=V5)
    other.connect()
    pub = b.client(protocol=V5)
    pub.connect()

    mids = [publish_nowait(pub, TOPICS[i % 3], str(i).encode(), qos=1) for i in range(N)]
    # Meanwhile a client whose topics no hook wants completes round trips: publish, PUBACK,
    # delivery. ~100 hook calls of 20-50 ms, 16 in flight at a time, keep `pub` busy for
    # most of a second; these round trips must not queue behind them.
    for k in range(5):
        assert other.publish("other/b", f"o{k}".encode(), qos=1) == 0
        assert other_sub.expect_message().payload == f"o{k}".encode()
    pending = N - pubacks_received(pub, mids)
    assert pending > 0, "the other client's round trips finished while the slow ones were pending"

    codes = [wait_puback(pub, mid, timeout=3 * TIMEOUT) for mid in mids]
    assert codes == [0] * N
    got = sub.expect_messages(N, timeout=3 * TIMEOUT)
    assert [m.payload for m in got] == [str(i).encode() for i in range(N)], \
        "delivered in exactly the publish order, slow hooks or not"
    for i, m in enumerate(got):
        topic = TOPICS[i % 3]
        assert m.topic == topic
        props = [tuple(p) for p in m.props.get("UserProperty", [])]
        assert props == ([MARK[topic]] if topic in MARK else []), f"message {i}: {m!r}"


def test_events_reach_on_event_handler(start_broker, hook_app, tmp_path):
    events = tmp_path / "events.jsonl"
    app = hook_app("message_hooks.py", "--features", "events", "--events-file", str(events))
    b = start_broker(hooks={"servers": [hook_server_entry("ev", app.port)]})
    wait_hooks_ready(b)
    cid = unique("ev")
    c = b.client(client_id=cid, protocol=V5)
    c.connect()
    assert c.subscribe("ev/t", qos=1) == [1]
    c.disconnect()

    def mine() -> list[dict]:
        if not events.exists():
            return []
        lines = [json.loads(x) for x in events.read_text().splitlines() if x.strip()]
        return [e for e in lines if e["client_id"] == cid]

    seen = wait_until(lambda: len(mine()) >= 3 and mine(), timeout=3 * TIMEOUT,
                      message="connected, subscribed and disconnected events")
    assert [e["type"] for e in seen] == [
        "client.connected", "session.subscribed", "client.disconnected"], \
        f"one client's events in order: {seen}"
    assert (seen[1]["filter"], seen[1]["granted_qos"]) == ("ev/t", 1)


@pytest.mark.parametrize("protocol,window", [(V5, None), (V5, 2), (V311, 2)],
                         ids=["v5", "v5-window2", "v311-window2"])
def test_acks_in_publish_order_with_drops_and_backpressure(start_broker, hook_app, protocol,
                                                          window):
    """A burst of QoS 1 publishes, slow hooks, instant drops, instant changes and un-hooked
    topics mixed: PUBACKs in the order of the PUBLISHes [MQTT-4.6.0-2], each with its code,
    deliveries in the same order. With hooks.max_inflight_per_connection = 2 the broker stops
    reading the connection while two wait (backpressure): slower, but nothing lost."""
    app = hook_app("message_hooks.py", "--features", "slow,drop")
    hooks: dict = {"servers": [hook_server_entry("msg", app.port, deadline_ms=10000)]}
    if window:
        hooks["max_inflight_per_connection"] = window
    b = start_broker(hooks=hooks)
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("slow/#", 1), ("drop/#", 1), ("fast/#", 1), ("plain/#", 1)])
    plan = []
    for i in range(24):
        topic, prefix = [("slow/a", "s"), ("drop/a", "bad"), ("fast/a", "f"), ("plain/a", "p")][i % 4]
        plan.append((topic, f"{prefix}{i}".encode()))
    raw = b.raw(protocol)
    raw.connect(unique("raw"))
    raw.send(b"".join(raw_publish(t, p, qos=1, pid=i + 1, version=protocol)
                      for i, (t, p) in enumerate(plan)))
    acks = [raw.expect(PUBACK, timeout=3 * TIMEOUT) for _ in plan]
    assert [a.pid for a in acks] == list(range(1, len(plan) + 1)), "PUBACKs in publish order"
    dropped = 0x99 if protocol == V5 else 0
    assert [a.rc for a in acks] == [dropped if t == "drop/a" else 0 for t, _ in plan]
    kept = [p for t, p in plan if t != "drop/a"]
    got = sub.expect_messages(len(kept), timeout=3 * TIMEOUT)
    assert [m.payload for m in got] == kept
    raw.publish("plain/end", b"end", qos=1, pid=100)
    assert sub.collect_until(b"end") == [], "and the dropped ones never"


def test_connection_closed_while_publishes_wait_for_hooks(start_broker, hook_app):
    """Publishes held for hooks when their connection goes away are dropped, not routed after
    the fact (QoS 1/2 would come again from the client), and the broker stays healthy."""
    app = hook_app("message_hooks.py", "--features", "late", "--late-ms", "1000")
    b = start_broker(hooks={"servers": [hook_server_entry("msg", app.port, deadline_ms=10000)]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("late/#", 1), ("plain/#", 1)])
    raw = b.raw(V5)
    raw.connect(unique("gone"))
    raw.send(b"".join(raw_publish("late/gone", f"g{i}".encode(), qos=1 if i < 3 else 0,
                                  pid=i + 1 if i < 3 else None, version=V5) for i in range(4)))
    wait_until(lambda: app.log_tail(1000).count("LATE g") >= 4,
               message="the held publishes inside the hook")
    raw.abort()
    # A later publish on the same hook is answered after the earlier ones (same sleep, started
    # later): once it arrives, the answers for the closed connection have come back too.
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("late/kept", b"kept", qos=1, timeout=3 * TIMEOUT) == 0
    got = sub.collect_until(b"kept", timeout=3 * TIMEOUT)
    assert got == [], f"publishes of the closed connection must not be routed: {got!r}"
    b.assert_serving()


def test_one_server_two_endpoints(start_broker, hook_app):
    """Two processes listed as endpoints of one server: the broker uses both (it keeps each
    client on one stream, so 20 clients land on both but for a 2^-19 chance), and when one dies
    its clients move to the other."""
    e1 = hook_app("message_hooks.py", "--features", "gen", "--tag", "e1")
    e2 = hook_app("message_hooks.py", "--features", "gen", "--tag", "e2")
    entry = hook_server_entry("msg", e1.port, on_publish_on_failure="deny")
    entry["endpoints"] = [f"127.0.0.1:{e1.port}", f"127.0.0.1:{e2.port}"]
    b = start_broker(hooks={"servers": [entry]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe("hooked/#", qos=1)
    clients = [b.client(protocol=V5) for _ in range(20)]
    for c in clients:
        c.connect()

    def round_of_publishes() -> set[str | None]:
        """One publish per client; the gens seen, None for a refused publish."""
        gens: set[str | None] = set()
        for c in clients:
            rc = c.publish("hooked/x", c.client_id.encode(), qos=1)
            if rc != 0:
                gens.add(None)
                continue
            m = sub.expect_message()
            assert m.payload == c.client_id.encode()
            gens.add(dict(m.props.get("UserProperty", [])).get("gen"))
        return gens

    assert round_of_publishes() == {"e1", "e2"}, "both endpoints used"
    e2.kill()
    # publishes caught on the dying stream are refused (deny, 0x80); then e1 serves everyone
    wait_until(lambda: round_of_publishes() == {"e1"}, timeout=3 * TIMEOUT,
               message="every client served by e1")
    assert round_of_publishes() == {"e1"}


def test_hook_call_in_progress_blocks_nobody_else(hook_app, start_broker):
    """While one client's publish sits in a hook (60 s sleep, 30 s deadline), other clients'
    publishes, un-hooked and hooked on the same server and stream, complete at once; the first
    client gets no PUBACK meanwhile. Then the broker shuts down cleanly with the call pending
    (hook_app is set up first, so its teardown runs after the broker's)."""
    app = hook_app("message_hooks.py", "--features", "late,modify", "--late-ms", "60000")
    b = start_broker(hooks={"servers": [hook_server_entry(
        "msg", app.port, on_publish_deadline_ms=30000)]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("other/#", 1), ("modded/#", 1)])
    stuck = b.client(protocol=V5)
    stuck.connect()
    mid = publish_nowait(stuck, "late/x", b"stuck")
    wait_until(lambda: "LATE stuck" in app.log_tail(1000), message="the publish inside the hook")
    for k in range(3):
        c = b.client(protocol=V5)
        c.connect()
        assert c.publish("other/b", f"o{k}".encode(), qos=1) == 0
        assert sub.expect_message().payload == f"o{k}".encode()
        assert c.publish("mod/c", f"m{k}".encode(), qos=1) == 0
        assert sub.expect_message().payload == f"modified:m{k}".encode()
    assert pubacks_received(stuck, [mid]) == 0, "the first client's publish is still in its hook"
