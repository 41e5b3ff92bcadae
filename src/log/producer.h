/* SPDX-License-Identifier: MIT */
/*
 * producer.h -- idempotent-producer state of one partition: for each
 * producer id, its epoch and the last VV_PRODUCER_WINDOW batches it appended
 * (first and last sequence, first and last offset), as Kafka keeps five.
 *
 * Rules for a batch (pid, epoch, seq, count):
 *   epoch < known epoch            -> VARVE_EFENCED
 *   epoch > known epoch            -> accepted only with seq 0 (new epoch)
 *   seq = first seq of a remembered batch with the same count
 *                                  -> duplicate: its offsets are returned
 *   seq = last seq + 1             -> appended
 *   seq behind last seq (not in the window; "behind" = at most 2^30 back)
 *                                  -> VARVE_EDUPLICATE
 *   anything else                  -> VARVE_ESEQUENCE (gap)
 * Sequences wrap from INT32_MAX to 0 (Kafka's rule).
 * An unknown producer id is accepted at any sequence (its state may have
 * expired or been compacted away).
 *
 * The state is rebuilt at open from a snapshot file (producer-snapshot,
 * written at checkpoints and clean close) plus the batch headers after it.
 */
#ifndef VV_PRODUCER_H
#define VV_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define VV_PRODUCER_WINDOW 5
#define VV_PRODUCER_SNAPSHOT_FILE "producer-snapshot"

typedef struct vv_pbatch {
	int32_t first_seq, last_seq;
	int64_t first_offset, last_offset;
} vv_pbatch;

typedef struct vv_pentry {
	int64_t pid;
	uint16_t epoch;
	uint8_t n;    /* batches in the window */
	uint8_t head; /* index of the newest */
	vv_pbatch b[VV_PRODUCER_WINDOW];
	int64_t last_time;
} vv_pentry;

typedef struct vv_pstate {
	vv_pentry *v; /* open addressing by pid; pid -1 = empty */
	size_t cap, n;
} vv_pstate;

void vv_pstate_init(vv_pstate *s);
void vv_pstate_free(vv_pstate *s);

/* Sequence arithmetic (sequences are 0..INT32_MAX and wrap to 0): seq + n,
 * and how far `to` is ahead of `from`. */
int32_t vv_seq_add(int32_t seq, uint32_t n);
uint32_t vv_seq_distance(int32_t from, int32_t to);

/* Check a batch. Returns 0 (append it), 1 (duplicate: *dup holds the
 * remembered batch), or VARVE_EFENCED / VARVE_ESEQUENCE / VARVE_EDUPLICATE. */
int vv_pstate_check(const vv_pstate *s, int64_t pid, uint16_t epoch, int32_t seq, uint32_t count,
		    vv_pbatch *dup);
/* Remember an appended batch. */
int vv_pstate_note(vv_pstate *s, int64_t pid, uint16_t epoch, int32_t seq, uint32_t count,
		   int64_t first_offset, int64_t last_offset, int64_t time);
/* Last sequence of pid (with its epoch); -1 if unknown. */
int32_t vv_pstate_last_seq(const vv_pstate *s, int64_t pid, uint16_t *epoch);

/* Snapshot: the state of all batches below `offset`. */
int vv_pstate_save(const vv_pstate *s, const vv_io_methods *io, const char *dir, int64_t offset,
		   unsigned mode);
/* Load; *offset = where the log must be replayed from (0 without a snapshot). */
int vv_pstate_load(vv_pstate *s, const vv_io_methods *io, const char *dir, int64_t *offset);

#endif
