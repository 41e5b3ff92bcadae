/* SPDX-License-Identifier: MIT */
/*
 * test_compaction.c -- key compaction against a reference model, many seeds;
 * an undersized key map (compaction in several rounds); readers in the
 * middle of a segment that compaction replaces; metrics.
 *
 * The model: after varve_clean_now(db, 1) the partition holds
 *   - every record of the active segment, untouched;
 *   - below it, for each key, its latest record below the active segment,
 *     unless that record is a tombstone appended (batch append time) at or
 *     before now - delete_retention_ms;
 * each record with its original offset, key, value, headers and timestamp.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleaner_util.h"
#include "support.h"

/* These tests check what compaction computes, not how the disk behaves: they
 * run on tmpfs when there is one (VARVE_TEST_NO_SHM=1 to stay on disk), as
 * the swap fsyncs of 50 stores x 2 rounds take minutes on a slow disk. */
static void shm_setup(void)
{
	struct stat st;
	if (!getenv("VARVE_TEST_NO_SHM") && stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0) {
		char root[128];
		snprintf(root, sizeof root, "/dev/shm/varve-tests-%d", (int)getuid());
		setenv("VARVE_TEST_TMPDIR", root, 1);
	}
	t_setup();
}

TestSuite(compaction, .init = shm_setup, .fini = t_teardown, .timeout = 120);

/* ---- history of produced records ------------------------------------------------ */

typedef struct hist {
	cl_list recs;     /* every record produced, offset = index */
	int64_t *append;  /* batch append time of each record */
	int *key_id;      /* index of the key (-1 = none) */
	size_t cap;
} hist;

static void hist_add(hist *h, const varve_record *r, int64_t off, int64_t append_time, int kid)
{
	cr_assert_eq((size_t)off, h->recs.n, "offsets are not dense: %" PRId64, off);
	cl_list_add(&h->recs, r, off);
	if (h->recs.n > h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1024;
		h->append = realloc(h->append, h->cap * sizeof *h->append);
		h->key_id = realloc(h->key_id, h->cap * sizeof *h->key_id);
		cr_assert(h->append && h->key_id);
	}
	h->append[off] = append_time;
	h->key_id[off] = kid;
}

static void hist_free(hist *h)
{
	cl_list_free(&h->recs);
	free(h->append);
	free(h->key_id);
}

/* Expected contents: see the file comment. */
/* Tombstones the model dropped for age / kept because young (all seeds). */
static size_t tomb_expired, tomb_young;

static void model(const hist *h, int nkeys, int64_t active_base, int64_t now, int64_t dr,
		  cl_list *out)
{
	int64_t *latest = malloc((size_t)nkeys * sizeof *latest);
	cr_assert(latest);
	for (int k = 0; k < nkeys; k++)
		latest[k] = -1;
	for (int64_t o = 0; o < active_base; o++)
		latest[h->key_id[o]] = o;
	cl_list_init(out);
	for (int64_t o = 0; o < (int64_t)h->recs.n; o++) {
		const cl_rec *r = &h->recs.v[o];
		if (o < active_base) {
			if (latest[h->key_id[o]] != o)
				continue;
			if (!r->val && h->append[o] + dr <= now) {
				tomb_expired++;
				continue;
			}
			if (!r->val)
				tomb_young++;
		}
		/* deep copy through a varve_record view */
		varve_header hs[4];
		varve_record v;
		memset(&v, 0, sizeof v);
		v.key = r->key;
		v.key_len = r->klen;
		v.value = r->val;
		v.value_len = r->vlen;
		v.timestamp = r->ts;
		v.header_count = r->nh;
		for (size_t i = 0; i < r->nh; i++)
			hs[i] = (varve_header){ (const char *)r->hk[i], r->hkl[i], r->hv[i], r->hvl[i] };
		v.headers = r->nh ? hs : NULL;
		cl_list_add(out, &v, o);
	}
	free(latest);
}

/* ---- workload ------------------------------------------------------------------------ */

#define MAXB 8

typedef struct gen {
	uint64_t st;
	int nkeys;
	char keys[64][256];
	size_t klen[64];
} gen;

static void gen_init(gen *g, uint64_t seed, int nkeys)
{
	g->st = seed * 0x9e3779b97f4a7c15ull + 1;
	g->nkeys = nkeys;
	for (int k = 0; k < nkeys; k++) {
		if (k == 7) { /* one long key */
			memset(g->keys[k], 'L', 200);
			g->klen[k] = 200;
		} else {
			g->klen[k] = (size_t)snprintf(g->keys[k], sizeof g->keys[k], "key-%02d", k);
		}
	}
}

/* Produce about n records in batches of 1..MAXB; the clock moves 1..4 ms
 * per batch. */
static void produce_random(varve_db *db, const char *topic, t_clock *clk, gen *g, hist *h,
			   int n)
{
	static uint8_t vals[MAXB][400];
	static char hval[MAXB][16];
	varve_record recs[MAXB];
	varve_header hdr[MAXB];
	int kids[MAXB];
	int done = 0;
	while (done < n) {
		int b = 1 + (int)(t_rand(&g->st) % MAXB);
		/* timestamps: all "now", or explicit and non-decreasing within the
		 * batch (docs/FORMAT.md, known issue 1: decreasing timestamps in one
		 * batch do not read back); they may go back between batches */
		int use_now = t_rand(&g->st) % 3 == 0;
		int64_t ts = T0 - 1000000 + (int64_t)(t_rand(&g->st) % 100000);
		for (int i = 0; i < b; i++) {
			/* the upper half of the keys is "cold": written only in the first
			 * 600 records, so their latest records (and tombstones) get old */
			int nk = h->recs.n + (size_t)i < 600 ? g->nkeys : g->nkeys / 2;
			int kid = (int)(t_rand(&g->st) % (uint64_t)nk);
			kids[i] = kid;
			uint64_t r = t_rand(&g->st) % 100;
			memset(&recs[i], 0, sizeof recs[i]);
			recs[i].key = g->keys[kid];
			recs[i].key_len = g->klen[kid];
			recs[i].partition = 0;
			if (r < 12) {
				recs[i].value = NULL; /* tombstone */
			} else if (r < 17) {
				recs[i].value = vals[i]; /* empty, not null */
				recs[i].value_len = 0;
			} else {
				size_t len = 1 + t_rand(&g->st) % 300;
				/* compressible: runs of one byte, with some noise */
				uint8_t c = (uint8_t)t_rand(&g->st);
				for (size_t j = 0; j < len; j++)
					vals[i][j] = (j % 17 == 0) ? (uint8_t)t_rand(&g->st) : c;
				recs[i].value = vals[i];
				recs[i].value_len = len;
			}
			if (t_rand(&g->st) % 5 == 0) {
				snprintf(hval[i], sizeof hval[i], "h%d", done + i);
				hdr[i] = (varve_header){ "trace", 5, hval[i], strlen(hval[i]) };
				recs[i].headers = &hdr[i];
				recs[i].header_count = 1;
			}
			ts += (int64_t)(t_rand(&g->st) % 3);
			recs[i].timestamp = use_now ? VARVE_TIMESTAMP_NOW : ts;
		}
		varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
		po.partition = 0;
		int64_t now = atomic_load(&clk->now);
		t_ok(varve_produce_batch(db, topic, recs, (size_t)b, &po));
		for (int i = 0; i < b; i++) {
			varve_record stored = recs[i];
			if (stored.timestamp == VARVE_TIMESTAMP_NOW)
				stored.timestamp = now;
			hist_add(h, &stored, recs[i].offset, now, kids[i]);
		}
		done += b;
		atomic_fetch_add(&clk->now, 1 + (int64_t)(t_rand(&g->st) % 4));
	}
}

static int64_t active_base(const char *dir, const char *topic)
{
	int64_t bases[4096];
	size_t n = cl_segments(dir, topic, 0, bases, 4096);
	cr_assert(n > 0 && n <= 4096);
	return bases[n - 1];
}

static void assert_matches(varve_db *db, const char *topic, const cl_list *want, const char *ctx)
{
	cl_list got;
	cl_read(db, topic, 0, &got);
	char why[512];
	int d = cl_list_diff(&got, want, why, sizeof why);
	cl_list_free(&got);
	cr_assert_eq(d, 0, "%s: log differs from the model: %s", ctx, why);
}

/* Each key at most once below `below`. */
static void assert_unique_keys(varve_db *db, const char *topic, int64_t below, const char *ctx)
{
	cl_list got;
	cl_read(db, topic, 0, &got);
	for (size_t i = 0; i < got.n && got.v[i].off < below; i++)
		for (size_t j = i + 1; j < got.n && got.v[j].off < below; j++)
			cr_assert(!(got.v[i].klen == got.v[j].klen &&
				    !memcmp(got.v[i].key, got.v[j].key, got.v[i].klen)),
				  "%s: key at offsets %" PRId64 " and %" PRId64, ctx, got.v[i].off,
				  got.v[j].off);
	cl_list_free(&got);
}

#define DR 500 /* delete_retention_ms; a round of produce spans ~1100 ms of clock */

static void one_seed(uint64_t seed, int codec, int nrec)
{
	char ctx[64];
	snprintf(ctx, sizeof ctx, "seed %" PRIu64 " codec %d", seed, codec);
	const char *dir = t_newpath("s");
	t_clock clk;
	varve_options o = cl_opts(&clk);
	o.cleaner_memory_bytes = 64 << 10;
	varve_db *db = t_open(dir, &o);
	varve_topic_config c = cl_cfg();
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.codec = codec;
	c.segment_bytes = (int64_t)8192 << (seed % 4); /* 8, 16, 32, 64 KiB */
	c.delete_retention_ms = DR;
	cl_topic(db, "c", &c);
	gen g;
	gen_init(&g, seed, 12 + (int)(seed % 30));
	hist h;
	memset(&h, 0, sizeof h);
	produce_random(db, "c", &clk, &g, &h, nrec);

	/* round 1 */
	int64_t ab = active_base(dir, "c");
	cr_assert_gt(ab, 0, "%s: nothing to compact", ctx);
	const char *act = t_seg_path(dir, "c", 0, ab, ".log");
	uint64_t act_end = cl_seg_data(act);
	uint8_t *act_before = cl_read_prefix(act, act_end);
	int64_t now = atomic_load(&clk.now);
	t_ok(varve_clean_now(db, 1));
	cr_assert_eq(active_base(dir, "c"), ab);
	cr_assert_eq(cl_seg_data(act), act_end, "%s: the active segment changed size", ctx);
	uint8_t *act_after = cl_read_prefix(act, act_end);
	cr_assert(!memcmp(act_before, act_after, act_end), "%s: the active segment changed", ctx);
	free(act_before);
	free(act_after);
	cl_list want;
	model(&h, g.nkeys, ab, now, DR, &want);
	assert_matches(db, "c", &want, ctx);
	assert_unique_keys(db, "c", ab, ctx);
	cr_assert_eq(cl_junk(dir, "c", 0), 0);
	t_close(db);

	/* the same after a clean reopen and after a crash-style reopen */
	db = t_open(dir, &o);
	assert_matches(db, "c", &want, ctx);
	t_close(db);
	t_unlink(t_fmt("%s/CLEAN", dir));
	t_unlink(t_fmt("%s/recovery-point", t_part_dir(dir, "c", 0)));
	db = t_open(dir, &o);
	assert_matches(db, "c", &want, ctx);
	cl_list_free(&want);

	/* round 2: more records, later clock: older tombstones expire now */
	atomic_fetch_add(&clk.now, DR / 2);
	produce_random(db, "c", &clk, &g, &h, nrec / 4);
	ab = active_base(dir, "c");
	now = atomic_load(&clk.now);
	t_ok(varve_clean_now(db, 1));
	model(&h, g.nkeys, ab, now, DR, &want);
	assert_matches(db, "c", &want, ctx);
	t_close(db);
	db = t_open(dir, &o);
	assert_matches(db, "c", &want, ctx);
	cl_list_free(&want);
	t_close(db);
	hist_free(&h);
	t_rm_rf(dir);
}

static int seeds(void)
{
	const char *e = getenv("VARVE_COMPACT_SEEDS");
	return e && atoi(e) > 0 ? atoi(e) : 25; /* per codec: 50 seeds in all */
}

Test(compaction, model_codec_none)
{
	uint64_t base = 1000;
	for (int s = 0; s < seeds(); s++)
		one_seed(base + (uint64_t)s, VARVE_CODEC_NONE, 2000);
	/* the model exercised both sides of delete_retention_ms */
	cr_assert_gt(tomb_expired, 0);
	cr_assert_gt(tomb_young, 0);
}

Test(compaction, model_codec_lz4)
{
	uint64_t base = 5000;
	for (int s = 0; s < seeds(); s++)
		one_seed(base + (uint64_t)s, VARVE_CODEC_LZ4, 2000);
	cr_assert_gt(tomb_expired, 0);
	cr_assert_gt(tomb_young, 0);
}

/* ---- an undersized key map ------------------------------------------------------------- */

Test(compaction, small_key_map_compacts_over_several_rounds)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	varve_options o = cl_opts(&clk);
	o.cleaner_memory_bytes = 1; /* the smallest map: 1024 slots, 512 keys */
	varve_db *db = t_open(dir, &o);
	varve_topic_config c = cl_cfg();
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_bytes = 4096;
	cl_topic(db, "c", &c);
	/* 1500 distinct keys, then 1000 updates of random ones */
	hist h;
	memset(&h, 0, sizeof h);
	uint64_t st = 7;
	for (int i = 0; i < 2500; i++) {
		int kid = i < 1500 ? i : (int)(t_rand(&st) % 1500);
		char key[16], val[32];
		snprintf(key, sizeof key, "u%d", kid);
		snprintf(val, sizeof val, "value-%d", i);
		varve_record r = t_rec_s(key, val);
		r.partition = 0;
		r.timestamp = T0 + i;
		int64_t off;
		t_ok(varve_produce(db, "c", &r, NULL, &off));
		hist_add(&h, &r, off, atomic_load(&clk.now), kid);
	}
	int64_t ab = active_base(dir, "c");
	cl_list want;
	model(&h, 1500, ab, atomic_load(&clk.now), c.delete_retention_ms, &want);
	/* one round cannot do it all */
	t_ok(varve_clean_now(db, 1));
	cl_list got;
	cl_read(db, "c", 0, &got);
	cr_assert_gt(got.n, want.n, "one round with a 512-key map compacted 1500 keys");
	/* whatever is there is an original record, and every key's latest is there */
	size_t wi = 0;
	for (size_t i = 0; i < got.n; i++) {
		const cl_rec *orig = &h.recs.v[got.v[i].off];
		cr_assert(cl_rec_eq(&got.v[i], orig), "offset %" PRId64 " changed", got.v[i].off);
		while (wi < want.n && want.v[wi].off < got.v[i].off)
			cr_assert_fail("the latest record of a key (offset %" PRId64 ") is gone",
				       want.v[wi++].off);
		if (wi < want.n && want.v[wi].off == got.v[i].off)
			wi++;
	}
	cr_assert_eq(wi, want.n);
	cl_list_free(&got);
	/* more rounds finish the job */
	for (int round = 0; round < 20; round++)
		t_ok(varve_clean_now(db, 1));
	assert_matches(db, "c", &want, "after 20 rounds");
	varve_stats stt = cl_stats(db);
	cr_assert_gt(stt.compactions, 1);
	cl_list_free(&want);
	t_close(db);
	hist_free(&h);
}

/* ---- readers during compaction ----------------------------------------------------------- */

/* Segments cut by time (segment_ms 1000) so the test knows them. */
static varve_db *stepped_store(const char *dir, t_clock *clk, varve_options *o, int64_t seg_bytes)
{
	*o = cl_opts(clk);
	varve_db *db = t_open(dir, o);
	varve_topic_config c = cl_cfg();
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_ms = 1000;
	c.segment_bytes = seg_bytes;
	cl_topic(db, "c", &c);
	return db;
}

static void stepped_fill(varve_db *db, t_clock *clk, hist *h, int nsteps, int per_step, int nkeys)
{
	for (int s = 0; s < nsteps; s++) {
		for (int i = 0; i < per_step; i++) {
			int64_t off = (int64_t)h->recs.n;
			char key[16], val[32];
			int kid = (int)(off % nkeys);
			snprintf(key, sizeof key, "k%d", kid);
			snprintf(val, sizeof val, "v%" PRId64, off);
			varve_record r = t_rec_s(key, val);
			r.partition = 0;
			r.timestamp = T0 + off;
			int64_t got;
			t_ok(varve_produce(db, "c", &r, NULL, &got));
			cr_assert_eq(got, off);
			hist_add(h, &r, off, atomic_load(&clk->now), kid);
		}
		atomic_fetch_add(&clk->now, 1000);
	}
}

/* Reader inside a segment that is compacted alone: it finishes the old
 * version, then continues in the new segments. */
Test(compaction, reader_finishes_the_version_it_started_on)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	varve_options o;
	/* segments of 40 records (about 4 KB): two do not fit segment_bytes,
	 * so each is compacted on its own */
	varve_db *db = stepped_store(dir, &clk, &o, 5000);
	hist h;
	memset(&h, 0, sizeof h);
	stepped_fill(db, &clk, &h, 4, 40, 5);
	int64_t bases[8];
	cr_assert_eq(cl_segments(dir, "c", 0, bases, 8), 4);
	varve_iter *it;
	t_ok(varve_iter_open(db, "c", 0, 0, &it));
	const varve_record *r;
	for (int i = 0; i < 5; i++) {
		t_ok(varve_iter_next(it, &r));
		cr_assert_eq(r->offset, i);
	}
	int64_t ab = active_base(dir, "c");
	cr_assert_eq(ab, 120);
	t_ok(varve_clean_now(db, 1));
	cr_assert_eq(cl_segments(dir, "c", 0, bases, 8), 4, "segments were merged");
	cl_list want;
	model(&h, 5, ab, atomic_load(&clk.now), 86400000, &want);
	assert_matches(db, "c", &want, "after compaction");
	/* the reader: original records 5..39 (its segment as it was), then the
	 * compacted log from offset 40 on */
	cl_list got;
	cl_list_init(&got);
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0)
		cl_list_add(&got, r, r->offset);
	t_assert_rc(rc, VARVE_EEND);
	varve_iter_close(it);
	cl_list expect;
	cl_list_init(&expect);
	for (size_t i = 5; i < 40; i++)
		cl_list_add(&expect, &(varve_record){ .key = h.recs.v[i].key,
						      .key_len = h.recs.v[i].klen,
						      .value = h.recs.v[i].val,
						      .value_len = h.recs.v[i].vlen,
						      .timestamp = h.recs.v[i].ts },
			    (int64_t)i);
	for (size_t i = 0; i < want.n; i++)
		if (want.v[i].off >= 40)
			cl_list_add(&expect, &(varve_record){ .key = want.v[i].key,
							      .key_len = want.v[i].klen,
							      .value = want.v[i].val,
							      .value_len = want.v[i].vlen,
							      .timestamp = want.v[i].ts },
				    want.v[i].off);
	char why[512];
	cr_assert_eq(cl_list_diff(&got, &expect, why, sizeof why), 0,
		     "reader across a compaction: %s", why);
	cl_list_free(&got);
	cl_list_free(&expect);
	cl_list_free(&want);
	t_close(db);
	hist_free(&h);
}

/* Same, when compaction merges the reader's segment with the ones after it
 * into one new segment: after its old segment, the reader must still get
 * the records of the merged segments that survived (the latest value of
 * their keys), not jump past them. */
Test(compaction, reader_does_not_skip_survivors_of_merged_segments)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	varve_options o;
	varve_db *db = stepped_store(dir, &clk, &o, 1 << 20);
	hist h;
	memset(&h, 0, sizeof h);
	/* segments 0, 20, 40, 60 (active); keys k0..k29 so that records of
	 * segments 20 and 40 survive */
	stepped_fill(db, &clk, &h, 4, 20, 30);
	varve_iter *it;
	t_ok(varve_iter_open(db, "c", 0, 0, &it));
	const varve_record *r;
	for (int i = 0; i < 3; i++) {
		t_ok(varve_iter_next(it, &r));
		cr_assert_eq(r->offset, i);
	}
	int64_t ab = active_base(dir, "c");
	cr_assert_eq(ab, 60);
	t_ok(varve_clean_now(db, 1));
	/* segments 0, 20, 40 merged into one (base 0) */
	int64_t bases[8];
	size_t nb = cl_segments(dir, "c", 0, bases, 8);
	cr_assert_eq(nb, 2, "expected one compacted segment and the active one");
	cl_list want;
	model(&h, 30, ab, atomic_load(&clk.now), 86400000, &want);
	assert_matches(db, "c", &want, "after compaction");
	cl_list got;
	cl_list_init(&got);
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0)
		cl_list_add(&got, r, r->offset);
	t_assert_rc(rc, VARVE_EEND);
	varve_iter_close(it);
	/* expected: 3..19 as they were, then every surviving record from 20 on */
	cl_list expect;
	cl_list_init(&expect);
	for (size_t i = 3; i < 20; i++)
		cl_list_add(&expect, &(varve_record){ .key = h.recs.v[i].key,
						      .key_len = h.recs.v[i].klen,
						      .value = h.recs.v[i].val,
						      .value_len = h.recs.v[i].vlen,
						      .timestamp = h.recs.v[i].ts },
			    (int64_t)i);
	size_t survivors_20_60 = 0;
	for (size_t i = 0; i < want.n; i++)
		if (want.v[i].off >= 20) {
			survivors_20_60 += want.v[i].off < 60;
			cl_list_add(&expect, &(varve_record){ .key = want.v[i].key,
							      .key_len = want.v[i].klen,
							      .value = want.v[i].val,
							      .value_len = want.v[i].vlen,
							      .timestamp = want.v[i].ts },
				    want.v[i].off);
		}
	cr_assert_gt(survivors_20_60, 0);
	char why[512];
	cr_assert_eq(cl_list_diff(&got, &expect, why, sizeof why), 0,
		     "a reader that was in segment 0 during the merge of segments 0-59: %s "
		     "(%zu records in 20..59 survived compaction)",
		     why, survivors_20_60);
	cl_list_free(&got);
	cl_list_free(&expect);
	cl_list_free(&want);
	t_close(db);
	hist_free(&h);
}

/* ---- metrics ------------------------------------------------------------------------------- */

Test(compaction, metrics_count_what_compaction_did)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	varve_options o;
	varve_db *db = stepped_store(dir, &clk, &o, 1 << 20);
	hist h;
	memset(&h, 0, sizeof h);
	stepped_fill(db, &clk, &h, 5, 30, 7); /* 4 sealed segments of 30, active 120.. */
	int64_t bases[8];
	size_t nb = cl_segments(dir, "c", 0, bases, 8);
	cr_assert_eq(nb, 5);
	uint64_t sealed_before = 0;
	for (size_t i = 0; i + 1 < nb; i++)
		sealed_before += cl_seg_data(t_seg_path(dir, "c", 0, bases[i], ".log"));
	varve_partition_info pi;
	memset(&pi, 0, sizeof pi);
	pi.version = VARVE_PARTITION_INFO_VERSION;
	t_ok(varve_partition_info_get(db, "c", 0, &pi));
	uint64_t size_before = pi.size_bytes;
	varve_stats s0 = cl_stats(db);
	cr_assert_eq(s0.compactions, 0);
	t_ok(varve_clean_now(db, 1));
	varve_stats s1 = cl_stats(db);
	t_ok(varve_partition_info_get(db, "c", 0, &pi));
	uint64_t size_after = pi.size_bytes;
	nb = cl_segments(dir, "c", 0, bases, 8);
	uint64_t sealed_after = 0;
	for (size_t i = 0; i + 1 < nb; i++)
		sealed_after += cl_seg_data(t_seg_path(dir, "c", 0, bases[i], ".log"));
	cr_assert_eq(s1.compactions, 1);
	cr_assert_eq(s1.compaction_records_kept, 7, "7 keys, one record each");
	cr_assert_eq(s1.compaction_records_dropped, 120 - 7);
	cr_assert_eq(s1.compaction_bytes_read, sealed_before);
	cr_assert_eq(s1.compaction_bytes_written, sealed_after);
	cr_assert_lt(size_after, size_before);
	cr_assert_eq(s1.bytes_reclaimed, size_before - size_after);
	cr_assert_eq(s1.segments_deleted, 0, "compaction is not retention");
	cr_assert_eq(s1.cleaner_failures, 0);
	/* nothing dirty: forced or not, no new run */
	t_ok(varve_clean_now(db, 0));
	t_ok(varve_clean_now(db, 1));
	varve_stats s2 = cl_stats(db);
	cr_assert_eq(s2.compactions, 1);
	cr_assert_eq(s2.compaction_records_kept, 7);
	t_close(db);
	hist_free(&h);
}

Test(compaction, dirty_ratio_decides_without_force)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	varve_options o;
	varve_db *db = stepped_store(dir, &clk, &o, 1 << 20);
	hist h;
	memset(&h, 0, sizeof h);
	/* every key distinct: compaction keeps everything */
	stepped_fill(db, &clk, &h, 4, 30, 1000000);
	t_ok(varve_clean_now(db, 0)); /* all dirty: ratio 1 >= 0.5 */
	varve_stats s = cl_stats(db);
	cr_assert_eq(s.compactions, 1);
	cr_assert_eq(s.compaction_records_kept, 90);
	cr_assert_eq(s.compaction_records_dropped, 0);
	/* one more segment of 30 next to 90 clean records: dirty ratio 0.25 */
	stepped_fill(db, &clk, &h, 1, 30, 1000000);
	t_ok(varve_clean_now(db, 0));
	cr_assert_eq(cl_stats(db).compactions, 1, "compacted below min_cleanable_dirty_ratio");
	t_ok(varve_clean_now(db, 1));
	s = cl_stats(db);
	cr_assert_eq(s.compactions, 2);
	cr_assert_eq(s.compaction_records_kept, 90 + 120);
	int64_t ab = active_base(dir, "c");
	cr_assert_eq(ab, 120);
	cl_list want;
	model(&h, 1000000, ab, atomic_load(&clk.now), 86400000, &want);
	assert_matches(db, "c", &want, "distinct keys");
	cl_list_free(&want);
	t_close(db);
	hist_free(&h);
}

/* Expired tombstones are work by themselves: with no record appended since
 * the last compaction, a forced round, and a background round too, drop
 * the tombstones whose delete retention has passed. */
static size_t count_tombstones(varve_db *db)
{
	cl_list l;
	cl_list_init(&l);
	cl_read(db, "c", 0, &l);
	size_t n = 0;
	for (size_t i = 0; i < l.n; i++)
		n += l.v[i].val == NULL;
	cl_list_free(&l);
	return n;
}

static void expired_tombstones_case(int force)
{
	t_clock clk;
	varve_options o = cl_opts(&clk);
	o.segment_bytes = 4096;
	varve_db *db = t_open(t_newpath("store"), &o);
	varve_topic_config c = cl_cfg();
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.delete_retention_ms = 60 * 1000;
	c.min_cleanable_dirty_ratio = 0.5;
	cl_topic(db, "c", &c);
	char k[16];
	for (int i = 0; i < 200; i++) { /* 100 keys, then a tombstone for 50 of them */
		snprintf(k, sizeof k, "key-%03d", i % 100);
		varve_record r = t_rec(k, strlen(k), i < 100 || i % 2 ? "value" : NULL, 5);
		if (!r.value)
			r.value_len = 0;
		r.partition = 0;
		t_ok(varve_produce(db, "c", &r, NULL, NULL));
	}
	/* roll, so that every record is in a sealed segment */
	varve_record last = t_rec("key-last", 8, "v", 1);
	last.partition = 0;
	for (int i = 0; i < 40; i++)
		t_ok(varve_produce(db, "c", &last, NULL, NULL));
	t_ok(varve_clean_now(db, 1));
	size_t kept = count_tombstones(db);
	cr_assert_eq(kept, 50, "tombstones within their delete retention: %zu kept", kept);
	atomic_store(&clk.now, atomic_load(&clk.now) + 2 * 60 * 1000); /* they expire */
	t_ok(varve_clean_now(db, force));
	size_t after = count_tombstones(db);
	printf("compaction: %zu expired tombstones left after a %s round with nothing new appended\n",
	       after, force ? "forced" : "background");
	cr_assert_eq(after, 0, "%zu expired tombstones survived a %s round", after,
		     force ? "forced" : "background");
	t_close(db);
}

Test(compaction, expired_tombstones_alone_are_work_forced) { expired_tombstones_case(1); }
Test(compaction, expired_tombstones_alone_are_work_background) { expired_tombstones_case(0); }

/* A segment that compaction left ending short of the next one's base is not
 * a hole, even after the topic's policy went back to delete: recovery that
 * scans it from the start (no recovery point, unclean) cuts nothing. */
Test(compaction, short_compacted_segments_are_not_cut_after_the_policy_changes)
{
	const char *dir = t_newpath("s");
	t_clock clk;
	varve_options o;
	o = cl_opts(&clk);
	varve_db *db = t_open(dir, &o);
	varve_topic_config c = cl_cfg();
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_ms = 1000;
	c.delete_retention_ms = 500;
	cl_topic(db, "c", &c);
	/* 5 steps (segments) of 30: each step's last 5 records reuse keys r0..r4
	 * and the others have keys of their own; the fourth step's r0..r4 are
	 * tombstones that expire before the cleaning, so the compacted segment
	 * ends at 114, short of the active segment's base 120 */
	int64_t off = 0;
	for (int s = 0; s < 5; s++) {
		for (int i = 0; i < 30; i++, off++) {
			char key[16], val[32];
			if (i >= 25)
				snprintf(key, sizeof key, "r%d", i - 25);
			else
				snprintf(key, sizeof key, "u%" PRId64, off);
			snprintf(val, sizeof val, "v%" PRId64, off);
			varve_record r = t_rec_s(key, val);
			if (s == 3 && i >= 25) {
				r.value = NULL;
				r.value_len = 0;
			}
			r.partition = 0;
			r.timestamp = T0 + off;
			t_ok(varve_produce(db, "c", &r, NULL, NULL));
		}
		atomic_fetch_add(&clk.now, 1000);
	}
	t_ok(varve_clean_now(db, 1));
	c.cleanup_policy = VARVE_CLEANUP_DELETE;
	t_ok(varve_topic_alter(db, "c", &c));
	/* what is there: segment ends fall short of the next bases */
	int64_t want[150];
	size_t nwant = 0;
	varve_iter *it;
	const varve_record *r;
	t_ok(varve_iter_open(db, "c", 0, 0, &it));
	while (varve_iter_next(it, &r) == VARVE_OK)
		want[nwant++] = r->offset;
	varve_iter_close(it);
	int64_t bases[16];
	size_t nb = cl_segments(dir, "c", 0, bases, 16);
	cr_assert_geq(nb, 2);
	int short_end = 0; /* a sealed segment whose last record is below the next base - 1 */
	for (size_t i = 1; i < nwant; i++)
		for (size_t b = 1; b < nb; b++)
			short_end |= want[i] == bases[b] && want[i - 1] < bases[b] - 1;
	cr_assert(short_end, "no compacted segment ends short of the next base");
	/* an unclean copy without its recovery point: every segment is scanned */
	const char *copy = t_newpath("copy");
	t_copy_tree(dir, copy);
	char rp[4200];
	snprintf(rp, sizeof rp, "%s/topics/c/0/recovery-point", copy);
	unlink(rp);
	t_close(db);
	varve_db *cdb = t_open(copy, &o);
	t_ok(varve_iter_open(cdb, "c", 0, 0, &it));
	size_t n = 0;
	while (varve_iter_next(it, &r) == VARVE_OK) {
		cr_assert_lt(n, nwant);
		cr_assert_eq(r->offset, want[n], "record %zu: offset %" PRId64 ", want %" PRId64, n,
			     r->offset, want[n]);
		n++;
	}
	cr_assert_eq(n, nwant, "recovery cut the compacted log: %zu of %zu records left", n, nwant);
	varve_iter_close(it);
	t_close(cdb);
}
