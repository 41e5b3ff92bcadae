/* SPDX-License-Identifier: MIT */
/*
 * test_h_topics.c -- CreateTopics and DeleteTopics (server/broker/
 * h_topics.c) against a broker on a thread: what is created in the store
 * (partitions, mapped configs), Kafka's errors with their messages, a name
 * repeated in one request, validate_only; deletion of known, unknown and
 * repeated names. CreatePartitions and DeleteRecords when the store has
 * the calls they need.
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
	bt_topic(&t, "old", 1);
}

static void teardown(void)
{
	bt_stop(&t);
}

TestSuite(topics, .init = setup, .fini = teardown);

Test(topics, create_with_configs_and_errors)
{
	int fd = bt_connect(&t);
	vs_create_topics_config good_cfg[] = { { bt_s("retention.ms"), bt_s("60000") },
					       { bt_s("cleanup.policy"), bt_s("compact") } };
	vs_create_topics_config bad_cfg[] = { { bt_s("retention.ms"), bt_s("x") } };
	int32_t brokers[] = { 0 };
	vs_create_topics_assignment asg = { 0, { brokers, 1 } };
	vs_create_topics_topic topics[] = {
		{ bt_s("made"), 4, 1, { NULL, 0 }, { good_cfg, 2 } },
		{ bt_s("dflt"), -1, -1, { NULL, 0 }, { NULL, 0 } },
		{ bt_s("old"), 1, 1, { NULL, 0 }, { NULL, 0 } },
		{ bt_s("rf2"), 1, 2, { NULL, 0 }, { NULL, 0 } },
		{ bt_s("zero"), 0, 1, { NULL, 0 }, { NULL, 0 } },
		{ bt_s("many"), 5000, 1, { NULL, 0 }, { NULL, 0 } },
		{ bt_s("assigned"), -1, -1, { &asg, 1 }, { NULL, 0 } },
		{ bt_s("badcfg"), 1, 1, { NULL, 0 }, { bad_cfg, 1 } },
		{ bt_s("dup"), 1, 1, { NULL, 0 }, { NULL, 0 } },
		{ bt_s("dup"), 1, 1, { NULL, 0 }, { NULL, 0 } },
		{ bt_s("a b"), 1, 1, { NULL, 0 }, { NULL, 0 } },
	};
	int16_t want[] = { 0, 0, KE_TOPIC_ALREADY_EXISTS, KE_INVALID_REPLICATION_FACTOR,
			   KE_INVALID_PARTITIONS, KE_INVALID_PARTITIONS, KE_INVALID_REPLICA_ASSIGNMENT,
			   KE_INVALID_CONFIG, KE_INVALID_REQUEST, KE_INVALID_REQUEST,
			   KE_INVALID_TOPIC_EXCEPTION };
	size_t n = sizeof topics / sizeof *topics;
	vs_request q = { 0 };
	q.create_topics.topics.v = topics;
	q.create_topics.topics.n = (int32_t)n;
	vs_response r;
	bt_call(&t, fd, VS_API_CREATE_TOPICS, 4, &q, &r);
	cr_assert_eq(r.create_topics.topics.n, (int32_t)n);
	for (size_t i = 0; i < n; i++) {
		vs_create_topics_result *res = &r.create_topics.topics.v[i];
		cr_assert(vs_slice_eq(res->name, (const char *)topics[i].name.ptr) ||
				  res->name.len == topics[i].name.len,
			  "name %zu", i);
		cr_assert_eq(res->error_code, want[i], "topic %zu: error %d", i, res->error_code);
		if (want[i])
			cr_assert(res->error_message.len > 0, "topic %zu: no message", i);
	}
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "made", &cfg), 0);
	cr_assert_eq(cfg.partitions, 4);
	cr_assert_eq(cfg.retention_ms, 60000);
	cr_assert_eq(cfg.cleanup_policy, VARVE_CLEANUP_COMPACT);
	cr_assert_eq(varve_topic_describe(t.db, "dflt", &cfg), 0);
	cr_assert_eq(cfg.partitions, 1);
	cr_assert_eq(varve_topic_describe(t.db, "dup", &cfg), VARVE_ENOTFOUND);
	cr_assert_eq(varve_topic_describe(t.db, "badcfg", &cfg), VARVE_ENOTFOUND);
	close(fd);
}

Test(topics, validate_only_changes_nothing)
{
	int fd = bt_connect(&t);
	vs_create_topics_topic topics[] = { { bt_s("dry"), 2, 1, { NULL, 0 }, { NULL, 0 } },
					    { bt_s("old"), 1, 1, { NULL, 0 }, { NULL, 0 } } };
	vs_request q = { 0 };
	q.create_topics.topics.v = topics;
	q.create_topics.topics.n = 2;
	q.create_topics.validate_only = true;
	vs_response r;
	bt_call(&t, fd, VS_API_CREATE_TOPICS, 1, &q, &r);
	cr_assert_eq(r.create_topics.topics.v[0].error_code, 0);
	cr_assert_eq(r.create_topics.topics.v[1].error_code, KE_TOPIC_ALREADY_EXISTS);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "dry", &cfg), VARVE_ENOTFOUND);
	close(fd);
}

Test(topics, delete_known_unknown_repeated)
{
	bt_topic(&t, "gone", 2);
	bt_topic(&t, "twice", 1);
	int fd = bt_connect(&t);
	vs_slice names[] = { bt_s("gone"), bt_s("never"), bt_s("twice"), bt_s("twice") };
	vs_request q = { 0 };
	q.delete_topics.topic_names.v = names;
	q.delete_topics.topic_names.n = 4;
	vs_response r;
	bt_call(&t, fd, VS_API_DELETE_TOPICS, 3, &q, &r);
	cr_assert_eq(r.delete_topics.responses.n, 4);
	int16_t want[] = { 0, KE_UNKNOWN_TOPIC_OR_PARTITION, KE_INVALID_REQUEST, KE_INVALID_REQUEST };
	for (int i = 0; i < 4; i++)
		cr_assert_eq(r.delete_topics.responses.v[i].error_code, want[i], "name %d", i);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "gone", &cfg), VARVE_ENOTFOUND);
	cr_assert_eq(varve_topic_describe(t.db, "twice", &cfg), 0);
	close(fd);
}

Test(topics, create_partitions_grows_a_topic)
{
	int fd = bt_connect(&t);
	vs_create_partitions_topic tp[] = { { bt_s("old"), 3, { NULL, -1 } },
					    { bt_s("old2"), 3, { NULL, -1 } } };
	vs_request q = { 0 };
	q.create_partitions.topics.v = tp;
	q.create_partitions.topics.n = 2;
	vs_response r;
	bt_call(&t, fd, VS_API_CREATE_PARTITIONS, 1, &q, &r);
	cr_assert_eq(r.create_partitions.results.v[0].error_code, 0);
	cr_assert_eq(r.create_partitions.results.v[1].error_code, KE_UNKNOWN_TOPIC_OR_PARTITION);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "old", &cfg), 0);
	cr_assert_eq(cfg.partitions, 3);
	bt_call(&t, fd, VS_API_CREATE_PARTITIONS, 1, &q, &r);
	cr_assert_eq(r.create_partitions.results.v[0].error_code, KE_INVALID_PARTITIONS);
	close(fd);
}

Test(topics, delete_records_moves_the_log_start)
{
	bt_fill(&t, "old", 0, 10, 1700000000000LL);
	int fd = bt_connect(&t);
	vs_delete_records_partition p[] = { { 0, 4 }, { 3, 1 } };
	vs_delete_records_topic tp = { bt_s("old"), { p, 2 } };
	vs_request q = { 0 };
	q.delete_records.topics.v = &tp;
	q.delete_records.topics.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_DELETE_RECORDS, 1, &q, &r);
	vs_delete_records_partition_result *res = r.delete_records.topics.v[0].partitions.v;
	cr_assert_eq(res[0].error_code, 0);
	cr_assert_eq(res[0].low_watermark, 4);
	cr_assert_eq(res[1].error_code, KE_UNKNOWN_TOPIC_OR_PARTITION);
	int64_t start;
	cr_assert_eq(varve_offsets(t.db, "old", 0, &start, NULL), 0);
	cr_assert_eq(start, 4);
	close(fd);
}
