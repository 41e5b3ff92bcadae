/* SPDX-License-Identifier: MIT */
/* Tests of server/records/encode.c: the byte-exact image also used by the
 * decoder tests, round trips through the decoder in every codec with every
 * record shape, gaps in offsets read back by an independent parser,
 * log-append time, producer fields, the LZ4 frame flags Kafka clients
 * need, and argument errors that leave the output untouched. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kerrors.h"
#include "rec_util.h"
#include "records/records.h"

static vs_records_encoder enc;
static vs_records_decoder dec;
static vs_wbuf out;

static void setup(void)
{
	vs_records_encoder_init(&enc);
	vs_records_decoder_init(&dec, NULL);
	vs_wbuf_init(&out);
}

static void teardown(void)
{
	vs_records_encoder_free(&enc);
	vs_records_decoder_free(&dec);
	vs_wbuf_free(&out);
}

TestSuite(encode, .init = setup, .fini = teardown, .timeout = 60);

static int same(const void *a, size_t al, const void *b, size_t bl)
{
	if (!a || !b)
		return !a && !b;
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* The decoder tests' image: built here from records, byte for byte. */
Test(encode, byte_exact_image)
{
	static const uint8_t image[84] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00,
		0x00, 0x02, 0xd6, 0xf7, 0xb9, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01,
		0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
		0x02, 0x18, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x0a, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x12,
		0x00, 0x0a, 0x02, 0x01, 0x00, 0x02, 0x02, 0x68, 0x01
	};
	varve_header h = { "h", 1, NULL, 0 };
	varve_record r[2] = {
		{ .key = "k", .key_len = 1, .value = "hello", .value_len = 5, .timestamp = 1700000000000LL, .offset = 0 },
		{ .key = NULL, .value = "", .value_len = 0, .headers = &h, .header_count = 1,
		  .timestamp = 1700000000005LL, .offset = 1 },
	};
	cr_assert_eq(vs_records_encode(&enc, &out, r, 2, NULL), 0);
	cr_assert_eq(out.len, sizeof image);
	cr_assert_eq(memcmp(out.buf, image, sizeof image), 0);
}

/* Records of every shape, with timestamps going back and forth. */
#define NSHAPES 7
static varve_header hdrs[3] = { { "trace", 5, "abc", 3 }, { "null", 4, NULL, 0 }, { "", 0, "", 0 } };
static void shapes(varve_record *r, int64_t base_offset)
{
	memset(r, 0, NSHAPES * sizeof *r);
	r[0] = (varve_record){ .key = "key", .key_len = 3, .value = "value", .value_len = 5, .timestamp = 5000 };
	r[1] = (varve_record){ .key = NULL, .value = "v", .value_len = 1, .timestamp = 4000 };
	r[2] = (varve_record){ .key = "tomb", .key_len = 4, .value = NULL, .timestamp = 9000 };
	r[3] = (varve_record){ .key = "", .key_len = 0, .value = "", .value_len = 0, .timestamp = 5000,
			       .headers = hdrs, .header_count = 3 };
	r[4] = (varve_record){ .key = "h", .key_len = 1, .value = "x", .value_len = 1, .timestamp = 0,
			       .headers = hdrs + 1, .header_count = 1 };
	r[5] = (varve_record){ .key = NULL, .value = NULL, .timestamp = 5001 };
	static uint8_t big[70000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7 / 13);
	r[6] = (varve_record){ .key = big, .key_len = 300, .value = big, .value_len = sizeof big, .timestamp = 5002 };
	for (int i = 0; i < NSHAPES; i++)
		r[i].offset = base_offset + i;
}

static void assert_same_records(const varve_record *a, const varve_record *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cr_assert(same(a[i].key, a[i].key_len, b[i].key, b[i].key_len), "record %zu key", i);
		cr_assert(same(a[i].value, a[i].value_len, b[i].value, b[i].value_len), "record %zu value", i);
		cr_assert_eq(a[i].timestamp, b[i].timestamp, "record %zu timestamp", i);
		cr_assert_eq(a[i].header_count, b[i].header_count, "record %zu headers", i);
		for (size_t h = 0; h < a[i].header_count; h++) {
			const varve_header *x = &a[i].headers[h], *y = &b[i].headers[h];
			cr_assert(same(x->key, x->key_len, y->key, y->key_len));
			cr_assert(same(x->value, x->value_len, y->value, y->value_len), "record %zu header %zu", i, h);
		}
	}
}

Test(encode, round_trip_every_codec)
{
	static const int codecs[] = { VS_CODEC_NONE, VS_CODEC_GZIP, VS_CODEC_SNAPPY, VS_CODEC_LZ4, VS_CODEC_ZSTD };
	varve_record r[NSHAPES];
	shapes(r, 1000);
	for (int k = 0; k < 5; k++) {
		vs_wbuf_reset(&out);
		vs_batch_params p = VS_BATCH_PARAMS_INIT;
		p.codec = codecs[k];
		cr_assert_eq(vs_records_encode(&enc, &out, r, NSHAPES, &p), 0, "codec %d", codecs[k]);
		vs_decoded d;
		cr_assert_eq(vs_records_decode(&dec, out.buf, out.len, &d), KE_NONE, "codec %d: %s",
			     codecs[k], dec.reason);
		cr_assert_eq(d.batch_count, 1);
		const vs_batch *b = &d.batches[0];
		cr_assert_eq(b->codec, codecs[k]);
		cr_assert_eq(b->base_offset, 1000);
		cr_assert_eq(b->last_offset_delta, NSHAPES - 1);
		cr_assert_eq(b->record_count, NSHAPES);
		cr_assert_eq(b->base_timestamp, 5000, "the first record's");
		cr_assert_eq(b->max_timestamp, 9000);
		cr_assert_eq(b->producer_id, -1);
		cr_assert_eq(b->producer_epoch, -1);
		cr_assert_eq(b->base_sequence, -1);
		cr_assert_eq(b->partition_leader_epoch, 0);
		cr_assert_eq(b->log_append_time, 0);
		assert_same_records(r, d.records, NSHAPES);
		if (codecs[k] != VS_CODEC_NONE)
			cr_assert_lt(out.len, 70000, "codec %d compressed", codecs[k]);
	}
}

/* Compaction leaves gaps: deltas come from the real offsets, the last
 * offset delta from the last record, the count from the records given. */
Test(encode, gaps_in_offsets)
{
	varve_record r[4];
	memset(r, 0, sizeof r);
	const int64_t offs[4] = { 100, 101, 105, 200 };
	for (int i = 0; i < 4; i++) {
		r[i].key = "k";
		r[i].key_len = 1;
		r[i].value = "v";
		r[i].value_len = 1;
		r[i].offset = offs[i];
		r[i].timestamp = 10 + i;
	}
	cr_assert_eq(vs_records_encode(&enc, &out, r, 4, NULL), 0);
	cr_assert_eq(vs_be64(out.buf), 100, "base offset");
	cr_assert_eq(vs_be32(out.buf + 23), 100, "last offset delta");
	cr_assert_eq(vs_be32(out.buf + 57), 4, "record count");
	tr_rec got[4];
	cr_assert_eq(tr_parse_batch(out.buf, out.len, got, 4), 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(got[i].offset_delta, offs[i] - 100);
		cr_assert_eq(got[i].ts_delta, i);
	}
	/* a Produce request may not have gaps */
	vs_decoded d;
	cr_assert_eq(vs_records_decode(&dec, out.buf, out.len, &d), KE_INVALID_RECORD);
	/* the same in LZ4: the frame holds the same records */
	vs_wbuf_reset(&out);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.codec = VS_CODEC_LZ4;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 4, &p), 0);
	cr_assert_eq(vs_be32(out.buf + 23), 100);
	cr_assert_eq(tr_crc32c_ref(out.buf + 21, out.len - 21), vs_be32(out.buf + 17));
}

Test(encode, log_append_time_and_producer_fields)
{
	varve_record r[NSHAPES];
	shapes(r, 7);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.log_append_time = 1;
	p.append_time = 1234567;
	p.producer_id = 99;
	p.producer_epoch = 4;
	p.base_sequence = 17;
	p.partition_leader_epoch = 3;
	cr_assert_eq(vs_records_encode(&enc, &out, r, NSHAPES, &p), 0);
	cr_assert_eq(vs_be16(out.buf + 21), VS_ATTR_LOG_APPEND_TIME, "attributes");
	cr_assert_eq(vs_be64(out.buf + 35), 1234567, "max timestamp is the append time");
	vs_decoded d;
	cr_assert_eq(vs_records_decode(&dec, out.buf, out.len, &d), KE_NONE, "%s", dec.reason);
	const vs_batch *b = &d.batches[0];
	cr_assert_eq(b->log_append_time, 1);
	cr_assert_eq(b->max_timestamp, 1234567);
	cr_assert_eq(b->base_timestamp, 5000);
	cr_assert_eq(b->producer_id, 99);
	cr_assert_eq(b->producer_epoch, 4);
	cr_assert_eq(b->base_sequence, 17);
	cr_assert_eq(b->partition_leader_epoch, 3);
	assert_same_records(r, d.records, NSHAPES);
}

/* Java's KafkaLZ4BlockInputStream reads only frames of independent blocks:
 * FLG must be version 01 with the block-independence bit; no content size. */
Test(encode, lz4_frames_have_independent_blocks)
{
	varve_record r[NSHAPES];
	shapes(r, 0);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.codec = VS_CODEC_LZ4;
	cr_assert_eq(vs_records_encode(&enc, &out, r, NSHAPES, &p), 0);
	const uint8_t *f = out.buf + 61;
	cr_assert_eq(vs_be32(f), 0x04224d18u, "LZ4 frame magic");
	cr_assert_eq(f[4], 0x60, "FLG: version 01, independent blocks, no size or checksum");
	cr_assert_eq(f[5], 0x40, "BD: 64 KiB blocks");
}

Test(encode, two_batches_in_one_buffer)
{
	varve_record r[NSHAPES];
	shapes(r, 50);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 3, &p), 0);
	p.codec = VS_CODEC_LZ4;
	cr_assert_eq(vs_records_encode(&enc, &out, r + 3, NSHAPES - 3, &p), 0);
	vs_decoded d;
	cr_assert_eq(vs_records_decode(&dec, out.buf, out.len, &d), KE_NONE, "%s", dec.reason);
	cr_assert_eq(d.batch_count, 2);
	cr_assert_eq(d.batches[0].base_offset, 50);
	cr_assert_eq(d.batches[1].base_offset, 53);
	cr_assert_eq(d.batches[1].base_timestamp, 5000);
	cr_assert_eq(d.record_count, NSHAPES);
	assert_same_records(r, d.records, NSHAPES);
}

Test(encode, many_records_round_trip)
{
	size_t n = 20000;
	varve_record *r = calloc(n, sizeof *r);
	char (*vals)[24] = calloc(n, sizeof *vals);
	uint64_t seed = 3;
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(vals[i], sizeof vals[i], "v%zu", i * 31);
		r[i].key = (i % 3) ? vals[i] : NULL;
		r[i].key_len = (size_t)len;
		r[i].value = vals[i];
		r[i].value_len = (size_t)len;
		r[i].offset = (int64_t)(1ull << 40) + (int64_t)(i * 2);
		r[i].timestamp = 1700000000000LL + (int64_t)(tr_rand(&seed) % 100000) - 50000;
	}
	static const int codecs[] = { VS_CODEC_NONE, VS_CODEC_LZ4, VS_CODEC_ZSTD };
	for (int k = 0; k < 3; k++) {
		vs_wbuf_reset(&out);
		vs_batch_params p = VS_BATCH_PARAMS_INIT;
		p.codec = codecs[k];
		cr_assert_eq(vs_records_encode(&enc, &out, r, n, &p), 0);
		cr_assert_eq(vs_be32(out.buf + 23), 2 * (n - 1));
		if (codecs[k] == VS_CODEC_NONE) {
			cr_assert_eq(tr_parse_batch(out.buf, out.len, NULL, 0), (int)n);
		}
	}
	free(vals);
	free(r);
}

Test(encode, bad_arguments_leave_the_output_alone)
{
	varve_record r[NSHAPES];
	shapes(r, 10);
	vs_w_raw(&out, "keep", 4);
	cr_assert_eq(vs_records_encode(&enc, &out, r, 0, NULL), VS_RECORDS_EINVAL, "no records");
	r[2].offset = r[1].offset;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 3, NULL), VS_RECORDS_EINVAL, "offset repeated");
	r[2].offset = r[1].offset - 1;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 3, NULL), VS_RECORDS_EINVAL, "offset back");
	shapes(r, 10);
	r[1].offset = 10 + (int64_t)INT32_MAX + 1;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 2, NULL), VS_RECORDS_EINVAL, "delta over int32");
	r[1].offset = 10 + (int64_t)INT32_MAX;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 2, NULL), 0, "delta of INT32_MAX is fine");
	out.len = 4;
	shapes(r, -1);
	cr_assert_eq(vs_records_encode(&enc, &out, r, 2, NULL), VS_RECORDS_EINVAL, "negative offset");
	shapes(r, 0);
	r[0].timestamp = INT64_MIN;
	r[1].timestamp = INT64_MAX;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 2, NULL), VS_RECORDS_EINVAL, "timestamp delta");
	shapes(r, 0);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.codec = 5;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 2, &p), VS_RECORDS_EINVAL, "codec");
	varve_header bad = { NULL, 3, "v", 1 };
	r[0].headers = &bad;
	r[0].header_count = 1;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 1, NULL), VS_RECORDS_EINVAL, "NULL key of length 3");
	cr_assert_eq(out.len, 4);
	cr_assert_eq(memcmp(out.buf, "keep", 4), 0);
	cr_assert_eq(out.err, 0);
	/* a NULL header key of length 0 is the empty key */
	bad.key_len = 0;
	cr_assert_eq(vs_records_encode(&enc, &out, r, 1, NULL), 0);
	vs_decoded d;
	cr_assert_eq(vs_records_decode(&dec, out.buf + 4, out.len - 4, &d), KE_NONE);
	cr_assert_eq(d.records[0].headers[0].key_len, 0);
}
