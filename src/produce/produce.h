/* SPDX-License-Identifier: MIT */
/*
 * produce.h -- private to the produce layer: the checks and plumbing that
 * varve_append (produce.c) and varve_append_async (async.c) share.
 */
#ifndef VV_PRODUCE_H
#define VV_PRODUCE_H

#include "db.h"
#include "registry.h"

/* Check an append's arguments; on success *t_out is the topic (referenced)
 * and *ao the partition's append options. */
int vv_append_check(varve_db *db, const char *topic, int32_t partition, const varve_record *recs,
		    size_t n, const varve_append_options *opts, vv_topic **t_out,
		    vv_append_opts *ao);
void vv_append_result_fill(varve_append_result *res, int32_t partition, int64_t base,
			   const vv_append_opts *ao);
/* An array of pointers to recs[0..n) (free with vv_free); NULL: no memory. */
const varve_record **vv_append_ptrs(const varve_record *recs, size_t n);

#endif
