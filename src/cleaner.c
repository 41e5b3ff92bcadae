/* SPDX-License-Identifier: MIT */
/*
 * cleaner.c -- the store's background thread. Each round it:
 *   - fsyncs partitions under the `interval` policy,
 *   - writes recovery points that moved (so a crash rescans little),
 *   - flushes index entries of active segments (no fsync: indexes are
 *     rebuilt from the log when needed).
 * Started by varve_open (writers only), stopped and joined by varve_close,
 * woken early by vv_cleaner_wake.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "store.h"
#include "util.h"

struct vv_cleaner {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;
	int woken;
};

static void each_partition(varve_db *db, int do_sync)
{
	vv_topic **ts;
	size_t n;
	if (vv_store_topics_snapshot(db, &ts, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		for (uint32_t k = 0; k < ts[i]->nparts; k++) {
			vv_partition *p = ts[i]->parts[k];
			if (do_sync && atomic_load(&p->durable_offset) < atomic_load(&p->end_offset))
				(void)vv_partition_sync(p);
			(void)vv_partition_flush_index(p);
			(void)vv_partition_checkpoint(p);
		}
	}
	vv_store_topics_release(ts, n);
	(void)vv_partition_checkpoint(db->meta->log);
	vv_error_clear();
}

static void *run(void *arg)
{
	varve_db *db = arg;
	vv_cleaner *c = db->cleaner;
	uint32_t period = db->opts.sync_interval_ms ? db->opts.sync_interval_ms : 1000;
	if (db->opts.sync_policy != VARVE_SYNC_INTERVAL && period > 1000)
		period = 1000;
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
		c->woken = 0;
		pthread_mutex_unlock(&c->mu);
		each_partition(db, db->opts.sync_policy == VARVE_SYNC_INTERVAL);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int vv_cleaner_start(varve_db *db)
{
	vv_cleaner *c = vv_calloc(1, sizeof *c);
	if (!c)
		return vv_error_set(VARVE_ENOMEM, 0, "background thread");
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond, NULL);
	db->cleaner = c;
	int e = pthread_create(&c->thread, NULL, run, db);
	if (e) {
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cond);
		vv_free(c);
		db->cleaner = NULL;
		return vv_error_set(VARVE_ERROR, e, "cannot start the background thread");
	}
	return 0;
}

void vv_cleaner_stop(varve_db *db)
{
	vv_cleaner *c = db->cleaner;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cond);
	vv_free(c);
	db->cleaner = NULL;
}

void vv_cleaner_wake(varve_db *db)
{
	vv_cleaner *c = db->cleaner;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->woken = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mu);
}
