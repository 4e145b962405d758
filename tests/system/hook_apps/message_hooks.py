"""A hook server for the system tests of the message hooks (tests/system/test_hooks_*.py), built
with the Python SDK and run with its virtualenv (sdk-python/.venv).

    message_hooks.py --port 0 --features modify,drop --tag gen1 [--late-ms 8000]
                     [--events-file /tmp/x/events.jsonl] [--window 4096] [--cache-ttl 0.3]

Prints "PORT <n>" once it listens (--port 0 picks a free port; a fixed port lets a test start
the server after the broker, or restart it on the same address). Serves until stdin closes (so
it never outlives the test) or it is killed.

Features (comma separated), each a few handlers on its own topics:
  modify     on_publish mod/#: topic -> modded/<rest>, payload -> b"modified:" + payload, user
             property hooked=<tag> (a plain function: runs in the SDK's thread pool)
  enrich     on_publish pay/#: sets content type, payload format indicator 1, message expiry
             60 s, response topic reply/<client id>, correlation data b"c1"; pay/q0 is routed at
             QoS 0, pay/keep with the retain flag
  nopayload  on_publish np/# registered with payload=False: adds size=<payload_size> and
             payload_seen=<len of the payload it got>
  drop       on_publish drop/#: payloads starting with b"bad" dropped with 0x99 (payload format
             invalid), others unchanged
  authz      authorize publish and subscribe on acl/#: a topic or filter containing "secret" is
             denied (0x87 by default), one containing "quota" denied with 0x97 (quota
             exceeded), everything else allowed
  authz_cached  authorize publish on cached/#: "secret" topics denied unless --tag is "open",
             answers cached for --cache-ttl seconds (default 0.3)
  subscribe  on_subscribe: "news" -> tenant/<client id>/news; blocked/# denied; capped/# capped
             at QoS 0
  slow       on_publish slow/#: async, sleeps 20-50 ms (derived from the payload), adds slow=1;
             on_publish fast/#: async, answers at once, adds fast=1
  late       on_publish late/#: writes "LATE <payload>" to stderr on arrival, sleeps --late-ms
             (past any deadline of the tests), then would add late=answered
  boom       on_publish boom/#: raises (the SDK answers FAILURE)
  gen        on_publish hooked/#: adds gen=<tag>
  chain_a    on_publish chain/#: adds a=<tag>; a topic ending in denyA dropped with 0x99
  chain_b    on_publish chain/#: adds b=<value of a as this server received it, or "none">; a
             topic ending in denyB dropped with 0x97 (quota exceeded)
  events     on_event client.connected / client.disconnected / session.subscribed: one JSON line
             per event appended to --events-file
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import zlib

from hookmq import (
    AuthorizeRequest,
    Event,
    Hooks,
    Message,
    PublishRequest,
    ReasonCode,
    Result,
    SubscribeRequest,
    allow,
    deny,
    drop,
    rewrite,
)

FEATURES = ("modify", "enrich", "nopayload", "drop", "authz", "authz_cached", "subscribe", "slow", "late", "boom", "gen",
            "chain_a", "chain_b", "events")


def build(features: set[str], tag: str, late_ms: int, events_file: str | None,
          window: int = 4096, cache_ttl: float = 0.3) -> Hooks:
    hooks = Hooks(f"message-test-{tag}", version="1.0", window=window)

    if "modify" in features:
        @hooks.on_publish("mod/#")
        def modify(req: PublishRequest) -> Message:
            m = req.message
            return m.replace(topic="modded/" + m.topic[len("mod/"):],
                             payload=b"modified:" + m.payload).with_user_property("hooked", tag)

    if "enrich" in features:
        @hooks.on_publish("pay/#")
        def enrich(req: PublishRequest) -> Message:
            m = req.message.replace(content_type="application/json", payload_format_indicator=1,
                                    message_expiry_interval=60,
                                    response_topic=f"reply/{req.client.client_id}",
                                    correlation_data=b"c1")
            if m.topic == "pay/q0":
                m = m.replace(qos=0)
            if m.topic == "pay/keep":
                m = m.replace(retain=True)
            return m

    if "nopayload" in features:
        @hooks.on_publish("np/#", payload=False)
        async def sizes(req: PublishRequest) -> Message:
            m = req.message
            return m.with_user_property("size", str(m.payload_size)).with_user_property(
                "payload_seen", str(len(m.payload)))

    if "drop" in features:
        @hooks.on_publish("drop/#")
        async def maybe_drop(req: PublishRequest) -> Result | None:
            if req.message.payload.startswith(b"bad"):
                return drop("not a valid payload", code=ReasonCode.PAYLOAD_FORMAT_INVALID)
            return None

    if "authz" in features:
        def acl(topic: str) -> Result:
            if "quota" in topic:
                return deny("over quota", code=ReasonCode.QUOTA_EXCEEDED)
            return deny("secret") if "secret" in topic else allow()

        @hooks.authorize("publish", topic="acl/#")
        async def may_publish(req: AuthorizeRequest) -> Result:
            return acl(req.topic)

        @hooks.authorize("subscribe", topic="acl/#")
        def may_subscribe(req: AuthorizeRequest) -> Result:
            return acl(req.topic)

    if "authz_cached" in features:
        @hooks.authorize("publish", topic="cached/#")
        async def may_publish_cached(req: AuthorizeRequest) -> Result:
            if "secret" in req.topic and tag != "open":
                return deny("secret topic", cache_ttl=cache_ttl)
            return allow(cache_ttl=cache_ttl)

    if "subscribe" in features:
        @hooks.on_subscribe("news", "blocked/#", "capped/#")
        async def subscriptions(req: SubscribeRequest) -> Result | None:
            f = req.subscription.filter
            if f == "news":
                return rewrite(f"tenant/{req.client.client_id}/news")
            if f.startswith("blocked/"):
                return deny("blocked")
            if f.startswith("capped/"):
                return rewrite(max_qos=0)
            return None

    if "slow" in features:
        @hooks.on_publish("slow/#")
        async def slow(req: PublishRequest) -> Message:
            await asyncio.sleep((20 + zlib.crc32(req.message.payload) % 31) / 1000)
            return req.message.with_user_property("slow", "1")

        @hooks.on_publish("fast/#")
        async def fast(req: PublishRequest) -> Message:
            return req.message.with_user_property("fast", "1")

    if "late" in features:
        @hooks.on_publish("late/#")
        async def late(req: PublishRequest) -> Message:
            print(f"LATE {req.message.payload.decode()}", file=sys.stderr, flush=True)
            await asyncio.sleep(late_ms / 1000)
            return req.message.with_user_property("late", "answered")

    if "boom" in features:
        @hooks.on_publish("boom/#")
        def boom(req: PublishRequest) -> None:
            raise RuntimeError("the handler failed")

    if "gen" in features:
        @hooks.on_publish("hooked/#")
        async def generation(req: PublishRequest) -> Message:
            return req.message.with_user_property("gen", tag)

    if "chain_a" in features:
        @hooks.on_publish("chain/#")
        async def chain_a(req: PublishRequest) -> Message | Result:
            if req.message.topic.endswith("denyA"):
                return drop("A says no", code=ReasonCode.PAYLOAD_FORMAT_INVALID)
            return req.message.with_user_property("a", tag)

    if "chain_b" in features:
        @hooks.on_publish("chain/#")
        def chain_b(req: PublishRequest) -> Message | Result:
            if req.message.topic.endswith("denyB"):
                return drop("B says no", code=ReasonCode.QUOTA_EXCEEDED)
            return req.message.with_user_property("b", req.message.user_property("a") or "none")

    if "events" in features:
        if not events_file:
            raise SystemExit("--events-file is required with the events feature")

        @hooks.on_event("client.connected", "client.disconnected", "session.subscribed")
        def record(ev: Event) -> None:
            line = {"type": ev.type, "client_id": ev.client.client_id,
                    "filter": ev.subscription.filter if ev.subscription else None,
                    "granted_qos": ev.granted_qos, "reason_code": ev.reason_code}
            with open(events_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")

    return hooks


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--features", required=True)
    ap.add_argument("--tag", default="t")
    ap.add_argument("--late-ms", type=int, default=8000)
    ap.add_argument("--events-file")
    ap.add_argument("--cache-ttl", type=float, default=0.3)
    ap.add_argument("--window", type=int, default=4096,
                    help="MessageHooks credits granted to the broker (Hooks(window=...))")
    args = ap.parse_args()
    features = {f for f in args.features.split(",") if f}
    unknown = features - set(FEATURES)
    if unknown:
        raise SystemExit(f"unknown features {sorted(unknown)}; known: {', '.join(FEATURES)}")
    hooks = build(features, args.tag, args.late_ms, args.events_file, args.window,
                  args.cache_ttl)
    server = await hooks.start(f"127.0.0.1:{args.port}")
    print(f"PORT {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # EOF: the test is gone
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
