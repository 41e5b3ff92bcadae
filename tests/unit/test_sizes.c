/* SPDX-License-Identifier: MIT */
/*
 * The segment size list of a clean close (src/sizes.h): the next clean open
 * takes sealed segments' sizes from it instead of one stat each, and only
 * when the list is that close's (nonce in CLEAN), whole (checksum), and names
 * exactly the segments in the directory. Every other case falls back to
 * stat, and the data read back is the same either way.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "sizes.h"
#include "support.h"
#include "varve.h"

TestSuite(sizes, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* ---- a pass-through backend that counts stats of segment logs ---------- */

static vv_io_methods counting;
static atomic_long log_stats;

static int count_stat(const char *path, uint64_t *size, int *is_dir)
{
	size_t l = strlen(path);
	if (l > 4 && !strcmp(path + l - 4, ".log"))
		atomic_fetch_add(&log_stats, 1);
	return vv_io_posix.stat_size(path, size, is_dir);
}

static long open_counting(const char *path, varve_db **db)
{
	counting = vv_io_posix;
	counting.stat_size = count_stat;
	atomic_store(&log_stats, 0);
	vv_io_set(&counting);
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.start_cleaner = 0;
	int rc = varve_open(path, &o, db);
	vv_io_set(NULL);
	cr_assert_eq(rc, 0, "%s", varve_last_error()->message);
	return atomic_load(&log_stats);
}

#define NREC 400

/* A store whose partition t/0 has many small segments. */
static const char *make_store(void)
{
	const char *path = t_newpath("store");
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.start_cleaner = 0;
	varve_db *db = t_open(path, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < NREC; i++) {
		char v[80];
		snprintf(v, sizeof v, "value-%04d-%060d", i, i);
		t_produce_to(db, "t", 0, NULL, v, VARVE_TIMESTAMP_NOW);
	}
	t_close(db);
	return path;
}

static size_t nsegs(const char *store)
{
	int64_t bases[4096];
	return t_segments(t_part_dir(store, "t", 0), bases, 4096);
}

/* Every record back, in order, with its value. */
static void check_data(varve_db *db)
{
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	int i = 0, rc;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		char v[80];
		snprintf(v, sizeof v, "value-%04d-%060d", i, i);
		cr_assert_eq(r->offset, i);
		cr_assert(r->value_len == strlen(v) && !memcmp(r->value, v, r->value_len),
			  "record %d", i);
		i++;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(i, NREC);
	varve_iter_close(it);
}

static uint64_t partition_bytes(varve_db *db)
{
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	t_ok(varve_partition_info_get(db, "t", 0, &info));
	return info.size_bytes;
}

Test(sizes, clean_open_stats_only_the_last_segment)
{
	const char *path = make_store();
	size_t n = nsegs(path);
	cr_assert_gt(n, 10, "setup: %zu segments", n);
	cr_assert(t_exists(t_fmt("%s/%s", t_part_dir(path, "t", 0), VV_SIZES_FILE)));
	varve_db *db;
	long stats = open_counting(path, &db);
	cr_assert_leq(stats, 2, "%ld stats of segment logs for %zu segments (one per partition "
		      "expected: t/0 and the metadata log)", stats, n);
	check_data(db);
	uint64_t listed = partition_bytes(db);
	t_close(db);
	/* the sizes it used are the files' sizes */
	int64_t bases[4096];
	size_t k = t_segments(t_part_dir(path, "t", 0), bases, 4096);
	uint64_t on_disk = 0;
	for (size_t i = 0; i < k; i++)
		on_disk += (uint64_t)t_fsize(t_seg_path(path, "t", 0, bases[i], ".log"));
	cr_assert_eq(listed, on_disk);
}

Test(sizes, unclean_open_ignores_the_list)
{
	const char *path = make_store();
	t_unlink(t_fmt("%s/CLEAN", path)); /* as after a crash */
	varve_db *db;
	long stats = open_counting(path, &db);
	cr_assert_geq(stats, (long)nsegs(path), "%ld stats", stats);
	check_data(db);
	t_close(db);
}

Test(sizes, list_of_an_older_close_is_not_used)
{
	const char *path = make_store();
	const char *list = t_fmt("%s/%s", t_part_dir(path, "t", 0), VV_SIZES_FILE);
	size_t old_len;
	uint8_t *old = t_read_file(list, &old_len);
	/* a second session that changes nothing still closes with a new nonce */
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	varve_db *db = t_open(path, &o);
	t_close(db);
	t_write_file(list, old, old_len);
	free(old);
	long stats = open_counting(path, &db);
	cr_assert_geq(stats, (long)nsegs(path), "stale list used: %ld stats", stats);
	check_data(db);
	t_close(db);
}

Test(sizes, damaged_list_or_empty_clean_falls_back)
{
	const char *path = make_store();
	const char *list = t_fmt("%s/%s", t_part_dir(path, "t", 0), VV_SIZES_FILE);
	t_flip(list, 30, 0x04); /* a size: the checksum no longer matches */
	varve_db *db;
	long stats = open_counting(path, &db);
	cr_assert_geq(stats, (long)nsegs(path));
	check_data(db);
	t_close(db);
	/* an empty CLEAN (as older versions wrote) */
	t_write_file(t_fmt("%s/CLEAN", path), "", 0);
	stats = open_counting(path, &db);
	cr_assert_geq(stats, (long)nsegs(path));
	check_data(db);
	t_close(db);
}

Test(sizes, list_naming_other_segments_is_not_used)
{
	const char *path = make_store();
	/* a segment that appeared behind our back (not in the list) */
	int64_t bases[4096];
	size_t k = t_segments(t_part_dir(path, "t", 0), bases, 4096);
	cr_assert_gt(k, 3);
	const char *extra = t_seg_path(path, "t", 0, bases[k - 1] + 1000000, ".log");
	t_write_file(extra, "", 0);
	varve_db *db;
	long stats = open_counting(path, &db);
	cr_assert_geq(stats, (long)k, "%ld stats", stats);
	t_close(db);
}

/* Round trip and refusals of the file itself. */
Test(sizes, read_checks_nonce_bases_and_checksum)
{
	const char *dir = t_tmpdir();
	int64_t bases[3] = { 0, 100, 250 };
	uint64_t sizes[3] = { 4000, 4090, 17 }, got[3];
	t_ok(vv_sizes_write(NULL, dir, 42, bases, sizes, 3, 0600));
	t_ok(vv_sizes_read(NULL, dir, 42, bases, 3, got));
	cr_assert(!memcmp(got, sizes, sizeof sizes));
	cr_assert_neq(vv_sizes_read(NULL, dir, 43, bases, 3, got), 0);
	cr_assert_neq(vv_sizes_read(NULL, dir, 0, bases, 3, got), 0);
	cr_assert_neq(vv_sizes_read(NULL, dir, 42, bases, 2, got), 0);
	int64_t other[3] = { 0, 101, 250 };
	cr_assert_neq(vv_sizes_read(NULL, dir, 42, other, 3, got), 0);
	const char *f = t_fmt("%s/%s", dir, VV_SIZES_FILE);
	t_truncate(f, (uint64_t)t_fsize(f) - 1);
	cr_assert_neq(vv_sizes_read(NULL, dir, 42, bases, 3, got), 0);
	t_unlink(f);
	cr_assert_neq(vv_sizes_read(NULL, dir, 42, bases, 3, got), 0);
}
