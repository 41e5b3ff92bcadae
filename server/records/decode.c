/* SPDX-License-Identifier: MIT */
/*
 * decode.c -- a Produce request's records bytes -> batches of varve records
 * (rules and error codes in records.h). Calls kbuf's reader, crc32c.c and
 * codec.c; allocates only the decoder's own reusable arrays.
 *
 * Two passes, so no pointer handed out can move:
 *  1. walk the batch headers: lengths, CRC, attributes, counts and limits;
 *     decompress each compressed batch onto the end of one buffer (which
 *     may move while it grows, so only offsets into it are kept);
 *  2. with every buffer final, size the record array once (the counts are
 *     known and bounded) and parse the records. Header arrays grow as they
 *     are met; their pointers are set in a last fix-up loop.
 * A length or count from the wire never sizes an allocation before it has
 * been checked against the bytes present (a record takes at least 7 bytes,
 * a header at least 2) and against the limits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kerrors.h"
#include "records/crc32c.h"
#include "records/records.h"

/* length, attributes, timestamp delta, offset delta, key and value
 * lengths, header count: one byte each at the least */
#define MIN_RECORD_BYTES 7
#define MIN_HEADER_BYTES 2
#define CRC_START 21

void vs_records_decoder_init(vs_records_decoder *d, const vs_records_limits *limits)
{
	static const vs_records_limits defaults = VS_RECORDS_LIMITS_DEFAULT;
	memset(d, 0, sizeof *d);
	d->limits = limits ? *limits : defaults;
	vs_codec_init(&d->codec);
	vs_wbuf_init(&d->inflated);
}

void vs_records_decoder_free(vs_records_decoder *d)
{
	vs_codec_free(&d->codec);
	vs_wbuf_free(&d->inflated);
	free(d->batches);
	free(d->inflated_at);
	free(d->records);
	free(d->headers);
	memset(d, 0, sizeof *d);
}

void vs_records_decoder_trim(vs_records_decoder *d, size_t keep_bytes)
{
	/* the libraries' contexts keep window buffers (zstd up to 16 MiB):
	 * drop them, they are made again on first use */
	vs_codec_free(&d->codec);
	vs_codec_init(&d->codec);
	if (d->inflated.cap > keep_bytes)
		vs_wbuf_free(&d->inflated);
	if (d->batches_cap * sizeof *d->batches > keep_bytes) {
		free(d->batches);
		free(d->inflated_at);
		d->batches = NULL;
		d->inflated_at = NULL;
		d->batches_cap = 0;
	}
	if (d->records_cap * sizeof *d->records > keep_bytes) {
		free(d->records);
		d->records = NULL;
		d->records_cap = 0;
	}
	if (d->headers_cap * sizeof *d->headers > keep_bytes) {
		free(d->headers);
		d->headers = NULL;
		d->headers_cap = 0;
	}
}

const char *vs_records_reason(const vs_records_decoder *d) { return d->reason; }

/* ---- errors ---------------------------------------------------------------- */

/* Where the walk is, for the reason string. */
typedef struct walk {
	vs_records_decoder *d;
	size_t batch; /* index of the batch */
	size_t at;    /* its byte position in the request's records */
} walk;

__attribute__((format(printf, 3, 4))) static int bad(walk *w, int code, const char *fmt, ...)
{
	char *r = w->d->reason;
	size_t cap = sizeof w->d->reason;
	int n = snprintf(r, cap, "batch %zu at byte %zu: ", w->batch, w->at);
	if (n < 0 || (size_t)n >= cap)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r + n, cap - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

/* Grow *arr (elements of size elem) to hold at least need; 0 or -1. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < need) {
		if (nc > SIZE_MAX / 2 / elem)
			return -1;
		nc *= 2;
	}
	void *p = realloc(*arr, nc * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = nc;
	return 0;
}

static int grow_batches(vs_records_decoder *d, size_t need)
{
	if (need <= d->batches_cap)
		return 0;
	size_t cap = d->batches_cap, cap2 = d->batches_cap;
	if (grow((void **)&d->batches, &cap, need, sizeof *d->batches) ||
	    grow((void **)&d->inflated_at, &cap2, need, sizeof *d->inflated_at))
		return -1;
	/* both grew from the same capacity with the same rule */
	d->batches_cap = cap < cap2 ? cap : cap2;
	return 0;
}

/* ---- pass 1: batch headers ----------------------------------------------- */

static int read_header(walk *w, const uint8_t *p, size_t avail, vs_batch *b)
{
	if (avail < 17)
		return bad(w, KE_CORRUPT_MESSAGE, "truncated batch header (%zu bytes)", avail);
	int8_t magic = (int8_t)p[16]; /* at byte 16 in the legacy formats too */
	if (magic == 0 || magic == 1)
		return bad(w, KE_UNSUPPORTED_FOR_MESSAGE_FORMAT,
			   "magic %d (a legacy message set): only magic 2 is supported", magic);
	if (magic != VS_BATCH_MAGIC)
		return bad(w, KE_CORRUPT_MESSAGE, "unknown magic %d", magic);
	if (avail < VS_BATCH_HEADER_SIZE)
		return bad(w, KE_CORRUPT_MESSAGE, "truncated batch header (%zu bytes)", avail);
	vs_rbuf r;
	vs_rbuf_init(&r, p, VS_BATCH_HEADER_SIZE);
	b->base_offset = vs_r_i64(&r);
	int32_t length = vs_r_i32(&r);
	b->partition_leader_epoch = vs_r_i32(&r);
	(void)vs_r_i8(&r); /* magic, checked */
	b->crc = vs_r_u32(&r);
	b->attributes = vs_r_i16(&r);
	b->last_offset_delta = vs_r_i32(&r);
	b->base_timestamp = vs_r_i64(&r);
	b->max_timestamp = vs_r_i64(&r);
	b->producer_id = vs_r_i64(&r);
	b->producer_epoch = vs_r_i16(&r);
	b->base_sequence = vs_r_i32(&r);
	b->record_count = vs_r_i32(&r);
	b->codec = b->attributes & VS_ATTR_CODEC_MASK;
	b->log_append_time = (b->attributes & VS_ATTR_LOG_APPEND_TIME) != 0;
	b->records = NULL;
	if (length < VS_BATCH_HEADER_SIZE - VS_BATCH_LENGTH_OVERHEAD)
		return bad(w, KE_CORRUPT_MESSAGE, "batch length %d is below the header size", length);
	b->wire_size = (size_t)length + VS_BATCH_LENGTH_OVERHEAD;
	if (b->wire_size > avail)
		return bad(w, KE_CORRUPT_MESSAGE, "batch length %d runs past the end (%zu bytes left)",
			   length, avail);
	if (b->wire_size > w->d->limits.max_batch_bytes)
		return bad(w, KE_MESSAGE_TOO_LARGE, "batch of %zu bytes is over the limit of %zu",
			   b->wire_size, w->d->limits.max_batch_bytes);
	uint32_t crc = vs_crc32c(0, p + CRC_START, b->wire_size - CRC_START);
	if (crc != b->crc)
		return bad(w, KE_CORRUPT_MESSAGE, "CRC-32C mismatch (batch says %08x, bytes give %08x)",
			   (unsigned)b->crc, (unsigned)crc);
	return KE_NONE;
}

static int check_attributes_and_counts(walk *w, const vs_batch *b)
{
	if (b->attributes & VS_ATTR_CONTROL)
		return bad(w, KE_INVALID_RECORD, "control batches are written by brokers, not clients");
	if (b->attributes & VS_ATTR_TRANSACTIONAL)
		return bad(w, KE_INVALID_TXN_STATE, "transactional batch: this broker has no transactions");
	if (b->codec > VS_CODEC_MAX)
		return bad(w, KE_UNSUPPORTED_COMPRESSION_TYPE, "unknown compression codec %d", b->codec);
	if (b->record_count <= 0)
		return bad(w, KE_INVALID_RECORD, "record count %d", b->record_count);
	if (b->last_offset_delta != b->record_count - 1)
		return bad(w, KE_INVALID_RECORD, "last offset delta %d does not match record count %d",
			   b->last_offset_delta, b->record_count);
	return KE_NONE;
}

/* Decompress a batch's records onto the end of d->inflated. */
static int inflate_batch(walk *w, vs_batch *b, const uint8_t *payload, size_t size)
{
	vs_records_decoder *d = w->d;
	const vs_records_limits *lim = &d->limits;
	size_t used = d->inflated.len;
	size_t total_left = lim->max_total_inflated_bytes > used ? lim->max_total_inflated_bytes - used : 0;
	int batch_bound = lim->max_inflated_batch_bytes <= total_left;
	size_t limit = batch_bound ? lim->max_inflated_batch_bytes : total_left;
	const char *why = NULL;
	int rc = vs_decompress(&d->codec, b->codec, payload, size, limit, &d->inflated, &why);
	switch (rc) {
	case VS_CODEC_OK:
		break;
	case VS_CODEC_ELIMIT:
		if (batch_bound)
			return bad(w, KE_MESSAGE_TOO_LARGE, "%s (batch limit %zu bytes)", why, limit);
		return bad(w, KE_RECORD_LIST_TOO_LARGE, "%s (%zu bytes left of the request's %zu)",
			   why, limit, lim->max_total_inflated_bytes);
	case VS_CODEC_ENOMEM:
		return bad(w, KE_UNKNOWN_SERVER_ERROR, "%s", why ? why : "out of memory");
	default:
		return bad(w, KE_CORRUPT_MESSAGE, "%s", why ? why : "corrupt compressed records");
	}
	d->inflated_at[w->batch] = used;
	b->records_size = d->inflated.len - used;
	return KE_NONE;
}

static int scan_batch(walk *w, const uint8_t *p, size_t avail, size_t *records_total)
{
	vs_records_decoder *d = w->d;
	vs_batch *b = &d->batches[w->batch];
	int rc = read_header(w, p, avail, b);
	if (rc == KE_NONE)
		rc = check_attributes_and_counts(w, b);
	if (rc != KE_NONE)
		return rc;
	size_t count = (size_t)b->record_count;
	if (count > d->limits.max_records - *records_total)
		return bad(w, KE_RECORD_LIST_TOO_LARGE, "more than %zu records in the request",
			   d->limits.max_records);
	const uint8_t *payload = p + VS_BATCH_HEADER_SIZE;
	size_t size = b->wire_size - VS_BATCH_HEADER_SIZE;
	d->inflated_at[w->batch] = SIZE_MAX;
	b->records_size = size;
	if (b->codec != VS_CODEC_NONE) {
		rc = inflate_batch(w, b, payload, size);
		if (rc != KE_NONE)
			return rc;
	}
	if (count > b->records_size / MIN_RECORD_BYTES)
		return bad(w, KE_CORRUPT_MESSAGE, "record count %zu is more than %zu bytes of records hold",
			   count, b->records_size);
	*records_total += count;
	return KE_NONE;
}

/* ---- pass 2: records ------------------------------------------------------- */

/* A key or value: varint length, -1 = null. 0, or -1 if malformed. */
static int read_blob(vs_rbuf *f, const void **ptr, size_t *len)
{
	int32_t n = vs_r_varint(f);
	*ptr = NULL;
	*len = 0;
	if (f->err || n < -1)
		return -1;
	if (n == -1)
		return 0;
	vs_slice s = vs_r_raw(f, (size_t)n);
	*ptr = s.ptr;
	*len = s.len;
	return f->err ? -1 : 0;
}

typedef struct record_ctx {
	walk *w;
	const vs_batch *b;
	size_t headers_used; /* headers filled in so far in this call */
} record_ctx;

static int read_headers(record_ctx *c, vs_rbuf *f, int32_t i, varve_record *rec)
{
	walk *w = c->w;
	vs_records_decoder *d = w->d;
	int32_t n = vs_r_varint(f);
	if (f->err || n < 0 || (size_t)n > vs_rbuf_left(f) / MIN_HEADER_BYTES)
		return bad(w, KE_CORRUPT_MESSAGE, "record %d: bad header count", i);
	if (n > VS_RECORDS_MAX_HEADERS_PER_RECORD)
		return bad(w, KE_INVALID_RECORD, "record %d: %d headers, more than the store takes", i, n);
	rec->header_count = (size_t)n;
	rec->headers = NULL; /* set once the header array stops moving */
	if (n == 0)
		return KE_NONE;
	if ((size_t)n > d->limits.max_headers - c->headers_used)
		return bad(w, KE_RECORD_LIST_TOO_LARGE, "more than %zu headers in the request",
			   d->limits.max_headers);
	if (grow((void **)&d->headers, &d->headers_cap, c->headers_used + (size_t)n, sizeof *d->headers))
		return bad(w, KE_UNKNOWN_SERVER_ERROR, "out of memory for %d headers", n);
	varve_header *h = d->headers + c->headers_used;
	for (int32_t k = 0; k < n; k++, h++) {
		int32_t klen = vs_r_varint(f);
		if (!f->err && klen == -1)
			return bad(w, KE_INVALID_RECORD, "record %d: header %d has a null key", i, k);
		if (f->err || klen < 0)
			return bad(w, KE_CORRUPT_MESSAGE, "record %d: header %d: bad key length", i, k);
		vs_slice key = vs_r_raw(f, (size_t)klen);
		h->key = (const char *)key.ptr;
		h->key_len = key.len;
		if (read_blob(f, &h->value, &h->value_len))
			return bad(w, KE_CORRUPT_MESSAGE, "record %d: header %d: bad value", i, k);
	}
	c->headers_used += (size_t)n;
	return KE_NONE;
}

static int read_record(record_ctx *c, vs_rbuf *r, int32_t i, varve_record *rec)
{
	walk *w = c->w;
	int32_t len = vs_r_varint(r);
	if (r->err)
		return bad(w, KE_CORRUPT_MESSAGE, "record %d of %d: missing or bad length", i,
			   c->b->record_count);
	if (len < 0 || (size_t)len > vs_rbuf_left(r))
		return bad(w, KE_CORRUPT_MESSAGE, "record %d: length %d runs past the records", i, len);
	vs_rbuf f;
	vs_rbuf_init(&f, r->p, (size_t)len);
	r->p += len;
	(void)vs_r_i8(&f); /* record attributes: unused by magic 2 */
	int64_t ts_delta = vs_r_varlong(&f);
	int32_t offset_delta = vs_r_varint(&f);
	if (f.err)
		return bad(w, KE_CORRUPT_MESSAGE, "record %d: fields run past its length %d", i, len);
	if (offset_delta != i)
		return bad(w, KE_INVALID_RECORD, "record %d has offset delta %d", i, offset_delta);
	if (read_blob(&f, &rec->key, &rec->key_len))
		return bad(w, KE_CORRUPT_MESSAGE, "record %d: bad key", i);
	if (read_blob(&f, &rec->value, &rec->value_len))
		return bad(w, KE_CORRUPT_MESSAGE, "record %d: bad value", i);
	int rc = read_headers(c, &f, i, rec);
	if (rc != KE_NONE)
		return rc;
	if (vs_rbuf_left(&f))
		return bad(w, KE_CORRUPT_MESSAGE, "record %d: %zu bytes left over inside its length %d",
			   i, vs_rbuf_left(&f), len);
	if (__builtin_add_overflow(c->b->base_timestamp, ts_delta, &rec->timestamp))
		return bad(w, KE_INVALID_TIMESTAMP, "record %d: timestamp overflows", i);
	rec->partition = VARVE_PARTITION_ANY;
	rec->offset = offset_delta;
	rec->flags = 0;
	return KE_NONE;
}

static int parse_batch(record_ctx *c, const uint8_t *payload, size_t size, varve_record *recs)
{
	vs_rbuf r;
	vs_rbuf_init(&r, payload, size);
	for (int32_t i = 0; i < c->b->record_count; i++) {
		int rc = read_record(c, &r, i, &recs[i]);
		if (rc != KE_NONE)
			return rc;
	}
	if (vs_rbuf_left(&r))
		return bad(c->w, KE_CORRUPT_MESSAGE, "%zu bytes after the last of %d records",
			   vs_rbuf_left(&r), c->b->record_count);
	return KE_NONE;
}

static int parse_all(vs_records_decoder *d, const uint8_t *buf, size_t nbatches,
		     size_t *headers_used)
{
	walk w = { d, 0, 0 };
	record_ctx c = { &w, NULL, 0 };
	size_t next = 0, first_record = 0;
	for (size_t i = 0; i < nbatches; i++) {
		vs_batch *b = &d->batches[i];
		w.batch = i;
		w.at = next;
		c.b = b;
		const uint8_t *payload = d->inflated_at[i] == SIZE_MAX ?
						 buf + next + VS_BATCH_HEADER_SIZE :
						 d->inflated.buf + d->inflated_at[i];
		b->records = d->records + first_record;
		int rc = parse_batch(&c, payload, b->records_size, b->records);
		if (rc != KE_NONE)
			return rc;
		next += b->wire_size;
		first_record += (size_t)b->record_count;
	}
	*headers_used = c.headers_used;
	return KE_NONE;
}

/* Header pointers, now that the header array no longer moves: records
 * took their headers in order, so a running sum finds each one's first. */
static void point_headers(vs_records_decoder *d, size_t nrecords)
{
	size_t h = 0;
	for (size_t i = 0; i < nrecords; i++) {
		varve_record *rec = &d->records[i];
		rec->headers = rec->header_count ? d->headers + h : NULL;
		h += rec->header_count;
	}
}

int vs_records_decode(vs_records_decoder *d, const uint8_t *buf, size_t len, vs_decoded *out)
{
	memset(out, 0, sizeof *out);
	d->reason[0] = 0;
	vs_wbuf_reset(&d->inflated);
	walk w = { d, 0, 0 };
	size_t nrecords = 0;
	while (w.at < len) {
		if (grow_batches(d, w.batch + 1))
			return bad(&w, KE_UNKNOWN_SERVER_ERROR, "out of memory for the batch list");
		int rc = scan_batch(&w, buf + w.at, len - w.at, &nrecords);
		if (rc != KE_NONE)
			return rc;
		w.at += d->batches[w.batch].wire_size;
		w.batch++;
	}
	size_t nbatches = w.batch;
	if (grow((void **)&d->records, &d->records_cap, nrecords, sizeof *d->records))
		return bad(&w, KE_UNKNOWN_SERVER_ERROR, "out of memory for %zu records", nrecords);
	size_t nheaders = 0;
	int rc = parse_all(d, buf, nbatches, &nheaders);
	if (rc != KE_NONE)
		return rc;
	point_headers(d, nrecords);
	out->batches = d->batches;
	out->batch_count = nbatches;
	out->records = nrecords ? d->records : NULL;
	out->record_count = nrecords;
	return KE_NONE;
}
