# SPDX-License-Identifier: MIT
"""t_bad_produce.py -- Produce requests built by hand (common.py's encoder)
and sent over a raw socket: requests no well-behaved client sends, each
answered with Kafka's error, appending nothing and leaving the connection
usable (or, with acks=0, closing it so the client notices); and an
idempotent producer's retries, sent exactly when the test wants them."""
import struct

import harness
from common import (ATTR_TRANSACTIONAL, Server, check, crash, encode_batch, kcat_read, list_offsets_v1,
                    parse_produce_v3, produce_v3, summary, test, wait_for)

CORRUPT_MESSAGE = 2
INVALID_REQUIRED_ACKS = 21
INVALID_TXN_STATE = 48
INVALID_RECORD = 87

NOW = 1790000000000


class Raw:
    """One connection; requests numbered from 1."""

    def __init__(self, srv):
        self.s = harness.connect(srv.port)
        self.corr = 0

    def produce(self, records_bytes, acks=-1, partition=0, topic="raw"):
        """Send Produce v3; returns (error, base offset) for acks != 0."""
        self.corr += 1
        self.s.sendall(harness.request(0, 3, self.corr,
                                       produce_v3(topic, partition, records_bytes, acks=acks)))
        if acks == 0:
            return None
        corr, parts = parse_produce_v3(harness.recv_frame(self.s))
        check(corr == self.corr and len(parts) == 1, "Produce answer: %r" % ((corr, parts),))
        _, p, err, base, _ = parts[0]
        check(p == partition, "answered partition %d" % p)
        return err, base

    def end_offset(self, partition=0):
        self.corr += 1
        err, _, off = list_offsets_v1(self.s, "raw", partition, -1, corr=self.corr)
        check(err == 0, "ListOffsets error %d" % err)
        return off

    def init_producer_id(self):
        self.corr += 1
        body = struct.pack(">hi", -1, 60000)  # no transactional id, v0
        self.s.sendall(harness.request(22, 0, self.corr, body))
        f = harness.recv_frame(self.s)
        corr, _throttle, err, pid, epoch = struct.unpack(">iihqh", f[:20])
        check(corr == self.corr and err == 0 and pid >= 0, "InitProducerId: error %d" % err)
        return pid, epoch


def one(key, value):
    return encode_batch([(key, value, [(b"h", b"v")])], NOW)


@test
def raw_produce_bad_input(st):
    """A batch with a wrong CRC gets CORRUPT_MESSAGE; acks=2 gets
    INVALID_REQUIRED_ACKS; a transactional batch (with a real producer id)
    gets INVALID_TXN_STATE; two batches in one partition's records get
    INVALID_RECORD; after each the end offset (ListOffsets) has not moved
    and the same connection still appends good batches. With acks=0 a good
    batch is appended silently and a bad one closes the connection."""
    st.cli("topic", "create", "raw", "--partitions", "2")
    srv = Server(st)
    try:
        r = Raw(srv)
        check(r.produce(one(b"a", b"first")) == (0, 0), "a good batch was not appended at 0")
        check(r.end_offset() == 1, "end offset after one good batch")
        cases = [
            ("wrong CRC", encode_batch([(b"k", b"v", [])], NOW, bad_crc=True), -1,
             CORRUPT_MESSAGE),
            ("wrong CRC, acks=1", encode_batch([(b"k", b"v", [])], NOW, bad_crc=True), 1,
             CORRUPT_MESSAGE),
            ("acks=2", one(b"k", b"v"), 2, INVALID_REQUIRED_ACKS),
            ("two batches", one(b"k", b"v") + one(b"k2", b"v2"), -1, INVALID_RECORD),
        ]
        pid, epoch = r.init_producer_id()
        cases.append(("transactional", encode_batch([(b"k", b"v", [])], NOW,
                                                    attributes=ATTR_TRANSACTIONAL,
                                                    producer_id=pid, producer_epoch=epoch,
                                                    base_sequence=0), -1, INVALID_TXN_STATE))
        for what, data, acks, want in cases:
            err, base = r.produce(data, acks=acks)
            check(err == want and base == -1, "%s: error %d base offset %d, expected error %d"
                  % (what, err, base, want))
            check(r.end_offset() == 1, "%s appended something" % what)
        check(r.produce(one(b"b", b"second")) == (0, 1), "a good batch after the bad ones")
        r.produce(one(b"c", b"third"), acks=0)
        # no answer to wait for: poll the end offset (it may count only
        # durable records)
        wait_for(lambda: r.end_offset() == 3, "the acks=0 batch to be appended", timeout=10)
        check(not harness.closed_by_peer(r.s, 0.2), "acks=0 good batch closed the connection")
        r.produce(encode_batch([(b"k", b"v", [])], NOW, bad_crc=True), acks=0)
        check(harness.closed_by_peer(r.s), "acks=0 with a bad batch did not close the connection")
        r = Raw(srv)
        check(r.end_offset() == 3 and r.end_offset(1) == 0, "the bad acks=0 batch was appended")
        got = [(p, o, k, v) for p, o, ts, k, v in kcat_read(srv, "raw", "-o", "beginning")]
        check(got == [(0, 0, b"a", b"first"), (0, 1, b"b", b"second"), (0, 2, b"c", b"third")],
              "the log holds %r" % got)
    finally:
        srv.stop()
    summary("raw_produce_bad_input", "%d bad Produce requests refused with Kafka's errors and "
            "nothing appended; acks=0: good batch appended, bad batch closed the connection"
            % len(cases))


OUT_OF_ORDER_SEQUENCE_NUMBER = 45


@test
def raw_idempotent_retries(st):
    """An idempotent producer's retry, deterministically: a batch resent with
    the same producer id, epoch and sequence is answered with the offset of
    the first copy and appends nothing, also when the server was SIGKILLed
    and restarted in between (the producer state is rebuilt from the log);
    the next sequence appends; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER."""
    st.cli("topic", "create", "raw", "--partitions", "1")
    srv = Server(st)
    try:
        r = Raw(srv)
        pid, epoch = r.init_producer_id()

        def batch(seq, n=3):
            return encode_batch([(b"k%d" % (seq + i), b"v%d" % (seq + i), []) for i in range(n)],
                                NOW, producer_id=pid, producer_epoch=epoch, base_sequence=seq)
        check(r.produce(batch(0)) == (0, 0), "first idempotent batch")
        check(r.produce(batch(0)) == (0, 0), "a retry was not answered with the first offset")
        check(r.end_offset() == 3, "a retry appended records")
        crash(srv)
        srv = Server(st)
        r = Raw(srv)
        check(r.produce(batch(0)) == (0, 0), "a retry after a restart was not recognised")
        check(r.end_offset() == 3, "a retry after a restart appended records")
        check(r.produce(batch(3)) == (0, 3), "the next sequence after a restart")
        err, _ = r.produce(batch(9))
        check(err == OUT_OF_ORDER_SEQUENCE_NUMBER, "a sequence gap: error %d" % err)
        check(r.end_offset() == 6, "end offset %d, expected 6" % r.end_offset())
    finally:
        srv.stop()
    summary("raw_idempotent_retries", "retries before and after a SIGKILL restart answered with "
            "the first copy's offset, nothing appended twice; a sequence gap refused")
