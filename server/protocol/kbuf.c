/* SPDX-License-Identifier: MIT */
/*
 * kbuf.c -- Kafka primitive types: the bounds-checked reader and the
 * growable writer (see kbuf.h). Nothing here allocates on the read side.
 */
#include <stdlib.h>
#include <string.h>

#include "kbuf.h"

int vs_slice_eq(vs_slice s, const char *z)
{
	size_t n = strlen(z);
	return s.ptr && s.len == n && memcmp(s.ptr, z, n) == 0;
}

int vs_slice_cstr(vs_slice s, char *out, size_t cap)
{
	if (cap == 0)
		return -1;
	out[0] = 0;
	if (s.len >= cap || (s.len && memchr(s.ptr, 0, s.len)))
		return -1;
	if (s.len)
		memcpy(out, s.ptr, s.len);
	out[s.len] = 0;
	return 0;
}

/* ---- reader ------------------------------------------------------------- */

static const uint8_t *take(vs_rbuf *r, size_t n)
{
	if (r->err)
		return NULL;
	if ((size_t)(r->end - r->p) < n) {
		r->err = VS_KBUF_SHORT;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

int8_t vs_r_i8(vs_rbuf *r)
{
	const uint8_t *p = take(r, 1);
	return p ? (int8_t)p[0] : 0;
}

int16_t vs_r_i16(vs_rbuf *r)
{
	const uint8_t *p = take(r, 2);
	return p ? (int16_t)vs_be16(p) : 0;
}

int32_t vs_r_i32(vs_rbuf *r)
{
	const uint8_t *p = take(r, 4);
	return p ? (int32_t)vs_be32(p) : 0;
}

int64_t vs_r_i64(vs_rbuf *r)
{
	const uint8_t *p = take(r, 8);
	return p ? (int64_t)vs_be64(p) : 0;
}

uint32_t vs_r_u32(vs_rbuf *r)
{
	const uint8_t *p = take(r, 4);
	return p ? vs_be32(p) : 0;
}

/* LEB128 of at most maxbytes bytes; the last byte may use only the bits
 * that fit (an overlong or overflowing encoding is malformed). */
static uint64_t read_leb(vs_rbuf *r, unsigned maxbytes, unsigned bits)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < maxbytes; i++) {
		const uint8_t *p = take(r, 1);
		if (!p)
			return 0;
		unsigned shift = 7 * i;
		uint64_t part = (uint64_t)(*p & 0x7f);
		if (shift + 7 > bits && (part >> (bits - shift)) != 0) {
			r->err = VS_KBUF_MALFORMED;
			return 0;
		}
		v |= part << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->err = VS_KBUF_MALFORMED;
	return 0;
}

int32_t vs_r_varint(vs_rbuf *r)
{
	uint32_t u = (uint32_t)read_leb(r, 5, 32);
	return (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
}

int64_t vs_r_varlong(vs_rbuf *r)
{
	uint64_t u = read_leb(r, 10, 64);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

uint32_t vs_r_uvarint(vs_rbuf *r) { return (uint32_t)read_leb(r, 5, 32); }

void vs_r_uuid(vs_rbuf *r, uint8_t out[16])
{
	const uint8_t *p = take(r, 16);
	if (p)
		memcpy(out, p, 16);
	else
		memset(out, 0, 16);
}

vs_slice vs_r_raw(vs_rbuf *r, size_t n)
{
	const uint8_t *p = take(r, n);
	return p ? (vs_slice){ p, n } : VS_SLICE_NULL;
}

/* Length of a string/bytes field: -1 for null. */
static int64_t read_len(vs_rbuf *r, int compact, int wide)
{
	int64_t n;
	if (compact)
		n = (int64_t)vs_r_uvarint(r) - 1;
	else
		n = wide ? vs_r_i32(r) : vs_r_i16(r);
	if (r->err)
		return -1;
	if (n < -1) {
		r->err = VS_KBUF_MALFORMED;
		return -1;
	}
	return n;
}

static vs_slice read_field(vs_rbuf *r, int compact, int wide, int nullable, int *is_null)
{
	if (is_null)
		*is_null = 0;
	int64_t n = read_len(r, compact, wide);
	if (r->err)
		return VS_SLICE_NULL;
	if (n == -1) {
		if (!nullable)
			r->err = VS_KBUF_MALFORMED;
		else if (is_null)
			*is_null = 1;
		return VS_SLICE_NULL;
	}
	const uint8_t *p = take(r, (size_t)n);
	if (!p)
		return VS_SLICE_NULL;
	/* "" is a non-null empty slice: point at the field, not at NULL */
	return (vs_slice){ p, (size_t)n };
}

vs_slice vs_r_string(vs_rbuf *r, int compact) { return read_field(r, compact, 0, 0, NULL); }

vs_slice vs_r_nstring(vs_rbuf *r, int compact, int *is_null)
{
	return read_field(r, compact, 0, 1, is_null);
}

vs_slice vs_r_bytes(vs_rbuf *r, int compact) { return read_field(r, compact, 1, 0, NULL); }

vs_slice vs_r_nbytes(vs_rbuf *r, int compact, int *is_null)
{
	return read_field(r, compact, 1, 1, is_null);
}

int32_t vs_r_array(vs_rbuf *r, int compact, size_t min_elem_size)
{
	int64_t n = compact ? (int64_t)vs_r_uvarint(r) - 1 : vs_r_i32(r);
	if (r->err)
		return 0;
	if (n < -1 || n > INT32_MAX) {
		r->err = VS_KBUF_MALFORMED;
		return 0;
	}
	if (n > 0 && min_elem_size && (uint64_t)n > (uint64_t)(r->end - r->p) / min_elem_size) {
		r->err = VS_KBUF_MALFORMED;
		return 0;
	}
	return (int32_t)n;
}

void vs_r_skip_tags(vs_rbuf *r)
{
	uint32_t n = vs_r_uvarint(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		(void)vs_r_uvarint(r); /* tag */
		uint32_t size = vs_r_uvarint(r);
		(void)take(r, size);
	}
}

/* ---- writer ------------------------------------------------------------- */

void vs_wbuf_init(vs_wbuf *w) { memset(w, 0, sizeof *w); }

void vs_wbuf_free(vs_wbuf *w)
{
	free(w->buf);
	memset(w, 0, sizeof *w);
}

void vs_wbuf_reset(vs_wbuf *w)
{
	w->len = 0;
	w->err = 0;
}

uint8_t *vs_w_reserve(vs_wbuf *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > SIZE_MAX - w->len) {
		w->err = VS_KBUF_NOMEM;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t nc = w->cap ? w->cap : 256;
		while (nc < w->len + n) {
			if (nc > SIZE_MAX / 2) {
				w->err = VS_KBUF_NOMEM;
				return NULL;
			}
			nc *= 2;
		}
		uint8_t *nb = realloc(w->buf, nc);
		if (!nb) {
			w->err = VS_KBUF_NOMEM;
			return NULL;
		}
		w->buf = nb;
		w->cap = nc;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

uint8_t *vs_wbuf_take(vs_wbuf *w, size_t *len)
{
	uint8_t *b = w->buf;
	*len = w->len;
	memset(w, 0, sizeof *w);
	return b;
}

void vs_w_i8(vs_wbuf *w, int8_t v)
{
	uint8_t *p = vs_w_reserve(w, 1);
	if (p)
		p[0] = (uint8_t)v;
}

void vs_w_i16(vs_wbuf *w, int16_t v)
{
	uint8_t *p = vs_w_reserve(w, 2);
	if (p)
		vs_put_be16(p, (uint16_t)v);
}

void vs_w_i32(vs_wbuf *w, int32_t v)
{
	uint8_t *p = vs_w_reserve(w, 4);
	if (p)
		vs_put_be32(p, (uint32_t)v);
}

void vs_w_i64(vs_wbuf *w, int64_t v)
{
	uint8_t *p = vs_w_reserve(w, 8);
	if (p)
		vs_put_be64(p, (uint64_t)v);
}

void vs_w_u32(vs_wbuf *w, uint32_t v)
{
	uint8_t *p = vs_w_reserve(w, 4);
	if (p)
		vs_put_be32(p, v);
}

static void write_leb(vs_wbuf *w, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	vs_w_raw(w, tmp, n);
}

void vs_w_varint(vs_wbuf *w, int32_t v)
{
	write_leb(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void vs_w_varlong(vs_wbuf *w, int64_t v)
{
	write_leb(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void vs_w_uvarint(vs_wbuf *w, uint32_t v) { write_leb(w, v); }

void vs_w_uuid(vs_wbuf *w, const uint8_t v[16]) { vs_w_raw(w, v, 16); }

void vs_w_raw(vs_wbuf *w, const void *p, size_t n)
{
	uint8_t *q = vs_w_reserve(w, n);
	if (q && n)
		memcpy(q, p, n);
}

static void write_len(vs_wbuf *w, int compact, int wide, int64_t n)
{
	if (compact) {
		if (n + 1 > (int64_t)UINT32_MAX)
			w->err = VS_KBUF_LIMIT;
		else
			vs_w_uvarint(w, (uint32_t)(n + 1));
	} else if (wide) {
		if (n > INT32_MAX)
			w->err = VS_KBUF_LIMIT;
		else
			vs_w_i32(w, (int32_t)n);
	} else {
		if (n > INT16_MAX)
			w->err = VS_KBUF_LIMIT;
		else
			vs_w_i16(w, (int16_t)n);
	}
}

void vs_w_string(vs_wbuf *w, int compact, const void *p, size_t n)
{
	write_len(w, compact, 0, (int64_t)n);
	vs_w_raw(w, p, n);
}

void vs_w_nstring(vs_wbuf *w, int compact, const void *p, size_t n)
{
	if (!p) {
		write_len(w, compact, 0, -1);
		return;
	}
	vs_w_string(w, compact, p, n);
}

void vs_w_cstr(vs_wbuf *w, int compact, const char *z)
{
	vs_w_nstring(w, compact, z, z ? strlen(z) : 0);
}

void vs_w_bytes(vs_wbuf *w, int compact, const void *p, size_t n)
{
	write_len(w, compact, 1, (int64_t)n);
	vs_w_raw(w, p, n);
}

void vs_w_nbytes(vs_wbuf *w, int compact, const void *p, size_t n)
{
	if (!p) {
		write_len(w, compact, 1, -1);
		return;
	}
	vs_w_bytes(w, compact, p, n);
}

void vs_w_array(vs_wbuf *w, int compact, int32_t n)
{
	if (compact)
		vs_w_uvarint(w, (uint32_t)n + 1u); /* -1 (null) wraps to 0 */
	else
		vs_w_i32(w, n);
}

void vs_w_empty_tags(vs_wbuf *w) { vs_w_uvarint(w, 0); }

size_t vs_w_hole32(vs_wbuf *w)
{
	size_t at = w->len;
	(void)vs_w_reserve(w, 4);
	return at;
}

void vs_w_patch32(vs_wbuf *w, size_t at, uint32_t v)
{
	if (!w->err && at + 4 <= w->len)
		vs_put_be32(w->buf + at, v);
}
