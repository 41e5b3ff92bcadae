/* SPDX-License-Identifier: MIT */
/*
 * test_regressions.c -- minimal reproductions of the library bugs the crash
 * VFS suites found, one test each, with the plain POSIX backend wherever the
 * bug does not need a power cut (a copy of the directory of a store that is
 * still open is what kill -9 would leave: every write is in the page cache).
 * Each test asserts the correct behaviour. "Bug" marks one still open (the
 * test fails); "Fixed" one that the tree fixed after it was reported here
 * (the test guards against its return).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash_util.h"

static void fini(void) { cu_cleanup(); }

TestSuite(regressions, .fini = fini, .timeout = 300);

static varve_options base_opts(void)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.segment_bytes = 1024;
	o.index_interval_bytes = 64;
	o.max_record_bytes = 8192;
	o.start_cleaner = 0;
	return o;
}

static int64_t produce_kv(varve_db *db, const char *topic, const char *key, size_t vlen)
{
	char v[512];
	memset(v, 'v', sizeof v);
	varve_record r;
	memset(&r, 0, sizeof r);
	r.key = key;
	r.key_len = strlen(key);
	r.value = v;
	r.value_len = vlen;
	r.partition = 0;
	int64_t off = -1;
	int rc = varve_produce(db, topic, &r, NULL, &off);
	cr_assert_eq(rc, 0, "produce: %s", varve_last_error()->message);
	return off;
}

/*
 * Fixed (compact.c now moves the recovery point to the active segment
 * first): compaction rewrote the segment the recovery point names, but the
 * recovery point keeps its byte position in the old file. After a crash,
 * recovery scans the compacted file from that stale position, finds "damage",
 * cuts the segment there and deletes every later segment -- acknowledged
 * records of the active segment included.
 * src/compact.c compact_group / src/partition.c recover (scan from rp).
 */
Test(regressions, compaction_stale_recovery_point)
{
	char dir[1024], copy[1024];
	cu_newpath(dir, sizeof dir, "store");
	cu_newpath(copy, sizeof copy, "copy");
	varve_options o = base_opts();
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.min_cleanable_dirty_ratio = 0;
	cr_assert_eq(varve_topic_create(db, "kv", &c), 0);
	/* Batches of uneven sizes in segment 0, then a clean close and reopen:
	 * the recovery point names segment 0 at the end of these three. */
	produce_kv(db, "kv", "a", 10);
	produce_kv(db, "kv", "b", 50);
	produce_kv(db, "kv", "c", 10);
	cr_assert_eq(varve_close(db), 0);
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	/* "a" again (so compaction drops the first batch and shifts the rest),
	 * then unique keys until the partition has three segments. */
	produce_kv(db, "kv", "a", 100);
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	int64_t last = -1;
	unsigned i = 0;
	do {
		char k[16];
		snprintf(k, sizeof k, "u%u", i++);
		last = produce_kv(db, "kv", k, 100);
		cr_assert_eq(varve_partition_info_get(db, "kv", 0, &info), 0);
	} while (info.segments < 3);
	last = produce_kv(db, "kv", "tail", 20);
	cr_assert_eq(varve_clean_now(db, 1), 0);
	/* kill -9 now: the files as they are */
	cr_assert_eq(cu_copy_tree(dir, copy), 0);
	varve_close(db);
	cr_assert_eq(varve_open(copy, &o, &db), 0, "%s", varve_last_error()->message);
	int64_t start, end;
	cr_assert_eq(varve_offsets(db, "kv", 0, &start, &end), 0);
	const varve_recovery_cut *cuts;
	size_t ncuts;
	varve_recovery_cuts(db, &cuts, &ncuts);
	cr_expect_eq(end, last + 1,
		     "acknowledged offsets lost: end offset %" PRId64 " after recovery, %" PRId64
		     " acknowledged; recovery cut %zu time(s)%s%s",
		     end, last + 1, ncuts, ncuts ? ": " : "", ncuts ? cuts[0].reason : "");
	varve_close(db);
}

/* ---- read-only open during an interrupted compaction swap ------------------ */

static cv_tree *g_snap;
static const char *g_snap_suffix;
static int64_t g_clock;

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return g_clock;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static int g_snap_event;

/* kill -9 right after the first event of that kind on any path ending with
 * g_snap_suffix. */
static void snap_on_any(void *ctx, int ev, const char *path)
{
	(void)ctx;
	if (!g_snap && ev == g_snap_event && ends_with(path, g_snap_suffix))
		g_snap = cv_crash_random(1, CV_NS_ALL, CV_DATA_APPLY);
}

/* kill -9 right after the first event of that kind on a path of the
 * compacted topic ending with g_snap_suffix: every write and every namespace
 * operation so far reached the disk. */
static void snap_on_event(void *ctx, int ev, const char *path)
{
	(void)ctx;
	if (!g_snap && ev == g_snap_event && strstr(path, "/topics/kv/") && ends_with(path, g_snap_suffix))
		g_snap = cv_crash_random(1, CV_NS_ALL, CV_DATA_APPLY);
}

/*
 * Bug (open): a read-only open does not look at an interrupted compaction swap
 * (<b>.log.swap + <b>.replaces): only the writer's vv_compact_recover_dir
 * finishes it. Between finish_swap's unlink of the replaced segments S2..Sk
 * and the rename of <b>.log.swap over S1, a read-only open (a reader process
 * while the writer runs, or varve-dump after a kill -9) reads the old S1 and
 * nothing of S2..Sk: records -- among them the latest of some keys -- are
 * silently missing. src/partition.c recover (ro skips vv_compact_recover_dir),
 * src/compact.c finish_swap.
 */
/* Fixed (compact.c vv_compact_swap_view): a read-only open did not honour a
 * committed compaction swap, so in the window where S2..Sk are gone and
 * <b>.log.swap is not yet renamed it read the old S1 only. It now reads the
 * new segment from <b>.log.swap, as the writer's next open will finish it. */
Test(regressions, read_only_open_mid_compaction_swap)
{
	char root[1024], store[1100], state[1024], sstore[1100];
	cu_newpath(root, sizeof root, "world");
	cr_assert_eq(mkdir(root, 0700), 0);
	snprintf(store, sizeof store, "%s/store", root);
	cr_assert_eq(cv_install(root), 0);
	varve_options o = base_opts();
	o.io = cv_table();
	g_clock = 1700000000000LL;
	o.clock_fn = fixed_clock;
	varve_db *db;
	cr_assert_eq(varve_open(store, &o, &db), 0);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.min_cleanable_dirty_ratio = 0;
	c.segment_ms = 1000; /* one small batch per segment: compaction merges them */
	cr_assert_eq(varve_topic_create(db, "kv", &c), 0);
	const char *keys[] = { "a", "b", "c", "d", "a", "e", "f", "b", "g", "h" };
	int64_t latest[8];
	for (size_t i = 0; i < 10; i++) {
		latest[keys[i][0] - 'a'] = produce_kv(db, "kv", keys[i], 40);
		g_clock += 1000;
	}
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(varve_partition_info_get(db, "kv", 0, &info), 0);
	cr_assert_geq(info.segments, 8, "setup: %u segments", info.segments);
	/* the first rename of finish_swap (<b>.index.swap -> <b>.index) comes
	 * after the unlinks of S2..Sk */
	g_snap = NULL;
	g_snap_event = CV_EV_RENAME;
	g_snap_suffix = "0.index";
	cv_set_hook(snap_on_event, NULL);
	cr_assert_eq(varve_clean_now(db, 1), 0);
	cv_set_hook(NULL, NULL);
	cr_assert_eq(varve_close(db), 0);
	cv_uninstall();
	cr_assert(g_snap != NULL, "compaction never renamed <b>.index.swap over <b>.index");
	cu_newpath(state, sizeof state, "state");
	cr_assert_eq(cv_tree_write(g_snap, state), 0);
	cv_tree_free(g_snap);
	g_snap = NULL;
	snprintf(sstore, sizeof sstore, "%s/store", state);
	if (getenv("CV_DEBUG")) {
		char cmd[2300];
		snprintf(cmd, sizeof cmd, "ls -la %s/topics/kv/0 >&2", sstore);
		(void)system(cmd);
	}
	for (int ro = 1; ro >= 0; ro--) {
		varve_options oo = o;
		oo.read_only = ro;
		oo.io = NULL; /* the crash state, through the operating system */
		cr_assert_eq(varve_open(sstore, &oo, &db), 0, "%s", varve_last_error()->message);
		varve_iter *it;
		cr_assert_eq(varve_iter_open(db, "kv", 0, 0, &it), 0);
		uint8_t seen[16] = { 0 };
		const varve_record *r;
		int rc;
		while ((rc = varve_iter_next(it, &r)) == 0)
			if (r->offset < 16)
				seen[r->offset] = 1;
		cr_expect_eq(rc, VARVE_EEND, "%s", varve_last_error()->message);
		varve_iter_close(it);
		for (int k = 0; k < 8; k++)
			cr_expect(seen[latest[k]],
				  "%s open after a kill -9 inside the compaction swap: offset %" PRId64
				  ", the latest record of key %c, is missing",
				  ro ? "read-only" : "writer", latest[k], 'a' + k);
		varve_close(db);
	}
}

/* ---- timestamps out of order inside a batch ----------------------------------- */

/*
 * Fixed (batch.c): varve_produce_batch accepted records whose timestamps are not
 * ascending: src/batch.c vv_bb_add encodes each timestamp as a signed delta
 * from the first record's, but vv_record_next rejects any record with
 * ts < first_timestamp. The acknowledged batch is unreadable
 * (VARVE_ECORRUPT "records do not decode"), and a recovery that scans it
 * (any unclean open) cuts the partition there as "malformed records" and
 * deletes every later segment.
 */
Test(regressions, batch_timestamps_out_of_order)
{
	char dir[1024];
	cu_newpath(dir, sizeof dir, "store");
	varve_options o = base_opts();
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	varve_record r[2];
	memset(r, 0, sizeof r);
	r[0].value = "later";
	r[0].value_len = 5;
	r[0].timestamp = 1700000002000LL;
	r[1].value = "earlier";
	r[1].value_len = 7;
	r[1].timestamp = 1700000001000LL; /* an event that happened before */
	r[0].partition = r[1].partition = 0;
	cr_assert_eq(varve_produce_batch(db, "t", r, 2, NULL), 0, "%s", varve_last_error()->message);
	/* reading it back */
	varve_iter *it;
	cr_assert_eq(varve_iter_open(db, "t", 0, 0, &it), 0);
	const varve_record *got;
	int n = 0, rc;
	while ((rc = varve_iter_next(it, &got)) == 0)
		n++;
	cr_expect_eq(rc, VARVE_EEND, "reading an acknowledged batch: %s (%s)", varve_errmsg(rc),
		     varve_last_error()->message);
	cr_expect_eq(n, 2, "%d of 2 acknowledged records read", n);
	varve_iter_close(it);
	/* kill -9: recovery scans the tail */
	char copy[1024];
	cu_newpath(copy, sizeof copy, "copy");
	cr_assert_eq(cu_copy_tree(dir, copy), 0);
	varve_close(db);
	cr_assert_eq(varve_open(copy, &o, &db), 0);
	int64_t end = -1;
	cr_assert_eq(varve_offsets(db, "t", 0, NULL, &end), 0);
	const varve_recovery_cut *cuts;
	size_t nc;
	varve_recovery_cuts(db, &cuts, &nc);
	cr_expect_eq(end, 2, "recovery cut the acknowledged batch: end %" PRId64 " (%s)", end,
		     nc ? cuts[0].reason : "no cut reported");
	varve_close(db);
}

/* ---- a damaged length field of an LZ4 batch ------------------------------------ */

/* Add `add` to the length field of the first batch of a segment file. */
static void damage_first_batch_length(const char *log_path, int add)
{
	size_t n;
	uint8_t *b = cu_read_file(log_path, &n);
	cr_assert(b && n >= 80);
	uint64_t last = 0;
	uint32_t l = (uint32_t)b[last + 12] | (uint32_t)b[last + 13] << 8;
	l += (uint32_t)add;
	b[last + 12] = (uint8_t)l;
	b[last + 13] = (uint8_t)(l >> 8);
	cr_assert_eq(cu_write_file(log_path, b, n), 0);
	free(b);
}

/*
 * Fixed (reader.c: a batch running past the published size is damage): the
 * length field of an LZ4 batch is not tied to anything the header
 * check can verify (for codec none, records_size must equal length - 80).
 * Damaged so that the batch seems to run past the end of the segment,
 * readers take it for a batch still being written (VV_INCOMPLETE) and
 * silently move on -- to the next segment, or in the last segment to
 * VARVE_EEND -- without looking at the checksum: every record from that
 * batch to the segment's end is skipped with no error, while varve_offsets
 * still counts them. Bytes below the recovery point of a cleanly closed
 * store are never rescanned, so nothing reports it.
 * src/reader.c vv_reader_next (VV_INCOMPLETE handled like VARVE_EEND),
 * src/segment.c vv_seg_reader_batch, src/batch.c vv_batch_parse_header.
 * Found by test_corruption_sweep (topics/z/0/...log byte 13 ^ 0x08).
 */
Test(regressions, damaged_lz4_batch_length_skips_silently)
{
	for (int sealed = 0; sealed < 2; sealed++) {
		char dir[1024];
		cu_newpath(dir, sizeof dir, "store");
		varve_options o = base_opts();
		varve_db *db;
		cr_assert_eq(varve_open(dir, &o, &db), 0);
		varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
		c.codec = VARVE_CODEC_LZ4;
		cr_assert_eq(varve_topic_create(db, "t", &c), 0);
		varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
		int64_t total = 0;
		do {
			produce_kv(db, "t", "k", 100);
			total++;
			cr_assert_eq(varve_partition_info_get(db, "t", 0, &info), 0);
		} while (info.segments < 2);
		produce_kv(db, "t", "k", 100);
		total++;
		cr_assert_eq(varve_close(db), 0);
		char log[2048];
		if (sealed) {
			snprintf(log, sizeof log, "%s/topics/t/0/%020d.log", dir, 0);
		} else {
			int64_t base = total - 2; /* the last segment holds the last two */
			snprintf(log, sizeof log, "%s/topics/t/0/%020" PRId64 ".log", dir, base);
		}
		cr_assert(cu_exists(log), "%s", log);
		damage_first_batch_length(log, 0x800);
		for (int ro = 0; ro < 2; ro++) {
			o.read_only = ro;
			cr_assert_eq(varve_open(dir, &o, &db), 0);
			int64_t end;
			cr_assert_eq(varve_offsets(db, "t", 0, NULL, &end), 0);
			varve_iter *it;
			cr_assert_eq(varve_iter_open(db, "t", 0, 0, &it), 0);
			const varve_record *r;
			int rc;
			int64_t n = 0;
			while ((rc = varve_iter_next(it, &r)) == 0)
				n++;
			varve_iter_close(it);
			if (getenv("CV_DEBUG"))
				fprintf(stderr, "sealed %d ro %d: n %lld end %lld rc %d %s\n", sealed, ro,
					(long long)n, (long long)end, rc, varve_last_error()->message);
			cr_expect(n == end || rc == VARVE_ECORRUPT,
				  "%s segment, %s open: %" PRId64 " of %" PRId64 " records read, then %s "
				  "-- the damaged batch was skipped without an error",
				  sealed ? "sealed" : "active", ro ? "read-only" : "writer", n, end,
				  varve_errmsg(rc));
			varve_close(db);
		}
	}
}

/* ---- a damaged time index ------------------------------------------------------ */

/*
 * Fixed (segment.c): a damaged .timeindex of the last segment silently changed what
 * varve_offset_for_time (and a consumer's seek_time) returns in a read-only
 * open: vv_index_load (src/index.c) stops at the first entry that breaks
 * monotonicity and reports damage, but the segment's max timestamp is taken
 * from the entries kept before that (src/segment.c vv_segment_load_stats /
 * ensure_index), so vv_segment_find_time decides that no record of the
 * segment is at or after the asked time: VARVE_ENOTFOUND for times that
 * several records have. The same max timestamp drives time retention.
 * Found by test_corruption_sweep (…/a/1/…timeindex byte 13 ^ 0xff).
 */
Test(regressions, damaged_time_index_changes_time_lookups)
{
	char dir[1024];
	cu_newpath(dir, sizeof dir, "store");
	varve_options o = base_opts();
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	/* one segment, five small batches: a time entry each */
	static const int64_t ts[5] = { 1700000015000LL, 1700000016000LL, 1700000017000LL,
				       1700000040000LL, 1700000041000LL };
	for (int i = 0; i < 5; i++) {
		varve_record r;
		memset(&r, 0, sizeof r);
		r.key = "p1";
		r.key_len = 2;
		r.value = "xxxxxxxxxxxxxxxxxxxx";
		r.value_len = 20;
		r.timestamp = ts[i];
		r.partition = 0;
		cr_assert_eq(varve_produce(db, "t", &r, NULL, NULL), 0);
	}
	cr_assert_eq(varve_close(db), 0);
	char tidx[2048];
	snprintf(tidx, sizeof tidx, "%s/topics/t/0/%020d.timeindex", dir, 0);
	size_t len;
	uint8_t *b = cu_read_file(tidx, &len);
	cr_assert(b && len >= 24, "want two time entries in the time index (%zu bytes)", len);
	b[13] ^= 0xff; /* the second entry's timestamp drops below the first one's */
	cr_assert_eq(cu_write_file(tidx, b, len), 0);
	free(b);
	for (int ro = 1; ro >= 0; ro--) {
		o.read_only = ro;
		cr_assert_eq(varve_open(dir, &o, &db), 0);
		int wrong = 0;
		char first[256] = "";
		for (int i = 0; i < 5; i++) {
			int64_t got = -1;
			int rc = varve_offset_for_time(db, "t", 0, ts[i], &got);
			if (rc || got != i) {
				if (!wrong++)
					snprintf(first, sizeof first,
						 "offset_for_time(%" PRId64 ") = %s, offset %" PRId64
						 ", expected offset %d",
						 ts[i], varve_errmsg(rc), got, i);
			}
		}
		cr_expect_eq(wrong, 0, "%s open, one damaged byte in a .timeindex: %d of 5 time "
			     "lookups wrong, no error (first: %s)", ro ? "read-only" : "writer", wrong,
			     first);
		varve_close(db);
	}
}

/* ---- a crash while a new store is created ------------------------------------------- */

/*
 * Fixed (store.c ignores its own VERSION.tmp): varve_open of a new store
 * writes VERSION atomically (VERSION.tmp,
 * fdatasync, rename). A crash -- kill -9 is enough -- after VERSION.tmp is
 * created and before the rename leaves a directory holding LOCK and
 * VERSION.tmp, and every later open refuses it: "is not empty and has no
 * VERSION file: not a varve store" (VARVE_EFORMAT). The emptiness check
 * (src/store.c varve_open, has_version == 0) should ignore (and remove) its
 * own VERSION.tmp. Found by the crash VFS (every persistence point of store
 * creation).
 */
Test(regressions, crash_while_creating_store)
{
	char root[1024], store[1100], state[1024], sstore[1100];
	cu_newpath(root, sizeof root, "world");
	cr_assert_eq(mkdir(root, 0700), 0);
	snprintf(store, sizeof store, "%s/store", root);
	cr_assert_eq(cv_install(root), 0);
	g_snap = NULL;
	g_snap_event = CV_EV_CREATE;
	g_snap_suffix = "/VERSION.tmp";
	cv_set_hook(snap_on_any, NULL);
	varve_options o = base_opts();
	o.io = cv_table();
	varve_db *db;
	cr_assert_eq(varve_open(store, &o, &db), 0);
	cv_set_hook(NULL, NULL);
	varve_close(db);
	cv_uninstall();
	o.io = NULL; /* the crash state, through the operating system */
	cr_assert(g_snap != NULL, "varve_open never created VERSION.tmp");
	cu_newpath(state, sizeof state, "state");
	cr_assert_eq(cv_tree_write(g_snap, state), 0);
	cv_tree_free(g_snap);
	g_snap = NULL;
	snprintf(sstore, sizeof sstore, "%s/store", state);
	int rc = varve_open(sstore, &o, &db);
	cr_expect_eq(rc, 0, "opening a store whose creation was interrupted (kill -9 after "
		     "VERSION.tmp was created): %s (%s)", varve_errmsg(rc), varve_last_error()->message);
	if (rc == 0)
		varve_close(db);
}

/* ---- a torn index entry of the active segment ---------------------------------------- */

/*
 * Fixed (a regression of the tree while src/partition.c recover() loaded the active
 * segment's index and stats at every writer open): vv_segment_load_stats
 * (src/segment.c) walks batch headers from the position of the last entry of
 * the offset index without checking that the entry lands on a batch of its
 * offset (vv_segment_find does: header_near + base_offset). Index writes are
 * not fsynced between rolls, so after a power cut the index of the active
 * segment can end in a torn entry -- e.g. (3, 0x170) written as (3, 0x70),
 * which still passes vv_index_load's checks -- and the writer open then
 * fails with VARVE_ECORRUPT "bad batch header": the store cannot be opened.
 * Found by test_crash_states (retention workload).
 */
Test(regressions, torn_index_entry_of_active_segment)
{
	char dir[1024];
	cu_newpath(dir, sizeof dir, "store");
	varve_options o = base_opts();
	varve_db *db;
	cr_assert_eq(varve_open(dir, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	for (int i = 0; i < 4; i++)
		produce_kv(db, "t", "k", 150);
	cr_assert_eq(varve_close(db), 0);
	char idx[2048];
	snprintf(idx, sizeof idx, "%s/topics/t/0/%020d.index", dir, 0);
	size_t n;
	uint8_t *b = cu_read_file(idx, &n);
	cr_assert(b && n >= 16, "want at least two index entries (%zu bytes)", n);
	/* the last entry now lands inside the previous batch, still above the
	 * previous entry (the crash VFS found (3, 0x170) torn into (3, 0x70),
	 * the entry before it being (1, 95)) */
	uint32_t prev = (uint32_t)b[n - 12] | (uint32_t)b[n - 11] << 8 | (uint32_t)b[n - 10] << 16;
	uint32_t torn = prev + 17;
	b[n - 4] = (uint8_t)torn;
	b[n - 3] = (uint8_t)(torn >> 8);
	b[n - 2] = (uint8_t)(torn >> 16);
	b[n - 1] = 0;
	cr_assert_eq(cu_write_file(idx, b, n), 0);
	free(b);
	char clean[1100];
	snprintf(clean, sizeof clean, "%s/CLEAN", dir);
	unlink(clean); /* a crash, not a clean close */
	int rc = varve_open(dir, &o, &db);
	cr_expect_eq(rc, 0, "writer open with a torn last entry in the active segment's index: %s (%s)",
		     varve_errmsg(rc), varve_last_error()->message);
	if (rc == 0) {
		int64_t end;
		varve_offsets(db, "t", 0, NULL, &end);
		cr_expect_eq(end, 4);
		varve_close(db);
	}
}
