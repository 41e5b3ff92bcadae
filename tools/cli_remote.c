/* SPDX-License-Identifier: MIT */
/*
 * cli_remote.c -- the ground the remote paths stand on (cli_remote_int.h):
 * librdkafka handles bounded by the command's --timeout-ms, error messages
 * naming the server, Metadata and ListOffsets lookups; and a small blocking
 * client of the Kafka protocol written with server/protocol's codecs, for
 * what librdkafka cannot send: the probe that a server answers
 * (ApiVersions) and varve's own VarveClean.
 *
 * The small client treats the server's bytes as it would any peer's: the
 * frame size is bounded, the correlation id checked, and the body decoded
 * by the same bounds-checked codecs the broker uses, into an arena with a
 * cap. Every socket wait has the deadline of the call.
 *
 * May call: librdkafka, server/protocol (kproto.h, kmsg.h), xxhash (the
 * store's key hash), cli_common.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli_parse.h"
#include "cli_remote_int.h"
#include "protocol/karena.h"
#include "protocol/kerrors.h"
#include "protocol/kmsg.h"
#include "protocol/kproto.h"

/* The largest answer the small client reads: its answers are tiny. */
#define RAW_MAX_FRAME (1u << 20)
#define RAW_ARENA_CAP (4u << 20)

int cli_remote_available(void)
{
	return 1;
}

int64_t rk_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rk_deadline(const rk_handle *k)
{
	return rk_now_ms() + k->c->timeout_ms;
}

int rk_left_ms(int64_t deadline)
{
	int64_t left = deadline - rk_now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* ---- the small client ----------------------------------------------------------------- */

/* Split "host:port" or "[v6]:port" into host and port strings. */
static int split_host_port(const char *addr, size_t len, char *host, size_t hcap, char *port,
			   size_t pcap)
{
	const char *colon = NULL;
	for (size_t i = 0; i < len; i++)
		if (addr[i] == ':')
			colon = addr + i;
	if (!colon || colon == addr + len - 1)
		return -1;
	const char *h = addr;
	size_t hn = (size_t)(colon - addr), pn = len - hn - 1;
	if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
		h++;
		hn -= 2;
	}
	if (hn == 0 || hn >= hcap || pn >= pcap)
		return -1;
	memcpy(host, h, hn);
	host[hn] = 0;
	memcpy(port, colon + 1, pn);
	port[pn] = 0;
	return 0;
}

/* Wait for fd to be ready for events until deadline: 0, or -1 (timed out). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { fd, events, 0 };
		int n = poll(&pfd, 1, rk_left_ms(deadline));
		if (n > 0)
			return 0;
		if (n == 0 || errno != EINTR || cli_stop)
			return -1;
	}
}

/* A connected non-blocking socket to addr (one host:port), or -1 with why. */
static int raw_connect(const char *addr, size_t len, int64_t deadline, char *why, size_t cap)
{
	char host[256], port[16];
	if (split_host_port(addr, len, host, sizeof host, port, sizeof port)) {
		snprintf(why, cap, "\"%.*s\" is not HOST:PORT", (int)len, addr);
		return -1;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(why, cap, "%s: %s", host, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	snprintf(why, cap, "no address");
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int rc = connect(fd, ai->ai_addr, ai->ai_addrlen), err = rc ? errno : 0;
		if (rc && err == EINPROGRESS) {
			socklen_t sl = sizeof err;
			if (wait_fd(fd, POLLOUT, deadline))
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl))
				err = errno;
		}
		if (err) {
			snprintf(why, cap, "cannot connect: %s", strerror(err));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			return -errno;
		} else if (wait_fd(fd, POLLOUT, deadline)) {
			return -ETIMEDOUT;
		}
	}
	return 0;
}

static int recv_all(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			return -ECONNRESET;
		} else if (errno != EAGAIN && errno != EINTR) {
			return -errno;
		} else if (wait_fd(fd, POLLIN, deadline)) {
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* One request and its answer on a fresh connection. The response's slices
 * point into *frame (free it after use), its arrays into the arena. */
static int raw_call(const char *addr, size_t len, int64_t deadline, int16_t key, int16_t version,
		    const vs_request *req, vs_arena *arena, vs_response *resp, uint8_t **frame,
		    char *why, size_t cap)
{
	*frame = NULL;
	int fd = raw_connect(addr, len, deadline, why, cap);
	if (fd < 0)
		return -1;
	static const char client[] = "varve-cli";
	vs_request_header h = { key, version, 1, { (const uint8_t *)client, sizeof client - 1 }, 0 };
	vs_wbuf w;
	vs_wbuf_init(&w);
	int rc = -1;
	uint8_t size[4];
	if (vs_request_encode(&w, &h, req) != KE_NONE) {
		snprintf(why, cap, "cannot encode the request");
	} else if ((rc = send_all(fd, w.buf, w.len, deadline)) ||
		   (rc = recv_all(fd, size, 4, deadline))) {
		snprintf(why, cap, "%s", rc == -ETIMEDOUT ? "no answer in time" : strerror(-rc));
		rc = -1;
	} else if (vs_be32(size) < 4 || vs_be32(size) > RAW_MAX_FRAME) {
		snprintf(why, cap, "not a Kafka answer (a frame of %" PRIu32 " bytes)", vs_be32(size));
		rc = -1;
	} else if (!(*frame = malloc(vs_be32(size)))) {
		snprintf(why, cap, "out of memory");
		rc = -1;
	} else if ((rc = recv_all(fd, *frame, vs_be32(size), deadline))) {
		snprintf(why, cap, "%s", rc == -ETIMEDOUT ? "no answer in time" : strerror(-rc));
		rc = -1;
	} else {
		vs_rbuf r;
		int32_t corr = 0;
		vs_rbuf_init(&r, *frame, vs_be32(size));
		rc = -1;
		if (vs_response_header_parse(&r, key, version, &corr) != KE_NONE || corr != 1)
			snprintf(why, cap, "not a Kafka answer (bad response header)");
		else if (vs_response_decode(key, version, &r, arena, resp) != KE_NONE)
			snprintf(why, cap, "an answer that does not decode");
		else
			rc = 0;
	}
	vs_wbuf_free(&w);
	close(fd);
	return rc;
}

int cli_remote_probe(const char *addr, int64_t timeout_ms, char *why, size_t cap)
{
	int64_t deadline = rk_now_ms() + timeout_ms;
	snprintf(why, cap, "no address");
	/* a bootstrap list: the first broker that answers will do */
	for (const char *p = addr; *p;) {
		size_t len = strcspn(p, ",");
		vs_request req;
		vs_response resp;
		vs_arena arena;
		uint8_t *frame;
		memset(&req, 0, sizeof req);
		vs_arena_init(&arena, RAW_ARENA_CAP);
		int rc = raw_call(p, len, deadline, VS_API_API_VERSIONS, 0, &req, &arena, &resp, &frame,
				  why, cap);
		if (rc == 0 && resp.api_versions.error_code != KE_NONE) {
			snprintf(why, cap, "ApiVersions answered error %d", resp.api_versions.error_code);
			rc = -1;
		}
		free(frame);
		vs_arena_free(&arena);
		if (rc == 0)
			return 0;
		p += len;
		if (*p == ',')
			p++;
	}
	return -1;
}

/* ---- clean (VarveClean) ---------------------------------------------------------------- */

int cli_remote_clean(cli_ctx *c, int force)
{
	int64_t deadline = rk_now_ms() + c->timeout_ms;
	char why[256];
	vs_request req;
	vs_response resp;
	vs_arena arena;
	uint8_t *frame;
	memset(&req, 0, sizeof req);
	req.varve_clean.force = force != 0;
	vs_arena_init(&arena, RAW_ARENA_CAP);
	/* the first server of a bootstrap list: varve serve is one broker */
	size_t len = strcspn(c->bootstrap, ",");
	int rc = raw_call(c->bootstrap, len, deadline, VS_API_VARVE_CLEAN, 0, &req, &arena, &resp,
			  &frame, why, sizeof why);
	if (rc) {
		/* a server that does not know VarveClean closes the connection */
		cli_errf("%.*s: clean: %s%s", (int)len, c->bootstrap, why,
			 strstr(why, "reset") || strstr(why, "answer that")
				 ? " (a varve serve of an older version cannot clean on request: "
				   "its cleaner runs on its own schedule)"
				 : "");
	} else if (resp.varve_clean.error_code != KE_NONE) {
		vs_slice m = resp.varve_clean.error_message;
		cli_errf("%.*s: clean: %s%s%.*s", (int)len, c->bootstrap,
			 rd_kafka_err2str((rd_kafka_resp_err_t)resp.varve_clean.error_code),
			 m.ptr ? ": " : "", m.ptr ? (int)m.len : 0, m.ptr ? (const char *)m.ptr : "");
		rc = -1;
	} else {
		const vs_varve_clean_response *r = &resp.varve_clean;
		char b[32];
		cli_format_size((uint64_t)(r->bytes_reclaimed > 0 ? r->bytes_reclaimed : 0), b,
				sizeof b);
		printf("cleaned: %" PRId64 " segments deleted by retention, %" PRId64
		       " partitions compacted (%" PRId64 " records dropped), %s reclaimed\n",
		       r->segments_deleted, r->compactions, r->records_dropped, b);
	}
	free(frame);
	vs_arena_free(&arena);
	return rc ? CLI_ERROR : CLI_OK;
}

/* ---- librdkafka handles ----------------------------------------------------------------- */

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	rk_handle *k = rd_kafka_opaque(rk);
	/* connection failures and the like: the command says what failed;
	 * the details with -v */
	if (k && k->c->verbose)
		cli_errf("%s: librdkafka %d %s: %s", k->c->bootstrap, level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	rk_handle *k = opaque;
	snprintf(k->last_error, sizeof k->last_error, "%s", reason ? reason : rd_kafka_err2str(err));
}

static int conf_set(rk_handle *k, rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char err[256];
	if (rd_kafka_conf_set(conf, name, value, err, sizeof err) == RD_KAFKA_CONF_OK)
		return 0;
	cli_errf("%s: %s", k->c->bootstrap, err);
	return -1;
}

int rk_open(cli_ctx *c, rd_kafka_type_t type, rk_conf_pairs conf_pairs,
	    void (*setup)(rd_kafka_conf_t *conf, void *ctx), void *ctx, rk_handle **out)
{
	*out = NULL;
	char why[256];
	if (!c->from_server_file && cli_remote_probe(c->bootstrap, c->timeout_ms, why, sizeof why)) {
		cli_errf("%s: no varve serve answers there: %s", c->bootstrap, why);
		return CLI_ERROR;
	}
	rk_handle *k = calloc(1, sizeof *k);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (!k || !conf) {
		free(k);
		if (conf)
			rd_kafka_conf_destroy(conf);
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	k->c = c;
	/* librdkafka's socket timeouts follow --timeout-ms within its ranges */
	char tmo[32], setup_tmo[32];
	int64_t t = c->timeout_ms;
	snprintf(tmo, sizeof tmo, "%" PRId64, t < 10 ? 10 : t > 300000 ? 300000 : t);
	snprintf(setup_tmo, sizeof setup_tmo, "%" PRId64, t < 1000 ? 1000 : t);
	const char *const base[] = {
		"bootstrap.servers", c->bootstrap, "client.id", "varve-cli",
		"socket.timeout.ms", tmo, "socket.connection.setup.timeout.ms", setup_tmo,
		"allow.auto.create.topics", "false", "message.max.bytes", "100000000",
		"log_level", c->verbose > 1 ? "7" : "4", NULL,
	};
	int bad = 0;
	for (size_t i = 0; base[i] && !bad; i += 2)
		bad = conf_set(k, conf, base[i], base[i + 1]);
	for (size_t i = 0; conf_pairs && conf_pairs[i] && !bad; i += 2)
		bad = conf_set(k, conf, conf_pairs[i], conf_pairs[i + 1]);
	if (bad) {
		rd_kafka_conf_destroy(conf);
		free(k);
		return CLI_ERROR;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	if (setup)
		setup(conf, ctx);
	char err[512];
	k->rk = rd_kafka_new(type, conf, err, sizeof err);
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		free(k);
		cli_errf("%s: cannot make a Kafka client: %s", c->bootstrap, err);
		return CLI_ERROR;
	}
	*out = k;
	return CLI_OK;
}

void rk_close(rk_handle *k)
{
	if (!k)
		return;
	if (k->rk)
		rd_kafka_destroy(k->rk);
	free(k);
}

/* ---- errors ---------------------------------------------------------------------------- */

int rk_fail(const rk_handle *k, const char *what, const char *text)
{
	cli_errf("%s: %s: %s", k->c->bootstrap, what, text);
	return CLI_ERROR;
}

int rk_fail_err(const rk_handle *k, const char *what, rd_kafka_resp_err_t err)
{
	if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE)
		return rk_fail_timeout(k, what);
	return rk_fail(k, what, rd_kafka_err2str(err));
}

int rk_fail_error(const rk_handle *k, const char *what, rd_kafka_error_t *error)
{
	char text[512];
	snprintf(text, sizeof text, "%s", rd_kafka_error_string(error));
	rd_kafka_error_destroy(error);
	return rk_fail(k, what, text);
}

int rk_fail_timeout(const rk_handle *k, const char *what)
{
	char text[700];
	snprintf(text, sizeof text, "no answer within %" PRId64 " ms (--timeout-ms)%s%s",
		 k->c->timeout_ms, k->last_error[0] ? "; last error: " : "", k->last_error);
	return rk_fail(k, what, text);
}

/* ---- admin calls ------------------------------------------------------------------------ */

rd_kafka_AdminOptions_t *rk_admin_options(rk_handle *k, rd_kafka_admin_op_t op, const char *what)
{
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(k->rk, op);
	if (!o) {
		rk_fail(k, what, "out of memory");
		return NULL;
	}
	char err[256];
	int t = k->c->timeout_ms > INT32_MAX ? INT32_MAX : (int)k->c->timeout_ms;
	rd_kafka_AdminOptions_set_request_timeout(o, t, err, sizeof err);
	/* topic operations: wait for the change itself, not only its start */
	if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
	    op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
		rd_kafka_AdminOptions_set_operation_timeout(o, t, err, sizeof err);
	return o;
}

rd_kafka_event_t *rk_admin_wait(rk_handle *k, rd_kafka_queue_t *q, const char *what)
{
	int64_t deadline = rk_deadline(k);
	for (;;) {
		/* a bound of our own as well as the request's: the result
		 * event always comes, but never wait past the deadline */
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, rk_left_ms(deadline) > 100
								     ? 100
								     : rk_left_ms(deadline));
		rd_kafka_poll(k->rk, 0); /* serves the error callback */
		if (ev && rd_kafka_event_error(ev)) {
			char text[512];
			rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
			snprintf(text, sizeof text, "%s", rd_kafka_event_error_string(ev));
			rd_kafka_event_destroy(ev);
			if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
				rk_fail_timeout(k, what);
			else
				rk_fail(k, what, text);
			return NULL;
		}
		if (ev)
			return ev;
		if (cli_stop) {
			rk_fail(k, what, "interrupted");
			return NULL;
		}
		if (rk_left_ms(deadline) == 0) {
			rk_fail_timeout(k, what);
			return NULL;
		}
	}
}

/* ---- lookups ----------------------------------------------------------------------------- */

int rk_topic_partitions(rk_handle *k, const char *topic, uint32_t *n)
{
	int rc = rk_topic_lookup(k, topic, n);
	if (rc == RK_NO_TOPIC)
		cli_errf("%s: no topic named %s", k->c->bootstrap, topic);
	return rc ? CLI_ERROR : CLI_OK;
}

int rk_topic_lookup(rk_handle *k, const char *topic, uint32_t *n)
{
	char what[300];
	snprintf(what, sizeof what, "topic %s", topic);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, topic, NULL);
	if (!rkt)
		return rk_fail_err(k, what, rd_kafka_last_error());
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, rkt, &md, rk_left_ms(rk_deadline(k)));
	rd_kafka_topic_destroy(rkt);
	if (err)
		return rk_fail_err(k, what, err);
	int rc = CLI_OK;
	if (md->topic_cnt != 1 || strcmp(md->topics[0].topic, topic)) {
		rc = rk_fail(k, what, "no such topic in the answer");
	} else if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
		rc = RK_NO_TOPIC;
	} else if (md->topics[0].err) {
		rc = rk_fail_err(k, what, md->topics[0].err);
	} else {
		*n = (uint32_t)md->topics[0].partition_cnt;
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rk_topic_names(rk_handle *k, char ***names, size_t *n)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 1, NULL, &md, rk_left_ms(rk_deadline(k)));
	if (err)
		return rk_fail_err(k, "listing topics", err);
	char **v = calloc((size_t)md->topic_cnt + 1, sizeof *v);
	size_t count = 0;
	int oom = !v;
	for (int i = 0; !oom && i < md->topic_cnt; i++) {
		if (md->topics[i].err)
			continue;
		if (!(v[count] = strdup(md->topics[i].topic)))
			oom = 1;
		else
			count++;
	}
	rd_kafka_metadata_destroy(md);
	if (oom) {
		rk_names_free(v, count);
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	qsort(v, count, sizeof *v, cmp_str);
	*names = v;
	*n = count;
	return CLI_OK;
}

void rk_names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int rk_watermarks(rk_handle *k, const char *topic, int32_t partition, int64_t *start,
		  int64_t *end)
{
	rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
		k->rk, topic, partition, start, end, rk_left_ms(rk_deadline(k)));
	if (!err)
		return CLI_OK;
	char what[300];
	snprintf(what, sizeof what, "offsets of %s/%" PRId32, topic, partition);
	return rk_fail_err(k, what, err);
}

int rk_offsets_for_time(rk_handle *k, rd_kafka_topic_partition_list_t *list, int64_t ts)
{
	for (int i = 0; i < list->cnt; i++)
		list->elems[i].offset = ts;
	rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(k->rk, list, rk_left_ms(rk_deadline(k)));
	if (err)
		return rk_fail_err(k, "offsets by time", err);
	for (int i = 0; i < list->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &list->elems[i];
		if (tp->err) {
			char what[300];
			snprintf(what, sizeof what, "offset by time of %s/%" PRId32, tp->topic,
				 tp->partition);
			return rk_fail_err(k, what, tp->err);
		}
		if (tp->offset < 0) /* none at or after ts (librdkafka says END) */
			tp->offset = -1;
	}
	return CLI_OK;
}

int32_t rk_key_partition(const void *key, size_t len, uint32_t partitions)
{
	/* the store's own choice (src/topic: XXH3 of the key, modulo the count) */
	return (int32_t)(XXH3_64bits(key, len) % partitions);
}
