/* SPDX-License-Identifier: MIT */
/*
 * nettest.c -- the network tests' test broker and clients (see nettest.h).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nettest.h"

void nt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int64_t nt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nt_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the test broker ---------------------------------------------------- */

/* A response: size, seq, body. */
static uint8_t *make_response(uint64_t seq, const uint8_t *body, size_t n, int reverse, size_t *len)
{
	*len = 4 + 8 + n;
	uint8_t *f = malloc(*len);
	cr_assert(f);
	nt_be32(f, (uint32_t)(8 + n));
	for (int i = 0; i < 8; i++)
		f[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	for (size_t i = 0; i < n; i++)
		f[12 + i] = reverse ? body[n - 1 - i] : body[i];
	return f;
}

static void respond_echo(vs_loop *l, vs_conn_id conn, uint64_t seq, const uint8_t *d, size_t n)
{
	size_t len;
	uint8_t *f = make_response(seq, d, n, 1, &len);
	vs_loop_respond(l, conn, seq, f, len);
}

typedef struct later {
	nt_server *s;
	vs_conn_id conn;
	uint64_t seq;
	int skip;
	size_t n;
	uint8_t data[];
} later;

static void later_fire(void *arg)
{
	later *t = arg;
	if (t->skip)
		vs_loop_skip_response(t->s->loop, t->conn, t->seq);
	else
		respond_echo(t->s->loop, t->conn, t->seq, t->data, t->n);
	free(t);
}

static later *later_new(nt_server *s, vs_conn_id conn, uint64_t seq, const uint8_t *d, size_t n)
{
	later *t = malloc(sizeof *t + n);
	cr_assert(t);
	t->s = s;
	t->conn = conn;
	t->seq = seq;
	t->skip = 0;
	t->n = n;
	if (n)
		memcpy(t->data, d, n);
	return t;
}

static void *poster_thread(void *arg)
{
	later *t = arg;
	cr_assert_eq(vs_loop_post(t->s->loop, later_fire, t), 0);
	return NULL;
}

static void timed(nt_server *s, const vs_conn_info *c, uint64_t seq, const uint8_t *f, size_t len, int skip)
{
	cr_assert(len >= 5);
	uint32_t ms = get_be32(f + 1);
	later *t = later_new(s, c->id, seq, f + 5, len - 5);
	t->skip = skip;
	cr_assert(vs_loop_timer_add(s->loop, ms, later_fire, t) != 0);
}

static void answer_big(nt_server *s, const vs_conn_info *c, uint64_t seq, const uint8_t *f, size_t len)
{
	cr_assert(len >= 5);
	uint32_t n = get_be32(f + 1);
	size_t flen = 12 + (size_t)n;
	uint8_t *r = malloc(flen);
	cr_assert(r);
	nt_be32(r, (uint32_t)(8 + n));
	for (int i = 0; i < 8; i++)
		r[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	for (uint32_t i = 0; i < n; i++)
		r[12 + i] = (uint8_t)i;
	vs_loop_respond(s->loop, c->id, seq, r, flen);
}

static void answer_misc(nt_server *s, const vs_conn_info *c, uint64_t seq, char cmd)
{
	vs_loop *l = s->loop;
	size_t len;
	uint8_t *r;
	char info[128];
	switch (cmd) {
	case 'T':
		respond_echo(l, c->id, seq, NULL, 0);
		respond_echo(l, c->id, seq, NULL, 0);
		break;
	case 'X':
		r = make_response(seq, NULL, 0, 0, &len);
		nt_be32(r, 1000); /* a size prefix that does not match */
		vs_loop_respond(l, c->id, seq, r, len);
		break;
	case 'I':
		snprintf(info, sizeof info, "%s|%d", c->peer, c->listener);
		r = make_response(seq, (const uint8_t *)info, strlen(info), 0, &len);
		vs_loop_respond(l, c->id, seq, r, len);
		break;
	default:
		cr_assert_fail("unknown test command %c", cmd);
	}
}

static void on_request(void *ctx, vs_loop *l, const vs_conn_info *c, uint64_t seq,
		       const uint8_t *f, size_t len)
{
	nt_server *s = ctx;
	atomic_fetch_add(&s->requests, 1);
	cr_assert(len >= 1, "empty test request");
	pthread_t th;
	switch (f[0]) {
	case 'E': respond_echo(l, c->id, seq, f + 1, len - 1); break;
	case 'D': timed(s, c, seq, f, len, 0); break;
	case 'Q': timed(s, c, seq, f, len, 1); break;
	case 'S': vs_loop_skip_response(l, c->id, seq); break;
	case 'B': answer_big(s, c, seq, f, len); break;
	case 'C': vs_loop_close_conn(l, c->id); break;
	case 'H':
		cr_assert(s->n_held < sizeof s->held / sizeof s->held[0]);
		s->held[s->n_held++] = (nt_held){ c->id, seq };
		break;
	case 'P':
		cr_assert_eq(pthread_create(&th, NULL, poster_thread, later_new(s, c->id, seq, f + 1, len - 1)), 0);
		pthread_detach(th);
		break;
	default: answer_misc(s, c, seq, (char)f[0]); break;
	}
}

static void on_close(void *ctx, vs_loop *l, vs_conn_id conn)
{
	nt_server *s = ctx;
	(void)l;
	atomic_store(&s->last_closed, conn);
	atomic_fetch_add(&s->closes, 1);
}

static int on_http(void *ctx, const char *path, vs_wbuf *body, const char **content_type)
{
	nt_server *s = ctx;
	snprintf(s->http_path, sizeof s->http_path, "%s", path);
	s->http_calls++;
	if (strcmp(path, "/metrics") != 0) {
		vs_w_raw(body, "no such page\n", 13);
		return 404;
	}
	if (s->http_body)
		vs_w_raw(body, s->http_body, strlen(s->http_body));
	if (s->http_type)
		*content_type = s->http_type;
	return s->http_status ? s->http_status : 200;
}

/* ---- running it --------------------------------------------------------- */

void nt_config(vs_loop_config *cfg) { vs_loop_config_default(cfg); }

static void *loop_thread(void *arg)
{
	nt_server *s = arg;
	s->run_rc = vs_loop_run(s->loop);
	return NULL;
}

void nt_start_into(nt_server *s, const vs_loop_config *cfg, int with_http)
{
	vs_loop_callbacks cb = { .ctx = s, .on_request = on_request, .on_close = on_close,
				 .on_http = s->no_http_callback ? NULL : on_http };
	cr_assert_eq(vs_loop_new(cfg, &cb, &s->loop), 0);
	cr_assert_eq(vs_loop_listen(s->loop, "127.0.0.1:0", VS_LISTEN_KAFKA, &s->port), 0,
		     "%s", vs_loop_error(s->loop));
	if (with_http)
		cr_assert_eq(vs_loop_listen(s->loop, "127.0.0.1:0", VS_LISTEN_HTTP, &s->http_port), 0);
	cr_assert_eq(pthread_create(&s->thread, NULL, loop_thread, s), 0);
}

nt_server *nt_start(const vs_loop_config *cfg, int with_http)
{
	nt_server *s = calloc(1, sizeof *s);
	cr_assert(s);
	nt_start_into(s, cfg, with_http);
	return s;
}

void nt_stop_join(nt_server *s)
{
	vs_loop_stop(s->loop);
	cr_assert_eq(pthread_join(s->thread, NULL), 0);
	cr_assert_eq(s->run_rc, 0);
}

void nt_stop(nt_server *s)
{
	nt_stop_join(s);
	vs_loop_free(s->loop);
	free(s);
}

typedef struct nt_callreq {
	nt_server *s;
	void (*fn)(nt_server *s, void *arg);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
} nt_callreq;

static void call_trampoline(void *arg)
{
	nt_callreq *r = arg;
	r->fn(r->s, r->arg);
	pthread_mutex_lock(&r->mu);
	r->done = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void nt_call(nt_server *s, void (*fn)(nt_server *s, void *arg), void *arg)
{
	nt_callreq r = { .s = s, .fn = fn, .arg = arg };
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	cr_assert_eq(vs_loop_post(s->loop, call_trampoline, &r), 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += NT_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&r.mu);
	int rc = 0;
	while (!r.done && rc == 0)
		rc = pthread_cond_timedwait(&r.cv, &r.mu, &dl);
	pthread_mutex_unlock(&r.mu);
	cr_assert(r.done, "the loop did not run a post in time");
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
}

static void get_stats(nt_server *s, void *arg) { vs_loop_stats(s->loop, arg); }

void nt_stats(nt_server *s, vs_loop_stats_t *st) { nt_call(s, get_stats, st); }

static void release_held(nt_server *s, void *arg)
{
	(void)arg;
	while (s->n_held) {
		nt_held h = s->held[--s->n_held];
		respond_echo(s->loop, h.conn, h.seq, NULL, 0);
	}
}

void nt_release_held(nt_server *s) { nt_call(s, release_held, NULL); }

static void count_held(nt_server *s, void *arg) { *(size_t *)arg = s->n_held; }

size_t nt_held_count(nt_server *s)
{
	size_t n;
	nt_call(s, count_held, &n);
	return n;
}

/* ---- clients ------------------------------------------------------------ */

int nt_connect_from(const char *src, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	if (src) {
		struct sockaddr_in la = { .sin_family = AF_INET };
		inet_pton(AF_INET, src, &la.sin_addr);
		cr_assert_eq(bind(fd, (struct sockaddr *)&la, sizeof la), 0, "bind %s: %s", src, strerror(errno));
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int nt_connect(int port) { return nt_connect_from(NULL, port); }

void nt_send(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		cr_assert(w > 0, "send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

size_t nt_frame(uint8_t *out, char cmd, const void *arg, size_t n)
{
	nt_be32(out, (uint32_t)(1 + n));
	out[4] = (uint8_t)cmd;
	if (n)
		memcpy(out + 5, arg, n);
	return 5 + n;
}

void nt_send_req(int fd, char cmd, const void *arg, size_t n)
{
	uint8_t *f = malloc(5 + n);
	cr_assert(f);
	nt_send(fd, f, nt_frame(f, cmd, arg, n));
	free(f);
}

int nt_recv_all(int fd, void *p, size_t n, int timeout_ms)
{
	uint8_t *b = p;
	int64_t deadline = nt_now_ms() + timeout_ms;
	while (n) {
		int64_t left = deadline - nt_now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t r = recv(fd, b, n, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

uint8_t *nt_recv_frame(int fd, size_t *len, uint64_t *seq)
{
	uint8_t h[4];
	cr_assert_eq(nt_recv_all(fd, h, 4, NT_TIMEOUT_MS), 0, "no response frame");
	uint32_t n = get_be32(h);
	cr_assert(n >= 8 && n < (256u << 20), "bad response size %u", n);
	uint8_t *b = malloc(n);
	cr_assert(b);
	cr_assert_eq(nt_recv_all(fd, b, n, NT_TIMEOUT_MS), 0, "short response frame");
	uint64_t sq = 0;
	for (int i = 0; i < 8; i++)
		sq = sq << 8 | b[i];
	if (seq)
		*seq = sq;
	*len = n;
	return b;
}

int nt_closed(int fd, int timeout_ms)
{
	int64_t deadline = nt_now_ms() + timeout_ms;
	uint8_t buf[65536];
	for (;;) {
		int64_t left = deadline - nt_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return 0;
		ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			return 1;
	}
}
