/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kproto.c: the API table (order, ranges, the
 * versions each client on this machine needs, flexibility), header
 * versions (ApiVersions answers with response header v0 always), request
 * header parsing (v1, v2 with tagged fields, null client id, and the three
 * outcomes: parsed, unsupported, unparseable), and frame writing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "kt_util.h"

TestSuite(kproto_table, .timeout = 10);
TestSuite(kproto_header, .timeout = 10);
TestSuite(kproto_frame, .timeout = 10);

/* ---- the table ------------------------------------------------------------ */

Test(kproto_table, sorted_unique_and_consistent)
{
	cr_assert_eq(vs_api_count(), 28);
	for (size_t i = 0; i < vs_api_count(); i++) {
		const vs_api_info *a = vs_api_at(i);
		cr_assert_not_null(a);
		if (i)
			cr_assert_lt(vs_api_at(i - 1)->key, a->key, "ascending keys");
		cr_assert_leq(a->min_version, a->max_version, "%s", a->name);
		cr_assert_geq(a->min_version, 0);
		cr_assert_eq(vs_api_lookup(a->key), a, "%s", a->name);
		cr_assert_not_null(a->name);
	}
	cr_assert_null(vs_api_at(vs_api_count()));
	cr_assert_null(vs_api_lookup(4), "LeaderAndIsr is not implemented");
	cr_assert_null(vs_api_lookup(-1));
	cr_assert_null(vs_api_lookup(INT16_MAX));
}

/* What the clients on this machine send (VERSIONS.md): each must be in
 * range, or the client breaks. */
Test(kproto_table, client_versions_are_in_range)
{
	static const struct {
		int16_t key, version;
		const char *who;
	} need[] = {
		/* librdkafka 2.0.2 picks its maximum */
		{ VS_API_API_VERSIONS, 3, "rdkafka" },	   { VS_API_METADATA, 4, "rdkafka" },
		{ VS_API_PRODUCE, 7, "rdkafka" },	   { VS_API_FETCH, 11, "rdkafka" },
		{ VS_API_LIST_OFFSETS, 2, "rdkafka" },	   { VS_API_FIND_COORDINATOR, 2, "rdkafka" },
		{ VS_API_JOIN_GROUP, 5, "rdkafka" },	   { VS_API_SYNC_GROUP, 3, "rdkafka" },
		{ VS_API_HEARTBEAT, 3, "rdkafka" },	   { VS_API_LEAVE_GROUP, 1, "rdkafka" },
		{ VS_API_OFFSET_COMMIT, 7, "rdkafka" },	   { VS_API_OFFSET_FETCH, 7, "rdkafka" },
		{ VS_API_LIST_GROUPS, 4, "rdkafka" },	   { VS_API_LIST_GROUPS, 0, "rdkafka (legacy)" },
		{ VS_API_DESCRIBE_GROUPS, 4, "rdkafka" },  { VS_API_DELETE_GROUPS, 1, "rdkafka" },
		{ VS_API_INIT_PRODUCER_ID, 4, "rdkafka" }, { VS_API_CREATE_TOPICS, 4, "rdkafka" },
		{ VS_API_DELETE_TOPICS, 1, "rdkafka" },	   { VS_API_CREATE_PARTITIONS, 0, "rdkafka" },
		{ VS_API_DESCRIBE_CONFIGS, 1, "rdkafka" }, { VS_API_ALTER_CONFIGS, 0, "rdkafka" },
		{ VS_API_DELETE_RECORDS, 1, "rdkafka" },   { VS_API_SASL_HANDSHAKE, 1, "rdkafka" },
		{ VS_API_SASL_AUTHENTICATE, 0, "rdkafka" }, { VS_API_DESCRIBE_ACLS, 1, "rdkafka" },
		{ VS_API_CREATE_ACLS, 1, "rdkafka" },	   { VS_API_DELETE_ACLS, 1, "rdkafka" },
		/* kafka-python 2.0.2 (fixed versions once it infers broker 2.3) */
		{ VS_API_API_VERSIONS, 0, "kafka-python" }, { VS_API_METADATA, 0, "kafka-python" },
		{ VS_API_METADATA, 1, "kafka-python" },	   { VS_API_PRODUCE, 7, "kafka-python" },
		{ VS_API_FETCH, 4, "kafka-python" },	   { VS_API_LIST_OFFSETS, 1, "kafka-python" },
		{ VS_API_FIND_COORDINATOR, 0, "kafka-python" }, { VS_API_JOIN_GROUP, 2, "kafka-python" },
		{ VS_API_SYNC_GROUP, 1, "kafka-python" },  { VS_API_HEARTBEAT, 1, "kafka-python" },
		{ VS_API_LEAVE_GROUP, 1, "kafka-python" }, { VS_API_OFFSET_COMMIT, 2, "kafka-python" },
		{ VS_API_OFFSET_FETCH, 1, "kafka-python" }, { VS_API_OFFSET_FETCH, 3, "kafka-python" },
		{ VS_API_LIST_GROUPS, 1, "kafka-python" }, { VS_API_DESCRIBE_GROUPS, 3, "kafka-python" },
		{ VS_API_DELETE_GROUPS, 1, "kafka-python" }, { VS_API_CREATE_TOPICS, 3, "kafka-python" },
		{ VS_API_DELETE_TOPICS, 3, "kafka-python" }, { VS_API_CREATE_PARTITIONS, 1, "kafka-python" },
		{ VS_API_DESCRIBE_CONFIGS, 2, "kafka-python" }, { VS_API_ALTER_CONFIGS, 1, "kafka-python" },
		{ VS_API_SASL_HANDSHAKE, 0, "kafka-python" }, { VS_API_DESCRIBE_ACLS, 1, "kafka-python" },
		{ VS_API_CREATE_ACLS, 1, "kafka-python" }, { VS_API_DELETE_ACLS, 1, "kafka-python" },
	};
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		cr_assert(vs_api_supported(need[i].key, need[i].version), "%s needs key %d v%d",
			  need[i].who, need[i].key, need[i].version);
}

/* kafka-python infers the broker's version from the table
 * (conn.py: _infer_broker_version_from_api_versions): the first of its
 * probes that is in range wins. Fetch v11 must be the first, so that it
 * takes the broker for 2.3 and uses Produce v7 with v2 record batches;
 * DescribeAcls v2 or Produce v8 in range would make it 2.5 / 2.4, which it
 * does not treat differently today, but the table is what was tested. */
Test(kproto_table, kafka_python_infers_2_3)
{
	cr_assert_not(vs_api_supported(VS_API_DESCRIBE_ACLS, 2));
	cr_assert_not(vs_api_supported(VS_API_PRODUCE, 8));
	cr_assert(vs_api_supported(VS_API_FETCH, 11));
}

/* Only magic-2 record batches are handled: Produce below v3 and Fetch below
 * v4 would carry message sets v0/v1. */
Test(kproto_table, record_batch_v2_only)
{
	cr_assert_not(vs_api_supported(VS_API_PRODUCE, 2));
	cr_assert(vs_api_supported(VS_API_PRODUCE, 3));
	cr_assert_not(vs_api_supported(VS_API_FETCH, 3));
	cr_assert(vs_api_supported(VS_API_FETCH, 4));
}

Test(kproto_table, bounds)
{
	cr_assert(vs_api_supported(VS_API_METADATA, 0));
	cr_assert(vs_api_supported(VS_API_METADATA, 4));
	cr_assert_not(vs_api_supported(VS_API_METADATA, 5));
	cr_assert_not(vs_api_supported(VS_API_METADATA, -1));
	cr_assert_not(vs_api_supported(7, 0), "ControlledShutdown");
}

Test(kproto_table, flexible_versions)
{
	static const struct {
		int16_t key, version;
		int flex;
	} cases[] = {
		{ VS_API_API_VERSIONS, 2, 0 },	   { VS_API_API_VERSIONS, 3, 1 },
		{ VS_API_LIST_GROUPS, 2, 0 },	   { VS_API_LIST_GROUPS, 3, 1 },
		{ VS_API_LIST_GROUPS, 4, 1 },	   { VS_API_OFFSET_FETCH, 5, 0 },
		{ VS_API_OFFSET_FETCH, 6, 1 },	   { VS_API_INIT_PRODUCER_ID, 1, 0 },
		{ VS_API_INIT_PRODUCER_ID, 2, 1 }, { VS_API_INCREMENTAL_ALTER_CONFIGS, 0, 0 },
		{ VS_API_INCREMENTAL_ALTER_CONFIGS, 1, 1 }, { VS_API_PRODUCE, 7, 0 },
		{ VS_API_FETCH, 11, 0 },	   { VS_API_SASL_HANDSHAKE, 1, 0 },
		{ VS_API_API_VERSIONS, 4, 0 }, /* not supported: not flexible either */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_eq(vs_api_flexible(cases[i].key, cases[i].version), cases[i].flex,
			     "key %d v%d", cases[i].key, cases[i].version);
}

Test(kproto_table, header_versions)
{
	cr_assert_eq(vs_request_header_version(VS_API_METADATA, 4), 1);
	cr_assert_eq(vs_response_header_version(VS_API_METADATA, 4), 0);
	cr_assert_eq(vs_request_header_version(VS_API_OFFSET_FETCH, 7), 2);
	cr_assert_eq(vs_response_header_version(VS_API_OFFSET_FETCH, 7), 1);
	cr_assert_eq(vs_request_header_version(VS_API_API_VERSIONS, 3), 2);
	cr_assert_eq(vs_response_header_version(VS_API_API_VERSIONS, 3), 0, "KIP-511");
	cr_assert_eq(vs_request_header_version(VS_API_API_VERSIONS, 4), -1);
	cr_assert_eq(vs_response_header_version(99, 0), -1);
}

/* ---- request header ------------------------------------------------------- */

static int parse_hex(const char *hex, vs_request_header *h, vs_rbuf *body, uint8_t *buf, size_t cap)
{
	size_t n = kt_hex(hex, buf, cap);
	return vs_request_header_parse(buf, n, h, body);
}

Test(kproto_header, v1_with_client_id)
{
	static uint8_t buf[64];
	vs_request_header h;
	vs_rbuf body;
	/* Metadata v1, correlation 5, client "ab", body 0xffffffff */
	int rc = parse_hex("0003 0001 00000005 0002 6162 ffffffff", &h, &body, buf, sizeof buf);
	cr_assert_eq(rc, KE_NONE);
	cr_assert_eq(h.api_key, 3);
	cr_assert_eq(h.api_version, 1);
	cr_assert_eq(h.correlation_id, 5);
	cr_assert(kt_is(h.client_id, "ab"));
	cr_assert_eq(h.header_version, 1);
	cr_assert_eq(vs_rbuf_left(&body), 4);
	cr_assert_eq(body.p, buf + 12);
}

Test(kproto_header, v1_null_client_id)
{
	static uint8_t buf[64];
	vs_request_header h;
	vs_rbuf body;
	cr_assert_eq(parse_hex("0012 0000 00000001 ffff", &h, &body, buf, sizeof buf), KE_NONE);
	cr_assert_null(h.client_id.ptr);
	cr_assert_eq(vs_rbuf_left(&body), 0);
}

Test(kproto_header, v2_skips_tags_and_keeps_classic_client_id)
{
	static uint8_t buf[64];
	vs_request_header h;
	vs_rbuf body;
	/* OffsetFetch v6 (flexible): client id has an INT16 length, then one
	 * tagged field (tag 7, 2 bytes), then the body */
	int rc = parse_hex("0009 0006 0000002a 0001 78 01 07 02 aabb | 0101", &h, &body, buf, sizeof buf);
	cr_assert_eq(rc, KE_NONE);
	cr_assert_eq(h.header_version, 2);
	cr_assert(kt_is(h.client_id, "x"));
	cr_assert_eq(vs_rbuf_left(&body), 2);
	cr_assert_eq(body.p[0], 0x01);
}

Test(kproto_header, too_short_is_invalid)
{
	static uint8_t buf[64];
	vs_request_header h;
	vs_rbuf body;
	cr_assert_eq(parse_hex("0003 0001 000000", &h, &body, buf, sizeof buf), KE_INVALID_REQUEST);
	cr_assert_eq(vs_request_header_parse(buf, 0, &h, &body), KE_INVALID_REQUEST);
	cr_assert_eq(vs_rbuf_left(&body), 0, "no body to decode");
}

Test(kproto_header, unknown_api_is_unsupported_with_correlation_id)
{
	static uint8_t buf[64];
	vs_request_header h;
	vs_rbuf body;
	/* key 57 (UpdateFeatures): the client id is garbage, never read */
	int rc = parse_hex("0039 0000 00000063 ffee", &h, &body, buf, sizeof buf);
	cr_assert_eq(rc, KE_UNSUPPORTED_VERSION);
	cr_assert_eq(h.api_key, 57);
	cr_assert_eq(h.correlation_id, 99);
	cr_assert_eq(h.header_version, 0);
}

Test(kproto_header, version_out_of_range_is_unsupported)
{
	static uint8_t buf[64];
	vs_request_header h;
	vs_rbuf body;
	/* ApiVersions v4 (a newer client): answered with a v0 error response */
	int rc = parse_hex("0012 0004 00000007 0003 616263 00 00", &h, &body, buf, sizeof buf);
	cr_assert_eq(rc, KE_UNSUPPORTED_VERSION);
	cr_assert_eq(h.api_key, VS_API_API_VERSIONS);
	cr_assert_eq(h.api_version, 4);
	cr_assert_eq(h.correlation_id, 7);
	rc = parse_hex("0003 ffff 00000007 0000", &h, &body, buf, sizeof buf);
	cr_assert_eq(rc, KE_UNSUPPORTED_VERSION, "a negative version");
}

Test(kproto_header, bad_client_id_or_tags_are_invalid)
{
	static uint8_t buf[64];
	vs_request_header h;
	vs_rbuf body;
	cr_assert_eq(parse_hex("0003 0001 00000005 0005 6162", &h, &body, buf, sizeof buf),
		     KE_INVALID_REQUEST, "client id longer than the frame");
	cr_assert_null(h.client_id.ptr);
	cr_assert_eq(parse_hex("0003 0001 00000005 fffe", &h, &body, buf, sizeof buf),
		     KE_INVALID_REQUEST, "length -2");
	cr_assert_eq(h.correlation_id, 5, "the fixed fields are still there");
	cr_assert_eq(parse_hex("0009 0006 00000005 ffff 01 07 05 aa", &h, &body, buf, sizeof buf),
		     KE_INVALID_REQUEST, "a tag longer than the frame");
	cr_assert_eq(parse_hex("0009 0006 00000005 ffff", &h, &body, buf, sizeof buf),
		     KE_INVALID_REQUEST, "v2 header without its tag section");
}

/* ---- frames ----------------------------------------------------------------- */

Test(kproto_frame, response_header_v0_and_v1)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	size_t at = vs_response_begin(&w, VS_API_METADATA, 4, 0x11223344);
	vs_w_i8(&w, 0x55);
	cr_assert_eq(vs_frame_end(&w, at), KE_NONE);
	kt_assert_frame_hex(&w, "00000005 11223344 55");
	vs_wbuf_reset(&w);
	at = vs_response_begin(&w, VS_API_LIST_GROUPS, 4, 1);
	cr_assert_eq(vs_frame_end(&w, at), KE_NONE);
	kt_assert_frame_hex(&w, "00000005 00000001 00");
	vs_wbuf_reset(&w);
	at = vs_response_begin(&w, VS_API_API_VERSIONS, 3, 2);
	cr_assert_eq(vs_frame_end(&w, at), KE_NONE);
	kt_assert_frame_hex(&w, "00000004 00000002");
	vs_wbuf_free(&w);
}

Test(kproto_frame, unsupported_version_fails_the_frame)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	size_t at = vs_response_begin(&w, VS_API_METADATA, 9, 1);
	cr_assert_eq(vs_frame_end(&w, at), KE_UNKNOWN_SERVER_ERROR);
	cr_assert_neq(w.err, 0);
	vs_wbuf_free(&w);
}

Test(kproto_frame, request_header_roundtrip)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_request_header h = { VS_API_INIT_PRODUCER_ID, 4, -3, VS_SLICE_NULL, 0 };
	size_t at = vs_request_begin(&w, &h);
	cr_assert_eq(vs_frame_end(&w, at), KE_NONE);
	kt_assert_frame_hex(&w, "0000000b 0016 0004 fffffffd ffff 00");
	vs_request_header got;
	vs_rbuf body;
	cr_assert_eq(vs_request_header_parse(w.buf + 4, w.len - 4, &got, &body), KE_NONE);
	cr_assert_eq(got.correlation_id, -3);
	cr_assert_null(got.client_id.ptr);
	cr_assert_eq(got.header_version, 2);
	vs_wbuf_free(&w);
}

Test(kproto_frame, response_header_parse)
{
	static uint8_t buf[16];
	size_t n = kt_hex("00000009 00", buf, sizeof buf);
	vs_rbuf r;
	vs_rbuf_init(&r, buf, n);
	int32_t corr;
	cr_assert_eq(vs_response_header_parse(&r, VS_API_OFFSET_FETCH, 6, &corr), KE_NONE);
	cr_assert_eq(corr, 9);
	cr_assert_eq(vs_rbuf_left(&r), 0);
	vs_rbuf_init(&r, buf, 3);
	cr_assert_eq(vs_response_header_parse(&r, VS_API_METADATA, 1, &corr), KE_INVALID_REQUEST);
	vs_rbuf_init(&r, buf, n);
	cr_assert_eq(vs_response_header_parse(&r, VS_API_METADATA, 99, &corr), KE_UNSUPPORTED_VERSION);
}

Test(kproto_frame, frame_end_reports_writer_errors)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	size_t at = vs_response_begin(&w, VS_API_HEARTBEAT, 0, 1);
	static char big[40000];
	vs_w_string(&w, 0, big, sizeof big); /* too long for a STRING */
	cr_assert_eq(vs_frame_end(&w, at), KE_UNKNOWN_SERVER_ERROR);
	vs_wbuf_free(&w);
}
