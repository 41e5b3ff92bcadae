/* SPDX-License-Identifier: MIT */
/* topic.c -- a topic: opening its partitions, the partitioner, record
 * checks, lifetime (see topic.h). */
#include <inttypes.h>
#include <stdio.h>
#include <xxhash.h>

#include "abi.h"
#include "io.h"
#include "reader.h"
#include "topic.h"
#include "util.h"

int vv_topic_group_listed(const char *list, const char *group)
{
	if (!list)
		return 0;
	size_t gl = strlen(group);
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		if (l == gl && !memcmp(p, group, l))
			return 1;
		p += l + (comma ? 1 : 0);
	}
	return 0;
}

int vv_topic_config_copy_out(varve_topic_config *dst, const varve_topic_config *src)
{
	return vv_abi_write(&vv_abi_topic_config, dst, src);
}

uint32_t vv_topic_partition_for_key(const void *key, size_t len, uint32_t nparts)
{
	return (uint32_t)(XXH3_64bits(key, len) % nparts);
}

uint32_t vv_topic_partition_for_null(vv_topic *t, int batch_start)
{
	if (atomic_load_explicit(&t->round_robin, memory_order_relaxed))
		return atomic_fetch_add(&t->rr_next, 1) % t->nparts;
	if (batch_start)
		return atomic_fetch_add(&t->sticky, 1) % t->nparts;
	return (atomic_load(&t->sticky) + t->nparts - 1) % t->nparts;
}

void vv_topic_ref(vv_topic *t) { atomic_fetch_add(&t->refs, 1); }

void vv_topic_unref(vv_topic *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (uint32_t i = 0; i < t->nparts; i++)
		vv_partition_close(t->parts[i], !atomic_load(&t->deleted));
	if (atomic_load(&t->deleted) && t->dir) {
		vv_error_saved e; /* cleanup must not hide the failure that led here */
		vv_error_save(&e);
		(void)vv_io_remove_tree(t->io, t->dir);
		vv_error_restore(&e);
	}
	if (t->dedup) {
		vv_dedup_free(t->dedup);
		vv_free(t->dedup);
	}
	vv_free(t->parts);
	for (size_t i = 0; i < t->nretired; i++)
		vv_free(t->retired[i]);
	vv_free(t->retired);
	pthread_rwlock_destroy(&t->cfg_lock);
	vv_free(t->name);
	vv_free(t->dir);
	vv_free(t);
}

int vv_topic_check_record(const vv_topic *t, const varve_record *r)
{
	if (!r)
		return vv_error_set(VARVE_EINVAL, 0, "NULL record");
	if (!r->key && atomic_load_explicit(&t->compacted, memory_order_relaxed))
		return vv_error_set(VARVE_EINVAL, 0,
				    "topic %s is compacted: every record needs a key", t->name);
	if ((r->key_len && !r->key) || (r->value_len && !r->value))
		return vv_error_set(VARVE_EINVAL, 0, "record has a length but no bytes");
	if (r->header_count && !r->headers)
		return vv_error_set(VARVE_EINVAL, 0, "record has header_count but no headers");
	for (size_t i = 0; i < r->header_count; i++)
		if ((r->headers[i].key_len && !r->headers[i].key) ||
		    (r->headers[i].value_len && !r->headers[i].value))
			return vv_error_set(VARVE_EINVAL, 0, "header %zu has a length but no bytes", i);
	if (r->timestamp < 0)
		return vv_error_set(VARVE_EINVAL, 0, "negative timestamp");
	return 0;
}

int vv_topic_pick_partition(vv_topic *t, const varve_record *r, int32_t forced, int first,
			    uint32_t *out)
{
	int32_t want = forced >= 0 ? forced : r->partition;
	if (want >= 0) {
		if ((uint32_t)want >= t->nparts)
			return vv_error_set(VARVE_ENOTFOUND, 0, "topic %s has no partition %d",
					    t->name, want);
		*out = (uint32_t)want;
	} else if (want != VARVE_PARTITION_ANY) {
		return vv_error_set(VARVE_EINVAL, 0, "invalid partition %d", want);
	} else if (r->key) {
		*out = vv_topic_partition_for_key(r->key, r->key_len, t->nparts);
	} else {
		*out = vv_topic_partition_for_null(t, first);
	}
	return 0;
}

/* ---- opening ---------------------------------------------------------------- */

/* The window of one partition, from its last dedup_window_ms. Damage stops
 * the rebuild where it is (reads that reach it report it); the store opens. */
static int dedup_partition(const vv_env *env, vv_topic *t, uint32_t i, int64_t now)
{
	vv_partition *p = t->parts[i];
	int64_t from;
	int r = vv_partition_offset_for_time(p, now - t->cfg.dedup_window_ms - 3600 * 1000, &from);
	if (r == VARVE_ENOTFOUND) {
		vv_error_clear();
		return 0;
	}
	if (r == 0) {
		vv_reader rd;
		r = vv_reader_init(&rd, p, from);
		const varve_record *rec;
		while (r == 0 && (r = vv_reader_next(&rd, &rec)) == 0) {
			size_t il;
			const void *id = vv_dedup_id(rec, &il);
			int64_t at = rd.last_header->append_time;
			if (!id || now - at >= t->cfg.dedup_window_ms)
				continue;
			int rc = vv_dedup_put(t->dedup, id, il, (int32_t)i, rec->offset, at);
			if (rc) {
				vv_reader_free(&rd);
				return rc;
			}
		}
		vv_reader_free(&rd);
	}
	/* r: how the read ended (VARVE_EEND: at the end of the log) */
	if (r == VARVE_ECORRUPT) {
		vv_env_log(env, VARVE_LOG_ERROR, "%s/%u: message-id window rebuilt up to damage only: %s",
			   t->name, i, varve_last_error()->message);
		vv_error_clear();
		return 0;
	}
	return r == VARVE_EEND ? 0 : r;
}

/* Rebuild the message-id window from the last dedup_window_ms of the log. */
static int load_dedup(const vv_env *env, vv_topic *t)
{
	t->dedup = vv_calloc(1, sizeof *t->dedup);
	if (!t->dedup)
		return vv_error_set(VARVE_ENOMEM, 0, "dedup window");
	vv_dedup_init(t->dedup, t->cfg.dedup_window_ms);
	int64_t now = vv_env_now(env);
	for (uint32_t i = 0; i < t->nparts; i++)
		VV_TRY(dedup_partition(env, t, i, now));
	return 0;
}

void vv_topic_part_config(const vv_part_config *base, const varve_topic_config *tc,
			  vv_part_config *pc)
{
	*pc = *base;
	if (tc->segment_bytes > 0)
		pc->segment_bytes = (uint64_t)tc->segment_bytes;
	pc->seg.map_span = pc->segment_bytes + pc->max_write_batch;
	pc->seg.segment_bytes = pc->segment_bytes;
	if (tc->segment_ms > 0)
		pc->segment_ms = tc->segment_ms;
	pc->codec = tc->codec;
	pc->compacted = tc->cleanup_policy == VARVE_CLEANUP_COMPACT ||
			tc->cleanup_policy == VARVE_CLEANUP_COMPACT_DELETE;
}

/* The topic's directory: made (and its parent synced) by a writer; one that
 * is there must be a directory, never a symlink planted there. */
static int topic_dir(const vv_env *env, const char *dir)
{
	if (env->read_only)
		return 0;
	int rc = vv_io_mkdir(env->opts.io, dir, env->opts.dir_mode);
	if (rc == 0)
		return vv_io_sync_dir(env->opts.io, env->topics_dir);
	if (rc != VARVE_EEXISTS)
		return rc;
	int is_dir = 0; /* lstat: a symlink is never followed */
	VV_TRY(vv_io_stat(env->opts.io, dir, NULL, &is_dir));
	if (is_dir != 1)
		return vv_error_set(VARVE_ECORRUPT, 0,
				    "%s is not a directory (a symlink?): refusing to use it", dir);
	return 0;
}

int vv_topic_open(const vv_env *env, const vv_part_config *pcfg, const char *name,
		  const varve_topic_config *cfg, int64_t created_ms, int clean, vv_topic **out)
{
	*out = NULL;
	vv_topic *t = vv_calloc(1, sizeof *t);
	if (!t)
		return vv_error_set(VARVE_ENOMEM, 0, "topic");
	atomic_init(&t->refs, 1);
	pthread_rwlock_init(&t->cfg_lock, NULL);
	t->io = env->opts.io;
	t->name = vv_strdup(name);
	vv_topic_cfg_set(t, cfg, NULL);
	int oom = !t->name;
	t->created_ms = created_ms;
	t->parts_cap = cfg->partitions;
	t->parts = vv_calloc(cfg->partitions, sizeof(vv_partition *));
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/%s", env->topics_dir, name);
	t->dir = vv_strdup(dir);
	if (oom || !t->parts || !t->dir) {
		vv_topic_unref(t);
		return vv_error_set(VARVE_ENOMEM, 0, "topic");
	}
	int rc = topic_dir(env, dir);
	if (rc)
		goto fail;
	vv_part_config pc;
	vv_topic_part_config(pcfg, cfg, &pc);
	for (uint32_t i = 0; i < cfg->partitions; i++) {
		char pdir[4200];
		snprintf(pdir, sizeof pdir, "%s/%u", dir, i);
		if ((rc = vv_partition_open(pdir, name, i, &pc, clean, &t->parts[i])) != 0)
			goto fail;
		t->nparts = i + 1;
	}
	if (cfg->dedup_window_ms > 0 && (rc = load_dedup(env, t)) != 0)
		goto fail;
	*out = t;
	return 0;
fail:
	vv_topic_unref(t);
	return rc;
}

/* ---- a configuration that may change ------------------------------------------- */

void vv_topic_cfg_get(vv_topic *t, vv_topic_cfg *out)
{
	pthread_rwlock_rdlock(&t->cfg_lock);
	out->cfg = t->cfg;
	memcpy(out->groups, t->retain_buf, sizeof out->groups);
	pthread_rwlock_unlock(&t->cfg_lock);
	out->cfg.retain_for_groups = out->groups[0] ? out->groups : NULL;
}

void vv_topic_cfg_set(vv_topic *t, const varve_topic_config *cfg, const vv_part_config *base)
{
	pthread_rwlock_wrlock(&t->cfg_lock);
	uint32_t parts = t->cfg.partitions;
	int64_t window = t->cfg.dedup_window_ms;
	int first = t->cfg.version == 0;
	t->cfg = *cfg;
	snprintf(t->retain_buf, sizeof t->retain_buf, "%s",
		 cfg->retain_for_groups ? cfg->retain_for_groups : "");
	t->cfg.retain_for_groups = t->retain_buf[0] ? t->retain_buf : NULL;
	if (!first) { /* fixed after open: partitions grow through vv_topic_grow */
		t->cfg.partitions = parts;
		t->cfg.dedup_window_ms = window;
	}
	atomic_store(&t->compacted, (cfg->cleanup_policy & VARVE_CLEANUP_COMPACT) != 0);
	atomic_store(&t->round_robin, cfg->partitioner == VARVE_PARTITIONER_ROUND_ROBIN);
	pthread_rwlock_unlock(&t->cfg_lock);
	if (first || !base)
		return;
	vv_part_config pc;
	vv_topic_part_config(base, cfg, &pc);
	uint32_t n = atomic_load(&t->nparts);
	for (uint32_t i = 0; i < n; i++)
		vv_partition_set_roll(t->parts[i], pc.segment_bytes, pc.segment_ms, pc.codec);
}

int vv_topic_grow(vv_topic *t, vv_partition *const *parts, uint32_t n)
{
	uint32_t have = atomic_load(&t->nparts);
	if (have + n > t->parts_cap) {
		uint32_t cap = t->parts_cap * 2 > have + n ? t->parts_cap * 2 : have + n;
		vv_partition **nv = vv_calloc(cap, sizeof *nv);
		vv_partition ***nr = vv_realloc(t->retired, (t->nretired + 1) * sizeof *nr);
		if (!nv || !nr) {
			vv_free(nv);
			if (nr)
				t->retired = nr;
			return vv_error_set(VARVE_ENOMEM, 0, "partitions of %s", t->name);
		}
		t->retired = nr;
		vv_partition **old = atomic_load(&t->parts);
		memcpy(nv, old, have * sizeof *nv);
		t->retired[t->nretired++] = old; /* a reader may still index it */
		atomic_store(&t->parts, nv);
		t->parts_cap = cap;
	}
	vv_partition **v = atomic_load(&t->parts);
	for (uint32_t i = 0; i < n; i++)
		v[have + i] = parts[i];
	atomic_store(&t->nparts, have + n); /* published after the entries */
	pthread_rwlock_wrlock(&t->cfg_lock);
	t->cfg.partitions = have + n;
	pthread_rwlock_unlock(&t->cfg_lock);
	return 0;
}
