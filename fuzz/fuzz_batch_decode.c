/* SPDX-License-Identifier: MIT */
/*
 * fuzz_batch_decode -- the library's batch decoder on arbitrary bytes:
 * vv_batch_parse_header, vv_batch_checksum_ok, vv_record_reader_init (with
 * its bounded LZ4 path) and vv_record_next, and vv_batch_validate_records.
 *
 * Byte 0 is a mode; the batch is the rest, copied to a buffer of exactly
 * its size (ASan catches any read past it). Random bytes almost never
 * carry a valid checksum, so some modes first repair the header (magic,
 * reserved, length, records_size, codec, count) and recompute the checksum:
 * then the record decoder sees hostile record bytes behind a header it must
 * believe, which is the case that matters (a bug in a writer, or a
 * collision).
 *
 * Mode bit 128 gives an uncompressed batch a record map of 2..9 entries
 * with hostile contents and a correct map checksum, so vv_batch_map_open's
 * order checks and the chunk walks (vv_record_reader_window) see them.
 *
 * Properties (abort on violation): every record returned lies inside the
 * batch or the decompression buffer, offsets strictly increase and stay
 * within the header's range, timestamps stay within [0, max], no more
 * records than the header counts, and vv_batch_validate_records agrees
 * with walking the records one by one (a batch with a map may fail it for
 * its map alone). A map that opens has chunks inside the records section,
 * and walking a chunk returns records inside it, in order, within the
 * chunk's deltas and count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "util.h"

#define MAX_RECORDS_SIZE (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const void *p, size_t n, const uint8_t *lo, size_t len)
{
	const uint8_t *q = p;
	return q >= lo && n <= len && (size_t)(q - lo) <= len - n;
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_batch_decode: %s\n", what);
		abort();
	}
}

/* The record map, when it opens: each chunk inside the records section,
 * and each chunk's walk inside its chunk, in order, within its deltas. */
static void walk_map(const uint8_t *b, const vv_batch_header *h, varve_header **hdrs, size_t *hcap)
{
	vv_batch_map m;
	if (!(h->attributes & VV_ATTR_RECORD_MAP) || vv_batch_map_open(b, h, &m))
		return;
	check(m.count >= 2, "a map of fewer than 2 chunks opened");
	for (uint32_t i = 0; i < m.count; i++) {
		vv_map_chunk c;
		vv_batch_map_chunk(&m, h, i, &c);
		check(c.pos < c.end && c.end <= h->records_size, "chunk outside the records");
		check(vv_batch_map_find(&m, c.first_delta, h->last_offset_delta) == i,
		      "find misses a chunk's first delta");
		check(vv_batch_map_find(&m, c.last_delta, h->last_offset_delta) == i,
		      "find misses a chunk's last delta");
		(void)vv_batch_map_chunks_ok(b, h, &m, i, i + 1);
		vv_record_reader rr = { .h = *h };
		vv_record_reader_window(&rr, b, &m, i, i + 1);
		const uint8_t *lo = b + VV_BATCH_HEADER_SIZE + c.pos;
		uint32_t max = rr.remaining, got = 0;
		int64_t prev = -1;
		varve_record r;
		while (vv_record_next(&rr, &r, hdrs, hcap) == 0) {
			check(++got <= max, "more records than the chunk counts");
			check(r.offset > prev, "chunk offsets not increasing");
			check(r.offset >= h->base_offset + (int64_t)c.first_delta &&
				      r.offset <= h->base_offset + (int64_t)c.last_delta,
			      "offset outside the chunk");
			check(!r.key || inside(r.key, r.key_len, lo, c.end - c.pos), "key outside the chunk");
			check(!r.value || inside(r.value, r.value_len, lo, c.end - c.pos),
			      "value outside the chunk");
			prev = r.offset;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	size_t n = size - 1;
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		return 0;
	memcpy(b, data + 1, n);

	if ((mode & 1) && n >= VV_BATCH_HEADER_SIZE) {
		vv_store32(b + 8, VV_BATCH_MAGIC);
		vv_store32(b + 76, 0);
		if (mode & 2)
			vv_store32(b + 12, (uint32_t)n);
		if (mode & 4)
			vv_store16(b + 32, vv_load16(b + 32) & VV_ATTR_CODEC_MASK & 1);
		if ((mode & 8) && (vv_load16(b + 32) & VV_ATTR_CODEC_MASK) == VARVE_CODEC_NONE)
			vv_store32(b + 36, vv_load32(b + 12) - VV_BATCH_HEADER_SIZE);
		if (mode & 16) {
			/* small plausible counts: 1..8 records, deltas 0..count-1+x */
			uint32_t cnt = 1 + (b[28] & 7);
			vv_store32(b + 28, cnt);
			vv_store32(b + 24, cnt - 1 + (b[24] & 3));
			vv_store64(b + 16, b[16]);
		}
		if (mode & 32) {
			/* timestamps in a sane order */
			int64_t first = (int64_t)(vv_load64(b + 40) >> 2);
			vv_store64(b + 40, (uint64_t)first);
			vv_store64(b + 48, (uint64_t)(first + (b[48] & 0x7f)));
		}
		uint32_t len = vv_load32(b + 12);
		uint32_t chunks = 2 + (b[29] & 7), map = VV_MAP_TRAILER_SIZE + chunks * VV_MAP_ENTRY_SIZE;
		if ((mode & 128) && len <= n && len >= VV_BATCH_HEADER_SIZE + map &&
		    (vv_load16(b + 32) & VV_ATTR_CODEC_MASK) == VARVE_CODEC_NONE) {
			vv_store16(b + 32, vv_load16(b + 32) | VV_ATTR_RECORD_MAP);
			vv_store32(b + 36, len - VV_BATCH_HEADER_SIZE - map);
			vv_store32(b + len - VV_MAP_TRAILER_SIZE, chunks);
			vv_store32(b + len - VV_MAP_TRAILER_SIZE + 4, 0);
			/* reseals the map and the batch (the base offset is kept) */
			vv_batch_set_base_offset(b, (int64_t)vv_load64(b + 16));
		} else if (len >= 8 && len <= n) {
			vv_store64(b, vv_batch_checksum(b, len));
		}
	}

	uint32_t max_len = (mode & 64) ? (uint32_t)n : MAX_RECORDS_SIZE;
	vv_batch_header h;
	int rc = vv_batch_parse_header(b, n, max_len, &h);
	if (rc == 0 && h.length <= n) {
		check(h.length >= VV_BATCH_HEADER_SIZE, "header length below 80 accepted");
		check(h.record_count > 0, "empty batch accepted");
		(void)vv_batch_checksum_ok(b, &h);

		uint8_t *scratch = NULL;
		size_t scap = 0;
		varve_header *hdrs = NULL;
		size_t hcap = 0;
		vv_record_reader rr;
		int walk_ok = 0;
		rc = vv_record_reader_init(&rr, b, &h, &scratch, &scap, MAX_RECORDS_SIZE);
		if (rc == 0) {
			const uint8_t *lo = b;
			size_t span = h.length;
			if ((h.attributes & VV_ATTR_CODEC_MASK) == VARVE_CODEC_LZ4) {
				lo = scratch;
				span = h.records_size;
				check(scap >= h.records_size, "scratch smaller than records_size");
			}
			int64_t prev = -1;
			uint32_t got = 0;
			varve_record r;
			while ((rc = vv_record_next(&rr, &r, &hdrs, &hcap)) == 0) {
				got++;
				check(got <= h.record_count, "more records than the header counts");
				check(r.offset > prev, "offsets not increasing");
				check(r.offset >= h.base_offset && r.offset <= vv_batch_last_offset(&h),
				      "offset outside the batch");
				check(r.timestamp >= 0 && r.timestamp <= h.max_timestamp,
				      "timestamp outside [0, max]");
				check(!r.key || inside(r.key, r.key_len, lo, span), "key outside the batch");
				check(!r.value || inside(r.value, r.value_len, lo, span),
				      "value outside the batch");
				check(r.header_count <= VV_MAX_HEADERS_PER_RECORD, "too many headers");
				for (size_t i = 0; i < r.header_count; i++) {
					const varve_header *x = &r.headers[i];
					check(inside(x->key, x->key_len, lo, span) || x->key_len == 0,
					      "header key outside the batch");
					check(!x->value || inside(x->value, x->value_len, lo, span),
					      "header value outside the batch");
				}
				prev = r.offset;
			}
			if (rc == VARVE_EEND) {
				check(got == h.record_count, "fewer records than the header counts");
				check(prev == vv_batch_last_offset(&h), "last offset not reached");
				walk_ok = 1;
			}
		}
		if (rc != VARVE_ENOMEM) {
			int v = vv_batch_validate_records(b, &h, &scratch, &scap, MAX_RECORDS_SIZE);
			if (v != VARVE_ENOMEM && (h.attributes & VV_ATTR_RECORD_MAP))
				check(v != 0 || walk_ok, "validate_records passed a failed walk");
			else if (v != VARVE_ENOMEM)
				check((v == 0) == walk_ok, "validate_records disagrees with the walk");
		}
		walk_map(b, &h, &hdrs, &hcap);
		vv_free(hdrs);
		vv_free(scratch);
	}
	free(b);
	return 0;
}
