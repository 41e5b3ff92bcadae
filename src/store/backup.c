/* SPDX-License-Identifier: MIT */
/*
 * backup.c -- varve_backup: an online copy of a store that is itself a
 * store. The store may be in use (appends, retention, compaction) and the
 * handle may be a writer or read-only (`varve backup` beside a running
 * writer). May call every layer below store (it is the composition root's
 * sibling); it uses registry, meta, partition, segment, sizes, io.
 *
 * CONSISTENCY: ORDER
 *  1. The metadata log is copied first, like any partition: up to its
 *     durable end. Then the topic list is read from the COPY (not from the
 *     live registry), and each of those topics' partitions is copied up to
 *     its durable end at that later moment. A commit is only written for
 *     data that is already durable (sync=none: written), so no commit in
 *     the copy points past the copied data, and every topic the copy names
 *     has its configuration. Topics created after the metadata copy are not
 *     in it and are not copied.
 *  2. "Durable end" of a partition: its durable offset under sync=always
 *     and interval; under sync=none what the writer has written (its end
 *     offset); for a read-only handle, the end it sees. It is read BEFORE
 *     the partition's segments are listed, so every segment holding an
 *     offset below it is in the listing (a roll only adds segments past
 *     the end).
 *  3. A topic of the copy that the store no longer has (deleted while the
 *     backup ran) is not an error: its deletion is appended to the copy's
 *     metadata log (a tombstone), so the copy says what the store says, and
 *     the report counts it.
 *
 * CONSISTENCY: THE SEGMENTS
 *  4. A partition is copied from a referenced listing of its segments
 *     (vv_partition_segments). A referenced segment's files stay on disk
 *     (retention unlinks with the last reference), and a segment that
 *     compaction replaced keeps its open descriptors: the swap opens the old
 *     segments before it renames anything, and marks them replaced before
 *     the names change (swap.c). So the content always comes from the
 *     listed segment's own descriptor.
 *  5. Hard links go by name, and a name may hold another version (the
 *     compacted one). After each link the destination's inode is compared
 *     with the listed segment's descriptor; a mismatch (or ENOENT) removes
 *     the link and the segment is copied from its descriptor instead.
 *  6. A read-only handle's view goes stale (its process does not see the
 *     writer's swaps), so read-only handles copy from a fresh read-only
 *     open of each partition. That view is not protected by references: the
 *     writer may delete a file or rename another one over its name (a swap,
 *     even to an empty segment) between the view's listing and the copy.
 *     So the inode under each segment name is noted BEFORE the view opens,
 *     and every segment copied must come from a descriptor of that inode
 *     (sealed ones also of the size the view took); a segment named after
 *     that listing must be newer than all of it (a roll). Anything else,
 *     and a file that is gone (beyond the oldest ones, which retention
 *     removed: the log then starts later), makes the partition start again
 *     from a new listing, after a short pause (a swap or a roll under way
 *     finishes); MAX_ATTEMPTS listings in a row that get no further fail
 *     with VARVE_EBUSY. To keep the time a listing must survive short,
 *     segments are pinned (opened and checked) PIN_WINDOW at a time before
 *     any of them is copied: the writer's compaction may swap every
 *     segment of a partition in each round, and copying takes far longer
 *     than opening. A view sizes sealed segments by their files, and a
 *     writer that is rolling has not yet cut the zeros preallocated after
 *     the last batch: a sealed segment must end with a whole batch, else it
 *     is copied up to its valid end when only zeros follow.
 *
 * WHAT IS COPIED, PER PARTITION
 *  7. Sealed segments whole: hard-linked when the destination is on the same
 *     file system (they never change; the first EXDEV switches the rest of
 *     the backup to copies), copied otherwise or when the file is longer
 *     than its data (a seal that could not trim). The segment holding the
 *     durable end is copied up to it, never linked (it is appended to), and
 *     never past it: preallocated zeros are never copied. Index files go
 *     with their log (linked with a linked log, else copied; for the cut
 *     segment only the entries below the cut). cleaner-checkpoint and
 *     producer-snapshot are copied before the listing (an older one only
 *     costs work: more to compact, more to replay). segment-sizes and the
 *     files of an interrupted swap are never copied.
 *  8. A fresh recovery point: offset = the copied end, the last copied
 *     segment and its copied size, the log start. With it the copy opens
 *     without a scan and without a recovery cut. The copy gets a CLEAN file
 *     with a new nonce and a segment-sizes list per partition carrying it
 *     (the recovery points are exact and the sizes are the files' sizes),
 *     so it opens like a cleanly closed store.
 *
 * INCREMENTAL AND REPAIR
 *  9. A segment already in the destination is kept when it is the same
 *     file (same inode: a link made earlier), or when it has the size to
 *     copy and the same first batch header and last 4 KiB. A shorter one
 *     with the same head and tail bytes gets only the new tail (never a
 *     file with another name on it: nlink must be 1). Anything else is
 *     replaced. Destination files that the listing does not name (segments
 *     retention or compaction removed, leftovers) are removed, and so are
 *     topics and partitions the copied metadata does not name.
 * 10. The destination is marked incomplete (VARVE_BACKUP_MARKER, created
 *     and synced first, removed and synced last); varve_open refuses such a
 *     store. Everything written is synced before the marker goes: one
 *     syncfs of the destination's file system at the end covers the data of
 *     every copy and every linked file (whose blocks the store may not have
 *     synced, under sync=none), and whatever an interrupted run left; the
 *     directories of partitions that changed are synced. (An fdatasync per file
 *     made each segment cost a disk flush, and a read-only view lives only
 *     as long as no swap invalidates it.) A backup that died is
 *     finished by the next one: every decision above compares the
 *     destination with the source, nothing trusts what an interrupted run
 *     left. The destination's LOCK is held meanwhile (no writer opens it;
 *     no second backup runs into it).
 *
 * A hard-linked segment shares its blocks with the store: a media failure
 * hits both. copy_only (or another file system) makes independent copies.
 *
 * COMPANION FILES
 * 11. The files `varve serve` keeps beside the store (its cluster id, SCRAM
 *     users, ACLs and quotas) are copied whole at the end, so a restored
 *     copy serves the same cluster to the same principals; the three that
 *     hold credentials or policy are written owner-only (0600), as the
 *     server writes them. One missing from the store is removed from the
 *     copy. SERVER (the address of a running server) is not copied.
 */
#include "backup_int.h"

void vv_bk_say(const bk *b, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (b->o.log_fn)
		b->o.log_fn(b->o.log_ctx, level, msg);
	else
		vv_env_log(&b->db->env, level, "%s", msg);
}

void vv_bk_progress(bk *b, const char *topic, uint32_t part)
{
	if (!b->o.progress_fn)
		return;
	b->pg.topic = topic;
	b->pg.partition = (int32_t)part;
	b->pg.bytes_linked = b->rep->bytes_linked;
	b->pg.bytes_copied = b->rep->bytes_copied;
	b->o.progress_fn(b->o.progress_ctx, &b->pg);
}

int vv_bk_path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		return vv_error_set(VARVE_EINVAL, 0, "path too long: %.200s...", out);
	return 0;
}

void vv_bk_unlink_quiet(const vv_io_methods *io, const char *path)
{
	(void)vv_io_unlink(io, path);
	vv_error_clear();
}

int vv_bk_same_file(const vv_file_info *a, const vv_file_info *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* Cut path to its parent directory ("." for a bare name). */
static void parent_dir(char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = 0;
	char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(path, 2, ".");
	else if (slash == path)
		path[1] = 0;
	else
		*slash = 0;
}

/* A directory that survives a crash: made if missing, its parent synced. */
int vv_bk_make_dir(const bk *b, const char *dir)
{
	int rc = vv_io_mkdir(b->io, dir, b->dir_mode);
	if (rc == VARVE_EEXISTS) {
		vv_error_clear();
		return 0;
	}
	VV_TRY(rc);
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", dir);
	parent_dir(parent);
	return vv_io_sync_dir(b->io, parent);
}

/* ---- topics ------------------------------------------------------------- */

static int on_topic_record(void *ctx, const vv_meta_rec *r, int live)
{
	(void)live;
	bk *b = ctx;
	named_topic *t = NULL;
	for (size_t i = 0; i < b->tn && !t; i++)
		if (!strcmp(b->tv[i].name, r->name))
			t = &b->tv[i];
	if (!t) {
		if (b->tn == b->tcap) {
			size_t nc = b->tcap ? b->tcap * 2 : 16;
			named_topic *nv = vv_realloc(b->tv, nc * sizeof *nv);
			if (!nv)
				return vv_error_set(VARVE_ENOMEM, 0, "backup topic list");
			b->tv = nv;
			b->tcap = nc;
		}
		t = &b->tv[b->tn++];
		memset(t, 0, sizeof *t);
		snprintf(t->name, sizeof t->name, "%s", r->name);
	}
	t->live = !r->deleted;
	if (!r->deleted) {
		t->partitions = r->cfg.partitions;
		t->created_ms = r->time;
	}
	return 0;
}

/* The topics the COPIED metadata log names (design note 1). */
static int read_topics(bk *b)
{
	char dir[4096];
	VV_TRY(vv_bk_path_fmt(dir, sizeof dir, "%s/meta", b->dst));
	vv_meta *m;
	VV_TRY(vv_meta_open(dir, &b->ro_cfg, 1, &m));
	vv_meta_subscribe(m, VV_META_TOPIC_CONFIG, on_topic_record, b, 0);
	int rc = vv_meta_replay(m);
	vv_error_saved e;
	vv_error_save(&e);
	(void)vv_meta_close(m, 0); /* opened read-only: nothing to lose */
	vv_error_restore(&e);
	VV_TRY(rc);
	size_t k = 0;
	for (size_t i = 0; i < b->tn; i++)
		if (b->tv[i].live && b->tv[i].partitions > 0)
			b->tv[k++] = b->tv[i];
	b->tn = k;
	b->pg.partitions_total = 1;
	for (size_t i = 0; i < b->tn; i++)
		b->pg.partitions_total += b->tv[i].partitions;
	return 0;
}

/* The writer's own topic for t, if it is the same topic (the same
 * creation) with at least t's partitions; NULL if not. *gone: it is
 * another one now (t was deleted and created again). */
static vv_topic *live_topic(bk *b, const named_topic *t, int *gone)
{
	vv_topic *lt;
	if (b->db->env.read_only || vv_topics_find(b->db->topics, t->name, &lt)) {
		vv_error_clear();
		return NULL;
	}
	if (lt->created_ms == t->created_ms && atomic_load(&lt->nparts) >= t->partitions)
		return lt;
	*gone = lt->created_ms != t->created_ms;
	vv_topic_unref(lt);
	return NULL;
}

/* Partition directories of a copied topic that it no longer has. */
static int prune_topic(const vv_io_methods *io, const named_topic *t, const char *ddir)
{
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(io, ddir, &names, &n));
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *end;
		unsigned long k = strtoul(names[i], &end, 10);
		char want[16];
		snprintf(want, sizeof want, "%lu", k);
		if (*end == 0 && !strcmp(want, names[i]) && k < t->partitions)
			continue;
		char path[4096];
		if ((rc = vv_bk_path_fmt(path, sizeof path, "%s/%s", ddir, names[i])) != 0 ||
		    (rc = vv_io_remove_tree(io, path)) != 0)
			goto out;
	}
out:
	vv_io_free_list(names, n);
	return rc;
}

static int backup_topic(bk *b, named_topic *t)
{
	char sdir[4096], ddir[4096];
	VV_TRY(vv_bk_path_fmt(sdir, sizeof sdir, "%s/topics/%s", b->src, t->name));
	VV_TRY(vv_bk_path_fmt(ddir, sizeof ddir, "%s/topics/%s", b->dst, t->name));
	int gone = 0;
	vv_topic *lt = live_topic(b, t, &gone);
	/* partitions are only ever added: nparts was loaded first (topic.h) */
	vv_partition **parts = lt ? atomic_load(&lt->parts) : NULL;
	int rc = gone ? 0 : vv_bk_make_dir(b, ddir);
	if (rc)
		goto out;
	for (uint32_t k = 0; !gone && k < t->partitions; k++) {
		char sp[4200], dp[4200];
		snprintf(sp, sizeof sp, "%s/%u", sdir, k);
		snprintf(dp, sizeof dp, "%s/%u", ddir, k);
		rc = vv_bk_partition(b, parts ? parts[k] : NULL, sp, t->name, k, dp, &gone);
		if (rc)
			goto out;
	}
out:
	if (lt)
		vv_topic_unref(lt);
	VV_TRY(rc);
	if (!gone) {
		VV_TRY(prune_topic(b->io, t, ddir));
		b->rep->topics++;
		return 0;
	}
	t->vanished = 1;
	b->rep->topics_vanished++;
	vv_bk_say(b, VARVE_LOG_WARN, "backup: topic %s was deleted while the backup ran; the copy "
	    "records its deletion", t->name);
	return vv_io_remove_tree(b->io, ddir);
}

/* Topic directories of the destination that the copy does not name. */
static int prune_topics(bk *b, const char *tdir)
{
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(b->io, tdir, &names, &n));
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int keep = 0;
		for (size_t k = 0; k < b->tn && !keep; k++)
			keep = !b->tv[k].vanished && !strcmp(b->tv[k].name, names[i]);
		if (keep)
			continue;
		char path[4096];
		if ((rc = vv_bk_path_fmt(path, sizeof path, "%s/%s", tdir, names[i])) != 0 ||
		    (rc = vv_io_remove_tree(b->io, path)) != 0)
			goto out;
	}
out:
	vv_io_free_list(names, n);
	VV_TRY(rc);
	return vv_io_sync_dir(b->io, tdir);
}

static int backup_topics(bk *b)
{
	char tdir[4096];
	VV_TRY(vv_bk_path_fmt(tdir, sizeof tdir, "%s/topics", b->dst));
	VV_TRY(vv_bk_make_dir(b, tdir));
	for (size_t i = 0; i < b->tn; i++)
		VV_TRY(backup_topic(b, &b->tv[i]));
	return prune_topics(b, tdir);
}

/* Topics deleted while the backup ran: their deletion goes into the copy's
 * metadata log (design note 3), which closes as a clean close would. */
static int record_vanished(bk *b)
{
	size_t nv = 0;
	for (size_t i = 0; i < b->tn; i++)
		nv += (size_t)b->tv[i].vanished;
	if (!nv)
		return 0;
	char dir[4096];
	VV_TRY(vv_bk_path_fmt(dir, sizeof dir, "%s/meta", b->dst));
	vv_part_config pc = b->ro_cfg;
	pc.seg.read_only = 0;
	pc.seg.verify_always = 0;
	vv_meta *m;
	VV_TRY(vv_meta_open(dir, &pc, 1, &m));
	vv_meta_batch batch;
	vv_meta_batch_init(&batch);
	int rc = 0;
	vv_meta_rec *r = vv_calloc(1, sizeof *r);
	if (!r) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "backup");
		goto out;
	}
	for (size_t i = 0; i < b->tn; i++) {
		if (!b->tv[i].vanished)
			continue;
		memset(r, 0, sizeof *r);
		r->kind = VV_META_TOPIC_CONFIG;
		r->deleted = 1;
		snprintf(r->name, sizeof r->name, "%s", b->tv[i].name);
		if ((rc = vv_meta_batch_add(&batch, r)) != 0)
			goto out;
	}
	rc = vv_meta_write(m, &batch, 1);
out:
	vv_meta_batch_free(&batch);
	vv_free(r);
	vv_meta_partition(m)->close_nonce = b->nonce; /* its size list, like the others' */
	/* closed cleanly only when the write went through; the first failure wins */
	vv_first_error first = VV_FIRST_ERROR_INIT;
	vv_first_error_note(&first, rc);
	vv_first_error_note(&first, vv_meta_close(m, rc == 0));
	return vv_first_error_end(&first);
}

/* ---- the destination ------------------------------------------------------ */

/* Is dir the store, or inside it? */
static int inside_store(const vv_io_methods *io, const char *dir, const vv_file_info *store)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", dir);
	vv_file_info prev = { 0, 0, 0, 0 };
	for (int depth = 0; depth < 256; depth++) {
		vv_file_info cur;
		size_t l = strlen(p);
		if (l + 4 >= sizeof p || vv_bk_path_fmt(p + l, sizeof p - l, "/.") ||
		    vv_io_path_info(io, p, &cur)) {
			vv_error_clear();
			return 0;
		}
		if (vv_bk_same_file(&cur, store))
			return 1;
		if (depth && vv_bk_same_file(&cur, &prev))
			return 0; /* the root */
		prev = cur;
		p[l] = 0;
		if (vv_bk_path_fmt(p + l, sizeof p - l, "/..")) {
			vv_error_clear();
			return 0;
		}
	}
	return 0;
}

/* Empty (but for LOCK and a file system's lost+found), or an earlier
 * backup: 1 backup, 0 empty, or VARVE_EEXISTS. *interrupted: the marker. */
static int judge_dest(const bk *b, int *interrupted)
{
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(b->io, b->dst, &names, &n));
	int backup = 0, other = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(names[i], VARVE_BACKUP_MARKER))
			*interrupted = backup = 1;
		else if (!strcmp(names[i], BACKUP_FILE))
			backup = 1;
		else if (strcmp(names[i], "LOCK") && strcmp(names[i], "lost+found"))
			other = 1;
	}
	vv_io_free_list(names, n);
	if (other && !backup)
		return vv_error_set(VARVE_EEXISTS, 0,
				    "%s is not empty and is not a varve backup: refusing to "
				    "write into it", b->dst);
	return backup;
}

/* Check, lock and mark the destination (design note 10). */
static int begin(bk *b)
{
	char p[4096];
	vv_file_info store, dest;
	VV_TRY(vv_bk_path_fmt(p, sizeof p, "%s/.", b->src));
	VV_TRY(vv_io_path_info(b->io, p, &store));
	VV_TRY(vv_bk_path_fmt(p, sizeof p, "%s/.", b->dst));
	int rc = vv_io_path_info(b->io, p, &dest);
	int missing = rc == VARVE_ENOTFOUND;
	if (rc && !missing)
		return rc;
	vv_error_clear();
	/* a missing one is judged by its parent: nothing is made in the store */
	snprintf(p, sizeof p, "%s", b->dst);
	if (missing)
		parent_dir(p);
	if (inside_store(b->io, p, &store))
		return vv_error_set(VARVE_EINVAL, 0, "backup destination %s is the store %s or inside it",
				    b->dst, b->src);
	if (missing)
		VV_TRY(vv_bk_make_dir(b, b->dst));
	int interrupted = 0;
	VV_TRY(judge_dest(b, &interrupted));
	VV_TRY(vv_bk_path_fmt(p, sizeof p, "%s/LOCK", b->dst));
	VV_TRY(vv_io_lock(b->io, p, b->file_mode, &b->lock));
	b->rep->repaired = interrupted;
	if (interrupted)
		vv_bk_say(b, VARVE_LOG_INFO, "backup: %s holds an interrupted backup; finishing it", b->dst);
	static const char mark[] = "a varve backup is being written here; it is not usable until "
				   "one completes\n";
	VV_TRY(vv_io_write_atomic(b->io, b->dst, VARVE_BACKUP_MARKER, mark, sizeof mark - 1, b->file_mode));
	char v[16];
	int vl = snprintf(v, sizeof v, "%d\n", VARVE_FORMAT_VERSION);
	return vv_io_write_atomic(b->io, b->dst, "VERSION", v, (size_t)vl, b->file_mode);
}

/* Everything on the destination's file system to disk (design note 10),
 * then CLEAN (the nonce of the size lists), BACKUP, and the marker last. */
static int finish(bk *b)
{
	char p[4096];
	vv_file *f;
	VV_TRY(vv_bk_path_fmt(p, sizeof p, "%s/VERSION", b->dst));
	VV_TRY(vv_io_open(b->io, p, VV_O_RDONLY, 0, &f));
	int rc = vv_io_syncfs(f);
	vv_error_saved e;
	vv_error_save(&e);
	(void)vv_io_close(f); /* opened read-only: nothing to lose */
	vv_error_restore(&e);
	VV_TRY(rc);
	uint8_t cb[16];
	vv_store64(cb, b->nonce);
	vv_store64(cb + 8, XXH3_64bits(cb, 8));
	VV_TRY(vv_io_write_atomic(b->io, b->dst, "CLEAN", cb, sizeof cb, b->file_mode));
	char text[3400];
	int n = snprintf(text, sizeof text, "varve backup of %s\nformat %d\nfinished %" PRId64 "\n",
			 b->src, VARVE_FORMAT_VERSION, vv_now_ms());
	if (n < 0 || (size_t)n >= sizeof text)
		n = (int)sizeof text - 1;
	VV_TRY(vv_io_write_atomic(b->io, b->dst, BACKUP_FILE, text, (size_t)n, b->file_mode));
	VV_TRY(vv_bk_path_fmt(p, sizeof p, "%s/%s", b->dst, VARVE_BACKUP_MARKER));
	VV_TRY(vv_io_unlink(b->io, p));
	return vv_io_sync_dir(b->io, b->dst);
}

/* ---- companion files (design note 11) ------------------------------------- */

#define COMPANION_MAX (64u << 20) /* an ACL file of a million lines fits */

static const struct companion {
	const char *name;
	int secret; /* owner-only in the copy */
} companions[] = {
	{ "CLUSTER_ID", 0 },
	{ "users", 1 },
	{ "acls", 1 },
	{ "quotas", 1 },
};

static int put_companion(bk *b, const struct companion *c)
{
	char sp[4096], dp[4096];
	VV_TRY(vv_bk_path_fmt(sp, sizeof sp, "%s/%s", b->src, c->name));
	VV_TRY(vv_bk_path_fmt(dp, sizeof dp, "%s/%s", b->dst, c->name));
	vv_file *f;
	int rc = vv_io_open(b->io, sp, VV_O_RDONLY, 0, &f);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		vv_bk_unlink_quiet(b->io, dp);
		return 0;
	}
	VV_TRY(rc);
	uint8_t *data = NULL;
	vv_file_info si;
	if ((rc = vv_io_info(f, &si)) != 0)
		goto out;
	if (si.size > COMPANION_MAX) {
		rc = vv_error_set(VARVE_EINVAL, 0, "%s: larger than %u MiB", sp, COMPANION_MAX >> 20);
		goto out;
	}
	data = vv_malloc(si.size ? (size_t)si.size : 1);
	if (!data) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "backup of %s", sp);
		goto out;
	}
	if ((rc = vv_io_pread_full(f, data, (size_t)si.size, 0)) != 0)
		goto out;
	unsigned mode = c->secret ? (b->file_mode & 0600u) : b->file_mode;
	rc = vv_io_write_atomic(b->io, b->dst, c->name, data, (size_t)si.size, mode);
	if (rc == 0)
		b->rep->bytes_copied += si.size;
out:
	vv_free(data);
	(void)vv_io_close(f); /* opened read-only: nothing to lose */
	return rc;
}

static int backup_companions(bk *b)
{
	for (size_t i = 0; i < sizeof companions / sizeof companions[0]; i++)
		VV_TRY(put_companion(b, &companions[i]));
	return 0;
}

/* ---- entry points --------------------------------------------------------- */

static int backup_meta(bk *b)
{
	char sdir[4096], ddir[4096];
	VV_TRY(vv_bk_path_fmt(sdir, sizeof sdir, "%s/meta", b->src));
	VV_TRY(vv_bk_path_fmt(ddir, sizeof ddir, "%s/meta", b->dst));
	vv_partition *live = b->db->env.read_only ? NULL : vv_meta_partition(b->db->meta);
	int gone = 0;
	VV_TRY(vv_bk_partition(b, live, sdir, VV_META_TOPIC, 0, ddir, &gone));
	if (gone)
		return vv_error_set(VARVE_ENOTFOUND, 0, "%s has no metadata log", b->src);
	return 0;
}

static void setup(bk *b, varve_db *db)
{
	const varve_options *o = &db->env.opts;
	b->db = db;
	b->src = db->env.path;
	b->io = o->io;
	b->link_ok = !b->o.copy_only;
	b->file_mode = o->file_mode;
	b->dir_mode = o->dir_mode;
	vv_part_config *pc = &b->ro_cfg;
	memset(pc, 0, sizeof *pc);
	pc->seg = (vv_seg_config){ .index_interval = o->index_interval_bytes,
				   .max_batch = VV_MAX_BATCH_READ, .file_mode = o->file_mode,
				   .read_only = 1, .verify_always = 1,
				   .segment_bytes = 1u << 20, .io = o->io };
	pc->max_write_batch = o->max_record_bytes;
	pc->segment_bytes = 1u << 20; /* the metadata log's (record_vanished) */
	pc->sync_policy = VARVE_SYNC_ALWAYS;
	pc->codec = VARVE_CODEC_NONE;
	pc->dir_mode = o->dir_mode;
	pc->log_fn = o->log_fn;
	pc->log_ctx = o->log_ctx;
	struct {
		uint64_t mono;
		int64_t real;
		const void *b;
		long pid;
	} seed = { vv_mono_ns(), vv_now_ms(), (const void *)b, (long)getpid() };
	b->nonce = XXH3_64bits(&seed, sizeof seed);
	if (!b->nonce)
		b->nonce = 1;
}

int varve_backup_options_init(varve_backup_options *o, unsigned int version)
{
	if (!o)
		return vv_error_set(VARVE_EINVAL, 0, "varve_backup_options_init: opts is NULL");
	const varve_backup_options d = VARVE_BACKUP_OPTIONS_INIT;
	return vv_abi_init(&vv_abi_backup_options, o, version, &d);
}

static int check_args(varve_db *db, const char *dest, const varve_backup_report *rep)
{
	if (!db || !dest || !*dest)
		return vv_error_set(VARVE_EINVAL, 0, "backup needs a store and a destination");
	if (strlen(dest) > 3000)
		return vv_error_set(VARVE_EINVAL, 0, "backup destination path too long");
	if (rep)
		VV_TRY(vv_abi_check(&vv_abi_backup_report, rep->version));
	return 0;
}

/* The steps of a backup, in order (design note 1). */
static int run_backup(bk *b)
{
	b->buf = vv_malloc(COPY_CHUNK);
	if (!b->buf)
		return vv_error_set(VARVE_ENOMEM, 0, "backup buffer");
	VV_TRY(begin(b));
	VV_TRY(backup_meta(b));
	VV_TRY(read_topics(b));
	VV_TRY(backup_topics(b));
	VV_TRY(record_vanished(b));
	VV_TRY(backup_companions(b));
	return finish(b);
}

int varve_backup(varve_db *db, const char *dest, const varve_backup_options *opts,
		 varve_backup_report *report_out)
{
	VV_TRY(check_args(db, dest, report_out));
	bk b;
	memset(&b, 0, sizeof b);
	b.o = (varve_backup_options)VARVE_BACKUP_OPTIONS_INIT;
	VV_TRY(vv_abi_read(&vv_abi_backup_options, opts, &b.o));
	/* filled whole here, written up to the caller's version, also on failure */
	varve_backup_report full = { .version = VARVE_BACKUP_REPORT_VERSION };
	varve_backup_report *rep = &full;
	b.rep = rep;
	snprintf(b.dst, sizeof b.dst, "%s", dest);
	setup(&b, db);
	uint64_t t0 = vv_mono_ns();
	int rc = run_backup(&b);
	rep->partitions = b.pg.partitions_done;
	rep->elapsed_ms = (vv_mono_ns() - t0) / 1000000u;
	if (report_out)
		(void)vv_abi_write(&vv_abi_backup_report, report_out, rep); /* version checked */
	if (rc == 0)
		vv_bk_progress(&b, NULL, 0);
	vv_error_saved e;
	vv_error_save(&e);
	vv_io_close(b.lock);
	vv_free(b.buf);
	vv_free(b.tv);
	vv_error_restore(&e);
	if (rc == 0)
		vv_bk_say(&b, VARVE_LOG_INFO,
		    "backup of %s to %s: %u partitions, %" PRIu64 " segments linked, %" PRIu64
		    " copied, %" PRIu64 " appended, %" PRIu64 " kept, %" PRIu64 " removed, %" PRIu64
		    " bytes written, %" PRIu64 " ms", b.src, b.dst, rep->partitions,
		    rep->segments_linked, rep->segments_copied, rep->segments_appended,
		    rep->segments_kept, rep->segments_removed, rep->bytes_copied, rep->elapsed_ms);
	return rc;
}
