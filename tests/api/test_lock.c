/* SPDX-License-Identifier: MIT */
/* API: the writer lock (same process, other processes) and read-only opens. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "varve.h"

TestSuite(lock, .init = t_setup, .fini = t_teardown, .timeout = 60);
TestSuite(read_only, .init = t_setup, .fini = t_teardown, .timeout = 60);

static size_t value_of(int64_t off, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "value-%" PRId64 "-", off);
	size_t len = (size_t)n + (size_t)(off % 90);
	memset(buf + n, 'z', len - (size_t)n);
	return len;
}

static int64_t produce_n(varve_db *db, uint32_t part, int64_t n)
{
	int64_t end;
	t_ok(varve_offsets(db, "t", part, NULL, &end));
	for (int64_t i = 0; i < n; i++, end++) {
		char v[128];
		varve_record r = t_rec("k", 1, v, value_of(end, v, sizeof v));
		r.partition = (int32_t)part;
		r.timestamp = 1000 + end;
		int64_t off;
		t_ok(varve_produce(db, "t", &r, NULL, &off));
		cr_assert_eq(off, end);
	}
	return end;
}

static varve_options opts(int read_only)
{
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.read_only = read_only;
	return o;
}

static const char *make_store(int64_t n)
{
	const char *dir = t_newpath("store");
	varve_options o = opts(0);
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	produce_n(db, 0, n);
	produce_n(db, 1, n / 2);
	t_close(db);
	return dir;
}

/* ---- lock ---------------------------------------------------------------------- */

Test(lock, second_open_in_the_same_process)
{
	const char *dir = make_store(10);
	varve_options o = opts(0);
	varve_db *db = t_open(dir, &o);
	varve_db *db2 = (varve_db *)1;
	t_assert_rc(varve_open(dir, &o, &db2), VARVE_ELOCKED);
	cr_assert_null(db2);
	cr_assert_gt(strlen(varve_last_error()->message), 0);
	cr_assert_eq(varve_last_error()->code, VARVE_ELOCKED);
	/* the refused open broke nothing */
	produce_n(db, 0, 5);
	t_close(db);
	db = t_open(dir, &o);
	int64_t end;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 15);
	t_close(db);
}

static int try_open(void *arg)
{
	varve_options o = t_opts();
	varve_db *db;
	int rc = varve_open((const char *)arg, &o, &db);
	if (rc == 0)
		varve_close(db);
	return -rc; /* exit status: the error code, negated */
}

Test(lock, second_open_from_another_process)
{
	const char *dir = make_store(10);
	varve_options o = opts(0);
	varve_db *db = t_open(dir, &o);
	cr_assert_eq(t_run_child(try_open, (void *)dir), -VARVE_ELOCKED);
	t_close(db);
	cr_assert_eq(t_run_child(try_open, (void *)dir), 0, "the lock outlived varve_close");
}

typedef struct holder {
	const char *dir;
	int ready[2], go[2];
} holder;

static int hold_lock(void *arg)
{
	holder *h = arg;
	varve_options o = t_opts();
	varve_db *db;
	int rc = varve_open(h->dir, &o, &db);
	char c = rc ? 'E' : 'R';
	if (write(h->ready[1], &c, 1) != 1)
		return 3;
	if (rc)
		return 2;
	/* wait to be killed */
	if (read(h->go[0], &c, 1) < 0)
		return 4;
	varve_close(db);
	return 0;
}

Test(lock, lock_held_by_a_killed_process_is_released)
{
	const char *dir = make_store(10);
	holder h = { .dir = dir };
	cr_assert_eq(pipe(h.ready), 0);
	cr_assert_eq(pipe(h.go), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(hold_lock(&h));
	char c = 0;
	cr_assert_eq(read(h.ready[0], &c, 1), 1);
	cr_assert_eq(c, 'R', "the child could not open the store");
	varve_options o = opts(0);
	varve_db *db = (varve_db *)1;
	t_assert_rc(varve_open(dir, &o, &db), VARVE_ELOCKED);
	/* a reader is welcome while the other process writes */
	varve_options ro = opts(1);
	varve_db *r = t_open(dir, &ro);
	int64_t end;
	t_ok(varve_offsets(r, "t", 0, NULL, &end));
	cr_assert_eq(end, 10);
	t_close(r);
	kill(pid, SIGKILL);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st));
	db = t_open(dir, &o);
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 10);
	t_close(db);
	close(h.ready[0]);
	close(h.ready[1]);
	close(h.go[0]);
	close(h.go[1]);
}

/* ---- read-only ------------------------------------------------------------------- */

Test(read_only, works_while_a_writer_holds_the_store_and_takes_no_lock)
{
	const char *dir = make_store(30);
	varve_options o = opts(0), ro = opts(1);
	varve_db *w = t_open(dir, &o);
	varve_db *r1 = t_open(dir, &ro);
	varve_db *r2 = t_open(dir, &ro);
	cr_assert_eq(t_count(r1, "t", 0), 30);
	cr_assert_eq(t_count(r2, "t", 1), 15);
	t_close(w);
	/* with readers open, a writer can still take the store */
	w = t_open(dir, &o);
	produce_n(w, 0, 1);
	t_close(w);
	t_close(r1);
	t_close(r2);
}

Test(read_only, refuses_every_write)
{
	const char *dir = make_store(5);
	varve_options ro = opts(1);
	varve_db *r = t_open(dir, &ro);
	varve_record rec = t_rec("k", 1, "v", 1);
	t_assert_rc(varve_produce(r, "t", &rec, NULL, NULL), VARVE_EREADONLY);
	t_assert_rc(varve_produce_batch(r, "t", &rec, 1, NULL), VARVE_EREADONLY);
	t_assert_rc(varve_topic_create(r, "new", NULL), VARVE_EREADONLY);
	t_assert_rc(varve_topic_delete(r, "t"), VARVE_EREADONLY);
	t_ok(varve_sync(r));
	int64_t end;
	t_ok(varve_offsets(r, "t", 0, NULL, &end));
	cr_assert_eq(end, 5);
	t_close(r);
}

static void read_everything(varve_db *r)
{
	char **names;
	size_t n;
	t_ok(varve_topic_list(r, &names, &n));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(names[0], "t");
	varve_strings_free(names, n);
	varve_topic_config c = { .version = VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(r, "t", &c));
	cr_assert_eq(c.partitions, 2);
	for (uint32_t p = 0; p < 2; p++) {
		int64_t end = t_count(r, "t", p);
		cr_assert_gt(end, 0);
		for (int64_t off = 0; off < end; off += 7) {
			varve_iter *it;
			t_ok(varve_iter_open(r, "t", p, off, &it));
			const varve_record *rec;
			t_ok(varve_iter_next(it, &rec));
			cr_assert_eq(rec->offset, off);
			varve_iter_close(it);
		}
		/* exercised for the no-change checks; its answers are checked in
		 * test_offsets.c (offset_for_time_read_only) */
		int64_t got;
		int rc = varve_offset_for_time(r, "t", p, 1000 + end / 2, &got);
		cr_assert(rc == VARVE_OK || rc == VARVE_ENOTFOUND, "%s", varve_errmsg(rc));
		varve_partition_info info = { .version = VARVE_PARTITION_INFO_VERSION };
		t_ok(varve_partition_info_get(r, "t", p, &info));
		cr_assert_eq(info.end_offset, end);
	}
	const varve_recovery_cut *cuts;
	t_ok(varve_recovery_cuts(r, &cuts, &n));
}

static void no_change(const char *dir, void (*damage)(const char *dir), const char *what)
{
	if (damage)
		damage(dir);
	t_snap *before = t_snapshot(dir);
	varve_options ro = opts(1);
	ro.start_cleaner = 1; /* must not start for a reader anyway */
	varve_db *r = t_open(dir, &ro);
	read_everything(r);
	t_close(r);
	t_snap *after = t_snapshot(dir);
	char why[512];
	cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0, "%s: %s", what, why);
	t_snap_free(before);
	t_snap_free(after);
}

Test(read_only, creates_and_changes_nothing_in_a_clean_store)
{
	no_change(make_store(60), NULL, "clean store");
}

static void dirty(const char *dir)
{
	/* unclean stop, torn tail, lost index files, leftover temp file */
	t_unlink(t_fmt("%s/CLEAN", dir));
	const char *pd = t_part_dir(dir, "t", 0);
	int64_t bases[64];
	size_t ns = t_segments(pd, bases, 64);
	cr_assert_gt(ns, 1);
	t_append_garbage(t_seg_path(dir, "t", 0, bases[ns - 1], ".log"), 77, 5);
	t_unlink(t_seg_path(dir, "t", 0, bases[0], ".index"));
	t_unlink(t_seg_path(dir, "t", 0, bases[0], ".timeindex"));
	t_append_zeros(t_seg_path(dir, "t", 1, 0, ".index"), 4096);
	t_unlink(t_fmt("%s/recovery-point", t_part_dir(dir, "t", 1)));
	t_write_file(t_fmt("%s/recovery-point.tmp", pd), "partial", 7);
}

Test(read_only, creates_and_changes_nothing_in_a_damaged_store)
{
	no_change(make_store(60), dirty, "damaged store");
}

Test(read_only, missing_or_foreign_directories)
{
	const char *missing = t_newpath("missing");
	varve_options ro = opts(1);
	varve_db *db = (varve_db *)1;
	t_assert_rc(varve_open(missing, &ro, &db), VARVE_ENOTFOUND);
	cr_assert_null(db);
	cr_assert(!t_exists(missing), "a read-only open created the directory");
	const char *empty = t_tmpdir();
	t_snap *before = t_snapshot(empty);
	cr_assert_neq(varve_open(empty, &ro, &db), VARVE_OK, "an empty directory is not a store");
	t_snap *after = t_snapshot(empty);
	char why[256];
	cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0, "%s", why);
	cr_assert_eq(t_count_suffix(empty, ""), 0);
	t_snap_free(before);
	t_snap_free(after);
}

Test(read_only, sees_what_the_writer_appends_later)
{
	const char *dir = make_store(20);
	varve_options o = opts(0), ro = opts(1);
	varve_db *w = t_open(dir, &o);
	varve_db *r = t_open(dir, &ro);
	varve_iter *it;
	t_ok(varve_iter_open(r, "t", 0, 0, &it));
	const varve_record *rec;
	int64_t next = 0;
	int rc;
	while ((rc = varve_iter_next(it, &rec)) == 0) {
		cr_assert_eq(rec->offset, next);
		next++;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(next, 20);
	/* the writer appends enough to roll several segments */
	int64_t end = produce_n(w, 0, 150);
	cr_assert_gt(t_count_suffix(t_part_dir(dir, "t", 0), ".log"), 2);
	while ((rc = varve_iter_next(it, &rec)) == 0) {
		cr_assert_eq(rec->offset, next);
		char v[128];
		size_t l = value_of(next, v, sizeof v);
		cr_assert(rec->value_len == l && memcmp(rec->value, v, l) == 0);
		next++;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_eq(next, end, "the reader saw %" PRId64 " of %" PRId64, next, end);
	varve_iter_close(it);
	int64_t rend;
	t_ok(varve_offsets(r, "t", 0, NULL, &rend));
	cr_assert_eq(rend, end);
	int64_t got;
	t_ok(varve_offset_for_time(r, "t", 0, 1000 + end - 1, &got));
	cr_assert_eq(got, end - 1);
	/* an iterator opened at an offset the reader has not seen yet */
	produce_n(w, 0, 3);
	t_ok(varve_iter_open(r, "t", 0, end + 2, &it));
	t_ok(varve_iter_next(it, &rec));
	cr_assert_eq(rec->offset, end + 2);
	varve_iter_close(it);
	t_close(w);
	t_close(r);
}

/* Power lost while the store was being created, after meta/'s index files
 * were made and before its .log was: a read-only open sees an empty store
 * (no VARVE_EOFFSET about a partition without segments), and a writer open
 * finishes the creation. Likewise for a topic partition left without its
 * segment. */
Test(read_only, interrupted_creation_reads_as_empty)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_close(db);
	t_unlink(t_fmt("%s/meta/00000000000000000000.log", dir));
	cr_assert(t_exists(t_fmt("%s/meta/00000000000000000000.index", dir)));
	varve_options ro = o;
	ro.read_only = 1;
	db = t_open(dir, &ro);
	char **names;
	size_t n;
	t_ok(varve_topic_list(db, &names, &n));
	cr_assert_eq(n, 0, "a store whose metadata log was never written has no topics");
	varve_strings_free(names, n);
	t_close(db);
	/* the writer finishes the creation */
	db = t_open(dir, &o);
	t_topic(db, "u", 1, VARVE_CODEC_NONE);
	t_produce_to(db, "u", 0, "k", "v", 0);
	t_close(db);
	/* a topic partition without a segment reads as empty, read-only */
	t_unlink(t_seg_path(dir, "u", 0, 0, ".log"));
	db = t_open(dir, &ro);
	int64_t start = -1, end = -1;
	t_ok(varve_offsets(db, "u", 0, &start, &end));
	cr_assert(start == end, "an empty partition: [%" PRId64 ", %" PRId64 ")", start, end);
	varve_iter *it;
	t_ok(varve_iter_open(db, "u", 0, start, &it));
	const varve_record *r;
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	varve_iter_close(it);
	t_close(db);
}
