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
#include <xxhash.h>

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
	vv_free(b->chunks);
	memset(b, 0, sizeof *b);
}

void vv_bb_reset(vv_batch_builder *b)
{
	b->len = VV_BATCH_HEADER_SIZE;
	b->count = 0;
	b->last_delta = 0;
	b->first_ts = b->max_ts = 0;
	b->nchunks = 0;
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

/* The record about to be added at b->len starts a new map chunk: close
 * the last one with the previous record's delta. Called only when the
 * record begins VV_MAP_CHUNK_BYTES or more past the last chunk's start. */
static int start_chunk(vv_batch_builder *b, uint32_t offset_delta)
{
	size_t at = b->len - VV_BATCH_HEADER_SIZE;
	if (at > UINT32_MAX)
		return 0; /* no map for such a batch (finish refuses it anyway) */
	if (b->nchunks == b->chunk_cap) {
		uint32_t nc = b->chunk_cap ? b->chunk_cap * 2 : 64;
		uint32_t *n = vv_realloc(b->chunks, (size_t)nc * 4 * sizeof *n);
		if (!n)
			return vv_error_set(VARVE_ENOMEM, 0, "record map");
		b->chunks = n;
		b->chunk_cap = nc;
	}
	if (b->nchunks)
		b->chunks[4 * (b->nchunks - 1) + 3] = b->last_delta;
	uint32_t *c = b->chunks + 4 * b->nchunks++;
	c[0] = (uint32_t)at;
	c[1] = b->count;
	c[2] = offset_delta;
	return 0;
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
	if (b->count == 0 || b->len - VV_BATCH_HEADER_SIZE - b->chunks[4 * (b->nchunks - 1)] >=
				     VV_MAP_CHUNK_BYTES)
		VV_TRY(start_chunk(b, offset_delta));
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

/* The checksum of a batch with a map: over the map's entries, count and
 * reserved field, seeded with the hash of the header's bytes [8, 80) so
 * that it vouches for the header too. */
static uint64_t map_checksum(const uint8_t *batch, const uint8_t *map, uint32_t count)
{
	uint64_t seed = vv_hash64(batch + 8, VV_BATCH_HEADER_SIZE - 8);
	return XXH3_64bits_withSeed(map, (size_t)count * VV_MAP_ENTRY_SIZE + 8, seed);
}

/* Write the map after the records: the chunk entries, count, reserved.
 * The batch checksum, written next, is the map's. */
static void write_map(const vv_batch_builder *b, uint8_t *batch, size_t records_size)
{
	const uint8_t *rec = batch + VV_BATCH_HEADER_SIZE;
	uint8_t *e = batch + VV_BATCH_HEADER_SIZE + records_size;
	for (uint32_t i = 0; i < b->nchunks; i++, e += VV_MAP_ENTRY_SIZE) {
		const uint32_t *c = b->chunks + 4 * i;
		uint32_t end = i + 1 < b->nchunks ? c[4] : (uint32_t)records_size;
		vv_store32(e, c[0]);
		vv_store32(e + 4, c[1]);
		vv_store32(e + 8, c[2]);
		vv_store32(e + 12, c[3]);
		vv_store64(e + 16, vv_hash64(rec + c[0], end - c[0]));
	}
	vv_store32(e, b->nchunks);
	vv_store32(e + 4, 0);
}

/* Where a batch's map starts and how many chunks it has, from its bytes;
 * 0 when the sizes do not add up (no map can be read there). */
static int map_place(const uint8_t *p, size_t length, const uint8_t **map, uint32_t *count)
{
	if (length < VV_BATCH_HEADER_SIZE + VV_MAP_TRAILER_SIZE)
		return 0;
	uint32_t records_size = vv_load32(p + 36);
	uint64_t room = length - VV_BATCH_HEADER_SIZE;
	*count = vv_load32(p + length - VV_MAP_TRAILER_SIZE);
	if (records_size > room ||
	    room - records_size != (uint64_t)*count * VV_MAP_ENTRY_SIZE + VV_MAP_TRAILER_SIZE)
		return 0;
	*map = p + VV_BATCH_HEADER_SIZE + records_size;
	return 1;
}

uint64_t vv_batch_checksum(const uint8_t *p, size_t length)
{
	const uint8_t *map;
	uint32_t count;
	if ((vv_load16(p + 32) & VV_ATTR_RECORD_MAP) && map_place(p, length, &map, &count))
		return map_checksum(p, map, count);
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
	size_t map = (size_t)b->nchunks * VV_MAP_ENTRY_SIZE + VV_MAP_TRAILER_SIZE;
	if (prm->codec == VARVE_CODEC_NONE && records_size >= VV_MAP_MIN_RECORDS &&
	    b->nchunks >= 2 && total + map <= UINT32_MAX &&
	    (prm->max_len == 0 || total + map <= prm->max_len)) {
		VV_TRY(grow(&b->buf, &b->cap, total + map));
		batch = b->buf;
		h.attributes |= VV_ATTR_RECORD_MAP;
		total += map;
	}
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
	if (h.attributes & VV_ATTR_RECORD_MAP) {
		b->chunks[4 * (b->nchunks - 1) + 3] = b->last_delta;
		write_map(b, batch, records_size);
	}
	vv_store64(batch, vv_batch_checksum(batch, total)); /* with a map: the map's */
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
	if ((h->attributes & ~(VV_ATTR_CODEC_MASK | VV_ATTR_RECORD_MAP)) || codec > VARVE_CODEC_LZ4 ||
	    ((h->attributes & VV_ATTR_RECORD_MAP) && codec != VARVE_CODEC_NONE))
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
	if (h->attributes & VV_ATTR_RECORD_MAP) {
		/* records, then at least two chunk entries and the count */
		uint32_t room = h->length - VV_BATCH_HEADER_SIZE;
		uint32_t map = room >= h->records_size ? room - h->records_size : 0;
		if (map < 2 * VV_MAP_ENTRY_SIZE + VV_MAP_TRAILER_SIZE ||
		    (map - VV_MAP_TRAILER_SIZE) % VV_MAP_ENTRY_SIZE)
			return header_fault(why,
					    "records size %" PRIu32 " leaves no record map in batch length %" PRIu32,
					    h->records_size, h->length);
	} else if (codec == VARVE_CODEC_NONE && h->records_size != h->length - VV_BATCH_HEADER_SIZE)
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
	if (h->attributes & VV_ATTR_RECORD_MAP) {
		vv_batch_map m;
		return vv_batch_map_open(p, h, &m) == 0 &&
				       vv_batch_map_chunks_ok(p, h, &m, 0, m.count) == 0
			       ? 0
			       : -1;
	}
	return vv_hash64(p + 8, h->length - 8) == h->checksum ? 0 : -1;
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
		rr->end = body + h->records_size; /* the record map, if any, follows */
	}
	return 0;
}

/* ---- the record map ---------------------------------------------------- */

int vv_batch_map_open(const uint8_t *batch, const vv_batch_header *h, vv_batch_map *m)
{
	if (!(h->attributes & VV_ATTR_RECORD_MAP))
		return VARVE_ECORRUPT;
	const uint8_t *map;
	uint32_t count;
	if (!map_place(batch, h->length, &map, &count) || count < 2 ||
	    vv_load32(batch + h->length - VV_MAP_TRAILER_SIZE + 4))
		return VARVE_ECORRUPT;
	if (h->checksum != map_checksum(batch, map, count))
		return VARVE_ECORRUPT;
	const uint8_t *e = map;
	/* in order and inside the batch: positions, first indexes and deltas
	 * strictly increase, each chunk's deltas within the batch's */
	uint32_t prev_pos = 0, prev_index = 0, prev_last = 0;
	for (uint32_t i = 0; i < count; i++, e += VV_MAP_ENTRY_SIZE) {
		uint32_t pos = vv_load32(e), index = vv_load32(e + 4);
		uint32_t first = vv_load32(e + 8), last = vv_load32(e + 12);
		if (i == 0 ? (pos != 0 || index != 0)
			   : (pos <= prev_pos || index <= prev_index || first <= prev_last))
			return VARVE_ECORRUPT;
		if (pos >= h->records_size || index >= h->record_count || first > last ||
		    last > h->last_offset_delta)
			return VARVE_ECORRUPT;
		prev_pos = pos;
		prev_index = index;
		prev_last = last;
	}
	if (prev_last != h->last_offset_delta)
		return VARVE_ECORRUPT;
	m->entries = map;
	m->count = count;
	return 0;
}

void vv_batch_map_view(const uint8_t *batch, const vv_batch_header *h, vv_batch_map *m)
{
	const uint8_t *trailer = batch + h->length - VV_MAP_TRAILER_SIZE;
	m->count = vv_load32(trailer);
	m->entries = trailer - (size_t)m->count * VV_MAP_ENTRY_SIZE;
}

void vv_batch_map_chunk(const vv_batch_map *m, const vv_batch_header *h, uint32_t i,
			vv_map_chunk *c)
{
	const uint8_t *e = m->entries + (size_t)i * VV_MAP_ENTRY_SIZE;
	c->pos = vv_load32(e);
	c->index = vv_load32(e + 4);
	c->first_delta = vv_load32(e + 8);
	c->last_delta = vv_load32(e + 12);
	c->hash = vv_load64(e + 16);
	c->end = i + 1 < m->count ? vv_load32(e + VV_MAP_ENTRY_SIZE) : h->records_size;
}

static uint32_t map_first_delta(const vv_batch_map *m, uint32_t i)
{
	return vv_load32(m->entries + (size_t)i * VV_MAP_ENTRY_SIZE + 8);
}

uint32_t vv_batch_map_find(const vv_batch_map *m, uint32_t delta, uint32_t last_delta)
{
	/* Chunks hold about the same number of records, so start where delta
	 * falls in proportion and step: one or two entries (cache lines) for
	 * a batch of like records, where a binary search touches six. */
	uint32_t i = (uint32_t)((uint64_t)delta * m->count / ((uint64_t)last_delta + 1));
	if (i >= m->count)
		i = m->count - 1;
	for (int step = 0; step < 4; step++) {
		if (map_first_delta(m, i) > delta) {
			if (i == 0)
				return 0; /* before the first record: the reader walks from it */
			i--;
		} else if (i + 1 < m->count && map_first_delta(m, i + 1) <= delta)
			i++;
		else
			return i;
	}
	uint32_t lo = 0, hi = m->count; /* the answer is in [lo, hi) */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (map_first_delta(m, mid) <= delta)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int vv_batch_map_chunks_ok(const uint8_t *batch, const vv_batch_header *h, const vv_batch_map *m,
			   uint32_t from, uint32_t to)
{
	const uint8_t *rec = batch + VV_BATCH_HEADER_SIZE;
	for (uint32_t i = from; i < to; i++) {
		vv_map_chunk c;
		vv_batch_map_chunk(m, h, i, &c);
		if (vv_hash64(rec + c.pos, c.end - c.pos) != c.hash)
			return -1;
	}
	return 0;
}

void vv_record_reader_window(vv_record_reader *rr, const uint8_t *batch, const vv_batch_map *m,
			     uint32_t from, uint32_t to)
{
	vv_map_chunk a, z;
	vv_batch_map_chunk(m, &rr->h, from, &a);
	vv_batch_map_chunk(m, &rr->h, to - 1, &z);
	const uint8_t *rec = batch + VV_BATCH_HEADER_SIZE;
	rr->p = rec + a.pos;
	rr->end = rec + z.end;
	rr->remaining = (to < m->count ? vv_load32(m->entries + (size_t)to * VV_MAP_ENTRY_SIZE + 4)
				       : rr->h.record_count) - a.index;
	rr->prev_delta = (int64_t)a.first_delta - 1;
	rr->h.last_offset_delta = z.last_delta;
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

/* The map against the records: each chunk walked alone must start at its
 * first delta and end where the next starts, with its last delta, after
 * its count of records (the checksums are the batch checksum's). */
int vv_batch_map_validate(const uint8_t *batch, const vv_batch_header *h)
{
	vv_batch_map m;
	if (vv_batch_map_open(batch, h, &m))
		return VARVE_ECORRUPT;
	varve_header *hdrs = NULL;
	size_t hcap = 0;
	int rc = 0;
	for (uint32_t i = 0; i < m.count && rc == 0; i++) {
		vv_record_reader rr = { .h = *h };
		vv_record_reader_window(&rr, batch, &m, i, i + 1);
		vv_map_chunk c;
		vv_batch_map_chunk(&m, h, i, &c);
		varve_record r;
		rc = vv_record_next(&rr, &r, &hdrs, &hcap);
		if (rc == 0 && r.offset - h->base_offset != (int64_t)c.first_delta)
			rc = VARVE_ECORRUPT;
		while (rc == 0)
			rc = vv_record_next(&rr, &r, &hdrs, &hcap);
		if (rc == VARVE_EEND)
			rc = 0;
	}
	vv_free(hdrs);
	return rc ? VARVE_ECORRUPT : 0; /* ENOMEM too: the map was not shown right */
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
	if (rc == VARVE_EEND && (h->attributes & VV_ATTR_RECORD_MAP))
		rc = vv_batch_map_validate(batch, h) ? VARVE_ECORRUPT : VARVE_EEND;
	return rc == VARVE_EEND ? 0 : rc;
}
