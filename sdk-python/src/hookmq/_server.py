"""The gRPC side: a grpc.aio server implementing hookmq.v1.HookProvider plus grpc.health.v1.

Internal; started by :meth:`hookmq.Hooks.start` / :meth:`hookmq.Hooks.serve`. Unary hooks
(Authenticate, Authorize, OnSubscribe) run their handlers in the thread pool (plain functions)
or on the loop (``async def``). The MessageHooks stream hands each received batch to one thread
pool task (not one task per message), grants credits as answers are written, and never lets a
handler error break the stream: errors become FAILURE answers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from hookmq._version import __version__
from hookmq._dispatch import (
    HOOK_AUTHENTICATE,
    HOOK_AUTHORIZE,
    HOOK_ON_SUBSCRIBE,
    Dispatcher,
    Registration,
    CONTINUE_BYTES,
    WorkItem,
    authorize_entry,
    encode_credits,
    failure_bytes,
    publish_entry,
    run_async,
    run_sync,
)
from hookmq.control import _Connection
from hookmq.v1 import hooks_pb2 as pb

if TYPE_CHECKING:
    from hookmq.app import Hooks

log = logging.getLogger("hookmq")

PROTOCOL_VERSION = 1
_MAX_WRITE = 4 * 1024 * 1024  # bytes of answers per DecisionBatch write
SERVICE = "hookmq.v1.HookProvider"
# grpcio ships no type information: a servicer context is typed as Any.
Context = Any


def _pem(v: bytes | str | Path) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str) and v.lstrip().startswith("-----BEGIN"):
        return v.encode()
    return Path(v).read_bytes()


@dataclass(frozen=True)
class ServerTLS:
    """TLS for the hook server (the broker connects with TLS; mTLS with ``client_ca``).

    Each value is PEM data (``bytes`` or a ``str`` starting with ``-----BEGIN``) or a file path.
    """

    certificate_chain: bytes | str | Path
    private_key: bytes | str | Path
    client_ca: bytes | str | Path | None = None
    """When set, the broker must present a certificate signed by this CA."""

    def credentials(self) -> grpc.ServerCredentials:
        ca = _pem(self.client_ca) if self.client_ca is not None else None
        return grpc.ssl_server_credentials(
            [(_pem(self.private_key), _pem(self.certificate_chain))],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )


class HookServer:
    """A running hook server (returned by :meth:`hookmq.Hooks.start`)."""

    def __init__(self, server: grpc.aio.Server, address: str, port: int,
                 health: health_aio.HealthServicer, executor: ThreadPoolExecutor) -> None:
        self._server = server
        self.address = address
        """The address as given, with a port 0 replaced by the bound port."""
        self.port = port
        """The bound TCP port (0 for a unix socket)."""
        self._health = health
        self._executor = executor

    async def stop(self, grace: float | None = 5.0) -> None:
        """Report NOT_SERVING, stop accepting calls, let in-flight ones finish within ``grace``."""
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def wait_for_termination(self) -> None:
        """Wait until the server stops."""
        await self._server.wait_for_termination()


def _deadline(context: Context) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


class _MessageStream:
    """One MessageHooks stream: reads batches, runs them, writes decisions and credits.

    Answers are written as pre-encoded DecisionBatch bytes: each batch of plain-function items
    is run and encoded by one worker thread (no task per message), and everything ready when
    the writer wakes up goes out in one message, with one credit per answer.
    """

    def __init__(self, d: Dispatcher, executor: ThreadPoolExecutor, context: Context,
                 window: int) -> None:
        self.d = d
        self.executor = executor
        self.context = context
        self.loop = asyncio.get_running_loop()
        self.chunks: list[bytes] = []
        self.credits = window  # to grant on the next write
        self.outstanding = 0
        self.closing = False
        self.wake = asyncio.Event()
        self.wake.set()

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer())
        try:
            while True:
                batch = await self.context.read()
                if batch is grpc.aio.EOF:
                    break
                self._submit(batch)
            self.closing = True
            self.wake.set()
            await writer
        finally:
            if not writer.done():
                writer.cancel()

    def _submit(self, batch: pb.MessageBatch) -> None:
        now = time.monotonic()
        d = self.d
        work: list[WorkItem] = []
        eager: list[WorkItem] = []
        for item in batch.publish:
            regs, sync = d.publish_regs(item)
            self._route(item, regs, sync, now, True, work, eager)
        if batch.authorize:
            for a in batch.authorize:
                regs, sync = d.authorize_regs(a)
                self._route(a, regs, sync, now, False, work, eager)
        if work:
            self.outstanding += len(work)
            fut = self.executor.submit(d.message_batch_wire, work)
            fut.add_done_callback(
                lambda f: self.loop.call_soon_threadsafe(self._on_sync_done, f, work)
            )
        if eager:
            self._run_eager(eager)
        if self.chunks:
            self.wake.set()

    def _route(self, item: Any, regs: list[Registration], sync: bool, now: float, publish: bool,
               work: list[WorkItem], eager: list[WorkItem]) -> None:
        if not regs:
            entry = publish_entry if publish else authorize_entry
            self.chunks.append(entry(item.id, CONTINUE_BYTES))
            self.credits += 1
            return
        ms = item.deadline_ms
        deadline = now + ms / 1000.0 if ms else None
        if sync:
            work.append((item, regs, deadline, publish))
        elif len(regs) == 1:
            eager.append((item, regs, deadline, publish))
        else:
            self.outstanding += 1
            task = asyncio.ensure_future(self._one_async(item, regs, deadline, publish))
            task.add_done_callback(self._on_async_done)

    def _run_eager(self, eager: list[WorkItem]) -> None:
        """Start single ``async def`` handlers right here on the loop: those that finish without
        suspending (no I/O, cache hits) cost no task; the others continue in one task each."""
        d = self.d
        done: list[bytes] = []
        for item, regs, deadline, publish in eager:
            if deadline is not None and time.monotonic() > deadline:
                done.append((publish_entry if publish else authorize_entry)(
                    item.id, failure_bytes("deadline exceeded before the hook ran")))
                continue
            model = d.single_start(item, deadline, publish)
            try:
                coro = regs[0].func(model)
                yielded = coro.send(None)
            except StopIteration as stop:
                done.append(d.single_finish(item, regs, deadline, model, publish, stop.value))
            except Exception as exc:  # noqa: BLE001 - becomes FAILURE
                done.append(d.single_finish(item, regs, deadline, model, publish, exc=exc))
            else:
                self.outstanding += 1
                task = asyncio.ensure_future(
                    self._resume(coro, yielded, item, regs, deadline, model, publish))
                task.add_done_callback(self._on_async_done)
        if done:
            self.chunks.append(b"".join(done))
            self.credits += len(done)

    async def _resume(self, coro: Any, yielded: Any, item: Any, regs: list[Registration],
                      deadline: float | None, model: Any, publish: bool) -> bytes:
        """Drive a handler coroutine that suspended during its eager start, as a Task would."""
        try:
            while True:
                if yielded is None:  # a bare yield (asyncio.sleep(0))
                    await asyncio.sleep(0)
                else:
                    yielded._asyncio_future_blocking = False
                    waiter = self.loop.create_future()
                    yielded.add_done_callback(partial(_wake, waiter))
                    try:
                        await waiter
                    except asyncio.CancelledError:
                        yielded.cancel()
                        coro.close()
                        raise
                yielded = coro.send(None)
        except StopIteration as stop:
            return self.d.single_finish(item, regs, deadline, model, publish, stop.value)
        except Exception as exc:  # noqa: BLE001 - becomes FAILURE
            return self.d.single_finish(item, regs, deadline, model, publish, exc=exc)

    def _on_sync_done(self, fut: Future[bytes], work: list[WorkItem]) -> None:
        self.outstanding -= len(work)
        try:
            data = fut.result()
        except BaseException as exc:  # noqa: BLE001 - a bug here must not lose answers
            log.error("MessageHooks batch failed: %s", exc, exc_info=exc)
            fail = failure_bytes(f"internal error: {exc}")
            data = b"".join(
                (publish_entry if p else authorize_entry)(item.id, fail) for item, _r, _d, p in work
            )
        self.chunks.append(data)
        self.credits += len(work)
        self.wake.set()

    async def _one_async(self, item: Any, regs: list[Registration], deadline: float | None,
                         publish: bool) -> bytes:
        entry = publish_entry if publish else authorize_entry
        if deadline is not None and time.monotonic() > deadline:
            return entry(item.id, failure_bytes("deadline exceeded before the hook ran"))
        if publish:
            resp: Any = await run_async(self.d.publish_chain(item, regs, deadline), self.executor)
        else:
            resp = await run_async(self.d.authorize_chain(item, regs, deadline), self.executor)
        return entry(item.id, resp.SerializeToString())

    def _on_async_done(self, task: asyncio.Future[bytes]) -> None:
        self.outstanding -= 1
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:  # the chains turn handler errors into FAILURE: this is a bug
            log.error("MessageHooks request failed: %s", exc, exc_info=exc)
            return
        self.chunks.append(task.result())
        self.credits += 1
        self.wake.set()

    async def _writer(self) -> None:
        while True:
            if self.chunks or self.credits:
                # One message per wake-up, split only if it would be large (big payload changes).
                take, size = 0, 0
                for c in self.chunks:
                    if take and size + len(c) > _MAX_WRITE:
                        break
                    take += 1
                    size += len(c)
                data = encode_credits(self.credits) + b"".join(self.chunks[:take])
                del self.chunks[:take]
                self.credits = 0
                await self.context.write(data)
                continue
            if self.closing and self.outstanding == 0:
                return
            self.wake.clear()
            await self.wake.wait()


def _wake(waiter: asyncio.Future[None], _done: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Servicer:
    """Implements hookmq.v1.HookProvider (registered with add_HookProviderServicer_to_server)."""

    def __init__(self, hooks: Hooks, executor: ThreadPoolExecutor) -> None:
        self.hooks = hooks
        self.d = Dispatcher(hooks.registrations)
        self.executor = executor
        self.instance_id = uuid.uuid4().hex

    async def _run(self, chain: Any, regs: Sequence[Registration]) -> Any:
        if not regs:
            return run_sync(chain)
        if self.d.is_sync(regs):
            return await asyncio.get_running_loop().run_in_executor(self.executor, run_sync, chain)
        return await run_async(chain, self.executor)

    async def Handshake(self, request: pb.HandshakeRequest, context: Context) -> pb.HandshakeResponse:
        versions = list(request.protocol_versions) or [PROTOCOL_VERSION]
        if PROTOCOL_VERSION not in versions:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"this server speaks hookmq protocol version {PROTOCOL_VERSION}, broker offered {versions}",
            )
        h = self.hooks
        out = pb.HandshakeResponse(
            protocol_version=PROTOCOL_VERSION,
            server_version=" ".join(
                p for p in (f"{h.name}/{h.version}" if h.version else h.name, f"hookmq-python/{__version__}") if p
            ),
            capabilities=["control"],
            max_batch_size=h.max_batch_size,
            instance_id=self.instance_id,
        )
        for r in self.d.registrations:
            r.to_pb(out.hooks.add())
        log.info(
            "handshake: broker %s node=%s calls this server %r; declared %d hook(s)",
            request.broker_version or "?", request.node or "?", request.server_name, len(out.hooks),
        )
        return out

    async def Authenticate(self, request: pb.AuthenticateRequest, context: Context) -> pb.AuthenticateResponse:
        regs = self.d.select(HOOK_AUTHENTICATE, request.client)
        chain = self.d.authenticate_chain(request, regs, _deadline(context))
        result: pb.AuthenticateResponse = await self._run(chain, regs)
        return result

    async def Authorize(self, request: pb.AuthorizeRequest, context: Context) -> pb.AuthorizeResponse:
        action = "subscribe" if request.action == pb.ACTION_SUBSCRIBE else "publish"
        regs = self.d.select(HOOK_AUTHORIZE, request.client, request.topic, action == "subscribe", action)
        out = pb.AuthorizeResponse()
        await self._run(self.d.authorize_chain(request, regs, _deadline(context), out), regs)
        return out

    async def OnSubscribe(self, request: pb.SubscribeRequest, context: Context) -> pb.SubscribeResponse:
        resp = pb.SubscribeResponse()
        deadline = _deadline(context)
        chains = []
        all_regs: list[Registration] = []
        for i, s in enumerate(request.subscriptions):
            regs = self.d.select(HOOK_ON_SUBSCRIBE, request.client, s.filter, subscribe=True)
            chains.append(self.d.subscribe_chain(request, i, regs, deadline, resp.results.add()))
            all_regs.extend(regs)
        if not all_regs or self.d.is_sync(all_regs):
            def run_all() -> None:
                for c in chains:
                    run_sync(c)

            if all_regs:
                await asyncio.get_running_loop().run_in_executor(self.executor, run_all)
            else:
                run_all()
        else:
            for c in chains:
                await run_async(c, self.executor)
        return resp

    async def MessageHooks(self, request_iterator: Any, context: Context) -> None:
        await _MessageStream(self.d, self.executor, context, self.hooks.window).run()

    async def Events(self, request_iterator: Any, context: Context) -> None:
        loop = asyncio.get_running_loop()
        await context.write(pb.EventAck(credits=self.hooks.event_window))
        while True:
            batch = await context.read()
            if batch is grpc.aio.EOF:
                return
            assert isinstance(batch, pb.EventBatch)
            work = []
            regs: list[Registration] = []
            for e in batch.events:
                r = self.d.select_event(e)
                if r:
                    work.append((e, r))
                    regs.extend(r)
            chain = self.d.event_chain(work)
            if not regs:
                ok = run_sync(chain)
            elif self.d.is_sync(regs):
                ok = await loop.run_in_executor(self.executor, run_sync, chain)
            else:
                ok = await run_async(chain, self.executor)
            ack = pb.EventAck(credits=1)
            (ack.sequences if ok else ack.retry_sequences).append(batch.sequence)
            await context.write(ack)

    async def Control(self, request_iterator: Any, context: Context) -> None:
        node = ""
        for k, v in context.invocation_metadata() or ():
            if k == "hookmq-node":
                node = v if isinstance(v, str) else v.decode()
        conn = _Connection(context, node)
        self.hooks.control._attach(conn)
        try:
            await conn.run()
        finally:
            self.hooks.control._detach(conn)


def _add_servicer(servicer: _Servicer, server: Any) -> None:
    """Register the HookProvider methods (as the generated add_HookProviderServicer_to_server
    does, except that MessageHooks answers are written as pre-encoded bytes)."""
    handlers = {
        "Handshake": grpc.unary_unary_rpc_method_handler(
            servicer.Handshake,
            request_deserializer=pb.HandshakeRequest.FromString,
            response_serializer=pb.HandshakeResponse.SerializeToString,
        ),
        "Authenticate": grpc.unary_unary_rpc_method_handler(
            servicer.Authenticate,
            request_deserializer=pb.AuthenticateRequest.FromString,
            response_serializer=pb.AuthenticateResponse.SerializeToString,
        ),
        "Authorize": grpc.unary_unary_rpc_method_handler(
            servicer.Authorize,
            request_deserializer=pb.AuthorizeRequest.FromString,
            response_serializer=pb.AuthorizeResponse.SerializeToString,
        ),
        "OnSubscribe": grpc.unary_unary_rpc_method_handler(
            servicer.OnSubscribe,
            request_deserializer=pb.SubscribeRequest.FromString,
            response_serializer=pb.SubscribeResponse.SerializeToString,
        ),
        "MessageHooks": grpc.stream_stream_rpc_method_handler(
            servicer.MessageHooks,
            request_deserializer=pb.MessageBatch.FromString,
            response_serializer=None,  # bytes of a DecisionBatch
        ),
        "Events": grpc.stream_stream_rpc_method_handler(
            servicer.Events,
            request_deserializer=pb.EventBatch.FromString,
            response_serializer=pb.EventAck.SerializeToString,
        ),
        "Control": grpc.stream_stream_rpc_method_handler(
            servicer.Control,
            request_deserializer=pb.ControlResult.FromString,
            response_serializer=pb.ControlCommand.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)


async def start_server(hooks: Hooks, address: str, tls: ServerTLS | None) -> HookServer:
    executor = ThreadPoolExecutor(max_workers=hooks.max_workers, thread_name_prefix="hookmq")
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.so_reuseport", 0),  # a port already in use is an error, not shared
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ]
    )
    _add_servicer(_Servicer(hooks, executor), server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    try:
        if tls is not None:
            port = server.add_secure_port(address, tls.credentials())
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as exc:
        executor.shutdown(wait=False)
        raise OSError(f"cannot listen on {address!r}: {exc}") from exc
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    bound = address
    if not address.startswith("unix") and address.rsplit(":", 1)[-1] == "0":
        bound = f"{address.rsplit(':', 1)[0]}:{port}"
    else:
        port = port if not address.startswith("unix") else 0
    log.info("hookmq hook server %r listening on %s (%d handler(s))", hooks.name, bound,
             len(hooks.registrations))
    return HookServer(server, bound, port, health, executor)


async def serve_forever(hooks: Hooks, address: str, tls: ServerTLS | None) -> None:
    srv = await start_server(hooks, address, tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / not supported
            pass
    waiter = asyncio.ensure_future(srv.wait_for_termination())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if stop.is_set():
        log.info("stopping: finishing in-flight calls")
        await srv.stop(5.0)
    for t in (waiter, stopper):
        t.cancel()

