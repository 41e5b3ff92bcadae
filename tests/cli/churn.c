/* SPDX-License-Identifier: MIT */
/*
 * churn -- a writer for the `varve` end-to-end tests (tests/cli/test_cli.py)
 * that the command line cannot be: it holds the store open, appends to a
 * topic with small segments, and runs retention rounds as often as asked,
 * so the tests can run readers (verify, consume -f, varve-dump) against a
 * live store whose oldest segments disappear under them. Public API only.
 *
 *   churn DIR TOPIC SECONDS [--segment-bytes N] [--keep-segments N]
 *         [--clean-every-ms N] [--batch N] [--pause-ms N] [--stop-after N]
 *
 * Creates TOPIC (one partition, retention by bytes of about keep-segments
 * segments) if missing, prints "ready" on stdout once the first batch is
 * durable, then appends batches of --batch records ("churn NNNNNNNN" values)
 * every --pause-ms, with a varve_clean_now round every --clean-every-ms,
 * until SECONDS have passed, --stop-after records were written, or stdin
 * reaches EOF (so the test that started it can stop it). Exits 0, or 1 with
 * the failing call on stderr.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "varve.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "churn: %s: %s (%s)\n", what, varve_errmsg(rc), varve_last_error()->message);
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 once stdin is at EOF (or broken): the parent wants us to stop. */
static int stdin_closed(int wait_ms)
{
	struct pollfd pfd = { 0, POLLIN, 0 };
	if (poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	char b[64];
	return read(0, b, sizeof b) <= 0;
}

typedef struct churn_opts {
	uint64_t segment_bytes;
	int keep_segments, clean_every_ms, batch, pause_ms;
	int64_t stop_after;
} churn_opts;

static int parse_opts(int argc, char **argv, churn_opts *o)
{
	o->segment_bytes = 4096;
	o->keep_segments = 3;
	o->clean_every_ms = 20;
	o->batch = 10;
	o->pause_ms = 1;
	o->stop_after = -1;
	for (int i = 4; i + 1 < argc; i += 2) {
		long long v = atoll(argv[i + 1]);
		if (!strcmp(argv[i], "--segment-bytes"))
			o->segment_bytes = (uint64_t)v;
		else if (!strcmp(argv[i], "--keep-segments"))
			o->keep_segments = (int)v;
		else if (!strcmp(argv[i], "--clean-every-ms"))
			o->clean_every_ms = (int)v;
		else if (!strcmp(argv[i], "--batch"))
			o->batch = (int)v;
		else if (!strcmp(argv[i], "--pause-ms"))
			o->pause_ms = (int)v;
		else if (!strcmp(argv[i], "--stop-after"))
			o->stop_after = v;
		else
			return -1;
	}
	return o->batch > 0 && o->batch <= 1000 ? 0 : -1;
}

static int append_batch(varve_db *db, const char *topic, int n, int64_t *seq)
{
	varve_record recs[1000];
	char vals[1000][32];
	for (int i = 0; i < n; i++) {
		memset(&recs[i], 0, sizeof recs[i]);
		int l = snprintf(vals[i], sizeof vals[i], "churn %08" PRId64, (*seq)++);
		recs[i].value = vals[i];
		recs[i].value_len = (size_t)l;
		recs[i].partition = 0;
	}
	return varve_produce_batch(db, topic, recs, (size_t)n, NULL);
}

int main(int argc, char **argv)
{
	churn_opts co;
	if (argc < 4 || (argc - 4) % 2 || parse_opts(argc, argv, &co)) {
		fprintf(stderr, "usage: churn DIR TOPIC SECONDS [--segment-bytes N] "
				"[--keep-segments N] [--clean-every-ms N] [--batch N] [--pause-ms N] "
				"[--stop-after N]\n");
		return 2;
	}
	const char *topic = argv[2];
	int64_t deadline = now_ms() + atoll(argv[3]) * 1000;
	varve_options o = VARVE_OPTIONS_INIT;
	o.segment_bytes = co.segment_bytes;
	o.start_cleaner = 0; /* rounds are run here, as often as asked */
	o.sync_policy = VARVE_SYNC_NONE;
	varve_db *db;
	int rc = varve_open(argv[1], &o, &db);
	if (rc)
		return fail("open", rc);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.retention_bytes = (int64_t)co.segment_bytes * co.keep_segments;
	rc = varve_topic_create(db, topic, &tc);
	if (rc && rc != VARVE_EEXISTS)
		return fail("create", rc);
	int64_t seq = 0, next_clean = now_ms() + co.clean_every_ms;
	if ((rc = append_batch(db, topic, co.batch, &seq)) || (rc = varve_sync(db)))
		return fail("first batch", rc);
	printf("ready\n");
	fflush(stdout);
	while (now_ms() < deadline && (co.stop_after < 0 || seq < co.stop_after)) {
		if ((rc = append_batch(db, topic, co.batch, &seq)))
			return fail("produce", rc);
		if (co.clean_every_ms >= 0 && now_ms() >= next_clean) {
			if ((rc = varve_clean_now(db, 0)))
				return fail("clean", rc);
			next_clean = now_ms() + co.clean_every_ms;
		}
		if (stdin_closed(co.pause_ms))
			break;
	}
	if ((rc = varve_close(db)))
		return fail("close", rc);
	printf("wrote %" PRId64 "\n", seq);
	return 0;
}
