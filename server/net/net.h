/* SPDX-License-Identifier: MIT */
/*
 * net.h -- the network loop's internal state, shared by its source files
 * (never included outside server/net/):
 *
 *   loop.c       the loop object, vs_loop_run, posts, timers, watched fds,
 *                idle sweep, graceful stop, stats
 *   listen.c     listening sockets, accept, connection limits, EMFILE pause
 *   conn.c       one connection: reading, Kafka framing, the response ring,
 *                writing, interest in epoll, closing
 *   http.c       the HTTP/1.1 GET handling of VS_LISTEN_HTTP connections
 *   transport.c  the plain TCP transport (transport.h)
 *   transport_tls.c  the TLS transport (tls.h)
 *
 * Object lifetimes. Every object registered in epoll starts with a
 * vs_handle, whose kind says what data.ptr points to. A connection that
 * closes leaves epoll and the id map at once but stays allocated on the
 * dead list until the end of the loop iteration (vs_loop_settle), so an
 * event already fetched for it, or a callback still holding its frame, is
 * harmless; closed listeners and unwatched fds live until vs_loop_free or
 * the next settle in the same way.
 *
 * Deferred work. Nothing that changes a connection (a response, a skip, a
 * close) writes or reads at once: the connection is put on the dirty list
 * and vs_loop_settle handles it after the current callbacks, so broker
 * callbacks are never re-entered and many responses leave in one write.
 */
#ifndef VS_NET_NET_H
#define VS_NET_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"
#include "map.h"
#include "timer.h"
#include "transport.h"

#define VS_READ_CHUNK (64 * 1024)   /* the loop's read buffer */
#define VS_READS_PER_EVENT 4        /* fairness: then let others run */
#define VS_WRITES_PER_FLUSH 16
#define VS_IOV_BATCH 64             /* responses per sendmsg */
#define VS_KEEP_INPUT_CAP 4096      /* larger idle input buffers are freed */
#define VS_HTTP_LINGER_MAX_BYTES (64 * 1024)

enum vs_handle_kind {
	VS_H_WAKE = 1,
	VS_H_LISTENER,
	VS_H_CONN,
	VS_H_WATCH
};

typedef struct vs_handle {
	int kind;
} vs_handle;

typedef struct vs_listener {
	vs_handle h;
	vs_loop *loop;
	int fd; /* -1 once closed */
	int kind;
	int index;
	struct vs_tls *tls; /* TLS listeners: the certificate; else NULL */
} vs_listener;

typedef struct vs_watch {
	vs_handle h;
	int fd;
	int removed;
	void (*fn)(void *arg);
	void *arg;
	struct vs_watch *next;
} vs_watch;

enum vs_slot_state {
	VS_SLOT_WAITING = 1, /* the broker has not answered yet */
	VS_SLOT_READY,       /* frame to write */
	VS_SLOT_SKIPPED      /* no response (acks=0) */
};

typedef struct vs_slot {
	uint8_t *frame;
	size_t len;
	int state;
} vs_slot;

enum vs_close_reason {
	VS_CLOSE_PEER = 1,
	VS_CLOSE_ERROR,
	VS_CLOSE_IDLE,
	VS_CLOSE_OVERSIZE,
	VS_CLOSE_BROKER,
	VS_CLOSE_SHUTDOWN
};

typedef struct vs_conn vs_conn;
struct vs_conn {
	vs_handle h;
	vs_loop *loop;
	vs_conn_info info;
	int kind;       /* VS_LISTEN_* */
	vs_key peer_key;
	vs_transport tr;
	uint32_t interest; /* events registered in epoll now */
	uint32_t read_ev;  /* readiness a read waits for (EPOLLIN, or TLS: OUT) */
	uint32_t write_ev; /* readiness a write waits for */

	/* Bytes received and not yet dispatched: a partial frame, or whole
	 * frames held back while reading is paused. */
	uint8_t *in;
	size_t in_len, in_cap;

	/* Response ring: seqs [head_seq, next_seq) in arrival order; the head
	 * is at ring[ring_head]. ring_cap never exceeds max_inflight_requests
	 * (HTTP: 1). */
	vs_slot *ring;
	uint32_t ring_cap, ring_head;
	uint64_t head_seq, next_seq;
	size_t head_sent; /* bytes of the head frame already written */
	size_t out_bytes; /* unwritten bytes of READY frames */
	uint32_t waiting; /* slots the broker has not answered */

	int64_t last_progress_ms; /* a whole request in, or bytes out */
	int64_t linger_until_ms;
	size_t linger_discarded;

	uint8_t closing;          /* left epoll; on the dead list */
	uint8_t dirty;            /* on the dirty list */
	uint8_t stop_reading;     /* graceful stop */
	uint8_t close_after_flush;/* HTTP: one response, then linger */
	uint8_t lingering;        /* HTTP: our side shut, discarding input */
	uint8_t out_blocked;      /* the last write would block */
	uint8_t paused;           /* reading held back by a cap */

	vs_conn *prev, *next; /* all open connections */
	vs_conn *next_dirty;
	vs_conn *next_dead;
};

typedef struct vs_post {
	void (*fn)(void *arg);
	void *arg;
	struct vs_post *next;
} vs_post;

struct vs_loop {
	vs_loop_config cfg;
	vs_loop_callbacks cb;
	int epfd;
	int wake_fd;      /* eventfd: posts and stop */
	vs_handle wake_h;
	int64_t now_ms;
	atomic_int stop_requested;
	int draining;
	int64_t drain_deadline_ms;
	int ran;

	vs_listener **listeners;
	size_t n_listeners;
	int accept_paused;
	int64_t accept_resume_ms;

	vs_map conns;  /* id -> vs_conn* */
	vs_map per_ip; /* peer address -> open connections from it */
	vs_conn *all;
	vs_conn *dirty;
	vs_conn *dead;
	uint64_t next_conn_id;

	vs_timers timers;
	uint64_t sweep_timer; /* idle sweep; 0 when not armed */
	vs_watch *watches;

	pthread_mutex_t post_lock;
	vs_post *post_head, *post_tail;

	uint8_t *scratch; /* VS_READ_CHUNK bytes */
	vs_loop_stats_t st;
	char err[256];
};

/* loop.c */
void vs_loop_set_error(vs_loop *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Run the dirty and dead lists until both are empty. */
void vs_loop_settle(vs_loop *l);

/* listen.c */
void vs_listener_on_event(vs_listener *ls);
void vs_listeners_close(vs_loop *l);
void vs_accept_resume(vs_loop *l);
/* One connection fewer from this peer address. */
void vs_peer_unref(vs_loop *l, vs_key key);

/* conn.c */
/* A connection on ls (its kind, index, and TLS when ls->tls is set). */
vs_conn *vs_conn_new(vs_loop *l, int fd, const vs_listener *ls, const char *peer, vs_key key);
void vs_conn_on_event(vs_conn *c, uint32_t events);
void vs_conn_mark_dirty(vs_conn *c);
/* Flush, resume held-back frames, close when done, update epoll. */
void vs_conn_settle(vs_conn *c);
void vs_conn_close(vs_conn *c, int reason);
/* Run on_close (Kafka) and free a closed connection. */
void vs_conn_reap(vs_conn *c, int call_on_close);
/* Idle timeout and HTTP linger deadline. */
void vs_conn_sweep(vs_conn *c, int64_t now);
void vs_conn_begin_drain(vs_conn *c);
/* Append to c->in (growth at most doubles); 0 or -ENOMEM. */
int vs_conn_input_append(vs_conn *c, const uint8_t *data, size_t n);
/* Queue a loop-made response (HTTP) as the next slot, ready; owns buf.
 * 0 or -ENOMEM (buf freed). */
int vs_conn_queue_output(vs_conn *c, uint8_t *buf, size_t len);

/* http.c */
/* New bytes on an HTTP connection that has not been answered yet. */
void vs_http_input(vs_conn *c, const uint8_t *data, size_t n);

#endif
