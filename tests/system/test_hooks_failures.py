"""Message hooks when the hook server fails: deadlines and handler errors under each
`on_failure`, calls in flight when the server dies, authorize / on_subscribe while it is down,
`stale` reusing expired answers, the server killed and restarted while clients publish (and its
cached answers dropped when it comes back), and mandatory gating of CONNECT until every
mandatory server has handshaken. Hook server: tests/system/hook_apps/message_hooks.py (SDK).
"""
from __future__ import annotations

import threading
import time

import pytest

from helpers import (BROKER_KIND, TIMEOUT, V311, V5, free_port, hook_server_entry,
                     publish_nowait, unique, wait_hooks_ready, wait_puback, wait_until)

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's hook engine")

OK = (0, 0x10)
UNSPECIFIED_ERROR, SERVER_UNAVAILABLE = 0x80, 0x88


def _props(m) -> dict[str, str]:
    return dict(m.props.get("UserProperty", []))


@pytest.mark.parametrize("policy", ["deny", "allow", "continue", "stale"])
def test_on_publish_failures_follow_on_failure(start_broker, hook_app, policy):
    """A deadline expiring (late/#: the hook sleeps 8 s, the deadline is 300 ms; a PUBACK within
    TIMEOUT shows the deadline decided, not the hook, whose answer would add late=answered) and a
    handler raising (boom/#: the SDK answers FAILURE) both turn into the on_failure policy."""
    app = hook_app("message_hooks.py", "--features", "modify,late,boom", "--late-ms", "8000")
    b = start_broker(hooks={"servers": [hook_server_entry(
        "msg", app.port, on_publish_deadline_ms=300, on_publish_on_failure=policy)]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("late/#", 1), ("boom/#", 1), ("modded/#", 1)])
    pub = b.client(protocol=V5)
    pub.connect()
    # the stream is up and answering before the deadline is put to the test
    assert pub.publish("mod/warm", b"warm", qos=1) in OK
    assert sub.expect_message().payload == b"modified:warm"

    dropped = policy in ("deny", "stale")  # stale: no cached answer for messages -> deny
    for topic in ("late/x", "boom/x"):
        rc = pub.publish(topic, b"L1", qos=1, timeout=TIMEOUT)
        assert rc == (UNSPECIFIED_ERROR if dropped else 0), f"{topic} on_failure={policy}: {rc:#x}"
        # the failed request did not break the stream: the next hooked message is changed again
        assert pub.publish("mod/after", b"after", qos=1) in OK
        got = sub.collect_until(b"modified:after")
        if dropped:
            assert got == [], f"{topic} on_failure={policy}: dropped"
        else:
            assert [(m.topic, m.payload) for m in got] == [(topic, b"L1")]
            assert _props(got[0]) == {}, "delivered unchanged (a late answer is ignored)"


def test_calls_in_flight_fail_when_the_server_dies(start_broker, hook_app):
    """Requests outstanding on a stream that breaks fail at once (on_failure: deny), long
    before their 20 s deadline."""
    app = hook_app("message_hooks.py", "--features", "late", "--late-ms", "60000")
    b = start_broker(hooks={"servers": [hook_server_entry(
        "msg", app.port, on_publish_deadline_ms=20000, on_publish_on_failure="deny")]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("late/#", 1), ("plain/#", 1)])
    pub = b.client(protocol=V5)
    pub.connect()
    mids = [publish_nowait(pub, "late/x", f"L{i}".encode()) for i in range(5)]
    wait_until(lambda: app.log_tail(1000).count("LATE ") >= 5,
               message="the five requests inside the hook")
    app.kill()
    codes = [wait_puback(pub, mid, timeout=TIMEOUT) for mid in mids]
    assert codes == [UNSPECIFIED_ERROR] * 5
    assert pub.publish("plain/end", b"end", qos=1) in OK
    assert sub.collect_until(b"end") == []


@pytest.mark.parametrize("policy", ["deny", "allow"])
def test_authorize_and_on_subscribe_while_the_server_is_down(start_broker, hook_app, policy):
    app = hook_app("message_hooks.py", "--features", "authz,subscribe")
    b = start_broker(hooks={"servers": [hook_server_entry(
        "msg", app.port, deadline_ms=1000, authorize_on_failure=policy,
        on_subscribe_on_failure=policy)]})
    wait_hooks_ready(b)
    cid = unique("sub")
    sub = b.client(client_id=cid, protocol=V5)
    sub.connect()
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("acl/open", b"up", qos=1) in OK  # allowed while the server is up
    app.kill()
    codes = sub.subscribe([("acl/open", 1), ("news", 1), ("free/#", 1)])
    assert codes == ([UNSPECIFIED_ERROR, UNSPECIFIED_ERROR, 1] if policy == "deny" else [1, 1, 1])
    rc = pub.publish("acl/open", b"a1", qos=1)
    assert rc == (UNSPECIFIED_ERROR if policy == "deny" else 0)
    pub.publish("news", b"n1", qos=1)
    pub.publish(f"tenant/{cid}/news", b"t1", qos=1)
    assert pub.publish("free/end", b"end", qos=1) in OK
    got = [(m.topic, m.payload) for m in sub.collect_until(b"end")]
    # allow: subscribed as requested ("news" itself: nobody could rewrite it), published as is
    assert got == ([] if policy == "deny" else [("acl/open", b"a1"), ("news", b"n1")])


def test_authorize_stale_reuses_the_last_answer(start_broker, hook_app):
    app = hook_app("message_hooks.py", "--features", "authz_cached")
    b = start_broker(hooks={"servers": [hook_server_entry(
        "msg", app.port, deadline_ms=1000, authorize_on_failure="stale")]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe("cached/#", qos=1)
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("cached/open", b"o1", qos=1) == 0
    assert pub.publish("cached/secret", b"s1", qos=1) == 0x87
    app.kill()
    time.sleep(0.5)  # the feature under test: the answers' 0.3 s cache TTL runs out
    assert pub.publish("cached/open", b"o2", qos=1) == 0, "the expired ALLOW is reused"
    assert pub.publish("cached/secret", b"s2", qos=1) == 0x87, "so is the expired DENY"
    assert pub.publish("cached/never", b"n1", qos=1) == UNSPECIFIED_ERROR, "no answer: deny"
    assert pub.publish("cached/open", b"end", qos=1) == 0
    got = [m.payload for m in sub.collect_until(b"end")]
    assert got == [b"o1", b"o2"]


class _Publisher(threading.Thread):
    """Publishes QoS 1 alternately to plain/<n> (not hooked) and hooked/<n>, each waiting for
    its PUBACK (a missing PUBACK ends the thread with an error), until stopped."""

    def __init__(self, b, n: int) -> None:
        super().__init__(daemon=True, name=f"publisher-{n}")
        self.n = n
        self.client = b.client(client_id=unique(f"pub{n}-"), protocol=V5)
        self.client.connect()
        self.sent: list[tuple[str, bytes, int]] = []  # (topic, payload, PUBACK code)
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        k = 0
        try:
            while not self.stop.is_set():
                topic = f"plain/{self.n}" if k % 2 == 0 else f"hooked/{self.n}"
                payload = f"{self.n}:{k}".encode()
                rc = self.client.publish(topic, payload, qos=1, timeout=TIMEOUT)
                with self.lock:
                    self.sent.append((topic, payload, rc))
                k += 1
            self.client.publish("plain/end", f"end{self.n}".encode(), qos=1, timeout=TIMEOUT)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def snapshot(self) -> list[tuple[str, bytes, int]]:
        with self.lock:
            return list(self.sent)


@pytest.mark.parametrize("policy", ["deny", "allow"])
def test_hook_server_killed_and_restarted_under_load(start_broker, hook_app, policy):
    app = hook_app("message_hooks.py", "--features", "gen", "--tag", "gen1")
    b = start_broker(limits={"max_queued": 1000000}, hooks={"servers": [hook_server_entry(
        "gen", app.port, on_publish_deadline_ms=1000, on_publish_on_failure=policy)]})
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("plain/#", 1), ("hooked/#", 1)])
    received: list = []

    def drain() -> list:
        received.extend(sub.pending())
        return received

    def hooked_seen(pred) -> bool:
        return any(m.topic.startswith("hooked/") and pred(m) for m in drain())

    pubs = [_Publisher(b, n) for n in (1, 2)]
    for p in pubs:
        p.start()
    try:
        wait_until(lambda: hooked_seen(lambda m: _props(m).get("gen") == "gen1"),
                   message="hooked messages changed by the first server")
        app.kill()
        mark = [len(p.snapshot()) for p in pubs]  # publishes so far: possibly before the kill
        if policy == "deny":
            wait_until(lambda: any(rc == UNSPECIFIED_ERROR for p, m in zip(pubs, mark)
                                   for _t, _pl, rc in p.snapshot()[m:]),
                       message="hooked publishes refused (0x80) while the server is down")
        else:
            wait_until(lambda: hooked_seen(lambda m: "gen" not in _props(m)),
                       message="hooked publishes routed unchanged while the server is down")
        # while it is down, new clients still get in (it has handshaken once) and publish
        c = b.client(protocol=V5)
        assert c.connect(expect_rc=None).rc == 0
        assert c.publish("plain/0", b"during-outage", qos=1) in OK
        app.restart(["--features", "gen", "--tag", "gen2"])
        wait_until(lambda: hooked_seen(lambda m: _props(m).get("gen") == "gen2"),
                   timeout=3 * TIMEOUT, message="hooked messages changed by the restarted server")
    finally:
        for p in pubs:
            p.stop.set()
        for p in pubs:
            p.join(2 * TIMEOUT)
    for p in pubs:
        assert p.error is None, f"publisher {p.n}: {p.error}"  # every PUBACK came
    wait_until(lambda: {m.payload for m in drain()} >= {b"end1", b"end2"},
               message="the publishers' end markers")

    delivered = {m.payload: m for m in received}
    assert len(delivered) == len(received), "no duplicates on a connection that never broke"
    assert b"during-outage" in delivered
    for p in pubs:
        sent = p.snapshot()
        mine = {pl for _t, pl, _rc in sent}
        order = [m.payload for m in received if m.payload in mine]
        assert order == [pl for _t, pl, _rc in sent if pl in delivered], "publish order kept"
        for topic, payload, rc in sent:
            m = delivered.get(payload)
            if topic.startswith("plain/"):
                assert rc in OK and m is not None, f"un-hooked {payload!r} always delivered"
            elif rc == UNSPECIFIED_ERROR:
                assert policy == "deny" and m is None, f"{payload!r} refused and not delivered"
            else:
                assert rc in OK and m is not None, f"{payload!r}: PUBACK {rc:#x}, delivered {m}"
                gen = _props(m).get("gen")
                assert gen in ("gen1", "gen2") or (policy == "allow" and gen is None), m


def test_mandatory_server_gates_connect_until_handshake(start_broker, hook_app):
    port = free_port()  # the hook server will listen here, after the broker started
    b = start_broker(hooks={"servers": [hook_server_entry("msg", port, mandatory=True)]})
    for _ in range(2):
        assert b.client(protocol=V5).connect(expect_rc=None).rc == SERVER_UNAVAILABLE
        raw = b.raw(V311)
        assert raw.connect(unique("raw"), expect_rc=None).rc == 3, "v3.1.1: server unavailable"
        raw.close()
    hook_app("message_hooks.py", "--features", "modify", port=port)
    wait_hooks_ready(b)  # accepted once the server is up and has handshaken
    raw = b.raw(V311)
    assert raw.connect(unique("raw"), expect_rc=None).rc == 0
    raw.close()
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe("modded/#", qos=1)
    pub = b.client(protocol=V311)
    pub.connect()
    assert pub.publish("mod/x", b"x", qos=1) in OK
    assert sub.expect_message().payload == b"modified:x", "and its hooks apply"


def test_restarted_server_invalidates_its_cached_answers(start_broker, hook_app):
    """A server that comes back with a new instance id: the broker drops the answers it cached
    from the old instance (here a 60 s denial) instead of serving them until they expire."""
    app = hook_app("message_hooks.py", "--features", "authz_cached", "--tag", "strict",
                   "--cache-ttl", "60")
    b = start_broker(hooks={"servers": [hook_server_entry("msg", app.port, deadline_ms=1000)]})
    wait_hooks_ready(b)
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("cached/secret", b"s1", qos=1) == 0x87  # denied, cached for 60 s
    assert pub.publish("cached/secret", b"s2", qos=1) == 0x87
    app.restart(["--features", "authz_cached", "--tag", "open", "--cache-ttl", "60"])
    wait_until(lambda: b.stderr_text().count("msg=hook_handshake") >= 2,
               timeout=3 * TIMEOUT, message="the broker's handshake with the new instance")
    # (while the stream reopens a publish may fail: deny, 0x80; the old 0x87 must not come back)
    # (allowed: 0x10, no matching subscribers, is a success code)
    wait_until(lambda: pub.publish("cached/secret", b"s3", qos=1) in (0, 0x10),
               timeout=3 * TIMEOUT,
               message="the new instance's answer instead of the cached denial")


def test_mandatory_gating_waits_for_every_mandatory_server(start_broker, hook_app):
    a = hook_app("message_hooks.py", "--features", "chain_a", "--tag", "A")
    port_b = free_port()
    b = start_broker(hooks={"servers": [hook_server_entry("srv_a", a.port),
                                        hook_server_entry("srv_b", port_b)]})
    wait_until(lambda: "server=srv_a" in b.stderr_text() and
               "msg=hook_handshake server=srv_a" in b.stderr_text(),
               message="srv_a's handshake")
    assert b.client(protocol=V5).connect(expect_rc=None).rc == SERVER_UNAVAILABLE, \
        "srv_b has not handshaken yet"
    hook_app("message_hooks.py", "--features", "chain_b", port=port_b)
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe("chain/#", qos=1)
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("chain/x", b"x", qos=1) == 0
    assert dict(sub.expect_message().props["UserProperty"]) == {"a": "A", "b": "A"}
