/* SPDX-License-Identifier: MIT */
/*
 * test_h_configs.c -- DescribeConfigs (server/broker/h_configs.c) against a
 * broker on a thread: every topic config or the ones asked for, the
 * default flags (v0 is_default, v1+ config_source), unknown topics, the
 * broker's read-only set, resources we do not have. AlterConfigs and
 * IncrementalAlterConfigs when the store can alter a topic.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bt_util.h"
#include "broker/tconfig.h"

static bt t;

static void setup(void)
{
	bt_start(&t, NULL);
	varve_topic_config cfg = VARVE_TOPIC_CONFIG_INIT;
	cfg.retention_ms = 5000;
	cr_assert_eq(varve_topic_create(t.db, "conf", &cfg), 0);
}

static void teardown(void)
{
	bt_stop(&t);
}

TestSuite(configs, .init = setup, .fini = teardown);

static const vs_describe_configs_entry *entry(const vs_describe_configs_result *res, const char *name)
{
	for (int32_t i = 0; i < res->configs.n; i++)
		if (bt_is(res->configs.v[i].name, name))
			return &res->configs.v[i];
	return NULL;
}

static vs_response describe(int fd, int16_t v, int8_t type, const char *name, vs_slice *keys,
			    int32_t nkeys)
{
	vs_describe_configs_resource res = { type, bt_s(name), { keys, nkeys } };
	vs_request q = { 0 };
	q.describe_configs.resources.v = &res;
	q.describe_configs.resources.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_DESCRIBE_CONFIGS, v, &q, &r);
	cr_assert_eq(r.describe_configs.results.n, 1);
	return r;
}

Test(configs, every_topic_config_with_its_source)
{
	int fd = bt_connect(&t);
	vs_response r = describe(fd, 1, 2, "conf", NULL, -1);
	const vs_describe_configs_result *res = &r.describe_configs.results.v[0];
	cr_assert_eq(res->error_code, 0);
	cr_assert_eq(res->configs.n, (int32_t)vs_tcfg_count());
	const vs_describe_configs_entry *e = entry(res, "retention.ms");
	cr_assert(e && bt_is(e->value, "5000") && e->config_source == 1 && !e->read_only);
	e = entry(res, "cleanup.policy");
	cr_assert(e && bt_is(e->value, "delete") && e->config_source == 5);
	cr_assert_eq(e->synonyms.n, 0);
	r = describe(fd, 0, 2, "conf", NULL, -1);
	res = &r.describe_configs.results.v[0];
	cr_assert(entry(res, "retention.ms") && !entry(res, "retention.ms")->is_default);
	cr_assert(entry(res, "segment.ms")->is_default);
	close(fd);
}

Test(configs, only_the_keys_asked_for)
{
	int fd = bt_connect(&t);
	vs_slice keys[] = { bt_s("retention.ms"), bt_s("no.such.key") };
	vs_response r = describe(fd, 2, 2, "conf", keys, 2);
	const vs_describe_configs_result *res = &r.describe_configs.results.v[0];
	cr_assert_eq(res->configs.n, 1);
	cr_assert(bt_is(res->configs.v[0].name, "retention.ms"));
	close(fd);
}

Test(configs, unknown_topic_broker_and_other_resources)
{
	int fd = bt_connect(&t);
	vs_response r = describe(fd, 1, 2, "nosuch", NULL, -1);
	cr_assert_eq(r.describe_configs.results.v[0].error_code, KE_UNKNOWN_TOPIC_OR_PARTITION);
	r = describe(fd, 1, 4, "0", NULL, -1);
	const vs_describe_configs_result *res = &r.describe_configs.results.v[0];
	cr_assert_eq(res->error_code, 0);
	const vs_describe_configs_entry *e = entry(res, "broker.id");
	cr_assert(e && bt_is(e->value, "0") && e->read_only && e->config_source == 4);
	e = entry(res, "advertised.listeners");
	char want[64];
	snprintf(want, sizeof want, "PLAINTEXT://127.0.0.1:%d", t.port);
	cr_assert(e && bt_is(e->value, want));
	cr_assert(entry(res, "auto.create.topics.enable") && entry(res, "num.partitions"));
	r = describe(fd, 1, 4, "", NULL, -1);
	cr_assert_eq(r.describe_configs.results.v[0].error_code, 0);
	r = describe(fd, 1, 4, "7", NULL, -1);
	cr_assert_eq(r.describe_configs.results.v[0].error_code, KE_INVALID_REQUEST);
	r = describe(fd, 1, 8, "x", NULL, -1);
	cr_assert_eq(r.describe_configs.results.v[0].error_code, KE_INVALID_REQUEST);
	close(fd);
}

static vs_response alter(int fd, int16_t key, const char *topic, vs_alter_configs_entry *e, int32_t n,
			 bool validate_only)
{
	vs_alter_configs_resource res = { 2, bt_s(topic), { e, n } };
	vs_request q = { 0 };
	q.alter_configs.resources.v = &res;
	q.alter_configs.resources.n = 1;
	q.alter_configs.validate_only = validate_only;
	vs_response r;
	bt_call(&t, fd, key, key == VS_API_ALTER_CONFIGS ? 1 : 1, &q, &r);
	return r;
}

Test(configs, alter_replaces_and_incremental_changes)
{
	int fd = bt_connect(&t);
	vs_alter_configs_entry set[] = { { bt_s("cleanup.policy"), 0, bt_s("compact") } };
	vs_response r = alter(fd, VS_API_ALTER_CONFIGS, "conf", set, 1, false);
	cr_assert_eq(r.alter_configs.responses.v[0].error_code, 0);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "conf", &cfg), 0);
	cr_assert_eq(cfg.cleanup_policy, VARVE_CLEANUP_COMPACT);
	cr_assert_eq(cfg.retention_ms, -1, "AlterConfigs resets what it does not name");
	vs_alter_configs_entry inc[] = { { bt_s("retention.ms"), 0, bt_s("777") },
					 { bt_s("cleanup.policy"), 2, bt_s("delete") } };
	r = alter(fd, VS_API_INCREMENTAL_ALTER_CONFIGS, "conf", inc, 2, false);
	cr_assert_eq(r.alter_configs.responses.v[0].error_code, 0);
	cr_assert_eq(varve_topic_describe(t.db, "conf", &cfg), 0);
	cr_assert_eq(cfg.retention_ms, 777);
	cr_assert_eq(cfg.cleanup_policy, VARVE_CLEANUP_COMPACT_DELETE);
	vs_alter_configs_entry bad[] = { { bt_s("retention.ms"), 0, bt_s("soon") } };
	r = alter(fd, VS_API_INCREMENTAL_ALTER_CONFIGS, "conf", bad, 1, false);
	cr_assert_eq(r.alter_configs.responses.v[0].error_code, KE_INVALID_CONFIG);
	vs_alter_configs_entry dry[] = { { bt_s("retention.ms"), 0, bt_s("1") } };
	r = alter(fd, VS_API_INCREMENTAL_ALTER_CONFIGS, "conf", dry, 1, true);
	cr_assert_eq(r.alter_configs.responses.v[0].error_code, 0);
	cr_assert_eq(varve_topic_describe(t.db, "conf", &cfg), 0);
	cr_assert_eq(cfg.retention_ms, 777, "validate_only changed the topic");
	close(fd);
}
