/* SPDX-License-Identifier: MIT */
/*
 * segment_read.c -- the read side of a segment: the batch reader (pread
 * into a growing buffer, or in place from a mapping), checksums checked once
 * per batch, finding the next valid batch after damage, the recovery scan,
 * and index lookups by offset and by time (entries are hints, checked
 * against the log; a wrong index is rebuilt). The life of the object and
 * the append path are in segment.c; design notes in segment.h.
 *
 * May call: log (batch, index, segment.c's functions), base.
 */
#include <inttypes.h>
#include <stdio.h>

#include "segment.h"
#include "util.h"

#define READ_CHUNK_MIN (8u * 1024)
#define READ_CHUNK_MAX (1024u * 1024)

/* The clock of the least-recently-read order (vv_partition_close_idle). */
static _Atomic uint64_t ticks;

uint64_t vv_segment_tick(void) { return atomic_fetch_add_explicit(&ticks, 1, memory_order_relaxed); }

/* ---- reading batches ------------------------------------------------- */

void vv_seg_reader_init(vv_seg_reader *r) { memset(r, 0, sizeof *r); }
void vv_seg_reader_free(vv_seg_reader *r)
{
	vv_free(r->buf);
	memset(r, 0, sizeof *r);
}
void vv_seg_reader_reset(vv_seg_reader *r)
{
	r->buf_len = 0;
	r->seg = NULL;
	r->chunk = 0; /* a seek: start small, random reads stay cheap */
}

static int fill(vv_seg_reader *r, vv_segment *s, uint64_t pos, size_t need, uint64_t limit)
{
	if (r->seg == s && pos >= r->buf_pos && pos + need <= r->buf_pos + r->buf_len)
		return 0;
	size_t chunk = r->chunk ? r->chunk : READ_CHUNK_MIN;
	r->chunk = chunk < READ_CHUNK_MAX ? chunk * 2 : READ_CHUNK_MAX;
	size_t want = need > chunk ? need : chunk;
	if (pos + want > limit)
		want = (size_t)(limit - pos);
	if (want < need)
		want = need;
	if (want > r->cap) {
		size_t nc = r->cap ? r->cap : READ_CHUNK_MIN;
		while (nc < want)
			nc *= 2;
		uint8_t *nb = vv_realloc(r->buf, nc);
		if (!nb)
			return vv_error_set(VARVE_ENOMEM, 0, "read buffer of %zu bytes", nc);
		r->buf = nb;
		r->cap = nc;
	}
	if (!s->log)
		VV_TRY(vv_segment_open_files(s));
	size_t got;
	r->seg = NULL;
	VV_TRY(vv_io_pread(s->log, r->buf, want, pos, &got));
	r->seg = s;
	r->buf_pos = pos;
	r->buf_len = got;
	return got < need ? VV_INCOMPLETE : 0;
}

/* ---- checksums checked once -------------------------------------------
 * A batch below the segment's size never changes while the store is open
 * (appends go past it; compaction and retention make new segment objects;
 * recovery cuts run before any read), so once its checksum matched, reading
 * it again from the page cache needs no new check. This removes the XXH3 pass
 * from replays (it was 24% of a pread scan and 75-82% of an mmap scan) and
 * from repeated random reads. verify_always restores a check per read. */

#define VV_VERIFY_BIG 4096u
#define VV_VERIFY_SLOT_SHIFT 12

static int batch_verified(vv_segment *s, uint64_t pos, uint32_t len)
{
	if (s->cfg->verify_always)
		return 0;
	if (pos + len <= atomic_load_explicit(&s->verified_end, memory_order_acquire))
		return 1;
	if (len < VV_VERIFY_BIG)
		return 0;
	_Atomic uint64_t *bits = atomic_load_explicit(&s->vbits, memory_order_acquire);
	uint64_t slot = pos >> VV_VERIFY_SLOT_SHIFT;
	if (!bits || slot >= s->vbits_slots)
		return 0;
	uint64_t w = atomic_load_explicit(&bits[slot / 64], memory_order_acquire);
	return (int)((w >> (slot % 64)) & 1);
}

static void note_verified(vv_segment *s, uint64_t pos, uint32_t len, uint64_t limit)
{
	if (s->cfg->verify_always)
		return;
	uint64_t expect = pos; /* contiguous from 0: sequential readers move it */
	atomic_compare_exchange_strong_explicit(&s->verified_end, &expect, pos + len,
						memory_order_acq_rel, memory_order_relaxed);
	if (len < VV_VERIFY_BIG)
		return;
	_Atomic uint64_t *bits = atomic_load_explicit(&s->vbits, memory_order_acquire);
	if (!bits) {
		/* sized by what is readable now: bits past it are simply not kept */
		size_t slots = (size_t)(limit >> VV_VERIFY_SLOT_SHIFT) + 1;
		_Atomic uint64_t *nb = vv_calloc((slots + 63) / 64, sizeof *nb);
		if (!nb)
			return; /* only a missed shortcut */
		pthread_mutex_lock(&s->mu);
		if (!atomic_load(&s->vbits)) {
			s->vbits_slots = slots;
			atomic_store_explicit(&s->vbits, nb, memory_order_release);
			nb = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		vv_free((void *)nb);
		bits = atomic_load_explicit(&s->vbits, memory_order_acquire);
	}
	uint64_t slot = pos >> VV_VERIFY_SLOT_SHIFT;
	if (slot < s->vbits_slots)
		atomic_fetch_or_explicit(&bits[slot / 64], (uint64_t)1 << (slot % 64),
					 memory_order_release);
}

/* The checksum of the batch at pos, unless it already matched once. */
static int check_batch(const vv_seg_reader *r, vv_segment *s, const uint8_t *p, uint64_t pos,
		       const vv_batch_header *h, uint64_t limit)
{
	if (!r->verify_all && batch_verified(s, pos, h->length))
		return 0;
	if (vv_batch_checksum_ok(p, h)) {
		char path[4096];
		vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
		return VV_CORRUPT(path, pos, "batch checksum mismatch");
	}
	note_verified(s, pos, h->length, limit);
	return 0;
}

int vv_seg_reader_check(const vv_seg_reader *r, vv_segment *s, const uint8_t *batch, uint64_t pos,
			const vv_batch_header *h, uint64_t limit)
{
	return check_batch(r, s, batch, pos, h, limit);
}

/* A read into the middle of a batch with a record map, not checked whole
 * before, leaves the check to the caller (*checked = 0): the map's and one
 * chunk's checksums instead of the whole batch's. */
static int left_to_map(const vv_seg_reader *r, vv_segment *s, uint64_t pos,
		       const vv_batch_header *h, int64_t target, int *checked)
{
	if (!checked)
		return 0;
	*checked = !(target > h->base_offset && (h->attributes & VV_ATTR_RECORD_MAP) &&
		     !r->verify_all && !batch_verified(s, pos, h->length));
	return !*checked;
}

static int load_batch(vv_seg_reader *r, vv_segment *s, uint64_t pos, uint64_t limit,
		      int64_t target, const uint8_t **batch, vv_batch_header *h, int *checked)
{
	char path[4096];
	if (pos >= limit)
		return VARVE_EEND;
	if (limit - pos < VV_BATCH_HEADER_SIZE)
		return VV_INCOMPLETE;
	atomic_store_explicit(&s->last_used, atomic_load_explicit(&ticks, memory_order_relaxed),
			      memory_order_relaxed);
	if (!atomic_load_explicit(&s->map, memory_order_acquire)) {
		if (s->cfg->use_mmap)
			VV_TRY(vv_segment_open_files(s));
		else if (vv_segment_read_map_wanted(s) &&
			 !atomic_load_explicit(&s->map_tried, memory_order_relaxed))
			VV_TRY(vv_segment_map_for_read(s));
	}
	const uint8_t *m = atomic_load_explicit(&s->map, memory_order_acquire);
	if (m && limit <= s->map_len) {
		/* mmap mode: the batch is read in place, no copy */
		const uint8_t *p = m + pos;
		if (vv_batch_parse_header(p, VV_BATCH_HEADER_SIZE, s->cfg->max_batch, h)) {
			vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
			return VV_CORRUPT(path, pos, "bad batch header");
		}
		if (h->length > limit - pos)
			return VV_INCOMPLETE;
		if (!left_to_map(r, s, pos, h, target, checked))
			VV_TRY(check_batch(r, s, p, pos, h, limit));
		*batch = p;
		return 0;
	}
	int rc = fill(r, s, pos, VV_BATCH_HEADER_SIZE, limit);
	if (rc)
		return rc;
	const uint8_t *p = r->buf + (pos - r->buf_pos);
	rc = vv_batch_parse_header(p, VV_BATCH_HEADER_SIZE, s->cfg->max_batch, h);
	if (rc) {
		vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
		return VV_CORRUPT(path, pos, "bad batch header");
	}
	if (h->length > limit - pos)
		return VV_INCOMPLETE;
	rc = fill(r, s, pos, h->length, limit);
	if (rc)
		return rc;
	p = r->buf + (pos - r->buf_pos);
	if (!left_to_map(r, s, pos, h, target, checked))
		VV_TRY(check_batch(r, s, p, pos, h, limit));
	*batch = p;
	return 0;
}

int vv_seg_reader_batch(vv_seg_reader *r, vv_segment *s, uint64_t pos, uint64_t limit,
			const uint8_t **batch, vv_batch_header *h)
{
	return load_batch(r, s, pos, limit, 0, batch, h, NULL);
}

int vv_seg_reader_batch_for(vv_seg_reader *r, vv_segment *s, uint64_t pos, uint64_t limit,
			    int64_t target, const uint8_t **batch, vv_batch_header *h, int *checked)
{
	return load_batch(r, s, pos, limit, target, batch, h, checked);
}

/* ---- finding the next valid batch after damage -------------------------
 * A damaged batch says nothing trustworthy about where the next one starts
 * (its length field may be the damaged byte), and index entries only point
 * at some later batches. So past damage we look for the batch magic, and
 * take a position only if a whole batch there parses, fits the segment,
 * carries offsets in [min_offset, next_offset) and matches its checksum
 * (checked whatever was verified before: a position inside a verified batch
 * must not inherit its mark). Bytes of a record that happen to hold a whole
 * valid batch would pass too; the offset bound makes that harmless. */

int vv_segment_resync(vv_segment *s, uint64_t from, uint64_t limit, int64_t min_offset,
		      uint64_t *pos_out, vv_batch_header *h_out)
{
	static const uint8_t magic[4] = { 'V', 'R', 'V', '1' }; /* VV_BATCH_MAGIC, little-endian */
	enum { WINDOW = 65536 };
	*pos_out = limit;
	VV_TRY(vv_segment_open_files(s));
	uint8_t *win = vv_malloc(WINDOW);
	if (!win)
		return vv_error_set(VARVE_ENOMEM, 0, "resync window");
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	r.verify_all = 1;
	int64_t next_off = atomic_load(&s->next_offset);
	int rc = VARVE_EEND;
	/* the magic sits 8 bytes into a batch: look for it from from + 8 */
	uint64_t at = from + 8;
	while (rc == VARVE_EEND && at + 4 <= limit) {
		size_t want = limit - at < WINDOW ? (size_t)(limit - at) : WINDOW, got = 0;
		if ((rc = vv_io_pread(s->log, win, want, at, &got)) != 0)
			break;
		rc = VARVE_EEND;
		if (got < 4)
			break;
		const uint8_t *p = win, *end = win + got;
		while (rc == VARVE_EEND && (p = memmem(p, (size_t)(end - p), magic, 4)) != NULL) {
			uint64_t q = at + (uint64_t)(p - win) - 8;
			p++;
			vv_batch_header h;
			const uint8_t *b;
			int r2 = vv_seg_reader_batch(&r, s, q, limit, &b, &h);
			if (r2 == VARVE_ENOMEM || (r2 < 0 && r2 != VARVE_ECORRUPT && r2 != VARVE_EEND)) {
				rc = r2;
				break;
			}
			vv_error_clear();
			if (r2 == 0 && h.base_offset >= min_offset && vv_batch_last_offset(&h) < next_off) {
				*pos_out = q;
				*h_out = h;
				rc = 0;
			}
		}
		/* windows overlap by 3 bytes so a magic split across two is found */
		at += got > 3 ? got - 3 : got;
	}
	vv_seg_reader_free(&r);
	vv_free(win);
	return rc;
}

/* ---- the recovery scan ------------------------------------------------- */

/* Where a scan stands between two batches. */
typedef struct scan_pos {
	uint64_t pos;
	int64_t next, max_ts, max_app, first_app;
} scan_pos;

static int all_zero(vv_segment *s, uint64_t from, uint64_t to)
{
	uint8_t buf[65536];
	while (from < to) {
		size_t n = to - from > sizeof buf ? sizeof buf : (size_t)(to - from), got;
		if (vv_io_pread(s->log, buf, n, from, &got) || got != n) {
			vv_error_clear();
			return 0;
		}
		for (size_t i = 0; i < n; i++)
			if (buf[i])
				return 0;
		from += n;
	}
	return 1;
}

/* Keep the index entries below `from` (the rest is rebuilt from the log)
 * and say where the largest timestamp is known up to. Caller holds mu. */
static int index_below_locked(vv_segment *s, uint64_t from, int64_t from_offset, int64_t *max_ts,
			      uint64_t *walk_from)
{
	if (!s->index_ready) {
		int damaged = 0;
		VV_TRY(vv_index_load(&s->ix, s->idx, s->tidx, from, UINT32_MAX, &damaged));
	}
	vv_index_truncate(&s->ix, from, (uint32_t)(from_offset - s->base));
	s->index_ready = 1;
	vv_index_cursor_reset(&s->ixc, &s->ix);
	*max_ts = atomic_load(&s->max_ts);
	*walk_from = s->ix.n ? s->ix.pos[s->ix.n - 1] : 0;
	if (*max_ts == INT64_MIN)
		*max_ts = s->ixc.last_ts; /* max up to the last index entry... */
	return 0;
}

/* The largest timestamp of the batches below `from`. */
static int max_ts_below(vv_segment *s, uint64_t from, int64_t from_offset, int64_t *out)
{
	int64_t max_ts = INT64_MIN;
	uint64_t walk_from = 0;
	pthread_mutex_lock(&s->mu);
	int rc = index_below_locked(s, from, from_offset, &max_ts, &walk_from);
	pthread_mutex_unlock(&s->mu);
	VV_TRY(rc);
	/* ...and the batches between it and `from` (about one interval) */
	while (atomic_load(&s->max_ts) == INT64_MIN && walk_from + VV_BATCH_HEADER_SIZE <= from) {
		uint8_t hb[VV_BATCH_HEADER_SIZE];
		vv_batch_header h;
		if (vv_io_pread_full(s->log, hb, sizeof hb, walk_from) ||
		    vv_batch_parse_header(hb, sizeof hb, s->cfg->max_batch, &h)) {
			vv_error_clear();
			break;
		}
		if (h.max_timestamp > max_ts)
			max_ts = h.max_timestamp;
		walk_from += h.length;
	}
	*out = max_ts;
	return 0;
}

static int damage(vv_scan_result *res, const char *reason)
{
	snprintf(res->reason, sizeof res->reason, "%s", reason);
	res->damaged = 1;
	return 1;
}

/* The reader's result at the scan position: 0 = a whole checksummed batch,
 * 1 = stop (the end, or damage noted in res), < 0 = an error. */
static int reader_verdict(int rc, vv_scan_result *res)
{
	if (rc == VARVE_EEND)
		return 1;
	if (rc == VV_INCOMPLETE)
		return damage(res, "torn batch at end of file");
	if (rc == VARVE_ECORRUPT)
		return damage(res, strstr(varve_last_error()->message, "checksum") ? "checksum mismatch"
										   : "bad batch header");
	return rc;
}

/* A whole, checksummed batch at sp->pos: check that it continues the log,
 * index it and move past it. 1 (damage noted in res) if it does not fit. */
static int take_batch(vv_segment *s, const uint8_t *b, const vv_batch_header *h, scan_pos *sp,
		      uint8_t **scratch, size_t *scap, vv_scan_result *res)
{
	if (h->base_offset < sp->next || h->base_offset - s->base > (int64_t)UINT32_MAX - 1 ||
	    vv_batch_last_offset(h) - s->base > (int64_t)UINT32_MAX)
		return damage(res, "offset out of sequence");
	if (vv_batch_validate_records(b, h, scratch, scap, s->cfg->max_batch))
		return damage(res, "malformed records");
	pthread_mutex_lock(&s->mu);
	if (h->max_timestamp > sp->max_ts)
		sp->max_ts = h->max_timestamp;
	int rc = vv_segment_index_batch(s, sp->pos, h, sp->max_ts);
	pthread_mutex_unlock(&s->mu);
	VV_TRY(rc);
	if (h->append_time > sp->max_app)
		sp->max_app = h->append_time;
	if (!sp->first_app)
		sp->first_app = h->append_time;
	sp->next = vv_batch_last_offset(h) + 1;
	sp->pos += h->length;
	return 0;
}

/* Walk the batches from sp->pos to the end of the file or the first damage. */
static int scan_batches(vv_segment *s, uint64_t fsize, scan_pos *sp, vv_scan_result *res)
{
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	int rc;
	for (;;) {
		vv_batch_header h;
		const uint8_t *b;
		rc = reader_verdict(vv_seg_reader_batch(&r, s, sp->pos, fsize, &b, &h), res);
		if (rc)
			break;
		rc = take_batch(s, b, &h, sp, &scratch, &scap, res);
		if (rc)
			break;
	}
	vv_seg_reader_free(&r);
	vv_free(scratch);
	return rc < 0 ? rc : 0;
}

/* After the scan stopped at pos: zeros up to the end are space preallocated
 * (by mmap mode or the filesystem), not damage; past real damage, the batch
 * headers that still parse tell the report how much was lost. */
static void measure_damage(vv_segment *s, uint64_t pos, uint64_t fsize, vv_scan_result *res)
{
	if (res->damaged && !s->cfg->read_only && all_zero(s, pos, fsize)) {
		res->damaged = 0;
		res->zero_tail = fsize - pos;
		res->reason[0] = 0;
	}
	if (!res->damaged)
		return;
	uint64_t q = pos;
	vv_batch_header h;
	uint8_t hb[VV_BATCH_HEADER_SIZE];
	while (q + VV_BATCH_HEADER_SIZE <= fsize && vv_io_pread_full(s->log, hb, sizeof hb, q) == 0 &&
	       vv_batch_parse_header(hb, sizeof hb, s->cfg->max_batch, &h) == 0) {
		res->lost_last_offset = vv_batch_last_offset(&h);
		q += h.length;
	}
	vv_error_clear();
}

int vv_segment_scan(vv_segment *s, uint64_t from, int64_t from_offset, vv_scan_result *res)
{
	memset(res, 0, sizeof *res);
	res->lost_last_offset = -1;
	VV_TRY(vv_segment_open_files(s));
	uint64_t fsize;
	VV_TRY(vv_io_size(s->log, &fsize));
	res->file_size = fsize;
	if (from > fsize)
		from = fsize;
	scan_pos sp = { from, from_offset, INT64_MIN, INT64_MIN, 0 };
	VV_TRY(max_ts_below(s, from, from_offset, &sp.max_ts));
	VV_TRY(scan_batches(s, fsize, &sp, res));
	measure_damage(s, sp.pos, fsize, res);
	res->valid_end = sp.pos;
	res->next_offset = sp.next;
	res->max_ts = sp.max_ts;
	res->max_append_time = sp.max_app;
	res->first_append_time = sp.first_app;
	/* next_offset first: a reader that sees the new size sees it too */
	atomic_store(&s->next_offset, sp.next);
	atomic_store(&s->size, sp.pos);
	if (sp.max_ts > atomic_load(&s->max_ts))
		atomic_store(&s->max_ts, sp.max_ts);
	if (sp.max_app > atomic_load(&s->max_append_time))
		atomic_store(&s->max_append_time, sp.max_app);
	if (!s->first_append_time)
		s->first_append_time = sp.first_app;
	return 0;
}

/* ---- lookups ------------------------------------------------------------ */

/* Damage at pos while indexing: find the next valid batch after it, so that
 * lookups past the damage land near their batch (reads of the damage itself
 * still report it). 0 with *pos and *h, 1 when none is left. */
static int skip_damage(vv_segment *s, uint64_t limit, int64_t next_min, uint64_t *pos,
		       vv_batch_header *h)
{
	uint64_t q;
	int rc = vv_segment_resync(s, *pos + 1, limit, next_min, &q, h);
	if (rc == VARVE_EEND)
		return 1;
	VV_TRY(rc);
	*pos = q;
	return 0;
}

/* Index every batch of [0, size) from the log, past damage too. */
static int index_from_log(vv_segment *s)
{
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	uint64_t limit = atomic_load(&s->size), pos = 0;
	int64_t max_ts = INT64_MIN, next_min = s->base;
	int rc = 0;
	while (pos < limit) {
		vv_batch_header h;
		const uint8_t *b;
		rc = vv_seg_reader_batch(&r, s, pos, limit, &b, &h);
		if (rc == VV_INCOMPLETE || rc == VARVE_ECORRUPT)
			rc = skip_damage(s, limit, next_min, &pos, &h);
		if (rc)
			break;
		next_min = vv_batch_last_offset(&h) + 1;
		if (h.max_timestamp > max_ts)
			max_ts = h.max_timestamp;
		pthread_mutex_lock(&s->mu);
		rc = vv_segment_index_batch(s, pos, &h, max_ts);
		pthread_mutex_unlock(&s->mu);
		if (rc)
			break;
		pos += h.length;
	}
	vv_seg_reader_free(&r);
	return rc < 0 ? rc : 0;
}

/* Rebuild the whole index of a segment from its log (caller holds no lock). */
static int rebuild_index(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	vv_index_clear(&s->ix);
	vv_index_cursor_reset(&s->ixc, &s->ix);
	s->index_ready = 1;
	pthread_mutex_unlock(&s->mu);
	VV_TRY(index_from_log(s));
	if (s->cfg->read_only || atomic_load(&s->replaced) || atomic_load(&s->deleted))
		return 0;
	pthread_mutex_lock(&s->mu);
	if (s->idx && s->tidx) /* the index is only a hint: keep the in-memory copy */
		(void)vv_index_rewrite(&s->ix, s->idx, s->tidx);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Load the index files (not yet loaded). *damaged: they need a rebuild.
 * Caller holds mu. */
static int load_index_locked(vv_segment *s, int *damaged)
{
	if (s->index_ready)
		return 0;
	uint64_t size = atomic_load(&s->size);
	int64_t next = atomic_load(&s->next_offset);
	uint32_t max_rel = next > s->base ? (uint32_t)(next - 1 - s->base) : UINT32_MAX;
	VV_TRY(vv_index_load(&s->ix, s->idx, s->tidx, size, max_rel, damaged));
	if (!*damaged) {
		s->index_ready = 1;
		vv_index_cursor_reset(&s->ixc, &s->ix);
	}
	return 0;
}

static int ensure_index(vv_segment *s)
{
	VV_TRY(vv_segment_open_files(s));
	int damaged = 0;
	pthread_mutex_lock(&s->mu);
	int rc = load_index_locked(s, &damaged);
	/* read n under mu: the writer adds entries under it */
	int empty = s->ix.n == 0;
	pthread_mutex_unlock(&s->mu);
	VV_TRY(rc);
	if (damaged || (empty && atomic_load(&s->size) > 0))
		return rebuild_index(s);
	return 0;
}

int vv_segment_load_index(vv_segment *s) { return ensure_index(s); }

/* Batch header at pos: from the mapping, or one pread. */
static int header_at(vv_segment *s, uint64_t pos, vv_batch_header *h)
{
	const uint8_t *m = atomic_load_explicit(&s->map, memory_order_acquire);
	uint8_t hb[VV_BATCH_HEADER_SIZE];
	const uint8_t *p = hb;
	if (m && pos + VV_BATCH_HEADER_SIZE <= s->map_len)
		p = m + pos;
	else
		VV_TRY(vv_io_pread_full(s->log, hb, sizeof hb, pos));
	if (vv_batch_parse_header(p, VV_BATCH_HEADER_SIZE, s->cfg->max_batch, h)) {
		char path[4096];
		vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
		return VV_CORRUPT(path, pos, "bad batch header");
	}
	return 0;
}


/* Without a mapping, lookups read one stretch after the index entry instead
 * of a pread per batch header. */
#define STRETCH 16384

static void read_stretch(vv_segment *s, uint64_t at, uint64_t size, uint8_t *buf, size_t *have)
{
	*have = 0;
	if (atomic_load(&s->map) || at >= size)
		return;
	size_t want = size - at < STRETCH ? (size_t)(size - at) : STRETCH;
	if (vv_io_pread(s->log, buf, want, at, have))
		*have = 0;
	vv_error_clear();
}

/* Header at q, from the stretch [from, from + have) when it holds it. */
static int header_near(vv_segment *s, const uint8_t *stretch, uint64_t from, size_t have,
		       uint64_t q, vv_batch_header *h)
{
	if (q >= from && q + VV_BATCH_HEADER_SIZE <= from + have) {
		if (vv_batch_parse_header(stretch + (q - from), VV_BATCH_HEADER_SIZE,
					  s->cfg->max_batch, h)) {
			char path[4096];
			vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
			return VV_CORRUPT(path, q, "bad batch header");
		}
		return 0;
	}
	return header_at(s, q, h);
}

/* Where the index says the batch holding `offset` starts, once the header
 * there confirms it (else the index is rebuilt and asked again). */
static int index_landing(vv_segment *s, int64_t offset, uint64_t size, uint8_t *stretch,
			 uint64_t *from, size_t *have, uint64_t *pos)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		uint32_t rel = 0;
		pthread_mutex_lock(&s->mu);
		uint32_t p = vv_index_lookup(&s->ix, (uint32_t)(offset - s->base), &rel);
		pthread_mutex_unlock(&s->mu);
		*from = p;
		read_stretch(s, p, size, stretch, have);
		/* the landing batch must start with the entry's offset: an index
		 * entry is a hint, never trusted alone */
		vv_batch_header h;
		if (p == 0 || (p + VV_BATCH_HEADER_SIZE <= size &&
			       header_near(s, stretch, p, *have, p, &h) == 0 &&
			       h.base_offset == s->base + rel)) {
			*pos = p;
			return 0;
		}
		vv_error_clear();
		if (attempt == 0)
			VV_TRY(rebuild_index(s));
	}
	return 0; /* *pos stays 0: the walk starts at the segment's start */
}

/* The walk met a header that does not hold up after the batch at `after`:
 * go on from the next valid batch (0, *q and *h set), or stop where the
 * damage is when there is none or it starts past `offset` (1). */
static int walk_past_damage(vv_segment *s, int64_t offset, uint64_t size, uint64_t after,
			    uint8_t *stretch, uint64_t *from, size_t *have, uint64_t *q,
			    vv_batch_header *h)
{
	uint64_t nq;
	vv_error_clear();
	int rc = vv_segment_resync(s, after + 1, size, s->base, &nq, h);
	if (rc == VARVE_EEND || (rc == 0 && h->base_offset > offset))
		return 1;
	VV_TRY(rc);
	*q = *from = nq;
	read_stretch(s, nq, size, stretch, have);
	return 0;
}

int vv_segment_find(vv_segment *s, int64_t offset, uint64_t *pos)
{
	*pos = 0;
	uint64_t size = atomic_load(&s->size);
	if (offset <= s->base || size == 0)
		return 0;
	if (offset >= atomic_load(&s->next_offset)) {
		*pos = size;
		return 0;
	}
	VV_TRY(ensure_index(s));
	uint8_t stretch[STRETCH];
	size_t have = 0;
	uint64_t from = 0;
	VV_TRY(index_landing(s, offset, size, stretch, &from, &have, pos));
	/* Walk forward to the batch that holds `offset` (about one interval).
	 * Headers are not checksummed here, so each must also fit the segment
	 * and follow the previous batch's offsets. One that does not is damage
	 * (or was sent off a batch boundary by a damaged length): the next
	 * valid batch after the last header that held up is found by its magic
	 * and checksum, and the walk goes on from there. If that batch starts
	 * past `offset`, the offset lies in the damage: land on it, and the
	 * reader reports it (reader.c). */
	int rc = 0;
	uint64_t q = *pos, prev = *pos;
	int64_t prev_last = -1;
	if (q != from)
		read_stretch(s, from = q, size, stretch, &have);
	while (q < size) {
		vv_batch_header h;
		rc = header_near(s, stretch, from, have, q, &h);
		if (rc == 0 && (h.length > size - q || h.base_offset <= prev_last))
			rc = VARVE_ECORRUPT;
		if (rc == VARVE_ECORRUPT)
			rc = walk_past_damage(s, offset, size, q == prev ? q : prev, stretch, &from,
					      &have, &q, &h);
		if (rc || vv_batch_last_offset(&h) >= offset)
			break;
		prev = q;
		prev_last = vv_batch_last_offset(&h);
		q += h.length;
	}
	*pos = q < size ? q : size;
	return rc < 0 ? rc : 0;
}

/* A time entry (ts, rel) claims: the batch holding offset base+rel has a max
 * timestamp <= ts. Checked against the log before a lookup trusts it. */
static int time_entry_ok(vv_segment *s, int64_t ts, uint32_t rel)
{
	uint64_t pos;
	vv_batch_header h;
	if (vv_segment_find(s, s->base + rel, &pos) || pos >= atomic_load(&s->size) ||
	    header_at(s, pos, &h)) {
		vv_error_clear();
		return 0;
	}
	return h.base_offset <= s->base + rel && vv_batch_last_offset(&h) >= s->base + rel &&
	       h.max_timestamp <= ts;
}

int vv_segment_find_time(vv_segment *s, int64_t ts, uint64_t *pos, int *found)
{
	*pos = 0;
	*found = 0;
	if (atomic_load(&s->size) == 0)
		return 0;
	int64_t mts = atomic_load(&s->max_ts);
	if (mts != INT64_MIN && mts < ts)
		return 0;
	VV_TRY(ensure_index(s));
	uint32_t scan_rel = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		pthread_mutex_lock(&s->mu);
		long i = vv_index_lookup_time(&s->ix, ts, &scan_rel);
		long check = i >= 0 ? i : (long)s->ix.tn - 1;
		int64_t cts = check >= 0 ? s->ix.tts[check] : 0;
		uint32_t crel = check >= 0 ? s->ix.trel[check] : 0;
		if (i < 0) /* no entry reaches ts: scan from the last one */
			scan_rel = s->ix.tn ? s->ix.trel[s->ix.tn - 1] : 0;
		pthread_mutex_unlock(&s->mu);
		if (check < 0 || time_entry_ok(s, cts, crel))
			break;
		/* a well-formed but wrong time index: rebuild it from the log */
		if (attempt == 0)
			VV_TRY(rebuild_index(s));
		scan_rel = 0;
	}
	*found = 1; /* a later, unindexed batch may still hold it: scan from there */
	return vv_segment_find(s, s->base + scan_rel, pos);
}

int vv_segment_load_stats(vv_segment *s)
{
	if (atomic_load(&s->max_ts) != INT64_MIN && atomic_load(&s->max_append_time) != INT64_MIN)
		return 0;
	if (atomic_load(&s->size) == 0)
		return 0;
	VV_TRY(ensure_index(s));
	pthread_mutex_lock(&s->mu);
	int64_t max_ts = s->ix.tn ? s->ix.tts[s->ix.tn - 1] : INT64_MIN;
	uint64_t pos = s->ix.n ? s->ix.pos[s->ix.n - 1] : 0;
	pthread_mutex_unlock(&s->mu);
	/* Walk the headers after the last index entry (at most one interval). */
	uint64_t size = atomic_load(&s->size);
	int64_t max_app = INT64_MIN;
	int rebuilt = 0;
	while (pos + VV_BATCH_HEADER_SIZE <= size) {
		uint8_t hb[VV_BATCH_HEADER_SIZE];
		vv_batch_header h;
		VV_TRY(vv_io_pread_full(s->log, hb, sizeof hb, pos));
		if (vv_batch_parse_header(hb, sizeof hb, s->cfg->max_batch, &h)) {
			if (!rebuilt) {
				/* an index entry off a batch boundary (a torn index):
				 * rebuild it from the log and walk again */
				rebuilt = 1;
				VV_TRY(rebuild_index(s));
				pthread_mutex_lock(&s->mu);
				max_ts = s->ix.tn ? s->ix.tts[s->ix.tn - 1] : INT64_MIN;
				pos = s->ix.n ? s->ix.pos[s->ix.n - 1] : 0;
				pthread_mutex_unlock(&s->mu);
				continue;
			}
			char path[4096];
			vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
			return VV_CORRUPT(path, pos, "bad batch header");
		}
		if (h.max_timestamp > max_ts)
			max_ts = h.max_timestamp;
		if (h.append_time > max_app)
			max_app = h.append_time;
		pos += h.length;
	}
	if (max_ts > atomic_load(&s->max_ts))
		atomic_store(&s->max_ts, max_ts);
	if (max_app > atomic_load(&s->max_append_time))
		atomic_store(&s->max_append_time, max_app);
	return 0;
}
