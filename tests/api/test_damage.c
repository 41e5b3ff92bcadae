/* SPDX-License-Identifier: MIT */
/* API: damage stays inside its batch. One flipped byte anywhere in a batch
 * (header or records) of a sealed segment: every record of every other
 * batch is still readable by seeking to it, a sequential read reports the
 * damage once, and varve_iter_skip_damaged goes on at the next intact batch,
 * passing over exactly the damaged batch's offsets. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(damage, .init = t_setup, .fini = t_teardown, .timeout = 120);

#define BATCHES 60
#define PER 4 /* records per batch, as the report had it */
#define N (BATCHES * PER)
#define VICTIM 20 /* the batch that gets the flip */

static size_t value_of(int64_t off, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "value-%" PRId64 "-", off);
	size_t len = (size_t)n + (size_t)((off * 13) % 40);
	memset(buf + n, 'a' + (int)(off % 26), len - (size_t)n);
	return len;
}

static varve_options opts(int read_only)
{
	varve_options o = t_opts();
	o.segment_bytes = 64 * 1024; /* all in one sealed segment + an empty active one */
	o.index_interval_bytes = 4096;
	o.read_only = read_only;
	return o;
}

static const char *pristine(uint64_t *victim_pos, uint64_t *victim_len, int codec)
{
	const char *dir = t_newpath("pristine");
	varve_options o = opts(0);
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, codec);
	for (int b = 0; b < BATCHES; b++) {
		varve_record recs[PER];
		char vals[PER][128];
		for (int k = 0; k < PER; k++) {
			int64_t off = (int64_t)b * PER + k;
			size_t l = value_of(off, vals[k], sizeof vals[k]);
			recs[k] = t_rec("key", 3, vals[k], l);
			recs[k].partition = 0;
		}
		t_ok(varve_produce_batch(db, "t", recs, PER, NULL));
	}
	t_close(db);
	uint64_t pos[BATCHES + 1], end;
	size_t n = t_batch_positions(t_seg_path(dir, "t", 0, 0, ".log"), pos, BATCHES + 1, &end);
	cr_assert_eq(n, BATCHES);
	*victim_pos = pos[VICTIM];
	*victim_len = pos[VICTIM + 1] - pos[VICTIM];
	return dir;
}

static void check_value(const varve_record *r, int64_t off, const char *ctx)
{
	char v[128];
	size_t l = value_of(off, v, sizeof v);
	cr_assert_eq(r->offset, off, "%s: got offset %" PRId64 ", want %" PRId64, ctx, r->offset, off);
	cr_assert(r->value_len == l && memcmp(r->value, v, l) == 0, "%s: bytes of %" PRId64, ctx, off);
}

static int in_victim(int64_t off) { return off / PER == VICTIM; }

/* Every record outside the damaged batch is found by a seek to it. */
static void check_seeks(varve_db *db, const char *ctx)
{
	for (int64_t off = 0; off < N; off++) {
		varve_iter *it;
		int rc = varve_iter_open(db, "t", 0, off, &it);
		cr_assert_eq(rc, 0, "%s: open at %" PRId64 ": %s", ctx, off, varve_last_error()->message);
		const varve_record *r;
		rc = varve_iter_next(it, &r);
		if (in_victim(off)) {
			cr_assert_eq(rc, VARVE_ECORRUPT, "%s: %" PRId64 " lies in the damage, got %d", ctx,
				     off, rc);
		} else {
			cr_assert_eq(rc, 0, "%s: next at %" PRId64 ": %s", ctx, off,
				     varve_last_error()->message);
			check_value(r, off, ctx);
		}
		varve_iter_close(it);
	}
}

/* A sequential read meets the damage once; skipping passes over exactly the
 * damaged batch and every other record follows. */
static void check_scan(varve_db *db, const char *ctx)
{
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	int64_t want = 0;
	int damaged = 0;
	for (;;) {
		const varve_record *r;
		int rc = varve_iter_next(it, &r);
		if (rc == VARVE_EEND)
			break;
		if (rc == VARVE_ECORRUPT) {
			cr_assert_eq(damaged, 0, "%s: damage reported twice", ctx);
			damaged = 1;
			int64_t from, to;
			t_ok(varve_iter_skip_damaged(it, &from, &to));
			cr_assert_eq(from, (int64_t)VICTIM * PER, "%s: skipped from %" PRId64, ctx, from);
			cr_assert_eq(to, (int64_t)(VICTIM + 1) * PER, "%s: skipped to %" PRId64, ctx, to);
			cr_assert_eq(varve_iter_position(it), to);
			want = to;
			continue;
		}
		cr_assert_eq(rc, 0, "%s: %s", ctx, varve_last_error()->message);
		check_value(r, want, ctx);
		want++;
	}
	cr_assert_eq(damaged, 1, "%s: the damage was not reported", ctx);
	cr_assert_eq(want, N, "%s: read up to %" PRId64, ctx, want);
	varve_iter_close(it);
}

static void flip_every_byte(int codec)
{
	uint64_t vpos, vlen;
	const char *dir = pristine(&vpos, &vlen, codec);
	/* every header byte but the 8 checksum bytes' low ones (all flips are
	 * damage there too; stride through them) and a stride of record bytes */
	for (uint64_t at = 0; at < vlen; at += at < 80 ? 1 : 7) {
		const char *copy = t_newpath("copy");
		t_copy_tree(dir, copy);
		t_flip(t_seg_path(copy, "t", 0, 0, ".log"), vpos + at, 0x10);
		char ctx[96];
		for (int ro = 1; ro >= 0; ro--) {
			snprintf(ctx, sizeof ctx, "flip at batch byte %" PRIu64 " (%s)", at,
				 ro ? "read-only" : "writer");
			varve_options o = opts(ro);
			varve_db *db = t_open(copy, &o);
			check_seeks(db, ctx);
			check_scan(db, ctx);
			t_close(db);
		}
		t_rm_rf(copy);
	}
}

Test(damage, flip_stays_in_its_batch) { flip_every_byte(VARVE_CODEC_NONE); }

Test(damage, flip_stays_in_its_batch_lz4) { flip_every_byte(VARVE_CODEC_LZ4); }

/* The index, rebuilt after the damage, still points past it. */
Test(damage, lookups_past_damage_with_the_index_gone)
{
	uint64_t vpos, vlen;
	const char *dir = pristine(&vpos, &vlen, VARVE_CODEC_NONE);
	t_flip(t_seg_path(dir, "t", 0, 0, ".log"), vpos + 12, 0x40); /* the length field */
	t_unlink(t_seg_path(dir, "t", 0, 0, ".index"));
	t_unlink(t_seg_path(dir, "t", 0, 0, ".timeindex"));
	varve_options o = opts(0);
	varve_db *db = t_open(dir, &o);
	check_seeks(db, "no index");
	check_scan(db, "no index");
	t_close(db);
}

/* Damage that runs to the end of what is readable: skipping reports the
 * rest of the segment and then the end. */
Test(damage, skip_to_the_end)
{
	const char *dir = t_newpath("s");
	varve_options o = opts(0);
	o.segment_bytes = 1024 * 1024;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 3; i++)
		t_produce_to(db, "t", 0, "k", "0123456789", 0);
	t_close(db);
	uint64_t pos[4], end;
	cr_assert_eq(t_batch_positions(t_seg_path(dir, "t", 0, 0, ".log"), pos, 4, &end), 3);
	t_flip(t_seg_path(dir, "t", 0, 0, ".log"), pos[2] + 90, 0x01);
	o.read_only = 1;
	db = t_open(dir, &o);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *r;
	t_ok(varve_iter_next(it, &r));
	t_ok(varve_iter_next(it, &r));
	t_assert_rc(varve_iter_next(it, &r), VARVE_ECORRUPT);
	int64_t from, to;
	t_ok(varve_iter_skip_damaged(it, &from, &to));
	cr_assert_eq(from, 2);
	cr_assert_eq(to, 3);
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	varve_iter_close(it);
	t_close(db);
}

/* A consumer whose poll meets damage after it has read records hands those
 * records out (their positions have moved on); the damage is reported by
 * the next poll. */
Test(damage, poll_hands_out_what_it_read_before_the_damage)
{
	uint64_t vpos, vlen;
	const char *dir = pristine(&vpos, &vlen, VARVE_CODEC_NONE);
	t_flip(t_seg_path(dir, "t", 0, 0, ".log"), vpos + 70, 0x08);
	varve_options o = opts(0);
	varve_db *db = t_open(dir, &o);
	varve_consumer_options co = VARVE_CONSUMER_OPTIONS_INIT;
	co.max_records = N;
	co.max_bytes = 1u << 30;
	co.min_bytes = 1u << 30; /* gather as much as there is */
	co.max_wait_ms = 50;
	const char *topics[] = { "t" };
	varve_consumer *c;
	t_ok(varve_consumer_open(db, "g", topics, 1, &co, &c));
	const varve_msg *m;
	size_t n;
	t_ok(varve_consumer_poll(c, 1000, &m, &n));
	cr_assert_eq(n, (size_t)VICTIM * PER, "every record before the damaged batch");
	for (size_t i = 0; i < n; i++)
		check_value(&m[i].rec, (int64_t)i, "poll");
	t_assert_rc(varve_consumer_poll(c, 0, &m, &n), VARVE_ECORRUPT);
	cr_assert_eq(n, 0);
	varve_consumer_close(c);
	t_close(db);
}
