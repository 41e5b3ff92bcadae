/* SPDX-License-Identifier: MIT */
/*
 * kmsg_group.c -- the walkers (kio.h) of the consumer-group APIs:
 * FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch, ListGroups, DescribeGroups and DeleteGroups.
 * As in kmsg_data.c, version tests follow the JSON schemas literally.
 * Member metadata and assignments are opaque bytes here (the consumer
 * protocol inside them is the coordinator's business).
 */
#include "kio.h"

/* ---- FindCoordinator ---------------------------------------------------- */

void vs_walk_find_coordinator_request(vs_io *io, vs_find_coordinator_request *m)
{
	if (io->version <= 3)
		vs_io_str(io, &m->key);
	if (io->version >= 1)
		vs_io_i8(io, &m->key_type);
	vs_io_tags(io);
}

void vs_walk_find_coordinator_response(vs_io *io, vs_find_coordinator_response *m)
{
	int16_t v = io->version;
	if (v >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	if (v <= 3) {
		vs_io_i16(io, &m->error_code);
		if (v >= 1)
			vs_io_nstr(io, &m->error_message);
		vs_io_i32(io, &m->node_id);
		vs_io_str(io, &m->host);
		vs_io_i32(io, &m->port);
	}
	vs_io_tags(io);
}

/* ---- JoinGroup ---------------------------------------------------------- */

static void walk_join_group_protocol(vs_io *io, vs_join_group_protocol *p)
{
	vs_io_str(io, &p->name);
	vs_io_bytes(io, &p->metadata);
	vs_io_tags(io);
}

void vs_walk_join_group_request(vs_io *io, vs_join_group_request *m)
{
	vs_io_str(io, &m->group_id);
	vs_io_i32(io, &m->session_timeout_ms);
	if (io->version >= 1)
		vs_io_i32(io, &m->rebalance_timeout_ms);
	else
		VS_IO_DEFAULT(io, m->rebalance_timeout_ms, -1);
	vs_io_str(io, &m->member_id);
	if (io->version >= 5)
		vs_io_nstr(io, &m->group_instance_id);
	vs_io_str(io, &m->protocol_type);
	VS_IO_ARRAY(io, m->protocols, 2 * VS_MIN_VAR, false, walk_join_group_protocol);
	vs_io_tags(io);
}

static void walk_join_group_member(vs_io *io, vs_join_group_member *mb)
{
	vs_io_str(io, &mb->member_id);
	if (io->version >= 5)
		vs_io_nstr(io, &mb->group_instance_id);
	vs_io_bytes(io, &mb->metadata);
	vs_io_tags(io);
}

void vs_walk_join_group_response(vs_io *io, vs_join_group_response *m)
{
	if (io->version >= 2)
		vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	vs_io_i32(io, &m->generation_id);
	if (io->version >= 7)
		vs_io_nstr(io, &m->protocol_name);
	else
		vs_io_str(io, &m->protocol_name);
	vs_io_str(io, &m->leader);
	vs_io_str(io, &m->member_id);
	VS_IO_ARRAY(io, m->members, 2 * VS_MIN_VAR, false, walk_join_group_member);
	vs_io_tags(io);
}

/* ---- SyncGroup ---------------------------------------------------------- */

static void walk_sync_group_assignment(vs_io *io, vs_sync_group_assignment *a)
{
	vs_io_str(io, &a->member_id);
	vs_io_bytes(io, &a->assignment);
	vs_io_tags(io);
}

void vs_walk_sync_group_request(vs_io *io, vs_sync_group_request *m)
{
	vs_io_str(io, &m->group_id);
	vs_io_i32(io, &m->generation_id);
	vs_io_str(io, &m->member_id);
	if (io->version >= 3)
		vs_io_nstr(io, &m->group_instance_id);
	VS_IO_ARRAY(io, m->assignments, 2 * VS_MIN_VAR, false, walk_sync_group_assignment);
	vs_io_tags(io);
}

void vs_walk_sync_group_response(vs_io *io, vs_sync_group_response *m)
{
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	vs_io_bytes(io, &m->assignment);
	vs_io_tags(io);
}

/* ---- Heartbeat and LeaveGroup ------------------------------------------- */

void vs_walk_heartbeat_request(vs_io *io, vs_heartbeat_request *m)
{
	vs_io_str(io, &m->group_id);
	vs_io_i32(io, &m->generation_id);
	vs_io_str(io, &m->member_id);
	if (io->version >= 3)
		vs_io_nstr(io, &m->group_instance_id);
	vs_io_tags(io);
}

void vs_walk_heartbeat_response(vs_io *io, vs_heartbeat_response *m)
{
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	vs_io_tags(io);
}

void vs_walk_leave_group_request(vs_io *io, vs_leave_group_request *m)
{
	vs_io_str(io, &m->group_id);
	if (io->version <= 2)
		vs_io_str(io, &m->member_id);
	vs_io_tags(io);
}

void vs_walk_leave_group_response(vs_io *io, vs_leave_group_response *m)
{
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	vs_io_tags(io);
}

/* ---- OffsetCommit ------------------------------------------------------- */

static void walk_offset_commit_partition(vs_io *io, vs_offset_commit_partition *p)
{
	vs_io_i32(io, &p->partition_index);
	vs_io_i64(io, &p->committed_offset);
	if (io->version >= 6)
		vs_io_i32(io, &p->committed_leader_epoch);
	else
		VS_IO_DEFAULT(io, p->committed_leader_epoch, -1);
	if (io->version == 1)
		vs_io_i64(io, &p->commit_timestamp);
	else
		VS_IO_DEFAULT(io, p->commit_timestamp, -1);
	vs_io_nstr(io, &p->committed_metadata);
	vs_io_tags(io);
}

static void walk_offset_commit_topic(vs_io *io, vs_offset_commit_topic *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partitions, 4 + 8 + VS_MIN_VAR, false, walk_offset_commit_partition);
	vs_io_tags(io);
}

void vs_walk_offset_commit_request(vs_io *io, vs_offset_commit_request *m)
{
	int16_t v = io->version;
	vs_io_str(io, &m->group_id);
	if (v >= 1) {
		vs_io_i32(io, &m->generation_id_or_member_epoch);
		vs_io_str(io, &m->member_id);
	} else {
		VS_IO_DEFAULT(io, m->generation_id_or_member_epoch, -1);
		VS_IO_DEFAULT(io, m->member_id, VS_IO_EMPTY);
	}
	if (v >= 7)
		vs_io_nstr(io, &m->group_instance_id);
	if (v >= 2 && v <= 4)
		vs_io_i64(io, &m->retention_time_ms);
	else
		VS_IO_DEFAULT(io, m->retention_time_ms, -1);
	VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_offset_commit_topic);
	vs_io_tags(io);
}

static void walk_offset_commit_partition_response(vs_io *io, vs_offset_commit_partition_response *p)
{
	vs_io_i32(io, &p->partition_index);
	vs_io_i16(io, &p->error_code);
	vs_io_tags(io);
}

static void walk_offset_commit_topic_response(vs_io *io, vs_offset_commit_topic_response *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partitions, 4 + 2, false, walk_offset_commit_partition_response);
	vs_io_tags(io);
}

void vs_walk_offset_commit_response(vs_io *io, vs_offset_commit_response *m)
{
	if (io->version >= 3)
		vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_offset_commit_topic_response);
	vs_io_tags(io);
}

/* ---- OffsetFetch -------------------------------------------------------- */

static void walk_offset_fetch_topic(vs_io *io, vs_offset_fetch_topic *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partition_indexes, 4, false, vs_io_i32);
	vs_io_tags(io);
}

void vs_walk_offset_fetch_request(vs_io *io, vs_offset_fetch_request *m)
{
	int16_t v = io->version;
	if (v <= 7) {
		vs_io_str(io, &m->group_id);
		VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, v >= 2, walk_offset_fetch_topic);
	}
	if (v >= 7)
		vs_io_bool(io, &m->require_stable);
	vs_io_tags(io);
}

static void walk_offset_fetch_partition_response(vs_io *io, vs_offset_fetch_partition_response *p)
{
	vs_io_i32(io, &p->partition_index);
	vs_io_i64(io, &p->committed_offset);
	if (io->version >= 5)
		vs_io_i32(io, &p->committed_leader_epoch);
	else
		VS_IO_DEFAULT(io, p->committed_leader_epoch, -1);
	vs_io_nstr(io, &p->metadata);
	vs_io_i16(io, &p->error_code);
	vs_io_tags(io);
}

static void walk_offset_fetch_topic_response(vs_io *io, vs_offset_fetch_topic_response *t)
{
	vs_io_str(io, &t->name);
	VS_IO_ARRAY(io, t->partitions, 4 + 8 + 2 + VS_MIN_VAR, false,
		    walk_offset_fetch_partition_response);
	vs_io_tags(io);
}

void vs_walk_offset_fetch_response(vs_io *io, vs_offset_fetch_response *m)
{
	int16_t v = io->version;
	if (v >= 3)
		vs_io_i32(io, &m->throttle_time_ms);
	if (v <= 7)
		VS_IO_ARRAY(io, m->topics, 2 * VS_MIN_VAR, false, walk_offset_fetch_topic_response);
	if (v >= 2 && v <= 7)
		vs_io_i16(io, &m->error_code);
	vs_io_tags(io);
}

/* ---- ListGroups --------------------------------------------------------- */

void vs_walk_list_groups_request(vs_io *io, vs_list_groups_request *m)
{
	if (io->version >= 4)
		VS_IO_ARRAY(io, m->states_filter, VS_MIN_VAR, false, vs_io_str);
	vs_io_tags(io);
}

static void walk_list_groups_group(vs_io *io, vs_list_groups_group *g)
{
	vs_io_str(io, &g->group_id);
	vs_io_str(io, &g->protocol_type);
	if (io->version >= 4)
		vs_io_str(io, &g->group_state);
	else
		VS_IO_DEFAULT(io, g->group_state, VS_IO_EMPTY);
	vs_io_tags(io);
}

void vs_walk_list_groups_response(vs_io *io, vs_list_groups_response *m)
{
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	VS_IO_ARRAY(io, m->groups, 2 * VS_MIN_VAR, false, walk_list_groups_group);
	vs_io_tags(io);
}

/* ---- DescribeGroups ----------------------------------------------------- */

void vs_walk_describe_groups_request(vs_io *io, vs_describe_groups_request *m)
{
	VS_IO_ARRAY(io, m->groups, VS_MIN_VAR, false, vs_io_str);
	if (io->version >= 3)
		vs_io_bool(io, &m->include_authorized_operations);
	vs_io_tags(io);
}

static void walk_describe_groups_member(vs_io *io, vs_describe_groups_member *mb)
{
	vs_io_str(io, &mb->member_id);
	if (io->version >= 4)
		vs_io_nstr(io, &mb->group_instance_id);
	vs_io_str(io, &mb->client_id);
	vs_io_str(io, &mb->client_host);
	vs_io_bytes(io, &mb->member_metadata);
	vs_io_bytes(io, &mb->member_assignment);
	vs_io_tags(io);
}

static void walk_describe_groups_group(vs_io *io, vs_describe_groups_group *g)
{
	vs_io_i16(io, &g->error_code);
	vs_io_str(io, &g->group_id);
	vs_io_str(io, &g->group_state);
	vs_io_str(io, &g->protocol_type);
	vs_io_str(io, &g->protocol_data);
	VS_IO_ARRAY(io, g->members, 5 * VS_MIN_VAR, false, walk_describe_groups_member);
	if (io->version >= 3)
		vs_io_i32(io, &g->authorized_operations);
	else
		VS_IO_DEFAULT(io, g->authorized_operations, INT32_MIN);
	vs_io_tags(io);
}

void vs_walk_describe_groups_response(vs_io *io, vs_describe_groups_response *m)
{
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->groups, 2 + 5 * VS_MIN_VAR, false, walk_describe_groups_group);
	vs_io_tags(io);
}

/* ---- DeleteGroups ------------------------------------------------------- */

void vs_walk_delete_groups_request(vs_io *io, vs_delete_groups_request *m)
{
	VS_IO_ARRAY(io, m->groups_names, VS_MIN_VAR, false, vs_io_str);
	vs_io_tags(io);
}

static void walk_delete_groups_result(vs_io *io, vs_delete_groups_result *r)
{
	vs_io_str(io, &r->group_id);
	vs_io_i16(io, &r->error_code);
	vs_io_tags(io);
}

void vs_walk_delete_groups_response(vs_io *io, vs_delete_groups_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->results, 2 + VS_MIN_VAR, false, walk_delete_groups_result);
	vs_io_tags(io);
}
