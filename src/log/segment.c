/* SPDX-License-Identifier: MIT */
/*
 * segment.c -- one .log file and its indexes: names, the object's life
 * (create, attach, lazy open, close when idle, delete with the last
 * reference) and the append path (preallocation, the write itself by pwrite
 * or through the mapping, seal, sync, trim). The read side (batch reader,
 * recovery scan, lookups) is in segment_read.c. See the design notes in
 * segment.h.
 *
 * Every file operation goes through the store's I/O table (cfg->io), the
 * mmap-mode copy into the mapping included.
 * May call: log (batch, index), base.
 */
#include <inttypes.h>
#include <stdio.h>

#include "segment.h"
#include "util.h"

void vv_segment_path(char *out, size_t cap, const char *dir, int64_t base, const char *suffix)
{
	snprintf(out, cap, "%s/%020" PRId64 "%s", dir, base, suffix);
}

void vv_segment_unlink_files(const vv_io_methods *io, const char *dir, int64_t base)
{
	/* Best effort, and it must not replace the error that got us here
	 * (a failed roll destroys its new segment on the way out). */
	static const char *const sfx[] = { ".timeindex", ".index", ".log" };
	char p[4096];
	vv_error_saved saved;
	vv_error_save(&saved);
	for (size_t i = 0; i < 3; i++) {
		vv_segment_path(p, sizeof p, dir, base, sfx[i]);
		(void)vv_io_unlink(io, p); /* a leftover is found and removed by recovery */
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
	vv_postab_set_init(&s->ptabs, cfg->read_cache);
	vv_index_init(&s->ix);
	atomic_init(&s->size, 0);
	atomic_init(&s->next_offset, base);
	atomic_init(&s->max_ts, INT64_MIN);
	atomic_init(&s->max_append_time, INT64_MIN);
	*out = s;
	return 0;
}

static _Atomic long open_count;

long vv_segment_open_count(void) { return atomic_load(&open_count); }

static void unmap_locked(vv_segment *s)
{
	uint8_t *m = atomic_exchange(&s->map, NULL);
	if (m)
		vv_io_unmap(s->log, m, s->map_len);
	s->map_len = 0;
	atomic_store(&s->map_tried, 0);
}

static void seg_destroy(vv_segment *s)
{
	unmap_locked(s);
	if (s->log)
		atomic_fetch_sub(&open_count, 1);
	/* the last reference: nobody is left to report a failed close to */
	(void)vv_io_close(s->log);
	(void)vv_io_close(s->idx);
	(void)vv_io_close(s->tidx);
	if (atomic_load(&s->deleted) && !atomic_load(&s->replaced)) {
		vv_error_saved saved;
		vv_error_save(&saved);
		vv_segment_unlink_files(s->cfg->io, s->dir, s->base);
		/* unsynced, the unlink may come back after a crash: recovery
		 * deletes segments below the log start again */
		(void)vv_io_sync_dir(s->cfg->io, s->dir);
		vv_error_restore(&saved);
	}
	vv_index_free(&s->ix);
	vv_free((void *)atomic_load(&s->vbits));
	vv_postab_set_free(&s->ptabs);
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

/* Open an index file: created by a writer, optional for a reader. */
static int open_index_file(vv_segment *s, const char *suffix, vv_file **out)
{
	char p[4096];
	vv_segment_path(p, sizeof p, s->dir, s->base, suffix);
	int flags = s->cfg->read_only ? VV_O_RDONLY : VV_O_RDWR | VV_O_CREAT;
	int rc = vv_io_open(s->cfg->io, p, flags, s->cfg->file_mode, out);
	return rc == VARVE_ENOTFOUND ? 0 : rc;
}

static int open_log_file(vv_segment *s)
{
	char p[4096];
	int rw = s->cfg->read_only ? VV_O_RDONLY : VV_O_RDWR;
	vv_segment_path(p, sizeof p, s->dir, s->base, s->from_swap ? ".log.swap" : ".log");
	vv_file *f;
	int rc = vv_io_open(s->cfg->io, p, rw, s->cfg->file_mode, &f);
	if (rc == VARVE_ENOTFOUND && s->from_swap) {
		/* a writer finished the swap since: the same file, renamed */
		vv_segment_path(p, sizeof p, s->dir, s->base, ".log");
		rc = vv_io_open(s->cfg->io, p, rw, s->cfg->file_mode, &f);
	}
	VV_TRY(rc);
	atomic_store(&s->log, f);
	atomic_fetch_add(&open_count, 1);
	return 0;
}

/* Map span bytes of the log read-only. A failed mapping is not an error:
 * reads use pread. Caller holds mu and the log is open. */
static void map_log_locked(vv_segment *s, uint64_t span)
{
	uint8_t *m;
	if (span && vv_io_map(s->log, (size_t)span, 0, &m) == 0) {
		s->map_len = (size_t)span;
		atomic_store(&s->map, m);
	}
	vv_error_clear();
}

/* The default read path (not mmap mode, not a read-only handle): the log
 * is read in place through a read-only shared mapping, no copy. Only bytes
 * below the published size are ever touched, and in a writer nothing cuts
 * a segment below its size while the store is open (recovery cuts run
 * before any read, trim gives back only space past size, compaction and
 * retention replace or unlink files, which leaves a mapped inode whole),
 * so the mapping never faults past the end of its file. The active
 * segment is mapped at its largest size up front so appends need no
 * remap. Made at the first read, so a writer that never reads maps
 * nothing. Caller holds mu and the log is open. */
static void read_map_locked(vv_segment *s)
{
	if (atomic_load(&s->map_tried))
		return;
	atomic_store(&s->map_tried, 1);
	uint64_t span = atomic_load(&s->size);
	if (!s->sealed && s->cfg->map_span > span)
		span = s->cfg->map_span;
	map_log_locked(s, span);
}

static int open_files_locked(vv_segment *s)
{
	if (atomic_load(&s->replaced)) {
		/* Never open by name: the name holds another segment's files now. */
		if (!s->log)
			return vv_error_set(VARVE_EIO, 0, "segment %" PRId64 " was replaced", s->base);
		return 0;
	}
	if (!s->log)
		VV_TRY(open_log_file(s));
	if (s->from_swap) {
		vv_error_clear();
		return 0; /* its index files may be old or new: rebuild in memory */
	}
	if (!s->idx)
		VV_TRY(open_index_file(s, ".index", &s->idx));
	if (!s->tidx)
		VV_TRY(open_index_file(s, ".timeindex", &s->tidx));
	vv_error_clear();
	if (s->cfg->use_mmap && s->sealed && !atomic_load(&s->map))
		/* a sealed segment is read through a read-only mapping of its size */
		map_log_locked(s, atomic_load(&s->size));
	return 0;
}

int vv_segment_map_for_read(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	int rc = s->log ? 0 : open_files_locked(s);
	if (rc == 0 && vv_segment_read_map_wanted(s) && !atomic_load(&s->map))
		read_map_locked(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
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
	 * later sync reaches them (vv_partition syncs reopen it, or syncfs).
	 * A replaced or deleted segment no longer holds the partition's
	 * reference, so the count says nothing about readers still in it: its
	 * files close with its last reference instead. */
	if (s->sealed && s->log && atomic_load(&s->refs) == 1 + caller_refs &&
	    !atomic_load(&s->replaced) && !atomic_load(&s->deleted)) {
		unmap_locked(s);
		/* sealed and read-only from here: a failed close loses nothing */
		(void)vv_io_close(s->log);
		(void)vv_io_close(s->idx);
		(void)vv_io_close(s->tidx);
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
	int rc = vv_io_open(cfg->io, p, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, cfg->file_mode, &f);
	if (rc < 0)
		goto fail;
	atomic_store(&s->log, f);
	atomic_fetch_add(&open_count, 1);
	rc = open_files_locked(s);
	if (rc < 0)
		goto fail;
	rc = vv_io_truncate(s->idx, 0);
	if (rc < 0)
		goto fail;
	rc = vv_io_truncate(s->tidx, 0);
	if (rc < 0)
		goto fail;
	s->index_ready = 1;
	*out = s;
	return 0;
fail:;
	/* no stray file may outlive a failed create: its name is an offset */
	vv_error_saved e;
	vv_error_save(&e);
	vv_segment_mark_deleted(s);
	vv_segment_unref(s);
	vv_error_restore(&e);
	return rc;
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

int vv_segment_truncate(vv_segment *s, uint64_t pos)
{
	VV_TRY(vv_segment_open_files(s));
	VV_TRY(vv_io_truncate(s->log, pos));
	VV_TRY(vv_io_datasync(s->log));
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (s->idx && s->tidx)
		rc = vv_index_rewrite(&s->ix, s->idx, s->tidx);
	s->alloc_known = 0;
	pthread_mutex_unlock(&s->mu);
	atomic_store(&s->size, pos);
	return rc;
}

/* ---- appending --------------------------------------------------------- */

int vv_segment_index_batch(vv_segment *s, uint64_t pos, const vv_batch_header *h, int64_t max_ts)
{
	return vv_index_note(&s->ix, &s->ixc, pos, (uint32_t)(h->base_offset - s->base), max_ts,
			     s->cfg->index_interval);
}

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

/* First use of the active segment by this process: learn how much of the
 * file is allocated and, in mmap mode, map it writable. Caller holds mu. */
static int learn_allocation_locked(vv_segment *s)
{
	if (!s->log)
		VV_TRY(open_files_locked(s));
	uint64_t fsize = 0;
	VV_TRY(vv_io_size(s->log, &fsize));
	if (s->cfg->use_mmap && !atomic_load(&s->map)) {
		size_t span = (size_t)s->cfg->map_span;
		uint8_t *m = NULL;
		if (fsize > span)
			span = (size_t)fsize;
		VV_TRY(vv_io_map(s->log, span, 1, &m));
		s->map_len = span;
		atomic_store(&s->map, m);
	}
	s->alloc_end = fsize;
	s->alloc_known = 1;
	return 0;
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
		int rc = learn_allocation_locked(s);
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
		vv_io_map_prefault(s->log,
				   atomic_load_explicit(&s->map, memory_order_relaxed) + s->alloc_end,
				   (size_t)(want - s->alloc_end));
	s->alloc_end = want;
	return 0;
}

int vv_segment_prepare(vv_segment *s)
{
	return reserve(s, atomic_load(&s->size));
}

/* Write len bytes of whole batches at the segment's size. A failed write
 * may leave a partial batch there: the next append overwrites it, a close
 * trims it, recovery cuts it. */
static int write_at_end(vv_segment *s, const uint8_t *data, size_t len, uint64_t *pos)
{
	*pos = atomic_load_explicit(&s->size, memory_order_relaxed);
	if (*pos + len > UINT32_MAX)
		return vv_error_set(VARVE_ETOOBIG, 0, "segment would exceed 4 GiB");
	VV_TRY(reserve(s, *pos + len));
	if (s->cfg->use_mmap)
		return vv_io_map_write(s->log, atomic_load_explicit(&s->map, memory_order_relaxed),
				       *pos, data, len);
	return vv_io_pwrite(s->log, data, len, *pos);
}

/* Index entries and times of the n batches written at pos..end (headers
 * in hs, or parsed from data when hs is NULL), then publish them: size
 * last, so a reader that sees it sees the rest. */
static int publish_batches(vv_segment *s, uint64_t pos, const uint8_t *data, size_t len,
			   const vv_batch_header *hs)
{
	int64_t max_ts = atomic_load_explicit(&s->max_ts, memory_order_relaxed);
	int64_t max_app = atomic_load_explicit(&s->max_append_time, memory_order_relaxed);
	int64_t next = 0;
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t at = 0; at < len;) {
		vv_batch_header parsed;
		const vv_batch_header *h = hs;
		if (!h) {
			/* the appender encoded these batches: a header that does not
			 * parse is a bug, reported rather than written past */
			if (vv_batch_parse_header(data + at, len - at, UINT32_MAX, &parsed) ||
			    parsed.length > len - at) {
				rc = vv_error_set(VARVE_EINVAL, 0, "append run: bad batch at %zu", at);
				break;
			}
			h = &parsed;
		}
		if (h->max_timestamp > max_ts)
			max_ts = h->max_timestamp;
		if ((rc = vv_segment_index_batch(s, pos + at, h, max_ts)) < 0)
			break;
		if (!s->first_append_time)
			s->first_append_time = h->append_time;
		if (h->append_time > max_app)
			max_app = h->append_time;
		next = vv_batch_last_offset(h) + 1;
		at += hs ? len : h->length;
	}
	pthread_mutex_unlock(&s->mu);
	VV_TRY(rc);
	atomic_store_explicit(&s->max_ts, max_ts, memory_order_relaxed);
	atomic_store_explicit(&s->max_append_time, max_app, memory_order_relaxed);
	atomic_store_explicit(&s->dirty, 1, memory_order_relaxed);
	atomic_store_explicit(&s->next_offset, next, memory_order_release);
	atomic_store_explicit(&s->size, pos + len, memory_order_release);
	return 0;
}

int vv_segment_append(vv_segment *s, const uint8_t *batch, size_t len, const vv_batch_header *h)
{
	uint64_t pos;
	VV_TRY(write_at_end(s, batch, len, &pos));
	return publish_batches(s, pos, batch, len, h);
}

int vv_segment_append_run(vv_segment *s, const uint8_t *run, size_t len)
{
	if (len == 0)
		return 0;
	uint64_t pos;
	VV_TRY(write_at_end(s, run, len, &pos));
	return publish_batches(s, pos, run, len, NULL);
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

/* Write the final time entry and every pending index entry. Caller holds mu. */
static int seal_index_locked(vv_segment *s)
{
	/* A final time entry holding the segment's max timestamp, so time
	 * lookups and retention see it without scanning (as Kafka does). Adding
	 * it again after a failed flush adds nothing. */
	if (atomic_load(&s->size) > 0 && s->index_ready)
		VV_TRY(vv_index_seal(&s->ix, &s->ixc, atomic_load(&s->max_ts),
				     (uint32_t)(atomic_load(&s->next_offset) - 1 - s->base)));
	if (s->idx && s->tidx)
		VV_TRY(vv_index_flush(&s->ix, s->idx, s->tidx));
	return 0;
}

int vv_segment_seal(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	int rc = seal_index_locked(s);
	pthread_mutex_unlock(&s->mu);
	VV_TRY(rc);
	VV_TRY(vv_segment_trim(s));
	/* under mu too: a reader's first mapping (read_map_locked) sizes it
	 * by whether the segment is sealed */
	pthread_mutex_lock(&s->mu);
	s->sealed = 1;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int sync_index_files_locked(vv_segment *s)
{
	if (!s->idx || !s->tidx)
		return 0;
	VV_TRY(vv_io_datasync(s->idx));
	return vv_io_datasync(s->tidx);
}

int vv_segment_sync_all(vv_segment *s)
{
	pthread_mutex_lock(&s->mu);
	int rc = sync_index_files_locked(s);
	pthread_mutex_unlock(&s->mu);
	VV_TRY(rc);
	return vv_segment_sync(s);
}

int vv_segment_trim(vv_segment *s)
{
	uint64_t size = atomic_load(&s->size);
	if (!s->log || !s->alloc_known || s->alloc_end <= size)
		return 0;
	/* the mapping stays valid: nobody reads past size */
	VV_TRY(vv_io_truncate(s->log, size));
	s->alloc_end = size;
	/* the new size reaches the disk at the segment's next sync: under
	 * sync=none a sealed segment is synced later only if it is dirty */
	atomic_store(&s->dirty, 1);
	return 0;
}
