"""Shared helpers for the system tests: the broker process and a paho-mqtt client wrapper.

`BrokerProcess` starts hookmq (or, to debug the tests, Debian's mosquitto) on a free port with a
temporary config, waits for it to announce that it listens, and stops it with SIGTERM.
`MqttClient` wraps one paho-mqtt 2.x connection: callbacks feed queues and events, so a test
waits for CONNACK, SUBACK, PUBACK and messages with timeouts instead of sleeping. A client never
reconnects by itself: one `MqttClient` is one network connection.

conftest.py builds fixtures from these; test modules import the constants and helpers.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqttraw import RawClient

BROKER_KIND = os.environ.get("HMQ_TEST_BROKER", "hookmq")
if BROKER_KIND not in ("hookmq", "mosquitto"):
    raise RuntimeError(f"HMQ_TEST_BROKER must be hookmq or mosquitto, not {BROKER_KIND!r}")
IS_MOSQUITTO = BROKER_KIND == "mosquitto"
ASAN = os.environ.get("HOOKMQ_ASAN", "") not in ("", "0")

# Sanitizer builds are several times slower: every wait for an event gets this factor.
# Protocol intervals (keep alive, expiry, will delay) are never scaled.
SLOW = 3.0 if ASAN else 1.0
TIMEOUT = 5.0 * SLOW            # default wait for an event that must happen
STARTUP_TIMEOUT = 15.0 * SLOW
SHUTDOWN_TIMEOUT = 10.0 * SLOW
# How late past 1.5 x Keep Alive a closed connection may be noticed. hookmq checks precisely;
# mosquitto 2.0.11, the debugging peer, can take ~5 s for keep alive 1 on an idle broker.
KEEPALIVE_GRACE = 5.0 * SLOW

V31, V311, V5 = 3, 4, 5
_PAHO_PROTOCOL = {V31: mqtt.MQTTv31, V311: mqtt.MQTTv311, V5: mqtt.MQTTv5}

SANITIZER_PATTERNS = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: AddressSanitizer|"
    r"SUMMARY: UndefinedBehaviorSanitizer|runtime error:|UndefinedBehaviorSanitizer|"
    r"ThreadSanitizer|MemorySanitizer")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str = "t") -> str:
    """A short unique string (also a valid MQTT 3.1 client id, <= 23 chars)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.02,
               message: str = "condition") -> Any:
    """Poll a cheap local predicate (e.g. a value fed by callbacks) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# configuration


def deep_merge(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _yaml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(obj: Any, indent: int = 0) -> str:
    """Block-style YAML for the small dict/list/scalar trees of a broker config."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{k}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                sub = to_yaml(item, indent + 2).splitlines()
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(obj))
    return "\n".join(lines)


# hookmq config key -> mosquitto option (the debug peer). A value of None means "no equivalent":
# tests relying on it must be marked mosquitto_deviates.
_MOSQUITTO_OPTIONS: dict[tuple[str, str], Callable[[Any], str | None] | None] = {
    ("broker", "workers"): lambda v: "",
    ("broker", "sys_interval"): lambda v: f"sys_interval {v}",
    ("log", "level"): lambda v: "",
    ("log", "format"): lambda v: "",
    ("limits", "max_packet_size"): lambda v: f"max_packet_size {v}" if v else "",
    ("limits", "max_inflight"): lambda v: f"max_inflight_messages {v}",
    ("limits", "max_queued"): lambda v: f"max_queued_messages {v}",
    ("limits", "queue_policy"): lambda v: "" if v == "drop_newest" else None,
    ("limits", "max_keepalive"): lambda v: f"max_keepalive {v}" if v else "",
    ("limits", "topic_alias_maximum"): lambda v: f"max_topic_alias {v}",
    ("limits", "max_connections"): lambda v: f"max_connections {v if v else -1}",
    ("limits", "connect_timeout_ms"): None,
    ("limits", "max_topic_length"): None,
    ("limits", "max_topic_levels"): None,
    ("limits", "max_session_expiry"): None,
    ("mqtt", "maximum_qos"): lambda v: f"max_qos {v}",
    ("mqtt", "retain_available"): lambda v: f"retain_available {'true' if v else 'false'}",
    ("mqtt", "allow_zero_length_client_id"):
        lambda v: f"allow_zero_length_clientid {'true' if v else 'false'}",
    ("mqtt", "wildcard_subscriptions"): lambda v: "" if v else None,
    ("mqtt", "shared_subscriptions"): lambda v: "" if v else None,
    ("mqtt", "subscription_identifiers"): lambda v: "" if v else None,
}


def mosquitto_conf(config: dict) -> str:
    lines = ["allow_anonymous true", "persistence false", "log_dest stderr",
             "log_type error", "log_type warning", "log_type notice", "log_type information",
             "log_timestamp true"]
    for lst in config.get("listeners", []):
        lines.append(f"listener {lst['port']} {lst.get('bind', '127.0.0.1')}")
    for section, values in config.items():
        if section == "listeners":
            continue
        for key, value in values.items():
            conv = _MOSQUITTO_OPTIONS.get((section, key))
            line = conv(value) if conv else None
            if line is None:
                raise RuntimeError(
                    f"config {section}.{key}={value!r} has no mosquitto equivalent: mark the "
                    f"test @pytest.mark.mosquitto_deviates")
            if line:
                lines.append(line)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# the broker process


class BrokerStartError(Exception):
    pass


_RUNNING: set["BrokerProcess"] = set()


@atexit.register
def _kill_leftovers() -> None:
    """If pytest dies before the fixtures stop their brokers, do not leave processes behind."""
    for b in list(_RUNNING):
        b._kill()


class BrokerProcess:
    """One broker process on a free port. `stop()` checks it shut down cleanly."""

    def __init__(self, workdir: Path, workers: int, overrides: dict | None = None) -> None:
        self.kind = BROKER_KIND
        self.host = "127.0.0.1"
        self.workers = workers
        self.workdir = workdir
        self.overrides = overrides or {}
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None
        self._ready_re: re.Pattern | None = None
        self.exit_code: int | None = None
        self.config: dict = {}
        self._clients: list = []

    # -- config
    def _config(self) -> dict:
        base = {
            "broker": {"workers": self.workers, "sys_interval": 1},
            "listeners": [{"name": "default", "type": "tcp", "bind": self.host, "port": self.port}],
            "log": {"level": "info", "format": "logfmt"},
        }
        overrides = dict(self.overrides)
        # `listener={...}`: options merged into the default listener (which keeps its free port)
        base["listeners"][0].update(overrides.pop("listener", {}))
        # `extra_listeners=[...]`: more listeners (port 0: read the port from the log)
        base["listeners"] += overrides.pop("extra_listeners", [])
        return deep_merge(base, overrides)

    def _command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        self.config = self._config()
        if self.kind == "mosquitto":
            path = self.workdir / f"mosquitto-{self.port}.conf"
            path.write_text(mosquitto_conf(self.config))
            binary = os.environ.get("MOSQUITTO_BIN") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
            self._ready_re = re.compile(r"mosquitto version \S+ running")
            return [binary, "-c", str(path)], env
        binary = os.environ.get("HOOKMQ_BIN")
        if not binary:
            raise BrokerStartError("HOOKMQ_BIN is not set (path to the hookmq binary)")
        if not os.access(binary, os.X_OK):
            raise BrokerStartError(f"HOOKMQ_BIN={binary} is not an executable file")
        path = self.workdir / f"hookmq-{self.port}.yaml"
        path.write_text(to_yaml(self.config) + "\n")
        self._ready_re = re.compile(rf"msg=\"?listening\b.*\bport={self.port}\b|"
                                    rf"\bport={self.port}\b.*msg=\"?listening\b")
        if ASAN:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1:"
                           "print_summary=1:detect_stack_use_after_return=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=0:print_summary=1")
            env.setdefault("LSAN_OPTIONS", "print_suppressions=0")
        return [binary, "--config", str(path)], env

    def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lines_lock:
                self.lines.append(line)
            if self._ready_re and not self._ready.is_set() and self._ready_re.search(line):
                self._ready.set()

    def start(self) -> None:
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind: retry
            self.port = free_port()
            self.lines = []
            self._ready.clear()
            cmd, env = self._command()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, env=env, cwd=self.workdir)
            _RUNNING.add(self)
            self._reader = threading.Thread(target=self._read_stderr, daemon=True,
                                            name=f"broker-stderr-{self.port}")
            self._reader.start()
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while time.monotonic() < deadline:
                if self._ready.wait(0.05):
                    return
                if self.proc.poll() is not None:
                    break
            self._reader.join(1)
            last_error = (f"{cmd} did not report listening on port {self.port} "
                          f"(exit code {self.proc.poll()}); stderr:\n" + self.stderr_tail())
            self._kill()
        raise BrokerStartError(last_error)

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # by PID: only the process this object started
            self.proc.wait(5)
        _RUNNING.discard(self)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self) -> str:
        with self._lines_lock:
            return "\n".join(self.lines)

    def stderr_tail(self, n: int = 60) -> str:
        with self._lines_lock:
            return "\n".join(self.lines[-n:])

    def stop(self) -> list[str]:
        """SIGTERM and wait; return a list of problems (empty when the shutdown was clean)."""
        problems: list[str] = []
        if self.proc is None:
            return problems
        if self.proc.poll() is not None:
            problems.append(f"broker exited during the test with code {self.proc.returncode}")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"broker did not exit within {SHUTDOWN_TIMEOUT}s of SIGTERM")
                self.proc.kill()
                self.proc.wait(5)
            else:
                if self.proc.returncode != 0:
                    problems.append(f"broker exited with code {self.proc.returncode} after SIGTERM")
        _RUNNING.discard(self)
        if self._reader:
            self._reader.join(5)
        self.exit_code = self.proc.returncode
        if SANITIZER_PATTERNS.search(self.stderr_text()):
            problems.append("sanitizer report in broker stderr")
        return problems

    # -- clients bound to this broker (closed by the fixture)
    def client(self, client_id: str | None = None, protocol: int = V5, **kw: Any) -> "MqttClient":
        c = MqttClient(self.host, self.port, client_id=client_id, protocol=protocol, **kw)
        self._clients.append(c)
        return c

    def raw(self, version: int = V311, timeout: float = TIMEOUT) -> RawClient:
        r = RawClient(self.host, self.port, version=version, timeout=timeout)
        self._clients.append(r)
        return r

    def close_clients(self) -> None:
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients.clear()

    def assert_serving(self, protocol: int = V5) -> None:
        """The broker is alive and routes a message between two fresh clients."""
        assert self.alive(), "broker process died:\n" + self.stderr_tail()
        topic = f"health/{unique()}"
        sub = self.client(protocol=protocol)
        sub.connect()
        sub.subscribe(topic, qos=1)
        pub = self.client(protocol=protocol)
        pub.connect()
        pub.publish(topic, b"ping", qos=1)
        msg = sub.expect_message()
        assert (msg.topic, msg.payload) == (topic, b"ping")
        pub.disconnect()
        sub.disconnect()


# ---------------------------------------------------------------------------------------------
# paho client wrapper


@dataclass
class ConnAck:
    rc: int
    session_present: bool
    props: dict[str, Any]


@dataclass
class Msg:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int
    props: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<Msg {self.topic!r} {self.payload[:40]!r} q{self.qos} r{int(self.retain)} "
                f"d{int(self.dup)}{' ' + str(self.props) if self.props else ''}>")


def props_to_dict(p: Properties | None) -> dict[str, Any]:
    if p is None:
        return {}
    out: dict[str, Any] = {}
    for name in p.names:
        key = name.replace(" ", "")
        if hasattr(p, key):
            out[key] = getattr(p, key)
    return out


def make_props(packet_type: int, values: dict[str, Any] | None) -> Properties | None:
    """paho Properties from {'MessageExpiryInterval': 10, 'UserProperty': [(k, v), ...]}."""
    if not values:
        return None
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p


def _rc_value(rc: Any) -> int:
    if isinstance(rc, ReasonCode):
        return rc.value
    return int(rc)


class MqttClient:
    """One paho-mqtt connection whose callbacks feed queues; no automatic reconnect."""

    def __init__(self, host: str, port: int, client_id: str | None = None, protocol: int = V5,
                 clean: bool = True, manual_ack: bool = False, transport: str = "tcp") -> None:
        self.host, self.port = host, port
        self.protocol = protocol
        self.clean = clean
        self.client_id = unique("c") if client_id is None else client_id
        kw: dict[str, Any] = {}
        if protocol != V5:
            kw["clean_session"] = clean
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=_PAHO_PROTOCOL[protocol], reconnect_on_failure=False,
                             manual_ack=manual_ack, transport=transport, **kw)
        # stay within any sane server Receive Maximum (mosquitto announces 20)
        self.c.max_inflight_messages_set(16)
        self.c.max_queued_messages_set(0)
        self.messages: queue.Queue[Msg] = queue.Queue()
        self._connack: queue.Queue[ConnAck] = queue.Queue()
        self._cond = threading.Condition()
        self._subacks: dict[int, tuple[list[int], dict]] = {}
        self._unsubacks: dict[int, tuple[list[int], dict]] = {}
        self._pubacks: dict[int, int] = {}
        self.disconnected = threading.Event()
        self.disconnect_reason: int | None = None
        self.disconnect_props: dict[str, Any] = {}
        self.disconnect_from_broker = False
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_publish = self._on_publish
        self.c.on_disconnect = self._on_disconnect
        self._started = False

    # -- callbacks (paho's thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connack.put(ConnAck(_rc_value(reason_code), bool(flags.session_present),
                                  props_to_dict(properties)))

    def _on_message(self, client, userdata, m) -> None:
        self.messages.put(Msg(m.topic, m.payload, m.qos, bool(m.retain), bool(m.dup), m.mid,
                              props_to_dict(getattr(m, "properties", None))))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._cond:
            self._subacks[mid] = ([_rc_value(r) for r in reason_codes], props_to_dict(properties))
            self._cond.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._cond:
            self._unsubacks[mid] = ([_rc_value(r) for r in (reason_codes or [])],
                                    props_to_dict(properties))
            self._cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._cond:
            self._pubacks[mid] = _rc_value(reason_code)
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self.disconnected.is_set():
            self.disconnect_reason = _rc_value(reason_code)
            self.disconnect_props = props_to_dict(properties)
            self.disconnect_from_broker = bool(getattr(flags, "is_disconnect_packet_from_server", False))
            self.disconnected.set()

    # -- connection
    def will_set(self, topic: str, payload: bytes = b"", qos: int = 0, retain: bool = False,
                 props: dict[str, Any] | None = None) -> None:
        self.c.will_set(topic, payload, qos, retain, make_props(PacketTypes.WILLMESSAGE, props))

    def connect(self, keepalive: int = 60, clean: bool | None = None,
                props: dict[str, Any] | None = None, expect_rc: int | None = 0,
                timeout: float = TIMEOUT) -> ConnAck:
        """Connect and wait for CONNACK. For v5, `clean` is Clean Start (default: as constructed)."""
        kw: dict[str, Any] = {}
        if self.protocol == V5:
            kw["clean_start"] = self.clean if clean is None else clean
            kw["properties"] = make_props(PacketTypes.CONNECT, props)
        self.c.connect(self.host, self.port, keepalive, **kw)
        self.c.loop_start()
        self._started = True
        try:
            ack = self._connack.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no CONNACK within {timeout}s (client {self.client_id!r}, "
                                 f"disconnected={self.disconnected.is_set()})") from None
        if expect_rc is not None:
            assert ack.rc == expect_rc, f"CONNACK rc {ack.rc:#x}, expected {expect_rc:#x}: {ack}"
        return ack

    def _wait(self, table: dict, mid: int, what: str, timeout: float) -> Any:
        with self._cond:
            ok = self._cond.wait_for(lambda: mid in table or self.disconnected.is_set(), timeout)
            if mid in table:
                return table.pop(mid)
        state = "connection closed" if ok else f"timed out after {timeout}s"
        raise AssertionError(f"no {what} for mid {mid}: {state} "
                             f"(disconnect reason {self.disconnect_reason})")

    # -- subscribe / publish
    def subscribe(self, topic: str | list, qos: int = 0, *, no_local: bool = False,
                  rap: bool = False, rh: int = 0, props: dict[str, Any] | None = None,
                  timeout: float = TIMEOUT) -> list[int]:
        """Subscribe and return the SUBACK reason codes (granted QoS or failure codes).

        `topic` may be a list of (filter, qos) pairs for one SUBSCRIBE with several filters.
        """
        pairs = topic if isinstance(topic, list) else [(topic, qos)]
        if self.protocol == V5:
            subs = [(t, SubscribeOptions(q, noLocal=no_local, retainAsPublished=rap,
                                         retainHandling=rh)) for t, q in pairs]
            rc, mid = self.c.subscribe(subs, properties=make_props(PacketTypes.SUBSCRIBE, props))
        else:
            rc, mid = self.c.subscribe(pairs)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed locally: {rc}"
        codes, sprops = self._wait(self._subacks, mid, "SUBACK", timeout)
        self.last_suback_props = sprops
        return codes

    def unsubscribe(self, topic: str | list[str], props: dict[str, Any] | None = None,
                    timeout: float = TIMEOUT) -> list[int]:
        kw = {}
        if self.protocol == V5:
            kw["properties"] = make_props(PacketTypes.UNSUBSCRIBE, props)
        rc, mid = self.c.unsubscribe(topic, **kw)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        codes, uprops = self._wait(self._unsubacks, mid, "UNSUBACK", timeout)
        self.last_unsuback_props = uprops
        return codes

    def publish(self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
                props: dict[str, Any] | None = None, wait: bool = True,
                timeout: float = TIMEOUT) -> int | None:
        """Publish; with `wait`, return the PUBACK/PUBCOMP reason code (QoS 0: None)."""
        info = self.c.publish(topic, payload, qos, retain,
                              make_props(PacketTypes.PUBLISH, props) if self.protocol == V5 else None)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish failed locally: {info.rc}"
        if qos == 0 or not wait:
            return None
        return self._wait(self._pubacks, info.mid, "PUBACK/PUBCOMP", timeout)

    def ack(self, msg: Msg) -> None:
        """With manual_ack=True: acknowledge a received QoS 1/2 message."""
        self.c.ack(msg.mid, msg.qos)

    # -- receiving
    def expect_message(self, timeout: float = TIMEOUT) -> Msg:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout}s for {self.client_id!r} "
                                 f"(disconnected={self.disconnected.is_set()})") from None

    def expect_messages(self, n: int, timeout: float = TIMEOUT) -> list[Msg]:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            try:
                out.append(self.messages.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"got {len(out)} of {n} messages within {timeout}s: "
                                     f"{out!r}") from None
        return out

    def collect_until(self, payload: bytes, timeout: float = TIMEOUT) -> list[Msg]:
        """Messages received before the one whose payload is `payload` (the marker)."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            try:
                m = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"marker {payload!r} not received within {timeout}s; "
                                     f"got {out!r}") from None
            if m.payload == payload:
                return out
            out.append(m)

    def pending(self) -> list[Msg]:
        """Messages already received and not yet consumed (no waiting)."""
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    # -- disconnecting
    def disconnect(self, rc: int | None = None, props: dict[str, Any] | None = None,
                   timeout: float = TIMEOUT) -> None:
        """Send DISCONNECT (v5: with reason code / properties) and wait until closed."""
        if self.disconnected.is_set():
            self._stop()
            return
        if self.protocol == V5 and (rc is not None or props):
            self.c.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=rc or 0),
                              properties=make_props(PacketTypes.DISCONNECT, props))
        else:
            self.c.disconnect()
        self.disconnected.wait(timeout)
        self._stop()

    def drop(self) -> None:
        """Close the TCP connection without DISCONNECT (a network failure for the broker)."""
        sock = self.c.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.disconnected.wait(TIMEOUT)
        self._stop()

    def wait_disconnected(self, timeout: float = TIMEOUT) -> int | None:
        """Wait until the broker closes this connection; return the DISCONNECT reason (v5)."""
        assert self.disconnected.wait(timeout), \
            f"client {self.client_id!r} still connected after {timeout}s"
        return self.disconnect_reason

    def _stop(self) -> None:
        if self._started:
            self._started = False
            self.c.loop_stop()

    def close(self) -> None:
        if self._started and not self.disconnected.is_set():
            self.drop()
        self._stop()


def raw_connect_props(version: int, **props: Any) -> dict[str, Any]:
    """CONNECT properties for a RawClient, only when the version has properties."""
    return props if version == V5 else {}


def sorted_payloads(msgs: Iterable[Msg]) -> list[bytes]:
    return sorted(m.payload for m in msgs)


# ---------------------------------------------------------------------------------------------
# hook servers written with the Python SDK (tests/system/hook_apps/), and publishing many
# messages at once


SDK_PYTHON = Path(__file__).resolve().parents[2] / "sdk-python" / ".venv" / "bin" / "python"
HOOK_APPS = Path(__file__).resolve().parent / "hook_apps"


class HookApp:
    """A hook server script of tests/system/hook_apps/, run with the SDK's virtualenv.

    The script prints "PORT <n>" once it listens and serves until its stdin closes. `port=0`
    picks a free port at the first start; `restart()` reuses the port (same address for the
    broker). stderr goes to `<workdir>/<script>-<port>.log`.
    """

    def __init__(self, workdir: Path, script: str, args: Iterable[str] = (), port: int = 0) -> None:
        self.workdir, self.script, self.args, self.port = workdir, script, list(args), port
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self, args: Iterable[str] | None = None) -> "HookApp":
        if args is not None:
            self.args = list(args)
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.log_path = self.workdir / f"{Path(self.script).stem}-{self.port or 'any'}.log"
        cmd = [str(SDK_PYTHON), str(HOOK_APPS / self.script), "--port", str(self.port), *self.args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, text=True)
        line = self.proc.stdout.readline()  # blocks until it listens (or EOF if it died)
        assert line.startswith("PORT "), \
            f"hook server {self.script} did not start: {line!r}\n{self.log_tail()}"
        self.port = int(line.split()[1])
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes without closing its streams."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # by PID: the process this object started
            self.proc.wait(5)

    def restart(self, args: Iterable[str] | None = None) -> "HookApp":
        self.kill()
        return self.start(args)

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # EOF: the script stops its server and exits
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()

    def log_tail(self, n: int = 40) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-n:])


def publish_nowait(client: MqttClient, topic: str, payload: bytes | str = b"", qos: int = 1,
                   props: dict[str, Any] | None = None) -> int:
    """Queue a PUBLISH without waiting; return its mid for `wait_puback`."""
    info = client.c.publish(topic, payload, qos, False,
                            make_props(PacketTypes.PUBLISH, props) if client.protocol == V5 else None)
    assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish failed locally: {info.rc}"
    return info.mid


def wait_puback(client: MqttClient, mid: int, timeout: float = TIMEOUT) -> int:
    """The PUBACK/PUBCOMP reason code of a `publish_nowait` (v3.1.1: 0)."""
    return client._wait(client._pubacks, mid, "PUBACK/PUBCOMP", timeout)


def pubacks_received(client: MqttClient, mids: Iterable[int]) -> int:
    """How many of these mids have been acknowledged (and not yet consumed by `wait_puback`)."""
    with client._cond:
        return sum(1 for m in mids if m in client._pubacks)


def hook_server_entry(name: str, port: int, **keys: Any) -> dict[str, Any]:
    """One `hooks.servers` entry for a hook server on 127.0.0.1:port: mandatory (so a test can
    wait for the handshake), a generous deadline, and quick reconnection and breaker recovery."""
    entry: dict[str, Any] = {
        "name": name, "endpoints": [f"127.0.0.1:{port}"], "mandatory": True, "deadline_ms": 3000,
        "reconnect_initial_ms": 50, "reconnect_max_ms": 250,
        "breaker_open_ms": 200, "breaker_open_max_ms": 500, "health_interval_ms": 200,
    }
    entry.update(keys)
    return entry


def wait_hooks_ready(b: BrokerProcess, timeout: float = 3 * TIMEOUT) -> None:
    """Wait until CONNECT is accepted: every mandatory hook server has handshaken."""
    def accepted() -> bool:
        c = b.client(client_id=unique("probe-"), protocol=V5)
        rc = c.connect(expect_rc=None).rc
        c.close()
        return rc == 0
    wait_until(accepted, timeout=timeout, interval=0.05, message="the hook servers' handshake")
