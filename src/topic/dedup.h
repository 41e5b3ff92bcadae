/* SPDX-License-Identifier: MIT */
/*
 * dedup.h -- the message-id duplicate window of a topic (JetStream's Msg-Id
 * window): a record whose VARVE_MSG_ID_HEADER header repeats one appended
 * within dedup_window_ms (store clock) is not appended again; the caller
 * gets the earlier copy's partition and offset. Ids are kept as 128-bit
 * XXH3 fingerprints. The window is rebuilt at open by reading the last
 * dedup_window_ms of every partition.
 */
#ifndef VV_DEDUP_H
#define VV_DEDUP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "varve.h"

typedef struct vv_dedup_entry {
	uint64_t h1, h2;
	int64_t offset; /* -1 - i: pending, record i of the batch being produced */
	int64_t time;
	int32_t partition;
	int used;
} vv_dedup_entry;

typedef struct vv_dedup {
	pthread_mutex_t mu; /* held across check + append + insert */
	vv_dedup_entry *v;
	size_t cap, n;
	int64_t window_ms;
} vv_dedup;

int vv_dedup_init(vv_dedup *d, int64_t window_ms);
void vv_dedup_free(vv_dedup *d);

/* The message id of a record, or NULL. */
const void *vv_dedup_id(const varve_record *r, size_t *len);
/* Find an id seen within the window before `now`; returns the entry or NULL. */
vv_dedup_entry *vv_dedup_find(vv_dedup *d, const void *id, size_t len, int64_t now);
/* Insert or refresh an id. */
int vv_dedup_put(vv_dedup *d, const void *id, size_t len, int32_t partition, int64_t offset,
		 int64_t time);
/* Drop entries older than the window. */
void vv_dedup_prune(vv_dedup *d, int64_t now);

#endif
