/* SPDX-License-Identifier: MIT */
/*
 * kmsg_data.c -- the walkers (kio.h) of the data-path APIs: Produce,
 * Fetch, ListOffsets, DeleteRecords and InitProducerId. Each follows its
 * Kafka JSON schema field by field; version tests are written as the
 * schema states them even where kproto's range makes them always true, so
 * widening a range needs no edit here. Records stay opaque slices.
 */
#include "kio.h"

/* ---- Produce ------------------------------------------------------------ */

static void walk_produce_partition(vs_io *io, vs_produce_partition *p)
{
	vs_io_i32(io, &p->index);
	vs_io_records(io, &p->records);
	vs_io_tags(io);
}

static void walk_produce_topic(vs_io *io, vs_produce_topic *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partition_data, 4 + VS_MIN_VAR, false, walk_produce_partition);
	vs_io_tags(io);
}

void vs_walk_produce_request(vs_io *io, vs_produce_request *m)
{
	if (io->version >= 3)
		vs_io_nstr(io, &m->transactional_id);
	vs_io_i16(io, &m->acks);
	vs_io_i32(io, &m->timeout_ms);
	VS_IO_ARRAY(io, m->topic_data, 2 * VS_MIN_VAR, false, walk_produce_topic);
	vs_io_tags(io);
}

static void walk_produce_partition_response(vs_io *io, vs_produce_partition_response *p)
{
	vs_io_i32(io, &p->index);
	vs_io_i16(io, &p->error_code);
	vs_io_i64(io, &p->base_offset);
	if (io->version >= 2)
		vs_io_i64(io, &p->log_append_time_ms);
	else
		VS_IO_DEFAULT(io, p->log_append_time_ms, -1);
	if (io->version >= 5)
		vs_io_i64(io, &p->log_start_offset);
	else
		VS_IO_DEFAULT(io, p->log_start_offset, -1);
	vs_io_tags(io);
}

static void walk_produce_topic_response(vs_io *io, vs_produce_topic_response *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partition_responses, 4 + 2 + 8, false, walk_produce_partition_response);
	vs_io_tags(io);
}

void vs_walk_produce_response(vs_io *io, vs_produce_response *m)
{
	VS_IO_ARRAY(io, m->responses, 2 * VS_MIN_VAR, false, walk_produce_topic_response);
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	vs_io_tags(io);
}

/* ---- Fetch -------------------------------------------------------------- */

static void walk_fetch_partition(vs_io *io, vs_fetch_partition *p)
{
	vs_io_i32(io, &p->partition);
	if (io->version >= 9)
		vs_io_i32(io, &p->current_leader_epoch);
	else
		VS_IO_DEFAULT(io, p->current_leader_epoch, -1);
	vs_io_i64(io, &p->fetch_offset);
	if (io->version >= 5)
		vs_io_i64(io, &p->log_start_offset);
	else
		VS_IO_DEFAULT(io, p->log_start_offset, -1);
	vs_io_i32(io, &p->partition_max_bytes);
	vs_io_tags(io);
}

static void walk_fetch_topic(vs_io *io, vs_fetch_topic *t)
{
	vs_io_str(io, &t->topic);
	VS_IO_ARRAY(io, t->partitions, 4 + 8 + 4, false, walk_fetch_partition);
	vs_io_tags(io);
}

static void walk_fetch_forgotten_topic(vs_io *io, vs_fetch_forgotten_topic *t)
{
	vs_io_str(io, &t->topic);
	VS_IO_ARRAY(io, t->partitions, 4, false, vs_io_i32);
	vs_io_tags(io);
}

void vs_walk_fetch_request(vs_io *io, vs_fetch_request *m)
{
	int16_t v = io->version;
	vs_io_i32(io, &m->replica_id);
	vs_io_i32(io, &m->max_wait_ms);
	vs_io_i32(io, &m->min_bytes);
	if (v >= 3)
		vs_io_i32(io, &m->max_bytes);
	else
		VS_IO_DEFAULT(io, m->max_bytes, INT32_MAX);
	if (v >= 4)
		vs_io_i8(io, &m->isolation_level);
	if (v >= 7) {
		vs_io_i32(io, &m->session_id);
		vs_io_i32(io, &m->session_epoch);
	} else {
		VS_IO_DEFAULT(io, m->session_epoch, -1);
	}
	VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_fetch_topic);
	if (v >= 7)
		VS_IO_ARRAY(io, m->forgotten_topics_data, 2 * VS_MIN_VAR, false,
			    walk_fetch_forgotten_topic);
	if (v >= 11)
		vs_io_str(io, &m->rack_id);
	else
		VS_IO_DEFAULT(io, m->rack_id, VS_IO_EMPTY);
	vs_io_tags(io);
}

static void walk_fetch_aborted(vs_io *io, vs_fetch_aborted_transaction *a)
{
	vs_io_i64(io, &a->producer_id);
	vs_io_i64(io, &a->first_offset);
	vs_io_tags(io);
}

static void walk_fetch_partition_data(vs_io *io, vs_fetch_partition_data *p)
{
	int16_t v = io->version;
	vs_io_i32(io, &p->partition_index);
	vs_io_i16(io, &p->error_code);
	vs_io_i64(io, &p->high_watermark);
	if (v >= 4)
		vs_io_i64(io, &p->last_stable_offset);
	else
		VS_IO_DEFAULT(io, p->last_stable_offset, -1);
	if (v >= 5)
		vs_io_i64(io, &p->log_start_offset);
	else
		VS_IO_DEFAULT(io, p->log_start_offset, -1);
	if (v >= 4)
		VS_IO_ARRAY(io, p->aborted_transactions, 8 + 8, true, walk_fetch_aborted);
	if (v >= 11)
		vs_io_i32(io, &p->preferred_read_replica);
	else
		VS_IO_DEFAULT(io, p->preferred_read_replica, -1);
	vs_io_records_out(io, &p->records);
	vs_io_tags(io);
}

static void walk_fetch_topic_response(vs_io *io, vs_fetch_topic_response *t)
{
	vs_io_str(io, &t->topic);
	VS_IO_ARRAY(io, t->partitions, 4 + 2 + 8 + VS_MIN_VAR, false, walk_fetch_partition_data);
	vs_io_tags(io);
}

void vs_walk_fetch_response(vs_io *io, vs_fetch_response *m)
{
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	if (io->version >= 7) {
		vs_io_i16(io, &m->error_code);
		vs_io_i32(io, &m->session_id);
	}
	VS_IO_ARRAY(io, m->responses, 2 * VS_MIN_VAR, false, walk_fetch_topic_response);
	vs_io_tags(io);
}

/* ---- ListOffsets -------------------------------------------------------- */

static void walk_list_offsets_partition(vs_io *io, vs_list_offsets_partition *p)
{
	vs_io_i32(io, &p->partition_index);
	vs_io_i64(io, &p->timestamp);
	if (io->version == 0)
		vs_io_i32(io, &p->max_num_offsets);
	else
		VS_IO_DEFAULT(io, p->max_num_offsets, 1);
	vs_io_tags(io);
}

static void walk_list_offsets_topic(vs_io *io, vs_list_offsets_topic *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partitions, 4 + 8, false, walk_list_offsets_partition);
	vs_io_tags(io);
}

void vs_walk_list_offsets_request(vs_io *io, vs_list_offsets_request *m)
{
	vs_io_i32(io, &m->replica_id);
	if (io->version >= 2)
		vs_io_i8(io, &m->isolation_level);
	VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_list_offsets_topic);
	vs_io_tags(io);
}

static void walk_list_offsets_partition_response(vs_io *io, vs_list_offsets_partition_response *p)
{
	vs_io_i32(io, &p->partition_index);
	vs_io_i16(io, &p->error_code);
	if (io->version == 0)
		VS_IO_ARRAY(io, p->old_style_offsets, 8, false, vs_io_i64);
	if (io->version >= 1) {
		vs_io_i64(io, &p->timestamp);
		vs_io_i64(io, &p->offset);
	} else {
		VS_IO_DEFAULT(io, p->timestamp, -1);
		VS_IO_DEFAULT(io, p->offset, -1);
	}
	vs_io_tags(io);
}

static void walk_list_offsets_topic_response(vs_io *io, vs_list_offsets_topic_response *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partitions, 4 + 2, false, walk_list_offsets_partition_response);
	vs_io_tags(io);
}

void vs_walk_list_offsets_response(vs_io *io, vs_list_offsets_response *m)
{
	if (io->version >= 2)
		vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_list_offsets_topic_response);
	vs_io_tags(io);
}

/* ---- DeleteRecords ------------------------------------------------------ */

static void walk_delete_records_partition(vs_io *io, vs_delete_records_partition *p)
{
	vs_io_i32(io, &p->partition_index);
	vs_io_i64(io, &p->offset);
	vs_io_tags(io);
}

static void walk_delete_records_topic(vs_io *io, vs_delete_records_topic *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partitions, 4 + 8, false, walk_delete_records_partition);
	vs_io_tags(io);
}

void vs_walk_delete_records_request(vs_io *io, vs_delete_records_request *m)
{
	VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_delete_records_topic);
	vs_io_i32(io, &m->timeout_ms);
	vs_io_tags(io);
}

static void walk_delete_records_partition_result(vs_io *io, vs_delete_records_partition_result *p)
{
	vs_io_i32(io, &p->partition_index);
	vs_io_i64(io, &p->low_watermark);
	vs_io_i16(io, &p->error_code);
	vs_io_tags(io);
}

static void walk_delete_records_topic_result(vs_io *io, vs_delete_records_topic_result *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partitions, 4 + 8 + 2, false, walk_delete_records_partition_result);
	vs_io_tags(io);
}

void vs_walk_delete_records_response(vs_io *io, vs_delete_records_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_delete_records_topic_result);
	vs_io_tags(io);
}

/* ---- InitProducerId ----------------------------------------------------- */

void vs_walk_init_producer_id_request(vs_io *io, vs_init_producer_id_request *m)
{
	vs_io_nstr(io, &m->transactional_id);
	vs_io_i32(io, &m->transaction_timeout_ms);
	if (io->version >= 3) {
		vs_io_i64(io, &m->producer_id);
		vs_io_i16(io, &m->producer_epoch);
	} else {
		VS_IO_DEFAULT(io, m->producer_id, -1);
		VS_IO_DEFAULT(io, m->producer_epoch, -1);
	}
	vs_io_tags(io);
}

void vs_walk_init_producer_id_response(vs_io *io, vs_init_producer_id_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	vs_io_i64(io, &m->producer_id);
	vs_io_i16(io, &m->producer_epoch);
	vs_io_tags(io);
}
