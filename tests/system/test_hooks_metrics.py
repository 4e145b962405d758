"""The hook engine's metrics as operators read them: $SYS/broker/hooks/<provider>/<hook>/...
(calls, failures, timeouts, cache hits, in flight, cumulative latency buckets) and the drop
counter of on_publish hooks (docs/operations.md). The test config republishes $SYS every second.
"""
from __future__ import annotations

import re

import pytest

from helpers import BROKER_KIND, V5, hook_server_entry, unique, wait_hooks_ready, wait_until

pytestmark = pytest.mark.skipif(BROKER_KIND != "hookmq", reason="hookmq's hook engine")


def test_hook_metrics_in_sys(start_broker, hook_app):
    app = hook_app("message_hooks.py", "--features", "modify,drop,late", "--tag", "m1",
                   "--late-ms", "3000")
    b = start_broker(hooks={"servers": [hook_server_entry("msg", app.port, on_publish_deadline_ms=300,
                                                          on_publish_on_failure="deny")]})
    wait_hooks_ready(b)
    pub = b.client(client_id=unique("pub"), protocol=V5)
    pub.connect()
    assert pub.publish("mod/a", b"x", qos=1) in (0, 0x10)
    assert pub.publish("drop/a", b"bad", qos=1) == 0x99
    assert pub.publish("late/a", b"slow", qos=1) == 0x80  # deadline: on_failure deny
    watcher = b.client(client_id=unique("sys"), protocol=V5)
    watcher.connect()
    watcher.subscribe("$SYS/broker/hooks/#", qos=0)
    watcher.subscribe("$SYS/broker/messages/dropped/hook", qos=0)
    seen: dict[str, bytes] = {}

    def have_all() -> bool:
        for m in watcher.pending():
            seen[m.topic] = m.payload
        base = "$SYS/broker/hooks/msg/on_publish/"
        return (base + "latency" in seen and int(seen.get(base + "calls", b"0")) >= 3
                and int(seen.get(base + "timeouts", b"0")) >= 1
                and int(seen.get("$SYS/broker/messages/dropped/hook", b"0")) >= 2)

    wait_until(have_all, message="the hook metrics in $SYS")
    base = "$SYS/broker/hooks/msg/on_publish/"
    assert int(seen[base + "failures"]) >= 1
    assert int(seen[base + "in_flight"]) >= 0
    buckets = re.findall(r"le_ms=([0-9]+|\+Inf):([0-9]+)", seen[base + "latency"].decode())
    assert buckets[-1][0] == "+Inf" and len(buckets) == 12
    counts = [int(n) for _, n in buckets]
    assert counts == sorted(counts), "cumulative buckets"
    assert counts[-1] >= 3  # every completed call, the timed-out one included
