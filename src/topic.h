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

#include "partition.h"
#include "varve.h"

typedef struct vv_topic {
	_Atomic int refs;
	_Atomic int deleted;
	char *name;
	char *dir;
	varve_topic_config cfg;
	int64_t created_ms;
	vv_partition **parts;
	uint32_t nparts;
	_Atomic uint32_t rr_next;
	_Atomic uint32_t sticky;
} vv_topic;

/* Encoded size of a topic config value in the metadata log. */
#define VV_TOPIC_CONFIG_ENCODED 89

int vv_topic_config_validate(const varve_topic_config *cfg);
void vv_topic_config_encode(const varve_topic_config *cfg, int64_t created_ms,
			    uint8_t out[VV_TOPIC_CONFIG_ENCODED]);
/* Returns 0, VARVE_ECORRUPT (malformed) or VARVE_EFORMAT (newer version). */
int vv_topic_config_decode(const uint8_t *buf, size_t n, varve_topic_config *cfg,
			   int64_t *created_ms);
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
