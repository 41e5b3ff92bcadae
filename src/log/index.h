/* SPDX-License-Identifier: MIT */
/*
 * index.h -- the sparse offset index and the time index of one segment.
 *
 * Files (no header; docs/FORMAT.md):
 *   .index      8-byte entries:  u32 offset - base, u32 byte position in .log
 *   .timeindex 12-byte entries:  i64 max timestamp so far, u32 offset - base
 *
 * Index files are hints, never the truth: entries are loaded into memory,
 * validated (strictly increasing, inside the log) and cut at the first bad
 * one; a lookup's landing batch is checked against the log by the caller.
 * So zero-filled or garbage space can never pass as an entry (the Kafka bug
 * where a preallocated index read as valid and data was deleted early).
 */
#ifndef VV_INDEX_H
#define VV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define VV_INDEX_ENTRY 8
#define VV_TIMEINDEX_ENTRY 12

typedef struct vv_index {
	uint32_t *rel; /* offset - base */
	uint32_t *pos; /* byte position of the batch holding that offset */
	size_t n, cap;
	int64_t *tts;   /* max timestamp so far */
	uint32_t *trel; /* offset - base of the batch where it was reached */
	size_t tn, tcap;
	size_t written_n, written_tn; /* entries already in the files */
} vv_index;

void vv_index_init(vv_index *ix);
void vv_index_free(vv_index *ix);
void vv_index_clear(vv_index *ix);

int vv_index_add(vv_index *ix, uint32_t rel, uint32_t pos);
int vv_index_add_time(vv_index *ix, int64_t ts, uint32_t rel);
/* Drop entries at or past byte position pos (offset index) and offset rel (time). */
void vv_index_truncate(vv_index *ix, uint64_t pos, uint32_t rel);

/* Largest entry with rel <= target: byte position to start scanning (0 if none). */
uint32_t vv_index_lookup(const vv_index *ix, uint32_t target_rel, uint32_t *found_rel);
/* First time entry with ts >= target; returns -1 if none, else its index.
 * *scan_rel is the rel of the entry before it (where a scan must start). */
long vv_index_lookup_time(const vv_index *ix, int64_t target, uint32_t *scan_rel);

/* Where the appender stands: entries are added for the first batch and then
 * for the first batch at least `interval` bytes past the last entry; a time
 * entry goes with it when the max timestamp grew. Appends, recovery scans
 * and compaction all index through here, so they agree. */
typedef struct vv_index_cursor {
	uint64_t last_pos;
	int64_t last_ts;
	int has_entry;
} vv_index_cursor;

void vv_index_cursor_reset(vv_index_cursor *c, const vv_index *ix);
int vv_index_note(vv_index *ix, vv_index_cursor *c, uint64_t pos, uint32_t rel, int64_t max_ts,
		  uint32_t interval);
/* Final time entry at seal: the segment's max timestamp at its last rel. */
int vv_index_seal(vv_index *ix, vv_index_cursor *c, int64_t max_ts, uint32_t last_rel);

/* Load both files. Entries that break the rules (not strictly increasing,
 * position at or past log_size, rel past max_rel) end the load: *damaged is
 * set and the caller rebuilds. Missing files leave the index empty and set
 * *damaged too (nothing to trust). */
int vv_index_load(vv_index *ix, vv_file *idx, vv_file *tidx, uint64_t log_size, uint32_t max_rel,
		  int *damaged);

/* Append entries not yet written to the files (no fsync). */
int vv_index_flush(vv_index *ix, vv_file *idx, vv_file *tidx);
/* Rewrite both files from memory (after a rebuild), truncating them. */
int vv_index_rewrite(vv_index *ix, vv_file *idx, vv_file *tidx);

#endif
