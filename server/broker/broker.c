/* SPDX-License-Identifier: MIT */
/*
 * broker.c -- the broker's lifecycle and the path of every request (see
 * broker.h for the design, broker_int.h for the pieces):
 *
 *   frame -> the connection's record (conns.h); raw SASL tokens after a
 *            SaslHandshake v0 go to h_sasl.c without a header
 *         -> vs_request_header_parse
 *         -> unknown API or version: ApiVersions gets UNSUPPORTED_VERSION
 *            with our list (Kafka's rule, KIP-511); any other request
 *            closes the connection
 *         -> a call (arena with a hard cap; its own copy of the frame when
 *            the API may answer later) -> vs_request_decode (a request that
 *            does not decode closes the connection, as in Kafka)
 *         -> on a SASL listener before authentication, anything but
 *            ApiVersions, SaslHandshake and SaslAuthenticate is answered
 *            ILLEGAL_SASL_STATE and the connection closes (h_sasl.c)
 *         -> the handler -> vs_response_encode -> vs_loop_respond
 *
 * Everything here runs on the loop thread except the worker half of a
 * submitted call (run), which only touches its own call.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "broker_int.h"

const double vs_lat_bounds[VS_LAT_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					       0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

/* Calls kept for reuse, and the largest frame copy a kept call keeps. */
#define FREE_CALLS_KEPT 16
#define FRAME_KEPT_BYTES 65536
/* The coordinator is ticked on this grid (coord.h: rounding keeps a busy
 * coordinator from walking its groups on every deadline). */
#define COORD_TICK_MS 100

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void vs_blog(vs_broker *b, int level, const char *fmt, ...)
{
	if (!b->cfg.log_fn || (level < VARVE_LOG_WARN && !b->cfg.verbose))
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	b->cfg.log_fn(b->cfg.log_ctx, level, msg);
}

/* ---- calls -------------------------------------------------------------------- */

static vs_call *call_new(vs_broker *b, vs_conn_state *cs, const vs_conn_info *ci, uint64_t seq,
			 const vs_request_header *h, size_t len)
{
	vs_call *c = b->free_calls;
	if (c) {
		b->free_calls = c->free_next;
		b->nfree--;
	} else {
		c = calloc(1, sizeof *c);
		if (!c)
			return NULL;
		vs_arena_init(&c->arena, b->cfg.max_call_bytes);
	}
	c->b = b;
	c->conn = ci->id;
	c->seq = seq;
	c->key = h->api_key;
	c->version = h->api_version;
	c->correlation_id = h->correlation_id;
	c->client_id = h->client_id;
	snprintf(c->peer, sizeof c->peer, "%s", ci->peer);
	c->cs = cs;
	vs_conn_state_ref(cs);
	c->principal = cs->principal;
	c->start_ns = mono_ns();
	c->bytes_in = len + 4;
	b->calls_open++;
	return c;
}

static void call_free(vs_call *c)
{
	vs_broker *b = c->b;
	if (c->on_free)
		c->on_free(c);
	b->calls_open--;
	b->deferred_bytes -= c->frame_held;
	c->frame_held = 0;
	if (c->strv)
		varve_strings_free(c->strv, c->strc);
	if (c->cs)
		vs_conn_state_unref(c->cs);
	c->cs = NULL;
	c->principal = NULL;
	vs_arena_reset(&c->arena);
	uint8_t *frame = c->frame;
	size_t frame_cap = c->frame_cap;
	if (b->nfree >= FREE_CALLS_KEPT || b->stopping) {
		vs_arena_free(&c->arena);
		free(frame);
		free(c);
		return;
	}
	if (frame_cap > FRAME_KEPT_BYTES) {
		free(frame);
		frame = NULL;
		frame_cap = 0;
	}
	vs_arena arena = c->arena;
	memset(c, 0, sizeof *c);
	c->arena = arena;
	c->frame = frame;
	c->frame_cap = frame_cap;
	c->free_next = b->free_calls;
	b->free_calls = c;
	b->nfree++;
}

static void count_latency(vs_api_stats *s, int64_t ns)
{
	double secs = (double)ns / 1e9;
	size_t i = 0;
	while (i < VS_LAT_BUCKETS && secs > vs_lat_bounds[i])
		i++;
	s->lat_buckets[i]++;
	s->lat_sum += secs;
}

/* The answer to a bare SASL token: the bare token, or the end of the
 * connection when authentication failed (v0 has no error frame). */
static void reply_raw(vs_call *c)
{
	vs_broker *b = c->b;
	vs_api_stats *s = &b->api[(size_t)c->key % VS_API_SLOTS];
	const vs_sasl_authenticate_response *r = &c->resp.sasl_authenticate;
	s->requests++;
	s->bytes_in += c->bytes_in;
	count_latency(s, mono_ns() - c->start_ns);
	uint8_t *frame = r->error_code ? NULL : malloc(4 + r->auth_bytes.len);
	if (!frame) {
		s->errors++;
		vs_loop_close_conn(b->loop, c->conn);
	} else {
		vs_put_be32(frame, (uint32_t)r->auth_bytes.len);
		if (r->auth_bytes.len)
			memcpy(frame + 4, r->auth_bytes.ptr, r->auth_bytes.len);
		s->bytes_out += 4 + r->auth_bytes.len;
		vs_loop_respond(b->loop, c->conn, c->seq, frame, 4 + r->auth_bytes.len);
	}
	call_free(c);
}

void vs_call_reply(vs_call *c)
{
	if (c->raw_sasl) {
		reply_raw(c);
		return;
	}
	vs_broker *b = c->b;
	vs_api_stats *s = &b->api[(size_t)c->key % VS_API_SLOTS];
	vs_wbuf w;
	vs_wbuf_init(&w);
	int rc = vs_response_encode(&w, c->key, c->version, c->correlation_id, &c->resp);
	s->requests++;
	s->bytes_in += c->bytes_in;
	count_latency(s, mono_ns() - c->start_ns);
	if (rc != KE_NONE) {
		/* a response that cannot be written (out of memory, a string
		 * too long for its type): the client must not wait for it */
		b->encode_errors++;
		s->errors++;
		vs_blog(b, VARVE_LOG_WARN, "%s: cannot encode the response to API %d v%d; closing",
			c->peer, c->key, c->version);
		vs_wbuf_free(&w);
		vs_loop_close_conn(b->loop, c->conn);
	} else {
		s->errors += vs_response_errors(c->key, &c->resp) ? 1 : 0;
		size_t len;
		uint8_t *frame = vs_wbuf_take(&w, &len);
		s->bytes_out += len;
		vs_loop_respond(b->loop, c->conn, c->seq, frame, len);
	}
	call_free(c);
}

void vs_call_skip(vs_call *c)
{
	vs_broker *b = c->b;
	vs_api_stats *s = &b->api[(size_t)c->key % VS_API_SLOTS];
	s->requests++;
	s->bytes_in += c->bytes_in;
	count_latency(s, mono_ns() - c->start_ns);
	vs_loop_skip_response(b->loop, c->conn, c->seq);
	call_free(c);
}

void vs_call_fail(vs_call *c, int16_t err)
{
	if (vs_reply_error(c, err) == 0) {
		vs_call_reply(c);
		return;
	}
	vs_broker *b = c->b;
	b->encode_errors++;
	vs_loop_close_conn(b->loop, c->conn);
	call_free(c);
}

void *vs_call_alloc(vs_call *c, size_t n, size_t size)
{
	return vs_arena_alloc(&c->arena, n, size);
}

vs_slice vs_call_slice(vs_call *c, vs_slice s)
{
	uint8_t *p = vs_arena_alloc(&c->arena, s.len + 1, 1);
	if (!p)
		return VS_SLICE_NULL;
	if (s.len)
		memcpy(p, s.ptr, s.len);
	return (vs_slice){ p, s.len };
}

vs_slice vs_call_str(vs_call *c, const char *z)
{
	return vs_call_slice(c, (vs_slice){ (const uint8_t *)z, strlen(z) });
}

vs_slice vs_call_printf(vs_call *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return vs_call_str(c, buf);
}

char *vs_call_cstr(vs_call *c, vs_slice s, size_t max)
{
	if (!s.ptr || s.len > max || (s.len && memchr(s.ptr, 0, s.len)))
		return NULL;
	char *z = vs_arena_alloc(&c->arena, s.len + 1, 1);
	if (z && s.len)
		memcpy(z, s.ptr, s.len);
	return z;
}

/* ---- deferred calls -------------------------------------------------------- */

static vs_call *call_of_job(vs_job *job)
{
	return (vs_call *)((char *)job - offsetof(vs_call, job));
}

static void job_run(vs_job *job)
{
	vs_call *c = call_of_job(job);
	c->work_run(c);
}

static void job_done(vs_job *job, int status)
{
	vs_call *c = call_of_job(job);
	if (status == VS_WORK_CANCELLED) {
		/* only when the broker stops: its connection is gone */
		call_free(c);
		return;
	}
	c->work_done(c);
}

int vs_call_submit(vs_call *c, void (*run)(vs_call *c), void (*done)(vs_call *c))
{
	c->work_run = run;
	c->work_done = done;
	c->job.run = job_run;
	c->job.done = job_done;
	int rc = vs_work_submit(c->b->work, &c->job);
	if (rc) {
		c->b->busy++;
		vs_blog(c->b, VARVE_LOG_INFO, "%s: workers busy, API %d refused", c->peer, c->key);
	}
	return rc;
}

void vs_call_hold(vs_call *c)
{
	vs_broker *b = c->b;
	c->held = true;
	c->prev = NULL;
	c->next = b->held;
	if (b->held)
		b->held->prev = c;
	b->held = c;
}

void vs_call_unhold(vs_call *c)
{
	if (!c->held)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->b->held = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->held = false;
}

/* ---- the coordinator's clock ------------------------------------------------- */

static void coord_tick(void *arg)
{
	vs_broker *b = arg;
	b->coord_timer = 0;
	vs_coord_tick(b->coord, vs_loop_now_ms(b->loop));
	vs_coord_timer_update(b);
}

void vs_coord_timer_update(vs_broker *b)
{
	if (b->stopping)
		return;
	int64_t next = vs_coord_next_deadline(b->coord);
	if (next < 0)
		return; /* a timer already armed finds nothing and is not re-armed */
	int64_t at = next > INT64_MAX - COORD_TICK_MS ? INT64_MAX
						       : (next + COORD_TICK_MS - 1) / COORD_TICK_MS *
							 COORD_TICK_MS;
	if (b->coord_timer && b->coord_timer_at <= at)
		return;
	if (b->coord_timer)
		vs_loop_timer_cancel(b->loop, b->coord_timer);
	int64_t now = vs_loop_now_ms(b->loop);
	b->coord_timer = vs_loop_timer_add(b->loop, at - now, coord_tick, b);
	b->coord_timer_at = at;
	if (!b->coord_timer)
		vs_blog(b, VARVE_LOG_WARN, "out of memory arming the group coordinator's timer");
}

/* ---- the loop's callbacks ------------------------------------------------------ */

/* ApiVersions in a version we do not know: a v0 answer with
 * UNSUPPORTED_VERSION and the list, so the client can pick again. */
static void answer_unsupported_versions(vs_broker *b, vs_conn_state *cs, const vs_conn_info *ci,
					uint64_t seq, vs_request_header *h, size_t len)
{
	h->api_version = 0;
	h->client_id = VS_SLICE_NULL;
	vs_call *c = call_new(b, cs, ci, seq, h, len);
	if (!c) {
		vs_loop_close_conn(b->loop, ci->id);
		return;
	}
	vs_arena_set_budget(&c->arena, SIZE_MAX);
	vs_h_api_versions(c);
	c->resp.api_versions.error_code = KE_UNSUPPORTED_VERSION;
	vs_call_reply(c);
}

/* Copy the frame into the call and parse the header again from the copy,
 * so every slice of the request points into memory the call owns. */
static int keep_frame(vs_call *c, const uint8_t *frame, size_t len, vs_request_header *h,
		      vs_rbuf *body)
{
	if (c->frame_cap < len || !c->frame) {
		free(c->frame);
		c->frame = malloc(len ? len : 1);
		c->frame_cap = c->frame ? len : 0;
		if (!c->frame)
			return -1;
	}
	if (len)
		memcpy(c->frame, frame, len);
	if (vs_request_header_parse(c->frame, len, h, body) != KE_NONE)
		return -1;
	c->client_id = h->client_id;
	c->frame_held = len;
	c->b->deferred_bytes += len;
	return 0;
}

static void close_for(vs_broker *b, vs_conn_id conn, const char *peer, const char *why, int key,
		      int version)
{
	vs_blog(b, VARVE_LOG_INFO, "%s: closing: %s (API %d v%d)", peer, why, key, version);
	vs_loop_close_conn(b->loop, conn);
}

static void run_handler(vs_call *c, const vs_handler *hd)
{
	vs_broker *b = c->b;
	if (!hd->implemented || !hd->fn) {
		vs_call_fail(c, KE_UNSUPPORTED_VERSION);
		return;
	}
	switch (hd->fn(c)) {
	case VS_REPLY:
		vs_call_reply(c);
		break;
	case VS_DEFER:
		break;
	default:
		b->decode_errors++;
		close_for(b, c->conn, c->peer, "request refused", c->key, c->version);
		call_free(c);
	}
}

/* A bare SASL token after SaslHandshake v0: a SaslAuthenticate call with
 * no header, answered bare (reply_raw). */
static void raw_token(vs_broker *b, vs_conn_state *cs, const vs_conn_info *ci, uint64_t seq,
		      const uint8_t *frame, size_t len)
{
	vs_request_header h = { VS_API_SASL_AUTHENTICATE, 0, 0, VS_SLICE_NULL, 0 };
	vs_call *c = call_new(b, cs, ci, seq, &h, len);
	if (!c) {
		close_for(b, ci->id, ci->peer, "out of memory", h.api_key, 0);
		return;
	}
	vs_arena_set_budget(&c->arena, SIZE_MAX);
	c->raw_sasl = true;
	c->req.sasl_authenticate.auth_bytes = (vs_slice){ frame, len };
	run_handler(c, vs_sasl_handler(VS_API_SASL_AUTHENTICATE));
}

/* The handler of a request on cs's connection, or NULL: the SASL APIs are
 * served on SASL listeners only. */
static const vs_handler *handler_for(const vs_conn_state *cs, int16_t key)
{
	const vs_handler *hd = vs_sasl_handler(key);
	if (hd)
		return cs->security == VS_SECURITY_SASL_PLAINTEXT ||
				       cs->security == VS_SECURITY_SASL_SSL
			       ? hd
			       : vs_handler_for(key);
	return vs_handler_for(key);
}

static void on_request(void *ctx, vs_loop *l, const vs_conn_info *ci, uint64_t seq,
		       const uint8_t *frame, size_t len)
{
	(void)l;
	vs_broker *b = ctx;
	vs_conn_state *cs = vs_conn_state_open(b, ci);
	if (!cs) {
		close_for(b, ci->id, ci->peer, "out of memory", -1, -1);
		return;
	}
	if (cs->auth == VS_AUTH_RAW) {
		raw_token(b, cs, ci, seq, frame, len);
		return;
	}
	if (cs->auth != VS_AUTH_OK && len > VS_SASL_MAX_TOKEN + 1024) {
		/* nobody unauthenticated sends this much */
		b->auth_refused++;
		close_for(b, ci->id, ci->peer, "request too large before authentication", -1, -1);
		return;
	}
	vs_request_header h;
	vs_rbuf body;
	int rc = vs_request_header_parse(frame, len, &h, &body);
	if (rc == KE_UNSUPPORTED_VERSION) {
		b->unsupported++;
		if (h.api_key == VS_API_API_VERSIONS && vs_auth_allows(cs, h.api_key))
			answer_unsupported_versions(b, cs, ci, seq, &h, len);
		else
			close_for(b, ci->id, ci->peer, "unsupported API or version", h.api_key,
				  h.api_version);
		return;
	}
	if (rc != KE_NONE) {
		b->decode_errors++;
		close_for(b, ci->id, ci->peer, "bad request header", len >= 2 ? h.api_key : -1,
			  len >= 4 ? h.api_version : -1);
		return;
	}
	const vs_handler *hd = handler_for(cs, h.api_key);
	vs_call *c = hd ? call_new(b, cs, ci, seq, &h, len) : NULL;
	/* too much held by calls answered later: refuse this one now, from
	 * the loop's copy of the frame */
	bool refuse = hd && hd->keep_frame && b->deferred_bytes + len > b->cfg.max_deferred_bytes;
	if (!c || (hd->keep_frame && !refuse && keep_frame(c, frame, len, &h, &body))) {
		if (c)
			call_free(c);
		close_for(b, ci->id, ci->peer, hd ? "out of memory" : "no handler", h.api_key,
			  h.api_version);
		return;
	}
	if (vs_request_decode(h.api_key, h.api_version, &body, &c->arena, &c->req) != KE_NONE) {
		b->decode_errors++;
		close_for(b, ci->id, ci->peer, "request does not decode", h.api_key, h.api_version);
		call_free(c);
		return;
	}
	/* the response may use what is left under the hard cap */
	vs_arena_set_budget(&c->arena, SIZE_MAX);
	if (!vs_auth_allows(cs, c->key)) {
		vs_auth_refuse(c);
		return;
	}
	if (refuse) {
		b->busy++;
		vs_call_fail(c, KE_REQUEST_TIMED_OUT);
		return;
	}
	run_handler(c, hd);
}

static void on_close(void *ctx, vs_loop *l, vs_conn_id conn)
{
	vs_broker *b = ctx;
	int64_t now = vs_loop_now_ms(l);
	for (vs_call *c = b->held, *next; c; c = next) {
		next = c->next;
		if (c->conn != conn)
			continue;
		vs_call_unhold(c);
		vs_coord_forget(b->coord, c, now);
		call_free(c);
	}
	vs_coord_timer_update(b);
	vs_fetch_conn_closed(b, conn);
	vs_conn_state_closed(b, conn);
}

/* ---- stopping -------------------------------------------------------------------- */

/* The answer to a held JoinGroup or SyncGroup when the broker stops: Kafka's
 * NOT_COORDINATOR, which sends the client to look for the coordinator again
 * (after the restart). Without it the loop would wait its whole grace
 * period for answers the coordinator gives only when the group settles. */
static void release_held(vs_broker *b)
{
	int64_t now = vs_loop_now_ms(b->loop);
	while (b->held) {
		vs_call *c = b->held;
		vs_call_unhold(c);
		vs_coord_forget(b->coord, c, now);
		vs_call_fail(c, KE_NOT_COORDINATOR);
	}
}

/* vs_broker_stop was called (maybe from a signal handler): on the loop
 * thread now. */
static void on_stop_fd(void *arg)
{
	vs_broker *b = arg;
	uint64_t n;
	while (read(b->stop_fd, &n, sizeof n) == (ssize_t)sizeof n)
		;
	vs_blog(b, VARVE_LOG_INFO, "stopping: %llu requests in flight",
		(unsigned long long)b->calls_open);
	release_held(b);
	vs_fetch_stop(b);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int post_to_loop(void *ctx, void (*fn)(void *arg), void *arg)
{
	vs_broker *b = ctx;
	return vs_loop_post(b->loop, fn, arg);
}

void vs_broker_config_default(vs_broker_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	vs_loop_config_default(&cfg->loop);
	cfg->coord.max_group_id_len = VARVE_MAX_GROUP_NAME;
	cfg->work_threads = VS_WORK_DEFAULT_THREADS;
	cfg->work_queue = VS_WORK_DEFAULT_QUEUE;
	cfg->max_call_bytes = VS_BROKER_DEFAULT_CALL_BYTES;
	cfg->max_deferred_bytes = VS_BROKER_DEFAULT_DEFERRED_BYTES;
	cfg->auto_create_topics = 1;
	cfg->default_partitions = 1;
	cfg->limits.max_message_bytes = 64u << 20;
	cfg->limits.segment_bytes = (int64_t)1 << 30;
	cfg->limits.segment_ms = 7LL * 24 * 3600 * 1000;
	cfg->sync_policy = VARVE_SYNC_ALWAYS;
	cfg->lag_refresh_ms = 5000;
}

static int check_config(vs_broker_config *c)
{
	if (!c->db || c->default_partitions < 1 || c->default_partitions > VARVE_MAX_PARTITIONS)
		return -EINVAL;
	if (!c->work_threads)
		c->work_threads = VS_WORK_DEFAULT_THREADS;
	if (!c->work_queue)
		c->work_queue = VS_WORK_DEFAULT_QUEUE;
	if (!c->max_call_bytes)
		c->max_call_bytes = VS_BROKER_DEFAULT_CALL_BYTES;
	if (!c->max_deferred_bytes)
		c->max_deferred_bytes = VS_BROKER_DEFAULT_DEFERRED_BYTES;
	if (c->lag_refresh_ms <= 0)
		c->lag_refresh_ms = 5000;
	/* the store holds group ids of at most VARVE_MAX_GROUP_NAME bytes */
	if (!c->coord.max_group_id_len || c->coord.max_group_id_len > VARVE_MAX_GROUP_NAME)
		c->coord.max_group_id_len = VARVE_MAX_GROUP_NAME;
	return 0;
}

int vs_broker_new(const vs_broker_config *cfg, vs_broker **out)
{
	*out = NULL;
	vs_broker *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	int rc = check_config(&b->cfg);
	if (rc) {
		free(b);
		return rc;
	}
	b->db = cfg->db;
	b->stop_fd = -1;
	b->reload_fd = -1;
	snprintf(b->cluster_id, sizeof b->cluster_id, "%s", cfg->cluster_id ? cfg->cluster_id : "");
	snprintf(b->host, sizeof b->host, "127.0.0.1");
	b->port = 9092;
	vs_loop_callbacks cb = { b, on_request, on_close, vs_metrics_http };
	rc = vs_loop_new(&b->cfg.loop, &cb, &b->loop);
	if (rc == 0 && !(b->coord = vs_coord_new(&b->cfg.coord)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = vs_work_new(b->cfg.work_threads, b->cfg.work_queue, post_to_loop, b, &b->work);
	if (rc == 0 && (b->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = vs_loop_watch_fd(b->loop, b->stop_fd, on_stop_fd, b);
	if (rc == 0)
		rc = vs_auth_start(b);
	vs_records_decoder_init(&b->decoder, NULL);
	if (rc == 0)
		rc = vs_fetch_start(b);
	if (rc == 0)
		rc = vs_acls_start(b);
	if (rc) {
		vs_broker_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

const char *vs_broker_error(const vs_broker *b)
{
	return b->error;
}

int vs_broker_listen(vs_broker *b, const char *addr, int kafka, int *bound_port)
{
	if (kafka)
		return vs_broker_listen_secure(b, addr, VS_SECURITY_PLAINTEXT, NULL, bound_port);
	int rc = vs_loop_listen(b->loop, addr, VS_LISTEN_HTTP, bound_port);
	if (rc)
		snprintf(b->error, sizeof b->error, "%s", vs_loop_error(b->loop));
	else
		b->n_listens++;
	return rc;
}

int vs_broker_listen_secure(vs_broker *b, const char *addr, int security, vs_tls *tls,
			    int *bound_port)
{
	const char *name = vs_security_name(security);
	bool wants_tls = security == VS_SECURITY_SSL || security == VS_SECURITY_SASL_SSL;
	if (!name || wants_tls != (tls != NULL)) {
		snprintf(b->error, sizeof b->error, "%s: %s", addr,
			 !name ? "unknown security protocol"
			 : tls ? "a certificate for a listener without TLS"
			       : "a TLS listener needs a certificate (--tls-cert, --tls-key)");
		return -EINVAL;
	}
	vs_endpoint *eps = realloc(b->endpoints, (b->n_endpoints + 1) * sizeof *eps);
	if (!eps) {
		snprintf(b->error, sizeof b->error, "%s: out of memory", addr);
		return -ENOMEM;
	}
	b->endpoints = eps;
	int rc = tls ? vs_loop_listen_tls(b->loop, addr, tls, bound_port)
		     : vs_loop_listen(b->loop, addr, VS_LISTEN_KAFKA, bound_port);
	if (rc) {
		snprintf(b->error, sizeof b->error, "%s", vs_loop_error(b->loop));
		return rc;
	}
	eps[b->n_endpoints++] = (vs_endpoint){ .listener = b->n_listens++, .security = security,
					       .tls = tls };
	return 0;
}

int vs_broker_advertise(vs_broker *b, const char *host, int32_t port)
{
	if (!host || !*host || strlen(host) >= sizeof b->host || port < 0 || port > 65535)
		return -EINVAL;
	snprintf(b->host, sizeof b->host, "%s", host);
	b->port = port;
	return 0;
}

int vs_broker_advertise_listener(vs_broker *b, int nth, const char *host, int32_t port)
{
	if (nth < 0 || (size_t)nth >= b->n_endpoints || !host || !*host ||
	    strlen(host) >= sizeof b->endpoints[0].host || port < 0 || port > 65535)
		return -EINVAL;
	vs_endpoint *ep = &b->endpoints[nth];
	snprintf(ep->host, sizeof ep->host, "%s", host);
	ep->port = port;
	ep->advertised = true;
	return 0;
}

int vs_broker_run(vs_broker *b)
{
	vs_metrics_start(b);
	vs_coord_timer_update(b);
	int rc = vs_loop_run(b->loop);
	if (rc)
		snprintf(b->error, sizeof b->error, "event loop: %s", strerror(-rc));
	return rc;
}

void vs_broker_stop(vs_broker *b)
{
	/* async-signal-safe: an eventfd write and an atomic store */
	uint64_t one = 1;
	if (b->stop_fd >= 0 && write(b->stop_fd, &one, sizeof one) < 0) {
		/* full (a stop is already pending) or closed: nothing to add */
	}
	vs_loop_stop(b->loop);
}

void vs_broker_free(vs_broker *b)
{
	if (!b)
		return;
	b->stopping = true;
	/* workers first: their completions are posted, and vs_loop_free runs
	 * them while the broker they answer through still exists */
	if (b->work)
		vs_work_stop(b->work, VS_WORK_CANCEL_QUEUED);
	/* appends still in the store's hands: their completions are posted to
	 * the loop, which runs them as it is freed (into closed connections) */
	vs_produce_stop(b);
	varve_flush(b->db);
	vs_fetch_free(b);
	vs_loop_free(b->loop);
	vs_work_free(b->work);
	/* calls still held (a broker freed without running) */
	while (b->held) {
		vs_call *c = b->held;
		vs_call_unhold(c);
		call_free(c);
	}
	vs_coord_free(b->coord);
	vs_metrics_free(b);
	vs_acls_free(b);
	vs_records_decoder_free(&b->decoder);
	if (b->stop_fd >= 0)
		close(b->stop_fd);
	while (b->free_calls) {
		vs_call *c = b->free_calls;
		b->free_calls = c->free_next;
		vs_arena_free(&c->arena);
		free(c->frame);
		free(c);
	}
	/* last: every call (and its reference to a connection record) is gone */
	vs_auth_free(b);
	free(b);
}
