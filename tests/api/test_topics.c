/* SPDX-License-Identifier: MIT */
/* API: topic create / delete / list / describe. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(topics, .init = t_setup, .fini = t_teardown, .timeout = 60);

static varve_topic_config unusual(void)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = 3;
	c.codec = VARVE_CODEC_LZ4;
	c.cleanup_policy = VARVE_CLEANUP_DELETE;
	c.retention_ms = 86400000LL * 30;
	c.retention_bytes = 1LL << 30;
	c.retention_records = 1000000;
	c.segment_bytes = 1 << 20;
	c.segment_ms = 3600000;
	c.delete_retention_ms = 5000;
	c.min_cleanable_dirty_ratio = 0.25;
	c.timestamp_type = VARVE_TIMESTAMP_APPEND;
	c.max_future_skew_ms = 60000;
	c.partitioner = VARVE_PARTITIONER_ROUND_ROBIN;
	c.dedup_window_ms = 0;
	c.retention_hard_bytes = 1LL << 34;
	c.retain_for_groups = "billing,audit";
	return c;
}

static void assert_same(const varve_topic_config *a, const varve_topic_config *b)
{
	cr_assert_eq(a->partitions, b->partitions);
	cr_assert_eq(a->codec, b->codec);
	cr_assert_eq(a->cleanup_policy, b->cleanup_policy);
	cr_assert_eq(a->retention_ms, b->retention_ms);
	cr_assert_eq(a->retention_bytes, b->retention_bytes);
	cr_assert_eq(a->retention_records, b->retention_records);
	cr_assert_eq(a->segment_bytes, b->segment_bytes);
	cr_assert_eq(a->segment_ms, b->segment_ms);
	cr_assert_eq(a->delete_retention_ms, b->delete_retention_ms);
	cr_assert_eq(a->min_cleanable_dirty_ratio, b->min_cleanable_dirty_ratio);
	cr_assert_eq(a->timestamp_type, b->timestamp_type);
	cr_assert_eq(a->max_future_skew_ms, b->max_future_skew_ms);
	cr_assert_eq(a->partitioner, b->partitioner);
	cr_assert_eq(a->dedup_window_ms, b->dedup_window_ms);
	cr_assert_eq(a->retention_hard_bytes, b->retention_hard_bytes);
	if (b->retain_for_groups)
		cr_assert_str_eq(a->retain_for_groups ? a->retain_for_groups : "(null)",
				 b->retain_for_groups);
	else
		cr_assert_null(a->retain_for_groups);
}

static void list_is(varve_db *db, const char *const *want, size_t n)
{
	char **names = NULL;
	size_t count = 99;
	t_ok(varve_topic_list(db, &names, &count));
	cr_assert_eq(count, n, "%zu topics, want %zu", count, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(names[i], want[i]);
	varve_strings_free(names, count);
}

Test(topics, create_list_describe_delete)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	list_is(db, NULL, 0);
	const char *order[] = { "zeta", "alpha", "Mid", "beta-2", "beta.1" };
	for (int i = 0; i < 5; i++)
		t_topic(db, order[i], (uint32_t)(i + 1), VARVE_CODEC_NONE);
	const char *sorted[] = { "Mid", "alpha", "beta-2", "beta.1", "zeta" };
	list_is(db, sorted, 5);
	t_assert_rc(varve_topic_create(db, "alpha", NULL), VARVE_EEXISTS);
	varve_topic_config c = { .version = VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "beta-2", &c));
	cr_assert_eq(c.partitions, 4);
	cr_assert_eq(c.version, VARVE_TOPIC_CONFIG_VERSION);
	t_assert_rc(varve_topic_describe(db, "nope", &c), VARVE_ENOTFOUND);
	t_ok(varve_topic_delete(db, "beta-2"));
	const char *after[] = { "Mid", "alpha", "beta.1", "zeta" };
	list_is(db, after, 4);
	t_assert_rc(varve_topic_delete(db, "beta-2"), VARVE_ENOTFOUND);
	t_assert_rc(varve_topic_describe(db, "beta-2", &c), VARVE_ENOTFOUND);
	varve_record r = t_rec("k", 1, "v", 1);
	t_assert_rc(varve_produce(db, "beta-2", &r, NULL, NULL), VARVE_ENOTFOUND);
	varve_iter *it;
	t_assert_rc(varve_iter_open(db, "beta-2", 0, 0, &it), VARVE_ENOTFOUND);
	t_close(db);
	/* the same after reopening */
	db = t_open(dir, &o);
	list_is(db, after, 4);
	t_ok(varve_topic_describe(db, "zeta", &c));
	cr_assert_eq(c.partitions, 1);
	t_close(db);
}

Test(topics, default_config_when_null)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_ok(varve_topic_create(db, "d", NULL));
	varve_topic_config want = VARVE_TOPIC_CONFIG_INIT, got = { .version = 1 };
	t_ok(varve_topic_describe(db, "d", &got));
	assert_same(&got, &want);
	t_close(db);
}

Test(topics, config_survives_reopen)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	varve_topic_config c = unusual();
	char groups[32];
	snprintf(groups, sizeof groups, "%s", "billing,audit");
	c.retain_for_groups = groups;
	t_ok(varve_topic_create(db, "cfg", &c));
	memset(groups, 'X', sizeof groups - 1); /* create must have copied it */
	varve_topic_config want = unusual(), got = { .version = VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "cfg", &got));
	assert_same(&got, &want);
	t_close(db);
	for (int round = 0; round < 2; round++) {
		db = t_open(dir, &o);
		memset(&got, 0, sizeof got);
		got.version = VARVE_TOPIC_CONFIG_VERSION;
		t_ok(varve_topic_describe(db, "cfg", &got));
		assert_same(&got, &want);
		/* the partitions are there */
		for (uint32_t p = 0; p < 3; p++)
			t_produce_to(db, "cfg", (int32_t)p, "k", "v", VARVE_TIMESTAMP_NOW);
		t_close(db);
	}
}

Test(topics, invalid_configs_are_refused_and_create_nothing)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_snap *before = t_snapshot(dir);
	varve_topic_config c;
#define BAD(field, value)                                                                   \
	do {                                                                                \
		c = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;                            \
		c.field = value;                                                            \
		int rc_ = varve_topic_create(db, "x", &c);                                  \
		cr_assert_eq(rc_, VARVE_EINVAL, #field " = " #value ": %s", varve_errmsg(rc_)); \
		cr_assert_gt(strlen(varve_last_error()->message), 0);                       \
	} while (0)
	BAD(version, 0);
	BAD(version, 2);
	BAD(partitions, 0);
	BAD(partitions, VARVE_MAX_PARTITIONS + 1);
	BAD(codec, 7);
	BAD(cleanup_policy, 0);
	BAD(retention_ms, -2);
	BAD(segment_bytes, 100);
	BAD(segment_ms, -1);
	BAD(min_cleanable_dirty_ratio, 2.0);
	BAD(min_cleanable_dirty_ratio, NAN);
	BAD(timestamp_type, 9);
	BAD(partitioner, 9);
	BAD(retention_hard_bytes, -7);
	BAD(retain_for_groups, "a,,b");
	BAD(retain_for_groups, "../x");
#undef BAD
	t_snap *after = t_snapshot(dir);
	char why[512];
	cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0, "%s", why);
	t_snap_free(before);
	t_snap_free(after);
	list_is(db, NULL, 0);
	varve_topic_config ci;
	t_assert_rc(varve_topic_config_init(&ci, 0), VARVE_EINVAL);
	t_assert_rc(varve_topic_config_init(&ci, 2), VARVE_EINVAL);
	t_assert_rc(varve_topic_config_init(NULL, 1), VARVE_EINVAL);
	t_ok(varve_topic_config_init(&ci, VARVE_TOPIC_CONFIG_VERSION));
	varve_topic_config d = VARVE_TOPIC_CONFIG_INIT;
	cr_assert_eq(ci.version, d.version);
	assert_same(&ci, &d);
	t_close(db);
}

Test(topics, delete_removes_the_data_from_disk)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "gone", 3, VARVE_CODEC_NONE);
	t_topic(db, "kept", 1, VARVE_CODEC_NONE);
	char v[500];
	memset(v, 'v', sizeof v);
	for (int i = 0; i < 60; i++) {
		varve_record r = t_rec("k", 1, v, sizeof v);
		r.partition = i % 3;
		t_ok(varve_produce(db, "gone", &r, NULL, NULL));
	}
	t_produce_to(db, "kept", 0, "k", "v", VARVE_TIMESTAMP_NOW);
	const char *tdir = t_fmt("%s/topics/gone", dir);
	cr_assert(t_exists(tdir));
	t_ok(varve_topic_delete(db, "gone"));
	cr_assert(!t_exists(tdir), "the topic's files are still there");
	cr_assert(t_exists(t_fmt("%s/topics/kept", dir)));
	t_close(db);
	db = t_open(dir, &o);
	const char *want[] = { "kept" };
	list_is(db, want, 1);
	cr_assert(!t_exists(tdir));
	cr_assert_eq(t_count(db, "kept", 0), 1);
	/* the name is free again, and the new topic starts empty */
	t_topic(db, "gone", 2, VARVE_CODEC_NONE);
	for (uint32_t p = 0; p < 2; p++)
		cr_assert_eq(t_count(db, "gone", p), 0);
	t_close(db);
}

Test(topics, delete_with_an_open_iterator)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 10; i++)
		t_produce_to(db, "t", 0, "k", t_fmt("value %d", i), VARVE_TIMESTAMP_NOW);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	t_ok(varve_iter_next(it, &r));
	t_ok(varve_topic_delete(db, "t"));
	/* gone for everyone else */
	varve_iter *it2;
	t_assert_rc(varve_iter_open(db, "t", 0, 0, &it2), VARVE_ENOTFOUND);
	varve_record rec = t_rec("k", 1, "v", 1);
	t_assert_rc(varve_produce(db, "t", &rec, NULL, NULL), VARVE_ENOTFOUND);
	/* the iterator keeps reading what it holds */
	for (int i = 1; i < 10; i++) {
		t_ok(varve_iter_next(it, &r));
		cr_assert_eq(r->offset, i);
		const char *want = t_fmt("value %d", i);
		cr_assert(r->value_len == strlen(want) && memcmp(r->value, want, r->value_len) == 0);
	}
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	/* the name cannot be reused while the old files are in use */
	int rc = varve_topic_create(db, "t", NULL);
	cr_assert_neq(rc, VARVE_OK, "re-created a topic whose old data is still being read");
	varve_iter_close(it);
	/* once the iterator is closed, the old data goes and the name is free */
	cr_assert(!t_exists(t_fmt("%s/topics/t", dir)), "files outlived the last iterator");
	t_ok(varve_topic_create(db, "t", NULL));
	cr_assert_eq(t_count(db, "t", 0), 0, "the new topic holds old records");
	t_produce_to(db, "t", 0, "k", "fresh", VARVE_TIMESTAMP_NOW);
	t_close(db);
	db = t_open(dir, &o);
	cr_assert_eq(t_count(db, "t", 0), 1);
	t_close(db);
}

Test(topics, partitions_exist_and_no_more)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "p5", 5, VARVE_CODEC_NONE);
	for (uint32_t p = 0; p < 5; p++) {
		cr_assert(t_exists(t_part_dir(dir, "p5", p)));
		varve_iter *it;
		t_ok(varve_iter_open(db, "p5", p, 0, &it));
		varve_iter_close(it);
	}
	cr_assert(!t_exists(t_part_dir(dir, "p5", 5)));
	varve_iter *it;
	t_assert_rc(varve_iter_open(db, "p5", 5, 0, &it), VARVE_ENOTFOUND);
	t_close(db);
}

/* One type for partitions everywhere (int32_t, as on Kafka's wire): a
 * negative number is a range error for every call that names a partition;
 * on produce only VARVE_PARTITION_ANY (-1) is special. */
Test(topics, partition_numbers_are_range_checked)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "p2", 2, VARVE_CODEC_NONE);
	int32_t bad[] = { -2, -1, INT32_MIN };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int32_t p = bad[i];
		varve_iter *it;
		int64_t off;
		varve_partition_info info = { VARVE_PARTITION_INFO_VERSION };
		varve_lag lag = { VARVE_LAG_VERSION };
		t_assert_rc(varve_iter_open(db, "p2", p, 0, &it), VARVE_EINVAL);
		t_assert_rc(varve_offsets(db, "p2", p, NULL, NULL), VARVE_EINVAL);
		t_assert_rc(varve_partition_info_get(db, "p2", p, &info), VARVE_EINVAL);
		t_assert_rc(varve_offset_for_time(db, "p2", p, 0, &off), VARVE_EINVAL);
		t_assert_rc(varve_group_commit(db, "g", "p2", p, 0, NULL), VARVE_EINVAL);
		t_assert_rc(varve_group_offset(db, "g", "p2", p, &off), VARVE_EINVAL);
		t_assert_rc(varve_group_lag(db, "g", "p2", p, &lag), VARVE_EINVAL);
		cr_assert(strstr(varve_last_error()->message, "invalid partition"), "%s",
			  varve_last_error()->message);
	}
	varve_record r = t_rec_s("k", "v");
	r.partition = -2;
	t_assert_rc(varve_produce(db, "p2", &r, NULL, NULL), VARVE_EINVAL);
	r.partition = 2;
	t_assert_rc(varve_produce(db, "p2", &r, NULL, NULL), VARVE_ENOTFOUND);
	r.partition = VARVE_PARTITION_ANY;
	int32_t got;
	t_ok(varve_produce(db, "p2", &r, &got, NULL));
	cr_assert(got == 0 || got == 1);
	t_close(db);
}
