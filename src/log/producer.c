/* SPDX-License-Identifier: MIT */
/* producer.c -- per-partition idempotent-producer state (see producer.h). */
#include <stdio.h>
#include <xxhash.h>

#include "io.h"
#include "producer.h"
#include "util.h"
#include "varve.h"

#define SNAP_MAGIC 0x53505256u /* "VRPS" */

/* Sequences are 31-bit and wrap from INT32_MAX to 0, as Kafka's do: a
 * producer that sends more than 2^31 records keeps going. */
#define SEQ_MOD 0x80000000u

int32_t vv_seq_add(int32_t seq, uint32_t n) { return (int32_t)(((uint32_t)seq + n) % SEQ_MOD); }

uint32_t vv_seq_distance(int32_t from, int32_t to)
{
	return ((uint32_t)to - (uint32_t)from) % SEQ_MOD;
}

void vv_pstate_init(vv_pstate *s) { memset(s, 0, sizeof *s); }

void vv_pstate_free(vv_pstate *s)
{
	vv_free(s->v);
	memset(s, 0, sizeof *s);
}

static size_t slot(const vv_pstate *s, int64_t pid)
{
	size_t i = (size_t)XXH3_64bits(&pid, sizeof pid) & (s->cap - 1);
	while (s->v[i].pid != -1 && s->v[i].pid != pid)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static const vv_pentry *find(const vv_pstate *s, int64_t pid)
{
	if (!s->cap)
		return NULL;
	const vv_pentry *e = &s->v[slot(s, pid)];
	return e->pid == pid ? e : NULL;
}

static int grow(vv_pstate *s)
{
	size_t nc = s->cap ? s->cap * 2 : 16;
	vv_pentry *nv = vv_malloc(nc * sizeof *nv);
	if (!nv)
		return vv_error_set(VARVE_ENOMEM, 0, "producer state");
	for (size_t i = 0; i < nc; i++)
		nv[i].pid = -1;
	vv_pstate old = *s;
	s->v = nv;
	s->cap = nc;
	s->n = 0;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.v[i].pid == -1)
			continue;
		s->v[slot(s, old.v[i].pid)] = old.v[i];
		s->n++;
	}
	vv_free(old.v);
	return 0;
}

int vv_pstate_check(const vv_pstate *s, int64_t pid, uint16_t epoch, int32_t seq, uint32_t count,
		    vv_pbatch *dup)
{
	const vv_pentry *e = find(s, pid);
	if (!e || e->n == 0)
		return 0;
	if (epoch < e->epoch)
		return vv_error_set(VARVE_EFENCED, 0, "producer %lld epoch %u is fenced by epoch %u",
				    (long long)pid, epoch, e->epoch);
	if (epoch > e->epoch) {
		if (seq != 0)
			return vv_error_set(VARVE_ESEQUENCE, 0,
					    "producer %lld: a new epoch must start at sequence 0, got %d",
					    (long long)pid, seq);
		return 0;
	}
	for (uint8_t k = 0; k < e->n; k++) {
		const vv_pbatch *b = &e->b[(e->head + VV_PRODUCER_WINDOW - k) % VV_PRODUCER_WINDOW];
		if (b->first_seq != seq)
			continue;
		uint32_t had = vv_seq_distance(b->first_seq, b->last_seq) + 1;
		if (had != count)
			return vv_error_set(VARVE_ESEQUENCE, 0,
					    "producer %lld: sequence %d was a batch of %u records, not %u",
					    (long long)pid, seq, (unsigned)had, count);
		*dup = *b;
		return 1;
	}
	int32_t last = e->b[e->head].last_seq;
	if (seq == vv_seq_add(last, 1))
		return 0;
	/* behind the last batch (within half the sequence space): a retry of
	 * something older than the window; ahead of it: a gap */
	if (vv_seq_distance(seq, last) < SEQ_MOD / 2)
		return vv_error_set(VARVE_EDUPLICATE, 0,
				    "producer %lld: sequence %d was appended long ago (last is %d)",
				    (long long)pid, seq, last);
	return vv_error_set(VARVE_ESEQUENCE, 0, "producer %lld: sequence gap: expected %d, got %d",
			    (long long)pid, last + 1, seq);
}

int vv_pstate_note(vv_pstate *s, int64_t pid, uint16_t epoch, int32_t seq, uint32_t count,
		   int64_t first_offset, int64_t last_offset, int64_t time)
{
	if ((s->n + 1) * 2 > s->cap)
		VV_TRY(grow(s));
	vv_pentry *e = &s->v[slot(s, pid)];
	if (e->pid != pid) {
		memset(e, 0, sizeof *e);
		e->pid = pid;
		e->epoch = epoch;
		s->n++;
	}
	if (epoch != e->epoch) {
		e->epoch = epoch;
		e->n = 0;
	}
	e->head = e->n ? (uint8_t)((e->head + 1) % VV_PRODUCER_WINDOW) : 0;
	e->b[e->head] = (vv_pbatch){ seq, vv_seq_add(seq, count - 1), first_offset, last_offset };
	if (e->n < VV_PRODUCER_WINDOW)
		e->n++;
	e->last_time = time;
	return 0;
}

int32_t vv_pstate_last_seq(const vv_pstate *s, int64_t pid, uint16_t *epoch)
{
	const vv_pentry *e = find(s, pid);
	if (!e || e->n == 0)
		return -1;
	if (epoch)
		*epoch = e->epoch;
	return e->b[e->head].last_seq;
}

/* Snapshot layout: u32 magic, u32 version 1, i64 offset, u32 count, then per
 * entry i64 pid, u16 epoch, u8 n, u8 head, i64 last_time, 5 x (i32, i32,
 * i64, i64), then u64 XXH3 of everything before. */
#define ENTRY_SIZE (8 + 2 + 1 + 1 + 8 + VV_PRODUCER_WINDOW * 24)

int vv_pstate_save(const vv_pstate *s, const vv_io_methods *io, const char *dir, int64_t offset,
		   unsigned mode)
{
	size_t len = 20 + s->n * ENTRY_SIZE + 8;
	uint8_t *b = vv_malloc(len);
	if (!b)
		return vv_error_set(VARVE_ENOMEM, 0, "producer snapshot");
	vv_store32(b, SNAP_MAGIC);
	vv_store32(b + 4, 1);
	vv_store64(b + 8, (uint64_t)offset);
	vv_store32(b + 16, (uint32_t)s->n);
	uint8_t *p = b + 20;
	for (size_t i = 0; i < s->cap; i++) {
		const vv_pentry *e = &s->v[i];
		if (e->pid == -1)
			continue;
		vv_store64(p, (uint64_t)e->pid);
		vv_store16(p + 8, e->epoch);
		p[10] = e->n;
		p[11] = e->head;
		vv_store64(p + 12, (uint64_t)e->last_time);
		p += 20;
		for (int k = 0; k < VV_PRODUCER_WINDOW; k++, p += 24) {
			vv_store32(p, (uint32_t)e->b[k].first_seq);
			vv_store32(p + 4, (uint32_t)e->b[k].last_seq);
			vv_store64(p + 8, (uint64_t)e->b[k].first_offset);
			vv_store64(p + 16, (uint64_t)e->b[k].last_offset);
		}
	}
	vv_store64(p, XXH3_64bits(b, len - 8));
	int rc = vv_io_write_atomic(io, dir, VV_PRODUCER_SNAPSHOT_FILE, b, len, mode);
	vv_free(b);
	return rc;
}

int vv_pstate_load(vv_pstate *s, const vv_io_methods *io, const char *dir, int64_t *offset)
{
	*offset = 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, VV_PRODUCER_SNAPSHOT_FILE);
	uint8_t *b;
	size_t len;
	if (vv_io_read_small(io, path, 1u << 28, &b, &len)) {
		vv_error_clear();
		return 0; /* no snapshot: replay the whole log */
	}
	int rc = 0;
	uint32_t n = len >= 20 ? vv_load32(b + 16) : 0;
	if (len < 28 || vv_load32(b) != SNAP_MAGIC || vv_load32(b + 4) != 1 ||
	    len != 20 + (size_t)n * ENTRY_SIZE + 8 || vv_load64(b + len - 8) != XXH3_64bits(b, len - 8)) {
		vv_free(b);
		return 0; /* damaged: replay the whole log instead */
	}
	const uint8_t *p = b + 20;
	for (uint32_t i = 0; i < n; i++, p += ENTRY_SIZE) {
		vv_pentry e;
		memset(&e, 0, sizeof e);
		e.pid = (int64_t)vv_load64(p);
		e.epoch = vv_load16(p + 8);
		e.n = p[10] > VV_PRODUCER_WINDOW ? VV_PRODUCER_WINDOW : p[10];
		e.head = p[11] % VV_PRODUCER_WINDOW;
		e.last_time = (int64_t)vv_load64(p + 12);
		for (int k = 0; k < VV_PRODUCER_WINDOW; k++) {
			const uint8_t *q = p + 20 + k * 24;
			e.b[k] = (vv_pbatch){ (int32_t)vv_load32(q), (int32_t)vv_load32(q + 4),
					      (int64_t)vv_load64(q + 8), (int64_t)vv_load64(q + 16) };
		}
		if (e.pid < 0)
			continue;
		if ((s->n + 1) * 2 > s->cap && (rc = grow(s)) < 0)
			goto out;
		s->v[slot(s, e.pid)] = e;
		s->n++;
	}
	*offset = (int64_t)vv_load64(b + 8);
out:
	vv_free(b);
	return rc;
}
