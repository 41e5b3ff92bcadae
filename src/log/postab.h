/* SPDX-License-Identifier: MIT */
/*
 * postab.h -- record position tables: for a batch that a seek landed in the
 * middle of, where each record starts and its offset delta, so the next
 * seek into the same batch jumps to its record instead of stepping over
 * the records before it. Built from the bytes of a batch whose checksum
 * matched (the reader checks it before asking), kept per segment object
 * (the bytes under a segment object never change while it lives), bounded
 * in memory by the store's budget (varve_options.read_cache_bytes).
 *
 * The same slots remember, for a batch with a record map (FORMAT.md), that
 * its map matched and which of its chunks did.
 *
 * Invariants: a table is only read under its set's lock (a lookup copies
 * three numbers out), so replacing one never frees memory in use; the
 * bytes held by all tables and slot arrays never exceed the limit.
 * May call: log (batch), base.
 */
#ifndef VV_POSTAB_H
#define VV_POSTAB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "batch.h"

#define VV_POSTAB_DEFAULT_LIMIT ((uint64_t)64 << 20)

struct vv_postab;

/* A slot keeps its table's batch position beside the pointer, so a lookup
 * compares a set's keys without touching the tables themselves. */
typedef struct vv_postab_slot {
	uint64_t pos;
	struct vv_postab *t; /* NULL: empty */
} vv_postab_slot;

/* The memory of one store's tables: every table and slot array is charged
 * here before it is allocated and given back when it is freed. */
typedef struct vv_postab_budget {
	_Atomic uint64_t used;
	uint64_t limit; /* 0: no tables */
	_Atomic long refs; /* the store's, and one per table set using it */
} vv_postab_budget;

/* NULL without memory. */
vv_postab_budget *vv_postab_budget_new(uint64_t limit);
/* Drop the store's reference: the budget goes with the last table set
 * (an iterator left open past varve_close may still hold a segment). */
void vv_postab_budget_free(vv_postab_budget *b);
uint64_t vv_postab_budget_used(const vv_postab_budget *b);

/* The tables of one segment: a set-associative array of slots keyed by
 * batch position (4 ways; a miss in a full set replaces its least recently
 * used table). */
typedef struct vv_postab_set {
	pthread_mutex_t mu;
	vv_postab_budget *budget; /* NULL: no tables */
	struct vv_postab_slot *slots; /* a set's 4 slots share a cache line */
	uint32_t nslots;
	uint64_t tick; /* lookups, for the replacement order */
} vv_postab_set;

void vv_postab_set_init(vv_postab_set *ps, vv_postab_budget *budget);
/* Free every table (the segment object goes away). */
void vv_postab_set_free(vv_postab_set *ps);

/* rr was just initialised on the batch at segment position pos (checksum
 * matched): move it to the first record with an offset >= offset through the
 * batch's table, building it on first use. Returns 0 when done, 1 when the
 * caller must step over the records itself (a compressed batch, the memory
 * limit reached, no memory, or records that do not decode: the caller's
 * walk reports those where it meets them, as without tables). */
int vv_postab_skip(vv_postab_set *ps, uint64_t pos, vv_record_reader *rr, int64_t offset);

/* A batch with a record map at pos (nchunks chunks): 0 when its map was not
 * seen to match (or nothing is kept), 1 when it was, 2 when chunk `chunk`
 * matched too. Like position tables, the marks live with the segment object
 * and are charged to the budget. */
int vv_postab_chunk_checked(vv_postab_set *ps, uint64_t pos, uint32_t nchunks, uint32_t chunk);
/* The map of the batch at pos matched, and chunks [from, to) did. */
void vv_postab_note_chunks(vv_postab_set *ps, uint64_t pos, uint32_t nchunks, uint32_t from,
			   uint32_t to);

#endif
