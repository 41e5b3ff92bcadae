/* SPDX-License-Identifier: MIT */
/*
 * idempotent -- an idempotent producer that retries, crashes, restarts and
 * resumes without duplicates; then fencing (docs/API.md, "Delivery
 * guarantees").
 *
 *   idempotent DIR     (DIR is removed first if it is a varve store or empty)
 *
 * The source is 10 batches of 3 payments. Batch i is always sent with
 * sequence 3*i, so a re-send of the same batch is recognised by the store:
 *
 *  1. Process 1 opens the named producer "ingest" and sends batches 0..6.
 *     It retries batch 2 as if the first acknowledgement had been lost: the
 *     retry is reported as a duplicate with the original offsets. It
 *     "crashes" right after sending batch 6, before recording that batch 6
 *     was acknowledged; its own progress says 6 batches (0..5).
 *  2. Process 2 opens "ingest" with resume = 1 (same id, same epoch) and
 *     re-sends from its own progress: batch 6 comes back as a duplicate,
 *     batches 7..9 are appended. A very old batch is refused with
 *     VARVE_EDUPLICATE, a sequence gap with VARVE_ESEQUENCE.
 *  3. A second "ingest" opened without resume takes a new epoch: the older
 *     handle is fenced (VARVE_EFENCED); the new one starts at sequence 0.
 *  4. The topic holds every payment exactly once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "varve.h"

#define BATCHES 10
#define PER_BATCH 3
#define TOPIC "payments"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "idempotent: %s: %s (%s)\n", what, varve_errmsg(rc),
		varve_last_error()->message);
	return 1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove DIR if it is a varve store (has VERSION) or an empty directory. */
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
		fprintf(stderr, "idempotent: %s is neither empty nor a varve store\n", dir);
		return -1;
	}
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

/* The source: batch b holds payments 3b, 3b+1, 3b+2. */
typedef struct batch {
	varve_record recs[PER_BATCH];
	char keys[PER_BATCH][16], vals[PER_BATCH][32];
} batch;

static void make_batch(batch *b, int i)
{
	for (int k = 0; k < PER_BATCH; k++) {
		int n = i * PER_BATCH + k;
		int kl = snprintf(b->keys[k], sizeof b->keys[k], "acct-%d", n % 4);
		int vl = snprintf(b->vals[k], sizeof b->vals[k], "payment %d", n);
		b->recs[k] = (varve_record){ .key = b->keys[k], .key_len = (size_t)kl,
					     .value = b->vals[k], .value_len = (size_t)vl,
					     .timestamp = VARVE_TIMESTAMP_NOW,
					     .partition = VARVE_PARTITION_ANY };
	}
}

/* Is this error worth a retry with the same sequence? */
static int retryable(int rc)
{
	return rc == VARVE_EAGAIN || rc == VARVE_ENOSPC;
}

/* Send batch i with sequence 3i; retry transient errors with the same
 * sequence (the store drops a copy it already has). */
static int send_batch(varve_producer *p, int i, int *duplicate)
{
	batch b;
	make_batch(&b, i);
	int rc;
	for (int attempt = 1;; attempt++) {
		int32_t seq = i * PER_BATCH; /* the same on every attempt */
		rc = varve_producer_send(p, TOPIC, 0, b.recs, PER_BATCH, &seq);
		if (rc == VARVE_OK || !retryable(rc) || attempt == 5)
			break;
		usleep(10000u << attempt); /* back off, then the same batch again */
	}
	if (rc == VARVE_OK) {
		*duplicate = (b.recs[0].flags & VARVE_RECORD_DUPLICATE) != 0;
		printf("  batch %d (sequence %d): offsets %" PRId64 "..%" PRId64 "%s\n", i,
		       i * PER_BATCH, b.recs[0].offset, b.recs[PER_BATCH - 1].offset,
		       *duplicate ? "  [duplicate: already stored, nothing appended]" : "");
	}
	return rc;
}

/* Process 1: send batches 0..6, crash before recording batch 6. */
static int first_process(const char *dir)
{
	varve_options o = VARVE_OPTIONS_INIT; /* sync=always: an OK is on disk */
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	po.name = "ingest";
	varve_producer *p;
	if ((rc = varve_producer_open(db, &po, &p)))
		return fail("producer_open", rc);
	int64_t id;
	uint16_t epoch;
	varve_producer_id(p, &id, &epoch);
	printf("process 1: producer ingest has id %" PRId64 ", epoch %u\n", id, epoch);

	int progress = 0; /* batches known to be acknowledged */
	for (int i = 0; i <= 6; i++) {
		int dup;
		if ((rc = send_batch(p, i, &dup)))
			return fail("send", rc);
		if (dup) {
			fprintf(stderr, "idempotent: a first send was a duplicate\n");
			return 1;
		}
		if (i == 2) {
			/* The acknowledgement was "lost": send the same batch again. */
			printf("  retrying batch 2 as if its acknowledgement had been lost\n");
			if ((rc = send_batch(p, 2, &dup)))
				return fail("retry", rc);
			if (!dup) {
				fprintf(stderr, "idempotent: the retry was appended twice\n");
				return 1;
			}
		}
		if (i == 6)
			break; /* crash before the progress is updated */
		progress = i + 1;
	}
	printf("  crash! (progress says %d batches were acknowledged)\n", progress);
	fflush(stdout);
	_exit(progress); /* no close: what kill -9 would leave */
}

/* Process 2: resume the same producer and re-send from the progress. */
static int second_process(const char *dir, int progress)
{
	varve_options o = VARVE_OPTIONS_INIT;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	po.name = "ingest";
	po.resume = 1; /* same epoch: continue, do not fence ourselves */
	varve_producer *p;
	if ((rc = varve_producer_open(db, &po, &p)))
		return fail("producer_open", rc);
	int64_t id;
	uint16_t epoch;
	int32_t last;
	varve_producer_id(p, &id, &epoch);
	if ((rc = varve_producer_last_sequence(p, TOPIC, 0, &last)))
		return fail("last_sequence", rc);
	printf("process 2: producer ingest resumed, id %" PRId64 ", epoch %u; the partition's "
	       "last sequence from it is %d\n",
	       id, epoch, last);

	int dups = 0;
	for (int i = progress; i < BATCHES; i++) {
		int dup;
		if ((rc = send_batch(p, i, &dup)))
			return fail("send", rc);
		dups += dup;
	}
	if (dups != 1) {
		fprintf(stderr, "idempotent: expected exactly one duplicate, got %d\n", dups);
		return 1;
	}

	/* Sequences the store refuses. */
	batch b;
	make_batch(&b, 0);
	int32_t seq = 0; /* batch 0: older than the 5 batches a partition remembers */
	rc = varve_producer_send(p, TOPIC, 0, b.recs, PER_BATCH, &seq);
	printf("  re-sending batch 0 now: %s\n", varve_errmsg(rc));
	if (rc != VARVE_EDUPLICATE)
		return fail("expected VARVE_EDUPLICATE", rc);
	seq = 1000; /* a gap: something in between is missing */
	rc = varve_producer_send(p, TOPIC, 0, b.recs, PER_BATCH, &seq);
	printf("  sending sequence 1000: %s\n", varve_errmsg(rc));
	if (rc != VARVE_ESEQUENCE)
		return fail("expected VARVE_ESEQUENCE", rc);

	/* Fencing: a second instance without resume takes a new epoch. */
	varve_producer_options po2 = VARVE_PRODUCER_OPTIONS_INIT;
	po2.name = "ingest";
	varve_producer *p2;
	if ((rc = varve_producer_open(db, &po2, &p2)))
		return fail("producer_open (second instance)", rc);
	uint16_t epoch2;
	varve_producer_id(p2, NULL, &epoch2);
	make_batch(&b, BATCHES); /* payments 30..32 */
	seq = VARVE_SEQUENCE_AUTO;
	rc = varve_producer_send(p, TOPIC, 0, b.recs, PER_BATCH, &seq);
	printf("  old handle (epoch %u) after epoch %u opened: %s\n", epoch, epoch2,
	       varve_errmsg(rc));
	if (rc != VARVE_EFENCED)
		return fail("expected VARVE_EFENCED", rc);
	seq = VARVE_SEQUENCE_AUTO; /* a new epoch starts at sequence 0 */
	if ((rc = varve_producer_send(p2, TOPIC, 0, b.recs, PER_BATCH, &seq)))
		return fail("send (new epoch)", rc);
	printf("  new handle (epoch %u) sent sequence %d at offsets %" PRId64 "..%" PRId64 "\n",
	       epoch2, seq, b.recs[0].offset, b.recs[PER_BATCH - 1].offset);
	varve_producer_close(p);
	varve_producer_close(p2);

	/* Every payment exactly once, in order. */
	varve_iter *it;
	if ((rc = varve_iter_open(db, TOPIC, 0, 0, &it)))
		return fail("iter_open", rc);
	const varve_record *r;
	int expect = 0;
	while ((rc = varve_iter_next(it, &r)) == VARVE_OK) {
		char want[32];
		int wl = snprintf(want, sizeof want, "payment %d", expect);
		if (r->value_len != (size_t)wl || memcmp(r->value, want, (size_t)wl)) {
			fprintf(stderr, "idempotent: offset %" PRId64 " holds \"%.*s\", not \"%s\"\n",
				r->offset, (int)r->value_len, (const char *)r->value, want);
			return 1;
		}
		expect++;
	}
	varve_iter_close(it);
	if (rc != VARVE_EEND)
		return fail("iter_next", rc);
	if (expect != (BATCHES + 1) * PER_BATCH) {
		fprintf(stderr, "idempotent: %d records, expected %d\n", expect,
			(BATCHES + 1) * PER_BATCH);
		return 1;
	}
	printf("verified: %d payments, each exactly once\n", expect);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "idempotent-store";
	if (remove_store(dir))
		return 1;
	varve_options o = VARVE_OPTIONS_INIT;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT; /* one partition */
	if ((rc = varve_topic_create(db, TOPIC, &tc)))
		return fail("topic_create", rc);
	if ((rc = varve_close(db)))
		return fail("close", rc);

	/* Two processes, one after the other, as after a crash and a restart. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0)
		_exit(first_process(dir) ? 100 : 0); /* first_process exits by itself */
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 6) {
		fprintf(stderr, "idempotent: process 1 did not stop as planned\n");
		return 1;
	}
	return second_process(dir, WEXITSTATUS(status));
}
