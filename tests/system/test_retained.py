"""Retained messages: set, replace, clear, the RETAIN flag on delivery, v5 Retain Handling and
Retain As Published, delivery on subscribe through wildcard filters.

Messages that must NOT arrive are checked with a live marker: after subscribing, a
non-retained marker is published to a topic the filter matches and the messages received
before it are compared. Retained messages are sent when the subscription is made, so they
come before any message published after the SUBACK.
"""

from __future__ import annotations

import pytest

from helpers import V5, unique


def retained_on_subscribe(broker, proto: int, flt: str, marker_topic: str, qos: int = 1,
                          **sub_kw) -> list:
    """Subscribe a fresh client to `flt`; return what it received before a live marker."""
    c = broker.client(protocol=proto)
    c.connect()
    c.subscribe(flt, qos=qos, **sub_kw)
    p = broker.client(protocol=proto)
    p.connect()
    p.publish(marker_topic, b"marker", qos=qos)
    p.disconnect()
    got = c.collect_until(b"marker")
    c.disconnect()
    return got


def test_retained_set_replace_and_clear(broker, proto):
    """3.1.1 [MQTT-3.3.1-5] [MQTT-3.3.1-10] [MQTT-3.3.1-11] / 5.0 [MQTT-3.3.1-5]
    [MQTT-3.3.1-6] [MQTT-3.3.1-7]: the server stores the last retained message per topic, sends
    it to new subscribers, and a retained message with an empty payload removes it."""
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("ret/a", b"one", qos=1, retain=True)
    got = retained_on_subscribe(broker, proto, "ret/a", "ret/a")
    assert [(m.payload, m.retain) for m in got] == [(b"one", True)]

    pub.publish("ret/a", b"two", qos=1, retain=True)
    got = retained_on_subscribe(broker, proto, "ret/a", "ret/a")
    assert [(m.payload, m.retain) for m in got] == [(b"two", True)]

    live = broker.client(protocol=proto)
    live.connect()
    live.subscribe("ret/a", qos=1)
    assert live.expect_message().payload == b"two"
    pub.publish("ret/a", b"", qos=1, retain=True)
    cleared = live.expect_message()  # the empty message is forwarded as a normal one
    assert (cleared.topic, cleared.payload) == ("ret/a", b"")
    assert retained_on_subscribe(broker, proto, "ret/a", "ret/a") == []


def test_non_retained_publish_does_not_replace_retained(broker, proto):
    """3.1.1 [MQTT-3.3.1-12] / 5.0 [MQTT-3.3.1-8]: RETAIN 0 neither stores nor replaces."""
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("nr/a", b"kept", qos=1, retain=True)
    pub.publish("nr/a", b"transient", qos=1, retain=False)
    got = retained_on_subscribe(broker, proto, "nr/a", "nr/a")
    assert [m.payload for m in got] == [b"kept"]


def test_retain_flag_set_on_subscribe_and_cleared_on_forwarding(broker, proto):
    """3.1.1 [MQTT-3.3.1-8] [MQTT-3.3.1-9] / 5.0 [MQTT-3.3.1-12] (Retain As Published 0): RETAIN
    is 1 on a message sent because of a new subscription, 0 when forwarded to an existing one."""
    existing = broker.client(protocol=proto)
    existing.connect()
    existing.subscribe("rf/t", qos=1)
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("rf/t", b"r", qos=1, retain=True)
    forwarded = existing.expect_message()
    assert (forwarded.payload, forwarded.retain) == (b"r", False)
    got = retained_on_subscribe(broker, proto, "rf/t", "rf/t")
    assert [(m.payload, m.retain) for m in got] == [(b"r", True)]


def test_retained_delivered_through_wildcard_filters(broker, proto):
    """Retained messages of every topic the new filter matches are sent (section 3.8.4)."""
    pub = broker.client(protocol=proto)
    pub.connect()
    topics = ["w/a/x", "w/b/x", "w/a/y", "w/a/x/z", "wz/a/x"]
    for t in topics:
        pub.publish(t, t.encode(), qos=1, retain=True)
    cases = {
        "w/+/x": {"w/a/x", "w/b/x"},
        "w/#": {"w/a/x", "w/b/x", "w/a/y", "w/a/x/z"},
        "w/a/+": {"w/a/x", "w/a/y"},
        "+/a/x": {"w/a/x", "wz/a/x"},
        "#": set(topics),
    }
    for flt, expected in cases.items():
        marker_topic = {"w/+/x": "w/m/x", "w/#": "w/m", "w/a/+": "w/a/m",
                        "+/a/x": "m/a/x", "#": "m"}[flt]
        got = retained_on_subscribe(broker, proto, flt, marker_topic)
        assert sorted(m.topic for m in got) == sorted(expected), flt
        assert all(m.retain and m.payload == m.topic.encode() for m in got), got


def test_retained_message_delivered_at_subscription_qos(broker, proto):
    """The retained message is delivered at min(stored QoS, granted QoS)."""
    pub = broker.client(protocol=proto)
    pub.connect()
    pub.publish("rq/two", b"2", qos=2, retain=True)
    pub.publish("rq/one", b"1", qos=1, retain=True)
    got = retained_on_subscribe(broker, proto, "rq/#", "rq/m", qos=1)
    assert sorted((m.topic, m.qos) for m in got) == [("rq/one", 1), ("rq/two", 1)]
    c = broker.client(protocol=proto)
    c.connect()
    c.subscribe("rq/two", qos=2)
    m = c.expect_message()
    assert (m.payload, m.qos, m.retain) == (b"2", 2, True)


@pytest.mark.parametrize("rh", [0, 1, 2])
def test_v5_retain_handling(broker, rh):
    """5.0 [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]: 0 = send retained messages on every
    subscribe, 1 = only if the subscription did not exist, 2 = never."""
    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("rh/t", b"retained", qos=1, retain=True)
    c = broker.client(protocol=V5)
    c.connect()
    expected = [] if rh == 2 else [b"retained"]
    for attempt in ("new subscription", "existing subscription"):
        c.subscribe("rh/t", qos=1, rh=rh)
        pub.publish("rh/t", f"marker-{attempt}".encode(), qos=1)
        got = c.collect_until(f"marker-{attempt}".encode())
        assert [m.payload for m in got] == expected, attempt
        if rh == 1:
            expected = []


@pytest.mark.parametrize("rap", [False, True])
def test_v5_retain_as_published(broker, rap):
    """5.0 [MQTT-3.3.1-12] [MQTT-3.3.1-13]: with Retain As Published the forwarded message keeps
    the publisher's RETAIN flag; without it RETAIN is 0. Retained-on-subscribe is always 1."""
    c = broker.client(protocol=V5)
    c.connect()
    c.subscribe("rap/t", qos=1, rap=rap)
    pub = broker.client(protocol=V5)
    pub.connect()
    pub.publish("rap/t", b"r", qos=1, retain=True)
    pub.publish("rap/t", b"n", qos=1, retain=False)
    got = c.expect_messages(2)
    assert [(m.payload, m.retain) for m in got] == [(b"r", rap), (b"n", False)]
    c2 = broker.client(protocol=V5)
    c2.connect()
    c2.subscribe("rap/t", qos=1, rap=rap)
    m = c2.expect_message()
    assert (m.payload, m.retain) == (b"r", True)


def test_retained_survive_publisher_disconnect(broker, proto):
    pub = broker.client(unique("rp"), protocol=proto)
    pub.connect()
    pub.publish("rs/t", b"stays", qos=1, retain=True)
    pub.drop()
    got = retained_on_subscribe(broker, proto, "rs/t", "rs/t")
    assert [m.payload for m in got] == [b"stays"]
