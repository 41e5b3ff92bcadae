/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kio.c, the field visitors every message walker
 * is built from: both directions of each type, classic and compact, null
 * handling (what a NULL slice encodes as, where null is refused), array
 * counts (lying, null, negative, missing elements), the arena refusing an
 * array, defaults applied only when decoding, and tagged-field sections.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "kt_util.h"
#include "protocol/kio.h"

TestSuite(kio, .timeout = 10);

static vs_io reader(vs_rbuf *r, vs_arena *a, int16_t version, bool flex)
{
	return (vs_io){ r, NULL, a, version, flex, 0 };
}

static vs_io writer(vs_wbuf *w, int16_t version, bool flex)
{
	return (vs_io){ NULL, w, NULL, version, flex, 0 };
}

Test(kio, scalars_both_ways)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_io o = writer(&w, 0, false);
	int8_t a = -5;
	int16_t b = -300;
	int32_t c = 123456789;
	int64_t d = -9876543210LL;
	bool e = true, f = false;
	vs_io_i8(&o, &a);
	vs_io_i16(&o, &b);
	vs_io_i32(&o, &c);
	vs_io_i64(&o, &d);
	vs_io_bool(&o, &e);
	vs_io_bool(&o, &f);
	kt_assert_frame_hex(&w, "fb fed4 075bcd15 fffffffdb34fe916 01 00");
	vs_rbuf r;
	vs_rbuf_init(&r, w.buf, w.len);
	vs_io i = reader(&r, NULL, 0, false);
	int8_t a2;
	int16_t b2;
	int32_t c2;
	int64_t d2;
	bool e2, f2;
	vs_io_i8(&i, &a2);
	vs_io_i16(&i, &b2);
	vs_io_i32(&i, &c2);
	vs_io_i64(&i, &d2);
	vs_io_bool(&i, &e2);
	vs_io_bool(&i, &f2);
	cr_assert(a2 == a && b2 == b && c2 == c && d2 == d && e2 && !f2);
	cr_assert_not(vs_io_failed(&i));
	vs_wbuf_free(&w);
}

Test(kio, bool_reads_any_nonzero_as_true)
{
	const uint8_t in[] = { 0x02, 0xff, 0x00 };
	vs_rbuf r;
	vs_rbuf_init(&r, in, sizeof in);
	vs_io i = reader(&r, NULL, 0, false);
	bool v;
	vs_io_bool(&i, &v);
	cr_assert(v);
	vs_io_bool(&i, &v);
	cr_assert(v);
	vs_io_bool(&i, &v);
	cr_assert_not(v);
}

Test(kio, strings_follow_flexibility_and_nullability)
{
	for (int flex = 0; flex <= 1; flex++) {
		vs_wbuf w;
		vs_wbuf_init(&w);
		vs_io o = writer(&w, 0, flex);
		vs_slice s = kt_s("ab"), null = VS_SLICE_NULL;
		vs_io_str(&o, &s);
		vs_io_str(&o, &null); /* a NULL STRING is written as "" */
		vs_io_nstr(&o, &null);
		vs_io_bytes(&o, &null);
		vs_io_nbytes(&o, &null);
		vs_io_records(&o, &null);
		vs_io_records_out(&o, &null); /* never null in a response */
		kt_assert_frame_hex(&w, flex ? "03 6162 01 00 01 00 00 01"
					     : "0002 6162 0000 ffff 00000000 ffffffff ffffffff 00000000");
		vs_rbuf r;
		vs_rbuf_init(&r, w.buf, w.len);
		vs_io i = reader(&r, NULL, 0, flex);
		vs_slice got[7];
		vs_io_str(&i, &got[0]);
		vs_io_str(&i, &got[1]);
		vs_io_nstr(&i, &got[2]);
		vs_io_bytes(&i, &got[3]);
		vs_io_nbytes(&i, &got[4]);
		vs_io_records(&i, &got[5]);
		vs_io_records_out(&i, &got[6]);
		cr_assert_not(vs_io_failed(&i));
		cr_assert(kt_is(got[0], "ab"));
		cr_assert(got[1].ptr && got[1].len == 0);
		cr_assert_null(got[2].ptr);
		cr_assert(got[3].ptr && got[3].len == 0);
		cr_assert_null(got[4].ptr);
		cr_assert_null(got[5].ptr);
		cr_assert(got[6].ptr && got[6].len == 0);
		vs_wbuf_free(&w);
	}
}

Test(kio, null_string_where_not_nullable_fails)
{
	const uint8_t in[] = { 0xff, 0xff };
	vs_rbuf r;
	vs_rbuf_init(&r, in, sizeof in);
	vs_io i = reader(&r, NULL, 0, false);
	vs_slice s;
	vs_io_str(&i, &s);
	cr_assert(vs_io_failed(&i));
}

typedef struct pair {
	int32_t a;
	vs_slice b;
} pair;

typedef struct holder {
	VS_ARRAY(pair) pairs;
	VS_ARRAY(int32_t) ints;
} holder;

static void walk_pair(vs_io *io, pair *p)
{
	vs_io_i32(io, &p->a);
	vs_io_str(io, &p->b);
	vs_io_tags(io);
}

static void walk_holder(vs_io *io, holder *h, bool nullable)
{
	VS_IO_ARRAY(io, h->pairs, 4 + VS_MIN_VAR, nullable, walk_pair);
	VS_IO_ARRAY(io, h->ints, 4, nullable, vs_io_i32);
}

Test(kio, arrays_roundtrip_in_both_encodings)
{
	pair ps[2] = { { 1, kt_s("x") }, { -2, kt_s("") } };
	int32_t is[3] = { 7, 8, 9 };
	for (int flex = 0; flex <= 1; flex++) {
		holder h = { { ps, 2 }, { is, 3 } };
		vs_wbuf w;
		vs_wbuf_init(&w);
		vs_io o = writer(&w, 0, flex);
		walk_holder(&o, &h, false);
		cr_assert_not(vs_io_failed(&o));
		if (flex)
			kt_assert_frame_hex(&w, "03 00000001 0278 00 fffffffe 01 00 04 00000007 00000008 00000009");
		vs_arena a;
		vs_arena_init(&a, 1 << 16);
		vs_rbuf r;
		vs_rbuf_init(&r, w.buf, w.len);
		vs_io i = reader(&r, &a, 0, flex);
		holder got;
		memset(&got, 0, sizeof got);
		walk_holder(&i, &got, false);
		cr_assert_not(vs_io_failed(&i));
		cr_assert_eq(got.pairs.n, 2);
		cr_assert_eq(got.pairs.v[1].a, -2);
		cr_assert(kt_is(got.pairs.v[0].b, "x"));
		cr_assert_eq(got.ints.n, 3);
		cr_assert_eq(got.ints.v[2], 9);
		cr_assert_eq(vs_rbuf_left(&r), 0);
		vs_arena_free(&a);
		vs_wbuf_free(&w);
	}
}

Test(kio, null_arrays)
{
	holder h = { { NULL, -1 }, { NULL, -1 } };
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_io o = writer(&w, 0, false);
	walk_holder(&o, &h, false);
	kt_assert_frame_hex(&w, "00000000 00000000"); /* not nullable: written empty */
	vs_wbuf_reset(&w);
	walk_holder(&o, &h, true);
	kt_assert_frame_hex(&w, "ffffffff ffffffff");
	vs_arena a;
	vs_arena_init(&a, 1 << 16);
	vs_rbuf r;
	vs_rbuf_init(&r, w.buf, w.len);
	vs_io i = reader(&r, &a, 0, false);
	holder got = { { NULL, 0 }, { NULL, 0 } };
	walk_holder(&i, &got, true);
	cr_assert_not(vs_io_failed(&i));
	cr_assert_eq(got.pairs.n, -1);
	cr_assert_eq(got.ints.n, -1);
	vs_rbuf_init(&r, w.buf, w.len);
	i = reader(&r, &a, 0, false);
	walk_holder(&i, &got, false);
	cr_assert(vs_io_failed(&i), "null where the array is not nullable");
	cr_assert_eq(got.pairs.n, 0);
	vs_arena_free(&a);
	vs_wbuf_free(&w);
}

Test(kio, count_without_elements_fails_encoding)
{
	holder h = { { NULL, 3 }, { NULL, 0 } };
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_io o = writer(&w, 0, false);
	walk_holder(&o, &h, false);
	cr_assert(vs_io_failed(&o));
	cr_assert_eq(w.len, 0);
	vs_wbuf_free(&w);
}

Test(kio, lying_count_fails_before_allocating)
{
	/* 100000 pairs claimed, 12 bytes present */
	const uint8_t in[] = { 0x00, 0x01, 0x86, 0xa0, 0, 0, 0, 1, 0, 0, 0, 0 };
	vs_arena a;
	vs_arena_init(&a, 1 << 24);
	vs_rbuf r;
	vs_rbuf_init(&r, in, sizeof in);
	vs_io i = reader(&r, &a, 0, false);
	holder got;
	memset(&got, 0, sizeof got);
	walk_holder(&i, &got, false);
	cr_assert(vs_io_failed(&i));
	cr_assert_eq(a.used, 0, "nothing was allocated");
	cr_assert_eq(got.pairs.n, 0);
	vs_arena_free(&a);
}

Test(kio, arena_refusal_fails_the_walk)
{
	pair ps[4] = { { 1, kt_s("a") }, { 2, kt_s("b") }, { 3, kt_s("c") }, { 4, kt_s("d") } };
	holder h = { { ps, 4 }, { NULL, 0 } };
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_io o = writer(&w, 0, false);
	walk_holder(&o, &h, false);
	vs_arena a;
	vs_arena_init(&a, 16); /* room for less than one pair */
	vs_rbuf r;
	vs_rbuf_init(&r, w.buf, w.len);
	vs_io i = reader(&r, &a, 0, false);
	holder got;
	memset(&got, 0, sizeof got);
	walk_holder(&i, &got, false);
	cr_assert(vs_io_failed(&i));
	cr_assert_eq(i.err, VS_KBUF_LIMIT);
	cr_assert_eq(got.pairs.n, 0, "no elements to look at");
	cr_assert_null(got.pairs.v);
	vs_arena_free(&a);
	vs_wbuf_free(&w);
}

Test(kio, defaults_only_when_decoding)
{
	int32_t x = 5;
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_io o = writer(&w, 0, false);
	VS_IO_DEFAULT(&o, x, -1);
	cr_assert_eq(x, 5, "encoding never writes into the message");
	vs_rbuf r;
	vs_rbuf_init(&r, NULL, 0);
	vs_io i = reader(&r, NULL, 0, false);
	VS_IO_DEFAULT(&i, x, -1);
	cr_assert_eq(x, -1);
	vs_wbuf_free(&w);
}

Test(kio, tags_only_in_flexible_versions)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_io o = writer(&w, 0, false);
	vs_io_tags(&o);
	cr_assert_eq(w.len, 0);
	o.flex = true;
	vs_io_tags(&o);
	kt_assert_frame_hex(&w, "00");
	const uint8_t in[] = { 0x01, 0x09, 0x01, 0xee, 0x42 };
	vs_rbuf r;
	vs_rbuf_init(&r, in, sizeof in);
	vs_io i = reader(&r, NULL, 0, true);
	vs_io_tags(&i);
	cr_assert_not(vs_io_failed(&i));
	cr_assert_eq(vs_rbuf_left(&r), 1, "the unknown tag 9 was skipped");
	vs_wbuf_free(&w);
}
