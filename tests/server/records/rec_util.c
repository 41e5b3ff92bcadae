/* SPDX-License-Identifier: MIT */
/* rec_util.c -- see rec_util.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec_util.h"

uint64_t tr_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

void tr_fill(uint8_t *buf, size_t n, uint64_t *state)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(tr_rand(state) >> 56);
}

uint32_t tr_crc32c_ref(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	return ~c;
}

tr_batch tr_batch_default(int32_t n)
{
	tr_batch b = { 0, TR_AUTO, 0, 2, TR_AUTO, 0, n - 1, 1000, 1000 + n - 1, -1, -1, -1, n };
	return b;
}

void tr_write_batch(vs_wbuf *w, const tr_batch *b, const void *records, size_t records_len)
{
	size_t start = w->len;
	int64_t length = b->length == TR_AUTO ? (int64_t)(49 + records_len) : b->length;
	vs_w_i64(w, b->base_offset);
	vs_w_i32(w, (int32_t)length);
	vs_w_i32(w, b->partition_leader_epoch);
	vs_w_i8(w, b->magic);
	size_t crc_at = vs_w_hole32(w);
	vs_w_i16(w, b->attributes);
	vs_w_i32(w, b->last_offset_delta);
	vs_w_i64(w, b->base_timestamp);
	vs_w_i64(w, b->max_timestamp);
	vs_w_i64(w, b->producer_id);
	vs_w_i16(w, b->producer_epoch);
	vs_w_i32(w, b->base_sequence);
	vs_w_i32(w, b->record_count);
	vs_w_raw(w, records, records_len);
	uint32_t crc = b->crc == TR_AUTO ? tr_crc32c_ref(w->buf + start + 21, w->len - start - 21)
					 : (uint32_t)b->crc;
	vs_w_patch32(w, crc_at, crc);
}

static void blob(vs_wbuf *w, const void *p, size_t n)
{
	if (!p) {
		vs_w_varint(w, -1);
		return;
	}
	vs_w_varint(w, (int32_t)n);
	vs_w_raw(w, p, n);
}

void tr_write_record(vs_wbuf *w, int32_t offset_delta, int64_t ts_delta, const void *key,
		     size_t key_len, const void *value, size_t value_len, const varve_header *hdrs,
		     size_t nhdrs)
{
	vs_wbuf body;
	vs_wbuf_init(&body);
	vs_w_i8(&body, 0);
	vs_w_varlong(&body, ts_delta);
	vs_w_varint(&body, offset_delta);
	blob(&body, key, key_len);
	blob(&body, value, value_len);
	vs_w_varint(&body, (int32_t)nhdrs);
	for (size_t i = 0; i < nhdrs; i++) {
		blob(&body, hdrs[i].key, hdrs[i].key_len);
		blob(&body, hdrs[i].value, hdrs[i].value_len);
	}
	vs_w_varint(w, (int32_t)body.len);
	vs_w_raw(w, body.buf, body.len);
	vs_wbuf_free(&body);
}

void tr_write_simple_records(vs_wbuf *w, int32_t n)
{
	for (int32_t i = 0; i < n; i++) {
		char k[16], v[32];
		int kl = snprintf(k, sizeof k, "k%d", i);
		int vl = snprintf(v, sizeof v, "value-%d", i);
		tr_write_record(w, i, i, k, (size_t)kl, v, (size_t)vl, NULL, 0);
	}
}

uint8_t *tr_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		if (!got)
			break;
		n += got;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* A zigzag varint, bounds-checked; 0 on success. */
static int rd_varint(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	uint64_t u = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -1;
		uint8_t b = *(*p)++;
		u |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
			return 0;
		}
	}
	return -1;
}

static int rd_blob(const uint8_t **p, const uint8_t *end, const uint8_t **ptr, int32_t *len)
{
	int64_t n;
	if (rd_varint(p, end, &n) || n < -1 || n > end - *p)
		return -1;
	*ptr = n < 0 ? NULL : *p;
	*len = (int32_t)n;
	if (n > 0)
		*p += n;
	return 0;
}

int tr_parse_batch(const uint8_t *p, size_t len, tr_rec *recs, int max)
{
	if (len < 61 || vs_be32(p + 8) + 12 != len || p[16] != 2)
		return -1;
	if (vs_be32(p + 17) != tr_crc32c_ref(p + 21, len - 21))
		return -1;
	int32_t count = (int32_t)vs_be32(p + 57);
	const uint8_t *q = p + 61, *end = p + len;
	for (int32_t i = 0; i < count; i++) {
		int64_t rlen, v;
		if (rd_varint(&q, end, &rlen) || rlen < 1 || rlen > end - q)
			return -1;
		const uint8_t *rend = q + rlen;
		tr_rec r;
		q++; /* attributes */
		if (rd_varint(&q, rend, &r.ts_delta) || rd_varint(&q, rend, &v))
			return -1;
		r.offset_delta = (int32_t)v;
		if (rd_blob(&q, rend, &r.key, &r.key_len) || rd_blob(&q, rend, &r.value, &r.value_len) ||
		    rd_varint(&q, rend, &v))
			return -1;
		r.header_count = (int32_t)v;
		for (int32_t h = 0; h < r.header_count; h++) {
			const uint8_t *hp;
			int32_t hl;
			if (rd_blob(&q, rend, &hp, &hl) || rd_blob(&q, rend, &hp, &hl))
				return -1;
		}
		if (q != rend)
			return -1;
		if (i < max)
			recs[i] = r;
	}
	return q == end ? count : -1;
}
