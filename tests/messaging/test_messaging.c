/* SPDX-License-Identifier: MIT */
/*
 * test_messaging.c -- messaging guarantees on top of the log: idempotent
 * producers (retries, SIGKILL + resume, gaps, fencing), the message-id
 * window, consumer nack / retry / dead letters / replay, asynchronous
 * produce with backpressure, and expected_end_offset.
 *
 * Time is an injected clock (varve_options.clock_fn): no test sleeps for
 * backoffs or windows.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

TestSuite(messaging, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------ */

#define T0 1700000000000LL

static varve_db *open_clock(const char *dir, t_clock *clk, int sync)
{
	varve_options o = t_opts();
	o.sync_policy = sync;
	if (clk) {
		o.clock_fn = t_clock_fn;
		o.clock_ctx = clk;
	}
	return t_open(dir, &o);
}

static int64_t end_of(varve_db *db, const char *topic, uint32_t part)
{
	int64_t end = -1;
	t_ok(varve_offsets(db, topic, part, NULL, &end));
	return end;
}

/* Values of every record of a partition, in offset order (NUL-terminated
 * copies). Asserts dense offsets. */
typedef struct vals {
	char **v;
	size_t n;
} vals;

static vals read_values(varve_db *db, const char *topic, uint32_t part)
{
	vals out = { NULL, 0 };
	int64_t start = 0, end = 0;
	t_ok(varve_offsets(db, topic, part, &start, &end));
	varve_iter *it = NULL;
	t_ok(varve_iter_open(db, topic, part, start, &it));
	out.v = calloc((size_t)(end - start) + 1, sizeof *out.v);
	cr_assert_not_null(out.v);
	for (;;) {
		const varve_record *r = NULL;
		int rc = varve_iter_next(it, &r);
		if (rc == VARVE_EEND)
			break;
		t_ok(rc);
		cr_assert_eq(r->offset, start + (int64_t)out.n, "offset %" PRId64 ", want %" PRId64,
			     r->offset, start + (int64_t)out.n);
		cr_assert_lt((int64_t)out.n, end - start);
		out.v[out.n] = strndup(r->value ? (const char *)r->value : "", r->value_len);
		out.n++;
	}
	varve_iter_close(it);
	cr_assert_eq((int64_t)out.n, end - start);
	return out;
}

static void vals_free(vals *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
}

/* Value of a header of a record, NUL-terminated into buf; -1 if missing. */
static int header_of(const varve_record *r, const char *key, char *buf, size_t cap)
{
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		if (h->key_len == strlen(key) && !memcmp(h->key, key, h->key_len)) {
			size_t n = h->value_len < cap - 1 ? h->value_len : cap - 1;
			if (h->value)
				memcpy(buf, h->value, n);
			buf[h->value ? n : 0] = 0;
			return 0;
		}
	}
	return -1;
}

/* ---- 1. idempotent retries ------------------------------------------------ */

Test(messaging, producer_retry_same_sequence_is_exactly_once)
{
	const char *dir = t_newpath("store");
	varve_db *db = open_clock(dir, NULL, VARVE_SYNC_NONE);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	varve_producer *p = NULL;
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	t_ok(varve_producer_open(db, &po, &p));

	enum { NB = 40, PER = 3 };
	char val[NB][PER][32];
	int64_t expect_off = 0;
	for (int b = 0; b < NB; b++) {
		varve_record r1[PER], r2[PER];
		for (int i = 0; i < PER; i++) {
			snprintf(val[b][i], sizeof val[b][i], "b%d.%d", b, i);
			r1[i] = t_rec_s("k", val[b][i]);
			r2[i] = t_rec_s("k", val[b][i]);
		}
		int32_t seq = VARVE_SEQUENCE_AUTO;
		t_ok(varve_producer_send(p, "t", 0, r1, PER, &seq));
		/* sequences number records (docs/API.md): batch b starts at b * PER */
		cr_assert_eq(seq, b * PER, "auto sequence %d, want %d", seq, b * PER);
		for (int i = 0; i < PER; i++) {
			cr_assert_eq(r1[i].offset, expect_off + i);
			cr_assert_eq(r1[i].flags & VARVE_RECORD_DUPLICATE, 0u);
		}
		int32_t again = seq;
		t_ok(varve_producer_send(p, "t", 0, r2, PER, &again));
		cr_assert_eq(again, seq);
		for (int i = 0; i < PER; i++) {
			cr_assert_eq(r2[i].offset, r1[i].offset, "batch %d rec %d: retry offset %" PRId64
				     ", first %" PRId64, b, i, r2[i].offset, r1[i].offset);
			cr_assert(r2[i].flags & VARVE_RECORD_DUPLICATE, "batch %d rec %d: no DUPLICATE flag",
				  b, i);
		}
		expect_off += PER;
		int32_t last = -2;
		t_ok(varve_producer_last_sequence(p, "t", 0, &last));
		cr_assert_eq(last, b * PER + PER - 1, "last sequence %d, want %d", last, b * PER + PER - 1);
	}
	vals v = read_values(db, "t", 0);
	cr_assert_eq(v.n, (size_t)NB * PER);
	for (int b = 0; b < NB; b++)
		for (int i = 0; i < PER; i++)
			cr_assert_str_eq(v.v[b * PER + i], val[b][i]);
	vals_free(&v);
	varve_producer_close(p);
	t_close(db);
}

/* ---- 2. exactly once across SIGKILL ------------------------------------------ */

#define KB_N 40

static int batch_len(int seq)
{
	return 1 + seq % 3;
}

/* Base sequence of batch s: sequences number records (docs/API.md), so
 * batch s starts after the records of batches 0..s-1. */
static int32_t batch_seq(int s)
{
	int32_t q = 0;
	for (int i = 0; i < s; i++)
		q += batch_len(i);
	return q;
}

static void batch_build(int seq, varve_record *r, char (*buf)[32])
{
	for (int i = 0; i < batch_len(seq); i++) {
		snprintf(buf[i], 32, "s%d.%d", seq, i);
		r[i] = t_rec_s("key", buf[i]);
	}
}

/* The child sends batch s only after reading one byte from rfd (the parent
 * hands out kill_after + 1 of them), so it is killed either blocked on the
 * next token or somewhere inside the send of batch kill_after. */
static void kill_child(const char *dir, int rfd, int wfd)
{
	varve_options o;
	if (varve_options_init(&o, VARVE_OPTIONS_VERSION))
		_exit(10);
	o.sync_policy = VARVE_SYNC_ALWAYS; /* a longer send: more kills land inside one */
	o.start_cleaner = 0;
	varve_db *db = NULL;
	if (varve_open(dir, &o, &db))
		_exit(11);
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	po.name = "crashy";
	po.resume = 1;
	varve_producer *p = NULL;
	if (varve_producer_open(db, &po, &p))
		_exit(12);
	for (int s = 0; s < KB_N; s++) {
		char tok;
		ssize_t got;
		while ((got = read(rfd, &tok, 1)) < 0 && errno == EINTR)
			;
		if (got != 1)
			break;
		varve_record r[3];
		char buf[3][32];
		batch_build(s, r, buf);
		int32_t seq = batch_seq(s);
		if (varve_producer_send(p, "t", 0, r, (size_t)batch_len(s), &seq))
			_exit(13);
		char line[32];
		int n = snprintf(line, sizeof line, "%d done\n", s);
		if (write(wfd, line, (size_t)n) != n)
			_exit(14);
	}
	varve_producer_close(p);
	varve_close(db);
	_exit(0);
}

Test(messaging, producer_exactly_once_across_sigkill, .timeout = 120)
{
	uint64_t rs = t_seed_from_time();
	cr_log_info("seed %" PRIu64, rs);
	for (int round = 0; round < 20; round++) {
		const char *dir = t_newpath("store");
		varve_db *db = open_clock(dir, NULL, VARVE_SYNC_NONE);
		t_topic(db, "t", 1, VARVE_CODEC_NONE);
		t_close(db);

		int kill_after = (int)(t_rand(&rs) % (KB_N + 1)); /* acks read before the kill */
		unsigned delay_us = (unsigned)(t_rand(&rs) % 400);
		int fds[2], go[2];
		cr_assert_eq(pipe(fds), 0);
		cr_assert_eq(pipe(go), 0);
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			close(go[1]);
			kill_child(dir, go[0], fds[1]);
		}
		close(fds[1]);
		close(go[0]);
		char toks[KB_N + 1];
		memset(toks, 'g', sizeof toks);
		int ntok = kill_after + 1 > KB_N ? KB_N : kill_after + 1;
		cr_assert_eq(write(go[1], toks, (size_t)ntok), ntok);
		FILE *f = fdopen(fds[0], "r");
		cr_assert_not_null(f);
		int acked = 0;
		char line[64];
		while (acked < kill_after && fgets(line, sizeof line, f)) {
			int s = -1;
			cr_assert_eq(sscanf(line, "%d done", &s), 1);
			cr_assert_eq(s, acked);
			acked++;
		}
		if (delay_us)
			usleep(delay_us);
		kill(pid, SIGKILL);
		close(go[1]);
		int st = 0;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0),
			  "round %d: child exited with %d", round, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		/* acks that reached the pipe before the kill also count as acked */
		while (fgets(line, sizeof line, f)) {
			int s = -1;
			cr_assert_eq(sscanf(line, "%d done", &s), 1);
			cr_assert_eq(s, acked);
			acked++;
		}
		fclose(f);
		cr_assert_geq(acked, kill_after);
		cr_assert_leq(acked, ntok);
		cr_log_info("round %d: kill after %d acks (+%u us): child %s, %d acked", round,
			    kill_after, delay_us, WIFSIGNALED(st) ? "killed" : "finished", acked);

		db = open_clock(dir, NULL, VARVE_SYNC_NONE);
		int64_t end_before = end_of(db, "t", 0);
		varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
		po.name = "crashy";
		po.resume = 1;
		varve_producer *p = NULL;
		t_ok(varve_producer_open(db, &po, &p));
		int appended = 0;
		for (int s = 0; s < KB_N; s++) {
			varve_record r[3];
			char buf[3][32];
			batch_build(s, r, buf);
			int32_t seq = batch_seq(s);
			int rc = varve_producer_send(p, "t", 0, r, (size_t)batch_len(s), &seq);
			cr_assert(rc == VARVE_OK || rc == VARVE_EDUPLICATE,
				  "round %d (kill after %d acks, child acked %d): resend of seq %d: %d (%s) [%s]",
				  round, kill_after, acked, s, rc, varve_errmsg(rc),
				  varve_last_error()->message);
			int dup = rc == VARVE_EDUPLICATE || (r[0].flags & VARVE_RECORD_DUPLICATE);
			for (int i = 1; rc == VARVE_OK && i < batch_len(s); i++)
				cr_assert_eq(!!(r[i].flags & VARVE_RECORD_DUPLICATE), !!dup,
					     "round %d seq %d: mixed duplicate flags", round, s);
			if (s < acked)
				cr_assert(dup, "round %d: acked seq %d (of %d acked) appended again", round, s,
					  acked);
			if (!dup)
				appended += batch_len(s);
		}
		int32_t last = -2;
		t_ok(varve_producer_last_sequence(p, "t", 0, &last));
		cr_assert_eq(last, batch_seq(KB_N) - 1);
		int64_t end_after = end_of(db, "t", 0);
		cr_assert_eq(end_after - end_before, appended);
		vals v = read_values(db, "t", 0);
		size_t k = 0;
		for (int s = 0; s < KB_N; s++) {
			for (int i = 0; i < batch_len(s); i++, k++) {
				char want[32];
				snprintf(want, sizeof want, "s%d.%d", s, i);
				cr_assert_lt(k, v.n, "round %d: log too short (%zu records)", round, v.n);
				cr_assert_str_eq(v.v[k], want, "round %d (kill after %d, acked %d): record %zu is %s, want %s",
						 round, kill_after, acked, k, v.v[k], want);
			}
		}
		cr_assert_eq(k, v.n, "round %d: log has %zu records, want %zu", round, v.n, k);
		vals_free(&v);
		varve_producer_close(p);
		t_close(db);
	}
}

/* ---- 3. gap and fencing ------------------------------------------------------- */

Test(messaging, producer_gap_and_fencing)
{
	const char *dir = t_newpath("store");
	varve_db *db = open_clock(dir, NULL, VARVE_SYNC_NONE);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
	po.name = "fenced";
	varve_producer *p1 = NULL;
	t_ok(varve_producer_open(db, &po, &p1));
	int64_t id1 = -1;
	uint16_t ep1 = 0;
	t_ok(varve_producer_id(p1, &id1, &ep1));

	varve_record r = t_rec_s("k", "a");
	int32_t seq = 0;
	t_ok(varve_producer_send(p1, "t", 0, &r, 1, &seq));
	cr_assert_eq(end_of(db, "t", 0), 1);

	/* gap: 0 -> 2 */
	r = t_rec_s("k", "gap");
	seq = 2;
	t_assert_rc(varve_producer_send(p1, "t", 0, &r, 1, &seq), VARVE_ESEQUENCE);
	cr_assert_eq(end_of(db, "t", 0), 1);
	int32_t last = -2;
	t_ok(varve_producer_last_sequence(p1, "t", 0, &last));
	cr_assert_eq(last, 0);

	/* a new open of the same name without resume fences p1 */
	varve_producer *p2 = NULL;
	t_ok(varve_producer_open(db, &po, &p2));
	int64_t id2 = -1;
	uint16_t ep2 = 0;
	t_ok(varve_producer_id(p2, &id2, &ep2));
	cr_assert_eq(id2, id1, "a named producer keeps its id");
	cr_assert_gt(ep2, ep1, "epoch %u not above %u", ep2, ep1);

	r = t_rec_s("k", "b");
	seq = 1;
	t_assert_rc(varve_producer_send(p1, "t", 0, &r, 1, &seq), VARVE_EFENCED);
	cr_assert_eq(end_of(db, "t", 0), 1);

	r = t_rec_s("k", "c");
	seq = VARVE_SEQUENCE_AUTO;
	t_ok(varve_producer_send(p2, "t", 0, &r, 1, &seq));
	cr_assert_eq(r.offset, 1);
	/* still fenced after the new epoch wrote */
	r = t_rec_s("k", "d");
	seq = 1;
	t_assert_rc(varve_producer_send(p1, "t", 0, &r, 1, &seq), VARVE_EFENCED);
	cr_assert_eq(end_of(db, "t", 0), 2);

	varve_producer_close(p1);
	varve_producer_close(p2);
	t_close(db);
}

/* ---- 4. message-id window -------------------------------------------------------- */

static varve_record id_rec(const varve_header *h, const char *value)
{
	varve_record r = t_rec_s("k", value);
	r.headers = h;
	r.header_count = 1;
	r.partition = 0;
	return r;
}

Test(messaging, msg_id_window)
{
	t_clock clk;
	atomic_init(&clk.now, T0);
	const char *dir = t_newpath("store");
	varve_db *db = open_clock(dir, &clk, VARVE_SYNC_NONE);
	varve_topic_config tc;
	t_ok(varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION));
	tc.dedup_window_ms = 10000;
	t_ok(varve_topic_create(db, "t", &tc));

	varve_header h = { VARVE_MSG_ID_HEADER, strlen(VARVE_MSG_ID_HEADER), "id-1", 4 };
	varve_header h2 = { VARVE_MSG_ID_HEADER, strlen(VARVE_MSG_ID_HEADER), "id-2", 4 };

	varve_record r = id_rec(&h, "first");
	int32_t part = -1;
	int64_t off = -1;
	t_ok(varve_produce(db, "t", &r, &part, &off));
	cr_assert_eq(off, 0);
	r = t_rec_s("k", "filler");
	r.partition = 0;
	t_ok(varve_produce(db, "t", &r, NULL, &off));
	cr_assert_eq(off, 1);

	/* inside the window: varve_produce returns the earlier offset */
	atomic_store(&clk.now, T0 + 3000);
	r = id_rec(&h, "second");
	off = -1;
	t_ok(varve_produce(db, "t", &r, &part, &off));
	cr_assert_eq(off, 0, "duplicate got offset %" PRId64 ", want 0", off);
	cr_assert_eq(part, 0);
	cr_assert_eq(end_of(db, "t", 0), 2);

	/* produce_batch: the duplicate is flagged, a fresh id is appended */
	varve_record b[2] = { id_rec(&h, "third"), id_rec(&h2, "other") };
	varve_produce_options o = VARVE_PRODUCE_OPTIONS_INIT;
	o.partition = 0;
	t_ok(varve_produce_batch(db, "t", b, 2, &o));
	cr_assert(b[0].flags & VARVE_RECORD_DUPLICATE);
	cr_assert_eq(b[0].offset, 0);
	cr_assert_eq(b[1].flags & VARVE_RECORD_DUPLICATE, 0u);
	cr_assert_eq(b[1].offset, 2);
	cr_assert_eq(end_of(db, "t", 0), 3);

	/* the window survives close/reopen */
	t_close(db);
	atomic_store(&clk.now, T0 + 6000);
	db = open_clock(dir, &clk, VARVE_SYNC_NONE);
	r = id_rec(&h, "after reopen");
	off = -1;
	t_ok(varve_produce(db, "t", &r, NULL, &off));
	cr_assert_eq(off, 0, "after reopen: duplicate got offset %" PRId64 ", want 0", off);
	varve_record b1[1] = { id_rec(&h, "after reopen batch") };
	t_ok(varve_produce_batch(db, "t", b1, 1, &o));
	cr_assert(b1[0].flags & VARVE_RECORD_DUPLICATE);
	cr_assert_eq(b1[0].offset, 0);
	cr_assert_eq(end_of(db, "t", 0), 3);

	/* past the window: appended again */
	atomic_store(&clk.now, T0 + 40000);
	r = id_rec(&h, "fourth");
	off = -1;
	t_ok(varve_produce(db, "t", &r, NULL, &off));
	cr_assert_eq(off, 3, "after the window: offset %" PRId64 ", want 3", off);
	cr_assert_eq(end_of(db, "t", 0), 4);
	vals v = read_values(db, "t", 0);
	cr_assert_str_eq(v.v[0], "first");
	cr_assert_str_eq(v.v[1], "filler");
	cr_assert_str_eq(v.v[2], "other");
	cr_assert_str_eq(v.v[3], "fourth");
	vals_free(&v);
	t_close(db);
}

/* ---- 5. nack, retries, dead letters, replay ---------------------------------------- */

typedef struct got {
	int64_t off[64];
	uint32_t att[64];
	char val[64][16];
	size_t n;
} got;

/* Poll (timeout 0) until nothing more; nack every message whose offset is
 * `nack_off`. */
static void poll_all(varve_consumer *c, got *g, int64_t nack_off, const char *reason)
{
	g->n = 0;
	for (;;) {
		const varve_msg *m = NULL;
		size_t n = 0;
		t_ok(varve_consumer_poll(c, 0, &m, &n));
		if (n == 0)
			return;
		for (size_t i = 0; i < n; i++) {
			cr_assert_lt(g->n, 64u);
			g->off[g->n] = m[i].rec.offset;
			g->att[g->n] = varve_consumer_attempts(c, &m[i]);
			snprintf(g->val[g->n], sizeof g->val[g->n], "%.*s", (int)m[i].rec.value_len,
				 (const char *)m[i].rec.value);
			g->n++;
			if (m[i].rec.offset == nack_off)
				t_ok(varve_consumer_nack(c, &m[i], reason));
		}
	}
}

static varve_consumer *nack_consumer(varve_db *db)
{
	varve_consumer_options co;
	t_ok(varve_consumer_options_init(&co, VARVE_CONSUMER_OPTIONS_VERSION));
	co.max_attempts = 3;
	co.retry_backoff_ms = 100;
	co.max_wait_ms = 0;
	const char *topics[1] = { "jobs" };
	varve_consumer *c = NULL;
	t_ok(varve_consumer_open(db, "g", topics, 1, &co, &c));
	return c;
}

static void produce_vals(varve_db *db, int from, int to)
{
	for (int i = from; i < to; i++) {
		char v[16];
		snprintf(v, sizeof v, "v%d", i);
		cr_assert_eq(t_produce_to(db, "jobs", 0, "key", v, VARVE_TIMESTAMP_NOW), i);
	}
}

static void nack_flow(int reopen)
{
	t_clock clk;
	atomic_init(&clk.now, T0);
	const char *dir = t_newpath("store");
	varve_db *db = open_clock(dir, &clk, VARVE_SYNC_NONE);
	t_topic(db, "jobs", 1, VARVE_CODEC_NONE);
	produce_vals(db, 0, 5);
	varve_consumer *c = nack_consumer(db);
	got g;

	/* attempt 1 */
	poll_all(c, &g, 2, "boom");
	cr_assert_eq(g.n, 5u, "first poll got %zu", g.n);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(g.off[i], (int64_t)i);
		cr_assert_eq(g.att[i], 1u, "offset %zu: attempts %u", i, g.att[i]);
	}
	t_ok(varve_consumer_commit(c));

	/* before the backoff: the consumer goes on with new records only */
	produce_vals(db, 5, 7);
	atomic_fetch_add(&clk.now, 99);
	poll_all(c, &g, -1, NULL);
	cr_assert_eq(g.n, 2u, "got %zu messages before the backoff, want 5 and 6", g.n);
	cr_assert_eq(g.off[0], 5);
	cr_assert_eq(g.off[1], 6);
	t_ok(varve_consumer_commit(c));

	/* attempt 2 after 100 ms */
	atomic_fetch_add(&clk.now, 1);
	poll_all(c, &g, 2, "boom");
	cr_assert_eq(g.n, 1u, "retry poll got %zu messages", g.n);
	cr_assert_eq(g.off[0], 2);
	cr_assert_eq(g.att[0], 2u);
	cr_assert_str_eq(g.val[0], "v2");
	t_ok(varve_consumer_commit(c));

	if (reopen) {
		varve_consumer_close(c);
		t_close(db);
		db = open_clock(dir, &clk, VARVE_SYNC_NONE);
		c = nack_consumer(db);
	}

	/* attempt 3 after 200 ms (doubled) */
	atomic_fetch_add(&clk.now, 199);
	poll_all(c, &g, -1, NULL);
	cr_assert_eq(g.n, 0u, "redelivered %zu messages before the doubled backoff (first offset %" PRId64 ")",
		     g.n, g.n ? g.off[0] : -1);
	atomic_fetch_add(&clk.now, 1);
	poll_all(c, &g, 2, "boom-final");
	cr_assert_eq(g.n, 1u, "third attempt: poll got %zu messages (reopen %d)", g.n, reopen);
	cr_assert_eq(g.off[0], 2);
	cr_assert_eq(g.att[0], 3u, "third delivery reports attempts %u (reopen %d)", g.att[0], reopen);
	t_ok(varve_consumer_commit(c));

	/* dead: never delivered again */
	atomic_fetch_add(&clk.now, 3600 * 1000);
	poll_all(c, &g, -1, NULL);
	cr_assert_eq(g.n, 0u, "dead record delivered again (offset %" PRId64 ")", g.n ? g.off[0] : -1);

	/* the dead letter */
	cr_assert_eq(end_of(db, "jobs.dlq", 0), 1);
	varve_iter *it = NULL;
	t_ok(varve_iter_open(db, "jobs.dlq", 0, 0, &it));
	const varve_record *r = NULL;
	t_ok(varve_iter_next(it, &r));
	cr_assert_eq(r->value_len, 2u);
	cr_assert(!memcmp(r->value, "v2", 2));
	cr_assert(r->key_len == 3 && !memcmp(r->key, "key", 3), "dead letter keeps the key");
	char hv[64];
	cr_assert_eq(header_of(r, "dlq-topic", hv, sizeof hv), 0);
	cr_assert_str_eq(hv, "jobs");
	cr_assert_eq(header_of(r, "dlq-partition", hv, sizeof hv), 0);
	cr_assert_str_eq(hv, "0");
	cr_assert_eq(header_of(r, "dlq-offset", hv, sizeof hv), 0);
	cr_assert_str_eq(hv, "2");
	cr_assert_eq(header_of(r, "dlq-attempts", hv, sizeof hv), 0);
	cr_assert_str_eq(hv, "3");
	cr_assert_eq(header_of(r, "dlq-reason", hv, sizeof hv), 0);
	cr_assert_str_eq(hv, "boom-final");
	t_assert_rc(varve_iter_next(it, &r), VARVE_EEND);
	varve_iter_close(it);

	/* the consumer continues after it */
	produce_vals(db, 7, 8);
	poll_all(c, &g, -1, NULL);
	cr_assert_eq(g.n, 1u);
	cr_assert_eq(g.off[0], 7);
	cr_assert_eq(g.att[0], 1u);
	t_ok(varve_consumer_commit(c));

	/* replay: back to the topic, without the dlq-* headers */
	uint64_t moved = 0;
	t_ok(varve_dlq_replay(db, "jobs.dlq", 0, &moved));
	cr_assert_eq(moved, 1u);
	cr_assert_eq(end_of(db, "jobs", 0), 9);
	t_ok(varve_iter_open(db, "jobs", 0, 8, &it));
	t_ok(varve_iter_next(it, &r));
	cr_assert_eq(r->offset, 8);
	cr_assert(r->value_len == 2 && !memcmp(r->value, "v2", 2));
	for (size_t i = 0; i < r->header_count; i++)
		cr_assert(!(r->headers[i].key_len >= 4 && !memcmp(r->headers[i].key, "dlq-", 4)),
			  "replayed record keeps header %.*s", (int)r->headers[i].key_len,
			  (const char *)r->headers[i].key);
	varve_iter_close(it);
	/* a second replay moves nothing */
	t_ok(varve_dlq_replay(db, "jobs.dlq", 0, &moved));
	cr_assert_eq(moved, 0u);
	cr_assert_eq(end_of(db, "jobs", 0), 9);

	/* and the consumer gets the replayed copy as a fresh record */
	poll_all(c, &g, -1, NULL);
	cr_assert_eq(g.n, 1u);
	cr_assert_eq(g.off[0], 8);
	cr_assert_eq(g.att[0], 1u);
	varve_consumer_close(c);
	t_close(db);
}

Test(messaging, nack_retry_dlq_replay)
{
	nack_flow(0);
}

Test(messaging, nack_attempts_survive_reopen)
{
	nack_flow(1);
}

/* ---- 6. asynchronous produce -------------------------------------------------------- */

#define AP 4

typedef struct acb {
	pthread_mutex_t mu;
	int64_t last[AP];
	uint64_t count[AP];
	uint64_t total;
	int bad_rc, bad_order;
	unsigned sleep_us;
} acb;

static void acb_init(acb *a)
{
	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->mu, NULL);
	for (int i = 0; i < AP; i++)
		a->last[i] = -1;
}

static void acb_fn(void *ctx, int rc, int32_t part, int64_t off)
{
	acb *a = ctx;
	pthread_mutex_lock(&a->mu);
	if (rc != 0)
		a->bad_rc++;
	else if (part < 0 || part >= AP || off <= a->last[part])
		a->bad_order++;
	else {
		a->last[part] = off;
		a->count[part]++;
	}
	a->total++;
	pthread_mutex_unlock(&a->mu);
	if (a->sleep_us)
		usleep(a->sleep_us);
}

static void acb_check(varve_db *db, acb *a, uint64_t n)
{
	pthread_mutex_lock(&a->mu);
	cr_assert_eq(a->total, n, "%" PRIu64 " callbacks, want %" PRIu64, a->total, n);
	cr_assert_eq(a->bad_rc, 0);
	cr_assert_eq(a->bad_order, 0, "%d callbacks out of offset order", a->bad_order);
	uint64_t sum = 0;
	for (uint32_t p = 0; p < AP; p++) {
		int64_t end = end_of(db, "t", p);
		cr_assert_eq((int64_t)a->count[p], end, "partition %u: %" PRIu64 " callbacks, end %" PRId64,
			     p, a->count[p], end);
		if (end)
			cr_assert_eq(a->last[p], end - 1);
		sum += a->count[p];
	}
	cr_assert_eq(sum, n);
	pthread_mutex_unlock(&a->mu);
	cr_assert_eq(varve_inflight_bytes(db), 0u);
}

static void async_all(int sync)
{
	const char *dir = t_newpath("store");
	varve_db *db = open_clock(dir, NULL, sync);
	t_topic(db, "t", AP, VARVE_CODEC_NONE);
	acb a;
	acb_init(&a);
	enum { N = 5000 };
	for (int i = 0; i < N; i++) {
		char k[16], v[32];
		snprintf(k, sizeof k, "k%d", i % 13);
		snprintf(v, sizeof v, "val-%d", i);
		varve_record r = t_rec_s(k, v);
		t_ok(varve_produce_async(db, "t", &r, acb_fn, &a));
	}
	t_ok(varve_flush(db));
	acb_check(db, &a, N);
	t_close(db);
	pthread_mutex_destroy(&a.mu);
}

Test(messaging, async_sync_always)
{
	async_all(VARVE_SYNC_ALWAYS);
}

Test(messaging, async_sync_none)
{
	async_all(VARVE_SYNC_NONE);
}

static void async_bounded(int block)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	o.sync_policy = VARVE_SYNC_ALWAYS;
	o.max_inflight_bytes = 1024;
	o.inflight_block = block;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", AP, VARVE_CODEC_NONE);
	acb a;
	acb_init(&a);
	if (block)
		a.sleep_us = 200; /* a slow completion path */
	enum { N = 500 };
	char v[201];
	memset(v, 'x', 200);
	v[200] = 0;
	uint64_t eagain = 0;
	for (int i = 0; i < N; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i % 7);
		varve_record r = t_rec_s(k, v);
		uint64_t rbytes = r.key_len + r.value_len + 64;
		for (;;) {
			int rc = varve_produce_async(db, "t", &r, acb_fn, &a);
			uint64_t inflight = varve_inflight_bytes(db);
			cr_assert_leq(inflight, o.max_inflight_bytes + rbytes,
				      "inflight %" PRIu64 " past the bound %" PRIu64, inflight,
				      (uint64_t)o.max_inflight_bytes);
			if (rc == VARVE_OK)
				break;
			t_assert_rc(rc, VARVE_EAGAIN);
			cr_assert_eq(block, 0, "EAGAIN with inflight_block=1");
			eagain++;
			sched_yield();
		}
	}
	t_ok(varve_flush(db));
	acb_check(db, &a, N);
	if (!block)
		cr_assert_gt(eagain, 0u, "no VARVE_EAGAIN with a 1 KiB bound");
	varve_stats st;
	memset(&st, 0, sizeof st);
	st.version = VARVE_STATS_VERSION;
	t_ok(varve_stats_get(db, &st));
	cr_assert_gt(st.backpressure_waits, 0u);
	if (!block)
		cr_assert_geq(st.backpressure_waits, eagain);
	t_close(db);
	pthread_mutex_destroy(&a.mu);
}

Test(messaging, async_backpressure_eagain)
{
	async_bounded(0);
}

Test(messaging, async_backpressure_block)
{
	async_bounded(1);
}

/* ---- 7. expected_end_offset ----------------------------------------------------------- */

Test(messaging, expected_end_offset)
{
	const char *dir = t_newpath("store");
	varve_db *db = open_clock(dir, NULL, VARVE_SYNC_NONE);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	varve_produce_options o = VARVE_PRODUCE_OPTIONS_INIT;
	o.partition = 1;
	o.expected_end_offset = 0;
	varve_record b[3] = { t_rec_s("a", "1"), t_rec_s("b", "2"), t_rec_s("c", "3") };
	t_ok(varve_produce_batch(db, "t", b, 3, &o));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(b[i].partition, 1);
		cr_assert_eq(b[i].offset, i);
	}
	cr_assert_eq(end_of(db, "t", 1), 3);

	/* stale: nothing appended */
	varve_record s[2] = { t_rec_s("d", "stale"), t_rec_s("e", "stale2") };
	t_assert_rc(varve_produce_batch(db, "t", s, 2, &o), VARVE_ECONFLICT);
	cr_assert_eq(end_of(db, "t", 1), 3);
	o.expected_end_offset = 5; /* ahead of the end: also a conflict */
	t_assert_rc(varve_produce_batch(db, "t", s, 2, &o), VARVE_ECONFLICT);
	cr_assert_eq(end_of(db, "t", 1), 3);
	cr_assert_eq(end_of(db, "t", 0), 0);

	o.expected_end_offset = 3;
	varve_record m[1] = { t_rec_s("f", "4") };
	t_ok(varve_produce_batch(db, "t", m, 1, &o));
	cr_assert_eq(m[0].offset, 3);
	vals v = read_values(db, "t", 1);
	cr_assert_eq(v.n, 4u);
	cr_assert_str_eq(v.v[0], "1");
	cr_assert_str_eq(v.v[1], "2");
	cr_assert_str_eq(v.v[2], "3");
	cr_assert_str_eq(v.v[3], "4");
	vals_free(&v);
	t_close(db);
}
