/* SPDX-License-Identifier: MIT */
/*
 * timer.c -- the timer heap (see timer.h).
 */
#include <stdlib.h>

#include "timer.h"

void vs_timers_init(vs_timers *t)
{
	t->heap = NULL;
	t->len = t->cap = 0;
	vs_map_init(&t->by_id);
	t->next_id = 1;
}

void vs_timers_free(vs_timers *t)
{
	for (size_t i = 0; i < t->len; i++)
		free(t->heap[i]);
	free(t->heap);
	vs_map_free(&t->by_id);
	t->heap = NULL;
	t->len = t->cap = 0;
}

static int before(const vs_timer *a, const vs_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->id < b->id);
}

static void place(vs_timers *t, size_t i, vs_timer *tm)
{
	t->heap[i] = tm;
	tm->heap_index = i;
}

static void sift_up(vs_timers *t, size_t i)
{
	vs_timer *tm = t->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(tm, t->heap[parent]))
			break;
		place(t, i, t->heap[parent]);
		i = parent;
	}
	place(t, i, tm);
}

static void sift_down(vs_timers *t, size_t i)
{
	vs_timer *tm = t->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= t->len)
			break;
		if (child + 1 < t->len && before(t->heap[child + 1], t->heap[child]))
			child++;
		if (!before(t->heap[child], tm))
			break;
		place(t, i, t->heap[child]);
		i = child;
	}
	place(t, i, tm);
}

/* Take the timer at heap index i out of the heap and the map. */
static void unlink_at(vs_timers *t, size_t i)
{
	vs_timer *tm = t->heap[i];
	vs_map_del(&t->by_id, vs_key_u64(tm->id));
	t->len--;
	if (i == t->len)
		return;
	place(t, i, t->heap[t->len]);
	/* the moved timer may belong above or below its new place */
	if (i > 0 && before(t->heap[i], t->heap[(i - 1) / 2]))
		sift_up(t, i);
	else
		sift_down(t, i);
}

uint64_t vs_timers_add(vs_timers *t, int64_t deadline, vs_timer_fn fn, void *arg)
{
	if (t->len == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		vs_timer **nh = realloc(t->heap, ncap * sizeof *nh);
		if (!nh)
			return 0;
		t->heap = nh;
		t->cap = ncap;
	}
	vs_timer *tm = malloc(sizeof *tm);
	if (!tm)
		return 0;
	int created;
	vs_map_val *v = vs_map_put(&t->by_id, vs_key_u64(t->next_id), &created);
	if (!v) {
		free(tm);
		return 0;
	}
	tm->deadline = deadline;
	tm->id = t->next_id++;
	tm->fn = fn;
	tm->arg = arg;
	v->ptr = tm;
	t->heap[t->len] = tm;
	tm->heap_index = t->len;
	t->len++;
	sift_up(t, t->len - 1);
	return tm->id;
}

int vs_timers_cancel(vs_timers *t, uint64_t id)
{
	vs_map_val *v = vs_map_get(&t->by_id, vs_key_u64(id));
	if (!v)
		return 0;
	vs_timer *tm = v->ptr;
	unlink_at(t, tm->heap_index);
	free(tm);
	return 1;
}

int64_t vs_timers_next(const vs_timers *t)
{
	return t->len ? t->heap[0]->deadline : INT64_MAX;
}

size_t vs_timers_run(vs_timers *t, int64_t now)
{
	uint64_t first_new_id = t->next_id;
	size_t ran = 0;
	while (t->len && t->heap[0]->deadline <= now) {
		vs_timer *tm = t->heap[0];
		/* Added during this call: leave it (and anything behind it)
		 * for the next call. The loop's new deadlines are never before
		 * its "now", so in practice only new timers are left. */
		if (tm->id >= first_new_id)
			break;
		unlink_at(t, 0);
		vs_timer_fn fn = tm->fn;
		void *arg = tm->arg;
		free(tm);
		fn(arg);
		ran++;
	}
	return ran;
}
