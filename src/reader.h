/* SPDX-License-Identifier: MIT */
/*
 * reader.h -- reads the records of one partition in offset order, across
 * segments, without a malloc per record. Holds a reference on the segment it
 * is in, so retention or compaction cannot pull the file from under it.
 */
#ifndef VV_READER_H
#define VV_READER_H

#include "partition.h"

typedef struct vv_reader {
	vv_partition *p;
	vv_segment *seg;
	uint64_t pos;     /* position of the current (or next) batch in seg */
	int64_t next;     /* next offset to return */
	vv_seg_reader sr;
	vv_record_reader rr;
	int in_batch;
	uint32_t batch_len;
	uint8_t *scratch;
	size_t scap;
	varve_header *hdrs;
	size_t hcap;
	varve_record rec;
	const vv_batch_header *last_header; /* header of the batch the last record came from */
} vv_reader;

int vv_reader_init(vv_reader *r, vv_partition *p, int64_t offset);
int vv_reader_seek(vv_reader *r, int64_t offset);
/* VARVE_OK with *out, VARVE_EEND, or an error. */
int vv_reader_next(vv_reader *r, const varve_record **out);
void vv_reader_free(vv_reader *r);

#endif
