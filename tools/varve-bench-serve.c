/* SPDX-License-Identifier: MIT */
/*
 * varve-bench-serve -- Kafka clients (librdkafka) against `varve serve` on
 * loopback, each workload next to the embedded library doing the same work
 * in the same run.
 *
 *   varve-bench-serve [--quick] [--only LIST] [--varve PATH] DIR
 *
 * Starts `varve serve` (PATH, default: the `varve` next to this program) as
 * a child process on a fresh store under DIR (disk-backed; tmpfs is
 * refused), listening on a free loopback port, waits for its ready line,
 * runs the server workloads with librdkafka, stops it with SIGTERM, then
 * runs the embedded analogues through include/varve.h. Prints one JSON
 * object per result on stdout (bench/README.md's schema; "system" is
 * "serve" for the broker and "varve" for the library) and progress on
 * stderr. --quick divides every count by 10. --only takes a comma-separated
 * list of S1..S4, "serve", "embedded" or S<n>/serve, S<n>/embedded.
 *
 *   S1 1producer-linger5    1,000,000 x 100 B values (16 B keys), one
 *                           rd_kafka_t, linger.ms=5, acks=all; the store
 *                           syncs always. Embedded: varve_append_async of
 *                           batches as large as the broker's stored ones.
 *                           Also "client-enqueue-only": the same
 *                           rd_kafka_produce calls into a producer whose
 *                           broker never answers (the client's own cost)
 *   S2 8producers-linger0   the same 1,000,000 records from 8 threads with
 *                           one rd_kafka_t each (8 connections: 8
 *                           independent producers), linger.ms=0. Embedded:
 *                           8 threads of varve_append_async with batches as
 *                           large as the broker's stored ones; also
 *                           "8producers-per-record", 8 threads calling
 *                           varve_produce_async per record (one stored
 *                           batch per record: the library does not merge
 *                           the records of separate calls)
 *   S3 fetch                the S1 topic from offset 0 to the end with a
 *                           high-level consumer (rd_kafka_assign, batches
 *                           from the consumer queue). Embedded:
 *                           varve_iter_next_batch over the same stored log
 *   S4 e2e                  one record in flight: produce it (linger.ms=0,
 *                           acks=all), wait until a consumer receives it,
 *                           next. Embedded: varve_produce and a thread
 *                           blocked in varve_consumer_poll (also reported:
 *                           e2e-durable, until both the consumer has it and
 *                           the produce call has returned it durable)
 *
 * Server rows carry the CPU of both processes: this one (librdkafka's
 * threads; getrusage) and the broker (/proc/PID/stat), per record, and the
 * broker's fsyncs and stored batches from its /metrics.
 *
 * Every wait is bounded: a stalled client or broker ends the run with a
 * message (and the broker killed) rather than a hang.
 *
 * Calls only include/varve.h, librdkafka and the kernel: the broker is the
 * varve program, never linked in, so what is measured is what users run.
 */
#include "../bench/bench_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <librdkafka/rdkafka.h>

#include "cli_parse.h"
#include "varve.h"

#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6

#define TOPIC_S1 "s1"
#define TOPIC_S2 "s2"
#define TOPIC_S4 "s4"
#define VALUE_BYTES 100
#define S2_PRODUCERS 8
#define S4_WARMUP 100
/* No progress for this long means something is stuck: fail, do not hang. */
#define STALL_MS 60000

static struct bench_opts g_opts;
static const char *g_only;   /* NULL = everything */
static char g_varve[PATH_MAX]; /* the varve program */

/* ---------------------------------------------------------------------- */
/* Selection and output                                                    */

/* Does --only select workload wl ("S1") on side ("serve", "embedded")? */
static int selected(const char *wl, const char *side)
{
	if (!g_only)
		return 1;
	const char *cur = g_only, *item;
	size_t l, n = strlen(wl), s = strlen(side);
	while (cli_list_next(&cur, &item, &l)) {
		if ((l == s && strncasecmp(item, side, s) == 0) ||
		    (l == n && strncasecmp(item, wl, n) == 0) ||
		    (l == n + 1 + s && strncasecmp(item, wl, n) == 0 && item[n] == '/' &&
		     strncasecmp(item + n + 1, side, s) == 0))
			return 1;
	}
	return 0;
}

/* bench_emit with extra JSON members (`"a":1,"b":2`). */
static void emit(const struct bench_result *r, const char *extra)
{
	bench_emit_json(r, extra);
	char lat[96] = "";
	if (!isnan(r->p50_us))
		snprintf(lat, sizeof lat, ", p50 %.0f p99 %.0f max %.0f us", r->p50_us, r->p99_us,
			 r->max_us);
	bench_log("  %s %s/%s: %.0f records/s, %.2f CPU us/record%s%s%s", r->system, r->workload,
		  r->variant, r->records_per_s, r->cpu_us_per_record, lat, extra ? "; " : "",
		  extra ? extra : "");
}

/* ---------------------------------------------------------------------- */
/* The broker: a `varve serve` child                                       */

static struct {
	pid_t pid;
	int port, metrics_port;
	char bootstrap[64];
} g_srv = { -1, 0, 0, "" };

/* On any exit while the broker runs (bench_die included): do not leave it. */
static void server_kill_at_exit(void)
{
	if (g_srv.pid <= 0)
		return;
	kill(g_srv.pid, SIGKILL);
	waitpid(g_srv.pid, NULL, 0);
	g_srv.pid = -1;
}

/* Reads the child's ready line from fd within 30 s; 0 on EOF or timeout. */
static size_t read_ready_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	uint64_t deadline = bench_now_ns() + 30000000000ull;
	while (len + 1 < cap && !memchr(buf, '\n', len)) {
		uint64_t now = bench_now_ns();
		if (now >= deadline)
			return 0;
		struct pollfd p = { fd, POLLIN, 0 };
		int rc = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return 0;
		ssize_t got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		len += (size_t)got;
	}
	buf[len] = 0;
	return len;
}

/* Starts `varve serve STORE` on 127.0.0.1 (free ports) and waits until it
 * says it listens. */
static void server_start(const char *store)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* the broker goes with us if we are killed */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl(g_varve, g_varve, "serve", store, "--listen", "127.0.0.1:0", "--metrics",
		      "127.0.0.1:0", "--sync", "always", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", g_varve, strerror(errno));
		_exit(127);
	}
	g_srv.pid = pid;
	close(fds[1]);
	char line[512];
	size_t n = read_ready_line(fds[0], line, sizeof line);
	close(fds[0]);
	const char *at = n ? strstr(line, "listening on 127.0.0.1:") : NULL;
	const char *mat = n ? strstr(line, "metrics on port ") : NULL;
	if (!at || !mat)
		bench_die("%s serve did not report a listener within 30 s%s%s", g_varve,
			  n ? ": " : "", n ? line : "");
	g_srv.port = atoi(at + strlen("listening on 127.0.0.1:"));
	g_srv.metrics_port = atoi(mat + strlen("metrics on port "));
	if (g_srv.port <= 0 || g_srv.metrics_port <= 0)
		bench_die("cannot parse the ready line: %s", line);
	snprintf(g_srv.bootstrap, sizeof g_srv.bootstrap, "127.0.0.1:%d", g_srv.port);
	bench_log("varve serve (pid %d) on %s", (int)pid, g_srv.bootstrap);
}

/* SIGTERM, then wait (30 s at most) for a clean exit. */
static void server_stop(void)
{
	if (kill(g_srv.pid, SIGTERM) != 0)
		bench_die("kill: %s", strerror(errno));
	uint64_t deadline = bench_now_ns() + 30000000000ull;
	int status = 0;
	pid_t got;
	while ((got = waitpid(g_srv.pid, &status, WNOHANG)) == 0 && bench_now_ns() < deadline)
		usleep(10000);
	if (got != g_srv.pid)
		bench_die("varve serve did not stop within 30 s of SIGTERM");
	g_srv.pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("varve serve ended with status %d", status);
}

/* User + system CPU of process pid (all threads), µs; clock-tick resolution. */
static double proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f))
		bench_die("%s: %s", path, strerror(errno));
	fclose(f);
	/* after "pid (comm) ": state, then fields 4..13, utime (14), stime (15) */
	const char *p = strrchr(buf, ')');
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		bench_die("cannot parse %s", path);
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* The broker's /metrics page (malloc'ed, NUL-terminated). */
static char *metrics_get(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)g_srv.metrics_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		bench_die("connect to /metrics: %s", strerror(errno));
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
		bench_die("write to /metrics: %s", strerror(errno));
	size_t cap = 4u << 20, len = 0;
	char *text = bench_xmalloc(cap);
	uint64_t deadline = bench_now_ns() + 10000000000ull;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (bench_now_ns() >= deadline)
			bench_die("/metrics did not answer in 10 s");
		int ready = poll(&p, 1, 1000);
		if (ready < 0 && errno != EINTR)
			bench_die("poll: %s", strerror(errno));
		if (ready <= 0)
			continue;
		ssize_t got = read(fd, text + len, cap - 1 - len);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			bench_die("read /metrics: %s", strerror(errno));
		if (got == 0 || (len += (size_t)got) == cap - 1)
			break;
	}
	close(fd);
	text[len] = 0;
	return text;
}

/* The value of an unlabelled counter ("varve_fsyncs_total") in a page. */
static double metric(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *line = text; *line;) {
		if (strncmp(line, name, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		const char *nl = strchr(line, '\n');
		if (!nl)
			break;
		line = nl + 1;
	}
	bench_die("/metrics has no %s", name);
}

/* The broker's syncs (data and directory) and stored batches so far. */
static void broker_counters(double *syncs, double *appends)
{
	char *text = metrics_get();
	*syncs = metric(text, "varve_fsyncs_total") + metric(text, "varve_dir_syncs_total");
	*appends = metric(text, "varve_appends_total");
	free(text);
}

/* A measured phase against the broker: both processes' CPU, its syncs and
 * stored batches. */
struct serve_meter {
	struct bench_meter m;
	double broker_cpu_us, syncs, appends;
};

static struct serve_meter serve_meter_start(void)
{
	struct serve_meter s;
	broker_counters(&s.syncs, &s.appends);
	s.broker_cpu_us = proc_cpu_us(g_srv.pid);
	s.m = bench_meter_start();
	return s;
}

/* Fills r (seconds = now - start unless end_ns) and extra; returns the
 * broker's records per stored batch. */
static double serve_meter_stop(const struct serve_meter *s, struct bench_result *r,
			       long records, uint64_t end_ns, char *extra, size_t cap)
{
	bench_meter_stop(&s->m, r, records, VALUE_BYTES);
	double broker = proc_cpu_us(g_srv.pid) - s->broker_cpu_us;
	double client = r->cpu_us_per_record;
	if (end_ns) {
		r->seconds = (double)(end_ns - s->m.start_ns) / 1e9;
		r->records_per_s = (double)records / r->seconds;
		r->mb_per_s = (double)records * (BENCH_KEY_BYTES + VALUE_BYTES) / 1e6 / r->seconds;
	}
	double syncs, appends;
	broker_counters(&syncs, &appends);
	syncs -= s->syncs;
	appends -= s->appends;
	r->cpu_us_per_record = client + broker / (double)records;
	r->syncs_per_record = syncs / (double)records;
	double per_batch = appends > 0 ? (double)records / appends : NAN;
	snprintf(extra, cap, "\"client_cpu_us_per_record\":%.4g,\"broker_cpu_us_per_record\":%.4g",
		 client, broker / (double)records);
	if (!isnan(per_batch))
		snprintf(extra + strlen(extra), cap - strlen(extra), ",\"records_per_batch\":%.1f",
			 per_batch);
	return per_batch;
}

/* ---------------------------------------------------------------------- */
/* librdkafka                                                              */

/* Delivery reports of one producer (its dr_msg_cb runs in the threads that
 * call rd_kafka_poll / rd_kafka_flush on it). */
struct delivery {
	long ok, failed;
	rd_kafka_resp_err_t first_err;
	uint64_t *ack_ns; /* optional: ack latency of record k - 1 when its msg_opaque is k */
	long ack_cap;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct delivery *d = opaque;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		d->ok++;
	else if (d->failed++ == 0)
		d->first_err = m->err;
	/* librdkafka's own measure: from the produce call to the broker's
	 * acknowledgement, taken on its broker thread */
	intptr_t k = (intptr_t)m->_private;
	if (d->ack_ns && k > 0 && k <= d->ack_cap)
		d->ack_ns[k - 1] = (uint64_t)rd_kafka_message_latency(m) * 1000u;
}

/* A client of the broker; settings are name, value pairs ending in NULL. */
static rd_kafka_t *kafka_new(rd_kafka_type_t type, const char *const *settings,
			     struct delivery *dr)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	const char *base[] = { "bootstrap.servers", g_srv.bootstrap, "log.connection.close",
			       "false", NULL };
	for (int pass = 0; pass < 2; pass++)
		for (const char *const *s = pass ? settings : base; *s; s += 2)
			if (rd_kafka_conf_set(conf, s[0], s[1], err, sizeof err) != RD_KAFKA_CONF_OK)
				bench_die("librdkafka %s=%s: %s", s[0], s[1], err);
	if (dr) {
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
		rd_kafka_conf_set_opaque(conf, dr);
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
	if (!rk)
		bench_die("rd_kafka_new: %s", err);
	return rk;
}

/* Connects and learns the topic's leader before anything is timed. */
static void kafka_warm(rd_kafka_t *rk, rd_kafka_topic_t *rkt)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 30000);
	if (err)
		bench_die("metadata: %s", rd_kafka_err2str(err));
	int ok = md->topic_cnt == 1 && md->topics[0].err == 0 && md->topics[0].partition_cnt == 1;
	rd_kafka_metadata_destroy(md);
	if (!ok)
		bench_die("metadata of %s: not one partition", rd_kafka_topic_name(rkt));
}

/* Enqueues record seq (16 B key, 100 B value), waiting while the
 * producer's queue is full, as an application must. */
static void kafka_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, uint64_t seq, void *opaque)
{
	unsigned char key[BENCH_KEY_BYTES];
	bench_key(seq, key);
	uint64_t stalled_since = 0;
	while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)bench_value(seq, VALUE_BYTES),
				VALUE_BYTES, key, sizeof key, opaque) != 0) {
		rd_kafka_resp_err_t err = rd_kafka_last_error();
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			bench_die("produce: %s", rd_kafka_err2str(err));
		uint64_t now = bench_now_ns();
		if (!stalled_since)
			stalled_since = now;
		else if (now - stalled_since > (uint64_t)STALL_MS * 1000000u)
			bench_die("produce: the queue stayed full for %d s", STALL_MS / 1000);
		rd_kafka_poll(rk, 1); /* acknowledgements free the queue */
	}
}

/* Waits for every delivery report and checks them: n records delivered. */
static void kafka_flush_check(rd_kafka_t *rk, const struct delivery *d, long n)
{
	rd_kafka_resp_err_t err = rd_kafka_flush(rk, STALL_MS);
	if (err)
		bench_die("flush: %s", rd_kafka_err2str(err));
	if (d->failed)
		bench_die("%ld records failed: %s", d->failed, rd_kafka_err2str(d->first_err));
	if (d->ok != n)
		bench_die("%ld records acknowledged, %ld sent", d->ok, n);
}

/* ---------------------------------------------------------------------- */
/* S1: one producer, linger.ms=5                                           */

/* Returns the broker's records per stored batch (NAN if unknown). */
static double serve_s1(long n, int quiet)
{
	static const char *const conf[] = { "linger.ms", "5", "acks", "all", NULL };
	struct delivery d = { 0, 0, 0 };
	rd_kafka_t *rk = kafka_new(RD_KAFKA_PRODUCER, conf, &d);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC_S1, NULL);
	kafka_warm(rk, rkt);

	struct bench_result r = BENCH_RESULT(
		"serve", "S1", "1producer-linger5",
		"varve serve --sync always; librdkafka producer, linger.ms=5, acks=all, "
		"rd_kafka_produce with RD_KAFKA_MSG_F_COPY per record, other settings default");
	struct serve_meter m = serve_meter_start();
	for (long i = 0; i < n; i++) {
		kafka_produce(rk, rkt, (uint64_t)i, NULL);
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	kafka_flush_check(rk, &d, n);
	char extra[300];
	double per_batch = serve_meter_stop(&m, &r, n, 0, extra, sizeof extra);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	if (!quiet)
		emit(&r, extra);
	return per_batch;
}

/* The client's own share of S1: rd_kafka_produce of the same records into
 * a producer whose broker accepts the connection and never answers, so
 * every record stays queued in the client (no network, no broker). */
static void client_enqueue_only(long n)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		bench_die("a silent listener: %s", strerror(errno));
	char silent[64], max[32];
	snprintf(silent, sizeof silent, "127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(max, sizeof max, "%ld", n + 1);
	const char *conf[] = { "bootstrap.servers", silent, "linger.ms", "5", "acks", "all",
			       "queue.buffering.max.messages", max, NULL };
	rd_kafka_t *rk = kafka_new(RD_KAFKA_PRODUCER, conf, NULL);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC_S1, NULL);
	struct bench_result r = BENCH_RESULT(
		"serve", "S1", "client-enqueue-only",
		"rd_kafka_produce (RD_KAFKA_MSG_F_COPY) of the S1 records into a librdkafka producer "
		"whose broker never answers: the client's own cost, no network, no broker");
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < n; i++)
		kafka_produce(rk, rkt, (uint64_t)i, NULL);
	bench_meter_stop(&m, &r, n, VALUE_BYTES);
	r.syncs_per_record = NAN;
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	close(lfd);
	char extra[80];
	snprintf(extra, sizeof extra, "\"client_cpu_us_per_record\":%.4g", r.cpu_us_per_record);
	emit(&r, extra);
}

/* ---------------------------------------------------------------------- */
/* S2: eight producers, linger.ms=0                                        */

struct s2_producer {
	int id;
	long n;
	pthread_barrier_t *ready, *done;
	uint64_t end_ns;
};

/* One of 8 independent producers (own rd_kafka_t and connection): setup,
 * wait for the start, produce, wait for every ack, wait for the others. */
static void *s2_thread(void *arg)
{
	struct s2_producer *p = arg;
	static const char *const conf[] = { "linger.ms", "0", "acks", "all", NULL };
	struct delivery d = { 0, 0, 0 };
	rd_kafka_t *rk = kafka_new(RD_KAFKA_PRODUCER, conf, &d);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC_S2, NULL);
	kafka_warm(rk, rkt);
	pthread_barrier_wait(p->ready); /* connected */
	pthread_barrier_wait(p->ready); /* the meter runs */
	for (long i = 0; i < p->n; i++) {
		kafka_produce(rk, rkt, (uint64_t)i * S2_PRODUCERS + (uint64_t)p->id, NULL);
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	kafka_flush_check(rk, &d, p->n);
	p->end_ns = bench_now_ns();
	pthread_barrier_wait(p->done);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return NULL;
}

/* Returns the broker's records per stored batch (NAN if unknown). */
static double serve_s2(long n)
{
	struct s2_producer ps[S2_PRODUCERS];
	pthread_t tids[S2_PRODUCERS];
	pthread_barrier_t ready, done;
	long per = n / S2_PRODUCERS;
	pthread_barrier_init(&ready, NULL, S2_PRODUCERS + 1);
	pthread_barrier_init(&done, NULL, S2_PRODUCERS + 1);
	for (int i = 0; i < S2_PRODUCERS; i++) {
		ps[i] = (struct s2_producer){ i, per, &ready, &done, 0 };
		if (pthread_create(&tids[i], NULL, s2_thread, &ps[i]) != 0)
			bench_die("pthread_create failed");
	}
	struct bench_result r = BENCH_RESULT(
		"serve", "S2", "8producers-linger0",
		"varve serve --sync always; 8 threads, one librdkafka producer (rd_kafka_t, "
		"connection) each, linger.ms=0, acks=all, all into partition 0");
	pthread_barrier_wait(&ready); /* every producer connected */
	struct serve_meter m = serve_meter_start();
	pthread_barrier_wait(&ready); /* go */
	pthread_barrier_wait(&done); /* every record acknowledged */
	uint64_t end = 0;
	for (int i = 0; i < S2_PRODUCERS; i++)
		end = ps[i].end_ns > end ? ps[i].end_ns : end;
	char extra[300];
	double per_batch = serve_meter_stop(&m, &r, per * S2_PRODUCERS, end, extra, sizeof extra);
	for (int i = 0; i < S2_PRODUCERS; i++)
		pthread_join(tids[i], NULL);
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&done);
	emit(&r, extra);
	return per_batch;
}

/* ---------------------------------------------------------------------- */
/* S3: consume the S1 topic                                                */

/* A consumer of partition 0 of topic from offset 0 (no group membership:
 * rd_kafka_assign; nothing is committed). */
static rd_kafka_t *consumer_new(const char *topic, const char *const *conf)
{
	rd_kafka_t *rk = kafka_new(RD_KAFKA_CONSUMER, conf, NULL);
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	kafka_warm(rk, rkt);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, topic, 0)->offset = 0;
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (err)
		bench_die("assign: %s", rd_kafka_err2str(err));
	return rk;
}

/* Checks a consumed message: no error, the expected offset and key. */
static void check_message(const rd_kafka_message_t *m, long expect)
{
	if (m->err)
		bench_die("consume: %s", rd_kafka_message_errstr(m));
	if (m->offset != expect || m->key_len != BENCH_KEY_BYTES || m->len != VALUE_BYTES ||
	    bench_key_seq(m->key) != (uint64_t)expect)
		bench_die("consume: offset %lld (key %llu), expected %ld", (long long)m->offset,
			  m->key_len == BENCH_KEY_BYTES ? (unsigned long long)bench_key_seq(m->key) : 0ull,
			  expect);
}

static void serve_s3(long n)
{
	static const char *const conf[] = { "group.id", "varve-bench-serve", "enable.auto.commit",
					    "false", "enable.auto.offset.store", "false", NULL };
	struct bench_result r = BENCH_RESULT(
		"serve", "S3", "fetch",
		"librdkafka high-level consumer, rd_kafka_assign(partition 0, offset 0), "
		"rd_kafka_consume_batch_queue of up to 1000; the S1 topic; settings default");
	struct serve_meter m = serve_meter_start();
	rd_kafka_t *rk = consumer_new(TOPIC_S1, conf);
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
	rd_kafka_message_t *msgs[1000];
	long seen = 0;
	uint64_t progress = bench_now_ns();
	while (seen < n) {
		ssize_t k = rd_kafka_consume_batch_queue(q, 1000, msgs, 1000);
		if (k < 0)
			bench_die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
		for (ssize_t i = 0; i < k; i++) {
			check_message(msgs[i], seen++);
			bench_sink += ((const unsigned char *)msgs[i]->payload)[0];
			rd_kafka_message_destroy(msgs[i]);
		}
		uint64_t now = bench_now_ns();
		if (k > 0)
			progress = now;
		else if (now - progress > (uint64_t)STALL_MS * 1000000u)
			bench_die("consume: nothing for %d s after %ld of %ld records", STALL_MS / 1000,
				  seen, n);
	}
	char extra[300];
	serve_meter_stop(&m, &r, n, 0, extra, sizeof extra);
	rd_kafka_queue_destroy(q);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	/* the fetch appends nothing: the batches are S1's */
	char *mark = strstr(extra, ",\"records_per_batch\"");
	if (mark)
		*mark = 0;
	r.syncs_per_record = NAN;
	emit(&r, extra);
}

/* ---------------------------------------------------------------------- */
/* S4: produce-to-consume latency, one record in flight                    */

/* Appends ack_p50_us and ack_p99_us of n ack latencies (ns; sorted) to extra. */
static void ack_extra(char *extra, size_t cap, uint64_t *ack_ns, long n)
{
	struct bench_result a = BENCH_RESULT(NULL, NULL, NULL, NULL);
	bench_latencies(&a, ack_ns, (size_t)n);
	size_t len = strlen(extra);
	snprintf(extra + len, cap - len, "%s\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f",
		 len ? "," : "", a.p50_us, a.p99_us);
}

/* Polls the consumer until it returns offset expect. */
static void s4_await(rd_kafka_t *cons, long expect)
{
	uint64_t since = bench_now_ns();
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
		if (m) {
			check_message(m, expect);
			rd_kafka_message_destroy(m);
			return;
		}
		if (bench_now_ns() - since > (uint64_t)STALL_MS * 1000000u)
			bench_die("e2e: record %ld not received within %d s", expect, STALL_MS / 1000);
	}
}

static void serve_s4(long n)
{
	static const char *const pconf[] = { "linger.ms", "0", "acks", "all", NULL };
	static const char *const cconf[] = { "group.id", "varve-bench-serve", "enable.auto.commit",
					     "false", "enable.auto.offset.store", "false", NULL };
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)n);
	uint64_t *ack = calloc((size_t)n, sizeof *ack);
	struct delivery d = { 0, 0, 0, ack, n };
	if (!ack)
		bench_die("out of memory");
	rd_kafka_t *prod = kafka_new(RD_KAFKA_PRODUCER, pconf, &d);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, TOPIC_S4, NULL);
	kafka_warm(prod, rkt);
	rd_kafka_t *cons = consumer_new(TOPIC_S4, cconf);
	struct bench_result r = BENCH_RESULT(
		"serve", "S4", "e2e",
		"varve serve --sync always; one record in flight: rd_kafka_produce (linger.ms=0, "
		"acks=all), then rd_kafka_consumer_poll until it arrives (assigned consumer, "
		"settings default); first 100 records not timed; ack_*: librdkafka's "
		"rd_kafka_message_latency, produce call to acknowledgement");
	for (long i = 0; i < S4_WARMUP; i++) {
		kafka_produce(prod, rkt, (uint64_t)i, NULL);
		s4_await(cons, i);
		rd_kafka_poll(prod, 0);
	}
	struct serve_meter m = serve_meter_start();
	for (long i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns();
		kafka_produce(prod, rkt, (uint64_t)(S4_WARMUP + i), (void *)(intptr_t)(i + 1));
		s4_await(cons, S4_WARMUP + i);
		lat[i] = bench_now_ns() - t0;
		rd_kafka_poll(prod, 0);
	}
	char extra[300];
	serve_meter_stop(&m, &r, n, 0, extra, sizeof extra);
	bench_latencies(&r, lat, (size_t)n);
	kafka_flush_check(prod, &d, S4_WARMUP + n);
	ack_extra(extra, sizeof extra, ack, n);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(prod);
	rd_kafka_consumer_close(cons);
	rd_kafka_destroy(cons);
	free(lat);
	free(ack);
	emit(&r, extra);
}

/* ---------------------------------------------------------------------- */
/* Embedded analogues                                                      */

static void vcheck(int rc, const char *what)
{
	if (rc == VARVE_OK)
		return;
	const char *detail = varve_last_error()->message;
	bench_die("varve %s: %s (%s)", what, varve_errmsg(rc), detail ? detail : "-");
}

/* A store at path with sync=always and the topics of the workloads. */
static varve_db *store_open(const char *path, int create_topics)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.sync_policy = VARVE_SYNC_ALWAYS;
	varve_db *db;
	vcheck(varve_open(path, &o, &db), "open");
	static const char *const topics[] = { TOPIC_S1, TOPIC_S2, TOPIC_S4 };
	for (size_t i = 0; create_topics && i < sizeof topics / sizeof topics[0]; i++) {
		varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
		vcheck(varve_topic_create(db, topics[i], &c), "topic_create");
	}
	return db;
}

static varve_stats stats(varve_db *db)
{
	varve_stats s;
	memset(&s, 0, sizeof s);
	s.version = VARVE_STATS_VERSION;
	vcheck(varve_stats_get(db, &s), "stats_get");
	return s;
}

static void fill_record(varve_record *rec, unsigned char key[BENCH_KEY_BYTES], uint64_t seq)
{
	bench_key(seq, key);
	memset(rec, 0, sizeof *rec);
	rec->key = key;
	rec->key_len = BENCH_KEY_BYTES;
	rec->value = bench_value(seq, VALUE_BYTES);
	rec->value_len = VALUE_BYTES;
	rec->timestamp = VARVE_TIMESTAMP_NOW;
	rec->partition = 0;
}

/* Completions of asynchronous appends (the store's completion thread). */
struct acks {
	atomic_long ok, failed;
};

static void on_appended(void *ctx, int rc, const varve_append_result *res)
{
	(void)res;
	struct acks *a = ctx;
	atomic_fetch_add(rc == VARVE_OK ? &a->ok : &a->failed, 1);
}

static void on_produced(void *ctx, int rc, int32_t partition, int64_t offset)
{
	(void)partition, (void)offset;
	struct acks *a = ctx;
	atomic_fetch_add(rc == VARVE_OK ? &a->ok : &a->failed, 1);
}

/* syncs, stored batches and CPU of an embedded phase, as the server's. */
static void embedded_stop(const struct bench_meter *m, struct bench_result *r, varve_db *db,
			  const varve_stats *s0, long records, char *extra, size_t cap)
{
	bench_meter_stop(m, r, records, VALUE_BYTES);
	varve_stats s1 = stats(db);
	r->syncs_per_record =
		(double)(s1.fsyncs + s1.dir_syncs - s0->fsyncs - s0->dir_syncs) / (double)records;
	uint64_t appends = s1.appends - s0->appends;
	snprintf(extra, cap, "\"records_per_batch\":%.1f",
		 appends ? (double)records / (double)appends : 0.0);
}

/* One appending thread of embedded_append: records seq = i * stride + id,
 * per_batch of them per varve_append_async call. */
struct appender {
	varve_db *db;
	const char *topic;
	int id, stride;
	long n, per_batch, calls;
	struct acks *acks;
	pthread_barrier_t *ready;
};

static void *appender_run(void *arg)
{
	struct appender *p = arg;
	unsigned char(*keys)[BENCH_KEY_BYTES] = bench_xmalloc(sizeof *keys * (size_t)p->per_batch);
	varve_record *recs = bench_xmalloc(sizeof *recs * (size_t)p->per_batch);
	varve_append_options ao = VARVE_APPEND_OPTIONS_INIT;
	pthread_barrier_wait(p->ready);
	for (long i = 0; i < p->n; i += p->per_batch, p->calls++) {
		long k = p->n - i < p->per_batch ? p->n - i : p->per_batch;
		for (long j = 0; j < k; j++)
			fill_record(&recs[j], keys[j],
				    (uint64_t)(i + j) * (uint64_t)p->stride + (uint64_t)p->id);
		vcheck(varve_append_async(p->db, p->topic, 0, recs, (size_t)k, &ao, on_appended,
					  p->acks),
		       "append_async");
	}
	free(keys);
	free(recs);
	return NULL;
}

/* S1 (1 thread) and S2 (8 threads): varve_append_async of per_batch records
 * per call into partition 0 of one store, then varve_flush: what the
 * broker's store did for the Kafka producers, without the protocol. */
static void embedded_append(const char *workload, const char *variant, const char *topic,
			    int threads, long n, long per_batch)
{
	char config[300];
	snprintf(config, sizeof config,
		 "sync=always; %d thread%s calling varve_append_async of %ld records (the broker's "
		 "mean stored batch in %s) into partition 0, varve_flush after the last",
		 threads, threads > 1 ? "s" : "", per_batch, workload);
	struct bench_result r = BENCH_RESULT("varve", workload, variant, config);
	char *path = bench_fresh_dir(&g_opts, "embedded-append", 0);
	varve_db *db = store_open(path, 1);
	struct acks a;
	atomic_init(&a.ok, 0);
	atomic_init(&a.failed, 0);
	struct appender ps[S2_PRODUCERS];
	pthread_t tids[S2_PRODUCERS];
	pthread_barrier_t ready;
	long per = n / threads, calls = 0;
	if (threads < 1 || threads > S2_PRODUCERS)
		bench_die("embedded_append: %d threads", threads);
	pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		ps[i] = (struct appender){ db, topic, i, threads, per, per_batch, 0, &a, &ready };
		if (pthread_create(&tids[i], NULL, appender_run, &ps[i]) != 0)
			bench_die("pthread_create failed");
	}
	varve_stats s0 = stats(db);
	pthread_barrier_wait(&ready);
	struct bench_meter m = bench_meter_start();
	for (int i = 0; i < threads; i++) {
		pthread_join(tids[i], NULL);
		calls += ps[i].calls;
	}
	vcheck(varve_flush(db), "flush");
	char extra[120];
	embedded_stop(&m, &r, db, &s0, per * threads, extra, sizeof extra);
	if (atomic_load(&a.ok) != calls || atomic_load(&a.failed))
		bench_die("append_async: %ld of %ld batches acknowledged", atomic_load(&a.ok), calls);
	pthread_barrier_destroy(&ready);
	vcheck(varve_close(db), "close");
	bench_rmrf(path);
	free(path);
	emit(&r, extra);
}

struct s2_embedded {
	varve_db *db;
	int id;
	long n;
	struct acks *acks;
	pthread_barrier_t *ready;
};

static void *s2_embedded_thread(void *arg)
{
	struct s2_embedded *p = arg;
	unsigned char key[BENCH_KEY_BYTES];
	varve_record rec;
	pthread_barrier_wait(p->ready);
	for (long i = 0; i < p->n; i++) {
		fill_record(&rec, key, (uint64_t)i * S2_PRODUCERS + (uint64_t)p->id);
		vcheck(varve_produce_async(p->db, TOPIC_S2, &rec, on_produced, p->acks),
		       "produce_async");
	}
	return NULL;
}

/* S2 per record: 8 threads, varve_produce_async of each record (the
 * library's per-record API, which appends every record as its own batch). */
static void embedded_s2_per_record(long n)
{
	struct bench_result r = BENCH_RESULT(
		"varve", "S2", "8producers-per-record",
		"sync=always; 8 threads calling varve_produce_async per record into partition 0 "
		"of one store, varve_flush after the last");
	char *path = bench_fresh_dir(&g_opts, "embedded-s2", 0);
	varve_db *db = store_open(path, 1);
	struct acks a;
	atomic_init(&a.ok, 0);
	atomic_init(&a.failed, 0);
	struct s2_embedded ps[S2_PRODUCERS];
	pthread_t tids[S2_PRODUCERS];
	pthread_barrier_t ready;
	long per = n / S2_PRODUCERS;
	pthread_barrier_init(&ready, NULL, S2_PRODUCERS + 1);
	for (int i = 0; i < S2_PRODUCERS; i++) {
		ps[i] = (struct s2_embedded){ db, i, per, &a, &ready };
		if (pthread_create(&tids[i], NULL, s2_embedded_thread, &ps[i]) != 0)
			bench_die("pthread_create failed");
	}
	varve_stats s0 = stats(db);
	pthread_barrier_wait(&ready);
	struct bench_meter m = bench_meter_start();
	for (int i = 0; i < S2_PRODUCERS; i++)
		pthread_join(tids[i], NULL);
	vcheck(varve_flush(db), "flush");
	char extra[120];
	embedded_stop(&m, &r, db, &s0, per * S2_PRODUCERS, extra, sizeof extra);
	if (atomic_load(&a.ok) != per * S2_PRODUCERS || atomic_load(&a.failed))
		bench_die("produce_async: %ld of %ld acknowledged", atomic_load(&a.ok),
			  per * S2_PRODUCERS);
	pthread_barrier_destroy(&ready);
	vcheck(varve_close(db), "close");
	bench_rmrf(path);
	free(path);
	emit(&r, extra);
}

/* S3: the broker's S1 log (its store, after it stopped) through
 * varve_iter_next_batch, as the broker's Fetch reads it. */
static void embedded_s3(const char *store, long n)
{
	struct bench_result r = BENCH_RESULT(
		"varve", "S3", "fetch",
		"varve_iter_next_batch from offset 0 over the S1 topic the broker stored, first "
		"byte of each value touched, offsets and keys checked");
	varve_db *db = store_open(store, 0);
	varve_iter *it;
	long seen = 0;
	int rc;
	const varve_batch_info *bi;
	const varve_record *recs;
	size_t k;
	struct bench_meter m = bench_meter_start();
	vcheck(varve_iter_open(db, TOPIC_S1, 0, 0, &it), "iter_open");
	while ((rc = varve_iter_next_batch(it, &bi, &recs, &k)) == VARVE_OK) {
		for (size_t i = 0; i < k; i++, seen++) {
			if (recs[i].offset != seen || recs[i].key_len != BENCH_KEY_BYTES ||
			    bench_key_seq(recs[i].key) != (uint64_t)seen)
				bench_die("replay: offset %lld, expected %ld", (long long)recs[i].offset,
					  seen);
			bench_sink += ((const unsigned char *)recs[i].value)[0];
		}
	}
	if (rc != VARVE_EEND)
		vcheck(rc, "iter_next_batch");
	varve_iter_close(it);
	bench_meter_stop(&m, &r, seen, VALUE_BYTES);
	r.syncs_per_record = NAN;
	vcheck(varve_close(db), "close");
	if (seen != n)
		bench_die("replay saw %ld records, expected %ld", seen, n);
	emit(&r, NULL);
}

struct e2e_ctx {
	varve_db *db;
	long n;
	uint64_t *sent_ns, *seen_ns;
	atomic_long received;
	atomic_int ready;
};

static void *e2e_consumer(void *arg)
{
	struct e2e_ctx *c = arg;
	const char *topics[] = { TOPIC_S4 };
	varve_consumer_options o = VARVE_CONSUMER_OPTIONS_INIT;
	varve_consumer *cons;
	o.auto_offset_reset = VARVE_RESET_EARLIEST;
	vcheck(varve_consumer_open(c->db, "bench-e2e", topics, 1, &o, &cons), "consumer_open");
	atomic_store(&c->ready, 1);
	while (atomic_load(&c->received) < c->n) {
		const varve_msg *msgs;
		size_t k;
		vcheck(varve_consumer_poll(cons, 1000, &msgs, &k), "consumer_poll");
		uint64_t now = bench_now_ns();
		for (size_t j = 0; j < k; j++) {
			int64_t off = msgs[j].rec.offset;
			if (off != atomic_load(&c->received) + (long)j)
				bench_die("e2e: offset %lld out of order", (long long)off);
			c->seen_ns[off] = now;
		}
		atomic_fetch_add(&c->received, (long)k);
	}
	varve_consumer_close(cons);
	return NULL;
}

/* Produces record i and waits until the consumer thread has it; *returned
 * gets the time varve_produce returned (the record durable). */
static void e2e_one(struct e2e_ctx *c, long i, uint64_t *returned)
{
	unsigned char key[BENCH_KEY_BYTES];
	varve_record rec;
	fill_record(&rec, key, (uint64_t)i);
	c->sent_ns[i] = bench_now_ns();
	vcheck(varve_produce(c->db, TOPIC_S4, &rec, NULL, NULL), "produce");
	*returned = bench_now_ns();
	while (atomic_load(&c->received) <= i) {
		if (bench_now_ns() - *returned > (uint64_t)STALL_MS * 1000000u)
			bench_die("e2e: record %ld not received within %d s", i, STALL_MS / 1000);
		sched_yield();
	}
}

/* S4: varve_produce (sync=always) of one record, a consumer thread blocked
 * in varve_consumer_poll, next produce once it arrived. Emits "e2e" (until
 * the consumer has it) and "e2e-durable" (until the produce call has also
 * returned: the record is durable). */
static void embedded_s4(long n)
{
	char *path = bench_fresh_dir(&g_opts, "embedded-s4", 0);
	struct e2e_ctx c;
	memset(&c, 0, sizeof c);
	c.db = store_open(path, 1);
	c.n = S4_WARMUP + n;
	c.sent_ns = bench_xmalloc(sizeof *c.sent_ns * (size_t)c.n);
	c.seen_ns = bench_xmalloc(sizeof *c.seen_ns * (size_t)c.n);
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)n);
	uint64_t *lat_durable = bench_xmalloc(sizeof *lat * (size_t)n);
	uint64_t *ack = bench_xmalloc(sizeof *ack * (size_t)n);
	atomic_init(&c.received, 0);
	atomic_init(&c.ready, 0);
	pthread_t tid;
	if (pthread_create(&tid, NULL, e2e_consumer, &c) != 0)
		bench_die("pthread_create failed");
	while (!atomic_load(&c.ready))
		sched_yield();
	usleep(10000); /* let the consumer block in poll */
	struct bench_result r = BENCH_RESULT(
		"varve", "S4", "e2e",
		"sync=always; varve_produce of one record, a consumer thread blocked in "
		"varve_consumer_poll; next produce once it arrived; time until the consumer has it "
		"(records are readable before they are durable); first 100 not timed");
	struct bench_result rd = BENCH_RESULT(
		"varve", "S4", "e2e-durable",
		"as e2e, timed until the consumer has the record and varve_produce has returned "
		"(the record is durable); ack_*: until varve_produce returned");
	uint64_t returned = 0;
	for (long i = 0; i < S4_WARMUP; i++)
		e2e_one(&c, i, &returned);
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < n; i++) {
		long at = S4_WARMUP + i;
		e2e_one(&c, at, &returned);
		uint64_t seen = c.seen_ns[at];
		lat[i] = seen - c.sent_ns[at];
		lat_durable[i] = (seen > returned ? seen : returned) - c.sent_ns[at];
		ack[i] = returned - c.sent_ns[at];
	}
	bench_meter_stop(&m, &r, n, VALUE_BYTES);
	pthread_join(tid, NULL);
	r.syncs_per_record = NAN;
	rd.records = r.records, rd.value_bytes = r.value_bytes, rd.seconds = r.seconds;
	rd.records_per_s = r.records_per_s, rd.mb_per_s = r.mb_per_s;
	rd.cpu_us_per_record = r.cpu_us_per_record;
	bench_latencies(&r, lat, (size_t)n);
	bench_latencies(&rd, lat_durable, (size_t)n);
	char extra[80] = "";
	ack_extra(extra, sizeof extra, ack, n);
	vcheck(varve_close(c.db), "close");
	bench_rmrf(path);
	free(path);
	free(c.sent_ns);
	free(c.seen_ns);
	free(lat);
	free(lat_durable);
	free(ack);
	emit(&r, extra);
	emit(&rd, extra);
}

/* ---------------------------------------------------------------------- */

/* The server workloads on a fresh store DIR/serve-store; returns its path
 * (left on disk for embedded_s3) and the broker's S1 batch size. */
static char *run_server(long n, long n_e2e, double *s1_per_batch, double *s2_per_batch)
{
	char *store = bench_fresh_dir(&g_opts, "serve-store", 0);
	vcheck(varve_close(store_open(store, 1)), "close");
	server_start(store);
	int s1 = selected("S1", "serve");
	if (s1) {
		bench_log("serve: S1 client alone (rd_kafka_produce, no broker)");
		client_enqueue_only(n);
	}
	if (s1 || selected("S3", "serve") || selected("S3", "embedded")) {
		bench_log("serve: S1 producer, linger.ms=5%s", s1 ? "" : " (data for S3)");
		*s1_per_batch = serve_s1(n, !s1);
	}
	if (selected("S3", "serve")) {
		bench_log("serve: S3 consumer from offset 0");
		serve_s3(n);
	}
	if (selected("S2", "serve")) {
		bench_log("serve: S2 %d producers, linger.ms=0", S2_PRODUCERS);
		*s2_per_batch = serve_s2(n);
	}
	if (selected("S4", "serve")) {
		bench_log("serve: S4 produce -> consume latency");
		serve_s4(n_e2e);
	}
	server_stop();
	return store;
}

/* Records per call for an embedded analogue: the broker's mean stored
 * batch, or librdkafka's batch.num.messages when that is unknown. */
static long batch_size(double broker_per_batch)
{
	long per = isnan(broker_per_batch) ? 10000 : (long)(broker_per_batch + 0.5);
	return per < 1 ? 1 : per;
}

static void run_embedded(const char *store, long n, long n_e2e, double s1_per_batch,
			 double s2_per_batch)
{
	if (selected("S1", "embedded")) {
		bench_log("embedded: S1 varve_append_async, %ld records per call",
			  batch_size(s1_per_batch));
		embedded_append("S1", "1producer-linger5", TOPIC_S1, 1, n, batch_size(s1_per_batch));
	}
	if (selected("S3", "embedded")) {
		bench_log("embedded: S3 varve_iter_next_batch");
		embedded_s3(store, n);
	}
	if (selected("S2", "embedded")) {
		bench_log("embedded: S2 %d threads of varve_append_async, %ld records per call",
			  S2_PRODUCERS, batch_size(s2_per_batch));
		embedded_append("S2", "8producers-linger0", TOPIC_S2, S2_PRODUCERS, n,
				batch_size(s2_per_batch));
		bench_log("embedded: S2 %d threads of varve_produce_async per record", S2_PRODUCERS);
		embedded_s2_per_record(n);
	}
	if (selected("S4", "embedded")) {
		bench_log("embedded: S4 produce -> poll latency");
		embedded_s4(n_e2e);
	}
}

/* The varve program next to this one. */
static void default_varve_path(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		bench_die("cannot find this program (/proc/self/exe): give --varve PATH");
	self[n] = 0;
	snprintf(g_varve, sizeof g_varve, "%s/varve", dirname(self));
}

static void usage(const char *argv0)
{
	bench_die("usage: %s [--quick] [--only S1,S2,S3,S4,serve,embedded,S1/serve,...] "
		  "[--varve PATH] DIR", argv0);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			g_opts.quick = 1;
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			g_only = argv[++i];
		else if (strncmp(argv[i], "--only=", 7) == 0)
			g_only = argv[i] + 7;
		else if (strcmp(argv[i], "--varve") == 0 && i + 1 < argc)
			snprintf(g_varve, sizeof g_varve, "%s", argv[++i]);
		else if (argv[i][0] == '-' || g_opts.dir)
			usage(argv[0]);
		else
			g_opts.dir = argv[i];
	}
	if (!g_opts.dir)
		usage(argv[0]);
	if (!g_varve[0])
		default_varve_path();
	if (access(g_varve, X_OK) != 0)
		bench_die("%s: %s (build it, or give --varve PATH)", g_varve, strerror(errno));
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	int created = 0;
	if (mkdir(g_opts.dir, 0755) == 0)
		created = 1;
	else if (errno != EEXIST)
		bench_die("mkdir %s: %s", g_opts.dir, strerror(errno));
	struct statfs sf;
	if (statfs(g_opts.dir, &sf) != 0)
		bench_die("statfs %s: %s", g_opts.dir, strerror(errno));
	if ((unsigned long)sf.f_type == TMPFS_MAGIC_ || (unsigned long)sf.f_type == RAMFS_MAGIC_) {
		if (created)
			(void)rmdir(g_opts.dir);
		bench_die("%s is on tmpfs/ramfs: give a disk-backed directory", g_opts.dir);
	}
	signal(SIGPIPE, SIG_IGN);
	atexit(server_kill_at_exit);
	bench_log("varve-bench-serve: varve %s, librdkafka %s%s", varve_version(NULL, NULL, NULL),
		  rd_kafka_version_str(), g_opts.quick ? " (quick)" : "");

	const long n = bench_count(&g_opts, 1000000), n_e2e = bench_count(&g_opts, 5000);
	double s1_per_batch = NAN, s2_per_batch = NAN;
	char *store = NULL;
	if (selected("S1", "serve") || selected("S2", "serve") || selected("S3", "serve") ||
	    selected("S4", "serve") || selected("S3", "embedded"))
		store = run_server(n, n_e2e, &s1_per_batch, &s2_per_batch);
	run_embedded(store, n, n_e2e, s1_per_batch, s2_per_batch);
	if (store) {
		bench_rmrf(store);
		free(store);
	}
	if (created)
		(void)rmdir(g_opts.dir);
	return 0;
}
