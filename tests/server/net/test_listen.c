/* SPDX-License-Identifier: MIT */
/*
 * test_listen.c -- server/net/listen.c: binding and its error messages,
 * IPv6, connection info (peer, listener index), the connection limits,
 * the pause when descriptors run out, and 1,000 idle connections that
 * must not slow down an active one.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

static vs_loop *bare_loop(void)
{
	vs_loop_callbacks cb = { .on_request = nop_request };
	vs_loop *l;
	cr_assert_eq(vs_loop_new(NULL, &cb, &l), 0);
	return l;
}

Test(listen, port_zero_picks_a_port)
{
	vs_loop *l = bare_loop();
	int port = 0;
	cr_assert_eq(vs_loop_listen(l, "127.0.0.1:0", VS_LISTEN_KAFKA, &port), 0);
	cr_assert(port > 0 && port < 65536);
	int fd = nt_connect(port); /* the backlog takes it before the loop runs */
	close(fd);
	vs_loop_free(l);
}

Test(listen, address_in_use_is_reported)
{
	vs_loop *l = bare_loop();
	int port;
	cr_assert_eq(vs_loop_listen(l, "127.0.0.1:0", VS_LISTEN_KAFKA, &port), 0);
	char addr[64], want[128];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	cr_assert_eq(vs_loop_listen(l, addr, VS_LISTEN_KAFKA, NULL), -EADDRINUSE);
	snprintf(want, sizeof want, "127.0.0.1:%d: address already in use", port);
	cr_assert_str_eq(vs_loop_error(l), want);
	vs_loop_free(l);
}

Test(listen, malformed_addresses_are_refused)
{
	vs_loop *l = bare_loop();
	const char *bad[] = { "nohostport", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:80x",
			      "::1:9092", "[::1]9092", "[::1", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(vs_loop_listen(l, bad[i], VS_LISTEN_KAFKA, NULL), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(vs_loop_error(l), "expected host:port"), "%s: %s", bad[i], vs_loop_error(l));
	}
	cr_assert_eq(vs_loop_listen(l, "no.such.host.invalid:9092", VS_LISTEN_KAFKA, NULL), -EINVAL);
	cr_assert(strncmp(vs_loop_error(l), "no.such.host.invalid:9092: ", 27) == 0, "%s", vs_loop_error(l));
	cr_assert_eq(vs_loop_listen(l, "127.0.0.1:0", 7, NULL), -EINVAL);
	vs_loop_free(l);
}

Test(listen, ipv6_loopback)
{
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	if (probe < 0 || bind(probe, (struct sockaddr *)&a, sizeof a) < 0)
		cr_skip_test("no IPv6 loopback here");
	close(probe);
	vs_loop *l = bare_loop();
	int port6;
	cr_assert_eq(vs_loop_listen(l, "[::1]:0", VS_LISTEN_KAFKA, &port6), 0, "%s", vs_loop_error(l));
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	a.sin6_port = htons((uint16_t)port6);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	close(fd);
	vs_loop_free(l);
}

/* on_request sees the client's address and the listener's index. */
Test(listen, connection_info)
{
	nt_server *s = nt_start(NULL, 0);
	int fd = nt_connect(s->port);
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	getsockname(fd, (struct sockaddr *)&me, &ml);
	nt_send_req(fd, 'I', NULL, 0);
	size_t len;
	uint8_t *b = nt_recv_frame(fd, &len, NULL);
	char want[64], got[64];
	snprintf(want, sizeof want, "127.0.0.1:%u|0", (unsigned)ntohs(me.sin_port));
	snprintf(got, sizeof got, "%.*s", (int)(len - 8), (const char *)b + 8);
	cr_assert_str_eq(got, want);
	free(b);
	close(fd);
	nt_stop(s);
}

static void listen_second(nt_server *s, void *arg)
{
	cr_assert_eq(vs_loop_listen(s->loop, "127.0.0.1:0", VS_LISTEN_KAFKA, arg), 0);
}

Test(listen, second_listener_has_index_one)
{
	nt_server *s = nt_start(NULL, 0);
	int port2;
	nt_call(s, listen_second, &port2); /* added while running */
	int fd = nt_connect(port2);
	nt_send_req(fd, 'I', NULL, 0);
	size_t len;
	uint8_t *b = nt_recv_frame(fd, &len, NULL);
	cr_assert_eq(b[len - 1], '1');
	cr_assert_eq(b[len - 2], '|');
	free(b);
	close(fd);
	nt_stop(s);
}

Test(listen, max_connections_refuses_the_rest)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_connections = 3;
	nt_server *s = nt_start(&cfg, 0);
	int fds[5];
	for (int i = 0; i < 5; i++)
		fds[i] = nt_connect(s->port);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_refused_max == 2);
	cr_assert_eq(st.conns_open, 3);
	cr_assert_eq(st.conns_accepted, 3);
	int refused = 0;
	for (int i = 0; i < 5; i++) {
		if (nt_closed(fds[i], 200)) {
			refused++;
			close(fds[i]);
			fds[i] = -1;
		}
	}
	cr_assert_eq(refused, 2);
	for (int i = 0; i < 5; i++) {
		if (fds[i] < 0)
			continue;
		nt_send_req(fds[i], 'E', "", 0);
		size_t len;
		free(nt_recv_frame(fds[i], &len, NULL));
	}
	/* a slot freed is a slot available */
	for (int i = 0; i < 5; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
			break;
		}
	}
	NT_WAIT(s, st, st.conns_open == 2);
	int again = nt_connect(s->port);
	nt_send_req(again, 'E', "", 0);
	size_t len;
	free(nt_recv_frame(again, &len, NULL));
	cr_assert_eq(atomic_load(&s->closes), 1, "refused connections reached on_close");
	nt_stop(s);
}

Test(listen, max_connections_per_ip)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_connections_per_ip = 2;
	nt_server *s = nt_start(&cfg, 0);
	int a = nt_connect(s->port), b = nt_connect(s->port), c = nt_connect(s->port);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_refused_per_ip == 1);
	cr_assert(nt_closed(c, NT_TIMEOUT_MS));
	/* another address of the loopback network is another peer */
	int d = nt_connect_from("127.0.0.2", s->port);
	nt_send_req(d, 'I', NULL, 0);
	size_t len;
	uint8_t *r = nt_recv_frame(d, &len, NULL);
	cr_assert(len > 18 && memcmp(r + 8, "127.0.0.2:", 10) == 0);
	free(r);
	nt_stats(s, &st);
	cr_assert_eq(st.conns_open, 3);
	close(a);
	NT_WAIT(s, st, st.conns_open == 2);
	int e = nt_connect(s->port);
	nt_send_req(e, 'E', "", 0);
	free(nt_recv_frame(e, &len, NULL));
	nt_stats(s, &st);
	cr_assert_eq(st.conns_refused_per_ip, 1);
	close(b);
	close(c);
	close(d);
	close(e);
	nt_stop(s);
}

/* Out of descriptors: accepting pauses instead of spinning, and resumes
 * once descriptors are back. */
Test(listen, out_of_descriptors_does_not_spin)
{
	nt_server *s = nt_start(NULL, 0);
	enum { N = 8 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int top = fds[N - 1];
	struct rlimit old, low;
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)top + 1; /* no descriptor free above the clients */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	for (int i = 0; i < N; i++)
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.accept_pauses >= 1);
	uint64_t it0 = st.iterations;
	nt_sleep_ms(400);
	nt_stats(s, &st);
	/* with the pause: a few wake-ups per 100 ms; without: many thousands */
	cr_assert_lt(st.iterations - it0, 200, "%llu iterations in 400 ms",
		     (unsigned long long)(st.iterations - it0));
	cr_assert_geq(st.accept_pauses, 2, "accepting was not retried");
	cr_assert_eq(st.conns_open, 0);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	NT_WAIT(s, st, st.conns_open == N);
	for (int i = 0; i < N; i++) {
		nt_send_req(fds[i], 'E', "", 0);
		size_t len;
		free(nt_recv_frame(fds[i], &len, NULL));
		close(fds[i]);
	}
	nt_stop(s);
}

/* 1,000 idle connections cost the active client nothing noticeable. */
Test(listen, thousand_idle_connections)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_connections_per_ip = 2000;
	nt_server *s = nt_start(&cfg, 0);
	enum { IDLE = 1000 };
	int *idle = malloc(IDLE * sizeof *idle);
	for (int i = 0; i < IDLE; i++)
		idle[i] = nt_connect(s->port);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_open == IDLE);
	int fd = nt_connect(s->port);
	int64_t worst = 0;
	for (uint64_t i = 0; i < 300; i++) {
		int64_t t0 = nt_now_ms();
		nt_send_req(fd, 'E', "hi", 2);
		size_t len;
		uint64_t seq;
		free(nt_recv_frame(fd, &len, &seq));
		cr_assert_eq(seq, i);
		int64_t dt = nt_now_ms() - t0;
		worst = dt > worst ? dt : worst;
	}
	cr_assert_lt(worst, 1000, "a round trip took %lld ms", (long long)worst);
	nt_stats(s, &st);
	cr_assert_eq(st.conns_open, IDLE + 1);
	for (int i = 0; i < IDLE; i++)
		close(idle[i]);
	free(idle);
	NT_WAIT(s, st, st.conns_open == 1);
	cr_assert_eq(atomic_load(&s->closes), IDLE);
	close(fd);
	nt_stop(s);
}
