# SPDX-License-Identifier: MIT
"""t_kcat.py -- kcat (librdkafka's command-line client) producing and
consuming through `varve serve`: metadata, 100,000 keyed lines read back
byte-exact from the beginning, from an offset and from a timestamp, and a
balanced consumer group of three kcat processes."""
import collections
import json
import os
import random
import re
import subprocess
import tempfile
import time

from common import (FRAMED, Server, check, kcat, kcat_read, parse_framed, stop_process, summary,
                    test, wait_for)

# Bytes a value may hold besides its number: everything but the newline (kcat
# -P splits its input at newlines), UTF-8 text, NUL, CR, high bytes.
VALUE_BYTES = bytes(b for b in range(256) if b != 0x0A)


def keyed_lines(first, count, rng):
    """(key, value) pairs numbered from `first`: 50 keys, values of 0-300
    random bytes after a unique number (which may hold ':' -- only the
    first one splits)."""
    out = []
    for i in range(first, first + count):
        key = ("key%02d" % (i % 50)).encode()
        tail = bytes(rng.choice(VALUE_BYTES) for _ in range(rng.randrange(0, 300) if i % 7 else 0))
        out.append((key, b"v%07d:" % i + tail + "é✓".encode()))
    return out


def kcat_produce(srv, topic, pairs):
    data = b"".join(k + b":" + v + b"\n" for k, v in pairs)
    kcat("-b", srv.bootstrap, "-P", "-t", topic, "-K:", stdin=data, timeout=90)


def number_of(value):
    return int(value[1:8])


@test
def kcat_produce_consume(st):
    """kcat -P writes 100,000 keyed lines in two phases to an auto-created
    3-partition topic; kcat -L lists it; kcat -C -e reads every record back
    byte-exact (per partition in production order, one key always in one
    partition, offsets dense from 0), from the beginning, from -o N (every
    partition from offset N) and from -o s@T, T taken between the phases
    (every partition starts exactly at its first record of phase B)."""
    rng = random.Random(12)
    phase_a = keyed_lines(0, 60000, rng)
    phase_b = keyed_lines(60000, 40000, rng)
    srv = Server(st, "--default-partitions", "3")
    try:
        kcat_produce(srv, "lines", phase_a)
        time.sleep(0.05)
        t_mid = int(time.time() * 1000)
        time.sleep(0.05)
        kcat_produce(srv, "lines", phase_b)

        md = json.loads(kcat("-b", srv.bootstrap, "-L", "-J", "-t", "lines"))
        parts = md["topics"][0]["partitions"]
        check(md["topics"][0]["topic"] == "lines" and [p["partition"] for p in parts] == [0, 1, 2],
              "kcat -L: %r" % md["topics"])

        recs = kcat_read(srv, "lines", "-o", "beginning")
        sent = phase_a + phase_b
        check(len(recs) == len(sent), "read %d records of %d" % (len(recs), len(sent)))
        by_part = collections.defaultdict(list)
        key_part = {}
        for p, o, ts, k, v in recs:
            by_part[p].append((o, ts, k, v))
            check(key_part.setdefault(k, p) == p, "key %r in two partitions" % k)
        check(sorted(by_part) == [0, 1, 2], "partitions used: %r" % sorted(by_part))
        for p, rows in by_part.items():
            check([r[0] for r in rows] == list(range(len(rows))), "partition %d offsets" % p)
            nums = [number_of(r[3]) for r in rows]
            check(nums == sorted(nums), "partition %d out of production order" % p)
            for o, ts, k, v in rows:
                check((k, v) == sent[number_of(v)], "record %d of partition %d differs" % (o, p))
                check((ts < t_mid) == (number_of(v) < 60000),
                      "record %d timestamp %d on the wrong side of %d" % (number_of(v), ts, t_mid))

        mid = 12345
        got = kcat_read(srv, "lines", "-o", str(mid))
        want = [(p, o, ts, k, v) for p in sorted(by_part) for (o, ts, k, v) in by_part[p][mid:]]
        check(sorted(got) == sorted(want), "-o %d: %d records, %d expected" % (mid, len(got), len(want)))
        from_mid = len(got)

        got = kcat_read(srv, "lines", "-o", "s@%d" % t_mid)
        first = {}
        for p, o, ts, k, v in got:
            first.setdefault(p, number_of(v))
        want = [(p, o, ts, k, v) for p in sorted(by_part) for (o, ts, k, v) in by_part[p]
                if number_of(v) >= 60000]
        check(sorted(got) == sorted(want), "-o s@%d: %d records, %d expected (first numbers %r)"
              % (t_mid, len(got), len(want), first))
    finally:
        srv.stop()
    summary("kcat_produce_consume", "%d records in %d partitions byte-exact from the start, "
            "%d from -o %d, %d from -o s@T" % (len(recs), len(by_part), from_mid, mid, len(got)))


ASSIGN = re.compile(r"rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)$", re.M)


def current_assignment(errfile):
    """The partitions a kcat -G process holds, from its last rebalance line."""
    with open(errfile, errors="replace") as f:
        events = ASSIGN.findall(f.read())
    if not events or events[-1][0] != "assigned":
        return None
    return sorted(int(x) for x in re.findall(r"\[(\d+)\]", events[-1][1]))


def seen_count(outfile):
    """Records printed so far (two lines each: values hold no newline)."""
    with open(outfile, "rb") as f:
        return f.read().count(b"\n") // 2


class Rebalanced(Exception):
    """The group rebalanced after it was balanced (kcat -o beginning then
    reads its new partitions again from the start)."""


def balanced_group_once(st, topic, group):
    st.cli("topic", "create", topic, "--partitions", "6")
    srv = Server(st)
    tmp = tempfile.mkdtemp(prefix="kcatg-", dir=st.tmp)
    procs = []
    try:
        for i in range(3):
            out = open(os.path.join(tmp, "out%d" % i), "wb")
            err = open(os.path.join(tmp, "err%d" % i), "wb")
            procs.append(subprocess.Popen(
                ["kcat", "-b", srv.bootstrap, "-G", group, "-o", "beginning", "-u",
                 "-f", FRAMED, "-X", "session.timeout.ms=30000",
                 "-X", "heartbeat.interval.ms=500", topic], stdout=out, stderr=err))
            # (a long session: on a loaded machine a member that misses its
            # heartbeats for a shorter one is rebalanced out and back, and
            # re-reads what it had not committed; failover has its own test)
            out.close()
            err.close()

        def balanced():
            a = [current_assignment(os.path.join(tmp, "err%d" % i)) for i in range(3)]
            if any(x is None for x in a):
                return None
            flat = sorted(p for x in a for p in x)
            return a if flat == list(range(6)) and all(a) else None
        assignment = wait_for(balanced, "three kcat members to share six partitions", timeout=45)
        errs = [os.path.join(tmp, "err%d" % i) for i in range(3)]

        def rebalances():
            out = []
            for e in errs:
                with open(e, errors="replace") as f:
                    out.append(len(ASSIGN.findall(f.read())))
            return out
        at_balance = rebalances()

        rng = random.Random(5)
        pairs = [(b"g%d" % (i % 97), b"m%07d-" % i + bytes(rng.choice(VALUE_BYTES)
                                                           for _ in range(rng.randrange(60))))
                 for i in range(30000)]
        kcat_produce(srv, topic, pairs)
        wait_for(lambda: sum(seen_count(os.path.join(tmp, "out%d" % i)) for i in range(3)) >= 30000,
                 "the group to read 30,000 records", timeout=60, step=0.2)
        # Any duplicate would come after the count is reached: give it a moment.
        time.sleep(1.0)
        for p in procs:
            stop_process(p)
        seen = collections.Counter()
        for i in range(3):
            with open(os.path.join(tmp, "out%d" % i), "rb") as f:
                recs = parse_framed(f.read())
            parts = sorted({r[0] for r in recs})
            check(set(parts) <= set(assignment[i]),
                  "member %d read partitions %r, assigned %r" % (i, parts, assignment[i]))
            for p, o, ts, k, v in recs:
                seen[(k, v)] += 1
        dups = [kv for kv, n in seen.items() if n > 1]
        if dups and rebalances() != at_balance:
            raise Rebalanced("%d records read twice after a rebalance (rebalance lines per "
                             "member when balanced %r, at the end %r)"
                             % (len(dups), at_balance, rebalances()))
        check(not dups, "%d records read more than once, e.g. %r; rebalance lines per member "
              "when balanced %r, at the end %r" % (len(dups), dups[:3], at_balance, rebalances()))
        missing = [kv for kv in pairs if kv not in seen]
        check(not missing and len(seen) == len(pairs),
              "%d records never read, %d unexpected" % (len(missing), len(seen) - len(pairs)
                                                          + len(missing)))
    finally:
        for p in procs:
            stop_process(p)
        srv.stop()
    return assignment


@test
def kcat_balanced_group(st):
    """Three kcat -G processes in one group on a 6-partition topic: once the
    group is balanced (disjoint assignments covering every partition),
    30,000 records produced with kcat -P are read by them exactly once in
    all, each process reading only its own partitions. If the group
    rebalances after it was balanced (seen on a starved machine; kcat then
    rereads from the start), the run is repeated once on a new topic and
    group, and says so; duplicates without a rebalance fail at once."""
    note = ""
    try:
        assignment = balanced_group_once(st, "grouped", "kgroup")
    except Rebalanced as e:
        note = " (second run: the first rebalanced, %s)" % e
        assignment = balanced_group_once(st, "grouped2", "kgroup2")
    summary("kcat_balanced_group", "3 kcat -G members, assignments %r, 30000 records each read "
            "exactly once%s" % (assignment, note))
