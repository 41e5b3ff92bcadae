# SPDX-License-Identifier: MIT
"""t_embedded.py -- one store, two ways in: records produced through the
Kafka protocol are read by the store's own tools (`varve consume`,
`varve-dump`) beside the running server, and records produced with the
store's CLI before the server starts are fetched byte-exact by Kafka
clients."""
import base64
import json
import os
import subprocess

import common
from common import Server, check, kcat, message_headers, summary, test
from t_clients import consume, create_topics, produce


def protocol_records():
    """Records for the protocol side: keys null, empty, text and binary;
    values including tombstones and binary; headers repeated, null, empty
    and binary; explicit timestamps; two partitions."""
    base = 1750000000000
    out = []
    for i in range(40):
        r = {"partition": i % 2, "timestamp": base + 1000 * i}
        r["key"] = [None, b"", b"key-%d" % i, bytes([0, 255, i, 10])][i % 4]
        r["value"] = [b"value %d" % i, None, "välue ✓ %d" % i, bytes(range(i, i + 30))][i % 4]
        if isinstance(r["value"], str):
            r["value"] = r["value"].encode()
        r["headers"] = [None, [("h", b"1"), ("h", b"2")], [("n", None), ("e", b"")],
                        [("bin", bytes([0, 200, i])), ("txt", b"t%d" % i)]][(i // 2) % 4]
        out.append(r)
    return out


def from_cli_json(obj):
    """A `varve consume --json` line (pairs kept) as (partition, offset,
    timestamp, key, value, sorted headers)."""
    d = dict(obj)

    def field(name):
        if name + "_b64" in d:
            return base64.b64decode(d[name + "_b64"])
        v = d.get(name)
        return None if v is None else v.encode()
    headers = [(k, None if v is None else v.encode()) for k, v in (d.get("headers") or [])]
    headers += [(k, base64.b64decode(v)) for k, v in (d.get("headers_b64") or [])]
    return (d["partition"], d["offset"], d["timestamp"], field("key"), field("value"),
            sorted(headers, key=repr))


def dump_records(store_dir, topic):
    """Every record `varve-dump --json --records` prints for a topic, as
    (partition, offset, timestamp, key, value, headers in order)."""
    p = subprocess.run([common.BIN["dump"], "--json", "--records",
                        os.path.join(store_dir, "topics", topic)],
                       capture_output=True, timeout=60)
    check(p.returncode == 0, "varve-dump: exit %d: %s" % (p.returncode, p.stderr.decode()))
    out = []

    def raw(s):
        return None if s is None else s.encode("latin-1")  # one code point per byte
    for line in p.stdout.splitlines():
        o = json.loads(line)
        if o["type"] != "record":
            continue
        part = int(os.path.basename(os.path.dirname(o["file"])))
        out.append((part, o["offset"], o["timestamp"], raw(o["key"]), raw(o["value"]),
                    [(h["key"], raw(h["value"])) for h in o["headers"]]))
    return sorted(out)


@test
def embedded_protocol_to_cli(st):
    """40 records produced with confluent-kafka (keys, tombstones, headers,
    timestamps, binary bytes) are read back beside the running server by
    `varve consume --json` (read-only) and by `varve-dump --json --records`:
    partition, offset, timestamp, key, value and headers all as produced."""
    recs = protocol_records()
    srv = Server(st)
    try:
        create_topics(srv, [("p2c", 2, {})])
        where = produce(srv, "p2c", recs)
        want = sorted((w[0], w[1], r["timestamp"], r["key"], r["value"],
                       [(k, v) for k, v in (r["headers"] or [])])
                      for r, w in zip(recs, where))
        got = sorted(from_cli_json(o) for o in common.varve_json_lines("-d", st.dir, "consume",
                                                                        "p2c", "--json"))
        want_cli = [w[:5] + (sorted(w[5], key=repr),) for w in want]
        check(got == want_cli, "varve consume --json differs: first difference %r"
              % (first_difference(got, want_cli),))
        got = dump_records(st.dir, "p2c")
        check(got == want, "varve-dump differs: first difference %r"
              % (first_difference(got, want),))
    finally:
        srv.stop()
    summary("embedded_protocol_to_cli", "%d records equal in varve consume --json and varve-dump"
            % len(recs))


def first_difference(a, b):
    for x, y in zip(a, b):
        if x != y:
            return x, y
    return ("lengths", len(a), len(b))


def cli_records():
    """Records for `varve produce --json`: (json line, expected fields)."""
    base = 1760000000000
    out = []
    for i in range(30):
        key = [None, b"k%d" % i, "ключ %d" % i, bytes([0, 1, 254, i])][i % 4]
        if isinstance(key, str):
            key = key.encode()
        value = [b"plain %d" % i, bytes(range(200 - i, 256)) + b"\n\x00", None, b""][(i // 4) % 4]
        headers = [[], [("a", b"1"), ("a", b"2")], [("flag", None), ("x", b"")]][i % 3]
        obj = ['"partition": %d' % (i % 2), '"timestamp": %d' % (base + i)]
        if key is not None:
            obj.append('"key_b64": "%s"' % base64.b64encode(key).decode())
        if value is not None:
            obj.append('"value_b64": "%s"' % base64.b64encode(value).decode())
        if headers:
            # repeated members on purpose: `varve produce --json` keeps them all
            obj.append('"headers": {%s}' % ", ".join(
                '"%s": %s' % (k, "null" if v is None else '"%s"' % v.decode())
                for k, v in headers))
        out.append(("{" + ", ".join(obj) + "}",
                    {"partition": i % 2, "timestamp": base + i, "key": key, "value": value,
                     "headers": headers}))
    return out


@test
def embedded_cli_to_kcat(st):
    """30 records written with `varve produce --json` before the server
    starts (binary keys and values, null keys, tombstones, empty values,
    repeated and null-valued headers, timestamps) are fetched by kcat with
    every field in its format (key, value, headers, timestamp, partition,
    offset) byte-exact, and by confluent-kafka with exact header lists."""
    recs = cli_records()
    st.cli("topic", "create", "c2k", "--partitions", "2")
    st.cli("produce", "c2k", "--json", stdin="".join(line + "\n" for line, _ in recs))
    expect = {}
    next_off = [0, 0]
    for _, r in recs:
        expect[(r["partition"], next_off[r["partition"]])] = r
        next_off[r["partition"]] += 1
    srv = Server(st)
    try:
        out = kcat("-b", srv.bootstrap, "-C", "-t", "c2k", "-e", "-q",
                   "-f", r"%p %o %T %K %S\n%k%s\n%h\n")
        seen = 0
        i = 0
        while i < len(out):
            nl = out.index(b"\n", i)
            p, o, ts, kl, vl = (int(x) for x in out[i:nl].split())
            i = nl + 1
            key = None if kl < 0 else out[i:i + kl]
            i += max(kl, 0)
            value = None if vl < 0 else out[i:i + vl]
            i += max(vl, 0) + 1
            nl = out.index(b"\n", i)
            headers = out[i:nl]
            i = nl + 1
            r = expect.get((p, o))
            check(r is not None, "kcat read an unexpected record at %d/%d" % (p, o))
            want_h = b",".join(k.encode() + b"=" + (b"NULL" if v is None else v)
                               for k, v in r["headers"])
            check((ts, key, value, headers) == (r["timestamp"], r["key"], r["value"], want_h),
                  "record %d/%d: kcat read %r, produced %r" % (
                      p, o, (ts, key, value, headers),
                      (r["timestamp"], r["key"], r["value"], want_h)))
            seen += 1
        check(seen == len(recs), "kcat read %d records of %d" % (seen, len(recs)))
        for m in consume(srv, "c2k", [0, 1], len(recs)):
            r = expect[(m.partition(), m.offset())]
            check((m.key(), m.value(), message_headers(m) or [], m.timestamp()[1]) ==
                  (r["key"], r["value"], r["headers"], r["timestamp"]),
                  "confluent-kafka read %d/%d differently" % (m.partition(), m.offset()))
    finally:
        srv.stop()
    summary("embedded_cli_to_kcat", "%d records from varve produce --json equal in kcat -f and "
            "confluent-kafka" % len(recs))
