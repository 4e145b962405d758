"""A hook server for tests/unit/test_hooks_grpc*.c and tests/system/test_hooks.py, built with the
Python SDK.

Starts on a free port (or --port, or --unix PATH), prints "PORT <n>" on stdout once it listens,
serves until stdin closes (so it never outlives the test) or SIGTERM. Options: --tls CERT KEY
(serve TLS), --client-ca CA (require a client certificate: mTLS), --window N (MessageHooks
credits), --max-batch N (the handshake's max_batch_size), --no-health (no grpc.health.v1 service:
Check answers UNIMPLEMENTED), --fail-handshakes N (the first N Handshake calls fail with
FAILED_PRECONDITION).

authenticate (username "?*"), by client id:
  good-*   allow with grants, attributes and an expiry
  bad-*    deny 0x86 (cached 60 s)
  slow-*   sleeps 2 s before allowing (past any test deadline)
  fail-*   raises: the SDK answers FAILURE
  stats-*  deny with the server's counters as JSON in the reason (see STATS)
  drain-*  the health service reports NOT_SERVING from now on (and deny)
  other    no opinion (CONTINUE)
authorize subscribe (filters overlapping sub/#): sub/deny/* deny 0x87 "no sub", sub/allow/* allow,
  sub/hang/* sleeps 2 s; other CONTINUE.
authorize publish (topics pub/#, with payload): pub/deny/* deny 0x97 "no pub", pub/allow/* allow,
  pub/hang/* sleeps 2 s; other CONTINUE.
on_publish (mod/#, drop/#, hold/#, count/#, win/#):
  mod/<x>   topic -> modded/<x>, payload upper-cased, user property ("hooked", "yes") appended
  drop/*    drop, 0x99 "bad payload"
  hold/*    sleeps 1 s, then CONTINUE (past the test's deadline: the late answer is ignored)
  count/*   CONTINUE at once
  win/*     sleeps 10 ms; the most handlers running at once is counted (credits check)
on_subscribe (rw/#, q/#, sd/#, rwbad/#): rw/<x> rewrite to rewritten/<x>; q/* allow with
  max_qos 0; sd/* deny 0x87 "sd"; rwbad/* an invalid rewrite "a/#/b" (past the SDK's checks);
  other CONTINUE.
on_event (all): counted; an event of a client "retry-*" asks for one redelivery (RetryLater).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter

import grpc

from hookmq import (
    AuthenticateRequest,
    AuthorizeRequest,
    Decision,
    Event,
    Hooks,
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
from hookmq import _server

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, default=0)
p.add_argument("--unix")
p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
p.add_argument("--client-ca")
p.add_argument("--window", type=int, default=4096)
p.add_argument("--max-batch", type=int, default=0)
p.add_argument("--no-health", action="store_true")
p.add_argument("--fail-handshakes", type=int, default=0)
args = p.parse_args()
if args.no_health:
    _server.health_pb2_grpc.add_HealthServicer_to_server = lambda *a: None  # type: ignore[attr-defined]
SERVER: _server.HookServer | None = None

hooks = Hooks("unit-test-hooks", version="1.0", window=args.window, max_batch_size=args.max_batch)

STATS: dict[str, object] = {
    "batches": 0,  # MessageBatch messages received
    "items": 0,  # requests in them
    "max_batch": 0,  # largest MessageBatch
    "running": 0,
    "max_running": 0,  # most win/* handlers running at once
    "events": 0,
    "event_types": Counter(),
    "retried": 0,
    "handshakes_failed": 0,
    "port": 0,
}
_retried: set[str] = set()

_submit = _server._MessageStream._submit


def _counting_submit(self: _server._MessageStream, batch: object) -> None:
    n = len(batch.publish) + len(batch.authorize)  # type: ignore[attr-defined]
    STATS["batches"] += 1  # type: ignore[operator]
    STATS["items"] += n  # type: ignore[operator]
    STATS["max_batch"] = max(STATS["max_batch"], n)  # type: ignore[call-overload]
    _submit(self, batch)


_server._MessageStream._submit = _counting_submit  # type: ignore[method-assign]

_handshake = _server._Servicer.Handshake


async def _failing_handshake(self: _server._Servicer, request: object, context: object) -> object:
    if STATS["handshakes_failed"] < args.fail_handshakes:  # type: ignore[operator]
        STATS["handshakes_failed"] += 1  # type: ignore[operator]
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not yet")  # type: ignore[attr-defined]
    return await _handshake(self, request, context)  # type: ignore[arg-type]


_server._Servicer.Handshake = _failing_handshake  # type: ignore[method-assign,assignment]


@hooks.authenticate(username="?*")
async def login(req: AuthenticateRequest) -> Result | None:
    cid = req.client.client_id
    if cid.startswith("good-"):
        if req.password != b"s3cret":
            return deny("bad password", code=ReasonCode.BAD_USERNAME_OR_PASSWORD)
        return allow(
            grants=[grant("dev/%c/up/#", "publish", max_qos=1, retain=False),
                    grant("pay/%u/notify", "subscribe")],
            attributes={"merchant": "M001"},
            expires_at=4102444800,
        )
    if cid.startswith("bad-"):
        return deny("banned", code=ReasonCode.BAD_USERNAME_OR_PASSWORD, cache_ttl=60)
    if cid.startswith("slow-"):
        await asyncio.sleep(2)
        return allow()
    if cid.startswith("fail-"):
        raise RuntimeError("registry down")
    if cid.startswith("stats-"):
        out = dict(STATS)
        out["event_types"] = dict(STATS["event_types"])  # type: ignore[call-overload]
        return deny(json.dumps(out, sort_keys=True))
    if cid.startswith("drain-"):
        assert SERVER is not None
        await SERVER._health.set(_server.SERVICE, _server.health_pb2.HealthCheckResponse.NOT_SERVING)
        return deny("draining")
    return None


@hooks.authorize("subscribe", topic="sub/#")
async def authorize_subscribe(req: AuthorizeRequest) -> Result | None:
    if req.topic.startswith("sub/deny/"):
        return deny("no sub")
    if req.topic.startswith("sub/allow/"):
        return allow()
    if req.topic.startswith("sub/hang/"):
        await asyncio.sleep(2)
        return allow()
    return None


@hooks.authorize("publish", topic="pub/#", payload=True)
async def authorize_publish(req: AuthorizeRequest) -> Result | None:
    if req.topic.startswith("pub/deny/"):
        return deny("no pub", code=ReasonCode.QUOTA_EXCEEDED)
    if req.topic.startswith("pub/allow/"):
        assert req.message is not None and req.message.payload == b"hello"
        return allow()
    if req.topic.startswith("pub/hang/"):
        await asyncio.sleep(2)
        return allow()
    return None


@hooks.on_publish("mod/#", "drop/#", "hold/#", "count/#", "win/#")
async def on_publish(req: PublishRequest) -> object:
    m = req.message
    if m.topic.startswith("mod/"):
        return m.replace(topic="modded/" + m.topic[4:], payload=m.payload.upper(),
                         user_properties=[*m.user_properties, ("hooked", "yes")])
    if m.topic.startswith("drop/"):
        return drop("bad payload", code=ReasonCode.PAYLOAD_FORMAT_INVALID)
    if m.topic.startswith("hold/"):
        await asyncio.sleep(1)
        return None
    if m.topic.startswith("win/"):
        STATS["running"] += 1  # type: ignore[operator]
        STATS["max_running"] = max(STATS["max_running"], STATS["running"])  # type: ignore[call-overload]
        try:
            await asyncio.sleep(0.01)
        finally:
            STATS["running"] -= 1  # type: ignore[operator]
    return None


@hooks.on_subscribe("rw/#", "q/#", "sd/#", "rwbad/#")
def on_subscribe(req: SubscribeRequest) -> Result | None:
    f = req.subscription.filter
    if f.startswith("rw/"):
        return rewrite("rewritten/" + f[3:])
    if f.startswith("q/"):
        return allow(max_qos=0)
    if f.startswith("sd/"):
        return deny("sd")
    if f.startswith("rwbad/"):
        return Result(Decision.ALLOW, filter="a/#/b")  # not rewrite(): it would refuse it
    return None


@hooks.on_event()
def on_event(ev: Event) -> None:
    cid = ev.client.client_id
    if cid.startswith("retry-") and cid not in _retried:
        _retried.add(cid)
        STATS["retried"] += 1  # type: ignore[operator]
        raise RetryLater("first delivery refused")
    STATS["events"] += 1  # type: ignore[operator]
    STATS["event_types"][ev.type] += 1  # type: ignore[index]


async def main() -> None:
    tls = None
    if args.tls:
        tls = ServerTLS(certificate_chain=args.tls[0], private_key=args.tls[1],
                        client_ca=args.client_ca)
    address = f"unix:{args.unix}" if args.unix else f"127.0.0.1:{args.port}"
    global SERVER
    server = SERVER = await hooks.start(address, tls=tls)
    STATS["port"] = server.port
    print(f"PORT {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # EOF: the test is gone
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
