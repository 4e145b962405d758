"""Persistent sessions: subscriptions and queued messages kept while the client is offline
(3.1.1 Clean Session 0, 5.0 Session Expiry Interval > 0), v5 session expiry, the bounded
per-session queue."""

from __future__ import annotations

import time

import pytest

import mqttraw as raw
from helpers import TIMEOUT, V5, unique


def offline_subscriber(broker, proto: int, topic: str, qos: int, expiry: int = 300):
    """Connect a persistent session, subscribe, disconnect normally; return its client id."""
    cid = unique("off")
    c = broker.client(cid, protocol=proto, clean=(proto == V5))
    c.connect(props={"SessionExpiryInterval": expiry} if proto == V5 else None)
    c.subscribe(topic, qos=qos)
    c.disconnect()
    return cid


def reconnect(broker, cid: str, proto: int, expiry: int = 300):
    c = broker.client(cid, protocol=proto, clean=False)
    ack = c.connect(props={"SessionExpiryInterval": expiry} if proto == V5 else None)
    return c, ack


def test_messages_queued_while_offline_are_delivered_on_reconnect(broker, proto):
    """3.1.1 section 4.1 / 5.0 section 4.1: the session holds QoS 1 and 2 messages for an
    offline client; per topic and QoS they arrive in publish order ([MQTT-4.6.0-5]
    [MQTT-4.6.0-6])."""
    cid = offline_subscriber(broker, proto, "off/t", qos=2)
    pub = broker.client(protocol=proto)
    pub.connect()
    for i in range(3):
        pub.publish("off/t", f"q1-{i}".encode(), qos=1)
        pub.publish("off/t", f"q2-{i}".encode(), qos=2)
    c, ack = reconnect(broker, cid, proto)
    assert ack.session_present
    got = c.expect_messages(6)
    assert [m.payload for m in got if m.qos == 1] == [b"q1-0", b"q1-1", b"q1-2"]
    assert [m.payload for m in got if m.qos == 2] == [b"q2-0", b"q2-1", b"q2-2"]
    pub.publish("off/t", b"marker", qos=1)
    assert c.collect_until(b"marker") == [], "a queued message was delivered twice"


def test_v5_session_expires_after_interval(broker):
    """5.0 section 3.1.2.11.2: the session (with its subscriptions) is discarded when the
    Session Expiry Interval passes after the connection closes; until then it is kept."""
    short = offline_subscriber(broker, V5, "exp/t", qos=1, expiry=1)
    long = offline_subscriber(broker, V5, "exp/t", qos=1, expiry=60)
    time.sleep(2.2)  # the feature under test is the passing of time: 1 s expiry + margin
    c, ack = reconnect(broker, short, V5)
    assert not ack.session_present, "session outlived its 1 s expiry interval"
    kept, ack_kept = reconnect(broker, long, V5)
    assert ack_kept.session_present
    pub = broker.client(protocol=V5)
    pub.connect()
    c.subscribe("exp/marker", qos=1)
    pub.publish("exp/t", b"after-expiry", qos=1)
    pub.publish("exp/marker", b"marker", qos=1)
    assert c.collect_until(b"marker") == [], "expired session's subscription still active"
    assert kept.expect_message().payload == b"after-expiry"


def test_v5_session_without_expiry_ends_with_the_connection(broker):
    """5.0 section 3.1.2.11.2: no Session Expiry Interval (0): the session ends on close."""
    cid = offline_subscriber(broker, V5, "noexp/t", qos=1, expiry=0)
    c, ack = reconnect(broker, cid, V5)
    assert not ack.session_present


def test_v5_disconnect_sets_session_expiry_to_zero(broker):
    """5.0 section 3.14.2.2.2: DISCONNECT may lower the Session Expiry Interval: 0 ends it."""
    cid = unique("dx")
    c = broker.client(cid, protocol=V5)
    c.connect(props={"SessionExpiryInterval": 300})
    c.subscribe("dx/t", qos=1)
    c.disconnect(props={"SessionExpiryInterval": 0})
    c, ack = reconnect(broker, cid, V5)
    assert not ack.session_present


def test_v5_disconnect_cannot_raise_zero_session_expiry(broker):
    """5.0 [MQTT-3.14.2-2]: non-zero expiry in DISCONNECT after 0 in CONNECT is a Protocol
    Error; the session still ends (the server may answer DISCONNECT 0x82)."""
    cid = unique("dz")
    r = broker.raw(V5)
    r.connect(cid)
    r.subscribe(1, [("dz/t", 1)])
    r.send(raw.disconnect(V5, 0, {"SessionExpiryInterval": 300}))
    packets = r.wait_closed(TIMEOUT)
    assert all(p.type == raw.DISCONNECT and p.rc == 0x82 for p in packets), packets
    c, ack = reconnect(broker, cid, V5)
    assert not ack.session_present


@pytest.mark.mosquitto_deviates("no maximum session expiry (limits.max_session_expiry)")
def test_v5_server_caps_session_expiry(start_broker):
    """5.0 section 3.2.2.3.2: a server using a different Session Expiry Interval than the
    client asked for announces it in CONNACK."""
    b = start_broker(limits={"max_session_expiry": 5})
    c = b.client(protocol=V5)
    ack = c.connect(props={"SessionExpiryInterval": 300})
    assert ack.props.get("SessionExpiryInterval") == 5, ack
    c2 = b.client(protocol=V5)
    ack2 = c2.connect(props={"SessionExpiryInterval": 3})
    assert ack2.props.get("SessionExpiryInterval", 3) == 3, ack2


def test_offline_queue_is_bounded(start_broker, proto):
    """limits.max_queued with queue_policy drop_newest: an offline session keeps at most N
    messages, the oldest ones; the rest are dropped (counted), the broker does not grow."""
    b = start_broker(limits={"max_queued": 5, "queue_policy": "drop_newest"})
    cid = offline_subscriber(b, proto, "bq/t", qos=1)
    pub = b.client(protocol=proto)
    pub.connect()
    for i in range(20):
        pub.publish("bq/t", str(i).encode(), qos=1)
    c, ack = reconnect(b, cid, proto)
    assert ack.session_present
    pub.publish("bq/t", b"marker", qos=1)
    got = [m.payload for m in c.collect_until(b"marker")]
    assert 1 <= len(got) <= 5, got
    assert got == [str(i).encode() for i in range(len(got))], got
