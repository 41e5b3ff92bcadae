/* SPDX-License-Identifier: MIT */
/*
 * nettest.h -- helpers for the network loop's tests: a loop running a test
 * broker on its own thread, and blocking clients on 127.0.0.1.
 *
 * The test broker reads a command from the first byte of each request:
 *   'E' data        answer at once: seq (8 bytes BE) + data reversed
 *   'D' u32 ms data answer like 'E' after a timer of ms
 *   'S'             skip the response (acks=0)
 *   'Q' u32 ms      skip after a timer of ms
 *   'B' u32 n       answer seq + n pattern bytes (byte i = i & 0xff)
 *   'H'             hold: no answer until nt_release_held
 *   'C'             vs_loop_close_conn
 *   'T'             answer twice (the second is a broker bug)
 *   'X'             answer with a frame whose size prefix lies
 *   'P' data        answer like 'E' from another thread through vs_loop_post
 *   'I'             answer seq + "peer|listener"
 * Responses are framed (4-byte size first); clients read them with
 * nt_recv_frame. Waits are bounded (NT_TIMEOUT_MS) and fail the test.
 */
#ifndef VS_NETTEST_H
#define VS_NETTEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"

#define NT_TIMEOUT_MS 5000

typedef struct nt_held {
	vs_conn_id conn;
	uint64_t seq;
} nt_held;

typedef struct nt_server {
	vs_loop *loop;
	pthread_t thread;
	int port;      /* the Kafka listener */
	int http_port; /* 0: none */
	int run_rc;
	atomic_int closes;       /* on_close calls */
	atomic_int requests;     /* on_request calls */
	atomic_ullong last_closed;
	/* loop thread only (read them through nt_call) */
	nt_held held[4096];
	size_t n_held;
	char http_path[1100];
	int http_calls;
	/* set before nt_start */
	int http_status;
	const char *http_body;
	const char *http_type;
	int no_http_callback;
} nt_server;

void nt_config(vs_loop_config *cfg);
/* A loop with a Kafka listener (and an HTTP one if with_http), running. */
nt_server *nt_start(const vs_loop_config *cfg, int with_http);
/* Same, with fields of s (http_*) set by the caller first. */
void nt_start_into(nt_server *s, const vs_loop_config *cfg, int with_http);
/* vs_loop_stop, join, check vs_loop_run returned 0, free. */
void nt_stop(nt_server *s);
/* Stop and join only (the loop stays allocated in s->loop). */
void nt_stop_join(nt_server *s);

/* Run fn(s, arg) on the loop thread and wait for it. */
void nt_call(nt_server *s, void (*fn)(nt_server *s, void *arg), void *arg);
void nt_stats(nt_server *s, vs_loop_stats_t *st);
/* Answer every held request, newest first (to exercise ordering). */
void nt_release_held(nt_server *s);
size_t nt_held_count(nt_server *s);

/* Poll the stats until cond holds (fails the test after NT_TIMEOUT_MS). */
#define NT_WAIT(s, st, cond)                                                        \
	do {                                                                        \
		int nt_ok_ = 0;                                                     \
		for (int nt_i_ = 0; nt_i_ < NT_TIMEOUT_MS / 2; nt_i_++) {           \
			nt_stats((s), &(st));                                       \
			if (cond) {                                                 \
				nt_ok_ = 1;                                         \
				break;                                              \
			}                                                           \
			nt_sleep_ms(2);                                             \
		}                                                                   \
		cr_assert(nt_ok_, "timed out waiting for: %s", #cond);              \
	} while (0)

void nt_sleep_ms(int ms);
int64_t nt_now_ms(void);

/* Blocking TCP client on 127.0.0.1 with TCP_NODELAY. */
int nt_connect(int port);
/* The same from a chosen local address (e.g. "127.0.0.2"). */
int nt_connect_from(const char *src, int port);
void nt_send(int fd, const void *p, size_t n);
/* One request frame: cmd then arg. */
void nt_send_req(int fd, char cmd, const void *arg, size_t n);
/* Build one request frame into out (caller's buffer of 5 + n bytes). */
size_t nt_frame(uint8_t *out, char cmd, const void *arg, size_t n);
/* Exactly n bytes within timeout_ms: 0, or -1 on EOF, error, timeout. */
int nt_recv_all(int fd, void *p, size_t n, int timeout_ms);
/* One response frame (malloc'd, without its size); fails the test on EOF
 * or timeout. *seq gets its first 8 bytes (the request's seq). */
uint8_t *nt_recv_frame(int fd, size_t *len, uint64_t *seq);
/* 1 if the connection ends (EOF or reset) within timeout_ms, skipping
 * any data still arriving; 0 if it is still open. */
int nt_closed(int fd, int timeout_ms);
/* A 4-byte big-endian u32. */
void nt_be32(uint8_t *p, uint32_t v);

#endif
