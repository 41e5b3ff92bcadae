/* SPDX-License-Identifier: MIT */
/*
 * reader.c -- sequential record reader over a partition (see reader.h), and
 * the lookup of the first offset at or after a time (vv_partition_offset_for_time,
 * declared in partition.h).
 * May call: log (partition, segment, batch), base.
 */
#include <inttypes.h>
#include <stdio.h>

#include "reader.h"
#include "util.h"

int vv_reader_init(vv_reader *r, vv_partition *p, int64_t offset)
{
	memset(r, 0, sizeof *r);
	r->p = p;
	vv_seg_reader_init(&r->sr);
	return vv_reader_seek(r, offset);
}

void vv_reader_free(vv_reader *r)
{
	vv_segment_unref(r->seg);
	vv_seg_reader_free(&r->sr);
	vv_free(r->scratch);
	vv_free(r->hdrs);
	vv_free(r->brecs);
	vv_free(r->bhdrs);
	memset(r, 0, sizeof *r);
}

int vv_reader_seek(vv_reader *r, int64_t offset)
{
	vv_segment_unref(r->seg);
	r->seg = NULL;
	r->in_batch = 0;
	vv_seg_reader_reset(&r->sr);
	if (offset > atomic_load(&r->p->end_offset) && r->p->cfg.seg.read_only)
		(void)vv_partition_refresh(r->p);
	vv_segment *s;
	int frc = vv_partition_segment_for(r->p, offset, &s);
	if (frc == VARVE_EEND) { /* no segment (yet): an empty partition */
		r->next = offset;
		r->fresh = 1;
		return 0;
	}
	VV_TRY(frc);
	uint64_t pos;
	int rc = vv_segment_find(s, offset, &pos);
	if (rc) {
		vv_segment_unref(s);
		return rc;
	}
	r->seg = s;
	r->pos = pos;
	r->next = offset;
	r->fresh = 1;
	return 0;
}

static int corrupt_here(vv_reader *r, const char *what)
{
	char path[4096];
	vv_segment_path(path, sizeof path, r->seg->dir, r->seg->base, ".log");
	return VV_CORRUPT(path, r->pos, what);
}

/* A seek lands by index entries and unchecked headers, so after damage it
 * may land on a damaged batch although the offset asked for lies beyond it.
 * If the first valid batch after the damage starts at or before that
 * offset, the offset is not in the damage: go on from there. Otherwise the
 * offset is unreadable and the damage is reported. */
static int past_damage(vv_reader *r, uint64_t limit)
{
	vv_error_saved e;
	vv_error_save(&e);
	uint64_t q;
	vv_batch_header h;
	int rc = vv_segment_resync(r->seg, r->pos + 1, limit, r->seg->base, &q, &h);
	if (rc == 0 && h.base_offset <= r->next) {
		vv_error_clear();
		r->pos = q;
		return 1;
	}
	vv_error_restore(&e);
	return 0;
}

int vv_reader_skip_damaged(vv_reader *r, int64_t *from, int64_t *to)
{
	*from = *to = r->next;
	if (!r->seg)
		return VARVE_EEND;
	if (r->in_batch) {
		/* the batch passed its checksum but its records do not decode */
		r->in_batch = 0;
		r->pos += r->batch_len;
		int64_t last = vv_batch_last_offset(&r->bh);
		if (last + 1 > r->next)
			r->next = last + 1;
		*to = r->next;
		vv_error_clear();
		return 0;
	}
	uint64_t limit = atomic_load_explicit(&r->seg->size, memory_order_acquire);
	uint64_t q;
	vv_batch_header h;
	int rc = vv_segment_resync(r->seg, r->pos + 1, limit, r->next, &q, &h);
	if (rc == 0) {
		r->pos = q;
		if (h.base_offset > r->next)
			r->next = h.base_offset;
		*to = r->next;
		vv_error_clear();
		return 0;
	}
	if (rc != VARVE_EEND)
		return rc;
	/* the rest of this segment is damage: go on with the next one */
	int64_t seg_end = atomic_load(&r->seg->next_offset);
	r->pos = limit;
	if (seg_end > r->next)
		r->next = seg_end;
	*to = r->next;
	vv_error_clear();
	vv_segment *n = vv_partition_next_segment(r->p, r->seg);
	if (!n)
		return *to > *from ? 0 : VARVE_EEND;
	vv_segment_unref(r->seg);
	r->seg = n;
	r->pos = 0;
	if (r->next < n->base)
		r->next = n->base;
	*to = r->next;
	return 0;
}

/* The reader reached the end of its segment's data: 0 to go on (in the
 * segment that now holds the next offset, the next segment, or after a
 * read-only refresh found more), VARVE_EEND at the partition's end. */
static int at_segment_end(vv_reader *r, int *refreshed)
{
	if (atomic_load(&r->seg->replaced) || atomic_load(&r->seg->deleted)) {
		/* Compaction merged or retention removed what follows this old
		 * version: continue from the segment that now holds the next
		 * offset, not from "the next base". */
		int64_t start = atomic_load(&r->p->start_offset);
		return vv_reader_seek(r, r->next < start ? start : r->next);
	}
	vv_segment *n = vv_partition_next_segment(r->p, r->seg);
	if (n) {
		/* A roll sealed this segment: take what was appended to it
		 * between our size check and the roll. */
		if (r->pos < atomic_load_explicit(&r->seg->size, memory_order_acquire)) {
			vv_segment_unref(n);
			return 0;
		}
		vv_partition_release(r->p, r->seg);
		r->seg = n;
		r->pos = 0;
		if (r->next < n->base)
			r->next = n->base;
		return 0;
	}
	if (r->p->cfg.seg.read_only && !*refreshed) {
		*refreshed = 1;
		return vv_partition_refresh(r->p);
	}
	/* records in the writer's append buffer: write them and read on */
	if (vv_partition_flush_for_read(r->p))
		return 0;
	return VARVE_EEND;
}

/* Step the record reader of a batch just entered to the offset wanted:
 * through the batch's position table when the batch's checksum is known to
 * match for good (not with verify_always, whose files may change under a
 * read-only handle), else record by record. 0 or VARVE_ECORRUPT. */
static int skip_to_next(vv_reader *r)
{
	if (!r->seg->cfg->verify_always) {
		if (vv_postab_skip(&r->seg->ptabs, r->pos, &r->rr, r->next) == 0)
			return 0;
	}
	return vv_record_skip_before(&r->rr, r->next);
}

/* The batch at b came back unchecked (vv_seg_reader_batch_for): check its
 * record map, which vouches for the header, and then only the chunk that
 * holds r->next. A map and chunks that matched once are remembered with the
 * segment (as whole batches are: vv_seg_reader_batch), except under
 * verify_always. 0 with *chunk set, or 0 with *chunk = UINT32_MAX when the
 * whole batch lies before r->next (skipped on its checked header) or was
 * checked whole; else the whole check's error. */
static int check_by_map(vv_reader *r, const uint8_t *b, const vv_batch_header *h, uint64_t limit,
			uint32_t *chunk)
{
	vv_postab_set *ps = r->seg->cfg->verify_always ? NULL : &r->seg->ptabs;
	uint32_t count = vv_load32(b + h->length - VV_MAP_TRAILER_SIZE);
	int known = ps ? vv_postab_chunk_checked(ps, r->pos, count, UINT32_MAX) : 0;
	*chunk = UINT32_MAX;
	if (known)
		vv_batch_map_view(b, h, &r->map);
	else if (vv_batch_map_open(b, h, &r->map))
		goto whole;
	if (vv_batch_last_offset(h) < r->next) {
		if (ps && !known)
			vv_postab_note_chunks(ps, r->pos, count, 0, 0);
		return 0;
	}
	uint32_t k = vv_batch_map_find(&r->map, (uint32_t)(r->next - h->base_offset),
				       h->last_offset_delta);
	if (known && vv_postab_chunk_checked(ps, r->pos, count, k) == 2) {
		*chunk = k;
		return 0;
	}
	if (vv_batch_map_chunks_ok(b, h, &r->map, k, k + 1) == 0) {
		if (ps)
			vv_postab_note_chunks(ps, r->pos, count, k, k + 1);
		*chunk = k;
		return 0;
	}
whole: /* a map or chunk that does not match: the whole checksum says what is wrong */
	return vv_seg_reader_check(&r->sr, r->seg, b, r->pos, h, limit);
}

/* The next record of the batch the reader is in. A read that entered by
 * the record map checked one chunk: the rest of the batch's chunks are
 * checked when the reader walks past it. */
static int batch_next(vv_reader *r)
{
	if (vv_record_try_next(&r->rr, &r->rec, &r->hdrs, &r->hcap) == 0)
		return 0;
	/* not a plain record: the full decoder decides */
	int rc = vv_record_next(&r->rr, &r->rec, &r->hdrs, &r->hcap);
	if (rc != VARVE_EEND || !r->map_rest)
		return rc;
	uint32_t from = r->map_rest;
	r->map_rest = 0;
	vv_postab_set *ps = r->seg->cfg->verify_always ? NULL : &r->seg->ptabs;
	int ok = 1;
	for (uint32_t i = from; i < r->map.count && ok; i++)
		ok = (ps && vv_postab_chunk_checked(ps, r->pos, r->map.count, i) == 2) ||
		     vv_batch_map_chunks_ok(r->map_batch, &r->bh, &r->map, i, i + 1) == 0;
	if (ok && ps)
		vv_postab_note_chunks(ps, r->pos, r->map.count, from, r->map.count);
	if (!ok) {
		uint64_t limit = atomic_load_explicit(&r->seg->size, memory_order_acquire);
		r->reported = 1;
		VV_TRY(vv_seg_reader_check(&r->sr, r->seg, r->map_batch, r->pos, &r->bh, limit));
		return corrupt_here(r, "the batch's record map does not match its records");
	}
	vv_record_reader_window(&r->rr, r->map_batch, &r->map, from, r->map.count);
	return vv_record_next(&r->rr, &r->rec, &r->hdrs, &r->hcap);
}

/* batch_next failed: the error it reported, or "does not decode". */
static int batch_fault(vv_reader *r, int rc)
{
	if (rc == VARVE_ENOMEM)
		return rc;
	if (r->reported) {
		r->reported = 0;
		return rc;
	}
	return corrupt_here(r, "records do not decode");
}

int vv_reader_next(vv_reader *r, const varve_record **out)
{
	*out = NULL;
	if (!r->seg) {
		int64_t start = atomic_load(&r->p->start_offset);
		VV_TRY(vv_reader_seek(r, r->next < start ? start : r->next));
		if (!r->seg && r->p->cfg.seg.read_only) {
			VV_TRY(vv_partition_refresh(r->p)); /* the writer may have made one */
			VV_TRY(vv_reader_seek(r, r->next));
		}
		if (!r->seg)
			return VARVE_EEND; /* no segment yet */
	}
	int refreshed = 0;
	for (;;) {
		if (r->in_batch) {
			int rc = batch_next(r);
			if (rc == 0) {
				if (r->rec.offset < r->next)
					continue;
				r->next = r->rec.offset + 1;
				r->rec.partition = (int32_t)r->p->id;
				r->fresh = 0;
				*out = &r->rec;
				return 0;
			}
			if (rc != VARVE_EEND)
				return batch_fault(r, rc);
			r->in_batch = 0;
			r->pos += r->batch_len;
			if (vv_batch_last_offset(&r->bh) + 1 > r->next)
				r->next = vv_batch_last_offset(&r->bh) + 1;
			continue;
		}
		uint64_t limit = atomic_load_explicit(&r->seg->size, memory_order_acquire);
		vv_batch_header h;
		const uint8_t *b;
		int checked = 1;
		uint32_t chunk = UINT32_MAX;
		int rc = vv_seg_reader_batch_for(&r->sr, r->seg, r->pos, limit, r->next, &b, &h,
						 &checked);
		if (rc == 0 && !checked)
			rc = check_by_map(r, b, &h, limit, &chunk);
		if (rc == VV_INCOMPLETE)
			/* the published size only ever covers whole batches: a batch
			 * running past it is damage, not the end */
			rc = corrupt_here(r, "batch runs past the end of the segment");
		if (rc == VARVE_ECORRUPT && r->fresh && past_damage(r, limit))
			continue;
		if (rc == VARVE_EEND) {
			VV_TRY(at_segment_end(r, &refreshed));
			continue;
		}
		if (rc)
			return rc;
		/* a sealed segment ends below the next one's base (its next_offset);
		 * a batch past it means overlapping segments: never return those */
		if (vv_batch_last_offset(&h) >=
		    atomic_load_explicit(&r->seg->next_offset, memory_order_acquire))
			return corrupt_here(r, "batch holds offsets past the segment's end");
		if (vv_batch_last_offset(&h) < r->next) {
			r->pos += h.length;
			continue;
		}
		rc = vv_record_reader_init(&r->rr, b, &h, &r->scratch, &r->scap,
					   r->seg->cfg->max_batch);
		if (rc)
			return rc == VARVE_ENOMEM ? rc : corrupt_here(r, "compressed records do not inflate");
		r->bh = h;
		r->map_rest = 0;
		if (chunk != UINT32_MAX) {
			vv_record_reader_window(&r->rr, b, &r->map, chunk, chunk + 1);
			r->map_batch = b;
			r->map_rest = chunk + 1 < r->map.count ? chunk + 1 : 0;
			if (vv_record_skip_before(&r->rr, r->next))
				return corrupt_here(r, "records do not decode");
		} else if (h.base_offset < r->next && skip_to_next(r))
			return corrupt_here(r, "records do not decode");
		r->batch_len = h.length;
		r->in_batch = 1;
		r->last_header = &r->bh;
		/* vv_reader_next_inline returns the batch's records without setting it */
		r->rec.partition = (int32_t)r->p->id;
	}
}

/* Append rec (with its headers) to the batch arrays; header pointers are
 * set once the batch is complete, as the header array may move. */
static int batch_add(vv_reader *r, size_t i, size_t *nh, const varve_record *rec)
{
	if (i == r->bcap) {
		size_t nc = r->bcap ? r->bcap * 2 : 64;
		varve_record *nv = vv_realloc(r->brecs, nc * sizeof *nv);
		if (!nv)
			return vv_error_set(VARVE_ENOMEM, 0, "batch records");
		r->brecs = nv;
		r->bcap = nc;
	}
	if (*nh + rec->header_count > r->bhcap) {
		size_t nc = r->bhcap ? r->bhcap * 2 : 64;
		while (nc < *nh + rec->header_count)
			nc *= 2;
		varve_header *nv = vv_realloc(r->bhdrs, nc * sizeof *nv);
		if (!nv)
			return vv_error_set(VARVE_ENOMEM, 0, "batch headers");
		r->bhdrs = nv;
		r->bhcap = nc;
	}
	r->brecs[i] = *rec;
	if (rec->header_count)
		memcpy(r->bhdrs + *nh, rec->headers, rec->header_count * sizeof *r->bhdrs);
	r->brecs[i].headers = NULL;
	r->brecs[i].flags = (uint32_t)*nh; /* index of the first header, for now */
	*nh += rec->header_count;
	return 0;
}

int vv_reader_next_batch(vv_reader *r, const vv_batch_header **h, const varve_record **recs,
			 size_t *n)
{
	*h = NULL;
	*recs = NULL;
	*n = 0;
	const varve_record *rec;
	VV_TRY(vv_reader_next(r, &rec)); /* the first record; the reader is now in its batch */
	size_t cnt = 0, nh = 0;
	int rc = batch_add(r, cnt++, &nh, rec);
	while (rc == 0) {
		rc = batch_next(r);
		if (rc == VARVE_EEND) {
			rc = 0;
			r->in_batch = 0;
			r->pos += r->batch_len;
			if (vv_batch_last_offset(&r->bh) + 1 > r->next)
				r->next = vv_batch_last_offset(&r->bh) + 1;
			break;
		}
		if (rc)
			return batch_fault(r, rc);
		if (r->rec.offset < r->next)
			continue;
		r->next = r->rec.offset + 1;
		r->rec.partition = (int32_t)r->p->id;
		rc = batch_add(r, cnt++, &nh, &r->rec);
	}
	if (rc)
		return rc;
	for (size_t i = 0; i < cnt; i++) {
		varve_record *x = &r->brecs[i];
		x->headers = x->header_count ? r->bhdrs + x->flags : NULL;
		x->flags = 0;
	}
	*h = &r->bh;
	*recs = r->brecs;
	*n = cnt;
	return 0;
}

/* ---- offsets by time ------------------------------------------------------------- */

/* Scan the batches of s from pos for the first record with timestamp >= ts. */
/* Records below min_offset (the log start, inside the first segment) are
 * not stored any more, whatever their timestamp. */
static int scan_time(vv_segment *s, uint64_t pos, int64_t ts, int64_t min_offset, int64_t *out,
		     int *found)
{
	vv_seg_reader r;
	vv_seg_reader_init(&r);
	uint8_t *scratch = NULL;
	size_t scap = 0, hcap = 0;
	varve_header *hdrs = NULL;
	uint64_t limit = atomic_load(&s->size);
	int rc = 0;
	*found = 0;
	while (!*found) {
		vv_batch_header h;
		const uint8_t *b;
		rc = vv_seg_reader_batch(&r, s, pos, limit, &b, &h);
		if (rc == VARVE_EEND || rc == VV_INCOMPLETE) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		if (h.max_timestamp >= ts && vv_batch_last_offset(&h) >= min_offset) {
			vv_record_reader rr;
			varve_record rec;
			if ((rc = vv_record_reader_init(&rr, b, &h, &scratch, &scap, s->cfg->max_batch))) {
				char path[4096];
				vv_segment_path(path, sizeof path, s->dir, s->base, ".log");
				rc = VV_CORRUPT(path, pos, "records do not decode");
				break;
			}
			while ((rc = vv_record_next(&rr, &rec, &hdrs, &hcap)) == 0) {
				if (rec.timestamp >= ts && rec.offset >= min_offset) {
					*out = rec.offset;
					*found = 1;
					break;
				}
			}
			if (rc == VARVE_EEND)
				rc = 0;
			if (rc)
				break;
		}
		pos += h.length;
	}
	vv_seg_reader_free(&r);
	vv_free(scratch);
	vv_free(hdrs);
	return rc;
}

/* The first offset >= min_offset with a timestamp >= ts in s, if any. */
static int time_in_segment(vv_segment *s, int64_t ts, int64_t min_offset, int64_t *out,
			   int *found)
{
	uint64_t pos;
	VV_TRY(vv_segment_find_time(s, ts, &pos, found));
	if (!*found)
		return 0;
	return scan_time(s, pos, ts, min_offset, out, found);
}

int vv_partition_offset_for_time(vv_partition *p, int64_t ts, int64_t *out)
{
	/* the scan reads the files: records in the append buffer go there first */
	(void)vv_partition_flush_for_read(p);
	*out = atomic_load(&p->end_offset);
	int64_t start = atomic_load(&p->start_offset);
	vv_segment *s;
	VV_TRY(vv_partition_segment_for(p, start, &s));
	while (s) {
		int found = 0;
		int rc = time_in_segment(s, ts, start, out, &found);
		if (rc < 0 || found) {
			vv_segment_unref(s);
			return rc;
		}
		vv_segment *n = vv_partition_next_segment(p, s);
		vv_segment_unref(s);
		s = n;
	}
	*out = atomic_load(&p->end_offset);
	return vv_error_set(VARVE_ENOTFOUND, 0, "no record in %s/%u has a timestamp >= %" PRId64,
			    p->topic, p->id, ts);
}
