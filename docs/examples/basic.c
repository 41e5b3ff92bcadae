/* SPDX-License-Identifier: MIT */
/*
 * varve-demo -- the quick-start job: create a store in a folder, produce
 * keyed records to a partitioned topic, close, reopen, and replay one
 * partition from a chosen offset.
 *
 *   varve-demo [STORE_DIR] [PARTITION] [FROM_OFFSET] [COUNT]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "varve.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "varve-demo: %s: %s (%s)\n", what, varve_errmsg(rc),
		varve_last_error()->message);
	return 1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "demo-store";
	uint32_t partition = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 0;
	int64_t from = argc > 3 ? strtoll(argv[3], NULL, 10) : 5;
	int count = argc > 4 ? atoi(argv[4]) : 1000;

	varve_options o = VARVE_OPTIONS_INIT; /* sync=always: durable by default */
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);

	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = 4;
	rc = varve_topic_create(db, "orders", &tc);
	if (rc && rc != VARVE_EEXISTS)
		return fail("create topic", rc);

	/* Produce in one batch call: one fsync per partition batch. */
	varve_record *recs = calloc((size_t)count, sizeof *recs);
	char (*keys)[32] = calloc((size_t)count, 32);
	char (*vals)[64] = calloc((size_t)count, 64);
	if (!recs || !keys || !vals)
		return fail("allocate", VARVE_ENOMEM);
	varve_header hdr = { "source", 6, "demo", 4 };
	for (int i = 0; i < count; i++) {
		int kl = snprintf(keys[i], sizeof keys[i], "customer-%d", i % 37);
		int vl = snprintf(vals[i], sizeof vals[i], "{\"order\":%d,\"amount\":%d}", i, i * 7 % 500);
		recs[i] = (varve_record){ keys[i], (size_t)kl, vals[i], (size_t)vl, &hdr, 1,
					  VARVE_TIMESTAMP_NOW, VARVE_PARTITION_ANY, 0, 0 };
	}
	rc = varve_produce_batch(db, "orders", recs, (size_t)count, NULL);
	if (rc)
		return fail("produce", rc);
	printf("produced %d records to topic orders (4 partitions)\n", count);
	free(recs);
	free(keys);
	free(vals);
	if ((rc = varve_close(db)))
		return fail("close", rc);

	/* Reopen and replay. */
	if ((rc = varve_open(dir, &o, &db)))
		return fail("reopen", rc);
	int64_t start, end;
	if ((rc = varve_offsets(db, "orders", partition, &start, &end)))
		return fail("offsets", rc);
	printf("reopened %s: orders/%u holds offsets [%" PRId64 ", %" PRId64 ")\n", dir, partition,
	       start, end);
	printf("replaying orders/%u from offset %" PRId64 ":\n", partition, from);
	varve_iter *it;
	if ((rc = varve_iter_open(db, "orders", partition, from, &it)))
		return fail("iter_open", rc);
	const varve_record *r;
	int shown = 0;
	while ((rc = varve_iter_next(it, &r)) == VARVE_OK) {
		if (shown++ < 10)
			printf("  offset %-6" PRId64 " key %-12.*s value %.*s\n", r->offset,
			       (int)r->key_len, (const char *)r->key, (int)r->value_len,
			       (const char *)r->value);
	}
	if (rc != VARVE_EEND)
		return fail("iter_next", rc);
	if (shown > 10)
		printf("  ... %d more\n", shown - 10);
	printf("read %d records\n", shown);
	varve_iter_close(it);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}
