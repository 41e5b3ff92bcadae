/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/kmsg_security.c: SaslHandshake, SaslAuthenticate,
 * DescribeAcls, CreateAcls and DeleteAcls.
 *   - golden vectors: kcat's SASL/PLAIN login, kafka-python's handshake,
 *     the ACL calls of librdkafka's admin API and of kafka-python;
 *   - round trips at every version, with the v0 default pattern type
 *     (LITERAL, 3);
 *   - byte images of the SaslHandshake v1 and SaslAuthenticate v1 answers.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "kt_util.h"

TestSuite(golden_security, .timeout = 30);
TestSuite(roundtrip_security, .timeout = 30);
TestSuite(image_security, .timeout = 30);

/* Kafka's AclOperation, AclPermissionType, ResourceType, PatternType */
enum { ANY = 1, READ = 3, WRITE = 4, ALLOW = 3, TOPIC = 2, LITERAL = 3 };

Test(golden_security, sasl_plain_login)
{
	kt_req k;
	kt_req_load(&k, "kcat-sasl-SaslHandshake-v1", VS_API_SASL_HANDSHAKE, 1);
	cr_assert(kt_is(k.req.sasl_handshake.mechanism, "PLAIN"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kcat-sasl-SaslAuthenticate-v0", VS_API_SASL_AUTHENTICATE, 0);
	vs_slice t = k.req.sasl_authenticate.auth_bytes;
	cr_assert_eq(t.len, 13);
	cr_assert_eq(memcmp(t.ptr, "\0alice\0secret", 13), 0, "authzid NUL user NUL password");
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	/* kafka-python: handshake v0, then raw tokens outside Kafka framing */
	kt_req_load(&k, "kp-sasl-SaslHandshake-v0", VS_API_SASL_HANDSHAKE, 0);
	cr_assert(kt_is(k.req.sasl_handshake.mechanism, "PLAIN"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_security, librdkafka_acls)
{
	kt_req k;
	kt_req_load(&k, "rdk-admin-CreateAcls-v1", VS_API_CREATE_ACLS, 1);
	cr_assert_eq(k.req.create_acls.creations.n, 1);
	const vs_acl_creation *c = &k.req.create_acls.creations.v[0];
	cr_assert_eq(c->resource_type, TOPIC);
	cr_assert(kt_is(c->resource_name, "cap"));
	cr_assert_eq(c->resource_pattern_type, LITERAL);
	cr_assert(kt_is(c->principal, "User:alice"));
	cr_assert(kt_is(c->host, "*"));
	cr_assert_eq(c->operation, READ);
	cr_assert_eq(c->permission_type, ALLOW);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "rdk-admin-DescribeAcls-v1", VS_API_DESCRIBE_ACLS, 1);
	const vs_describe_acls_request *d = &k.req.describe_acls;
	cr_assert_eq(d->resource_type_filter, ANY);
	cr_assert_null(d->resource_name_filter.ptr);
	cr_assert_eq(d->pattern_type_filter, ANY);
	cr_assert_null(d->principal_filter.ptr);
	cr_assert_null(d->host_filter.ptr);
	cr_assert_eq(d->operation, ANY);
	cr_assert_eq(d->permission_type, ANY);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "rdk-admin-DeleteAcls-v1", VS_API_DELETE_ACLS, 1);
	cr_assert_eq(k.req.delete_acls.filters.n, 1);
	cr_assert_eq(k.req.delete_acls.filters.v[0].pattern_type_filter, ANY);
	cr_assert_null(k.req.delete_acls.filters.v[0].principal_filter.ptr);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(golden_security, kafka_python_acls)
{
	kt_req k;
	kt_req_load(&k, "kp-admin-CreateAcls-v1", VS_API_CREATE_ACLS, 1);
	const vs_acl_creation *c = &k.req.create_acls.creations.v[0];
	cr_assert(kt_is(c->principal, "User:bob"));
	cr_assert_eq(c->operation, WRITE);
	cr_assert_eq(c->permission_type, ALLOW);
	cr_assert_eq(c->resource_pattern_type, LITERAL);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-DescribeAcls-v1", VS_API_DESCRIBE_ACLS, 1);
	const vs_describe_acls_request *d = &k.req.describe_acls;
	cr_assert_eq(d->resource_type_filter, TOPIC);
	cr_assert(kt_is(d->resource_name_filter, "cap"));
	cr_assert(kt_is(d->principal_filter, "User:bob"));
	cr_assert_null(d->host_filter.ptr);
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);

	kt_req_load(&k, "kp-admin-DeleteAcls-v1", VS_API_DELETE_ACLS, 1);
	cr_assert(kt_is(k.req.delete_acls.filters.v[0].resource_name_filter, "cap"));
	kt_req_assert_reencodes(&k);
	kt_req_free(&k);
}

Test(roundtrip_security, sasl_every_version)
{
	vs_slice mechs[2] = { kt_s("PLAIN"), kt_s("SCRAM-SHA-256") };
	static const uint8_t tok[] = { 0, 'u', 0, 'p' };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 1; v++) {
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.sasl_handshake = (vs_sasl_handshake_request){ kt_s("PLAIN") };
		resp.sasl_handshake = (vs_sasl_handshake_response){ 0, { mechs, 2 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_SASL_HANDSHAKE, v, &req, &a, &rq);
		kt_response_roundtrip(VS_API_SASL_HANDSHAKE, v, &resp, &a, &rs);
		cr_assert(kt_is(rs.sasl_handshake.mechanisms.v[1], "SCRAM-SHA-256"));

		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.sasl_authenticate = (vs_sasl_authenticate_request){ { tok, sizeof tok } };
		resp.sasl_authenticate =
			(vs_sasl_authenticate_response){ KE_SASL_AUTHENTICATION_FAILED, kt_s("bad"), { tok, 0 }, 3600000 };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_SASL_AUTHENTICATE, v, &req, &a, &rq);
		cr_assert_eq(rq.sasl_authenticate.auth_bytes.len, sizeof tok);
		kt_response_roundtrip(VS_API_SASL_AUTHENTICATE, v, &resp, &a, &rs);
		cr_assert(kt_is(rs.sasl_authenticate.error_message, "bad"));
		cr_assert_eq(rs.sasl_authenticate.session_lifetime_ms, v >= 1 ? 3600000 : 0);
	}
	vs_arena_free(&a);
}

Test(roundtrip_security, acls_every_version)
{
	vs_acl_creation cr[1] = { { TOPIC, kt_s("t"), 4 /* PREFIXED */, kt_s("User:x"), kt_s("*"), READ, ALLOW } };
	vs_acl_creation_result crr[1] = { { 0, VS_SLICE_NULL } };
	vs_acl_description ad[1] = { { kt_s("User:x"), kt_s("*"), READ, ALLOW } };
	vs_describe_acls_resource dres[1] = { { TOPIC, kt_s("t"), 4, { ad, 1 } } };
	vs_delete_acls_filter df[1] = { { TOPIC, kt_s("t"), 4, VS_SLICE_NULL, kt_s("*"), ANY, ANY } };
	vs_delete_acls_matching_acl dm[1] = { { 0, VS_SLICE_NULL, TOPIC, kt_s("t"), 4, kt_s("User:x"), kt_s("*"), READ, ALLOW } };
	vs_delete_acls_filter_result dfr[1] = { { 0, VS_SLICE_NULL, { dm, 1 } } };
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	vs_request req, rq;
	vs_response resp, rs;
	for (int16_t v = 0; v <= 1; v++) {
		int8_t pattern = v >= 1 ? 4 : LITERAL; /* v0 knows literal names only */
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.create_acls = (vs_create_acls_request){ { cr, 1 } };
		resp.create_acls = (vs_create_acls_response){ 0, { crr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_CREATE_ACLS, v, &req, &a, &rq);
		cr_assert_eq(rq.create_acls.creations.v[0].resource_pattern_type, pattern);
		kt_response_roundtrip(VS_API_CREATE_ACLS, v, &resp, &a, &rs);

		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.describe_acls = (vs_describe_acls_request){ TOPIC, kt_s("t"), 4, kt_s("User:x"), VS_SLICE_NULL, ANY, ANY };
		resp.describe_acls = (vs_describe_acls_response){ 0, 0, VS_SLICE_NULL, { dres, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_DESCRIBE_ACLS, v, &req, &a, &rq);
		cr_assert_eq(rq.describe_acls.pattern_type_filter, pattern);
		cr_assert_null(rq.describe_acls.host_filter.ptr);
		kt_response_roundtrip(VS_API_DESCRIBE_ACLS, v, &resp, &a, &rs);
		cr_assert_eq(rs.describe_acls.resources.v[0].pattern_type, pattern);
		cr_assert(kt_is(rs.describe_acls.resources.v[0].acls.v[0].principal, "User:x"));

		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		req.delete_acls = (vs_delete_acls_request){ { df, 1 } };
		resp.delete_acls = (vs_delete_acls_response){ 0, { dfr, 1 } };
		vs_arena_reset(&a);
		kt_request_roundtrip(VS_API_DELETE_ACLS, v, &req, &a, &rq);
		cr_assert_eq(rq.delete_acls.filters.v[0].pattern_type_filter, pattern);
		kt_response_roundtrip(VS_API_DELETE_ACLS, v, &resp, &a, &rs);
		cr_assert_eq(rs.delete_acls.filter_results.v[0].matching_acls.v[0].pattern_type, pattern);
	}
	vs_arena_free(&a);
}

Test(image_security, sasl_handshake_v1)
{
	vs_slice mechs[1] = { kt_s("PLAIN") };
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.sasl_handshake = (vs_sasl_handshake_response){ 0, { mechs, 1 } };
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_SASL_HANDSHAKE, 1, 2, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000011 00000002 0000 00000001 0005 504c41494e");
	vs_wbuf_free(&w);
}

Test(image_security, sasl_authenticate_v1)
{
	vs_response resp;
	memset(&resp, 0, sizeof resp);
	resp.sasl_authenticate = (vs_sasl_authenticate_response){ 0, VS_SLICE_NULL, kt_s(""), 60000 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_response_encode(&w, VS_API_SASL_AUTHENTICATE, 1, 3, &resp), KE_NONE);
	kt_assert_frame_hex(&w, "00000014 00000003"
				"0000 ffff"           /* error_code, error_message null */
				"00000000"            /* auth_bytes: empty */
				"000000000000ea60");  /* session_lifetime_ms 60000 (v1+) */
	vs_wbuf_free(&w);
}
