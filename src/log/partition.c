/* SPDX-License-Identifier: MIT */
/*
 * partition.c -- segments of one partition: open and close, append with
 * group commit, roll, segment lookups, retention and compaction support.
 * Loading from disk (at open, and a read-only handle's refresh) is in
 * recovery.c, the lookup by time in reader.c. Design notes in partition.h.
 *
 * May call: log (segment, recovery, sizes, producer, batch), base.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "partition.h"
#include "recovery.h"
#include "sizes.h"
#include "util.h"

#define plog vv_partition_log

void vv_partition_log(const vv_partition *p, int level, const char *fmt, ...)
{
	if (!p->cfg.log_fn)
		return;
	char msg[768];
	int n = snprintf(msg, sizeof msg, "%s/%u: ", p->topic, p->id);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	p->cfg.log_fn(p->cfg.log_ctx, level, msg);
}

int64_t vv_partition_now(const vv_partition *p)
{
	return p->cfg.clock_fn ? p->cfg.clock_fn(p->cfg.clock_ctx) : vv_now_ms();
}

/* The segment size list for the next clean open (sizes.h); best effort. */
static void write_sizes(vv_partition *p)
{
	int64_t *bases = vv_malloc(p->nsegs * sizeof *bases);
	uint64_t *sizes = vv_malloc(p->nsegs * sizeof *sizes);
	if (bases && sizes) {
		for (size_t i = 0; i < p->nsegs; i++) {
			bases[i] = p->segs[i]->base;
			sizes[i] = atomic_load(&p->segs[i]->size);
		}
		/* best effort: without the list the next open stats each segment */
		(void)vv_sizes_write(p->cfg.seg.io, p->dir, p->close_nonce, bases, sizes, p->nsegs,
				     p->cfg.seg.file_mode);
	}
	vv_free(bases);
	vv_free(sizes);
	vv_error_clear();
}

/* ---- segment array ------------------------------------------------------ */

int vv_partition_push_segment(vv_partition *p, vv_segment *s)
{
	if (p->nsegs == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 8;
		vv_segment **ns = vv_realloc(p->segs, nc * sizeof *ns);
		if (!ns)
			return vv_error_set(VARVE_ENOMEM, 0, "segment list");
		p->segs = ns;
		p->cap = nc;
	}
	p->segs[p->nsegs++] = s;
	return 0;
}

static vv_segment *active(vv_partition *p) { return p->segs[p->nsegs - 1]; }

/* The partition's directory: made (and its parent synced) by a writer; one
 * that is there must be a directory. */
static int make_dir(const vv_part_config *cfg, const char *dir)
{
	int is_dir = 0;
	int rc = vv_io_stat(cfg->seg.io, dir, NULL, &is_dir);
	if (rc == 0 && is_dir != 1)
		return vv_error_set(VARVE_ECORRUPT, 0, "%s is not a directory", dir);
	if (rc != VARVE_ENOTFOUND)
		return rc;
	VV_TRY(vv_io_mkdir(cfg->seg.io, dir, cfg->dir_mode));
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", dir);
	char *slash = strrchr(parent, '/');
	if (!slash)
		return 0;
	*slash = 0;
	return vv_io_sync_dir(cfg->seg.io, parent);
}

int vv_partition_open(const char *dir, const char *topic, uint32_t id, const vv_part_config *cfg,
		      int clean, vv_partition **out)
{
	*out = NULL;
	vv_partition *p = vv_calloc(1, sizeof *p);
	if (!p)
		return vv_error_set(VARVE_ENOMEM, 0, "partition");
	p->dir = vv_strdup(dir);
	p->topic = vv_strdup(topic);
	p->id = id;
	p->cfg = *cfg;
	/* max_open_files counts files; an open segment holds three */
	p->max_open = cfg->max_open > 0 ? (cfg->max_open >= 6 ? cfg->max_open / 3 : 2) : 0;
	/* fill what an older-style config left out */
	if (!p->cfg.max_write_batch)
		p->cfg.max_write_batch = p->cfg.seg.max_batch;
	if (!p->cfg.seg.segment_bytes)
		p->cfg.seg.segment_bytes = p->cfg.segment_bytes;
	/* segments point at the partition's copy of their config */
	pthread_mutex_init(&p->lock, NULL);
	pthread_rwlock_init(&p->segs_lock, NULL);
	pthread_mutex_init(&p->sync_mu, NULL);
	pthread_mutex_init(&p->rp_mu, NULL);
	pthread_cond_init(&p->sync_cond, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->gather_cond, &ca);
	pthread_condattr_destroy(&ca);
	p->gather_target = 1;
	vv_bb_init(&p->bb);
	vv_pstate_init(&p->pstate);
	int rc;
	if (!p->dir || !p->topic) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "partition");
		goto fail;
	}
	if (!cfg->seg.read_only && (rc = make_dir(cfg, dir)) < 0)
		goto fail;
	if ((rc = vv_recovery_run(p, clean)) < 0)
		goto fail;
	if (!cfg->seg.read_only && (rc = vv_recovery_replay_producers(p)) < 0)
		goto fail;
	*out = p;
	return 0;
fail:;
	/* the close below must not replace the detail of what failed */
	vv_error_saved e;
	vv_error_save(&e);
	(void)vv_partition_close(p, 0);
	vv_error_restore(&e);
	return rc;
}

static int sync_sealed(vv_partition *p);

/* A writer's close: index entries, preallocation given back (clean), every
 * segment synced, then (clean) the recovery point, the producer snapshot
 * and the segment size list. */
static int flush_for_close(vv_partition *p, int clean)
{
	vv_segment *s = active(p);
	VV_TRY(vv_partition_flush_buffer(p));
	VV_TRY(vv_segment_flush_index(s));
	if (clean)
		VV_TRY(vv_segment_trim(s));
	/* everything, including segments sealed unsynced under sync=none */
	VV_TRY(sync_sealed(p));
	if (s->log)
		VV_TRY(vv_segment_sync(s));
	if (!clean)
		return 0;
	vv_recovery_point rp = { atomic_load(&p->end_offset), s->base, atomic_load(&s->size),
				 atomic_load(&p->start_offset) };
	VV_TRY(vv_recovery_point_write(p, &rp));
	/* even empty: the next open then replays nothing */
	VV_TRY(vv_pstate_save(&p->pstate, p->cfg.seg.io, p->dir, atomic_load(&p->end_offset),
			      p->cfg.seg.file_mode));
	if (p->close_nonce && !p->sizes_stale)
		write_sizes(p);
	return 0;
}

int vv_partition_close(vv_partition *p, int clean)
{
	if (!p)
		return 0;
	int rc = 0;
	if (!p->cfg.seg.read_only && atomic_load(&p->failed))
		rc = vv_error_set(VARVE_EIO, 0, "partition %s/%u failed an fsync: its unsynced data may be lost",
				  p->topic, p->id);
	else if (!p->cfg.seg.read_only && p->nsegs)
		rc = flush_for_close(p, clean);
	for (size_t i = 0; i < p->nsegs; i++)
		vv_segment_unref(p->segs[i]);
	vv_free(p->segs);
	vv_bb_free(&p->bb);
	vv_free(p->abuf);
	vv_pstate_free(&p->pstate);
	pthread_mutex_destroy(&p->lock);
	pthread_rwlock_destroy(&p->segs_lock);
	pthread_mutex_destroy(&p->sync_mu);
	pthread_mutex_destroy(&p->rp_mu);
	pthread_cond_destroy(&p->sync_cond);
	pthread_cond_destroy(&p->gather_cond);
	vv_free(p->dir);
	vv_free(p->topic);
	vv_free(p);
	return rc;
}

/* ---- the append buffer (design note 7) ------------------------------------- */

/* Write the buffered batches to the active segment with one write. On
 * failure the buffer keeps them, to be written again at the same position.
 * Caller holds p->lock. */
static int flush_buffer_locked(vv_partition *p)
{
	if (!p->abuf_len)
		return 0;
	VV_TRY(vv_segment_append_run(active(p), p->abuf, p->abuf_len));
	p->abuf_len = 0;
	atomic_store_explicit(&p->buffered, 0, memory_order_release);
	atomic_fetch_add_explicit(&p->buffer_flushes, 1, memory_order_relaxed);
	return 0;
}

int vv_partition_flush_buffer(vv_partition *p)
{
	if (!atomic_load_explicit(&p->buffered, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&p->lock);
	int rc = flush_buffer_locked(p);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int vv_partition_flush_for_read(vv_partition *p)
{
	if (!atomic_load_explicit(&p->buffered, memory_order_acquire))
		return 0;
	vv_error_saved e;
	vv_error_save(&e);
	int written = vv_partition_flush_buffer(p) == 0;
	vv_error_restore(&e);
	return written;
}

/* Write one encoded batch: into the buffer when it is on and the batch is
 * small, else to the active segment (after the buffer, which goes first).
 * Caller holds p->lock. */
static int write_batch(vv_partition *p, const uint8_t *batch, size_t len,
		       const vv_batch_header *h)
{
	size_t cap = p->cfg.append_buffer_bytes;
	if (cap && p->abuf_len + len > cap)
		VV_TRY(flush_buffer_locked(p));
	if (cap && len <= cap / 2 && !p->abuf)
		p->abuf = vv_malloc(cap); /* without it, appends write directly */
	if (!cap || len > cap / 2 || !p->abuf) {
		VV_TRY(flush_buffer_locked(p));
		return vv_segment_append(active(p), batch, len, h);
	}
	memcpy(p->abuf + p->abuf_len, batch, len);
	p->abuf_len += len;
	atomic_store_explicit(&p->buffered, p->abuf_len, memory_order_release);
	vv_segment *s = active(p);
	if (!s->first_append_time) /* rolling by age counts from here */
		s->first_append_time = h->append_time;
	return 0;
}

/* ---- sync ------------------------------------------------------------------ */

/* A failed fsync is final for the partition (design note 3). */
static void mark_failed(vv_partition *p, const char *what)
{
	if (!atomic_exchange(&p->failed, 1))
		plog(p, VARVE_LOG_ERROR,
		     "%s: partition is read-only until the store is reopened (%s)", what,
		     varve_last_error()->message);
}

/* Many dirty sealed segments: one syncfs of the filesystem covers them. */
static int syncfs_sealed(vv_segment **v, size_t n)
{
	VV_TRY(vv_io_syncfs(v[n - 1]->log));
	for (size_t i = 0; i + 1 < n; i++)
		atomic_store(&v[i]->dirty, 0);
	return 0;
}

static int sync_each_sealed(vv_segment **v, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (!atomic_load(&v[i]->dirty))
			continue;
		VV_TRY(vv_segment_open_files(v[i]));
		VV_TRY(vv_segment_sync(v[i]));
	}
	return 0;
}

/* Sync sealed segments that are still dirty (sync=none seals without
 * syncing): each one, or with many, one syncfs for the filesystem. */
static int sync_sealed(vv_partition *p)
{
	vv_segment **v;
	size_t n;
	VV_TRY(vv_partition_segments(p, &v, &n));
	size_t ndirty = 0;
	for (size_t i = 0; i + 1 < n; i++)
		ndirty += atomic_load(&v[i]->dirty) != 0;
	int rc = ndirty > 8 ? syncfs_sealed(v, n) : sync_each_sealed(v, n);
	vv_partition_segments_release(v, n);
	return rc;
}

static int sync_segments(vv_partition *p, vv_segment *active_seg, int sealed_dirty)
{
	if (sealed_dirty)
		VV_TRY(sync_sealed(p));
	return vv_segment_sync(active_seg);
}

/* Make every offset written so far durable: the active segment, and any
 * sealed segment still dirty. */
static int sync_active(vv_partition *p, int64_t *upto)
{
	pthread_rwlock_rdlock(&p->segs_lock);
	vv_segment *s = active(p);
	vv_segment_ref(s);
	int64_t covered = atomic_load_explicit(&s->next_offset, memory_order_acquire);
	int sealed_dirty = 0;
	for (size_t i = 0; i + 1 < p->nsegs && !sealed_dirty; i++)
		sealed_dirty = atomic_load(&p->segs[i]->dirty);
	pthread_rwlock_unlock(&p->segs_lock);
	int rc = sync_segments(p, s, sealed_dirty);
	vv_segment_unref(s);
	*upto = covered;
	return rc;
}

/* ---- group commit ------------------------------------------------------------ */

/* A group is rarely larger than this many appends; the cap keeps one burst
 * of asynchronous appends from making every later leader wait its bound. */
#define GATHER_TARGET_MAX 1024

uint64_t vv_gather_bound_ns(uint64_t sync_ns_avg) { return sync_ns_avg / 2; }

/* Appends written since the last sync started (caller holds sync_mu). Some
 * of them may be covered by that sync: the count errs high, which only ends
 * a gather early. */
static uint64_t pending_appends(vv_partition *p)
{
	return atomic_load_explicit(&p->appends, memory_order_acquire) - p->synced_appends;
}

static struct timespec mono_deadline(uint64_t after_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + after_ns % 1000000000u;
	ts.tv_sec += (time_t)(after_ns / 1000000000u + ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

/* The leader's gather (design note 6). Caller holds sync_mu and has set
 * `syncing`; the wait releases sync_mu so joiners can announce themselves.
 * A group_commit_wait_us the application set is a fixed wait instead. */
static void gather_joiners(vv_partition *p)
{
	if (p->cfg.group_commit_wait_us) {
		pthread_mutex_unlock(&p->sync_mu);
		struct timespec ts = { (time_t)(p->cfg.group_commit_wait_us / 1000000u),
				       (long)(p->cfg.group_commit_wait_us % 1000000u) * 1000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&p->sync_mu);
		return;
	}
	uint64_t pending = pending_appends(p);
	if (pending > p->gather_target)
		p->gather_target = pending < GATHER_TARGET_MAX ? pending : GATHER_TARGET_MAX;
	uint64_t bound = vv_gather_bound_ns(p->sync_ns_avg);
	if (pending >= p->gather_target || bound == 0)
		return;
	struct timespec deadline = mono_deadline(bound);
	atomic_fetch_add_explicit(&p->gather_waits, 1, memory_order_relaxed);
	p->gathering = 1;
	while (pending < p->gather_target) {
		int rc = pthread_cond_timedwait(&p->gather_cond, &p->sync_mu, &deadline);
		pending = pending_appends(p);
		if (rc == ETIMEDOUT && pending < p->gather_target) {
			/* fewer producers than before: expect what came */
			p->gather_target = pending ? pending : 1;
			atomic_fetch_add_explicit(&p->gather_timeouts, 1, memory_order_relaxed);
			break;
		}
	}
	p->gathering = 0;
}

/* The leader's sync, with sync_mu released: the files, then the durable
 * offset, the waiters and the readers of durable records. Returns with
 * sync_mu held. */
static int lead_sync(vv_partition *p)
{
	p->synced_appends = atomic_load_explicit(&p->appends, memory_order_acquire);
	pthread_mutex_unlock(&p->sync_mu);
	/* buffered records first: a sync covers only what is in the file. A
	 * failed write fails this sync (and the partition stays writable). */
	int64_t upto = 0;
	int src = vv_partition_flush_buffer(p);
	uint64_t took = 0;
	if (!src) {
		uint64_t t0 = vv_mono_ns();
		src = sync_active(p, &upto);
		took = vv_mono_ns() - t0;
		if (src)
			mark_failed(p, "fsync failed");
	}
	pthread_mutex_lock(&p->sync_mu);
	if (took)
		p->sync_ns_avg = p->sync_ns_avg ? (p->sync_ns_avg * 3 + took) / 4 : took;
	p->syncing = 0;
	int advanced = !src && upto > atomic_load(&p->durable_offset);
	if (advanced)
		atomic_store(&p->durable_offset, upto);
	pthread_cond_broadcast(&p->sync_cond);
	if (advanced && p->cfg.on_append) {
		/* readers that serve only durable records (a Kafka broker's
		 * high watermark) wait for this, not the append */
		pthread_mutex_unlock(&p->sync_mu);
		p->cfg.on_append(p->cfg.append_ctx, p);
		pthread_mutex_lock(&p->sync_mu);
	}
	return src;
}

/* Wait until every offset below target is durable, leading a sync if no
 * one else is (group commit). `gather`: an appender's wait, which may hold
 * its sync for the appenders expected to join (design note 6). */
static int wait_durable(vv_partition *p, int64_t target, int gather)
{
	int rc = 0;
	pthread_mutex_lock(&p->sync_mu);
	for (;;) {
		/* failed first: once an fsync failed, no waiter is acknowledged,
		 * even if a later fsync of the same file "succeeds" */
		if (atomic_load(&p->failed)) {
			rc = vv_error_set(VARVE_EIO, 0,
					  "partition %s/%u failed an earlier fsync; reopen the store",
					  p->topic, p->id);
			break;
		}
		if (atomic_load(&p->durable_offset) >= target)
			break;
		if (p->syncing) {
			if (p->gathering && pending_appends(p) >= p->gather_target)
				pthread_cond_signal(&p->gather_cond);
			pthread_cond_wait(&p->sync_cond, &p->sync_mu);
			continue;
		}
		p->syncing = 1;
		if (gather)
			gather_joiners(p);
		rc = lead_sync(p);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&p->sync_mu);
	return rc;
}

int vv_partition_sync(vv_partition *p)
{
	if (p->cfg.seg.read_only)
		return 0;
	if (atomic_load(&p->failed))
		return vv_error_set(VARVE_EIO, 0, "partition %s/%u has failed", p->topic, p->id);
	int64_t end = atomic_load(&p->end_offset);
	return wait_durable(p, end, 0);
}

int vv_partition_flush_index(vv_partition *p)
{
	VV_TRY(vv_partition_flush_buffer(p));
	pthread_rwlock_rdlock(&p->segs_lock);
	vv_segment *s = active(p);
	vv_segment_ref(s);
	pthread_rwlock_unlock(&p->segs_lock);
	int rc = vv_segment_flush_index(s);
	vv_segment_unref(s);
	return rc;
}

/* Write the producer snapshot of the state up to `offset`. Caller holds
 * p->lock, so the state matches the log up to there. */
static int save_snapshot_locked(vv_partition *p, int64_t offset, uint64_t appended)
{
	VV_TRY(vv_pstate_save(&p->pstate, p->cfg.seg.io, p->dir, offset, p->cfg.seg.file_mode));
	p->pstate_dirty = 0;
	p->pstate_saved_bytes = appended;
	return 0;
}

/* The recovery point on disk now (rp_mu: the checkpoint writes it without
 * the append lock). */
static void recovery_point_now(vv_partition *p, vv_recovery_point *out)
{
	pthread_mutex_lock(&p->rp_mu);
	*out = (vv_recovery_point){ p->rp_written, p->rp_seg, (uint64_t)p->rp_pos,
				    p->rp_log_start };
	pthread_mutex_unlock(&p->rp_mu);
}

int vv_partition_checkpoint(vv_partition *p)
{
	if (p->cfg.seg.read_only || atomic_load(&p->failed))
		return 0;
	int64_t durable = atomic_load(&p->durable_offset);
	vv_recovery_point written;
	recovery_point_now(p, &written);
	if (durable == written.offset)
		return 0;
	/* Position of `durable`: take the active segment's state under the
	 * append lock; if durable is not its end, skip (next round). */
	pthread_mutex_lock(&p->lock);
	vv_segment *s = active(p);
	vv_recovery_point rp = { atomic_load(&s->next_offset), s->base, atomic_load(&s->size),
				 atomic_load(&p->start_offset) };
	int rc = 0;
	/* The snapshot bounds what an unclean open replays: write it when the
	 * state changed, or when 16 MiB were appended since the last one. */
	uint64_t appended = atomic_load(&p->appended_bytes);
	if ((p->pstate_dirty || appended - p->pstate_saved_bytes > (16u << 20)) &&
	    rp.offset == durable)
		rc = save_snapshot_locked(p, rp.offset, appended);
	pthread_mutex_unlock(&p->lock);
	VV_TRY(rc);
	if (rp.offset != durable)
		return 0;
	return vv_recovery_point_write(p, &rp);
}

/* ---- append ---------------------------------------------------------------- */

/* Seal the old segment (writes only) and, unless sync=none, sync it and
 * move the durable offset to its end. A failed fsync fails the partition. */
static int seal_for_roll(vv_partition *p, vv_segment *old)
{
	VV_TRY(vv_segment_seal(old));
	if (p->cfg.sync_policy == VARVE_SYNC_NONE)
		return 0;
	int rc = vv_segment_sync_all(old);
	if (rc < 0) {
		mark_failed(p, "fsync of a sealed segment failed");
		return rc;
	}
	pthread_mutex_lock(&p->sync_mu);
	if (!atomic_load(&p->failed) &&
	    atomic_load(&old->next_offset) > atomic_load(&p->durable_offset))
		atomic_store(&p->durable_offset, atomic_load(&old->next_offset));
	pthread_mutex_unlock(&p->sync_mu);
	return 0;
}

/* Seal the active segment and start a new one at new_base. The new files
 * come first and the old segment is sealed with writes only, so a full disk
 * stops the roll before anything changed: the append fails with
 * VARVE_ENOSPC and works again once space is freed. Only a failed fsync
 * (of the sealed segment or of the directory) fails the partition. */
static int roll(vv_partition *p, int64_t new_base)
{
	/* the old segment takes every buffered batch before it is sealed */
	VV_TRY(flush_buffer_locked(p));
	vv_segment *old = active(p);
	vv_segment *s;
	VV_TRY(vv_segment_create(p->dir, new_base, &p->cfg.seg, &s));
	int rc = seal_for_roll(p, old);
	if (rc < 0)
		goto fail;
	/* The new file must survive a crash before anything in it is acked.
	 * Like a data fsync, a failed directory fsync is final. */
	rc = vv_io_sync_dir(p->cfg.seg.io, p->dir);
	if (rc < 0) {
		mark_failed(p, "fsync of the partition directory failed");
		goto fail;
	}
	pthread_rwlock_wrlock(&p->segs_lock);
	rc = vv_partition_push_segment(p, s);
	/* the sealed segment's descriptors go unless a reader holds it */
	if (rc >= 0)
		(void)vv_segment_close_idle(old, 0);
	pthread_rwlock_unlock(&p->segs_lock);
	if (rc < 0)
		goto fail;
	s->first_append_time = 0;
	return 0;
fail:;
	/* the new segment goes, and must not replace the detail of what failed */
	vv_error_saved e;
	vv_error_save(&e);
	vv_segment_mark_deleted(s);
	vv_segment_unref(s);
	vv_error_restore(&e);
	return rc;
}

/* The free-disk floor: appends fail (retryably) before the disk is really
 * full, so reads, commits and cleaning keep room to work. statvfs runs at
 * most every 64 KiB appended or 100 ms. Caller holds p->lock. */
static int check_space(vv_partition *p, size_t len)
{
	if (!p->cfg.min_free_bytes)
		return 0;
	uint64_t written = atomic_load(&p->appended_bytes), now = vv_mono_ns();
	if (p->space_checked_ns && !p->space_low && written - p->space_checked_at < (64u << 10) &&
	    now - p->space_checked_ns < 100000000ull)
		return 0;
	uint64_t avail;
	VV_TRY(vv_io_free_space(p->cfg.seg.io, p->dir, &avail));
	p->space_checked_at = written;
	p->space_checked_ns = now;
	p->space_low = avail < p->cfg.min_free_bytes + len;
	if (p->space_low)
		return vv_error_set(VARVE_ENOSPC, ENOSPC,
				    "%s/%u: %llu bytes free, below min_free_bytes %llu: append refused",
				    p->topic, p->id, (unsigned long long)avail,
				    (unsigned long long)p->cfg.min_free_bytes);
	return 0;
}

static int need_roll(vv_partition *p, vv_segment *s, size_t len, const vv_batch_header *h,
		     int64_t now)
{
	uint64_t size = atomic_load(&s->size) + p->abuf_len; /* buffered bytes go here too */
	if (size == 0)
		return 0;
	if (size + len > p->cfg.segment_bytes)
		return 1;
	if (p->cfg.segment_ms > 0 && s->first_append_time &&
	    now - s->first_append_time >= p->cfg.segment_ms)
		return 1;
	if (vv_batch_last_offset(h) - s->base > (int64_t)UINT32_MAX - 1)
		return 1;
	return size + len > UINT32_MAX;
}

/* What must hold before anything is written: the partition works, the
 * expected end is the end, and a producer's batch has the next sequence.
 * 1 (with *dup) for a retry of a batch the partition has. Caller holds
 * p->lock. */
static int admit(vv_partition *p, size_t n, int64_t base, const vv_append_opts *o, vv_pbatch *dup)
{
	if (atomic_load(&p->failed))
		return vv_error_set(VARVE_EIO, 0,
				    "partition %s/%u failed an earlier fsync; reopen the store",
				    p->topic, p->id);
	if (o && o->expected_end >= 0 && o->expected_end != base)
		return vv_error_set(VARVE_ECONFLICT, 0,
				    "expected end offset %" PRId64 " but it is %" PRId64,
				    o->expected_end, base);
	if (o && o->producer_id >= 0)
		return vv_pstate_check(&p->pstate, o->producer_id, o->producer_epoch,
				       o->base_sequence, (uint32_t)n, dup);
	return 0;
}

/* The records as one batch at `base`, in p->bb. Caller holds p->lock. */
static int encode_batch(vv_partition *p, const varve_record *const *recs, size_t n, int64_t base,
			int64_t now, const vv_append_opts *o, const uint8_t **batch, size_t *len)
{
	vv_bb_reset(&p->bb);
	for (size_t i = 0; i < n; i++) {
		int64_t ts = recs[i]->timestamp == VARVE_TIMESTAMP_NOW ? now : recs[i]->timestamp;
		VV_TRY(vv_bb_add(&p->bb, (uint32_t)i, ts, recs[i]));
		if (p->bb.len > p->cfg.max_write_batch)
			return vv_error_set(VARVE_ETOOBIG, 0, "batch exceeds max_record_bytes (%u)",
					    p->cfg.max_write_batch);
	}
	vv_batch_params prm = { base, p->cfg.codec, now, o ? o->producer_id : -1,
				o ? o->producer_epoch : 0, o ? o->base_sequence : -1,
				p->cfg.max_write_batch };
	VV_TRY(vv_bb_finish(&p->bb, &prm, batch, len));
	if (*len > p->cfg.max_write_batch)
		return vv_error_set(VARVE_ETOOBIG, 0, "batch of %zu bytes exceeds max_record_bytes (%u)",
				    *len, p->cfg.max_write_batch);
	return 0;
}

/* The append under p->lock: checks, encoding, roll, write, end offset.
 * *last: the batch's last offset. 1 for a producer's retry (its earlier
 * offsets reported, nothing written). */
static int append_locked(vv_partition *p, const varve_record *const *recs, size_t n,
			 vv_append_opts *o, int64_t *base_out, int64_t *last)
{
	int64_t base = atomic_load(&p->end_offset);
	vv_pbatch dup;
	int rc = admit(p, n, base, o, &dup);
	VV_TRY(rc);
	if (rc == 1) {
		o->duplicate = 1;
		o->last_offset = *last = dup.last_offset;
		o->append_time = -1;
		if (base_out)
			*base_out = dup.first_offset;
		return 1;
	}
	int64_t now = vv_partition_now(p);
	const uint8_t *batch;
	size_t len;
	VV_TRY(encode_batch(p, recs, n, base, now, o, &batch, &len));
	VV_TRY(check_space(p, len));
	vv_batch_header h;
	vv_batch_parse_header(batch, len, UINT32_MAX, &h);
	if (need_roll(p, active(p), len, &h, now))
		VV_TRY(roll(p, base));
	VV_TRY(write_batch(p, batch, len, &h));
	*last = vv_batch_last_offset(&h);
	if (o && o->producer_id >= 0) {
		/* The batch is in the log: remember it even if this fails. */
		(void)vv_pstate_note(&p->pstate, o->producer_id, o->producer_epoch, o->base_sequence,
				     (uint32_t)n, base, *last, now);
		p->pstate_dirty = 1;
	}
	if (o) {
		o->last_offset = *last;
		o->append_time = now;
	}
	atomic_store_explicit(&p->end_offset, *last + 1, memory_order_release);
	atomic_fetch_add_explicit(&p->appends, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->appended_bytes, len, memory_order_relaxed);
	if (base_out)
		*base_out = base;
	return 0;
}

int vv_partition_append(vv_partition *p, const varve_record *const *recs, size_t n,
			vv_append_opts *o, int64_t *base_out)
{
	if (n == 0)
		return vv_error_set(VARVE_EINVAL, 0, "empty append");
	if (p->cfg.seg.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	if (n > UINT32_MAX)
		return vv_error_set(VARVE_ETOOBIG, 0, "too many records in one batch");
	int64_t last = 0;
	pthread_mutex_lock(&p->lock);
	int rc = append_locked(p, recs, n, o, base_out, &last);
	pthread_mutex_unlock(&p->lock);
	VV_TRY(rc);
	if (rc == 0 && p->cfg.on_append) /* a retry appended nothing: nobody to wake */
		p->cfg.on_append(p->cfg.append_ctx, p);
	if (o && o->no_wait)
		return 0;
	if (p->cfg.sync_policy == VARVE_SYNC_ALWAYS || (o && o->force_sync))
		return wait_durable(p, last + 1, 1);
	return 0;
}

int vv_partition_wait_durable(vv_partition *p, int64_t target)
{
	return wait_durable(p, target, 0);
}

int32_t vv_partition_producer_seq(vv_partition *p, int64_t pid, uint16_t *epoch)
{
	pthread_mutex_lock(&p->lock);
	int32_t seq = vv_pstate_last_seq(&p->pstate, pid, epoch);
	pthread_mutex_unlock(&p->lock);
	return seq;
}

/* ---- reading ---------------------------------------------------------------- */

int vv_partition_segment_for(vv_partition *p, int64_t offset, vv_segment **out)
{
	*out = NULL;
	int64_t start = atomic_load(&p->start_offset), end = atomic_load(&p->end_offset);
	if (offset < start || offset > end)
		return vv_error_set(VARVE_EOFFSET, 0,
				    "offset %" PRId64 " is outside %s/%u [%" PRId64 ", %" PRId64 "]",
				    offset, p->topic, p->id, start, end);
	pthread_rwlock_rdlock(&p->segs_lock);
	size_t lo = 0, hi = p->nsegs; /* first with base > offset */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->segs[mid]->base <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	vv_segment *s = p->nsegs ? p->segs[lo ? lo - 1 : 0] : NULL;
	if (s)
		vv_segment_ref(s);
	pthread_rwlock_unlock(&p->segs_lock);
	if (!s) /* a read-only view of a partition whose creation was interrupted */
		return VARVE_EEND;
	*out = s;
	return 0;
}

vv_segment *vv_partition_next_segment(vv_partition *p, const vv_segment *s)
{
	vv_segment *n = NULL;
	pthread_rwlock_rdlock(&p->segs_lock);
	for (size_t i = 0; i < p->nsegs; i++) {
		if (p->segs[i]->base > s->base) {
			n = p->segs[i];
			vv_segment_ref(n);
			break;
		}
	}
	pthread_rwlock_unlock(&p->segs_lock);
	/* Walking many segments must not exhaust descriptors: past the bound,
	 * close the files of segments nobody holds (not s, not n). */
	vv_segment_tick();
	if (p->max_open > 0 && vv_segment_open_count() > p->max_open)
		vv_partition_close_idle(p, p->max_open * 3 / 4);
	return n;
}

int vv_partition_is_last(vv_partition *p, const vv_segment *s)
{
	pthread_rwlock_rdlock(&p->segs_lock);
	int last = p->nsegs && p->segs[p->nsegs - 1] == s;
	pthread_rwlock_unlock(&p->segs_lock);
	return last;
}

uint64_t vv_partition_size(vv_partition *p, uint32_t *nsegs)
{
	uint64_t total = 0;
	pthread_rwlock_rdlock(&p->segs_lock);
	for (size_t i = 0; i < p->nsegs; i++)
		total += atomic_load(&p->segs[i]->size);
	if (nsegs)
		*nsegs = (uint32_t)p->nsegs;
	pthread_rwlock_unlock(&p->segs_lock);
	return total;
}

/* ---- retention and compaction support ----------------------------------------------------- */

int vv_partition_segments(vv_partition *p, vv_segment ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&p->segs_lock);
	vv_segment **v = vv_malloc((p->nsegs ? p->nsegs : 1) * sizeof *v);
	if (!v) {
		pthread_rwlock_unlock(&p->segs_lock);
		return vv_error_set(VARVE_ENOMEM, 0, "segment snapshot");
	}
	for (size_t i = 0; i < p->nsegs; i++) {
		v[i] = p->segs[i];
		vv_segment_ref(v[i]);
	}
	*n = p->nsegs;
	pthread_rwlock_unlock(&p->segs_lock);
	*out = v;
	return 0;
}

void vv_partition_segments_release(vv_segment **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vv_segment_unref(v[i]);
	vv_free(v);
}

/* Move the log start to new_start and drop the n oldest segments (never
 * the active one). The new log start is made durable in the recovery point
 * before any file goes, so a crash leaves either the old start or the new
 * one, and open finishes the deletion. Caller holds p->lock. */
static int move_start_locked(vv_partition *p, int64_t new_start, size_t n, uint64_t *bytes_out)
{
	if (new_start < atomic_load(&p->start_offset))
		new_start = atomic_load(&p->start_offset); /* never back */
	vv_segment *act = active(p);
	/* If the recovery point still names a segment that is going, point it
	 * at the active segment's durable state instead (sync it first). */
	vv_recovery_point rp;
	recovery_point_now(p, &rp);
	rp.log_start = new_start;
	if (n && rp.segment_base < p->segs[n]->base) {
		VV_TRY(flush_buffer_locked(p));
		int rc = vv_segment_sync(act);
		if (rc < 0) {
			mark_failed(p, "fsync failed");
			return rc;
		}
		rp.offset = atomic_load(&act->next_offset);
		rp.segment_base = act->base;
		rp.position = atomic_load(&act->size);
		if (rp.offset > atomic_load(&p->durable_offset))
			atomic_store(&p->durable_offset, rp.offset);
	}
	VV_TRY(vv_recovery_point_write(p, &rp));
	atomic_store(&p->start_offset, new_start);
	if (n == 0)
		return 0;
	pthread_rwlock_wrlock(&p->segs_lock);
	vv_segment **gone = vv_malloc(n * sizeof *gone);
	if (gone) {
		memcpy(gone, p->segs, n * sizeof *gone);
		memmove(p->segs, p->segs + n, (p->nsegs - n) * sizeof *p->segs);
		p->nsegs -= n;
	}
	pthread_rwlock_unlock(&p->segs_lock);
	if (!gone)
		return vv_error_set(VARVE_ENOMEM, 0, "retention");
	for (size_t i = 0; i < n; i++) {
		*bytes_out += atomic_load(&gone[i]->size);
		/* files go with the last reader's reference */
		vv_segment_mark_deleted(gone[i]);
		vv_segment_unref(gone[i]);
	}
	vv_free(gone);
	return 0;
}

int vv_partition_delete_oldest(vv_partition *p, size_t n, uint64_t *bytes_out)
{
	*bytes_out = 0;
	if (p->cfg.seg.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "read-only");
	pthread_mutex_lock(&p->lock);
	if (n >= p->nsegs) /* never the active segment */
		n = p->nsegs - 1;
	int rc = n ? move_start_locked(p, p->segs[n]->base, n, bytes_out) : 0;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void vv_partition_set_roll(vv_partition *p, uint64_t segment_bytes, int64_t segment_ms, int codec)
{
	pthread_mutex_lock(&p->lock);
	p->cfg.segment_bytes = segment_bytes;
	p->cfg.seg.segment_bytes = segment_bytes;
	p->cfg.seg.map_span = segment_bytes + p->cfg.max_write_batch;
	p->cfg.segment_ms = segment_ms;
	p->cfg.codec = codec;
	pthread_mutex_unlock(&p->lock);
}

/* Caller holds p->lock. */
static int advance_start_locked(vv_partition *p, int64_t offset, uint64_t *bytes_out)
{
	int64_t end = atomic_load(&p->end_offset);
	if (atomic_load(&p->failed))
		return vv_error_set(VARVE_EIO, 0, "partition %s/%u failed an earlier fsync", p->topic,
				    p->id);
	if (offset > end)
		return vv_error_set(VARVE_EOFFSET, 0,
				    "offset %" PRId64 " is past the end %" PRId64 " of %s/%u", offset,
				    end, p->topic, p->id);
	if (offset <= atomic_load(&p->start_offset))
		return 0;
	/* whole segments below the new start go too (never the active one) */
	size_t n = 0;
	while (n + 1 < p->nsegs && p->segs[n + 1]->base <= offset)
		n++;
	return move_start_locked(p, offset, n, bytes_out);
}

int vv_partition_advance_start(vv_partition *p, int64_t offset, uint64_t *bytes_out)
{
	*bytes_out = 0;
	if (p->cfg.seg.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "read-only");
	pthread_mutex_lock(&p->lock);
	int rc = advance_start_locked(p, offset, bytes_out);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/* Sync everything and point the recovery point at the active segment's
 * end. Caller holds p->lock. */
static int checkpoint_active_locked(vv_partition *p, vv_segment *act)
{
	int64_t upto;
	VV_TRY(flush_buffer_locked(p));
	int rc = sync_active(p, &upto);
	if (rc < 0) {
		mark_failed(p, "fsync failed");
		return rc;
	}
	vv_recovery_point rp = { atomic_load(&act->next_offset), act->base, atomic_load(&act->size),
				 atomic_load(&p->start_offset) };
	pthread_mutex_lock(&p->sync_mu);
	if (rp.offset > atomic_load(&p->durable_offset))
		atomic_store(&p->durable_offset, rp.offset);
	pthread_mutex_unlock(&p->sync_mu);
	return vv_recovery_point_write(p, &rp);
}

int vv_partition_checkpoint_active(vv_partition *p)
{
	pthread_mutex_lock(&p->lock);
	vv_segment *act = active(p);
	vv_recovery_point now;
	recovery_point_now(p, &now);
	int rc = now.segment_base != act->base ? checkpoint_active_locked(p, act) : 0;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int vv_partition_replace(vv_partition *p, vv_segment *const *old, size_t k, vv_segment *nw)
{
	/* the append lock too: appenders read the array through active() */
	pthread_mutex_lock(&p->lock);
	pthread_rwlock_wrlock(&p->segs_lock);
	size_t at = SIZE_MAX;
	for (size_t i = 0; i < p->nsegs; i++)
		if (p->segs[i] == old[0])
			at = i;
	int same = at != SIZE_MAX && at + k < p->nsegs;
	for (size_t i = 0; same && i < k; i++)
		same = p->segs[at + i] == old[i];
	if (same) {
		p->segs[at] = nw;
		memmove(p->segs + at + 1, p->segs + at + k, (p->nsegs - at - k) * sizeof *p->segs);
		p->nsegs -= k - 1;
	}
	pthread_rwlock_unlock(&p->segs_lock);
	pthread_mutex_unlock(&p->lock);
	if (!same)
		return vv_error_set(VARVE_EBUSY, 0, "segments changed during compaction");
	for (size_t i = 0; i < k; i++) {
		vv_segment_mark_replaced(old[i]);
		vv_segment_unref(old[i]); /* the partition's reference */
	}
	return 0;
}

static int cmp_last_used(const void *a, const void *b)
{
	uint64_t x = atomic_load(&(*(vv_segment *const *)a)->last_used);
	uint64_t y = atomic_load(&(*(vv_segment *const *)b)->last_used);
	return x < y ? -1 : x > y;
}

void vv_partition_release(vv_partition *p, vv_segment *s)
{
	if (!s)
		return;
	if (s->sealed) {
		pthread_rwlock_wrlock(&p->segs_lock);
		(void)vv_segment_close_idle(s, 1);
		pthread_rwlock_unlock(&p->segs_lock);
	}
	vv_segment_unref(s);
}

void vv_partition_close_idle(vv_partition *p, long target)
{
	if (vv_segment_open_count() <= target)
		return;
	/* Writers' lock: nobody takes a segment reference while we look. */
	pthread_rwlock_wrlock(&p->segs_lock);
	size_t n = p->nsegs ? p->nsegs - 1 : 0; /* never the active segment */
	vv_segment **v = n ? vv_malloc(n * sizeof *v) : NULL;
	if (v) {
		memcpy(v, p->segs, n * sizeof *v);
		qsort(v, n, sizeof *v, cmp_last_used);
		for (size_t i = 0; i < n && vv_segment_open_count() > target; i++)
			vv_segment_close_idle(v[i], 0);
		vv_free(v);
	}
	pthread_rwlock_unlock(&p->segs_lock);
}
