/* SPDX-License-Identifier: MIT */
/*
 * rec_util.h -- helpers for the server/records tests: a deterministic
 * random generator, a bit-at-a-time CRC-32C that shares no code with
 * crc32c.c, and a writer of hand-built batch images whose every field the
 * test chooses (so a test can break exactly one rule).
 */
#ifndef VS_REC_UTIL_H
#define VS_REC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/kbuf.h"
#include "varve.h"

/* xorshift64*: the same sequence on every run and machine. */
uint64_t tr_rand(uint64_t *state);
void tr_fill(uint8_t *buf, size_t n, uint64_t *state);

/* CRC-32C, one bit at a time, straight from the definition. */
uint32_t tr_crc32c_ref(const void *buf, size_t len);

/* Header fields of a hand-built batch. length == TR_AUTO and crc == TR_AUTO
 * are computed; anything else is written as given. */
#define TR_AUTO INT64_MIN
typedef struct tr_batch {
	int64_t base_offset;
	int64_t length;
	int32_t partition_leader_epoch;
	int8_t magic;
	int64_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
} tr_batch;

/* Defaults for n records: magic 2, everything consistent, no producer. */
tr_batch tr_batch_default(int32_t n);

/* Append a batch: the 61-byte header then `records` as given. */
void tr_write_batch(vs_wbuf *w, const tr_batch *b, const void *records, size_t records_len);

/* Append one record in the wire format; key/value NULL = null. Headers
 * come from varve_header (value NULL = null; key written as is). */
void tr_write_record(vs_wbuf *w, int32_t offset_delta, int64_t ts_delta, const void *key,
		     size_t key_len, const void *value, size_t value_len, const varve_header *hdrs,
		     size_t nhdrs);

/* Records 0..n-1 with key "k<i>", value "value-<i>", timestamp delta i. */
void tr_write_simple_records(vs_wbuf *w, int32_t n);

/* A lenient reader of one uncompressed batch, independent of decode.c:
 * it takes any offset deltas (as Fetch responses have after compaction).
 * Fills at most max records; returns the record count, or -1 when the
 * bytes are not a well-formed batch (CRC included). */
typedef struct tr_rec {
	int32_t offset_delta;
	int64_t ts_delta;
	const uint8_t *key, *value; /* NULL = null */
	int32_t key_len, value_len;
	int32_t header_count;
} tr_rec;
int tr_parse_batch(const uint8_t *p, size_t len, tr_rec *recs, int max);

/* Read a whole file (tests' data dir); NULL if missing. free() it. */
uint8_t *tr_read_file(const char *path, size_t *len);

#endif
