#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Capture the record batches real Kafka clients put in Produce requests.

A tiny fake broker (one thread, one partition) answers ApiVersions (v0-v3),
Metadata (v0-v4) and Produce (v3-v7) just enough for a producer to send,
and writes the `records` bytes of each Produce partition to <name>.bin in
this folder. test_decode.c decodes them and checks the contents.

Every client sends five records to topic "t": key "key-<i>", value
"value-<i>"; record 1 carries the header ("h1", "v1"); record 2 has a null
value. Clients: librdkafka 2.0.2 through confluent-kafka-python (none,
gzip, snappy, lz4, zstd) and kafka-python 2.0.2 (none, gzip: its other
codecs need Python modules that are not installed).

Run with the Debian Python that has the clients: /usr/bin/python3 capture.py
"""
import os
import socket
import struct
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))

# api key -> (min, max) advertised. Only ApiVersions, Metadata and Produce
# are answered; the rest is listed so librdkafka enables magic 2 (Produce 3
# and Fetch 4) and zstd (Produce 7 and Fetch 10).
ADVERTISED = {0: (0, 7), 1: (0, 11), 2: (0, 1), 3: (0, 4), 10: (0, 0), 18: (0, 3)}


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        v = self.b[self.p:self.p + n]
        if len(v) != n:
            raise ValueError("short request")
        self.p += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        shift = v = 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << shift
            if not c & 0x80:
                return v
            shift += 7

    def nstring(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def nbytes(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def s16(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class FakeBroker:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.captured = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            while True:
                head = self.recv_exact(conn, 4)
                if head is None:
                    return
                req = self.recv_exact(conn, struct.unpack(">i", head)[0])
                resp = self.handle(req)
                if resp is not None:
                    conn.sendall(struct.pack(">i", len(resp)) + resp)
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    @staticmethod
    def recv_exact(conn, n):
        buf = b""
        while len(buf) < n:
            c = conn.recv(n - len(buf))
            if not c:
                return None
            buf += c
        return buf

    def handle(self, req):
        r = Reader(req)
        key, ver, corr = r.i16(), r.i16(), r.i32()
        r.nstring()  # client id
        if key == 18:
            return struct.pack(">i", corr) + self.api_versions(ver)
        if key == 3:
            return struct.pack(">i", corr) + self.metadata(r, ver)
        if key == 0:
            return struct.pack(">i", corr) + self.produce(r, ver)
        raise ValueError("api %d not answered" % key)

    def api_versions(self, ver):
        keys = sorted(ADVERTISED.items())
        if ver >= 3:  # flexible body (the response header stays v0)
            out = struct.pack(">h", 0) + bytes([len(keys) + 1])
            for k, (lo, hi) in keys:
                out += struct.pack(">hhh", k, lo, hi) + b"\x00"
            return out + struct.pack(">i", 0) + b"\x00"
        out = struct.pack(">hi", 0, len(keys))
        for k, (lo, hi) in keys:
            out += struct.pack(">hhh", k, lo, hi)
        return out + (struct.pack(">i", 0) if ver >= 1 else b"")

    def metadata(self, r, ver):
        out = struct.pack(">i", 0) if ver >= 3 else b""
        out += struct.pack(">i", 1) + struct.pack(">i", 1) + s16("127.0.0.1") + struct.pack(">i", self.port)
        if ver >= 1:
            out += struct.pack(">h", -1)  # rack
        if ver >= 2:
            out += s16("fake-cluster")
        if ver >= 1:
            out += struct.pack(">i", 1)  # controller
        out += struct.pack(">i", 1) + struct.pack(">h", 0) + s16("t")
        if ver >= 1:
            out += b"\x00"  # is_internal
        out += struct.pack(">i", 1) + struct.pack(">hiii", 0, 0, 1, 1) + struct.pack(">i", 1)
        out += struct.pack(">ii", 1, 1)  # isr
        return out

    def produce(self, r, ver):
        if ver < 3 or ver > 8:
            raise ValueError("produce v%d" % ver)
        r.nstring()  # transactional id
        acks = r.i16()
        r.i32()  # timeout
        out_topics = []
        for _ in range(r.i32()):
            name = r.nstring()
            parts = []
            for _ in range(r.i32()):
                index = r.i32()
                records = r.nbytes()
                with self.lock:
                    self.captured.append(records)
                parts.append(index)
            out_topics.append((name, parts))
        if acks == 0:
            return None
        out = struct.pack(">i", len(out_topics))
        for name, parts in out_topics:
            out += s16(name) + struct.pack(">i", len(parts))
            for index in parts:
                out += struct.pack(">ihq", index, 0, 0) + struct.pack(">q", -1)
                if ver >= 5:
                    out += struct.pack(">q", 0)
        return out + struct.pack(">i", 0)


def librdkafka(port, codec):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": "127.0.0.1:%d" % port, "compression.type": codec,
                  "linger.ms": 200, "acks": 1, "enable.idempotence": False})
    for i in range(5):
        p.produce("t", key=b"key-%d" % i, value=None if i == 2 else b"value-%d" % i,
                  headers=[("h1", b"v1")] if i == 1 else None, partition=0)
    if p.flush(20) != 0:
        raise RuntimeError("librdkafka did not deliver")


def kafka_python(port, codec):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers="127.0.0.1:%d" % port, api_version=(2, 0, 0),
                      compression_type=None if codec == "none" else codec, linger_ms=200, acks=1)
    futures = [p.send("t", key=b"key-%d" % i, value=None if i == 2 else b"value-%d" % i,
                      headers=[("h1", b"v1")] if i == 1 else [], partition=0) for i in range(5)]
    for f in futures:
        f.get(timeout=20)
    p.close()


def main():
    runs = [("librdkafka", c, librdkafka) for c in ("none", "gzip", "snappy", "lz4", "zstd")]
    runs += [("kafka-python", c, kafka_python) for c in ("none", "gzip")]
    for client, codec, fn in runs:
        broker = FakeBroker()
        fn(broker.port, codec)
        broker.sock.close()
        if len(broker.captured) != 1:
            sys.exit("%s %s: %d produce partitions, wanted 1" % (client, codec, len(broker.captured)))
        path = os.path.join(HERE, "%s-%s.bin" % (client, codec))
        with open(path, "wb") as f:
            f.write(broker.captured[0])
        print("%s: %d bytes" % (path, len(broker.captured[0])))


if __name__ == "__main__":
    main()
