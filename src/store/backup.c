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
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "abi.h"
#include "db.h"
#include "io.h"
#include "meta.h"
#include "partition.h"
#include "registry.h"
#include "segment.h"
#include "sizes.h"
#include "util.h"

#define BACKUP_FILE "BACKUP"
#define COPY_CHUNK (1u << 20)
#define TAIL_CHECK 4096   /* bytes compared at the end of a kept segment */
#define MAX_ATTEMPTS 16   /* listings of a partition that got no further: VARVE_EBUSY */
#define PIN_WINDOW 64     /* segments pinned at a time (3 descriptors each) */
#define VANISHED 1        /* internal: a file of the listing is gone; list again */
#define CHANGED 2         /* internal: a name holds another file than listed; again */
#define CLEANER_CHECKPOINT_FILE "cleaner-checkpoint"
#define PRODUCER_SNAPSHOT_FILE "producer-snapshot"

/* A topic the copied metadata log names. */
typedef struct named_topic {
	char name[VARVE_MAX_TOPIC_NAME + 1];
	uint32_t partitions;
	int64_t created_ms;
	int live;     /* not deleted by a later record */
	int vanished; /* gone from the store while the backup ran */
} named_topic;

typedef struct bk {
	varve_db *db;
	varve_backup_options o;
	varve_backup_report *rep;
	const char *src;
	char dst[3072];
	vv_file *lock;
	const vv_io_methods *io; /* the store's I/O table, for both trees */
	int link_ok;           /* hard links are still worth trying */
	unsigned file_mode, dir_mode;
	vv_part_config ro_cfg; /* read-only opens of the source and the copy */
	uint8_t *buf;          /* COPY_CHUNK bytes */
	uint64_t nonce;        /* of the copy's CLEAN and segment-sizes lists */
	named_topic *tv;
	size_t tn, tcap;
	varve_backup_progress pg;
} bk;

/* One segment to copy, and how much of it. */
typedef struct pick {
	vv_segment *s; /* referenced by the listing; NULL once copied */
	size_t at;     /* its place in the listing */
	int64_t base;
	uint64_t size; /* bytes of its log */
	int whole;     /* sealed and copied whole: may be linked */
} pick;

/* A segment log's file as a name held it before a read-only view opened. */
typedef struct seg_id {
	int64_t base;
	uint64_t dev, ino;
} seg_id;

/* One partition being copied. */
typedef struct part_job {
	vv_partition *p;
	const char *topic;
	uint32_t id;
	const char *dir;  /* destination partition directory */
	int64_t limit;    /* copy the offsets below this */
	int64_t start;    /* log start */
	vv_segment **v;   /* the listing, referenced (NULL once released) */
	size_t n;
	pick *picks;
	size_t np;
	seg_id *ids;      /* read-only views: the files listed before the open */
	size_t nids;
	size_t changed_at; /* VANISHED or CHANGED: in the window starting here */
} part_job;

/* How a segment's log reached the destination (positive: errors are not). */
enum { KEPT = 1, KEPT_LINK, LINKED, COPIED, APPENDED, REPLACE };

static void say(const bk *b, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(const bk *b, int level, const char *fmt, ...)
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

static void progress(bk *b, const char *topic, uint32_t part)
{
	if (!b->o.progress_fn)
		return;
	b->pg.topic = topic;
	b->pg.partition = (int32_t)part;
	b->pg.bytes_linked = b->rep->bytes_linked;
	b->pg.bytes_copied = b->rep->bytes_copied;
	b->o.progress_fn(b->o.progress_ctx, &b->pg);
}

static int path_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		return vv_error_set(VARVE_EINVAL, 0, "path too long: %.200s...", out);
	return 0;
}

static void unlink_quiet(const vv_io_methods *io, const char *path)
{
	(void)vv_io_unlink(io, path);
	vv_error_clear();
}

static int same_file(const vv_file_info *a, const vv_file_info *b)
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
static int make_dir(const bk *b, const char *dir)
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

/* ---- bytes ------------------------------------------------------------- */

/* Copy [from, to) of src to the same positions of dst. */
static int copy_range(bk *b, vv_file *src, uint64_t from, uint64_t to, vv_file *dst)
{
	for (uint64_t at = from; at < to;) {
		size_t n = to - at < COPY_CHUNK ? (size_t)(to - at) : COPY_CHUNK;
		VV_TRY(vv_io_pread_full(src, b->buf, n, at));
		VV_TRY(vv_io_pwrite(dst, b->buf, n, at));
		b->rep->bytes_copied += n;
		at += n;
	}
	return 0;
}

/* dp := the first `size` bytes of src, a new file (an old one is removed
 * first: it may be a link shared with the store). finish() syncs it. */
static int copy_new(bk *b, vv_file *src, uint64_t size, const char *dp)
{
	unlink_quiet(b->io, dp);
	vv_file *d;
	VV_TRY(vv_io_open(b->io, dp, VV_O_RDWR | VV_O_CREAT | VV_O_EXCL, b->file_mode, &d));
	vv_first_error first = VV_FIRST_ERROR_INIT;
	vv_first_error_note(&first, copy_range(b, src, 0, size, d));
	vv_first_error_note(&first, vv_io_close(d));
	return vv_first_error_end(&first);
}

/* dp (have bytes, the same as src's) := the first `size` bytes of src. */
static int append_tail(bk *b, vv_file *src, uint64_t have, uint64_t size, const char *dp)
{
	vv_file *d;
	VV_TRY(vv_io_open(b->io, dp, VV_O_RDWR, b->file_mode, &d));
	vv_first_error first = VV_FIRST_ERROR_INIT;
	vv_first_error_note(&first, copy_range(b, src, have, size, d));
	vv_first_error_note(&first, vv_io_close(d));
	return vv_first_error_end(&first);
}

/* Do the first m bytes of dp look like those of src: the same first batch
 * header and the same last TAIL_CHECK bytes? 1 yes, 0 no, or an error. */
static int same_prefix(bk *b, vv_file *src, const char *dp, uint64_t m)
{
	if (m == 0)
		return 1;
	vv_file *d;
	VV_TRY(vv_io_open(b->io, dp, VV_O_RDONLY, 0, &d));
	uint8_t *x = b->buf, *y = b->buf + TAIL_CHECK;
	size_t head = m < VV_BATCH_HEADER_SIZE ? (size_t)m : VV_BATCH_HEADER_SIZE;
	size_t tail = m < TAIL_CHECK ? (size_t)m : TAIL_CHECK;
	int same = 0;
	if (vv_io_pread_full(src, x, head, 0) || vv_io_pread_full(d, y, head, 0) ||
	    memcmp(x, y, head))
		goto out;
	if (vv_io_pread_full(src, x, tail, m - tail) || vv_io_pread_full(d, y, tail, m - tail) ||
	    memcmp(x, y, tail))
		goto out;
	same = 1;
out:
	(void)vv_io_close(d); /* opened read-only: nothing to lose */
	vv_error_clear(); /* a file that cannot be read is not the same: it is replaced */
	return same;
}

/* Hard-link sp to dp and check that dp is the file of `want` (the listed
 * version). 0: linked; 1: not linked (copy instead); or an error. */
static int try_link(bk *b, const char *sp, const char *dp, const vv_file_info *want)
{
	if (!b->link_ok)
		return 1;
	unlink_quiet(b->io, dp);
	int rc = vv_io_link(b->io, sp, dp);
	if (rc) {
		int e = varve_last_error()->sys_errno;
		if (e != EXDEV && e != ENOENT && e != EPERM && e != EMLINK && e != EOPNOTSUPP)
			return rc;
		vv_error_clear();
		if (e != ENOENT) {
			b->link_ok = 0;
			say(b, VARVE_LOG_INFO, "backup: %s cannot hold hard links to the store (%s): "
			    "segments are copied", b->dst, strerror(e));
		}
		return 1;
	}
	vv_file_info got;
	rc = vv_io_path_info(b->io, dp, &got);
	if (rc == 0 && same_file(&got, want))
		return 0;
	/* the name holds another version now (a compaction swapped it in) */
	vv_error_clear();
	unlink_quiet(b->io, dp);
	return 1;
}

/* ---- one segment -------------------------------------------------------- */

/* What to keep of an existing dp: KEPT / KEPT_LINK (nothing to do), or
 * APPENDED with *have bytes already right, or REPLACE. */
static int judge_existing(bk *b, vv_file *log, const vv_file_info *si, const char *dp,
			  uint64_t size, int linkable, uint64_t *have)
{
	vv_file_info di;
	int rc = vv_io_path_info(b->io, dp, &di);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		return REPLACE;
	}
	VV_TRY(rc);
	if (same_file(&di, si))
		return si->size == size ? KEPT_LINK : REPLACE;
	if (di.nlink != 1 || di.size > size)
		return REPLACE;
	rc = same_prefix(b, log, dp, di.size);
	if (rc < 0)
		return rc;
	if (!rc)
		return REPLACE;
	if (di.size == size)
		return KEPT;
	*have = di.size;
	/* a link costs nothing; a tail costs its bytes */
	return linkable && b->link_ok ? REPLACE : APPENDED;
}

/* The log of k in the destination; *how says what was done. */
static int put_log(bk *b, const part_job *j, const pick *k, vv_file *log, int *how)
{
	vv_segment *s = k->s;
	char dp[4096], sp[4096];
	vv_segment_path(dp, sizeof dp, j->dir, k->base, ".log");
	vv_segment_path(sp, sizeof sp, s->dir, s->base, s->from_swap ? ".log.swap" : ".log");
	vv_file_info si;
	VV_TRY(vv_io_info(log, &si));
	int linkable = k->whole && si.size == k->size;
	uint64_t have = 0;
	int rc = judge_existing(b, log, &si, dp, k->size, linkable, &have);
	if (rc < 0)
		return rc;
	if (rc == KEPT || rc == KEPT_LINK) {
		*how = rc;
		return 0;
	}
	if (rc == APPENDED) {
		*how = APPENDED;
		return append_tail(b, log, have, k->size, dp);
	}
	if (linkable) {
		rc = try_link(b, sp, dp, &si);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			*how = LINKED; /* (synced by finish(): the store may not have) */
			return 0;
		}
	}
	*how = COPIED;
	return copy_new(b, log, k->size, dp);
}

/* Bytes of the index file idx (entries of esz bytes) that describe only
 * batches below the cut: the entries before the first one at or past it. */
static int index_prefix(bk *b, vv_file *idx, uint64_t file_size, size_t esz, const part_job *j,
			const pick *k, uint64_t *out)
{
	uint64_t max_rel = (uint64_t)(j->limit - k->base);
	uint64_t at = 0;
	size_t per = COPY_CHUNK / esz * esz;
	while (at + esz <= file_size) {
		size_t n = file_size - at < per ? (size_t)(file_size - at) / esz * esz : per;
		VV_TRY(vv_io_pread_full(idx, b->buf, n, at));
		for (size_t i = 0; i < n; i += esz) {
			const uint8_t *e = b->buf + i;
			uint64_t rel = esz == 8 ? vv_load32(e) : vv_load32(e + 8);
			int past = rel >= max_rel || (esz == 8 && vv_load32(e + 4) >= k->size);
			if (past) {
				*out = at + i;
				return 0;
			}
		}
		at += n;
	}
	*out = at;
	return 0;
}

/* One index file of k (sfx, entries of esz bytes): a link when the log is
 * the store's file, else a copy (for the cut segment, its entries below
 * the cut). None in the store: none in the copy (rebuilt when needed). */
static int put_index(bk *b, const part_job *j, const pick *k, vv_file *idx, int how,
		     const char *sfx, size_t esz)
{
	char dp[4096], sp[4096];
	vv_segment_path(dp, sizeof dp, j->dir, k->base, sfx);
	vv_segment_path(sp, sizeof sp, k->s->dir, k->base, sfx);
	if (!idx) {
		unlink_quiet(b->io, dp);
		return 0;
	}
	vv_file_info si, di;
	VV_TRY(vv_io_info(idx, &si));
	int have = vv_io_path_info(b->io, dp, &di) == 0;
	vv_error_clear();
	if (how == LINKED || how == KEPT_LINK) {
		if (have && same_file(&di, &si))
			return 0;
		int rc = try_link(b, sp, dp, &si);
		if (rc <= 0)
			return rc;
	}
	uint64_t want = si.size;
	if (!k->whole)
		VV_TRY(index_prefix(b, idx, si.size, esz, j, k, &want));
	/* a kept copy's index was copied with it */
	if (how == KEPT && have && di.nlink == 1 && di.size == want)
		return 0;
	return copy_new(b, idx, want, dp);
}

static void count_segment(bk *b, const pick *k, int how)
{
	varve_backup_report *r = b->rep;
	r->bytes_total += k->size;
	switch (how) {
	case LINKED: r->segments_linked++; r->bytes_linked += k->size; break;
	case COPIED: r->segments_copied++; break;
	case APPENDED: r->segments_appended++; break;
	default: r->segments_kept++; break;
	}
	b->pg.segments_done++;
}

/* Is fi (the descriptor of k's log) the file listed under its name before
 * a read-only view opened (design note 6)? Writers' listings are
 * protected by their references. */
static int listed_version(const part_job *j, const pick *k, const vv_file_info *fi)
{
	if (!j->p->cfg.seg.read_only)
		return 1;
	int64_t newest = -1;
	for (size_t i = 0; i < j->nids; i++) {
		const seg_id *id = &j->ids[i];
		if (id->base == k->base)
			return id->dev == fi->dev && id->ino == fi->ino &&
			       (!k->whole || fi->size == k->size);
		if (id->base > newest)
			newest = id->base;
	}
	return k->base > newest;
}

/* A read-only view takes a sealed segment's size from the file, and a
 * writer rolling at that moment has not yet cut the zeros it preallocated
 * after the last batch. So the file must end with a whole batch (the one
 * the index finds for the segment's last offset); if it does not, a scan
 * says where the valid data ends: if only zeros follow, the copy stops
 * there, else the file is copied as it is (damage stays damage). */
/* Are the bytes [from, to) of f all zero? 1, 0, or an error. */
static int zeros_only(bk *b, vv_file *f, uint64_t from, uint64_t to)
{
	for (uint64_t at = from; at < to;) {
		size_t n = to - at < COPY_CHUNK ? (size_t)(to - at) : COPY_CHUNK;
		VV_TRY(vv_io_pread_full(f, b->buf, n, at));
		for (size_t i = 0; i < n; i++)
			if (b->buf[i])
				return 0;
		at += n;
	}
	return 1;
}

static int view_sealed_size(bk *b, pick *k)
{
	vv_segment *s = k->s;
	uint64_t pos = 0;
	VV_TRY(vv_segment_find(s, atomic_load(&s->next_offset) - 1, &pos));
	uint8_t hb[VV_BATCH_HEADER_SIZE];
	vv_batch_header h;
	if (pos == k->size ||
	    (pos + sizeof hb <= k->size &&
	     vv_io_pread_full(atomic_load(&s->log), hb, sizeof hb, pos) == 0 &&
	     vv_batch_parse_header(hb, sizeof hb, s->cfg->max_batch, &h) == 0 &&
	     pos + h.length == k->size))
		return 0;
	vv_error_clear();
	vv_scan_result res;
	VV_TRY(vv_segment_scan(s, 0, s->base, &res));
	if (res.valid_end >= k->size || res.file_size != k->size)
		return 0;
	int zeros = zeros_only(b, atomic_load(&s->log), res.valid_end, k->size);
	if (zeros < 0)
		return zeros;
	if (zeros)
		k->size = res.valid_end;
	return 0;
}

/* Open k's files (pin the version: the descriptors stay open while the
 * listing holds its reference) and check it is the listed one. VANISHED
 * if its files are gone, CHANGED if its name holds another file. */
static int pin_segment(bk *b, const part_job *j, pick *k)
{
	vv_segment *s = k->s;
	int rc = vv_segment_open_files(s);
	if (rc == VARVE_ENOTFOUND || (rc && atomic_load(&s->replaced))) {
		vv_error_clear();
		return VANISHED;
	}
	VV_TRY(rc);
	vv_file_info fi;
	VV_TRY(vv_io_info(atomic_load(&s->log), &fi));
	if (!listed_version(j, k, &fi))
		return CHANGED;
	if (j->p->cfg.seg.read_only && k->whole)
		VV_TRY(view_sealed_size(b, k));
	return 0;
}

/* Make the destination hold the pinned segment k, then let go of it (its
 * files close unless someone else reads it: a partition of 10,000
 * segments must not hold 30,000 descriptors). */
static int put_segment(bk *b, part_job *j, pick *k)
{
	vv_segment *s = k->s;
	vv_file *log = atomic_load(&s->log);
	pthread_mutex_lock(&s->mu);
	vv_file *idx = s->idx, *tidx = s->tidx;
	pthread_mutex_unlock(&s->mu);
	int how = COPIED;
	VV_TRY(put_log(b, j, k, log, &how));
	VV_TRY(put_index(b, j, k, idx, how, ".index", 8));
	VV_TRY(put_index(b, j, k, tidx, how, ".timeindex", 12));
	count_segment(b, k, how);
	vv_partition_release(j->p, s);
	j->v[k->at] = NULL;
	k->s = NULL;
	return 0;
}

/* ---- one partition ------------------------------------------------------ */

/* Offsets below this are copied (design note 2). */
static int64_t copy_limit(vv_partition *p)
{
	if (p->cfg.seg.read_only || p->cfg.sync_policy == VARVE_SYNC_NONE)
		return atomic_load(&p->end_offset);
	return atomic_load(&p->durable_offset);
}

/* The segments to copy and how much of each. */
static int plan(part_job *j)
{
	j->limit = copy_limit(j->p); /* before the listing: note 2 */
	VV_TRY(vv_partition_segments(j->p, &j->v, &j->n));
	j->start = atomic_load(&j->p->start_offset);
	j->picks = vv_malloc((j->n ? j->n : 1) * sizeof *j->picks);
	if (!j->picks)
		return vv_error_set(VARVE_ENOMEM, 0, "backup");
	for (size_t i = 0; i < j->n; i++) {
		vv_segment *s = j->v[i];
		int64_t next_base = i + 1 < j->n ? j->v[i + 1]->base : INT64_MAX;
		if (next_base <= j->start)
			continue; /* wholly below the log start: retention's */
		if (s->base > j->limit)
			break;
		pick *k = &j->picks[j->np++];
		k->s = s;
		k->at = i;
		k->base = s->base;
		if (next_base <= j->limit) {
			k->size = atomic_load(&s->size);
			k->whole = 1;
			continue;
		}
		/* the segment holding the limit: up to the batch that starts there */
		k->whole = 0;
		VV_TRY(vv_segment_find(s, j->limit, &k->size));
		break;
	}
	if (!j->np) { /* nothing below the limit: an empty log at its end */
		if (j->limit < j->start)
			j->limit = j->start;
		j->start = j->limit;
		return 0;
	}
	if (j->start < j->picks[0].base)
		j->start = j->picks[0].base;
	if (j->start > j->limit) /* the log start passed the durable end */
		j->start = j->limit;
	return 0;
}

static void release_listing(part_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->v[i])
			vv_segment_unref(j->v[i]);
	vv_free(j->v);
	vv_free(j->picks);
	j->v = NULL;
	j->picks = NULL;
	j->n = j->np = 0;
}

/* A small file of the partition (cleaner checkpoint, producer snapshot),
 * or none if the store has none. */
static int put_small(bk *b, const char *sdir, const char *ddir, const char *name)
{
	char sp[4096], dp[4096];
	VV_TRY(path_fmt(sp, sizeof sp, "%s/%s", sdir, name));
	VV_TRY(path_fmt(dp, sizeof dp, "%s/%s", ddir, name));
	vv_file *f;
	int rc = vv_io_open(b->io, sp, VV_O_RDONLY, 0, &f);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		unlink_quiet(b->io, dp);
		return 0;
	}
	VV_TRY(rc);
	vv_file_info si;
	if ((rc = vv_io_info(f, &si)) != 0)
		goto out;
	rc = copy_new(b, f, si.size, dp);
out:
	(void)vv_io_close(f); /* opened read-only: nothing to lose */
	return rc;
}

static int picked(const part_job *j, int64_t base)
{
	for (size_t i = 0; i < j->np; i++)
		if (j->picks[i].base == base)
			return 1;
	return 0;
}

/* The base of a segment file name (<20 digits>.log, .index, .timeindex). */
static int segment_file_base(const char *name, int64_t *base, int *is_log)
{
	size_t n = strlen(name);
	if (n < VV_SEG_NAME_LEN + 4)
		return -1;
	const char *sfx = name + VV_SEG_NAME_LEN;
	if (strcmp(sfx, ".log") && strcmp(sfx, ".index") && strcmp(sfx, ".timeindex"))
		return -1;
	char tmp[VV_SEG_NAME_LEN + 5];
	memcpy(tmp, name, VV_SEG_NAME_LEN);
	memcpy(tmp + VV_SEG_NAME_LEN, ".log", 5);
	*is_log = !strcmp(sfx, ".log");
	return vv_segment_parse_name(tmp, base);
}

/* Remove from the destination partition what the listing does not name. */
static int prune_partition(bk *b, const part_job *j)
{
	static const char *const ours[] = { VV_RECOVERY_POINT_FILE, PRODUCER_SNAPSHOT_FILE,
					    CLEANER_CHECKPOINT_FILE };
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(b->io, j->dir, &names, &n));
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int keep = 0, is_log = 0;
		for (size_t k = 0; k < sizeof ours / sizeof *ours; k++)
			keep |= !strcmp(names[i], ours[k]);
		int64_t base;
		if (!keep && segment_file_base(names[i], &base, &is_log) == 0)
			keep = picked(j, base);
		if (keep)
			continue;
		char path[4096];
		if ((rc = path_fmt(path, sizeof path, "%s/%s", j->dir, names[i])) != 0)
			goto out;
		b->rep->segments_removed += is_log;
		if ((rc = vv_io_remove_tree(b->io, path)) != 0)
			goto out;
	}
out:
	vv_io_free_list(names, n);
	return rc;
}

/* The copy's recovery point and segment size list (design note 8). */
static int write_end(bk *b, const part_job *j, int changed)
{
	vv_recovery_point rp = { j->limit, j->limit, 0, j->start };
	if (j->np) {
		rp.segment_base = j->picks[j->np - 1].base;
		rp.position = j->picks[j->np - 1].size;
	}
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(&rp, buf);
	/* an unchanged partition costs no fsync (an incremental backup of a
	 * quiet store) */
	char path[4096];
	uint8_t *old = NULL;
	size_t n = 0;
	VV_TRY(path_fmt(path, sizeof path, "%s/%s", j->dir, VV_RECOVERY_POINT_FILE));
	int same = vv_io_read_small(b->io, path, VV_RECOVERY_POINT_SIZE, &old, &n) == 0 &&
		   n == sizeof buf && !memcmp(old, buf, n);
	vv_free(old);
	vv_error_clear();
	if (!same) {
		VV_TRY(vv_io_write_atomic(b->io, j->dir, VV_RECOVERY_POINT_FILE, buf, sizeof buf,
					  b->file_mode));
		changed = 1;
	}
	int64_t *bases = vv_malloc((j->np ? j->np : 1) * sizeof *bases);
	uint64_t *sizes = vv_malloc((j->np ? j->np : 1) * sizeof *sizes);
	if (bases && sizes && j->np) {
		for (size_t i = 0; i < j->np; i++) {
			bases[i] = j->picks[i].base;
			sizes[i] = j->picks[i].size;
		}
		/* advisory, like a clean close's (sizes.h): a failure costs stats */
		(void)vv_sizes_write(b->io, j->dir, b->nonce, bases, sizes, j->np, b->file_mode);
		vv_error_clear();
	}
	vv_free(bases);
	vv_free(sizes);
	return changed ? vv_io_sync_dir(b->io, j->dir) : 0;
}

/* The first `gone` picks vanished before anything was copied: retention
 * removed them (it goes oldest first; a swap never removes the first
 * segment it rewrites), so the log starts later. */
static void drop_first(part_job *j, size_t gone)
{
	memmove(j->picks, j->picks + gone, (j->np - gone) * sizeof *j->picks);
	j->np -= gone;
	if (j->start < j->picks[0].base)
		j->start = j->picks[0].base;
}

/* Pin picks [from, to), then copy them. *gone: how many of the first
 * picks vanished before anything was pinned (retention's). */
static int copy_window(bk *b, part_job *j, size_t from, size_t to, size_t *gone)
{
	for (size_t i = from; i < to; i++) {
		int rc = pin_segment(b, j, &j->picks[i]);
		if (rc == VANISHED && i == *gone && i + 1 < j->np) {
			(*gone)++;
			continue;
		}
		if (rc)
			return rc; /* an error, VANISHED or CHANGED */
	}
	for (size_t i = from > *gone ? from : *gone; i < to; i++) {
		VV_TRY(put_segment(b, j, &j->picks[i]));
		progress(b, j->topic, j->id);
	}
	return 0;
}

/* Copy one listing of p into dir, PIN_WINDOW segments at a time: a window
 * is pinned (design note 6) before any of it is copied, so only the short
 * pinning can be overtaken by a writer's swap. VANISHED or CHANGED: list
 * again; j->changed_at says where. */
static int copy_partition(bk *b, part_job *j)
{
	VV_TRY(make_dir(b, j->dir));
	/* before the listing: an older one only costs work (note 7) */
	VV_TRY(put_small(b, j->p->dir, j->dir, CLEANER_CHECKPOINT_FILE));
	VV_TRY(put_small(b, j->p->dir, j->dir, PRODUCER_SNAPSHOT_FILE));
	const varve_backup_report *r = b->rep;
	uint64_t changes = r->segments_linked + r->segments_copied + r->segments_appended +
			   r->segments_removed;
	int rc = plan(j);
	if (rc)
		goto out;
	progress(b, j->topic, j->id);
	size_t gone = 0;
	for (size_t at = 0; at < j->np; at += PIN_WINDOW) {
		size_t to = at + PIN_WINDOW < j->np ? at + PIN_WINDOW : j->np;
		if ((rc = copy_window(b, j, at, to, &gone)) != 0) {
			if (rc == VANISHED || rc == CHANGED)
				j->changed_at = at + PIN_WINDOW; /* past the window that changed */
			goto out;
		}
	}
	if (gone)
		drop_first(j, gone);
	if ((rc = prune_partition(b, j)) != 0)
		goto out;
	rc = write_end(b, j, r->segments_linked + r->segments_copied + r->segments_appended +
				     r->segments_removed != changes);
out:
	release_listing(j);
	return rc;
}

/* The file under each segment log name of sdir (design note 6). A name
 * that goes between the listing and its stat is left out. */
static int list_ids(const vv_io_methods *io, const char *sdir, seg_id **out, size_t *nout)
{
	char **names;
	size_t n;
	*out = NULL;
	*nout = 0;
	VV_TRY(vv_io_list_dir(io, sdir, &names, &n));
	int rc = 0;
	size_t k = 0;
	seg_id *v = vv_malloc((n ? n : 1) * sizeof *v);
	if (!v) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "backup");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t base;
		vv_file_info fi;
		char path[4096];
		if (vv_segment_parse_name(names[i], &base))
			continue;
		if ((rc = path_fmt(path, sizeof path, "%s/%s", sdir, names[i])) != 0)
			goto out;
		rc = vv_io_path_info(io, path, &fi);
		if (rc == VARVE_ENOTFOUND) {
			vv_error_clear();
			rc = 0;
			continue;
		}
		if (rc)
			goto out;
		v[k++] = (seg_id){ base, fi.dev, fi.ino };
	}
	*out = v;
	*nout = k;
	v = NULL;
out:
	vv_io_free_list(names, n);
	vv_free(v);
	return rc;
}

static int view_gone(int *gone)
{
	vv_error_clear();
	*gone = 1;
	return 0;
}

/* A fresh read-only view of the partition in sdir, and the files its
 * names held just before (design note 6). *gone: the directory is not
 * there. VANISHED: a file went while it was being opened. */
static int open_view(bk *b, const char *sdir, part_job *j, vv_partition **out, int *gone)
{
	int is_dir = 0;
	int rc = vv_io_stat(b->io, sdir, NULL, &is_dir);
	if (rc == VARVE_ENOTFOUND || (rc == 0 && is_dir != 1))
		return view_gone(gone);
	VV_TRY(rc);
	rc = list_ids(b->io, sdir, &j->ids, &j->nids);
	if (rc == VARVE_ENOTFOUND) /* the directory went after the stat */
		return view_gone(gone);
	VV_TRY(rc);
	rc = vv_partition_open(sdir, j->topic, j->id, &b->ro_cfg, 0, out);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		return VANISHED;
	}
	return rc;
}

/* One listing of a partition copied: of the writer's own (live), or of a
 * fresh read-only view of sdir. 0, an error, VANISHED or CHANGED. */
static int copy_listing(bk *b, vv_partition *live, const char *sdir, part_job *j, int *gone)
{
	vv_partition *p = live;
	if (!p) {
		int rc = open_view(b, sdir, j, &p, gone);
		if (rc || *gone)
			return rc;
	}
	j->p = p;
	int rc = copy_partition(b, j);
	if (!live) {
		vv_error_saved e;
		vv_error_save(&e);
		(void)vv_partition_close(p, 0); /* a read-only view: nothing to lose */
		vv_error_restore(&e);
	}
	return rc;
}

/* Copy a partition, listed again while files vanish under the copy. */
static int backup_partition(bk *b, vv_partition *live, const char *sdir, const char *topic,
			    uint32_t id, const char *ddir, int *gone)
{
	size_t reached = 0; /* a listing that gets further is not a failure */
	for (int attempt = 1;; attempt++) {
		part_job j = { .p = live, .topic = topic, .id = id, .dir = ddir };
		int rc = copy_listing(b, live, sdir, &j, gone);
		vv_free(j.ids);
		if (rc < 0 || *gone)
			return rc;
		if (rc != VANISHED && rc != CHANGED) {
			if (rc == 0)
				b->pg.partitions_done++;
			return rc;
		}
		b->rep->partition_retries++;
		say(b, VARVE_LOG_INFO, "backup: %s/%u changed under the copy; listing it again",
		    topic, id);
		if (j.changed_at > reached) {
			reached = j.changed_at;
			attempt = 0;
		} else if (attempt == MAX_ATTEMPTS) {
			return vv_error_set(VARVE_EBUSY, 0,
					    "the segments of %s/%u kept changing under the copy "
					    "(%d listings)", topic, id, attempt);
		}
		/* a swap or a roll is under way: let it finish */
		struct timespec ts = { 0, 1000000L * attempt };
		nanosleep(&ts, NULL);
	}
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
	VV_TRY(path_fmt(dir, sizeof dir, "%s/meta", b->dst));
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
		if ((rc = path_fmt(path, sizeof path, "%s/%s", ddir, names[i])) != 0 ||
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
	VV_TRY(path_fmt(sdir, sizeof sdir, "%s/topics/%s", b->src, t->name));
	VV_TRY(path_fmt(ddir, sizeof ddir, "%s/topics/%s", b->dst, t->name));
	int gone = 0;
	vv_topic *lt = live_topic(b, t, &gone);
	/* partitions are only ever added: nparts was loaded first (topic.h) */
	vv_partition **parts = lt ? atomic_load(&lt->parts) : NULL;
	int rc = gone ? 0 : make_dir(b, ddir);
	if (rc)
		goto out;
	for (uint32_t k = 0; !gone && k < t->partitions; k++) {
		char sp[4200], dp[4200];
		snprintf(sp, sizeof sp, "%s/%u", sdir, k);
		snprintf(dp, sizeof dp, "%s/%u", ddir, k);
		rc = backup_partition(b, parts ? parts[k] : NULL, sp, t->name, k, dp, &gone);
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
	say(b, VARVE_LOG_WARN, "backup: topic %s was deleted while the backup ran; the copy "
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
		if ((rc = path_fmt(path, sizeof path, "%s/%s", tdir, names[i])) != 0 ||
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
	VV_TRY(path_fmt(tdir, sizeof tdir, "%s/topics", b->dst));
	VV_TRY(make_dir(b, tdir));
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
	VV_TRY(path_fmt(dir, sizeof dir, "%s/meta", b->dst));
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
		if (l + 4 >= sizeof p || path_fmt(p + l, sizeof p - l, "/.") ||
		    vv_io_path_info(io, p, &cur)) {
			vv_error_clear();
			return 0;
		}
		if (same_file(&cur, store))
			return 1;
		if (depth && same_file(&cur, &prev))
			return 0; /* the root */
		prev = cur;
		p[l] = 0;
		if (path_fmt(p + l, sizeof p - l, "/..")) {
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
	VV_TRY(path_fmt(p, sizeof p, "%s/.", b->src));
	VV_TRY(vv_io_path_info(b->io, p, &store));
	VV_TRY(path_fmt(p, sizeof p, "%s/.", b->dst));
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
		VV_TRY(make_dir(b, b->dst));
	int interrupted = 0;
	VV_TRY(judge_dest(b, &interrupted));
	VV_TRY(path_fmt(p, sizeof p, "%s/LOCK", b->dst));
	VV_TRY(vv_io_lock(b->io, p, b->file_mode, &b->lock));
	b->rep->repaired = interrupted;
	if (interrupted)
		say(b, VARVE_LOG_INFO, "backup: %s holds an interrupted backup; finishing it", b->dst);
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
	VV_TRY(path_fmt(p, sizeof p, "%s/VERSION", b->dst));
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
	VV_TRY(path_fmt(p, sizeof p, "%s/%s", b->dst, VARVE_BACKUP_MARKER));
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
	VV_TRY(path_fmt(sp, sizeof sp, "%s/%s", b->src, c->name));
	VV_TRY(path_fmt(dp, sizeof dp, "%s/%s", b->dst, c->name));
	vv_file *f;
	int rc = vv_io_open(b->io, sp, VV_O_RDONLY, 0, &f);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		unlink_quiet(b->io, dp);
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
	VV_TRY(path_fmt(sdir, sizeof sdir, "%s/meta", b->src));
	VV_TRY(path_fmt(ddir, sizeof ddir, "%s/meta", b->dst));
	vv_partition *live = b->db->env.read_only ? NULL : vv_meta_partition(b->db->meta);
	int gone = 0;
	VV_TRY(backup_partition(b, live, sdir, VV_META_TOPIC, 0, ddir, &gone));
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
		progress(&b, NULL, 0);
	vv_error_saved e;
	vv_error_save(&e);
	vv_io_close(b.lock);
	vv_free(b.buf);
	vv_free(b.tv);
	vv_error_restore(&e);
	if (rc == 0)
		say(&b, VARVE_LOG_INFO,
		    "backup of %s to %s: %u partitions, %" PRIu64 " segments linked, %" PRIu64
		    " copied, %" PRIu64 " appended, %" PRIu64 " kept, %" PRIu64 " removed, %" PRIu64
		    " bytes written, %" PRIu64 " ms", b.src, b.dst, rep->partitions,
		    rep->segments_linked, rep->segments_copied, rep->segments_appended,
		    rep->segments_kept, rep->segments_removed, rep->bytes_copied, rep->elapsed_ms);
	return rc;
}
