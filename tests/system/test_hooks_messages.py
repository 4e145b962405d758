"""Message hooks with real SDK hook servers (tests/system/hook_apps/message_hooks.py): on_publish
changing and dropping messages, publish and subscribe authorization, on_subscribe rewriting and
capping subscriptions, and two servers chained.

What must not be delivered is checked with a marker: the same publisher publishes a sentinel
afterwards, and the subscriber must receive the sentinel without the refused message before it.
"""
from __future__ import annotations

import pytest

from helpers import BROKER_KIND, V311, V5, hook_server_entry, unique, wait_hooks_ready
from mqttraw import PUBCOMP, PUBREC, pubrel, publish as raw_publish

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's hook engine")

OK = (0, 0x10)  # PUBACK success (0x10: no matching subscribers, not expected here)
PAYLOAD_FORMAT_INVALID, QUOTA_EXCEEDED, NOT_AUTHORIZED = 0x99, 0x97, 0x87


def _hooked_broker(start_broker, hook_app, features: str, tag: str = "g1", **server):
    app = hook_app("message_hooks.py", "--features", features, "--tag", tag)
    b = start_broker(hooks={"servers": [hook_server_entry("msg", app.port, **server)]})
    wait_hooks_ready(b)
    return b


def _user_props(m) -> list[tuple[str, str]]:
    return [tuple(p) for p in m.props.get("UserProperty", [])]


@pytest.mark.parametrize("protocol", [V311, V5], ids=["pub-v311", "pub-v5"])
def test_on_publish_changes_topic_payload_and_properties(start_broker, hook_app, protocol):
    b = _hooked_broker(start_broker, hook_app, "modify", tag="g1")
    sub = b.client(protocol=V5)
    sub.connect()
    assert sub.subscribe([("mod/#", 1), ("modded/#", 1), ("plain/#", 1)]) == [1, 1, 1]
    pub = b.client(protocol=protocol)
    pub.connect()
    props = {"UserProperty": [("orig", "1")]} if protocol == V5 else None
    assert pub.publish("mod/a", b"hello", qos=1, props=props) in OK
    assert pub.publish("plain/end", b"end", qos=1) in OK
    got = sub.collect_until(b"end")
    assert len(got) == 1, f"exactly the changed message, never the original: {got!r}"
    m = got[0]
    assert (m.topic, m.payload, m.qos) == ("modded/a", b"modified:hello", 1)
    expected = ([("orig", "1")] if protocol == V5 else []) + [("hooked", "g1")]
    assert _user_props(m) == expected, "the hook's property is added after the publisher's"


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_on_publish_drop(start_broker, hook_app, protocol):
    b = _hooked_broker(start_broker, hook_app, "drop")
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("drop/#", 1), ("plain/#", 1)])
    pub = b.client(protocol=protocol)
    pub.connect()
    assert pub.publish("drop/a", b"good1", qos=1) in OK
    rc = pub.publish("drop/a", b"bad-q1", qos=1)
    # MQTT 5: the hook's reason code in the PUBACK; MQTT 3.1.1 has no negative PUBACK
    assert rc == (PAYLOAD_FORMAT_INVALID if protocol == V5 else 0)
    pub.publish("drop/a", b"bad-q0", qos=0)
    assert pub.publish("drop/a", b"good2", qos=1) in OK
    assert pub.publish("plain/end", b"end", qos=1) in OK
    got = sub.collect_until(b"end")
    assert [m.payload for m in got] == [b"good1", b"good2"], "dropped messages are never delivered"
    assert pub.publish("drop/b", b"still connected", qos=1) in OK, "a drop does not disconnect"


def test_on_publish_changes_properties_qos_and_retain(start_broker, hook_app):
    b = _hooked_broker(start_broker, hook_app, "enrich")
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("pay/#", 2), ("plain/#", 1)])
    cid = unique("pay")
    pub = b.client(client_id=cid, protocol=V5)
    pub.connect()
    assert pub.publish("pay/a", b'{"amount":"1.00"}', qos=1) in OK
    m = sub.expect_message()
    assert (m.topic, m.qos, m.retain) == ("pay/a", 1, False)
    assert m.props.get("ContentType") == "application/json"
    assert m.props.get("PayloadFormatIndicator") == 1
    assert 0 < m.props.get("MessageExpiryInterval", 0) <= 60
    assert m.props.get("ResponseTopic") == f"reply/{cid}"
    assert m.props.get("CorrelationData") == b"c1"
    assert pub.publish("pay/q0", b"q", qos=1) in OK, "acknowledged as published (QoS 1)"
    assert sub.expect_message().qos == 0, "routed at the QoS the hook set"
    assert pub.publish("pay/keep", b"k", qos=1) in OK
    assert sub.expect_message().retain is False  # a live delivery: retain as published is off
    late = b.client(protocol=V5)
    late.connect()
    late.subscribe("pay/keep", qos=1)
    m = late.expect_message()
    assert (m.payload, m.retain) == (b"k", True), "the hook's retain flag stored it"


def test_on_publish_without_payload_keeps_the_payload(start_broker, hook_app):
    """A hook registered with payload=False gets only payload_size; its change (a property)
    must not replace the real payload with the empty one it saw."""
    b = _hooked_broker(start_broker, hook_app, "nopayload")
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe("np/#", qos=1)
    pub = b.client(protocol=V5)
    pub.connect()
    body = b"x" * 5000
    assert pub.publish("np/a", body, qos=1) in OK
    m = sub.expect_message()
    assert m.payload == body
    assert _user_props(m) == [("size", "5000"), ("payload_seen", "0")]


def test_on_publish_sees_the_topic_behind_a_topic_alias(start_broker, hook_app):
    b = _hooked_broker(start_broker, hook_app, "modify")
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("modded/#", 1), ("plain/#", 1)])
    raw = b.raw(V5)
    raw.connect(unique("alias"))
    raw.publish("mod/aliased", b"one", qos=1, pid=1, props={"TopicAlias": 3})
    raw.publish("", b"two", qos=1, pid=2, props={"TopicAlias": 3})  # the alias alone
    raw.publish("plain/end", b"end", qos=1, pid=3)
    got = sub.collect_until(b"end")
    assert [(m.topic, m.payload) for m in got] == [("modded/aliased", b"modified:one"),
                                                   ("modded/aliased", b"modified:two")]


def test_on_publish_change_applies_to_the_retained_message(start_broker, hook_app):
    b = _hooked_broker(start_broker, hook_app, "modify", tag="g1")
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("mod/r", b"keep", qos=1, retain=True) in (0, 0x10)
    late = b.client(protocol=V5)
    late.connect()
    assert late.subscribe([("modded/#", 1), ("mod/#", 1), ("plain/#", 1)]) == [1, 1, 1]
    m = late.expect_message()
    assert (m.topic, m.payload, m.retain) == ("modded/r", b"modified:keep", True)
    assert _user_props(m) == [("hooked", "g1")]
    assert pub.publish("plain/end", b"end", qos=1) in OK
    assert late.collect_until(b"end") == [], "the original was never retained"


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_on_publish_drop_qos2(start_broker, hook_app, protocol):
    b = _hooked_broker(start_broker, hook_app, "drop")
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("drop/#", 2), ("plain/#", 2)])
    raw = b.raw(protocol)
    raw.connect(unique("raw"))
    raw.send(raw_publish("drop/a", b"bad-q2", qos=2, pid=7, version=protocol))
    rec = raw.expect(PUBREC)
    assert rec.pid == 7
    if protocol == V5:
        assert rec.rc == PAYLOAD_FORMAT_INVALID, "the hook's code ends the QoS 2 exchange"
    else:
        assert rec.rc == 0
        raw.send(pubrel(7, protocol))
        comp = raw.expect(PUBCOMP)
        assert (comp.pid, comp.rc) == (7, 0)
    raw.publish("drop/a", b"good-q2", qos=2, pid=8)
    raw.publish("plain/end", b"end", qos=2, pid=9)
    got = sub.collect_until(b"end")
    assert [m.payload for m in got] == [b"good-q2"], "the dropped QoS 2 message never delivered"


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_authorize_publish_and_subscribe(start_broker, hook_app, protocol):
    b = _hooked_broker(start_broker, hook_app, "authz")
    refused = NOT_AUTHORIZED if protocol == V5 else 0x80
    sub = b.client(protocol=protocol)
    sub.connect()
    codes = sub.subscribe([("acl/#", 1), ("acl/secret/#", 1), ("plain/#", 1)])
    assert codes == [1, refused, 1], "per-filter SUBACK codes: only the secret filter refused"
    pub = b.client(protocol=protocol)
    pub.connect()
    assert pub.publish("acl/open", b"o1", qos=1) in OK
    assert pub.publish("acl/secret/x", b"s1", qos=1) == (NOT_AUTHORIZED if protocol == V5 else 0)
    pub.publish("acl/secret/x", b"s0", qos=0)
    assert pub.publish("acl/open", b"o2", qos=1) in OK
    assert pub.publish("plain/end", b"end", qos=1) in OK
    got = sub.collect_until(b"end")
    assert [(m.topic, m.payload) for m in got] == [("acl/open", b"o1"), ("acl/open", b"o2")]


def test_authorize_deny_reason_code_reaches_the_client(start_broker, hook_app):
    """deny(code=0x97) from an authorize hook: the v5 PUBACK and SUBACK carry 0x97 (both may)."""
    b = _hooked_broker(start_broker, hook_app, "authz")
    sub = b.client(protocol=V5)
    sub.connect()
    assert sub.subscribe([("acl/quota/#", 1), ("acl/#", 1)]) == [QUOTA_EXCEEDED, 1]
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("acl/quota/x", b"q", qos=1) == QUOTA_EXCEEDED
    assert pub.publish("acl/end", b"end", qos=1) in OK
    assert sub.collect_until(b"end") == []


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_on_subscribe_rewrite_deny_and_qos_ceiling(start_broker, hook_app, protocol):
    b = _hooked_broker(start_broker, hook_app, "subscribe")
    cid = unique("sub")
    sub = b.client(client_id=cid, protocol=protocol)
    sub.connect()
    codes = sub.subscribe([("news", 1), ("blocked/x", 1), ("capped/x", 2), ("free/#", 1)])
    refused = NOT_AUTHORIZED if protocol == V5 else 0x80
    assert codes == [1, refused, 0, 1], \
        "rewritten: granted; denied: refused alone; capped: QoS 0 granted instead of 2"
    pub = b.client(protocol=V5)
    pub.connect()
    for topic, payload in [("news", b"original"), (f"tenant/{cid}/news", b"mine"),
                           ("tenant/someone-else/news", b"theirs"), ("blocked/x", b"blocked"),
                           ("capped/x", b"capped")]:
        assert pub.publish(topic, payload, qos=1) in OK
    assert pub.publish("free/end", b"end", qos=1) in OK
    got = sub.collect_until(b"end")
    assert sorted((m.topic, m.payload, m.qos) for m in got) == sorted([
        (f"tenant/{cid}/news", b"mine", 1),  # the rewritten filter, not "news" itself
        ("capped/x", b"capped", 0),          # delivered at the granted QoS
    ]), got


def test_unsubscribe_of_the_asked_filter_removes_the_rewritten_one(start_broker, hook_app):
    """UNSUBSCRIBE names what the client subscribed to; the broker removes what a hook made of
    it (the client cannot know the rewritten filter)."""
    b = _hooked_broker(start_broker, hook_app, "subscribe")
    cid = unique("sub")
    sub = b.client(client_id=cid, protocol=V5)
    sub.connect()
    assert sub.subscribe([("news", 1), ("free/#", 1)]) == [1, 1]
    assert sub.unsubscribe("news") == [0]  # success, not 0x11 (no subscription existed)
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish(f"tenant/{cid}/news", b"after", qos=1) in OK
    assert pub.publish("free/end", b"end", qos=1) in OK
    got = sub.collect_until(b"end")
    assert got == [], f"delivered after UNSUBSCRIBE: {got}"
    assert sub.unsubscribe("news") == [0x11]


def test_on_subscribe_rewrite_keeps_the_share_group(start_broker, hook_app):
    b = _hooked_broker(start_broker, hook_app, "subscribe")
    cid = unique("sub")
    s1 = b.client(client_id=cid, protocol=V5)
    s1.connect()
    assert s1.subscribe([("$share/g/news", 1), ("end/#", 1)]) == [1, 1]
    s2 = b.client(protocol=V5)  # the same group, subscribed to the rewritten filter directly
    s2.connect()
    assert s2.subscribe([(f"$share/g/tenant/{cid}/news", 1), ("end/#", 1)]) == [1, 1]
    pub = b.client(protocol=V5)
    pub.connect()
    sent = [f"m{i}".encode() for i in range(20)]
    for p in sent:
        assert pub.publish(f"tenant/{cid}/news", p, qos=1) in OK
    assert pub.publish("news", b"original", qos=1) in OK
    assert pub.publish("end/x", b"end", qos=1) in OK
    got = [m.payload for m in s1.collect_until(b"end") + s2.collect_until(b"end")]
    # $share/g/news became $share/g/tenant/<cid>/news: each message to ONE member of g
    assert sorted(got) == sorted(sent), got


def test_two_servers_chained(start_broker, hook_app):
    a = hook_app("message_hooks.py", "--features", "chain_a", "--tag", "A7")
    bsrv = hook_app("message_hooks.py", "--features", "chain_b", "--tag", "B")
    b = start_broker(hooks={
        "servers": [hook_server_entry("srv_a", a.port), hook_server_entry("srv_b", bsrv.port)],
        "chain": ["srv_a", "srv_b"],
    })
    wait_hooks_ready(b)
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe([("chain/#", 1), ("plain/#", 1)])
    pub = b.client(protocol=V5)
    pub.connect()
    assert pub.publish("chain/x", b"m1", qos=1) in OK
    assert pub.publish("chain/denyA", b"a-says-no", qos=1) == PAYLOAD_FORMAT_INVALID
    assert pub.publish("chain/denyB", b"b-says-no", qos=1) == QUOTA_EXCEEDED, \
        "B's denial wins over A's change"
    assert pub.publish("plain/end", b"end", qos=1) in OK
    got = sub.collect_until(b"end")
    assert [(m.topic, m.payload) for m in got] == [("chain/x", b"m1")]
    assert _user_props(got[0]) == [("a", "A7"), ("b", "A7")], \
        "B saw A's change (b = the value of a) and the subscriber gets both"


def test_on_subscribe_rewrite_gets_the_retained_messages_of_the_new_filter(start_broker, hook_app):
    b = _hooked_broker(start_broker, hook_app, "subscribe")
    cid = unique("sub")
    pub = b.client(protocol=V5)
    pub.connect()
    pub.publish("news", b"retained-original", qos=1, retain=True)
    pub.publish(f"tenant/{cid}/news", b"retained-mine", qos=1, retain=True)
    sub = b.client(client_id=cid, protocol=V5)
    sub.connect()
    assert sub.subscribe([("news", 1), ("free/#", 1)]) == [1, 1]
    assert pub.publish("free/end", b"end", qos=1) in OK
    got = sub.collect_until(b"end")
    assert [(m.topic, m.payload, m.retain) for m in got] == \
        [(f"tenant/{cid}/news", b"retained-mine", True)]
