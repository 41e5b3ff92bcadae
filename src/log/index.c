/* SPDX-License-Identifier: MIT */
/* index.c -- in-memory sparse offset and time indexes and their files. */
#include "index.h"
#include "util.h"

void vv_index_init(vv_index *ix) { memset(ix, 0, sizeof *ix); }

void vv_index_free(vv_index *ix)
{
	vv_free(ix->rel);
	vv_free(ix->pos);
	vv_free(ix->tts);
	vv_free(ix->trel);
	memset(ix, 0, sizeof *ix);
}

void vv_index_clear(vv_index *ix)
{
	ix->n = ix->tn = 0;
	ix->written_n = ix->written_tn = 0;
}

static int grow2(void **a, void **b, size_t sa, size_t sb, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	void *na = vv_realloc(*a, nc * sa);
	if (!na)
		return vv_error_set(VARVE_ENOMEM, 0, "index entries");
	*a = na;
	void *nb = vv_realloc(*b, nc * sb);
	if (!nb)
		return vv_error_set(VARVE_ENOMEM, 0, "index entries");
	*b = nb;
	*cap = nc;
	return 0;
}

int vv_index_add(vv_index *ix, uint32_t rel, uint32_t pos)
{
	if (ix->n && (rel <= ix->rel[ix->n - 1] || pos <= ix->pos[ix->n - 1]))
		return 0; /* keep the invariant: strictly increasing */
	VV_TRY(grow2((void **)&ix->rel, (void **)&ix->pos, 4, 4, &ix->cap, ix->n + 1));
	ix->rel[ix->n] = rel;
	ix->pos[ix->n] = pos;
	ix->n++;
	return 0;
}

int vv_index_add_time(vv_index *ix, int64_t ts, uint32_t rel)
{
	if (ix->tn && (ts <= ix->tts[ix->tn - 1] || rel <= ix->trel[ix->tn - 1]))
		return 0;
	VV_TRY(grow2((void **)&ix->tts, (void **)&ix->trel, 8, 4, &ix->tcap, ix->tn + 1));
	ix->tts[ix->tn] = ts;
	ix->trel[ix->tn] = rel;
	ix->tn++;
	return 0;
}

void vv_index_truncate(vv_index *ix, uint64_t pos, uint32_t rel)
{
	while (ix->n && ix->pos[ix->n - 1] >= pos)
		ix->n--;
	while (ix->tn && ix->trel[ix->tn - 1] >= rel)
		ix->tn--;
	if (ix->written_n > ix->n)
		ix->written_n = ix->n;
	if (ix->written_tn > ix->tn)
		ix->written_tn = ix->tn;
}

uint32_t vv_index_lookup(const vv_index *ix, uint32_t target, uint32_t *found_rel)
{
	size_t lo = 0, hi = ix->n; /* first entry with rel > target */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->rel[mid] <= target)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0) {
		if (found_rel)
			*found_rel = 0;
		return 0;
	}
	if (found_rel)
		*found_rel = ix->rel[lo - 1];
	return ix->pos[lo - 1];
}

long vv_index_lookup_time(const vv_index *ix, int64_t target, uint32_t *scan_rel)
{
	size_t lo = 0, hi = ix->tn; /* first entry with ts >= target */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix->tts[mid] < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ix->tn)
		return -1;
	*scan_rel = lo ? ix->trel[lo - 1] : 0;
	return (long)lo;
}

static int load_file(vv_file *f, size_t entry, uint8_t **buf, size_t *n)
{
	*buf = NULL;
	*n = 0;
	if (!f)
		return 0;
	uint64_t sz;
	VV_TRY(vv_io_size(f, &sz));
	sz -= sz % entry;
	if (sz == 0)
		return 0;
	uint8_t *b = vv_malloc((size_t)sz);
	if (!b)
		return vv_error_set(VARVE_ENOMEM, 0, "loading index %s", f->path);
	size_t got;
	int rc = vv_io_pread(f, b, (size_t)sz, 0, &got);
	if (rc < 0) {
		vv_free(b);
		return rc;
	}
	*buf = b;
	*n = got / entry;
	return 0;
}

/* Offset entries from an index file's bytes, up to the first that is out
 * of order or out of range (*damaged then). */
static int add_offset_entries(vv_index *ix, const uint8_t *b, size_t n, uint64_t log_size,
			      uint32_t max_rel, int *damaged)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t rel = vv_load32(b + i * 8), pos = vv_load32(b + i * 8 + 4);
		int ok = rel <= max_rel && (uint64_t)pos < log_size &&
			 (ix->n == 0 || (rel > ix->rel[ix->n - 1] && pos > ix->pos[ix->n - 1]));
		if (!ok) {
			*damaged = 1;
			return 0;
		}
		VV_TRY(vv_index_add(ix, rel, pos));
	}
	return 0;
}

/* Time entries likewise. */
static int add_time_entries(vv_index *ix, const uint8_t *b, size_t n, uint32_t max_rel,
			    int *damaged)
{
	for (size_t i = 0; i < n; i++) {
		int64_t ts = (int64_t)vv_load64(b + i * 12);
		uint32_t rel = vv_load32(b + i * 12 + 8);
		int ok = rel <= max_rel &&
			 (ix->tn == 0 || (ts > ix->tts[ix->tn - 1] && rel > ix->trel[ix->tn - 1]));
		if (!ok) {
			*damaged = 1;
			return 0;
		}
		VV_TRY(vv_index_add_time(ix, ts, rel));
	}
	return 0;
}

int vv_index_load(vv_index *ix, vv_file *idx, vv_file *tidx, uint64_t log_size, uint32_t max_rel,
		  int *damaged)
{
	vv_index_clear(ix);
	*damaged = (idx == NULL || tidx == NULL);
	uint8_t *b;
	size_t n;
	VV_TRY(load_file(idx, VV_INDEX_ENTRY, &b, &n));
	int rc = add_offset_entries(ix, b, n, log_size, max_rel, damaged);
	vv_free(b);
	VV_TRY(rc);
	VV_TRY(load_file(tidx, VV_TIMEINDEX_ENTRY, &b, &n));
	rc = add_time_entries(ix, b, n, max_rel, damaged);
	vv_free(b);
	VV_TRY(rc);
	ix->written_n = ix->n;
	ix->written_tn = ix->tn;
	return 0;
}

static int write_entries(vv_index *ix, vv_file *idx, vv_file *tidx, size_t from_n, size_t from_tn)
{
	uint8_t buf[4096];
	size_t used = 0;
	uint64_t off = (uint64_t)from_n * VV_INDEX_ENTRY;
	for (size_t i = from_n; i < ix->n; i++) {
		vv_store32(buf + used, ix->rel[i]);
		vv_store32(buf + used + 4, ix->pos[i]);
		used += 8;
		if (used == sizeof buf || i + 1 == ix->n) {
			VV_TRY(vv_io_pwrite(idx, buf, used, off));
			off += used;
			used = 0;
		}
	}
	used = 0;
	off = (uint64_t)from_tn * VV_TIMEINDEX_ENTRY;
	for (size_t i = from_tn; i < ix->tn; i++) {
		vv_store64(buf + used, (uint64_t)ix->tts[i]);
		vv_store32(buf + used + 8, ix->trel[i]);
		used += 12;
		if (used + 12 > sizeof buf || i + 1 == ix->tn) {
			VV_TRY(vv_io_pwrite(tidx, buf, used, off));
			off += used;
			used = 0;
		}
	}
	ix->written_n = ix->n;
	ix->written_tn = ix->tn;
	return 0;
}

int vv_index_flush(vv_index *ix, vv_file *idx, vv_file *tidx)
{
	if (ix->written_n == ix->n && ix->written_tn == ix->tn)
		return 0;
	return write_entries(ix, idx, tidx, ix->written_n, ix->written_tn);
}

int vv_index_rewrite(vv_index *ix, vv_file *idx, vv_file *tidx)
{
	VV_TRY(vv_io_truncate(idx, 0));
	VV_TRY(vv_io_truncate(tidx, 0));
	return write_entries(ix, idx, tidx, 0, 0);
}

void vv_index_cursor_reset(vv_index_cursor *c, const vv_index *ix)
{
	c->has_entry = ix->n > 0;
	c->last_pos = ix->n ? ix->pos[ix->n - 1] : 0;
	c->last_ts = ix->tn ? ix->tts[ix->tn - 1] : INT64_MIN;
}

int vv_index_note(vv_index *ix, vv_index_cursor *c, uint64_t pos, uint32_t rel, int64_t max_ts,
		  uint32_t interval)
{
	if (c->has_entry && pos - c->last_pos < interval)
		return 0;
	VV_TRY(vv_index_add(ix, rel, (uint32_t)pos));
	c->last_pos = pos;
	c->has_entry = 1;
	if (max_ts > c->last_ts || ix->tn == 0) {
		VV_TRY(vv_index_add_time(ix, max_ts, rel));
		c->last_ts = max_ts;
	}
	return 0;
}

int vv_index_seal(vv_index *ix, vv_index_cursor *c, int64_t max_ts, uint32_t last_rel)
{
	if (max_ts == INT64_MIN || max_ts <= c->last_ts)
		return 0;
	VV_TRY(vv_index_add_time(ix, max_ts, last_rel));
	c->last_ts = max_ts;
	return 0;
}
