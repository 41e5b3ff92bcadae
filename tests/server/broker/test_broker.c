/* SPDX-License-Identifier: MIT */
/*
 * test_broker.c -- the request path (broker.c), the table of implemented
 * APIs (handlers.c) and whole-request errors (reply.c), over a socket to a
 * broker on a thread: ApiVersions lists exactly the implemented APIs; an
 * unknown ApiVersions version gets UNSUPPORTED_VERSION with the list; an
 * unknown API, a bad header or a request that does not decode closes only
 * that connection; an API that is not implemented is answered with an error
 * in every slot; a deferred answer keeps its place in the response order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(broker, .init = setup, .fini = teardown);

static int advertised(const vs_api_versions_response *r, int16_t key, int16_t *lo, int16_t *hi)
{
	for (int32_t i = 0; i < r->api_keys.n; i++)
		if (r->api_keys.v[i].api_key == key) {
			*lo = r->api_keys.v[i].min_version;
			*hi = r->api_keys.v[i].max_version;
			return 1;
		}
	return 0;
}

Test(broker, api_versions_lists_the_implemented_apis)
{
	int fd = bt_connect(&t);
	for (int16_t v = 0; v <= 3; v++) {
		vs_request q = { 0 };
		vs_response r;
		q.api_versions.client_software_name = bt_s("bt");
		q.api_versions.client_software_version = bt_s("1");
		bt_call(&t, fd, VS_API_API_VERSIONS, v, &q, &r);
		cr_assert_eq(r.api_versions.error_code, 0);
		int16_t served[] = { 0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 29,
				     30, 31, 32, 33, 37, 42, 44 };
		for (size_t i = 0; i < sizeof served / sizeof *served; i++) {
			int16_t lo, hi;
			const vs_api_info *a = vs_api_lookup(served[i]);
			cr_assert(advertised(&r.api_versions, served[i], &lo, &hi), "key %d", served[i]);
			cr_assert(lo == a->min_version && hi == a->max_version, "key %d range", served[i]);
		}
		int16_t absent[] = { 17, 36 };
		for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
			int16_t lo, hi;
			cr_assert(!advertised(&r.api_versions, absent[i], &lo, &hi), "key %d", absent[i]);
		}
	}
	close(fd);
}

Test(broker, unknown_api_versions_version_gets_the_list_in_v0)
{
	int fd = bt_connect(&t);
	/* ApiVersions v77 with a body we would not understand */
	uint8_t frame[] = { 0, 0, 0, 14, 0, 18, 0, 77, 0, 0, 0, 9, 0, 0, 0xde, 0xad, 0xbe, 0xef };
	bt_send_raw(fd, frame, sizeof frame);
	size_t len;
	uint8_t *f = bt_recv_frame(fd, &len);
	vs_rbuf r;
	vs_rbuf_init(&r, f, len);
	int32_t corr;
	cr_assert_eq(vs_response_header_parse(&r, VS_API_API_VERSIONS, 0, &corr), KE_NONE);
	cr_assert_eq(corr, 9);
	vs_response resp;
	cr_assert_eq(vs_response_decode(VS_API_API_VERSIONS, 0, &r, &t.arena, &resp), KE_NONE);
	cr_assert_eq(resp.api_versions.error_code, KE_UNSUPPORTED_VERSION);
	int16_t lo, hi;
	cr_assert(advertised(&resp.api_versions, VS_API_METADATA, &lo, &hi));
	free(f);
	/* the connection goes on */
	vs_request q = { 0 };
	bt_call(&t, fd, VS_API_API_VERSIONS, 0, &q, &resp);
	cr_assert_eq(resp.api_versions.error_code, 0);
	close(fd);
}

Test(broker, unknown_api_or_bad_frames_close_only_their_connection)
{
	int keep = bt_connect(&t);
	static const uint8_t unknown_key[] = { 0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff };
	static const uint8_t short_header[] = { 0, 0, 0, 3, 0, 3, 0 };
	/* Metadata v1 whose topic array claims more entries than bytes */
	static const uint8_t lying[] = { 0, 0, 0, 18, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff,
					 0, 0, 0x10, 0, 0, 1, 'a', 0 };
	/* CreateTopics v3 whose topic name length runs past the frame */
	static const uint8_t past[] = { 0, 0, 0, 19, 0, 19, 0, 3, 0, 0, 0, 1, 0xff, 0xff,
					0, 0, 0, 1, 0x7f, 0, 'a', 'b', 'c' };
	const uint8_t *bad[] = { unknown_key, short_header, lying, past };
	size_t lens[] = { sizeof unknown_key, sizeof short_header, sizeof lying, sizeof past };
	for (size_t i = 0; i < 4; i++) {
		int fd = bt_connect(&t);
		bt_send_raw(fd, bad[i], lens[i]);
		cr_assert(bt_closed(fd, 5000), "bad request %zu did not close its connection", i);
		close(fd);
	}
	vs_request q = { 0 };
	vs_response r;
	bt_call(&t, keep, VS_API_API_VERSIONS, 1, &q, &r);
	cr_assert_eq(r.api_versions.error_code, 0);
	close(keep);
}

Test(broker, unimplemented_api_is_answered_with_errors)
{
	/* SaslHandshake: in the protocol table, not served (no authentication) */
	int fd = bt_connect(&t);
	vs_request q = { 0 };
	q.sasl_handshake.mechanism = bt_s("PLAIN");
	vs_response r;
	bt_call(&t, fd, VS_API_SASL_HANDSHAKE, 1, &q, &r);
	cr_assert_eq(r.sasl_handshake.error_code, KE_UNSUPPORTED_VERSION);
	close(fd);
}

Test(broker, produce_to_an_unknown_topic_is_answered_per_partition)
{
	int fd = bt_connect(&t);
	vs_produce_partition parts[2] = { { 0, VS_SLICE_NULL }, { 3, VS_SLICE_NULL } };
	vs_produce_topic topic = { bt_s("nope"), { parts, 2 } };
	vs_request q = { 0 };
	q.produce.acks = 1;
	q.produce.timeout_ms = 1000;
	q.produce.topic_data.v = &topic;
	q.produce.topic_data.n = 1;
	q.produce.transactional_id = VS_SLICE_NULL;
	vs_response r;
	bt_call(&t, fd, VS_API_PRODUCE, 7, &q, &r);
	cr_assert_eq(r.produce.responses.n, 1);
	cr_assert(bt_is(r.produce.responses.v[0].name, "nope"));
	cr_assert_eq(r.produce.responses.v[0].partition_responses.n, 2);
	for (int i = 0; i < 2; i++) {
		vs_produce_partition_response *p = &r.produce.responses.v[0].partition_responses.v[i];
		cr_assert_eq(p->index, parts[i].index);
		cr_assert_eq(p->error_code, KE_UNKNOWN_TOPIC_OR_PARTITION);
		cr_assert_eq(p->base_offset, -1);
	}
	close(fd);
}

Test(broker, deferred_answers_keep_their_place)
{
	int fd = bt_connect(&t);
	/* CreateTopics runs on a worker; ApiVersions is answered at once:
	 * the responses still come in request order */
	vs_create_topics_topic ct = { bt_s("later"), 2, 1, { NULL, 0 }, { NULL, 0 } };
	vs_request q = { 0 };
	q.create_topics.topics.v = &ct;
	q.create_topics.topics.n = 1;
	q.create_topics.timeout_ms = 1000;
	int32_t c1 = bt_send(&t, fd, VS_API_CREATE_TOPICS, 3, &q);
	vs_request v = { 0 };
	int32_t c2 = bt_send(&t, fd, VS_API_API_VERSIONS, 2, &v);
	vs_response r;
	bt_recv(&t, fd, VS_API_CREATE_TOPICS, 3, c1, &r);
	cr_assert_eq(r.create_topics.topics.n, 1);
	cr_assert_eq(r.create_topics.topics.v[0].error_code, 0);
	bt_recv(&t, fd, VS_API_API_VERSIONS, 2, c2, &r);
	cr_assert_eq(r.api_versions.error_code, 0);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "later", &cfg), 0);
	cr_assert_eq(cfg.partitions, 2);
	close(fd);
}

Test(broker, a_client_gone_with_a_deferred_answer_harms_nobody)
{
	for (int i = 0; i < 20; i++) {
		int fd = bt_connect(&t);
		char name[32];
		snprintf(name, sizeof name, "gone%d", i);
		vs_create_topics_topic ct = { bt_s(name), 1, 1, { NULL, 0 }, { NULL, 0 } };
		vs_request q = { 0 };
		q.create_topics.topics.v = &ct;
		q.create_topics.topics.n = 1;
		bt_send(&t, fd, VS_API_CREATE_TOPICS, 3, &q);
		close(fd);
	}
	int fd = bt_connect(&t);
	vs_request q = { 0 };
	q.metadata.topics.n = -1;
	vs_response r;
	bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
	cr_assert_eq(r.metadata.brokers.n, 1);
	close(fd);
}

static void tiny_deferred_cap(vs_broker_config *cfg)
{
	cfg->max_deferred_bytes = 1;
}

static void setup_tiny(void)
{
	bt_start(&t, tiny_deferred_cap);
}

Test(broker_capped, requests_past_the_deferred_cap_are_refused, .init = setup_tiny,
     .fini = teardown)
{
	int fd = bt_connect(&t);
	vs_metadata_request_topic mt = { bt_s("anything") };
	vs_request q = { 0 };
	q.metadata.topics.v = &mt;
	q.metadata.topics.n = 1;
	q.metadata.allow_auto_topic_creation = true;
	vs_response r;
	bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
	cr_assert_eq(r.metadata.topics.n, 1);
	cr_assert_eq(r.metadata.topics.v[0].error_code, KE_REQUEST_TIMED_OUT);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "anything", &cfg), VARVE_ENOTFOUND);
	/* answered at once, without a copy: not refused */
	vs_request v = { 0 };
	bt_call(&t, fd, VS_API_API_VERSIONS, 3, &v, &r);
	cr_assert_eq(r.api_versions.error_code, 0);
	char *body;
	cr_assert_eq(bt_http_get(&t, "/metrics", &body), 200);
	cr_assert(strstr(body, "\nvarve_kafka_busy_total 1\n"), "not counted as busy");
	cr_assert(strstr(body, "\nvarve_kafka_deferred_frame_bytes 0\n"));
	free(body);
	close(fd);
}
