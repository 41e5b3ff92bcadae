/* SPDX-License-Identifier: MIT */
/*
 * karena.h -- the bump allocator that holds one decoded request's arrays.
 *
 * Decoded strings and byte fields are slices into the request frame; only
 * arrays need memory, and all of it comes from an arena that the broker
 * resets between requests, so a handler never frees anything and a decoder
 * that fails half-way leaks nothing.
 *
 * Two limits keep a hostile frame from making the broker allocate: `cap`,
 * fixed at init, is never exceeded; `budget` (at most cap) is what the
 * current request may use, set by the decoder from the frame length
 * (kmsg.h: VS_ARENA_BUDGET). An allocation past either fails with err =
 * VS_KBUF_LIMIT; a failed malloc sets err = VS_KBUF_NOMEM. err stays set
 * until the next reset.
 *
 * Memory comes back zeroed and aligned for any type. Not thread-safe: one
 * arena per connection (or per worker).
 */
#ifndef VS_KARENA_H
#define VS_KARENA_H

#include <stddef.h>

typedef struct vs_arena_chunk vs_arena_chunk;

typedef struct vs_arena {
	vs_arena_chunk *chunks; /* newest first */
	size_t used;            /* bytes handed out since the last reset */
	size_t budget;          /* used may not grow past this */
	size_t cap;             /* budget never exceeds this */
	int err;                /* VS_KBUF_LIMIT or VS_KBUF_NOMEM, sticky until reset */
} vs_arena;

/* Size of the chunks small allocations share. */
#define VS_ARENA_CHUNK 16384

void vs_arena_init(vs_arena *a, size_t cap);
void vs_arena_free(vs_arena *a);
/* Forget every allocation and the error; the budget becomes the cap. One
 * chunk is kept for the next request. */
void vs_arena_reset(vs_arena *a);
/* Allow `extra` more bytes beyond what is used now (capped at cap). */
void vs_arena_set_budget(vs_arena *a, size_t extra);
/* n elements of `size` bytes, zeroed; NULL (and err set) when n * size
 * overflows or passes the budget, or malloc fails. n == 0 returns a valid
 * non-NULL pointer to nothing. */
void *vs_arena_alloc(vs_arena *a, size_t n, size_t size);

#endif
