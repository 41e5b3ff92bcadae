/* SPDX-License-Identifier: MIT */
/*
 * record_next.h -- the inline fast path of vv_record_next, for the loops
 * that read record after record (vv_reader_next and what inlines it).
 *
 * vv_record_try_next decodes the records almost every batch is made of:
 * every varint of one or two bytes, and headers that fit the array the
 * caller already has. It makes every check vv_record_next makes (a batch
 * whose checksum matches may still be hostile) and on success leaves the
 * record reader and *out exactly as vv_record_next would. Anything else it
 * hands back untouched, to vv_record_next: the end of the batch, longer
 * varints, a header array that must grow, and every record that fails a
 * check, whose fault vv_record_next then names. So what a reader returns
 * or refuses does not depend on which of the two decoded a record.
 *
 * Invariant: on "not decoded here" (1) the record reader is unchanged;
 * *out and the caller's header array may have been written.
 * May call: nothing. Being a leaf keeps the caller free of registers saved
 * across a call, which is most of what inlining it buys.
 */
#ifndef VV_RECORD_NEXT_H
#define VV_RECORD_NEXT_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "util.h"

/* A varint of one or two bytes in [*p, end): 0, or -1 for a longer one or
 * one running past end (vv_record_next then decides which it is). Two
 * bytes cover offset deltas below 16384, timestamp deltas within about 8 s
 * either way, and keys and values under 16 KiB. */
static inline int vv_varint_get_short(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
	const uint8_t *q = *p;
	if (__builtin_expect(q < end && q[0] < 0x80, 1)) {
		*out = q[0];
		*p = q + 1;
		return 0;
	}
	if (end - q >= 2 && q[1] < 0x80) {
		*out = (uint32_t)(q[0] & 0x7f) | (uint32_t)q[1] << 7;
		*p = q + 2;
		return 0;
	}
	return -1;
}

/* A key or value: a varint of length + 1 (0 = null), then the bytes. */
static inline int vv_blob_get_short(const uint8_t **p, const uint8_t *end, const void **d,
				    size_t *n)
{
	uint32_t l;
	if (vv_varint_get_short(p, end, &l))
		return -1;
	/* one comparison on the common path: a null blob's length wraps to
	 * SIZE_MAX and is sorted out on the rare one */
	size_t len = (size_t)l - 1;
	if (__builtin_expect(len > (size_t)(end - *p), 0)) {
		if (l != 0)
			return -1;
		*d = NULL;
		*n = 0;
		return 0;
	}
	*d = *p;
	*n = len;
	*p += len;
	return 0;
}

/* The headers of a record, hc of them, into hdrs. 0, or -1 when one runs
 * past end. */
static inline int vv_headers_get_short(const uint8_t **p, const uint8_t *end, varve_header *hdrs,
				       uint32_t hc)
{
	for (uint32_t i = 0; i < hc; i++) {
		uint32_t kl;
		if (vv_varint_get_short(p, end, &kl) || kl > (size_t)(end - *p))
			return -1;
		hdrs[i].key = (const char *)*p;
		hdrs[i].key_len = kl;
		*p += kl;
		if (vv_blob_get_short(p, end, &hdrs[i].value, &hdrs[i].value_len))
			return -1;
	}
	return 0;
}

/* Decode the next record into *out (headers into *hdrs, *hcap of them):
 * 0, or 1 with rr unchanged, for vv_record_next to decode or refuse. The
 * header array is passed by address as to vv_record_next: loaded only for
 * a record with headers, it holds no registers on the common path. */
static inline int vv_record_try_next(vv_record_reader *rr, varve_record *out,
				     varve_header *const *hdrs, const size_t *hcap)
{
	const uint8_t *p = rr->p;
	uint32_t body, delta, tsz, hc;
	if (rr->remaining == 0 || vv_varint_get_short(&p, rr->end, &body) ||
	    body > (size_t)(rr->end - p))
		return 1;
	const uint8_t *end = p + body;
	if (vv_varint_get_short(&p, end, &delta) || vv_varint_get_short(&p, end, &tsz))
		return 1;
	if ((int64_t)delta <= rr->prev_delta || delta > rr->h.last_offset_delta ||
	    (rr->remaining == 1 && delta != rr->h.last_offset_delta))
		return 1;
	int64_t ts;
	if (__builtin_add_overflow(rr->h.first_timestamp, vv_unzigzag(tsz), &ts) ||
	    ts > rr->h.max_timestamp || ts < 0)
		return 1;
	/* stored now, not kept in registers through the header loop */
	out->timestamp = ts;
	out->offset = rr->h.base_offset + (int64_t)delta;
	if (vv_blob_get_short(&p, end, &out->key, &out->key_len) ||
	    vv_blob_get_short(&p, end, &out->value, &out->value_len) ||
	    vv_varint_get_short(&p, end, &hc))
		return 1;
	out->headers = NULL;
	if (__builtin_expect(hc != 0, 0)) {
		/* the same limits as vv_record_next, then the caller's room */
		if (hc > VV_MAX_HEADERS_PER_RECORD || (size_t)hc * 2 > (size_t)(end - p) ||
		    hc > *hcap || vv_headers_get_short(&p, end, *hdrs, hc))
			return 1;
		out->headers = *hdrs;
	}
	if (p != end)
		return 1;
	out->header_count = hc;
	rr->prev_delta = (int64_t)delta;
	rr->p = end;
	rr->remaining--;
	return 0;
}

#endif
