/* SPDX-License-Identifier: MIT */
/*
 * offsets.c -- committed offsets: the commit path (the data made durable up
 * to each committed offset before the commit is written), clamping commits
 * past a log that recovery shortened, group administration, lag and lag
 * limits, and the retention floor of protected groups (for the cleaner).
 * May call: consume (groups), meta, topic, log, base.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "abi.h"
#include "consumer.h"
#include "offsets.h"
#include "report.h"
#include "util.h"

/* ---- commits -------------------------------------------------------------------------- */

int vv_offsets_commit(varve_db *db, const char *group, const char *const *topics,
		      const uint32_t *parts, const int64_t *offsets, const char *const *metadata,
		      size_t n)
{
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "cannot commit on a read-only store");
	if (n == 0)
		return 0;
	/* Validate, and make the data durable up to every committed offset. */
	for (size_t i = 0; i < n; i++) {
		vv_topic *t;
		vv_partition *p;
		VV_TRY(vv_topics_partition(db->topics, topics[i], (int32_t)parts[i], &t, &p));
		int64_t end = atomic_load(&p->end_offset);
		if (offsets[i] > end) {
			/* a reader may see a batch a moment before the appender
			 * publishes the end offset: let that append finish */
			pthread_mutex_lock(&p->lock);
			pthread_mutex_unlock(&p->lock);
			end = atomic_load(&p->end_offset);
		}
		int rc = 0;
		if (offsets[i] < 0 || offsets[i] > end)
			rc = vv_error_set(VARVE_EOFFSET,
					  0, "commit of offset %" PRId64 " for %s/%u outside [0, %" PRId64 "]",
					  offsets[i], topics[i], parts[i], end);
		else if (offsets[i] > atomic_load(&p->durable_offset))
			rc = vv_partition_sync(p);
		vv_topic_unref(t);
		if (rc)
			return rc;
	}
	vv_meta_rec *r = vv_calloc(1, sizeof *r);
	if (!r)
		return vv_error_set(VARVE_ENOMEM, 0, "commit");
	int64_t now = vv_env_now(&db->env);
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	pthread_mutex_lock(&db->groups->mu);
	int new_group = vv_groups_find(db->groups, group, 0) == NULL;
	pthread_mutex_unlock(&db->groups->mu);
	int rc = 0;
	if (new_group) {
		r->kind = VV_META_GROUP;
		snprintf(r->group, sizeof r->group, "%s", group);
		r->time = now;
		if ((rc = vv_meta_batch_add(&b, r)) != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		memset(r, 0, sizeof *r);
		r->kind = VV_META_COMMIT;
		snprintf(r->group, sizeof r->group, "%s", group);
		snprintf(r->name, sizeof r->name, "%s", topics[i]);
		r->partition = parts[i];
		r->offset = offsets[i];
		r->time = now;
		const char *md = metadata ? metadata[i] : NULL;
		r->text_len = md ? strlen(md) : 0;
		if (r->text_len > VV_MAX_COMMIT_METADATA)
			r->text_len = VV_MAX_COMMIT_METADATA;
		memcpy(r->text, md ? md : "", r->text_len);
		r->text[r->text_len] = 0;
		if ((rc = vv_meta_batch_add(&b, r)) != 0)
			goto out;
	}
	/* applying the records updates the group table */
	rc = vv_meta_write(db->meta, &b, db->env.opts.sync_policy == VARVE_SYNC_ALWAYS);
out:
	vv_meta_batch_free(&b);
	vv_free(r);
	return rc;
}

int vv_offsets_clamp(varve_db *db)
{
	vv_groups *g = db->groups;
	pthread_mutex_lock(&g->mu);
	size_t cap = 0, n = 0;
	struct clamp {
		char group[VARVE_MAX_GROUP_NAME + 1], topic[VARVE_MAX_TOPIC_NAME + 1];
		uint32_t part;
		int64_t from, to;
	} *v = NULL;
	for (size_t gi = 0; gi < g->n; gi++) {
		vv_group *grp = g->v[gi];
		for (size_t i = 0; i < grp->n; i++) {
			vv_commit *cm = &grp->commits[i];
			vv_topic *t;
			vv_partition *p;
			if (vv_topics_partition(db->topics, cm->topic, (int32_t)cm->partition, &t, &p)) {
				vv_error_clear();
				continue;
			}
			int64_t end = atomic_load(&p->end_offset);
			vv_topic_unref(t);
			if (cm->offset <= end)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				void *nv = vv_realloc(v, nc * sizeof *v);
				if (!nv)
					continue;
				v = nv;
				cap = nc;
			}
			snprintf(v[n].group, sizeof v[n].group, "%s", grp->name);
			snprintf(v[n].topic, sizeof v[n].topic, "%s", cm->topic);
			v[n].part = cm->partition;
			v[n].from = cm->offset;
			v[n].to = end;
			cm->offset = end;
			n++;
		}
	}
	pthread_mutex_unlock(&g->mu);
	for (size_t i = 0; i < n; i++) {
		varve_recovery_cut cut;
		memset(&cut, 0, sizeof cut);
		snprintf(cut.topic, sizeof cut.topic, "%s", v[i].topic);
		cut.partition = (int32_t)v[i].part;
		cut.segment_base = -1;
		cut.first_offset_lost = v[i].to;
		cut.last_offset_lost = v[i].from - 1;
		snprintf(cut.reason, sizeof cut.reason, "group %.40s commit %" PRId64 " clamped to end %" PRId64,
			 v[i].group, v[i].from, v[i].to);
		vv_report_add(db->report, &cut);
		vv_env_log(&db->env, VARVE_LOG_WARN,
			     "group %s: committed offset %" PRId64 " of %s/%u is past the end %" PRId64
			     " after recovery; clamped",
			     v[i].group, v[i].from, v[i].topic, v[i].part, v[i].to);
	}
	/* a writer makes the clamps durable; the first failure stops the open */
	int rc = 0;
	for (size_t i = 0; !db->env.read_only && i < n; i++) {
		const char *tp = v[i].topic;
		if ((rc = vv_offsets_commit(db, v[i].group, &tp, &v[i].part, &v[i].to, NULL, 1)) != 0)
			break;
	}
	vv_free(v);
	return rc;
}

/* ---- group administration ------------------------------------------------------------------ */

int varve_group_offset(varve_db *db, const char *group, const char *topic, int32_t partition,
		       int64_t *offset_out)
{
	if (!offset_out)
		return vv_error_set(VARVE_EINVAL, 0, "offset_out is NULL");
	*offset_out = -1;
	if (!db || !group || !topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_check_partition(partition));
	pthread_mutex_lock(&db->groups->mu);
	vv_group *grp = vv_groups_find(db->groups, group, 0);
	vv_commit *cm = grp ? vv_group_commit_find(grp, topic, (uint32_t)partition) : NULL;
	if (cm)
		*offset_out = cm->offset;
	pthread_mutex_unlock(&db->groups->mu);
	if (!cm)
		return vv_error_set(VARVE_ENOTFOUND, 0, "group %s has no commit for %s/%d", group,
				    topic, partition);
	return 0;
}

int varve_group_commit(varve_db *db, const char *group, const char *topic, int32_t partition,
		       int64_t offset, const char *metadata)
{
	if (!db || !topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (!vv_group_name_ok(group))
		return vv_error_set(VARVE_EINVAL, 0, "invalid group name: 1..%d bytes, no NUL",
				    VARVE_MAX_GROUP_NAME);
	if (metadata && strlen(metadata) > VV_MAX_COMMIT_METADATA)
		return vv_error_set(VARVE_EINVAL, 0, "commit metadata longer than %d bytes",
				    VV_MAX_COMMIT_METADATA);
	VV_TRY(vv_check_partition(partition));
	uint32_t part = (uint32_t)partition;
	return vv_offsets_commit(db, group, &topic, &part, &offset, &metadata, 1);
}

int varve_group_list(varve_db *db, char ***names_out, size_t *count_out)
{
	if (!names_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*names_out = NULL;
	*count_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	pthread_mutex_lock(&db->groups->mu);
	size_t n = db->groups->n;
	char **v = vv_calloc(n ? n : 1, sizeof *v);
	int oom = !v;
	for (size_t i = 0; !oom && i < n; i++)
		oom = !(v[i] = vv_strdup(db->groups->v[i]->name));
	pthread_mutex_unlock(&db->groups->mu);
	if (oom) {
		varve_strings_free(v, n);
		return vv_error_set(VARVE_ENOMEM, 0, "listing groups");
	}
	*names_out = v;
	*count_out = n;
	return 0;
}

/* The tombstones of a group and its commits, into b (groups lock held). */
static int group_tombstones(vv_groups *g, const char *group, vv_meta_rec *r, vv_meta_batch *b)
{
	vv_group *grp = vv_groups_find(g, group, 0);
	if (!grp)
		return vv_error_set(VARVE_ENOTFOUND, 0, "no group named %s", group);
	if (grp->nmembers)
		return vv_error_set(VARVE_EBUSY, 0, "group %s has %zu open consumers", group,
				    grp->nmembers);
	for (size_t i = 0; i < grp->n; i++) {
		memset(r, 0, sizeof *r);
		r->kind = VV_META_COMMIT;
		r->deleted = 1;
		snprintf(r->group, sizeof r->group, "%s", group);
		snprintf(r->name, sizeof r->name, "%s", grp->commits[i].topic);
		r->partition = grp->commits[i].partition;
		VV_TRY(vv_meta_batch_add(b, r));
	}
	memset(r, 0, sizeof *r);
	r->kind = VV_META_GROUP;
	r->deleted = 1;
	snprintf(r->group, sizeof r->group, "%s", group);
	return vv_meta_batch_add(b, r);
}

int varve_group_delete(varve_db *db, const char *group)
{
	if (!db || !group)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	vv_meta_rec *r = vv_calloc(1, sizeof *r);
	if (!r)
		return vv_error_set(VARVE_ENOMEM, 0, "group delete");
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	pthread_mutex_lock(&db->groups->mu);
	int rc = group_tombstones(db->groups, group, r, &b);
	pthread_mutex_unlock(&db->groups->mu);
	if (rc)
		goto out;
	/* Every tombstone in one batch: the group goes whole or not at all;
	 * applying them empties the table. */
	rc = vv_meta_write(db->meta, &b, 1);
out:
	vv_meta_batch_free(&b);
	vv_free(r);
	return rc;
}

/* Log bytes from offset `from` to the end of partition p. */
static int bytes_from(vv_partition *p, int64_t from, uint64_t *bytes)
{
	vv_segment *s;
	VV_TRY(vv_partition_segment_for(p, from, &s));
	uint64_t pos;
	int rc = vv_segment_find(s, from, &pos);
	if (rc) {
		/* unknown: a sum of the later segments alone would understate it
		 * and look like a real figure */
		vv_segment_unref(s);
		return rc;
	}
	*bytes = atomic_load(&s->size) - pos;
	vv_segment *nx = vv_partition_next_segment(p, s);
	vv_segment_unref(s);
	while (nx) {
		*bytes += atomic_load(&nx->size);
		vv_segment *nn = vv_partition_next_segment(p, nx);
		vv_segment_unref(nx);
		nx = nn;
	}
	return 0;
}

/* Age in ms of the record at offset `from` (0 if it cannot be read). */
static int oldest_age(varve_db *db, vv_partition *p, int64_t from, int64_t *age_out)
{
	vv_reader r;
	int rc = vv_reader_init(&r, p, from);
	if (rc == 0) {
		const varve_record *rec;
		if (vv_reader_next(&r, &rec) == 0) {
			int64_t age = vv_env_now(&db->env) - rec->timestamp;
			*age_out = age > 0 ? age : 0;
		}
		vv_error_clear(); /* an unreadable first record has no age */
	}
	vv_reader_free(&r);
	return rc;
}

int varve_group_lag(varve_db *db, const char *group, const char *topic, int32_t partition,
		    varve_lag *lag_out)
{
	if (!db || !lag_out || !group)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_abi_check(&vv_abi_lag, lag_out->version));
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_topics_partition(db->topics, topic, partition, &t, &p));
	if (db->env.read_only)
		(void)vv_partition_refresh(p); /* the last known state is still an answer */
	int64_t committed = -1;
	if (varve_group_offset(db, group, topic, partition, &committed))
		vv_error_clear();
	int64_t start = atomic_load(&p->start_offset), end = atomic_load(&p->end_offset);
	int64_t from = committed < start ? start : committed;
	if (from > end)
		from = end;
	varve_lag lag = { .version = VARVE_LAG_VERSION };
	lag.committed = committed;
	lag.end_offset = end;
	lag.records = end - from;
	int rc = 0;
	if (from < end) {
		if ((rc = bytes_from(p, from, &lag.bytes)) != 0)
			goto out;
		rc = oldest_age(db, p, from, &lag.oldest_age_ms);
	}
out:
	/* what is known is written on a failure too */
	(void)vv_abi_write(&vv_abi_lag, lag_out, &lag); /* its version was checked above */
	vv_topic_unref(t);
	return rc;
}

/* ---- lag limits --------------------------------------------------------------------------- */

int varve_group_set_lag_limit(varve_db *db, const char *group, int64_t max_lag_records,
			      varve_lag_fn fn, void *ctx)
{
	if (!db || !vv_group_name_ok(group))
		return vv_error_set(VARVE_EINVAL, 0, "bad store or group name");
	if (max_lag_records >= 0 && !fn)
		return vv_error_set(VARVE_EINVAL, 0, "a lag limit needs a callback");
	pthread_mutex_lock(&db->groups->mu);
	vv_group *grp = vv_groups_find(db->groups, group, 1);
	if (grp) {
		grp->lag_limit = max_lag_records < 0 ? -1 : max_lag_records;
		grp->lag_fn = fn;
		grp->lag_ctx = ctx;
		for (size_t i = 0; i < grp->n; i++)
			grp->commits[i].lag_alerted = 0;
	}
	pthread_mutex_unlock(&db->groups->mu);
	return grp ? 0 : vv_error_set(VARVE_ENOMEM, 0, "group table");
}

typedef struct lag_alert {
	varve_lag_fn fn;
	void *ctx;
	char group[VARVE_MAX_GROUP_NAME + 1], topic[VARVE_MAX_TOPIC_NAME + 1];
	uint32_t partition;
	int64_t lag;
} lag_alert;

void vv_offsets_check_lag(varve_db *db)
{
	lag_alert *v = NULL;
	size_t n = 0, cap = 0;
	pthread_mutex_lock(&db->groups->mu);
	for (size_t g = 0; g < db->groups->n; g++) {
		vv_group *grp = db->groups->v[g];
		if (grp->lag_limit < 0)
			continue;
		for (size_t i = 0; i < grp->n; i++) {
			vv_commit *cm = &grp->commits[i];
			vv_topic *t;
			vv_partition *p;
			if (vv_topics_partition(db->topics, cm->topic, (int32_t)cm->partition, &t, &p)) {
				vv_error_clear();
				continue;
			}
			int64_t lag = atomic_load(&p->end_offset) - cm->offset;
			vv_topic_unref(t);
			if (lag <= grp->lag_limit) {
				cm->lag_alerted = 0;
				continue;
			}
			if (cm->lag_alerted)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				lag_alert *nv = vv_realloc(v, nc * sizeof *nv);
				if (!nv)
					continue;
				v = nv;
				cap = nc;
			}
			cm->lag_alerted = 1;
			lag_alert *a = &v[n++];
			a->fn = grp->lag_fn;
			a->ctx = grp->lag_ctx;
			snprintf(a->group, sizeof a->group, "%s", grp->name);
			snprintf(a->topic, sizeof a->topic, "%s", cm->topic);
			a->partition = cm->partition;
			a->lag = lag;
		}
	}
	pthread_mutex_unlock(&db->groups->mu);
	for (size_t i = 0; i < n; i++) {
		atomic_fetch_add(&db->groups->lag_alerts, 1);
		v[i].fn(v[i].ctx, v[i].group, v[i].topic, (int32_t)v[i].partition, v[i].lag);
	}
	vv_free(v);
}

int64_t vv_offsets_retention_floor(void *ctx, vv_topic *t, uint32_t part)
{
	varve_db *db = ctx;
	vv_topic_cfg tc;
	vv_topic_cfg_get(t, &tc);
	const char *list = tc.cfg.retain_for_groups;
	if (!list || !*list)
		return INT64_MAX;
	int64_t floor = INT64_MAX;
	const char *p = list;
	char name[VARVE_MAX_GROUP_NAME + 1];
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		if (l > VARVE_MAX_GROUP_NAME)
			l = VARVE_MAX_GROUP_NAME;
		memcpy(name, p, l);
		name[l] = 0;
		int64_t off = 0; /* no commit yet: nothing consumed */
		if (varve_group_offset(db, name, t->name, (int32_t)part, &off)) {
			off = 0;
			vv_error_clear();
		}
		if (off < floor)
			floor = off;
		p += l + (comma ? 1 : 0);
	}
	return floor;
}

/* ---- commits with their details ----------------------------------------------- */

/* A commit as varve_commit_info (the current version; topic not set). */
static void fill_info(varve_commit_info *info, const vv_commit *cm)
{
	info->version = VARVE_COMMIT_INFO_VERSION;
	info->partition = (int32_t)cm->partition;
	info->offset = cm->offset;
	info->time = cm->time;
	snprintf(info->metadata, sizeof info->metadata, "%s", cm->metadata ? cm->metadata : "");
}

int varve_group_committed(varve_db *db, const char *group, const char *topic, int32_t partition,
			  varve_commit_info *info_out)
{
	if (!db || !group || !topic || !info_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_abi_check(&vv_abi_commit_info, info_out->version));
	VV_TRY(vv_check_partition(partition));
	varve_commit_info *info = vv_calloc(1, sizeof *info); /* 4 KiB of metadata: not on the stack */
	if (!info)
		return vv_error_set(VARVE_ENOMEM, 0, "commit info");
	pthread_mutex_lock(&db->groups->mu);
	vv_group *grp = vv_groups_find(db->groups, group, 0);
	vv_commit *cm = grp ? vv_group_commit_find(grp, topic, (uint32_t)partition) : NULL;
	if (cm)
		fill_info(info, cm);
	pthread_mutex_unlock(&db->groups->mu);
	int rc = cm ? vv_abi_write(&vv_abi_commit_info, info_out, info)
		    : vv_error_set(VARVE_ENOTFOUND, 0, "group has no commit for %s/%d", topic,
				   partition);
	vv_free(info);
	return rc;
}

static int cmp_info(const void *a, const void *b)
{
	const varve_commit_info *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Copies of a group's commits (groups lock held). */
static int copy_commits(vv_group *grp, varve_commit_info *v, size_t *n)
{
	for (size_t i = 0; i < grp->n; i++) {
		fill_info(&v[i], &grp->commits[i]);
		*n = i + 1;
		if (!(v[i].topic = vv_strdup(grp->commits[i].topic)))
			return vv_error_set(VARVE_ENOMEM, 0, "group commits");
	}
	return 0;
}

int varve_group_commits(varve_db *db, const char *group, varve_commit_info **out, size_t *count)
{
	if (!out || !count)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*out = NULL;
	*count = 0;
	if (!db || !group)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	int rc = 0;
	varve_commit_info *v = NULL;
	size_t n = 0;
	pthread_mutex_lock(&db->groups->mu);
	vv_group *grp = vv_groups_find(db->groups, group, 0);
	if (!grp)
		rc = vv_error_set(VARVE_ENOTFOUND, 0, "no group named %s", group);
	else if (grp->n && !(v = vv_calloc(grp->n, sizeof *v)))
		rc = vv_error_set(VARVE_ENOMEM, 0, "group commits");
	else if (grp->n)
		rc = copy_commits(grp, v, &n);
	pthread_mutex_unlock(&db->groups->mu);
	if (rc) {
		varve_commits_free(v, n);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof *v, cmp_info);
	*out = v;
	*count = n;
	return 0;
}

void varve_commits_free(varve_commit_info *v, size_t count)
{
	if (!v)
		return;
	for (size_t i = 0; i < count; i++)
		vv_free((void *)v[i].topic);
	vv_free(v);
}

int varve_group_commit_many(varve_db *db, const char *group, const varve_commit_item *items,
			    size_t n)
{
	if (!db || (!items && n))
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (!vv_group_name_ok(group))
		return vv_error_set(VARVE_EINVAL, 0, "invalid group name: 1..%d bytes, no NUL",
				    VARVE_MAX_GROUP_NAME);
	if (n == 0)
		return 0;
	const char **topics = vv_calloc(n, sizeof *topics);
	const char **mds = vv_calloc(n, sizeof *mds);
	uint32_t *parts = vv_calloc(n, sizeof *parts);
	int64_t *offs = vv_calloc(n, sizeof *offs);
	int rc = 0;
	if (!topics || !mds || !parts || !offs) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "commit");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!items[i].topic) {
			rc = vv_error_set(VARVE_EINVAL, 0, "commit item %zu has no topic", i);
			goto out;
		}
		if (items[i].metadata && strlen(items[i].metadata) > VV_MAX_COMMIT_METADATA) {
			rc = vv_error_set(VARVE_EINVAL, 0, "commit metadata longer than %d bytes",
					  VV_MAX_COMMIT_METADATA);
			goto out;
		}
		if ((rc = vv_check_partition(items[i].partition)) != 0)
			goto out;
		topics[i] = items[i].topic;
		parts[i] = (uint32_t)items[i].partition;
		offs[i] = items[i].offset;
		mds[i] = items[i].metadata;
	}
	rc = vv_offsets_commit(db, group, topics, parts, offs, mds, n);
out:
	vv_free(topics);
	vv_free(mds);
	vv_free(parts);
	vv_free(offs);
	return rc;
}

uint64_t vv_offsets_lag_alerts(varve_db *db)
{
	return atomic_load(&db->groups->lag_alerts);
}
