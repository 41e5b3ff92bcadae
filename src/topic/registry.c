/* SPDX-License-Identifier: MIT */
/*
 * registry.c -- topics by name, topic create / delete / describe, and the
 * topic records of the metadata log (see registry.h). May call: topic,
 * meta, log, base.
 */
#include <inttypes.h>
#include <stdio.h>

#include "abi.h"
#include "db.h"
#include "io.h"
#include "registry.h"
#include "util.h"

/* The latest config of a topic named in the metadata log (replay). */
typedef struct named {
	char *name;
	varve_topic_config cfg;
	char groups[VV_MAX_RETAIN_GROUPS + 1];
	int64_t created_ms;
	int live;
} named;

struct vv_topics {
	const vv_env *env;
	vv_meta *meta;
	vv_part_config pcfg;
	pthread_mutex_t admin_mu;
	pthread_rwlock_t lock;
	vv_topic **v; /* sorted by name */
	size_t n, cap;
	named *rv; /* replay only */
	size_t rn, rcap;
	vv_topic *staged; /* being created: goes in when its record is applied */
	/* being added to an existing topic (varve_topic_add_partitions) */
	vv_partition **staged_parts;
	uint32_t nstaged_parts;
};

int vv_check_partition(int32_t partition)
{
	if (partition < 0)
		return vv_error_set(VARVE_EINVAL, 0, "invalid partition %" PRId32 ": partitions are 0..%d",
				    partition, VARVE_MAX_PARTITIONS - 1);
	return 0;
}

static int check_name(const char *name)
{
	if (!varve_name_valid(name))
		return vv_error_set(VARVE_EINVAL, 0,
				    "invalid topic name \"%.64s\": use [A-Za-z0-9._-]{1,200}, not . or ..",
				    name ? name : "(null)");
	return 0;
}

/* ---- the table (caller holds lock) ------------------------------------------ */

static long find(const vv_topics *ts, const char *name, size_t *insert_at)
{
	size_t lo = 0, hi = ts->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ts->v[mid]->name, name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (insert_at)
		*insert_at = lo;
	return -1;
}

static int insert(vv_topics *ts, vv_topic *t)
{
	size_t at = 0;
	if (find(ts, t->name, &at) >= 0)
		return vv_error_set(VARVE_EEXISTS, 0, "topic %s exists", t->name);
	if (ts->n == ts->cap) {
		size_t nc = ts->cap ? ts->cap * 2 : 16;
		vv_topic **nv = vv_realloc(ts->v, nc * sizeof *nv);
		if (!nv)
			return vv_error_set(VARVE_ENOMEM, 0, "topic table");
		ts->v = nv;
		ts->cap = nc;
	}
	memmove(ts->v + at + 1, ts->v + at, (ts->n - at) * sizeof *ts->v);
	ts->v[at] = t;
	ts->n++;
	return 0;
}

static vv_topic *take_out(vv_topics *ts, const char *name)
{
	long i = find(ts, name, NULL);
	if (i < 0)
		return NULL;
	vv_topic *t = ts->v[i];
	memmove(ts->v + i, ts->v + i + 1, (ts->n - (size_t)i - 1) * sizeof *ts->v);
	ts->n--;
	return t;
}

/* ---- topic records ------------------------------------------------------------ */

static int replay_record(vv_topics *ts, const vv_meta_rec *r)
{
	named *t = NULL;
	for (size_t i = 0; i < ts->rn; i++)
		if (!strcmp(ts->rv[i].name, r->name))
			t = &ts->rv[i];
	if (!t) {
		if (ts->rn == ts->rcap) {
			size_t nc = ts->rcap ? ts->rcap * 2 : 16;
			named *nv = vv_realloc(ts->rv, nc * sizeof *nv);
			if (!nv)
				return vv_error_set(VARVE_ENOMEM, 0, "metadata replay");
			ts->rv = nv;
			ts->rcap = nc;
		}
		t = &ts->rv[ts->rn];
		memset(t, 0, sizeof *t);
		if (!(t->name = vv_strdup(r->name)))
			return vv_error_set(VARVE_ENOMEM, 0, "metadata replay");
		ts->rn++;
	}
	t->live = !r->deleted;
	if (r->deleted)
		return 0;
	t->cfg = r->cfg;
	memcpy(t->groups, r->text, r->text_len + 1);
	t->cfg.retain_for_groups = r->text_len ? t->groups : NULL;
	t->created_ms = r->time;
	return 0;
}

/* A topic record just written: a create puts the staged topic in the table,
 * a delete takes the topic out (its files go with its last reference). */
static int apply_live(vv_topics *ts, const vv_meta_rec *r)
{
	pthread_rwlock_wrlock(&ts->lock);
	int rc = 0;
	if (r->deleted) {
		vv_topic *t = take_out(ts, r->name);
		pthread_rwlock_unlock(&ts->lock);
		if (t) {
			atomic_store(&t->deleted, 1);
			vv_topic_unref(t);
		}
		return 0;
	}
	if (ts->staged && !strcmp(ts->staged->name, r->name)) {
		rc = insert(ts, ts->staged);
		if (rc == 0) /* the table holds it now */
			ts->staged = NULL;
		pthread_rwlock_unlock(&ts->lock);
		return rc;
	}
	/* an existing topic's new configuration (alter, more partitions) */
	long i = find(ts, r->name, NULL);
	vv_topic *t = i >= 0 ? ts->v[i] : NULL;
	if (t)
		vv_topic_ref(t);
	pthread_rwlock_unlock(&ts->lock);
	if (!t)
		return 0;
	if (ts->nstaged_parts && r->cfg.partitions == t->nparts + ts->nstaged_parts) {
		if ((rc = vv_topic_grow(t, ts->staged_parts, ts->nstaged_parts)) != 0)
			goto out;
		ts->nstaged_parts = 0;
	}
	vv_topic_cfg_set(t, &r->cfg, &ts->pcfg);
out:
	vv_topic_unref(t);
	return rc;
}

static int on_topic_record(void *ctx, const vv_meta_rec *r, int live)
{
	return live ? apply_live(ctx, r) : replay_record(ctx, r);
}

int vv_topics_new(const vv_env *env, vv_meta *meta, const vv_part_config *pcfg, vv_topics **out)
{
	*out = NULL;
	vv_topics *ts = vv_calloc(1, sizeof *ts);
	if (!ts)
		return vv_error_set(VARVE_ENOMEM, 0, "topic table");
	ts->env = env;
	ts->meta = meta;
	ts->pcfg = *pcfg;
	pthread_mutex_init(&ts->admin_mu, NULL);
	pthread_rwlock_init(&ts->lock, NULL);
	/* an undecodable topic configuration fails the open: the topic's data
	 * cannot be served without it */
	vv_meta_subscribe(meta, VV_META_TOPIC_CONFIG, on_topic_record, ts, 1);
	*out = ts;
	return 0;
}

static void free_replay(vv_topics *ts)
{
	for (size_t i = 0; i < ts->rn; i++)
		vv_free(ts->rv[i].name);
	vv_free(ts->rv);
	ts->rv = NULL;
	ts->rn = ts->rcap = 0;
}

void vv_topics_free(vv_topics *ts, int clean)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++) {
		if (!clean)
			atomic_store(&ts->v[i]->deleted, 0);
		vv_topic_unref(ts->v[i]);
	}
	free_replay(ts);
	vv_free(ts->v);
	pthread_mutex_destroy(&ts->admin_mu);
	pthread_rwlock_destroy(&ts->lock);
	vv_free(ts);
}

/* Directories under topics/ that no live record names. */
static int find_orphans(vv_topics *ts, char ***out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	char **names;
	size_t n;
	int rc = vv_io_list_dir(ts->env->opts.io, ts->env->topics_dir, &names, &n);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		return 0;
	}
	VV_TRY(rc);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int known = 0;
		for (size_t j = 0; j < ts->rn && !known; j++)
			known = ts->rv[j].live && !strcmp(ts->rv[j].name, names[i]);
		if (known)
			vv_free(names[i]);
		else
			names[k++] = names[i];
	}
	*out = names;
	*nout = k;
	return 0;
}

int vv_topics_load(vv_topics *ts, int clean, int keep_orphans, char ***orphans, size_t *norphans)
{
	int rc = find_orphans(ts, orphans, norphans);
	if (rc)
		goto out;
	if (!ts->env->read_only && !keep_orphans) {
		for (size_t i = 0; i < *norphans; i++) {
			char dir[4400];
			snprintf(dir, sizeof dir, "%s/%s", ts->env->topics_dir, (*orphans)[i]);
			vv_env_log(ts->env, VARVE_LOG_INFO, "removing %s: no topic of that name", dir);
			(void)vv_io_remove_tree(ts->env->opts.io, dir); /* a leftover; the next open tries again */
		}
		if (*norphans)
			(void)vv_io_sync_dir(ts->env->opts.io, ts->env->topics_dir); /* as above */
		vv_error_clear();
	}
	for (size_t i = 0; i < ts->rn; i++) {
		named *nm = &ts->rv[i];
		if (!nm->live)
			continue;
		vv_topic *t;
		rc = vv_topic_open(ts->env, &ts->pcfg, nm->name, &nm->cfg, nm->created_ms, clean, &t);
		if (rc)
			goto out;
		if ((rc = insert(ts, t)) != 0) {
			vv_topic_unref(t);
			goto out;
		}
	}
out:
	free_replay(ts);
	return rc;
}

/* ---- lookups ---------------------------------------------------------------------- */

int vv_topics_find(vv_topics *ts, const char *name, vv_topic **out)
{
	*out = NULL;
	VV_TRY(check_name(name));
	pthread_rwlock_rdlock(&ts->lock);
	long i = find(ts, name, NULL);
	if (i >= 0) {
		*out = ts->v[i];
		vv_topic_ref(*out);
	}
	pthread_rwlock_unlock(&ts->lock);
	if (!*out)
		return vv_error_set(VARVE_ENOTFOUND, 0, "no topic named %s", name);
	return 0;
}

int vv_topics_partition(vv_topics *ts, const char *name, int32_t partition, vv_topic **t_out,
			vv_partition **p_out)
{
	*t_out = NULL;
	*p_out = NULL;
	VV_TRY(vv_check_partition(partition));
	vv_topic *t;
	VV_TRY(vv_topics_find(ts, name, &t));
	if ((uint32_t)partition >= t->nparts) {
		uint32_t n = t->nparts;
		vv_topic_unref(t);
		return vv_error_set(VARVE_ENOTFOUND, 0,
				    "topic %s has %u partitions, no partition %" PRId32, name, n,
				    partition);
	}
	*t_out = t;
	*p_out = t->parts[partition];
	return 0;
}

int vv_topics_snapshot(vv_topics *ts, vv_topic ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&ts->lock);
	vv_topic **v = vv_malloc((ts->n ? ts->n : 1) * sizeof *v);
	if (!v) {
		pthread_rwlock_unlock(&ts->lock);
		return vv_error_set(VARVE_ENOMEM, 0, "topic snapshot");
	}
	for (size_t i = 0; i < ts->n; i++) {
		v[i] = ts->v[i];
		vv_topic_ref(v[i]);
	}
	*n = ts->n;
	pthread_rwlock_unlock(&ts->lock);
	*out = v;
	return 0;
}

void vv_topics_release(vv_topic **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vv_topic_unref(v[i]);
	vv_free(v);
}

/* ---- the public API -------------------------------------------------------------- */

static int writable(varve_db *db)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	return 0;
}

/* Write a topic's record, synced: its configuration (created_ms its
 * creation time), or its tombstone when cfg is NULL. Applying the record
 * changes the table (apply_live). */
static int write_record(vv_topics *ts, const char *name, const varve_topic_config *cfg,
			int64_t created_ms)
{
	vv_meta_rec *r = vv_calloc(1, sizeof *r);
	if (!r)
		return vv_error_set(VARVE_ENOMEM, 0, "topic record");
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	r->kind = VV_META_TOPIC_CONFIG;
	snprintf(r->name, sizeof r->name, "%s", name);
	if (cfg) {
		r->cfg = *cfg;
		r->time = created_ms;
	} else {
		r->deleted = 1;
	}
	int rc = vv_meta_batch_add(&b, r);
	if (rc)
		goto out;
	rc = vv_meta_write(ts->meta, &b, 1);
out:
	vv_meta_batch_free(&b);
	vv_free(r);
	return rc;
}

/* varve_topic_create under admin_mu. */
static int create_locked(varve_db *db, const char *name, const varve_topic_config *c)
{
	vv_topics *ts = db->topics;
	pthread_rwlock_rdlock(&ts->lock);
	int exists = find(ts, name, NULL) >= 0;
	pthread_rwlock_unlock(&ts->lock);
	if (exists)
		return vv_error_set(VARVE_EEXISTS, 0, "topic %s already exists", name);
	char dir[4400];
	snprintf(dir, sizeof dir, "%s/%s", db->env.topics_dir, name);
	if (vv_io_stat(db->env.opts.io, dir, NULL, NULL) == 0)
		return vv_error_set(VARVE_EBUSY, 0,
				    "topic %s was deleted but is still in use by an open iterator", name);
	vv_error_clear();
	int64_t now = vv_env_now(&db->env);
	vv_topic *t;
	VV_TRY(vv_topic_open(&db->env, &ts->pcfg, name, c, now, 0, &t));
	/* The topic exists once this record is durable, whatever the policy;
	 * applying it puts the staged topic in the table. */
	ts->staged = t;
	int rc = write_record(ts, name, c, now);
	if (!ts->staged)
		return rc;
	/* the record did not make it */
	ts->staged = NULL;
	atomic_store(&t->deleted, 1);
	vv_topic_unref(t);
	return rc ? rc : vv_error_set(VARVE_ERROR, 0, "topic %s was not registered", name);
}

int varve_topic_create(varve_db *db, const char *name, const varve_topic_config *cfg)
{
	VV_TRY(writable(db));
	VV_TRY(check_name(name));
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	VV_TRY(vv_abi_read(&vv_abi_topic_config, cfg, &c));
	VV_TRY(vv_topic_config_validate(&c));
	vv_topics *ts = db->topics;
	pthread_mutex_lock(&ts->admin_mu);
	int rc = create_locked(db, name, &c);
	pthread_mutex_unlock(&ts->admin_mu);
	return rc;
}

int varve_topic_delete(varve_db *db, const char *name)
{
	VV_TRY(writable(db));
	VV_TRY(check_name(name));
	vv_topics *ts = db->topics;
	pthread_mutex_lock(&ts->admin_mu);
	pthread_rwlock_rdlock(&ts->lock);
	int exists = find(ts, name, NULL) >= 0;
	pthread_rwlock_unlock(&ts->lock);
	/* applying the tombstone takes the topic out */
	int rc = exists ? write_record(ts, name, NULL, 0)
			: vv_error_set(VARVE_ENOTFOUND, 0, "no topic named %s", name);
	pthread_mutex_unlock(&ts->admin_mu);
	return rc;
}

int varve_topic_list(varve_db *db, char ***names_out, size_t *count_out)
{
	if (!names_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*names_out = NULL;
	*count_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	vv_topics *ts = db->topics;
	pthread_rwlock_rdlock(&ts->lock);
	size_t n = ts->n;
	char **v = vv_calloc(n ? n : 1, sizeof *v);
	int oom = !v;
	for (size_t i = 0; !oom && i < n; i++)
		oom = !(v[i] = vv_strdup(ts->v[i]->name));
	pthread_rwlock_unlock(&ts->lock);
	if (oom) {
		varve_strings_free(v, n);
		return vv_error_set(VARVE_ENOMEM, 0, "listing topics");
	}
	*names_out = v;
	*count_out = n;
	return 0;
}

void varve_strings_free(char **strings, size_t count)
{
	if (!strings)
		return;
	for (size_t i = 0; i < count; i++)
		vv_free(strings[i]);
	vv_free(strings);
}

int varve_topic_describe(varve_db *db, const char *name, varve_topic_config *cfg_out)
{
	if (!db || !cfg_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_abi_check(&vv_abi_topic_config, cfg_out->version));
	vv_topic *t;
	VV_TRY(vv_topics_find(db->topics, name, &t));
	vv_topic_cfg tc;
	vv_topic_cfg_get(t, &tc);
	/* retain_for_groups must stay valid while the topic lives: point at the
	 * topic's text, which changes only by an alter */
	tc.cfg.retain_for_groups = tc.groups[0] ? t->retain_buf : NULL;
	vv_topic_unref(t);
	return vv_topic_config_copy_out(cfg_out, &tc.cfg);
}

int varve_partition_info_get(varve_db *db, const char *topic, int32_t partition,
			     varve_partition_info *info_out)
{
	if (!db || !info_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_abi_check(&vv_abi_partition_info, info_out->version));
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_topics_partition(db->topics, topic, partition, &t, &p));
	if (db->env.read_only)
		(void)vv_partition_refresh(p); /* the last known state is still an answer */
	varve_partition_info info = { .version = VARVE_PARTITION_INFO_VERSION };
	info.start_offset = atomic_load(&p->start_offset);
	info.end_offset = atomic_load(&p->end_offset);
	info.durable_offset = atomic_load(&p->durable_offset);
	info.size_bytes = vv_partition_size(p, &info.segments);
	info.failed = atomic_load(&p->failed);
	vv_topic_unref(t);
	return vv_abi_write(&vv_abi_partition_info, info_out, &info);
}

int varve_offsets(varve_db *db, const char *topic, int32_t partition, int64_t *start_out,
		  int64_t *end_out)
{
	if (start_out)
		*start_out = 0;
	if (end_out)
		*end_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_topics_partition(db->topics, topic, partition, &t, &p));
	if (db->env.read_only)
		(void)vv_partition_refresh(p); /* the last known offsets are still an answer */
	if (start_out)
		*start_out = atomic_load(&p->start_offset);
	if (end_out)
		*end_out = atomic_load(&p->end_offset);
	vv_topic_unref(t);
	return 0;
}

/* ---- changing a topic -------------------------------------------------------- */


int varve_topic_alter(varve_db *db, const char *name, const varve_topic_config *cfg)
{
	VV_TRY(writable(db));
	if (!cfg)
		return vv_error_set(VARVE_EINVAL, 0, "NULL configuration");
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	VV_TRY(vv_abi_read(&vv_abi_topic_config, cfg, &c));
	VV_TRY(vv_topic_config_validate(&c));
	vv_topics *ts = db->topics;
	vv_topic *t;
	VV_TRY(vv_topics_find(ts, name, &t));
	pthread_mutex_lock(&ts->admin_mu);
	vv_topic_cfg now;
	vv_topic_cfg_get(t, &now);
	/* fields newer than the caller's version keep the topic's values */
	c = now.cfg;
	int rc = vv_abi_read(&vv_abi_topic_config, cfg, &c);
	if (rc)
		goto out;
	if (c.partitions != now.cfg.partitions) {
		rc = vv_error_set(VARVE_EINVAL, 0,
				  "topic %s has %u partitions: use varve_topic_add_partitions to add "
				  "some (they cannot be removed)", name, now.cfg.partitions);
		goto out;
	}
	if (c.dedup_window_ms != now.cfg.dedup_window_ms) {
		rc = vv_error_set(VARVE_EINVAL, 0,
				  "the message-id window of topic %s is fixed at creation", name);
		goto out;
	}
	if ((rc = vv_topic_config_validate(&c)) != 0)
		goto out;
	rc = write_record(ts, name, &c, t->created_ms);
out:
	pthread_mutex_unlock(&ts->admin_mu);
	vv_topic_unref(t);
	return rc;
}

/* varve_topic_add_partitions under admin_mu. */
static int add_partitions_locked(vv_topics *ts, vv_topic *t, const char *name,
				 uint32_t partitions)
{
	vv_topic_cfg now;
	vv_topic_cfg_get(t, &now);
	uint32_t have = t->nparts;
	if (partitions <= have || partitions > VARVE_MAX_PARTITIONS)
		return vv_error_set(VARVE_EINVAL, 0,
				    "topic %s has %u partitions: a new count must be more, at most %d",
				    name, have, VARVE_MAX_PARTITIONS);
	vv_partition **np = vv_calloc(partitions - have, sizeof *np);
	if (!np)
		return vv_error_set(VARVE_ENOMEM, 0, "partitions");
	/* The partitions' directories first, then the record: the partitions
	 * exist once it is durable. */
	vv_part_config pc;
	vv_topic_part_config(&ts->pcfg, &now.cfg, &pc);
	uint32_t opened = 0;
	int rc = 0;
	for (uint32_t i = have; i < partitions; i++, opened++) {
		char pdir[4400];
		snprintf(pdir, sizeof pdir, "%s/%u", t->dir, i);
		if ((rc = vv_partition_open(pdir, name, i, &pc, 0, &np[i - have])) != 0)
			goto out;
	}
	ts->staged_parts = np;
	ts->nstaged_parts = partitions - have;
	now.cfg.partitions = partitions;
	rc = write_record(ts, name, &now.cfg, t->created_ms);
	if (rc == 0 && ts->nstaged_parts) /* written, yet not applied */
		rc = vv_error_set(VARVE_ERROR, 0, "partitions of %s were not added", name);
out:
	if (rc) {
		/* not added (a grown topic took them, and then rc is 0): close
		 * them; their directories stay, empty, and a later add opens them */
		for (uint32_t i = 0; i < opened; i++)
			vv_partition_close(np[i], 1);
	}
	ts->staged_parts = NULL;
	ts->nstaged_parts = 0;
	vv_free(np);
	return rc;
}

int varve_topic_add_partitions(varve_db *db, const char *name, uint32_t partitions)
{
	VV_TRY(writable(db));
	vv_topics *ts = db->topics;
	vv_topic *t;
	VV_TRY(vv_topics_find(ts, name, &t));
	pthread_mutex_lock(&ts->admin_mu);
	int rc = add_partitions_locked(ts, t, name, partitions);
	pthread_mutex_unlock(&ts->admin_mu);
	vv_topic_unref(t);
	return rc;
}

int varve_delete_records(varve_db *db, const char *topic, int32_t partition, int64_t offset,
			 int64_t *start_out)
{
	if (start_out)
		*start_out = -1;
	VV_TRY(writable(db));
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_topics_partition(db->topics, topic, partition, &t, &p));
	uint64_t freed = 0;
	int rc;
	if (offset < 0) {
		rc = vv_error_set(VARVE_EOFFSET, 0, "negative offset %" PRId64, offset);
		goto out;
	}
	if ((rc = vv_partition_advance_start(p, offset, &freed)) != 0)
		goto out;
	if (start_out)
		*start_out = atomic_load(&p->start_offset);
out:
	vv_topic_unref(t);
	return rc;
}
