/* SPDX-License-Identifier: MIT */
/*
 * repair.c -- varve_repair: rebuild a damaged metadata log.
 *
 * The metadata log is read with damage skipped (meta.c); what survives is
 * kept as the latest record of every key. Then:
 *   - a topic directory no surviving record configures gets a new
 *     configuration: its partition count from its partition directories,
 *     every other setting the default (reported: its retention, compaction
 *     or codec settings, if it had others, are lost);
 *   - commits and attempts of topics that no longer exist are dropped;
 * and, unless it is a dry run, a new metadata log with one record per key
 * is written beside the old one (meta.repair), synced, and swapped in: the
 * old log is kept as meta.damaged-<ms> for inspection. A crash before the
 * swap leaves the old log in place; a crash after it, the new one.
 *
 * Writer-only: it takes the store's lock. May call: meta, log, base.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "io.h"
#include "meta.h"
#include "util.h"

typedef struct entry {
	uint8_t *key, *val; /* val NULL: deleted */
	size_t klen, vlen;
} entry;

typedef struct state {
	entry *v;
	size_t n, cap;
	const varve_repair_options *o;
	varve_repair_report *rep;
} state;

static void say(const state *st, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(const state *st, int level, const char *fmt, ...)
{
	if (!st->o->log_fn)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	st->o->log_fn(st->o->log_ctx, level, msg);
}

static entry *find(state *st, const uint8_t *key, size_t klen)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].klen == klen && !memcmp(st->v[i].key, key, klen))
			return &st->v[i];
	return NULL;
}

/* Keep the latest value of r's key (re-encoded: what survives is exactly
 * what this version understands). */
static int keep(state *st, const vv_meta_rec *r)
{
	uint8_t key[VV_META_KEY_MAX], val[VV_META_VALUE_MAX];
	size_t kl, vl;
	VV_TRY(vv_meta_encode(r, key, &kl, val, &vl));
	entry *e = find(st, key, kl);
	if (!e) {
		if (st->n == st->cap) {
			size_t nc = st->cap ? st->cap * 2 : 64;
			entry *nv = vv_realloc(st->v, nc * sizeof *nv);
			if (!nv)
				return vv_error_set(VARVE_ENOMEM, 0, "repair");
			st->v = nv;
			st->cap = nc;
		}
		e = &st->v[st->n++];
		memset(e, 0, sizeof *e);
		if (!(e->key = vv_malloc(kl)))
			return vv_error_set(VARVE_ENOMEM, 0, "repair");
		memcpy(e->key, key, kl);
		e->klen = kl;
	}
	vv_free(e->val);
	e->val = NULL;
	e->vlen = 0;
	if (!r->deleted) {
		if (!(e->val = vv_malloc(vl ? vl : 1)))
			return vv_error_set(VARVE_ENOMEM, 0, "repair");
		memcpy(e->val, val, vl);
		e->vlen = vl;
	}
	return 0;
}

static int on_record(void *ctx, const vv_meta_rec *r, int live)
{
	(void)live;
	return keep(ctx, r);
}

static int has_topic(state *st, const char *name)
{
	uint8_t key[VV_META_KEY_MAX];
	size_t nl = strlen(name);
	key[0] = VV_META_TOPIC_CONFIG;
	memcpy(key + 1, name, nl);
	entry *e = find(st, key, nl + 1);
	return e && e->val;
}

/* Partition directories 0..n-1 of a topic directory. */
static uint32_t count_partitions(const char *dir)
{
	char **names;
	size_t n;
	if (vv_io_list_dir(NULL, dir, &names, &n)) {
		vv_error_clear();
		return 0;
	}
	uint32_t count = 0;
	for (int found = 1; found && count < VARVE_MAX_PARTITIONS;) {
		char want[16];
		snprintf(want, sizeof want, "%u", count);
		found = 0;
		for (size_t i = 0; i < n && !found; i++)
			found = !strcmp(names[i], want);
		count += (uint32_t)found;
	}
	vv_io_free_list(names, n);
	return count;
}

/* Topic directories without a configuration get the default one. */
static int recreate_configs(state *st, const char *path, int64_t now)
{
	char tdir[4096];
	snprintf(tdir, sizeof tdir, "%s/topics", path);
	char **names;
	size_t n;
	int rc = vv_io_list_dir(NULL, tdir, &names, &n);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		return 0;
	}
	VV_TRY(rc);
	vv_meta_rec *r = vv_calloc(1, sizeof *r);
	if (!r)
		rc = vv_error_set(VARVE_ENOMEM, 0, "repair");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!varve_name_valid(names[i]) || has_topic(st, names[i]))
			continue;
		char dir[4400];
		snprintf(dir, sizeof dir, "%s/%s", tdir, names[i]);
		uint32_t parts = count_partitions(dir);
		if (parts == 0) {
			say(st, VARVE_LOG_WARN, "topics/%s holds no partition: left alone", names[i]);
			continue;
		}
		memset(r, 0, sizeof *r);
		r->kind = VV_META_TOPIC_CONFIG;
		snprintf(r->name, sizeof r->name, "%s", names[i]);
		varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
		c.partitions = parts;
		r->cfg = c;
		r->time = now;
		rc = keep(st, r);
		st->rep->topics_recreated++;
		say(st, VARVE_LOG_WARN,
		    "topic %s: its configuration was lost; recreated with %u partitions and default "
		    "settings (retention, compaction and codec settings it had are not known)",
		    names[i], parts);
	}
	vv_free(r);
	vv_io_free_list(names, n);
	return rc;
}

/* Commits and attempts of topics that do not exist: dropped. */
static void drop_dangling(state *st)
{
	vv_meta_rec *r = vv_malloc(sizeof *r);
	if (!r)
		return;
	for (size_t i = 0; i < st->n; i++) {
		entry *e = &st->v[i];
		if (!e->val || (e->key[0] != VV_META_COMMIT && e->key[0] != VV_META_ATTEMPT))
			continue;
		varve_record in = { e->key, e->klen, e->val, e->vlen, NULL, 0, 0, 0, 0, 0 };
		if (vv_meta_decode(&in, r) || has_topic(st, r->name))
			continue;
		vv_free(e->val);
		e->val = NULL;
		st->rep->records_dropped++;
		say(st, VARVE_LOG_WARN, "group %s: commit for %s/%u dropped: no such topic", r->group,
		    r->name, r->partition);
	}
	vv_free(r);
}

/* The new log, in <path>/meta.repair: every live key once, in batches of
 * up to 256 records, synced. */
static int write_log(state *st, const char *path, const vv_part_config *pc)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/meta.repair", path);
	(void)vv_io_remove_tree(NULL, dir); /* a repair that stopped half-way */
	vv_error_clear();
	vv_meta *m;
	VV_TRY(vv_meta_open(dir, pc, 0, &m));
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	vv_meta_rec *r = vv_malloc(sizeof *r);
	int rc = r ? 0 : vv_error_set(VARVE_ENOMEM, 0, "repair");
	size_t in_batch = 0;
	for (size_t i = 0; rc == 0 && i < st->n; i++) {
		entry *e = &st->v[i];
		if (!e->val)
			continue;
		varve_record in = { e->key, e->klen, e->val, e->vlen, NULL, 0, 0, 0, 0, 0 };
		if (vv_meta_decode(&in, r))
			continue;
		rc = vv_meta_batch_add(&b, r);
		st->rep->records_kept++;
		if (rc == 0 && ++in_batch == 256) {
			rc = vv_meta_write(m, &b, 0);
			vv_meta_batch_free(&b);
			vv_meta_batch_init(&b);
			in_batch = 0;
		}
	}
	if (rc == 0)
		rc = vv_meta_write(m, &b, 1);
	vv_meta_batch_free(&b);
	vv_free(r);
	if (rc == 0)
		rc = vv_partition_sync(vv_meta_partition(m));
	int crc = vv_meta_close(m, rc == 0);
	if (rc == 0)
		rc = crc;
	if (rc == 0)
		rc = vv_io_sync_dir(NULL, path);
	return rc;
}

int varve_repair_options_init(varve_repair_options *o, unsigned int version)
{
	if (!o || version != VARVE_REPAIR_OPTIONS_VERSION)
		return vv_error_set(VARVE_EINVAL, 0, "unknown varve_repair_options version %u", version);
	varve_repair_options d = VARVE_REPAIR_OPTIONS_INIT;
	*o = d;
	return 0;
}

int varve_repair(const char *path, const varve_repair_options *opts, varve_repair_report *rep)
{
	varve_repair_options o = VARVE_REPAIR_OPTIONS_INIT;
	if (opts) {
		if (opts->version != VARVE_REPAIR_OPTIONS_VERSION)
			return vv_error_set(VARVE_EINVAL, 0, "varve_repair_options.version is %u",
					    opts->version);
		o = *opts;
	}
	if (!path || !rep || rep->version < 1)
		return vv_error_set(VARVE_EINVAL, 0, "repair needs a path and a report (version set)");
	unsigned rv = rep->version;
	memset(rep, 0, sizeof *rep);
	rep->version = rv;
	char buf[4096];
	snprintf(buf, sizeof buf, "%s/VERSION", path);
	if (vv_io_stat(NULL, buf, NULL, NULL))
		return vv_error_set(VARVE_ENOTFOUND, 0, "%s is not a varve store (no VERSION)", path);
	snprintf(buf, sizeof buf, "%s/LOCK", path);
	vv_file *lock;
	VV_TRY(vv_io_lock(NULL, buf, 0600, &lock));
	state st = { NULL, 0, 0, &o, rep };
	vv_part_config pc;
	memset(&pc, 0, sizeof pc);
	pc.seg = (vv_seg_config){ .index_interval = 4096, .max_batch = VV_MAX_BATCH_READ,
				  .file_mode = 0600, .read_only = 1, .verify_always = 1 };
	pc.segment_bytes = 1u << 20;
	pc.max_write_batch = 64u << 20;
	pc.sync_policy = VARVE_SYNC_ALWAYS;
	pc.dir_mode = 0700;
	vv_meta *m;
	/* read-only: the damaged log is read as it is, nothing cut */
	snprintf(buf, sizeof buf, "%s/meta", path);
	int rc = vv_meta_open(buf, &pc, 0, &m);
	if (rc == 0) {
		static const uint8_t kinds[] = { VV_META_TOPIC_CONFIG, VV_META_COMMIT, VV_META_GROUP,
						 VV_META_ATTEMPT, VV_META_NEXT_PID, VV_META_PRODUCER };
		for (size_t i = 0; i < sizeof kinds; i++)
			vv_meta_subscribe(m, kinds[i], on_record, &st, 0);
		rc = vv_meta_replay(m);
		const vv_meta_damage *d;
		size_t nd;
		vv_meta_damaged(m, &d, &nd);
		for (size_t i = 0; rc == 0 && i < nd; i++) {
			rep->ranges_damaged++;
			rep->records_undecodable += (uint64_t)d[i].undecodable;
			say(&st, VARVE_LOG_WARN, "metadata offsets %" PRId64 "..%" PRId64 " lost: %s",
			    d[i].from, d[i].to - 1, d[i].detail);
		}
		vv_meta_close(m, 0);
	}
	int64_t now = vv_now_ms();
	if (rc == 0)
		rc = recreate_configs(&st, path, now);
	if (rc == 0)
		drop_dangling(&st);
	if (rc == 0 && !o.dry_run) {
		pc.seg.read_only = 0;
		pc.seg.verify_always = 0;
		rc = write_log(&st, path, &pc);
		char old[4096], damaged[4096], fresh[4096], clean[4096];
		snprintf(old, sizeof old, "%s/meta", path);
		snprintf(damaged, sizeof damaged, "%s/meta.damaged-%" PRId64, path, now);
		snprintf(fresh, sizeof fresh, "%s/meta.repair", path);
		snprintf(clean, sizeof clean, "%s/CLEAN", path);
		if (rc == 0) /* the store is not clean after a repair: recovery runs */
			(void)vv_io_unlink(NULL, clean), vv_error_clear();
		if (rc == 0)
			rc = vv_io_rename(NULL, old, damaged);
		if (rc == 0)
			rc = vv_io_rename(NULL, fresh, old);
		if (rc == 0)
			rc = vv_io_sync_dir(NULL, path);
		if (rc == 0)
			say(&st, VARVE_LOG_INFO, "new metadata log in place; the old one is %s", damaged);
	}
	for (size_t i = 0; i < st.n; i++) {
		vv_free(st.v[i].key);
		vv_free(st.v[i].val);
	}
	vv_free(st.v);
	vv_error_saved e;
	vv_error_save(&e);
	vv_io_close(lock);
	vv_error_restore(&e);
	return rc;
}
