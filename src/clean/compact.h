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
 *  3. Crash-safe swap, per group of old segments S1..Sk -> new segment N
 *     (base of S1):
 *       a. write N as <b>.log.cleaned / .index.cleaned / .timeindex.cleaned
 *          and <b>.replaces (the bases of S1..Sk); fsync each; fsync dir
 *       b. rename the index files to .swap, then the log to .swap: the
 *          <b>.log.swap rename is the commit point; fsync dir
 *       c. unlink S2..Sk; rename .swap files over S1's names (log last);
 *          unlink <b>.replaces; fsync dir
 *     On open, vv_compact_recover_dir: a <b>.log.swap means N is complete,
 *     so step c is finished; without it, every .cleaned/.swap/.replaces file
 *     is removed and S1..Sk are intact. Either the old set or the new one,
 *     never a mix and never a loss.
 *  4. Readers holding S1..Sk keep reading them through open descriptors:
 *     the old segments are opened before the swap and marked replaced, so
 *     nothing touches their files by name again.
 */
#ifndef VV_COMPACT_H
#define VV_COMPACT_H

#include "partition.h"

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

/* A file a compaction swap leaves while it runs: .cleaned, .swap, .replaces. */
int vv_compact_is_swap_file(const char *name);

/* Finish or roll back an interrupted swap in a partition directory. */
int vv_compact_recover_dir(const char *dir);

/* Read-only opens change nothing, so they read an interrupted swap as it
 * stands: for every committed swap (<b>.log.swap with a valid .replaces),
 * remove the bases it replaces from bases[0..*n) (sorted order is the
 * caller's job) and add b if missing; *swapped lists the bases whose log
 * is <b>.log.swap. Caller frees *swapped. */
int vv_compact_swap_view(const char *dir, int64_t *bases, size_t *n, int64_t **swapped,
			 size_t *nswapped);

/* How far compaction got, and when the earliest tombstone it kept may be
 * dropped (0 = unknown: maybe now). */
int vv_compact_load_checkpoint(const char *dir, int64_t *clean_offset, int64_t *tomb_due);

/* Compact p if its dirty ratio calls for it (or force). */
int vv_compact_partition(vv_partition *p, const vv_compact_params *prm, vv_compact_stats *st);

#endif
