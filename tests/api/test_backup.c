/* SPDX-License-Identifier: MIT */
/* API: varve_backup. A copy opens clean (no recovery cut, no clamped
 * commit) and holds every record the store held when the backup started;
 * sealed segments are hard links on the same file system and copies on
 * another one (a loop-mounted ext4 image, where root can mount one); a
 * second backup keeps what did not change and removes what retention and
 * compaction removed; a backup killed at any step leaves a destination
 * that varve_open refuses and the next backup finishes; compaction,
 * retention, produce, topic create and delete while a backup runs (made
 * to happen at a chosen step through the progress callback) do not break
 * the copy; a writer appending under sync=always and sync=none with the
 * cleaner running while backups are taken in a loop, from its own handle
 * and from read-only handles. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "varve.h"

TestSuite(backup, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

static varve_options small_opts(int sync)
{
	varve_options o = t_opts();
	o.sync_policy = sync;
	o.segment_bytes = 2048;
	return o;
}

static varve_backup_report backup_ok(varve_db *db, const char *dest, const varve_backup_options *bo)
{
	varve_backup_report r = { VARVE_BACKUP_REPORT_VERSION };
	int rc = varve_backup(db, dest, bo, &r); /* (t_ok evaluates its argument twice) */
	t_ok(rc);
	cr_assert(!t_exists(t_fmt("%s/%s", dest, VARVE_BACKUP_MARKER)), "marker left after success");
	return r;
}

/* Open a copy: no recovery cut, no clamped commit. */
static varve_db *open_copy(const char *dest, int read_only)
{
	varve_options o = t_opts();
	o.read_only = read_only;
	varve_db *db = NULL;
	int rc = varve_open(dest, &o, &db);
	cr_assert_eq(rc, 0, "the copy %s does not open: %s", dest, varve_last_error()->message);
	const varve_recovery_cut *c;
	size_t n;
	t_ok(varve_recovery_cuts(db, &c, &n));
	cr_assert_eq(n, 0, "the copy opened with %zu cuts; first %s/%d: %s", n, n ? c[0].topic : "",
		     n ? c[0].partition : 0, n ? c[0].reason : "");
	return db;
}

/* Produce n records "k<i % keys>" = "<seq>" to topic/part. */
static void fill(varve_db *db, const char *topic, int32_t part, int n, int keys)
{
	for (int i = 0; i < n; i++) {
		char k[32], v[64];
		snprintf(k, sizeof k, "k%d", keys ? i % keys : i);
		snprintf(v, sizeof v, "value-%d-%d-padding-padding-padding", part, i);
		t_produce_to(db, topic, part, k, v, 0);
	}
}

/* The copy's records of topic/part equal the source's at the same offsets,
 * over the copy's whole range (the source must still hold it). */
static void same_records(varve_db *src, varve_db *cp, const char *topic, uint32_t part)
{
	int64_t cs, ce, ss, se;
	t_ok(varve_offsets(cp, topic, (int32_t)part, &cs, &ce));
	t_ok(varve_offsets(src, topic, (int32_t)part, &ss, &se));
	cr_assert_eq(cs, ss, "%s/%u: copy starts at %" PRId64 ", store at %" PRId64, topic, part, cs, ss);
	cr_assert_eq(ce, se, "%s/%u: copy ends at %" PRId64 ", store at %" PRId64, topic, part, ce, se);
	varve_iter *a, *b;
	t_ok(varve_iter_open(cp, topic, (int32_t)part, cs, &a));
	t_ok(varve_iter_open(src, topic, (int32_t)part, cs, &b));
	for (;;) {
		const varve_record *x, *y;
		int ra = varve_iter_next(a, &x), rb = varve_iter_next(b, &y);
		cr_assert_eq(ra, rb, "%s/%u: copy says %d, store says %d", topic, part, ra, rb);
		if (ra == VARVE_EEND)
			break;
		t_ok(ra);
		cr_assert_eq(x->offset, y->offset);
		t_assert_rec_eq(x, y, topic);
	}
	varve_iter_close(a);
	varve_iter_close(b);
}

/* The copy holds exactly the store (which did not change since). */
static void same_store(varve_db *src, const char *dest)
{
	varve_db *cp = open_copy(dest, 1);
	char **ta, **tb;
	size_t na, nb;
	t_ok(varve_topic_list(src, &ta, &na));
	t_ok(varve_topic_list(cp, &tb, &nb));
	cr_assert_eq(na, nb, "store has %zu topics, copy %zu", na, nb);
	for (size_t i = 0; i < na; i++) {
		cr_assert_str_eq(ta[i], tb[i]);
		varve_topic_config x = { VARVE_TOPIC_CONFIG_VERSION }, y = { VARVE_TOPIC_CONFIG_VERSION };
		t_ok(varve_topic_describe(src, ta[i], &x));
		t_ok(varve_topic_describe(cp, ta[i], &y));
		cr_assert_eq(x.partitions, y.partitions);
		cr_assert_eq(x.cleanup_policy, y.cleanup_policy);
		cr_assert_eq(x.retention_records, y.retention_records);
		for (uint32_t p = 0; p < x.partitions; p++)
			same_records(src, cp, ta[i], p);
	}
	varve_strings_free(ta, na);
	varve_strings_free(tb, nb);
	char **ga, **gb;
	t_ok(varve_group_list(src, &ga, &na));
	t_ok(varve_group_list(cp, &gb, &nb));
	cr_assert_eq(na, nb);
	for (size_t i = 0; i < na; i++)
		cr_assert_str_eq(ga[i], gb[i]);
	varve_strings_free(ga, na);
	varve_strings_free(gb, nb);
	varve_close(cp);
}

static int same_inode(const char *a, const char *b)
{
	struct stat x, y;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

/* Segment logs of dest's topic/part that are hard links of the store's. */
static size_t linked_segments(const char *src, const char *dest, const char *topic, uint32_t part,
			      size_t *total)
{
	int64_t bases[512];
	size_t n = t_segments(t_part_dir(dest, topic, part), bases, 512), linked = 0;
	for (size_t i = 0; i < n; i++)
		linked += (size_t)same_inode(t_seg_path(src, topic, part, bases[i], ".log"),
					     t_seg_path(dest, topic, part, bases[i], ".log"));
	*total = n;
	return linked;
}

/* Records of topic/part from its start; with dense, offsets must follow
 * one another. */
static int64_t count_records(varve_db *db, const char *topic, uint32_t part, int dense)
{
	int64_t start, n = 0;
	t_ok(varve_offsets(db, topic, (int32_t)part, &start, NULL));
	varve_iter *it;
	t_ok(varve_iter_open(db, topic, (int32_t)part, start, &it));
	const varve_record *r;
	int rc;
	int64_t want = start;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		if (dense)
			cr_assert_eq(r->offset, want, "%s/%u: offset %" PRId64 " after %" PRId64, topic,
				     part, r->offset, want - 1);
		want = r->offset + 1;
		n++;
	}
	t_assert_rc(rc, VARVE_EEND);
	varve_iter_close(it);
	return n;
}

/* A store with two topics, several segments each, a compacted topic and
 * group commits. */
static varve_db *sample_store(const char *dir, int sync)
{
	varve_options o = small_opts(sync);
	varve_db *db = t_open(dir, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = 3;
	t_ok(varve_topic_create(db, "a", &tc));
	tc.partitions = 1;
	tc.cleanup_policy = VARVE_CLEANUP_COMPACT;
	t_ok(varve_topic_create(db, "kv", &tc));
	for (int32_t p = 0; p < 3; p++)
		fill(db, "a", p, 60 + 10 * p, 0);
	fill(db, "kv", 0, 120, 7);
	t_ok(varve_group_commit(db, "g", "a", 0, 30, NULL));
	t_ok(varve_group_commit(db, "g", "kv", 0, 100, "meta"));
	return db;
}

/* ---- full backup ----------------------------------------------------------- */

Test(backup, full_copy_opens_clean_links_sealed_segments_and_holds_everything)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_ALWAYS);
	varve_backup_report r = backup_ok(db, dest, NULL);
	cr_assert_eq(r.topics, 2);
	cr_assert_eq(r.partitions, 5, "3 + 1 partitions and the metadata log, got %u", r.partitions);
	cr_assert_gt(r.segments_linked, 0);
	cr_assert_gt(r.segments_copied, 0, "the active segments are copied");
	cr_assert_eq(r.segments_kept + r.segments_appended + r.segments_removed, 0);
	cr_assert_eq(r.repaired, 0);
	size_t total, linked = linked_segments(src, dest, "a", 1, &total);
	cr_assert_gt(total, 2, "a/1 should have several segments");
	cr_assert_eq(linked, total - 1, "every sealed segment of a/1 is a link (%zu of %zu)", linked,
		     total);
	int64_t bases[512];
	size_t n = t_segments(t_part_dir(dest, "a", 1), bases, 512);
	cr_assert(!same_inode(t_seg_path(src, "a", 1, bases[n - 1], ".log"),
			      t_seg_path(dest, "a", 1, bases[n - 1], ".log")),
		  "the active segment must never be a link: the writer appends to it");
	cr_assert(t_exists(t_fmt("%s/CLEAN", dest)));
	same_store(db, dest);
	/* the copy works as a store: a writer opens it and appends */
	varve_db *cp = open_copy(dest, 0);
	int64_t off = t_produce_to(cp, "a", 1, "x", "y", 0);
	int64_t end;
	t_ok(varve_offsets(db, "a", 1, NULL, &end));
	cr_assert_eq(off, end);
	int64_t g;
	t_ok(varve_group_offset(cp, "g", "kv", 0, &g));
	cr_assert_eq(g, 100);
	t_close(cp);
	/* ...and the store is untouched by that (the link was not appended to) */
	varve_db *again = open_copy(src, 1);
	same_records(db, again, "a", 1);
	varve_close(again);
	t_close(db);
}

/* A closed store's last segment ends exactly at its data (no preallocated
 * tail to tell it apart): still a copy, since the next writer appends to
 * it. Read-only handles back up a closed store as well. */
Test(backup, the_last_segment_is_copied_even_when_it_looks_sealed)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	t_close(db);
	varve_options o = t_opts();
	o.read_only = 1;
	db = t_open(src, &o);
	backup_ok(db, dest, NULL);
	int64_t bases[512];
	size_t n = t_segments(t_part_dir(src, "a", 2), bases, 512);
	const char *last = t_seg_path(src, "a", 2, bases[n - 1], ".log");
	uint64_t pos[256], end;
	t_batch_positions(last, pos, 256, &end);
	cr_assert_eq(t_fsize(last), (int64_t)end, "the closed store's last segment has a tail: the "
		     "test proves nothing");
	cr_assert(!same_inode(last, t_seg_path(dest, "a", 2, bases[n - 1], ".log")));
	size_t total;
	cr_assert_eq(linked_segments(src, dest, "a", 2, &total), total - 1);
	same_store(db, dest);
	t_close(db);
}

/* A read-only handle sizes sealed segments by their files; a writer that
 * is rolling has not yet cut the zeros preallocated after the last batch of
 * the segment it seals. Those zeros are not copied (nor linked). */
Test(backup, zeros_after_a_sealed_segment_are_not_copied)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	int64_t want = count_records(db, "a", 0, 1);
	t_close(db);
	int64_t bases[512];
	size_t n = t_segments(t_part_dir(src, "a", 0), bases, 512);
	cr_assert_gt(n, 2);
	const char *sealed = t_seg_path(src, "a", 0, bases[1], ".log");
	int64_t data = t_fsize(sealed);
	t_append_zeros(sealed, 65536 - (size_t)data);
	varve_options o = t_opts();
	o.read_only = 1;
	db = t_open(src, &o);
	varve_backup_report r = backup_ok(db, dest, NULL);
	t_close(db);
	cr_assert_eq(t_fsize(t_seg_path(dest, "a", 0, bases[1], ".log")), data);
	cr_assert(!same_inode(sealed, t_seg_path(dest, "a", 0, bases[1], ".log")));
	cr_assert_gt(r.segments_linked, 0, "the other sealed segments are linked");
	varve_db *cp = open_copy(dest, 1);
	cr_assert_eq(count_records(cp, "a", 0, 1), want);
	varve_close(cp);
}

Test(backup, copy_only_shares_no_file_with_the_store)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.copy_only = 1;
	varve_backup_report r = backup_ok(db, dest, &bo);
	cr_assert_eq(r.segments_linked, 0);
	cr_assert_eq(r.bytes_linked, 0);
	cr_assert_gt(r.segments_copied, 4);
	cr_assert_geq(r.bytes_copied, r.bytes_total);
	for (uint32_t p = 0; p < 3; p++) {
		size_t total;
		cr_assert_eq(linked_segments(src, dest, "a", p, &total), 0);
	}
	same_store(db, dest);
	t_close(db);
}

/* ---- incremental ------------------------------------------------------------ */

Test(backup, incremental_keeps_unchanged_segments_and_removes_what_retention_removed)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_options o = small_opts(VARVE_SYNC_NONE);
	varve_db *db = t_open(src, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.retention_records = 300;
	t_ok(varve_topic_create(db, "r", &tc));
	fill(db, "r", 0, 300, 0);
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.copy_only = 1; /* kept copies must be recognized by content, not by inode */
	varve_backup_report r1 = backup_ok(db, dest, &bo);
	int64_t first[512];
	size_t n1 = t_segments(t_part_dir(dest, "r", 0), first, 512);
	cr_assert_gt(n1, 3);
	fill(db, "r", 0, 100, 0);
	t_ok(varve_clean_now(db, 0));
	int64_t start;
	t_ok(varve_offsets(db, "r", 0, &start, NULL));
	cr_assert_gt(start, first[1], "retention should have removed the first segments");
	varve_backup_report r2 = backup_ok(db, dest, &bo);
	cr_assert_gt(r2.segments_removed, 0);
	cr_assert_gt(r2.segments_kept + r2.segments_appended, 0, "nothing was kept");
	cr_assert_lt(r2.bytes_copied, r2.bytes_total, "an incremental backup copied everything");
	cr_assert(!t_exists(t_seg_path(dest, "r", 0, first[0], ".log")),
		  "a segment retention removed is still in the copy");
	same_store(db, dest);
	/* nothing changed: a third backup writes (almost) nothing */
	varve_backup_report r3 = backup_ok(db, dest, &bo);
	cr_assert_eq(r3.segments_copied + r3.segments_appended + r3.segments_removed, 0);
	cr_assert_lt(r3.bytes_copied, 4096, "%" PRIu64 " bytes written for nothing new",
		     r3.bytes_copied);
	(void)r1;
	same_store(db, dest);
	t_close(db);
}

/* Is every segment base of a also one of b? */
static int bases_within(const int64_t *a, size_t na, const int64_t *b, size_t nb)
{
	for (size_t i = 0; i < na; i++) {
		int found = 0;
		for (size_t k = 0; k < nb && !found; k++)
			found = a[i] == b[k];
		if (!found)
			return 0;
	}
	return 1;
}

Test(backup, incremental_follows_compaction_and_linked_segments_stay_links)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	backup_ok(db, dest, NULL);
	int64_t before[512], after[512], copied[512];
	size_t nb = t_segments(t_part_dir(dest, "kv", 0), before, 512);
	/* compaction empties most segments; a second round merges them */
	fill(db, "kv", 0, 200, 7);
	t_ok(varve_clean_now(db, 1));
	fill(db, "kv", 0, 60, 7);
	t_ok(varve_clean_now(db, 1));
	size_t na = t_segments(t_part_dir(src, "kv", 0), after, 512);
	cr_assert(!bases_within(before, nb, after, na), "compaction merged no segment the first "
		  "backup copied: the test proves nothing");
	varve_backup_report r = backup_ok(db, dest, NULL);
	cr_assert_gt(r.segments_kept, 0, "the unchanged links of topic a are kept");
	cr_assert_gt(r.segments_removed, 0, "segments compaction merged are removed");
	size_t nc = t_segments(t_part_dir(dest, "kv", 0), copied, 512);
	cr_assert_eq(nc, na);
	cr_assert(bases_within(copied, nc, after, na));
	size_t total;
	cr_assert_gt(linked_segments(src, dest, "kv", 0, &total), 0);
	same_store(db, dest);
	t_close(db);
}

/* ---- changes at a chosen step ---------------------------------------------- */

typedef struct step_ctx {
	varve_db *db;
	const char *topic; /* act at the first progress call for this topic */
	int (*act)(struct step_ctx *s);
	int done, rc, calls;
	uint32_t last_total;
	uint64_t last_segments;
	int monotonic, ended;
	int64_t produced_at;
} step_ctx;

static void on_step(void *ctx, const varve_backup_progress *p)
{
	step_ctx *s = ctx;
	s->calls++;
	if (p->segments_done < s->last_segments)
		s->monotonic = 0;
	s->last_segments = p->segments_done;
	s->last_total = p->partitions_total;
	if (!p->topic) {
		s->ended++;
		return;
	}
	if (!s->done && s->act && !strcmp(p->topic, s->topic)) {
		s->done = 1;
		s->rc = s->act(s);
	}
}


static int compact_now(step_ctx *s) { return varve_clean_now(s->db, 1); }

Test(backup, compaction_after_the_listing_copies_the_listed_version)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	int64_t before = count_records(db, "kv", 0, 1);
	step_ctx s = { .db = db, .topic = "kv", .act = compact_now, .monotonic = 1 };
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.progress_fn = on_step;
	bo.progress_ctx = &s;
	backup_ok(db, dest, &bo);
	t_ok(s.rc);
	cr_assert(s.done);
	cr_assert_lt(count_records(db, "kv", 0, 0), before, "compaction did not run: the test "
		     "proves nothing");
	/* the copy holds the segments as listed, before compaction: dense */
	varve_db *cp = open_copy(dest, 1);
	cr_assert_eq(count_records(cp, "kv", 0, 1), before);
	varve_close(cp);
	/* no segment of the copy overlaps another (a mix of old and new) */
	cp = open_copy(dest, 0);
	t_close(cp);
	backup_ok(db, dest, NULL);
	same_store(db, dest);
	t_close(db);
}

/* Through a read-only handle (another process's view, as `varve backup`
 * has): the writer compacts after the view listed the segments; the view
 * sees the new files under the old names and lists the partition again. */
Test(backup, compaction_under_a_read_only_view_lists_again)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	fill(db, "kv", 0, 100, 7);
	/* closed and opened again: the recovery point is at the end, so a view
	 * opens no sealed segment before it copies it */
	t_close(db);
	varve_options o = small_opts(VARVE_SYNC_NONE);
	db = t_open(src, &o);
	fill(db, "kv", 0, 10, 7);
	o.read_only = 1;
	varve_db *ro = t_open(src, &o);
	step_ctx s = { .db = db, .topic = "kv", .act = compact_now, .monotonic = 1 };
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.progress_fn = on_step;
	bo.progress_ctx = &s;
	varve_backup_report r = backup_ok(ro, dest, &bo);
	t_ok(s.rc);
	cr_assert_geq(r.partition_retries, 1, "the swap under the view went unnoticed");
	t_close(ro);
	same_store(db, dest);
	t_close(db);
}

static int retention_now(step_ctx *s) { return varve_clean_now(s->db, 0); }

Test(backup, retention_after_the_listing_copies_what_was_listed)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_options o = small_opts(VARVE_SYNC_NONE);
	varve_db *db = t_open(src, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.retention_records = 100;
	t_ok(varve_topic_create(db, "r", &tc));
	fill(db, "r", 0, 400, 0);
	step_ctx s = { .db = db, .topic = "r", .act = retention_now, .monotonic = 1 };
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.progress_fn = on_step;
	bo.progress_ctx = &s;
	backup_ok(db, dest, &bo);
	t_ok(s.rc);
	int64_t start;
	t_ok(varve_offsets(db, "r", 0, &start, NULL));
	cr_assert_gt(start, 0, "retention did not run: the test proves nothing");
	varve_db *cp = open_copy(dest, 1);
	int64_t cstart;
	t_ok(varve_offsets(cp, "r", 0, &cstart, NULL));
	cr_assert_eq(cstart, 0, "the copy lost what retention removed after the listing");
	cr_assert_eq(count_records(cp, "r", 0, 1), 400);
	varve_close(cp);
	t_close(db);
}

static int delete_and_create(step_ctx *s)
{
	int rc = varve_topic_delete(s->db, "gone");
	if (rc == 0)
		rc = varve_topic_create(s->db, "late", NULL);
	for (int i = 0; rc == 0 && i < 5; i++)
		rc = varve_produce(s->db, "late", &(varve_record){ .value = "v", .value_len = 1 },
				   NULL, NULL);
	/* data and a commit past what the metadata copy saw: not in the copy */
	for (int i = 0; rc == 0 && i < 5; i++)
		rc = varve_produce(s->db, "a", &(varve_record){ .value = "w", .value_len = 1,
							       .partition = 0 }, NULL, NULL);
	int64_t end = 0;
	if (rc == 0)
		rc = varve_offsets(s->db, "a", 0, NULL, &end);
	if (rc == 0)
		rc = varve_group_commit(s->db, "g", "a", 0, end, NULL);
	s->produced_at = end;
	return rc;
}

Test(backup, topics_deleted_or_created_during_the_backup)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	t_topic(db, "gone", 2, VARVE_CODEC_NONE);
	fill(db, "gone", 1, 30, 0);
	step_ctx s = { .db = db, .topic = "a", .act = delete_and_create, .monotonic = 1 };
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.progress_fn = on_step;
	bo.progress_ctx = &s;
	varve_backup_report r = backup_ok(db, dest, &bo);
	t_ok(s.rc);
	cr_assert_eq(r.topics_vanished, 1);
	cr_assert_eq(r.topics, 2);
	cr_assert(!t_exists(t_fmt("%s/topics/gone", dest)));
	varve_db *cp = open_copy(dest, 0);
	varve_topic_config c = { VARVE_TOPIC_CONFIG_VERSION };
	t_assert_rc(varve_topic_describe(cp, "gone", &c), VARVE_ENOTFOUND);
	t_assert_rc(varve_topic_describe(cp, "late", &c), VARVE_ENOTFOUND);
	int64_t g, end;
	t_ok(varve_group_offset(cp, "g", "a", 0, &g));
	t_ok(varve_offsets(cp, "a", 0, NULL, &end));
	cr_assert_leq(g, end);
	cr_assert_eq(g, 30, "the commit made after the metadata copy is not in the copy");
	t_close(cp);
	/* the next backup catches up */
	backup_ok(db, dest, NULL);
	same_store(db, dest);
	t_close(db);
}

static int add_partitions(step_ctx *s)
{
	int rc = varve_topic_add_partitions(s->db, "a", 5);
	for (int i = 0; rc == 0 && i < 5; i++)
		rc = varve_produce(s->db, "a", &(varve_record){ .value = "n", .value_len = 1,
							       .partition = 4 }, NULL, NULL);
	return rc;
}

/* The log start moved inside a segment (varve_delete_records) is the
 * copy's; partitions added after the metadata copy come with the next
 * backup. */
Test(backup, deleted_records_and_added_partitions)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	int64_t start;
	t_ok(varve_delete_records(db, "a", 1, 37, &start));
	cr_assert_eq(start, 37);
	step_ctx s = { .db = db, .topic = "kv", .act = add_partitions, .monotonic = 1 };
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.progress_fn = on_step;
	bo.progress_ctx = &s;
	backup_ok(db, dest, &bo);
	t_ok(s.rc);
	varve_db *cp = open_copy(dest, 1);
	int64_t cs;
	t_ok(varve_offsets(cp, "a", 1, &cs, NULL));
	cr_assert_eq(cs, 37);
	varve_topic_config c = { VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(cp, "a", &c));
	cr_assert_eq(c.partitions, 3, "partitions added after the metadata copy are not in it");
	varve_close(cp);
	cr_assert(!t_exists(t_fmt("%s/topics/a/3", dest)));
	varve_backup_report r = backup_ok(db, dest, NULL);
	cr_assert_eq(r.partitions, 7);
	same_store(db, dest);
	t_close(db);
}

Test(backup, progress_reports_every_partition_and_the_end)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	step_ctx s = { .monotonic = 1 };
	varve_backup_options bo;
	t_ok(varve_backup_options_init(&bo, VARVE_BACKUP_OPTIONS_VERSION));
	bo.progress_fn = on_step;
	bo.progress_ctx = &s;
	varve_backup_report r = backup_ok(db, dest, &bo);
	cr_assert_eq(s.ended, 1);
	cr_assert_eq(s.last_total, 5);
	cr_assert(s.monotonic);
	cr_assert_eq(s.last_segments, r.segments_linked + r.segments_copied);
	cr_assert_geq((uint64_t)s.calls, 5 + s.last_segments);
	t_close(db);
}

/* ---- the destination --------------------------------------------------------- */

Test(backup, refuses_the_store_itself_and_what_is_not_a_backup)
{
	const char *src = t_newpath("store");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	t_snap *before = t_snapshot(src);
	t_assert_rc(varve_backup(db, src, NULL, NULL), VARVE_EINVAL);
	t_assert_rc(varve_backup(db, t_fmt("%s/topics/x", src), NULL, NULL), VARVE_EINVAL);
	t_assert_rc(varve_backup(db, t_fmt("%s/topics/a/0/deeper", src), NULL, NULL), VARVE_EINVAL);
	char why[512];
	t_snap *after = t_snapshot(src);
	cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0, "the store changed: %s", why);
	t_snap_free(after);
	t_snap_free(before);
	const char *other = t_newpath("other");
	mkdir(other, 0700);
	t_write_file(t_fmt("%s/precious", other), "x", 1);
	before = t_snapshot(other);
	t_assert_rc(varve_backup(db, other, NULL, NULL), VARVE_EEXISTS);
	after = t_snapshot(other);
	cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0, "%s changed: %s", other, why);
	t_snap_free(after);
	t_snap_free(before);
	/* a store that is open as a writer: its LOCK is held */
	const char *dest = t_newpath("copy");
	backup_ok(db, dest, NULL);
	varve_db *cp = open_copy(dest, 0);
	t_assert_rc(varve_backup(db, dest, NULL, NULL), VARVE_ELOCKED);
	t_close(cp);
	/* arguments */
	varve_backup_options bad = VARVE_BACKUP_OPTIONS_INIT;
	bad.version = 99;
	t_assert_rc(varve_backup(db, dest, &bad, NULL), VARVE_EINVAL);
	varve_backup_report nover = { 0 };
	t_assert_rc(varve_backup(db, dest, NULL, &nover), VARVE_EINVAL);
	t_assert_rc(varve_backup(NULL, dest, NULL, NULL), VARVE_EINVAL);
	t_assert_rc(varve_backup(db, "", NULL, NULL), VARVE_EINVAL);
	t_assert_rc(varve_backup_options_init(&bad, 7), VARVE_EINVAL);
	t_close(db);
}

Test(backup, open_refuses_a_store_marked_incomplete)
{
	const char *src = t_newpath("store");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	t_close(db);
	t_write_file(t_fmt("%s/%s", src, VARVE_BACKUP_MARKER), "", 0);
	for (int ro = 0; ro < 2; ro++) {
		varve_options o = t_opts();
		o.read_only = ro;
		t_assert_rc(varve_open(src, &o, &db), VARVE_EFORMAT);
		cr_assert(strstr(varve_last_error()->message, "incomplete backup: run the backup again"),
			  "message: %s", varve_last_error()->message);
	}
	t_unlink(t_fmt("%s/%s", src, VARVE_BACKUP_MARKER));
	db = open_copy(src, 0);
	t_close(db);
}

Test(backup, preallocated_space_is_never_copied)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_options o = t_opts();
	o.use_mmap = 1;
	o.segment_bytes = 1 << 20;
	varve_db *db = t_open(src, &o);
	t_topic(db, "m", 1, VARVE_CODEC_NONE);
	fill(db, "m", 0, 20, 0);
	const char *slog = t_seg_path(src, "m", 0, 0, ".log");
	const char *dlog = t_seg_path(dest, "m", 0, 0, ".log");
	uint64_t pos[64], end;
	t_batch_positions(slog, pos, 64, &end);
	cr_assert_gt(t_fsize(slog), (int64_t)end, "no preallocated tail in the store: the test "
		     "proves nothing");
	backup_ok(db, dest, NULL);
	uint64_t dend;
	cr_assert_eq(t_batch_positions(dlog, pos, 64, &dend), 20);
	cr_assert_eq(dend, end);
	cr_assert_eq(t_fsize(dlog), (int64_t)end, "the copy holds %" PRId64 " bytes, data is %" PRIu64,
		     t_fsize(dlog), end);
	same_store(db, dest);
	t_close(db);
}

/* ---- killed backups ------------------------------------------------------------ */

typedef struct kill_ctx {
	const char *src, *dest;
	int kill_at, calls, writer;
} kill_ctx;

static void kill_step(void *ctx, const varve_backup_progress *p)
{
	(void)p;
	kill_ctx *k = ctx;
	if (++k->calls == k->kill_at)
		raise(SIGKILL);
}

/* In a child: back up src into dest, SIGKILLed at progress call kill_at. */
static int backup_child(void *arg)
{
	kill_ctx *k = arg;
	varve_options o = t_opts();
	o.read_only = !k->writer;
	varve_db *db;
	if (varve_open(k->src, &o, &db))
		return 10;
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.progress_fn = kill_step;
	bo.progress_ctx = k;
	int rc = varve_backup(db, k->dest, &bo, NULL);
	varve_close(db);
	return rc ? 11 : 0;
}

static void assert_refused(const char *dest)
{
	cr_assert(t_exists(t_fmt("%s/%s", dest, VARVE_BACKUP_MARKER)));
	varve_options o = t_opts();
	o.read_only = 1;
	varve_db *db;
	t_assert_rc(varve_open(dest, &o, &db), VARVE_EFORMAT);
	o.read_only = 0;
	t_assert_rc(varve_open(dest, &o, &db), VARVE_EFORMAT);
}

/* Kill a backup at progress call 1, 2, 4, ... until one finishes; after
 * each kill the destination is refused, and a backup finishes it. */
static void kill_sweep(const char *src, varve_db *check, int fresh, int writer)
{
	const char *dest = t_newpath("copy");
	if (!fresh)
		backup_ok(check, dest, NULL);
	for (int at = 1, killed = 1; killed; at += at < 4 ? 1 : 3) {
		if (fresh)
			t_rm_rf(dest);
		kill_ctx k = { src, dest, at, 0, writer && fresh };
		int st = t_run_child(backup_child, &k);
		killed = st == -SIGKILL;
		cr_assert(killed || st == 0, "backup child (kill at %d) ended with %d", at, st);
		if (!killed)
			break;
		assert_refused(dest);
		varve_backup_report r = backup_ok(check, dest, NULL);
		cr_assert_eq(r.repaired, 1);
		same_store(check, dest);
		if (!fresh) /* more to copy for the next round */
			fill(check, "a", at % 3, 15, 0);
	}
}

Test(backup, killed_full_backups_are_refused_then_finished, .timeout = 90)
{
	const char *src = t_newpath("store");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	t_close(db);
	varve_options o = t_opts();
	o.read_only = 1;
	db = t_open(src, &o);
	/* the children open the store as its writer, then die */
	kill_sweep(src, db, 1, 1);
	t_close(db);
}

Test(backup, killed_incremental_backups_are_refused_then_finished, .timeout = 90)
{
	const char *src = t_newpath("store");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	/* the children open the store read-only beside this writer */
	kill_sweep(src, db, 0, 0);
	t_close(db);
}

Test(backup, damaged_leftovers_of_a_killed_backup_are_replaced)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	varve_backup_options bo = VARVE_BACKUP_OPTIONS_INIT;
	bo.copy_only = 1; /* damage the copy, never the store through a link */
	backup_ok(db, dest, &bo);
	fill(db, "a", 0, 40, 0);
	fill(db, "a", 2, 40, 0);
	int64_t bases[512];
	size_t n0 = t_segments(t_part_dir(dest, "a", 0), bases, 512);
	/* a: a tail cut half-way (a killed append), b: a tail with garbage
	 * (a torn write), c: a stray file */
	const char *cut = t_seg_path(dest, "a", 0, bases[n0 - 1], ".log");
	t_truncate(cut, (uint64_t)t_fsize(cut) / 2);
	size_t n2 = t_segments(t_part_dir(dest, "a", 2), bases, 512);
	const char *torn = t_seg_path(dest, "a", 2, bases[n2 - 1], ".log");
	t_append_garbage(torn, 300, 7);
	t_write_file(t_fmt("%s/topics/a/1/00000000000000099999.log", dest), "junk", 4);
	t_write_file(t_fmt("%s/%s", dest, VARVE_BACKUP_MARKER), "", 0);
	varve_backup_report r = backup_ok(db, dest, &bo);
	cr_assert_eq(r.repaired, 1);
	cr_assert_gt(r.segments_appended, 0, "the half-cut tail should be appended to");
	cr_assert(!t_exists(t_fmt("%s/topics/a/1/00000000000000099999.log", dest)));
	same_store(db, dest);
	t_close(db);
}

/* ---- another file system ------------------------------------------------------- */

static char loop_mnt[4200];

static void loop_cleanup(void)
{
	if (loop_mnt[0]) {
		char cmd[4400];
		/* lazy: a failed assertion may leave a handle open on it */
		snprintf(cmd, sizeof cmd, "umount -l '%s' 2>/dev/null", loop_mnt);
		if (system(cmd) != 0)
			fprintf(stderr, "test_backup: could not unmount %s\n", loop_mnt);
		loop_mnt[0] = 0;
	}
	t_teardown();
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

Test(backup, another_file_system_gets_copies, .fini = loop_cleanup)
{
	if (geteuid() != 0)
		cr_skip_test("second file system: needs root to mount a loop device (not root)");
	if (sh("command -v mkfs.ext4 >/dev/null && command -v mount >/dev/null"))
		cr_skip_test("second file system: mkfs.ext4 or mount not available");
	const char *dir = t_tmpdir();
	char img[4096];
	snprintf(img, sizeof img, "%s/disk.img", dir);
	snprintf(loop_mnt, sizeof loop_mnt, "%s/mnt", dir);
	mkdir(loop_mnt, 0700);
	if (sh("truncate -s 32M '%s' && mkfs.ext4 -q -F -m 0 '%s' >/dev/null 2>&1", img, img) ||
	    sh("mount -o loop '%s' '%s' 2>/dev/null", img, loop_mnt)) {
		loop_mnt[0] = 0;
		cr_skip_test("second file system: cannot create or loop-mount an ext4 image here");
	}
	const char *src = t_newpath("store");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	/* the mount point holds lost+found: still an acceptable destination */
	varve_backup_report r = backup_ok(db, loop_mnt, NULL);
	cr_assert_eq(r.segments_linked, 0, "hard links across file systems?");
	cr_assert_gt(r.segments_copied, 4);
	same_store(db, loop_mnt);
	fill(db, "a", 1, 50, 0);
	r = backup_ok(db, loop_mnt, NULL);
	cr_assert_gt(r.segments_kept, 0);
	cr_assert_eq(r.segments_linked, 0);
	same_store(db, loop_mnt);
	t_close(db);
}

/* ---- the command line ---------------------------------------------------------------- */

/* The varve tool of this build (tools/varve beside tests/), or NULL. */
static const char *varve_tool(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return NULL;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	const char *tool = t_fmt("%s/../tools/varve", self);
	return access(tool, X_OK) == 0 ? tool : NULL;
}

/* Run the tool (env -u VARVE_DIR); its exit code, stdout in *out. */
static int run_tool(const char *tool, char **out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_tool(const char *tool, char **out, const char *fmt, ...)
{
	char args[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	const char *o = t_fmt("%s/out", t_tmpdir());
	int st = sh("env -u VARVE_DIR '%s' %s >'%s' 2>/dev/null", tool, args, o);
	size_t n;
	*out = (char *)t_read_file(o, &n);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(backup, command_line_beside_a_writer)
{
	const char *tool = varve_tool();
	if (!tool)
		cr_skip_test("the varve tool is not built (-Dtools=false)");
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_db *db = sample_store(src, VARVE_SYNC_NONE);
	char *out;
	cr_assert_eq(run_tool(tool, &out, "backup '%s' '%s'", src, dest), 0, "%s", out);
	cr_assert(strstr(out, "2 topics, 5 partitions"), "%s", out);
	free(out);
	cr_assert_eq(run_tool(tool, &out, "-d '%s' verify", dest), 0, "%s", out);
	free(out);
	same_store(db, dest);
	fill(db, "a", 2, 40, 0);
	cr_assert_eq(run_tool(tool, &out, "-d '%s' backup --json '%s'", src, dest), 0, "%s", out);
	cr_assert(out[0] == '{' && strstr(out, "\"repaired\":false}"), "%s", out);
	cr_assert(!strstr(out, "\"segments_kept\":0,"), "nothing kept: %s", out);
	free(out);
	same_store(db, dest);
	cr_assert_eq(run_tool(tool, &out, "backup '%s'", dest), 2, "no store: usage");
	free(out);
	cr_assert_eq(run_tool(tool, &out, "backup '%s' '%s' extra", src, dest), 2);
	free(out);
	cr_assert_eq(run_tool(tool, &out, "backup '%s' '%s/topics'", src, src), 1);
	free(out);
	varve_db *cp = open_copy(dest, 0);
	cr_assert_eq(run_tool(tool, &out, "backup '%s' '%s'", src, dest), 1, "into an open store");
	free(out);
	t_close(cp);
	t_close(db);
}

/* ---- a writer appending while backups run ------------------------------------------ */

#define LOOP_PARTS 2
#define LOOP_KEYS 40

typedef struct writer {
	varve_db *db;
	_Atomic int stop;
	_Atomic int64_t acked[LOOP_PARTS]; /* offsets below are acknowledged */
	_Atomic int64_t kv_acked;
	int failed;
	char why[256];
} writer;

static void *write_loop(void *arg)
{
	writer *w = arg;
	int64_t n[LOOP_PARTS] = { 0 }, kv = 0;
	for (uint64_t i = 0; !atomic_load(&w->stop) && !w->failed; i++) {
		int32_t p = (int32_t)(i % LOOP_PARTS);
		char v[32], k[16];
		snprintf(v, sizeof v, "%" PRId64, n[p]);
		varve_record rec = { .value = v, .value_len = strlen(v), .partition = p };
		int64_t off;
		int rc = varve_produce(w->db, "log", &rec, NULL, &off);
		if (rc || off != n[p]) {
			snprintf(w->why, sizeof w->why, "log/%d: rc %d, offset %" PRId64 " for %" PRId64,
				 p, rc, off, n[p]);
			w->failed = 1;
			break;
		}
		atomic_store(&w->acked[p], ++n[p]);
		snprintf(k, sizeof k, "k%d", (int)(kv % LOOP_KEYS));
		snprintf(v, sizeof v, "%" PRId64, kv);
		varve_record kr = { .key = k, .key_len = strlen(k), .value = v, .value_len = strlen(v),
				    .partition = 0 };
		if ((rc = varve_produce(w->db, "kv", &kr, NULL, &off)) != 0 || off != kv) {
			snprintf(w->why, sizeof w->why, "kv: rc %d offset %" PRId64, rc, off);
			w->failed = 1;
			break;
		}
		atomic_store(&w->kv_acked, ++kv);
		if (i % 64 == 0 && varve_group_commit(w->db, "g", "log", p, n[p], NULL) != 0) {
			snprintf(w->why, sizeof w->why, "commit: %s", varve_last_error()->message);
			w->failed = 1;
		}
	}
	return NULL;
}

/* A record's value (or key past its first byte) as a number. */
static int64_t num(const void *p, size_t n)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%.*s", (int)(n < 31 ? n : 31), (const char *)p);
	return strtoll(buf, NULL, 10);
}

/* The copy holds every record acknowledged before the backup started. */
static void check_loop_copy(const char *dest, const int64_t *acked, int64_t kv_acked)
{
	varve_db *cp = open_copy(dest, 1);
	for (int p = 0; p < LOOP_PARTS; p++) {
		int64_t start, end;
		t_ok(varve_offsets(cp, "log", p, &start, &end));
		cr_assert_geq(end, acked[p], "log/%d: the copy ends at %" PRId64 ", %" PRId64
			      " were acknowledged before the backup", p, end, acked[p]);
		varve_iter *it;
		t_ok(varve_iter_open(cp, "log", p, start, &it));
		const varve_record *r;
		int rc;
		int64_t want = start;
		while ((rc = varve_iter_next(it, &r)) == 0) {
			cr_assert_eq(r->offset, want);
			cr_assert_eq(num(r->value, r->value_len), r->offset);
			want++;
		}
		t_assert_rc(rc, VARVE_EEND);
		cr_assert_eq(want, end);
		varve_iter_close(it);
	}
	/* kv: every key's latest acknowledged value (or a later one) is there */
	int64_t latest[LOOP_KEYS];
	for (int k = 0; k < LOOP_KEYS; k++)
		latest[k] = -1;
	int64_t start, end;
	t_ok(varve_offsets(cp, "kv", 0, &start, &end));
	cr_assert_geq(end, kv_acked);
	varve_iter *it;
	t_ok(varve_iter_open(cp, "kv", 0, start, &it));
	const varve_record *r;
	int rc;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		int64_t k = num((const char *)r->key + 1, r->key_len - 1);
		cr_assert(k >= 0 && k < LOOP_KEYS);
		cr_assert_eq(num(r->value, r->value_len), r->offset);
		latest[k] = r->offset;
	}
	t_assert_rc(rc, VARVE_EEND);
	varve_iter_close(it);
	for (int k = 0; k < LOOP_KEYS; k++) {
		int64_t want = kv_acked - 1 - ((kv_acked - 1 - k) % LOOP_KEYS + LOOP_KEYS) % LOOP_KEYS;
		if (want >= 0)
			cr_assert_geq(latest[k], want, "kv key %d: latest %" PRId64 " in the copy, %" PRId64
				      " was acknowledged", k, latest[k], want);
	}
	varve_close(cp);
}

/* A read-only handle beside the writer: an open that meets a segment its
 * retention removed between listing and opening is tried again. */
static varve_db *open_beside_writer(const char *src)
{
	varve_options ro = t_opts();
	ro.read_only = 1;
	varve_db *h = NULL;
	int rc = VARVE_ENOTFOUND;
	for (int i = 0; i < 50 && rc == VARVE_ENOTFOUND; i++)
		rc = varve_open(src, &ro, &h);
	t_ok(rc);
	return h;
}

static void backups_under_load(int sync)
{
	const char *src = t_newpath("store"), *dest = t_newpath("copy");
	varve_options o = small_opts(sync);
	o.start_cleaner = 1;
	o.cleaner_interval_ms = 5;
	o.sync_interval_ms = 5;
	varve_db *db = t_open(src, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = LOOP_PARTS;
	tc.retention_records = 100;
	t_ok(varve_topic_create(db, "log", &tc));
	tc.partitions = 1;
	tc.retention_records = -1;
	tc.cleanup_policy = VARVE_CLEANUP_COMPACT;
	tc.min_cleanable_dirty_ratio = 0.1;
	t_ok(varve_topic_create(db, "kv", &tc));
	writer w = { .db = db };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, write_loop, &w), 0);
	varve_stats st = { VARVE_STATS_VERSION };
	/* at least 8 rounds, and until retention and compaction both ran */
	int round = 0;
	for (; round < 400 && !w.failed; round++) {
		t_ok(varve_stats_get(db, &st));
		if (round >= 8 && st.segments_deleted && st.compactions)
			break;
		usleep(20000);
		int64_t acked[LOOP_PARTS];
		for (int p = 0; p < LOOP_PARTS; p++)
			acked[p] = atomic_load(&w.acked[p]);
		int64_t kv_acked = atomic_load(&w.kv_acked);
		/* odd rounds through a read-only handle, as `varve backup` does */
		varve_db *h = db;
		if (round % 2)
			h = open_beside_writer(src);
		varve_backup_report r = backup_ok(h, dest, NULL);
		if (h != db)
			varve_close(h);
		cr_assert_eq(r.topics, 2);
		check_loop_copy(dest, acked, kv_acked);
	}
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	cr_assert(!w.failed, "writer: %s", w.why);
	cr_assert(st.segments_deleted && st.compactions, "after %d rounds: %" PRIu64
		  " segments deleted, %" PRIu64 " compactions", round, st.segments_deleted,
		  st.compactions);
	t_close(db);
}

Test(backup, writer_appending_sync_always_with_cleaner, .timeout = 60)
{
	backups_under_load(VARVE_SYNC_ALWAYS);
}

Test(backup, writer_appending_sync_none_with_cleaner, .timeout = 60)
{
	backups_under_load(VARVE_SYNC_NONE);
}
