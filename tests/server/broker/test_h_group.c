/* SPDX-License-Identifier: MIT */
/*
 * test_h_group.c -- consumer groups (server/broker/h_group.c) against a
 * broker on a thread: a member's whole life (JoinGroup, SyncGroup,
 * Heartbeat, OffsetCommit with its generation, LeaveGroup); commits that are
 * refused per partition or for the whole group; OffsetFetch of named
 * partitions and of everything; ListGroups and DescribeGroups with groups
 * known only by their commits; DeleteGroups' three outcomes; group ids the
 * store cannot hold; a held JoinGroup whose connection closes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bt_util.h"

static bt t;

static void setup(void)
{
	bt_start(&t, NULL);
	bt_topic(&t, "events", 2);
	bt_fill(&t, "events", 0, 5, 1700000000000LL);
}

static void teardown(void)
{
	bt_stop(&t);
}

TestSuite(groups, .init = setup, .fini = teardown);

static const uint8_t meta[] = { 0, 1, 2, 3 };

static vs_response join(int fd, const char *group, const char *member)
{
	vs_join_group_protocol p = { bt_s("range"), { meta, sizeof meta } };
	vs_request q = { 0 };
	q.join_group.group_id = bt_s(group);
	q.join_group.session_timeout_ms = 10000;
	q.join_group.rebalance_timeout_ms = 10000;
	q.join_group.member_id = bt_s(member);
	q.join_group.protocol_type = bt_s("consumer");
	q.join_group.protocols.v = &p;
	q.join_group.protocols.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_JOIN_GROUP, 1, &q, &r);
	return r;
}

/* Join as the only member and sync: the member id (static buffer). */
static const char *become_stable(int fd, const char *group, int32_t *gen)
{
	static char id[300];
	vs_response r = join(fd, group, "");
	cr_assert_eq(r.join_group.error_code, 0);
	cr_assert(r.join_group.member_id.len > 0 && r.join_group.member_id.len < sizeof id);
	memcpy(id, r.join_group.member_id.ptr, r.join_group.member_id.len);
	id[r.join_group.member_id.len] = 0;
	cr_assert(bt_is(r.join_group.leader, id), "the only member leads");
	cr_assert_eq(r.join_group.members.n, 1);
	*gen = r.join_group.generation_id;
	static const uint8_t assignment[] = { 9, 9 };
	vs_sync_group_assignment a = { bt_s(id), { assignment, 2 } };
	vs_request q = { 0 };
	q.sync_group.group_id = bt_s(group);
	q.sync_group.generation_id = *gen;
	q.sync_group.member_id = bt_s(id);
	q.sync_group.assignments.v = &a;
	q.sync_group.assignments.n = 1;
	bt_call(&t, fd, VS_API_SYNC_GROUP, 1, &q, &r);
	cr_assert_eq(r.sync_group.error_code, 0);
	cr_assert(r.sync_group.assignment.len == 2 && r.sync_group.assignment.ptr[0] == 9);
	return id;
}

static vs_response commit(int fd, int16_t v, const char *group, int32_t gen, const char *member,
			  const char *topic, int32_t part, int64_t offset, vs_slice md)
{
	vs_offset_commit_partition p = { part, offset, -1, -1, md };
	vs_offset_commit_topic tp = { bt_s(topic), { &p, 1 } };
	vs_request q = { 0 };
	q.offset_commit.group_id = (vs_slice){ (const uint8_t *)group, strlen(group) };
	q.offset_commit.generation_id_or_member_epoch = gen;
	q.offset_commit.member_id = bt_s(member);
	q.offset_commit.retention_time_ms = -1;
	q.offset_commit.topics.v = &tp;
	q.offset_commit.topics.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_OFFSET_COMMIT, v, &q, &r);
	cr_assert_eq(r.offset_commit.topics.n, 1);
	return r;
}

static int16_t commit_err(const vs_response *r)
{
	return r->offset_commit.topics.v[0].partitions.v[0].error_code;
}

Test(groups, a_member_joins_syncs_commits_and_leaves)
{
	int fd = bt_connect(&t);
	int32_t gen;
	const char *id = become_stable(fd, "g", &gen);
	vs_request q = { 0 };
	vs_response r;
	q.heartbeat.group_id = bt_s("g");
	q.heartbeat.generation_id = gen;
	q.heartbeat.member_id = bt_s(id);
	bt_call(&t, fd, VS_API_HEARTBEAT, 1, &q, &r);
	cr_assert_eq(r.heartbeat.error_code, 0);
	q.heartbeat.generation_id = gen + 1;
	bt_call(&t, fd, VS_API_HEARTBEAT, 1, &q, &r);
	cr_assert_eq(r.heartbeat.error_code, KE_ILLEGAL_GENERATION);
	r = commit(fd, 2, "g", gen, id, "events", 0, 3, bt_s("m"));
	cr_assert_eq(commit_err(&r), 0);
	int64_t off;
	cr_assert_eq(varve_group_offset(t.db, "g", "events", 0, &off), 0);
	cr_assert_eq(off, 3);
	r = commit(fd, 2, "g", gen + 5, id, "events", 0, 4, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_ILLEGAL_GENERATION);
	r = commit(fd, 2, "g", gen, "stranger", "events", 0, 4, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_UNKNOWN_MEMBER_ID);
	/* DescribeGroups: Stable, one member with Kafka's host form */
	vs_slice name = bt_s("g");
	vs_request d = { 0 };
	d.describe_groups.groups.v = &name;
	d.describe_groups.groups.n = 1;
	bt_call(&t, fd, VS_API_DESCRIBE_GROUPS, 1, &d, &r);
	vs_describe_groups_group *g = &r.describe_groups.groups.v[0];
	cr_assert(bt_is(g->group_state, "Stable") && bt_is(g->protocol_type, "consumer"));
	cr_assert(bt_is(g->protocol_data, "range"));
	cr_assert_eq(g->members.n, 1);
	cr_assert(bt_is(g->members.v[0].client_host, "/127.0.0.1"));
	cr_assert(bt_is(g->members.v[0].client_id, "bt"));
	cr_assert_eq(g->members.v[0].member_assignment.len, 2);
	/* a group with members cannot be deleted */
	vs_request del = { 0 };
	del.delete_groups.groups_names.v = &name;
	del.delete_groups.groups_names.n = 1;
	bt_call(&t, fd, VS_API_DELETE_GROUPS, 1, &del, &r);
	cr_assert_eq(r.delete_groups.results.v[0].error_code, KE_NON_EMPTY_GROUP);
	vs_request l = { 0 };
	l.leave_group.group_id = bt_s("g");
	l.leave_group.member_id = bt_s(id);
	bt_call(&t, fd, VS_API_LEAVE_GROUP, 1, &l, &r);
	cr_assert_eq(r.leave_group.error_code, 0);
	bt_call(&t, fd, VS_API_LEAVE_GROUP, 1, &l, &r);
	cr_assert_eq(r.leave_group.error_code, KE_UNKNOWN_MEMBER_ID);
	bt_call(&t, fd, VS_API_DESCRIBE_GROUPS, 1, &d, &r);
	cr_assert(bt_is(r.describe_groups.groups.v[0].group_state, "Empty"));
	close(fd);
}

Test(groups, one_request_commits_several_partitions_with_metadata)
{
	int fd = bt_connect(&t);
	vs_offset_commit_partition p[] = { { 0, 2, -1, -1, { (const uint8_t *)"a", 1 } },
					   { 1, 0, -1, -1, VS_SLICE_NULL },
					   { 0, 50, -1, -1, VS_SLICE_NULL } };
	vs_offset_commit_topic tp[] = { { bt_s("events"), { p, 2 } }, { bt_s("events"), { p + 2, 1 } } };
	vs_request q = { 0 };
	q.offset_commit.group_id = bt_s("multi");
	q.offset_commit.generation_id_or_member_epoch = -1;
	q.offset_commit.member_id = bt_s("");
	q.offset_commit.topics.v = tp;
	q.offset_commit.topics.n = 2;
	vs_response r;
	bt_call(&t, fd, VS_API_OFFSET_COMMIT, 7, &q, &r);
	cr_assert_eq(r.offset_commit.topics.v[0].partitions.v[0].error_code, 0);
	cr_assert_eq(r.offset_commit.topics.v[0].partitions.v[1].error_code, 0);
	cr_assert_eq(r.offset_commit.topics.v[1].partitions.v[0].error_code, KE_OFFSET_OUT_OF_RANGE);
	varve_commit_info info = { VARVE_COMMIT_INFO_VERSION };
	cr_assert_eq(varve_group_committed(t.db, "multi", "events", 0, &info), 0);
	cr_assert_eq(info.offset, 2);
	cr_assert_str_eq(info.metadata, "a");
	cr_assert_eq(varve_group_committed(t.db, "multi", "events", 1, &info), 0);
	cr_assert_eq(info.offset, 0);
	close(fd);
}

Test(groups, commits_refused_per_partition_or_for_the_group)
{
	int fd = bt_connect(&t);
	vs_response r = commit(fd, 2, "simple", -1, "", "nosuch", 0, 1, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_UNKNOWN_TOPIC_OR_PARTITION);
	r = commit(fd, 2, "simple", -1, "", "events", 9, 1, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_UNKNOWN_TOPIC_OR_PARTITION);
	r = commit(fd, 2, "simple", -1, "", "events", 0, 99, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_OFFSET_OUT_OF_RANGE);
	static char big[4098];
	memset(big, 'm', sizeof big - 1);
	r = commit(fd, 2, "simple", -1, "", "events", 0, 1, bt_s(big));
	cr_assert_eq(commit_err(&r), KE_OFFSET_METADATA_TOO_LARGE);
	/* group ids the store cannot hold */
	static const char nul_id[] = "a\0b";
	vs_offset_commit_partition p = { 0, 1, -1, -1, VS_SLICE_NULL };
	vs_offset_commit_topic tp = { bt_s("events"), { &p, 1 } };
	vs_request q = { 0 };
	q.offset_commit.group_id = (vs_slice){ (const uint8_t *)nul_id, 3 };
	q.offset_commit.generation_id_or_member_epoch = -1;
	q.offset_commit.member_id = bt_s("");
	q.offset_commit.topics.v = &tp;
	q.offset_commit.topics.n = 1;
	bt_call(&t, fd, VS_API_OFFSET_COMMIT, 2, &q, &r);
	cr_assert_eq(commit_err(&r), KE_INVALID_GROUP_ID);
	char long_id[300];
	memset(long_id, 'g', 256);
	long_id[256] = 0;
	r = commit(fd, 2, long_id, -1, "", "events", 0, 1, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_INVALID_GROUP_ID);
	r = commit(fd, 2, "", -1, "", "events", 0, 1, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_INVALID_GROUP_ID);
	/* an unknown group with a generation: Kafka's ILLEGAL_GENERATION */
	r = commit(fd, 2, "ghost", 3, "m", "events", 0, 1, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), KE_ILLEGAL_GENERATION);
	char **names;
	size_t n;
	cr_assert_eq(varve_group_list(t.db, &names, &n), 0);
	cr_assert_eq(n, 0, "a refused commit reached the store");
	varve_strings_free(names, n);
	/* v0 (no generation) and v7 */
	r = commit(fd, 0, "simple", -1, "", "events", 1, 0, VS_SLICE_NULL);
	cr_assert_eq(commit_err(&r), 0);
	r = commit(fd, 7, "simple", -1, "", "events", 0, 5, bt_s("x"));
	cr_assert_eq(commit_err(&r), 0);
	close(fd);
}

static vs_response offset_fetch(int fd, int16_t v, const char *group, const char *topic,
				const int32_t *parts, int32_t n)
{
	vs_offset_fetch_topic tp = { bt_s(topic ? topic : ""), { (int32_t *)parts, n } };
	vs_request q = { 0 };
	q.offset_fetch.group_id = bt_s(group);
	q.offset_fetch.topics.v = &tp;
	q.offset_fetch.topics.n = topic ? 1 : -1;
	vs_response r;
	bt_call(&t, fd, VS_API_OFFSET_FETCH, v, &q, &r);
	return r;
}

Test(groups, offset_fetch_named_and_all)
{
	cr_assert_eq(varve_group_commit(t.db, "reader", "events", 1, 0, NULL), 0);
	cr_assert_eq(varve_group_commit(t.db, "reader", "events", 0, 4, "meta4"), 0);
	int fd = bt_connect(&t);
	int32_t parts[] = { 0, 1, 5 };
	vs_response r = offset_fetch(fd, 1, "reader", "events", parts, 3);
	vs_offset_fetch_partition_response *p = r.offset_fetch.topics.v[0].partitions.v;
	cr_assert(p[0].committed_offset == 4 && p[0].error_code == 0);
	cr_assert(bt_is(p[0].metadata, "meta4"), "the commit's metadata");
	cr_assert(p[1].committed_offset == 0 && p[1].error_code == 0);
	cr_assert(p[2].committed_offset == -1 && p[2].error_code == 0, "no commit: -1");
	r = offset_fetch(fd, 3, "reader", "nosuch", parts, 1);
	cr_assert_eq(r.offset_fetch.topics.v[0].partitions.v[0].committed_offset, -1);
	/* every partition with a commit (null topics, v2+) */
	r = offset_fetch(fd, 7, "reader", NULL, NULL, 0);
	cr_assert_eq(r.offset_fetch.error_code, 0);
	cr_assert_eq(r.offset_fetch.topics.n, 1);
	cr_assert(bt_is(r.offset_fetch.topics.v[0].name, "events"));
	cr_assert_eq(r.offset_fetch.topics.v[0].partitions.n, 2);
	cr_assert_eq(r.offset_fetch.topics.v[0].partitions.v[0].partition_index, 0);
	cr_assert(bt_is(r.offset_fetch.topics.v[0].partitions.v[0].metadata, "meta4"));
	cr_assert_eq(r.offset_fetch.topics.v[0].partitions.v[1].committed_offset, 0);
	r = offset_fetch(fd, 7, "nobody", NULL, NULL, 0);
	cr_assert_eq(r.offset_fetch.topics.n, 0);
	r = offset_fetch(fd, 3, "", "events", parts, 1);
	cr_assert_eq(r.offset_fetch.error_code, KE_INVALID_GROUP_ID);
	close(fd);
}

static int listed(const vs_response *r, const char *id, const char *state)
{
	for (int32_t i = 0; i < r->list_groups.groups.n; i++)
		if (bt_is(r->list_groups.groups.v[i].group_id, id))
			return !state || bt_is(r->list_groups.groups.v[i].group_state, state);
	return 0;
}

Test(groups, list_and_describe_include_groups_known_by_commits)
{
	cr_assert_eq(varve_group_commit(t.db, "stored", "events", 0, 1, NULL), 0);
	int fd = bt_connect(&t);
	int32_t gen;
	become_stable(fd, "live", &gen);
	vs_request q = { 0 };
	vs_response r;
	bt_call(&t, fd, VS_API_LIST_GROUPS, 4, &q, &r);
	cr_assert_eq(r.list_groups.error_code, 0);
	cr_assert_eq(r.list_groups.groups.n, 2);
	cr_assert(listed(&r, "live", "Stable") && listed(&r, "stored", "Empty"));
	vs_slice only_empty = bt_s("empty");
	q.list_groups.states_filter.v = &only_empty;
	q.list_groups.states_filter.n = 1;
	bt_call(&t, fd, VS_API_LIST_GROUPS, 4, &q, &r);
	cr_assert(r.list_groups.groups.n == 1 && listed(&r, "stored", NULL));
	vs_slice names[] = { bt_s("stored"), bt_s("unknown") };
	vs_request d = { 0 };
	d.describe_groups.groups.v = names;
	d.describe_groups.groups.n = 2;
	bt_call(&t, fd, VS_API_DESCRIBE_GROUPS, 4, &d, &r);
	cr_assert(bt_is(r.describe_groups.groups.v[0].group_state, "Empty"));
	cr_assert_eq(r.describe_groups.groups.v[0].members.n, 0);
	cr_assert(bt_is(r.describe_groups.groups.v[1].group_state, "Dead"));
	cr_assert_eq(r.describe_groups.groups.v[1].error_code, 0);
	close(fd);
}

Test(groups, delete_groups)
{
	cr_assert_eq(varve_group_commit(t.db, "stored", "events", 0, 1, NULL), 0);
	int fd = bt_connect(&t);
	vs_slice names[] = { bt_s("stored"), bt_s("unknown"), bt_s("") };
	vs_request q = { 0 };
	q.delete_groups.groups_names.v = names;
	q.delete_groups.groups_names.n = 3;
	vs_response r;
	bt_call(&t, fd, VS_API_DELETE_GROUPS, 1, &q, &r);
	cr_assert_eq(r.delete_groups.results.v[0].error_code, 0);
	cr_assert_eq(r.delete_groups.results.v[1].error_code, KE_GROUP_ID_NOT_FOUND);
	cr_assert_eq(r.delete_groups.results.v[2].error_code, KE_INVALID_GROUP_ID);
	int64_t off;
	cr_assert_eq(varve_group_offset(t.db, "stored", "events", 0, &off), VARVE_ENOTFOUND);
	close(fd);
}

Test(groups, a_held_join_is_forgotten_when_its_connection_closes)
{
	int a = bt_connect(&t), b = bt_connect(&t);
	int32_t gen;
	const char *id = become_stable(a, "held", &gen);
	char first[300];
	snprintf(first, sizeof first, "%s", id);
	/* a second member starts a rebalance: its join waits for the first */
	vs_join_group_protocol p = { bt_s("range"), { meta, sizeof meta } };
	vs_request q = { 0 };
	q.join_group.group_id = bt_s("held");
	q.join_group.session_timeout_ms = 10000;
	q.join_group.rebalance_timeout_ms = 10000;
	q.join_group.member_id = bt_s("");
	q.join_group.protocol_type = bt_s("consumer");
	q.join_group.protocols.v = &p;
	q.join_group.protocols.n = 1;
	bt_send(&t, b, VS_API_JOIN_GROUP, 1, &q);
	cr_assert(!bt_closed(b, 300), "the held join was answered or closed");
	close(b);
	/* the first member rejoins; the broker is unharmed */
	vs_response r = join(a, "held", first);
	cr_assert_eq(r.join_group.error_code, 0);
	cr_assert(r.join_group.generation_id > gen);
	close(a);
}

Test(groups, a_stop_answers_held_joins_with_not_coordinator)
{
	int a = bt_connect(&t), b = bt_connect(&t);
	int32_t gen;
	become_stable(a, "stopping", &gen);
	vs_join_group_protocol p = { bt_s("range"), { meta, sizeof meta } };
	vs_request q = { 0 };
	q.join_group.group_id = bt_s("stopping");
	q.join_group.session_timeout_ms = 10000;
	q.join_group.rebalance_timeout_ms = 60000;
	q.join_group.member_id = bt_s("");
	q.join_group.protocol_type = bt_s("consumer");
	q.join_group.protocols.v = &p;
	q.join_group.protocols.n = 1;
	q.join_group.group_instance_id = VS_SLICE_NULL;
	/* v4: a new member first gets its id (KIP-394), then joins with it */
	vs_response r;
	bt_call(&t, b, VS_API_JOIN_GROUP, 4, &q, &r);
	cr_assert_eq(r.join_group.error_code, KE_MEMBER_ID_REQUIRED);
	char id[300];
	cr_assert(r.join_group.member_id.len > 0 && r.join_group.member_id.len < sizeof id);
	memcpy(id, r.join_group.member_id.ptr, r.join_group.member_id.len);
	id[r.join_group.member_id.len] = 0;
	q.join_group.member_id = bt_s(id);
	int32_t corr = bt_send(&t, b, VS_API_JOIN_GROUP, 4, &q);
	cr_assert(!bt_closed(b, 300), "the join was not held");
	/* the coordinator would hold it for the 60 s rebalance; the stop
	 * answers it instead of letting the grace period run out (and the
	 * answer, built after the request's frame left the loop, still names
	 * the member) */
	vs_broker_stop(t.b);
	bt_recv(&t, b, VS_API_JOIN_GROUP, 4, corr, &r);
	cr_assert_eq(r.join_group.error_code, KE_NOT_COORDINATOR);
	cr_assert(bt_is(r.join_group.member_id, id));
	close(a);
	close(b);
}
