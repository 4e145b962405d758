"""A stand-in for the broker's hook engine: a gRPC client of hookmq.v1.HookProvider.

It speaks the protocol as docs/hooks.md specifies it for the broker (credits on MessageHooks,
sequence acks on Events, answers on Control), so the SDK's server is tested against the
contract without the C broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import grpc

from hookmq.v1 import hooks_pb2 as pb

_SERVICE = "/hookmq.v1.HookProvider/"


class HookProviderStub:
    """The client side of hookmq.v1.HookProvider (the SDK generates no gRPC module: its server
    registers its own handlers, see hookmq._server._add_servicer)."""

    def __init__(self, channel: Any) -> None:
        def unary(name: str, req: Any, resp: Any) -> Any:
            return channel.unary_unary(_SERVICE + name, request_serializer=req.SerializeToString,
                                       response_deserializer=resp.FromString)

        def stream(name: str, req: Any, resp: Any) -> Any:
            return channel.stream_stream(_SERVICE + name, request_serializer=req.SerializeToString,
                                         response_deserializer=resp.FromString)

        self.Handshake = unary("Handshake", pb.HandshakeRequest, pb.HandshakeResponse)
        self.Authenticate = unary("Authenticate", pb.AuthenticateRequest, pb.AuthenticateResponse)
        self.Authorize = unary("Authorize", pb.AuthorizeRequest, pb.AuthorizeResponse)
        self.OnSubscribe = unary("OnSubscribe", pb.SubscribeRequest, pb.SubscribeResponse)
        self.MessageHooks = stream("MessageHooks", pb.MessageBatch, pb.DecisionBatch)
        self.Events = stream("Events", pb.EventBatch, pb.EventAck)
        self.Control = stream("Control", pb.ControlResult, pb.ControlCommand)


def client_info(client_id: str = "dev-1", username: str | None = "user-1", listener: str = "default",
                **kw: Any) -> pb.ClientInfo:
    c = pb.ClientInfo(client_id=client_id, listener=listener, protocol_version=5,
                      peer_address="10.0.0.7", peer_port=40000, keepalive=60, clean_start=True, **kw)
    if username is not None:
        c.username = username
        c.has_username = True
    return c


def publish_item(id: int, topic: str, payload: bytes = b"", hook_ids: Iterable[int] = (),
                 client: pb.ClientInfo | None = None, deadline_ms: int = 0, **msg: Any) -> pb.PublishRequest:
    item = pb.PublishRequest(id=id, deadline_ms=deadline_ms)
    item.hook_ids.extend(hook_ids)
    item.client.CopyFrom(client or client_info())
    item.message.topic = topic
    item.message.payload = payload
    item.message.payload_size = len(payload)
    for k, v in msg.items():
        setattr(item.message, k, v)
    return item


def authorize_item(id: int, topic: str, hook_ids: Iterable[int] = (),
                   client: pb.ClientInfo | None = None, qos: int = 0) -> pb.AuthorizeRequest:
    a = pb.AuthorizeRequest(id=id, action=pb.ACTION_PUBLISH, topic=topic, qos=qos)
    a.hook_ids.extend(hook_ids)
    a.client.CopyFrom(client or client_info())
    a.message.topic = topic
    a.message.qos = qos
    return a


Item = pb.PublishRequest | pb.AuthorizeRequest
Answer = pb.PublishResponse | pb.AuthorizeResponse


class MessageStream:
    """The broker's side of MessageHooks: never more outstanding requests than credits allow."""

    def __init__(self, stub: HookProviderStub) -> None:
        self.call = stub.MessageHooks()
        self.credits = 0
        self.granted_total = 0
        self.max_outstanding = 0
        self.outstanding: set[int] = set()
        self.answers: dict[int, Any] = {}
        self.batches_received = 0
        self._credit_event = asyncio.Event()
        self._answer_event = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            msg = await self.call.read()
            if msg is grpc.aio.EOF:
                return
            self.batches_received += 1
            if msg.credits:
                self.credits += msg.credits
                self.granted_total += msg.credits
                self._credit_event.set()
            for d in [*msg.publish, *msg.authorize]:
                assert d.id in self.outstanding, f"answer for unknown id {d.id}"
                self.outstanding.discard(d.id)
                assert d.id not in self.answers, f"second answer for id {d.id}"
                self.answers[d.id] = d
            self._answer_event.set()

    async def send(self, items: Sequence[Item]) -> None:
        """Send as one batch, waiting for credits first (as the broker must)."""
        while self.credits < len(items):
            self._credit_event.clear()
            await self._credit_event.wait()
        self.credits -= len(items)
        for it in items:
            self.outstanding.add(it.id)
        self.max_outstanding = max(self.max_outstanding, len(self.outstanding))
        batch = pb.MessageBatch()
        for it in items:
            if isinstance(it, pb.PublishRequest):
                batch.publish.append(it)
            else:
                batch.authorize.append(it)
        await self.call.write(batch)

    async def wait_for(self, ids: Iterable[int]) -> dict[int, Any]:
        want = set(ids)
        while not want <= self.answers.keys():
            self._answer_event.clear()
            await self._answer_event.wait()
        return {i: self.answers[i] for i in want}

    async def wait_credits(self, n: int) -> None:
        while self.credits < n:
            self._credit_event.clear()
            await self._credit_event.wait()

    async def close(self) -> None:
        await self.call.done_writing()
        await self._reader


class FakeBroker:
    """Connects to a hook server like the broker's gRPC provider would."""

    def __init__(self, target: str, credentials: grpc.ChannelCredentials | None = None,
                 options: Sequence[tuple[str, Any]] = ()) -> None:
        if credentials is not None:
            self.channel = grpc.aio.secure_channel(target, credentials, options=list(options))
        else:
            self.channel = grpc.aio.insecure_channel(target, options=list(options))
        self.stub = HookProviderStub(self.channel)

    async def close(self) -> None:
        await self.channel.close()

    async def handshake(self, versions: Sequence[int] = (1,)) -> pb.HandshakeResponse:
        req = pb.HandshakeRequest(broker_version="fake-broker/1", node="node-a", server_name="test",
                                  capabilities=["stream.messages", "stream.events", "stream.control"],
                                  listeners=["default", "tls"], max_batch_size=256)
        req.protocol_versions.extend(versions)
        resp: pb.HandshakeResponse = await self.stub.Handshake(req, timeout=5)
        return resp

    def messages(self) -> MessageStream:
        return MessageStream(self.stub)
