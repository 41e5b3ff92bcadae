/* SPDX-License-Identifier: MIT */
/*
 * conns.h -- what the broker keeps per connection, keyed by vs_conn_id: the
 * listener it came in on, its authentication state and principal, and the
 * per-connection fields of other modules (each adds its own members at the
 * end of vs_conn_state, with a comment).
 *
 * Lifetime. The record is made at the connection's first request
 * (vs_conn_state_open, from on_request) and leaves the table in on_close.
 * Calls hold a reference (vs_call.cs), so a call answered after its
 * connection closed (a worker's, a long poll's) still reads a valid record
 * and principal; the record is freed with its last reference. Loop thread
 * only.
 */
#ifndef VS_BROKER_CONNS_H
#define VS_BROKER_CONNS_H

#include <stdbool.h>
#include <stdint.h>

#include "net/loop.h"
#include "net/map.h"

typedef struct vs_broker vs_broker;
typedef struct vs_sasl vs_sasl;

/* Where a connection is in authentication (SASL listeners). */
enum vs_auth_state {
	VS_AUTH_NONE = 0,   /* nothing yet: ApiVersions or SaslHandshake only */
	VS_AUTH_TOKENS,     /* SaslHandshake v1 done: SaslAuthenticate requests */
	VS_AUTH_RAW,        /* SaslHandshake v0 done: raw tokens, no request header */
	VS_AUTH_OK,         /* authenticated (or a listener without SASL) */
	VS_AUTH_FAILED      /* answered with an error; closing after the answer */
};

typedef struct vs_conn_state {
	vs_conn_id id;
	int listener;         /* the loop's listener index */
	int security;         /* VS_SECURITY_* of that listener (broker.h) */
	uint32_t refs;        /* the table's (while open) + one per call */
	bool closed;
	/* authentication (h_sasl.c) */
	uint8_t auth;         /* enum vs_auth_state */
	vs_sasl *sasl;        /* the exchange in progress, or NULL */
	bool sasl_busy;       /* a worker runs a step of sasl (PLAIN): only the
			       * worker touches it until the step is done */
	const char *principal; /* "User:NAME"; points at principal_buf or a constant */
	char *principal_buf;  /* malloc'd when not a constant */
	/* Other modules add their fields below this line, each with a comment. */
} vs_conn_state;

typedef struct vs_conns {
	vs_map map; /* vs_conn_id -> vs_conn_state* */
	uint64_t open;
} vs_conns;

#define VS_PRINCIPAL_ANONYMOUS "User:ANONYMOUS"

void vs_conns_init(vs_conns *t);
/* Drop the table's references (the broker is freed). */
void vs_conns_free(vs_conns *t);

/* The record of an open connection, or NULL (never seen, or closed). */
vs_conn_state *vs_conn_state_get(vs_broker *b, vs_conn_id id);
/* The record of ci's connection, made on its first request; NULL when out
 * of memory. (broker.c's on_request) */
vs_conn_state *vs_conn_state_open(vs_broker *b, const vs_conn_info *ci);
/* The connection closed: out of the table; freed when unreferenced. */
void vs_conn_state_closed(vs_broker *b, vs_conn_id id);
void vs_conn_state_ref(vs_conn_state *cs);
void vs_conn_state_unref(vs_conn_state *cs);
/* Set the principal to "User:" + name, once per connection (a certificate's
 * subject at the first request, or the SASL user at authentication; calls
 * keep the pointer until they are freed, so it never changes after):
 * 0, or -1 if already set or out of memory (unchanged). */
int vs_conn_state_set_user(vs_conn_state *cs, const char *name);

#endif
