/* SPDX-License-Identifier: MIT */
/*
 * fuzz_meta -- records of the metadata log with hostile keys and values:
 * topic configurations ('T'), group commits ('O'), groups ('G'), nack
 * attempts ('A'), the producer id counter ('N'), named producers ('P') and
 * unknown kinds. The records are encoded with the batch builder (valid
 * checksums), so replay sees exactly what the input says.
 *
 * Per input:
 *   1. each record goes through the metadata schema's decoder
 *      (vv_meta_decode), and what decodes must encode back
 *      (vv_meta_encode) to a record that decodes to the same fields;
 *   2. the records become <store>/meta/00000000000000000000.log in a fresh
 *      store under /dev/shm, which is opened read-write: the open may fail
 *      with a clean VARVE_E* code (a config that does not decode is
 *      VARVE_ECORRUPT, a newer format VARVE_EFORMAT) but never crash or
 *      leak. On success: list and describe topics and groups, read group
 *      offsets and lags, open the named producers (appends to the metadata
 *      log), close; then open again read-write and read-only: both must
 *      succeed and list the same topics and groups.
 *
 * Input layout:
 *   u8 flags  bit 0 LZ4 batches; bit 1 skip the read-only open; bit 2 open
 *             the named producers; bit 3 CLEAN marker; bit 4 an orphan topic
 *             directory; bit 5 a second, empty meta segment after the first
 *   records (at most 64): u8 kind (bits 0-2: 0 T, 1 O, 2 G, 3 A, 4 N, 5 P,
 *             6 raw first key byte taken from the input, 7 end the batch;
 *             bit 3 null value), u8 key length + key bytes (after the kind
 *             byte), u16 value length + value bytes
 * Topic configs that decode have their partition count cut to 1..3 and at
 * most 8 topic records are kept, so an input stays fast.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "meta.h"
#include "varve.h"

#define TARGET "fuzz_meta"
#define MAX_RECS 64
#define MAX_TOPICS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct mrec {
	uint8_t key[1 + 255];
	size_t klen;
	uint8_t *val; /* NULL = tombstone */
	size_t vlen;
	int batch_end;
} mrec;

static void check_code(int rc)
{
	if (rc > 0 || rc < VARVE_EDUPLICATE)
		fz_fail(TARGET, "an API call returned an unknown error code");
}

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return 1800000000000LL;
}

/* The fields of a decoded record that its kind gives meaning to. */
static int same_record(const vv_meta_rec *a, const vv_meta_rec *b)
{
	if (a->kind != b->kind || a->deleted != b->deleted)
		return 0;
	switch (a->kind) {
	case VV_META_TOPIC_CONFIG:
		if (strcmp(a->name, b->name))
			return 0;
		if (a->deleted)
			return 1;
		return a->cfg.partitions == b->cfg.partitions && a->cfg.codec == b->cfg.codec &&
		       a->cfg.cleanup_policy == b->cfg.cleanup_policy &&
		       a->cfg.retention_ms == b->cfg.retention_ms &&
		       a->cfg.retention_bytes == b->cfg.retention_bytes &&
		       a->cfg.retention_records == b->cfg.retention_records &&
		       a->cfg.segment_bytes == b->cfg.segment_bytes &&
		       a->cfg.segment_ms == b->cfg.segment_ms &&
		       a->cfg.delete_retention_ms == b->cfg.delete_retention_ms &&
		       !memcmp(&a->cfg.min_cleanable_dirty_ratio, &b->cfg.min_cleanable_dirty_ratio, 8) &&
		       a->cfg.timestamp_type == b->cfg.timestamp_type &&
		       a->cfg.max_future_skew_ms == b->cfg.max_future_skew_ms &&
		       a->cfg.partitioner == b->cfg.partitioner &&
		       a->cfg.dedup_window_ms == b->cfg.dedup_window_ms &&
		       a->cfg.retention_hard_bytes == b->cfg.retention_hard_bytes &&
		       a->time == b->time && !strcmp(a->text, b->text);
	case VV_META_COMMIT:
	case VV_META_ATTEMPT:
		if (strcmp(a->group, b->group) || strcmp(a->name, b->name) ||
		    a->partition != b->partition ||
		    (a->kind == VV_META_ATTEMPT && a->record_offset != b->record_offset))
			return 0;
		return a->deleted || (a->time == b->time && a->text_len == b->text_len &&
				      !memcmp(a->text, b->text, a->text_len) &&
				      (a->kind == VV_META_COMMIT ? a->offset == b->offset
								 : a->attempts == b->attempts));
	case VV_META_GROUP:
		return !strcmp(a->group, b->group) && (a->deleted || a->time == b->time);
	case VV_META_NEXT_PID:
		return a->id == b->id;
	case VV_META_PRODUCER:
		return !strcmp(a->name, b->name) &&
		       (a->deleted || (a->id == b->id && a->epoch == b->epoch));
	default:
		return 0;
	}
}

/* Step 1: the schema's decoder, and decode(encode(decode(x))) == decode(x). */
static void decode_direct(const mrec *v, size_t n)
{
	vv_meta_rec *r = malloc(sizeof *r), *r2 = malloc(sizeof *r2);
	uint8_t *kb = malloc(VV_META_KEY_MAX), *vb = malloc(VV_META_VALUE_MAX);
	if (!r || !r2 || !kb || !vb)
		fz_fail(TARGET, "out of memory");
	for (size_t i = 0; i < n; i++) {
		varve_record in = { v[i].key, v[i].klen, v[i].val, v[i].vlen, NULL, 0, 0, 0, (int64_t)i, 0 };
		int rc = vv_meta_decode(&in, r);
		if (rc != 0 && rc != VV_META_UNKNOWN && rc != VARVE_ECORRUPT && rc != VARVE_EFORMAT)
			fz_fail(TARGET, "vv_meta_decode returned an unexpected code");
		vv_error_clear();
		if (rc)
			continue;
		if (r->kind == VV_META_TOPIC_CONFIG && !r->deleted && vv_topic_config_validate(&r->cfg))
			fz_fail(TARGET, "a decoded topic config does not validate");
		if ((r->kind == VV_META_COMMIT || r->kind == VV_META_ATTEMPT ||
		     r->kind == VV_META_GROUP) && !vv_group_name_ok(r->group))
			fz_fail(TARGET, "a decoded group name breaks the rule");
		size_t kl, vl;
		if (vv_meta_encode(r, kb, &kl, vb, &vl))
			fz_fail(TARGET, "a decoded record does not encode");
		varve_record back = { kb, kl, r->deleted ? NULL : vb, vl, NULL, 0, 0, 0, (int64_t)i, 0 };
		if (vv_meta_decode(&back, r2))
			fz_fail(TARGET, "an encoded record does not decode");
		if (!same_record(r, r2))
			fz_fail(TARGET, "a record does not survive decode + encode + decode");
	}
	free(r);
	free(r2);
	free(kb);
	free(vb);
}

static int write_meta(const char *root, const mrec *v, size_t n, int codec, int second)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/meta", root);
	if (fz_mkdirs(path))
		return -1;
	vv_batch_builder bb;
	vv_bb_init(&bb);
	uint8_t *log = NULL;
	size_t len = 0;
	int64_t next = 0;
	int rc = 0;
	size_t i = 0;
	while (rc == 0 && i < n) {
		vv_bb_reset(&bb);
		uint32_t delta = 0;
		for (; i < n; i++) {
			varve_record r = { v[i].key, v[i].klen, v[i].val, v[i].vlen, NULL, 0,
					   1700000000000LL + (int64_t)i, 0, 0, 0 };
			if ((rc = vv_bb_add(&bb, delta++, r.timestamp, &r)))
				break;
			if (v[i].batch_end) {
				i++;
				break;
			}
		}
		if (rc || delta == 0)
			break;
		vv_batch_params prm = { next, codec, 1700000000000LL, -1, 0, -1 };
		const uint8_t *b;
		size_t bl;
		if ((rc = vv_bb_finish(&bb, &prm, &b, &bl)))
			break;
		uint8_t *nl = realloc(log, len + bl);
		if (!nl) {
			rc = -1;
			break;
		}
		memcpy(nl + len, b, bl);
		log = nl;
		len += bl;
		next += delta;
	}
	vv_bb_free(&bb);
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/meta/00000000000000000000.log", root);
		rc = fz_write_file(path, log ? log : (const uint8_t *)"", len);
	}
	if (rc == 0 && second) {
		snprintf(path, sizeof path, "%s/meta/%020" PRId64 ".log", root, next);
		rc = fz_write_file(path, "", 0);
	}
	free(log);
	return rc;
}

typedef struct names {
	char **v;
	size_t n;
} names;

/* Open, look around, close. Returns the open's result; fills topic and
 * group names (sorted, as the API gives them). */
static int pass(const char *root, int ro, int producers, const mrec *recs, size_t nrecs,
		names *topics, names *groups)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.read_only = ro;
	o.create_if_missing = 0;
	o.sync_policy = VARVE_SYNC_NONE;
	o.start_cleaner = 0;
	o.segment_bytes = 1u << 20;
	o.clock_fn = fixed_clock;
	o.max_open_files = 16;
	varve_db *db = NULL;
	int rc = varve_open(root, &o, &db);
	check_code(rc);
	if (rc) {
		if (db)
			fz_fail(TARGET, "failed open returned a handle");
		return rc;
	}
	rc = varve_topic_list(db, &topics->v, &topics->n);
	check_code(rc);
	if (rc)
		fz_fail(TARGET, "varve_topic_list failed on an open store");
	rc = varve_group_list(db, &groups->v, &groups->n);
	check_code(rc);
	if (rc)
		fz_fail(TARGET, "varve_group_list failed on an open store");
	for (size_t t = 0; t < topics->n; t++) {
		varve_topic_config c = { VARVE_TOPIC_CONFIG_VERSION };
		rc = varve_topic_describe(db, topics->v[t], &c);
		check_code(rc);
		if (rc)
			fz_fail(TARGET, "a listed topic does not describe");
		if (c.partitions < 1 || c.partitions > 3)
			fz_fail(TARGET, "a topic with a partition count the input cannot give");
		for (uint32_t p = 0; p < c.partitions; p++) {
			int64_t s, e;
			rc = varve_offsets(db, topics->v[t], p, &s, &e);
			check_code(rc);
			if (rc)
				fz_fail(TARGET, "a partition of a listed topic has no offsets");
			for (size_t g = 0; g < groups->n; g++) {
				int64_t off;
				check_code(varve_group_offset(db, groups->v[g], topics->v[t], p, &off));
				varve_lag lag = { VARVE_LAG_VERSION };
				check_code(varve_group_lag(db, groups->v[g], topics->v[t], p, &lag));
			}
		}
		int64_t off;
		check_code(varve_offset_for_time(db, topics->v[t], 0, 0, &off));
	}
	if (producers && !ro) {
		for (size_t i = 0; i < nrecs; i++) {
			if (recs[i].key[0] != VV_META_PRODUCER || recs[i].klen < 2)
				continue;
			char name[256];
			memcpy(name, recs[i].key + 1, recs[i].klen - 1);
			name[recs[i].klen - 1] = 0;
			varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
			po.name = name;
			po.resume = (int)(i & 1);
			varve_producer *p = NULL;
			rc = varve_producer_open(db, &po, &p);
			check_code(rc);
			if (rc == 0) {
				int64_t id;
				uint16_t ep;
				check_code(varve_producer_id(p, &id, &ep));
				varve_producer_close(p);
			}
		}
		varve_producer *anon = NULL;
		rc = varve_producer_open(db, NULL, &anon);
		check_code(rc);
		if (rc == 0)
			varve_producer_close(anon);
	}
	check_code(varve_close(db));
	return 0;
}

static void names_free(names *n)
{
	if (n->v)
		varve_strings_free(n->v, n->n);
	n->v = NULL;
	n->n = 0;
}

static int names_equal(const names *a, const names *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return 0;
	return 1;
}

static size_t parse(const uint8_t *data, size_t size, mrec *v, uint8_t *flags)
{
	fz_in s = { data, size };
	*flags = (uint8_t)fz_take(&s, 1);
	static const uint8_t kinds[6] = { 'T', 'O', 'G', 'A', 'N', 'P' };
	size_t n = 0, topics = 0;
	while (s.n && n < MAX_RECS) {
		uint8_t kind = (uint8_t)fz_take(&s, 1);
		int k = kind & 7;
		if (k == 7) {
			if (n)
				v[n - 1].batch_end = 1;
			continue;
		}
		mrec *r = &v[n];
		memset(r, 0, sizeof *r);
		r->key[0] = k == 6 ? (uint8_t)fz_take(&s, 1) : kinds[k];
		size_t got;
		const uint8_t *kb = fz_bytes(&s, (size_t)fz_take(&s, 1), &got);
		memcpy(r->key + 1, kb, got);
		r->klen = 1 + got;
		if (!(kind & 8)) {
			const uint8_t *vb = fz_bytes(&s, (size_t)fz_take(&s, 2), &got);
			r->val = malloc(got ? got : 1);
			if (!r->val)
				abort();
			memcpy(r->val, vb, got);
			r->vlen = got;
		}
		if (r->key[0] == VV_META_TOPIC_CONFIG) {
			if (++topics > MAX_TOPICS) {
				free(r->val);
				continue;
			}
			/* keep every input fast: 1..3 partitions */
			if (r->val && r->vlen >= 5 && r->val[0] == 1)
				vv_store32(r->val + 1, 1 + vv_load32(r->val + 1) % 3);
		}
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	static mrec recs[MAX_RECS];
	uint8_t fl;
	size_t n = parse(data, size, recs, &fl);
	decode_direct(recs, n);

	char root[4096], path[4096];
	if (fz_mkdtemp(root, sizeof root, "meta"))
		abort();
	snprintf(path, sizeof path, "%s/VERSION", root);
	int rc = fz_write_file(path, "1\n", 2);
	if (rc == 0)
		rc = write_meta(root, recs, n, (fl & 1) ? VARVE_CODEC_LZ4 : VARVE_CODEC_NONE, fl & 32);
	if (rc == 0 && (fl & 8)) {
		snprintf(path, sizeof path, "%s/CLEAN", root);
		rc = fz_write_file(path, "", 0);
	}
	if (rc == 0 && (fl & 16)) {
		snprintf(path, sizeof path, "%s/topics/orphan/0", root);
		rc = fz_mkdirs(path);
	}
	if (rc) {
		fz_rm_tree(root);
		abort(); /* the scratch filesystem failed us, not varve */
	}

	names t1 = { 0 }, g1 = { 0 }, t2 = { 0 }, g2 = { 0 }, t3 = { 0 }, g3 = { 0 };
	rc = pass(root, 0, fl & 4, recs, n, &t1, &g1);
	if (rc == 0) {
		if (pass(root, 0, 0, recs, n, &t2, &g2))
			fz_fail(TARGET, "a second read-write open failed after a successful one");
		if (!names_equal(&t1, &t2) || !names_equal(&g1, &g2))
			fz_fail(TARGET, "replay is not idempotent: topics or groups changed");
		if (!(fl & 2)) {
			if (pass(root, 1, 0, recs, n, &t3, &g3))
				fz_fail(TARGET, "a read-only open failed after a clean close");
			if (!names_equal(&t1, &t3) || !names_equal(&g1, &g3))
				fz_fail(TARGET, "the read-only open lists other topics or groups");
		}
	} else {
		/* a read-only open of the same bytes fails the same way or works */
		(void)pass(root, 1, 0, recs, n, &t3, &g3);
	}
	names_free(&t1);
	names_free(&g1);
	names_free(&t2);
	names_free(&g2);
	names_free(&t3);
	names_free(&g3);
	for (size_t i = 0; i < n; i++)
		free(recs[i].val);
	fz_rm_tree(root);
	return 0;
}
