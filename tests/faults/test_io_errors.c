/* SPDX-License-Identifier: MIT */
/*
 * test_io_errors.c -- the I/O-error loop (issue "Reliability", item 3).
 *
 * For N = 1, 2, ... the Nth I/O call of the workload (workload.h) fails
 * with EIO, ENOSPC or a short write, once or from N on, until the workload
 * runs without reaching call N. Every failing API call must return a
 * negative code with a message; the store is then reopened with the real
 * backend and checked (fu_verify): it opens, every partition iterates to
 * VARVE_EEND without an error, offsets are dense, every record read is one
 * that was sent (byte for byte), every acknowledged record is where it was
 * acknowledged, acknowledged commits hold, and the store takes new writes.
 *
 * Also: a short write whose clean-up truncate fails, followed by a time
 * roll and a crash; and a real full disk (an 8 MiB ext4 image on a loop
 * device) when the machine allows it.
 *
 * The fault table is the store's own (varve_options.io = iof_table()):
 * nothing else in the process sees it. The loop runs it in fast mode
 * (iof_fast: fsyncs counted and failable but not passed to the kernel,
 * segment preallocation sparse) on tmpfs when there is one
 * (fu_fast_tmpdir): this suite is about error paths, not power loss or disk
 * space, and that keeps a few thousand reopens fast. The checking reopen
 * goes through the same table with no rule armed (a pass-through), and
 * through vv_io_posix itself (no table) every 50th iteration and after the
 * fault-free last one.
 * VARVE_IOERR_MAX_N bounds N (default: no bound); VARVE_IOERR_STRIDE=k tries
 * only N = 1, 1+k, 1+2k, ... (default 1: every N; .ci/valgrind uses a
 * stride, the whole range still being walked).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io_fault.h"
#include "workload.h"

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : dflt;
}

typedef struct loop_totals {
	long iterations, faults, calls, failing, codes[32];
	size_t acked, read, unacked_found, gone_legit;
	fu_failures F;
} loop_totals;

#define add_failure(t, ...) fu_fail(&(t)->F, __VA_ARGS__)

static void io_loop(const char *label, unsigned methods, iof_kind kind, int persistent)
{
	long max_n = env_long("VARVE_IOERR_MAX_N", 1000000);
	long stride = env_long("VARVE_IOERR_STRIDE", 1);
	if (stride < 1)
		stride = 1;
	uint64_t t0 = fu_now_ns();
	loop_totals T;
	memset(&T, 0, sizeof T);
	char *root = fu_fast_tmpdir("ioerr");
	cr_assert_not_null(root);
	long n;
	int completed = 0;
	for (n = 1; n <= max_n; n += stride) {
		char path[4096];
		snprintf(path, sizeof path, "%s/s%ld", root, n);
		fu_ledger l;
		fu_ledger_init(&l);
		iof_disarm();
		iof_fast(1);
		iof_arm(methods, n, kind, persistent, NULL);
		wl_stats st;
		uint64_t ta = fu_now_ns();
		wl_run(path, iof_table(), &l, &st);
		uint64_t tb = fu_now_ns();
		long fired = iof_fired();
		char fault[512];
		snprintf(fault, sizeof fault, "%s", iof_first_fault());
		iof_disarm();
		/* Reopen without faults: through the pass-through table in fast
		 * mode, and every 50th time and at the end through vv_io_posix. */
		int real = !fired || n % 50 == 1;
		if (real)
			iof_fast(0);
		T.iterations++;
		T.faults += fired;
		T.calls += st.calls;
		T.failing += st.failing_calls;
		for (int i = 0; i < 32; i++)
			T.codes[i] += st.codes[i];
		if (st.bad)
			add_failure(&T, "N=%ld, fault %s: %s", n, fault, st.why);
		if (!fired && st.failing_calls)
			add_failure(&T, "N=%ld: no fault injected but %ld calls failed", n,
				    st.failing_calls);
		fu_report rep;
		uint64_t tc = fu_now_ns();
		int vrc = fu_verify(path, real ? NULL : iof_table(), &l, 1, &rep);
		if (getenv("VARVE_FAULTS_TRACE"))
			fprintf(stderr, "N=%ld workload %.1f ms verify %.1f ms fault %s\n", n,
				(double)(tb - ta) / 1e6, (double)(fu_now_ns() - tc) / 1e6, fault);
		if (vrc)
			add_failure(&T, "N=%ld, fault %s: after reopen: %s (%zu problems)", n, fault,
				    rep.first_failure, rep.failures);
		iof_fast(0);
		T.acked += rep.acked;
		T.read += rep.read;
		T.unacked_found += rep.unacked_found;
		T.gone_legit += rep.acked_gone_legit;
		fu_ledger_free(&l);
		fu_rm_rf(path);
		if (!fired) {
			completed = 1;
			break;
		}
	}
	fu_rm_rf(root);
	free(root);
	char codes[512];
	wl_codes(T.codes, codes, sizeof codes);
	printf("io_errors[%s]: %ld iterations (N=1..%ld), %ld faults injected, %ld API calls, "
	       "%ld failed cleanly (%s); after reopen: %zu acknowledged records checked, %zu "
	       "records read, %zu unacknowledged records present, %zu gone by retention/compaction; "
	       "%.1f s\n",
	       label, T.iterations, n, T.faults, T.calls, T.failing, codes, T.acked, T.read,
	       T.unacked_found, T.gone_legit, (double)(fu_now_ns() - t0) / 1e9);
	fflush(stdout);
	for (int i = 0; i < T.F.kinds; i++)
		cr_log_error("%s: %ld x: %s", label, T.F.count[i], T.F.first[i]);
	cr_expect(completed || max_n < 1000000, "the loop did not finish within %ld iterations", max_n);
	cr_assert_eq(T.F.failures, 0, "%s: %ld failures of %d kinds; first: %s", label,
		     T.F.failures, T.F.kinds, T.F.first[0]);
}

TestSuite(io_errors, .timeout = 900);

Test(io_errors, eio_once) { io_loop("EIO once", IOF_WALK, IOF_EIO, 0); }
Test(io_errors, eio_from_n_on) { io_loop("EIO from N on", IOF_WALK, IOF_EIO, 1); }
Test(io_errors, enospc_once) { io_loop("ENOSPC once", IOF_WALK, IOF_ENOSPC, 0); }
Test(io_errors, enospc_from_n_on) { io_loop("ENOSPC from N on", IOF_WALK, IOF_ENOSPC, 1); }
Test(io_errors, short_write_once) { io_loop("short write once", IOF_PWRITE, IOF_SHORT, 0); }
Test(io_errors, short_write_from_n_on)
{
	io_loop("short write from N on", IOF_PWRITE, IOF_SHORT, 1);
}

/* ---- focused cases the loop found ------------------------------------------- */

/* Options of a store on the fault table, without the background thread. */
static varve_options fault_opts(void)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.io = iof_table(); /* a pass-through until a rule is armed */
	o.start_cleaner = 0;
	return o;
}

static varve_db *open_plain(const char *path)
{
	varve_options o = fault_opts();
	varve_db *db = NULL;
	int rc = varve_open(path, &o, &db);
	cr_assert_eq(rc, 0, "open %s: %s", path, varve_last_error()->message);
	return db;
}

/* A topic create whose metadata append fails must say why. */
Test(io_errors, topic_create_failure_has_a_message)
{
	char *dir = fu_fast_tmpdir("tcmsg");
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_db *db = open_plain(path);
	iof_disarm();
	iof_arm(IOF_DATASYNC, 1, IOF_EIO, 0, "/meta/");
	int rc = varve_topic_create(db, "x", NULL);
	const varve_error_info *e = varve_last_error();
	char msg[600];
	snprintf(msg, sizeof msg, "%s", e->message ? e->message : "(null)");
	int code = e->code;
	long fired = iof_fired();
	iof_disarm();
	varve_close(db);
	fu_rm_rf(dir);
	free(dir);
	printf("io_errors[topic create, metadata fsync fails]: rc %s, last error %s \"%s\"\n",
	       fu_code_name(rc), fu_code_name(code), msg);
	cr_assert_eq(fired, 1);
	cr_assert_eq(rc, VARVE_EIO, "topic create returned %s", fu_code_name(rc));
	cr_assert(msg[0] != 0 && code == rc,
		  "varve_topic_create returned VARVE_EIO but varve_last_error() is {%s, \"%s\"}: "
		  "store.c varve_topic_create drops the topic after vv_meta_put fails "
		  "(vv_topic_unref of a deleted topic removes its directory), and that clean-up "
		  "clears the error detail",
		  fu_code_name(code), msg);
}

/* The first open of a new store fails while writing VERSION (and cannot
 * clean up): the directory holds LOCK and VERSION.tmp. A crash at the same
 * moment leaves the same files. The store must still open afterwards. */
Test(io_errors, interrupted_first_open_leaves_an_openable_store)
{
	char *dir = fu_fast_tmpdir("firstopen");
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	iof_disarm();
	iof_arm(IOF_RENAME, 1, IOF_EIO, 0, "VERSION.tmp");
	iof_arm(IOF_UNLINK, 1, IOF_EIO, 0, "VERSION.tmp");
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.io = iof_table();
	o.start_cleaner = 0;
	varve_db *db = NULL;
	int rc1 = varve_open(path, &o, &db);
	iof_disarm();
	if (rc1 == 0)
		varve_close(db);
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s/VERSION.tmp", path);
	struct stat st;
	int left = stat(tmp, &st) == 0;
	db = NULL;
	int rc2 = varve_open(path, &o, &db);
	char msg[600];
	snprintf(msg, sizeof msg, "%s", varve_last_error()->message);
	if (rc2 == 0)
		varve_close(db);
	fu_rm_rf(dir);
	free(dir);
	printf("io_errors[first open interrupted at VERSION]: first open %s, VERSION.tmp %s, "
	       "reopen %s\n", fu_code_name(rc1), left ? "left behind" : "gone", fu_code_name(rc2));
	cr_assert_neq(rc1, 0, "the fault did not surface");
	cr_assert_eq(rc2, 0,
		     "a store whose first open failed while writing VERSION cannot be opened again: "
		     "%s (%s). store.c varve_open treats a directory without VERSION as foreign "
		     "unless it holds nothing but LOCK; the VERSION.tmp its own "
		     "vv_io_write_atomic left (or a crash before the rename) makes it VARVE_EFORMAT "
		     "forever",
		     fu_code_name(rc2), msg);
}

/* varve_close's return code and varve_last_error() must agree. */
Test(io_errors, close_error_code_matches_last_error)
{
	char *dir = fu_fast_tmpdir("closecode");
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_db *db = open_plain(path);
	cr_assert_eq(varve_topic_create(db, "x", NULL), 0);
	fu_rec fr;
	fu_rec_make(&fr, 1, 0, 1700000000000LL);
	cr_assert_eq(varve_produce(db, "x", &fr.r, NULL, NULL), 0);
	iof_disarm();
	iof_arm(IOF_DATASYNC, 1, IOF_ENOSPC, 1, NULL);
	int prc = varve_produce(db, "x", &fr.r, NULL, NULL); /* fsync fails: partition fails */
	iof_arm(IOF_PWRITE | IOF_EXTEND, 1, IOF_ENOSPC, 1, NULL);
	int rc = varve_close(db);
	int code = varve_last_error()->code;
	char msg[600];
	snprintf(msg, sizeof msg, "%s", varve_last_error()->message);
	iof_disarm();
	fu_rm_rf(dir);
	free(dir);
	printf("io_errors[close on a full disk]: produce %s, close %s, last error %s \"%s\"\n",
	       fu_code_name(prc), fu_code_name(rc), fu_code_name(code), msg);
	cr_assert_neq(rc, 0);
	cr_assert_eq(code, rc,
		     "varve_close returned %s but varve_last_error() says %s (\"%s\"): store.c "
		     "varve_close returns VARVE_EIO for a failed partition without setting the "
		     "detail, and the last error is whatever a later step set",
		     fu_code_name(rc), fu_code_name(code), msg);
}

/* A roll that fails after creating the new segment's .log (here: opening
 * its .index fails) must not leave that file behind: the next, smaller
 * record still fits the old segment and takes the offset the empty file is
 * named after. */
static int64_t put_sized(varve_db *db, size_t vlen, uint8_t fill, int *rc)
{
	uint8_t v[1024];
	memset(v, fill, sizeof v);
	varve_record r;
	memset(&r, 0, sizeof r);
	r.key = "k";
	r.key_len = 1;
	r.value = v;
	r.value_len = vlen;
	r.partition = 0;
	r.timestamp = 1700000000000LL;
	int64_t off = -1;
	*rc = varve_produce(db, "x", &r, NULL, &off);
	return off;
}

static void failed_roll_case(unsigned method, const char *what, const char *path_sub, int clean)
{
	char *dir = fu_fast_tmpdir("failroll");
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o = fault_opts();
	o.segment_bytes = 1024;
	varve_db *db;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "x", NULL), 0);
	int rc;
	int64_t o0 = put_sized(db, 600, 'a', &rc); /* segment 0 */
	cr_assert_eq(rc, 0);
	iof_disarm();
	iof_arm(method, 1, IOF_EIO, 0, path_sub);
	put_sized(db, 600, 'b', &rc); /* needs a roll, which fails */
	long fired = iof_fired();
	iof_disarm();
	cr_assert_eq(fired, 1, "the roll did not reach the %s", what);
	cr_assert_neq(rc, 0, "the append whose roll failed succeeded");
	int64_t o1 = put_sized(db, 10, 'c', &rc); /* fits the old segment */
	if (rc == VARVE_EIO) {
		/* An fsync failure fails the partition until reopen (partition.h
		 * note 3): then the reopened store must simply continue at o0 + 1. */
		varve_close(db);
		cr_assert_eq(varve_open(path, &o, &db), 0, "reopen: %s", varve_last_error()->message);
		int64_t end1 = -1;
		varve_offsets(db, "x", 0, NULL, &end1);
		int64_t on = put_sized(db, 10, 'n', &rc);
		varve_close(db);
		fu_rm_rf(dir);
		free(dir);
		printf("io_errors[failed roll (%s)]: the partition failed (fsync error); after reopen "
		       "end %" PRId64 ", next append at %" PRId64 "\n", what, end1, on);
		cr_assert(end1 == o0 + 1 && on == o0 + 1, "after the failed roll and a reopen: end %" PRId64
			  ", next append at %" PRId64 ", want %" PRId64, end1, on, o0 + 1);
		return;
	}
	cr_assert_eq(rc, 0, "small append after the failed roll: %s", varve_last_error()->message);
	int64_t o2 = put_sized(db, 10, 'd', &rc); /* so does this one */
	cr_assert_eq(rc, 0, "append after: %s", varve_last_error()->message);
	char seg[4200];
	snprintf(seg, sizeof seg, "%s/topics/x/0/%020" PRId64 ".log", path, o1);
	struct stat st;
	int stray = stat(seg, &st) == 0;
	if (clean) {
		cr_assert_eq(varve_close(db), 0);
	} else {
		/* unclean: a copy of the directory while the store is open */
		char cp[4200];
		snprintf(cp, sizeof cp, "%s/copy", dir);
		cr_assert_eq(fu_copy_tree(path, cp), 0);
		varve_close(db);
		snprintf(path, sizeof path, "%s", cp);
	}
	cr_assert_eq(varve_open(path, &o, &db), 0, "reopen: %s", varve_last_error()->message);
	int64_t start, end;
	varve_offsets(db, "x", 0, &start, &end);
	varve_iter *it;
	cr_assert_eq(varve_iter_open(db, "x", 0, 0, &it), 0);
	const varve_record *r;
	int64_t got[8];
	char fills[8];
	size_t n = 0;
	while ((rc = varve_iter_next(it, &r)) == 0 && n < 8) {
		got[n] = r->offset;
		fills[n++] = r->value_len ? ((const char *)r->value)[0] : '?';
	}
	int itrc = rc;
	varve_iter_close(it);
	/* and the next append must take a fresh offset */
	int64_t o3 = put_sized(db, 10, 'e', &rc);
	varve_close(db);
	fu_rm_rf(dir);
	free(dir);
	printf("io_errors[failed roll (%s), %s reopen]: acknowledged %" PRId64 "/%" PRId64 "/%" PRId64
	       ", empty %020" PRId64 ".log %s; after reopen end %" PRId64 ", read %zu records "
	       "(%s), next append got offset %" PRId64 "\n",
	       what, clean ? "clean" : "unclean", o0, o1, o2, o1, stray ? "left behind" : "removed",
	       end, n, fu_code_name(itrc), o3);
	cr_assert_eq(itrc, VARVE_EEND, "iteration: %s", fu_code_name(itrc));
	cr_assert(n == 3 && got[0] == o0 && got[1] == o1 && got[2] == o2 && fills[1] == 'c' &&
		  fills[2] == 'd' && end == o2 + 1 && o3 == o2 + 1,
		  "after a roll failed at the %s, the acknowledged record at offset %" PRId64
		  " is not read back where it was acknowledged or the log end is wrong (read %zu "
		  "records, end offset %" PRId64 ", next append at %" PRId64 ": an offset handed "
		  "out twice). partition.c roll(): vv_segment_create "
		  "(segment.c) leaves the new <base>.log behind when a later step fails (seg_destroy "
		  "unlinks only deleted segments), the partition keeps appending to the old segment "
		  "(a smaller record needs no roll), and recovery takes the stray file's name as the "
		  "old segment's end offset",
		  what, o1, n, end, o3);
}

Test(io_errors, failed_roll_index_open_clean_reopen)
{
	failed_roll_case(IOF_OPEN, "open of the new .index", ".index", 1);
}
Test(io_errors, failed_roll_index_open_unclean_reopen)
{
	failed_roll_case(IOF_OPEN, "open of the new .index", ".index", 0);
}
Test(io_errors, failed_roll_dir_sync)
{
	failed_roll_case(IOF_SYNC_DIR, "directory fsync after the new segment", "/topics/x/0", 1);
}

/* ---- a full disk at the moment a segment rolls ----------------------------------
 * A write that fails with ENOSPC while a roll seals the old segment or makes
 * the new one is not an fsync failure: the append fails with VARVE_ENOSPC
 * (errno ENOSPC), the partition does not fail, appends work again once space
 * is freed (no reopen), close returns 0 and every acknowledged record is
 * there. */
static void enospc_at_roll(unsigned method, const char *path_sub, const char *what)
{
	char *dir = fu_fast_tmpdir("enospcroll");
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o = fault_opts();
	o.segment_bytes = 1024;
	varve_db *db;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "x", NULL), 0);
	int rc;
	int64_t acked[64];
	size_t nacked = 0;
	acked[nacked++] = put_sized(db, 600, 'a', &rc);
	cr_assert_eq(rc, 0);
	iof_disarm();
	iof_arm(method, 1, IOF_ENOSPC, 1, path_sub); /* the disk stays full */
	for (int i = 0; i < 3; i++) {
		put_sized(db, 600, 'b', &rc); /* needs a roll */
		cr_assert_eq(rc, VARVE_ENOSPC, "%s: append %d during a full disk: %s (%s)", what, i,
			     fu_code_name(rc), varve_last_error()->message);
		cr_assert_eq(varve_last_error()->sys_errno, ENOSPC, "%s: errno %d", what,
			     varve_last_error()->sys_errno);
	}
	long fired = iof_fired();
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION };
	cr_assert_eq(varve_partition_info_get(db, "x", 0, &info), 0);
	cr_assert_eq(info.failed, 0, "%s: the partition failed on ENOSPC", what);
	iof_disarm(); /* space is freed */
	cr_assert_geq(fired, 1, "the roll did not reach the %s", what);
	for (int i = 0; i < 8; i++) {
		int64_t off = put_sized(db, 600, (uint8_t)('c' + i), &rc);
		cr_assert_eq(rc, 0, "%s: append %d after space was freed: %s (%s)", what, i,
			     fu_code_name(rc), varve_last_error()->message);
		acked[nacked++] = off;
	}
	rc = varve_close(db);
	cr_assert_eq(rc, 0, "%s: close: %s (%s)", what, fu_code_name(rc), varve_last_error()->message);
	cr_assert_eq(varve_open(path, &o, &db), 0, "reopen: %s", varve_last_error()->message);
	varve_iter *it;
	cr_assert_eq(varve_iter_open(db, "x", 0, 0, &it), 0);
	const varve_record *r;
	size_t n = 0;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		cr_assert(n < nacked && r->offset == acked[n], "%s: record %zu at offset %" PRId64, what,
			  n, r->offset);
		n++;
	}
	cr_assert_eq(rc, VARVE_EEND);
	cr_assert_eq(n, nacked, "%s: %zu of %zu acknowledged records read back", what, n, nacked);
	varve_iter_close(it);
	varve_close(db);
	printf("io_errors[ENOSPC at a roll (%s)]: 3 appends refused with VARVE_ENOSPC, partition not "
	       "failed, %zu acknowledged records read back after 8 appends without a reopen\n",
	       what, nacked);
	fu_rm_rf(dir);
	free(dir);
}

Test(io_errors, enospc_at_roll_index_write)
{
	enospc_at_roll(IOF_PWRITE, "index", "index write of the seal");
}
Test(io_errors, enospc_at_roll_trim) { enospc_at_roll(IOF_TRUNCATE, ".log", "trim of the seal"); }
Test(io_errors, enospc_at_roll_new_segment)
{
	enospc_at_roll(IOF_OPEN, ".log", "create of the new segment");
}
Test(io_errors, enospc_at_roll_new_segment_index)
{
	enospc_at_roll(IOF_OPEN, ".timeindex", "create of the new time index");
}

/* ---- a short write whose clean-up truncate fails --------------------------- */

typedef struct fake_clock {
	volatile int64_t now;
} fake_clock;
static int64_t clock_fn(void *ctx) { return ((fake_clock *)ctx)->now; }

typedef struct acked_rec {
	int64_t offset;
	uint32_t uid;
} acked_rec;

/* Child: appends, suffers the double fault, rolls by time, appends more,
 * reports every acknowledged offset through the pipe and dies without
 * closing (kill -9 of itself: the page cache keeps what was written). */
static void torn_tail_child(const char *path, int fd, int fail_truncate)
{
	fake_clock clk = { 1700000000000LL };
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.io = iof_table();
	o.start_cleaner = 0;
	o.segment_bytes = 1 << 20;
	o.segment_ms = 60000;
	o.clock_fn = clock_fn;
	o.clock_ctx = &clk;
	varve_db *db;
	if (varve_open(path, &o, &db))
		_exit(2);
	if (varve_topic_create(db, "x", NULL))
		_exit(3);
	uint32_t uid = 0;
	for (int i = 0; i < 5; i++, uid++) {
		fu_rec fr;
		fu_rec_make(&fr, uid, 0, 1700000000000LL + uid);
		acked_rec a;
		memset(&a, 0, sizeof a); /* padding too: the struct goes through a pipe */
		a.offset = -1;
		a.uid = uid;
		if (varve_produce(db, "x", &fr.r, NULL, &a.offset) == 0)
			(void)!write(fd, &a, sizeof a);
	}
	/* The next append: half its bytes land, then ENOSPC; the truncate that
	 * should remove the half batch fails too. */
	iof_disarm();
	iof_arm(IOF_PWRITE, 1, IOF_SHORT, 0, ".log");
	if (fail_truncate)
		iof_arm(IOF_TRUNCATE, 1, IOF_EIO, 0, ".log");
	{
		fu_rec fr;
		fu_rec_make(&fr, 1000, 0, 1700000000000LL + 1000);
		int64_t off;
		int rc = varve_produce(db, "x", &fr.r, NULL, &off);
		if (rc == 0)
			_exit(4); /* the fault must surface */
	}
	iof_disarm();
	/* A small record does not cover the half batch. */
	{
		fu_rec fr;
		fu_rec_make(&fr, uid, 0, 1700000000000LL + uid);
		fr.r.value_len = 5;
		fr.r.header_count = 0;
		fr.r.headers = NULL;
		acked_rec a;
		memset(&a, 0, sizeof a); /* padding too: the struct goes through a pipe */
		a.offset = -1;
		a.uid = uid;
		if (varve_produce(db, "x", &fr.r, NULL, &a.offset) == 0) {
			a.uid |= 0x80000000u; /* short variant */
			(void)!write(fd, &a, sizeof a);
		}
		uid++;
	}
	/* An hour later: the next append rolls to a new segment. */
	clk.now += 3600 * 1000;
	for (int i = 0; i < 5; i++, uid++) {
		fu_rec fr;
		fu_rec_make(&fr, uid, 0, 1700000000000LL + uid);
		acked_rec a;
		memset(&a, 0, sizeof a); /* padding too: the struct goes through a pipe */
		a.offset = -1;
		a.uid = uid;
		if (varve_produce(db, "x", &fr.r, NULL, &a.offset) == 0)
			(void)!write(fd, &a, sizeof a);
	}
	varve_partition_info pi = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	varve_partition_info_get(db, "x", 0, &pi);
	acked_rec end;
	memset(&end, 0, sizeof end);
	end.offset = -2;
	end.uid = pi.segments;
	(void)!write(fd, &end, sizeof end);
	close(fd);
	raise(SIGKILL);
}

static void torn_tail(int fail_truncate)
{
	char *dir = fu_tmpdir("torn");
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		torn_tail_child(path, pfd[1], fail_truncate);
		_exit(99);
	}
	close(pfd[1]);
	acked_rec acks[64];
	size_t na = 0;
	uint32_t segs = 0;
	acked_rec a;
	while (read(pfd[0], &a, sizeof a) == (ssize_t)sizeof a) {
		if (a.offset == -2)
			segs = a.uid;
		else if (na < 64)
			acks[na++] = a;
	}
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "child failed before the crash (status 0x%x)", status);
	cr_assert_eq(segs, 2, "the time roll did not happen (%u segments)", segs);
	cr_assert_eq(na, 11, "expected 11 acknowledged appends, got %zu", na);

	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	varve_db *db;
	int rc = varve_open(path, &o, &db);
	cr_assert_eq(rc, 0, "reopen: %s", varve_last_error()->message);
	const varve_recovery_cut *cuts;
	size_t ncuts;
	varve_recovery_cuts(db, &cuts, &ncuts);
	int64_t start, end;
	varve_offsets(db, "x", 0, &start, &end);
	size_t lost = 0;
	char first_lost[256] = "";
	for (size_t i = 0; i < na; i++) {
		varve_iter *it = NULL;
		const varve_record *r = NULL;
		rc = varve_iter_open(db, "x", 0, acks[i].offset, &it);
		if (rc == 0) {
			rc = varve_iter_next(it, &r);
			if (rc == 0 && r->offset != acks[i].offset)
				rc = VARVE_ENOTFOUND;
			if (rc == 0 && fu_rec_uid(r) != (int64_t)(acks[i].uid & 0x7fffffffu))
				rc = VARVE_ECORRUPT;
		}
		if (rc && lost++ == 0)
			snprintf(first_lost, sizeof first_lost, "offset %" PRId64 ": %s", acks[i].offset,
				 fu_code_name(rc));
		if (it)
			varve_iter_close(it);
	}
	printf("io_errors[short write%s, time roll, crash]: %zu acknowledged, %zu lost, %zu "
	       "recovery cuts%s%s, end offset %" PRId64 "\n",
	       fail_truncate ? " + failed truncate" : "", na, lost, ncuts,
	       ncuts ? ": " : "", ncuts ? cuts[0].reason : "", end);
	varve_close(db);
	fu_rm_rf(dir);
	free(dir);
	cr_assert_eq(lost, 0,
		     "%zu of %zu acknowledged records lost after a crash (first: %s). A short write "
		     "left half a batch past the segment's size when the truncate that should remove "
		     "it failed (segment.c vv_segment_append ignores it); the time roll sealed that "
		     "segment, and recovery, scanning from the recovery point, cut the torn batch "
		     "and deleted every later segment.",
		     lost, na, first_lost);
}

Test(io_errors, short_write_then_time_roll_then_crash) { torn_tail(0); }
Test(io_errors, short_write_failed_truncate_then_time_roll_then_crash) { torn_tail(1); }

/* ---- a real full disk --------------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char enospc_mnt[4096];
static void enospc_cleanup(void)
{
	if (enospc_mnt[0])
		(void)sh("umount '%s' 2>/dev/null || umount -l '%s' 2>/dev/null", enospc_mnt, enospc_mnt);
}

static void produce_acked(varve_db *db, fu_ledger *l, int ti, int *rc_out)
{
	size_t i = fu_ledger_add(l, ti, 0, 0);
	l->e[i].ts = 1700000000000LL + l->e[i].uid;
	fu_rec fr;
	fu_rec_make(&fr, l->e[i].uid, 0, l->e[i].ts);
	int32_t p;
	int64_t off;
	int rc = varve_produce(db, l->topics[ti].name, &fr.r, &p, &off);
	if (rc == 0) {
		l->e[i].acked = 1;
		l->e[i].part = p;
		l->e[i].offset = off;
	}
	*rc_out = rc;
}

Test(io_errors, real_enospc_on_loop_ext4, .fini = enospc_cleanup)
{
	if (geteuid() != 0)
		cr_skip_test("real ENOSPC: needs root to mount a loop device (not root)");
	if (sh("command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null && "
	       "command -v mount >/dev/null"))
		cr_skip_test("real ENOSPC: losetup, mkfs.ext4 or mount not available");
	char *dir = fu_tmpdir("enospc");
	char img[4096], mnt[4096], store[4200];
	snprintf(img, sizeof img, "%s/disk.img", dir);
	snprintf(mnt, sizeof mnt, "%s/mnt", dir);
	snprintf(store, sizeof store, "%s/store", mnt);
	mkdir(mnt, 0700);
	if (sh("truncate -s 8M '%s' && mkfs.ext4 -q -F -m 0 '%s' >/dev/null 2>&1", img, img) ||
	    sh("mount -o loop '%s' '%s' 2>/dev/null", img, mnt)) {
		fu_rm_rf(dir);
		cr_skip_test("real ENOSPC: cannot create or loop-mount an ext4 image here");
	}
	snprintf(enospc_mnt, sizeof enospc_mnt, "%s", mnt);

	fu_ledger l;
	fu_ledger_init(&l);
	int F = fu_ledger_topic(&l, "filler", FU_PLAIN, 1);
	int M = fu_ledger_topic(&l, "main", FU_PLAIN, 2);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.segment_bytes = 256 << 10;
	varve_db *db;
	int rc = varve_open(store, &o, &db);
	cr_assert_eq(rc, 0, "open on the loop mount: %s", varve_last_error()->message);
	varve_topic_config c2;
	varve_topic_config_init(&c2, VARVE_TOPIC_CONFIG_VERSION);
	c2.partitions = 2;
	uint64_t free0 = fu_free_bytes(mnt);
	rc = varve_topic_create(db, "filler", NULL);
	cr_assert_eq(rc, 0, "creating a topic on an empty 8 MiB disk (%" PRIu64 " bytes free) "
		     "failed: %s (%s)", free0, fu_code_name(rc), varve_last_error()->message);
	l.topics[F].created = 1;
	rc = varve_topic_create(db, "main", &c2);
	cr_assert_eq(rc, 0, "creating a second topic (%" PRIu64 " bytes free) failed: %s (%s)",
		     fu_free_bytes(mnt), fu_code_name(rc), varve_last_error()->message);
	l.topics[M].created = 1;
	/* ~2 MiB of filler, then main until the disk is full. */
	size_t filler = 0;
	while (filler < 2 * 1024 * 1024 / 200) {
		produce_acked(db, &l, F, &rc);
		cr_assert_eq(rc, 0, "filler append %zu (%" PRIu64 " bytes free): %s (%s)", filler,
			     fu_free_bytes(mnt), fu_code_name(rc), varve_last_error()->message);
		filler++;
	}
	size_t ok = 0, failed = 0, enospc = 0, other = 0;
	int first_err = 0;
	char first_msg[512] = "";
	for (int i = 0; i < 200000 && failed < 50; i++) {
		produce_acked(db, &l, M, &rc);
		if (rc == 0) {
			ok++;
			continue;
		}
		char why[512];
		cr_assert_eq(fu_check_error(rc, "produce on a full disk", why, sizeof why), 0, "%s", why);
		if (!first_err) {
			first_err = rc;
			snprintf(first_msg, sizeof first_msg, "%s", varve_last_error()->message);
		}
		failed++;
		if (rc == VARVE_ENOSPC)
			enospc++;
		else
			other++;
	}
	uint64_t free_now = fu_free_bytes(mnt);
	/* Reads keep working on the full disk. */
	size_t read_full = 0;
	for (uint32_t p = 0; p < 2; p++) {
		varve_iter *it;
		cr_assert_eq(varve_iter_open(db, "main", p, 0, &it), 0);
		const varve_record *r;
		while ((rc = varve_iter_next(it, &r)) == 0)
			read_full++;
		cr_assert_eq(rc, VARVE_EEND, "read on a full disk: %s", varve_last_error()->message);
		varve_iter_close(it);
	}
	rc = varve_close(db);
	int close_rc = rc;
	printf("io_errors[real ENOSPC, 8 MiB ext4]: %zu filler + %zu main appends acknowledged, then "
	       "%zu failures (%zu VARVE_ENOSPC, %zu other; first %s: %s), %" PRIu64 " bytes free, "
	       "%zu records read on the full disk, close %s\n",
	       filler, ok, failed, enospc, other, fu_code_name(first_err), first_msg, free_now,
	       read_full, fu_code_name(close_rc));
	fu_report rep;
	int vr = fu_verify(store, NULL, &l, 0, &rep);
	cr_assert_eq(vr, 0, "after the disk filled up: %s", rep.first_failure);
	/* Free space by deleting the filler topic; appends work again. */
	cr_assert_eq(varve_open(store, &o, &db), 0, "reopen: %s", varve_last_error()->message);
	rc = varve_topic_delete(db, "filler");
	cr_assert_eq(rc, 0, "delete filler: %s", varve_last_error()->message);
	l.topics[F].deleted = 1;
	size_t after = 0;
	for (int i = 0; i < 100; i++) {
		produce_acked(db, &l, M, &rc);
		cr_assert_eq(rc, 0, "append after freeing space: %s (%s)", fu_code_name(rc),
			     varve_last_error()->message);
		after++;
	}
	cr_assert_eq(varve_close(db), 0, "close: %s", varve_last_error()->message);
	vr = fu_verify(store, NULL, &l, 0, &rep);
	printf("io_errors[real ENOSPC]: after deleting the filler topic: %zu more appends; %zu "
	       "acknowledged records verified\n", after, rep.acked_found);
	fu_ledger_free(&l);
	enospc_cleanup();
	enospc_mnt[0] = 0;
	fu_rm_rf(dir);
	free(dir);
	cr_assert_eq(vr, 0, "after freeing space: %s", rep.first_failure);
	cr_assert(ok > 0 && failed > 0, "the disk never filled up");
	cr_assert_eq(first_err, VARVE_ENOSPC, "the first failure on a full disk was %s, not ENOSPC",
		     fu_code_name(first_err));
	cr_assert_eq(other, 0, "%zu appends failed with a code other than VARVE_ENOSPC", other);
}

/* The same on a real full file system, without a reopen: a small ext4 image
 * is filled with a plain file until appends (with rolls every 64 KiB) hit
 * ENOSPC; every failure is VARVE_ENOSPC; the file is removed; appends work
 * again on the same handle; close returns 0; every acknowledged record is
 * there. */
Test(io_errors, real_enospc_heals_without_reopen, .fini = enospc_cleanup)
{
	if (geteuid() != 0)
		cr_skip_test("real ENOSPC: needs root to mount a loop device (not root)");
	if (sh("command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null && "
	       "command -v mount >/dev/null"))
		cr_skip_test("real ENOSPC: losetup, mkfs.ext4 or mount not available");
	char *dir = fu_tmpdir("enospc2");
	char img[4096], mnt[4096], store[4200], filler[4200];
	snprintf(img, sizeof img, "%s/disk.img", dir);
	snprintf(mnt, sizeof mnt, "%s/mnt", dir);
	snprintf(store, sizeof store, "%s/store", mnt);
	snprintf(filler, sizeof filler, "%s/filler", mnt);
	mkdir(mnt, 0700);
	if (sh("truncate -s 8M '%s' && mkfs.ext4 -q -F -m 0 '%s' >/dev/null 2>&1", img, img) ||
	    sh("mount -o loop '%s' '%s' 2>/dev/null", img, mnt)) {
		fu_rm_rf(dir);
		cr_skip_test("real ENOSPC: cannot create or loop-mount an ext4 image here");
	}
	snprintf(enospc_mnt, sizeof enospc_mnt, "%s", mnt);
	fu_ledger l;
	fu_ledger_init(&l);
	int M = fu_ledger_topic(&l, "main", FU_PLAIN, 1);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.segment_bytes = 64 << 10;
	varve_db *db;
	cr_assert_eq(varve_open(store, &o, &db), 0, "open: %s", varve_last_error()->message);
	cr_assert_eq(varve_topic_create(db, "main", NULL), 0);
	l.topics[M].created = 1;
	/* leave about 256 KiB free: a few rolls before the disk is full */
	uint64_t free0 = fu_free_bytes(mnt);
	cr_assert_eq(sh("fallocate -l %" PRIu64 " '%s'", free0 - (256u << 10), filler), 0);
	size_t ok = 0, refused = 0;
	int rc = 0;
	char first_msg[512] = "";
	for (int i = 0; i < 100000 && refused < 20; i++) {
		produce_acked(db, &l, M, &rc);
		if (rc == 0) {
			ok++;
			continue;
		}
		cr_assert_eq(rc, VARVE_ENOSPC, "append %d on a full disk: %s (%s)", i, fu_code_name(rc),
			     varve_last_error()->message);
		cr_assert_eq(varve_last_error()->sys_errno, ENOSPC);
		if (!refused++)
			snprintf(first_msg, sizeof first_msg, "%s", varve_last_error()->message);
	}
	cr_assert_gt(refused, 0, "the disk never filled up");
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION };
	cr_assert_eq(varve_partition_info_get(db, "main", 0, &info), 0);
	cr_assert_eq(info.failed, 0, "the partition failed on a full disk");
	cr_assert_eq(unlink(filler), 0);
	size_t after = 0;
	for (int i = 0; i < 200; i++) {
		produce_acked(db, &l, M, &rc);
		cr_assert_eq(rc, 0, "append %d after freeing space: %s (%s)", i, fu_code_name(rc),
			     varve_last_error()->message);
		after++;
	}
	rc = varve_close(db);
	cr_assert_eq(rc, 0, "close: %s (%s)", fu_code_name(rc), varve_last_error()->message);
	fu_report rep;
	int vr = fu_verify(store, NULL, &l, 0, &rep);
	printf("io_errors[real ENOSPC, no reopen]: %zu appends acknowledged, %zu refused with "
	       "VARVE_ENOSPC (first: %s), partition not failed, %zu more after freeing space, close OK, "
	       "%zu acknowledged records verified\n",
	       ok, refused, first_msg, after, rep.acked_found);
	fu_ledger_free(&l);
	enospc_cleanup();
	enospc_mnt[0] = 0;
	fu_rm_rf(dir);
	free(dir);
	cr_assert_eq(vr, 0, "%s", rep.first_failure);
}

/* varve_group_lag when the committed offset cannot be found (the segment's
 * index cannot be read): an error, and no byte figure made of the later
 * segments alone. */
Test(io_errors, lag_bytes_unknown_when_the_offset_cannot_be_found)
{
	char *dir = fu_fast_tmpdir("lagfind");
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o = fault_opts();
	o.sync_policy = VARVE_SYNC_NONE;
	o.segment_bytes = 4096;
	o.index_interval_bytes = 64;
	varve_db *db = NULL;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	char v[100];
	memset(v, 'v', sizeof v);
	for (int i = 0; i < 200; i++) {
		varve_record r = { .value = v, .value_len = sizeof v, .partition = 0,
				   .timestamp = VARVE_TIMESTAMP_NOW };
		cr_assert_eq(varve_produce(db, "t", &r, NULL, NULL), 0);
	}
	cr_assert_eq(varve_group_commit(db, "g", "t", 0, 5, NULL), 0);
	varve_lag good = { .version = VARVE_LAG_VERSION };
	cr_assert_eq(varve_group_lag(db, "g", "t", 0, &good), 0);
	cr_assert_gt(good.bytes, 0);
	cr_assert_eq(varve_close(db), 0);

	/* reopened: the first segment's index is read on the first lookup */
	cr_assert_eq(varve_open(path, &o, &db), 0);
	iof_disarm();
	iof_arm(IOF_OPEN | IOF_PREAD | IOF_MAP, 1, IOF_EIO, 1, "00000000000000000000.index");
	varve_lag bad = { .version = VARVE_LAG_VERSION };
	int rc = varve_group_lag(db, "g", "t", 0, &bad);
	long fired = iof_fired();
	iof_disarm();
	printf("io_errors[lag, index unreadable]: %s, %ld faults, bytes %" PRIu64 " (%" PRIu64
	       " readable)\n", fu_code_name(rc), fired, bad.bytes, good.bytes);
	cr_assert_gt(fired, 0, "the index was not read");
	cr_assert_neq(rc, 0, "the lag was computed without the index");
	cr_assert_eq(bad.bytes, 0, "an unknown byte lag was reported as %" PRIu64, bad.bytes);
	cr_assert_eq(bad.records, good.records, "the record lag needs no index");
	varve_lag again = { .version = VARVE_LAG_VERSION };
	cr_assert_eq(varve_group_lag(db, "g", "t", 0, &again), 0);
	cr_assert_eq(again.bytes, good.bytes);
	cr_assert_eq(varve_close(db), 0);
	fu_rm_rf(dir);
	free(dir);
}
