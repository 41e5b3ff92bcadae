/* SPDX-License-Identifier: MIT */
/*
 * test_exhaustive.c -- bounded exhaustive crashes: every sequence of 1 to 3
 * operations from {produce, roll (produce until the segment rolls), commit,
 * delete segments by retention, compact}, run on a small store that has
 * something for each of them to do, crashed at every persistence point of
 * the sequence's last operation (the earlier ones are the shorter
 * sequences), with the unsynced operations at that point enumerated:
 *
 *   - none applied, all applied;
 *   - every prefix of the pending namespace operations (journal order), with
 *     the pending data writes all applied and all dropped;
 *   - the pending data operations: every subset when there are at most 4,
 *     else every prefix and every single one dropped;
 *   - every pending write torn, zero-filled and garbage-filled (the rest
 *     applied); every namespace operation dropped alone.
 *
 * Equal post-crash trees within one operation are checked once.
 * VARVE_EXHAUSTIVE_DEPTH sets the longest sequence (default 3; 2 in an ASan
 * build, where the full depth takes about 4 minutes). Every state
 * is opened as the writer, every 8th one read-only first (crash_util.h lists
 * the checks).
 * Each test covers the sequences starting with one operation and prints its
 * counts; the mmap_* tests run the same sequences in varve's mmap mode.
 * Deterministic (VARVE_CRASH_SEED changes the record contents).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_util.h"

static void fini(void) { cu_cleanup(); }

TestSuite(exhaustive, .fini = fini, .timeout = 1200);

enum { OP_PRODUCE, OP_ROLL, OP_COMMIT, OP_RETENTION, OP_COMPACT, NOPS };
static const char *const op_names[NOPS] = { "produce", "roll", "commit", "retention", "compact" };

typedef struct ex_ctx {
	uint64_t points, generated, seq_points;
	uint64_t seed;
} ex_ctx;

static void take(cu_world *w, ex_ctx *c, const uint8_t *f, size_t n, const char *what)
{
	char why[160];
	snprintf(why, sizeof why, "persistence point %llu of the operation: %s",
		 (unsigned long long)c->seq_points, what);
	c->generated++;
	/* read-only first on every 8th state (it doubles the cost of a state) */
	cu_take_tree(w, cv_crash_explicit(f, n, c->seed + c->generated),
		     c->generated % 8 == 0 ? CU_RO_FIRST : 0, why);
}

static void enumerate(cu_world *w, int ev, const char *path)
{
	(void)path;
	if (ev != CV_EV_DATASYNC && ev != CV_EV_SYNC_DIR)
		return;
	ex_ctx *c = w->capture_ctx;
	c->points++;
	c->seq_points++;
	size_t n = cv_pending(NULL, 0);
	cv_pending_info *info = calloc(n ? n : 1, sizeof *info);
	n = cv_pending(info, n);
	uint8_t *f = calloc(n ? n : 1, 1);
	size_t *D = calloc(n ? n : 1, sizeof *D), *N = calloc(n ? n : 1, sizeof *N), nd = 0, nn = 0;
	for (size_t i = 0; i < n; i++) {
		if (info[i].kind == CV_OP_WRITE || info[i].kind == CV_OP_TRUNCATE)
			D[nd++] = i;
		else
			N[nn++] = i;
	}
	if (getenv("CV_DEBUG"))
		fprintf(stderr, "point %llu (%s): %zu pending: %zu data, %zu namespace\n",
			(unsigned long long)c->seq_points, path, n, nd, nn);
	char what[128];
	/* namespace prefixes x data all / none (j = 0 and j = nn are "none" and "all") */
	for (size_t j = 0; j <= nn; j++)
		for (int data = 0; data < 2; data++) {
			for (size_t i = 0; i < nd; i++)
				f[D[i]] = data ? CV_APPLY : CV_DROP;
			for (size_t i = 0; i < nn; i++)
				f[N[i]] = i < j ? CV_APPLY : CV_DROP;
			snprintf(what, sizeof what, "%zu of %zu namespace ops, data %s", j, nn,
				 data ? "applied" : "dropped");
			take(w, c, f, n, what);
		}
	/* data subsets (namespace all applied) */
	for (size_t i = 0; i < nn; i++)
		f[N[i]] = CV_APPLY;
	if (nd <= 4) {
		for (unsigned mask = 0; mask < (1u << nd); mask++) {
			for (size_t i = 0; i < nd; i++)
				f[D[i]] = (mask >> i) & 1 ? CV_APPLY : CV_DROP;
			snprintf(what, sizeof what, "data subset %#x of %zu", mask, nd);
			take(w, c, f, n, what);
		}
	} else {
		for (size_t j = 0; j <= nd; j++) {
			for (size_t i = 0; i < nd; i++)
				f[D[i]] = i < j ? CV_APPLY : CV_DROP;
			snprintf(what, sizeof what, "data prefix %zu of %zu", j, nd);
			take(w, c, f, n, what);
		}
		for (size_t j = 0; j < nd; j++) {
			for (size_t i = 0; i < nd; i++)
				f[D[i]] = i == j ? CV_DROP : CV_APPLY;
			snprintf(what, sizeof what, "data op %zu of %zu dropped", j, nd);
			take(w, c, f, n, what);
		}
	}
	/* damaged writes */
	static const int dmg[] = { CV_TEAR, CV_ZERO, CV_GARBAGE };
	static const char *const dmg_names[] = { "torn", "zero-filled", "garbage" };
	for (size_t j = 0; j < nd; j++) {
		if (info[D[j]].kind != CV_OP_WRITE)
			continue;
		for (int d = 0; d < 3; d++) {
			for (size_t i = 0; i < nd; i++)
				f[D[i]] = CV_APPLY;
			f[D[j]] = (uint8_t)dmg[d];
			snprintf(what, sizeof what, "write %zu (%s) %s", j, info[D[j]].path, dmg_names[d]);
			take(w, c, f, n, what);
		}
	}
	/* each namespace op dropped alone */
	for (size_t i = 0; i < nd; i++)
		f[D[i]] = CV_APPLY;
	for (size_t j = 0; j < nn; j++) {
		for (size_t i = 0; i < nn; i++)
			f[N[i]] = i == j ? CV_DROP : CV_APPLY;
		snprintf(what, sizeof what, "namespace op %zu (%s) dropped", j, info[N[j]].path);
		take(w, c, f, n, what);
	}
	free(info);
	free(f);
	free(D);
	free(N);
}

/* A store with something for every operation to do: topic d (retention by
 * time, two old segments), topic c (compacted once, then a dirty segment), a
 * committed offset. */
static void build(cu_world *w)
{
	varve_topic_config d = VARVE_TOPIC_CONFIG_INIT;
	d.retention_ms = 30000;
	cu_create_topic_cfg(w, "d", &d);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.min_cleanable_dirty_ratio = 1.0; /* only forced rounds compact */
	cu_create_topic_cfg(w, "c", &c);
	int td = cu_topic_index(w, "d"), tc = cu_topic_index(w, "c");
	cu_roll(w, td, 0);
	cu_roll(w, td, 0);
	cu_produce(w, td, 2, 0);
	for (int i = 0; i < 3; i++)
		cu_roll(w, tc, 0);
	cu_clean(w, 0, 1);
	cu_produce(w, tc, 4, 0);
	cu_roll(w, tc, 0);
	cu_commit(w, "g", td, 0, 2);
	atomic_fetch_add(&w->now, 45000); /* d's segments are past retention now */
}

static int run_op(cu_world *w, int op)
{
	int td = cu_topic_index(w, "d");
	switch (op) {
	case OP_PRODUCE: return cu_produce(w, td, 1, 0);
	case OP_ROLL: return cu_roll(w, td, 0);
	case OP_COMMIT: return cu_commit(w, "g", td, 0, (int64_t)w->m.t[td].parts[0].n);
	case OP_RETENTION: return cu_clean(w, 20000, 0);
	default: return cu_clean(w, 0, 1);
	}
}

static void run_sequences(int first, int use_mmap)
{
	uint64_t seed = cu_env_u64("VARVE_CRASH_SEED", 20240601);
	double t0 = cu_now_s();
	uint64_t states = 0, deduped = 0, points = 0, sequences = 0, ro = 0, ro_skipped = 0;
	int seq[3];
	/* 3 by default; 2 in an ASan build (about 5x fewer sequences) */
	int depth = (int)cu_env_u64("VARVE_EXHAUSTIVE_DEPTH", cu_asan() ? 2 : 3);
	if (depth < 1)
		depth = 1;
	if (depth > 3)
		depth = 3;
	for (int len = 1; len <= depth; len++) {
		int count = 1;
		for (int i = 1; i < len; i++)
			count *= NOPS;
		for (int s = 0; s < count; s++) {
			seq[0] = first;
			int x = s;
			for (int i = 1; i < len; i++) {
				seq[i] = x % NOPS;
				x /= NOPS;
			}
			char name[96];
			int nl = snprintf(name, sizeof name, "%s", op_names[seq[0]]);
			for (int i = 1; i < len; i++)
				nl += snprintf(name + nl, sizeof name - (size_t)nl, ",%s", op_names[seq[i]]);
			cu_world w;
			memset(&w, 0, sizeof w);
			ex_ctx c = { 0, 0, 0, seed };
			w.dedupe = 1;
			w.use_mmap = use_mmap;
			cu_world_init(&w, NULL, seed);
			build(&w);
			cr_assert(!w.failed, "building the store: %s", w.fail);
			for (int i = 0; i + 1 < len; i++)
				cr_assert(!run_op(&w, seq[i]), "sequence %s: %s", name, w.fail);
			w.capture = enumerate;
			w.capture_ctx = &c;
			int r = run_op(&w, seq[len - 1]);
			w.capture = NULL;
			cr_assert(!r, "sequence [%s]: %s", name, w.fail);
			cu_take_now(&w, seed);
			cr_assert(!w.failed, "sequence [%s], after the last operation: %s", name, w.fail);
			if (use_mmap)
				cr_assert_gt(cv_map_write_count(), 0,
					     "sequence [%s]: no append went through a mapping", name);
			states += w.checked;
			deduped += w.deduped;
			points += c.points;
			ro += w.ro_checked;
			ro_skipped += w.ro_mid_swap;
			sequences++;
			cu_world_fini(&w);
		}
	}
	printf("crashvfs: exhaustive[%s%s...] (sequences up to %d operations): %llu sequences, %llu "
	       "persistence points, %llu crash "
	       "states checked (%llu also read-only [%llu of them mid-swap]; %llu "
	       "duplicate trees skipped), %.1f s\n",
	       use_mmap ? "mmap: " : "", op_names[first], depth, (unsigned long long)sequences,
	       (unsigned long long)points,
	       (unsigned long long)states, (unsigned long long)ro, (unsigned long long)ro_skipped,
	       (unsigned long long)deduped, cu_now_s() - t0);
	fflush(stdout);
}

Test(exhaustive, from_produce) { run_sequences(OP_PRODUCE, 0); }
Test(exhaustive, from_roll) { run_sequences(OP_ROLL, 0); }
Test(exhaustive, from_commit) { run_sequences(OP_COMMIT, 0); }
Test(exhaustive, from_retention) { run_sequences(OP_RETENTION, 0); }
Test(exhaustive, from_compact) { run_sequences(OP_COMPACT, 0); }

/* The same sequences in mmap mode: every append is a write through a
 * mapping, pending in the crash VFS like a pwrite, so the enumeration
 * drops, tears, zero-fills and garbles it the same way. */
Test(exhaustive, mmap_from_produce) { run_sequences(OP_PRODUCE, 1); }
Test(exhaustive, mmap_from_roll) { run_sequences(OP_ROLL, 1); }
Test(exhaustive, mmap_from_commit) { run_sequences(OP_COMMIT, 1); }
Test(exhaustive, mmap_from_retention) { run_sequences(OP_RETENTION, 1); }
Test(exhaustive, mmap_from_compact) { run_sequences(OP_COMPACT, 1); }

/* varve_open of a new store, crashed at every persistence point. */
Test(exhaustive, store_creation)
{
	uint64_t seed = cu_env_u64("VARVE_CRASH_SEED", 20240601);
	cu_world w;
	memset(&w, 0, sizeof w);
	ex_ctx c = { 0, 0, 0, seed };
	w.dedupe = 1;
	w.capture = enumerate;
	w.capture_ctx = &c;
	cu_world_init(&w, NULL, seed);
	w.capture = NULL;
	cr_assert(!w.failed, "%s", w.fail);
	cu_take_now(&w, seed);
	cr_assert(!w.failed, "%s", w.fail);
	printf("crashvfs: exhaustive[store creation]: %llu persistence points, %llu crash states "
	       "checked\n", (unsigned long long)c.points, (unsigned long long)w.checked);
	fflush(stdout);
	cu_world_fini(&w);
}
