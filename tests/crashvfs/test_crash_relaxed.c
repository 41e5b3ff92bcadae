/* SPDX-License-Identifier: MIT */
/*
 * test_crash_relaxed.c -- random workloads under the crash VFS with the
 * relaxed sync policies, VARVE_SYNC_NONE and VARVE_SYNC_INTERVAL, each with
 * the append buffer off and with a small one (it fills and is written every
 * few appends against the suite's 1 KiB segments). The background thread is
 * off, so data becomes durable only at varve_sync, a commit covering it,
 * close, and under INTERVAL a roll (which syncs the segment it seals).
 *
 * Each crash state is checked with the oracle's relaxed mode (crash_util.h):
 * the records acknowledged before the last call that made them durable are
 * there, byte-identical; past that floor what survives is a prefix of what
 * was produced, whole batches only, offsets dense, never a record that was
 * not written; topics as acknowledged (their metadata is synced under every
 * policy); a committed offset is one that was committed since the last
 * metadata sync and never past its partition's recovered end.
 *
 * Three minimal reproductions follow the workloads: a roll whose sealed
 * segment was not synced (none; and a crash inside a roll under interval)
 * must not leave a hole in the offsets, and the trim of a segment sealed
 * clean must reach the disk at the next varve_sync.
 *
 * Budget: a share of VARVE_CRASH_STATES per workload (0.15 of the 20000
 * default, 4000 under ASan). VARVE_CRASH_SEED replays a run. White-box
 * only to count the writes of the append buffer (src/log/partition.h).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crash_util.h"
#include "db.h"
#include "partition.h"
#include "registry.h"

static void fini(void) { cu_cleanup(); }

TestSuite(crash_relaxed, .fini = fini, .timeout = 900);

/* Writes of the append buffer by the open store so far (white-box). */
static uint64_t buffer_writes(cu_world *w)
{
	vv_topic **ts;
	size_t n;
	uint64_t sum = 0;
	if (!w->db || vv_topics_snapshot(w->db->topics, &ts, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < ts[i]->nparts; k++)
			sum += atomic_load(&ts[i]->parts[k]->buffer_flushes);
	vv_topics_release(ts, n);
	return sum;
}

static int pick_live(cu_world *w, uint64_t *rng)
{
	int cand[64], n = 0;
	for (size_t i = 0; i < w->m.nt && n < 64; i++)
		if (w->m.t[i].live)
			cand[n++] = (int)i;
	return n ? cand[cu_rand(rng) % (uint64_t)n] : -1;
}

static void random_commit(cu_world *w, uint64_t *rng)
{
	int ti = pick_live(w, rng);
	m_topic *t = &w->m.t[ti];
	uint32_t p = (uint32_t)(cu_rand(rng) % t->cfg.partitions);
	int64_t end = (int64_t)t->parts[p].n;
	int64_t off = end ? (int64_t)(cu_rand(rng) % (uint64_t)(end + 1)) : 0;
	const char *groups[] = { "g1", "g2" };
	cu_commit(w, groups[cu_rand(rng) % 2], ti, p, off);
}


/* Create a dynamic topic, or delete one (never one a group committed on:
 * commits outlive their topic, and its name is not reused). */
static void topic_churn(cu_world *w, uint64_t *rng)
{
	int del = -1, live = 0;
	for (size_t i = 0; i < w->m.nt; i++) {
		if (!w->m.t[i].live)
			continue;
		live++;
		if (strncmp(w->m.t[i].name, "dyn", 3) != 0)
			continue;
		int committed = 0;
		for (size_t k = 0; k < w->m.nc; k++)
			committed |= w->m.c[k].ti == (int)i;
		if (!committed)
			del = (int)i;
	}
	if (del >= 0 && (live >= 6 || (cu_rand(rng) & 1))) {
		cu_delete_topic(w, del);
		return;
	}
	(void)cu_create_dynamic(w, rng, "dyn", 2);
}

static void setup(cu_world *w)
{
	cu_create_topic(w, "t0", 3, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
	cu_create_topic(w, "lz", 2, VARVE_CODEC_LZ4, VARVE_CLEANUP_DELETE, -1, -1);
}

/* Appends of every size (single records, batches, batches past half the
 * buffer that are written directly), rolls, syncs, commits (admin and
 * consumer: a consumer's read writes the buffer), topic create and delete,
 * the background thread's checkpoint run by hand, close and reopen. */
static void step(cu_world *w, uint64_t *rng)
{
	unsigned r = (unsigned)(cu_rand(rng) % 100);
	int ti = pick_live(w, rng);
	if (r < 30)
		cu_produce(w, ti, 1, 0);
	else if (r < 52)
		cu_produce(w, ti, 2 + cu_rand(rng) % 9, 0);
	else if (r < 56)
		cu_roll(w, ti, (uint32_t)(cu_rand(rng) % w->m.t[ti].cfg.partitions));
	else if (r < 66)
		cu_sync(w);
	else if (r < 74)
		random_commit(w, rng);
	else if (r < 79)
		cu_consumer_commit(w, cu_rand(rng) & 1 ? "cons" : "cons2", cu_topic_index(w, "t0"));
	else if (r < 83)
		topic_churn(w, rng);
	else if (r < 87)
		cu_checkpoint(w);
	else if (r < 90)
		cu_reopen(w);
	else
		cu_produce(w, ti, 1 + cu_rand(rng) % 3, 1);
}

typedef struct relaxed_run {
	const char *name;
	int sync_policy;
	int64_t buffer_bytes;
} relaxed_run;

static void run(const relaxed_run *rr, uint64_t seed0)
{
	double t0 = cu_now_s();
	uint64_t goal = cu_budget(0.15);
	printf("crashvfs: %s: seed %" PRIu64 " (VARVE_CRASH_SEED=%" PRIu64 " replays it)\n", rr->name,
	       seed0, seed0);
	fflush(stdout);
	uint64_t checked = 0, ro = 0, reopen = 0, cuts = 0, ops = 0, worlds = 0, buf_writes = 0;
	uint64_t short0 = cu_relaxed_short();
	uint64_t seed = seed0;
	while (checked < goal) {
		cu_world w;
		cu_policy pl;
		memset(&w, 0, sizeof w);
		memset(&pl, 0, sizeof pl);
		pl.rng = seed ^ 0x5eed;
		pl.p_sync = 0.35;
		pl.p_write = 0.12;
		pl.variants = 2;
		pl.ns_mode = CV_NS_MIXED;
		w.ro_every = 7;
		w.reopen_every = 11;
		w.capture = cu_policy_capture;
		w.capture_ctx = &pl;
		varve_options o;
		cu_default_opts(&w, &o);
		o.sync_policy = rr->sync_policy;
		o.append_buffer_bytes = rr->buffer_bytes;
		o.start_cleaner = 0; /* durability only from the calls the workload makes */
		cu_world_init(&w, &o, seed);
		uint64_t rng = seed;
		if (!w.failed)
			setup(&w);
		while (!w.failed && w.nops < 150 && checked + w.checked < goal) {
			uint64_t before = buffer_writes(&w);
			step(&w, &rng);
			/* a reopen or a topic delete drops counters: count what is left */
			uint64_t after = buffer_writes(&w);
			buf_writes += after >= before ? after - before : after;
		}
		if (!w.failed)
			cu_take_now(&w, cu_rand(&rng));
		cr_assert(!w.failed, "%s (world seed %" PRIu64 "): %s", rr->name, seed, w.fail);
		checked += w.checked;
		ro += w.ro_checked;
		reopen += w.reopen_checked;
		cuts += w.with_cuts;
		ops += w.nops;
		worlds++;
		cu_world_fini(&w);
		seed = cu_rand(&seed) | 1;
	}
	uint64_t shortened = cu_relaxed_short() - short0;
	double dt = cu_now_s() - t0;
	printf("crashvfs: %s: %llu crash states checked (%llu also read-only first, %llu also "
	       "reopened, %llu with recovery cuts; %llu partitions recovered short of their "
	       "acknowledged end), %llu operations on %llu stores, %llu writes of the append "
	       "buffer, %.1f s (%.2f ms per state)\n",
	       rr->name, (unsigned long long)checked, (unsigned long long)ro,
	       (unsigned long long)reopen, (unsigned long long)cuts, (unsigned long long)shortened,
	       (unsigned long long)ops, (unsigned long long)worlds, (unsigned long long)buf_writes,
	       dt, checked ? dt * 1000.0 / (double)checked : 0.0);
	fflush(stdout);
	/* the runs exercised what they are about */
	cr_assert_gt(shortened, 0, "%s: no crash state lost an unsynced acknowledged record",
		     rr->name);
	if (rr->buffer_bytes)
		cr_assert_gt(buf_writes, 0, "%s: the append buffer was never written", rr->name);
	else
		cr_assert_eq(buf_writes, 0, "%s: a buffer was used with append_buffer_bytes 0",
			     rr->name);
}

/* sync=none, every append written at once: nothing is durable before a
 * varve_sync, a commit or close; rolls do not sync. */
Test(crash_relaxed, none_unbuffered)
{
	relaxed_run rr = { "none_unbuffered", VARVE_SYNC_NONE, 0 };
	run(&rr, cu_seed() + 11);
}

/* sync=none with a 1 KiB append buffer: batches up to 512 bytes gathered,
 * larger ones written directly after it. */
Test(crash_relaxed, none_buffered)
{
	relaxed_run rr = { "none_buffered", VARVE_SYNC_NONE, 1024 };
	run(&rr, cu_seed() + 12);
}

/* sync=interval without the background thread: as none, plus a roll syncs
 * the segment it seals. */
Test(crash_relaxed, interval_unbuffered)
{
	relaxed_run rr = { "interval_unbuffered", VARVE_SYNC_INTERVAL, 0 };
	run(&rr, cu_seed() + 13);
}

/* sync=interval with a 512-byte append buffer (batches over 256 bytes go
 * directly): the buffer goes to the old segment before the roll syncs it. */
Test(crash_relaxed, interval_buffered)
{
	relaxed_run rr = { "interval_buffered", VARVE_SYNC_INTERVAL, 512 };
	run(&rr, cu_seed() + 14);
}

/* ---- minimal reproductions -------------------------------------------------------- */

static void relaxed_world(cu_world *w, int sync_policy, uint64_t seed)
{
	memset(w, 0, sizeof *w);
	varve_options o;
	cu_default_opts(w, &o);
	o.sync_policy = sync_policy;
	o.start_cleaner = 0;
	cu_world_init(w, &o, seed);
	cr_assert(!w->failed, "%s", w->fail);
	cu_create_topic(w, "h", 1, VARVE_CODEC_NONE, VARVE_CLEANUP_DELETE, -1, -1);
	cr_assert(!w->failed, "%s", w->fail);
}

/* The state a power cut leaves when every unsynced write is lost and every
 * pending create, rename and unlink reached the disk; opened read-only
 * first, then as the writer, then again after a clean close. */
static void take_drop_all(cu_world *w, const char *why)
{
	snprintf(w->op_desc, sizeof w->op_desc, "(idle, after operation #%llu)",
		 (unsigned long long)w->nops);
	cu_take(w, 1, CV_NS_ALL, CV_DATA_DROP, CU_RO_FIRST | CU_REOPEN, why);
	cu_drain(w);
}

/* sync=none: a roll does not sync the segment it seals but makes the new
 * segment's name durable. A power cut then leaves the old segment without
 * its unsynced records and the new one in place: recovery must end the log
 * where the old segment's records end (a prefix), not at the new segment's
 * base with the offsets between them missing (DURABILITY.md invariant 4). */
Test(crash_relaxed, no_hole_after_an_unsynced_roll_under_none)
{
	cu_world w;
	relaxed_world(&w, VARVE_SYNC_NONE, 101);
	cu_roll(&w, 0, 0);
	cr_assert(!w.failed, "%s", w.fail);
	take_drop_all(&w, "every unsynced write lost after a roll");
	cr_assert(!w.failed, "%s", w.fail);
	cu_world_fini(&w);
}

static void take_at_datasync(cu_world *w, int ev, const char *path)
{
	if (ev == CV_EV_DATASYNC)
		cu_take(w, cv_persistence_points(), CV_NS_ALL, CV_DATA_DROP, CU_RO_FIRST, path);
}

/* sync=interval: a roll creates the new segment's files before it syncs
 * the segment it seals; a power cut in between is the same as above. */
Test(crash_relaxed, no_hole_after_a_crash_inside_a_roll_under_interval)
{
	cu_world w;
	relaxed_world(&w, VARVE_SYNC_INTERVAL, 102);
	w.capture = take_at_datasync;
	cu_roll(&w, 0, 0);
	cr_assert(!w.failed, "%s", w.fail);
	cr_assert_gt(w.checked, 0, "no crash state was taken inside the roll");
	cu_world_fini(&w);
}

/* sync=none: sealing trims the segment's preallocated tail. A segment that
 * a varve_sync had made clean just before the roll must still get that
 * trim to the disk at the next varve_sync; else a power cut leaves zeros
 * after its last batch, which a read-only open takes for damage (it stops
 * there) and which, once a checkpoint names a later segment, no recovery
 * scans (reads fail with VARVE_ECORRUPT in the middle of the log). */
Test(crash_relaxed, a_sealed_segment_trim_is_synced_by_the_next_sync)
{
	cu_world w;
	relaxed_world(&w, VARVE_SYNC_NONE, 103);
	varve_partition_info a, b;
	memset(&a, 0, sizeof a);
	a.version = VARVE_PARTITION_INFO_VERSION;
	b = a;
	cr_assert_eq(varve_partition_info_get(w.db, "h", 0, &a), 0);
	for (int i = 0; i < 400 && b.segments <= a.segments; i++) {
		cu_produce(&w, 0, 1, 0);
		cu_sync(&w); /* clean when the next append rolls */
		cr_assert(!w.failed, "%s", w.fail);
		cr_assert_eq(varve_partition_info_get(w.db, "h", 0, &b), 0);
	}
	cr_assert_gt(b.segments, a.segments, "the partition never rolled");
	cu_checkpoint(&w); /* the recovery point moves to the new segment */
	cr_assert(!w.failed, "%s", w.fail);
	take_drop_all(&w, "every unsynced write lost after sync, roll, sync, checkpoint");
	cr_assert(!w.failed, "%s", w.fail);
	cu_world_fini(&w);
}
