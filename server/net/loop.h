/* SPDX-License-Identifier: MIT */
/*
 * loop.h -- the broker's network loop: listeners, connections, Kafka
 * framing, response ordering, timers, cross-thread posts, a tiny HTTP
 * server for /metrics. Linux only (epoll, eventfd).
 *
 * Threading. One loop thread (the one in vs_loop_run) owns every
 * connection and all of the loop's state, so the broker needs no locks:
 * every callback runs on that thread, and every function here must be
 * called on it (or before vs_loop_run / after it returns), except
 * vs_loop_post and vs_loop_stop, which any thread may call (vs_loop_stop
 * also from a signal handler). The store's threads hand their completions
 * to the loop with vs_loop_post. All per-loop state lives in vs_loop, so a
 * second loop could run on another thread later.
 *
 * Kafka framing. Every request and response is a 4-byte big-endian size
 * and that many bytes. Requests are numbered per connection (seq, from 0)
 * in arrival order and handed to on_request one whole frame at a time.
 * The broker answers each one exactly once, with vs_loop_respond or
 * vs_loop_skip_response (Produce with acks=0), in any order and at any
 * time; the loop writes responses in request order, so a slow request (a
 * long-polling Fetch) holds back the responses behind it on its own
 * connection only. Many ready responses go out in one sendmsg.
 *
 * Limits (vs_loop_config). A frame claiming more than max_request_bytes
 * closes its connection before anything is allocated for it; a partial
 * frame holds at most twice the bytes actually received (or a 4 KiB
 * buffer kept from earlier frames), never what its size field claims. A
 * request is "in flight" from its arrival until its response is written
 * (or skipped): at max_inflight_requests the connection is not read, nor
 * while its unsent response bytes are at least max_output_bytes, so a
 * client that never reads cannot grow the broker's memory and delays
 * nobody else. Connections over
 * max_connections or max_connections_per_ip are accepted and closed at
 * once (counted; the broker never sees them). When the process runs out
 * of descriptors, accepting pauses for VS_ACCEPT_PAUSE_MS instead of
 * spinning. A connection is closed as idle after idle_timeout_ms without
 * progress (a whole request received or response bytes written) while it
 * has no request waiting for the broker: that also ends stalled partial
 * frames and clients that stopped reading.
 *
 * Closing. The loop closes a connection on end of stream (at once, even
 * with responses pending: Kafka clients never half-close), an I/O error, a
 * limit, idle timeout, vs_loop_close_conn, or shutdown; on_close then runs
 * once for it, from the loop and never inside another call of this API.
 * Unsent responses of a closed connection are dropped; later
 * vs_loop_respond calls for it free their frame and do nothing else.
 *
 * Graceful stop (vs_loop_stop): listeners close, no new request is read,
 * connections with nothing in flight close at once, the others get
 * shutdown_grace_ms to receive their responses and flush them (posts,
 * timers and watched fds keep running meanwhile); then every connection
 * is closed, on_close runs for each, and vs_loop_run returns.
 *
 * HTTP listeners (VS_LISTEN_HTTP) accept one GET per connection: request
 * line and headers at most VS_HTTP_MAX_REQUEST bytes (more: 413), a
 * malformed request gets 400, another method 405. The path (without its
 * query string) goes to on_http, whose status and body are sent with a
 * Content-Length and "Connection: close"; the loop then ends its side and
 * discards input until the client closes (at most VS_HTTP_LINGER_MS), so
 * the client reads the whole response before the socket goes away.
 * HTTP connections count toward the connection limits but never reach
 * on_request or on_close.
 */
#ifndef VS_NET_LOOP_H
#define VS_NET_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/kbuf.h"

typedef struct vs_loop vs_loop;
/* Never reused within a loop's life; 0 means none. */
typedef uint64_t vs_conn_id;

enum {
	VS_LISTEN_KAFKA = 1, /* framed requests to on_request */
	VS_LISTEN_HTTP = 2   /* GET requests to on_http */
};

#define VS_ACCEPT_PAUSE_MS 100
#define VS_HTTP_MAX_REQUEST 8192
#define VS_HTTP_LINGER_MS 2000

typedef struct vs_loop_config {
	size_t max_request_bytes;        /* default 100 MiB (socket.request.max.bytes); at most 2^31 - 1 */
	uint32_t max_connections;        /* default 10000 */
	uint32_t max_connections_per_ip; /* default 1000 */
	uint32_t max_inflight_requests;  /* per connection; default 100 */
	size_t max_output_bytes;         /* per connection; default 64 MiB */
	int64_t idle_timeout_ms;         /* default 600000; <= 0: never */
	int64_t shutdown_grace_ms;       /* graceful stop; default 5000 */
} vs_loop_config;

void vs_loop_config_default(vs_loop_config *c);

typedef struct vs_conn_info {
	vs_conn_id id;
	char peer[64]; /* "ip:port", IPv6 as "[ip]:port" */
	int listener;  /* index of the listener, in vs_loop_listen call order */
	/* TLS listeners: the RFC 2253 subject of the client's verified
	 * certificate (tls.h), else NULL; valid during on_request */
	const char *tls_subject;
} vs_conn_info;

typedef struct vs_loop_callbacks {
	void *ctx;
	/* A whole frame arrived (without its size prefix); frame is valid
	 * only during the call. The broker must later call vs_loop_respond or
	 * vs_loop_skip_response for (c->id, seq) exactly once. */
	void (*on_request)(void *ctx, vs_loop *l, const vs_conn_info *c, uint64_t seq,
			   const uint8_t *frame, size_t len);
	/* The Kafka connection is gone (see "Closing" above). May be NULL. */
	void (*on_close)(void *ctx, vs_loop *l, vs_conn_id conn);
	/* GET path on an HTTP listener: fill body, optionally point
	 * *content_type at a static string (default "text/plain;
	 * version=0.0.4"), return the status (200, 404, ...; anything outside
	 * 200..599 becomes 500). NULL: every path is 404. */
	int (*on_http)(void *ctx, const char *path, vs_wbuf *body, const char **content_type);
} vs_loop_callbacks;

/* Counters for /metrics. "now" fields are current values, the rest only
 * grow. */
typedef struct vs_loop_stats_t {
	uint64_t conns_open;            /* now: Kafka and HTTP */
	uint64_t conns_accepted;
	uint64_t conns_refused_max;     /* over max_connections */
	uint64_t conns_refused_per_ip;  /* over max_connections_per_ip */
	uint64_t conns_closed_peer;     /* end of stream from the peer */
	uint64_t conns_closed_error;    /* reset, I/O error, out of memory */
	uint64_t conns_closed_idle;
	uint64_t conns_closed_oversize; /* a frame over max_request_bytes */
	uint64_t conns_closed_broker;   /* vs_loop_close_conn, malformed response */
	uint64_t conns_closed_shutdown;
	uint64_t accept_errors;         /* failed accepts, refused for lack of memory */
	uint64_t accept_pauses;         /* out of descriptors/memory: paused */
	uint64_t bytes_in, bytes_out;
	uint64_t frames_in;             /* Kafka requests received */
	uint64_t frames_out;            /* Kafka responses fully written */
	uint64_t responses_skipped;
	uint64_t bad_responses;         /* unknown or repeated seq, malformed frame */
	uint64_t read_pauses;           /* a connection stopped being read: a cap */
	uint64_t http_requests;         /* answered by on_http */
	uint64_t http_errors;           /* refused by the loop (400, 405, 413) */
	uint64_t input_buffered_bytes;  /* now: allocated for partial input */
	uint64_t output_buffered_bytes; /* now: response bytes not yet written */
	uint64_t write_calls;           /* transport writes (sendmsg) */
	uint64_t posts_run;
	uint64_t timers_run;
	uint64_t iterations;            /* epoll_wait returns */
} vs_loop_stats_t;

/* 0, -EINVAL (a config value out of range), or another -errno. cfg NULL:
 * defaults. The callbacks are copied. */
int vs_loop_new(const vs_loop_config *cfg, const vs_loop_callbacks *cb, vs_loop **out);
/* Close everything still open (without callbacks), run the posts still
 * queued (so no completion is lost), drop pending timers unrun. */
void vs_loop_free(vs_loop *l);
/* The message of the last failure of vs_loop_listen / vs_loop_watch_fd. */
const char *vs_loop_error(const vs_loop *l);

/* Listen on "host:port" ("127.0.0.1:0" picks a free port, "[::1]:9092"
 * for IPv6, ":9092" for every interface). *bound_port (may be NULL) gets
 * the real port. Returns 0 or -errno, with a message such as
 * "127.0.0.1:9092: address already in use". */
int vs_loop_listen(vs_loop *l, const char *addr, int kind, int *bound_port);
/* The same for a Kafka listener whose connections speak TLS (tls.h) with
 * tls's current certificate; tls must outlive the loop. */
struct vs_tls;
int vs_loop_listen_tls(vs_loop *l, const char *addr, struct vs_tls *tls, int *bound_port);

/* Run until vs_loop_stop and the graceful stop are done; returns 0, or
 * -errno if epoll itself fails. Call once. */
int vs_loop_run(vs_loop *l);
/* Any thread, or a signal handler (an atomic store and an eventfd write). */
void vs_loop_stop(vs_loop *l);

/* Take ownership of a malloc'd response frame (size prefix included) for
 * (conn, seq). A frame whose prefix does not match len closes the
 * connection (the client could not parse what follows); an unknown or
 * already answered seq is counted and the frame freed. */
void vs_loop_respond(vs_loop *l, vs_conn_id conn, uint64_t seq, uint8_t *frame, size_t len);
void vs_loop_skip_response(vs_loop *l, vs_conn_id conn, uint64_t seq);
/* Close at once: unsent responses are dropped (the broker uses this on
 * protocol errors). on_close follows from the loop. Unknown ids: no-op. */
void vs_loop_close_conn(vs_loop *l, vs_conn_id conn);
/* Close after the answers: no more requests are read (bytes already
 * received are dropped), the responses to the requests before are still
 * awaited and written, then our side ends (TLS: close_notify, then FIN)
 * and the connection closes when the client does, or after
 * VS_HTTP_LINGER_MS. For an authentication failure: the client reads the
 * error before the end of the stream. Unknown ids: no-op. */
void vs_loop_close_after_flush(vs_loop *l, vs_conn_id conn);

/* Any thread: run fn(arg) on the loop thread soon, in post order.
 * Returns 0 or -ENOMEM. */
int vs_loop_post(vs_loop *l, void (*fn)(void *arg), void *arg);

/* One-shot timer on the loop thread after delay_ms (negative: 0). Equal
 * deadlines fire in the order added. Returns its id, or 0 when out of
 * memory. Cancelling a fired, cancelled or unknown id does nothing. */
uint64_t vs_loop_timer_add(vs_loop *l, int64_t delay_ms, void (*fn)(void *arg), void *arg);
void vs_loop_timer_cancel(vs_loop *l, uint64_t timer_id);

/* Call fn(arg) on the loop thread whenever fd is readable (level
 * triggered: fn must drain it). The fd stays the caller's. Returns 0 or
 * -errno. */
int vs_loop_watch_fd(vs_loop *l, int fd, void (*fn)(void *arg), void *arg);
/* Stop watching fd; 0, or -ENOENT. Safe inside fn. */
int vs_loop_unwatch_fd(vs_loop *l, int fd);

/* Monotonic milliseconds, read once per loop iteration. */
int64_t vs_loop_now_ms(const vs_loop *l);

void vs_loop_stats(const vs_loop *l, vs_loop_stats_t *out);

#endif
