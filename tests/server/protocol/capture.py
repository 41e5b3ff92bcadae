#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""capture.py -- a fake one-node Kafka broker that records request frames.

It answers just well enough for real clients (kcat, librdkafka through
confluent_kafka, kafka-python) to go through their usual conversations --
bootstrap, produce, consume with and without a group, admin calls, SASL --
and writes every request frame it receives (the bytes after the 4-byte
size prefix) to OUTDIR/NNNN-<client>-<Api>-v<version>.bin. The frames that
matter are kept in vectors/ as golden inputs for the codec tests and as
fuzz seeds (tests/server/protocol/README.md says which is which).

The broker advertises server/protocol's table (TABLE below, kept equal to
kproto.c), names itself node 0 (and controller), and gives every topic one
partition led by itself; a group has one member, which is its leader, and
the assignment the leader sends is given back to it. Produce succeeds,
Fetch returns no records (after a short wait), commits are accepted.

Standard library only: run it with any python3.
    capture.py [--port 19092] [--topic cap] OUTDIR
"""
import argparse
import os
import socket
import socketserver
import struct
import sys
import threading
import time

# key: (name, min, max, first flexible) -- as server/protocol/kproto.c
TABLE = {
    0: ("Produce", 3, 7, 9),
    1: ("Fetch", 4, 11, 12),
    2: ("ListOffsets", 0, 2, 6),
    3: ("Metadata", 0, 4, 9),
    8: ("OffsetCommit", 0, 7, 8),
    9: ("OffsetFetch", 0, 7, 6),
    10: ("FindCoordinator", 0, 2, 3),
    11: ("JoinGroup", 0, 5, 6),
    12: ("Heartbeat", 0, 3, 4),
    13: ("LeaveGroup", 0, 1, 4),
    14: ("SyncGroup", 0, 3, 4),
    15: ("DescribeGroups", 0, 4, 5),
    16: ("ListGroups", 0, 4, 3),
    17: ("SaslHandshake", 0, 1, 99),
    18: ("ApiVersions", 0, 3, 3),
    19: ("CreateTopics", 0, 4, 5),
    20: ("DeleteTopics", 0, 3, 4),
    21: ("DeleteRecords", 0, 1, 2),
    22: ("InitProducerId", 0, 4, 2),
    29: ("DescribeAcls", 0, 1, 2),
    30: ("CreateAcls", 0, 1, 2),
    31: ("DeleteAcls", 0, 1, 2),
    32: ("DescribeConfigs", 0, 2, 4),
    33: ("AlterConfigs", 0, 1, 2),
    36: ("SaslAuthenticate", 0, 1, 2),
    37: ("CreatePartitions", 0, 1, 2),
    42: ("DeleteGroups", 0, 1, 2),
    44: ("IncrementalAlterConfigs", 0, 1, 1),
}

# ---- a small schema codec ---------------------------------------------------
# A schema is a list of fields (name, type, first version, last version);
# type is a primitive name, or a list (an array of structs with those
# fields), or ("array", primitive). "n" prefixes mark nullable types.

ANY = 99


def F(name, typ, lo=0, hi=ANY):
    return (name, typ, lo, hi)


class Reader:
    def __init__(self, data, flex):
        self.d, self.p, self.flex = data, 0, flex

    def take(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise ValueError("short frame")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def fixed(self, fmt):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(">" + fmt)))[0]

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def length(self, wide):
        if self.flex:
            return self.uvarint() - 1
        return self.fixed("i" if wide else "h")

    def tags(self):
        if self.flex:
            for _ in range(self.uvarint()):
                self.uvarint()
                self.take(self.uvarint())


class Writer:
    def __init__(self, flex):
        self.b, self.flex = bytearray(), flex

    def fixed(self, fmt, v):
        self.b += struct.pack(">" + fmt, v)

    def uvarint(self, v):
        while v >= 0x80:
            self.b.append((v & 0x7F) | 0x80)
            v >>= 7
        self.b.append(v)

    def length(self, n, wide):
        if self.flex:
            self.uvarint(n + 1)
        else:
            self.fixed("i" if wide else "h", n)


FIXED = {"i8": "b", "i16": "h", "i32": "i", "i64": "q", "bool": "?"}


def read_value(r, typ, v):
    if isinstance(typ, list):
        return read_struct(r, typ, v)
    if isinstance(typ, tuple):
        n = r.uvarint() - 1 if r.flex else r.fixed("i")
        return None if n < 0 else [read_value(r, typ[1], v) for _ in range(n)]
    base = typ.lstrip("n")
    if base in FIXED:
        return r.fixed(FIXED[base])
    n = r.length(base != "str")
    if n < 0:
        return None
    raw = r.take(n)
    return raw.decode("utf-8", "replace") if base == "str" else bytes(raw)


def read_struct(r, schema, v):
    out = {}
    for name, typ, lo, hi in schema:
        if lo <= v <= hi:
            out[name] = read_value(r, ("array", typ) if isinstance(typ, list) else typ, v)
    r.tags()
    return out


def default(typ):
    if isinstance(typ, (list, tuple)):
        return []
    if typ.startswith("n"):
        return None
    return "" if typ.lstrip("n") in ("str", "bytes") else 0


def write_value(w, typ, val, v):
    if isinstance(typ, list) or isinstance(typ, tuple):
        elem = typ if isinstance(typ, list) else typ[1]
        if val is None:
            w.length(-1, True)
            return
        if w.flex:
            w.uvarint(len(val) + 1)
        else:
            w.fixed("i", len(val))
        for e in val:
            if isinstance(elem, list):
                write_struct(w, elem, e, v)
            else:
                write_value(w, elem, e, v)
        return
    base = typ.lstrip("n")
    if base in FIXED:
        w.fixed(FIXED[base], val)
        return
    if val is None:
        w.length(-1, base != "str")
        return
    raw = val.encode() if isinstance(val, str) else val
    w.length(len(raw), base != "str")
    w.b += raw


def write_struct(w, schema, val, v):
    for name, typ, lo, hi in schema:
        if lo <= v <= hi:
            write_value(w, typ, val.get(name, default(typ)), v)
    if w.flex:
        w.uvarint(0)


# ---- request schemas (only what the fake broker needs to read) --------------

REQ = {
    "Metadata": [F("topics", [F("name", "str")]), F("allow_auto_topic_creation", "bool", 4)],
    "JoinGroup": [F("group_id", "str"), F("session_timeout_ms", "i32"),
                  F("rebalance_timeout_ms", "i32", 1), F("member_id", "str"),
                  F("group_instance_id", "nstr", 5), F("protocol_type", "str"),
                  F("protocols", [F("name", "str"), F("metadata", "bytes")])],
    "SyncGroup": [F("group_id", "str"), F("generation_id", "i32"), F("member_id", "str"),
                  F("group_instance_id", "nstr", 3),
                  F("assignments", [F("member_id", "str"), F("assignment", "bytes")])],
    "OffsetFetch": [F("group_id", "str"),
                    F("topics", [F("name", "str"), F("partition_indexes", ("array", "i32"))]),
                    F("require_stable", "bool", 7)],
    "OffsetCommit": [F("group_id", "str"), F("generation_id", "i32", 1), F("member_id", "str", 1),
                     F("group_instance_id", "nstr", 7), F("retention_time_ms", "i64", 2, 4),
                     F("topics", [F("name", "str"), F("partitions", [
                         F("partition_index", "i32"), F("committed_offset", "i64"),
                         F("committed_leader_epoch", "i32", 6), F("commit_timestamp", "i64", 1, 1),
                         F("committed_metadata", "nstr")])])],
    "ListOffsets": [F("replica_id", "i32"), F("isolation_level", "i8", 2),
                    F("topics", [F("name", "str"), F("partitions", [
                        F("partition_index", "i32"), F("timestamp", "i64"),
                        F("max_num_offsets", "i32", 0, 0)])])],
    "Fetch": [F("replica_id", "i32"), F("max_wait_ms", "i32"), F("min_bytes", "i32"),
              F("max_bytes", "i32", 3), F("isolation_level", "i8", 4), F("session_id", "i32", 7),
              F("session_epoch", "i32", 7),
              F("topics", [F("topic", "str"), F("partitions", [
                  F("partition", "i32"), F("current_leader_epoch", "i32", 9),
                  F("fetch_offset", "i64"), F("log_start_offset", "i64", 5),
                  F("partition_max_bytes", "i32")])])],
    "Produce": [F("transactional_id", "nstr", 3), F("acks", "i16"), F("timeout_ms", "i32"),
                F("topic_data", [F("name", "str"), F("partition_data", [
                    F("index", "i32"), F("records", "nbytes")])])],
    "CreateTopics": [F("topics", [F("name", "str"), F("num_partitions", "i32"),
                                  F("replication_factor", "i16")])],
    "DeleteTopics": [F("topic_names", ("array", "str"))],
    "CreatePartitions": [F("topics", [F("name", "str")])],
    "DeleteGroups": [F("groups_names", ("array", "str"))],
    "DescribeGroups": [F("groups", ("array", "str"))],
    "DeleteRecords": [F("topics", [F("name", "str"), F("partitions", [
        F("partition_index", "i32"), F("offset", "i64")])])],
    "CreateAcls": [F("creations", [F("resource_type", "i8"), F("resource_name", "str"),
                                   F("resource_pattern_type", "i8", 1), F("principal", "str"),
                                   F("host", "str"), F("operation", "i8"),
                                   F("permission_type", "i8")])],
    "DeleteAcls": [F("filters", [F("resource_type_filter", "i8"), F("resource_name_filter", "nstr"),
                                 F("pattern_type_filter", "i8", 1), F("principal_filter", "nstr"),
                                 F("host_filter", "nstr"), F("operation", "i8"),
                                 F("permission_type", "i8")])],
}
# Requests the broker answers without looking inside.
for api in ("ApiVersions", "FindCoordinator", "Heartbeat", "LeaveGroup", "ListGroups",
            "InitProducerId", "DescribeConfigs", "AlterConfigs", "IncrementalAlterConfigs",
            "DescribeAcls", "CreateAcls", "DeleteAcls", "SaslHandshake", "SaslAuthenticate"):
    REQ.setdefault(api, None)

# ---- response schemas ---------------------------------------------------------

ERR = F("error_code", "i16")
THR = F("throttle_time_ms", "i32")
RESP = {
    "ApiVersions": [ERR, F("api_keys", [F("api_key", "i16"), F("min_version", "i16"),
                                        F("max_version", "i16")]), F("throttle_time_ms", "i32", 1)],
    "Metadata": [F("throttle_time_ms", "i32", 3),
                 F("brokers", [F("node_id", "i32"), F("host", "str"), F("port", "i32"),
                               F("rack", "nstr", 1)]),
                 F("cluster_id", "nstr", 2), F("controller_id", "i32", 1),
                 F("topics", [ERR, F("name", "str"), F("is_internal", "bool", 1),
                              F("partitions", [ERR, F("partition_index", "i32"), F("leader_id", "i32"),
                                               F("replica_nodes", ("array", "i32")),
                                               F("isr_nodes", ("array", "i32"))])])],
    "FindCoordinator": [F("throttle_time_ms", "i32", 1), ERR, F("error_message", "nstr", 1),
                        F("node_id", "i32"), F("host", "str"), F("port", "i32")],
    "JoinGroup": [F("throttle_time_ms", "i32", 2), ERR, F("generation_id", "i32"),
                  F("protocol_name", "str"), F("leader", "str"), F("member_id", "str"),
                  F("members", [F("member_id", "str"), F("group_instance_id", "nstr", 5),
                                F("metadata", "bytes")])],
    "SyncGroup": [F("throttle_time_ms", "i32", 1), ERR, F("assignment", "bytes")],
    "Heartbeat": [F("throttle_time_ms", "i32", 1), ERR],
    "LeaveGroup": [F("throttle_time_ms", "i32", 1), ERR],
    "OffsetFetch": [F("throttle_time_ms", "i32", 3),
                    F("topics", [F("name", "str"), F("partitions", [
                        F("partition_index", "i32"), F("committed_offset", "i64"),
                        F("committed_leader_epoch", "i32", 5), F("metadata", "nstr"), ERR])]),
                    F("error_code", "i16", 2)],
    "OffsetCommit": [F("throttle_time_ms", "i32", 3),
                     F("topics", [F("name", "str"), F("partitions", [F("partition_index", "i32"), ERR])])],
    "ListOffsets": [F("throttle_time_ms", "i32", 2),
                    F("topics", [F("name", "str"), F("partitions", [
                        F("partition_index", "i32"), ERR, F("old_style_offsets", ("array", "i64"), 0, 0),
                        F("timestamp", "i64", 1), F("offset", "i64", 1)])])],
    "Fetch": [F("throttle_time_ms", "i32", 1), F("error_code", "i16", 7), F("session_id", "i32", 7),
              F("responses", [F("topic", "str"), F("partitions", [
                  F("partition_index", "i32"), ERR, F("high_watermark", "i64"),
                  F("last_stable_offset", "i64", 4), F("log_start_offset", "i64", 5),
                  F("aborted_transactions", [F("producer_id", "i64"), F("first_offset", "i64")], 4),
                  F("preferred_read_replica", "i32", 11), F("records", "bytes")])])],
    "Produce": [F("responses", [F("name", "str"), F("partition_responses", [
        F("index", "i32"), ERR, F("base_offset", "i64"), F("log_append_time_ms", "i64", 2),
        F("log_start_offset", "i64", 5)])]), F("throttle_time_ms", "i32", 1)],
    "InitProducerId": [THR, ERR, F("producer_id", "i64"), F("producer_epoch", "i16")],
    "CreateTopics": [F("throttle_time_ms", "i32", 2),
                     F("topics", [F("name", "str"), ERR, F("error_message", "nstr", 1)])],
    "DeleteTopics": [F("throttle_time_ms", "i32", 1), F("responses", [F("name", "str"), ERR])],
    "CreatePartitions": [THR, F("results", [F("name", "str"), ERR, F("error_message", "nstr")])],
    "DeleteGroups": [THR, F("results", [F("group_id", "str"), ERR])],
    "ListGroups": [F("throttle_time_ms", "i32", 1), ERR,
                   F("groups", [F("group_id", "str"), F("protocol_type", "str"),
                                F("group_state", "str", 4)])],
    "DescribeGroups": [F("throttle_time_ms", "i32", 1),
                       F("groups", [ERR, F("group_id", "str"), F("group_state", "str"),
                                    F("protocol_type", "str"), F("protocol_data", "str"),
                                    F("members", [F("member_id", "str")]),
                                    F("authorized_operations", "i32", 3)])],
    "DescribeConfigs": [THR, F("results", [ERR])],
    "AlterConfigs": [THR, F("responses", [ERR])],
    "IncrementalAlterConfigs": [THR, F("responses", [ERR])],
    "DeleteRecords": [THR, F("topics", [F("name", "str"), F("partitions", [
        F("partition_index", "i32"), F("low_watermark", "i64"), ERR])])],
    "DescribeAcls": [THR, ERR, F("error_message", "nstr"), F("resources", [F("resource_type", "i8")])],
    "CreateAcls": [THR, F("results", [ERR, F("error_message", "nstr")])],
    "DeleteAcls": [THR, F("filter_results", [ERR, F("error_message", "nstr"),
                                             F("matching_acls", [ERR])])],
    "SaslHandshake": [ERR, F("mechanisms", ("array", "str"))],
    "SaslAuthenticate": [ERR, F("error_message", "nstr"), F("auth_bytes", "bytes"),
                         F("session_lifetime_ms", "i64", 1)],
}


# ---- the fake broker ---------------------------------------------------------

class State:
    lock = threading.Lock()
    seq = 0
    assignment = b""


def answer(api, v, req, port, topic):
    """The response body (as a dict for RESP[api]) to a request."""
    if api == "ApiVersions":
        return {"api_keys": [{"api_key": k, "min_version": t[1], "max_version": t[2]}
                             for k, t in sorted(TABLE.items())]}
    if api == "Metadata":
        names = [t["name"] for t in (req["topics"] or [])] or [topic]
        return {"brokers": [{"node_id": 0, "host": "127.0.0.1", "port": port}],
                "cluster_id": "capture", "controller_id": 0,
                "topics": [{"name": n, "partitions": [{"partition_index": 0, "leader_id": 0,
                                                       "replica_nodes": [0], "isr_nodes": [0]}]}
                           for n in names]}
    if api == "FindCoordinator":
        return {"node_id": 0, "host": "127.0.0.1", "port": port}
    if api == "JoinGroup":
        proto = req["protocols"][0]
        member = req["member_id"] or "member-1"
        return {"generation_id": 1, "protocol_name": proto["name"], "leader": member,
                "member_id": member, "members": [{"member_id": member, "metadata": proto["metadata"]}]}
    if api == "SyncGroup":
        if req["assignments"]:
            State.assignment = req["assignments"][0]["assignment"]
        return {"assignment": State.assignment}
    if api == "OffsetFetch":
        return {"topics": [{"name": t["name"], "partitions": [
            {"partition_index": p, "committed_offset": -1, "committed_leader_epoch": -1,
             "metadata": ""} for p in t["partition_indexes"]]} for t in (req["topics"] or [])]}
    if api == "OffsetCommit":
        return {"topics": [{"name": t["name"], "partitions": [
            {"partition_index": p["partition_index"]} for p in t["partitions"]]} for t in req["topics"]]}
    if api == "ListOffsets":
        return {"topics": [{"name": t["name"], "partitions": [
            {"partition_index": p["partition_index"], "old_style_offsets": [0], "timestamp": -1,
             "offset": 0} for p in t["partitions"]]} for t in req["topics"]]}
    if api == "Fetch":
        time.sleep(min(req["max_wait_ms"], 200) / 1000.0)
        return {"responses": [{"topic": t["topic"], "partitions": [
            {"partition_index": p["partition"], "last_stable_offset": 0, "log_start_offset": 0,
             "preferred_read_replica": -1}
            for p in t["partitions"]]} for t in req["topics"]]}
    if api == "Produce":
        return {"responses": [{"name": t["name"], "partition_responses": [
            {"index": p["index"], "log_append_time_ms": -1} for p in t["partition_data"]]}
            for t in req["topic_data"]]}
    if api == "InitProducerId":
        return {"producer_id": 1000}
    if api == "CreateTopics":
        return {"topics": [{"name": t["name"]} for t in req["topics"]]}
    if api == "DeleteTopics":
        return {"responses": [{"name": n} for n in req["topic_names"]]}
    if api == "CreatePartitions":
        return {"results": [{"name": t["name"]} for t in req["topics"]]}
    if api == "DeleteGroups":
        return {"results": [{"group_id": g} for g in req["groups_names"]]}
    if api == "DescribeGroups":
        return {"groups": [{"group_id": g, "group_state": "Empty", "protocol_type": "consumer"}
                           for g in req["groups"]]}
    if api == "DeleteRecords":
        return {"topics": [{"name": t["name"], "partitions": [
            {"partition_index": p["partition_index"]} for p in t["partitions"]]} for t in req["topics"]]}
    if api == "CreateAcls":
        return {"results": [{} for _ in req["creations"]]}
    if api == "DeleteAcls":
        return {"filter_results": [{} for _ in req["filters"]]}
    if api == "SaslHandshake":
        return {"mechanisms": ["PLAIN"]}
    return {}


class Handler(socketserver.BaseRequestHandler):
    def frame(self):
        head = self.recv_exactly(4)
        return None if head is None else self.recv_exactly(struct.unpack(">i", head)[0])

    def recv_exactly(self, n):
        buf = b""
        while len(buf) < n:
            got = self.request.recv(n - len(buf))
            if not got:
                return None
            buf += got
        return buf

    def handle(self):
        srv = self.server
        sasl_raw = False
        while True:
            data = self.frame()
            if data is None:
                return
            if sasl_raw:  # kafka-python's SASL v0: a raw PLAIN token
                self.save("sasl", "SaslPlainToken", 0, data)
                self.request.sendall(struct.pack(">i", 0))
                sasl_raw = False
                continue
            key, v, corr = struct.unpack(">hhi", data[:8])
            cid_len = struct.unpack(">h", data[8:10])[0]
            client = data[10:10 + max(cid_len, 0)].decode("utf-8", "replace") if cid_len > 0 else "null"
            self.save(client, TABLE.get(key, ("Unknown%d" % key,))[0], v, data)
            if key not in TABLE:
                return
            api, lo, hi, flex_from = TABLE[key]
            if not lo <= v <= hi:
                if key != 18:
                    return
                body = Writer(False)  # KIP-511: a v0 answer listing what we have
                write_struct(body, RESP[api], dict(answer(api, 0, None, srv.port, srv.topic),
                                                   error_code=35), 0)
                self.send(corr, bytes(body.b), False)
                continue
            flex = v >= flex_from
            r = Reader(data, flex)
            r.p = 10 + max(cid_len, 0)
            r.tags()  # header v2 tags (no-op when not flexible)
            req = read_struct(r, REQ[api], v) if REQ[api] else None
            body = Writer(flex)
            write_struct(body, RESP[api], answer(api, v, req, srv.port, srv.topic), v)
            self.send(corr, bytes(body.b), flex and key != 18)
            if api == "SaslHandshake" and v == 0:
                sasl_raw = True

    def send(self, corr, body, header_v1):
        head = struct.pack(">i", corr) + (b"\x00" if header_v1 else b"")
        self.request.sendall(struct.pack(">i", len(head) + len(body)) + head + body)

    def save(self, client, api, v, data):
        with State.lock:
            State.seq += 1
            seq = State.seq
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in client)[:40]
        name = "%04d-%s-%s-v%d.bin" % (seq, safe, api, v)
        with open(os.path.join(self.server.outdir, name), "wb") as f:
            f.write(data)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=19092)
    ap.add_argument("--topic", default="cap")
    ap.add_argument("outdir")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.port, srv.topic, srv.outdir = a.port, a.topic, a.outdir
    print("capture: listening on 127.0.0.1:%d, frames to %s" % (a.port, a.outdir), file=sys.stderr)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
