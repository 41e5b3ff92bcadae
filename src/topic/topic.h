/* SPDX-License-Identifier: MIT */
/*
 * topic.h -- a topic: its configuration and N partitions, and which
 * partition a record goes to (XXH3 of the key, or sticky / round-robin for
 * null keys). Topics are reference counted so a delete cannot free one that
 * a producer or reader is using; the directory goes with the last
 * reference. After open, the fields are read-only for everyone (the atomics
 * excepted): other layers read them, nobody else writes them.
 *
 * May call: log (partitions, readers), meta (config validation), base.
 */
#ifndef VV_TOPIC_H
#define VV_TOPIC_H

#include <pthread.h>
#include <stdatomic.h>

#include "dedup.h"
#include "env.h"
#include "meta.h"
#include "partition.h"
#include "varve.h"

typedef struct vv_topic {
	_Atomic int refs;
	_Atomic int deleted;
	char *name;
	char *dir;
	const vv_io_methods *io; /* the store's I/O table (the directory's removal) */
	int64_t created_ms;
	/* The configuration may change (varve_topic_alter): read it with
	 * vv_topic_cfg_get. Per-record hot paths read the two atomics. */
	pthread_rwlock_t cfg_lock;
	varve_topic_config cfg; /* retain_for_groups points at retain_buf */
	char retain_buf[VV_MAX_RETAIN_GROUPS + 1];
	_Atomic int compacted;   /* cleanup_policy has COMPACT: every record needs a key */
	_Atomic int round_robin; /* partitioner of null keys */
	/* Partitions may be added (never removed): load nparts, then parts.
	 * A grown array replaces parts; the old ones stay until the topic goes
	 * (a reader may still hold one). */
	vv_partition **_Atomic parts;
	_Atomic uint32_t nparts;
	uint32_t parts_cap;
	vv_partition ***retired; /* replaced arrays */
	size_t nretired;
	_Atomic uint32_t rr_next;
	_Atomic uint32_t sticky;
	vv_dedup *dedup; /* message-id window, NULL when dedup_window_ms is 0 (fixed) */
} vv_topic;

/* A copy of a topic's configuration. */
typedef struct vv_topic_cfg {
	varve_topic_config cfg; /* retain_for_groups points at groups */
	char groups[VV_MAX_RETAIN_GROUPS + 1];
} vv_topic_cfg;

void vv_topic_cfg_get(vv_topic *t, vv_topic_cfg *out);
/* Change the settings that may change (not partitions, not the message-id
 * window): the partitions' roll and codec settings follow, computed from
 * the store's partition template base (NULL: at open, nothing to follow). */
void vv_topic_cfg_set(vv_topic *t, const varve_topic_config *cfg, const vv_part_config *base);
/* Add partitions parts[0..n) (already open) after the existing ones. */
int vv_topic_grow(vv_topic *t, vv_partition *const *parts, uint32_t n);
/* The partition configuration of this topic's partitions. */
void vv_topic_part_config(const vv_part_config *base, const varve_topic_config *tc,
			  vv_part_config *pc);

/* Open (creating directories unless read-only) the topic `name` under
 * topics_dir with partitions configured from `pcfg` and the topic's own
 * settings; rebuild its message-id window. */
int vv_topic_open(const vv_env *env, const vv_part_config *pcfg, const char *name,
		  const varve_topic_config *cfg, int64_t created_ms, int clean, vv_topic **out);

void vv_topic_ref(vv_topic *t);
/* Last reference: closes partitions and, if deleted, removes the files. */
void vv_topic_unref(vv_topic *t);

/* Is `group` one of the comma-separated names in list? */
int vv_topic_group_listed(const char *list, const char *group);
/* Copy into a caller's struct the fields its version has (abi.h); its
 * version is kept. VARVE_EINVAL for a version this library does not know. */
int vv_topic_config_copy_out(varve_topic_config *dst, const varve_topic_config *src);

/* Partition for a key (XXH3-64 of the key modulo the count). */
uint32_t vv_topic_partition_for_key(const void *key, size_t len, uint32_t nparts);
/* Partition for a record with a null key; `batch_start` says a new produce
 * call began (sticky moves on per call). */
uint32_t vv_topic_partition_for_null(vv_topic *t, int batch_start);
/* Partition for a record: forced (>= 0), the record's own, its key's, or
 * the null-key partitioner; `first` starts a new sticky batch. */
int vv_topic_pick_partition(vv_topic *t, const varve_record *r, int32_t forced, int first,
			    uint32_t *out);
/* Argument checks of a record to produce to t. */
int vv_topic_check_record(const vv_topic *t, const varve_record *r);

#endif
