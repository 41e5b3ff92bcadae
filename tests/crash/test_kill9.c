/* SPDX-License-Identifier: MIT */
/*
 * crash: kill -9 at random points.
 *
 * A child opens the store (sync=always, 4 KiB segments so rolls happen all
 * the time, 3 partitions) and appends forever -- single produces and
 * batches across partitions -- writing every acknowledged record
 * (partition, offset, hash of key and value) to a pipe after the call
 * returned. The parent SIGKILLs it after a random number of microseconds,
 * sometimes before its open finished (so recovery itself gets killed).
 * Then, most of the time, the parent reopens the store and checks that
 *   - every acknowledged record is there, byte for byte, at its offset;
 *   - offsets are dense from 0 to the end of each partition, and every
 *     record present (acknowledged or not) is one the child wrote, whole;
 *   - iterating to the end gives VARVE_EEND, never an error.
 * The store lives on across the kill points of one test.
 *
 * The seed comes from the clock and is printed with every failure; set
 * VARVE_CRASH_SEED to replay one, VARVE_CRASH_POINTS to change the number of
 * kill points per test.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "varve.h"

TestSuite(kill9, .init = t_setup, .fini = t_teardown, .timeout = 120);

#define PARTS 3
#define MAGIC 0x4b394b56u
#define MAXPAY 600

typedef struct ack {
	int32_t part; /* -1: the child finished opening */
	uint32_t pad;
	int64_t offset;
	uint64_t hash;
	uint64_t seq;
} ack;

static uint64_t g_seed;

#define CK(cond, ...)                                                                     \
	do {                                                                              \
		if (!(cond)) {                                                            \
			char m_[512];                                                     \
			snprintf(m_, sizeof m_, __VA_ARGS__);                             \
			cr_assert_fail("seed=%" PRIu64 " (VARVE_CRASH_SEED to replay): %s", \
				       g_seed, m_);                                       \
		}                                                                         \
	} while (0)

/* ---- record content: everything derives from the sequence number --------- */

static size_t payload_len(uint64_t seq)
{
	uint64_t s = seq * 2654435761u;
	return (size_t)(t_rand(&s) % MAXPAY);
}

/* key kind: 0 null, 1 "key-N", 2 empty key */
static int key_kind(uint64_t seq) { return (int)(seq % 5 == 0 ? 0 : seq % 5 == 1 ? 2 : 1); }

static size_t make_key(uint64_t seq, char *buf)
{
	return (size_t)snprintf(buf, 16, "key-%d", (int)(seq % 7));
}

static size_t make_value(uint64_t seq, uint8_t *buf)
{
	size_t pl = payload_len(seq);
	memcpy(buf, &seq, 8);
	uint32_t l32 = (uint32_t)pl, mg = MAGIC;
	memcpy(buf + 8, &l32, 4);
	memcpy(buf + 12, &mg, 4);
	t_fill(buf + 16, pl, seq);
	return 16 + pl;
}

static uint64_t rec_hash(const void *key, size_t klen, const void *val, size_t vlen)
{
	uint64_t h = t_hash(val, vlen);
	h ^= key ? (t_hash(key, klen) * 31 + 7) : 0x9e3779b97f4a7c15ull;
	return h | 1; /* 0 means "not acknowledged" */
}

/* ---- the child ---------------------------------------------------------------- */

typedef struct child_ctx {
	const char *dir;
	int fd;
	uint64_t seed;
	uint64_t seq0;
} child_ctx;

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int child_main(child_ctx *c)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = VARVE_SYNC_ALWAYS;
	o.segment_bytes = 4096;
	o.index_interval_bytes = 256;
	varve_db *db;
	int rc = varve_open(c->dir, &o, &db);
	if (rc)
		return 100 + (-rc);
	ack ready = { .part = -1 };
	if (write_all(c->fd, &ready, sizeof ready))
		return 99;
	uint64_t st = c->seed, seq = c->seq0;
	uint8_t vals[8][16 + MAXPAY];
	char keys[8][16];
	for (;;) {
		int n = (t_rand(&st) % 2) ? 1 : 1 + (int)(t_rand(&st) % 8);
		varve_record rs[8];
		for (int i = 0; i < n; i++, seq++) {
			size_t vl = make_value(seq, vals[i]);
			int kk = key_kind(seq);
			size_t kl = kk == 1 ? make_key(seq, keys[i]) : 0;
			rs[i] = t_rec(kk == 0 ? NULL : keys[i], kl, vals[i], vl);
			if (kk == 0 && t_rand(&st) % 2)
				rs[i].partition = (int32_t)(t_rand(&st) % PARTS);
			rs[i].offset = (int64_t)seq; /* remembered below; overwritten by the store */
		}
		uint64_t seqs[8];
		for (int i = 0; i < n; i++)
			seqs[i] = (uint64_t)rs[i].offset;
		ack acks[8];
		if (n == 1 && t_rand(&st) % 2) {
			int32_t p;
			int64_t off;
			rc = varve_produce(db, "t", &rs[0], &p, &off);
			if (rc)
				return 100 + (-rc);
			acks[0] = (ack){ p, 0, off, rec_hash(rs[0].key, rs[0].key_len, rs[0].value,
							    rs[0].value_len),
					 seqs[0] };
		} else {
			rc = varve_produce_batch(db, "t", rs, (size_t)n, NULL);
			if (rc)
				return 100 + (-rc);
			for (int i = 0; i < n; i++)
				acks[i] = (ack){ rs[i].partition, 0, rs[i].offset,
						 rec_hash(rs[i].key, rs[i].key_len, rs[i].value,
							  rs[i].value_len),
						 seqs[i] };
		}
		/* only now is it acknowledged */
		if (write_all(c->fd, acks, (size_t)n * sizeof acks[0]))
			return 98;
	}
}

/* ---- the parent ----------------------------------------------------------------- */

typedef struct acked {
	uint64_t *h[PARTS];
	size_t cap[PARTS];
	size_t count;
} acked;

static void note_ack(acked *a, const ack *k)
{
	CK(k->part >= 0 && k->part < PARTS, "ack for partition %d", k->part);
	CK(k->offset >= 0, "ack with offset %" PRId64, k->offset);
	size_t p = (size_t)k->part, off = (size_t)k->offset;
	if (off >= a->cap[p]) {
		size_t nc = a->cap[p] ? a->cap[p] : 1024;
		while (nc <= off)
			nc *= 2;
		a->h[p] = realloc(a->h[p], nc * sizeof *a->h[p]);
		memset(a->h[p] + a->cap[p], 0, (nc - a->cap[p]) * sizeof *a->h[p]);
		a->cap[p] = nc;
	}
	CK(a->h[p][off] == 0 || a->h[p][off] == k->hash,
	   "partition %zu offset %zu acknowledged twice with different records (seq %" PRIu64 ")", p,
	   off, k->seq);
	if (!a->h[p][off])
		a->count++;
	a->h[p][off] = k->hash;
}

/* Whole, self-consistent record as the child writes them. */
static void check_shape(const varve_record *r, size_t p)
{
	CK(r->value && r->value_len >= 16, "%zu@%" PRId64 ": value of %zu bytes", p, r->offset,
	   r->value_len);
	uint64_t seq;
	uint32_t pl, mg;
	memcpy(&seq, r->value, 8);
	memcpy(&pl, (const uint8_t *)r->value + 8, 4);
	memcpy(&mg, (const uint8_t *)r->value + 12, 4);
	CK(mg == MAGIC, "%zu@%" PRId64 ": not a record the child wrote", p, r->offset);
	uint8_t want[16 + MAXPAY];
	size_t wl = make_value(seq, want);
	CK(r->value_len == wl && pl == wl - 16 && memcmp(r->value, want, wl) == 0,
	   "%zu@%" PRId64 ": value of seq %" PRIu64 " damaged", p, r->offset, seq);
	int kk = key_kind(seq);
	if (kk == 0) {
		CK(r->key == NULL, "%zu@%" PRId64 ": null key came back non-null", p, r->offset);
	} else if (kk == 2) {
		CK(r->key && r->key_len == 0, "%zu@%" PRId64 ": empty key damaged", p, r->offset);
	} else {
		char k[16];
		size_t kl = make_key(seq, k);
		CK(r->key && r->key_len == kl && memcmp(r->key, k, kl) == 0, "%zu@%" PRId64 ": key",
		   p, r->offset);
	}
	CK(r->header_count == 0, "%zu@%" PRId64 ": headers appeared", p, r->offset);
}

/* Reopen and check. A writer open recovers (cuts torn tails) and closes
 * cleanly; a read-only open checks without touching anything, leaving the
 * recovery to the next child (which may be killed in the middle of it). */
static void verify(const char *dir, const acked *a, int point, int read_only)
{
	varve_options o = t_opts();
	o.segment_bytes = 4096;
	o.read_only = read_only;
	varve_db *db = NULL;
	int rc = varve_open(dir, &o, &db);
	CK(rc == 0, "kill point %d: reopen%s: %s (%s)", point, read_only ? " (read-only)" : "",
	   varve_errmsg(rc), varve_last_error()->message);
	size_t found = 0;
	for (size_t p = 0; p < PARTS; p++) {
		int64_t start = -1, end = -1;
		CK(varve_offsets(db, "t", (uint32_t)p, &start, &end) == 0, "offsets");
		CK(start == 0, "partition %zu starts at %" PRId64, p, start);
		for (size_t off = (size_t)end; off < a->cap[p]; off++)
			CK(a->h[p][off] == 0,
			   "kill point %d: partition %zu: acknowledged offset %zu is past the end %" PRId64,
			   point, p, off, end);
		varve_iter *it;
		rc = varve_iter_open(db, "t", (uint32_t)p, 0, &it);
		CK(rc == 0, "iter_open: %s", varve_errmsg(rc));
		const varve_record *r;
		int64_t want = 0;
		while ((rc = varve_iter_next(it, &r)) == 0) {
			CK(r->offset == want, "kill point %d: partition %zu: offset %" PRId64
					      " where %" PRId64 " was expected",
			   point, p, r->offset, want);
			check_shape(r, p);
			if ((size_t)want < a->cap[p] && a->h[p][want]) {
				CK(rec_hash(r->key, r->key_len, r->value, r->value_len) == a->h[p][want],
				   "kill point %d: partition %zu offset %" PRId64
				   ": not the acknowledged record",
				   point, p, want);
				found++;
			}
			want++;
		}
		CK(rc == VARVE_EEND, "kill point %d: partition %zu: iteration ended with %s (%s) at %" PRId64,
		   point, p, varve_errmsg(rc), varve_last_error()->message, want);
		CK(want == end, "kill point %d: partition %zu: iterated to %" PRId64 ", end is %" PRId64,
		   point, p, want, end);
		varve_iter_close(it);
	}
	CK(found == a->count, "kill point %d: %zu of %zu acknowledged records found", point, found,
	   a->count);
	rc = varve_close(db);
	CK(rc == 0, "close: %s", varve_errmsg(rc));
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	return v && *v ? atoi(v) : def;
}

/* Reads acknowledgements from the child's pipe. */
typedef struct pump {
	int fd;
	uint8_t buf[256 * sizeof(ack)];
	size_t have;
	size_t acks;  /* acknowledgements seen from this child */
	int ready;    /* the child finished opening */
	int eof;
} pump;

/* Read until `want` acknowledgements arrived (or the ready mark when want
 * is 0), or the pipe is closed (want < 0: until then). */
static void pump_until(pump *pm, acked *a, long want)
{
	while (!pm->eof) {
		if (want == 0 && pm->ready)
			return;
		if (want > 0 && (long)pm->acks >= want)
			return;
		ssize_t r = read(pm->fd, pm->buf + pm->have, sizeof pm->buf - pm->have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			pm->eof = 1;
			break;
		}
		pm->have += (size_t)r;
		size_t whole = pm->have / sizeof(ack);
		for (size_t i = 0; i < whole; i++) {
			ack k;
			memcpy(&k, pm->buf + i * sizeof k, sizeof k);
			if (k.part == -1) {
				pm->ready = 1;
				continue;
			}
			note_ack(a, &k);
			pm->acks++;
		}
		pm->have -= whole * sizeof(ack);
		memmove(pm->buf, pm->buf + whole * sizeof(ack), pm->have);
	}
	CK(pm->have == 0, "a torn message on the pipe");
}

static void run(uint64_t salt)
{
	const char *env = getenv("VARVE_CRASH_SEED");
	g_seed = env && *env ? strtoull(env, NULL, 0) : t_seed_from_time() ^ salt;
	uint64_t st = g_seed;
	int points = env_int("VARVE_CRASH_POINTS", 60);
	const char *dir = t_newpath("store");
	{
		varve_options o = t_opts();
		varve_db *db = t_open(dir, &o);
		t_topic(db, "t", PARTS, VARVE_CODEC_NONE);
		t_close(db);
	}
	acked a;
	memset(&a, 0, sizeof a);
	uint64_t seq = 1;
	int early = 0, verified = 0, verified_ro = 0;
	for (int point = 0; point < points; point++) {
		int fds[2];
		cr_assert_eq(pipe(fds), 0);
		(void)fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
		child_ctx c = { dir, fds[1], t_rand(&st), seq };
		seq += 1u << 20; /* room for every record a child can write */
		fflush(NULL);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			_exit(child_main(&c));
		}
		close(fds[1]);
		pump pm = { .fd = fds[0] };
		/* A quarter of the kills land at a random time after the fork,
		 * usually while the child is still opening (recovering); the rest
		 * after a random number of acknowledged appends (so the load of
		 * the machine does not decide how far the child gets), plus a
		 * random number of microseconds. */
		long delay_us;
		if (t_rand(&st) % 4 == 0) {
			delay_us = (long)(t_rand(&st) % 6000);
			early++;
		} else {
			pump_until(&pm, &a, 0);
			long want = (long)(t_rand(&st) % 12);
			if (want)
				pump_until(&pm, &a, want);
			delay_us = (long)(t_rand(&st) % 3000);
		}
		struct timespec ts = { 0, delay_us * 1000 };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		CK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		   "kill point %d: the child stopped by itself (exit %d: %s)", point,
		   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		   WIFEXITED(status) && WEXITSTATUS(status) > 100
			   ? varve_errmsg(100 - WEXITSTATUS(status))
			   : "");
		pump_until(&pm, &a, -1);
		close(fds[0]);
		int dice = (int)(t_rand(&st) % 4);
		if (point == points - 1 || dice == 0) {
			verify(dir, &a, point, 0);
			verified++;
		} else if (dice != 1) {
			verify(dir, &a, point, 1);
			verified_ro++;
		}
	}
	cr_log_info("seed=%" PRIu64 ": %d kill points (%d at a random time), %d writer and %d "
		    "read-only verifications, %zu acknowledged records",
		    g_seed, points, early, verified, verified_ro, a.count);
	CK(a.count > 0, "no record was ever acknowledged");
	for (int p = 0; p < PARTS; p++)
		free(a.h[p]);
}

/* Four stores, 60 kill points each by default: 240 per run. */
Test(kill9, store_a) { run(0xa); }
Test(kill9, store_b) { run(0xb); }
Test(kill9, store_c) { run(0xc); }
Test(kill9, store_d) { run(0xd); }
