/* SPDX-License-Identifier: MIT */
/*
 * backup_part.c -- varve_backup: one partition copied from a referenced
 * listing of its segments (design notes 2, 4-9 in backup.c): each segment
 * linked, kept, given its new tail or copied, with its indexes; files the
 * listing does not name removed; the copy's recovery point, cleaner and
 * producer files and segment-sizes list written. May call what backup.c may.
 */
#include "backup_int.h"

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
	vv_bk_unlink_quiet(b->io, dp);
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
	vv_bk_unlink_quiet(b->io, dp);
	int rc = vv_io_link(b->io, sp, dp);
	if (rc) {
		int e = varve_last_error()->sys_errno;
		if (e != EXDEV && e != ENOENT && e != EPERM && e != EMLINK && e != EOPNOTSUPP)
			return rc;
		vv_error_clear();
		if (e != ENOENT) {
			b->link_ok = 0;
			vv_bk_say(b, VARVE_LOG_INFO, "backup: %s cannot hold hard links to the store (%s): "
			    "segments are copied", b->dst, strerror(e));
		}
		return 1;
	}
	vv_file_info got;
	rc = vv_io_path_info(b->io, dp, &got);
	if (rc == 0 && vv_bk_same_file(&got, want))
		return 0;
	/* the name holds another version now (a compaction swapped it in) */
	vv_error_clear();
	vv_bk_unlink_quiet(b->io, dp);
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
	if (vv_bk_same_file(&di, si))
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
		vv_bk_unlink_quiet(b->io, dp);
		return 0;
	}
	vv_file_info si, di;
	VV_TRY(vv_io_info(idx, &si));
	int have = vv_io_path_info(b->io, dp, &di) == 0;
	vv_error_clear();
	if (how == LINKED || how == KEPT_LINK) {
		if (have && vv_bk_same_file(&di, &si))
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
	VV_TRY(vv_bk_path_fmt(sp, sizeof sp, "%s/%s", sdir, name));
	VV_TRY(vv_bk_path_fmt(dp, sizeof dp, "%s/%s", ddir, name));
	vv_file *f;
	int rc = vv_io_open(b->io, sp, VV_O_RDONLY, 0, &f);
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		vv_bk_unlink_quiet(b->io, dp);
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
		if ((rc = vv_bk_path_fmt(path, sizeof path, "%s/%s", j->dir, names[i])) != 0)
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
	VV_TRY(vv_bk_path_fmt(path, sizeof path, "%s/%s", j->dir, VV_RECOVERY_POINT_FILE));
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
		vv_bk_progress(b, j->topic, j->id);
	}
	return 0;
}

/* Copy one listing of p into dir, PIN_WINDOW segments at a time: a window
 * is pinned (design note 6) before any of it is copied, so only the short
 * pinning can be overtaken by a writer's swap. VANISHED or CHANGED: list
 * again; j->changed_at says where. */
static int copy_partition(bk *b, part_job *j)
{
	VV_TRY(vv_bk_make_dir(b, j->dir));
	/* before the listing: an older one only costs work (note 7) */
	VV_TRY(put_small(b, j->p->dir, j->dir, CLEANER_CHECKPOINT_FILE));
	VV_TRY(put_small(b, j->p->dir, j->dir, PRODUCER_SNAPSHOT_FILE));
	const varve_backup_report *r = b->rep;
	uint64_t changes = r->segments_linked + r->segments_copied + r->segments_appended +
			   r->segments_removed;
	int rc = plan(j);
	if (rc)
		goto out;
	vv_bk_progress(b, j->topic, j->id);
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
		if ((rc = vv_bk_path_fmt(path, sizeof path, "%s/%s", sdir, names[i])) != 0)
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
int vv_bk_partition(bk *b, vv_partition *live, const char *sdir, const char *topic,
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
		vv_bk_say(b, VARVE_LOG_INFO, "backup: %s/%u changed under the copy; listing it again",
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
