/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kmsg_admin.c: ApiVersions, Metadata,
 * CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
 * AlterConfigs and IncrementalAlterConfigs.
 *   - golden vectors from librdkafka and kafka-python (exact fields, and
 *     byte-exact re-encoding);
 *   - round trips with every field set at every version, and defaults;
 *   - ApiVersions' tagged fields (v3): written only when not default, read
 *     back, unknown tags skipped, a known tag of the wrong size refused;
 *   - byte images: ApiVersions v0 and v3 (flexible, with and without tagged
 *     fields), Metadata v0 and v4, IncrementalAlterConfigs v1 (flexible).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "kt_util.h"

TestSuite(golden_admin, .timeout = 30);
TestSuite(roundtrip_admin, .timeout = 30);
TestSuite(image_admin, .timeout = 30);

/* ---- golden ------------------------------------------------------------------------ */

Test(golden_admin, api_versions_v3_librdkafka_and_v0_kafka_python)
{
	kt_req k;
	kt_req_load(&k, "rdkafka-ApiVersions-v3", VS_API_API_VERSIONS, 3);
	cr_assert_eq(k.h.header_version, 2);
	cr_assert(kt_is(k.h.client_id, "rdkafka"));
	cr_assert(kt_is(k.req.api_versions.client_software_name, "librdkafka"));
	cr_assert(kt_is(k.req.api_versions.client_software_version, "2.0.2"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-producer-ApiVersions-v0", VS_API_API_VERSIONS, 0);
	cr_assert_eq(k.h.header_version, 1);
	cr_assert(kt_is(k.h.client_id, "kp-producer"));
	cr_assert(kt_is(k.req.api_versions.client_software_name, ""), "absent in v0: \"\"");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_admin, metadata_librdkafka_v4)
{
	kt_req k;
	kt_req_load(&k, "rdkafka-Metadata-v4-brokers", VS_API_METADATA, 4);
	cr_assert_eq(k.req.metadata.topics.n, 0, "brokers only: an empty list");
	cr_assert_eq(k.req.metadata.allow_auto_topic_creation, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "rdkafka-Metadata-v4-all", VS_API_METADATA, 4);
	cr_assert_eq(k.req.metadata.topics.n, -1, "kcat -L: null, every topic");
	cr_assert_eq(k.req.metadata.allow_auto_topic_creation, true);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "rdkafka-Metadata-v4-topic", VS_API_METADATA, 4);
	cr_assert_eq(k.req.metadata.topics.n, 1);
	cr_assert(kt_is(k.req.metadata.topics.v[0].name, "cap"));
	cr_assert_eq(k.req.metadata.allow_auto_topic_creation, true, "a producer creates topics");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-consumer-Metadata-v4", VS_API_METADATA, 4);
	cr_assert(kt_is(k.req.metadata.topics.v[0].name, "cap"));
	cr_assert_eq(k.req.metadata.allow_auto_topic_creation, false, "a consumer does not");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_admin, metadata_kafka_python_v0_v1_v4)
{
	kt_req k;
	kt_req_load(&k, "kp-producer-Metadata-v0", VS_API_METADATA, 0);
	cr_assert_eq(k.req.metadata.topics.n, 0, "v0: empty means every topic");
	cr_assert_eq(k.req.metadata.allow_auto_topic_creation, true, "absent before v4: true");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-producer-Metadata-v1", VS_API_METADATA, 1);
	cr_assert_eq(k.req.metadata.topics.n, -1);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-Metadata-v4", VS_API_METADATA, 4);
	cr_assert_eq(k.req.metadata.topics.n, -1);
	cr_assert_eq(k.req.metadata.allow_auto_topic_creation, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_admin, create_topics_v4_and_v3)
{
	kt_req k;
	kt_req_load(&k, "ck-admin-CreateTopics-v4", VS_API_CREATE_TOPICS, 4);
	const vs_create_topics_request *c = &k.req.create_topics;
	cr_assert_eq(c->topics.n, 1);
	const vs_create_topics_topic *t = &c->topics.v[0];
	cr_assert(kt_is(t->name, "ck-new"));
	cr_assert_eq(t->num_partitions, 3);
	cr_assert_eq(t->replication_factor, 1);
	cr_assert_eq(t->assignments.n, 0);
	cr_assert_eq(t->configs.n, 1);
	cr_assert(kt_is(t->configs.v[0].name, "retention.ms"));
	cr_assert(kt_is(t->configs.v[0].value, "60000"));
	cr_assert_eq(c->timeout_ms, 5000);
	cr_assert_eq(c->validate_only, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-CreateTopics-v3", VS_API_CREATE_TOPICS, 3);
	t = &k.req.create_topics.topics.v[0];
	cr_assert(kt_is(t->name, "kp-new"));
	cr_assert_eq(t->num_partitions, 2);
	cr_assert(kt_is(t->configs.v[0].name, "cleanup.policy"));
	cr_assert(kt_is(t->configs.v[0].value, "compact"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_admin, delete_topics_and_create_partitions)
{
	kt_req k;
	kt_req_load(&k, "ck-admin-DeleteTopics-v1", VS_API_DELETE_TOPICS, 1);
	cr_assert_eq(k.req.delete_topics.topic_names.n, 1);
	cr_assert(kt_is(k.req.delete_topics.topic_names.v[0], "ck-old"));
	cr_assert_eq(k.req.delete_topics.timeout_ms, 5000);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-DeleteTopics-v3", VS_API_DELETE_TOPICS, 3);
	cr_assert(kt_is(k.req.delete_topics.topic_names.v[0], "kp-old"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "ck-admin-CreatePartitions-v0", VS_API_CREATE_PARTITIONS, 0);
	const vs_create_partitions_request *c = &k.req.create_partitions;
	cr_assert(kt_is(c->topics.v[0].name, "cap"));
	cr_assert_eq(c->topics.v[0].count, 4);
	cr_assert_eq(c->topics.v[0].assignments.n, -1, "null: the broker places them");
	cr_assert_eq(c->timeout_ms, 5000);
	cr_assert_eq(c->validate_only, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-CreatePartitions-v1", VS_API_CREATE_PARTITIONS, 1);
	cr_assert_eq(k.req.create_partitions.topics.v[0].count, 3);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_admin, describe_and_alter_configs)
{
	kt_req k;
	kt_req_load(&k, "ck-admin-DescribeConfigs-v1", VS_API_DESCRIBE_CONFIGS, 1);
	const vs_describe_configs_request *d = &k.req.describe_configs;
	cr_assert_eq(d->resources.n, 1);
	cr_assert_eq(d->resources.v[0].resource_type, 2, "TOPIC");
	cr_assert(kt_is(d->resources.v[0].resource_name, "cap"));
	cr_assert_eq(d->resources.v[0].configuration_keys.n, -1, "null: every key");
	cr_assert_eq(d->include_synonyms, true);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-DescribeConfigs-v2", VS_API_DESCRIBE_CONFIGS, 2);
	cr_assert_eq(k.req.describe_configs.include_synonyms, true);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "ck-admin-AlterConfigs-v0", VS_API_ALTER_CONFIGS, 0);
	const vs_alter_configs_request *a = &k.req.alter_configs;
	cr_assert_eq(a->resources.v[0].resource_type, 2);
	cr_assert(kt_is(a->resources.v[0].resource_name, "cap"));
	cr_assert(kt_is(a->resources.v[0].configs.v[0].name, "retention.ms"));
	cr_assert(kt_is(a->resources.v[0].configs.v[0].value, "1000"));
	cr_assert_eq(a->validate_only, false);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-AlterConfigs-v1", VS_API_ALTER_CONFIGS, 1);
	cr_assert(kt_is(k.req.alter_configs.resources.v[0].configs.v[0].value, "5000"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

/* ---- round trips ------------------------------------------------------------------- */

Test(roundtrip_admin, metadata_every_version)
{
	vs_metadata_request_topic rt[2] = { { kt_s("a") }, { kt_s("b") } };
	vs_request req;
	memset(&req, 0, sizeof req);
	req.metadata = (vs_metadata_request){ { rt, 2 }, false };
	vs_metadata_broker br[2] = { { 0, kt_s("h0"), 9092, kt_s("r1") }, { 1, kt_s("h1"), 9093, VS_SLICE_NULL } };
	int32_t reps[2] = { 0, 1 }, isr[1] = { 0 };
	vs_metadata_partition mp[1] = { { 0, 0, 0, { reps, 2 }, { isr, 1 } } };
	vs_metadata_topic mt[2] = { { 0, kt_s("a"), true, { mp, 1 } },
				    { KE_UNKNOWN_TOPIC_OR_PARTITION, kt_s("b"), false, { NULL, 0 } } };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.metadata = (vs_metadata_response){ 3, { br, 2 }, kt_s("cluster-x"), 1, { mt, 2 } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	for (int16_t v = 0; v <= 4; v++) {
		vs_request rq;
		vs_response rs;
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_METADATA, v, &req, &a, &rq);
		cr_assert_eq(rq.metadata.topics.n, 2);
		cr_assert(kt_is(rq.metadata.topics.v[1].name, "b"));
		cr_assert_eq(rq.metadata.allow_auto_topic_creation, v >= 4 ? false : true);
		kt_response_roundtrip(VS_API_METADATA, v, &resp, &a, &rs);
		const vs_metadata_response *m = &rs.metadata;
		cr_assert_eq(m->throttle_time_ms, v >= 3 ? 3 : 0);
		cr_assert_eq(m->brokers.n, 2);
		cr_assert_eq(m->brokers.v[1].port, 9093);
		if (v >= 1)
			cr_assert(kt_is(m->brokers.v[0].rack, "r1"));
		cr_assert_null(m->brokers.v[v >= 1 ? 1 : 0].rack.ptr);
		cr_assert(v >= 2 ? kt_is(m->cluster_id, "cluster-x") : m->cluster_id.ptr == NULL);
		cr_assert_eq(m->controller_id, v >= 1 ? 1 : -1);
		cr_assert_eq(m->topics.v[0].is_internal, v >= 1);
		cr_assert_eq(m->topics.v[0].partitions.v[0].replica_nodes.v[1], 1);
		cr_assert_eq(m->topics.v[1].error_code, KE_UNKNOWN_TOPIC_OR_PARTITION);
	}
	/* v1+: null asks for every topic; v0 cannot say null */
	req.metadata.topics.n = -1;
	req.metadata.topics.v = NULL;
	vs_request rq;
	kt_request_roundtrip(VS_API_METADATA, 1, &req, &a, &rq);
	cr_assert_eq(rq.metadata.topics.n, -1);
	kt_request_roundtrip(VS_API_METADATA, 0, &req, &a, &rq);
	cr_assert_eq(rq.metadata.topics.n, 0, "written as an empty list in v0");
	vs_arena_free(&a);
}

Test(roundtrip_admin, api_versions_every_version)
{
	vs_api_versions_key keys[40];
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	cr_assert_eq(vs_api_versions_fill(&resp.api_versions, keys, 40), 28);
	resp.api_versions.throttle_time_ms = 7;
	resp.api_versions.finalized_features_epoch = -1;
	vs_request req;
	memset(&req, 0, sizeof req);
	req.api_versions = (vs_api_versions_request){ kt_s("varve-test"), kt_s("0.1") };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	for (int16_t v = 0; v <= 3; v++) {
		vs_request rq;
		vs_response rs;
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_API_VERSIONS, v, &req, &a, &rq);
		cr_assert(kt_is(rq.api_versions.client_software_name, v >= 3 ? "varve-test" : ""));
		kt_response_roundtrip(VS_API_API_VERSIONS, v, &resp, &a, &rs);
		cr_assert_eq(rs.api_versions.api_keys.n, 28);
		cr_assert_eq(rs.api_versions.api_keys.v[0].api_key, VS_API_PRODUCE);
		cr_assert_eq(rs.api_versions.api_keys.v[0].max_version, 7);
		cr_assert_eq(rs.api_versions.throttle_time_ms, v >= 1 ? 7 : 0);
		cr_assert_eq(rs.api_versions.finalized_features_epoch, -1);
	}
	cr_assert_eq(vs_api_versions_fill(&resp.api_versions, keys, 3), 3, "cut to the room given");
	vs_arena_free(&a);
}

Test(roundtrip_admin, api_versions_v3_tagged_fields)
{
	vs_api_versions_feature sf[1] = { { kt_s("metadata.version"), 1, 14 } };
	vs_api_versions_finalized_feature ff[1] = { { kt_s("metadata.version"), 14, 14 } };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.api_versions.supported_features.v = sf;
	resp.api_versions.supported_features.n = 1;
	resp.api_versions.finalized_features_epoch = 77;
	resp.api_versions.finalized_features.v = ff;
	resp.api_versions.finalized_features.n = 1;
	resp.api_versions.zk_migration_ready = true;
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_response rs;
	kt_response_roundtrip(VS_API_API_VERSIONS, 3, &resp, &a, &rs);
	const vs_api_versions_response *g = &rs.api_versions;
	cr_assert_eq(g->supported_features.n, 1);
	cr_assert(kt_is(g->supported_features.v[0].name, "metadata.version"));
	cr_assert_eq(g->supported_features.v[0].max_version, 14);
	cr_assert_eq(g->finalized_features_epoch, 77);
	cr_assert_eq(g->finalized_features.v[0].min_version_level, 14);
	cr_assert(g->zk_migration_ready);
	/* in v2 the tagged fields do not exist */
	kt_response_roundtrip(VS_API_API_VERSIONS, 2, &resp, &a, &rs);
	cr_assert_eq(rs.api_versions.supported_features.n, 0);
	cr_assert_eq(rs.api_versions.finalized_features_epoch, -1);
	cr_assert_not(rs.api_versions.zk_migration_ready);
	vs_arena_free(&a);
}

Test(roundtrip_admin, api_versions_v3_unknown_and_bad_tags)
{
	static uint8_t body[64];
	vs_arena a;
	vs_arena_init(&a, 1 << 16);
	vs_response rs;
	vs_rbuf r;
	/* error 0, api_keys [] (compact 1), throttle 0, tags: 2 -- unknown tag 9
	 * (3 bytes) then tag 1 (epoch 5) */
	size_t n = kt_hex("0000 01 00000000 02 09 03 aabbcc 01 08 0000000000000005", body, sizeof body);
	vs_rbuf_init(&r, body, n);
	cr_assert_eq(vs_response_decode(VS_API_API_VERSIONS, 3, &r, &a, &rs), KE_NONE);
	cr_assert_eq(rs.api_versions.finalized_features_epoch, 5);
	cr_assert_eq(vs_rbuf_left(&r), 0);
	/* tag 1 with 9 bytes: a known field must fill its tag exactly */
	n = kt_hex("0000 01 00000000 01 01 09 0000000000000005 ff", body, sizeof body);
	vs_rbuf_init(&r, body, n);
	cr_assert_eq(vs_response_decode(VS_API_API_VERSIONS, 3, &r, &a, &rs), KE_INVALID_REQUEST);
	/* tag 1 with 4 bytes: too short for an INT64 */
	n = kt_hex("0000 01 00000000 01 01 04 00000005", body, sizeof body);
	vs_rbuf_init(&r, body, n);
	cr_assert_eq(vs_response_decode(VS_API_API_VERSIONS, 3, &r, &a, &rs), KE_INVALID_REQUEST);
	vs_arena_free(&a);
}

Test(roundtrip_admin, topics_partitions_every_version)
{
	int32_t brokers[2] = { 0, 1 };
	vs_create_topics_assignment as[1] = { { 0, { brokers, 2 } } };
	vs_create_topics_config cf[2] = { { kt_s("retention.ms"), kt_s("1") }, { kt_s("x"), VS_SLICE_NULL } };
	vs_create_topics_topic ct[1] = { { kt_s("new"), -1, -1, { as, 1 }, { cf, 2 } } };
	vs_create_topics_result cr[1] = { { kt_s("new"), KE_TOPIC_ALREADY_EXISTS, kt_s("exists") } };
	vs_slice names[2] = { kt_s("d1"), kt_s("d2") };
	vs_delete_topics_result dr[1] = { { kt_s("d1"), 0 } };
	vs_create_partitions_assignment pa[1] = { { { brokers, 1 } } };
	vs_create_partitions_topic pt[1] = { { kt_s("p"), 6, { pa, 1 } } };
	vs_create_partitions_result pr[1] = { { kt_s("p"), KE_INVALID_PARTITIONS, VS_SLICE_NULL } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 4; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.create_topics = (vs_create_topics_request){ { ct, 1 }, 30000, true };
		resp.create_topics = (vs_create_topics_response){ 9, { cr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_CREATE_TOPICS, v, &req, &a, &rq);
		const vs_create_topics_topic *t = &rq.create_topics.topics.v[0];
		cr_assert_eq(t->num_partitions, -1);
		cr_assert_eq(t->assignments.v[0].broker_ids.v[1], 1);
		cr_assert_null(t->configs.v[1].value.ptr);
		cr_assert_eq(rq.create_topics.validate_only, v >= 1);
		kt_response_roundtrip(VS_API_CREATE_TOPICS, v, &resp, &a, &rs);
		cr_assert_eq(rs.create_topics.throttle_time_ms, v >= 2 ? 9 : 0);
		cr_assert(v >= 1 ? kt_is(rs.create_topics.topics.v[0].error_message, "exists")
				 : rs.create_topics.topics.v[0].error_message.ptr == NULL);
	}
	for (int16_t v = 0; v <= 3; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.delete_topics = (vs_delete_topics_request){ { names, 2 }, 100 };
		resp.delete_topics = (vs_delete_topics_response){ 4, { dr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_DELETE_TOPICS, v, &req, &a, &rq);
		cr_assert(kt_is(rq.delete_topics.topic_names.v[1], "d2"));
		kt_response_roundtrip(VS_API_DELETE_TOPICS, v, &resp, &a, &rs);
		cr_assert_eq(rs.delete_topics.throttle_time_ms, v >= 1 ? 4 : 0);
	}
	for (int16_t v = 0; v <= 1; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.create_partitions = (vs_create_partitions_request){ { pt, 1 }, 100, true };
		resp.create_partitions = (vs_create_partitions_response){ 0, { pr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_CREATE_PARTITIONS, v, &req, &a, &rq);
		cr_assert_eq(rq.create_partitions.topics.v[0].assignments.v[0].broker_ids.n, 1);
		cr_assert(rq.create_partitions.validate_only);
		kt_response_roundtrip(VS_API_CREATE_PARTITIONS, v, &resp, &a, &rs);
		cr_assert_null(rs.create_partitions.results.v[0].error_message.ptr);
	}
	vs_arena_free(&a);
}

Test(roundtrip_admin, configs_every_version)
{
	vs_slice keys[1] = { kt_s("retention.ms") };
	vs_describe_configs_resource dres[2] = { { 2, kt_s("t"), { keys, 1 } }, { 4, kt_s("0"), { NULL, -1 } } };
	vs_describe_configs_synonym syn[1] = { { kt_s("log.retention.ms"), kt_s("5"), 5 } };
	vs_describe_configs_entry ent[1] = { { kt_s("retention.ms"), kt_s("5"), false, true, 5, false, { syn, 1 } } };
	vs_describe_configs_result dr[1] = { { 0, VS_SLICE_NULL, 2, kt_s("t"), { ent, 1 } } };
	vs_alter_configs_entry ae[2] = { { kt_s("a"), 0, kt_s("1") }, { kt_s("b"), 1, VS_SLICE_NULL } };
	vs_alter_configs_resource ar[1] = { { 2, kt_s("t"), { ae, 2 } } };
	vs_alter_configs_resource_response arr[1] = { { KE_INVALID_CONFIG, kt_s("no"), 2, kt_s("t") } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 2; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.describe_configs = (vs_describe_configs_request){ { dres, 2 }, true };
		resp.describe_configs = (vs_describe_configs_response){ 1, { dr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_DESCRIBE_CONFIGS, v, &req, &a, &rq);
		cr_assert_eq(rq.describe_configs.resources.v[1].configuration_keys.n, -1);
		cr_assert_eq(rq.describe_configs.include_synonyms, v >= 1);
		kt_response_roundtrip(VS_API_DESCRIBE_CONFIGS, v, &resp, &a, &rs);
		const vs_describe_configs_entry *e = &rs.describe_configs.results.v[0].configs.v[0];
		cr_assert_eq(e->is_default, v == 0, "v0 only");
		cr_assert_eq(e->config_source, v >= 1 ? 5 : -1);
		cr_assert_eq(e->synonyms.n, v >= 1 ? 1 : 0);
	}
	for (int16_t v = 0; v <= 1; v++) {
		for (int incremental = 0; incremental <= 1; incremental++) {
			int16_t key = incremental ? VS_API_INCREMENTAL_ALTER_CONFIGS : VS_API_ALTER_CONFIGS;
			memset(&req, 0, sizeof req);
			memset(&resp, 0, sizeof resp);
			req.alter_configs = (vs_alter_configs_request){ { ar, 1 }, true };
			resp.alter_configs = (vs_alter_configs_response){ 2, { arr, 1 } };
			vs_arena_reset(&a);
			kt_request_roundtrip(key, v, &req, &a, &rq);
			const vs_alter_configs_entry *e = &rq.alter_configs.resources.v[0].configs.v[1];
			cr_assert_null(e->value.ptr);
			cr_assert_eq(e->config_operation, incremental ? 1 : 0, "only incremental sends it");
			kt_response_roundtrip(key, v, &resp, &a, &rs);
			cr_assert(kt_is(rs.alter_configs.responses.v[0].error_message, "no"));
		}
	}
	vs_arena_free(&a);
}

/* ---- images -------------------------------------------------------------------------- */

static void small_api_versions(vs_response *resp, vs_api_versions_key *k)
{
	k[0] = (vs_api_versions_key){ 0, 3, 7 };
	k[1] = (vs_api_versions_key){ 18, 0, 3 };
	memset(resp, 0, sizeof *resp);
	resp->api_versions.api_keys.v = k;
	resp->api_versions.api_keys.n = 2;
	resp->api_versions.finalized_features_epoch = -1;
}

Test(image_admin, api_versions_v0_unsupported_version_answer)
{
	/* what the broker sends to ApiVersions v4 (KIP-511): v0, error 35 */
	vs_api_versions_key k[2];
	vs_response resp;
	small_api_versions(&resp, k);
	resp.api_versions.error_code = KE_UNSUPPORTED_VERSION;
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_API_VERSIONS, 0, 1, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000016 00000001"
				"0023"                       /* error_code 35 */
				"00000002 0000 0003 0007 0012 0000 0003"); /* api_keys */
	vs_wbuf_free(&w);
}

Test(image_admin, api_versions_v3_flexible)
{
	vs_api_versions_key k[2];
	vs_response resp;
	small_api_versions(&resp, k);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_API_VERSIONS, 3, 1, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "0000001a"
				"00000001"                 /* header v0 even in v3: no tags */
				"0000"                     /* error_code */
				"03"                       /* compact array: 2 keys */
				"0000 0003 0007 00"        /* Produce 3-7, no tags */
				"0012 0000 0003 00"        /* ApiVersions 0-3 */
				"00000000"                 /* throttle_time_ms */
				"00");                     /* tagged fields: all default */
	vs_wbuf_free(&w);
}

Test(image_admin, api_versions_v3_with_tagged_fields)
{
	vs_api_versions_key k[2];
	vs_response resp;
	small_api_versions(&resp, k);
	resp.api_versions.api_keys.n = 1;
	resp.api_versions.finalized_features_epoch = 2;
	resp.api_versions.zk_migration_ready = true;
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_API_VERSIONS, 3, 1, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000020 00000001 0000 02 0000 0003 0007 00 00000000"
				"02"                       /* two tagged fields */
				"01 08 0000000000000002"   /* tag 1: finalized_features_epoch */
				"03 01 01");               /* tag 3: zk_migration_ready */
	vs_wbuf_free(&w);
}

static void metadata_response(vs_response *resp, vs_metadata_broker *b, vs_metadata_topic *t,
			      vs_metadata_partition *p, int32_t *nodes)
{
	nodes[0] = 0;
	*b = (vs_metadata_broker){ 0, kt_s("h"), 9092, VS_SLICE_NULL };
	*p = (vs_metadata_partition){ 0, 0, 0, { nodes, 1 }, { nodes, 1 } };
	*t = (vs_metadata_topic){ 0, kt_s("t"), false, { p, 1 } };
	memset(resp, 0, sizeof *resp);
	resp->metadata = (vs_metadata_response){ 0, { b, 1 }, kt_s("c"), 0, { t, 1 } };
}

Test(image_admin, metadata_v0)
{
	vs_response resp;
	vs_metadata_broker b;
	vs_metadata_topic t;
	vs_metadata_partition p;
	int32_t nodes[1];
	metadata_response(&resp, &b, &t, &p, nodes);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_METADATA, 0, 2, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "0000003a 00000002"
				"00000001 00000000 0001 68 00002384" /* brokers: 0, "h", 9092 */
				"00000001 0000 0001 74"           /* topics: no error, "t" */
				"00000001 0000 00000000 00000000" /* partition 0, leader 0 */
				"00000001 00000000"               /* replicas [0] */
				"00000001 00000000");             /* isr [0] */
	vs_wbuf_free(&w);
}

Test(image_admin, metadata_v4)
{
	vs_response resp;
	vs_metadata_broker b;
	vs_metadata_topic t;
	vs_metadata_partition p;
	int32_t nodes[1];
	metadata_response(&resp, &b, &t, &p, nodes);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_METADATA, 4, 2, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000048 00000002"
				"00000000"                           /* throttle_time_ms (v3+) */
				"00000001 00000000 0001 68 00002384 ffff" /* rack: null (v1+) */
				"0001 63"                            /* cluster_id "c" (v2+) */
				"00000000"                           /* controller_id (v1+) */
				"00000001 0000 0001 74 00"           /* is_internal (v1+) */
				"00000001 0000 00000000 00000000"
				"00000001 00000000 00000001 00000000");
	vs_wbuf_free(&w);
}

Test(image_admin, incremental_alter_configs_v1_flexible)
{
	vs_alter_configs_resource_response r[1] = { { 0, VS_SLICE_NULL, 2, kt_s("t") } };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.incremental_alter_configs = (vs_incremental_alter_configs_response){ 0, { r, 1 } };
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_INCREMENTAL_ALTER_CONFIGS, 1, 4, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000012 00000004 00" /* header v1 */
				"00000000"             /* throttle_time_ms */
				"02"                   /* compact array: 1 response */
				"0000 00 02 0274 00"   /* error 0, message null, TOPIC, "t", tags */
				"00");
	vs_wbuf_free(&w);
}
