/* SPDX-License-Identifier: MIT */
/*
 * fuzz_recovery -- arbitrary bytes become the segment files of a partition
 * (and optionally its .index/.timeindex files, a recovery point and the CLEAN
 * marker) in a fresh store under /dev/shm; the store is then opened through
 * the public API and every record is read back.
 *
 * Per input, in a new directory:
 *   1. read-only open of the damaged layout (a reader never cuts): iterate;
 *   2. read-write open (recovery cuts what is damaged): iterate -> list A;
 *      close (clean);
 *   3. read-write open again: must succeed and give exactly list A
 *      (recovery is idempotent); close;
 *   4. read-only open: must succeed and give exactly list A.
 * Every open may fail with a clean VARVE_E* code (then the later steps are
 * skipped) but must not crash, leak or hang. Iteration checks: offsets
 * strictly increasing within [log start, log end), records decode (a
 * VARVE_ECORRUPT stop is allowed: damage below a recovery point is reported
 * by the reads that reach it), and varve_offset_for_time(ts of a record)
 * finds an offset at or before that record.
 *
 * Input layout (everything optional; short inputs give defaults):
 *   u8 flags   bits 0-1 segments - 1; bit 2 .index files; bit 3 .timeindex
 *              files; bit 4 recovery point; bit 5 CLEAN marker; bit 6 repair
 *              checksums of every batch that parses; bit 7 recovery point
 *              from fields (valid checksum) instead of 48 raw bytes
 *   u8 flags2  bit 0 renumber batches (base offsets follow on, with bit 6);
 *              bit 1 mmap for the writer opens; bit 2 the topic has a dedup
 *              window (open reads the partition); bit 3 index interval 64;
 *              bit 4 a stray .tmp file; bit 5 the topic uses append time;
 *              bit 6 skip the first read-only open
 *   per segment: u32 (first) or u16 (later) base delta, u16 log length,
 *              log bytes, then [u16 length, .index bytes], [u16 length,
 *              .timeindex bytes] as the flags say
 *   recovery point: 48 raw bytes, or (bit 7) u8 segment, u16 position,
 *              u16 offset - base, u16 log start - first base
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "partition.h"
#include "topic.h"
#include "varve.h"

#define TARGET "fuzz_recovery"
#define MAX_SEGS 4
#define MAX_RECORDS 200000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rec_sum {
	int64_t offset;
	uint64_t hash;
} rec_sum;

typedef struct rec_list {
	rec_sum *v;
	size_t n, cap;
	int64_t start, end;
	int stopped; /* iteration ended in an error, not VARVE_EEND */
	int ok;      /* the open succeeded */
} rec_list;

static void list_free(rec_list *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

static void list_push(rec_list *l, int64_t off, uint64_t h)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		rec_sum *nv = realloc(l->v, nc * sizeof *nv);
		if (!nv)
			abort();
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = (rec_sum){ off, h };
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t rec_hash(const varve_record *r)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint64_t meta[4] = { (uint64_t)r->timestamp, r->key ? r->key_len : UINT64_MAX,
			     r->value ? r->value_len : UINT64_MAX, r->header_count };
	h = mix(h, meta, sizeof meta);
	if (r->key)
		h = mix(h, r->key, r->key_len);
	if (r->value)
		h = mix(h, r->value, r->value_len);
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *hd = &r->headers[i];
		uint64_t hm[2] = { hd->key_len, hd->value ? hd->value_len : UINT64_MAX };
		h = mix(h, hm, sizeof hm);
		h = mix(h, hd->key, hd->key_len);
		if (hd->value)
			h = mix(h, hd->value, hd->value_len);
	}
	return h;
}

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return 1800000000000LL;
}

static void check_code(int rc)
{
	if (rc > 0 || rc < VARVE_EDUPLICATE)
		fz_fail(TARGET, "an API call returned an unknown error code");
	if (rc && varve_errmsg(rc) == NULL)
		fz_fail(TARGET, "varve_errmsg returned NULL");
}

/* Read every record of topic "t" partition 0 into l. */
static void read_all(varve_db *db, rec_list *l)
{
	int64_t start = -1, end = -1;
	int rc = varve_offsets(db, "t", 0, &start, &end);
	check_code(rc);
	if (rc) {
		fprintf(stderr, "%s: varve_offsets: %s\n", TARGET, varve_last_error()->message);
		fz_fail(TARGET, "varve_offsets failed on an open store");
	}
	if (start < 0 || end < start) {
		fprintf(stderr, "%s: log start %" PRId64 ", end %" PRId64 "\n", TARGET, start, end);
		fz_fail(TARGET, "log start/end out of order");
	}
	l->start = start;
	l->end = end;
	varve_partition_info info = { VARVE_PARTITION_INFO_VERSION };
	rc = varve_partition_info_get(db, "t", 0, &info);
	check_code(rc);
	if (rc == 0 && (info.start_offset != start || info.end_offset != end))
		fz_fail(TARGET, "partition info disagrees with varve_offsets");

	varve_iter *it = NULL;
	rc = varve_iter_open(db, "t", 0, start, &it);
	check_code(rc);
	if (rc) {
		l->stopped = 1;
		return;
	}
	int64_t prev = -1;
	const varve_record *r;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		if (r->offset < start || r->offset >= end) {
			fprintf(stderr, "%s: offset %" PRId64 ", log start %" PRId64 ", end %" PRId64 "\n",
				TARGET, r->offset, start, end);
			fz_fail(TARGET, "record offset outside [log start, log end)");
		}
		if (r->offset <= prev)
			fz_fail(TARGET, "record offsets not strictly increasing");
		if ((r->key_len && !r->key) || (r->value_len && !r->value) ||
		    (r->header_count && !r->headers))
			fz_fail(TARGET, "record with a length but no bytes");
		prev = r->offset;
		list_push(l, r->offset, rec_hash(r));
		if (l->n > MAX_RECORDS)
			break;
	}
	check_code(rc);
	if (rc != VARVE_EEND)
		l->stopped = 1;
	if (rc == VARVE_EEND && varve_iter_position(it) > end)
		fz_fail(TARGET, "iterator position past the log end");
	/* seek back into the middle and read one record: it must be the same */
	if (l->n > 1 && !l->stopped) {
		size_t mid = l->n / 2;
		rc = varve_iter_seek(it, l->v[mid].offset);
		check_code(rc);
		if (rc == 0) {
			rc = varve_iter_next(it, &r);
			check_code(rc);
			if (rc == 0 && (r->offset != l->v[mid].offset || rec_hash(r) != l->v[mid].hash))
				fz_fail(TARGET, "seek then next gave another record");
		}
	}
	varve_iter_close(it);
}

/* varve_offset_for_time of a few records' timestamps: the first offset with
 * timestamp >= ts is at or before the record. Only on a clean iteration. */
static void check_times(varve_db *db, const rec_list *l, const int64_t *ts, size_t nts)
{
	for (size_t i = 0; i < nts; i++) {
		int64_t off = -1;
		int rc = varve_offset_for_time(db, "t", 0, ts[i * 2], &off);
		check_code(rc);
		if (rc == VARVE_ECORRUPT)
			continue;
		if (rc)
			fz_fail(TARGET, "varve_offset_for_time found no record for a stored timestamp");
		if (off > ts[i * 2 + 1])
			fz_fail(TARGET, "varve_offset_for_time answered past a record with that timestamp");
		if (off < l->start)
			fz_fail(TARGET, "varve_offset_for_time answered below the log start");
	}
}

/* Open, read, close. Returns the open's result. */
static int pass(const char *store, int ro, int mmap, uint32_t interval, rec_list *l)
{
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %s open%s\n", TARGET, ro ? "read-only" : "read-write",
			mmap ? " (mmap)" : "");
	varve_options o = VARVE_OPTIONS_INIT;
	o.read_only = ro;
	o.create_if_missing = 0;
	o.sync_policy = VARVE_SYNC_NONE;
	o.start_cleaner = 0;
	o.segment_bytes = 1u << 20;
	o.index_interval_bytes = interval;
	o.use_mmap = mmap;
	o.clock_fn = fixed_clock;
	o.max_open_files = 16;
	varve_db *db = NULL;
	int rc = varve_open(store, &o, &db);
	check_code(rc);
	if (rc) {
		if (db)
			fz_fail(TARGET, "failed open returned a handle");
		if (varve_last_error()->code != rc)
			fz_fail(TARGET, "varve_last_error does not match the failed open");
		return rc;
	}
	l->ok = 1;
	char **names = NULL;
	size_t nn = 0;
	rc = varve_topic_list(db, &names, &nn);
	check_code(rc);
	if (rc == 0)
		varve_strings_free(names, nn);
	const varve_recovery_cut *cuts;
	size_t ncuts;
	if (varve_recovery_cuts(db, &cuts, &ncuts) == 0) {
		for (size_t i = 0; i < ncuts; i++)
			if (strnlen(cuts[i].reason, sizeof cuts[i].reason) == sizeof cuts[i].reason)
				fz_fail(TARGET, "recovery cut reason not terminated");
	}
	read_all(db, l);
	if (!l->stopped && l->n) {
		/* timestamps of the first, a middle and the last record */
		varve_iter *it;
		int64_t ts[6];
		size_t nts = 0;
		size_t pick[3] = { 0, l->n / 2, l->n - 1 };
		for (size_t k = 0; k < 3; k++) {
			if (varve_iter_open(db, "t", 0, l->v[pick[k]].offset, &it))
				continue;
			const varve_record *r;
			if (varve_iter_next(it, &r) == 0 && r->offset == l->v[pick[k]].offset) {
				ts[nts * 2] = r->timestamp;
				ts[nts * 2 + 1] = r->offset;
				nts++;
			}
			varve_iter_close(it);
		}
		check_times(db, l, ts, nts);
	}
	rc = varve_close(db);
	check_code(rc);
	return 0;
}

static int same_lists(const rec_list *a, const rec_list *b)
{
	if (a->n != b->n || a->start != b->start || a->end != b->end || a->stopped != b->stopped)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].offset != b->v[i].offset || a->v[i].hash != b->v[i].hash)
			return 0;
	return 1;
}

/* The metadata log: one record creating topic "t" (1 partition). */
static int write_meta(const char *store, int dedup, int append_time)
{
	varve_topic_config cfg = VARVE_TOPIC_CONFIG_INIT;
	if (dedup)
		cfg.dedup_window_ms = 3600 * 1000;
	if (append_time)
		cfg.timestamp_type = VARVE_TIMESTAMP_APPEND;
	uint8_t val[VV_TOPIC_CONFIG_MAX];
	size_t vl = vv_topic_config_encode(&cfg, 1700000000000LL, val);
	static const char key[] = "Tt";
	varve_record r = { key, 2, val, vl, NULL, 0, 1700000000000LL, 0, 0, 0 };
	vv_batch_builder bb;
	vv_bb_init(&bb);
	const uint8_t *b;
	size_t bl;
	vv_batch_params prm = { 0, VARVE_CODEC_NONE, 1700000000000LL, -1, 0, -1 };
	int rc = vv_bb_add(&bb, 0, r.timestamp, &r);
	if (rc == 0)
		rc = vv_bb_finish(&bb, &prm, &b, &bl);
	char path[4096];
	snprintf(path, sizeof path, "%s/meta", store);
	if (rc == 0)
		rc = fz_mkdirs(path);
	snprintf(path, sizeof path, "%s/meta/00000000000000000000.log", store);
	if (rc == 0)
		rc = fz_write_file(path, b, bl);
	vv_bb_free(&bb);
	return rc;
}

static void seg_file(char *out, size_t cap, const char *pdir, int64_t base, const char *sfx)
{
	snprintf(out, cap, "%s/%020" PRId64 "%s", pdir, base, sfx);
}

/* With FUZZ_RECOVERY_LOOSE_RP=1, a recovery point from fields takes its
 * position and offset from the input as they are, so they need not match the
 * log, and the log start may lie past the end (points no writer leaves; see
 * fuzz/README.md, known issues). */
static int loose_rp;

/* With FUZZ_RECOVERY_OVERLAP=1, segment bases come from the input as they
 * are, so a segment may hold offsets at or past the next segment's base (see
 * fuzz/README.md, known issues). */
static int overlap;

/* Largest last offset of the batch headers that parse in a row from 0. */
static int64_t max_last_offset(const uint8_t *log, size_t n)
{
	int64_t last = -1;
	size_t pos = 0;
	while (pos + VV_BATCH_HEADER_SIZE <= n) {
		vv_batch_header h;
		if (vv_batch_parse_header(log + pos, n - pos, VV_MAX_BATCH_READ, &h))
			break;
		if (vv_batch_last_offset(&h) > last)
			last = vv_batch_last_offset(&h);
		pos += h.length;
	}
	return last;
}

/* The pick-th batch boundary of the segment (wrapping), and its offset. */
static void consistent_point(const char *pdir, int64_t base, uint64_t pick, vv_recovery_point *p)
{
	char path[4096];
	seg_file(path, sizeof path, pdir, base, ".log");
	p->position = 0;
	p->offset = base;
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	uint8_t buf[65536 + 1];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	uint64_t bounds[256], offs[256];
	size_t nb = 0, pos = 0;
	int64_t next = base;
	bounds[nb] = 0;
	offs[nb++] = (uint64_t)base;
	while (pos + VV_BATCH_HEADER_SIZE <= n && nb < 256) {
		vv_batch_header h;
		if (vv_batch_parse_header(buf + pos, n - pos, (uint32_t)(n - pos), &h) ||
		    h.length > n - pos || vv_batch_checksum_ok(buf + pos, &h) || h.base_offset < next)
			break;
		pos += h.length;
		next = vv_batch_last_offset(&h) + 1;
		bounds[nb] = pos;
		offs[nb++] = (uint64_t)next;
	}
	p->position = bounds[pick % nb];
	p->offset = (int64_t)offs[pick % nb];
}

/* Lay out the store in root from the input; 0 on success. */
static int build(const char *root, const uint8_t *data, size_t size, uint8_t *fl2_out)
{
	fz_in s = { data, size };
	uint8_t fl = (uint8_t)fz_take(&s, 1), fl2 = (uint8_t)fz_take(&s, 1);
	*fl2_out = fl2;
	char path[4096], pdir[4096];
	snprintf(path, sizeof path, "%s/VERSION", root);
	if (fz_write_file(path, "1\n", 2))
		return -1;
	if (write_meta(root, fl2 & 4, fl2 & 32))
		return -1;
	snprintf(pdir, sizeof pdir, "%s/topics/t/0", root);
	if (fz_mkdirs(pdir))
		return -1;
	if (fl & 32) {
		snprintf(path, sizeof path, "%s/CLEAN", root);
		if (fz_write_file(path, "", 0))
			return -1;
	}
	if (fl2 & 16) {
		snprintf(path, sizeof path, "%s/recovery-point.tmp", pdir);
		if (fz_write_file(path, "x", 1))
			return -1;
	}
	int nsegs = (fl & 3) + 1;
	int64_t bases[MAX_SEGS];
	int64_t base = 0;
	int64_t next = 0;
	int64_t floor = -1; /* the last offset the previous segment's headers name */
	for (int i = 0; i < nsegs; i++) {
		base = i == 0 ? (int64_t)fz_take(&s, 4) : base + 1 + (int64_t)fz_take(&s, 2);
		if (i && base <= floor)
			base = floor + 1 + (base - bases[i - 1] - 1);
		bases[i] = base;
		size_t want = (size_t)fz_take(&s, 2), got;
		const uint8_t *lb = fz_bytes(&s, want, &got);
		uint8_t *log = malloc(got ? got : 1);
		if (!log)
			return -1;
		memcpy(log, lb, got);
		if (fl & 64) {
			if (i == 0 || next < base)
				next = base;
			(void)fz_repair_batches(log, got, fl2 & 1, &next);
		}
		if (!overlap) {
			/* the next segment starts past every offset whose batch
			 * header parses here (checksums aside) */
			int64_t last = max_last_offset(log, got);
			floor = last >= base && last < INT64_MAX / 4 ? last : -1;
		}
		seg_file(path, sizeof path, pdir, base, ".log");
		int rc = fz_write_file(path, log, got);
		free(log);
		if (rc)
			return -1;
		static const char *const sfx[2] = { ".index", ".timeindex" };
		for (int k = 0; k < 2; k++) {
			if (!(fl & (4 << k)))
				continue;
			want = (size_t)fz_take(&s, 2);
			const uint8_t *ib = fz_bytes(&s, want, &got);
			seg_file(path, sizeof path, pdir, base, sfx[k]);
			if (fz_write_file(path, ib, got))
				return -1;
		}
	}
	if (fl & 16) {
		uint8_t rp[VV_RECOVERY_POINT_SIZE];
		if (fl & 128) {
			vv_recovery_point p;
			int seg = (int)(fz_take(&s, 1) % (uint64_t)nsegs);
			uint64_t pick = fz_take(&s, 2), delta = fz_take(&s, 2);
			uint64_t start = fz_take(&s, 2);
			p.segment_base = bases[seg];
			if (loose_rp) {
				p.position = pick;
				p.offset = bases[seg] + (int64_t)delta;
				p.log_start = bases[0] + (int64_t)start;
			} else {
				/* retention moves the log start to a segment's base */
				p.log_start = bases[start % (uint64_t)(seg + 1)];
				/* a point a writer could have left: a batch boundary and
				 * the offset after the batches before it */
				consistent_point(pdir, bases[seg], pick, &p);
			}
			vv_recovery_point_encode(&p, rp);
		} else {
			size_t got;
			const uint8_t *rb = fz_bytes(&s, sizeof rp, &got);
			memset(rp, 0, sizeof rp);
			memcpy(rp, rb, got);
		}
		snprintf(path, sizeof path, "%s/recovery-point", pdir);
		if (fz_write_file(path, rp, sizeof rp))
			return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char root[4096];
	const char *lr = getenv("FUZZ_RECOVERY_LOOSE_RP");
	loose_rp = lr && *lr == '1';
	const char *ov = getenv("FUZZ_RECOVERY_OVERLAP");
	overlap = ov && *ov == '1';
	if (fz_mkdtemp(root, sizeof root, "recovery"))
		abort();
	uint8_t fl2 = 0;
	if (build(root, data, size, &fl2)) {
		fz_rm_tree(root);
		abort(); /* the scratch filesystem failed us, not varve */
	}
	int mmap = (fl2 & 2) != 0;
	uint32_t interval = (fl2 & 8) ? 64 : 4096;
	rec_list first = { 0 }, a = { 0 }, b = { 0 }, c = { 0 };
	if (getenv("FUZZ_KEEP_DIR"))
		fprintf(stderr, "%s: store in %s\n", TARGET, root);
	if (!(fl2 & 64))
		(void)pass(root, 1, 0, interval, &first);
	int rc = pass(root, 0, mmap, interval, &a);
	if (rc == 0) {
		rc = pass(root, 0, mmap, interval, &b);
		if (rc)
			fz_fail(TARGET, "a second read-write open failed after a successful one");
		if (!same_lists(&a, &b))
			fz_fail(TARGET, "recovery is not idempotent: the second open reads other records");
		rc = pass(root, 1, 0, interval, &c);
		if (rc)
			fz_fail(TARGET, "a read-only open failed after a clean close");
		if (!same_lists(&a, &c))
			fz_fail(TARGET, "the read-only open reads other records than the writer");
	}
	list_free(&first);
	list_free(&a);
	list_free(&b);
	list_free(&c);
	if (getenv("FUZZ_KEEP_DIR"))
		fprintf(stderr, "%s: kept %s\n", TARGET, root);
	else
		fz_rm_tree(root);
	return 0;
}
