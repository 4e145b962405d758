"""MQTT over TLS: a `type: tls` listener with real certificates made by openssl at test time.

Covers: MQTT 3.1.1 and 5.0 over TLS with a client certificate (messages cross to and from a plain
TCP listener, with sessions on other workers), refusal of clients without a certificate, with a
revoked, expired or foreign certificate, certificate reload on SIGHUP without dropping
established connections, garbage sent to the TLS port, certificates selected by SNI (and their
reload), and session resumption with tickets, with the session cache, and with neither.
"""
from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from helpers import (BROKER_KIND, TIMEOUT, V311, V5, BrokerProcess, BrokerStartError, MqttClient,
                     free_port, unique, wait_until)

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's TLS listener keys")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ec_key(name: str, d: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=d)


def _ca(name: str, d: Path) -> None:
    _ec_key(name, d)
    _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-days", "30", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{name}.crt", cwd=d)


def _leaf(name: str, ca: str, d: Path, *, server: bool = False, days: str = "30",
          start: str | None = None, san: str = "DNS:localhost,IP:127.0.0.1") -> None:
    """A certificate signed by `ca` (with `openssl ca`, so that it can be revoked)."""
    _ec_key(name, d)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr",
             cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                   if server else "extendedKeyUsage=clientAuth\n")
    args = ["ca", "-batch", "-config", f"{ca}.cnf", "-in", f"{name}.csr", "-out", f"{name}.crt",
            "-extfile", str(ext), "-notext"]
    if start:  # an already expired certificate
        args += ["-startdate", start, "-enddate", days]
    else:
        args += ["-days", days]
    _openssl(*args, cwd=d)


def _ca_config(ca: str, d: Path) -> None:
    (d / f"{ca}-db").mkdir(exist_ok=True)
    (d / f"{ca}-db" / "index.txt").write_text("")
    (d / f"{ca}-db" / "serial").write_text("1000\n")
    (d / f"{ca}-db" / "crlnumber").write_text("1000\n")
    (d / f"{ca}.cnf").write_text(f"""[ ca ]
default_ca = dflt
[ dflt ]
dir = {d}/{ca}-db
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir
certificate = {d}/{ca}.crt
private_key = {d}/{ca}.key
default_md = sha256
default_crl_days = 30
policy = any
copy_extensions = none
unique_subject = no
[ any ]
commonName = supplied
""")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """CA, server certificate, a good, a revoked and an expired client, and a foreign CA's client."""
    d = tmp_path_factory.mktemp("pki")
    _ca("device-ca", d)
    _ca_config("device-ca", d)
    _leaf("server", "device-ca", d, server=True)
    _leaf("speaker-0001", "device-ca", d)
    _leaf("revoked-0002", "device-ca", d)
    _leaf("expired-0003", "device-ca", d, start="20200101000000Z", days="20200201000000Z")
    _openssl("ca", "-config", "device-ca.cnf", "-revoke", "revoked-0002.crt", cwd=d)
    _openssl("ca", "-config", "device-ca.cnf", "-gencrl", "-out", "device-ca.crl", cwd=d)
    _ca("other-ca", d)
    _ca_config("other-ca", d)
    _leaf("stranger-0004", "other-ca", d)
    # certificates chosen by SNI
    _leaf("sni-b", "device-ca", d, server=True, san="DNS:b.example")
    _leaf("sni-wild", "device-ca", d, server=True, san="DNS:*.w.example")
    return d


class TlsBroker(BrokerProcess):
    """A broker with its default TCP listener plus a `devices` TLS listener on a free port."""

    def __init__(self, workdir: Path, workers: int, pki: Path, client_cert: str = "required",
                 listener: dict | None = None):
        super().__init__(workdir, workers)
        self.pki = pki
        self.client_cert = client_cert
        self.listener = listener or {}  # more keys of the `devices` listener
        self.tls_port = 0

    def _config(self) -> dict:
        cfg = super()._config()
        cfg["listeners"].append({
            "name": "devices", "type": "tls", "bind": self.host, "port": 0,
            "tls_cert_file": str(self.pki / "server.crt"),
            "tls_key_file": str(self.pki / "server.key"),
            "tls_ca_file": str(self.pki / "device-ca.crt"),
            "tls_crl_file": str(self.pki / "device-ca.crl"),
            "tls_client_cert": self.client_cert,
            **self.listener,
        })
        return cfg

    def start(self) -> None:
        super().start()

        def tls_port() -> int:
            for line in self.stderr_text().splitlines():
                if "msg=listening" in line and "name=devices" in line:
                    return int(line.split("port=")[1].split()[0])
            return 0

        self.tls_port = wait_until(tls_port, timeout=TIMEOUT)

    def tls_client(self, cert: str | None, protocol: int = V5, **kw) -> MqttClient:
        c = MqttClient(self.host, self.tls_port, client_id=kw.pop("client_id", None),
                       protocol=protocol, **kw)
        c.c.tls_set(ca_certs=str(self.pki / "device-ca.crt"),
                    certfile=str(self.pki / f"{cert}.crt") if cert else None,
                    keyfile=str(self.pki / f"{cert}.key") if cert else None)
        self._clients.append(c)
        return c


@pytest.fixture
def tls_broker(workers, tmp_path, pki):
    b = TlsBroker(tmp_path, workers, pki)
    b.start()
    yield b
    b.close_clients()
    problems = b.stop()
    assert not problems, problems


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_messages_flow_over_tls_with_a_client_certificate(tls_broker, protocol):
    topic = unique("pay/") + "/notify"
    # several TLS subscribers: with 4 workers some sessions live on another worker than the one
    # that accepted the connection, so the TLS engine is handed over after CONNECT
    subs = []
    for i in range(4):
        s = tls_broker.tls_client("speaker-0001", protocol, client_id=unique(f"spk{i}-"))
        s.connect()
        s.subscribe(topic, qos=1)
        subs.append(s)
    plain_sub = tls_broker.client(protocol=protocol)
    plain_sub.connect()
    plain_sub.subscribe(topic, qos=1)

    pub = tls_broker.tls_client("speaker-0001", protocol)
    pub.connect()
    assert pub.publish(topic, b"12.50 CNY", qos=1, wait=True) in (0, 0x10)
    for s in subs + [plain_sub]:
        m = s.expect_message()
        assert (m.topic, m.payload, m.qos) == (topic, b"12.50 CNY", 1)

    # and from plain TCP into TLS sessions
    plain_pub = tls_broker.client(protocol=protocol)
    plain_pub.connect()
    plain_pub.publish(topic, b"from tcp", qos=1, wait=True)
    for s in subs:
        assert s.expect_message().payload == b"from tcp"


def _handshake(b: TlsBroker, cert: str | None) -> None:
    """A raw TLS handshake plus one MQTT CONNECT round trip; raises on any failure."""
    ctx = ssl.create_default_context(cafile=str(b.pki / "device-ca.crt"))
    if cert:
        ctx.load_cert_chain(str(b.pki / f"{cert}.crt"), str(b.pki / f"{cert}.key"))
    with socket.create_connection((b.host, b.tls_port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 0]))
            ack = s.recv(4)
            if ack != bytes([0x20, 2, 0, 0]):
                raise ConnectionError(f"no CONNACK over TLS: {ack!r}")


def test_client_certificate_checks(tls_broker):
    _handshake(tls_broker, "speaker-0001")  # the good one works
    for cert in (None, "revoked-0002", "expired-0003", "stranger-0004"):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _handshake(tls_broker, cert)
    # and the broker still serves
    _handshake(tls_broker, "speaker-0001")
    assert tls_broker.alive()


def test_garbage_on_the_tls_port_is_refused_and_harmless(tls_broker):
    rnd = os.urandom(4096)
    for chunk in (rnd[:7], rnd, b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.1\r\n\r\n"):
        with socket.create_connection((tls_broker.host, tls_broker.tls_port), timeout=TIMEOUT) as s:
            s.sendall(chunk)
            s.settimeout(TIMEOUT)
            try:
                while s.recv(4096):  # an alert at most, then the close
                    pass
            except (ConnectionResetError, socket.timeout) as e:
                assert not isinstance(e, socket.timeout), "garbage did not get the connection closed"
    _handshake(tls_broker, "speaker-0001")


def _serial_seen_by_client(b: TlsBroker) -> int:
    ctx = ssl.create_default_context(cafile=str(b.pki / "device-ca.crt"))
    ctx.load_cert_chain(str(b.pki / "speaker-0001.crt"), str(b.pki / "speaker-0001.key"))
    with socket.create_connection((b.host, b.tls_port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return int(s.getpeercert()["serialNumber"], 16)


def test_sighup_reloads_a_renewed_certificate_without_dropping_clients(workers, tmp_path, pki):
    # a private copy of the server certificate, renewed during the test
    d = tmp_path / "srv"
    d.mkdir()
    for f in ("server.crt", "server.key"):
        (d / f).write_bytes((pki / f).read_bytes())
    b = TlsBroker(tmp_path, workers, pki)
    b._config_orig = b._config

    def config() -> dict:
        cfg = b._config_orig()
        cfg["listeners"][1]["tls_cert_file"] = str(d / "server.crt")
        cfg["listeners"][1]["tls_key_file"] = str(d / "server.key")
        return cfg

    b._config = config
    b.start()
    try:
        before = _serial_seen_by_client(b)
        topic = unique("reload/")
        old = b.tls_client("speaker-0001", V5)
        old.connect()
        old.subscribe(topic, qos=1)

        # renew: same key, new certificate (new serial) from the same CA
        renew = tmp_path / "renew"
        renew.mkdir()
        _openssl("req", "-new", "-key", str(d / "server.key"), "-subj", "/CN=server",
                 "-out", str(renew / "server.csr"), cwd=pki)
        _openssl("ca", "-batch", "-config", "device-ca.cnf", "-in", str(renew / "server.csr"),
                 "-out", str(renew / "server.crt"), "-extfile", str(pki / "server.ext"),
                 "-notext", "-days", "30", cwd=pki)
        os.replace(renew / "server.crt", d / "server.crt")
        b.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "msg=tls_reloaded" in b.stderr_text(), timeout=TIMEOUT)

        after = _serial_seen_by_client(b)
        assert after != before, "new connections must get the renewed certificate"
        # the connection made before the reload still works, both ways
        pub = b.tls_client("speaker-0001", V5)
        pub.connect()
        pub.publish(topic, b"after reload", qos=1, wait=True)
        assert old.expect_message().payload == b"after reload"
        assert not old.disconnected.is_set()
    finally:
        b.close_clients()
        problems = b.stop()
    assert not problems, problems


def test_client_id_taken_from_the_certificate(workers, tmp_path, pki):
    """tls_client_id_from: cn - two connections that claim different client ids with the same
    device certificate are the same client: the second takes the session over."""
    b = TlsBroker(tmp_path, workers, pki)
    b._config_orig = b._config

    def config() -> dict:
        cfg = b._config_orig()
        cfg["listeners"][1]["tls_client_id_from"] = "cn"
        return cfg

    b._config = config
    b.start()
    try:
        first = b.tls_client("speaker-0001", V5, client_id="claims-to-be-a")
        first.connect()
        second = b.tls_client("speaker-0001", V5, client_id="claims-to-be-b")
        second.connect()
        assert first.disconnected.wait(TIMEOUT), "same certificate, same client: takeover"
        assert first.disconnect_reason == 0x8E
        assert not second.disconnected.is_set()
    finally:
        b.close_clients()
        problems = b.stop()
    assert not problems, problems


SDK_PY = Path(__file__).resolve().parents[2] / "sdk-python" / ".venv" / "bin" / "python"


def test_certificate_identity_reaches_a_python_hook(workers, tmp_path, pki):
    """mTLS identity (certificate CN, subject, issuer, serial, fingerprint, TLS version, cipher)
    is passed to the Authenticate hook, which decides with it."""
    import json

    hook = subprocess.Popen([str(SDK_PY), str(Path(__file__).with_name("hook_identity_server.py"))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    b = None
    try:
        line = hook.stdout.readline()
        assert line.startswith("PORT "), line
        b = TlsBroker(tmp_path, workers, pki, client_cert="optional")
        b.overrides = {"hooks": {"endpoints": f"127.0.0.1:{line.split()[1]}", "mandatory": True}}
        b.start()

        def connect(cid: str, cert: str | None) -> int:
            c = b.tls_client(cert, V5, client_id=cid)
            rc = c.connect(expect_rc=None).rc
            c.close()
            return rc

        wait_until(lambda: connect("speaker-0001", "speaker-0001") == 0, timeout=TIMEOUT * 2)
        seen = json.loads(hook.stdout.readline())
        while seen["client_id"] != "speaker-0001" or seen["cn"] is None:
            seen = json.loads(hook.stdout.readline())
        assert seen["cn"] == "speaker-0001"
        assert "CN=speaker-0001" in seen["subject"]
        assert "device-ca" in seen["issuer"]
        assert seen["tls_version"] in ("TLSv1.2", "TLSv1.3") and seen["cipher"]
        assert seen["listener"] == "devices" and seen["peer_address"] == "127.0.0.1"
        expected = subprocess.run(["openssl", "x509", "-in", str(pki / "speaker-0001.crt"),
                                   "-noout", "-fingerprint", "-sha256", "-serial"],
                                  capture_output=True, text=True, check=True).stdout
        fp = expected.split("Fingerprint=")[1].split()[0].replace(":", "").lower()
        serial = expected.split("serial=")[1].split()[0].lower().lstrip("0")
        assert seen["sha256"] == fp
        assert seen["serial"].lower().lstrip("0") == serial

        assert connect("speaker-9999", "speaker-0001") == 0x87, "CN does not match the client id"
        assert connect("speaker-0001", None) == 0x87, "no certificate: the hook refuses"
    finally:
        if b:
            b.close_clients()
            problems = b.stop()
            assert not problems, problems
        hook.kill()
        hook.wait(5)


def test_identity_from_a_tls_terminating_load_balancer(tmp_path, pki, start_broker):
    """haproxy terminates TLS and verifies the device certificate, then passes the CN in PROXY v2
    TLVs: the broker takes the client id from it and the hook sees the identity (via_proxy)."""
    import json

    hook = subprocess.Popen([str(SDK_PY), str(Path(__file__).with_name("hook_identity_server.py"))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lb = None
    try:
        line = hook.stdout.readline()
        assert line.startswith("PORT "), line
        b = start_broker(listener={"proxy_protocol": True, "tls_client_id_from": "cn"},
                         hooks={"endpoints": f"127.0.0.1:{line.split()[1]}", "mandatory": True})
        pem = tmp_path / "lb.pem"
        pem.write_text((pki / "server.crt").read_text() + (pki / "server.key").read_text())
        front = free_port()
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(f"""defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend devices
    bind 127.0.0.1:{front} ssl crt {pem} ca-file {pki / 'device-ca.crt'} verify required
    default_backend broker
backend broker
    server hookmq 127.0.0.1:{b.port} send-proxy-v2-ssl-cn
""")
        lb = subprocess.Popen(["haproxy", "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

        def connect() -> int:
            c = MqttClient("localhost", front, client_id="claims-anything", protocol=V5)
            c.c.tls_set(ca_certs=str(pki / "device-ca.crt"),
                        certfile=str(pki / "speaker-0001.crt"), keyfile=str(pki / "speaker-0001.key"))
            try:
                rc = c.connect(expect_rc=None).rc
            except (OSError, AssertionError):
                rc = -1  # haproxy not listening yet
            c.close()
            return rc

        wait_until(lambda: connect() == 0, timeout=TIMEOUT * 2)
        seen = json.loads(hook.stdout.readline())
        while seen["cn"] is None:
            seen = json.loads(hook.stdout.readline())
        assert seen["client_id"] == "speaker-0001", "the client id came from the certificate"
        assert seen["cn"] == "speaker-0001"
    finally:
        if lb:
            lb.kill()
            lb.wait(5)
        hook.kill()
        hook.wait(5)


# ---- certificates by SNI -------------------------------------------------------------------------

def _server_cert_seen(b: TlsBroker, server_name: str | None) -> tuple[str, int]:
    """(CN, serial) of the certificate the broker presents for `server_name` (None: no SNI)."""
    ctx = ssl.create_default_context(cafile=str(b.pki / "device-ca.crt"))
    ctx.check_hostname = False  # the names differ on purpose; the chain is still verified
    ctx.load_cert_chain(str(b.pki / "speaker-0001.crt"), str(b.pki / "speaker-0001.key"))
    with socket.create_connection((b.host, b.tls_port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as s:
            cert = s.getpeercert()
            cn = dict(x[0] for x in cert["subject"])["commonName"]
            return cn, int(cert["serialNumber"], 16)


def test_sni_selects_the_certificate_and_sighup_reloads_it(workers, tmp_path, pki):
    d = tmp_path / "sni"
    d.mkdir()
    for f in ("sni-b.crt", "sni-b.key"):
        (d / f).write_bytes((pki / f).read_bytes())
    sni = (f"b.example:{d / 'sni-b.crt'}:{d / 'sni-b.key'},\n"
           f"*.w.example:{pki / 'sni-wild.crt'}:{pki / 'sni-wild.key'}")
    b = TlsBroker(tmp_path, workers, pki, listener={"tls_sni_certs": sni})
    b.start()
    try:
        assert _server_cert_seen(b, "b.example")[0] == "sni-b"
        assert _server_cert_seen(b, "B.Example")[0] == "sni-b"  # names are case-insensitive
        assert _server_cert_seen(b, "x.w.example")[0] == "sni-wild"
        for other in ("c.example", "w.example", "a.x.w.example", "localhost", None):
            assert _server_cert_seen(b, other)[0] == "server", other
        _handshake(b, "speaker-0001")  # MQTT works as before

        # renew sni-b (same key, new serial) and reload
        before = _server_cert_seen(b, "b.example")[1]
        renew = tmp_path / "renew"
        renew.mkdir()
        _openssl("req", "-new", "-key", str(d / "sni-b.key"), "-subj", "/CN=sni-b",
                 "-out", str(renew / "sni-b.csr"), cwd=pki)
        _openssl("ca", "-batch", "-config", "device-ca.cnf", "-in", str(renew / "sni-b.csr"),
                 "-out", str(renew / "sni-b.crt"), "-extfile", str(pki / "sni-b.ext"),
                 "-notext", "-days", "30", cwd=pki)
        os.replace(renew / "sni-b.crt", d / "sni-b.crt")
        b.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "msg=tls_reloaded" in b.stderr_text(), timeout=TIMEOUT)
        cn, after = _server_cert_seen(b, "b.example")
        assert cn == "sni-b" and after != before, "SIGHUP must reload the SNI certificates too"
        assert _server_cert_seen(b, None)[0] == "server"
    finally:
        b.close_clients()
        problems = b.stop()
    assert not problems, problems


def test_sni_certificate_that_does_not_load_stops_the_start(workers, tmp_path, pki):
    b = TlsBroker(tmp_path, workers, pki,
                  listener={"tls_sni_certs": f"b.example:{pki / 'nope.crt'}:{pki / 'sni-b.key'}"})
    try:
        b.start()  # may see the plain listener come up before the TLS one fails
    except (BrokerStartError, AssertionError):
        pass
    wait_until(lambda: not b.alive(), timeout=TIMEOUT, message="the broker to exit")
    assert "sni b.example: cert_file" in b.stderr_text()
    b.stop()


# ---- session resumption --------------------------------------------------------------------------

def _mqtt_over_tls(b: TlsBroker, ctx: ssl.SSLContext,
                   session: ssl.SSLSession | None) -> tuple[ssl.SSLSession | None, bool]:
    """One TLS connection with an MQTT CONNECT round trip (which also brings TLS 1.3 tickets in);
    returns the session to resume and whether this connection resumed one."""
    with socket.create_connection((b.host, b.tls_port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 0]))
            assert s.recv(4) == bytes([0x20, 2, 0, 0])
            return s.session, s.session_reused


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("tickets,cache,resumes", [(True, 0, True), (False, 100, True),
                                                   (False, 0, False)],
                         ids=["tickets", "cache", "neither"])
def test_session_resumption(workers, tmp_path, pki, version, tickets, cache, resumes):
    b = TlsBroker(tmp_path, workers, pki, listener={"tls_session_tickets": tickets,
                                                     "tls_session_cache_size": cache})
    b.start()
    try:
        ctx = ssl.create_default_context(cafile=str(pki / "device-ca.crt"))
        ctx.load_cert_chain(str(pki / "speaker-0001.crt"), str(pki / "speaker-0001.key"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version
        session, reused = _mqtt_over_tls(b, ctx, None)
        assert not reused
        for _ in range(3):  # and again with the session (TLS 1.3: the ticket) each one brings
            session, reused = _mqtt_over_tls(b, ctx, session)
            assert reused == resumes
    finally:
        b.close_clients()
        problems = b.stop()
    assert not problems, problems
