/* SPDX-License-Identifier: MIT */
/* API: corruption reports. Damage a read meets fails the call with
 * VARVE_ECORRUPT and a detail naming the file and byte position, and also
 * reaches the log callback of the store that holds the file, at
 * VARVE_LOG_WARN, with the same place and the source location of the check
 * that failed. Another open store hears nothing, a closed one neither, and
 * a callback that calls the library does not spoil the caller's detail
 * and may open and close another store, or close one opened earlier.
 * varve_repair's callback hears of the damage it reads past. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(errors, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define BATCHES 6

/* A store with BATCHES batches of 2 records in t/0; one byte of the
 * payload of batch 3 flipped (checksum mismatch). *victim: its position. */
static const char *damaged_store(uint64_t *victim)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int b = 0; b < BATCHES; b++) {
		varve_record recs[2] = { t_rec_s("k", "first value"), t_rec_s("k", "second value") };
		recs[0].partition = recs[1].partition = 0;
		t_ok(varve_produce_batch(db, "t", recs, 2, NULL));
	}
	t_close(db);
	uint64_t pos[BATCHES + 1], end;
	const char *log = t_seg_path(dir, "t", 0, 0, ".log");
	cr_assert_eq(t_batch_positions(log, pos, BATCHES + 1, &end), BATCHES);
	*victim = pos[3];
	t_flip(log, pos[3] + 90, 0x20); /* inside the records: only the checksum sees it */
	return dir;
}

/* Read t/0 to the end or the first failure. */
static int read_all(varve_db *db)
{
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	int rc;
	while ((rc = varve_iter_next(it, &r)) == VARVE_OK)
		;
	varve_iter_close(it);
	return rc;
}

static varve_options logged(t_log *log)
{
	varve_options o = t_opts();
	o.log_fn = t_log_fn;
	o.log_ctx = log;
	return o;
}

Test(errors, corruption_reaches_the_log_callback_of_its_store)
{
	uint64_t victim;
	const char *dir = damaged_store(&victim);
	const char *log_path = t_seg_path(dir, "t", 0, 0, ".log");
	t_log la, lb;
	t_log_init(&la);
	t_log_init(&lb);
	varve_options oa = logged(&la), ob = logged(&lb);
	varve_db *a = t_open(dir, &oa);
	varve_db *b = t_open(t_newpath("other"), &ob);
	size_t before = t_log_count(&la, "corrupt data", VARVE_LOG_DEBUG);
	cr_assert_eq(before, 0, "an intact open reports no corruption");

	t_assert_rc(read_all(a), VARVE_ECORRUPT);
	/* the caller's detail: file and position, in its usual form */
	const char *want = t_fmt("corrupt data in %s at byte %" PRIu64 ": ", log_path, victim);
	const char *msg = varve_last_error()->message;
	cr_assert(!strncmp(msg, want, strlen(want)), "detail: %s", msg);
	cr_assert_null(strstr(msg, "check at"), "the source location is not in the detail: %s", msg);

	/* the log callback: the same place, at WARN, with where the check is */
	cr_assert_geq(t_log_count(&la, want, VARVE_LOG_WARN), 1, "no corruption report");
	cr_assert_eq(t_log_count(&la, want, VARVE_LOG_ERROR), 0, "reported above WARN");
	cr_assert_geq(t_log_count(&la, "(check at src/log/", VARVE_LOG_WARN), 1,
		      "the report does not say which check failed");
	cr_assert_eq(t_log_count(&lb, "corrupt", VARVE_LOG_DEBUG), 0,
		     "another store heard of the damage");
	t_close(b);
	t_close(a);

	/* closed: its callback is not called for damage met by a later open */
	size_t heard = t_log_count(&la, "corrupt data", VARVE_LOG_DEBUG);
	varve_options quiet = t_opts();
	varve_db *again = t_open(dir, &quiet);
	t_assert_rc(read_all(again), VARVE_ECORRUPT);
	t_close(again);
	cr_assert_eq(t_log_count(&la, "corrupt data", VARVE_LOG_DEBUG), heard,
		     "the callback of a closed store was called");
	t_log_free(&la);
	t_log_free(&lb);
}

/* A callback that makes a failing library call of its own. */
static int meddler_calls;
static void meddling_log(void *ctx, int level, const char *message)
{
	(void)level;
	(void)message;
	varve_options o = t_opts();
	o.create_if_missing = 0;
	varve_db *db = NULL;
	if (varve_open((const char *)ctx, &o, &db) == VARVE_ENOTFOUND)
		meddler_calls++;
}

Test(errors, a_callback_that_fails_a_call_keeps_the_callers_detail)
{
	uint64_t victim;
	const char *dir = damaged_store(&victim);
	varve_options o = t_opts();
	o.log_fn = meddling_log;
	o.log_ctx = (void *)t_newpath("nowhere");
	varve_db *db = t_open(dir, &o);
	t_assert_rc(read_all(db), VARVE_ECORRUPT);
	cr_assert_gt(meddler_calls, 0, "the callback did not run");
	cr_assert_eq(varve_last_error()->code, VARVE_ECORRUPT);
	cr_assert(strstr(varve_last_error()->message, "corrupt data in"), "detail: %s",
		  varve_last_error()->message);
	t_close(db);
}

/* A callback that opens and closes a store with a callback of its own:
 * adds and removes a report sink while the sinks are running. */
static int visitor_opens;
static void quiet_log(void *ctx, int level, const char *message)
{
	(void)ctx;
	(void)level;
	(void)message;
}
static void visiting_log(void *ctx, int level, const char *message)
{
	(void)level;
	if (!strstr(message, "corrupt data"))
		return; /* the store's own messages (opened, closed) */
	varve_options o = t_opts();
	o.log_fn = quiet_log;
	varve_db *db = NULL;
	if (varve_open((const char *)ctx, &o, &db) == VARVE_OK) {
		visitor_opens++;
		varve_close(db);
	}
}

Test(errors, a_callback_may_open_and_close_another_store)
{
	uint64_t victim;
	const char *dir = damaged_store(&victim);
	varve_options o = t_opts();
	o.log_fn = visiting_log;
	o.log_ctx = (void *)t_newpath("visited");
	varve_db *db = t_open(dir, &o);
	/* twice: the second report runs after the first one's sinks came and went */
	t_assert_rc(read_all(db), VARVE_ECORRUPT);
	t_assert_rc(read_all(db), VARVE_ECORRUPT);
	cr_assert_geq(visitor_opens, 2, "the callback's open failed: %s", varve_last_error()->message);
	cr_assert_eq(varve_last_error()->code, VARVE_ECORRUPT);
	t_close(db);
}

/* A callback that closes another store, opened earlier: its sink, next
 * in the registry, goes away while the sinks are running. */
static varve_db *to_close;
static void closing_log(void *ctx, int level, const char *message)
{
	(void)ctx;
	(void)level;
	if (to_close && strstr(message, "corrupt data")) {
		varve_close(to_close);
		to_close = NULL;
	}
}

Test(errors, a_callback_may_close_another_store)
{
	uint64_t victim;
	const char *dir = damaged_store(&victim);
	t_log lb;
	t_log_init(&lb);
	varve_options ob = logged(&lb);
	to_close = t_open(t_newpath("other"), &ob);
	varve_options o = t_opts();
	o.log_fn = closing_log;
	varve_db *db = t_open(dir, &o);
	t_assert_rc(read_all(db), VARVE_ECORRUPT);
	cr_assert_null(to_close, "the callback did not run");
	cr_assert_eq(t_log_count(&lb, "corrupt", VARVE_LOG_DEBUG), 0,
		     "the closed store heard of another's damage");
	t_assert_rc(read_all(db), VARVE_ECORRUPT);
	t_close(db);
	t_log_free(&lb);
}

Test(errors, repair_hears_of_the_damage_it_reads_past)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 5; i++)
		t_ok(varve_group_commit(db, "g", "t", 0, 0, NULL));
	t_close(db);
	const char *meta = t_fmt("%s/meta/%020d.log", dir, 0);
	uint64_t pos[16], end;
	size_t n = t_batch_positions(meta, pos, 16, &end);
	cr_assert_geq(n, 3);
	t_flip(meta, pos[n - 2] + 85, 0x08); /* a commit's batch, not the last */
	t_log log;
	t_log_init(&log);
	varve_repair_options ro = VARVE_REPAIR_OPTIONS_INIT;
	ro.log_fn = t_log_fn;
	ro.log_ctx = &log;
	varve_repair_report rep = { .version = VARVE_REPAIR_REPORT_VERSION };
	t_ok(varve_repair(dir, &ro, &rep));
	cr_assert_eq(rep.ranges_damaged, 1);
	cr_assert_geq(t_log_count(&log, t_fmt("corrupt data in %s at byte %" PRIu64, meta, pos[n - 2]),
				  VARVE_LOG_WARN),
		      1, "the damaged batch was not reported to the repair's callback");
	t_log_free(&log);
}
