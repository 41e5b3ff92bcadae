/* SPDX-License-Identifier: MIT */
/*
 * report.h -- the recovery report of an open store: what recovery cut from
 * partitions, and commits clamped to a shorter log (varve_recovery_cuts).
 * Appended from any thread during open; read-only afterwards.
 */
#ifndef VV_REPORT_H
#define VV_REPORT_H

#include <stddef.h>

#include "varve.h"

typedef struct vv_report vv_report;

int vv_report_new(vv_report **out);
void vv_report_free(vv_report *r);
/* Record one entry; ctx is the vv_report (the partitions' cut callback).
 * Out of memory loses the entry, not the cut (it is also logged). */
void vv_report_add(void *ctx, const varve_recovery_cut *cut);
/* Borrowed, valid until vv_report_free. */
void vv_report_get(vv_report *r, const varve_recovery_cut **cuts, size_t *n);

#endif
