/* SPDX-License-Identifier: MIT */
/*
 * test_readpath.c -- the default read path: segments read in place through
 * a read-only mapping, and the record position tables of batches that
 * seeks land in (src/log/postab.c).
 *
 *  - a lookup through a table returns exactly what a read without tables
 *    returns (random offsets, both codecs, headers, sealed and active
 *    segments), and the log files are mapped;
 *  - a flipped byte in a mapped batch whose table was built before is
 *    reported VARVE_ECORRUPT after a reopen, as pread reported it;
 *  - a read-only handle and a writer's iterator keep reading correct data
 *    while the writer deletes segments (retention) and compacts;
 *  - the tables' memory stays within the limit on a log whose tables would
 *    take twelve times more, and private memory stays flat while replaying
 *    and seeking a log far larger than the limit.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "util.h"
#include "varve.h"

TestSuite(readpath, .init = t_setup, .fini = t_teardown, .timeout = 120);

/* ---- records defined by their offset --------------------------------------- */

typedef struct want_rec {
	char key[24];
	uint8_t value[320];
	size_t value_len;
	varve_header hdr[2];
	char hval[2][16];
	size_t nh;
	int64_t ts;
} want_rec;

static void want_of(int64_t off, want_rec *w)
{
	snprintf(w->key, sizeof w->key, "k%" PRId64, off);
	w->value_len = (size_t)((off * 7) % 300) + 1;
	t_fill(w->value, w->value_len, (uint64_t)off);
	w->nh = (size_t)(off % 3);
	for (size_t i = 0; i < w->nh; i++) {
		snprintf(w->hval[i], sizeof w->hval[i], "h%zu-%" PRId64, i, off);
		w->hdr[i] = (varve_header){ .key = i ? "b" : "a", .key_len = 1,
					    .value = w->hval[i], .value_len = strlen(w->hval[i]) };
	}
	w->ts = 1700000000000 + off;
}

static varve_record rec_of(want_rec *w)
{
	varve_record r = t_rec(w->key, strlen(w->key), w->value, w->value_len);
	r.headers = w->nh ? w->hdr : NULL;
	r.header_count = w->nh;
	r.timestamp = w->ts;
	r.partition = 0;
	return r;
}

/* Batches of 1..max_per records (seeded), offsets 0..total-1. */
static void fill(varve_db *db, const char *topic, int64_t total, uint32_t max_per, uint64_t seed)
{
	static want_rec w[1000];
	static varve_record recs[1000];
	int64_t off = 0;
	while (off < total) {
		size_t n = (size_t)(t_rand(&seed) % max_per) + 1;
		if ((int64_t)n > total - off)
			n = (size_t)(total - off);
		for (size_t i = 0; i < n; i++) {
			want_of(off + (int64_t)i, &w[i]);
			recs[i] = rec_of(&w[i]);
		}
		t_ok(varve_produce_batch(db, topic, recs, n, NULL));
		off += (int64_t)n;
	}
}

static void check_at(const varve_record *got, int64_t off, const char *ctx)
{
	want_rec w;
	want_of(off, &w);
	varve_record want = rec_of(&w);
	cr_assert_eq(got->offset, off, "%s: offset %" PRId64 " for %" PRId64, ctx, got->offset, off);
	t_assert_rec_eq(got, &want, ctx);
}

static void seek_check(varve_iter *it, int64_t off, const char *ctx)
{
	const varve_record *r;
	t_ok(varve_iter_seek(it, off));
	t_ok(varve_iter_next(it, &r));
	check_at(r, off, ctx);
	/* the record after it, too: the table left the reader mid-batch */
	int rc = varve_iter_next(it, &r);
	if (rc == VARVE_OK)
		check_at(r, off + 1, ctx);
	else
		t_assert_rc(rc, VARVE_EEND);
}

/* Is a file whose path ends with `suffix` mapped into this process? */
static int log_mapped(const char *dir)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	char line[4096];
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, dir) != NULL && strstr(line, ".log") != NULL;
	fclose(f);
	return found;
}

static varve_options small_segments(uint64_t bytes)
{
	varve_options o = t_opts();
	o.segment_bytes = bytes;
	return o;
}

static uint64_t cache_bytes(varve_db *db)
{
	varve_stats st = { .version = VARVE_STATS_VERSION };
	t_ok(varve_stats_get(db, &st));
	return st.read_cache_bytes;
}

/* ---- tables return what a walk returns --------------------------------------- */

static void lookups_match(int codec)
{
	const char *dir = t_newpath("s");
	varve_options o = small_segments(256 * 1024);
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, codec);
	const int64_t total = 20000;
	fill(db, "t", total, 600, 7);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));

	/* without tables: every seek walks its batch */
	varve_iter_close(it);
	t_close(db);
	o.read_cache_bytes = -1;
	db = t_open(dir, &o);
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	uint64_t rng = 11;
	for (int i = 0; i < 500; i++)
		seek_check(it, (int64_t)(t_rand(&rng) % (uint64_t)total), "no tables");
	cr_assert_eq(cache_bytes(db), 0);
	varve_iter_close(it);
	t_close(db);
	o.read_cache_bytes = 0; /* the default */
	db = t_open(dir, &o);
	t_ok(varve_iter_open(db, "t", 0, 0, &it));

	/* with tables: the same offsets and more, each batch visited many times */
	rng = 11;
	for (int i = 0; i < 5000; i++)
		seek_check(it, (int64_t)(t_rand(&rng) % (uint64_t)total), "tables");
	seek_check(it, 0, "first");
	seek_check(it, total - 1, "last");
	uint64_t held = cache_bytes(db);
	if (codec == VARVE_CODEC_NONE)
		cr_assert_gt(held, 0, "no position table was built");
	else /* compressed records are inflated per read: no tables */
		cr_assert_eq(held, 0);
	cr_assert_leq(held, 64u << 20);
	cr_assert(log_mapped(dir), "the segments are not read through a mapping");
	varve_iter_close(it);
	t_close(db);
}

Test(readpath, table_lookups_match_walks_codec_none) { lookups_match(VARVE_CODEC_NONE); }
Test(readpath, table_lookups_match_walks_codec_lz4) { lookups_match(VARVE_CODEC_LZ4); }

/* ---- damage through the mapping ---------------------------------------------- */

Test(readpath, flipped_byte_in_mapped_batch_is_corrupt)
{
	const char *dir = t_newpath("s");
	varve_options o = small_segments(256 * 1024);
	varve_db *db = t_open(dir, &o);
	/* batches of 100: batch i holds offsets 100 i .. 100 i + 99 */
	t_topic(db, "u", 1, VARVE_CODEC_NONE);
	static want_rec w[100];
	varve_record recs[100];
	for (int b = 0; b < 20; b++) {
		for (int i = 0; i < 100; i++) {
			want_of(b * 100 + i, &w[i]);
			recs[i] = rec_of(&w[i]);
		}
		t_ok(varve_produce_batch(db, "u", recs, 100, NULL));
	}
	/* a table for batch 3 exists in this process before the damage */
	varve_iter *it;
	t_ok(varve_iter_open(db, "u", 0, 0, &it));
	seek_check(it, 350, "before the flip");
	varve_iter_close(it);
	t_close(db);

	const char *log = t_seg_path(dir, "u", 0, 0, ".log");
	uint64_t pos[32], end;
	size_t n = t_batch_positions(log, pos, 32, &end);
	cr_assert_gt(n, 5, "the first segment holds %zu batches", n);
	t_flip(log, pos[3] + (pos[4] - pos[3]) / 2, 0x20); /* inside batch 3's records */

	db = t_open(dir, &o);
	t_ok(varve_iter_open(db, "u", 0, 0, &it));
	const varve_record *r;
	t_ok(varve_iter_seek(it, 300)); /* from the batch's start: the whole batch is checked */
	t_assert_rc(varve_iter_next(it, &r), VARVE_ECORRUPT);
	cr_assert(strstr(varve_last_error()->message, "checksum") != NULL, "%s",
		  varve_last_error()->message);
	seek_check(it, 250, "the batch before");
	seek_check(it, 450, "the batch after");
	/* Into the middle, through the batch's record map: records of intact
	 * chunks read right, and reading on fails at the damaged chunk, twice
	 * (a chunk is never cached as good). */
	for (int round = 0; round < 2; round++) {
		int64_t off = 350;
		int rc;
		t_ok(varve_iter_seek(it, off));
		while ((rc = varve_iter_next(it, &r)) == VARVE_OK) {
			check_at(r, off, "beside the damage");
			cr_assert_lt(++off, 400, "read past a damaged chunk");
		}
		t_assert_rc(rc, VARVE_ECORRUPT);
		cr_assert(strstr(varve_last_error()->message, "checksum") != NULL, "%s",
			  varve_last_error()->message);
	}
	cr_assert(log_mapped(dir));
	varve_iter_close(it);
	t_close(db);
}

/* ---- readers while the writer deletes and compacts ------------------------------- */

/* A store of 64 KiB segments with a compacted topic "t" that any cleaning
 * round compacts. */
static varve_db *compacted_topic(const char *dir)
{
	varve_options o = small_segments(64 * 1024);
	varve_db *db = t_open(dir, &o);
	varve_topic_config c;
	t_ok(varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION));
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.min_cleanable_dirty_ratio = 0;
	t_ok(varve_topic_create(db, "t", &c));
	return db;
}

Test(readpath, readers_survive_retention_and_compaction)
{
	const char *dir = t_newpath("s");
	varve_db *db = compacted_topic(dir);
	const int64_t total = 6000;
	fill(db, "t", total, 50, 5);

	varve_options ro = small_segments(64 * 1024);
	ro.read_only = 1;
	varve_db *rdb = t_open(dir, &ro);
	varve_iter *wit, *rit;
	t_ok(varve_iter_open(db, "t", 0, 0, &wit));
	t_ok(varve_iter_open(rdb, "t", 0, 0, &rit));
	const varve_record *r;
	for (int64_t i = 0; i < 100; i++) {
		t_ok(varve_iter_next(wit, &r));
		check_at(r, i, "writer before");
		t_ok(varve_iter_next(rit, &r));
		check_at(r, i, "read-only before");
	}
	/* retention: the segments holding the readers go away */
	int64_t start = 0;
	t_ok(varve_delete_records(db, "t", 0, 3000, &start));
	cr_assert_gt(start, 100);
	/* (a segment holds about 380 records: the readers stay in the first) */
	for (int64_t i = 100; i < 150; i++) {
		t_ok(varve_iter_next(wit, &r));
		check_at(r, i, "writer after retention");
		t_ok(varve_iter_next(rit, &r));
		check_at(r, i, "read-only after retention");
	}
	/* compaction: every key is unique, so the records stay but the files
	 * under the readers are replaced */
	t_ok(varve_clean_now(db, 1));
	uint64_t rng = 9;
	for (int i = 0; i < 300; i++) {
		int64_t off = start + (int64_t)(t_rand(&rng) % (uint64_t)(total - start));
		seek_check(wit, off, "writer after compaction");
		seek_check(rit, off, "read-only after compaction");
	}
	/* the iterators also read on to the end in order */
	int64_t next = start;
	t_ok(varve_iter_seek(rit, start));
	int rc;
	while ((rc = varve_iter_next(rit, &r)) == VARVE_OK)
		check_at(r, next++, "read-only replay");
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(next, total);
	varve_iter_close(wit);
	varve_iter_close(rit);
	t_close(rdb);
	t_close(db);
}

/* ---- bounded memory ------------------------------------------------------------------- */

Test(readpath, tables_stay_within_the_limit)
{
	const uint64_t limit = 160 * 1024;
	const char *dir = t_newpath("s");
	varve_options o = small_segments(8u << 20);
	o.read_cache_bytes = (int64_t)limit;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	/* ~240 batches of ~1,000 records: 8 KB of table each, 12x the limit */
	const int64_t total = 240000;
	fill(db, "t", total, 1000, 1);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	uint64_t rng = 3, high = 0;
	for (int i = 0; i < 4000; i++) {
		seek_check(it, (int64_t)(t_rand(&rng) % (uint64_t)total), "bounded");
		uint64_t b = cache_bytes(db);
		cr_assert_leq(b, limit, "tables hold %" PRIu64 " bytes over the %" PRIu64 " limit", b,
			      limit);
		if (b > high)
			high = b;
	}
	cr_assert_gt(high, limit / 2, "the tables were barely used (%" PRIu64 " bytes)", high);
	varve_iter_close(it);
	t_close(db);
}

/* Resident memory that is not shared with the page cache, in pages. */
static long private_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	cr_assert_not_null(f);
	long size, resident, shared;
	cr_assert_eq(fscanf(f, "%ld %ld %ld", &size, &resident, &shared), 3);
	fclose(f);
	return resident - shared;
}

Test(readpath, private_memory_flat_over_a_large_replay)
{
	const uint64_t limit = 256 * 1024;
	const char *dir = t_newpath("s");
	varve_options o = small_segments(16u << 20);
	o.read_cache_bytes = (int64_t)limit;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	const int64_t total = 400000; /* ~70 MB of records, ~3 MB of tables if unbounded */
	fill(db, "t", total, 1000, 2);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	int64_t n = 0;
	while (varve_iter_next(it, &r) == VARVE_OK)
		n++;
	cr_assert_eq(n, total);
	long before = private_pages();
	uint64_t rng = 4;
	for (int round = 0; round < 3; round++) {
		t_ok(varve_iter_seek(it, 0));
		int64_t next = 0;
		int rc;
		while ((rc = varve_iter_next(it, &r)) == VARVE_OK) {
			cr_assert_eq(r->offset, next);
			next++;
		}
		t_assert_rc(rc, VARVE_EEND);
		cr_assert_eq(next, total);
		for (int i = 0; i < 2000; i++)
			seek_check(it, (int64_t)(t_rand(&rng) % (uint64_t)total), "replay");
	}
	long after = private_pages();
	long grown_kb = (after - before) * 4;
	/* the tables' limit plus slack for allocator noise */
	cr_assert_lt(grown_kb, (long)(limit / 1024) + 4096,
		     "private memory grew by %ld KiB over three replays of a 70 MB log", grown_kb);
	cr_assert_leq(cache_bytes(db), limit);
	varve_iter_close(it);
	t_close(db);
}

/* read_with_pread: no mapping, same records. */
Test(readpath, read_with_pread_maps_nothing)
{
	const char *dir = t_newpath("s");
	varve_options o = small_segments(256 * 1024);
	o.read_with_pread = 1;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	fill(db, "t", 5000, 300, 8);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	uint64_t rng = 12;
	for (int i = 0; i < 500; i++)
		seek_check(it, (int64_t)(t_rand(&rng) % 5000u), "pread");
	cr_assert(!log_mapped(dir), "read_with_pread still maps the log");
	cr_assert_gt(cache_bytes(db), 0);
	varve_iter_close(it);
	t_close(db);
}

/* Many batches of one segment keep their tables together: a seek into a
 * batch whose table was pushed out by another batch's rebuilds it on every
 * visit (reads alternating between two such batches built a table each
 * time). 600 batches: the slots are set-associative, so at most a handful
 * may share a full set. */
Test(readpath, tables_of_many_batches_in_one_segment_stay)
{
	const char *dir = t_newpath("s");
	varve_options o = small_segments(64u << 20);
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	enum { BATCHES = 600, PER = 50 };
	static want_rec w[PER];
	static varve_record recs[PER];
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < PER; i++) {
			want_of((int64_t)b * PER + i, &w[i]);
			w[i].value_len = 40; /* the same size: every table costs the same */
			w[i].nh = 0;
			recs[i] = rec_of(&w[i]);
		}
		t_ok(varve_produce_batch(db, "t", recs, PER, NULL));
	}
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	t_ok(varve_iter_seek(it, PER / 2));
	t_ok(varve_iter_next(it, &r));
	uint64_t one = cache_bytes(db); /* the slot array and one table */
	t_ok(varve_iter_seek(it, PER + PER / 2));
	t_ok(varve_iter_next(it, &r));
	uint64_t table = cache_bytes(db) - one;
	cr_assert_gt(table, 0);
	for (int pass = 0; pass < 2; pass++)
		for (int b = 0; b < BATCHES; b++) {
			t_ok(varve_iter_seek(it, (int64_t)b * PER + PER / 2));
			t_ok(varve_iter_next(it, &r));
			cr_assert_eq(r->offset, (int64_t)b * PER + PER / 2);
		}
	uint64_t tables = (cache_bytes(db) - (one - table)) / table;
	cr_assert_geq(tables, BATCHES - 6, "only %" PRIu64 " of %d batches kept their table", tables,
		      BATCHES);
	varve_iter_close(it);
	t_close(db);
}

/* Batches that compaction thinned have gaps in their offsets: their tables
 * keep the deltas and a seek lands on the first record at or after the
 * offset asked for, as a walk does (a dense batch's table finds it by
 * subtraction instead). */
Test(readpath, tables_of_thinned_batches_land_on_the_next_record)
{
	const char *dir = t_newpath("s");
	varve_db *db = compacted_topic(dir);
	/* 40 batches of 200 records: odd offsets have keys of their own, even
	 * ones share 50 keys, so compaction leaves every other record */
	enum { BATCHES = 40, PER = 200, KEYS = 50 };
	static char keys[PER][16], vals[PER][32];
	static varve_record recs[PER];
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < PER; i++) {
			int64_t off = (int64_t)b * PER + i;
			if (off % 2)
				snprintf(keys[i], sizeof keys[i], "u%" PRId64, off);
			else
				snprintf(keys[i], sizeof keys[i], "k%" PRId64, off / 2 % KEYS);
			snprintf(vals[i], sizeof vals[i], "v%" PRId64, off);
			recs[i] = t_rec(keys[i], strlen(keys[i]), vals[i], strlen(vals[i]));
			recs[i].partition = 0;
		}
		t_ok(varve_produce_batch(db, "t", recs, PER, NULL));
	}
	t_ok(varve_clean_now(db, 1));
	/* what is left, by a plain scan */
	static int64_t left[BATCHES * PER];
	size_t n = 0;
	varve_iter *it;
	const varve_record *r;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	while (varve_iter_next(it, &r) == VARVE_OK)
		left[n++] = r->offset;
	/* the sealed segments lost their even offsets; the active one keeps all */
	cr_assert_lt(n, (size_t)BATCHES * PER * 3 / 4, "compaction removed little (%zu left)", n);
	/* every offset, in a scrambled order: the first record at or after it */
	uint64_t rng = 21;
	for (int k = 0; k < 4000; k++) {
		int64_t off = (int64_t)(t_rand(&rng) % (uint64_t)(BATCHES * PER));
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (left[mid] < off)
				lo = mid + 1;
			else
				hi = mid;
		}
		t_ok(varve_iter_seek(it, off));
		int rc = varve_iter_next(it, &r);
		if (lo == n) {
			t_assert_rc(rc, VARVE_EEND);
			continue;
		}
		t_ok(rc);
		cr_assert_eq(r->offset, left[lo], "seek %" PRId64 ": got %" PRId64 ", want %" PRId64,
			     off, r->offset, left[lo]);
		char want[32];
		snprintf(want, sizeof want, "v%" PRId64, left[lo]);
		cr_assert(r->value_len == strlen(want) && !memcmp(r->value, want, r->value_len),
			  "seek %" PRId64 ": wrong value", off);
	}
	cr_assert_gt(cache_bytes(db), 0, "no position table was built");
	varve_iter_close(it);
	t_close(db);
}

/* ---- the record map (format 2) ------------------------------------------------ */

/* Every offset of big batches read by a seek from a fresh open (each batch
 * entered through its record map, never checked whole before), and read on
 * from there across the chunk ends into the next batch. */
Test(readpath, seeks_through_record_maps_read_every_record)
{
	const char *dir = t_newpath("s");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "m", 1, VARVE_CODEC_NONE);
	fill(db, "m", 3000, 400, 11);
	t_close(db);
	for (int64_t start = 1; start < 3000; start += 97) {
		db = t_open(dir, &o);
		varve_iter *it;
		t_ok(varve_iter_open(db, "m", 0, start, &it));
		const varve_record *r;
		for (int64_t off = start; off < start + 700 && off < 3000; off++) {
			t_ok(varve_iter_next(it, &r));
			check_at(r, off, "through the map");
		}
		varve_iter_close(it);
		t_close(db);
	}
}

/* A flipped header byte is caught on the map path: the map's checksum
 * covers the header, and the whole checksum then reports the damage. */
Test(readpath, record_map_vouches_for_the_header)
{
	const char *dir = t_newpath("s");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "m", 1, VARVE_CODEC_NONE);
	static want_rec w[200];
	varve_record recs[200];
	for (int i = 0; i < 200; i++) {
		want_of(i, &w[i]);
		recs[i] = rec_of(&w[i]);
	}
	t_ok(varve_produce_batch(db, "m", recs, 200, NULL));
	t_close(db);
	const char *log = t_seg_path(dir, "m", 0, 0, ".log");
	t_flip(log, 40, 0x01); /* first_timestamp */
	db = t_open(dir, &o);
	varve_iter *it;
	const varve_record *r;
	t_ok(varve_iter_open(db, "m", 0, 150, &it));
	t_assert_rc(varve_iter_next(it, &r), VARVE_ECORRUPT);
	varve_iter_close(it);
	t_close(db);
}

/* A batch whose record map would take it past max_record_bytes is written
 * without one, not refused. */
Test(readpath, record_map_never_makes_a_batch_too_big)
{
	static want_rec w[200];
	varve_record recs[200];
	for (int i = 0; i < 200; i++) {
		want_of(i, &w[i]);
		recs[i] = rec_of(&w[i]);
	}
	uint32_t length[2], records_size[2];
	varve_options o = t_opts();
	for (int round = 0; round < 2; round++) {
		const char *dir = t_newpath("s");
		if (round == 1) /* one byte short of the batch with its map */
			o.max_record_bytes = length[0] - 1;
		varve_db *db = t_open(dir, &o);
		t_topic(db, "m", 1, VARVE_CODEC_NONE);
		t_ok(varve_produce_batch(db, "m", recs, 200, NULL));
		t_close(db);
		size_t n;
		uint8_t *b = t_read_file(t_seg_path(dir, "m", 0, 0, ".log"), &n);
		length[round] = vv_load32(b + 12);
		records_size[round] = vv_load32(b + 36);
		cr_assert_eq((vv_load16(b + 32) & 4) != 0, round == 0, "round %d: attributes %x", round,
			     vv_load16(b + 32));
		free(b);
		db = t_open(dir, &o);
		cr_assert_eq(t_count(db, "m", 0), 200);
		t_close(db);
	}
	cr_assert_eq(records_size[1], records_size[0]);
	cr_assert_eq(length[1], 80 + records_size[1]);
}
