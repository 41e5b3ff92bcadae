/* SPDX-License-Identifier: MIT */
/* Unit tests: record batch encode/decode (batch.c), varints (util.h). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "batch.h"
#include "hash.h"
#include "support.h"
#include "util.h"

TestSuite(batch, .init = t_setup, .fini = t_teardown, .timeout = 30);
TestSuite(varint, .timeout = 10);

#define MAXB (64u << 20)

/* ---- helpers ------------------------------------------------------------ */

typedef struct built {
	vv_batch_builder b;
	const uint8_t *p;
	size_t len;
	vv_batch_header h;
} built;

static void build(built *x, const varve_record *recs, const uint32_t *deltas, size_t n,
		  int codec, int64_t base)
{
	vv_bb_init(&x->b);
	for (size_t i = 0; i < n; i++) {
		int rc = vv_bb_add(&x->b, deltas ? deltas[i] : (uint32_t)i, recs[i].timestamp, &recs[i]);
		cr_assert_eq(rc, 0, "vv_bb_add %zu: %d", i, rc);
	}
	vv_batch_params prm = { .base_offset = base, .codec = codec, .append_time = 1700000000123LL,
				.producer_id = 77, .producer_epoch = 3, .base_sequence = 1000 };
	cr_assert_eq(vv_bb_finish(&x->b, &prm, &x->p, &x->len), 0);
	cr_assert_eq(vv_batch_parse_header(x->p, x->len, MAXB, &x->h), 0);
	cr_assert_eq(x->h.length, x->len);
}

/* A private, writable copy of a built batch. */
static uint8_t *copy_of(const built *x)
{
	uint8_t *c = malloc(x->len);
	memcpy(c, x->p, x->len);
	return c;
}

static void rechecksum(uint8_t *p, size_t len)
{
	vv_store64(p, vv_batch_checksum(p, len));
}

static size_t decode_all(const uint8_t *p, const vv_batch_header *h, varve_record *out,
			 size_t max, uint8_t **scratch, size_t *scap)
{
	vv_record_reader rr;
	cr_assert_eq(vv_record_reader_init(&rr, p, h, scratch, scap, MAXB), 0);
	/* headers of every record must stay valid: give each record its own array */
	size_t n = 0;
	int rc;
	for (;;) {
		varve_header *hdrs = NULL;
		size_t hcap = 0;
		varve_record r;
		rc = vv_record_next(&rr, &r, &hdrs, &hcap);
		if (rc) {
			free(hdrs);
			break;
		}
		cr_assert_lt(n, max);
		out[n++] = r; /* headers array leaked into the record; freed by caller */
	}
	cr_assert_eq(rc, VARVE_EEND, "record_next ended with %d", rc);
	return n;
}

static void free_decoded(varve_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)v[i].headers);
}

/* ---- round trips ----------------------------------------------------------- */

static void round_trip(int codec)
{
	static const varve_header hs[] = {
		{ "trace", 5, "abc", 3 },
		{ "nullval", 7, NULL, 0 },
		{ "emptyval", 8, "", 0 },
		{ "", 0, "keyless", 7 },
	};
	char big[3000];
	t_fill(big, sizeof big, 42);
	varve_record recs[7] = {
		t_rec(NULL, 0, NULL, 0),          /* null key, tombstone */
		t_rec("", 0, "", 0),              /* empty key, empty value */
		t_rec("k", 1, NULL, 0),           /* key, tombstone */
		t_rec(NULL, 0, "v", 1),           /* null key, value */
		t_rec("key", 3, big, sizeof big), /* a larger value */
		t_rec("h", 1, "with headers", 12),
		t_rec("last", 4, "x", 1),
	};
	int64_t ts[7] = { 5000, 5000, 7000, 6000, INT64_MAX / 2, 5001, 9000 };
	for (int i = 0; i < 7; i++)
		recs[i].timestamp = ts[i];
	recs[5].headers = hs;
	recs[5].header_count = 4;
	uint32_t deltas[7] = { 0, 1, 2, 5, 6, 9, 20 }; /* gaps, as compaction leaves */
	built x;
	build(&x, recs, deltas, 7, codec, 123456789);

	cr_assert_eq(x.h.magic, VV_BATCH_MAGIC);
	cr_assert_eq(x.h.base_offset, 123456789);
	cr_assert_eq(x.h.last_offset_delta, 20);
	cr_assert_eq(x.h.record_count, 7);
	cr_assert_eq(x.h.attributes & VV_ATTR_CODEC_MASK, (unsigned)codec);
	cr_assert_eq(x.h.first_timestamp, 5000);
	cr_assert_eq(x.h.max_timestamp, INT64_MAX / 2);
	cr_assert_eq(x.h.append_time, 1700000000123LL);
	cr_assert_eq(x.h.producer_id, 77);
	cr_assert_eq(x.h.producer_epoch, 3);
	cr_assert_eq(x.h.base_sequence, 1000);
	cr_assert_eq(vv_batch_checksum_ok(x.p, &x.h), 0);
	if (codec == VARVE_CODEC_NONE)
		cr_assert_eq(x.h.records_size, x.len - VV_BATCH_HEADER_SIZE);

	uint8_t *scratch = NULL;
	size_t scap = 0;
	varve_record got[16];
	size_t n = decode_all(x.p, &x.h, got, 16, &scratch, &scap);
	cr_assert_eq(n, 7);
	for (size_t i = 0; i < n; i++) {
		char ctx[32];
		snprintf(ctx, sizeof ctx, "record %zu", i);
		t_assert_rec_eq(&got[i], &recs[i], ctx);
		cr_assert_eq(got[i].offset, 123456789 + (int64_t)deltas[i]);
	}
	free_decoded(got, n);
	cr_assert_eq(vv_batch_validate_records(x.p, &x.h, &scratch, &scap, MAXB), 0);
	free(scratch);
	vv_bb_free(&x.b);
}

Test(batch, round_trip_every_field_uncompressed) { round_trip(VARVE_CODEC_NONE); }
Test(batch, round_trip_every_field_lz4) { round_trip(VARVE_CODEC_LZ4); }

/* Timestamps may go backwards inside a batch (producers' clocks, explicit
 * timestamps): the record before the first one must still decode. */
Test(batch, timestamp_below_the_first_record_decodes)
{
	varve_record recs[3] = { t_rec("a", 1, "1", 1), t_rec("b", 1, "2", 1),
				 t_rec("c", 1, "3", 1) };
	recs[0].timestamp = 2000;
	recs[1].timestamp = 1000; /* earlier than the first */
	recs[2].timestamp = 3000;
	built x;
	build(&x, recs, NULL, 3, VARVE_CODEC_NONE, 0);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	int rc = vv_batch_validate_records(x.p, &x.h, &scratch, &scap, MAXB);
	cr_expect_eq(rc, 0, "a batch the builder wrote does not validate (%d): a record whose "
			    "timestamp is below the batch's first_timestamp is rejected",
		     rc);
	if (rc == 0) {
		varve_record got[4];
		size_t n = decode_all(x.p, &x.h, got, 4, &scratch, &scap);
		cr_assert_eq(n, 3);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(got[i].timestamp, recs[i].timestamp);
		free_decoded(got, n);
	}
	free(scratch);
	vv_bb_free(&x.b);
}

Test(batch, lz4_compresses_and_round_trips_many_records)
{
	enum { N = 2000 };
	static varve_record recs[N];
	static char vals[N][64];
	for (int i = 0; i < N; i++) {
		int l = snprintf(vals[i], sizeof vals[i], "value number %d, quite repetitive", i);
		recs[i] = t_rec("same-key", 8, vals[i], (size_t)l);
		recs[i].timestamp = 1000 + i;
	}
	built x;
	build(&x, recs, NULL, N, VARVE_CODEC_LZ4, 0);
	cr_assert_lt(x.len - VV_BATCH_HEADER_SIZE, x.h.records_size / 2,
		     "LZ4 did not compress: %zu bytes for %u", x.len, x.h.records_size);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	varve_record *got = calloc(N + 1, sizeof *got);
	size_t n = decode_all(x.p, &x.h, got, N + 1, &scratch, &scap);
	cr_assert_eq(n, N);
	for (int i = 0; i < N; i++)
		t_assert_rec_eq(&got[i], &recs[i], "lz4 record");
	free_decoded(got, n);
	free(got);
	free(scratch);
	vv_bb_free(&x.b);
}

Test(batch, builder_is_reusable_after_reset)
{
	varve_record a = t_rec("a", 1, "first", 5), b = t_rec("b", 1, "second", 6);
	a.timestamp = b.timestamp = 10;
	built x;
	build(&x, &a, NULL, 1, VARVE_CODEC_NONE, 0);
	vv_bb_reset(&x.b);
	cr_assert_eq(vv_bb_add(&x.b, 0, 10, &b), 0);
	vv_batch_params prm = { .base_offset = 5, .codec = VARVE_CODEC_NONE, .append_time = 1,
				.producer_id = -1, .base_sequence = -1 };
	cr_assert_eq(vv_bb_finish(&x.b, &prm, &x.p, &x.len), 0);
	cr_assert_eq(vv_batch_parse_header(x.p, x.len, MAXB, &x.h), 0);
	cr_assert_eq(x.h.record_count, 1);
	cr_assert_eq(x.h.base_offset, 5);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	varve_record got[2];
	cr_assert_eq(decode_all(x.p, &x.h, got, 2, &scratch, &scap), 1);
	t_assert_rec_eq(&got[0], &b, "after reset");
	free_decoded(got, 1);
	vv_bb_free(&x.b);
}

Test(batch, finish_refuses_an_empty_batch_and_too_many_headers)
{
	vv_batch_builder b;
	vv_bb_init(&b);
	vv_bb_reset(&b);
	const uint8_t *p;
	size_t len;
	vv_batch_params prm = { .producer_id = -1, .base_sequence = -1 };
	cr_assert_eq(vv_bb_finish(&b, &prm, &p, &len), VARVE_EINVAL);
	varve_record r = t_rec("k", 1, "v", 1);
	static varve_header many[VV_MAX_HEADERS_PER_RECORD + 1];
	r.headers = many;
	r.header_count = VV_MAX_HEADERS_PER_RECORD + 1;
	cr_assert_eq(vv_bb_add(&b, 0, 1, &r), VARVE_EINVAL);
	vv_bb_free(&b);
}

Test(batch, encoded_size_matches_the_builder)
{
	varve_header hs[2] = { { "a", 1, "b", 1 }, { "cc", 2, NULL, 0 } };
	varve_record r = t_rec("key", 3, "value", 5);
	r.headers = hs;
	r.header_count = 2;
	vv_batch_builder b;
	vv_bb_init(&b);
	cr_assert_eq(vv_bb_add(&b, 0, 100, &r), 0);
	size_t first = b.len - VV_BATCH_HEADER_SIZE;
	cr_assert_eq(first, vv_record_encoded_size(0, 0, &r));
	size_t before = b.len;
	cr_assert_eq(vv_bb_add(&b, 300, 100 - 5000, &r), 0);
	cr_assert_eq(b.len - before, vv_record_encoded_size(300, -5000, &r));
	vv_bb_free(&b);
}

/* ---- checksum ----------------------------------------------------------------- */

Test(batch, checksum_is_xxh3_of_everything_after_byte_8)
{
	varve_record recs[3] = { t_rec("a", 1, "x", 1), t_rec(NULL, 0, "yy", 2),
				 t_rec("c", 1, NULL, 0) };
	for (int i = 0; i < 3; i++)
		recs[i].timestamp = 100 + i;
	for (int codec = 0; codec <= 1; codec++) {
		built x;
		build(&x, recs, NULL, 3, codec, 9);
		cr_assert_eq(vv_load64(x.p), XXH3_64bits(x.p + 8, x.len - 8));
		cr_assert_eq(vv_batch_checksum(x.p, x.len), XXH3_64bits(x.p + 8, x.len - 8));
		uint8_t *c = copy_of(&x);
		for (size_t i = 0; i < x.len; i++) {
			for (int bit = 0; bit < 8; bit += 7) {
				c[i] ^= (uint8_t)(1u << bit);
				vv_batch_header h = x.h;
				h.checksum = vv_load64(c);
				cr_assert_neq(vv_batch_checksum_ok(c, &h), 0,
					      "codec %d: flipping bit %d of byte %zu goes unnoticed",
					      codec, bit, i);
				c[i] ^= (uint8_t)(1u << bit);
			}
		}
		cr_assert_eq(memcmp(c, x.p, x.len), 0);
		free(c);
		vv_bb_free(&x.b);
	}
}

Test(batch, set_base_offset_rewrites_and_rechecksums)
{
	varve_record r = t_rec("k", 1, "v", 1);
	r.timestamp = 1;
	built x;
	build(&x, &r, NULL, 1, VARVE_CODEC_NONE, 10);
	uint8_t *c = copy_of(&x);
	vv_batch_set_base_offset(c, 99);
	vv_batch_header h;
	cr_assert_eq(vv_batch_parse_header(c, x.len, MAXB, &h), 0);
	cr_assert_eq(h.base_offset, 99);
	cr_assert_eq(vv_batch_checksum_ok(c, &h), 0);
	free(c);
	vv_bb_free(&x.b);
}

/* ---- header parsing rejects every corruption ------------------------------------ */

typedef struct mut {
	const char *what;
	size_t off;
	int width; /* 2, 4 or 8 */
	uint64_t value;
	int lz4;
} mut;

Test(batch, header_parse_rejects_each_corruption)
{
	varve_record recs[4];
	char vals[4][200];
	for (int i = 0; i < 4; i++) {
		memset(vals[i], 'a' + i, sizeof vals[i]);
		recs[i] = t_rec("key", 3, vals[i], sizeof vals[i]);
		recs[i].timestamp = 1000 + i;
	}
	built plain, z;
	build(&plain, recs, NULL, 4, VARVE_CODEC_NONE, 50);
	build(&z, recs, NULL, 4, VARVE_CODEC_LZ4, 50);
	cr_assert_lt(z.len, plain.len);
	uint32_t L = (uint32_t)plain.len;
	const mut muts[] = {
		{ "bad magic", 8, 4, 0x31565257u, 0 },
		{ "magic zero", 8, 4, 0, 0 },
		{ "reserved != 0", 76, 4, 1, 0 },
		{ "reserved high bit", 76, 4, 0x80000000u, 0 },
		{ "length below the header", 12, 4, 79, 0 },
		{ "length zero", 12, 4, 0, 0 },
		{ "length above max", 12, 4, MAXB + 1u, 0 },
		{ "records_size says more than the body", 36, 4, L - 80 + 1, 0 },
		{ "records_size says less than the body", 36, 4, L - 80 - 1, 0 },
		{ "records_size above max (lz4)", 36, 4, MAXB + 1u, 1 },
		{ "records_size too small for the count (lz4)", 36, 4, 23, 1 },
		{ "unknown attribute bit", 32, 2, 0x4, 0 },
		{ "codec 2", 32, 2, 2, 0 },
		{ "codec 3", 32, 2, 3, 0 },
		{ "record_count zero", 28, 4, 0, 0 },
		{ "record_count above last_offset_delta + 1", 28, 4, 5, 0 },
		{ "last_offset_delta below count - 1", 24, 4, 2, 0 },
		{ "negative base offset", 16, 8, (uint64_t)-1, 0 },
		{ "base offset + delta overflows", 16, 8, (uint64_t)INT64_MAX - 1, 0 },
		{ "max_timestamp below first_timestamp", 48, 8, 999, 0 },
		{ "first_timestamp above max_timestamp", 40, 8, 1004, 0 },
	};
	for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
		const mut *m = &muts[i];
		const built *src = m->lz4 ? &z : &plain;
		uint8_t *c = copy_of(src);
		if (m->width == 2)
			vv_store16(c + m->off, (uint16_t)m->value);
		else if (m->width == 4)
			vv_store32(c + m->off, (uint32_t)m->value);
		else
			vv_store64(c + m->off, m->value);
		rechecksum(c, src->len);
		vv_batch_header h;
		int rc = vv_batch_parse_header(c, src->len, MAXB, &h);
		cr_expect_eq(rc, VARVE_ECORRUPT, "%s: parse returned %d", m->what, rc);
		free(c);
	}
	/* The caller's max is honoured. */
	vv_batch_header h;
	cr_assert_eq(vv_batch_parse_header(plain.p, plain.len, L - 1, &h), VARVE_ECORRUPT);
	cr_assert_eq(vv_batch_parse_header(plain.p, plain.len, L, &h), 0);
	/* Fewer than a header's bytes: EEND, not corruption. */
	for (size_t avail = 0; avail < VV_BATCH_HEADER_SIZE; avail += 7)
		cr_assert_eq(vv_batch_parse_header(plain.p, avail, MAXB, &h), VARVE_EEND);
	vv_bb_free(&plain.b);
	vv_bb_free(&z.b);
}

/* An LZ4 block that inflates to more than records_size must fail, and so
 * must one that inflates to less, or that is not LZ4 at all. */
Test(batch, lz4_block_bounded_by_records_size)
{
	enum { N = 50 };
	varve_record recs[N];
	char v[N][100];
	for (int i = 0; i < N; i++) {
		memset(v[i], 'q', sizeof v[i]);
		recs[i] = t_rec("k", 1, v[i], sizeof v[i]);
		recs[i].timestamp = 1;
	}
	built z;
	build(&z, recs, NULL, N, VARVE_CODEC_LZ4, 0);
	uint32_t real = z.h.records_size;
	const uint32_t lies[] = { real - 1, real / 2, N * 6, real + 1, real * 2 };
	for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
		uint8_t *c = copy_of(&z);
		vv_store32(c + 36, lies[i]);
		rechecksum(c, z.len);
		vv_batch_header h;
		cr_assert_eq(vv_batch_parse_header(c, z.len, MAXB, &h), 0,
			     "records_size %u should pass the header checks", lies[i]);
		vv_record_reader rr;
		uint8_t *scratch = NULL;
		size_t scap = 0;
		int rc = vv_record_reader_init(&rr, c, &h, &scratch, &scap, MAXB);
		cr_expect_eq(rc, VARVE_ECORRUPT, "records_size %u (real %u): init returned %d",
			     lies[i], real, rc);
		cr_assert_eq(vv_batch_validate_records(c, &h, &scratch, &scap, MAXB),
			     VARVE_ECORRUPT);
		/* the scratch buffer never grew past what the header declared */
		cr_assert_leq(scap, (size_t)(lies[i] > 4096 ? lies[i] * 2 : 8192));
		free(scratch);
		free(c);
	}
	/* Garbage instead of an LZ4 block. */
	uint8_t *c = copy_of(&z);
	t_fill(c + VV_BATCH_HEADER_SIZE, z.len - VV_BATCH_HEADER_SIZE, 7);
	rechecksum(c, z.len);
	vv_batch_header h;
	cr_assert_eq(vv_batch_parse_header(c, z.len, MAXB, &h), 0);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	cr_assert_eq(vv_batch_validate_records(c, &h, &scratch, &scap, MAXB), VARVE_ECORRUPT);
	free(scratch);
	free(c);
	vv_bb_free(&z.b);
}

/* Damage inside the records section (checksum recomputed, so only the
 * record decoder stands between it and the reader) never passes as valid
 * records of a different shape and never reads out of bounds (ASan). */
Test(batch, record_decoder_survives_every_single_byte_mutation)
{
	varve_header hs[2] = { { "h1", 2, "v1", 2 }, { "h2", 2, NULL, 0 } };
	varve_record recs[3] = { t_rec("key", 3, "value", 5), t_rec(NULL, 0, NULL, 0),
				 t_rec("", 0, "zz", 2) };
	recs[0].headers = hs;
	recs[0].header_count = 2;
	for (int i = 0; i < 3; i++)
		recs[i].timestamp = 500;
	built x;
	build(&x, recs, NULL, 3, VARVE_CODEC_NONE, 0);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	size_t rejected = 0;
	for (size_t i = VV_BATCH_HEADER_SIZE; i < x.len; i++) {
		const uint8_t vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
		for (size_t k = 0; k < sizeof vals; k++) {
			uint8_t *c = copy_of(&x);
			if (c[i] == vals[k]) {
				free(c);
				continue;
			}
			c[i] = vals[k];
			rechecksum(c, x.len);
			vv_batch_header h;
			cr_assert_eq(vv_batch_parse_header(c, x.len, MAXB, &h), 0);
			int rc = vv_batch_validate_records(c, &h, &scratch, &scap, MAXB);
			cr_assert(rc == 0 || rc == VARVE_ECORRUPT, "byte %zu = %02x: rc %d", i,
				  vals[k], rc);
			if (rc)
				rejected++;
			free(c);
		}
	}
	cr_assert_gt(rejected, 0);
	free(scratch);
	vv_bb_free(&x.b);
}

/* The decoder says which header check failed, with the values that
 * failed it (varve-dump prints this instead of checking again itself). */
Test(batch, header_parse_names_the_failed_check)
{
	varve_record recs[4];
	char vals[4][200];
	for (int i = 0; i < 4; i++) {
		memset(vals[i], 'a' + i, sizeof vals[i]);
		recs[i] = t_rec("key", 3, vals[i], sizeof vals[i]);
		recs[i].timestamp = 1000 + i;
	}
	built plain;
	build(&plain, recs, NULL, 4, VARVE_CODEC_NONE, 50);
	uint32_t L = (uint32_t)plain.len;
	const struct {
		const char *why; /* expected in the reason */
		size_t off, width;
		uint64_t value;
	} cases[] = {
		{ "bad batch magic 0x31565257", 8, 4, 0x31565257u },
		{ "reserved header field is 0x00000001", 76, 4, 1 },
		{ "batch length 79 is shorter than a header", 12, 4, 79 },
		{ "is over the", 12, 4, MAXB + 1u },
		{ "unknown batch attributes 0x0008", 32, 2, 0x8 },
		{ "unknown batch attributes 0x0005", 32, 2, 0x5 }, /* a map needs no codec */
		{ "leaves no record map", 32, 2, 0x4 },
		{ "batch holds 0 records", 28, 4, 0 },
		{ "last offset delta 2 is below record count 4 - 1", 24, 4, 2 },
		{ "negative base offset -1", 16, 8, (uint64_t)-1 },
		{ "last offset overflows", 16, 8, (uint64_t)INT64_MAX - 1 },
		{ "max timestamp 999 is below first timestamp 1000", 48, 8, 999 },
		{ "does not match batch length", 36, 4, L - 80 + 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t *c = copy_of(&plain);
		if (cases[i].width == 2)
			vv_store16(c + cases[i].off, (uint16_t)cases[i].value);
		else if (cases[i].width == 4)
			vv_store32(c + cases[i].off, (uint32_t)cases[i].value);
		else
			vv_store64(c + cases[i].off, cases[i].value);
		rechecksum(c, plain.len);
		vv_batch_header h;
		vv_batch_why why = { "unset" };
		int rc = vv_batch_parse_header_why(c, plain.len, MAXB, &h, &why);
		cr_expect_eq(rc, VARVE_ECORRUPT, "%s: rc %d", cases[i].why, rc);
		cr_expect(strstr(why.text, cases[i].why), "expected \"%s\", got \"%s\"", cases[i].why,
			  why.text);
		/* the plain parse agrees: one set of checks */
		cr_expect_eq(vv_batch_parse_header(c, plain.len, MAXB, &h), rc);
		free(c);
	}
	vv_batch_header h;
	vv_batch_why why = { "untouched" };
	cr_assert_eq(vv_batch_parse_header_why(plain.p, plain.len, MAXB, &h, &why), 0);
	cr_assert_str_eq(why.text, "untouched", "a good header leaves the reason alone");
	vv_bb_free(&plain.b);
}

/* The record reader names the record check that failed. */
Test(batch, record_reader_names_the_failed_check)
{
	varve_record recs[2] = { t_rec("key", 3, "value", 5), t_rec("k2", 2, "v2", 2) };
	recs[0].timestamp = recs[1].timestamp = 500;
	built x;
	build(&x, recs, NULL, 2, VARVE_CODEC_NONE, 0);
	uint8_t *scratch = NULL;
	size_t scap = 0, hcap = 0;
	varve_header *hdrs = NULL;
	/* the first record's length varint claims more than the batch holds */
	uint8_t *c = copy_of(&x);
	c[VV_BATCH_HEADER_SIZE] = 0x7f;
	rechecksum(c, x.len);
	vv_record_reader rr;
	cr_assert_eq(vv_record_reader_init(&rr, c, &x.h, &scratch, &scap, MAXB), 0);
	cr_assert_null(rr.fault);
	varve_record r;
	cr_assert_eq(vv_record_next(&rr, &r, &hdrs, &hcap), VARVE_ECORRUPT);
	cr_assert_not_null(rr.fault);
	cr_assert(strstr(rr.fault, "runs past the batch"), "%s", rr.fault);
	free(c);
	/* an LZ4 records size the block cannot inflate to */
	built z;
	build(&z, recs, NULL, 2, VARVE_CODEC_LZ4, 0);
	c = copy_of(&z);
	vv_store32(c + 36, z.h.records_size + 1);
	rechecksum(c, z.len);
	vv_batch_header h;
	cr_assert_eq(vv_batch_parse_header(c, z.len, MAXB, &h), 0);
	cr_assert_eq(vv_record_reader_init(&rr, c, &h, &scratch, &scap, MAXB), VARVE_ECORRUPT);
	cr_assert(rr.fault && strstr(rr.fault, "LZ4"), "%s", rr.fault ? rr.fault : "(none)");
	free(c);
	free(scratch);
	free(hdrs);
	vv_bb_free(&x.b);
	vv_bb_free(&z.b);
}

/* ---- varints ------------------------------------------------------------------------ */

Test(varint, edge_values_round_trip)
{
	const uint64_t vals[] = { 0, 1, 127, 128, 255, 16383, 16384, (1ull << 32) - 1, 1ull << 32,
				  (1ull << 63) - 1, 1ull << 63, UINT64_MAX - 1, UINT64_MAX };
	const size_t lens[] = { 1, 1, 1, 2, 2, 2, 3, 5, 5, 9, 10, 10, 10 };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		uint8_t buf[16];
		memset(buf, 0xaa, sizeof buf);
		size_t n = vv_varint_put(buf, vals[i]);
		cr_assert_eq(n, lens[i], "len of %" PRIu64 ": %zu", vals[i], n);
		cr_assert_eq(vv_varint_len(vals[i]), n);
		cr_assert_eq(buf[n], 0xaa, "wrote past its length");
		const uint8_t *p = buf;
		uint64_t v = 0;
		cr_assert_eq(vv_varint_get(&p, buf + n, &v), 0);
		cr_assert_eq(v, vals[i]);
		cr_assert_eq(p, buf + n);
		/* every strict prefix is truncated */
		for (size_t k = 0; k < n; k++) {
			p = buf;
			cr_assert_eq(vv_varint_get(&p, buf + k, &v), -1, "%" PRIu64 " cut at %zu",
				     vals[i], k);
			cr_assert_eq(p, buf, "pointer moved on failure");
		}
	}
	const uint8_t one27[] = { 0x7f }, one28[] = { 0x80, 0x01 };
	const uint8_t *p = one27;
	uint64_t v;
	cr_assert_eq(vv_varint_get(&p, one27 + 1, &v), 0);
	cr_assert_eq(v, 127);
	p = one28;
	cr_assert_eq(vv_varint_get(&p, one28 + 2, &v), 0);
	cr_assert_eq(v, 128);
}

Test(varint, overlong_and_truncated_are_rejected)
{
	uint64_t v = 12345;
	const uint8_t *p;
	/* UINT64_MAX is ff*9 01; a 10th byte of 2 or more overflows 64 bits */
	uint8_t max[10] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	p = max;
	cr_assert_eq(vv_varint_get(&p, max + 10, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	v = 12345;
	for (unsigned last = 2; last < 0x80; last++) {
		max[9] = (uint8_t)last;
		p = max;
		cr_assert_eq(vv_varint_get(&p, max + 10, &v), -1, "10th byte %u accepted", last);
	}
	/* eleven bytes: continuation on the 10th */
	uint8_t eleven[11];
	memset(eleven, 0x80, 10);
	eleven[10] = 0;
	p = eleven;
	cr_assert_eq(vv_varint_get(&p, eleven + 11, &v), -1);
	uint8_t ten_cont[10];
	memset(ten_cont, 0x81, sizeof ten_cont);
	p = ten_cont;
	cr_assert_eq(vv_varint_get(&p, ten_cont + 10, &v), -1);
	/* truncated: continuation bit on the last available byte, and empty */
	const uint8_t cont[] = { 0x80 };
	p = cont;
	cr_assert_eq(vv_varint_get(&p, cont + 1, &v), -1);
	p = cont;
	cr_assert_eq(vv_varint_get(&p, cont, &v), -1);
	cr_assert_eq(v, 12345, "output written on failure");
}

Test(varint, zigzag_round_trips)
{
	const int64_t vals[] = { 0, -1, 1, -64, 63, 64, INT32_MIN, INT32_MAX, INT64_MIN,
				 INT64_MAX, INT64_MIN + 1 };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		cr_assert_eq(vv_unzigzag(vv_zigzag(vals[i])), vals[i]);
	cr_assert_eq(vv_zigzag(0), 0);
	cr_assert_eq(vv_zigzag(-1), 1);
	cr_assert_eq(vv_zigzag(1), 2);
	cr_assert_eq(vv_zigzag(INT64_MIN), UINT64_MAX);
}

/* vv_record_skip_before: lands on the first record at or past the offset,
 * across gaps in the offsets, in both codecs, and the record it lands on
 * decodes as the full walk decodes it. */
static void skip_case(int codec)
{
	enum { N = 300 };
	static varve_record recs[N];
	static char vals[N][32];
	uint32_t deltas[N];
	for (int i = 0; i < N; i++) {
		int l = snprintf(vals[i], sizeof vals[i], "v%d", i);
		recs[i] = t_rec("k", 1, vals[i], (size_t)l);
		recs[i].timestamp = 5000 + i;
		deltas[i] = (uint32_t)(i * 3); /* offsets 100, 103, 106, ... */
	}
	built x;
	build(&x, recs, deltas, N, codec, 100);
	uint8_t *scratch = NULL;
	size_t scap = 0, hcap = 0;
	varve_header *hdrs = NULL;
	for (int64_t target = 90; target <= 100 + 3 * N + 2; target += 7) {
		vv_record_reader rr;
		cr_assert_eq(vv_record_reader_init(&rr, x.p, &x.h, &scratch, &scap, MAXB), 0);
		cr_assert_eq(vv_record_skip_before(&rr, target), 0);
		varve_record r;
		int rc = vv_record_next(&rr, &r, &hdrs, &hcap);
		int64_t want_idx = target <= 100 ? 0 : (target - 100 + 2) / 3;
		if (want_idx >= N) {
			cr_assert_eq(rc, VARVE_EEND, "target %" PRId64, target);
			continue;
		}
		cr_assert_eq(rc, 0, "target %" PRId64, target);
		cr_assert_eq(r.offset, 100 + 3 * want_idx, "target %" PRId64 ": got %" PRId64, target,
			     r.offset);
		t_assert_rec_eq(&r, &recs[want_idx], "record after a skip");
	}
	/* a record whose offset delta goes backwards is caught while skipping */
	uint8_t *bad = copy_of(&x);
	vv_record_reader rr;
	cr_assert_eq(vv_record_reader_init(&rr, bad, &x.h, &scratch, &scap, MAXB), 0);
	if (codec == VARVE_CODEC_NONE) {
		/* second record's delta byte: after its length varint */
		const uint8_t *second = rr.p + 1 + rr.p[0];
		bad[second - bad + 1] = 0; /* delta 3 -> 0, not above the first's */
		rechecksum(bad, x.len);
		cr_assert_eq(vv_record_reader_init(&rr, bad, &x.h, &scratch, &scap, MAXB), 0);
		cr_assert_eq(vv_record_skip_before(&rr, 100 + 3 * N), VARVE_ECORRUPT);
	}
	free(bad);
	free(scratch);
	free(hdrs);
	vv_bb_free(&x.b);
}

Test(batch, skip_before_lands_on_the_right_record_uncompressed) { skip_case(VARVE_CODEC_NONE); }
Test(batch, skip_before_lands_on_the_right_record_lz4) { skip_case(VARVE_CODEC_LZ4); }

/* The batch checksum's AVX2 path (picked on CPUs that have it) gives
 * libxxhash's own answer at every length and alignment: a stored checksum
 * must not depend on the machine that wrote or reads it. */
Test(batch, checksum_hash_equals_libxxhash_at_every_length)
{
	size_t cap = 70000;
	uint8_t *buf = malloc(cap + 64);
	cr_assert_not_null(buf);
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < cap + 64; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	size_t lens[] = { 0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 255, 256, 1023, 1024, 1025, 4095,
			  65536, 69999 };
	for (size_t a = 0; a < 8; a++)
		for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
			cr_assert_eq(vv_hash64(buf + a, lens[l]), XXH3_64bits(buf + a, lens[l]),
				     "%s: length %zu at alignment %zu", vv_hash_impl(), lens[l], a);
	for (size_t n = 0; n < 2048; n++)
		cr_assert_eq(vv_hash64(buf + 3, n), XXH3_64bits(buf + 3, n), "length %zu", n);
	cr_log_info("vv_hash64 uses %s", vv_hash_impl());
	free(buf);
}

/* ---- the record map (format 2) -------------------------------------------------- */

/* n records of value_len bytes: keys "k<i>", timestamps 1000 + i */
static varve_record *map_records(size_t n, size_t value_len, char (*keys)[16], uint8_t *value)
{
	varve_record *recs = calloc(n, sizeof *recs);
	memset(value, 'v', value_len);
	for (size_t i = 0; i < n; i++) {
		snprintf(keys[i], 16, "k%zu", i);
		recs[i] = (varve_record){ .key = keys[i], .key_len = strlen(keys[i]),
					  .value = value, .value_len = value_len,
					  .timestamp = 1000 + (int64_t)i };
	}
	return recs;
}

Test(batch, record_map_describes_the_records)
{
	static char keys[1000][16];
	static uint8_t value[100];
	varve_record *recs = map_records(1000, 100, keys, value);
	built x;
	build(&x, recs, NULL, 1000, VARVE_CODEC_NONE, 5000);
	cr_assert(x.h.attributes & VV_ATTR_RECORD_MAP);
	vv_batch_map m;
	cr_assert_eq(vv_batch_map_open(x.p, &x.h, &m), 0);
	/* every chunk but the last is at least VV_MAP_CHUNK_BYTES, and passes it
	 * by less than one record (under 128 bytes here) */
	cr_assert((size_t)(m.count - 1) * VV_MAP_CHUNK_BYTES <= x.h.records_size &&
			  (size_t)m.count * (VV_MAP_CHUNK_BYTES + 128) >= x.h.records_size,
		  "%u chunks for %u bytes", m.count, x.h.records_size);
	cr_assert_eq(x.h.length, 80 + x.h.records_size + m.count * 24 + 8);
	/* the batch checksum is the map's, computed here from the document's
	 * definition */
	const uint8_t *map = x.p + 80 + x.h.records_size;
	uint64_t seed = XXH3_64bits(x.p + 8, 72);
	cr_assert_eq(vv_load64(x.p), XXH3_64bits_withSeed(map, m.count * 24 + 8, seed));
	cr_assert_eq(vv_load32(map + m.count * 24), m.count);
	cr_assert_eq(vv_load32(map + m.count * 24 + 4), 0);
	cr_assert_eq(vv_batch_checksum_ok(x.p, &x.h), 0);
	uint32_t seen = 0;
	for (uint32_t i = 0; i < m.count; i++) {
		vv_map_chunk c;
		vv_batch_map_chunk(&m, &x.h, i, &c);
		cr_assert_eq(c.hash, XXH3_64bits(x.p + 80 + c.pos, c.end - c.pos));
		if (i + 1 < m.count)
			cr_assert(c.end - c.pos >= VV_MAP_CHUNK_BYTES &&
				  c.end - c.pos < VV_MAP_CHUNK_BYTES + 128);
		/* each chunk alone decodes to its records */
		vv_record_reader rr = { .h = x.h };
		vv_record_reader_window(&rr, x.p, &m, i, i + 1);
		varve_record r;
		varve_header *hdrs = NULL;
		size_t hcap = 0;
		uint32_t d = c.first_delta;
		while (vv_record_next(&rr, &r, &hdrs, &hcap) == 0) {
			cr_assert_eq(r.offset, 5000 + (int64_t)d);
			cr_assert_eq(vv_batch_map_find(&m, d, x.h.last_offset_delta), i);
			d++;
			seen++;
		}
		cr_assert_null(rr.fault, "%s", rr.fault);
		cr_assert_eq(d - 1, c.last_delta);
		free(hdrs);
	}
	cr_assert_eq(seen, 1000);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	cr_assert_eq(vv_batch_validate_records(x.p, &x.h, &scratch, &scap, MAXB), 0);
	/* compaction's base offset rewrite keeps both checksums right */
	uint8_t *c = copy_of(&x);
	vv_batch_set_base_offset(c, 9000);
	vv_batch_header h2;
	cr_assert_eq(vv_batch_parse_header(c, x.len, MAXB, &h2), 0);
	cr_assert_eq(vv_batch_checksum_ok(c, &h2), 0);
	cr_assert_eq(vv_batch_map_open(c, &h2, &m), 0);
	free(c);
	free(scratch);
	vv_bb_free(&x.b);
	free(recs);
}

Test(batch, record_map_only_where_it_helps)
{
	static char keys[1000][16];
	static uint8_t value[100];
	varve_record *recs = map_records(1000, 100, keys, value);
	built x;
	build(&x, recs, NULL, 1000, VARVE_CODEC_LZ4, 0); /* compressed: none */
	cr_assert_eq(x.h.attributes & VV_ATTR_RECORD_MAP, 0);
	vv_bb_free(&x.b);
	build(&x, recs, NULL, 40, VARVE_CODEC_NONE, 0); /* under 8 KiB of records: none */
	cr_assert_eq(x.h.attributes & VV_ATTR_RECORD_MAP, 0);
	cr_assert_eq(x.h.records_size, x.len - 80);
	vv_bb_free(&x.b);
	/* a map that would pass the writer's limit is left out */
	vv_batch_builder b;
	vv_bb_init(&b);
	for (uint32_t i = 0; i < 1000; i++)
		cr_assert_eq(vv_bb_add(&b, i, recs[i].timestamp, &recs[i]), 0);
	vv_batch_params prm = { .codec = VARVE_CODEC_NONE, .producer_id = -1, .base_sequence = -1,
				.max_len = b.len };
	const uint8_t *p;
	size_t len;
	cr_assert_eq(vv_bb_finish(&b, &prm, &p, &len), 0);
	cr_assert_eq(vv_load16(p + 32) & VV_ATTR_RECORD_MAP, 0);
	cr_assert_eq(len, prm.max_len);
	vv_bb_free(&b);
	free(recs);
}

/* A map that does not match is refused: a flipped entry byte (whole
 * checksum redone, as a lying writer would), a flipped chunk byte, and a
 * map re-sealed with a wrong last delta fail their checks. */
Test(batch, record_map_that_lies_is_refused)
{
	static char keys[1000][16];
	static uint8_t value[100];
	varve_record *recs = map_records(1000, 100, keys, value);
	built x;
	build(&x, recs, NULL, 1000, VARVE_CODEC_NONE, 0);
	vv_batch_map m;
	cr_assert_eq(vv_batch_map_open(x.p, &x.h, &m), 0);
	uint32_t n = m.count;
	size_t map_at = 80 + x.h.records_size;
	uint8_t *scratch = NULL;
	size_t scap = 0;

	uint8_t *c = copy_of(&x);
	c[map_at + 24 + 9] ^= 1; /* chunk 1's first delta, past its last */
	cr_assert_neq(vv_batch_checksum_ok(c, &x.h), 0, "the map is covered by the checksum");
	rechecksum(c, x.len); /* as a lying writer would */
	vv_batch_header h1;
	cr_assert_eq(vv_batch_parse_header(c, x.len, MAXB, &h1), 0);
	cr_assert_neq(vv_batch_map_open(c, &h1, &m), 0);
	cr_assert_neq(vv_batch_checksum_ok(c, &h1), 0);
	cr_assert_neq(vv_batch_validate_records(c, &h1, &scratch, &scap, MAXB), 0);
	free(c);

	c = copy_of(&x);
	vv_batch_map good;
	cr_assert_eq(vv_batch_map_open(c, &x.h, &good), 0);
	vv_map_chunk c1;
	vv_batch_map_chunk(&good, &x.h, 1, &c1);
	c[80 + c1.pos + (c1.end - c1.pos) / 2] ^= 0x40; /* a byte of chunk 1 */
	cr_assert_eq(vv_batch_map_chunks_ok(c, &x.h, &good, 0, 1), 0);
	cr_assert_neq(vv_batch_map_chunks_ok(c, &x.h, &good, 1, 2), 0);
	cr_assert_eq(vv_batch_map_chunks_ok(c, &x.h, &good, 2, n), 0);
	cr_assert_neq(vv_batch_checksum_ok(c, &x.h), 0, "the records are covered by the checksum");
	free(c);

	/* entries in order and sealed, but chunk 0's last delta is one short:
	 * only the walk against the records finds it */
	c = copy_of(&x);
	uint8_t *e0 = c + map_at;
	vv_store32(e0 + 12, vv_load32(e0 + 12) - 1);
	vv_store64(c, XXH3_64bits_withSeed(c + map_at, (size_t)n * 24 + 8, XXH3_64bits(c + 8, 72)));
	vv_batch_header h2;
	cr_assert_eq(vv_batch_parse_header(c, x.len, MAXB, &h2), 0);
	cr_assert_eq(vv_batch_checksum_ok(c, &h2), 0, "re-sealed: the checksum matches");
	cr_assert_eq(vv_batch_map_open(c, &h2, &m), 0);
	cr_assert_eq(vv_batch_validate_records(c, &h2, &scratch, &scap, MAXB), VARVE_ECORRUPT);
	free(c);
	free(scratch);
	vv_bb_free(&x.b);
	free(recs);
}

/* The chunk lookup starts where a delta falls in proportion: it must still
 * find the right chunk when chunks hold very different numbers of records
 * (small records first, big ones last) and when offsets have gaps and the
 * first record's delta is not 0 (a compacted batch). */
Test(batch, record_map_find_with_uneven_chunks_and_gaps)
{
	static char keys[1000][16];
	static uint8_t value[1000];
	varve_record *recs = map_records(1000, 1000, keys, value);
	static uint32_t deltas[1000];
	for (int i = 0; i < 1000; i++) {
		recs[i].value_len = i < 900 ? 1 : 1000;
		deltas[i] = 7 + 3 * (uint32_t)i + (i > 500 ? 1000 : 0);
	}
	built x;
	build(&x, recs, deltas, 1000, VARVE_CODEC_NONE, 0);
	vv_batch_map m;
	cr_assert_eq(vv_batch_map_open(x.p, &x.h, &m), 0);
	cr_assert_gt(m.count, 20);
	for (uint32_t d = 0; d <= x.h.last_offset_delta + 5; d++) {
		uint32_t i = vv_batch_map_find(&m, d, x.h.last_offset_delta);
		cr_assert_lt(i, m.count);
		vv_map_chunk c, n;
		vv_batch_map_chunk(&m, &x.h, i, &c);
		cr_assert(c.first_delta <= d || i == 0, "delta %u: chunk %u starts at %u", d, i,
			  c.first_delta);
		if (i + 1 < m.count) {
			vv_batch_map_chunk(&m, &x.h, i + 1, &n);
			cr_assert_gt(n.first_delta, d, "delta %u: chunk %u, the next starts at %u", d, i,
				     n.first_delta);
		}
	}
	uint8_t *scratch = NULL;
	size_t scap = 0;
	cr_assert_eq(vv_batch_validate_records(x.p, &x.h, &scratch, &scap, MAXB), 0);
	free(scratch);
	vv_bb_free(&x.b);
	free(recs);
}
