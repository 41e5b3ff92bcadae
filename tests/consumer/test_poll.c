/* SPDX-License-Identifier: MIT */
/*
 * test_poll.c -- poll: blocking and wake-ups (condition variable, eventfd,
 * notify callback), timeouts, fair rotation across partitions, max_bytes,
 * seeks by offset and by time.
 *
 * No assertion depends on timing: a poll that should wake up is given an
 * infinite timeout (a missing wake-up fails the test by its Criterion
 * timeout), and eventfd readiness is checked with poll(2) timeout 0 after
 * the produce that must have signalled it returned.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cons_util.h"
#include "support.h"

TestSuite(consumer_poll, .init = t_setup, .fini = t_teardown, .timeout = 60);

static varve_db *open_store(const char **dir_out)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	if (dir_out)
		*dir_out = dir;
	return t_open(dir, &o);
}

static int fd_readable(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	int r = poll(&pfd, 1, 0);
	cr_assert_geq(r, 0);
	return r == 1 && (pfd.revents & POLLIN);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts))
		;
}

/* ---- blocking ----------------------------------------------------------------- */

typedef struct prod_arg {
	varve_db *db;
	const char *topic;
	long delay_ms;
	_Atomic int done;
} prod_arg;

static void *producer(void *arg)
{
	prod_arg *a = arg;
	sleep_ms(a->delay_ms); /* let the consumer block first (not required) */
	varve_record r = t_rec_s("key", "wake-up");
	r.partition = 1;
	int rc = varve_produce(a->db, a->topic, &r, NULL, NULL);
	atomic_store(&a->done, rc == 0 ? 1 : -1);
	return NULL;
}

Test(consumer_poll, blocking_poll_wakes_up_on_produce, .timeout = 30)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 3, VARVE_CODEC_NONE);
	varve_consumer_options co = c_opts();
	varve_consumer *c = c_open(db, "g", "t", &co);
	const varve_msg *msgs;
	size_t n = 99;
	/* nothing there: returns at once */
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	cr_assert_eq(n, 0);
	prod_arg a = { db, "t", 100, 0 };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, producer, &a), 0);
	/* forever: only a wake-up can end this poll (else the test times out) */
	t_ok(varve_consumer_poll(c, -1, &msgs, &n));
	cr_assert_eq(n, 1, "poll returned %zu records", n);
	cr_assert_eq(msgs[0].rec.partition, 1);
	cr_assert_eq(msgs[0].rec.offset, 0);
	cr_assert(msgs[0].rec.value_len == 7 && !memcmp(msgs[0].rec.value, "wake-up", 7));
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&a.done), 1);
	varve_consumer_close(c);
	t_close(db);
}

Test(consumer_poll, blocking_poll_with_large_timeout_returns_the_record, .timeout = 30)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	varve_consumer_options co = c_opts();
	co.max_wait_ms = 0;
	varve_consumer *c = c_open(db, "g", "t", &co);
	for (int round = 0; round < 5; round++) {
		prod_arg a = { db, "t", 20 * round, 0 };
		pthread_t th;
		cr_assert_eq(pthread_create(&th, NULL, producer, &a), 0);
		const varve_msg *msgs;
		size_t n = 0;
		/* 10 minutes: if it came back with nothing, that was not a wake-up */
		t_ok(varve_consumer_poll(c, 600000, &msgs, &n));
		cr_assert_eq(n, 1, "round %d: poll returned %zu records", round, n);
		cr_assert_eq(msgs[0].rec.offset, round);
		pthread_join(th, NULL);
	}
	varve_consumer_close(c);
	t_close(db);
}

Test(consumer_poll, timeouts_without_data_return_zero_records)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	t_topic(db, "other", 1, VARVE_CODEC_NONE);
	varve_consumer_options co = c_opts();
	varve_consumer *c = c_open(db, "g", "t", &co);
	const varve_msg *msgs = (const varve_msg *)1;
	size_t n = 99;
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	cr_assert_eq(n, 0);
	n = 99;
	t_ok(varve_consumer_poll(c, 30, &msgs, &n));
	cr_assert_eq(n, 0);
	/* data on a topic we do not read does not count */
	t_produce_to(db, "other", 0, "k", "v", VARVE_TIMESTAMP_NOW);
	n = 99;
	t_ok(varve_consumer_poll(c, 20, &msgs, &n));
	cr_assert_eq(n, 0);
	/* with data there, timeout 0 returns it */
	t_produce_to(db, "t", 0, "k", "v", VARVE_TIMESTAMP_NOW);
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	cr_assert_eq(n, 1);
	t_assert_rc(varve_consumer_poll(c, 0, NULL, &n), VARVE_EINVAL);
	varve_consumer_close(c);
	t_close(db);
}

/* ---- eventfd and notify callback ----------------------------------------------------- */

typedef struct notify_ctx {
	_Atomic int calls;
	varve_consumer *last;
} notify_ctx;

static void on_notify(void *ctx, varve_consumer *c)
{
	notify_ctx *n = ctx;
	n->last = c;
	atomic_fetch_add(&n->calls, 1);
}

Test(consumer_poll, eventfd_and_notify_fire_on_produce)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	t_topic(db, "other", 1, VARVE_CODEC_NONE);
	notify_ctx nc = { 0, NULL };
	varve_consumer_options co = c_opts();
	co.notify_fn = on_notify;
	co.notify_ctx = &nc;
	varve_consumer *c = c_open(db, "g", "t", &co);
	int fd = varve_consumer_fd(c);
	cr_assert_geq(fd, 0);
	cr_assert_not(fd_readable(fd), "readable before any produce");

	/* another topic: no wake-up */
	t_produce_to(db, "other", 0, "k", "v", VARVE_TIMESTAMP_NOW);
	cr_assert_not(fd_readable(fd));
	cr_assert_eq(atomic_load(&nc.calls), 0);

	for (int round = 0; round < 3; round++) {
		t_produce_to(db, "t", round % 2, "k", "v", VARVE_TIMESTAMP_NOW);
		cr_assert(fd_readable(fd), "round %d: eventfd not readable after a produce", round);
		cr_assert_eq(atomic_load(&nc.calls), round + 1);
		cr_assert_eq(nc.last, c);
		/* more produces before the poll: still one signal pending */
		t_produce_to(db, "t", 1, "k", "v", VARVE_TIMESTAMP_NOW);
		const varve_msg *msgs;
		size_t n;
		t_ok(varve_consumer_poll(c, 0, &msgs, &n));
		cr_assert_eq(n, 2);
		cr_assert_not(fd_readable(fd), "round %d: poll drained everything but fd is readable",
			      round);
	}
	varve_consumer_close(c);
	t_close(db);
}

/* A consumer woken by its eventfd polls (timeout 0) while the producer
 * appends the next record. If that poll returned without the record, the
 * eventfd must be readable once the append has returned: otherwise an
 * event-loop consumer sleeps forever with a record waiting (lost wake-up).
 * The race needs the append to land between the poll's last read and the
 * moment it re-arms the eventfd; many rounds with varied timing hit it. */
typedef struct race_arg {
	varve_db *db;
	_Atomic int go;       /* round the producer may produce */
	_Atomic int produced; /* last round produced */
	int rounds;
} race_arg;

static void *race_producer(void *arg)
{
	race_arg *a = arg;
	uint64_t st = 12345;
	for (int i = 1; i <= a->rounds; i++) {
		while (atomic_load(&a->go) < i)
			;
		for (volatile uint64_t spin = t_rand(&st) % 4000; spin > 0; spin--)
			;
		varve_record r = t_rec_s("k", "v");
		r.partition = 0;
		if (varve_produce(a->db, "t", &r, NULL, NULL))
			abort();
		atomic_store(&a->produced, i);
	}
	return NULL;
}

Test(consumer_poll, eventfd_has_no_lost_wakeup, .timeout = 120)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	varve_consumer_options co = c_opts();
	varve_consumer *c = c_open(db, "g", "t", &co);
	int fd = varve_consumer_fd(c);
	race_arg a = { db, 0, 0, 20000 };
	const char *env = getenv("VARVE_RACE_ROUNDS");
	if (env && atoi(env) > 0)
		a.rounds = atoi(env);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, race_producer, &a), 0);
	int64_t got = 0; /* records received */
	int lost = 0, raced = 0;
	for (int i = 1; i <= a.rounds && !lost; i++) {
		/* record A: wakes the consumer (and disarms its eventfd) */
		t_produce_to(db, "t", 0, "k", "a", VARVE_TIMESTAMP_NOW);
		cr_assert(fd_readable(fd), "round %d: eventfd not readable after a produce", i);
		/* record B: appended by the other thread while we poll */
		atomic_store(&a.go, i);
		const varve_msg *msgs;
		size_t n;
		t_ok(varve_consumer_poll(c, 0, &msgs, &n));
		got += (int64_t)n;
		while (atomic_load(&a.produced) < i)
			;
		if (got < 2 * (int64_t)i) {
			/* B is there, this poll did not return it: the fd must say so */
			raced++;
			if (!fd_readable(fd))
				lost++;
		}
	}
	atomic_store(&a.go, a.rounds + 1);
	pthread_join(th, NULL);
	cr_assert_eq(lost, 0,
		     "lost wake-up: a poll returned without the record appended during it, and the "
		     "eventfd stayed unreadable although the record was available (%d races seen)",
		     raced);
	varve_consumer_close(c);
	t_close(db);
}

/* ---- fair rotation ---------------------------------------------------------------- */

Test(consumer_poll, busy_partition_does_not_starve_others)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 10000, 500);
	fill_part(db, "t", 1, 10, 1);
	varve_consumer_options co = c_opts();
	co.max_records = 20;
	varve_consumer *c = c_open(db, "g", "t", &co);
	const varve_msg *msgs;
	size_t n;
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	cr_assert_eq(n, 20);
	size_t per[2] = { 0, 0 };
	int64_t next[2] = { 0, 0 };
	for (size_t i = 0; i < n; i++) {
		check_msg(&msgs[i], "t");
		int p = msgs[i].rec.partition;
		cr_assert_eq(msgs[i].rec.offset, next[p]);
		next[p]++;
		per[p]++;
	}
	cr_assert_gt(per[0], 0);
	cr_assert_gt(per[1], 0, "the first poll returned only the busy partition");
	/* the rest arrives exactly once */
	for (;;) {
		t_ok(varve_consumer_poll(c, 0, &msgs, &n));
		if (!n)
			break;
		cr_assert_leq(n, 20);
		for (size_t i = 0; i < n; i++) {
			check_msg(&msgs[i], "t");
			int p = msgs[i].rec.partition;
			cr_assert_eq(msgs[i].rec.offset, next[p]);
			next[p]++;
		}
	}
	cr_assert_eq(next[0], 10000);
	cr_assert_eq(next[1], 10);
	varve_consumer_close(c);
	t_close(db);
}

Test(consumer_poll, every_partition_gets_a_turn_with_many_partitions)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 8, VARVE_CODEC_NONE);
	for (uint32_t p = 0; p < 8; p++)
		fill_part(db, "t", p, p == 3 ? 5000 : 3, p == 3 ? 250 : 1);
	varve_consumer_options co = c_opts();
	co.max_records = 16;
	varve_consumer *c = c_open(db, "g", "t", &co);
	const varve_msg *msgs;
	size_t n;
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	cr_assert_eq(n, 16);
	int seen[8] = { 0 };
	for (size_t i = 0; i < n; i++)
		seen[msgs[i].rec.partition]++;
	for (int p = 0; p < 8; p++)
		cr_assert_gt(seen[p], 0, "partition %d got nothing in the first poll", p);
	varve_consumer_close(c);
	t_close(db);
}

/* max_bytes: "key+value bytes per poll (at least one record)". */
Test(consumer_poll, max_bytes_caps_a_poll)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 4, VARVE_CODEC_NONE);
	char big[61];
	memset(big, 'x', 60);
	big[60] = 0;
	for (int p = 0; p < 4; p++)
		for (int i = 0; i < 5; i++)
			t_produce_to(db, "t", p, "k", big, VARVE_TIMESTAMP_NOW);
	varve_consumer_options co = c_opts();
	co.max_bytes = 100; /* one 61-byte record fits, two do not */
	varve_consumer *c = c_open(db, "g", "t", &co);
	size_t total = 0;
	for (;;) {
		const varve_msg *msgs;
		size_t n;
		t_ok(varve_consumer_poll(c, 0, &msgs, &n));
		if (!n)
			break;
		size_t bytes = 0;
		for (size_t i = 0; i < n; i++)
			bytes += msgs[i].rec.key_len + msgs[i].rec.value_len;
		cr_assert(n == 1 || bytes <= 100,
			  "a poll returned %zu records, %zu key+value bytes, max_bytes 100", n, bytes);
		total += n;
	}
	cr_assert_eq(total, 20);
	varve_consumer_close(c);
	t_close(db);
}

/* ---- seeks ------------------------------------------------------------------------- */

static int64_t poll_one_offset(varve_consumer *c, int32_t want_part)
{
	const varve_msg *msgs;
	size_t n;
	t_ok(varve_consumer_poll(c, 0, &msgs, &n));
	if (n == 0)
		return -1;
	cr_assert_eq(msgs[0].rec.partition, want_part);
	return msgs[0].rec.offset;
}

Test(consumer_poll, seek_offset_beginning_end)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 50, 7);
	varve_consumer_options co = c_opts();
	co.max_records = 1;
	varve_consumer *c = c_open(db, "g", "t", &co);
	t_ok(varve_consumer_seek(c, "t", 0, 23));
	cr_assert_eq(c_position(c, "t", 0), 23);
	cr_assert_eq(poll_one_offset(c, 0), 23);
	cr_assert_eq(poll_one_offset(c, 0), 24);
	t_ok(varve_consumer_seek(c, "t", 0, VARVE_OFFSET_BEGINNING));
	cr_assert_eq(poll_one_offset(c, 0), 0);
	t_ok(varve_consumer_seek(c, "t", 0, VARVE_OFFSET_END));
	cr_assert_eq(c_position(c, "t", 0), 50);
	cr_assert_eq(poll_one_offset(c, 0), -1);
	t_produce_to(db, "t", 0, "k", "v0.50", VARVE_TIMESTAMP_NOW);
	cr_assert_eq(poll_one_offset(c, 0), 50);
	/* the end itself is a valid position; past it is not */
	t_ok(varve_consumer_seek(c, "t", 0, 51));
	t_assert_rc(varve_consumer_seek(c, "t", 0, 52), VARVE_EOFFSET);
	t_assert_rc(varve_consumer_seek(c, "t", 0, -7), VARVE_EOFFSET);
	cr_assert_eq(c_position(c, "t", 0), 51, "a failed seek moved the position");
	/* not assigned / unknown */
	t_assert_rc(varve_consumer_seek(c, "t", 1, 0), VARVE_ENOTFOUND);
	t_assert_rc(varve_consumer_seek(c, "nope", 0, 0), VARVE_ENOTFOUND);
	/* a seek does not commit */
	int64_t off;
	t_assert_rc(varve_group_offset(db, "g", "t", 0, &off), VARVE_ENOTFOUND);
	varve_consumer_close(c);
	t_close(db);
}

Test(consumer_poll, seek_time_lands_on_first_record_at_or_after)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	/* timestamps 1000, 1010, ..., not monotonic in one place */
	int64_t ts[300];
	for (int i = 0; i < 300; i++) {
		ts[i] = 1000000 + 10 * i;
		if (i == 150)
			ts[i] = 1000000 + 10 * 140; /* goes back */
		char v[32];
		snprintf(v, sizeof v, "v0.%d", i);
		cr_assert_eq(t_produce_to(db, "t", 0, "k", v, ts[i]), i);
	}
	varve_consumer_options co = c_opts();
	co.max_records = 1;
	varve_consumer *c = c_open(db, "g", "t", &co);
	int64_t probes[] = { 0, 1000000, 1000001, 1000005, 1000010, 1000995, 1001400, 1001405,
			     1001500, 1002990, 1002991, 1000000 + 10 * 299 };
	for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
		int64_t want = 300;
		for (int i = 0; i < 300; i++)
			if (ts[i] >= probes[k]) {
				want = i;
				break;
			}
		t_ok(varve_consumer_seek_time(c, "t", 0, probes[k]));
		cr_assert_eq(c_position(c, "t", 0), want, "seek_time(%" PRId64 ") -> %" PRId64
			     ", want %" PRId64, probes[k], c_position(c, "t", 0), want);
		int64_t got = poll_one_offset(c, 0);
		cr_assert_eq(got, want == 300 ? -1 : want);
	}
	varve_consumer_close(c);
	t_close(db);
}

/* An empty key or value is not a null one, also when a poll's records are
 * all empty (the model test found polls handing out NULL for them). */
Test(consumer_poll, empty_is_not_null)
{
	varve_db *db = open_store(NULL);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	varve_record r = t_rec("", 0, "", 0);
	t_ok(varve_produce(db, "t", &r, NULL, NULL));
	r = t_rec(NULL, 0, NULL, 0);
	t_ok(varve_produce(db, "t", &r, NULL, NULL));
	varve_consumer_options o = c_opts();
	varve_consumer *c = c_open(db, "g", "t", &o);
	const varve_msg *m;
	size_t n;
	t_ok(varve_consumer_poll(c, 0, &m, &n));
	cr_assert_eq(n, 2);
	cr_assert_not_null(m[0].rec.key, "empty key came back null");
	cr_assert_not_null(m[0].rec.value, "empty value came back as a tombstone");
	cr_assert_eq(m[0].rec.key_len, 0);
	cr_assert_eq(m[0].rec.value_len, 0);
	cr_assert_null(m[1].rec.key);
	cr_assert_null(m[1].rec.value);
	varve_consumer_close(c);
	t_close(db);
}
