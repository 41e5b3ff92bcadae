/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c -- /metrics (server/broker/metrics.c) over HTTP from a
 * broker on a thread: the families are there, requests and errors are
 * counted per API, the histogram's +Inf bucket equals its count, the lag
 * snapshot shows a group's lag (made by a worker, so the test polls), and
 * other paths are 404.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bt_util.h"

static bt t;

static void setup(void)
{
	bt_start(&t, NULL);
}

static void teardown(void)
{
	bt_stop(&t);
}

TestSuite(metrics, .init = setup, .fini = teardown);

static long value_of(const char *text, const char *sample)
{
	char key[256];
	snprintf(key, sizeof key, "\n%s ", sample);
	const char *p = strstr(text, key);
	cr_assert(p, "no sample %s", sample);
	return strtol(p + strlen(key), NULL, 10);
}

Test(metrics, families_and_per_api_counts)
{
	int fd = bt_connect(&t);
	vs_request q = { 0 };
	vs_response r;
	for (int i = 0; i < 3; i++)
		bt_call(&t, fd, VS_API_API_VERSIONS, 3, &q, &r);
	vs_slice bad = bt_s("");
	q.delete_groups.groups_names.v = &bad;
	q.delete_groups.groups_names.n = 1;
	bt_call(&t, fd, VS_API_DELETE_GROUPS, 1, &q, &r);
	close(fd);
	char *body;
	cr_assert_eq(bt_http_get(&t, "/metrics", &body), 200);
	cr_assert_eq(value_of(body, "varve_kafka_requests_total{api=\"ApiVersions\"}"), 3);
	cr_assert_eq(value_of(body, "varve_kafka_request_errors_total{api=\"ApiVersions\"}"), 0);
	cr_assert_eq(value_of(body, "varve_kafka_requests_total{api=\"DeleteGroups\"}"), 1);
	cr_assert_eq(value_of(body, "varve_kafka_request_errors_total{api=\"DeleteGroups\"}"), 1);
	cr_assert_eq(value_of(body, "varve_kafka_request_duration_seconds_bucket{api=\"ApiVersions\","
				    "le=\"+Inf\"}"), 3);
	cr_assert_eq(value_of(body, "varve_kafka_request_duration_seconds_count{api=\"ApiVersions\"}"), 3);
	cr_assert(value_of(body, "varve_kafka_request_bytes_total{api=\"ApiVersions\"}") > 0);
	cr_assert(value_of(body, "varve_net_connections_accepted_total") >= 2);
	cr_assert_eq(value_of(body, "varve_groups{state=\"Stable\"}"), 0);
	const char *families[] = { "# TYPE varve_appends_total counter",
				   "# TYPE varve_kafka_request_duration_seconds histogram",
				   "# TYPE varve_net_connections gauge",
				   "# TYPE varve_workers_queued gauge",
				   "# TYPE varve_group_rebalances_total counter" };
	for (size_t i = 0; i < sizeof families / sizeof *families; i++)
		cr_assert(strstr(body, families[i]), "missing %s", families[i]);
	/* an API not implemented is not listed */
	cr_assert_null(strstr(body, "api=\"SaslHandshake\""));
	free(body);
	cr_assert_eq(bt_http_get(&t, "/other", &body), 404);
	free(body);
}

Test(metrics, lag_of_a_group_with_commits)
{
	bt_topic(&t, "lagging", 1);
	bt_fill(&t, "lagging", 0, 6, 1700000000000LL);
	cr_assert_eq(varve_group_commit(t.db, "g\"1", "lagging", 0, 2, NULL), 0);
	const char *want = "varve_group_lag_records{group=\"g\\\"1\",topic=\"lagging\",partition=\"0\"} 4";
	char *body = NULL;
	for (int i = 0; i < 200; i++) {
		free(body);
		cr_assert_eq(bt_http_get(&t, "/metrics", &body), 200);
		if (strstr(body, want))
			break;
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert(strstr(body, want), "lag not shown");
	cr_assert(strstr(body, "varve_group_lag_bytes{group=\"g\\\"1\",topic=\"lagging\",partition=\"0\"} "));
	free(body);
}
