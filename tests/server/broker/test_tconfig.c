/* SPDX-License-Identifier: MIT */
/*
 * test_tconfig.c -- Kafka topic names and configs <-> varve_topic_config
 * (server/broker/tconfig.c): which names are refused and why, each config's
 * accepted and refused values, that a refused value changes nothing, the
 * text describe reports with its default flag, DELETE / APPEND / SUBTRACT.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "broker/tconfig.h"
#include "protocol/kerrors.h"

static const vs_tcfg_limits lim = { 1000000, 1 << 30, 604800000 };

static vs_slice S(const char *z)
{
	return (vs_slice){ (const uint8_t *)z, strlen(z) };
}

static int16_t set(varve_topic_config *c, const char *name, const char *value, char *msg)
{
	return vs_tcfg_set(c, S(name), value ? S(value) : VS_SLICE_NULL, &lim, msg, VS_TCFG_MSG);
}

static const char *get(const varve_topic_config *c, const char *name, int *def)
{
	static char buf[128];
	int i = vs_tcfg_find(S(name));
	cr_assert(i >= 0, "%s not found", name);
	cr_assert_eq(vs_tcfg_get(c, (size_t)i, &lim, buf, sizeof buf, def), 0);
	return buf;
}

Test(names, kafka_rules_and_the_store_limit)
{
	char msg[VS_TCFG_MSG], n200[201], n201[202], n250[251];
	memset(n200, 'a', 200), n200[200] = 0;
	memset(n201, 'a', 201), n201[201] = 0;
	memset(n250, 'a', 250), n250[250] = 0;
	cr_assert_eq(vs_topic_name_check(S("orders.v1_A-9"), msg, sizeof msg), KE_NONE);
	cr_assert_str_empty(msg);
	cr_assert_eq(vs_topic_name_check(S(n200), msg, sizeof msg), KE_NONE);
	cr_assert_eq(vs_topic_name_check(S(n201), msg, sizeof msg), KE_INVALID_TOPIC_EXCEPTION);
	cr_assert(strstr(msg, "varve") && strstr(msg, "200"), "%s", msg);
	cr_assert_eq(vs_topic_name_check(S(n250), msg, sizeof msg), KE_INVALID_TOPIC_EXCEPTION);
	cr_assert(strstr(msg, "249"), "%s", msg);
	const char *bad[] = { "", ".", "..", "a b", "a/b", "caf\xc3\xa9", "a\nb" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_eq(vs_topic_name_check(S(bad[i]), msg, sizeof msg),
			     KE_INVALID_TOPIC_EXCEPTION, "%s", bad[i]);
	cr_assert_eq(vs_topic_name_check(VS_SLICE_NULL, msg, sizeof msg), KE_INVALID_TOPIC_EXCEPTION);
	const uint8_t nul[] = { 'a', 0, 'b' };
	cr_assert_eq(vs_topic_name_check((vs_slice){ nul, 3 }, msg, sizeof msg),
		     KE_INVALID_TOPIC_EXCEPTION);
}

Test(configs, table_is_sorted_and_found)
{
	size_t n = vs_tcfg_count();
	cr_assert(n >= 12);
	for (size_t i = 0; i < n; i++) {
		if (i)
			cr_assert(strcmp(vs_tcfg_name(i - 1), vs_tcfg_name(i)) < 0);
		cr_assert_eq(vs_tcfg_find(S(vs_tcfg_name(i))), (int)i);
	}
	cr_assert_null(vs_tcfg_name(n));
	cr_assert_eq(vs_tcfg_find(S("retention")), -1);
	cr_assert_eq(vs_tcfg_find(S("retention.ms.x")), -1);
	cr_assert_eq(vs_tcfg_find(VS_SLICE_NULL), -1);
}

Test(configs, every_value_is_mapped_onto_the_store_config)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	char msg[VS_TCFG_MSG];
	cr_assert_eq(set(&c, "retention.ms", " 3600000 ", msg), KE_NONE);
	cr_assert_eq(c.retention_ms, 3600000);
	cr_assert_eq(set(&c, "retention.bytes", "-1", msg), KE_NONE);
	cr_assert_eq(c.retention_bytes, -1);
	cr_assert_eq(set(&c, "retention.bytes", "+1048576", msg), KE_NONE);
	cr_assert_eq(c.retention_bytes, 1048576);
	cr_assert_eq(set(&c, "cleanup.policy", "compact", msg), KE_NONE);
	cr_assert_eq(c.cleanup_policy, VARVE_CLEANUP_COMPACT);
	cr_assert_eq(set(&c, "cleanup.policy", "delete, compact", msg), KE_NONE);
	cr_assert_eq(c.cleanup_policy, VARVE_CLEANUP_COMPACT_DELETE);
	cr_assert_eq(set(&c, "cleanup.policy", "delete", msg), KE_NONE);
	cr_assert_eq(c.cleanup_policy, VARVE_CLEANUP_DELETE);
	cr_assert_eq(set(&c, "segment.bytes", "1024", msg), KE_NONE);
	cr_assert_eq(c.segment_bytes, 1024);
	cr_assert_eq(set(&c, "segment.ms", "60000", msg), KE_NONE);
	cr_assert_eq(c.segment_ms, 60000);
	cr_assert_eq(set(&c, "delete.retention.ms", "0", msg), KE_NONE);
	cr_assert_eq(c.delete_retention_ms, 0);
	cr_assert_eq(set(&c, "message.timestamp.type", "LogAppendTime", msg), KE_NONE);
	cr_assert_eq(c.timestamp_type, VARVE_TIMESTAMP_APPEND);
	cr_assert_eq(set(&c, "compression.type", "lz4", msg), KE_NONE);
	cr_assert_eq(c.codec, VARVE_CODEC_LZ4);
	cr_assert_eq(set(&c, "compression.type", "producer", msg), KE_NONE);
	cr_assert_eq(c.codec, VARVE_CODEC_NONE);
	cr_assert_eq(set(&c, "min.cleanable.dirty.ratio", "0.25", msg), KE_NONE);
	cr_assert_float_eq(c.min_cleanable_dirty_ratio, 0.25, 1e-12);
	/* accepted, nothing stored: the store has one value */
	cr_assert_eq(set(&c, "min.compaction.lag.ms", "0", msg), KE_NONE);
	cr_assert_eq(set(&c, "min.insync.replicas", "1", msg), KE_NONE);
	cr_assert_eq(set(&c, "max.message.bytes", "1000000", msg), KE_NONE);
	cr_assert_str_empty(msg);
}

Test(configs, refused_values_change_nothing)
{
	static const char *const bad[][2] = {
		{ "retention.ms", "soon" },       { "retention.ms", "-2" },
		{ "retention.ms", "" },           { "retention.ms", "9223372036854775808" },
		{ "retention.ms", "1 2" },        { "retention.bytes", "-" },
		{ "cleanup.policy", "" },         { "cleanup.policy", "delete,," },
		{ "cleanup.policy", "remove" },   { "segment.bytes", "1023" },
		{ "segment.bytes", "2147483648" }, { "segment.ms", "0" },
		{ "delete.retention.ms", "-1" },  { "message.timestamp.type", "createtime" },
		{ "compression.type", "gzip" },   { "compression.type", "zstd" },
		{ "min.cleanable.dirty.ratio", "1.5" }, { "min.cleanable.dirty.ratio", "nan" },
		{ "min.compaction.lag.ms", "1" }, { "min.insync.replicas", "2" },
		{ "max.message.bytes", "1000001" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		varve_topic_config c = VARVE_TOPIC_CONFIG_INIT, before = c;
		char msg[VS_TCFG_MSG];
		cr_assert_eq(set(&c, bad[i][0], bad[i][1], msg), KE_INVALID_CONFIG, "%s=%s", bad[i][0],
			     bad[i][1]);
		cr_assert(strstr(msg, bad[i][0]), "message names the config: %s", msg);
		cr_assert(!memcmp(&c, &before, sizeof c), "%s=%s changed the config", bad[i][0],
			  bad[i][1]);
	}
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	char msg[VS_TCFG_MSG];
	cr_assert_eq(set(&c, "retention.ms", NULL, msg), KE_INVALID_CONFIG);
	cr_assert_eq(set(&c, "no.such.thing", "1", msg), KE_INVALID_CONFIG);
	cr_assert_str_eq(msg, "Unknown topic config name: no.such.thing");
	cr_assert_eq(set(&c, "retention.ms", "-9223372036854775808", msg), KE_INVALID_CONFIG);
}

Test(configs, describe_text_and_default_flags)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	int def;
	cr_assert_str_eq(get(&c, "retention.ms", &def), "-1");
	cr_assert(def);
	cr_assert_str_eq(get(&c, "cleanup.policy", &def), "delete");
	cr_assert(def);
	cr_assert_str_eq(get(&c, "segment.bytes", &def), "1073741824"); /* the store's */
	cr_assert(def);
	cr_assert_str_eq(get(&c, "segment.ms", &def), "604800000");
	cr_assert_str_eq(get(&c, "max.message.bytes", &def), "1000000");
	cr_assert_str_eq(get(&c, "compression.type", &def), "uncompressed");
	cr_assert_str_eq(get(&c, "min.cleanable.dirty.ratio", &def), "0.5");
	c.retention_ms = 42;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT_DELETE;
	c.segment_bytes = 4096;
	c.codec = VARVE_CODEC_LZ4;
	c.timestamp_type = VARVE_TIMESTAMP_APPEND;
	cr_assert_str_eq(get(&c, "retention.ms", &def), "42");
	cr_assert(!def);
	cr_assert_str_eq(get(&c, "cleanup.policy", &def), "compact,delete");
	cr_assert(!def);
	cr_assert_str_eq(get(&c, "segment.bytes", &def), "4096");
	cr_assert(!def);
	cr_assert_str_eq(get(&c, "compression.type", &def), "lz4");
	cr_assert_str_eq(get(&c, "message.timestamp.type", &def), "LogAppendTime");
	char buf[8];
	cr_assert_eq(vs_tcfg_get(&c, vs_tcfg_count(), &lim, buf, sizeof buf, &def), -1);
}

Test(configs, text_round_trips_through_set)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.retention_ms = 123;
	c.retention_bytes = 456;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.delete_retention_ms = 789;
	c.min_cleanable_dirty_ratio = 0.1;
	varve_topic_config d = VARVE_TOPIC_CONFIG_INIT;
	for (size_t i = 0; i < vs_tcfg_count(); i++) {
		char buf[128], msg[VS_TCFG_MSG];
		int def;
		vs_tcfg_get(&c, i, &lim, buf, sizeof buf, &def);
		cr_assert_eq(set(&d, vs_tcfg_name(i), buf, msg), KE_NONE, "%s=%s: %s", vs_tcfg_name(i),
			     buf, msg);
	}
	cr_assert_eq(d.retention_ms, 123);
	cr_assert_eq(d.retention_bytes, 456);
	cr_assert_eq(d.cleanup_policy, VARVE_CLEANUP_COMPACT);
	cr_assert_eq(d.delete_retention_ms, 789);
	cr_assert_float_eq(d.min_cleanable_dirty_ratio, 0.1, 1e-12);
}

Test(configs, reset_and_list_operations)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	char msg[VS_TCFG_MSG];
	c.retention_ms = 5;
	c.segment_bytes = 2048;
	cr_assert_eq(vs_tcfg_reset(&c, S("retention.ms"), msg, sizeof msg), KE_NONE);
	cr_assert_eq(c.retention_ms, -1);
	cr_assert_eq(vs_tcfg_reset(&c, S("segment.bytes"), msg, sizeof msg), KE_NONE);
	cr_assert_eq(c.segment_bytes, 0);
	cr_assert_eq(vs_tcfg_reset(&c, S("nope"), msg, sizeof msg), KE_INVALID_CONFIG);
	cr_assert_eq(vs_tcfg_list_op(&c, S("cleanup.policy"), S("compact"), 1, msg, sizeof msg),
		     KE_NONE);
	cr_assert_eq(c.cleanup_policy, VARVE_CLEANUP_COMPACT_DELETE);
	cr_assert_eq(vs_tcfg_list_op(&c, S("cleanup.policy"), S("delete"), 0, msg, sizeof msg),
		     KE_NONE);
	cr_assert_eq(c.cleanup_policy, VARVE_CLEANUP_COMPACT);
	cr_assert_eq(vs_tcfg_list_op(&c, S("cleanup.policy"), S("compact"), 0, msg, sizeof msg),
		     KE_INVALID_CONFIG, "an empty policy");
	cr_assert_eq(c.cleanup_policy, VARVE_CLEANUP_COMPACT);
	cr_assert_eq(vs_tcfg_list_op(&c, S("retention.ms"), S("1"), 1, msg, sizeof msg),
		     KE_INVALID_CONFIG);
	cr_assert(strstr(msg, "not a list"), "%s", msg);
	cr_assert_eq(vs_tcfg_list_op(&c, S("cleanup.policy"), S("zap"), 1, msg, sizeof msg),
		     KE_INVALID_CONFIG);
}
