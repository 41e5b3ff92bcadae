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
	varve_topic_config cfg; /* cfg.retain_for_groups points at retain_groups */
	char *retain_groups;
	int64_t created_ms;
	vv_partition **parts;
	uint32_t nparts;
	_Atomic uint32_t rr_next;
	_Atomic uint32_t sticky;
	vv_dedup *dedup; /* message-id window, NULL when dedup_window_ms is 0 */
} vv_topic;

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
/* Copy the fields a caller's struct version knows about. */
void vv_topic_config_copy_out(varve_topic_config *dst, const varve_topic_config *src);

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
