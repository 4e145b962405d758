"""Admission control and load balancers: connect-rate limits per listener and per client address,
and the PROXY protocol (v1 and v2, byte-exact headers, and haproxy as a real sender) giving the
real client address to limits and logs.
"""
from __future__ import annotations

import socket
import struct
import subprocess
import time

import pytest

from helpers import BROKER_KIND, TIMEOUT, V311, MqttClient, free_port, unique, wait_until

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's listener options")

CONNECT_311 = bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 0])
CONNACK_OK = bytes([0x20, 2, 0, 0])


def _mqtt_connect(sock: socket.socket) -> bool:
    """Send CONNECT; True if CONNACK 0 came back, False if the broker closed the connection."""
    sock.settimeout(TIMEOUT)
    try:
        sock.sendall(CONNECT_311)
        ack = sock.recv(4)
    except (ConnectionResetError, BrokenPipeError):
        return False
    return ack == CONNACK_OK


def _proxy_v1(src: str, sport: int = 40000) -> bytes:
    return f"PROXY TCP4 {src} 127.0.0.1 {sport} 1883\r\n".encode()


def _proxy_v2(src: str, sport: int = 40000) -> bytes:
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    addr = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, 1883)
    return sig + bytes([0x21, 0x11]) + struct.pack("!H", len(addr)) + addr


def _connect_via(b, header: bytes) -> bool:
    with socket.create_connection((b.host, b.port), timeout=TIMEOUT) as s:
        if header:
            s.sendall(header)
        return _mqtt_connect(s)


def test_connect_rate_per_listener(start_broker):
    b = start_broker(workers=1, listener={"max_connect_rate": 2})
    results = [_connect_via(b, b"") for _ in range(4)]
    # a burst of one second's worth (2) passes, the rest is refused before CONNECT is read
    assert results[:2] == [True, True]
    assert results[2:] == [False, False]
    assert b.alive()


def test_proxy_protocol_v1_and_v2_give_the_real_address_to_the_per_ip_limit(start_broker):
    b = start_broker(workers=1, listener={"proxy_protocol": True, "max_connect_rate_per_ip": 1})
    # every connection comes from 127.0.0.1; the limit sees the addresses in the headers
    assert _connect_via(b, _proxy_v1("203.0.113.7"))
    assert not _connect_via(b, _proxy_v2("203.0.113.7")), "same client address: over its rate"
    assert _connect_via(b, _proxy_v2("198.51.100.9")), "another client address has its own bucket"
    assert _connect_via(b, _proxy_v1("192.0.2.55"))


def test_proxy_protocol_is_mandatory_and_strict(start_broker):
    b = start_broker(workers=1, listener={"proxy_protocol": True})
    assert not _connect_via(b, b""), "no header: refused"
    assert not _connect_via(b, b"PROXY TCP4 203.0.113.007 127.0.0.1 1 2\r\n"), "non-canonical"
    bad_crc = _proxy_v2("203.0.113.7")
    crc_tlv = bytes([0x03, 0, 4]) + b"\x00\x00\x00\x00"
    bad_crc = bad_crc[:14] + struct.pack("!H", 12 + len(crc_tlv)) + bad_crc[16:] + crc_tlv
    assert not _connect_via(b, bad_crc), "wrong CRC32C"
    assert _connect_via(b, _proxy_v2("203.0.113.7")), "and a good header still works"


@pytest.mark.parametrize("send_proxy", ["send-proxy", "send-proxy-v2"])
def test_behind_haproxy(start_broker, tmp_path, send_proxy):
    b = start_broker(listener={"proxy_protocol": True})
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"""global
    log stderr format raw local0 emerg
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend mqtt
    bind 127.0.0.1:{front}
    default_backend broker
backend broker
    server hookmq 127.0.0.1:{b.port} {send_proxy}
""")
    proc = subprocess.Popen(["haproxy", "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", front), timeout=0.2).close()
                return True
            except OSError:
                return False
        wait_until(listening, timeout=TIMEOUT)
        topic = unique("lb/")
        # the listener requires the header: both clients come through haproxy
        sub = MqttClient("127.0.0.1", front, protocol=V311)
        pub = MqttClient("127.0.0.1", front, protocol=V311)
        b._clients += [sub, pub]
        sub.connect()
        sub.subscribe(topic, qos=1)
        pub.connect()
        pub.publish(topic, b"through the load balancer", qos=1, wait=True)
        assert sub.expect_message().payload == b"through the load balancer"
    finally:
        proc.kill()
        proc.wait(5)
