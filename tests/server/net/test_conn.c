/* SPDX-License-Identifier: MIT */
/*
 * test_conn.c -- server/net/conn.c over real sockets: Kafka framing,
 * response order under out-of-order completion, skipped responses,
 * batching, the per-connection caps (request size, in-flight requests,
 * unsent output), lying lengths, peers that reset, broker mistakes.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nettest.h"

static void expect_echo(int fd, uint64_t want_seq, const char *sent)
{
	size_t len;
	uint64_t seq;
	uint8_t *b = nt_recv_frame(fd, &len, &seq);
	size_t n = strlen(sent);
	cr_assert_eq(seq, want_seq);
	cr_assert_eq(len, 8 + n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(b[8 + i], (uint8_t)sent[n - 1 - i]);
	free(b);
}

Test(conn, echo_round_trip)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	nt_send_req(fd, 'E', "hello", 5);
	expect_echo(fd, 0, "hello");
	nt_send_req(fd, 'E', "", 0);
	expect_echo(fd, 1, "");
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_out == 2);
	cr_assert_eq(st.frames_in, 2);
	cr_assert_eq(st.bytes_in, 5 + 5 + 5);
	cr_assert_eq(st.bytes_out, 4 + 8 + 5 + 4 + 8);
	cr_assert_eq(st.conns_open, 1);
	close(fd);
	NT_WAIT(s, st, st.conns_open == 0);
	cr_assert_eq(st.conns_closed_peer, 1);
	cr_assert_eq(atomic_load(&s->closes), 1);
	nt_stop(s);
}

/* 200 requests in one write: answered in order, in far fewer writes. */
Test(conn, pipelined_requests_batch_responses)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	enum { N = 200 };
	uint8_t *buf = malloc(N * 16);
	size_t off = 0;
	for (int i = 0; i < N; i++) {
		char arg[8];
		snprintf(arg, sizeof arg, "r%03d", i);
		off += nt_frame(buf + off, 'E', arg, 4);
	}
	nt_send(fd, buf, off);
	free(buf);
	for (int i = 0; i < N; i++) {
		char arg[8];
		snprintf(arg, sizeof arg, "r%03d", i);
		expect_echo(fd, (uint64_t)i, arg);
	}
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_out == N);
	cr_assert_lt(st.write_calls, N / 4, "%llu writes for %d responses",
		     (unsigned long long)st.write_calls, N);
	close(fd);
	nt_stop(s);
}

/* Completion order 0, 2, 3, 1 -- delivery order 0, 1, 2, 3: a ready
 * response behind a waiting one waits, also when one before it was sent. */
Test(conn, responses_leave_in_request_order)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	uint8_t f[64];
	uint8_t arg[8];
	size_t n = nt_frame(f, 'E', "frst", 4);
	nt_be32(arg, 300);
	memcpy(arg + 4, "slow", 4);
	n += nt_frame(f + n, 'D', arg, 8);
	n += nt_frame(f + n, 'E', "fast", 4);
	nt_be32(arg, 100);
	memcpy(arg + 4, "midl", 4);
	n += nt_frame(f + n, 'D', arg, 8);
	nt_send(fd, f, n);
	expect_echo(fd, 0, "frst");
	/* the third one is answered at once but must wait for the second */
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_in == 4 && st.output_buffered_bytes > 0);
	cr_assert_eq(st.frames_out, 1);
	expect_echo(fd, 1, "slow");
	expect_echo(fd, 2, "fast");
	expect_echo(fd, 3, "midl");
	close(fd);
	nt_stop(s);
}

Test(conn, skipped_responses_leave_no_gap)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	uint8_t ms[4];
	nt_be32(ms, 150);
	nt_send_req(fd, 'S', NULL, 0);   /* seq 0: skipped at once */
	nt_send_req(fd, 'E', "a", 1);    /* seq 1 */
	nt_send_req(fd, 'Q', ms, 4);     /* seq 2: skipped later, holds seq 3 */
	nt_send_req(fd, 'E', "b", 1);    /* seq 3 */
	expect_echo(fd, 1, "a");
	expect_echo(fd, 3, "b");
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.responses_skipped == 2);
	cr_assert_eq(st.frames_out, 2);
	cr_assert_eq(st.output_buffered_bytes, 0);
	close(fd);
	nt_stop(s);
}

/* Frames cut at every byte still come out whole. */
Test(conn, frames_split_byte_by_byte)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	uint8_t f[64];
	size_t n = nt_frame(f, 'E', "split me", 8);
	size_t m = nt_frame(f + n, 'E', "again", 5);
	for (size_t i = 0; i < n + m; i++) {
		nt_send(fd, f + i, 1);
		if (i % 4 == 0)
			nt_sleep_ms(1);
	}
	expect_echo(fd, 0, "split me");
	expect_echo(fd, 1, "again");
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.input_buffered_bytes <= 64, 1, "partial frames kept %llu bytes",
		     (unsigned long long)st.input_buffered_bytes);
	close(fd);
	nt_stop(s);
}

/* A 6 MiB request and a 6 MiB response cross many reads and writes. */
Test(conn, large_frames_both_ways)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	size_t n = (size_t)6 << 20;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = 0;
	nt_send_req(fd, 'E', big, n);
	expect_echo(fd, 0, big);
	uint8_t arg[4];
	nt_be32(arg, (uint32_t)n);
	nt_send_req(fd, 'B', arg, 4);
	size_t len;
	uint8_t *b = nt_recv_frame(fd, &len, NULL);
	cr_assert_eq(len, 8 + n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(b[8 + i], (uint8_t)i);
	free(b);
	free(big);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.input_buffered_bytes == 0);
	close(fd);
	nt_stop(s);
}

Test(conn, oversize_frame_closes_without_allocating)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_request_bytes = 1024;
	nt_server *s = nt_start(&cfg, 0);
	int ok = nt_connect(s->port);
	nt_send_req(ok, 'E', "x", 1);
	expect_echo(ok, 0, "x");

	int fd = nt_connect(s->port);
	uint8_t h[4];
	nt_be32(h, 1025);
	nt_send(fd, h, 2); /* the size arrives in two pieces */
	nt_sleep_ms(20);
	nt_send(fd, h + 2, 2);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_closed_oversize == 1);
	cr_assert_eq(st.input_buffered_bytes <= 8, 1, "%llu", (unsigned long long)st.input_buffered_bytes);
	cr_assert_eq(st.frames_in, 1);
	close(fd);

	/* a negative Kafka size is oversize whatever the limit */
	fd = nt_connect(s->port);
	nt_be32(h, 0xffffffffu);
	nt_send(fd, h, 4);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	NT_WAIT(s, st, st.conns_closed_oversize == 2);
	close(fd);
	/* a whole oversize frame in one segment is not dispatched either */
	fd = nt_connect(s->port);
	char *over = malloc(1025);
	memset(over, 'E', 1025);
	uint8_t *frame = malloc(4 + 1025);
	nt_be32(frame, 1025);
	memcpy(frame + 4, over, 1025);
	nt_send(fd, frame, 4 + 1025);
	free(frame);
	free(over);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	NT_WAIT(s, st, st.conns_closed_oversize == 3);
	cr_assert_eq(st.frames_in, 1);
	close(fd);
	/* exactly at the limit is fine */
	char *arg = calloc(1, 1023);
	memset(arg, 'z', 1023);
	nt_send_req(ok, 'E', arg, 1023);
	size_t len;
	free(nt_recv_frame(ok, &len, NULL));
	cr_assert_eq(len, 8 + 1023);
	free(arg);
	close(ok);
	nt_stop(s);
}

/* A size that lies costs only the bytes that came; the idle timeout ends
 * the stall, end of stream ends the other. */
Test(conn, lying_length_costs_only_what_arrived)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.idle_timeout_ms = 300;
	nt_server *s = nt_start(&cfg, 0);
	int fd = nt_connect(s->port);
	uint8_t f[14];
	nt_be32(f, 50u << 20); /* claims 50 MiB */
	memset(f + 4, 'E', 10);
	nt_send(fd, f, sizeof f);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.input_buffered_bytes > 0);
	cr_assert_leq(st.input_buffered_bytes, 2 * sizeof f);
	cr_assert_eq(st.frames_in, 0);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS), "the stalled connection was not closed");
	NT_WAIT(s, st, st.conns_closed_idle == 1 && st.input_buffered_bytes == 0);
	close(fd);

	fd = nt_connect(s->port);
	nt_send(fd, f, sizeof f);
	NT_WAIT(s, st, st.input_buffered_bytes > 0);
	close(fd);
	NT_WAIT(s, st, st.conns_closed_peer == 1 && st.input_buffered_bytes == 0);
	cr_assert_eq(atomic_load(&s->closes), 2);
	nt_stop(s);
}

/* A second connection's round trip proves the loop has gone round since
 * the first one's bytes arrived. */
static void ping(int fd, uint64_t seq)
{
	nt_send_req(fd, 'E', "ping", 4);
	expect_echo(fd, seq, "ping");
}

Test(conn, inflight_cap_pauses_reading)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_inflight_requests = 4;
	nt_server *s = nt_start(&cfg, 0);
	int fd = nt_connect(s->port);
	int other = nt_connect(s->port);
	for (int i = 0; i < 10; i++)
		nt_send_req(fd, 'H', NULL, 0);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_in == 4);
	for (int i = 0; i < 3; i++)
		ping(other, (uint64_t)i);
	nt_stats(s, &st);
	cr_assert_eq(st.frames_in, 4 + 3, "read past the in-flight cap");
	cr_assert_geq(st.read_pauses, 1);
	cr_assert_eq(nt_held_count(s), 4);
	/* answers (given newest first) free the slots: the rest is read,
	 * and the responses still leave in request order */
	uint64_t next = 0;
	while (next < 10) {
		size_t held = 0;
		for (int i = 0; i < NT_TIMEOUT_MS && (held = nt_held_count(s)) == 0; i++)
			nt_sleep_ms(1);
		cr_assert_gt(held, 0);
		cr_assert_leq(held, 4);
		nt_release_held(s);
		for (size_t i = 0; i < held; i++, next++) {
			size_t len;
			uint64_t seq;
			free(nt_recv_frame(fd, &len, &seq));
			cr_assert_eq(seq, next);
		}
	}
	NT_WAIT(s, st, st.frames_out == 13);
	close(fd);
	close(other);
	nt_stop(s);
}

/* A client that never reads: reading it stops near max_output_bytes, the
 * others are served, and once it reads everything is delivered. */
Test(conn, slow_reader_stops_being_read)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_output_bytes = 2u << 20;
	nt_server *s = nt_start(&cfg, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 64 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	close(fd);
	fd = nt_connect(s->port);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	int other = nt_connect(s->port);
	enum { N = 100, RESP = 1 << 20 };
	uint8_t arg[4];
	nt_be32(arg, RESP);
	for (int i = 0; i < N; i++)
		nt_send_req(fd, 'B', arg, 4);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.read_pauses >= 1 && st.output_buffered_bytes >= cfg.max_output_bytes);
	for (int i = 0; i < 5; i++)
		ping(other, (uint64_t)i);
	nt_stats(s, &st);
	/* What it may still get read: what the kernel's socket buffers take
	 * (a few MiB) plus max_output_bytes plus one response; without the
	 * cap all N requests would be read and answered into memory. */
	cr_assert_lt(st.frames_in - 5, 16, "the slow reader was read on: %llu requests",
		     (unsigned long long)(st.frames_in - 5));
	cr_assert_leq(st.output_buffered_bytes, cfg.max_output_bytes + RESP + 12);
	for (uint64_t i = 0; i < N; i++) {
		size_t len;
		uint64_t seq;
		uint8_t *b = nt_recv_frame(fd, &len, &seq);
		cr_assert_eq(seq, i);
		cr_assert_eq(len, 8 + RESP);
		cr_assert_eq(b[8 + 1000], (uint8_t)1000);
		free(b);
	}
	NT_WAIT(s, st, st.output_buffered_bytes == 0 && st.frames_out == N + 5);
	close(fd);
	close(other);
	nt_stop(s);
}

/* The peer resets while a big response is on its way: the connection
 * closes, the process gets no SIGPIPE, others carry on. */
Test(conn, peer_reset_mid_response)
{
	signal(SIGPIPE, SIG_DFL);
	nt_server *s = nt_start(NULL, 0);
	int other = nt_connect(s->port);
	for (int round = 0; round < 3; round++) {
		int fd = nt_connect(s->port);
		uint8_t arg[4];
		nt_be32(arg, 16u << 20);
		nt_send_req(fd, 'B', arg, 4);
		uint8_t some[1024];
		cr_assert_eq(nt_recv_all(fd, some, sizeof some, NT_TIMEOUT_MS), 0);
		struct linger lg = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(fd); /* RST */
		ping(other, (uint64_t)round);
	}
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_open == 1 && st.output_buffered_bytes == 0);
	cr_assert_eq(st.conns_closed_error + st.conns_closed_peer, 3);
	cr_assert_eq(atomic_load(&s->closes), 3);
	close(other);
	nt_stop(s);
}

Test(conn, broker_closes_a_connection)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	nt_send_req(fd, 'E', "a", 1);
	expect_echo(fd, 0, "a");
	/* the close and a later request in one segment */
	uint8_t f[32];
	size_t n = nt_frame(f, 'C', NULL, 0);
	n += nt_frame(f + n, 'E', "never", 5);
	nt_send(fd, f, n);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_closed_broker == 1);
	cr_assert_eq(st.frames_in, 2, "a frame after the close was dispatched");
	cr_assert_eq(atomic_load(&s->closes), 1);
	close(fd);
	nt_stop(s);
}

static void respond_to_held(nt_server *s, void *arg)
{
	(void)arg;
	/* the connection is gone: both calls are ignored, the frame freed */
	nt_held h = s->held[0];
	uint8_t *f = malloc(12);
	nt_be32(f, 8);
	memset(f + 4, 0, 8);
	vs_loop_respond(s->loop, h.conn, h.seq, f, 12);
	vs_loop_skip_response(s->loop, h.conn, h.seq + 1);
	vs_loop_close_conn(s->loop, h.conn);
	s->n_held = 0;
}

Test(conn, respond_after_close_is_ignored)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	nt_send_req(fd, 'H', NULL, 0);
	nt_send_req(fd, 'H', NULL, 0);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_in == 2);
	close(fd);
	NT_WAIT(s, st, st.conns_open == 0);
	cr_assert_eq(atomic_load(&s->closes), 1);
	nt_call(s, respond_to_held, NULL);
	nt_stats(s, &st);
	cr_assert_eq(st.bad_responses, 0);
	cr_assert_eq(st.conns_closed_broker, 0);
	cr_assert_eq(atomic_load(&s->closes), 1, "on_close ran twice");
	nt_stop(s);
}

Test(conn, broker_mistakes_are_contained)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	nt_send_req(fd, 'T', NULL, 0); /* answered twice */
	size_t len;
	uint64_t seq;
	free(nt_recv_frame(fd, &len, &seq));
	cr_assert_eq(seq, 0);
	nt_send_req(fd, 'E', "ok", 2);
	expect_echo(fd, 1, "ok");
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.bad_responses, 1);

	/* a frame whose size prefix lies would desynchronise the client */
	nt_send_req(fd, 'X', NULL, 0);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	NT_WAIT(s, st, st.conns_closed_broker == 1);
	cr_assert_eq(st.bad_responses, 2);
	close(fd);
	nt_stop(s);
}

/* A client that ends its stream while its requests are held back is
 * noticed even though it is not being read. */
Test(conn, end_of_stream_while_paused)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_inflight_requests = 1;
	nt_server *s = nt_start(&cfg, 0);
	int fd = nt_connect(s->port);
	nt_send_req(fd, 'H', NULL, 0);
	nt_send_req(fd, 'H', NULL, 0);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_in == 1 && st.read_pauses == 1);
	shutdown(fd, SHUT_WR);
	NT_WAIT(s, st, st.conns_open == 0);
	cr_assert_eq(st.conns_closed_peer, 1);
	cr_assert_eq(atomic_load(&s->closes), 1);
	close(fd);
	nt_stop(s);
}

/* Many connections each pipelining: every one gets its own answers in
 * its own order. */
Test(conn, interleaved_connections_keep_their_order)
{
	nt_server *s = nt_start(NULL, 0);
	enum { C = 20, R = 30 };
	int fds[C];
	for (int c = 0; c < C; c++)
		fds[c] = nt_connect(s->port);
	for (int r = 0; r < R; r++) {
		for (int c = 0; c < C; c++) {
			char arg[16];
			snprintf(arg, sizeof arg, "c%02dr%02d", c, r);
			if ((r + c) % 3 == 0) {
				uint8_t d[4 + 16];
				nt_be32(d, (uint32_t)((r * 7 + c) % 20));
				memcpy(d + 4, arg, 6);
				nt_send_req(fds[c], 'D', d, 10);
			} else {
				nt_send_req(fds[c], 'E', arg, 6);
			}
		}
	}
	for (int c = 0; c < C; c++) {
		for (int r = 0; r < R; r++) {
			char arg[16];
			snprintf(arg, sizeof arg, "c%02dr%02d", c, r);
			expect_echo(fds[c], (uint64_t)r, arg);
		}
		close(fds[c]);
	}
	nt_stop(s);
}
