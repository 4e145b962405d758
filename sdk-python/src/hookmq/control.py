"""Commands a hook server pushes to the brokers connected to it: kick, grants, cache, publish.

Each broker node opens one Control stream to the server after its handshake; ``hooks.control``
sends commands on those streams and waits for the broker's answer::

    reply = await hooks.control.kick("pos-0001", reason="terminal blocked")
    print(reply.affected)   # clients disconnected, over all brokers

From a plain (thread-pool) handler, use :meth:`Control.blocking`::

    hooks.control.blocking(hooks.control.kick("pos-0001"))
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import grpc

from hookmq import _convert as cv
from hookmq.filters import validate_topic_filter, validate_topic_name
from hookmq.models import Grant, Message, ReasonCode
from hookmq.v1 import hooks_pb2 as pb

__all__ = ["Control", "ControlReply", "NoBrokerConnected"]

log = logging.getLogger("hookmq")
T = TypeVar("T")

_HOOKS = {
    None: pb.HOOK_TYPE_UNSPECIFIED,
    "authenticate": pb.HOOK_TYPE_AUTHENTICATE,
    "authorize": pb.HOOK_TYPE_AUTHORIZE,
    "on_publish": pb.HOOK_TYPE_ON_PUBLISH,
    "on_subscribe": pb.HOOK_TYPE_ON_SUBSCRIBE,
}


class NoBrokerConnected(RuntimeError):
    """No broker has an open Control stream to this server, so a command cannot be delivered."""


@dataclass(frozen=True, slots=True)
class ControlReply:
    """The brokers' answer to a command (summed over every broker it was sent to)."""

    code: int
    """0 = done everywhere; otherwise the first non-zero gRPC status code a broker answered."""
    message: str
    affected: int
    """Clients kicked or updated, cache entries dropped, or subscribers reached."""
    brokers: int
    """How many brokers answered."""

    @property
    def ok(self) -> bool:
        """Whether every broker reported success."""
        return self.code == 0


class _Connection:
    """One broker's Control stream."""

    def __init__(self, context: Any, node: str) -> None:
        self.context = context
        self.node = node
        self.pending: dict[int, asyncio.Future[pb.ControlResult]] = {}
        self.queue: asyncio.Queue[pb.ControlCommand] = asyncio.Queue()

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        try:
            while True:
                msg = await self.context.read()
                if msg is grpc.aio.EOF:
                    break
                assert isinstance(msg, pb.ControlResult)
                fut = self.pending.pop(msg.id, None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        finally:
            writer.cancel()
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(NoBrokerConnected(f"broker {self.node or '?'} closed the control stream"))
            self.pending.clear()

    async def _write(self) -> None:
        while True:
            cmd = await self.queue.get()
            await self.context.write(cmd)

    async def send(self, cmd: pb.ControlCommand, timeout: float) -> pb.ControlResult:
        fut: asyncio.Future[pb.ControlResult] = asyncio.get_running_loop().create_future()
        self.pending[cmd.id] = fut
        self.queue.put_nowait(cmd)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(cmd.id, None)


class Control:
    """Sends commands to the connected brokers. Available as ``hooks.control``."""

    def __init__(self) -> None:
        self._conns: list[_Connection] = []
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self.timeout = 5.0
        """Seconds to wait for each broker's answer."""

    # -- connections (called by the servicer) ----------------------------------------------

    def _attach(self, conn: _Connection) -> None:
        self._loop = asyncio.get_running_loop()
        self._conns.append(conn)
        self._event().set()
        log.info("broker node=%s opened the control stream", conn.node or "?")

    def _detach(self, conn: _Connection) -> None:
        if conn in self._conns:
            self._conns.remove(conn)
        log.info("broker node=%s closed the control stream", conn.node or "?")

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    @property
    def brokers(self) -> int:
        """Number of brokers with an open Control stream."""
        return len(self._conns)

    async def wait_for_broker(self, timeout: float | None = None) -> None:
        """Wait until at least one broker has opened its Control stream."""

        async def wait() -> None:
            while not self._conns:
                ev = self._event()
                ev.clear()
                await ev.wait()

        await asyncio.wait_for(wait(), timeout)

    def blocking(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a command coroutine from a non-event-loop thread (e.g. a plain handler) and wait.

        ``hooks.control.blocking(hooks.control.kick("pos-1"))``
        """
        if self._loop is None:
            coro.close()
            raise NoBrokerConnected("no broker has opened the control stream yet")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            coro.close()
            raise RuntimeError("Control.blocking() would deadlock on the event loop: use await")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- commands -------------------------------------------------------------------------

    async def _broadcast(self, cmd: pb.ControlCommand, one: bool = False) -> ControlReply:
        conns = list(self._conns)
        if not conns:
            raise NoBrokerConnected(
                "no broker has opened the control stream (is this server in the broker's "
                "hooks.servers and connected?)"
            )
        if one:
            conns = conns[:1]
        replies = await asyncio.gather(
            *(c.send(self._with_id(cmd), self.timeout) for c in conns), return_exceptions=True
        )
        code, message, affected, n = 0, "", 0, 0
        for r in replies:
            if isinstance(r, BaseException):
                if code == 0:
                    code, message = 14, f"{type(r).__name__}: {r}"  # UNAVAILABLE
                continue
            n += 1
            affected += r.affected
            if r.code and code == 0:
                code, message = r.code, r.message
        return ControlReply(code, message, affected, n)

    def _with_id(self, cmd: pb.ControlCommand) -> pb.ControlCommand:
        c = pb.ControlCommand()
        c.CopyFrom(cmd)
        c.id = next(self._ids)
        return c

    @staticmethod
    def _selector(out: pb.ClientSelector, client_id: str | None, username: str | None) -> None:
        if not client_id and not username:
            raise ValueError("give a client_id and/or a username")
        out.client_id = client_id or ""
        out.username = username or ""

    async def kick(
        self,
        client_id: str | None = None,
        *,
        username: str | None = None,
        reason_code: int = ReasonCode.ADMINISTRATIVE_ACTION,
        reason: str = "",
        discard_session: bool = False,
    ) -> ControlReply:
        """Disconnect the matching clients (MQTT 5: DISCONNECT with ``reason_code``)."""
        cmd = pb.ControlCommand()
        self._selector(cmd.kick.clients, client_id, username)
        cmd.kick.reason_code = int(reason_code)
        cmd.kick.reason = reason
        cmd.kick.discard_session = discard_session
        return await self._broadcast(cmd)

    async def set_grants(
        self,
        client_id: str | None = None,
        *,
        username: str | None = None,
        grants: Iterable[Grant],
        fallthrough: bool = False,
        superuser: bool = False,
    ) -> ControlReply:
        """Replace the grants (and superuser flag) of the matching connected clients."""
        cmd = pb.ControlCommand()
        self._selector(cmd.grants.clients, client_id, username)
        cv.grants_to_pb(grants, fallthrough, cmd.grants.grants)
        cmd.grants.superuser = superuser
        return await self._broadcast(cmd)

    async def revoke_grants(self, client_id: str | None = None, *, username: str | None = None) -> ControlReply:
        """Remove the grants of the matching clients: from now on the authorize hooks decide."""
        cmd = pb.ControlCommand()
        self._selector(cmd.grants.clients, client_id, username)
        return await self._broadcast(cmd)

    async def invalidate_cache(
        self,
        hook: Literal["authenticate", "authorize", "on_publish", "on_subscribe"] | None = None,
        *,
        client_id: str | None = None,
        username: str | None = None,
        topic_filter: str | None = None,
    ) -> ControlReply:
        """Drop this server's cached decisions (all of them when called without arguments)."""
        if topic_filter is not None:
            validate_topic_filter(topic_filter)
        cmd = pb.ControlCommand()
        cmd.invalidate_cache.hook = _HOOKS[hook]
        cmd.invalidate_cache.client_id = client_id or ""
        cmd.invalidate_cache.username = username or ""
        cmd.invalidate_cache.topic_filter = topic_filter or ""
        return await self._broadcast(cmd)

    async def publish(
        self,
        topic: str,
        payload: bytes | str = b"",
        *,
        qos: int = 0,
        retain: bool = False,
        user_properties: Sequence[tuple[str, str]] = (),
        message_expiry_interval: int | None = None,
        content_type: str = "",
    ) -> ControlReply:
        """Publish a message through one broker (``affected`` = subscribers reached)."""
        validate_topic_name(topic)
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        msg = Message(
            topic, data, qos, retain, message_expiry_interval, list(user_properties), content_type
        )
        cmd = pb.ControlCommand()
        cv.message_to_pb(msg, cmd.publish.message)
        return await self._broadcast(cmd, one=True)
