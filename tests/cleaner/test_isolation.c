/* SPDX-License-Identifier: MIT */
/*
 * test_isolation.c -- a partition whose cleaning fails does not stop the
 * others; it is counted, logged, and retried with backoff (measured on the
 * injected clock); once the damage is gone it is cleaned.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cleaner_util.h"
#include "support.h"

TestSuite(isolation, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define NP 3

static varve_db *open_filled(const char *dir, t_clock *clk, varve_options *o, t_log *log)
{
	*o = cl_opts(clk);
	o->log_fn = t_log_fn;
	o->log_ctx = log;
	varve_db *db = t_open(dir, o);
	varve_topic_config c = cl_cfg();
	c.partitions = NP;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_ms = 1000;
	c.segment_bytes = 1 << 20;
	cl_topic(db, "t", &c);
	/* per partition: 3 sealed segments of 20 records on keys k0..k3, one active */
	for (int s = 0; s < 4; s++) {
		for (uint32_t p = 0; p < NP; p++)
			for (int i = 0; i < 20; i++) {
				char key[8], val[32];
				snprintf(key, sizeof key, "k%d", i % 4);
				snprintf(val, sizeof val, "p%u-s%d-i%d", p, s, i);
				t_produce_to(db, "t", (int32_t)p, key, val, VARVE_TIMESTAMP_NOW);
			}
		atomic_fetch_add(&clk->now, 1000);
	}
	return db;
}

static size_t count_records(varve_db *db, uint32_t p)
{
	cl_list l;
	cl_read(db, "t", p, &l);
	size_t n = l.n;
	cl_list_free(&l);
	return n;
}

Test(isolation, failing_partition_does_not_block_the_others_and_is_retried)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	t_log log;
	t_log_init(&log);
	varve_options o;
	varve_db *db = open_filled(dir, &clk, &o, &log);
	for (uint32_t p = 0; p < NP; p++)
		cr_assert_eq(count_records(db, p), 80);

	/* damage a record of partition 1's first (sealed) segment */
	const char *seg = t_seg_path(dir, "t", 1, 0, ".log");
	uint64_t pos[32];
	cr_assert_eq(t_batch_positions(seg, pos, 32, NULL), 20);
	uint64_t bad = pos[2] + 90;
	t_flip(seg, bad, 0x40);
	size_t n_before;
	uint8_t *p1_before = t_read_file(seg, &n_before);

	t_assert_rc(varve_clean_now(db, 1), VARVE_EIO);
	varve_stats s = cl_stats(db);
	cr_assert_eq(s.cleaner_failures, 1);
	cr_assert_gt(t_log_count(&log, "t/1", VARVE_LOG_ERROR), 0, "the failure was not logged");
	/* the others were compacted: 4 keys below the active segment + 20 active */
	cr_assert_eq(count_records(db, 0), 24);
	cr_assert_eq(count_records(db, 2), 24);
	/* the failed one is untouched */
	size_t n_after;
	uint8_t *p1_after = t_read_file(seg, &n_after);
	cr_assert(n_after == n_before && !memcmp(p1_before, p1_after, n_before),
		  "the failed partition's segment was modified");
	free(p1_after);
	int64_t bases[8];
	cr_assert_eq(cl_segments(dir, "t", 1, bases, 8), 4);
	cr_assert_eq(cl_junk(dir, "t", 1), 0, "a failed compaction left files behind");

	/* not retried before the backoff (1 s on the injected clock) */
	t_ok(varve_clean_now(db, 0));
	cr_assert_eq(cl_stats(db).cleaner_failures, 1);
	atomic_fetch_add(&clk.now, 999);
	t_ok(varve_clean_now(db, 0));
	cr_assert_eq(cl_stats(db).cleaner_failures, 1);
	/* retried once it has passed: fails again, backoff doubles */
	atomic_fetch_add(&clk.now, 1);
	t_assert_rc(varve_clean_now(db, 0), VARVE_EIO);
	cr_assert_eq(cl_stats(db).cleaner_failures, 2);
	atomic_fetch_add(&clk.now, 1999);
	t_ok(varve_clean_now(db, 0));
	cr_assert_eq(cl_stats(db).cleaner_failures, 2);

	/* repaired: the next retry cleans it */
	t_flip(seg, bad, 0x40);
	atomic_fetch_add(&clk.now, 1);
	t_ok(varve_clean_now(db, 0));
	s = cl_stats(db);
	cr_assert_eq(s.cleaner_failures, 2);
	cr_assert_eq(count_records(db, 1), 24);
	/* and after success the backoff is reset: a new failure waits 1 s again */
	free(p1_before);
	t_close(db);
	t_log_free(&log);
}

Test(isolation, forced_round_retries_at_once)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	t_log log;
	t_log_init(&log);
	varve_options o;
	varve_db *db = open_filled(dir, &clk, &o, &log);
	const char *seg = t_seg_path(dir, "t", 0, 0, ".log");
	uint64_t pos[32];
	cr_assert_eq(t_batch_positions(seg, pos, 32, NULL), 20);
	t_flip(seg, pos[5] + 85, 0x01);
	t_assert_rc(varve_clean_now(db, 1), VARVE_EIO);
	t_assert_rc(varve_clean_now(db, 1), VARVE_EIO);
	cr_assert_eq(cl_stats(db).cleaner_failures, 2);
	cr_assert_eq(count_records(db, 1), 24);
	cr_assert_eq(count_records(db, 2), 24);
	/* the damaged batch still reads as damage, nothing was cut or lost */
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	int rc, n = 0;
	while ((rc = varve_iter_next(it, &r)) == 0)
		n++;
	t_assert_rc(rc, VARVE_ECORRUPT);
	cr_assert_eq(n, 5);
	varve_iter_close(it);
	t_close(db);
	t_log_free(&log);
}

/* Records that are malformed inside a batch whose checksum is right (a
 * writer bug rather than a disk error): compaction fails, and says where. */
Test(isolation, compaction_failure_names_the_damaged_segment)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	t_log log;
	t_log_init(&log);
	varve_options o;
	varve_db *db = open_filled(dir, &clk, &o, &log);
	const char *seg = t_seg_path(dir, "t", 1, 0, ".log");
	uint64_t pos[32];
	cr_assert_eq(t_batch_positions(seg, pos, 32, NULL), 20);
	/* batch 3: one record; byte 82 is its timestamp delta (zigzag 0). Make it
	 * +1 ms, past the batch's max_timestamp, and fix the checksum. */
	size_t n;
	uint8_t *b = t_read_file(seg, &n);
	uint8_t *batch = b + pos[3];
	uint32_t len = (uint32_t)batch[12] | ((uint32_t)batch[13] << 8) | ((uint32_t)batch[14] << 16) |
		       ((uint32_t)batch[15] << 24);
	cr_assert_eq(batch[28], 1, "one record per batch expected");
	cr_assert_eq(batch[82], 0, "timestamp delta of the only record");
	batch[82] = 2;
	uint64_t sum = XXH3_64bits(batch + 8, len - 8);
	for (int i = 0; i < 8; i++)
		batch[i] = (uint8_t)(sum >> (8 * i));
	t_write_at(seg, pos[3], batch, len);
	free(b);
	/* readers see it as corruption at that place */
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 1, 0, &it));
	const varve_record *r;
	int rc, k = 0;
	while ((rc = varve_iter_next(it, &r)) == 0)
		k++;
	t_assert_rc(rc, VARVE_ECORRUPT);
	cr_assert_eq(k, 3);
	cr_assert(strstr(varve_last_error()->message, "00000000000000000000.log"), "reader: %s",
		  varve_last_error()->message);
	varve_iter_close(it);
	/* compaction fails, the others go on, and the report names the file */
	t_assert_rc(varve_clean_now(db, 1), VARVE_EIO);
	cr_assert_eq(cl_stats(db).cleaner_failures, 1);
	cr_assert_eq(count_records(db, 0), 24);
	cr_assert_eq(t_log_count(&log, "t/1", VARVE_LOG_ERROR), 1);
	size_t named = t_log_count(&log, "00000000000000000000.log", VARVE_LOG_ERROR);
	if (!named)
		t_log_dump(&log);
	cr_assert_eq(named, 1, "the failure report does not say which segment is damaged");
	t_close(db);
	t_log_free(&log);
}
