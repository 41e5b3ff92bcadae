/* SPDX-License-Identifier: MIT */
/*
 * async.c -- asynchronous produce: the caller's thread appends (so offsets
 * and order are fixed at once), a completion thread makes the appends
 * durable and calls the callbacks.
 *
 * NOTES ON THE DESIGN
 *  1. One queue per partition, kept in offset order (appenders of one
 *     partition can enqueue out of order by a few entries: insertion from
 *     the tail). Callbacks of a partition fire in offset order.
 *  2. The completion thread takes every partition with pending entries and
 *     makes it durable up to its newest pending offset with one fsync (under
 *     sync=always at once; under interval once the oldest entry has waited
 *     sync_interval_ms), then fires all covered callbacks. A burst from one
 *     thread thus costs one fsync, not one per record.
 *  3. Backpressure: bytes appended but not yet acknowledged are bounded by
 *     max_inflight_bytes; past it varve_produce_async blocks or returns
 *     VARVE_EAGAIN. An entry larger than the bound alone is let through when
 *     nothing else is in flight, so it cannot wait forever.
 *  4. An error after the append (a failed fsync) reaches every callback the
 *     failed sync covered, as VARVE_EIO; nothing is acknowledged twice.
 */
#include <errno.h>
#include <time.h>

#include "async.h"
#include "produce.h"
#include "util.h"

typedef struct pending {
	int64_t last_offset;
	int32_t partition;
	uint64_t bytes;
	uint64_t enq_ns;
	varve_produce_cb cb;    /* varve_produce_async, or ... */
	varve_append_cb acb;    /* ... varve_append_async, with: */
	int64_t base_offset;
	int64_t append_time;
	uint32_t flags;
	void *ctx;
} pending;

typedef struct pqueue {
	vv_topic *t;
	vv_partition *p;
	pending *v;
	size_t head, n, cap; /* ring */
} pqueue;

struct vv_async {
	const vv_env *env;
	_Atomic uint64_t backpressure_waits;
	pthread_mutex_t mu;
	pthread_cond_t work;  /* entries queued, or stop */
	pthread_cond_t space; /* inflight dropped, or all done */
	pqueue *q;
	size_t nq, qcap;
	uint64_t inflight;
	uint64_t outstanding; /* entries queued, not yet called back */
	int stop;
	int started;
	pthread_t thread;
};

static pending *at(pqueue *q, size_t i) { return &q->v[(q->head + i) % q->cap]; }

static int queue_push(pqueue *q, const pending *e)
{
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 64;
		pending *nv = vv_malloc(nc * sizeof *nv);
		if (!nv)
			return vv_error_set(VARVE_ENOMEM, 0, "async queue");
		for (size_t i = 0; i < q->n; i++)
			nv[i] = *at(q, i);
		vv_free(q->v);
		q->v = nv;
		q->head = 0;
		q->cap = nc;
	}
	/* insertion from the tail keeps offset order */
	size_t i = q->n;
	while (i > 0 && at(q, i - 1)->last_offset > e->last_offset) {
		*at(q, i) = *at(q, i - 1);
		i--;
	}
	*at(q, i) = *e;
	q->n++;
	return 0;
}

static pqueue *queue_for(vv_async *a, vv_topic *t, vv_partition *p)
{
	for (size_t i = 0; i < a->nq; i++)
		if (a->q[i].p == p)
			return &a->q[i];
	if (a->nq == a->qcap) {
		size_t nc = a->qcap ? a->qcap * 2 : 8;
		pqueue *nv = vv_realloc(a->q, nc * sizeof *nv);
		if (!nv)
			return NULL;
		a->q = nv;
		a->qcap = nc;
	}
	pqueue *q = &a->q[a->nq++];
	memset(q, 0, sizeof *q);
	vv_topic_ref(t);
	q->t = t;
	q->p = p;
	return q;
}

typedef struct fire {
	pending e;
	int rc;
} fire;

static void call(const fire *f)
{
	if (f->e.acb) {
		varve_append_result res = { f->e.partition, f->e.base_offset, f->e.last_offset,
					    f->e.append_time, f->e.flags };
		f->e.acb(f->e.ctx, f->rc, &res);
	} else {
		f->e.cb(f->e.ctx, f->rc, f->e.partition, f->e.last_offset);
	}
}

static void *run(void *arg)
{
	vv_async *a = arg;
	const vv_env *env = a->env;
	fire *fv = NULL;
	size_t fcap = 0;
	uint64_t interval_ns = (uint64_t)env->opts.sync_interval_ms * 1000000ull;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->stop && a->outstanding == 0)
			pthread_cond_wait(&a->work, &a->mu);
		if (a->outstanding == 0 && a->stop)
			break;
		/* Work out, per partition, how far to make it durable. */
		size_t nq = a->nq;
		int64_t *target = vv_malloc((nq ? nq : 1) * sizeof *target);
		int *rcs = vv_calloc(nq ? nq : 1, sizeof *rcs);
		uint64_t now = vv_mono_ns(), wait_until = 0;
		for (size_t i = 0; target && i < nq; i++) {
			pqueue *q = &a->q[i];
			target[i] = -1;
			if (!q->n)
				continue;
			if (env->opts.sync_policy == VARVE_SYNC_INTERVAL && !a->stop &&
			    now - at(q, 0)->enq_ns < interval_ns) {
				uint64_t due = at(q, 0)->enq_ns + interval_ns;
				if (!wait_until || due < wait_until)
					wait_until = due;
				continue;
			}
			target[i] = at(q, q->n - 1)->last_offset;
		}
		pthread_mutex_unlock(&a->mu);
		if (!target || !rcs) {
			vv_free(target);
			vv_free(rcs);
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&a->mu);
			continue;
		}
		int any = 0;
		for (size_t i = 0; i < nq; i++) {
			if (target[i] < 0)
				continue;
			any = 1;
			/* The queue array may grow meanwhile, but entries never move
			 * between partitions and this thread alone removes them. */
			pthread_mutex_lock(&a->mu);
			vv_partition *p = a->q[i].p;
			pthread_mutex_unlock(&a->mu);
			if (env->opts.sync_policy != VARVE_SYNC_NONE)
				rcs[i] = vv_partition_wait_durable(p, target[i] + 1);
		}
		pthread_mutex_lock(&a->mu);
		size_t nf = 0;
		for (size_t i = 0; i < nq; i++) {
			if (target[i] < 0)
				continue;
			pqueue *q = &a->q[i];
			int64_t durable = atomic_load(&q->p->durable_offset);
			while (q->n) {
				pending *e = at(q, 0);
				int covered = env->opts.sync_policy == VARVE_SYNC_NONE ||
					      e->last_offset < durable;
				if (!covered && !rcs[i])
					break;
				if (e->last_offset > target[i])
					break;
				if (nf == fcap) {
					size_t nc = fcap ? fcap * 2 : 256;
					fire *nv = vv_realloc(fv, nc * sizeof *nv);
					if (!nv)
						break;
					fv = nv;
					fcap = nc;
				}
				fv[nf++] = (fire){ *e, covered ? 0 : VARVE_EIO };
				q->head = (q->head + 1) % q->cap;
				q->n--;
			}
		}
		pthread_mutex_unlock(&a->mu);
		vv_free(target);
		vv_free(rcs);
		for (size_t i = 0; i < nf; i++)
			call(&fv[i]);
		pthread_mutex_lock(&a->mu);
		for (size_t i = 0; i < nf; i++) {
			a->inflight -= fv[i].e.bytes;
			a->outstanding--;
		}
		if (nf)
			pthread_cond_broadcast(&a->space);
		if (!any && wait_until) {
			/* interval policy: sleep until the oldest entry is due */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t left = wait_until > vv_mono_ns() ? wait_until - vv_mono_ns() : 0;
			ts.tv_sec += (time_t)(left / 1000000000ull);
			ts.tv_nsec += (long)(left % 1000000000ull);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->work, &a->mu, &ts);
		}
	}
	pthread_mutex_unlock(&a->mu);
	vv_free(fv);
	return NULL;
}

int vv_async_new(const vv_env *env, vv_async **out)
{
	*out = NULL;
	vv_async *a = vv_calloc(1, sizeof *a);
	if (!a)
		return vv_error_set(VARVE_ENOMEM, 0, "async produce");
	a->env = env;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->space, NULL);
	*out = a;
	return 0;
}

/* Start the completion thread on first use. Caller holds a->mu. */
static int start_locked(vv_async *a)
{
	if (a->started)
		return 0;
	int e = pthread_create(&a->thread, NULL, run, a);
	if (e)
		return vv_error_set(VARVE_ERROR, e, "cannot start the completion thread");
	a->started = 1;
	return 0;
}

void vv_async_free(vv_async *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_broadcast(&a->work);
	int started = a->started;
	pthread_mutex_unlock(&a->mu);
	if (started)
		pthread_join(a->thread, NULL); /* drains every pending callback first */
	for (size_t i = 0; i < a->nq; i++) {
		vv_free(a->q[i].v);
		vv_topic_unref(a->q[i].t);
	}
	vv_free(a->q);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->space);
	vv_free(a);
}

uint64_t vv_async_inflight(vv_async *a)
{
	if (!a)
		return 0;
	pthread_mutex_lock(&a->mu);
	uint64_t v = a->inflight;
	pthread_mutex_unlock(&a->mu);
	return v;
}

uint64_t vv_async_backpressure_waits(vv_async *a)
{
	return a ? atomic_load(&a->backpressure_waits) : 0;
}

/* Backpressure before the append, so nothing is appended that we refuse:
 * take `bytes` of the in-flight bound (blocking or VARVE_EAGAIN past it). */
static int reserve_locked(vv_async *a, uint64_t bytes)
{
	const vv_env *env = a->env;
	if (a->stop)
		return vv_error_set(VARVE_ECLOSED, 0, "store is closing");
	int in_callback = a->started && pthread_equal(pthread_self(), a->thread);
	while (!in_callback && a->inflight > 0 &&
	       a->inflight + bytes > env->opts.max_inflight_bytes) {
		atomic_fetch_add(&a->backpressure_waits, 1);
		if (!env->opts.inflight_block)
			return vv_error_set(VARVE_EAGAIN, 0,
					    "%llu bytes in flight (max_inflight_bytes %llu): try later",
					    (unsigned long long)a->inflight,
					    (unsigned long long)env->opts.max_inflight_bytes);
		pthread_cond_wait(&a->space, &a->mu);
	}
	VV_TRY(start_locked(a));
	a->inflight += bytes;
	a->outstanding++;
	return 0;
}

static int reserve(vv_async *a, uint64_t bytes)
{
	pthread_mutex_lock(&a->mu);
	int rc = reserve_locked(a, bytes);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* Give a reservation back (a->mu held): the append failed, or its
 * completion could not be queued; the caller reports it, no callback. */
static void release_locked(vv_async *a, uint64_t bytes)
{
	a->inflight -= bytes;
	a->outstanding--;
	pthread_cond_broadcast(&a->space);
}

static void release(vv_async *a, uint64_t bytes)
{
	pthread_mutex_lock(&a->mu);
	release_locked(a, bytes);
	pthread_mutex_unlock(&a->mu);
}

static int push_locked(vv_async *a, vv_topic *t, vv_partition *p, const pending *e)
{
	pqueue *q = queue_for(a, t, p);
	if (!q)
		return vv_error_set(VARVE_ENOMEM, 0, "async queue");
	VV_TRY(queue_push(q, e));
	pthread_cond_signal(&a->work);
	return 0;
}

/* After the append: queue its completion. On failure here the records are
 * in the log but unacknowledged: the caller sees the error and its
 * callback is never called. */
static int enqueue(vv_async *a, vv_topic *t, vv_partition *p, const pending *e)
{
	pthread_mutex_lock(&a->mu);
	int rc = push_locked(a, t, p, e);
	if (rc)
		release_locked(a, e->bytes);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

static uint64_t record_bytes(const varve_record *rec)
{
	uint64_t bytes = rec->key_len + rec->value_len + 32;
	for (size_t i = 0; i < rec->header_count; i++)
		bytes += rec->headers[i].key_len + rec->headers[i].value_len;
	return bytes;
}

/* The record of varve_produce_async, and its partition. */
static int check_async_record(vv_topic *t, const varve_record *rec, uint32_t *part)
{
	VV_TRY(vv_topic_check_record(t, rec));
	size_t idl;
	if (t->dedup && vv_dedup_id(rec, &idl))
		return vv_error_set(VARVE_ENOTSUP, 0,
				    "topic %s has a message-id window: use varve_produce for records "
				    "with a " VARVE_MSG_ID_HEADER " header", t->name);
	return vv_topic_pick_partition(t, rec, VARVE_PARTITION_ANY, 1, part);
}

int varve_produce_async(varve_db *db, const char *topic, const varve_record *rec,
			varve_produce_cb cb, void *ctx)
{
	if (!db || !rec || !cb)
		return vv_error_set(VARVE_EINVAL, 0, "produce_async needs a store, a record and a callback");
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	vv_async *a = db->async;
	vv_topic *t;
	VV_TRY(vv_topics_find(db->topics, topic, &t));
	uint32_t part;
	uint64_t bytes = 0;
	int rc = check_async_record(t, rec, &part);
	if (rc)
		goto out;
	bytes = record_bytes(rec);
	if ((rc = reserve(a, bytes)) != 0)
		goto out;
	const varve_record *one[1] = { rec };
	vv_append_opts ao = { -1, -1, 0, -1, 0, 1, 0, 0, 0 };
	int64_t base = -1;
	if ((rc = vv_partition_append(t->parts[part], one, 1, &ao, &base)) != 0) {
		release(a, bytes);
		goto out;
	}
	pending e = { base, (int32_t)part, bytes, vv_mono_ns(), cb, NULL, base, 0, 0, ctx };
	rc = enqueue(a, t, t->parts[part], &e);
out:
	vv_topic_unref(t);
	return rc;
}

int varve_append_async(varve_db *db, const char *topic, int32_t partition, const varve_record *recs,
		       size_t n, const varve_append_options *opts, varve_append_cb cb, void *ctx)
{
	if (!db || !cb)
		return vv_error_set(VARVE_EINVAL, 0, "append_async needs a store and a callback");
	vv_topic *t;
	vv_append_opts ao;
	VV_TRY(vv_append_check(db, topic, partition, recs, n, opts, &t, &ao));
	ao.no_wait = 1;
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += record_bytes(&recs[i]);
	vv_partition *p = t->parts[partition];
	int64_t base = -1;
	int rc;
	const varve_record **ptrs = vv_append_ptrs(recs, n);
	if (!ptrs) {
		rc = VARVE_ENOMEM; /* the detail is set */
		goto out;
	}
	if ((rc = reserve(db->async, bytes)) != 0)
		goto out;
	if ((rc = vv_partition_append(p, ptrs, n, &ao, &base)) != 0) {
		release(db->async, bytes);
		goto out;
	}
	pending e = { ao.last_offset, partition, bytes, vv_mono_ns(), NULL, cb, base,
		      ao.append_time, ao.duplicate ? VARVE_RECORD_DUPLICATE : 0, ctx };
	rc = enqueue(db->async, t, p, &e);
out:
	vv_free(ptrs);
	vv_topic_unref(t);
	return rc;
}

int varve_flush(varve_db *db)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	vv_async *a = db->async;
	if (!a)
		return 0;
	pthread_mutex_lock(&a->mu);
	while (a->outstanding > 0)
		pthread_cond_wait(&a->space, &a->mu);
	pthread_mutex_unlock(&a->mu);
	return 0;
}

uint64_t varve_inflight_bytes(varve_db *db) { return db ? vv_async_inflight(db->async) : 0; }
