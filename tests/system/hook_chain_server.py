"""A hook server for tests/system/test_hooks_config.py (several servers in one chain), built with
the Python SDK. `hook_chain_server.py NAME` serves as server NAME; it answers Authenticate by the
client id's prefix and prints one line per call, "CALL <client id>", so the test can tell which
servers of the chain were asked:

  prefix      first                    second
  first-      allow                    no opinion
  second-     no opinion               allow
  deny-       deny 0x87                allow
  fail-       raises (FAILURE)         allow
  slow-       sleeps 2 s, then allow   allow
  other       no opinion               no opinion

Prints "PORT <n>" once it listens; serves until stdin closes (so it never outlives the test).
"""

from __future__ import annotations

import asyncio
import sys

from hookmq import AuthenticateRequest, Hooks, ReasonCode, Result, allow, deny

NAME = sys.argv[1] if len(sys.argv) > 1 else "first"
hooks = Hooks(f"chain-test-{NAME}", version="1.0")


@hooks.authenticate()
async def login(req: AuthenticateRequest) -> Result | None:
    cid = req.client.client_id
    print(f"CALL {cid}", flush=True)
    prefix = cid.split("-", 1)[0] + "-"
    if NAME == "second":
        return allow() if prefix in ("second-", "deny-", "fail-", "slow-") else None
    if prefix == "first-":
        return allow()
    if prefix == "deny-":
        return deny("banned by first", code=ReasonCode.NOT_AUTHORIZED)
    if prefix == "fail-":
        raise RuntimeError("registry down")
    if prefix == "slow-":
        await asyncio.sleep(2)
        return allow()
    return None


async def main() -> None:
    server = await hooks.start("127.0.0.1:0")
    print(f"PORT {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # EOF: the test is gone
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
