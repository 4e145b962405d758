"""The built-in providers with the real broker: a password file made with `hookmq passwd` (and
edited by Debian's mosquitto_passwd: the formats are the same) authenticates CONNECTs, and an
ACL file (mosquitto acl_file style, %c / %u patterns) authorizes SUBSCRIBE and PUBLISH.

Semantics (docs/hooks.md, "Built-in providers"): an unknown user or no user name is CONTINUE,
so the default (deny, 0x87) decides; a wrong password is 0x86; a topic no ACL rule allows is
refused with 0x87 and a refused publication is never delivered.
"""
from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import BROKER_KIND, V311, V5, free_port, to_yaml, unique

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's built-in providers")

ACL = """\
# general rules: every client
topic read public/#
pattern readwrite dev/%c/#
pattern read inbox/%u/#

user alice
topic readwrite alice/#
topic deny alice/private/#

user bob
topic read alice/#
topic read secret/#
"""


def _hookmq_passwd(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([os.environ["HOOKMQ_BIN"], "passwd", *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


@pytest.fixture
def auth_files(tmp_path: Path) -> tuple[Path, Path]:
    pw = tmp_path / "passwd"
    r = _hookmq_passwd("-c", "-b", str(pw), "alice", "alice-pw")
    assert r.returncode == 0, r.stderr
    assert _hookmq_passwd("-b", str(pw), "bob", "bob-pw").returncode == 0
    # not a terminal: one line of stdin
    assert _hookmq_passwd(str(pw), "dev1", stdin="dev1-pw\n").returncode == 0
    assert _hookmq_passwd("-b", "-H", "scrypt", "-I", "1024", str(pw), "scott", "tiger"
                          ).returncode == 0
    assert _hookmq_passwd("-b", str(pw), "gone", "x").returncode == 0
    assert _hookmq_passwd("-D", str(pw), "gone").returncode == 0
    assert _hookmq_passwd("-D", str(pw), "gone").returncode == 1  # not there any more
    assert (pw.stat().st_mode & 0o777) == 0o600
    assert [ln.split(":")[0] for ln in pw.read_text().splitlines()] == [
        "alice", "bob", "dev1", "scott"]
    if shutil.which("mosquitto_passwd"):  # mosquitto's tool edits the same file
        subprocess.run(["mosquitto_passwd", "-b", str(pw), "mosq", "mosq-pw"], check=True,
                       capture_output=True, timeout=30)
    acl = tmp_path / "acl"
    acl.write_text(ACL)
    return pw, acl


@pytest.fixture
def auth_broker(start_broker, auth_files):
    pw, acl = auth_files
    return start_broker(hooks={"password_file": str(pw), "acl_file": str(acl)})


def _connect(b, user: str | None, password: str | None, protocol: int = V5,
             cid: str | None = None):
    c = b.client(client_id=cid or unique("c"), protocol=protocol)
    if user is not None:
        c.c.username_pw_set(user, password)
    return c, c.connect(expect_rc=None).rc


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_password_file(auth_broker, protocol):
    b = auth_broker
    assert _connect(b, "alice", "alice-pw", protocol)[1] == 0
    assert _connect(b, "dev1", "dev1-pw", protocol)[1] == 0
    assert _connect(b, "scott", "tiger", protocol)[1] == 0
    if shutil.which("mosquitto_passwd"):
        assert _connect(b, "mosq", "mosq-pw", protocol)[1] == 0
    # paho reports MQTT 3.1.1 return codes 4 and 5 as the reason codes 0x86 and 0x87
    assert _connect(b, "alice", "wrong", protocol)[1] == 0x86
    assert _connect(b, "alice", None, protocol)[1] == 0x86
    assert _connect(b, "gone", "x", protocol)[1] == 0x87  # deleted: unknown, the default denies
    assert _connect(b, "mallory", "alice-pw", protocol)[1] == 0x87
    assert _connect(b, None, None, protocol)[1] == 0x87
    assert b.alive()


def test_acl_subscribe(auth_broker):
    b = auth_broker
    bob, rc = _connect(auth_broker, "bob", "bob-pw")
    assert rc == 0
    codes = bob.subscribe([("alice/#", 1), ("alice/+/x", 1), ("public/news", 0), ("#", 0),
                           ("alice", 1), ("inbox/bob/1", 0), ("inbox/alice/1", 0)])
    assert codes[:3] == [1, 1, 0]
    assert codes[3] == 0x87  # no rule covers "#"
    assert codes[4] == 1     # "alice/#" also matches "alice"
    assert codes[5] == 0     # pattern inbox/%u/#
    assert codes[6] == 0x87
    alice, rc = _connect(b, "alice", "alice-pw")
    assert rc == 0
    # alice may read alice/# except what overlaps alice/private/#
    assert alice.subscribe([("alice/inbox", 1), ("alice/private/x", 1), ("alice/#", 1)]) == [
        1, 0x87, 0x87]


def test_acl_publish(auth_broker):
    b = auth_broker
    bob, _ = _connect(b, "bob", "bob-pw")
    assert bob.subscribe([("alice/#", 1), ("secret/#", 1)]) == [1, 1]
    alice, _ = _connect(b, "alice", "alice-pw")
    assert alice.publish("alice/status", b"up", qos=1) == 0
    m = bob.expect_message()
    assert (m.topic, m.payload) == ("alice/status", b"up")
    # refused: no write rule for secret/#, a deny for alice/private/#; never delivered
    assert alice.publish("secret/plans", b"leak", qos=1) == 0x87
    assert alice.publish("alice/private/diary", b"leak", qos=1) == 0x87
    assert bob.publish("alice/status", b"forged", qos=1) == 0x87  # bob only reads
    assert alice.publish("alice/status", b"marker", qos=1) == 0
    got = bob.collect_until(b"marker")
    assert got == [], f"refused publications were delivered: {got}"


def test_acl_patterns_use_the_client_id(auth_broker):
    b = auth_broker
    dev, rc = _connect(b, "dev1", "dev1-pw", cid="dev1")
    assert rc == 0
    assert dev.subscribe("dev/dev1/cmd", qos=1) == [1]
    assert dev.publish("dev/dev1/up", b"21.5", qos=1) in (0, 0x10)
    assert dev.publish("dev/dev2/up", b"21.5", qos=1) == 0x87
    assert dev.subscribe("dev/dev2/cmd", qos=1) == [0x87]


@pytest.mark.parametrize("which", ["password_file", "acl_file"])
def test_bad_file_stops_the_broker(tmp_path: Path, which: str):
    """A bad line is a start-up error naming file:line; the broker does not serve without it."""
    pw = tmp_path / "passwd"
    pw.write_text("# users\nalice:plaintext-by-mistake\n")
    acl = tmp_path / "acl"
    acl.write_text("topic read a/#\n\ntopic readx b\n")
    cfg = {"listeners": [{"name": "default", "type": "tcp", "bind": "127.0.0.1",
                          "port": free_port()}],
           "hooks": {which: str(pw if which == "password_file" else acl)}}
    path = tmp_path / "hookmq.yaml"
    path.write_text(to_yaml(cfg) + "\n")
    r = subprocess.run([os.environ["HOOKMQ_BIN"], "--config", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    where = f"file={pw}:2" if which == "password_file" else f"file={acl}:3"
    assert where in r.stderr, r.stderr
    assert "plaintext-by-mistake" not in r.stderr  # the line itself is never logged


def _passwd_on_a_terminal(path: Path, user: str, *answers: str) -> tuple[int, bytes]:
    """Runs `hookmq passwd` with a pseudo-terminal as stdin; returns (exit code, what the
    terminal showed). The slave end stays open here so the echo survives the child's exit."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([os.environ["HOOKMQ_BIN"], "passwd", "-c", str(path), user],
                             stdin=slave, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        prompts = b""
        for i, a in enumerate(answers):
            # type after the prompt, as a person would (echo is off by then)
            deadline = time.monotonic() + 10
            while prompts.count(b"assword: ") <= i and time.monotonic() < deadline:
                if select.select([p.stderr], [], [], 0.1)[0]:
                    prompts += os.read(p.stderr.fileno(), 1024)
            os.write(master, a.encode() + b"\n")
        rc = p.wait(10)
        p.stderr.close()
        shown = b""
        while select.select([master], [], [], 0.2)[0]:
            shown += os.read(master, 1024)
        return rc, shown
    finally:
        os.close(slave)
        os.close(master)


def test_passwd_asks_twice_without_echo(tmp_path: Path):
    pw = tmp_path / "passwd"
    rc, shown = _passwd_on_a_terminal(pw, "alice", "Typed-Secret", "Typed-Secret")
    assert rc == 0
    assert b"Typed-Secret" not in shown  # the terminal did not echo it
    assert pw.read_text().startswith("alice:$7$")
    rc, _ = _passwd_on_a_terminal(tmp_path / "other", "bob", "one", "two")
    assert rc == 1 and not (tmp_path / "other").exists()  # mismatch: nothing written


def test_passwd_keeps_other_lines(tmp_path: Path):
    """Comments and other users survive an edit (mosquitto_passwd, unlike the broker, rejects
    comment lines: files both tools edit stay comment-free)."""
    pw = tmp_path / "passwd"
    assert _hookmq_passwd("-c", "-b", str(pw), "alice", "a").returncode == 0
    pw.write_text("# terminals of shop 7\n" + pw.read_text() + "\n")
    before = pw.read_text().splitlines()
    assert _hookmq_passwd("-b", str(pw), "bob", "b").returncode == 0
    assert _hookmq_passwd("-b", str(pw), "alice", "a2").returncode == 0  # changed in place
    after = pw.read_text().splitlines()
    assert after[0] == before[0] and after[2] == "" and after[3].startswith("bob:$7$")
    assert after[1].startswith("alice:$7$") and after[1] != before[1]


def test_sighup_reloads_the_acl_and_password_files(auth_broker, auth_files):
    """SIGHUP re-reads both files without dropping clients; answers cached from the old ACL
    (60 s TTL) are not reused; a broken file keeps the previous table."""
    import signal

    from helpers import wait_until

    b = auth_broker
    pw, acl = auth_files
    alice, rc = _connect(b, "alice", "alice-pw")
    assert rc == 0
    assert alice.publish("secret/plans", b"x", qos=1) == 0x87  # now cached as a denial
    acl.write_text("topic write secret/#\n" + ACL)  # a general rule: before any user line
    assert _hookmq_passwd("-b", str(pw), "carol", "carol-pw").returncode == 0
    b.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "acl_file_reloaded" in b.stderr_text()
               and "passwd_file_reloaded" in b.stderr_text())
    assert alice.publish("secret/plans", b"x", qos=1) in (0, 0x10)  # the new rule decides
    assert _connect(b, "carol", "carol-pw")[1] == 0
    acl.write_text("topic readx broken\n")
    b.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "acl_file_kept" in b.stderr_text()
               or b.stderr_text().count("acl_file_reloaded") > 1)
    assert b.stderr_text().count("acl_file_reloaded") == 1  # the broken file was refused
    assert alice.publish("alice/status", b"still", qos=1) in (0, 0x10)  # old table in force
    assert b.alive()
