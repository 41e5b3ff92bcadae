/* SPDX-License-Identifier: MIT */
/* group.c -- consumer-group table, metadata codecs, range assignment. */
#include <stdio.h>

#include "group.h"
#include "util.h"

void vv_groups_init(vv_groups *g)
{
	memset(g, 0, sizeof *g);
	pthread_mutex_init(&g->mu, NULL);
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
	for (size_t i = 0; i < g->n; i++)
		free_group(g->v[i]);
	vv_free(g->v);
	pthread_mutex_destroy(&g->mu);
	memset(g, 0, sizeof *g);
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

/* ---- codecs ----------------------------------------------------------------------- */

size_t vv_attempt_key(uint8_t *out, const char *group, const char *topic, uint32_t partition,
		      int64_t offset)
{
	size_t n = vv_commit_key(out, group, topic, partition);
	out[0] = VV_META_KEY_ATTEMPTS;
	vv_store64(out + n, (uint64_t)offset);
	return n + 8;
}

size_t vv_attempt_value(uint8_t *out, uint32_t attempts, int64_t due, const char *reason)
{
	out[0] = 1;
	vv_store32(out + 1, attempts);
	vv_store64(out + 5, (uint64_t)due);
	size_t rl = reason ? strlen(reason) : 0;
	if (rl > VV_MAX_NACK_REASON)
		rl = VV_MAX_NACK_REASON;
	memcpy(out + 13, reason ? reason : "", rl);
	return 13 + rl;
}

size_t vv_commit_key(uint8_t *out, const char *group, const char *topic, uint32_t partition)
{
	size_t gl = strlen(group), tl = strlen(topic), n = 0;
	out[n++] = VV_META_KEY_OFFSET;
	memcpy(out + n, group, gl);
	n += gl;
	out[n++] = 0;
	memcpy(out + n, topic, tl);
	n += tl;
	out[n++] = 0;
	vv_store32(out + n, partition);
	return n + 4;
}

int vv_commit_key_decode(const uint8_t *k, size_t n, char *group, char *topic, uint32_t *partition)
{
	if (n < 1 + 1 + 1 + 1 + 1 + 4 || k[0] != VV_META_KEY_OFFSET)
		return -1;
	const uint8_t *g = k + 1, *end = k + n - 4;
	const uint8_t *z1 = memchr(g, 0, (size_t)(end - g));
	if (!z1 || z1 == g || (size_t)(z1 - g) > VARVE_MAX_TOPIC_NAME)
		return -1;
	const uint8_t *t = z1 + 1;
	if (t >= end || end[-1] != 0)
		return -1;
	const uint8_t *z2 = end - 1;
	if (z2 == t || (size_t)(z2 - t) > VARVE_MAX_TOPIC_NAME || memchr(t, 0, (size_t)(z2 - t)))
		return -1;
	memcpy(group, g, (size_t)(z1 - g));
	group[z1 - g] = 0;
	memcpy(topic, t, (size_t)(z2 - t));
	topic[z2 - t] = 0;
	*partition = vv_load32(end);
	return varve_name_valid(group) && varve_name_valid(topic) ? 0 : -1;
}

size_t vv_commit_value(uint8_t *out, int64_t offset, int64_t time, const char *metadata)
{
	out[0] = 1;
	vv_store64(out + 1, (uint64_t)offset);
	vv_store64(out + 9, (uint64_t)time);
	size_t ml = metadata ? strlen(metadata) : 0;
	if (ml > VV_MAX_COMMIT_METADATA)
		ml = VV_MAX_COMMIT_METADATA;
	memcpy(out + 17, metadata ? metadata : "", ml);
	return 17 + ml;
}

size_t vv_group_key(uint8_t *out, const char *group)
{
	size_t gl = strlen(group);
	out[0] = VV_META_KEY_GROUP;
	memcpy(out + 1, group, gl);
	return gl + 1;
}

size_t vv_group_value(uint8_t *out, int64_t created_ms)
{
	out[0] = 1;
	vv_store64(out + 1, (uint64_t)created_ms);
	return 9;
}

int vv_groups_apply(vv_groups *g, const varve_record *r)
{
	if (!r->key || r->key_len < 2)
		return 0;
	const uint8_t *k = r->key;
	if (k[0] == VV_META_KEY_GROUP) {
		char name[VARVE_MAX_TOPIC_NAME + 1];
		size_t nl = r->key_len - 1;
		if (nl > VARVE_MAX_TOPIC_NAME)
			return 0;
		memcpy(name, k + 1, nl);
		name[nl] = 0;
		if (!varve_name_valid(name))
			return 0;
		if (!r->value) {
			vv_groups_remove(g, name);
			return 0;
		}
		vv_group *grp = vv_groups_find(g, name, 1);
		if (!grp)
			return vv_error_set(VARVE_ENOMEM, 0, "group table");
		if (r->value_len >= 9 && ((const uint8_t *)r->value)[0] == 1)
			grp->created_ms = (int64_t)vv_load64((const uint8_t *)r->value + 1);
		return 0;
	}
	char group[VARVE_MAX_TOPIC_NAME + 1], topic[VARVE_MAX_TOPIC_NAME + 1];
	uint32_t part;
	if (k[0] == VV_META_KEY_ATTEMPTS) {
		if (r->key_len < 9)
			return 0;
		uint8_t tmp[VV_ATTEMPT_KEY_MAX];
		size_t kl = r->key_len - 8;
		if (kl > sizeof tmp)
			return 0;
		memcpy(tmp, k, kl);
		tmp[0] = VV_META_KEY_OFFSET;
		if (vv_commit_key_decode(tmp, kl, group, topic, &part))
			return 0;
		int64_t off = (int64_t)vv_load64(k + kl);
		vv_group *grp = vv_groups_find(g, group, r->value != NULL);
		if (!grp)
			return r->value ? vv_error_set(VARVE_ENOMEM, 0, "group table") : 0;
		if (!r->value) {
			vv_group_retry_del(grp, topic, part, off);
			return 0;
		}
		const uint8_t *v = r->value;
		if (r->value_len < 13 || v[0] != 1)
			return 0;
		char reason[VV_MAX_NACK_REASON + 1];
		size_t rl = r->value_len - 13 > VV_MAX_NACK_REASON ? VV_MAX_NACK_REASON : r->value_len - 13;
		memcpy(reason, v + 13, rl);
		reason[rl] = 0;
		return vv_group_retry_set(grp, topic, part, off, vv_load32(v + 1),
					  (int64_t)vv_load64(v + 5), reason);
	}
	if (k[0] != VV_META_KEY_OFFSET)
		return 0;
	if (vv_commit_key_decode(k, r->key_len, group, topic, &part))
		return 0;
	if (!r->value) {
		vv_group *grp = vv_groups_find(g, group, 0);
		if (grp)
			vv_group_commit_del(grp, topic, part);
		return 0;
	}
	const uint8_t *v = r->value;
	if (r->value_len < 17 || v[0] != 1)
		return 0;
	char md[VV_MAX_COMMIT_METADATA + 1];
	size_t ml = r->value_len - 17;
	if (ml > VV_MAX_COMMIT_METADATA)
		ml = VV_MAX_COMMIT_METADATA;
	memcpy(md, v + 17, ml);
	md[ml] = 0;
	vv_group *grp = vv_groups_find(g, group, 1);
	if (!grp)
		return vv_error_set(VARVE_ENOMEM, 0, "group table");
	return vv_group_commit_set(grp, topic, part, (int64_t)vv_load64(v + 1),
				   (int64_t)vv_load64(v + 9), md);
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
