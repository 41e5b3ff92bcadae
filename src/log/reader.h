/* SPDX-License-Identifier: MIT */
/*
 * reader.h -- reads the records of one partition in offset order, across
 * segments, without a malloc per record. Holds a reference on the segment it
 * is in, so retention or compaction cannot pull the file from under it.
 */
#ifndef VV_READER_H
#define VV_READER_H

#include "partition.h"
#include "record_next.h"

typedef struct vv_reader {
	vv_partition *p;
	vv_segment *seg;
	uint64_t pos;     /* position of the current (or next) batch in seg */
	int64_t next;     /* next offset to return */
	vv_seg_reader sr;
	vv_record_reader rr;
	vv_batch_header bh; /* the current batch's header (rr's may be a map chunk's) */
	/* a read that entered the current batch by its record map: the map,
	 * the batch's bytes, and the first chunk not checked yet (0: none) */
	vv_batch_map map;
	const uint8_t *map_batch;
	uint32_t map_rest;
	int reported; /* batch_next reported its own error */
	int in_batch;
	uint32_t batch_len;
	uint8_t *scratch;
	size_t scap;
	varve_header *hdrs;
	size_t hcap;
	varve_record rec;
	const vv_batch_header *last_header; /* header of the batch the last record came from */
	int fresh; /* nothing returned since the last seek (see damage in reader.c) */
	/* vv_reader_next_batch: the batch's records and their headers */
	varve_record *brecs;
	size_t bcap;
	varve_header *bhdrs;
	size_t bhcap;
} vv_reader;

int vv_reader_init(vv_reader *r, vv_partition *p, int64_t offset);
int vv_reader_seek(vv_reader *r, int64_t offset);
/* VARVE_OK with *out, VARVE_EEND, or an error. */
int vv_reader_next(vv_reader *r, const varve_record **out);
/* vv_reader_next, with the next record of the batch the reader is in
 * decoded inline: for loops that read record after record. Everything else
 * (batch ends, rare encodings, damage) is vv_reader_next's. */
static inline int vv_reader_next_inline(vv_reader *r, const varve_record **out)
{
	/* rec.partition was set when the reader entered the batch */
	if (r->in_batch && vv_record_try_next(&r->rr, &r->rec, &r->hdrs, &r->hcap) == 0 &&
	    r->rec.offset >= r->next) {
		r->next = r->rec.offset + 1;
		r->fresh = 0;
		*out = &r->rec;
		return 0;
	}
	return vv_reader_next(r, out);
}
/* The records of the next batch from the reader's position on (at least
 * one), and that batch's header; valid until the next call. VARVE_EEND or
 * an error as vv_reader_next. */
int vv_reader_next_batch(vv_reader *r, const vv_batch_header **h, const varve_record **recs,
			 size_t *n);
/* After vv_reader_next failed with VARVE_ECORRUPT: move to the next batch
 * that passes its checks. [*from, *to) are the offsets passed over. 0, or
 * VARVE_EEND when the damage runs to the end of what is readable now. */
int vv_reader_skip_damaged(vv_reader *r, int64_t *from, int64_t *to);
void vv_reader_free(vv_reader *r);

#endif
