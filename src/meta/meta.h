/* SPDX-License-Identifier: MIT */
/*
 * meta.h -- the metadata log: the store's own single-partition log in
 * <store>/meta, in the same segment format as user topics. Every record is
 * a key and a value; the latest value of a key wins and a null value
 * deletes it, so the log can be compacted like a user topic. Key kinds
 * (first byte, docs/FORMAT.md):
 *   'T' + topic name                     -> topic configuration
 * (later kinds: consumer-group offsets, producer ids)
 * Replayed into memory at open.
 */
#ifndef VV_META_H
#define VV_META_H

#include "partition.h"

#define VV_META_TOPIC "__meta"
#define VV_META_KEY_TOPIC 'T'

typedef struct vv_meta {
	vv_partition *log;
} vv_meta;

int vv_meta_open(const char *store_path, const vv_part_config *cfg, int clean, vv_meta **out);
int vv_meta_close(vv_meta *m, int clean);
/* Call fn for every record in offset order; stops at the first error fn returns. */
int vv_meta_replay(vv_meta *m, int (*fn)(void *ctx, const varve_record *r), void *ctx);
/* Append one key/value (value NULL = delete). Synced before return when sync. */
int vv_meta_put(vv_meta *m, const void *key, size_t klen, const void *val, size_t vlen, int sync);

#endif
