/* SPDX-License-Identifier: MIT */
/*
 * bt_util.c -- the broker tests' harness (see bt_util.h).
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
#include <sys/stat.h>
#include <unistd.h>

#include "bt_util.h"

vs_slice bt_s(const char *z)
{
	return (vs_slice){ (const uint8_t *)z, strlen(z) };
}

int bt_is(vs_slice s, const char *z)
{
	return vs_slice_eq(s, z);
}

static void *run(void *arg)
{
	bt *t = arg;
	t->run_rc = vs_broker_run(t->b);
	return NULL;
}

void bt_start(bt *t, void (*tweak)(vs_broker_config *cfg))
{
	bt_start_store(t, NULL, tweak);
}

void bt_start_store(bt *t, void (*store_tweak)(varve_options *o),
		    void (*tweak)(vs_broker_config *cfg))
{
	memset(t, 0, sizeof *t);
	const char *tmp = getenv("VARVE_TEST_TMPDIR");
	char base[400];
	snprintf(base, sizeof base, "%s", tmp && *tmp ? tmp : "/tmp");
	mkdir(base, 0700);
	snprintf(t->dir, sizeof t->dir, "%s/bt-XXXXXX", base);
	cr_assert(mkdtemp(t->dir), "mkdtemp %s: %s", t->dir, strerror(errno));
	strcat(t->dir, "/store");
	varve_options vo;
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	vo.sync_policy = VARVE_SYNC_NONE;
	if (store_tweak)
		store_tweak(&vo);
	cr_assert_eq(varve_open(t->dir, &vo, &t->db), 0);
	vs_broker_config cfg;
	vs_broker_config_default(&cfg);
	cfg.db = t->db;
	cfg.sync_policy = vo.sync_policy;
	cfg.cluster_id = "bt-cluster";
	cfg.lag_refresh_ms = 100;
	if (tweak)
		tweak(&cfg);
	cr_assert_eq(vs_broker_new(&cfg, &t->b), 0);
	cr_assert_eq(vs_broker_listen(t->b, "127.0.0.1:0", 1, &t->port), 0);
	cr_assert_eq(vs_broker_listen(t->b, "127.0.0.1:0", 0, &t->http_port), 0);
	cr_assert_eq(vs_broker_advertise(t->b, "127.0.0.1", t->port), 0);
	vs_arena_init(&t->arena, (size_t)64 << 20);
	cr_assert_eq(pthread_create(&t->thread, NULL, run, t), 0);
}

void bt_stop(bt *t)
{
	vs_broker_stop(t->b);
	pthread_join(t->thread, NULL);
	cr_assert_eq(t->run_rc, 0);
	vs_broker_free(t->b);
	cr_assert_eq(varve_close(t->db), 0);
	vs_arena_free(&t->arena);
}

int bt_connect(const bt *t)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)t->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

void bt_send_raw(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
		cr_assert(k > 0, "send: %s", strerror(errno));
		b += k;
		n -= (size_t)k;
	}
}

static int recv_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, BT_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t k = recv(fd, b, n, 0);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

uint8_t *bt_recv_frame(int fd, size_t *len)
{
	uint8_t hdr[4];
	cr_assert_eq(recv_all(fd, hdr, 4), 0, "no response frame");
	*len = vs_be32(hdr);
	cr_assert(*len < ((size_t)64 << 20));
	uint8_t *f = malloc(*len ? *len : 1);
	cr_assert(f);
	cr_assert_eq(recv_all(fd, f, *len), 0, "short response frame");
	return f;
}

int bt_closed(int fd, int ms)
{
	char buf[4096];
	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int r = poll(&pf, 1, ms);
		if (r <= 0)
			return 0;
		ssize_t k = recv(fd, buf, sizeof buf, 0);
		if (k <= 0)
			return 1;
	}
}

int32_t bt_send(bt *t, int fd, int16_t key, int16_t version, const vs_request *req)
{
	vs_request_header h = { key, version, ++t->corr, bt_s("bt"), 0 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_request_encode(&w, &h, req), KE_NONE, "encode request %d v%d", key, version);
	bt_send_raw(fd, w.buf, w.len);
	vs_wbuf_free(&w);
	return h.correlation_id;
}

/* The last response frame: decoded slices point into it. */
static uint8_t *last_frame;

void bt_recv(bt *t, int fd, int16_t key, int16_t version, int32_t corr, vs_response *resp)
{
	free(last_frame);
	size_t len;
	last_frame = bt_recv_frame(fd, &len);
	vs_rbuf r;
	vs_rbuf_init(&r, last_frame, len);
	int32_t got;
	cr_assert_eq(vs_response_header_parse(&r, key, version, &got), KE_NONE);
	cr_assert_eq(got, corr, "correlation id %d, expected %d", got, corr);
	vs_arena_reset(&t->arena);
	cr_assert_eq(vs_response_decode(key, version, &r, &t->arena, resp), KE_NONE,
		     "decode response %d v%d", key, version);
}

void bt_call(bt *t, int fd, int16_t key, int16_t version, const vs_request *req, vs_response *resp)
{
	int32_t corr = bt_send(t, fd, key, version, req);
	bt_recv(t, fd, key, version, corr, resp);
}

void bt_topic(bt *t, const char *name, uint32_t partitions)
{
	varve_topic_config cfg = VARVE_TOPIC_CONFIG_INIT;
	cfg.partitions = partitions;
	cr_assert_eq(varve_topic_create(t->db, name, &cfg), 0);
}

void bt_fill(bt *t, const char *topic, int32_t partition, int n, int64_t first_ts)
{
	for (int i = 0; i < n; i++) {
		char v[32];
		snprintf(v, sizeof v, "v%d", i);
		varve_record rec = { 0 };
		rec.value = v;
		rec.value_len = strlen(v);
		rec.timestamp = first_ts + 1000 * i;
		varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
		po.partition = partition;
		cr_assert_eq(varve_produce_batch(t->db, topic, &rec, 1, &po), 0);
	}
}

int bt_http_get(const bt *t, const char *path, char **body)
{
	bt tmp = *t;
	tmp.port = t->http_port;
	int fd = bt_connect(&tmp);
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	bt_send_raw(fd, req, (size_t)n);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		cr_assert(buf);
		struct pollfd pf = { fd, POLLIN, 0 };
		cr_assert(poll(&pf, 1, BT_TIMEOUT_MS) > 0, "HTTP answer timed out");
		ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	buf[len] = 0;
	int status = 0;
	cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &status), 1, "not HTTP: %.40s", buf);
	char *b = strstr(buf, "\r\n\r\n");
	cr_assert(b);
	*body = strdup(b + 4);
	free(buf);
	return status;
}
