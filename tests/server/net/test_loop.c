/* SPDX-License-Identifier: MIT */
/*
 * test_loop.c -- server/net/loop.c: configuration checks, posts from other
 * threads (order, thread, answers to requests), watched fds, the cached
 * clock, stopping from a signal handler, EINTR storms, the idle sweep, and
 * graceful stop (pending responses flushed, new requests not read, the
 * grace period enforced, on_close for everyone).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nettest.h"

static void nop_request(void *ctx, vs_loop *l, const vs_conn_info *c, uint64_t seq,
			const uint8_t *f, size_t len)
{
	(void)ctx;
	(void)f;
	(void)len;
	vs_loop_skip_response(l, c->id, seq);
}

Test(loop, config_is_checked)
{
	vs_loop_config cfg;
	vs_loop_config_default(&cfg);
	cr_assert_eq(cfg.max_request_bytes, 100u << 20);
	cr_assert_eq(cfg.max_connections, 10000);
	cr_assert_eq(cfg.max_connections_per_ip, 1000);
	cr_assert_eq(cfg.max_inflight_requests, 100);
	cr_assert_eq(cfg.max_output_bytes, 64u << 20);
	cr_assert_eq(cfg.idle_timeout_ms, 600000);
	cr_assert_eq(cfg.shutdown_grace_ms, 5000);
	vs_loop_callbacks cb = { .on_request = nop_request };
	vs_loop *l = NULL;
	vs_loop_config bad = cfg;
	bad.max_inflight_requests = 0;
	cr_assert_eq(vs_loop_new(&bad, &cb, &l), -EINVAL);
	bad = cfg;
	bad.max_request_bytes = (size_t)INT32_MAX + 1;
	cr_assert_eq(vs_loop_new(&bad, &cb, &l), -EINVAL);
	bad = cfg;
	bad.max_connections = 0;
	cr_assert_eq(vs_loop_new(&bad, &cb, &l), -EINVAL);
	vs_loop_callbacks no_request = { 0 };
	cr_assert_eq(vs_loop_new(&cfg, &no_request, &l), -EINVAL);
	cr_assert_null(l);
	cr_assert_eq(vs_loop_new(NULL, &cb, &l), 0);
	vs_loop_free(l);
}

/* ---- posts -------------------------------------------------------------- */

enum { POSTERS = 4, POSTS_EACH = 2000 };

typedef struct post_state {
	nt_server *s;
	pthread_t loop_thread;
	int last[POSTERS];
	atomic_int runs;
	atomic_int wrong_thread, out_of_order;
} post_state;

typedef struct post_arg {
	post_state *ps;
	int poster, n;
} post_arg;

static void on_post(void *arg)
{
	post_arg *a = arg;
	post_state *ps = a->ps;
	if (!pthread_equal(pthread_self(), ps->loop_thread))
		atomic_fetch_add(&ps->wrong_thread, 1);
	if (a->n != ps->last[a->poster] + 1)
		atomic_fetch_add(&ps->out_of_order, 1);
	ps->last[a->poster] = a->n;
	atomic_fetch_add(&ps->runs, 1);
	free(a);
}

typedef struct poster {
	post_state *ps;
	int idx;
} poster;

static void *poster_main(void *arg)
{
	poster *p = arg;
	for (int i = 1; i <= POSTS_EACH; i++) {
		post_arg *a = malloc(sizeof *a);
		*a = (post_arg){ p->ps, p->idx, i };
		cr_assert_eq(vs_loop_post(p->ps->s->loop, on_post, a), 0);
	}
	return NULL;
}

Test(loop, posts_from_threads_run_once_in_order_on_the_loop)
{
	static post_state ps;
	ps.s = nt_start(NULL, 0);
	ps.loop_thread = ps.s->thread;
	pthread_t th[POSTERS];
	poster p[POSTERS];
	for (int i = 0; i < POSTERS; i++) {
		p[i] = (poster){ &ps, i };
		pthread_create(&th[i], NULL, poster_main, &p[i]);
	}
	for (int i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	vs_loop_stats_t st;
	NT_WAIT(ps.s, st, atomic_load(&ps.runs) == POSTERS * POSTS_EACH);
	cr_assert_eq(atomic_load(&ps.wrong_thread), 0);
	cr_assert_eq(atomic_load(&ps.out_of_order), 0);
	cr_assert_geq(st.posts_run, POSTERS * POSTS_EACH);
	nt_stop(ps.s);
}

Test(loop, requests_answered_from_another_thread)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	for (uint64_t i = 0; i < 100; i++) {
		nt_send_req(fd, i % 2 ? 'P' : 'E', "abc", 3);
	}
	for (uint64_t i = 0; i < 100; i++) {
		size_t len;
		uint64_t seq;
		uint8_t *b = nt_recv_frame(fd, &len, &seq);
		cr_assert_eq(seq, i);
		cr_assert_eq(memcmp(b + 8, "cba", 3), 0);
		free(b);
	}
	close(fd);
	nt_stop(s);
}

static int g_leftover;
static void count_leftover(void *arg)
{
	(void)arg;
	g_leftover++;
}

Test(loop, free_runs_posts_still_queued)
{
	vs_loop_callbacks cb = { .on_request = nop_request };
	vs_loop *l;
	cr_assert_eq(vs_loop_new(NULL, &cb, &l), 0);
	cr_assert_eq(vs_loop_post(l, count_leftover, NULL), 0);
	cr_assert_eq(vs_loop_post(l, count_leftover, NULL), 0);
	vs_loop_free(l);
	cr_assert_eq(g_leftover, 2);
}

/* ---- watched fds, clock ------------------------------------------------- */

typedef struct watch_state {
	nt_server *s;
	int efd;
	int calls;
} watch_state;

static watch_state g_ws;

static void on_readable(void *arg)
{
	watch_state *ws = arg;
	uint64_t v;
	cr_assert_eq(read(ws->efd, &v, sizeof v), 8);
	ws->calls++;
	if (ws->calls == 3)
		cr_assert_eq(vs_loop_unwatch_fd(ws->s->loop, ws->efd), 0);
}

static void start_watch(nt_server *s, void *arg)
{
	(void)arg;
	cr_assert_eq(vs_loop_watch_fd(s->loop, g_ws.efd, on_readable, &g_ws), 0);
	cr_assert_eq(vs_loop_unwatch_fd(s->loop, 12345), -ENOENT);
	cr_assert_eq(vs_loop_watch_fd(s->loop, -1, on_readable, &g_ws), -EBADF);
	cr_assert(strstr(vs_loop_error(s->loop), "watching fd -1"));
}

static void read_calls(nt_server *s, void *arg)
{
	(void)s;
	*(int *)arg = g_ws.calls;
}

Test(loop, watched_fd_calls_back_until_unwatched)
{
	g_ws.s = nt_start(NULL, 0);
	g_ws.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	nt_call(g_ws.s, start_watch, NULL);
	uint64_t one = 1;
	int calls = 0;
	for (int i = 1; i <= 3; i++) {
		cr_assert_eq(write(g_ws.efd, &one, 8), 8);
		vs_loop_stats_t st;
		NT_WAIT(g_ws.s, st, (nt_call(g_ws.s, read_calls, &calls), calls == i));
	}
	cr_assert_eq(write(g_ws.efd, &one, 8), 8);
	vs_loop_stats_t st;
	nt_stats(g_ws.s, &st);
	nt_stats(g_ws.s, &st); /* two posts later the loop has seen the write */
	nt_call(g_ws.s, read_calls, &calls);
	cr_assert_eq(calls, 3, "called after vs_loop_unwatch_fd");
	close(g_ws.efd);
	nt_stop(g_ws.s);
}

static void busy_ms(int ms)
{
	int64_t end = nt_now_ms() + ms;
	while (nt_now_ms() < end)
		;
}

static void check_clock(nt_server *s, void *arg)
{
	int64_t a = vs_loop_now_ms(s->loop);
	busy_ms(5);
	*(int64_t *)arg = vs_loop_now_ms(s->loop) - a;
}

Test(loop, clock_is_cached_per_iteration)
{
	nt_server *s = nt_start(NULL, 0);
	int64_t d = -1;
	nt_call(s, check_clock, &d);
	cr_assert_eq(d, 0);
	nt_stop(s);
}

/* ---- stopping ----------------------------------------------------------- */

static vs_loop *g_sig_loop;
static void stop_handler(int sig)
{
	(void)sig;
	vs_loop_stop(g_sig_loop);
}

Test(loop, stop_from_a_signal_handler)
{
	nt_server *s = nt_start(NULL, 0);
	g_sig_loop = s->loop;
	struct sigaction sa = { .sa_handler = stop_handler };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	int fd = nt_connect(s->port);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_open == 1);
	pthread_kill(s->thread, SIGUSR1);
	cr_assert_eq(pthread_join(s->thread, NULL), 0);
	cr_assert_eq(s->run_rc, 0);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	cr_assert_eq(atomic_load(&s->closes), 1);
	cr_assert_eq(vs_loop_run(s->loop), -EINVAL, "a second run");
	close(fd);
	vs_loop_free(s->loop);
	free(s);
}

static void nothing(int sig) { (void)sig; }

typedef struct storm {
	pthread_t target;
	atomic_int stop;
} storm;

static void *storm_main(void *arg)
{
	storm *st = arg;
	while (!atomic_load(&st->stop)) {
		pthread_kill(st->target, SIGUSR2);
		usleep(50);
	}
	return NULL;
}

/* Signals interrupt the loop thread all the time; nothing is lost. */
Test(loop, eintr_storm)
{
	struct sigaction sa = { .sa_handler = nothing }; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	nt_server *s = nt_start(NULL, 0);
	static storm sm;
	sm.target = s->thread;
	pthread_t th;
	pthread_create(&th, NULL, storm_main, &sm);
	int fd = nt_connect(s->port);
	size_t n = 200 * 1024;
	char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7);
	for (uint64_t i = 0; i < 100; i++) {
		uint8_t ms[5];
		nt_be32(ms, 1);
		ms[4] = 'd';
		if (i % 10 == 0)
			nt_send_req(fd, 'D', ms, 5);
		else
			nt_send_req(fd, 'E', big, i % 3 ? 16 : n);
		size_t len;
		uint64_t seq;
		uint8_t *b = nt_recv_frame(fd, &len, &seq);
		cr_assert_eq(seq, i);
		if (i % 10 != 0 && i % 3 == 0) {
			cr_assert_eq(len, 8 + n);
			cr_assert_eq(b[8], (uint8_t)big[n - 1]);
		}
		free(b);
	}
	atomic_store(&sm.stop, 1);
	pthread_join(th, NULL);
	free(big);
	close(fd);
	nt_stop(s);
}

/* The broker answers during the grace period: the response is delivered,
 * the request sent after the stop is not read, then all closes. */
Test(loop, graceful_stop_flushes_pending_responses)
{
	nt_server *s = nt_start(NULL, 0);
	int idle = nt_connect(s->port);
	int fd = nt_connect(s->port);
	uint8_t arg[8];
	nt_be32(arg, 300);
	memcpy(arg + 4, "last", 4);
	nt_send_req(fd, 'D', arg, 8);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_in == 1 && st.conns_open == 2);
	vs_loop_stop(s->loop);
	nt_stats(s, &st);
	nt_stats(s, &st); /* the second post runs after the drain began */
	cr_assert(nt_closed(idle, NT_TIMEOUT_MS), "an idle connection survived the stop");
	nt_send_req(fd, 'E', "late", 4);
	size_t len;
	uint64_t seq;
	uint8_t *b = nt_recv_frame(fd, &len, &seq);
	cr_assert_eq(seq, 0);
	cr_assert_eq(memcmp(b + 8, "tsal", 4), 0);
	free(b);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS), "the connection stayed open");
	cr_assert_eq(pthread_join(s->thread, NULL), 0);
	cr_assert_eq(s->run_rc, 0);
	st = (vs_loop_stats_t){ 0 };
	vs_loop_stats(s->loop, &st);
	cr_assert_eq(st.frames_in, 1, "a request was read during the stop");
	cr_assert_eq(st.conns_closed_shutdown, 2);
	cr_assert_eq(atomic_load(&s->closes), 2);
	/* the listener is gone */
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_neq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	close(c);
	close(fd);
	close(idle);
	vs_loop_free(s->loop);
	free(s);
}

Test(loop, graceful_stop_gives_up_after_the_grace_period)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.shutdown_grace_ms = 300;
	nt_server *s = nt_start(&cfg, 0);
	int fd = nt_connect(s->port);
	nt_send_req(fd, 'H', NULL, 0);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.frames_in == 1);
	int64_t t0 = nt_now_ms();
	vs_loop_stop(s->loop);
	cr_assert_eq(pthread_join(s->thread, NULL), 0);
	int64_t took = nt_now_ms() - t0;
	cr_assert_geq(took, 250, "stopped before the grace period: %lld ms", (long long)took);
	cr_assert_lt(took, 3000);
	cr_assert(nt_closed(fd, NT_TIMEOUT_MS));
	cr_assert_eq(atomic_load(&s->closes), 1);
	/* the broker's late answer after the loop ended is harmless */
	uint8_t *f = malloc(12);
	nt_be32(f, 8);
	memset(f + 4, 0, 8);
	vs_loop_respond(s->loop, s->held[0].conn, s->held[0].seq, f, 12);
	close(fd);
	vs_loop_free(s->loop);
	free(s);
}

/* ---- idle sweep ---------------------------------------------------------- */

Test(loop, idle_connections_close_busy_ones_stay)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.idle_timeout_ms = 200;
	nt_server *s = nt_start(&cfg, 0);
	int idle = nt_connect(s->port);
	int held = nt_connect(s->port);
	int busy = nt_connect(s->port);
	nt_send_req(held, 'H', NULL, 0);
	int64_t t0 = nt_now_ms();
	uint64_t seq = 0;
	while (nt_now_ms() - t0 < 700) {
		nt_send_req(busy, 'E', "x", 1);
		size_t len;
		uint64_t got;
		free(nt_recv_frame(busy, &len, &got));
		cr_assert_eq(got, seq++);
		nt_sleep_ms(40);
	}
	cr_assert(nt_closed(idle, 0) || nt_closed(idle, NT_TIMEOUT_MS), "the idle connection stayed");
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_closed_idle == 1);
	cr_assert_eq(st.conns_open, 2, "a busy or waiting connection was closed");
	close(busy);
	NT_WAIT(s, st, st.conns_closed_peer == 1);
	/* answered, the waiting one becomes idle in turn */
	nt_release_held(s);
	size_t len;
	free(nt_recv_frame(held, &len, NULL));
	cr_assert(nt_closed(held, NT_TIMEOUT_MS));
	NT_WAIT(s, st, st.conns_closed_idle == 2);
	cr_assert_eq(atomic_load(&s->closes), 3);
	close(idle);
	close(held);
	nt_stop(s);
}

/* A client that stops reading is closed once no byte has left for the
 * idle timeout, although it has unsent responses. */
Test(loop, stuck_reader_is_closed_by_the_idle_timeout)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.idle_timeout_ms = 300;
	nt_server *s = nt_start(&cfg, 0);
	int fd = nt_connect(s->port);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	uint8_t arg[4];
	nt_be32(arg, 32u << 20);
	nt_send_req(fd, 'B', arg, 4);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_closed_idle == 1);
	cr_assert_eq(st.output_buffered_bytes, 0);
	cr_assert_eq(atomic_load(&s->closes), 1);
	close(fd);
	nt_stop(s);
}
