#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of varve-dump (registered in tools/meson.build).

    test_dump.py VARVE_DUMP VARVE_DEMO MKSTORE VANISH_SO

Builds stores with varve-demo and mkstore (tests/tools/mkstore.c) in a
temporary directory, runs varve-dump on them and on damaged copies, and
checks the output, the exit codes, and that nothing was written.
VANISH_SO (tests/tools/vanish.c) deletes a segment between varve-dump's
directory listing and its open, as a live writer's retention can.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback

DUMP, DEMO, MKSTORE, VANISH = sys.argv[1:5]
SEG = "00000000000000000000"
DEMO_COUNT = 200


def run(*args, expect=None, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([DUMP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
                       timeout=120)
    out = p.stdout.decode("utf-8")  # must always be valid UTF-8
    err = p.stderr.decode("utf-8", "replace")
    if expect is not None and p.returncode != expect:
        raise AssertionError("varve-dump %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), p.returncode, expect, out[-3000:], err[-3000:]))
    return p.returncode, out, err


def json_lines(out):
    objs = []
    for i, line in enumerate(out.splitlines()):
        try:
            o = json.loads(line)
        except ValueError as e:
            raise AssertionError("line %d is not JSON (%s): %r" % (i + 1, e, line[:300]))
        assert isinstance(o, dict) and "type" in o, line
        objs.append(o)
    return objs


def batches(path):
    """(position, length) of the batches of a healthy log."""
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos + 80 <= len(data):
        length = struct.unpack_from("<I", data, pos + 12)[0]
        out.append((pos, length))
        pos += length
    return out


def tree_digest(root):
    h = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            st = os.stat(p)
            h[p] = (hashlib.sha256(open(p, "rb").read()).hexdigest(), st.st_mtime_ns, st.st_size)
    return h


class Env:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="varve-dump-test-")
        self.demo = os.path.join(self.tmp, "demo")
        subprocess.run([DEMO, self.demo, "0", "0", str(DEMO_COUNT)], check=True,
                       stdout=subprocess.DEVNULL)
        self.rich = os.path.join(self.tmp, "rich")
        subprocess.run([MKSTORE, self.rich, "rich"], check=True)
        self.many = os.path.join(self.tmp, "many")
        subprocess.run([MKSTORE, self.many, "batches"], check=True)

    def copy(self, src, name):
        dst = os.path.join(self.tmp, name)
        shutil.copytree(src, dst)
        return dst

    def part(self, store, topic="orders", p=0):
        return os.path.join(store, "topics", topic, str(p))


# ---- tests -----------------------------------------------------------------


def test_verify_demo_store_ok(env):
    before = tree_digest(env.demo)
    _, out, err = run("--verify", env.demo, expect=0)
    assert "verify ok" in out, out[-500:]
    assert err == "", err
    run("--verify", "-q", "--json", "--records", env.demo, expect=0)
    assert tree_digest(env.demo) == before, "varve-dump changed the store"


def test_flipped_byte_named(env):
    store = env.copy(env.demo, "flipped")
    log = os.path.join(env.part(store), SEG + ".log")
    bs = batches(log)
    assert bs, "demo log has no batch"
    pos, length = bs[len(bs) // 2]
    victim = pos + 80 + (length - 80) // 2  # inside the batch payload
    with open(log, "r+b") as f:
        f.seek(victim)
        b = f.read(1)
        f.seek(victim)
        f.write(bytes([b[0] ^ 0x5A]))
    rc, out, err = run("--verify", store)
    assert rc == 3, (rc, err)
    assert log in err and ("position %d" % pos) in err, err
    assert "checksum" in err, err
    assert re.search(r"DAMAGE .*%s at position %d" % (re.escape(log), pos), out), out[-1000:]
    # the other partitions are still dumped after the damage
    assert "topics/orders/3/" in out
    # --json names it too
    rc, out, _ = run("--verify", "--json", "-q", store)
    assert rc == 3
    objs = json_lines(out)
    dmg = [o for o in objs if o["type"] == "damage"]
    assert dmg and dmg[0]["file"] == log and dmg[0]["position"] == pos, dmg
    assert objs[-1]["type"] == "summary" and objs[-1]["first_damage"]["position"] == pos


def test_json_lines_parse(env):
    _, out, _ = run("--json", "--records", "--verify", env.demo, expect=0)
    objs = json_lines(out)
    types = {o["type"] for o in objs}
    for t in ("store", "file", "batch", "record", "meta", "index_entry", "timeindex_entry",
              "recovery_point", "file_end", "summary"):
        assert t in types, "no %s object in --json output" % t
    for o in objs:
        if o["type"] == "batch":
            assert o["checksum_ok"] is True
            for k in ("position", "base_offset", "last_offset", "record_count",
                      "first_timestamp", "max_timestamp", "append_time", "codec", "stored_size",
                      "records_size", "producer_id", "producer_epoch", "base_sequence"):
                assert k in o, k
    summary = objs[-1]
    assert summary["type"] == "summary" and summary["damage"] == 0
    assert summary["records"] == DEMO_COUNT + 1  # the demo's records + the topic record


def test_records_show_demo_data(env):
    _, out, _ = run("--records", env.demo, expect=0)
    assert 'key="customer-0" value="{\\"order\\":0,\\"amount\\":0}"' in out, out[:2000]
    assert '"source"="demo"' in out
    _, out, _ = run("--records", "--json", env.demo, expect=0)
    recs = [o for o in json_lines(out) if o["type"] == "record" and "/topics/" in o["file"]]
    assert len(recs) == DEMO_COUNT, len(recs)
    seen = set()
    for r in recs:
        v = json.loads(r["value"])
        i = v["order"]
        assert r["key"] == "customer-%d" % (i % 37), r
        assert v["amount"] == i * 7 % 500
        assert r["headers"] == [{"key": "source", "value": "demo"}]
        seen.add(i)
    assert seen == set(range(DEMO_COUNT))
    # offsets within a partition are 0..n-1
    by_part = {}
    for r in recs:
        by_part.setdefault(r["file"], []).append(r["offset"])
    for offs in by_part.values():
        assert offs == list(range(len(offs)))


def test_hex_and_base64(env):
    log = os.path.join(env.part(env.demo), SEG + ".log")
    _, out, _ = run("--records", "--hex", log, expect=0)
    assert 'key="' + b"customer-".hex() in out
    _, out, _ = run("--records", "--base64", "--json", log, expect=0)
    recs = [o for o in json_lines(out) if o["type"] == "record"]
    assert recs
    for r in recs:
        assert base64.b64decode(r["key"]).startswith(b"customer-")
        json.loads(base64.b64decode(r["value"]))
    run("--hex", "--base64", log, expect=2)


def test_index_timeindex_recovery_point(env):
    p = env.part(env.demo)
    _, out, _ = run(os.path.join(p, SEG + ".index"), expect=0)
    assert re.search(r"^index entry=0 relative_offset=0 offset=0 log_position=0$", out, re.M), out
    _, out, _ = run(os.path.join(p, SEG + ".timeindex"), expect=0)
    assert re.search(r"^timeindex entry=0 timestamp=\d+ relative_offset=0 offset=0$", out, re.M), out
    _, out, _ = run("--verify", os.path.join(p, SEG + ".index"),
                    os.path.join(p, SEG + ".timeindex"), expect=0)
    _, out, _ = run(os.path.join(p, "recovery-point"), expect=0)
    size = os.path.getsize(os.path.join(p, SEG + ".log"))
    m = re.search(r"recovery-point offset=(\d+) segment_base=0 position=(\d+) log_start=0", out)
    assert m and int(m.group(2)) == size, out
    # the rich store has many entries per index; all of them check out
    rp = env.part(env.rich, "plain", 0)
    _, out, _ = run("--json", os.path.join(rp, SEG + ".index"), expect=0)
    entries = [o for o in json_lines(out) if o["type"] == "index_entry"]
    assert len(entries) > 1, entries


def test_meta_decodes_topics(env):
    meta = os.path.join(env.demo, "meta", SEG + ".log")
    _, out, _ = run(meta, expect=0)
    assert re.search(r'meta offset=0 timestamp=\d+ topic "orders" config: partitions=4 codec=none '
                     r'cleanup_policy=delete retention_ms=-1', out), out
    _, out, _ = run("--json", os.path.join(env.rich, "meta"), expect=0)
    metas = [o for o in json_lines(out) if o["type"] == "meta"]
    topics = [(m["topic"], "deleted" in m) for m in metas]
    assert ("plain", False) in topics and ("zipped", False) in topics, topics
    assert ("gone", True) in topics, topics
    z = [m for m in metas if m["topic"] == "zipped"][0]["config"]
    assert z["codec"] == "lz4" and z["partitions"] == 1 and z["retention_ms"] == 7 * 24 * 3600 * 1000
    for k in ("partitions", "codec", "cleanup_policy", "retention_ms", "retention_bytes",
              "retention_records", "segment_bytes", "segment_ms", "delete_retention_ms",
              "min_cleanable_dirty_ratio", "timestamp_type", "max_future_skew_ms", "partitioner",
              "dedup_window_ms", "created_ms"):
        assert k in z, k


def test_rich_store_binary_keys(env):
    _, out, _ = run("--verify", "-q", env.rich, expect=0)
    assert "verify ok" in out
    segs = [f for f in os.listdir(env.part(env.rich, "plain", 0)) if f.endswith(".log")]
    assert len(segs) > 1, "mkstore should have rolled segments"
    for enc in ("escape", "base64"):
        args = ["--json", "--records"] + (["--base64"] if enc == "base64" else [])
        _, out, _ = run(*args, os.path.join(env.rich, "topics"), expect=0)
        recs = [o for o in json_lines(out) if o["type"] == "record"]
        lz4 = [o for o in json_lines(out) if o["type"] == "batch" and o["codec"] == "lz4"]
        assert lz4, "no lz4 batch in the rich store"
        decode = (lambda s: base64.b64decode(s)) if enc == "base64" else \
                 (lambda s: s.encode("latin-1"))
        checked = 0
        for r in recs:
            if r["value"] is None:
                continue  # tombstone
            val = decode(r["value"])
            m = re.match(rb"value-(\d+) ", val)
            if not m:
                continue
            s = int(m.group(1))
            assert val == b'value-%d "q" \\ tab\t' % s, val
            if s % 7 == 3:
                assert r["key"] is None
            elif s % 5 == 0:
                assert decode(r["key"]) == b""
            else:
                assert decode(r["key"]) == bytes((s * 37 + k * 101) & 0xFF for k in range(8)), r
            if s % 3 == 0:
                h = r["headers"]
                assert decode(h[0]["key"]) == b"trace" and decode(h[0]["value"]) == b"\x00\x01\xfe\xff"
                assert decode(h[1]["key"]) == b"empty" and h[1]["value"] is None
            checked += 1
        assert checked > 300, checked


def flip(path, pos):
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x5A]))


def test_one_flip_one_problem(env):
    # One flipped byte anywhere in a batch is one damaged place: nothing in
    # the damaged batch (its length, its offsets) is trusted, and every
    # later batch is read and checked as usual.
    log0 = os.path.join(env.part(env.many, "b"), SEG + ".log")
    bs = batches(log0)
    assert len(bs) == 60, len(bs)
    k = len(bs) // 3
    pos, length = bs[k]
    later = [p for p, _ in bs[k + 1:]]
    for name, victim in [("payload", pos + 80 + (length - 80) // 2), ("base offset", pos + 16),
                         ("base offset, high byte", pos + 20),
                         ("length", pos + 12), ("length, high byte", pos + 15),
                         ("magic", pos + 8), ("record count", pos + 28)]:
        store = env.copy(env.many, "flip-" + name.replace(" ", "-").replace(",", ""))
        log = os.path.join(env.part(store, "b"), SEG + ".log")
        flip(log, victim)
        rc, out, err = run("--verify", "--json", env.part(store, "b"))
        assert rc == 3, (name, rc, err)
        objs = json_lines(out)
        dmg = [o for o in objs if o["type"] == "damage"]
        assert len(dmg) == 1, (name, dmg)
        assert dmg[0]["file"] == log and dmg[0]["position"] == pos, (name, dmg)
        good = [o["position"] for o in objs if o["type"] == "batch" and o["checksum_ok"]]
        assert all(p in good for p in later), (name, "later batches not all read", good, later)
        assert "(and " not in err, (name, err)
        shutil.rmtree(store)


def vanish_env(*names):
    # ASan wants its runtime first among the loaded libraries; the shim is
    # preloaded before it in a sanitized build.
    return {"LD_PRELOAD": os.path.abspath(VANISH), "VARVE_TEST_VANISH": ",".join(names),
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}


def test_segment_removed_after_listing(env):
    # Retention deletes the oldest segment between the directory listing
    # and the open of its files: skipped, not an error; -v names it.
    for trigger, verbose in ((".log", False), (".index", True), (".timeindex", False)):
        store = env.copy(env.rich, "vanish" + trigger)
        p = env.part(store, "plain", 0)
        first = sorted(f for f in os.listdir(p) if f.endswith(".log"))[0][:20]
        args = ["--verify", "-q"] + (["-v"] if verbose else []) + [store]
        rc, out, err = run(*args, env=vanish_env("plain/0/" + first + trigger))
        assert not os.path.exists(os.path.join(p, first + ".log")), "the shim did not fire"
        assert rc == 0, (trigger, rc, out[-2000:], err)
        assert "verify ok" in out, out[-500:]
        if verbose:
            assert "removed after it was listed" in err and first in err, err
        else:
            assert err == "", err
        shutil.rmtree(store)


def test_truncated_segment(env):
    store = env.copy(env.demo, "truncated")
    log = os.path.join(env.part(store, p=1), SEG + ".log")
    size = os.path.getsize(log)
    os.truncate(log, size - 10)
    rc, out, err = run("--verify", store)
    assert rc == 3 and "torn batch" in err and log in err and "position 0" in err, err
    os.truncate(log, 30)
    rc, out, err = run(log)
    assert rc == 3 and "less than a header" in err, err


def test_preallocated_zero_tail(env):
    # A live writer keeps zeroed, allocated space after the data of its
    # active segment: not damage.
    store = env.copy(env.demo, "zerotail")
    log = os.path.join(env.part(store, p=1), SEG + ".log")
    size = os.path.getsize(log)
    with open(log, "ab") as f:
        f.write(b"\0" * 100000)
    _, out, _ = run("--verify", store, expect=0)
    assert "100000 bytes of zeros from position %d" % size in out, out
    # one non-zero byte in the zeros is damage again
    with open(log, "r+b") as f:
        f.seek(size + 5000)
        f.write(b"\1")
    rc, _, err = run("--verify", "-q", store)
    assert rc == 3 and ("position %d" % size) in err, err


def test_damaged_recovery_point(env):
    store = env.copy(env.demo, "badrp")
    rp = os.path.join(env.part(store, p=2), "recovery-point")
    with open(rp, "r+b") as f:
        f.seek(20)
        f.write(b"\x77")
    rc, out, err = run(rp)
    assert rc == 3 and "DAMAGED" in out and "checksum mismatch" in out, out
    rc, out, err = run("--verify", "-q", store)
    assert rc == 3 and rp in err and "recovery point is damaged" in err, err


def test_bad_index_entry(env):
    store = env.copy(env.rich, "badindex")
    p = env.part(store, "plain", 0)
    idx = os.path.join(p, SEG + ".index")
    data = bytearray(open(idx, "rb").read())
    assert len(data) >= 16
    rel, pos = struct.unpack_from("<II", data, 8)
    struct.pack_into("<II", data, 8, rel, pos + 1)  # not a batch boundary any more
    open(idx, "wb").write(bytes(data))
    rc, out, err = run("--verify", "-q", store)
    assert rc == 3 and idx in err and "position 8" in err and "batch boundary" in err, err
    # checked from the index file alone too (the log beside it is read)
    rc, _, err = run("--verify", idx)
    assert rc == 3 and "position 8" in err, err
    # without --verify the entries are only printed
    run(idx, expect=0)

    tidx = os.path.join(p, SEG + ".timeindex")
    store2 = env.copy(env.rich, "badtimeindex")
    tidx = os.path.join(env.part(store2, "plain", 0), SEG + ".timeindex")
    data = bytearray(open(tidx, "rb").read())
    ts, rel = struct.unpack_from("<qI", data, 0)
    struct.pack_into("<qI", data, 0, ts - 1, rel)
    open(tidx, "wb").write(bytes(data))
    rc, _, err = run("--verify", "-q", store2)
    assert rc == 3 and tidx in err and "position 0" in err and "max timestamp" in err, err


def test_segment_overlap(env):
    store = env.copy(env.rich, "overlap")
    p = env.part(store, "plain", 0)
    logs = sorted(f for f in os.listdir(p) if f.endswith(".log"))
    assert len(logs) >= 2
    second = int(logs[1][:20])
    first_batches = batches(os.path.join(p, logs[0]))
    assert first_batches
    # rename the second segment below the end of the first
    new = second - 1
    for suf in (".log", ".index", ".timeindex"):
        src = os.path.join(p, logs[1][:20] + suf)
        if os.path.exists(src):
            os.rename(src, os.path.join(p, "%020d%s" % (new, suf)))
    rc, _, err = run("--verify", "-q", p)
    assert rc == 3 and ("%020d.log" % new) in err and "overlaps" in err, err


def test_usage_and_errors(env):
    run(expect=2)
    run("--no-such-option", env.demo, expect=2)
    run("--kind", "nonsense", env.demo, expect=2)
    rc, out, _ = run("--help", expect=0)
    assert "usage: varve-dump" in out and "--verify" in out
    rc, _, err = run(os.path.join(env.tmp, "does-not-exist.log"), expect=1)
    assert "cannot open" in err
    rc, _, err = run(os.path.join(env.demo, "VERSION"), expect=1)
    assert "--kind" in err
    # --kind reads a renamed copy
    copy = os.path.join(env.tmp, "segment.bin")
    shutil.copy(os.path.join(env.part(env.demo), SEG + ".log"), copy)
    _, out, _ = run("--kind", "log", "--verify", copy, expect=0)
    assert "batch position=0 base_offset=0" in out
    # a partition directory and a topic directory
    _, out, _ = run(env.part(env.demo, p=3), expect=0)
    assert "topics/orders/3/" + SEG + ".log" in out
    _, out, _ = run("--verify", os.path.join(env.demo, "topics", "orders"), expect=0)
    assert out.count(".log (log segment") == 4


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    env = Env()
    passed = failed = 0
    try:
        for t in TESTS:
            try:
                t(env)
                print("ok   %s" % t.__name__)
                passed += 1
            except Exception:
                print("FAIL %s" % t.__name__)
                traceback.print_exc(file=sys.stdout)
                failed += 1
    finally:
        shutil.rmtree(env.tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
