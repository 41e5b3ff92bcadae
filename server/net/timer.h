/* SPDX-License-Identifier: MIT */
/*
 * timer.h -- one-shot timers: a binary min-heap ordered by (deadline, id)
 * plus an id -> timer map so a timer can be cancelled by id.
 *
 * Invariants: ids come from a counter starting at 1 and are never reused
 * (0 means "no timer"); timers with the same deadline fire in the order
 * they were added; a timer added while timers are firing never fires in
 * the same vs_timers_run call, so a callback that re-arms itself with a
 * zero delay cannot trap the loop. A cancelled or fired id is forgotten:
 * cancelling it again does nothing.
 *
 * Times are plain milliseconds from the caller's clock (the loop's
 * monotonic clock); this file never reads a clock. Not thread-safe.
 * Calls only libc and map.h.
 */
#ifndef VS_NET_TIMER_H
#define VS_NET_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "map.h"

typedef void (*vs_timer_fn)(void *arg);

typedef struct vs_timer {
	int64_t deadline;
	uint64_t id;
	vs_timer_fn fn;
	void *arg;
	size_t heap_index;
} vs_timer;

typedef struct vs_timers {
	vs_timer **heap;
	size_t len, cap;
	vs_map by_id;
	uint64_t next_id;
} vs_timers;

void vs_timers_init(vs_timers *t);
/* Drops the pending timers without running them. */
void vs_timers_free(vs_timers *t);
/* A timer due at deadline; returns its id, or 0 when out of memory. */
uint64_t vs_timers_add(vs_timers *t, int64_t deadline, vs_timer_fn fn, void *arg);
/* 1 if the timer was pending and is now cancelled, 0 otherwise. */
int vs_timers_cancel(vs_timers *t, uint64_t id);
/* The earliest deadline, or INT64_MAX when no timer is pending. */
int64_t vs_timers_next(const vs_timers *t);
/* Run, earliest first, every timer due at or before now that was added
 * before this call; returns how many ran. Callbacks may add and cancel. */
size_t vs_timers_run(vs_timers *t, int64_t now);
static inline size_t vs_timers_pending(const vs_timers *t) { return t->len; }

#endif
