/* SPDX-License-Identifier: MIT */
/* compact.c -- key compaction and its crash-safe swap (see compact.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xxhash.h>

#include "compact.h"
#include "util.h"

#define CHECKPOINT_FILE VV_CLEANER_CHECKPOINT_FILE

/* ---- key map -------------------------------------------------------------------- */

typedef struct keymap {
	uint64_t *h1;
	uint32_t *h2;
	int64_t *off; /* -1 = empty slot */
	size_t cap, n, max_n;
} keymap;

static int km_init(keymap *m, size_t mem)
{
	memset(m, 0, sizeof *m);
	size_t per = 8 + 4 + 8, cap = 1024;
	while (cap * 2 * per <= mem)
		cap *= 2;
	m->h1 = vv_malloc(cap * sizeof *m->h1);
	m->h2 = vv_malloc(cap * sizeof *m->h2);
	m->off = vv_malloc(cap * sizeof *m->off);
	if (!m->h1 || !m->h2 || !m->off)
		return vv_error_set(VARVE_ENOMEM, 0, "compaction key map of %zu slots", cap);
	for (size_t i = 0; i < cap; i++)
		m->off[i] = -1;
	m->cap = cap;
	m->max_n = cap / 2; /* load factor 0.5 keeps probes short */
	return 0;
}

static void km_free(keymap *m)
{
	vv_free(m->h1);
	vv_free(m->h2);
	vv_free(m->off);
}

static void fingerprint(const void *key, size_t len, uint64_t *h1, uint32_t *h2)
{
	XXH128_hash_t h = XXH3_128bits(key, len);
	*h1 = h.low64;
	*h2 = (uint32_t)h.high64;
}

static size_t km_slot(const keymap *m, uint64_t h1, uint32_t h2)
{
	size_t i = (size_t)h1 & (m->cap - 1);
	while (m->off[i] >= 0 && (m->h1[i] != h1 || m->h2[i] != h2))
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* 0 = stored, 1 = full (a new key did not fit) */
static int km_put(keymap *m, uint64_t h1, uint32_t h2, int64_t off)
{
	size_t i = km_slot(m, h1, h2);
	if (m->off[i] < 0) {
		if (m->n >= m->max_n)
			return 1;
		m->h1[i] = h1;
		m->h2[i] = h2;
		m->n++;
	}
	m->off[i] = off;
	return 0;
}

static int64_t km_get(const keymap *m, uint64_t h1, uint32_t h2)
{
	return m->off[km_slot(m, h1, h2)];
}

/* ---- small files ------------------------------------------------------------------- */

/* The checkpoint: how far compaction got, and when the earliest tombstone
 * it kept may go (docs/FORMAT.md). A 16-byte file from before the second
 * field says nothing about tombstones: they may be due now. */
int vv_compact_load_checkpoint(const vv_io_methods *io, const char *dir, int64_t *clean_offset,
			       int64_t *tomb_due)
{
	*clean_offset = 0;
	*tomb_due = 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, CHECKPOINT_FILE);
	uint8_t *b;
	size_t n;
	if (vv_io_read_small(io, path, 64, &b, &n)) {
		vv_error_clear();
		return 0;
	}
	if (n == 16 && vv_load64(b + 8) == XXH3_64bits(b, 8)) {
		*clean_offset = (int64_t)vv_load64(b);
	} else if (n == 24 && vv_load64(b + 16) == XXH3_64bits(b, 16)) {
		*clean_offset = (int64_t)vv_load64(b);
		*tomb_due = (int64_t)vv_load64(b + 8);
	}
	vv_free(b);
	return 0;
}

static int save_checkpoint(const vv_io_methods *io, const char *dir, int64_t off, int64_t tomb_due,
			   unsigned mode)
{
	uint8_t b[24];
	vv_store64(b, (uint64_t)off);
	vv_store64(b + 8, (uint64_t)tomb_due);
	vv_store64(b + 16, XXH3_64bits(b, 16));
	return vv_io_write_atomic(io, dir, CHECKPOINT_FILE, b, sizeof b, mode);
}

/* ---- compaction ------------------------------------------------------------------------ */

typedef struct throttle {
	uint64_t rate, bytes, t0;
} throttle;

static void throttle_account(throttle *t, uint64_t bytes)
{
	if (!t->rate)
		return;
	t->bytes += bytes;
	uint64_t want_ns = t->bytes * 1000000000ull / t->rate;
	uint64_t el = vv_mono_ns() - t->t0;
	if (want_ns > el) {
		uint64_t d = want_ns - el;
		struct timespec ts = { (time_t)(d / 1000000000ull), (long)(d % 1000000000ull) };
		nanosleep(&ts, NULL);
	}
}

#define MAP_FULL 2 /* distinct from VV_INCOMPLETE */

/* A read of a sealed segment failed at pos: make sure the error names the
 * file and position (the record decoder returns a bare code). */
static int name_damage(vv_segment *s, uint64_t pos, int rc)
{
	if (rc == VV_INCOMPLETE || (rc == VARVE_ECORRUPT && varve_last_error()->code != VARVE_ECORRUPT)) {
		char path[4096];
		vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
		return VV_CORRUPT(path, pos, rc == VV_INCOMPLETE ? "batch runs past the end of a sealed segment"
								 : "records do not decode");
	}
	return rc;
}

/* Feed the keyed records of one batch into the map: 0, MAP_FULL when
 * the map filled up, or an error. */
static int map_batch(vv_record_reader *rr, keymap *m, varve_header **hdrs, size_t *hcap)
{
	varve_record rec;
	int rc;
	while ((rc = vv_record_next(rr, &rec, hdrs, hcap)) == 0) {
		if (!rec.key)
			continue;
		uint64_t h1;
		uint32_t h2;
		fingerprint(rec.key, rec.key_len, &h1, &h2);
		if (km_put(m, h1, h2, rec.offset))
			return MAP_FULL;
	}
	return rc == VARVE_EEND ? 0 : rc;
}

/* Feed every keyed record of s into the map. Returns 0 when all fit,
 * MAP_FULL when the map filled up, or an error. */
static int map_segment(vv_segment *s, keymap *m, uint64_t *bytes, throttle *th)
{
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	r.verify_all = 1;
	uint8_t *scratch = NULL;
	size_t scap = 0, hcap = 0;
	varve_header *hdrs = NULL;
	uint64_t pos = 0, limit = atomic_load(&s->size);
	int rc = 0;
	while (pos < limit) {
		vv_batch_header h;
		const uint8_t *b;
		vv_record_reader rr;
		if ((rc = vv_seg_reader_batch(&r, s, pos, limit, &b, &h)) != 0)
			break;
		if ((rc = vv_record_reader_init(&rr, b, &h, &scratch, &scap, s->cfg->max_batch)) != 0)
			break;
		rc = map_batch(&rr, m, &hdrs, &hcap);
		*bytes += h.length;
		throttle_account(th, h.length);
		if (rc)
			break;
		pos += h.length;
	}
	rc = name_damage(s, pos, rc);
	vv_seg_reader_free(&r);
	vv_free(scratch);
	vv_free(hdrs);
	return rc;
}

typedef struct writer {
	vv_file *log;
	uint64_t pos;
	int64_t base;
	vv_index ix;
	vv_index_cursor ixc;
	int64_t max_ts, last_offset;
	vv_batch_builder bb;
	uint32_t interval;
} writer;

static int write_batch(writer *w, const uint8_t *b, size_t len, const vv_batch_header *h)
{
	VV_TRY(vv_io_pwrite(w->log, b, len, w->pos));
	if (h->max_timestamp > w->max_ts)
		w->max_ts = h->max_timestamp;
	VV_TRY(vv_index_note(&w->ix, &w->ixc, w->pos, (uint32_t)(h->base_offset - w->base), w->max_ts,
			     w->interval));
	w->last_offset = vv_batch_last_offset(h);
	w->pos += len;
	return 0;
}

/* What one compaction run shares across the segments it rewrites. */
typedef struct rewrite_ctx {
	const keymap *m;
	const vv_compact_params *prm;
	vv_compact_stats *st;
	throttle *th;
	/* buffers reused across batches */
	uint8_t *scratch;
	size_t scap;
	varve_header *hdrs;
	size_t hcap;
	varve_record *kept;
	size_t kcap;
} rewrite_ctx;

static int keep_record(rewrite_ctx *x, size_t nk, const varve_record *rec)
{
	if (nk == x->kcap) {
		size_t nc = x->kcap ? x->kcap * 2 : 64;
		varve_record *nkp = vv_realloc(x->kept, nc * sizeof *nkp);
		if (!nkp)
			return vv_error_set(VARVE_ENOMEM, 0, "compaction");
		x->kept = nkp;
		x->kcap = nc;
	}
	x->kept[nk] = *rec;
	return 0;
}

/* Decide per record of one batch whether it stays; the kept ones go to
 * x->kept (their pointers stay valid: the batch and its inflated records
 * do not move until the next batch), *nk of them. */
static int pick_kept(rewrite_ctx *x, vv_record_reader *rr, const vv_batch_header *h, size_t *nk)
{
	const vv_compact_params *prm = x->prm;
	vv_compact_stats *st = x->st;
	int tomb_expired = h->append_time + prm->delete_retention_ms <= prm->now;
	varve_record rec;
	int rc;
	*nk = 0;
	while ((rc = vv_record_next(rr, &rec, &x->hdrs, &x->hcap)) == 0) {
		int keep = 1;
		if (rec.key) {
			uint64_t h1;
			uint32_t h2;
			fingerprint(rec.key, rec.key_len, &h1, &h2);
			int64_t latest = km_get(x->m, h1, h2);
			if (latest > rec.offset) {
				keep = 0;
			} else if (!rec.value && tomb_expired) {
				keep = 0;
				st->tombstones_dropped++;
			} else if (!rec.value &&
				   h->append_time + prm->delete_retention_ms < st->tomb_due) {
				st->tomb_due = h->append_time + prm->delete_retention_ms;
			}
		}
		if (!keep) {
			st->records_dropped++;
			continue;
		}
		VV_TRY(keep_record(x, *nk, &rec));
		(*nk)++;
		st->records_kept++;
	}
	return rc == VARVE_EEND ? 0 : rc;
}

/* Write the nk kept records of batch b into w: the batch as it is when
 * nothing was dropped, else a new batch of the kept records. */
static int write_kept(rewrite_ctx *x, writer *w, const uint8_t *b, const vv_batch_header *h,
		      size_t nk, uint32_t max_batch)
{
	if (nk == h->record_count)
		return write_batch(w, b, h->length, h);
	if (nk == 0)
		return 0;
	/* headers of kept records did not survive the next record's decode:
	 * decode again for stable header arrays */
	vv_record_reader rr;
	VV_TRY(vv_record_reader_init(&rr, b, h, &x->scratch, &x->scap, max_batch));
	vv_bb_reset(&w->bb);
	int64_t nbase = x->kept[0].offset;
	varve_record rec;
	for (size_t ki = 0; ki < nk;) {
		int rc = vv_record_next(&rr, &rec, &x->hdrs, &x->hcap);
		if (rc == VARVE_EEND)
			break;
		VV_TRY(rc);
		if (rec.offset != x->kept[ki].offset)
			continue;
		VV_TRY(vv_bb_add(&w->bb, (uint32_t)(rec.offset - nbase), rec.timestamp, &rec));
		ki++;
	}
	vv_batch_params bp = { nbase, h->attributes & VV_ATTR_CODEC_MASK, h->append_time,
			       h->producer_id, h->producer_epoch, h->base_sequence,
			       VV_MAX_BATCH_READ /* a record map never makes it unreadable */ };
	const uint8_t *out;
	size_t olen;
	VV_TRY(vv_bb_finish(&w->bb, &bp, &out, &olen));
	vv_batch_header nh;
	(void)vv_batch_parse_header(out, olen, UINT32_MAX, &nh); /* just built: it parses */
	return write_batch(w, out, olen, &nh);
}

/* Rewrite one old segment's batches into w, keeping what the map says. */
static int rewrite_segment(rewrite_ctx *x, vv_segment *s, writer *w)
{
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	r.verify_all = 1;
	uint64_t pos = 0, limit = atomic_load(&s->size);
	int rc = 0;
	while (pos < limit) {
		vv_batch_header h;
		const uint8_t *b;
		vv_record_reader rr;
		size_t nk;
		if ((rc = vv_seg_reader_batch(&r, s, pos, limit, &b, &h)) != 0)
			break;
		if ((rc = vv_record_reader_init(&rr, b, &h, &x->scratch, &x->scap,
						s->cfg->max_batch)) != 0)
			break;
		if ((rc = pick_kept(x, &rr, &h, &nk)) != 0)
			break;
		if ((rc = write_kept(x, w, b, &h, nk, s->cfg->max_batch)) != 0)
			break;
		x->st->bytes_read += h.length;
		throttle_account(x->th, h.length);
		pos += h.length;
	}
	rc = name_damage(s, pos, rc);
	vv_seg_reader_free(&r);
	return rc;
}

/* The new segment's files: old[0..k) rewritten into w's log, then its
 * indexes (*fi, *ft, opened here), each synced. */
static int write_new_segment(rewrite_ctx *x, const vv_io_methods *io, vv_segment *const *old,
			     size_t k, writer *w, const char *ip, const char *tp, unsigned mode, vv_file **fi,
			     vv_file **ft)
{
	for (size_t i = 0; i < k; i++)
		VV_TRY(rewrite_segment(x, old[i], w));
	VV_TRY(vv_index_seal(&w->ix, &w->ixc, w->max_ts, (uint32_t)(w->last_offset - w->base)));
	VV_TRY(vv_io_datasync(w->log));
	VV_TRY(vv_io_open(io, ip, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, mode, fi));
	VV_TRY(vv_io_open(io, tp, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, mode, ft));
	VV_TRY(vv_index_rewrite(&w->ix, *fi, *ft));
	VV_TRY(vv_io_datasync(*fi));
	return vv_io_datasync(*ft);
}

/* Compact old[0..k) into one new segment and swap it in. */
static int compact_group(rewrite_ctx *x, vv_partition *p, vv_segment *const *old, size_t k,
			 int64_t next_base)
{
	const char *dir = p->dir;
	int64_t base = old[0]->base;
	unsigned mode = p->cfg.seg.file_mode;
	char lp[4096], ip[4096], tp[4096];
	vv_swap_new_paths(dir, base, lp, ip, tp, sizeof lp);
	writer w;
	memset(&w, 0, sizeof w);
	w.base = base;
	w.max_ts = INT64_MIN;
	w.last_offset = base - 1;
	w.interval = p->cfg.seg.index_interval;
	vv_index_init(&w.ix);
	vv_index_cursor_reset(&w.ixc, &w.ix);
	vv_bb_init(&w.bb);
	vv_file *fi = NULL, *ft = NULL;
	int rc = vv_io_open(p->cfg.seg.io, lp, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, mode, &w.log);
	if (rc)
		goto out;
	rc = write_new_segment(x, p->cfg.seg.io, old, k, &w, ip, tp, mode, &fi, &ft);
out:
	vv_io_close(fi);
	vv_io_close(ft);
	vv_io_close(w.log);
	vv_index_free(&w.ix);
	vv_bb_free(&w.bb);
	if (rc) {
		vv_swap_abandon(p->cfg.seg.io, dir, base);
		return rc;
	}
	vv_swap_hook hook = { x->prm->step_hook, x->prm->step_ctx };
	VV_TRY(vv_swap_install(p, old, k, next_base, w.pos, w.max_ts, &hook));
	x->st->bytes_written += w.pos;
	x->st->segments_in += k;
	x->st->segments_out++;
	return 0;
}

/* With the key map ready: map the dirty segments (as many as fit), rewrite
 * the mapped ones in groups no bigger than a segment, and move the
 * checkpoint past them. */
static int compact_with_map(rewrite_ctx *x, vv_partition *p, vv_segment **segs, size_t nold,
			    int64_t clean_off, uint64_t dirty, keymap *m)
{
	const vv_compact_params *prm = x->prm;
	size_t map_to = 0; /* segments [0, map_to) get rewritten */
	uint64_t mapped_bytes = 0;
	for (size_t i = 0; i < nold; i++) {
		if (segs[i + 1]->base <= clean_off) {
			map_to = i + 1; /* clean: nothing new to map, still rewritten */
			continue;
		}
		int r = map_segment(segs[i], m, &mapped_bytes, x->th);
		if (r == MAP_FULL)
			break;
		VV_TRY(r);
		map_to = i + 1;
	}
	if (dirty && (map_to == 0 || segs[map_to]->base <= clean_off))
		return vv_error_set(VARVE_ENOMEM, 0,
				    "%s/%u: the compaction key map (%zu bytes) cannot hold the keys of "
				    "one segment", p->topic, p->id, prm->map_memory);
	/* The recovery point must not name a segment about to be rewritten. */
	VV_TRY(vv_partition_checkpoint_active(p));
	for (size_t i = 0; i < map_to;) {
		size_t j = i;
		uint64_t sum = 0;
		do {
			sum += atomic_load(&segs[j]->size);
			j++;
		} while (j < map_to && sum + atomic_load(&segs[j]->size) <= prm->segment_bytes &&
			 segs[j + 1]->base - segs[i]->base < (int64_t)UINT32_MAX);
		VV_TRY(compact_group(x, p, segs + i, j - i, segs[j]->base));
		i = j;
	}
	return save_checkpoint(p->cfg.seg.io, p->dir, segs[map_to]->base, x->st->tomb_due, p->cfg.seg.file_mode);
}

int vv_compact_partition(vv_partition *p, const vv_compact_params *prm, vv_compact_stats *st)
{
	memset(st, 0, sizeof *st);
	st->tomb_due = INT64_MAX;
	int64_t clean_off, tomb_due;
	vv_compact_load_checkpoint(p->cfg.seg.io, p->dir, &clean_off, &tomb_due);
	vv_segment **segs;
	size_t n;
	VV_TRY(vv_partition_segments(p, &segs, &n));
	size_t nold = n ? n - 1 : 0; /* never the active segment */
	uint64_t total = 0, dirty = 0;
	for (size_t i = 0; i < nold; i++) {
		uint64_t sz = atomic_load(&segs[i]->size);
		total += sz;
		if (segs[i + 1]->base > clean_off)
			dirty += sz;
	}
	/* Work: enough dirty bytes (or any, when forced), or a tombstone whose
	 * delete retention has passed, which only a rewrite can drop. */
	int tombs = total > 0 && tomb_due <= prm->now;
	int dirty_work = dirty > 0 && total > 0 &&
			 (prm->force || (double)dirty / (double)total >= prm->min_dirty_ratio);
	if (nold == 0 || (!dirty_work && !tombs)) {
		vv_partition_segments_release(segs, n);
		return 0;
	}
	st->ran = 1;
	keymap m;
	throttle th = { prm->io_bytes_per_sec, 0, vv_mono_ns() };
	rewrite_ctx x = { .m = &m, .prm = prm, .st = st, .th = &th };
	int rc = km_init(&m, prm->map_memory);
	if (rc)
		goto out;
	rc = compact_with_map(&x, p, segs, nold, clean_off, dirty, &m);
out:
	vv_free(x.scratch);
	vv_free(x.hdrs);
	vv_free(x.kept);
	km_free(&m);
	vv_partition_segments_release(segs, n);
	return rc;
}
