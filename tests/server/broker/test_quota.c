/* SPDX-License-Identifier: MIT */
/*
 * test_quota.c -- server/broker/quota.c and quota_file.c without a broker:
 * the token bucket's arithmetic, which entity a request is charged to,
 * bucket memory (forgotten when full, the overflow bucket past the cap),
 * the quotas file (parse, format, round trip, refusals, atomic write with
 * mode 0600, reload when it changes and not when it does not), the
 * throttle field of every answer that has one, and what requests name.
 * Times are passed in, so nothing here depends on the clock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/quota.h"
#include "protocol/kerrors.h"

static vs_slice S(const char *z) { return (vs_slice){ (const uint8_t *)z, strlen(z) }; }

/* ---- the bucket ---------------------------------------------------------------- */

Test(bucket, within_the_burst_no_throttle)
{
	vs_bucket b;
	vs_bucket_init(&b, 1000, 1000, 0); /* 1000/s, 1 s deep: 1000 tokens */
	cr_assert_eq(vs_bucket_take(&b, 1000, 1000, 10000, 600, 0), 0);
	cr_assert_eq(vs_bucket_take(&b, 1000, 1000, 10000, 400, 0), 0);
	/* empty now: one more unit is a 1 ms throttle */
	cr_assert_eq(vs_bucket_take(&b, 1000, 1000, 10000, 1, 0), 1);
}

Test(bucket, debt_is_paid_back_at_the_rate)
{
	vs_bucket b;
	vs_bucket_init(&b, 100, 1000, 0); /* 100 tokens */
	/* 350 taken: 250 in debt at 100/s is 2.5 s */
	cr_assert_eq(vs_bucket_take(&b, 100, 1000, 10000, 350, 0), 2500);
	/* 1 s later 150 remain owed */
	cr_assert_eq(vs_bucket_take(&b, 100, 1000, 10000, 0, 1000), 1500);
	/* at 2.5 s it is even; full again at 3.5 s */
	cr_assert_eq(vs_bucket_take(&b, 100, 1000, 10000, 0, 2500), 0);
	cr_assert_eq(vs_bucket_full_at(&b, 100, 1000), 3500);
	/* never more than the burst, however long it waits */
	cr_assert_eq(vs_bucket_take(&b, 100, 1000, 10000, 100, 100000), 0);
	cr_assert_eq(vs_bucket_take(&b, 100, 1000, 10000, 1, 100000), 10);
}

Test(bucket, debt_is_clipped_at_the_max_throttle)
{
	vs_bucket b;
	vs_bucket_init(&b, 10, 1000, 0);
	/* a million units at 10/s would be a day; clipped to 5 s */
	cr_assert_eq(vs_bucket_take(&b, 10, 1000, 5000, 1e6, 0), 5000);
	/* and paid back in 5 s, not in a day */
	cr_assert_eq(vs_bucket_take(&b, 10, 1000, 5000, 0, 5000), 0);
}

Test(bucket, a_lowered_rate_caps_the_balance)
{
	vs_bucket b;
	vs_bucket_init(&b, 1000, 1000, 0);
	/* the rate drops to 10/s: the 1000 tokens are cut to 10 */
	cr_assert_eq(vs_bucket_take(&b, 10, 1000, 10000, 20, 0), 1000);
}

/* ---- resolution ---------------------------------------------------------------- */

static vs_quotas *quotas_with(const char *text, int64_t produce_default)
{
	vs_quota_config cfg;
	vs_quota_config_default(&cfg);
	cfg.default_rate[VS_QUOTA_PRODUCE] = produce_default;
	vs_quotas *q;
	char err[200];
	cr_assert_eq(vs_quotas_new(&cfg, &q, err, sizeof err), 0);
	vs_quota_list l = { 0 };
	cr_assert_eq(vs_quota_parse(text, strlen(text), &l, err, sizeof err), 0, "%s", err);
	vs_quotas_set_entries(q, &l);
	return q;
}

Test(resolve, no_quota_no_throttle)
{
	vs_quotas *q = quotas_with("", 0);
	for (int k = 0; k < VS_QUOTA_KINDS; k++) {
		cr_assert_eq(vs_quota_charge(q, k, "User:ANONYMOUS", S("app"), 1e12, 0), 0);
		cr_assert_eq(vs_quota_window(q, k, "User:ANONYMOUS", S("app")), -1);
		cr_assert_not(vs_quotas_any(q, k));
	}
	vs_quota_stats st;
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.buckets, 0, "a bucket made for no quota");
	vs_quotas_free(q);
}

Test(resolve, user_before_client_id_before_default)
{
	vs_quotas *q = quotas_with("user alice produce_bytes_per_sec=100\n"
				   "client-id app produce_bytes_per_sec=1000 requests_per_sec=5\n",
				   10000);
	/* alice's user entry wins over the client id's */
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_PRODUCE, "User:alice", S("app")), 100);
	/* bob has none: the client id's */
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_PRODUCE, "User:bob", S("app")), 1000);
	/* neither: the default */
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_PRODUCE, "User:bob", S("other")), 10000);
	/* per kind: alice's entry sets no request rate, the client id's does */
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_REQUEST, "User:alice", S("app")), 5);
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_FETCH, "User:alice", S("app")), -1);
	cr_assert(vs_quotas_any(q, VS_QUOTA_REQUEST));
	cr_assert_not(vs_quotas_any(q, VS_QUOTA_FETCH));
	vs_quotas_free(q);
}

Test(resolve, a_user_bucket_is_shared_by_all_its_client_ids)
{
	vs_quotas *q = quotas_with("user alice produce_bytes_per_sec=100\n", 0);
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_PRODUCE, "User:alice", S("a"), 100, 0), 0);
	/* another client id of alice: the same, now empty, bucket */
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_PRODUCE, "User:alice", S("b"), 50, 0), 500);
	cr_assert_eq(vs_quota_throttle(q, VS_QUOTA_PRODUCE, "User:alice", S("c"), 0), 500);
	cr_assert_eq(vs_quota_throttle(q, VS_QUOTA_PRODUCE, "User:alice", S("c"), 300), 200);
	/* bob is not alice */
	cr_assert_eq(vs_quota_throttle(q, VS_QUOTA_PRODUCE, "User:bob", S("a"), 0), 0);
	vs_quotas_free(q);
}

Test(resolve, the_default_is_per_client_id)
{
	vs_quotas *q = quotas_with("", 100);
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_PRODUCE, NULL, S("one"), 200, 0), 1000);
	/* another client id starts with its own full bucket */
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_PRODUCE, NULL, S("two"), 100, 0), 0);
	/* a null client id is "" */
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_PRODUCE, NULL, VS_SLICE_NULL, 150, 0), 500);
	cr_assert_eq(vs_quota_throttle(q, VS_QUOTA_PRODUCE, NULL, S(""), 0), 500);
	vs_quota_stats st;
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.buckets, 3);
	cr_assert_eq(st.throttled[VS_QUOTA_PRODUCE], 2);
	cr_assert_eq(st.throttle_ms[VS_QUOTA_PRODUCE], 1500);
	vs_quotas_free(q);
}

Test(resolve, long_names_compare_on_their_first_255_bytes)
{
	char a[400], b[400];
	memset(a, 'x', sizeof a);
	memset(b, 'x', sizeof b);
	a[399] = 0;
	b[399] = 0;
	b[300] = 'y'; /* differs only past byte 255 */
	char line[400];
	snprintf(line, sizeof line, "client-id %.*s requests_per_sec=1\n", VS_QUOTA_MAX_NAME, a);
	vs_quotas *q = quotas_with(line, 0);
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_REQUEST, NULL, S(a), 1, 0), 0);
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_REQUEST, NULL, S(b), 1, 0), 1000);
	vs_quotas_free(q);
}

/* ---- bucket memory ------------------------------------------------------------- */

Test(buckets, forgotten_once_full_again)
{
	vs_quotas *q = quotas_with("", 1000);
	char err[200];
	for (int i = 0; i < 50; i++) {
		char id[16];
		snprintf(id, sizeof id, "c%d", i);
		vs_quota_charge(q, VS_QUOTA_PRODUCE, NULL, S(id), 500, 0);
	}
	vs_quota_stats st;
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.buckets, 50);
	/* 500 of 1000 taken at 1000/s: full at 500 ms */
	vs_quotas_maybe_reload(q, 499, err, sizeof err);
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.buckets, 50);
	vs_quotas_maybe_reload(q, 1500, err, sizeof err);
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.buckets, 0);
	vs_quotas_free(q);
}

Test(buckets, past_the_cap_newcomers_share_the_overflow_bucket)
{
	vs_quota_config cfg;
	vs_quota_config_default(&cfg);
	cfg.default_rate[VS_QUOTA_REQUEST] = 10;
	cfg.max_buckets = 100;
	vs_quotas *q;
	char err[200];
	cr_assert_eq(vs_quotas_new(&cfg, &q, err, sizeof err), 0);
	/* 100 client ids, each in debt (so none can be forgotten) */
	for (int i = 0; i < 100; i++) {
		char id[16];
		snprintf(id, sizeof id, "c%d", i);
		cr_assert_gt(vs_quota_charge(q, VS_QUOTA_REQUEST, NULL, S(id), 20, 0), 0);
	}
	/* new ids all draw from one bucket: the first empties it */
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_REQUEST, NULL, S("new1"), 10, 0), 0);
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_REQUEST, NULL, S("new2"), 1, 0), 100);
	vs_quota_stats st;
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.buckets, 100);
	cr_assert_eq(st.overflow, 2);
	/* once the old ones are full again, newcomers get their own again */
	cr_assert_eq(vs_quota_charge(q, VS_QUOTA_REQUEST, NULL, S("new3"), 1, 60000), 0);
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.buckets, 1);
	vs_quotas_free(q);
}

/* ---- the file ------------------------------------------------------------------ */

Test(file, parse_and_format_round_trip)
{
	const char *text = "# a comment\n"
			   "\n"
			   "  user alice produce_bytes_per_sec=1048576 requests_per_sec=200\n"
			   "client-id billing%20batch%25 fetch_bytes_per_sec=4194304\r\n"
			   "user User%3Aodd requests_per_sec=1";
	vs_quota_list l = { 0 };
	char err[200];
	cr_assert_eq(vs_quota_parse(text, strlen(text), &l, err, sizeof err), 0, "%s", err);
	cr_assert_eq(l.n, 3);
	const vs_quota_entry *e = vs_quota_list_find(&l, VS_QUOTA_CLIENT_ID, "billing batch%", 14);
	cr_assert(e);
	cr_assert_eq(e->rate[VS_QUOTA_FETCH], 4194304);
	cr_assert_eq(e->rate[VS_QUOTA_PRODUCE], VS_QUOTA_UNSET);
	e = vs_quota_list_find(&l, VS_QUOTA_USER, "alice", 5);
	cr_assert(e);
	cr_assert_eq(e->rate[VS_QUOTA_PRODUCE], 1048576);
	cr_assert_eq(e->rate[VS_QUOTA_REQUEST], 200);
	cr_assert(vs_quota_list_find(&l, VS_QUOTA_USER, "User:odd", 8));
	char *out = vs_quota_format(&l);
	cr_assert(strstr(out, "client-id billing%20batch%25 fetch_bytes_per_sec=4194304\n"), "%s", out);
	cr_assert(strstr(out, "user User:odd requests_per_sec=1\n"), "%s", out);
	vs_quota_list again = { 0 };
	cr_assert_eq(vs_quota_parse(out, strlen(out), &again, err, sizeof err), 0, "%s", err);
	cr_assert_eq(again.n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(memcmp(&again.v[i], &l.v[i], sizeof l.v[i]), 0);
	free(out);
	vs_quota_list_free(&again);
	vs_quota_list_free(&l);
}

Test(file, malformed_lines_are_refused_with_their_number)
{
	static const char *const bad[] = {
		"group g requests_per_sec=1\n",
		"user\n",
		"user alice\n",
		"user alice requests_per_sec=0\n",
		"user alice requests_per_sec=-3\n",
		"user alice requests_per_sec=12x\n",
		"user alice requests_per_sec=1125899906842625\n", /* 2^50 + 1 */
		"user alice requests_per_sec=1 requests_per_sec=2\n",
		"user alice bytes=1\n",
		"user al ice requests_per_sec=1\n",
		"user al%2 requests_per_sec=1\n",
		"user al%00x requests_per_sec=1\n",
		"user alice requests_per_sec=1\nuser alice fetch_bytes_per_sec=5\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		vs_quota_list l = { 0 };
		char err[200] = "";
		cr_assert_eq(vs_quota_parse(bad[i], strlen(bad[i]), &l, err, sizeof err), -EINVAL,
			     "accepted: %s", bad[i]);
		cr_assert(!strncmp(err, "line ", 5), "%s", err);
		cr_assert_eq(l.n, 0);
	}
	vs_quota_list l = { 0 };
	char err[200];
	const char *two = "user a requests_per_sec=1\nuser b oops=1\n";
	cr_assert_eq(vs_quota_parse(two, strlen(two), &l, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "line 2"), "%s", err);
}

Test(file, set_merges_clears_and_removes)
{
	vs_quota_list l = { 0 };
	int64_t r1[VS_QUOTA_KINDS] = { 100, VS_QUOTA_UNSET, VS_QUOTA_UNSET };
	cr_assert_eq(vs_quota_list_set(&l, VS_QUOTA_USER, "u", r1), 0);
	int64_t r2[VS_QUOTA_KINDS] = { VS_QUOTA_UNSET, VS_QUOTA_UNSET, 7 };
	cr_assert_eq(vs_quota_list_set(&l, VS_QUOTA_USER, "u", r2), 0);
	const vs_quota_entry *e = vs_quota_list_find(&l, VS_QUOTA_USER, "u", 1);
	cr_assert(e && e->rate[VS_QUOTA_PRODUCE] == 100 && e->rate[VS_QUOTA_REQUEST] == 7);
	int64_t clear[VS_QUOTA_KINDS] = { -1, VS_QUOTA_UNSET, -1 };
	cr_assert_eq(vs_quota_list_set(&l, VS_QUOTA_USER, "u", clear), 0);
	cr_assert_eq(l.n, 0, "an entry without a rate stayed");
	cr_assert_eq(vs_quota_list_set(&l, VS_QUOTA_CLIENT_ID, "c", r1), 0);
	cr_assert_eq(vs_quota_list_remove(&l, VS_QUOTA_CLIENT_ID, "c"), 1);
	cr_assert_eq(vs_quota_list_remove(&l, VS_QUOTA_CLIENT_ID, "c"), 0);
	cr_assert_eq(vs_quota_list_set(&l, VS_QUOTA_USER, "", r1), -EINVAL);
	cr_assert_eq(vs_quota_list_set(&l, 7, "x", r1), -EINVAL);
	int64_t huge[VS_QUOTA_KINDS] = { VS_QUOTA_MAX_RATE + 1, 0, 0 };
	cr_assert_eq(vs_quota_list_set(&l, VS_QUOTA_USER, "x", huge), -EINVAL);
	vs_quota_list_free(&l);
}

static void temp_dir(char *out, size_t cap)
{
	snprintf(out, cap, "/tmp/varve-quota-XXXXXX");
	cr_assert(mkdtemp(out));
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

Test(file, write_is_0600_and_reads_back)
{
	char dir[64], path[128];
	temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/quotas", dir);
	vs_quota_list l = { 0 }, back = { 0 };
	char err[200];
	/* no file is no entries */
	cr_assert_eq(vs_quota_file_read(path, &back, NULL, err, sizeof err), 0);
	cr_assert_eq(back.n, 0);
	int64_t r[VS_QUOTA_KINDS] = { 5, 6, 7 };
	cr_assert_eq(vs_quota_list_set(&l, VS_QUOTA_CLIENT_ID, "a b", r), 0);
	umask(022);
	cr_assert_eq(vs_quota_file_write(path, &l), 0);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(vs_quota_file_read(path, &back, NULL, err, sizeof err), 0, "%s", err);
	cr_assert_eq(back.n, 1);
	cr_assert_eq(back.v[0].rate[VS_QUOTA_FETCH], 6);
	/* a bad file is an error naming the file and the line */
	write_text(path, "user x requests_per_sec=1\nnonsense\n");
	cr_assert_eq(vs_quota_file_read(path, &back, NULL, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, path) && strstr(err, "line 2"), "%s", err);
	cr_assert_eq(back.n, 1, "a failed read replaced the list");
	unlink(path);
	rmdir(dir);
	vs_quota_list_free(&l);
	vs_quota_list_free(&back);
}

Test(file, reload_when_changed_keep_entries_when_broken)
{
	char dir[64], path[128];
	temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/quotas", dir);
	write_text(path, "client-id app requests_per_sec=5\n");
	vs_quota_config cfg;
	vs_quota_config_default(&cfg);
	cfg.path = path;
	vs_quotas *q;
	char err[300];
	cr_assert_eq(vs_quotas_new(&cfg, &q, err, sizeof err), 0, "%s", err);
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_REQUEST, NULL, S("app")), 5);
	/* unchanged: nothing to do */
	cr_assert_eq(vs_quotas_maybe_reload(q, 10000, err, sizeof err), 0);
	/* changed (another size): read again */
	write_text(path, "client-id app requests_per_sec=50\n");
	cr_assert_eq(vs_quotas_maybe_reload(q, 20000, err, sizeof err), 1);
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_REQUEST, NULL, S("app")), 50);
	/* within reload_ms of the last look: not even a stat */
	write_text(path, "client-id app requests_per_sec=7\n");
	cr_assert_eq(vs_quotas_maybe_reload(q, 20500, err, sizeof err), 0);
	cr_assert_eq(vs_quotas_maybe_reload(q, 21000, err, sizeof err), 1);
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_REQUEST, NULL, S("app")), 7);
	/* broken: reported once, the entries in force stay */
	write_text(path, "client-id app requests_per_sec=seven\n");
	cr_assert_eq(vs_quotas_maybe_reload(q, 30000, err, sizeof err), -1);
	cr_assert(strstr(err, "line 1"), "%s", err);
	cr_assert_eq(vs_quotas_maybe_reload(q, 40000, err, sizeof err), 0);
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_REQUEST, NULL, S("app")), 7);
	/* removed: no entries */
	unlink(path);
	cr_assert_eq(vs_quotas_maybe_reload(q, 50000, err, sizeof err), 1);
	cr_assert_eq(vs_quota_window(q, VS_QUOTA_REQUEST, NULL, S("app")), -1);
	vs_quota_stats st;
	vs_quotas_stats(q, &st);
	cr_assert_eq(st.reloads, 3);
	cr_assert_eq(st.reload_errors, 1);
	vs_quotas_free(q);
	rmdir(dir);
}

Test(file, a_broken_file_refuses_the_start)
{
	char dir[64], path[128];
	temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/quotas", dir);
	write_text(path, "user\n");
	vs_quota_config cfg;
	vs_quota_config_default(&cfg);
	cfg.path = path;
	vs_quotas *q = (vs_quotas *)1;
	char err[300];
	cr_assert_eq(vs_quotas_new(&cfg, &q, err, sizeof err), -EINVAL);
	cr_assert_null(q);
	cr_assert(strstr(err, "line 1"), "%s", err);
	unlink(path);
	rmdir(dir);
}

/* ---- messages ------------------------------------------------------------------ */

Test(messages, throttle_field_of_every_answer_that_has_one)
{
	static const int16_t with[] = {
		VS_API_PRODUCE, VS_API_FETCH, VS_API_LIST_OFFSETS, VS_API_METADATA,
		VS_API_OFFSET_COMMIT, VS_API_OFFSET_FETCH, VS_API_FIND_COORDINATOR,
		VS_API_JOIN_GROUP, VS_API_HEARTBEAT, VS_API_LEAVE_GROUP, VS_API_SYNC_GROUP,
		VS_API_DESCRIBE_GROUPS, VS_API_LIST_GROUPS, VS_API_API_VERSIONS,
		VS_API_CREATE_TOPICS, VS_API_DELETE_TOPICS, VS_API_DELETE_RECORDS,
		VS_API_INIT_PRODUCER_ID, VS_API_DESCRIBE_ACLS, VS_API_CREATE_ACLS,
		VS_API_DELETE_ACLS, VS_API_DESCRIBE_CONFIGS, VS_API_ALTER_CONFIGS,
		VS_API_CREATE_PARTITIONS, VS_API_DELETE_GROUPS, VS_API_INCREMENTAL_ALTER_CONFIGS,
	};
	for (size_t i = 0; i < sizeof with / sizeof with[0]; i++) {
		vs_response r;
		memset(&r, 0, sizeof r);
		cr_assert_eq(vs_response_set_throttle(with[i], &r, 1234), 1, "API %d", with[i]);
		/* every response struct is distinct, so compare through a
		 * re-encode: the field must have landed where the codec reads */
		vs_wbuf w;
		vs_wbuf_init(&w);
		const vs_api_info *a = vs_api_lookup(with[i]);
		cr_assert(a);
		int16_t ver = a->max_version;
		cr_assert_eq(vs_response_encode(&w, with[i], ver, 1, &r), KE_NONE, "API %d", with[i]);
		/* 1234 = 0x000004d2 somewhere in the body */
		static const uint8_t want[4] = { 0, 0, 4, 0xd2 };
		int found = 0;
		for (size_t k = 8; k + 4 <= w.len && !found; k++)
			found = !memcmp(w.buf + k, want, 4);
		cr_assert(found, "API %d: throttle_time_ms not encoded", with[i]);
		vs_wbuf_free(&w);
	}
	vs_response r;
	cr_assert_eq(vs_response_set_throttle(VS_API_SASL_HANDSHAKE, &r, 1), 0);
	cr_assert_eq(vs_response_set_throttle(VS_API_SASL_AUTHENTICATE, &r, 1), 0);
	cr_assert_not(vs_quota_counts_request(VS_API_API_VERSIONS));
	cr_assert_not(vs_quota_counts_request(VS_API_SASL_AUTHENTICATE));
	cr_assert(vs_quota_counts_request(VS_API_METADATA));
}

Test(messages, what_requests_name)
{
	vs_request q;
	memset(&q, 0, sizeof q);
	vs_produce_topic pt[2];
	memset(pt, 0, sizeof pt);
	pt[0].partition_data.n = 3;
	pt[1].partition_data.n = -1; /* null counts nothing */
	q.produce.topic_data.v = pt;
	q.produce.topic_data.n = 2;
	vs_request_size n;
	vs_request_measure(VS_API_PRODUCE, &q, &n);
	cr_assert_eq(n.partitions, 3);
	cr_assert_eq(n.groups, 0);

	memset(&q, 0, sizeof q);
	vs_fetch_topic ft[1];
	vs_fetch_forgotten_topic fg[1];
	memset(ft, 0, sizeof ft);
	memset(fg, 0, sizeof fg);
	ft[0].partitions.n = 4;
	fg[0].partitions.n = 2;
	q.fetch.topics.v = ft;
	q.fetch.topics.n = 1;
	q.fetch.forgotten_topics_data.v = fg;
	q.fetch.forgotten_topics_data.n = 1;
	vs_request_measure(VS_API_FETCH, &q, &n);
	cr_assert_eq(n.partitions, 6);

	memset(&q, 0, sizeof q);
	q.metadata.topics.n = -1; /* every topic: names nothing */
	vs_request_measure(VS_API_METADATA, &q, &n);
	cr_assert_eq(n.partitions, 0);
	q.metadata.topics.n = 9;
	vs_request_measure(VS_API_METADATA, &q, &n);
	cr_assert_eq(n.partitions, 9);

	memset(&q, 0, sizeof q);
	q.describe_groups.groups.n = 12;
	vs_request_measure(VS_API_DESCRIBE_GROUPS, &q, &n);
	cr_assert_eq(n.groups, 12);
	memset(&q, 0, sizeof q);
	q.delete_groups.groups_names.n = 3;
	vs_request_measure(VS_API_DELETE_GROUPS, &q, &n);
	cr_assert_eq(n.groups, 3);
	memset(&q, 0, sizeof q);
	vs_request_measure(VS_API_OFFSET_COMMIT, &q, &n);
	cr_assert_eq(n.groups, 1);
	vs_request_measure(VS_API_HEARTBEAT, &q, &n);
	cr_assert_eq(n.partitions + n.groups, 0);
}
