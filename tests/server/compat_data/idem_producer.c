/* SPDX-License-Identifier: MIT */
/*
 * idem_producer.c -- an idempotent librdkafka producer for the
 * kill-and-restart test (t_idempotent.py).
 *
 *   idem_producer BOOTSTRAP TOPIC COUNT REPORT_FILE
 *
 * Produces COUNT records numbered 0..COUNT-1 with enable.idempotence=true
 * and acks=all: record N has the key "key-(N % 32)" (librdkafka's default
 * partitioner spreads the keys over the topic's partitions) and the value
 * idem_value(N), so a reader can rebuild every expected byte from the
 * number. Records are handed to librdkafka in number order, so each
 * partition's production order is the order of the numbers it got.
 *
 * Every delivery report goes to REPORT_FILE, one line each:
 *   "P OFFSET N"   delivered: record N is at OFFSET of partition P
 *   "F N ERROR"    failed, with librdkafka's error name
 * On stdout: "progress D" every COUNT/100 deliveries (flushed, so the test
 * can time its server kills), then one summary line
 *   "done delivered=D failed=F unsent=U outstanding=O retries=R seconds=S
 *    fatal=WHY|none"
 * (outstanding: still undelivered when the final flush gave up; retries:
 * requests librdkafka sent again, from its statistics).
 *
 * The server is killed and restarted under it: librdkafka reconnects by
 * itself and retries what was not acknowledged with the same producer id
 * and sequence numbers, so nothing may be written twice. A fatal error
 * (librdkafka gives up on idempotence) is reported with its reason and
 * ends production; records not yet handed over count as unsent.
 *
 * Exit: 0 every record delivered, 1 some failed or were not sent, 2 usage
 * or setup error, 3 a fatal error was raised.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define KEYS 32
/* How long the final flush may wait for outstanding deliveries. */
#define FLUSH_LIMIT_MS 100000

typedef struct run_state {
	FILE *report;
	uint64_t delivered, failed;
	uint64_t retries; /* requests librdkafka sent again (its statistics) */
	uint64_t progress_every;
	int fatal;
	char fatal_reason[512];
} run_state;

/* The value of record n: its number, then 40 bytes that depend on it. The
 * test (t_idempotent.py, idem_value) builds the same bytes. */
static size_t idem_value(uint64_t n, char *buf, size_t cap)
{
	int len = snprintf(buf, cap, "n=%09" PRIu64 ";", n);
	for (int i = 0; i < 40 && (size_t)len + 1 < cap; i++)
		buf[len++] = (char)('a' + (n * 7 + (uint64_t)i * 13) % 26);
	return (size_t)len;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	run_state *rs = opaque;
	uint64_t n = (uint64_t)(uintptr_t)m->_private;
	(void)rk;
	if (m->err) {
		rs->failed++;
		fprintf(rs->report, "F %" PRIu64 " %s\n", n, rd_kafka_err2name(m->err));
		return;
	}
	fprintf(rs->report, "%" PRId32 " %" PRId64 " %" PRIu64 "\n", m->partition, m->offset, n);
	if (++rs->delivered % rs->progress_every == 0) {
		printf("progress %" PRIu64 "\n", rs->delivered);
		fflush(stdout);
	}
}

/* librdkafka's statistics (JSON): the sum of every broker's "txretries",
 * the requests it had to send again, which is what exercises the server's
 * duplicate detection. Counters only grow; keep the largest sum seen. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	run_state *rs = opaque;
	static const char field[] = "\"txretries\":";
	uint64_t sum = 0;
	(void)rk;
	(void)len;
	for (const char *p = strstr(json, field); p; p = strstr(p + 1, field))
		sum += strtoull(p + sizeof field - 1, NULL, 10);
	if (sum > rs->retries)
		rs->retries = sum;
	return 0; /* librdkafka frees json */
}

/* Transport errors are expected while the server is down; only a fatal
 * error (the idempotence guarantee cannot be kept) ends the run. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	run_state *rs = opaque;
	if (err != RD_KAFKA_RESP_ERR__FATAL) {
		fprintf(stderr, "idem_producer: (not fatal) %s: %s\n",
			rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
		return;
	}
	char why[400];
	rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
	rs->fatal = 1;
	snprintf(rs->fatal_reason, sizeof rs->fatal_reason, "%s: %s", rd_kafka_err2name(orig), why);
	fprintf(stderr, "idem_producer: FATAL %s\n", rs->fatal_reason);
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char err[256];
	if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "idem_producer: %s=%s: %s\n", name, value, err);
		return -1;
	}
	return 0;
}

static rd_kafka_t *make_producer(const char *bootstrap, run_state *rs)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* fast reconnects: the server comes back on the same port within a
	 * second; deliveries may take as long as the whole run */
	if (set(conf, "bootstrap.servers", bootstrap) || set(conf, "enable.idempotence", "true") ||
	    set(conf, "acks", "all") || set(conf, "message.timeout.ms", "100000") ||
	    set(conf, "reconnect.backoff.ms", "20") || set(conf, "reconnect.backoff.max.ms", "200") ||
	    set(conf, "retry.backoff.ms", "20") || set(conf, "linger.ms", "5") ||
	    set(conf, "queue.buffering.max.messages", "200000") ||
	    set(conf, "log.connection.close", "false") ||
	    set(conf, "statistics.interval.ms", "200")) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, rs);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "idem_producer: rd_kafka_new: %s\n", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Hand records 0..count-1 to librdkafka; returns how many were taken. */
static uint64_t produce_all(rd_kafka_t *rk, const char *topic, uint64_t count, run_state *rs)
{
	char key[32], val[96];
	uint64_t n = 0;
	while (n < count && !rs->fatal) {
		int klen = snprintf(key, sizeof key, "key-%" PRIu64, n % KEYS);
		size_t vlen = idem_value(n, val, sizeof val);
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)klen),
			RD_KAFKA_V_VALUE(val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_OPAQUE((void *)(uintptr_t)n), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(rk, 10);
			continue;
		}
		if (err) {
			fprintf(stderr, "idem_producer: producing record %" PRIu64 ": %s\n", n,
				rd_kafka_err2name(err));
			break;
		}
		n++;
		if (n % 1000 == 0)
			rd_kafka_poll(rk, 0);
	}
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: idem_producer BOOTSTRAP TOPIC COUNT REPORT_FILE\n");
		return 2;
	}
	char *end;
	uint64_t count = strtoull(argv[3], &end, 10);
	if (*end || count == 0) {
		fprintf(stderr, "idem_producer: bad COUNT %s\n", argv[3]);
		return 2;
	}
	run_state rs = { 0 };
	rs.progress_every = count >= 100 ? count / 100 : 1;
	rs.report = fopen(argv[4], "w");
	if (!rs.report) {
		perror(argv[4]);
		return 2;
	}
	rd_kafka_t *rk = make_producer(argv[1], &rs);
	if (!rk) {
		fclose(rs.report);
		return 2;
	}
	double t0 = now_seconds();
	uint64_t taken = produce_all(rk, argv[2], count, &rs);
	/* flush a second at a time so a fatal error is noticed between waits */
	while (rd_kafka_outq_len(rk) > 0 && (now_seconds() - t0) * 1000 < FLUSH_LIMIT_MS + 1000.0)
		rd_kafka_flush(rk, 1000);
	int outstanding = rd_kafka_outq_len(rk);
	double secs = now_seconds() - t0;
	rd_kafka_destroy(rk); /* reports what was still queued as failed */
	fclose(rs.report);
	printf("done delivered=%" PRIu64 " failed=%" PRIu64 " unsent=%" PRIu64
	       " outstanding=%d retries=%" PRIu64 " seconds=%.2f fatal=%s\n",
	       rs.delivered, rs.failed, count - taken, outstanding, rs.retries, secs,
	       rs.fatal ? rs.fatal_reason : "none");
	fflush(stdout);
	if (rs.fatal)
		return 3;
	return rs.delivered == count ? 0 : 1;
}
