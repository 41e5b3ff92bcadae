/* SPDX-License-Identifier: MIT */
/*
 * store.c -- varve_open / varve_close, topics, produce. The store directory:
 *
 *   VERSION   format version, written once; an unknown or newer one fails
 *             the open before anything is touched
 *   LOCK      flock()ed by the one writer (another process or handle gets
 *             VARVE_ELOCKED); read-only opens take no lock and write nothing
 *   CLEAN     present only between a clean close and the next writer open:
 *             recovery points are then exact and nothing is scanned
 *   meta/     the metadata log (topic configurations, later groups)
 *   topics/<topic>/<partition>/   segments
 *
 * Topic create: partitions' directories first, then the metadata record
 * (synced). Topic delete: the metadata tombstone first (synced), then the
 * files. A crash in between leaves a directory that the metadata log does
 * not name; the next writer open removes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "batch.h"
#include "io.h"
#include "reader.h"
#include "store.h"
#include "util.h"

#define VERSION_FILE "VERSION"
#define CLEAN_FILE "CLEAN"
#define LOCK_FILE "LOCK"

void vv_store_log(varve_db *db, int level, const char *fmt, ...)
{
	if (!db->opts.log_fn)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	db->opts.log_fn(db->opts.log_ctx, level, msg);
}

int64_t vv_store_now(const varve_db *db)
{
	return db->opts.clock_fn ? db->opts.clock_fn(db->opts.clock_ctx) : vv_now_ms();
}

int varve_name_valid(const char *name)
{
	if (!name)
		return 0;
	size_t n = 0;
	for (const char *c = name; *c; c++, n++) {
		if (n >= VARVE_MAX_TOPIC_NAME)
			return 0;
		char ch = *c;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n >= 1 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int check_name(const char *name)
{
	if (!varve_name_valid(name))
		return vv_error_set(VARVE_EINVAL, 0,
				    "invalid topic name \"%.64s\": use [A-Za-z0-9._-]{1,200}, not . or ..",
				    name ? name : "(null)");
	return 0;
}

/* ---- options ------------------------------------------------------------- */

int varve_options_init(varve_options *o, unsigned int version)
{
	if (!o || version != VARVE_OPTIONS_VERSION)
		return vv_error_set(VARVE_EINVAL, 0, "unknown varve_options version %u", version);
	varve_options d = VARVE_OPTIONS_INIT;
	*o = d;
	return 0;
}

int varve_topic_config_init(varve_topic_config *c, unsigned int version)
{
	if (!c || version != VARVE_TOPIC_CONFIG_VERSION)
		return vv_error_set(VARVE_EINVAL, 0, "unknown varve_topic_config version %u", version);
	varve_topic_config d = VARVE_TOPIC_CONFIG_INIT;
	*c = d;
	return 0;
}

static int check_options(const varve_options *o)
{
	if (o->version != VARVE_OPTIONS_VERSION)
		return vv_error_set(VARVE_EINVAL, 0, "varve_options.version is %u, expected %u",
				    o->version, VARVE_OPTIONS_VERSION);
	if (o->sync_policy < VARVE_SYNC_NONE || o->sync_policy > VARVE_SYNC_ALWAYS)
		return vv_error_set(VARVE_EINVAL, 0, "unknown sync policy %d", o->sync_policy);
	if (o->segment_bytes < 1024 || o->segment_bytes > UINT32_MAX)
		return vv_error_set(VARVE_EINVAL, 0, "segment_bytes must be 1 KiB..4 GiB");
	if (o->index_interval_bytes < 64)
		return vv_error_set(VARVE_EINVAL, 0, "index_interval_bytes must be >= 64");
	if (o->max_record_bytes < 1024 || o->max_record_bytes > (1u << 30))
		return vv_error_set(VARVE_EINVAL, 0, "max_record_bytes must be 1 KiB..1 GiB");
	if (o->segment_ms < 0)
		return vv_error_set(VARVE_EINVAL, 0, "segment_ms must be >= 0");
	if (o->sync_policy == VARVE_SYNC_INTERVAL && o->sync_interval_ms == 0)
		return vv_error_set(VARVE_EINVAL, 0, "sync_interval_ms must be > 0");
	return 0;
}

/* ---- topics table --------------------------------------------------------- */

static long find_topic(varve_db *db, const char *name, size_t *insert_at)
{
	size_t lo = 0, hi = db->ntopics;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(db->topics[mid]->name, name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (insert_at)
		*insert_at = lo;
	return -1;
}

static int insert_topic(varve_db *db, vv_topic *t)
{
	size_t at = 0;
	if (find_topic(db, t->name, &at) >= 0)
		return vv_error_set(VARVE_EEXISTS, 0, "topic %s exists", t->name);
	if (db->ntopics == db->tcap) {
		size_t nc = db->tcap ? db->tcap * 2 : 16;
		vv_topic **nt = vv_realloc(db->topics, nc * sizeof *nt);
		if (!nt)
			return vv_error_set(VARVE_ENOMEM, 0, "topic table");
		db->topics = nt;
		db->tcap = nc;
	}
	memmove(db->topics + at + 1, db->topics + at, (db->ntopics - at) * sizeof *db->topics);
	db->topics[at] = t;
	db->ntopics++;
	return 0;
}

int vv_store_topic(varve_db *db, const char *name, vv_topic **out)
{
	*out = NULL;
	VV_TRY(check_name(name));
	pthread_rwlock_rdlock(&db->topics_lock);
	long i = find_topic(db, name, NULL);
	if (i >= 0) {
		*out = db->topics[i];
		vv_topic_ref(*out);
	}
	pthread_rwlock_unlock(&db->topics_lock);
	if (!*out)
		return vv_error_set(VARVE_ENOTFOUND, 0, "no topic named %s", name);
	return 0;
}

int vv_check_partition(int32_t partition)
{
	if (partition < 0)
		return vv_error_set(VARVE_EINVAL, 0, "invalid partition %" PRId32 ": partitions are 0..%d",
				    partition, VARVE_MAX_PARTITIONS - 1);
	return 0;
}

int vv_store_partition(varve_db *db, const char *topic, int32_t partition, vv_topic **t_out,
		       vv_partition **p_out)
{
	*t_out = NULL;
	*p_out = NULL;
	VV_TRY(vv_check_partition(partition));
	vv_topic *t;
	VV_TRY(vv_store_topic(db, topic, &t));
	if ((uint32_t)partition >= t->nparts) {
		uint32_t n = t->nparts;
		vv_topic_unref(t);
		return vv_error_set(VARVE_ENOTFOUND, 0, "topic %s has %u partitions, no partition %" PRId32,
				    topic, n, partition);
	}
	*t_out = t;
	*p_out = t->parts[partition];
	return 0;
}

int vv_store_topics_snapshot(varve_db *db, vv_topic ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&db->topics_lock);
	vv_topic **ts = vv_malloc((db->ntopics ? db->ntopics : 1) * sizeof *ts);
	if (!ts) {
		pthread_rwlock_unlock(&db->topics_lock);
		return vv_error_set(VARVE_ENOMEM, 0, "topic snapshot");
	}
	for (size_t i = 0; i < db->ntopics; i++) {
		ts[i] = db->topics[i];
		vv_topic_ref(ts[i]);
	}
	*n = db->ntopics;
	pthread_rwlock_unlock(&db->topics_lock);
	*out = ts;
	return 0;
}

void vv_store_topics_release(vv_topic **ts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vv_topic_unref(ts[i]);
	vv_free(ts);
}

/* ---- opening topics --------------------------------------------------------- */

void vv_store_report_cut(void *ctx, const varve_recovery_cut *cut)
{
	varve_db *db = ctx;
	pthread_mutex_lock(&db->cuts_mu);
	varve_recovery_cut *nc = vv_realloc(db->cuts, (db->ncuts + 1) * sizeof *nc);
	if (nc) {
		db->cuts = nc;
		db->cuts[db->ncuts++] = *cut;
	}
	pthread_mutex_unlock(&db->cuts_mu);
}

static void topic_part_config(const varve_db *db, const varve_topic_config *tc, vv_part_config *pc)
{
	*pc = db->pcfg;
	if (tc->segment_bytes > 0)
		pc->segment_bytes = (uint64_t)tc->segment_bytes;
	pc->seg.map_span = pc->segment_bytes + pc->max_write_batch;
	pc->seg.segment_bytes = pc->segment_bytes;
	if (tc->segment_ms > 0)
		pc->segment_ms = tc->segment_ms;
	pc->codec = tc->codec;
}


/* Rebuild the message-id window from the last dedup_window_ms of the log. */
static int load_dedup(varve_db *db, vv_topic *t)
{
	t->dedup = vv_calloc(1, sizeof *t->dedup);
	if (!t->dedup)
		return vv_error_set(VARVE_ENOMEM, 0, "dedup window");
	vv_dedup_init(t->dedup, t->cfg.dedup_window_ms);
	int64_t now = vv_store_now(db);
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < t->nparts; i++) {
		vv_partition *p = t->parts[i];
		int64_t from;
		int r = vv_partition_offset_for_time(p, now - t->cfg.dedup_window_ms - 3600 * 1000, &from);
		if (r == VARVE_ENOTFOUND) {
			vv_error_clear();
			continue;
		}
		if (r == VARVE_ECORRUPT) {
			/* damage in the log: the ids before it are unknown; reads that
			 * reach it report it, the store opens */
			vv_store_log(db, VARVE_LOG_ERROR, "%s/%u: message-id window not rebuilt: %s",
				     t->name, i, varve_last_error()->message);
			vv_error_clear();
			continue;
		}
		if (r) {
			rc = r;
			break;
		}
		vv_reader rd;
		rc = vv_reader_init(&rd, p, from);
		if (rc == VARVE_ECORRUPT) {
			vv_store_log(db, VARVE_LOG_ERROR, "%s/%u: message-id window not rebuilt: %s",
				     t->name, i, varve_last_error()->message);
			vv_error_clear();
			vv_reader_free(&rd);
			rc = 0;
			continue;
		}
		const varve_record *rec;
		while (rc == 0 && (r = vv_reader_next(&rd, &rec)) == 0) {
			size_t il;
			const void *id = vv_dedup_id(rec, &il);
			int64_t at = rd.last_header->append_time;
			if (id && now - at < t->cfg.dedup_window_ms)
				rc = vv_dedup_put(t->dedup, id, il, (int32_t)i, rec->offset, at);
		}
		if (rc == 0 && r == VARVE_ECORRUPT) {
			vv_store_log(db, VARVE_LOG_ERROR,
				     "%s/%u: message-id window rebuilt up to damage only: %s", t->name, i,
				     varve_last_error()->message);
			vv_error_clear();
		} else if (rc == 0 && r != VARVE_EEND) {
			rc = r;
		}
		vv_reader_free(&rd);
	}
	return rc;
}

static int open_topic(varve_db *db, const char *name, const varve_topic_config *cfg,
		      int64_t created_ms, int clean, vv_topic **out)
{
	*out = NULL;
	vv_topic *t = vv_calloc(1, sizeof *t);
	if (!t)
		return vv_error_set(VARVE_ENOMEM, 0, "topic");
	atomic_init(&t->refs, 1);
	t->name = vv_strdup(name);
	t->cfg = *cfg;
	t->cfg.retain_for_groups = NULL;
	if (cfg->retain_for_groups && *cfg->retain_for_groups) {
		t->retain_groups = vv_strdup(cfg->retain_for_groups);
		t->cfg.retain_for_groups = t->retain_groups;
		if (!t->retain_groups) { /* reported as out of memory below */
			vv_free(t->name);
			t->name = NULL;
		}
	}
	t->created_ms = created_ms;
	t->parts = vv_calloc(cfg->partitions, sizeof *t->parts);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/%s", db->topics_dir, name);
	t->dir = vv_strdup(dir);
	if (!t->name || !t->parts || !t->dir) {
		vv_topic_unref(t);
		return vv_error_set(VARVE_ENOMEM, 0, "topic");
	}
	int rc = 0;
	if (!db->read_only) {
		rc = vv_io_mkdir(dir, db->opts.dir_mode);
		if (rc == VARVE_EEXISTS) {
			/* lstat: a symlink planted here is never followed */
			int is_dir = 0;
			rc = vv_io_stat(dir, NULL, &is_dir);
			if (rc == 0 && is_dir != 1)
				rc = vv_error_set(VARVE_ECORRUPT, 0,
						  "%s is not a directory (a symlink?): refusing to use it", dir);
		} else if (rc == 0) {
			rc = vv_io_sync_dir(db->topics_dir);
		}
	}
	vv_part_config pc;
	topic_part_config(db, cfg, &pc);
	for (uint32_t i = 0; rc == 0 && i < cfg->partitions; i++) {
		char pdir[4096];
		snprintf(pdir, sizeof pdir, "%s/%u", dir, i);
		rc = vv_partition_open(pdir, name, i, &pc, clean, &t->parts[i]);
		if (rc == 0)
			t->nparts = i + 1;
	}
	if (rc == 0 && cfg->dedup_window_ms > 0)
		rc = load_dedup(db, t);
	if (rc) {
		vv_topic_unref(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* Metadata replay: collect the latest config of every topic. */
typedef struct replay_topic {
	char *name;
	char groups[VV_MAX_RETAIN_GROUPS + 1];
	varve_topic_config cfg;
	int64_t created_ms;
	int live;
} replay_topic;

typedef struct replay_state {
	vv_groups *groups;
	vv_producer_registry *producers;
	replay_topic *v;
	size_t n, cap;
	int rc;
} replay_state;

static int replay_one(void *ctx, const varve_record *r)
{
	replay_state *st = ctx;
	if (r->key && r->key_len >= 1 &&
	    (((const uint8_t *)r->key)[0] == VV_META_KEY_NEXT_PID ||
	     (((const uint8_t *)r->key)[0] == VV_META_KEY_PRODUCER && r->key_len >= 2)))
		return vv_producers_apply(st->producers, r);
	if (r->key && r->key_len >= 2 &&
	    (((const uint8_t *)r->key)[0] == VV_META_KEY_OFFSET ||
	     ((const uint8_t *)r->key)[0] == VV_META_KEY_ATTEMPTS ||
	     ((const uint8_t *)r->key)[0] == VV_META_KEY_GROUP))
		return vv_groups_apply(st->groups, r);
	if (!r->key || r->key_len < 2)
		return 0; /* not ours: ignore for forward compatibility */
	const uint8_t *k = r->key;
	if (k[0] != VV_META_KEY_TOPIC)
		return 0;
	char name[VARVE_MAX_TOPIC_NAME + 1];
	size_t nl = r->key_len - 1;
	if (nl > VARVE_MAX_TOPIC_NAME)
		return 0;
	memcpy(name, k + 1, nl);
	name[nl] = 0;
	if (!varve_name_valid(name))
		return 0;
	replay_topic *t = NULL;
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].name, name))
			t = &st->v[i];
	if (!t) {
		if (st->n == st->cap) {
			size_t nc = st->cap ? st->cap * 2 : 16;
			replay_topic *nv = vv_realloc(st->v, nc * sizeof *nv);
			if (!nv)
				return vv_error_set(VARVE_ENOMEM, 0, "metadata replay");
			st->v = nv;
			st->cap = nc;
		}
		t = &st->v[st->n];
		memset(t, 0, sizeof *t);
		if (!(t->name = vv_strdup(name)))
			return vv_error_set(VARVE_ENOMEM, 0, "metadata replay");
		st->n++;
	}
	if (!r->value) {
		t->live = 0;
		return 0;
	}
	int rc = vv_topic_config_decode(r->value, r->value_len, &t->cfg, &t->created_ms, t->groups);
	if (rc == VARVE_EFORMAT)
		return vv_error_set(VARVE_EFORMAT, 0,
				    "topic %s was written by a newer varve (config format %u)", name,
				    ((const uint8_t *)r->value)[0]);
	if (rc)
		return vv_error_set(VARVE_ECORRUPT, 0, "metadata record for topic %s at offset %" PRId64
				    " does not decode", name, r->offset);
	t->live = 1;
	return 0;
}

/* Remove topic directories the metadata log does not name (a crash during
 * create or delete). */
static void remove_orphans(varve_db *db, const replay_state *st)
{
	char **names;
	size_t n;
	if (vv_io_list_dir(db->topics_dir, &names, &n)) {
		vv_error_clear();
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int known = 0;
		for (size_t j = 0; j < st->n; j++)
			if (st->v[j].live && !strcmp(st->v[j].name, names[i]))
				known = 1;
		if (known)
			continue;
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/%s", db->topics_dir, names[i]);
		vv_store_log(db, VARVE_LOG_INFO, "removing %s: no topic of that name", dir);
		(void)vv_io_remove_tree(dir);
	}
	vv_io_free_list(names, n);
	(void)vv_io_sync_dir(db->topics_dir);
	vv_error_clear();
}

static int load_topics(varve_db *db, int clean)
{
	replay_state st = { 0 };
	st.groups = &db->groups;
	st.producers = &db->producers;
	int rc = vv_meta_replay(db->meta, replay_one, &st);
	if (rc == 0 && !db->read_only)
		remove_orphans(db, &st);
	for (size_t i = 0; rc == 0 && i < st.n; i++) {
		if (!st.v[i].live)
			continue;
		vv_topic *t;
		rc = open_topic(db, st.v[i].name, &st.v[i].cfg, st.v[i].created_ms, clean, &t);
		if (rc == 0) {
			rc = insert_topic(db, t);
			if (rc)
				vv_topic_unref(t);
		}
	}
	for (size_t i = 0; i < st.n; i++)
		vv_free(st.v[i].name);
	vv_free(st.v);
	return rc;
}

/* ---- open / close ----------------------------------------------------------- */

static int check_version(const char *path, int *exists)
{
	char vpath[4096];
	snprintf(vpath, sizeof vpath, "%s/%s", path, VERSION_FILE);
	uint8_t *buf;
	size_t n;
	int rc = vv_io_read_small(vpath, 64, &buf, &n);
	*exists = rc == 0;
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		return 0;
	}
	if (rc)
		return rc;
	char *end;
	long v = strtol((const char *)buf, &end, 10);
	int ok = end != (char *)buf && (*end == '\n' || *end == 0);
	vv_free(buf);
	if (!ok)
		return vv_error_set(VARVE_EFORMAT, 0, "%s does not hold a format version", vpath);
	if (v != VARVE_FORMAT_VERSION)
		return vv_error_set(VARVE_EFORMAT, 0,
				    "%s says format %ld; this varve reads format %d only", vpath, v,
				    VARVE_FORMAT_VERSION);
	return 0;
}

static void free_db(varve_db *db)
{
	vv_groups_free(&db->groups);
	vv_producers_free(&db->producers);
	pthread_mutex_destroy(&db->commit_mu);
	pthread_mutex_destroy(&db->clean_mu);
	pthread_mutex_destroy(&db->producers_mu);
	pthread_mutex_destroy(&db->notify_mu);
	pthread_cond_destroy(&db->notify_cond);
	vv_free(db->consumers);
	vv_free(db->cuts);
	vv_free(db->topics);
	vv_free(db->topics_dir);
	vv_free(db->path);
	pthread_mutex_destroy(&db->admin_mu);
	pthread_rwlock_destroy(&db->topics_lock);
	pthread_mutex_destroy(&db->cuts_mu);
	vv_free(db);
}

/* CLEAN holds a nonce (8 bytes) and its XXH3 (8 bytes); an empty or other
 * CLEAN (older versions wrote it empty) means no segment size lists. */
static uint64_t read_clean_nonce(const char *path)
{
	uint8_t *b;
	size_t n;
	uint64_t nonce = 0;
	if (vv_io_read_small(path, 64, &b, &n) == 0) {
		if (n == 16 && vv_load64(b + 8) == XXH3_64bits(b, 8))
			nonce = vv_load64(b);
		vv_free(b);
	}
	vv_error_clear();
	return nonce;
}

static uint64_t new_clean_nonce(const varve_db *db)
{
	struct {
		uint64_t mono, real;
		const void *db;
		long pid;
	} seed = { vv_mono_ns(), (uint64_t)vv_now_ms(), (const void *)db, (long)getpid() };
	uint64_t n = XXH3_64bits(&seed, sizeof seed);
	return n ? n : 1;
}

static void close_topics(varve_db *db, int clean)
{
	for (size_t i = 0; i < db->ntopics; i++) {
		if (!clean)
			atomic_store(&db->topics[i]->deleted, 0);
		vv_topic_unref(db->topics[i]);
	}
	db->ntopics = 0;
}

int varve_open(const char *path, const varve_options *opts, varve_db **db_out)
{
	if (!db_out)
		return vv_error_set(VARVE_EINVAL, 0, "db_out is NULL");
	*db_out = NULL;
	if (!path || !*path)
		return vv_error_set(VARVE_EINVAL, 0, "empty store path");
	if (strlen(path) > 3000)
		return vv_error_set(VARVE_EINVAL, 0, "store path too long");
	varve_options o = VARVE_OPTIONS_INIT;
	if (opts)
		o = *opts;
	VV_TRY(check_options(&o));

	varve_db *db = vv_calloc(1, sizeof *db);
	if (!db)
		return vv_error_set(VARVE_ENOMEM, 0, "store handle");
	pthread_mutex_init(&db->admin_mu, NULL);
	pthread_rwlock_init(&db->topics_lock, NULL);
	pthread_mutex_init(&db->cuts_mu, NULL);
	pthread_mutex_init(&db->commit_mu, NULL);
	pthread_mutex_init(&db->clean_mu, NULL);
	pthread_mutex_init(&db->producers_mu, NULL);
	pthread_mutex_init(&db->notify_mu, NULL);
	pthread_cond_init(&db->notify_cond, NULL);
	vv_groups_init(&db->groups);
	db->opts = o;
	db->read_only = o.read_only;
	db->path = vv_strdup(path);
	char buf[4096];
	snprintf(buf, sizeof buf, "%s/topics", path);
	db->topics_dir = vv_strdup(buf);
	if (!db->path || !db->topics_dir) {
		free_db(db);
		return vv_error_set(VARVE_ENOMEM, 0, "store handle");
	}

	int rc = 0, is_dir = 0, fresh = 0, has_version = 0;
	/* "<path>/." follows a symlink to the store directory (paths under it
	 * are resolved through it anyway); a topic directory inside is never a
	 * symlink (open_topic). */
	snprintf(buf, sizeof buf, "%s/.", path);
	rc = vv_io_stat(buf, NULL, &is_dir);
	if (rc && rc != VARVE_ENOTFOUND && varve_last_error()->sys_errno == ENOTDIR) {
		rc = vv_error_set(VARVE_EINVAL, ENOTDIR, "%s is not a directory", path);
	} else if (rc == VARVE_ENOTFOUND && vv_io_stat(path, NULL, NULL) == 0) {
		/* the name exists but leads nowhere */
		free_db(db);
		return vv_error_set(VARVE_EINVAL, ENOENT, "%s is a symbolic link to nothing", path);
	}
	if (rc == VARVE_ENOTFOUND) {
		if (o.read_only || !o.create_if_missing) {
			free_db(db);
			return vv_error_set(VARVE_ENOTFOUND, 0, "no store at %s", path);
		}
		rc = vv_io_mkdir(path, o.dir_mode);
		fresh = 1;
		if (rc == VARVE_EEXISTS) { /* another opener made it first: fine */
			vv_error_clear();
			rc = 0;
			fresh = 0;
		}
	} else if (rc == 0 && is_dir != 1) {
		rc = vv_error_set(VARVE_EINVAL, 0, "%s is not a directory", path);
	}
	/* The format check comes before anything is created or locked. */
	if (rc == 0)
		rc = check_version(path, &has_version);
	if (rc == 0 && !has_version && o.read_only)
		rc = vv_error_set(VARVE_ENOTFOUND, 0, "%s is not a varve store (no VERSION)", path);
	if (rc == 0 && !has_version) {
		/* A directory without VERSION is ours only if nothing but what an
		 * interrupted creation leaves is in it (LOCK, VERSION.tmp). This is
		 * checked before the lock file is made: a foreign directory is
		 * never touched. */
		char **names;
		size_t n;
		rc = vv_io_list_dir(path, &names, &n);
		if (rc == 0) {
			for (size_t i = 0; i < n && rc == 0; i++)
				if (strcmp(names[i], LOCK_FILE) && strcmp(names[i], VERSION_FILE ".tmp"))
					rc = vv_error_set(VARVE_EFORMAT, 0,
							  "%s is not empty and has no VERSION file: "
							  "not a varve store", path);
			vv_io_free_list(names, n);
		}
		if (rc == VARVE_EFORMAT) {
			/* another opener may be creating this store right now: its
			 * VERSION comes before anything else it writes */
			vv_error_saved e;
			vv_error_save(&e);
			int again = 0;
			if (check_version(path, &again) == 0 && again) {
				vv_error_clear();
				rc = 0;
				has_version = 1;
			} else {
				vv_error_restore(&e);
			}
		}
	}
	if (rc == 0 && !o.read_only) {
		snprintf(buf, sizeof buf, "%s/%s", path, LOCK_FILE);
		rc = vv_io_lock(buf, o.file_mode, &db->lock);
	}
	if (rc == 0 && !has_version) {
		if (rc == 0) {
			char v[16];
			int vl = snprintf(v, sizeof v, "%d\n", VARVE_FORMAT_VERSION);
			rc = vv_io_write_atomic(path, VERSION_FILE, v, (size_t)vl, o.file_mode);
		}
		if (rc == 0 && fresh) {
			char parent[4096];
			snprintf(parent, sizeof parent, "%s", path);
			char *slash = strrchr(parent, '/');
			if (slash && slash != parent) {
				*slash = 0;
				rc = vv_io_sync_dir(parent);
			} else {
				rc = vv_io_sync_dir(slash ? "/" : ".");
			}
		}
	}
	int clean = 0;
	uint64_t clean_nonce = 0;
	if (rc == 0) {
		snprintf(buf, sizeof buf, "%s/%s", path, CLEAN_FILE);
		clean = vv_io_stat(buf, NULL, NULL) == 0;
		if (clean)
			clean_nonce = read_clean_nonce(buf);
		vv_error_clear();
		if (clean && !o.read_only) {
			/* From here on the store is dirty until a clean close. */
			rc = vv_io_unlink(buf);
			if (rc == 0)
				rc = vv_io_sync_dir(path);
		}
	}
	if (rc == 0 && !o.read_only) {
		rc = vv_io_mkdir(db->topics_dir, o.dir_mode);
		if (rc == 0) /* the new directory must survive a crash */
			rc = vv_io_sync_dir(path);
		else if (rc == VARVE_EEXISTS)
			rc = 0;
	}
	if (rc == 0) {
		vv_part_config *pc = &db->pcfg;
		pc->seg.index_interval = o.index_interval_bytes;
		pc->seg.max_batch = VV_MAX_BATCH_READ;
		pc->max_write_batch = o.max_record_bytes;
		pc->seg.file_mode = o.file_mode;
		pc->seg.read_only = o.read_only;
		pc->seg.use_mmap = o.use_mmap && !o.read_only;
		pc->seg.map_span = o.segment_bytes + o.max_record_bytes;
		pc->seg.segment_bytes = o.segment_bytes;
		pc->seg.verify_always = o.verify_every_read || o.read_only;
		pc->segment_bytes = o.segment_bytes;
		pc->segment_ms = o.segment_ms;
		pc->sync_policy = o.sync_policy;
		pc->codec = VARVE_CODEC_NONE;
		pc->dir_mode = o.dir_mode;
		pc->group_commit_wait_us = o.group_commit_wait_us;
		pc->min_free_bytes = o.min_free_bytes;
		pc->max_open = (long)o.max_open_files;
		pc->clock_fn = o.clock_fn;
		pc->clock_ctx = o.clock_ctx;
		pc->log_fn = o.log_fn;
		pc->log_ctx = o.log_ctx;
		pc->on_cut = vv_store_report_cut;
		pc->cut_ctx = db;
		pc->on_append = vv_store_on_append;
		pc->append_ctx = db;
		pc->clean_nonce = o.read_only ? 0 : clean_nonce; /* for the opens below only */
		vv_part_config mc = *pc;
		mc.segment_bytes = 1u << 20; /* small, so compaction can keep it small */
		mc.seg.map_span = mc.segment_bytes + mc.max_write_batch;
		mc.seg.segment_bytes = mc.segment_bytes;
		mc.on_append = NULL;
		/* metadata (commits, topic changes) may use the reserve */
		mc.min_free_bytes = o.min_free_bytes / 2;
		rc = vv_meta_open(path, &mc, clean, &db->meta);
	}
	if (rc == 0)
		rc = load_topics(db, clean);
	db->pcfg.clean_nonce = 0; /* topics created from now on have no size list */
	if (rc == 0)
		rc = vv_store_clamp_commits(db);
	if (rc == 0)
		rc = vv_async_init(db);
	if (rc == 0 && !o.read_only && o.start_cleaner)
		rc = vv_cleaner_start(db);
	if (rc) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", varve_last_error()->message);
		vv_async_shutdown(db);
		close_topics(db, 0);
		vv_meta_close(db->meta, 0);
		vv_io_close(db->lock);
		free_db(db);
		vv_error_set(rc, 0, "%s", msg);
		return rc;
	}
	vv_store_log(db, VARVE_LOG_INFO, "opened %s (%s, %zu topics%s)", path,
		     o.read_only ? "read-only" : "writer", db->ntopics,
		     clean ? ", clean" : ", recovered");
	*db_out = db;
	return 0;
}

int varve_close(varve_db *db)
{
	if (!db)
		return 0;
	vv_async_shutdown(db); /* every async callback fires before close goes on */
	vv_cleaner_stop(db);
	int rc = 0;
	long handles = atomic_load(&db->open_handles);
	if (handles)
		vv_store_log(db, VARVE_LOG_WARN,
			     "varve_close with %ld iterators or consumers still open", handles);
	for (size_t i = 0; i < db->ntopics; i++) {
		vv_topic *t = db->topics[i];
		for (uint32_t k = 0; k < t->nparts; k++) {
			if (atomic_load(&t->parts[k]->failed) && !rc)
				rc = vv_error_set(VARVE_EIO, 0,
						  "partition %s/%u failed an fsync: its unsynced data "
						  "may be lost", t->name, k);
		}
	}
	vv_error_saved first;
	vv_error_save(&first);
	/* A clean close leaves each partition a segment size list carrying this
	 * close's nonce, and the nonce in CLEAN, written (fsynced) after them. */
	uint64_t nonce = 0;
	if (!db->read_only && rc == 0 && handles == 0) {
		nonce = new_clean_nonce(db);
		for (size_t i = 0; i < db->ntopics; i++)
			for (uint32_t k = 0; k < db->topics[i]->nparts; k++)
				db->topics[i]->parts[k]->close_nonce = nonce;
		if (db->meta && db->meta->log)
			db->meta->log->close_nonce = nonce;
	}
	/* Each topic's last reference closes its partitions (sync + recovery point). */
	close_topics(db, 1);
	int mrc = vv_meta_close(db->meta, 1);
	if (!rc)
		rc = mrc;
	if (!db->read_only && rc == 0 && handles == 0) {
		uint8_t cb[16];
		vv_store64(cb, nonce);
		vv_store64(cb + 8, XXH3_64bits(cb, 8));
		rc = vv_io_write_atomic(db->path, CLEAN_FILE, cb, sizeof cb, db->opts.file_mode);
	}
	vv_io_close(db->lock);
	free_db(db);
	if (rc && rc == first.code)
		vv_error_restore(&first); /* the detail matches the code returned */
	return rc;
}

int varve_sync(varve_db *db)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->read_only)
		return 0;
	vv_topic **ts;
	size_t n;
	VV_TRY(vv_store_topics_snapshot(db, &ts, &n));
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < ts[i]->nparts; k++) {
			int r = vv_partition_sync(ts[i]->parts[k]);
			if (r && !rc)
				rc = r;
		}
	vv_store_topics_release(ts, n);
	int r = vv_partition_sync(db->meta->log);
	return rc ? rc : r;
}

int varve_recovery_cuts(varve_db *db, const varve_recovery_cut **cuts_out, size_t *count_out)
{
	if (!db || !cuts_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	*cuts_out = db->cuts;
	*count_out = db->ncuts;
	return 0;
}

/* ---- topic admin --------------------------------------------------------------- */

static int meta_topic_key(const char *name, uint8_t *key, size_t *klen)
{
	size_t n = strlen(name);
	key[0] = VV_META_KEY_TOPIC;
	memcpy(key + 1, name, n);
	*klen = n + 1;
	return 0;
}

int varve_topic_create(varve_db *db, const char *name, const varve_topic_config *cfg)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	VV_TRY(check_name(name));
	if (db->read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	if (cfg) {
		if (cfg->version != VARVE_TOPIC_CONFIG_VERSION)
			return vv_error_set(VARVE_EINVAL, 0, "varve_topic_config.version is %u",
					    cfg->version);
		c = *cfg;
	}
	VV_TRY(vv_topic_config_validate(&c));
	pthread_mutex_lock(&db->admin_mu);
	int rc = 0;
	pthread_rwlock_rdlock(&db->topics_lock);
	int exists = find_topic(db, name, NULL) >= 0;
	pthread_rwlock_unlock(&db->topics_lock);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/%s", db->topics_dir, name);
	if (exists) {
		rc = vv_error_set(VARVE_EEXISTS, 0, "topic %s already exists", name);
	} else if (vv_io_stat(dir, NULL, NULL) == 0) {
		rc = vv_error_set(VARVE_EBUSY, 0,
				  "topic %s was deleted but is still in use by an open iterator", name);
	}
	vv_error_clear();
	vv_topic *t = NULL;
	int64_t now = vv_store_now(db);
	if (rc == 0)
		rc = open_topic(db, name, &c, now, 0, &t);
	if (rc == 0) {
		uint8_t key[VARVE_MAX_TOPIC_NAME + 1], val[VV_TOPIC_CONFIG_MAX];
		size_t klen;
		meta_topic_key(name, key, &klen);
		size_t vlen = vv_topic_config_encode(&c, now, val);
		/* The topic exists once this record is durable, whatever the policy. */
		rc = vv_meta_put(db->meta, key, klen, val, vlen, 1);
		if (rc) {
			atomic_store(&t->deleted, 1);
			vv_topic_unref(t);
			t = NULL;
		}
	}
	if (rc == 0) {
		pthread_rwlock_wrlock(&db->topics_lock);
		rc = insert_topic(db, t);
		pthread_rwlock_unlock(&db->topics_lock);
		if (rc)
			vv_topic_unref(t);
	}
	pthread_mutex_unlock(&db->admin_mu);
	return rc;
}

int varve_topic_delete(varve_db *db, const char *name)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	VV_TRY(check_name(name));
	if (db->read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	pthread_mutex_lock(&db->admin_mu);
	pthread_rwlock_rdlock(&db->topics_lock);
	long i = find_topic(db, name, NULL);
	pthread_rwlock_unlock(&db->topics_lock);
	int rc = 0;
	if (i < 0)
		rc = vv_error_set(VARVE_ENOTFOUND, 0, "no topic named %s", name);
	if (rc == 0) {
		uint8_t key[VARVE_MAX_TOPIC_NAME + 1];
		size_t klen;
		meta_topic_key(name, key, &klen);
		rc = vv_meta_put(db->meta, key, klen, NULL, 0, 1);
	}
	if (rc == 0) {
		pthread_rwlock_wrlock(&db->topics_lock);
		vv_topic *t = db->topics[i];
		memmove(db->topics + i, db->topics + i + 1,
			(db->ntopics - (size_t)i - 1) * sizeof *db->topics);
		db->ntopics--;
		pthread_rwlock_unlock(&db->topics_lock);
		atomic_store(&t->deleted, 1);
		vv_topic_unref(t);
	}
	pthread_mutex_unlock(&db->admin_mu);
	return rc;
}

int varve_topic_list(varve_db *db, char ***names_out, size_t *count_out)
{
	if (!names_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*names_out = NULL;
	*count_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	pthread_rwlock_rdlock(&db->topics_lock);
	size_t n = db->ntopics;
	char **v = vv_calloc(n ? n : 1, sizeof *v);
	int rc = v ? 0 : VARVE_ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!(v[i] = vv_strdup(db->topics[i]->name)))
			rc = VARVE_ENOMEM;
	pthread_rwlock_unlock(&db->topics_lock);
	if (rc) {
		varve_strings_free(v, n);
		return vv_error_set(rc, 0, "listing topics");
	}
	*names_out = v;
	*count_out = n;
	return 0;
}

void varve_strings_free(char **strings, size_t count)
{
	if (!strings)
		return;
	for (size_t i = 0; i < count; i++)
		vv_free(strings[i]);
	vv_free(strings);
}

int varve_topic_describe(varve_db *db, const char *name, varve_topic_config *cfg_out)
{
	if (!db || !cfg_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (cfg_out->version < 1)
		return vv_error_set(VARVE_EINVAL, 0, "set cfg_out->version first");
	vv_topic *t;
	VV_TRY(vv_store_topic(db, name, &t));
	vv_topic_config_copy_out(cfg_out, &t->cfg);
	vv_topic_unref(t);
	return 0;
}

int varve_partition_info_get(varve_db *db, const char *topic, int32_t partition,
			     varve_partition_info *info)
{
	if (!db || !info)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (info->version < 1)
		return vv_error_set(VARVE_EINVAL, 0, "set info->version first");
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_store_partition(db, topic, partition, &t, &p));
	if (db->read_only)
		(void)vv_partition_refresh(p);
	info->start_offset = atomic_load(&p->start_offset);
	info->end_offset = atomic_load(&p->end_offset);
	info->durable_offset = atomic_load(&p->durable_offset);
	info->size_bytes = vv_partition_size(p, &info->segments);
	info->failed = atomic_load(&p->failed);
	vv_topic_unref(t);
	return 0;
}

int varve_offsets(varve_db *db, const char *topic, int32_t partition, int64_t *start_out,
		  int64_t *end_out)
{
	if (start_out)
		*start_out = 0;
	if (end_out)
		*end_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_store_partition(db, topic, partition, &t, &p));
	if (db->read_only)
		(void)vv_partition_refresh(p);
	if (start_out)
		*start_out = atomic_load(&p->start_offset);
	if (end_out)
		*end_out = atomic_load(&p->end_offset);
	vv_topic_unref(t);
	return 0;
}

/* ---- produce --------------------------------------------------------------------- */

int vv_store_check_record(const vv_topic *t, const varve_record *r)
{
	if (!r)
		return vv_error_set(VARVE_EINVAL, 0, "NULL record");
	if (!r->key && (t->cfg.cleanup_policy & VARVE_CLEANUP_COMPACT))
		return vv_error_set(VARVE_EINVAL, 0,
				    "topic %s is compacted: every record needs a key", t->name);
	if ((r->key_len && !r->key) || (r->value_len && !r->value))
		return vv_error_set(VARVE_EINVAL, 0, "record has a length but no bytes");
	if (r->header_count && !r->headers)
		return vv_error_set(VARVE_EINVAL, 0, "record has header_count but no headers");
	for (size_t i = 0; i < r->header_count; i++)
		if ((r->headers[i].key_len && !r->headers[i].key) ||
		    (r->headers[i].value_len && !r->headers[i].value))
			return vv_error_set(VARVE_EINVAL, 0, "header %zu has a length but no bytes", i);
	if (r->timestamp < 0)
		return vv_error_set(VARVE_EINVAL, 0, "negative timestamp");
	return 0;
}

int vv_store_pick_partition(vv_topic *t, const varve_record *r, int32_t forced, int first,
			    uint32_t *out)
{
	int32_t want = forced >= 0 ? forced : r->partition;
	if (want >= 0) {
		if ((uint32_t)want >= t->nparts)
			return vv_error_set(VARVE_ENOTFOUND, 0, "topic %s has no partition %d",
					    t->name, want);
		*out = (uint32_t)want;
	} else if (want != VARVE_PARTITION_ANY) {
		return vv_error_set(VARVE_EINVAL, 0, "invalid partition %d", want);
	} else if (r->key) {
		*out = vv_topic_partition_for_key(r->key, r->key_len, t->nparts);
	} else {
		*out = vv_topic_partition_for_null(t, first);
	}
	return 0;
}

static int begin_produce(varve_db *db, const char *topic, vv_topic **t)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	return vv_store_topic(db, topic, t);
}

int varve_produce(varve_db *db, const char *topic, const varve_record *rec,
		  int32_t *partition_out, int64_t *offset_out)
{
	if (partition_out)
		*partition_out = -1;
	if (offset_out)
		*offset_out = -1;
	if (!rec)
		return vv_error_set(VARVE_EINVAL, 0, "NULL record");
	vv_topic *t;
	VV_TRY(begin_produce(db, topic, &t));
	uint32_t part = 0;
	int rc = vv_store_check_record(t, rec);
	if (rc == 0)
		rc = vv_store_pick_partition(t, rec, VARVE_PARTITION_ANY, 1, &part);
	int64_t base = -1;
	size_t idl = 0;
	const void *id = t->dedup ? vv_dedup_id(rec, &idl) : NULL;
	if (id) {
		pthread_mutex_lock(&t->dedup->mu);
		vv_dedup_entry *e = rc ? NULL : vv_dedup_find(t->dedup, id, idl, vv_store_now(db));
		if (e && e->offset >= 0) {
			/* seen within the window: report the earlier copy */
			part = (uint32_t)e->partition;
			base = e->offset;
			pthread_mutex_unlock(&t->dedup->mu);
			goto done;
		}
	}
	if (rc == 0) {
		const varve_record *one[1] = { rec };
		rc = vv_partition_append(t->parts[part], one, 1, NULL, &base);
	}
	if (id) {
		if (rc == 0)
			rc = vv_dedup_put(t->dedup, id, idl, (int32_t)part, base, vv_store_now(db));
		pthread_mutex_unlock(&t->dedup->mu);
	}
done:
	if (rc == 0) {
		if (partition_out)
			*partition_out = (int32_t)part;
		if (offset_out)
			*offset_out = base;
	}
	vv_topic_unref(t);
	return rc;
}

int varve_produce_batch(varve_db *db, const char *topic, varve_record *recs, size_t n,
			const varve_produce_options *opts)
{
	if (!recs && n)
		return vv_error_set(VARVE_EINVAL, 0, "NULL records");
	if (n == 0)
		return 0;
	int32_t forced = VARVE_PARTITION_ANY;
	vv_append_opts ao = { -1, -1, 0, -1, 0, 0, 0, 0 };
	if (opts) {
		if (opts->version != VARVE_PRODUCE_OPTIONS_VERSION)
			return vv_error_set(VARVE_EINVAL, 0, "varve_produce_options.version is %u",
					    opts->version);
		forced = opts->partition;
		ao.expected_end = opts->expected_end_offset;
	}
	vv_topic *t;
	VV_TRY(begin_produce(db, topic, &t));
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = vv_store_check_record(t, &recs[i]);
	const varve_record **ptrs = vv_malloc(n * sizeof *ptrs);
	uint32_t *parts = vv_malloc(n * sizeof *parts);
	size_t *idx = vv_malloc(n * sizeof *idx);
	if (!ptrs || !parts || !idx)
		rc = vv_error_set(VARVE_ENOMEM, 0, "produce batch of %zu", n);
	uint32_t one_part = 0;
	int single = 1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = vv_store_pick_partition(t, &recs[i], forced, i == 0, &parts[i]);
		if (i == 0)
			one_part = parts[0];
		else if (parts[i] != one_part)
			single = 0;
	}
	if (rc == 0 && ao.expected_end >= 0 && !single)
		rc = vv_error_set(VARVE_EINVAL, 0,
				  "expected_end_offset needs every record in one partition");
	/* Message-id window: drop records seen before, mark ids of this batch. */
	int64_t now = t->dedup ? vv_store_now(db) : 0;
	if (t->dedup)
		pthread_mutex_lock(&t->dedup->mu);
	for (size_t i = 0; rc == 0 && t->dedup && i < n; i++) {
		size_t il;
		const void *id = vv_dedup_id(&recs[i], &il);
		recs[i].flags = 0;
		if (!id)
			continue;
		vv_dedup_entry *e = vv_dedup_find(t->dedup, id, il, now);
		if (e && e->offset >= 0) {
			recs[i].partition = e->partition;
			recs[i].offset = e->offset;
			recs[i].flags = VARVE_RECORD_DUPLICATE;
			parts[i] = UINT32_MAX;
		} else if (e) { /* an earlier record of this same batch: resolved below */
			recs[i].flags = VARVE_RECORD_DUPLICATE;
			parts[i] = UINT32_MAX;
		} else {
			rc = vv_dedup_put(t->dedup, id, il, -1, -1 - (int64_t)i, now);
		}
	}
	/* One batch per partition, in the order partitions first appear. */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (parts[i] == UINT32_MAX)
			continue; /* already written with an earlier partition's batch */
		uint32_t p = parts[i];
		size_t cnt = 0;
		for (size_t j = i; j < n; j++)
			if (parts[j] == p) {
				ptrs[cnt] = &recs[j];
				idx[cnt++] = j;
			}
		int64_t base;
		rc = vv_partition_append(t->parts[p], ptrs, cnt, &ao, &base);
		for (size_t k = 0; rc == 0 && k < cnt; k++) {
			recs[idx[k]].partition = (int32_t)p;
			recs[idx[k]].offset = base + (int64_t)k;
			parts[idx[k]] = UINT32_MAX;
		}
	}
	if (t->dedup) {
		/* Resolve this batch's ids: real offsets, or forget them on failure. */
		for (size_t i = 0; i < n; i++) {
			size_t il;
			const void *id = vv_dedup_id(&recs[i], &il);
			if (!id)
				continue;
			if (recs[i].flags & VARVE_RECORD_DUPLICATE) {
				/* the copy it repeats comes earlier, so it is resolved by now */
				vv_dedup_entry *e = vv_dedup_find(t->dedup, id, il, now);
				if (e && e->offset >= 0) {
					recs[i].partition = e->partition;
					recs[i].offset = e->offset;
				}
				continue;
			}
			vv_dedup_entry *e = vv_dedup_find(t->dedup, id, il, now);
			if (e && e->offset < 0) {
				if (rc == 0) {
					e->partition = recs[i].partition;
					e->offset = recs[i].offset;
				} else {
					e->time = INT64_MIN / 2; /* aged out at once */
				}
			}
		}
		pthread_mutex_unlock(&t->dedup->mu);
	}
	vv_free(ptrs);
	vv_free(parts);
	vv_free(idx);
	vv_topic_unref(t);
	return rc;
}
