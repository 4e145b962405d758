"""The `hooks` section in full, against the real broker: two hook servers (SDK servers,
tests/system/hook_chain_server.py) in one chain, with per-server deadlines and on_failure, both
resolutions, the chain order and a default decision; and `--check-config` refusing a bad
`servers` block with file:line messages.

Run with the SDK's virtualenv (made by `make sdk`).
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import BROKER_KIND, TIMEOUT, V5, unique, wait_until

ROOT = Path(__file__).resolve().parents[2]
SDK_PY = ROOT / "sdk-python" / ".venv" / "bin" / "python"
SERVER = Path(__file__).with_name("hook_chain_server.py")

pytestmark = [
    pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's hook engine and configuration"),
]


class ChainServer:
    """One hook_chain_server.py process; `calls` are the client ids it was asked about."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[str] = []
        self.proc = subprocess.Popen([str(SDK_PY), str(SERVER), name], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # "PORT n", printed once it listens
        assert line.startswith("PORT "), f"hook server {name} did not start: {line!r}"
        self.port = int(line.split()[1])
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("CALL "):
                self.calls.append(line.split(" ", 1)[1].strip())

    def asked(self, cid: str) -> bool:
        return cid in self.calls

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # by PID: the process this test started
            self.proc.wait(5)


@pytest.fixture
def servers():
    first, second = ChainServer("first"), ChainServer("second")
    yield first, second
    first.kill()
    second.kill()


def _connect(b, cid: str) -> int:
    c = b.client(client_id=cid, protocol=V5)
    rc = c.connect(expect_rc=None).rc
    c.close()
    return rc


def _broker(start_broker, first: ChainServer, second: ChainServer, **hooks):
    cfg = {
        "servers": [
            {"name": "first", "endpoints": [f"127.0.0.1:{first.port}"], "mandatory": True,
             "on_failure": "deny", "authenticate_deadline_ms": 300,
             "authenticate_on_failure": "continue"},
            {"name": "second", "endpoints": f"127.0.0.1:{second.port}", "mandatory": True,
             "deadline_ms": 2000},
        ],
        "chain": ["first", "second"],
    }
    cfg.update(hooks)
    b = start_broker(hooks=cfg)
    # both servers are mandatory: CONNACK 0x88 until both have handshaken
    wait_until(lambda: _connect(b, unique("first-probe-")) == 0, timeout=TIMEOUT * 2)
    return b


def test_two_servers_deny_wins(start_broker, servers):
    first, second = servers
    b = _broker(start_broker, first, second)
    # first allows; deny_wins asks second too (it has no opinion): connected
    cid = unique("first-")
    assert _connect(b, cid) == 0
    wait_until(lambda: first.asked(cid) and second.asked(cid))
    # first has no opinion: second decides
    cid = unique("second-")
    assert _connect(b, cid) == 0
    wait_until(lambda: first.asked(cid) and second.asked(cid))
    # first denies, second allows: the DENY wins
    assert _connect(b, unique("deny-")) == 0x87
    # nobody has an opinion: default_authenticate, deny
    assert _connect(b, unique("other-")) == 0x87


def test_per_server_failure_policy(start_broker, servers):
    first, second = servers
    b = _broker(start_broker, first, second)
    # first's handler raises; its authenticate_on_failure (continue) overrides its on_failure
    # (deny): second is asked and allows
    cid = unique("fail-")
    assert _connect(b, cid) == 0
    assert first.asked(cid) and second.asked(cid)
    # first's 300 ms authenticate deadline passes (its handler takes 2 s): continue again
    t0 = time.monotonic()
    assert _connect(b, unique("slow-")) == 0
    assert time.monotonic() - t0 < 1.9, "first's 300 ms deadline decided, not its 2 s handler"


def test_first_decision_chain_order_and_default(start_broker, servers):
    first, second = servers
    b = _broker(start_broker, first, second, chain="second, first",
                resolution="first_decision", default_authenticate="allow")
    # second comes first and allows: the chain ends there, first never hears of the client
    denied_by_first = unique("deny-")
    assert _connect(b, denied_by_first) == 0
    assert second.asked(denied_by_first)
    # second has no opinion: first decides
    cid = unique("first-")
    assert _connect(b, cid) == 0
    wait_until(lambda: first.asked(cid))
    # first's calls are printed in order: had it been asked about the deny- client, that would
    # show before this one
    assert not first.asked(denied_by_first)
    # nobody has an opinion: default_authenticate is allow here
    assert _connect(b, unique("other-")) == 0


BAD_SERVERS = """\
listeners:
  - {name: a, port: 0}
hooks:
  servers:
    - name: registry
      endpoints: [127.0.0.1:50051]
      authorize_on_failure: sometimes
    - name: registry
      endpoints: 127.0.0.1:50052
    - name: payments
      tls_cert_file: /etc/hookmq/broker.pem
  chain: [registry, payments, acl_file]
"""


def _check_config(binary: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "--check-config", "--config", str(path)], capture_output=True,
                          text=True, timeout=TIMEOUT)


def test_check_config_rejects_a_bad_servers_block(tmp_path):
    binary = os.environ["HOOKMQ_BIN"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SERVERS)
    res = _check_config(binary, bad)
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    expected = [
        f"{bad}:7: hooks.servers[0].authorize_on_failure: expected one of deny, allow, "
        "continue, stale, got 'sometimes'",
        f"{bad}:8: hooks.servers[1].name: hook server name 'registry' is already used by "
        "hooks.servers[0]",
        f"{bad}:10: hooks.servers[2]: endpoints is required (host:port or unix:/path)",
        f"{bad}:11: hooks.servers[2].tls_cert_file: needs tls_key_file (the certificate's key)",
        f"{bad}:12: hooks.chain: 'acl_file' is a built-in provider, but hooks.acl_file is not set",
    ]
    for line in expected:
        assert line in lines, f"missing {line!r} in:\n{res.stderr}"
    assert len(lines) == len(expected), res.stderr

    both = tmp_path / "both.yaml"
    both.write_text("hooks:\n  endpoints: 127.0.0.1:1\n  servers:\n"
                    "    - {name: a, endpoints: 127.0.0.1:2}\n")
    res = _check_config(binary, both)
    assert res.returncode == 1
    assert f"{both}:2: hooks.endpoints: hooks.endpoints (one server, short form) and " \
           "hooks.servers cannot be combined" in res.stderr

    good = tmp_path / "good.yaml"
    good.write_text(BAD_SERVERS.replace("sometimes", "stale").replace(
        "    - name: registry\n      endpoints: 127.0.0.1:50052\n", "").replace(
        "/etc/hookmq/broker.pem", "/etc/hookmq/broker.pem\n      tls_key_file: /k.pem\n"
        "      endpoints: unix:/run/p.sock").replace(", acl_file]", "]"))
    res = _check_config(binary, good)
    assert res.returncode == 0, res.stderr
    assert "configuration ok" in res.stdout
