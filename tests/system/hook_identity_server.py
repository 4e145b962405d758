"""A hook server for tests/system/test_tls.py, built with the Python SDK: it lets a client in
only when its verified certificate's CN equals its client id, and prints, one JSON line per
call, the TLS identity the broker sent - so the test can check every field arrived.

Prints "PORT <n>" once it listens; serves until stdin closes (so it never outlives the test).
"""

from __future__ import annotations

import asyncio
import json
import sys

from hookmq import AuthenticateRequest, Hooks, ReasonCode, Result, allow, deny

hooks = Hooks("identity-test-hooks", version="1.0")


@hooks.authenticate()
async def login(req: AuthenticateRequest) -> Result:
    tls = req.client.tls
    cert = tls.peer_certificate if tls else None
    seen = {
        "client_id": req.client.client_id,
        "listener": req.client.listener,
        "peer_address": req.client.peer_address,
        "tls_version": tls.version if tls else None,
        "cipher": tls.cipher if tls else None,
        "cn": cert.common_name if cert else None,
        "subject": cert.subject if cert else None,
        "issuer": cert.issuer if cert else None,
        "serial": cert.serial if cert else None,
        "sha256": cert.fingerprint_sha256 if cert else None,
    }
    print(json.dumps(seen), flush=True)
    if cert is None:
        return deny("a device certificate is required", code=ReasonCode.NOT_AUTHORIZED)
    if cert.common_name != req.client.client_id:
        return deny("client id does not match the certificate", code=ReasonCode.NOT_AUTHORIZED)
    return allow()


async def main() -> None:
    server = await hooks.start("127.0.0.1:0")
    print(f"PORT {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
