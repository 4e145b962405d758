"""A hook server for tests/unit/test_hooks_grpc.c, built with the Python SDK.

Starts on a free port, prints "PORT <n>" on stdout, serves until stdin closes (so it never
outlives the test) or SIGTERM. Client ids decide the answer:
  good-*  allow with grants, attributes and an expiry
  bad-*   deny 0x86 (cached 60 s)
  slow-*  sleeps 2 s before allowing (past any test deadline)
  fail-*  raises: the SDK answers FAILURE
  other   no opinion (CONTINUE)
"""

from __future__ import annotations

import asyncio
import sys
import time

from hookmq import AuthenticateRequest, Hooks, ReasonCode, Result, allow, deny, grant

hooks = Hooks("unit-test-hooks", version="1.0")


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
    return None


async def main() -> None:
    server = await hooks.start("127.0.0.1:0")
    print(f"PORT {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # EOF: the test is gone
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
