/* SPDX-License-Identifier: MIT */
/*
 * h_sasl.c -- the security of Kafka listeners (docs/SECURITY.md):
 * SaslHandshake and SaslAuthenticate, raw tokens after SaslHandshake v0,
 * the gate that keeps unauthenticated clients to those APIs, the users
 * file, reloading certificates and users (SIGHUP), and which listener
 * advertises what.
 *
 * A connection on a SASL listener goes (conns.h) NONE -> SaslHandshake ->
 * TOKENS (v1: tokens in SaslAuthenticate requests) or RAW (v0: tokens as
 * bare frames, answered as bare frames, as kafka-python sends them) -> OK
 * with the principal "User:NAME", or FAILED. A failure is answered with
 * Kafka's error (SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM,
 * ILLEGAL_SASL_STATE) and the connection closes after the answer, as Kafka
 * does; a raw token is a SaslAuthenticate call without a header
 * (broker.c), answered bare, and one that fails closes the connection at
 * once (v0 has no error frame).
 *
 * The users file is checked for changes (a stat) at every SaslHandshake,
 * so `varve user add` beside a running server takes effect for the next
 * authentication; established connections keep their principal.
 * SCRAM steps run on the loop thread (a few hashes, microseconds); a PLAIN
 * check costs the credential's PBKDF2 rounds (milliseconds), so it runs on
 * a worker (plain_step) and the loop goes on meanwhile.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "broker_int.h"
#include "prom.h"
#include "security/users.h"

static const uint8_t nothing[1];
#define EMPTY ((vs_slice){ nothing, 0 })

/* ---- listeners ------------------------------------------------------------------ */

static const char *const security_names[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" };

const char *vs_security_name(int security)
{
	return security >= 0 && security <= VS_SECURITY_SASL_SSL ? security_names[security] : NULL;
}

int vs_security_by_name(const char *name, size_t len)
{
	for (int i = 0; i <= VS_SECURITY_SASL_SSL; i++)
		if (strlen(security_names[i]) == len && strncasecmp(security_names[i], name, len) == 0)
			return i;
	return -1;
}

const vs_endpoint *vs_endpoint_of(const vs_broker *b, int listener)
{
	for (size_t i = 0; i < b->n_endpoints; i++)
		if (b->endpoints[i].listener == listener)
			return &b->endpoints[i];
	return NULL;
}

void vs_call_advertised(const vs_call *c, const char **host, int32_t *port)
{
	const vs_endpoint *ep = c->cs ? vs_endpoint_of(c->b, c->cs->listener) : NULL;
	if (ep && ep->advertised) {
		*host = ep->host;
		*port = ep->port;
	} else {
		*host = c->b->host;
		*port = c->b->port;
	}
}

const char *vs_advertised_listeners(const vs_broker *b, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = 0;
	if (!b->n_endpoints) {
		snprintf(out, cap, "PLAINTEXT://%s:%" PRId32, b->host, b->port);
		return out;
	}
	for (size_t i = 0; i < b->n_endpoints; i++) {
		const vs_endpoint *ep = &b->endpoints[i];
		const char *host = ep->advertised ? ep->host : b->host;
		int32_t port = ep->advertised ? ep->port : b->port;
		int k = snprintf(out + o, cap - o, "%s%s://%s:%" PRId32, o ? "," : "",
				 vs_security_name(ep->security), host, port);
		if (k < 0 || (size_t)k >= cap - o) {
			out[o] = 0; /* whole entries only */
			break;
		}
		o += (size_t)k;
	}
	return out;
}

static bool is_sasl(int security)
{
	return security == VS_SECURITY_SASL_PLAINTEXT || security == VS_SECURITY_SASL_SSL;
}

static bool is_sasl_api(int16_t key)
{
	return key == VS_API_SASL_HANDSHAKE || key == VS_API_SASL_AUTHENTICATE;
}

/* The mechanisms a listener offers: PLAIN sends the password itself, so
 * only over TLS unless the operator insists. */
static unsigned offered(const vs_broker *b, const vs_conn_state *cs)
{
	unsigned set = b->cfg.sasl_mechanisms ? b->cfg.sasl_mechanisms : VS_SASL_DEFAULT_MECHANISMS;
	if (cs->security != VS_SECURITY_SASL_SSL && !b->cfg.allow_plain_without_tls)
		set &= ~(unsigned)VS_SASL_PLAIN;
	return set;
}

int vs_api_offered(const vs_call *c, int16_t key)
{
	if (is_sasl_api(key))
		return c->cs && is_sasl(c->cs->security);
	return vs_api_implemented(key);
}

/* ---- the gate ------------------------------------------------------------------- */

int vs_auth_allows(const vs_conn_state *cs, int16_t key)
{
	switch (cs->auth) {
	case VS_AUTH_OK:
		return 1;
	case VS_AUTH_NONE:
		return key == VS_API_API_VERSIONS || key == VS_API_SASL_HANDSHAKE;
	case VS_AUTH_TOKENS:
		return key == VS_API_SASL_AUTHENTICATE;
	default:
		return 0;
	}
}

/* The session goes, unless a worker is running a step of it (then
 * plain_done, or the record's last reference, frees it). */
static void drop_sasl(vs_conn_state *cs)
{
	if (cs->sasl_busy)
		return;
	vs_sasl_free(cs->sasl);
	cs->sasl = NULL;
}

/* The connection failed to authenticate (an exchange that failed, or a
 * request out of turn: counted apart): it ends after this answer. */
static void auth_failed(vs_broker *b, vs_conn_state *cs, const char *peer, const char *why,
			bool out_of_turn)
{
	/* why may be the session's own text: logged before the session goes */
	vs_blog(b, VARVE_LOG_INFO, "%s: authentication failed: %s", peer, why);
	cs->auth = VS_AUTH_FAILED;
	drop_sasl(cs);
	if (out_of_turn)
		b->auth_refused++;
	else
		b->auth_failed++;
	vs_loop_close_after_flush(b->loop, cs->id);
}

static void auth_done(vs_broker *b, vs_conn_state *cs, const char *peer)
{
	const char *mech = vs_sasl_mech_name(vs_sasl_mechanism(cs->sasl));
	if (vs_conn_state_set_user(cs, vs_sasl_user(cs->sasl))) {
		auth_failed(b, cs, peer, "out of memory", false);
		return;
	}
	cs->auth = VS_AUTH_OK;
	drop_sasl(cs);
	b->auth_ok++;
	vs_blog(b, VARVE_LOG_INFO, "%s: authenticated as %s (%s)", peer, cs->principal, mech);
}

void vs_auth_refuse(vs_call *c)
{
	vs_broker *b = c->b;
	char why[96];
	snprintf(why, sizeof why, "API %d before authentication", c->key);
	auth_failed(b, c->cs, c->peer, why, true);
	vs_call_fail(c, KE_ILLEGAL_SASL_STATE);
}

/* ---- SaslHandshake -------------------------------------------------------------- */

static void refresh_users(vs_broker *b)
{
	if (!b->users)
		return;
	/* a small file read under the lock: a worker checking a PLAIN password
	 * waits for it at most that long, and the loop never waits for more
	 * than a worker's copy of one credential */
	pthread_mutex_lock(&b->users_lock);
	if (vs_users_file_refresh(b->users) < 0)
		vs_blog(b, VARVE_LOG_WARN, "users file not re-read (the previous users stay): %s",
			b->users->error);
	pthread_mutex_unlock(&b->users_lock);
}

static int h_sasl_handshake(vs_call *c)
{
	vs_broker *b = c->b;
	vs_conn_state *cs = c->cs;
	vs_sasl_handshake_response *r = &c->resp.sasl_handshake;
	const char *names[3];
	size_t n = vs_sasl_mechanism_names(offered(b, cs), names, 3);
	vs_slice *list = vs_call_alloc(c, n ? n : 1, sizeof *list);
	if (!list)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++)
		list[i] = (vs_slice){ (const uint8_t *)names[i], strlen(names[i]) };
	r->mechanisms.v = list;
	r->mechanisms.n = (int32_t)n;
	if (cs->auth != VS_AUTH_NONE) {
		/* a second handshake: no re-authentication (session lifetime 0) */
		r->error_code = KE_ILLEGAL_SASL_STATE;
		if (cs->auth != VS_AUTH_OK)
			auth_failed(b, cs, c->peer, "SaslHandshake out of turn", true);
		return VS_REPLY;
	}
	vs_slice want = c->req.sasl_handshake.mechanism;
	unsigned mech = want.ptr ? vs_sasl_mech_by_name((const char *)want.ptr, want.len) : 0;
	if (!(mech & offered(b, cs))) {
		r->error_code = KE_UNSUPPORTED_SASL_MECHANISM;
		auth_failed(b, cs, c->peer, "mechanism not offered on this listener", false);
		return VS_REPLY;
	}
	refresh_users(b);
	cs->sasl = vs_sasl_new(mech, &b->sasl_env);
	if (!cs->sasl)
		return VS_CLOSE;
	/* v0: the tokens follow as bare frames (no SaslAuthenticate) */
	cs->auth = c->version == 0 ? VS_AUTH_RAW : VS_AUTH_TOKENS;
	return VS_REPLY;
}

/* ---- SaslAuthenticate and raw tokens ------------------------------------------------ */

/* The answer to a step that returned st with out[0..n): the response,
 * the connection's state, and for a raw token (c->raw_sasl) the same
 * fields, which vs_call_reply sends bare or turns into the end. */
static int step_done(vs_call *c, int st, const uint8_t *out, size_t n)
{
	vs_broker *b = c->b;
	vs_conn_state *cs = c->cs;
	vs_sasl_authenticate_response *r = &c->resp.sasl_authenticate;
	const char *mech = vs_sasl_mech_name(vs_sasl_mechanism(cs->sasl));
	if (st == VS_SASL_FAILED) {
		/* the client learns only that it failed; the log says why */
		r->error_code = KE_SASL_AUTHENTICATION_FAILED;
		r->error_message = vs_call_printf(c, "Authentication failed during authentication due "
						  "to invalid credentials with SASL mechanism %s", mech);
		auth_failed(b, cs, c->peer, vs_sasl_reason(cs->sasl), false);
		return VS_REPLY;
	}
	r->auth_bytes = vs_call_slice(c, (vs_slice){ out, n });
	if (!r->auth_bytes.ptr)
		return VS_CLOSE;
	if (st == VS_SASL_DONE)
		auth_done(b, cs, c->peer);
	return VS_REPLY;
}

/* PLAIN costs the credential's PBKDF2 rounds (milliseconds): a worker runs
 * the step, so the loop never waits for it. The session belongs to the
 * worker until plain_done (cs->sasl_busy). */
typedef struct plain_step {
	vs_slice token; /* in the call's arena */
	int st;
	size_t n;
	uint8_t out[VS_SASL_MAX_OUT];
} plain_step;

static void plain_run(vs_call *c)
{
	plain_step *j = c->state;
	j->st = vs_sasl_step(c->cs->sasl, j->token.ptr, j->token.len, j->out, sizeof j->out, &j->n);
}

static void plain_done(vs_call *c)
{
	plain_step *j = c->state;
	vs_conn_state *cs = c->cs;
	cs->sasl_busy = false;
	int rc;
	if (cs->closed || cs->auth == VS_AUTH_FAILED) {
		/* the connection went, or broke the rules meanwhile */
		vs_sasl_free(cs->sasl);
		cs->sasl = NULL;
		c->resp.sasl_authenticate.error_code = KE_SASL_AUTHENTICATION_FAILED;
		rc = VS_REPLY;
	} else {
		rc = step_done(c, j->st, j->out, j->n);
	}
	if (rc == VS_REPLY)
		vs_call_reply(c);
	else
		vs_call_fail(c, KE_SASL_AUTHENTICATION_FAILED);
}

static int plain_submit(vs_call *c, vs_slice in)
{
	plain_step *j = vs_call_alloc(c, 1, sizeof *j);
	if (!j)
		return VS_CLOSE;
	j->token = vs_call_slice(c, in);
	if (!j->token.ptr)
		return VS_CLOSE;
	c->state = j;
	c->cs->sasl_busy = true;
	if (vs_call_submit(c, plain_run, plain_done)) {
		c->cs->sasl_busy = false;
		c->resp.sasl_authenticate.error_code = KE_SASL_AUTHENTICATION_FAILED;
		auth_failed(c->b, c->cs, c->peer, "workers busy", false);
		return VS_REPLY;
	}
	return VS_DEFER;
}

/* SaslAuthenticate, and a bare token after SaslHandshake v0 (raw_sasl). */
static int h_sasl_authenticate(vs_call *c)
{
	vs_broker *b = c->b;
	vs_conn_state *cs = c->cs;
	vs_sasl_authenticate_response *r = &c->resp.sasl_authenticate;
	r->auth_bytes = EMPTY;
	r->session_lifetime_ms = 0; /* no re-authentication asked for */
	bool in_turn = cs->auth == (c->raw_sasl ? VS_AUTH_RAW : VS_AUTH_TOKENS);
	if (!in_turn || cs->sasl_busy) {
		r->error_code = KE_ILLEGAL_SASL_STATE;
		r->error_message = vs_call_str(c, "SaslAuthenticate without a SaslHandshake v1 before it");
		if (cs->auth != VS_AUTH_OK)
			auth_failed(b, cs, c->peer, "SaslAuthenticate out of turn", true);
		return VS_REPLY;
	}
	vs_slice in = c->req.sasl_authenticate.auth_bytes;
	if (vs_sasl_mechanism(cs->sasl) == VS_SASL_PLAIN)
		return plain_submit(c, in);
	uint8_t out[VS_SASL_MAX_OUT];
	size_t n = 0;
	int st = vs_sasl_step(cs->sasl, in.ptr, in.len, out, sizeof out, &n);
	return step_done(c, st, out, n);
}

static const vs_handler sasl_handlers[] = {
	{ VS_API_SASL_HANDSHAKE, true, false, h_sasl_handshake },
	{ VS_API_SASL_AUTHENTICATE, true, false, h_sasl_authenticate },
};

const vs_handler *vs_sasl_handler(int16_t key)
{
	for (size_t i = 0; i < sizeof sasl_handlers / sizeof sasl_handlers[0]; i++)
		if (sasl_handlers[i].key == key)
			return &sasl_handlers[i];
	return NULL;
}

/* ---- users and reloading ------------------------------------------------------------- */

/* Called on the loop (SCRAM) and on workers (PLAIN): a copy under the lock,
 * since the loop may replace the users meanwhile. */
static int lookup_user(void *ctx, const char *user, size_t len, int scram_mech, vs_scram_cred *out)
{
	vs_broker *b = ctx;
	if (!b->users)
		return 0;
	pthread_mutex_lock(&b->users_lock);
	const vs_user_cred *e = vs_users_find(&b->users->users, user, len, scram_mech);
	if (e)
		*out = e->cred;
	pthread_mutex_unlock(&b->users_lock);
	return e != NULL;
}

static void on_reload_fd(void *arg)
{
	vs_broker *b = arg;
	uint64_t n;
	while (read(b->reload_fd, &n, sizeof n) == (ssize_t)sizeof n)
		;
	vs_auth_reload(b);
}

int vs_auth_start(vs_broker *b)
{
	b->reload_fd = -1;
	vs_conns_init(&b->conns);
	b->sasl_env.lookup = lookup_user;
	b->sasl_env.ctx = b;
	/* the salts shown for unknown users must not be predictable */
	if (RAND_bytes(b->sasl_env.secret, sizeof b->sasl_env.secret) != 1)
		return -EIO;
	if (pthread_mutex_init(&b->users_lock, NULL))
		return -ENOMEM;
	b->users_lock_made = true;
	if (b->cfg.users_path) {
		b->users = calloc(1, sizeof *b->users);
		if (!b->users)
			return -ENOMEM;
		int rc = vs_users_file_open(b->users, b->cfg.users_path);
		if (rc == -ENOMEM) {
			free(b->users);
			b->users = NULL;
			return rc;
		}
		if (rc)
			vs_blog(b, VARVE_LOG_WARN, "users file not read: %s", b->users->error);
	}
	if ((b->reload_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return -errno;
	return vs_loop_watch_fd(b->loop, b->reload_fd, on_reload_fd, b);
}

void vs_auth_free(vs_broker *b)
{
	vs_conns_free(&b->conns);
	if (b->users) {
		vs_users_file_close(b->users);
		free(b->users);
		b->users = NULL;
	}
	if (b->users_lock_made)
		pthread_mutex_destroy(&b->users_lock);
	b->users_lock_made = false;
	if (b->reload_fd >= 0)
		close(b->reload_fd);
	b->reload_fd = -1;
	free(b->endpoints);
	b->endpoints = NULL;
	b->n_endpoints = 0;
}

void vs_auth_reload(vs_broker *b)
{
	b->reloads++;
	for (size_t i = 0; i < b->n_endpoints; i++) {
		vs_tls *tls = b->endpoints[i].tls;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = b->endpoints[k].tls == tls;
		if (!tls || seen)
			continue;
		char err[512];
		if (vs_tls_reload(tls, err, sizeof err))
			vs_blog(b, VARVE_LOG_WARN, "TLS certificate not reloaded (the previous one stays): %s",
				err);
		else
			vs_blog(b, VARVE_LOG_INFO, "TLS certificate reloaded for new connections");
	}
	refresh_users(b);
	vs_acls_reload(b);
}

void vs_broker_reload(vs_broker *b)
{
	/* async-signal-safe: an eventfd write */
	uint64_t one = 1;
	if (b->reload_fd >= 0 && write(b->reload_fd, &one, sizeof one) < 0) {
		/* the counter is full: a reload is pending anyway */
	}
}

/* ---- metrics ---------------------------------------------------------------------------- */

static void by_result(vs_prom *p, const char *name, const char *help, uint64_t ok, uint64_t failed)
{
	vs_prom_family(p, name, "counter", help);
	vs_prom_sample(p, name);
	vs_prom_label_z(p, "result", "ok");
	vs_prom_value_u64(p, ok);
	vs_prom_sample(p, name);
	vs_prom_label_z(p, "result", "failed");
	vs_prom_value_u64(p, failed);
}

void vs_auth_metrics(vs_broker *b, vs_prom *p)
{
	by_result(p, "varve_kafka_authentications_total", "SASL authentications, by result.",
		  b->auth_ok, b->auth_failed);
	vs_prom_family(p, "varve_kafka_unauthenticated_requests_total", "counter",
		       "Requests refused before authentication or out of its turn (the connection "
		       "closed).");
	vs_prom_u64(p, "varve_kafka_unauthenticated_requests_total", b->auth_refused);
	vs_tls_stats sum = { 0 };
	bool any = false;
	for (size_t i = 0; i < b->n_endpoints; i++) {
		vs_tls *tls = b->endpoints[i].tls;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = b->endpoints[k].tls == tls;
		if (!tls || seen)
			continue;
		vs_tls_stats st;
		vs_tls_get_stats(tls, &st);
		sum.loads += st.loads;
		sum.reload_failures += st.reload_failures;
		sum.handshakes += st.handshakes;
		sum.handshake_failures += st.handshake_failures;
		any = true;
	}
	if (!any)
		return;
	by_result(p, "varve_tls_handshakes_total", "TLS handshakes, by result.", sum.handshakes,
		  sum.handshake_failures);
	by_result(p, "varve_tls_certificate_loads_total",
		  "Certificate loads (the first and each reload), by result.", sum.loads,
		  sum.reload_failures);
}
