/* SPDX-License-Identifier: MIT */
/*
 * test_commit.c -- offsets: auto_offset_reset, auto_commit, commits below
 * the log start (retention) and past the end, lag, read-only stores.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cons_util.h"
#include "support.h"

TestSuite(consumer_offsets, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define T0 1700000000000LL

static varve_db *open_clocked(const char *dir, t_clock *clk)
{
	atomic_store(&clk->now, T0);
	varve_options o = t_opts();
	o.clock_fn = t_clock_fn;
	o.clock_ctx = clk;
	return t_open(dir, &o);
}

static size_t poll_n(varve_consumer *c, const varve_msg **msgs)
{
	size_t n = 0;
	t_ok(varve_consumer_poll(c, 0, msgs, &n));
	return n;
}

/* ---- auto_offset_reset -------------------------------------------------------- */

Test(consumer_offsets, reset_earliest_latest_none_without_commit)
{
	t_clock clk;
	varve_db *db = open_clocked(t_newpath("s"), &clk);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 20, 3);
	const varve_msg *m;

	varve_consumer_options co = c_opts();
	co.auto_offset_reset = VARVE_RESET_EARLIEST;
	varve_consumer *e = c_open(db, "early", "t", &co);
	cr_assert_eq(poll_n(e, &m), 20);
	cr_assert_eq(m[0].rec.offset, 0);
	cr_assert_eq(varve_consumer_resets(e), 0, "no commit is not a reset");

	co.auto_offset_reset = VARVE_RESET_LATEST;
	varve_consumer *l = c_open(db, "late", "t", &co);
	cr_assert_eq(c_position(l, "t", 0), 20);
	cr_assert_eq(poll_n(l, &m), 0);
	fill_part(db, "t", 0, 2, 1);
	size_t n = poll_n(l, &m);
	cr_assert_eq(n, 2);
	cr_assert_eq(m[0].rec.offset, 20);
	check_msg(&m[0], "t");
	cr_assert_eq(varve_consumer_resets(l), 0);

	co.auto_offset_reset = VARVE_RESET_NONE;
	varve_consumer *x = c_open(db, "none", "t", &co);
	size_t cnt = 7;
	t_assert_rc(varve_consumer_poll(x, 0, &m, &cnt), VARVE_EOFFSET);
	/* with a commit, "none" reads from it */
	t_ok(varve_group_commit(db, "none2", "t", 0, 5, NULL));
	varve_consumer *y = c_open(db, "none2", "t", &co);
	cr_assert_eq(poll_n(y, &m), 17);
	cr_assert_eq(m[0].rec.offset, 5);

	/* a group that committed wins over the policy */
	t_ok(varve_group_commit(db, "late2", "t", 0, 3, NULL));
	co.auto_offset_reset = VARVE_RESET_LATEST;
	varve_consumer *l2 = c_open(db, "late2", "t", &co);
	cr_assert_eq(c_position(l2, "t", 0), 3);
	varve_consumer_close(e);
	varve_consumer_close(l);
	varve_consumer_close(x);
	varve_consumer_close(y);
	varve_consumer_close(l2);
	t_close(db);
}

Test(consumer_offsets, auto_commit_commits_during_poll)
{
	t_clock clk;
	varve_db *db = open_clocked(t_newpath("s"), &clk);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 30, 1);
	fill_part(db, "t", 1, 30, 1);
	varve_consumer_options co = c_opts();
	co.auto_commit = 1;
	co.auto_commit_interval_ms = 50;
	co.max_records = 6;
	varve_consumer *c = c_open(db, "g", "t", &co);
	const varve_msg *m;
	int64_t off;
	cr_assert_eq(poll_n(c, &m), 6);
	t_assert_rc(varve_group_offset(db, "g", "t", 0, &off), VARVE_ENOTFOUND);
	atomic_fetch_add(&clk.now, 49);
	cr_assert_eq(poll_n(c, &m), 6);
	t_assert_rc(varve_group_offset(db, "g", "t", 0, &off), VARVE_ENOTFOUND);
	/* the interval has passed: this poll commits what was delivered before it */
	atomic_fetch_add(&clk.now, 1);
	int64_t p0 = c_position(c, "t", 0), p1 = c_position(c, "t", 1);
	cr_assert_eq(p0 + p1, 12);
	cr_assert_eq(poll_n(c, &m), 6);
	cr_assert_eq(g_offset(db, "g", "t", 0), p0);
	cr_assert_eq(g_offset(db, "g", "t", 1), p1);
	/* not again before the next interval */
	cr_assert_eq(poll_n(c, &m), 6);
	cr_assert_eq(g_offset(db, "g", "t", 0), p0);
	atomic_fetch_add(&clk.now, 50);
	p0 = c_position(c, "t", 0);
	p1 = c_position(c, "t", 1);
	poll_n(c, &m);
	cr_assert_eq(g_offset(db, "g", "t", 0), p0);
	cr_assert_eq(g_offset(db, "g", "t", 1), p1);
	varve_consumer_close(c);
	t_close(db);
}

Test(consumer_offsets, auto_commit_hands_over_progress_when_partitions_move)
{
	t_clock clk;
	varve_db *db = open_clocked(t_newpath("s"), &clk);
	t_topic(db, "t", 4, VARVE_CODEC_NONE);
	for (uint32_t p = 0; p < 4; p++)
		fill_part(db, "t", p, 20, 2);
	varve_consumer_options co = c_opts();
	co.auto_commit = 1;
	co.auto_commit_interval_ms = 1000000;
	co.max_records = 24; /* 6 per partition */
	varve_consumer *a = c_open(db, "g", "t", &co);
	const varve_msg *m;
	cr_assert_eq(poll_n(a, &m), 24);
	int64_t pos[4];
	for (uint32_t p = 0; p < 4; p++)
		pos[p] = c_position(a, "t", p);
	varve_consumer *b = c_open(db, "g", "t", &co);
	/* a learns it lost partitions 2 and 3 at its next call: their progress is committed */
	const varve_topic_partition *tps;
	size_t n;
	t_ok(varve_consumer_assignment(a, &tps, &n));
	cr_assert_eq(n, 2);
	for (uint32_t p = 2; p < 4; p++) {
		cr_assert_eq(g_offset(db, "g", "t", p), pos[p]);
		cr_assert_eq(c_position(b, "t", p), pos[p], "new owner of %u does not resume", p);
	}
	n = poll_n(b, &m);
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		check_msg(&m[i], "t");
		int p = m[i].rec.partition;
		cr_assert(p == 2 || p == 3);
		cr_assert_eq(m[i].rec.offset, pos[p]);
		pos[p]++;
	}
	varve_consumer_close(a);
	varve_consumer_close(b);
	t_close(db);
}

/* ---- retention passes the commit ------------------------------------------------- */

static void retention_topic(varve_db *db)
{
	varve_topic_config c;
	t_ok(varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION));
	c.partitions = 1;
	c.segment_bytes = 1024;
	c.retention_bytes = 1024;
	t_ok(varve_topic_create(db, "t", &c));
}

static int64_t log_start(varve_db *db)
{
	int64_t s = -1;
	t_ok(varve_offsets(db, "t", 0, &s, NULL));
	return s;
}

Test(consumer_offsets, commit_below_log_start_resets_by_policy)
{
	t_clock clk;
	t_log log;
	t_log_init(&log);
	atomic_store(&clk.now, T0);
	varve_options o = t_opts();
	o.clock_fn = t_clock_fn;
	o.clock_ctx = &clk;
	o.log_fn = t_log_fn;
	o.log_ctx = &log;
	varve_db *db = t_open(t_newpath("s"), &o);
	retention_topic(db);
	fill_part(db, "t", 0, 200, 1);
	t_ok(varve_group_commit(db, "ge", "t", 0, 2, NULL));
	t_ok(varve_group_commit(db, "gl", "t", 0, 2, NULL));
	t_ok(varve_group_commit(db, "gn", "t", 0, 2, NULL));
	t_ok(varve_clean_now(db, 0));
	int64_t start = log_start(db);
	cr_assert_gt(start, 2, "retention did not move the log start (%" PRId64 ")", start);
	/* the commit stays where it was; the consumer resets */
	cr_assert_eq(g_offset(db, "ge", "t", 0), 2);

	const varve_msg *m;
	varve_consumer_options co = c_opts();
	co.max_records = 1000;
	co.auto_offset_reset = VARVE_RESET_EARLIEST;
	varve_consumer *e = c_open(db, "ge", "t", &co);
	size_t n = poll_n(e, &m);
	cr_assert_eq(n, (size_t)(200 - start));
	cr_assert_eq(m[0].rec.offset, start);
	check_msg(&m[0], "t");
	cr_assert_eq(varve_consumer_resets(e), 1);

	co.auto_offset_reset = VARVE_RESET_LATEST;
	varve_consumer *l = c_open(db, "gl", "t", &co);
	cr_assert_eq(poll_n(l, &m), 0);
	cr_assert_eq(varve_consumer_resets(l), 1);
	cr_assert_eq(c_position(l, "t", 0), 200);

	co.auto_offset_reset = VARVE_RESET_NONE;
	varve_consumer *x = c_open(db, "gn", "t", &co);
	size_t cnt;
	t_assert_rc(varve_consumer_poll(x, 0, &m, &cnt), VARVE_EOFFSET);
	cr_assert_gt(t_log_count(&log, "below the log start", VARVE_LOG_WARN), 0);
	varve_consumer_close(e);
	varve_consumer_close(l);
	varve_consumer_close(x);
	t_close(db);
	t_log_free(&log);
}

Test(consumer_offsets, retention_passing_an_idle_consumer_counts_a_reset)
{
	t_clock clk;
	varve_db *db = open_clocked(t_newpath("s"), &clk);
	retention_topic(db);
	fill_part(db, "t", 0, 100, 1);
	varve_consumer_options co = c_opts();
	co.max_records = 3;
	varve_consumer *c = c_open(db, "g", "t", &co);
	const varve_msg *m;
	cr_assert_eq(poll_n(c, &m), 3);
	cr_assert_eq(m[2].rec.offset, 2);
	cr_assert_eq(varve_consumer_resets(c), 0);
	fill_part(db, "t", 0, 100, 1);
	t_ok(varve_clean_now(db, 0));
	int64_t start = log_start(db);
	cr_assert_gt(start, 3);
	co.max_records = 1000;
	size_t n = poll_n(c, &m);
	cr_assert_gt(n, 0);
	cr_assert_eq(m[0].rec.offset, start, "resumed at %" PRId64 ", log start %" PRId64,
		     m[0].rec.offset, start);
	cr_assert_eq(varve_consumer_resets(c), 1);
	for (size_t i = 0; i < n; i++) {
		check_msg(&m[i], "t");
		cr_assert_eq(m[i].rec.offset, start + (int64_t)i);
	}
	varve_consumer_close(c);
	t_close(db);
}

/* ---- lag ---------------------------------------------------------------------------- */

static varve_lag lag_of(varve_db *db, const char *group)
{
	varve_lag l;
	memset(&l, 0, sizeof l);
	l.version = VARVE_LAG_VERSION;
	t_ok(varve_group_lag(db, group, "t", 0, &l));
	return l;
}

Test(consumer_offsets, lag_records_bytes_and_age)
{
	t_clock clk;
	const char *dir = t_newpath("s");
	varve_db *db = open_clocked(dir, &clk);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 10; i++) {
		char v[16];
		snprintf(v, sizeof v, "v0.%d", i);
		t_produce_to(db, "t", 0, "k", v, VARVE_TIMESTAMP_NOW);
		atomic_fetch_add(&clk.now, 100); /* record i has timestamp T0 + 100 i */
	}
	t_ok(varve_sync(db));
	const char *log = t_seg_path(dir, "t", 0, 0, ".log");
	uint64_t pos[16], endpos;
	cr_assert_eq(t_batch_positions(log, pos, 16, &endpos), 10);

	/* no commit: everything is lag */
	varve_lag l = lag_of(db, "nobody");
	cr_assert_eq(l.committed, -1);
	cr_assert_eq(l.end_offset, 10);
	cr_assert_eq(l.records, 10);
	cr_assert_eq(l.bytes, endpos);
	cr_assert_eq(l.oldest_age_ms, 1000);

	t_ok(varve_group_commit(db, "g", "t", 0, 4, NULL));
	atomic_fetch_add(&clk.now, 5000);
	l = lag_of(db, "g");
	cr_assert_eq(l.committed, 4);
	cr_assert_eq(l.end_offset, 10);
	cr_assert_eq(l.records, 6);
	cr_assert_eq(l.bytes, endpos - pos[4], "bytes %" PRIu64 ", want %" PRIu64, l.bytes,
		     endpos - pos[4]);
	cr_assert_eq(l.oldest_age_ms, 1000 + 5000 - 400);

	t_ok(varve_group_commit(db, "g", "t", 0, 10, NULL));
	l = lag_of(db, "g");
	cr_assert_eq(l.committed, 10);
	cr_assert_eq(l.records, 0);
	cr_assert_eq(l.bytes, 0);
	cr_assert_eq(l.oldest_age_ms, 0);

	/* a new record: behind by one again */
	t_produce_to(db, "t", 0, "k", "v0.10", VARVE_TIMESTAMP_NOW);
	atomic_fetch_add(&clk.now, 7);
	l = lag_of(db, "g");
	cr_assert_eq(l.records, 1);
	cr_assert_gt(l.bytes, 0);
	cr_assert_eq(l.oldest_age_ms, 7);

	varve_lag bad;
	memset(&bad, 0, sizeof bad);
	t_assert_rc(varve_group_lag(db, "g", "t", 0, &bad), VARVE_EINVAL);
	bad.version = VARVE_LAG_VERSION;
	t_assert_rc(varve_group_lag(db, "g", "t", 3, &bad), VARVE_ENOTFOUND);
	t_close(db);
}

/* ---- never ahead of the data --------------------------------------------------------- */

Test(consumer_offsets, commit_past_end_fails_with_eoffset)
{
	t_clock clk;
	varve_db *db = open_clocked(t_newpath("s"), &clk);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 10, 1);
	varve_consumer_options co = c_opts();
	varve_consumer *c = c_open(db, "g", "t", &co);
	t_ok(varve_consumer_commit_offset(c, "t", 0, 10, NULL)); /* the end itself is fine */
	t_assert_rc(varve_consumer_commit_offset(c, "t", 0, 11, NULL), VARVE_EOFFSET);
	t_assert_rc(varve_consumer_commit_offset(c, "t", 1, 1, NULL), VARVE_EOFFSET);
	t_assert_rc(varve_consumer_commit_offset(c, "t", 0, -5, NULL), VARVE_EOFFSET);
	t_assert_rc(varve_group_commit(db, "g", "t", 0, 1000, NULL), VARVE_EOFFSET);
	t_assert_rc(varve_consumer_commit_offset(c, "t", 7, 0, NULL), VARVE_ENOTFOUND);
	t_assert_rc(varve_group_commit(db, "g", "nope", 0, 0, NULL), VARVE_ENOTFOUND);
	cr_assert_eq(g_offset(db, "g", "t", 0), 10, "a failed commit changed the offset");
	int64_t off;
	t_assert_rc(varve_group_offset(db, "g", "t", 1, &off), VARVE_ENOTFOUND);
	t_ok(varve_group_commit(db, "g", "t", 1, 0, NULL));
	cr_assert_eq(g_offset(db, "g", "t", 1), 0);
	varve_consumer_close(c);
	t_close(db);
}

/* ---- read-only stores ------------------------------------------------------------------ */

Test(consumer_offsets, read_only_store_reads_but_does_not_commit)
{
	const char *dir = t_newpath("s");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 30, 4);
	fill_part(db, "t", 1, 10, 4);
	t_ok(varve_group_commit(db, "g", "t", 0, 12, "m"));
	t_close(db);

	varve_options ro = t_opts();
	ro.read_only = 1;
	varve_db *r = t_open(dir, &ro);
	cr_assert_eq(g_offset(r, "g", "t", 0), 12);
	varve_consumer_options co = c_opts();
	co.auto_commit = 1;
	co.auto_commit_interval_ms = 0;
	varve_consumer *c = c_open(r, "g", "t", &co);
	const varve_msg *m;
	size_t n = poll_n(c, &m);
	cr_assert_eq(n, 18 + 10);
	int64_t next[2] = { 12, 0 };
	for (size_t i = 0; i < n; i++) {
		check_msg(&m[i], "t");
		cr_assert_eq(m[i].rec.offset, next[m[i].rec.partition]);
		next[m[i].rec.partition]++;
	}
	t_assert_rc(varve_consumer_commit(c), VARVE_EREADONLY);
	t_assert_rc(varve_consumer_commit_offset(c, "t", 0, 20, NULL), VARVE_EREADONLY);
	t_assert_rc(varve_group_commit(r, "g", "t", 0, 20, NULL), VARVE_EREADONLY);
	t_assert_rc(varve_group_delete(r, "g"), VARVE_EREADONLY);
	t_ok(varve_consumer_seek(c, "t", 0, 3));
	cr_assert_eq(poll_n(c, &m), 27);
	cr_assert_eq(g_offset(r, "g", "t", 0), 12);
	varve_lag l;
	memset(&l, 0, sizeof l);
	l.version = VARVE_LAG_VERSION;
	t_ok(varve_group_lag(r, "g", "t", 0, &l));
	cr_assert_eq(l.records, 18);
	varve_consumer_close(c);
	t_close(r);

	db = t_open(dir, &o);
	cr_assert_eq(g_offset(db, "g", "t", 0), 12);
	t_close(db);
}

Test(consumer_offsets, read_only_open_beside_a_writer_sees_its_commits)
{
	const char *dir = t_newpath("s");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 10, 1);
	t_ok(varve_group_commit(db, "g", "t", 0, 7, NULL));
	varve_options ro = t_opts();
	ro.read_only = 1;
	varve_db *r = t_open(dir, &ro);
	cr_assert_eq(g_offset(r, "g", "t", 0), 7);
	varve_consumer_options co = c_opts();
	varve_consumer *c = c_open(r, "g", "t", &co);
	const varve_msg *m;
	cr_assert_eq(poll_n(c, &m), 3);
	cr_assert_eq(m[0].rec.offset, 7);
	t_assert_rc(varve_consumer_commit(c), VARVE_EREADONLY);
	varve_consumer_close(c);
	t_close(r);
	t_close(db);
}
