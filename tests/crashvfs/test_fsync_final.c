/* SPDX-License-Identifier: MIT */
/*
 * test_fsync_final.c -- an fdatasync failure is final (partition.h note 3).
 *
 * A backend that wraps vv_io_posix fails one chosen fdatasync with EIO (like
 * Linux after a write-back error: the next fsync would succeed, proving
 * nothing). Then the partition must be failed: the failing call returns
 * VARVE_EIO, later appends return VARVE_EIO, varve_partition_info_get says
 * failed = 1, reads still work, nothing the failed sync covered is ever
 * acknowledged -- also with several threads appending through group commit
 * -- and the file is never fsynced again (no retry into success), the clean
 * close marker is not written.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crash_util.h"
#include "db.h"
#include "registry.h" /* white-box: the partition's durable offset at the failure */

static void fini(void) { cu_cleanup(); }

TestSuite(fsync_final, .fini = fini, .timeout = 300);

/* ---- the failing backend ----------------------------------------------------------- */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char match[512];     /* fail datasyncs of paths containing this... */
	char match2[64];     /* ...and ending with this */
	int fail_nth;        /* the Nth matching datasync fails (0 = none) */
	int seen;            /* matching datasyncs so far */
	int failed;          /* the failure happened */
	char failed_path[1024];
	int after;           /* datasyncs of the failed file after the failure */
	int after_ok;        /* ...that succeeded */
	vv_partition *part;  /* white-box: to read durable_offset at the failure */
	int64_t durable_at_fail, end_at_fail;
	/* orchestration of the roll race */
	int hold;            /* the failing call waits for `release` */
	int in_failing;      /* the failing call has started */
	int release;
	int other_syncs;     /* successful syncs of the same file while held */
} FB = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, "", "", 0, 0, 0, "", 0, 0, NULL,
	 -1, -1, 0, 0, 0, 0 };

static vv_io_methods fb_methods;

static int ends_with(const char *s, const char *x)
{
	size_t a = strlen(s), b = strlen(x);
	return a >= b && !strcmp(s + a - b, x);
}

static int fb_datasync(vv_file *f)
{
	pthread_mutex_lock(&FB.mu);
	int matching = FB.fail_nth && strstr(f->path, FB.match) && ends_with(f->path, FB.match2);
	if (FB.failed && !strcmp(f->path, FB.failed_path))
		FB.after++;
	if (matching && !FB.failed && ++FB.seen == FB.fail_nth) {
		FB.failed = 1;
		snprintf(FB.failed_path, sizeof FB.failed_path, "%s", f->path);
		if (FB.part) {
			FB.durable_at_fail = atomic_load(&FB.part->durable_offset);
			FB.end_at_fail = atomic_load(&FB.part->end_offset);
		}
		if (FB.hold) {
			FB.in_failing = 1;
			pthread_cond_broadcast(&FB.cond);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 5;
			while (!FB.release)
				if (pthread_cond_timedwait(&FB.cond, &FB.mu, &ts))
					break;
		}
		pthread_mutex_unlock(&FB.mu);
		return -EIO;
	}
	int held = FB.hold && FB.in_failing && !FB.release && !strcmp(f->path, FB.failed_path);
	pthread_mutex_unlock(&FB.mu);
	int rc = vv_io_posix.datasync(f);
	pthread_mutex_lock(&FB.mu);
	if (FB.failed && !strcmp(f->path, FB.failed_path) && rc == 0)
		FB.after_ok++;
	if (held && rc == 0) {
		FB.other_syncs++;
		pthread_cond_broadcast(&FB.cond);
	}
	pthread_mutex_unlock(&FB.mu);
	return rc;
}

static void fb_arm(const char *match, const char *suffix, int nth)
{
	pthread_mutex_lock(&FB.mu);
	snprintf(FB.match, sizeof FB.match, "%s", match);
	snprintf(FB.match2, sizeof FB.match2, "%s", suffix);
	FB.fail_nth = nth;
	FB.seen = FB.failed = FB.after = FB.after_ok = 0;
	FB.in_failing = FB.release = FB.other_syncs = 0;
	FB.durable_at_fail = FB.end_at_fail = -1;
	pthread_mutex_unlock(&FB.mu);
}

/* The table, for the options of the store under test (and only it). */
static const vv_io_methods *fb_table(void)
{
	fb_methods = vv_io_posix;
	fb_methods.datasync = fb_datasync;
	return &fb_methods;
}

/* ---- helpers ------------------------------------------------------------------------ */

static varve_options opts(void)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.segment_bytes = 1024;
	o.index_interval_bytes = 64;
	o.max_record_bytes = 8192;
	o.start_cleaner = 0;
	return o;
}

static int produce(varve_db *db, const char *topic, uint32_t part, size_t vlen, int64_t *off)
{
	char v[2048];
	memset(v, 'v', sizeof v);
	varve_record r;
	memset(&r, 0, sizeof r);
	r.value = v;
	r.value_len = vlen;
	r.partition = (int32_t)part;
	return varve_produce(db, topic, &r, NULL, off);
}

static int64_t count(varve_db *db, const char *topic, uint32_t part)
{
	varve_iter *it;
	cr_assert_eq(varve_iter_open(db, topic, part, 0, &it), 0);
	const varve_record *r;
	int rc;
	int64_t n = 0;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		cr_assert_eq(r->offset, n);
		n++;
	}
	cr_assert_eq(rc, VARVE_EEND, "reads after the failure: %s", varve_last_error()->message);
	varve_iter_close(it);
	return n;
}

static vv_partition *partition_of(varve_db *db, const char *topic, uint32_t part)
{
	vv_topic *t;
	vv_partition *p;
	cr_assert_eq(vv_topics_partition(db->topics, topic, part, &t, &p), 0);
	vv_topic_unref(t); /* the store keeps it */
	return p;
}

static void expect_failed_state(varve_db *db, const char *topic, uint32_t part, int64_t acked)
{
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(varve_partition_info_get(db, topic, part, &info), 0);
	cr_expect_eq(info.failed, 1, "partition_info.failed is %d after the fsync error", info.failed);
	int64_t off;
	int rc = produce(db, topic, part, 10, &off);
	cr_expect_eq(rc, VARVE_EIO, "a later append returned %s", varve_errmsg(rc));
	varve_record r[2];
	memset(r, 0, sizeof r);
	r[0].value = r[1].value = "b";
	r[0].value_len = r[1].value_len = 1;
	r[0].partition = r[1].partition = (int32_t)part;
	rc = varve_produce_batch(db, topic, r, 2, NULL);
	cr_expect_eq(rc, VARVE_EIO, "a later batch returned %s", varve_errmsg(rc));
	rc = varve_sync(db);
	cr_expect_eq(rc, VARVE_EIO, "varve_sync after the failure returned %s", varve_errmsg(rc));
	cr_expect_geq(count(db, topic, part), acked, "reads lost acknowledged records");
}

static void expect_no_retry(void)
{
	pthread_mutex_lock(&FB.mu);
	int after = FB.after, ok = FB.after_ok;
	pthread_mutex_unlock(&FB.mu);
	cr_expect_eq(after, 0, "%s was fsynced %d more times after its fsync failed (%d succeeded)",
		     FB.failed_path, after, ok);
}

static void close_and_check(varve_db *db, const char *dir)
{
	int rc = varve_close(db);
	cr_expect_eq(rc, VARVE_EIO, "varve_close after a failed fsync returned %s", varve_errmsg(rc));
	char p[1200];
	snprintf(p, sizeof p, "%s/CLEAN", dir);
	cr_expect(!cu_exists(p), "the clean-close marker was written after a failed fsync");
	expect_no_retry();
}

/* ---- tests ---------------------------------------------------------------------------- */

Test(fsync_final, append_sync_fails)
{
	char dir[1024];
	cu_newpath(dir, sizeof dir, "store");
	varve_options o = opts();
	o.io = fb_table();
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	cr_assert_eq(varve_topic_create(db, "other", NULL), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(produce(db, "t", 0, 50, NULL), 0);
	FB.part = partition_of(db, "t", 0);
	char m[1200];
	snprintf(m, sizeof m, "%s/topics/t/0/", dir);
	fb_arm(m, ".log", 1);
	int64_t off;
	int rc = produce(db, "t", 0, 50, &off);
	cr_assert_eq(rc, VARVE_EIO, "the append whose fsync failed returned %s", varve_errmsg(rc));
	cr_assert(FB.failed);
	expect_failed_state(db, "t", 0, 3);
	/* other partitions are not affected */
	cr_expect_eq(produce(db, "other", 0, 10, NULL), 0, "%s", varve_last_error()->message);
	close_and_check(db, dir);
	o.io = NULL; /* reopen through the operating system */
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	int64_t n = count(db, "t", 0);
	cr_expect(n == 3 || n == 4, "%" PRId64 " records after reopening, 3 acknowledged", n);
	varve_close(db);
}

Test(fsync_final, roll_sync_fails)
{
	char dir[1024];
	cu_newpath(dir, sizeof dir, "store");
	varve_options o = opts();
	o.io = fb_table();
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	char m[1200];
	snprintf(m, sizeof m, "%s/topics/t/0/", dir);
	/* the seal of the first segment syncs its index first */
	fb_arm(m, ".index", 1);
	FB.part = partition_of(db, "t", 0);
	int64_t acked = 0;
	int rc = 0;
	while ((rc = produce(db, "t", 0, 100, NULL)) == 0)
		acked++;
	cr_assert_eq(rc, VARVE_EIO, "the append that rolled returned %s", varve_errmsg(rc));
	cr_assert(FB.failed, "no .index fsync failed");
	expect_failed_state(db, "t", 0, acked);
	close_and_check(db, dir);
}

/* The metadata log: a topic create whose record's fsync fails. (varve_close
 * used to return VARVE_OK and write CLEAN: it only looked at topic
 * partitions. Found here; fixed in the tree since.) */
Test(fsync_final, metadata_sync_fails)
{
	char dir[1024];
	cu_newpath(dir, sizeof dir, "store");
	varve_options o = opts();
	o.io = fb_table();
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	cr_assert_eq(varve_group_commit(db, "g", "t", 0, 0, NULL), 0);
	char m[1200];
	snprintf(m, sizeof m, "%s/meta/", dir);
	fb_arm(m, ".log", 1);
	int rc = varve_topic_create(db, "u", NULL);
	cr_assert_eq(rc, VARVE_EIO, "topic create whose record's fsync failed returned %s",
		     varve_errmsg(rc));
	rc = varve_group_commit(db, "g", "t", 0, 0, "x");
	cr_expect_eq(rc, VARVE_EIO, "a commit after the metadata fsync failed returned %s",
		     varve_errmsg(rc));
	rc = varve_topic_create(db, "w", NULL);
	cr_expect_eq(rc, VARVE_EIO, "a topic create after the metadata fsync failed returned %s",
		     varve_errmsg(rc));
	/* data partitions still work; reads work */
	cr_expect_eq(produce(db, "t", 0, 10, NULL), 0);
	close_and_check(db, dir);
}

/* ---- group commit: several threads ------------------------------------------------------- */

typedef struct appender {
	varve_db *db;
	int n;
	int64_t off[64];
	int rc[64];
} appender;

static void *append_loop(void *arg)
{
	appender *a = arg;
	for (int i = 0; i < a->n; i++) {
		a->off[i] = -1;
		a->rc[i] = produce(a->db, "t", 0, 40, &a->off[i]);
		if (a->rc[i] == 0)
			cr_assert_geq(a->off[i], 0);
	}
	return NULL;
}

Test(fsync_final, group_commit_threads)
{
	for (int round = 0; round < 6; round++) {
		char dir[1024];
		cu_newpath(dir, sizeof dir, "store");
		varve_options o = opts();
		o.io = fb_table();
		o.segment_bytes = 1u << 20;
		o.group_commit_wait_us = 500;
		varve_db *db;
		cr_assert_eq(varve_open(dir, &o, &db), 0);
		cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
		FB.part = partition_of(db, "t", 0);
		char m[1200];
		snprintf(m, sizeof m, "%s/topics/t/0/", dir);
		fb_arm(m, ".log", 3 + round * 2);
		enum { T = 8 };
		appender a[T];
		pthread_t th[T];
		for (int i = 0; i < T; i++) {
			memset(&a[i], 0, sizeof a[i]);
			a[i].db = db;
			a[i].n = 20;
			pthread_create(&th[i], NULL, append_loop, &a[i]);
		}
		for (int i = 0; i < T; i++)
			pthread_join(th[i], NULL);
		cr_assert(FB.failed, "round %d: the armed fsync never happened", round);
		int ok = 0, err = 0;
		for (int i = 0; i < T; i++)
			for (int k = 0; k < a[i].n; k++) {
				if (a[i].rc[k] == 0) {
					ok++;
					cr_expect_lt(a[i].off[k], FB.durable_at_fail,
						     "round %d: offset %" PRId64 " was acknowledged, but only "
						     "offsets below %" PRId64 " were durable before the failed "
						     "fsync",
						     round, a[i].off[k], FB.durable_at_fail);
				} else {
					err++;
					cr_expect_eq(a[i].rc[k], VARVE_EIO, "round %d: %s", round,
						     varve_errmsg(a[i].rc[k]));
				}
			}
		cr_expect_gt(err, 0);
		expect_failed_state(db, "t", 0, FB.durable_at_fail);
		close_and_check(db, dir);
	}
}

/* ---- a roll racing with a failed group-commit fsync ----------------------------------------- */

typedef struct one {
	varve_db *db;
	size_t vlen;
	int64_t off;
	int rc;
	int done;
} one;

static void *produce_one(void *arg)
{
	one *x = arg;
	x->rc = produce(x->db, "t", 0, x->vlen, &x->off);
	__atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int wait_until(int (*cond)(void *), void *arg, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (cond(arg))
			return 1;
		usleep(1000);
	}
	return cond(arg);
}

static int failing_started(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&FB.mu);
	int v = FB.in_failing;
	pthread_mutex_unlock(&FB.mu);
	return v;
}

static int end_reached(void *arg)
{
	int64_t *want = arg;
	return atomic_load(&FB.part->end_offset) >= *want;
}

static int durable_reached(void *arg)
{
	int64_t *want = arg;
	return atomic_load(&FB.part->durable_offset) >= *want;
}

static int other_synced(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&FB.mu);
	int v = FB.other_syncs;
	pthread_mutex_unlock(&FB.mu);
	return v;
}

/*
 * A (thread 1) appends and leads a group commit: it waits
 * group_commit_wait_us for joiners, B (thread 2) appends meanwhile and joins,
 * then A's fsync of the active segment -- covering A and B -- fails. While it
 * runs, C (thread 3) rolls the segment: roll() seals the old segment with its
 * own fsync of the same file, which now succeeds (as on Linux after a
 * write-back error), and moves durable_offset past A and B without looking at
 * `failed`. B's wait then finds durable_offset past its offset and returns
 * success: a record the failed fsync covered is acknowledged after a retry
 * into success. src/partition.c roll() (durable_offset update) and
 * wait_durable() (returns 0 once durable_offset >= target, failed or not).
 * Found here; fixed in the tree since.
 */
Test(fsync_final, roll_racing_failed_group_commit)
{
	char dir[1024];
	cu_newpath(dir, sizeof dir, "store");
	varve_options o = opts();
	o.io = fb_table();
	o.group_commit_wait_us = 300000; /* A waits 300 ms for joiners before its fsync */
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	FB.part = partition_of(db, "t", 0);
	/* a segment with room for A and B, not for C */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(produce(db, "t", 0, 100, NULL), 0);
	char m[1200];
	snprintf(m, sizeof m, "%s/topics/t/0/", dir);
	fb_arm(m, ".log", 1);
	FB.hold = 1;
	one A = { db, 50, -1, 0, 0 }, B = { db, 50, -1, 0, 0 }, C = { db, 600, -1, 0, 0 };
	pthread_t ta, tb, tc;
	int64_t want = atomic_load(&FB.part->end_offset) + 1;
	pthread_create(&ta, NULL, produce_one, &A);
	cr_assert(wait_until(end_reached, &want, 3000), "A was never appended");
	want++;
	pthread_create(&tb, NULL, produce_one, &B); /* joins A's group commit */
	cr_assert(wait_until(end_reached, &want, 3000), "B was never appended");
	cr_assert(wait_until(failing_started, NULL, 3000), "A's fsync never started");
	cr_assert_geq(FB.end_at_fail, want, "B was appended after the failing fsync started");
	pthread_create(&tc, NULL, produce_one, &C);
	/* C's roll fsyncs the old segment and moves the durable offset: let A's
	 * fsync fail after that */
	int rolled = wait_until(other_synced, NULL, 3000);
	int moved = wait_until(durable_reached, &want, 3000);
	pthread_mutex_lock(&FB.mu);
	FB.release = 1;
	pthread_cond_broadcast(&FB.cond);
	pthread_mutex_unlock(&FB.mu);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	FB.hold = 0;
	if (getenv("CV_DEBUG"))
		fprintf(stderr, "A rc %d off %lld, B rc %d off %lld (%s), C rc %d off %lld, durable at "
			"failure %lld, end at failure %lld, other syncs %d\n", A.rc, (long long)A.off,
			B.rc, (long long)B.off, varve_errmsg(B.rc), C.rc, (long long)C.off,
			(long long)FB.durable_at_fail, (long long)FB.end_at_fail, FB.other_syncs);
	cr_assert(rolled, "C never rolled the segment while A's fsync was running");
	cr_expect(moved, "the roll did not move the durable offset past B while A's fsync ran");
	cr_expect_eq(A.rc, VARVE_EIO, "A, whose fsync failed: %s", varve_errmsg(A.rc));
	cr_expect_neq(B.rc, 0,
		      "B (offset %" PRId64 ") joined the group commit whose fsync failed (it covered "
		      "offsets below %" PRId64 "), yet B was acknowledged: the roll's fsync of the "
		      "same file succeeded and moved the durable offset past it",
		      B.off, FB.end_at_fail);
	varve_close(db);
}
