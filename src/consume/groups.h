/* SPDX-License-Identifier: MIT */
/*
 * groups.h -- consumer groups, private to the consume layer: committed
 * offsets, retries of nacked records (both kept in the metadata log, whose
 * 'O', 'G' and 'A' records this module owns and applies), the members in
 * this process, and the partition assignment.
 *
 * The metadata records of one commit call go in one batch, so after a crash
 * either all of them are there or none (vv_meta_write).
 *
 * Assignment: range per topic. For each subscribed topic, the members
 * subscribed to it, in join order, take contiguous ranges of partitions;
 * the first (partitions % members) members take one extra.
 *
 * Lock: mu guards the whole table. Taken inside the metadata write lock
 * (when a write is applied), never around a metadata write.
 */
#ifndef VV_GROUPS_H
#define VV_GROUPS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "varve.h"

typedef struct vv_commit {
	char *topic;
	uint32_t partition;
	int64_t offset;
	int64_t time;
	char *metadata;
	int lag_alerted; /* over the group's lag limit, reported */
} vv_commit;

/* A nacked record waiting for redelivery. */
typedef struct vv_retry {
	char *topic;
	uint32_t partition;
	int64_t offset;
	uint32_t attempts;
	int64_t due;
	char *reason;
	int delivered; /* handed out again, not nacked since (memory only) */
} vv_retry;

typedef struct vv_member {
	varve_consumer *c;
	uint64_t seq;
	char **topics;
	size_t ntopics;
} vv_member;

typedef struct vv_group {
	char *name;
	int64_t created_ms;
	vv_commit *commits;
	size_t n, cap;
	vv_member *members;
	size_t nmembers, mcap;
	uint64_t generation;
	vv_retry *retries;
	size_t nretries, rcap;
	int64_t lag_limit; /* -1 = none (in memory only) */
	varve_lag_fn lag_fn;
	void *lag_ctx;
} vv_group;

typedef struct vv_groups {
	vv_meta *meta;
	pthread_mutex_t mu;
	vv_group **v; /* sorted by name */
	size_t n, cap;
	uint64_t next_seq;
	_Atomic uint64_t lag_alerts; /* lag-limit crossings reported */
} vv_groups;

/* A table over meta's group records (subscribe before the replay). */
int vv_groups_new(vv_meta *meta, vv_groups **out);
void vv_groups_free(vv_groups *g);
/* Lookup (caller holds mu). create=1 adds an empty group. */
vv_group *vv_groups_find(vv_groups *g, const char *name, int create);
void vv_groups_remove(vv_groups *g, const char *name);
vv_commit *vv_group_commit_find(vv_group *grp, const char *topic, uint32_t partition);
int vv_group_commit_set(vv_group *grp, const char *topic, uint32_t partition, int64_t offset,
			int64_t time, const char *metadata);
void vv_group_commit_del(vv_group *grp, const char *topic, uint32_t partition);

vv_retry *vv_group_retry_find(vv_group *grp, const char *topic, uint32_t partition, int64_t offset);
int vv_group_retry_set(vv_group *grp, const char *topic, uint32_t partition, int64_t offset,
		       uint32_t attempts, int64_t due, const char *reason);
void vv_group_retry_del(vv_group *grp, const char *topic, uint32_t partition, int64_t offset);

/* Members (caller holds mu). Bumps the generation. */
int vv_group_join(vv_groups *g, vv_group *grp, varve_consumer *c, const char *const *topics,
		  size_t ntopics);
void vv_group_leave(vv_group *grp, varve_consumer *c);
/* Partitions of `topic` (nparts) assigned to member c. */
void vv_group_assigned_range(const vv_group *grp, const varve_consumer *c, const char *topic,
			     uint32_t nparts, uint32_t *first, uint32_t *count);

#endif
