/* SPDX-License-Identifier: MIT */
/*
 * encode.c -- varve records -> one Kafka record batch (magic 2) for a Fetch
 * response, or for tests and benchmarks in any codec (see records.h).
 * Calls kbuf's writer, crc32c.c and codec.c.
 *
 * The 61-byte header is reserved first and filled in at the end, once the
 * records (compressed or not) are written and the batch length is known;
 * the CRC-32C over attributes..end comes last. Each record's length prefix
 * needs its body size up front, so the size is computed before the record
 * is written.
 */
#include <string.h>

#include "records/crc32c.h"
#include "records/records.h"

#define CRC_START 21

void vs_records_encoder_init(vs_records_encoder *e)
{
	vs_codec_init(&e->codec);
	vs_wbuf_init(&e->plain);
}

void vs_records_encoder_free(vs_records_encoder *e)
{
	vs_codec_free(&e->codec);
	vs_wbuf_free(&e->plain);
}

static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static inline size_t uvarint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Size of a key/value/header value: zigzag varint length (-1 = null) + bytes. */
static inline size_t blob_size(const void *ptr, size_t len)
{
	return ptr ? uvarint_size(zigzag((int64_t)len)) + len : 1;
}

/* Unchecked stores for write_record, which reserves a record's exact size
 * once (a Fetch encodes millions of records; a bounds-and-growth check per
 * field was a tenth of the broker's time). Each returns the next byte. */
static inline uint8_t *put_uvarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *put_varlong(uint8_t *p, int64_t v) { return put_uvarint(p, zigzag(v)); }

static inline uint8_t *put_blob(uint8_t *p, const void *ptr, size_t len)
{
	if (!ptr)
		return put_varlong(p, -1);
	p = put_varlong(p, (int64_t)len);
	if (len)
		memcpy(p, ptr, len);
	return p + len;
}

/* Record body size (everything after its length varint), or 0 when a
 * length does not fit the int32 varints of the format. */
static size_t body_size(const varve_record *r, int32_t offset_delta, int64_t ts_delta)
{
	if (r->key_len > INT32_MAX || r->value_len > INT32_MAX || r->header_count > INT32_MAX)
		return 0;
	uint64_t size = 1 + uvarint_size(zigzag(ts_delta)) + uvarint_size(zigzag(offset_delta)) +
			blob_size(r->key, r->key_len) + blob_size(r->value, r->value_len) +
			uvarint_size(zigzag((int64_t)r->header_count));
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		if (h->key_len > INT32_MAX || h->value_len > INT32_MAX || (!h->key && h->key_len))
			return 0;
		size += uvarint_size(zigzag((int64_t)h->key_len)) + h->key_len +
			blob_size(h->value, h->value_len);
		if (size > INT32_MAX)
			return 0;
	}
	return size > INT32_MAX ? 0 : (size_t)size;
}

static int write_record(vs_wbuf *w, const varve_record *r, int32_t offset_delta, int64_t ts_delta)
{
	size_t body = body_size(r, offset_delta, ts_delta);
	if (!body)
		return VS_RECORDS_EINVAL;
	size_t total = uvarint_size(zigzag((int64_t)body)) + body;
	uint8_t *start = vs_w_reserve(w, total);
	if (!start)
		return VS_RECORDS_ENOMEM;
	uint8_t *p = put_varlong(start, (int64_t)body);
	*p++ = 0; /* record attributes */
	p = put_varlong(p, ts_delta);
	p = put_varlong(p, offset_delta);
	p = put_blob(p, r->key, r->key_len);
	p = put_blob(p, r->value, r->value_len);
	p = put_varlong(p, (int64_t)r->header_count);
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		p = put_varlong(p, (int64_t)h->key_len); /* a NULL key is written as "" */
		if (h->key_len)
			memcpy(p, h->key, h->key_len);
		p += h->key_len;
		p = put_blob(p, h->value, h->value_len);
	}
	/* body_size and the stores above count the same fields */
	return p == start + total ? 0 : VS_RECORDS_EINVAL;
}

/* Offsets increasing with deltas in int32, timestamps whose deltas from
 * the first fit int64; finds the max timestamp. */
static int check_records(const varve_record *recs, size_t n, int64_t *max_ts)
{
	if (n == 0 || n > INT32_MAX || recs[0].offset < 0)
		return VS_RECORDS_EINVAL;
	int64_t base = recs[0].offset, ts0 = recs[0].timestamp;
	*max_ts = ts0;
	for (size_t i = 0; i < n; i++) {
		int64_t delta, ts_delta;
		if (i && recs[i].offset <= recs[i - 1].offset)
			return VS_RECORDS_EINVAL;
		if (__builtin_sub_overflow(recs[i].offset, base, &delta) || delta > INT32_MAX)
			return VS_RECORDS_EINVAL;
		if (__builtin_sub_overflow(recs[i].timestamp, ts0, &ts_delta))
			return VS_RECORDS_EINVAL;
		if (recs[i].timestamp > *max_ts)
			*max_ts = recs[i].timestamp;
	}
	return 0;
}

static void write_header(uint8_t *h, const varve_record *recs, size_t n, const vs_batch_params *p,
			 int64_t max_ts, size_t wire_size)
{
	int16_t attributes = (int16_t)(p->codec & VS_ATTR_CODEC_MASK);
	if (p->log_append_time) {
		attributes |= VS_ATTR_LOG_APPEND_TIME;
		max_ts = p->append_time;
	}
	vs_put_be64(h + 0, (uint64_t)recs[0].offset);
	vs_put_be32(h + 8, (uint32_t)(wire_size - VS_BATCH_LENGTH_OVERHEAD));
	vs_put_be32(h + 12, (uint32_t)p->partition_leader_epoch);
	h[16] = VS_BATCH_MAGIC;
	vs_put_be16(h + 21, (uint16_t)attributes);
	vs_put_be32(h + 23, (uint32_t)(recs[n - 1].offset - recs[0].offset));
	vs_put_be64(h + 27, (uint64_t)recs[0].timestamp);
	vs_put_be64(h + 35, (uint64_t)max_ts);
	vs_put_be64(h + 43, (uint64_t)p->producer_id);
	vs_put_be16(h + 51, (uint16_t)p->producer_epoch);
	vs_put_be32(h + 53, (uint32_t)p->base_sequence);
	vs_put_be32(h + 57, (uint32_t)n);
	vs_put_be32(h + 17, vs_crc32c(0, h + CRC_START, wire_size - CRC_START));
}

static int write_records(vs_records_encoder *e, vs_wbuf *out, const varve_record *recs, size_t n,
			 int codec)
{
	vs_wbuf *dst = out;
	if (codec != VS_CODEC_NONE) {
		vs_wbuf_reset(&e->plain);
		dst = &e->plain;
	}
	int64_t base = recs[0].offset, ts0 = recs[0].timestamp;
	for (size_t i = 0; i < n; i++) {
		int rc = write_record(dst, &recs[i], (int32_t)(recs[i].offset - base),
				      recs[i].timestamp - ts0);
		if (rc)
			return rc;
	}
	if (codec == VS_CODEC_NONE)
		return 0;
	switch (vs_compress(&e->codec, codec, e->plain.buf, e->plain.len, out)) {
	case VS_CODEC_OK: return 0;
	case VS_CODEC_ENOMEM: return VS_RECORDS_ENOMEM;
	default: return VS_RECORDS_EINVAL;
	}
}

int vs_records_encode(vs_records_encoder *e, vs_wbuf *out, const varve_record *recs, size_t n,
		      const vs_batch_params *p)
{
	static const vs_batch_params defaults = VS_BATCH_PARAMS_INIT;
	if (!p)
		p = &defaults;
	int64_t max_ts;
	if (out->err)
		return VS_RECORDS_ENOMEM;
	if (p->codec < VS_CODEC_NONE || p->codec > VS_CODEC_MAX || check_records(recs, n, &max_ts))
		return VS_RECORDS_EINVAL;
	size_t start = out->len;
	int rc = vs_w_reserve(out, VS_BATCH_HEADER_SIZE) ? 0 : VS_RECORDS_ENOMEM;
	if (!rc)
		rc = write_records(e, out, recs, n, p->codec);
	if (!rc && out->len - start - VS_BATCH_LENGTH_OVERHEAD > INT32_MAX)
		rc = VS_RECORDS_EINVAL;
	if (rc) {
		/* a failed growth leaves the old buffer as it was */
		out->len = start;
		out->err = 0;
		return rc;
	}
	memset(out->buf + start, 0, VS_BATCH_HEADER_SIZE);
	write_header(out->buf + start, recs, n, p, max_ts, out->len - start);
	return 0;
}
