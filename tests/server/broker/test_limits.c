/* SPDX-License-Identifier: MIT */
/*
 * test_limits.c -- quotas, backpressure and per-request limits of a broker
 * on a thread (bt_util.h): a Produce over its byte quota is answered with
 * throttle_time_ms and its connection is not read for that long; the
 * request-rate quota the same (ApiVersions exempt); a Fetch over its
 * quota is answered empty at once; requests naming too many partitions or
 * groups are refused whole with INVALID_REQUEST (a Produce with acks=0 by
 * closing its connection); a batch that decompresses past the bound is
 * MESSAGE_TOO_LARGE; Produce calls that meet the store's in-flight bound
 * pause their connections and every acknowledged record is in the log;
 * /metrics shows it all. Waits are bounded; timing assertions are lower
 * bounds the mute guarantees, never upper bounds that load could break.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bt_util.h"
#include "records/records.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* bt_start with the store's in-flight bound and sync policy chosen. */
static void *run(void *arg)
{
	bt *t = arg;
	t->run_rc = vs_broker_run(t->b);
	return NULL;
}

static void start_store(bt *t, int sync, uint64_t inflight, void (*tweak)(vs_broker_config *))
{
	memset(t, 0, sizeof *t);
	const char *tmp = getenv("VARVE_TEST_TMPDIR");
	snprintf(t->dir, sizeof t->dir, "%s/bt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert(mkdtemp(t->dir), "mkdtemp: %s", strerror(errno));
	strcat(t->dir, "/store");
	varve_options vo;
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	vo.sync_policy = sync;
	vo.max_inflight_bytes = inflight;
	vo.inflight_block = 0;
	cr_assert_eq(varve_open(t->dir, &vo, &t->db), 0);
	vs_broker_config cfg;
	vs_broker_config_default(&cfg);
	cfg.db = t->db;
	cfg.cluster_id = "bt-cluster";
	cfg.sync_policy = sync;
	if (tweak)
		tweak(&cfg);
	cr_assert_eq(vs_broker_new(&cfg, &t->b), 0);
	cr_assert_eq(vs_broker_listen(t->b, "127.0.0.1:0", 1, &t->port), 0);
	cr_assert_eq(vs_broker_listen(t->b, "127.0.0.1:0", 0, &t->http_port), 0);
	cr_assert_eq(vs_broker_advertise(t->b, "127.0.0.1", t->port), 0);
	vs_arena_init(&t->arena, (size_t)64 << 20);
	cr_assert_eq(pthread_create(&t->thread, NULL, run, t), 0);
}

static double metric(const bt *t, const char *sample)
{
	char *body;
	cr_assert_eq(bt_http_get(t, "/metrics", &body), 200);
	char key[256];
	snprintf(key, sizeof key, "\n%s ", sample);
	const char *p = strstr(body, key);
	cr_assert(p, "no sample %s", sample);
	double v = strtod(p + strlen(key), NULL);
	free(body);
	return v;
}

/* One batch of n records whose values are `size` bytes of `fill`. */
static vs_slice batch(vs_wbuf *w, int n, size_t size, int codec)
{
	varve_record recs[16];
	cr_assert(n <= 16);
	char *value = calloc(1, size + 1);
	memset(value, 'v', size);
	for (int i = 0; i < n; i++) {
		memset(&recs[i], 0, sizeof recs[i]);
		recs[i].offset = i;
		recs[i].timestamp = 1700000000000;
		recs[i].value = value;
		recs[i].value_len = size;
	}
	vs_records_encoder enc;
	vs_records_encoder_init(&enc);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.codec = codec;
	vs_wbuf_init(w);
	cr_assert_eq(vs_records_encode(&enc, w, recs, (size_t)n, &p), 0);
	vs_records_encoder_free(&enc);
	free(value);
	return (vs_slice){ w->buf, w->len };
}

/* A Produce of one batch to each of parts partitions of topic. */
static void produce_req(vs_request *q, vs_produce_topic *pt, vs_produce_partition *pp, int parts,
			const char *topic, vs_slice records, int16_t acks)
{
	memset(q, 0, sizeof *q);
	for (int i = 0; i < parts; i++)
		pp[i] = (vs_produce_partition){ i, records };
	*pt = (vs_produce_topic){ bt_s(topic), { pp, parts } };
	q->produce.acks = acks;
	q->produce.timeout_ms = 10000;
	q->produce.transactional_id = VS_SLICE_NULL;
	q->produce.topic_data.v = pt;
	q->produce.topic_data.n = 1;
}

static void metadata_req(vs_request *q)
{
	memset(q, 0, sizeof *q);
	q->metadata.topics.n = -1;
}

/* ---- quotas ---------------------------------------------------------------------- */

static void produce_quota(vs_broker_config *c)
{
	c->quota.default_rate[VS_QUOTA_PRODUCE] = 2000;
}

Test(quota, produce_over_its_quota_is_throttled_and_muted)
{
	bt t;
	bt_start(&t, produce_quota);
	bt_topic(&t, "p", 1);
	int fd = bt_connect(&t);
	vs_wbuf w;
	vs_request q;
	vs_response r;
	vs_produce_topic pt;
	vs_produce_partition pp[1];
	/* 5000 bytes against a 2000-byte bucket at 2000 B/s: about 1.5 s */
	produce_req(&q, &pt, pp, 1, "p", batch(&w, 1, 5000, VS_CODEC_NONE), 1);
	bt_call(&t, fd, VS_API_PRODUCE, 7, &q, &r);
	cr_assert_eq(r.produce.responses.v[0].partition_responses.v[0].error_code, KE_NONE,
		     "a throttled Produce must still be served");
	int32_t thr = r.produce.throttle_time_ms;
	cr_assert(thr > 1000 && thr <= 2000, "throttle_time_ms %d", thr);
	/* the connection is not read meanwhile: the next answer waits */
	int64_t t0 = now_ms();
	metadata_req(&q);
	bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
	cr_assert_geq(now_ms() - t0, thr / 2, "answered after %lld ms of a %d ms throttle",
		      (long long)(now_ms() - t0), thr);
	/* the record is there: throttled is not lost */
	int64_t end = 0;
	cr_assert_eq(varve_offsets(t.db, "p", 0, NULL, &end), 0);
	cr_assert_eq(end, 1);
	cr_assert_eq(metric(&t, "varve_quota_throttled_total{quota=\"produce\"}"), 1);
	cr_assert_geq(metric(&t, "varve_net_mutes_total"), 1);
	cr_assert_geq(metric(&t, "varve_net_read_pauses_total{cause=\"quota\"}"), 1);
	cr_assert_eq(metric(&t, "varve_limit{limit=\"quota_default_produce_bytes_per_sec\"}"), 2000);
	close(fd);
	vs_wbuf_free(&w);
	bt_stop(&t);
}

static void request_quota(vs_broker_config *c)
{
	c->quota.default_rate[VS_QUOTA_REQUEST] = 1;
}

Test(quota, request_rate_and_exempt_apis)
{
	bt t;
	bt_start(&t, request_quota);
	int fd = bt_connect(&t);
	vs_request q;
	vs_response r;
	memset(&q, 0, sizeof q);
	/* ApiVersions is never charged */
	for (int i = 0; i < 5; i++) {
		bt_call(&t, fd, VS_API_API_VERSIONS, 3, &q, &r);
		cr_assert_eq(r.api_versions.throttle_time_ms, 0);
	}
	int64_t t0 = now_ms();
	int32_t thr[3];
	for (int i = 0; i < 3; i++) {
		metadata_req(&q);
		bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
		thr[i] = r.metadata.throttle_time_ms;
	}
	/* one request per second, one in the bucket: the first is free, the
	 * next two are throttled, and the third waited for the second's */
	cr_assert_eq(thr[0], 0);
	cr_assert_gt(thr[1], 0);
	cr_assert_gt(thr[2], 0);
	cr_assert_geq(now_ms() - t0, 500);
	cr_assert_geq(metric(&t, "varve_quota_throttled_total{quota=\"request\"}"), 2);
	close(fd);
	bt_stop(&t);
}

static void fetch_quota(vs_broker_config *c)
{
	c->quota.default_rate[VS_QUOTA_FETCH] = 10000;
	c->sync_policy = VARVE_SYNC_NONE; /* bt's store: everything appended is readable */
}

static void fetch_req(vs_request *q, vs_fetch_topic *ft, vs_fetch_partition *fp)
{
	memset(q, 0, sizeof *q);
	*fp = (vs_fetch_partition){ 0, -1, 0, -1, 1 << 20 };
	*ft = (vs_fetch_topic){ bt_s("f"), { fp, 1 } };
	q->fetch.replica_id = -1;
	q->fetch.max_wait_ms = 0;
	q->fetch.min_bytes = 1;
	q->fetch.max_bytes = 1 << 20;
	q->fetch.session_epoch = -1;
	q->fetch.topics.v = ft;
	q->fetch.topics.n = 1;
	q->fetch.rack_id = bt_s("");
}

Test(quota, fetch_is_capped_charged_and_answered_empty_in_debt)
{
	bt t;
	bt_start(&t, fetch_quota);
	bt_topic(&t, "f", 1);
	char value[1000];
	memset(value, 'x', sizeof value);
	for (int i = 0; i < 100; i++) {
		varve_record rec = { 0 };
		rec.value = value;
		rec.value_len = sizeof value;
		varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
		po.partition = 0;
		cr_assert_eq(varve_produce_batch(t.db, "f", &rec, 1, &po), 0);
	}
	vs_request q;
	vs_response r;
	vs_fetch_topic ft;
	vs_fetch_partition fp;
	fetch_req(&q, &ft, &fp);
	/* asked for 1 MiB, given at most one burst of the quota (10000) */
	int fd1 = bt_connect(&t);
	bt_call(&t, fd1, VS_API_FETCH, 11, &q, &r);
	size_t got = r.fetch.responses.v[0].partitions.v[0].records.len;
	cr_assert(got > 0 && got <= 10000, "%zu bytes in a 10000-byte window", got);
	/* another connection of the same client id: the bucket is spent, so
	 * this read leaves it in debt */
	int fd2 = bt_connect(&t);
	bt_call(&t, fd2, VS_API_FETCH, 11, &q, &r);
	cr_assert_gt(r.fetch.responses.v[0].partitions.v[0].records.len, 0);
	cr_assert_gt(r.fetch.throttle_time_ms, 0);
	/* a third, while in debt: an empty answer, no read */
	int fd3 = bt_connect(&t);
	bt_call(&t, fd3, VS_API_FETCH, 11, &q, &r);
	cr_assert_eq(r.fetch.responses.n, 0);
	cr_assert_gt(r.fetch.throttle_time_ms, 0);
	cr_assert_eq(r.fetch.error_code, KE_NONE);
	cr_assert_eq(metric(&t, "varve_kafka_fetch_throttled_total"), 1);
	close(fd1);
	close(fd2);
	close(fd3);
	bt_stop(&t);
}

static void user_file_quota(vs_broker_config *c)
{
	static char path[600];
	snprintf(path, sizeof path, "/tmp/varve-limits-quotas-%d", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("client-id bt requests_per_sec=1\n", f);
	fclose(f);
	c->quota.path = path;
}

Test(quota, entries_come_from_the_file_and_changes_apply)
{
	bt t;
	bt_start(&t, user_file_quota);
	char path[600];
	snprintf(path, sizeof path, "/tmp/varve-limits-quotas-%d", (int)getpid());
	int fd = bt_connect(&t);
	vs_request q;
	vs_response r;
	metadata_req(&q);
	bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
	bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
	cr_assert_gt(r.metadata.throttle_time_ms, 0, "the file's entry was not applied");
	cr_assert_eq(metric(&t, "varve_quota_entries"), 1);
	/* the entry goes: within a reload period no request is throttled */
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("# nothing\n", f);
	fclose(f);
	int64_t deadline = now_ms() + BT_TIMEOUT_MS;
	int free_run = 0;
	while (free_run < 5 && now_ms() < deadline) {
		bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
		free_run = r.metadata.throttle_time_ms ? 0 : free_run + 1;
	}
	cr_assert_eq(free_run, 5, "still throttled after the entry was removed");
	cr_assert_eq(metric(&t, "varve_quota_entries"), 0);
	cr_assert_geq(metric(&t, "varve_quota_reloads_total"), 1);
	close(fd);
	bt_stop(&t);
	unlink(path);
}

/* ---- per-request limits ---------------------------------------------------------- */

static void small_requests(vs_broker_config *c)
{
	c->max_partitions_per_request = 3;
	c->max_groups_per_request = 2;
}

Test(limits, too_many_partitions_or_groups_refused_whole)
{
	bt t;
	bt_start(&t, small_requests);
	bt_topic(&t, "t", 4);
	int fd = bt_connect(&t);
	vs_request q;
	vs_response r;
	vs_list_offsets_partition lp[4];
	for (int i = 0; i < 4; i++)
		lp[i] = (vs_list_offsets_partition){ i, -1, 1 };
	vs_list_offsets_topic lt = { bt_s("t"), { lp, 4 } };
	memset(&q, 0, sizeof q);
	q.list_offsets.replica_id = -1;
	q.list_offsets.topics.v = &lt;
	q.list_offsets.topics.n = 1;
	bt_call(&t, fd, VS_API_LIST_OFFSETS, 2, &q, &r);
	cr_assert_eq(r.list_offsets.topics.v[0].partitions.n, 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(r.list_offsets.topics.v[0].partitions.v[i].error_code,
			     KE_INVALID_REQUEST);
	lt.partitions.n = 3; /* at the limit: served */
	bt_call(&t, fd, VS_API_LIST_OFFSETS, 2, &q, &r);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(r.list_offsets.topics.v[0].partitions.v[i].error_code, KE_NONE);
	vs_slice groups[3] = { bt_s("a"), bt_s("b"), bt_s("c") };
	memset(&q, 0, sizeof q);
	q.describe_groups.groups.v = groups;
	q.describe_groups.groups.n = 3;
	bt_call(&t, fd, VS_API_DESCRIBE_GROUPS, 4, &q, &r);
	cr_assert_eq(r.describe_groups.groups.n, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(r.describe_groups.groups.v[i].error_code, KE_INVALID_REQUEST);
	q.describe_groups.groups.n = 2;
	bt_call(&t, fd, VS_API_DESCRIBE_GROUPS, 4, &q, &r);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(r.describe_groups.groups.v[i].error_code, KE_NONE);
	cr_assert_eq(metric(&t, "varve_kafka_requests_refused_total{limit=\"max_partitions_per_request\"}"), 1);
	cr_assert_eq(metric(&t, "varve_kafka_requests_refused_total{limit=\"max_groups_per_request\"}"), 1);
	cr_assert_eq(metric(&t, "varve_limit{limit=\"max_partitions_per_request\"}"), 3);
	/* a Produce with acks=0 expects no answer: its connection closes,
	 * and nothing of it is appended */
	vs_wbuf w;
	vs_produce_topic pt;
	vs_produce_partition pp[4];
	produce_req(&q, &pt, pp, 4, "t", batch(&w, 1, 10, VS_CODEC_NONE), 0);
	bt_send(&t, fd, VS_API_PRODUCE, 7, &q);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS), "acks=0 over the limit left the connection open");
	for (int i = 0; i < 4; i++) {
		int64_t end = -1;
		cr_assert_eq(varve_offsets(t.db, "t", i, NULL, &end), 0);
		cr_assert_eq(end, 0);
	}
	close(fd);
	vs_wbuf_free(&w);
	bt_stop(&t);
}

static void small_inflated(vs_broker_config *c)
{
	c->records.max_inflated_batch_bytes = 1 << 20;
	c->records.max_total_inflated_bytes = 1 << 20;
}

Test(limits, a_batch_that_inflates_past_the_bound_is_refused)
{
	bt t;
	bt_start(&t, small_inflated);
	bt_topic(&t, "z", 1);
	int fd = bt_connect(&t);
	vs_wbuf w, small;
	vs_request q;
	vs_response r;
	vs_produce_topic pt;
	vs_produce_partition pp[1];
	/* 8 MiB of one byte compresses to a few KiB: over 1000 times */
	vs_slice bomb = batch(&w, 4, 2 << 20, VS_CODEC_GZIP);
	cr_assert_lt(bomb.len * 500, (size_t)8 << 20, "not a bomb: %zu bytes", bomb.len);
	produce_req(&q, &pt, pp, 1, "z", bomb, 1);
	bt_call(&t, fd, VS_API_PRODUCE, 7, &q, &r);
	cr_assert_eq(r.produce.responses.v[0].partition_responses.v[0].error_code,
		     KE_MESSAGE_TOO_LARGE);
	/* the connection goes on; a batch under the bound is taken */
	produce_req(&q, &pt, pp, 1, "z", batch(&small, 1, 512 << 10, VS_CODEC_GZIP), 1);
	bt_call(&t, fd, VS_API_PRODUCE, 7, &q, &r);
	cr_assert_eq(r.produce.responses.v[0].partition_responses.v[0].error_code, KE_NONE);
	cr_assert_eq(r.produce.responses.v[0].partition_responses.v[0].base_offset, 0);
	cr_assert_eq(metric(&t, "varve_kafka_produce_oversize_batches_total"), 1);
	cr_assert_eq(metric(&t, "varve_limit{limit=\"max_inflated_batch_bytes\"}"), 1 << 20);
	/* both were decompressed on a worker, not on the loop */
	cr_assert_eq(metric(&t, "varve_kafka_produce_inflated_total"), 2);
	cr_assert_eq(metric(&t, "varve_kafka_produce_inflating"), 0);
	close(fd);
	vs_wbuf_free(&w);
	vs_wbuf_free(&small);
	bt_stop(&t);
}

/* ---- backpressure ---------------------------------------------------------------- */

enum { BP_CONNS = 3, BP_REQS = 40 };

Test(backpressure, waiting_produce_pauses_its_connection_and_nothing_is_lost)
{
	bt t;
	/* a bound of one byte: every append waits for the one before */
	start_store(&t, VARVE_SYNC_ALWAYS, 1, NULL);
	bt_topic(&t, "bp", 1);
	int fd[BP_CONNS];
	vs_wbuf w;
	vs_slice rec = batch(&w, 1, 100, VS_CODEC_NONE);
	vs_request q;
	vs_produce_topic pt;
	vs_produce_partition pp[1];
	produce_req(&q, &pt, pp, 1, "bp", rec, 1);
	int32_t first_corr[BP_CONNS];
	for (int c = 0; c < BP_CONNS; c++) {
		fd[c] = bt_connect(&t);
		/* all of a connection's requests in one write, so they arrive
		 * together and meet the bound together */
		vs_wbuf all;
		vs_wbuf_init(&all);
		for (int i = 0; i < BP_REQS; i++) {
			vs_request_header h = { VS_API_PRODUCE, 7, ++t.corr, bt_s("bt"), 0 };
			if (i == 0)
				first_corr[c] = h.correlation_id;
			cr_assert_eq(vs_request_encode(&all, &h, &q), KE_NONE);
		}
		bt_send_raw(fd[c], all.buf, all.len);
		vs_wbuf_free(&all);
	}
	int64_t seen[BP_CONNS * BP_REQS];
	size_t nseen = 0;
	for (int c = 0; c < BP_CONNS; c++) {
		int64_t last = -1;
		for (int i = 0; i < BP_REQS; i++) {
			vs_response r;
			bt_recv(&t, fd[c], VS_API_PRODUCE, 7, first_corr[c] + i, &r);
			vs_produce_partition_response *pr = &r.produce.responses.v[0].partition_responses.v[0];
			cr_assert_eq(pr->error_code, KE_NONE, "conn %d request %d: error %d", c, i,
				     pr->error_code);
			/* one connection's batches reach the log in its order */
			cr_assert_gt(pr->base_offset, last);
			last = pr->base_offset;
			seen[nseen++] = pr->base_offset;
		}
	}
	/* every acknowledged batch is in the log, each at its own offset */
	int64_t end = 0;
	cr_assert_eq(varve_offsets(t.db, "bp", 0, NULL, &end), 0);
	cr_assert_eq(end, BP_CONNS * BP_REQS);
	for (size_t i = 0; i < nseen; i++)
		for (size_t j = i + 1; j < nseen; j++)
			cr_assert_neq(seen[i], seen[j]);
	cr_assert_gt(metric(&t, "varve_kafka_produce_waits_total"), 0);
	cr_assert_gt(metric(&t, "varve_net_read_pauses_total{cause=\"backpressure\"}"), 0);
	cr_assert_eq(metric(&t, "varve_kafka_produce_paused_connections"), 0);
	for (int c = 0; c < BP_CONNS; c++)
		close(fd[c]);
	vs_wbuf_free(&w);
	bt_stop(&t);
}

enum { CZ_CONNS = 5, CZ_REQS = 20, CZ_PARTS = 3 };

/* Compressed batches go to a worker and back while the store's bound makes
 * calls wait in the FIFO, from more connections than there are workers
 * (so calls also wait for a decompression slot): each connection's
 * batches still reach every partition in the order sent, each answered
 * once, nothing lost, every slot given back. */
static void compressed_in_order(uint64_t inflight_bound)
{
	bt t;
	start_store(&t, VARVE_SYNC_ALWAYS, inflight_bound, NULL);
	bt_topic(&t, "cz", CZ_PARTS);
	vs_wbuf wz, wn;
	vs_slice zipped = batch(&wz, 2, 4096, VS_CODEC_GZIP);
	vs_slice plain = batch(&wn, 2, 100, VS_CODEC_NONE);
	vs_request q;
	vs_produce_topic pt;
	vs_produce_partition pp[CZ_PARTS];
	int fd[CZ_CONNS];
	int32_t first_corr[CZ_CONNS];
	for (int c = 0; c < CZ_CONNS; c++) {
		fd[c] = bt_connect(&t);
		vs_wbuf all;
		vs_wbuf_init(&all);
		for (int i = 0; i < CZ_REQS; i++) {
			/* every other request compressed */
			produce_req(&q, &pt, pp, CZ_PARTS, "cz", i % 2 ? plain : zipped, 1);
			vs_request_header h = { VS_API_PRODUCE, 7, ++t.corr, bt_s("bt"), 0 };
			if (i == 0)
				first_corr[c] = h.correlation_id;
			cr_assert_eq(vs_request_encode(&all, &h, &q), KE_NONE);
		}
		bt_send_raw(fd[c], all.buf, all.len);
		vs_wbuf_free(&all);
	}
	for (int c = 0; c < CZ_CONNS; c++) {
		int64_t last[CZ_PARTS] = { -1, -1, -1 };
		for (int i = 0; i < CZ_REQS; i++) {
			vs_response r;
			bt_recv(&t, fd[c], VS_API_PRODUCE, 7, first_corr[c] + i, &r);
			cr_assert_eq(r.produce.responses.v[0].partition_responses.n, CZ_PARTS);
			for (int p = 0; p < CZ_PARTS; p++) {
				vs_produce_partition_response *pr =
					&r.produce.responses.v[0].partition_responses.v[p];
				cr_assert_eq(pr->error_code, KE_NONE, "conn %d request %d partition %d: %d",
					     c, i, p, pr->error_code);
				cr_assert_gt(pr->base_offset, last[p], "conn %d request %d out of order", c,
					     i);
				last[p] = pr->base_offset;
			}
		}
	}
	for (int p = 0; p < CZ_PARTS; p++) {
		int64_t end = 0;
		cr_assert_eq(varve_offsets(t.db, "cz", p, NULL, &end), 0);
		cr_assert_eq(end, CZ_CONNS * CZ_REQS * 2, "partition %d holds %lld records", p,
			     (long long)end);
	}
	cr_assert_eq(metric(&t, "varve_kafka_produce_inflated_total"),
		     CZ_CONNS * (CZ_REQS / 2) * CZ_PARTS);
	cr_assert_eq(metric(&t, "varve_kafka_produce_inflating"), 0);
	cr_assert_eq(metric(&t, "varve_kafka_produce_paused_connections"), 0);
	for (int c = 0; c < CZ_CONNS; c++)
		close(fd[c]);
	vs_wbuf_free(&wz);
	vs_wbuf_free(&wn);
	bt_stop(&t);
}

Test(backpressure, compressed_batches_inflate_on_workers_in_order)
{
	compressed_in_order(1); /* every append waits for the one before */
}

Test(backpressure, compressed_batches_wait_for_a_slot_in_order)
{
	compressed_in_order((uint64_t)64 << 20); /* the store never refuses */
}
