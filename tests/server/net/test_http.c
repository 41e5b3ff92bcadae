/* SPDX-License-Identifier: MIT */
/*
 * test_http.c -- server/net/http.c: GET /metrics and 404 through on_http,
 * the query string cut off, refusals (405 for HEAD and POST, 400 for
 * malformed requests, 413 for an oversized head), a request in pieces, a
 * client that ends its side first, a POST body drained by the linger, the
 * linger's deadline, and a loop without on_http.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "nettest.h"

typedef struct reply {
	int status;
	char head[2048];
	char body[4096];
	size_t body_len;
} reply;

/* Read a whole response up to the server's end of stream. */
static void read_reply(int fd, reply *r)
{
	static char buf[65536];
	size_t n = 0;
	int64_t deadline = nt_now_ms() + NT_TIMEOUT_MS;
	struct timeval tv = { NT_TIMEOUT_MS / 1000, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	for (;;) {
		cr_assert_lt(nt_now_ms(), deadline, "no end of stream after the response");
		ssize_t got = recv(fd, buf + n, sizeof buf - 1 - n, 0);
		if (got == 0)
			break;
		cr_assert(got > 0, "recv: %s", strerror(errno));
		n += (size_t)got;
	}
	buf[n] = 0;
	char *end = strstr(buf, "\r\n\r\n");
	cr_assert(end, "no end of headers in: %s", buf);
	size_t hl = (size_t)(end - buf) + 4;
	cr_assert_lt(hl, sizeof r->head);
	memcpy(r->head, buf, hl);
	r->head[hl] = 0;
	r->body_len = n - hl;
	cr_assert_lt(r->body_len, sizeof r->body);
	memcpy(r->body, buf + hl, r->body_len);
	r->body[r->body_len] = 0;
	cr_assert_eq(sscanf(buf, "HTTP/1.1 %d ", &r->status), 1, "%s", buf);
	char cl[64];
	snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", r->body_len);
	cr_assert(strstr(r->head, cl), "Content-Length does not match the body: %s", r->head);
	cr_assert(strstr(r->head, "\r\nConnection: close\r\n"));
}

static void request(nt_server *s, const char *req, size_t len, reply *r)
{
	int fd = nt_connect(s->http_port);
	nt_send(fd, req, len);
	read_reply(fd, r);
	close(fd);
}

static void get_path(nt_server *s, void *arg) { snprintf(arg, 1100, "%s", s->http_path); }

Test(http, get_metrics)
{
	nt_server *s = calloc(1, sizeof *s);
	s->http_body = "varve_up 1\n";
	s->http_type = "text/plain; version=0.0.4; charset=utf-8";
	nt_start_into(s, NULL, 1);
	const char *req = "GET /metrics?name[]=x HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
	reply r;
	request(s, req, strlen(req), &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "varve_up 1\n");
	cr_assert(strstr(r.head, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "%s", r.head);
	char path[1100];
	nt_call(s, get_path, path);
	cr_assert_str_eq(path, "/metrics", "the query string reached on_http");
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_open == 0);
	cr_assert_eq(st.http_requests, 1);
	cr_assert_eq(st.http_errors, 0);
	cr_assert_eq(st.frames_in, 0);
	cr_assert_eq(atomic_load(&s->closes), 0, "on_close ran for an HTTP connection");
	nt_stop(s);
}

Test(http, unknown_path_is_404_and_bare_lf_is_accepted)
{
	nt_server *s = nt_start(NULL, 1);
	const char *req = "GET /nope HTTP/1.0\n\n";
	reply r;
	request(s, req, strlen(req), &r);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "no such page\n");
	nt_stop(s);
}

Test(http, other_methods_get_405)
{
	nt_server *s = nt_start(NULL, 1);
	const char *reqs[] = { "HEAD /metrics HTTP/1.1\r\n\r\n",
			       "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			       "DELETE / HTTP/1.1\r\n\r\n" };
	for (size_t i = 0; i < 3; i++) {
		reply r;
		request(s, reqs[i], strlen(reqs[i]), &r);
		cr_assert_eq(r.status, 405, "%s", reqs[i]);
		cr_assert(strstr(r.head, "\r\nAllow: GET\r\n"));
	}
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.http_errors, 3);
	cr_assert_eq(st.http_requests, 0, "on_http was called for a refused method");
	nt_stop(s);
}

Test(http, malformed_requests_get_400)
{
	nt_server *s = nt_start(NULL, 1);
	const char *reqs[] = { "GARBAGE\r\n\r\n",
			       "GET metrics HTTP/1.1\r\n\r\n",
			       "GET http://host/metrics HTTP/1.1\r\n\r\n",
			       "GET /metrics HTTP/2.0\r\n\r\n",
			       "GET /metrics\r\n\r\n",
			       "get /metrics HTTP/1.1\r\n\r\n",
			       "GET  /metrics HTTP/1.1\r\n\r\n" };
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		reply r;
		request(s, reqs[i], strlen(reqs[i]), &r);
		cr_assert_eq(r.status, 400, "%s", reqs[i]);
	}
	static const char nul[] = "GET /met\0rics HTTP/1.1\r\n\r\n";
	reply r;
	request(s, nul, sizeof nul - 1, &r);
	cr_assert_eq(r.status, 400);
	vs_loop_stats_t st;
	nt_stats(s, &st);
	cr_assert_eq(st.http_requests, 0);
	nt_stop(s);
}

Test(http, oversized_head_gets_413)
{
	nt_server *s = nt_start(NULL, 1);
	int fd = nt_connect(s->http_port);
	const char *line = "GET /metrics HTTP/1.1\r\n";
	nt_send(fd, line, strlen(line));
	char hdr[128];
	memset(hdr, 'a', sizeof hdr);
	memcpy(hdr, "X-Filler: ", 10);
	hdr[126] = '\r';
	hdr[127] = '\n';
	/* headers without end, beyond the limit: answered without the end */
	for (int i = 0; i < VS_HTTP_MAX_REQUEST / 128 + 1; i++)
		nt_send(fd, hdr, sizeof hdr);
	reply r;
	read_reply(fd, &r);
	cr_assert_eq(r.status, 413);
	close(fd);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_open == 0);
	cr_assert_eq(st.http_errors, 1);
	cr_assert_eq(st.input_buffered_bytes, 0);
	nt_stop(s);
}

Test(http, request_in_pieces_and_half_closed_client)
{
	nt_server *s = calloc(1, sizeof *s);
	s->http_body = "ok\n";
	nt_start_into(s, NULL, 1);
	int fd = nt_connect(s->http_port);
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	for (size_t i = 0; req[i]; i++) {
		nt_send(fd, req + i, 1);
		if (i % 5 == 0)
			nt_sleep_ms(1);
	}
	/* like `printf ... | nc -N`: the client ends its side at once */
	shutdown(fd, SHUT_WR);
	reply r;
	read_reply(fd, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok\n");
	close(fd);
	nt_stop(s);
}

/* The unread body must not turn the close into a reset that destroys
 * the response before the client reads it. */
Test(http, post_body_is_drained_not_reset)
{
	nt_server *s = nt_start(NULL, 1);
	for (int round = 0; round < 5; round++) {
		int fd = nt_connect(s->http_port);
		enum { BODY = 32 * 1024 };
		char *req = malloc(BODY + 128);
		int hl = snprintf(req, 128, "POST /metrics HTTP/1.1\r\nContent-Length: %d\r\n\r\n", BODY);
		memset(req + hl, 'b', BODY);
		nt_send(fd, req, (size_t)hl + BODY);
		free(req);
		nt_sleep_ms(20); /* let the server answer and close while data is unread */
		reply r;
		read_reply(fd, &r);
		cr_assert_eq(r.status, 405);
		close(fd);
	}
	nt_stop(s);
}

Test(http, linger_ends_after_its_deadline)
{
	nt_server *s = nt_start(NULL, 1);
	int fd = nt_connect(s->http_port);
	const char *req = "GET /x HTTP/1.1\r\n\r\n";
	nt_send(fd, req, strlen(req));
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.http_requests == 1);
	/* we never close: the server's side ends after VS_HTTP_LINGER_MS */
	int64_t t0 = nt_now_ms();
	NT_WAIT(s, st, st.conns_open == 0);
	cr_assert_geq(nt_now_ms() - t0, VS_HTTP_LINGER_MS / 2);
	reply r;
	read_reply(fd, &r);
	cr_assert_eq(r.status, 404);
	close(fd);
	nt_stop(s);
}

Test(http, bad_status_becomes_500_and_missing_callback_404)
{
	nt_server *s = calloc(1, sizeof *s);
	s->http_status = 42;
	s->http_type = "evil\r\nX-Injected: 1";
	nt_start_into(s, NULL, 1);
	const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
	reply r;
	request(s, req, strlen(req), &r);
	cr_assert_eq(r.status, 500);
	cr_assert_null(strstr(r.head, "X-Injected"), "a header was injected: %s", r.head);
	nt_stop(s);

	s = calloc(1, sizeof *s);
	s->no_http_callback = 1;
	nt_start_into(s, NULL, 1);
	request(s, req, strlen(req), &r);
	cr_assert_eq(r.status, 404);
	nt_stop(s);
}

/* HTTP connections count toward the limit like any other. */
Test(http, counts_toward_connection_limit)
{
	vs_loop_config cfg;
	nt_config(&cfg);
	cfg.max_connections = 1;
	nt_server *s = nt_start(&cfg, 1);
	int k = nt_connect(s->port);
	vs_loop_stats_t st;
	NT_WAIT(s, st, st.conns_open == 1);
	int h = nt_connect(s->http_port);
	cr_assert(nt_closed(h, NT_TIMEOUT_MS));
	NT_WAIT(s, st, st.conns_refused_max == 1);
	close(h);
	close(k);
	nt_stop(s);
}
