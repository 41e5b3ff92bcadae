/* SPDX-License-Identifier: MIT */
/*
 * fuzz_index -- the sparse offset index and the time index (src/index.c) and
 * the segment code that loads and trusts them (vv_segment_find,
 * vv_segment_find_time, vv_segment_load_stats), on hostile index files next
 * to a valid log.
 *
 * Four valid logs are built in memory at start-up (contiguous offsets and
 * rising timestamps; offset gaps, LZ4 and timestamps out of order; values
 * that hold whole encoded batches, so a misplaced index entry can land on
 * something that looks like a batch header; a single batch). Per input the
 * log is written to a scratch directory with an .index and a .timeindex that
 * are either the correct files (as the appender would write them at the
 * chosen index interval) with edits applied, raw bytes from the input,
 * missing, or empty. Then:
 *   - vv_index_load directly: what it keeps must be strictly increasing,
 *     inside the log (position < size, rel <= last rel); when it reports no
 *     damage it kept every entry of the files. Lookups stay within entries.
 *   - a segment attached to the files: vv_segment_find of every offset must
 *     give exactly the position of the batch holding it (the first batch
 *     past a gap); vv_segment_find_time of every record's timestamp must give
 *     a batch boundary at or before that record's batch. Twice: the second
 *     time on the files the first pass may have rebuilt (read-write mode).
 *   - vv_segment_load_stats: the segment's max timestamp. With
 *     FUZZ_INDEX_STRICT=1 it must equal the log's (see fuzz/README.md).
 *
 * Input layout:
 *   u8 flags  bits 0-1 log; bits 2-3 index interval (64, 200, 1024, 4096);
 *             bit 4 read-only segment config; bit 5 find_time before find;
 *             bit 6 load_stats first
 *   u8 modes  bits 0-1 .index, bits 2-3 .timeindex: 0 correct + edits,
 *             1 raw bytes, 2 missing, 3 empty
 *   for each file in mode 0: u8 count (<= 16), then count x (u8 entry,
 *             u8 op, u32 value); in mode 1: u16 length, bytes
 *   the rest: u32 extra target offsets / timestamps for lookups
 * Edit ops (entry index modulo the entries, +1 to append): 0 set the first
 * field (rel / ts low 32 bits), 1 set the second field (pos / rel), 2 add to
 * the first, 3 add to the second, 4 cut the file at this entry plus value %
 * entry size bytes (a torn write), 5 insert an entry made of the value,
 * 6 swap with the next entry, 7 ts = value << 32 | value (time index only).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "index.h"
#include "segment.h"

#define TARGET "fuzz_index"
#define NLOGS 4
#define MAX_EDITS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct tbatch {
	uint64_t pos;
	uint32_t len;
	int64_t base, last, max_ts;
} tbatch;

typedef struct trec {
	int64_t offset, ts;
	size_t batch;
} trec;

typedef struct tlog {
	uint8_t *bytes;
	size_t size;
	int64_t base, next, max_ts;
	tbatch *b;
	size_t nb;
	trec *r;
	size_t nr;
} tlog;

static tlog logs[NLOGS];
static char dir[4096];
static int strict;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void append_bytes(tlog *l, const uint8_t *p, size_t n)
{
	uint8_t *nb = realloc(l->bytes, l->size + n);
	if (!nb)
		abort();
	memcpy(nb + l->size, p, n);
	l->bytes = nb;
	l->size += n;
}

/* One batch of `count` records; offsets step by 1..`gap`; timestamps from ts(). */
static void add_batch(tlog *l, vv_batch_builder *bb, int64_t base, int count, int gap, int codec,
		      int64_t ts0, int64_t ts_jitter, const uint8_t *nested, size_t nested_len)
{
	vv_bb_reset(bb);
	uint8_t val[400];
	uint32_t delta = 0;
	for (int i = 0; i < count; i++) {
		size_t vl = 8 + (size_t)(rng() % 300);
		for (size_t k = 0; k < vl; k++)
			val[k] = (uint8_t)rng();
		const void *v = val;
		if (nested && i % 2 == 0) {
			v = nested;
			vl = nested_len;
		}
		char key[16];
		int kl = snprintf(key, sizeof key, "k%d", (int)(rng() % 50));
		int64_t ts = ts0 + (ts_jitter ? (int64_t)(rng() % (uint64_t)ts_jitter) : i);
		varve_record r = { key, (size_t)kl, v, vl, NULL, 0, ts, 0, 0, 0 };
		if (vv_bb_add(bb, delta, ts, &r))
			abort();
		if (i + 1 < count)
			delta += 1 + (uint32_t)(gap > 1 ? rng() % (uint64_t)gap : 0);
	}
	vv_batch_params prm = { base, codec, 1700000000000LL, -1, 0, -1 };
	const uint8_t *b;
	size_t bl;
	if (vv_bb_finish(bb, &prm, &b, &bl))
		abort();
	vv_batch_header h;
	if (vv_batch_parse_header(b, bl, (uint32_t)bl, &h))
		abort();
	tbatch tb = { l->size, (uint32_t)bl, h.base_offset, vv_batch_last_offset(&h), h.max_timestamp };
	l->b = realloc(l->b, (l->nb + 1) * sizeof *l->b);
	if (!l->b)
		abort();
	l->b[l->nb++] = tb;
	/* record offsets and timestamps, read back through the decoder */
	uint8_t *scratch = NULL;
	size_t scap = 0, hcap = 0;
	varve_header *hdrs = NULL;
	vv_record_reader rr;
	if (vv_record_reader_init(&rr, b, &h, &scratch, &scap, VV_MAX_BATCH_READ))
		abort();
	varve_record rec;
	while (vv_record_next(&rr, &rec, &hdrs, &hcap) == 0) {
		l->r = realloc(l->r, (l->nr + 1) * sizeof *l->r);
		if (!l->r)
			abort();
		l->r[l->nr++] = (trec){ rec.offset, rec.timestamp, l->nb - 1 };
	}
	free(scratch);
	free(hdrs);
	append_bytes(l, b, bl);
	if (h.max_timestamp > l->max_ts)
		l->max_ts = h.max_timestamp;
	l->next = tb.last + 1;
}

static void make_logs(void)
{
	vv_batch_builder bb, inner;
	vv_bb_init(&bb);
	vv_bb_init(&inner);
	int64_t t = 1700000000000LL;
	for (int v = 0; v < NLOGS; v++) {
		tlog *l = &logs[v];
		memset(l, 0, sizeof *l);
		l->max_ts = INT64_MIN;
	}
	/* 0: contiguous offsets, rising timestamps */
	tlog *l = &logs[0];
	l->base = l->next = 0;
	/* (rng() is called in separate statements: argument order is unspecified) */
	for (int i = 0; i < 40; i++) {
		int cnt = 1 + (int)(rng() % 4);
		add_batch(l, &bb, l->next, cnt, 1, VARVE_CODEC_NONE, t + i * 10, 0, NULL, 0);
	}
	/* 1: gaps between records and batches, some LZ4, timestamps out of order */
	l = &logs[1];
	l->base = l->next = 5000;
	for (int i = 0; i < 30; i++) {
		int64_t b = l->next + (int64_t)(rng() % 4);
		int cnt = 1 + (int)(rng() % 5);
		int64_t t0 = t + (int64_t)(rng() % 1000);
		add_batch(l, &bb, b, cnt, 3, i % 3 == 0 ? VARVE_CODEC_LZ4 : VARVE_CODEC_NONE, t0, 500,
			  NULL, 0);
	}
	/* 2: values that are whole batches whose base offsets are real offsets
	 * of this log, so an index entry pointing inside a value finds a
	 * plausible header there */
	l = &logs[2];
	l->base = l->next = 100;
	for (int i = 0; i < 24; i++) {
		vv_bb_reset(&inner);
		varve_record ir = { "x", 1, "fake", 4, NULL, 0, t, 0, 0, 0 };
		if (vv_bb_add(&inner, 0, t, &ir))
			abort();
		vv_batch_params ip = { l->next + 2, VARVE_CODEC_NONE, t, -1, 0, -1 };
		const uint8_t *ib;
		size_t il;
		if (vv_bb_finish(&inner, &ip, &ib, &il))
			abort();
		uint8_t copy[256];
		if (il > sizeof copy)
			abort();
		memcpy(copy, ib, il);
		int cnt = 1 + (int)(rng() % 4);
		add_batch(l, &bb, l->next, cnt, 1, VARVE_CODEC_NONE, t + i * 5, 0, copy, il);
	}
	/* 3: one batch */
	l = &logs[3];
	l->base = l->next = 7;
	add_batch(l, &bb, 7, 3, 2, VARVE_CODEC_NONE, t, 0, NULL, 0);
	vv_bb_free(&bb);
	vv_bb_free(&inner);
}

static void cleanup(void)
{
	if (dir[0])
		fz_rm_tree(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	make_logs();
	if (fz_mkdtemp(dir, sizeof dir, "index"))
		abort();
	atexit(cleanup);
	const char *e = getenv("FUZZ_INDEX_STRICT");
	strict = e && *e == '1';
	return 0;
}

/* The files the appender writes for l at this interval. */
static void correct_index(const tlog *l, uint32_t interval, vv_index *ix)
{
	vv_index_init(ix);
	vv_index_cursor c;
	vv_index_cursor_reset(&c, ix);
	int64_t max_ts = INT64_MIN;
	for (size_t i = 0; i < l->nb; i++) {
		if (l->b[i].max_ts > max_ts)
			max_ts = l->b[i].max_ts;
		if (vv_index_note(ix, &c, l->b[i].pos, (uint32_t)(l->b[i].base - l->base), max_ts, interval))
			abort();
	}
	if (vv_index_seal(ix, &c, max_ts, (uint32_t)(l->next - 1 - l->base)))
		abort();
}

typedef struct buf {
	uint8_t *p;
	size_t n;
} buf;

static void put_entry(buf *b, size_t at, const uint8_t *e, size_t esz)
{
	uint8_t *np = realloc(b->p, b->n + esz);
	if (!np)
		abort();
	memmove(np + (at + 1) * esz, np + at * esz, b->n - at * esz);
	memcpy(np + at * esz, e, esz);
	b->p = np;
	b->n += esz;
}

/* Build one index file's bytes from the input. time: 12-byte entries. */
static int file_bytes(fz_in *s, int mode, const vv_index *ix, int time, buf *out)
{
	size_t esz = time ? VV_TIMEINDEX_ENTRY : VV_INDEX_ENTRY;
	out->p = NULL;
	out->n = 0;
	if (mode == 2)
		return 0; /* missing */
	if (mode == 3)
		return 1; /* empty */
	if (mode == 1) {
		size_t got;
		const uint8_t *p = fz_bytes(s, (size_t)fz_take(s, 2), &got);
		out->p = malloc(got ? got : 1);
		if (!out->p)
			abort();
		memcpy(out->p, p, got);
		out->n = got;
		return 1;
	}
	size_t n = time ? ix->tn : ix->n;
	out->p = malloc(n * esz + 1);
	if (!out->p)
		abort();
	out->n = n * esz;
	for (size_t i = 0; i < n; i++) {
		if (time) {
			vv_store64(out->p + i * 12, (uint64_t)ix->tts[i]);
			vv_store32(out->p + i * 12 + 8, ix->trel[i]);
		} else {
			vv_store32(out->p + i * 8, ix->rel[i]);
			vv_store32(out->p + i * 8 + 4, ix->pos[i]);
		}
	}
	int edits = (int)(fz_take(s, 1) % (MAX_EDITS + 1));
	for (int k = 0; k < edits; k++) {
		size_t cnt = out->n / esz;
		size_t e = (size_t)fz_take(s, 1) % (cnt + 1);
		int op = (int)(fz_take(s, 1) % 8);
		uint32_t v = (uint32_t)fz_take(s, 4);
		if (op == 5 || e == cnt) {
			uint8_t ent[12];
			if (time) {
				vv_store64(ent, (uint64_t)(int64_t)(int32_t)v + 1700000000000ULL);
				vv_store32(ent + 8, v >> 8);
			} else {
				vv_store32(ent, v & 0xffff);
				vv_store32(ent + 4, v >> 16);
			}
			put_entry(out, e, ent, esz);
			continue;
		}
		uint8_t *p = out->p + e * esz;
		size_t f2 = time ? 8 : 4;
		switch (op) {
		case 0: vv_store32(p, v); break;
		case 1: vv_store32(p + f2, v); break;
		case 2: vv_store32(p, vv_load32(p) + v); break;
		case 3: vv_store32(p + f2, vv_load32(p + f2) + v); break;
		case 4: out->n = e * esz + v % esz; break;
		case 6:
			if (e + 1 < cnt) {
				uint8_t tmp[12];
				memcpy(tmp, p, esz);
				memmove(p, p + esz, esz);
				memcpy(p + esz, tmp, esz);
			}
			break;
		default:
			if (time)
				vv_store64(p, ((uint64_t)v << 32) | v);
			break;
		}
	}
	return 1;
}

static void write_or_remove(const char *path, const buf *b, int present)
{
	if (!present) {
		unlink(path);
		return;
	}
	if (fz_write_file(path, b->p, b->n))
		abort();
}

/* vv_index_load on the files as written. */
static void check_load(const tlog *l, const char *ipath, const char *tpath, const buf *ib, int ip,
		       const buf *tb, int tp, const uint32_t *targets, size_t nt)
{
	vv_file *idx = NULL, *tidx = NULL;
	if (ip && vv_io_open(NULL, ipath, VV_O_RDONLY, 0600, &idx))
		abort();
	if (tp && vv_io_open(NULL, tpath, VV_O_RDONLY, 0600, &tidx))
		abort();
	vv_index ix;
	vv_index_init(&ix);
	int damaged = -1;
	uint32_t max_rel = (uint32_t)(l->next - 1 - l->base);
	int rc = vv_index_load(&ix, idx, tidx, l->size, max_rel, &damaged);
	if (rc)
		fz_fail(TARGET, "vv_index_load failed on readable files");
	if (damaged != 0 && damaged != 1)
		fz_fail(TARGET, "vv_index_load left damaged unset");
	for (size_t i = 0; i < ix.n; i++) {
		if (ix.rel[i] > max_rel || ix.pos[i] >= l->size)
			fz_fail(TARGET, "loaded an offset entry outside the log");
		if (i && (ix.rel[i] <= ix.rel[i - 1] || ix.pos[i] <= ix.pos[i - 1]))
			fz_fail(TARGET, "loaded offset entries not strictly increasing");
	}
	for (size_t i = 0; i < ix.tn; i++) {
		if (ix.trel[i] > max_rel)
			fz_fail(TARGET, "loaded a time entry past the last offset");
		if (i && (ix.tts[i] <= ix.tts[i - 1] || ix.trel[i] <= ix.trel[i - 1]))
			fz_fail(TARGET, "loaded time entries not strictly increasing");
	}
	if (!damaged) {
		if (!ip || !tp)
			fz_fail(TARGET, "a missing index file was not reported as damage");
		if (ix.n != ib->n / VV_INDEX_ENTRY || ix.tn != tb->n / VV_TIMEINDEX_ENTRY)
			fz_fail(TARGET, "an undamaged load dropped entries");
		for (size_t i = 0; i < ix.n; i++)
			if (ix.rel[i] != vv_load32(ib->p + i * 8) || ix.pos[i] != vv_load32(ib->p + i * 8 + 4))
				fz_fail(TARGET, "an undamaged load changed an entry");
		for (size_t i = 0; i < ix.tn; i++)
			if (ix.tts[i] != (int64_t)vv_load64(tb->p + i * 12) ||
			    ix.trel[i] != vv_load32(tb->p + i * 12 + 8))
				fz_fail(TARGET, "an undamaged load changed a time entry");
	}
	if (ix.written_n != ix.n || ix.written_tn != ix.tn)
		fz_fail(TARGET, "loaded entries not marked as written");
	for (size_t k = 0; k < nt; k++) {
		uint32_t found = UINT32_MAX;
		uint32_t pos = vv_index_lookup(&ix, targets[k], &found);
		if (found > targets[k] && !(found == 0 && pos == 0))
			fz_fail(TARGET, "vv_index_lookup found an entry past the target");
		uint32_t scan = UINT32_MAX;
		long ti = vv_index_lookup_time(&ix, (int64_t)targets[k] + 1700000000000LL, &scan);
		if (ti >= (long)ix.tn || ti < -1)
			fz_fail(TARGET, "vv_index_lookup_time out of range");
		if (ti >= 0 && ix.tts[ti] < (int64_t)targets[k] + 1700000000000LL)
			fz_fail(TARGET, "vv_index_lookup_time gave an entry below the target");
	}
	/* truncation keeps the invariants */
	if (nt) {
		vv_index_truncate(&ix, targets[0] % (l->size + 1), targets[0] % (max_rel + 2));
		for (size_t i = 1; i < ix.n; i++)
			if (ix.pos[i] <= ix.pos[i - 1])
				fz_fail(TARGET, "truncate broke the order");
	}
	vv_index_free(&ix);
	vv_io_close(idx);
	vv_io_close(tidx);
}

/* Position vv_segment_find must give for offset. */
static uint64_t truth_find(const tlog *l, int64_t offset)
{
	if (offset <= l->base)
		return 0;
	if (offset >= l->next)
		return l->size;
	for (size_t i = 0; i < l->nb; i++)
		if (l->b[i].last >= offset)
			return l->b[i].pos;
	return l->size;
}

static int is_boundary(const tlog *l, uint64_t pos)
{
	if (pos == l->size)
		return 1;
	for (size_t i = 0; i < l->nb; i++)
		if (l->b[i].pos == pos)
			return 1;
	return 0;
}

static void check_finds(const tlog *l, vv_segment *s)
{
	for (int64_t off = l->base - 1; off <= l->next; off++) {
		uint64_t pos = UINT64_MAX;
		int rc = vv_segment_find(s, off, &pos);
		if (rc) {
			fprintf(stderr, "%s: find(%" PRId64 ") rc %d: %s\n", TARGET, off, rc,
				varve_last_error()->message);
			fz_fail(TARGET, "vv_segment_find failed on a valid log");
		}
		if (pos != truth_find(l, off)) {
			fprintf(stderr, "%s: find(%" PRId64 ") = %" PRIu64 ", the batch is at %" PRIu64 "\n",
				TARGET, off, pos, truth_find(l, off));
			fz_fail(TARGET, "vv_segment_find landed on the wrong batch");
		}
	}
}

/* exact: the time index is the one the appender writes, or strict mode (a
 * time index that lies about early timestamps makes lookups start too late;
 * see fuzz/README.md, known issues) */
static void check_find_time(const tlog *l, vv_segment *s, const uint32_t *targets, size_t nt,
			    int exact)
{
	size_t total = l->nr + nt;
	for (size_t k = 0; k < total; k++) {
		int64_t ts = k < l->nr ? l->r[k].ts : (int64_t)(int32_t)targets[k - l->nr] + 1700000000000LL;
		/* the first record (offset order) with a timestamp >= ts */
		long want = -1;
		for (size_t i = 0; i < l->nr; i++)
			if (l->r[i].ts >= ts) {
				want = (long)i;
				break;
			}
		uint64_t pos = UINT64_MAX;
		int found = -1;
		int rc = vv_segment_find_time(s, ts, &pos, &found);
		if (rc) {
			fprintf(stderr, "%s: find_time rc %d: %s\n", TARGET, rc, varve_last_error()->message);
			fz_fail(TARGET, "vv_segment_find_time failed on a valid log");
		}
		if (!is_boundary(l, pos))
			fz_fail(TARGET, "vv_segment_find_time gave a position off a batch boundary");
		if (want < 0 || !exact)
			continue;
		uint64_t at = l->b[l->r[want].batch].pos;
		if (!found || pos > at) {
			fprintf(stderr, "%s: find_time(%" PRId64 ") = found %d pos %" PRIu64
				"; the first record at or past it is offset %" PRId64 " in the batch at %" PRIu64 "\n",
				TARGET, ts, found, pos, l->r[want].offset, at);
			fz_fail(TARGET, "vv_segment_find_time would miss a record");
		}
	}
}

static void check_stats(const tlog *l, vv_segment *s)
{
	int rc = vv_segment_load_stats(s);
	if (rc) {
		fprintf(stderr, "%s: load_stats rc %d: %s\n", TARGET, rc, varve_last_error()->message);
		fz_fail(TARGET, "vv_segment_load_stats failed on a valid log");
	}
	int64_t mts = atomic_load(&s->max_ts);
	if (strict && mts != l->max_ts) {
		fprintf(stderr, "%s: load_stats max_ts %" PRId64 ", the log's is %" PRId64 "\n", TARGET, mts,
			l->max_ts);
		fz_fail(TARGET, "vv_segment_load_stats took a max timestamp from a lying time index");
	}
}

static void segment_pass(const tlog *l, const vv_seg_config *cfg, int order, const uint32_t *targets,
			 size_t nt, int exact)
{
	vv_segment *s;
	if (vv_segment_attach(dir, l->base, l->size, cfg, &s))
		abort();
	atomic_store(&s->next_offset, l->next);
	s->sealed = 1;
	if (order & 4)
		check_stats(l, s);
	if (order & 2)
		check_find_time(l, s, targets, nt, exact);
	check_finds(l, s);
	if (!(order & 2))
		check_find_time(l, s, targets, nt, exact);
	if (!(order & 4))
		check_stats(l, s);
	vv_segment_unref(s);
	vv_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	fz_in s = { data, size };
	uint8_t fl = (uint8_t)fz_take(&s, 1), modes = (uint8_t)fz_take(&s, 1);
	const tlog *l = &logs[fl & 3];
	static const uint32_t intervals[4] = { 64, 200, 1024, 4096 };
	uint32_t interval = intervals[(fl >> 2) & 3];
	vv_index ix;
	correct_index(l, interval, &ix);
	buf ib, tb;
	int ip = file_bytes(&s, modes & 3, &ix, 0, &ib);
	const uint8_t *before = s.p;
	int tp = file_bytes(&s, (modes >> 2) & 3, &ix, 1, &tb);
	/* correct + no edits (the edit count byte is 0 or the input ran out) */
	int pristine_time = ((modes >> 2) & 3) == 0 && (s.p == before || before[0] % (MAX_EDITS + 1) == 0);
	vv_index_free(&ix);
	uint32_t targets[32];
	size_t nt = 0;
	while (s.n && nt < 32)
		targets[nt++] = (uint32_t)fz_take(&s, 4);

	char lpath[4096], ipath[4096], tpath[4096];
	vv_segment_path(lpath, sizeof lpath, dir, l->base, ".log");
	vv_segment_path(ipath, sizeof ipath, dir, l->base, ".index");
	vv_segment_path(tpath, sizeof tpath, dir, l->base, ".timeindex");
	if (fz_write_file(lpath, l->bytes, l->size))
		abort();
	write_or_remove(ipath, &ib, ip);
	write_or_remove(tpath, &tb, tp);

	check_load(l, ipath, tpath, &ib, ip, &tb, tp, targets, nt);

	vv_seg_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.index_interval = interval;
	cfg.max_batch = VV_MAX_BATCH_READ;
	cfg.file_mode = 0600;
	cfg.read_only = (fl & 16) != 0;
	cfg.segment_bytes = 1u << 20;
	int order = ((fl & 32) ? 2 : 0) | ((fl & 64) ? 4 : 0);
	/* the time index as written, or one the first pass rebuilt */
	int exact = strict || pristine_time;
	segment_pass(l, &cfg, order, targets, nt, exact);
	/* again, on whatever the first pass left in the files (a rebuild
	 * rewrites them in read-write mode) */
	segment_pass(l, &cfg, order ^ 2, targets, nt, exact);

	free(ib.p);
	free(tb.p);
	unlink(lpath);
	unlink(ipath);
	unlink(tpath);
	return 0;
}
