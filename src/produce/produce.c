/* SPDX-License-Identifier: MIT */
/*
 * produce.c -- varve_produce and varve_produce_batch: pick partitions,
 * apply a topic's message-id window, append one batch per partition. May
 * call: topic, log, base.
 */
#include <inttypes.h>

#include "produce.h"
#include "util.h"

static int begin_produce(varve_db *db, const char *topic, vv_topic **t)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	return vv_topics_find(db->topics, topic, t);
}

int varve_produce(varve_db *db, const char *topic, const varve_record *rec,
		  int32_t *partition_out, int64_t *offset_out)
{
	if (partition_out)
		*partition_out = -1;
	if (offset_out)
		*offset_out = -1;
	if (!rec)
		return vv_error_set(VARVE_EINVAL, 0, "NULL record");
	vv_topic *t;
	VV_TRY(begin_produce(db, topic, &t));
	uint32_t part = 0;
	int rc = vv_topic_check_record(t, rec);
	if (rc == 0)
		rc = vv_topic_pick_partition(t, rec, VARVE_PARTITION_ANY, 1, &part);
	int64_t base = -1;
	size_t idl = 0;
	const void *id = t->dedup ? vv_dedup_id(rec, &idl) : NULL;
	if (id) {
		pthread_mutex_lock(&t->dedup->mu);
		vv_dedup_entry *e = rc ? NULL : vv_dedup_find(t->dedup, id, idl, vv_env_now(&db->env));
		if (e && e->offset >= 0) {
			/* seen within the window: report the earlier copy */
			part = (uint32_t)e->partition;
			base = e->offset;
			pthread_mutex_unlock(&t->dedup->mu);
			goto done;
		}
	}
	if (rc == 0) {
		const varve_record *one[1] = { rec };
		rc = vv_partition_append(t->parts[part], one, 1, NULL, &base);
	}
	if (id) {
		if (rc == 0)
			rc = vv_dedup_put(t->dedup, id, idl, (int32_t)part, base, vv_env_now(&db->env));
		pthread_mutex_unlock(&t->dedup->mu);
	}
done:
	if (rc == 0) {
		if (partition_out)
			*partition_out = (int32_t)part;
		if (offset_out)
			*offset_out = base;
	}
	vv_topic_unref(t);
	return rc;
}

int varve_produce_batch(varve_db *db, const char *topic, varve_record *recs, size_t n,
			const varve_produce_options *opts)
{
	if (!recs && n)
		return vv_error_set(VARVE_EINVAL, 0, "NULL records");
	if (n == 0)
		return 0;
	int32_t forced = VARVE_PARTITION_ANY;
	vv_append_opts ao = { -1, -1, 0, -1, 0, 0, 0, 0 };
	if (opts) {
		if (opts->version != VARVE_PRODUCE_OPTIONS_VERSION)
			return vv_error_set(VARVE_EINVAL, 0, "varve_produce_options.version is %u",
					    opts->version);
		forced = opts->partition;
		ao.expected_end = opts->expected_end_offset;
	}
	vv_topic *t;
	VV_TRY(begin_produce(db, topic, &t));
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = vv_topic_check_record(t, &recs[i]);
	const varve_record **ptrs = vv_malloc(n * sizeof *ptrs);
	uint32_t *parts = vv_malloc(n * sizeof *parts);
	size_t *idx = vv_malloc(n * sizeof *idx);
	if (!ptrs || !parts || !idx)
		rc = vv_error_set(VARVE_ENOMEM, 0, "produce batch of %zu", n);
	uint32_t one_part = 0;
	int single = 1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = vv_topic_pick_partition(t, &recs[i], forced, i == 0, &parts[i]);
		if (i == 0)
			one_part = parts[0];
		else if (parts[i] != one_part)
			single = 0;
	}
	if (rc == 0 && ao.expected_end >= 0 && !single)
		rc = vv_error_set(VARVE_EINVAL, 0,
				  "expected_end_offset needs every record in one partition");
	/* Message-id window: drop records seen before, mark ids of this batch. */
	int64_t now = t->dedup ? vv_env_now(&db->env) : 0;
	if (t->dedup)
		pthread_mutex_lock(&t->dedup->mu);
	for (size_t i = 0; rc == 0 && t->dedup && i < n; i++) {
		size_t il;
		const void *id = vv_dedup_id(&recs[i], &il);
		recs[i].flags = 0;
		if (!id)
			continue;
		vv_dedup_entry *e = vv_dedup_find(t->dedup, id, il, now);
		if (e && e->offset >= 0) {
			recs[i].partition = e->partition;
			recs[i].offset = e->offset;
			recs[i].flags = VARVE_RECORD_DUPLICATE;
			parts[i] = UINT32_MAX;
		} else if (e) { /* an earlier record of this same batch: resolved below */
			recs[i].flags = VARVE_RECORD_DUPLICATE;
			parts[i] = UINT32_MAX;
		} else {
			rc = vv_dedup_put(t->dedup, id, il, -1, -1 - (int64_t)i, now);
		}
	}
	/* One batch per partition, in the order partitions first appear. */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (parts[i] == UINT32_MAX)
			continue; /* already written with an earlier partition's batch */
		uint32_t p = parts[i];
		size_t cnt = 0;
		for (size_t j = i; j < n; j++)
			if (parts[j] == p) {
				ptrs[cnt] = &recs[j];
				idx[cnt++] = j;
			}
		int64_t base;
		rc = vv_partition_append(t->parts[p], ptrs, cnt, &ao, &base);
		for (size_t k = 0; rc == 0 && k < cnt; k++) {
			recs[idx[k]].partition = (int32_t)p;
			recs[idx[k]].offset = base + (int64_t)k;
			parts[idx[k]] = UINT32_MAX;
		}
	}
	if (t->dedup) {
		/* Resolve this batch's ids: real offsets, or forget them on failure. */
		for (size_t i = 0; i < n; i++) {
			size_t il;
			const void *id = vv_dedup_id(&recs[i], &il);
			if (!id)
				continue;
			if (recs[i].flags & VARVE_RECORD_DUPLICATE) {
				/* the copy it repeats comes earlier, so it is resolved by now */
				vv_dedup_entry *e = vv_dedup_find(t->dedup, id, il, now);
				if (e && e->offset >= 0) {
					recs[i].partition = e->partition;
					recs[i].offset = e->offset;
				}
				continue;
			}
			vv_dedup_entry *e = vv_dedup_find(t->dedup, id, il, now);
			if (e && e->offset < 0) {
				if (rc == 0) {
					e->partition = recs[i].partition;
					e->offset = recs[i].offset;
				} else {
					e->time = INT64_MIN / 2; /* aged out at once */
				}
			}
		}
		pthread_mutex_unlock(&t->dedup->mu);
	}
	vv_free(ptrs);
	vv_free(parts);
	vv_free(idx);
	vv_topic_unref(t);
	return rc;
}

/* ---- one batch to one partition -------------------------------------------- */

int vv_append_check(varve_db *db, const char *topic, int32_t partition, const varve_record *recs,
		    size_t n, const varve_append_options *opts, vv_topic **t_out,
		    vv_append_opts *ao)
{
	*t_out = NULL;
	if (!recs || n == 0)
		return vv_error_set(VARVE_EINVAL, 0, "append needs records");
	if (n > INT32_MAX)
		return vv_error_set(VARVE_ETOOBIG, 0, "too many records in one batch");
	varve_append_options o = VARVE_APPEND_OPTIONS_INIT;
	if (opts) {
		if (opts->version < 1 || opts->version > VARVE_APPEND_OPTIONS_VERSION)
			return vv_error_set(VARVE_EINVAL, 0, "varve_append_options.version is %u",
					    opts->version);
		o = *opts;
	}
	if (o.producer_id < -1 || (o.producer_id >= 0 && o.base_sequence < 0))
		return vv_error_set(VARVE_EINVAL, 0,
				    "a producer id needs a base sequence >= 0 (and ids are >= 0)");
	VV_TRY(begin_produce(db, topic, t_out));
	vv_topic *t = *t_out;
	int rc = vv_check_partition(partition);
	if (rc == 0 && (uint32_t)partition >= t->nparts)
		rc = vv_error_set(VARVE_ENOTFOUND, 0, "topic %s has no partition %d", t->name,
				  partition);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = vv_topic_check_record(t, &recs[i]);
	size_t idl;
	for (size_t i = 0; rc == 0 && t->dedup && i < n; i++)
		if (vv_dedup_id(&recs[i], &idl))
			rc = vv_error_set(VARVE_ENOTSUP, 0,
					  "topic %s has a message-id window: use varve_produce for records "
					  "with a " VARVE_MSG_ID_HEADER " header", t->name);
	if (rc) {
		vv_topic_unref(t);
		*t_out = NULL;
		return rc;
	}
	*ao = (vv_append_opts){ o.expected_end_offset >= 0 ? o.expected_end_offset : -1,
				o.producer_id, o.producer_epoch, o.base_sequence, 0, 0, 0, 0, 0 };
	return 0;
}

void vv_append_result_fill(varve_append_result *res, int32_t partition, int64_t base,
			   const vv_append_opts *ao)
{
	res->partition = partition;
	res->base_offset = base;
	res->last_offset = ao->last_offset;
	res->append_time = ao->append_time;
	res->flags = ao->duplicate ? VARVE_RECORD_DUPLICATE : 0;
}

/* Pointers to the records, as the partition takes them. */
const varve_record **vv_append_ptrs(const varve_record *recs, size_t n)
{
	const varve_record **v = vv_malloc(n * sizeof *v);
	if (!v) {
		vv_error_set(VARVE_ENOMEM, 0, "append of %zu records", n);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = &recs[i];
	return v;
}

int varve_append(varve_db *db, const char *topic, int32_t partition, const varve_record *recs,
		 size_t n, const varve_append_options *opts, varve_append_result *res)
{
	if (res)
		memset(res, 0, sizeof *res);
	vv_topic *t;
	vv_append_opts ao;
	VV_TRY(vv_append_check(db, topic, partition, recs, n, opts, &t, &ao));
	const varve_record **ptrs = vv_append_ptrs(recs, n);
	int64_t base = -1;
	int rc = ptrs ? vv_partition_append(t->parts[partition], ptrs, n, &ao, &base) : VARVE_ENOMEM;
	if (rc == 0 && res)
		vv_append_result_fill(res, partition, base, &ao);
	vv_free(ptrs);
	vv_topic_unref(t);
	return rc;
}
