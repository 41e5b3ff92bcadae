# SPDX-License-Identifier: MIT
"""t_groups.py -- three librdkafka high-level consumers (group_member.py) in
one group on an 8-partition topic while records are produced; one member is
SIGKILLed mid-stream. Run once with the range assignor (eager rebalancing)
and once with cooperative-sticky (incremental)."""
import collections
import os
import subprocess
import sys
import threading
import time

from common import (Failure, Server, check, stop_process, summary, test, varve_json_lines,
                    wait_for)

PARTITIONS = 8
TOTAL = 24000          # records produced while the group consumes
RATE = 2000            # records per second
KILL_AFTER = 0.35      # share of TOTAL produced when the victim is killed
SESSION_MS = 6000
HERE = os.path.dirname(os.path.abspath(__file__))


def read_member_log(path):
    """[(time, kind, args)] of a group_member.py log (a line cut by SIGKILL is
    dropped)."""
    events = []
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            a = line.split()
            events.append((float(a[0]), a[1], a[2:]))
    return events


def owned_now(events):
    owned = set()
    for _, kind, args in events:
        ps = {int(x) for x in args[0].split(",") if x} if args and kind in "ARL" else set()
        if kind == "A":
            owned |= ps
        elif kind in "RL":
            owned -= ps
    return owned


class Producer(threading.Thread):
    """TOTAL records, round robin over the partitions, at RATE per second;
    delivered (partition, offset) pairs in self.acked."""

    def __init__(self, bootstrap, topic):
        threading.Thread.__init__(self, daemon=True)
        from confluent_kafka import Producer as P
        self.p = P({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.topic = topic
        self.acked = set()
        self.sent = 0
        self.error = None

    def on_delivery(self, err, msg):
        if err:
            self.error = err
        else:
            self.acked.add((msg.partition(), msg.offset()))

    def run(self):
        t0 = time.monotonic()
        for i in range(TOTAL):
            delay = t0 + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.p.produce(self.topic, b"e%07d" % i, partition=i % PARTITIONS,
                           on_delivery=self.on_delivery)
            self.sent = i + 1
            self.p.poll(0)
        self.p.flush(30)


class Sampler(threading.Thread):
    """The group's committed offsets over time, as Kafka clients see them
    (OffsetFetch from a consumer that never joins) and as the store sees them
    (`varve group describe --json`, read-only beside the server)."""

    def __init__(self, bootstrap, store_dir, group, topic):
        threading.Thread.__init__(self, daemon=True)
        from confluent_kafka import Consumer, TopicPartition
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
        self.tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.store_dir, self.group = store_dir, group
        self.kafka = []   # [{partition: offset}]
        self.store = []
        self.stop = False
        self.error = None

    def run(self):
        n = 0
        try:
            while not self.stop:
                got = self.c.committed(self.tps, timeout=10)
                self.kafka.append({tp.partition: tp.offset for tp in got if tp.offset >= 0})
                if n % 4 == 0 and os.path.exists(os.path.join(self.store_dir, "meta")):
                    rows = describe(self.store_dir, self.group, missing_ok=True)
                    self.store.append({r["partition"]: r["committed"] for r in rows
                                       if r["committed"] is not None})
                n += 1
                time.sleep(0.25)
        except Exception as e:  # reported by the test
            self.error = e
        self.c.close()


def describe(store_dir, group, missing_ok=False):
    try:
        return [dict(r) for r in varve_json_lines("-d", store_dir, "group", "describe", group,
                                                    "--json")]
    except Failure:
        if missing_ok:
            return []
        raise


def never_backwards(samples, what):
    """Check that no partition's committed offset decreases from one sample
    to the next; returns the last sample of each partition."""
    last = {}
    for sample in samples:
        for p, o in sample.items():
            if o < last.get(p, -1):
                raise Failure("%s: partition %d committed offset went back from %d to %d"
                              % (what, p, last[p], o))
            last[p] = o
    return last


def check_duplicates(logs):
    """Every record processed more than once must have been in the earlier
    processor's uncommitted window: that member had not committed past it
    before the record was processed again. Returns {member: duplicates it
    caused}."""
    processed = collections.defaultdict(list)  # (p, o) -> [(time, member)]
    commits = collections.defaultdict(list)    # (member, p) -> [(time, offset)]
    for m, events in logs.items():
        for t, kind, args in events:
            if kind == "P":
                processed[(int(args[0]), int(args[1]))].append((t, m))
            elif kind == "C":
                commits[(m, int(args[0]))].append((t, int(args[1])))
    caused = collections.Counter()
    for (p, o), seen in processed.items():
        seen.sort()
        for (t1, m1), (t2, m2) in zip(seen, seen[1:]):
            past = [c for t, c in commits[(m1, p)] if t1 <= t < t2 and c > o]
            if past:
                raise Failure("partition %d offset %d was processed by member %d after member %d "
                              "had committed %d" % (p, o, m2, m1, past[0]))
            caused[m1] += 1
    return caused


def group_failover(st, strategy):
    st.cli("topic", "create", "events", "--partitions", str(PARTITIONS))
    srv = Server(st)
    group = "g-" + strategy
    logs = [os.path.join(st.tmp, "member%d.log" % i) for i in range(3)]
    members = []
    sampler = None
    try:
        for i in range(3):
            members.append(subprocess.Popen(
                [sys.executable, os.path.join(HERE, "group_member.py"), srv.bootstrap, group,
                 "events", strategy, logs[i]]))

        def balanced():
            if not all(os.path.exists(p) for p in logs):
                return None
            owned = [owned_now(read_member_log(p)) for p in logs]
            flat = sorted(p for o in owned for p in o)
            return owned if flat == list(range(PARTITIONS)) and all(owned) else None
        before = wait_for(balanced, "three members to share %d partitions" % PARTITIONS,
                          timeout=40, step=0.2)
        sampler = Sampler(srv.bootstrap, st.dir, group, "events")
        sampler.start()
        prod = Producer(srv.bootstrap, "events")
        prod.start()
        victim = 0
        wait_for(lambda: prod.sent >= KILL_AFTER * TOTAL, "production to reach the kill point",
                 timeout=30)
        victim_parts = owned_now(read_member_log(logs[victim]))
        members[victim].kill()
        members[victim].wait()
        t_kill = time.time()
        prod.join(60)
        check(not prod.is_alive() and prod.error is None and len(prod.acked) == TOTAL,
              "producer: %d acknowledged, error %r" % (len(prod.acked), prod.error))

        def all_processed():
            seen = set()
            for i in range(3):
                for _, kind, args in read_member_log(logs[i]):
                    if kind == "P":
                        seen.add((int(args[0]), int(args[1])))
            return prod.acked <= seen
        wait_for(all_processed, "every record to be processed", timeout=45, step=0.5)
        for i in (1, 2):
            check(stop_process(members[i]) == 0, "member %d exit %s" % (i, members[i].returncode))
        sampler.stop = True
        sampler.join(30)
        check(sampler.error is None, "sampling committed offsets: %r" % sampler.error)
        events = {i: read_member_log(logs[i]) for i in range(3)}

        # The victim's partitions moved within the session timeout (plus the
        # time a rebalance takes).
        taken = {}
        for i in (1, 2):
            for t, kind, args in events[i]:
                if kind == "A" and t > t_kill:
                    for p in args[0].split(","):
                        if p and int(p) in victim_parts:
                            taken.setdefault(int(p), t - t_kill)
        check(sorted(taken) == sorted(victim_parts), "partitions %r of the killed member; taken "
              "over: %r" % (sorted(victim_parts), taken))
        moved = max(taken.values())
        check(moved < SESSION_MS / 1000.0 + 10, "takeover after %.1fs" % moved)

        caused = check_duplicates(events)
        check(set(caused) <= {victim}, "duplicates caused by surviving members: %r" % caused)
        last_kafka = never_backwards(sampler.kafka, "OffsetFetch")
        never_backwards(sampler.store, "varve group describe")
        check(len(sampler.kafka) >= 10 and len(sampler.store) >= 3,
              "too few samples: %d, %d" % (len(sampler.kafka), len(sampler.store)))

        lag = compare_lag(srv, st, group)
        check(all(last_kafka.get(p, 0) <= lag[p][0] for p in lag), "final commits went back")
    finally:
        for m in members:
            stop_process(m, timeout=5)
        if sampler:
            sampler.stop = True
        srv.stop()
    processed = sum(1 for e in events.values() for _, k, _ in e if k == "P")
    summary("group_failover_" + strategy.split("-")[0],
            "%s: assignment %r; member 0 killed owning %r, its partitions taken over "
            "%.1fs later (session timeout %.0fs); %d records, %d processings, %d duplicates "
            "(all from the killed member's uncommitted window); %d+%d commit samples never "
            "went back; lag %r equal in OffsetFetch+ListOffsets and varve group describe" % (
                strategy, [sorted(b) for b in before], sorted(victim_parts), moved,
                SESSION_MS / 1000.0, TOTAL, processed, sum(caused.values()),
                len(sampler.kafka), len(sampler.store), {p: v[2] for p, v in lag.items()}))


def compare_lag(srv, st, group):
    """After the members stopped, produce a few more records, then compare
    the lag per partition as Kafka clients compute it (high watermark from
    ListOffsets minus the committed offset from OffsetFetch) with what
    `varve group describe` prints. Returns {partition: (committed, end, lag)}."""
    from confluent_kafka import Consumer, Producer as P, TopicPartition
    p = P({"bootstrap.servers": srv.bootstrap})
    for i in range(3 * PARTITIONS):
        if i % PARTITIONS < 5:
            p.produce("events", b"late%d" % i, partition=i % PARTITIONS)
    check(p.flush(20) == 0, "late records not delivered")
    c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": group})
    tps = [TopicPartition("events", q) for q in range(PARTITIONS)]
    committed = {tp.partition: tp.offset for tp in c.committed(tps, timeout=10)}
    kafka = {}
    for q in range(PARTITIONS):
        lo, hi = c.get_watermark_offsets(TopicPartition("events", q), timeout=10)
        kafka[q] = (committed[q], hi, hi - committed[q])
    c.close()
    rows = {r["partition"]: (r["committed"], r["end_offset"], r["lag"])
            for r in describe(st.dir, group) if r["topic"] == "events"}
    check(rows == kafka, "lag: varve group describe %r, Kafka clients %r" % (rows, kafka))
    check(sorted(v[2] for v in kafka.values()) == [0, 0, 0] + [3] * 5,
          "lag after the members committed everything and 15 more records: %r" % kafka)
    return kafka


@test
def group_failover_range(st):
    """See the module doc string (partition.assignment.strategy=range)."""
    group_failover(st, "range")


@test
def group_failover_cooperative(st):
    """See the module doc string (partition.assignment.strategy=cooperative-sticky)."""
    group_failover(st, "cooperative-sticky")
