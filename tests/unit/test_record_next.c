/* SPDX-License-Identifier: MIT */
/*
 * test_record_next.c -- the inline record decoder of the sequential read
 * path (src/log/record_next.h) against vv_record_next, which it stands in
 * for record by record.
 *
 *  - each record check, broken alone in a record the fast path would
 *    otherwise decode itself, is refused by it (reader untouched) and then
 *    refused by vv_record_next with that check's fault; the same record
 *    unbroken is decoded by the fast path, equal to vv_record_next's;
 *  - over every single-byte mutation of a batch of varied records (null and
 *    long keys and values, headers, offset gaps, 2- and 3-byte varints,
 *    timestamps below the first) and over altered batch headers, the fast
 *    path with its fallback returns exactly what vv_record_next returns,
 *    record by record, with the same faults;
 *  - through the public iterator (which inlines the fast path), a record in
 *    the middle of a batch whose checksum matches but whose offset delta is
 *    out of order ends the records at it with VARVE_ECORRUPT, and skipping
 *    the damage goes on with the next batch.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "record_next.h"
#include "support.h"
#include "util.h"

TestSuite(record_next, .init = t_setup, .fini = t_teardown, .timeout = 120);

#define MAXB (64u << 20)

/* ---- hand-made records ---------------------------------------------------- */

/* The fields of one record as stored; a test breaks one of them. */
typedef struct rspec {
	uint64_t delta;
	uint64_t tsz;       /* zigzag timestamp delta */
	uint64_t key_var;   /* stored key length + 1, 0 = null */
	size_t key_bytes;   /* key bytes actually written */
	uint64_t value_var; /* likewise the value */
	size_t value_bytes;
	uint64_t hc;        /* stored header count */
	size_t hdr_n;       /* headers actually written: key "hk", value "hv" */
	uint64_t hkey_var;  /* the last header's stored key length */
	uint64_t hval_var;  /* the last header's stored value length + 1 */
	size_t extra;       /* zero bytes after the headers, inside the record */
	uint64_t body_set;  /* if not 0, the record length as stored */
	int64_t body_add;   /* else added to the true record length */
} rspec;

static rspec good_spec(uint64_t delta)
{
	return (rspec){ .delta = delta, .tsz = vv_zigzag(1), .key_var = 4, .key_bytes = 3,
			.value_var = 6, .value_bytes = 5, .hc = 1, .hdr_n = 1, .hkey_var = 2,
			.hval_var = 3 };
}

static size_t put_record(uint8_t *out, const rspec *s)
{
	uint8_t body[512];
	size_t n = 0;
	n += vv_varint_put(body + n, s->delta);
	n += vv_varint_put(body + n, s->tsz);
	n += vv_varint_put(body + n, s->key_var);
	memset(body + n, 'k', s->key_bytes);
	n += s->key_bytes;
	n += vv_varint_put(body + n, s->value_var);
	memset(body + n, 'v', s->value_bytes);
	n += s->value_bytes;
	n += vv_varint_put(body + n, s->hc);
	for (size_t i = 0; i < s->hdr_n; i++) {
		int last = i + 1 == s->hdr_n;
		n += vv_varint_put(body + n, last ? s->hkey_var : 2);
		memcpy(body + n, "hk", 2);
		n += 2;
		n += vv_varint_put(body + n, last ? s->hval_var : 3);
		memcpy(body + n, "hv", 2);
		n += 2;
	}
	memset(body + n, 0, s->extra);
	n += s->extra;
	uint64_t stored = s->body_set ? s->body_set : (uint64_t)((int64_t)n + s->body_add);
	size_t w = vv_varint_put(out, stored);
	memcpy(out + w, body, n);
	return w + n;
}

/* Three records (offset deltas 0, 1, 2) and the batch header fields the
 * record checks read. */
typedef struct shape {
	rspec s[3];
	int64_t first_ts, max_ts;
	uint32_t last_delta;
	size_t trailing; /* zero bytes after the last record */
} shape;

static shape good_shape(void)
{
	return (shape){ { good_spec(0), good_spec(1), good_spec(2) }, 1000, 1005, 2, 0 };
}

typedef struct hand_batch {
	uint8_t buf[VV_BATCH_HEADER_SIZE + 1024];
	vv_batch_header h;
} hand_batch;

static void hand_build(hand_batch *b, const shape *sh)
{
	memset(b, 0, sizeof *b);
	size_t len = VV_BATCH_HEADER_SIZE;
	for (size_t i = 0; i < 3; i++)
		len += put_record(b->buf + len, &sh->s[i]);
	len += sh->trailing;
	b->h = (vv_batch_header){ .magic = VV_BATCH_MAGIC, .length = (uint32_t)len,
				  .base_offset = 100, .last_offset_delta = sh->last_delta,
				  .record_count = 3,
				  .records_size = (uint32_t)(len - VV_BATCH_HEADER_SIZE),
				  .first_timestamp = sh->first_ts, .max_timestamp = sh->max_ts,
				  .producer_id = -1, .base_sequence = -1 };
}

typedef struct rr_state {
	const uint8_t *p, *end;
	uint32_t remaining;
	int64_t prev_delta;
	const char *fault;
} rr_state;

static rr_state state_of(const vv_record_reader *rr)
{
	return (rr_state){ rr->p, rr->end, rr->remaining, rr->prev_delta, rr->fault };
}

static void assert_same_state(const vv_record_reader *rr, const rr_state *s, const char *ctx)
{
	cr_assert(rr->p == s->p && rr->end == s->end && rr->remaining == s->remaining &&
			  rr->prev_delta == s->prev_delta && rr->fault == s->fault,
		  "%s: the reader moved", ctx);
}

/* Equal records; headers compared element by element (each decoder has
 * its own array; the elements point into the batch). */
static void assert_same_record(const varve_record *a, const varve_record *b, const char *ctx)
{
	cr_assert_eq(a->offset, b->offset, "%s: offset", ctx);
	cr_assert_eq(a->timestamp, b->timestamp, "%s: timestamp", ctx);
	cr_assert(a->key == b->key && a->key_len == b->key_len, "%s: key", ctx);
	cr_assert(a->value == b->value && a->value_len == b->value_len, "%s: value", ctx);
	cr_assert_eq(a->header_count, b->header_count, "%s: header count", ctx);
	cr_assert_eq(a->headers == NULL, b->headers == NULL, "%s: headers NULL", ctx);
	for (size_t i = 0; i < a->header_count; i++) {
		const varve_header *x = &a->headers[i], *y = &b->headers[i];
		cr_assert(x->key == y->key && x->key_len == y->key_len && x->value == y->value &&
				  x->value_len == y->value_len,
			  "%s: header %zu", ctx, i);
	}
}

static void b_len_past(shape *sh) { sh->s[1].body_add = 300; }
static void b_delta_past_record(shape *sh) { sh->s[1].body_set = 1; } /* its delta only */
static void b_delta_repeated(shape *sh) { sh->s[1].delta = 0; }
static void b_delta_past_last(shape *sh) { sh->s[1].delta = 3; }
static void b_last_delta(shape *sh) { sh->last_delta = 3; }
static void b_ts_past_max(shape *sh) { sh->s[1].tsz = vv_zigzag(6); }
static void both_ts_near_zero(shape *sh)
{
	sh->first_ts = 3;
	sh->max_ts = 8;
}
static void b_ts_negative(shape *sh) { sh->s[1].tsz = vv_zigzag(-4); }
static void both_ts_near_max(shape *sh)
{
	for (int i = 0; i < 3; i++)
		sh->s[i].tsz = vv_zigzag(2);
	sh->first_ts = INT64_MAX - 2;
	sh->max_ts = INT64_MAX;
}
static void b_ts_overflow(shape *sh) { sh->s[1].tsz = vv_zigzag(3); }
static void b_key_past(shape *sh) { sh->s[1].key_var = 100; }
static void b_value_past(shape *sh) { sh->s[1].value_var = 100; }
static void b_header_count(shape *sh) { sh->s[1].hc = 20; } /* 40 bytes at least; 6 left */
static void b_header_key(shape *sh) { sh->s[1].hkey_var = 50; }
static void b_header_value(shape *sh) { sh->s[1].hval_var = 50; }
static void b_bytes_after_headers(shape *sh) { sh->s[1].extra = 1; }
static void b_second_header_missing(shape *sh)
{
	/* two headers claimed; the second's key is the spare zero byte and
	 * its value is missing */
	sh->s[1].hc = 2;
	sh->s[1].extra = 1;
}
static void b_bytes_after_batch(shape *sh) { sh->trailing = 1; }
static void both_last_without_headers(shape *sh)
{
	sh->s[2].hc = 0;
	sh->s[2].hdr_n = 0;
}
static void b_len_past_value_to_end(shape *sh)
{
	/* the value takes the header count byte too: only the record length
	 * check keeps the header count from being read past the batch */
	sh->s[2].body_add = 300;
	sh->s[2].value_var = 7;
}

typedef struct one_check {
	const char *fault;      /* expected in vv_record_reader.fault */
	size_t tested;          /* the record broken (3 = after the last) */
	void (*breaks)(shape *sh);
	void (*both)(shape *sh); /* made to the intact and the broken batch */
} one_check;

static const one_check checks[] = {
	{ "record length runs past the batch", 1, b_len_past, NULL },
	{ "offset or timestamp delta runs past the record", 1, b_delta_past_record, NULL },
	{ "offset delta out of order", 1, b_delta_repeated, NULL },
	{ "past the batch's last", 1, b_delta_past_last, NULL },
	{ "last record's offset delta is not the batch's last", 2, b_last_delta, NULL },
	{ "past the batch's max timestamp", 1, b_ts_past_max, NULL },
	{ "timestamp negative", 1, b_ts_negative, both_ts_near_zero },
	{ "timestamp negative or past", 1, b_ts_overflow, both_ts_near_max },
	{ "key, value or header count runs past the record", 1, b_key_past, NULL },
	{ "key, value or header count runs past the record", 1, b_value_past, NULL },
	{ "header count too large for the record", 1, b_header_count, NULL },
	{ "header key runs past the record", 1, b_header_key, NULL },
	{ "header value runs past the record", 1, b_header_value, NULL },
	{ "bytes left after the record's headers", 1, b_bytes_after_headers, NULL },
	{ "header value runs past the record", 1, b_second_header_missing, NULL },
	{ "bytes left after the batch's last record", 3, b_bytes_after_batch, NULL },
	{ "record length runs past the batch", 2, b_len_past_value_to_end,
	  both_last_without_headers },
};

/* Decode the records before the tested one with the fast path, then give
 * the tested one to the fast path and, from the same state, to
 * vv_record_next. Returns the fast path's answer. */
static int try_tested(const hand_batch *b, size_t tested, varve_header *hdrs, size_t hcap,
		      varve_record *fast_rec, int *slow_rc, varve_record *slow_rec,
		      const char **fault, const char *ctx)
{
	vv_record_reader rr;
	uint8_t *scratch = NULL;
	size_t scap = 0, shcap = 0;
	varve_header *shdrs = NULL;
	/* exactly the batch's bytes: a read past them is an ASan report */
	uint8_t *exact = malloc(b->h.length);
	memcpy(exact, b->buf, b->h.length);
	cr_assert_eq(vv_record_reader_init(&rr, exact, &b->h, &scratch, &scap, MAXB), 0);
	for (size_t i = 0; i < tested; i++) {
		varve_record r;
		cr_assert_eq(vv_record_try_next(&rr, &r, &hdrs, &hcap), 0,
			     "%s: record %zu before the tested one", ctx, i);
	}
	vv_record_reader rs = rr;
	rr_state before = state_of(&rr);
	int fast = vv_record_try_next(&rr, fast_rec, &hdrs, &hcap);
	if (fast)
		assert_same_state(&rr, &before, ctx);
	*slow_rc = vv_record_next(&rs, slow_rec, &shdrs, &shcap);
	*fault = rs.fault;
	if (fast == 0 && *slow_rc == 0) {
		assert_same_record(fast_rec, slow_rec, ctx);
		cr_assert(rs.p == rr.p && rs.remaining == rr.remaining &&
				  rs.prev_delta == rr.prev_delta,
			  "%s: readers apart", ctx);
	}
	free(shdrs);
	free(scratch);
	free(exact);
	return fast;
}

Test(record_next, each_check_refuses_through_the_fast_path)
{
	hand_batch *b = malloc(sizeof *b);
	varve_header hdrs[64]; /* room enough: the fast path needs no growth */
	for (size_t ci = 0; ci < sizeof checks / sizeof checks[0]; ci++) {
		const one_check *c = &checks[ci];
		for (int bad = 0; bad < 2; bad++) {
			shape sh = good_shape();
			if (c->both)
				c->both(&sh);
			if (bad)
				c->breaks(&sh);
			hand_build(b, &sh);
			varve_record fr, sr;
			int slow_rc;
			const char *fault;
			char ctx[200];
			snprintf(ctx, sizeof ctx, "%s (%s)", c->fault, bad ? "broken" : "intact");
			int fast = try_tested(b, c->tested, hdrs, 64, &fr, &slow_rc, &sr, &fault, ctx);
			if (c->tested == 3) { /* after the last record: vv_record_next's */
				cr_assert_eq(fast, 1, "%s", ctx);
				cr_assert_eq(slow_rc, bad ? VARVE_ECORRUPT : VARVE_EEND, "%s", ctx);
			} else if (!bad) {
				cr_assert_eq(fast, 0, "%s: the fast path decodes it", ctx);
				cr_assert_eq(slow_rc, 0, "%s", ctx);
				cr_assert_eq(fr.offset, 100 + (int64_t)c->tested, "%s", ctx);
				const rspec *t = &sh.s[c->tested];
				cr_assert_eq(fr.timestamp, sh.first_ts + vv_unzigzag(t->tsz), "%s", ctx);
				cr_assert(fr.key_len == 3 && !memcmp(fr.key, "kkk", 3), "%s", ctx);
				cr_assert(fr.value_len == 5 && !memcmp(fr.value, "vvvvv", 5), "%s", ctx);
				cr_assert_eq(fr.header_count, t->hc, "%s", ctx);
				cr_assert_eq(fr.headers == NULL, t->hc == 0, "%s", ctx);
				if (t->hc)
					cr_assert(fr.headers[0].key_len == 2 &&
							  fr.headers[0].value_len == 2 &&
							  !memcmp(fr.headers[0].value, "hv", 2),
						  "%s", ctx);
			} else {
				cr_assert_eq(fast, 1, "%s: the fast path hands it back", ctx);
				cr_assert_eq(slow_rc, VARVE_ECORRUPT, "%s", ctx);
			}
			if (bad)
				cr_assert(fault && strstr(fault, c->fault), "%s: fault \"%s\"", ctx,
					  fault ? fault : "(none)");
		}
	}
	free(b);
}

/* ---- lockstep against vv_record_next ------------------------------------- */

typedef struct lockstep_stats {
	long fast;          /* records the fast path decoded */
	long fallback_ok;   /* handed back, then decoded by vv_record_next */
	long fallback_bad;  /* handed back, then refused by vv_record_next */
	long batches_bad;   /* batches refused somewhere */
} lockstep_stats;

/* Decode the whole batch twice: by vv_record_next alone, and as the reader
 * does (vv_record_try_next, else vv_record_next); both must agree on every
 * step. */
static void lockstep(const uint8_t *batch, const vv_batch_header *h, lockstep_stats *st,
		     const char *ctx)
{
	vv_record_reader a, b;
	uint8_t *sa = NULL, *sb = NULL;
	size_t sac = 0, sbc = 0;
	int ia = vv_record_reader_init(&a, batch, h, &sa, &sac, MAXB);
	int ib = vv_record_reader_init(&b, batch, h, &sb, &sbc, MAXB);
	cr_assert_eq(ia, ib, "%s", ctx);
	varve_header *ha = NULL, *hb = NULL;
	size_t ca = 0, cb = 0;
	int rca = ia;
	for (int step = 0; rca == 0; step++) {
		varve_record ra, rb;
		memset(&ra, 0x5a, sizeof ra);
		memset(&rb, 0xa5, sizeof rb);
		rca = vv_record_next(&a, &ra, &ha, &ca);
		rr_state before = state_of(&b);
		int rcb;
		if (vv_record_try_next(&b, &rb, &hb, &cb) == 0) {
			rcb = 0;
			st->fast++;
		} else {
			assert_same_state(&b, &before, ctx);
			rcb = vv_record_next(&b, &rb, &hb, &cb);
			if (rcb == 0)
				st->fallback_ok++;
			else if (rcb == VARVE_ECORRUPT)
				st->fallback_bad++;
		}
		cr_assert_eq(rca, rcb, "%s, step %d: %d vs %d", ctx, step, rca, rcb);
		if (rca) {
			cr_assert(a.fault == b.fault, "%s, step %d: faults %s / %s", ctx, step,
				  a.fault ? a.fault : "-", b.fault ? b.fault : "-");
			break;
		}
		assert_same_record(&ra, &rb, ctx);
		cr_assert(a.p == b.p && a.remaining == b.remaining && a.prev_delta == b.prev_delta,
			  "%s, step %d: readers apart", ctx, step);
	}
	if (rca != VARVE_EEND)
		st->batches_bad++;
	free(ha);
	free(hb);
	free(sa);
	free(sb);
}

/* A batch meant to reach every branch of both decoders. */
static void varied_batch(vv_batch_builder *bb, const uint8_t **p, size_t *len)
{
	static char big[20000], mid[200];
	memset(big, 'b', sizeof big);
	memset(mid, 'm', sizeof mid);
	varve_header h2[2] = { { "a", 1, "x", 1 }, { "bb", 2, NULL, 0 } };
	varve_header hlong[1] = { { mid, 150, mid, 140 } };
	struct {
		uint32_t delta;
		int64_t ts;
		const void *k;
		size_t kl;
		const void *v;
		size_t vl;
		const varve_header *h;
		size_t hc;
	} r[] = {
		{ 0, 5000, "key", 3, "value", 5, NULL, 0 },
		{ 1, 5000, NULL, 0, NULL, 0, h2, 2 },
		{ 2, 4990, "", 0, mid, 200, NULL, 0 },       /* timestamp below the first */
		{ 130, 5001, mid, 130, "v", 1, hlong, 1 },   /* two-byte delta, key, header */
		{ 131, 14000, "k", 1, big, sizeof big, NULL, 0 }, /* 3-byte ts delta, value */
		{ 17000, 5002, "k", 1, "v", 1, h2, 1 },       /* three-byte delta */
		{ 17001, 5003, "k", 1, "v", 1, NULL, 0 },
	};
	vv_bb_init(bb);
	vv_bb_reset(bb);
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		varve_record rec = { .key = r[i].k, .key_len = r[i].kl, .value = r[i].v,
				     .value_len = r[i].vl, .headers = r[i].h,
				     .header_count = r[i].hc };
		cr_assert_eq(vv_bb_add(bb, r[i].delta, r[i].ts, &rec), 0);
	}
	vv_batch_params prm = { .base_offset = 7, .codec = VARVE_CODEC_NONE, .append_time = 1,
				.producer_id = -1, .base_sequence = -1 };
	cr_assert_eq(vv_bb_finish(bb, &prm, p, len), 0);
}

Test(record_next, agrees_with_vv_record_next_on_every_mutation)
{
	vv_batch_builder bb;
	const uint8_t *orig;
	size_t len;
	varied_batch(&bb, &orig, &len);
	uint8_t *c = malloc(len);
	memcpy(c, orig, len);
	vv_batch_header h;
	cr_assert_eq(vv_batch_parse_header(c, len, MAXB, &h), 0);
	lockstep_stats st = { 0, 0, 0, 0 };
	lockstep(c, &h, &st, "intact");
	cr_assert_eq(st.batches_bad, 0, "the intact batch decodes");
	/* the fast path: records 0, 2 and 3; the fallback: 1 (its headers
	 * need an array), 4 (a 3-byte timestamp delta and value length), 5
	 * and 6 (3-byte offset deltas) */
	cr_assert_eq(st.fast, 3);
	cr_assert_eq(st.fallback_ok, 4);
	/* batch header fields the record checks use */
	for (int v = 0; v < 8; v++) {
		vv_batch_header hv = h;
		switch (v) {
		case 0: hv.last_offset_delta--; break;
		case 1: hv.last_offset_delta++; break;
		case 2: hv.record_count--; break;
		case 3: hv.record_count++; break;
		case 4: hv.max_timestamp = 5002; break;
		case 5: hv.first_timestamp = 4995; break;
		case 6: hv.first_timestamp = 2; break;
		default: hv.base_offset = INT64_MAX - 20000; break;
		}
		char ctx[64];
		snprintf(ctx, sizeof ctx, "header variant %d", v);
		lockstep(c, &hv, &st, ctx);
	}
	/* every byte of the records section, each set to a few values */
	for (size_t i = VV_BATCH_HEADER_SIZE; i < len; i++) {
		uint8_t o = c[i];
		const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xff,
					 (uint8_t)(o + 1), (uint8_t)(o - 1), (uint8_t)(o ^ 0x80) };
		/* inside the big value every byte is alike: a few suffice */
		if (i > VV_BATCH_HEADER_SIZE + 1000 && i < len - 200 && i % 997)
			continue;
		for (size_t k = 0; k < sizeof vals; k++) {
			if (vals[k] == o)
				continue;
			c[i] = vals[k];
			char ctx[64];
			snprintf(ctx, sizeof ctx, "byte %zu = 0x%02x", i, vals[k]);
			lockstep(c, &h, &st, ctx);
		}
		c[i] = o;
	}
	printf("record_next lockstep: %ld by the fast path, %ld by the fallback, %ld refused after "
	       "the fast path handed them back; %ld batches refused\n",
	       st.fast, st.fallback_ok, st.fallback_bad, st.batches_bad);
	cr_assert_gt(st.fallback_bad, 100, "damaged records go through the fast path first");
	cr_assert_gt(st.batches_bad, 100);
	free(c);
	vv_bb_free(&bb);
}

/* ---- through the public iterator -------------------------------------------------- */

Test(record_next, iterator_refuses_a_damaged_record_inside_a_batch)
{
	const char *store = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(store, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	char vals[310][16];
	varve_record recs[300];
	for (int i = 0; i < 310; i++) {
		snprintf(vals[i], sizeof vals[i], "value %d", i);
		if (i < 300)
			recs[i] = t_rec("key", 3, vals[i], strlen(vals[i]));
	}
	t_ok(varve_produce_batch(db, "t", recs, 300, NULL));
	for (int i = 0; i < 10; i++)
		recs[i] = t_rec("key", 3, vals[300 + i], strlen(vals[300 + i]));
	t_ok(varve_produce_batch(db, "t", recs, 10, NULL));
	t_close(db);

	/* record 200 of the first batch gets record 199's offset delta (both
	 * two-byte varints), and the batch a matching checksum */
	const char *seg = t_seg_path(store, "t", 0, 0, ".log");
	size_t flen;
	uint8_t *f = t_read_file(seg, &flen);
	uint64_t pos[4], end;
	cr_assert_eq(t_batch_positions(seg, pos, 4, &end), 2);
	uint8_t *batch = f + pos[0];
	vv_batch_header h;
	cr_assert_eq(vv_batch_parse_header(batch, flen - pos[0], MAXB, &h), 0);
	cr_assert_eq(h.record_count, 300);
	vv_record_reader rr;
	uint8_t *scratch = NULL;
	size_t scap = 0, hcap = 0;
	varve_header *hdrs = NULL;
	cr_assert_eq(vv_record_reader_init(&rr, batch, &h, &scratch, &scap, MAXB), 0);
	varve_record r;
	for (int i = 0; i < 200; i++)
		cr_assert_eq(vv_record_next(&rr, &r, &hdrs, &hcap), 0);
	const uint8_t *q = rr.p;
	uint64_t body, delta;
	cr_assert_eq(vv_varint_get(&q, rr.end, &body), 0);
	uint8_t *d = (uint8_t *)q;
	cr_assert_eq(vv_varint_get(&q, rr.end, &delta), 0);
	cr_assert_eq(delta, 200);
	cr_assert_eq(vv_varint_put(d, 199), 2);
	vv_store64(batch, vv_batch_checksum(batch, h.length));
	t_write_file(seg, f, flen);
	free(f);
	free(scratch);
	free(hdrs);

	db = t_open(store, &o);
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 0, &it));
	const varve_record *rec;
	for (int i = 0; i < 200; i++) {
		t_ok(varve_iter_next(it, &rec));
		cr_assert_eq(rec->offset, i);
		cr_assert_eq(rec->partition, 0);
		cr_assert_eq(rec->value_len, strlen(vals[i]));
		cr_assert_eq(memcmp(rec->value, vals[i], rec->value_len), 0, "record %d", i);
	}
	t_assert_rc(varve_iter_next(it, &rec), VARVE_ECORRUPT);
	cr_assert_null(rec);
	t_assert_rc(varve_iter_next(it, &rec), VARVE_ECORRUPT); /* and stays there */
	cr_assert_eq(varve_iter_position(it), 200);
	int64_t from, to;
	t_ok(varve_iter_skip_damaged(it, &from, &to));
	cr_assert_eq(from, 200);
	cr_assert_eq(to, 300);
	for (int i = 300; i < 310; i++) {
		t_ok(varve_iter_next(it, &rec));
		cr_assert_eq(rec->offset, i);
		cr_assert_eq(memcmp(rec->value, vals[i], rec->value_len), 0, "record %d", i);
	}
	t_assert_rc(varve_iter_next(it, &rec), VARVE_EEND);
	varve_iter_close(it);
	t_close(db);
}
