/* SPDX-License-Identifier: MIT */
/* iter.c -- the public iterator and time lookups. May call: topic, log,
 * base. */
#include "db.h"
#include "reader.h"
#include "registry.h"
#include "util.h"

struct varve_iter {
	/* first: the iterator's address is the reader's, one register less
	 * on varve_iter_next's per-record path */
	vv_reader r;
	varve_db *db;
	vv_topic *topic;
	varve_batch_info info;
};

int varve_iter_open(varve_db *db, const char *topic, int32_t partition, int64_t offset,
		    varve_iter **iter_out)
{
	if (!iter_out)
		return vv_error_set(VARVE_EINVAL, 0, "iter_out is NULL");
	*iter_out = NULL;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_topics_partition(db->topics, topic, partition, &t, &p));
	varve_iter *it = vv_calloc(1, sizeof *it);
	if (!it) {
		vv_topic_unref(t);
		return vv_error_set(VARVE_ENOMEM, 0, "iterator");
	}
	int rc = vv_reader_init(&it->r, p, offset);
	if (rc) {
		vv_reader_free(&it->r);
		vv_free(it);
		vv_topic_unref(t);
		return rc;
	}
	it->db = db;
	it->topic = t;
	atomic_fetch_add(&db->open_handles, 1);
	*iter_out = it;
	return 0;
}

int varve_iter_next(varve_iter *it, const varve_record **rec_out)
{
	if (!rec_out)
		return vv_error_set(VARVE_EINVAL, 0, "rec_out is NULL");
	if (!it) {
		*rec_out = NULL;
		return vv_error_set(VARVE_EINVAL, 0, "iterator is NULL");
	}
	/* sets *rec_out, to NULL when there is no record */
	return vv_reader_next_inline(&it->r, rec_out);
}

int varve_iter_next_batch(varve_iter *it, const varve_batch_info **info_out,
			  const varve_record **recs_out, size_t *count_out)
{
	if (!info_out || !recs_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*info_out = NULL;
	*recs_out = NULL;
	*count_out = 0;
	if (!it)
		return vv_error_set(VARVE_EINVAL, 0, "iterator is NULL");
	const vv_batch_header *h;
	VV_TRY(vv_reader_next_batch(&it->r, &h, recs_out, count_out));
	/* the library's struct, at the current version: a caller reads the
	 * fields its own version has */
	it->info = (varve_batch_info){ .version = VARVE_BATCH_INFO_VERSION,
				       .base_offset = h->base_offset,
				       .last_offset = vv_batch_last_offset(h),
				       .first_timestamp = h->first_timestamp,
				       .max_timestamp = h->max_timestamp,
				       .append_time = h->append_time,
				       .producer_id = h->producer_id,
				       .producer_epoch = h->producer_epoch,
				       .base_sequence = h->base_sequence,
				       .record_count = h->record_count,
				       .stored_bytes = h->length };
	*info_out = &it->info;
	return 0;
}

int varve_iter_skip_damaged(varve_iter *it, int64_t *from_out, int64_t *to_out)
{
	int64_t from = -1, to = -1;
	int rc = it ? vv_reader_skip_damaged(&it->r, &from, &to)
		    : vv_error_set(VARVE_EINVAL, 0, "iterator is NULL");
	if (from_out)
		*from_out = from;
	if (to_out)
		*to_out = to;
	return rc;
}

int varve_iter_seek(varve_iter *it, int64_t offset)
{
	if (!it)
		return vv_error_set(VARVE_EINVAL, 0, "iterator is NULL");
	return vv_reader_seek(&it->r, offset);
}

int64_t varve_iter_position(const varve_iter *it) { return it ? it->r.next : -1; }

void varve_iter_close(varve_iter *it)
{
	if (!it)
		return;
	vv_reader_free(&it->r);
	atomic_fetch_sub(&it->db->open_handles, 1);
	vv_topic_unref(it->topic);
	vv_free(it);
}

int varve_offset_for_time(varve_db *db, const char *topic, int32_t partition, int64_t ts,
			  int64_t *offset_out)
{
	if (!offset_out)
		return vv_error_set(VARVE_EINVAL, 0, "offset_out is NULL");
	*offset_out = -1;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_topics_partition(db->topics, topic, partition, &t, &p));
	if (db->env.read_only)
		(void)vv_partition_refresh(p);
	int rc = vv_partition_offset_for_time(p, ts, offset_out);
	vv_topic_unref(t);
	return rc;
}
