#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Render benchmark results (JSON lines, schema in bench/README.md) as Markdown.

usage: render.py RESULTS.jsonl [--meta KEY=VALUE ...] > latest.md

One table per metric; in each, one row per workload/variant, one column per
system, ratio columns varve/<system> and, where one applies, the machine
limit and varve's fraction of it.
"""

import argparse
import json
import math
import statistics
import sys

SYSTEMS = ["sqlite", "rocksdb", "lmdb", "varve"]
OTHERS = ["sqlite", "rocksdb", "lmdb"]
WORKLOADS = {
    "W1": "1M appends, 100 B values, no per-record sync",
    "W2": "200k appends, 1 KiB values, no per-record sync",
    "W3": "durable appends, 2,000 records per producer",
    "W4": "replay W1 in key order, warm page cache",
    "W5": "10k random reads by key on the W1 data",
}
W1_RECORD_BYTES = 16 + 100  # key + value of the data W4 replays
# varve-bench-serve: Kafka clients against `varve serve` ("system":"serve")
# next to the embedded library ("system":"varve") doing the same work.
SERVE_WORKLOADS = {
    "S1": ("1producer-linger5", "1M × 100 B, one producer, linger.ms=5, acks=all, sync=always"),
    "S2": ("8producers-linger0", "1M × 100 B, 8 producers, linger.ms=0, acks=all, sync=always"),
    "S3": ("fetch", "read the S1 topic from offset 0 to the end"),
    "S4": ("e2e", "produce → consume latency, one record in flight, sync=always"),
}
VARIANT_ORDER = ["batch", "single", "1producer", "8producers", "scan", "get"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(v, digits=3):
    """Numbers for humans: thousands separators for big ones, 3 significant digits else."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def median_row(rows):
    """One row from repeated runs: strings from the first, each number the median."""
    out = dict(rows[0])
    for field, value in rows[0].items():
        if isinstance(value, (int, float)) and field != "round":
            out[field] = statistics.median(r[field] for r in rows if field in r)
    return out


class Results:
    def __init__(self, rows):
        self.runs = {}
        for r in rows:
            key = (r["system"], r["workload"], r.get("variant", ""))
            self.runs.setdefault(key, []).append(r)
        self.by_key = {k: median_row(v) for k, v in self.runs.items()}
        self.rounds = max(len(v) for v in self.runs.values()) if self.runs else 0

    def get(self, system, workload, variant, field):
        r = self.by_key.get((system, workload, variant))
        return None if r is None else r.get(field)

    def machine(self, workload, variant, field):
        return self.get("machine", workload, variant, field)

    def workload_rows(self, workloads):
        """(workload, variant) pairs measured by any non-machine system, in display order."""
        keys = {(w, v) for (s, w, v) in self.by_key if s != "machine" and w in workloads}

        def order(k):
            w, v = k
            rank = VARIANT_ORDER.index(v) if v in VARIANT_ORDER else len(VARIANT_ORDER)
            return (w, rank, v)

        return sorted(keys, key=order)


def best_fdatasync(res):
    """The fastest single-writer fdatasync variant: an upper bound for W3/1producer."""
    best = None
    for (s, w, v), r in res.by_key.items():
        if s == "machine" and w == "fdatasync":
            if best is None or r["records_per_s"] > best[1]["records_per_s"]:
                best = (v, r)
    return best


def throughput_limit(res, workload, variant):
    """(limit records/s, label) for a throughput row, or None where none applies."""
    if workload in ("W1", "W2"):
        shape = "100B" if workload == "W1" else "1KiB"
        v = res.machine("ram_copy", f"{shape}-warm", "records_per_s")
        return (v, f"in-RAM copy, {shape} warm") if v else None
    if workload == "W3" and variant == "1producer":
        best = best_fdatasync(res)
        return (best[1]["records_per_s"], f"fdatasync, {best[0]}") if best else None
    if workload == "W4":
        mbps = res.machine("memcpy", "256MiB", "mb_per_s")
        return (mbps * 1e6 / W1_RECORD_BYTES, "memcpy bandwidth") if mbps else None
    return None


def table(res, title, note, workloads, field, limit=None, cell=None):
    out = [f"### {title}", "", note, ""]
    head = ["Workload", "Variant"] + SYSTEMS + [f"varve/{s}" for s in OTHERS]
    if limit:
        head += ["machine limit", "varve/limit"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * 2 + "---:|" * (len(head) - 2))
    for w, v in res.workload_rows(workloads):
        vals = {s: res.get(s, w, v, field) for s in SYSTEMS}
        cells = [w, v]
        cells += [cell(s, w, v) if cell else fmt(vals[s]) for s in SYSTEMS]
        cells += [ratio(vals["varve"], vals[s]) for s in OTHERS]
        if limit:
            lim = limit(res, w, v)
            if lim:
                cells += [f"{fmt(lim[0])} ({lim[1]})", ratio(vals["varve"], lim[0])]
            else:
                cells += ["–", "–"]
        out.append("| " + " | ".join(cells) + " |")
    return out + [""]


def latency_cell(res):
    def cell(system, workload, variant):
        p = [res.get(system, workload, variant, f) for f in ("p50_us", "p99_us", "max_us")]
        return "–" if p[0] is None else " / ".join(fmt(x) for x in p)

    return cell


def spread_section(res):
    """max/min of records/s over the rounds: how far one run can be trusted."""
    if res.rounds < 2:
        return []
    out = [f"### Run-to-run spread (max / min records/s over {res.rounds} rounds)", ""]
    out.append("| Workload | Variant | " + " | ".join(SYSTEMS) + " |")
    out.append("|---|---|" + "---:|" * len(SYSTEMS))

    def spread(system, workload, variant):
        vals = [r["records_per_s"] for r in res.runs.get((system, workload, variant), [])
                if r.get("records_per_s")]
        return f"{max(vals) / min(vals):.2f}" if len(vals) > 1 else "–"

    for w, v in res.workload_rows(["W1", "W2", "W3", "W4", "W5"]):
        out.append(f"| {w} | {v} | " + " | ".join(spread(s, w, v) for s in SYSTEMS) + " |")
    machine = sorted(k for k in res.runs if k[0] == "machine" and k[1] == "fdatasync")
    if machine:
        out += ["", "Machine fdatasync: " + ", ".join(f"{k[2]} {spread(*k)}" for k in machine) + "."]
    return out + [""]


def machine_section(res):
    out = ["### Machine limits", ""]
    out.append("| Measure | Variant | Result | p50 / p99 / max µs | How |")
    out.append("|---|---|---:|---:|---|")
    for (s, w, v), r in res.by_key.items():
        if s != "machine":
            continue
        if r.get("records_per_s") is not None:
            result = f"{fmt(r['records_per_s'])} /s"
            if r.get("mb_per_s") is not None:
                result += f", {fmt(r['mb_per_s'])} MB/s"
        else:
            result = f"{r['mb_per_s'] / 1000:.1f} GB/s"
        lat = " / ".join(fmt(r.get(f)) for f in ("p50_us", "p99_us", "max_us"))
        out.append(f"| {w} | {v} | {result} | {lat if r.get('p50_us') else '–'} | {r.get('config', '')} |")
    return out + [""]


def config_section(res):
    out = ["### Configurations", "", "| System | Workload | Variant | Config |", "|---|---|---|---|"]
    for (s, w, v), r in sorted(res.by_key.items()):
        if s != "machine":
            out.append(f"| {s} | {w} | {v} | {r.get('config', '')} |")
    return out + [""]


def serve_goal(res, w):
    """(goal text, measured value, goal value, higher_is_better) of a serve workload."""
    variant = SERVE_WORKLOADS[w][0]
    serve = res.get("serve", w, variant, "records_per_s")
    if w == "S1":
        return "≥ 1,000,000 records/s", serve, 1e6, True
    if w == "S2":
        emb = res.get("varve", w, variant, "records_per_s")
        return "≥ 80% of embedded", serve, None if emb is None else 0.8 * emb, True
    if w == "S3":
        return "≥ 2,000,000 records/s", serve, 2e6, True
    return "p99 ≤ 2,000 µs", res.get("serve", w, variant, "p99_us"), 2000.0, False


def serve_result(measured, goal, higher):
    if measured is None or goal is None:
        return "–"
    frac = measured / goal if higher else goal / measured
    return f"met ({frac:.2f}× goal)" if frac >= 1 else f"**missed** ({frac:.2f}× goal)"


def serve_section(res):
    """Kafka clients through `varve serve` next to the embedded library."""
    out = ["### Kafka clients through varve serve vs the embedded library", "",
           "`serve`: librdkafka against a `varve serve` child on loopback; `embedded`: the "
           "library doing the same work in the same run. Throughput in records/s (S4: latency "
           "p50 / p99 / max µs). serve/embedded above 1× means the server is faster (S4: "
           "p99 ratio, above 1× means slower). CPU: µs per record, client + broker processes "
           "for serve (each figure is a median over the rounds, so the parts need not add up "
           "to the total).", ""]
    out.append("| Workload | Variant | serve | embedded | serve/embedded | CPU serve (client + broker) "
               "| CPU embedded | records/batch serve, embedded | goal | result |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    lat = latency_cell(res)
    for w, (variant, _) in SERVE_WORKLOADS.items():
        variants = [variant] + sorted(v for (s, ww, v) in res.by_key
                                      if ww == w and v != variant)
        for v in variants:
            if not any((s, w, v) in res.by_key for s in ("serve", "varve")):
                continue
            g = lambda s, f: res.get(s, w, v, f)
            if w == "S4":
                cells = [lat("serve", w, v), lat("varve", w, v)]
                ratio_cell = ratio(res.get("serve", w, variant, "p99_us"), g("varve", "p99_us"))
            else:
                cells = [fmt(g("serve", "records_per_s")), fmt(g("varve", "records_per_s"))]
                ratio_cell = ratio(g("serve", "records_per_s"), g("varve", "records_per_s"))
            cpu = "–"
            if g("serve", "broker_cpu_us_per_record") is not None:
                cpu = (f"{fmt(g('serve', 'cpu_us_per_record'))} ({fmt(g('serve', 'client_cpu_us_per_record'))}"
                       f" + {fmt(g('serve', 'broker_cpu_us_per_record'))})")
            elif g("serve", "cpu_us_per_record") is not None:
                cpu = f"{fmt(g('serve', 'cpu_us_per_record'))} (client only)"
            batch = f"{fmt(g('serve', 'records_per_batch'))}, {fmt(g('varve', 'records_per_batch'))}"
            goal_text, measured, goal, higher = serve_goal(res, w)
            first = v == variant
            out.append(f"| {w} | {v} | " + " | ".join(cells) + f" | {ratio_cell} | {cpu} | "
                       f"{fmt(g('varve', 'cpu_us_per_record'))} | {batch} | "
                       f"{goal_text if first else ''} | "
                       f"{serve_result(measured, goal, higher) if first else ''} |")
    out.append("")
    acks = [(label, res.get(system, "S4", "e2e", "ack_p50_us"), res.get(system, "S4", "e2e", "ack_p99_us"))
            for label, system in (("serve", "serve"), ("embedded", "varve"))]
    if any(p50 is not None for _, p50, _ in acks):
        out += ["S4, the producer's acknowledgement alone (produce call → acknowledged durable; "
                "serve: librdkafka's `rd_kafka_message_latency`), p50 / p99 µs: "
                + "; ".join(f"{label} {fmt(p50)} / {fmt(p99)}" for label, p50, p99 in acks) + ".", ""]
    if res.rounds >= 2:
        out += [f"Run-to-run spread, max / min over {res.rounds} rounds (S4: of p99):", ""]
        out += ["| Workload | Variant | serve | embedded |", "|---|---|---:|---:|"]
        for (w, v) in sorted({(w, v) for (s, w, v) in res.runs if w in SERVE_WORKLOADS}):
            field = "p99_us" if w == "S4" else "records_per_s"

            def spread(system):
                vals = [r[field] for r in res.runs.get((system, w, v), []) if r.get(field)]
                return f"{max(vals) / min(vals):.2f}" if len(vals) > 1 else "–"

            out.append(f"| {w} | {v} | {spread('serve')} | {spread('varve')} |")
        out.append("")
    return out


def render(res, meta):
    comparison = any(w in WORKLOADS for (_, w, _) in res.by_key)
    serve = any(w in SERVE_WORKLOADS for (_, w, _) in res.by_key)
    out = ["# varve comparison benchmark" if comparison else "# varve serve benchmark", ""]
    out += [f"- **{k}**: {v}" for k, v in meta]
    script, raw = ("compare.sh", "latest.jsonl") if comparison else ("serve.sh", "serve.jsonl")
    out += ["", f"Generated by `bench/{script}` (see `bench/README.md`); raw data in `{raw}`.", ""]
    workloads = (WORKLOADS if comparison else {}) | (
        {w: d for w, (_, d) in SERVE_WORKLOADS.items()} if serve else {})
    out += ["Workloads:", ""] + [f"- **{w}**: {d}" for w, d in workloads.items()] + [""]
    if serve:
        out += serve_section(res)
    if not comparison:
        return "\n".join(out + config_section(res))
    if not any(s == "varve" for (s, w, _) in res.by_key if w in WORKLOADS):
        out += ["> varve-bench was not run, so the varve column and the ratios are empty.", ""]

    out += table(
        res, "Throughput (records/s, higher is better)",
        "W5 counts reads. Ratios above 1× mean varve is faster. The machine limit is an upper "
        "bound: copying the records in RAM (W1, W2), one fdatasync per record (W3 1producer), "
        "memcpy bandwidth (W4).",
        ["W1", "W2", "W3", "W4", "W5"], "records_per_s", limit=throughput_limit)
    out += table(
        res, "Latency (µs: p50 / p99 / max, lower is better)",
        "W3: time until the append is acknowledged durable; W5: one read. Ratios compare p99.",
        ["W3", "W5"], "p99_us", cell=latency_cell(res))
    out += table(
        res, "CPU per record (µs, user + system, all threads; lower is better)",
        "From getrusage over the measured phase; background threads count.",
        ["W1", "W2", "W3", "W4", "W5"], "cpu_us_per_record")
    out += table(
        res, "Disk bytes per payload byte (lower is better)",
        "Allocated size of the database directory after close divided by key + value bytes.",
        ["W1", "W2"], "disk_bytes_per_payload_byte")
    out += table(
        res, "Syncs per record",
        "fsync + fdatasync calls made during the measured phase per record (LMDB also writes "
        "its meta page through an O_DSYNC descriptor, which is not counted).",
        ["W1", "W2", "W3"], "syncs_per_record")
    out += spread_section(res)
    out += machine_section(res)
    out += config_section(res)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="JSON lines file")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                    help="a line for the header (repeatable)")
    args = ap.parse_args()
    meta = [tuple(m.split("=", 1)) for m in args.meta if "=" in m]
    sys.stdout.write(render(Results(load(args.results)), meta) + "\n")


if __name__ == "__main__":
    main()
