/* SPDX-License-Identifier: MIT */
/* Unit tests: topic configuration codec, partitioner, metadata log
 * (topic.c, meta.c). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "support.h"
#include "topic.h"
#include "util.h"

TestSuite(topic_codec, .timeout = 10);
TestSuite(partitioner, .timeout = 10);
TestSuite(meta, .init = t_setup, .fini = t_teardown, .timeout = 30);

static varve_topic_config unusual(void)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = 4096;
	c.codec = VARVE_CODEC_LZ4;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT_DELETE;
	c.retention_ms = 123456789012LL;
	c.retention_bytes = 1LL << 40;
	c.retention_records = 77;
	c.segment_bytes = 1024;
	c.segment_ms = 60000;
	c.delete_retention_ms = 0;
	c.min_cleanable_dirty_ratio = 0.125;
	c.timestamp_type = VARVE_TIMESTAMP_APPEND;
	c.max_future_skew_ms = 5;
	c.partitioner = VARVE_PARTITIONER_ROUND_ROBIN;
	c.dedup_window_ms = 99;
	c.retention_hard_bytes = 1LL << 33;
	c.retain_for_groups = "billing,audit-2,x.y_z";
	return c;
}

static void assert_cfg_eq(const varve_topic_config *a, const varve_topic_config *b)
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
	if (!b->retain_for_groups)
		cr_assert_null(a->retain_for_groups);
	else
		cr_assert_str_eq(a->retain_for_groups, b->retain_for_groups);
}

Test(topic_codec, round_trip_defaults_and_unusual_values)
{
	varve_topic_config d = VARVE_TOPIC_CONFIG_INIT, u = unusual();
	const varve_topic_config *cs[2] = { &d, &u };
	const int64_t created[2] = { 0, 1700000000123LL };
	for (int i = 0; i < 2; i++) {
		uint8_t buf[VV_TOPIC_CONFIG_MAX];
		char groups[VV_MAX_RETAIN_GROUPS + 1];
		memset(buf, 0xcc, sizeof buf);
		size_t n = vv_topic_config_encode(cs[i], created[i], buf);
		size_t gl = cs[i]->retain_for_groups ? strlen(cs[i]->retain_for_groups) : 0;
		cr_assert_eq(n, VV_TOPIC_CONFIG_FIXED + 10 + gl);
		cr_assert_eq(buf[0], 1, "value format byte");
		varve_topic_config back;
		memset(&back, 0, sizeof back);
		int64_t cm = -1;
		cr_assert_eq(vv_topic_config_decode(buf, n, &back, &cm, groups), 0);
		assert_cfg_eq(&back, cs[i]);
		cr_assert_eq(back.version, VARVE_TOPIC_CONFIG_VERSION);
		cr_assert_eq(cm, created[i]);
		cr_assert_eq(vv_topic_config_decode(buf, n, &back, NULL, groups), 0);
		/* a length that disagrees with the group text is malformed */
		cr_assert_eq(vv_topic_config_decode(buf, n + 1, &back, NULL, groups), VARVE_ECORRUPT);
		cr_assert_eq(vv_topic_config_decode(buf, n - 1, &back, NULL, groups), VARVE_ECORRUPT);
	}
}

Test(topic_codec, newer_format_is_eformat_and_malformed_is_ecorrupt)
{
	varve_topic_config c = unusual(), back, before;
	uint8_t buf[VV_TOPIC_CONFIG_MAX + 16];
	char groups[VV_MAX_RETAIN_GROUPS + 1];
	size_t n = vv_topic_config_encode(&c, 5, buf);
	/* every byte defined, padding included, for the memcmp below */
	memset(&back, 0xa5, sizeof back);
	memcpy(&before, &back, sizeof back);
	for (unsigned v = 2; v <= 255; v++) {
		buf[0] = (uint8_t)v;
		cr_assert_eq(vv_topic_config_decode(buf, n, &back, NULL, groups), VARVE_EFORMAT,
			     "format byte %u", v);
		/* a newer value may be longer or shorter */
		cr_assert_eq(vv_topic_config_decode(buf, sizeof buf, &back, NULL, groups),
			     VARVE_EFORMAT);
		cr_assert_eq(vv_topic_config_decode(buf, 1, &back, NULL, groups), VARVE_EFORMAT);
	}
	cr_assert(memcmp(&before, &back, sizeof back) == 0, "output written on failure");
	buf[0] = 0;
	cr_assert_eq(vv_topic_config_decode(buf, n, &back, NULL, groups), VARVE_ECORRUPT);
	buf[0] = 1;
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(vv_topic_config_decode(buf, k, &back, NULL, groups), VARVE_ECORRUPT,
			     "short value of %zu bytes", k);
	cr_assert_eq(vv_topic_config_decode(buf, n, &back, NULL, groups), 0);
	/* a group length past the maximum */
	vv_store16(buf + VV_TOPIC_CONFIG_FIXED + 8, VV_MAX_RETAIN_GROUPS + 1);
	cr_assert_eq(vv_topic_config_decode(buf, VV_TOPIC_CONFIG_FIXED + 10 + VV_MAX_RETAIN_GROUPS + 1,
					    &back, NULL, groups),
		     VARVE_ECORRUPT);
}

Test(topic_codec, decoded_values_are_validated)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT, back;
	uint8_t buf[VV_TOPIC_CONFIG_MAX];
	char groups[VV_MAX_RETAIN_GROUPS + 1];
	/* patch single fields of a valid encoding */
	const struct {
		const char *what;
		size_t off;
		int width;
		uint64_t v;
	} bad[] = {
		{ "0 partitions", 1, 4, 0 },
		{ "4097 partitions", 1, 4, 4097 },
		{ "codec 2", 5, 1, 2 },
		{ "cleanup 0", 6, 1, 0 },
		{ "cleanup 4", 6, 1, 4 },
		{ "timestamp type 2", 7, 1, 2 },
		{ "partitioner 2", 8, 1, 2 },
		{ "retention_ms -2", 9, 8, (uint64_t)-2 },
		{ "segment_bytes 1000", 33, 8, 1000 },
		{ "segment_ms -1", 41, 8, (uint64_t)-1 },
		{ "dirty ratio 2.0", 57, 8, 0x4000000000000000ull },
		{ "dirty ratio NaN", 57, 8, 0x7ff8000000000000ull },
		{ "skew -1", 65, 8, (uint64_t)-1 },
		{ "dedup -1", 73, 8, (uint64_t)-1 },
		{ "hard bytes -2", 89, 8, (uint64_t)-2 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = vv_topic_config_encode(&c, 0, buf);
		if (bad[i].width == 1)
			buf[bad[i].off] = (uint8_t)bad[i].v;
		else if (bad[i].width == 4)
			vv_store32(buf + bad[i].off, (uint32_t)bad[i].v);
		else
			vv_store64(buf + bad[i].off, bad[i].v);
		cr_assert_eq(vv_topic_config_decode(buf, n, &back, NULL, groups), VARVE_ECORRUPT,
			     "%s decoded", bad[i].what);
	}
}

Test(topic_codec, validate_rules)
{
	varve_topic_config ok = VARVE_TOPIC_CONFIG_INIT;
	cr_assert_eq(vv_topic_config_validate(&ok), 0);
	ok = unusual();
	cr_assert_eq(vv_topic_config_validate(&ok), 0);
	cr_assert_eq(vv_topic_config_validate(NULL), VARVE_EINVAL);
	varve_topic_config c;
#define BAD(field, value)                                                                 \
	do {                                                                              \
		c = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;                          \
		c.field = value;                                                          \
		cr_assert_eq(vv_topic_config_validate(&c), VARVE_EINVAL, #field " = " #value); \
	} while (0)
	BAD(version, 0);
	BAD(partitions, 0);
	BAD(partitions, VARVE_MAX_PARTITIONS + 1);
	BAD(codec, -1);
	BAD(codec, 2);
	BAD(cleanup_policy, 0);
	BAD(cleanup_policy, 4);
	BAD(retention_ms, -2);
	BAD(retention_bytes, -2);
	BAD(retention_records, -2);
	BAD(segment_bytes, -1);
	BAD(segment_bytes, 1023);
	BAD(segment_bytes, (int64_t)UINT32_MAX + 1);
	BAD(segment_ms, -1);
	BAD(delete_retention_ms, -1);
	BAD(max_future_skew_ms, -1);
	BAD(dedup_window_ms, -1);
	BAD(min_cleanable_dirty_ratio, -0.01);
	BAD(min_cleanable_dirty_ratio, 1.01);
	BAD(min_cleanable_dirty_ratio, NAN);
	BAD(timestamp_type, 2);
	BAD(partitioner, -1);
	BAD(retention_hard_bytes, -2);
	BAD(retain_for_groups, "a,");
	BAD(retain_for_groups, ",a");
	BAD(retain_for_groups, "a,,b");
	/* group names are 1..255 bytes of anything but NUL (Kafka's group ids):
	 * "a b" and ".." are names; one of 256 bytes is not */
	char long_group[VARVE_MAX_GROUP_NAME + 2];
	memset(long_group, 'g', sizeof long_group - 1);
	long_group[sizeof long_group - 1] = 0;
	BAD(retain_for_groups, long_group);
#undef BAD
	varve_topic_config names = VARVE_TOPIC_CONFIG_INIT;
	names.retain_for_groups = "a b,..,grüße";
	cr_assert_eq(vv_topic_config_validate(&names), 0, "%s", varve_last_error()->message);
}

Test(topic_codec, copy_out_keeps_the_callers_version)
{
	varve_topic_config src = unusual(), dst;
	memset(&dst, 0, sizeof dst);
	dst.version = 1;
	vv_topic_config_copy_out(&dst, &src);
	assert_cfg_eq(&dst, &src);
	cr_assert_eq(dst.version, 1);
}

/* ---- partitioner ------------------------------------------------------------ */

Test(partitioner, key_hash_is_stable_and_in_range)
{
	uint32_t counts[8] = { 0 };
	for (int i = 0; i < 4000; i++) {
		char k[32];
		int l = snprintf(k, sizeof k, "customer-%d", i);
		uint32_t p = vv_topic_partition_for_key(k, (size_t)l, 8);
		cr_assert_lt(p, 8);
		cr_assert_eq(vv_topic_partition_for_key(k, (size_t)l, 8), p);
		counts[p]++;
	}
	for (int p = 0; p < 8; p++)
		cr_assert_gt(counts[p], 300, "partition %d got %u of 4000 keys", p, counts[p]);
	cr_assert_eq(vv_topic_partition_for_key("x", 1, 1), 0);
	/* the empty key is a key like any other */
	uint32_t e = vv_topic_partition_for_key("", 0, 7);
	cr_assert_lt(e, 7);
	cr_assert_eq(vv_topic_partition_for_key("", 0, 7), e);
}

Test(partitioner, null_keys_round_robin_and_sticky)
{
	vv_topic t;
	memset(&t, 0, sizeof t);
	t.nparts = 3;
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = 3;
	c.partitioner = VARVE_PARTITIONER_ROUND_ROBIN;
	pthread_rwlock_init(&t.cfg_lock, NULL);
	vv_topic_cfg_set(&t, &c, NULL);
	for (uint32_t i = 0; i < 9; i++)
		cr_assert_eq(vv_topic_partition_for_null(&t, i == 0), i % 3);
	c.partitioner = VARVE_PARTITIONER_STICKY;
	vv_topic_cfg_set(&t, &c, NULL);
	uint32_t seen = 0;
	for (int batch = 0; batch < 6; batch++) {
		uint32_t first = vv_topic_partition_for_null(&t, 1);
		cr_assert_lt(first, 3);
		for (int i = 0; i < 5; i++)
			cr_assert_eq(vv_topic_partition_for_null(&t, 0), first,
				     "sticky moved inside a batch");
		seen |= 1u << first;
	}
	cr_assert_eq(seen, 7, "sticky never visited every partition");
}

/* ---- metadata log ------------------------------------------------------------- */

typedef struct seen {
	char name[32];
	int64_t id;
	int deleted, live;
} seen;

typedef struct replayed {
	seen v[64];
	size_t n;
	int stop_at; /* return an error at this record (1-based), 0 = never */
} replayed;

static int collect(void *ctx, const vv_meta_rec *r, int live)
{
	replayed *x = ctx;
	cr_assert_lt(x->n, 64);
	seen *e = &x->v[x->n++];
	memset(e, 0, sizeof *e);
	snprintf(e->name, sizeof e->name, "%s", r->kind == VV_META_NEXT_PID ? "(next)" : r->name);
	e->id = r->id;
	e->deleted = r->deleted;
	e->live = live;
	return x->stop_at && (int)x->n == x->stop_at ? VARVE_ECORRUPT : 0;
}

static void put_producer(vv_meta *m, const char *name, int64_t id, int deleted, int sync)
{
	vv_meta_rec r;
	memset(&r, 0, sizeof r);
	r.kind = VV_META_PRODUCER;
	snprintf(r.name, sizeof r.name, "%s", name);
	r.id = id;
	r.deleted = deleted;
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	cr_assert_eq(vv_meta_batch_add(&b, &r), 0);
	cr_assert_eq(vv_meta_write(m, &b, sync), 0);
	vv_meta_batch_free(&b);
}

/* Typed writes reach the kind's handler at once (live), replay hands the
 * same records over again in log order, a delete replays as a delete, and
 * a handler's error stops the replay. */
Test(meta, write_replay_and_reopen)
{
	const char *store = t_tmpdir();
	vv_part_config c;
	memset(&c, 0, sizeof c);
	c.seg = (vv_seg_config){ .index_interval = 4096, .max_batch = 1u << 20, .file_mode = 0600 };
	c.segment_bytes = 64u << 20;
	c.sync_policy = VARVE_SYNC_NONE;
	c.dir_mode = 0700;
	vv_meta *m;
	cr_assert_eq(vv_meta_open(t_fmt("%s/meta", store), &c, 0, &m), 0);
	cr_assert(t_exists(t_fmt("%s/meta", store)));
	replayed live = { .n = 0 };
	vv_meta_subscribe(m, VV_META_PRODUCER, collect, &live, 0);
	vv_meta_subscribe(m, VV_META_NEXT_PID, collect, &live, 0);
	put_producer(m, "a", 1, 0, 1);
	put_producer(m, "b", 2, 0, 0);
	put_producer(m, "a", 0, 1, 1);
	/* two kinds in one batch */
	vv_meta_rec r;
	memset(&r, 0, sizeof r);
	r.kind = VV_META_NEXT_PID;
	r.id = 7;
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	cr_assert_eq(vv_meta_batch_add(&b, &r), 0);
	r.kind = VV_META_PRODUCER;
	snprintf(r.name, sizeof r.name, "c");
	r.id = 6;
	cr_assert_eq(vv_meta_batch_add(&b, &r), 0);
	cr_assert_eq(vv_meta_write(m, &b, 0), 0);
	vv_meta_batch_free(&b);
	cr_assert_eq(live.n, 5);
	for (size_t i = 0; i < live.n; i++)
		cr_assert(live.v[i].live, "a write's records reach the handler as live");
	for (int pass = 0; pass < 2; pass++) {
		replayed x = { .n = 0 };
		vv_meta_subscribe(m, VV_META_PRODUCER, collect, &x, 0);
		vv_meta_subscribe(m, VV_META_NEXT_PID, collect, &x, 0);
		cr_assert_eq(vv_meta_replay(m), 0);
		cr_assert_eq(x.n, 5, "pass %d", pass);
		cr_assert_str_eq(x.v[0].name, "a");
		cr_assert_eq(x.v[0].id, 1);
		cr_assert_str_eq(x.v[1].name, "b");
		cr_assert_str_eq(x.v[2].name, "a");
		cr_assert(x.v[2].deleted, "a delete replays as a delete");
		cr_assert_str_eq(x.v[3].name, "(next)");
		cr_assert_eq(x.v[3].id, 7);
		cr_assert_str_eq(x.v[4].name, "c");
		for (size_t i = 0; i < x.n; i++)
			cr_assert(!x.v[i].live);
		replayed y = { .n = 0, .stop_at = 2 };
		vv_meta_subscribe(m, VV_META_PRODUCER, collect, &y, 0);
		vv_meta_subscribe(m, VV_META_NEXT_PID, collect, &y, 0);
		cr_assert_eq(vv_meta_replay(m), VARVE_ECORRUPT);
		cr_assert_eq(y.n, 2, "replay did not stop at the first error");
		cr_assert_eq(vv_meta_close(m, 1), 0);
		cr_assert_eq(vv_meta_open(t_fmt("%s/meta", store), &c, 1, &m), 0);
	}
	cr_assert_eq(vv_meta_close(m, 1), 0);
}
