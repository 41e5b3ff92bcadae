/* SPDX-License-Identifier: MIT */
/*
 * test_mmap_writes.c -- the crash VFS sees varve's mmap-mode appends.
 *
 * In mmap mode an append copies its batch into a shared mapping of the
 * active segment through the I/O table's map_write method. The crash VFS
 * wraps that method: the copy becomes a pending write of the segment file
 * (a CV_EV_MAP_WRITE event fires right after it), with the fates of a
 * pwrite. At every such event this suite crashes the store with the copy
 * applied, dropped, torn, zero-filled and garbage-filled (everything else
 * pending applied), and with everything pending dropped; every state is
 * opened and compared with what was acknowledged (crash_util.h: the batch in
 * flight is there whole or not at all, nothing acknowledged is lost).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_util.h"

static void fini(void) { cu_cleanup(); }

TestSuite(mmap_writes, .fini = fini, .timeout = 300);

typedef struct mw_ctx {
	uint64_t events;     /* map_write events seen during operations */
	uint64_t as_pending; /* ...whose copy was the newest pending write of a .log */
	uint64_t states;     /* crash states taken */
	uint64_t seed;
} mw_ctx;

static int ends_with(const char *s, const char *x)
{
	size_t a = strlen(s), b = strlen(x);
	return a >= b && !strcmp(s + a - b, x);
}

static void at_map_write(cu_world *w, int ev, const char *path)
{
	if (ev != CV_EV_MAP_WRITE)
		return;
	mw_ctx *c = w->capture_ctx;
	c->events++;
	size_t n = cv_pending(NULL, 0);
	cv_pending_info *info = calloc(n ? n : 1, sizeof *info);
	n = cv_pending(info, n);
	if (n && info[n - 1].kind == CV_OP_WRITE && !strcmp(info[n - 1].path, path) &&
	    ends_with(path, ".log") && info[n - 1].len > 0)
		c->as_pending++;
	uint8_t *f = calloc(n ? n : 1, 1);
	static const int fates[] = { CV_APPLY, CV_DROP, CV_TEAR, CV_ZERO, CV_GARBAGE };
	static const char *const names[] = { "applied", "dropped", "torn", "zero-filled", "garbage" };
	for (size_t k = 0; n && k < sizeof fates / sizeof fates[0]; k++) {
		memset(f, CV_APPLY, n);
		f[n - 1] = (uint8_t)fates[k];
		char why[160];
		snprintf(why, sizeof why, "copy into the mapping of %s %s", path, names[k]);
		cu_take_tree(w, cv_crash_explicit(f, n, c->seed++), 0, why);
		c->states++;
	}
	memset(f, CV_DROP, n ? n : 1);
	cu_take_tree(w, cv_crash_explicit(f, n, c->seed++), CU_RO_FIRST, "everything pending dropped");
	c->states++;
	free(f);
	free(info);
}

/* Appends of 1 to 4 records into two topics (one LZ4) that roll every few
 * batches, with commits and a reopen in between: a crash inside each copy. */
Test(mmap_writes, a_crash_inside_an_mmap_append_recovers)
{
	uint64_t seed = cu_env_u64("VARVE_CRASH_SEED", 20240601);
	cu_world w;
	memset(&w, 0, sizeof w);
	mw_ctx c = { 0, 0, 0, seed };
	w.use_mmap = 1;
	cu_world_init(&w, NULL, seed);
	cr_assert(!w.failed, "%s", w.fail);
	cu_create_topic(&w, "m", 1, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
	cu_create_topic(&w, "mz", 1, VARVE_CODEC_LZ4, VARVE_CLEANUP_DELETE, -1, -1);
	cr_assert(!w.failed, "%s", w.fail);
	w.capture = at_map_write;
	w.capture_ctx = &c;
	int tm = cu_topic_index(&w, "m"), tz = cu_topic_index(&w, "mz");
	for (int i = 0; i < 24 && !w.failed; i++) {
		cu_produce(&w, i % 2 ? tz : tm, 1 + (size_t)(i % 4), 0);
		if (i == 11) {
			cu_commit(&w, "g", tm, 0, 3);
			cu_reopen(&w);
		}
	}
	w.capture = NULL;
	cr_assert(!w.failed, "%s", w.fail);
	cu_take_now(&w, seed);
	cr_assert(!w.failed, "%s", w.fail);
	uint64_t map_writes = cv_map_write_count();
	printf("crashvfs: mmap_writes: %llu writes through a mapping, %llu events during appends "
	       "(%llu of them the newest pending write of a segment), %llu crash states taken, "
	       "%llu checked\n",
	       (unsigned long long)map_writes, (unsigned long long)c.events,
	       (unsigned long long)c.as_pending, (unsigned long long)c.states,
	       (unsigned long long)w.checked);
	fflush(stdout);
	cr_assert_geq(c.events, 24, "not every append copied through the mapping (%llu events)",
		      (unsigned long long)c.events);
	cr_assert_eq(c.as_pending, c.events,
		     "a copy into the mapping was not a pending write of its segment");
	cr_assert_geq(w.checked, c.states, "states taken but not checked");
	cu_world_fini(&w);
}

/* The same copy reaches the model byte for byte: with every pending write
 * applied, the crash state holds the segment exactly as the store wrote it
 * (the store reopened from it returns every record; crash_util checks the
 * bytes of each). Nothing in mmap mode writes behind the table: the crash
 * VFS compares each mapped file with its model when it closes, and aborts
 * on a difference (io_crash.c check_mapped). */
Test(mmap_writes, the_model_matches_the_mapped_file)
{
	uint64_t seed = cu_env_u64("VARVE_CRASH_SEED", 20240601);
	cu_world w;
	memset(&w, 0, sizeof w);
	w.use_mmap = 1;
	cu_world_init(&w, NULL, seed);
	cu_create_topic(&w, "m", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
	int tm = cu_topic_index(&w, "m");
	for (int i = 0; i < 40 && !w.failed; i++)
		cu_produce(&w, tm, 1 + (size_t)(i % 5), 0);
	cr_assert(!w.failed, "%s", w.fail);
	cr_assert_gt(cv_map_write_count(), 0, "no append went through the mapping");
	cv_tree *t = cv_crash_random(seed, CV_NS_ALL, CV_DATA_APPLY);
	cu_take_tree(&w, t, CU_REOPEN, "every pending operation applied");
	cr_assert_eq(cu_drain(&w), 0, "%s", w.fail);
	cu_reopen(&w); /* closes every mapped file: the model check runs */
	cr_assert(!w.failed, "%s", w.fail);
	cu_world_fini(&w);
}
