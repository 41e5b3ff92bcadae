# SPDX-License-Identifier: MIT
"""group_member.py -- one member of a consumer group for t_groups.py: a
confluent-kafka (librdkafka) high-level consumer that logs everything it
does, so the test can check at-least-once processing and commits.

    /usr/bin/python3 group_member.py BOOTSTRAP GROUP TOPIC STRATEGY LOG

Manual commits (enable.auto.commit=false) of the offsets it processed:
every 200 records or 0.3 s, and for partitions being revoked before they
go. SIGTERM ends it: a last commit, close() (which leaves the group), exit 0.

LOG gets one line per event, written and flushed at once (the test may
SIGKILL this process at any moment), each starting with time.time():
    T A p,p,...   partitions assigned (cooperative: the ones added)
    T R p,p,...   partitions revoked (cooperative: the ones taken away)
    T L p,p,...   partitions lost (no commit possible)
    T P p o       record at offset o of partition p processed
    T C p o       offset o of partition p committed (the next to read)
    T E text      an error (a commit that failed is tried again later)
    T X           closed after SIGTERM
"""
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

COMMIT_EVERY = 200
COMMIT_SECONDS = 0.3


class Member:
    def __init__(self, bootstrap, group, topic, strategy, log):
        self.topic = topic
        self.log = open(log, "a", buffering=1)
        self.next = {}       # partition -> next offset to commit (processed + 1)
        self.committed = {}  # partition -> last offset committed
        self.owned = set()
        self.uncommitted = 0
        self.last_commit = time.monotonic()
        self.c = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group,
            "partition.assignment.strategy": strategy,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "reconnect.backoff.ms": 50, "log_level": 3,
        })
        self.c.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke,
                         on_lost=self.on_lost)

    def note(self, *what):
        self.log.write("%.6f %s\n" % (time.time(), " ".join(str(w) for w in what)))
        self.log.flush()

    def on_assign(self, c, parts):
        ps = [p.partition for p in parts]
        self.owned.update(ps)
        self.note("A", ",".join(map(str, ps)))

    def on_revoke(self, c, parts):
        ps = [p.partition for p in parts]
        self.commit(ps)
        self.owned.difference_update(ps)
        for p in ps:
            self.next.pop(p, None)
        self.note("R", ",".join(map(str, ps)))

    def on_lost(self, c, parts):
        ps = [p.partition for p in parts]
        self.owned.difference_update(ps)
        for p in ps:
            self.next.pop(p, None)
        self.note("L", ",".join(map(str, ps)))

    def commit(self, partitions=None):
        todo = [TopicPartition(self.topic, p, o) for p, o in sorted(self.next.items())
                if (partitions is None or p in partitions) and self.committed.get(p) != o]
        if not todo:
            return
        try:
            done = self.c.commit(offsets=todo, asynchronous=False)
        except KafkaException as e:
            self.note("E", "commit:", e.args[0].name())
            return
        for tp in done:
            if tp.error:
                self.note("E", "commit %d: %s" % (tp.partition, tp.error.name()))
                continue
            self.committed[tp.partition] = tp.offset
            self.note("C", tp.partition, tp.offset)
        self.uncommitted = 0
        self.last_commit = time.monotonic()

    def run(self, running):
        # poll(), not consume(): librdkafka 2.0.2's batch consume skips the
        # records it had queued for partitions that a cooperative rebalance
        # pauses and resumes (fixed in librdkafka 2.1.0).
        while running[0]:
            m = self.c.poll(0.1)
            if m is not None and m.error():
                self.note("E", "consume:", m.error().name())
            elif m is not None:
                self.note("P", m.partition(), m.offset())
                self.next[m.partition()] = m.offset() + 1
                self.uncommitted += 1
            if self.uncommitted >= COMMIT_EVERY or (
                    self.uncommitted and time.monotonic() - self.last_commit > COMMIT_SECONDS):
                self.commit()
        self.commit()
        self.c.close()
        self.note("X")


def main():
    if len(sys.argv) != 6:
        sys.stderr.write("usage: group_member.py BOOTSTRAP GROUP TOPIC STRATEGY LOG\n")
        return 2
    running = [True]

    def stop(sig, frame):
        running[0] = False
    signal.signal(signal.SIGTERM, stop)
    Member(*sys.argv[1:6]).run(running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
