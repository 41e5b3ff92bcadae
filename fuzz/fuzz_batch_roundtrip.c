/* SPDX-License-Identifier: MIT */
/*
 * fuzz_batch_roundtrip -- records derived from the input are encoded with
 * the batch builder (vv_bb_*), then parsed, checksummed and decoded back;
 * everything must come back exactly (abort on any difference).
 *
 * Input layout (all bytes optional: a short input just gives defaults):
 *   u8 flags        bit 0 codec lz4, bit 1 reuse the builder for a second batch
 *   u64 base offset (bounded so base + deltas cannot overflow)
 *   u8 producer epoch, u32 base sequence, u64 producer id, u64 append time
 *   then per record: u8 shape, u8 delta step, u64 timestamp, lengths and
 *   bytes of key, value and headers (taken from the input stream)
 *
 * Timestamps are any value in [0, INT64_MAX], in any order within a batch
 * (the store refuses negative timestamps at produce; the decoder accepts a
 * record older than the batch's first_timestamp, never one above
 * max_timestamp or below 0).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "util.h"

#define MAX_RECS 64
#define MAX_HDRS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct in {
	const uint8_t *p;
	size_t n;
} in;

static uint64_t take(in *s, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		uint8_t b = 0;
		if (s->n) {
			b = *s->p++;
			s->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

/* Up to max bytes of the input as a blob (may be shorter when it runs out). */
static const uint8_t *take_blob(in *s, size_t max, size_t *len)
{
	size_t want = (size_t)take(s, 1) % (max + 1);
	if (want > s->n)
		want = s->n;
	const uint8_t *p = s->p;
	s->p += want;
	s->n -= want;
	*len = want;
	return p;
}

static void fail(const char *what, size_t i)
{
	fprintf(stderr, "fuzz_batch_roundtrip: record %zu: %s\n", i, what);
	abort();
}

static int same(const void *a, size_t al, const void *b, size_t bl)
{
	if (!a || !b)
		return !a && !b;
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static void one_batch(vv_batch_builder *bb, in *s, int codec)
{
	static const uint8_t empty[1];
	varve_record recs[MAX_RECS];
	varve_header hdrs[MAX_RECS][MAX_HDRS];
	uint32_t deltas[MAX_RECS];
	int64_t base = (int64_t)(take(s, 8) & (((uint64_t)1 << 62) - 1));
	vv_batch_params prm = { base, codec, 0, -1, 0, -1 };
	prm.producer_epoch = (uint16_t)take(s, 1);
	prm.base_sequence = (int32_t)take(s, 4);
	prm.producer_id = (int64_t)take(s, 8);
	prm.append_time = (int64_t)take(s, 8);
	size_t n = 1 + (size_t)take(s, 1) % MAX_RECS;
	uint32_t delta = 0;
	int64_t first_ts = 0, max_ts = 0;
	vv_bb_reset(bb);
	for (size_t i = 0; i < n; i++) {
		unsigned shape = (unsigned)take(s, 1);
		unsigned step = (unsigned)take(s, 1);
		if (i > 0)
			delta += 1 + (step & 3) + ((step & 0x80) ? 1000 : 0); /* gaps, as after compaction */
		deltas[i] = delta;
		uint64_t t = take(s, 8) & (uint64_t)INT64_MAX;
		int64_t ts = (int64_t)t;
		if (i > 0 && (shape & 0x80)) {
			/* close to the first: small deltas either way */
			int64_t d = (int64_t)(t & 0xff) - 0x80;
			ts = d < 0 ? (first_ts >= -d ? first_ts + d : 0)
				   : (first_ts <= INT64_MAX - d ? first_ts + d : INT64_MAX);
		}
		if (i == 0)
			first_ts = max_ts = ts;
		if (ts > max_ts)
			max_ts = ts;
		varve_record *r = &recs[i];
		memset(r, 0, sizeof *r);
		size_t l;
		const uint8_t *p = take_blob(s, 64, &l);
		r->key = (shape & 1) ? NULL : (l ? p : empty);
		r->key_len = r->key ? l : 0;
		p = take_blob(s, 200, &l);
		r->value = (shape & 2) ? NULL : (l ? p : empty);
		r->value_len = r->value ? l : 0;
		size_t hc = (shape >> 2) % (MAX_HDRS + 1);
		for (size_t k = 0; k < hc; k++) {
			p = take_blob(s, 16, &l);
			hdrs[i][k].key = (const char *)(l ? p : empty);
			hdrs[i][k].key_len = l;
			p = take_blob(s, 16, &l);
			int null_val = (shape >> 5) & 1 && (k & 1);
			hdrs[i][k].value = null_val ? NULL : (l ? p : empty);
			hdrs[i][k].value_len = null_val ? 0 : l;
		}
		r->headers = hc ? hdrs[i] : NULL;
		r->header_count = hc;
		r->timestamp = ts;
		if (vv_bb_add(bb, delta, ts, r))
			fail("vv_bb_add failed", i);
	}
	const uint8_t *out;
	size_t len;
	if (vv_bb_finish(bb, &prm, &out, &len))
		fail("vv_bb_finish failed", 0);

	/* Copy to an exact-size buffer so ASan sees overreads. */
	uint8_t *b = malloc(len);
	if (!b)
		return;
	memcpy(b, out, len);
	vv_batch_header h;
	if (vv_batch_parse_header(b, len, UINT32_MAX, &h))
		fail("header does not parse", 0);
	if (h.length != len || vv_batch_checksum_ok(b, &h))
		fail("length or checksum", 0);
	if (h.base_offset != base || h.record_count != n || h.last_offset_delta != deltas[n - 1] ||
	    h.first_timestamp != first_ts || h.max_timestamp != max_ts ||
	    (h.attributes & VV_ATTR_CODEC_MASK) != (unsigned)codec ||
	    h.producer_id != prm.producer_id || h.producer_epoch != prm.producer_epoch ||
	    h.base_sequence != prm.base_sequence || h.append_time != prm.append_time)
		fail("header fields differ", 0);
	if (codec == VARVE_CODEC_NONE) {
		size_t sum = VV_BATCH_HEADER_SIZE;
		for (size_t i = 0; i < n; i++)
			sum += vv_record_encoded_size(deltas[i], recs[i].timestamp - first_ts, &recs[i]);
		if (sum != len)
			fail("vv_record_encoded_size disagrees with the batch", 0);
	}

	uint8_t *scratch = NULL;
	size_t scap = 0;
	varve_header *dh = NULL;
	size_t hcap = 0;
	vv_record_reader rr;
	if (vv_record_reader_init(&rr, b, &h, &scratch, &scap, UINT32_MAX))
		fail("reader init", 0);
	for (size_t i = 0; i < n; i++) {
		varve_record r;
		int rc = vv_record_next(&rr, &r, &dh, &hcap);
		if (rc)
			fail("does not decode", i);
		if (r.offset != base + (int64_t)deltas[i])
			fail("offset", i);
		if (r.timestamp != recs[i].timestamp)
			fail("timestamp", i);
		if (!same(r.key, r.key_len, recs[i].key, recs[i].key_len))
			fail("key", i);
		if (!same(r.value, r.value_len, recs[i].value, recs[i].value_len))
			fail("value", i);
		if (r.header_count != recs[i].header_count)
			fail("header count", i);
		for (size_t k = 0; k < r.header_count; k++) {
			const varve_header *x = &r.headers[k], *y = &recs[i].headers[k];
			if (x->key_len != y->key_len || (x->key_len && memcmp(x->key, y->key, x->key_len)))
				fail("header key", i);
			if (!same(x->value, x->value_len, y->value, y->value_len))
				fail("header value", i);
		}
	}
	varve_record r;
	if (vv_record_next(&rr, &r, &dh, &hcap) != VARVE_EEND)
		fail("records after the last", n);
	if (vv_batch_validate_records(b, &h, &scratch, &scap, UINT32_MAX))
		fail("validate_records refuses a good batch", 0);

	/* Rewriting the base offset keeps the batch valid (compaction). */
	vv_batch_set_base_offset(b, base + 7);
	if (vv_batch_parse_header(b, len, UINT32_MAX, &h) || h.base_offset != base + 7 ||
	    vv_batch_checksum_ok(b, &h))
		fail("set_base_offset", 0);

	vv_free(dh);
	vv_free(scratch);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in s = { data, size };
	unsigned flags = (unsigned)take(&s, 1);
	vv_batch_builder bb;
	vv_bb_init(&bb);
	one_batch(&bb, &s, flags & 1);
	if ((flags & 2) && s.n)
		one_batch(&bb, &s, (flags >> 2) & 1); /* builder reuse */
	vv_bb_free(&bb);
	return 0;
}
