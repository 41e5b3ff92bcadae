/* SPDX-License-Identifier: MIT */
/*
 * swap.h -- replacing consecutive segments of a partition by one new
 * segment, crash-safely (the protocol is in swap.c). Compaction writes the
 * new segment's files at the paths vv_swap_new_paths gives, then calls
 * vv_swap_install.
 */
#ifndef VV_SWAP_H
#define VV_SWAP_H

#include "partition.h"

/* Where the new segment's log and index files are written before the swap
 * (each buffer of cap bytes). */
void vv_swap_new_paths(const char *dir, int64_t base, char *log, char *idx, char *tidx, size_t cap);
/* Remove the files of a swap that will not happen (before its commit). */
void vv_swap_abandon(const vv_io_methods *io, const char *dir, int64_t base);

/* Test hook: called at each step ("cleaned-written", "index-swapped",
 * "committed"); nonzero stops the swap there (as a crash would). */
typedef struct vv_swap_hook {
	int (*fn)(void *ctx, const char *step);
	void *ctx;
} vv_swap_hook;

/* Install the new segment (its files written and synced, new_size bytes,
 * max timestamp new_max_ts) in place of old[0..k); next_base is the base
 * of the segment after old[k-1]. Before the commit point a failure leaves
 * the old set whole (the new files are removed); after it, the next open
 * finishes the swap. */
int vv_swap_install(vv_partition *p, vv_segment *const *old, size_t k, int64_t next_base,
		    uint64_t new_size, int64_t new_max_ts, const vv_swap_hook *hook);

/* A file a swap leaves while it runs: .cleaned, .swap, .replaces. */
int vv_swap_is_file(const char *name);
/* Finish or roll back an interrupted swap in a partition directory. */
int vv_swap_recover_dir(const vv_io_methods *io, const char *dir);
/* Read-only opens change nothing, so they read an interrupted swap as it
 * stands: for every committed swap (<b>.log.swap with a valid .replaces),
 * remove the bases it replaces from bases[0..*n) (sorted order is the
 * caller's job) and add b if missing; *swapped lists the bases whose log
 * is <b>.log.swap. Caller frees *swapped. */
int vv_swap_view(const vv_io_methods *io, const char *dir, int64_t *bases, size_t *n,
		 int64_t **swapped, size_t *nswapped);

#endif
