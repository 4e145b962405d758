"""Fixtures: a real hook server (hooks.start on a free port) and a fake broker connected to it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from hookmq import Hooks, HookServer, ServerTLS

sys.path.insert(0, str(Path(__file__).parent))
from harness import FakeBroker  # noqa: E402

Start = Callable[..., Awaitable[tuple[HookServer, FakeBroker]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """``server, broker = await start(hooks)``: serve ``hooks`` on 127.0.0.1:0 and connect."""
    started: list[tuple[HookServer, FakeBroker]] = []

    async def _start(hooks: Hooks, address: str = "127.0.0.1:0", tls: ServerTLS | None = None,
                     broker_target: str | None = None, **broker_kw: object) -> tuple[HookServer, FakeBroker]:
        server = await hooks.start(address, tls=tls)
        broker = FakeBroker(broker_target or server.address, **broker_kw)  # type: ignore[arg-type]
        started.append((server, broker))
        return server, broker

    yield _start
    for server, broker in started:
        await broker.close()
        await server.stop(0.5)
