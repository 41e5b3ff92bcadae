/* SPDX-License-Identifier: MIT */
/*
 * producers.h -- producer ids: the next id to hand out and the named
 * producers (name -> id, epoch), from the metadata log's 'N' and 'P'
 * records, which this module owns. Ids are handed out durably: the record
 * that moves the counter is synced before an id is used.
 */
#ifndef VV_PRODUCERS_H
#define VV_PRODUCERS_H

#include <stdint.h>

#include "meta.h"

typedef struct vv_producers vv_producers;

/* A registry over meta's producer records (subscribe before the replay). */
int vv_producers_new(vv_meta *meta, vv_producers **out);
void vv_producers_free(vv_producers *pr);

/* Open a producer identity: a fresh id (name NULL), or the named one's id
 * with its epoch bumped (fencing older handles) or kept (resume). */
int vv_producers_acquire(vv_producers *pr, const char *name, int resume, int64_t *id,
			 uint16_t *epoch);
/* The current epoch of a named producer (-1 if unknown). */
int vv_producers_epoch(vv_producers *pr, const char *name);

#endif
