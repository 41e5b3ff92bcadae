/* SPDX-License-Identifier: MIT */
/*
 * segment.c -- one .log file and its indexes: append, scan, lookups.
 * See the design notes in segment.h.
 */
#include <inttypes.h>
#include <stdio.h>

#include "segment.h"
#include "util.h"

#define READ_CHUNK_MIN (8u * 1024)
#define READ_CHUNK_MAX (1024u * 1024)

void vv_segment_path(char *out, size_t cap, const char *dir, int64_t base, const char *suffix)
{
	snprintf(out, cap, "%s/%020" PRId64 "%s", dir, base, suffix);
}

void vv_segment_unlink_files(const char *dir, int64_t base)
{
	/* Best effort, and it must not replace the error that got us here
	 * (a failed roll destroys its new segment on the way out). */
	static const char *const sfx[] = { ".timeindex", ".index", ".log" };
	char p[4096];
	vv_error_saved saved;
	vv_error_save(&saved);
	for (size_t i = 0; i < 3; i++) {
		vv_segment_path(p, sizeof p, dir, base, sfx[i]);
		(void)vv_io_unlink(p);
	}
	vv_error_restore(&saved);
}

int vv_segment_parse_name(const char *name, int64_t *base)
{
	size_t n = strlen(name);
	if (n != VV_SEG_NAME_LEN + 4 || strcmp(name + VV_SEG_NAME_LEN, ".log") != 0)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < VV_SEG_NAME_LEN; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*base = (int64_t)v;
	return 0;
}

static int seg_new(const char *dir, int64_t base, const vv_seg_config *cfg, vv_segment **out)
{
	vv_segment *s = vv_calloc(1, sizeof *s);
	if (!s)
		return vv_error_set(VARVE_ENOMEM, 0, "segment");
	s->dir = vv_strdup(dir);
	if (!s->dir) {
		vv_free(s);
		return vv_error_set(VARVE_ENOMEM, 0, "segment");
	}
	atomic_init(&s->refs, 1);
	atomic_init(&s->deleted, 0);
	atomic_init(&s->replaced, 0);
	s->base = base;
	s->cfg = cfg;
	pthread_mutex_init(&s->mu, NULL);
	vv_index_init(&s->ix);
	atomic_init(&s->size, 0);
	atomic_init(&s->next_offset, base);
	atomic_init(&s->max_ts, INT64_MIN);
	atomic_init(&s->max_append_time, INT64_MIN);
	*out = s;
	return 0;
}

static _Atomic long open_count;
static _Atomic uint64_t ticks;

long vv_segment_open_count(void) { return atomic_load(&open_count); }
uint64_t vv_segment_tick(void) { return atomic_fetch_add_explicit(&ticks, 1, memory_order_relaxed); }

static void unmap_locked(vv_segment *s)
{
	uint8_t *m = atomic_exchange(&s->map, NULL);
	if (m)
		vv_io_unmap(m, s->map_len);
	s->map_len = 0;
}

static void seg_destroy(vv_segment *s)
{
	unmap_locked(s);
	if (s->log)
		atomic_fetch_sub(&open_count, 1);
	vv_io_close(s->log);
	vv_io_close(s->idx);
	vv_io_close(s->tidx);
	if (atomic_load(&s->deleted) && !atomic_load(&s->replaced)) {
		vv_error_saved saved;
		vv_error_save(&saved);
		vv_segment_unlink_files(s->dir, s->base);
		(void)vv_io_sync_dir(s->dir);
		vv_error_restore(&saved);
	}
	vv_index_free(&s->ix);
	vv_free((void *)atomic_load(&s->vbits));
	pthread_mutex_destroy(&s->mu);
	vv_free(s->dir);
	vv_free(s);
}

void vv_segment_ref(vv_segment *s) { atomic_fetch_add(&s->refs, 1); }

void vv_segment_unref(vv_segment *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		seg_destroy(s);
}

void vv_segment_mark_deleted(vv_segment *s) { atomic_store(&s->deleted, 1); }
void vv_segment_mark_replaced(vv_segment *s) { atomic_store(&s->replaced, 1); }

static int open_files_locked(vv_segment *s)
{
	char p[4096];
	if (atomic_load(&s->replaced)) {
		/* Never open by name: the name holds another segment's files now. */
		if (!s->log)
			return vv_error_set(VARVE_EIO, 0, "segment %" PRId64 " was replaced", s->base);
		return 0;
	}
	int rw = s->cfg->read_only ? VV_O_RDONLY : VV_O_RDWR;
	if (!s->log) {
		vv_segment_path(p, sizeof p, s->dir, s->base, s->from_swap ? ".log.swap" : ".log");
		vv_file *f;
		int rc = vv_io_open(p, rw, s->cfg->file_mode, &f);
		if (rc == VARVE_ENOTFOUND && s->from_swap) {
			/* a writer finished the swap since: the same file, renamed */
			vv_segment_path(p, sizeof p, s->dir, s->base, ".log");
			rc = vv_io_open(p, rw, s->cfg->file_mode, &f);
		}
		if (rc)
			return rc;
		atomic_store(&s->log, f);
		atomic_fetch_add(&open_count, 1);
	}
	if (s->from_swap) {
		vv_error_clear();
		return 0; /* its index files may be old or new: rebuild in memory */
	}
	if (!s->idx) {
		vv_segment_path(p, sizeof p, s->dir, s->base, ".index");
		int rc = vv_io_open(p, s->cfg->read_only ? rw : rw | VV_O_CREAT, s->cfg->file_mode,
				    &s->idx);
		if (rc && rc != VARVE_ENOTFOUND)
			return rc;
	}
	if (!s->tidx) {
		vv_segment_path(p, sizeof p, s->dir, s->base, ".timeindex");
		int rc = vv_io_open(p, s->cfg->read_only ? rw : rw | VV_O_CREAT, s->cfg->file_mode,
				    &s->tidx);
		if (rc && rc != VARVE_ENOTFOUND)
			return rc;
	}
	vv_error_clear();
	if (s->cfg->use_mmap && s->sealed && !atomic_load(&s->map)) {
		/* a sealed segment is read through a read-only mapping of its size */
		uint64_t size = atomic_load(&s->size);
		uint8_t *m;
		if (size && vv_io_map(s->log, (size_t)size, 0, &m) == 0) {
			s->map_len = (size_t)size;
			atomic_store(&s->map, m);
		}
		vv_error_clear(); /* without a mapping, reads use pread */
	}
	return 0;
}

int vv_segment_open_files(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	int rc = open_files_locked(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int vv_segment_close_idle(vv_segment *s, int caller_refs)
{
	int closed = 0;
	pthread_mutex_lock(&s->mu);
	/* a dirty segment may close too: its pages stay in the page cache and a
	 * later sync reaches them (vv_partition syncs reopen it, or syncfs) */
	if (s->sealed && s->log && atomic_load(&s->refs) == 1 + caller_refs &&
	    !atomic_load(&s->replaced)) {
		unmap_locked(s);
		vv_io_close(s->log);
		vv_io_close(s->idx);
		vv_io_close(s->tidx);
		s->log = s->idx = s->tidx = NULL;
		atomic_fetch_sub(&open_count, 1);
		closed = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return closed;
}

int vv_segment_create(const char *dir, int64_t base, const vv_seg_config *cfg, vv_segment **out)
{
	*out = NULL;
	vv_segment *s;
	VV_TRY(seg_new(dir, base, cfg, &s));
	char p[4096];
	vv_segment_path(p, sizeof p, dir, base, ".log");
	vv_file *f = NULL;
	int rc = vv_io_open(p, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, cfg->file_mode, &f);
	atomic_store(&s->log, f);
	if (rc == 0) {
		atomic_fetch_add(&open_count, 1);
		rc = open_files_locked(s);
	}
	if (rc == 0)
		rc = vv_io_truncate(s->idx, 0);
	if (rc == 0)
		rc = vv_io_truncate(s->tidx, 0);
	if (rc) {
		/* no stray file may outlive a failed create: its name is an offset */
		vv_error_saved e;
		vv_error_save(&e);
		vv_segment_mark_deleted(s);
		vv_segment_unref(s);
		vv_error_restore(&e);
		return rc;
	}
	s->index_ready = 1;
	*out = s;
	return 0;
}

int vv_segment_attach(const char *dir, int64_t base, uint64_t size, const vv_seg_config *cfg,
		      vv_segment **out)
{
	*out = NULL;
	vv_segment *s;
	VV_TRY(seg_new(dir, base, cfg, &s));
	atomic_store(&s->size, size);
	*out = s;
	return 0;
}

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

int vv_seg_reader_batch(vv_seg_reader *r, vv_segment *s, uint64_t pos, uint64_t limit,
			const uint8_t **batch, vv_batch_header *h)
{
	char path[4096];
	if (pos >= limit)
		return VARVE_EEND;
	if (limit - pos < VV_BATCH_HEADER_SIZE)
		return VV_INCOMPLETE;
	atomic_store_explicit(&s->last_used, atomic_load_explicit(&ticks, memory_order_relaxed),
			      memory_order_relaxed);
	if (s->cfg->use_mmap && !atomic_load_explicit(&s->map, memory_order_acquire))
		VV_TRY(vv_segment_open_files(s));
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
	VV_TRY(check_batch(r, s, p, pos, h, limit));
	*batch = p;
	return 0;
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

/* ---- scanning and recovery -------------------------------------------- */

/* Add index entries for the batch at pos, as the appender does. */
static int index_batch(vv_segment *s, uint64_t pos, const vv_batch_header *h, int64_t max_ts)
{
	return vv_index_note(&s->ix, &s->ixc, pos, (uint32_t)(h->base_offset - s->base), max_ts,
			     s->cfg->index_interval);
}

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

	pthread_mutex_lock(&s->mu);
	/* Entries past `from` are rebuilt from the log. */
	if (!s->index_ready) {
		int damaged = 0;
		int rc = vv_index_load(&s->ix, s->idx, s->tidx, from, UINT32_MAX, &damaged);
		if (rc) {
			pthread_mutex_unlock(&s->mu);
			return rc;
		}
	}
	vv_index_truncate(&s->ix, from, (uint32_t)(from_offset - s->base));
	s->index_ready = 1;
	vv_index_cursor_reset(&s->ixc, &s->ix);
	int64_t max_ts = atomic_load(&s->max_ts);
	uint64_t walk_from = s->ix.n ? s->ix.pos[s->ix.n - 1] : 0;
	if (max_ts == INT64_MIN)
		max_ts = s->ixc.last_ts; /* max up to the last index entry... */
	pthread_mutex_unlock(&s->mu);
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

	vv_seg_reader r;
	vv_seg_reader_init(&r);
	uint8_t *scratch = NULL;
	size_t scap = 0;
	uint64_t pos = from;
	int64_t next = from_offset;
	int64_t max_app = INT64_MIN, first_app = 0;
	int rc = 0;
	for (;;) {
		vv_batch_header h;
		const uint8_t *b;
		rc = vv_seg_reader_batch(&r, s, pos, fsize, &b, &h);
		if (rc == VARVE_EEND) {
			rc = 0;
			break;
		}
		if (rc == VV_INCOMPLETE) {
			snprintf(res->reason, sizeof res->reason, "torn batch at end of file");
			res->damaged = 1;
			rc = 0;
			break;
		}
		if (rc == VARVE_ECORRUPT) {
			snprintf(res->reason, sizeof res->reason, "%s",
				 strstr(varve_last_error()->message, "checksum") ? "checksum mismatch"
										 : "bad batch header");
			res->damaged = 1;
			rc = 0;
			break;
		}
		if (rc)
			break;
		/* Whole and checksummed; now the logical checks. */
		if (h.base_offset < next || h.base_offset - s->base > (int64_t)UINT32_MAX - 1 ||
		    vv_batch_last_offset(&h) - s->base > (int64_t)UINT32_MAX) {
			snprintf(res->reason, sizeof res->reason, "offset out of sequence");
			res->damaged = 1;
			break;
		}
		if (vv_batch_validate_records(b, &h, &scratch, &scap, s->cfg->max_batch)) {
			snprintf(res->reason, sizeof res->reason, "malformed records");
			res->damaged = 1;
			break;
		}
		pthread_mutex_lock(&s->mu);
		if (h.max_timestamp > max_ts)
			max_ts = h.max_timestamp;
		rc = index_batch(s, pos, &h, max_ts);
		pthread_mutex_unlock(&s->mu);
		if (rc)
			break;
		if (h.append_time > max_app)
			max_app = h.append_time;
		if (!first_app)
			first_app = h.append_time;
		next = vv_batch_last_offset(&h) + 1;
		pos += h.length;
	}
	/* Zeros from the cut to the end are space preallocated in mmap mode (or
	 * by the filesystem), not lost data. */
	if (res->damaged && !s->cfg->read_only && all_zero(s, pos, fsize)) {
		res->damaged = 0;
		res->zero_tail = fsize - pos;
		res->reason[0] = 0;
	}
	/* Past a cut, find the last readable offset for the report: later batch
	 * headers that still parse tell how much was lost. */
	if (res->damaged) {
		uint64_t q = pos;
		vv_batch_header h;
		uint8_t hb[VV_BATCH_HEADER_SIZE];
		while (q + VV_BATCH_HEADER_SIZE <= fsize &&
		       vv_io_pread_full(s->log, hb, sizeof hb, q) == 0 &&
		       vv_batch_parse_header(hb, sizeof hb, s->cfg->max_batch, &h) == 0) {
			res->lost_last_offset = vv_batch_last_offset(&h);
			q += h.length;
		}
		vv_error_clear();
	}
	vv_seg_reader_free(&r);
	vv_free(scratch);
	if (rc < 0)
		return rc;
	res->valid_end = pos;
	res->next_offset = next;
	res->max_ts = max_ts;
	res->max_append_time = max_app;
	res->first_append_time = first_app;
	/* next_offset first: a reader that sees the new size sees it too */
	atomic_store(&s->next_offset, next);
	atomic_store(&s->size, pos);
	if (max_ts > atomic_load(&s->max_ts))
		atomic_store(&s->max_ts, max_ts);
	if (max_app > atomic_load(&s->max_append_time))
		atomic_store(&s->max_append_time, max_app);
	if (!s->first_append_time)
		s->first_append_time = first_app;
	return 0;
}

int vv_segment_truncate(vv_segment *s, uint64_t pos)
{
	VV_TRY(vv_segment_open_files(s));
	VV_TRY(vv_io_truncate(s->log, pos));
	VV_TRY(vv_io_datasync(s->log));
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (s->idx && s->tidx) {
		rc = vv_index_rewrite(&s->ix, s->idx, s->tidx);
	}
	s->alloc_known = 0;
	pthread_mutex_unlock(&s->mu);
	atomic_store(&s->size, pos);
	return rc;
}

/* ---- appending --------------------------------------------------------- */

/* Preallocation step: an eighth of a segment, between 64 KiB and 1 MiB, so
 * small segments and many partitions do not reserve much disk. */
static uint64_t alloc_chunk(const vv_segment *s)
{
	uint64_t c = s->cfg->segment_bytes / 8;
	if (c < (64u << 10))
		c = 64u << 10;
	if (c > (1u << 20))
		c = 1u << 20;
	return c;
}

/* The active segment keeps ALLOC_CHUNK of allocated, zeroed space ahead of
 * its data (fallocate): an fdatasync then has no file size to journal, and
 * in mmap mode running out of disk is an error here, never a SIGBUS later.
 * Readers never look past `size`; recovery and close trim the zeros.
 * Caller holds the partition lock. */
static int reserve(vv_segment *s, uint64_t end)
{
	if (!s->alloc_known) {
		pthread_mutex_lock(&s->mu);
		int rc = s->log ? 0 : open_files_locked(s);
		uint64_t fsize = 0;
		if (rc == 0)
			rc = vv_io_size(s->log, &fsize);
		if (rc == 0 && s->cfg->use_mmap && !atomic_load(&s->map)) {
			size_t span = (size_t)s->cfg->map_span;
			uint8_t *m = NULL;
			if (fsize > span)
				span = (size_t)fsize;
			rc = vv_io_map(s->log, span, 1, &m);
			if (rc == 0) {
				s->map_len = span;
				atomic_store(&s->map, m);
			}
		}
		if (rc == 0) {
			s->alloc_end = fsize;
			s->alloc_known = 1;
		}
		pthread_mutex_unlock(&s->mu);
		VV_TRY(rc);
	}
	uint64_t cap = s->cfg->use_mmap ? s->map_len : UINT32_MAX;
	if (end > cap)
		return vv_error_set(VARVE_ETOOBIG, 0, "batch does not fit the segment");
	if (end <= s->alloc_end)
		return 0;
	uint64_t chunk = alloc_chunk(s);
	uint64_t want = end + chunk;
	want -= want % chunk;
	if (want > cap)
		want = cap;
	VV_TRY(vv_io_extend(s->log, want));
	if (s->cfg->use_mmap)
		vv_io_map_prefault(atomic_load_explicit(&s->map, memory_order_relaxed) + s->alloc_end,
				   (size_t)(want - s->alloc_end));
	s->alloc_end = want;
	return 0;
}

int vv_segment_prepare(vv_segment *s)
{
	return reserve(s, atomic_load(&s->size));
}

int vv_segment_append(vv_segment *s, const uint8_t *batch, size_t len, const vv_batch_header *h)
{
	uint64_t pos = atomic_load_explicit(&s->size, memory_order_relaxed);
	if (pos + len > UINT32_MAX)
		return vv_error_set(VARVE_ETOOBIG, 0, "segment would exceed 4 GiB");
	int rc;
	VV_TRY(reserve(s, pos + len));
	if (s->cfg->use_mmap) {
		memcpy(atomic_load_explicit(&s->map, memory_order_relaxed) + pos, batch, len);
	} else if ((rc = vv_io_pwrite(s->log, batch, len, pos))) {
		/* A partial batch may sit at pos: the next append overwrites it,
		 * a close trims it, recovery cuts it. */
		return rc;
	}
	int64_t max_ts = atomic_load_explicit(&s->max_ts, memory_order_relaxed);
	if (h->max_timestamp > max_ts)
		max_ts = h->max_timestamp;
	pthread_mutex_lock(&s->mu);
	rc = index_batch(s, pos, h, max_ts);
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	if (!s->first_append_time)
		s->first_append_time = h->append_time;
	atomic_store_explicit(&s->max_ts, max_ts, memory_order_relaxed);
	if (h->append_time > atomic_load_explicit(&s->max_append_time, memory_order_relaxed))
		atomic_store_explicit(&s->max_append_time, h->append_time, memory_order_relaxed);
	atomic_store_explicit(&s->dirty, 1, memory_order_relaxed);
	atomic_store_explicit(&s->next_offset, vv_batch_last_offset(h) + 1, memory_order_release);
	atomic_store_explicit(&s->size, pos + len, memory_order_release);
	return 0;
}

int vv_segment_flush_index(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (s->idx && s->tidx && s->index_ready)
		rc = vv_index_flush(&s->ix, s->idx, s->tidx);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int vv_segment_sync(vv_segment *s)
{
	if (!s->log)
		return 0;
	/* clear first: an append racing with the sync marks it again */
	atomic_store(&s->dirty, 0);
	int rc = vv_io_datasync(s->log);
	if (rc)
		atomic_store(&s->dirty, 1);
	return rc;
}

int vv_segment_seal(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	/* A final time entry holding the segment's max timestamp, so time
	 * lookups and retention see it without scanning (as Kafka does). Adding
	 * it again after a failed flush adds nothing. */
	if (atomic_load(&s->size) > 0 && s->index_ready)
		rc = vv_index_seal(&s->ix, &s->ixc, atomic_load(&s->max_ts),
				   (uint32_t)(atomic_load(&s->next_offset) - 1 - s->base));
	if (rc == 0 && s->idx && s->tidx)
		rc = vv_index_flush(&s->ix, s->idx, s->tidx);
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		rc = vv_segment_trim(s);
	if (rc == 0)
		s->sealed = 1;
	return rc;
}

int vv_segment_sync_all(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (s->idx && s->tidx) {
		rc = vv_io_datasync(s->idx);
		if (rc == 0)
			rc = vv_io_datasync(s->tidx);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		rc = vv_segment_sync(s);
	return rc;
}

int vv_segment_trim(vv_segment *s)
{
	uint64_t size = atomic_load(&s->size);
	if (!s->log || !s->alloc_known || s->alloc_end <= size)
		return 0;
	/* the mapping stays valid: nobody reads past size */
	VV_TRY(vv_io_truncate(s->log, size));
	s->alloc_end = size;
	return 0;
}

/* ---- lookups ------------------------------------------------------------ */

/* Rebuild the whole index of a segment from its log (caller holds no lock). */
static int rebuild_index(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	vv_index_clear(&s->ix);
	vv_index_cursor_reset(&s->ixc, &s->ix);
	s->index_ready = 1;
	pthread_mutex_unlock(&s->mu);
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	uint64_t limit = atomic_load(&s->size), pos = 0;
	int64_t max_ts = INT64_MIN, next_min = s->base;
	int rc = 0;
	while (pos < limit) {
		vv_batch_header h;
		const uint8_t *b;
		rc = vv_seg_reader_batch(&r, s, pos, limit, &b, &h);
		if (rc == VV_INCOMPLETE || rc == VARVE_ECORRUPT) {
			/* damage: index the valid batches after it, so that lookups
			 * past it land near their batch (reads of the damage itself
			 * still report it) */
			uint64_t q;
			rc = vv_segment_resync(s, pos + 1, limit, next_min, &q, &h);
			if (rc == VARVE_EEND) {
				rc = 0;
				break;
			}
			if (rc)
				break;
			pos = q;
		}
		if (rc)
			break;
		next_min = vv_batch_last_offset(&h) + 1;
		if (h.max_timestamp > max_ts)
			max_ts = h.max_timestamp;
		pthread_mutex_lock(&s->mu);
		rc = index_batch(s, pos, &h, max_ts);
		pthread_mutex_unlock(&s->mu);
		if (rc)
			break;
		pos += h.length;
	}
	vv_seg_reader_free(&r);
	if (rc == 0 && !s->cfg->read_only && !atomic_load(&s->replaced) &&
	    !atomic_load(&s->deleted)) {
		pthread_mutex_lock(&s->mu);
		if (s->idx && s->tidx)
			rc = vv_index_rewrite(&s->ix, s->idx, s->tidx);
		pthread_mutex_unlock(&s->mu);
		if (rc) /* the index is only a hint: keep the in-memory copy */
			rc = 0;
	}
	return rc;
}

static int ensure_index(vv_segment *s);

int vv_segment_load_index(vv_segment *s) { return ensure_index(s); }

static int ensure_index(vv_segment *s)
{
	VV_TRY(vv_segment_open_files(s));
	pthread_mutex_lock(&s->mu);
	int rc = 0, damaged = 0;
	if (!s->index_ready) {
		uint64_t size = atomic_load(&s->size);
		int64_t next = atomic_load(&s->next_offset);
		uint32_t max_rel = next > s->base ? (uint32_t)(next - 1 - s->base) : UINT32_MAX;
		rc = vv_index_load(&s->ix, s->idx, s->tidx, size, max_rel, &damaged);
		if (rc == 0 && !damaged) {
			s->index_ready = 1;
			vv_index_cursor_reset(&s->ixc, &s->ix);
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return rc;
	if (damaged || (s->ix.n == 0 && atomic_load(&s->size) > 0))
		return rebuild_index(s);
	return 0;
}

/* Check that the batch at pos starts with base offset `expect`. */
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
	for (int attempt = 0; attempt < 2; attempt++) {
		uint32_t rel = 0;
		pthread_mutex_lock(&s->mu);
		uint32_t p = vv_index_lookup(&s->ix, (uint32_t)(offset - s->base), &rel);
		pthread_mutex_unlock(&s->mu);
		from = p;
		read_stretch(s, from, size, stretch, &have);
		/* the landing batch must start with the entry's offset: an index
		 * entry is a hint, never trusted alone */
		vv_batch_header h;
		if (p == 0 || (p + VV_BATCH_HEADER_SIZE <= size &&
			       header_near(s, stretch, from, have, p, &h) == 0 &&
			       h.base_offset == s->base + rel)) {
			*pos = p;
			break;
		}
		vv_error_clear();
		if (attempt == 0)
			VV_TRY(rebuild_index(s));
	}
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
		if (rc == VARVE_ECORRUPT) {
			uint64_t nq;
			vv_error_clear();
			rc = vv_segment_resync(s, (q == prev ? q : prev) + 1, size, s->base, &nq, &h);
			if (rc == VARVE_EEND || (rc == 0 && h.base_offset > offset)) {
				rc = 0;
				break;
			}
			if (rc == 0)
				read_stretch(s, from = q = nq, size, stretch, &have);
		}
		if (rc || vv_batch_last_offset(&h) >= offset)
			break;
		prev = q;
		prev_last = vv_batch_last_offset(&h);
		q += h.length;
	}
	*pos = q < size ? q : size;
	return rc;
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
