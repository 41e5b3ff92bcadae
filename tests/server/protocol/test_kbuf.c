/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kbuf.c: every primitive type read and written at
 * its boundary values, the sticky errors of reader and writer, malformed
 * and overlong varints, null versus empty strings and bytes, lying array
 * counts, tagged-field skipping, the size hole, and the slice helpers.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kt_util.h"

TestSuite(kbuf_read, .timeout = 10);
TestSuite(kbuf_write, .timeout = 10);
TestSuite(kbuf_roundtrip, .timeout = 10);

static vs_rbuf rb(const uint8_t *p, size_t n)
{
	vs_rbuf r;
	vs_rbuf_init(&r, p, n);
	return r;
}

/* ---- fixed-width integers ----------------------------------------------- */

Test(kbuf_read, fixed_width_big_endian)
{
	const uint8_t in[] = { 0x80, 0x7f, 0xff, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff,
			       0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_i8(&r), INT8_MIN);
	cr_assert_eq(vs_r_i16(&r), 0x7fff);
	cr_assert_eq(vs_r_i16(&r), INT16_MIN);
	cr_assert_eq(vs_r_i32(&r), 1);
	cr_assert_eq(vs_r_i32(&r), -2);
	cr_assert_eq(vs_r_i64(&r), INT64_MIN);
	cr_assert_eq(vs_r_u32(&r), 0xdeadbeefu);
	cr_assert_eq(r.err, 0);
	cr_assert_eq(vs_rbuf_left(&r), 0);
}

Test(kbuf_read, short_read_is_sticky_and_returns_zero)
{
	const uint8_t in[] = { 0x12, 0x34, 0x56 };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_i32(&r), 0);
	cr_assert_eq(r.err, VS_KBUF_SHORT);
	/* the failed read consumed nothing, but later reads fail too */
	cr_assert_eq(vs_r_i8(&r), 0);
	cr_assert_eq(vs_r_i16(&r), 0);
	cr_assert_eq(vs_rbuf_left(&r), 0, "left() is 0 once an error is set");
	cr_assert_eq(r.err, VS_KBUF_SHORT);
}

Test(kbuf_read, reads_at_exact_end)
{
	const uint8_t in[] = { 1, 2 };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_i16(&r), 0x0102);
	cr_assert_eq(vs_r_raw(&r, 0).len, 0);
	cr_assert_eq(r.err, 0, "a zero-byte read at the end is fine");
	vs_r_i8(&r);
	cr_assert_eq(r.err, VS_KBUF_SHORT);
}

Test(kbuf_read, uuid_and_raw)
{
	uint8_t in[20];
	for (int i = 0; i < 20; i++)
		in[i] = (uint8_t)i;
	vs_rbuf r = rb(in, sizeof in);
	uint8_t u[16];
	vs_r_uuid(&r, u);
	cr_assert_eq(memcmp(u, in, 16), 0);
	vs_slice s = vs_r_raw(&r, 4);
	cr_assert_eq(s.ptr, in + 16);
	cr_assert_eq(s.len, 4);
	vs_r_uuid(&r, u);
	cr_assert_eq(r.err, VS_KBUF_SHORT);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(u[i], 0, "a failed uuid read zeroes the output");
}

/* ---- varints -------------------------------------------------------------- */

Test(kbuf_read, uvarint_values)
{
	const uint8_t in[] = { 0x00, 0x7f, 0x80, 0x01, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_uvarint(&r), 0);
	cr_assert_eq(vs_r_uvarint(&r), 127);
	cr_assert_eq(vs_r_uvarint(&r), 128);
	cr_assert_eq(vs_r_uvarint(&r), 16383);
	cr_assert_eq(vs_r_uvarint(&r), UINT32_MAX);
	cr_assert_eq(r.err, 0);
}

Test(kbuf_read, uvarint_overflowing_fifth_byte_is_malformed)
{
	/* 2^32: the fifth byte carries a bit past 32 */
	const uint8_t in[] = { 0x80, 0x80, 0x80, 0x80, 0x10 };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_uvarint(&r), 0);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
}

Test(kbuf_read, uvarint_longer_than_five_bytes_is_malformed)
{
	const uint8_t in[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	vs_rbuf r = rb(in, sizeof in);
	vs_r_uvarint(&r);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
}

Test(kbuf_read, uvarint_truncated_is_short)
{
	const uint8_t in[] = { 0x80, 0x80 };
	vs_rbuf r = rb(in, sizeof in);
	vs_r_uvarint(&r);
	cr_assert_eq(r.err, VS_KBUF_SHORT);
}

Test(kbuf_read, zigzag_varint_and_varlong)
{
	const uint8_t in[] = { 0x00, 0x01, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f,
			       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_varint(&r), 0);
	cr_assert_eq(vs_r_varint(&r), -1);
	cr_assert_eq(vs_r_varint(&r), 1);
	cr_assert_eq(vs_r_varint(&r), INT32_MAX);
	cr_assert_eq(vs_r_varint(&r), INT32_MIN);
	cr_assert_eq(vs_r_varlong(&r), INT64_MIN);
	cr_assert_eq(r.err, 0);
}

Test(kbuf_read, varlong_overflowing_tenth_byte_is_malformed)
{
	const uint8_t in[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
	vs_rbuf r = rb(in, sizeof in);
	vs_r_varlong(&r);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
}

/* ---- strings and bytes ---------------------------------------------------- */

Test(kbuf_read, string_classic_and_compact)
{
	const uint8_t in[] = { 0x00, 0x02, 'h', 'i', 0x03, 'y', 'o', 0x00, 0x00, 0x01 };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert(kt_is(vs_r_string(&r, 0), "hi"));
	cr_assert(kt_is(vs_r_string(&r, 1), "yo"));
	vs_slice e = vs_r_string(&r, 0);
	cr_assert_eq(e.len, 0);
	cr_assert_not_null(e.ptr, "\"\" is an empty slice, not null");
	vs_slice ce = vs_r_string(&r, 1);
	cr_assert_eq(ce.len, 0);
	cr_assert_not_null(ce.ptr);
	cr_assert_eq(r.err, 0);
}

Test(kbuf_read, null_versus_empty)
{
	const uint8_t in[] = { 0xff, 0xff, 0x00, 0x00, 0x00, 0x01 };
	vs_rbuf r = rb(in, sizeof in);
	int is_null = 0;
	vs_slice s = vs_r_nstring(&r, 0, &is_null);
	cr_assert_eq(is_null, 1);
	cr_assert_null(s.ptr);
	s = vs_r_nstring(&r, 0, &is_null);
	cr_assert_eq(is_null, 0);
	cr_assert_not_null(s.ptr);
	s = vs_r_nstring(&r, 1, &is_null);
	cr_assert_eq(is_null, 1, "compact length 0 is null");
	s = vs_r_nstring(&r, 1, &is_null);
	cr_assert_eq(is_null, 0, "compact length 1 is empty");
	cr_assert_eq(s.len, 0);
	cr_assert_eq(r.err, 0);
}

Test(kbuf_read, null_where_not_nullable_is_malformed)
{
	const uint8_t in[] = { 0xff, 0xff };
	vs_rbuf r = rb(in, sizeof in);
	vs_r_string(&r, 0);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
	const uint8_t cin[] = { 0x00 };
	r = rb(cin, sizeof cin);
	vs_r_bytes(&r, 1);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
}

Test(kbuf_read, length_below_minus_one_is_malformed)
{
	const uint8_t s16[] = { 0xff, 0xfe };
	vs_rbuf r = rb(s16, sizeof s16);
	vs_r_nstring(&r, 0, NULL);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
	const uint8_t s32[] = { 0x80, 0x00, 0x00, 0x00 };
	r = rb(s32, sizeof s32);
	vs_r_nbytes(&r, 0, NULL);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
}

Test(kbuf_read, length_past_end_is_short)
{
	const uint8_t in[] = { 0x00, 0x05, 'a', 'b' };
	vs_rbuf r = rb(in, sizeof in);
	vs_slice s = vs_r_string(&r, 0);
	cr_assert_eq(r.err, VS_KBUF_SHORT);
	cr_assert_null(s.ptr);
	const uint8_t big[] = { 0x7f, 0xff, 0xff, 0xff, 0x00 };
	r = rb(big, sizeof big);
	vs_r_bytes(&r, 0);
	cr_assert_eq(r.err, VS_KBUF_SHORT);
	const uint8_t cbig[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	r = rb(cbig, sizeof cbig);
	vs_r_bytes(&r, 1);
	cr_assert_eq(r.err, VS_KBUF_SHORT, "a compact length of UINT32_MAX - 1 bytes");
}

Test(kbuf_read, bytes_wide_length)
{
	const uint8_t in[] = { 0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb, 0x03, 0xcc, 0xdd };
	vs_rbuf r = rb(in, sizeof in);
	vs_slice b = vs_r_bytes(&r, 0);
	cr_assert_eq(b.len, 2);
	cr_assert_eq(b.ptr[1], 0xbb);
	b = vs_r_bytes(&r, 1);
	cr_assert_eq(b.len, 2);
	cr_assert_eq(b.ptr[0], 0xcc);
	cr_assert_eq(r.err, 0);
}

/* ---- arrays and tags ------------------------------------------------------ */

Test(kbuf_read, array_counts)
{
	const uint8_t in[] = { 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xab };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_array(&r, 0, 4), -1, "classic null");
	cr_assert_eq(vs_r_array(&r, 0, 4), 0);
	cr_assert_eq(vs_r_array(&r, 1, 1), -1, "compact null");
	cr_assert_eq(vs_r_array(&r, 1, 1), 1, "compact 2 is one element, 1 byte left");
	cr_assert_eq(r.err, 0);
}

Test(kbuf_read, lying_array_count_is_rejected_before_use)
{
	/* claims 1000 elements of at least 4 bytes with 8 bytes left */
	const uint8_t in[] = { 0x00, 0x00, 0x03, 0xe8, 1, 2, 3, 4, 5, 6, 7, 8 };
	vs_rbuf r = rb(in, sizeof in);
	cr_assert_eq(vs_r_array(&r, 0, 4), 0);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
	/* two such elements do fit */
	const uint8_t ok[] = { 0x00, 0x00, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8 };
	r = rb(ok, sizeof ok);
	cr_assert_eq(vs_r_array(&r, 0, 4), 2);
	cr_assert_eq(r.err, 0);
	const uint8_t neg[] = { 0xff, 0xff, 0xff, 0xfe };
	r = rb(neg, sizeof neg);
	vs_r_array(&r, 0, 1);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED, "-2 is not a count");
}

Test(kbuf_read, compact_count_past_int32_is_malformed)
{
	/* uvarint 0x80000001 - 1 = 2^31 elements: must not come back negative,
	 * even when the caller gives no element size */
	const uint8_t in[] = { 0x81, 0x80, 0x80, 0x80, 0x08 };
	vs_rbuf r = rb(in, sizeof in);
	int32_t n = vs_r_array(&r, 1, 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(r.err, VS_KBUF_MALFORMED);
}

Test(kbuf_read, skip_tags)
{
	const uint8_t in[] = { 0x02, 0x00, 0x02, 0xaa, 0xbb, 0x05, 0x00, 0x7e };
	vs_rbuf r = rb(in, sizeof in);
	vs_r_skip_tags(&r);
	cr_assert_eq(r.err, 0);
	cr_assert_eq(vs_r_i8(&r), 0x7e, "both tags skipped, the next field follows");
	const uint8_t bad[] = { 0x01, 0x00, 0x05, 0xaa };
	r = rb(bad, sizeof bad);
	vs_r_skip_tags(&r);
	cr_assert_eq(r.err, VS_KBUF_SHORT, "a tag longer than the input");
	const uint8_t many[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00 };
	r = rb(many, sizeof many);
	vs_r_skip_tags(&r);
	cr_assert_eq(r.err, VS_KBUF_SHORT, "a huge tag count stops at the end of the input");
}

/* ---- writer ----------------------------------------------------------------- */

Test(kbuf_write, fixed_and_varints)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_i8(&w, -1);
	vs_w_i16(&w, INT16_MIN);
	vs_w_i32(&w, 0x01020304);
	vs_w_i64(&w, -2);
	vs_w_u32(&w, 0xcafebabe);
	vs_w_uvarint(&w, 300);
	vs_w_varint(&w, -1);
	vs_w_varint(&w, INT32_MIN);
	vs_w_varlong(&w, INT64_MAX);
	kt_assert_frame_hex(&w, "ff 8000 01020304 fffffffffffffffe cafebabe ac02 01 ffffffff0f"
				"feffffffffffffffff01");
	vs_wbuf_free(&w);
}

Test(kbuf_write, strings_bytes_and_nulls)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_string(&w, 0, "ab", 2);
	vs_w_string(&w, 1, "ab", 2);
	vs_w_nstring(&w, 0, NULL, 0);
	vs_w_nstring(&w, 1, NULL, 0);
	vs_w_cstr(&w, 0, "");
	vs_w_cstr(&w, 1, NULL);
	vs_w_bytes(&w, 0, "\x01", 1);
	vs_w_nbytes(&w, 0, NULL, 0);
	vs_w_nbytes(&w, 1, NULL, 0);
	vs_w_bytes(&w, 1, "", 0);
	kt_assert_frame_hex(&w, "0002 6162 | 03 6162 | ffff | 00 | 0000 | 00 | 00000001 01 | ffffffff | 00 | 01");
	vs_wbuf_free(&w);
}

Test(kbuf_write, arrays_and_tags)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_array(&w, 0, -1);
	vs_w_array(&w, 0, 3);
	vs_w_array(&w, 1, -1);
	vs_w_array(&w, 1, 3);
	vs_w_array(&w, 1, INT32_MAX); /* used to overflow computing n + 1 */
	vs_w_empty_tags(&w);
	kt_assert_frame_hex(&w, "ffffffff 00000003 00 04 8080808008 00");
	vs_wbuf_free(&w);
}

Test(kbuf_write, string_too_long_for_its_type_sets_err)
{
	static char big[40000];
	memset(big, 'x', sizeof big);
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_string(&w, 0, big, 32767);
	cr_assert_eq(w.err, 0, "32767 bytes fit an INT16 length");
	size_t len = w.len;
	vs_w_string(&w, 0, big, 32768);
	cr_assert_eq(w.err, VS_KBUF_LIMIT);
	cr_assert_eq(w.len, len, "nothing was written");
	vs_w_i32(&w, 5);
	cr_assert_eq(w.len, len, "the error is sticky");
	cr_assert_null(vs_w_reserve(&w, 1));
	vs_wbuf_reset(&w);
	cr_assert_eq(w.err, 0);
	cr_assert_eq(w.len, 0);
	vs_w_string(&w, 1, big, sizeof big);
	cr_assert_eq(w.err, 0, "compact strings have no 16-bit limit");
	vs_wbuf_free(&w);
}

Test(kbuf_write, grows_and_takes)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	for (int i = 0; i < 10000; i++)
		vs_w_i32(&w, i);
	cr_assert_eq(w.len, 40000);
	cr_assert_eq(vs_be32(w.buf + 4 * 9999), 9999);
	size_t len;
	uint8_t *b = vs_wbuf_take(&w, &len);
	cr_assert_eq(len, 40000);
	cr_assert_null(w.buf);
	cr_assert_eq(w.len, 0);
	free(b);
	vs_wbuf_free(&w);
}

Test(kbuf_write, reserve_overflow_sets_nomem)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_i8(&w, 1);
	cr_assert_null(vs_w_reserve(&w, SIZE_MAX));
	cr_assert_eq(w.err, VS_KBUF_NOMEM);
	vs_wbuf_free(&w);
}

Test(kbuf_write, hole_and_patch)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_i8(&w, 9);
	size_t at = vs_w_hole32(&w);
	vs_w_i16(&w, 7);
	vs_w_patch32(&w, at, (uint32_t)(w.len - at - 4));
	kt_assert_frame_hex(&w, "09 00000002 0007");
	vs_w_patch32(&w, w.len - 2, 0xffffffff); /* past the end: ignored */
	kt_assert_frame_hex(&w, "09 00000002 0007");
	vs_wbuf_free(&w);
}

/* ---- both directions ------------------------------------------------------- */

Test(kbuf_roundtrip, varints_at_boundaries)
{
	const int32_t v32[] = { 0, 1, -1, 63, -64, 64, -65, 8191, -8192, INT32_MAX, INT32_MIN };
	const int64_t v64[] = { 0, -1, INT64_MAX, INT64_MIN, (int64_t)1 << 35, -((int64_t)1 << 56) };
	const uint32_t u32[] = { 0, 127, 128, 16383, 16384, UINT32_MAX };
	vs_wbuf w;
	vs_wbuf_init(&w);
	for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++)
		vs_w_varint(&w, v32[i]);
	for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++)
		vs_w_varlong(&w, v64[i]);
	for (size_t i = 0; i < sizeof u32 / sizeof u32[0]; i++)
		vs_w_uvarint(&w, u32[i]);
	vs_rbuf r = rb(w.buf, w.len);
	for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++)
		cr_assert_eq(vs_r_varint(&r), v32[i]);
	for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++)
		cr_assert_eq(vs_r_varlong(&r), v64[i]);
	for (size_t i = 0; i < sizeof u32 / sizeof u32[0]; i++)
		cr_assert_eq(vs_r_uvarint(&r), u32[i]);
	cr_assert_eq(r.err, 0);
	cr_assert_eq(vs_rbuf_left(&r), 0);
	vs_wbuf_free(&w);
}

Test(kbuf_roundtrip, strings_in_both_encodings)
{
	for (int compact = 0; compact <= 1; compact++) {
		vs_wbuf w;
		vs_wbuf_init(&w);
		vs_w_string(&w, compact, "kafka", 5);
		vs_w_nstring(&w, compact, NULL, 0);
		vs_w_nstring(&w, compact, "", 0);
		vs_w_nbytes(&w, compact, "\0\1", 2);
		vs_rbuf r = rb(w.buf, w.len);
		cr_assert(kt_is(vs_r_string(&r, compact), "kafka"));
		int is_null;
		vs_r_nstring(&r, compact, &is_null);
		cr_assert_eq(is_null, 1);
		vs_slice e = vs_r_nstring(&r, compact, &is_null);
		cr_assert_eq(is_null, 0);
		cr_assert_eq(e.len, 0);
		vs_slice b = vs_r_nbytes(&r, compact, NULL);
		cr_assert_eq(b.len, 2);
		cr_assert_eq(b.ptr[1], 1);
		cr_assert_eq(vs_rbuf_left(&r), 0);
		vs_wbuf_free(&w);
	}
}

/* ---- slice helpers ---------------------------------------------------------- */

Test(kbuf_read, slice_helpers)
{
	cr_assert(vs_slice_eq(kt_s("abc"), "abc"));
	cr_assert_not(vs_slice_eq(kt_s("abc"), "ab"));
	cr_assert_not(vs_slice_eq(VS_SLICE_NULL, ""), "null is not the empty string");
	cr_assert(vs_slice_eq(kt_s(""), ""));
	char out[4];
	cr_assert_eq(vs_slice_cstr(kt_s("abc"), out, sizeof out), 0);
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(vs_slice_cstr(kt_s("abcd"), out, sizeof out), -1, "no room for the NUL");
	cr_assert_str_eq(out, "");
	vs_slice withnul = { (const uint8_t *)"a\0b", 3 };
	cr_assert_eq(vs_slice_cstr(withnul, out, sizeof out), -1, "embedded NUL");
	cr_assert_eq(vs_slice_cstr(VS_SLICE_NULL, out, sizeof out), 0);
	cr_assert_str_eq(out, "");
}
