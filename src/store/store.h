/* SPDX-License-Identifier: MIT */
/*
 * store.h -- the store: directory, lock, VERSION, topics table, metadata
 * log, background thread. The public entry points live in store.c and
 * iter.c; they are the only code that knows about topics by name.
 *
 * Directory layout (docs/FORMAT.md):
 *   LOCK VERSION CLEAN meta/ topics/<topic>/<partition>/
 */
#ifndef VV_STORE_H
#define VV_STORE_H

#include <pthread.h>

#include "group.h"
#include "meta.h"
#include "topic.h"
#include "varve.h"

typedef struct vv_cleaner vv_cleaner;
typedef struct vv_async vv_async;

/* Producer ids (idempotent.c). Metadata keys: */
#define VV_META_KEY_NEXT_PID 'N'
#define VV_META_KEY_PRODUCER 'P'

typedef struct vv_producer_name {
	char *name;
	int64_t id;
	uint16_t epoch;
} vv_producer_name;

typedef struct vv_producer_registry {
	vv_producer_name *v;
	size_t n, cap;
	int64_t next_pid;
} vv_producer_registry;

int vv_producers_apply(vv_producer_registry *r, const varve_record *rec);
void vv_producers_free(vv_producer_registry *r);

struct varve_db {
	char *path;
	char *topics_dir;
	varve_options opts;
	vv_file *lock;
	int read_only;

	pthread_mutex_t admin_mu;     /* topic create / delete */
	pthread_rwlock_t topics_lock; /* the array below */
	vv_topic **topics;            /* sorted by name */
	size_t ntopics, tcap;

	vv_meta *meta;
	vv_part_config pcfg; /* template for user partitions */

	pthread_mutex_t cuts_mu;
	varve_recovery_cut *cuts;
	size_t ncuts;

	_Atomic long open_handles; /* iterators and consumers still open */
	vv_cleaner *cleaner;
	vv_async *async;

	/* cleaner metrics */
	_Atomic uint64_t st_segments_deleted, st_bytes_reclaimed, st_compactions, st_compaction_ns,
		st_compact_read, st_compact_written, st_records_kept, st_records_dropped,
		st_cleaner_failures, st_lag_alerts, st_backpressure;
	pthread_mutex_t clean_mu; /* one cleaning round at a time */

	vv_groups groups;         /* committed offsets and members */
	vv_producer_registry producers; /* written under commit_mu + producers_mu */
	pthread_mutex_t producers_mu;
	pthread_mutex_t commit_mu; /* orders metadata writes with table updates */

	/* Wake-ups for consumers (consumer.c): appenders bump `data_gen`; only
	 * when someone waits or is armed (`interest`) do they take the mutex. */
	pthread_mutex_t notify_mu;
	pthread_cond_t notify_cond;
	_Atomic uint64_t data_gen;
	_Atomic int interest;
	varve_consumer **consumers;
	size_t nconsumers, ccap;
};

void vv_store_log(varve_db *db, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int64_t vv_store_now(const varve_db *db);
/* Topic by name, referenced; VARVE_ENOTFOUND if missing. */
int vv_store_topic(varve_db *db, const char *name, vv_topic **out);
/* Topic and partition, referenced (release with vv_topic_unref). */
int vv_store_partition(varve_db *db, const char *topic, int32_t partition, vv_topic **t_out,
		       vv_partition **p_out);
/* VARVE_EINVAL for a negative partition number (public entry points). */
int vv_check_partition(int32_t partition);
/* Partition for a record: forced (>= 0), the record's own, its key's, or
 * the null-key partitioner; `first` starts a new sticky batch. */
int vv_store_pick_partition(vv_topic *t, const varve_record *r, int32_t forced, int first,
			    uint32_t *out);
/* Argument checks of a record to produce to t. */
int vv_store_check_record(const vv_topic *t, const varve_record *r);

/* Snapshot of all topics, each referenced; free with vv_store_topics_release. */
int vv_store_topics_snapshot(varve_db *db, vv_topic ***out, size_t *n);
void vv_store_topics_release(vv_topic **ts, size_t n);

/* Record a recovery report entry (recovery cuts, clamped commits). */
void vv_store_report_cut(void *ctx, const varve_recovery_cut *cut);

/* Consumers (consumer.c). */
void vv_store_on_append(void *ctx, vv_partition *p);
/* After open: clamp committed offsets past their partition's end. */
int vv_store_clamp_commits(varve_db *db);
/* Write commits for one group as one metadata batch and apply them. */
int vv_store_commit(varve_db *db, const char *group, const char *const *topics,
		    const uint32_t *parts, const int64_t *offsets, const char *const *metadata,
		    size_t n);

/* Asynchronous produce (async.c). */
int vv_async_init(varve_db *db);
/* Stop the completion thread after it has called every pending callback. */
void vv_async_shutdown(varve_db *db);

/* Lag limits (consumer.c), checked by the background thread. */
void vv_store_check_lag(varve_db *db);

/* Background thread (cleaner.c). */
int vv_cleaner_start(varve_db *db);
void vv_cleaner_stop(varve_db *db);
void vv_cleaner_wake(varve_db *db);

#endif
