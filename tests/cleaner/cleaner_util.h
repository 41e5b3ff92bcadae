/* SPDX-License-Identifier: MIT */
/*
 * cleaner_util.h -- helpers for the cleaner suites: a store with an injected
 * clock and no background thread, topic creation with a config, and whole
 * partition contents as comparable lists.
 */
#ifndef CLEANER_UTIL_H
#define CLEANER_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "support.h"

#define T0 1700000000000LL

/* Store options: sync none, no background thread, clock clk (set to T0).
 * CL_DEBUG_LOG=1 in the environment prints warnings and errors to stderr. */
varve_options cl_opts(t_clock *clk);
varve_topic_config cl_cfg(void);
void cl_topic(varve_db *db, const char *name, const varve_topic_config *c);

/* One record as stored: everything that must survive compaction. */
typedef struct cl_rec {
	int64_t off, ts;
	uint8_t *key, *val; /* NULL = null key / tombstone */
	size_t klen, vlen;
	size_t nh;
	uint8_t **hk, **hv;
	size_t *hkl, *hvl;
} cl_rec;

typedef struct cl_list {
	cl_rec *v;
	size_t n, cap;
} cl_list;

void cl_list_init(cl_list *l);
void cl_list_free(cl_list *l);
/* Append a deep copy of r with offset off. */
void cl_list_add(cl_list *l, const varve_record *r, int64_t off);
/* Every record of a partition from its log start (asserts EEND at the end
 * and strictly increasing offsets). */
void cl_read(varve_db *db, const char *topic, uint32_t part, cl_list *out);
/* 0 if equal, else 1 with the first difference in why. */
int cl_list_diff(const cl_list *a, const cl_list *b, char *why, size_t cap);
/* Compare one record (key, value, headers, timestamp, offset). */
int cl_rec_eq(const cl_rec *a, const cl_rec *b);

/* Bases of the segments of a partition, sorted; returns the count. */
size_t cl_segments(const char *store, const char *topic, uint32_t part, int64_t *bases,
		   size_t max);
/* Bytes of whole batches in a .log file (an active segment's file may be
 * longer: preallocated zeros). */
uint64_t cl_seg_data(const char *log_path);
/* The first n bytes of a file. */
uint8_t *cl_read_prefix(const char *path, size_t n);
/* Total data bytes of a partition's .log files. */
uint64_t cl_log_bytes(const char *store, const char *topic, uint32_t part);
/* Number of files in a partition directory with one of the swap suffixes. */
size_t cl_junk(const char *store, const char *topic, uint32_t part);

varve_stats cl_stats(varve_db *db);

#endif
