/* SPDX-License-Identifier: MIT */
/*
 * topic.h -- a topic: its configuration and N partitions; picks the
 * partition of a record (XXH3 of the key, or sticky / round-robin for null
 * keys). Topics are reference counted so a delete cannot free one that a
 * producer or reader is using; the directory goes with the last reference.
 */
#ifndef VV_TOPIC_H
#define VV_TOPIC_H

#include <stdatomic.h>

#include "dedup.h"
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

/* Encoded size of a topic config value in the metadata log: 89 fixed bytes,
 * then i64 retention_hard_bytes, u16 length and the retain_for_groups text. */
#define VV_TOPIC_CONFIG_FIXED 89
#define VV_MAX_RETAIN_GROUPS 1024
#define VV_TOPIC_CONFIG_MAX (VV_TOPIC_CONFIG_FIXED + 10 + VV_MAX_RETAIN_GROUPS)

int vv_topic_config_validate(const varve_topic_config *cfg);
/* Returns the encoded length. */
size_t vv_topic_config_encode(const varve_topic_config *cfg, int64_t created_ms,
			      uint8_t out[VV_TOPIC_CONFIG_MAX]);
/* Returns 0, VARVE_ECORRUPT (malformed) or VARVE_EFORMAT (newer version).
 * The retain_for_groups text goes to groups (VV_MAX_RETAIN_GROUPS + 1 bytes)
 * and cfg->retain_for_groups points there (or is NULL). */
int vv_topic_config_decode(const uint8_t *buf, size_t n, varve_topic_config *cfg,
			   int64_t *created_ms, char *groups);
/* Is `group` one of the comma-separated names in list? */
int vv_topic_group_listed(const char *list, const char *group);
/* Copy the fields a caller's struct version knows about. */
void vv_topic_config_copy_out(varve_topic_config *dst, const varve_topic_config *src);

/* Partition for a key (XXH3-64 of the key modulo the count). */
uint32_t vv_topic_partition_for_key(const void *key, size_t len, uint32_t nparts);
/* Partition for a record with a null key; `batch_start` says a new produce
 * call began (sticky moves on per call). */
uint32_t vv_topic_partition_for_null(vv_topic *t, int batch_start);

void vv_topic_ref(vv_topic *t);
/* Last reference: closes partitions and, if deleted, removes the files. */
void vv_topic_unref(vv_topic *t);

#endif
