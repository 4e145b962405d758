"""Topic matching: + and #, $-topics and root wildcards, invalid filters, overlapping
subscriptions, v5 Subscription Identifiers and No Local, UNSUBSCRIBE."""

from __future__ import annotations

import pytest

import mqttraw as raw
from helpers import TIMEOUT, V5, unique

TOPICS = ["a", "a/b", "a/b/c", "a/b/c/d", "a//c", "/a", "a/c", "b/b/c", "/", "a/", "A/b/c",
          "a b/c"]

# filter -> topics of TOPICS it matches (section 4.7, 3.1.1 and 5.0 alike)
MATCHES = {
    "a/+/c": {"a/b/c", "a//c"},
    "a/#": {"a", "a/b", "a/b/c", "a/b/c/d", "a//c", "a/c", "a/"},
    "+": {"a"},
    "+/+": {"a/b", "/a", "a/c", "/", "a/", "a b/c"},
    "/+": {"/a", "/"},
    "#": set(TOPICS),
    "a/b/c": {"a/b/c"},
    "+/b/#": {"a/b", "a/b/c", "a/b/c/d", "b/b/c", "A/b/c"},
    "a/+": {"a/b", "a/c", "a/"},
    "+/+/+": {"a/b/c", "a//c", "b/b/c", "A/b/c"},
    "a b/+": {"a b/c"},
}


def test_wildcard_matching(broker, proto):
    """3.1.1 / 5.0 section 4.7.1: '#' matches the parent and any number of levels, '+' exactly
    one level (empty levels too); names are case sensitive and may contain spaces."""
    marker_topic = "zz/marker/end"
    subs = {}
    for flt in MATCHES:
        c = broker.client(protocol=proto)
        c.connect()
        codes = c.subscribe([(flt, 1), (marker_topic, 1)])
        assert codes == [1, 1], (flt, codes)
        subs[flt] = c
    pub = broker.client(protocol=proto)
    pub.connect()
    for t in TOPICS:
        pub.publish(t, t.encode(), qos=1)
    pub.publish(marker_topic, b"marker", qos=1)
    for flt, c in subs.items():
        got = c.collect_until(b"marker")
        assert sorted(m.topic for m in got) == sorted(MATCHES[flt]), flt
        assert all(m.payload == m.topic.encode() for m in got)


def test_dollar_topics_not_matched_by_root_wildcards(broker, proto):
    """3.1.1 [MQTT-4.7.2-1] / 5.0 [MQTT-4.7.2-1]: filters starting with # or + do not match
    topic names starting with $ ($SYS here); an explicit $SYS filter does."""
    sys_sub = broker.client(protocol=proto)
    sys_sub.connect()
    sys_sub.subscribe("$SYS/broker/version", qos=0)
    m = sys_sub.expect_message(timeout=TIMEOUT + 2)  # retained, or published within sys_interval
    assert m.topic == "$SYS/broker/version"

    wild = broker.client(protocol=proto)
    wild.connect()
    wild.subscribe([("#", 0), ("+/broker/version", 0), ("+/+/+", 0), ("+/#", 0)])
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("plain/topic", b"marker", qos=0)
    got = wild.collect_until(b"marker")
    assert [m.topic for m in got if m.topic.startswith("$")] == []


def test_overlapping_subscriptions(broker, proto):
    """3.1.1 [MQTT-3.3.5-1] / 5.0 [MQTT-3.3.4-2]: with overlapping subscriptions the message is
    delivered respecting the maximum QoS of the matching ones; further copies are allowed, one
    per additional subscription at that subscription's QoS. 5.0 [MQTT-3.3.4-3..5]: the
    Subscription Identifiers of all matching subscriptions are sent: all in one copy, or one
    per copy."""
    r = broker.raw(proto)
    r.connect(unique("ov"))
    sid = (lambda i: {"SubscriptionIdentifier": i}) if proto == V5 else (lambda i: None)
    r.subscribe(1, [("ov/#", raw.sub_options(0))], props=sid(1))
    r.subscribe(2, [("ov/a", raw.sub_options(2))], props=sid(2))
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("ov/a", b"both", qos=2)
    pub.publish("ov/zz", b"marker", qos=0)
    copies = r.collect_until(b"marker")
    assert 1 <= len(copies) <= 2 and all(p.payload == b"both" for p in copies), copies
    assert max(p.qos for p in copies) == 2, copies
    if len(copies) == 2:
        assert sorted(p.qos for p in copies) == [0, 2], copies
    if proto == V5:
        ids = [sorted(p.props.get("SubscriptionIdentifier", [])) for p in copies]
        if len(copies) == 1:
            assert ids == [[1, 2]], copies
        else:
            by_qos = {p.qos: p.props.get("SubscriptionIdentifier") for p in copies}
            assert by_qos == {0: [1], 2: [2]}, copies


def test_v5_subscription_identifiers(broker):
    """5.0 section 3.3.4 / 3.8.4: a message carries the Subscription Identifier of the matching
    subscription (none if it had none, values up to 268,435,455); re-subscribing the same
    filter replaces or removes the identifier ([MQTT-3.8.4-3]); it is sent with retained
    messages too. CONNACK does not deny the feature."""
    c = broker.client(protocol=V5)
    ack = c.connect()
    assert ack.props.get("SubscriptionIdentifierAvailable", 1) == 1
    c.subscribe("si/+", qos=1, props={"SubscriptionIdentifier": 7})
    plain = broker.client(protocol=V5)
    plain.connect()
    plain.subscribe("si/x", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("si/x", b"1", qos=1)
    assert c.expect_message().props.get("SubscriptionIdentifier") == [7]
    assert "SubscriptionIdentifier" not in plain.expect_message().props

    c.subscribe("si/+", qos=1, props={"SubscriptionIdentifier": 268_435_455})
    pub.publish("si/x", b"2", qos=1)
    m = c.expect_message()
    assert (m.payload, m.props.get("SubscriptionIdentifier")) == (b"2", [268_435_455])

    c.subscribe("si/+", qos=1)  # section 3.8.4: re-subscribing without one removes it
    pub.publish("si/x", b"3", qos=1)
    m = c.expect_message()
    assert m.payload == b"3" and "SubscriptionIdentifier" not in m.props, m

    pub.publish("si/r", b"retained", qos=1, retain=True)
    assert c.expect_message().payload == b"retained"
    late = broker.client(protocol=V5)
    late.connect()
    late.subscribe("si/#", qos=1, props={"SubscriptionIdentifier": 42})
    m = late.expect_message()
    assert (m.payload, m.retain, m.props.get("SubscriptionIdentifier")) == (b"retained", True, [42])


def test_v5_no_local(broker):
    """5.0 [MQTT-3.8.3-3]: with No Local the server does not forward a client's own messages
    to it on that subscription; other clients' messages still arrive."""
    c = broker.client(protocol=V5)
    c.connect()
    c.subscribe("nl/t", qos=1, no_local=True)
    c.subscribe("nl/marker", qos=1)
    c.publish("nl/t", b"own", qos=1)
    c.publish("nl/marker", b"marker", qos=1)
    assert c.collect_until(b"marker") == []
    other = broker.client(protocol=V5)
    other.connect()
    other.publish("nl/t", b"theirs", qos=1)
    assert c.expect_message().payload == b"theirs"
    echo = broker.client(protocol=V5)  # control: without No Local a client gets its own
    echo.connect()
    echo.subscribe("nl/t", qos=1)
    echo.publish("nl/t", b"echo", qos=1)
    assert echo.expect_message().payload == b"echo"


@pytest.mark.parametrize("flt", ["a/#/b", "a#", "#a", "a+/b", "+a", "a/b+", ""])
def test_invalid_topic_filter_is_refused(broker, proto, flt):
    """3.1.1 [MQTT-4.7.1-2] [MQTT-4.7.1-3] / 5.0 [MQTT-4.7.1-1] [MQTT-4.7.1-2], and
    [MQTT-4.7.3-1] (at least one character) in both: a malformed filter is
    not subscribed: SUBACK failure (0x80; v5 0x8F or another >= 0x80) or the connection is
    closed (v5 DISCONNECT >= 0x80). The broker keeps serving."""
    r = broker.raw(proto)
    r.connect(unique("if"))
    r.send(raw.subscribe(1, [(flt, 0)], proto))
    try:
        p = r.recv()
    except raw.ConnectionClosed:
        p = None
    if p is not None and p.type == raw.SUBACK:
        assert p.codes and p.codes[0] >= 0x80, p
    elif p is not None:
        assert p.type == raw.DISCONNECT and p.rc >= 0x80, p
        r.wait_closed(TIMEOUT)
    broker.assert_serving(protocol=proto)


def test_unsubscribe_stops_delivery(broker, proto):
    """UNSUBSCRIBE removes exactly the named filter (section 3.10.4); UNSUBACK echoes the id."""
    c = broker.client(protocol=proto)
    c.connect()
    c.subscribe([("us/+", 1), ("us/t", 1), ("us/marker", 1)])
    codes = c.unsubscribe("us/+")
    if proto == V5:
        assert codes == [0], codes
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("us/t", b"still-subscribed", qos=1)
    pub.publish("us/u", b"unsubscribed", qos=1)
    pub.publish("us/marker", b"marker", qos=1)
    assert [m.payload for m in c.collect_until(b"marker")] == [b"still-subscribed"]
    r = broker.raw(proto)
    r.connect(unique("ua"))
    r.send(raw.unsubscribe(0x4242, ["never/subscribed"], proto))
    ack = r.expect(raw.UNSUBACK)
    assert ack.pid == 0x4242
    if proto == V5:
        assert ack.codes in ([0x00], [0x11]), ack  # Success or No subscription existed
