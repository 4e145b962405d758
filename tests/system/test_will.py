"""Will messages: when they are published (network error, keep alive timeout, protocol error,
takeover, v5 DISCONNECT 0x04, v5 Will Delay Interval and session end) and when not (normal
DISCONNECT, v5 reconnect within the delay); QoS, RETAIN and v5 properties of the will.

"Not published" is shown with a marker published on the will topic after the connection is
known to be closed: a will published at close time would be routed before it.
"""

from __future__ import annotations

import time

import pytest

import mqttraw as raw
from helpers import KEEPALIVE_GRACE, SLOW, TIMEOUT, V5, V31, V311, unique


def watcher(broker, proto: int, topic: str, qos: int = 2):
    w = broker.client(protocol=proto)
    w.connect()
    w.subscribe(topic, qos=qos)
    return w


def assert_no_will(broker, proto: int, w, topic: str, qos: int = 1) -> None:
    p = broker.client(protocol=proto)
    p.connect()
    p.publish(topic, b"marker", qos=qos)
    p.disconnect()
    got = w.collect_until(b"marker")
    assert got == [], f"will published: {got!r}"


@pytest.mark.parametrize("will_qos", [0, 1, 2])
def test_will_published_on_network_error(broker, proto, will_qos):
    """3.1.1 [MQTT-3.1.2-8] / 5.0 [MQTT-3.1.2-8]: the will is published when the connection
    closes without DISCONNECT, with the will QoS (section 3.1.2.6) and, if Will Retain, as a
    retained message (3.1.1 [MQTT-3.1.2-17] / 5.0 [MQTT-3.1.2-15]); v5 will properties are
    passed on, User Properties in order ([MQTT-3.1.3-10])."""
    topic = f"will/{unique()}"
    w = watcher(broker, proto, topic)
    c = broker.client(protocol=proto)
    props = None
    if proto == V5:
        props = {"ContentType": "text/plain", "PayloadFormatIndicator": 1,
                 "UserProperty": [("k", "v1"), ("k", "v2")]}
    c.will_set(topic, b"gone", qos=will_qos, retain=True, props=props)
    c.connect()
    c.drop()
    m = w.expect_message()
    assert (m.topic, m.payload, m.qos, m.retain) == (topic, b"gone", will_qos, False)
    if proto == V5:
        assert m.props.get("ContentType") == "text/plain"
        assert m.props.get("PayloadFormatIndicator") == 1
        assert m.props.get("UserProperty") == [("k", "v1"), ("k", "v2")]
    late = watcher(broker, proto, topic)
    r = late.expect_message()
    assert (r.payload, r.retain, r.qos) == (b"gone", True, will_qos)


def test_v31_will_published_on_network_error(broker):
    topic = f"will31/{unique()}"
    w = watcher(broker, V31, topic)
    c = broker.client(unique("w31"), protocol=V31)
    c.will_set(topic, b"gone31", qos=1)
    c.connect()
    c.drop()
    assert w.expect_message().payload == b"gone31"


def test_will_not_published_after_normal_disconnect(broker, proto):
    """3.1.1 [MQTT-3.1.2-10] / 5.0 [MQTT-3.1.2-10]: DISCONNECT (v5: reason 0x00) deletes the
    will without publishing it."""
    topic = f"will/{unique()}"
    w = watcher(broker, proto, topic, qos=1)
    c = broker.client(protocol=proto)
    c.will_set(topic, b"must-not-appear", qos=1)
    c.connect()
    c.disconnect(rc=0 if proto == V5 else None)
    assert_no_will(broker, proto, w, topic)


def test_will_published_on_keepalive_timeout(broker, proto):
    """3.1.1 section 3.1.2.5 / 5.0 section 3.1.2.5: a keep alive timeout publishes the will."""
    topic = f"will/{unique()}"
    w = watcher(broker, proto, topic)
    r = broker.raw(proto)
    t0 = time.monotonic()
    r.connect(unique("wk"), keepalive=1, will={"topic": topic, "payload": b"timeout", "qos": 1})
    m = w.expect_message(timeout=1.5 + KEEPALIVE_GRACE)
    assert m.payload == b"timeout"
    assert time.monotonic() - t0 >= 0.95


@pytest.mark.parametrize("violation", [
    "subscribe-packet-id-0",
    pytest.param("second-connect", marks=pytest.mark.mosquitto_deviates(
        "does not publish the will when it closes a connection for a second CONNECT")),
])
def test_will_published_when_server_closes_on_protocol_error(broker, proto, violation):
    """3.1.1 section 3.1.2.5 / 5.0 section 3.1.2.5: the server closing the connection because
    of a protocol error publishes the will (SUBSCRIBE with Packet Identifier 0,
    [MQTT-2.3.1-1]; a second CONNECT, [MQTT-3.1.0-2])."""
    topic = f"will/{unique()}"
    w = watcher(broker, proto, topic)
    r = broker.raw(proto)
    r.connect(unique("wp"), will={"topic": topic, "payload": b"violation", "qos": 1})
    if violation == "second-connect":
        r.send(raw.connect(unique("again"), version=proto))
    else:
        r.send(raw.subscribe(0, [("a/b", 0)], proto))
    r.wait_closed(TIMEOUT)
    assert w.expect_message().payload == b"violation"


def test_v5_disconnect_with_will_message(broker):
    """5.0 section 3.14.2.1: DISCONNECT reason 0x04 asks the server to publish the will."""
    topic = f"will/{unique()}"
    w = watcher(broker, V5, topic)
    c = broker.client(protocol=V5)
    c.will_set(topic, b"asked-for", qos=1)
    c.connect()
    c.disconnect(rc=0x04)
    assert w.expect_message().payload == b"asked-for"


@pytest.mark.parametrize("proto", [
    pytest.param(V311, id="v311"),
    pytest.param(V5, id="v5"),
])
def test_will_published_on_takeover(broker, proto):
    """3.1.1 [MQTT-3.1.2-8]: the taken-over connection is closed without DISCONNECT, so its will
    is published. 5.0 [MQTT-3.1.2-8] with Will Delay 0: likewise (section 3.1.3.2.2, the
    non-normative note on Client Identifier reuse)."""
    topic = f"will/{unique()}"
    w = watcher(broker, proto, topic)
    cid = unique("wt")
    old = broker.client(cid, protocol=proto)
    old.will_set(topic, b"taken-over", qos=1)
    old.connect()
    new = broker.client(cid, protocol=proto)
    new.connect()
    old.wait_disconnected()
    assert w.expect_message().payload == b"taken-over"


@pytest.mark.parametrize("clean_start,delay,published", [
    pytest.param(False, 0, True, id="resume-nodelay", marks=pytest.mark.mosquitto_deviates(
        "no will when the new connection resumes the session, even with Will Delay 0")),
    pytest.param(True, 30, True, id="cleanstart-delay", marks=pytest.mark.mosquitto_deviates(
        "a Clean Start 1 takeover ends the old session without publishing its delayed will")),
    pytest.param(False, 30, False, id="resume-delay"),
])
def test_v5_will_on_takeover_depends_on_clean_start_and_delay(broker, clean_start, delay,
                                                              published):
    """5.0 [MQTT-3.1.2-8] [MQTT-3.1.3-9]: on takeover the will is published unless the new
    connection resumes the session (Clean Start 0) before a non-zero Will Delay passes; a Clean
    Start 1 ends the old session, which publishes the will at once."""
    topic = f"will/{unique()}"
    w = watcher(broker, V5, topic, qos=1)
    cid = unique("wd")
    old = broker.client(cid, protocol=V5)
    old.will_set(topic, b"will", qos=1, props={"WillDelayInterval": delay} if delay else None)
    old.connect(props={"SessionExpiryInterval": 60})
    new = broker.client(cid, protocol=V5, clean=clean_start)
    new.connect(props={"SessionExpiryInterval": 60})
    old.wait_disconnected()
    if published:
        assert w.expect_message().payload == b"will"
    else:
        assert_no_will(broker, V5, w, topic)


def test_v5_will_delay_interval(broker):
    """5.0 section 3.1.3.2.2: the will is published only after the Will Delay Interval."""
    topic = f"will/{unique()}"
    w = watcher(broker, V5, topic)
    c = broker.client(protocol=V5)
    c.will_set(topic, b"delayed", qos=1, props={"WillDelayInterval": 1})
    c.connect(props={"SessionExpiryInterval": 30})
    c.drop()
    t0 = time.monotonic()
    m = w.expect_message(timeout=1 + 3 * SLOW)
    assert m.payload == b"delayed"
    assert time.monotonic() - t0 >= 0.9, "will published before its delay"


def test_v5_will_delay_cancelled_by_reconnect(broker):
    """5.0 [MQTT-3.1.3-9]: a new connection to the session before the delay passes: no will."""
    topic = f"will/{unique()}"
    w = watcher(broker, V5, topic, qos=1)
    cid = unique("wc")
    c = broker.client(cid, protocol=V5)
    c.will_set(topic, b"cancelled", qos=1, props={"WillDelayInterval": 1})
    c.connect(props={"SessionExpiryInterval": 30})
    c.drop()
    again = broker.client(cid, protocol=V5, clean=False)
    assert again.connect(props={"SessionExpiryInterval": 30}).session_present
    time.sleep(1.5)  # the feature under test is time passing: longer than the 1 s delay
    assert_no_will(broker, V5, w, topic)


def test_v5_will_published_when_session_ends_before_delay(broker):
    """5.0 section 3.1.3.2.2: the will is published at the delay or at session end, whichever
    is first: here the 1 s session expiry comes long before the 30 s delay."""
    topic = f"will/{unique()}"
    w = watcher(broker, V5, topic)
    c = broker.client(protocol=V5)
    c.will_set(topic, b"session-ended", qos=1, props={"WillDelayInterval": 30})
    c.connect(props={"SessionExpiryInterval": 1})
    c.drop()
    assert w.expect_message(timeout=1 + 3 * SLOW).payload == b"session-ended"


@pytest.mark.mosquitto_deviates(
    "a Clean Start 1 reconnect ends the old session without publishing its delayed will")
def test_v5_will_delay_then_reconnect_with_clean_start(broker):
    """5.0 section 3.1.3.2.2: a reconnect with Clean Start 1 during the delay ends the old
    session, so the pending will is published then (not after the 30 s delay)."""
    topic = f"will/{unique()}"
    w = watcher(broker, V5, topic)
    cid = unique("wr")
    c = broker.client(cid, protocol=V5)
    c.will_set(topic, b"ended-by-clean-start", qos=1, props={"WillDelayInterval": 30})
    c.connect(props={"SessionExpiryInterval": 60})
    c.drop()
    again = broker.client(cid, protocol=V5, clean=True)
    assert not again.connect().session_present
    assert w.expect_message().payload == b"ended-by-clean-start"
