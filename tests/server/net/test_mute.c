/* SPDX-License-Identifier: MIT */
/*
 * test_mute.c -- vs_loop_mute and vs_loop_pause_reading over real sockets:
 * a muted or paused connection is not read (its requests wait, nothing is
 * lost), its answers still go out, a mute ends by itself and a pause when
 * resumed, a shorter mute never cuts a longer one, a held-back connection
 * is not closed as idle but is closed when its peer leaves, and the
 * counters say what happened.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nettest.h"

/* The id of fd's connection: a held request tells it (then answered). */
static void held_id(nt_server *s, void *arg)
{
	vs_conn_id *out = arg;
	*out = s->n_held ? s->held[s->n_held - 1].conn : 0;
}

static vs_conn_id conn_id(nt_server *s, int fd)
{
	nt_send_req(fd, 'H', NULL, 0);
	vs_conn_id id = 0;
	for (int i = 0; i < NT_TIMEOUT_MS && !id; i++) {
		nt_call(s, held_id, &id);
		if (!id)
			nt_sleep_ms(1);
	}
	cr_assert_neq(id, 0, "the held request never arrived");
	nt_release_held(s);
	size_t len;
	uint64_t seq;
	free(nt_recv_frame(fd, &len, &seq));
	return id;
}

typedef struct mute_arg {
	vs_conn_id id;
	int64_t ms;
	int pause; /* -1: mute; 0/1: vs_loop_pause_reading */
} mute_arg;

static void do_mute(nt_server *s, void *arg)
{
	mute_arg *m = arg;
	if (m->pause < 0)
		vs_loop_mute(s->loop, m->id, m->ms);
	else
		vs_loop_pause_reading(s->loop, m->id, m->pause);
}

static void mute(nt_server *s, vs_conn_id id, int64_t ms)
{
	mute_arg m = { id, ms, -1 };
	nt_call(s, do_mute, &m);
}

static void pause_reading(nt_server *s, vs_conn_id id, int paused)
{
	mute_arg m = { id, 0, paused };
	nt_call(s, do_mute, &m);
}

static void expect_ping(int fd, uint64_t want_seq)
{
	size_t len;
	uint64_t seq;
	uint8_t *b = nt_recv_frame(fd, &len, &seq);
	cr_assert_eq(seq, want_seq);
	cr_assert_eq(len, 8 + 4);
	cr_assert_eq(memcmp(b + 8, "gnip", 4), 0);
	free(b);
}

/* Nothing arrives on fd within ms. */
static void expect_silence(int fd, int ms)
{
	uint8_t b;
	cr_assert_eq(nt_recv_all(fd, &b, 1, ms), -1, "an answer came while reading was held back");
}

Test(mute, holds_reading_until_it_ends)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	vs_conn_id id = conn_id(s, fd);
	vs_loop_stats_t st;
	nt_stats(s, &st);
	uint64_t before = st.frames_in;
	int64_t t0 = nt_now_ms();
	mute(s, id, 400);
	nt_send_req(fd, 'E', "ping", 4);
	nt_send_req(fd, 'E', "ping", 4);
	expect_silence(fd, 150);
	nt_stats(s, &st);
	cr_assert_eq(st.frames_in, before, "a muted connection was read");
	cr_assert_eq(st.conns_muted, 1);
	cr_assert_eq(st.mutes, 1);
	/* both requests, in order, once the mute is over */
	expect_ping(fd, 1);
	expect_ping(fd, 2);
	cr_assert_geq(nt_now_ms() - t0, 350, "answered %lld ms after a 400 ms mute",
		      (long long)(nt_now_ms() - t0));
	NT_WAIT(s, st, st.conns_muted == 0);
	cr_assert_geq(st.read_pauses_muted, 1);
	close(fd);
	nt_stop(s);
}

Test(mute, answers_still_go_out)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	vs_conn_id id = conn_id(s, fd);
	/* a request answered 50 ms later, then the connection muted 2 s */
	uint8_t arg[6];
	nt_be32(arg, 50);
	memcpy(arg + 4, "ok", 2);
	nt_send_req(fd, 'D', arg, sizeof arg);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_in == 2);
	mute(s, id, 2000);
	int64_t t0 = nt_now_ms();
	size_t len;
	uint64_t seq;
	uint8_t *b = nt_recv_frame(fd, &len, &seq);
	cr_assert_eq(seq, 1);
	free(b);
	cr_assert_lt(nt_now_ms() - t0, 1500, "the answer waited for the mute to end");
	close(fd);
	nt_stop(s);
}

Test(mute, shorter_mute_does_not_cut_a_longer_one)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	vs_conn_id id = conn_id(s, fd);
	mute(s, id, 800);
	mute(s, id, 10);
	nt_send_req(fd, 'E', "ping", 4);
	expect_silence(fd, 300);
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.mutes, 1, "the shorter mute counted");
	cr_assert_eq(st.conns_muted, 1);
	/* a longer one extends it: one connection muted, two mutes */
	mute(s, id, 900);
	nt_stats(s, &st);
	cr_assert_eq(st.mutes, 2);
	cr_assert_eq(st.conns_muted, 1);
	expect_ping(fd, 1);
	close(fd);
	nt_stop(s);
}

Test(mute, pause_until_resumed)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	int other = nt_connect(s->port);
	vs_conn_id id = conn_id(s, fd);
	pause_reading(s, id, 1);
	pause_reading(s, id, 1); /* twice is once */
	nt_send_req(fd, 'E', "ping", 4);
	/* the other connection is served meanwhile */
	nt_send_req(other, 'E', "ping", 4);
	expect_ping(other, 0);
	expect_silence(fd, 300);
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.conns_paused, 1);
	cr_assert_eq(st.read_pauses_broker, 1);
	/* a mute that ends meanwhile does not resume a paused connection */
	mute(s, id, 20);
	expect_silence(fd, 200);
	pause_reading(s, id, 0);
	expect_ping(fd, 1);
	nt_stats(s, &st);
	cr_assert_eq(st.conns_paused, 0);
	close(fd);
	close(other);
	nt_stop(s);
}

Test(mute, held_back_connection_is_not_idle)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.idle_timeout_ms = 100;
	nt_server *s = nt_start(&cfg, 0);
	int fd = nt_connect(s->port);
	vs_conn_id id = conn_id(s, fd);
	pause_reading(s, id, 1);
	nt_sleep_ms(500);
	/* muted before the pause ends, so it is never read idle in between */
	mute(s, id, 500);
	pause_reading(s, id, 0);
	nt_send_req(fd, 'E', "ping", 4);
	expect_ping(fd, 1);
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.conns_closed_idle, 0, "a held-back connection was closed as idle");
	/* and once read again, idleness counts as before */
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	NT_WAIT(s, st, st.conns_closed_idle == 1);
	close(fd);
	nt_stop(s);
}

Test(mute, peer_leaving_closes_a_muted_connection)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	int fd2 = nt_connect(s->port);
	vs_conn_id id = conn_id(s, fd);
	vs_conn_id id2 = conn_id(s, fd2);
	mute(s, id, 60000);
	pause_reading(s, id2, 1);
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.conns_muted, 1);
	cr_assert_eq(st.conns_paused, 1);
	close(fd);
	close(fd2);
	NT_WAIT(s, st, st.conns_open == 0);
	cr_assert_eq(st.conns_muted, 0);
	cr_assert_eq(st.conns_paused, 0);
	cr_assert_eq(st.conns_closed_peer, 2);
	/* the mute's timer went with the connection: a stop is prompt */
	int64_t t0 = nt_now_ms();
	nt_stop(s);
	cr_assert_lt(nt_now_ms() - t0, 5000);
}

static void unknown_ids(nt_server *s, void *arg)
{
	(void)arg;
	vs_loop_mute(s->loop, 999999, 1000);
	vs_loop_pause_reading(s->loop, 999999, 1);
	vs_loop_mute(s->loop, 0, 1000);
}

Test(mute, unknown_ids_and_zero_are_no_ops)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	vs_conn_id id = conn_id(s, fd);
	nt_call(s, unknown_ids, NULL);
	mute(s, id, 0);
	mute(s, id, -5);
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.mutes, 0);
	cr_assert_eq(st.conns_muted, 0);
	cr_assert_eq(st.conns_paused, 0);
	nt_send_req(fd, 'E', "ping", 4);
	expect_ping(fd, 1);
	close(fd);
	nt_stop(s);
}
