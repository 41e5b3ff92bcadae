/* SPDX-License-Identifier: MIT */
/*
 * produce.c -- varve_produce and varve_produce_batch: pick partitions,
 * apply a topic's message-id window, append one batch per partition. May
 * call: topic, log, base.
 */
#include <inttypes.h>

#include "db.h"
#include "registry.h"
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
