/* SPDX-License-Identifier: MIT */
/* producers.c -- producer ids and named producers (see producers.h). May
 * call: meta, base. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "producers.h"
#include "util.h"

typedef struct named {
	char *name;
	int64_t id;
	uint16_t epoch;
} named;

struct vv_producers {
	vv_meta *meta;
	pthread_mutex_t mu; /* the table; taken inside the metadata write lock */
	named *v;
	size_t n, cap;
	int64_t next_pid;
};

static named *lookup(vv_producers *pr, const char *name)
{
	for (size_t i = 0; i < pr->n; i++)
		if (!strcmp(pr->v[i].name, name))
			return &pr->v[i];
	return NULL;
}

static int apply_producer(vv_producers *pr, const vv_meta_rec *r)
{
	named *e = lookup(pr, r->name);
	if (r->deleted) {
		if (e) {
			vv_free(e->name);
			*e = pr->v[--pr->n];
		}
		return 0;
	}
	if (r->id < 0)
		return 0; /* not an id this store hands out (-1 means none): skip */
	if (!e) {
		if (pr->n == pr->cap) {
			size_t nc = pr->cap ? pr->cap * 2 : 8;
			named *nv = vv_realloc(pr->v, nc * sizeof *nv);
			if (!nv)
				return vv_error_set(VARVE_ENOMEM, 0, "producer registry");
			pr->v = nv;
			pr->cap = nc;
		}
		e = &pr->v[pr->n];
		if (!(e->name = vv_strdup(r->name)))
			return vv_error_set(VARVE_ENOMEM, 0, "producer registry");
		pr->n++;
	}
	e->id = r->id;
	e->epoch = r->epoch;
	if (r->id >= pr->next_pid) /* INT64_MAX stays: acquire refuses to go past it */
		pr->next_pid = r->id < INT64_MAX ? r->id + 1 : INT64_MAX;
	return 0;
}

static int on_record(void *ctx, const vv_meta_rec *r, int live)
{
	(void)live;
	vv_producers *pr = ctx;
	pthread_mutex_lock(&pr->mu);
	int rc = 0;
	if (r->kind == VV_META_NEXT_PID) {
		if (r->id > pr->next_pid)
			pr->next_pid = r->id;
	} else {
		rc = apply_producer(pr, r);
	}
	pthread_mutex_unlock(&pr->mu);
	return rc;
}

int vv_producers_new(vv_meta *meta, vv_producers **out)
{
	*out = NULL;
	vv_producers *pr = vv_calloc(1, sizeof *pr);
	if (!pr)
		return vv_error_set(VARVE_ENOMEM, 0, "producer registry");
	pr->meta = meta;
	pthread_mutex_init(&pr->mu, NULL);
	vv_meta_subscribe(meta, VV_META_NEXT_PID, on_record, pr, 0);
	vv_meta_subscribe(meta, VV_META_PRODUCER, on_record, pr, 0);
	*out = pr;
	return 0;
}

void vv_producers_free(vv_producers *pr)
{
	if (!pr)
		return;
	for (size_t i = 0; i < pr->n; i++)
		vv_free(pr->v[i].name);
	vv_free(pr->v);
	pthread_mutex_destroy(&pr->mu);
	vv_free(pr);
}

int vv_producers_epoch(vv_producers *pr, const char *name)
{
	pthread_mutex_lock(&pr->mu);
	named *e = lookup(pr, name);
	int ep = e ? e->epoch : -1;
	pthread_mutex_unlock(&pr->mu);
	return ep;
}

typedef struct acquire {
	vv_producers *pr;
	const char *name;
	int resume;
	int64_t id;
	uint16_t epoch;
} acquire;

/* Under the metadata write lock: read the table, write the records that
 * move it (one batch, synced); applying them updates the table. */
static int acquire_locked(void *ctx)
{
	acquire *a = ctx;
	vv_producers *pr = a->pr;
	pthread_mutex_lock(&pr->mu);
	int64_t next = pr->next_pid;
	named *e = a->name ? lookup(pr, a->name) : NULL;
	int fresh = !e;
	a->id = e ? e->id : next;
	a->epoch = e ? (a->resume ? e->epoch : (uint16_t)(e->epoch + 1)) : 0;
	pthread_mutex_unlock(&pr->mu);
	if (fresh && a->id == INT64_MAX)
		return vv_error_set(VARVE_ECORRUPT, 0,
				    "producer ids exhausted (the metadata log says %" PRId64 ")", a->id);
	vv_meta_rec *r = vv_calloc(1, sizeof *r);
	if (!r)
		return vv_error_set(VARVE_ENOMEM, 0, "producer");
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	int rc = 0;
	if (fresh) {
		r->kind = VV_META_NEXT_PID;
		r->id = a->id + 1;
		if ((rc = vv_meta_batch_add(&b, r)) != 0)
			goto out;
	}
	if (a->name) {
		memset(r, 0, sizeof *r);
		r->kind = VV_META_PRODUCER;
		snprintf(r->name, sizeof r->name, "%s", a->name);
		r->id = a->id;
		r->epoch = a->epoch;
		if ((rc = vv_meta_batch_add(&b, r)) != 0)
			goto out;
	}
	rc = vv_meta_write(pr->meta, &b, 1);
out:
	vv_meta_batch_free(&b);
	vv_free(r);
	return rc;
}

int vv_producers_acquire(vv_producers *pr, const char *name, int resume, int64_t *id,
			 uint16_t *epoch)
{
	acquire a = { pr, name, resume, -1, 0 };
	VV_TRY(vv_meta_locked(pr->meta, acquire_locked, &a));
	*id = a.id;
	*epoch = a.epoch;
	return 0;
}
