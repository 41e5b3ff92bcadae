/* SPDX-License-Identifier: MIT */
/*
 * quota.c -- the broker's quotas (quota.h): token buckets, which entity a
 * request is charged to, the buckets' table, reloading <store>/quotas; and
 * two helpers about messages: which answers carry throttle_time_ms, and
 * what a request names (topic-partitions and groups) for the per-request
 * limits.
 *
 * Buckets live in a chained hash table keyed by (entity, name), with a
 * seed drawn at start so a client cannot choose ids that pile into one
 * chain; a name is compared whole, so two clients never share a bucket by
 * accident. A bucket set is forgotten once every bucket in it is full
 * again (full_at_ms); the sweep runs every reload_ms and when the table
 * reaches max_buckets.
 *
 * Loop thread only. Calls libc, quota_file.c and the message structs.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quota.h"

/* ---- the token bucket ------------------------------------------------------------ */

static double capacity(double rate, int64_t burst_ms)
{
	return rate * (double)burst_ms / 1000.0;
}

void vs_bucket_init(vs_bucket *b, double rate, int64_t burst_ms, int64_t now_ms)
{
	b->tokens = capacity(rate, burst_ms);
	b->at_ms = now_ms;
}

static void refill(vs_bucket *b, double rate, int64_t burst_ms, int64_t now_ms)
{
	if (now_ms > b->at_ms) {
		b->tokens += rate * (double)(now_ms - b->at_ms) / 1000.0;
		b->at_ms = now_ms;
	}
	double cap = capacity(rate, burst_ms);
	if (b->tokens > cap)
		b->tokens = cap; /* also when the rate was lowered */
}

static int64_t debt_ms(const vs_bucket *b, double rate)
{
	if (b->tokens >= 0 || rate <= 0)
		return 0;
	return (int64_t)ceil(-b->tokens * 1000.0 / rate);
}

int64_t vs_bucket_take(vs_bucket *b, double rate, int64_t burst_ms, int64_t max_throttle_ms,
		       double amount, int64_t now_ms)
{
	refill(b, rate, burst_ms, now_ms);
	b->tokens -= amount;
	double floor_tokens = -rate * (double)max_throttle_ms / 1000.0;
	if (b->tokens < floor_tokens)
		b->tokens = floor_tokens;
	return debt_ms(b, rate);
}

int64_t vs_bucket_full_at(const vs_bucket *b, double rate, int64_t burst_ms)
{
	double missing = capacity(rate, burst_ms) - b->tokens;
	if (missing <= 0 || rate <= 0)
		return b->at_ms;
	return b->at_ms + (int64_t)ceil(missing * 1000.0 / rate);
}

/* ---- the table of buckets -------------------------------------------------------- */

typedef struct qset {
	struct qset *next; /* hash chain */
	uint64_t hash;
	int64_t full_at_ms;          /* every bucket full again by then */
	vs_bucket b[VS_QUOTA_KINDS];
	uint8_t used[VS_QUOTA_KINDS];
	uint8_t entity;              /* 'u' user, 'c' client id, 'o' overflow */
	uint16_t name_len;
	char name[];
} qset;

struct vs_quotas {
	vs_quota_config cfg;
	char *path;
	vs_quota_list entries;
	vs_quota_file_id file;
	int64_t next_look_ms;
	uint64_t seed;
	qset **slots;
	size_t nslots, count;
	qset overflow;
	vs_quota_stats st;
};

/* The target of one charge. */
typedef struct qtarget {
	double rate;
	uint8_t entity;
	const char *name;
	size_t len;
} qtarget;

static uint64_t hash_name(uint64_t seed, uint8_t entity, const char *name, size_t len)
{
	/* FNV-1a from a secret start, then a final mix */
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	h = (h ^ entity) * 0x100000001b3ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t random_seed(const void *salt)
{
	uint64_t seed = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &seed, sizeof seed) != (ssize_t)sizeof seed)
			seed = 0;
		close(fd);
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return seed ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)salt;
}

static qset *table_find(const vs_quotas *q, uint8_t entity, const char *name, size_t len,
			uint64_t h)
{
	if (!q->nslots)
		return NULL;
	for (qset *s = q->slots[h & (q->nslots - 1)]; s; s = s->next)
		if (s->hash == h && s->entity == entity && s->name_len == len &&
		    !memcmp(s->name, name, len))
			return s;
	return NULL;
}

static int table_grow(vs_quotas *q)
{
	size_t n = q->nslots ? q->nslots * 2 : 64;
	qset **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < q->nslots; i++) {
		for (qset *s = q->slots[i], *next; s; s = next) {
			next = s->next;
			s->next = slots[s->hash & (n - 1)];
			slots[s->hash & (n - 1)] = s;
		}
	}
	free(q->slots);
	q->slots = slots;
	q->nslots = n;
	return 0;
}

/* Forget every set that is full again by now. */
static void sweep(vs_quotas *q, int64_t now_ms)
{
	for (size_t i = 0; i < q->nslots; i++) {
		for (qset **pp = &q->slots[i]; *pp;) {
			qset *s = *pp;
			if (s->full_at_ms <= now_ms) {
				*pp = s->next;
				free(s);
				q->count--;
			} else {
				pp = &s->next;
			}
		}
	}
	q->st.buckets = q->count;
}

/* The set of t, made if absent; the overflow set when the table is full
 * (or out of memory). */
static qset *set_for(vs_quotas *q, const qtarget *t, int64_t now_ms)
{
	uint64_t h = hash_name(q->seed, t->entity, t->name, t->len);
	qset *s = table_find(q, t->entity, t->name, t->len, h);
	if (s)
		return s;
	if (q->count >= q->cfg.max_buckets)
		sweep(q, now_ms);
	if (q->count >= q->cfg.max_buckets || (q->count >= q->nslots && table_grow(q)) ||
	    !(s = calloc(1, sizeof *s + t->len))) {
		q->st.overflow++;
		return &q->overflow;
	}
	s->hash = h;
	s->entity = t->entity;
	s->name_len = (uint16_t)t->len;
	memcpy(s->name, t->name, t->len);
	s->next = q->slots[h & (q->nslots - 1)];
	q->slots[h & (q->nslots - 1)] = s;
	q->count++;
	q->st.buckets = q->count;
	return s;
}

/* Which bucket of kind a request of (principal, client id) goes to (quota.h,
 * the resolution order); 0 when no quota applies. */
static int resolve(const vs_quotas *q, int kind, const char *principal, vs_slice client_id,
		   qtarget *t)
{
	if (principal && !strncmp(principal, "User:", 5)) {
		const char *user = principal + 5;
		size_t len = strlen(user);
		len = len > VS_QUOTA_MAX_NAME ? VS_QUOTA_MAX_NAME : len;
		const vs_quota_entry *e = vs_quota_list_find(&q->entries, VS_QUOTA_USER, user, len);
		if (e && e->rate[kind] > 0) {
			*t = (qtarget){ (double)e->rate[kind], 'u', user, len };
			return 1;
		}
	}
	const char *cid = client_id.ptr ? (const char *)client_id.ptr : "";
	size_t len = client_id.len > VS_QUOTA_MAX_NAME ? VS_QUOTA_MAX_NAME : client_id.len;
	const vs_quota_entry *e = vs_quota_list_find(&q->entries, VS_QUOTA_CLIENT_ID, cid, len);
	double rate = e && e->rate[kind] > 0 ? (double)e->rate[kind]
					     : (double)q->cfg.default_rate[kind];
	if (rate <= 0)
		return 0;
	*t = (qtarget){ rate, 'c', cid, len };
	return 1;
}

int64_t vs_quota_charge(vs_quotas *q, int kind, const char *principal, vs_slice client_id,
			double amount, int64_t now_ms)
{
	qtarget t;
	if (kind < 0 || kind >= VS_QUOTA_KINDS || !resolve(q, kind, principal, client_id, &t))
		return 0;
	qset *s = set_for(q, &t, now_ms);
	vs_bucket *b = &s->b[kind];
	if (!s->used[kind]) {
		vs_bucket_init(b, t.rate, q->cfg.burst_ms, now_ms);
		s->used[kind] = 1;
	}
	int64_t ms = vs_bucket_take(b, t.rate, q->cfg.burst_ms, q->cfg.max_throttle_ms, amount,
				    now_ms);
	int64_t full = vs_bucket_full_at(b, t.rate, q->cfg.burst_ms);
	if (full > s->full_at_ms)
		s->full_at_ms = full;
	if (ms > 0) {
		q->st.throttled[kind]++;
		q->st.throttle_ms[kind] += (uint64_t)ms;
	}
	return ms;
}

int64_t vs_quota_throttle(vs_quotas *q, int kind, const char *principal, vs_slice client_id,
			  int64_t now_ms)
{
	qtarget t;
	if (kind < 0 || kind >= VS_QUOTA_KINDS || !resolve(q, kind, principal, client_id, &t))
		return 0;
	uint64_t h = hash_name(q->seed, t.entity, t.name, t.len);
	qset *s = table_find(q, t.entity, t.name, t.len, h);
	if (!s && q->count >= q->cfg.max_buckets)
		s = &q->overflow; /* where a charge would go */
	if (!s || !s->used[kind])
		return 0;
	vs_bucket b = s->b[kind];
	refill(&b, t.rate, q->cfg.burst_ms, now_ms);
	return debt_ms(&b, t.rate);
}

int64_t vs_quota_window(vs_quotas *q, int kind, const char *principal, vs_slice client_id)
{
	qtarget t;
	if (kind < 0 || kind >= VS_QUOTA_KINDS || !resolve(q, kind, principal, client_id, &t))
		return -1;
	double w = capacity(t.rate, q->cfg.burst_ms);
	return w < 1 ? 1 : w > (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)w;
}

int vs_quotas_any(const vs_quotas *q, int kind)
{
	if (q->cfg.default_rate[kind] > 0)
		return 1;
	for (size_t i = 0; i < q->entries.n; i++)
		if (q->entries.v[i].rate[kind] > 0)
			return 1;
	return 0;
}

/* ---- configuration and the file ------------------------------------------------ */

void vs_quota_config_default(vs_quota_config *c)
{
	memset(c, 0, sizeof *c);
	c->burst_ms = 1000;
	c->max_throttle_ms = 10000;
	c->max_buckets = 100000;
	c->reload_ms = 1000;
}

int vs_quotas_new(const vs_quota_config *cfg, vs_quotas **out, char *err, size_t cap)
{
	*out = NULL;
	vs_quotas *q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->cfg = *cfg;
	vs_quota_config d;
	vs_quota_config_default(&d);
	if (q->cfg.burst_ms <= 0)
		q->cfg.burst_ms = d.burst_ms;
	if (q->cfg.max_throttle_ms <= 0)
		q->cfg.max_throttle_ms = d.max_throttle_ms;
	if (!q->cfg.max_buckets)
		q->cfg.max_buckets = d.max_buckets;
	if (q->cfg.reload_ms <= 0)
		q->cfg.reload_ms = d.reload_ms;
	q->cfg.path = NULL;
	q->overflow.entity = 'o';
	q->seed = random_seed(q);
	int rc = 0;
	if (cfg->path && !(q->path = strdup(cfg->path)))
		rc = -ENOMEM;
	if (!rc && q->path)
		rc = vs_quota_file_read(q->path, &q->entries, &q->file, err, cap);
	if (rc) {
		vs_quotas_free(q);
		return rc;
	}
	q->st.entries = q->entries.n;
	*out = q;
	return 0;
}

void vs_quotas_free(vs_quotas *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nslots; i++)
		for (qset *s = q->slots[i], *next; s; s = next) {
			next = s->next;
			free(s);
		}
	free(q->slots);
	vs_quota_list_free(&q->entries);
	free(q->path);
	free(q);
}

void vs_quotas_set_entries(vs_quotas *q, vs_quota_list *l)
{
	vs_quota_list_free(&q->entries);
	q->entries = *l;
	*l = (vs_quota_list){ 0 };
	q->st.entries = q->entries.n;
}

static int same_file(const vs_quota_file_id *a, const struct stat *st)
{
	return a->exists && a->dev == st->st_dev && a->ino == st->st_ino &&
	       a->size == st->st_size &&
	       a->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int vs_quotas_maybe_reload(vs_quotas *q, int64_t now_ms, char *err, size_t cap)
{
	if (now_ms < q->next_look_ms)
		return 0;
	q->next_look_ms = now_ms + q->cfg.reload_ms;
	sweep(q, now_ms);
	if (!q->path)
		return 0;
	struct stat st;
	memset(&st, 0, sizeof st);
	int exists = stat(q->path, &st) == 0;
	if (exists ? same_file(&q->file, &st) : !q->file.exists)
		return 0;
	vs_quota_list fresh = { 0 };
	vs_quota_file_id id;
	int rc = vs_quota_file_read(q->path, &fresh, &id, err, cap);
	if (rc) {
		/* keep what is in force; remember this version of the file so
		 * it is reported once, and read again only once it changes */
		q->st.reload_errors++;
		q->file = (vs_quota_file_id){ exists, st.st_dev, st.st_ino, st.st_size,
					      (int64_t)st.st_mtim.tv_sec * 1000000000 +
						      st.st_mtim.tv_nsec };
		return -1;
	}
	vs_quotas_set_entries(q, &fresh);
	q->file = id;
	q->st.reloads++;
	return 1;
}

void vs_quotas_stats(const vs_quotas *q, vs_quota_stats *out)
{
	*out = q->st;
	out->buckets = q->count;
	out->entries = q->entries.n;
}

/* ---- answers and requests ------------------------------------------------------ */

int vs_quota_counts_request(int16_t key)
{
	/* what a client sends before it is known (or to find out versions) */
	return key != VS_API_API_VERSIONS && key != VS_API_SASL_HANDSHAKE &&
	       key != VS_API_SASL_AUTHENTICATE;
}

/* The throttle_time_ms of r for key, or NULL when its answer has none. */
static int32_t *throttle_field(int16_t key, vs_response *r)
{
	switch (key) {
	case VS_API_PRODUCE: return &r->produce.throttle_time_ms;
	case VS_API_FETCH: return &r->fetch.throttle_time_ms;
	case VS_API_LIST_OFFSETS: return &r->list_offsets.throttle_time_ms;
	case VS_API_METADATA: return &r->metadata.throttle_time_ms;
	case VS_API_OFFSET_COMMIT: return &r->offset_commit.throttle_time_ms;
	case VS_API_OFFSET_FETCH: return &r->offset_fetch.throttle_time_ms;
	case VS_API_FIND_COORDINATOR: return &r->find_coordinator.throttle_time_ms;
	case VS_API_JOIN_GROUP: return &r->join_group.throttle_time_ms;
	case VS_API_HEARTBEAT: return &r->heartbeat.throttle_time_ms;
	case VS_API_LEAVE_GROUP: return &r->leave_group.throttle_time_ms;
	case VS_API_SYNC_GROUP: return &r->sync_group.throttle_time_ms;
	case VS_API_DESCRIBE_GROUPS: return &r->describe_groups.throttle_time_ms;
	case VS_API_LIST_GROUPS: return &r->list_groups.throttle_time_ms;
	case VS_API_API_VERSIONS: return &r->api_versions.throttle_time_ms;
	case VS_API_CREATE_TOPICS: return &r->create_topics.throttle_time_ms;
	case VS_API_DELETE_TOPICS: return &r->delete_topics.throttle_time_ms;
	case VS_API_DELETE_RECORDS: return &r->delete_records.throttle_time_ms;
	case VS_API_INIT_PRODUCER_ID: return &r->init_producer_id.throttle_time_ms;
	case VS_API_DESCRIBE_ACLS: return &r->describe_acls.throttle_time_ms;
	case VS_API_CREATE_ACLS: return &r->create_acls.throttle_time_ms;
	case VS_API_DELETE_ACLS: return &r->delete_acls.throttle_time_ms;
	case VS_API_DESCRIBE_CONFIGS: return &r->describe_configs.throttle_time_ms;
	case VS_API_ALTER_CONFIGS: return &r->alter_configs.throttle_time_ms;
	case VS_API_INCREMENTAL_ALTER_CONFIGS:
		return &r->incremental_alter_configs.throttle_time_ms;
	case VS_API_CREATE_PARTITIONS: return &r->create_partitions.throttle_time_ms;
	case VS_API_DELETE_GROUPS: return &r->delete_groups.throttle_time_ms;
	default: return NULL; /* SaslHandshake, SaslAuthenticate */
	}
}

int vs_response_set_throttle(int16_t key, vs_response *r, int32_t ms)
{
	int32_t *f = throttle_field(key, r);
	if (!f)
		return 0;
	*f = ms;
	return 1;
}

/* The sum of the inner arrays' counts (null arrays count 0). */
#define SUM_INNER(out, arr, inner)                                    \
	for (int32_t i_ = 0; i_ < (arr).n; i_++)                      \
		(out) += (arr).v[i_].inner.n > 0 ? (uint64_t)(arr).v[i_].inner.n : 0;
#define COUNT(arr) ((arr).n > 0 ? (uint64_t)(arr).n : 0)

void vs_request_measure(int16_t key, const vs_request *q, vs_request_size *out)
{
	uint64_t p = 0, g = 0;
	switch (key) {
	case VS_API_PRODUCE: SUM_INNER(p, q->produce.topic_data, partition_data); break;
	case VS_API_FETCH:
		SUM_INNER(p, q->fetch.topics, partitions);
		SUM_INNER(p, q->fetch.forgotten_topics_data, partitions);
		break;
	case VS_API_LIST_OFFSETS: SUM_INNER(p, q->list_offsets.topics, partitions); break;
	case VS_API_METADATA: p = COUNT(q->metadata.topics); break;
	case VS_API_OFFSET_COMMIT:
		SUM_INNER(p, q->offset_commit.topics, partitions);
		g = 1;
		break;
	case VS_API_OFFSET_FETCH:
		SUM_INNER(p, q->offset_fetch.topics, partition_indexes);
		g = 1;
		break;
	case VS_API_DELETE_RECORDS: SUM_INNER(p, q->delete_records.topics, partitions); break;
	case VS_API_CREATE_TOPICS: p = COUNT(q->create_topics.topics); break;
	case VS_API_DELETE_TOPICS: p = COUNT(q->delete_topics.topic_names); break;
	case VS_API_CREATE_PARTITIONS: p = COUNT(q->create_partitions.topics); break;
	case VS_API_DESCRIBE_CONFIGS: p = COUNT(q->describe_configs.resources); break;
	case VS_API_ALTER_CONFIGS: p = COUNT(q->alter_configs.resources); break;
	case VS_API_INCREMENTAL_ALTER_CONFIGS: p = COUNT(q->incremental_alter_configs.resources); break;
	case VS_API_DESCRIBE_GROUPS: g = COUNT(q->describe_groups.groups); break;
	case VS_API_DELETE_GROUPS: g = COUNT(q->delete_groups.groups_names); break;
	default: break;
	}
	out->partitions = p;
	out->groups = g;
}
