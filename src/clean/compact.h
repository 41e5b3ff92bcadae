/* SPDX-License-Identifier: MIT */
/*
 * compact.h -- key compaction of a partition's non-active segments: keep the
 * latest record of every key, drop tombstones older than the delete
 * retention, never change an offset.
 *
 * NOTES ON THE DESIGN
 *  1. The key map holds a 96-bit fingerprint per key (XXH3-128 of the key:
 *     64 bits probe, 32 more bits check) and the key's latest offset, in an
 *     open-addressing table sized by the memory cap. Two keys that share all
 *     96 bits (about 2^-96 per pair) would be treated as one key, and the
 *     older one's records dropped; we accept that, as Kafka accepts MD5's.
 *  2. If the map fills up, compaction covers the segments that were wholly
 *     mapped and resumes from there next round (the cleaner checkpoint).
 *  3. The new segment replaces the old ones through the swap protocol of
 *     the log layer (swap.h): a crash leaves the old set or the new one.
 */
#ifndef VV_COMPACT_H
#define VV_COMPACT_H

#include "partition.h"
#include "swap.h"

typedef struct vv_compact_params {
	int64_t now;
	int64_t delete_retention_ms;
	double min_dirty_ratio;
	int force;               /* ignore the dirty ratio */
	size_t map_memory;       /* bytes for the key map */
	uint64_t io_bytes_per_sec; /* 0 = unlimited */
	uint64_t segment_bytes;  /* cap on a compacted segment's input size */
	/* test hook: called at each step of the swap; nonzero aborts there */
	int (*step_hook)(void *ctx, const char *step);
	void *step_ctx;
} vv_compact_params;

typedef struct vv_compact_stats {
	int ran;
	uint64_t bytes_read, bytes_written;
	uint64_t records_kept, records_dropped, tombstones_dropped;
	uint64_t segments_in, segments_out;
	int64_t tomb_due; /* when the earliest tombstone kept may go; INT64_MAX if none */
} vv_compact_stats;

/* How far compaction got, and when the earliest tombstone it kept may be
 * dropped (0 = unknown: maybe now). */
int vv_compact_load_checkpoint(const vv_io_methods *io, const char *dir, int64_t *clean_offset,
			       int64_t *tomb_due);

/* Compact p if its dirty ratio calls for it (or force). */
int vv_compact_partition(vv_partition *p, const vv_compact_params *prm, vv_compact_stats *st);

#endif
