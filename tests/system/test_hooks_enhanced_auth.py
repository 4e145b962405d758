"""MQTT 5 enhanced authentication (AUTH packets, MQTT 5.0 section 4.12) run by a hook server:
the broker relays each round between the client and the provider that challenged, with the
provider's state, and puts the final data in the CONNACK. Raw packets: paho has no AUTH API.
"""
from __future__ import annotations

import pytest

from helpers import BROKER_KIND, hook_server_entry, wait_hooks_ready
from mqttraw import AUTH, CONNACK, DISCONNECT, RawClient, connect, encode_properties, packet

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's hook engine")

METHOD = "demo-cr"


def _auth(code: int, data: bytes | None, method: str = METHOD) -> bytes:
    props: dict = {"AuthenticationMethod": method}
    if data is not None:
        props["AuthenticationData"] = data
    return packet(AUTH, 0, bytes([code]) + encode_properties(props))


@pytest.fixture
def ea_broker(start_broker, hook_app):
    app = hook_app("enhanced_auth.py")
    b = start_broker(hooks={"servers": [hook_server_entry("ea", app.port)]})
    wait_hooks_ready(b)
    return b


def _start(b, who: bytes, cid: str = "ea-1") -> RawClient:
    c = RawClient("127.0.0.1", b.port, version=5)
    c.send(connect(cid, version=5, props={"AuthenticationMethod": METHOD,
                                          "AuthenticationData": b"hello:" + who}))
    return c


def test_challenge_response_then_connack_with_final_data(ea_broker):
    c = _start(ea_broker, b"pos-7")
    a = c.expect(AUTH)
    assert a.rc == 0x18
    assert a.props["AuthenticationMethod"] == METHOD
    assert a.props["AuthenticationData"] == b"nonce-42"
    c.send(_auth(0x18, b"answer:nonce-42:pos-7"))
    ack = c.expect(CONNACK)
    assert ack.rc == 0
    assert ack.props["AuthenticationMethod"] == METHOD
    assert ack.props["AuthenticationData"] == b"welcome pos-7"
    c.subscribe(1, [("ea/t", 1)])  # a normal session from here on


def test_three_rounds(ea_broker):
    c = _start(ea_broker, b"twice")
    assert c.expect(AUTH).props["AuthenticationData"] == b"nonce-42"
    c.send(_auth(0x18, b"answer:nonce-42:twice"))
    assert c.expect(AUTH).props["AuthenticationData"] == b"again"
    c.send(_auth(0x18, b"ok"))
    ack = c.expect(CONNACK)
    assert ack.rc == 0 and ack.props["AuthenticationData"] == b"welcome twice"


def test_wrong_answer_is_refused(ea_broker):
    c = _start(ea_broker, b"pos-8")
    c.expect(AUTH)
    c.send(_auth(0x18, b"answer:wrong"))
    assert c.expect(CONNACK).rc == 0x87
    c.wait_closed()


def test_protocol_errors_in_the_exchange(ea_broker):
    # another method in the AUTH: protocol error [MQTT-4.12.0-5]
    c = _start(ea_broker, b"pos-9", cid="ea-2")
    c.expect(AUTH)
    c.send(_auth(0x18, b"x", method="other"))
    closing = c.wait_closed()  # closed before any CONNACK (allowed before CONNACK, 4.13.1)
    assert not [p for p in closing if p.type == CONNACK and p.rc == 0], closing
    # AUTH before any challenge, and a PUBLISH instead of the AUTH answer
    c = RawClient("127.0.0.1", ea_broker.port, version=5)
    c.send(connect("ea-3", version=5))
    assert c.expect(CONNACK).rc == 0  # no method: a plain CONNECT
    c.send(_auth(0x19, None))  # no method at CONNECT: no re-authentication [MQTT-4.12.1-1]
    assert c.wait_closed()[-1].rc == 0x82
    assert ea_broker.alive()


def _connected(b, who: bytes, cid: str) -> RawClient:
    c = _start(b, who, cid=cid)
    c.expect(AUTH)
    c.send(_auth(0x18, b"answer:nonce-42:" + who))
    assert c.expect(CONNACK).rc == 0
    return c


def test_reauthentication(ea_broker):
    c = _connected(ea_broker, b"pos-5", "ea-5")
    c.send(_auth(0x19, b"re:pos-5"))
    a = c.expect(AUTH)
    assert (a.rc, a.props["AuthenticationData"]) == (0x18, b"nonce-43")
    c.subscribe(1, [("ea/re", 1)])  # the client goes on meanwhile (4.12.1)
    c.send(_auth(0x18, b"answer:nonce-43"))
    a = c.expect(AUTH)
    assert (a.rc, a.props["AuthenticationData"]) == (0x00, b"rewelcome")
    # a second re-authentication that the hook refuses ends the connection with its code
    c.send(_auth(0x19, b"re:revoked"))
    closing = c.wait_closed()
    assert closing and closing[-1].type == DISCONNECT and closing[-1].rc == 0x87
    # AUTH 0x18 without a challenge, and another method: protocol errors
    c = _connected(ea_broker, b"pos-6", "ea-6")
    c.send(_auth(0x18, b"unasked"))
    assert c.wait_closed()[-1].rc == 0x82
    c = _connected(ea_broker, b"pos-7", "ea-7")
    c.send(_auth(0x19, b"re:x", method="other"))
    assert c.wait_closed()[-1].rc == 0x82


def test_unknown_method_without_a_hook(start_broker):
    b = start_broker()
    c = RawClient("127.0.0.1", b.port, version=5)
    c.send(connect("ea-4", version=5, props={"AuthenticationMethod": "SCRAM-SHA-256"}))
    assert c.expect(CONNACK).rc == 0x8C
