/* SPDX-License-Identifier: MIT */
/* groups.c -- the consumer-group table, its metadata records, range
 * assignment (see groups.h). May call: meta, base. */
#include <stdio.h>

#include "groups.h"
#include "util.h"

static int on_record(void *ctx, const vv_meta_rec *r, int live);

int vv_groups_new(vv_meta *meta, vv_groups **out)
{
	*out = NULL;
	vv_groups *g = vv_calloc(1, sizeof *g);
	if (!g)
		return vv_error_set(VARVE_ENOMEM, 0, "group table");
	g->meta = meta;
	pthread_mutex_init(&g->mu, NULL);
	vv_meta_subscribe(meta, VV_META_GROUP, on_record, g, 0);
	vv_meta_subscribe(meta, VV_META_COMMIT, on_record, g, 0);
	vv_meta_subscribe(meta, VV_META_ATTEMPT, on_record, g, 0);
	*out = g;
	return 0;
}

static void free_group(vv_group *grp)
{
	for (size_t i = 0; i < grp->n; i++) {
		vv_free(grp->commits[i].topic);
		vv_free(grp->commits[i].metadata);
	}
	for (size_t i = 0; i < grp->nmembers; i++)
		varve_strings_free(grp->members[i].topics, grp->members[i].ntopics);
	for (size_t i = 0; i < grp->nretries; i++) {
		vv_free(grp->retries[i].topic);
		vv_free(grp->retries[i].reason);
	}
	vv_free(grp->retries);
	vv_free(grp->commits);
	vv_free(grp->members);
	vv_free(grp->name);
	vv_free(grp);
}

void vv_groups_free(vv_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		free_group(g->v[i]);
	vv_free(g->v);
	pthread_mutex_destroy(&g->mu);
	vv_free(g);
}

vv_group *vv_groups_find(vv_groups *g, const char *name, int create)
{
	size_t lo = 0, hi = g->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->v[mid]->name, name);
		if (c == 0)
			return g->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!create)
		return NULL;
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 8;
		vv_group **nv = vv_realloc(g->v, nc * sizeof *nv);
		if (!nv)
			return NULL;
		g->v = nv;
		g->cap = nc;
	}
	vv_group *grp = vv_calloc(1, sizeof *grp);
	if (!grp || !(grp->name = vv_strdup(name))) {
		vv_free(grp);
		return NULL;
	}
	grp->lag_limit = -1;
	memmove(g->v + lo + 1, g->v + lo, (g->n - lo) * sizeof *g->v);
	g->v[lo] = grp;
	g->n++;
	return grp;
}

void vv_groups_remove(vv_groups *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++) {
		if (strcmp(g->v[i]->name, name))
			continue;
		free_group(g->v[i]);
		memmove(g->v + i, g->v + i + 1, (g->n - i - 1) * sizeof *g->v);
		g->n--;
		return;
	}
}

vv_commit *vv_group_commit_find(vv_group *grp, const char *topic, uint32_t partition)
{
	for (size_t i = 0; i < grp->n; i++)
		if (grp->commits[i].partition == partition && !strcmp(grp->commits[i].topic, topic))
			return &grp->commits[i];
	return NULL;
}

int vv_group_commit_set(vv_group *grp, const char *topic, uint32_t partition, int64_t offset,
			int64_t time, const char *metadata)
{
	char *md = NULL;
	if (metadata && *metadata && !(md = vv_strdup(metadata)))
		return vv_error_set(VARVE_ENOMEM, 0, "commit metadata");
	vv_commit *c = vv_group_commit_find(grp, topic, partition);
	if (!c) {
		if (grp->n == grp->cap) {
			size_t nc = grp->cap ? grp->cap * 2 : 8;
			vv_commit *nv = vv_realloc(grp->commits, nc * sizeof *nv);
			if (!nv) {
				vv_free(md);
				return vv_error_set(VARVE_ENOMEM, 0, "commit table");
			}
			grp->commits = nv;
			grp->cap = nc;
		}
		c = &grp->commits[grp->n];
		memset(c, 0, sizeof *c);
		if (!(c->topic = vv_strdup(topic))) {
			vv_free(md);
			return vv_error_set(VARVE_ENOMEM, 0, "commit table");
		}
		c->partition = partition;
		grp->n++;
	}
	vv_free(c->metadata);
	c->metadata = md;
	c->offset = offset;
	c->time = time;
	return 0;
}

void vv_group_commit_del(vv_group *grp, const char *topic, uint32_t partition)
{
	vv_commit *c = vv_group_commit_find(grp, topic, partition);
	if (!c)
		return;
	vv_free(c->topic);
	vv_free(c->metadata);
	size_t i = (size_t)(c - grp->commits);
	memmove(grp->commits + i, grp->commits + i + 1, (grp->n - i - 1) * sizeof *c);
	grp->n--;
}

vv_retry *vv_group_retry_find(vv_group *grp, const char *topic, uint32_t partition, int64_t offset)
{
	for (size_t i = 0; i < grp->nretries; i++) {
		vv_retry *r = &grp->retries[i];
		if (r->offset == offset && r->partition == partition && !strcmp(r->topic, topic))
			return r;
	}
	return NULL;
}

int vv_group_retry_set(vv_group *grp, const char *topic, uint32_t partition, int64_t offset,
		       uint32_t attempts, int64_t due, const char *reason)
{
	char *rs = vv_strdup(reason ? reason : "");
	if (!rs)
		return vv_error_set(VARVE_ENOMEM, 0, "retry table");
	vv_retry *r = vv_group_retry_find(grp, topic, partition, offset);
	if (!r) {
		if (grp->nretries == grp->rcap) {
			size_t nc = grp->rcap ? grp->rcap * 2 : 8;
			vv_retry *nv = vv_realloc(grp->retries, nc * sizeof *nv);
			if (!nv) {
				vv_free(rs);
				return vv_error_set(VARVE_ENOMEM, 0, "retry table");
			}
			grp->retries = nv;
			grp->rcap = nc;
		}
		r = &grp->retries[grp->nretries];
		memset(r, 0, sizeof *r);
		if (!(r->topic = vv_strdup(topic))) {
			vv_free(rs);
			return vv_error_set(VARVE_ENOMEM, 0, "retry table");
		}
		r->partition = partition;
		r->offset = offset;
		grp->nretries++;
	}
	vv_free(r->reason);
	r->reason = rs;
	r->attempts = attempts;
	r->due = due;
	r->delivered = 0;
	return 0;
}

void vv_group_retry_del(vv_group *grp, const char *topic, uint32_t partition, int64_t offset)
{
	vv_retry *r = vv_group_retry_find(grp, topic, partition, offset);
	if (!r)
		return;
	vv_free(r->topic);
	vv_free(r->reason);
	size_t i = (size_t)(r - grp->retries);
	memmove(grp->retries + i, grp->retries + i + 1, (grp->nretries - i - 1) * sizeof *r);
	grp->nretries--;
}

/* ---- metadata records ------------------------------------------------------ */

static int apply(vv_groups *g, const vv_meta_rec *r)
{
	vv_group *grp;
	switch (r->kind) {
	case VV_META_GROUP:
		if (r->deleted) {
			vv_groups_remove(g, r->group);
			return 0;
		}
		if (!(grp = vv_groups_find(g, r->group, 1)))
			return vv_error_set(VARVE_ENOMEM, 0, "group table");
		grp->created_ms = r->time;
		return 0;
	case VV_META_ATTEMPT:
		grp = vv_groups_find(g, r->group, !r->deleted);
		if (!grp)
			return r->deleted ? 0 : vv_error_set(VARVE_ENOMEM, 0, "group table");
		if (r->deleted) {
			vv_group_retry_del(grp, r->name, r->partition, r->record_offset);
			return 0;
		}
		return vv_group_retry_set(grp, r->name, r->partition, r->record_offset, r->attempts,
					  r->time, r->text);
	case VV_META_COMMIT:
		if (r->deleted) {
			if ((grp = vv_groups_find(g, r->group, 0)))
				vv_group_commit_del(grp, r->name, r->partition);
			return 0;
		}
		if (!(grp = vv_groups_find(g, r->group, 1)))
			return vv_error_set(VARVE_ENOMEM, 0, "group table");
		return vv_group_commit_set(grp, r->name, r->partition, r->offset, r->time, r->text);
	default:
		return 0;
	}
}

static int on_record(void *ctx, const vv_meta_rec *r, int live)
{
	(void)live;
	vv_groups *g = ctx;
	pthread_mutex_lock(&g->mu);
	int rc = apply(g, r);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* ---- members and assignment ------------------------------------------------------------ */

int vv_group_join(vv_groups *g, vv_group *grp, varve_consumer *c, const char *const *topics,
		  size_t ntopics)
{
	if (grp->nmembers == grp->mcap) {
		size_t nc = grp->mcap ? grp->mcap * 2 : 4;
		vv_member *nv = vv_realloc(grp->members, nc * sizeof *nv);
		if (!nv)
			return vv_error_set(VARVE_ENOMEM, 0, "group members");
		grp->members = nv;
		grp->mcap = nc;
	}
	char **ts = vv_calloc(ntopics, sizeof *ts);
	if (!ts)
		return vv_error_set(VARVE_ENOMEM, 0, "group members");
	for (size_t i = 0; i < ntopics; i++) {
		if (!(ts[i] = vv_strdup(topics[i]))) {
			varve_strings_free(ts, i);
			return vv_error_set(VARVE_ENOMEM, 0, "group members");
		}
	}
	grp->members[grp->nmembers++] = (vv_member){ c, g->next_seq++, ts, ntopics };
	grp->generation++;
	return 0;
}

void vv_group_leave(vv_group *grp, varve_consumer *c)
{
	for (size_t i = 0; i < grp->nmembers; i++) {
		if (grp->members[i].c != c)
			continue;
		varve_strings_free(grp->members[i].topics, grp->members[i].ntopics);
		memmove(grp->members + i, grp->members + i + 1,
			(grp->nmembers - i - 1) * sizeof *grp->members);
		grp->nmembers--;
		grp->generation++;
		return;
	}
}

static int subscribed(const vv_member *m, const char *topic)
{
	for (size_t i = 0; i < m->ntopics; i++)
		if (!strcmp(m->topics[i], topic))
			return 1;
	return 0;
}

void vv_group_assigned_range(const vv_group *grp, const varve_consumer *c, const char *topic,
			     uint32_t nparts, uint32_t *first, uint32_t *count)
{
	*first = 0;
	*count = 0;
	/* members are kept in join order already */
	uint32_t k = 0, me = UINT32_MAX;
	for (size_t i = 0; i < grp->nmembers; i++) {
		if (!subscribed(&grp->members[i], topic))
			continue;
		if (grp->members[i].c == c)
			me = k;
		k++;
	}
	if (me == UINT32_MAX || k == 0)
		return;
	uint32_t per = nparts / k, extra = nparts % k;
	*first = me * per + (me < extra ? me : extra);
	*count = per + (me < extra ? 1 : 0);
}
