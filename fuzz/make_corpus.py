#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerate the seed corpora in fuzz/corpus/ from real files.

    python3 fuzz/make_corpus.py BUILD_DIR

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


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    demo = os.path.join(build, "tools", "varve-demo")
    mk = os.path.join(build, "tools", "varve-dump-mkstore")
    for t in ("fuzz_dump", "fuzz_batch_decode", "fuzz_batch_roundtrip"):
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
