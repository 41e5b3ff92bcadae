#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end checks of varve-bench-serve (tools/varve-bench-serve.c).

usage: test_bench_serve.py VARVE_BENCH_SERVE VARVE RENDER_PY

Runs the benchmark with --quick (100,000 records, 500 timed round trips)
on a disk-backed directory under the build tree and checks what it
reports, that bench/render.py turns it into the server-vs-embedded table,
and that it fails cleanly (no hang, no broker left running) when the server
cannot start. Prints "N passed, N failed".
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

BENCH, VARVE, RENDER = sys.argv[1:4]
QUICK_RECORDS = 100000
QUICK_E2E = 500
EXPECTED_ROWS = {
    ("serve", "S1", "1producer-linger5"),
    ("serve", "S1", "client-enqueue-only"),
    ("serve", "S2", "8producers-linger0"),
    ("serve", "S3", "fetch"),
    ("serve", "S4", "e2e"),
    ("varve", "S1", "1producer-linger5"),
    ("varve", "S2", "8producers-linger0"),
    ("varve", "S2", "8producers-per-record"),
    ("varve", "S3", "fetch"),
    ("varve", "S4", "e2e"),
    ("varve", "S4", "e2e-durable"),
}

results = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print(f"FAIL {name}: {detail}", file=sys.stderr)


def run(args, parent, timeout=240):
    """(exit code, JSON rows, stderr) of one run in a fresh directory under parent."""
    work = tempfile.mkdtemp(dir=parent)
    p = subprocess.run([BENCH] + args + [os.path.join(work, "data")], capture_output=True,
                       text=True, timeout=timeout)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return p.returncode, rows, p.stderr, work


def broker_pids(stderr):
    return [int(m) for m in re.findall(r"varve serve \(pid (\d+)\)", stderr)]


def gone(pid):
    """The broker was reaped: no such process, or only an unrelated one."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"serve" not in f.read()
    except OSError:
        return True


def test_full_quick_run(parent):
    rc, rows, err, work = run(["--quick", "--varve", VARVE], parent)
    check("quick run exits 0", rc == 0, err[-2000:])
    keys = {(r["system"], r["workload"], r["variant"]) for r in rows}
    check("every server and embedded row is reported", keys == EXPECTED_ROWS,
          f"missing {EXPECTED_ROWS - keys}, extra {keys - EXPECTED_ROWS}")
    for r in rows:
        name = f"{r['system']}/{r['workload']}/{r['variant']}"
        want = QUICK_E2E if r["workload"] == "S4" else QUICK_RECORDS
        check(f"{name} counts every record", r.get("records") == want, r)
        check(f"{name} has a rate and a CPU cost",
              r.get("records_per_s", 0) > 0 and r.get("cpu_us_per_record", -1) >= 0, r)
        if r["variant"] == "client-enqueue-only":
            check(f"{name} counts the client's CPU", r.get("client_cpu_us_per_record", -1) >= 0
                  and "broker_cpu_us_per_record" not in r, r)
        elif r["system"] == "serve":
            check(f"{name} splits CPU between client and broker",
                  r.get("client_cpu_us_per_record", -1) >= 0
                  and r.get("broker_cpu_us_per_record", -1) >= 0, r)
        if r["workload"] == "S4":
            check(f"{name} latencies are ordered",
                  0 < r["p50_us"] <= r["p99_us"] <= r["max_us"], r)
    by = {(r["system"], r["workload"], r["variant"]): r for r in rows}
    s1 = by.get(("serve", "S1", "1producer-linger5"), {})
    # sync=always: the broker syncs, and batches records (a few per sync at least)
    check("S1 through the broker is synced", 0 < s1.get("syncs_per_record", 0) < 0.5, s1)
    check("S1's embedded analogue appends the broker's batch size",
          by.get(("varve", "S1", "1producer-linger5"), {}).get("records_per_batch", 0) > 1, by)
    s4 = by.get(("serve", "S4", "e2e"), {})
    # one record in flight: every record is its own batch and its own sync
    check("S4 stores one record per batch", s4.get("records_per_batch") == 1, s4)
    check("S4 syncs every record", s4.get("syncs_per_record", 0) >= 0.9, s4)
    for system in ("serve", "varve"):
        e2e = by.get((system, "S4", "e2e"), {})
        check(f"{system} S4 reports its acknowledgement latency",
              0 < e2e.get("ack_p50_us", 0) <= e2e.get("ack_p99_us", 0), e2e)
    per_record = by.get(("varve", "S2", "8producers-per-record"), {})
    check("the per-record analogue stores one record per batch",
          per_record.get("records_per_batch") == 1, per_record)
    pids = broker_pids(err)
    check("one broker was started", len(pids) == 1, err[-2000:])
    check("the broker is gone after the run", all(gone(p) for p in pids), pids)
    check("the data is removed", not os.path.exists(os.path.join(work, "data")),
          os.listdir(work))
    return rows


def test_render(rows, parent):
    path = os.path.join(parent, "serve.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for rnd in (1, 2):
            for r in rows:
                f.write(json.dumps(dict(r, round=rnd)) + "\n")
    p = subprocess.run([sys.executable, RENDER, path, "--meta", "mode=test"],
                       capture_output=True, text=True, timeout=60)
    check("render.py renders serve results", p.returncode == 0, p.stderr)
    table = [line for line in p.stdout.splitlines() if line.startswith("| S")]
    for w in ("S1", "S2", "S3", "S4"):
        goal_rows = [line for line in table if line.startswith(f"| {w} |")
                     and ("met (" in line or "missed" in line)]
        check(f"render.py judges {w} against its goal", len(goal_rows) == 1, p.stdout)
    check("render.py shows the spread over rounds", "Run-to-run spread" in p.stdout, p.stdout)
    check("render.py shows S4's acknowledgement latency", "acknowledgement alone" in p.stdout,
          p.stdout)


def test_embedded_only(parent):
    rc, rows, err, _ = run(["--quick", "--only", "S4/embedded", "--varve", VARVE], parent)
    check("--only S4/embedded exits 0", rc == 0, err[-2000:])
    check("--only S4/embedded starts no broker", not broker_pids(err), err[-2000:])
    check("--only S4/embedded reports only its rows",
          {(r["system"], r["workload"]) for r in rows} == {("varve", "S4")}, rows)


def test_server_that_never_starts(parent):
    t0 = time.monotonic()
    rc, rows, err, _ = run(["--quick", "--only", "S1/serve", "--varve", "/bin/false"], parent,
                           timeout=60)
    check("a server that exits before its ready line fails the run", rc == 1 and not rows,
          (rc, rows, err[-500:]))
    check("... with a message", "did not report a listener" in err, err[-500:])
    check("... at once, not after a timeout", time.monotonic() - t0 < 20, time.monotonic() - t0)
    rc, _, err, _ = run(["--quick", "--varve", "/nonexistent/varve"], parent, timeout=60)
    check("a missing varve program is refused", rc == 1 and "/nonexistent/varve" in err, err)


def test_refuses_tmpfs():
    if not os.path.isdir("/dev/shm"):
        return
    fs = subprocess.run(["stat", "-f", "-c", "%T", "/dev/shm"], capture_output=True, text=True)
    if fs.stdout.strip() != "tmpfs":
        return
    rc, _, err, work = run(["--quick", "--varve", VARVE], "/dev/shm", timeout=60)
    check("a tmpfs directory is refused", rc == 1 and "tmpfs" in err, err)
    os.rmdir(work)


def main():
    # the build tree is disk-backed (the benchmark refuses tmpfs)
    parent = tempfile.mkdtemp(prefix="bench-serve-", dir=os.environ.get("MESON_BUILD_ROOT", "."))
    rows = test_full_quick_run(parent)
    test_render(rows, parent)
    test_embedded_only(parent)
    test_server_that_never_starts(parent)
    test_refuses_tmpfs()
    subprocess.run(["rm", "-rf", parent], check=False)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
