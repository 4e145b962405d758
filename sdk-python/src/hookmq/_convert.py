"""Conversion between the protobuf messages of hookmq.v1 and the SDK's dataclasses.

Internal: called by the dispatcher (requests in, answers out) and by the test kit (which also
builds requests and decodes answers, so that tests go through exactly what the broker sees).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from hookmq.filters import validate_topic_name
from hookmq.models import (
    EVENT_TYPES,
    MESSAGE_FIELDS,
    AuthenticateRequest,
    AuthPhase,
    CacheScope,
    Certificate,
    Challenge,
    ClientInfo,
    ConnectProperties,
    Decision,
    Event,
    Grant,
    Message,
    PublishRequest,
    Result,
    Subscription,
    TlsInfo,
    _LazyClient,
)
from hookmq.v1 import hooks_pb2 as pb

_PHASES: dict[int, AuthPhase] = {
    pb.AUTH_PHASE_CONNECT: "connect",
    pb.AUTH_PHASE_CONTINUE: "continue",
    pb.AUTH_PHASE_REAUTHENTICATE: "reauthenticate",
}
PHASE_TO_PB = {v: k for k, v in _PHASES.items()}
EVENT_FROM_PB = {i + 1: name for i, name in enumerate(EVENT_TYPES)}
EVENT_TO_PB = {name: i + 1 for i, name in enumerate(EVENT_TYPES)}


class InvalidResult(ValueError):
    """A handler returned something the hook cannot send; the answer becomes FAILURE."""


# ------------------------------------------------------------------------------------------
# protobuf -> dataclasses
# ------------------------------------------------------------------------------------------


def _ms(v: int) -> float | None:
    return v / 1000.0 if v else None


def certificate_from_pb(c: pb.Certificate) -> Certificate:
    return Certificate(
        subject=c.subject,
        issuer=c.issuer,
        common_name=c.common_name,
        serial=c.serial,
        fingerprint_sha256=c.fingerprint_sha256,
        san_dns=list(c.san_dns),
        san_ip=list(c.san_ip),
        san_email=list(c.san_email),
        san_uri=list(c.san_uri),
        not_before=_ms(c.not_before_unix_ms),
        not_after=_ms(c.not_after_unix_ms),
    )


def client_from_pb(c: pb.ClientInfo) -> ClientInfo:
    tls = None
    if c.HasField("tls"):
        t = c.tls
        tls = TlsInfo(
            version=t.version,
            cipher=t.cipher,
            sni=t.sni,
            alpn=t.alpn,
            peer_certificate=certificate_from_pb(t.peer_certificate)
            if t.HasField("peer_certificate")
            else None,
            chain_pem=t.chain_pem,
            via_proxy=t.via_proxy,
        )
    props = None
    if c.HasField("properties"):
        p = c.properties
        props = ConnectProperties(
            session_expiry_interval=p.session_expiry_interval,
            receive_maximum=p.receive_maximum,
            maximum_packet_size=p.maximum_packet_size,
            topic_alias_maximum=p.topic_alias_maximum,
            request_response_information=p.request_response_information,
            request_problem_information=p.request_problem_information,
            authentication_method=p.authentication_method,
        )
    return ClientInfo(
        client_id=c.client_id,
        username=c.username if c.has_username else None,
        protocol_version=c.protocol_version,
        listener=c.listener,
        peer_address=c.peer_address,
        peer_port=c.peer_port,
        keepalive=c.keepalive,
        clean_start=c.clean_start,
        properties=props,
        user_properties=[(u.key, u.value) for u in c.user_properties] if c.user_properties else [],
        tls=tls,
        attributes=dict(c.attributes) if c.attributes else {},
        node=c.node,
    )


_LazyClient._convert = client_from_pb


def message_from_pb(m: pb.PublishMessage) -> Message:
    """A Message whose fields are read from ``m`` only when first used (see WireMessage)."""
    w = _new_wire(WireMessage)
    w._src = m
    w._loaded = 0
    return w


_MEMBERS = {name: Message.__dict__[name] for name in MESSAGE_FIELDS}
_BITS = {name: 1 << i for i, name in enumerate(MESSAGE_FIELDS)}
_LOADERS: dict[str, Callable[[pb.PublishMessage], Any]] = {
    "topic": lambda m: m.topic,
    "payload": lambda m: m.payload,
    "qos": lambda m: m.qos,
    "retain": lambda m: m.retain,
    "message_expiry_interval": lambda m: m.message_expiry_interval if m.has_message_expiry else None,
    "user_properties": lambda m: [(u.key, u.value) for u in m.user_properties],
    "content_type": lambda m: m.content_type,
    "payload_format_indicator": lambda m: m.payload_format_indicator,
    "response_topic": lambda m: m.response_topic,
    "correlation_data": lambda m: m.correlation_data,
    "payload_size": lambda m: m.payload_size or len(m.payload),
    "received_at": lambda m: m.received_unix_ms / 1000.0,
}
assert set(_LOADERS) == set(MESSAGE_FIELDS)


def publish_request_from_pb(item: pb.PublishRequest, deadline: float | None) -> PublishRequest:
    """The handler's view of a MessageBatch.publish item (client decoded lazily)."""
    r = _new_wire(PublishRequest)
    r.message = message_from_pb(item.message)
    r.deadline = deadline
    r._client = None
    r._pb_parent = item
    return r


class WireMessage(Message):
    """A :class:`Message` read lazily from the protobuf it arrived in.

    Handlers see an ordinary Message; fields they never touch are never decoded, and only the
    fields they touched (``_loaded`` bits) need comparing to find what changed.
    """

    __slots__ = ("_src", "_loaded")
    _src: pb.PublishMessage
    _loaded: int

    def __repr__(self) -> str:
        return "Message" + Message.__repr__(self)[len("WireMessage"):]

    def replace(self, **changes: Any) -> Message:
        """A copy with some fields changed; untouched fields stay lazily read from the source."""
        if "payload" in changes and "payload_size" not in changes:
            changes["payload_size"] = len(changes["payload"])
        if not changes.keys() <= _FIELD_SET:
            raise TypeError(f"Message has no field(s) {sorted(set(changes) - _FIELD_SET)}")
        new = _new_wire(WireMessage)
        new._src = self._src
        loaded = self._loaded
        if loaded:
            for name, bit in _BITS.items():
                if loaded & bit and name not in changes:
                    v = _MEMBERS[name].__get__(self)
                    _MEMBERS[name].__set__(new, list(v) if name == "user_properties" else v)
        for name, v in changes.items():
            _MEMBERS[name].__set__(new, v)
            loaded |= _BITS[name]
        new._loaded = loaded
        return new

    def with_user_property(self, key: str, value: str) -> Message:
        """A copy with one more user property (appended; duplicates are allowed)."""
        return self.replace(user_properties=[*self.user_properties, (key, value)])


_FIELD_SET = frozenset(MESSAGE_FIELDS)
_new_wire = object.__new__


def _lazy(name: str) -> property:
    member = _MEMBERS[name]
    mget, mset = member.__get__, member.__set__
    load = _LOADERS[name]
    bit = _BITS[name]

    def fget(self: WireMessage) -> Any:
        if self._loaded & bit:
            return mget(self)
        v = load(self._src)
        mset(self, v)
        self._loaded |= bit
        return v

    def fset(self: WireMessage, v: Any) -> None:
        mset(self, v)
        self._loaded |= bit

    return property(fget, fset, doc=member.__doc__)


for _name in MESSAGE_FIELDS:
    setattr(WireMessage, _name, _lazy(_name))


def _loaded_fields(m: Message, o: pb.PublishMessage) -> dict[str, Any]:
    """The field values of ``m`` that may differ from ``o`` (all of them, unless ``m`` is a
    WireMessage read from ``o``: then only the fields a handler touched)."""
    if type(m) is WireMessage and m._src is o:
        loaded = m._loaded
        return {name: _MEMBERS[name].__get__(m) for name, bit in _BITS.items() if loaded & bit}
    return {name: getattr(m, name) for name in MESSAGE_FIELDS}


def subscription_from_pb(s: pb.Subscription) -> Subscription:
    return Subscription(
        filter=s.filter,
        qos=s.qos,
        share_group=s.share_group,
        no_local=s.no_local,
        retain_as_published=s.retain_as_published,
        retain_handling=s.retain_handling,
    )


def authenticate_from_pb(r: pb.AuthenticateRequest, deadline: float | None) -> AuthenticateRequest:
    return AuthenticateRequest(
        client=client_from_pb(r.client),
        password=r.password if r.has_password else None,
        phase=_PHASES.get(r.phase, "connect"),
        auth_method=r.auth_method,
        auth_data=r.auth_data,
        auth_state=r.auth_state,
        step=r.step or 1,
        will=message_from_pb(r.will) if r.HasField("will") else None,
        deadline=deadline,
    )


def event_from_pb(e: pb.Event) -> Event:
    ev = Event(
        type=EVENT_FROM_PB.get(e.type, "client.connected"),
        client=client_from_pb(e.client),
        timestamp=e.timestamp_unix_ms / 1000.0,
    )
    kind = e.WhichOneof("detail")
    if kind == "connected":
        ev.session_present = e.connected.session_present
        ev.session_expiry_interval = e.connected.session_expiry_interval
    elif kind == "disconnected":
        ev.reason_code = e.disconnected.reason_code
        ev.reason = e.disconnected.reason
        ev.will_published = e.disconnected.will_published
    elif kind == "subscribed":
        ev.subscription = subscription_from_pb(e.subscribed.subscription)
        ev.granted_qos = e.subscribed.granted_qos
        ev.filter = e.subscribed.subscription.filter
        ev.share_group = e.subscribed.subscription.share_group
    elif kind == "unsubscribed":
        ev.filter = e.unsubscribed.filter
        ev.share_group = e.unsubscribed.share_group
    elif kind == "delivered":
        ev.message = message_from_pb(e.delivered.message)
        ev.from_client_id = e.delivered.from_client_id
        ev.packet_id = e.delivered.packet_id
    elif kind == "acked":
        ev.message = message_from_pb(e.acked.message)
        ev.from_client_id = e.acked.from_client_id
        ev.packet_id = e.acked.packet_id
        ev.reason_code = e.acked.reason_code
    elif kind == "dropped":
        ev.message = message_from_pb(e.dropped.message)
        ev.from_client_id = e.dropped.from_client_id
        ev.reason = e.dropped.reason
        ev.reason_code = e.dropped.reason_code
    elif kind == "session_created":
        ev.session_expiry_interval = e.session_created.session_expiry_interval
    elif kind == "session_terminated":
        ev.reason = e.session_terminated.reason
    return ev


def event_topic(e: pb.Event) -> tuple[str | None, bool]:
    """The topic (False) or filter (True) an event is about, for topic filters; None if none."""
    kind = e.WhichOneof("detail")
    if kind == "subscribed":
        return e.subscribed.subscription.filter, True
    if kind == "unsubscribed":
        return e.unsubscribed.filter, True
    if kind == "delivered":
        return e.delivered.message.topic, False
    if kind == "acked":
        return e.acked.message.topic, False
    if kind == "dropped":
        return e.dropped.message.topic, False
    return None, False


# ------------------------------------------------------------------------------------------
# dataclasses -> protobuf (answers)
# ------------------------------------------------------------------------------------------


def _qos_limit(q: int | None) -> pb.QosLimit:
    if q is None or q == 2:
        return pb.QOS_LIMIT_NONE
    if q == 1:
        return pb.QOS_LIMIT_1
    if q == 0:
        return pb.QOS_LIMIT_0
    raise InvalidResult(f"max_qos must be 0, 1 or 2, got {q!r}")


_QOS_FROM_LIMIT: dict[int, int] = {pb.QOS_LIMIT_0: 0, pb.QOS_LIMIT_1: 1, pb.QOS_LIMIT_2: 2}


def qos_from_limit(v: int) -> int | None:
    return _QOS_FROM_LIMIT.get(v)


def fill_result(out: pb.Result, r: Result) -> None:
    out.decision = cast("pb.Decision", int(r.decision))
    if r.reason_code:
        out.reason_code = int(r.reason_code)
    if r.reason:
        out.reason = r.reason
    if r.error:
        out.error = r.error
    if r.cache_ttl:
        if r.cache_ttl < 0:
            raise InvalidResult(f"cache_ttl must not be negative, got {r.cache_ttl!r}")
        out.cache.ttl_ms = int(r.cache_ttl * 1000)
        out.cache.scope = cast("pb.CacheScope", int(r.cache_scope))


def _reject(r: Result, hook: str, *names: str) -> None:
    for n in names:
        v = getattr(r, n)
        if v is not None and v is not False:
            raise InvalidResult(f"{n}= is not valid in an answer to {hook}")


def grant_to_pb(g: Grant, out: pb.Grant) -> None:
    if not isinstance(g, Grant):
        raise InvalidResult(f"grants must be hookmq.grant(...) values, got {type(g).__name__}")
    out.pattern = g.pattern
    out.action = {"publish": pb.ACTION_PUBLISH, "subscribe": pb.ACTION_SUBSCRIBE}.get(
        g.action, pb.ACTION_UNSPECIFIED
    )
    out.max_qos = _qos_limit(g.max_qos)
    out.no_retain = not g.retain
    out.deny = g.deny


def grants_to_pb(grants: Iterable[Grant], fallthrough: bool, out: pb.GrantSet) -> None:
    out.SetInParent()
    for g in grants:
        grant_to_pb(g, out.rules.add())
    out.fallthrough = fallthrough


def authenticate_response(r: Result) -> pb.AuthenticateResponse:
    _reject(r, "authenticate", "filter", "max_qos", "message")
    out = pb.AuthenticateResponse()
    if r.challenge is not None:
        out.challenge.auth_data = r.challenge.auth_data
        out.challenge.state = r.challenge.state
        out.result.decision = pb.DECISION_CONTINUE
        return out
    fill_result(out.result, r)
    if r.decision is not Decision.ALLOW:
        _reject(r, "authenticate unless allowed", "grants", "superuser", "attributes", "expires_at")
    if r.grants is not None:
        grants_to_pb(r.grants, r.fallthrough, out.grants)
    out.superuser = r.superuser
    if r.attributes:
        for k, v in r.attributes.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise InvalidResult("attributes must map str to str")
            out.attributes[k] = v
    if r.expires_at is not None:
        out.expires_unix_ms = max(1, int(r.expires_at * 1000))
    if r.auth_data is not None:
        out.auth_data = r.auth_data
    return out


def authorize_result(r: Result, out: pb.AuthorizeResponse) -> None:
    _reject(
        r, "authorize", "grants", "superuser", "attributes", "expires_at", "auth_data",
        "challenge", "filter", "max_qos", "message",
    )
    fill_result(out.result, r)


def subscription_result(r: Result, out: pb.SubscriptionResult) -> None:
    _reject(
        r, "on_subscribe", "grants", "superuser", "attributes", "expires_at", "auth_data",
        "challenge", "message",
    )
    fill_result(out.result, r)
    if r.filter is not None:
        out.filter = r.filter
    out.max_qos = _qos_limit(r.max_qos)
    if (r.filter is not None or r.max_qos is not None) and out.result.HasField("cache"):
        raise InvalidResult("a rewrite (filter=/max_qos=) cannot be cached")


_FIELD_NAMES: dict[int, str] = {
    pb.MESSAGE_FIELD_TOPIC: "topic",
    pb.MESSAGE_FIELD_PAYLOAD: "payload",
    pb.MESSAGE_FIELD_QOS: "qos",
    pb.MESSAGE_FIELD_RETAIN: "retain",
    pb.MESSAGE_FIELD_MESSAGE_EXPIRY: "message_expiry_interval",
    pb.MESSAGE_FIELD_USER_PROPERTIES: "user_properties",
    pb.MESSAGE_FIELD_CONTENT_TYPE: "content_type",
    pb.MESSAGE_FIELD_PAYLOAD_FORMAT: "payload_format_indicator",
    pb.MESSAGE_FIELD_RESPONSE_TOPIC: "response_topic",
    pb.MESSAGE_FIELD_CORRELATION_DATA: "correlation_data",
}


def field_names(fields: Iterable[int]) -> frozenset[str]:
    """Names of the Message attributes listed in MessageChanges.fields."""
    return frozenset(_FIELD_NAMES[f] for f in fields if f in _FIELD_NAMES)


def _ch_topic(v: Any, o: pb.PublishMessage, n: pb.PublishMessage) -> bool:
    if v == o.topic:
        return False
    try:
        validate_topic_name(v)
    except ValueError as e:
        raise InvalidResult(str(e)) from None
    n.topic = v
    return True


def _ch_payload(v: Any, o: pb.PublishMessage, n: pb.PublishMessage) -> bool:
    if v == o.payload:
        return False
    n.payload = bytes(v)
    n.payload_size = len(v)
    return True


def _ch_qos(v: Any, o: pb.PublishMessage, n: pb.PublishMessage) -> bool:
    if v == o.qos:
        return False
    if v not in (0, 1, 2):
        raise InvalidResult(f"qos must be 0, 1 or 2, got {v!r}")
    n.qos = v
    return True


def _ch_retain(v: Any, o: pb.PublishMessage, n: pb.PublishMessage) -> bool:
    if bool(v) == o.retain:
        return False
    n.retain = bool(v)
    return True


def _ch_expiry(v: Any, o: pb.PublishMessage, n: pb.PublishMessage) -> bool:
    if v == (o.message_expiry_interval if o.has_message_expiry else None):
        return False
    if v is not None:
        n.has_message_expiry = True
        n.message_expiry_interval = int(v)
    return True


def _ch_user_properties(v: Any, o: pb.PublishMessage, n: pb.PublishMessage) -> bool:
    orig = o.user_properties
    if len(v) == len(orig) and all(k == u.key and val == u.value for (k, val), u in zip(v, orig)):
        return False
    add = n.user_properties.add
    for key, val in v:
        add(key=key, value=val)
    return True


def _ch_attr(attr: str) -> Callable[[Any, pb.PublishMessage, pb.PublishMessage], bool]:
    def change(v: Any, o: pb.PublishMessage, n: pb.PublishMessage) -> bool:
        if v == getattr(o, attr):
            return False
        setattr(n, attr, v)
        return True

    return change


# Message field -> (MessageChanges.fields value, compare-and-copy function). payload_size and
# received_at are informational: not changeable.
_CHANGERS: dict[str, tuple[int, Callable[[Any, pb.PublishMessage, pb.PublishMessage], bool]]] = {
    "topic": (pb.MESSAGE_FIELD_TOPIC, _ch_topic),
    "payload": (pb.MESSAGE_FIELD_PAYLOAD, _ch_payload),
    "qos": (pb.MESSAGE_FIELD_QOS, _ch_qos),
    "retain": (pb.MESSAGE_FIELD_RETAIN, _ch_retain),
    "message_expiry_interval": (pb.MESSAGE_FIELD_MESSAGE_EXPIRY, _ch_expiry),
    "user_properties": (pb.MESSAGE_FIELD_USER_PROPERTIES, _ch_user_properties),
    "content_type": (pb.MESSAGE_FIELD_CONTENT_TYPE, _ch_attr("content_type")),
    "payload_format_indicator": (pb.MESSAGE_FIELD_PAYLOAD_FORMAT, _ch_attr("payload_format_indicator")),
    "response_topic": (pb.MESSAGE_FIELD_RESPONSE_TOPIC, _ch_attr("response_topic")),
    "correlation_data": (pb.MESSAGE_FIELD_CORRELATION_DATA, _ch_attr("correlation_data")),
}


def message_changes(m: Message, o: pb.PublishMessage, out: pb.MessageChanges) -> bool:
    """Fill ``out`` with the fields of ``m`` that differ from the original ``o``.

    For a WireMessage read from ``o`` only the fields a handler touched are compared.
    """
    if type(m) is WireMessage and m._src is o:
        loaded = m._loaded
        if not loaded:
            return False
        items = [(name, _MEMBERS[name].__get__(m)) for name, bit in _BITS.items() if loaded & bit]
    elif isinstance(m, Message):
        items = [(name, getattr(m, name)) for name in MESSAGE_FIELDS]
    else:
        raise InvalidResult(f"message= must be a hookmq.Message, got {type(m).__name__}")
    f = out.fields
    n = out.message
    changers = _CHANGERS
    for name, v in items:
        ch = changers.get(name)
        if ch is not None and ch[1](v, o, n):
            f.append(ch[0])  # type: ignore[arg-type]
    return bool(f)


def publish_result(r: Result, original: pb.PublishMessage, out: pb.PublishResponse,
                   message: Message | None = None) -> None:
    """Fill an OnPublish answer; ``message`` is the chain's current message (if changed)."""
    _reject(
        r, "on_publish", "grants", "superuser", "attributes", "expires_at", "auth_data",
        "challenge", "filter", "max_qos",
    )
    fill_result(out.result, r)
    if r.message is not None:
        message = r.message
    if message is not None and r.decision in (Decision.CONTINUE, Decision.ALLOW):
        if message_changes(message, original, out.changes):
            if out.result.HasField("cache"):
                raise InvalidResult("an answer that changes the message cannot be cached")
        else:
            out.ClearField("changes")


# ------------------------------------------------------------------------------------------
# dataclasses -> protobuf (requests; used by the test kit and the test harness)
# ------------------------------------------------------------------------------------------


def client_to_pb(c: ClientInfo, out: pb.ClientInfo) -> None:
    out.client_id = c.client_id
    if c.username is not None:
        out.username = c.username
        out.has_username = True
    out.protocol_version = c.protocol_version
    out.listener = c.listener
    out.peer_address = c.peer_address
    out.peer_port = c.peer_port
    out.keepalive = c.keepalive
    out.clean_start = c.clean_start
    out.node = c.node
    if c.properties is not None:
        p = c.properties
        out.properties.session_expiry_interval = p.session_expiry_interval
        out.properties.receive_maximum = p.receive_maximum
        out.properties.maximum_packet_size = p.maximum_packet_size
        out.properties.topic_alias_maximum = p.topic_alias_maximum
        out.properties.request_response_information = p.request_response_information
        out.properties.request_problem_information = p.request_problem_information
        out.properties.authentication_method = p.authentication_method
    for k, v in c.user_properties:
        out.user_properties.add(key=k, value=v)
    if c.tls is not None:
        t = c.tls
        out.tls.version = t.version
        out.tls.cipher = t.cipher
        out.tls.sni = t.sni
        out.tls.alpn = t.alpn
        out.tls.chain_pem = t.chain_pem
        out.tls.via_proxy = t.via_proxy
        if t.peer_certificate is not None:
            pc = t.peer_certificate
            oc = out.tls.peer_certificate
            oc.subject = pc.subject
            oc.issuer = pc.issuer
            oc.common_name = pc.common_name
            oc.serial = pc.serial
            oc.fingerprint_sha256 = pc.fingerprint_sha256
            oc.san_dns.extend(pc.san_dns)
            oc.san_ip.extend(pc.san_ip)
            oc.san_email.extend(pc.san_email)
            oc.san_uri.extend(pc.san_uri)
            oc.not_before_unix_ms = int((pc.not_before or 0) * 1000)
            oc.not_after_unix_ms = int((pc.not_after or 0) * 1000)
    for k, v in c.attributes.items():
        out.attributes[k] = v


def message_to_pb(m: Message, out: pb.PublishMessage, include_payload: bool = True) -> None:
    out.topic = m.topic
    if include_payload:
        out.payload = m.payload
    out.payload_size = m.payload_size if m.payload_size >= 0 else len(m.payload)
    out.qos = m.qos
    out.retain = m.retain
    if m.message_expiry_interval is not None:
        out.has_message_expiry = True
        out.message_expiry_interval = m.message_expiry_interval
    out.payload_format_indicator = m.payload_format_indicator
    out.content_type = m.content_type
    out.response_topic = m.response_topic
    out.correlation_data = m.correlation_data
    for k, v in m.user_properties:
        out.user_properties.add(key=k, value=v)
    out.received_unix_ms = int(m.received_at * 1000)


def apply_changes(m: Message, ch: pb.MessageChanges) -> Message:
    """The message after the broker applies MessageChanges (what the test kit reports)."""
    n = ch.message
    upd: dict[str, object] = {}
    for f in ch.fields:
        if f == pb.MESSAGE_FIELD_TOPIC:
            upd["topic"] = n.topic
        elif f == pb.MESSAGE_FIELD_PAYLOAD:
            upd["payload"] = n.payload
            upd["payload_size"] = len(n.payload)
        elif f == pb.MESSAGE_FIELD_QOS:
            upd["qos"] = n.qos
        elif f == pb.MESSAGE_FIELD_RETAIN:
            upd["retain"] = n.retain
        elif f == pb.MESSAGE_FIELD_MESSAGE_EXPIRY:
            upd["message_expiry_interval"] = n.message_expiry_interval if n.has_message_expiry else None
        elif f == pb.MESSAGE_FIELD_USER_PROPERTIES:
            upd["user_properties"] = [(u.key, u.value) for u in n.user_properties]
        elif f == pb.MESSAGE_FIELD_CONTENT_TYPE:
            upd["content_type"] = n.content_type
        elif f == pb.MESSAGE_FIELD_PAYLOAD_FORMAT:
            upd["payload_format_indicator"] = n.payload_format_indicator
        elif f == pb.MESSAGE_FIELD_RESPONSE_TOPIC:
            upd["response_topic"] = n.response_topic
        elif f == pb.MESSAGE_FIELD_CORRELATION_DATA:
            upd["correlation_data"] = n.correlation_data
    return m.replace(**upd) if upd else m


def result_from_pb(r: pb.Result) -> Result:
    """Decode a Result as the broker reads it (UNSPECIFIED is FAILURE)."""
    decision = Decision(r.decision) if r.decision in (1, 2, 3, 4) else Decision.FAILURE
    return Result(
        decision,
        reason_code=r.reason_code,
        reason=r.reason,
        cache_ttl=r.cache.ttl_ms / 1000.0 if r.HasField("cache") and r.cache.ttl_ms else None,
        cache_scope=CacheScope(r.cache.scope) if r.cache.scope in (0, 1, 2, 3, 4) else CacheScope.DEFAULT,
        error=r.error if decision is Decision.FAILURE and r.error else (
            "" if decision is not Decision.FAILURE else "no decision"
        ),
    )


def grant_from_pb(g: pb.Grant) -> Grant:
    action = {pb.ACTION_PUBLISH: "publish", pb.ACTION_SUBSCRIBE: "subscribe"}.get(g.action, "all")
    q = qos_from_limit(g.max_qos)
    return Grant(
        g.pattern,
        action,  # type: ignore[arg-type]
        2 if q is None else q,
        not g.no_retain,
        g.deny,
    )


def authenticate_result_from_pb(r: pb.AuthenticateResponse) -> Result:
    res = result_from_pb(r.result)
    if r.HasField("challenge"):
        res.decision = Decision.CONTINUE
        res.challenge = Challenge(r.challenge.auth_data, r.challenge.state)
        return res
    if r.HasField("grants"):
        res.grants = [grant_from_pb(g) for g in r.grants.rules]
        res.fallthrough = r.grants.fallthrough
    res.superuser = r.superuser
    res.attributes = dict(r.attributes) if r.attributes else None
    res.expires_at = r.expires_unix_ms / 1000.0 if r.expires_unix_ms else None
    res.auth_data = r.auth_data or None
    return res
