/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kmsg_group.c: FindCoordinator, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups,
 * DescribeGroups and DeleteGroups.
 *   - golden vectors: a whole kcat -G session (librdkafka), confluent_kafka
 *     commits, librdkafka's admin calls, kafka-python's consumer and admin
 *     (exact fields, byte-exact re-encoding; librdkafka's ListGroups v4 has
 *     one trailing byte, which is ignored);
 *   - round trips at every version, with defaults of absent fields;
 *   - byte images: JoinGroup v0 and v5, and the flexible ListGroups v4 and
 *     OffsetFetch v7 responses.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "kt_util.h"

TestSuite(golden_group, .timeout = 30);
TestSuite(roundtrip_group, .timeout = 30);
TestSuite(image_group, .timeout = 30);

/* ---- golden: librdkafka ------------------------------------------------------------ */

Test(golden_group, kcat_group_session)
{
	kt_req k;
	kt_req_load(&k, "kcat-group-FindCoordinator-v2", VS_API_FIND_COORDINATOR, 2);
	cr_assert(kt_is(k.req.find_coordinator.key, "kcat-group"));
	cr_assert_eq(k.req.find_coordinator.key_type, 0, "a group");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-group-JoinGroup-v5", VS_API_JOIN_GROUP, 5);
	const vs_join_group_request *j = &k.req.join_group;
	cr_assert(kt_is(j->group_id, "kcat-group"));
	cr_assert_eq(j->session_timeout_ms, 45000);
	cr_assert_eq(j->rebalance_timeout_ms, 300000);
	cr_assert(kt_is(j->member_id, ""), "first join: no member id yet");
	cr_assert_null(j->group_instance_id.ptr, "not a static member");
	cr_assert(kt_is(j->protocol_type, "consumer"));
	cr_assert_eq(j->protocols.n, 2);
	cr_assert(kt_is(j->protocols.v[0].name, "range"));
	cr_assert(kt_is(j->protocols.v[1].name, "roundrobin"));
	cr_assert_eq(j->protocols.v[0].metadata.len, 19);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-group-SyncGroup-v3", VS_API_SYNC_GROUP, 3);
	const vs_sync_group_request *s = &k.req.sync_group;
	cr_assert(kt_is(s->group_id, "kcat-group"));
	cr_assert_eq(s->generation_id, 1);
	cr_assert(kt_is(s->member_id, "member-1"), "the id capture.py gave");
	cr_assert_null(s->group_instance_id.ptr);
	cr_assert_eq(s->assignments.n, 1, "the leader assigns");
	cr_assert(kt_is(s->assignments.v[0].member_id, "member-1"));
	cr_assert_eq(s->assignments.v[0].assignment.len, 23);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-group-Heartbeat-v3", VS_API_HEARTBEAT, 3);
	cr_assert(kt_is(k.req.heartbeat.group_id, "kcat-group"));
	cr_assert_eq(k.req.heartbeat.generation_id, 1);
	cr_assert(kt_is(k.req.heartbeat.member_id, "member-1"));
	cr_assert_null(k.req.heartbeat.group_instance_id.ptr);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-group-OffsetFetch-v7", VS_API_OFFSET_FETCH, 7);
	cr_assert_eq(k.h.header_version, 2);
	const vs_offset_fetch_request *o = &k.req.offset_fetch;
	cr_assert(kt_is(o->group_id, "kcat-group"));
	cr_assert_eq(o->topics.n, 1);
	cr_assert(kt_is(o->topics.v[0].name, "cap"));
	cr_assert_eq(o->topics.v[0].partition_indexes.n, 1);
	cr_assert_eq(o->topics.v[0].partition_indexes.v[0], 0);
	cr_assert(o->require_stable, "librdkafka reads committed");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-group-LeaveGroup-v1", VS_API_LEAVE_GROUP, 1);
	cr_assert(kt_is(k.req.leave_group.group_id, "kcat-group"));
	cr_assert(kt_is(k.req.leave_group.member_id, "member-1"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_group, confluent_commit_v7_and_fetch_v7)
{
	kt_req k;
	kt_req_load(&k, "ck-consumer-OffsetCommit-v7", VS_API_OFFSET_COMMIT, 7);
	const vs_offset_commit_request *c = &k.req.offset_commit;
	cr_assert(kt_is(c->group_id, "ck-group"));
	cr_assert_eq(c->generation_id_or_member_epoch, -1, "assign(): no generation");
	cr_assert(kt_is(c->member_id, ""));
	cr_assert_null(c->group_instance_id.ptr);
	cr_assert_eq(c->retention_time_ms, -1, "absent after v4");
	cr_assert_eq(c->topics.n, 1);
	const vs_offset_commit_partition *p = &c->topics.v[0].partitions.v[0];
	cr_assert(kt_is(c->topics.v[0].name, "cap"));
	cr_assert_eq(p->partition_index, 0);
	cr_assert_eq(p->committed_offset, 3);
	cr_assert_eq(p->committed_leader_epoch, -1);
	cr_assert_eq(p->commit_timestamp, -1, "v1 only");
	cr_assert(kt_is(p->committed_metadata, ""));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "ck-consumer-OffsetFetch-v7", VS_API_OFFSET_FETCH, 7);
	cr_assert(kt_is(k.req.offset_fetch.group_id, "ck-group"));
	cr_assert_eq(k.req.offset_fetch.topics.v[0].partition_indexes.v[0], 0);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_group, librdkafka_admin_groups)
{
	kt_req k;
	kt_req_load(&k, "rdk-admin-ListGroups-v4", VS_API_LIST_GROUPS, 4);
	cr_assert_eq(k.h.header_version, 2);
	cr_assert_eq(k.req.list_groups.states_filter.n, 0);
	/* librdkafka 2.0.2 writes the top-level tag section twice */
	cr_assert_eq(k.trailing, 1);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "ck-admin-ListGroups-v0", VS_API_LIST_GROUPS, 0);
	cr_assert_eq(k.trailing, 0);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "rdk-admin-DescribeGroups-v4", VS_API_DESCRIBE_GROUPS, 4);
	cr_assert_eq(k.req.describe_groups.groups.n, 1);
	cr_assert(kt_is(k.req.describe_groups.groups.v[0], "rdk-group-a"));
	cr_assert_eq(k.req.describe_groups.include_authorized_operations, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "rdk-admin-DeleteGroups-v1", VS_API_DELETE_GROUPS, 1);
	cr_assert_eq(k.req.delete_groups.groups_names.n, 1);
	cr_assert(kt_is(k.req.delete_groups.groups_names.v[0], "rdk-group-a"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

/* ---- golden: kafka-python ----------------------------------------------------------- */

Test(golden_group, kafka_python_consumer_session)
{
	kt_req k;
	kt_req_load(&k, "kp-consumer-FindCoordinator-v0", VS_API_FIND_COORDINATOR, 0);
	cr_assert(kt_is(k.req.find_coordinator.key, "kp-group"));
	cr_assert_eq(k.req.find_coordinator.key_type, 0, "absent in v0: a group");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-consumer-JoinGroup-v2", VS_API_JOIN_GROUP, 2);
	const vs_join_group_request *j = &k.req.join_group;
	cr_assert(kt_is(j->group_id, "kp-group"));
	cr_assert_eq(j->session_timeout_ms, 10000);
	cr_assert_eq(j->rebalance_timeout_ms, 300000);
	cr_assert_null(j->group_instance_id.ptr, "absent before v5: null");
	cr_assert_eq(j->protocols.n, 2);
	cr_assert(kt_is(j->protocols.v[0].name, "range"));
	cr_assert_eq(j->protocols.v[1].metadata.len, 15);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-consumer-SyncGroup-v1", VS_API_SYNC_GROUP, 1);
	cr_assert(kt_is(k.req.sync_group.member_id, "member-1"));
	cr_assert_eq(k.req.sync_group.assignments.v[0].assignment.len, 10);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-consumer-OffsetFetch-v1", VS_API_OFFSET_FETCH, 1);
	cr_assert(kt_is(k.req.offset_fetch.group_id, "kp-group"));
	cr_assert(kt_is(k.req.offset_fetch.topics.v[0].name, "cap"));
	cr_assert_eq(k.req.offset_fetch.require_stable, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-consumer-OffsetCommit-v2", VS_API_OFFSET_COMMIT, 2);
	const vs_offset_commit_request *c = &k.req.offset_commit;
	cr_assert_eq(c->generation_id_or_member_epoch, 1);
	cr_assert(kt_is(c->member_id, "member-1"));
	cr_assert_eq(c->retention_time_ms, -1, "kafka-python's DEFAULT_RETENTION_TIME");
	cr_assert_eq(c->topics.v[0].partitions.v[0].committed_offset, 7);
	cr_assert(kt_is(c->topics.v[0].partitions.v[0].committed_metadata, "meta"));
	cr_assert_eq(c->topics.v[0].partitions.v[0].committed_leader_epoch, -1);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-consumer-LeaveGroup-v1", VS_API_LEAVE_GROUP, 1);
	cr_assert(kt_is(k.req.leave_group.member_id, "member-1"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_group, kafka_python_admin)
{
	kt_req k;
	kt_req_load(&k, "kp-admin-ListGroups-v1", VS_API_LIST_GROUPS, 1);
	cr_assert_eq(k.req.list_groups.states_filter.n, 0);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-DescribeGroups-v3", VS_API_DESCRIBE_GROUPS, 3);
	cr_assert(kt_is(k.req.describe_groups.groups.v[0], "kp-group"));
	cr_assert_eq(k.req.describe_groups.include_authorized_operations, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-OffsetFetch-v3", VS_API_OFFSET_FETCH, 3);
	cr_assert(kt_is(k.req.offset_fetch.group_id, "kp-group"));
	cr_assert_eq(k.req.offset_fetch.topics.n, -1, "null: every committed partition");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-DeleteGroups-v1", VS_API_DELETE_GROUPS, 1);
	cr_assert(kt_is(k.req.delete_groups.groups_names.v[0], "kp-group"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

/* ---- round trips ------------------------------------------------------------------- */

Test(roundtrip_group, coordinator_join_sync_every_version)
{
	static const uint8_t meta[] = { 0, 1, 0, 0, 0, 1, 0, 1, 't' };
	vs_join_group_protocol jp[1] = { { kt_s("range"), { meta, sizeof meta } } };
	vs_join_group_member jm[2] = { { kt_s("m1"), kt_s("static-1"), { meta, 3 } }, { kt_s("m2"), VS_SLICE_NULL, { meta, 0 } } };
	vs_sync_group_assignment sa[1] = { { kt_s("m1"), { meta, sizeof meta } } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 2; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.find_coordinator = (vs_find_coordinator_request){ kt_s("g"), 1 };
		resp.find_coordinator = (vs_find_coordinator_response){ 5, KE_COORDINATOR_NOT_AVAILABLE, kt_s("later"), 0, kt_s("host"), 9092 };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_FIND_COORDINATOR, v, &req, &a, &rq);
		cr_assert_eq(rq.find_coordinator.key_type, v >= 1 ? 1 : 0);
		kt_response_roundtrip(VS_API_FIND_COORDINATOR, v, &resp, &a, &rs);
		cr_assert_eq(rs.find_coordinator.port, 9092);
		cr_assert(v >= 1 ? kt_is(rs.find_coordinator.error_message, "later")
				 : rs.find_coordinator.error_message.ptr == NULL);
	}
	for (int16_t v = 0; v <= 5; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.join_group = (vs_join_group_request){ kt_s("g"), 10000, 60000, kt_s("m1"), kt_s("static-1"),
							   kt_s("consumer"), { jp, 1 } };
		resp.join_group = (vs_join_group_response){ 3, 0, 4, kt_s("range"), kt_s("m1"), kt_s("m1"), { jm, 2 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_JOIN_GROUP, v, &req, &a, &rq);
		cr_assert_eq(rq.join_group.rebalance_timeout_ms, v >= 1 ? 60000 : -1);
		cr_assert(v >= 5 ? kt_is(rq.join_group.group_instance_id, "static-1")
				 : rq.join_group.group_instance_id.ptr == NULL);
		cr_assert_eq(rq.join_group.protocols.v[0].metadata.len, sizeof meta);
		kt_response_roundtrip(VS_API_JOIN_GROUP, v, &resp, &a, &rs);
		cr_assert_eq(rs.join_group.throttle_time_ms, v >= 2 ? 3 : 0);
		cr_assert_eq(rs.join_group.generation_id, 4);
		cr_assert_eq(rs.join_group.members.n, 2);
		cr_assert(v >= 5 ? kt_is(rs.join_group.members.v[0].group_instance_id, "static-1")
				 : rs.join_group.members.v[0].group_instance_id.ptr == NULL);
		cr_assert_eq(rs.join_group.members.v[1].metadata.len, 0);
	}
	for (int16_t v = 0; v <= 3; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.sync_group = (vs_sync_group_request){ kt_s("g"), 4, kt_s("m1"), kt_s("static-1"), { sa, 1 } };
		resp.sync_group = (vs_sync_group_response){ 1, 0, { meta, sizeof meta } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_SYNC_GROUP, v, &req, &a, &rq);
		cr_assert(v >= 3 ? kt_is(rq.sync_group.group_instance_id, "static-1")
				 : rq.sync_group.group_instance_id.ptr == NULL);
		kt_response_roundtrip(VS_API_SYNC_GROUP, v, &resp, &a, &rs);
		cr_assert_eq(rs.sync_group.assignment.len, sizeof meta);
		cr_assert_eq(rs.sync_group.throttle_time_ms, v >= 1 ? 1 : 0);
	}
	vs_arena_free(&a);
}

Test(roundtrip_group, heartbeat_leave_every_version)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 3; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.heartbeat = (vs_heartbeat_request){ kt_s("g"), 7, kt_s("m"), kt_s("i") };
		resp.heartbeat = (vs_heartbeat_response){ 2, KE_REBALANCE_IN_PROGRESS };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_HEARTBEAT, v, &req, &a, &rq);
		cr_assert_eq(rq.heartbeat.generation_id, 7);
		cr_assert(v >= 3 ? kt_is(rq.heartbeat.group_instance_id, "i") : rq.heartbeat.group_instance_id.ptr == NULL);
		kt_response_roundtrip(VS_API_HEARTBEAT, v, &resp, &a, &rs);
		cr_assert_eq(rs.heartbeat.error_code, KE_REBALANCE_IN_PROGRESS);
	}
	for (int16_t v = 0; v <= 1; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.leave_group = (vs_leave_group_request){ kt_s("g"), kt_s("m") };
		resp.leave_group = (vs_leave_group_response){ 2, 0 };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_LEAVE_GROUP, v, &req, &a, &rq);
		cr_assert(kt_is(rq.leave_group.member_id, "m"));
		kt_response_roundtrip(VS_API_LEAVE_GROUP, v, &resp, &a, &rs);
		cr_assert_eq(rs.leave_group.throttle_time_ms, v >= 1 ? 2 : 0);
	}
	vs_arena_free(&a);
}

Test(roundtrip_group, offsets_every_version)
{
	vs_offset_commit_partition cp[2] = { { 0, 10, 3, 1690000000000, kt_s("m") }, { 1, 20, 3, 0, VS_SLICE_NULL } };
	vs_offset_commit_topic ct[1] = { { kt_s("t"), { cp, 2 } } };
	vs_offset_commit_partition_response cpr[1] = { { 1, KE_OFFSET_METADATA_TOO_LARGE } };
	vs_offset_commit_topic_response ctr[1] = { { kt_s("t"), { cpr, 1 } } };
	int32_t idx[2] = { 0, 1 };
	vs_offset_fetch_topic ft[1] = { { kt_s("t"), { idx, 2 } } };
	vs_offset_fetch_partition_response fpr[2] = { { 0, 10, 3, kt_s("m"), 0 }, { 1, -1, -1, VS_SLICE_NULL, 0 } };
	vs_offset_fetch_topic_response ftr[1] = { { kt_s("t"), { fpr, 2 } } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 7; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.offset_commit = (vs_offset_commit_request){ kt_s("g"), 5, kt_s("m"), kt_s("i"), 86400000, { ct, 1 } };
		resp.offset_commit = (vs_offset_commit_response){ 8, { ctr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_OFFSET_COMMIT, v, &req, &a, &rq);
		const vs_offset_commit_request *c = &rq.offset_commit;
		cr_assert_eq(c->generation_id_or_member_epoch, v >= 1 ? 5 : -1);
		cr_assert(kt_is(c->member_id, v >= 1 ? "m" : ""));
		cr_assert(v >= 7 ? kt_is(c->group_instance_id, "i") : c->group_instance_id.ptr == NULL);
		cr_assert_eq(c->retention_time_ms, v >= 2 && v <= 4 ? 86400000 : -1, "v%d", v);
		cr_assert_eq(c->topics.v[0].partitions.v[0].commit_timestamp, v == 1 ? 1690000000000 : -1);
		cr_assert_eq(c->topics.v[0].partitions.v[0].committed_leader_epoch, v >= 6 ? 3 : -1);
		cr_assert_null(c->topics.v[0].partitions.v[1].committed_metadata.ptr);
		kt_response_roundtrip(VS_API_OFFSET_COMMIT, v, &resp, &a, &rs);
		cr_assert_eq(rs.offset_commit.throttle_time_ms, v >= 3 ? 8 : 0);
		cr_assert_eq(rs.offset_commit.topics.v[0].partitions.v[0].error_code, KE_OFFSET_METADATA_TOO_LARGE);

		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.offset_fetch = (vs_offset_fetch_request){ kt_s("g"), { ft, 1 }, true };
		resp.offset_fetch = (vs_offset_fetch_response){ 6, { ftr, 1 }, KE_NOT_COORDINATOR };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_OFFSET_FETCH, v, &req, &a, &rq);
		cr_assert_eq(rq.offset_fetch.topics.v[0].partition_indexes.v[1], 1);
		cr_assert_eq(rq.offset_fetch.require_stable, v >= 7);
		kt_response_roundtrip(VS_API_OFFSET_FETCH, v, &resp, &a, &rs);
		const vs_offset_fetch_response *f = &rs.offset_fetch;
		cr_assert_eq(f->throttle_time_ms, v >= 3 ? 6 : 0);
		cr_assert_eq(f->error_code, v >= 2 ? KE_NOT_COORDINATOR : 0);
		cr_assert_eq(f->topics.v[0].partitions.v[0].committed_leader_epoch, v >= 5 ? 3 : -1);
		cr_assert(kt_is(f->topics.v[0].partitions.v[0].metadata, "m"));
		cr_assert_null(f->topics.v[0].partitions.v[1].metadata.ptr);
	}
	/* null topics (every partition) only exists from v2 on */
	memset(&req, 0, sizeof req);
	req.offset_fetch = (vs_offset_fetch_request){ kt_s("g"), { NULL, -1 }, false };
	kt_request_roundtrip(VS_API_OFFSET_FETCH, 2, &req, &a, &rq);
	cr_assert_eq(rq.offset_fetch.topics.n, -1);
	kt_request_roundtrip(VS_API_OFFSET_FETCH, 1, &req, &a, &rq);
	cr_assert_eq(rq.offset_fetch.topics.n, 0);
	vs_arena_free(&a);
}

Test(roundtrip_group, list_describe_delete_every_version)
{
	vs_slice states[2] = { kt_s("Stable"), kt_s("Empty") };
	vs_list_groups_group lg[1] = { { kt_s("g"), kt_s("consumer"), kt_s("Stable") } };
	vs_slice groups[2] = { kt_s("g1"), kt_s("g2") };
	static const uint8_t blob[] = { 9, 9 };
	vs_describe_groups_member dm[1] = { { kt_s("m"), kt_s("i"), kt_s("c"), kt_s("/10.0.0.1"), { blob, 2 }, { blob, 1 } } };
	vs_describe_groups_group dg[1] = { { 0, kt_s("g1"), kt_s("Stable"), kt_s("consumer"), kt_s("range"), { dm, 1 }, 8 } };
	vs_delete_groups_result dr[1] = { { kt_s("g1"), KE_NON_EMPTY_GROUP } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 4; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.list_groups = (vs_list_groups_request){ { states, 2 } };
		resp.list_groups = (vs_list_groups_response){ 1, 0, { lg, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_LIST_GROUPS, v, &req, &a, &rq);
		cr_assert_eq(rq.list_groups.states_filter.n, v >= 4 ? 2 : 0);
		kt_response_roundtrip(VS_API_LIST_GROUPS, v, &resp, &a, &rs);
		cr_assert(kt_is(rs.list_groups.groups.v[0].group_state, v >= 4 ? "Stable" : ""));

		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.describe_groups = (vs_describe_groups_request){ { groups, 2 }, true };
		resp.describe_groups = (vs_describe_groups_response){ 1, { dg, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_DESCRIBE_GROUPS, v, &req, &a, &rq);
		cr_assert(kt_is(rq.describe_groups.groups.v[1], "g2"));
		cr_assert_eq(rq.describe_groups.include_authorized_operations, v >= 3);
		kt_response_roundtrip(VS_API_DESCRIBE_GROUPS, v, &resp, &a, &rs);
		const vs_describe_groups_group *g = &rs.describe_groups.groups.v[0];
		cr_assert_eq(g->authorized_operations, v >= 3 ? 8 : INT32_MIN);
		cr_assert(kt_is(g->members.v[0].client_host, "/10.0.0.1"));
		cr_assert(v >= 4 ? kt_is(g->members.v[0].group_instance_id, "i")
				 : g->members.v[0].group_instance_id.ptr == NULL);
	}
	for (int16_t v = 0; v <= 1; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.delete_groups = (vs_delete_groups_request){ { groups, 2 } };
		resp.delete_groups = (vs_delete_groups_response){ 0, { dr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_DELETE_GROUPS, v, &req, &a, &rq);
		kt_response_roundtrip(VS_API_DELETE_GROUPS, v, &resp, &a, &rs);
		cr_assert_eq(rs.delete_groups.results.v[0].error_code, KE_NON_EMPTY_GROUP);
	}
	vs_arena_free(&a);
}

/* ---- images -------------------------------------------------------------------------- */

static void join_response(vs_response *resp, vs_join_group_member *m)
{
	static const uint8_t md[] = { 1, 2 };
	*m = (vs_join_group_member){ kt_s("m"), VS_SLICE_NULL, { md, 2 } };
	memset(resp, 0, sizeof *resp);
	resp->join_group = (vs_join_group_response){ 0, 0, 1, kt_s("range"), kt_s("m"), kt_s("m"), { m, 1 } };
}

Test(image_group, join_group_v5)
{
	vs_response resp;
	vs_join_group_member m;
	join_response(&resp, &m);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_JOIN_GROUP, 5, 11, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "0000002a 0000000b"
				"00000000"            /* throttle_time_ms (v2+) */
				"0000 00000001"       /* error_code, generation_id */
				"0005 72616e6765"     /* protocol_name "range" */
				"0001 6d 0001 6d"     /* leader, member_id */
				"00000001 0001 6d"    /* members[1]: member_id */
				"ffff"                /* group_instance_id null (v5+) */
				"00000002 0102");     /* metadata */
	vs_wbuf_free(&w);
}

Test(image_group, join_group_v0)
{
	vs_response resp;
	vs_join_group_member m;
	join_response(&resp, &m);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_JOIN_GROUP, 0, 11, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000024 0000000b"
				"0000 00000001 0005 72616e6765 0001 6d 0001 6d"
				"00000001 0001 6d 00000002 0102");
	vs_wbuf_free(&w);
}

Test(image_group, list_groups_v4_flexible)
{
	vs_list_groups_group g[1] = { { kt_s("g"), kt_s("consumer"), kt_s("Stable") } };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.list_groups = (vs_list_groups_response){ 0, 0, { g, 1 } };
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_LIST_GROUPS, 4, 12, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000020 0000000c 00"   /* header v1 */
				"00000000 0000"           /* throttle_time_ms, error_code */
				"02"                      /* compact array: 1 group */
				"02 67"                   /* group_id "g" */
				"09 636f6e73756d6572"     /* protocol_type "consumer" */
				"07 537461626c65"         /* group_state "Stable" (v4+) */
				"00"                      /* the group's tags */
				"00");                    /* the response's tags */
	vs_wbuf_free(&w);
}

Test(image_group, offset_fetch_v7_flexible)
{
	vs_offset_fetch_partition_response p[1] = { { 0, 5, -1, VS_SLICE_NULL, 0 } };
	vs_offset_fetch_topic_response t[1] = { { kt_s("t"), { p, 1 } } };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.offset_fetch = (vs_offset_fetch_response){ 0, { t, 1 }, 0 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_OFFSET_FETCH, 7, 13, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000025 0000000d 00"
				"00000000"              /* throttle_time_ms */
				"02 02 74"              /* topics[1]: "t" */
				"02 00000000"           /* partitions[1]: index 0 */
				"0000000000000005"      /* committed_offset */
				"ffffffff"              /* committed_leader_epoch (v5+) */
				"00"                    /* metadata: compact null */
				"0000 00"               /* error_code, the partition's tags */
				"00"                    /* the topic's tags */
				"0000 00");             /* error_code (v2+), tags */
	vs_wbuf_free(&w);
}
