#!/usr/bin/env python3
"""table.py - turn hmq-bench JSON lines (one per broker and scenario) into Markdown tables.

Reads the JSON lines bench/compare.sh collected (each labelled "<scenario>:<broker>") on stdin and
prints the load table (delivered msg/s, broker CPU, deliveries per CPU second, latency, loss) and
the idle-connection table (RSS per connection, fitted slope, extrapolation to 1,000,000
connections), each with hookmq/mosquitto ratios. `--brief` prints one summary line for the single
result on stdin (compare.sh's progress output). Standard library only.
"""
import json
import sys

BROKERS = ("hookmq", "mosquitto")
TITLES = {
    "a": "(a) 10 pubs -> 10 subs, QoS 0, max rate",
    "b": "(b) 10 pubs -> 10 subs, QoS 1, max rate",
    "c": "(c) 10 pubs -> 10 subs, QoS 2, max rate",
    "d": "(d) fan-out 1 -> 1000, QoS 0",
    "e0": "(e) 20k msg/s offered, QoS 0",
    "e1": "(e) 20k msg/s offered, QoS 1",
    "e2": "(e) 10k msg/s offered, QoS 2",
    "c-quota20": "(c') = (c), mosquitto max_inflight_messages 20 (its default)",
    "a-nagle": "(a') = (a), mosquitto set_tcp_nodelay false (its default)",
    "e0-nagle": "(e0') = (e) QoS 0, mosquitto set_tcp_nodelay false (its default)",
}
EXTRA = ("c-quota20", "a-nagle", "e0-nagle")


def split_label(r):
    scen, _, broker = r.get("label", "").partition(":")
    return scen, broker


def fmt(v, digits=0):
    if v is None:
        return "pending"
    if isinstance(v, str):
        return v
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(h, m, digits=2):
    if h is None or m is None or not m:
        return "-"
    return f"{h / m:.{digits}f}"


def brief(r):
    if r["mode"] == "idle":
        return (f"{r['connected']} connected ({r['connect_rate']:.0f}/s), "
                f"RSS {r.get('rss_before_kb', 0)} -> {r.get('rss_after_kb', 0)} kB, "
                f"{r.get('rss_per_conn_bytes', 0)} B/conn")
    return (f"{r['delivered_per_s']:,.0f} msg/s delivered, broker {r.get('broker_cpu_s', 0):.2f} CPU s "
            f"({r.get('deliveries_per_cpu_s', 0):,.0f}/CPU s), p50 {r['lat_p50_us'] / 1000:.3f} ms, "
            f"p99 {r['lat_p99_us'] / 1000:.3f} ms, lost {r['lost']}, dup {r['dup']}, "
            f"dup(QoS 1) {r['dup_qos1']}, others {r.get('other_cpu_s', 0):.1f} CPU s")


def load_table(rows):
    scens = []
    for r in rows:
        s, _ = split_label(r)
        if r["mode"] != "idle" and s not in scens:
            scens.append(s)
    if not scens:
        return
    print("| scenario | broker | delivered msg/s | broker CPU s | deliveries / CPU s | p50 ms | "
          "p99 ms | p99.9 ms | lost | dup (QoS 1 dups) | others' CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in scens:
        by = {split_label(r)[1]: r for r in rows if split_label(r)[0] == s}
        for b in BROKERS:
            r = by.get(b)
            if not r:
                if s in EXTRA:
                    continue
                print(f"| {TITLES.get(s, s)} | {b} | pending | | | | | | | | |")
                continue
            print(f"| {TITLES.get(s, s)} | {b} | {fmt(r['delivered_per_s'])} | "
                  f"{fmt(r.get('broker_cpu_s'), 2)} | {fmt(r.get('deliveries_per_cpu_s'))} | "
                  f"{r['lat_p50_us'] / 1000:.3f} | {r['lat_p99_us'] / 1000:.3f} | "
                  f"{r['lat_p999_us'] / 1000:.3f} | {r['lost']} | {r['dup']} ({r['dup_qos1']}) | "
                  f"{r.get('other_cpu_s', 0):.1f} |")
        h, m = by.get("hookmq"), by.get("mosquitto")
        if s not in EXTRA:
            g = lambda r, k, d=1.0: r[k] / d if r and k in r else None  # noqa: E731
            print(f"| {TITLES.get(s, s)} | **hookmq / mosquitto** | "
                  f"**{ratio(g(h, 'delivered_per_s'), g(m, 'delivered_per_s'))}** | "
                  f"{ratio(g(h, 'broker_cpu_s'), g(m, 'broker_cpu_s'))} | "
                  f"**{ratio(g(h, 'deliveries_per_cpu_s'), g(m, 'deliveries_per_cpu_s'))}** | "
                  f"{ratio(g(h, 'lat_p50_us'), g(m, 'lat_p50_us'))} | "
                  f"{ratio(g(h, 'lat_p99_us'), g(m, 'lat_p99_us'))} | "
                  f"{ratio(g(h, 'lat_p999_us'), g(m, 'lat_p999_us'))} | | | |")
    print()


def fit(points):
    """Least-squares line through (connections, RSS bytes): (bytes per connection, base bytes)."""
    n = len(points)
    if n < 2:
        return None, None
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if not sxx:
        return None, None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope, my - slope * mx


def idle_table(rows):
    idle = [r for r in rows if r["mode"] == "idle"]
    if not idle:
        return
    counts = sorted({r["connections"] for r in idle})
    print("| connections | broker | connected | connects/s | RSS before MB | RSS after MB | "
          "RSS bytes per connection | kernel slab bytes per socket |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    per = {b: {} for b in BROKERS}
    for n in counts:
        for b in BROKERS:
            r = next((r for r in idle if r["connections"] == n and split_label(r)[1] == b), None)
            if not r:
                print(f"| {n:,} | {b} | pending | | | | | |")
                continue
            per[b][n] = r
            print(f"| {n:,} | {b} | {r['connected']:,} | {r['connect_rate']:,.0f} | "
                  f"{r.get('rss_before_kb', 0) / 1024:.1f} | {r.get('rss_after_kb', 0) / 1024:.1f} | "
                  f"{r.get('rss_per_conn_bytes', 0):,} | {r.get('slab_per_socket_bytes', 0):,} |")
    print()
    print("| broker | fitted RSS bytes per connection | base RSS MB | RSS at 1,000,000 connections | "
          "with kernel sockets |")
    print("|---|---:|---:|---:|---:|")
    slopes = {}
    for b in BROKERS:
        pts = [(r["connected"], r["rss_after_kb"] * 1024) for r in per[b].values()
               if r.get("connected") and "rss_after_kb" in r]
        slope, base = fit(pts)
        slopes[b] = slope
        if slope is None:
            print(f"| {b} | pending | | | |")
            continue
        kern = [r["slab_per_socket_bytes"] for r in per[b].values() if r.get("slab_per_socket_bytes")]
        kern = sorted(kern)[len(kern) // 2] if kern else 0  # median: other processes add noise
        total = base + slope * 1e6
        print(f"| {b} | {slope:,.0f} | {base / 2**20:.1f} | {total / 2**30:.2f} GiB "
              f"({slope:,.0f} B x 1,000,000 + base) | {(total + kern * 1e6) / 2**30:.2f} GiB "
              f"(+ {kern:,} B x 1,000,000) |")
    print(f"| **hookmq / mosquitto** | **{ratio(slopes['hookmq'], slopes['mosquitto'])}** | | | |")
    print()


# Counts of things that must not happen: with several runs, the worst run is shown.
WORST = ("lost", "dup", "dup_qos1", "reordered", "connect_failed", "dropped", "ack_errors",
         "protocol_errors", "unacked", "foreign")


def medians(rows):
    """Several runs of one scenario and broker (compare.sh -r): the median of every number (the
    maximum of the WORST counts)."""
    groups = {}
    for r in rows:
        groups.setdefault(r.get("label", ""), []).append(r)
    out = []
    for runs in groups.values():
        m = dict(runs[0])
        for k, v in m.items():
            if k in WORST:
                m[k] = max(r.get(k, 0) for r in runs)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                vals = sorted(r[k] for r in runs if k in r)
                m[k] = vals[len(vals) // 2] if len(vals) % 2 else (vals[len(vals) // 2 - 1] +
                                                                   vals[len(vals) // 2]) / 2
        m["runs"] = len(runs)
        out.append(m)
    return out


def main():
    rows = [json.loads(line) for line in sys.stdin if line.startswith("{")]
    if "--brief" in sys.argv:
        for r in rows:
            print(brief(r))
        return
    rows = medians(rows)
    if any(r["runs"] > 1 for r in rows):
        print(f"Medians of {max(r['runs'] for r in rows)} runs per scenario and broker.\n")
    load_table(rows)
    idle_table(rows)


if __name__ == "__main__":
    main()
