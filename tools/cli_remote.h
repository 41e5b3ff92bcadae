/* SPDX-License-Identifier: MIT */
/*
 * cli_remote.h -- the `varve` commands that need the writer lock, run
 * through a `varve serve` as a Kafka client instead (librdkafka), so
 * operators can work on a store while the server holds it.
 *
 * When: cli_open returns CLI_REMOTE (cli.h) with c->bootstrap set, from
 * --bootstrap / $VARVE_BOOTSTRAP, or from <store>/SERVER once the writer
 * lock is found taken and that server answers (cli_remote_probe).
 *
 * What each command does through the server:
 *   topic create / delete / alter / add-partitions  CreateTopics,
 *     DeleteTopics, DescribeConfigs + AlterConfigs, CreatePartitions
 *   topic list / describe, group list / describe     Metadata, DescribeConfigs,
 *     ListOffsets, ListGroups, OffsetFetch (with --bootstrap and no store)
 *   group delete                                     DeleteGroups
 *   group reset                                      ListOffsets, OffsetFetch,
 *     DescribeGroups (refused while members are active), OffsetCommit
 *   produce                                          an idempotent producer, acks=all
 *   consume --group                                  a group member (subscribe)
 *   dlq replay                                       a consumer of the DLQ topic and a
 *                                                    producer back to the origin topics
 *   clean                                            VarveClean, varve's own API
 *
 * Every call is bounded by c->timeout_ms (--timeout-ms, default 30 s);
 * errors name the server and Kafka's error text (rd_kafka_err2str), exit 1.
 * Output matches the local commands' wherever the server can tell the same.
 *
 * Built with librdkafka when the server is (cli_remote.c, cli_remote_admin.c,
 * cli_remote_data.c); otherwise cli_remote_off.c says that this build has
 * no Kafka client, and cli_remote_probe never finds a server.
 */
#ifndef VARVE_CLI_REMOTE_H
#define VARVE_CLI_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* 1 when this build can run commands through a server. */
int cli_remote_available(void);

/* 0 if a Kafka broker at addr (HOST:PORT) answers ApiVersions within
 * timeout_ms; else -1 with why (a short reason) filled. */
int cli_remote_probe(const char *addr, int64_t timeout_ms, char *why, size_t cap);

/* ---- topics ---- */

/* Which fields of a varve_topic_config a command line set (topic create,
 * topic alter): CLI_F_* bits. */
enum {
	CLI_F_PARTITIONS = 1u << 0,
	CLI_F_POLICY = 1u << 1,
	CLI_F_RETENTION_MS = 1u << 2,
	CLI_F_RETENTION_BYTES = 1u << 3,
	CLI_F_RETENTION_RECORDS = 1u << 4,
	CLI_F_RETENTION_HARD_BYTES = 1u << 5,
	CLI_F_RETAIN_FOR_GROUPS = 1u << 6,
	CLI_F_SEGMENT_BYTES = 1u << 7,
	CLI_F_SEGMENT_MS = 1u << 8,
	CLI_F_CODEC = 1u << 9,
	CLI_F_DELETE_RETENTION = 1u << 10,
	CLI_F_DIRTY_RATIO = 1u << 11,
	CLI_F_TIMESTAMP_TYPE = 1u << 12,
	CLI_F_MAX_FUTURE_SKEW = 1u << 13,
	CLI_F_PARTITIONER = 1u << 14,
	CLI_F_DEDUP_WINDOW = 1u << 15,
};

/* A change to a topic's configuration: the fields in `mask` take their
 * values from `cfg`; then each --config NAME=VALUE (Kafka's names) applies
 * in order. */
typedef struct cli_topic_change {
	varve_topic_config cfg;
	unsigned mask;
	const char **names, **values; /* --config, n of them */
	size_t n;
} cli_topic_change;

int cli_remote_topic_create(cli_ctx *c, const char *name, const cli_topic_change *ch,
			    int if_not_exists);
int cli_remote_topic_delete(cli_ctx *c, const char *name);
int cli_remote_topic_alter(cli_ctx *c, const char *name, const cli_topic_change *ch);
int cli_remote_topic_add_partitions(cli_ctx *c, const char *name, uint32_t partitions);
int cli_remote_topic_list(cli_ctx *c);
int cli_remote_topic_describe(cli_ctx *c, const char *name);

/* ---- groups ---- */

enum {
	CLI_RESET_EARLIEST = 1,
	CLI_RESET_LATEST,
	CLI_RESET_OFFSET,
	CLI_RESET_TIME,
	CLI_RESET_SHIFT
};

typedef struct cli_reset_args {
	const char *group, *topic;
	int64_t partition; /* -1: every partition */
	int mode;          /* CLI_RESET_* */
	int64_t arg;       /* offset, time (ms) or shift */
	int execute, create;
} cli_reset_args;

int cli_remote_group_list(cli_ctx *c);
int cli_remote_group_describe(cli_ctx *c, const char *group, int json);
int cli_remote_group_delete(cli_ctx *c, const char *group);
int cli_remote_group_reset(cli_ctx *c, const cli_reset_args *a);

/* ---- records ---- */

typedef struct cli_remote_producer cli_remote_producer;

/* A producer for `topic` (which must exist: "no topic named T" otherwise);
 * *partitions gets its partition count. */
int cli_remote_producer_open(cli_ctx *c, const char *topic, cli_remote_producer **out,
			     uint32_t *partitions);
/* Send recs[0..n) and wait until every one is acknowledged (acks=all);
 * each record's partition and offset are then set. A record with
 * VARVE_PARTITION_ANY and a key goes where the store would put it (the
 * same key hash); without a key, the producer picks. `what` names the
 * input lines for an error message. CLI_OK or CLI_ERROR (printed). */
int cli_remote_produce(cli_remote_producer *p, varve_record *recs, size_t n, const char *what);
void cli_remote_producer_close(cli_remote_producer *p);

/* Where consume starts (its --from-* options). */
enum { CLI_START_DEFAULT, CLI_START_BEGINNING, CLI_START_END, CLI_START_OFFSET, CLI_START_TIME };

typedef struct cli_remote_consume_args {
	const char *topic, *group;
	int start;         /* CLI_START_* */
	int64_t start_arg; /* offset (negative: before the end) or time */
	int64_t max;       /* -1: no limit */
	int follow;
	/* prints one record (the local command's formats) */
	void (*print)(void *ctx, const char *topic, const varve_record *r);
	void *ctx;
} cli_remote_consume_args;

/* consume --group through the server: a member of the group; each poll's
 * records are printed, flushed, then their offsets committed. */
int cli_remote_consume(cli_ctx *c, const cli_remote_consume_args *a);

/* dlq replay through the server: the records of dlq_topic after group
 * __dlq-replay's commits go back to the topic and partition of their
 * dlq-topic / dlq-partition headers, without the dlq-* headers; the
 * commit follows once they are acknowledged (at-least-once). */
int cli_remote_dlq_replay(cli_ctx *c, const char *dlq_topic, uint64_t max);

/* ---- the store ---- */

/* clean through the server (VarveClean): one retention and compaction round. */
int cli_remote_clean(cli_ctx *c, int force);

#endif
