# SPDX-License-Identifier: MIT
"""compat.py -- `varve serve` against real Kafka clients and hostile input.

    /usr/bin/python3 compat.py VARVE_BINARY TEST_NAME

meson registers every test in TESTS as its own test (suite 'compat'), so
each runs on a fresh store and server. Each test starts `varve serve` (see
harness.py), runs its client, checks what the client saw and what the store
holds, and stops the server with SIGTERM, which must end with exit 0 and a
store that opens clean. Clients: kcat 1.7.1, confluent-kafka-python 1.7.0
(librdkafka 2.0.2) and kafka-python 2.0.2, as installed on the build machine.
"""
import json
import re
import resource
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Failure, Server, Store, check, wait_for  # noqa: E402

VARVE = None
TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def kcat(*args, timeout=20):
    p = subprocess.run(["kcat"] + list(args), capture_output=True, text=True, timeout=timeout)
    check(p.returncode == 0, "kcat %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def kcat_metadata(srv, *args):
    out = kcat("-b", srv.bootstrap, "-L", "-J", "-m", "10", *args)
    md = json.loads(out)
    return {t["topic"]: t for t in md["topics"]}, md


def confluent_admin(srv):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": srv.bootstrap})


def results(futures):
    """{name: None or the KafkaError code name} of an admin call's futures."""
    out = {}
    for name, f in futures.items():
        try:
            f.result()
            out[name] = None
        except Exception as e:  # KafkaException wraps a KafkaError
            out[name] = e.args[0].name() if e.args and hasattr(e.args[0], "name") else repr(e)
    return out


# ---- metadata ---------------------------------------------------------------------------

@test
def kcat_metadata_lists_topics(st):
    """kcat -L shows one broker (node 0 at the listener) and every topic with
    its partitions, leader 0, replicas and ISR [0]: topics made with the CLI
    before the server started and one made through the admin API."""
    st.cli("topic", "create", "cli-made", "--partitions", "3")
    srv = Server(st)
    try:
        from confluent_kafka.admin import NewTopic
        a = confluent_admin(srv)
        r = results(a.create_topics([NewTopic("api-made", 2, 1)], request_timeout=10))
        check(r == {"api-made": None}, "create_topics: %r" % r)
        topics, md = kcat_metadata(srv)
        check(md["brokers"] == [{"id": 0, "name": "127.0.0.1:%d" % srv.port}],
              "brokers: %r" % md["brokers"])
        check(sorted(topics) == ["api-made", "cli-made"], "topics: %r" % sorted(topics))
        for name, n in (("cli-made", 3), ("api-made", 2)):
            parts = topics[name]["partitions"]
            check([p["partition"] for p in parts] == list(range(n)), "%s partitions" % name)
            for p in parts:
                check(p["leader"] == 0 and [r["id"] for r in p["replicas"]] == [0]
                      and [r["id"] for r in p["isrs"]] == [0], "%s: %r" % (name, p))
    finally:
        srv.stop()
    check("api-made" in st.cli("topic", "list").stdout, "api-made not in the store")


@test
def metadata_auto_create(st):
    """A Metadata request naming an unknown topic creates it (default
    --default-partitions) when auto-creation is on, and not when it is off."""
    srv = Server(st, "--default-partitions", "4")
    try:
        topics, _ = kcat_metadata(srv, "-t", "auto1")
        check("auto1" in topics and len(topics["auto1"]["partitions"]) == 4,
              "auto1 not created with 4 partitions: %r" % topics)
    finally:
        srv.stop()
    srv = Server(st, "--no-auto-create-topics")
    try:
        topics, _ = kcat_metadata(srv, "-t", "auto2")
        check(topics["auto2"].get("error") is not None, "auto2 reported without an error")
        topics, _ = kcat_metadata(srv)
        check(sorted(topics) == ["auto1"], "topics: %r" % sorted(topics))
    finally:
        srv.stop()


@test
def advertised_address(st):
    """--advertise is what Metadata tells clients and what <store>/SERVER
    holds; the store gets a CLUSTER_ID that stays the same across restarts."""
    srv = Server(st, "--advertise", "kafka.example:19092")
    try:
        s = harness.connect(srv.port)
        s.sendall(harness.request(3, 0, 3, struct.pack(">i", 0)))  # Metadata v0
        f = harness.recv_frame(s)
        corr, nbrokers, node, hlen = struct.unpack(">iiih", f[:14])
        host = f[14:14 + hlen].decode()
        (port,) = struct.unpack(">i", f[14 + hlen:18 + hlen])
        check((corr, nbrokers, node, host, port) == (3, 1, 0, "kafka.example", 19092),
              "Metadata broker: %r" % ((corr, nbrokers, node, host, port),))
        s.close()
        check(open(st.dir + "/SERVER").read() == "kafka.example:19092\n", "SERVER file")
        cid = open(st.dir + "/CLUSTER_ID").read().strip()
        check(re.fullmatch(r"[A-Za-z0-9_-]{22}", cid), "cluster id %r" % cid)
    finally:
        srv.stop()
    srv = Server(st)
    try:
        check(open(st.dir + "/CLUSTER_ID").read().strip() == cid, "cluster id changed")
        _, md = kcat_metadata(srv)
        check(md["brokers"][0]["name"] == "127.0.0.1:%d" % srv.port, "default advertise")
    finally:
        srv.stop()


# ---- topics and configs ----------------------------------------------------------------------

@test
def admin_create_describe_delete(st):
    """confluent_kafka AdminClient: create_topics with configs (stored in the
    store's topic configuration), validate_only, Kafka's errors; then
    describe_configs and delete_topics."""
    from confluent_kafka.admin import ConfigResource, NewTopic
    st.cli("topic", "create", "exists")
    srv = Server(st)
    try:
        a = confluent_admin(srv)
        cfg = {"retention.ms": "3600000", "cleanup.policy": "compact",
               "compression.type": "lz4", "segment.bytes": "1048576",
               "message.timestamp.type": "LogAppendTime"}
        r = results(a.create_topics([
            NewTopic("good", 3, 1, config=cfg),
            NewTopic("rf3", 1, 3),
            NewTopic("badcfg", 1, 1, config={"retention.ms": "soon"}),
            NewTopic("unknowncfg", 1, 1, config={"no.such.config": "1"}),
            NewTopic("exists", 1, 1),
            NewTopic("x" * 201, 1, 1),
            NewTopic("bad/name", 1, 1),
        ], request_timeout=10))
        check(r == {"good": None, "rf3": "INVALID_REPLICATION_FACTOR", "badcfg": "INVALID_CONFIG",
                    "unknowncfg": "INVALID_CONFIG", "exists": "TOPIC_ALREADY_EXISTS",
                    "x" * 201: "TOPIC_EXCEPTION", "bad/name": "TOPIC_EXCEPTION"},
              "create_topics: %r" % r)
        r = results(a.create_topics([NewTopic("dry", 1, 1)], validate_only=True,
                                    request_timeout=10))
        check(r == {"dry": None}, "validate_only: %r" % r)
        check(sorted(a.list_topics(timeout=10).topics) == ["exists", "good"],
              "validate_only created a topic")
        res = a.describe_configs([ConfigResource("topic", "good")])
        entries = list(res.values())[0].result()
        got = {k: entries[k].value for k in cfg}
        check(got == cfg, "describe_configs: %r" % got)
        check(entries["retention.bytes"].is_default and not entries["retention.ms"].is_default,
              "default flags")
        r = results(a.delete_topics(["exists", "missing"], request_timeout=10))
        check(r == {"exists": None, "missing": "UNKNOWN_TOPIC_OR_PART"}, "delete_topics: %r" % r)
    finally:
        srv.stop()
    out = st.cli("topic", "describe", "good").stdout
    check(re.search(r"compact", out) and re.search(r"lz4", out), "store config: " + out)
    check(st.cli("topic", "list").stdout.split() == ["good"], "topics left in the store")


@test
def kafka_python_admin_topics(st):
    """kafka-python's KafkaAdminClient in its default configuration (it
    probes the broker version from ApiVersions): create, list, describe and
    delete topics."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    srv = Server(st)
    try:
        a = KafkaAdminClient(bootstrap_servers=srv.bootstrap, request_timeout_ms=10000)
        r = a.create_topics([NewTopic("kp1", 2, 1, topic_configs={"retention.ms": "60000"}),
                             NewTopic("kp2", 1, 1)])
        check([e[1] for e in r.topic_errors] == [0, 0], "create_topics: %r" % r)
        check(sorted(a.list_topics()) == ["kp1", "kp2"], "list_topics")
        d = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp1")])
        entries = {e[0]: e[1] for e in d[0].resources[0][4]}
        check(entries.get("retention.ms") == "60000", "describe_configs: %r" % entries)
        r = a.delete_topics(["kp2"])
        check([e[1] for e in r.topic_error_codes] == [0], "delete_topics: %r" % r)
        check(sorted(a.list_topics()) == ["kp1"], "list_topics after delete")
        a.close()
    finally:
        srv.stop()


def advertises(srv, key):
    s = harness.connect(srv.port)
    try:
        return key in harness.api_versions_v0(s)[2]
    finally:
        s.close()


@test
def admin_alter_partitions_delete_records(st):
    """AlterConfigs (confluent alter_configs: the topic's configs are
    replaced, unnamed ones back to defaults), CreatePartitions (confluent
    create_partitions and kafka-python's), DeleteRecords (the log start
    moves; ListOffsets earliest follows)."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import ConfigResource, NewPartitions
    st.cli("topic", "create", "grow", "--partitions", "2", "--retention", "1d")
    st.produce("grow", ["r%d" % i for i in range(8)], "-p", "0")
    srv = Server(st)
    try:
        check(advertises(srv, 37) and advertises(srv, 21) and advertises(srv, 44),
              "CreatePartitions, DeleteRecords or IncrementalAlterConfigs not advertised")
        a = confluent_admin(srv)
        res = ConfigResource("topic", "grow", set_config={"cleanup.policy": "compact"})
        r = results(a.alter_configs([res], request_timeout=10))
        check(list(r.values()) == [None], "alter_configs: %r" % r)
        entries = list(a.describe_configs([ConfigResource("topic", "grow")]).values())[0].result()
        check(entries["cleanup.policy"].value == "compact", "policy not altered")
        check(entries["retention.ms"].value == "-1", "AlterConfigs kept an unnamed config")
        r = results(a.create_partitions([NewPartitions("grow", 5)], request_timeout=10))
        check(r == {"grow": None}, "create_partitions: %r" % r)
        r = results(a.create_partitions([NewPartitions("grow", 3)], request_timeout=10))
        check(r == {"grow": "INVALID_PARTITIONS"}, "shrinking: %r" % r)
        topics, _ = kcat_metadata(srv)
        check(len(topics["grow"]["partitions"]) == 5, "partitions after growing")
        from kafka import KafkaAdminClient
        from kafka.admin import NewPartitions as KNP
        k = KafkaAdminClient(bootstrap_servers=srv.bootstrap)
        kr = k.create_partitions({"grow": KNP(6)})
        check([e[1] for e in kr.topic_errors] == [0], "kafka-python create_partitions: %r" % kr)
        k.close()
        # kafka-python 2.0.2 has no DeleteRecords; send it raw (v0)
        body = struct.pack(">ih", 1, 4) + b"grow" + struct.pack(">iiqi", 1, 0, 5, 10000)
        s = harness.connect(srv.port)
        s.sendall(harness.request(21, 0, 9, body))
        f = harness.recv_frame(s)
        s.close()
        low, err = struct.unpack(">qh", f[4 + 4 + 4 + 2 + 4 + 4 + 4:][:10])
        check((low, err) == (5, 0), "DeleteRecords: low watermark %d error %d" % (low, err))
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "dr"})
        check(c.get_watermark_offsets(TopicPartition("grow", 0), timeout=10) == (5, 8),
              "watermarks after DeleteRecords")
        c.close()
    finally:
        srv.stop()
    out = st.cli("topic", "describe", "grow").stdout
    check("compact" in out, "store config: " + out)


# ---- offsets ------------------------------------------------------------------------------------

@test
def list_offsets(st):
    """ListOffsets on a topic filled with the CLI before the server started:
    watermarks (earliest = log start, latest = log end) and offsets by time
    (the first record at or after the time; -1 past the last one), through
    confluent_kafka, kafka-python and kcat."""
    from confluent_kafka import Consumer, TopicPartition
    st.cli("topic", "create", "timed", "--partitions", "2")
    base = 1700000000000
    st.produce("timed", ['{"value":"v%d","timestamp":%d}' % (i, base + 1000 * i)
                         for i in range(10)], "--json", "-p", "1")
    srv = Server(st)
    try:
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "lo"})
        check(c.get_watermark_offsets(TopicPartition("timed", 1), timeout=10) == (0, 10),
              "watermarks p1")
        check(c.get_watermark_offsets(TopicPartition("timed", 0), timeout=10) == (0, 0),
              "watermarks p0")
        got = [c.offsets_for_times([TopicPartition("timed", 1, ts)], timeout=10)[0].offset
               for ts in (base + 3500, base, base + 60000)]
        check(got == [4, 0, -1], "offsets_for_times: %r" % got)
        c.close()
        from kafka import KafkaConsumer
        from kafka import TopicPartition as KTP
        k = KafkaConsumer(bootstrap_servers=srv.bootstrap, request_timeout_ms=10000)
        tp = KTP("timed", 1)
        check(k.end_offsets([tp]) == {tp: 10} and k.beginning_offsets([tp]) == {tp: 0},
              "kafka-python offsets")
        found = k.offsets_for_times({tp: base + 7000})[tp]
        check(found.offset == 7 and found.timestamp == base + 7000, "kafka-python: %r" % (found,))
        k.close()
        out = kcat("-b", srv.bootstrap, "-Q", "-t", "timed:1:%d" % (base + 2000))
        check(re.search(r"timed \[1\] offset 2\b", out), "kcat -Q: " + out)
    finally:
        srv.stop()


# ---- groups --------------------------------------------------------------------------------------

@test
def group_commits_and_admin(st):
    """OffsetCommit / OffsetFetch through confluent_kafka (explicit offsets,
    no membership) and kafka-python (with commit metadata), ListGroups (confluent list_groups,
    kafka-python list_consumer_groups), DescribeGroups (a group known only by
    its commits is Empty), DeleteGroups; the store holds the commits."""
    from confluent_kafka import Consumer, TopicPartition
    st.cli("topic", "create", "pre", "--partitions", "2")
    st.produce("pre", ["a", "b", "c"], "-p", "0")
    srv = Server(st)
    try:
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "g1",
                      "enable.auto.commit": False})
        c.commit(offsets=[TopicPartition("pre", 0, 2)], asynchronous=False)
        got = c.committed([TopicPartition("pre", 0), TopicPartition("pre", 1)], timeout=10)
        check([tp.offset for tp in got] == [2, -1001], "committed: %r" % got)
        c.close()
        from kafka import KafkaAdminClient, KafkaConsumer, OffsetAndMetadata
        from kafka import TopicPartition as KTP
        k = KafkaConsumer(bootstrap_servers=srv.bootstrap, group_id="g2",
                          enable_auto_commit=False)
        k.commit({KTP("pre", 0): OffsetAndMetadata(3, "kp-meta")})
        check(k.committed(KTP("pre", 0)) == 3, "kafka-python committed")
        k.close()
        groups = sorted(g.id for g in confluent_admin(srv).list_groups(timeout=10))
        check(groups == ["g1", "g2"], "list_groups: %r" % groups)
        a = KafkaAdminClient(bootstrap_servers=srv.bootstrap, request_timeout_ms=10000)
        check(sorted(g[0] for g in a.list_consumer_groups()) == ["g1", "g2"],
              "list_consumer_groups")
        d = a.describe_consumer_groups(["g1"])[0]
        check(d.error_code == 0 and d.state == "Empty" and d.members == [], "describe: %r" % (d,))
        offs = a.list_consumer_group_offsets("g1")
        check({(tp.topic, tp.partition): om.offset for tp, om in offs.items()} == {("pre", 0): 2},
              "list_consumer_group_offsets: %r" % offs)
        offs = a.list_consumer_group_offsets("g2")
        check([(om.offset, om.metadata) for om in offs.values()] == [(3, "kp-meta")],
              "commit metadata: %r" % offs)
        r = dict(a.delete_consumer_groups(["g2", "nosuch"]))
        check(r["g2"].errno == 0 and r["nosuch"].errno == 69, "delete_consumer_groups: %r" % r)
        a.close()
    finally:
        srv.stop()
    check(st.cli("group", "list").stdout.split() == ["g1"], "groups in the store")


@test
def group_membership(st):
    """Three confluent_kafka consumers subscribe to one topic of 6 partitions:
    JoinGroup/SyncGroup/Heartbeat give them disjoint assignments covering
    every partition; when one leaves (LeaveGroup), the other two rebalance
    and cover all six."""
    from confluent_kafka import Consumer
    st.cli("topic", "create", "grp", "--partitions", "6")
    srv = Server(st)
    assigned = {}
    consumers = []

    def consumer(i):
        def on_assign(c, parts):
            assigned[i] = sorted(p.partition for p in parts)

        def on_revoke(c, parts):
            assigned[i] = []
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "members",
                      "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                      "log_level": 0})
        c.subscribe(["grp"], on_assign=on_assign, on_revoke=on_revoke)
        return c

    def covered(ids):
        def ok():
            for c in consumers[:len(ids)]:
                c.poll(0.05)
            parts = [p for i in ids for p in assigned.get(i, [])]
            return sorted(parts) == list(range(6)) and all(assigned.get(i) for i in ids)
        return ok
    try:
        consumers = [consumer(i) for i in range(3)]
        wait_for(covered([0, 1, 2]), "three members to share six partitions", timeout=40)
        consumers.pop().close()
        del assigned[2]
        wait_for(covered([0, 1]), "two members to take over", timeout=40)
        _, text = srv.metrics()
        check(re.search(r'^varve_groups\{state="Stable"\} 1$', text, re.M), "one Stable group")
        check(re.search(r"^varve_group_members 2$", text, re.M), "two members")
        for c in consumers:
            c.close()
    finally:
        srv.stop()


# ---- starting and stopping -------------------------------------------------------------------

def run_serve(st, *args):
    """Run a `varve serve` that is expected to refuse to start."""
    p = subprocess.run([VARVE, "serve", st.dir, "--metrics", "none"] + list(args),
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


@test
def refuses_locked_store(st):
    """A second `varve serve` on a store another one serves exits non-zero at
    once with a message naming the lock; the first keeps serving."""
    srv = Server(st)
    try:
        rc, out, err = run_serve(st, "--listen", "127.0.0.1:0")
        check(rc == 1 and out == "", "second server: exit %d, stdout %r" % (rc, out))
        check("locked" in err and "SERVER" in err, "message: %r" % err)
        check(open(st.dir + "/SERVER").read() == "127.0.0.1:%d\n" % srv.port,
              "the running server's SERVER file was touched")
        kcat_metadata(srv)
    finally:
        srv.stop()


@test
def refuses_taken_port(st):
    """`varve serve` on a port already in use exits non-zero with a message,
    writes no SERVER file and closes the store cleanly."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        rc, out, err = run_serve(st, "--listen", "127.0.0.1:%d" % port)
    finally:
        s.close()
    check(rc == 1 and out == "", "exit %d, stdout %r" % (rc, out))
    check("address already in use" in err.lower() or "in use" in err, "message: %r" % err)
    check(not __import__("os").path.exists(st.dir + "/SERVER"), "SERVER written")
    st.check_clean()


@test
def sigterm_with_idle_clients(st):
    """SIGTERM while clients are connected (some mid-frame, some that sent a
    request and never read): the server exits 0 within a few seconds and
    the store opens clean."""
    srv = Server(st)
    socks = []
    try:
        for i in range(20):
            s = harness.connect(srv.port)
            if i % 3 == 1:
                s.sendall(harness.request(18, 0, i))
            elif i % 3 == 2:
                s.sendall(b"\x00\x00\x01\x00abc")  # a partial frame
            socks.append(s)
        c, err, _ = harness.api_versions_v0(harness.connect(srv.port))
        check(err == 0, "server not answering before the stop")
        t0 = time.monotonic()
        srv.stop()
        check(time.monotonic() - t0 < 6, "stop took %.1fs" % (time.monotonic() - t0))
        for s in socks:
            check(harness.closed_by_peer(s, 2), "a client connection stayed open")
    finally:
        for s in socks:
            s.close()
        srv.kill()


# ---- /metrics ------------------------------------------------------------------------------------

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? '
                    r'(-?[0-9.e+-]+|NaN|\+Inf|-Inf)$')


def check_text_format(text):
    """Every line is a HELP, a TYPE or a sample; every sample's family has a
    TYPE before it; families are not split."""
    typed, seen, current = set(), set(), None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            name = line.split()[2]
            check(name not in typed, "family %s typed twice" % name)
            typed.add(name)
            current = name
            continue
        check(SAMPLE.match(line), "not a sample line: %r" % line)
        name = re.match(r"[a-zA-Z0-9_:]+", line).group(0)
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        check(fam == current, "sample %s outside its family (%s)" % (name, current))
        seen.add(fam)
    return seen


@test
def metrics_over_http(st):
    """GET /metrics: Prometheus text with the store's counters, per-API
    request counts and latency histograms, connection counters, groups, and
    the lag of a group whose id needs escaping; other paths are 404."""
    import urllib.error
    import urllib.request
    from confluent_kafka import Consumer, TopicPartition
    st.cli("topic", "create", "m", "--partitions", "1")
    st.produce("m", ["a", "b", "c", "d"], "-p", "0")
    srv = Server(st, "--lag-refresh-ms", "200")
    try:
        kcat_metadata(srv)
        group = 'we"ird\\group\nid'
        c = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": group})
        c.commit(offsets=[TopicPartition("m", 0, 1)], asynchronous=False)
        c.close()
        want = 'varve_group_lag_records{group="we\\"ird\\\\group\\nid",topic="m",partition="0"} 3'

        def lag_shown():
            return want in srv.metrics()[1].splitlines()
        wait_for(lag_shown, "the lag of the committed group", timeout=15)
        ctype, text = srv.metrics()
        check(ctype.startswith("text/plain") and "version=0.0.4" in ctype, "type %r" % ctype)
        fams = check_text_format(text)
        for f in ("varve_appends_total", "varve_fsyncs_total", "varve_kafka_requests_total",
                  "varve_kafka_request_duration_seconds", "varve_net_connections",
                  "varve_net_connections_accepted_total", "varve_groups", "varve_group_members",
                  "varve_group_lag_bytes", "varve_group_lag_age_seconds", "varve_workers_queued"):
            check(f in fams, "family %s missing" % f)
        n = int(re.search(r'^varve_kafka_requests_total\{api="Metadata"\} (\d+)$', text, re.M)
                .group(1))
        check(n >= 1, "Metadata requests not counted")
        inf = re.search(r'^varve_kafka_request_duration_seconds_bucket\{api="Metadata",'
                        r'le="\+Inf"\} (\d+)$', text, re.M)
        cnt = re.search(r'^varve_kafka_request_duration_seconds_count\{api="Metadata"\} (\d+)$',
                        text, re.M)
        check(inf and cnt and int(inf.group(1)) == int(cnt.group(1)) == n, "histogram counts")
        check(re.search(r'^varve_kafka_requests_total\{api="OffsetCommit"\} [1-9]', text, re.M),
              "OffsetCommit not counted")
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/nope" % srv.metrics_port, timeout=5)
            raise Failure("/nope did not fail")
        except urllib.error.HTTPError as e:
            check(e.code == 404, "/nope answered %d" % e.code)
    finally:
        srv.stop()


# ---- hostile input ---------------------------------------------------------------------------------

def serving(srv):
    """The server still answers a well-behaved client."""
    s = harness.connect(srv.port)
    try:
        corr, err, keys = harness.api_versions_v0(s, corr=77)
        return corr == 77 and err == 0 and 3 in keys
    finally:
        s.close()


@test
def bad_frames(st):
    """A frame over --max-request-bytes, a request whose inner lengths lie,
    an unknown API key and a client gone mid-request each close only their
    own connection; ApiVersions v99 is answered UNSUPPORTED_VERSION with the
    list of what is implemented (a v0 answer, as Kafka does)."""
    srv = Server(st, "--max-request-bytes", "65536")
    try:
        s = harness.connect(srv.port)
        corr, err, keys = harness.api_versions_v0(s, corr=5, version=99)
        check(corr == 5 and err == 35, "ApiVersions v99: corr %d error %d" % (corr, err))
        check(keys.get(18) == (0, 3) and keys.get(3) == (0, 4), "versions list: %r" % keys)
        check(keys.get(0) == (3, 7) and keys.get(1) == (4, 11), "Produce/Fetch ranges: %r" % keys)
        check(17 not in keys and 36 not in keys, "SASL advertised without authentication")
        check(serving(srv) and not harness.closed_by_peer(s, 0.2), "v99 closed the connection")
        s.close()
        # an unknown API key
        s = harness.connect(srv.port)
        s.sendall(harness.request(999, 0, 1))
        check(harness.closed_by_peer(s), "unknown API key did not close the connection")
        # a frame claiming more than the limit: closed before it is read
        s = harness.connect(srv.port)
        s.sendall(struct.pack(">i", 1 << 20) + b"\x00" * 1000)
        check(harness.closed_by_peer(s), "oversize frame did not close the connection")
        # a Metadata v1 request whose topic array claims 1000 entries
        s = harness.connect(srv.port)
        s.sendall(harness.request(3, 1, 1, struct.pack(">i", 1000) + b"\x00\x05ab"))
        check(harness.closed_by_peer(s), "lying array count did not close the connection")
        # a string length that runs past the frame
        s = harness.connect(srv.port)
        s.sendall(harness.request(19, 3, 1, struct.pack(">ih", 1, 30000) + b"abc"))
        check(harness.closed_by_peer(s), "lying string length did not close the connection")
        # a frame size larger than what is sent, then the client leaves
        s = harness.connect(srv.port)
        s.sendall(struct.pack(">i", 5000) + harness.request(18, 0, 1)[4:])
        check(serving(srv), "server stuck behind a partial frame")
        s.close()
        # gone in the middle of a header
        s = harness.connect(srv.port)
        s.sendall(harness.request(3, 1, 1)[:7])
        s.close()
        check(serving(srv), "server not serving after the bad clients")
        _, text = srv.metrics()
        m = re.search(r"^varve_kafka_malformed_requests_total (\d+)$", text, re.M)
        check(m and int(m.group(1)) >= 2, "malformed requests not counted")
    finally:
        srv.stop()


@test
def slow_reader_does_not_block(st):
    """A client that sends many requests and never reads its responses does
    not delay another client."""
    st.cli("topic", "create", "t", "--partitions", "50")
    srv = Server(st)
    hog = harness.connect(srv.port)
    try:
        hog.setblocking(False)
        req = harness.request(3, 1, 1, struct.pack(">i", -1))  # Metadata v1, all topics
        sent = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sent < 20000:
            try:
                hog.send(req)
                sent += 1
            except BlockingIOError:
                break  # the server stopped reading it: its output is full
        for i in range(20):
            t0 = time.monotonic()
            check(serving(srv), "well-behaved client not served")
            check(time.monotonic() - t0 < 2, "well-behaved client waited %.1fs"
                  % (time.monotonic() - t0))
    finally:
        hog.close()
        srv.stop()


@test
def many_idle_connections(st):
    """1,000 idle connections do not keep another client from being served,
    and a stop with all of them open is still clean."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 1100
    if soft < need:
        check(hard >= need, "RLIMIT_NOFILE hard limit %d below %d" % (hard, need))
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    srv = Server(st, "--max-connections-per-ip", "2000")
    socks = []
    try:
        for _ in range(1000):
            socks.append(harness.connect(srv.port))

        def all_accepted():
            m = re.search(r"^varve_net_connections (\d+)$", srv.metrics()[1], re.M)
            return m and int(m.group(1)) >= 1000
        wait_for(all_accepted, "1000 connections to be accepted", timeout=20)
        for _ in range(10):
            check(serving(srv), "client not served next to 1000 idle connections")
        check(not harness.closed_by_peer(socks[0], 0.1), "an idle connection was closed")
    finally:
        srv.stop()
        for s in socks:
            s.close()


def main():
    global VARVE
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.stderr.write("usage: compat.py VARVE TEST\ntests: %s\n" % " ".join(sorted(TESTS)))
        return 2
    VARVE = sys.argv[1]
    st = Store(VARVE)
    try:
        TESTS[sys.argv[2]](st)
    except Failure as e:
        print("FAIL %s: %s" % (sys.argv[2], e))
        return 1
    finally:
        st.cleanup()
    print("ok %s" % sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
