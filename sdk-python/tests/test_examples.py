"""The examples in sdk-python/examples behave as their docstrings say."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Start
from harness import publish_item
from hookmq import Certificate, ClientInfo, Decision, ReasonCode, TlsInfo
from hookmq.testing import HookTestKit
from hookmq.v1 import hooks_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import device_registry  # noqa: E402
import payment_validation  # noqa: E402


@pytest.fixture
def registry() -> Iterator[HookTestKit]:
    with HookTestKit(device_registry.hooks) as kit:
        yield kit


@pytest.fixture
def payments() -> Iterator[HookTestKit]:
    with HookTestKit(payment_validation.hooks) as kit:
        yield kit


def test_registry_lets_a_known_device_in_with_its_grants(registry: HookTestKit) -> None:
    res = registry.authenticate("pos-0001", "pos-0001", "s3cret-0001")
    assert res.allowed
    assert res.attributes == {"merchant_id": "M001", "kind": "pos"}
    assert res.expires_at is not None
    cid = "pos-0001"
    assert registry.grants_allow(res, "publish", "dev/pos-0001/up/status", qos=1, client_id=cid)
    assert not registry.grants_allow(res, "publish", "dev/pos-0001/up/status", retain=True, client_id=cid)
    assert not registry.grants_allow(res, "publish", "dev/pos-0002/up/status", client_id=cid)
    assert registry.grants_allow(res, "subscribe", "pay/pos-0001/notify", client_id=cid)
    assert not registry.grants_allow(res, "subscribe", "pay/+/notify", client_id=cid)
    assert not registry.grants_allow(res, "publish", "pay/pos-0001/notify", client_id=cid)


@pytest.mark.parametrize(
    "client_id,username,password,code",
    [
        ("pos-9999", "pos-9999", "x", ReasonCode.NOT_AUTHORIZED),
        ("pos-0666", "pos-0666", "s3cret-0666", ReasonCode.BANNED),
        ("pos-0001", "someone", "s3cret-0001", ReasonCode.BAD_USERNAME_OR_PASSWORD),
        ("pos-0001", "pos-0001", "wrong", ReasonCode.BAD_USERNAME_OR_PASSWORD),
        ("pos-0001", "pos-0001", None, ReasonCode.BAD_USERNAME_OR_PASSWORD),
    ],
)
def test_registry_refusals(registry: HookTestKit, client_id: str, username: str,
                           password: str | None, code: int) -> None:
    res = registry.authenticate(client_id, username, password)
    assert res.denied and res.reason_code == code


def test_registry_bad_secret_denial_is_cached(registry: HookTestKit) -> None:
    assert registry.authenticate("pos-0001", "pos-0001", "wrong").cache_ttl == 5


def test_registry_checks_the_certificate_cn(registry: HookTestKit) -> None:
    def tls(cn: str) -> TlsInfo:
        return TlsInfo(version="TLSv1.3", peer_certificate=Certificate(common_name=cn))

    assert registry.authenticate("pos-0001", "pos-0001", "s3cret-0001", tls=tls("pos-0001")).allowed
    assert registry.authenticate("pos-0001", "pos-0001", "s3cret-0001", tls=tls("pos-0002")).denied


def test_registry_tracks_presence(registry: HookTestKit) -> None:
    assert registry.event("client.connected", client_id="spk-0002", timestamp=1700000000.0)
    assert device_registry.LAST_SEEN["spk-0002"] == 1700000000.0


def test_payment_is_normalized_and_enriched(payments: HookTestKit) -> None:
    body = {"merchant_id": "M001", "amount": "12.5", "currency": "cny", "order": "A1B2"}
    out = payments.publish("pay/spk-0002/notify", json.dumps(body), qos=1)
    assert out.decision is Decision.CONTINUE
    assert json.loads(out.message.payload) == {"merchant_id": "M001", "amount": "12.50",
                                               "currency": "CNY", "order": "A1B2"}
    assert out.message.user_property("merchant") == "Acme Coffee"
    assert out.message.content_type == "application/json" and out.message.payload_format_indicator == 1
    assert out.changed == {"payload", "user_properties", "content_type", "payload_format_indicator"}


@pytest.mark.parametrize(
    "payload,why",
    [
        (b"not json", "payload is not JSON"),
        (b"[1, 2]", "payload must be a JSON object"),
        (b'{"merchant_id": "M001", "currency": "CNY"}', "amount missing or not a number"),
        (b'{"merchant_id": "M001", "amount": "-3", "currency": "CNY"}', "amount out of range"),
        (b'{"merchant_id": "M001", "amount": "1.005", "currency": "CNY"}', "amount has more than 2 decimal places"),
        (b'{"merchant_id": "M001", "amount": "NaN", "currency": "CNY"}', "amount out of range"),
        (b'{"merchant_id": "M001", "amount": "1", "currency": "USD"}', "unknown currency"),
        (b'{"merchant_id": "M999", "amount": "1", "currency": "CNY"}', "unknown merchant"),
    ],
)
def test_bad_payments_are_dropped(payments: HookTestKit, payload: bytes, why: str) -> None:
    out = payments.publish("pay/spk-0002/notify", payload, qos=1)
    assert out.dropped
    assert out.result.reason_code == ReasonCode.PAYLOAD_FORMAT_INVALID and out.result.reason == why


def test_other_topics_are_not_touched(payments: HookTestKit) -> None:
    out = payments.publish("dev/spk-0002/up/status", b"not json")
    assert out.decision is Decision.CONTINUE and out.changed == frozenset()


async def test_payment_validation_over_the_stream(start: Start) -> None:
    _, broker = await start(payment_validation.hooks)
    hs = await broker.handshake()
    assert list(hs.hooks[0].filter.topics) == ["pay/+/notify"]
    stream = broker.messages()
    good = json.dumps({"merchant_id": "M002", "amount": "8", "currency": "HKD"}).encode()
    await stream.send([publish_item(1, "pay/spk-0002/notify", good, hook_ids=[1]),
                       publish_item(2, "pay/spk-0002/notify", b"{}", hook_ids=[1])])
    a = await stream.wait_for([1, 2])
    assert a[1].result.decision == pb.DECISION_CONTINUE
    changes = a[1].changes
    assert json.loads(changes.message.payload)["amount"] == "8.00"
    assert ("merchant", "Lucky Noodles") in [(u.key, u.value) for u in changes.message.user_properties]
    assert a[2].result.decision == pb.DECISION_DENY and a[2].result.reason_code == 0x99
    await stream.close()


def test_default_client_is_used(registry: HookTestKit) -> None:
    kit = HookTestKit(device_registry.hooks, client=ClientInfo(client_id="spk-0002", username="spk-0002"))
    try:
        assert kit.authenticate(password="s3cret-0002").allowed
    finally:
        kit.close()
