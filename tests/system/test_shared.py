"""MQTT 5.0 shared subscriptions ($share/{ShareName}/{filter}, section 4.8.2): each message to
exactly one member of each group, distribution among online members, redelivery of a lost
member's unacknowledged messages, and the protocol errors of shared filters."""

from __future__ import annotations

import pytest

import mqttraw as raw
from helpers import TIMEOUT, V5, unique, wait_until


def flush(member, broker) -> list:
    """Everything routed to `member` so far: it publishes a marker to a private topic of its
    own and collects what arrived before it (the shared messages were all acknowledged to
    the publisher, hence routed, before the marker was sent)."""
    private = f"priv/{unique()}"
    member.subscribe(private, qos=1)
    member.publish(private, b"flush-marker", qos=1)
    return member.collect_until(b"flush-marker")


def test_shared_subscription_delivers_each_message_to_one_member(broker):
    """5.0 section 4.8.2: a message matching a shared subscription goes to exactly one
    session of the group; other groups and non-shared subscriptions get their own copy. All
    online members get a share of the load (distribution is hookmq's round robin)."""
    g1 = []
    for _ in range(3):
        m = broker.client(protocol=V5)
        m.connect()
        assert m.subscribe("$share/g1/sh/+", qos=1) == [1]
        g1.append(m)
    g2 = broker.client(protocol=V5)
    g2.connect()
    g2.subscribe("$share/g2/sh/t", qos=1)
    plain = broker.client(protocol=V5)
    plain.connect()
    plain.subscribe("sh/t", qos=1)

    pub = broker.client(protocol=V5)
    pub.connect()
    n = 30
    for i in range(n):
        pub.publish("sh/t", str(i).encode(), qos=1)
    expected = [str(i).encode() for i in range(n)]
    assert [m.payload for m in plain.expect_messages(n)] == expected
    assert [m.payload for m in g2.expect_messages(n)] == expected
    per_member = [[m.payload for m in flush(member, broker)] for member in g1]
    everything = sorted(p for got in per_member for p in got)
    assert everything == sorted(expected), per_member  # once each, none lost
    assert all(per_member), f"an online member got nothing: {[len(g) for g in per_member]}"


def test_shared_subscription_two_members_both_receive(broker):
    a = broker.client(protocol=V5)
    a.connect()
    a.subscribe("$share/rr/rr/t", qos=1)
    b = broker.client(protocol=V5)
    b.connect()
    b.subscribe("$share/rr/rr/t", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    for i in range(20):
        pub.publish("rr/t", str(i).encode(), qos=1)
    got_a = flush(a, broker)
    got_b = flush(b, broker)
    assert got_a and got_b, (len(got_a), len(got_b))
    assert sorted(m.payload for m in got_a + got_b) == sorted(str(i).encode() for i in range(20))


@pytest.mark.mosquitto_deviates(
    "does not resend a lost shared member's unacknowledged messages to another member")
def test_shared_unacknowledged_messages_go_to_another_member(broker):
    """5.0 section 4.8.2: if the connection of the chosen member breaks before it acknowledges
    a QoS 1 message and its session ends, the server SHOULD send the message to another member."""
    lost = broker.raw(V5)
    lost.connect(unique("lost"))  # Session Expiry 0: the session ends with the connection
    lost.subscribe(1, [("$share/g/sr/t", raw.sub_options(1))])
    keep = broker.client(protocol=V5)
    keep.connect()
    keep.subscribe("$share/g/sr/t", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    n = 10
    for i in range(n):
        pub.publish("sr/t", str(i).encode(), qos=1)
    unacked = [lost.expect(raw.PUBLISH)]  # withheld PUBACKs
    while True:
        try:
            unacked.append(lost.expect(raw.PUBLISH, timeout=0.3))
        except TimeoutError:
            break
    lost.abort()
    got: set[bytes] = set()

    def all_arrived() -> bool:
        got.update(m.payload for m in keep.pending())
        return len(got) == n

    wait_until(all_arrived, TIMEOUT, message=f"all {n} messages at the remaining member")
    assert {p.payload for p in unacked} <= got


@pytest.mark.mosquitto_deviates("accepts No Local on a shared subscription")
def test_shared_subscription_with_no_local_is_protocol_error(broker):
    """5.0 [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error (0x82)."""
    r = broker.raw(V5)
    r.connect(unique("snl"))
    r.send(raw.subscribe(1, [("$share/g/nl/t", raw.sub_options(1, no_local=True))], V5))
    packets = r.wait_closed(TIMEOUT)
    assert [(p.type, p.rc) for p in packets] in ([(raw.DISCONNECT, 0x82)], []), packets
    broker.assert_serving()


ACCEPTED = pytest.mark.mosquitto_deviates("grants this malformed shared filter")


@pytest.mark.parametrize("flt", [
    pytest.param("$share/g", marks=ACCEPTED), pytest.param("$share//t", marks=ACCEPTED),
    "$share/g+/t", "$share/g#/t", pytest.param("$share/g/", marks=ACCEPTED)])
def test_invalid_shared_filter_is_refused(broker, flt):
    """5.0 [MQTT-4.8.2-1] [MQTT-4.8.2-2]: ShareName at least one character, without / + #,
    followed by / and a Topic Filter. Refused by SUBACK >= 0x80 or DISCONNECT >= 0x80."""
    r = broker.raw(V5)
    r.connect(unique("isf"))
    r.send(raw.subscribe(1, [(flt, 1)], V5))
    try:
        p = r.recv()
    except raw.ConnectionClosed:
        p = None
    if p is not None and p.type == raw.SUBACK:
        assert p.codes and p.codes[0] >= 0x80, p
    elif p is not None:
        assert p.type == raw.DISCONNECT and p.rc >= 0x80, p
    broker.assert_serving()


def test_shared_member_leaving_stops_its_share(broker):
    """After a member unsubscribes the remaining member gets every message."""
    a = broker.client(protocol=V5)
    a.connect()
    a.subscribe("$share/lv/lv/t", qos=1)
    b = broker.client(protocol=V5)
    b.connect()
    b.subscribe("$share/lv/lv/t", qos=1)
    a.unsubscribe("$share/lv/lv/t")
    pub = broker.client(protocol=V5)
    pub.connect()
    for i in range(10):
        pub.publish("lv/t", str(i).encode(), qos=1)
    assert [m.payload for m in b.expect_messages(10)] == [str(i).encode() for i in range(10)]
    assert flush(a, broker) == []


@pytest.mark.mosquitto_deviates("sends retained messages to every new shared-subscription member")
def test_shared_subscription_gets_no_retained_messages(broker):
    """5.0 section 4.8.2 / 3.8.4: no retained messages are sent when a shared subscription is
    made (the first member or a later one); new messages still arrive."""
    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("shr/t", b"retained", qos=1, retain=True)
    members = []
    for _ in range(2):
        m = broker.client(protocol=V5)
        m.connect()
        m.subscribe("$share/g/shr/t", qos=1)
        members.append(m)
    pub.publish("shr/t", b"live", qos=1)
    got = [msg.payload for m in members for msg in flush(m, broker)]
    assert got == [b"live"], got


def test_shared_members_keep_their_own_qos_and_subscription_identifiers(broker):
    """5.0 [MQTT-4.8.2-3]: each member gets its own granted QoS; section 3.3.4: only the
    Subscription Identifier of the receiving member's SUBSCRIBE is sent."""
    a = broker.client(protocol=V5)
    a.connect()
    a.subscribe("$share/q/shq/t", qos=0, props={"SubscriptionIdentifier": 11})
    b = broker.client(protocol=V5)
    b.connect()
    b.subscribe("$share/q/shq/t", qos=1, props={"SubscriptionIdentifier": 22})
    pub = broker.client(protocol=V5)
    pub.connect()
    for i in range(20):
        pub.publish("shq/t", str(i).encode(), qos=1)
    got_a, got_b = flush(a, broker), flush(b, broker)
    assert len(got_a) + len(got_b) == 20
    assert all(m.qos == 0 and m.props.get("SubscriptionIdentifier") == [11] for m in got_a), got_a
    assert all(m.qos == 1 and m.props.get("SubscriptionIdentifier") == [22] for m in got_b), got_b


def test_shared_message_refused_by_member_is_not_sent_to_another(broker):
    """5.0 [MQTT-4.8.2-6]: a PUBACK >= 0x80 from the chosen member discards the message: it is
    not sent to any other member."""
    refuser = broker.raw(V5)
    refuser.connect(unique("ref"))
    refuser.subscribe(1, [("$share/r/shf/t", raw.sub_options(1))])
    other = broker.client(protocol=V5)
    other.connect()
    other.subscribe("$share/r/shf/t", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    n = 20
    for i in range(n):
        pub.publish("shf/t", str(i).encode(), qos=1)
    refused_payloads = set()
    while True:
        try:
            p = refuser.expect(raw.PUBLISH, timeout=0.5)
        except TimeoutError:
            break
        refuser.send(raw.puback(p.pid, V5, rc=0x80))
        refused_payloads.add(p.payload)
    assert refused_payloads, "the refusing member was never chosen"
    got = {m.payload for m in flush(other, broker)}
    assert not (got & refused_payloads), sorted(got & refused_payloads)
    assert got | refused_payloads == {str(i).encode() for i in range(n)}


def test_shared_filter_with_empty_first_level(broker):
    """5.0 section 4.8.2: "$share/consumer1//finance" matches the topic "/finance"."""
    m = broker.client(protocol=V5)
    m.connect()
    m.subscribe("$share/c1//finance", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("/finance", b"slash", qos=1)
    pub.publish("finance", b"no-slash", qos=1)
    assert [x.payload for x in flush(m, broker)] == [b"slash"]
