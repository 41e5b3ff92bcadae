/* SPDX-License-Identifier: MIT */
/*
 * store.c -- varve_open and varve_close: the composition root. It prepares
 * the store directory, creates every subsystem in dependency order, wires
 * the callbacks that let a lower layer reach a higher one, replays the
 * metadata log into them, and takes them down in reverse order. The
 * subsystems and the lock order are listed in db.h. May call every layer.
 *
 * The store directory:
 *   VERSION   format version, written once; an unknown or newer one fails
 *             the open before anything is touched
 *   LOCK      flock()ed by the one writer (another process or handle gets
 *             VARVE_ELOCKED); read-only opens take no lock and write nothing
 *   CLEAN     present only between a clean close and the next writer open:
 *             recovery points are then exact and nothing is scanned
 *   meta/     the metadata log (topics, group offsets, producer ids)
 *   topics/<topic>/<partition>/   segments
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "abi.h"
#include "async.h"
#include "cleaner.h"
#include "db.h"
#include "groups.h"
#include "io.h"
#include "notify.h"
#include "offsets.h"
#include "postab.h"
#include "producers.h"
#include "registry.h"
#include "report.h"
#include "util.h"

#define VERSION_FILE "VERSION"
#define CLEAN_FILE "CLEAN"
#define LOCK_FILE "LOCK"

/* ---- options ------------------------------------------------------------- */

int varve_options_init(varve_options *o, unsigned int version)
{
	if (!o)
		return vv_error_set(VARVE_EINVAL, 0, "varve_options_init: opts is NULL");
	const varve_options d = VARVE_OPTIONS_INIT;
	return vv_abi_init(&vv_abi_options, o, version, &d);
}

int varve_topic_config_init(varve_topic_config *c, unsigned int version)
{
	if (!c)
		return vv_error_set(VARVE_EINVAL, 0, "varve_topic_config_init: cfg is NULL");
	const varve_topic_config d = VARVE_TOPIC_CONFIG_INIT;
	return vv_abi_init(&vv_abi_topic_config, c, version, &d);
}

/* The values of a complete (current version) options struct. */
static int check_options(const varve_options *o)
{
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
	if (o->read_cache_bytes < -1)
		return vv_error_set(VARVE_EINVAL, 0, "read_cache_bytes must be -1 (none), 0 (default) or a size");
	if (o->append_buffer_bytes < 0 || o->append_buffer_bytes > (1 << 30))
		return vv_error_set(VARVE_EINVAL, 0, "append_buffer_bytes must be 0..1 GiB");
	return 0;
}

/* The template of every partition's configuration. */
static void part_config(const varve_db *db, vv_part_config *pc)
{
	const varve_options *o = &db->env.opts;
	memset(pc, 0, sizeof *pc);
	pc->seg.io = o->io;
	pc->seg.index_interval = o->index_interval_bytes;
	pc->seg.max_batch = VV_MAX_BATCH_READ;
	pc->max_write_batch = o->max_record_bytes;
	pc->seg.file_mode = o->file_mode;
	pc->seg.read_only = o->read_only;
	pc->seg.use_mmap = o->use_mmap && !o->read_only;
	pc->seg.map_span = o->segment_bytes + o->max_record_bytes;
	pc->seg.segment_bytes = o->segment_bytes;
	pc->seg.verify_always = o->verify_every_read || o->read_only;
	pc->seg.read_map = !o->read_with_pread;
	pc->seg.read_cache = db->read_cache;
	pc->segment_bytes = o->segment_bytes;
	pc->segment_ms = o->segment_ms;
	pc->sync_policy = o->sync_policy;
	pc->codec = VARVE_CODEC_NONE;
	pc->dir_mode = o->dir_mode;
	pc->group_commit_wait_us = o->group_commit_wait_us;
	pc->min_free_bytes = o->min_free_bytes;
	/* the buffer never holds what sync=always acknowledges as durable;
	 * mmap mode makes no syscall per append anyway */
	if (o->sync_policy != VARVE_SYNC_ALWAYS && !o->use_mmap && !o->read_only)
		pc->append_buffer_bytes = (uint32_t)o->append_buffer_bytes;
	pc->max_open = (long)o->max_open_files;
	pc->clock_fn = o->clock_fn;
	pc->clock_ctx = o->clock_ctx;
	pc->log_fn = o->log_fn;
	pc->log_ctx = o->log_ctx;
	pc->on_cut = vv_report_add;
	pc->cut_ctx = db->report;
	pc->on_append = vv_notify_on_append;
	pc->append_ctx = db->notify;
}

/* ---- the directory ----------------------------------------------------------- */

/* Format 1 stores open too: format 2 only adds the batch record map, and a
 * writer rewrites VERSION before it writes one. *exists, and the version
 * found in *found (0 without a VERSION file). */
static int check_version(const vv_io_methods *io, const char *path, int *exists, long *found)
{
	*found = 0;
	char vpath[4096];
	snprintf(vpath, sizeof vpath, "%s/%s", path, VERSION_FILE);
	uint8_t *buf;
	size_t n;
	int rc = vv_io_read_small(io, vpath, 64, &buf, &n);
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
	if (v < 1 || v > VARVE_FORMAT_VERSION)
		return vv_error_set(VARVE_EFORMAT, 0,
				    "%s says format %ld; this varve reads formats 1 to %d", vpath, v,
				    VARVE_FORMAT_VERSION);
	*found = v;
	return 0;
}

/* The store directory itself: "<path>/." follows a symlink to it; a missing
 * one is made (writers with create_if_missing). *fresh says it was made. */
static int find_or_make_dir(const char *path, const varve_options *o, int *fresh)
{
	char buf[4096];
	int is_dir = 0;
	*fresh = 0;
	snprintf(buf, sizeof buf, "%s/.", path);
	int rc = vv_io_stat(o->io, buf, NULL, &is_dir);
	if (rc && rc != VARVE_ENOTFOUND && varve_last_error()->sys_errno == ENOTDIR)
		return vv_error_set(VARVE_EINVAL, ENOTDIR, "%s is not a directory", path);
	if (rc == VARVE_ENOTFOUND) {
		/* the name may exist without leading to a directory (a dangling
		 * symlink), or another opener may have just made the directory */
		int kind = 0;
		if (vv_io_stat(o->io, path, NULL, &kind) == 0) {
			if (kind == 1)
				return 0;
			return vv_error_set(VARVE_EINVAL, ENOENT, "%s is a symbolic link to nothing", path);
		}
		vv_error_clear();
	}
	if (rc != VARVE_ENOTFOUND)
		return rc;
	if (o->read_only || !o->create_if_missing)
		return vv_error_set(VARVE_ENOTFOUND, 0, "no store at %s", path);
	rc = vv_io_mkdir(o->io, path, o->dir_mode);
	*fresh = rc == 0;
	if (rc == VARVE_EEXISTS) { /* another opener made it first: fine */
		vv_error_clear();
		rc = 0;
	}
	return rc;
}

/* A directory without VERSION is ours only if nothing but what an
 * interrupted creation leaves is in it (LOCK, VERSION.tmp). This is checked
 * before the lock file is made: a foreign directory is never touched. */
static int check_empty_or_ours(const vv_io_methods *io, const char *path, int *has_version)
{
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(io, path, &names, &n));
	int foreign = 0;
	for (size_t i = 0; i < n && !foreign; i++)
		foreign = strcmp(names[i], LOCK_FILE) && strcmp(names[i], VERSION_FILE ".tmp");
	vv_io_free_list(names, n);
	if (!foreign)
		return 0;
	vv_error_set(VARVE_EFORMAT, 0, "%s is not empty and has no VERSION file: not a varve store",
		     path);
	/* another opener may be creating this store right now: its VERSION
	 * comes before anything else it writes */
	vv_error_saved e;
	vv_error_save(&e);
	long found;
	if (check_version(io, path, has_version, &found) == 0 && *has_version) {
		vv_error_clear();
		return 0;
	}
	vv_error_restore(&e);
	return VARVE_EFORMAT;
}

static int write_version(const char *path, const varve_options *o, int fresh)
{
	char v[16];
	int vl = snprintf(v, sizeof v, "%d\n", VARVE_FORMAT_VERSION);
	VV_TRY(vv_io_write_atomic(o->io, path, VERSION_FILE, v, (size_t)vl, o->file_mode));
	if (!fresh)
		return 0;
	/* the new store directory must survive a crash */
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		return vv_io_sync_dir(o->io, parent);
	}
	return vv_io_sync_dir(o->io, slash ? "/" : ".");
}

/* CLEAN holds a nonce (8 bytes) and its XXH3 (8 bytes); an empty or other
 * CLEAN (older versions wrote it empty) means no segment size lists. */
static uint64_t read_clean_nonce(const vv_io_methods *io, const char *path)
{
	uint8_t *b;
	size_t n;
	uint64_t nonce = 0;
	if (vv_io_read_small(io, path, 64, &b, &n) == 0) {
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

/* Everything up to the subsystems: the directory, VERSION, LOCK, CLEAN,
 * topics/. *clean and *nonce describe the last close. */
static int prepare_dir(varve_db *db, int *clean, uint64_t *nonce)
{
	const char *path = db->env.path;
	const varve_options *o = &db->env.opts;
	char buf[4096];
	int fresh = 0, has_version = 0;
	long version = 0;
	*clean = 0;
	*nonce = 0;
	VV_TRY(find_or_make_dir(path, o, &fresh));
	/* a backup is being written here, or one was interrupted (backup.c) */
	snprintf(buf, sizeof buf, "%s/%s", path, VARVE_BACKUP_MARKER);
	if (vv_io_stat(o->io, buf, NULL, NULL) == 0)
		return vv_error_set(VARVE_EFORMAT, 0, "%s: incomplete backup: run the backup again "
				    "(it holds %s)", path, VARVE_BACKUP_MARKER);
	vv_error_clear();
	/* The format check comes before anything is created or locked. */
	VV_TRY(check_version(o->io, path, &has_version, &version));
	if (!has_version && o->read_only)
		return vv_error_set(VARVE_ENOTFOUND, 0, "%s is not a varve store (no VERSION)", path);
	if (!has_version)
		VV_TRY(check_empty_or_ours(o->io, path, &has_version));
	if (!o->read_only) {
		snprintf(buf, sizeof buf, "%s/%s", path, LOCK_FILE);
		vv_file *lock;
		VV_TRY(vv_io_lock(o->io, buf, o->file_mode, &lock));
		db->lock = lock;
	}
	if (!has_version || (!o->read_only && version < VARVE_FORMAT_VERSION))
		VV_TRY(write_version(path, o, fresh)); /* new, or upgraded before any write */
	snprintf(buf, sizeof buf, "%s/%s", path, CLEAN_FILE);
	*clean = vv_io_stat(o->io, buf, NULL, NULL) == 0;
	if (*clean)
		*nonce = read_clean_nonce(o->io, buf);
	vv_error_clear();
	if (*clean && !o->read_only) {
		/* From here on the store is dirty until a clean close. */
		VV_TRY(vv_io_unlink(o->io, buf));
		VV_TRY(vv_io_sync_dir(o->io, path));
	}
	if (!o->read_only) {
		int rc = vv_io_mkdir(o->io, db->env.topics_dir, o->dir_mode);
		if (rc == 0) /* the new directory must survive a crash */
			VV_TRY(vv_io_sync_dir(o->io, path));
		else if (rc != VARVE_EEXISTS)
			return rc;
	}
	return 0;
}

/* ---- subsystems ----------------------------------------------------------------- */

/* Damage the metadata replay skipped: reported like a recovery cut. If it
 * may have held topic configurations (a topic directory no record names),
 * the open stops: serving those topics, or removing them as leftovers of an
 * interrupted create, would both be wrong. `varve repair` rebuilds the
 * log. Damage that cost commits, attempts or producer ids only is reported
 * and the store opens. */
static int judge_meta_damage(varve_db *db, char **orphans, size_t norphans)
{
	const vv_meta_damage *d;
	size_t nd;
	vv_meta_damaged(db->meta, &d, &nd);
	for (size_t i = 0; i < nd; i++) {
		varve_recovery_cut cut;
		memset(&cut, 0, sizeof cut);
		snprintf(cut.topic, sizeof cut.topic, "%s", VV_META_TOPIC);
		cut.segment_base = d[i].segment_base;
		cut.position = d[i].position;
		cut.first_offset_lost = d[i].from;
		cut.last_offset_lost = d[i].to - 1;
		snprintf(cut.reason, sizeof cut.reason, "unreadable metadata skipped");
		vv_report_add(db->report, &cut);
		vv_env_log(&db->env, VARVE_LOG_ERROR,
			   "metadata log: offsets %" PRId64 "..%" PRId64 " are unreadable (%s); the records "
			   "there are lost: a group whose commit was there falls back to its earlier "
			   "commit (or its reset policy)",
			   d[i].from, d[i].to - 1, d[i].detail);
	}
	if (!nd || !norphans)
		return 0;
	char names[512] = "";
	for (size_t i = 0; i < norphans; i++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
			 orphans[i]);
	return vv_error_set(VARVE_ECORRUPT, 0,
			    "the metadata log is damaged (%s) and topics %s have no configuration: "
			    "their data is kept; `varve repair %s` rebuilds the metadata log",
			    d[0].detail, names, db->env.path);
}

/* Open the topics the metadata replay named; damage the replay skipped may
 * stop the open (judge_meta_damage). */
static int load_topics(varve_db *db, int clean)
{
	const vv_meta_damage *d;
	size_t nd, norphans = 0;
	char **orphans = NULL;
	vv_meta_damaged(db->meta, &d, &nd);
	int rc = vv_topics_load(db->topics, clean, nd > 0, &orphans, &norphans);
	if (rc)
		goto out;
	rc = judge_meta_damage(db, orphans, norphans);
out:
	varve_strings_free(orphans, norphans);
	return rc;
}

static int open_subsystems(varve_db *db, int clean, uint64_t nonce)
{
	const varve_options *o = &db->env.opts;
	VV_TRY(vv_notify_new(&db->notify));
	vv_part_config pc;
	part_config(db, &pc);
	vv_part_config mc = pc;
	mc.clean_nonce = o->read_only ? 0 : nonce;
	mc.segment_bytes = 1u << 20; /* small, so compaction can keep it small */
	mc.seg.map_span = mc.segment_bytes + mc.max_write_batch;
	mc.seg.segment_bytes = mc.segment_bytes;
	mc.on_append = NULL;
	mc.append_buffer_bytes = 0; /* metadata is written through */
	/* metadata (commits, topic changes) may use the reserve */
	mc.min_free_bytes = o->min_free_bytes / 2;
	char mdir[4096];
	snprintf(mdir, sizeof mdir, "%s/meta", db->env.path);
	VV_TRY(vv_meta_open(mdir, &mc, clean, &db->meta));
	pc.clean_nonce = o->read_only ? 0 : nonce; /* for the opens at load only */
	VV_TRY(vv_topics_new(&db->env, db->meta, &pc, &db->topics));
	VV_TRY(vv_groups_new(db->meta, &db->groups));
	VV_TRY(vv_producers_new(db->meta, &db->producers));
	VV_TRY(vv_meta_replay(db->meta));
	VV_TRY(load_topics(db, clean));
	VV_TRY(vv_offsets_clamp(db));
	VV_TRY(vv_async_new(&db->env, &db->async));
	if (!o->read_only) {
		vv_cleaner_hooks hooks = { vv_offsets_retention_floor,
					   (void (*)(void *))vv_offsets_check_lag, db };
		VV_TRY(vv_cleaner_new(&db->env, db->topics, db->meta, &hooks, &db->cleaner));
		if (o->start_cleaner)
			VV_TRY(vv_cleaner_start(db->cleaner));
	}
	return 0;
}

/* Take every subsystem down, in reverse order of their creation. */
static int close_subsystems(varve_db *db, int clean)
{
	vv_async_free(db->async); /* every async callback fires first */
	db->async = NULL;
	vv_cleaner_free(db->cleaner);
	db->cleaner = NULL;
	vv_producers_free(db->producers);
	vv_groups_free(db->groups);
	/* each topic's last reference closes its partitions (sync + recovery point) */
	vv_topics_free(db->topics, clean);
	int rc = vv_meta_close(db->meta, clean);
	vv_notify_free(db->notify);
	db->producers = NULL;
	db->groups = NULL;
	db->topics = NULL;
	db->meta = NULL;
	db->notify = NULL;
	return rc;
}

static void free_db(varve_db *db)
{
	vv_corrupt_sink_remove(db->corrupt_sink);
	vv_io_close(db->lock);
	vv_report_free(db->report);
	vv_postab_budget_free(db->read_cache); /* segments still held keep it */
	vv_free(db->env.topics_dir);
	vv_free(db->env.path);
	vv_free(db);
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
	VV_TRY(vv_abi_read(&vv_abi_options, opts, &o));
	VV_TRY(check_options(&o));
	varve_db *db = vv_calloc(1, sizeof *db);
	if (!db)
		return vv_error_set(VARVE_ENOMEM, 0, "store handle");
	db->env.opts = o;
	db->env.read_only = o.read_only;
	db->env.path = vv_strdup(path);
	char buf[4096];
	snprintf(buf, sizeof buf, "%s/topics", path);
	db->env.topics_dir = vv_strdup(buf);
	int rc, clean = 0;
	uint64_t nonce = 0;
	if (!db->env.path || !db->env.topics_dir) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "store handle");
		goto fail;
	}
	if ((rc = vv_report_new(&db->report)) != 0)
		goto fail;
	db->read_cache = vv_postab_budget_new(o.read_cache_bytes == 0 ? VV_POSTAB_DEFAULT_LIMIT
				      : o.read_cache_bytes < 0 ? 0 : (uint64_t)o.read_cache_bytes);
	if (!db->read_cache) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "store handle");
		goto fail;
	}
	/* damage found anywhere under the store reaches its log callback */
	if ((rc = vv_corrupt_sink_add(path, o.log_fn, o.log_ctx, &db->corrupt_sink)) != 0)
		goto fail;
	if ((rc = prepare_dir(db, &clean, &nonce)) != 0)
		goto fail;
	if ((rc = open_subsystems(db, clean, nonce)) != 0)
		goto fail;
	vv_env_log(&db->env, VARVE_LOG_INFO, "opened %s (%s%s)", path,
		   o.read_only ? "read-only" : "writer", clean ? ", clean" : ", recovered");
	*db_out = db;
	return 0;
fail:;
	vv_error_saved e;
	vv_error_save(&e);
	close_subsystems(db, 0);
	free_db(db);
	vv_error_restore(&e);
	return rc;
}

/* A failed fsync leaves a partition failed: its unsynced data may be lost. */
static int check_failed(varve_db *db)
{
	vv_topic **ts;
	size_t n;
	if (vv_topics_snapshot(db->topics, &ts, &n)) {
		vv_error_clear();
		return 0;
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < ts[i]->nparts; k++)
			if (atomic_load(&ts[i]->parts[k]->failed)) {
				rc = vv_error_set(VARVE_EIO, 0,
						  "partition %s/%u failed an fsync: its unsynced data "
						  "may be lost", ts[i]->name, k);
				goto out;
			}
out:
	vv_topics_release(ts, n);
	return rc;
}

/* A clean close leaves each partition a segment size list carrying this
 * close's nonce, and the nonce in CLEAN, written (fsynced) after them. */
static void set_close_nonce(varve_db *db, uint64_t nonce)
{
	vv_topic **ts;
	size_t n;
	if (vv_topics_snapshot(db->topics, &ts, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			for (uint32_t k = 0; k < ts[i]->nparts; k++)
				ts[i]->parts[k]->close_nonce = nonce;
		vv_topics_release(ts, n);
	}
	vv_error_clear();
	vv_meta_partition(db->meta)->close_nonce = nonce;
}

int varve_close(varve_db *db)
{
	if (!db)
		return 0;
	vv_async_free(db->async); /* every async callback fires before close goes on */
	db->async = NULL;
	vv_cleaner_free(db->cleaner);
	db->cleaner = NULL;
	long handles = atomic_load(&db->open_handles);
	if (handles)
		vv_env_log(&db->env, VARVE_LOG_WARN,
			   "varve_close with %ld iterators or consumers still open", handles);
	vv_first_error first = VV_FIRST_ERROR_INIT;
	vv_first_error_note(&first, check_failed(db));
	/* CLEAN only after a close where nothing failed and no handle is left */
	int mark_clean = !db->env.read_only && !first.rc && handles == 0;
	uint64_t nonce = 0;
	if (mark_clean) {
		nonce = new_clean_nonce(db);
		set_close_nonce(db, nonce);
	}
	vv_first_error_note(&first, close_subsystems(db, 1));
	if (mark_clean && !first.rc) {
		uint8_t cb[16];
		vv_store64(cb, nonce);
		vv_store64(cb + 8, XXH3_64bits(cb, 8));
		vv_first_error_note(&first, vv_io_write_atomic(db->env.opts.io, db->env.path, CLEAN_FILE,
							       cb, sizeof cb, db->env.opts.file_mode));
	}
	free_db(db);
	return vv_first_error_end(&first);
}

int varve_sync(varve_db *db)
{
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->env.read_only)
		return 0;
	vv_topic **ts;
	size_t n;
	VV_TRY(vv_topics_snapshot(db->topics, &ts, &n));
	vv_first_error first = VV_FIRST_ERROR_INIT; /* one failed partition does not stop the others */
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < ts[i]->nparts; k++)
			vv_first_error_note(&first, vv_partition_sync(ts[i]->parts[k]));
	vv_topics_release(ts, n);
	vv_first_error_note(&first, vv_partition_sync(vv_meta_partition(db->meta)));
	return vv_first_error_end(&first);
}

int varve_recovery_cuts(varve_db *db, const varve_recovery_cut **cuts_out, size_t *count_out)
{
	if (!db || !cuts_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	vv_report_get(db->report, cuts_out, count_out);
	return 0;
}

int varve_stats_get(varve_db *db, varve_stats *stats_out)
{
	if (!db || !stats_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_abi_check(&vv_abi_stats, stats_out->version));
	/* filled whole here, written up to the caller's version */
	varve_stats all = { .version = VARVE_STATS_VERSION }, *s = &all;
	vv_topic **ts;
	size_t n;
	VV_TRY(vv_topics_snapshot(db->topics, &ts, &n));
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < ts[i]->nparts; k++) {
			s->appends += atomic_load(&ts[i]->parts[k]->appends);
			s->appended_bytes += atomic_load(&ts[i]->parts[k]->appended_bytes);
		}
	vv_topics_release(ts, n);
	vv_io_counters io;
	vv_io_counters_get(&io);
	s->fsyncs = io.datasyncs;
	s->fsync_ns = io.datasync_ns;
	s->dir_syncs = io.dir_syncs;
	vv_cleaner_stats(db->cleaner, s);
	s->lag_alerts = vv_offsets_lag_alerts(db);
	s->inflight_bytes = vv_async_inflight(db->async);
	s->backpressure_waits = vv_async_backpressure_waits(db->async);
	s->read_cache_bytes = vv_postab_budget_used(db->read_cache);
	return vv_abi_write(&vv_abi_stats, stats_out, s);
}
