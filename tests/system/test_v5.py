"""MQTT 5.0 features: Topic Alias (client to server), Message Expiry, User Properties, Response
Topic / Correlation Data, Payload Format / Content Type, server capabilities announced in
CONNACK and enforced (Maximum QoS, Retain Available, Wildcard / Subscription Identifier /
Shared Subscription Available), and the reason codes of server-initiated DISCONNECTs."""

from __future__ import annotations

import time

import pytest

import mqttraw as raw
from helpers import TIMEOUT, V5, unique


# -- Topic Alias, client to server ------------------------------------------------------------


def test_topic_alias_from_client_is_resolved(start_broker):
    """5.0 section 3.3.2.3.4, [MQTT-3.3.2-12]: the server announces Topic Alias Maximum, accepts
    every alias up to it, resolves an alias sent with an empty Topic Name, and replaces a
    mapping when the alias comes with a new name. The alias is not forwarded to a subscriber
    that did not allow aliases ([MQTT-3.1.2-27])."""
    b = start_broker(limits={"topic_alias_maximum": 3})
    sub = b.client(protocol=V5)
    sub.connect()
    sub.subscribe("alias/#", qos=1)
    r = b.raw(V5)
    ack = r.connect(unique("ta"))
    assert ack.props.get("TopicAliasMaximum") == 3, ack
    sends = [("alias/one", 1), ("", 1), ("alias/two", 1), ("", 1), ("alias/three", 3), ("", 3),
             ("", 1)]
    for pid, (topic, alias) in enumerate(sends, start=1):
        r.publish(topic, str(pid).encode(), qos=1, pid=pid, props={"TopicAlias": alias})
    got = sub.expect_messages(len(sends))
    assert [(m.topic, m.payload) for m in got] == [
        ("alias/one", b"1"), ("alias/one", b"2"), ("alias/two", b"3"), ("alias/two", b"4"),
        ("alias/three", b"5"), ("alias/three", b"6"), ("alias/two", b"7")]
    assert not any("TopicAlias" in m.props for m in got)


@pytest.mark.parametrize("topic,alias,code", [
    # 3.3.4: "A Topic Alias value of 0 or greater than the Maximum Topic Alias is a Protocol
    # Error, the receiver uses DISCONNECT with Reason Code of 0x94 (Topic Alias invalid)"
    pytest.param("alias/t", 0, 0x94, marks=pytest.mark.mosquitto_deviates(
        "answers Topic Alias 0 with DISCONNECT 0x81 instead of 0x94")),
    ("alias/t", 4, 0x94),   # [MQTT-3.3.2-9]: above Topic Alias Maximum
    ("", 2, 0x82),          # empty topic, alias without mapping: Protocol Error (3.3.4)
    ("", None, 0x82),       # empty topic and no alias: Protocol Error
], ids=["zero", "above-max", "unmapped", "empty-topic"])
def test_invalid_topic_alias_disconnects(start_broker, topic, alias, code):
    b = start_broker(limits={"topic_alias_maximum": 3})
    r = b.raw(V5)
    r.connect(unique("tai"))
    r.publish("alias/t", b"ok", qos=1, pid=1, props={"TopicAlias": 1})
    props = {"TopicAlias": alias} if alias is not None else None
    r.send(raw.publish(topic, b"bad", qos=1, pid=2, version=V5, props=props))
    packets = r.wait_closed(TIMEOUT)
    assert [(p.type, p.rc) for p in packets] == [(raw.DISCONNECT, code)], packets
    b.assert_serving()


# -- Message Expiry ------------------------------------------------------------------------------


def test_message_expiry(broker):
    """5.0 [MQTT-3.3.2-5] [MQTT-3.3.2-6]: the forwarded Message Expiry Interval is the received
    value minus the time the message waited; a message that expired while queued for an
    offline session, or as a retained message, is not delivered."""
    live = broker.client(protocol=V5)
    live.connect()
    live.subscribe("mx/#", qos=1)
    cid = unique("mx")
    off = broker.client(cid, protocol=V5)
    off.connect(props={"SessionExpiryInterval": 300})
    off.subscribe("mx/#", qos=1)
    off.disconnect()

    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("mx/short", b"short", qos=1, props={"MessageExpiryInterval": 1})
    pub.publish("mx/long", b"long", qos=1, props={"MessageExpiryInterval": 30})
    pub.publish("mx/none", b"none", qos=1)
    pub.publish("mx/ret", b"retained-short", qos=1, retain=True,
                props={"MessageExpiryInterval": 1})
    published_at = time.monotonic()
    pub.publish("mx/marker", b"marker", qos=1)
    now = {m.payload: m.props.get("MessageExpiryInterval") for m in live.collect_until(b"marker")}
    assert 29 <= now[b"long"] <= 30, now
    assert now[b"none"] is None, "expiry invented for a message without one"
    assert now.get(b"short", 1) <= 1, now  # may already count as expired: optional

    time.sleep(2.2)  # the feature under test is time passing: beyond the 1 s expiries
    waited = time.monotonic() - published_at
    off = broker.client(cid, protocol=V5, clean=False)
    assert off.connect(props={"SessionExpiryInterval": 300}).session_present
    pub.publish("mx/marker", b"marker", qos=1)
    got = {m.payload: m.props.get("MessageExpiryInterval") for m in off.collect_until(b"marker")}
    assert set(got) == {b"long", b"none"}, got
    assert 30 - waited - 2 <= got[b"long"] <= 30 - int(waited), (got, waited)
    assert got[b"none"] is None

    late = broker.client(protocol=V5)
    late.connect()
    late.subscribe("mx/ret", qos=1)
    pub.publish("mx/ret", b"marker", qos=1)  # non-retained marker on the same topic
    assert late.collect_until(b"marker") == [], "expired retained message delivered"


# -- properties passed through -------------------------------------------------------------------


def test_user_properties_forwarded_in_order(broker):
    """5.0 [MQTT-3.3.2-17] [MQTT-3.3.2-18]: all User Properties, unaltered and in order
    (duplicate names allowed)."""
    sub = broker.client(protocol=V5)
    sub.connect()
    sub.subscribe("up/t", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    props = [("b", "2"), ("a", "1"), ("b", "3"), ("ключ", "значение"), ("empty", "")]
    pub.publish("up/t", b"x", qos=1, props={"UserProperty": props})
    assert sub.expect_message().props.get("UserProperty") == props


def test_response_topic_and_correlation_data_forwarded(broker):
    """5.0 [MQTT-3.3.2-15] [MQTT-3.3.2-16]: Response Topic and Correlation Data unaltered; a
    request/response round trip works."""
    responder = broker.client(protocol=V5)
    responder.connect()
    responder.subscribe("svc/request", qos=1)
    requester = broker.client(protocol=V5)
    requester.connect()
    reply_to = f"svc/reply/{unique()}"
    requester.subscribe(reply_to, qos=1)
    corr = bytes(range(256))
    requester.publish("svc/request", b"ping", qos=1,
                      props={"ResponseTopic": reply_to, "CorrelationData": corr})
    req = responder.expect_message()
    assert req.props.get("ResponseTopic") == reply_to
    assert req.props.get("CorrelationData") == corr
    responder.publish(req.props["ResponseTopic"], b"pong", qos=1,
                      props={"CorrelationData": req.props["CorrelationData"]})
    resp = requester.expect_message()
    assert (resp.topic, resp.payload, resp.props.get("CorrelationData")) == (reply_to, b"pong", corr)


def test_payload_format_and_content_type_forwarded(broker):
    """5.0 [MQTT-3.3.2-4] [MQTT-3.3.2-20]: Payload Format Indicator and Content Type unaltered."""
    sub = broker.client(protocol=V5)
    sub.connect()
    sub.subscribe("pf/#", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("pf/utf8", "{\"amount\": \"10.00 元\"}".encode(), qos=1,
                props={"PayloadFormatIndicator": 1, "ContentType": "application/json"})
    pub.publish("pf/bytes", b"\x00\xff", qos=1,
                props={"PayloadFormatIndicator": 0, "ContentType": "application/octet-stream"})
    a, b = sub.expect_messages(2)
    assert (a.props.get("PayloadFormatIndicator"), a.props.get("ContentType")) == (1, "application/json")
    assert b.props.get("ContentType") == "application/octet-stream"
    assert b.props.get("PayloadFormatIndicator", 0) == 0
    assert b.payload == b"\x00\xff"


# -- server capabilities ---------------------------------------------------------------------------


def test_maximum_qos_announced_and_enforced(start_broker):
    """5.0 section 3.2.2.3.4: Maximum QoS 1 is announced; a QoS 2 subscription is granted QoS 1;
    a QoS 2 PUBLISH is refused with DISCONNECT 0x9B ([MQTT-3.2.2-11] is the client side) and a
    QoS 2 will with CONNACK 0x9B ([MQTT-3.2.2-12])."""
    b = start_broker(mqtt={"maximum_qos": 1})
    r = b.raw(V5)
    ack = r.connect(unique("mq"))
    assert ack.props.get("MaximumQoS") == 1, ack
    assert r.subscribe(1, [("mq/t", 2)]).codes == [1]
    r.send(raw.publish("mq/t", b"q1", qos=1, pid=2, version=V5))
    got = sorted((r.recv(), r.recv()), key=lambda p: p.type)  # PUBLISH (own) and PUBACK
    assert [p.type for p in got] == [raw.PUBLISH, raw.PUBACK], got
    assert (got[0].payload, got[0].qos) == (b"q1", 1)
    r.send(raw.puback(got[0].pid, V5))
    r.send(raw.publish("mq/t", b"q2", qos=2, pid=3, version=V5))
    assert [(p.type, p.rc) for p in r.wait_closed(TIMEOUT)] == [(raw.DISCONNECT, 0x9B)]
    w = b.raw(V5)
    w.send(raw.connect(unique("mw"), version=V5, will={"topic": "mq/w", "payload": b"", "qos": 2}))
    assert [(p.type, p.rc) for p in w.wait_closed(TIMEOUT)] == [(raw.CONNACK, 0x9B)]
    b.assert_serving()


def test_retain_not_available(start_broker):
    """5.0 section 3.2.2.3.5: Retain Available 0 is announced; a retained PUBLISH gets
    DISCONNECT 0x9A and a will with Will Retain gets CONNACK 0x9A ([MQTT-3.2.2-13])."""
    b = start_broker(mqtt={"retain_available": False})
    r = b.raw(V5)
    ack = r.connect(unique("ra"))
    assert ack.props.get("RetainAvailable") == 0, ack
    r.send(raw.publish("ra/t", b"x", qos=1, pid=1, retain=True, version=V5))
    assert [(p.type, p.rc) for p in r.wait_closed(TIMEOUT)] == [(raw.DISCONNECT, 0x9A)]
    w = b.raw(V5)
    w.send(raw.connect(unique("rw"), version=V5,
                       will={"topic": "ra/w", "payload": b"", "qos": 0, "retain": True}))
    assert [(p.type, p.rc) for p in w.wait_closed(TIMEOUT)] == [(raw.CONNACK, 0x9A)]
    b.assert_serving()


def refused(r: raw.RawClient, code: int) -> None:
    """The last request was refused with `code`: in a SUBACK, or by DISCONNECT and close.
    A Reason String, when present, is readable text (section 3.9.2.1.2)."""
    p = r.recv()
    if p.type == raw.SUBACK:
        assert p.codes == [code], p
    else:
        assert (p.type, p.rc) == (raw.DISCONNECT, code), p
        r.wait_closed(TIMEOUT)
    assert isinstance(p.props.get("ReasonString", ""), str)


@pytest.mark.mosquitto_deviates("wildcard subscriptions cannot be disabled")
def test_wildcard_subscriptions_not_available(start_broker):
    b = start_broker(mqtt={"wildcard_subscriptions": False})
    r = b.raw(V5)
    ack = r.connect(unique("wa"))
    assert ack.props.get("WildcardSubscriptionAvailable") == 0, ack
    assert r.subscribe(1, [("plain/topic", 1)]).codes == [1]
    r.send(raw.subscribe(2, [("wild/#", 1)], V5))
    refused(r, 0xA2)
    b.assert_serving()


@pytest.mark.mosquitto_deviates("subscription identifiers cannot be disabled")
def test_subscription_identifiers_not_available(start_broker):
    b = start_broker(mqtt={"subscription_identifiers": False})
    r = b.raw(V5)
    ack = r.connect(unique("sa"))
    assert ack.props.get("SubscriptionIdentifierAvailable") == 0, ack
    r.send(raw.subscribe(1, [("sid/t", 1)], V5, props={"SubscriptionIdentifier": 5}))
    refused(r, 0xA1)
    b.assert_serving()


@pytest.mark.mosquitto_deviates("shared subscriptions cannot be disabled")
def test_shared_subscriptions_not_available(start_broker):
    b = start_broker(mqtt={"shared_subscriptions": False})
    r = b.raw(V5)
    ack = r.connect(unique("sh"))
    assert ack.props.get("SharedSubscriptionAvailable") == 0, ack
    r.send(raw.subscribe(1, [("$share/g/t", 1)], V5))
    refused(r, 0x9E)
    b.assert_serving()


def test_connack_announces_enabled_capabilities(broker):
    """Absent capability properties mean "available"; if present they must say 1 by default."""
    r = broker.raw(V5)
    ack = r.connect(unique("cap"))
    for name in ("RetainAvailable", "WildcardSubscriptionAvailable",
                 "SubscriptionIdentifierAvailable", "SharedSubscriptionAvailable"):
        assert ack.props.get(name, 1) == 1, (name, ack)
    assert ack.props.get("MaximumQoS", 2) == 2
    assert ack.props.get("ReceiveMaximum", 65535) > 0


# -- server-initiated DISCONNECT reason codes ------------------------------------------------------

_PUB = lambda props: raw.publish("rc/t", b"x", qos=1, pid=1, version=V5, props=props)  # noqa: E731


def _publish_with_raw_properties(prop_bytes: bytes) -> bytes:
    body = raw.mstr("rc/t") + raw.u16(1) + raw.varint(len(prop_bytes)) + prop_bytes + b"x"
    return raw.packet(raw.PUBLISH, 0x02, body)


def _case(name, data, codes, deviation=None):
    marks = [pytest.mark.mosquitto_deviates(deviation)] if deviation else []
    return pytest.param(data, codes, id=name, marks=marks)


# (packet sent after CONNACK, acceptable DISCONNECT reason codes)
DISCONNECT_CASES = [
    _case("second-connect", raw.connect("again", version=V5), {0x82},          # [MQTT-3.1.0-2]
          "closes without sending DISCONNECT 0x82"),
    _case("publish-qos3", raw.publish("rc/t", b"x", flags=0x06, pid=1, version=V5),
          {0x81}),                                                               # [MQTT-3.3.1-4]
    _case("duplicate-property",                                                 # 3.3.2.3.2
          _PUB([("PayloadFormatIndicator", 0), ("PayloadFormatIndicator", 0)]), {0x82},
          "answers a repeated property (a Protocol Error) with 0x81 instead of 0x82"),
    _case("property-length-overrun", raw.packet(raw.PUBLISH, 0x02, raw.mstr("rc/t") + raw.u16(1)
                                                 + raw.varint(50) + b"\x01\x00"), {0x81}),
    _case("unknown-property", _publish_with_raw_properties(b"\x7f\x00"), {0x81}),  # 2.2.2.2
    _case("property-not-for-publish", _PUB({"SessionExpiryInterval": 5}), {0x81}),  # 2.2.2.2
    _case("client-sends-subscription-id", _PUB({"SubscriptionIdentifier": 3}),   # [MQTT-3.3.4-6]
          {0x81, 0x82}, "accepts a Subscription Identifier in a PUBLISH from a client"),
    _case("subscription-id-zero",                                               # 3.8.2.1.2
          raw.subscribe(1, [("rc/t", 1)], V5, props=[(0x0B, b"\x00")]), {0x82},
          "answers Subscription Identifier 0 (a Protocol Error) with 0x81 instead of 0x82"),
    _case("subscribe-reserved-option-bits", raw.subscribe(1, [("rc/t", 0xC1)], V5),
          {0x81}),                                                               # [MQTT-3.8.3-5]
    _case("retain-handling-3", raw.subscribe(1, [("rc/t", 0x31)], V5), {0x82},  # 3.8.3.1
          "answers Retain Handling 3 (a Protocol Error) with 0x81 instead of 0x82"),
]


@pytest.mark.parametrize("data,codes", DISCONNECT_CASES)
def test_server_disconnect_reason_codes(broker, data, codes):
    """5.0 section 4.13: on a Malformed Packet (0x81) or Protocol Error (0x82) after CONNECT the
    server SHOULD send DISCONNECT with the reason code, and MUST close the connection."""
    r = broker.raw(V5)
    r.connect(unique("rc"))
    r.send(data)
    packets = r.wait_closed(TIMEOUT)
    assert len(packets) == 1 and packets[0].type == raw.DISCONNECT, packets
    assert packets[0].rc in codes, packets
    broker.assert_serving()
