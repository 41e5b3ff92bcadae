/* SPDX-License-Identifier: MIT */
/*
 * Golden vectors of the metadata log's record kinds ('T', 'O', 'G', 'A',
 * 'N', 'P'; tests/golden/vectors/meta_*.hex, checked by hand against
 * docs/FORMAT.md). Public API only: the records are written by the calls
 * that write them in real use (topic create, group commit, nack, producer
 * open) under a fake clock, the metadata log's segment file is read by the
 * test's own reader (golden.c), and the latest record of each kind must
 * carry exactly the vector's key and value. Then the store is reopened and
 * the public API must read back what the records say.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "support.h"
#include "varve.h"

#define T0 1700000000000LL

TestSuite(golden_meta, .init = t_setup, .fini = t_teardown, .timeout = 60);

static int64_t fixed_clock(void *ctx) { return *(const int64_t *)ctx; }

static varve_topic_config vector_topic_config(void)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = 2;
	c.codec = VARVE_CODEC_LZ4;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.timestamp_type = VARVE_TIMESTAMP_APPEND;
	c.partitioner = VARVE_PARTITIONER_ROUND_ROBIN;
	c.retention_ms = 604800000;
	c.retention_bytes = 1048576;
	c.retention_records = 1000;
	c.segment_bytes = 65536;
	c.segment_ms = 3600000;
	c.delete_retention_ms = 5000;
	c.min_cleanable_dirty_ratio = 0.25;
	c.max_future_skew_ms = 60000;
	c.dedup_window_ms = 10000;
	c.retention_hard_bytes = 2097152;
	c.retain_for_groups = "g,h";
	return c;
}

static void open_producer(varve_db *db, const char *name, int64_t want_id, uint16_t want_epoch)
{
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	po.name = name;
	varve_producer *p;
	t_ok(varve_producer_open(db, &po, &p));
	int64_t id;
	uint16_t epoch;
	t_ok(varve_producer_id(p, &id, &epoch));
	cr_assert_eq(id, want_id);
	cr_assert_eq(epoch, want_epoch);
	varve_producer_close(p);
}

/* Nack the record at offset 1 of t/0 as group g, at the clock's time. */
static void nack_offset_1(varve_db *db)
{
	const char *topics[] = { "t" };
	varve_consumer *c;
	t_ok(varve_consumer_open(db, "g", topics, 1, NULL, &c));
	const varve_msg *msgs;
	size_t n;
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	const varve_msg *m = NULL;
	for (size_t i = 0; i < n; i++)
		if (msgs[i].rec.partition == 0 && msgs[i].rec.offset == 1)
			m = &msgs[i];
	cr_assert_not_null(m, "the poll from the committed offset 1 returns offset 1");
	t_ok(varve_consumer_nack(c, m, "boom"));
	varve_consumer_close(c);
}

/* The scenario the comments of meta_*.hex describe. */
static const char *write_store(void)
{
	const char *path = t_newpath("store");
	int64_t clock = T0;
	varve_options o = t_opts();
	o.clock_fn = fixed_clock;
	o.clock_ctx = &clock;
	varve_db *db = t_open(path, &o);
	varve_topic_config tc = vector_topic_config();
	t_ok(varve_topic_create(db, "t", &tc));
	for (int i = 0; i < 3; i++) {
		varve_record r = t_rec_s(i == 0 ? "r0" : i == 1 ? "r1" : "r2", "v");
		r.partition = 0;
		t_ok(varve_produce(db, "t", &r, NULL, NULL));
	}
	clock = T0 + 1000;
	t_ok(varve_group_commit(db, "g", "t", 0, 1, "meta"));
	clock = T0 + 2000;
	nack_offset_1(db);
	clock = T0 + 3000;
	open_producer(db, NULL, 0, 0);
	open_producer(db, "p", 1, 0);
	open_producer(db, "p", 1, 1);
	t_close(db);
	return path;
}

static void assert_latest_is_vector(const gv_meta_log *log, const char *vector)
{
	size_t kn, vn;
	uint8_t *key = gv_load(vector, "key", &kn);
	uint8_t *value = gv_load(vector, "value", &vn);
	const gv_meta_record *r = gv_meta_last(log, key, kn);
	cr_assert_not_null(r, "%s: no record with the vector's key", vector);
	cr_assert_not_null(r->value, "%s: the latest record is a delete", vector);
	gv_assert_bytes(r->value, r->value_len, value, vn, vector);
	free(key);
	free(value);
}

Test(golden_meta, records_match_vectors)
{
	const char *path = write_store();
	gv_meta_log log;
	gv_meta_read(t_fmt("%s/meta/00000000000000000000.log", path), &log);
	const char *vectors[] = { "meta_T.hex", "meta_O.hex", "meta_G.hex",
				  "meta_A.hex", "meta_N.hex", "meta_P.hex" };
	for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++)
		assert_latest_is_vector(&log, vectors[i]);
	/* the first commit of a group writes 'G' and 'O' in one batch, 'G' first */
	const gv_meta_record *g = gv_meta_last(&log, "G" "g", 2);
	cr_assert_not_null(g);
	cr_assert_lt(g - log.recs + 1, (long)log.n);
	cr_assert_eq(g[1].key[0], 'O', "the record after 'G' is its commit");
	/* 8 records: T; G, O; A; N; N, P; P -- and nothing else */
	cr_assert_eq(log.n, 8, "%zu records in the metadata log", log.n);
	gv_meta_free(&log);
}

static void assert_describe_is_vector_config(varve_db *db)
{
	varve_topic_config want = vector_topic_config();
	varve_topic_config got = { .version = VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "t", &got));
	cr_assert_eq(got.partitions, want.partitions);
	cr_assert_eq(got.codec, want.codec);
	cr_assert_eq(got.cleanup_policy, want.cleanup_policy);
	cr_assert_eq(got.timestamp_type, want.timestamp_type);
	cr_assert_eq(got.partitioner, want.partitioner);
	cr_assert_eq(got.retention_ms, want.retention_ms);
	cr_assert_eq(got.retention_bytes, want.retention_bytes);
	cr_assert_eq(got.retention_records, want.retention_records);
	cr_assert_eq(got.segment_bytes, want.segment_bytes);
	cr_assert_eq(got.segment_ms, want.segment_ms);
	cr_assert_eq(got.delete_retention_ms, want.delete_retention_ms);
	cr_assert(got.min_cleanable_dirty_ratio == want.min_cleanable_dirty_ratio);
	cr_assert_eq(got.max_future_skew_ms, want.max_future_skew_ms);
	cr_assert_eq(got.dedup_window_ms, want.dedup_window_ms);
	cr_assert_eq(got.retention_hard_bytes, want.retention_hard_bytes);
	cr_assert_not_null(got.retain_for_groups);
	cr_assert_str_eq(got.retain_for_groups, "g,h");
}

/* What the records say, read back through the public API after a reopen. */
Test(golden_meta, records_read_back)
{
	const char *path = write_store();
	int64_t clock = T0 + 2999; /* just before the nacked record is due */
	varve_options o = t_opts();
	o.clock_fn = fixed_clock;
	o.clock_ctx = &clock;
	varve_db *db = t_open(path, &o);
	assert_describe_is_vector_config(db);
	int64_t off = -1;
	t_ok(varve_group_offset(db, "g", "t", 0, &off));
	cr_assert_eq(off, 1, "'O': offset 1");
	/* 'P': id 1, epoch 1 (resume keeps it); 'N': the next fresh id is 2 */
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	po.name = "p";
	po.resume = 1;
	varve_producer *p;
	t_ok(varve_producer_open(db, &po, &p));
	int64_t id;
	uint16_t epoch;
	t_ok(varve_producer_id(p, &id, &epoch));
	cr_assert_eq(id, 1);
	cr_assert_eq(epoch, 1);
	varve_producer_close(p);
	open_producer(db, NULL, 2, 0);
	/* 'A': one failed delivery, due at T+3000 */
	const char *topics[] = { "t" };
	varve_consumer *c;
	t_ok(varve_consumer_open(db, "g", topics, 1, NULL, &c));
	const varve_msg *msgs;
	size_t n;
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	cr_assert_eq(n, 2, "offsets 1 and 2 from the commit, no redelivery before it is due");
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(varve_consumer_attempts(c, &msgs[i]), 1);
	clock = T0 + 3000;
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	cr_assert_eq(n, 1, "the nacked record is due now");
	cr_assert_eq(msgs[0].rec.offset, 1);
	cr_assert_eq(varve_consumer_attempts(c, &msgs[0]), 2, "its second delivery");
	varve_consumer_close(c);
	t_close(db);
}
