"""QoS 0/1/2 in both directions: delivered QoS, packet identifiers, the in-flight window,
retransmission with DUP after reconnect, and exactly-once delivery for QoS 2."""

from __future__ import annotations

import pytest

import mqttraw as raw
from helpers import SLOW, TIMEOUT, V5, unique


def session_props(proto: int) -> dict | None:
    return {"SessionExpiryInterval": 300} if proto == V5 else None


def test_delivered_qos_is_minimum_of_publish_and_subscription(broker, proto):
    """3.1.1 section 3.8.4 / 5.0 [MQTT-3.8.4-8] QoS downgrade: a message is delivered at
    min(published QoS, granted QoS); SUBACK grants what was asked (maximum QoS 2)."""
    sub = broker.client(protocol=proto)
    sub.connect()
    assert sub.subscribe([("qm/0", 0), ("qm/1", 1), ("qm/2", 2)]) == [0, 1, 2]
    pub = broker.client(protocol=proto)
    pub.connect()
    for s in range(3):
        for p in range(3):
            pub.publish(f"qm/{s}", f"{s}{p}".encode(), qos=p)
    got = sub.expect_messages(9)
    delivered = {m.payload.decode(): m.qos for m in got}
    assert delivered == {f"{s}{p}": min(s, p) for s in range(3) for p in range(3)}


def test_broker_packet_identifiers_nonzero_and_unique_in_flight(broker, proto):
    """3.1.1 [MQTT-2.3.1-1] [MQTT-2.3.1-2] / 5.0 [MQTT-2.2.1-4]: QoS>0 PUBLISH packets carry a
    non-zero identifier not in use by another unacknowledged PUBLISH; QoS 0 carries none
    ([MQTT-2.3.1-5] / [MQTT-2.2.1-2])."""
    sub = broker.raw(proto)
    sub.connect(unique("pid"))
    sub.subscribe(1, [("pid/t", 2)])
    pub = broker.client(protocol=proto)
    pub.connect()
    for i in range(16):
        pub.publish("pid/t", f"m{i}".encode(), qos=1 + i % 2)
    pub.publish("pid/t", b"zero", qos=0)
    got = [sub.expect(raw.PUBLISH) for _ in range(17)]
    qos_pos = [p for p in got if p.qos]
    assert len(qos_pos) == 16
    assert all(p.pid for p in qos_pos)
    assert len({p.pid for p in qos_pos}) == 16, [p.pid for p in qos_pos]
    zero = [p for p in got if p.qos == 0]
    assert [p.payload for p in zero] == [b"zero"]  # no packet identifier bytes in front
    assert [p.payload for p in qos_pos] == [f"m{i}".encode() for i in range(16)]
    for p in qos_pos:
        sub.ack(p)


def test_broker_acknowledges_with_the_publishers_packet_identifier(broker, proto):
    """PUBACK / PUBREC / PUBCOMP carry the Packet Identifier of the PUBLISH
    (3.1.1 [MQTT-2.3.1-6] / 5.0 [MQTT-2.2.1-5])."""
    sub = broker.client(protocol=proto)
    sub.connect()
    sub.subscribe("ack/t", qos=2)
    r = broker.raw(proto)
    r.connect(unique("ack"))
    r.send(raw.publish("ack/t", b"one", qos=1, pid=0x1234, version=proto))
    ack = r.expect(raw.PUBACK)
    assert (ack.pid, ack.rc) == (0x1234, 0)
    r.send(raw.publish("ack/t", b"two", qos=2, pid=0xFFFF, version=proto))
    rec = r.expect(raw.PUBREC)
    assert (rec.pid, rec.rc) == (0xFFFF, 0)
    r.send(raw.pubrel(0xFFFF, proto))
    comp = r.expect(raw.PUBCOMP)
    assert (comp.pid, comp.rc) == (0xFFFF, 0)
    assert [m.payload for m in sub.expect_messages(2)] == [b"one", b"two"]


def test_inflight_window_limits_unacknowledged_messages(start_broker, proto):
    """limits.max_inflight: at most N unacknowledged QoS 1 messages per client; the rest wait in
    the session queue and follow, in order, as acknowledgements arrive (section 4.6)."""
    b = start_broker(limits={"max_inflight": 3})
    sub = b.raw(proto)
    sub.connect(unique("win"))
    sub.subscribe(1, [("win/t", 1)])
    pub = b.client(protocol=proto)
    pub.connect()
    for i in range(7):
        pub.publish("win/t", str(i).encode(), qos=1)
    received = [sub.expect(raw.PUBLISH) for _ in range(3)]
    sub.recv_no_packet(0.5 * SLOW)  # bounded wait: a fourth would exceed the window
    for i in range(7):
        sub.ack(received[i])
        if len(received) < 7:
            received.append(sub.expect(raw.PUBLISH))
    assert [p.payload for p in received] == [str(i).encode() for i in range(7)]


def test_unacknowledged_messages_resent_with_dup_after_reconnect(broker, proto):
    """3.1.1 [MQTT-4.4.0-1] / 5.0 [MQTT-4.4.0-1]: on reconnect with a session the server
    resends unacknowledged PUBLISH (DUP=1, same Packet Identifier, [MQTT-3.3.1-1]) and PUBREL
    packets; acknowledged ones are not resent (and nothing is resent at any other time)."""
    cid = unique("rd")
    sub = broker.raw(proto)
    sub.connect(cid, clean=(proto == V5), props=session_props(proto))
    sub.subscribe(1, [("rd/t", 2)])
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("rd/t", b"a", qos=1)
    pub.publish("rd/t", b"b", qos=2)
    pub.publish("rd/t", b"c", qos=2)
    pub.publish("rd/t", b"d", qos=1)
    a, b, c, d = (sub.expect(raw.PUBLISH) for _ in range(4))
    assert [p.payload for p in (a, b, c, d)] == [b"a", b"b", b"c", b"d"]
    assert not any(p.dup for p in (a, b, c, d))
    sub.send(raw.pubrec(c.pid, proto))  # c: PUBREC sent, PUBCOMP withheld
    assert sub.expect(raw.PUBREL).pid == c.pid
    sub.send(raw.puback(d.pid, proto))  # d: fully acknowledged
    sub.abort()

    sub = broker.raw(proto)
    ack = sub.connect(cid, clean=False, props=session_props(proto))
    assert ack.session_present
    resent = [sub.recv() for _ in range(3)]
    publishes = sorted((p for p in resent if p.type == raw.PUBLISH), key=lambda p: p.payload)
    assert [(p.payload, p.pid, p.qos, p.dup) for p in publishes] == [
        (b"a", a.pid, 1, True), (b"b", b.pid, 2, True)], resent
    assert [(p.type, p.pid) for p in resent if p.type != raw.PUBLISH] == [(raw.PUBREL, c.pid)]
    sub.send(raw.puback(a.pid, proto))
    sub.send(raw.pubrec(b.pid, proto))
    assert sub.expect(raw.PUBREL).pid == b.pid
    sub.send(raw.pubcomp(b.pid, proto))
    sub.send(raw.pubcomp(c.pid, proto))
    sub.send(raw.disconnect(proto))
    sub.close()

    sub = broker.raw(proto)
    assert sub.connect(cid, clean=False, props=session_props(proto)).session_present
    pub.publish("rd/t", b"marker", qos=1)
    p = sub.expect(raw.PUBLISH)
    assert (p.payload, p.dup) == (b"marker", False), "acknowledged message was resent"


def test_unacknowledged_messages_resent_after_takeover(broker, proto):
    """The same as above when the new connection takes the session over from a live one."""
    cid = unique("rt")
    old = broker.raw(proto)
    old.connect(cid, clean=(proto == V5), props=session_props(proto))
    old.subscribe(1, [("rt/t", 1)])
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("rt/t", b"x", qos=1)
    first = old.expect(raw.PUBLISH)
    new = broker.raw(proto)
    assert new.connect(cid, clean=False, props=session_props(proto)).session_present
    again = new.expect(raw.PUBLISH)
    assert (again.payload, again.pid, again.dup) == (b"x", first.pid, True)
    new.send(raw.puback(again.pid, proto))
    old.wait_closed(TIMEOUT)


def test_publisher_qos2_flow_resumed_after_reconnect(broker, proto):
    """The server keeps its side of an incomplete inbound QoS 2 flow in the session: after a
    reconnect the client's PUBREL completes it (PUBCOMP, v5 reason 0) and the message is
    delivered exactly once (3.1.1 [MQTT-4.3.3-2] / 5.0 section 4.3.3)."""
    sub = broker.client(protocol=proto)
    sub.connect()
    sub.subscribe("pq/t", qos=2)
    cid = unique("pq")
    pub = broker.raw(proto)
    pub.connect(cid, clean=(proto == V5), props=session_props(proto))
    pub.send(raw.publish("pq/t", b"once", qos=2, pid=7, version=proto))
    assert pub.expect(raw.PUBREC).pid == 7
    pub.abort()
    pub = broker.raw(proto)
    assert pub.connect(cid, clean=False, props=session_props(proto)).session_present
    pub.send(raw.pubrel(7, proto))
    comp = pub.expect(raw.PUBCOMP)
    assert (comp.pid, comp.rc) == (7, 0)
    pub.publish("pq/t", b"marker", qos=2, pid=8)  # same QoS: ordered after "once"
    assert [m.payload for m in sub.collect_until(b"marker")] == [b"once"]


@pytest.mark.parametrize("copies", [
    pytest.param(1, id="1dup"),
    pytest.param(3, id="3dup", marks=pytest.mark.mosquitto_deviates(
        "closes the connection (protocol error) on the second retransmission before PUBREL")),
])
def test_qos2_publish_retransmitted_before_pubrel_is_delivered_once(broker, proto, copies):
    """3.1.1 [MQTT-4.3.3-2] / 5.0 [MQTT-4.3.3-10]: until PUBREL, a PUBLISH with
    the same Packet Identifier is acknowledged with PUBREC and not delivered again; after
    PUBCOMP the identifier may be reused for a new message (5.0 [MQTT-4.3.3-12])."""
    sub = broker.client(protocol=proto)
    sub.connect()
    sub.subscribe("eo/t", qos=2)
    pub = broker.raw(proto)
    pub.connect(unique("eo"))
    pub.send(raw.publish("eo/t", b"first", qos=2, pid=10, version=proto))
    assert pub.expect(raw.PUBREC).pid == 10
    for _ in range(copies):
        pub.send(raw.publish("eo/t", b"first", qos=2, pid=10, dup=True, version=proto))
        assert pub.expect(raw.PUBREC).pid == 10
    pub.send(raw.pubrel(10, proto))
    assert pub.expect(raw.PUBCOMP).pid == 10
    pub.send(raw.publish("eo/t", b"second", qos=2, pid=10, version=proto))
    assert pub.expect(raw.PUBREC).pid == 10
    pub.send(raw.pubrel(10, proto))
    assert pub.expect(raw.PUBCOMP).pid == 10
    pub.publish("eo/t", b"marker", qos=2, pid=11)
    got = sub.collect_until(b"marker")
    assert [(m.payload, m.qos) for m in got] == [(b"first", 2), (b"second", 2)]


@pytest.mark.parametrize("qos", [1, 2])
def test_subscriber_qos_flows_complete_with_paho(broker, proto, qos):
    """A real client's acknowledgements complete the flows: 50 messages, all delivered once."""
    sub = broker.client(protocol=proto)
    sub.connect()
    sub.subscribe("flow/t", qos=qos)
    pub = broker.client(protocol=proto)
    pub.connect()
    for i in range(50):
        pub.publish("flow/t", str(i).encode(), qos=qos, wait=False)
    got = sub.expect_messages(50)
    assert [m.payload for m in got] == [str(i).encode() for i in range(50)]
    pub.publish("flow/t", b"marker", qos=qos)
    assert sub.collect_until(b"marker") == []
