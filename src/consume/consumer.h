/* SPDX-License-Identifier: MIT */
/*
 * consumer.h -- private to the consume layer: the consumer handle shared by
 * consumer.c (assignment, poll, seeks), offsets.c (commits) and dlq.c
 * (nacks and dead letters), and the calls between them.
 */
#ifndef VV_CONSUMER_H
#define VV_CONSUMER_H

#include "db.h"
#include "groups.h"
#include "notify.h"
#include "reader.h"
#include "registry.h"

typedef struct assigned {
	vv_topic *t;
	uint32_t partition;
	int64_t position;  /* next offset to deliver; -1 until initialized */
	int64_t committed; /* what this consumer last committed, -1 */
	int reader_ok;
	vv_reader r;
} assigned;

typedef struct fixup {
	size_t key, val, hdr; /* arena offsets; SIZE_MAX = NULL */
} fixup;

struct varve_consumer {
	varve_db *db;
	char *group;
	char **topics;
	size_t ntopics;
	varve_consumer_options o;

	assigned *as;
	size_t nas;
	uint64_t as_gen;
	int as_valid;
	size_t rotate;

	varve_msg *msgs;
	fixup *fix;
	uint32_t *att; /* deliveries of each message so far, 1 = first */
	size_t mcap;
	uint8_t *arena;
	size_t acap, alen;
	varve_header *hdrs;
	size_t *hfix; /* two offsets per header */
	size_t hcap, hlen;

	varve_topic_partition *tps;
	size_t tcap;

	vv_waiter *waiter; /* eventfd and notify callback (notify.h) */
	int64_t last_auto_commit;
	_Atomic uint64_t resets;
};

assigned *vv_consumer_find_assigned(varve_consumer *c, const char *topic, uint32_t partition);

/* offsets.c: write the commits of one group as one metadata batch (after
 * making the data durable up to each committed offset). */
int vv_offsets_commit(varve_db *db, const char *group, const char *const *topics,
		      const uint32_t *parts, const int64_t *offsets, const char *const *metadata,
		      size_t n);

/* dlq.c: redelivered records not nacked again are done once c commits. */
int vv_dlq_forget_delivered(varve_consumer *c);

#endif
