"""Markdown tables of bench/hooks.sh results: medians per scenario and variant.

Reads the JSON lines of results.jsonl (hmq-bench's line plus scenario, variant, run, load_before,
load_after, hooks_cpu_s and the hook server's counters "hooks") on stdin. --brief prints one line
for the single result given (progress output of hooks.sh).

For each scenario the first variant is the reference: "x ref" columns are ratios to its median,
"+ref" columns differences (same unit as the column).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import OrderedDict

MSG_COLS = [  # (header, function of a result)
    ("msg/s", lambda r: r["delivered_per_s"]),
    ("p50 us", lambda r: r["lat_p50_us"]),
    ("p99 us", lambda r: r["lat_p99_us"]),
    ("broker CPU us/msg", lambda r: 1e6 * r["broker_cpu_s"] / r["delivered"] if r["delivered"] else 0),
    ("hook server CPU us/msg", lambda r: 1e6 * r["hooks_cpu_s"] / r["delivered"] if r["delivered"] else 0),
    ("lost", lambda r: r["lost"]),
    ("requests per MessageBatch", lambda r: r.get("hooks", {}).get("batch_items", 0) /
     r["hooks"]["batches"] if r.get("hooks", {}).get("batches") else 0),
]
TRACE = ["broker_p50_us", "broker_p99_us", "to_request_p50_us", "to_request_p99_us",
         "from_answer_p50_us", "from_answer_p99_us", "outside_p50_us", "outside_p99_us"]
CONN_COLS = [
    ("connects/s", lambda r: r["connect_rate"]),
    ("CONNACK p50 us", lambda r: r["lat_p50_us"]),
    ("CONNACK p99 us", lambda r: r["lat_p99_us"]),
    ("broker CPU us/connect", lambda r: r["broker_cpu_us_per_connect"]),
    ("handler p50 us", lambda r: r.get("hooks", {}).get("auth_p50_us", 0)),
    ("handler p99 us", lambda r: r.get("hooks", {}).get("auth_p99_us", 0)),
    ("hook server CPU us/connect",
     lambda r: 1e6 * r["hooks_cpu_s"] / r["connected"] if r["connected"] else 0),
    ("failed", lambda r: r["connect_failed"]),
]
TRACE_COLS = CONN_COLS[:3] + [(f"broker's part {k[:-3].replace('_', ' ')} us",
                               lambda r, k=k: r.get("trace", {}).get(k, 0)) for k in TRACE]
EXTRA = {"1": ["p50 us", "p99 us"], "2": ["broker CPU us/msg", "p50 us"],
         "3": ["CONNACK p50 us", "CONNACK p99 us"],
         "t": ["broker's part broker p50 us", "broker's part broker p99 us"], "4": ["connects/s"], "5": ["msg/s", "p99 us"]}


def cols(r: dict) -> list:
    if "trace" in r or r["scenario"] == "t":
        return TRACE_COLS
    return CONN_COLS if r["mode"] == "connect" else MSG_COLS


def fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def brief(r: dict) -> str:
    parts = [f"{r['scenario']} {r['variant']} run {r['run']}:"]
    parts += [f"{h} {fmt(f(r))}" for h, f in cols(r)]
    parts.append(f"load {r['load_before']:.1f}->{r['load_after']:.1f}")
    if "hooks" in r:
        h = r["hooks"]
        parts.append("hook calls " + ",".join(f"{k}={h[k]}" for k in
                                             ("authenticate", "authorize", "on_publish", "slow")))
    return "  " + "  ".join(parts)


def main() -> None:
    rows = [json.loads(line) for line in sys.stdin if line.strip().startswith("{")]
    if "--brief" in sys.argv:
        for r in rows:
            print(brief(r))
        return
    groups: OrderedDict[str, OrderedDict[str, list]] = OrderedDict()
    for r in rows:
        groups.setdefault(r["scenario"], OrderedDict()).setdefault(r["variant"], []).append(r)
    for sc, variants in groups.items():
        first = next(iter(variants.values()))[0]
        cs = cols(first)
        extra = EXTRA.get(sc.split("-")[0], [])
        heads = [h for h, _ in cs]
        print(f"\n#### scenario {sc} (medians of the runs)\n")
        hdr = ["variant", "runs"] + heads + [f"{e} x ref" for e in extra] + \
              [f"{e} +ref" for e in extra] + ["load avg (min-max)"]
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---|" * len(hdr))
        ref = None
        for var, rs in variants.items():
            med = {h: statistics.median(f(r) for r in rs) for h, f in cs}
            if ref is None:
                ref = med
            loads = [r["load_before"] for r in rs] + [r["load_after"] for r in rs]
            cells = [var, str(len(rs))] + [fmt(med[h]) for h in heads]
            cells += [fmt(med[e] / ref[e]) if ref[e] else "-" for e in extra]
            cells += [fmt(med[e] - ref[e]) for e in extra]
            cells.append(f"{min(loads):.1f}-{max(loads):.1f}")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
