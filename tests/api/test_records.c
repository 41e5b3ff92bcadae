/* SPDX-License-Identifier: MIT */
/* API: record round trips, partitioning, produce_batch, partition info. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "varve.h"

TestSuite(records, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define T0 1700000000000LL

static t_clock clk;

static varve_options clocked(void)
{
	varve_options o = t_opts();
	atomic_store(&clk.now, T0);
	o.clock_fn = t_clock_fn;
	o.clock_ctx = &clk;
	return o;
}

static void topic_cfg(varve_db *db, const char *name, uint32_t parts, int codec, int partitioner)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = parts;
	c.codec = codec;
	c.partitioner = partitioner;
	t_ok(varve_topic_create(db, name, &c));
}

/* Read partition `part` from `from` and compare with want[0..n). */
static void expect_records(varve_db *db, const char *topic, uint32_t part, int64_t from,
			   const varve_record *want, size_t n)
{
	varve_iter *it;
	t_ok(varve_iter_open(db, topic, part, from, &it));
	for (size_t i = 0; i < n; i++) {
		const varve_record *r;
		t_ok(varve_iter_next(it, &r));
		char ctx[64];
		snprintf(ctx, sizeof ctx, "%s/%u record %zu", topic, part, i);
		t_assert_rec_eq(r, &want[i], ctx);
		cr_assert_eq(r->offset, from + (int64_t)i, "%s: offset %" PRId64, ctx, r->offset);
		cr_assert_eq(r->partition, (int32_t)part);
	}
	const varve_record *r;
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	cr_assert_null(r);
	varve_iter_close(it);
}

/* Every shape of record: null / empty keys and values, headers. */
static size_t shapes(varve_record *out, char *big, size_t big_len)
{
	static const varve_header hs[] = {
		{ "trace-id", 8, "0af7651916cd43dd", 16 },
		{ "no-value", 8, NULL, 0 },
		{ "empty-value", 11, "", 0 },
		{ "trace-id", 8, "duplicate key", 13 },
		{ "", 0, "empty header key", 16 },
	};
	static const varve_header hnull[] = { { "a", 1, NULL, 0 }, { "b", 1, NULL, 0 } };
	size_t n = 0;
	out[n++] = t_rec(NULL, 0, NULL, 0);        /* null key, tombstone */
	out[n++] = t_rec("", 0, NULL, 0);          /* empty key, tombstone */
	out[n++] = t_rec(NULL, 0, "", 0);          /* null key, empty value */
	out[n++] = t_rec("", 0, "", 0);            /* empty key, empty value */
	out[n++] = t_rec("key", 3, "value", 5);
	out[n++] = t_rec("key", 3, NULL, 0);       /* tombstone for a key */
	out[n++] = t_rec("\0bin\xff", 5, "\0\0\0", 3); /* binary bytes */
	out[n] = t_rec("headers", 7, "with headers", 12);
	out[n].headers = hs;
	out[n++].header_count = 5;
	out[n] = t_rec(NULL, 0, NULL, 0); /* only headers, all null */
	out[n].headers = hnull;
	out[n++].header_count = 2;
	out[n++] = t_rec("big", 3, big, big_len);
	/* timestamps: explicit ones going up and NOW */
	for (size_t i = 0; i < n; i++)
		out[i].timestamp = i % 3 == 2 ? VARVE_TIMESTAMP_NOW : T0 - 1000 + (int64_t)i;
	return n;
}

static void round_trip(int codec, int batch)
{
	const char *dir = t_tmpdir();
	varve_options o = clocked();
	varve_db *db = t_open(dir, &o);
	topic_cfg(db, "t", 1, codec, VARVE_PARTITIONER_STICKY);
	char big[20000];
	t_fill(big, sizeof big, 1);
	varve_record recs[16];
	size_t n = shapes(recs, big, sizeof big);
	if (batch) {
		/* one call, one partition: one batch */
		for (size_t i = 0; i < n; i++)
			recs[i].partition = 0;
		t_ok(varve_produce_batch(db, "t", recs, n, NULL));
		for (size_t i = 0; i < n; i++) {
			cr_assert_eq(recs[i].partition, 0);
			cr_assert_eq(recs[i].offset, (int64_t)i, "offset written back");
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			int32_t p = -7;
			int64_t off = -7;
			t_ok(varve_produce(db, "t", &recs[i], &p, &off));
			cr_assert_eq(p, 0);
			cr_assert_eq(off, (int64_t)i);
		}
	}
	/* NOW became the injected clock */
	varve_record want[16];
	memcpy(want, recs, sizeof want);
	for (size_t i = 0; i < n; i++)
		if (want[i].timestamp == VARVE_TIMESTAMP_NOW)
			want[i].timestamp = T0;
	expect_records(db, "t", 0, 0, want, n);
	t_close(db);
	db = t_open(dir, &o);
	expect_records(db, "t", 0, 0, want, n);
	/* reading from the middle */
	expect_records(db, "t", 0, 4, want + 4, n - 4);
	t_close(db);
}

Test(records, round_trip_every_field_single_produce) { round_trip(VARVE_CODEC_NONE, 0); }
Test(records, round_trip_every_field_single_produce_lz4) { round_trip(VARVE_CODEC_LZ4, 0); }
Test(records, round_trip_every_field_one_batch) { round_trip(VARVE_CODEC_NONE, 1); }
Test(records, round_trip_every_field_one_batch_lz4) { round_trip(VARVE_CODEC_LZ4, 1); }

Test(records, null_and_empty_keys_stay_distinct)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	varve_record a = t_rec(NULL, 0, "v", 1), b = t_rec("", 0, "v", 1);
	varve_record c = t_rec("k", 1, NULL, 0), d = t_rec("k", 1, "", 0);
	t_ok(varve_produce(db, "t", &a, NULL, NULL));
	t_ok(varve_produce(db, "t", &b, NULL, NULL));
	t_ok(varve_produce(db, "t", &c, NULL, NULL));
	t_ok(varve_produce(db, "t", &d, NULL, NULL));
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	t_ok(varve_iter_next(it, &r));
	cr_assert_null(r->key, "null key came back non-null");
	t_ok(varve_iter_next(it, &r));
	cr_assert_not_null(r->key, "empty key came back null");
	cr_assert_eq(r->key_len, 0);
	t_ok(varve_iter_next(it, &r));
	cr_assert_null(r->value, "tombstone came back with a value");
	t_ok(varve_iter_next(it, &r));
	cr_assert_not_null(r->value, "empty value came back as a tombstone");
	cr_assert_eq(r->value_len, 0);
	varve_iter_close(it);
	t_close(db);
}

static void big_values(int codec)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "big", 1, codec);
	size_t n = 8u << 20;
	char *random = malloc(n), *repeat = malloc(n);
	t_fill(random, n, 77);
	for (size_t i = 0; i < n; i++)
		repeat[i] = (char)('a' + i % 7);
	varve_record r1 = t_rec("random", 6, random, n), r2 = t_rec("repeat", 6, repeat, n);
	t_ok(varve_produce(db, "big", &r1, NULL, NULL));
	t_ok(varve_produce(db, "big", &r2, NULL, NULL));
	varve_partition_info info = { .version = VARVE_PARTITION_INFO_VERSION };
	t_ok(varve_partition_info_get(db, "big", 0, &info));
	if (codec == VARVE_CODEC_LZ4)
		cr_assert_lt(info.size_bytes, n + n / 2, "LZ4 did not shrink the repetitive value");
	else
		cr_assert_gt(info.size_bytes, 2 * n);
	varve_record want[2] = { r1, r2 };
	want[0].timestamp = want[1].timestamp = VARVE_TIMESTAMP_NOW;
	expect_records(db, "big", 0, 0, want, 2);
	t_close(db);
	db = t_open(dir, &o);
	expect_records(db, "big", 0, 0, want, 2);
	t_close(db);
	free(random);
	free(repeat);
}

Test(records, values_of_8_mib) { big_values(VARVE_CODEC_NONE); }
Test(records, values_of_8_mib_lz4) { big_values(VARVE_CODEC_LZ4); }

Test(records, too_big_and_malformed_records_are_refused)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	o.max_record_bytes = 64 * 1024;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	char *v = calloc(1, 65 * 1024);
	varve_record r = t_rec("k", 1, v, 65 * 1024);
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_ETOOBIG);
	r = t_rec(NULL, 3, "v", 1); /* a length without bytes */
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_EINVAL);
	r = t_rec("k", 1, NULL, 3);
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_EINVAL);
	r = t_rec("k", 1, "v", 1);
	r.header_count = 2; /* no headers array */
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_EINVAL);
	varve_header h = { NULL, 4, "x", 1 };
	r.headers = &h;
	r.header_count = 1;
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_EINVAL);
	r = t_rec("k", 1, "v", 1);
	r.timestamp = -5;
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_EINVAL);
	r = t_rec("k", 1, "v", 1);
	t_assert_rc(varve_produce(db, "missing", &r, NULL, NULL), VARVE_ENOTFOUND);
	r.partition = 2;
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_ENOTFOUND);
	r.partition = -5;
	t_assert_rc(varve_produce(db, "t", &r, NULL, NULL), VARVE_EINVAL);
	t_assert_rc(varve_produce(db, "t", NULL, NULL, NULL), VARVE_EINVAL);
	t_assert_rc(varve_produce(NULL, "t", &r, NULL, NULL), VARVE_EINVAL);
	/* a refused record in a batch refuses the whole call */
	varve_record rs[3] = { t_rec("a", 1, "1", 1), t_rec(NULL, 2, "2", 1), t_rec("c", 1, "3", 1) };
	t_assert_rc(varve_produce_batch(db, "t", rs, 3, NULL), VARVE_EINVAL);
	varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
	po.version = 99;
	rs[1] = t_rec("b", 1, "2", 1);
	t_assert_rc(varve_produce_batch(db, "t", rs, 3, &po), VARVE_EINVAL);
	t_ok(varve_produce_batch(db, "t", rs, 0, NULL));
	/* nothing was written by any of that */
	int64_t end = -1;
	for (uint32_t p = 0; p < 2; p++) {
		t_ok(varve_offsets(db, "t", p, NULL, &end));
		cr_assert_eq(end, 0, "partition %u has %" PRId64 " records", p, end);
	}
	free(v);
	t_close(db);
}

/* ---- timestamps --------------------------------------------------------------- */

Test(records, explicit_timestamps_and_now)
{
	const char *dir = t_tmpdir();
	varve_options o = clocked();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	const int64_t ts[] = { 1, T0 - 5, VARVE_TIMESTAMP_NOW, INT64_MAX, 42 };
	for (size_t i = 0; i < 5; i++) {
		if (i == 2)
			atomic_store(&clk.now, T0 + 12345);
		varve_record r = t_rec("k", 1, "v", 1);
		r.timestamp = ts[i];
		t_ok(varve_produce(db, "t", &r, NULL, NULL));
	}
	const int64_t want[] = { 1, T0 - 5, T0 + 12345, INT64_MAX, 42 };
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	for (size_t i = 0; i < 5; i++) {
		const varve_record *r;
		t_ok(varve_iter_next(it, &r));
		cr_assert_eq(r->timestamp, want[i], "record %zu: %" PRId64, i, r->timestamp);
	}
	varve_iter_close(it);
	t_close(db);
}

/* Records of one produce_batch call may carry timestamps in any order
 * (explicit timestamps from several sources): they must all be readable. */
Test(records, batch_with_timestamps_going_backwards_reads_back)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	varve_record rs[3] = { t_rec("a", 1, "1", 1), t_rec("b", 1, "2", 1), t_rec("c", 1, "3", 1) };
	rs[0].timestamp = 2000;
	rs[1].timestamp = 1000;
	rs[2].timestamp = 3000;
	t_ok(varve_produce_batch(db, "t", rs, 3, NULL));
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	for (int i = 0; i < 3; i++) {
		const varve_record *r;
		int rc = varve_iter_next(it, &r);
		cr_assert_eq(rc, 0,
			     "record %d of a batch whose timestamps go 2000, 1000, 3000: %s (%s)", i,
			     varve_errmsg(rc), varve_last_error()->message);
		cr_assert_eq(r->timestamp, rs[i].timestamp);
	}
	varve_iter_close(it);
	t_close(db);
}

static int produce_backwards_and_die(void *arg)
{
	varve_options o = t_opts();
	o.sync_policy = VARVE_SYNC_ALWAYS;
	varve_db *db;
	if (varve_open((const char *)arg, &o, &db))
		return 10;
	varve_record rs[3] = { t_rec("a", 1, "1", 1), t_rec("b", 1, "2", 1), t_rec("c", 1, "3", 1) };
	rs[0].timestamp = 2000;
	rs[1].timestamp = 1000;
	rs[2].timestamp = 3000;
	if (varve_produce_batch(db, "t", rs, 3, NULL))
		return 11;
	_exit(0); /* acknowledged (sync=always); then the process dies */
}

/* ... and an acknowledged batch like that survives a crash: recovery must
 * not take it for damage. */
Test(records, batch_with_timestamps_going_backwards_survives_recovery)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	t_close(db);
	cr_assert_eq(t_run_child(produce_backwards_and_die, (void *)dir), 0);
	db = t_open(dir, &o);
	const varve_recovery_cut *cuts;
	size_t ncuts;
	t_ok(varve_recovery_cuts(db, &cuts, &ncuts));
	cr_assert_eq(ncuts, 0, "recovery cut an acknowledged batch: %s", ncuts ? cuts[0].reason : "");
	int64_t end;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 3);
	t_close(db);
}

/* ---- partitioning --------------------------------------------------------------- */

Test(records, produce_batch_across_partitions_writes_back_positions)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 4, VARVE_CODEC_NONE);
	enum { N = 60 };
	varve_record rs[N];
	char keys[N][16], vals[N][32];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			int kl = snprintf(keys[i], sizeof keys[i], "key-%d", i % 13);
			int vl = snprintf(vals[i], sizeof vals[i], "round %d value %d", round, i);
			rs[i] = t_rec(keys[i], (size_t)kl, vals[i], (size_t)vl);
			rs[i].offset = -9;
		}
		t_ok(varve_produce_batch(db, "t", rs, N, NULL));
		int64_t next[4];
		for (uint32_t p = 0; p < 4; p++)
			t_ok(varve_offsets(db, "t", p, NULL, &next[p]));
		/* every record: where it says it went, and in order */
		int64_t expect_next[4] = { 0 };
		int used = 0;
		for (int i = 0; i < N; i++) {
			cr_assert(rs[i].partition >= 0 && rs[i].partition < 4);
			used |= 1 << rs[i].partition;
			varve_iter *it;
			t_ok(varve_iter_open(db, "t", (uint32_t)rs[i].partition, rs[i].offset, &it));
			const varve_record *r;
			t_ok(varve_iter_next(it, &r));
			cr_assert_eq(r->offset, rs[i].offset);
			cr_assert_eq(r->value_len, rs[i].value_len);
			cr_assert(memcmp(r->value, rs[i].value, r->value_len) == 0,
				  "record %d is not at the written-back position", i);
			varve_iter_close(it);
			if (expect_next[rs[i].partition])
				cr_assert_eq(rs[i].offset, expect_next[rs[i].partition],
					     "records of one partition are not consecutive in call order");
			expect_next[rs[i].partition] = rs[i].offset + 1;
		}
		for (uint32_t p = 0; p < 4; p++)
			if (expect_next[p])
				cr_assert_eq(expect_next[p], next[p]);
		cr_assert_gt(__builtin_popcount((unsigned)used), 1, "13 keys all hashed to one partition");
	}
	t_close(db);
}

Test(records, explicit_partition)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 4, VARVE_CODEC_NONE);
	for (int32_t p = 0; p < 4; p++) {
		varve_record r = t_rec("same key", 8, "v", 1);
		r.partition = p;
		int32_t got = -1;
		t_ok(varve_produce(db, "t", &r, &got, NULL));
		cr_assert_eq(got, p, "key overrode the explicit partition");
	}
	varve_record rs[5];
	for (int i = 0; i < 5; i++) {
		rs[i] = t_rec(i % 2 ? "x" : NULL, i % 2, "v", 1);
		rs[i].partition = i % 4; /* the options win over the records */
	}
	varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
	po.partition = 3;
	t_ok(varve_produce_batch(db, "t", rs, 5, &po));
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(rs[i].partition, 3);
		cr_assert_eq(rs[i].offset, 1 + i);
	}
	/* per-record partitions when the options say ANY */
	for (int i = 0; i < 5; i++)
		rs[i].partition = i % 2;
	t_ok(varve_produce_batch(db, "t", rs, 5, NULL));
	for (int i = 0; i < 5; i++)
		cr_assert_eq(rs[i].partition, i % 2);
	po.partition = 4;
	t_assert_rc(varve_produce_batch(db, "t", rs, 5, &po), VARVE_ENOTFOUND);
	int64_t end;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 1 + 3);
	t_ok(varve_offsets(db, "t", 3, NULL, &end));
	cr_assert_eq(end, 1 + 5);
	t_close(db);
}

Test(records, same_key_same_partition_always)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	topic_cfg(db, "t", 7, VARVE_CODEC_NONE, VARVE_PARTITIONER_ROUND_ROBIN);
	int32_t where[20];
	char key[16];
	for (int k = 0; k < 20; k++) {
		int kl = snprintf(key, sizeof key, "user-%d", k);
		varve_record r = t_rec(key, (size_t)kl, "v", 1);
		t_ok(varve_produce(db, "t", &r, &where[k], NULL));
		for (int rep = 0; rep < 5; rep++) {
			int32_t p;
			t_ok(varve_produce(db, "t", &r, &p, NULL));
			cr_assert_eq(p, where[k], "key %s moved from %d to %d", key, where[k], p);
		}
	}
	/* through produce_batch, mixed with other keys */
	varve_record rs[40];
	char ks[40][16];
	for (int i = 0; i < 40; i++) {
		int kl = snprintf(ks[i], sizeof ks[i], "user-%d", (i * 7) % 20);
		rs[i] = t_rec(ks[i], (size_t)kl, "v", 1);
	}
	t_ok(varve_produce_batch(db, "t", rs, 40, NULL));
	for (int i = 0; i < 40; i++)
		cr_assert_eq(rs[i].partition, where[(i * 7) % 20]);
	/* the empty key is a key: one partition, whatever the null-key partitioner */
	int32_t empty_p = -1;
	for (int i = 0; i < 8; i++) {
		varve_record r = t_rec("", 0, "v", 1);
		int32_t p;
		t_ok(varve_produce(db, "t", &r, &p, NULL));
		if (i == 0)
			empty_p = p;
		cr_assert_eq(p, empty_p, "the empty key was spread like a null key");
	}
	t_close(db);
	/* and after reopening */
	db = t_open(dir, &o);
	for (int k = 0; k < 20; k++) {
		int kl = snprintf(key, sizeof key, "user-%d", k);
		varve_record r = t_rec(key, (size_t)kl, "v", 1);
		int32_t p;
		t_ok(varve_produce(db, "t", &r, &p, NULL));
		cr_assert_eq(p, where[k]);
	}
	t_close(db);
}

Test(records, null_keys_round_robin)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	topic_cfg(db, "rr", 4, VARVE_CODEC_NONE, VARVE_PARTITIONER_ROUND_ROBIN);
	int32_t prev = -1;
	int count[4] = { 0 };
	for (int i = 0; i < 16; i++) {
		varve_record r = t_rec(NULL, 0, "v", 1);
		int32_t p;
		t_ok(varve_produce(db, "rr", &r, &p, NULL));
		if (prev >= 0)
			cr_assert_eq(p, (prev + 1) % 4, "round robin went %d -> %d", prev, p);
		prev = p;
		count[p]++;
	}
	for (int p = 0; p < 4; p++)
		cr_assert_eq(count[p], 4);
	/* inside one batch too */
	varve_record rs[8];
	for (int i = 0; i < 8; i++)
		rs[i] = t_rec(NULL, 0, "v", 1);
	t_ok(varve_produce_batch(db, "rr", rs, 8, NULL));
	for (int i = 1; i < 8; i++)
		cr_assert_eq(rs[i].partition, (rs[i - 1].partition + 1) % 4);
	t_close(db);
}

Test(records, null_keys_sticky_per_batch)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	topic_cfg(db, "st", 4, VARVE_CODEC_NONE, VARVE_PARTITIONER_STICKY);
	int used = 0;
	int32_t prev = -1;
	for (int b = 0; b < 8; b++) {
		varve_record rs[10];
		for (int i = 0; i < 10; i++)
			rs[i] = t_rec(NULL, 0, "v", 1);
		t_ok(varve_produce_batch(db, "st", rs, 10, NULL));
		for (int i = 1; i < 10; i++)
			cr_assert_eq(rs[i].partition, rs[0].partition, "sticky split a batch");
		/* one batch: consecutive offsets */
		for (int i = 1; i < 10; i++)
			cr_assert_eq(rs[i].offset, rs[0].offset + i);
		cr_assert_neq(rs[0].partition, prev, "sticky did not move on after a batch");
		prev = rs[0].partition;
		used |= 1 << rs[0].partition;
	}
	cr_assert_eq(used, 15, "sticky never used every partition");
	t_close(db);
}

/* ---- partition info -------------------------------------------------------------- */

Test(records, partition_info_and_offsets)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	o.sync_policy = VARVE_SYNC_ALWAYS;
	o.segment_bytes = 4096;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	varve_partition_info info = { .version = VARVE_PARTITION_INFO_VERSION };
	t_ok(varve_partition_info_get(db, "t", 1, &info));
	cr_assert_eq(info.start_offset, 0);
	cr_assert_eq(info.end_offset, 0);
	cr_assert_eq(info.durable_offset, 0);
	cr_assert_eq(info.size_bytes, 0);
	cr_assert_eq(info.segments, 1);
	cr_assert_eq(info.failed, 0);
	char v[300];
	memset(v, 'x', sizeof v);
	for (int i = 0; i < 50; i++) {
		varve_record r = t_rec("k", 1, v, sizeof v);
		r.partition = 1;
		t_ok(varve_produce(db, "t", &r, NULL, NULL));
	}
	t_ok(varve_partition_info_get(db, "t", 1, &info));
	cr_assert_eq(info.end_offset, 50);
	cr_assert_eq(info.durable_offset, 50, "sync=always: every acknowledged record is durable");
	const char *pd = t_part_dir(dir, "t", 1);
	cr_assert_eq(info.segments, t_count_suffix(pd, ".log"));
	cr_assert_gt(info.segments, 1);
	int64_t bases[64];
	size_t ns = t_segments(pd, bases, 64);
	uint64_t total = 0;
	for (size_t i = 0; i < ns; i++) {
		/* bytes of whole batches (the active file may be preallocated) */
		uint64_t e;
		t_batch_positions(t_seg_path(dir, "t", 1, bases[i], ".log"), NULL, 0, &e);
		total += e;
	}
	cr_assert_eq(info.size_bytes, total);
	int64_t start = -1, end = -1;
	t_ok(varve_offsets(db, "t", 1, &start, &end));
	cr_assert_eq(start, 0);
	cr_assert_eq(end, 50);
	t_ok(varve_offsets(db, "t", 1, NULL, NULL));
	t_assert_rc(varve_offsets(db, "t", 2, &start, &end), VARVE_ENOTFOUND);
	t_assert_rc(varve_partition_info_get(db, "t", 2, &info), VARVE_ENOTFOUND);
	t_assert_rc(varve_partition_info_get(db, "nope", 0, &info), VARVE_ENOTFOUND);
	info.version = 0;
	t_assert_rc(varve_partition_info_get(db, "t", 0, &info), VARVE_EINVAL);
	t_close(db);
}
