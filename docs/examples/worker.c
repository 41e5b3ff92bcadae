/* SPDX-License-Identifier: MIT */
/*
 * worker -- a consumer-group worker that processes jobs, commits, crashes,
 * restarts and resumes (docs/API.md, "Consumer groups" and "Delivery
 * guarantees").
 *
 *   worker DIR            the whole demonstration (what `meson test` runs):
 *                         seed 120 jobs, run the worker twice as two separate
 *                         processes -- the first one "crashes" after
 *                         processing a poll it has not committed -- then
 *                         check that every job has exactly one result
 *   worker DIR seed       create the store in DIR and add 120 jobs
 *   worker DIR work [N]   one worker run: process up to N jobs (default: all
 *                         there are), committing after each poll
 *
 * Run `worker DIR seed`, then `worker DIR work 50` twice in a row: the second
 * run prints that it resumes where the first one committed.
 *
 * What it shows:
 *  - at-least-once: the worker commits after processing, so a crash between
 *    processing and commit makes the next run process those jobs again;
 *  - idempotent output: each result carries a "msg-id" header naming the job,
 *    and the results topic has a message-id duplicate window, so the
 *    redelivered jobs do not produce second results.
 *
 * DIR is removed first by the demonstration and by `seed` (only if it is a
 * varve store or empty).
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

#define JOBS 120
#define GROUP "workers"
#define EXIT_CRASHED 42 /* the simulated crash */

static int fail(const char *what, int rc)
{
	fprintf(stderr, "worker: %s: %s (%s)\n", what, varve_errmsg(rc), varve_last_error()->message);
	return 1;
}

/* ---- the store directory ------------------------------------------------ */

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
		return 0; /* nothing there */
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
		fprintf(stderr, "worker: %s is neither empty nor a varve store; not removing it\n", dir);
		return -1;
	}
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		perror(dir);
		return -1;
	}
	return 0;
}

/* ---- seeding ------------------------------------------------------------- */

static int seed(const char *dir)
{
	if (remove_store(dir))
		return 1;
	varve_options o = VARVE_OPTIONS_INIT; /* sync=always */
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);

	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = 3;
	if ((rc = varve_topic_create(db, "jobs", &tc)))
		return fail("create jobs", rc);
	/* Results: one partition, and a message-id window of one hour, so a
	 * result produced twice for the same job is stored once. */
	varve_topic_config rc_cfg = VARVE_TOPIC_CONFIG_INIT;
	rc_cfg.dedup_window_ms = 3600 * 1000;
	if ((rc = varve_topic_create(db, "results", &rc_cfg)))
		return fail("create results", rc);

	varve_record recs[JOBS];
	char keys[JOBS][16], vals[JOBS][32];
	for (int i = 0; i < JOBS; i++) {
		int kl = snprintf(keys[i], sizeof keys[i], "job-%03d", i);
		int vl = snprintf(vals[i], sizeof vals[i], "resize image %d", i);
		recs[i] = (varve_record){ .key = keys[i], .key_len = (size_t)kl,
					  .value = vals[i], .value_len = (size_t)vl,
					  .timestamp = VARVE_TIMESTAMP_NOW,
					  .partition = VARVE_PARTITION_ANY }; /* by key */
	}
	/* One call: one batch (and one fsync) per partition. */
	if ((rc = varve_produce_batch(db, "jobs", recs, JOBS, NULL)))
		return fail("produce jobs", rc);
	printf("seeded %d jobs into topic jobs (3 partitions)\n", JOBS);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}

/* ---- one worker run -------------------------------------------------------- */

/* Process up to max jobs (< 0: all there are). With crash set, the run ends
 * with _exit() right after processing a poll that crosses max, before
 * committing it: what a kill -9 or a power cut at that moment would do. */
static int work(const char *dir, long max, int crash)
{
	varve_options o = VARVE_OPTIONS_INIT;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);

	const char *topics[] = { "jobs" };
	varve_consumer_options co = VARVE_CONSUMER_OPTIONS_INIT;
	co.max_records = 16; /* a small poll, to have several commits */
	varve_consumer *c;
	if ((rc = varve_consumer_open(db, GROUP, topics, 1, &co, &c)))
		return fail("consumer_open", rc);

	/* Where this run starts: the committed offset of each partition. */
	const varve_topic_partition *tps;
	size_t ntp;
	if ((rc = varve_consumer_assignment(c, &tps, &ntp)))
		return fail("assignment", rc);
	for (size_t i = 0; i < ntp; i++) {
		int64_t pos, committed;
		if ((rc = varve_consumer_position(c, tps[i].topic, tps[i].partition, &pos)))
			return fail("position", rc);
		if (varve_group_offset(db, GROUP, tps[i].topic, tps[i].partition, &committed))
			printf("  %s/%u: no commit yet, starting at offset %" PRId64 "\n", tps[i].topic,
			       tps[i].partition, pos);
		else
			printf("  %s/%u: resuming at committed offset %" PRId64 "\n", tps[i].topic,
			       tps[i].partition, committed);
	}

	long done = 0, dups = 0;
	for (;;) {
		const varve_msg *m;
		size_t n;
		/* Wait at most 100 ms for jobs; 0 records means the queue is drained. */
		if ((rc = varve_consumer_poll(c, 100, &m, &n)))
			return fail("poll", rc);
		if (n == 0)
			break;

		/* Process: one result per job, stamped with the job's identity. */
		varve_record out[16];
		varve_header hdr[16];
		char ids[16][64], vals[16][96];
		for (size_t i = 0; i < n; i++) {
			int il = snprintf(ids[i], sizeof ids[i], "%s/%d/%" PRId64, m[i].topic,
					  m[i].rec.partition, m[i].rec.offset);
			int vl = snprintf(vals[i], sizeof vals[i], "done: %.*s", (int)m[i].rec.value_len,
					  (const char *)m[i].rec.value);
			hdr[i] = (varve_header){ VARVE_MSG_ID_HEADER, strlen(VARVE_MSG_ID_HEADER), ids[i],
						 (size_t)il };
			out[i] = (varve_record){ .key = m[i].rec.key, .key_len = m[i].rec.key_len,
						 .value = vals[i], .value_len = (size_t)vl,
						 .headers = &hdr[i], .header_count = 1,
						 .timestamp = VARVE_TIMESTAMP_NOW,
						 .partition = VARVE_PARTITION_ANY };
		}
		if ((rc = varve_produce_batch(db, "results", out, n, NULL)))
			return fail("produce results", rc);
		for (size_t i = 0; i < n; i++)
			if (out[i].flags & VARVE_RECORD_DUPLICATE)
				dups++;
		done += (long)n;

		if (crash && max >= 0 && done >= max) {
			/* Processed but not committed: the next run gets these again. */
			printf("  processed %ld jobs; crashing before committing the last %zu\n", done,
			       n);
			fflush(stdout);
			_exit(EXIT_CRASHED);
		}
		/* Commit after processing: at-least-once. */
		if ((rc = varve_consumer_commit(c)))
			return fail("commit", rc);
		if (max >= 0 && done >= max)
			break;
	}
	printf("  processed %ld jobs (%ld were redeliveries whose results already existed)\n", done,
	       dups);
	varve_consumer_close(c);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}

/* ---- the demonstration ----------------------------------------------------------- */

static int run_child(const char *dir, long max, int crash)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		int rc = work(dir, max, crash);
		fflush(stdout); /* _exit does not flush stdio */
		_exit(rc);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int verify(const char *dir)
{
	varve_options o = VARVE_OPTIONS_INIT;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	/* Every job has exactly one result. */
	static int seen[JOBS];
	varve_iter *it;
	if ((rc = varve_iter_open(db, "results", 0, 0, &it)))
		return fail("iter_open", rc);
	const varve_record *r;
	long results = 0;
	while ((rc = varve_iter_next(it, &r)) == VARVE_OK) {
		int job;
		char key[16]; /* keys are not NUL-terminated: copy before sscanf */
		if (r->key_len < 5 || r->key_len >= sizeof key) {
			fprintf(stderr, "worker: unexpected result at offset %" PRId64 "\n", r->offset);
			return 1;
		}
		memcpy(key, r->key, r->key_len);
		key[r->key_len] = 0;
		if (sscanf(key + 4, "%3d", &job) != 1 || job < 0 || job >= JOBS) {
			fprintf(stderr, "worker: unexpected result at offset %" PRId64 "\n", r->offset);
			return 1;
		}
		seen[job]++;
		results++;
	}
	varve_iter_close(it);
	if (rc != VARVE_EEND)
		return fail("iter_next", rc);
	for (int i = 0; i < JOBS; i++) {
		if (seen[i] != 1) {
			fprintf(stderr, "worker: job %d has %d results\n", i, seen[i]);
			return 1;
		}
	}
	/* And the group has consumed everything: no lag. */
	int64_t lag = 0;
	for (uint32_t p = 0; p < 3; p++) {
		varve_lag l = { .version = VARVE_LAG_VERSION };
		if ((rc = varve_group_lag(db, GROUP, "jobs", p, &l)))
			return fail("group_lag", rc);
		lag += l.records;
	}
	printf("verified: %ld results for %d jobs, group lag %" PRId64 "\n", results, JOBS, lag);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return lag == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "worker-store";
	const char *mode = argc > 2 ? argv[2] : "demo";
	if (!strcmp(mode, "seed"))
		return seed(dir);
	if (!strcmp(mode, "work"))
		return work(dir, argc > 3 ? atol(argv[3]) : -1, 0);
	if (strcmp(mode, "demo")) {
		fprintf(stderr, "usage: worker DIR [demo | seed | work [MAX_JOBS]]\n");
		return 2;
	}

	if (seed(dir))
		return 1;
	printf("run 1 (a worker process that crashes after 50 jobs):\n");
	if (run_child(dir, 50, 1) != EXIT_CRASHED) {
		fprintf(stderr, "worker: the first run did not end as planned\n");
		return 1;
	}
	printf("run 2 (a new process: resumes from the last commit):\n");
	if (run_child(dir, -1, 0) != 0) {
		fprintf(stderr, "worker: the second run failed\n");
		return 1;
	}
	return verify(dir);
}
