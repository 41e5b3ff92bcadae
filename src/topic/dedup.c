/* SPDX-License-Identifier: MIT */
/* dedup.c -- message-id duplicate window (see dedup.h). */
#include <xxhash.h>

#include "dedup.h"
#include "util.h"

int vv_dedup_init(vv_dedup *d, int64_t window_ms)
{
	memset(d, 0, sizeof *d);
	pthread_mutex_init(&d->mu, NULL);
	d->window_ms = window_ms;
	return 0;
}

void vv_dedup_free(vv_dedup *d)
{
	vv_free(d->v);
	pthread_mutex_destroy(&d->mu);
	memset(d, 0, sizeof *d);
}

const void *vv_dedup_id(const varve_record *r, size_t *len)
{
	static const char key[] = VARVE_MSG_ID_HEADER;
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		if (h->key_len == sizeof key - 1 && !memcmp(h->key, key, sizeof key - 1) && h->value) {
			*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

static size_t slot(const vv_dedup *d, uint64_t h1, uint64_t h2)
{
	size_t i = (size_t)h1 & (d->cap - 1);
	while (d->v[i].used && (d->v[i].h1 != h1 || d->v[i].h2 != h2))
		i = (i + 1) & (d->cap - 1);
	return i;
}

vv_dedup_entry *vv_dedup_find(vv_dedup *d, const void *id, size_t len, int64_t now)
{
	if (!d->cap)
		return NULL;
	XXH128_hash_t h = XXH3_128bits(id, len);
	vv_dedup_entry *e = &d->v[slot(d, h.low64, h.high64)];
	if (!e->used || now - e->time >= d->window_ms)
		return NULL;
	return e;
}

static int rehash(vv_dedup *d, size_t cap, int64_t now, int prune)
{
	vv_dedup_entry *nv = vv_calloc(cap, sizeof *nv);
	if (!nv)
		return vv_error_set(VARVE_ENOMEM, 0, "dedup window");
	vv_dedup old = *d;
	d->v = nv;
	d->cap = cap;
	d->n = 0;
	for (size_t i = 0; i < old.cap; i++) {
		vv_dedup_entry *e = &old.v[i];
		if (!e->used || (prune && e->offset >= 0 && now - e->time >= d->window_ms))
			continue;
		d->v[slot(d, e->h1, e->h2)] = *e;
		d->n++;
	}
	vv_free(old.v);
	return 0;
}

void vv_dedup_prune(vv_dedup *d, int64_t now)
{
	if (d->cap)
		(void)rehash(d, d->cap, now, 1);
	vv_error_clear();
}

int vv_dedup_put(vv_dedup *d, const void *id, size_t len, int32_t partition, int64_t offset,
		 int64_t time)
{
	if ((d->n + 1) * 2 > d->cap) {
		/* First drop what has aged out; grow only if that was not enough. */
		if (d->cap)
			(void)rehash(d, d->cap, time, 1);
		if ((d->n + 1) * 2 > d->cap)
			VV_TRY(rehash(d, d->cap ? d->cap * 2 : 64, time, 0));
	}
	XXH128_hash_t h = XXH3_128bits(id, len);
	vv_dedup_entry *e = &d->v[slot(d, h.low64, h.high64)];
	if (!e->used)
		d->n++;
	*e = (vv_dedup_entry){ h.low64, h.high64, offset, time, partition, 1 };
	return 0;
}
