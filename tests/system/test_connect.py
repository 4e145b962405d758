"""CONNECT and CONNACK: protocol versions, client identifiers, clean start / session present,
keep alive, connect timeout, session takeover and the v5 connection limits.

Spec references: MQTT 3.1.1 (OASIS 2014) and MQTT 5.0 (OASIS 2019) normative statement numbers.
"""

from __future__ import annotations

import time

import pytest

import mqttraw as raw
from helpers import (KEEPALIVE_GRACE, SLOW, TIMEOUT, V5, V31, V311, MqttClient, sorted_payloads, unique)

VERSION_IDS = {V31: "v31", V311: "v311", V5: "v5"}


def persistent_client(broker, client_id: str, proto: int, clean: bool = False) -> tuple[MqttClient, dict]:
    """A client whose session outlives the connection: v3 Clean Session 0, v5 expiry 300 s."""
    c = broker.client(client_id, protocol=proto, clean=clean)
    props = {"SessionExpiryInterval": 300} if proto == V5 else None
    return c, props


# -- protocol versions ------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V31, V311, V5], ids=VERSION_IDS.get)
def test_each_version_connects_and_receives_from_every_version(broker, version):
    sub = broker.client(unique("s"), protocol=version)
    ack = sub.connect()
    assert ack.rc == 0 and not ack.session_present
    assert sub.subscribe("ver/t", qos=1) == [1]
    for pub_version in (V31, V311, V5):
        pub = broker.client(unique("p"), protocol=pub_version)
        pub.connect()
        pub.publish("ver/t", f"from-{pub_version}".encode(), qos=1)
        pub.disconnect()
    got = sub.expect_messages(3)
    assert sorted_payloads(got) == [b"from-3", b"from-4", b"from-5"]
    assert all(m.topic == "ver/t" and m.qos == 1 for m in got)


@pytest.mark.parametrize("version", [V31, V311, V5], ids=VERSION_IDS.get)
def test_connack_is_encoded_for_the_client_version(broker, version):
    """v3.1/3.1.1 CONNACK is exactly 4 bytes; v5 carries a property block (section 3.2)."""
    r = broker.raw(version)
    ack = r.connect(unique("r"), version=version)
    if version == V5:
        assert ack.raw[1] >= 3, f"v5 CONNACK without property length: {ack.raw!r}"
    else:
        assert ack.raw == b"\x20\x02\x00\x00"
    r.send(raw.pingreq())
    assert r.expect(raw.PINGRESP).raw == b"\xd0\x00"


@pytest.mark.parametrize("level", [0, 2, 6, 7, 255])
def test_unsupported_protocol_level_is_refused(broker, level):
    """[MQTT-3.1.2-2] (3.1.1): CONNACK 0x01 then close; (5.0): MAY CONNACK 0x84, MUST close.

    The level is unknown, so the broker cannot know which CONNACK layout the client reads:
    either the 3.1.1 form (return code 0x01) or the 5.0 form (reason 0x84) is accepted.
    """
    r = broker.raw(V5)  # parse with the v5 reader: accepts both CONNACK layouts
    body = raw.mstr(b"MQTT") + bytes([level, 0x02]) + raw.u16(30) + raw.mstr(unique("lvl"))
    r.send(raw.packet(raw.CONNECT, 0, body))
    packets = r.wait_closed(TIMEOUT)
    assert len(packets) == 1 and packets[0].type == raw.CONNACK, packets
    ack = packets[0]
    assert (ack.rc == 0x01 and len(ack.raw) == 4) or ack.rc == 0x84, ack
    broker.assert_serving()


def test_wrong_protocol_name_is_not_accepted(broker):
    """[MQTT-3.1.2-1]: a CONNECT whose protocol name is not "MQTT" is not processed as MQTT."""
    r = broker.raw(V5)
    body = raw.mstr(b"MQTX") + bytes([4, 0x02]) + raw.u16(30) + raw.mstr(unique("pn"))
    r.send(raw.packet(raw.CONNECT, 0, body))
    packets = r.wait_closed(TIMEOUT)
    assert all(p.type == raw.CONNACK and p.rc != 0 for p in packets), packets
    broker.assert_serving()


# -- client identifiers -----------------------------------------------------------------------


def test_v5_empty_client_id_gets_assigned_identifier(start_broker):
    """5.0 [MQTT-3.1.3-6] [MQTT-3.1.3-7]: a unique id is assigned and returned in CONNACK, and
    the session is then handled as if the client had sent that id."""
    broker = start_broker(mqtt={"allow_zero_length_client_id": True})
    a = broker.client("", protocol=V5)
    ack_a = a.connect(props={"SessionExpiryInterval": 300})
    b = broker.client("", protocol=V5)
    ack_b = b.connect()
    id_a = ack_a.props.get("AssignedClientIdentifier")
    id_b = ack_b.props.get("AssignedClientIdentifier")
    assert id_a and id_b and id_a != id_b, (ack_a, ack_b)
    assert not a.disconnected.is_set(), "second empty-id client took over the first"
    a.subscribe("assigned/t", qos=1)
    a.disconnect()
    again = broker.client(id_a, protocol=V5, clean=False)
    ack = again.connect(props={"SessionExpiryInterval": 300})
    assert ack.session_present, "session of the assigned client identifier was not kept"
    assert "AssignedClientIdentifier" not in ack.props
    b.publish("assigned/t", b"hello", qos=1)
    assert again.expect_message().payload == b"hello"


def test_v311_empty_client_id_with_clean_session_is_accepted(start_broker):
    """3.1.1 [MQTT-3.1.3-6]: zero-byte ClientId + CleanSession 1 gets a unique id."""
    broker = start_broker(mqtt={"allow_zero_length_client_id": True})
    a = broker.raw(V311)
    a.connect("", clean=True)
    b = broker.raw(V311)
    b.connect("", clean=True)
    for r in (a, b):  # both still connected: they were not given the same identifier
        r.send(raw.pingreq())
        r.expect(raw.PINGRESP)


def test_v311_empty_client_id_without_clean_session_is_rejected(start_broker):
    """3.1.1 [MQTT-3.1.3-8]: CONNACK 0x02 (identifier rejected), then close."""
    broker = start_broker(mqtt={"allow_zero_length_client_id": True})
    r = broker.raw(V311)
    r.send(raw.connect("", version=V311, clean=False))
    packets = r.wait_closed(TIMEOUT)
    assert [p.raw for p in packets] == [b"\x20\x02\x00\x02"], packets


@pytest.mark.parametrize("version", [
    pytest.param(V311, id="v311"),
    pytest.param(V5, id="v5", marks=pytest.mark.mosquitto_deviates(
        "refuses with CONNACK 0x80 (Unspecified error) instead of 0x85 (Client Identifier not valid)")),
])
def test_empty_client_id_rejected_when_not_allowed(start_broker, version):
    """Server MAY refuse zero-length ids: 3.1.1 CONNACK 0x02 / 5.0 CONNACK 0x85, then close."""
    b = start_broker(mqtt={"allow_zero_length_client_id": False})
    r = b.raw(V5)  # v5 reader accepts both layouts
    r.send(raw.connect("", version=version, clean=True))
    packets = r.wait_closed(TIMEOUT)
    assert len(packets) == 1 and packets[0].type == raw.CONNACK, packets
    assert packets[0].rc == (0x85 if version == V5 else 0x02), packets
    b.raw(version).connect("named", version=version)  # a named client is still welcome


# -- clean start / session present -----------------------------------------------------------


def test_clean_session_and_session_present(broker, proto):
    """3.1.1 [MQTT-3.2.2-1..3] / 5.0 [MQTT-3.2.2-2..3]: Session Present reflects stored state;
    clean session / clean start discards it; subscriptions live in the session."""
    cid = unique("cs")
    pub = broker.client(protocol=proto)
    pub.connect()

    # v5: Clean Start 1 with a session expiry; v3: Clean Session 0 (no session exists yet)
    c, props = persistent_client(broker, cid, proto, clean=(proto == V5))
    assert not c.connect(props=props).session_present
    c.subscribe("cs/t", qos=1)
    c.disconnect()

    c, props = persistent_client(broker, cid, proto)
    ack = c.connect(props=props)
    assert ack.session_present
    pub.publish("cs/t", b"kept", qos=1)
    m = c.expect_message()  # no new SUBSCRIBE: the subscription was in the session
    assert (m.topic, m.payload) == ("cs/t", b"kept")
    c.disconnect()

    c = broker.client(cid, protocol=proto, clean=True)  # v5: Clean Start 1, expiry 0
    assert not c.connect().session_present
    c.subscribe("cs/marker", qos=1)
    pub.publish("cs/t", b"old-subscription", qos=1)
    pub.publish("cs/marker", b"marker", qos=1)
    assert c.collect_until(b"marker") == [], "subscription survived a clean start"
    c.disconnect()

    c, props = persistent_client(broker, cid, proto)
    assert not c.connect(props=props).session_present, "clean session left state behind"


@pytest.mark.parametrize("version", [V31, V311], ids=VERSION_IDS.get)
def test_v3_session_present_always_zero_with_clean_session(broker, version):
    cid = unique("c3")
    c = broker.client(cid, protocol=version, clean=False)
    c.connect()
    c.disconnect()
    c = broker.client(cid, protocol=version, clean=True)
    ack = c.connect()
    assert not ack.session_present  # [MQTT-3.2.2-1]


# -- keep alive ---------------------------------------------------------------------------------


def test_keepalive_enforced_at_one_and_a_half_times(broker, proto):
    """3.1.1 [MQTT-3.1.2-24] / 5.0 [MQTT-3.1.2-22]: no packet for 1.5 x Keep Alive -> the
    server closes the connection. PINGREQs keep it open."""
    r = broker.raw(proto)
    r.connect(unique("ka"), keepalive=1)
    for _ in range(4):  # 1.6 s of a well-behaved client: longer than 1.5 x keep alive
        time.sleep(0.4)  # pacing the client, not waiting for an event
        r.send(raw.pingreq())
        r.expect(raw.PINGRESP)
    silent_since = time.monotonic()
    packets = r.wait_closed(1.5 + KEEPALIVE_GRACE)
    elapsed = time.monotonic() - silent_since
    assert elapsed >= 0.95, f"closed {elapsed:.2f}s after the last packet, before keep alive"
    if proto == V5:
        assert all(p.type == raw.DISCONNECT and p.rc == 0x8D for p in packets), packets
    else:
        assert packets == []
    broker.assert_serving()


def test_server_keep_alive_caps_client_keep_alive(start_broker):
    """5.0 [MQTT-3.2.2-21]: with a maximum keep alive the server sends Server Keep Alive when the
    client asks for more, or for 0 (no keep alive), and not a larger value otherwise."""
    b = start_broker(limits={"max_keepalive": 10})
    for asked in (60, 0):
        c = b.client(protocol=V5)
        ack = c.connect(keepalive=asked)
        assert ack.props.get("ServerKeepAlive") == 10, (asked, ack)
        c.disconnect()
    c = b.client(protocol=V5)
    ack = c.connect(keepalive=5)
    assert ack.props.get("ServerKeepAlive", 5) <= 5, ack


@pytest.mark.mosquitto_deviates("max_keepalive must be >= 10 s, too slow to test enforcement")
def test_server_keep_alive_is_enforced(start_broker):
    """5.0 [MQTT-3.2.2-21] [MQTT-3.1.2-22]: the Server Keep Alive replaces the client's 0."""
    b = start_broker(limits={"max_keepalive": 1})
    r = b.raw(V5)
    ack = r.connect(unique("ska"), keepalive=0)
    assert ack.props.get("ServerKeepAlive") == 1
    t0 = time.monotonic()
    r.wait_closed(1.5 + KEEPALIVE_GRACE)  # silent: closed after 1.5 x the server's keep alive
    assert time.monotonic() - t0 >= 0.95


@pytest.mark.mosquitto_deviates("no configurable CONNECT timeout (limits.connect_timeout_ms)")
def test_connect_timeout_closes_silent_connections(start_broker):
    """3.1.1 / 5.0 section 3.1.4: a connection that sends no CONNECT within a reasonable time
    SHOULD be closed; limits.connect_timeout_ms makes that time configurable."""
    b = start_broker(limits={"connect_timeout_ms": 500})
    silent = b.raw(V311)
    partial = b.raw(V311)
    partial.send(raw.connect(unique("pc"), version=V311)[:6])  # a CONNECT that never completes
    t0 = time.monotonic()
    assert silent.wait_closed(0.5 + 3 * SLOW) == []
    assert partial.wait_closed(0.5 + 3 * SLOW) == []
    assert time.monotonic() - t0 >= 0.4
    b.assert_serving()


# -- session takeover -------------------------------------------------------------------------


@pytest.mark.parametrize("proto", [
    pytest.param(V311, id="v311"),
    pytest.param(V5, id="v5", marks=pytest.mark.mosquitto_deviates(
        "closes the old v5 connection without DISCONNECT 0x8E [MQTT-3.1.4-3]")),
])
def test_takeover_disconnects_existing_connection(broker, proto):
    """3.1.1 [MQTT-3.1.4-2] / 5.0 [MQTT-3.1.4-3]: the existing connection is closed; in v5 it
    first receives DISCONNECT 0x8E (Session taken over). The session moves to the new one."""
    cid = unique("to")
    old = broker.raw(proto)
    props = {"SessionExpiryInterval": 300} if proto == V5 else None
    old.connect(cid, clean=False, props=props)
    old.subscribe(1, [("to/t", 1)])

    new = broker.client(cid, protocol=proto, clean=False)
    ack = new.connect(props=props)
    assert ack.session_present
    packets = old.wait_closed(TIMEOUT)
    if proto == V5:
        assert [(p.type, p.rc) for p in packets] == [(raw.DISCONNECT, 0x8E)], packets
    else:
        assert packets == []
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("to/t", b"to-new-owner", qos=1)
    assert new.expect_message().payload == b"to-new-owner"
    assert not new.disconnected.is_set()


# -- v5 limits announced by the client ----------------------------------------------------------


@pytest.mark.parametrize("qos", [
    pytest.param(1, id="qos1"),
    pytest.param(2, id="qos2", marks=pytest.mark.mosquitto_deviates(
        "frees a QoS 2 send-quota slot on PUBREC instead of PUBCOMP [MQTT-3.3.4-9]")),
])
def test_v5_receive_maximum_bounds_unacknowledged_publishes(broker, qos):
    """5.0 [MQTT-3.3.4-9] [MQTT-4.9.0-2]: never more than Receive Maximum unacknowledged QoS>0
    PUBLISH packets. A QoS 2 slot is freed by PUBCOMP, not by PUBREC (section 4.9)."""
    sub = broker.raw(V5)
    sub.connect(unique("rm"), props={"ReceiveMaximum": 2})
    sub.subscribe(1, [("rm/t", qos)])
    pub = broker.client(protocol=V5)
    pub.connect()
    for i in range(5):
        pub.publish("rm/t", str(i).encode(), qos=qos)

    received = [sub.expect(raw.PUBLISH), sub.expect(raw.PUBLISH)]
    sub.recv_no_packet(0.5 * SLOW)  # bounded wait: a third PUBLISH would exceed the quota
    for i in range(5):  # complete the oldest; exactly one new PUBLISH may then follow
        p = received[i]
        if qos == 1:
            sub.send(raw.puback(p.pid, V5))
        else:
            sub.send(raw.pubrec(p.pid, V5))
            assert sub.expect(raw.PUBREL).pid == p.pid
            if i == 0:
                sub.recv_no_packet(0.3 * SLOW)  # PUBREC alone does not free a slot
            sub.send(raw.pubcomp(p.pid, V5))
        if len(received) < 5:
            received.append(sub.expect(raw.PUBLISH))
    assert [p.payload for p in received] == [b"0", b"1", b"2", b"3", b"4"]
    assert all(p.qos == qos for p in received)


def test_v5_client_maximum_packet_size_is_respected(broker):
    """5.0 [MQTT-3.1.2-24] [MQTT-3.1.2-25]: the server does not send a packet larger than the
    client's Maximum Packet Size; it discards the message for that client and goes on."""
    small = broker.client(protocol=V5)
    small.connect(props={"MaximumPacketSize": 256})
    small.subscribe("mps/#", qos=1)
    big = broker.client(protocol=V5)
    big.connect()
    big.subscribe("mps/#", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("mps/big", b"x" * 1000, qos=1)
    pub.publish("mps/fits", b"y" * 100, qos=1)
    pub.publish("mps/marker", b"marker", qos=1)
    got = small.collect_until(b"marker")
    assert [(m.topic, len(m.payload)) for m in got] == [("mps/fits", 100)]
    assert [len(m.payload) for m in big.collect_until(b"marker")] == [1000, 100]


def test_broker_maximum_packet_size(start_broker, proto):
    """5.0 section 3.2.2.3.6: the server announces Maximum Packet Size; a larger packet is a
    protocol error: DISCONNECT 0x95 (Packet too large) in v5, closed connection in 3.1.1."""
    b = start_broker(limits={"max_packet_size": 1024})
    sub = b.client(protocol=proto)
    sub.connect()
    sub.subscribe("mp/t", qos=0)
    r = b.raw(proto)
    ack = r.connect(unique("mp"))
    if proto == V5:
        assert ack.props.get("MaximumPacketSize") == 1024, ack
    r.send(raw.publish("mp/t", b"a" * 900, version=proto))  # fits
    assert sub.expect_message().payload == b"a" * 900
    r.send(raw.publish("mp/t", b"b" * 2000, version=proto))
    packets = r.wait_closed(TIMEOUT)
    if proto == V5:
        assert [(p.type, p.rc) for p in packets] == [(raw.DISCONNECT, 0x95)], packets
    else:
        assert packets == []
    b.assert_serving(protocol=proto)
    assert sub.pending() == [], "the oversized message was routed"


def test_v5_topic_alias_maximum_of_the_client(broker):
    """5.0 [MQTT-3.1.2-26] [MQTT-3.1.2-27] [MQTT-3.3.2-11]: the server may use Topic Aliases up
    to the client's Topic Alias Maximum and none if the client did not announce one."""
    with_alias = broker.raw(V5)
    with_alias.connect(unique("ta"), props={"TopicAliasMaximum": 2})
    with_alias.subscribe(1, [("ta/#", 1)])
    without = broker.raw(V5)
    without.connect(unique("tn"))
    without.subscribe(1, [("ta/#", 1)])
    pub = broker.client(protocol=V5)
    pub.connect()
    topics = ["ta/a", "ta/b", "ta/c", "ta/a", "ta/b", "ta/c", "ta/a", "ta/a"]
    for i, t in enumerate(topics):
        pub.publish(t, str(i).encode(), qos=1)

    aliases: dict[int, str] = {}
    resolved = []
    for _ in topics:
        p = with_alias.expect(raw.PUBLISH)
        with_alias.send(raw.puback(p.pid, V5))
        alias = p.props.get("TopicAlias")
        if alias is not None:
            assert 1 <= alias <= 2, p
            if p.topic:
                aliases[alias] = p.topic
            assert alias in aliases, f"alias {alias} used before it was set: {p!r}"
            resolved.append(aliases[alias])
        else:
            assert p.topic, p
            resolved.append(p.topic)
    assert resolved == topics

    for i, t in enumerate(topics):
        p = without.expect(raw.PUBLISH)
        without.send(raw.puback(p.pid, V5))
        assert p.topic == t and "TopicAlias" not in p.props, p


def test_v5_request_problem_information_zero(broker):
    """5.0 [MQTT-3.1.2-29]: with Request Problem Information 0 no Reason String or User
    Property on packets other than PUBLISH, CONNACK and DISCONNECT."""
    r = broker.raw(V5)
    r.connect(unique("rpi"), props={"RequestProblemInformation": 0})
    replies = []
    r.send(raw.unsubscribe(1, ["never/subscribed"], V5))
    replies.append(r.expect(raw.UNSUBACK))
    r.send(raw.publish("nobody/listens", b"x", qos=1, pid=2, version=V5))
    replies.append(r.expect(raw.PUBACK))
    r.send(raw.publish("nobody/listens", b"x", qos=2, pid=3, version=V5))
    replies.append(r.expect(raw.PUBREC))
    r.send(raw.pubrel(3, V5))
    replies.append(r.expect(raw.PUBCOMP))
    r.send(raw.pubrel(99, V5))  # unknown packet id: PUBCOMP 0x92 (Packet Identifier not found)
    replies.append(r.expect(raw.PUBCOMP))
    r.send(raw.subscribe(4, [("rpi/t", 2)], V5))
    replies.append(r.expect(raw.SUBACK))
    for p in replies:
        assert "ReasonString" not in p.props and "UserProperty" not in p.props, p
    assert replies[4].rc in (0x00, 0x92), replies[4]


@pytest.mark.parametrize("rri", [0, 1])
def test_v5_request_response_information(broker, rri):
    """5.0 [MQTT-3.1.2-28]: with 0 the server MUST NOT return Response Information; with 1 it
    MAY (a string). Either way the CONNACK is a valid success and the connection works."""
    r = broker.raw(V5)
    ack = r.connect(unique("rri"), props={"RequestResponseInformation": rri})
    if rri == 0:
        assert "ResponseInformation" not in ack.props, ack
    else:
        assert isinstance(ack.props.get("ResponseInformation", ""), str)
    r.subscribe(1, [("rri/t", 1)])
    pub = broker.raw(V5)
    pub.connect(unique("rrp"))
    pub.publish("rri/t", b"x", qos=1, pid=2)
    assert r.expect(raw.PUBLISH).payload == b"x"
