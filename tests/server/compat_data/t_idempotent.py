# SPDX-License-Identifier: MIT
"""t_idempotent.py -- an idempotent librdkafka producer (idem_producer.c)
writes numbered records while the server is SIGKILLed and restarted on the
same port and store three times; afterwards every acknowledged record is in
the log exactly once, at the offset it was acknowledged with, and each
partition holds its records in production order.

VARVE_IDEM_COUNT sets the number of records (default 1,000,000)."""
import collections
import os
import re
import select
import subprocess
import tempfile
import time

import common
from common import (SKIP, Failure, Server, check, crash, kcat, start_on_port, stop_process, summary,
                    test)

PARTITIONS = 4
KILL_AT = (0.20, 0.45, 0.70)  # fractions of the records delivered
RUN_LIMIT = 95.0              # seconds for the producer, restarts included


# The 40 bytes after the number depend on n % 26 only: build them once.
_TAILS = [bytes(ord("a") + (n * 7 + i * 13) % 26 for i in range(40)) for n in range(26)]


def idem_value(n):
    """The value idem_producer.c gives record n."""
    return b"n=%09d;" % n + _TAILS[n % 26]


def read_report(path):
    """(delivered {number: (partition, offset)}, failed [(number, error)])."""
    ok, failed = {}, []
    with open(path) as f:
        for line in f:
            a = line.split()
            if a[0] == "F":
                failed.append((int(a[1]), a[2]))
            else:
                n = int(a[2])
                check(n not in ok, "record %d reported delivered twice" % n)
                ok[n] = (int(a[0]), int(a[1]))
    return ok, failed


def read_log(srv):
    """{(partition, offset): number} of the whole topic, read with kcat;
    checks every key and value on the way."""
    out = kcat("-b", srv.bootstrap, "-C", "-t", "idem", "-e", "-q", "-o", "beginning",
               "-f", r"%p %o %k %s\n", timeout=90)
    log = {}
    for line in out.splitlines():
        p, o, k, v = line.split(b" ")
        n = int(v[2:11])
        check(v == idem_value(n) and k == b"key-%d" % (n % 32),
              "partition %s offset %s holds %r %r" % (p, o, k, v))
        log[(int(p), int(o))] = n
    return log


def check_log(log, delivered):
    """The checks a user relies on; returns per-partition counts."""
    per_part = collections.defaultdict(list)
    for (p, o), n in sorted(log.items()):
        per_part[p].append((o, n))
    times = collections.Counter(log.values())
    dups = [n for n, c in times.items() if c > 1]
    check(not dups, "%d records written more than once, e.g. %r at %r" % (
        len(dups), dups[:3], [k for k, v in log.items() if v in dups[:1]]))
    for p, rows in per_part.items():
        check([o for o, _ in rows] == list(range(len(rows))),
              "partition %d: offsets not dense from 0" % p)
        for i in range(1, len(rows)):
            check(rows[i][1] > rows[i - 1][1], "partition %d offset %d: record %d after record "
                  "%d, not in production order" % (p, rows[i][0], rows[i][1], rows[i - 1][1]))
    wrong = [(n, po, log.get(po)) for n, po in delivered.items() if log.get(po) != n]
    check(not wrong, "%d acknowledged records not at their offset, e.g. (number, "
          "(partition, offset), found there) %r" % (len(wrong), wrong[:3]))
    return {p: len(rows) for p, rows in sorted(per_part.items())}


class Progress:
    """The producer's stdout: 'progress N' lines, then the 'done' line."""

    def __init__(self, proc):
        self.proc = proc
        self.delivered = 0
        self.done = None

    def pump(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return
        line = self.proc.stdout.readline()
        if not line:
            if self.done is None:
                self.proc.wait(10)
                self.done = "exited %d without a summary" % self.proc.returncode
            return
        m = re.match(r"progress (\d+)", line)
        if m:
            self.delivered = int(m.group(1))
        elif line.startswith("done "):
            self.done = line.strip()


@test
def idempotent_producer_restarts(st):
    """See the module doc string."""
    if not common.BIN["idem"]:
        print("skipped: idem_producer was not built (no librdkafka headers)")
        return SKIP
    count = int(os.environ.get("VARVE_IDEM_COUNT", "1000000"))
    st.cli("topic", "create", "idem", "--partitions", str(PARTITIONS))
    srv = Server(st, metrics=False)
    port = srv.port
    report = os.path.join(st.tmp, "deliveries")
    errf = tempfile.TemporaryFile(mode="w+", dir=st.tmp)
    t0 = time.monotonic()
    prod = subprocess.Popen([common.BIN["idem"], srv.bootstrap, "idem", str(count), report],
                            stdout=subprocess.PIPE, stderr=errf, text=True)
    kills = []
    pg = Progress(prod)
    try:
        for frac in KILL_AT:
            while pg.done is None and pg.delivered < frac * count:
                check(time.monotonic() - t0 < RUN_LIMIT, "producer stalled at %d deliveries"
                      % pg.delivered)
                pg.pump(0.5)
            if pg.done is not None:
                break
            crash(srv)
            kills.append((pg.delivered, round(time.monotonic() - t0, 1)))
            time.sleep(0.3)  # the producer meets a refused connection
            srv = start_on_port(st, port)
        while pg.done is None:
            check(time.monotonic() - t0 < RUN_LIMIT, "producer not done in %.0fs (%d delivered)"
                  % (RUN_LIMIT, pg.delivered))
            pg.pump(0.5)
        produce_secs = time.monotonic() - t0
        prod.wait(10)
        m = re.match(r"done delivered=(\d+) failed=(\d+) unsent=(\d+) outstanding=(\d+) "
                     r"retries=(\d+) seconds=([\d.]+) fatal=(.*)$", pg.done)
        check(m, "producer: %s; stderr: %s" % (pg.done, tail(errf)))
        check(len(kills) == len(KILL_AT), "only %d restarts happened before the producer "
              "finished" % len(kills))
        delivered, failed = read_report(report)
        errors = collections.Counter(e for _, e in failed)
        check(m.group(7) == "none", "the producer raised a fatal error: %s (%d delivered, "
              "%d failed)" % (m.group(7), len(delivered), len(failed)))
        check(not failed and len(delivered) == count and prod.returncode == 0,
              "%d of %d delivered, %d failed (%r), unsent %s, outstanding %s"
              % (len(delivered), count, len(failed), dict(errors), m.group(3), m.group(4)))
        t_read = time.monotonic()
        log = read_log(srv)
        read_secs = time.monotonic() - t_read
        per_part = check_log(log, delivered)
        check(len(log) == count, "the log holds %d records, %d were produced" % (len(log), count))
    except Failure as e:
        raise Failure("%s (restarts at (delivered, second): %r)" % (e, kills))
    finally:
        stop_process(prod, timeout=5)
        srv.stop()
    summary("idempotent_producer_restarts",
            "%d records produced in %.1fs with %d SIGKILL restarts at (delivered, second) %r; "
            "%d delivered, %d failed, %s requests retried; log read back in %.1fs: each record "
            "once at its acknowledged offset, per-partition counts %r" % (
                count, produce_secs, len(kills), kills, len(delivered), len(failed),
                m.group(5), read_secs, per_part))


def tail(f, n=3000):
    f.seek(0)
    return f.read()[-n:]
