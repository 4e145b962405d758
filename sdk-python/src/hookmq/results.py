"""Helpers that build the answers of decision hooks: ``allow()``, ``deny()``, ``grant()``...

A handler may also return ``None`` (no opinion, CONTINUE) and an ``on_publish`` handler may
return a :class:`~hookmq.models.Message` (CONTINUE with that message).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from hookmq.filters import validate_topic_filter
from hookmq.models import (
    CacheScope,
    Challenge,
    Decision,
    Grant,
    Message,
    ReasonCode,
    Result,
    expiry_to_unix,
)

__all__ = ["allow", "deny", "drop", "continue_", "challenge", "rewrite", "failure", "grant"]


def allow(
    reason: str = "",
    *,
    cache_ttl: float | None = None,
    cache_scope: CacheScope = CacheScope.DEFAULT,
    grants: Iterable[Grant] | None = None,
    fallthrough: bool = False,
    superuser: bool = False,
    attributes: Mapping[str, str] | None = None,
    expires_at: float | datetime | None = None,
    auth_data: bytes | None = None,
    max_qos: int | None = None,
    message: Message | None = None,
) -> Result:
    """Accept; later providers in the broker's chain are not asked.

    :param reason: logged by the broker (not sent to the client for an ALLOW).
    :param cache_ttl: seconds the broker may reuse this answer for the same ``cache_scope``.
    :param grants: (authenticate) the client's ACL, enforced in C; see :func:`grant`.
    :param fallthrough: (authenticate) when no grant matches, ask the authorize hooks instead of
        refusing.
    :param superuser: (authenticate) the client skips authorization entirely.
    :param attributes: (authenticate) key/values attached to the session, passed to later hooks
        and usable as ``%a{name}`` in grant patterns.
    :param expires_at: (authenticate) Unix seconds or datetime at which the broker disconnects the
        client (credential expiry).
    :param auth_data: (authenticate) MQTT 5 authentication data for the final CONNACK/AUTH.
    :param max_qos: (on_subscribe) ceiling for the granted QoS.
    :param message: (on_publish) route this message (changed fields are sent to the broker).
    """
    if max_qos is not None and max_qos not in (0, 1, 2):
        raise ValueError(f"max_qos must be 0, 1 or 2, got {max_qos!r}")
    return Result(
        Decision.ALLOW,
        reason=reason,
        cache_ttl=cache_ttl,
        cache_scope=cache_scope,
        grants=list(grants) if grants is not None else None,
        fallthrough=fallthrough,
        superuser=superuser,
        attributes=dict(attributes) if attributes is not None else None,
        expires_at=expiry_to_unix(expires_at),
        auth_data=auth_data,
        max_qos=max_qos,
        message=message,
    )


def deny(
    reason: str = "",
    *,
    code: int = ReasonCode.NOT_AUTHORIZED,
    cache_ttl: float | None = None,
    cache_scope: CacheScope = CacheScope.DEFAULT,
) -> Result:
    """Refuse, with an MQTT 5 reason code (default 0x87 not authorized) and reason string.

    Denials may be cached (``cache_ttl``) like any other answer. For a CONNECT with wrong
    credentials use ``code=ReasonCode.BAD_USERNAME_OR_PASSWORD``.
    """
    _check_failure_code(code)
    return Result(
        Decision.DENY, reason_code=int(code), reason=reason, cache_ttl=cache_ttl, cache_scope=cache_scope
    )


def drop(
    reason: str = "",
    *,
    code: int = ReasonCode.UNSPECIFIED_ERROR,
    cache_ttl: float | None = None,
    cache_scope: CacheScope = CacheScope.DEFAULT,
) -> Result:
    """(on_publish) Drop the message. An MQTT 5 publisher of QoS 1/2 gets ``code`` in its PUBACK.

    Typical codes: ``ReasonCode.PAYLOAD_FORMAT_INVALID`` (0x99), ``ReasonCode.NOT_AUTHORIZED``,
    ``ReasonCode.QUOTA_EXCEEDED``. The broker counts the drop (reason "hook").
    """
    return deny(reason, code=code, cache_ttl=cache_ttl, cache_scope=cache_scope)


def continue_(
    *,
    cache_ttl: float | None = None,
    cache_scope: CacheScope = CacheScope.DEFAULT,
) -> Result:
    """No opinion: the next provider in the broker's chain decides (same as returning ``None``).

    Cache it to tell the broker not to ask again for a while (e.g. topics this hook ignores).
    """
    return Result(Decision.CONTINUE, cache_ttl=cache_ttl, cache_scope=cache_scope)


def challenge(auth_data: bytes, state: bytes = b"") -> Result:
    """(authenticate) Go on with an MQTT 5 enhanced-authentication exchange.

    The broker sends AUTH (0x18) with ``auth_data`` to the client and calls the authenticate
    handler again with the client's answer, ``phase="continue"`` and ``auth_state=state``.
    """
    return Result(Decision.CONTINUE, challenge=Challenge(bytes(auth_data), bytes(state)))


def rewrite(
    filter: str | None = None,
    *,
    max_qos: int | None = None,
    decision: Literal["continue", "allow"] = "continue",
) -> Result:
    """(on_subscribe) Subscribe to another filter and/or cap the granted QoS.

    With ``decision="continue"`` (default) later providers still judge the rewritten filter;
    ``"allow"`` accepts it outright.
    """
    if filter is not None:
        flt = filter
        if flt.startswith("$share/"):
            parts = flt.split("/", 2)
            if len(parts) < 3 or not parts[1]:
                raise ValueError(f"invalid shared subscription filter {filter!r}")
            flt = parts[2]
        validate_topic_filter(flt)
    if max_qos is not None and max_qos not in (0, 1, 2):
        raise ValueError(f"max_qos must be 0, 1 or 2, got {max_qos!r}")
    return Result(
        Decision.ALLOW if decision == "allow" else Decision.CONTINUE, filter=filter, max_qos=max_qos
    )


def failure(error: str) -> Result:
    """The hook cannot decide (e.g. its database is down): the broker applies ``on_failure``.

    Raising an exception in a handler has the same effect.
    """
    return Result(Decision.FAILURE, error=error)


def grant(
    pattern: str,
    action: Literal["publish", "subscribe", "all"] = "all",
    *,
    max_qos: int = 2,
    retain: bool = True,
    deny: bool = False,
) -> Grant:
    """One ACL rule for :func:`allow` in an authenticate handler.

    ``pattern`` is an MQTT topic filter where ``%c`` is replaced by the client id, ``%u`` by the
    username and ``%a{name}`` by an attribute, e.g. ``grant("pay/%c/notify", "subscribe",
    max_qos=1)``, ``grant("dev/%c/up/#", "publish", retain=False)``. Rules are checked in order;
    put ``deny=True`` rules before broader allow rules.
    """
    if action not in ("publish", "subscribe", "all"):
        raise ValueError(f"grant action must be 'publish', 'subscribe' or 'all', got {action!r}")
    if max_qos not in (0, 1, 2):
        raise ValueError(f"max_qos must be 0, 1 or 2, got {max_qos!r}")
    validate_topic_filter(pattern)
    return Grant(pattern, action, max_qos, retain, deny)


def _check_failure_code(code: int) -> None:
    if not 0x80 <= int(code) <= 0xFF:
        raise ValueError(f"a denial needs an MQTT 5 failure reason code (0x80..0xFF), got {code:#x}")
