"""Call your handlers without a broker.

``HookTestKit`` builds the protobuf requests the broker would send (keeping only the identity
fields and payloads your registrations asked for, and calling only the handlers whose filters
match), runs them through the SDK's real dispatch code and decodes the protobuf answers the
broker would receive into :class:`~hookmq.Result` values::

    from hookmq.testing import HookTestKit
    from myhooks import hooks

    def test_known_device_is_let_in():
        kit = HookTestKit(hooks)
        res = kit.authenticate(client_id="pos-0001", username="pos-0001", password=b"s3cret")
        assert res.allowed
        assert kit.grants_allow(res, "publish", "dev/pos-0001/up", client_id="pos-0001")

Both plain and ``async def`` handlers work; the kit is usable from sync and async tests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from hookmq import _convert as cv
from hookmq._dispatch import (
    HOOK_AUTHENTICATE,
    HOOK_AUTHORIZE,
    HOOK_ON_PUBLISH,
    HOOK_ON_SUBSCRIBE,
    Dispatcher,
    Registration,
    run_async,
    run_sync,
)
from hookmq.app import Hooks
from hookmq.filters import filter_covers, topic_matches
from hookmq.models import (
    AuthPhase,
    ClientInfo,
    ConnectProperties,
    Decision,
    Event,
    EventType,
    Grant,
    Message,
    Result,
    Subscription,
    TlsInfo,
)
from hookmq.v1 import hooks_pb2 as pb

__all__ = ["HookTestKit", "PublishOutcome", "evaluate_grants"]

T = TypeVar("T")


@dataclass(frozen=True)
class PublishOutcome:
    """What the broker does with a published message after this server's ``on_publish`` hooks."""

    result: Result
    """The decision (CONTINUE, ALLOW, DENY = dropped, FAILURE)."""
    message: Message
    """The message as it would be routed (the original when nothing changed)."""
    changed: frozenset[str]
    """Names of the :class:`~hookmq.Message` fields the hooks changed."""

    @property
    def decision(self) -> Decision:
        return self.result.decision

    @property
    def dropped(self) -> bool:
        """The message is dropped (DENY)."""
        return self.result.decision is Decision.DENY


def _sub_parts(pattern: str, client_id: str, username: str | None,
               attributes: Mapping[str, str]) -> str | None:
    """Substitute %c, %u, %a{name} in a grant pattern; None when impossible."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "%" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "c":
                val: str | None = client_id
                i += 2
            elif nxt == "u":
                val = username
                i += 2
            elif nxt == "a" and pattern[i + 2 : i + 3] == "{" and "}" in pattern[i + 3 :]:
                end = pattern.index("}", i + 3)
                val = attributes.get(pattern[i + 3 : end])
                i = end + 1
            else:
                out.append(ch)
                i += 1
                continue
            if val is None or val == "" or any(c in val for c in "+#/"):
                return None
            out.append(val)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def evaluate_grants(
    grants: Sequence[Grant],
    action: Literal["publish", "subscribe"],
    topic: str,
    *,
    client_id: str,
    username: str | None = None,
    attributes: Mapping[str, str] | None = None,
    qos: int = 0,
    retain: bool = False,
) -> Literal["allow", "deny", "no_match"]:
    """Evaluate grants the way the broker does (first matching rule decides).

    Returns ``"no_match"`` when no rule applies (the broker then refuses, or asks the authorize
    hooks if the grant set has ``fallthrough``). For a subscribe the granted QoS is not computed;
    a rule with a ``max_qos`` below the requested QoS still allows (the QoS is lowered).
    """
    attrs = attributes or {}
    for g in grants:
        if g.action != "all" and g.action != action:
            continue
        pattern = _sub_parts(g.pattern, client_id, username, attrs)
        if pattern is None:
            continue
        ok = topic_matches(pattern, topic) if action == "publish" else filter_covers(pattern, topic)
        if not ok:
            continue
        if g.deny:
            return "deny"
        if action == "publish" and (qos > g.max_qos or (retain and not g.retain)):
            return "deny"
        return "allow"
    return "no_match"


class HookTestKit:
    """Runs a :class:`~hookmq.Hooks`' handlers as the broker would call them.

    :param hooks: the application under test.
    :param client: defaults for the client fields of every request (client id ``"test-client"``,
        no username, listener ``"default"``, MQTT 5).
    """

    def __init__(self, hooks: Hooks, *, client: ClientInfo | None = None) -> None:
        self.hooks = hooks
        self._dispatcher: Dispatcher | None = None
        self.client = client or ClientInfo(
            client_id="test-client", listener="default", peer_address="127.0.0.1",
            peer_port=50000, keepalive=60, protocol_version=5,
        )
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hookmq-testkit")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.sequence = 0

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher over the application's current registrations (handlers registered
        after the kit was created are picked up)."""
        regs = self.hooks.registrations
        d = self._dispatcher
        if d is None or d.registrations != regs:
            d = self._dispatcher = Dispatcher(regs)
        return d

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the kit's event loop thread and worker threads."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            assert self._thread is not None
            self._thread.join()
            self._loop.close()
            self._loop = None
        self._executor.shutdown(wait=True)

    def __enter__(self) -> HookTestKit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run_coro(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                            name="hookmq-testkit-loop")
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _drive(self, chain: Any, regs: Sequence[Registration]) -> Any:
        if self.dispatcher.is_sync(regs):
            return run_sync(chain)
        return self._run_coro(run_async(chain, self._executor))

    def _client_pb(self, out: pb.ClientInfo, overrides: Mapping[str, Any], client: ClientInfo | None) -> None:
        base = client or self.client
        fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
        for k, v in overrides.items():
            if v is not _UNSET:
                fields[k] = v
        cv.client_to_pb(ClientInfo(**fields), out)

    @staticmethod
    def _strip(c: pb.ClientInfo, regs: Sequence[Registration]) -> None:
        """Drop the identity fields none of the registrations asked for (as the broker does)."""
        want: set[str] = set()
        for r in regs:
            want |= r.identity
        if "connect_properties" not in want:
            c.ClearField("properties")
            del c.user_properties[:]
        if "tls" not in want and "tls_chain" not in want:
            c.ClearField("tls")
        elif "tls_chain" not in want:
            c.tls.chain_pem = ""
        if "attributes" not in want:
            c.attributes.clear()

    def grants_allow(
        self,
        result: Result,
        action: Literal["publish", "subscribe"],
        topic: str,
        *,
        client_id: str | None = None,
        username: str | None = None,
        qos: int = 0,
        retain: bool = False,
    ) -> bool:
        """Whether the grants of an authenticate ``result`` let the client do ``action`` on
        ``topic`` without asking authorize hooks (superusers always may)."""
        if result.superuser:
            return True
        if not result.grants:
            return False
        verdict = evaluate_grants(
            result.grants, action, topic,
            client_id=client_id if client_id is not None else self.client.client_id,
            username=username if username is not None else self.client.username,
            attributes=result.attributes, qos=qos, retain=retain,
        )
        return verdict == "allow"

    # -- hooks ----------------------------------------------------------------------------

    def handshake(self) -> pb.HandshakeResponse:
        """The hook registrations this application declares (as sent in the handshake)."""
        out = pb.HandshakeResponse(protocol_version=1)
        for r in self.dispatcher.registrations:
            r.to_pb(out.hooks.add())
        return out

    def authenticate(
        self,
        client_id: str | None = None,
        username: str | None = None,
        password: bytes | str | None = None,
        *,
        listener: str | None = None,
        protocol_version: int | None = None,
        peer_address: str | None = None,
        tls: TlsInfo | None = None,
        properties: ConnectProperties | None = None,
        user_properties: Iterable[tuple[str, str]] = (),
        clean_start: bool = True,
        keepalive: int = 60,
        phase: AuthPhase = "connect",
        auth_method: str = "",
        auth_data: bytes = b"",
        auth_state: bytes = b"",
        step: int = 1,
        will: Message | None = None,
        client: ClientInfo | None = None,
    ) -> Result:
        """A CONNECT (or AUTH step); returns the answer as the broker decodes it."""
        req = pb.AuthenticateRequest()
        self._client_pb(req.client, {
            "client_id": client_id if client_id is not None else _UNSET,
            "username": username if username is not None else _UNSET,
            "listener": listener or _UNSET,
            "protocol_version": protocol_version or _UNSET,
            "peer_address": peer_address or _UNSET,
            "tls": tls or _UNSET,
            "properties": properties or _UNSET,
            "user_properties": list(user_properties) or _UNSET,
            "clean_start": clean_start,
            "keepalive": keepalive,
        }, client)
        if password is not None:
            req.password = password.encode() if isinstance(password, str) else password
            req.has_password = True
        req.phase = cv.PHASE_TO_PB[phase]  # type: ignore[assignment]
        req.auth_method = auth_method
        req.auth_data = auth_data
        req.auth_state = auth_state
        req.step = step
        if will is not None:
            cv.message_to_pb(will, req.will)
        regs = self.dispatcher.select(HOOK_AUTHENTICATE, req.client)
        if not any("tls_chain" in r.identity for r in regs) and req.client.HasField("tls"):
            req.client.tls.chain_pem = ""
        resp: pb.AuthenticateResponse = self._drive(self.dispatcher.authenticate_chain(req, regs, None), regs)
        return cv.authenticate_result_from_pb(resp)

    def authorize(
        self,
        action: Literal["publish", "subscribe"],
        topic: str,
        *,
        client_id: str | None = None,
        username: str | None = None,
        listener: str | None = None,
        qos: int = 0,
        retain: bool = False,
        payload: bytes = b"",
        share_group: str = "",
        attributes: Mapping[str, str] | None = None,
        client: ClientInfo | None = None,
    ) -> Result:
        """May this client publish / subscribe? Publish requests go through the stream path."""
        req = pb.AuthorizeRequest(action=pb.ACTION_PUBLISH if action == "publish" else pb.ACTION_SUBSCRIBE,
                                  topic=topic, qos=qos, retain=retain, share_group=share_group)
        self._client_pb(req.client, {
            "client_id": client_id or _UNSET, "username": username or _UNSET,
            "listener": listener or _UNSET, "attributes": dict(attributes) if attributes else _UNSET,
        }, client)
        if action == "publish":
            cv.message_to_pb(Message(topic, payload, qos, retain), req.message)
        regs = self.dispatcher.select(HOOK_AUTHORIZE, req.client, topic, action == "subscribe", action)
        self._strip(req.client, regs)
        if action == "publish" and not any(r.want_payload for r in regs):
            req.message.payload = b""
        if action == "publish":  # as a MessageHooks item
            req.id = 1
            req.hook_ids.extend(r.id for r in regs)
            if not regs:
                return Result(Decision.CONTINUE)
            regs2, _sync = self.dispatcher.authorize_regs(req)
            resp = self._drive(self.dispatcher.authorize_chain(req, regs2, None), regs2)
            return cv.result_from_pb(_wire(resp).result)
        out = pb.AuthorizeResponse()
        self._drive(self.dispatcher.authorize_chain(req, regs, None, out), regs)
        return cv.result_from_pb(out.result)

    def publish(
        self,
        topic: str,
        payload: bytes | str = b"",
        *,
        qos: int = 0,
        retain: bool = False,
        user_properties: Iterable[tuple[str, str]] = (),
        message_expiry_interval: int | None = None,
        content_type: str = "",
        client_id: str | None = None,
        username: str | None = None,
        listener: str | None = None,
        attributes: Mapping[str, str] | None = None,
        client: ClientInfo | None = None,
    ) -> PublishOutcome:
        """A PUBLISH through this server's ``on_publish`` hooks (via the MessageHooks path)."""
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        msg = Message(topic, data, qos, retain, message_expiry_interval, list(user_properties), content_type)
        req = pb.PublishRequest()
        self._client_pb(req.client, {
            "client_id": client_id or _UNSET, "username": username or _UNSET,
            "listener": listener or _UNSET, "attributes": dict(attributes) if attributes else _UNSET,
        }, client)
        cv.message_to_pb(msg, req.message)
        regs = self.dispatcher.select(HOOK_ON_PUBLISH, req.client, topic)
        if not regs:
            return PublishOutcome(Result(Decision.CONTINUE), msg, frozenset())
        self._strip(req.client, regs)
        if not any(r.want_payload for r in regs):
            req.message.payload = b""
        req.id = 1
        req.hook_ids.extend(r.id for r in regs)
        regs2, _sync = self.dispatcher.publish_regs(req)
        resp = _wire(self._drive(self.dispatcher.publish_chain(req, regs2, None), regs2))
        result = cv.result_from_pb(resp.result)
        if resp.HasField("changes"):
            return PublishOutcome(result, cv.apply_changes(msg, resp.changes),
                                  cv.field_names(resp.changes.fields))
        return PublishOutcome(result, msg, frozenset())

    def subscribe(
        self,
        *filters: str | tuple[str, int] | Subscription,
        client_id: str | None = None,
        username: str | None = None,
        listener: str | None = None,
        subscription_identifier: int = 0,
        client: ClientInfo | None = None,
    ) -> list[Result]:
        """A SUBSCRIBE; one :class:`~hookmq.Result` per filter.

        Filters are ``"a/b"`` (QoS 0), ``("a/b", 1)``, ``"$share/g/a/b"`` or
        :class:`~hookmq.Subscription`. A rewrite shows as ``result.filter`` (and ``max_qos``).
        """
        req = pb.SubscribeRequest(subscription_identifier=subscription_identifier)
        self._client_pb(req.client, {
            "client_id": client_id or _UNSET, "username": username or _UNSET,
            "listener": listener or _UNSET,
        }, client)
        for f in filters:
            if isinstance(f, Subscription):
                sub = f
            else:
                flt, q = (f, 0) if isinstance(f, str) else f
                group = ""
                if flt.startswith("$share/"):
                    _, group, flt = flt.split("/", 2)
                sub = Subscription(flt, q, group)
            req.subscriptions.add(filter=sub.filter, qos=sub.qos, share_group=sub.share_group,
                                  no_local=sub.no_local, retain_as_published=sub.retain_as_published,
                                  retain_handling=sub.retain_handling)
        results: list[Result] = []
        for i, s in enumerate(req.subscriptions):
            regs = self.dispatcher.select(HOOK_ON_SUBSCRIBE, req.client, s.filter, subscribe=True)
            r = pb.SubscribeRequest()
            r.CopyFrom(req)
            self._strip(r.client, regs)
            out = pb.SubscriptionResult()
            self._drive(self.dispatcher.subscribe_chain(r, i, regs, None, out), regs)
            res = cv.result_from_pb(out.result)
            res.filter = out.filter or None
            res.max_qos = cv.qos_from_limit(out.max_qos)
            results.append(res)
        return results

    def event(self, type: EventType, **fields: Any) -> bool:
        """Deliver one event (see :meth:`events`); ``fields`` are :class:`~hookmq.Event` fields
        plus ``client_id``/``username``/``listener``."""
        client_fields: dict[str, Any] = {
            k: fields.pop(k) for k in ("client_id", "username", "listener") if k in fields
        }
        client = fields.pop("client", None) or self.client
        base = {f: getattr(client, f) for f in client.__dataclass_fields__}
        base.update(client_fields)
        return self.events([Event(type=type, client=ClientInfo(**base), **fields)])

    def events(self, events: Sequence[Event]) -> bool:
        """Deliver a batch of events. Returns ``True`` if the batch is acknowledged, ``False`` if
        a handler raised :class:`~hookmq.RetryLater` (the broker would redeliver it)."""
        self.sequence += 1
        batch = pb.EventBatch(sequence=self.sequence, source_id="testkit")
        for ev in events:
            _event_to_pb(ev, batch.events.add())
        work = []
        regs: list[Registration] = []
        for e in batch.events:
            r = self.dispatcher.select_event(e)
            if r:
                self._strip(e.client, r)
                work.append((e, r))
                regs.extend(r)
        ok: bool = self._drive(self.dispatcher.event_chain(work), regs)
        return ok


M = TypeVar("M", pb.PublishResponse, pb.AuthorizeResponse)


def _wire(msg: M) -> M:
    """Serialize and parse an answer, as it travels to the broker."""
    return type(msg).FromString(msg.SerializeToString())


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


def _event_to_pb(ev: Event, out: pb.Event) -> None:
    out.type = cv.EVENT_TO_PB[ev.type]  # type: ignore[assignment]
    out.timestamp_unix_ms = int(ev.timestamp * 1000)
    cv.client_to_pb(ev.client, out.client)
    t = ev.type

    def msg(target: pb.PublishMessage) -> None:
        cv.message_to_pb(ev.message or Message(ev.filter or "unknown"), target)

    if t == "client.connected":
        out.connected.session_present = ev.session_present
        out.connected.session_expiry_interval = ev.session_expiry_interval
    elif t == "client.disconnected":
        out.disconnected.reason_code = ev.reason_code
        out.disconnected.reason = ev.reason
        out.disconnected.will_published = ev.will_published
    elif t == "session.subscribed":
        s = ev.subscription or Subscription(ev.filter, ev.granted_qos, ev.share_group)
        out.subscribed.subscription.filter = s.filter
        out.subscribed.subscription.qos = s.qos
        out.subscribed.subscription.share_group = s.share_group
        out.subscribed.granted_qos = ev.granted_qos
    elif t == "session.unsubscribed":
        out.unsubscribed.filter = ev.filter
        out.unsubscribed.share_group = ev.share_group
    elif t == "message.delivered":
        msg(out.delivered.message)
        out.delivered.from_client_id = ev.from_client_id
        out.delivered.packet_id = ev.packet_id
    elif t == "message.acked":
        msg(out.acked.message)
        out.acked.from_client_id = ev.from_client_id
        out.acked.packet_id = ev.packet_id
        out.acked.reason_code = ev.reason_code
    elif t == "message.dropped":
        msg(out.dropped.message)
        out.dropped.from_client_id = ev.from_client_id
        out.dropped.reason = ev.reason
        out.dropped.reason_code = ev.reason_code
    elif t == "session.created":
        out.session_created.session_expiry_interval = ev.session_expiry_interval
    elif t == "session.terminated":
        out.session_terminated.reason = ev.reason
