/* SPDX-License-Identifier: MIT */
/*
 * produce.c -- varve_produce and varve_produce_batch: pick partitions,
 * apply a topic's message-id window, append one batch per partition. May
 * call: topic, log, base.
 */
#include <inttypes.h>

#include "abi.h"
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

/* One record of a topic with a message-id window, under the window's
 * lock: a record seen within the window is not appended again, and its
 * earlier copy is reported in *part and *base. */
static int append_unique(varve_db *db, vv_topic *t, const varve_record *rec, const void *id,
			 size_t idl, uint32_t *part, int64_t *base)
{
	pthread_mutex_lock(&t->dedup->mu);
	vv_dedup_entry *e = vv_dedup_find(t->dedup, id, idl, vv_env_now(&db->env));
	int rc = 0;
	if (e && e->offset >= 0) {
		*part = (uint32_t)e->partition;
		*base = e->offset;
		goto out;
	}
	const varve_record *one[1] = { rec };
	if ((rc = vv_partition_append(t->parts[*part], one, 1, NULL, base)) != 0)
		goto out;
	rc = vv_dedup_put(t->dedup, id, idl, (int32_t)*part, *base, vv_env_now(&db->env));
out:
	pthread_mutex_unlock(&t->dedup->mu);
	return rc;
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
	int64_t base = -1;
	int rc = vv_topic_check_record(t, rec);
	if (rc)
		goto out;
	if ((rc = vv_topic_pick_partition(t, rec, VARVE_PARTITION_ANY, 1, &part)) != 0)
		goto out;
	size_t idl = 0;
	const void *id = t->dedup ? vv_dedup_id(rec, &idl) : NULL;
	if (id) {
		rc = append_unique(db, t, rec, id, idl, &part, &base);
	} else {
		const varve_record *one[1] = { rec };
		rc = vv_partition_append(t->parts[part], one, 1, NULL, &base);
	}
	if (rc)
		goto out;
	if (partition_out)
		*partition_out = (int32_t)part;
	if (offset_out)
		*offset_out = base;
out:
	vv_topic_unref(t);
	return rc;
}

int varve_produce_options_init(varve_produce_options *o, unsigned int version)
{
	if (!o)
		return vv_error_set(VARVE_EINVAL, 0, "varve_produce_options_init: opts is NULL");
	const varve_produce_options d = VARVE_PRODUCE_OPTIONS_INIT;
	return vv_abi_init(&vv_abi_produce_options, o, version, &d);
}

/* How varve_produce_batch splits its records: parts[i] is record i's
 * partition (UINT32_MAX once written, or for a duplicate); ptrs and idx
 * hold one partition's batch at a time. */
typedef struct batch_plan {
	const varve_record **ptrs;
	uint32_t *parts;
	size_t *idx;
} batch_plan;

static void plan_free(batch_plan *pl)
{
	vv_free(pl->ptrs);
	vv_free(pl->parts);
	vv_free(pl->idx);
}

/* Check every record and pick its partition. one_partition: every record
 * must go to the same partition (an expected end offset). */
static int plan_batch(vv_topic *t, const varve_record *recs, size_t n, int32_t forced,
		      int one_partition, batch_plan *pl)
{
	for (size_t i = 0; i < n; i++)
		VV_TRY(vv_topic_check_record(t, &recs[i]));
	pl->ptrs = vv_malloc(n * sizeof *pl->ptrs);
	pl->parts = vv_malloc(n * sizeof *pl->parts);
	pl->idx = vv_malloc(n * sizeof *pl->idx);
	if (!pl->ptrs || !pl->parts || !pl->idx)
		return vv_error_set(VARVE_ENOMEM, 0, "produce batch of %zu", n);
	int single = 1;
	for (size_t i = 0; i < n; i++) {
		VV_TRY(vv_topic_pick_partition(t, &recs[i], forced, i == 0, &pl->parts[i]));
		single &= pl->parts[i] == pl->parts[0];
	}
	if (one_partition && !single)
		return vv_error_set(VARVE_EINVAL, 0,
				    "expected_end_offset needs every record in one partition");
	return 0;
}

/* Message-id window (its lock held): records seen before are marked
 * duplicates and not written; the ids of this batch are entered, with
 * offsets to be resolved (resolve_ids). */
static int mark_ids(vv_topic *t, varve_record *recs, size_t n, int64_t now, batch_plan *pl)
{
	for (size_t i = 0; t->dedup && i < n; i++) {
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
			pl->parts[i] = UINT32_MAX;
		} else if (e) { /* an earlier record of this same batch: resolved below */
			recs[i].flags = VARVE_RECORD_DUPLICATE;
			pl->parts[i] = UINT32_MAX;
		} else {
			VV_TRY(vv_dedup_put(t->dedup, id, il, -1, -1 - (int64_t)i, now));
		}
	}
	return 0;
}

/* One batch per partition, in the order partitions first appear. */
static int append_batches(vv_topic *t, varve_record *recs, size_t n, batch_plan *pl,
			  vv_append_opts *ao)
{
	for (size_t i = 0; i < n; i++) {
		if (pl->parts[i] == UINT32_MAX)
			continue; /* already written with an earlier partition's batch */
		uint32_t p = pl->parts[i];
		size_t cnt = 0;
		for (size_t j = i; j < n; j++)
			if (pl->parts[j] == p) {
				pl->ptrs[cnt] = &recs[j];
				pl->idx[cnt++] = j;
			}
		int64_t base;
		VV_TRY(vv_partition_append(t->parts[p], pl->ptrs, cnt, ao, &base));
		for (size_t k = 0; k < cnt; k++) {
			recs[pl->idx[k]].partition = (int32_t)p;
			recs[pl->idx[k]].offset = base + (int64_t)k;
			pl->parts[pl->idx[k]] = UINT32_MAX;
		}
	}
	return 0;
}

static int mark_and_append(vv_topic *t, varve_record *recs, size_t n, int64_t now,
			   batch_plan *pl, vv_append_opts *ao)
{
	VV_TRY(mark_ids(t, recs, n, now, pl));
	return append_batches(t, recs, n, pl, ao);
}

/* Resolve this batch's ids (the window's lock held): real offsets once
 * written, or forgotten when the batch failed. */
static void resolve_ids(vv_topic *t, varve_record *recs, size_t n, int64_t now, int written)
{
	for (size_t i = 0; i < n; i++) {
		size_t il;
		const void *id = vv_dedup_id(&recs[i], &il);
		if (!id)
			continue;
		vv_dedup_entry *e = vv_dedup_find(t->dedup, id, il, now);
		if (recs[i].flags & VARVE_RECORD_DUPLICATE) {
			/* the copy it repeats comes earlier, so it is resolved by now */
			if (e && e->offset >= 0) {
				recs[i].partition = e->partition;
				recs[i].offset = e->offset;
			}
			continue;
		}
		if (!e || e->offset >= 0)
			continue;
		if (written) {
			e->partition = recs[i].partition;
			e->offset = recs[i].offset;
		} else {
			e->time = INT64_MIN / 2; /* aged out at once */
		}
	}
}

int varve_produce_batch(varve_db *db, const char *topic, varve_record *recs, size_t n,
			const varve_produce_options *opts)
{
	if (!recs && n)
		return vv_error_set(VARVE_EINVAL, 0, "NULL records");
	if (n == 0)
		return 0;
	varve_produce_options o = VARVE_PRODUCE_OPTIONS_INIT;
	VV_TRY(vv_abi_read(&vv_abi_produce_options, opts, &o));
	vv_append_opts ao = { -1, -1, 0, -1, 0, 0, 0, 0 };
	ao.expected_end = o.expected_end_offset;
	vv_topic *t;
	VV_TRY(begin_produce(db, topic, &t));
	batch_plan pl = { NULL, NULL, NULL };
	int rc = plan_batch(t, recs, n, o.partition, ao.expected_end >= 0, &pl);
	if (rc)
		goto out;
	int64_t now = t->dedup ? vv_env_now(&db->env) : 0;
	if (t->dedup)
		pthread_mutex_lock(&t->dedup->mu);
	rc = mark_and_append(t, recs, n, now, &pl, &ao);
	if (t->dedup) {
		resolve_ids(t, recs, n, now, rc == 0);
		pthread_mutex_unlock(&t->dedup->mu);
	}
out:
	plan_free(&pl);
	vv_topic_unref(t);
	return rc;
}

/* ---- one batch to one partition -------------------------------------------- */

int varve_append_options_init(varve_append_options *o, unsigned int version)
{
	if (!o)
		return vv_error_set(VARVE_EINVAL, 0, "varve_append_options_init: opts is NULL");
	const varve_append_options d = VARVE_APPEND_OPTIONS_INIT;
	return vv_abi_init(&vv_abi_append_options, o, version, &d);
}

/* The partition and the records of an append to topic t. */
static int check_append(const vv_topic *t, int32_t partition, const varve_record *recs, size_t n)
{
	VV_TRY(vv_check_partition(partition));
	if ((uint32_t)partition >= t->nparts)
		return vv_error_set(VARVE_ENOTFOUND, 0, "topic %s has no partition %d", t->name,
				    partition);
	for (size_t i = 0; i < n; i++)
		VV_TRY(vv_topic_check_record(t, &recs[i]));
	size_t idl;
	for (size_t i = 0; t->dedup && i < n; i++)
		if (vv_dedup_id(&recs[i], &idl))
			return vv_error_set(VARVE_ENOTSUP, 0,
					    "topic %s has a message-id window: use varve_produce for "
					    "records with a " VARVE_MSG_ID_HEADER " header", t->name);
	return 0;
}

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
	VV_TRY(vv_abi_read(&vv_abi_append_options, opts, &o));
	if (o.producer_id < -1 || (o.producer_id >= 0 && o.base_sequence < 0))
		return vv_error_set(VARVE_EINVAL, 0,
				    "a producer id needs a base sequence >= 0 (and ids are >= 0)");
	vv_topic *t;
	VV_TRY(begin_produce(db, topic, &t));
	int rc = check_append(t, partition, recs, n);
	if (rc) {
		vv_topic_unref(t);
		return rc;
	}
	*ao = (vv_append_opts){ o.expected_end_offset >= 0 ? o.expected_end_offset : -1,
				o.producer_id, o.producer_epoch, o.base_sequence, 0, 0, 0, 0, 0 };
	*t_out = t;
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
	int64_t base = -1;
	int rc;
	const varve_record **ptrs = vv_append_ptrs(recs, n);
	if (!ptrs) {
		rc = VARVE_ENOMEM; /* the detail is set */
		goto out;
	}
	if ((rc = vv_partition_append(t->parts[partition], ptrs, n, &ao, &base)) != 0)
		goto out;
	if (res)
		vv_append_result_fill(res, partition, base, &ao);
out:
	vv_free(ptrs);
	vv_topic_unref(t);
	return rc;
}
