"""Byte-level MQTT 3.1 / 3.1.1 / 5.0 packet builder and parser for system tests.

Used by tests that must control the exact bytes on the wire (malformed input, withheld
acknowledgements, DUP flags, packet identifiers, v5 properties the paho client does not expose).
Nothing here talks to a broker except `RawClient`, a blocking socket with a packet reader.

Protocol versions are the Protocol Level byte: 3 (MQTT 3.1), 4 (3.1.1), 5 (5.0).
"""

from __future__ import annotations

import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = (
    8, 9, 10, 11, 12, 13, 14, 15)

PACKET_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
    7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
    12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}

# MQTT 5.0 properties (section 2.2.2.2): name -> (identifier, type)
PROPERTIES: dict[str, tuple[int, str]] = {
    "PayloadFormatIndicator": (0x01, "byte"),
    "MessageExpiryInterval": (0x02, "u32"),
    "ContentType": (0x03, "str"),
    "ResponseTopic": (0x08, "str"),
    "CorrelationData": (0x09, "bin"),
    "SubscriptionIdentifier": (0x0B, "varint"),
    "SessionExpiryInterval": (0x11, "u32"),
    "AssignedClientIdentifier": (0x12, "str"),
    "ServerKeepAlive": (0x13, "u16"),
    "AuthenticationMethod": (0x15, "str"),
    "AuthenticationData": (0x16, "bin"),
    "RequestProblemInformation": (0x17, "byte"),
    "WillDelayInterval": (0x18, "u32"),
    "RequestResponseInformation": (0x19, "byte"),
    "ResponseInformation": (0x1A, "str"),
    "ServerReference": (0x1C, "str"),
    "ReasonString": (0x1F, "str"),
    "ReceiveMaximum": (0x21, "u16"),
    "TopicAliasMaximum": (0x22, "u16"),
    "TopicAlias": (0x23, "u16"),
    "MaximumQoS": (0x24, "byte"),
    "RetainAvailable": (0x25, "byte"),
    "UserProperty": (0x26, "pair"),
    "MaximumPacketSize": (0x27, "u32"),
    "WildcardSubscriptionAvailable": (0x28, "byte"),
    "SubscriptionIdentifierAvailable": (0x29, "byte"),
    "SharedSubscriptionAvailable": (0x2A, "byte"),
}
_BY_ID = {ident: (name, kind) for name, (ident, kind) in PROPERTIES.items()}
_REPEATABLE = {"UserProperty", "SubscriptionIdentifier"}


class MalformedPacket(Exception):
    """The bytes received from the broker are not a valid MQTT packet."""


class ConnectionClosed(Exception):
    """The broker closed the connection (EOF or reset)."""


# ---------------------------------------------------------------------------------------------
# encoding


def varint(n: int) -> bytes:
    """Variable Byte Integer (section 1.5.5)."""
    if n < 0 or n > 268_435_455:
        raise ValueError(f"varint out of range: {n}")
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n: int) -> bytes:
    return struct.pack("!H", n)


def u32(n: int) -> bytes:
    return struct.pack("!I", n)


def mstr(s: str | bytes) -> bytes:
    """UTF-8 Encoded String (or raw bytes, for deliberately invalid strings)."""
    b = s.encode("utf-8") if isinstance(s, str) else s
    return u16(len(b)) + b


def mbin(b: bytes) -> bytes:
    return u16(len(b)) + b


def encode_properties(props: dict[str, Any] | list[tuple[str, Any]] | None) -> bytes:
    """Encode a v5 property block (length + properties).

    `props` is a dict or, to control order and repetition, a list of (name, value).
    UserProperty takes a list of (key, value) pairs; SubscriptionIdentifier an int or a list.
    Unknown names may be given as integers (raw identifier) with raw bytes as value.
    """
    body = bytearray()
    items = list(props.items()) if isinstance(props, dict) else list(props or [])
    for name, value in items:
        if isinstance(name, int):
            body += varint(name) + value
            continue
        ident, kind = PROPERTIES[name]
        values = value if (name in _REPEATABLE and isinstance(value, list)) else [value]
        for v in values:
            body += varint(ident)
            if kind == "byte":
                body.append(v)
            elif kind == "u16":
                body += u16(v)
            elif kind == "u32":
                body += u32(v)
            elif kind == "varint":
                body += varint(v)
            elif kind == "str":
                body += mstr(v)
            elif kind == "bin":
                body += mbin(v)
            elif kind == "pair":
                body += mstr(v[0]) + mstr(v[1])
    return varint(len(body)) + bytes(body)


def packet(ptype: int, flags: int, body: bytes) -> bytes:
    """Fixed header + body."""
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + body


def connect(client_id: str | bytes = "", version: int = 4, clean: bool = True,
            keepalive: int = 60, will: dict | None = None, username: str | None = None,
            password: bytes | None = None, props: dict | list | None = None,
            proto_name: bytes | None = None, flags: int | None = None) -> bytes:
    """CONNECT. `will` = dict(topic, payload, qos=0, retain=False, props=None).

    `flags` overrides the computed Connect Flags byte (for malformed-input tests).
    """
    if proto_name is None:
        proto_name = b"MQIsdp" if version == 3 else b"MQTT"
    f = 0
    if clean:
        f |= 0x02
    if will:
        f |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if username is not None:
        f |= 0x80
    if password is not None:
        f |= 0x40
    if flags is not None:
        f = flags
    body = mstr(proto_name) + bytes([version, f]) + u16(keepalive)
    if version == 5:
        body += encode_properties(props)
    body += mstr(client_id)
    if will:
        if version == 5:
            body += encode_properties(will.get("props"))
        body += mstr(will["topic"]) + mbin(will.get("payload", b""))
    if username is not None:
        body += mstr(username)
    if password is not None:
        body += mbin(password)
    return packet(CONNECT, 0, body)


def publish(topic: str | bytes, payload: bytes = b"", qos: int = 0, retain: bool = False,
            dup: bool = False, pid: int | None = None, version: int = 4,
            props: dict | list | None = None, flags: int | None = None) -> bytes:
    f = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    if flags is not None:
        f = flags
    body = mstr(topic)
    if qos > 0 or pid is not None:
        body += u16(pid if pid is not None else 1)
    if version == 5:
        body += encode_properties(props)
    return packet(PUBLISH, f, body + payload)


def sub_options(qos: int = 0, no_local: bool = False, rap: bool = False, rh: int = 0) -> int:
    """SUBSCRIBE options byte (v5 section 3.8.3.1; v3 uses only the QoS bits)."""
    return qos | (0x04 if no_local else 0) | (0x08 if rap else 0) | (rh << 4)


def subscribe(pid: int, filters: Iterable[tuple[str | bytes, int]], version: int = 4,
              props: dict | list | None = None, flags: int = 0x02) -> bytes:
    """SUBSCRIBE with [(filter, options byte)]."""
    body = u16(pid)
    if version == 5:
        body += encode_properties(props)
    for flt, opts in filters:
        body += mstr(flt) + bytes([opts])
    return packet(SUBSCRIBE, flags, body)


def unsubscribe(pid: int, filters: Iterable[str | bytes], version: int = 4,
                props: dict | list | None = None, flags: int = 0x02) -> bytes:
    body = u16(pid)
    if version == 5:
        body += encode_properties(props)
    for flt in filters:
        body += mstr(flt)
    return packet(UNSUBSCRIBE, flags, body)


def _ack(ptype: int, flags: int, pid: int, version: int, rc: int | None,
         props: dict | list | None) -> bytes:
    body = u16(pid)
    if version == 5 and (rc is not None or props):
        body += bytes([rc or 0])
        if props:
            body += encode_properties(props)
    return packet(ptype, flags, body)


def puback(pid: int, version: int = 4, rc: int | None = None, props=None) -> bytes:
    return _ack(PUBACK, 0, pid, version, rc, props)


def pubrec(pid: int, version: int = 4, rc: int | None = None, props=None) -> bytes:
    return _ack(PUBREC, 0, pid, version, rc, props)


def pubrel(pid: int, version: int = 4, rc: int | None = None, props=None) -> bytes:
    return _ack(PUBREL, 0x02, pid, version, rc, props)


def pubcomp(pid: int, version: int = 4, rc: int | None = None, props=None) -> bytes:
    return _ack(PUBCOMP, 0, pid, version, rc, props)


def pingreq() -> bytes:
    return packet(PINGREQ, 0, b"")


def disconnect(version: int = 4, rc: int | None = None, props: dict | list | None = None) -> bytes:
    body = b""
    if version == 5 and (rc is not None or props):
        body = bytes([rc or 0])
        if props:
            body += encode_properties(props)
    return packet(DISCONNECT, 0, body)


# ---------------------------------------------------------------------------------------------
# decoding


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.remaining():
            raise MalformedPacket(f"need {n} bytes, have {self.remaining()}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("!I", self.take(4))[0]

    def varint(self) -> int:
        mult, value = 1, 0
        for _ in range(4):
            b = self.byte()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise MalformedPacket("variable byte integer longer than 4 bytes")

    def str(self) -> str:
        raw = self.take(self.u16())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedPacket(f"invalid UTF-8 from broker: {raw!r}") from e

    def bin(self) -> bytes:
        return self.take(self.u16())

    def properties(self) -> dict[str, Any]:
        length = self.varint()
        end = self.pos + length
        if end > len(self.data):
            raise MalformedPacket("property length exceeds packet")
        props: dict[str, Any] = {}
        while self.pos < end:
            ident = self.varint()
            if ident not in _BY_ID:
                raise MalformedPacket(f"unknown property identifier 0x{ident:02x}")
            name, kind = _BY_ID[ident]
            if kind == "byte":
                v: Any = self.byte()
            elif kind == "u16":
                v = self.u16()
            elif kind == "u32":
                v = self.u32()
            elif kind == "varint":
                v = self.varint()
            elif kind == "str":
                v = self.str()
            elif kind == "bin":
                v = self.bin()
            else:
                v = (self.str(), self.str())
            if name in _REPEATABLE:
                props.setdefault(name, []).append(v)
            elif name in props:
                raise MalformedPacket(f"property {name} sent twice by the broker")
            else:
                props[name] = v
        if self.pos != end:
            raise MalformedPacket("property block overrun")
        return props


@dataclass
class Packet:
    """A decoded packet received from the broker. Fields not used by a type stay at defaults."""

    type: int
    flags: int
    raw: bytes                      # whole packet, fixed header included
    rc: int | None = None           # CONNACK return/reason code, PUBACK.. / DISCONNECT reason code
    session_present: bool | None = None
    pid: int | None = None
    topic: str | None = None
    payload: bytes = b""
    qos: int = 0
    dup: bool = False
    retain: bool = False
    codes: list[int] = field(default_factory=list)   # SUBACK / UNSUBACK
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return PACKET_NAMES.get(self.type, f"type{self.type}")

    def __repr__(self) -> str:  # compact, for assertion messages
        parts = [self.name]
        for k in ("rc", "pid", "topic", "qos", "dup", "retain"):
            v = getattr(self, k)
            if v not in (None, False, 0) or (k == "rc" and v == 0):
                parts.append(f"{k}={v!r}")
        if self.type == PUBLISH:
            parts.append(f"payload={self.payload[:40]!r}")
        if self.codes:
            parts.append(f"codes={[hex(c) for c in self.codes]}")
        if self.props:
            parts.append(f"props={self.props}")
        return "<" + " ".join(parts) + ">"


def parse_packet(raw: bytes, version: int) -> Packet:
    """Decode one complete packet (fixed header included) sent by a broker."""
    r = _Reader(raw)
    first = r.byte()
    length = r.varint()
    body = r.take(length)
    if r.remaining():
        raise MalformedPacket("trailing bytes")
    ptype, flags = first >> 4, first & 0x0F
    p = Packet(type=ptype, flags=flags, raw=raw)
    b = _Reader(body)
    if ptype == CONNACK:
        ack_flags = b.byte()
        if ack_flags & 0xFE:
            raise MalformedPacket(f"CONNACK reserved flags set: {ack_flags:#x}")
        p.session_present = bool(ack_flags & 1)
        p.rc = b.byte()
        if version == 5 and b.remaining():
            p.props = b.properties()
    elif ptype == PUBLISH:
        p.qos = (flags >> 1) & 3
        p.dup = bool(flags & 8)
        p.retain = bool(flags & 1)
        if p.qos == 3:
            raise MalformedPacket("PUBLISH with QoS 3")
        p.topic = b.str()
        if p.qos:
            p.pid = b.u16()
        if version == 5:
            p.props = b.properties()
        p.payload = b.take(b.remaining())
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.pid = b.u16()
        p.rc = 0
        if version == 5 and b.remaining():
            p.rc = b.byte()
            if b.remaining():
                p.props = b.properties()
    elif ptype in (SUBACK, UNSUBACK):
        p.pid = b.u16()
        if version == 5:
            p.props = b.properties()
        p.codes = list(b.take(b.remaining()))
    elif ptype == DISCONNECT:
        p.rc = 0
        if b.remaining():
            p.rc = b.byte()
            if b.remaining():
                p.props = b.properties()
    elif ptype == AUTH:
        p.rc = 0
        if b.remaining():
            p.rc = b.byte()
            if b.remaining():
                p.props = b.properties()
    if b.remaining() and ptype not in (PUBLISH,):
        raise MalformedPacket(f"{p.name}: {b.remaining()} unparsed bytes")
    return p


# ---------------------------------------------------------------------------------------------
# a blocking raw client


class RawClient:
    """A TCP connection speaking bytes: send what you build, read decoded packets."""

    def __init__(self, host: str, port: int, version: int = 4, timeout: float = 5.0) -> None:
        self.version = version
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed_by_peer = False

    # -- sending
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_slowly(self, data: bytes, delay: float = 0.002) -> None:
        """Send one byte at a time (a slow or hostile client)."""
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            if delay:
                time.sleep(delay)

    # -- receiving
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            raise TimeoutError
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as e:
            self.closed_by_peer = True
            raise ConnectionClosed(str(e)) from e
        if not chunk:
            self.closed_by_peer = True
            raise ConnectionClosed("EOF")
        self.buf += chunk

    def _complete_packet_len(self) -> int | None:
        """Length of the first complete packet in the buffer, or None."""
        if len(self.buf) < 2:
            return None
        mult, length = 1, 0
        for i in range(1, 5):
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                total = i + 1 + length
                return total if len(self.buf) >= total else None
        raise MalformedPacket("remaining length longer than 4 bytes")

    def recv(self, timeout: float | None = None) -> Packet:
        """Next packet. Raises TimeoutError, or ConnectionClosed if the broker closed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            n = self._complete_packet_len()
            if n is not None:
                raw = bytes(self.buf[:n])
                del self.buf[:n]
                return parse_packet(raw, self.version)
            self._fill(deadline)

    def expect(self, ptype: int, timeout: float | None = None) -> Packet:
        p = self.recv(timeout)
        assert p.type == ptype, f"expected {PACKET_NAMES[ptype]}, got {p!r}"
        return p

    def recv_no_packet(self, seconds: float) -> None:
        """Assert that nothing arrives for `seconds` (a bounded negative wait)."""
        try:
            p = self.recv(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected packet: {p!r}")

    def wait_closed(self, timeout: float | None = None) -> list[Packet]:
        """Wait until the broker closes the connection; return the packets it sent first."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got: list[Packet] = []
        while True:
            try:
                got.append(self.recv(max(0.0, deadline - time.monotonic())))
            except ConnectionClosed:
                return got
            except TimeoutError:
                raise AssertionError(
                    f"broker did not close the connection within {timeout}s; got {got!r}"
                ) from None

    def is_open(self) -> bool:
        """True if the broker has not closed the connection (does not consume packets)."""
        if self.closed_by_peer:
            return False
        try:
            ready, _, _ = select.select([self.sock], [], [], 0)
            if not ready:
                return True
            data = self.sock.recv(65536, socket.MSG_PEEK)
            return bool(data)
        except OSError:
            return False

    # -- conveniences
    def connect(self, client_id: str = "", *, expect_rc: int | None = 0, timeout: float | None = None,
                **kw: Any) -> Packet:
        """Send CONNECT (same version as this client) and return the CONNACK."""
        kw.setdefault("version", self.version)
        self.send(connect(client_id, **kw))
        ack = self.expect(CONNACK, timeout)
        if expect_rc is not None:
            assert ack.rc == expect_rc, f"CONNACK {ack!r}, expected rc {expect_rc:#x}"
        return ack

    def subscribe(self, pid: int, filters: list[tuple[str, int]], props=None,
                  timeout: float | None = None) -> Packet:
        self.send(subscribe(pid, filters, self.version, props))
        ack = self.expect(SUBACK, timeout)
        assert ack.pid == pid, f"SUBACK for {ack.pid}, expected {pid}"
        return ack

    def publish(self, topic: str, payload: bytes = b"", qos: int = 0, pid: int | None = None,
                retain: bool = False, props=None, timeout: float | None = None) -> Packet | None:
        """Publish and complete the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP)."""
        if qos and pid is None:
            pid = 1
        self.send(publish(topic, payload, qos, retain, pid=pid, version=self.version, props=props))
        if qos == 1:
            ack = self.expect(PUBACK, timeout)
            assert ack.pid == pid
            return ack
        if qos == 2:
            rec = self.expect(PUBREC, timeout)
            assert rec.pid == pid
            self.send(pubrel(pid, self.version))
            comp = self.expect(PUBCOMP, timeout)
            assert comp.pid == pid
            return comp
        return None

    def ack(self, p: Packet) -> None:
        """Complete the receiver side of a QoS 1/2 PUBLISH from the broker."""
        if p.qos == 1:
            self.send(puback(p.pid, self.version))
        elif p.qos == 2:
            self.send(pubrec(p.pid, self.version))
            rel = self.expect(PUBREL)
            assert rel.pid == p.pid, f"PUBREL {rel!r} for PUBLISH {p!r}"
            self.send(pubcomp(p.pid, self.version))

    def collect_until(self, payload: bytes, timeout: float | None = None) -> list[Packet]:
        """PUBLISH packets received before the one carrying `payload` (a marker), completing
        every QoS 1/2 flow on the way (PUBACK; PUBREC, then PUBCOMP for each PUBREL)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got: list[Packet] = []
        while True:
            p = self.recv(max(0.0, deadline - time.monotonic()))
            if p.type == PUBREL:
                self.send(pubcomp(p.pid, self.version))
                continue
            assert p.type == PUBLISH, f"unexpected {p!r}"
            if p.qos == 1:
                self.send(puback(p.pid, self.version))
            elif p.qos == 2:
                self.send(pubrec(p.pid, self.version))
            if p.payload == payload:
                return got
            got.append(p)

    def disconnect(self, rc: int | None = None, props=None) -> None:
        self.send(disconnect(self.version, rc, props))
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self) -> None:
        """Close without DISCONNECT: the broker sees a network error (FIN)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close()
