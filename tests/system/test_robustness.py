"""Hostile and broken input: garbage, truncated packets, oversized lengths, a byte-at-a-time
client, protocol violations (first packet not CONNECT, second CONNECT, invalid UTF-8,
reserved flags, Packet Identifier 0, ...). Each refused connection is closed (3.1.1 section
4.8, 5.0 section 4.13: v5 may get CONNACK/DISCONNECT >= 0x80 first), and the broker keeps
serving everyone else; every test ends with a fresh client round trip."""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

import mqttraw as raw
from helpers import TIMEOUT, V5, V311, unique


def assert_refused(r: raw.RawClient, proto: int, connected: bool = False) -> None:
    """The broker closes the connection ([MQTT-4.13.1-1]), sending at most a failure CONNACK /
    DISCONNECT. After a successful v5 CONNECT it SHOULD first send DISCONNECT >= 0x80 (section
    4.13.1); hookmq's design requires that refusal, so it is asserted."""
    packets = r.wait_closed(TIMEOUT)
    if connected and proto == V5:
        assert [p.type for p in packets] == [raw.DISCONNECT], packets
    for p in packets:
        assert p.type in (raw.CONNACK, raw.DISCONNECT), f"unexpected reply {p!r}"
        if proto == V5:
            assert p.rc >= 0x80, p
        else:
            assert p.type == raw.CONNACK and p.rc != 0, p


def connected_client(broker, proto: int) -> raw.RawClient:
    r = broker.raw(proto)
    r.connect(unique("rb"))
    return r


# -- before CONNECT ---------------------------------------------------------------------------

FIRST_PACKETS = {
    "http-request": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "random-bytes": random.Random(7).randbytes(64),
    "zeros": b"\x00" * 16,
    "publish-first": raw.publish("a/b", b"x"),
    "subscribe-first": raw.subscribe(1, [("a/b", 0)]),
    "pingreq-first": raw.pingreq(),
    "disconnect-first": raw.disconnect(),
    "connack-from-client": b"\x20\x02\x00\x00",
    "reserved-type-0": b"\x00\x00",
    "connect-header-flags": bytes([0x11]) + raw.connect(unique("f"))[1:],      # [MQTT-2.2.2-2]
    "connect-reserved-flag": raw.connect(unique("r"), flags=0x03),             # [MQTT-3.1.2-3]
    "will-qos-without-will": raw.connect(unique("w"), flags=0x02 | 0x08),      # [MQTT-3.1.2-13]
    "will-qos-3": raw.connect(unique("q"), flags=0x02 | 0x04 | 0x18,
                              will={"topic": "w", "payload": b""}),            # [MQTT-3.1.2-14]
    "will-retain-without-will": raw.connect(unique("x"), flags=0x02 | 0x20),   # [MQTT-3.1.2-15]
    "password-without-username": raw.connect(unique("p"), password=b"pw"),     # [MQTT-3.1.2-22]
    "client-id-invalid-utf8": raw.connect(b"\xff\xfeid"),                      # [MQTT-1.5.3-1]
    "client-id-overrun": raw.packet(raw.CONNECT, 0, raw.mstr(b"MQTT") + b"\x04\x02\x00\x1e"
                                    + raw.u16(100) + b"short"),
    "remaining-length-5-bytes": b"\x10\xff\xff\xff\xff\x7f",
}


@pytest.mark.parametrize("data", list(FIRST_PACKETS.values()), ids=list(FIRST_PACKETS))
def test_bad_first_packet_is_refused(broker, data):
    """3.1.1/5.0 [MQTT-3.1.0-1]: the first packet must be a (well-formed) CONNECT."""
    r = broker.raw(V311)
    r.send(data)
    assert_refused(r, V311)
    broker.assert_serving()


def test_v5_connect_errors_are_refused(broker):
    """v5 CONNECT variants: password without user name is allowed in 5.0, a bad property is not."""
    ok = broker.raw(V5)
    ok.connect(unique("pw"), password=b"secret", expect_rc=None)  # accepted or refused, no crash
    for props in ([("ReceiveMaximum", 0)],                       # 3.1.2.11.3: Protocol Error
                  [("SessionExpiryInterval", 1), ("SessionExpiryInterval", 2)],
                  [("TopicAlias", 1)]):                          # not a CONNECT property
        r = broker.raw(V5)
        r.send(raw.connect(unique("cp"), version=V5, props=props))
        assert_refused(r, V5)
    broker.assert_serving()


def test_connect_truncated_then_dropped(broker, proto):
    """A client that dies in the middle of its CONNECT leaves nothing behind."""
    data = raw.connect(unique("tr"), version=proto, will={"topic": "t/w", "payload": b"w"})
    for cut in (1, 2, 5, len(data) - 1):
        s = socket.create_connection((broker.host, broker.port))
        s.sendall(data[:cut])
        s.close()
    broker.assert_serving(protocol=proto)


# -- after CONNECT ----------------------------------------------------------------------------

def after_connect_cases(proto: int) -> dict[str, bytes]:
    v = proto
    return {
        "second-connect": raw.connect(unique("again"), version=v),              # [MQTT-3.1.0-2]
        "topic-invalid-utf8": raw.publish(b"a/\xff", b"x", version=v),          # [MQTT-1.5.3-1]
        "topic-overlong-utf8": raw.publish(b"a/\xc0\xaf", b"x", version=v),
        "topic-utf16-surrogate": raw.publish(b"a/\xed\xa0\x80", b"x", version=v),
        "topic-null-char": raw.publish(b"a/\x00b", b"x", version=v),            # [MQTT-1.5.3-2]
        "topic-wildcard": raw.publish("a/+", b"x", version=v),                  # [MQTT-3.3.2-2]
        "topic-empty": raw.publish("", b"x", version=v),                        # [MQTT-4.7.3-1]
        "filter-invalid-utf8": raw.subscribe(1, [(b"a/\xff", 0)], v),
        "publish-qos3": raw.publish("a/b", b"x", flags=0x06, pid=1, version=v),  # [MQTT-3.3.1-4]
        "publish-qos1-pid0": raw.publish("a/b", b"x", qos=1, pid=0, version=v),  # [MQTT-2.3.1-1]
        "publish-qos2-pid0": raw.publish("a/b", b"x", qos=2, pid=0, version=v),
        "subscribe-pid0": raw.subscribe(0, [("a/b", 0)], v),
        "unsubscribe-pid0": raw.unsubscribe(0, ["a/b"], v),
        "subscribe-flags-0": raw.subscribe(1, [("a/b", 0)], v, flags=0),        # [MQTT-3.8.1-1]
        "unsubscribe-flags-0": raw.unsubscribe(1, ["a/b"], v, flags=0),         # [MQTT-3.10.1-1]
        "pubrel-flags-0": raw.packet(raw.PUBREL, 0, raw.u16(1)),                 # [MQTT-3.6.1-1]
        "pingreq-flags": raw.packet(raw.PINGREQ, 1, b""),                        # [MQTT-2.2.2-2]
        "subscribe-no-filters": raw.subscribe(1, [], v),                         # [MQTT-3.8.3-3]
        "unsubscribe-no-filters": raw.unsubscribe(1, [], v),                     # [MQTT-3.10.3-2]
        "subscribe-qos3": raw.subscribe(1, [("a/b", 3)], v),                     # [MQTT-3.8.3-4]
        "suback-from-client": raw.packet(raw.SUBACK, 0, raw.u16(1) + b"\x00"),
        "reserved-type-0": b"\x00\x00",
        "remaining-length-5-bytes": b"\x30\xff\xff\xff\xff\x7f",
        "topic-length-overrun": raw.packet(raw.PUBLISH, 0, raw.u16(200) + b"a/b"),
    }


_V311_CASES = after_connect_cases(V311)
_V5_CASES = after_connect_cases(V5)
_V5_CASES["auth-without-method"] = raw.packet(raw.AUTH, 0, b"\x18\x00")         # 4.12
_V311_CASES["auth-in-v311"] = raw.packet(raw.AUTH, 0, b"")


_NO_DISCONNECT = "closes without first sending DISCONNECT with a reason code (SHOULD, 4.13.1)"
_MOSQUITTO_ACCEPTS = {
    (V311, "pingreq-flags"): "ignores reserved fixed-header flags of PINGREQ [MQTT-2.2.2-2]",
    (V5, "pingreq-flags"): "ignores reserved fixed-header flags of PINGREQ [MQTT-2.2.2-2]",
    (V311, "suback-from-client"): "ignores a SUBACK sent by a 3.1.1 client",
    (V5, "second-connect"): _NO_DISCONNECT,
    (V5, "pubrel-flags-0"): _NO_DISCONNECT,
    (V5, "suback-from-client"): _NO_DISCONNECT,
    (V5, "remaining-length-5-bytes"): _NO_DISCONNECT,
    (V5, "auth-without-method"): _NO_DISCONNECT,
}


def _violation_params() -> list:
    params = []
    for proto, cases in ((V311, _V311_CASES), (V5, _V5_CASES)):
        for case in cases:
            why = _MOSQUITTO_ACCEPTS.get((proto, case))
            marks = [pytest.mark.mosquitto_deviates(why)] if why else []
            params.append(pytest.param(proto, case, marks=marks,
                                       id=f"{'v5' if proto == V5 else 'v311'}-{case}"))
    return params


@pytest.mark.parametrize("proto,case", _violation_params())
def test_protocol_violation_closes_connection(broker, proto, case):
    """A malformed packet or protocol violation after CONNECT closes the connection (3.1.1
    [MQTT-4.8.0-1], 5.0 [MQTT-4.13.1-1]); reserved flags: 3.1.1 [MQTT-2.2.2-2], 5.0
    [MQTT-2.1.3-1]; invalid UTF-8 / U+0000: 3.1.1 [MQTT-1.5.3-1] [MQTT-1.5.3-2], 5.0
    [MQTT-1.5.4-1] [MQTT-1.5.4-2]."""
    data = (_V311_CASES if proto == V311 else _V5_CASES)[case]
    r = connected_client(broker, proto)
    r.send(data)
    assert_refused(r, proto, connected=True)
    broker.assert_serving(protocol=proto)


def test_oversized_declared_length_is_refused_without_waiting(start_broker, proto):
    """A PUBLISH announcing 256 MB with max_packet_size 1 MiB is refused from its header: the
    broker neither buffers it nor waits for the bytes (v5: DISCONNECT 0x95)."""
    b = start_broker(limits={"max_packet_size": 1_048_576})
    r = b.raw(proto)
    r.connect(unique("big"))
    r.send(b"\x30\xff\xff\xff\x7f" + b"\x00\x03a/b")
    packets = r.wait_closed(TIMEOUT)
    if proto == V5:
        assert [(p.type, p.rc) for p in packets] == [(raw.DISCONNECT, 0x95)], packets
    else:
        assert packets == []
    b.assert_serving(protocol=proto)


# -- slow and concurrent hostile clients ------------------------------------------------------


def test_byte_at_a_time_client_works_and_does_not_block_others(broker, proto):
    """A client sending every packet one byte at a time is served, and while it is stuck in
    the middle of a packet other clients keep flowing."""
    slow = broker.raw(proto)
    conn = raw.connect(unique("slow"), version=proto)
    half = len(conn) // 2
    slow.send_slowly(conn[:half], delay=0.001)
    broker.assert_serving(protocol=proto)  # others flow while the slow CONNECT is incomplete
    slow.send_slowly(conn[half:], delay=0.001)
    assert slow.expect(raw.CONNACK).rc == 0
    slow.send_slowly(raw.subscribe(1, [("slow/t", 1)], proto), delay=0.001)
    assert slow.expect(raw.SUBACK).codes == [1]
    pub = raw.publish("slow/t", b"dribbled", qos=1, pid=2, version=proto)
    slow.send_slowly(pub[:3], delay=0.001)
    broker.assert_serving(protocol=proto)  # ... and while the PUBLISH is incomplete
    slow.send_slowly(pub[3:], delay=0.001)
    got = sorted((slow.recv(), slow.recv()), key=lambda p: p.type)
    assert [(p.type, p.payload) for p in got] == [(raw.PUBLISH, b"dribbled"), (raw.PUBACK, b"")]


def test_many_garbage_connections_while_others_flow(broker):
    """Twenty connections sending garbage at once do not disturb a working pair."""
    rng = random.Random(42)
    sub = broker.client(protocol=V5)
    sub.connect()
    sub.subscribe("flow/t", qos=1)
    pub = broker.client(protocol=V5)
    pub.connect()
    stop = threading.Event()

    def hammer(seed: int) -> None:
        rnd = random.Random(seed)
        while not stop.is_set():
            try:
                with socket.create_connection((broker.host, broker.port), timeout=2) as s:
                    s.sendall(rnd.randbytes(rnd.randint(1, 300)))
                    s.settimeout(0.2)
                    try:
                        s.recv(100)
                    except OSError:
                        pass
            except OSError:
                pass

    threads = [threading.Thread(target=hammer, args=(rng.random(),), daemon=True)
               for _ in range(20)]
    for t in threads:
        t.start()
    try:
        for i in range(50):
            pub.publish("flow/t", str(i).encode(), qos=1)
        assert [m.payload for m in sub.expect_messages(50)] == [str(i).encode() for i in range(50)]
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    broker.assert_serving()


def test_mutated_packets_do_not_crash_the_broker(broker, proto):
    """Bytes of valid packets flipped at random (seeded, bodies only so lengths still frame):
    whatever the broker decides, it survives and keeps serving."""
    rng = random.Random(1234 + proto)
    templates = [
        raw.publish("m/t", b"payload", qos=1, pid=3, version=proto,
                    props={"UserProperty": [("k", "v")], "MessageExpiryInterval": 9}
                    if proto == V5 else None),
        raw.subscribe(4, [("m/+", 1), ("m/#", 2)], proto,
                      props={"SubscriptionIdentifier": 5} if proto == V5 else None),
        raw.unsubscribe(5, ["m/+"], proto),
        raw.pubrel(6, proto), raw.puback(7, proto), raw.pingreq(),
    ]
    for i in range(60):
        pkt = bytearray(rng.choice(templates))
        header = 2  # fixed header of these small packets: type byte + 1 length byte
        for _ in range(rng.randint(1, 3)):
            if len(pkt) > header:
                pos = rng.randrange(header, len(pkt))
                pkt[pos] = rng.randrange(256)
        r = broker.raw(proto, timeout=1.0)
        r.connect(unique("mut"))
        r.send(bytes(pkt) + raw.pingreq())
        deadline = time.monotonic() + 1.0
        try:
            while time.monotonic() < deadline:
                if r.recv(max(0.0, deadline - time.monotonic())).type == raw.PINGRESP:
                    break
        except (raw.ConnectionClosed, TimeoutError):
            pass
        r.close()
    broker.assert_serving(protocol=proto)
