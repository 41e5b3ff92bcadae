/* SPDX-License-Identifier: MIT */
/*
 * cleaner.c -- the store's background thread. Every sync period it:
 *   - fsyncs partitions under the `interval` policy,
 *   - flushes index entries of active segments (no fsync: indexes are
 *     rebuilt from the log when needed),
 *   - writes recovery points that moved (so a crash rescans little);
 * and every cleaner period it runs a cleaning round:
 *   - retention by age, size and record count (whole non-active segments,
 *     oldest first), holding back what protected groups have not consumed
 *     unless the hard size cap says otherwise,
 *   - key compaction of compacted topics and of the metadata log, when the
 *     dirty ratio calls for it.
 * A partition whose cleaning fails is reported and retried with exponential
 * backoff (1 s doubling to 10 min); the others go on. Started by varve_open
 * (writers only), stopped and joined by varve_close, woken by
 * vv_cleaner_wake; varve_clean_now runs a round in the caller's thread.
 *
 * May call: topic (the registry), meta (its partition), log, base. What it
 * needs from higher layers (the committed offsets that hold retention
 * back, the lag check) comes as callbacks (vv_cleaner_hooks).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "cleaner.h"
#include "compact.h"
#include "db.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS (10 * 60 * 1000)

struct vv_cleaner {
	const vv_env *env;
	vv_topics *topics;
	vv_meta *meta;
	vv_cleaner_hooks hooks;
	pthread_mutex_t round_mu; /* one cleaning round at a time */
	/* the thread */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;
	int woken;
	/* counters */
	_Atomic uint64_t segments_deleted, bytes_reclaimed, compactions, compaction_ns,
		compact_read, compact_written, records_kept, records_dropped, failures;
};

static void flush_partitions(vv_cleaner *cl, int do_sync)
{
	vv_topic **ts;
	size_t n;
	if (vv_topics_snapshot(cl->topics, &ts, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		for (uint32_t k = 0; k < ts[i]->nparts; k++) {
			vv_partition *p = ts[i]->parts[k];
			if (do_sync && atomic_load(&p->durable_offset) < atomic_load(&p->end_offset))
				(void)vv_partition_sync(p);
			(void)vv_partition_flush_index(p);
			(void)vv_partition_checkpoint(p);
			if (p->max_open > 0 && p->max_open < vv_segment_open_count())
				vv_partition_close_idle(p, p->max_open * 3 / 4);
		}
	}
	vv_topics_release(ts, n);
	vv_partition *mp = vv_meta_partition(cl->meta);
	if (do_sync)
		(void)vv_partition_sync(mp);
	(void)vv_partition_flush_index(mp);
	(void)vv_partition_checkpoint(mp);
	vv_error_clear();
}

/* ---- retention ------------------------------------------------------------------- */

/* The time retention judges a segment by. Producer timestamps far in the
 * future are clamped to append time + max_future_skew_ms, so one bad clock
 * cannot pin a segment forever. */
static int64_t retention_time(const varve_topic_config *c, vv_segment *s)
{
	int64_t app = atomic_load(&s->max_append_time), ts = atomic_load(&s->max_ts);
	if (c->timestamp_type == VARVE_TIMESTAMP_APPEND)
		return app;
	if (app != INT64_MIN && ts > app + c->max_future_skew_ms)
		return app + c->max_future_skew_ms;
	return ts;
}

static int apply_retention(vv_cleaner *cl, vv_topic *t, const varve_topic_config *c,
			   vv_partition *p, int64_t now)
{
	if (!(c->cleanup_policy & VARVE_CLEANUP_DELETE))
		return 0;
	if (c->retention_ms < 0 && c->retention_bytes < 0 && c->retention_records < 0 &&
	    c->retention_hard_bytes < 0)
		return 0;
	vv_segment **segs;
	size_t n;
	VV_TRY(vv_partition_segments(p, &segs, &n));
	size_t nold = n ? n - 1 : 0, k = 0;
	uint64_t total = 0;
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		total += atomic_load(&segs[i]->size);
	if (c->retention_ms >= 0) {
		for (size_t i = 0; i < nold; i++) {
			if ((rc = vv_segment_load_stats(segs[i])))
				goto out;
			int64_t rt = retention_time(c, segs[i]);
			if (rt == INT64_MIN || rt >= now - c->retention_ms)
				break;
			k = i + 1;
		}
	}
	uint64_t size = total;
	for (size_t i = 0; i < k; i++)
		size -= atomic_load(&segs[i]->size);
	if (c->retention_bytes >= 0) {
		while (k < nold && size - atomic_load(&segs[k]->size) >= (uint64_t)c->retention_bytes) {
			size -= atomic_load(&segs[k]->size);
			k++;
		}
	}
	if (c->retention_records >= 0) {
		int64_t end = atomic_load(&p->end_offset);
		while (k < nold && end - segs[k + 1]->base >= c->retention_records) {
			size -= atomic_load(&segs[k]->size);
			k++;
		}
	}
	int64_t floor = cl->hooks.retention_floor ? cl->hooks.retention_floor(cl->hooks.ctx, t, p->id)
						 : INT64_MAX;
	while (k > 0 && segs[k]->base > floor) {
		k--;
		size += atomic_load(&segs[k]->size);
	}
	if (c->retention_hard_bytes >= 0) {
		while (k < nold && size > (uint64_t)c->retention_hard_bytes) {
			size -= atomic_load(&segs[k]->size);
			k++;
		}
	}
	if (!k)
		goto out;
	uint64_t freed = 0;
	if ((rc = vv_partition_delete_oldest(p, k, &freed)) != 0)
		goto out;
	atomic_fetch_add(&cl->segments_deleted, k);
	atomic_fetch_add(&cl->bytes_reclaimed, freed);
	vv_env_log(cl->env, VARVE_LOG_INFO,
		   "retention: %s/%u deleted %zu segments (%" PRIu64 " bytes); log start is now %" PRId64,
		   t->name, p->id, k, freed, atomic_load(&p->start_offset));
out:
	vv_partition_segments_release(segs, n);
	return rc;
}

/* ---- compaction ------------------------------------------------------------------- */

static int apply_compaction(vv_cleaner *cl, const char *name, const varve_topic_config *c,
			    vv_partition *p, int64_t now, int force)
{
	if (!(c->cleanup_policy & VARVE_CLEANUP_COMPACT))
		return 0;
	vv_compact_params prm = {
		.now = now,
		.delete_retention_ms = c->delete_retention_ms,
		.min_dirty_ratio = c->min_cleanable_dirty_ratio,
		.force = force,
		.map_memory = (size_t)cl->env->opts.cleaner_memory_bytes,
		.io_bytes_per_sec = cl->env->opts.cleaner_io_bytes_per_sec,
		.segment_bytes = p->cfg.segment_bytes,
	};
	vv_compact_stats st;
	uint64_t t0 = vv_mono_ns();
	uint64_t before = vv_partition_size(p, NULL);
	VV_TRY(vv_compact_partition(p, &prm, &st));
	if (st.ran) {
		uint64_t dt = vv_mono_ns() - t0;
		uint64_t after = vv_partition_size(p, NULL);
		atomic_fetch_add(&cl->compactions, 1);
		atomic_fetch_add(&cl->compaction_ns, dt);
		atomic_fetch_add(&cl->compact_read, st.bytes_read);
		atomic_fetch_add(&cl->compact_written, st.bytes_written);
		atomic_fetch_add(&cl->records_kept, st.records_kept);
		atomic_fetch_add(&cl->records_dropped, st.records_dropped);
		if (before > after)
			atomic_fetch_add(&cl->bytes_reclaimed, before - after);
		vv_env_log(cl->env, VARVE_LOG_INFO,
			     "compaction: %s/%u kept %" PRIu64 " records, dropped %" PRIu64 " (%" PRIu64
			     " tombstones), %" PRIu64 " -> %" PRIu64 " bytes in %.1f ms",
			     name, p->id, st.records_kept, st.records_dropped, st.tombstones_dropped,
			     st.bytes_read, st.bytes_written, (double)dt / 1e6);
	}
	return 0;
}

/* Retention (t NULL: the metadata log, which has none), then compaction. */
static int clean_one(vv_cleaner *cl, vv_topic *t, const char *name, const varve_topic_config *c,
		     vv_partition *p, int64_t now, int force)
{
	if (t)
		VV_TRY(apply_retention(cl, t, c, p, now));
	return apply_compaction(cl, name, c, p, now, force);
}

/* Run `fn`-style cleaning for one partition with failure isolation. */
static void clean_partition(vv_cleaner *cl, vv_topic *t, const char *name,
			    const varve_topic_config *c, vv_partition *p, int64_t now, int force)
{
	if (atomic_load(&p->failed))
		return;
	if (p->clean_retry_at && now < p->clean_retry_at && !force)
		return;
	int rc = clean_one(cl, t, name, c, p, now, force);
	if (rc == 0) {
		p->clean_failures = 0;
		p->clean_retry_at = 0;
		return;
	}
	/* Never give up, never block the others: back off and retry. */
	atomic_fetch_add(&cl->failures, 1);
	uint32_t f = p->clean_failures < 20 ? p->clean_failures : 20;
	int64_t delay = (int64_t)BACKOFF_MIN_MS << f;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	p->clean_failures++;
	p->clean_retry_at = now + delay;
	vv_env_log(cl->env, VARVE_LOG_ERROR,
		     "cleaning %s/%u failed (%s: %s); retry %u in %" PRId64 " ms", name, p->id,
		     varve_errmsg(rc), varve_last_error()->message, p->clean_failures, delay);
	vv_error_clear();
}

static void clean_round(vv_cleaner *cl, int force)
{
	pthread_mutex_lock(&cl->round_mu);
	int64_t now = vv_env_now(cl->env);
	vv_topic **ts;
	size_t n;
	if (vv_topics_snapshot(cl->topics, &ts, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			vv_topic_cfg tc; /* the configuration as of this round */
			vv_topic_cfg_get(ts[i], &tc);
			for (uint32_t k = 0; k < ts[i]->nparts; k++)
				clean_partition(cl, ts[i], ts[i]->name, &tc.cfg, ts[i]->parts[k], now,
						force);
		}
		vv_topics_release(ts, n);
	}
	/* The metadata log: latest record per key, tombstones kept a day. */
	varve_topic_config mc = VARVE_TOPIC_CONFIG_INIT;
	mc.cleanup_policy = VARVE_CLEANUP_COMPACT;
	clean_partition(cl, NULL, VV_META_TOPIC, &mc, vv_meta_partition(cl->meta), now, force);
	pthread_mutex_unlock(&cl->round_mu);
}

int varve_clean_now(varve_db *db, int force)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->env.read_only || !db->cleaner)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	vv_cleaner *cl = db->cleaner;
	uint64_t failures = atomic_load(&cl->failures);
	clean_round(cl, force);
	if (atomic_load(&cl->failures) != failures)
		return vv_error_set(VARVE_EIO, 0, "a partition failed to clean (see the log callback)");
	return 0;
}

void vv_cleaner_stats(vv_cleaner *cl, varve_stats *s)
{
	if (!cl)
		return;
	s->segments_deleted = atomic_load(&cl->segments_deleted);
	s->bytes_reclaimed = atomic_load(&cl->bytes_reclaimed);
	s->compactions = atomic_load(&cl->compactions);
	s->compaction_ns = atomic_load(&cl->compaction_ns);
	s->compaction_bytes_read = atomic_load(&cl->compact_read);
	s->compaction_bytes_written = atomic_load(&cl->compact_written);
	s->compaction_records_kept = atomic_load(&cl->records_kept);
	s->compaction_records_dropped = atomic_load(&cl->records_dropped);
	s->cleaner_failures = atomic_load(&cl->failures);
}

/* ---- the thread ----------------------------------------------------------------------- */

static void *run(void *arg)
{
	vv_cleaner *c = arg;
	const varve_options *o = &c->env->opts;
	uint32_t period = o->sync_policy == VARVE_SYNC_INTERVAL ? o->sync_interval_ms : 1000;
	if (o->cleaner_interval_ms && o->cleaner_interval_ms < period)
		period = o->cleaner_interval_ms;
	uint64_t last_clean = vv_mono_ns();
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += period / 1000;
		ts.tv_nsec += (long)(period % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!c->stop && !c->woken &&
		       pthread_cond_timedwait(&c->cond, &c->mu, &ts) != ETIMEDOUT)
			;
		if (c->stop)
			break;
		int woken = c->woken;
		c->woken = 0;
		pthread_mutex_unlock(&c->mu);
		flush_partitions(c, o->sync_policy == VARVE_SYNC_INTERVAL);
		if (c->hooks.periodic)
			c->hooks.periodic(c->hooks.ctx);
		uint64_t now = vv_mono_ns();
		if (woken || (o->cleaner_interval_ms &&
			      now - last_clean >= (uint64_t)o->cleaner_interval_ms * 1000000ull)) {
			clean_round(c, 0);
			last_clean = now;
		}
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int vv_cleaner_new(const vv_env *env, vv_topics *topics, vv_meta *meta,
		   const vv_cleaner_hooks *hooks, vv_cleaner **out)
{
	*out = NULL;
	vv_cleaner *c = vv_calloc(1, sizeof *c);
	if (!c)
		return vv_error_set(VARVE_ENOMEM, 0, "background thread");
	c->env = env;
	c->topics = topics;
	c->meta = meta;
	if (hooks)
		c->hooks = *hooks;
	pthread_mutex_init(&c->round_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond, NULL);
	*out = c;
	return 0;
}

int vv_cleaner_start(vv_cleaner *c)
{
	int e = pthread_create(&c->thread, NULL, run, c);
	if (e)
		return vv_error_set(VARVE_ERROR, e, "cannot start the background thread");
	c->started = 1;
	return 0;
}

void vv_cleaner_free(vv_cleaner *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
	}
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->round_mu);
	vv_free(c);
}

void vv_cleaner_wake(vv_cleaner *c)
{
	if (!c || !c->started)
		return;
	pthread_mutex_lock(&c->mu);
	c->woken = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mu);
}
