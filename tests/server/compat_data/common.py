# SPDX-License-Identifier: MIT
"""common.py -- what the data-path compatibility tests share.

The server, the store and the raw socket helpers come from ../compat/harness.py
(imported, never changed here). This module adds what moving records needs:

  - the test registry (@test) and the paths of the binaries under test;
  - kcat runs, with a format that frames keys and values by their lengths
    so that reading back is byte-exact (parse_framed);
  - a restartable server on a fixed port (same store, same port, for the
    kill-and-restart test);
  - a small Kafka protocol encoder: record batches (magic 2, CRC-32C),
    Produce v3, ListOffsets v1 and DeleteRecords v0 requests and their
    answers, for the tests that must send what no well-behaved client sends.

Nothing here waits without a deadline.
"""
import os
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))

import harness  # noqa: E402
from harness import Failure, Server, Store, check, wait_for  # noqa: E402,F401

SKIP = 77  # meson's exit status for a skipped test

# Set by run.py from its arguments.
BIN = {"varve": None, "dump": None, "idem": None}
TESTS = {}


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


def summary(name, text):
    """The one line a CI log shows for a passing test."""
    print("%s: %s" % (name, text), flush=True)


# ---- kcat --------------------------------------------------------------------------------------

# Partition, offset, timestamp, key length, value length, then key and value
# bytes and a newline: the lengths make the record boundaries unambiguous
# whatever the bytes are.
FRAMED = r"%p %o %T %K %S\n%k%s\n"


def kcat(*args, stdin=None, timeout=60):
    p = subprocess.run(["kcat"] + list(args), input=stdin, capture_output=True, timeout=timeout)
    check(p.returncode == 0, "kcat %s: exit %d: %s"
          % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    return p.stdout


def parse_framed(out):
    """Records printed with FRAMED: a list of (partition, offset, timestamp,
    key, value), key/value None when null."""
    recs = []
    i = 0
    while i < len(out):
        nl = out.index(b"\n", i)
        p, o, ts, kl, vl = (int(x) for x in out[i:nl].split())
        i = nl + 1
        key = None if kl < 0 else out[i:i + kl]
        i += max(kl, 0)
        val = None if vl < 0 else out[i:i + vl]
        i += max(vl, 0)
        check(out[i:i + 1] == b"\n", "kcat output out of frame at byte %d" % i)
        i += 1
        recs.append((p, o, ts, key, val))
    return recs


def kcat_read(srv, topic, *args, timeout=90):
    """Read a topic to its end with kcat (-e) and return the framed records."""
    return parse_framed(kcat("-b", srv.bootstrap, "-C", "-t", topic, "-e", "-q",
                             "-f", FRAMED, *args, timeout=timeout))


# ---- a server on a fixed port -------------------------------------------------------------

class FixedPortServer(Server):
    """harness.Server on a given port, so that a restarted server is found
    by clients at the address they already know."""

    def __init__(self, store, port, *args):
        Server.__init__(self, store, *args, metrics=False, listen="127.0.0.1:%d" % port)
        if self.port != port:
            self.kill()  # a live server would keep the store locked
            raise Failure("listening on %d, not %d" % (self.port, port))


def crash(srv):
    """SIGKILL a server: no clean stop, nothing flushed by the server itself."""
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    srv.proc.stdout.close()


def start_on_port(store, port, *args, timeout=15.0):
    """Start a server on `port`, retrying while the port is still taken by
    the process that just died (the kernel frees it at once with
    SO_REUSEADDR, but be generous)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return FixedPortServer(store, port, *args)
        except Failure:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# ---- processes ------------------------------------------------------------------------------

def stop_process(p, sig=signal.SIGTERM, timeout=15.0):
    """Signal a child and reap it; SIGKILL if it does not go in time."""
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def varve_json_lines(*args):
    """Run the varve CLI (read-only commands) and parse its JSON lines,
    keeping repeated members (headers may repeat a key)."""
    import json
    p = subprocess.run([BIN["varve"]] + list(args), capture_output=True, timeout=60)
    check(p.returncode == 0, "varve %s: exit %d: %s"
          % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return [json.loads(line, object_pairs_hook=list) for line in p.stdout.splitlines() if line]


# ---- confluent-kafka ---------------------------------------------------------------------

def message_headers(m):
    """m.headers() of a confluent-kafka Message; call it once per message.
    confluent-kafka before 1.8.2 puts None into the tuple of a null-valued
    header without taking a reference to it (confluent-kafka-python issue
    #1191); when the message goes, None loses one reference too many and the
    interpreter aborts at exit ("deallocating None"). Give the reference
    back."""
    import ctypes
    import confluent_kafka
    h = m.headers()
    if h and tuple(int(x) for x in confluent_kafka.version()[0].split(".")[:3]) < (1, 8, 2):
        for _, v in h:
            if v is None:
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    return h


# ---- the Kafka protocol, by hand ------------------------------------------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(n):
    """A zigzag varint (Kafka's record fields)."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(b):
    return varint(-1) if b is None else varint(len(b)) + b


def encode_record(offset_delta, ts_delta, key, value, headers=()):
    body = b"\x00" + varint(ts_delta) + varint(offset_delta) + _field(key) + _field(value)
    body += varint(len(headers))
    for hk, hv in headers:
        body += _field(hk) + _field(hv)
    return varint(len(body)) + body


ATTR_TRANSACTIONAL = 0x10


def encode_batch(records, base_ts, attributes=0, producer_id=-1, producer_epoch=-1,
                 base_sequence=-1, bad_crc=False):
    """One magic-2 record batch. records: (key, value, headers) tuples, all
    at base_ts + their index in ms."""
    recs = b"".join(encode_record(i, i, k, v, h) for i, (k, v, h) in enumerate(records))
    n = len(records)
    tail = struct.pack(">hiqqqhii", attributes, n - 1, base_ts, base_ts + n - 1, producer_id,
                       producer_epoch, base_sequence, n) + recs
    crc = crc32c(tail)
    if bad_crc:
        crc ^= 0x1
    body = struct.pack(">ibI", -1, 2, crc) + tail
    return struct.pack(">qi", 0, len(body)) + body


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def produce_v3(topic, partition, records_bytes, acks=-1, timeout_ms=10000):
    body = struct.pack(">hhi", -1, acks, timeout_ms)  # no transactional id
    body += struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">ii", 1, partition) + struct.pack(">i", len(records_bytes))
    return body + records_bytes


def parse_produce_v3(frame):
    """(correlation id, [(topic, partition, error, base_offset, log_append_time)])."""
    corr, nt = struct.unpack(">ii", frame[:8])
    i = 8
    out = []
    for _ in range(nt):
        (ln,) = struct.unpack(">h", frame[i:i + 2])
        name = frame[i + 2:i + 2 + ln].decode()
        i += 2 + ln
        (npart,) = struct.unpack(">i", frame[i:i + 4])
        i += 4
        for _ in range(npart):
            p, err, base, lat = struct.unpack(">ihqq", frame[i:i + 22])
            i += 22
            out.append((name, p, err, base, lat))
    return corr, out


def list_offsets_v1(sock, topic, partition, timestamp=-1, corr=100):
    """ListOffsets v1 for one partition: (error, timestamp, offset).
    timestamp -1 is the latest offset, -2 the earliest."""
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(topic)
    body += struct.pack(">iiq", 1, partition, timestamp)
    sock.sendall(harness.request(2, 1, corr, body))
    f = harness.recv_frame(sock)
    c, nt = struct.unpack(">ii", f[:8])
    check(c == corr and nt == 1, "ListOffsets answer: corr %d topics %d" % (c, nt))
    (ln,) = struct.unpack(">h", f[8:10])
    i = 10 + ln + 4
    p, err, ts, off = struct.unpack(">ihqq", f[i:i + 22])
    check(p == partition, "ListOffsets answered partition %d" % p)
    return err, ts, off


def delete_records_v0(sock, topic, partition, offset, corr=200):
    """DeleteRecords v0 for one partition: (error, low watermark)."""
    body = struct.pack(">i", 1) + kstr(topic) + struct.pack(">iiqi", 1, partition, offset, 10000)
    sock.sendall(harness.request(21, 0, corr, body))
    f = harness.recv_frame(sock)
    c, _throttle, nt = struct.unpack(">iii", f[:12])
    check(c == corr and nt == 1, "DeleteRecords answer: corr %d topics %d" % (c, nt))
    (ln,) = struct.unpack(">h", f[12:14])
    i = 14 + ln + 4
    p, low, err = struct.unpack(">iqh", f[i:i + 14])
    check(p == partition, "DeleteRecords answered partition %d" % p)
    return err, low
