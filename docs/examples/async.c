/* SPDX-License-Identifier: MIT */
/*
 * async -- asynchronous produce with completion callbacks and backpressure
 * (docs/API.md, "Asynchronous produce").
 *
 *   async DIR     (DIR is removed first if it is a varve store or empty)
 *
 *  1. With inflight_block = 1 (the default) and a small max_inflight_bytes,
 *     varve_produce_async blocks while too many bytes await their
 *     acknowledgement. Each callback reports that its record is durable
 *     (sync=always: fsynced), in offset order per partition; concurrent
 *     records share fsyncs.
 *  2. With inflight_block = 0 the call returns VARVE_EAGAIN instead, and the
 *     caller decides what to do (here: wait with varve_flush, then retry).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "varve.h"

#define RECORDS 2000
#define PARTITIONS 4

static int fail(const char *what, int rc)
{
	fprintf(stderr, "async: %s: %s (%s)\n", what, varve_errmsg(rc), varve_last_error()->message);
	return 1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int remove_store(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return 0;
	char version[4096];
	snprintf(version, sizeof version, "%s/VERSION", dir);
	int empty = 0;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		empty = 1;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = 0;
		closedir(d);
	}
	if (!empty && access(version, F_OK) != 0) {
		fprintf(stderr, "async: %s is neither empty nor a varve store\n", dir);
		return -1;
	}
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

/* What the callbacks see. They run on the store's completion thread: keep
 * them short, touch only atomics, never block, never call varve_close. */
typedef struct acks {
	atomic_long ok, failed;
	atomic_long order_errors;
	_Atomic int64_t last[PARTITIONS]; /* last acknowledged offset per partition */
} acks;

static void on_done(void *ctx, int rc, int32_t partition, int64_t offset)
{
	acks *a = ctx;
	if (rc != VARVE_OK) {
		/* Not durable (e.g. VARVE_EIO after a failed fsync): the record may
		 * or may not be in the log. Re-send it (idempotently) or report. */
		atomic_fetch_add(&a->failed, 1);
		return;
	}
	/* Per partition, callbacks come in offset order. */
	if (partition < 0 || partition >= PARTITIONS ||
	    atomic_exchange(&a->last[partition], offset) >= offset)
		atomic_fetch_add(&a->order_errors, 1);
	atomic_fetch_add(&a->ok, 1);
}

static void acks_init(acks *a)
{
	atomic_init(&a->ok, 0);
	atomic_init(&a->failed, 0);
	atomic_init(&a->order_errors, 0);
	for (int p = 0; p < PARTITIONS; p++)
		atomic_init(&a->last[p], -1);
}

static varve_record make_record(int i, char *key, char *val)
{
	int kl = snprintf(key, 16, "sensor-%d", i % 13);
	int vl = snprintf(val, 100, "{\"reading\":%d,\"pad\":\"%040d\"}", i, i);
	return (varve_record){ .key = key, .key_len = (size_t)kl, .value = val,
			       .value_len = (size_t)vl, .timestamp = VARVE_TIMESTAMP_NOW,
			       .partition = VARVE_PARTITION_ANY };
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "async-store";
	if (remove_store(dir))
		return 1;

	/* ---- 1: blocking backpressure ------------------------------------- */
	varve_options o = VARVE_OPTIONS_INIT;     /* sync=always */
	o.max_inflight_bytes = 32 * 1024;         /* small, to see backpressure */
	o.inflight_block = 1;                     /* past it: wait (default) */
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = PARTITIONS;
	if ((rc = varve_topic_create(db, "events", &tc)))
		return fail("topic_create", rc);

	static acks a1;
	acks_init(&a1);
	varve_stats before = { .version = VARVE_STATS_VERSION };
	varve_stats_get(db, &before);
	for (int i = 0; i < RECORDS; i++) {
		char key[16], val[100];
		varve_record r = make_record(i, key, val);
		/* The record is appended (its offset fixed) before this returns; the
		 * key and value are copied, so the buffers can go. */
		if ((rc = varve_produce_async(db, "events", &r, on_done, &a1)))
			return fail("produce_async", rc);
	}
	if ((rc = varve_flush(db))) /* wait for every callback */
		return fail("flush", rc);
	varve_stats after = { .version = VARVE_STATS_VERSION };
	varve_stats_get(db, &after);
	printf("blocking: %ld acknowledged, %ld failed; %" PRIu64 " produce calls waited for room; "
	       "%" PRIu64 " fsyncs for %d records\n",
	       atomic_load(&a1.ok), atomic_load(&a1.failed),
	       after.backpressure_waits - before.backpressure_waits, after.fsyncs - before.fsyncs,
	       RECORDS);
	if (atomic_load(&a1.ok) != RECORDS || atomic_load(&a1.failed) ||
	    atomic_load(&a1.order_errors) || varve_inflight_bytes(db) != 0) {
		fprintf(stderr, "async: unexpected acknowledgements\n");
		return 1;
	}
	if ((rc = varve_close(db)))
		return fail("close", rc);

	/* ---- 2: VARVE_EAGAIN instead of blocking ----------------------------- */
	o.inflight_block = 0;
	if ((rc = varve_open(dir, &o, &db)))
		return fail("reopen", rc);
	static acks a2;
	acks_init(&a2);
	int64_t start[PARTITIONS];
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		if ((rc = varve_offsets(db, "events", p, NULL, &start[p])))
			return fail("offsets", rc);
		atomic_store(&a2.last[p], start[p] - 1);
	}
	long again = 0;
	for (int i = 0; i < RECORDS; i++) {
		char key[16], val[100];
		varve_record r = make_record(i, key, val);
		while ((rc = varve_produce_async(db, "events", &r, on_done, &a2)) == VARVE_EAGAIN) {
			/* Full: nothing was appended. Wait for room, then try again
			 * (or drop, or tell your own caller to slow down). */
			again++;
			if ((rc = varve_flush(db)))
				return fail("flush", rc);
		}
		if (rc)
			return fail("produce_async", rc);
	}
	if ((rc = varve_flush(db)))
		return fail("flush", rc);
	printf("non-blocking: %ld acknowledged after %ld VARVE_EAGAIN answers\n", atomic_load(&a2.ok),
	       again);
	if (atomic_load(&a2.ok) != RECORDS || atomic_load(&a2.failed) ||
	    atomic_load(&a2.order_errors)) {
		fprintf(stderr, "async: unexpected acknowledgements\n");
		return 1;
	}

	/* Everything is in the log: 2 x RECORDS records over the partitions. */
	int64_t total = 0;
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		int64_t s, e;
		if ((rc = varve_offsets(db, "events", p, &s, &e)))
			return fail("offsets", rc);
		total += e - s;
	}
	printf("verified: %" PRId64 " records in topic events\n", total);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return total == 2 * RECORDS ? 0 : 1;
}
