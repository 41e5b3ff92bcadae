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

#include "abi.h"
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
	if (!r) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "repair");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
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
		if ((rc = keep(st, r)) != 0)
			goto out;
		st->rep->topics_recreated++;
		say(st, VARVE_LOG_WARN,
		    "topic %s: its configuration was lost; recreated with %u partitions and default "
		    "settings (retention, compaction and codec settings it had are not known)",
		    names[i], parts);
	}
out:
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
	size_t in_batch = 0;
	int rc = 0;
	vv_meta_rec *r = vv_malloc(sizeof *r);
	if (!r) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "repair");
		goto out;
	}
	for (size_t i = 0; i < st->n; i++) {
		entry *e = &st->v[i];
		if (!e->val)
			continue;
		varve_record in = { e->key, e->klen, e->val, e->vlen, NULL, 0, 0, 0, 0, 0 };
		if (vv_meta_decode(&in, r))
			continue;
		if ((rc = vv_meta_batch_add(&b, r)) != 0)
			goto out;
		st->rep->records_kept++;
		if (++in_batch == 256) {
			rc = vv_meta_write(m, &b, 0);
			vv_meta_batch_free(&b);
			vv_meta_batch_init(&b);
			in_batch = 0;
			if (rc)
				goto out;
		}
	}
	if ((rc = vv_meta_write(m, &b, 1)) != 0)
		goto out;
	rc = vv_partition_sync(vv_meta_partition(m));
out:
	vv_meta_batch_free(&b);
	vv_free(r);
	if (rc) {
		vv_error_saved e;
		vv_error_save(&e);
		(void)vv_meta_close(m, 0); /* the failure above is the one reported */
		vv_error_restore(&e);
		return rc;
	}
	VV_TRY(vv_meta_close(m, 1));
	return vv_io_sync_dir(NULL, path);
}

/* The old metadata log, read-only with damage skipped: every record it
 * still holds into st, every damaged range into the report. */
static int read_old_log(state *st, const char *path, const vv_part_config *pc)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/meta", path);
	vv_meta *m;
	/* read-only: the damaged log is read as it is, nothing cut */
	VV_TRY(vv_meta_open(dir, pc, 0, &m));
	static const uint8_t kinds[] = { VV_META_TOPIC_CONFIG, VV_META_COMMIT, VV_META_GROUP,
					 VV_META_ATTEMPT, VV_META_NEXT_PID, VV_META_PRODUCER };
	for (size_t i = 0; i < sizeof kinds; i++)
		vv_meta_subscribe(m, kinds[i], on_record, st, 0);
	int rc = vv_meta_replay(m);
	if (rc)
		goto out;
	const vv_meta_damage *d;
	size_t nd;
	vv_meta_damaged(m, &d, &nd);
	for (size_t i = 0; i < nd; i++) {
		st->rep->ranges_damaged++;
		st->rep->records_undecodable += (uint64_t)d[i].undecodable;
		say(st, VARVE_LOG_WARN, "metadata offsets %" PRId64 "..%" PRId64 " lost: %s",
		    d[i].from, d[i].to - 1, d[i].detail);
	}
out:
	(void)vv_meta_close(m, 0); /* read-only: nothing of it to lose */
	return rc;
}

/* Write the new log and swap it in; the old one becomes meta.damaged-<now>. */
static int replace_log(state *st, const char *path, vv_part_config *pc, int64_t now)
{
	pc->seg.read_only = 0;
	pc->seg.verify_always = 0;
	VV_TRY(write_log(st, path, pc));
	char old[4096], damaged[4096], fresh[4096], clean[4096];
	snprintf(old, sizeof old, "%s/meta", path);
	snprintf(damaged, sizeof damaged, "%s/meta.damaged-%" PRId64, path, now);
	snprintf(fresh, sizeof fresh, "%s/meta.repair", path);
	snprintf(clean, sizeof clean, "%s/CLEAN", path);
	(void)vv_io_unlink(NULL, clean); /* may be missing; the store is not clean after a repair */
	vv_error_clear();
	VV_TRY(vv_io_rename(NULL, old, damaged));
	VV_TRY(vv_io_rename(NULL, fresh, old));
	VV_TRY(vv_io_sync_dir(NULL, path));
	say(st, VARVE_LOG_INFO, "new metadata log in place; the old one is %s", damaged);
	return 0;
}

int varve_repair_options_init(varve_repair_options *o, unsigned int version)
{
	if (!o)
		return vv_error_set(VARVE_EINVAL, 0, "varve_repair_options_init: opts is NULL");
	const varve_repair_options d = VARVE_REPAIR_OPTIONS_INIT;
	return vv_abi_init(&vv_abi_repair_options, o, version, &d);
}

int varve_repair(const char *path, const varve_repair_options *opts,
		 varve_repair_report *report_out)
{
	varve_repair_options o = VARVE_REPAIR_OPTIONS_INIT;
	VV_TRY(vv_abi_read(&vv_abi_repair_options, opts, &o));
	if (!path || !report_out)
		return vv_error_set(VARVE_EINVAL, 0, "repair needs a path and a report (version set)");
	VV_TRY(vv_abi_check(&vv_abi_repair_report, report_out->version));
	/* filled whole here, written up to the caller's version, also on failure */
	varve_repair_report rep = { .version = VARVE_REPAIR_REPORT_VERSION };
	char buf[4096];
	snprintf(buf, sizeof buf, "%s/VERSION", path);
	if (vv_io_stat(NULL, buf, NULL, NULL))
		return vv_error_set(VARVE_ENOTFOUND, 0, "%s is not a varve store (no VERSION)", path);
	snprintf(buf, sizeof buf, "%s/LOCK", path);
	vv_file *lock;
	VV_TRY(vv_io_lock(NULL, buf, 0600, &lock));
	state st = { NULL, 0, 0, &o, &rep };
	vv_part_config pc;
	memset(&pc, 0, sizeof pc);
	pc.seg = (vv_seg_config){ .index_interval = 4096, .max_batch = VV_MAX_BATCH_READ,
				  .file_mode = 0600, .read_only = 1, .verify_always = 1 };
	pc.segment_bytes = 1u << 20;
	pc.max_write_batch = 64u << 20;
	pc.sync_policy = VARVE_SYNC_ALWAYS;
	pc.dir_mode = 0700;
	vv_corrupt_sink *sink = NULL; /* damage the reads meet reaches log_fn */
	int64_t now = vv_now_ms();
	int rc = vv_corrupt_sink_add(path, o.log_fn, o.log_ctx, &sink);
	if (rc)
		goto out;
	if ((rc = read_old_log(&st, path, &pc)) != 0)
		goto out;
	if ((rc = recreate_configs(&st, path, now)) != 0)
		goto out;
	drop_dangling(&st);
	if (!o.dry_run)
		rc = replace_log(&st, path, &pc, now);
out:
	for (size_t i = 0; i < st.n; i++) {
		vv_free(st.v[i].key);
		vv_free(st.v[i].val);
	}
	vv_free(st.v);
	vv_corrupt_sink_remove(sink);
	(void)vv_abi_write(&vv_abi_repair_report, report_out, &rep); /* version checked above */
	vv_error_saved e;
	vv_error_save(&e);
	vv_io_close(lock);
	vv_error_restore(&e);
	return rc;
}
