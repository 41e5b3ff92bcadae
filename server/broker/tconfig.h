/* SPDX-License-Identifier: MIT */
/*
 * tconfig.h -- Kafka topic names and topic configurations, mapped onto the
 * store's varve_topic_config. Pure functions: no store, no loop, so the
 * mapping is tested on its own (tests/server/broker/test_tconfig.c).
 *
 * Names. Kafka allows [a-zA-Z0-9._-]{1,249} but not "." or ".."; the store
 * allows the same characters up to VARVE_MAX_TOPIC_NAME (200), so a longer
 * name is refused with INVALID_TOPIC_EXCEPTION and a message that says why.
 *
 * Configurations. Each supported Kafka config name maps to a field of
 * varve_topic_config (docs/KAFKA.md has the table):
 *   cleanup.policy            delete | compact | compact,delete (any order)
 *   compression.type          uncompressed | lz4 (the store codec);
 *                             producer is accepted as uncompressed (the
 *                             store recompresses every batch with the
 *                             topic's codec, so it has no "keep the
 *                             producer's codec"); gzip, snappy, zstd refused
 *   delete.retention.ms       >= 0
 *   max.message.bytes         accepted up to the store's limit, which is
 *                             store-wide: it is what describe reports
 *   message.timestamp.type    CreateTime | LogAppendTime
 *   min.cleanable.dirty.ratio 0..1
 *   min.compaction.lag.ms     0 only (the store has no such delay)
 *   min.insync.replicas       1 only (one broker)
 *   retention.bytes           -1 or >= 0 (per partition)
 *   retention.ms              -1 or >= 0
 *   segment.bytes             1024..2147483647 (store minimum 1 KiB)
 *   segment.ms                >= 1
 * Any other name is INVALID_CONFIG ("Unknown topic config name"), as Kafka
 * answers. Numbers are parsed as Kafka does (surrounding blanks ignored, an
 * optional sign, decimal digits, no overflow).
 *
 * Error style: Kafka error codes (KE_NONE, KE_INVALID_CONFIG,
 * KE_INVALID_TOPIC_EXCEPTION) with a message written into msg (always
 * NUL-terminated, "" on success).
 */
#ifndef VS_BROKER_TCONFIG_H
#define VS_BROKER_TCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/kbuf.h"
#include "varve.h"

/* Longest name Kafka itself allows. */
#define VS_KAFKA_MAX_TOPIC_NAME 249
/* Room for any message of this module. */
#define VS_TCFG_MSG 256

/* Store-wide values that topic configs report or are checked against. */
typedef struct vs_tcfg_limits {
	uint32_t max_message_bytes; /* the store's max_record_bytes */
	int64_t segment_bytes;      /* the store's default (topic value 0) */
	int64_t segment_ms;         /* the store's default (topic value 0) */
} vs_tcfg_limits;

/* KE_NONE, or KE_INVALID_TOPIC_EXCEPTION with a message. */
int16_t vs_topic_name_check(vs_slice name, char *msg, size_t cap);

/* The number of supported config names, and the i-th, in sorted order. */
size_t vs_tcfg_count(void);
const char *vs_tcfg_name(size_t i);
/* Index of a supported name, or -1. */
int vs_tcfg_find(vs_slice name);

/* Set one config on cfg from its Kafka text value (a null value is
 * invalid). KE_NONE or KE_INVALID_CONFIG with a message; cfg is unchanged
 * on an error. */
int16_t vs_tcfg_set(varve_topic_config *cfg, vs_slice name, vs_slice value,
		    const vs_tcfg_limits *lim, char *msg, size_t cap);
/* Put one config back to its default (IncrementalAlterConfigs DELETE). */
int16_t vs_tcfg_reset(varve_topic_config *cfg, vs_slice name, char *msg, size_t cap);
/* IncrementalAlterConfigs APPEND (add != 0) / SUBTRACT: list-valued configs
 * only (cleanup.policy); others are INVALID_CONFIG, as in Kafka. */
int16_t vs_tcfg_list_op(varve_topic_config *cfg, vs_slice name, vs_slice value, int add,
			char *msg, size_t cap);

/* The Kafka text of config i for cfg into buf (NUL-terminated, cut to
 * cap); *is_default says whether it is the default value. Returns 0, or -1
 * for an index out of range. */
int vs_tcfg_get(const varve_topic_config *cfg, size_t i, const vs_tcfg_limits *lim, char *buf,
		size_t cap, int *is_default);

#endif
