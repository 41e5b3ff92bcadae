/* SPDX-License-Identifier: MIT */
/*
 * Golden vectors of the on-disk structures (the .hex files of tests/golden/vectors/,
 * checked by hand against docs/FORMAT.md): each encoder must write exactly
 * the bytes of its vector, and each decoder must read exactly the fields
 * the vector's comments give. A round trip cannot catch an encoder and a
 * decoder that changed the same way; these can.
 *
 * Encoders and decoders are the library's internal ones (white box):
 * batches (vv_bb_*, vv_batch_parse_header, vv_record_reader), index files
 * (vv_index_flush, vv_index_load), the recovery point, the segment size
 * list, the producer snapshot, and the cleaner checkpoint, whose encoder is
 * private to compaction and is reached through the public API.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "compact.h"
#include "golden.h"
#include "index.h"
#include "io.h"
#include "partition.h"
#include "producer.h"
#include "sizes.h"
#include "support.h"
#include "varve.h"

#define T0 1700000000000LL

TestSuite(golden, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* ---- helpers ---------------------------------------------------------------- */

static void write_vector_file(const char *dir, const char *name, const char *vector,
			      const char *part)
{
	size_t n;
	uint8_t *b = gv_load(vector, part, &n);
	t_write_file(t_fmt("%s/%s", dir, name), b, n);
	free(b);
}

static void assert_file_is_vector(const char *path, const char *vector, const char *part)
{
	size_t n, wn;
	uint8_t *got = t_read_file(path, &n);
	uint8_t *want = gv_load(vector, part, &wn);
	gv_assert_bytes(got, n, want, wn, vector);
	free(got);
	free(want);
}

/* A record as the test expects it; key/value NULL = null. */
typedef struct want_rec {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	int64_t offset, timestamp;
	size_t header_count;
	const varve_header *headers;
} want_rec;

static void assert_blob(const void *got, size_t got_len, const char *want, size_t want_len,
			const char *what, int i)
{
	if (!want) {
		cr_assert_null(got, "record %d: %s should be null", i, what);
		return;
	}
	cr_assert_not_null(got, "record %d: %s should not be null", i, what);
	cr_assert_eq(got_len, want_len, "record %d: %s length %zu, want %zu", i, what, got_len,
		     want_len);
	cr_assert(want_len == 0 || memcmp(got, want, want_len) == 0, "record %d: %s bytes", i, what);
}

static void assert_record(const varve_record *r, const want_rec *w, int i)
{
	assert_blob(r->key, r->key_len, w->key, w->key_len, "key", i);
	assert_blob(r->value, r->value_len, w->value, w->value_len, "value", i);
	cr_assert_eq(r->offset, w->offset, "record %d: offset %lld", i, (long long)r->offset);
	cr_assert_eq(r->timestamp, w->timestamp, "record %d: timestamp %lld", i,
		     (long long)r->timestamp);
	cr_assert_eq(r->header_count, w->header_count, "record %d: %zu headers", i, r->header_count);
	for (size_t h = 0; h < w->header_count; h++) {
		const varve_header *g = &r->headers[h], *e = &w->headers[h];
		assert_blob(g->key, g->key_len, e->key, e->key_len, "header key", i);
		assert_blob(g->value, g->value_len, e->value, e->value_len, "header value", i);
	}
}

static varve_record to_record(const want_rec *w)
{
	varve_record r = { 0 };
	r.key = w->key;
	r.key_len = w->key_len;
	r.value = w->value;
	r.value_len = w->value_len;
	r.headers = w->headers;
	r.header_count = w->header_count;
	return r;
}

/* ---- record batches ---------------------------------------------------------- */

typedef struct batch_case {
	const char *vector;
	vv_batch_params params;
	const want_rec *recs;
	size_t n;
} batch_case;

static const varve_header headers0[] = {
	{ "trace", 5, "\x00\x01\xfe\xff", 4 },
	{ "empty", 5, "", 0 },
	{ "null", 4, NULL, 0 },
};
static const varve_header headers1[] = { { "h", 1, "x", 1 } };

static const want_rec plain_recs[] = {
	{ "k1", 2, "hello", 5, 100, T0 + 10, 0, NULL },
	{ NULL, 0, "", 0, 102, T0 + 3, 0, NULL },
};
static const want_rec header_recs[] = {
	{ "key", 3, "val", 3, 0, T0, 3, headers0 },
	{ "key", 3, NULL, 0, 1, T0 + 1, 1, headers1 },
};
static const want_rec producer_recs[] = {
	{ "a", 1, "1", 1, 7, T0 + 30, 0, NULL },
	{ "b", 1, "2", 1, 8, T0 + 31, 0, NULL },
	{ "c", 1, "3", 1, 9, T0 + 32, 0, NULL },
};
#define A40 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
static const want_rec lz4_recs[] = {
	{ "k0", 2, A40, 40, 0, T0 + 40, 0, NULL },
	{ "k1", 2, A40, 40, 1, T0 + 41, 0, NULL },
	{ "k2", 2, A40, 40, 2, T0 + 42, 0, NULL },
	{ "k3", 2, A40, 40, 3, T0 + 43, 0, NULL },
};

static const batch_case plain_case = {
	"batch_plain.hex", { 100, VARVE_CODEC_NONE, T0 + 500, -1, 0, -1 }, plain_recs, 2
};
static const batch_case headers_case = {
	"batch_headers.hex", { 0, VARVE_CODEC_NONE, T0 + 20, -1, 0, -1 }, header_recs, 2
};
static const batch_case producer_case = {
	"batch_producer.hex", { 7, VARVE_CODEC_NONE, T0 + 33, 0x1122334455LL, 3, 41 },
	producer_recs, 3
};
static const batch_case lz4_case = {
	"batch_lz4.hex", { 0, VARVE_CODEC_LZ4, T0 + 50, -1, 0, -1 }, lz4_recs, 4
};

static void check_encode(const batch_case *c)
{
	vv_batch_builder b;
	vv_bb_init(&b);
	for (size_t i = 0; i < c->n; i++) {
		varve_record r = to_record(&c->recs[i]);
		uint32_t delta = (uint32_t)(c->recs[i].offset - c->params.base_offset);
		cr_assert_eq(vv_bb_add(&b, delta, c->recs[i].timestamp, &r), 0);
	}
	const uint8_t *out;
	size_t len;
	cr_assert_eq(vv_bb_finish(&b, &c->params, &out, &len), 0);
	size_t wn;
	uint8_t *want = gv_load(c->vector, "batch", &wn);
	gv_assert_bytes(out, len, want, wn, c->vector);
	free(want);
	vv_bb_free(&b);
}

/* Header fields by name; the records through the record reader. */
static void check_decode(const batch_case *c, int64_t first_ts, int64_t max_ts)
{
	size_t n;
	uint8_t *bytes = gv_load(c->vector, "batch", &n);
	vv_batch_header h;
	cr_assert_eq(vv_batch_parse_header(bytes, n, VV_MAX_BATCH_READ, &h), 0);
	cr_assert_eq(vv_batch_checksum_ok(bytes, &h), 0, "checksum");
	cr_assert_eq(h.checksum, gv_le64(bytes));
	cr_assert_eq(h.magic, 0x31565256u);
	cr_assert_eq(h.length, n);
	cr_assert_eq(h.base_offset, c->params.base_offset);
	cr_assert_eq(h.last_offset_delta, (uint32_t)(c->recs[c->n - 1].offset - h.base_offset));
	cr_assert_eq(h.record_count, c->n);
	cr_assert_eq(h.attributes, (uint16_t)c->params.codec);
	cr_assert_eq(h.producer_epoch, c->params.producer_epoch);
	cr_assert_eq(h.first_timestamp, first_ts);
	cr_assert_eq(h.max_timestamp, max_ts);
	cr_assert_eq(h.append_time, c->params.append_time);
	cr_assert_eq(h.producer_id, c->params.producer_id);
	cr_assert_eq(h.base_sequence, c->params.base_sequence);
	if (c->params.codec == VARVE_CODEC_NONE) {
		cr_assert_eq(h.records_size, n - VV_BATCH_HEADER_SIZE);
	} else {
		size_t rn;
		uint8_t *raw = gv_load(c->vector, "records", &rn);
		cr_assert_eq(h.records_size, rn);
		free(raw);
	}
	uint8_t *scratch = NULL;
	size_t scap = 0, hcap = 0;
	varve_header *hdrs = NULL;
	vv_record_reader rr;
	cr_assert_eq(vv_record_reader_init(&rr, bytes, &h, &scratch, &scap, VV_MAX_BATCH_READ), 0);
	if (c->params.codec != VARVE_CODEC_NONE) {
		size_t rn;
		uint8_t *raw = gv_load(c->vector, "records", &rn);
		gv_assert_bytes(rr.p, (size_t)(rr.end - rr.p), raw, rn, "decompressed records");
		free(raw);
	}
	varve_record r;
	for (size_t i = 0; i < c->n; i++) {
		cr_assert_eq(vv_record_next(&rr, &r, &hdrs, &hcap), 0, "record %zu", i);
		assert_record(&r, &c->recs[i], (int)i);
	}
	cr_assert_eq(vv_record_next(&rr, &r, &hdrs, &hcap), VARVE_EEND);
	free(scratch);
	free(hdrs);
	free(bytes);
}

Test(golden, batch_plain_encode) { check_encode(&plain_case); }
Test(golden, batch_plain_decode) { check_decode(&plain_case, T0 + 10, T0 + 10); }
Test(golden, batch_headers_encode) { check_encode(&headers_case); }
Test(golden, batch_headers_decode) { check_decode(&headers_case, T0, T0 + 1); }
Test(golden, batch_producer_encode) { check_encode(&producer_case); }
Test(golden, batch_producer_decode) { check_decode(&producer_case, T0 + 30, T0 + 32); }
Test(golden, batch_lz4_encode) { check_encode(&lz4_case); }
Test(golden, batch_lz4_decode) { check_decode(&lz4_case, T0 + 40, T0 + 43); }

/* ---- index files ---------------------------------------------------------------- */

static void open_pair(const char *dir, vv_file **idx, vv_file **tidx)
{
	cr_assert_eq(vv_io_open(NULL, t_fmt("%s/x.index", dir), VV_O_RDWR | VV_O_CREAT, 0600, idx), 0);
	cr_assert_eq(vv_io_open(NULL, t_fmt("%s/x.timeindex", dir), VV_O_RDWR | VV_O_CREAT, 0600, tidx),
		     0);
}

Test(golden, index_encode)
{
	const char *dir = t_tmpdir();
	vv_index ix;
	vv_index_init(&ix);
	cr_assert_eq(vv_index_add(&ix, 0, 0), 0);
	cr_assert_eq(vv_index_add(&ix, 37, 4133), 0);
	cr_assert_eq(vv_index_add_time(&ix, T0 + 5, 0), 0);
	cr_assert_eq(vv_index_add_time(&ix, T0 + 999, 37), 0);
	vv_file *idx, *tidx;
	open_pair(dir, &idx, &tidx);
	cr_assert_eq(vv_index_flush(&ix, idx, tidx), 0);
	vv_io_close(idx);
	vv_io_close(tidx);
	vv_index_free(&ix);
	assert_file_is_vector(t_fmt("%s/x.index", dir), "index.hex", "index");
	assert_file_is_vector(t_fmt("%s/x.timeindex", dir), "timeindex.hex", "timeindex");
}

Test(golden, index_decode)
{
	const char *dir = t_tmpdir();
	write_vector_file(dir, "x.index", "index.hex", "index");
	write_vector_file(dir, "x.timeindex", "timeindex.hex", "timeindex");
	vv_file *idx, *tidx;
	open_pair(dir, &idx, &tidx);
	vv_index ix;
	vv_index_init(&ix);
	int damaged = -1;
	/* a log of 8192 bytes whose last offset is segment base + 100 */
	cr_assert_eq(vv_index_load(&ix, idx, tidx, 8192, 100, &damaged), 0);
	cr_assert_eq(damaged, 0, "the vector's entries pass every rule");
	cr_assert_eq(ix.n, 2);
	cr_assert_eq(ix.rel[0], 0);
	cr_assert_eq(ix.pos[0], 0);
	cr_assert_eq(ix.rel[1], 37);
	cr_assert_eq(ix.pos[1], 4133);
	cr_assert_eq(ix.tn, 2);
	cr_assert_eq(ix.tts[0], T0 + 5);
	cr_assert_eq(ix.trel[0], 0);
	cr_assert_eq(ix.tts[1], T0 + 999);
	cr_assert_eq(ix.trel[1], 37);
	vv_index_free(&ix);
	vv_io_close(idx);
	vv_io_close(tidx);
}

/* ---- recovery point -------------------------------------------------------------- */

Test(golden, recovery_point_encode)
{
	vv_recovery_point rp = { 4242, 4096, 9029, 1000 };
	uint8_t out[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&rp, out);
	size_t wn;
	uint8_t *want = gv_load("recovery_point.hex", "recovery-point", &wn);
	gv_assert_bytes(out, sizeof out, want, wn, "recovery_point.hex");
	free(want);
}

Test(golden, recovery_point_decode)
{
	size_t n;
	uint8_t *b = gv_load("recovery_point.hex", "recovery-point", &n);
	vv_recovery_point rp;
	cr_assert_eq(vv_recovery_point_decode(b, n, &rp), 0);
	cr_assert_eq(rp.offset, 4242);
	cr_assert_eq(rp.segment_base, 4096);
	cr_assert_eq(rp.position, 9029);
	cr_assert_eq(rp.log_start, 1000);
	free(b);
}

/* ---- segment-sizes ----------------------------------------------------------------- */

static const int64_t size_bases[2] = { 0, 4096 };

Test(golden, segment_sizes_encode)
{
	const char *dir = t_tmpdir();
	const uint64_t sizes[2] = { 4000, 123 };
	cr_assert_eq(vv_sizes_write(NULL, dir, 0x0123456789abcdefULL, size_bases, sizes, 2, 0600), 0);
	assert_file_is_vector(t_fmt("%s/segment-sizes", dir), "segment_sizes.hex", "segment-sizes");
}

Test(golden, segment_sizes_decode)
{
	const char *dir = t_tmpdir();
	write_vector_file(dir, "segment-sizes", "segment_sizes.hex", "segment-sizes");
	uint64_t sizes[2] = { 0, 0 };
	cr_assert_eq(vv_sizes_read(NULL, dir, 0x0123456789abcdefULL, size_bases, 2, sizes), 0);
	cr_assert_eq(sizes[0], 4000);
	cr_assert_eq(sizes[1], 123);
	/* the nonce is read from where the vector has it: another one is refused */
	cr_assert_neq(vv_sizes_read(NULL, dir, 0x0123456789abcdeeULL, size_bases, 2, sizes), 0);
}

/* ---- cleaner-checkpoint ---------------------------------------------------------------- */

static int64_t fixed_clock(void *ctx) { return *(const int64_t *)ctx; }

static void produce_at(varve_db *db, int64_t *clock, int64_t now, const char *key,
		       const char *value)
{
	*clock = now;
	varve_record r = t_rec_s(key, value);
	r.partition = 0;
	r.timestamp = now;
	t_ok(varve_produce(db, "c", &r, NULL, NULL));
}

/* The scenario of cleaner_checkpoint.hex's comment. */
Test(golden, checkpoint_written_by_compaction)
{
	const char *path = t_newpath("store");
	int64_t clock = T0;
	varve_options o = t_opts();
	o.clock_fn = fixed_clock;
	o.clock_ctx = &clock;
	varve_db *db = t_open(path, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.cleanup_policy = VARVE_CLEANUP_COMPACT;
	tc.delete_retention_ms = 5000;
	tc.segment_ms = 1000;
	t_ok(varve_topic_create(db, "c", &tc));
	produce_at(db, &clock, T0, "a", "1");
	produce_at(db, &clock, T0 + 1000, "a", NULL);
	produce_at(db, &clock, T0 + 2000, "b", "2");
	varve_partition_info info = { .version = VARVE_PARTITION_INFO_VERSION };
	t_ok(varve_partition_info_get(db, "c", 0, &info));
	cr_assert_eq(info.segments, 3, "one segment per produce (segment_ms)");
	t_ok(varve_clean_now(db, 1));
	t_close(db);
	assert_file_is_vector(t_fmt("%s/cleaner-checkpoint", t_part_dir(path, "c", 0)),
			      "cleaner_checkpoint.hex", "cleaner-checkpoint");
}

Test(golden, checkpoint_decode)
{
	const char *dir = t_tmpdir();
	write_vector_file(dir, "cleaner-checkpoint", "cleaner_checkpoint.hex", "cleaner-checkpoint");
	int64_t clean = -1, due = -1;
	cr_assert_eq(vv_compact_load_checkpoint(NULL, dir, &clean, &due), 0);
	cr_assert_eq(clean, 2);
	cr_assert_eq(due, T0 + 6000);
}

Test(golden, checkpoint_16_byte_form_decode)
{
	const char *dir = t_tmpdir();
	write_vector_file(dir, "cleaner-checkpoint", "cleaner_checkpoint_16.hex",
			  "cleaner-checkpoint");
	int64_t clean = -1, due = -1;
	cr_assert_eq(vv_compact_load_checkpoint(NULL, dir, &clean, &due), 0);
	cr_assert_eq(clean, 4096);
	cr_assert_eq(due, 0, "the older form says nothing of tombstones: due now");
}

/* ---- producer-snapshot ------------------------------------------------------------------ */

/* Batch k of producer_snapshot.hex: sequences 2k..2k+1, offsets 10+2k..11+2k. */
static vv_pbatch snap_batch(int k)
{
	return (vv_pbatch){ 2 * k, 2 * k + 1, 10 + 2 * k, 11 + 2 * k };
}

Test(golden, producer_snapshot_encode)
{
	const char *dir = t_tmpdir();
	vv_pstate s;
	vv_pstate_init(&s);
	for (int k = 0; k < 7; k++) {
		vv_pbatch b = snap_batch(k);
		cr_assert_eq(vv_pstate_note(&s, 5, 2, b.first_seq, 2, b.first_offset, b.last_offset,
					    T0 + k),
			     0);
	}
	cr_assert_eq(vv_pstate_save(&s, NULL, dir, 24, 0600), 0);
	vv_pstate_free(&s);
	assert_file_is_vector(t_fmt("%s/producer-snapshot", dir), "producer_snapshot.hex",
			      "producer-snapshot");
}

static const vv_pentry *find_pid(const vv_pstate *s, int64_t pid)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->v[i].pid == pid)
			return &s->v[i];
	return NULL;
}

Test(golden, producer_snapshot_decode)
{
	const char *dir = t_tmpdir();
	write_vector_file(dir, "producer-snapshot", "producer_snapshot.hex", "producer-snapshot");
	vv_pstate s;
	vv_pstate_init(&s);
	int64_t offset = -1;
	cr_assert_eq(vv_pstate_load(&s, NULL, dir, &offset), 0);
	cr_assert_eq(offset, 24);
	cr_assert_eq(s.n, 1);
	const vv_pentry *e = find_pid(&s, 5);
	cr_assert_not_null(e);
	cr_assert_eq(e->epoch, 2);
	cr_assert_eq(e->n, 5);
	cr_assert_eq(e->head, 1);
	cr_assert_eq(e->last_time, T0 + 6);
	const int batch_in_slot[5] = { 5, 6, 2, 3, 4 };
	for (int k = 0; k < 5; k++) {
		vv_pbatch want = snap_batch(batch_in_slot[k]);
		cr_assert_eq(e->b[k].first_seq, want.first_seq, "slot %d", k);
		cr_assert_eq(e->b[k].last_seq, want.last_seq, "slot %d", k);
		cr_assert_eq(e->b[k].first_offset, want.first_offset, "slot %d", k);
		cr_assert_eq(e->b[k].last_offset, want.last_offset, "slot %d", k);
	}
	/* and the state behaves as the ring says: batch 2 is the oldest kept */
	uint16_t epoch = 0;
	cr_assert_eq(vv_pstate_last_seq(&s, 5, &epoch), 13);
	cr_assert_eq(epoch, 2);
	vv_pbatch dup;
	cr_assert_eq(vv_pstate_check(&s, 5, 2, 4, 2, &dup), 1, "batch 2 is a known duplicate");
	cr_assert_eq(dup.first_offset, 14);
	cr_assert_eq(vv_pstate_check(&s, 5, 2, 2, 2, &dup), VARVE_EDUPLICATE, "batch 1 fell out");
	cr_assert_eq(vv_pstate_check(&s, 5, 2, 14, 2, &dup), 0, "the next sequence is 14");
	vv_pstate_free(&s);
}

Test(golden, producer_snapshot_empty_encode)
{
	const char *dir = t_tmpdir();
	vv_pstate s;
	vv_pstate_init(&s);
	cr_assert_eq(vv_pstate_save(&s, NULL, dir, 99, 0600), 0);
	assert_file_is_vector(t_fmt("%s/producer-snapshot", dir), "producer_snapshot_empty.hex",
			      "producer-snapshot");
}

Test(golden, producer_snapshot_empty_decode)
{
	const char *dir = t_tmpdir();
	write_vector_file(dir, "producer-snapshot", "producer_snapshot_empty.hex",
			  "producer-snapshot");
	vv_pstate s;
	vv_pstate_init(&s);
	int64_t offset = -1;
	cr_assert_eq(vv_pstate_load(&s, NULL, dir, &offset), 0);
	cr_assert_eq(offset, 99);
	cr_assert_eq(s.n, 0);
	vv_pstate_free(&s);
}
