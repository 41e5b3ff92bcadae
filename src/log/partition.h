/* SPDX-License-Identifier: MIT */
/*
 * partition.h -- an ordered list of segments: append with group commit,
 * roll, recovery from the recovery point, read positioning, log start/end.
 *
 * NOTES ON THE DESIGN
 *  1. Offsets below `durable` are on disk. Under sync=always an append
 *     returns only once durable passes its last offset. Appenders share
 *     fdatasyncs: the first to need one becomes the leader, syncs the active
 *     segment, and wakes every appender it covered (group commit).
 *  2. A roll under interval/always syncs the old segment before the new one
 *     takes writes, so a sync of the active segment covers every earlier
 *     offset. New files are followed by an fsync of the directory.
 *  3. An fdatasync error moves the partition to FAILED: every later append
 *     returns VARVE_EIO, reads keep working, and the state lasts until the
 *     store is reopened (the page cache may have dropped the data: a retry
 *     that succeeds would prove nothing).
 *  4. The recovery point file names an offset, the segment holding it and
 *     its byte position; everything before is known durable and valid.
 *     After a crash only the bytes after it are scanned.
 *  5. Locks: `lock` serializes appenders; `segs_lock` (rwlock) guards the
 *     segment array; `sync_mu` guards group-commit state. Order: lock ->
 *     segs_lock -> segment mu; sync_mu is never held with another.
 *  6. Gather: before it syncs, an appender's leader waits for the appenders
 *     it expects (as many appends as a recent sync found pending), woken by
 *     each joiner that arrives, for at most half the recent fdatasync time
 *     (group_commit_wait_us, when set, is a fixed wait instead, as it always
 *     was). Without the wait, producers that
 *     a sync just released come back while the next sync already runs, and
 *     the groups split in two. A gather that runs out of time lowers the
 *     expectation to what came, so a lone producer waits at most once.
 *  7. Append buffer (append_buffer_bytes, never under sync=always or in
 *     mmap mode): small batches are copied to a per-partition buffer under
 *     `lock` and written to the active segment in one write when the next
 *     one would not fit, before a roll, before every sync (so `durable`
 *     never covers a buffered offset), at close, at each background round,
 *     and when a reader in the process reaches the written end while
 *     records wait (vv_partition_flush_for_read). Offsets, the end offset
 *     and producer state advance at the append; the segment's size, next
 *     offset and index only at the write, so readers never see the buffer
 *     itself, only the file, and the recovery point stays exact. A failed
 *     write keeps the buffer: its error goes to the caller that flushed,
 *     and the next flush writes the same bytes at the same position again.
 */
#ifndef VV_PARTITION_H
#define VV_PARTITION_H

#include <pthread.h>
#include <stdatomic.h>

#include "batch.h"
#include "producer.h"
#include "segment.h"
#include "varve.h"

#define VV_RECOVERY_POINT_FILE "recovery-point"
#define VV_RECOVERY_POINT_SIZE 48
#define VV_RECOVERY_POINT_MAGIC 0x52565256u /* "VRVR" */

struct vv_partition;

/* The cleaner's checkpoint in a partition's directory (clean/compact.c
 * writes it): recovery reads only whether it is there (a partition that was
 * ever compacted may have segments that end short of the next base). */
#define VV_CLEANER_CHECKPOINT_FILE "cleaner-checkpoint"

typedef struct vv_part_config {
	vv_seg_config seg;
	uint32_t max_write_batch; /* max_record_bytes: the largest batch an append may write */
	uint64_t segment_bytes;
	int64_t segment_ms;
	int sync_policy;
	int codec;
	unsigned dir_mode;
	uint32_t group_commit_wait_us;
	uint64_t min_free_bytes; /* appends fail with VARVE_ENOSPC below this */
	uint32_t append_buffer_bytes; /* design note 7; 0 = off */
	int compacted;           /* the topic's policy compacts: segments may end short of the next base */
	long max_open;           /* segment files kept open (process-wide count) */
	varve_clock_fn clock_fn;
	void *clock_ctx;
	varve_log_fn log_fn;
	void *log_ctx;
	/* where recovery reports what it cut */
	void (*on_cut)(void *ctx, const varve_recovery_cut *cut);
	void *cut_ctx;
	/* called after records become readable and again once they are
	 * durable (consumers' wake-up) */
	void (*on_append)(void *ctx, struct vv_partition *p);
	void *append_ctx;
	/* nonce of the CLEAN file found at open (0 = none): a segment size list
	 * carrying it replaces the stat of every segment (sizes.h) */
	uint64_t clean_nonce;
} vv_part_config;

typedef struct vv_partition {
	char *dir;
	char *topic;
	uint32_t id;
	vv_part_config cfg;
	uint64_t close_nonce; /* set by a clean close: write the segment size list */
	int sizes_stale;      /* a compaction swap failed half-way: write no size list */

	pthread_mutex_t lock; /* appenders */
	pthread_rwlock_t segs_lock;
	vv_segment **segs;
	size_t nsegs, cap;

	_Atomic int64_t start_offset;
	_Atomic int64_t end_offset;
	_Atomic int failed;

	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cond;
	int syncing;
	_Atomic int64_t durable_offset;
	/* the gather (design note 6), under sync_mu */
	pthread_cond_t gather_cond; /* CLOCK_MONOTONIC; a joiner wakes the leader */
	int gathering;
	uint64_t synced_appends;    /* `appends` when the last sync started */
	uint64_t gather_target;     /* appends a leader expects in a group */
	uint64_t sync_ns_avg;       /* smoothed fdatasync time */
	_Atomic uint64_t gather_waits, gather_timeouts; /* tests, diagnostics */
	/* The recovery point last written to disk. rp_mu serializes its
	 * writers (the checkpoint writes outside the append lock, rolls,
	 * retention and compaction under it) and its readers outside the
	 * append lock. */
	pthread_mutex_t rp_mu;
	int64_t rp_written;     /* recovery offset */
	int64_t rp_seg, rp_pos; /* ...its segment and position */
	int64_t rp_log_start;   /* ...and the log start it recorded */

	vv_batch_builder bb;
	/* the append buffer (design note 7), under lock; `buffered` mirrors
	 * abuf_len for readers' check without the lock */
	uint8_t *abuf;
	size_t abuf_len;
	_Atomic size_t buffered;
	_Atomic uint64_t buffer_flushes; /* writes of the buffer (tests) */
	_Atomic uint64_t appends, appended_bytes;

	uint64_t space_checked_at; /* appended_bytes at the last free-space check */
	uint64_t space_checked_ns;
	int space_low;

	vv_pstate pstate; /* idempotent producers (under lock) */
	int pstate_dirty;
	uint64_t pstate_saved_bytes; /* appended_bytes when the snapshot was written */

	/* cleaner state (cleaner thread only) */
	long max_open;          /* segment files kept open (store option) */
	int64_t clean_retry_at; /* after a failure: not before this time (ms) */
	uint32_t clean_failures;
} vv_partition;

/* Open (creating if needed) and recover the partition in dir. `clean`
 * says the store was closed cleanly (recovery points are exact). */
int vv_partition_open(const char *dir, const char *topic, uint32_t id, const vv_part_config *cfg,
		      int clean, vv_partition **out);
/* Close: flush indexes, sync (unless sync=none and !force), write the recovery point. */
int vv_partition_close(vv_partition *p, int clean);

typedef struct vv_append_opts {
	int64_t expected_end;   /* -1 = no check */
	int64_t producer_id;    /* -1 = none */
	uint16_t producer_epoch;
	int32_t base_sequence;
	int force_sync;         /* sync whatever the policy (metadata) */
	int no_wait;            /* never wait for the fsync here (async produce) */
	int duplicate;          /* out: the batch was a producer retry; nothing appended */
	int64_t last_offset;    /* out: last offset of the batch */
	int64_t append_time;    /* out: the clock at the append (-1 for a duplicate) */
} vv_append_opts;

/* Append n records as one batch. Timestamps of VARVE_TIMESTAMP_NOW become
 * the clock's now. *base_out receives the first offset (of the earlier copy
 * when o->duplicate is set). */
int vv_partition_append(vv_partition *p, const varve_record *const *recs, size_t n,
			vv_append_opts *o, int64_t *base_out);
/* Block until every offset below target is durable (group commit; no
 * gather: callers that batch on their own). */
int vv_partition_wait_durable(vv_partition *p, int64_t target);
/* How long a leader may gather (ns): half the smoothed fdatasync time (0
 * before the first sync). */
uint64_t vv_gather_bound_ns(uint64_t sync_ns_avg);
/* Last sequence the partition holds for a producer (-1 if none). */
int32_t vv_partition_producer_seq(vv_partition *p, int64_t pid, uint16_t *epoch);

/* fdatasync the active segment now (interval policy, varve_sync). */
int vv_partition_sync(vv_partition *p);
/* Write the recovery point if durable moved (background thread). */
int vv_partition_checkpoint(vv_partition *p);
/* Write the append buffer, then pending index entries of the active
 * segment (no fsync; the background round). */
int vv_partition_flush_index(vv_partition *p);
/* Write the append buffer to the active segment (no fsync). */
int vv_partition_flush_buffer(vv_partition *p);
/* A reader in the process reached the written end of the active segment:
 * write the buffered records so it can read them. 1 if records were
 * waiting and are in the file now (written here or by a flush in between),
 * 0 if none were waiting or the write failed (the reader is at the end for
 * now; the writer's next flush reports the error and tries again). */
int vv_partition_flush_for_read(vv_partition *p);

/* Segment holding `offset` (base <= offset), referenced; VARVE_EOFFSET if
 * offset < start or > end. Release with vv_segment_unref. */
int vv_partition_segment_for(vv_partition *p, int64_t offset, vv_segment **out);
/* A reader is done with s (moving on to the next segment): drop its
 * reference, and close the files of a sealed s that nobody else reads, so
 * that a reader never pins what it has passed (deleted files included). */
void vv_partition_release(vv_partition *p, vv_segment *s);
/* The segment after `s`, referenced, or NULL. */
vv_segment *vv_partition_next_segment(vv_partition *p, const vv_segment *s);
int vv_partition_is_last(vv_partition *p, const vv_segment *s);

/* First offset with timestamp >= ts; VARVE_ENOTFOUND if none. */
int vv_partition_offset_for_time(vv_partition *p, int64_t ts, int64_t *out);

/* Read-only opens: look for batches and segments the writer added since. */
int vv_partition_refresh(vv_partition *p);

int64_t vv_partition_now(const vv_partition *p);
uint64_t vv_partition_size(vv_partition *p, uint32_t *nsegs);

/* Referenced snapshot of the segment array; release with vv_partition_segments_release. */
int vv_partition_segments(vv_partition *p, vv_segment ***out, size_t *n);
void vv_partition_segments_release(vv_segment **v, size_t n);

/* Retention: drop the n oldest segments (never the active one). The new
 * log start is made durable in the recovery point before any file goes, so
 * a crash leaves either the old start or the new one, and open finishes
 * the deletion. *bytes_out gets the bytes released. */
int vv_partition_delete_oldest(vv_partition *p, size_t n, uint64_t *bytes_out);

/* New roll size and age, and codec, for the next appends (topic alter). */
void vv_partition_set_roll(vv_partition *p, uint64_t segment_bytes, int64_t segment_ms, int codec);

/* Move the log start up to offset (<= the end; VARVE_EOFFSET past it):
 * readers no longer get what is below, and the segments wholly below go
 * (durable first, as retention's). *bytes_out: bytes released. */
int vv_partition_advance_start(vv_partition *p, int64_t offset, uint64_t *bytes_out);

/* Sync and point the recovery point at the active segment, so that it names
 * no segment compaction is about to rewrite (its byte position would then
 * fall inside another file). */
int vv_partition_checkpoint_active(vv_partition *p);

/* Compaction: replace the k consecutive segments old[0..k) by nw (same base
 * as old[0]). The caller already swapped the files (compact.c). */
int vv_partition_replace(vv_partition *p, vv_segment *const *old, size_t k, vv_segment *nw);

/* Close the files of idle sealed segments, least recently read first, until
 * at most `target` segments are open in the process. */
void vv_partition_close_idle(vv_partition *p, long target);

/* For the log layer's own files (recovery.c): a message to the log callback
 * prefixed with "<topic>/<id>: ", and a segment added at the end of the
 * array (caller holds segs_lock for writing, or is the open). */
void vv_partition_log(const vv_partition *p, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int vv_partition_push_segment(vv_partition *p, vv_segment *s);

/* Recovery point codec (exposed for the dump tool and tests; recovery.c). */
typedef struct vv_recovery_point {
	int64_t offset;
	int64_t segment_base;
	uint64_t position;
	int64_t log_start;
} vv_recovery_point;
void vv_recovery_point_encode(const vv_recovery_point *rp, uint8_t out[VV_RECOVERY_POINT_SIZE]);
int vv_recovery_point_decode(const uint8_t *buf, size_t n, vv_recovery_point *rp);

#endif
