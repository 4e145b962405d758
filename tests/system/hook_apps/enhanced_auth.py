"""A hook server for MQTT 5 enhanced authentication (AUTH exchanges), built with the Python SDK:
a toy challenge-response method "demo-cr" (never use it for real: it only shows the rounds).

    enhanced_auth.py --port 0

CONNECT with method "demo-cr" and auth data b"hello:<secret id>"  -> challenge(b"nonce-42",
state=b"s1:<secret id>"); the client's AUTH 0x18 with data b"answer:nonce-42:<secret id>" ->
allow(auth_data=b"welcome <secret id>"); any other answer -> deny 0x87. A third round is asked
when the secret id is "twice" (challenge(b"again", state=b"s2")). Re-authentication (AUTH 0x19)
with data b"re:revoked" is denied; any other gets challenge(b"nonce-43") and is allowed with
b"rewelcome" for the answer b"answer:nonce-43". Clients without an
authentication method are allowed (plain CONNECT). Prints "PORT <n>"; serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from hookmq import AuthenticateRequest, Hooks, ReasonCode, Result, allow, challenge, deny


def build() -> Hooks:
    hooks = Hooks("enhanced-auth-test")

    @hooks.authenticate
    def authenticate(req: AuthenticateRequest) -> Result:
        if not req.auth_method:
            return allow()
        if req.auth_method != "demo-cr":
            return deny("unknown method", code=ReasonCode.BAD_AUTHENTICATION_METHOD)
        if req.phase == "connect":
            if not req.auth_data.startswith(b"hello:"):
                return deny("bad first message")
            who = req.auth_data[len(b"hello:"):]
            return challenge(b"nonce-42", state=b"s1:" + who)
        if req.phase == "continue" and req.auth_state.startswith(b"s1:"):
            who = req.auth_state[3:]
            if req.auth_data != b"answer:nonce-42:" + who:
                return deny("wrong answer")
            if who == b"twice":
                return challenge(b"again", state=b"s2")
            return allow(auth_data=b"welcome " + who)
        if req.phase == "continue" and req.auth_state == b"s2" and req.auth_data == b"ok":
            return allow(auth_data=b"welcome twice")
        if req.phase == "reauthenticate":
            if req.auth_data == b"re:revoked":
                return deny("revoked", code=ReasonCode.NOT_AUTHORIZED)
            return challenge(b"nonce-43", state=b"r1:" + req.auth_data)
        if req.phase == "continue" and req.auth_state.startswith(b"r1:"):
            if req.auth_data != b"answer:nonce-43":
                return deny("wrong answer")
            return allow(auth_data=b"rewelcome")
        return deny("unexpected round")

    return hooks


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = await build().start(f"127.0.0.1:{args.port}")
    print(f"PORT {server.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main())
