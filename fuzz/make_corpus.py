#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerate the seed corpora in fuzz/corpus/ from real files.

    python3 fuzz/make_corpus.py BUILD_DIR [TARGET...]

With TARGETs (e.g. fuzz_recovery fuzz_meta) only their seeds are rewritten.
BUILD_DIR must hold tools/varve-demo and tools/varve-dump-mkstore (any
build with -Dtools=true). Writes fuzz/corpus/fuzz_*/seed-* (existing seeds
of that name are replaced; other files -- regress-* and crash-* regression
inputs, cov-* inputs kept from fuzzing runs -- are left alone).
Deterministic apart from the timestamps the store writes.
"""
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

KINDS = {"log": 0, "meta": 1, "index": 2, "timeindex": 3, "recovery-point": 4, "segment": 5}
# option byte of fuzz_dump: 1 records, 2 verify, 4 json, 8 quiet, 16/32 hex/base64
FLAG_SETS = [0x00, 0x03, 0x07, 0x17, 0x27]


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def batches(log):
    """(position, bytes) of each batch of a healthy log."""
    out, pos = [], 0
    while pos + 80 <= len(log):
        length = struct.unpack_from("<I", log, pos + 12)[0]
        if length < 80 or pos + length > len(log):
            break
        out.append((pos, log[pos:pos + length]))
        pos += length
    return out


OLD_TARGETS = ("fuzz_dump", "fuzz_batch_decode", "fuzz_batch_roundtrip")
NEW_TARGETS = ("fuzz_recovery", "fuzz_index", "fuzz_meta", "fuzz_cli_parse", "fuzz_cli_json")


def u16(n):
    return struct.pack("<H", n)


def recovery_seeds(rich, demo_store):
    """fuzz_recovery: u8 flags, u8 flags2, segments, recovery point."""
    def part(d):
        names = sorted(n[:-4] for n in os.listdir(d) if n.endswith(".log"))
        segs = []
        for n in names:
            idx = os.path.join(d, n + ".index")
            tidx = os.path.join(d, n + ".timeindex")
            segs.append((int(n), read(os.path.join(d, n + ".log")),
                         read(idx) if os.path.exists(idx) else b"",
                         read(tidx) if os.path.exists(tidx) else b""))
        rpp = os.path.join(d, "recovery-point")
        return segs, read(rpp) if os.path.exists(rpp) else b""

    def enc(segs, fl, fl2, rp=b"", logs=None):
        out = bytes([fl | (len(segs) - 1), fl2])
        prev = None
        for i, (base, log, idx, tidx) in enumerate(segs):
            if logs is not None:
                log = logs[i]
            out += struct.pack("<I", base) if prev is None else u16(base - prev - 1)
            prev = base
            out += u16(len(log)) + log
            if fl & 4:
                out += u16(len(idx)) + idx
            if fl & 8:
                out += u16(len(tidx)) + tidx
        if fl & 16:
            out += rp
        return out

    def w(name, data):
        write("fuzz_recovery", "seed-" + name, data)

    plain, prp = part(os.path.join(rich, "topics", "plain", "0"))
    plain1, prp1 = part(os.path.join(rich, "topics", "plain", "1"))
    zipped, zrp = part(os.path.join(rich, "topics", "zipped", "0"))
    demo, drp = part(os.path.join(demo_store, "topics", "orders", "0"))
    w("plain-3seg", enc(plain, 0x1C, 0, prp))
    w("plain-3seg-clean", enc(plain, 0x3C, 0, prp))
    w("plain1-noindex", enc(plain1, 0x10, 0x08, prp1))
    w("zipped-3seg", enc(zipped, 0x0C, 0x02, b""))
    w("demo-1seg", enc(demo, 0x1C, 0, drp))
    w("demo-dedup-append", enc(demo, 0x04, 0x24, b""))
    # recovery point from fields: segment, batch boundary, (offset delta), log start
    w("plain-rp-fields", enc(plain, 0x9C, 0, bytes([1]) + u16(3) + u16(5) + u16(3)))
    w("plain-rp-start", enc(plain, 0x90, 0x10, bytes([2]) + u16(0) + u16(0) + u16(40)))
    # torn tail, zero tail (preallocated space), a flipped byte
    logs = [s[1] for s in plain1]
    logs[-1] = logs[-1][: len(logs[-1]) // 2]
    w("plain1-torn", enc(plain1, 0x0C, 0, b"", logs))
    logs = [s[1] for s in demo]
    w("demo-zero-tail", enc(demo, 0x00, 0x02, b"", [logs[0] + b"\0" * 3000]))
    bad = bytearray(plain[0][1])
    bad[len(bad) // 3] ^= 0x10
    w("plain-flipped", enc(plain, 0x0C, 0, b"", [bytes(bad), plain[1][1], plain[2][1]]))
    # repaired checksums and renumbered offsets over hostile records
    w("plain-flipped-repair", enc(plain, 0x40, 0x01, b"", [bytes(bad), plain[1][1], plain[2][1]]))
    w("zipped-repair", enc(zipped[:1], 0x40, 0x09))
    # segments named away from their batches' offsets
    w("misnamed", enc([(1000, demo[0][1], b"", b"")], 0x00, 0))
    w("empty", b"")


def index_seeds():
    """fuzz_index: u8 flags, u8 modes, edits or raw bytes, lookup targets."""
    def w(name, data):
        write("fuzz_index", "seed-" + name, data)

    targets = struct.pack("<8I", 0, 1, 5, 17, 5003, 5040, 120, 0xFFFFFFFF)
    for log in range(4):
        for iv in range(4):
            w("log%d-iv%d" % (log, iv), bytes([log | iv << 2, 0x00, 0, 0]) + targets)
    w("missing-index", bytes([0x01, 0x02, 0]) + targets)
    w("missing-time", bytes([0x02, 0x08, 0]) + targets)
    w("empty-both", bytes([0x00, 0x0F]) + targets)
    w("raw", bytes([0x01, 0x05]) + u16(16) + struct.pack("<4I", 0, 0, 3, 500) +
      u16(24) + struct.pack("<qIqI", 1700000000000, 0, 1700000000400, 2))
    # edits: set pos, add to rel, torn entry, insert, swap, huge ts
    edits = bytes([5, 2, 1]) + struct.pack("<I", 7) + bytes([3, 2]) + struct.pack("<I", 1) + \
        bytes([4, 4]) + struct.pack("<I", 3) + bytes([1, 5]) + struct.pack("<I", 0x01000100) + \
        bytes([0, 6]) + struct.pack("<I", 0)
    tedits = bytes([2, 1, 7]) + struct.pack("<I", 5) + bytes([0, 0]) + struct.pack("<I", 1)
    for log in range(4):
        w("edits-log%d" % log, bytes([log | 0x04, 0x00]) + edits + tedits + targets)
        w("edits-ro-log%d" % log, bytes([log | 0x10 | 0x20, 0x00]) + edits + tedits + targets)
        w("time-lie-log%d" % log, bytes([log | 0x40, 0x00, 0, 1, 0xFF, 0]) +
          struct.pack("<I", 0) + targets)


def topic_config(partitions=1, codec=0, cleanup=1, dedup=0, groups=b"", ratio=0.5):
    return (bytes([1]) + struct.pack("<I", partitions) + bytes([codec, cleanup, 0, 0]) +
            struct.pack("<qqqqqq", -1, -1, -1, 0, 0, 86400000) + struct.pack("<d", ratio) +
            struct.pack("<qqqq", 3600000, dedup, 1700000000000, -1) + u16(len(groups)) + groups)


def meta_seeds():
    """fuzz_meta: u8 flags, then records: kind, u8 key length, key, u16 value length, value."""
    def rec(kind, key, value=None):
        k = {"T": 0, "O": 1, "G": 2, "A": 3, "N": 4, "P": 5}
        if kind in k:
            head = bytes([k[kind] | (8 if value is None else 0)])
        else:
            head = bytes([6 | (8 if value is None else 0), ord(kind)])
        out = head + bytes([len(key)]) + key
        if value is not None:
            out += u16(len(value)) + value
        return out

    end = bytes([7])

    def commit(g, t, p, off, md=b""):
        return rec("O", g + b"\0" + t + b"\0" + struct.pack("<I", p),
                   bytes([1]) + struct.pack("<qq", off, 1700000000000) + md)

    def attempt(g, t, p, off, n, reason=b"boom"):
        return rec("A", g + b"\0" + t + b"\0" + struct.pack("<Iq", p, off),
                   bytes([1]) + struct.pack("<Iq", n, 1700000001000) + reason)

    def w(name, flags, *recs):
        write("fuzz_meta", "seed-" + name, bytes([flags]) + b"".join(recs))

    w("topic", 0, rec("T", b"orders", topic_config(2)))
    w("topics-lz4", 0x01, rec("T", b"a", topic_config(1)), rec("T", b"b", topic_config(3, 1, 2)),
      end, rec("T", b"a"), rec("T", b"c.dlq", topic_config(1, 0, 3, 0, b"g1,g2")))
    w("groups", 0x04, rec("T", b"orders", topic_config(2)),
      rec("G", b"g1", bytes([1]) + struct.pack("<q", 1700000000000)), end,
      commit(b"g1", b"orders", 0, 5, b"meta"), commit(b"g1", b"orders", 1, 99),
      commit(b"g2", b"orders", 7, 1), end, attempt(b"g1", b"orders", 0, 3, 2),
      rec("O", b"g2\0orders\0" + struct.pack("<I", 7)))
    w("producers", 0x04, rec("N", b"", bytes([1]) + struct.pack("<q", 10)),
      rec("P", b"app", bytes([1]) + struct.pack("<qH", 3, 7)), end,
      rec("P", b"other", bytes([1]) + struct.pack("<qH", 4, 65535)), rec("P", b"gone"),
      rec("N", b"", bytes([1]) + struct.pack("<q", 2)))
    w("dedup", 0x08, rec("T", b"d", topic_config(1, 0, 1, 60000)))
    w("unknown-kinds", 0x12, rec("Z", b"whatever", b"x"), rec("T", b"", b""), rec("G", b"x"),
      rec("T", b"bad/name", topic_config(1)), rec("T", b"t", b"\x02future"),
      rec("T", b"t2", topic_config(1)[:50]))
    w("retain-groups", 0x20, rec("T", b"r", topic_config(1, 0, 1, 0, b"g1")),
      commit(b"g1", b"r", 0, 0), attempt(b"g1", b"r", 0, 0, 1, b""))


def cli_seeds():
    parse = [b"1h30m", b"250ms", b"7d", b"0s", b"10GiB", b"1.5 KiB", b"512", b"-5", b"+7",
             b"18446744073709551615", b"9223372036854775807", b"1700000000000",
             b"2026-11-26T10:00:00.000Z", b"2024-02-29T23:59:59+02:00", b"1970-01-01",
             b"now", b"now-1h", b"now+90s", b"3 MB", b"1e3", b"2w", b"1h 30m"]
    for i, s in enumerate(parse):
        write("fuzz_cli_parse", "seed-%02d" % i, s)
    js = [b'{"key":"a","value":"b","headers":{"x":"y"},"partition":1}',
          b'[1,2.5e3,-0,true,false,null,{}]', b'"\\ud83d\\ude00 \\u00e9\\n"',
          b'{"value_b64":"aGVsbG8=","key":null}', b'  {"a":[[[[1]]]]}  ',
          b"[" * 40 + b"]" * 40, b'"\xff\xfe"', b"aGVsbG8gd29ybGQ", b'{"a":1,"a":2}',
          b'{"n":123456789012345678901234567890}']
    for i, s in enumerate(js):
        write("fuzz_cli_json", "seed-%02d" % i, s)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    only = set(sys.argv[2:])
    demo = os.path.join(build, "tools", "varve-demo")
    mk = os.path.join(build, "tools", "varve-dump-mkstore")
    for t in OLD_TARGETS + NEW_TARGETS:
        if only and t not in only:
            continue
        d = os.path.join(CORPUS, t)
        if os.path.isdir(d):
            for n in os.listdir(d):
                if n.startswith("seed-"):
                    os.unlink(os.path.join(d, n))
    tmp = tempfile.mkdtemp(prefix="varve-corpus-")
    try:
        store = os.path.join(tmp, "demo")
        subprocess.run([demo, store, "0", "0", "24"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([demo, store, "1", "0", "12"], check=True, stdout=subprocess.DEVNULL)
        rich = os.path.join(tmp, "rich")
        subprocess.run([mk, rich, "rich"], check=True)
        if not only or "fuzz_recovery" in only:
            recovery_seeds(rich, store)
        if not only or "fuzz_index" in only:
            index_seeds()
        if not only or "fuzz_meta" in only:
            meta_seeds()
        if not only or only & {"fuzz_cli_parse", "fuzz_cli_json"}:
            cli_seeds()
        if only and not only & set(OLD_TARGETS):
            return

        seg = "00000000000000000000"
        p0 = os.path.join(store, "topics", "orders", "0")
        log = read(os.path.join(p0, seg + ".log"))
        idx = read(os.path.join(p0, seg + ".index"))
        tidx = read(os.path.join(p0, seg + ".timeindex"))
        rp = read(os.path.join(p0, "recovery-point"))
        meta = read(os.path.join(store, "meta", seg + ".log"))
        z0 = os.path.join(rich, "topics", "zipped", "0")
        zlog = read(os.path.join(z0, seg + ".log"))
        zidx = read(os.path.join(z0, seg + ".index"))
        ztidx = read(os.path.join(z0, seg + ".timeindex"))
        rmeta = read(os.path.join(rich, "meta", seg + ".log"))
        pl = os.path.join(rich, "topics", "plain", "1")
        plog = read(os.path.join(pl, seg + ".log"))
        pidx = read(os.path.join(pl, seg + ".index"))
        ptidx = read(os.path.join(pl, seg + ".timeindex"))

        def dump_seed(name, kind, flags, data):
            write("fuzz_dump", "seed-%s-%02x" % (name, flags), bytes([KINDS[kind], flags]) + data)

        def segment(l, i, t):
            return struct.pack("<HH", len(i), len(t)) + i + t + l

        for fl in FLAG_SETS:
            dump_seed("demo-log", "log", fl, log)
        dump_seed("demo-meta", "meta", 0x03, meta)
        dump_seed("demo-meta-json", "meta", 0x07, meta)
        dump_seed("rich-meta", "meta", 0x07, rmeta)
        dump_seed("demo-index", "index", 0x02, idx)
        dump_seed("demo-timeindex", "timeindex", 0x02, tidx)
        dump_seed("demo-rp", "recovery-point", 0x00, rp)
        dump_seed("demo-rp-json", "recovery-point", 0x04, rp)
        dump_seed("demo-segment", "segment", 0x03, segment(log, idx, tidx))
        dump_seed("lz4-segment", "segment", 0x07, segment(zlog, zidx, ztidx))
        dump_seed("plain-segment", "segment", 0x03, segment(plog, pidx, ptidx))
        dump_seed("lz4-log", "log", 0x27, zlog)
        # damaged copies
        dump_seed("trunc-log", "log", 0x03, log[: len(log) // 2])
        dump_seed("trunc-header", "log", 0x03, log[:50])
        flipped = bytearray(log)
        flipped[len(log) // 2] ^= 0x40
        dump_seed("flipped-log", "log", 0x07, bytes(flipped))
        dump_seed("trunc-index", "index", 0x02, idx[:5])
        dump_seed("bad-rp", "recovery-point", 0x00, rp[:40] + b"\0" * 8)

        # fuzz_batch_decode: mode byte + one batch
        bs = batches(log)[:2] + batches(zlog)[:2] + batches(meta)[:1] + batches(plog)[:2]
        for i, (_, b) in enumerate(bs):
            write("fuzz_batch_decode", "seed-batch%d-m00" % i, b"\x00" + b)
            write("fuzz_batch_decode", "seed-batch%d-m3f" % i, b"\x3f" + b)
        write("fuzz_batch_decode", "seed-trunc", b"\x00" + bs[0][1][:100])

        # fuzz_batch_roundtrip: structured random bytes
        rnd = random.Random(1234)
        for i in range(8):
            n = rnd.choice([16, 64, 200, 600, 1500])
            data = bytes([i & 3]) + bytes(rnd.getrandbits(8) for _ in range(n))
            write("fuzz_batch_roundtrip", "seed-%d" % i, data)
        write("fuzz_batch_roundtrip", "seed-empty", b"")
    finally:
        shutil.rmtree(tmp)
    total = 0
    for root, _, files in os.walk(CORPUS):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print("corpus: %d bytes" % total)


if __name__ == "__main__":
    main()
