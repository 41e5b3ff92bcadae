/* SPDX-License-Identifier: MIT */
/* Unit tests: one segment -- append, lookups, scan, truncate (segment.c). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "support.h"
#include "util.h"

TestSuite(segment, .init = t_setup, .fini = t_teardown, .timeout = 30);

static const vv_seg_config cfg = { .index_interval = 64, .max_batch = 1u << 20, .file_mode = 0600 };
static const vv_seg_config cfg_ro = { .index_interval = 64, .max_batch = 1u << 20, .file_mode = 0600,
				      .read_only = 1 };

#define BASE 1000
#define MAXB 256

typedef struct layout {
	size_t n;               /* batches */
	uint64_t pos[MAXB];     /* position of each batch */
	int64_t first[MAXB];    /* first offset of each batch */
	int64_t last[MAXB];     /* last offset of each batch */
	int64_t ts[MAXB][4];    /* timestamps of its records */
	uint32_t count[MAXB];
	uint64_t size;
	int64_t next;
} layout;

/* Encode one batch of `count` records starting at `base`. Caller frees. */
static uint8_t *make_batch(int64_t base, uint32_t count, const int64_t *ts, size_t vlen,
			   size_t *len, vv_batch_header *h)
{
	vv_batch_builder b;
	vv_bb_init(&b);
	char *v = malloc(vlen + 1);
	for (uint32_t i = 0; i < count; i++) {
		t_fill(v, vlen, (uint64_t)base + i);
		varve_record r = t_rec("key", 3, v, vlen);
		cr_assert_eq(vv_bb_add(&b, i, ts[i], &r), 0);
	}
	vv_batch_params prm = { .base_offset = base, .codec = VARVE_CODEC_NONE,
				.append_time = 1700000000000LL + base, .producer_id = -1,
				.base_sequence = -1 };
	const uint8_t *p;
	cr_assert_eq(vv_bb_finish(&b, &prm, &p, len), 0);
	uint8_t *out = malloc(*len);
	memcpy(out, p, *len);
	cr_assert_eq(vv_batch_parse_header(out, *len, UINT32_MAX, h), 0);
	vv_bb_free(&b);
	free(v);
	return out;
}

/* A segment with n batches of 1..4 records; timestamps wander up and down. */
static vv_segment *build_segment(const char *dir, size_t n, layout *L)
{
	vv_segment *s;
	cr_assert_eq(vv_segment_create(dir, BASE, &cfg, &s), 0);
	memset(L, 0, sizeof *L);
	int64_t off = BASE;
	uint64_t st = 99;
	for (size_t i = 0; i < n; i++) {
		uint32_t count = 1 + (uint32_t)(t_rand(&st) % 4);
		int64_t ts[4];
		/* batches wander up and down; inside a batch timestamps do not
		 * go below the first one (see test_batch.c for that case) */
		int64_t t0 = 10000 + (int64_t)i * 10 + (int64_t)(t_rand(&st) % 25) - 12;
		for (uint32_t k = 0; k < count; k++) {
			ts[k] = k ? t0 + (int64_t)(t_rand(&st) % 7) : t0;
			L->ts[i][k] = ts[k];
		}
		size_t len;
		vv_batch_header h;
		uint8_t *b = make_batch(off, count, ts, 20 + (size_t)(t_rand(&st) % 60), &len, &h);
		L->pos[i] = atomic_load(&s->size);
		cr_assert_eq(vv_segment_append(s, b, len, &h), 0);
		L->first[i] = off;
		L->last[i] = off + count - 1;
		L->count[i] = count;
		off += count;
		free(b);
	}
	L->n = n;
	L->size = atomic_load(&s->size);
	L->next = off;
	cr_assert_eq(atomic_load(&s->next_offset), off);
	return s;
}

static size_t batch_of(const layout *L, int64_t off)
{
	for (size_t i = 0; i < L->n; i++)
		if (off >= L->first[i] && off <= L->last[i])
			return i;
	cr_assert_fail("offset %" PRId64 " not in layout", off);
	return 0;
}

static void check_find_all(vv_segment *s, const layout *L, const char *ctx)
{
	for (int64_t off = BASE; off < L->next; off++) {
		uint64_t pos = 12345;
		int rc = vv_segment_find(s, off, &pos);
		cr_assert_eq(rc, 0, "%s: find %" PRId64 ": %d (%s)", ctx, off, rc,
			     varve_last_error()->message);
		cr_assert_eq(pos, L->pos[batch_of(L, off)], "%s: find %" PRId64 " -> %" PRIu64
							     ", want %" PRIu64,
			     ctx, off, pos, L->pos[batch_of(L, off)]);
	}
	uint64_t pos = 1;
	cr_assert_eq(vv_segment_find(s, L->next, &pos), 0);
	cr_assert_eq(pos, L->size, "%s: the end offset maps to the size", ctx);
	cr_assert_eq(vv_segment_find(s, L->next + 100, &pos), 0);
	cr_assert_eq(pos, L->size);
	cr_assert_eq(vv_segment_find(s, BASE, &pos), 0);
	cr_assert_eq(pos, 0);
}

static const char *seg_file(const char *dir, const char *sfx)
{
	return t_fmt("%s/%020d%s", dir, BASE, sfx);
}

/* The file holds at least `size` bytes and only zeros after them. */
static void assert_zero_tail(const char *path, uint64_t size)
{
	size_t n;
	uint8_t *b = t_read_file(path, &n);
	cr_assert_geq(n, size, "%s is %zu bytes, shorter than its data (%" PRIu64 ")", path, n, size);
	for (size_t i = (size_t)size; i < n; i++)
		cr_assert_eq(b[i], 0, "%s: byte %zu past the data is not zero", path, i);
	free(b);
}

/* Reattach a closed segment as recovery does for a sealed one. */
static vv_segment *reattach(const char *dir, const layout *L, const vv_seg_config *c)
{
	vv_segment *s;
	cr_assert_eq(vv_segment_attach(dir, BASE, L->size, c, &s), 0);
	atomic_store(&s->next_offset, L->next);
	s->sealed = 1;
	return s;
}

Test(segment, names_and_paths)
{
	char buf[256];
	vv_segment_path(buf, sizeof buf, "/d", 42, ".log");
	cr_assert_str_eq(buf, "/d/00000000000000000042.log");
	int64_t b = -1;
	cr_assert_eq(vv_segment_parse_name("00000000000000000042.log", &b), 0);
	cr_assert_eq(b, 42);
	cr_assert_eq(vv_segment_parse_name("09223372036854775807.log", &b), 0);
	cr_assert_eq(b, INT64_MAX);
	const char *bad[] = { "0000000000000000042.log",   "000000000000000000042.log",
			      "00000000000000000042.index", "0000000000000000004a.log",
			      "00000000000000000042.log.tmp", "09223372036854775808.log",
			      "99999999999999999999.log",  "-0000000000000000042.log",
			      "", ".log" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(vv_segment_parse_name(bad[i], &b), -1, "accepted \"%s\"", bad[i]);
}

Test(segment, append_then_find_every_offset)
{
	const char *dir = t_tmpdir();
	layout L;
	vv_segment *s = build_segment(dir, 120, &L);
	cr_assert(t_exists(seg_file(dir, ".log")));
	cr_assert(t_exists(seg_file(dir, ".index")));
	cr_assert(t_exists(seg_file(dir, ".timeindex")));
	/* the active segment may keep zeroed, preallocated space past its data */
	assert_zero_tail(seg_file(dir, ".log"), L.size);
	check_find_all(s, &L, "fresh");
	/* index entries: strictly increasing, on batch boundaries, about one per interval */
	cr_assert_gt(s->ix.n, 1);
	for (size_t i = 0; i < s->ix.n; i++) {
		size_t k = batch_of(&L, BASE + s->ix.rel[i]);
		cr_assert_eq(L.pos[k], s->ix.pos[i], "entry %zu not on a batch boundary", i);
		cr_assert_eq(L.first[k], BASE + (int64_t)s->ix.rel[i]);
		if (i)
			cr_assert_geq(s->ix.pos[i] - s->ix.pos[i - 1], cfg.index_interval);
	}
	cr_assert_eq(vv_segment_flush_index(s), 0);
	cr_assert_eq(t_fsize(seg_file(dir, ".index")), (int64_t)(s->ix.n * 8));
	cr_assert_eq(t_fsize(seg_file(dir, ".timeindex")), (int64_t)(s->ix.tn * 12));
	/* sealing gives the preallocated space back */
	cr_assert_eq(vv_segment_seal(s), 0);
	cr_assert_eq(t_fsize(seg_file(dir, ".log")), (int64_t)L.size);
	vv_segment_unref(s);
}

static void damage_index_and_check(void (*damage)(const char *dir, const layout *L),
				   const char *what)
{
	const char *dir = t_tmpdir();
	layout L;
	vv_segment *s = build_segment(dir, 80, &L);
	cr_assert_eq(vv_segment_seal(s), 0);
	vv_segment_unref(s);
	damage(dir, &L);
	s = reattach(dir, &L, &cfg);
	check_find_all(s, &L, what);
	vv_segment_unref(s);
	/* read-only attach: same answers, and no index file is created or fixed */
	damage(dir, &L);
	int64_t isz = t_fsize(seg_file(dir, ".index"));
	s = reattach(dir, &L, &cfg_ro);
	check_find_all(s, &L, what);
	vv_segment_unref(s);
	cr_assert_eq(t_fsize(seg_file(dir, ".index")), isz, "%s: read-only attach wrote", what);
}

static void dmg_none(const char *dir, const layout *L)
{
	(void)dir;
	(void)L;
}
static void dmg_delete(const char *dir, const layout *L)
{
	(void)L;
	t_unlink(seg_file(dir, ".index"));
	t_unlink(seg_file(dir, ".timeindex"));
}
static void dmg_zero_extend(const char *dir, const layout *L)
{
	(void)L;
	t_append_zeros(seg_file(dir, ".index"), 4096);
	t_append_zeros(seg_file(dir, ".timeindex"), 4096);
}
static void dmg_zero_fill(const char *dir, const layout *L)
{
	(void)L;
	int64_t n = t_fsize(seg_file(dir, ".index"));
	if (n < 0)
		n = 64;
	t_truncate(seg_file(dir, ".index"), 0);
	t_append_zeros(seg_file(dir, ".index"), (size_t)n);
}
static void dmg_garbage(const char *dir, const layout *L)
{
	(void)L;
	uint8_t g[800];
	t_fill(g, sizeof g, 5);
	t_write_file(seg_file(dir, ".index"), g, sizeof g);
	t_write_file(seg_file(dir, ".timeindex"), g, sizeof g);
}
/* Increasing, inside the log, but not on batch boundaries. */
static void dmg_plausible(const char *dir, const layout *L)
{
	uint8_t b[8 * 8];
	for (uint32_t i = 0; i < 8; i++) {
		vv_store32(b + i * 8, (uint32_t)((L->next - BASE) * (i + 1) / 9));
		vv_store32(b + i * 8 + 4, (uint32_t)(L->size * (i + 1) / 9 + 3));
	}
	t_write_file(seg_file(dir, ".index"), b, sizeof b);
}
/* Entries shifted: right positions, wrong offsets. */
static void dmg_shifted(const char *dir, const layout *L)
{
	uint8_t b[8 * 16];
	size_t n = 0;
	for (size_t i = 1; i < L->n && n < 16; i += 5, n++) {
		vv_store32(b + n * 8, (uint32_t)(L->first[i] - BASE + 1));
		vv_store32(b + n * 8 + 4, (uint32_t)L->pos[i]);
	}
	t_write_file(seg_file(dir, ".index"), b, n * 8);
}
static void dmg_truncate_partial(const char *dir, const layout *L)
{
	(void)L;
	t_truncate(seg_file(dir, ".index"), 13);
	t_truncate(seg_file(dir, ".timeindex"), 5);
}

Test(segment, find_survives_intact_index) { damage_index_and_check(dmg_none, "intact"); }
Test(segment, find_survives_deleted_index) { damage_index_and_check(dmg_delete, "deleted"); }
Test(segment, find_survives_zero_extended_index)
{
	damage_index_and_check(dmg_zero_extend, "zero-extended");
}
Test(segment, find_survives_zero_filled_index) { damage_index_and_check(dmg_zero_fill, "zero-filled"); }
Test(segment, find_survives_garbage_index) { damage_index_and_check(dmg_garbage, "garbage"); }
Test(segment, find_survives_plausible_but_wrong_index)
{
	damage_index_and_check(dmg_plausible, "plausible");
}
Test(segment, find_survives_shifted_index) { damage_index_and_check(dmg_shifted, "shifted"); }
Test(segment, find_survives_truncated_index)
{
	damage_index_and_check(dmg_truncate_partial, "truncated");
}

Test(segment, find_time_points_at_or_before_the_answer)
{
	const char *dir = t_tmpdir();
	layout L;
	vv_segment *s = build_segment(dir, 100, &L);
	int64_t maxts = INT64_MIN;
	for (size_t i = 0; i < L.n; i++)
		for (uint32_t k = 0; k < L.count[i]; k++)
			if (L.ts[i][k] > maxts)
				maxts = L.ts[i][k];
	for (int pass = 0; pass < 2; pass++) {
		for (int64_t T = 9900; T <= maxts + 5; T += 3) {
			/* brute force: first batch holding a record with ts >= T */
			size_t want = SIZE_MAX;
			for (size_t i = 0; i < L.n && want == SIZE_MAX; i++)
				for (uint32_t k = 0; k < L.count[i]; k++)
					if (L.ts[i][k] >= T) {
						want = i;
						break;
					}
			uint64_t pos = 777;
			int found = -1;
			cr_assert_eq(vv_segment_find_time(s, T, &pos, &found), 0);
			if (want == SIZE_MAX) {
				/* a reattached segment does not know its max yet: it may
				 * send the caller scanning (found=1) but only then */
				if (pass == 0)
					cr_assert_eq(found, 0, "T=%" PRId64 " past max %" PRId64, T,
						     maxts);
				else if (found)
					cr_assert_leq(pos, L.size);
				continue;
			}
			cr_assert_eq(found, 1, "T=%" PRId64, T);
			cr_assert_leq(pos, L.pos[want], "T=%" PRId64 ": scan would start after the answer",
				      T);
		}
		/* second pass: sealed (final time entry) and reattached from the files */
		cr_assert_eq(vv_segment_seal(s), 0);
		vv_segment_unref(s);
		s = reattach(dir, &L, &cfg);
	}
	vv_segment_unref(s);
}

/* ---- scan and truncate ------------------------------------------------------ */

typedef struct scanned {
	const char *dir;
	layout L;
	vv_scan_result res;
	int64_t fsize_before;
} scanned;

static void scan_after(scanned *x, void (*damage)(scanned *x))
{
	x->dir = t_tmpdir();
	vv_segment *s = build_segment(x->dir, 40, &x->L);
	cr_assert_eq(vv_segment_seal(s), 0);
	vv_segment_unref(s);
	damage(x);
	x->fsize_before = t_fsize(seg_file(x->dir, ".log"));
	cr_assert_eq(vv_segment_attach(x->dir, BASE, (uint64_t)x->fsize_before, &cfg, &s), 0);
	cr_assert_eq(vv_segment_scan(s, 0, BASE, &x->res), 0);
	cr_assert_eq(x->res.file_size, (uint64_t)x->fsize_before);
	cr_assert_eq(t_fsize(seg_file(x->dir, ".log")), x->fsize_before, "scan must not truncate");
	cr_assert_eq(atomic_load(&s->size), x->res.valid_end);
	cr_assert_eq(atomic_load(&s->next_offset), x->res.next_offset);
	if (x->res.damaged) {
		cr_assert_eq(vv_segment_truncate(s, x->res.valid_end), 0);
		cr_assert_eq(t_fsize(seg_file(x->dir, ".log")), (int64_t)x->res.valid_end);
		/* the rewritten index only points inside what is left */
		cr_assert_eq(vv_segment_flush_index(s), 0);
		size_t n;
		uint8_t *b = t_read_file(seg_file(x->dir, ".index"), &n);
		for (size_t i = 0; i + 8 <= n; i += 8)
			cr_assert_lt(vv_load32(b + i + 4), x->res.valid_end);
		free(b);
	}
	vv_segment_unref(s);
}

static void sc_none(scanned *x) { (void)x; }
static void sc_garbage(scanned *x) { t_append_garbage(seg_file(x->dir, ".log"), 300, 3); }
static void sc_zeros(scanned *x) { t_append_zeros(seg_file(x->dir, ".log"), 4096); }
static void sc_torn_header(scanned *x)
{
	t_truncate(seg_file(x->dir, ".log"), x->L.pos[x->L.n - 1] + 40);
}
static void sc_torn_body(scanned *x)
{
	t_truncate(seg_file(x->dir, ".log"), x->L.pos[x->L.n - 1] + 90);
}
static void sc_flip_middle(scanned *x)
{
	t_flip(seg_file(x->dir, ".log"), x->L.pos[17] + 85, 0x10);
}
static void sc_out_of_sequence(scanned *x)
{
	int64_t ts[1] = { 5 };
	size_t len;
	vv_batch_header h;
	uint8_t *b = make_batch(x->L.last[x->L.n - 1], 1, ts, 10, &len, &h); /* reuses an offset */
	t_append(seg_file(x->dir, ".log"), b, len);
	free(b);
}
static void sc_malformed_records(scanned *x)
{
	/* a batch whose checksum is right but whose record says a length past its end */
	int64_t ts[2] = { 5, 6 };
	size_t len;
	vv_batch_header h;
	uint8_t *b = make_batch(x->L.next, 2, ts, 10, &len, &h);
	b[VV_BATCH_HEADER_SIZE] = 0x7f; /* first record's body length */
	vv_store64(b, vv_batch_checksum(b, len));
	t_append(seg_file(x->dir, ".log"), b, len);
	free(b);
}

Test(segment, scan_whole_segment)
{
	scanned x;
	scan_after(&x, sc_none);
	cr_assert_eq(x.res.damaged, 0);
	cr_assert_eq(x.res.valid_end, x.L.size);
	cr_assert_eq(x.res.next_offset, x.L.next);
	cr_assert_eq(x.res.lost_last_offset, -1);
	cr_assert_eq(x.res.first_append_time, 1700000000000LL + BASE);
}

Test(segment, scan_stops_at_garbage)
{
	scanned x;
	scan_after(&x, sc_garbage);
	cr_assert_eq(x.res.damaged, 1);
	cr_assert_eq(x.res.valid_end, x.L.size);
	cr_assert_eq(x.res.next_offset, x.L.next);
	cr_assert_str_eq(x.res.reason, "bad batch header");
}

/* Zeros after the data are preallocated space (segment.c reserve()), not
 * damage: the scan says so and nothing is lost. */
Test(segment, scan_takes_trailing_zeros_for_preallocation)
{
	scanned x;
	scan_after(&x, sc_zeros);
	cr_assert_eq(x.res.damaged, 0);
	cr_assert_eq(x.res.zero_tail, 4096);
	cr_assert_eq(x.res.valid_end, x.L.size);
	cr_assert_eq(x.res.next_offset, x.L.next);
}

static void sc_torn_then_zeros(scanned *x)
{
	t_truncate(seg_file(x->dir, ".log"), x->L.pos[x->L.n - 1] + 90);
	t_append_zeros(seg_file(x->dir, ".log"), 5000);
}

/* A partial batch in preallocated space: damage, whatever follows. */
Test(segment, scan_stops_at_a_partial_batch_before_zeros)
{
	scanned x;
	scan_after(&x, sc_torn_then_zeros);
	cr_assert_eq(x.res.damaged, 1);
	cr_assert_eq(x.res.valid_end, x.L.pos[x.L.n - 1]);
	cr_assert_eq(x.res.next_offset, x.L.first[x.L.n - 1]);
}

Test(segment, scan_stops_at_a_torn_header)
{
	scanned x;
	scan_after(&x, sc_torn_header);
	cr_assert_eq(x.res.damaged, 1);
	cr_assert_eq(x.res.valid_end, x.L.pos[x.L.n - 1]);
	cr_assert_eq(x.res.next_offset, x.L.first[x.L.n - 1]);
	cr_assert_str_eq(x.res.reason, "torn batch at end of file");
	cr_assert_eq(x.res.lost_last_offset, -1);
}

Test(segment, scan_stops_at_a_torn_body)
{
	scanned x;
	scan_after(&x, sc_torn_body);
	cr_assert_eq(x.res.damaged, 1);
	cr_assert_eq(x.res.valid_end, x.L.pos[x.L.n - 1]);
	cr_assert_str_eq(x.res.reason, "torn batch at end of file");
	cr_assert_eq(x.res.lost_last_offset, x.L.last[x.L.n - 1]);
}

Test(segment, scan_stops_at_a_checksum_mismatch)
{
	scanned x;
	scan_after(&x, sc_flip_middle);
	cr_assert_eq(x.res.damaged, 1);
	cr_assert_eq(x.res.valid_end, x.L.pos[17]);
	cr_assert_eq(x.res.next_offset, x.L.first[17]);
	cr_assert_str_eq(x.res.reason, "checksum mismatch");
	cr_assert_eq(x.res.lost_last_offset, x.L.last[x.L.n - 1]);
}

Test(segment, scan_stops_at_an_offset_out_of_sequence)
{
	scanned x;
	scan_after(&x, sc_out_of_sequence);
	cr_assert_eq(x.res.damaged, 1);
	cr_assert_eq(x.res.valid_end, x.L.size);
	cr_assert_str_eq(x.res.reason, "offset out of sequence");
}

Test(segment, scan_stops_at_malformed_records)
{
	scanned x;
	scan_after(&x, sc_malformed_records);
	cr_assert_eq(x.res.damaged, 1);
	cr_assert_eq(x.res.valid_end, x.L.size);
	cr_assert_str_eq(x.res.reason, "malformed records");
}

Test(segment, scan_from_the_middle)
{
	const char *dir = t_tmpdir();
	layout L;
	vv_segment *s = build_segment(dir, 30, &L);
	cr_assert_eq(vv_segment_flush_index(s), 0);
	vv_segment_unref(s);
	cr_assert_eq(vv_segment_attach(dir, BASE, 0, &cfg, &s), 0);
	vv_scan_result res;
	cr_assert_eq(vv_segment_scan(s, L.pos[12], L.first[12], &res), 0);
	cr_assert_eq(res.damaged, 0);
	cr_assert_eq(res.valid_end, L.size);
	cr_assert_eq(res.next_offset, L.next);
	check_find_all(s, &L, "scanned from the middle");
	vv_segment_unref(s);
}

/* ---- reader and lifetime --------------------------------------------------------- */

Test(segment, reader_limits_and_checksums)
{
	const char *dir = t_tmpdir();
	layout L;
	vv_segment *s = build_segment(dir, 10, &L);
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	const uint8_t *b;
	vv_batch_header h;
	for (size_t i = 0; i < L.n; i++) {
		cr_assert_eq(vv_seg_reader_batch(&r, s, L.pos[i], L.size, &b, &h), 0);
		cr_assert_eq(h.base_offset, L.first[i]);
		cr_assert_eq(h.record_count, L.count[i]);
	}
	cr_assert_eq(vv_seg_reader_batch(&r, s, L.size, L.size, &b, &h), VARVE_EEND);
	cr_assert_eq(vv_seg_reader_batch(&r, s, L.pos[3], L.pos[3] + 50, &b, &h), VV_INCOMPLETE);
	cr_assert_eq(vv_seg_reader_batch(&r, s, L.pos[3], L.pos[4] - 1, &b, &h), VV_INCOMPLETE);
	cr_assert_eq(vv_seg_reader_batch(&r, s, L.pos[3], L.pos[4], &b, &h), 0);
	/* a flipped byte in the body is caught, with the file and position named
	 * (by a new segment object: this one remembers the batch as checked) */
	t_flip(seg_file(dir, ".log"), L.pos[5] + 100, 0x01);
	vv_seg_reader_reset(&r);
	cr_assert_eq(vv_seg_reader_batch(&r, s, L.pos[5], L.size, &b, &h), 0);
	vv_segment_unref(s);
	cr_assert_eq(vv_segment_attach(dir, BASE, L.size, &cfg, &s), 0);
	vv_seg_reader_reset(&r);
	int rc = vv_seg_reader_batch(&r, s, L.pos[5], L.size, &b, &h);
	cr_assert_eq(rc, VARVE_ECORRUPT);
	cr_assert(strstr(varve_last_error()->message, ".log"), "%s", varve_last_error()->message);
	cr_assert(strstr(varve_last_error()->message, t_fmt("%" PRIu64, L.pos[5])), "%s",
		  varve_last_error()->message);
	/* a position that is not a batch boundary is a bad header */
	vv_seg_reader_reset(&r);
	cr_assert_eq(vv_seg_reader_batch(&r, s, L.pos[2] + 1, L.size, &b, &h), VARVE_ECORRUPT);
	vv_seg_reader_free(&r);
	vv_segment_unref(s);
}

Test(segment, deleted_files_go_with_the_last_reference)
{
	const char *dir = t_tmpdir();
	layout L;
	vv_segment *s = build_segment(dir, 3, &L);
	vv_segment_ref(s); /* a reader */
	vv_segment_mark_deleted(s);
	vv_segment_unref(s); /* the partition's */
	cr_assert(t_exists(seg_file(dir, ".log")), "unlinked under a reader");
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	const uint8_t *b;
	vv_batch_header h;
	cr_assert_eq(vv_seg_reader_batch(&r, s, L.pos[2], L.size, &b, &h), 0);
	vv_seg_reader_free(&r);
	vv_segment_unref(s);
	cr_assert(!t_exists(seg_file(dir, ".log")));
	cr_assert(!t_exists(seg_file(dir, ".index")));
	cr_assert(!t_exists(seg_file(dir, ".timeindex")));
}

Test(segment, seal_writes_a_final_time_entry)
{
	const char *dir = t_tmpdir();
	layout L;
	vv_segment *s = build_segment(dir, 50, &L);
	int64_t maxts = atomic_load(&s->max_ts);
	cr_assert_eq(vv_segment_seal(s), 0);
	cr_assert_eq(vv_segment_sync_all(s), 0);
	cr_assert(s->sealed);
	cr_assert_gt(s->ix.tn, 0);
	cr_assert_eq(s->ix.tts[s->ix.tn - 1], maxts);
	cr_assert_eq(t_fsize(seg_file(dir, ".timeindex")), (int64_t)(s->ix.tn * 12));
	cr_assert_eq(t_fsize(seg_file(dir, ".index")), (int64_t)(s->ix.n * 8));
	vv_segment_unref(s);
}
