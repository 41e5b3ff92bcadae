/* SPDX-License-Identifier: MIT */
/*
 * meta.c -- the metadata log: batched typed writes, dispatch to the owners
 * of each record kind, replay with damage skipped (see meta.h). May call:
 * the log layer (partition, reader) and base.
 */
#include <inttypes.h>
#include <stdio.h>

#include "meta.h"
#include "reader.h"
#include "util.h"

typedef struct handler {
	vv_meta_fn fn;
	void *ctx;
	int required; /* an undecodable record of this kind fails the replay */
} handler;

struct vv_meta {
	vv_partition *log;
	pthread_mutex_t write_mu; /* recursive: see vv_meta_locked */
	handler h[256];
	vv_meta_damage *damage;
	size_t ndamage;
	vv_meta_rec scratch; /* decoding, under write_mu (or at replay) */
};

int vv_meta_open(const char *dir, const vv_part_config *cfg, int clean, vv_meta **out)
{
	*out = NULL;
	vv_meta *m = vv_calloc(1, sizeof *m);
	if (!m)
		return vv_error_set(VARVE_ENOMEM, 0, "metadata log");
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m->write_mu, &a);
	pthread_mutexattr_destroy(&a);
	int rc = vv_partition_open(dir, VV_META_TOPIC, 0, cfg, clean, &m->log);
	if (rc) {
		pthread_mutex_destroy(&m->write_mu);
		vv_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int vv_meta_close(vv_meta *m, int clean)
{
	if (!m)
		return 0;
	int rc = vv_partition_close(m->log, clean);
	pthread_mutex_destroy(&m->write_mu);
	vv_free(m->damage);
	vv_free(m);
	return rc;
}

vv_partition *vv_meta_partition(vv_meta *m) { return m->log; }

void vv_meta_subscribe(vv_meta *m, uint8_t kind, vv_meta_fn fn, void *ctx, int required)
{
	m->h[kind] = (handler){ fn, ctx, required };
}

void vv_meta_damaged(vv_meta *m, const vv_meta_damage **v, size_t *n)
{
	*v = m->damage;
	*n = m->ndamage;
}

static int note_damage(vv_meta *m, int64_t from, int64_t to, int64_t seg, uint64_t pos,
		       int64_t undecodable, const char *why)
{
	vv_meta_damage *nv = vv_realloc(m->damage, (m->ndamage + 1) * sizeof *nv);
	if (!nv)
		return vv_error_set(VARVE_ENOMEM, 0, "metadata damage list");
	m->damage = nv;
	vv_meta_damage *d = &m->damage[m->ndamage++];
	d->from = from;
	d->to = to;
	d->segment_base = seg;
	d->position = pos;
	d->undecodable = undecodable;
	snprintf(d->detail, sizeof d->detail, "%s", why);
	return 0;
}

/* Decode one record and hand it to its kind's handler. */
static int dispatch(vv_meta *m, const varve_record *in, int live)
{
	vv_meta_rec *r = &m->scratch;
	int rc = vv_meta_decode(in, r);
	if (rc == VV_META_UNKNOWN)
		return 0; /* a kind from a newer version: not ours to judge */
	handler *h = &m->h[r->kind];
	if (rc == VARVE_EFORMAT)
		return vv_error_set(VARVE_EFORMAT, 0,
				    "metadata record at offset %" PRId64 " (kind '%c') was written by a "
				    "newer varve", in->offset, r->kind);
	if (rc) {
		if (h->required)
			return vv_error_set(VARVE_ECORRUPT, 0,
					    "metadata record at offset %" PRId64 " (kind '%c') does not "
					    "decode; `varve repair` rebuilds the metadata log",
					    in->offset, r->kind);
		char why[96];
		snprintf(why, sizeof why, "record of kind '%c' does not decode", r->kind);
		return note_damage(m, in->offset, in->offset + 1, -1, 0, 1, why);
	}
	return h->fn ? h->fn(h->ctx, r, live) : 0;
}

/* A damaged batch met by the replay (the reader's last error): its records
 * are lost, the ones after it are not. VARVE_EEND when the damage runs to
 * the end of the log. */
static int skip_damage(vv_meta *m, vv_reader *r)
{
	char why[240];
	snprintf(why, sizeof why, "%s", varve_last_error()->message);
	int64_t seg = r->seg ? r->seg->base : -1, from, to;
	uint64_t pos = r->pos;
	int s = vv_reader_skip_damaged(r, &from, &to);
	if (s && s != VARVE_EEND)
		return s;
	VV_TRY(note_damage(m, from, to, seg, pos, 0, why));
	return s;
}

int vv_meta_replay(vv_meta *m)
{
	vv_reader r;
	const varve_record *rec;
	int rc = vv_reader_init(&r, m->log, atomic_load(&m->log->start_offset));
	while (rc == 0) {
		int next = vv_reader_next(&r, &rec);
		if (next == 0)
			rc = dispatch(m, rec, 0);
		else if (next == VARVE_ECORRUPT)
			rc = skip_damage(m, &r);
		else
			rc = next;
	}
	vv_reader_free(&r);
	if (rc == VARVE_EEND) {
		vv_error_clear();
		return 0;
	}
	return rc;
}

/* ---- writes --------------------------------------------------------------- */

void vv_meta_batch_init(vv_meta_batch *b) { memset(b, 0, sizeof *b); }

void vv_meta_batch_free(vv_meta_batch *b)
{
	vv_free(b->buf);
	vv_free(b->offs);
	memset(b, 0, sizeof *b);
}

int vv_meta_batch_add(vv_meta_batch *b, const vv_meta_rec *r)
{
	size_t need = b->len + VV_META_KEY_MAX + VV_META_VALUE_MAX;
	if (need > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 8192;
		while (nc < need)
			nc *= 2;
		uint8_t *nb = vv_realloc(b->buf, nc);
		if (!nb)
			return vv_error_set(VARVE_ENOMEM, 0, "metadata batch");
		b->buf = nb;
		b->cap = nc;
	}
	if (b->n == b->ncap) {
		size_t nc = b->ncap ? b->ncap * 2 : 8;
		size_t *no = vv_realloc(b->offs, nc * 4 * sizeof *no);
		if (!no)
			return vv_error_set(VARVE_ENOMEM, 0, "metadata batch");
		b->offs = no;
		b->ncap = nc;
	}
	size_t klen, vlen;
	uint8_t *key = b->buf + b->len, *val = key + VV_META_KEY_MAX;
	VV_TRY(vv_meta_encode(r, key, &klen, val, &vlen));
	memmove(key + klen, val, vlen);
	size_t *o = b->offs + 4 * b->n;
	o[0] = b->len;
	o[1] = klen;
	o[2] = r->deleted ? SIZE_MAX : b->len + klen; /* SIZE_MAX: a null value */
	o[3] = vlen;
	b->len += klen + vlen;
	b->n++;
	return 0;
}

/* Append the batch's records and apply them (write_mu held). */
static int append_and_apply(vv_meta *m, varve_record *recs, const varve_record **ptrs, size_t n,
			    int sync)
{
	vv_append_opts o = { -1, -1, 0, -1, sync, 0, 0, 0 };
	int64_t base = 0;
	VV_TRY(vv_partition_append(m->log, ptrs, n, &o, &base));
	for (size_t i = 0; i < n; i++) {
		recs[i].offset = base + (int64_t)i;
		VV_TRY(dispatch(m, &recs[i], 1));
	}
	return 0;
}

int vv_meta_write(vv_meta *m, vv_meta_batch *b, int sync)
{
	if (b->n == 0)
		return 0;
	varve_record *recs = vv_calloc(b->n, sizeof *recs);
	const varve_record **ptrs = vv_calloc(b->n, sizeof *ptrs);
	int rc;
	if (!recs || !ptrs) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "metadata write");
		goto out;
	}
	for (size_t i = 0; i < b->n; i++) {
		const size_t *o = b->offs + 4 * i;
		recs[i] = (varve_record){ b->buf + o[0], o[1], o[2] == SIZE_MAX ? NULL : b->buf + o[2],
					  o[3], NULL, 0, VARVE_TIMESTAMP_NOW, 0, 0, 0 };
		ptrs[i] = &recs[i];
	}
	pthread_mutex_lock(&m->write_mu);
	rc = append_and_apply(m, recs, ptrs, b->n, sync);
	pthread_mutex_unlock(&m->write_mu);
out:
	vv_free(recs);
	vv_free(ptrs);
	return rc;
}

int vv_meta_locked(vv_meta *m, int (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&m->write_mu);
	int rc = fn(ctx);
	pthread_mutex_unlock(&m->write_mu);
	return rc;
}
