"""The decorator API and decision semantics, through the test kit (no network)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from hookmq import (
    AuthenticateRequest,
    AuthorizeRequest,
    CacheScope,
    Certificate,
    ClientInfo,
    Decision,
    Event,
    Grant,
    Hooks,
    Message,
    PublishRequest,
    ReasonCode,
    Result,
    RetryLater,
    SubscribeRequest,
    TlsInfo,
    allow,
    challenge,
    continue_,
    deny,
    drop,
    failure,
    grant,
    rewrite,
)
from hookmq.testing import HookTestKit, evaluate_grants


@pytest.fixture
def hooks() -> Hooks:
    return Hooks("test")


@pytest.fixture
def kit(hooks: Hooks) -> Iterator[HookTestKit]:
    k = HookTestKit(hooks)
    yield k
    k.close()


# -- authenticate --------------------------------------------------------------------------


def test_authenticate_allow_with_grants_attributes_expiry(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authenticate
    def auth(req: AuthenticateRequest) -> Result:
        assert req.client.client_id == "pos-1" and req.client.username == "pos-1"
        assert req.password == b"pw" and req.password_text == "pw"
        return allow(
            grants=[grant("dev/%c/up/#", "publish", max_qos=1, retain=False),
                    grant("pay/%u/notify", "subscribe")],
            superuser=False,
            attributes={"merchant": "M001"},
            expires_at=1_900_000_000.5,
            cache_ttl=30,
        )

    res = kit.authenticate("pos-1", "pos-1", "pw")
    assert res.decision is Decision.ALLOW
    assert res.grants == [Grant("dev/%c/up/#", "publish", 1, False), Grant("pay/%u/notify", "subscribe", 2, True)]
    assert res.attributes == {"merchant": "M001"}
    assert res.expires_at == pytest.approx(1_900_000_000.5)
    assert res.cache_ttl == 30
    assert kit.grants_allow(res, "publish", "dev/pos-1/up/status", client_id="pos-1", qos=1)
    assert not kit.grants_allow(res, "publish", "dev/pos-1/up/status", client_id="pos-1", qos=2)
    assert not kit.grants_allow(res, "publish", "dev/pos-1/up/x", client_id="pos-1", retain=True)
    assert not kit.grants_allow(res, "publish", "dev/pos-2/up/status", client_id="pos-1")
    assert kit.grants_allow(res, "subscribe", "pay/pos-1/notify", client_id="pos-1", username="pos-1")
    assert not kit.grants_allow(res, "subscribe", "pay/+/notify", client_id="pos-1", username="pos-1")


def test_authenticate_deny_with_code_and_cached_denial(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authenticate
    def auth(req: AuthenticateRequest) -> Result:
        return deny("bad secret", code=ReasonCode.BAD_USERNAME_OR_PASSWORD, cache_ttl=5,
                    cache_scope=CacheScope.USERNAME)

    res = kit.authenticate("c", "u", b"x")
    assert res.denied
    assert res.reason_code == 0x86 and res.reason == "bad secret"
    assert res.cache_ttl == 5 and res.cache_scope is CacheScope.USERNAME


def test_no_handler_means_continue(kit: HookTestKit) -> None:
    assert kit.authenticate("c").decision is Decision.CONTINUE
    assert kit.authorize("publish", "a/b").decision is Decision.CONTINUE
    assert kit.publish("a/b", b"x").decision is Decision.CONTINUE
    assert kit.subscribe("a/b")[0].decision is Decision.CONTINUE


def test_authenticate_filters_and_chain_order(hooks: Hooks, kit: HookTestKit) -> None:
    calls: list[str] = []

    @hooks.authenticate(listener="tls")
    def tls_only(req: AuthenticateRequest) -> Result | None:
        calls.append("tls")
        return None

    @hooks.authenticate(client_id="pos-*", username="?*")
    def pos(req: AuthenticateRequest) -> Result:
        calls.append("pos")
        return allow()

    @hooks.authenticate
    def fallback(req: AuthenticateRequest) -> Result:
        calls.append("fallback")
        return deny("no")

    assert kit.authenticate("pos-1", "u", listener="tls").allowed
    assert calls == ["tls", "pos"]
    calls.clear()
    assert kit.authenticate("pos-1", None).denied  # no username: "?*" does not match
    assert calls == ["fallback"]
    calls.clear()
    assert kit.authenticate("spk-1", "u").denied
    assert calls == ["fallback"]


def test_tls_identity_and_chain_only_when_asked(hooks: Hooks, kit: HookTestKit) -> None:
    seen: list[TlsInfo | None] = []

    @hooks.authenticate
    def auth(req: AuthenticateRequest) -> None:
        seen.append(req.client.tls)

    tls = TlsInfo(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", sni="mqtt.bank.example",
                  peer_certificate=Certificate(subject="CN=pos-1,O=Bank", common_name="pos-1",
                                               serial="0a1b", fingerprint_sha256="ab" * 32,
                                               san_dns=["pos-1.devices.bank"]),
                  chain_pem="-----BEGIN CERTIFICATE-----\n...")
    kit.authenticate("pos-1", tls=tls)
    got = seen[0]
    assert got is not None and got.peer_certificate is not None
    assert got.version == "TLSv1.3" and got.sni == "mqtt.bank.example"
    assert got.peer_certificate.common_name == "pos-1"
    assert got.peer_certificate.san_dns == ["pos-1.devices.bank"]
    assert got.chain_pem == ""  # not asked for

    hooks2 = Hooks()
    chains: list[str] = []

    @hooks2.authenticate(identity={"tls_chain"})
    def auth2(req: AuthenticateRequest) -> None:
        assert req.client.tls is not None
        chains.append(req.client.tls.chain_pem)

    with HookTestKit(hooks2) as kit2:
        kit2.authenticate("pos-1", tls=tls)
    assert chains == ["-----BEGIN CERTIFICATE-----\n..."]


def test_enhanced_auth_challenge_round_trip(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authenticate
    def scram(req: AuthenticateRequest) -> Result:
        if req.auth_method != "SCRAM-SHA-256":
            return deny("method", code=ReasonCode.BAD_AUTHENTICATION_METHOD)
        if req.phase == "connect":
            return challenge(b"server-first", state=b"nonce-1")
        assert req.phase == "continue" and req.auth_state == b"nonce-1" and req.step == 2
        return allow(auth_data=b"server-final") if req.auth_data == b"client-final" else deny("proof")

    first = kit.authenticate("c", auth_method="SCRAM-SHA-256", auth_data=b"client-first")
    assert first.challenge is not None
    assert first.challenge.auth_data == b"server-first" and first.challenge.state == b"nonce-1"
    final = kit.authenticate("c", auth_method="SCRAM-SHA-256", auth_data=b"client-final",
                             phase="continue", auth_state=first.challenge.state, step=2)
    assert final.allowed and final.auth_data == b"server-final"
    assert kit.authenticate("c", auth_method="PLAIN").reason_code == 0x8C


def test_handler_exception_becomes_failure(hooks: Hooks, kit: HookTestKit,
                                           caplog: pytest.LogCaptureFixture) -> None:
    @hooks.authenticate
    def broken(req: AuthenticateRequest) -> Result:
        raise ConnectionError("registry database unreachable")

    with caplog.at_level(logging.ERROR, logger="hookmq"):
        res = kit.authenticate("c", "u", "p")
    assert res.decision is Decision.FAILURE
    assert "ConnectionError" in res.error and "registry database unreachable" in res.error
    assert "broken" in caplog.text


def test_invalid_return_values_become_failure(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authenticate
    def wrong_type(req: AuthenticateRequest) -> object:
        return True

    @hooks.authorize()
    def grants_in_authorize(req: AuthorizeRequest) -> Result:
        return allow(grants=[grant("a/#")])

    res = kit.authenticate("c")
    assert res.decision is Decision.FAILURE and "returned bool" in res.error
    res = kit.authorize("subscribe", "a/b")
    assert res.decision is Decision.FAILURE and "grants= is not valid" in res.error


def test_failure_helper(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authenticate
    def auth(req: AuthenticateRequest) -> Result:
        return failure("LDAP down")

    res = kit.authenticate("c")
    assert res.decision is Decision.FAILURE and res.error == "LDAP down"


# -- authorize -----------------------------------------------------------------------------


def test_authorize_publish_and_subscribe(hooks: Hooks, kit: HookTestKit) -> None:
    seen: list[tuple[str, str, int]] = []

    @hooks.authorize("publish", topic="pay/#", payload=True, identity={"attributes"})
    def pub(req: AuthorizeRequest) -> Result:
        seen.append((req.action, req.topic, req.qos))
        assert req.message is not None and req.message.payload == b"{}"
        assert req.client.attributes == {"role": "platform"}
        if req.client.attributes.get("role") == "platform":
            return allow(cache_ttl=60, cache_scope=CacheScope.CLIENT)
        return deny()

    @hooks.authorize("subscribe")
    def sub(req: AuthorizeRequest) -> Result:
        seen.append((req.action, req.topic, req.qos))
        return deny("no wildcard", cache_ttl=10) if "#" in req.topic else continue_()

    res = kit.authorize("publish", "pay/1/notify", qos=1, payload=b"{}", attributes={"role": "platform"})
    assert res.allowed and res.cache_ttl == 60 and res.cache_scope is CacheScope.CLIENT
    assert kit.authorize("publish", "dev/1/up").decision is Decision.CONTINUE  # filter: not called
    res = kit.authorize("subscribe", "pay/#", qos=1)
    assert res.denied and res.reason_code == 0x87 and res.cache_ttl == 10
    assert kit.authorize("subscribe", "pay/1/notify").decision is Decision.CONTINUE
    assert seen == [("publish", "pay/1/notify", 1), ("subscribe", "pay/#", 1),
                    ("subscribe", "pay/1/notify", 0)]


def test_payload_and_identity_withheld_unless_asked(hooks: Hooks, kit: HookTestKit) -> None:
    got: list[tuple[bytes, int, dict[str, str], TlsInfo | None]] = []

    @hooks.authorize("publish")
    def pub(req: AuthorizeRequest) -> None:
        assert req.message is not None
        got.append((req.message.payload, req.message.payload_size, req.client.attributes, req.client.tls))

    kit.authorize("publish", "a", payload=b"secret-payload", attributes={"a": "1"},
                  client=ClientInfo(client_id="c", tls=TlsInfo(version="TLSv1.3")))
    assert got == [(b"", len(b"secret-payload"), {}, None)]


def test_continue_is_cached_only_if_every_handler_says_so(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authorize("subscribe")
    def a(req: AuthorizeRequest) -> Result:
        return continue_(cache_ttl=30, cache_scope=CacheScope.USERNAME)

    @hooks.authorize("subscribe", topic="x/#")
    def b(req: AuthorizeRequest) -> Result:
        return continue_(cache_ttl=10)

    both = kit.authorize("subscribe", "x/1")
    assert both.decision is Decision.CONTINUE and both.cache_ttl == 10
    assert both.cache_scope is CacheScope.DEFAULT  # the narrowest scope
    only_a = kit.authorize("subscribe", "y/1")
    assert only_a.cache_ttl == 30 and only_a.cache_scope is CacheScope.USERNAME


def test_decorator_default_cache_ttl(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authorize(cache_ttl=120)
    def a(req: AuthorizeRequest) -> Result:
        return allow() if req.topic.startswith("ok/") else deny(cache_ttl=1)

    assert kit.authorize("subscribe", "ok/1").cache_ttl == 120
    assert kit.authorize("subscribe", "no/1").cache_ttl == 1


# -- on_publish ----------------------------------------------------------------------------


def test_on_publish_modifies_and_chains(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.on_publish("pay/+/notify")
    def enrich(req: PublishRequest) -> Message:
        return req.message.replace(payload=req.message.payload.upper(), qos=1,
                                   message_expiry_interval=60).with_user_property("merchant", "Acme")

    @hooks.on_publish("pay/#")
    def stamp(req: PublishRequest) -> Message:
        assert req.message.user_property("merchant") == "Acme"  # sees the first handler's change
        m = req.message
        m.user_properties.append(("checked", "yes"))
        m.topic = "pay/checked/notify"
        return m

    out = kit.publish("pay/1/notify", b"hello", user_properties=[("trace", "t1")])
    assert out.decision is Decision.CONTINUE
    assert out.message.payload == b"HELLO" and out.message.qos == 1
    assert out.message.message_expiry_interval == 60
    assert out.message.topic == "pay/checked/notify"
    assert out.message.user_properties == [("trace", "t1"), ("merchant", "Acme"), ("checked", "yes")]
    assert out.changed == {"payload", "qos", "message_expiry_interval", "user_properties", "topic"}


def test_on_publish_in_place_change_of_one_field(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.on_publish()
    def retain_off(req: PublishRequest) -> Message:
        req.message.retain = False
        return req.message

    out = kit.publish("a/b", b"x", retain=True, user_properties=[("k", "v")])
    assert out.changed == {"retain"}
    assert out.message.retain is False and out.message.user_properties == [("k", "v")]
    assert kit.publish("a/b", b"x", retain=False).changed == frozenset()


def test_on_publish_drop_and_allow(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.on_publish("pay/#")
    def check(req: PublishRequest) -> Result | None:
        if not req.message.payload:
            return drop("empty", code=ReasonCode.PAYLOAD_FORMAT_INVALID)
        if req.message.payload == b"vip":
            return allow(message=req.message.with_user_property("vip", "1"))
        return None

    @hooks.on_publish("pay/#")
    def second(req: PublishRequest) -> Message:
        return req.message.with_user_property("second", "1")

    dropped = kit.publish("pay/1", b"")
    assert dropped.dropped and dropped.result.reason_code == 0x99 and dropped.result.reason == "empty"
    vip = kit.publish("pay/1", b"vip")
    assert vip.decision is Decision.ALLOW and vip.message.user_properties == [("vip", "1")]
    normal = kit.publish("pay/1", b"n")
    assert normal.decision is Decision.CONTINUE and normal.message.user_properties == [("second", "1")]


def test_on_publish_invalid_change_is_failure(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.on_publish()
    def bad(req: PublishRequest) -> Message:
        return req.message.replace(topic="a/+/wildcard")

    out = kit.publish("a/b", b"x")
    assert out.decision is Decision.FAILURE and "wildcards" in out.result.error


def test_on_publish_without_payload(hooks: Hooks, kit: HookTestKit) -> None:
    sizes: list[tuple[bytes, int]] = []

    @hooks.on_publish("big/#", payload=False)
    def size_check(req: PublishRequest) -> Result | None:
        sizes.append((req.message.payload, req.message.payload_size))
        return drop("too big", code=ReasonCode.PACKET_TOO_LARGE) if req.message.payload_size > 4 else None

    assert kit.publish("big/1", b"12345").dropped
    out = kit.publish("big/1", b"123")
    assert out.decision is Decision.CONTINUE and out.changed == frozenset()
    assert sizes == [(b"", 5), (b"", 3)]


def test_async_handlers(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.on_publish("a/#")
    async def slow_enrich(req: PublishRequest) -> Message:
        await asyncio.sleep(0.001)
        return req.message.with_user_property("async", "yes")

    @hooks.authenticate
    async def auth(req: AuthenticateRequest) -> Result:
        await asyncio.sleep(0)
        return allow()

    assert kit.publish("a/1", b"x").message.user_properties == [("async", "yes")]
    assert kit.authenticate("c").allowed


# -- on_subscribe --------------------------------------------------------------------------


def test_on_subscribe_per_filter(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.on_subscribe("pay/#")
    def pay(req: SubscribeRequest) -> Result | None:
        f = req.subscription.filter
        if f == "pay/#":
            return rewrite(f"pay/{req.client.client_id}/#", max_qos=1)
        if f.endswith("/admin"):
            return deny("admin topics are private", code=ReasonCode.NOT_AUTHORIZED)
        if req.subscription.share_group:
            return allow(max_qos=0)
        return None

    res = kit.subscribe(("pay/#", 2), "pay/x/admin", "$share/g/pay/1/notify", "dev/1/down",
                        client_id="spk-1")
    assert res[0].decision is Decision.CONTINUE and res[0].filter == "pay/spk-1/#" and res[0].max_qos == 1
    assert res[1].denied and res[1].reason == "admin topics are private"
    assert res[2].allowed and res[2].max_qos == 0
    assert res[3].decision is Decision.CONTINUE and res[3].filter is None  # no matching handler


def test_on_subscribe_rewrite_then_next_handler_sees_it(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.on_subscribe()
    def first(req: SubscribeRequest) -> Result:
        return rewrite("$share/speakers/" + req.subscription.filter)

    @hooks.on_subscribe()
    def second(req: SubscribeRequest) -> Result:
        assert req.subscription.share_group == "speakers"
        return allow(max_qos=1)

    (res,) = kit.subscribe("pay/1/notify")
    assert res.allowed and res.filter == "$share/speakers/pay/1/notify" and res.max_qos == 1


def test_rewrite_validates() -> None:
    with pytest.raises(ValueError):
        rewrite("a/#/b")
    with pytest.raises(ValueError):
        rewrite("a", max_qos=3)


# -- events --------------------------------------------------------------------------------


def test_events_dispatch_and_retry(hooks: Hooks, kit: HookTestKit) -> None:
    seen: list[tuple[str, str]] = []
    fail = {"on": False}

    @hooks.on_event("client.connected", "disconnected")
    def presence(ev: Event) -> None:
        if fail["on"]:
            raise RetryLater("database down")
        seen.append((ev.type, ev.client.client_id))

    @hooks.on_event("message.dropped", topic="pay/#")
    async def drops(ev: Event) -> None:
        assert ev.message is not None
        seen.append((ev.type, ev.message.topic + ":" + ev.reason))

    assert kit.event("client.connected", client_id="a", session_present=True)
    assert kit.event("client.disconnected", client_id="a", reason="keepalive", reason_code=0x8D)
    assert kit.event("message.dropped", message=Message("pay/1/notify"), reason="queue_full")
    assert kit.event("message.dropped", message=Message("dev/1/up"), reason="queue_full")
    assert kit.event("session.created")
    assert seen == [("client.connected", "a"), ("client.disconnected", "a"),
                    ("message.dropped", "pay/1/notify:queue_full")]
    fail["on"] = True
    assert kit.event("client.connected", client_id="b") is False


def test_event_handler_error_is_logged_and_acked(hooks: Hooks, kit: HookTestKit,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    @hooks.on_event()
    def boom(ev: Event) -> None:
        raise ValueError("bug")

    with caplog.at_level(logging.ERROR, logger="hookmq"):
        assert kit.event("session.terminated", reason="expired") is True
    assert "ValueError" in caplog.text


# -- declarations --------------------------------------------------------------------------


def test_handshake_declares_registrations(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authenticate(listener=["tls", "wss"], identity={"tls_chain"})
    def a(req: AuthenticateRequest) -> None: ...

    @hooks.authorize("publish", topic="pay/#", username="platform-*")
    def b(req: AuthorizeRequest) -> None: ...

    @hooks.on_publish("pay/+/notify", "pay/+/refund", payload=True)
    def c(req: PublishRequest) -> None: ...

    @hooks.on_event("connected", "message.acked")
    def d(ev: Event) -> None: ...

    hs = HookTestKit(hooks).handshake()
    by_name = {h.name: h for h in hs.hooks}
    assert [h.id for h in hs.hooks] == [1, 2, 3, 4]
    assert list(by_name["test_handshake_declares_registrations.<locals>.a"].filter.listeners) == ["tls", "wss"]
    a_reg = hs.hooks[0]
    assert a_reg.identity.tls_chain and a_reg.identity.tls
    b_reg = hs.hooks[1]
    assert list(b_reg.actions) == [1] and list(b_reg.filter.topics) == ["pay/#"]
    assert list(b_reg.filter.usernames) == ["platform-*"] and not b_reg.want_payload
    c_reg = hs.hooks[2]
    assert list(c_reg.filter.topics) == ["pay/+/notify", "pay/+/refund"] and c_reg.want_payload
    assert list(hs.hooks[3].events) == [1, 6]


def test_decorator_validation(hooks: Hooks) -> None:
    with pytest.raises(ValueError, match="'#' must be"):
        hooks.on_publish("a/#/b")
    with pytest.raises(ValueError, match="unknown event"):
        hooks.on_event("client.conected")
    with pytest.raises(ValueError, match="unknown identity"):
        hooks.on_publish("a", identity={"password"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="action"):
        hooks.authorize("connect")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hooks.on_publish(lambda r: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        grant("a/b", "read")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        deny(code=0x10)


def test_evaluate_grants_order_and_substitution() -> None:
    grants = [
        grant("pay/%c/admin", deny=True),
        grant("pay/%c/#", "subscribe", max_qos=1),
        grant("m/%a{merchant}/#", "publish"),
        grant("u/%u/#", "publish"),
    ]
    ev = evaluate_grants
    assert ev(grants, "subscribe", "pay/c1/admin", client_id="c1") == "deny"
    assert ev(grants, "subscribe", "pay/c1/+", client_id="c1") == "allow"
    assert ev(grants, "publish", "pay/c1/x", client_id="c1") == "no_match"
    assert ev(grants, "publish", "m/M1/x", client_id="c1", attributes={"merchant": "M1"}) == "allow"
    assert ev(grants, "publish", "m/M1/x", client_id="c1") == "no_match"
    assert ev(grants, "publish", "u/bob/x", client_id="c1", username=None) == "no_match"
    assert ev(grants, "publish", "u/bob/x", client_id="c1", username="bob") == "allow"
    # a client id with wildcard characters cannot widen its grants
    assert ev(grants, "subscribe", "pay/#", client_id="#") == "no_match"


def test_message_helpers() -> None:
    m = Message("t", b'{"a": 1}', user_properties=[("k", "v")])
    assert m.json() == {"a": 1} and m.text == '{"a": 1}' and m.payload_size == 8
    m2 = m.with_user_property("k2", "v2")
    assert m.user_properties == [("k", "v")] and m2.user_property("k2") == "v2"
    assert m.replace(payload=b"xy").payload_size == 2
    assert m == Message("t", b'{"a": 1}', user_properties=[("k", "v")])
    with pytest.raises(TypeError):
        m.replace(nope=1)


def test_registration_after_start_is_refused(hooks: Hooks) -> None:
    hooks._frozen = True
    with pytest.raises(RuntimeError, match="before the server starts"):
        hooks.on_publish("a")(lambda r: None)


def test_time_remaining(hooks: Hooks, kit: HookTestKit) -> None:
    @hooks.authenticate
    def auth(req: AuthenticateRequest) -> None:
        assert req.time_remaining() is None
        req.deadline = time.monotonic() + 10
        remaining = req.time_remaining()
        assert remaining is not None and 9 < remaining <= 10

    assert kit.authenticate("c").decision is Decision.CONTINUE
