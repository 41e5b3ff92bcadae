/* SPDX-License-Identifier: MIT */
/*
 * test_crash_states.c -- random workloads under the crash VFS; at random
 * persistence points and writes a simulated power cut produces a post-crash
 * tree, which is opened with the real backend and compared with what was
 * acknowledged (crash_util.h lists the promises checked). Store creation is
 * crashed too.
 *
 * Budget: VARVE_CRASH_STATES crash states per run of this file, split over
 * the workloads below (default 20000, and 10% more for mixed_mmap; 4000
 * when built with ASan, where a state costs several times more). A workload starts a fresh store (next
 * seed) every few hundred operations, so that states stay small and varied.
 * VARVE_CRASH_SEED replays a run (the seed is printed). Each workload prints
 * the number of states it checked.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_util.h"

static void fini(void) { cu_cleanup(); }

TestSuite(crash_states, .fini = fini, .timeout = 1200);

enum { W_MMAP = 1, W_FULL_PREALLOC = 2, W_SMALL_META = 4 };

typedef struct workload {
	const char *name;
	unsigned flags;
	double share;     /* of VARVE_CRASH_STATES */
	uint64_t max_ops; /* then a fresh store */
	void (*setup)(cu_world *w);
	void (*step)(cu_world *w, uint64_t *rng);
} workload;

typedef struct totals {
	uint64_t checked, ro, ro_skipped, reopen, cuts, ops, worlds, in_map, map_writes;
} totals;

static void add(totals *t, const cu_world *w)
{
	t->checked += w->checked;
	t->ro += w->ro_checked;
	t->ro_skipped += w->ro_mid_swap;
	t->reopen += w->reopen_checked;
	t->cuts += w->with_cuts;
	t->ops += w->nops;
	t->worlds++;
}


static void run(const workload *wl, uint64_t seed0)
{
	double t0 = cu_now_s();
	uint64_t goal = cu_budget(wl->share);
	printf("crashvfs: %s: seed %" PRIu64 " (VARVE_CRASH_SEED=%" PRIu64 " replays it)\n",
	       wl->name, seed0, seed0);
	fflush(stdout);
	totals tot;
	memset(&tot, 0, sizeof tot);
	uint64_t seed = seed0;
	while (tot.checked < goal) {
		cu_world w;
		cu_policy pl;
		memset(&w, 0, sizeof w);
		memset(&pl, 0, sizeof pl);
		pl.rng = seed ^ 0xabcdef;
		pl.p_sync = 0.35;
		pl.p_write = 0.10;
		pl.variants = 2;
		pl.ns_mode = cu_ns_mode();
		w.use_mmap = (wl->flags & W_MMAP) != 0;
		w.full_prealloc = (wl->flags & W_FULL_PREALLOC) != 0;
		if (wl->flags & W_SMALL_META)
			w.meta_segment_bytes = 2048; /* white-box: the metadata log rolls and compacts */
		w.ro_every = 7;
		w.reopen_every = 11;
		w.capture = cu_policy_capture;
		w.capture_ctx = &pl;
		cu_world_init(&w, NULL, seed); /* store creation is crashed too */
		uint64_t rng = seed;
		if (!w.failed)
			wl->setup(&w);
		while (!w.failed && w.nops < wl->max_ops && tot.checked + w.checked < goal)
			wl->step(&w, &rng);
		if (!w.failed)
			cu_take_now(&w, cu_rand(&rng));
		cr_assert(!w.failed, "%s (world seed %" PRIu64 "): %s", wl->name, seed, w.fail);
		add(&tot, &w);
		tot.in_map += pl.taken_in_map;
		tot.map_writes += cv_map_write_count();
		cu_world_fini(&w);
		seed = cu_rand(&seed) | 1;
	}
	double dt = cu_now_s() - t0;
	printf("crashvfs: %s: %llu crash states checked (%llu also read-only first [%llu of them "
	       "mid-swap], %llu also reopened, %llu with recovery cuts; %llu taken right after one "
	       "of %llu writes through a mapping), %llu "
	       "operations on %llu stores, %.1f s (%.2f ms per state)\n",
	       wl->name, (unsigned long long)tot.checked, (unsigned long long)tot.ro,
	       (unsigned long long)tot.ro_skipped, (unsigned long long)tot.reopen,
	       (unsigned long long)tot.cuts, (unsigned long long)tot.in_map,
	       (unsigned long long)tot.map_writes, (unsigned long long)tot.ops,
	       (unsigned long long)tot.worlds, dt, tot.checked ? dt * 1000.0 / (double)tot.checked : 0.0);
	fflush(stdout);
	if (wl->flags & W_MMAP)
		cr_assert_gt(tot.in_map, 0, "%s: no crash state was taken inside an mmap-mode append",
			     wl->name);
}

static int pick_live(cu_world *w, uint64_t *rng, int want_policy)
{
	int cand[64], n = 0;
	for (size_t i = 0; i < w->m.nt && n < 64; i++)
		if (w->m.t[i].live && (!want_policy || (w->m.t[i].cfg.cleanup_policy & want_policy)))
			cand[n++] = (int)i;
	return n ? cand[cu_rand(rng) % (uint64_t)n] : -1;
}

static int live_count(cu_world *w)
{
	int n = 0;
	for (size_t i = 0; i < w->m.nt; i++)
		n += w->m.t[i].live;
	return n;
}

static void random_commit(cu_world *w, uint64_t *rng)
{
	int ti = pick_live(w, rng, 0);
	if (ti < 0)
		return;
	m_topic *t = &w->m.t[ti];
	uint32_t p = (uint32_t)(cu_rand(rng) % t->cfg.partitions);
	int64_t end = (int64_t)t->parts[p].n;
	int64_t off = end ? (int64_t)(cu_rand(rng) % (uint64_t)(end + 1)) : 0;
	const char *groups[] = { "g1", "g2", "audit" };
	cu_commit(w, groups[cu_rand(rng) % 3], ti, p, off);
}

/* Delete a random live topic whose name starts with prefix; maybe create
 * the same name again (another partition count), unless a group committed
 * on it (commits outlive their topic). */
static void delete_maybe_recreate(cu_world *w, uint64_t *rng, const char *prefix)
{
	int cand = -1;
	for (size_t i = 0; i < w->m.nt; i++)
		if (w->m.t[i].live && !strncmp(w->m.t[i].name, prefix, strlen(prefix)) &&
		    (cand < 0 || (cu_rand(rng) & 1)))
			cand = (int)i;
	if (cand < 0 || cu_delete_topic(w, cand))
		return;
	int committed = 0;
	for (size_t i = 0; i < w->m.nc; i++)
		committed |= w->m.c[i].ti == cand;
	if (!committed && (cu_rand(rng) & 1)) {
		char again[64];
		snprintf(again, sizeof again, "%s", w->m.t[cand].name);
		cu_create_topic(w, again, 1 + (uint32_t)(cu_rand(rng) % 3), VARVE_CODEC_NONE,
				VARVE_CLEANUP_DELETE, -1, -1);
	}
}

/* ---- mixed: everything ---------------------------------------------------------- */

static void mixed_setup(cu_world *w)
{
	cu_create_topic(w, "t0", 3, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
	cu_create_topic(w, "lz", 2, VARVE_CODEC_LZ4, VARVE_CLEANUP_DELETE, -1, -1);
	cu_create_topic(w, "ret", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, 30);
	cu_create_topic(w, "cmp", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_COMPACT, -1, -1);
}

static void mixed_step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	int ti = pick_live(w, rng, 0);
	if (r < 30)
		cu_produce(w, ti, 1, 0);
	else if (r < 50)
		cu_produce(w, ti, 2 + cu_rand(rng) % 9, 0);
	else if (r < 55)
		cu_roll(w, ti, (uint32_t)(cu_rand(rng) % w->m.t[ti].cfg.partitions));
	else if (r < 63)
		random_commit(w, rng);
	else if (r < 67)
		cu_consumer_commit(w, cu_rand(rng) & 1 ? "cons" : "cons2", cu_topic_index(w, "t0"));
	else if (r < 74)
		cu_clean(w, 1000, 0);
	else if (r < 80)
		cu_clean(w, 1000, 1);
	else if (r < 84) {
		if (live_count(w) < 10)
			(void)cu_create_dynamic(w, rng, "dyn", 3);
		else
			delete_maybe_recreate(w, rng, "dyn");
	} else if (r < 86)
		delete_maybe_recreate(w, rng, "dyn");
	else if (r < 89)
		cu_reopen(w);
	else if (r < 92)
		cu_checkpoint(w);
	else
		cu_produce(w, ti, 1 + cu_rand(rng) % 3, 1);
}

/* ---- rolls: small batches, segments roll every few appends ------------------------ */

static void rolls_setup(cu_world *w)
{
	cu_create_topic(w, "r", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
	cu_create_topic(w, "rz", 1, VARVE_CODEC_LZ4, VARVE_CLEANUP_DELETE, -1, -1);
}

static void rolls_step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	int ti = cu_topic_index(w, r & 1 ? "r" : "rz");
	if (r < 60)
		cu_produce(w, ti, 1, 0);
	else if (r < 88)
		cu_produce(w, ti, 2 + cu_rand(rng) % 6, 0);
	else if (r < 95)
		cu_roll(w, ti, 0);
	else if (r < 97)
		cu_checkpoint(w);
	else
		cu_reopen(w);
}

/* ---- retention: by time (the injected clock) and by count, with commits ------------ */

static void retention_setup(cu_world *w)
{
	cu_create_topic(w, "age", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, 20000, -1);
	cu_create_topic(w, "cnt", 1, VARVE_CODEC_LZ4, VARVE_CLEANUP_DELETE, -1, 25);
}

static void retention_step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	int ti = cu_topic_index(w, r & 1 ? "age" : "cnt");
	if (r < 45)
		cu_produce(w, ti, 1, 0);
	else if (r < 65)
		cu_produce(w, ti, 2 + cu_rand(rng) % 8, 0);
	else if (r < 72)
		random_commit(w, rng);
	else if (r < 95)
		cu_clean(w, 2000 + (int64_t)(cu_rand(rng) % 6000), 0);
	else
		cu_reopen(w);
}

/* ---- compaction: a compacted topic and the metadata log, tombstones that expire ---- */

static void compaction_setup(cu_world *w)
{
	cu_create_topic(w, "kv", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_COMPACT, -1, -1);
	cu_create_topic(w, "kz", 1, VARVE_CODEC_LZ4, VARVE_CLEANUP_COMPACT, -1, -1);
}

static void compaction_step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	int ti = cu_topic_index(w, r & 1 ? "kv" : "kz");
	if (r < 40)
		cu_produce(w, ti, 1, 0);
	else if (r < 60)
		cu_produce(w, ti, 2 + cu_rand(rng) % 8, 0);
	else if (r < 75)
		random_commit(w, rng);
	else if (r < 95)
		cu_clean(w, 3000, 1);
	else
		cu_reopen(w);
}

/* ---- topics and groups: create, delete, create again, commits ------------------------ */

static void topics_setup(cu_world *w)
{
	cu_create_topic(w, "base", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
}

static void topics_step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	if (r < 20) {
		if (live_count(w) < 8)
			(void)cu_create_dynamic(w, rng, "t", 3);
		else
			delete_maybe_recreate(w, rng, "t");
	} else if (r < 32) {
		delete_maybe_recreate(w, rng, "t");
	} else if (r < 55) {
		cu_produce(w, pick_live(w, rng, 0), 1 + cu_rand(rng) % 4, 0);
	} else if (r < 80) {
		random_commit(w, rng);
	} else if (r < 95) {
		cu_consumer_commit(w, "cg", cu_topic_index(w, "base"));
	} else {
		cu_reopen(w);
	}
}

/* ---- mmap mode ------------------------------------------------------------------------ */

static void mmap_setup(cu_world *w)
{
	cu_create_topic(w, "m", 2, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, 30);
	cu_create_topic(w, "mz", 1, VARVE_CODEC_LZ4, VARVE_CLEANUP_DELETE, -1, -1);
	cu_create_topic(w, "mk", 1, VARVE_CODEC_NONE, VARVE_CLEANUP_COMPACT, -1, -1);
}

static void mmap_step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	int k = (int)(cu_rand(rng) % 3);
	int ti = cu_topic_index(w, k == 0 ? "m" : k == 1 ? "mz" : "mk");
	if (r < 45)
		cu_produce(w, ti, 1, 0);
	else if (r < 70)
		cu_produce(w, ti, 2 + cu_rand(rng) % 6, 0);
	else if (r < 78)
		random_commit(w, rng);
	else if (r < 90)
		cu_clean(w, 1000, (int)(r & 1));
	else if (r < 95)
		cu_checkpoint(w);
	else
		cu_reopen(w);
}

/* ---- full preallocation ------------------------------------------------------------------ */

static void full_setup(cu_world *w)
{
	cu_create_topic(w, "f", 1, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
}

static void full_step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	if (r < 60)
		cu_produce(w, 0, 1, 0);
	else if (r < 90)
		cu_produce(w, 0, 2 + cu_rand(rng) % 6, 0);
	else if (r < 95)
		cu_checkpoint(w);
	else
		cu_reopen(w);
}

/* Everything mixed: produce (single, batch), rolls, commits (admin and
 * consumer), retention, compaction, topic create/delete/create again, the
 * background checkpoint, close and reopen. */
Test(crash_states, mixed)
{
	workload wl = { "mixed", 0, 0.35, 150, mixed_setup, mixed_step };
	run(&wl, cu_seed());
}

/* Rolls: small batches into partitions whose segments roll every few appends. */
Test(crash_states, rolls)
{
	workload wl = { "rolls", 0, 0.12, 200, rolls_setup, rolls_step };
	run(&wl, cu_seed() + 1);
}

/* Retention by time and by record count, with commits. */
Test(crash_states, retention)
{
	workload wl = { "retention", 0, 0.13, 400, retention_setup, retention_step };
	run(&wl, cu_seed() + 2);
}

/* Compaction of compacted topics and of the metadata log (white-box: its
 * segments are made small so it rolls and compacts), tombstones expiring. */
Test(crash_states, compaction)
{
	workload wl = { "compaction", W_SMALL_META, 0.15, 300, compaction_setup, compaction_step };
	run(&wl, cu_seed() + 3);
}

/* Topic administration and consumer groups. */
Test(crash_states, topics_and_groups)
{
	workload wl = { "topics_and_groups", 0, 0.15, 100, topics_setup, topics_step };
	run(&wl, cu_seed() + 4);
}

/* varve's mmap mode: appends go through a shared mapping of a preallocated
 * segment; each copy into the mapping is the table's map_write, a pending
 * write of the crash VFS that can be lost, torn or reordered like a pwrite,
 * and an event at which crash states are taken. */
Test(crash_states, mmap_mode)
{
	workload wl = { "mmap_mode", W_MMAP, 0.07, 120, mmap_setup, mmap_step };
	run(&wl, cu_seed() + 5);
}

/* The mixed workload again, in mmap mode: rolls (mappings made, sealed and
 * unmapped), retention, compaction, topic create/delete and reopens with
 * every append copied through a mapping. */
Test(crash_states, mixed_mmap)
{
	workload wl = { "mixed_mmap", W_MMAP, 0.10, 150, mixed_setup, mixed_step };
	run(&wl, cu_seed() + 7);
}

/* The other workloads cap preallocation at 64 KiB for speed (io_crash.h);
 * this one keeps varve's real 16 MiB zero tails, fewer states. */
Test(crash_states, full_preallocation)
{
	workload wl = { "full_preallocation", W_FULL_PREALLOC, 0.03, 100, full_setup, full_step };
	run(&wl, cu_seed() + 6);
}
