/* SPDX-License-Identifier: MIT */
/*
 * Hostile partition layouts that pass every checksum (found by fuzz_recovery,
 * fuzz/README.md): a recovery point whose log start is past the log end, and
 * segments whose offsets overlap the next segment's base. Recovery must not
 * report a start past the end, and reads must never return an offset twice
 * or past the log end.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "partition.h"
#include "support.h"
#include "varve.h"

TestSuite(layout, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define NREC 30

/* One-record batches in 1 KiB segments: several segments. */
static const char *make_store(void)
{
	const char *path = t_newpath("store");
	varve_options o = t_opts();
	o.segment_bytes = 1024;
	varve_db *db = t_open(path, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < NREC; i++) {
		char v[16];
		snprintf(v, sizeof v, "value-%08d", i);
		t_produce_to(db, "t", 0, NULL, v, VARVE_TIMESTAMP_NOW);
	}
	t_close(db);
	return path;
}

/* Read from `from` to the end: the offsets seen, and the final code. */
static int read_from(varve_db *db, int64_t from, int64_t *seen, size_t cap, size_t *n)
{
	varve_iter *it;
	int rc = varve_iter_open(db, "t", 0, from, &it);
	*n = 0;
	if (rc)
		return rc;
	const varve_record *r;
	while ((rc = varve_iter_next(it, &r)) == 0)
		if (*n < cap)
			seen[(*n)++] = r->offset;
	varve_iter_close(it);
	return rc;
}

Test(layout, recovery_point_log_start_past_the_end_is_clamped)
{
	const char *path = make_store();
	const char *pdir = t_part_dir(path, "t", 0);
	uint8_t *old;
	size_t len;
	old = t_read_file(t_fmt("%s/%s", pdir, VV_RECOVERY_POINT_FILE), &len);
	vv_recovery_point rp;
	cr_assert_eq(vv_recovery_point_decode(old, len, &rp), 0);
	free(old);
	rp.log_start = rp.offset + 1000; /* checksummed, but nonsense */
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&rp, buf);
	t_write_file(t_fmt("%s/%s", pdir, VV_RECOVERY_POINT_FILE), buf, sizeof buf);
	for (int ro = 1; ro >= 0; ro--) {
		varve_options o = t_opts();
		o.read_only = ro;
		varve_db *db = t_open(path, &o);
		int64_t start, end;
		t_ok(varve_offsets(db, "t", 0, &start, &end));
		cr_assert_eq(end, NREC);
		cr_assert_leq(start, end, "read_only=%d: start %" PRId64 " past end %" PRId64, ro,
			      start, end);
		t_close(db);
	}
}

Test(layout, overlapping_segments_are_not_read_twice_or_past_the_end)
{
	const char *path = make_store();
	int64_t b[16];
	size_t nb = t_segments(t_part_dir(path, "t", 0), b, 16);
	cr_assert_geq(nb, 3, "setup: %zu segments", nb);
	/* the last segment is replaced by an empty one based inside the one
	 * before: that one still holds offsets up to b[nb-1] - 1 */
	int64_t last = b[nb - 1], mid = (b[nb - 2] + last) / 2;
	cr_assert_gt(mid, b[nb - 2]);
	t_unlink(t_seg_path(path, "t", 0, last, ".log"));
	t_unlink(t_seg_path(path, "t", 0, last, ".index"));
	t_unlink(t_seg_path(path, "t", 0, last, ".timeindex"));
	t_write_file(t_seg_path(path, "t", 0, mid, ".log"), "", 0);
	t_unlink(t_fmt("%s/CLEAN", path));
	t_unlink(t_fmt("%s/%s", t_part_dir(path, "t", 0), VV_RECOVERY_POINT_FILE));
	for (int ro = 1; ro >= 0; ro--) {
		varve_options o = t_opts();
		o.read_only = ro;
		varve_db *db = t_open(path, &o);
		int64_t end;
		t_ok(varve_offsets(db, "t", 0, NULL, &end));
		int64_t seen[64];
		size_t n;
		int rc = read_from(db, 0, seen, 64, &n);
		for (size_t i = 0; i < n; i++) {
			cr_assert_lt(seen[i], end, "read_only=%d: offset %" PRId64 " at or past end %" PRId64,
				     ro, seen[i], end);
			cr_assert(i == 0 || seen[i] > seen[i - 1]);
		}
		cr_assert_eq(end, mid);
		cr_assert_eq((int64_t)n, mid, "read_only=%d: %zu records before the overlap", ro, n);
		t_assert_rc(rc, VARVE_ECORRUPT);
		t_close(db);
	}
}
