"""The real gRPC server (hooks.start on a free port) driven by a fake broker over gRPC."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import Start
from harness import FakeBroker, authorize_item, client_info, publish_item
from hookmq import (
    AuthenticateRequest,
    AuthorizeRequest,
    Event,
    Hooks,
    Message,
    PublishRequest,
    ReasonCode,
    Result,
    RetryLater,
    ServerTLS,
    SubscribeRequest,
    allow,
    deny,
    drop,
    grant,
    rewrite,
)
from hookmq.v1 import hooks_pb2 as pb

# -- handshake, health -------------------------------------------------------------------------


async def test_handshake_declares_hooks_and_filters(start: Start) -> None:
    hooks = Hooks("payments", version="2.1")

    @hooks.authenticate(listener="tls", identity={"tls_chain"})
    def auth(req: AuthenticateRequest) -> None: ...

    @hooks.on_publish("pay/+/notify", payload=True)
    def enrich(req: PublishRequest) -> None: ...

    @hooks.on_event("client.connected")
    def ev(e: Event) -> None: ...

    _, broker = await start(hooks)
    hs = await broker.handshake()
    assert hs.protocol_version == 1
    assert hs.server_version.startswith("payments/2.1 hookmq-python/")
    assert "control" in hs.capabilities
    assert len(hs.instance_id) == 32
    assert [(h.id, h.type) for h in hs.hooks] == [
        (1, pb.HOOK_TYPE_AUTHENTICATE), (2, pb.HOOK_TYPE_ON_PUBLISH), (3, pb.HOOK_TYPE_EVENTS)]
    assert list(hs.hooks[0].filter.listeners) == ["tls"] and hs.hooks[0].identity.tls_chain
    assert list(hs.hooks[1].filter.topics) == ["pay/+/notify"] and hs.hooks[1].want_payload
    assert list(hs.hooks[2].events) == [pb.EVENT_TYPE_CLIENT_CONNECTED]


async def test_handshake_refuses_unknown_protocol_versions(start: Start) -> None:
    _, broker = await start(Hooks())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await broker.handshake(versions=[7, 8])
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "protocol version 1" in (err.value.details() or "")


async def test_health_check(start: Start) -> None:
    server, broker = await start(Hooks())
    health = health_pb2_grpc.HealthStub(broker.channel)
    for service in ("", "hookmq.v1.HookProvider"):
        resp = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    await server._health.enter_graceful_shutdown()
    resp = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING


# -- unary hooks -------------------------------------------------------------------------------


def _device_hooks() -> Hooks:
    hooks = Hooks("registry")

    @hooks.authenticate
    def auth(req: AuthenticateRequest) -> Result:
        if req.password == b"good":
            return allow(grants=[grant("dev/%c/#", "publish", max_qos=1)], attributes={"m": "M001"},
                         expires_at=2_000_000_000)
        return deny("bad secret", code=ReasonCode.BAD_USERNAME_OR_PASSWORD, cache_ttl=5)

    return hooks


async def test_authenticate_allow_with_grants_and_deny(start: Start) -> None:
    _, broker = await start(_device_hooks())
    req = pb.AuthenticateRequest(client=client_info("pos-1", "pos-1"), password=b"good",
                                 has_password=True, phase=pb.AUTH_PHASE_CONNECT, step=1)
    ok = await broker.stub.Authenticate(req, timeout=5)
    assert ok.result.decision == pb.DECISION_ALLOW
    assert [(g.pattern, g.action, g.max_qos) for g in ok.grants.rules] == [
        ("dev/%c/#", pb.ACTION_PUBLISH, pb.QOS_LIMIT_1)]
    assert dict(ok.attributes) == {"m": "M001"} and ok.expires_unix_ms == 2_000_000_000_000

    req.password = b"bad"
    no = await broker.stub.Authenticate(req, timeout=5)
    assert no.result.decision == pb.DECISION_DENY
    assert no.result.reason_code == 0x86 and no.result.reason == "bad secret"
    assert no.result.cache.ttl_ms == 5000
    assert not no.HasField("grants")


async def test_authenticate_async_and_failure(start: Start) -> None:
    hooks = Hooks()

    @hooks.authenticate
    async def auth(req: AuthenticateRequest) -> Result:
        await asyncio.sleep(0.01)
        if req.client.client_id == "boom":
            raise TimeoutError("LDAP timed out")
        return allow(superuser=True)

    _, broker = await start(hooks)
    ok = await broker.stub.Authenticate(pb.AuthenticateRequest(client=client_info("admin")), timeout=5)
    assert ok.result.decision == pb.DECISION_ALLOW and ok.superuser
    bad = await broker.stub.Authenticate(pb.AuthenticateRequest(client=client_info("boom")), timeout=5)
    assert bad.result.decision == pb.DECISION_FAILURE and "LDAP timed out" in bad.result.error


async def test_authorize_subscribe_unary(start: Start) -> None:
    hooks = Hooks()

    @hooks.authorize("subscribe", topic="pay/#")
    def sub(req: AuthorizeRequest) -> Result:
        return allow() if req.topic == f"pay/{req.client.client_id}/notify" else deny(cache_ttl=30)

    _, broker = await start(hooks)
    ask = pb.AuthorizeRequest(client=client_info("spk-1"), action=pb.ACTION_SUBSCRIBE, qos=1)
    ask.topic = "pay/spk-1/notify"
    assert (await broker.stub.Authorize(ask, timeout=5)).result.decision == pb.DECISION_ALLOW
    ask.topic = "pay/spk-2/notify"
    no = await broker.stub.Authorize(ask, timeout=5)
    assert no.result.decision == pb.DECISION_DENY and no.result.cache.ttl_ms == 30000
    ask.topic = "dev/x"  # outside the filter: no opinion
    assert (await broker.stub.Authorize(ask, timeout=5)).result.decision == pb.DECISION_CONTINUE


async def test_on_subscribe_rewrite_deny_and_qos(start: Start) -> None:
    hooks = Hooks()

    @hooks.on_subscribe("pay/#")
    def sub(req: SubscribeRequest) -> Result | None:
        f = req.subscription.filter
        if f == "pay/#":
            return rewrite(f"pay/{req.client.client_id}/#", max_qos=1)
        if f.endswith("/admin"):
            return deny("private")
        return None

    _, broker = await start(hooks)
    req = pb.SubscribeRequest(client=client_info("spk-9"))
    req.subscriptions.add(filter="pay/#", qos=2)
    req.subscriptions.add(filter="pay/x/admin", qos=0)
    req.subscriptions.add(filter="other/topic", qos=1)
    resp = await broker.stub.OnSubscribe(req, timeout=5)
    assert len(resp.results) == 3
    r0, r1, r2 = resp.results
    assert r0.result.decision == pb.DECISION_CONTINUE and r0.filter == "pay/spk-9/#"
    assert r0.max_qos == pb.QOS_LIMIT_1
    assert r1.result.decision == pb.DECISION_DENY and r1.result.reason == "private"
    assert r1.result.reason_code == 0x87
    assert r2.result.decision == pb.DECISION_CONTINUE and r2.filter == ""


# -- MessageHooks stream -----------------------------------------------------------------------


async def test_stream_grants_initial_window_and_answers_batches(start: Start) -> None:
    hooks = Hooks(window=64)

    @hooks.on_publish("pay/+/notify")
    def enrich(req: PublishRequest) -> Message | Result:
        if req.message.payload == b"bad":
            return drop("invalid", code=ReasonCode.PAYLOAD_FORMAT_INVALID)
        return req.message.with_user_property("merchant", "Acme")

    _, broker = await start(hooks)
    stream = broker.messages()
    await stream.wait_credits(64)
    assert stream.credits == 64
    items = [publish_item(i, "pay/1/notify", b"bad" if i % 10 == 0 else b"ok", hook_ids=[1])
             for i in range(1, 401)]
    for k in range(0, len(items), 32):
        await stream.send(items[k:k + 32])
    answers = await stream.wait_for(range(1, 401))
    assert stream.max_outstanding <= 64
    for i, d in answers.items():
        assert d.id == i
        if i % 10 == 0:
            assert d.result.decision == pb.DECISION_DENY and d.result.reason_code == 0x99
            assert not d.HasField("changes")
        else:
            assert d.result.decision == pb.DECISION_CONTINUE
            assert list(d.changes.fields) == [pb.MESSAGE_FIELD_USER_PROPERTIES]
            assert [(u.key, u.value) for u in d.changes.message.user_properties] == [("merchant", "Acme")]
    await stream.wait_credits(64)  # every answer gave its credit back
    assert stream.granted_total == 64 + 400
    await stream.close()


async def test_stream_out_of_order_answers_keep_correlation(start: Start) -> None:
    hooks = Hooks()

    @hooks.on_publish()
    async def echo_after_delay(req: PublishRequest) -> Message:
        # later items finish first: the answers come back out of order
        n = int(req.message.payload)
        await asyncio.sleep(0.002 * (20 - n))
        return req.message.with_user_property("n", str(n))

    _, broker = await start(hooks)
    stream = broker.messages()
    await stream.send([publish_item(100 + n, f"t/{n}", str(n).encode()) for n in range(20)])
    answers = await stream.wait_for(range(100, 120))
    for n in range(20):
        props = answers[100 + n].changes.message.user_properties
        assert [(u.key, u.value) for u in props] == [("n", str(n))]
    assert stream.batches_received > 2  # answered as they finished, not as one batch
    await stream.close()


async def test_stream_handler_exception_is_failure_and_stream_survives(start: Start) -> None:
    hooks = Hooks()

    @hooks.on_publish("a/#")
    def sync_handler(req: PublishRequest) -> None:
        if req.message.payload == b"boom":
            raise KeyError("merchant")
        return None

    @hooks.on_publish("b/#")
    async def async_handler(req: PublishRequest) -> None:
        if req.message.payload == b"boom":
            raise RuntimeError("async boom")
        return None

    @hooks.on_publish("c/#")
    async def async_after_await(req: PublishRequest) -> Message:
        await asyncio.sleep(0)  # a bare yield
        await asyncio.sleep(0.001)  # a real future
        if req.message.payload == b"boom":
            raise ValueError("late boom")
        return req.message.with_user_property("late", "ok")

    _, broker = await start(hooks)
    stream = broker.messages()
    await stream.send([publish_item(1, "a/1", b"boom", hook_ids=[1]),
                       publish_item(2, "a/1", b"fine", hook_ids=[1]),
                       publish_item(3, "b/1", b"boom", hook_ids=[2]),
                       publish_item(4, "b/1", b"fine", hook_ids=[2]),
                       publish_item(6, "c/1", b"boom", hook_ids=[3]),
                       publish_item(7, "c/1", b"fine", hook_ids=[3])])
    a = await stream.wait_for([1, 2, 3, 4, 6, 7])
    assert a[1].result.decision == pb.DECISION_FAILURE and "KeyError" in a[1].result.error
    assert a[2].result.decision == pb.DECISION_CONTINUE
    assert a[3].result.decision == pb.DECISION_FAILURE and "async boom" in a[3].result.error
    assert a[4].result.decision == pb.DECISION_CONTINUE
    assert a[6].result.decision == pb.DECISION_FAILURE and "late boom" in a[6].result.error
    assert a[7].result.decision == pb.DECISION_CONTINUE
    assert [(u.key, u.value) for u in a[7].changes.message.user_properties] == [("late", "ok")]
    await stream.send([publish_item(5, "a/1", b"after", hook_ids=[1])])
    assert (await stream.wait_for([5]))[5].result.decision == pb.DECISION_CONTINUE
    await stream.close()


async def test_stream_dispatch_by_hook_ids_and_filters(start: Start) -> None:
    hooks = Hooks()
    seen: list[str] = []

    @hooks.on_publish("pay/#")
    def first(req: PublishRequest) -> None:
        seen.append("first:" + req.message.topic)

    @hooks.on_publish("dev/#")
    def second(req: PublishRequest) -> None:
        seen.append("second:" + req.message.topic)

    _, broker = await start(hooks)
    stream = broker.messages()
    await stream.send([publish_item(1, "pay/1", hook_ids=[1]),
                       publish_item(2, "dev/1", hook_ids=[2]),
                       publish_item(3, "dev/2"),  # no hook_ids: the server evaluates filters
                       publish_item(4, "other")])
    answers = await stream.wait_for([1, 2, 3, 4])
    assert all(d.result.decision == pb.DECISION_CONTINUE for d in answers.values())
    assert sorted(seen) == ["first:pay/1", "second:dev/1", "second:dev/2"]
    await stream.close()


async def test_stream_publish_authorization_items(start: Start) -> None:
    hooks = Hooks()

    @hooks.authorize("publish", topic="pay/#", identity={"attributes"})
    def pub(req: AuthorizeRequest) -> Result:
        if req.client.attributes.get("role") == "platform":
            return allow(cache_ttl=60)
        return deny("devices may not publish payments")

    _, broker = await start(hooks)
    stream = broker.messages()
    platform = client_info("platform-1")
    platform.attributes["role"] = "platform"
    await stream.send([authorize_item(1, "pay/1/notify", [1], platform, qos=1),
                       authorize_item(2, "pay/1/notify", [1], client_info("pos-1")),
                       publish_item(3, "pay/1/notify")])  # no on_publish hooks: CONTINUE
    a = await stream.wait_for([1, 2, 3])
    assert a[1].result.decision == pb.DECISION_ALLOW and a[1].result.cache.ttl_ms == 60000
    assert a[2].result.decision == pb.DECISION_DENY and a[2].result.reason.startswith("devices")
    assert a[3].result.decision == pb.DECISION_CONTINUE
    await stream.close()


async def test_stream_late_items_fail_without_running_the_handler(start: Start) -> None:
    hooks = Hooks(max_workers=1)
    calls: list[int] = []
    gate = threading.Event()

    @hooks.on_publish()
    def slow(req: PublishRequest) -> None:
        calls.append(int(req.message.payload))
        gate.wait(5)

    _, broker = await start(hooks)
    stream = broker.messages()
    await stream.send([publish_item(1, "t", b"1")])  # occupies the only worker
    await stream.send([publish_item(2, "t", b"2", deadline_ms=1)])  # queued behind it: expires
    await asyncio.sleep(0.05)
    gate.set()
    a = await stream.wait_for([1, 2])
    assert a[1].result.decision == pb.DECISION_CONTINUE
    assert a[2].result.decision == pb.DECISION_FAILURE and "deadline" in a[2].result.error
    assert calls == [1]
    await stream.close()


async def test_stream_many_messages_within_credits(start: Start) -> None:
    hooks = Hooks(window=512)

    @hooks.on_publish("pay/+/notify")
    def trivial(req: PublishRequest) -> None:
        return None

    _, broker = await start(hooks)
    stream = broker.messages()
    total, batch = 20_000, 256
    for k in range(1, total + 1, batch):
        await stream.send([publish_item(i, "pay/1/notify", b"{}", hook_ids=[1])
                           for i in range(k, min(k + batch, total + 1))])
    answers = await stream.wait_for(range(1, total + 1))
    assert len(answers) == total and stream.max_outstanding <= 512
    assert all(d.result.decision == pb.DECISION_CONTINUE for d in answers.values())
    await stream.close()


async def test_sync_handlers_do_not_block_the_event_loop(start: Start) -> None:
    hooks = Hooks()
    gate = threading.Event()

    @hooks.on_publish("slow/#")
    def blocking(req: PublishRequest) -> None:
        gate.wait(5)  # e.g. a blocking database call

    @hooks.authenticate
    async def auth(req: AuthenticateRequest) -> Result:
        return allow()

    _, broker = await start(hooks)
    stream = broker.messages()
    await stream.send([publish_item(1, "slow/1")])
    # While the sync handler blocks its worker thread, the server still answers other calls.
    ok = await broker.stub.Authenticate(pb.AuthenticateRequest(client=client_info()), timeout=2)
    assert ok.result.decision == pb.DECISION_ALLOW
    assert 1 not in stream.answers
    gate.set()
    assert (await stream.wait_for([1]))[1].result.decision == pb.DECISION_CONTINUE
    await stream.close()


# -- Events stream -----------------------------------------------------------------------------


async def test_events_batches_acked_in_order_and_retry(start: Start) -> None:
    hooks = Hooks(event_window=2)
    seen: list[str] = []
    down = {"db": False}

    @hooks.on_event("client.connected", "client.disconnected")
    def presence(ev: Event) -> None:
        if down["db"]:
            raise RetryLater("db down")
        seen.append(f"{ev.type}:{ev.client.client_id}")

    _, broker = await start(hooks)
    call = broker.stub.Events()
    first = await call.read()
    assert first.credits == 2 and not first.sequences

    def batch(seq: int, *events: tuple[int, str]) -> pb.EventBatch:
        b = pb.EventBatch(sequence=seq, source_id="node-a:1")
        for t, cid in events:
            e = b.events.add(type=t, timestamp_unix_ms=1)
            e.client.CopyFrom(client_info(cid))
            if t == pb.EVENT_TYPE_CLIENT_CONNECTED:
                e.connected.session_present = False
            elif t == pb.EVENT_TYPE_CLIENT_DISCONNECTED:
                e.disconnected.reason = "client"
            elif t == pb.EVENT_TYPE_SESSION_CREATED:
                e.session_created.session_expiry_interval = 60
        return b

    await call.write(batch(1, (pb.EVENT_TYPE_CLIENT_CONNECTED, "a"), (pb.EVENT_TYPE_SESSION_CREATED, "a")))
    await call.write(batch(2, (pb.EVENT_TYPE_CLIENT_DISCONNECTED, "a")))
    acks = [await call.read(), await call.read()]
    assert [list(a.sequences) for a in acks] == [[1], [2]]
    assert all(a.credits == 1 for a in acks)
    assert seen == ["client.connected:a", "client.disconnected:a"]

    down["db"] = True
    await call.write(batch(3, (pb.EVENT_TYPE_CLIENT_CONNECTED, "b")))
    retry = await call.read()
    assert list(retry.retry_sequences) == [3] and not retry.sequences
    down["db"] = False
    await call.write(batch(3, (pb.EVENT_TYPE_CLIENT_CONNECTED, "b")))  # redelivered
    assert list((await call.read()).sequences) == [3]
    assert seen[-1] == "client.connected:b"
    await call.done_writing()


# -- Control stream ----------------------------------------------------------------------------


async def test_control_commands_round_trip(start: Start) -> None:
    hooks = Hooks()
    _, broker = await start(hooks)
    call = broker.stub.Control(metadata=(("hookmq-node", "node-a"),))

    async def broker_side() -> list[pb.ControlCommand]:
        got = []
        for _ in range(3):
            cmd = await call.read()
            got.append(cmd)
            await call.write(pb.ControlResult(id=cmd.id, affected=1 if cmd.HasField("kick") else 2))
        return got

    side = asyncio.ensure_future(broker_side())
    await hooks.control.wait_for_broker(5)
    assert hooks.control.brokers == 1
    kicked = await hooks.control.kick("pos-1", reason="terminal blocked")
    assert kicked.ok and kicked.affected == 1 and kicked.brokers == 1
    regrant = await hooks.control.set_grants("pos-2", grants=[grant("dev/%c/#", "publish")])
    assert regrant.affected == 2
    await hooks.control.publish("pay/1/notify", '{"amount":"1.00"}', qos=1)
    cmds = await side
    assert cmds[0].kick.clients.client_id == "pos-1" and cmds[0].kick.reason == "terminal blocked"
    assert cmds[0].kick.reason_code == 0x98
    assert cmds[1].grants.grants.rules[0].pattern == "dev/%c/#"
    assert cmds[2].publish.message.topic == "pay/1/notify" and cmds[2].publish.message.qos == 1
    assert len({c.id for c in cmds}) == 3
    await call.done_writing()


async def test_control_blocking_from_a_plain_handler(start: Start) -> None:
    hooks = Hooks()

    @hooks.authenticate
    def auth(req: AuthenticateRequest) -> Result:
        # e.g. a second login of a stolen terminal: kick the other session, then refuse
        reply = hooks.control.blocking(hooks.control.kick(req.client.client_id, reason="duplicate"), 5)
        return deny(f"kicked {reply.affected}")

    _, broker = await start(hooks)
    call = broker.stub.Control()

    async def broker_side() -> pb.ControlCommand:
        cmd: pb.ControlCommand = await call.read()
        await call.write(pb.ControlResult(id=cmd.id, affected=1))
        return cmd

    side = asyncio.ensure_future(broker_side())
    await hooks.control.wait_for_broker(5)
    resp = await broker.stub.Authenticate(pb.AuthenticateRequest(client=client_info("pos-7")), timeout=5)
    assert resp.result.decision == pb.DECISION_DENY and resp.result.reason == "kicked 1"
    assert (await side).kick.clients.client_id == "pos-7"
    with pytest.raises(RuntimeError, match="deadlock"):
        hooks.control.blocking(hooks.control.kick("x"))
    await call.done_writing()


async def test_control_without_broker_raises() -> None:
    from hookmq import NoBrokerConnected

    with pytest.raises(NoBrokerConnected):
        await Hooks().control.kick("x")
    with pytest.raises(ValueError):
        await Hooks().control.kick()


# -- transports --------------------------------------------------------------------------------


async def test_unix_socket(start: Start, tmp_path: Path) -> None:
    hooks = _device_hooks()
    sock = tmp_path / "hooks.sock"
    server, broker = await start(hooks, address=f"unix:{sock}")
    assert server.port == 0 and sock.exists()
    hs = await broker.handshake()
    assert hs.hooks[0].type == pb.HOOK_TYPE_AUTHENTICATE


def _make_certs(d: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(args, cwd=d, check=True, capture_output=True)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-subj", "/CN=test-ca", "-days", "2")
    for name, cn, usage in (("server", "localhost", "serverAuth"), ("broker", "broker", "clientAuth")):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={cn}")
        (d / f"{name}.ext").write_text(f"subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\n")
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_mutual_tls(start: Start, tmp_path: Path) -> None:
    _make_certs(tmp_path)
    tls = ServerTLS(certificate_chain=tmp_path / "server.crt", private_key=str(tmp_path / "server.key"),
                    client_ca=(tmp_path / "ca.crt").read_bytes())
    ca = (tmp_path / "ca.crt").read_bytes()
    good = grpc.ssl_channel_credentials(ca, (tmp_path / "broker.key").read_bytes(),
                                        (tmp_path / "broker.crt").read_bytes())
    server, broker = await start(_device_hooks(), tls=tls, credentials=good)
    req = pb.AuthenticateRequest(client=client_info("pos-1"), password=b"good", has_password=True)
    assert (await broker.stub.Authenticate(req, timeout=5)).result.decision == pb.DECISION_ALLOW

    no_cert = FakeBroker(server.address, credentials=grpc.ssl_channel_credentials(ca))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await no_cert.stub.Authenticate(req, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await no_cert.close()


def test_serve_blocks_until_sigterm(tmp_path: Path) -> None:
    """hooks.serve() in a real process: serves, then exits cleanly on SIGTERM."""
    import signal
    import sys
    import time

    sock = tmp_path / "s.sock"
    code = (
        "from hookmq import Hooks, allow\n"
        "hooks = Hooks('proc')\n"
        "@hooks.authenticate\n"
        "def a(req):\n"
        "    return allow()\n"
        f"hooks.serve('unix:{sock}')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ), stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)

        async def call() -> int:
            b = FakeBroker(f"unix:{sock}")
            try:
                r = await b.stub.Authenticate(pb.AuthenticateRequest(client=client_info()), timeout=5)
                return int(r.result.decision)
            finally:
                await b.close()

        assert asyncio.run(call()) == pb.DECISION_ALLOW
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_port_in_use_is_an_error(start: Start) -> None:
    server, _ = await start(Hooks())
    with pytest.raises(OSError, match="cannot listen"):
        await Hooks().start(server.address)


async def test_stream_and_test_kit_give_the_same_answers(start: Start) -> None:
    """The stream's fast paths (single handler) and the general chain (test kit) agree."""
    from hookmq import continue_
    from hookmq.testing import HookTestKit

    hooks = Hooks()

    @hooks.on_publish("x/#", cache_ttl=30)
    def cached(req: PublishRequest) -> None:
        return None

    @hooks.on_publish("y/#")
    def scenarios(req: PublishRequest) -> Message | Result | None:
        p = req.message.payload
        m = req.message
        if p == b"none":
            return None
        if p == b"same":
            return m
        if p == b"topic":
            return m.replace(topic="y/renamed")
        if p == b"many":
            m.qos = 0
            m.retain = True
            m.message_expiry_interval = 30
            m.content_type = "text/plain"
            m.correlation_data = b"c"
            m.user_properties.append(("k", "v"))
            return m
        if p == b"bigger":
            return m.replace(payload=p * 3, payload_format_indicator=1, response_topic="r/1")
        if p == b"drop":
            return drop("no", code=ReasonCode.QUOTA_EXCEEDED, cache_ttl=2)
        if p == b"allow":
            return allow(message=m.with_user_property("a", "1"))
        if p == b"bad":
            return m.replace(topic="y/#")
        return continue_(cache_ttl=1)

    payloads = [b"none", b"same", b"topic", b"many", b"bigger", b"drop", b"allow", b"bad", b"other"]
    kit_answers = {}
    with HookTestKit(hooks) as kit:
        for p in payloads:
            req = pb.PublishRequest(id=1)
            req.client.CopyFrom(client_info())
            req.message.topic = "y/1"
            req.message.payload = p
            req.message.qos = 1
            regs = kit.dispatcher.select(3, req.client, "y/1")
            kit_answers[p] = kit._drive(kit.dispatcher.publish_chain(req, regs, None), regs)

    _, broker = await start(hooks)
    stream = broker.messages()
    await stream.send([publish_item(i, "y/1", p, hook_ids=[2], qos=1) for i, p in enumerate(payloads, 1)]
                      + [publish_item(100, "x/1", b"", hook_ids=[1])])
    got = await stream.wait_for([*range(1, len(payloads) + 1), 100])
    for i, p in enumerate(payloads, 1):
        expected = pb.PublishResponse()
        expected.CopyFrom(kit_answers[p])
        expected.id = i
        assert got[i] == expected, p
        if p == b"bad":
            assert expected.result.decision == pb.DECISION_FAILURE
    assert got[100].result.decision == pb.DECISION_CONTINUE and got[100].result.cache.ttl_ms == 30000
    await stream.close()
