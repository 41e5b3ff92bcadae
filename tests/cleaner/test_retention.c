/* SPDX-License-Identifier: MIT */
/*
 * test_retention.c -- retention by age, size and record count; protected
 * groups and the hard cap; timestamp types and the future-skew clamp; the
 * log start across reopens; readers of deleted segments; metrics.
 *
 * Segments are cut by time: the topic has segment_ms = 5000 and the test
 * moves the injected clock by 5000 ms between "steps", so step i is
 * segment i and its records have timestamp T0 + 5000 i.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "cleaner_util.h"
#include "support.h"

TestSuite(retention, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define STEP_MS 5000

typedef struct env {
	const char *dir;
	t_clock clk;
	varve_options o;
	varve_db *db;
} env;

static void env_open(env *e)
{
	e->dir = t_newpath("s");
	e->o = cl_opts(&e->clk);
	e->db = t_open(e->dir, &e->o);
}

static varve_topic_config step_cfg(void)
{
	varve_topic_config c = cl_cfg();
	c.segment_ms = STEP_MS;
	c.segment_bytes = 1 << 20;
	return c;
}

/* Produce n records at the current clock; value "v<offset>". */
static void produce_n(env *e, const char *topic, uint32_t part, int n, int64_t ts)
{
	for (int i = 0; i < n; i++) {
		int64_t end;
		t_ok(varve_offsets(e->db, topic, part, NULL, &end));
		char v[32];
		snprintf(v, sizeof v, "v%" PRId64, end);
		cr_assert_eq(t_produce_to(e->db, topic, (int32_t)part, "k", v, ts), end);
	}
}

/* nsteps steps of n records each, step i at T0 + 5000 i. */
static void steps(env *e, const char *topic, uint32_t part, int nsteps, int n)
{
	for (int i = 0; i < nsteps; i++) {
		atomic_store(&e->clk.now, T0 + (int64_t)i * STEP_MS);
		produce_n(e, topic, part, n, VARVE_TIMESTAMP_NOW);
	}
}

static void assert_segments(env *e, const char *topic, uint32_t part, const int64_t *want,
			    size_t nwant)
{
	int64_t got[256];
	size_t n = cl_segments(e->dir, topic, part, got, 256);
	char buf[512] = "", *p = buf;
	for (size_t i = 0; i < n && p < buf + sizeof buf - 24; i++)
		p += sprintf(p, " %" PRId64, got[i]);
	cr_assert_eq(n, nwant, "%s/%u has segments [%s ], want %zu", topic, part, buf, nwant);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "%s/%u segments [%s ]", topic, part, buf);
	int64_t start;
	t_ok(varve_offsets(e->db, topic, part, &start, NULL));
	cr_assert_eq(start, want[0], "log start %" PRId64 ", first segment %" PRId64, start, want[0]);
}

/* Check every record from the log start: dense, value "v<offset>". */
static void assert_records(env *e, const char *topic, uint32_t part, int64_t start, int64_t end)
{
	varve_iter *it;
	t_ok(varve_iter_open(e->db, topic, part, start, &it));
	const varve_record *r;
	int64_t want = start;
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		char v[32];
		snprintf(v, sizeof v, "v%" PRId64, want);
		cr_assert_eq(r->offset, want);
		cr_assert(r->value_len == strlen(v) && !memcmp(r->value, v, r->value_len));
		want++;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(want, end);
	varve_iter_close(it);
}

/* Bytes of whole batches in a segment file (the active segment's file may
 * be longer: preallocated zeros). */
static int64_t seg_size_of(const char *path)
{
	return (int64_t)cl_seg_data(path);
}

static int64_t seg_size(env *e, const char *topic, int64_t base)
{
	return seg_size_of(t_seg_path(e->dir, topic, 0, base, ".log"));
}

/* ---- by age -------------------------------------------------------------------- */

Test(retention, by_age_deletes_exactly_the_expired_segments)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_ms = 10000;
	cl_topic(e.db, "t", &c);
	steps(&e, "t", 0, 6, 10); /* segments 0,10,...,50; 50 is active */
	int64_t all[] = { 0, 10, 20, 30, 40, 50 };
	assert_segments(&e, "t", 0, all, 6);
	int64_t sizes[6];
	for (int i = 0; i < 6; i++)
		sizes[i] = seg_size(&e, "t", all[i]);

	/* now - retention = T0 + 15000: segment 3's newest record is exactly that: kept */
	atomic_store(&e.clk.now, T0 + 25000);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all + 3, 3);
	varve_stats st = cl_stats(e.db);
	cr_assert_eq(st.segments_deleted, 3);
	cr_assert_eq(st.bytes_reclaimed, (uint64_t)(sizes[0] + sizes[1] + sizes[2]));

	atomic_store(&e.clk.now, T0 + 25001);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all + 4, 2);

	/* far future: everything but the active segment */
	atomic_store(&e.clk.now, T0 + 1000000000LL);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all + 5, 1);
	assert_records(&e, "t", 0, 50, 60);
	st = cl_stats(e.db);
	cr_assert_eq(st.segments_deleted, 5);
	uint64_t sum = 0;
	for (int i = 0; i < 5; i++)
		sum += (uint64_t)sizes[i];
	cr_assert_eq(st.bytes_reclaimed, sum);
	/* nothing more to do */
	t_ok(varve_clean_now(e.db, 1));
	assert_segments(&e, "t", 0, all + 5, 1);
	cr_assert_eq(cl_stats(e.db).segments_deleted, 5);
	t_close(e.db);
}

Test(retention, active_segment_is_never_deleted)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_ms = 0;
	c.retention_bytes = 0;
	c.retention_records = 0;
	cl_topic(e.db, "t", &c);
	/* old records, all in the active segment */
	produce_n(&e, "t", 0, 20, 1000);
	atomic_store(&e.clk.now, T0 + 1000000000LL);
	t_ok(varve_clean_now(e.db, 1));
	int64_t only[] = { 0 };
	assert_segments(&e, "t", 0, only, 1);
	assert_records(&e, "t", 0, 0, 20);
	cr_assert_eq(cl_stats(e.db).segments_deleted, 0);
	/* roll once: now the old one goes, the new active one stays */
	atomic_store(&e.clk.now, T0 + 1000000000LL + STEP_MS);
	produce_n(&e, "t", 0, 1, 1000);
	t_ok(varve_clean_now(e.db, 0));
	int64_t after[] = { 20 };
	assert_segments(&e, "t", 0, after, 1);
	assert_records(&e, "t", 0, 20, 21);
	t_close(e.db);
}

/* ---- by size ---------------------------------------------------------------------- */

Test(retention, by_bytes_keeps_at_least_retention_bytes_and_deletes_whole_segments)
{
	env e;
	env_open(&e);
	varve_topic_config c = cl_cfg();
	c.segment_bytes = 1024;
	c.retention_bytes = 3000;
	cl_topic(e.db, "t", &c);
	char val[101];
	for (int i = 0; i < 150; i++) {
		int len = 10 + (i * 37) % 90;
		memset(val, 'a' + i % 26, (size_t)len);
		val[len] = 0;
		t_produce_to(e.db, "t", 0, "key", val, VARVE_TIMESTAMP_NOW);
	}
	int64_t before[256];
	size_t nb = cl_segments(e.dir, "t", 0, before, 256);
	cr_assert_gt(nb, 8);
	int64_t sizes[256];
	for (size_t i = 0; i < nb; i++)
		sizes[i] = seg_size(&e, "t", before[i]);
	t_ok(varve_clean_now(e.db, 0));
	int64_t after[256];
	size_t na = cl_segments(e.dir, "t", 0, after, 256);
	cr_assert_lt(na, nb);
	/* a suffix of the old list, sizes untouched */
	size_t k = nb - na;
	uint64_t kept = 0;
	for (size_t i = 0; i < na; i++) {
		cr_assert_eq(after[i], before[k + i]);
		cr_assert_eq(seg_size(&e, "t", after[i]), sizes[k + i], "a kept segment changed size");
		kept += (uint64_t)sizes[k + i];
	}
	cr_assert_geq(kept, 3000, "kept %" PRIu64 " bytes < retention_bytes", kept);
	cr_assert_lt(kept - (uint64_t)sizes[k], 3000,
		     "the oldest kept segment (%" PRId64 " bytes) could have gone: kept %" PRIu64,
		     sizes[k], kept);
	varve_partition_info pi;
	memset(&pi, 0, sizeof pi);
	pi.version = VARVE_PARTITION_INFO_VERSION;
	t_ok(varve_partition_info_get(e.db, "t", 0, &pi));
	cr_assert_eq(pi.size_bytes, kept);
	cr_assert_eq(pi.start_offset, after[0]);
	cr_assert_eq(pi.segments, na);
	varve_stats st = cl_stats(e.db);
	cr_assert_eq(st.segments_deleted, k);
	uint64_t freed = 0;
	for (size_t i = 0; i < k; i++)
		freed += (uint64_t)sizes[i];
	cr_assert_eq(st.bytes_reclaimed, freed);
	/* stable */
	t_ok(varve_clean_now(e.db, 0));
	cr_assert_eq(cl_segments(e.dir, "t", 0, after, 256), na);
	t_close(e.db);
}

Test(retention, by_bytes_zero_leaves_only_the_active_segment)
{
	env e;
	env_open(&e);
	varve_topic_config c = cl_cfg();
	c.segment_bytes = 1024;
	c.retention_bytes = 0;
	cl_topic(e.db, "t", &c);
	for (int i = 0; i < 60; i++)
		t_produce_to(e.db, "t", 0, "key", "some value of moderate size, ok", VARVE_TIMESTAMP_NOW);
	int64_t before[64];
	size_t nb = cl_segments(e.dir, "t", 0, before, 64);
	cr_assert_gt(nb, 2);
	t_ok(varve_clean_now(e.db, 0));
	int64_t last[] = { before[nb - 1] };
	assert_segments(&e, "t", 0, last, 1);
	t_close(e.db);
}

/* ---- by record count --------------------------------------------------------------- */

Test(retention, by_records)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_records = 25;
	cl_topic(e.db, "t", &c);
	steps(&e, "t", 0, 6, 10);
	t_ok(varve_clean_now(e.db, 0));
	/* 30 records kept (>= 25); dropping segment 30 would leave 20 */
	int64_t want[] = { 30, 40, 50 };
	assert_segments(&e, "t", 0, want, 3);
	assert_records(&e, "t", 0, 30, 60);
	/* exactly on the boundary: 40 kept when retention_records is 30 */
	varve_topic_config c2 = step_cfg();
	c2.retention_records = 30;
	cl_topic(e.db, "u", &c2);
	steps(&e, "u", 0, 6, 10);
	t_ok(varve_clean_now(e.db, 0));
	int64_t want2[] = { 30, 40, 50 };
	assert_segments(&e, "u", 0, want2, 3);
	t_close(e.db);
}

/* ---- protected groups ------------------------------------------------------------------ */

Test(retention, retain_for_groups_keeps_unconsumed_segments)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_ms = 0;
	c.retain_for_groups = "g1,g2";
	cl_topic(e.db, "t", &c);
	steps(&e, "t", 0, 6, 10);
	atomic_store(&e.clk.now, T0 + 1000000000LL);
	int64_t all[] = { 0, 10, 20, 30, 40, 50 };

	/* no commits: nothing consumed, nothing deleted */
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all, 6);
	/* g1 is at 25, g2 has no commit: still nothing; others do not count */
	t_ok(varve_group_commit(e.db, "g1", "t", 0, 25, NULL));
	t_ok(varve_group_commit(e.db, "other", "t", 0, 60, NULL));
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all, 6);
	/* g2 at 35: the slowest is g1 at 25; segment 20 holds 25..29: kept */
	t_ok(varve_group_commit(e.db, "g2", "t", 0, 35, NULL));
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all + 2, 4);
	assert_records(&e, "t", 0, 20, 60);
	/* g1 exactly at a segment base: the segment before it can go */
	t_ok(varve_group_commit(e.db, "g1", "t", 0, 30, NULL));
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all + 3, 3);
	/* both at the end: all but the active segment */
	t_ok(varve_group_commit(e.db, "g1", "t", 0, 60, NULL));
	t_ok(varve_group_commit(e.db, "g2", "t", 0, 60, NULL));
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all + 5, 1);
	t_close(e.db);
}

Test(retention, retention_hard_bytes_wins_over_protected_groups)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_ms = 0;
	c.retain_for_groups = "slow";
	cl_topic(e.db, "t", &c);
	steps(&e, "t", 0, 6, 10);
	int64_t all[] = { 0, 10, 20, 30, 40, 50 };
	int64_t sizes[6];
	for (int i = 0; i < 6; i++)
		sizes[i] = seg_size(&e, "t", all[i]);
	t_ok(varve_group_commit(e.db, "slow", "t", 0, 5, NULL));
	atomic_store(&e.clk.now, T0 + 1000000000LL);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "t", 0, all, 6);

	/* the same records in a topic with a hard cap of the last three segments */
	varve_topic_config h = c;
	h.retention_hard_bytes = sizes[3] + sizes[4] + sizes[5];
	cl_topic(e.db, "h", &h);
	steps(&e, "h", 0, 6, 10);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(seg_size_of(t_seg_path(e.dir, "h", 0, all[i], ".log")), sizes[i]);
	t_ok(varve_group_commit(e.db, "slow", "h", 0, 5, NULL));
	atomic_store(&e.clk.now, T0 + 1000000000LL);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "h", 0, all + 3, 3);
	/* the slow group's commit is now below the log start */
	int64_t start;
	t_ok(varve_offsets(e.db, "h", 0, &start, NULL));
	cr_assert_gt(start, 5);

	/* one byte less: one more segment goes (the active one never) */
	varve_topic_config h2 = h;
	h2.retention_hard_bytes = sizes[3] + sizes[4] + sizes[5] - 1;
	cl_topic(e.db, "h2", &h2);
	steps(&e, "h2", 0, 6, 10);
	atomic_store(&e.clk.now, T0 + 1000000000LL);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "h2", 0, all + 4, 2);

	/* a hard cap alone (no other retention) works too */
	varve_topic_config h3 = step_cfg();
	h3.retention_hard_bytes = 0;
	cl_topic(e.db, "h3", &h3);
	steps(&e, "h3", 0, 6, 10);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "h3", 0, all + 5, 1);
	t_close(e.db);
}

/* ---- timestamps ------------------------------------------------------------------------- */

Test(retention, timestamp_type_create_vs_append)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_ms = 3600000;
	c.timestamp_type = VARVE_TIMESTAMP_CREATE;
	cl_topic(e.db, "create", &c);
	c.timestamp_type = VARVE_TIMESTAMP_APPEND;
	cl_topic(e.db, "append", &c);
	/* records that claim to be ancient, appended now */
	const char *names[2] = { "create", "append" };
	for (int i = 0; i < 2; i++) {
		atomic_store(&e.clk.now, T0);
		produce_n(&e, names[i], 0, 10, 1000);
		atomic_store(&e.clk.now, T0 + STEP_MS);
		produce_n(&e, names[i], 0, 10, 1000);
	}
	int64_t both[] = { 0, 10 }, last[] = { 10 };
	atomic_store(&e.clk.now, T0 + STEP_MS + 1);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "create", 0, last, 1);
	assert_segments(&e, "append", 0, both, 2);
	/* append time T0 + retention: exactly at the limit, kept */
	atomic_store(&e.clk.now, T0 + 3600000);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "append", 0, both, 2);
	atomic_store(&e.clk.now, T0 + 3600001);
	t_ok(varve_clean_now(e.db, 0));
	assert_segments(&e, "append", 0, last, 1);
	t_close(e.db);
}

Test(retention, future_timestamp_does_not_pin_a_segment)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.partitions = 2;
	c.retention_ms = 10000;
	c.max_future_skew_ms = 1000;
	cl_topic(e.db, "t", &c);
	/* partition 0: one record 30 years ahead; partition 1: 500 ms ahead */
	atomic_store(&e.clk.now, T0);
	produce_n(&e, "t", 0, 5, VARVE_TIMESTAMP_NOW);
	produce_n(&e, "t", 0, 1, T0 + 1000000000000LL);
	produce_n(&e, "t", 1, 5, VARVE_TIMESTAMP_NOW);
	produce_n(&e, "t", 1, 1, T0 + 500);
	atomic_store(&e.clk.now, T0 + STEP_MS);
	produce_n(&e, "t", 0, 1, VARVE_TIMESTAMP_NOW);
	produce_n(&e, "t", 1, 1, VARVE_TIMESTAMP_NOW);
	/* judged as T0 + 1000 (clamped) and T0 + 500 */
	atomic_store(&e.clk.now, T0 + 10500);
	t_ok(varve_clean_now(e.db, 0));
	{
		int64_t got[8];
		cr_assert_eq(cl_segments(e.dir, "t", 0, got, 8), 2);
		cr_assert_eq(cl_segments(e.dir, "t", 1, got, 8), 2);
	}
	/* across a reopen (segments learn their times from disk) */
	t_close(e.db);
	e.db = t_open(e.dir, &e.o);
	atomic_store(&e.clk.now, T0 + 10501);
	t_ok(varve_clean_now(e.db, 0));
	{
		int64_t got[8];
		cr_assert_eq(cl_segments(e.dir, "t", 0, got, 8), 2, "clamped segment went too early");
		cr_assert_eq(cl_segments(e.dir, "t", 1, got, 8), 1);
		cr_assert_eq(got[0], 6);
	}
	atomic_store(&e.clk.now, T0 + 11000);
	t_ok(varve_clean_now(e.db, 0));
	{
		int64_t got[8];
		cr_assert_eq(cl_segments(e.dir, "t", 0, got, 8), 2);
	}
	atomic_store(&e.clk.now, T0 + 11001);
	t_ok(varve_clean_now(e.db, 0));
	{
		int64_t got[8];
		cr_assert_eq(cl_segments(e.dir, "t", 0, got, 8), 1,
			     "a record far in the future pins its segment");
		cr_assert_eq(got[0], 6);
	}
	t_close(e.db);
}

/* ---- the log start ------------------------------------------------------------------------- */

static void assert_below_start_fails(env *e, int64_t start)
{
	int64_t s;
	t_ok(varve_offsets(e->db, "t", 0, &s, NULL));
	cr_assert_eq(s, start);
	varve_iter *it = NULL;
	t_assert_rc(varve_iter_open(e->db, "t", 0, start - 1, &it), VARVE_EOFFSET);
	cr_assert_null(it);
	t_assert_rc(varve_iter_open(e->db, "t", 0, 0, &it), VARVE_EOFFSET);
	assert_records(e, "t", 0, start, 60);
}

Test(retention, log_start_survives_reopen)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_records = 25;
	cl_topic(e.db, "t", &c);
	steps(&e, "t", 0, 6, 10);
	/* keep copies of the segments retention will delete */
	const char *pd = t_part_dir(e.dir, "t", 0);
	const char *bk = t_newpath("backup");
	t_copy_tree(pd, bk);
	t_ok(varve_clean_now(e.db, 0));
	assert_below_start_fails(&e, 30);
	t_close(e.db);

	/* clean reopen */
	e.db = t_open(e.dir, &e.o);
	assert_below_start_fails(&e, 30);
	t_close(e.db);
	/* as after a crash */
	t_unlink(t_fmt("%s/CLEAN", e.dir));
	e.db = t_open(e.dir, &e.o);
	assert_below_start_fails(&e, 30);
	t_close(e.db);
	/* without the recovery point either */
	t_unlink(t_fmt("%s/CLEAN", e.dir));
	t_unlink(t_fmt("%s/recovery-point", pd));
	e.db = t_open(e.dir, &e.o);
	assert_below_start_fails(&e, 30);
	t_close(e.db);
	/* a crash in the middle of the deletion left old files behind: the recovery
	 * point's log start wins and the leftovers go */
	static const char *const sfx[] = { ".log", ".index", ".timeindex" };
	for (int b = 0; b < 30; b += 10)
		for (int k = 0; k < 3; k++) {
			const char *name = t_fmt("%020d%s", b, sfx[k]);
			if (t_exists(t_fmt("%s/%s", bk, name)))
				t_copy_tree(t_fmt("%s/%s", bk, name), t_fmt("%s/%s", pd, name));
		}
	t_unlink(t_fmt("%s/CLEAN", e.dir));
	e.db = t_open(e.dir, &e.o);
	assert_below_start_fails(&e, 30);
	int64_t want[] = { 30, 40, 50 };
	assert_segments(&e, "t", 0, want, 3);
	t_close(e.db);
}

/* ---- readers of deleted segments ---------------------------------------------------------------- */

Test(retention, reader_of_a_deleted_segment_reads_it_to_the_end)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_records = 50;
	cl_topic(e.db, "t", &c);
	steps(&e, "t", 0, 6, 10);
	varve_iter *it;
	t_ok(varve_iter_open(e.db, "t", 0, 0, &it));
	const varve_record *r;
	t_ok(varve_iter_next(it, &r));
	cr_assert_eq(r->offset, 0);
	t_ok(varve_clean_now(e.db, 0));
	int64_t start;
	t_ok(varve_offsets(e.db, "t", 0, &start, NULL));
	cr_assert_eq(start, 10);
	for (int b = 10; b <= 50; b += 10)
		cr_assert(t_exists(t_seg_path(e.dir, "t", 0, b, ".log")));
	const char *seg0 = t_seg_path(e.dir, "t", 0, 0, ".log");
	/* the reader holds it: the file may still exist, the records must */
	int64_t next = 1;
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		char v[32];
		snprintf(v, sizeof v, "v%" PRId64, next);
		cr_assert_eq(r->offset, next, "got %" PRId64 ", want %" PRId64, r->offset, next);
		cr_assert(r->value_len == strlen(v) && !memcmp(r->value, v, r->value_len),
			  "offset %" PRId64 ": wrong value", next);
		next++;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(next, 60);
	varve_iter_close(it);
	int64_t want[] = { 10, 20, 30, 40, 50 };
	assert_segments(&e, "t", 0, want, 5);
	cr_assert_not(t_exists(seg0), "%s still exists after the reader closed", seg0);
	cr_assert_not(t_exists(t_seg_path(e.dir, "t", 0, 0, ".index")));
	cr_assert_not(t_exists(t_seg_path(e.dir, "t", 0, 0, ".timeindex")));
	t_close(e.db);
}

Test(retention, reader_survives_deletion_of_several_segments)
{
	env e;
	env_open(&e);
	varve_topic_config c = step_cfg();
	c.retention_records = 30;
	cl_topic(e.db, "t", &c);
	steps(&e, "t", 0, 6, 10);
	varve_iter *it;
	t_ok(varve_iter_open(e.db, "t", 0, 3, &it));
	const varve_record *r;
	t_ok(varve_iter_next(it, &r));
	cr_assert_eq(r->offset, 3);
	t_ok(varve_clean_now(e.db, 0));
	int64_t start;
	t_ok(varve_offsets(e.db, "t", 0, &start, NULL));
	cr_assert_eq(start, 30);
	/* the segment it is in comes back whole; after it, what is stored */
	int64_t prev = 3;
	int64_t seen_in_first = 1;
	int rc;
	int saw_start = 0;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		char v[32];
		snprintf(v, sizeof v, "v%" PRId64, r->offset);
		cr_assert_gt(r->offset, prev);
		cr_assert(r->value_len == strlen(v) && !memcmp(r->value, v, r->value_len));
		if (r->offset < 10) {
			cr_assert_eq(r->offset, prev + 1, "gap inside the held segment");
			seen_in_first++;
		}
		if (r->offset >= 30) {
			cr_assert(r->offset == 30 || r->offset == prev + 1);
			saw_start |= r->offset == 30;
		}
		prev = r->offset;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(seen_in_first, 7, "records 3..9 of the held segment");
	cr_assert(saw_start);
	cr_assert_eq(prev, 59);
	varve_iter_close(it);
	int64_t want[] = { 30, 40, 50 };
	assert_segments(&e, "t", 0, want, 3);
	t_close(e.db);
}

/* ---- disk usage ------------------------------------------------------------------------- */

static uint64_t allocated_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	uint64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		cr_assert_eq(stat(t_fmt("%s/%s", dir, de->d_name), &st), 0);
		total += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return total;
}

/* retention_bytes bounds what a partition keeps; with 1 KiB segments and
 * 4 KiB of retention its files should not take megabytes of disk. */
Test(retention, disk_usage_stays_near_retention_bytes)
{
	env e;
	env_open(&e);
	varve_topic_config c = cl_cfg();
	c.segment_bytes = 1024;
	c.retention_bytes = 4096;
	cl_topic(e.db, "t", &c);
	for (int i = 0; i < 200; i++)
		t_produce_to(e.db, "t", 0, "key", "a value of forty bytes, more or less...",
			     VARVE_TIMESTAMP_NOW);
	t_ok(varve_clean_now(e.db, 0));
	varve_partition_info pi;
	memset(&pi, 0, sizeof pi);
	pi.version = VARVE_PARTITION_INFO_VERSION;
	t_ok(varve_partition_info_get(e.db, "t", 0, &pi));
	cr_assert_leq(pi.size_bytes, 4096 + 1024);
	uint64_t disk = allocated_bytes(t_part_dir(e.dir, "t", 0));
	cr_assert_lt(disk, 1u << 20,
		     "a partition holding %" PRIu64 " bytes of log (segment_bytes 1 KiB) takes %" PRIu64
		     " bytes of disk",
		     pi.size_bytes, disk);
	t_close(e.db);
}
