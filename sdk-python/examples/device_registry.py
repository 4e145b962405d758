"""Device registry authentication with grants.

POS terminals and payment speakers connect with client id = username = their serial number and
a per-device secret. This hook server checks them against a registry and lets them in with an
ACL the broker enforces in C (no hook call per message):

- publish to ``dev/<id>/up/...`` (QoS <= 1, no retained messages),
- subscribe to ``dev/<id>/down/#`` and ``pay/<id>/notify`` (QoS <= 1),

plus attributes (merchant, device kind) that later hooks receive, and a credential expiry after
which the broker disconnects the device (it reconnects and is checked again). Denials for bad
secrets are cached briefly by the broker, which blunts password guessing without a call each
time. With mTLS, the certificate's CN must be the device id.

Run::

    python examples/device_registry.py            # serves on 127.0.0.1:50051
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass

from hookmq import (
    AuthenticateRequest,
    Event,
    Hooks,
    ReasonCode,
    Result,
    allow,
    deny,
    grant,
)


@dataclass(frozen=True)
class Device:
    """One registry entry. Only a salted hash of the secret is stored."""

    salt: bytes
    secret_sha256: bytes
    merchant_id: str
    kind: str
    enabled: bool = True
    credential_ttl: float = 24 * 3600.0


def _hash(salt: bytes, secret: bytes) -> bytes:
    return hashlib.sha256(salt + secret).digest()


def register(device_id: str, secret: str, merchant_id: str, kind: str, enabled: bool = True) -> None:
    """Add a device to the (in-memory, for the example) registry."""
    salt = os.urandom(16)
    REGISTRY[device_id] = Device(salt, _hash(salt, secret.encode()), merchant_id, kind, enabled)


REGISTRY: dict[str, Device] = {}
register("pos-0001", "s3cret-0001", "M001", "pos")
register("spk-0002", "s3cret-0002", "M002", "speaker")
register("pos-0666", "s3cret-0666", "M001", "pos", enabled=False)

LAST_SEEN: dict[str, float] = {}

hooks = Hooks("device-registry", version="1.0")


@hooks.authenticate
def authenticate(req: AuthenticateRequest) -> Result:
    """Check the device's secret; answer with its grants, attributes and credential expiry."""
    client = req.client
    device = REGISTRY.get(client.client_id)
    if device is None:
        return deny("unknown device", code=ReasonCode.NOT_AUTHORIZED)
    if not device.enabled:
        return deny("device disabled", code=ReasonCode.BANNED, cache_ttl=60)
    if client.username != client.client_id:
        return deny("username must be the device id", code=ReasonCode.BAD_USERNAME_OR_PASSWORD)
    if req.password is None or not hmac.compare_digest(
        _hash(device.salt, req.password), device.secret_sha256
    ):
        # Cached by the broker for 5 s (keyed by an HMAC of the credentials, never in clear).
        return deny("bad secret", code=ReasonCode.BAD_USERNAME_OR_PASSWORD, cache_ttl=5)
    cert = client.tls.peer_certificate if client.tls else None
    if cert is not None and cert.common_name != client.client_id:
        return deny("certificate does not belong to this device", code=ReasonCode.NOT_AUTHORIZED)
    return allow(
        grants=[
            grant("dev/%c/up/#", "publish", max_qos=1, retain=False),
            grant("dev/%c/down/#", "subscribe", max_qos=1),
            grant("pay/%c/notify", "subscribe", max_qos=1),
        ],
        attributes={"merchant_id": device.merchant_id, "kind": device.kind},
        expires_at=time.time() + device.credential_ttl,
    )


@hooks.on_event("client.connected", "client.disconnected")
def presence(event: Event) -> None:
    """Keep a last-seen table (a real registry would write to its database)."""
    LAST_SEEN[event.client.client_id] = event.timestamp or time.time()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    hooks.serve(os.environ.get("HOOKMQ_HOOK_ADDRESS", "127.0.0.1:50051"))
