/* SPDX-License-Identifier: MIT */
/*
 * conns.c -- the per-connection records (see conns.h): a map from
 * connection id to a reference-counted record. A record starts
 * authenticated on listeners without SASL (its principal from the client's
 * certificate on TLS listeners, ANONYMOUS otherwise) and unauthenticated on
 * SASL listeners, where h_sasl.c moves it along.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

void vs_conns_init(vs_conns *t)
{
	vs_map_init(&t->map);
	t->open = 0;
}

static void state_free(vs_conn_state *cs)
{
	vs_sasl_free(cs->sasl);
	free(cs->principal_buf);
	free(cs);
}

void vs_conns_free(vs_conns *t)
{
	for (size_t i = 0; i < t->map.cap; i++) {
		vs_map_slot *s = &t->map.slots[i];
		if (!s->used)
			continue;
		vs_conn_state *cs = s->val.ptr;
		cs->closed = true;
		vs_conn_state_unref(cs);
	}
	vs_map_free(&t->map);
	t->open = 0;
}

vs_conn_state *vs_conn_state_get(vs_broker *b, vs_conn_id id)
{
	vs_map_val *v = vs_map_get(&b->conns.map, vs_key_u64(id));
	return v ? v->ptr : NULL;
}

static int set_principal(vs_conn_state *cs, const char *kind, const char *name)
{
	/* set once: calls hold the pointer (conns.h) */
	if (cs->principal_buf)
		return -1;
	size_t n = strlen(kind) + strlen(name) + 1;
	char *p = malloc(n);
	if (!p)
		return -1;
	snprintf(p, n, "%s%s", kind, name);
	cs->principal_buf = p;
	cs->principal = p;
	return 0;
}

int vs_conn_state_set_user(vs_conn_state *cs, const char *name)
{
	return set_principal(cs, "User:", name);
}

vs_conn_state *vs_conn_state_open(vs_broker *b, const vs_conn_info *ci)
{
	vs_conn_state *cs = vs_conn_state_get(b, ci->id);
	if (cs)
		return cs;
	cs = calloc(1, sizeof *cs);
	if (!cs)
		return NULL;
	cs->id = ci->id;
	cs->listener = ci->listener;
	const vs_endpoint *ep = vs_endpoint_of(b, ci->listener);
	cs->security = ep ? ep->security : VS_SECURITY_PLAINTEXT;
	bool sasl = cs->security == VS_SECURITY_SASL_PLAINTEXT || cs->security == VS_SECURITY_SASL_SSL;
	cs->auth = sasl ? VS_AUTH_NONE : VS_AUTH_OK;
	cs->principal = VS_PRINCIPAL_ANONYMOUS;
	/* mutual TLS without SASL: the certificate names the client */
	if (!sasl && ci->tls_subject && vs_conn_state_set_user(cs, ci->tls_subject)) {
		free(cs);
		return NULL;
	}
	int created;
	vs_map_val *v = vs_map_put(&b->conns.map, vs_key_u64(ci->id), &created);
	if (!v) {
		state_free(cs);
		return NULL;
	}
	v->ptr = cs;
	cs->refs = 1;
	b->conns.open++;
	if (cs->principal_buf)
		vs_blog(b, VARVE_LOG_INFO, "%s: client certificate: %s", ci->peer, cs->principal);
	return cs;
}

void vs_conn_state_closed(vs_broker *b, vs_conn_id id)
{
	vs_conn_state *cs = vs_conn_state_get(b, id);
	if (!cs)
		return;
	vs_map_del(&b->conns.map, vs_key_u64(id));
	b->conns.open--;
	cs->closed = true;
	/* an exchange cut short: its secrets go now, unless a worker holds it
	 * (then with the last reference) */
	if (!cs->sasl_busy) {
		vs_sasl_free(cs->sasl);
		cs->sasl = NULL;
	}
	vs_conn_state_unref(cs);
}

void vs_conn_state_ref(vs_conn_state *cs) { cs->refs++; }

void vs_conn_state_unref(vs_conn_state *cs)
{
	if (--cs->refs == 0)
		state_free(cs);
}
