/* SPDX-License-Identifier: MIT */
/*
 * test_ordering.c -- the order of I/O calls, from a tracing backend
 * (tests/support_io/io_trace.c). A workload touches every path that makes
 * something durable (store creation and VERSION, topic create, appends and
 * rolls, commits, recovery points, retention, compaction swaps, topic
 * delete, the CLEAN marker at close and its removal at open), each API call
 * between two marks. Checked:
 *
 *  G  every create, mkdir, rename, unlink and rmdir an acknowledging call
 *     makes is followed by an fsync of its directory before the call
 *     returns (topic delete's removal of the topic's files excepted: see I);
 *  A  a file renamed into place (x.tmp -> x, *.cleaned -> *.swap) was
 *     fdatasynced after its last write and before the rename;
 *  C  compaction: the <b>.replaces file is fdatasynced before the first
 *     .swap rename, and the directory is fsynced after <b>.log.swap appears
 *     (the commit point) before any replaced segment is unlinked;
 *  E  retention: the recovery point naming the new log start is in place
 *     (rename + directory fsync) before the first segment file is unlinked;
 *  J  topic create: every directory and file of the new topic is durable
 *     (its directory fsynced) before the metadata record is fdatasynced;
 *  I  topic delete: the metadata tombstone is fdatasynced before the first
 *     file of the topic is removed;
 *  F  close: CLEAN is renamed into place after the last write and
 *     fdatasync of every log, index and recovery point, then the store
 *     directory is fsynced;
 *  H  open: CLEAN is unlinked and the store directory fsynced before the
 *     first write to any segment.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_util.h"
#include "io_trace.h"
#include "db.h"
#include "registry.h" /* white-box: the background checkpoint */

static void fini(void) { cu_cleanup(); }

TestSuite(ordering, .fini = fini, .timeout = 300);

typedef struct call {
	char name[64];
	size_t b, e; /* events (b, e) */
} call;

static call calls[256];
static size_t ncalls;
static int64_t g_now = 1700000000000LL;

static int64_t clock_fn(void *ctx)
{
	(void)ctx;
	return g_now;
}

#define CALL(label, expr)                                                                     \
	do {                                                                                  \
		tr_mark("begin %s", label);                                                   \
		size_t b_ = tr_count() - 1;                                                   \
		int rc_ = (expr);                                                             \
		tr_mark("end %s", label);                                                     \
		cr_assert_eq(rc_, 0, "%s: %s (%s)", label, varve_errmsg(rc_),                 \
			     varve_last_error()->message);                                    \
		cr_assert_lt(ncalls, 256);                                                    \
		snprintf(calls[ncalls].name, sizeof calls[ncalls].name, "%s", label);         \
		calls[ncalls].b = b_;                                                         \
		calls[ncalls].e = tr_count() - 1;                                             \
		ncalls++;                                                                     \
	} while (0)

static int ends_with(const char *s, const char *x)
{
	size_t a = strlen(s), b = strlen(x);
	return a >= b && !strcmp(s + a - b, x);
}

static int starts_with(const char *s, const char *x) { return !strncmp(s, x, strlen(x)); }

static int is_ns(const tr_event *e)
{
	if (e->rc)
		return 0;
	return (e->op == TR_OPEN && e->created) || e->op == TR_MKDIR || e->op == TR_RENAME ||
	       e->op == TR_UNLINK || e->op == TR_RMDIR;
}

/* The directory a namespace event changes. */
static void ns_dir(const tr_event *e, char *out, size_t cap)
{
	tr_dirname(e->op == TR_RENAME ? e->path2 : e->path, out, cap);
}

/* First sync_dir of dir in (from, to), or SIZE_MAX. */
static size_t next_sync_dir(const char *dir, size_t from, size_t to)
{
	for (size_t i = from + 1; i < to; i++) {
		tr_event e = tr_get(i);
		if (e.op == TR_SYNC_DIR && e.rc == 0 && !strcmp(e.path, dir))
			return i;
	}
	return SIZE_MAX;
}

static size_t violations;
static size_t n_g, n_a, n_c, n_e, n_j, n_i, n_f, n_h; /* events each rule examined */

static void violation(const call *c, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void violation(const call *c, size_t at, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (violations < 12) {
		fprintf(stderr, "ordering: %s: %s\n", c->name, msg);
		tr_dump(stderr, at > c->b + 6 ? at - 6 : c->b, at + 4);
	}
	violations++;
}

/* G: every namespace change of the call reaches a directory fsync. */
static void check_g(const call *c, const char *skip_prefix)
{
	for (size_t i = c->b + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if (!is_ns(&e))
			continue;
		if (ends_with(e.path, "/LOCK"))
			continue; /* the lock file carries nothing */
		if (ends_with(e.path, "/segment-sizes"))
			continue; /* advisory: used only if CLEAN (fsynced after it) names
				   * its nonce; lost or torn, opens stat instead (sizes.h) */
		if (skip_prefix && (starts_with(e.path, skip_prefix)))
			continue;
		char dir[512];
		ns_dir(&e, dir, sizeof dir);
		n_g++;
		if (next_sync_dir(dir, i, c->e) == SIZE_MAX)
			violation(c, i, "%s %s%s%s is not followed by an fsync of %s before the call returns",
				  tr_op_name(e.op), e.path, e.path2[0] ? " -> " : "", e.path2, dir);
	}
}

/* A: renamed files were synced after their last write. */
static void check_a(const call *c)
{
	for (size_t i = c->b + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if (e.op != TR_RENAME || e.rc)
			continue;
		if (!ends_with(e.path, ".tmp") && !ends_with(e.path, ".cleaned"))
			continue;
		size_t last_write = SIZE_MAX, last_sync = SIZE_MAX;
		for (size_t k = 0; k < i; k++) {
			tr_event w = tr_get(k);
			if (strcmp(w.path, e.path))
				continue;
			if (w.op == TR_WRITE || w.op == TR_TRUNCATE || w.op == TR_EXTEND ||
			    (w.op == TR_OPEN && (w.flags & 8 /* VV_O_TRUNC */)))
				last_write = k;
			if (w.op == TR_DATASYNC && w.rc == 0)
				last_sync = k;
		}
		n_a++;
		if (last_write != SIZE_MAX && (last_sync == SIZE_MAX || last_sync < last_write))
			violation(c, i, "%s renamed over %s without an fdatasync after its last write",
				  e.path, e.path2);
	}
}

/* C: compaction swap. */
static void check_c(const call *c)
{
	for (size_t i = c->b + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if (e.op == TR_RENAME && !e.rc && ends_with(e.path2, ".swap")) {
			/* the .replaces of this base was synced before */
			char rep[512];
			snprintf(rep, sizeof rep, "%s", e.path2);
			char *dot = strstr(rep + strlen(rep) - 20, ".");
			(void)dot;
			char *p = strrchr(rep, '/');
			if (p) {
				char base[32];
				snprintf(base, sizeof base, "%.20s", p + 1);
				snprintf(p + 1, sizeof rep - (size_t)(p + 1 - rep), "%s.replaces", base);
			}
			int synced = 0;
			n_c++;
			for (size_t k = c->b; k < i; k++) {
				tr_event w = tr_get(k);
				if (w.op == TR_DATASYNC && !w.rc && !strcmp(w.path, rep))
					synced = 1;
			}
			if (!synced)
				violation(c, i, "%s appeared before %s was fdatasynced", e.path2, rep);
		}
		if (e.op == TR_RENAME && !e.rc && ends_with(e.path2, ".log.swap")) {
			char dir[512];
			ns_dir(&e, dir, sizeof dir);
			size_t s = next_sync_dir(dir, i, c->e);
			for (size_t k = i + 1; k < c->e && k < s; k++) {
				tr_event u = tr_get(k);
				if (u.op == TR_UNLINK && !u.rc)
					violation(c, k, "%s unlinked before the commit point (%s) was fsynced",
						  u.path, e.path2);
			}
		}
	}
}

/* E: retention moves the recovery point before unlinking (unlinks of a
 * compaction swap, after its commit point, and of a deleted topic are not
 * retention). */
static void check_e(const call *c, const char *skip_prefix)
{
	for (size_t i = c->b + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if (e.op != TR_UNLINK || e.rc || !ends_with(e.path, ".log") || strstr(e.path, "/meta/"))
			continue;
		if (skip_prefix && starts_with(e.path, skip_prefix))
			continue;
		char dir[512], rp[600];
		tr_dirname(e.path, dir, sizeof dir);
		int swap = 0;
		for (size_t k = c->b; k < i && !swap; k++) {
			tr_event r = tr_get(k);
			char d2[512];
			tr_dirname(r.path2, d2, sizeof d2);
			swap = r.op == TR_RENAME && ends_with(r.path2, ".log.swap") && !strcmp(d2, dir);
		}
		if (swap)
			continue;
		n_e++;
		snprintf(rp, sizeof rp, "%s/recovery-point", dir);
		size_t ren = SIZE_MAX;
		for (size_t k = c->b; k < i; k++) {
			tr_event r = tr_get(k);
			if (r.op == TR_RENAME && !r.rc && !strcmp(r.path2, rp))
				ren = k;
		}
		if (ren == SIZE_MAX || next_sync_dir(dir, ren, i) == SIZE_MAX)
			violation(c, i, "%s unlinked before a recovery point naming the new log start was "
				  "durable", e.path);
	}
}

/* J: the topic's files are durable before its metadata record. */
static void check_j(const call *c, const char *topic_dir, const char *meta_prefix)
{
	size_t meta_sync = SIZE_MAX;
	for (size_t i = c->b + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if (e.op == TR_DATASYNC && !e.rc && starts_with(e.path, meta_prefix))
			meta_sync = i;
	}
	if (meta_sync == SIZE_MAX) {
		violation(c, c->e, "no fdatasync of the metadata log");
		return;
	}
	for (size_t i = c->b + 1; i < meta_sync; i++) {
		tr_event e = tr_get(i);
		if (!is_ns(&e) || !starts_with(e.path, topic_dir))
			continue;
		char dir[512];
		ns_dir(&e, dir, sizeof dir);
		n_j++;
		if (next_sync_dir(dir, i, meta_sync) == SIZE_MAX)
			violation(c, i, "%s %s is not durable before the topic's metadata record",
				  tr_op_name(e.op), e.path);
	}
}

/* I: the tombstone is durable before the first removal. */
static void check_i(const call *c, const char *topic_dir, const char *meta_prefix)
{
	size_t first_rm = SIZE_MAX;
	for (size_t i = c->b + 1; i < c->e && first_rm == SIZE_MAX; i++) {
		tr_event e = tr_get(i);
		if ((e.op == TR_UNLINK || e.op == TR_RMDIR) && !e.rc && starts_with(e.path, topic_dir))
			first_rm = i;
	}
	if (first_rm == SIZE_MAX)
		return; /* removed later, by the last reference */
	size_t last_meta_write = SIZE_MAX, meta_sync = SIZE_MAX;
	for (size_t i = c->b + 1; i < first_rm; i++) {
		tr_event e = tr_get(i);
		if (!starts_with(e.path, meta_prefix))
			continue;
		if (e.op == TR_WRITE)
			last_meta_write = i;
		if (e.op == TR_DATASYNC && !e.rc)
			meta_sync = i;
	}
	n_i++;
	if (last_meta_write == SIZE_MAX || meta_sync == SIZE_MAX || meta_sync < last_meta_write)
		violation(c, first_rm, "%s removed before the topic's tombstone was fdatasynced",
			  tr_get(first_rm).path);
}

/* F: CLEAN last. */
static void check_f(const call *c, const char *store)
{
	char clean[1200];
	snprintf(clean, sizeof clean, "%s/CLEAN", store);
	size_t ren = SIZE_MAX;
	for (size_t i = c->b + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if (e.op == TR_RENAME && !e.rc && !strcmp(e.path2, clean))
			ren = i;
	}
	if (ren == SIZE_MAX) {
		violation(c, c->e, "no CLEAN marker written");
		return;
	}
	for (size_t i = ren + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if ((e.op == TR_WRITE || e.op == TR_DATASYNC || e.op == TR_TRUNCATE || e.op == TR_RENAME ||
		     e.op == TR_EXTEND) && !e.rc)
			violation(c, i, "%s %s after the CLEAN marker", tr_op_name(e.op), e.path);
	}
	if (next_sync_dir(store, ren, c->e) == SIZE_MAX)
		violation(c, ren, "CLEAN is not followed by an fsync of the store directory");
	/* every segment log's last write (anywhere before) was fdatasynced
	 * before CLEAN, unless the file was deleted since */
	for (size_t i = 0; i < ren; i++) {
		tr_event e = tr_get(i);
		if (e.op != TR_WRITE || e.rc || !ends_with(e.path, ".log"))
			continue;
		int later_write = 0, synced = 0, gone = 0;
		for (size_t k = i + 1; k < ren && !later_write; k++) {
			tr_event s = tr_get(k);
			if (strcmp(s.path, e.path))
				continue;
			later_write = s.op == TR_WRITE;
			synced |= s.op == TR_DATASYNC && !s.rc;
			gone |= s.op == TR_UNLINK && !s.rc;
		}
		if (later_write)
			continue;
		n_f++;
		if (!synced && !gone)
			violation(c, i, "%s: its last write is not fdatasynced before CLEAN", e.path);
	}
	/* recovery points renamed in at close are durable before CLEAN */
	for (size_t i = c->b + 1; i < ren; i++) {
		tr_event e = tr_get(i);
		if (e.op != TR_RENAME || e.rc || !ends_with(e.path2, "/recovery-point"))
			continue;
		char dir[512];
		tr_dirname(e.path2, dir, sizeof dir);
		n_f++;
		if (next_sync_dir(dir, i, ren) == SIZE_MAX)
			violation(c, i, "%s renamed at close but its directory is not fsynced before CLEAN",
				  e.path2);
	}
}

/* H: CLEAN removed durably before data is written. */
static void check_h(const call *c, const char *store)
{
	char clean[1200];
	snprintf(clean, sizeof clean, "%s/CLEAN", store);
	size_t un = SIZE_MAX;
	for (size_t i = c->b + 1; i < c->e; i++) {
		tr_event e = tr_get(i);
		if (e.op == TR_UNLINK && !e.rc && !strcmp(e.path, clean))
			un = i;
	}
	if (un == SIZE_MAX) {
		violation(c, c->e, "CLEAN was not removed");
		return;
	}
	size_t s = next_sync_dir(store, un, c->e);
	n_h += s != SIZE_MAX;
	for (size_t i = c->b + 1; i < c->e && i < s; i++) {
		tr_event e = tr_get(i);
		if ((e.op == TR_WRITE || e.op == TR_TRUNCATE || e.op == TR_EXTEND) && !e.rc &&
		    (ends_with(e.path, ".log") || ends_with(e.path, "index")))
			violation(c, i, "%s %s before the removal of CLEAN was durable", tr_op_name(e.op),
				  e.path);
	}
}

static void checkpoint_all(varve_db *db)
{
	vv_topic **ts;
	size_t n;
	cr_assert_eq(vv_topics_snapshot(db->topics, &ts, &n), 0);
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < ts[i]->nparts; k++) {
			vv_partition_flush_index(ts[i]->parts[k]);
			vv_partition_checkpoint(ts[i]->parts[k]);
		}
	vv_topics_release(ts, n);
	vv_partition_checkpoint(vv_meta_partition(db->meta));
}

static int produce(varve_db *db, const char *topic, uint32_t part, const char *key, size_t vlen)
{
	char v[512];
	memset(v, 'q', sizeof v);
	varve_record r;
	memset(&r, 0, sizeof r);
	r.key = key;
	r.key_len = key ? strlen(key) : 0;
	r.value = v;
	r.value_len = vlen;
	r.partition = (int32_t)part;
	return varve_produce(db, topic, &r, NULL, NULL);
}

static int roll(varve_db *db, const char *topic, uint32_t part, const char *key)
{
	varve_partition_info a = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 }, b = a;
	int rc = varve_partition_info_get(db, topic, part, &a);
	for (int i = 0; rc == 0 && i < 100; i++) {
		if ((rc = produce(db, topic, part, key, 120)))
			break;
		if ((rc = varve_partition_info_get(db, topic, part, &b)))
			break;
		if (b.segments != a.segments)
			return 0;
	}
	return rc ? rc : VARVE_ERROR;
}

static int checkpoint_call(varve_db *db)
{
	checkpoint_all(db);
	return 0;
}

static int consumer_commit(varve_db *db)
{
	const char *topics[1] = { "t" };
	varve_consumer *c;
	int rc = varve_consumer_open(db, "cg", topics, 1, NULL, &c);
	if (rc)
		return rc;
	const varve_msg *m;
	size_t n;
	rc = varve_consumer_poll(c, 0, &m, &n);
	if (rc == 0)
		rc = varve_consumer_commit(c);
	varve_consumer_close(c);
	return rc;
}

Test(ordering, durability_order)
{
	char root[1024], store[1100], meta[1200], tdir[1200], kdir[1200], ddir[1200];
	cu_newpath(root, sizeof root, "root");
	cr_assert_eq(mkdir(root, 0700), 0);
	snprintf(store, sizeof store, "%s/store", root);
	snprintf(meta, sizeof meta, "%s/meta/", store);
	snprintf(tdir, sizeof tdir, "%s/topics/t", store);
	snprintf(kdir, sizeof kdir, "%s/topics/k", store);
	snprintf(ddir, sizeof ddir, "%s/topics/gone", store);
	ncalls = 0;
	violations = 0;
	tr_clear();
	varve_options o = VARVE_OPTIONS_INIT;
	o.io = tr_table();
	o.segment_bytes = 1024;
	o.index_interval_bytes = 64;
	o.max_record_bytes = 8192;
	o.start_cleaner = 0;
	o.clock_fn = clock_fn;
	varve_db *db = NULL;
	CALL("open (create)", varve_open(store, &o, &db));
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = 2;
	c.retention_ms = 10000;
	CALL("topic create t", varve_topic_create(db, "t", &c));
	size_t create_t = ncalls - 1;
	c = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.min_cleanable_dirty_ratio = 0;
	c.segment_ms = 1000;
	CALL("topic create k", varve_topic_create(db, "k", &c));
	size_t create_k = ncalls - 1;
	CALL("topic create gone", varve_topic_create(db, "gone", NULL));
	CALL("produce", produce(db, "t", 0, NULL, 50));
	CALL("roll t/0", roll(db, "t", 0, NULL));
	CALL("roll t/0 again", roll(db, "t", 0, NULL));
	CALL("produce t/1", produce(db, "t", 1, NULL, 50));
	for (int i = 0; i < 8; i++) {
		char key[8];
		snprintf(key, sizeof key, "k%d", i % 3);
		CALL("produce k (segment_ms rolls)", produce(db, "k", 0, key, 60));
		g_now += 1000;
	}
	CALL("produce gone", produce(db, "gone", 0, NULL, 10));
	CALL("group commit", varve_group_commit(db, "g", "t", 0, 2, NULL));
	CALL("consumer commit", consumer_commit(db));
	CALL("background checkpoint", checkpoint_call(db));
	g_now += 60000;
	CALL("produce after the clock moved", produce(db, "t", 0, NULL, 30));
	CALL("clean (retention)", varve_clean_now(db, 0));
	CALL("clean (compaction)", varve_clean_now(db, 1));
	CALL("topic delete gone", varve_topic_delete(db, "gone"));
	size_t del = ncalls - 1;
	CALL("close", varve_close(db));
	size_t close1 = ncalls - 1;
	CALL("open (clean)", varve_open(store, &o, &db));
	size_t open2 = ncalls - 1;
	CALL("produce after reopen", produce(db, "t", 0, NULL, 30));
	CALL("close again", varve_close(db));
	size_t close2 = ncalls - 1;

	for (size_t i = 0; i < ncalls; i++) {
		check_g(&calls[i], i == del ? ddir : NULL);
		check_a(&calls[i]);
		check_c(&calls[i]);
		check_e(&calls[i], i == del ? ddir : NULL);
	}
	check_j(&calls[create_t], tdir, meta);
	check_j(&calls[create_k], kdir, meta);
	check_i(&calls[del], ddir, meta);
	check_f(&calls[close1], store);
	check_f(&calls[close2], store);
	check_h(&calls[open2], store);
	/* the workload did what it should have */
	size_t swaps = 0, rp_renames = 0, unlinks = 0;
	for (size_t i = 0; i < tr_count(); i++) {
		tr_event e = tr_get(i);
		swaps += e.op == TR_RENAME && ends_with(e.path2, ".log.swap");
		rp_renames += e.op == TR_RENAME && ends_with(e.path2, "recovery-point");
		unlinks += e.op == TR_UNLINK && ends_with(e.path, ".log");
	}
	cr_assert_gt(swaps, 0, "no compaction swap happened");
	cr_assert_gt(rp_renames, 0, "no recovery point was written");
	cr_assert_gt(unlinks, 0, "no segment was deleted");
	printf("crashvfs: ordering: %zu API calls, %zu I/O calls traced (%zu compaction swaps, %zu "
	       "recovery-point renames, %zu segment unlinks); events checked per rule: G %zu, A %zu, "
	       "C %zu, E %zu, J %zu, I %zu, F %zu, H %zu; %zu ordering violations\n",
	       ncalls, tr_count(), swaps, rp_renames, unlinks, n_g, n_a, n_c, n_e, n_j, n_i, n_f, n_h,
	       violations);
	cr_assert(n_g && n_a && n_c && n_e && n_j && n_i && n_f && n_h,
		  "a rule examined nothing: the workload does not exercise it");
	fflush(stdout);
	cr_assert_eq(violations, 0, "%zu ordering violations (the first ones are on stderr)",
		     violations);
}
