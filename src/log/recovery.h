/* SPDX-License-Identifier: MIT */
/*
 * recovery.h -- loading a partition from its directory at open (Kafka's
 * LogLoader is the model), and the recovery point that bounds it.
 *
 * A writer's open, in order:
 *  1. list the segment logs; finish or roll back a compaction swap a crash
 *     interrupted (swap.h); remove stray temp files;
 *  2. read the recovery point (a damaged one means a full scan);
 *  3. finish a retention delete a crash interrupted (segments wholly below
 *     the log start go) and attach the rest, sized by the clean close's size
 *     list (sizes.h) or by a stat each;
 *  4. scan from the recovery point to the end of the log: every batch is
 *     checksummed and indexed; zeros past the data are preallocated space,
 *     given back; at the first damage the segment is cut there, later
 *     segments go, and the cut is reported (log callback and on_cut);
 *  5. sync what was kept, load the active segment's index and stats,
 *     preallocate ahead of it, and write the recovery point.
 * A read-only open does 1-4 without changing anything: it reads an
 * interrupted swap as the writer's next open will, and stops before damage
 * instead of cutting it. After a clean close whose recovery point is exact,
 * step 4 scans nothing. A read-only handle later catches up with what the
 * writer appended, rolled and removed (vv_partition_refresh, partition.h).
 *
 * May call: log (segment, swap, sizes, producer, partition), base.
 */
#ifndef VV_RECOVERY_H
#define VV_RECOVERY_H

#include "partition.h"

/* Steps 1-5 above on a partition object with no segments yet. `clean` says
 * the store was closed cleanly. */
int vv_recovery_run(vv_partition *p, int clean);

/* Producer state at a writer's open: the snapshot, then the batches after
 * it (damage stops the replay with a log message, not the open). */
int vv_recovery_replay_producers(vv_partition *p);

/* Write the recovery point atomically and remember it in p (rp_written,
 * rp_seg, rp_pos). */
int vv_recovery_point_write(vv_partition *p, const vv_recovery_point *rp);

/* The bases of the segment logs in p->dir, sorted (caller frees *bases);
 * *swap_files says an interrupted compaction swap left files behind. A
 * writer also removes temp files of interrupted atomic writes. */
int vv_recovery_list_segments(vv_partition *p, int64_t **bases, size_t *n, int *swap_files);

#endif
