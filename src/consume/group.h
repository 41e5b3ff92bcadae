/* SPDX-License-Identifier: MIT */
/*
 * group.h -- consumer groups: committed offsets (replayed from the metadata
 * log), members in this process, and the partition assignment.
 *
 * Metadata records (docs/FORMAT.md):
 *   'O' group 0x00 topic 0x00 u32le partition -> u8 1, i64 offset, i64 time, metadata bytes
 *   'G' group                                  -> u8 1, i64 created_ms
 * A null value deletes. The offsets a commit call writes go in one batch,
 * so after a crash either all of them are there or none.
 *
 * Assignment: range per topic. For each subscribed topic, the members
 * subscribed to it, in join order, take contiguous ranges of partitions;
 * the first (partitions % members) members take one extra.
 */
#ifndef VV_GROUP_H
#define VV_GROUP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "varve.h"

#define VV_META_KEY_OFFSET 'O'
#define VV_META_KEY_GROUP 'G'
#define VV_META_KEY_ATTEMPTS 'A'
#define VV_MAX_COMMIT_METADATA 4096
#define VV_MAX_NACK_REASON 512

typedef struct vv_commit {
	char *topic;
	uint32_t partition;
	int64_t offset;
	int64_t time;
	char *metadata;
	int lag_alerted; /* over the group's lag limit, reported */
} vv_commit;

/* A nacked record waiting for redelivery:
 *   'A' group 0x00 topic 0x00 u32le partition i64le offset
 *       -> u8 1, u32 attempts, i64 due_ms, reason bytes */
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
	pthread_mutex_t mu;
	vv_group **v; /* sorted by name */
	size_t n, cap;
	uint64_t next_seq;
} vv_groups;

void vv_groups_init(vv_groups *g);
void vv_groups_free(vv_groups *g);
/* Lookup (caller holds mu). create=1 adds an empty group. */
vv_group *vv_groups_find(vv_groups *g, const char *name, int create);
void vv_groups_remove(vv_groups *g, const char *name);
vv_commit *vv_group_commit_find(vv_group *grp, const char *topic, uint32_t partition);
int vv_group_commit_set(vv_group *grp, const char *topic, uint32_t partition, int64_t offset,
			int64_t time, const char *metadata);
void vv_group_commit_del(vv_group *grp, const char *topic, uint32_t partition);

/* Apply one metadata record (key kind 'O' or 'G'); 0 if not ours or applied. */
int vv_groups_apply(vv_groups *g, const varve_record *r);

vv_retry *vv_group_retry_find(vv_group *grp, const char *topic, uint32_t partition, int64_t offset);
int vv_group_retry_set(vv_group *grp, const char *topic, uint32_t partition, int64_t offset,
		       uint32_t attempts, int64_t due, const char *reason);
void vv_group_retry_del(vv_group *grp, const char *topic, uint32_t partition, int64_t offset);

/* Codecs. Buffers must hold the sizes below. */
#define VV_COMMIT_KEY_MAX (1 + 2 * (VARVE_MAX_TOPIC_NAME + 1) + 4)
#define VV_COMMIT_VALUE_MAX (17 + VV_MAX_COMMIT_METADATA)
size_t vv_commit_key(uint8_t *out, const char *group, const char *topic, uint32_t partition);
size_t vv_commit_value(uint8_t *out, int64_t offset, int64_t time, const char *metadata);
#define VV_ATTEMPT_KEY_MAX (VV_COMMIT_KEY_MAX + 8)
#define VV_ATTEMPT_VALUE_MAX (13 + VV_MAX_NACK_REASON)
size_t vv_attempt_key(uint8_t *out, const char *group, const char *topic, uint32_t partition,
		      int64_t offset);
size_t vv_attempt_value(uint8_t *out, uint32_t attempts, int64_t due, const char *reason);
size_t vv_group_key(uint8_t *out, const char *group);
size_t vv_group_value(uint8_t *out, int64_t created_ms);
/* Decode a commit key; 0 on success. */
int vv_commit_key_decode(const uint8_t *k, size_t n, char *group, char *topic, uint32_t *partition);

/* Members (caller holds mu). Bumps the generation. */
int vv_group_join(vv_groups *g, vv_group *grp, varve_consumer *c, const char *const *topics,
		  size_t ntopics);
void vv_group_leave(vv_group *grp, varve_consumer *c);
/* Partitions of `topic` (nparts) assigned to member c. */
void vv_group_assigned_range(const vv_group *grp, const varve_consumer *c, const char *topic,
			     uint32_t nparts, uint32_t *first, uint32_t *count);

#endif
