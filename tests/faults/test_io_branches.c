/* SPDX-License-Identifier: MIT */
/*
 * test_io_branches.c -- I/O errors during recovery at open (coverage of the
 * error branches the I/O-error loop of test_io_errors.c does not reach: that
 * loop injects faults into a workload on a fresh store, whose opens have
 * nothing to recover; see docs/DURABILITY.md, "Coverage").
 *
 * A store is prepared with work for recovery: a torn tail (garbage after the
 * last batch: cut, truncate, fdatasync), leftovers of an interrupted
 * compaction (<b>.log.cleaned, <b>.replaces: removed, directory fsynced) and
 * no CLEAN marker. Then for N = 1, 2, ... the Nth mutating or syncing I/O
 * call of a writer open (or every call from N on) fails with EIO, on a fresh
 * copy each time, until an open runs without reaching call N. Each time:
 *
 *  - the open either succeeds, or fails with a negative code other than
 *    EINVAL/ECORRUPT/EFORMAT and a message (fu_check_error);
 *  - a second open with the real backend succeeds and every record written
 *    before the damage is there, byte for byte, at its offset (no data loss
 *    because an open failed half way), and the store takes a new record.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_util.h"
#include "io_fault.h"

#define RECORDS 40

static varve_options quiet(void)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.segment_bytes = 4096; /* several segments */
	return o;
}

static void append_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "ab");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* The store the loop copies: topic t, RECORDS records in 1 partition. */
static void build(const char *store)
{
	varve_options o = quiet();
	varve_db *db;
	cr_assert_eq(varve_open(store, &o, &db), 0);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	cr_assert_eq(varve_topic_create(db, "t", &c), 0);
	for (uint32_t i = 0; i < RECORDS; i++) {
		fu_rec fr;
		fu_rec_make(&fr, i, 0, 1700000000000LL + i);
		int64_t off;
		cr_assert_eq(varve_produce(db, "t", &fr.r, NULL, &off), 0);
		cr_assert_eq(off, (int64_t)i);
	}
	cr_assert_eq(varve_close(db), 0);
	char p[4400];
	/* no clean shutdown: recovery scans */
	snprintf(p, sizeof p, "%s/CLEAN", store);
	unlink(p);
	/* a torn tail after the last batch of the last segment */
	char dir[4300];
	snprintf(dir, sizeof dir, "%s/topics/t/0", store);
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "%s", dir);
	char last[256] = "";
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".log") && strcmp(e->d_name, last) > 0)
			snprintf(last, sizeof last, "%s", e->d_name);
	}
	closedir(d);
	cr_assert(last[0]);
	snprintf(p, sizeof p, "%s/%s", dir, last);
	static const char garbage[] = "VRV1 torn batch: not a header, not zeros";
	append_file(p, garbage, sizeof garbage - 1);
	/* leftovers of a compaction that crashed before its commit point */
	snprintf(p, sizeof p, "%s/00000000000000000000.log.cleaned", dir);
	append_file(p, "half a compacted segment", 24);
	snprintf(p, sizeof p, "%s/00000000000000000000.replaces", dir);
	append_file(p, "x", 1);
}

/* Reopen with the real backend: every record is there, and it takes more. */
static int check_store(const char *store, char *why, size_t cap)
{
	varve_options o = quiet();
	varve_db *db;
	int rc = varve_open(store, &o, &db);
	if (rc) {
		snprintf(why, cap, "reopen: %s: %s", fu_code_name(rc), varve_last_error()->message);
		return 1;
	}
	varve_iter *it;
	int bad = 0;
	if ((rc = varve_iter_open(db, "t", 0, 0, &it))) {
		snprintf(why, cap, "iter_open: %s", fu_code_name(rc));
		varve_close(db);
		return 1;
	}
	const varve_record *r;
	int64_t next = 0;
	while (!bad && (rc = varve_iter_next(it, &r)) == 0) {
		fu_rec fr;
		fu_rec_make(&fr, (uint32_t)next, 0, 1700000000000LL + next);
		char w[200];
		if (r->offset != next || fu_rec_cmp(r, &fr.r, w, sizeof w)) {
			snprintf(why, cap, "offset %" PRId64 ": expected record %" PRId64 " (%s)",
				 r->offset, next, r->offset != next ? "offset" : w);
			bad = 1;
		}
		next++;
	}
	varve_iter_close(it);
	if (!bad && (rc != VARVE_EEND || next != RECORDS)) {
		snprintf(why, cap, "read %" PRId64 " of %d records, then %s", next, RECORDS,
			 fu_code_name(rc));
		bad = 1;
	}
	if (!bad) {
		fu_rec fr;
		fu_rec_make(&fr, RECORDS, 0, 1700000000000LL + RECORDS);
		int64_t off;
		if ((rc = varve_produce(db, "t", &fr.r, NULL, &off)) || off != RECORDS) {
			snprintf(why, cap, "append after reopen: %s (offset %" PRId64 ")",
				 fu_code_name(rc), off);
			bad = 1;
		}
	}
	rc = varve_close(db);
	if (!bad && rc) {
		snprintf(why, cap, "close: %s", fu_code_name(rc));
		bad = 1;
	}
	return bad;
}

static void open_loop(const char *label, int persistent)
{
	char *root = fu_fast_tmpdir("iobranch");
	cr_assert_not_null(root);
	char ref[4200];
	snprintf(ref, sizeof ref, "%s/ref", root);
	build(ref);
	long n, failed_opens = 0, ok_opens = 0, problems = 0;
	char first[1500] = "";
	int completed = 0;
	for (n = 1; n <= 100000; n++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/s%ld", root, n);
		cr_assert_eq(fu_copy_tree(ref, path), 0);
		iof_disarm();
		iof_arm(IOF_WALK, n, IOF_EIO, persistent, NULL);
		varve_options o = quiet();
		o.io = iof_table();
		varve_db *db = NULL;
		int rc = varve_open(path, &o, &db);
		char why[1200] = "";
		if (rc == 0)
			(void)varve_close(db); /* a close may fail too; the reopen below decides */
		else if (fu_check_error(rc, "open", why, sizeof why))
			problems++;
		long fired = iof_fired();
		char fault[512];
		snprintf(fault, sizeof fault, "%s", iof_first_fault());
		iof_disarm();
		if (rc)
			failed_opens++;
		else
			ok_opens++;
		if (!why[0] && check_store(path, why, sizeof why))
			problems++;
		if (why[0] && !first[0])
			snprintf(first, sizeof first, "N=%ld (%s): %s", n, fault, why);
		fu_rm_rf(path);
		if (!fired) {
			completed = 1;
			break;
		}
	}
	fu_rm_rf(root);
	free(root);
	printf("io_branches[%s]: %ld opens of a store with a torn tail and compaction leftovers "
	       "(N=1..%ld): %ld failed with a clean error, %ld succeeded; every reopen: %d "
	       "records, then a new one; %ld problems\n",
	       label, n, n, failed_opens, ok_opens, RECORDS, problems);
	fflush(stdout);
	cr_assert(completed, "the loop did not finish");
	cr_assert_gt(failed_opens, 0, "no fault surfaced");
	cr_assert_eq(problems, 0, "%s", first);
}

TestSuite(io_branches, .timeout = 600);

Test(io_branches, recovery_with_each_io_call_failing_once) { open_loop("EIO once", 0); }
Test(io_branches, recovery_with_io_failing_from_call_n_on) { open_loop("EIO from N on", 1); }
