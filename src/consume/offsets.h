/* SPDX-License-Identifier: MIT */
/*
 * offsets.h -- what the store asks of committed offsets beyond the public
 * API: clamping commits after recovery, the lag-limit check of the
 * background thread, and the retention floor of protected groups. The two
 * last are handed to the cleaner as callbacks (it sits below this layer).
 */
#ifndef VV_OFFSETS_H
#define VV_OFFSETS_H

#include "db.h"
#include "topic.h"

/* After open: commits past their partition's end (recovery cut the log)
 * are clamped to the end, reported and, by a writer, committed again. */
int vv_offsets_clamp(varve_db *db);
/* Report groups over their lag limit (ctx is the varve_db). */
void vv_offsets_check_lag(varve_db *db);
/* Lag-limit crossings reported so far (varve_stats). */
uint64_t vv_offsets_lag_alerts(varve_db *db);
/* Lowest committed offset among t's retain_for_groups for a partition
 * (INT64_MAX if none; ctx is the varve_db). */
int64_t vv_offsets_retention_floor(void *ctx, vv_topic *t, uint32_t part);

#endif
