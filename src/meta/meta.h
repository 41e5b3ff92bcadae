/* SPDX-License-Identifier: MIT */
/*
 * meta.h -- the metadata log: the store's own one-partition log in
 * <store>/meta (same segment format as user topics), and the one owner of
 * its schema. Every record is a key and a value; the first key byte is the
 * record's kind; the latest value of a key wins and a null value deletes it,
 * so the log is compacted like a compacted topic. Byte layouts are in
 * docs/FORMAT.md ("Metadata records"); codecs in schema.c.
 *
 *   kind  key                                   value             owner
 *   'T'   topic name                            topic config      topic
 *   'O'   group 0 topic 0 u32 partition         committed offset  consume
 *   'G'   group                                 group created     consume
 *   'A'   group 0 topic 0 u32 part i64 offset   nack attempts     consume
 *   'N'   (nothing)                             next producer id  produce
 *   'P'   producer name                         id and epoch      produce
 *
 * Writes: a vv_meta_batch collects typed records and vv_meta_write appends
 * them as ONE batch (all or nothing after a crash), then hands each record
 * to the handler its owner subscribed for that kind, still under the write
 * lock, so the in-memory tables change in the order of the log. Replay at
 * open goes through the same handlers. Nobody appends to the partition
 * directly.
 *
 * Damage: a batch that fails its checks during replay is skipped (the next
 * valid batch is found by its magic and checksum) and its offsets are kept
 * in the damage list; a record of a known kind that does not decode is
 * skipped and counted. What that means for each kind is the owner's call
 * (see the store's open and varve_repair).
 */
#ifndef VV_META_H
#define VV_META_H

#include <pthread.h>

#include "partition.h"

#define VV_META_TOPIC "__meta"

/* Record kinds: the first key byte. Values are on disk: never renumber. */
enum {
	VV_META_TOPIC_CONFIG = 'T',
	VV_META_COMMIT = 'O',
	VV_META_GROUP = 'G',
	VV_META_ATTEMPT = 'A',
	VV_META_NEXT_PID = 'N',
	VV_META_PRODUCER = 'P'
};

#define VV_MAX_COMMIT_METADATA 4096
#define VV_MAX_NACK_REASON 512
#define VV_MAX_RETAIN_GROUPS 1024
/* Encoded topic config value: 89 fixed bytes, i64 retention_hard_bytes,
 * u16 length and the retain_for_groups text. */
#define VV_TOPIC_CONFIG_FIXED 89
#define VV_TOPIC_CONFIG_MAX (VV_TOPIC_CONFIG_FIXED + 10 + VV_MAX_RETAIN_GROUPS)

/* One metadata record, decoded. Which fields mean something depends on the
 * kind; `deleted` records (null values) carry their key fields only. */
typedef struct vv_meta_rec {
	uint8_t kind;
	int deleted;
	int64_t log_offset; /* where it sits in the metadata log */
	/* key */
	char group[VARVE_MAX_GROUP_NAME + 1];  /* O G A */
	char name[VARVE_MAX_TOPIC_NAME + 1];   /* T: topic; O A: topic; P: producer */
	uint32_t partition;                    /* O A */
	int64_t record_offset;                 /* A: the nacked record */
	/* value */
	varve_topic_config cfg;                /* T (retain_for_groups -> text) */
	int64_t time;                          /* T G: created; O: commit time; A: due */
	int64_t offset;                        /* O: committed offset */
	uint32_t attempts;                     /* A */
	int64_t id;                            /* N: the next id; P: the id */
	uint16_t epoch;                        /* P */
	size_t text_len;
	char text[VV_MAX_COMMIT_METADATA + 1]; /* O: metadata; A: reason; T: retain groups */
} vv_meta_rec;

/* ---- codecs (schema.c) ------------------------------------------------ */

/* Encode r's key and (unless deleted) value into the buffers; returns 0 or
 * VARVE_EINVAL when a field does not fit the schema. */
#define VV_META_KEY_MAX (1 + VARVE_MAX_GROUP_NAME + 1 + VARVE_MAX_TOPIC_NAME + 1 + 4 + 8)
#define VV_META_VALUE_MAX (17 + VV_MAX_COMMIT_METADATA > VV_TOPIC_CONFIG_MAX \
			   ? 17 + VV_MAX_COMMIT_METADATA : VV_TOPIC_CONFIG_MAX)
int vv_meta_encode(const vv_meta_rec *r, uint8_t *key, size_t *klen, uint8_t *val, size_t *vlen);
/* Decode a record. 0; VV_META_UNKNOWN for a kind this version does not know
 * (skipped: forward compatibility); VARVE_ECORRUPT for a known kind that
 * does not decode; VARVE_EFORMAT for a topic config written by a newer
 * version. */
#define VV_META_UNKNOWN 1
int vv_meta_decode(const varve_record *in, vv_meta_rec *out);
/* Group names: 1..VARVE_MAX_GROUP_NAME bytes, no NUL (Kafka's rule, bounded). */
int vv_group_name_ok(const char *group);
/* A topic configuration's values: VARVE_EINVAL with the reason, or 0. */
int vv_topic_config_validate(const varve_topic_config *cfg);
/* The topic config value alone (dump tool, tests): encode returns its
 * length (at most VV_TOPIC_CONFIG_MAX); decode fills cfg, *created_ms (may
 * be NULL) and puts retain_for_groups in groups (VV_MAX_RETAIN_GROUPS + 1
 * bytes). Decode: 0, VARVE_ECORRUPT, VARVE_EFORMAT (newer format). */
size_t vv_topic_config_encode(const varve_topic_config *cfg, int64_t created_ms, uint8_t *out);
int vv_topic_config_decode(const uint8_t *buf, size_t n, varve_topic_config *cfg,
			   int64_t *created_ms, char *groups);

/* ---- the log ------------------------------------------------------------ */

typedef struct vv_meta vv_meta;

/* Called for every record of a kind: at replay (live = 0) and after each
 * write that appended it (live = 1, under the write lock). A nonzero return
 * stops a replay (the open fails); after a write it is returned to the
 * writer although the record is in the log. */
typedef int (*vv_meta_fn)(void *ctx, const vv_meta_rec *r, int live);

/* Open the log in dir (<store>/meta). */
int vv_meta_open(const char *dir, const vv_part_config *cfg, int clean, vv_meta **out);
int vv_meta_close(vv_meta *m, int clean);
/* The partition under the log (the cleaner compacts it, close syncs it). */
vv_partition *vv_meta_partition(vv_meta *m);

/* Subscribe fn to a kind (before vv_meta_replay). One handler per kind.
 * `required`: a record of this kind that does not decode fails the replay
 * (the open) instead of being skipped and counted as damage. */
void vv_meta_subscribe(vv_meta *m, uint8_t kind, vv_meta_fn fn, void *ctx, int required);

/* Hand every record to its kind's handler, in log order, skipping damage
 * (see the file comment). Stops at a handler's error. */
int vv_meta_replay(vv_meta *m);

/* What replay had to skip. */
typedef struct vv_meta_damage {
	int64_t from, to;      /* offsets [from, to) of the log that could not be read */
	int64_t segment_base;  /* the segment holding the damage (-1: not known) */
	uint64_t position;     /* byte position of the damaged batch in it */
	int64_t undecodable;   /* records of a known kind that did not decode */
	char detail[240];      /* what the reader said (names the file and byte) */
} vv_meta_damage;
void vv_meta_damaged(vv_meta *m, const vv_meta_damage **v, size_t *n);

/* A batch of writes. */
typedef struct vv_meta_batch {
	uint8_t *buf;
	size_t len, cap;
	size_t *offs; /* per record: key offset, key length, value offset, value length */
	size_t n, ncap;
} vv_meta_batch;

void vv_meta_batch_init(vv_meta_batch *b);
void vv_meta_batch_free(vv_meta_batch *b);
/* Add a record (encoded at once; r is not kept). */
int vv_meta_batch_add(vv_meta_batch *b, const vv_meta_rec *r);
/* Append the batch as one (durable before return when sync, whatever the
 * policy), then dispatch each record to its handler with live = 1. Under
 * the write lock: concurrent writers' records reach the handlers in log
 * order. An empty batch does nothing. */
int vv_meta_write(vv_meta *m, vv_meta_batch *b, int sync);

/* Run fn(ctx) under the write lock: for a writer that must check the
 * in-memory state and write in one step (e.g. allocate a producer id). */
int vv_meta_locked(vv_meta *m, int (*fn)(void *ctx), void *ctx);

#endif
