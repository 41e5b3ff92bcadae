/* SPDX-License-Identifier: MIT */
/*
 * test_io_tables.c -- the I/O table belongs to the store, and every way to
 * the disk is a method of it.
 *
 *  - Two stores in one process, one opened with the fault table
 *    (varve_options.io = iof_table()) failing every call, the other with
 *    none: the second works and none of its calls reach the fault table.
 *  - A store given vv_io_posix explicitly ignores a failing process
 *    default (vv_io_set); a store given no table follows it.
 *  - Each method added for mappings and whole-filesystem calls fails with
 *    its documented error (docs/DURABILITY.md, "I/O errors"):
 *      map (active segment, mmap mode)  the append: VARVE_EIO, "mmap";
 *                                       the next append maps again
 *      map (sealed segment, reads)      reads fall back to pread
 *      map_write (mmap-mode append)     the append: VARVE_EIO; nothing of
 *                                       it is readable; the next works
 *      syncfs (many dirty sealed        varve_sync: VARVE_EIO, "syncfs";
 *              segments, sync=none)     the partition is failed for good
 *      free_space (min_free_bytes)      the append: VARVE_EIO, "statvfs";
 *                                       the next append checks again
 *  - A backup goes through its store's table: hard links, file identity;
 *    a table that cannot link (EXDEV) gets a copied backup.
 *  - A version-1 varve_options (from before `io`) is read only up to its
 *    size and runs on the operating system.
 * White-box: links the internal library for the table (src/base/io.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_util.h"
#include "io.h"
#include "io_fault.h"

TestSuite(io_tables, .timeout = 300);

static varve_options opts_with(const vv_io_methods *io)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.segment_bytes = 1024;
	o.index_interval_bytes = 64;
	o.io = io;
	return o;
}

static varve_db *open_at(const char *dir, const char *name, const varve_options *o)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	varve_db *db = NULL;
	int rc = varve_open(path, o, &db);
	cr_assert_eq(rc, 0, "open %s: %s", path, varve_last_error()->message);
	return db;
}

static int put(varve_db *db, uint32_t uid, int64_t *off)
{
	fu_rec fr;
	fu_rec_make(&fr, uid, 0, 1700000000000LL + uid);
	fr.r.partition = 0;
	return varve_produce(db, "t", &fr.r, NULL, off);
}

/* Every record of t/0 from offset 0, in order: offset i holds uid uids[i]. */
static void expect_records(varve_db *db, const uint32_t *uids, size_t n)
{
	varve_iter *it;
	cr_assert_eq(varve_iter_open(db, "t", 0, 0, &it), 0, "%s", varve_last_error()->message);
	const varve_record *r;
	size_t got = 0;
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		cr_assert_lt(got, n, "more records than acknowledged");
		cr_assert_eq(r->offset, (int64_t)got);
		cr_assert_eq(fu_rec_uid(r), (int64_t)uids[got], "offset %zu holds record %" PRId64
			     ", not %u", got, fu_rec_uid(r), uids[got]);
		got++;
	}
	cr_assert_eq(rc, VARVE_EEND, "%s", varve_last_error()->message);
	cr_assert_eq(got, n, "%zu records read, %zu acknowledged", got, n);
	varve_iter_close(it);
}

static int contains(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

/* ---- tables per store ------------------------------------------------------------ */

Test(io_tables, a_failing_table_reaches_only_its_store)
{
	char *dir = fu_fast_tmpdir("tables");
	iof_disarm();
	varve_options fa = opts_with(iof_table()), fb = opts_with(NULL);
	varve_db *a = open_at(dir, "a", &fa), *b = open_at(dir, "b", &fb);
	cr_assert_eq(varve_topic_create(a, "t", NULL), 0);
	cr_assert_eq(varve_topic_create(b, "t", NULL), 0);
	long a_calls = iof_calls(IOF_ALL);
	cr_assert_gt(a_calls, 0, "store a's calls did not go through its table");

	iof_arm(IOF_ALL, 1, IOF_EIO, 1, NULL); /* every call of store a fails from now on */
	int64_t off;
	int rc = put(a, 1, &off);
	cr_assert_eq(rc, VARVE_EIO, "store a's append returned %s", fu_code_name(rc));
	long fired = iof_fired();
	cr_assert_geq(fired, 1);

	/* store b: appends (with rolls and fsyncs), reads, a topic create */
	uint32_t uids[40];
	for (uint32_t i = 0; i < 40; i++) {
		uids[i] = 100 + i;
		cr_assert_eq(put(b, uids[i], &off), 0, "store b: %s", varve_last_error()->message);
		cr_assert_eq(off, (int64_t)i);
	}
	cr_assert_eq(varve_topic_create(b, "u", NULL), 0, "%s", varve_last_error()->message);
	expect_records(b, uids, 40);
	cr_assert_eq(iof_fired(), fired, "store b's calls reached store a's fault table");
	cr_assert_eq(varve_close(b), 0);

	iof_disarm();
	(void)varve_close(a); /* its close failed or not: the table is disarmed now */
	fu_rm_rf(dir);
	free(dir);
}

/* A process default that fails everything (as a tool might install one):
 * a store with its own table (vv_io_posix) does not see it, a store with
 * none does. */
Test(io_tables, the_process_default_is_only_for_stores_without_a_table)
{
	char *dir = fu_fast_tmpdir("procdefault");
	varve_options own = opts_with(&vv_io_posix), none = opts_with(NULL);
	varve_db *a = open_at(dir, "own", &own);
	cr_assert_eq(varve_topic_create(a, "t", NULL), 0);
	iof_disarm();
	iof_arm(IOF_ALL, 1, IOF_EIO, 1, NULL);
	vv_io_set(iof_table());
	int64_t off;
	int rc = put(a, 7, &off);
	uint32_t uid = 7;
	cr_assert_eq(rc, 0, "a store with its own table failed: %s", varve_last_error()->message);
	expect_records(a, &uid, 1);
	/* new files and directories too (calls that name a path) */
	rc = varve_topic_create(a, "u", NULL);
	cr_assert_eq(rc, 0, "a store with its own table failed: %s", varve_last_error()->message);
	char path[4300];
	snprintf(path, sizeof path, "%s/none", dir);
	varve_db *b = NULL;
	rc = varve_open(path, &none, &b);
	long fired = iof_fired();
	vv_io_set(NULL);
	iof_disarm();
	cr_assert_eq(rc, VARVE_EIO, "a store without a table opened past a failing default: %s",
		     fu_code_name(rc));
	cr_assert_geq(fired, 1);
	cr_assert_eq(varve_close(a), 0);
	fu_rm_rf(dir);
	free(dir);
}

/* ---- each new method failing ------------------------------------------------------- */

Test(io_tables, map_failure_fails_the_append_then_maps_again)
{
	char *dir = fu_fast_tmpdir("mapfail");
	iof_disarm();
	varve_options o = opts_with(iof_table());
	o.use_mmap = 1;
	varve_db *db = open_at(dir, "s", &o);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	iof_arm(IOF_MAP, 1, IOF_EIO, 0, "/topics/t/");
	int64_t off;
	int rc = put(db, 1, &off);
	const char *msg = varve_last_error()->message;
	cr_assert_eq(rc, VARVE_EIO, "append with a failing mmap returned %s", fu_code_name(rc));
	cr_assert(contains(msg, "mmap"), "the message does not name the call: %s", msg);
	cr_assert_eq(iof_fired(), 1, "the append did not map the active segment");
	uint32_t uids[] = { 2, 3 };
	cr_assert_eq(put(db, 2, &off), 0, "%s", varve_last_error()->message);
	cr_assert_eq(off, 0, "the failed append took an offset");
	cr_assert_eq(put(db, 3, &off), 0);
	expect_records(db, uids, 2);
	cr_assert_eq(varve_close(db), 0);
	iof_disarm();
	fu_rm_rf(dir);
	free(dir);
}

Test(io_tables, map_failure_of_a_sealed_segment_reads_by_pread)
{
	char *dir = fu_fast_tmpdir("mapread");
	iof_disarm();
	varve_options o = opts_with(iof_table());
	o.use_mmap = 1;
	varve_db *db = open_at(dir, "s", &o);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	uint32_t uids[30];
	int64_t off;
	for (uint32_t i = 0; i < 30; i++) {
		uids[i] = i;
		cr_assert_eq(put(db, i, &off), 0);
	}
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(varve_partition_info_get(db, "t", 0, &info), 0);
	cr_assert_gt(info.segments, 2, "the records did not roll segments");
	cr_assert_eq(varve_close(db), 0);
	db = open_at(dir, "s", &o);
	/* every read mapping fails from now on (the active one is mapped at open) */
	iof_arm(IOF_MAP, 1, IOF_EIO, 1, NULL);
	expect_records(db, uids, 30);
	cr_assert_gt(iof_fired(), 0, "no sealed segment was mapped for reading");
	iof_disarm();
	cr_assert_eq(varve_close(db), 0);
	fu_rm_rf(dir);
	free(dir);
}

Test(io_tables, map_write_failure_fails_the_append_only)
{
	char *dir = fu_fast_tmpdir("mapwrite");
	iof_disarm();
	varve_options o = opts_with(iof_table());
	o.use_mmap = 1;
	varve_db *db = open_at(dir, "s", &o);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	int64_t off;
	cr_assert_eq(put(db, 1, &off), 0);
	iof_arm(IOF_MAP_WRITE, 1, IOF_EIO, 0, NULL);
	int rc = put(db, 2, &off);
	const char *msg = varve_last_error()->message;
	cr_assert_eq(rc, VARVE_EIO, "append with a failing copy into the mapping returned %s",
		     fu_code_name(rc));
	cr_assert(contains(msg, "mapping"), "the message does not say what failed: %s", msg);
	cr_assert_eq(iof_fired(), 1);
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(varve_partition_info_get(db, "t", 0, &info), 0);
	cr_assert_eq(info.failed, 0, "a failed copy into the mapping failed the partition");
	cr_assert_eq(put(db, 3, &off), 0, "%s", varve_last_error()->message);
	cr_assert_eq(off, 1, "the failed append took an offset");
	uint32_t uids[] = { 1, 3 };
	expect_records(db, uids, 2);
	cr_assert_eq(varve_close(db), 0);
	iof_disarm();
	db = open_at(dir, "s", &o);
	expect_records(db, uids, 2);
	cr_assert_eq(varve_close(db), 0);
	fu_rm_rf(dir);
	free(dir);
}

Test(io_tables, syncfs_failure_fails_the_partition)
{
	char *dir = fu_fast_tmpdir("syncfs");
	iof_disarm();
	varve_options o = opts_with(iof_table());
	o.sync_policy = VARVE_SYNC_NONE; /* rolls seal without syncing: dirty sealed segments */
	varve_db *db = open_at(dir, "s", &o);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	int64_t off;
	for (uint32_t i = 0; i < 60; i++)
		cr_assert_eq(put(db, i, &off), 0);
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	cr_assert_eq(varve_partition_info_get(db, "t", 0, &info), 0);
	cr_assert_gt(info.segments, 9, "too few segments for one syncfs (%u)", info.segments);
	iof_arm(IOF_SYNCFS, 1, IOF_EIO, 0, NULL);
	int rc = varve_sync(db);
	const char *msg = varve_last_error()->message;
	cr_assert_eq(iof_fired(), 1, "varve_sync did not syncfs the dirty sealed segments");
	cr_assert_eq(rc, VARVE_EIO, "varve_sync with a failing syncfs returned %s", fu_code_name(rc));
	cr_assert(contains(msg, "syncfs"), "the message does not name the call: %s", msg);
	cr_assert_eq(varve_partition_info_get(db, "t", 0, &info), 0);
	cr_assert_eq(info.failed, 1, "a failed syncfs did not fail the partition");
	rc = put(db, 1000, &off);
	cr_assert_eq(rc, VARVE_EIO, "an append after the failed syncfs returned %s",
		     fu_code_name(rc));
	iof_disarm();
	cr_assert_eq(varve_close(db), VARVE_EIO);
	fu_rm_rf(dir);
	free(dir);
}

Test(io_tables, free_space_failure_fails_the_append_then_checks_again)
{
	char *dir = fu_fast_tmpdir("freespace");
	iof_disarm();
	varve_options o = opts_with(iof_table());
	o.min_free_bytes = 1; /* every append checks the free space (a floor nobody hits) */
	varve_db *db = open_at(dir, "s", &o);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	iof_arm(IOF_FREE_SPACE, 1, IOF_EIO, 0, "/topics/t/");
	int64_t off;
	int rc = put(db, 1, &off);
	const char *msg = varve_last_error()->message;
	cr_assert_eq(iof_fired(), 1, "the append did not check the free space");
	cr_assert_eq(rc, VARVE_EIO, "append with a failing statvfs returned %s", fu_code_name(rc));
	cr_assert(contains(msg, "statvfs"), "the message does not name the call: %s", msg);
	cr_assert_eq(put(db, 2, &off), 0, "%s", varve_last_error()->message);
	cr_assert_eq(off, 0);
	uint32_t uid = 2;
	expect_records(db, &uid, 1);
	cr_assert_gt(iof_calls(IOF_FREE_SPACE), 1, "the next append did not check again");
	cr_assert_eq(varve_close(db), 0);
	iof_disarm();
	fu_rm_rf(dir);
	free(dir);
}

/* ---- backup: the store's table for both trees -------------------------------------- */

static vv_io_methods counting;
static atomic_long n_link, n_path_info, n_file_info;
static atomic_int refuse_links;

static int count_link(const char *from, const char *to)
{
	atomic_fetch_add(&n_link, 1);
	return atomic_load(&refuse_links) ? -EXDEV : vv_io_posix.link(from, to);
}

static int count_path_info(const char *path, vv_file_info *out)
{
	atomic_fetch_add(&n_path_info, 1);
	return vv_io_posix.path_info(path, out);
}

static int count_file_info(vv_file *f, vv_file_info *out)
{
	atomic_fetch_add(&n_file_info, 1);
	return vv_io_posix.file_info(f, out);
}

static const vv_io_methods *counting_table(void)
{
	counting = vv_io_posix;
	counting.link = count_link;
	counting.path_info = count_path_info;
	counting.file_info = count_file_info;
	atomic_store(&n_link, 0);
	atomic_store(&n_path_info, 0);
	atomic_store(&n_file_info, 0);
	atomic_store(&refuse_links, 0);
	return &counting;
}

static void backup_to(varve_db *db, const char *dir, const char *name, varve_backup_report *rep)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	memset(rep, 0, sizeof *rep);
	rep->version = VARVE_BACKUP_REPORT_VERSION;
	int rc = varve_backup(db, path, NULL, rep);
	cr_assert_eq(rc, 0, "backup to %s: %s", path, varve_last_error()->message);
}

Test(io_tables, a_backup_goes_through_the_store_table)
{
	char *dir = fu_fast_tmpdir("backup");
	varve_options o = opts_with(counting_table());
	varve_db *db = open_at(dir, "s", &o);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	uint32_t uids[40];
	int64_t off;
	for (uint32_t i = 0; i < 40; i++) { /* 1 KiB segments: several sealed ones */
		uids[i] = 300 + i;
		cr_assert_eq(put(db, uids[i], &off), 0, "%s", varve_last_error()->message);
	}

	varve_backup_report rep;
	backup_to(db, dir, "linked", &rep);
	cr_assert_gt(rep.segments_linked, 0, "no sealed segment was linked");
	cr_assert_geq(atomic_load(&n_link), (long)rep.segments_linked,
		      "%" PRIu64 " segments linked, %ld links through the table", rep.segments_linked,
		      atomic_load(&n_link));
	cr_assert_gt(atomic_load(&n_path_info), 0, "no path identity through the table");
	cr_assert_gt(atomic_load(&n_file_info), 0, "no file identity through the table");

	/* a table that cannot link: the backup copies instead */
	atomic_store(&refuse_links, 1);
	long links_before = atomic_load(&n_link);
	backup_to(db, dir, "copied", &rep);
	cr_assert_gt(atomic_load(&n_link), links_before, "the backup did not try to link");
	cr_assert_eq(rep.segments_linked, 0);
	cr_assert_gt(rep.segments_copied, 0);
	cr_assert_eq(varve_close(db), 0);

	varve_options ro = opts_with(NULL);
	ro.read_only = 1;
	varve_db *copy = open_at(dir, "copied", &ro);
	expect_records(copy, uids, 40);
	cr_assert_eq(varve_close(copy), 0);
	fu_rm_rf(dir);
	free(dir);
}

/* varve_options version 2 added `io` at the end: a caller built against
 * version 1 passes a shorter struct, which is read only up to its size
 * (under ASan a read past it would stop the test) and runs on the
 * operating system. */
Test(io_tables, a_version_1_options_struct_has_no_table)
{
	char *dir = fu_fast_tmpdir("optsv1");
	size_t v1 = offsetof(varve_options, io);
	unsigned char *buf = malloc(v1); /* exactly a version-1 struct: fields set by memcpy */
	cr_assert_not_null(buf);
	varve_options *o = (varve_options *)(void *)buf;
	cr_assert_eq(varve_options_init(o, 1), 0);
	unsigned version;
	memcpy(&version, buf + offsetof(varve_options, version), sizeof version);
	cr_assert_eq(version, 1u);
	int no_cleaner = 0;
	memcpy(buf + offsetof(varve_options, start_cleaner), &no_cleaner, sizeof no_cleaner);
	iof_disarm();
	iof_arm(IOF_ALL, 1, IOF_EIO, 1, NULL); /* a table nobody gave this store */
	char path[4300];
	snprintf(path, sizeof path, "%s/s", dir);
	varve_db *db = NULL;
	int rc = varve_open(path, o, &db);
	cr_assert_eq(rc, 0, "%s", varve_last_error()->message);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	int64_t off;
	cr_assert_eq(put(db, 5, &off), 0);
	uint32_t uid = 5;
	expect_records(db, &uid, 1);
	cr_assert_eq(varve_close(db), 0);
	cr_assert_eq(iof_fired(), 0);
	iof_disarm();
	free(buf);
	fu_rm_rf(dir);
	free(dir);
}
