/* SPDX-License-Identifier: MIT */
/* Unit tests: the sparse offset index and time index (index.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "io.h"
#include "support.h"
#include "util.h"

TestSuite(index, .init = t_setup, .fini = t_teardown, .timeout = 30);

static void add_all(vv_index *ix, const uint32_t *rel, const uint32_t *pos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(vv_index_add(ix, rel[i], pos[i]), 0);
}

Test(index, lookup_finds_the_largest_entry_at_or_below)
{
	vv_index ix;
	vv_index_init(&ix);
	uint32_t found = 99;
	cr_assert_eq(vv_index_lookup(&ix, 5, &found), 0, "empty index starts at 0");
	cr_assert_eq(found, 0);
	const uint32_t rel[] = { 0, 10, 20, 30 }, pos[] = { 0, 1000, 2000, 3000 };
	add_all(&ix, rel, pos, 4);
	const struct {
		uint32_t target, pos, rel;
	} cases[] = { { 0, 0, 0 },       { 1, 0, 0 },       { 9, 0, 0 },
		      { 10, 1000, 10 }, { 11, 1000, 10 }, { 19, 1000, 10 },
		      { 20, 2000, 20 }, { 29, 2000, 20 }, { 30, 3000, 30 },
		      { 31, 3000, 30 }, { UINT32_MAX, 3000, 30 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		found = 12345;
		cr_assert_eq(vv_index_lookup(&ix, cases[i].target, &found), cases[i].pos,
			     "target %u", cases[i].target);
		cr_assert_eq(found, cases[i].rel, "target %u", cases[i].target);
	}
	cr_assert_eq(vv_index_lookup(&ix, 25, NULL), 2000);
	vv_index_free(&ix);
}

Test(index, lookup_without_an_entry_at_zero)
{
	vv_index ix;
	vv_index_init(&ix);
	const uint32_t rel[] = { 5, 50 }, pos[] = { 400, 4000 };
	add_all(&ix, rel, pos, 2);
	uint32_t found = 7;
	cr_assert_eq(vv_index_lookup(&ix, 4, &found), 0);
	cr_assert_eq(found, 0);
	cr_assert_eq(vv_index_lookup(&ix, 5, &found), 400);
	cr_assert_eq(found, 5);
	vv_index_free(&ix);
}

Test(index, add_keeps_entries_strictly_increasing)
{
	vv_index ix;
	vv_index_init(&ix);
	cr_assert_eq(vv_index_add(&ix, 10, 100), 0);
	cr_assert_eq(vv_index_add(&ix, 10, 200), 0); /* same rel */
	cr_assert_eq(vv_index_add(&ix, 5, 300), 0);  /* smaller rel */
	cr_assert_eq(vv_index_add(&ix, 20, 100), 0); /* same pos */
	cr_assert_eq(vv_index_add(&ix, 30, 50), 0);  /* smaller pos */
	cr_assert_eq(ix.n, 1);
	cr_assert_eq(vv_index_add(&ix, 11, 101), 0);
	cr_assert_eq(ix.n, 2);
	cr_assert_eq(vv_index_add_time(&ix, 100, 0), 0);
	cr_assert_eq(vv_index_add_time(&ix, 100, 5), 0); /* same ts */
	cr_assert_eq(vv_index_add_time(&ix, 200, 0), 0); /* same rel */
	cr_assert_eq(vv_index_add_time(&ix, 50, 9), 0);  /* smaller ts */
	cr_assert_eq(ix.tn, 1);
	/* many entries: growth keeps them all */
	for (uint32_t i = 0; i < 10000; i++)
		cr_assert_eq(vv_index_add(&ix, 100 + i, 1000 + i * 10), 0);
	cr_assert_eq(ix.n, 10002);
	for (uint32_t i = 0; i < 10000; i += 777) {
		uint32_t f;
		cr_assert_eq(vv_index_lookup(&ix, 100 + i, &f), 1000 + i * 10);
		cr_assert_eq(f, 100 + i);
	}
	vv_index_free(&ix);
}

Test(index, lookup_time_first_entry_at_or_past_target)
{
	vv_index ix;
	vv_index_init(&ix);
	uint32_t scan = 77;
	cr_assert_eq(vv_index_lookup_time(&ix, 5, &scan), -1, "empty time index");
	cr_assert_eq(vv_index_add_time(&ix, 100, 0), 0);
	cr_assert_eq(vv_index_add_time(&ix, 200, 10), 0);
	cr_assert_eq(vv_index_add_time(&ix, 300, 20), 0);
	const struct {
		int64_t target;
		long idx;
		uint32_t scan;
	} cases[] = { { INT64_MIN, 0, 0 }, { 50, 0, 0 },  { 100, 0, 0 },  { 101, 1, 0 },
		      { 150, 1, 0 },       { 200, 1, 0 }, { 201, 2, 10 }, { 300, 2, 10 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		scan = 12345;
		cr_assert_eq(vv_index_lookup_time(&ix, cases[i].target, &scan), cases[i].idx,
			     "target %lld", (long long)cases[i].target);
		cr_assert_eq(scan, cases[i].scan, "target %lld", (long long)cases[i].target);
	}
	cr_assert_eq(vv_index_lookup_time(&ix, 301, &scan), -1);
	cr_assert_eq(vv_index_lookup_time(&ix, INT64_MAX, &scan), -1);
	vv_index_free(&ix);
}

Test(index, truncate_drops_entries_at_or_past)
{
	vv_index ix;
	vv_index_init(&ix);
	const uint32_t rel[] = { 0, 10, 20, 30 }, pos[] = { 0, 1000, 2000, 3000 };
	add_all(&ix, rel, pos, 4);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(vv_index_add_time(&ix, 100 * (i + 1), rel[i]), 0);
	ix.written_n = 4;
	ix.written_tn = 4;
	vv_index_truncate(&ix, 2000, 10);
	cr_assert_eq(ix.n, 2);
	cr_assert_eq(ix.pos[1], 1000);
	cr_assert_eq(ix.tn, 1);
	cr_assert_eq(ix.written_n, 2);
	cr_assert_eq(ix.written_tn, 1);
	vv_index_truncate(&ix, 1, 1);
	cr_assert_eq(ix.n, 1);
	cr_assert_eq(ix.tn, 1);
	vv_index_truncate(&ix, 0, 0);
	cr_assert_eq(ix.n, 0);
	cr_assert_eq(ix.tn, 0);
	vv_index_free(&ix);
}

/* ---- files ----------------------------------------------------------------- */

typedef struct files {
	const char *ipath, *tpath;
	vv_file *idx, *tidx;
} files;

static void open_files(files *f, const void *ibytes, size_t in, const void *tbytes, size_t tn)
{
	const char *dir = t_tmpdir();
	f->ipath = t_fmt("%s/x.index", dir);
	f->tpath = t_fmt("%s/x.timeindex", dir);
	t_write_file(f->ipath, ibytes, in);
	t_write_file(f->tpath, tbytes, tn);
	cr_assert_eq(vv_io_open(NULL, f->ipath, VV_O_RDWR, 0600, &f->idx), 0);
	cr_assert_eq(vv_io_open(NULL, f->tpath, VV_O_RDWR, 0600, &f->tidx), 0);
}

static void close_files(files *f)
{
	vv_io_close(f->idx);
	vv_io_close(f->tidx);
}

static size_t put_entries(uint8_t *buf, const uint32_t *rel, const uint32_t *pos, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vv_store32(buf + i * 8, rel[i]);
		vv_store32(buf + i * 8 + 4, pos[i]);
	}
	return n * 8;
}

static size_t put_tentries(uint8_t *buf, const int64_t *ts, const uint32_t *rel, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vv_store64(buf + i * 12, (uint64_t)ts[i]);
		vv_store32(buf + i * 12 + 8, rel[i]);
	}
	return n * 12;
}

static void load_case(const char *what, const uint32_t *rel, const uint32_t *pos, size_t n,
		      uint64_t log_size, uint32_t max_rel, size_t want_n, int want_damaged)
{
	uint8_t ib[256];
	size_t il = put_entries(ib, rel, pos, n);
	int64_t ts[] = { 1 };
	uint32_t trel[] = { 0 };
	uint8_t tb[12];
	size_t tl = put_tentries(tb, ts, trel, 1);
	files f;
	open_files(&f, ib, il, tb, tl);
	vv_index ix;
	vv_index_init(&ix);
	int damaged = -1;
	cr_assert_eq(vv_index_load(&ix, f.idx, f.tidx, log_size, max_rel, &damaged), 0, "%s", what);
	cr_assert_eq(ix.n, want_n, "%s: %zu entries loaded, want %zu", what, ix.n, want_n);
	cr_assert_eq(damaged, want_damaged, "%s: damaged=%d", what, damaged);
	for (size_t i = 0; i < ix.n; i++) {
		cr_assert_eq(ix.rel[i], rel[i]);
		cr_assert_eq(ix.pos[i], pos[i]);
	}
	cr_assert_eq(ix.written_n, ix.n);
	vv_index_free(&ix);
	close_files(&f);
}

Test(index, load_accepts_valid_and_cuts_at_the_first_bad_entry)
{
	{
		const uint32_t rel[] = { 0, 10, 20 }, pos[] = { 0, 100, 200 };
		load_case("valid", rel, pos, 3, 300, 29, 3, 0);
	}
	{
		const uint32_t rel[] = { 0, 10, 10, 30 }, pos[] = { 0, 100, 200, 300 };
		load_case("repeated rel", rel, pos, 4, 400, 40, 2, 1);
	}
	{
		const uint32_t rel[] = { 0, 10, 5, 30 }, pos[] = { 0, 100, 200, 300 };
		load_case("decreasing rel", rel, pos, 4, 400, 40, 2, 1);
	}
	{
		const uint32_t rel[] = { 0, 10, 20, 30 }, pos[] = { 0, 100, 100, 300 };
		load_case("repeated pos", rel, pos, 4, 400, 40, 2, 1);
	}
	{
		const uint32_t rel[] = { 0, 10, 20 }, pos[] = { 0, 200, 100 };
		load_case("decreasing pos", rel, pos, 3, 400, 40, 2, 1);
	}
	{
		const uint32_t rel[] = { 0, 10, 20 }, pos[] = { 0, 100, 300 };
		load_case("pos at log size", rel, pos, 3, 300, 40, 2, 1);
	}
	{
		const uint32_t rel[] = { 0, 10, 20 }, pos[] = { 0, 100, 5000 };
		load_case("pos past log size", rel, pos, 3, 300, 40, 2, 1);
	}
	{
		const uint32_t rel[] = { 0, 10, 41 }, pos[] = { 0, 100, 200 };
		load_case("rel past max", rel, pos, 3, 300, 40, 2, 1);
	}
	{
		const uint32_t rel[] = { 0, 0, 0, 0 }, pos[] = { 0, 0, 0, 0 };
		load_case("zero-filled", rel, pos, 4, 300, 40, 1, 1);
	}
	{
		const uint32_t rel[] = { 0 }, pos[] = { 0 };
		load_case("zero entry, empty log", rel, pos, 1, 0, 40, 0, 1);
	}
}

Test(index, load_time_index_rules)
{
	uint8_t ib[8];
	const uint32_t r0[] = { 0 }, p0[] = { 0 };
	size_t il = put_entries(ib, r0, p0, 1);
	const struct {
		const char *what;
		int64_t ts[4];
		uint32_t rel[4];
		size_t n, want;
		int damaged;
	} cases[] = {
		{ "valid", { 10, 20, 30, 40 }, { 0, 1, 2, 3 }, 4, 4, 0 },
		{ "same ts", { 10, 20, 20, 40 }, { 0, 1, 2, 3 }, 4, 2, 1 },
		{ "decreasing ts", { 10, 20, 15, 40 }, { 0, 1, 2, 3 }, 4, 2, 1 },
		{ "same rel", { 10, 20, 30, 40 }, { 0, 1, 1, 3 }, 4, 2, 1 },
		{ "rel past max", { 10, 20, 30, 40 }, { 0, 1, 2, 100 }, 4, 3, 1 },
		{ "zeros", { 0, 0, 0, 0 }, { 0, 0, 0, 0 }, 4, 1, 1 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint8_t tb[48];
		size_t tl = put_tentries(tb, cases[c].ts, cases[c].rel, cases[c].n);
		files f;
		open_files(&f, ib, il, tb, tl);
		vv_index ix;
		vv_index_init(&ix);
		int damaged = -1;
		cr_assert_eq(vv_index_load(&ix, f.idx, f.tidx, 100, 10, &damaged), 0);
		cr_assert_eq(ix.tn, cases[c].want, "%s: %zu", cases[c].what, ix.tn);
		cr_assert_eq(damaged, cases[c].damaged, "%s", cases[c].what);
		cr_assert_eq(ix.n, 1, "%s: offset index unaffected", cases[c].what);
		vv_index_free(&ix);
		close_files(&f);
	}
}

Test(index, load_ignores_a_partial_trailing_entry_and_flags_missing_files)
{
	uint8_t ib[8 * 2 + 5];
	const uint32_t rel[] = { 0, 10 }, pos[] = { 0, 100 };
	put_entries(ib, rel, pos, 2);
	memset(ib + 16, 0xee, 5);
	uint8_t tb[12 + 7];
	const int64_t ts[] = { 5 };
	const uint32_t trel[] = { 0 };
	put_tentries(tb, ts, trel, 1);
	memset(tb + 12, 0xee, 7);
	files f;
	open_files(&f, ib, sizeof ib, tb, sizeof tb);
	vv_index ix;
	vv_index_init(&ix);
	int damaged = -1;
	cr_assert_eq(vv_index_load(&ix, f.idx, f.tidx, 1000, 100, &damaged), 0);
	cr_assert_eq(ix.n, 2);
	cr_assert_eq(ix.tn, 1);
	/* no index file at all: nothing to trust */
	cr_assert_eq(vv_index_load(&ix, NULL, f.tidx, 1000, 100, &damaged), 0);
	cr_assert_eq(damaged, 1);
	cr_assert_eq(ix.n, 0);
	cr_assert_eq(vv_index_load(&ix, f.idx, NULL, 1000, 100, &damaged), 0);
	cr_assert_eq(damaged, 1);
	cr_assert_eq(ix.tn, 0);
	vv_index_free(&ix);
	close_files(&f);
}

Test(index, garbage_never_loads_a_bad_entry)
{
	/* Whatever the bytes, every loaded entry obeys the rules. */
	for (uint64_t seed = 1; seed <= 200; seed++) {
		uint8_t ib[8 * 32], tb[12 * 32];
		t_fill(ib, sizeof ib, seed);
		t_fill(tb, sizeof tb, seed * 7919);
		/* make the first entries plausible so the checks are exercised */
		uint64_t st = seed;
		uint32_t r = 0, p = 0;
		for (int i = 0; i < 8; i++) {
			r += (uint32_t)(t_rand(&st) % 8);
			p += (uint32_t)(t_rand(&st) % 600);
			vv_store32(ib + i * 8, r);
			vv_store32(ib + i * 8 + 4, p);
		}
		files f;
		open_files(&f, ib, sizeof ib, tb, sizeof tb);
		vv_index ix;
		vv_index_init(&ix);
		int damaged = 0;
		const uint64_t log_size = 2000;
		const uint32_t max_rel = 40;
		cr_assert_eq(vv_index_load(&ix, f.idx, f.tidx, log_size, max_rel, &damaged), 0);
		for (size_t i = 0; i < ix.n; i++) {
			cr_assert_leq(ix.rel[i], max_rel);
			cr_assert_lt(ix.pos[i], log_size);
			if (i) {
				cr_assert_gt(ix.rel[i], ix.rel[i - 1]);
				cr_assert_gt(ix.pos[i], ix.pos[i - 1]);
			}
		}
		for (size_t i = 0; i < ix.tn; i++) {
			cr_assert_leq(ix.trel[i], max_rel);
			if (i) {
				cr_assert_gt(ix.tts[i], ix.tts[i - 1]);
				cr_assert_gt(ix.trel[i], ix.trel[i - 1]);
			}
		}
		cr_assert(damaged, "seed %llu: 32 random entries all passed", (unsigned long long)seed);
		vv_index_free(&ix);
		close_files(&f);
	}
}

Test(index, flush_appends_and_rewrite_replaces)
{
	files f;
	open_files(&f, "", 0, "", 0);
	vv_index ix;
	vv_index_init(&ix);
	cr_assert_eq(vv_index_add(&ix, 0, 0), 0);
	cr_assert_eq(vv_index_add(&ix, 7, 640), 0);
	cr_assert_eq(vv_index_add_time(&ix, 1000, 0), 0);
	cr_assert_eq(vv_index_flush(&ix, f.idx, f.tidx), 0);
	cr_assert_eq(t_fsize(f.ipath), 16);
	cr_assert_eq(t_fsize(f.tpath), 12);
	cr_assert_eq(vv_index_add(&ix, 9, 900), 0);
	cr_assert_eq(vv_index_add_time(&ix, 2000, 9), 0);
	cr_assert_eq(vv_index_flush(&ix, f.idx, f.tidx), 0);
	cr_assert_eq(t_fsize(f.ipath), 24);
	cr_assert_eq(t_fsize(f.tpath), 24);
	size_t n;
	uint8_t *b = t_read_file(f.ipath, &n);
	cr_assert_eq(vv_load32(b + 8), 7);
	cr_assert_eq(vv_load32(b + 12), 640);
	cr_assert_eq(vv_load32(b + 16), 9);
	cr_assert_eq(vv_load32(b + 20), 900);
	free(b);
	b = t_read_file(f.tpath, &n);
	cr_assert_eq((int64_t)vv_load64(b + 12), 2000);
	cr_assert_eq(vv_load32(b + 20), 9);
	free(b);
	/* flushing again writes nothing */
	cr_assert_eq(vv_index_flush(&ix, f.idx, f.tidx), 0);
	cr_assert_eq(t_fsize(f.ipath), 24);
	/* rewrite after a truncation: the files shrink to what is in memory */
	vv_index_truncate(&ix, 900, 9);
	cr_assert_eq(vv_index_rewrite(&ix, f.idx, f.tidx), 0);
	cr_assert_eq(t_fsize(f.ipath), 16);
	cr_assert_eq(t_fsize(f.tpath), 12);
	/* and loading gives back exactly that */
	vv_index back;
	vv_index_init(&back);
	int damaged = -1;
	cr_assert_eq(vv_index_load(&back, f.idx, f.tidx, 1000, 100, &damaged), 0);
	cr_assert_eq(damaged, 0);
	cr_assert_eq(back.n, 2);
	cr_assert_eq(back.pos[1], 640);
	cr_assert_eq(back.tn, 1);
	cr_assert_eq(back.tts[0], 1000);
	vv_index_free(&back);
	vv_index_free(&ix);
	close_files(&f);
}
