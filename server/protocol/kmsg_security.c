/* SPDX-License-Identifier: MIT */
/*
 * kmsg_security.c -- the walkers (kio.h) of the authentication and ACL
 * APIs: SaslHandshake, SaslAuthenticate, DescribeAcls, CreateAcls and
 * DeleteAcls. As in kmsg_data.c, version tests follow the JSON schemas
 * literally. SASL tokens are opaque bytes here.
 */
#include "kio.h"

/* Kafka's PatternType LITERAL: what v0 of the ACL APIs always meant. */
#define PATTERN_LITERAL 3

/* ---- SaslHandshake ------------------------------------------------------ */

void vs_walk_sasl_handshake_request(vs_io *io, vs_sasl_handshake_request *m)
{
	vs_io_str(io, &m->mechanism);
	vs_io_tags(io);
}

void vs_walk_sasl_handshake_response(vs_io *io, vs_sasl_handshake_response *m)
{
	vs_io_i16(io, &m->error_code);
	VS_IO_ARRAY(io, m->mechanisms, VS_MIN_VAR, false, vs_io_str);
	vs_io_tags(io);
}

/* ---- SaslAuthenticate --------------------------------------------------- */

void vs_walk_sasl_authenticate_request(vs_io *io, vs_sasl_authenticate_request *m)
{
	vs_io_bytes(io, &m->auth_bytes);
	vs_io_tags(io);
}

void vs_walk_sasl_authenticate_response(vs_io *io, vs_sasl_authenticate_response *m)
{
	vs_io_i16(io, &m->error_code);
	vs_io_nstr(io, &m->error_message);
	vs_io_bytes(io, &m->auth_bytes);
	if (io->version >= 1)
		vs_io_i64(io, &m->session_lifetime_ms);
	vs_io_tags(io);
}

/* ---- DescribeAcls ------------------------------------------------------- */

void vs_walk_describe_acls_request(vs_io *io, vs_describe_acls_request *m)
{
	vs_io_i8(io, &m->resource_type_filter);
	vs_io_nstr(io, &m->resource_name_filter);
	if (io->version >= 1)
		vs_io_i8(io, &m->pattern_type_filter);
	else
		VS_IO_DEFAULT(io, m->pattern_type_filter, PATTERN_LITERAL);
	vs_io_nstr(io, &m->principal_filter);
	vs_io_nstr(io, &m->host_filter);
	vs_io_i8(io, &m->operation);
	vs_io_i8(io, &m->permission_type);
	vs_io_tags(io);
}

static void walk_acl_description(vs_io *io, vs_acl_description *a)
{
	vs_io_str(io, &a->principal);
	vs_io_str(io, &a->host);
	vs_io_i8(io, &a->operation);
	vs_io_i8(io, &a->permission_type);
	vs_io_tags(io);
}

static void walk_describe_acls_resource(vs_io *io, vs_describe_acls_resource *r)
{
	vs_io_i8(io, &r->resource_type);
	vs_io_str(io, &r->resource_name);
	if (io->version >= 1)
		vs_io_i8(io, &r->pattern_type);
	else
		VS_IO_DEFAULT(io, r->pattern_type, PATTERN_LITERAL);
	VS_IO_ARRAY(io, r->acls, 1 + 1 + 2 * VS_MIN_VAR, false, walk_acl_description);
	vs_io_tags(io);
}

void vs_walk_describe_acls_response(vs_io *io, vs_describe_acls_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	vs_io_nstr(io, &m->error_message);
	VS_IO_ARRAY(io, m->resources, 1 + 2 * VS_MIN_VAR, false, walk_describe_acls_resource);
	vs_io_tags(io);
}

/* ---- CreateAcls --------------------------------------------------------- */

static void walk_acl_creation(vs_io *io, vs_acl_creation *c)
{
	vs_io_i8(io, &c->resource_type);
	vs_io_str(io, &c->resource_name);
	if (io->version >= 1)
		vs_io_i8(io, &c->resource_pattern_type);
	else
		VS_IO_DEFAULT(io, c->resource_pattern_type, PATTERN_LITERAL);
	vs_io_str(io, &c->principal);
	vs_io_str(io, &c->host);
	vs_io_i8(io, &c->operation);
	vs_io_i8(io, &c->permission_type);
	vs_io_tags(io);
}

void vs_walk_create_acls_request(vs_io *io, vs_create_acls_request *m)
{
	VS_IO_ARRAY(io, m->creations, 1 + 1 + 1 + 3 * VS_MIN_VAR, false, walk_acl_creation);
	vs_io_tags(io);
}

static void walk_acl_creation_result(vs_io *io, vs_acl_creation_result *r)
{
	vs_io_i16(io, &r->error_code);
	vs_io_nstr(io, &r->error_message);
	vs_io_tags(io);
}

void vs_walk_create_acls_response(vs_io *io, vs_create_acls_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->results, 2 + VS_MIN_VAR, false, walk_acl_creation_result);
	vs_io_tags(io);
}

/* ---- DeleteAcls --------------------------------------------------------- */

static void walk_delete_acls_filter(vs_io *io, vs_delete_acls_filter *f)
{
	vs_io_i8(io, &f->resource_type_filter);
	vs_io_nstr(io, &f->resource_name_filter);
	if (io->version >= 1)
		vs_io_i8(io, &f->pattern_type_filter);
	else
		VS_IO_DEFAULT(io, f->pattern_type_filter, PATTERN_LITERAL);
	vs_io_nstr(io, &f->principal_filter);
	vs_io_nstr(io, &f->host_filter);
	vs_io_i8(io, &f->operation);
	vs_io_i8(io, &f->permission_type);
	vs_io_tags(io);
}

void vs_walk_delete_acls_request(vs_io *io, vs_delete_acls_request *m)
{
	VS_IO_ARRAY(io, m->filters, 1 + 1 + 1 + 3 * VS_MIN_VAR, false, walk_delete_acls_filter);
	vs_io_tags(io);
}

static void walk_delete_acls_matching_acl(vs_io *io, vs_delete_acls_matching_acl *a)
{
	vs_io_i16(io, &a->error_code);
	vs_io_nstr(io, &a->error_message);
	vs_io_i8(io, &a->resource_type);
	vs_io_str(io, &a->resource_name);
	if (io->version >= 1)
		vs_io_i8(io, &a->pattern_type);
	else
		VS_IO_DEFAULT(io, a->pattern_type, PATTERN_LITERAL);
	vs_io_str(io, &a->principal);
	vs_io_str(io, &a->host);
	vs_io_i8(io, &a->operation);
	vs_io_i8(io, &a->permission_type);
	vs_io_tags(io);
}

static void walk_delete_acls_filter_result(vs_io *io, vs_delete_acls_filter_result *r)
{
	vs_io_i16(io, &r->error_code);
	vs_io_nstr(io, &r->error_message);
	VS_IO_ARRAY(io, r->matching_acls, 2 + 1 + 1 + 1 + 4 * VS_MIN_VAR, false,
		    walk_delete_acls_matching_acl);
	vs_io_tags(io);
}

void vs_walk_delete_acls_response(vs_io *io, vs_delete_acls_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->filter_results, 2 + 2 * VS_MIN_VAR, false, walk_delete_acls_filter_result);
	vs_io_tags(io);
}
