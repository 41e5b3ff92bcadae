/* SPDX-License-Identifier: MIT */
/* kt_util.c -- see kt_util.h. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_util.h"

#ifndef KT_VECTORS
#error "KT_VECTORS (the vectors folder) must be defined by the build"
#endif

uint8_t *kt_load(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.bin", KT_VECTORS, name);
	FILE *f = fopen(path, "rb");
	cr_assert(f, "cannot open vector %s", path);
	size_t cap = 1 << 16;
	uint8_t *buf = malloc(cap);
	cr_assert(buf);
	*len = fread(buf, 1, cap, f);
	cr_assert(*len < cap, "vector %s too large", path);
	fclose(f);
	return buf;
}

void kt_req_load(kt_req *k, const char *name, int16_t key, int16_t version)
{
	memset(k, 0, sizeof *k);
	k->frame = kt_load(name, &k->len);
	vs_rbuf body;
	int rc = vs_request_header_parse(k->frame, k->len, &k->h, &body);
	cr_assert_eq(rc, KE_NONE, "%s: header parse: %d", name, rc);
	cr_assert_eq(k->h.api_key, key, "%s: api key %d", name, k->h.api_key);
	cr_assert_eq(k->h.api_version, version, "%s: version %d", name, k->h.api_version);
	vs_arena_init(&k->arena, 1 << 24);
	rc = vs_request_decode(key, version, &body, &k->arena, &k->req);
	cr_assert_eq(rc, KE_NONE, "%s: decode: %d (reader err %d at byte %td)", name, rc, body.err,
		     body.p - k->frame);
	k->trailing = vs_rbuf_left(&body);
}

void kt_req_free(kt_req *k)
{
	vs_arena_free(&k->arena);
	free(k->frame);
	memset(k, 0, sizeof *k);
}

void kt_req_assert_reencodes(const kt_req *k)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_request_encode(&w, &k->h, &k->req), KE_NONE);
	cr_assert_geq(w.len, 4);
	cr_assert_eq(vs_be32(w.buf), w.len - 4, "size prefix");
	kt_assert_bytes(w.buf + 4, w.len - 4, k->frame, k->len - k->trailing);
	vs_wbuf_free(&w);
}

int kt_is(vs_slice s, const char *z) { return vs_slice_eq(s, z); }

vs_slice kt_s(const char *z) { return (vs_slice){ (const uint8_t *)z, strlen(z) }; }

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t kt_hex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (const char *p = hex; *p; p++) {
		if (isspace((unsigned char)*p) || *p == '|')
			continue;
		int v = hexval(*p);
		cr_assert_geq(v, 0, "bad hex digit '%c'", *p);
		if (hi < 0) {
			hi = v;
			continue;
		}
		cr_assert_lt(n, cap, "hex image too long");
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	cr_assert_eq(hi, -1, "odd number of hex digits");
	return n;
}

void kt_assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	size_t n = got_len < want_len ? got_len : want_len;
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: got %02x, want %02x", i, got[i], want[i]);
	cr_assert_eq(got_len, want_len, "length: got %zu, want %zu", got_len, want_len);
}

void kt_assert_frame_hex(const vs_wbuf *w, const char *hex)
{
	static uint8_t want[1 << 16];
	size_t n = kt_hex(hex, want, sizeof want);
	cr_assert_eq(w->err, 0, "writer error %d", w->err);
	kt_assert_bytes(w->buf, w->len, want, n);
}

const vs_wbuf *kt_response_roundtrip(int16_t key, int16_t version, const vs_response *resp,
				     vs_arena *a, vs_response *out)
{
	static vs_wbuf frame;
	vs_wbuf *w = &frame;
	vs_wbuf_free(w);
	int rc = vs_response_encode(w, key, version, 0x01020304, resp);
	cr_assert_eq(rc, KE_NONE, "encode key %d v%d: %d", key, version, rc);
	cr_assert_eq(vs_be32(w->buf), w->len - 4, "size prefix");
	vs_rbuf r;
	vs_rbuf_init(&r, w->buf + 4, w->len - 4);
	int32_t corr = 0;
	cr_assert_eq(vs_response_header_parse(&r, key, version, &corr), KE_NONE);
	cr_assert_eq(corr, 0x01020304);
	rc = vs_response_decode(key, version, &r, a, out);
	cr_assert_eq(rc, KE_NONE, "decode key %d v%d: %d (reader err %d)", key, version, rc, r.err);
	cr_assert_eq(vs_rbuf_left(&r), 0, "decode key %d v%d left bytes", key, version);
	vs_wbuf again;
	vs_wbuf_init(&again);
	cr_assert_eq(vs_response_encode(&again, key, version, 0x01020304, out), KE_NONE);
	kt_assert_bytes(again.buf, again.len, w->buf, w->len);
	vs_wbuf_free(&again);
	return w;
}

const vs_wbuf *kt_request_roundtrip(int16_t key, int16_t version, const vs_request *req, vs_arena *a,
				    vs_request *out)
{
	static vs_wbuf frame;
	vs_wbuf *w = &frame;
	vs_request_header h = { key, version, 77, kt_s("kt-client"), 0 };
	vs_wbuf_free(w);
	int rc = vs_request_encode(w, &h, req);
	cr_assert_eq(rc, KE_NONE, "encode key %d v%d: %d", key, version, rc);
	cr_assert_eq(vs_be32(w->buf), w->len - 4, "size prefix");
	vs_request_header got;
	vs_rbuf body;
	cr_assert_eq(vs_request_header_parse(w->buf + 4, w->len - 4, &got, &body), KE_NONE);
	cr_assert_eq(got.correlation_id, 77);
	cr_assert(kt_is(got.client_id, "kt-client"));
	rc = vs_request_decode(key, version, &body, a, out);
	cr_assert_eq(rc, KE_NONE, "decode key %d v%d: %d (reader err %d)", key, version, rc, body.err);
	cr_assert_eq(vs_rbuf_left(&body), 0);
	vs_wbuf again;
	vs_wbuf_init(&again);
	cr_assert_eq(vs_request_encode(&again, &got, out), KE_NONE);
	kt_assert_bytes(again.buf, again.len, w->buf, w->len);
	vs_wbuf_free(&again);
	return w;
}
