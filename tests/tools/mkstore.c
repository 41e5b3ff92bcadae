/* SPDX-License-Identifier: MIT */
/*
 * mkstore -- builds stores for the varve-dump end-to-end tests through the
 * public API only.
 *
 *   mkstore DIR rich     small segments (many per partition), a plain topic
 *                        with 2 partitions, an LZ4 topic, binary keys, null
 *                        keys, tombstones, headers with null values, and a
 *                        topic created then deleted (a metadata tombstone)
 *   mkstore DIR reopen   produce, close, reopen, produce past a roll, close:
 *                        the indexes of the segment active across the reopen
 *                        are what --verify looks at
 *   mkstore DIR batches  one topic "b" of one partition: 60 batches of 5
 *                        records in one segment, indexed densely (damage
 *                        in one batch must not spill onto the others)
 *
 * Timestamps are explicit so the output is deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "varve.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "mkstore: %s: %s (%s)\n", what, varve_errmsg(rc), varve_last_error()->message);
	return 1;
}

static int64_t ts_base = 1700000000000LL;

static int produce_batches(varve_db *db, const char *topic, int batches, int per_batch, int *seq)
{
	varve_record recs[64];
	unsigned char keys[64][8];
	char vals[64][48];
	varve_header hdrs[2] = { { "trace", 5, "\x00\x01\xfe\xff", 4 }, { "empty", 5, NULL, 0 } };
	for (int b = 0; b < batches; b++) {
		for (int i = 0; i < per_batch; i++, (*seq)++) {
			int s = *seq;
			varve_record *r = &recs[i];
			memset(r, 0, sizeof *r);
			for (int k = 0; k < 8; k++)
				keys[i][k] = (unsigned char)(s * 37 + k * 101);
			int vl = snprintf(vals[i], sizeof vals[i], "value-%d \"q\" \\ tab\t", s);
			if (s % 7 == 3) { /* null key */
				r->key = NULL;
			} else {
				r->key = keys[i];
				r->key_len = s % 5 == 0 ? 0 : 8;
			}
			if (s % 11 == 5) { /* tombstone */
				r->value = NULL;
			} else {
				r->value = vals[i];
				r->value_len = (size_t)vl;
			}
			if (s % 3 == 0) {
				r->headers = hdrs;
				r->header_count = 2;
			}
			/* mostly increasing; some records are older than the first
			 * of their batch, and every fourth batch is older than the
			 * one before it */
			r->timestamp = ts_base + (*seq - i) * 10 - (b % 4 == 2 ? 250 : 0) + i -
				       (i % 4 == 3 ? 25 : 0);
			r->partition = VARVE_PARTITION_ANY;
		}
		int rc = varve_produce_batch(db, topic, recs, (size_t)per_batch, NULL);
		if (rc)
			return fail("produce", rc);
	}
	return 0;
}

static int rich(const char *dir)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.segment_bytes = 2048;
	o.index_interval_bytes = 256;
	o.start_cleaner = 0;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = 2;
	if ((rc = varve_topic_create(db, "plain", &tc)))
		return fail("create plain", rc);
	tc.partitions = 1;
	tc.codec = VARVE_CODEC_LZ4;
	tc.retention_ms = 7LL * 24 * 3600 * 1000;
	if ((rc = varve_topic_create(db, "zipped", &tc)))
		return fail("create zipped", rc);
	tc = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;
	if ((rc = varve_topic_create(db, "gone", &tc)))
		return fail("create gone", rc);
	if ((rc = varve_topic_delete(db, "gone")))
		return fail("delete gone", rc);
	int seq = 0;
	if (produce_batches(db, "plain", 30, 5, &seq) || produce_batches(db, "zipped", 12, 20, &seq))
		return 1;
	/* one record at a time, fixed partition: many small batches */
	for (int i = 0; i < 10; i++) {
		varve_record r;
		memset(&r, 0, sizeof r);
		r.key = "single";
		r.key_len = 6;
		r.value = "x";
		r.value_len = 1;
		r.timestamp = ts_base + 100000 + i;
		r.partition = 1;
		if ((rc = varve_produce(db, "plain", &r, NULL, NULL)))
			return fail("produce single", rc);
	}
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}

static int reopen(const char *dir)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.segment_bytes = 4096;
	o.index_interval_bytes = 64;
	o.start_cleaner = 0;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	if ((rc = varve_topic_create(db, "t", &tc)))
		return fail("create", rc);
	int seq = 0;
	if (produce_batches(db, "t", 4, 3, &seq))
		return 1;
	if ((rc = varve_close(db)))
		return fail("close", rc);
	if ((rc = varve_open(dir, &o, &db)))
		return fail("reopen", rc);
	ts_base -= 100000; /* later batches carry older timestamps */
	if (produce_batches(db, "t", 30, 3, &seq))
		return 1;
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}

static int many_batches(const char *dir)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.index_interval_bytes = 64;
	o.start_cleaner = 0;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	if ((rc = varve_topic_create(db, "b", &tc)))
		return fail("create", rc);
	int seq = 0;
	if (produce_batches(db, "b", 60, 5, &seq))
		return 1;
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mkstore DIR rich|reopen|batches\n");
		return 2;
	}
	if (!strcmp(argv[2], "rich"))
		return rich(argv[1]);
	if (!strcmp(argv[2], "reopen"))
		return reopen(argv[1]);
	if (!strcmp(argv[2], "batches"))
		return many_batches(argv[1]);
	fprintf(stderr, "mkstore: unknown mode %s\n", argv[2]);
	return 2;
}
