/* SPDX-License-Identifier: MIT */
/*
 * kill9_child -- the kill -9 campaign program (issue "Reliability").
 *
 *   kill9_child run STORE POLICY GEN
 *       Appends forever to STORE under POLICY (always | interval | none,
 *       or interval-buffered | none-buffered: with a 4 KiB append buffer):
 *       single records and batches to "p" (2 partitions, 4 KiB segments:
 *       frequent rolls), keyed records to the compacted "c", group commits,
 *       forced compaction rounds and syncs. After every call that returned
 *       success it writes a fixed-size acknowledgement to stdout (a pipe).
 *       Any error is reported as an ERR acknowledgement and exit 3.
 *
 *   kill9_child check STORE POLICY ACKS STATE
 *       Reopens STORE (the writer's recovery runs) and checks it against
 *       the acknowledgements of the generation that was killed (ACKS) and
 *       the state verified after the previous one (STATE, updated):
 *         - every record of "p" is well formed (its value carries its uid
 *           and a checksum), offsets are dense from the log start;
 *         - what the previous check verified is still there, unchanged
 *           (a hash of offsets and uids per partition);
 *         - always: every acknowledged record is there, at its offset;
 *           interval / none: only a tail may be missing (if an acknowledged
 *           record is gone, so is every later one of its partition); with
 *           the append buffer, no more of it than the buffer holds (the
 *           lost records' values alone must fit in it);
 *         - "c": every record well formed, offsets increasing; always: the
 *           latest acknowledged record of every key is there or superseded
 *           by a later stored record of that key;
 *         - always: acknowledged group commits hold.
 *       Exit 0 (ok, a summary line on stdout), 1 (violation, on stderr).
 *
 *   kill9_child campaign DIR N [POLICIES] [MIN_MS] [MAX_MS] [SEED]
 *       N kill points: for each, the policy in turn, a child `run` is
 *       killed with SIGKILL after a random delay in [MIN_MS, MAX_MS]
 *       (default 5..120), then `check` runs. Each policy has its own store
 *       under DIR, started afresh every 50 kill points. Stops at the first
 *       violation (the store is kept). Prints totals.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault_util.h"
#include "varve.h"

enum { A_REC = 1, A_COMMIT = 2, A_ERR = 3 };

typedef struct k9_ack {
	uint32_t type;
	uint32_t topic; /* 0 = p, 1 = c */
	int32_t part;
	uint32_t key;   /* c: key number */
	int64_t offset; /* A_COMMIT: the committed offset */
	uint64_t uid;
} k9_ack;

#define P_PARTS 2
#define C_KEYS 16

/* A policy name with "-buffered": the sync policy with K9_BUFFERED set
 * (varve_options.append_buffer_bytes = K9_BUFFER_BYTES). */
#define K9_BUFFERED 0x100
#define K9_BUFFER_BYTES 4096
#define K9_POLICY(p) ((p) & 0xff)

static int parse_policy(const char *s)
{
	if (!strcmp(s, "always"))
		return VARVE_SYNC_ALWAYS;
	if (!strcmp(s, "interval"))
		return VARVE_SYNC_INTERVAL;
	if (!strcmp(s, "none"))
		return VARVE_SYNC_NONE;
	if (!strcmp(s, "interval-buffered"))
		return VARVE_SYNC_INTERVAL | K9_BUFFERED;
	if (!strcmp(s, "none-buffered"))
		return VARVE_SYNC_NONE | K9_BUFFERED;
	return -1;
}

/* value: uid (8), checksum (8), bytes derived from the uid */
static uint64_t mix(uint64_t x)
{
	uint64_t s = x;
	return fu_rand(&s);
}

static size_t make_value(uint8_t *v, uint64_t uid)
{
	uint64_t s = uid * 0x2545f4914f6cdd1dull;
	size_t n = 16 + (size_t)(fu_rand(&s) % 180);
	memcpy(v, &uid, 8);
	uint64_t h = mix(uid);
	for (size_t i = 16; i < n; i++) {
		v[i] = (uint8_t)fu_rand(&s);
		h = h * 31 + v[i];
	}
	memcpy(v + 8, &h, 8);
	return n;
}

static int value_ok(const varve_record *r, uint64_t *uid)
{
	if (!r->value || r->value_len < 16)
		return 0;
	memcpy(uid, r->value, 8);
	uint8_t v[256];
	size_t n = make_value(v, *uid);
	return n == r->value_len && memcmp(v, r->value, n) == 0;
}

static varve_options opts_for(int policy)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = K9_POLICY(policy);
	if (policy & K9_BUFFERED)
		o.append_buffer_bytes = K9_BUFFER_BYTES;
	o.sync_interval_ms = 20;
	o.start_cleaner = 0;
	o.segment_bytes = 4096;
	o.cleaner_memory_bytes = 1 << 20;
	return o;
}

/* ---- run ------------------------------------------------------------------- */

static void ack_write(const k9_ack *a)
{
	const char *p = (const char *)a;
	size_t left = sizeof *a;
	while (left) {
		ssize_t w = write(1, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(4);
		p += w;
		left -= (size_t)w;
	}
}

static void run_err(const char *what, int rc)
{
	fprintf(stderr, "kill9_child run: %s: %s (%s)\n", what, varve_errmsg(rc),
		varve_last_error()->message);
	k9_ack a = { A_ERR, 0, 0, 0, rc, 0 };
	ack_write(&a);
	_exit(3);
}

static int cmd_run(const char *store, int policy, uint64_t gen) __attribute__((noreturn));
static int cmd_run(const char *store, int policy, uint64_t gen)
{
	varve_options o = opts_for(policy);
	varve_db *db;
	int rc = varve_open(store, &o, &db);
	if (rc)
		run_err("open", rc);
	varve_topic_config c;
	varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
	c.partitions = P_PARTS;
	rc = varve_topic_create(db, "p", &c);
	if (rc && rc != VARVE_EEXISTS)
		run_err("create p", rc);
	varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_bytes = 2048;
	c.min_cleanable_dirty_ratio = 0;
	rc = varve_topic_create(db, "c", &c);
	if (rc && rc != VARVE_EEXISTS)
		run_err("create c", rc);
	/* KILL9_NO_COMPACTION=1 (bisecting): no cleaning rounds */
	int no_compaction = getenv("KILL9_NO_COMPACTION") && atoi(getenv("KILL9_NO_COMPACTION"));
	uint64_t rs = gen * 0x9e3779b97f4a7c15ull + 1;
	uint64_t seq = 0;
	uint8_t vb[8][256];
	char kb[8][32];
	for (;;) {
		uint64_t r = fu_rand(&rs) % 100;
		if (r < 60) {
			uint64_t uid = gen << 32 | seq++;
			varve_record rec;
			memset(&rec, 0, sizeof rec);
			rec.value_len = make_value(vb[0], uid);
			rec.value = vb[0];
			rec.partition = (int32_t)(fu_rand(&rs) % P_PARTS);
			int32_t part;
			int64_t off;
			if ((rc = varve_produce(db, "p", &rec, &part, &off)))
				run_err("produce", rc);
			k9_ack a = { A_REC, 0, part, 0, off, uid };
			ack_write(&a);
		} else if (r < 75) {
			size_t n = 1 + fu_rand(&rs) % 8;
			varve_record recs[8];
			uint64_t uids[8];
			memset(recs, 0, sizeof recs);
			for (size_t i = 0; i < n; i++) {
				uids[i] = gen << 32 | seq++;
				recs[i].value_len = make_value(vb[i], uids[i]);
				recs[i].value = vb[i];
				int kl = snprintf(kb[i], sizeof kb[i], "k%" PRIu64, uids[i]);
				recs[i].key = kb[i];
				recs[i].key_len = (size_t)kl;
				recs[i].partition = VARVE_PARTITION_ANY;
			}
			if ((rc = varve_produce_batch(db, "p", recs, n, NULL)))
				run_err("produce batch", rc);
			for (size_t i = 0; i < n; i++) {
				k9_ack a = { A_REC, 0, recs[i].partition, 0, recs[i].offset, uids[i] };
				ack_write(&a);
			}
		} else if (r < 90) {
			uint64_t uid = gen << 32 | seq++;
			uint32_t key = (uint32_t)(fu_rand(&rs) % C_KEYS);
			varve_record rec;
			memset(&rec, 0, sizeof rec);
			rec.value_len = make_value(vb[0], uid);
			rec.value = vb[0];
			int kl = snprintf(kb[0], sizeof kb[0], "key-%u", key);
			rec.key = kb[0];
			rec.key_len = (size_t)kl;
			int32_t part;
			int64_t off;
			if ((rc = varve_produce(db, "c", &rec, &part, &off)))
				run_err("produce c", rc);
			k9_ack a = { A_REC, 1, part, key, off, uid };
			ack_write(&a);
		} else if (r < 95) {
			int32_t part = (int32_t)(fu_rand(&rs) % P_PARTS);
			int64_t end = 0;
			varve_offsets(db, "p", (uint32_t)part, NULL, &end);
			if ((rc = varve_group_commit(db, "g", "p", (uint32_t)part, end, NULL)))
				run_err("commit", rc);
			k9_ack a = { A_COMMIT, 0, part, 0, end, 0 };
			ack_write(&a);
		} else if (r < 98) {
			if (!no_compaction && (rc = varve_clean_now(db, 1)))
				run_err("clean_now", rc);
		} else {
			if ((rc = varve_sync(db)))
				run_err("sync", rc);
		}
	}
}

/* ---- check ------------------------------------------------------------------- */

typedef struct k9_state {
	uint32_t magic;
	uint32_t pad;
	int64_t verified_end[P_PARTS];
	uint64_t hash[P_PARTS]; /* of (offset, uid) below verified_end */
} k9_state;

#define STATE_MAGIC 0x4b395354u

typedef struct k9_stats {
	long acked, found, lost, tail_lost, cuts, records;
} k9_stats;

static int violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int violation(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "kill9 VIOLATION: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return 1;
}

static k9_ack *load_acks(const char *path, size_t *n)
{
	*n = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	size_t cnt = (size_t)sz / sizeof(k9_ack);
	k9_ack *v = malloc((cnt ? cnt : 1) * sizeof *v);
	*n = fread(v, sizeof *v, cnt, f);
	fclose(f);
	return v;
}

static int check_store(const char *store, int policy, const char *acks_path, const char *state_path,
		       k9_stats *st)
{
	memset(st, 0, sizeof st[0]);
	size_t na;
	k9_ack *acks = load_acks(acks_path, &na);
	k9_state state;
	memset(&state, 0, sizeof state);
	FILE *sf = fopen(state_path, "rb");
	if (sf) {
		if (fread(&state, sizeof state, 1, sf) != 1 || state.magic != STATE_MAGIC)
			memset(&state, 0, sizeof state);
		fclose(sf);
	}
	varve_options o = opts_for(policy);
	varve_db *db;
	int rc = varve_open(store, &o, &db);
	if (rc == VARVE_ENOTFOUND && na == 0) {
		free(acks);
		return 0; /* killed before the store existed */
	}
	if (rc) {
		free(acks);
		return violation("reopen: %s (%s)", varve_errmsg(rc), varve_last_error()->message);
	}
	int bad = 0;
	const varve_recovery_cut *cuts;
	size_t ncuts = 0;
	varve_recovery_cuts(db, &cuts, &ncuts);
	st->cuts = (long)ncuts;
	int have_p = 1, have_c = 1;
	int64_t s0, e0;
	if (varve_offsets(db, "p", 0, &s0, &e0) == VARVE_ENOTFOUND)
		have_p = 0;
	if (varve_offsets(db, "c", 0, &s0, &e0) == VARVE_ENOTFOUND)
		have_c = 0;
	for (size_t i = 0; i < na; i++)
		if (acks[i].type == A_REC && ((acks[i].topic == 0 && !have_p) || (acks[i].topic == 1 && !have_c)))
			bad |= violation("topic %s is gone but a record was acknowledged in it",
					 acks[i].topic ? "c" : "p");
	/* p: every partition */
	for (uint32_t p = 0; have_p && p < P_PARTS && !bad; p++) {
		int64_t start, end;
		varve_offsets(db, "p", p, &start, &end);
		size_t cap = (size_t)(end - start + 1);
		uint64_t *uids = malloc(cap * sizeof *uids);
		varve_iter *it;
		if ((rc = varve_iter_open(db, "p", p, start, &it))) {
			bad |= violation("p/%u: iter_open: %s", p, varve_errmsg(rc));
			free(uids);
			break;
		}
		const varve_record *r;
		int64_t expect = start;
		uint64_t h = 1469598103934665603ull;
		while ((rc = varve_iter_next(it, &r)) == 0) {
			uint64_t uid;
			if (!value_ok(r, &uid)) {
				bad |= violation("p/%u@%" PRId64 ": a record that was never written", p,
						 r->offset);
				break;
			}
			if (r->offset != expect) {
				bad |= violation("p/%u: offset %" PRId64 ", expected %" PRId64, p, r->offset,
						 expect);
				break;
			}
			uids[expect - start] = uid;
			if (r->offset < state.verified_end[p])
				h = (h ^ (uint64_t)r->offset ^ (uid << 1)) * 1099511628211ull;
			expect++;
			st->records++;
		}
		varve_iter_close(it);
		if (!bad && rc != VARVE_EEND)
			bad |= violation("p/%u: iteration stopped at %" PRId64 ": %s (%s)", p, expect,
					 varve_errmsg(rc), varve_last_error()->message);
		if (!bad && expect != end)
			bad |= violation("p/%u: read to %" PRId64 ", end offset %" PRId64, p, expect, end);
		/* the previous generations' data is unchanged */
		if (!bad && state.verified_end[p] > 0) {
			if (end < state.verified_end[p])
				bad |= violation("p/%u: end %" PRId64 " below the %" PRId64
						 " verified before (older data lost)", p, end,
						 state.verified_end[p]);
			else if (start == 0 && h != state.hash[p])
				bad |= violation("p/%u: records below %" PRId64 " changed since the last "
						 "check", p, state.verified_end[p]);
		}
		/* this generation's acknowledgements */
		int64_t first_lost = -1;
		size_t lost_value_bytes = 0;
		for (size_t i = 0; !bad && i < na; i++) {
			const k9_ack *a = &acks[i];
			if (a->type != A_REC || a->topic != 0 || a->part != (int32_t)p)
				continue;
			st->acked++;
			int present = a->offset >= start && a->offset < end && uids[a->offset - start] == a->uid;
			if (present) {
				st->found++;
				if (first_lost >= 0)
					bad |= violation("p/%u: acknowledged offset %" PRId64 " lost but the "
							 "later %" PRId64 " is there (not a tail loss)", p,
							 first_lost, a->offset);
				continue;
			}
			st->lost++;
			if (a->offset < end && a->offset >= start)
				bad |= violation("p/%u@%" PRId64 ": holds uid %" PRIx64 ", acknowledged was %" PRIx64,
						 p, a->offset, uids[a->offset - start], a->uid);
			if (policy == VARVE_SYNC_ALWAYS)
				bad |= violation("p/%u@%" PRId64 ": acknowledged under sync=always, lost "
						 "(end %" PRId64 ")", p, a->offset, end);
			if (first_lost < 0)
				first_lost = a->offset;
			st->tail_lost++;
			uint8_t v[256];
			lost_value_bytes += make_value(v, a->uid);
		}
		/* a crash keeps what was written: only the buffer's bytes may go */
		if (!bad && (policy & K9_BUFFERED) && lost_value_bytes > K9_BUFFER_BYTES)
			bad |= violation("p/%u: %zu bytes of acknowledged values lost, more than the "
					 "%d-byte append buffer holds", p, lost_value_bytes,
					 K9_BUFFER_BYTES);
		/* remember what is verified now */
		if (!bad) {
			uint64_t h2 = 1469598103934665603ull;
			for (int64_t off = start; off < end; off++)
				h2 = (h2 ^ (uint64_t)off ^ (uids[off - start] << 1)) * 1099511628211ull;
			state.verified_end[p] = end;
			state.hash[p] = start == 0 ? h2 : 0;
		}
		free(uids);
	}
	/* c: well formed; under always the latest acknowledged record per key */
	if (have_c && !bad) {
		int64_t start, end;
		varve_offsets(db, "c", 0, &start, &end);
		uint64_t latest_uid[C_KEYS] = { 0 };
		int64_t latest_off[C_KEYS];
		for (int k = 0; k < C_KEYS; k++)
			latest_off[k] = -1;
		varve_iter *it;
		if ((rc = varve_iter_open(db, "c", 0, start, &it)) == 0) {
			const varve_record *r;
			int64_t prev = -1;
			while ((rc = varve_iter_next(it, &r)) == 0) {
				uint64_t uid;
				if (!value_ok(r, &uid)) {
					bad |= violation("c@%" PRId64 ": a record that was never written", r->offset);
					break;
				}
				if (r->offset <= prev) {
					bad |= violation("c: offset %" PRId64 " after %" PRId64, r->offset, prev);
					break;
				}
				prev = r->offset;
				int k = -1;
				if (r->key && r->key_len > 4 && r->key_len < 12) {
					char kbuf[16];
					memcpy(kbuf, r->key, r->key_len);
					kbuf[r->key_len] = 0;
					k = atoi(kbuf + 4);
				}
				if (k >= 0 && k < C_KEYS) {
					latest_off[k] = r->offset;
					latest_uid[k] = uid;
				}
				st->records++;
			}
			varve_iter_close(it);
			if (!bad && rc != VARVE_EEND)
				bad |= violation("c: %s (%s)", varve_errmsg(rc), varve_last_error()->message);
		} else {
			bad |= violation("c: iter_open: %s", varve_errmsg(rc));
		}
		for (size_t i = 0; !bad && i < na; i++) {
			const k9_ack *a = &acks[i];
			if (a->type != A_REC || a->topic != 1)
				continue;
			st->acked++;
			/* the last acknowledgement of this key */
			int later = 0;
			for (size_t j = i + 1; j < na; j++)
				if (acks[j].type == A_REC && acks[j].topic == 1 && acks[j].key == a->key)
					later = 1;
			if (later)
				continue;
			if (latest_off[a->key] >= a->offset && (latest_off[a->key] > a->offset ||
								latest_uid[a->key] == a->uid)) {
				st->found++;
			} else if (policy == VARVE_SYNC_ALWAYS) {
				bad |= violation("c: key-%u: acknowledged at %" PRId64 " (uid %" PRIx64
						 "), latest stored %" PRId64, a->key, a->offset, a->uid,
						 latest_off[a->key]);
			} else {
				st->lost++;
			}
		}
	}
	/* commits under always */
	for (size_t i = 0; !bad && policy == VARVE_SYNC_ALWAYS && i < na; i++) {
		const k9_ack *a = &acks[i];
		if (a->type != A_COMMIT)
			continue;
		int later = 0;
		for (size_t j = i + 1; j < na; j++)
			if (acks[j].type == A_COMMIT && acks[j].part == a->part)
				later = 1;
		if (later)
			continue;
		int64_t got = -1;
		rc = varve_group_offset(db, "g", "p", (uint32_t)a->part, &got);
		if (rc || got < a->offset)
			bad |= violation("group g p/%d: commit %" PRId64 " acknowledged, now %s %" PRId64,
					 a->part, a->offset, varve_errmsg(rc), got);
	}
	rc = varve_close(db);
	if (!bad && rc)
		bad |= violation("close after check: %s", varve_errmsg(rc));
	if (!bad) {
		state.magic = STATE_MAGIC;
		sf = fopen(state_path, "wb");
		if (sf) {
			fwrite(&state, sizeof state, 1, sf);
			fclose(sf);
		}
	}
	free(acks);
	return bad;
}

/* ---- campaign ------------------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *self_path;

/* One kill point: run a child for delay_ms, kill -9, keep its acks. */
static int kill_point(const char *store, const char *policy, uint64_t gen, int delay_ms,
		      const char *acks_path, long *nacks, int *child_err)
{
	int pfd[2];
	if (pipe(pfd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		char g[32];
		snprintf(g, sizeof g, "%" PRIu64, gen);
		execl(self_path, self_path, "run", store, policy, g, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	FILE *af = fopen(acks_path, "wb");
	double deadline = now_s() + delay_ms / 1000.0;
	k9_ack a;
	size_t have = 0;
	uint8_t *buf = (uint8_t *)&a;
	int killed = 0;
	*nacks = 0;
	*child_err = 0;
	for (;;) {
		int wait_ms = killed ? -1 : (int)((deadline - now_s()) * 1000);
		if (!killed && wait_ms <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			continue;
		}
		struct pollfd pf = { pfd[0], POLLIN, 0 };
		int pr = poll(&pf, 1, wait_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			continue;
		ssize_t r = read(pfd[0], buf + have, sizeof a - have);
		if (r <= 0)
			break; /* the child is gone and the pipe drained */
		have += (size_t)r;
		if (have == sizeof a) {
			if (a.type == A_ERR)
				*child_err = (int)a.offset;
			fwrite(&a, sizeof a, 1, af);
			(*nacks)++;
			have = 0;
		}
	}
	fclose(af);
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -1;
	return 0;
}

static int cmd_campaign(const char *dir, long n, const char *policies, int min_ms, int max_ms,
			uint64_t seed)
{
	char pol[5][24];
	int np = 0;
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s", policies);
	for (char *t = strtok(tmp, ","); t && np < 5; t = strtok(NULL, ","))
		if (parse_policy(t) >= 0)
			snprintf(pol[np++], sizeof pol[0], "%s", t);
	if (!np)
		return fprintf(stderr, "no valid policy in %s\n", policies), 2;
	mkdir(dir, 0700);
	uint64_t rs = seed;
	long acked[5] = { 0 }, lost[5] = { 0 }, points[5] = { 0 }, cuts[5] = { 0 }, records[5] = { 0 };
	long gens[5] = { 0 };
	double t0 = now_s();
	int failed = 0;
	for (long i = 0; i < n && !failed; i++) {
		int pi = (int)(i % np);
		char store[4096], acks[4096], state[4096];
		snprintf(store, sizeof store, "%s/store-%s", dir, pol[pi]);
		snprintf(acks, sizeof acks, "%s/acks-%s.bin", dir, pol[pi]);
		snprintf(state, sizeof state, "%s/state-%s.bin", dir, pol[pi]);
		if (gens[pi] % 50 == 0) { /* a fresh store now and then */
			fu_rm_rf(store);
			unlink(state);
		}
		int delay = min_ms + (int)(fu_rand(&rs) % (uint64_t)(max_ms - min_ms + 1));
		long nacks = 0;
		int child_err = 0;
		gens[pi]++;
		if (kill_point(store, pol[pi], (uint64_t)i + 1, delay, acks,
			       &nacks, &child_err)) {
			fprintf(stderr, "kill9: cannot run %s\n", self_path);
			return 2;
		}
		if (child_err) {
			fprintf(stderr, "kill9 VIOLATION: kill point %ld (%s): the child's workload failed "
				"with %s before the kill (see its message above)\n", i, pol[pi],
				varve_errmsg(child_err));
			failed = 1;
			break;
		}
		if (getenv("KILL9_KEEP_PRECHECK")) { /* debugging: the files as the kill left them */
			char pre[4200];
			snprintf(pre, sizeof pre, "%s/precheck-%s", dir, pol[pi]);
			fu_rm_rf(pre);
			fu_copy_tree(store, pre);
		}
		k9_stats st;
		if (check_store(store, parse_policy(pol[pi]), acks, state, &st)) {
			fprintf(stderr, "kill9: kill point %ld (policy %s, %d ms after start, %ld "
				"acknowledgements): store kept at %s, acknowledgements in %s\n",
				i, pol[pi], delay, nacks, store, acks);
			failed = 1;
			break;
		}
		points[pi]++;
		acked[pi] += st.acked;
		lost[pi] += st.lost;
		cuts[pi] += st.cuts;
		records[pi] = st.records;
		if (getenv("KILL9_VERBOSE"))
			printf("kill point %ld %s: %d ms, %ld acked, %ld lost, %ld cuts\n", i, pol[pi],
			       delay, st.acked, st.lost, st.cuts);
	}
	double el = now_s() - t0;
	for (int pi = 0; pi < np; pi++)
		printf("kill9[%s]: %ld kill points, %ld acknowledged records checked, %ld lost (tail "
		       "only), %ld recovery cuts; store holds %ld records\n",
		       pol[pi], points[pi], acked[pi], lost[pi], cuts[pi], records[pi]);
	printf("kill9: %ld kill points in %.1f s (seed %" PRIu64 "): %s\n",
	       points[0] + points[1] + points[2] + points[3] + points[4], el, seed,
	       failed ? "VIOLATION" : "ok");
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 5 && !strcmp(argv[1], "run")) {
		int pol = parse_policy(argv[3]);
		if (pol < 0)
			return 2;
		return cmd_run(argv[2], pol, strtoull(argv[4], NULL, 10));
	}
	if (argc >= 6 && !strcmp(argv[1], "check")) {
		k9_stats st;
		int pol = parse_policy(argv[3]);
		if (pol < 0)
			return 2;
		int bad = check_store(argv[2], pol, argv[4], argv[5], &st);
		printf("check: %ld acknowledged, %ld found, %ld lost, %ld cuts, %ld records\n", st.acked,
		       st.found, st.lost, st.cuts, st.records);
		return bad;
	}
	if (argc >= 4 && !strcmp(argv[1], "campaign")) {
		const char *pols = argc > 4 ? argv[4] : "always,interval,none";
		int min_ms = argc > 5 ? atoi(argv[5]) : 5;
		int max_ms = argc > 6 ? atoi(argv[6]) : 120;
		uint64_t seed = argc > 7 ? strtoull(argv[7], NULL, 10) : (uint64_t)time(NULL);
		if (max_ms < min_ms)
			max_ms = min_ms;
		return cmd_campaign(argv[2], atol(argv[3]), pols, min_ms, max_ms, seed);
	}
	fprintf(stderr,
		"usage: %s run STORE POLICY GEN\n"
		"       %s check STORE POLICY ACKS STATE\n"
		"       %s campaign DIR N [POLICIES] [MIN_MS] [MAX_MS] [SEED]\n"
		"POLICY: always | interval | none | interval-buffered | none-buffered\n",
		argv[0], argv[0], argv[0]);
	return 2;
}
