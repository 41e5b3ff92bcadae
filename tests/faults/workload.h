/* SPDX-License-Identifier: MIT */
/*
 * workload.h -- the fixed workload the I/O-error and OOM loops replay with a
 * fault at call N: open; create a plain topic (3 partitions), a compacted
 * one and a retention one; produce single records and a batch across
 * partitions with small segments (rolls); read back with an iterator;
 * commit offsets (group commit and a consumer poll/commit); one compaction
 * and retention round; more appends; create, fill and delete a topic;
 * sync; close. Every call's result is checked (fu_check_error) and
 * successes are entered in the ledger as acknowledged.
 */
#ifndef VARVE_WORKLOAD_H
#define VARVE_WORKLOAD_H

#include "fault_util.h"

typedef struct wl_stats {
	long calls;         /* API calls made */
	long failing_calls; /* of which returned an error */
	long codes[32];     /* by -code */
	long bad;           /* failing calls with a bad code or no message */
	char why[768];      /* the first bad one */
	int opened;         /* varve_open succeeded */
} wl_stats;

/* Run the workload on the store at path, opened with the I/O table io
 * (NULL: the operating system), filling the (fresh) ledger. */
void wl_run(const char *path, const struct varve_io_methods *io, fu_ledger *l, wl_stats *st);

/* "EIO 12, ENOSPC 3" */
void wl_codes(const long codes[32], char *out, size_t cap);

#endif
