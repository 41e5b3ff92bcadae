/* SPDX-License-Identifier: MIT */
/*
 * test_h_meta.c -- Metadata, FindCoordinator and ListOffsets
 * (server/broker/h_meta.c) against a broker on a thread: one broker (node
 * 0, the advertised address), every partition led by 0, the cluster id;
 * v0's empty list means every topic, v1+'s null does and empty means none;
 * auto-creation (on, off, refused by the request, invalid names);
 * FindCoordinator for groups and transactions; ListOffsets earliest, latest,
 * by time (on a worker), unknown partitions, v0's list form; "latest" is
 * the high watermark (the durable offset), not the end of the log.
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
	bt_topic(&t, "alpha", 3);
	bt_topic(&t, "beta", 1);
}

static void no_auto_create(vs_broker_config *cfg)
{
	cfg->auto_create_topics = 0;
}

static void setup_no_auto(void)
{
	bt_start(&t, no_auto_create);
}

static void teardown(void)
{
	bt_stop(&t);
}

TestSuite(metadata, .init = setup, .fini = teardown);

static vs_response metadata(int fd, int16_t v, const char *const *names, int32_t n, bool allow)
{
	vs_metadata_request_topic topics[8];
	for (int32_t i = 0; i < n && i < 8; i++)
		topics[i].name = bt_s(names[i]);
	vs_request q = { 0 };
	q.metadata.topics.v = topics;
	q.metadata.topics.n = n;
	q.metadata.allow_auto_topic_creation = allow;
	vs_response r;
	bt_call(&t, fd, VS_API_METADATA, v, &q, &r);
	return r;
}

static const vs_metadata_topic *find(const vs_metadata_response *r, const char *name)
{
	for (int32_t i = 0; i < r->topics.n; i++)
		if (bt_is(r->topics.v[i].name, name))
			return &r->topics.v[i];
	return NULL;
}

Test(metadata, every_topic_one_broker)
{
	int fd = bt_connect(&t);
	vs_response r = metadata(fd, 4, NULL, -1, false);
	const vs_metadata_response *m = &r.metadata;
	cr_assert_eq(m->brokers.n, 1);
	cr_assert_eq(m->brokers.v[0].node_id, 0);
	cr_assert(bt_is(m->brokers.v[0].host, "127.0.0.1"));
	cr_assert_eq(m->brokers.v[0].port, t.port);
	cr_assert(bt_is(m->cluster_id, "bt-cluster"));
	cr_assert_eq(m->controller_id, 0);
	cr_assert_eq(m->topics.n, 2);
	const vs_metadata_topic *a = find(m, "alpha");
	cr_assert(a && a->error_code == 0 && a->partitions.n == 3);
	for (int32_t i = 0; i < 3; i++) {
		const vs_metadata_partition *p = &a->partitions.v[i];
		cr_assert_eq(p->partition_index, i);
		cr_assert_eq(p->leader_id, 0);
		cr_assert(p->replica_nodes.n == 1 && p->replica_nodes.v[0] == 0);
		cr_assert(p->isr_nodes.n == 1 && p->isr_nodes.v[0] == 0);
	}
	close(fd);
}

Test(metadata, empty_list_means_all_in_v0_and_none_later)
{
	int fd = bt_connect(&t);
	vs_response r = metadata(fd, 0, NULL, 0, true);
	cr_assert_eq(r.metadata.topics.n, 2);
	r = metadata(fd, 1, NULL, 0, true);
	cr_assert_eq(r.metadata.topics.n, 0);
	cr_assert_eq(r.metadata.brokers.n, 1);
	close(fd);
}

Test(metadata, named_topics_and_auto_creation)
{
	int fd = bt_connect(&t);
	const char *names[] = { "beta", "fresh", "bad/name" };
	vs_response r = metadata(fd, 4, names, 3, true);
	cr_assert_eq(r.metadata.topics.n, 3);
	cr_assert_eq(r.metadata.topics.v[0].error_code, 0);
	cr_assert_eq(r.metadata.topics.v[1].error_code, 0);
	cr_assert_eq(r.metadata.topics.v[1].partitions.n, 1, "default partitions");
	cr_assert_eq(r.metadata.topics.v[2].error_code, KE_INVALID_TOPIC_EXCEPTION);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "fresh", &cfg), 0);
	/* v4 may refuse creation */
	const char *other[] = { "notcreated" };
	r = metadata(fd, 4, other, 1, false);
	cr_assert_eq(r.metadata.topics.v[0].error_code, KE_UNKNOWN_TOPIC_OR_PARTITION);
	cr_assert_eq(varve_topic_describe(t.db, "notcreated", &cfg), VARVE_ENOTFOUND);
	/* below v4 every request allows it */
	r = metadata(fd, 1, other, 1, false);
	cr_assert_eq(r.metadata.topics.v[0].error_code, 0);
	close(fd);
}

Test(metadata_off, no_auto_creation_when_disabled, .init = setup_no_auto, .fini = teardown)
{
	int fd = bt_connect(&t);
	const char *names[] = { "fresh" };
	vs_response r = metadata(fd, 4, names, 1, true);
	cr_assert_eq(r.metadata.topics.v[0].error_code, KE_UNKNOWN_TOPIC_OR_PARTITION);
	close(fd);
}

Test(metadata, find_coordinator)
{
	int fd = bt_connect(&t);
	vs_request q = { 0 };
	vs_response r;
	q.find_coordinator.key = bt_s("any group");
	for (int16_t v = 0; v <= 2; v++) {
		bt_call(&t, fd, VS_API_FIND_COORDINATOR, v, &q, &r);
		cr_assert_eq(r.find_coordinator.error_code, 0);
		cr_assert_eq(r.find_coordinator.node_id, 0);
		cr_assert(bt_is(r.find_coordinator.host, "127.0.0.1"));
		cr_assert_eq(r.find_coordinator.port, t.port);
	}
	q.find_coordinator.key_type = 1;
	bt_call(&t, fd, VS_API_FIND_COORDINATOR, 1, &q, &r);
	cr_assert_eq(r.find_coordinator.error_code, KE_COORDINATOR_NOT_AVAILABLE);
	cr_assert_eq(r.find_coordinator.node_id, -1);
	cr_assert(r.find_coordinator.error_message.len > 0);
	close(fd);
}

#define BASE 1700000000000LL

static vs_response list_offsets(int fd, int16_t v, const char *topic, const int32_t *parts,
				const int64_t *ts, int n)
{
	vs_list_offsets_partition p[8];
	for (int i = 0; i < n; i++)
		p[i] = (vs_list_offsets_partition){ parts[i], ts[i], 1 };
	vs_list_offsets_topic lt = { bt_s(topic), { p, n } };
	vs_request q = { 0 };
	q.list_offsets.replica_id = -1;
	q.list_offsets.topics.v = &lt;
	q.list_offsets.topics.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_LIST_OFFSETS, v, &q, &r);
	cr_assert_eq(r.list_offsets.topics.n, 1);
	cr_assert_eq(r.list_offsets.topics.v[0].partitions.n, n);
	return r;
}

Test(metadata, list_offsets_earliest_latest_and_by_time)
{
	bt_fill(&t, "alpha", 1, 10, BASE);
	int fd = bt_connect(&t);
	int32_t parts[] = { 1, 1, 1, 1, 1, 0, 7 };
	int64_t ts[] = { -2, -1, BASE + 3500, BASE + 60000, BASE - 5, -1, -1 };
	vs_response r = list_offsets(fd, 2, "alpha", parts, ts, 7);
	vs_list_offsets_partition_response *p = r.list_offsets.topics.v[0].partitions.v;
	int64_t want_off[] = { 0, 10, 4, -1, 0, 0, -1 };
	int64_t want_ts[] = { -1, -1, BASE + 4000, -1, BASE, -1, -1 };
	for (int i = 0; i < 7; i++) {
		cr_assert_eq(p[i].partition_index, parts[i]);
		cr_assert_eq(p[i].offset, want_off[i], "entry %d: offset %ld", i, (long)p[i].offset);
		cr_assert_eq(p[i].timestamp, want_ts[i], "entry %d: timestamp %ld", i,
			     (long)p[i].timestamp);
		cr_assert_eq(p[i].error_code, i == 6 ? KE_UNKNOWN_TOPIC_OR_PARTITION : 0, "entry %d", i);
	}
	r = list_offsets(fd, 1, "nosuch", parts, ts, 1);
	cr_assert_eq(r.list_offsets.topics.v[0].partitions.v[0].error_code,
		     KE_UNKNOWN_TOPIC_OR_PARTITION);
	close(fd);
}

Test(metadata, list_offsets_v0_answers_a_list)
{
	bt_fill(&t, "beta", 0, 3, BASE);
	int fd = bt_connect(&t);
	int32_t parts[] = { 0, 0, 0 };
	int64_t ts[] = { -1, -2, BASE + 60000 };
	vs_response r = list_offsets(fd, 0, "beta", parts, ts, 3);
	vs_list_offsets_partition_response *p = r.list_offsets.topics.v[0].partitions.v;
	cr_assert(p[0].old_style_offsets.n == 1 && p[0].old_style_offsets.v[0] == 3);
	cr_assert(p[1].old_style_offsets.n == 1 && p[1].old_style_offsets.v[0] == 0);
	cr_assert_eq(p[2].old_style_offsets.n, 0, "no record at that time: an empty list");
	close(fd);
}

/* Records written but not yet synced (sync_policy interval with an interval
 * no test reaches) are past the high watermark: "latest" must not point a
 * consumer at them, and Fetch's watermark must say the same. */
static void sync_rarely(varve_options *o)
{
	o->sync_policy = VARVE_SYNC_INTERVAL;
	o->sync_interval_ms = 3600 * 1000;
}

Test(list_offsets_hw, latest_is_the_durable_offset_not_the_end)
{
	bt_start_store(&t, sync_rarely, NULL);
	bt_topic(&t, "gamma", 1);
	bt_fill(&t, "gamma", 0, 10, BASE);
	int64_t start, end;
	cr_assert_eq(varve_offsets(t.db, "gamma", 0, &start, &end), 0);
	cr_assert_eq(end, 10, "the records are in the log");
	int fd = bt_connect(&t);
	int32_t parts[] = { 0 };
	int64_t ts[] = { -1 };
	vs_response r = list_offsets(fd, 2, "gamma", parts, ts, 1);
	cr_assert_eq(r.list_offsets.topics.v[0].partitions.v[0].offset, 0,
		     "latest before the sync: %ld",
		     (long)r.list_offsets.topics.v[0].partitions.v[0].offset);
	cr_assert_eq(varve_sync(t.db), 0);
	r = list_offsets(fd, 2, "gamma", parts, ts, 1);
	cr_assert_eq(r.list_offsets.topics.v[0].partitions.v[0].offset, 10,
		     "latest after the sync: %ld",
		     (long)r.list_offsets.topics.v[0].partitions.v[0].offset);
	close(fd);
	bt_stop(&t);
}
