/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kafka_records -- the broker's Kafka record batch translator
 * (server/records/): vs_records_decode on hostile Produce records, the
 * four decompressors on hostile streams, and encode -> decode round trips
 * of whatever decoded. Aborts on any broken invariant.
 *
 * Byte 0 is the mode (low two bits), byte 1 a parameter; the rest is data:
 *   0  the data as a partition's records, decoded as is
 *   1  the same after repairing every batch's CRC-32C (walking the batch
 *      lengths), so hostile headers, counts and records get past the CRC
 *   2  the data as a compressed stream: codec 1 + (byte 1 & 3), limit
 *      (byte 1 >> 2) * 1024; the output must respect the limit, and must
 *      compress and decompress back to itself
 *   3  the data as the records section of one batch that the harness
 *      wraps: codec byte 1 & 7, record count from the first two data bytes;
 *      length and CRC made right
 * Bit 2 of byte 0 picks the round trip's codec (none or LZ4), bit 3 sends
 * the batch's producer fields and log-append time into the round trip.
 *
 * Invariants: a decode either fails with a Kafka error code, a non-empty
 * reason and nothing handed out, or succeeds with records whose pointers
 * lie inside the input or the decoder's decompression buffer, offsets
 * 0..n-1 per batch, counts adding up, and no null header key; every
 * successful decode encodes and decodes back to the same records (an
 * encode may refuse only timestamps whose deltas overflow int64).
 *
 * Limits are small (64 KiB batches, 256 KiB decompressed, 4096 records
 * and headers) so a run stays fast and memory stays low.
 *
 * Seeds (fuzz/corpus/fuzz_kafka_records/): batches captured from
 * librdkafka and kafka-python (tests/server/records/data/) in modes 0 and
 * 1, batches from the encoder in every codec, the command-line tools'
 * gzip/lz4/zstd streams in mode 2, and records sections in mode 3.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kerrors.h"
#include "records/codec.h"
#include "records/crc32c.h"
#include "records/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vs_records_limits fuzz_limits = { 64 << 10, 256 << 10, 256 << 10, 4096, 4096 };

static void fail(const char *what, size_t i)
{
	fprintf(stderr, "fuzz_kafka_records: %s (%zu)\n", what, i);
	abort();
}

static int same(const void *a, size_t al, const void *b, size_t bl)
{
	if (!a || !b)
		return !a && !b;
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static int inside(const void *p, size_t n, const uint8_t *base, size_t len)
{
	const uint8_t *q = p;
	return q >= base && q <= base + len && n <= (size_t)(base + len - q);
}

/* Recompute each batch's CRC where its length field allows. */
static void repair_crcs(uint8_t *p, size_t len)
{
	size_t at = 0;
	while (len - at >= VS_BATCH_HEADER_SIZE) {
		int32_t blen = (int32_t)vs_be32(p + at + 8);
		if (blen < VS_BATCH_HEADER_SIZE - VS_BATCH_LENGTH_OVERHEAD ||
		    (size_t)blen + VS_BATCH_LENGTH_OVERHEAD > len - at)
			return;
		size_t wire = (size_t)blen + VS_BATCH_LENGTH_OVERHEAD;
		vs_put_be32(p + at + 17, vs_crc32c(0, p + at + 21, wire - 21));
		at += wire;
	}
}

static void check_record(const vs_records_decoder *d, const varve_record *r, const uint8_t *in,
			 size_t len, size_t i)
{
	const uint8_t *infl = d->inflated.buf;
	size_t ilen = d->inflated.len;
	if (r->key && !inside(r->key, r->key_len, in, len) && !inside(r->key, r->key_len, infl, ilen))
		fail("key outside the buffers", i);
	if (r->value && !inside(r->value, r->value_len, in, len) &&
	    !inside(r->value, r->value_len, infl, ilen))
		fail("value outside the buffers", i);
	if (r->header_count && !r->headers)
		fail("headers missing", i);
	for (size_t k = 0; k < r->header_count; k++) {
		const varve_header *h = &r->headers[k];
		if (!h->key)
			fail("null header key", i);
		if (!inside(h->key, h->key_len, in, len) && !inside(h->key, h->key_len, infl, ilen))
			fail("header key outside the buffers", i);
		if (h->value && !inside(h->value, h->value_len, in, len) &&
		    !inside(h->value, h->value_len, infl, ilen))
			fail("header value outside the buffers", i);
	}
	if (r->partition != -1 || r->flags != 0)
		fail("partition or flags", i);
}

static void check_decoded(const vs_records_decoder *d, const vs_decoded *out, const uint8_t *in,
			  size_t len)
{
	size_t total = 0, wire = 0;
	for (size_t b = 0; b < out->batch_count; b++) {
		const vs_batch *bt = &out->batches[b];
		if (bt->record_count <= 0 || bt->last_offset_delta != bt->record_count - 1)
			fail("batch counts", b);
		if (bt->records != out->records + total)
			fail("batch records pointer", b);
		if (bt->codec > VS_CODEC_MAX || (bt->attributes & (VS_ATTR_CONTROL | VS_ATTR_TRANSACTIONAL)))
			fail("batch attributes", b);
		for (int32_t i = 0; i < bt->record_count; i++) {
			if (bt->records[i].offset != i)
				fail("offset delta", (size_t)i);
			check_record(d, &bt->records[i], in, len, total + (size_t)i);
		}
		total += (size_t)bt->record_count;
		wire += bt->wire_size;
	}
	if (total != out->record_count || wire != len)
		fail("totals", total);
}

/* True when some record's timestamp minus the first's overflows int64. */
static int ts_deltas_overflow(const varve_record *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t dummy;
		if (__builtin_sub_overflow(r[i].timestamp, r[0].timestamp, &dummy))
			return 1;
	}
	return 0;
}

static void round_trip(const vs_batch *bt, int codec, int with_fields, vs_records_encoder *e,
		       vs_records_decoder *d2, vs_wbuf *w)
{
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.codec = codec;
	if (with_fields) {
		p.producer_id = bt->producer_id;
		p.producer_epoch = bt->producer_epoch;
		p.base_sequence = bt->base_sequence;
		p.log_append_time = bt->log_append_time;
		p.append_time = bt->max_timestamp;
	}
	size_t n = (size_t)bt->record_count;
	vs_wbuf_reset(w);
	int rc = vs_records_encode(e, w, bt->records, n, &p);
	if (rc == VS_RECORDS_EINVAL && ts_deltas_overflow(bt->records, n))
		return;
	if (rc)
		fail("encode refused a decoded batch", (size_t)-rc);
	vs_decoded back;
	if (vs_records_decode(d2, w->buf, w->len, &back) != KE_NONE) {
		fprintf(stderr, "%s\n", d2->reason);
		fail("encoded batch does not decode", 0);
	}
	if (back.batch_count != 1 || back.record_count != n)
		fail("round trip counts", back.record_count);
	const vs_batch *b2 = &back.batches[0];
	if (b2->codec != codec || b2->base_offset != 0 || b2->base_timestamp != bt->records[0].timestamp)
		fail("round trip header", 0);
	if (with_fields && (b2->producer_id != bt->producer_id ||
			    b2->producer_epoch != bt->producer_epoch ||
			    b2->base_sequence != bt->base_sequence ||
			    b2->log_append_time != bt->log_append_time))
		fail("round trip producer fields", 0);
	for (size_t i = 0; i < n; i++) {
		const varve_record *x = &bt->records[i], *y = &back.records[i];
		if (!same(x->key, x->key_len, y->key, y->key_len) ||
		    !same(x->value, x->value_len, y->value, y->value_len) || x->timestamp != y->timestamp ||
		    x->header_count != y->header_count)
			fail("round trip record", i);
		for (size_t k = 0; k < x->header_count; k++)
			if (!same(x->headers[k].key, x->headers[k].key_len, y->headers[k].key,
				  y->headers[k].key_len) ||
			    !same(x->headers[k].value, x->headers[k].value_len, y->headers[k].value,
				  y->headers[k].value_len))
				fail("round trip header", i);
	}
}

static void decode_records(const uint8_t *in, size_t len, uint8_t flags)
{
	vs_records_decoder d, d2;
	vs_records_encoder e;
	vs_wbuf w;
	vs_records_decoder_init(&d, &fuzz_limits);
	vs_records_decoder_init(&d2, NULL);
	vs_records_encoder_init(&e);
	vs_wbuf_init(&w);
	vs_decoded out;
	int rc = vs_records_decode(&d, in, len, &out);
	if (rc != KE_NONE) {
		if (out.batches || out.record_count || !d.reason[0])
			fail("a failure handed something out", (size_t)rc);
	} else {
		check_decoded(&d, &out, in, len);
		for (size_t b = 0; b < out.batch_count; b++)
			round_trip(&out.batches[b], (flags & 4) ? VS_CODEC_LZ4 : VS_CODEC_NONE, flags & 8, &e,
				   &d2, &w);
	}
	vs_wbuf_free(&w);
	vs_records_encoder_free(&e);
	vs_records_decoder_free(&d2);
	vs_records_decoder_free(&d);
}

static void decompress_stream(const uint8_t *in, size_t len, uint8_t param)
{
	int codec = 1 + (param & 3);
	size_t limit = (size_t)(param >> 2) * 1024;
	vs_codec_ctx c;
	vs_codec_init(&c);
	vs_wbuf out, z, back;
	vs_wbuf_init(&out);
	vs_wbuf_init(&z);
	vs_wbuf_init(&back);
	const char *why = NULL;
	int rc = vs_decompress(&c, codec, in, len, limit, &out, &why);
	if (rc && (out.len != 0 || !why))
		fail("failed decompression left output or no reason", out.len);
	if (rc == 0) {
		if (out.len > limit)
			fail("output over the limit", out.len);
		if (vs_compress(&c, codec, out.buf, out.len, &z))
			fail("recompress", out.len);
		if (vs_decompress(&c, codec, z.buf, z.len, out.len, &back, &why) || back.len != out.len ||
		    (out.len && memcmp(back.buf, out.buf, out.len)))
			fail("recompressed stream differs", out.len);
	}
	vs_wbuf_free(&out);
	vs_wbuf_free(&z);
	vs_wbuf_free(&back);
	vs_codec_free(&c);
}

/* One batch around the given records section. */
static void wrap_records(const uint8_t *in, size_t len, uint8_t param, uint8_t flags)
{
	if (len < 2)
		return;
	int32_t count = (int32_t)vs_be16(in);
	in += 2;
	len -= 2;
	size_t wire = VS_BATCH_HEADER_SIZE + len;
	uint8_t *b = malloc(wire);
	if (!b)
		return;
	memset(b, 0, VS_BATCH_HEADER_SIZE);
	vs_put_be32(b + 8, (uint32_t)(wire - VS_BATCH_LENGTH_OVERHEAD));
	b[16] = VS_BATCH_MAGIC;
	vs_put_be16(b + 21, (uint16_t)(param & 7));
	vs_put_be32(b + 23, (uint32_t)(count - 1));
	vs_put_be64(b + 27, (uint64_t)1700000000000LL);
	vs_put_be64(b + 43, (uint64_t)-1);
	vs_put_be16(b + 51, 0xffff);
	vs_put_be32(b + 53, 0xffffffffu);
	vs_put_be32(b + 57, (uint32_t)count);
	if (len)
		memcpy(b + VS_BATCH_HEADER_SIZE, in, len);
	vs_put_be32(b + 17, vs_crc32c(0, b + 21, wire - 21));
	decode_records(b, wire, flags);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t flags = data[0], param = data[1];
	/* an exact-size copy, so ASan sees any read past the end */
	size_t len = size - 2;
	uint8_t *in = malloc(len ? len : 1);
	if (!in)
		return 0;
	memcpy(in, data + 2, len);
	switch (flags & 3) {
	case 0:
		decode_records(in, len, flags);
		break;
	case 1:
		repair_crcs(in, len);
		decode_records(in, len, flags);
		break;
	case 2:
		decompress_stream(in, len, param);
		break;
	default:
		wrap_records(in, len, param, flags);
		break;
	}
	free(in);
	return 0;
}
