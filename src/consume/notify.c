/* SPDX-License-Identifier: MIT */
/* notify.c -- wake-ups of waiting readers (see notify.h), and the public
 * watch built on them. May call: log, base. */
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "notify.h"
#include "util.h"

struct vv_waiter {
	int efd;
	int armed; /* under mu */
	char **topics;
	size_t ntopics;
	vv_waiter_fn fn;
	void *ctx;
};

struct vv_notify {
	pthread_mutex_t mu; /* a leaf: nothing else is taken under it */
	pthread_cond_t cond;
	_Atomic uint64_t gen;
	_Atomic int interest;
	vv_waiter **v;
	size_t n, cap;
};

int vv_notify_new(vv_notify **out)
{
	*out = NULL;
	vv_notify *n = vv_calloc(1, sizeof *n);
	if (!n)
		return vv_error_set(VARVE_ENOMEM, 0, "wake-ups");
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cond, NULL);
	*out = n;
	return 0;
}

void vv_notify_free(vv_notify *n)
{
	if (!n)
		return;
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cond);
	vv_free(n->v);
	vv_free(n);
}

static int follows(const vv_waiter *w, const char *topic)
{
	if (!w->ntopics)
		return 1;
	for (size_t i = 0; i < w->ntopics; i++)
		if (!strcmp(w->topics[i], topic))
			return 1;
	return 0;
}

void vv_notify_on_append(void *ctx, vv_partition *p)
{
	vv_notify *n = ctx;
	atomic_fetch_add(&n->gen, 1);
	if (atomic_load(&n->interest) == 0)
		return;
	pthread_mutex_lock(&n->mu);
	pthread_cond_broadcast(&n->cond);
	for (size_t i = 0; i < n->n; i++) {
		vv_waiter *w = n->v[i];
		if (!w->armed || !follows(w, p->topic))
			continue;
		w->armed = 0;
		atomic_fetch_sub(&n->interest, 1);
		uint64_t one = 1;
		ssize_t r = write(w->efd, &one, sizeof one);
		(void)r;
		if (w->fn)
			w->fn(w->ctx);
	}
	pthread_mutex_unlock(&n->mu);
}

static void free_waiter(vv_waiter *w)
{
	if (w->efd >= 0)
		close(w->efd);
	varve_strings_free(w->topics, w->ntopics);
	vv_free(w);
}

/* Put w in n's list. */
static int add_waiter(vv_notify *n, vv_waiter *w)
{
	pthread_mutex_lock(&n->mu);
	if (n->n == n->cap) {
		size_t nc = n->cap ? n->cap * 2 : 8;
		vv_waiter **nv = vv_realloc(n->v, nc * sizeof *nv);
		if (!nv) {
			pthread_mutex_unlock(&n->mu);
			return vv_error_set(VARVE_ENOMEM, 0, "waiter list");
		}
		n->v = nv;
		n->cap = nc;
	}
	n->v[n->n++] = w;
	pthread_mutex_unlock(&n->mu);
	return 0;
}

int vv_notify_add(vv_notify *n, const char *const *topics, size_t ntopics, vv_waiter_fn fn,
		  void *ctx, vv_waiter **out)
{
	*out = NULL;
	vv_waiter *w = vv_calloc(1, sizeof *w);
	if (!w)
		return vv_error_set(VARVE_ENOMEM, 0, "waiter");
	w->fn = fn;
	w->ctx = ctx;
	int rc;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		rc = vv_error_set(VARVE_EIO, errno, "eventfd");
		goto fail;
	}
	if (ntopics && !(w->topics = vv_calloc(ntopics, sizeof *w->topics))) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "waiter");
		goto fail;
	}
	for (size_t i = 0; i < ntopics; i++) {
		if (!(w->topics[i] = vv_strdup(topics[i]))) {
			rc = vv_error_set(VARVE_ENOMEM, 0, "waiter");
			goto fail;
		}
		w->ntopics = i + 1;
	}
	if ((rc = add_waiter(n, w)) != 0)
		goto fail;
	*out = w;
	return 0;
fail:
	free_waiter(w);
	return rc;
}

void vv_notify_remove(vv_notify *n, vv_waiter *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < n->n; i++) {
		if (n->v[i] == w) {
			n->v[i] = n->v[--n->n];
			break;
		}
	}
	if (w->armed)
		atomic_fetch_sub(&n->interest, 1);
	w->armed = 0;
	pthread_mutex_unlock(&n->mu);
	free_waiter(w);
}

int vv_waiter_fd(const vv_waiter *w) { return w ? w->efd : -1; }

void vv_waiter_arm(vv_notify *n, vv_waiter *w)
{
	uint64_t drain;
	while (read(w->efd, &drain, sizeof drain) > 0)
		;
	pthread_mutex_lock(&n->mu);
	if (!w->armed) {
		w->armed = 1;
		atomic_fetch_add(&n->interest, 1);
	}
	pthread_mutex_unlock(&n->mu);
}

uint64_t vv_notify_gen(vv_notify *n) { return atomic_load(&n->gen); }

void vv_notify_wait(vv_notify *n, uint64_t gen, uint64_t deadline_ns)
{
	pthread_mutex_lock(&n->mu);
	atomic_fetch_add(&n->interest, 1);
	while (atomic_load(&n->gen) == gen) {
		if (deadline_ns) {
			uint64_t now = vv_mono_ns();
			if (now >= deadline_ns)
				break;
			/* the condvar uses CLOCK_REALTIME: convert the remaining time */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t left = deadline_ns - now;
			ts.tv_sec += (time_t)(left / 1000000000ull);
			ts.tv_nsec += (long)(left % 1000000000ull);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&n->cond, &n->mu, &ts);
		} else {
			pthread_cond_wait(&n->cond, &n->mu);
		}
	}
	atomic_fetch_sub(&n->interest, 1);
	pthread_mutex_unlock(&n->mu);
}

/* ---- the public watch ------------------------------------------------------- */

struct varve_watch {
	varve_db *db;
	vv_waiter *w;
};

int varve_watch_open(varve_db *db, varve_watch **out)
{
	if (!out)
		return vv_error_set(VARVE_EINVAL, 0, "watch_out is NULL");
	*out = NULL;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	varve_watch *w = vv_calloc(1, sizeof *w);
	if (!w)
		return vv_error_set(VARVE_ENOMEM, 0, "watch");
	w->db = db;
	int rc = vv_notify_add(db->notify, NULL, 0, NULL, NULL, &w->w);
	if (rc) {
		vv_free(w);
		return rc;
	}
	vv_waiter_arm(db->notify, w->w);
	*out = w;
	return 0;
}

int varve_watch_fd(const varve_watch *w) { return w ? vv_waiter_fd(w->w) : -1; }

void varve_watch_arm(varve_watch *w)
{
	if (w)
		vv_waiter_arm(w->db->notify, w->w);
}

void varve_watch_close(varve_watch *w)
{
	if (!w)
		return;
	vv_notify_remove(w->db->notify, w->w);
	vv_free(w);
}
