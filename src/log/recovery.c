/* SPDX-License-Identifier: MIT */
/*
 * recovery.c -- loading a partition at open: the listing, the recovery
 * point, attaching segments, the scan that cuts damage, the cut report, the
 * writer's last steps and the producer-state replay; and a read-only
 * handle's refresh. The steps and what a read-only open does differently
 * are in recovery.h.
 *
 * Invariant kept: after vv_recovery_run a writer's partition holds only
 * whole, checksummed batches with increasing offsets, everything it holds is
 * durable, and the recovery point names the end.
 * May call: log (segment, swap, sizes, producer, partition), base.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "recovery.h"
#include "sizes.h"
#include "swap.h"
#include "util.h"

static vv_segment *active(vv_partition *p) { return p->segs[p->nsegs - 1]; }

/* ---- the recovery point ----------------------------------------------- */

void vv_recovery_point_encode(const vv_recovery_point *rp, uint8_t out[VV_RECOVERY_POINT_SIZE])
{
	vv_store32(out, VV_RECOVERY_POINT_MAGIC);
	vv_store32(out + 4, 1);
	vv_store64(out + 8, (uint64_t)rp->offset);
	vv_store64(out + 16, (uint64_t)rp->segment_base);
	vv_store64(out + 24, rp->position);
	vv_store64(out + 32, (uint64_t)rp->log_start);
	vv_store64(out + 40, XXH3_64bits(out, 40));
}

int vv_recovery_point_decode(const uint8_t *b, size_t n, vv_recovery_point *rp)
{
	if (n != VV_RECOVERY_POINT_SIZE || vv_load32(b) != VV_RECOVERY_POINT_MAGIC ||
	    vv_load32(b + 4) != 1 || vv_load64(b + 40) != XXH3_64bits(b, 40))
		return -1;
	rp->offset = (int64_t)vv_load64(b + 8);
	rp->segment_base = (int64_t)vv_load64(b + 16);
	rp->position = vv_load64(b + 24);
	rp->log_start = (int64_t)vv_load64(b + 32);
	if (rp->offset < 0 || rp->segment_base < 0 || rp->log_start < 0 ||
	    rp->segment_base > rp->offset || rp->position > UINT32_MAX)
		return -1;
	return 0;
}

static void remember_point(vv_partition *p, const vv_recovery_point *rp)
{
	p->rp_written = rp->offset;
	p->rp_seg = rp->segment_base;
	p->rp_pos = rp->position;
	p->rp_log_start = rp->log_start;
}

static int write_point(vv_partition *p, const vv_recovery_point *rp)
{
	uint8_t buf[VV_RECOVERY_POINT_SIZE];
	vv_recovery_point_encode(rp, buf);
	VV_TRY(vv_io_write_atomic(p->cfg.seg.io, p->dir, VV_RECOVERY_POINT_FILE, buf, sizeof buf,
				  p->cfg.seg.file_mode));
	remember_point(p, rp);
	return 0;
}

/* After the open, writers race: the periodic checkpoint takes its position
 * under the append lock but writes after releasing it, while a roll,
 * retention or compaction write under it. So a point never goes back: a
 * position older than (or as old as) the one on disk keeps the one on disk
 * (which may name a newer segment: the older may be gone or about to be
 * rewritten), and the log start only grows (a delete is never undone). */
int vv_recovery_point_write(vv_partition *p, const vv_recovery_point *in)
{
	vv_recovery_point rp = *in;
	pthread_mutex_lock(&p->rp_mu);
	if (rp.offset <= p->rp_written) {
		rp.offset = p->rp_written;
		rp.segment_base = p->rp_seg;
		rp.position = (uint64_t)p->rp_pos;
	}
	if (rp.log_start < p->rp_log_start)
		rp.log_start = p->rp_log_start;
	int rc = 0;
	if (rp.offset != p->rp_written || rp.segment_base != p->rp_seg ||
	    (int64_t)rp.position != p->rp_pos || rp.log_start != p->rp_log_start)
		rc = write_point(p, &rp);
	pthread_mutex_unlock(&p->rp_mu);
	return rc;
}

/* The recovery point in p->dir: *has_rp = 0 when there is none or it is
 * damaged (a full scan then). */
static int read_recovery_point(vv_partition *p, vv_recovery_point *rp, int *has_rp)
{
	char path[4096];
	uint8_t *buf;
	size_t len;
	*has_rp = 0;
	snprintf(path, sizeof path, "%s/%s", p->dir, VV_RECOVERY_POINT_FILE);
	int rc = vv_io_read_small(p->cfg.seg.io, path, 4096, &buf, &len);
	if (rc == VARVE_ECORRUPT) {
		vv_partition_log(p, VARVE_LOG_WARN, "recovery point oversized; scanning the whole log");
		rc = VARVE_ENOTFOUND;
	}
	if (rc == VARVE_ENOTFOUND) {
		vv_error_clear();
		return 0;
	}
	VV_TRY(rc);
	*has_rp = vv_recovery_point_decode(buf, len, rp) == 0;
	vv_free(buf);
	if (!*has_rp)
		vv_partition_log(p, VARVE_LOG_WARN, "recovery point damaged; scanning the whole log");
	return 0;
}

/* ---- the listing -------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* One directory listing: with 10,000 segments it is a good part of the
 * open time. */
int vv_recovery_list_segments(vv_partition *p, int64_t **bases_out, size_t *n_out,
			      int *swap_files)
{
	const vv_io_methods *io = p->cfg.seg.io;
	char **names;
	size_t n;
	*bases_out = NULL;
	*n_out = 0;
	*swap_files = 0;
	VV_TRY(vv_io_list_dir(io, p->dir, &names, &n));
	int64_t *bases = vv_malloc((n ? n : 1) * sizeof *bases);
	if (!bases) {
		vv_io_free_list(names, n);
		return vv_error_set(VARVE_ENOMEM, 0, "segment list");
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t b;
		size_t l = strlen(names[i]);
		if (vv_segment_parse_name(names[i], &b) == 0) {
			bases[k++] = b;
		} else if (vv_swap_is_file(names[i])) {
			*swap_files = 1;
		} else if (!p->cfg.seg.read_only && l > 4 && !strcmp(names[i] + l - 4, ".tmp")) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", p->dir, names[i]);
			/* an interrupted atomic write; one left now goes next time */
			(void)vv_io_unlink(io, path);
			vv_error_clear();
		}
	}
	vv_io_free_list(names, n);
	qsort(bases, k, sizeof *bases, cmp_i64);
	*bases_out = bases;
	*n_out = k;
	return 0;
}

/* The segments to attach. */
typedef struct listing {
	int64_t *bases;
	size_t n;
	int64_t *swapped; /* read-only: bases whose log is still <b>.log.swap */
	size_t nswapped;
	int had_swap;     /* the files changed since the close */
} listing;

static void listing_free(listing *l)
{
	vv_free(l->bases);
	vv_free(l->swapped);
	memset(l, 0, sizeof *l);
}

/* Step 1: the bases to attach, past an interrupted compaction swap: a
 * writer finishes or rolls it back, a reader reads it as the writer's next
 * open will. */
static int load_listing(vv_partition *p, listing *l)
{
	const vv_io_methods *io = p->cfg.seg.io;
	int swap_files;
	memset(l, 0, sizeof *l);
	VV_TRY(vv_recovery_list_segments(p, &l->bases, &l->n, &swap_files));
	l->had_swap = swap_files;
	if (swap_files && !p->cfg.seg.read_only) {
		listing_free(l);
		l->had_swap = 1;
		VV_TRY(vv_swap_recover_dir(io, p->dir));
		VV_TRY(vv_recovery_list_segments(p, &l->bases, &l->n, &swap_files));
		return 0;
	}
	if (swap_files) {
		int rc = vv_swap_view(io, p->dir, l->bases, &l->n, &l->swapped, &l->nswapped);
		if (rc < 0) {
			listing_free(l);
			return rc;
		}
		qsort(l->bases, l->n, sizeof *l->bases, cmp_i64);
	}
	return 0;
}

/* ---- attaching segments -------------------------------------------------- */

/* A partition with no segment file: its first segment starts at the
 * recovery point's end (0 without one). */
static int start_empty(vv_partition *p, const vv_recovery_point *rp, int has_rp)
{
	int64_t base = has_rp ? (rp->offset > rp->log_start ? rp->offset : rp->log_start) : 0;
	if (has_rp && rp->offset > rp->log_start)
		vv_partition_log(p, VARVE_LOG_ERROR,
				 "no segment files, but the recovery point says offsets below %" PRId64
				 " were durable", rp->offset);
	if (!p->cfg.seg.read_only) {
		vv_segment *s;
		VV_TRY(vv_segment_create(p->dir, base, &p->cfg.seg, &s));
		int rc = vv_partition_push_segment(p, s);
		if (rc < 0) {
			vv_segment_unref(s);
			return rc;
		}
		VV_TRY(vv_io_sync_dir(p->cfg.seg.io, p->dir));
	}
	atomic_store(&p->start_offset, base);
	atomic_store(&p->end_offset, base);
	atomic_store(&p->durable_offset, base);
	return 0;
}

/* Segments wholly below the log start: a retention delete that a crash
 * interrupted after the recovery point moved. A writer finishes it. Returns
 * the index of the first segment to keep. */
static size_t skip_below_start(vv_partition *p, const listing *l, int64_t log_start)
{
	size_t first = 0;
	while (first + 1 < l->n && l->bases[first + 1] <= log_start) {
		if (!p->cfg.seg.read_only)
			vv_segment_unlink_files(p->cfg.seg.io, p->dir, l->bases[first]);
		first++;
	}
	return first;
}

/* After a clean close the sizes come from the list it left, if it is that
 * close's and names exactly these segments; NULL means a stat each. */
static uint64_t *known_sizes(vv_partition *p, const listing *l, size_t first, int clean)
{
	if (!clean || p->cfg.seg.read_only || !p->cfg.clean_nonce || l->had_swap || l->n <= first)
		return NULL;
	uint64_t *known = vv_malloc((l->n - first) * sizeof *known);
	if (known && vv_sizes_read(p->cfg.seg.io, p->dir, p->cfg.clean_nonce, l->bases + first,
				   l->n - first, known)) {
		vv_free(known);
		known = NULL;
	}
	return known;
}

/* Attach segment i of the listing; its size is *size_known or a stat. */
static int attach_one(vv_partition *p, const listing *l, size_t i, const uint64_t *size_known)
{
	char path[4096];
	uint64_t size = 0;
	int from_swap = 0;
	for (size_t j = 0; j < l->nswapped; j++)
		from_swap |= l->swapped[j] == l->bases[i];
	vv_segment_path(path, sizeof path, p->dir, l->bases[i], from_swap ? ".log.swap" : ".log");
	int rc = 0;
	if (size_known)
		size = *size_known;
	else
		rc = vv_io_stat(p->cfg.seg.io, path, &size, NULL);
	if (rc == VARVE_ENOTFOUND && from_swap) { /* renamed by a writer since */
		from_swap = 0;
		vv_segment_path(path, sizeof path, p->dir, l->bases[i], ".log");
		rc = vv_io_stat(p->cfg.seg.io, path, &size, NULL);
	}
	VV_TRY(rc);
	vv_segment *s;
	VV_TRY(vv_segment_attach(p->dir, l->bases[i], size, &p->cfg.seg, &s));
	s->from_swap = from_swap;
	rc = vv_partition_push_segment(p, s);
	if (rc < 0) {
		vv_segment_unref(s);
		return rc;
	}
	if (i + 1 < l->n) {
		atomic_store(&s->next_offset, l->bases[i + 1]);
		s->sealed = 1;
	}
	return 0;
}

static int attach_all(vv_partition *p, const listing *l, size_t first, int clean)
{
	uint64_t *known = known_sizes(p, l, first, clean);
	int rc = 0;
	for (size_t i = first; i < l->n; i++) {
		/* the last segment is stat'ed anyway: bytes added to it behind our
		 * back since the close (a torn or foreign tail) are scanned and cut */
		int use_known = known && i + 1 < l->n;
		rc = attach_one(p, l, i, use_known ? &known[i - first] : NULL);
		if (rc < 0)
			break;
	}
	vv_free(known);
	return rc;
}

/* Steps 1-3. *empty: there was no segment file (the partition is set up,
 * nothing to scan). */
static int load_segments(vv_partition *p, int clean, vv_recovery_point *rp, int *has_rp,
			 int64_t *log_start, int *empty)
{
	listing l;
	VV_TRY(load_listing(p, &l));
	int rc = read_recovery_point(p, rp, has_rp);
	if (rc < 0)
		goto out;
	if (l.n == 0) {
		*empty = 1;
		rc = start_empty(p, rp, *has_rp);
		goto out;
	}
	*log_start = *has_rp ? rp->log_start : l.bases[0];
	if (*log_start < l.bases[0])
		*log_start = l.bases[0];
	rc = attach_all(p, &l, skip_below_start(p, &l, *log_start), clean);
out:
	listing_free(&l);
	return rc;
}

/* ---- the scan and the cut ---------------------------------------------------- */

static void report_cut(vv_partition *p, const vv_segment *s, const vv_scan_result *res,
		       uint64_t later_bytes)
{
	varve_recovery_cut cut;
	memset(&cut, 0, sizeof cut);
	snprintf(cut.topic, sizeof cut.topic, "%s", p->topic);
	cut.partition = (int32_t)p->id;
	cut.segment_base = s->base;
	cut.position = res->valid_end;
	cut.bytes_lost = (res->file_size - res->valid_end) + later_bytes;
	cut.first_offset_lost = res->next_offset;
	cut.last_offset_lost = res->lost_last_offset;
	snprintf(cut.reason, sizeof cut.reason, "%s", res->reason);
	vv_partition_log(p, VARVE_LOG_WARN,
			 "recovery cut segment %020" PRId64 " at byte %" PRIu64 ": %s; %" PRIu64
			 " bytes removed, offsets from %" PRId64 " lost (last readable %" PRId64 ")",
			 s->base, cut.position, res->reason, cut.bytes_lost, cut.first_offset_lost,
			 cut.last_offset_lost);
	if (p->cfg.on_cut)
		p->cfg.on_cut(p->cfg.cut_ctx, &cut);
}

/* Where to start scanning: the recovery point's position when its segment
 * is still that long, else the start of its segment (or of the log). */
static void scan_start(vv_partition *p, const vv_recovery_point *rp, int has_rp, size_t *k,
		       uint64_t *pos, int64_t *off)
{
	*k = 0;
	*pos = 0;
	*off = p->segs[0]->base;
	for (size_t i = 0; has_rp && i < p->nsegs; i++) {
		if (p->segs[i]->base != rp->segment_base)
			continue;
		uint64_t sz = atomic_load(&p->segs[i]->size);
		*k = i;
		if (sz >= rp->position) {
			*pos = rp->position;
			*off = rp->offset;
		} else {
			vv_partition_log(p, VARVE_LOG_ERROR,
					 "segment %020" PRId64 " is %" PRIu64
					 " bytes, shorter than its recovery point (%" PRIu64
					 "): durable data was lost outside varve",
					 rp->segment_base, sz, rp->position);
			*off = p->segs[i]->base;
		}
		break;
	}
}

/* Damage in segment i at res->valid_end: when later segments go too, the
 * last offset they held readably counts as lost. */
static void note_lost_tail(vv_partition *p, size_t i, vv_scan_result *res)
{
	if (i + 1 >= p->nsegs)
		return;
	vv_segment *tail = active(p);
	vv_scan_result tr;
	if (vv_segment_scan(tail, 0, tail->base, &tr) == 0 && tr.next_offset > tail->base)
		res->lost_last_offset = tr.next_offset - 1;
	else if (p->nsegs - 1 > i + 1)
		res->lost_last_offset = tail->base - 1;
	vv_error_clear();
}

/* Damage in segment i at res->valid_end: everything after it goes and the
 * cut is reported. A reader never cuts: it just stops before the damage. */
static int cut_at(vv_partition *p, size_t i, vv_scan_result *res)
{
	vv_segment *s = p->segs[i];
	uint64_t later = 0;
	for (size_t j = i + 1; j < p->nsegs; j++)
		later += atomic_load(&p->segs[j]->size);
	note_lost_tail(p, i, res);
	if (p->cfg.seg.read_only) {
		for (size_t j = i + 1; j < p->nsegs; j++)
			vv_segment_unref(p->segs[j]);
		p->nsegs = i + 1;
		return 0;
	}
	report_cut(p, s, res, later);
	VV_TRY(vv_segment_truncate(s, res->valid_end));
	for (size_t j = i + 1; j < p->nsegs; j++) {
		vv_segment_unlink_files(p->cfg.seg.io, p->dir, p->segs[j]->base);
		vv_segment_unref(p->segs[j]);
	}
	p->nsegs = i + 1;
	if (res->valid_end == 0 && p->nsegs > 1) {
		/* an empty segment that is not the only one: drop it */
		vv_segment_mark_deleted(s);
		vv_segment_unref(s);
		p->nsegs--;
	}
	/* unsynced, the removed files may come back after a crash: the next
	 * open cuts them again */
	(void)vv_io_sync_dir(p->cfg.seg.io, p->dir);
	return 0;
}

/* May a segment end short of the next one's base? Compaction leaves that
 * shape (the last records of a segment superseded): in a compacted topic,
 * or one compacted before (its cleaner checkpoint is there), it is not
 * damage. */
static int gaps_allowed(vv_partition *p)
{
	if (p->cfg.compacted)
		return 1;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", p->dir, VV_CLEANER_CHECKPOINT_FILE);
	int is_dir = 0;
	int rc = vv_io_stat(p->cfg.seg.io, path, NULL, &is_dir);
	vv_error_clear();
	return rc != VARVE_ENOTFOUND; /* unknown (an error) counts as allowed: never cut on a guess */
}

/* Step 4 from segment k, byte pos (offset off), to the end or the first
 * damage. */
static int scan_segments(vv_partition *p, size_t k, uint64_t pos, int64_t off)
{
	int ro = p->cfg.seg.read_only;
	for (size_t i = k; i < p->nsegs; i++) {
		vv_segment *s = p->segs[i];
		vv_scan_result res;
		VV_TRY(vv_segment_scan(s, i == k ? pos : 0, i == k ? off : s->base, &res));
		if (i + 1 < p->nsegs && atomic_load(&s->next_offset) > p->segs[i + 1]->base) {
			/* overlapping segments (files damaged or planted outside
			 * varve): reads of this one stop at the next base with
			 * VARVE_ECORRUPT instead of returning offsets twice */
			vv_partition_log(p, VARVE_LOG_ERROR,
					 "segment %020" PRId64 " holds offsets up to %" PRId64
					 ", past the next segment's base %" PRId64,
					 s->base, atomic_load(&s->next_offset) - 1, p->segs[i + 1]->base);
			atomic_store(&s->next_offset, p->segs[i + 1]->base);
		}
		if (!ro && res.valid_end != 0) {
			pthread_mutex_lock(&s->mu);
			/* the index is only a hint: a failed rewrite is rebuilt later */
			(void)vv_index_rewrite(&s->ix, s->idx, s->tidx);
			pthread_mutex_unlock(&s->mu);
			vv_error_clear();
		}
		if (!ro && res.zero_tail) {
			/* preallocated space past the data: give it back, no loss */
			VV_TRY(vv_segment_truncate(s, res.valid_end));
			vv_partition_log(p, VARVE_LOG_DEBUG,
					 "trimmed %" PRIu64 " preallocated bytes of %020" PRId64,
					 res.zero_tail, s->base);
		}
		if (!res.damaged && i + 1 < p->nsegs &&
		    atomic_load(&s->next_offset) < p->segs[i + 1]->base && !gaps_allowed(p)) {
			/* A hole: a roll under sync=none or interval does not wait
			 * for the old segment's writes, the new segment's name can
			 * reach the disk first, and a power cut took the old tail.
			 * The log stays a prefix: what follows the hole goes too. */
			snprintf(res.reason, sizeof res.reason,
				 "segment ends at offset %" PRId64 ", short of the next segment's base %" PRId64,
				 atomic_load(&s->next_offset), p->segs[i + 1]->base);
			res.damaged = 1;
		}
		if (res.damaged)
			return cut_at(p, i, &res);
	}
	return 0;
}

/* ---- the end of recovery --------------------------------------------------------- */

/* Publish the log's start and end after the scan; returns the end. */
static int64_t publish_bounds(vv_partition *p, int64_t log_start)
{
	vv_segment *last = active(p);
	last->sealed = 0;
	int64_t end = atomic_load(&last->next_offset);
	int64_t start = log_start > p->segs[0]->base ? log_start : p->segs[0]->base;
	if (start > end) {
		/* a recovery point whose log start is past the log end (damaged
		 * outside varve: its checksum matched): nothing is below the end */
		vv_partition_log(p, VARVE_LOG_ERROR,
				 "recovery point log start %" PRId64 " is past the log end %" PRId64
				 "; using the end", start, end);
		start = end;
	}
	atomic_store(&p->start_offset, start);
	atomic_store(&p->end_offset, end);
	return end;
}

/* First append time of a segment, from its first batch header. */
static void read_first_append_time(vv_segment *s)
{
	uint8_t hb[VV_BATCH_HEADER_SIZE];
	vv_batch_header h;
	if (atomic_load(&s->size) >= VV_BATCH_HEADER_SIZE && vv_segment_open_files(s) == 0 &&
	    vv_io_pread_full(s->log, hb, sizeof hb, 0) == 0 &&
	    vv_batch_parse_header(hb, sizeof hb, s->cfg->max_batch, &h) == 0)
		s->first_append_time = h.append_time;
	vv_error_clear();
}

/* Step 5: sync what recovery kept, load the active segment's index and
 * stats (appends extend both), preallocate, write the recovery point. */
static int finish_writer(vv_partition *p, int clean, const vv_recovery_point *rp, int has_rp,
			 int64_t end)
{
	vv_segment *last = active(p);
	VV_TRY(vv_segment_open_files(last));
	/* What recovery kept is on disk from now on. */
	VV_TRY(vv_segment_sync(last));
	/* A rebuild that meets damage below the recovery point keeps the
	 * entries before it; reads that reach the damage say so. */
	int rc = vv_segment_load_index(last);
	if (rc == VARVE_ECORRUPT) {
		vv_partition_log(p, VARVE_LOG_ERROR, "%s", varve_last_error()->message);
		vv_error_clear();
	} else {
		VV_TRY(rc);
	}
	if (vv_segment_load_stats(last) == VARVE_ECORRUPT) {
		/* damage below the recovery point: reads that reach it say so */
		vv_partition_log(p, VARVE_LOG_ERROR, "%s", varve_last_error()->message);
		vv_error_clear();
	}
	VV_TRY(vv_segment_prepare(last));
	if (!last->first_append_time)
		read_first_append_time(last);
	vv_recovery_point nrp = { end, last->base, atomic_load(&last->size),
				  atomic_load(&p->start_offset) };
	/* at the open, before any other thread: written as it is, even when
	 * recovery cut the log below the point on disk */
	if (!clean || !has_rp || rp->offset != end)
		return write_point(p, &nrp);
	remember_point(p, &nrp);
	return 0;
}

int vv_recovery_run(vv_partition *p, int clean)
{
	vv_recovery_point rp = { 0 };
	int has_rp = 0, empty = 0;
	int64_t log_start = 0;
	VV_TRY(load_segments(p, clean, &rp, &has_rp, &log_start, &empty));
	if (empty)
		return 0;
	size_t k;
	uint64_t pos;
	int64_t off;
	scan_start(p, &rp, has_rp, &k, &pos, &off);
	vv_segment *last = active(p);
	if (clean && has_rp && p->segs[k] == last && atomic_load(&last->size) == pos)
		atomic_store(&last->next_offset, off); /* the recovery point is exact */
	else
		VV_TRY(scan_segments(p, k, pos, off));
	int64_t end = publish_bounds(p, log_start);
	if (!p->cfg.seg.read_only)
		VV_TRY(finish_writer(p, clean, &rp, has_rp, end));
	atomic_store(&p->durable_offset, end);
	return 0;
}

/* ---- producer state ------------------------------------------------------------ */

/* Note the producer batches of s from pos on. 1 when damage stopped the
 * replay: it fails the reads that reach it, not the open; producer state
 * past it is lost. */
static int replay_segment(vv_partition *p, vv_segment *s, uint64_t pos, int64_t from,
			  vv_seg_reader *r)
{
	uint64_t size = atomic_load(&s->size);
	for (;;) {
		vv_batch_header h;
		const uint8_t *b;
		int rc = vv_seg_reader_batch(r, s, pos, size, &b, &h);
		if (rc == VARVE_EEND || rc == VV_INCOMPLETE)
			return 0;
		if (rc == VARVE_ECORRUPT) {
			vv_partition_log(p, VARVE_LOG_ERROR, "producer state replay stopped at damage: %s",
					 varve_last_error()->message);
			vv_error_clear();
			return 1;
		}
		VV_TRY(rc);
		if (h.producer_id >= 0 && vv_batch_last_offset(&h) >= from)
			VV_TRY(vv_pstate_note(&p->pstate, h.producer_id, h.producer_epoch,
					      h.base_sequence, h.record_count, h.base_offset,
					      vv_batch_last_offset(&h), h.append_time));
		pos += h.length;
	}
}

int vv_recovery_replay_producers(vv_partition *p)
{
	int64_t from;
	VV_TRY(vv_pstate_load(&p->pstate, p->cfg.seg.io, p->dir, &from));
	int64_t start = atomic_load(&p->start_offset), end = atomic_load(&p->end_offset);
	if (from > end) { /* the snapshot is ahead of a cut log: start over */
		vv_pstate_free(&p->pstate);
		vv_pstate_init(&p->pstate);
		from = start;
	}
	if (from < start)
		from = start;
	if (from >= end)
		return 0;
	vv_segment *s;
	VV_TRY(vv_partition_segment_for(p, from, &s));
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	uint64_t pos = 0;
	int rc = vv_segment_open_files(s);
	if (rc < 0)
		goto out;
	rc = vv_segment_find(s, from, &pos);
	if (rc < 0)
		goto out;
	while ((rc = replay_segment(p, s, pos, from, &r)) == 0) {
		vv_segment *n = vv_partition_next_segment(p, s);
		if (!n)
			break;
		vv_segment_unref(s);
		s = n;
		pos = 0;
	}
out:
	vv_seg_reader_free(&r);
	vv_segment_unref(s);
	return rc < 0 ? rc : 0;
}

/* ---- read-only refresh ------------------------------------------------------- */

/* Read-only handles: the writer's retention removed every segment below
 * first_base (and moved the log start in the recovery point before). Drop
 * them, so this process does not keep their deleted files open; readers in
 * them finish through their own references. Caller holds p->lock. */
static void drop_removed(vv_partition *p, int64_t first_base)
{
	vv_recovery_point rp;
	uint8_t *buf;
	size_t len;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", p->dir, VV_RECOVERY_POINT_FILE);
	int64_t start = first_base;
	if (vv_io_read_small(p->cfg.seg.io, path, 4096, &buf, &len) == 0) {
		if (vv_recovery_point_decode(buf, len, &rp) == 0 && rp.log_start > start)
			start = rp.log_start;
		vv_free(buf);
	}
	vv_error_clear();
	pthread_rwlock_wrlock(&p->segs_lock);
	size_t k = 0; /* segments wholly below the first one listed; never the last */
	while (k + 1 < p->nsegs && p->segs[k]->base < first_base)
		k++;
	vv_segment **gone = k ? vv_malloc(k * sizeof *gone) : NULL;
	if (gone) {
		memcpy(gone, p->segs, k * sizeof *gone);
		memmove(p->segs, p->segs + k, (p->nsegs - k) * sizeof *p->segs);
		p->nsegs -= k;
	}
	if (start > atomic_load(&p->start_offset) && start <= atomic_load(&p->end_offset))
		atomic_store(&p->start_offset, start);
	pthread_rwlock_unlock(&p->segs_lock);
	for (size_t i = 0; gone && i < k; i++)
		vv_segment_unref(gone[i]); /* not ours to unlink: not marked deleted */
	vv_free(gone);
}

/* Attach the segment at base and scan it whole (a read-only handle). */
static int attach_scanned(vv_partition *p, int64_t base, vv_segment **out, vv_scan_result *res)
{
	vv_segment *s;
	VV_TRY(vv_segment_attach(p->dir, base, 0, &p->cfg.seg, &s));
	int rc = vv_segment_scan(s, 0, base, res);
	if (rc < 0) {
		vv_segment_unref(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Add s at the end of the array (readers may be walking it). */
static int add_segment(vv_partition *p, vv_segment *s)
{
	pthread_rwlock_wrlock(&p->segs_lock);
	int rc = vv_partition_push_segment(p, s);
	pthread_rwlock_unlock(&p->segs_lock);
	if (rc < 0)
		vv_segment_unref(s);
	return rc;
}

/* Read-only view of a partition that had no segment at open (its creation
 * was interrupted, or is under way in the writer): take the first segment
 * once it exists. VARVE_EEND while there is none. Caller holds p->lock. */
static int attach_first(vv_partition *p)
{
	int64_t *bases;
	size_t n;
	int swap_files;
	vv_segment *s;
	vv_scan_result res;
	VV_TRY(vv_recovery_list_segments(p, &bases, &n, &swap_files));
	int rc = VARVE_EEND;
	if (!n)
		goto out;
	rc = attach_scanned(p, bases[0], &s, &res);
	if (rc < 0)
		goto out;
	rc = add_segment(p, s);
	if (rc < 0)
		goto out;
	atomic_store(&p->start_offset, bases[0]);
	atomic_store(&p->end_offset, atomic_load(&s->next_offset));
out:
	vv_free(bases);
	return rc;
}

/* Segments the writer rolled to since (bases past *last's), each scanned
 * and added; stops after damage. Caller holds p->lock. */
static int attach_rolled(vv_partition *p, vv_segment **last)
{
	int64_t *bases;
	size_t n;
	int swap_files;
	VV_TRY(vv_recovery_list_segments(p, &bases, &n, &swap_files));
	if (n)
		drop_removed(p, bases[0]);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (bases[i] <= (*last)->base)
			continue;
		/* a hole before the next segment (a power cut took the end of
		 * this one, the writer's open will cut there): read up to it.
		 * A live writer's roll leaves none: this segment was scanned to
		 * its end first, or the next refresh gets there. */
		if (atomic_load(&(*last)->next_offset) < bases[i] && !gaps_allowed(p))
			break;
		vv_segment *s;
		vv_scan_result res;
		rc = attach_scanned(p, bases[i], &s, &res);
		if (rc < 0)
			break;
		atomic_store(&(*last)->next_offset, bases[i]);
		(*last)->sealed = 1;
		rc = add_segment(p, s);
		if (rc < 0)
			break;
		*last = s;
		if (res.damaged)
			break;
	}
	vv_free(bases);
	return rc;
}

static int refresh_locked(vv_partition *p)
{
	if (p->nsegs == 0) {
		int rc = attach_first(p);
		if (rc == VARVE_EEND)
			return 0;
		VV_TRY(rc);
	}
	vv_segment *last = active(p);
	/* New whole batches at the end of the last segment. */
	vv_scan_result res;
	VV_TRY(vv_segment_scan(last, atomic_load(&last->size), atomic_load(&last->next_offset), &res));
	if (!res.damaged)
		VV_TRY(attach_rolled(p, &last));
	atomic_store(&p->end_offset, atomic_load(&last->next_offset));
	return 0;
}

int vv_partition_refresh(vv_partition *p)
{
	if (!p->cfg.seg.read_only)
		return 0;
	pthread_mutex_lock(&p->lock);
	int rc = refresh_locked(p);
	pthread_mutex_unlock(&p->lock);
	if (rc == 0)
		vv_error_clear(); /* damage it stopped at is the reads' to report */
	return rc;
}
