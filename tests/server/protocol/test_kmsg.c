/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kmsg.c, the entry points shared by every API:
 * dispatch and its refusals, every golden vector cut at every byte (must
 * fail cleanly, never read past the cut: each prefix gets a buffer of its
 * own size, so ASan sees an overread), an empty message of every API and
 * version through both directions, the arena budget (honest messages fit,
 * lying nested counts do not), and encoder failures.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "kt_util.h"

TestSuite(kmsg, .timeout = 60);

/* ---- dispatch --------------------------------------------------------------- */

Test(kmsg, unsupported_key_or_version_is_refused_both_ways)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 16);
	static const uint8_t body[] = { 0, 0, 0, 0 };
	vs_rbuf r;
	vs_request req;
	vs_response resp;
	memset(&req, 0, sizeof req);
	memset(&resp, 0, sizeof resp);
	vs_rbuf_init(&r, body, sizeof body);
	cr_assert_eq(vs_request_decode(4, 0, &r, &a, &req), KE_UNSUPPORTED_VERSION);
	vs_rbuf_init(&r, body, sizeof body);
	cr_assert_eq(vs_request_decode(VS_API_FETCH, 3, &r, &a, &req), KE_UNSUPPORTED_VERSION);
	vs_rbuf_init(&r, body, sizeof body);
	cr_assert_eq(vs_response_decode(VS_API_FETCH, 12, &r, &a, &resp), KE_UNSUPPORTED_VERSION);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_PRODUCE, 8, 1, &resp), KE_UNSUPPORTED_VERSION);
	cr_assert_eq(w.len, 0, "nothing written");
	vs_request_header h = { VS_API_METADATA, 5, 1, VS_SLICE_NULL, 0 };
	cr_assert_eq(vs_request_encode(&w, &h, &req), KE_UNSUPPORTED_VERSION);
	cr_assert_eq(w.len, 0);
	vs_wbuf_free(&w);
	vs_arena_free(&a);
}

Test(kmsg, decode_zeroes_the_message_first)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 16);
	vs_request req;
	memset(&req, 0xab, sizeof req);
	static const uint8_t body[] = { 0x00, 0x00 }; /* truncated Heartbeat */
	vs_rbuf r;
	vs_rbuf_init(&r, body, sizeof body);
	cr_assert_eq(vs_request_decode(VS_API_HEARTBEAT, 0, &r, &a, &req), KE_INVALID_REQUEST);
	cr_assert_eq(req.heartbeat.generation_id, 0, "no stale bytes survive a failed decode");
	vs_arena_free(&a);
}

/* ---- every API and version, empty ------------------------------------------- */

Test(kmsg, empty_messages_of_every_api_and_version_roundtrip)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	for (size_t i = 0; i < vs_api_count(); i++) {
		const vs_api_info *api = vs_api_at(i);
		for (int16_t v = api->min_version; v <= api->max_version; v++) {
			vs_request req, req_out;
			vs_response resp, resp_out;
			memset(&req, 0, sizeof req);
			memset(&resp, 0, sizeof resp);
			vs_arena_reset(&a);
			kt_request_roundtrip(api->key, v, &req, &a, &req_out);
			kt_response_roundtrip(api->key, v, &resp, &a, &resp_out);
		}
	}
	vs_arena_free(&a);
}

/* ---- golden vectors cut at every byte ----------------------------------------- */

static int cmp_names(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Decode frame[0..n) in a buffer of exactly n bytes. */
static int decode_prefix(const uint8_t *frame, size_t n, vs_arena *a, size_t *left)
{
	uint8_t *copy = malloc(n ? n : 1);
	cr_assert(copy);
	memcpy(copy, frame, n);
	vs_request_header h;
	vs_rbuf body;
	int rc = vs_request_header_parse(copy, n, &h, &body);
	if (rc == KE_NONE) {
		vs_request req;
		vs_arena_reset(a);
		rc = vs_request_decode(h.api_key, h.api_version, &body, a, &req);
		*left = vs_rbuf_left(&body);
	}
	free(copy);
	return rc;
}

Test(kmsg, every_vector_truncated_at_every_byte_fails_cleanly)
{
	DIR *d = opendir(KT_VECTORS);
	cr_assert(d);
	char *names[256];
	size_t count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".bin") == 0) {
			cr_assert_lt(count, 256);
			names[count++] = strndup(e->d_name, l - 4);
		}
	}
	closedir(d);
	cr_assert_geq(count, 50, "the captured vectors are there");
	qsort(names, count, sizeof names[0], cmp_names);
	vs_arena a;
	vs_arena_init(&a, 1 << 24);
	for (size_t i = 0; i < count; i++) {
		size_t len, left = 0;
		uint8_t *frame = kt_load(names[i], &len);
		int rc = decode_prefix(frame, len, &a, &left);
		cr_assert_eq(rc, KE_NONE, "%s: the whole frame decodes", names[i]);
		size_t end = len - left; /* where the message ends */
		for (size_t n = 0; n < len; n++) {
			size_t l2 = 0;
			rc = decode_prefix(frame, n, &a, &l2);
			if (n < end)
				cr_assert_neq(rc, KE_NONE, "%s cut at %zu of %zu decoded", names[i], n, len);
			else
				cr_assert_eq(rc, KE_NONE, "%s cut in its trailing bytes", names[i]);
			cr_assert(rc == KE_NONE || rc == KE_INVALID_REQUEST, "%s cut at %zu: %d", names[i], n,
				  rc);
		}
		free(frame);
		free(names[i]);
	}
	vs_arena_free(&a);
}

/* ---- the arena budget -------------------------------------------------------- */

/* The densest honest request for arrays: DeleteGroups v1 with n empty group
 * names (two bytes each, 16-byte slices), and DescribeConfigs v2 with n
 * resources holding one key each. Both must fit VS_ARENA_BUDGET. */
Test(kmsg, densest_honest_requests_fit_the_budget)
{
	enum { N = 20000 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_array(&w, 0, N);
	for (int i = 0; i < N; i++)
		vs_w_string(&w, 0, "", 0);
	vs_arena a;
	vs_arena_init(&a, SIZE_MAX);
	vs_rbuf r;
	vs_rbuf_init(&r, w.buf, w.len);
	vs_request req;
	cr_assert_eq(vs_request_decode(VS_API_DELETE_GROUPS, 1, &r, &a, &req), KE_NONE);
	cr_assert_eq(req.delete_groups.groups_names.n, N);
	cr_assert_leq(a.used, VS_ARENA_BUDGET(w.len));

	vs_wbuf_reset(&w);
	vs_w_array(&w, 0, N);
	for (int i = 0; i < N; i++) {
		vs_w_i8(&w, 2);
		vs_w_string(&w, 0, "", 0);
		vs_w_array(&w, 0, 1);
		vs_w_string(&w, 0, "", 0);
	}
	vs_w_i8(&w, 0);
	vs_arena_reset(&a);
	vs_rbuf_init(&r, w.buf, w.len);
	cr_assert_eq(vs_request_decode(VS_API_DESCRIBE_CONFIGS, 2, &r, &a, &req), KE_NONE);
	cr_assert_eq(req.describe_configs.resources.n, N);
	cr_assert_eq(req.describe_configs.resources.v[N - 1].configuration_keys.n, 1);
	cr_assert_leq(a.used, VS_ARENA_BUDGET(w.len));
	vs_arena_free(&a);
	vs_wbuf_free(&w);
}

/* Nested counts that each claim everything that is left: every level can
 * reserve memory before its elements arrive, but the decode fails without
 * passing the budget. */
Test(kmsg, lying_nested_counts_stay_within_the_budget)
{
	/* CreateTopics v4: topics[n] { name, num_partitions, replication_factor,
	 * assignments[m] { partition_index, broker_ids[k] } ... } */
	enum { BODY = 4096 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_array(&w, 0, 400);  /* topics: 400 * 9 bytes fits in 4096 */
	vs_w_string(&w, 0, "t", 1);
	vs_w_i32(&w, 1);
	vs_w_i16(&w, 1);
	vs_w_array(&w, 0, 700);  /* assignments */
	vs_w_i32(&w, 0);
	vs_w_array(&w, 0, 1000); /* broker ids */
	while (w.len < BODY)
		vs_w_i8(&w, 0);
	vs_arena a;
	vs_arena_init(&a, SIZE_MAX);
	vs_rbuf r;
	vs_rbuf_init(&r, w.buf, w.len);
	vs_request req;
	cr_assert_eq(vs_request_decode(VS_API_CREATE_TOPICS, 4, &r, &a, &req), KE_INVALID_REQUEST);
	cr_assert_gt(a.used, 0, "the outer arrays were allocated");
	cr_assert_leq(a.used, VS_ARENA_BUDGET((size_t)BODY));
	vs_arena_free(&a);
	vs_wbuf_free(&w);
}

Test(kmsg, arena_cap_refuses_a_big_honest_request)
{
	vs_wbuf w;
	vs_wbuf_init(&w);
	vs_w_array(&w, 0, 1000);
	for (int i = 0; i < 1000; i++)
		vs_w_string(&w, 0, "g", 1);
	vs_arena a;
	vs_arena_init(&a, 4096); /* the broker's hard cap */
	vs_rbuf r;
	vs_rbuf_init(&r, w.buf, w.len);
	vs_request req;
	cr_assert_eq(vs_request_decode(VS_API_DELETE_GROUPS, 0, &r, &a, &req), KE_INVALID_REQUEST);
	cr_assert_leq(a.used, 4096);
	vs_arena_free(&a);
	vs_wbuf_free(&w);
}

/* ---- encoder failures --------------------------------------------------------- */

Test(kmsg, oversized_string_fails_the_encode)
{
	static char big[40000];
	memset(big, 'g', sizeof big);
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	vs_delete_groups_result res = { { (const uint8_t *)big, sizeof big }, 0 };
	resp.delete_groups.results.v = &res;
	resp.delete_groups.results.n = 1;
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_DELETE_GROUPS, 1, 1, &resp), KE_UNKNOWN_SERVER_ERROR);
	cr_assert_neq(w.err, 0);
	vs_wbuf_free(&w);
}

Test(kmsg, count_with_no_elements_fails_the_encode)
{
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.delete_groups.results.n = 2; /* v left NULL */
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_DELETE_GROUPS, 1, 1, &resp), KE_UNKNOWN_SERVER_ERROR);
	vs_wbuf_free(&w);
}

Test(kmsg, encode_appends_to_what_the_writer_holds)
{
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_HEARTBEAT, 0, 1, &resp), KE_NONE);
	cr_assert_eq(vs_response_encode(&w, VS_API_HEARTBEAT, 0, 2, &resp), KE_NONE);
	/* two frames back to back, each with its own size */
	kt_assert_frame_hex(&w, "00000006 00000001 0000 | 00000006 00000002 0000");
	vs_wbuf_free(&w);
}
