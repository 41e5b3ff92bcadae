/* SPDX-License-Identifier: MIT */
/*
 * test_model.c -- model-based random testing (issue "Reliability", item 9).
 *
 * VARVE_MODEL_OPS random operations (default 1,000,000; VARVE_MODEL_SEED
 * picks the seed, default from the clock; both are printed) run against a
 * store and, in parallel, against a plain in-memory model:
 *
 *   per partition: the records (offset, uid, timestamp, append clock) still
 *   stored, and the log start and end. A record's bytes (key, value,
 *   headers) are generated from its uid, so the model stays small.
 *
 * Operations: produce one record (random key, value, headers, timestamp,
 * partition or partitioner), produce a batch (across partitions), read
 * with an iterator from a random offset (seeking on the way), offsets,
 * offset for a time, group commits and group offset checks, a consumer
 * (poll, commit), retention rounds with an injected clock, forced
 * compaction (varve_clean_now(db, 1)), clean reopens and unclean ones (a
 * copy of the directory taken while the store is open). Three topics:
 *   "m"  3 partitions, retention_ms = 1 h (time retention)
 *   "z"  2 partitions, LZ4, retention_records = 2000
 *   "k"  2 partitions, compacted, 48 keys, tombstones, delete retention 6 h
 *
 * Checks: every result equals the model's. Retention may only drop a
 * prefix, whole records the topic's rule allows dropping (m: timestamp
 * older than the retention; z: at least retention_records remain).
 * Compaction is modelled loosely: every record read must exist in the
 * model with identical bytes, offsets strictly increase, and each key's
 * latest record is always present (a latest tombstone may go once its
 * delete retention has passed). Any divergence stops the run and fails it.
 *
 * sync=none, no background thread, on the build directory's filesystem.
 * Two more runs (a fifth of the operations each) have the append buffer on
 * (append_buffer_bytes 4 KiB) under sync=none and sync=interval; there an
 * unclean copy is taken after varve_sync, since the model does not track
 * what the buffer held (the kill -9 matrix checks what a crash loses)
 * (not tmpfs). Runtime: about 100 s for 1,000,000 operations in a normal
 * build (2 CPUs, ext4); under ASan CI should use VARVE_MODEL_OPS=200000.
 * VARVE_MODEL_PROFILE=1 prints time and fsyncs per operation kind.
 * Bisecting knobs (default off): VARVE_MODEL_ORDERED_TS=1 (every timestamp
 * is the clock: no out-of-order timestamps), VARVE_MODEL_NO_UNCLEAN=1
 * (clean reopens only); VARVE_MODEL_KEEP_COPIES=1 keeps each unclean copy
 * as taken. The focused tests at the end pin what the model found.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_util.h"

#define NT 3
#define NKEYS 48
#define HOUR ((int64_t)3600 * 1000)
#define RET_MS HOUR
#define RET_RECS 2000
#define TOMB_MS (6 * HOUR)

enum { T_M = 0, T_Z = 1, T_K = 2 };
static const char *const tname[NT] = { "m", "z", "k" };
static const uint32_t tparts[NT] = { 3, 2, 2 };

typedef struct mrec {
	int64_t offset;
	int64_t ts;
	int64_t app; /* clock at append */
	uint32_t uid;
	uint32_t pad;
} mrec;

typedef struct mpart {
	mrec *v;
	size_t first, n, cap; /* live records v[first..n) */
	int64_t start, end;
} mpart;

static struct {
	mpart p[NT][3];
	int64_t clock;
	int64_t commit[3][NT][3]; /* -1 = none; groups g1, g2, cg */
	uint32_t next_uid;
	uint64_t salt;
} M;

static const char *const gname[3] = { "g1", "g2", "cg" };

/* ---- divergences ------------------------------------------------------------ */

static long op_index;
static uint64_t run_seed;
static long divergences;
static char first_div[2048];

static void diverge(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diverge(const char *fmt, ...)
{
	if (divergences++ == 0) {
		char msg[1800];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		snprintf(first_div, sizeof first_div, "op %ld (seed %" PRIu64 "): %s [%s]", op_index,
			 run_seed, msg, varve_last_error()->message);
		fprintf(stderr, "model: DIVERGENCE %s\n", first_div);
	}
}

/* ---- record generation --------------------------------------------------------- */

typedef struct gen {
	varve_record r;
	varve_header h[2];
	uint8_t b[512];
} gen;

static int key_of(uint32_t uid) { return (int)((uid * 2654435761u) >> 8) % NKEYS; }

static void gen_rec(gen *g, uint32_t uid, int t, int64_t ts)
{
	memset(g, 0, sizeof *g);
	uint64_t s = M.salt ^ ((uint64_t)uid * 0x9e3779b97f4a7c15ull);
	uint64_t r = fu_rand(&s);
	uint8_t *p = g->b;
	/* key */
	if (t == T_K) {
		int kl = snprintf((char *)p, 16, "key-%d", key_of(uid));
		g->r.key = p;
		g->r.key_len = (size_t)kl;
		p += 16;
	} else if (r % 8 != 0) {
		size_t kl = (size_t)(r >> 8) % 13;
		for (size_t i = 0; i < kl; i++)
			p[i] = (uint8_t)fu_rand(&s);
		g->r.key = p;
		g->r.key_len = kl;
		p += 13;
	}
	/* value: uid first (when long enough), then bytes; LZ4 topic compressible */
	r = fu_rand(&s);
	int tomb = t == T_K ? r % 12 == 0 : r % 40 == 0;
	if (!tomb) {
		size_t vl = (size_t)(r >> 8) % 97;
		for (size_t i = 0; i < vl; i++)
			p[i] = t == T_Z ? (uint8_t)('a' + (i / 7 + uid) % 5) : (uint8_t)fu_rand(&s);
		if (vl >= 4)
			memcpy(p, &uid, 4);
		g->r.value = p;
		g->r.value_len = vl;
		p += 97;
	}
	/* headers */
	r = fu_rand(&s);
	size_t nh = (size_t)(r % 3);
	for (size_t i = 0; i < nh; i++) {
		uint64_t q = fu_rand(&s);
		size_t kl = (size_t)(q % 7);
		for (size_t k = 0; k < kl; k++)
			p[k] = (uint8_t)('A' + (q >> (8 + k)) % 26);
		g->h[i].key = (const char *)p;
		g->h[i].key_len = kl;
		p += 7;
		if ((q >> 40) % 4 == 0) {
			g->h[i].value = NULL;
		} else {
			size_t vl = (size_t)((q >> 44) % 17);
			for (size_t k = 0; k < vl; k++)
				p[k] = (uint8_t)fu_rand(&s);
			g->h[i].value = p;
			g->h[i].value_len = vl;
			p += 17;
		}
	}
	g->r.headers = nh ? g->h : NULL;
	g->r.header_count = nh;
	g->r.timestamp = ts;
	g->r.partition = VARVE_PARTITION_ANY;
}

/* ---- model helpers ----------------------------------------------------------------- */

static void mp_push(mpart *mp, int64_t off, uint32_t uid, int64_t ts)
{
	if (mp->n == mp->cap) {
		if (mp->first > mp->n / 2) {
			memmove(mp->v, mp->v + mp->first, (mp->n - mp->first) * sizeof *mp->v);
			mp->n -= mp->first;
			mp->first = 0;
		}
		if (mp->n == mp->cap) {
			mp->cap = mp->cap ? mp->cap * 2 : 1024;
			mp->v = realloc(mp->v, mp->cap * sizeof *mp->v);
			if (!mp->v)
				abort();
		}
	}
	mp->v[mp->n++] = (mrec){ off, ts, M.clock, uid, 0 };
	mp->end = off + 1;
}

/* Live record with this offset, or NULL. */
static const mrec *mp_find(const mpart *mp, int64_t off)
{
	size_t lo = mp->first, hi = mp->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mp->v[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mp->n && mp->v[lo].offset == off ? &mp->v[lo] : NULL;
}

static size_t mp_live(const mpart *mp) { return mp->n - mp->first; }

/* Compare a record read from the store with the model's record m. */
static int check_rec(int t, uint32_t p, const varve_record *got, const mrec *m, const char *ctx)
{
	gen g;
	gen_rec(&g, m->uid, t, m->ts);
	char why[64];
	if (got->offset != m->offset) {
		diverge("%s %s/%u: offset %" PRId64 ", model %" PRId64, ctx, tname[t], p, got->offset,
			m->offset);
		return -1;
	}
	if (fu_rec_cmp(got, &g.r, why, sizeof why)) {
		diverge("%s %s/%u@%" PRId64 ": %s (uid %u)", ctx, tname[t], p, got->offset, why, m->uid);
		return -1;
	}
	return 0;
}

/* ---- the store --------------------------------------------------------------------- */

static int64_t clock_fn(void *ctx)
{
	(void)ctx;
	return M.clock;
}

/* the runs with the append buffer (0: off) and their sync policy */
static int64_t model_buffer;
static int model_policy = VARVE_SYNC_NONE;

static varve_options store_opts(void)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = model_policy;
	o.append_buffer_bytes = model_buffer;
	o.start_cleaner = 0;
	o.segment_bytes = 64 << 10;
	o.index_interval_bytes = 512;
	o.clock_fn = clock_fn;
	o.cleaner_memory_bytes = 1 << 20;
	return o;
}

static varve_db *db;
static char store_path[4096];
static char *root;
static int gen_no;

static void create_topics(void)
{
	for (int t = 0; t < NT; t++) {
		varve_topic_config c;
		varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
		c.partitions = tparts[t];
		if (t == T_M) {
			c.retention_ms = RET_MS;
			c.segment_bytes = 256 << 10;
		} else if (t == T_Z) {
			c.codec = VARVE_CODEC_LZ4;
			c.retention_records = RET_RECS;
			c.segment_bytes = 64 << 10;
		} else {
			c.cleanup_policy = VARVE_CLEANUP_COMPACT;
			c.segment_bytes = 32 << 10;
			/* rounds without force leave it alone (mostly): compaction is the
			 * expensive step, and op_compaction forces it */
			c.min_cleanable_dirty_ratio = 0.99;
			c.delete_retention_ms = TOMB_MS;
		}
		int rc = varve_topic_create(db, tname[t], &c);
		cr_assert_eq(rc, 0, "create %s: %s", tname[t], varve_last_error()->message);
	}
}

/* ---- operations ----------------------------------------------------------------------- */

static uint64_t rs; /* the run's random state */
/* Knobs for bisecting, default off: VARVE_MODEL_ORDERED_TS=1 makes every
 * timestamp the (non-decreasing) clock; VARVE_MODEL_NO_UNCLEAN=1 makes
 * every reopen a clean one. */
static int ordered_ts, no_unclean;
static uint64_t rnd(void) { return fu_rand(&rs); }
static uint64_t rnd_n(uint64_t n) { return n ? rnd() % n : 0; }

static int pick_topic(void)
{
	uint64_t r = rnd_n(100);
	return r < 45 ? T_M : r < 85 ? T_Z : T_K;
}

static int64_t pick_ts(void)
{
	if (ordered_ts)
		return M.clock;
	uint64_t r = rnd_n(100);
	if (r < 10)
		return VARVE_TIMESTAMP_NOW;
	if (r < 80)
		return M.clock - (int64_t)rnd_n(2 * HOUR);
	return M.clock + (int64_t)rnd_n(HOUR / 2);
}

static struct {
	long produce, batch, batch_records, read, read_records, seek, time, offsets, commit,
		group_check, consumer, consumer_records, retention, compaction, reopen, unclean;
	long dropped_by_retention, dropped_by_compaction;
} S;

static void op_produce(void)
{
	int t = pick_topic();
	uint32_t uid = M.next_uid++;
	int64_t ts = pick_ts();
	gen g;
	gen_rec(&g, uid, t, ts);
	if (rnd_n(2))
		g.r.partition = (int32_t)rnd_n(tparts[t]);
	int32_t part = -1;
	int64_t off = -1;
	int rc = varve_produce(db, tname[t], &g.r, &part, &off);
	if (rc) {
		diverge("produce to %s: %s", tname[t], varve_errmsg(rc));
		return;
	}
	if (part < 0 || (uint32_t)part >= tparts[t] ||
	    (g.r.partition >= 0 && part != g.r.partition)) {
		diverge("produce to %s went to partition %d (asked %d)", tname[t], part, g.r.partition);
		return;
	}
	mpart *mp = &M.p[t][part];
	if (off != mp->end) {
		diverge("produce to %s/%d got offset %" PRId64 ", model end %" PRId64, tname[t], part,
			off, mp->end);
		return;
	}
	mp_push(mp, off, uid, ts == VARVE_TIMESTAMP_NOW ? M.clock : ts);
	S.produce++;
}

static void op_batch(void)
{
	int t = pick_topic();
	size_t n = 1 + rnd_n(16);
	gen g[16];
	varve_record recs[16];
	int64_t ts[16];
	uint32_t uid[16];
	int mode = (int)rnd_n(3); /* 0 any, 1 per-record partitions, 2 forced by options */
	varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
	if (mode == 2)
		po.partition = (int32_t)rnd_n(tparts[t]);
	for (size_t i = 0; i < n; i++) {
		uid[i] = M.next_uid++;
		ts[i] = pick_ts();
		gen_rec(&g[i], uid[i], t, ts[i]);
		recs[i] = g[i].r;
		if (mode == 1)
			recs[i].partition = (int32_t)rnd_n(tparts[t]);
	}
	int rc = varve_produce_batch(db, tname[t], recs, n, mode == 2 ? &po : NULL);
	if (rc) {
		diverge("produce batch of %zu to %s: %s", n, tname[t], varve_errmsg(rc));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int32_t part = recs[i].partition;
		if (part < 0 || (uint32_t)part >= tparts[t] || (mode == 2 && part != po.partition)) {
			diverge("batch record %zu went to partition %d", i, part);
			return;
		}
		mpart *mp = &M.p[t][part];
		if (recs[i].offset != mp->end) {
			diverge("batch record %zu to %s/%d got offset %" PRId64 ", model end %" PRId64, i,
				tname[t], part, recs[i].offset, mp->end);
			return;
		}
		mp_push(mp, recs[i].offset, uid[i], ts[i] == VARVE_TIMESTAMP_NOW ? M.clock : ts[i]);
	}
	S.batch++;
	S.batch_records += (long)n;
}

/* Read up to max records from `from`; exact for plain topics, loose for the
 * compacted one. Returns the offset after the last record read. */
static int read_check(varve_iter *it, int t, uint32_t p, int64_t from, size_t max, int to_end)
{
	mpart *mp = &M.p[t][p];
	int64_t prev = from - 1;
	size_t got = 0;
	for (;;) {
		if (!to_end && got >= max)
			return 0;
		const varve_record *r;
		int rc = varve_iter_next(it, &r);
		if (rc == VARVE_EEND) {
			if (t != T_K && prev + 1 != mp->end) {
				diverge("read %s/%u from %" PRId64 ": end of log after %" PRId64
					", model end %" PRId64, tname[t], p, from, prev, mp->end);
				return -1;
			}
			return 0;
		}
		if (rc) {
			diverge("read %s/%u from %" PRId64 ": %s", tname[t], p, from, varve_errmsg(rc));
			return -1;
		}
		got++;
		S.read_records++;
		if (r->partition != (int32_t)p) {
			diverge("read %s/%u: record says partition %d", tname[t], p, r->partition);
			return -1;
		}
		if (r->offset <= prev || r->offset >= mp->end) {
			diverge("read %s/%u: offset %" PRId64 " after %" PRId64 " (end %" PRId64 ")",
				tname[t], p, r->offset, prev, mp->end);
			return -1;
		}
		if (t != T_K && r->offset != prev + 1) {
			diverge("read %s/%u: offset %" PRId64 " after %" PRId64 ": a gap", tname[t], p,
				r->offset, prev);
			return -1;
		}
		const mrec *m = mp_find(mp, r->offset);
		if (!m) {
			diverge("read %s/%u: offset %" PRId64 " is not in the model", tname[t], p,
				r->offset);
			return -1;
		}
		if (check_rec(t, p, r, m, "read"))
			return -1;
		prev = r->offset;
	}
}

static int64_t pick_offset(const mpart *mp)
{
	uint64_t r = rnd_n(100);
	if (r < 10)
		return mp->start;
	if (r < 30)
		return mp->end - (int64_t)rnd_n(4);
	if (r < 35)
		return mp->start - 1 - (int64_t)rnd_n(3);
	if (r < 40)
		return mp->end + 1 + (int64_t)rnd_n(3);
	return mp->start + (int64_t)rnd_n((uint64_t)(mp->end - mp->start + 1));
}

static void op_read(void)
{
	int t = pick_topic();
	uint32_t p = (uint32_t)rnd_n(tparts[t]);
	mpart *mp = &M.p[t][p];
	int64_t from = pick_offset(mp);
	varve_iter *it = NULL;
	int rc = varve_iter_open(db, tname[t], p, from, &it);
	S.read++;
	if (from < mp->start || from > mp->end) {
		if (rc != VARVE_EOFFSET)
			diverge("iter_open %s/%u at %" PRId64 " outside [%" PRId64 ", %" PRId64 "]: %s",
				tname[t], p, from, mp->start, mp->end, varve_errmsg(rc));
		if (it)
			varve_iter_close(it);
		return;
	}
	if (rc) {
		diverge("iter_open %s/%u at %" PRId64 ": %s", tname[t], p, from, varve_errmsg(rc));
		return;
	}
	if (varve_iter_position(it) != from)
		diverge("iter_open %s/%u at %" PRId64 ": position %" PRId64, tname[t], p, from,
			varve_iter_position(it));
	if (read_check(it, t, p, from, 1 + rnd_n(48), 0) == 0 && rnd_n(3) == 0) {
		int64_t to = mp->start + (int64_t)rnd_n((uint64_t)(mp->end - mp->start + 1));
		rc = varve_iter_seek(it, to);
		S.seek++;
		if (rc)
			diverge("iter_seek %s/%u to %" PRId64 ": %s", tname[t], p, to, varve_errmsg(rc));
		else
			read_check(it, t, p, to, 1 + rnd_n(32), 0);
	}
	varve_iter_close(it);
}

static void op_offsets(void)
{
	int t = (int)rnd_n(NT);
	uint32_t p = (uint32_t)rnd_n(tparts[t]);
	int64_t s = -1, e = -1;
	int rc = varve_offsets(db, tname[t], p, &s, &e);
	if (rc || s != M.p[t][p].start || e != M.p[t][p].end)
		diverge("offsets %s/%u: %s [%" PRId64 ", %" PRId64 "), model [%" PRId64 ", %" PRId64 ")",
			tname[t], p, varve_errmsg(rc), s, e, M.p[t][p].start, M.p[t][p].end);
	S.offsets++;
}

static void op_time(void)
{
	int t = rnd_n(2) ? T_M : T_Z;
	uint32_t p = (uint32_t)rnd_n(tparts[t]);
	mpart *mp = &M.p[t][p];
	int64_t q;
	if (mp_live(mp) && rnd_n(2))
		q = mp->v[mp->first + rnd_n(mp_live(mp))].ts + (int64_t)rnd_n(3) - 1;
	else
		q = M.clock - (int64_t)rnd_n(3 * HOUR) + HOUR;
	int64_t want = -1;
	for (size_t i = mp->first; i < mp->n; i++)
		if (mp->v[i].ts >= q) {
			want = mp->v[i].offset;
			break;
		}
	int64_t got = -2;
	int rc = varve_offset_for_time(db, tname[t], p, q, &got);
	S.time++;
	if (want >= 0 && (rc || got != want))
		diverge("offset_for_time %s/%u ts %" PRId64 ": %s offset %" PRId64 ", model %" PRId64,
			tname[t], p, q, varve_errmsg(rc), got, want);
	if (want < 0 && (rc != VARVE_ENOTFOUND || got != mp->end))
		diverge("offset_for_time %s/%u ts %" PRId64 " (none): %s offset %" PRId64
			", model end %" PRId64, tname[t], p, q, varve_errmsg(rc), got, mp->end);
}

static void check_group(int g, int t, uint32_t p, const char *ctx)
{
	int64_t got = -1;
	int rc = varve_group_offset(db, gname[g], tname[t], p, &got);
	int64_t want = M.commit[g][t][p];
	if (want < 0 && rc != VARVE_ENOTFOUND)
		diverge("%s: group %s %s/%u: %s %" PRId64 ", model: no commit", ctx, gname[g], tname[t],
			p, varve_errmsg(rc), got);
	if (want >= 0 && (rc || got != want))
		diverge("%s: group %s %s/%u: %s %" PRId64 ", model %" PRId64, ctx, gname[g], tname[t], p,
			varve_errmsg(rc), got, want);
	S.group_check++;
}

static void op_commit(void)
{
	int g = (int)rnd_n(3), t = (int)rnd_n(NT);
	uint32_t p = (uint32_t)rnd_n(tparts[t]);
	int64_t off = (int64_t)rnd_n((uint64_t)M.p[t][p].end + 1);
	int rc = varve_group_commit(db, gname[g], tname[t], p, off, rnd_n(2) ? "meta" : NULL);
	if (rc) {
		diverge("group commit %s %s/%u at %" PRId64 ": %s", gname[g], tname[t], p, off,
			varve_errmsg(rc));
		return;
	}
	M.commit[g][t][p] = off;
	S.commit++;
	g = (int)rnd_n(3);
	t = (int)rnd_n(NT);
	check_group(g, t, (uint32_t)rnd_n(tparts[t]), "after commit");
}

static void op_consumer(void)
{
	int t = rnd_n(2) ? T_M : T_Z;
	const char *topics[1] = { tname[t] };
	varve_consumer_options co = VARVE_CONSUMER_OPTIONS_INIT;
	co.max_records = 1 + (uint32_t)rnd_n(100);
	varve_consumer *c = NULL;
	int rc = varve_consumer_open(db, "cg", topics, 1, &co, &c);
	if (rc) {
		diverge("consumer open: %s", varve_errmsg(rc));
		return;
	}
	int64_t pos[3];
	int delivered[3] = { 0, 0, 0 };
	for (uint32_t p = 0; p < tparts[t]; p++) {
		int64_t cm = M.commit[2][t][p];
		pos[p] = cm >= M.p[t][p].start && cm <= M.p[t][p].end ? cm : M.p[t][p].start;
	}
	int polls = 1 + (int)rnd_n(3);
	for (int k = 0; k < polls; k++) {
		const varve_msg *msgs;
		size_t n = 0;
		rc = varve_consumer_poll(c, 0, &msgs, &n);
		if (rc) {
			diverge("consumer poll %s: %s", tname[t], varve_errmsg(rc));
			break;
		}
		if (n > co.max_records)
			diverge("poll returned %zu records, max_records %u", n, co.max_records);
		for (size_t i = 0; i < n; i++) {
			const varve_record *r = &msgs[i].rec;
			uint32_t p = (uint32_t)r->partition;
			if (strcmp(msgs[i].topic, tname[t]) || p >= tparts[t]) {
				diverge("poll returned %s/%d", msgs[i].topic, r->partition);
				break;
			}
			if (r->offset != pos[p]) {
				diverge("poll %s/%u: offset %" PRId64 ", expected %" PRId64, tname[t], p,
					r->offset, pos[p]);
				break;
			}
			const mrec *m = mp_find(&M.p[t][p], r->offset);
			if (!m) {
				diverge("poll %s/%u: offset %" PRId64 " not in the model", tname[t], p,
					r->offset);
				break;
			}
			if (check_rec(t, p, r, m, "poll"))
				break;
			pos[p]++;
			delivered[p] = 1;
			S.consumer_records++;
		}
		if (divergences)
			break;
	}
	if (!divergences && (rc = varve_consumer_commit(c)))
		diverge("consumer commit: %s", varve_errmsg(rc));
	for (uint32_t p = 0; !divergences && p < tparts[t]; p++) {
		int64_t cp = -1;
		rc = varve_consumer_position(c, tname[t], p, &cp);
		if (rc == 0 && cp != pos[p])
			diverge("consumer position %s/%u: %" PRId64 ", model %" PRId64, tname[t], p, cp,
				pos[p]);
		int64_t got = -1;
		rc = varve_group_offset(db, "cg", tname[t], p, &got);
		/* A partition this consumer delivered nothing from may keep its old
		 * commit: commit_positions skips positions never initialized. */
		if (rc == 0 && got == M.commit[2][t][p] && !delivered[p])
			continue;
		if (rc == 0) {
			if (got != pos[p])
				diverge("after consumer commit: cg %s/%u at %" PRId64 ", position %" PRId64,
					tname[t], p, got, pos[p]);
			M.commit[2][t][p] = got;
		} else if (M.commit[2][t][p] >= 0) {
			diverge("after consumer commit: cg %s/%u: %s, model %" PRId64, tname[t], p,
				varve_errmsg(rc), M.commit[2][t][p]);
		}
	}
	varve_consumer_close(c);
	S.consumer++;
}

static void drop_prefix(int t, uint32_t p, int64_t new_start)
{
	mpart *mp = &M.p[t][p];
	while (mp->first < mp->n && mp->v[mp->first].offset < new_start) {
		mp->first++;
		S.dropped_by_retention++;
	}
	mp->start = new_start;
}

/* After a cleaning round: the log starts against the retention rules. */
static void after_retention(void)
{
	int rc;
	for (int t = 0; t < NT; t++)
		for (uint32_t p = 0; p < tparts[t]; p++) {
			mpart *mp = &M.p[t][p];
			int64_t s = -1, e = -1;
			rc = varve_offsets(db, tname[t], p, &s, &e);
			if (rc || e != mp->end || s < mp->start || s > mp->end) {
				diverge("after retention %s/%u: [%" PRId64 ", %" PRId64 "), model [%" PRId64
					", %" PRId64 ")", tname[t], p, s, e, mp->start, mp->end);
				return;
			}
			if (s == mp->start)
				continue;
			if (t == T_K) {
				diverge("compacted %s/%u: log start moved %" PRId64 " -> %" PRId64, tname[t],
					p, mp->start, s);
				return;
			}
			if (t == T_Z && e - s < RET_RECS) {
				diverge("retention of %s/%u kept %" PRId64 " records, fewer than %d", tname[t],
					p, e - s, RET_RECS);
				return;
			}
			if (t == T_M)
				for (size_t i = mp->first; i < mp->n && mp->v[i].offset < s; i++)
					if (mp->v[i].ts >= M.clock - RET_MS) {
						diverge("retention of %s/%u dropped offset %" PRId64 " with ts %" PRId64
							", not older than %" PRId64, tname[t], p, mp->v[i].offset,
							mp->v[i].ts, M.clock - RET_MS);
						return;
					}
			drop_prefix(t, p, s);
		}
}

static void op_retention(void)
{
	M.clock += (int64_t)rnd_n(90 * 60 * 1000);
	int rc = varve_clean_now(db, 0);
	S.retention++;
	if (rc) {
		diverge("clean_now(0): %s", varve_errmsg(rc));
		return;
	}
	after_retention();
}

/* Whole compacted partitions against the model; prune the model to what is
 * stored (compaction only ever removes). */
static void scan_compacted(const char *ctx)
{
	for (uint32_t p = 0; p < tparts[T_K]; p++) {
		mpart *mp = &M.p[T_K][p];
		int64_t latest[NKEYS];
		const mrec *latest_rec[NKEYS];
		for (int k = 0; k < NKEYS; k++) {
			latest[k] = -1;
			latest_rec[k] = NULL;
		}
		for (size_t i = mp->first; i < mp->n; i++) {
			int k = key_of(mp->v[i].uid);
			latest[k] = mp->v[i].offset;
			latest_rec[k] = &mp->v[i];
		}
		uint8_t *present = calloc(mp->n + 1, 1);
		varve_iter *it;
		int rc = varve_iter_open(db, "k", p, mp->start, &it);
		if (rc) {
			diverge("%s: iter_open k/%u: %s", ctx, p, varve_errmsg(rc));
			free(present);
			return;
		}
		int64_t prev = -1;
		const varve_record *r;
		while ((rc = varve_iter_next(it, &r)) == 0) {
			if (r->offset <= prev || r->offset >= mp->end) {
				diverge("%s: k/%u offset %" PRId64 " after %" PRId64, ctx, p, r->offset, prev);
				break;
			}
			prev = r->offset;
			const mrec *m = mp_find(mp, r->offset);
			if (!m) {
				diverge("%s: k/%u offset %" PRId64 " is not in the model", ctx, p, r->offset);
				break;
			}
			if (check_rec(T_K, p, r, m, ctx))
				break;
			present[m - mp->v] = 1;
			S.read_records++;
		}
		varve_iter_close(it);
		if (!divergences && rc != VARVE_EEND)
			diverge("%s: k/%u: %s", ctx, p, varve_errmsg(rc));
		for (int k = 0; k < NKEYS && !divergences; k++) {
			if (!latest_rec[k] || present[latest_rec[k] - mp->v])
				continue;
			gen g;
			gen_rec(&g, latest_rec[k]->uid, T_K, latest_rec[k]->ts);
			int tomb_may_go = !g.r.value && latest_rec[k]->app + TOMB_MS <= M.clock;
			if (!tomb_may_go)
				diverge("%s: k/%u: the latest record of key-%d (offset %" PRId64 "%s) is gone",
					ctx, p, k, latest[k], g.r.value ? "" : ", a tombstone");
		}
		if (!divergences) { /* prune */
			size_t w = mp->first;
			for (size_t i = mp->first; i < mp->n; i++)
				if (present[i])
					mp->v[w++] = mp->v[i];
				else
					S.dropped_by_compaction++;
			mp->n = w;
		}
		free(present);
	}
}

static void op_compaction(void)
{
	int rc = varve_clean_now(db, 1);
	S.compaction++;
	if (rc) {
		diverge("clean_now(1): %s", varve_errmsg(rc));
		return;
	}
	after_retention(); /* a forced round runs retention too */
	if (!divergences)
		scan_compacted("after compaction");
}

/* Everything against the model: offsets, every record, every commit. */
static void full_check(const char *ctx)
{
	for (int t = 0; t < NT && !divergences; t++)
		for (uint32_t p = 0; p < tparts[t] && !divergences; p++) {
			mpart *mp = &M.p[t][p];
			int64_t s = -1, e = -1;
			int rc = varve_offsets(db, tname[t], p, &s, &e);
			if (rc || s != mp->start || e != mp->end) {
				diverge("%s: offsets %s/%u [%" PRId64 ", %" PRId64 "), model [%" PRId64
					", %" PRId64 ")", ctx, tname[t], p, s, e, mp->start, mp->end);
				break;
			}
			if (t == T_K)
				continue;
			varve_iter *it;
			if ((rc = varve_iter_open(db, tname[t], p, mp->start, &it))) {
				diverge("%s: iter_open %s/%u: %s", ctx, tname[t], p, varve_errmsg(rc));
				break;
			}
			read_check(it, t, p, mp->start, 0, 1);
			varve_iter_close(it);
		}
	if (!divergences)
		scan_compacted(ctx);
	for (int g = 0; g < 3 && !divergences; g++)
		for (int t = 0; t < NT; t++)
			for (uint32_t p = 0; p < tparts[t]; p++)
				check_group(g, t, p, ctx);
}

static void op_reopen(int clean)
{
	int rc;
	varve_options o = store_opts();
	if (clean) {
		if ((rc = varve_close(db))) {
			db = NULL;
			diverge("close: %s", varve_errmsg(rc));
			return;
		}
		db = NULL;
		S.reopen++;
	} else {
		/* the state a crash would leave: the files as they are now (with
		 * the buffer written: the model expects every record) */
		if (model_buffer && (rc = varve_sync(db))) {
			diverge("sync: %s", varve_errmsg(rc));
			return;
		}
		char next[4096];
		snprintf(next, sizeof next, "%s/store%d", root, ++gen_no);
		if (fu_copy_tree(store_path, next)) {
			diverge("copying the open store failed");
			return;
		}
		if (getenv("VARVE_MODEL_KEEP_COPIES")) { /* debugging: the copy as taken */
			char keep[4200];
			snprintf(keep, sizeof keep, "%s.orig", next);
			fu_copy_tree(next, keep);
		}
		varve_close(db);
		db = NULL;
		fu_rm_rf(store_path);
		snprintf(store_path, sizeof store_path, "%s", next);
		S.unclean++;
	}
	rc = varve_open(store_path, &o, &db);
	if (rc) {
		db = NULL;
		diverge("%s reopen: %s", clean ? "clean" : "unclean", varve_errmsg(rc));
		return;
	}
	const varve_recovery_cut *cuts;
	size_t ncuts = 0;
	varve_recovery_cuts(db, &cuts, &ncuts);
	for (size_t i = 0; i < ncuts; i++)
		if (strcmp(cuts[i].reason, "") && cuts[i].first_offset_lost >= 0 &&
		    cuts[i].last_offset_lost >= cuts[i].first_offset_lost) {
			diverge("%s reopen cut %s/%d: offsets %" PRId64 "..%" PRId64 " (%s)",
				clean ? "clean" : "unclean", cuts[i].topic, cuts[i].partition,
				cuts[i].first_offset_lost, cuts[i].last_offset_lost, cuts[i].reason);
			return;
		}
	full_check(clean ? "after a clean reopen" : "after an unclean reopen");
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : dflt;
}

static void run_model(long ops)
{
	const char *seed_env = getenv("VARVE_MODEL_SEED");
	run_seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 10) : fu_now_ns() ^ (uint64_t)getpid();
	rs = run_seed;
	ordered_ts = getenv("VARVE_MODEL_ORDERED_TS") && atoi(getenv("VARVE_MODEL_ORDERED_TS"));
	no_unclean = getenv("VARVE_MODEL_NO_UNCLEAN") && atoi(getenv("VARVE_MODEL_NO_UNCLEAN"));
	memset(&M, 0, sizeof M);
	memset(&S, 0, sizeof S);
	M.clock = 1700000000000LL;
	M.salt = fu_rand(&rs);
	for (int g = 0; g < 3; g++)
		for (int t = 0; t < NT; t++)
			for (int p = 0; p < 3; p++)
				M.commit[g][t][p] = -1;
	printf("model: %ld operations, seed %" PRIu64 " (rerun: VARVE_MODEL_SEED=%" PRIu64
	       " VARVE_MODEL_OPS=%ld)%s%s%s\n", ops, run_seed, run_seed, ops,
	       ordered_ts ? " [VARVE_MODEL_ORDERED_TS]" : "", no_unclean ? " [VARVE_MODEL_NO_UNCLEAN]" : "",
	       !model_buffer ? "" : model_policy == VARVE_SYNC_INTERVAL ? " [append buffer, interval]"
									  : " [append buffer, none]");
	fflush(stdout);
	root = fu_tmpdir("model");
	cr_assert_not_null(root);
	snprintf(store_path, sizeof store_path, "%s/store0", root);
	varve_options o = store_opts();
	int rc = varve_open(store_path, &o, &db);
	cr_assert_eq(rc, 0, "open: %s", varve_last_error()->message);
	create_topics();
	uint64_t t0 = fu_now_ns();
	static const char *const kind_name[] = { "produce", "batch", "read", "offsets", "time",
						 "commit", "consumer", "group", "retention",
						 "compaction", "reopen", "unclean" };
	uint64_t kind_ns[12] = { 0 }, kind_sync[12] = { 0 };
	long kind_n[12] = { 0 };
	for (op_index = 0; op_index < ops && !divergences; op_index++) {
		M.clock += (int64_t)rnd_n(200);
		uint64_t r = rnd_n(100000);
		int kind;
		uint64_t k0 = fu_now_ns();
		varve_stats st0 = { .version = VARVE_STATS_VERSION };
		if (getenv("VARVE_MODEL_PROFILE"))
			varve_stats_get(db, &st0);
		if (r < 50000) {
			kind = 0;
			op_produce();
		} else if (r < 60000) {
			kind = 1;
			op_batch();
		} else if (r < 80000) {
			kind = 2;
			op_read();
		} else if (r < 84000) {
			kind = 3;
			op_offsets();
		} else if (r < 87000) {
			kind = 4;
			op_time();
		} else if (r < 88500) {
			kind = 5;
			op_commit();
		} else if (r < 88800) {
			kind = 6;
			op_consumer();
		} else if (r < 99982) {
			kind = 7;
			int t = (int)rnd_n(NT);
			check_group((int)rnd_n(3), t, (uint32_t)rnd_n(tparts[t]), "check");
		} else if (r < 99992) {
			kind = 8;
			op_retention();
		} else if (r < 99996) {
			kind = 9;
			op_compaction();
		} else if (r < 99998 || no_unclean) {
			kind = 10;
			op_reopen(1);
		} else {
			kind = 11;
			op_reopen(0);
		}
		kind_ns[kind] += fu_now_ns() - k0;
		kind_n[kind]++;
		if (getenv("VARVE_MODEL_PROFILE") && db) {
			varve_stats st1 = { .version = VARVE_STATS_VERSION };
			varve_stats_get(db, &st1);
			kind_sync[kind] += (st1.fsyncs + st1.dir_syncs) - (st0.fsyncs + st0.dir_syncs);
		}
	}
	if (getenv("VARVE_MODEL_PROFILE"))
		for (int k = 0; k < 12; k++)
			fprintf(stderr, "model: %-10s %8ld ops %8.1f ms total %8.1f us/op %8.2f fsyncs/op\n",
				kind_name[k], kind_n[k], (double)kind_ns[k] / 1e6,
				kind_n[k] ? (double)kind_ns[k] / 1e3 / (double)kind_n[k] : 0.0,
				kind_n[k] ? (double)kind_sync[k] / (double)kind_n[k] : 0.0);
	long done = op_index;
	if (!divergences) {
		full_check("at the end");
		if (!divergences)
			op_reopen(1);
	}
	double secs = (double)(fu_now_ns() - t0) / 1e9;
	long live = 0;
	for (int t = 0; t < NT; t++)
		for (uint32_t p = 0; p < tparts[t]; p++)
			live += (long)mp_live(&M.p[t][p]);
	printf("model: %ld operations in %.1f s (seed %" PRIu64 "): %ld produce, %ld batches (%ld "
	       "records), %ld reads (%ld records read), %ld seeks, %ld offset checks, %ld time "
	       "lookups, %ld commits, %ld group checks, %ld consumers (%ld records), %ld retention "
	       "rounds (%ld records dropped), %ld compactions (%ld records dropped), %ld clean and "
	       "%ld unclean reopens; %u records appended, %ld live at the end; %ld divergences\n",
	       done, secs, run_seed, S.produce, S.batch, S.batch_records, S.read, S.read_records,
	       S.seek, S.offsets, S.time, S.commit, S.group_check, S.consumer, S.consumer_records,
	       S.retention, S.dropped_by_retention, S.compaction, S.dropped_by_compaction, S.reopen,
	       S.unclean, M.next_uid, live, divergences);
	fflush(stdout);
	if (db)
		varve_close(db);
	if (!divergences)
		fu_rm_rf(root);
	else
		fprintf(stderr, "model: store kept at %s\n", store_path);
	free(root);
	for (int t = 0; t < NT; t++)
		for (uint32_t p = 0; p < tparts[t]; p++)
			free(M.p[t][p].v);
	cr_assert(divergences == 0, "%ld divergences; first: %s", divergences, first_div);
}

Test(model, random_operations_against_a_model, .timeout = 1800)
{
	run_model(env_long("VARVE_MODEL_OPS", 1000000));
}

Test(model, random_operations_with_the_append_buffer_sync_none, .timeout = 1800)
{
	model_buffer = 4096;
	model_policy = VARVE_SYNC_NONE;
	run_model(env_long("VARVE_MODEL_OPS", 1000000) / 5);
}

Test(model, random_operations_with_the_append_buffer_sync_interval, .timeout = 1800)
{
	model_buffer = 4096;
	model_policy = VARVE_SYNC_INTERVAL;
	run_model(env_long("VARVE_MODEL_OPS", 1000000) / 5);
}

/* ---- focused cases the model found -------------------------------------------------- */

/* A batch whose records' timestamps are not in order is acknowledged and
 * must read back. */
Test(model, batch_with_out_of_order_timestamps_reads_back)
{
	char *dir = fu_tmpdir("tsorder");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	varve_db *d;
	cr_assert_eq(varve_open(path, &o, &d), 0);
	cr_assert_eq(varve_topic_create(d, "t", NULL), 0);
	varve_record recs[2];
	memset(recs, 0, sizeof recs);
	recs[0].value = "later";
	recs[0].value_len = 5;
	recs[0].timestamp = 1700000002000LL;
	recs[1].value = "earlier";
	recs[1].value_len = 7;
	recs[1].timestamp = 1700000001000LL;
	recs[0].partition = recs[1].partition = 0;
	int rc = varve_produce_batch(d, "t", recs, 2, NULL);
	cr_assert_eq(rc, 0, "produce_batch: %s", varve_last_error()->message);
	varve_iter *it;
	cr_assert_eq(varve_iter_open(d, "t", 0, 0, &it), 0);
	const varve_record *r;
	int rc1 = varve_iter_next(it, &r);
	int64_t ts1 = rc1 == 0 ? r->timestamp : -1;
	int rc2 = rc1 == 0 ? varve_iter_next(it, &r) : rc1;
	int64_t ts2 = rc2 == 0 ? r->timestamp : -1;
	char msg[600];
	snprintf(msg, sizeof msg, "%s", varve_last_error()->message);
	varve_iter_close(it);
	varve_close(d);
	fu_rm_rf(dir);
	free(dir);
	printf("model[batch with timestamps 2000, 1000]: produce OK, read back: %s (ts %" PRId64
	       "), %s (ts %" PRId64 ")\n", fu_code_name(rc1), ts1, fu_code_name(rc2), ts2);
	cr_assert(rc1 == 0 && rc2 == 0 && ts1 == 1700000002000LL && ts2 == 1700000001000LL,
		  "an acknowledged batch whose second record is older than its first does not read "
		  "back: %s (%s). batch.c vv_bb_add takes the FIRST record's timestamp as "
		  "first_timestamp (not the minimum) and encodes later ones as deltas that may be "
		  "negative, but vv_record_next rejects ts < first_timestamp as corrupt; "
		  "recovery's vv_batch_validate_records then cuts the batch and everything after "
		  "it on the next unclean open",
		  fu_code_name(rc1 ? rc1 : rc2), msg);
}

/* Compaction rewrites a segment the recovery point points into; a crash
 * afterwards must not cut what compaction kept (or anything after it). */
static int compaction_crash_child(const char *path, int fd)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.sync_policy = VARVE_SYNC_ALWAYS;
	varve_topic_config c;
	varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_bytes = 1024;
	c.min_cleanable_dirty_ratio = 0;
	varve_db *d;
	if (varve_open(path, &o, &d) || varve_topic_create(d, "k", &c))
		return 2;
	uint8_t v[256];
	int n = 0;
	/* 4 records, then a clean reopen: the recovery point names segment 0
	 * at the position after them */
	for (; n < 4; n++) {
		char key[16];
		int kl = snprintf(key, sizeof key, "key-%d", n);
		memset(v, 'a' + n, sizeof v);
		varve_record r = { key, (size_t)kl, v, (size_t)(60 + 13 * n), NULL, 0, 0, 0, 0, 0 };
		if (varve_produce(d, "k", &r, NULL, NULL))
			return 3;
	}
	if (varve_close(d) || varve_open(path, &o, &d))
		return 4;
	/* overwrite key 0 (still in segment 0), then unique keys until a few
	 * segments exist: compaction drops the first record of segment 0, so the
	 * recovery point's position falls inside a batch of the new segment 0 */
	for (; n < 40; n++) {
		char key[16];
		int kl = snprintf(key, sizeof key, "key-%d", n == 4 ? 0 : n);
		memset(v, 'a' + n % 26, sizeof v);
		varve_record r = { key, (size_t)kl, v, (size_t)(60 + 7 * (n % 11)), NULL, 0, 0, 0, 0, 0 };
		if (varve_produce(d, "k", &r, NULL, NULL))
			return 5;
	}
	if (varve_clean_now(d, 1))
		return 6;
	/* report what is stored now: offset and first value byte */
	varve_iter *it;
	if (varve_iter_open(d, "k", 0, 0, &it))
		return 7;
	const varve_record *r;
	while (varve_iter_next(it, &r) == 0) {
		int64_t rec[2] = { r->offset, r->value_len ? ((const uint8_t *)r->value)[0] : -1 };
		(void)!write(fd, rec, sizeof rec);
	}
	varve_iter_close(it);
	close(fd);
	if (getenv("VARVE_MODEL_KEEP_CRASH")) /* debugging: the files at the crash */
		fu_copy_tree(path, getenv("VARVE_MODEL_KEEP_CRASH"));
	raise(SIGKILL);
	return 8;
}

Test(model, compaction_then_crash_keeps_every_record)
{
	char *dir = fu_tmpdir("compcrash");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		_exit(compaction_crash_child(path, pfd[1]));
	}
	close(pfd[1]);
	int64_t before[64][2];
	size_t nb = 0;
	int64_t rec[2];
	while (read(pfd[0], rec, sizeof rec) == (ssize_t)sizeof rec && nb < 64) {
		before[nb][0] = rec[0];
		before[nb++][1] = rec[1];
	}
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status), "child failed before the crash (exit %d)",
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	varve_db *d;
	cr_assert_eq(varve_open(path, &o, &d), 0, "reopen: %s", varve_last_error()->message);
	const varve_recovery_cut *cuts;
	size_t ncuts = 0;
	varve_recovery_cuts(d, &cuts, &ncuts);
	char cut[300] = "none";
	if (ncuts)
		snprintf(cut, sizeof cut, "segment %" PRId64 " at byte %" PRIu64 ": %s, %" PRIu64
			 " bytes removed", cuts[0].segment_base, cuts[0].position, cuts[0].reason,
			 cuts[0].bytes_lost);
	varve_iter *it;
	cr_assert_eq(varve_iter_open(d, "k", 0, 0, &it), 0);
	const varve_record *r;
	size_t na = 0, mismatch = 0;
	while (varve_iter_next(it, &r) == 0) {
		if (na < nb && (r->offset != before[na][0] ||
				(r->value_len ? ((const uint8_t *)r->value)[0] : -1) != before[na][1]))
			mismatch++;
		na++;
	}
	varve_iter_close(it);
	int64_t end = 0;
	varve_offsets(d, "k", 0, NULL, &end);
	varve_close(d);
	fu_rm_rf(dir);
	free(dir);
	printf("model[compaction, then kill -9]: %zu records stored before the crash, %zu after "
	       "(end offset %" PRId64 "); recovery cut: %s\n", nb, na, end, cut);
	cr_assert(nb > 0);
	cr_assert(na == nb && mismatch == 0,
		  "after compaction and a crash, %zu of %zu records remain (cut: %s). The recovery "
		  "point names a byte position in a segment that compaction rewrote "
		  "(compact.c swaps in a smaller segment under the same base and never moves the "
		  "recovery point); recovery scans from that position, lands inside a batch, cuts "
		  "the segment there and deletes every later segment (partition.c recover)",
		  na, nb, cut);
}

/* After a clean reopen the active segment's records from before the reopen
 * still count for time lookups and time retention. */
static int64_t fclock_now = 1700000000000LL;
static int64_t fclock(void *ctx)
{
	(void)ctx;
	return fclock_now;
}

static int64_t put_ts(varve_db *d, const char *topic, int64_t ts, size_t vlen, char fill)
{
	char v[1200];
	memset(v, fill, sizeof v);
	varve_record r = { "k", 1, v, vlen, NULL, 0, ts, 0, 0, 0 };
	int64_t off = -1;
	int rc = varve_produce(d, topic, &r, NULL, &off);
	cr_assert_eq(rc, 0, "produce: %s", varve_last_error()->message);
	return off;
}

Test(model, time_lookup_sees_records_from_before_a_clean_reopen)
{
	char *dir = fu_tmpdir("tsreopen");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	varve_db *d;
	cr_assert_eq(varve_open(path, &o, &d), 0);
	cr_assert_eq(varve_topic_create(d, "t", NULL), 0);
	int64_t T = 1700000000000LL;
	int64_t a = put_ts(d, "t", T + 10 * HOUR, 10, 'a'); /* the newest timestamp */
	cr_assert_eq(varve_close(d), 0);
	cr_assert_eq(varve_open(path, &o, &d), 0);
	put_ts(d, "t", T, 10, 'b'); /* an older producer timestamp, after the reopen */
	int64_t got = -1;
	int rc = varve_offset_for_time(d, "t", 0, T + 5 * HOUR, &got);
	varve_close(d);
	/* and after another clean reopen */
	cr_assert_eq(varve_open(path, &o, &d), 0);
	int64_t got2 = -1;
	int rc2 = varve_offset_for_time(d, "t", 0, T + 5 * HOUR, &got2);
	varve_close(d);
	fu_rm_rf(dir);
	free(dir);
	printf("model[time lookup across a clean reopen]: record at %" PRId64 " has ts T+10h; "
	       "offset_for_time(T+5h): %s %" PRId64 " (then after one more reopen: %s %" PRId64 ")\n",
	       a, fu_code_name(rc), got, fu_code_name(rc2), got2);
	cr_assert(rc == 0 && got == a,
		  "varve_offset_for_time(T+5h) returned %s %" PRId64 ", want offset %" PRId64
		  " (ts T+10h, appended before a clean reopen). After a clean open the active "
		  "segment is not scanned, so its max_ts starts at INT64_MIN and appends set it from "
		  "the new batches only (segment.c vv_segment_append); vv_segment_find_time then "
		  "skips the segment because max_ts < ts",
		  fu_code_name(rc), got, a);
}

Test(model, time_retention_keeps_records_from_before_a_clean_reopen)
{
	char *dir = fu_tmpdir("retreopen");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.clock_fn = fclock;
	varve_topic_config c;
	varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
	c.retention_ms = HOUR;
	c.segment_bytes = 1024;
	varve_db *d;
	cr_assert_eq(varve_open(path, &o, &d), 0);
	cr_assert_eq(varve_topic_create(d, "t", &c), 0);
	int64_t a = put_ts(d, "t", fclock_now, 10, 'a'); /* fresh */
	cr_assert_eq(varve_close(d), 0);
	cr_assert_eq(varve_open(path, &o, &d), 0);
	put_ts(d, "t", fclock_now - 10 * HOUR, 10, 'b'); /* an old producer timestamp */
	put_ts(d, "t", fclock_now, 1000, 'c');           /* rolls: segment 0 is sealed */
	fclock_now += 60 * 1000;                         /* a minute later: 'a' is 1 min old */
	int rc = varve_clean_now(d, 0);
	int64_t start = -1;
	varve_offsets(d, "t", 0, &start, NULL);
	varve_close(d);
	fu_rm_rf(dir);
	free(dir);
	printf("model[time retention across a clean reopen]: record %" PRId64 " is 1 minute old "
	       "(retention 1 h); clean %s; log start now %" PRId64 "\n",
	       a, fu_code_name(rc), start);
	cr_assert(start <= a,
		  "time retention (1 h) deleted offset %" PRId64 ", a record one minute old: its "
		  "segment's max_ts only counts the batches appended after the last clean reopen "
		  "(see time_lookup_sees_records_from_before_a_clean_reopen), so cleaner.c "
		  "apply_retention judged the segment by an old producer timestamp",
		  a);
}

/* An iterator tailing the log while a producer appends and rolls must see
 * every offset (found by the concurrency stress under TSan). */
static varve_db *tail_db;
static _Atomic int tail_stop;

static void *tail_writer(void *arg)
{
	(void)arg;
	char v[256];
	memset(v, 'v', sizeof v);
	uint64_t s = 42;
	while (!atomic_load(&tail_stop)) {
		varve_record r = { NULL, 0, v, 60 + (size_t)(fu_rand(&s) % 150), NULL, 0, 0, 0, 0, 0 };
		if (varve_produce(tail_db, "t", &r, NULL, NULL))
			break;
	}
	return NULL;
}

Test(model, tailing_iterator_sees_every_offset_across_rolls, .timeout = 120)
{
	char *dir = fu_fast_tmpdir("tail");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	o.sync_policy = VARVE_SYNC_NONE;
	o.segment_bytes = 1024;
	cr_assert_eq(varve_open(path, &o, &tail_db), 0);
	cr_assert_eq(varve_topic_create(tail_db, "t", NULL), 0);
	atomic_store(&tail_stop, 0);
	pthread_t th;
	pthread_create(&th, NULL, tail_writer, NULL);
	varve_iter *it;
	cr_assert_eq(varve_iter_open(tail_db, "t", 0, 0, &it), 0);
	int64_t prev = -1, first_gap_at = -1, first_gap_to = -1;
	long gaps = 0, n = 0;
	int rc = 0;
	uint64_t t0 = fu_now_ns();
	while (fu_now_ns() - t0 < 3000000000ull && gaps < 100) {
		const varve_record *r;
		rc = varve_iter_next(it, &r);
		if (rc == VARVE_EEND)
			continue;
		if (rc)
			break;
		if (r->offset != prev + 1 && gaps++ == 0) {
			first_gap_at = prev;
			first_gap_to = r->offset;
		}
		prev = r->offset;
		n++;
	}
	atomic_store(&tail_stop, 1);
	pthread_join(th, NULL);
	varve_iter_close(it);
	int64_t end = 0;
	varve_offsets(tail_db, "t", 0, NULL, &end);
	varve_close(tail_db);
	fu_rm_rf(dir);
	free(dir);
	printf("model[tailing iterator, 1 KiB segments]: read %ld records while %" PRId64
	       " were appended; %ld gaps (first: %" PRId64 " -> %" PRId64 ")\n",
	       n, end, gaps, first_gap_at, first_gap_to);
	cr_assert(rc == 0 || rc == VARVE_EEND, "iterator: %s", fu_code_name(rc));
	cr_assert_eq(gaps, 0,
		     "a tailing iterator skipped offsets %" PRId64 "..%" PRId64 " (%ld gaps): "
		     "reader.c vv_reader_next loads the segment's size, finds no batch past it "
		     "(VARVE_EEND), then moves to the next segment if there is one; when the "
		     "producer appends to that segment and rolls between the two steps, the "
		     "records appended in between are skipped",
		     first_gap_at + 1, first_gap_to - 1, gaps);
}
