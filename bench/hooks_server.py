"""A hook server for bench/hooks.sh, built with the Python SDK (sdk-python), run with
sdk-python/.venv/bin/python.

Listens on 127.0.0.1 (--port, default a free one), prints "PORT <n>" on stdout once it serves,
and serves until stdin closes (so it never outlives the script) or SIGTERM. On exit, and on
SIGUSR1, it writes its counters as one JSON line to --stats FILE (appending).

  --auth none        no authenticate hook: the broker's own rules decide (anonymous allowed)
  --auth grants      authenticate allows every client with three grants; publish and subscribe
                     checks are then made by the broker, locally, without further calls:
                       deny nothing of dev/%c/up/# (publish), pay/%u/notify (subscribe),
                       bench/# (all) - the third one matches the bench's topics
  --auth allow       authenticate allows every client without grants: every publish and
                     subscribe is then asked of the authorize hook (needs --authorize)
  --authorize TTL_S  an authorize hook on bench/# (publish and subscribe) that allows, with a
                     cache TTL of TTL_S seconds (0: no caching, every publish is a call)
  --on-publish F     a trivial on_publish hook on filter F (repeatable): `async def h(req):
                     return None` (CONTINUE: the message unchanged); --on-publish-kind sync makes
                     it a plain function (thread pool), allow returns allow()
  --slow F --slow-ms N   an on_publish hook on F that sleeps N ms (asyncio) and then CONTINUEs

Counters: authenticate calls and the handler time of each one as seen inside the server (from
the servicer's entry to its return; gRPC's own transport work in this process is not in it),
on_publish / authorize calls, MessageBatch messages received and the requests in them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time

from hookmq import AuthenticateRequest, AuthorizeRequest, Hooks, PublishRequest, allow, grant
from hookmq import _server

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, default=0)
p.add_argument("--auth", choices=["none", "grants", "allow"], default="none")
p.add_argument("--authorize", type=float, metavar="TTL_S")
p.add_argument("--on-publish", action="append", default=[], metavar="FILTER")
p.add_argument("--on-publish-kind", choices=["async", "sync", "allow"], default="async")
p.add_argument("--slow", action="append", default=[], metavar="FILTER")
p.add_argument("--slow-ms", type=float, default=100)
p.add_argument("--window", type=int, default=4096)
p.add_argument("--max-batch", type=int, default=0)
p.add_argument("--stats")
args = p.parse_args()

hooks = Hooks("bench-hooks", version="1.0", window=args.window, max_batch_size=args.max_batch)

STATS: dict[str, float] = {"authenticate": 0, "on_publish": 0, "slow": 0, "authorize": 0,
                           "batches": 0, "batch_items": 0}
AUTH_NS: list[int] = []  # handler time of every Authenticate call

_authenticate = _server._Servicer.Authenticate


async def _timed_authenticate(self: _server._Servicer, request: object, context: object) -> object:
    t0 = time.perf_counter_ns()
    res = await _authenticate(self, request, context)  # type: ignore[arg-type]
    AUTH_NS.append(time.perf_counter_ns() - t0)
    return res


_server._Servicer.Authenticate = _timed_authenticate  # type: ignore[method-assign,assignment]

_submit = _server._MessageStream._submit


def _counting_submit(self: _server._MessageStream, batch: object) -> None:
    STATS["batches"] += 1
    STATS["batch_items"] += len(batch.publish) + len(batch.authorize)  # type: ignore[attr-defined]
    _submit(self, batch)  # type: ignore[arg-type]


_server._MessageStream._submit = _counting_submit  # type: ignore[method-assign]

GRANTS = [grant("dev/%c/up/#", "publish", max_qos=1, retain=False),
          grant("pay/%u/notify", "subscribe"),
          grant("bench/#", "all")]

if args.auth == "grants":
    @hooks.authenticate
    async def login_grants(req: AuthenticateRequest) -> object:
        STATS["authenticate"] += 1
        return allow(grants=GRANTS)
elif args.auth == "allow":
    @hooks.authenticate
    async def login_allow(req: AuthenticateRequest) -> object:
        STATS["authenticate"] += 1
        return allow()

if args.authorize is not None:
    ttl = args.authorize

    @hooks.authorize(topic="bench/#", cache_ttl=ttl if ttl > 0 else None)
    async def authorize(req: AuthorizeRequest) -> object:
        STATS["authorize"] += 1
        return allow(cache_ttl=ttl) if ttl > 0 else allow()

if args.on_publish:
    if args.on_publish_kind == "sync":
        @hooks.on_publish(*args.on_publish, payload=True)
        def on_publish_sync(req: PublishRequest) -> object:
            STATS["on_publish"] += 1
            return None
    elif args.on_publish_kind == "allow":
        @hooks.on_publish(*args.on_publish, payload=True)
        async def on_publish_allow(req: PublishRequest) -> object:
            STATS["on_publish"] += 1
            return allow()
    else:
        @hooks.on_publish(*args.on_publish, payload=True)
        async def on_publish(req: PublishRequest) -> object:
            STATS["on_publish"] += 1
            return None

if args.slow:
    delay = args.slow_ms / 1000

    @hooks.on_publish(*args.slow, payload=False)
    async def slow(req: PublishRequest) -> object:
        STATS["slow"] += 1
        await asyncio.sleep(delay)
        return None


def _pct(xs: list[int], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0


def dump() -> None:
    if not args.stats:
        return
    out = dict(STATS)
    out["auth_n"] = len(AUTH_NS)
    out["auth_p50_us"] = _pct(AUTH_NS, 0.50)
    out["auth_p99_us"] = _pct(AUTH_NS, 0.99)
    out["auth_mean_us"] = sum(AUTH_NS) / len(AUTH_NS) / 1000.0 if AUTH_NS else 0.0
    with open(args.stats, "a") as f:
        f.write(json.dumps(out) + "\n")


def reset() -> None:
    """SIGUSR2: forget the counters (between a warm-up and the measured run)."""
    AUTH_NS.clear()
    for k in STATS:
        STATS[k] = 0


async def main() -> None:
    server = await hooks.start(f"127.0.0.1:{args.port}")
    print(f"PORT {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, dump)
    loop.add_signal_handler(signal.SIGUSR2, reset)
    loop.add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(None))
    stdin = loop.run_in_executor(None, sys.stdin.read)  # EOF: the script is gone
    await asyncio.wait([done, stdin], return_when=asyncio.FIRST_COMPLETED)
    dump()
    await server.stop(0)
    os._exit(0)  # the stdin reader thread would keep the process alive


if __name__ == "__main__":
    asyncio.run(main())
