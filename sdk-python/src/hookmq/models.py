"""The values handlers receive and return: requests, messages, identities, results and grants.

Every class here is a plain dataclass (or a small slotted class where building it lazily saves
work on the per-message path). The SDK converts them to and from the protobuf messages of
``hookmq.v1``; user code never needs the protobuf classes.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from hookmq.v1 import hooks_pb2 as pb

__all__ = [
    "Decision",
    "CacheScope",
    "ReasonCode",
    "Certificate",
    "TlsInfo",
    "ConnectProperties",
    "ClientInfo",
    "Message",
    "Subscription",
    "AuthenticateRequest",
    "AuthorizeRequest",
    "PublishRequest",
    "SubscribeRequest",
    "Event",
    "Grant",
    "Challenge",
    "Result",
    "EventType",
    "EVENT_TYPES",
    "AuthAction",
    "AuthPhase",
    "IdentityField",
]

AuthAction = Literal["publish", "subscribe"]
"""What a client asks to do in an authorization request."""

AuthPhase = Literal["connect", "continue", "reauthenticate"]
"""Step of an authentication exchange: CONNECT, an AUTH answer to a challenge, re-authentication."""

IdentityField = Literal["connect_properties", "tls", "tls_chain", "attributes"]
"""Optional identity fields a hook can ask for (see ``IdentityOptions`` in the proto)."""

EventType = Literal[
    "client.connected",
    "client.disconnected",
    "session.subscribed",
    "session.unsubscribed",
    "message.delivered",
    "message.acked",
    "message.dropped",
    "session.created",
    "session.terminated",
]
"""Names of the notification events, as used in ``@hooks.on_event(...)``."""

EVENT_TYPES: tuple[EventType, ...] = (
    "client.connected",
    "client.disconnected",
    "session.subscribed",
    "session.unsubscribed",
    "message.delivered",
    "message.acked",
    "message.dropped",
    "session.created",
    "session.terminated",
)


class Decision(enum.IntEnum):
    """The answer of a decision hook (values as in the proto's ``Decision``)."""

    CONTINUE = 1
    """No opinion: the next provider in the broker's chain decides."""
    ALLOW = 2
    """Accepted; later providers are not asked."""
    DENY = 3
    """Refused (for ``on_publish``: the message is dropped) with a reason code."""
    FAILURE = 4
    """The hook could not decide; the broker applies its ``on_failure`` policy."""


class CacheScope(enum.IntEnum):
    """Which later requests a cached answer applies to (values as in the proto's ``CacheScope``)."""

    DEFAULT = 0
    """The hook's natural scope: TOPIC for publish, FILTER for subscribe."""
    TOPIC = 1
    """This client id and this exact topic."""
    FILTER = 2
    """This client id and this exact subscription filter."""
    CLIENT = 3
    """This client id, any topic or filter."""
    USERNAME = 4
    """Every client with this username, any topic or filter."""


class ReasonCode(enum.IntEnum):
    """MQTT 5 reason codes a hook may answer with (failures are 0x80 and above)."""

    SUCCESS = 0x00
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USERNAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2


# ------------------------------------------------------------------------------------------
# Identity
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Certificate:
    """A client certificate (mTLS), as verified by the broker."""

    subject: str = ""
    """RFC 4514 subject, e.g. ``"CN=pos-0001,O=Bank,C=CN"``."""
    issuer: str = ""
    common_name: str = ""
    serial: str = ""
    """Lowercase hex, no separators."""
    fingerprint_sha256: str = ""
    """Lowercase hex SHA-256 of the DER certificate."""
    san_dns: list[str] = field(default_factory=list)
    san_ip: list[str] = field(default_factory=list)
    san_email: list[str] = field(default_factory=list)
    san_uri: list[str] = field(default_factory=list)
    not_before: float | None = None
    """Unix time (seconds)."""
    not_after: float | None = None
    """Unix time (seconds)."""


@dataclass(slots=True)
class TlsInfo:
    """The client's TLS session (or the TLS identity a load balancer passed in PROXY v2)."""

    version: str = ""
    cipher: str = ""
    sni: str = ""
    alpn: str = ""
    peer_certificate: Certificate | None = None
    """``None`` when the client presented no certificate."""
    chain_pem: str = ""
    """The client's chain in PEM, leaf first; only if the hook asked for ``"tls_chain"``."""
    via_proxy: bool = False


@dataclass(slots=True)
class ConnectProperties:
    """MQTT 5 CONNECT properties (effective values, MQTT defaults applied)."""

    session_expiry_interval: int = 0
    receive_maximum: int = 65535
    maximum_packet_size: int = 0
    topic_alias_maximum: int = 0
    request_response_information: bool = False
    request_problem_information: bool = True
    authentication_method: str = ""


@dataclass(slots=True)
class ClientInfo:
    """Who is asking: the connection's identity.

    ``properties``, ``user_properties``, ``tls`` and ``attributes`` are filled only when the hook
    asked for them (``identity=...`` in the decorator) — except in ``authenticate``, which always
    gets everything but the TLS chain.
    """

    client_id: str = ""
    username: str | None = None
    """``None`` when CONNECT carried no username (different from an empty one)."""
    protocol_version: int = 5
    """3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5.0."""
    listener: str = ""
    peer_address: str = ""
    peer_port: int = 0
    keepalive: int = 0
    clean_start: bool = True
    properties: ConnectProperties | None = None
    user_properties: list[tuple[str, str]] = field(default_factory=list)
    tls: TlsInfo | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    node: str = ""


# ------------------------------------------------------------------------------------------
# Messages and requests
# ------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Message:
    """An MQTT application message.

    In ``on_publish`` a handler changes a message by returning a modified one, e.g.
    ``return req.message.replace(payload=new)`` or, after changing ``req.message`` in place,
    ``return req.message``. Only the fields that differ from the original are sent back.
    """

    topic: str
    payload: bytes = b""
    """Empty when the hook did not ask for payloads (see :attr:`payload_size`)."""
    qos: int = 0
    retain: bool = False
    message_expiry_interval: int | None = None
    """Seconds; ``None`` = the message does not expire."""
    user_properties: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = ""
    payload_format_indicator: int = 0
    response_topic: str = ""
    correlation_data: bytes = b""
    payload_size: int = -1
    """Size of the real payload; ``-1`` (the default) means ``len(payload)``."""
    received_at: float = 0.0
    """Unix time (seconds) the broker received the message."""

    def __post_init__(self) -> None:
        if self.payload_size < 0:
            self.payload_size = len(self.payload)

    def replace(self, **changes: Any) -> Message:
        """Return a copy with the given fields changed (like ``dataclasses.replace``)."""
        if "payload" in changes and "payload_size" not in changes:
            changes["payload_size"] = len(changes["payload"])
        unknown = set(changes) - set(MESSAGE_FIELDS)
        if unknown:
            raise TypeError(f"Message has no field(s) {sorted(unknown)}")
        kw = {f: changes[f] if f in changes else getattr(self, f) for f in MESSAGE_FIELDS}
        if "user_properties" not in changes:
            kw["user_properties"] = list(kw["user_properties"])
        return Message(**kw)

    def with_user_property(self, key: str, value: str) -> Message:
        """Return a copy with one more user property (appended; duplicates are allowed)."""
        return self.replace(user_properties=[*self.user_properties, (key, value)])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in MESSAGE_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def user_property(self, key: str) -> str | None:
        """The value of the first user property named ``key``, or ``None``."""
        for k, v in self.user_properties:
            if k == key:
                return v
        return None

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (raises :class:`UnicodeDecodeError` if it is not)."""
        return self.payload.decode("utf-8")

    def json(self) -> Any:
        """The payload parsed as JSON (raises :class:`ValueError` if it is not)."""
        return json.loads(self.payload)


MESSAGE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Message))


@dataclass(slots=True)
class Subscription:
    """One topic filter of a SUBSCRIBE packet."""

    filter: str
    """The filter, without ``$share/<group>/``."""
    qos: int = 0
    share_group: str = ""
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


class _Deadline:
    """Mixin: the time left before the broker stops waiting."""

    __slots__ = ()
    deadline: float | None

    def time_remaining(self) -> float | None:
        """Seconds before the broker gives up on this request (``None`` = no deadline)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())


@dataclass(slots=True)
class AuthenticateRequest(_Deadline):
    """A CONNECT, or a step of an MQTT 5 enhanced authentication exchange."""

    client: ClientInfo
    password: bytes | None = None
    """``None`` when CONNECT carried no password."""
    phase: AuthPhase = "connect"
    auth_method: str = ""
    auth_data: bytes = b""
    auth_state: bytes = b""
    """The ``state`` of your previous :func:`~hookmq.challenge` in this exchange."""
    step: int = 1
    will: Message | None = None
    deadline: float | None = None
    """``time.monotonic()`` value after which the broker stops waiting."""

    @property
    def password_text(self) -> str | None:
        """The password decoded as UTF-8 (invalid bytes replaced), or ``None``."""
        return None if self.password is None else self.password.decode("utf-8", "replace")


class _LazyClient(_Deadline):
    """Builds :class:`ClientInfo` from the protobuf only when a handler asks for it."""

    __slots__ = ("_pb_parent", "_client")

    _pb_parent: Any  # a protobuf request with a ``client`` field
    _client: ClientInfo | None
    _convert: ClassVar[Callable[[pb.ClientInfo], ClientInfo] | None] = None

    @property
    def client(self) -> ClientInfo:
        """The publishing / subscribing client."""
        c = self._client
        if c is None:
            conv = _LazyClient._convert
            assert conv is not None and self._pb_parent is not None
            c = self._client = conv(self._pb_parent.client)
        return c


class PublishRequest(_LazyClient):
    """An ``on_publish`` call: a message and who published it."""

    __slots__ = ("message", "deadline")

    def __init__(
        self,
        message: Message,
        client: ClientInfo | None = None,
        *,
        deadline: float | None = None,
        _pb_parent: Any = None,
    ) -> None:
        self.message = message
        """The message; change it and return it (or a :meth:`Message.replace` copy)."""
        self.deadline = deadline
        self._client = client if client is not None or _pb_parent is not None else ClientInfo()
        self._pb_parent = _pb_parent

    def __repr__(self) -> str:
        return f"PublishRequest(message={self.message!r}, client={self.client!r})"


class AuthorizeRequest(_LazyClient):
    """May this client publish to / subscribe to this topic?"""

    __slots__ = ("action", "topic", "qos", "retain", "share_group", "message", "deadline")

    def __init__(
        self,
        action: AuthAction,
        topic: str,
        client: ClientInfo | None = None,
        *,
        qos: int = 0,
        retain: bool = False,
        share_group: str = "",
        message: Message | None = None,
        deadline: float | None = None,
        _pb_parent: Any = None,
    ) -> None:
        self.action: AuthAction = action
        """``"publish"`` or ``"subscribe"``."""
        self.topic = topic
        """The topic name (publish) or the filter without ``$share/<group>/`` (subscribe)."""
        self.qos = qos
        self.retain = retain
        self.share_group = share_group
        self.message = message
        """Publish only: the message (payload only if the hook asked for payloads)."""
        self.deadline = deadline
        self._client = client if client is not None or _pb_parent is not None else ClientInfo()
        self._pb_parent = _pb_parent

    def __repr__(self) -> str:
        return (
            f"AuthorizeRequest(action={self.action!r}, topic={self.topic!r}, qos={self.qos}, "
            f"retain={self.retain}, client={self.client!r})"
        )


@dataclass(slots=True)
class SubscribeRequest(_Deadline):
    """An ``on_subscribe`` call, made once per matching filter of a SUBSCRIBE packet."""

    client: ClientInfo
    subscription: Subscription
    """The filter this call decides on (rewritten by earlier handlers, if any)."""
    subscription_identifier: int = 0
    user_properties: list[tuple[str, str]] = field(default_factory=list)
    deadline: float | None = None


@dataclass(slots=True)
class Event:
    """A notification. Which of the optional fields are set depends on :attr:`type`.

    ======================== ==========================================================
    type                     fields
    ======================== ==========================================================
    client.connected         session_present, session_expiry_interval
    client.disconnected      reason_code, reason, will_published
    session.subscribed       subscription, granted_qos
    session.unsubscribed     filter, share_group
    message.delivered        message, from_client_id, packet_id
    message.acked            message, from_client_id, packet_id, reason_code
    message.dropped          message, from_client_id, reason, reason_code
    session.created          session_expiry_interval
    session.terminated       reason
    ======================== ==========================================================
    """

    type: EventType
    client: ClientInfo
    timestamp: float = 0.0
    """Unix time (seconds), broker clock."""
    session_present: bool = False
    session_expiry_interval: int = 0
    reason_code: int = 0
    reason: str = ""
    will_published: bool = False
    subscription: Subscription | None = None
    granted_qos: int = 0
    filter: str = ""
    share_group: str = ""
    message: Message | None = None
    from_client_id: str = ""
    packet_id: int = 0


# ------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """One rule of the ACL an authentication answer gives a client; enforced by the broker in C.

    Rules are checked in order and the first whose action and pattern match decides. ``pattern``
    is an MQTT topic filter in which ``%c`` is the client id, ``%u`` the username and
    ``%a{name}`` an attribute. Build them with :func:`hookmq.grant`.
    """

    pattern: str
    action: Literal["publish", "subscribe", "all"] = "all"
    max_qos: int = 2
    """Publish: higher QoS refused (0x9B). Subscribe: granted QoS lowered to this."""
    retain: bool = True
    """``False``: publishing with RETAIN set is refused (0x9A)."""
    deny: bool = False
    """A deny rule: a matching request is refused."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """An MQTT 5 enhanced-authentication challenge (AUTH 0x18 to the client)."""

    auth_data: bytes
    state: bytes = b""
    """Given back to you as ``AuthenticateRequest.auth_state`` at the next step."""


@dataclass(slots=True, repr=False)
class Result:
    """The answer of a decision hook. Build it with the helpers in :mod:`hookmq`.

    :func:`~hookmq.allow`, :func:`~hookmq.deny`, :func:`~hookmq.drop`,
    :func:`~hookmq.continue_`, :func:`~hookmq.challenge`, :func:`~hookmq.rewrite`.
    Fields after ``error`` only make sense for some hooks; setting one on another hook makes the
    answer a FAILURE with a message saying so.
    """

    decision: Decision
    reason_code: int = 0
    """MQTT 5 reason code for DENY (0 = the broker's default, 0x87 not authorized)."""
    reason: str = ""
    """MQTT 5 reason string for the client (only if it accepts problem information); logged."""
    cache_ttl: float | None = None
    """Seconds the broker may reuse this answer; ``None``/``0`` = not cached."""
    cache_scope: CacheScope = CacheScope.DEFAULT
    error: str = ""
    """FAILURE only: what went wrong (logged by the broker, never sent to clients)."""
    # authenticate
    grants: list[Grant] | None = None
    """authenticate: the client's ACL (``None`` = no grants: authorize hooks decide)."""
    fallthrough: bool = False
    """authenticate: when no grant matches, ask the authorize hooks instead of refusing."""
    superuser: bool = False
    attributes: dict[str, str] | None = None
    expires_at: float | None = None
    """authenticate: Unix time (seconds) at which the broker disconnects the client."""
    auth_data: bytes | None = None
    challenge: Challenge | None = None
    # on_subscribe
    filter: str | None = None
    """on_subscribe: subscribe to this filter instead."""
    max_qos: int | None = None
    """on_subscribe: ceiling for the granted QoS."""
    # on_publish
    message: Message | None = None
    """on_publish: the message to route (changed fields are sent to the broker)."""

    def __repr__(self) -> str:
        parts = [f"Decision.{self.decision.name}"]
        for f in dataclasses.fields(self)[1:]:
            v = getattr(self, f.name)
            if v != f.default and v is not None:
                parts.append(f"{f.name}={v!r}")
        return f"Result({', '.join(parts)})"

    @property
    def allowed(self) -> bool:
        """``decision is Decision.ALLOW``."""
        return self.decision is Decision.ALLOW

    @property
    def denied(self) -> bool:
        """``decision is Decision.DENY``."""
        return self.decision is Decision.DENY


def expiry_to_unix(expires_at: float | datetime | None) -> float | None:
    """Normalize an expiry given as Unix seconds or an aware/naive (local) datetime."""
    if expires_at is None:
        return None
    if isinstance(expires_at, datetime):
        return expires_at.timestamp()
    return float(expires_at)
