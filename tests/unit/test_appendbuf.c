/* SPDX-License-Identifier: MIT */
/* Unit tests: the append buffer (partition.c, design note 7 of
 * partition.h; varve_options.append_buffer_bytes). Writes are counted and
 * failed through a wrapping I/O table; what reached the file is checked
 * through the segment's published size and through a read-only handle,
 * which sees only the file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "partition.h"
#include "reader.h"
#include "support.h"
#include "util.h"

TestSuite(appendbuf, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* ---- an I/O table that counts pwrites and fails them on demand ---------- */

static _Atomic long pwrites;
static _Atomic int fail_pwrite; /* 0, or the -errno every pwrite returns */

static int counting_pwrite(vv_file *f, const void *buf, size_t n, uint64_t off, size_t *nw)
{
	atomic_fetch_add(&pwrites, 1);
	int e = atomic_load(&fail_pwrite);
	if (e)
		return e;
	return vv_io_posix.pwrite(f, buf, n, off, nw);
}

static vv_io_methods counting_io;

static const vv_io_methods *io_table(void)
{
	counting_io = vv_io_posix;
	counting_io.pwrite = counting_pwrite;
	return &counting_io;
}

/* ---- partition helpers -------------------------------------------------- */

static vv_part_config buffered_cfg(uint32_t buffer_bytes, uint64_t segment_bytes)
{
	vv_part_config c;
	memset(&c, 0, sizeof c);
	c.seg.io = io_table();
	c.seg.index_interval = 4096;
	c.seg.max_batch = 1u << 20;
	c.seg.file_mode = 0600;
	c.segment_bytes = segment_bytes;
	c.sync_policy = VARVE_SYNC_NONE;
	c.codec = VARVE_CODEC_NONE;
	c.dir_mode = 0700;
	c.append_buffer_bytes = buffer_bytes;
	return c;
}

/* The partition's directory: one per test (each runs in its own process). */
static const char *part_dir(void)
{
	static const char *dir;
	if (!dir)
		dir = t_fmt("%s/p", t_tmpdir());
	return dir;
}

static vv_partition *open_part(const vv_part_config *c)
{
	vv_partition *p = NULL;
	int rc = vv_partition_open(part_dir(), "t", 0, c, 0, &p);
	cr_assert_eq(rc, 0, "open: %d (%s)", rc, varve_last_error()->message);
	return p;
}

static int append_value(vv_partition *p, int64_t i)
{
	char v[32];
	snprintf(v, sizeof v, "value-%lld", (long long)i);
	varve_record r = t_rec_s("k", v);
	const varve_record *rp = &r;
	vv_append_opts o = { .expected_end = -1, .producer_id = -1, .base_sequence = -1 };
	int64_t base = -1;
	int rc = vv_partition_append(p, &rp, 1, &o, &base);
	if (rc == 0)
		cr_assert_eq(base, i, "append %lld got offset %lld", (long long)i, (long long)base);
	return rc;
}

static uint64_t active_size(vv_partition *p)
{
	return atomic_load(&p->segs[p->nsegs - 1]->size);
}

/* Read the partition from offset 0 in this process: every record, dense,
 * with the value it was appended with. Returns the count. */
static int64_t read_all(vv_partition *p)
{
	vv_reader r;
	cr_assert_eq(vv_reader_init(&r, p, 0), 0, "%s", varve_last_error()->message);
	const varve_record *rec;
	int64_t n = 0;
	int rc;
	while ((rc = vv_reader_next(&r, &rec)) == 0) {
		char want[32];
		snprintf(want, sizeof want, "value-%lld", (long long)n);
		cr_assert_eq(rec->offset, n);
		cr_assert(rec->value_len == strlen(want) && !memcmp(rec->value, want, rec->value_len),
			  "record %lld has the wrong value", (long long)n);
		n++;
	}
	cr_assert_eq(rc, VARVE_EEND, "read: %d (%s)", rc, varve_last_error()->message);
	vv_reader_free(&r);
	return n;
}

/* ---- in the process ----------------------------------------------------- */

Test(appendbuf, buffered_records_are_read_at_once_in_the_process)
{
	vv_part_config c = buffered_cfg(64u << 10, 64u << 20);
	vv_partition *p = open_part(&c);
	for (int64_t i = 0; i < 10; i++)
		cr_assert_eq(append_value(p, i), 0);
	cr_assert_eq(atomic_load(&p->end_offset), 10, "offsets advance at the append");
	cr_assert_eq(active_size(p), 0, "ten small appends must wait in the buffer");
	cr_assert_eq(read_all(p), 10, "a reader in the process sees buffered records");
	cr_assert_gt(active_size(p), 0, "the read wrote the buffer to the file");
	cr_assert_eq(atomic_load(&p->buffer_flushes), 1);
	/* more after the read: seen too, by a reader positioned in the buffer */
	cr_assert_eq(append_value(p, 10), 0);
	vv_reader r;
	cr_assert_eq(vv_reader_init(&r, p, 10), 0);
	const varve_record *rec;
	cr_assert_eq(vv_reader_next(&r, &rec), 0, "%s", varve_last_error()->message);
	cr_assert_eq(rec->offset, 10);
	cr_assert_eq(vv_reader_next(&r, &rec), VARVE_EEND);
	vv_reader_free(&r);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(appendbuf, small_appends_share_one_write)
{
	vv_part_config c = buffered_cfg(64u << 10, 64u << 20);
	vv_partition *p = open_part(&c);
	long before = atomic_load(&pwrites);
	for (int64_t i = 0; i < 200; i++)
		cr_assert_eq(append_value(p, i), 0);
	cr_assert_eq(vv_partition_flush_buffer(p), 0);
	long with_buffer = atomic_load(&pwrites) - before;
	cr_assert_leq(with_buffer, 2, "200 small appends took %ld writes", with_buffer);
	cr_assert_eq(read_all(p), 200);
	cr_assert_eq(vv_partition_close(p, 1), 0);

	/* the same without the buffer: a write each */
	t_rm_rf(part_dir());
	vv_part_config d = buffered_cfg(0, 64u << 20);
	p = open_part(&d);
	before = atomic_load(&pwrites);
	for (int64_t i = 0; i < 200; i++)
		cr_assert_eq(append_value(p, i), 0);
	cr_assert_geq(atomic_load(&pwrites) - before, 200);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(appendbuf, a_full_buffer_is_written_before_the_next_append)
{
	vv_part_config c = buffered_cfg(1024, 64u << 20);
	vv_partition *p = open_part(&c);
	uint64_t last_size = 0;
	int grew = 0;
	for (int64_t i = 0; i < 100; i++) {
		cr_assert_eq(append_value(p, i), 0);
		cr_assert_leq(p->abuf_len, 1024, "the buffer holds at most its size");
		if (active_size(p) > last_size) {
			grew++;
			last_size = active_size(p);
		}
	}
	cr_assert_geq(grew, 5, "a 1 KiB buffer must be written every few appends (%d)", grew);
	cr_assert_eq(atomic_load(&p->buffer_flushes), (uint64_t)grew);
	cr_assert_eq(read_all(p), 100);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(appendbuf, a_roll_writes_the_buffer_into_the_old_segment)
{
	vv_part_config c = buffered_cfg(64u << 10, 4096);
	vv_partition *p = open_part(&c);
	for (int64_t i = 0; i < 300; i++)
		cr_assert_eq(append_value(p, i), 0);
	cr_assert_gt(p->nsegs, 2, "4 KiB segments must roll");
	for (size_t i = 0; i + 1 < p->nsegs; i++) {
		vv_segment *s = p->segs[i];
		cr_assert_eq(atomic_load(&s->next_offset), p->segs[i + 1]->base,
			     "segment %zu ends where the next begins", i);
		cr_assert_leq(atomic_load(&s->size), 4096 + 200, "segment %zu holds its share", i);
	}
	cr_assert_eq(read_all(p), 300);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	/* reopened: the same log */
	p = open_part(&c);
	cr_assert_eq(atomic_load(&p->end_offset), 300);
	cr_assert_eq(read_all(p), 300);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(appendbuf, sync_writes_the_buffer_and_only_then_is_durable)
{
	vv_part_config c = buffered_cfg(64u << 10, 64u << 20);
	vv_partition *p = open_part(&c);
	for (int64_t i = 0; i < 5; i++)
		cr_assert_eq(append_value(p, i), 0);
	cr_assert_eq(active_size(p), 0);
	cr_assert_eq(vv_partition_sync(p), 0, "%s", varve_last_error()->message);
	cr_assert_gt(active_size(p), 0, "the sync wrote the buffer");
	cr_assert_eq(atomic_load(&p->durable_offset), 5);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

/* A failed write of the buffer: its error reaches the call that flushed,
 * a sync fails (nothing is reported durable), the buffer is kept, and once
 * writes work again the same records reach the file, in order. */
Test(appendbuf, a_failed_write_fails_the_flushing_call_and_keeps_the_records)
{
	vv_part_config c = buffered_cfg(512, 64u << 20);
	vv_partition *p = open_part(&c);
	int64_t n = 0;
	while (p->abuf_len + 64 < 512)
		cr_assert_eq(append_value(p, n++), 0);
	int64_t buffered_end = n;
	atomic_store(&fail_pwrite, -EIO);
	int rc = 0;
	for (int k = 0; k < 20 && rc == 0; k++) {
		rc = append_value(p, n);
		if (rc == 0)
			n++;
	}
	t_assert_rc(rc, VARVE_EIO);
	cr_assert_gt(n, 0);
	int64_t acked = n;
	cr_assert_eq(atomic_load(&p->end_offset), acked, "the failed append took no offset");
	t_assert_rc(vv_partition_sync(p), VARVE_EIO);
	cr_assert_eq(atomic_load(&p->durable_offset), 0, "nothing buffered may count as durable");
	atomic_store(&fail_pwrite, -ENOSPC);
	t_assert_rc(vv_partition_sync(p), VARVE_ENOSPC);
	cr_assert_eq(atomic_load(&p->failed), 0, "a failed write does not fail the partition");
	atomic_store(&fail_pwrite, 0);
	cr_assert_eq(vv_partition_sync(p), 0, "%s", varve_last_error()->message);
	cr_assert_eq(atomic_load(&p->durable_offset), acked);
	cr_assert_geq(acked, buffered_end);
	cr_assert_eq(append_value(p, acked), 0);
	cr_assert_eq(read_all(p), acked + 1);
	cr_assert_eq(vv_partition_close(p, 1), 0);
	p = open_part(&c);
	cr_assert_eq(read_all(p), acked + 1, "the reopened log holds every acknowledged record");
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(appendbuf, a_reader_at_a_failing_buffer_sees_the_end_not_an_error)
{
	vv_part_config c = buffered_cfg(64u << 10, 64u << 20);
	vv_partition *p = open_part(&c);
	for (int64_t i = 0; i < 3; i++)
		cr_assert_eq(append_value(p, i), 0);
	atomic_store(&fail_pwrite, -EIO);
	vv_reader r;
	cr_assert_eq(vv_reader_init(&r, p, 0), 0);
	const varve_record *rec;
	t_assert_rc(vv_reader_next(&r, &rec), VARVE_EEND);
	atomic_store(&fail_pwrite, 0);
	cr_assert_eq(vv_reader_next(&r, &rec), 0, "the next read writes the buffer: %s",
		     varve_last_error()->message);
	cr_assert_eq(rec->offset, 0);
	vv_reader_free(&r);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

/* ---- through the store: what another process (a read-only handle) sees --- */

static varve_options store_opts(int policy, int64_t buffer)
{
	varve_options o = t_opts();
	o.sync_policy = policy;
	o.append_buffer_bytes = buffer;
	return o;
}

/* Records of t/0 a read-only handle opened now finds in the files. */
static int64_t seen_from_outside(const char *path)
{
	varve_options ro = t_opts();
	ro.read_only = 1;
	varve_db *db = t_open(path, &ro);
	int64_t n = t_count(db, "t", 0);
	t_close(db);
	return n;
}

static varve_db *store_with_five(const char *path, int policy, int64_t buffer)
{
	varve_options o = store_opts(policy, buffer);
	varve_db *db = t_open(path, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 5; i++)
		t_produce_to(db, "t", 0, "k", "v", 1000 + i);
	return db;
}

Test(appendbuf, varve_sync_writes_the_buffer)
{
	const char *path = t_newpath("s");
	varve_db *db = store_with_five(path, VARVE_SYNC_NONE, 64 << 10);
	cr_assert_eq(seen_from_outside(path), 0, "five small appends wait in the buffer");
	t_ok(varve_sync(db));
	cr_assert_eq(seen_from_outside(path), 5);
	t_close(db);
}

Test(appendbuf, close_writes_the_buffer)
{
	const char *path = t_newpath("s");
	varve_db *db = store_with_five(path, VARVE_SYNC_INTERVAL, 64 << 10);
	cr_assert_eq(seen_from_outside(path), 0);
	t_close(db);
	cr_assert_eq(seen_from_outside(path), 5);
}

Test(appendbuf, a_commit_writes_the_buffer_it_covers)
{
	const char *path = t_newpath("s");
	varve_db *db = store_with_five(path, VARVE_SYNC_NONE, 64 << 10);
	cr_assert_eq(seen_from_outside(path), 0);
	t_ok(varve_group_commit(db, "g", "t", 0, 5, NULL));
	cr_assert_eq(seen_from_outside(path), 5, "a commit syncs what it covers");
	t_close(db);
}

Test(appendbuf, sync_always_ignores_the_option)
{
	const char *path = t_newpath("s");
	varve_db *db = store_with_five(path, VARVE_SYNC_ALWAYS, 64 << 10);
	cr_assert_eq(seen_from_outside(path), 5, "sync=always writes (and syncs) each append");
	t_close(db);
}

Test(appendbuf, the_option_is_off_by_default_and_checked)
{
	varve_options o;
	t_ok(varve_options_init(&o, VARVE_OPTIONS_VERSION));
	cr_assert_eq(o.append_buffer_bytes, 0);
	const char *path = t_newpath("s");
	varve_db *db = store_with_five(path, VARVE_SYNC_NONE, 0);
	cr_assert_eq(seen_from_outside(path), 5, "without the buffer each append is written");
	t_close(db);
	o = store_opts(VARVE_SYNC_NONE, -1);
	varve_db *bad = NULL;
	t_assert_rc(varve_open(t_newpath("bad"), &o, &bad), VARVE_EINVAL);
}

/* The background thread writes the buffer: each round under sync=none,
 * each sync under sync=interval. Polled with a generous deadline. */
static void background_writes(int policy)
{
	const char *path = t_newpath("s");
	varve_options o = store_opts(policy, 64 << 10);
	o.start_cleaner = 1;
	o.cleaner_interval_ms = 20;
	o.sync_interval_ms = 20;
	varve_db *db = t_open(path, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 5; i++)
		t_produce_to(db, "t", 0, "k", "v", 1000 + i);
	int64_t seen = 0;
	for (int tries = 0; tries < 1000 && seen < 5; tries++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		seen = seen_from_outside(path);
	}
	cr_assert_eq(seen, 5, "the background thread did not write the buffer within 10 s");
	t_close(db);
}

Test(appendbuf, the_background_round_writes_the_buffer_under_sync_none)
{
	background_writes(VARVE_SYNC_NONE);
}

Test(appendbuf, the_background_sync_writes_the_buffer_under_sync_interval)
{
	background_writes(VARVE_SYNC_INTERVAL);
}
