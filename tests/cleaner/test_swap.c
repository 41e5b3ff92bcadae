/* SPDX-License-Identifier: MIT */
/*
 * test_swap.c -- the crash-safe swap of compacted segments (compact.h note
 * 3), white-box: vv_compact_partition with a step hook. At a chosen step the
 * hook copies the whole store directory (an exact image of the disk if the
 * process died there) and then aborts or lets the compaction go on. Each
 * image, opened, must hold either the old log or the new one, never a mix,
 * never less. A second test SIGKILLs a child that compacts in a loop.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleaner_util.h"
#include "compact.h"
#include "db.h"
#include "registry.h"
#include "support.h"
#include "topic.h"

TestSuite(swap, .init = t_setup, .fini = t_teardown, .timeout = 120);

#define DR 2500
#define NSEALED 5
#define PER 30

typedef struct hook {
	const char *store;  /* directory to copy */
	const char *stop;   /* step name, or NULL */
	const char *image;  /* where to copy the store at that step */
	int abort_there;    /* return nonzero at the step */
	char seen[16][32];
	int nseen;
	int copied;
} hook;

static int hook_fn(void *ctx, const char *step)
{
	hook *h = ctx;
	if (h->nseen < 16)
		snprintf(h->seen[h->nseen++], sizeof h->seen[0], "%s", step);
	if (!h->stop || strcmp(step, h->stop))
		return 0;
	if (h->image && !h->copied) {
		t_copy_tree(h->store, h->image);
		h->copied = 1;
	}
	return h->abort_there;
}

static int compact_now(varve_db *db, int64_t now, hook *hk)
{
	vv_topic *t;
	vv_partition *p;
	int rc = vv_topics_partition(db->topics, "c", 0, &t, &p);
	t_assert_rc(rc, VARVE_OK);
	vv_compact_params prm;
	memset(&prm, 0, sizeof prm);
	prm.now = now;
	prm.delete_retention_ms = DR;
	prm.min_dirty_ratio = 0.5;
	prm.force = 1;
	prm.map_memory = 1 << 20;
	prm.segment_bytes = p->cfg.segment_bytes;
	prm.step_hook = hk ? hook_fn : NULL;
	prm.step_ctx = hk;
	vv_compact_stats st;
	rc = vv_compact_partition(p, &prm, &st);
	vv_topic_unref(t);
	return rc;
}

/* Five sealed segments of 30 records (cut by time) and an active one; keys
 * k0..k9, every 7th record a tombstone, so compaction drops and keeps. */
static varve_db *fill_store(const char *dir, t_clock *clk, varve_options *o)
{
	*o = cl_opts(clk);
	varve_db *db = t_open(dir, o);
	varve_topic_config c = cl_cfg();
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_ms = 1000;
	c.segment_bytes = 64 << 10;
	c.delete_retention_ms = DR;
	cl_topic(db, "c", &c);
	int64_t off = 0;
	for (int s = 0; s <= NSEALED; s++) {
		for (int i = 0; i < PER; i++, off++) {
			char key[8], val[24];
			snprintf(key, sizeof key, "k%d", (int)(off % 10));
			snprintf(val, sizeof val, "v%" PRId64, off);
			varve_record r = t_rec_s(key, off % 7 == 3 ? NULL : val);
			r.partition = 0;
			int64_t got;
			t_ok(varve_produce(db, "c", &r, NULL, &got));
			cr_assert_eq(got, off);
		}
		atomic_fetch_add(&clk->now, 1000);
	}
	int64_t bases[16];
	cr_assert_eq(cl_segments(dir, "c", 0, bases, 16), NSEALED + 1);
	return db;
}

static void read_store(const char *dir, const varve_options *o, cl_list *out)
{
	varve_db *db = t_open(dir, o);
	cl_read(db, "c", 0, out);
	cr_assert_eq(cl_junk(dir, "c", 0), 0, "swap files left in %s after open", dir);
	t_close(db);
}

static void assert_list_eq(const cl_list *got, const cl_list *want, const char *ctx)
{
	char why[512];
	cr_assert_eq(cl_list_diff(got, want, why, sizeof why), 0, "%s: %s", ctx, why);
}

static const char *pdir(const char *store) { return t_part_dir(store, "c", 0); }

static void crash_at(const char *step, int abort_there, int expect_new)
{
	const char *dir = t_newpath("live");
	t_clock clk;
	varve_options o;
	varve_db *db = fill_store(dir, &clk, &o);
	cl_list old;
	cl_read(db, "c", 0, &old);
	cr_assert_eq(old.n, (NSEALED + 1) * PER);

	hook hk;
	memset(&hk, 0, sizeof hk);
	hk.store = dir;
	hk.stop = step;
	hk.image = t_newpath("image");
	hk.abort_there = abort_there;
	int rc = compact_now(db, atomic_load(&clk.now), &hk);
	cr_assert(hk.copied, "the step %s never came", step);
	if (abort_there) {
		cr_assert_neq(rc, 0, "compaction went on after the hook said stop");
		/* the live store still holds the old log, and can compact later */
		cl_list now_live;
		cl_read(db, "c", 0, &now_live);
		assert_list_eq(&now_live, &old, "live store after an aborted compaction");
		cl_list_free(&now_live);
		hk.stop = NULL;
		t_ok(compact_now(db, atomic_load(&clk.now), &hk));
	} else {
		t_ok(rc);
	}
	cl_list nw;
	cl_read(db, "c", 0, &nw);
	cr_assert_lt(nw.n, old.n, "compaction dropped nothing: the test proves nothing");
	t_close(db);
	/* the new log survives a reopen of the live store */
	cl_list again;
	read_store(dir, &o, &again);
	assert_list_eq(&again, &nw, "live store reopened");
	cl_list_free(&again);

	/* the image of the disk at the step */
	const char *img = hk.image;
	const char *ip = pdir(img);
	if (!strcmp(step, "cleaned-written")) {
		cr_assert_eq(t_count_suffix(ip, ".log.cleaned"), 1);
		cr_assert_eq(t_count_suffix(ip, ".replaces"), 1);
		cr_assert_eq(t_count_suffix(ip, ".swap"), 0);
	} else if (!strcmp(step, "index-swapped")) {
		cr_assert_eq(t_count_suffix(ip, ".index.swap"), 1);
		cr_assert_eq(t_count_suffix(ip, ".timeindex.swap"), 1);
		cr_assert_eq(t_count_suffix(ip, ".log.swap"), 0);
	} else {
		cr_assert_eq(t_count_suffix(ip, ".log.swap"), 1);
	}
	/* a partly finished swap (committed: old segments 2..k unlinked and the
	 * index renamed, as finish_swap does, then a crash) */
	const char *img2 = NULL;
	if (!strcmp(step, "committed")) {
		img2 = t_newpath("image2");
		t_copy_tree(img, img2);
		const char *p2 = pdir(img2);
		for (int s = 1; s < NSEALED; s++) {
			t_unlink(t_seg_path(img2, "c", 0, s * PER, ".timeindex"));
			t_unlink(t_seg_path(img2, "c", 0, s * PER, ".index"));
			t_unlink(t_seg_path(img2, "c", 0, s * PER, ".log"));
		}
		cr_assert_eq(rename(t_seg_path(img2, "c", 0, 0, ".index.swap"),
				    t_seg_path(img2, "c", 0, 0, ".index")), 0, "%s", strerror(errno));
		(void)p2;
	}

	cl_list got;
	read_store(img, &o, &got);
	char why_old[512], why_new[512];
	int d_old = cl_list_diff(&got, &old, why_old, sizeof why_old);
	int d_new = cl_list_diff(&got, &nw, why_new, sizeof why_new);
	cr_assert(d_old == 0 || d_new == 0,
		  "crash at %s: the log is neither the old one (%s) nor the new one (%s)", step,
		  why_old, why_new);
	if (expect_new)
		cr_assert_eq(d_new, 0, "crash at %s (after the commit point): %s", step, why_new);
	else
		cr_assert_eq(d_old, 0, "crash at %s (before the commit point): %s", step, why_old);
	cl_list_free(&got);
	/* recovery is idempotent */
	read_store(img, &o, &got);
	assert_list_eq(&got, expect_new ? &nw : &old, "second open of the image");
	cl_list_free(&got);
	if (img2) {
		read_store(img2, &o, &got);
		assert_list_eq(&got, &nw, "crash inside the final renames");
		cl_list_free(&got);
		int64_t bases[16];
		cr_assert_eq(cl_segments(img2, "c", 0, bases, 16), 2);
	}
	/* the image is a working store: it compacts again and appends */
	varve_db *idb = t_open(img, &o);
	t_ok(varve_clean_now(idb, 1));
	cl_list after;
	cl_read(idb, "c", 0, &after);
	assert_list_eq(&after, &nw, "image compacted again");
	cl_list_free(&after);
	t_produce_to(idb, "c", 0, "k1", "new", VARVE_TIMESTAMP_NOW);
	t_close(idb);
	cl_list_free(&old);
	cl_list_free(&nw);
}

Test(swap, steps_come_in_order)
{
	const char *dir = t_newpath("live");
	t_clock clk;
	varve_options o;
	varve_db *db = fill_store(dir, &clk, &o);
	hook hk;
	memset(&hk, 0, sizeof hk);
	t_ok(compact_now(db, atomic_load(&clk.now), &hk));
	/* one group of five segments: three steps */
	cr_assert_eq(hk.nseen, 3);
	cr_assert_str_eq(hk.seen[0], "cleaned-written");
	cr_assert_str_eq(hk.seen[1], "index-swapped");
	cr_assert_str_eq(hk.seen[2], "committed");
	int64_t bases[16];
	cr_assert_eq(cl_segments(dir, "c", 0, bases, 16), 2);
	cr_assert_eq(bases[0], 0);
	cr_assert_eq(bases[1], NSEALED * PER);
	t_close(db);
}

Test(swap, crash_after_cleaned_written) { crash_at("cleaned-written", 0, 0); }
Test(swap, crash_after_index_swapped) { crash_at("index-swapped", 0, 0); }
Test(swap, crash_after_commit_point) { crash_at("committed", 0, 1); }
Test(swap, abort_after_cleaned_written) { crash_at("cleaned-written", 1, 0); }
Test(swap, abort_after_index_swapped) { crash_at("index-swapped", 1, 0); }
Test(swap, abort_after_commit_point) { crash_at("committed", 1, 1); }

/* A failed compaction reports why: the error detail of the failing step
 * must survive the clean-up of the half-written files. */
Test(swap, failed_compaction_keeps_its_error_detail)
{
	const char *steps[3] = { "cleaned-written", "index-swapped", "committed" };
	for (int i = 0; i < 3; i++) {
		const char *dir = t_newpath("live");
		t_clock clk;
		varve_options o;
		varve_db *db = fill_store(dir, &clk, &o);
		hook hk;
		memset(&hk, 0, sizeof hk);
		hk.stop = steps[i];
		hk.abort_there = 1;
		int rc = compact_now(db, atomic_load(&clk.now), &hk);
		cr_assert_neq(rc, 0);
		const varve_error_info *e = varve_last_error();
		cr_assert_eq(e->code, rc, "step %s: last error code %d, returned %d", steps[i], e->code,
			     rc);
		cr_assert(e->message && strstr(e->message, steps[i]),
			  "step %s: the error detail is \"%s\"", steps[i], e->message ? e->message : "(null)");
		t_close(db);
	}
}

/* ---- SIGKILL while compacting in a loop ----------------------------------------------- */

#define KEYS 20

static _Atomic int64_t child_now;
static int64_t child_clock(void *ctx)
{
	(void)ctx;
	return atomic_load(&child_now);
}

static void child_loop(const char *dir, int round)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = VARVE_SYNC_NONE;
	o.start_cleaner = 0;
	o.clock_fn = child_clock;
	atomic_store(&child_now, T0 + (int64_t)round * 100000000LL);
	varve_db *db = NULL;
	if (varve_open(dir, &o, &db))
		_exit(10);
	for (;;) {
		int64_t end;
		if (varve_offsets(db, "c", 0, NULL, &end))
			_exit(11);
		for (int i = 0; i < 40; i++, end++) {
			char key[8], val[24];
			snprintf(key, sizeof key, "k%d", (int)(end % KEYS));
			snprintf(val, sizeof val, "v%" PRId64, end);
			varve_record r;
			memset(&r, 0, sizeof r);
			r.key = key;
			r.key_len = strlen(key);
			r.value = val;
			r.value_len = strlen(val);
			r.partition = 0;
			int64_t got;
			if (varve_produce(db, "c", &r, NULL, &got) || got != end)
				_exit(12);
		}
		atomic_fetch_add(&child_now, 1000);
		if (varve_clean_now(db, 1))
			_exit(13);
	}
}

Test(swap, sigkill_while_compacting_keeps_a_valid_log, .timeout = 200)
{
	const char *dir = t_newpath("s");
	{
		t_clock clk;
		varve_options o = cl_opts(&clk);
		varve_db *db = t_open(dir, &o);
		varve_topic_config c = cl_cfg();
		c.cleanup_policy = VARVE_CLEANUP_COMPACT;
		c.segment_ms = 1000;
		c.segment_bytes = 2048;
		cl_topic(db, "c", &c);
		t_close(db);
	}
	uint64_t seed = t_seed_from_time();
	int64_t prev_end = 0;
	int rounds = 12;
	for (int round = 0; round < rounds; round++) {
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			child_loop(dir, round);
		}
		long ms = 5 + (long)(t_rand(&seed) % 80);
		/* VARVE_TEST_TIME_SCALE: slower runs (valgrind) wait longer */
		const char *scale = getenv("VARVE_TEST_TIME_SCALE");
		if (scale && atol(scale) > 1)
			ms *= atol(scale);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st), "child exited with %d (round %d)",
			  WIFEXITED(st) ? WEXITSTATUS(st) : -1, round);

		t_clock clk;
		varve_options o = cl_opts(&clk);
		varve_db *db = t_open(dir, &o);
		cr_assert_eq(cl_junk(dir, "c", 0), 0);
		cl_list got;
		cl_read(db, "c", 0, &got);
		int64_t end;
		t_ok(varve_offsets(db, "c", 0, NULL, &end));
		cr_assert_geq(end, prev_end, "round %d: records lost (end %" PRId64 " < %" PRId64 ")",
			      round, end, prev_end);
		prev_end = end;
		int64_t latest[KEYS];
		for (int k = 0; k < KEYS; k++)
			latest[k] = -1;
		for (int64_t off = 0; off < end; off++)
			latest[off % KEYS] = off;
		int found[KEYS] = { 0 };
		for (size_t i = 0; i < got.n; i++) {
			char key[8], val[24];
			int64_t off = got.v[i].off;
			snprintf(key, sizeof key, "k%d", (int)(off % KEYS));
			snprintf(val, sizeof val, "v%" PRId64, off);
			cr_assert(got.v[i].klen == strlen(key) && !memcmp(got.v[i].key, key, got.v[i].klen),
				  "round %d: offset %" PRId64 " has the wrong key", round, off);
			cr_assert(got.v[i].vlen == strlen(val) && !memcmp(got.v[i].val, val, got.v[i].vlen),
				  "round %d: offset %" PRId64 " has the wrong value", round, off);
			if (latest[off % KEYS] == off)
				found[off % KEYS] = 1;
		}
		for (int k = 0; k < KEYS; k++)
			cr_assert(latest[k] < 0 || found[k],
				  "round %d: the latest record of k%d (offset %" PRId64 ") is gone", round,
				  k, latest[k]);
		cl_list_free(&got);
		t_close(db);
	}
	cr_assert_gt(prev_end, 0, "the children never produced anything");
}
