/* SPDX-License-Identifier: MIT */
/*
 * postab.c -- record position tables (see postab.h). A random read lands in
 * the middle of a batch (1,000 records for a batching producer); stepping
 * over the records before it was most of a warm read's cost. The first seek
 * into a batch walks all of its records once and keeps their positions; the
 * following seeks binary-search the table.
 * May call: log (batch), base.
 */
#include <stdatomic.h>

#include "postab.h"
#include "util.h"

/* Per segment: 1,024 sets of 4 tables. A 1 GiB segment of 1,000-record
 * batches has about 1,000 batches; with one table per slot, a fifth of them
 * shared a slot with another and two batches read in turn rebuilt each
 * other's table on every read. Four ways make that rare; within a set the
 * least recently used table goes first. */
#define WAYS 4u
#define SLOTS 4096u

/* Two kinds share the slots: a position table (at != NULL), and for a
 * batch with a record map whose map matched, which of its n chunks matched
 * (checked != NULL). */
typedef struct vv_postab {
	uint32_t n;     /* records, or chunks */
	size_t bytes;   /* charged to the budget */
	uint32_t *at;   /* n record starts, bytes past the records section's start */
	uint32_t *delta; /* n offset deltas, strictly increasing; NULL when dense */
	uint64_t *checked; /* a bit per chunk */
	uint64_t used;  /* the set's tick at its last lookup */
} vv_postab;

vv_postab_budget *vv_postab_budget_new(uint64_t limit)
{
	vv_postab_budget *b = vv_calloc(1, sizeof *b);
	if (b) {
		atomic_init(&b->used, 0);
		b->limit = limit;
		atomic_init(&b->refs, 1);
	}
	return b;
}

void vv_postab_budget_free(vv_postab_budget *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		vv_free(b);
}

uint64_t vv_postab_budget_used(const vv_postab_budget *b)
{
	return b ? atomic_load(&((vv_postab_budget *)b)->used) : 0;
}

/* Take n bytes of the budget: 0, or -1 when the limit would be passed. */
static int charge(vv_postab_budget *b, size_t n)
{
	uint64_t was = atomic_fetch_add(&b->used, n);
	if (was + n <= b->limit)
		return 0;
	atomic_fetch_sub(&b->used, n);
	return -1;
}

static void uncharge(vv_postab_budget *b, size_t n) { atomic_fetch_sub(&b->used, n); }

static void table_free(vv_postab_budget *b, vv_postab *t)
{
	if (!t)
		return;
	uncharge(b, t->bytes);
	vv_free(t);
}

void vv_postab_set_init(vv_postab_set *ps, vv_postab_budget *budget)
{
	pthread_mutex_init(&ps->mu, NULL);
	ps->budget = budget;
	if (budget)
		atomic_fetch_add(&budget->refs, 1);
	ps->slots = NULL;
	ps->nslots = 0;
	ps->tick = 0;
}

void vv_postab_set_free(vv_postab_set *ps)
{
	if (ps->slots) {
		for (uint32_t i = 0; i < ps->nslots; i++)
			table_free(ps->budget, ps->slots[i].t);
		vv_free(ps->slots);
		uncharge(ps->budget, ps->nslots * sizeof *ps->slots);
	}
	ps->slots = NULL;
	ps->nslots = 0;
	vv_postab_budget_free(ps->budget);
	ps->budget = NULL;
	pthread_mutex_destroy(&ps->mu);
}

/* The first slot of pos's set. */
static uint32_t set_of(uint64_t pos)
{
	return (uint32_t)((pos * 0x9E3779B97F4A7C15ull) >> 52) & (SLOTS - WAYS);
}

/* Walk every record of the batch rr stands at the start of, with the checks
 * vv_record_skip_before makes. NULL when the budget is spent, without
 * memory, or when a record does not decode (the caller's own walk then
 * reports it where it meets it, as without tables). */
static vv_postab *build(vv_postab_budget *b, const vv_record_reader *rr)
{
	uint32_t n = rr->remaining;
	size_t span = (size_t)(rr->end - rr->p);
	if (n == 0 || n > span) /* every record takes a byte at least */
		return NULL;
	/* Dense: the last delta is n - 1, so the strictly increasing deltas are
	 * 0..n-1 and record i is offset base + i (every batch that compaction
	 * did not thin). Its table needs no deltas and no search. */
	int dense = rr->h.last_offset_delta == (int64_t)n - 1;
	size_t bytes = sizeof(vv_postab) + (size_t)n * (dense ? 1 : 2) * sizeof(uint32_t);
	if (charge(b, bytes))
		return NULL;
	vv_postab *t = vv_malloc(bytes);
	if (!t) {
		uncharge(b, bytes);
		return NULL;
	}
	t->n = n;
	t->bytes = bytes;
	t->at = (uint32_t *)(t + 1);
	t->delta = dense ? NULL : t->at + n;
	t->checked = NULL;
	const uint8_t *p = rr->p, *start = rr->p, *end = rr->end;
	const uint64_t last = rr->h.last_offset_delta;
	int64_t prev = -1;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *q = p, *rec_end;
		uint64_t body, delta;
		if (vv_varint_get(&q, end, &body) || body > (uint64_t)(end - q) ||
		    (rec_end = q + body, vv_varint_get(&q, rec_end, &delta)) ||
		    (int64_t)delta <= prev || delta > last || (i == n - 1 && delta != last)) {
			table_free(b, t);
			return NULL;
		}
		t->at[i] = (uint32_t)(p - start);
		if (!dense)
			t->delta[i] = (uint32_t)delta;
		prev = (int64_t)delta;
		p = rec_end;
	}
	return t;
}

/* Lock held: the slot array exists (charged to the budget), or 0 is returned. */
static int ensure_slots(vv_postab_set *ps)
{
	if (ps->slots)
		return 1;
	if (charge(ps->budget, SLOTS * sizeof *ps->slots))
		return 0;
	ps->slots = vv_calloc(SLOTS, sizeof *ps->slots);
	if (!ps->slots) {
		uncharge(ps->budget, SLOTS * sizeof *ps->slots);
		return 0;
	}
	ps->nslots = SLOTS;
	return 1;
}

/* Lock held, slots exist: the table of the kind asked for (chunks: a
 * record map's) at pos with n entries, else NULL and in *slot the slot a
 * new one goes to (an empty one, else the set's least recently used). */
static vv_postab *find(vv_postab_set *ps, uint64_t pos, int chunks, uint32_t n, uint32_t *slot)
{
	uint32_t set = set_of(pos);
	*slot = set;
	for (uint32_t w = 0; w < WAYS; w++) {
		vv_postab_slot *c = &ps->slots[set + w];
		if (c->t && c->pos == pos && c->t->n == n && (c->t->checked != NULL) == chunks)
			return c->t;
		if (!c->t || (ps->slots[*slot].t && c->t->used < ps->slots[*slot].t->used))
			*slot = set + w;
	}
	return NULL;
}

/* First record with base + delta >= offset: i in [0, n]. */
static uint32_t first_at_or_after(const vv_postab *t, int64_t base, int64_t offset)
{
	if (!t->delta) /* dense: no search, and no cache misses walking one */
		return offset <= base ? 0 : offset - base >= t->n ? t->n : (uint32_t)(offset - base);
	uint32_t lo = 0, hi = t->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (base + (int64_t)t->delta[mid] < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int vv_postab_skip(vv_postab_set *ps, uint64_t pos, vv_record_reader *rr, int64_t offset)
{
	if ((rr->h.attributes & VV_ATTR_CODEC_MASK) != 0 || !ps->budget || ps->budget->limit == 0)
		return 1; /* compressed records live in the reader's scratch, not in place */
	pthread_mutex_lock(&ps->mu);
	int rc = 1;
	if (!ensure_slots(ps))
		goto out;
	uint32_t slot;
	vv_postab *t = find(ps, pos, 0, rr->remaining, &slot);
	if (!t) {
		/* the table the miss replaces gives its bytes back first, so a full
		 * budget still lets the tables in use move on */
		table_free(ps->budget, ps->slots[slot].t);
		ps->slots[slot].t = NULL;
		if (!(t = build(ps->budget, rr)))
			goto out; /* the caller walks the batch itself */
		ps->slots[slot] = (vv_postab_slot){ pos, t };
	}
	t->used = ++ps->tick;
	uint32_t i = first_at_or_after(t, rr->h.base_offset, offset);
	rr->prev_delta = i == 0 ? -1 : t->delta ? (int64_t)t->delta[i - 1] : (int64_t)i - 1;
	rr->p += i < t->n ? t->at[i] : (size_t)(rr->end - rr->p);
	rr->remaining = t->n - i;
	rc = 0;
out:
	pthread_mutex_unlock(&ps->mu);
	return rc;
}

/* ---- record maps: which chunks matched ------------------------------------ */

int vv_postab_chunk_checked(vv_postab_set *ps, uint64_t pos, uint32_t nchunks, uint32_t chunk)
{
	if (!ps->budget || ps->budget->limit == 0)
		return 0;
	pthread_mutex_lock(&ps->mu);
	int known = 0;
	uint32_t slot;
	vv_postab *t = ps->slots ? find(ps, pos, 1, nchunks, &slot) : NULL;
	if (t) {
		t->used = ++ps->tick;
		known = chunk < t->n && ((t->checked[chunk / 64] >> (chunk % 64)) & 1) ? 2 : 1;
	}
	pthread_mutex_unlock(&ps->mu);
	return known;
}

void vv_postab_note_chunks(vv_postab_set *ps, uint64_t pos, uint32_t nchunks, uint32_t from,
			   uint32_t to)
{
	if (!ps->budget || ps->budget->limit == 0)
		return;
	pthread_mutex_lock(&ps->mu);
	uint32_t slot;
	vv_postab *t = NULL;
	if (ensure_slots(ps) && !(t = find(ps, pos, 1, nchunks, &slot))) {
		table_free(ps->budget, ps->slots[slot].t);
		ps->slots[slot].t = NULL;
		size_t bytes = sizeof(vv_postab) + ((size_t)nchunks + 63) / 64 * sizeof(uint64_t);
		if (charge(ps->budget, bytes) == 0) {
			if ((t = vv_calloc(1, bytes)) != NULL) {
				t->n = nchunks;
				t->bytes = bytes;
				t->checked = (uint64_t *)(t + 1);
				ps->slots[slot] = (vv_postab_slot){ pos, t };
			} else {
				uncharge(ps->budget, bytes);
			}
		}
	}
	if (t) {
		t->used = ++ps->tick;
		for (uint32_t i = from; i < to && i < t->n; i++)
			t->checked[i / 64] |= (uint64_t)1 << (i % 64);
	}
	pthread_mutex_unlock(&ps->mu);
}
