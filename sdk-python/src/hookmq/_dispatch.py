"""Dispatch of protobuf requests to the user's handlers, and of their answers back to protobuf.

Internal. The gRPC servicer (``_server``) and the test kit (``testing``) both go through here, so
what a test sees is what the broker gets. Each hook's logic ("chain": handlers of the same hook
run in registration order until one decides) is written once, as a generator that yields the
handler calls it needs; two drivers run it: ``run_sync`` (every handler is a plain function: the
whole chain, or a whole batch of them, runs in one worker thread) and ``run_async`` (at least
one ``async def`` handler: awaited on the event loop, plain functions sent to the thread pool).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from hookmq import _convert as cv
from hookmq.filters import filters_overlap, glob_matches, topic_matches
from hookmq.models import (
    AuthorizeRequest,
    CacheScope,
    Decision,
    EventType,
    IdentityField,
    Message,
    PublishRequest,
    Result,
    SubscribeRequest,
)
from hookmq.v1 import hooks_pb2 as pb

WireMessage = cv.WireMessage

log = logging.getLogger("hookmq")

T = TypeVar("T")
Call = tuple["Registration", Any]
Chain = Generator[Call, Any, T]

HOOK_AUTHENTICATE: int = pb.HOOK_TYPE_AUTHENTICATE
HOOK_AUTHORIZE: int = pb.HOOK_TYPE_AUTHORIZE
HOOK_ON_PUBLISH: int = pb.HOOK_TYPE_ON_PUBLISH
HOOK_ON_SUBSCRIBE: int = pb.HOOK_TYPE_ON_SUBSCRIBE
HOOK_EVENTS: int = pb.HOOK_TYPE_EVENTS
HOOK_NAMES: dict[int, str] = {
    HOOK_AUTHENTICATE: "authenticate",
    HOOK_AUTHORIZE: "authorize",
    HOOK_ON_PUBLISH: "on_publish",
    HOOK_ON_SUBSCRIBE: "on_subscribe",
    HOOK_EVENTS: "on_event",
}


class RetryLater(Exception):
    """Raise in an event handler to have the broker send the whole batch again later.

    Use it when a dependency (database, queue) is temporarily down: the batch is not
    acknowledged and the broker redelivers it after a backoff. Any other exception is logged
    and the batch is acknowledged (the event is not redelivered).
    """


@dataclass(eq=False)
class Registration:
    """One decorated handler and the filters it was declared with."""

    id: int
    type: int
    func: Callable[[Any], Any]
    name: str
    topics: tuple[str, ...] = ()
    listeners: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()
    client_ids: tuple[str, ...] = ()
    actions: frozenset[str] = frozenset()
    events: frozenset[EventType] = frozenset()
    want_payload: bool = False
    identity: frozenset[IdentityField] = frozenset()
    cache_ttl: float | None = None
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.func) or inspect.iscoroutinefunction(
            getattr(self.func, "__call__", None)
        )

    def matches_client(self, c: pb.ClientInfo) -> bool:
        """Listener, username and client id filters."""
        if self.listeners and c.listener not in self.listeners:
            return False
        if self.usernames:
            u = c.username if c.has_username else ""
            if not any(glob_matches(p, u) for p in self.usernames):
                return False
        if self.client_ids and not any(glob_matches(p, c.client_id) for p in self.client_ids):
            return False
        return True

    def matches_topic(self, topic: str) -> bool:
        return not self.topics or any(topic_matches(f, topic) for f in self.topics)

    def matches_filter(self, flt: str) -> bool:
        return not self.topics or any(filters_overlap(f, flt) for f in self.topics)

    def to_pb(self, out: pb.HookRegistration) -> None:
        out.id = self.id
        out.type = self.type  # type: ignore[assignment]
        out.name = self.name
        if self.topics or self.listeners or self.usernames or self.client_ids:
            out.filter.topics.extend(self.topics)
            out.filter.listeners.extend(self.listeners)
            out.filter.usernames.extend(self.usernames)
            out.filter.client_ids.extend(self.client_ids)
        for a in sorted(self.actions):
            out.actions.append(pb.ACTION_PUBLISH if a == "publish" else pb.ACTION_SUBSCRIBE)
        for e in sorted(self.events, key=cv.EVENT_TO_PB.__getitem__):
            out.events.append(cv.EVENT_TO_PB[e])  # type: ignore[arg-type]
        out.want_payload = self.want_payload
        if self.identity:
            out.identity.connect_properties = "connect_properties" in self.identity
            out.identity.tls = "tls" in self.identity or "tls_chain" in self.identity
            out.identity.tls_chain = "tls_chain" in self.identity
            out.identity.attributes = "attributes" in self.identity


class _ErrorLog:
    """Logs handler errors with their traceback, at most once per handler every 10 s."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, int]] = {}

    def handler_error(self, reg: Registration, exc: BaseException) -> None:
        now = time.monotonic()
        last, suppressed = self._last.get(reg.id, (0.0, 0))
        if now - last < 10.0:
            self._last[reg.id] = (last, suppressed + 1)
            return
        self._last[reg.id] = (now, 0)
        more = f" ({suppressed} more errors suppressed)" if suppressed else ""
        log.error(
            "%s handler %s raised %s: %s; answering FAILURE%s",
            HOOK_NAMES.get(reg.type, "hook"), reg.name, type(exc).__name__, exc, more,
            exc_info=exc,
        )


def _failure_text(reg: Registration, exc: BaseException) -> str:
    return f"{HOOK_NAMES.get(reg.type, 'hook')} handler {reg.name} raised {type(exc).__name__}: {exc}"


def _normalize(raw: Any, reg: Registration, hook: int) -> Result:
    """Turn a handler's return value into a Result, applying the decorator's cache_ttl default."""
    if raw is None:
        res = Result(Decision.CONTINUE)
    elif isinstance(raw, Result):
        res = raw
    elif hook == HOOK_ON_PUBLISH and isinstance(raw, Message):
        res = Result(Decision.CONTINUE, message=raw)
    else:
        expected = "None or a Result from allow()/deny()/continue_()"
        if hook == HOOK_ON_PUBLISH:
            expected = "None, a Message, or a Result from allow()/drop()/continue_()"
        raise cv.InvalidResult(
            f"{HOOK_NAMES[hook]} handler {reg.name} returned {type(raw).__name__}; expected {expected}"
        )
    if reg.cache_ttl and res.cache_ttl is None and res.decision is not Decision.FAILURE:
        if res.message is None and res.filter is None and res.max_qos is None and res.challenge is None:
            res.cache_ttl = reg.cache_ttl
    return res


def run_sync(chain: Chain[T]) -> T:
    """Drive a chain whose handlers are all plain functions (in the calling thread)."""
    try:
        call = next(chain)
        while True:
            reg, arg = call
            try:
                raw = reg.func(arg)
            except Exception as exc:  # noqa: BLE001 - every handler error becomes FAILURE
                call = chain.throw(exc)
                continue
            call = chain.send(raw)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(chain: Chain[T], executor: Executor | None) -> T:
    """Drive a chain on the event loop; plain functions go to ``executor``."""
    loop = asyncio.get_running_loop()
    try:
        call = next(chain)
        while True:
            reg, arg = call
            try:
                if reg.is_async:
                    raw = await reg.func(arg)
                else:
                    raw = await loop.run_in_executor(executor, reg.func, arg)
            except Exception as exc:  # noqa: BLE001
                call = chain.throw(exc)
                continue
            call = chain.send(raw)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


class Dispatcher:
    """Routes requests to registrations. Built from a Hooks instance (its registrations)."""

    def __init__(self, registrations: Sequence[Registration]) -> None:
        self.registrations = list(registrations)
        self.by_id = {r.id: r for r in self.registrations}
        self.by_type: dict[int, list[Registration]] = {}
        for r in self.registrations:
            self.by_type.setdefault(r.type, []).append(r)
        self.errors = _ErrorLog()
        self._ids_cache: dict[tuple[int, tuple[int, ...]], tuple[list[Registration], bool]] = {}
        # Hooks with one registration that can receive stream items: no need to read hook_ids.
        self._single: dict[int, tuple[list[Registration], bool]] = {}
        for hook in (HOOK_ON_PUBLISH, HOOK_AUTHORIZE):
            regs = self.by_type.get(hook, [])
            if len(regs) == 1 and (hook == HOOK_ON_PUBLISH or not regs[0].actions
                                   or "publish" in regs[0].actions):
                self._single[hook] = (regs, self.is_sync(regs))

    # -- selection ------------------------------------------------------------------------

    def _by_ids(self, ids: Sequence[int], hook: int) -> list[Registration] | None:
        if not ids:
            return None
        out = []
        for i in ids:
            r = self.by_id.get(i)
            if r is not None and r.type == hook:
                out.append(r)
        out.sort(key=lambda r: r.id)
        return out

    def select(self, hook: int, client: pb.ClientInfo, topic: str | None = None,
               subscribe: bool = False, action: str | None = None) -> list[Registration]:
        """Registrations of ``hook`` whose filters match (as the broker evaluates them)."""
        out = []
        for r in self.by_type.get(hook, ()):
            if action is not None and r.actions and action not in r.actions:
                continue
            if topic is not None:
                ok = r.matches_filter(topic) if subscribe else r.matches_topic(topic)
                if not ok:
                    continue
            if r.matches_client(client):
                out.append(r)
        return out

    def is_sync(self, regs: Sequence[Registration]) -> bool:
        return not any(r.is_async for r in regs)

    # -- chains ---------------------------------------------------------------------------

    def authenticate_chain(
        self, req: pb.AuthenticateRequest, regs: Sequence[Registration], deadline: float | None
    ) -> Chain[pb.AuthenticateResponse]:
        model = cv.authenticate_from_pb(req, deadline)
        conts: list[Result] = []
        for reg in regs:
            try:
                raw = yield reg, model
                res = _normalize(raw, reg, HOOK_AUTHENTICATE)
                if res.challenge is None and res.decision is Decision.CONTINUE:
                    conts.append(res)
                    continue
                return cv.authenticate_response(res)
            except Exception as exc:  # noqa: BLE001
                return self._fail_auth(reg, exc)
        return cv.authenticate_response(merge_continue(conts))

    def _fail_auth(self, reg: Registration, exc: Exception) -> pb.AuthenticateResponse:
        self.errors.handler_error(reg, exc)
        out = pb.AuthenticateResponse()
        out.result.decision = pb.DECISION_FAILURE
        out.result.error = _failure_text(reg, exc)
        return out

    def authorize_chain(
        self, req: pb.AuthorizeRequest, regs: Sequence[Registration], deadline: float | None,
        out: pb.AuthorizeResponse | None = None, model: AuthorizeRequest | None = None,
    ) -> Chain[pb.AuthorizeResponse]:
        """Authorize chain; the answer goes into ``out`` (created when not given)."""
        if model is None:
            model = authorize_model(req, deadline)
        conts: list[Result] = []
        final: Result | None = None
        for reg in regs:
            try:
                raw = yield reg, model
                res = _normalize(raw, reg, HOOK_AUTHORIZE)
            except Exception as exc:  # noqa: BLE001
                return self._fail_authorize(reg, exc, out)
            if res.decision is not Decision.CONTINUE:
                final = res
                break
            conts.append(res)
        if out is None:
            out = pb.AuthorizeResponse()
        try:
            cv.authorize_result(final if final is not None else merge_continue(conts), out)
        except Exception as exc:  # noqa: BLE001
            return self._fail_authorize(reg, exc, out)
        return out

    def _fail_authorize(self, reg: Registration, exc: Exception, out: pb.AuthorizeResponse | None) -> pb.AuthorizeResponse:
        self.errors.handler_error(reg, exc)
        if out is None:
            out = pb.AuthorizeResponse()
        out.Clear()
        out.result.decision = pb.DECISION_FAILURE
        out.result.error = _failure_text(reg, exc)
        return out

    def publish_chain(
        self, req: pb.PublishRequest, regs: Sequence[Registration], deadline: float | None,
        out: pb.PublishResponse | None = None, model: PublishRequest | None = None,
    ) -> Chain[pb.PublishResponse]:
        """OnPublish chain; the answer goes into ``out`` (created when not given)."""
        original = req.message
        if model is None:
            model = cv.publish_request_from_pb(req, deadline)
        current: Message | None = None
        conts: list[Result] = []
        final: Result | None = None
        for reg in regs:
            try:
                raw = yield reg, model
                res = _normalize(raw, reg, HOOK_ON_PUBLISH)
            except Exception as exc:  # noqa: BLE001
                return self._fail_publish(reg, exc, out)
            if res.message is not None:
                current = res.message
                if len(regs) > 1:
                    model = PublishRequest(current, deadline=deadline, _pb_parent=req)
            if res.decision is not Decision.CONTINUE:
                final = res
                break
            conts.append(res)
        if final is None:
            final = merge_continue(conts)
        if out is None:
            out = pb.PublishResponse()
        try:
            cv.publish_result(final, original, out,
                              current if final.decision is not Decision.DENY else None)
        except Exception as exc:  # noqa: BLE001
            return self._fail_publish(reg, exc, out)
        return out

    def _fail_publish(self, reg: Registration, exc: Exception, out: pb.PublishResponse | None) -> pb.PublishResponse:
        self.errors.handler_error(reg, exc)
        if out is None:
            out = pb.PublishResponse()
        out.Clear()
        out.result.decision = pb.DECISION_FAILURE
        out.result.error = _failure_text(reg, exc)
        return out

    def subscribe_chain(
        self, req: pb.SubscribeRequest, index: int, regs: Sequence[Registration],
        deadline: float | None, out: pb.SubscriptionResult,
    ) -> Chain[None]:
        sub = cv.subscription_from_pb(req.subscriptions[index])
        client = cv.client_from_pb(req.client)
        props = [(u.key, u.value) for u in req.user_properties]
        flt: str | None = None
        max_qos: int | None = None
        conts: list[Result] = []
        decided: Result | None = None
        for reg in regs:
            model = SubscribeRequest(client, sub, req.subscription_identifier, props, deadline)
            try:
                raw = yield reg, model
                res = _normalize(raw, reg, HOOK_ON_SUBSCRIBE)
            except Exception as exc:  # noqa: BLE001
                self._fail_subscription(reg, exc, out)
                return
            if res.filter is not None:
                flt = res.filter
                sub = _rewritten(sub, res.filter)
            if res.max_qos is not None:
                max_qos = res.max_qos if max_qos is None else min(max_qos, res.max_qos)
            if res.decision is not Decision.CONTINUE:
                decided = res
                break
            conts.append(res)
        if decided is None:
            decided = merge_continue(conts) if flt is None and max_qos is None else Result(Decision.CONTINUE)
        decided.filter = flt
        decided.max_qos = max_qos
        try:
            cv.subscription_result(decided, out)
        except Exception as exc:  # noqa: BLE001
            self._fail_subscription(reg, exc, out)

    def _fail_subscription(self, reg: Registration, exc: Exception, out: pb.SubscriptionResult) -> None:
        self.errors.handler_error(reg, exc)
        out.Clear()
        out.result.decision = pb.DECISION_FAILURE
        out.result.error = _failure_text(reg, exc)

    def event_chain(self, batch: Sequence[tuple[pb.Event, list[Registration]]]) -> Chain[bool]:
        """Call every matching handler for every event, in order. Returns False to retry."""
        for e, regs in batch:
            model = cv.event_from_pb(e)
            for reg in regs:
                try:
                    yield reg, model
                except RetryLater as exc:
                    log.warning("event handler %s asked to retry the batch: %s", reg.name, exc)
                    return False
                except Exception as exc:  # noqa: BLE001
                    self.errors.handler_error(reg, exc)
        return True

    # -- events selection -----------------------------------------------------------------

    def select_event(self, e: pb.Event) -> list[Registration]:
        name = cv.EVENT_FROM_PB.get(e.type)
        if name is None:
            return []
        topic, is_filter = cv.event_topic(e)
        out = []
        for r in self.by_type.get(HOOK_EVENTS, ()):
            if r.events and name not in r.events:
                continue
            if topic is not None and r.topics:
                if not (r.matches_filter(topic) if is_filter else r.matches_topic(topic)):
                    continue
            if r.matches_client(e.client):
                out.append(r)
        return out

    # -- MessageHooks ---------------------------------------------------------------------

    def _regs_for(self, hook: int, ids: Sequence[int]) -> tuple[list[Registration], bool] | None:
        """Registrations named by a request's hook_ids (cached); None when there are none."""
        key = (hook, tuple(ids))
        hit = self._ids_cache.get(key)
        if hit is None:
            regs = self._by_ids(key[1], hook)
            if regs is None:
                return None
            hit = (regs, self.is_sync(regs))
            if len(self._ids_cache) < 4096:
                self._ids_cache[key] = hit
        return hit

    def publish_regs(self, item: pb.PublishRequest) -> tuple[list[Registration], bool]:
        """Registrations to run for a MessageBatch.publish item, and whether all are sync.

        With a single on_publish registration, an item the broker sent can only be for it, so
        hook_ids need not even be read. Otherwise hook_ids decide, or (if the broker sent none)
        the filters are evaluated here.
        """
        single = self._single.get(HOOK_ON_PUBLISH)
        if single is not None:
            return single
        ids = item.hook_ids
        if ids:
            hit = self._regs_for(HOOK_ON_PUBLISH, ids)
            if hit is not None:
                return hit
        regs = self.select(HOOK_ON_PUBLISH, item.client, item.message.topic)
        return regs, self.is_sync(regs)

    def authorize_regs(self, item: pb.AuthorizeRequest) -> tuple[list[Registration], bool]:
        """Registrations to run for a MessageBatch.authorize item (publish authorization)."""
        single = self._single.get(HOOK_AUTHORIZE)
        if single is not None:
            return single
        ids = item.hook_ids
        if ids:
            hit = self._regs_for(HOOK_AUTHORIZE, ids)
            if hit is not None:
                return hit
        regs = self.select(HOOK_AUTHORIZE, item.client, item.topic, False, "publish")
        return regs, self.is_sync(regs)

    # Stream items with a single registration (the common case) skip the chain machinery until
    # the handler has answered: ``single_start`` builds the handler's argument, ``single_finish``
    # turns the handler's return value (or exception) into the item's DecisionBatch entry.

    @staticmethod
    def single_start(item: Any, deadline: float | None, publish: bool) -> Any:
        return cv.publish_request_from_pb(item, deadline) if publish else authorize_model(item, deadline)

    def single_finish(self, item: Any, regs: Sequence[Registration], deadline: float | None,
                      model: Any, publish: bool, raw: Any = None,
                      exc: BaseException | None = None) -> bytes:
        if publish:
            if exc is None and not regs[0].cache_ttl:
                if raw is None:
                    return publish_entry(item.id, _CONTINUE)
                if type(raw) is WireMessage or type(raw) is Message:
                    out = pb.PublishResponse()
                    out.result.decision = pb.DECISION_CONTINUE
                    try:
                        if not cv.message_changes(raw, item.message, out.changes):
                            return publish_entry(item.id, _CONTINUE)
                        return publish_entry(item.id, out.SerializeToString())
                    except cv.InvalidResult as bad:
                        exc = bad
            chain: Chain[Any] = self.publish_chain(item, regs, deadline, model=model)
            entry = publish_entry
        else:
            chain = self.authorize_chain(item, regs, deadline, model=model)
            entry = authorize_entry
        next(chain)
        try:
            if exc is not None:
                chain.throw(exc)
            else:
                chain.send(raw)
        except StopIteration as stop:
            return entry(item.id, stop.value.SerializeToString())
        raise RuntimeError("hook chain did not finish")  # pragma: no cover

    def item_wire(self, item: Any, regs: Sequence[Registration], deadline: float | None,
                  publish: bool) -> bytes:
        """Run one stream item whose handlers are plain functions; its DecisionBatch entry."""
        if deadline is not None and time.monotonic() > deadline:
            return (publish_entry if publish else authorize_entry)(item.id, _FAILURE_LATE)
        if len(regs) == 1:
            model = self.single_start(item, deadline, publish)
            try:
                raw = regs[0].func(model)
            except Exception as exc:  # noqa: BLE001
                return self.single_finish(item, regs, deadline, model, publish, exc=exc)
            if raw is None and publish and not regs[0].cache_ttl:
                return publish_entry(item.id, _CONTINUE)
            return self.single_finish(item, regs, deadline, model, publish, raw)
        if publish:
            return publish_entry(item.id, run_sync(self.publish_chain(item, regs, deadline)).SerializeToString())
        return authorize_entry(item.id, run_sync(self.authorize_chain(item, regs, deadline)).SerializeToString())

    def message_batch_wire(self, work: Sequence[WorkItem]) -> bytes:
        """Run stream items whose handlers are all plain functions (in the calling thread).

        ``work`` holds (item, regs, deadline, is_publish). Returns the DecisionBatch entries.
        """
        run = self.item_wire
        return b"".join([run(i, r, d, p) for i, r, d, p in work])


def authorize_model(req: pb.AuthorizeRequest, deadline: float | None) -> AuthorizeRequest:
    """The handler's view of an AuthorizeRequest (client decoded lazily)."""
    return AuthorizeRequest(
        "subscribe" if req.action == pb.ACTION_SUBSCRIBE else "publish",
        req.topic,
        qos=req.qos,
        retain=req.retain,
        share_group=req.share_group,
        message=cv.message_from_pb(req.message) if req.HasField("message") else None,
        deadline=deadline,
        _pb_parent=req,
    )


WorkItem = tuple[Any, list[Registration], "float | None", bool]


def _varint(n: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n < 0x200000:
        return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, n >> 14))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def publish_entry(id: int, response: bytes) -> bytes:
    """DecisionBatch.publish entry: a serialized PublishResponse (without id) plus its id."""
    body = response + b"\x18" + _varint(id)
    n = len(body)
    return (b"\x12" + bytes((n,)) if n < 0x80 else b"\x12" + _varint(n)) + body


def authorize_entry(id: int, response: bytes) -> bytes:
    """DecisionBatch.authorize entry: a serialized AuthorizeResponse (without id) plus its id."""
    body = response + b"\x10" + _varint(id)
    return b"\x1a" + _varint(len(body)) + body


def encode_credits(n: int) -> bytes:
    """DecisionBatch.credits."""
    return b"\x08" + _varint(n) if n else b""


def _result_only(decision: int, error: str = "") -> bytes:
    r = pb.Result(decision=cast("pb.Decision", decision), error=error).SerializeToString()
    return b"\x0a" + _varint(len(r)) + r  # PublishResponse/AuthorizeResponse field 1 (result)


_CONTINUE = _result_only(pb.DECISION_CONTINUE)
_FAILURE_LATE = _result_only(pb.DECISION_FAILURE, "deadline exceeded before the hook ran")


def failure_bytes(error: str) -> bytes:
    """A serialized PublishResponse/AuthorizeResponse (without id) with a FAILURE result."""
    return _result_only(pb.DECISION_FAILURE, error)


CONTINUE_BYTES = _CONTINUE


_SCOPE_RANK = {
    CacheScope.DEFAULT: 0, CacheScope.TOPIC: 0, CacheScope.FILTER: 0,
    CacheScope.CLIENT: 1, CacheScope.USERNAME: 2,
}


def merge_continue(conts: Sequence[Result]) -> Result:
    """The CONTINUE answer of a chain in which every handler continued.

    It is cached only if every handler's CONTINUE was: for the shortest TTL and narrowest scope.
    """
    if len(conts) == 1:
        return conts[0]
    if not conts or not all(r.cache_ttl for r in conts):
        return Result(Decision.CONTINUE)
    scope = min((r.cache_scope for r in conts), key=_SCOPE_RANK.__getitem__)
    return Result(
        Decision.CONTINUE, cache_ttl=min(r.cache_ttl or 0.0 for r in conts), cache_scope=scope
    )


def _rewritten(sub: Any, flt: str) -> Any:
    group = sub.share_group
    if flt.startswith("$share/"):
        _, group, flt = flt.split("/", 2)
    s = type(sub)(flt, sub.qos, group, sub.no_local, sub.retain_as_published, sub.retain_handling)
    return s
