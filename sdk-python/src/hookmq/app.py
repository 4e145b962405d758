"""The ``Hooks`` application object: decorators that register handlers, and ``serve()``.

::

    hooks = Hooks("device-registry")

    @hooks.authenticate
    def login(req: AuthenticateRequest) -> Result:
        ...

    @hooks.on_publish("pay/+/notify")
    async def enrich(req: PublishRequest) -> Message | Result | None:
        ...

    hooks.serve("127.0.0.1:50051")
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from hookmq._dispatch import (
    HOOK_AUTHENTICATE,
    HOOK_AUTHORIZE,
    HOOK_EVENTS,
    HOOK_ON_PUBLISH,
    HOOK_ON_SUBSCRIBE,
    Registration,
)
from hookmq.control import Control
from hookmq.filters import validate_topic_filter
from hookmq.models import EVENT_TYPES, EventType, IdentityField

if TYPE_CHECKING:
    from hookmq._server import HookServer, ServerTLS

__all__ = ["Hooks"]

F = TypeVar("F", bound=Callable[..., Any])
Patterns = str | Iterable[str] | None

_IDENTITY: frozenset[str] = frozenset({"connect_properties", "tls", "tls_chain", "attributes"})
_SHORT_EVENTS = {
    "connected": "client.connected",
    "disconnected": "client.disconnected",
    "subscribed": "session.subscribed",
    "unsubscribed": "session.unsubscribed",
    "delivered": "message.delivered",
    "acked": "message.acked",
    "dropped": "message.dropped",
    "session_created": "session.created",
    "session_terminated": "session.terminated",
}


def _tuple(v: Patterns, what: str) -> tuple[str, ...]:
    if v is None:
        return ()
    items = (v,) if isinstance(v, str) else tuple(v)
    for i in items:
        if not isinstance(i, str):
            raise TypeError(f"{what} must be strings, got {type(i).__name__}")
    return items


def _topics(v: Iterable[str]) -> tuple[str, ...]:
    out = tuple(v)
    for t in out:
        if not isinstance(t, str):
            raise TypeError(
                f"topic filters must be strings, got {type(t).__name__} "
                "(use @hooks.on_publish(\"a/+/b\") or @hooks.on_publish without parentheses)"
            )
        validate_topic_filter(t)
    return out


def _identity(v: Iterable[IdentityField]) -> frozenset[IdentityField]:
    out = frozenset(v)
    bad = sorted(set(out) - _IDENTITY)
    if bad:
        raise ValueError(f"unknown identity field(s) {bad}; expected some of {sorted(_IDENTITY)}")
    return out


class Hooks:
    """A hook server's handlers, declared with decorators.

    :param name: the server's name, sent in the handshake (logs, management API).
    :param version: your application's version, sent in the handshake.
    :param max_workers: threads running plain (non-``async``) handlers; default
        ``min(32, cpus + 4)``. Raise it if handlers block on I/O.
    :param window: per-message requests the broker may have outstanding on the MessageHooks
        stream (credits). Bounds memory and queueing when handlers are slow.
    :param max_batch_size: largest batch of per-message requests wanted from the broker (0 = the
        broker's choice).
    :param event_window: event batches the broker may have unacknowledged at once.
    """

    def __init__(
        self,
        name: str = "hookmq-python",
        *,
        version: str = "",
        max_workers: int | None = None,
        window: int = 4096,
        max_batch_size: int = 0,
        event_window: int = 4,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        if event_window < 1:
            raise ValueError("event_window must be at least 1")
        self.name = name
        self.version = version
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self.window = window
        self.max_batch_size = max_batch_size
        self.event_window = event_window
        self.control = Control()
        """Commands to the connected brokers (kick, grants, cache, publish)."""
        self._registrations: list[Registration] = []
        self._frozen = False

    @property
    def registrations(self) -> list[Registration]:
        """The registered handlers, in declaration order (what the handshake declares)."""
        return list(self._registrations)

    def _add(self, func: Callable[..., Any], hook: int, **kw: Any) -> None:
        if self._frozen:
            raise RuntimeError("handlers must be registered before the server starts")
        if not callable(func):
            raise TypeError(f"a hook handler must be callable, got {type(func).__name__}")
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
        self._registrations.append(
            Registration(id=len(self._registrations) + 1, type=hook, func=func, name=name, **kw)
        )

    def _decorator(
        self,
        hook: int,
        listener: Patterns,
        username: Patterns,
        client_id: Patterns,
        identity: Iterable[IdentityField],
        **extra: Any,
    ) -> Callable[[F], F]:
        """The decorator every hook kind returns: the filters common to all hooks plus ``extra``."""
        kw = dict(
            listeners=_tuple(listener, "listener names"),
            usernames=_tuple(username, "username patterns"),
            client_ids=_tuple(client_id, "client id patterns"),
            identity=_identity(identity),
            **extra,
        )

        def deco(f: F) -> F:
            self._add(f, hook, **kw)
            return f

        return deco

    # -- decorators -------------------------------------------------------------------------

    @overload
    def authenticate(self, func: F, /) -> F: ...

    @overload
    def authenticate(
        self,
        func: None = None,
        /,
        *,
        listener: Patterns = None,
        username: Patterns = None,
        client_id: Patterns = None,
        identity: Iterable[IdentityField] = (),
        cache_ttl: float | None = None,
    ) -> Callable[[F], F]: ...

    def authenticate(
        self,
        func: F | None = None,
        /,
        *,
        listener: Patterns = None,
        username: Patterns = None,
        client_id: Patterns = None,
        identity: Iterable[IdentityField] = (),
        cache_ttl: float | None = None,
    ) -> F | Callable[[F], F]:
        """Register a CONNECT (and MQTT 5 AUTH) handler: ``(AuthenticateRequest) -> Result | None``.

        Usable bare (``@hooks.authenticate``) or with filters. Return :func:`~hookmq.allow`
        (optionally with grants, superuser, attributes, expires_at), :func:`~hookmq.deny`,
        :func:`~hookmq.challenge`, or ``None`` (no opinion).

        :param listener: listener name(s) this handler is for (default: all).
        :param username: glob pattern(s) on the username (``*``, ``?``).
        :param client_id: glob pattern(s) on the client id.
        :param identity: ``{"tls_chain"}`` to receive the client's PEM certificate chain
            (everything else is always sent to authenticate).
        :param cache_ttl: default cache TTL (seconds) for answers that set none.
        """
        deco: Callable[[F], F] = self._decorator(
            HOOK_AUTHENTICATE, listener, username, client_id, identity,
            cache_ttl=cache_ttl,
            want_payload=True,
        )
        return deco(func) if func is not None else deco

    def authorize(
        self,
        action: Literal["publish", "subscribe"] | None = None,
        *,
        topic: Patterns = None,
        listener: Patterns = None,
        username: Patterns = None,
        client_id: Patterns = None,
        payload: bool = False,
        identity: Iterable[IdentityField] = (),
        cache_ttl: float | None = None,
    ) -> Callable[[F], F]:
        """Register an authorization handler: ``(AuthorizeRequest) -> Result | None``.

        ``@hooks.authorize()`` sees publishes and subscribes; ``@hooks.authorize("publish")`` only
        publishes (which travel batched on the MessageHooks stream). Return
        :func:`~hookmq.allow`, :func:`~hookmq.deny` or ``None``; cache answers with ``cache_ttl``.

        :param topic: MQTT topic filter(s): publishes whose topic matches, subscriptions whose
            filter overlaps.
        :param payload: receive the payload of published messages (``req.message.payload``).
        :param identity: extra identity fields: ``"tls"``, ``"tls_chain"``,
            ``"connect_properties"``, ``"attributes"``.
        """
        if callable(action):
            raise TypeError("use @hooks.authorize() with parentheses")
        if action not in (None, "publish", "subscribe"):
            raise ValueError(f"action must be 'publish', 'subscribe' or None, got {action!r}")
        return self._decorator(
            HOOK_AUTHORIZE, listener, username, client_id, identity,
            topics=_topics(_tuple(topic, "topic filters")),
            actions=frozenset({action}) if action else frozenset(),
            want_payload=payload,
            cache_ttl=cache_ttl,
        )

    def on_publish(
        self,
        *topics: str,
        listener: Patterns = None,
        username: Patterns = None,
        client_id: Patterns = None,
        payload: bool = True,
        identity: Iterable[IdentityField] = (),
        cache_ttl: float | None = None,
    ) -> Callable[[F], F]:
        """Register a message handler: ``(PublishRequest) -> Message | Result | None``.

        ``@hooks.on_publish("pay/+/notify")`` is called for every message published on a matching
        topic (no topics = every message). Return ``None`` (unchanged), a changed
        :class:`~hookmq.Message` (``req.message.replace(...)``), :func:`~hookmq.drop` or
        :func:`~hookmq.allow`. Handlers run batched: a plain function processes a whole batch in
        one worker thread.

        :param payload: receive payloads (default ``True``); without, ``message.payload`` is
            empty and ``message.payload_size`` gives the real size.
        """
        return self._decorator(
            HOOK_ON_PUBLISH, listener, username, client_id, identity,
            topics=_topics(topics),
            want_payload=payload,
            cache_ttl=cache_ttl,
        )

    def on_subscribe(
        self,
        *topics: str,
        listener: Patterns = None,
        username: Patterns = None,
        client_id: Patterns = None,
        identity: Iterable[IdentityField] = (),
        cache_ttl: float | None = None,
    ) -> Callable[[F], F]:
        """Register a subscription handler: ``(SubscribeRequest) -> Result | None``.

        Called once per filter of a SUBSCRIBE packet that overlaps ``topics`` (no topics = every
        filter). Return :func:`~hookmq.allow` (optionally ``max_qos=``), :func:`~hookmq.deny`,
        :func:`~hookmq.rewrite` or ``None``.
        """
        return self._decorator(
            HOOK_ON_SUBSCRIBE, listener, username, client_id, identity,
            topics=_topics(topics),
            cache_ttl=cache_ttl,
        )

    def on_event(
        self,
        *events: EventType | str,
        topic: Patterns = None,
        listener: Patterns = None,
        username: Patterns = None,
        client_id: Patterns = None,
        payload: bool = False,
        identity: Iterable[IdentityField] = (),
    ) -> Callable[[F], F]:
        """Register a notification handler: ``(Event) -> None``.

        ``@hooks.on_event("client.connected", "client.disconnected")`` (no events = all). Events
        arrive in batches, in order, at least once; a batch is acknowledged once every handler
        returned. Raise :class:`~hookmq.RetryLater` to have the batch redelivered later; any
        other exception is logged and the event is not redelivered.
        """
        names: set[EventType] = set()
        for e in events:
            full = _SHORT_EVENTS.get(e, e)
            if full not in EVENT_TYPES:
                raise ValueError(f"unknown event {e!r}; expected one of {', '.join(EVENT_TYPES)}")
            names.add(full)
        return self._decorator(
            HOOK_EVENTS, listener, username, client_id, identity,
            topics=_topics(_tuple(topic, "topic filters")),
            events=frozenset(names),
            want_payload=payload,
        )

    # -- serving ----------------------------------------------------------------------------

    async def start(self, address: str = "127.0.0.1:50051", *, tls: ServerTLS | None = None) -> HookServer:
        """Start serving on ``address`` in the running event loop and return the server.

        ``address`` is ``host:port`` (port 0 = any free port, see :attr:`HookServer.port`) or
        ``unix:/path/to/socket``. With ``tls`` (:class:`~hookmq.ServerTLS`) the broker must
        connect with TLS (and a client certificate if ``tls.client_ca`` is set).
        """
        from hookmq._server import start_server

        self._frozen = True
        return await start_server(self, address, tls)

    def serve(self, address: str = "127.0.0.1:50051", *, tls: ServerTLS | None = None) -> None:
        """Serve until SIGINT/SIGTERM (then finish in-flight calls and stop). Blocks.

        See :meth:`start` for ``address`` and ``tls``.
        """
        from hookmq._server import serve_forever

        self._frozen = True
        asyncio.run(serve_forever(self, address, tls))
