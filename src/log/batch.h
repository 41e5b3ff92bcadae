/* SPDX-License-Identifier: MIT */
/*
 * batch.h -- the record batch: unit of append, checksum and compression.
 * Byte layout in docs/FORMAT.md; all integers little-endian.
 *
 *   off size field
 *    0   8   checksum      XXH3-64 (seed 0) of bytes [8, length)
 *    8   4   magic         "VRV1" = 0x31565256
 *   12   4   length        whole batch, header included
 *   16   8   base_offset
 *   24   4   last_offset_delta
 *   28   4   record_count
 *   32   2   attributes    bits 0-1 codec (0 none, 1 lz4); bit 2 record map;
 *                           others must be 0
 *   34   2   producer_epoch
 *   36   4   records_size  bytes of the records section before compression
 *   40   8   first_timestamp
 *   48   8   max_timestamp
 *   56   8   append_time   store wall clock at append (ms)
 *   64   8   producer_id   -1 = none
 *   72   4   base_sequence -1 = none
 *   76   4   reserved      must be 0
 *   80       records (or one LZ4 block of them)
 *            then, with attribute bit 2 (format version 2, uncompressed
 *            batches only), the record map at [80 + records_size, length):
 *      24 bytes per chunk: u32 position (from the records section's start),
 *        u32 index of its first record, u32 first and u32 last offset delta,
 *        u64 XXH3-64 of the chunk's bytes;
 *      then u32 chunk count, u32 reserved (0).
 *   A chunk is the records from its position to the next chunk's (the last
 *   to the end of the records section). With a map, the batch checksum is
 *   the map's: XXH3-64 of the map's bytes seeded with XXH3-64 of header
 *   bytes [8, 80); it vouches for the header and the chunk hashes, which
 *   vouch for the records, so every byte is still covered once. A random
 *   read checks the map and one chunk instead of the whole batch.
 */
#ifndef VV_BATCH_H
#define VV_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "varve.h"

#define VV_BATCH_HEADER_SIZE 80
#define VV_BATCH_MAGIC 0x31565256u /* "VRV1" little-endian */
#define VV_ATTR_CODEC_MASK 0x3u
#define VV_ATTR_RECORD_MAP 0x4u
#define VV_MAP_ENTRY_SIZE 24
#define VV_MAP_TRAILER_SIZE 8
/* Writers start a new chunk at the first record that begins this far past
 * the chunk's start, and give a batch a map only when its records section
 * is at least VV_MAP_MIN_RECORDS bytes (smaller ones are cheap to check). */
#define VV_MAP_CHUNK_BYTES 2048u
#define VV_MAP_MIN_RECORDS 8192u
#define VV_MAX_HEADERS_PER_RECORD 65535
/* Readers accept batches up to this size whatever max_record_bytes says now,
 * so lowering the option never cuts data written under a higher one. */
#define VV_MAX_BATCH_READ (1u << 30)

typedef struct vv_batch_header {
	uint64_t checksum;
	uint32_t magic;
	uint32_t length;
	int64_t base_offset;
	uint32_t last_offset_delta;
	uint32_t record_count;
	uint16_t attributes;
	uint16_t producer_epoch;
	uint32_t records_size;
	int64_t first_timestamp;
	int64_t max_timestamp;
	int64_t append_time;
	int64_t producer_id;
	int32_t base_sequence;
} vv_batch_header;

static inline int64_t vv_batch_last_offset(const vv_batch_header *h)
{
	return h->base_offset + (int64_t)h->last_offset_delta;
}

/* Builds one batch in memory; reused across appends (no malloc per record). */
typedef struct vv_batch_builder {
	uint8_t *buf; /* header space + records */
	size_t len, cap;
	uint8_t *zbuf; /* lz4 output */
	size_t zcap;
	uint32_t count;
	uint32_t last_delta;
	int64_t first_ts, max_ts;
	/* the record map's chunks so far: position, first index, first and
	 * last offset delta (u32 each, in that order; the last chunk's last
	 * delta is filled in by vv_bb_finish) */
	uint32_t *chunks;
	uint32_t nchunks, chunk_cap;
} vv_batch_builder;

void vv_bb_init(vv_batch_builder *b);
void vv_bb_free(vv_batch_builder *b);
void vv_bb_reset(vv_batch_builder *b);
/* Encoded size of a record (without the batch header). */
size_t vv_record_encoded_size(uint32_t offset_delta, int64_t ts_delta, const varve_record *r);
int vv_bb_add(vv_batch_builder *b, uint32_t offset_delta, int64_t timestamp, const varve_record *r);

typedef struct vv_batch_params {
	int64_t base_offset;
	int codec;
	int64_t append_time;
	int64_t producer_id;
	uint16_t producer_epoch;
	int32_t base_sequence;
	size_t max_len; /* no record map if it would take the batch past this; 0: none */
} vv_batch_params;

/* Finish the batch; *out points into the builder (valid until reset). */
int vv_bb_finish(vv_batch_builder *b, const vv_batch_params *p, const uint8_t **out, size_t *len);

/* Parse and sanity check a header from avail bytes. Returns 0, or
 * VARVE_ECORRUPT (bad magic, length out of [80, max_len], bad fields) or
 * VARVE_EEND when fewer than a header's bytes are available. No detail
 * message is recorded: callers know the file and position. */
int vv_batch_parse_header(const uint8_t *p, size_t avail, uint32_t max_len, vv_batch_header *h);
/* Why a header failed: the check and the values that failed it, e.g.
 * "batch length 12 is shorter than a header". */
typedef struct vv_batch_why {
	char text[160];
} vv_batch_why;
/* vv_batch_parse_header, and on VARVE_ECORRUPT the reason in *why. */
int vv_batch_parse_header_why(const uint8_t *p, size_t avail, uint32_t max_len,
			      vv_batch_header *h, vv_batch_why *why);
/* Verify the checksum of a whole batch of h->length bytes at p (with a
 * record map: the map's checksum and every chunk's). 0 or -1. */
int vv_batch_checksum_ok(const uint8_t *p, const vv_batch_header *h);
/* The checksum a writer stores in bytes [0, 8) of a batch of `length`
 * bytes at p (with a record map: the map's). */
uint64_t vv_batch_checksum(const uint8_t *p, size_t length);
/* Rewrite base_offset and the checksum in place (used by compaction). */
void vv_batch_set_base_offset(uint8_t *p, int64_t base_offset);

/* The record map of a batch (attribute VV_ATTR_RECORD_MAP), once its
 * checksum matched: entries point into the batch's bytes. */
typedef struct vv_batch_map {
	const uint8_t *entries;
	uint32_t count;
} vv_batch_map;

typedef struct vv_map_chunk {
	uint32_t pos, end; /* [pos, end) in the records section */
	uint32_t index, first_delta, last_delta;
	uint64_t hash;
} vv_map_chunk;

/* Check the map against the batch checksum (it covers the header too) and
 * that its entries are in order and inside the batch. 0, or VARVE_ECORRUPT
 * (also for a batch without a map). The chunks are not checked. */
int vv_batch_map_open(const uint8_t *batch, const vv_batch_header *h, vv_batch_map *m);
/* The map of a batch whose map matched before (the same bytes): no checks. */
void vv_batch_map_view(const uint8_t *batch, const vv_batch_header *h, vv_batch_map *m);
void vv_batch_map_chunk(const vv_batch_map *m, const vv_batch_header *h, uint32_t i,
			vv_map_chunk *c);
/* The chunk holding offset delta `delta` (the last one starting at or
 * before it) in a batch whose last offset delta is last_delta. */
uint32_t vv_batch_map_find(const vv_batch_map *m, uint32_t delta, uint32_t last_delta);
/* 0 when chunks [from, to) match their checksums, else -1. */
int vv_batch_map_chunks_ok(const uint8_t *batch, const vv_batch_header *h, const vv_batch_map *m,
			   uint32_t from, uint32_t to);

/* A batch with a record map whose records decoded: each chunk walked alone
 * must start at its first delta and end where the next starts, after its
 * count of records, with its last delta. 0 or VARVE_ECORRUPT. */
int vv_batch_map_validate(const uint8_t *batch, const vv_batch_header *h);

/* Walks the records of one verified batch. If the batch is compressed, the
 * records are inflated into *scratch (grown as needed, bounded by max). */
typedef struct vv_record_reader {
	vv_batch_header h;
	const uint8_t *p, *end;
	uint32_t remaining;
	int64_t prev_delta;
	const char *fault; /* after VARVE_ECORRUPT: which check failed (static text) */
} vv_record_reader;

int vv_record_reader_init(vv_record_reader *rr, const uint8_t *batch, const vv_batch_header *h,
			  uint8_t **scratch, size_t *scratch_cap, uint32_t max);
/* Decode the next record into *out; headers decoded into *hdrs (grown as
 * needed). Returns 0, VARVE_EEND when done, VARVE_ECORRUPT when malformed,
 * VARVE_ENOMEM. */
int vv_record_next(vv_record_reader *rr, varve_record *out, varve_header **hdrs, size_t *hcap);

/* Point rr (initialised on an uncompressed batch with a map) at the
 * records of chunks [from, to) only: it ends after the last of them, with
 * that chunk's last offset delta checked as the last. */
void vv_record_reader_window(vv_record_reader *rr, const uint8_t *batch, const vv_batch_map *m,
			     uint32_t from, uint32_t to);

/* Step past the records with offsets below `offset` without decoding them
 * (lengths and offset deltas are still checked). 0 or VARVE_ECORRUPT. */
int vv_record_skip_before(vv_record_reader *rr, int64_t offset);

/* Decode and check every record of a batch (recovery / verify): counts,
 * offset deltas strictly increasing and within last_offset_delta, and
 * timestamps within [?, max]. Returns 0 or VARVE_ECORRUPT / VARVE_ENOMEM. */
int vv_batch_validate_records(const uint8_t *batch, const vv_batch_header *h,
			      uint8_t **scratch, size_t *scratch_cap, uint32_t max);

#endif
