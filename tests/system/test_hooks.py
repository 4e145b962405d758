"""Authentication by an external hook server written with the Python SDK (sdk-python), called by
the broker over gRPC: allow / deny, grants enforced in the broker without further calls, deadline
expiry and failures mapped by `on_failure`, mandatory gating, a killed hook server, and clients
whose hook is slow not delaying the others.

The hook server is tests/unit/hooks_server.py (client ids decide its answer: good-*, bad-*,
slow-*, fail-*), run with the SDK's virtualenv (made by `make sdk`, which `make test` runs first).
"""
from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import BROKER_KIND, TIMEOUT, V311, V5, unique, wait_until

ROOT = Path(__file__).resolve().parents[2]
SDK_PY = ROOT / "sdk-python" / ".venv" / "bin" / "python"
SERVER = ROOT / "tests" / "unit" / "hooks_server.py"

pytestmark = [
    pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's hook engine"),
]


class HookServer:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([str(SDK_PY), str(SERVER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # "PORT n", printed once it listens
        assert line.startswith("PORT "), f"hook server did not start: {line!r}"
        self.port = int(line.split()[1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # by PID: the process this test started
            self.proc.wait(5)


@pytest.fixture
def hook_server():
    s = HookServer()
    yield s
    s.kill()


def _client(b, cid: str, protocol: int, password: str | None = "s3cret", user: str = "u1"):
    c = b.client(client_id=cid, protocol=protocol)
    c.c.username_pw_set(user, password)
    return c


def _broker(start_broker, hook_server, **hooks):
    cfg = {"endpoints": f"127.0.0.1:{hook_server.port}", "mandatory": True,
           "authenticate_deadline_ms": 300}
    cfg.update(hooks)
    b = start_broker(hooks=cfg)
    # mandatory: clients get "server unavailable" until the handshake is done - wait for it
    def ready() -> bool:
        c = _client(b, unique("good-probe-"), V5)
        rc = c.connect(expect_rc=None).rc
        c.close()
        return rc == 0
    wait_until(ready, timeout=TIMEOUT * 2)
    return b


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_allow_and_deny(start_broker, hook_server, protocol):
    b = _broker(start_broker, hook_server)
    assert _client(b, unique("good-"), protocol).connect(expect_rc=None).rc == 0
    wrong = _client(b, unique("good-"), protocol, password="nope").connect(expect_rc=None).rc
    banned = _client(b, unique("bad-"), protocol).connect(expect_rc=None).rc
    nobody = _client(b, unique("other-"), protocol).connect(expect_rc=None).rc
    # CONTINUE -> the default, deny. (paho reports MQTT 3.1.1 return codes 4 and 5 as the
    # equivalent reason codes 0x86 and 0x87.)
    assert (wrong, banned, nobody) == (0x86, 0x86, 0x87)


def test_grants_are_enforced_by_the_broker(start_broker, hook_server):
    b = _broker(start_broker, hook_server)
    # grants: publish dev/%c/up/# (max QoS 1, no retain), subscribe pay/%u/notify
    sub = _client(b, unique("good-s"), V5, user="shop7")
    sub.connect()
    codes = sub.subscribe([("pay/shop7/notify", 1), ("pay/shop8/notify", 1), ("#", 0)])
    assert codes[0] in (0, 1) and codes[1] == 0x87 and codes[2] == 0x87
    pid = unique("good-p")
    pub = _client(b, pid, V5)
    pub.connect()
    assert pub.publish("pay/shop7/notify", b"forged", qos=1) == 0x87
    assert pub.publish(f"dev/{pid}/up/temp", b"21.5", qos=1) in (0, 0x10)
    assert pub.publish(f"dev/{pid}/up/temp", b"kept", qos=1, retain=True) == 0x87  # no_retain
    assert pub.publish(f"dev/{unique('other')}/up/temp", b"not mine", qos=1) == 0x87
    # the refused publication never reached the subscriber
    with pytest.raises(AssertionError):
        sub.expect_message(timeout=0.3)


@pytest.mark.parametrize("kind", ["slow", "fail"])
def test_failures_follow_on_failure(start_broker, hook_server, kind):
    b = _broker(start_broker, hook_server, on_failure="deny")
    t0 = time.monotonic()
    rc = _client(b, unique(f"{kind}-"), V5).connect(expect_rc=None).rc
    assert rc == 0x88, "deadline expiry and handler errors answer 'server unavailable'"
    if kind == "slow":
        assert time.monotonic() - t0 < 1.9, "the 300 ms deadline, not the handler's 2 s, decided"


def test_on_failure_allow_lets_clients_in(start_broker, hook_server):
    b = _broker(start_broker, hook_server, on_failure="allow")
    assert _client(b, unique("fail-"), V5).connect(expect_rc=None).rc == 0


def test_slow_hook_does_not_delay_other_clients(start_broker, hook_server):
    b = _broker(start_broker, hook_server, authenticate_deadline_ms=3000)
    slow = _client(b, unique("slow-"), V5)
    done = threading.Event()
    threading.Thread(target=lambda: (slow.connect(expect_rc=None), done.set()), daemon=True).start()
    # while the slow client's hook call is in flight, others connect and exchange messages
    topic = f"pay/u1/notify"
    sub = _client(b, unique("good-"), V5)
    sub.connect()
    sub.subscribe(topic, qos=1)
    assert not done.is_set(), "the slow client is still waiting for its hook"
    assert _client(b, unique("good-"), V5).connect(expect_rc=None).rc == 0
    assert done.wait(TIMEOUT), "and it gets its answer afterwards"


def test_hook_server_killed(start_broker, hook_server):
    b = _broker(start_broker, hook_server)
    pid = unique("good-k")
    pub = _client(b, pid, V5)
    pub.connect()
    hook_server.kill()
    # connected clients keep working; new ones are refused by the policy, without hanging
    assert pub.publish(f"dev/{pid}/up/x", b"still here", qos=1) in (0, 0x10)
    t0 = time.monotonic()
    assert _client(b, unique("good-"), V5).connect(expect_rc=None).rc == 0x88
    assert time.monotonic() - t0 < TIMEOUT
    assert b.alive()
