/* SPDX-License-Identifier: MIT */
/* Tests of server/records/decode.c: a byte-exact image (checked against
 * kafka-python's parser when it was written), batches made by real clients
 * (data/), every validation rule broken on its own with the Kafka error
 * code it must give, limits, all-or-nothing results, truncation at every
 * byte, and buffer reuse. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kerrors.h"
#include "rec_util.h"
#include "records/records.h"


/* Two records: key "k" value "hello" at ts 1700000000000; null key, empty
 * value, header "h" with a null value, at ts + 5. CRC 0xd6f7b982. */
static const uint8_t image[84] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00,
	0x00, 0x02, 0xd6, 0xf7, 0xb9, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01,
	0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
	0x02, 0x18, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x0a, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x12,
	0x00, 0x0a, 0x02, 0x01, 0x00, 0x02, 0x02, 0x68, 0x01
};

static vs_records_decoder dec;
static vs_decoded out;

static void setup(void) { vs_records_decoder_init(&dec, NULL); }
static void teardown(void) { vs_records_decoder_free(&dec); }

TestSuite(rules, .init = setup, .fini = teardown, .timeout = 60);

static int decode(const void *buf, size_t len)
{
	int rc = vs_records_decode(&dec, buf, len, &out);
	if (rc != KE_NONE) {
		cr_assert_null(out.batches, "nothing is handed out on failure");
		cr_assert_eq(out.batch_count, 0);
		cr_assert_eq(out.record_count, 0);
		cr_assert_neq(dec.reason[0], 0, "a failure has a reason");
	}
	return rc;
}

static int decode_w(const vs_wbuf *w) { return decode(w->buf, w->len); }

/* Expect a code and a reason mentioning `word`. */
static void expect(const vs_wbuf *w, int code, const char *word)
{
	int rc = decode_w(w);
	cr_assert_eq(rc, code, "expected %d got %d (%s)", code, rc, vs_records_reason(&dec));
	if (word)
		cr_assert(strstr(vs_records_reason(&dec), word) != NULL, "reason '%s' lacks '%s'",
			  vs_records_reason(&dec), word);
}

static int blob_is(const void *p, size_t n, const char *s)
{
	return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

Test(rules, the_hand_computed_image)
{
	cr_assert_eq(decode(image, sizeof image), KE_NONE, "%s", dec.reason);
	cr_assert_eq(out.batch_count, 1);
	cr_assert_eq(out.record_count, 2);
	const vs_batch *b = &out.batches[0];
	cr_assert_eq(b->base_offset, 0);
	cr_assert_eq(b->crc, 0xd6f7b982u);
	cr_assert_eq(b->attributes, 0);
	cr_assert_eq(b->codec, VS_CODEC_NONE);
	cr_assert_eq(b->last_offset_delta, 1);
	cr_assert_eq(b->base_timestamp, 1700000000000LL);
	cr_assert_eq(b->max_timestamp, 1700000000005LL);
	cr_assert_eq(b->producer_id, -1);
	cr_assert_eq(b->producer_epoch, -1);
	cr_assert_eq(b->base_sequence, -1);
	cr_assert_eq(b->record_count, 2);
	cr_assert_eq(b->wire_size, sizeof image);
	cr_assert_eq(b->records_size, sizeof image - 61);
	cr_assert_eq(b->records, out.records);
	const varve_record *r = out.records;
	cr_assert(blob_is(r[0].key, r[0].key_len, "k"));
	cr_assert(blob_is(r[0].value, r[0].value_len, "hello"));
	cr_assert_eq(r[0].header_count, 0);
	cr_assert_null(r[0].headers);
	cr_assert_eq(r[0].timestamp, 1700000000000LL);
	cr_assert_eq(r[0].partition, -1);
	cr_assert_eq(r[0].offset, 0);
	cr_assert_null(r[1].key, "null key");
	cr_assert_not_null(r[1].value, "empty, not null");
	cr_assert_eq(r[1].value_len, 0);
	cr_assert_eq(r[1].timestamp, 1700000000005LL);
	cr_assert_eq(r[1].offset, 1);
	cr_assert_eq(r[1].header_count, 1);
	cr_assert(blob_is(r[1].headers[0].key, r[1].headers[0].key_len, "h"));
	cr_assert_null(r[1].headers[0].value);
	/* uncompressed: the pointers are into the request */
	cr_assert((const uint8_t *)r[0].value > image && (const uint8_t *)r[0].value < image + sizeof image);
}

Test(rules, empty_input_is_zero_batches)
{
	cr_assert_eq(decode(image, 0), KE_NONE);
	cr_assert_eq(out.batch_count, 0);
	cr_assert_eq(out.record_count, 0);
}

/* Records with every shape: empty key, null value, headers with empty and
 * null values, an empty header key, negative and huge timestamp deltas. */
Test(rules, record_shapes)
{
	varve_header h[3] = { { "", 0, "x", 1 }, { "trace", 5, NULL, 0 }, { "e", 1, "", 0 } };
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	tr_write_record(&recs, 0, 0, "", 0, NULL, 0, h, 3);
	tr_write_record(&recs, 1, -1000, NULL, 0, "v", 1, NULL, 0);
	tr_write_record(&recs, 2, INT64_MAX - 5000, "kk", 2, "vv", 2, h + 1, 1);
	tr_batch b = tr_batch_default(3);
	b.base_timestamp = 5000;
	b.producer_id = 77;
	b.producer_epoch = 3;
	b.base_sequence = 42;
	b.partition_leader_epoch = 9;
	b.base_offset = 123;
	b.attributes = VS_ATTR_LOG_APPEND_TIME;
	tr_write_batch(&w, &b, recs.buf, recs.len);
	cr_assert_eq(decode_w(&w), KE_NONE, "%s", dec.reason);
	const vs_batch *ob = &out.batches[0];
	cr_assert_eq(ob->producer_id, 77);
	cr_assert_eq(ob->producer_epoch, 3);
	cr_assert_eq(ob->base_sequence, 42);
	cr_assert_eq(ob->partition_leader_epoch, 9);
	cr_assert_eq(ob->base_offset, 123);
	cr_assert_eq(ob->log_append_time, 1);
	const varve_record *r = out.records;
	cr_assert_not_null(r[0].key);
	cr_assert_eq(r[0].key_len, 0);
	cr_assert_null(r[0].value, "tombstone");
	cr_assert_eq(r[0].header_count, 3);
	cr_assert_eq(r[0].headers[0].key_len, 0);
	cr_assert_not_null(r[0].headers[0].key, "empty header key is not null");
	cr_assert(blob_is(r[0].headers[0].value, r[0].headers[0].value_len, "x"));
	cr_assert(blob_is(r[0].headers[1].key, r[0].headers[1].key_len, "trace"));
	cr_assert_null(r[0].headers[1].value);
	cr_assert_not_null(r[0].headers[2].value);
	cr_assert_eq(r[0].headers[2].value_len, 0);
	cr_assert_eq(r[1].timestamp, 4000, "negative delta");
	cr_assert_eq(r[1].header_count, 0);
	cr_assert_eq(r[2].timestamp, INT64_MAX);
	cr_assert_eq(r[2].header_count, 1);
	cr_assert_eq(r[2].headers, r[0].headers + 3, "headers are laid out in order");
	cr_assert_null(r[2].headers[0].value);
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

/* A batch whose records section is compressed with `codec`. */
static void write_compressed(vs_wbuf *w, tr_batch b, int codec, const vs_wbuf *recs)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	vs_wbuf z;
	vs_wbuf_init(&z);
	cr_assert_eq(vs_compress(&c, codec, recs->buf, recs->len, &z), 0);
	b.attributes = (int16_t)((b.attributes & ~7) | (codec & 7));
	tr_write_batch(w, &b, z.buf, z.len);
	vs_wbuf_free(&z);
	vs_codec_free(&c);
}

/* Several batches, one per codec (and raw snappy), in one request. */
Test(rules, several_batches_in_every_codec)
{
	static const int codecs[] = { VS_CODEC_NONE, VS_CODEC_GZIP, VS_CODEC_SNAPPY,
				      VS_CODEC_SNAPPY_RAW, VS_CODEC_LZ4, VS_CODEC_ZSTD };
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	for (int k = 0; k < 6; k++) {
		vs_wbuf_reset(&recs);
		tr_write_simple_records(&recs, 10 + k);
		tr_batch b = tr_batch_default(10 + k);
		b.base_sequence = k;
		if (codecs[k] == VS_CODEC_NONE)
			tr_write_batch(&w, &b, recs.buf, recs.len);
		else
			write_compressed(&w, b, codecs[k], &recs);
	}
	cr_assert_eq(decode_w(&w), KE_NONE, "%s", dec.reason);
	cr_assert_eq(out.batch_count, 6);
	size_t total = 0;
	for (int k = 0; k < 6; k++) {
		const vs_batch *b = &out.batches[k];
		cr_assert_eq(b->codec, codecs[k] & 7);
		cr_assert_eq(b->base_sequence, k);
		cr_assert_eq(b->record_count, 10 + k);
		cr_assert_eq(b->records, out.records + total);
		for (int i = 0; i < b->record_count; i++) {
			char kx[16], vx[32];
			snprintf(kx, sizeof kx, "k%d", i);
			snprintf(vx, sizeof vx, "value-%d", i);
			cr_assert(blob_is(b->records[i].key, b->records[i].key_len, kx), "batch %d rec %d", k, i);
			cr_assert(blob_is(b->records[i].value, b->records[i].value_len, vx));
			cr_assert_eq(b->records[i].timestamp, 1000 + i);
		}
		total += (size_t)b->record_count;
	}
	cr_assert_eq(out.record_count, total);
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

/* ---- one rule broken at a time -------------------------------------------- */

/* A valid single batch of n simple records, with header b. */
static void simple(vs_wbuf *w, tr_batch b, int32_t nrec)
{
	vs_wbuf recs;
	vs_wbuf_init(&recs);
	tr_write_simple_records(&recs, nrec);
	tr_write_batch(w, &b, recs.buf, recs.len);
	vs_wbuf_free(&recs);
}

Test(rules, legacy_magics_are_unsupported)
{
	/* a magic 0 message set: offset, size, crc, magic, attributes, key, value */
	vs_wbuf w;
	vs_wbuf_init(&w);
	for (int magic = 0; magic <= 1; magic++) {
		vs_wbuf_reset(&w);
		vs_w_i64(&w, 0);
		vs_w_i32(&w, magic ? 22 : 14);
		vs_w_u32(&w, 0x12345678);
		vs_w_i8(&w, (int8_t)magic);
		vs_w_i8(&w, 0);
		if (magic)
			vs_w_i64(&w, 1000);
		vs_w_i32(&w, -1);
		vs_w_i32(&w, 0);
		expect(&w, KE_UNSUPPORTED_FOR_MESSAGE_FORMAT, "magic");
	}
	/* and a v2-shaped batch that says magic 1 */
	tr_batch b = tr_batch_default(2);
	b.magic = 1;
	vs_wbuf_reset(&w);
	simple(&w, b, 2);
	expect(&w, KE_UNSUPPORTED_FOR_MESSAGE_FORMAT, "magic 1");
	vs_wbuf_free(&w);
}

Test(rules, unknown_magics_are_corrupt)
{
	const int8_t magics[] = { 3, 99, -1 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	for (int i = 0; i < 3; i++) {
		tr_batch b = tr_batch_default(2);
		b.magic = magics[i];
		vs_wbuf_reset(&w);
		simple(&w, b, 2);
		expect(&w, KE_CORRUPT_MESSAGE, "unknown magic");
	}
	vs_wbuf_free(&w);
}

Test(rules, batch_length_must_match_the_bytes)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	int64_t lengths[] = { 48, 0, -1, INT32_MIN };
	for (int i = 0; i < 4; i++) {
		tr_batch b = tr_batch_default(2);
		b.length = lengths[i];
		vs_wbuf_reset(&w);
		simple(&w, b, 2);
		expect(&w, KE_CORRUPT_MESSAGE, "below the header size");
	}
	/* longer than the bytes present */
	vs_wbuf_reset(&w);
	simple(&w, tr_batch_default(2), 2);
	vs_put_be32(w.buf + 8, vs_be32(w.buf + 8) + 1);
	expect(&w, KE_CORRUPT_MESSAGE, "runs past the end");
	vs_put_be32(w.buf + 8, INT32_MAX);
	expect(&w, KE_CORRUPT_MESSAGE, "runs past the end");
	/* shorter than the records: the CRC is recomputed over the shorter span */
	vs_wbuf_reset(&w);
	tr_batch b = tr_batch_default(2);
	vs_wbuf recs;
	vs_wbuf_init(&recs);
	tr_write_simple_records(&recs, 2);
	b.length = (int64_t)(49 + recs.len - 3);
	b.crc = tr_crc32c_ref(NULL, 0); /* placeholder, fixed below */
	tr_write_batch(&w, &b, recs.buf, recs.len);
	size_t wire = 61 + recs.len - 3;
	vs_put_be32(w.buf + 17, tr_crc32c_ref(w.buf + 21, wire - 21));
	expect(&w, KE_CORRUPT_MESSAGE, NULL);
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

Test(rules, crc_mismatch_and_every_flipped_byte_it_covers)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	simple(&w, tr_batch_default(3), 3);
	w.buf[17] ^= 1;
	expect(&w, KE_CORRUPT_MESSAGE, "CRC-32C mismatch");
	w.buf[17] ^= 1;
	cr_assert_eq(decode_w(&w), KE_NONE);
	for (size_t pos = 21; pos < w.len; pos++) {
		w.buf[pos] ^= 0x10;
		expect(&w, KE_CORRUPT_MESSAGE, "CRC-32C");
		w.buf[pos] ^= 0x10;
	}
	vs_wbuf_free(&w);
}

Test(rules, unknown_codecs_are_unsupported)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	for (int codec = 5; codec <= 7; codec++) {
		tr_batch b = tr_batch_default(2);
		b.attributes = (int16_t)codec;
		vs_wbuf_reset(&w);
		simple(&w, b, 2);
		expect(&w, KE_UNSUPPORTED_COMPRESSION_TYPE, "codec");
	}
	vs_wbuf_free(&w);
}

Test(rules, transactional_and_control_batches_are_refused)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	tr_batch b = tr_batch_default(2);
	b.attributes = VS_ATTR_TRANSACTIONAL;
	b.producer_id = 5;
	b.producer_epoch = 0;
	b.base_sequence = 0;
	simple(&w, b, 2);
	expect(&w, KE_INVALID_TXN_STATE, "transactional");
	b.attributes = VS_ATTR_TRANSACTIONAL | VS_ATTR_CONTROL;
	vs_wbuf_reset(&w);
	simple(&w, b, 2);
	expect(&w, KE_INVALID_RECORD, "control");
	b.attributes = VS_ATTR_CONTROL;
	vs_wbuf_reset(&w);
	simple(&w, b, 2);
	expect(&w, KE_INVALID_RECORD, "control");
	vs_wbuf_free(&w);
}

Test(rules, record_count_must_be_positive_and_match_the_last_offset_delta)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	tr_batch b = tr_batch_default(2);
	b.record_count = 0;
	b.last_offset_delta = -1;
	simple(&w, b, 0);
	expect(&w, KE_INVALID_RECORD, "record count 0");
	b.record_count = -3;
	vs_wbuf_reset(&w);
	simple(&w, b, 0);
	expect(&w, KE_INVALID_RECORD, "record count -3");
	b = tr_batch_default(3);
	b.last_offset_delta = 3;
	vs_wbuf_reset(&w);
	simple(&w, b, 3);
	expect(&w, KE_INVALID_RECORD, "last offset delta");
	vs_wbuf_free(&w);
}

Test(rules, record_count_must_match_the_records_present)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	/* says 4, holds 3 */
	tr_batch b = tr_batch_default(4);
	simple(&w, b, 3);
	expect(&w, KE_CORRUPT_MESSAGE, "record 3 of 4");
	/* says 2, holds 3: bytes left after the last record */
	b = tr_batch_default(2);
	vs_wbuf_reset(&w);
	simple(&w, b, 3);
	expect(&w, KE_CORRUPT_MESSAGE, "after the last of 2 records");
	/* says a million, holds 3: refused before any array is sized for it */
	vs_records_decoder_free(&dec);
	vs_records_decoder_init(&dec, NULL);
	b = tr_batch_default(1000000);
	vs_wbuf_reset(&w);
	simple(&w, b, 3);
	expect(&w, KE_CORRUPT_MESSAGE, "record count 1000000");
	cr_assert_eq(dec.records_cap, 0);
	vs_wbuf_free(&w);
}

Test(rules, offset_deltas_must_be_0_to_n_minus_1_in_order)
{
	const int32_t orders[][3] = { { 0, 2, 1 }, { 1, 2, 3 }, { 0, 1, 1 }, { 0, 1, -2 } };
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	for (int k = 0; k < 4; k++) {
		vs_wbuf_reset(&recs);
		vs_wbuf_reset(&w);
		for (int i = 0; i < 3; i++)
			tr_write_record(&recs, orders[k][i], 0, "k", 1, "v", 1, NULL, 0);
		tr_batch b = tr_batch_default(3);
		tr_write_batch(&w, &b, recs.buf, recs.len);
		expect(&w, KE_INVALID_RECORD, "offset delta");
	}
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

/* One record whose body bytes are given raw, behind a correct length. */
static void raw_record_batch(vs_wbuf *w, const uint8_t *body, size_t n, int32_t length_fix)
{
	vs_wbuf recs;
	vs_wbuf_init(&recs);
	vs_w_varint(&recs, (int32_t)n + length_fix);
	vs_w_raw(&recs, body, n);
	tr_batch b = tr_batch_default(1);
	vs_wbuf_reset(w);
	tr_write_batch(w, &b, recs.buf, recs.len);
	vs_wbuf_free(&recs);
}

Test(rules, record_length_must_match_its_fields)
{
	/* attributes, ts delta, offset delta, key "k", value "v", no headers */
	const uint8_t good[] = { 0, 0, 0, 2, 'k', 2, 'v', 0 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	raw_record_batch(&w, good, sizeof good, 0);
	cr_assert_eq(decode_w(&w), KE_NONE, "%s", dec.reason);
	/* one byte too short: the header count falls outside the record */
	raw_record_batch(&w, good, sizeof good, -1);
	expect(&w, KE_CORRUPT_MESSAGE, NULL);
	/* one byte too long: a stray byte inside the record */
	const uint8_t extra[] = { 0, 0, 0, 2, 'k', 2, 'v', 0, 0x55 };
	raw_record_batch(&w, extra, sizeof extra, 0);
	expect(&w, KE_CORRUPT_MESSAGE, "left over inside");
	/* a length past the records, and a negative one */
	raw_record_batch(&w, good, sizeof good, 5);
	expect(&w, KE_CORRUPT_MESSAGE, "runs past");
	vs_wbuf recs;
	vs_wbuf_init(&recs);
	vs_w_varint(&recs, -2);
	vs_w_raw(&recs, good, sizeof good);
	tr_batch b = tr_batch_default(1);
	vs_wbuf_reset(&w);
	tr_write_batch(&w, &b, recs.buf, recs.len);
	expect(&w, KE_CORRUPT_MESSAGE, "length -2");
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

Test(rules, malformed_fields_inside_a_record)
{
	const struct {
		uint8_t body[16];
		size_t n;
		int code;
		const char *word;
	} cases[] = {
		{ { 0, 0, 0, 0x03, 0, 0 }, 6, KE_CORRUPT_MESSAGE, "bad key" },          /* key length -2 */
		{ { 0, 0, 0, 0x01, 0x05, 0 }, 6, KE_CORRUPT_MESSAGE, "bad value" },     /* value length -3 */
		{ { 0, 0, 0, 0x01, 0x01, 0x01 }, 6, KE_CORRUPT_MESSAGE, "header count" }, /* -1 headers */
		{ { 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01 }, 8, KE_INVALID_RECORD, "null key" },
		{ { 0, 0, 0, 0x01, 0x01, 0x02, 0x03, 0x01 }, 8, KE_CORRUPT_MESSAGE, "bad key length" },
		{ { 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 'h', 0x05 }, 9, KE_CORRUPT_MESSAGE, "bad value" },
		{ { 0, 0, 0, 0x01, 0x01, 0x04, 0x00, 0x01 }, 8, KE_CORRUPT_MESSAGE, "header count" },
		/* an overlong varint for the offset delta */
		{ { 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 1, 1, 0 }, 12, KE_CORRUPT_MESSAGE, "fields run past" },
		/* a key longer than the record */
		{ { 0, 0, 0, 0x10, 'a', 'b' }, 6, KE_CORRUPT_MESSAGE, "bad key" },
	};
	vs_wbuf w;
	vs_wbuf_init(&w);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		raw_record_batch(&w, cases[i].body, cases[i].n, 0);
		expect(&w, cases[i].code, cases[i].word);
	}
	vs_wbuf_free(&w);
}

Test(rules, more_headers_than_the_store_takes)
{
	size_t n = VS_RECORDS_MAX_HEADERS_PER_RECORD + 1;
	varve_header *h = calloc(n, sizeof *h);
	for (size_t i = 0; i < n; i++)
		h[i] = (varve_header){ "", 0, NULL, 0 };
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	tr_write_record(&recs, 0, 0, NULL, 0, NULL, 0, h, n);
	tr_batch b = tr_batch_default(1);
	tr_write_batch(&w, &b, recs.buf, recs.len);
	expect(&w, KE_INVALID_RECORD, "headers");
	/* one fewer is fine */
	vs_wbuf_reset(&recs);
	vs_wbuf_reset(&w);
	tr_write_record(&recs, 0, 0, NULL, 0, NULL, 0, h, n - 1);
	tr_write_batch(&w, &b, recs.buf, recs.len);
	cr_assert_eq(decode_w(&w), KE_NONE, "%s", dec.reason);
	cr_assert_eq(out.records[0].header_count, n - 1);
	free(h);
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

Test(rules, timestamp_overflow_is_invalid)
{
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	tr_write_record(&recs, 0, 1, "k", 1, "v", 1, NULL, 0);
	tr_batch b = tr_batch_default(1);
	b.base_timestamp = INT64_MAX;
	tr_write_batch(&w, &b, recs.buf, recs.len);
	expect(&w, KE_INVALID_TIMESTAMP, "overflows");
	vs_wbuf_reset(&recs);
	vs_wbuf_reset(&w);
	tr_write_record(&recs, 0, -1, "k", 1, "v", 1, NULL, 0);
	b.base_timestamp = INT64_MIN;
	tr_write_batch(&w, &b, recs.buf, recs.len);
	expect(&w, KE_INVALID_TIMESTAMP, "overflows");
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

Test(rules, trailing_bytes_after_the_last_batch)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	const size_t tails[] = { 1, 12, 16, 17, 60 };
	for (int i = 0; i < 5; i++) {
		vs_wbuf_reset(&w);
		simple(&w, tr_batch_default(2), 2);
		uint8_t *z = vs_w_reserve(&w, tails[i]);
		memset(z, 0, tails[i]);
		if (tails[i] > 16)
			z[16] = 2; /* magic 2, so it is judged as a short batch */
		int rc = decode_w(&w);
		cr_assert_eq(rc, KE_CORRUPT_MESSAGE, "tail %zu: %d", tails[i], rc);
		cr_assert(strstr(dec.reason, "batch 1") != NULL, "%s", dec.reason);
	}
	vs_wbuf_free(&w);
}

Test(rules, corrupt_compressed_records_behind_a_good_crc)
{
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	tr_write_simple_records(&recs, 20);
	const int codecs[] = { VS_CODEC_GZIP, VS_CODEC_SNAPPY, VS_CODEC_LZ4, VS_CODEC_ZSTD };
	for (int k = 0; k < 4; k++) {
		vs_wbuf_reset(&w);
		write_compressed(&w, tr_batch_default(20), codecs[k], &recs);
		/* cut the compressed stream short and fix length and CRC */
		w.len -= 3;
		vs_put_be32(w.buf + 8, (uint32_t)(w.len - 12));
		vs_put_be32(w.buf + 17, tr_crc32c_ref(w.buf + 21, w.len - 21));
		expect(&w, KE_CORRUPT_MESSAGE, vs_codec_name(codecs[k]));
	}
	/* a valid stream whose records disagree with the count */
	vs_wbuf_reset(&w);
	write_compressed(&w, tr_batch_default(21), VS_CODEC_LZ4, &recs);
	expect(&w, KE_CORRUPT_MESSAGE, "record 20 of 21");
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

/* ---- limits ------------------------------------------------------------------ */

static void with_limits(size_t batch, size_t inflated, size_t total, size_t records, size_t headers)
{
	vs_records_decoder_free(&dec);
	vs_records_limits l = { batch, inflated, total, records, headers };
	vs_records_decoder_init(&dec, &l);
}

Test(rules, default_limits)
{
	vs_records_limits l = VS_RECORDS_LIMITS_DEFAULT;
	cr_assert_eq(dec.limits.max_batch_bytes, 1048588);
	cr_assert_eq(dec.limits.max_inflated_batch_bytes, l.max_inflated_batch_bytes);
	cr_assert_eq(dec.limits.max_records, 1u << 20);
}

Test(rules, batch_over_max_batch_bytes_is_too_large)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	simple(&w, tr_batch_default(5), 5);
	with_limits(w.len, 1 << 20, 1 << 20, 100, 100);
	cr_assert_eq(decode_w(&w), KE_NONE);
	with_limits(w.len - 1, 1 << 20, 1 << 20, 100, 100);
	expect(&w, KE_MESSAGE_TOO_LARGE, "over the limit");
	vs_wbuf_free(&w);
}

/* A batch of 10 MB of zero-filled values compressed with zstd to a few
 * KB: refused against a 1 MB per-batch limit without holding 10 MB. */
Test(rules, decompression_bomb_is_too_large)
{
	size_t vlen = 100000, n = 100;
	uint8_t *zeros = calloc(1, vlen);
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	for (size_t i = 0; i < n; i++)
		tr_write_record(&recs, (int32_t)i, 0, NULL, 0, zeros, vlen, NULL, 0);
	const int codecs[] = { VS_CODEC_GZIP, VS_CODEC_SNAPPY, VS_CODEC_LZ4, VS_CODEC_ZSTD };
	for (int k = 0; k < 4; k++) {
		vs_wbuf_reset(&w);
		write_compressed(&w, tr_batch_default((int32_t)n), codecs[k], &recs);
		with_limits(1 << 20, 1 << 20, 64 << 20, 1000, 1000);
		expect(&w, KE_MESSAGE_TOO_LARGE, "limit");
		cr_assert_leq(dec.inflated.cap, 2 * ((1 << 20) + 1), "%s", vs_codec_name(codecs[k]));
		with_limits(1 << 20, 16 << 20, 64 << 20, 1000, 1000);
		cr_assert_eq(decode_w(&w), KE_NONE, "%s", dec.reason);
		cr_assert_eq(out.record_count, n);
		cr_assert_eq(out.records[99].value_len, vlen);
	}
	free(zeros);
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

Test(rules, request_totals_over_their_limits)
{
	vs_wbuf recs, w;
	vs_wbuf_init(&recs);
	vs_wbuf_init(&w);
	tr_write_simple_records(&recs, 50);
	write_compressed(&w, tr_batch_default(50), VS_CODEC_LZ4, &recs);
	write_compressed(&w, tr_batch_default(50), VS_CODEC_GZIP, &recs);
	/* each batch fits, both do not */
	with_limits(1 << 20, recs.len, 2 * recs.len, 1000, 1000);
	cr_assert_eq(decode_w(&w), KE_NONE, "%s", dec.reason);
	with_limits(1 << 20, recs.len, 2 * recs.len - 1, 1000, 1000);
	expect(&w, KE_RECORD_LIST_TOO_LARGE, "batch 1");
	/* records */
	with_limits(1 << 20, 1 << 20, 1 << 20, 100, 1000);
	cr_assert_eq(decode_w(&w), KE_NONE);
	with_limits(1 << 20, 1 << 20, 1 << 20, 99, 1000);
	expect(&w, KE_RECORD_LIST_TOO_LARGE, "records");
	/* headers */
	varve_header h[2] = { { "a", 1, "1", 1 }, { "b", 1, NULL, 0 } };
	vs_wbuf_reset(&recs);
	vs_wbuf_reset(&w);
	for (int i = 0; i < 3; i++)
		tr_write_record(&recs, i, 0, "k", 1, "v", 1, h, 2);
	tr_batch b = tr_batch_default(3);
	tr_write_batch(&w, &b, recs.buf, recs.len);
	with_limits(1 << 20, 1 << 20, 1 << 20, 100, 6);
	cr_assert_eq(decode_w(&w), KE_NONE);
	with_limits(1 << 20, 1 << 20, 1 << 20, 100, 5);
	expect(&w, KE_RECORD_LIST_TOO_LARGE, "headers");
	vs_wbuf_free(&recs);
	vs_wbuf_free(&w);
}

/* ---- all or nothing, reuse, truncation ----------------------------------- */

static void three_batches(vs_wbuf *w, size_t ends[3])
{
	vs_wbuf recs;
	vs_wbuf_init(&recs);
	varve_header h = { "hk", 2, NULL, 0 };
	for (int i = 0; i < 4; i++)
		tr_write_record(&recs, i, -i, i % 2 ? NULL : "key", 3, "value", 5, &h, 1);
	tr_batch b = tr_batch_default(4);
	tr_write_batch(w, &b, recs.buf, recs.len);
	ends[0] = w->len;
	write_compressed(w, b, VS_CODEC_LZ4, &recs);
	ends[1] = w->len;
	write_compressed(w, b, VS_CODEC_ZSTD, &recs);
	ends[2] = w->len;
	vs_wbuf_free(&recs);
}

Test(rules, a_bad_batch_fails_the_whole_request)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	size_t ends[3];
	three_batches(&w, ends);
	cr_assert_eq(decode_w(&w), KE_NONE);
	w.buf[ends[2] - 1] ^= 1; /* breaks the last batch's CRC */
	expect(&w, KE_CORRUPT_MESSAGE, "batch 2");
	/* the decoder recovers */
	w.buf[ends[2] - 1] ^= 1;
	cr_assert_eq(decode_w(&w), KE_NONE);
	cr_assert_eq(out.record_count, 12);
	vs_wbuf_free(&w);
}

Test(rules, truncation_at_every_byte)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	size_t ends[3];
	three_batches(&w, ends);
	for (size_t cut = 0; cut <= w.len; cut++) {
		/* a private copy so ASan sees any read past the cut */
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, w.buf, cut);
		int rc = decode(copy, cut);
		size_t whole = cut == 0 ? 0 : cut == ends[0] ? 1 : cut == ends[1] ? 2 : cut == ends[2] ? 3 : 9;
		if (whole != 9) {
			cr_assert_eq(rc, KE_NONE, "cut %zu", cut);
			cr_assert_eq(out.batch_count, whole);
		} else {
			cr_assert_eq(rc, KE_CORRUPT_MESSAGE, "cut %zu: %d %s", cut, rc, dec.reason);
		}
		free(copy);
	}
	vs_wbuf_free(&w);
}

Test(rules, random_damage_never_escapes_the_rules)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	size_t ends[3];
	three_batches(&w, ends);
	uint8_t *copy = malloc(w.len);
	uint64_t seed = 5;
	for (int round = 0; round < 20000; round++) {
		memcpy(copy, w.buf, w.len);
		int flips = 1 + (int)(tr_rand(&seed) % 4);
		for (int f = 0; f < flips; f++)
			copy[tr_rand(&seed) % w.len] ^= (uint8_t)(1 + tr_rand(&seed) % 255);
		/* repair the CRCs half of the time so the records get damaged too */
		if (round % 2) {
			size_t at = 0;
			while (at + 61 <= w.len) {
				int32_t len = (int32_t)vs_be32(copy + at + 8);
				if (len < 49 || (size_t)len + 12 > w.len - at)
					break;
				vs_put_be32(copy + at + 17, tr_crc32c_ref(copy + at + 21, (size_t)len + 12 - 21));
				at += (size_t)len + 12;
			}
		}
		int rc = decode(copy, w.len);
		if (rc == KE_NONE) {
			for (size_t i = 0; i < out.record_count; i++)
				cr_assert_leq(out.records[i].header_count, 1000);
		}
	}
	free(copy);
	vs_wbuf_free(&w);
}

Test(rules, steady_state_reuses_the_buffers)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	size_t ends[3];
	three_batches(&w, ends);
	cr_assert_eq(decode_w(&w), KE_NONE);
	void *recs = dec.records, *hdrs = dec.headers, *infl = dec.inflated.buf, *batches = dec.batches;
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(decode_w(&w), KE_NONE);
		cr_assert_eq(dec.records, recs);
		cr_assert_eq(dec.headers, hdrs);
		cr_assert_eq(dec.inflated.buf, infl);
		cr_assert_eq(dec.batches, batches);
	}
	cr_assert_not_null(dec.codec.lz4_d);
	cr_assert_not_null(dec.codec.zstd_d);
	vs_records_decoder_trim(&dec, 0);
	cr_assert_null(dec.records);
	cr_assert_null(dec.inflated.buf);
	cr_assert_null(dec.codec.lz4_d, "codec contexts are dropped too");
	cr_assert_null(dec.codec.zstd_d);
	cr_assert_eq(decode_w(&w), KE_NONE, "works again after a trim");
	cr_assert_eq(out.record_count, 12);
	vs_wbuf_free(&w);
}

/* ---- real clients -------------------------------------------------------- */

/* data/<name>.bin hold the `records` bytes of one partition of Produce
 * requests captured from real clients by data/capture.py (see there): each
 * sent the records key-<i> / value-<i> (i = 0..n-1), record 1 with header
 * ("h1", "v1"), record 2 with a null value. */
static void check_capture(const char *name, int codec, int n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s.bin", RECORDS_DATA_DIR, name);
	size_t len = 0;
	uint8_t *buf = tr_read_file(path, &len);
	cr_assert_not_null(buf, "missing %s", path);
	int rc = decode(buf, len);
	cr_assert_eq(rc, KE_NONE, "%s: %s", name, dec.reason);
	cr_assert_eq(out.batch_count, 1, "%s", name);
	cr_assert_eq(out.batches[0].codec, codec, "%s", name);
	cr_assert_eq(out.record_count, (size_t)n, "%s", name);
	for (int i = 0; i < n; i++) {
		const varve_record *r = &out.records[i];
		char k[32], v[32];
		snprintf(k, sizeof k, "key-%d", i);
		snprintf(v, sizeof v, "value-%d", i);
		cr_assert(blob_is(r->key, r->key_len, k), "%s record %d key", name, i);
		if (i == 2)
			cr_assert_null(r->value, "%s record 2 is a tombstone", name);
		else
			cr_assert(blob_is(r->value, r->value_len, v), "%s record %d value", name, i);
		cr_assert_eq(r->header_count, i == 1 ? 1u : 0u, "%s record %d headers", name, i);
		if (i == 1) {
			cr_assert(blob_is(r->headers[0].key, r->headers[0].key_len, "h1"));
			cr_assert(blob_is(r->headers[0].value, r->headers[0].value_len, "v1"));
		}
		cr_assert_gt(r->timestamp, 1600000000000LL, "%s: a wall-clock timestamp", name);
	}
	free(buf);
}

Test(rules, batches_from_real_clients)
{
	static const struct {
		const char *name;
		int codec;
	} caps[] = {
		{ "librdkafka-none", VS_CODEC_NONE },   { "librdkafka-gzip", VS_CODEC_GZIP },
		{ "librdkafka-snappy", VS_CODEC_SNAPPY }, { "librdkafka-lz4", VS_CODEC_LZ4 },
		{ "librdkafka-zstd", VS_CODEC_ZSTD },   { "kafka-python-none", VS_CODEC_NONE },
		{ "kafka-python-gzip", VS_CODEC_GZIP },
	};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		check_capture(caps[i].name, caps[i].codec, 5);
}
