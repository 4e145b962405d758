"""MQTT over WebSocket (`ws`) and over WebSocket over TLS (`wss`) with paho-mqtt's websocket
transport, the HTTP upgrade's refusals, and X-Forwarded-For from a trusted proxy feeding the
per-address connect limit.
"""
from __future__ import annotations

import base64
import os
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import BROKER_KIND, TIMEOUT, V311, V5, MqttClient, unique, wait_until

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's ws/wss listeners")


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wss")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(d / "server.key"),
                    "-out", str(d / "server.crt"), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return d


def _ws_port(b, name: str) -> int:
    def port() -> int:
        for line in b.stderr_text().splitlines():
            if "msg=listening" in line and f"name={name} " in line:
                return int(line.split("port=")[1].split()[0])
        return 0
    return wait_until(port, timeout=TIMEOUT)


def _start(start_broker, server_cert: Path | None = None, workers: int | None = None, **ws):
    listeners = [{"name": "web", "type": "ws", "bind": "127.0.0.1", "port": 0, **ws}]
    if server_cert:
        listeners.append({"name": "webs", "type": "wss", "bind": "127.0.0.1", "port": 0,
                          "tls_cert_file": str(server_cert / "server.crt"),
                          "tls_key_file": str(server_cert / "server.key")})
    b = start_broker(workers=workers, extra_listeners=listeners)
    return b


def _ws_client(b, port: int, protocol: int, cafile: Path | None = None) -> MqttClient:
    c = MqttClient("localhost", port, protocol=protocol, transport="websockets")
    c.c.ws_set_options(path="/mqtt")
    if cafile:
        c.c.tls_set(ca_certs=str(cafile))
    b._clients.append(c)
    return c


@pytest.mark.parametrize("protocol", [V311, V5], ids=["v311", "v5"])
def test_ws_and_wss_carry_mqtt(start_broker, server_cert, protocol):
    b = _start(start_broker, server_cert)
    ws_port, wss_port = _ws_port(b, "web"), _ws_port(b, "webs")
    topic = unique("web/")
    subs = [_ws_client(b, ws_port, protocol) for _ in range(3)]
    subs += [_ws_client(b, wss_port, protocol, server_cert / "server.crt") for _ in range(3)]
    for s in subs:
        s.connect()
        s.subscribe(topic, qos=1)
    pub = b.client(protocol=protocol)  # plain TCP
    pub.connect()
    big = os.urandom(70_000)  # several WebSocket/TLS records
    pub.publish(topic, big, qos=1, wait=True)
    for s in subs:
        m = s.expect_message()
        assert (m.topic, m.payload) == (topic, big)
    # and from a WebSocket client to a TCP one
    tcp_sub = b.client(protocol=protocol)
    tcp_sub.connect()
    tcp_sub.subscribe(topic, qos=1)
    subs[0].publish(topic, b"from the browser", qos=1, wait=True)
    assert tcp_sub.expect_message().payload == b"from the browser"


def _upgrade(port: int, path: str = "/mqtt", protocol: str | None = "mqtt",
             extra: str = "") -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if protocol:
        req += f"Sec-WebSocket-Protocol: {protocol}\r\n"
    req += extra + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(req.encode())
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    return data.decode(errors="replace").split("\r\n")[0]


def test_upgrade_refusals(start_broker):
    b = _start(start_broker)
    port = _ws_port(b, "web")
    assert _upgrade(port).startswith("HTTP/1.1 101")
    assert _upgrade(port, path="/other").startswith("HTTP/1.1 404")
    assert _upgrade(port, protocol=None).startswith("HTTP/1.1 400"), "mqtt subprotocol required"
    assert _upgrade(port, protocol="chat").startswith("HTTP/1.1 400")
    assert b.alive()


def test_trusted_forwarded_for_feeds_the_per_address_limit(start_broker):
    b = _start(start_broker, workers=1, ws_trust_forwarded=True, max_connect_rate_per_ip=1)
    port = _ws_port(b, "web")
    fwd = "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n"
    assert _upgrade(port, extra=fwd).startswith("HTTP/1.1 101")
    assert _upgrade(port, extra=fwd).startswith("HTTP/1.1 403"), "same client, over its rate"
    assert _upgrade(port, extra="X-Forwarded-For: 198.51.100.9\r\n").startswith("HTTP/1.1 101")
