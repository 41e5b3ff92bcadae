# SPDX-License-Identifier: MIT
"""abuse.py -- `varve serve` under abuse, next to a well-behaved client.

    /usr/bin/python3 abuse.py VARVE_BINARY TEST_NAME

meson registers every test in TESTS as its own test (suite 'compat'). Each
one starts `varve serve` on a fresh store (../compat/harness.py), starts the
well-behaved client -- a confluent-kafka producer in its own process that
sends one record every 10 ms with acks=all and times each acknowledgement
-- lets it run alone for a baseline, runs the abuse against loopback, then
checks that:

  * the server kept answering the well-behaved client: every record it sent
    was acknowledged, and the p99 of its acknowledgement latency during the
    abuse stayed under P99_LIMIT_MS;
  * the server's peak memory (VmHWM of /proc/PID/status) stayed under the
    test's bound;
  * nothing acknowledged was lost: after a clean stop, every record the
    well-behaved client (and the abuser, where it produces) was told was
    written is read back from the store;
  * the limit that meets the abuse counted it in /metrics.

Every abuse is bounded in count and time, and uses 127.0.0.x addresses
only. Each test prints one line of figures:

  FIGURES <test> baseline_p99_ms=.. abuse_p99_ms=.. samples=.. peak_rss_mib=..

The last tests are not abuses but the quota and limit settings end to end:
a real client throttled under its user's quota (SCRAM over SASL_PLAINTEXT)
and under its client id's, `varve quota`, and every limit's default and
flag as /metrics shows them.
"""
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import harness  # noqa: E402
from harness import Failure, Server, Store, check, wait_for  # noqa: E402

VARVE = None
TESTS = {}
P99_LIMIT_MS = 1000.0   # the well-behaved client's p99 during any abuse
BASELINE_S = 3.0        # the well-behaved client alone before the abuse
PROBE_TOPIC = "probe"


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


# ---- the well-behaved client (a process of its own) ----------------------------------

def probe_main(bootstrap, out_path):
    """Produce one record every 10 ms until stdin closes; write one JSON
    line per acknowledged record: send time (monotonic), latency, offset."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "client.id": "well-behaved",
                  "acks": "all", "linger.ms": 0, "message.timeout.ms": 60000,
                  "log_level": 3})
    out = open(out_path, "w")
    failed = [0]

    def delivered(err, msg, sent):
        now = time.monotonic()
        if err is not None:
            failed[0] += 1
            return
        out.write(json.dumps({"t": sent, "lat": (now - sent) * 1000.0,
                              "o": msg.offset(), "v": msg.value().decode()}) + "\n")

    seq = 0
    while not select.select([sys.stdin], [], [], 0)[0]:
        sent = time.monotonic()
        p.produce(PROBE_TOPIC, value=("m%d" % seq).encode(),
                  on_delivery=lambda err, msg, sent=sent: delivered(err, msg, sent))
        seq += 1
        p.poll(0.01)
    left = p.flush(30)
    out.write(json.dumps({"sent": seq, "failed": failed[0], "unflushed": left}) + "\n")
    out.close()
    return 0


class Probe:
    def __init__(self, srv, path):
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "probe", srv.bootstrap, path],
            stdin=subprocess.PIPE)

    def records(self):
        try:
            with open(self.path) as f:
                return [json.loads(l) for l in f if l.strip().startswith('{"t"')]
        except (OSError, ValueError):
            return []

    def finish(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure("the well-behaved client did not finish")
        with open(self.path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        check(lines and "sent" in lines[-1], "the well-behaved client wrote no summary")
        return lines[:-1], lines[-1]


def p99(values):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(0.99 * (len(v) - 1))))]


# ---- the server ------------------------------------------------------------------------

def metric(srv, sample):
    _, text = srv.metrics()
    m = re.search(r"^%s (\S+)$" % re.escape(sample), text, re.M)
    check(m, "no sample %s in /metrics" % sample)
    return float(m.group(1))


def peak_rss_mib(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) / 1024.0


def read_back(st, topic, fmt):
    """Every record of topic as printed by `varve consume -F fmt`."""
    p = st.cli("consume", topic, "-F", fmt)
    return p.stdout.splitlines()


def run_abuse(st, name, abuse, server_args=(), rss_limit_mib=256, topics=()):
    """Start the server and the well-behaved client, run abuse(srv) after the
    baseline, check and print the figures. abuse returns a dict of facts
    and may return a check to run on the stopped store as facts['after']."""
    st.cli("topic", "create", PROBE_TOPIC)
    for t in topics:
        st.cli("topic", "create", t)
    srv = Server(st, *server_args)
    probe = None
    try:
        probe = Probe(srv, os.path.join(st.tmp, "probe.jsonl"))
        wait_for(lambda: len(probe.records()) >= 10, "the well-behaved client to start",
                 timeout=30)
        time.sleep(BASELINE_S)
        rss_before = peak_rss_mib(srv)
        t0 = time.monotonic()
        facts = abuse(srv) or {}
        t1 = time.monotonic()
        time.sleep(0.5)
        check(srv.alive(), "the server died under the abuse: " + srv.stderr()[-2000:])
        rss = peak_rss_mib(srv)
        recs, summary = probe.finish()
        probe = None
    finally:
        if probe:
            probe.proc.kill()
        srv.stop()
    base = [r["lat"] for r in recs if r["t"] < t0]
    during = [r["lat"] for r in recs if t0 <= r["t"] <= t1]
    print("FIGURES %s baseline_p99_ms=%.1f abuse_p99_ms=%.1f abuse_max_ms=%.1f samples=%d "
          "abuse_s=%.1f peak_rss_mib=%.1f rss_before_abuse_mib=%.1f %s"
          % (name, p99(base), p99(during), max(during) if during else float("nan"),
             len(during), t1 - t0, rss, rss_before,
             " ".join("%s=%s" % kv for kv in sorted(facts.items()) if kv[0] != "after")))
    check(summary["failed"] == 0 and summary["unflushed"] == 0,
          "the well-behaved client lost records: %r" % summary)
    check(len(recs) == summary["sent"], "%d of %d records acknowledged"
          % (len(recs), summary["sent"]))
    check(len(during) >= 10, "only %d requests of the well-behaved client during the abuse"
          % len(during))
    check(p99(during) < P99_LIMIT_MS, "p99 %.0f ms during the abuse" % p99(during))
    check(rss < rss_limit_mib, "peak RSS %.0f MiB over %d MiB" % (rss, rss_limit_mib))
    stored = set(read_back(st, PROBE_TOPIC, "%o %s\n"))
    missing = [r for r in recs if "%d %s" % (r["o"], r["v"]) not in stored]
    check(not missing, "%d acknowledged records missing, e.g. %r" % (len(missing), missing[:3]))
    if "after" in facts:
        facts["after"](st)


# ---- raw Kafka requests ---------------------------------------------------------------------

def produce_request(corr, client_id, topic, batch, acks=1, version=7):
    """Produce v3..v7 (non-flexible): one batch to partition 0."""
    t = topic.encode()
    body = struct.pack(">hhi", -1, acks, 30000)            # transactional_id null, acks, timeout
    body += struct.pack(">ih", 1, len(t)) + t               # one topic
    body += struct.pack(">iii", 1, 0, len(batch)) + batch   # one partition, its records
    return harness.request(0, version, corr, body, client_id=client_id)


def parse_produce_v7(frame):
    """(correlation id, [(error, base_offset)], throttle_time_ms)."""
    corr, ntopics = struct.unpack(">ii", frame[:8])
    pos, out = 8, []
    for _ in range(ntopics):
        (n,) = struct.unpack(">h", frame[pos:pos + 2])
        pos += 2 + n
        (nparts,) = struct.unpack(">i", frame[pos:pos + 4])
        pos += 4
        for _ in range(nparts):
            _, err, base, _, _ = struct.unpack(">ihqqq", frame[pos:pos + 30])
            pos += 30
            out.append((err, base))
    (throttle,) = struct.unpack(">i", frame[pos:pos + 4])
    return corr, out, throttle


def record_batch(value, count=1, codec=0):
    """A magic-2 batch of count records with this value (kafka-python builds
    it, CRC-32C included)."""
    from kafka.record.default_records import DefaultRecordBatchBuilder
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 30)
    for i in range(count):
        b.append(i, timestamp=int(time.time() * 1000), key=None, value=value, headers=[])
    return bytes(b.build())


# ---- the abuses --------------------------------------------------------------------------

@test
def connection_burst(st):
    """5,000 connection attempts in a burst from four loopback addresses
    (1,250 each) against the default 1,000 per address: 1,000 are accepted
    and closed at once and counted, 4,000 stay open for 2 s, and the server
    keeps serving. (The total --max-connections is left above them: the
    /metrics listener counts toward it, and the test reads /metrics.)"""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 6000:
        check(hard >= 6000, "RLIMIT_NOFILE hard limit %d below 6000" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (6000, hard))
    sources = ["127.0.0.%d" % i for i in range(2, 6)]

    def abuse(srv):
        socks = []
        for i in range(5000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((sources[i % len(sources)], 0))
            try:
                s.connect(("127.0.0.1", srv.port))
            except BlockingIOError:
                pass
            socks.append(s)

        def counted():
            _, text = srv.metrics()
            total = 0
            for pat in (r"^varve_net_connections_accepted_total (\d+)$",
                        r'^varve_net_connections_refused_total\{limit="max_connections"\} (\d+)$',
                        r'^varve_net_connections_refused_total\{limit="max_connections_per_ip"\} (\d+)$'):
                total += int(re.search(pat, text, re.M).group(1))
            return total >= 5000
        wait_for(counted, "the 5,000 attempts to be accepted or refused", timeout=60, step=0.2)
        refused_ip = metric(srv, 'varve_net_connections_refused_total{limit="max_connections_per_ip"}')
        open_now = metric(srv, "varve_net_connections")
        time.sleep(2)  # hold them open while the well-behaved client works
        for s in socks:
            s.close()
        check(refused_ip == 1000, "%d refused over the per-address limit, not 1000" % refused_ip)
        check(open_now >= 4000, "only %d connections open" % open_now)
        return {"refused_per_ip": int(refused_ip), "open_at_peak": int(open_now)}

    run_abuse(st, "connection_burst", abuse)


@test
def slowloris(st):
    """300 connections that each send a request one byte a second, and come
    back when closed, for 10 s: --idle-timeout-ms 3000 closes each (no whole
    request arrives), and they cost the server next to nothing."""
    req = harness.request(3, 1, 1, struct.pack(">i", -1))  # Metadata v1, every topic

    def abuse(srv):
        conns, reconnects = {}, [0]

        def open_one(i):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", srv.port))
            s.setblocking(False)
            conns[i] = (s, 0)

        for i in range(300):
            open_one(i)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            for i, (s, sent) in list(conns.items()):
                try:
                    if s.recv(1) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    reconnects[0] += 1
                    open_one(i)
                    continue
                try:
                    s.send(req[sent % len(req):sent % len(req) + 1])
                    conns[i] = (s, sent + 1)
                except OSError:
                    pass
            time.sleep(1)
        closed_idle = metric(srv, 'varve_net_connections_closed_total{reason="idle"}')
        for s, _ in conns.values():
            s.close()
        check(closed_idle >= 300, "only %d connections closed as idle" % closed_idle)
        return {"closed_idle": int(closed_idle), "reconnects": reconnects[0]}

    run_abuse(st, "slowloris", abuse, ("--idle-timeout-ms", "3000"))


@test
def huge_frames(st):
    """2,000 connections whose frame claims 2 GiB (0x7fffffff and 0x80000000)
    are closed before anything is allocated for them; 100 connections that
    claim 64 MiB (under the limit) and send 256 KiB of it cost what they
    sent, not what they claim."""

    def abuse(srv):
        junk = b"\x00" * 65536
        closed = 0
        for rnd in range(10):
            socks = []
            for i in range(200):
                s = harness.connect(srv.port)
                size = b"\x7f\xff\xff\xff" if i % 2 else b"\x80\x00\x00\x00"
                try:
                    s.sendall(size + junk)
                except OSError:
                    pass  # closed while we wrote: that is the point
                socks.append(s)
            for s in socks:
                closed += harness.closed_by_peer(s, 10)
                s.close()
        check(closed == 2000, "%d of 2000 oversize frames closed" % closed)
        oversize = metric(srv, 'varve_net_connections_closed_total{reason="oversize"}')
        check(oversize >= 2000, "oversize closes counted: %d" % oversize)
        partial = []
        for i in range(100):
            s = harness.connect(srv.port)
            s.sendall(struct.pack(">i", 64 << 20) + b"\x00" * (256 << 10))
            partial.append(s)
        time.sleep(2)
        held = metric(srv, "varve_net_input_buffered_bytes")
        for s in partial:
            s.close()
        check(held <= 100 * 2 * (256 << 10) + (1 << 20),
              "%d bytes held for 100 partial frames of 256 KiB" % held)
        return {"oversize_closed": int(oversize), "partial_held_mib": round(held / 2**20, 1)}

    run_abuse(st, "huge_frames", abuse)


@test
def compression_bomb(st):
    """Produce batches whose gzip records expand over 1,000 times, past the
    64 MiB bound on a decompressed batch: 40 of them, 4 connections at once.
    Each is refused with MESSAGE_TOO_LARGE after at most the bound was
    inflated, the connections stay usable, and memory comes back."""
    inflated = 100 << 20
    bomb = record_batch(b"\x00" * inflated, codec=1)
    ratio = inflated / len(bomb)
    check(ratio > 1000, "the bomb expands only %.0f times" % ratio)

    def abuse(srv):
        results = []

        def bomber(k):
            s = harness.connect(srv.port, timeout=60)
            for i in range(10):
                s.sendall(produce_request(i, b"bomber", "bombed", bomb))
            for i in range(10):
                results.append(parse_produce_v7(harness.recv_frame(s))[1][0][0])
            s.close()
        threads = [threading.Thread(target=bomber, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        check(len(results) == 40 and set(results) == {10},
              "bomb answers: %r" % sorted(set(results)))
        oversize = metric(srv, "varve_kafka_produce_oversize_batches_total")
        check(oversize == 40, "oversize batches counted: %d" % oversize)
        return {"bomb_wire_bytes": len(bomb), "bomb_ratio": int(ratio)}

    run_abuse(st, "compression_bomb", abuse, topics=("bombed",), rss_limit_mib=384)


@test
def throttle_ignorer(st):
    """A producer over its quota (set with `varve quota` while the server
    runs) that ignores throttle_time_ms and pipelines 64 KiB batches as fast
    as it can for 8 s: the server stops reading it, so it gets about its
    quota (1 MiB/s) and no more, every answer tells it to wait, and every
    batch it was told is written is in the log."""
    quota = 1 << 20

    def abuse(srv):
        st.cli("quota", "set", "--client-id", "greedy", "--produce-bytes-per-sec", "1MiB")
        wait_for(lambda: metric(srv, "varve_quota_entries") == 1, "the quota to be read",
                 timeout=10, step=0.1)
        batch = record_batch(b"g" * (64 << 10))
        s = harness.connect(srv.port)
        s.settimeout(None)
        acked, throttles, errors = [], [], []

        def reader():
            while True:
                try:
                    f = harness.recv_frame(s)
                except (OSError, EOFError):
                    return
                _, parts, thr = parse_produce_v7(f)
                throttles.append(thr)
                for err, base in parts:
                    (acked if err == 0 else errors).append(base if err == 0 else err)
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        t0 = time.monotonic()
        req = 0
        while time.monotonic() - t0 < 8:
            # as fast as the socket takes them; a full send buffer (the
            # server stopped reading us) is waited out, never given up on
            if select.select([], [s], [], 0.2)[1]:
                s.sendall(produce_request(req, b"greedy", "greedy", batch))
                req += 1
        # what was sent is answered at the quota's pace
        wait_for(lambda: len(acked) + len(errors) >= req, "the greedy producer's answers",
                 timeout=40, step=0.1)
        elapsed = time.monotonic() - t0
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        rt.join(5)
        rate = len(acked) * len(batch) / elapsed
        check(not errors, "errors: %r" % errors[:5])
        check(len(acked) == req, "%d of %d sent batches answered" % (len(acked), req))
        check(max(throttles) > 0, "never told to wait")
        # its quota, one burst, and one batch more at most
        check(len(acked) * len(batch) <= quota * elapsed + quota + len(batch),
              "%.0f B/s against a quota of %d" % (rate, quota))

        def after(store):
            offsets = set(int(x) for x in read_back(store, "greedy", "%o\n"))
            missing = [o for o in acked if o not in offsets]
            check(not missing, "acknowledged batches missing: %r" % missing[:5])
        return {"greedy_rate_kib_s": int(rate / 1024), "greedy_batches": len(acked),
                "max_throttle_ms": max(throttles), "after": after}

    run_abuse(st, "throttle_ignorer", abuse, topics=("greedy",))


# ---- a Kafka client under a quota -----------------------------------------------------------

@test
def librdkafka_throttled(st):
    """confluent-kafka (librdkafka) over its produce quota slows down and
    loses nothing: 600 KiB against 200 KiB/s takes about 2 s more than the
    first burst, every record is delivered, and librdkafka reports the
    throttle (throttle_cb)."""
    from confluent_kafka import Producer
    st.cli("topic", "create", "metered")
    st.cli("quota", "set", "--client-id", "metered", "--produce-bytes-per-sec", "200K")
    srv = Server(st)
    try:
        throttled, failed, done = [], [], []
        p = Producer({"bootstrap.servers": srv.bootstrap, "client.id": "metered",
                      "linger.ms": 5, "batch.size": 16384, "log_level": 3,
                      "throttle_cb": lambda ev: throttled.append(ev.throttle_time)})
        t0 = time.monotonic()
        for i in range(60):
            p.produce("metered", value=bytes([65 + i % 26]) * 10240,
                      on_delivery=lambda err, msg: (failed if err else done).append(msg))
            p.poll(0)
        left = p.flush(60)
        while p.poll(0.2):
            pass
        elapsed = time.monotonic() - t0
        check(left == 0 and not failed and len(done) == 60,
              "delivered %d, failed %d, left %d" % (len(done), len(failed), left))
        check(elapsed >= 1.2, "600 KiB at 200 KiB/s took %.1f s" % elapsed)
        check(throttled and max(throttled) > 0, "librdkafka saw no throttle")
        check(metric(srv, 'varve_quota_throttled_total{quota="produce"}') > 0, "not counted")
        print("FIGURES librdkafka_throttled elapsed_s=%.1f throttle_events=%d max_throttle_s=%.3f"
              % (elapsed, len(throttled), max(throttled)))
    finally:
        srv.stop()
    check(len(read_back(st, "metered", "%o\n")) == 60, "records missing after the stop")


# ---- quotas per user, the quota command, the limit flags ------------------------------------

@test
def quota_per_user(st):
    """A produce quota set for a SCRAM user throttles that user's client on
    a SASL_PLAINTEXT listener (its principal is User:alice), and not an
    anonymous client with the same client id on the PLAINTEXT listener."""
    from confluent_kafka import Producer
    st.cli("topic", "create", "metered")
    st.cli("user", "add", "alice", "--mechanism", "SCRAM-SHA-256", stdin="alice-secret\n")
    st.cli("quota", "set", "--user", "alice", "--produce-bytes-per-sec", "100K")
    srv = Server(st, "--listen", "SASL_PLAINTEXT://127.0.0.1:0")
    try:
        m = re.search(r"SASL_PLAINTEXT://127\.0\.0\.1:(\d+)", srv.line)
        check(m, "no SASL listener in %r" % srv.line)
        sasl = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
                "sasl.username": "alice", "sasl.password": "alice-secret"}
        throttled = 'varve_quota_throttled_total{quota="produce"}'

        def produce(bootstrap, extra):
            seen, failed, done = [], [], []
            conf = {"bootstrap.servers": bootstrap, "client.id": "shared-id", "linger.ms": 5,
                    "log_level": 3, "throttle_cb": lambda ev: seen.append(ev.throttle_time)}
            conf.update(extra)
            p = Producer(conf)
            for i in range(30):
                p.produce("metered", value=b"q" * 10240,
                          on_delivery=lambda err, msg: (failed if err else done).append(msg))
                p.poll(0)
            left = p.flush(60)
            while p.poll(0.2):
                pass
            check(left == 0 and not failed and len(done) == 30,
                  "delivered %d, failed %d, left %d" % (len(done), len(failed), left))
            return seen

        before = metric(srv, throttled)
        anon = produce(srv.bootstrap, {})
        check(metric(srv, throttled) == before, "the anonymous client was throttled")
        check(not any(t > 0 for t in anon), "librdkafka saw a throttle without a quota")
        alice = produce("127.0.0.1:%s" % m.group(1), sasl)
        check(metric(srv, throttled) > before, "alice's client was not throttled")
        check(alice and max(alice) > 0, "librdkafka saw no throttle as alice")
        print("FIGURES quota_per_user alice_throttle_events=%d anonymous_throttle_events=%d"
              % (len(alice), len(anon)))
    finally:
        srv.stop()
    check(len(read_back(st, "metered", "%o\n")) == 60, "records missing after the stop")


@test
def quota_cli(st):
    """varve quota set, list, remove: the file's format and mode, rates kept
    or cleared one by one, and the mistakes refused."""
    st.cli("topic", "create", "t")
    st.cli("quota", "set", "--user", "alice", "--produce-bytes-per-sec", "100K",
           "--requests-per-sec", "50")
    st.cli("quota", "set", "--client-id", "my app", "--fetch-bytes-per-sec", "1MiB")
    path = os.path.join(st.dir, "quotas")
    check(os.stat(path).st_mode & 0o777 == 0o600, "quotas file mode %o" % os.stat(path).st_mode)
    listed = st.cli("quota", "list").stdout.splitlines()
    check(listed == ["user alice produce_bytes_per_sec=102400 requests_per_sec=50",
                     "client-id my%20app fetch_bytes_per_sec=1048576"], "list: %r" % listed)
    st.cli("quota", "set", "--user", "alice", "--requests-per-sec", "none")
    st.cli("quota", "remove", "--client-id", "my app")
    listed = st.cli("quota", "list").stdout.splitlines()
    check(listed == ["user alice produce_bytes_per_sec=102400"], "after edits: %r" % listed)
    for bad in (["set", "--produce-bytes-per-sec", "5"],
                ["set", "--user", "a", "--client-id", "b", "--produce-bytes-per-sec", "5"],
                ["set", "--user", "a", "--produce-bytes-per-sec", "5X"],
                ["set", "--user", "a"]):
        p = st.cli("quota", *bad, check_rc=False)
        check(p.returncode == 2, "quota %s: exit %d" % (" ".join(bad), p.returncode))
    p = st.cli("quota", "remove", "--user", "nobody", check_rc=False)
    check(p.returncode == 1 and "no quota" in p.stderr, "remove nobody: %r" % p.stderr)
    # a file the server cannot use stops it from starting, with the reason
    with open(path, "a") as f:
        f.write("user bob produce_bytes_per_sec=lots\n")
    p = subprocess.run([VARVE, "serve", st.dir, "--listen", "127.0.0.1:0", "--metrics", "none"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "quotas" in p.stderr, "serve with a bad quotas file: exit %d, %r"
          % (p.returncode, p.stderr))


LIMIT_FLAGS = [
    # flag, value, the varve_limit sample it sets, its value there
    ("--max-request-bytes", "50MiB", "max_request_bytes", 50 << 20),
    ("--max-connections", "500", "max_connections", 500),
    ("--max-connections-per-ip", "50", "max_connections_per_ip", 50),
    ("--idle-timeout-ms", "12345", "idle_timeout_ms", 12345),
    ("--max-inflight-requests", "7", "max_inflight_requests", 7),
    ("--max-output-bytes", "8MiB", "max_output_bytes", 8 << 20),
    ("--max-inflight-bytes", "32MiB", "max_inflight_bytes", 32 << 20),
    ("--max-inflated-batch-bytes", "16MiB", "max_inflated_batch_bytes", 16 << 20),
    ("--max-message-bytes", "3MiB", "max_batch_bytes", 3 << 20),
    ("--max-partitions-per-request", "99", "max_partitions_per_request", 99),
    ("--max-groups-per-request", "77", "max_groups_per_request", 77),
    ("--quota-produce-bytes-per-sec", "1MiB", "quota_default_produce_bytes_per_sec", 1 << 20),
    ("--quota-fetch-bytes-per-sec", "2MiB", "quota_default_fetch_bytes_per_sec", 2 << 20),
    ("--quota-requests-per-sec", "300", "quota_default_requests_per_sec", 300),
]
LIMIT_DEFAULTS = {
    "max_request_bytes": 100 << 20, "max_connections": 10000, "max_connections_per_ip": 1000,
    "idle_timeout_ms": 600000, "max_inflight_requests": 100, "max_output_bytes": 64 << 20,
    "max_inflight_bytes": 64 << 20, "max_inflated_batch_bytes": 64 << 20,
    "max_batch_bytes": 64 << 20,
    "max_partitions_per_request": 10000, "max_groups_per_request": 10000,
    "quota_default_produce_bytes_per_sec": 0, "quota_default_fetch_bytes_per_sec": 0,
    "quota_default_requests_per_sec": 0,
}


@test
def limit_flags(st):
    """Every limit's default, and each flag of `varve serve` reaching the
    limit it names (varve_limit in /metrics); values out of range refused."""
    st.cli("topic", "create", "t")
    sample = 'varve_limit{limit="%s"}'
    srv = Server(st)
    try:
        for name, want in sorted(LIMIT_DEFAULTS.items()):
            got = metric(srv, sample % name)
            check(got == want, "default %s: %d, not %d" % (name, got, want))
    finally:
        srv.stop()
    args = [a for flag, value, _, _ in LIMIT_FLAGS for a in (flag, value)]
    srv = Server(st, *args)
    try:
        for flag, _, name, want in LIMIT_FLAGS:
            got = metric(srv, sample % name)
            check(got == want, "%s: %s is %d, not %d" % (flag, name, got, want))
    finally:
        srv.stop()
    for flag, value in (("--max-inflight-requests", "0"), ("--max-partitions-per-request", "-1"),
                        ("--quota-produce-bytes-per-sec", "fast"),
                        ("--max-inflated-batch-bytes", "4GiB")):
        p = subprocess.run([VARVE, "serve", st.dir, "--listen", "127.0.0.1:0", "--metrics",
                            "none", flag, value], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2, "%s %s: exit %d" % (flag, value, p.returncode))


def main():
    global VARVE
    if "ASAN_OPTIONS" in os.environ:
        # AddressSanitizer keeps freed memory in a quarantine (256 MiB by
        # default), which would count toward the servers' RSS bounds here
        os.environ["ASAN_OPTIONS"] += ":quarantine_size_mb=0"
    if len(sys.argv) == 4 and sys.argv[1] == "probe":
        return probe_main(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.stderr.write("usage: abuse.py VARVE TEST\ntests: %s\n" % " ".join(sorted(TESTS)))
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
