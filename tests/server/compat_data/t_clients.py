# SPDX-License-Identifier: MIT
"""t_clients.py -- confluent-kafka-python and kafka-python producing and
consuming through `varve serve`: headers, null keys, tombstones and
timestamps compared field by field; offsets by time; DeleteRecords; every
compression codec; kafka-python's defaults with a consumer group."""
import os
import random
import threading
import time

from common import (Failure, Server, check, delete_records_v0, message_headers, summary, test,
                    wait_for)
import harness


def admin(srv):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": srv.bootstrap})


def create_topics(srv, specs):
    """specs: [(name, partitions, config)] through confluent AdminClient."""
    from confluent_kafka.admin import NewTopic
    a = admin(srv)  # kept alive until the futures are answered
    fs = a.create_topics([NewTopic(n, p, 1, config=c) for n, p, c in specs], request_timeout=10)
    for name, f in fs.items():
        try:
            f.result()
        except Exception as e:
            raise Failure("create_topics %s: %s" % (name, e))


def produce(srv, topic, records, **conf):
    """records: dicts with key, value, headers, timestamp, partition (each
    optional). Returns the delivered (partition, offset) per record, in
    order; any delivery error fails."""
    from confluent_kafka import Producer
    p = Producer(dict({"bootstrap.servers": srv.bootstrap, "linger.ms": 20}, **conf))
    out = [None] * len(records)
    errors = []

    def dr(i):
        def cb(err, msg):
            if err:
                errors.append((i, err))
            else:
                out[i] = (msg.partition(), msg.offset())
        return cb
    for i, r in enumerate(records):
        kw = {k: r[k] for k in ("key", "value", "headers", "timestamp", "partition") if k in r}
        while True:
            try:
                p.produce(topic, on_delivery=dr(i), **kw)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(30)
    check(left == 0 and not errors, "produce to %s: %d undelivered, errors %r"
          % (topic, left, errors[:3]))
    return out


def produce_error(srv, topic, key, value):
    """Produce one record that the broker should refuse: the error's name."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": srv.bootstrap, "message.send.max.retries": 0})
    errors = []
    p.produce(topic, key=key, value=value, on_delivery=lambda err, msg: errors.append(err))
    check(p.flush(20) == 0 and len(errors) == 1, "no delivery report")
    return errors[0].name() if errors[0] else None


def consume(srv, topic, partitions, count, start=None, timeout=30, **conf):
    """Read `count` records from the given partitions (assigned, no group
    membership) from `start` (default: the beginning)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    c = Consumer(dict({"bootstrap.servers": srv.bootstrap, "group.id": "reader",
                       "enable.auto.commit": False}, **conf))
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING if start is None else start)
              for p in partitions])
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        check(not m.error(), "consume %s: %s" % (topic, m.error()))
        got.append(m)
    c.close()
    check(len(got) == count, "read %d of %d records from %s" % (len(got), count, topic))
    return got


def fields(m):
    """What a consumer sees of a record, for comparison."""
    return {"key": m.key(), "value": m.value(), "headers": message_headers(m),
            "timestamp": m.timestamp(), "partition": m.partition(), "offset": m.offset()}


@test
def confluent_headers_keys_timestamps(st):
    """confluent-kafka Producer -> Consumer, field by field: headers (several,
    a repeated key, a null value, an empty value, binary bytes), null and
    empty keys, tombstones and a large value on a plain topic with the
    producer's CreateTime; keyed records and tombstones on a compacted topic
    made through AdminClient (cleanup.policy=compact), where a record without
    a key is refused with INVALID_RECORD as Kafka does; a LogAppendTime topic
    answers with the broker's clock and the log-append type."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME
    srv = Server(st)
    try:
        create_topics(srv, [("plain", 1, {}), ("compacted", 1, {"cleanup.policy": "compact"}),
                            ("appendtime", 1, {"message.timestamp.type": "LogAppendTime"})])
        base = int(time.time() * 1000) - 3600 * 1000  # an hour ago: not the broker's clock
        rng = random.Random(4)
        big = bytes(rng.randrange(256) for _ in range(200000))
        plain = [
            {"key": b"k1", "value": b"v1", "timestamp": base + 1,
             "headers": [("a", b"1"), ("a", b"2"), ("nul", None), ("empty", b""),
                         ("bin", bytes(range(256)))]},
            {"key": None, "value": b"no key", "timestamp": base + 2},
            {"key": b"", "value": b"", "timestamp": base + 3, "headers": [("only", b"x")]},
            {"key": b"k4", "value": None, "timestamp": base + 4},
            {"key": None, "value": None, "timestamp": base + 5, "headers": [("h", None)]},
            {"key": b"big", "value": big, "timestamp": base + 6},
            {"key": "ünïcode".encode(), "value": "välüe ✓".encode(), "timestamp": base + 7},
        ]
        compacted = [
            {"key": b"c1", "value": b"first", "timestamp": base + 10},
            {"key": b"c2", "value": b"second", "timestamp": base + 11, "headers": [("x", b"y")]},
            {"key": b"c1", "value": None, "timestamp": base + 12},
            {"key": b"c2", "value": None, "timestamp": base + 13, "headers": [("why", b"gone")]},
        ]
        where = produce(srv, "plain", plain)
        cwhere = produce(srv, "compacted", compacted)
        check(where == [(0, i) for i in range(len(plain))] and
              cwhere == [(0, i) for i in range(len(compacted))],
              "delivery offsets %r %r" % (where, cwhere))
        for topic, sent in (("plain", plain), ("compacted", compacted)):
            got = consume(srv, topic, [0], len(sent))
            for i, (r, m) in enumerate(zip(sent, got)):
                want = {"key": r.get("key"), "value": r.get("value"),
                        "headers": r.get("headers"),
                        "timestamp": (TIMESTAMP_CREATE_TIME, r["timestamp"]),
                        "partition": 0, "offset": i}
                check(fields(m) == want, "%s record %d: got %r, sent %r"
                      % (topic, i, short(fields(m)), short(want)))

        check(produce_error(srv, "compacted", None, b"no key") == "INVALID_RECORD",
              "a record without a key on a compacted topic was not refused as Kafka does")
        check(consume(srv, "compacted", [0], len(compacted))[-1].offset() == len(compacted) - 1,
              "the refused record was appended")

        before = int(time.time() * 1000)
        produce(srv, "appendtime", [{"key": b"a%d" % i, "value": b"x", "timestamp": base}
                                    for i in range(5)])
        after = int(time.time() * 1000)
        for m in consume(srv, "appendtime", [0], 5):
            kind, ts = m.timestamp()
            check(kind == TIMESTAMP_LOG_APPEND_TIME and before <= ts <= after,
                  "LogAppendTime topic: timestamp %r, produced between %d and %d"
                  % (m.timestamp(), before, after))
    finally:
        srv.stop()
    summary("confluent_headers_keys_timestamps", "%d plain and %d compacted-topic records equal "
            "field by field (headers, null/empty keys, tombstones, CreateTime); 5 "
            "LogAppendTime records carry the broker's time" % (len(plain), len(compacted)))


def short(d):
    """A record's fields with long values cut, for a readable failure."""
    return {k: (v[:40] + b"..." if isinstance(v, bytes) and len(v) > 40 else v)
            for k, v in d.items()}


@test
def confluent_offsets_for_times_delete_records(st):
    """offsets_for_times on records with known timestamps (a time between
    two records, the first one, the last one, past the end); then
    DeleteRecords moves the log start and a consumer starting from the
    beginning, or from an offset before the new start, begins exactly at it.
    confluent-kafka 1.7.0's AdminClient has no delete_records (and
    kafka-python 2.0.2 none either), so DeleteRecords v0 is sent raw."""
    from confluent_kafka import Consumer, OFFSET_BEGINNING, TopicPartition
    from confluent_kafka.admin import AdminClient
    srv = Server(st)
    try:
        create_topics(srv, [("timed", 2, {})])
        base = 1700000000000
        produce(srv, "timed", [{"value": b"r%d" % i, "timestamp": base + 100 * i,
                                "partition": 0} for i in range(20)])
        produce(srv, "timed", [{"value": b"s%d" % i, "timestamp": base + 50 * i,
                                "partition": 1} for i in range(10)])
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "oft"})
        queries = [(0, base + 350, 4), (0, base, 0), (0, base + 1900, 19), (0, base + 1901, -1),
                   (1, base + 449, 9), (1, base - 5, 0)]
        # one partition per call: a request names each partition once
        got = [c.offsets_for_times([TopicPartition("timed", p, ts)], timeout=10)[0].offset
               for p, ts, _ in queries]
        check(got == [q[2] for q in queries], "offsets_for_times: %r, expected %r"
              % (got, [q[2] for q in queries]))
        c.close()

        check(not hasattr(AdminClient, "delete_records"),
              "confluent-kafka has delete_records now: use it here")
        s = harness.connect(srv.port)
        err, low = delete_records_v0(s, "timed", 0, 7)
        s.close()
        check((err, low) == (0, 7), "DeleteRecords: error %d, low watermark %d" % (err, low))
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "after-delete",
                      "auto.offset.reset": "earliest"})
        check(c.get_watermark_offsets(TopicPartition("timed", 0), timeout=10) == (7, 20),
              "watermarks after DeleteRecords")
        c.close()
        for start in (OFFSET_BEGINNING, 3):
            got = consume(srv, "timed", [0], 13, start=start, **{"auto.offset.reset": "earliest"})
            check([(m.offset(), m.value()) for m in got] == [(i, b"r%d" % i) for i in range(7, 20)],
                  "reading from %d after DeleteRecords: %r" % (start, [m.offset() for m in got]))
        # a group member with no commit starts at the log start too
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "fresh",
                      "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
        c.subscribe(["timed"])
        first = {}
        deadline = time.monotonic() + 30
        while len(first) < 2 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                first.setdefault(m.partition(), m.offset())
        c.close()
        check(first == {0: 7, 1: 0}, "subscribed consumer began at %r" % first)
    finally:
        srv.stop()
    summary("confluent_offsets_for_times_delete_records", "%d offsets_for_times answers; "
            "DeleteRecords (raw v0) to 7; readers from the beginning, from 3 and a new group "
            "began at 7" % len(queries))


CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


@test
def confluent_compression(st):
    """A producer with each compression.type (none, gzip, snappy, lz4, zstd)
    writes 3,000 records (compressible text and random bytes, batched); a
    consumer reads every one back byte-exact, keys and headers included."""
    rng = random.Random(9)
    records = []
    for i in range(3000):
        if i % 3 == 0:
            value = os.urandom(rng.randrange(0, 2000))
        else:
            value = (b"record %d of a compressible stream; " % i) * rng.randrange(1, 60)
        records.append({"key": b"key-%d" % (i % 17), "value": value,
                        "headers": [("i", b"%d" % i)], "partition": i % 2})
    srv = Server(st)
    try:
        create_topics(srv, [("z-" + c, 2, {}) for c in CODECS])
        for codec in CODECS:
            where = produce(srv, "z-" + codec, records, **{"compression.type": codec,
                                                           "linger.ms": 50})
            got = consume(srv, "z-" + codec, [0, 1], len(records))
            at = {(m.partition(), m.offset()): m for m in got}
            check(len(at) == len(records), "%s: duplicate offsets read" % codec)
            for i, (r, w) in enumerate(zip(records, where)):
                m = at.get(w)
                check(m is not None and (m.key(), m.value(), message_headers(m)) ==
                      (r["key"], r["value"], r["headers"]),
                      "%s: record %d at %r differs" % (codec, i, w))
    finally:
        srv.stop()
    summary("confluent_compression", "%d records per codec %s read back byte-exact"
            % (len(records), "/".join(CODECS)))


class PollingConsumer(threading.Thread):
    """A kafka-python consumer polled on its own thread; records in self.got,
    its assignment in self.parts."""

    def __init__(self, consumer):
        threading.Thread.__init__(self, daemon=True)
        self.c = consumer
        self.got = []
        self.parts = []
        self.stop = False
        self.error = None

    def run(self):
        try:
            while not self.stop:
                for recs in self.c.poll(timeout_ms=100).values():
                    self.got.extend(recs)
                self.parts = sorted(tp.partition for tp in self.c.assignment())
        except Exception as e:  # reported by the test
            self.error = e
        self.c.close()

    def finish(self):
        self.stop = True
        self.join(30)


@test
def kafka_python_default_config(st):
    """kafka-python in its default configuration (it probes the broker's
    version from ApiVersions): KafkaAdminClient creates a 4-partition topic;
    two KafkaConsumers in one group share its partitions (two each); a
    KafkaProducer writes 2,000 keyed records; together the consumers see
    each exactly once, each only from its own partitions."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic
    srv = Server(st)
    consumers = []
    try:
        a = KafkaAdminClient(bootstrap_servers=srv.bootstrap)
        r = a.create_topics([NewTopic("kp", 4, 1)])
        check([e[1] for e in r.topic_errors] == [0], "create_topics: %r" % r)
        a.close()
        # One thread per consumer: a kafka-python consumer blocks in poll()
        # while its group rebalances, waiting for the other member.
        consumers = [PollingConsumer(KafkaConsumer("kp", bootstrap_servers=srv.bootstrap,
                                                   group_id="kpg")) for _ in range(2)]
        for c in consumers:
            c.start()

        def shared():
            parts = [c.parts for c in consumers]
            ok = sorted(parts[0] + parts[1]) == [0, 1, 2, 3] and all(len(p) == 2 for p in parts)
            return parts if ok else None
        parts = wait_for(shared, "two kafka-python consumers to share 4 partitions", timeout=40)
        p = KafkaProducer(bootstrap_servers=srv.bootstrap)
        api = p.config["api_version"]
        futures = [p.send("kp", key=b"key%d" % (i % 13), value=b"value %d" % i)
                   for i in range(2000)]
        p.flush(30)
        meta = [f.get(timeout=10) for f in futures]
        p.close()
        sent = {(m.partition, m.offset): b"value %d" % i for i, m in enumerate(meta)}
        wait_for(lambda: sum(len(c.got) for c in consumers) >= len(sent),
                 "the group to read 2,000 records", timeout=40)
        time.sleep(0.5)  # room for a duplicate to show
        for c in consumers:
            c.finish()
        check(parts == [c.parts for c in consumers], "the assignment changed: %r"
              % [c.parts for c in consumers])
        seen = {}
        for i in range(2):
            check(consumers[i].error is None, "consumer %d: %r" % (i, consumers[i].error))
            for rec in consumers[i].got:
                check(rec.partition in parts[i], "consumer %d read partition %d, assigned %r"
                      % (i, rec.partition, parts[i]))
                check((rec.partition, rec.offset) not in seen, "record %d/%d read twice"
                      % (rec.partition, rec.offset))
                seen[(rec.partition, rec.offset)] = rec.value
        check(seen == sent, "read %d records, %d produced, %d differ" % (
            len(seen), len(sent), sum(1 for k in sent if seen.get(k) != sent[k])))
    finally:
        for c in consumers:
            c.finish()
        srv.stop()
    summary("kafka_python_default_config", "kafka-python picked api_version %s; partitions %r; "
            "2000 records each read once" % (".".join(map(str, api)), parts))
