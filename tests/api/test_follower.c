/* SPDX-License-Identifier: MIT */
/* API: a reader does not pin what it has passed. A read-only follower that
 * keeps up with a writer whose retention deletes segments holds open at
 * most the segment it is reading, not the deleted files it has read; and a
 * writer-side reader closes sealed segments as it moves on. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "varve.h"

TestSuite(follower, .init = t_setup, .fini = t_teardown, .timeout = 120);

/* Descriptors of this process open on files under dir: all, and deleted. */
static void count_fds(const char *dir, int *open_out, int *deleted_out)
{
	*open_out = *deleted_out = 0;
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	struct dirent *e;
	size_t dl = strlen(dir);
	while ((e = readdir(d))) {
		char link[64], target[PATH_MAX];
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (strncmp(target, dir, dl))
			continue;
		(*open_out)++;
		if (strstr(target, " (deleted)"))
			(*deleted_out)++;
	}
	closedir(d);
}

static void produce_n(varve_db *db, int n, int64_t *seq)
{
	for (int i = 0; i < n; i++) {
		char v[200];
		int l = snprintf(v, sizeof v, "record-%" PRId64 "-%0150d", (*seq)++, 0);
		varve_record r = t_rec("k", 1, v, (size_t)l);
		t_ok(varve_produce(db, "t", &r, NULL, NULL));
	}
}

Test(follower, read_only_follower_does_not_pin_deleted_segments)
{
	const char *dir = t_newpath("store");
	char real[PATH_MAX];
	varve_options o = t_opts();
	o.segment_bytes = 2048;
	varve_db *w = t_open(dir, &o);
	cr_assert_not_null(realpath(dir, real));
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.retention_records = 100;
	t_ok(varve_topic_create(w, "t", &tc));
	int64_t seq = 0;
	produce_n(w, 50, &seq);
	varve_options ro = o;
	ro.read_only = 1;
	varve_db *f = t_open(dir, &ro);
	varve_iter *it;
	t_ok(varve_iter_open(f, "t", 0, 0, &it));
	int64_t read = 0, jumped = 0, worst_deleted = 0, worst_open = 0;
	for (int round = 0; round < 300; round++) {
		produce_n(w, 10, &seq);
		t_ok(varve_clean_now(w, 0));
		const varve_record *r;
		int rc;
		int64_t expect = varve_iter_position(it);
		while ((rc = varve_iter_next(it, &r)) == 0) {
			if (r->offset != expect)
				jumped += r->offset - expect; /* retention passed the follower */
			expect = r->offset + 1;
			read++;
		}
		t_assert_rc(rc, VARVE_EEND);
		int open_fds, deleted;
		count_fds(real, &open_fds, &deleted);
		if (deleted > worst_deleted)
			worst_deleted = deleted;
		if (open_fds > worst_open)
			worst_open = open_fds;
	}
	int open_fds, deleted;
	count_fds(real, &open_fds, &deleted);
	printf("follower: %" PRId64 " records read of %" PRId64 " (%" PRId64 " passed by retention); "
	       "descriptors under the store: at most %" PRId64 " open, %" PRId64 " on deleted files; "
	       "at the end %d open, %d deleted\n",
	       read, seq, jumped, worst_open, worst_deleted, open_fds, deleted);
	/* the segment being read (3 files) may have just been deleted */
	cr_assert_leq(worst_deleted, 3, "the follower pinned %" PRId64 " deleted files", worst_deleted);
	cr_assert_leq(worst_open, 40, "%" PRId64 " descriptors open under the store", worst_open);
	varve_iter_close(it);
	t_close(f);
	t_close(w);
}

/* A writer-side reader that has read past a sealed segment does not keep its
 * files open (they would pin disk space once retention deletes them). */
Test(follower, reader_closes_what_it_passed)
{
	const char *dir = t_newpath("store");
	char real[PATH_MAX];
	varve_options o = t_opts();
	o.segment_bytes = 2048;
	varve_db *w = t_open(dir, &o);
	cr_assert_not_null(realpath(dir, real));
	t_topic(w, "t", 1, VARVE_CODEC_NONE);
	int64_t seq = 0;
	produce_n(w, 400, &seq); /* about 40 segments */
	t_close(w);
	w = t_open(dir, &o); /* no segment file open yet */
	int before, deleted;
	count_fds(real, &before, &deleted);
	varve_iter *it;
	t_ok(varve_iter_open(w, "t", 0, 0, &it));
	const varve_record *r;
	int64_t n = 0;
	int worst = 0;
	while (varve_iter_next(it, &r) == 0) {
		n++;
		int now;
		count_fds(real, &now, &deleted);
		if (now - before > worst)
			worst = now - before;
	}
	cr_assert_eq(n, 400);
	printf("follower: a reader over %" PRId64 " records in ~40 segments held at most %d more "
	       "descriptors\n", n, worst);
	cr_assert_leq(worst, 6, "the reader held %d descriptors open", worst);
	varve_iter_close(it);
	t_close(w);
}

/* Two readers in a segment that retention deletes both read on, every
 * record right, after the first has moved on and released it. (Run by one
 * thread, a file closed under the second reader is reopened by its path,
 * which stays until the last reference: the race of a close under a
 * concurrent pread is what the TSan stress, faults_concurrency, finds.) */
Test(follower, a_reader_moving_on_leaves_a_deleted_segment_open_to_others)
{
	varve_iter *a = NULL, *b = NULL;
	const varve_record *r;
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	o.segment_bytes = 2048;
	varve_db *w = t_open(dir, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.retention_records = 20;
	t_ok(varve_topic_create(w, "t", &tc));
	/* batches of 5: a reader that returned one record of a batch decodes the
	 * next ones from the segment's read mapping */
	static char v[100][160];
	varve_record recs[5];
	for (int i = 0; i < 100; i += 5) {
		for (int j = 0; j < 5; j++) {
			int l = snprintf(v[i + j], sizeof v[i + j], "record-%d-%0140d", i + j, 0);
			recs[j] = t_rec("k", 1, v[i + j], (size_t)l);
			recs[j].partition = 0;
		}
		t_ok(varve_produce_batch(w, "t", recs, 5, NULL));
		if (i == 55) { /* both readers one record into segment 0 */
			t_ok(varve_iter_open(w, "t", 0, 0, &a));
			t_ok(varve_iter_open(w, "t", 0, 0, &b));
			t_ok(varve_iter_next(a, &r));
			t_ok(varve_iter_next(b, &r));
		}
	}
	t_ok(varve_clean_now(w, 0)); /* segment 0 goes, both readers still in it */
	int64_t start, end;
	t_ok(varve_offsets(w, "t", 0, &start, &end));
	cr_assert_gt(start, 20, "retention did not move the log start (%lld)", (long long)start);
	int64_t prev = 0;
	while (varve_iter_position(a) < start) { /* a leaves the deleted segments */
		t_ok(varve_iter_next(a, &r));
		cr_assert_gt(r->offset, prev);
		prev = r->offset;
	}
	prev = 0;
	int rc, n = 0;
	while ((rc = varve_iter_next(b, &r)) == VARVE_OK) {
		cr_assert_gt(r->offset, prev, "offsets out of order");
		char want[160];
		int l = snprintf(want, sizeof want, "record-%lld-%0140d", (long long)r->offset, 0);
		cr_assert(r->value_len == (size_t)l && memcmp(r->value, want, (size_t)l) == 0,
			  "offset %lld: wrong value", (long long)r->offset);
		prev = r->offset;
		n++;
	}
	t_assert_rc(rc, VARVE_EEND);
	cr_assert_gt(n, 10);
	varve_iter_close(a);
	varve_iter_close(b);
	t_close(w);
}
