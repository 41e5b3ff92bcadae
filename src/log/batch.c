/* SPDX-License-Identifier: MIT */
/*
 * batch.c -- encode and decode record batches (layout in batch.h and
 * docs/FORMAT.md). Decoding trusts nothing: every length is bounds-checked
 * against the bytes actually present, and LZ4 output is bounded by the size
 * the header declares, which itself is bounded by the caller's maximum.
 */
#include <inttypes.h>
#include <lz4.h>
#include <stdarg.h>
#include <stdio.h>

#include "batch.h"
#include "hash.h"
#include "util.h"

void vv_bb_init(vv_batch_builder *b)
{
	memset(b, 0, sizeof *b);
}

void vv_bb_free(vv_batch_builder *b)
{
	vv_free(b->buf);
	vv_free(b->zbuf);
	memset(b, 0, sizeof *b);
}

void vv_bb_reset(vv_batch_builder *b)
{
	b->len = VV_BATCH_HEADER_SIZE;
	b->count = 0;
	b->last_delta = 0;
	b->first_ts = b->max_ts = 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 4096;
	while (nc < need) {
		if (nc > SIZE_MAX / 2)
			return vv_error_set(VARVE_ENOMEM, 0, "batch buffer too large");
		nc *= 2;
	}
	uint8_t *nb = vv_realloc(*buf, nc);
	if (!nb)
		return vv_error_set(VARVE_ENOMEM, 0, "growing a batch buffer to %zu bytes", nc);
	*buf = nb;
	*cap = nc;
	return 0;
}

static size_t blob_len(const void *p, size_t n)
{
	/* length+1, 0 for null */
	return p ? vv_varint_len((uint64_t)n + 1) + n : 1;
}

static size_t record_body_size(uint32_t offset_delta, int64_t ts_delta, const varve_record *r)
{
	size_t body = vv_varint_len(offset_delta) + vv_varint_len(vv_zigzag(ts_delta)) +
		      blob_len(r->key, r->key_len) + blob_len(r->value, r->value_len) +
		      vv_varint_len(r->header_count);
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		body += vv_varint_len(h->key_len) + h->key_len + blob_len(h->value, h->value_len);
	}
	return body;
}

size_t vv_record_encoded_size(uint32_t offset_delta, int64_t ts_delta, const varve_record *r)
{
	size_t body = record_body_size(offset_delta, ts_delta, r);
	return vv_varint_len(body) + body;
}

static uint8_t *put_blob(uint8_t *p, const void *d, size_t n)
{
	if (!d) {
		*p++ = 0;
		return p;
	}
	p += vv_varint_put(p, (uint64_t)n + 1);
	if (n)
		memcpy(p, d, n);
	return p + n;
}

int vv_bb_add(vv_batch_builder *b, uint32_t offset_delta, int64_t timestamp, const varve_record *r)
{
	if (b->len < VV_BATCH_HEADER_SIZE) {
		VV_TRY(grow(&b->buf, &b->cap, VV_BATCH_HEADER_SIZE));
		vv_bb_reset(b);
	}
	if (r->header_count > VV_MAX_HEADERS_PER_RECORD)
		return vv_error_set(VARVE_EINVAL, 0, "too many headers (%zu)", r->header_count);
	if (b->count == 0)
		b->first_ts = b->max_ts = timestamp;
	int64_t ts_delta = timestamp - b->first_ts;
	size_t body = record_body_size(offset_delta, ts_delta, r);
	VV_TRY(grow(&b->buf, &b->cap, b->len + vv_varint_len(body) + body));
	uint8_t *p = b->buf + b->len;
	p += vv_varint_put(p, body);
	p += vv_varint_put(p, offset_delta);
	p += vv_varint_put(p, vv_zigzag(ts_delta));
	p = put_blob(p, r->key, r->key_len);
	p = put_blob(p, r->value, r->value_len);
	p += vv_varint_put(p, r->header_count);
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		p += vv_varint_put(p, h->key_len);
		if (h->key_len)
			memcpy(p, h->key, h->key_len);
		p += h->key_len;
		p = put_blob(p, h->value, h->value_len);
	}
	b->len = (size_t)(p - b->buf);
	b->count++;
	b->last_delta = offset_delta;
	if (timestamp > b->max_ts)
		b->max_ts = timestamp;
	return 0;
}

static void write_header(uint8_t *p, const vv_batch_header *h)
{
	vv_store32(p + 8, h->magic);
	vv_store32(p + 12, h->length);
	vv_store64(p + 16, (uint64_t)h->base_offset);
	vv_store32(p + 24, h->last_offset_delta);
	vv_store32(p + 28, h->record_count);
	vv_store16(p + 32, h->attributes);
	vv_store16(p + 34, h->producer_epoch);
	vv_store32(p + 36, h->records_size);
	vv_store64(p + 40, (uint64_t)h->first_timestamp);
	vv_store64(p + 48, (uint64_t)h->max_timestamp);
	vv_store64(p + 56, (uint64_t)h->append_time);
	vv_store64(p + 64, (uint64_t)h->producer_id);
	vv_store32(p + 72, (uint32_t)h->base_sequence);
	vv_store32(p + 76, 0);
}

uint64_t vv_batch_checksum(const uint8_t *p, size_t length)
{
	return vv_hash64(p + 8, length - 8);
}

int vv_bb_finish(vv_batch_builder *b, const vv_batch_params *prm, const uint8_t **out, size_t *len)
{
	if (b->count == 0)
		return vv_error_set(VARVE_EINVAL, 0, "empty batch");
	size_t records_size = b->len - VV_BATCH_HEADER_SIZE;
	if (records_size > UINT32_MAX - VV_BATCH_HEADER_SIZE)
		return vv_error_set(VARVE_ETOOBIG, 0, "batch of %zu bytes", records_size);
	vv_batch_header h = {
		.magic = VV_BATCH_MAGIC,
		.base_offset = prm->base_offset,
		.last_offset_delta = b->last_delta,
		.record_count = b->count,
		.attributes = (uint16_t)(prm->codec & VV_ATTR_CODEC_MASK),
		.producer_epoch = prm->producer_epoch,
		.records_size = (uint32_t)records_size,
		.first_timestamp = b->first_ts,
		.max_timestamp = b->max_ts,
		.append_time = prm->append_time,
		.producer_id = prm->producer_id,
		.base_sequence = prm->base_sequence,
	};
	uint8_t *batch = b->buf;
	size_t total = b->len;
	if (prm->codec == VARVE_CODEC_LZ4) {
		int bound = LZ4_compressBound((int)records_size);
		if (bound <= 0)
			return vv_error_set(VARVE_ETOOBIG, 0, "batch too large for LZ4");
		VV_TRY(grow(&b->zbuf, &b->zcap, VV_BATCH_HEADER_SIZE + (size_t)bound));
		int z = LZ4_compress_default((const char *)b->buf + VV_BATCH_HEADER_SIZE,
					     (char *)b->zbuf + VV_BATCH_HEADER_SIZE,
					     (int)records_size, bound);
		if (z <= 0)
			return vv_error_set(VARVE_ERROR, 0, "LZ4 compression failed");
		batch = b->zbuf;
		total = VV_BATCH_HEADER_SIZE + (size_t)z;
	}
	h.length = (uint32_t)total;
	write_header(batch, &h);
	vv_store64(batch, vv_batch_checksum(batch, total));
	*out = batch;
	*len = total;
	return 0;
}

void vv_batch_set_base_offset(uint8_t *p, int64_t base_offset)
{
	vv_store64(p + 16, (uint64_t)base_offset);
	vv_store64(p, vv_batch_checksum(p, vv_load32(p + 12)));
}

/* A failed header check: its reason into *why when asked. The scan for
 * the next valid batch asks for none, so it formats nothing. */
static int header_fault(vv_batch_why *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int header_fault(vv_batch_why *why, const char *fmt, ...)
{
	if (why) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why->text, sizeof why->text, fmt, ap);
		va_end(ap);
	}
	return VARVE_ECORRUPT;
}

static inline int parse_header(const uint8_t *p, size_t avail, uint32_t max_len,
			       vv_batch_header *h, vv_batch_why *why)
{
	if (avail < VV_BATCH_HEADER_SIZE)
		return VARVE_EEND;
	h->checksum = vv_load64(p);
	h->magic = vv_load32(p + 8);
	h->length = vv_load32(p + 12);
	h->base_offset = (int64_t)vv_load64(p + 16);
	h->last_offset_delta = vv_load32(p + 24);
	h->record_count = vv_load32(p + 28);
	h->attributes = vv_load16(p + 32);
	h->producer_epoch = vv_load16(p + 34);
	h->records_size = vv_load32(p + 36);
	h->first_timestamp = (int64_t)vv_load64(p + 40);
	h->max_timestamp = (int64_t)vv_load64(p + 48);
	h->append_time = (int64_t)vv_load64(p + 56);
	h->producer_id = (int64_t)vv_load64(p + 64);
	h->base_sequence = (int32_t)vv_load32(p + 72);
	uint32_t reserved = vv_load32(p + 76);
	if (h->magic != VV_BATCH_MAGIC)
		return header_fault(why, "bad batch magic 0x%08" PRIx32, h->magic);
	if (reserved != 0)
		return header_fault(why, "reserved header field is 0x%08" PRIx32 ", not 0", reserved);
	if (h->length < VV_BATCH_HEADER_SIZE)
		return header_fault(why, "batch length %" PRIu32 " is shorter than a header",
				    h->length);
	if (h->length > max_len)
		return header_fault(why, "batch length %" PRIu32 " is over the %" PRIu32 " byte limit",
				    h->length, max_len);
	unsigned codec = h->attributes & VV_ATTR_CODEC_MASK;
	if ((h->attributes & ~VV_ATTR_CODEC_MASK) || codec > VARVE_CODEC_LZ4)
		return header_fault(why, "unknown batch attributes 0x%04x", h->attributes);
	if (h->base_offset < 0)
		return header_fault(why, "negative base offset %" PRId64, h->base_offset);
	if (h->record_count == 0)
		return header_fault(why, "batch holds 0 records");
	if (h->last_offset_delta < h->record_count - 1)
		return header_fault(why,
				    "last offset delta %" PRIu32 " is below record count %" PRIu32
				    " - 1", h->last_offset_delta, h->record_count);
	if (h->base_offset > INT64_MAX - (int64_t)h->last_offset_delta)
		return header_fault(why, "last offset overflows");
	if (h->max_timestamp < h->first_timestamp)
		return header_fault(why,
				    "max timestamp %" PRId64 " is below first timestamp %" PRId64,
				    h->max_timestamp, h->first_timestamp);
	if (codec == VARVE_CODEC_NONE && h->records_size != h->length - VV_BATCH_HEADER_SIZE)
		return header_fault(why,
				    "records size %" PRIu32 " does not match batch length %" PRIu32,
				    h->records_size, h->length);
	if (h->records_size > max_len)
		return header_fault(why, "records size %" PRIu32 " is over the %" PRIu32 " byte limit",
				    h->records_size, max_len);
	/* smallest record is 6 bytes (len, delta, ts, null key, null value, 0 headers) */
	if ((uint64_t)h->record_count * 6 > h->records_size)
		return header_fault(why, "%" PRIu32 " records cannot fit in %" PRIu32 " bytes",
				    h->record_count, h->records_size);
	return 0;
}

int vv_batch_parse_header(const uint8_t *p, size_t avail, uint32_t max_len, vv_batch_header *h)
{
	return parse_header(p, avail, max_len, h, NULL);
}

int vv_batch_parse_header_why(const uint8_t *p, size_t avail, uint32_t max_len,
			      vv_batch_header *h, vv_batch_why *why)
{
	return parse_header(p, avail, max_len, h, why);
}

int vv_batch_checksum_ok(const uint8_t *p, const vv_batch_header *h)
{
	return vv_batch_checksum(p, h->length) == h->checksum ? 0 : -1;
}

/* A failed record check: which one, for tools (vv_record_reader.fault). */
#define FAULT(rr, text) ((rr)->fault = (text), VARVE_ECORRUPT)

int vv_record_reader_init(vv_record_reader *rr, const uint8_t *batch, const vv_batch_header *h,
			  uint8_t **scratch, size_t *scratch_cap, uint32_t max)
{
	rr->h = *h;
	rr->remaining = h->record_count;
	rr->prev_delta = -1;
	rr->fault = NULL;
	const uint8_t *body = batch + VV_BATCH_HEADER_SIZE;
	size_t body_len = h->length - VV_BATCH_HEADER_SIZE;
	if ((h->attributes & VV_ATTR_CODEC_MASK) == VARVE_CODEC_LZ4) {
		/* LZ4 expands at most 255:1: a larger claim is a lie, refused
		 * before anything is allocated */
		if (h->records_size > max || h->records_size > (uint32_t)INT32_MAX ||
		    body_len > (size_t)INT32_MAX || (uint64_t)h->records_size > (uint64_t)body_len * 255 + 64)
			return FAULT(rr, "records size is impossible for the LZ4 block");
		VV_TRY(grow(scratch, scratch_cap, h->records_size ? h->records_size : 1));
		/* The bounded ("safe") decoder only: output can never pass records_size. */
		int n = LZ4_decompress_safe((const char *)body, (char *)*scratch, (int)body_len,
					    (int)h->records_size);
		if (n < 0 || (uint32_t)n != h->records_size)
			return FAULT(rr, "the LZ4 block does not decompress to records size bytes");
		rr->p = *scratch;
		rr->end = *scratch + h->records_size;
	} else {
		rr->p = body;
		rr->end = body + body_len;
	}
	return 0;
}

static int get_blob(const uint8_t **p, const uint8_t *end, const void **d, size_t *n)
{
	uint64_t l;
	if (vv_varint_get(p, end, &l))
		return -1;
	if (l == 0) {
		*d = NULL;
		*n = 0;
		return 0;
	}
	l -= 1;
	if (l > (uint64_t)(end - *p))
		return -1;
	*d = *p;
	*n = (size_t)l;
	*p += l;
	return 0;
}

int vv_record_next(vv_record_reader *rr, varve_record *out, varve_header **hdrs, size_t *hcap)
{
	if (rr->remaining == 0)
		return rr->p == rr->end ? VARVE_EEND
					: FAULT(rr, "bytes left after the batch's last record");
	const uint8_t *p = rr->p;
	uint64_t body, delta, tsz, hc;
	if (vv_varint_get(&p, rr->end, &body) || body > (uint64_t)(rr->end - p))
		return FAULT(rr, "record length runs past the batch");
	const uint8_t *end = p + body;
	if (vv_varint_get(&p, end, &delta) || vv_varint_get(&p, end, &tsz))
		return FAULT(rr, "offset or timestamp delta runs past the record");
	if ((int64_t)delta <= rr->prev_delta || delta > rr->h.last_offset_delta)
		return FAULT(rr, "offset delta out of order or past the batch's last");
	if (rr->remaining == 1 && delta != rr->h.last_offset_delta)
		return FAULT(rr, "last record's offset delta is not the batch's last");
	int64_t tsd = vv_unzigzag(tsz);
	int64_t ts;
	/* timestamps may go down inside a batch (first_timestamp is the first
	 * record's), never above the batch's max */
	if (__builtin_add_overflow(rr->h.first_timestamp, tsd, &ts) || ts > rr->h.max_timestamp ||
	    ts < 0)
		return FAULT(rr, "timestamp negative or past the batch's max timestamp");
	if (get_blob(&p, end, &out->key, &out->key_len) ||
	    get_blob(&p, end, &out->value, &out->value_len) || vv_varint_get(&p, end, &hc))
		return FAULT(rr, "key, value or header count runs past the record");
	if (hc > VV_MAX_HEADERS_PER_RECORD || hc * 2 > (uint64_t)(end - p))
		return FAULT(rr, "header count too large for the record");
	if (hc > *hcap) {
		size_t nc = *hcap ? *hcap : 8;
		while (nc < hc)
			nc *= 2;
		varve_header *nh = vv_realloc(*hdrs, nc * sizeof *nh);
		if (!nh)
			return vv_error_set(VARVE_ENOMEM, 0, "header array");
		*hdrs = nh;
		*hcap = nc;
	}
	for (uint64_t i = 0; i < hc; i++) {
		varve_header *h = &(*hdrs)[i];
		uint64_t kl;
		if (vv_varint_get(&p, end, &kl) || kl > (uint64_t)(end - p))
			return FAULT(rr, "header key runs past the record");
		h->key = (const char *)p;
		h->key_len = (size_t)kl;
		p += kl;
		if (get_blob(&p, end, &h->value, &h->value_len))
			return FAULT(rr, "header value runs past the record");
	}
	if (p != end)
		return FAULT(rr, "bytes left after the record's headers");
	out->headers = hc ? *hdrs : NULL;
	out->header_count = (size_t)hc;
	out->timestamp = ts;
	out->offset = rr->h.base_offset + (int64_t)delta;
	rr->prev_delta = (int64_t)delta;
	rr->p = end;
	rr->remaining--;
	return 0;
}

int vv_record_skip_before(vv_record_reader *rr, int64_t offset)
{
	/* Only the length and offset delta of each skipped record are read: a
	 * random read lands in the middle of a big batch, and decoding every
	 * record before it (keys, values, headers) was most of its cost. The
	 * skipped records are never returned, and the batch's checksum matched. */
	while (rr->remaining > 0) {
		const uint8_t *p = rr->p;
		uint64_t body, delta;
		if (vv_varint_get(&p, rr->end, &body) || body > (uint64_t)(rr->end - p))
			return FAULT(rr, "record length runs past the batch");
		const uint8_t *end = p + body;
		if (vv_varint_get(&p, end, &delta))
			return FAULT(rr, "offset delta runs past the record");
		if ((int64_t)delta <= rr->prev_delta || delta > rr->h.last_offset_delta ||
		    (rr->remaining == 1 && delta != rr->h.last_offset_delta))
			return FAULT(rr, "offset delta out of order or past the batch's last");
		if (rr->h.base_offset + (int64_t)delta >= offset)
			return 0;
		rr->prev_delta = (int64_t)delta;
		rr->p = end;
		rr->remaining--;
	}
	return 0;
}

int vv_batch_validate_records(const uint8_t *batch, const vv_batch_header *h,
			      uint8_t **scratch, size_t *scratch_cap, uint32_t max)
{
	vv_record_reader rr;
	int rc = vv_record_reader_init(&rr, batch, h, scratch, scratch_cap, max);
	if (rc)
		return rc;
	varve_record r;
	varve_header *hdrs = NULL;
	size_t hcap = 0;
	while ((rc = vv_record_next(&rr, &r, &hdrs, &hcap)) == 0)
		;
	vv_free(hdrs);
	return rc == VARVE_EEND ? 0 : rc;
}
