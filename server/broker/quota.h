/* SPDX-License-Identifier: MIT */
/*
 * quota.h -- client quotas of `varve serve` and the per-request limits on
 * what one request may name (docs/SECURITY.md, "Quotas and limits").
 *
 * Quotas (Kafka's KIP-13 and KIP-124, with a token bucket for the rate):
 * three kinds, each a rate per second: produce bytes (the size of Produce
 * requests), fetch bytes (the record bytes of Fetch answers) and requests
 * (every request but ApiVersions, SaslHandshake and SaslAuthenticate).
 * Which quota a request is charged to, for each kind separately:
 *
 *   1. an entry for its user (the principal "User:NAME") that sets this
 *      kind: one bucket shared by every connection of that user;
 *   2. else an entry for its client id that sets this kind: one bucket
 *      shared by every connection with that client id;
 *   3. else the server-wide default of this kind, if any: one bucket per
 *      client id (Kafka's quota.producer.default / quota.consumer.default);
 *   4. else nothing: unlimited.
 *
 * A bucket holds at most `burst_ms` worth of its rate and starts full. A
 * charge takes from it and may take it below zero; the client is then
 * throttled for as long as the refill needs to bring it back to zero (at
 * most max_throttle_ms, and the debt is clipped there, so one huge request
 * does not throttle a client for longer than that). The broker puts the
 * throttle in the answer's throttle_time_ms and stops reading the
 * connection for that long (KIP-219), so a client that ignores the field
 * is slowed down anyway.
 *
 * Entries live in <store>/quotas (one line per entity, written atomically
 * with mode 0600 by `varve quota`); the broker stats the file at most once
 * per reload_ms and re-reads it when it changed, keeping the entries it had
 * if the new text is malformed. Names are compared on their first
 * VS_QUOTA_MAX_NAME bytes.
 *
 * Memory: buckets are made on first use and forgotten once full again
 * (nothing is lost: a new bucket starts full); at most max_buckets exist,
 * and past that new clients share one overflow bucket per kind, which a
 * flood of made-up client ids therefore cannot escape.
 *
 * Thread: the loop thread only (the CLI uses the file functions alone).
 * Calls libc and the protocol structs (kmsg.h).
 */
#ifndef VS_BROKER_QUOTA_H
#define VS_BROKER_QUOTA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol/kbuf.h"
#include "protocol/kmsg.h"

enum vs_quota_kind {
	VS_QUOTA_PRODUCE = 0, /* bytes per second */
	VS_QUOTA_FETCH = 1,   /* bytes per second */
	VS_QUOTA_REQUEST = 2, /* requests per second */
	VS_QUOTA_KINDS = 3
};

enum vs_quota_entity { VS_QUOTA_USER = 1, VS_QUOTA_CLIENT_ID = 2 };

#define VS_QUOTA_MAX_NAME 255
#define VS_QUOTA_MAX_ENTRIES 100000
/* Rates are at most 2^50 per second (exact in a double). */
#define VS_QUOTA_MAX_RATE ((int64_t)1 << 50)
#define VS_QUOTA_UNSET 0

/* "produce_bytes_per_sec", "fetch_bytes_per_sec", "requests_per_sec". */
const char *vs_quota_kind_name(int kind);

/* ---- the token bucket ------------------------------------------------------------ */

typedef struct vs_bucket {
	double tokens;  /* may be negative: the debt */
	int64_t at_ms;  /* when tokens was last brought up to date */
} vs_bucket;

/* A full bucket for rate units per second, burst_ms deep. */
void vs_bucket_init(vs_bucket *b, double rate, int64_t burst_ms, int64_t now_ms);
/* Refill up to now, take amount, and return the throttle: the ms until the
 * balance is back at zero (0 when it is not below zero). The debt is
 * clipped to max_throttle_ms worth of the rate. */
int64_t vs_bucket_take(vs_bucket *b, double rate, int64_t burst_ms, int64_t max_throttle_ms,
		       double amount, int64_t now_ms);
/* The ms at which the bucket is full again (now or earlier: full). */
int64_t vs_bucket_full_at(const vs_bucket *b, double rate, int64_t burst_ms);

/* ---- entries and the quotas file ----------------------------------------------- */

typedef struct vs_quota_entry {
	int entity;                       /* VS_QUOTA_USER or VS_QUOTA_CLIENT_ID */
	char name[VS_QUOTA_MAX_NAME + 1]; /* no NUL byte inside */
	size_t name_len;
	int64_t rate[VS_QUOTA_KINDS];     /* per second; VS_QUOTA_UNSET: not set here */
} vs_quota_entry;

/* Kept sorted by (entity, name): lookups are binary searches. */
typedef struct vs_quota_list {
	vs_quota_entry *v;
	size_t n, cap;
} vs_quota_list;

void vs_quota_list_free(vs_quota_list *l);
/* The entry of (entity, name), or NULL. Names longer than
 * VS_QUOTA_MAX_NAME are looked up by their first VS_QUOTA_MAX_NAME bytes. */
const vs_quota_entry *vs_quota_list_find(const vs_quota_list *l, int entity, const void *name,
					 size_t len);
/* Set the rates of (entity, name) that are not VS_QUOTA_UNSET in rate[]
 * (-1 clears that kind); an entry left with no rate is removed. 0, or
 * -EINVAL (a bad name or rate), -ENOMEM, -ENOSPC (VS_QUOTA_MAX_ENTRIES). */
int vs_quota_list_set(vs_quota_list *l, int entity, const char *name,
		      const int64_t rate[VS_QUOTA_KINDS]);
/* 1 if (entity, name) was there and is removed, else 0. */
int vs_quota_list_remove(vs_quota_list *l, int entity, const char *name);

/* Parse the file's text (see quota.c for the format). 0, or -EINVAL with
 * "line N: why" in err, or -ENOMEM. out is replaced on success only. */
int vs_quota_parse(const char *text, size_t len, vs_quota_list *out, char *err, size_t cap);
/* The file's text for l (malloc'd, NUL-terminated), or NULL out of memory. */
char *vs_quota_format(const vs_quota_list *l);

/* The file's identity, to tell whether it changed. */
typedef struct vs_quota_file_id {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
} vs_quota_file_id;

/* Read path into *out (a missing file is an empty list); *id (may be NULL)
 * gets what was read. 0, or -errno / -EINVAL with a message in err. */
int vs_quota_file_read(const char *path, vs_quota_list *out, vs_quota_file_id *id, char *err,
		       size_t cap);
/* Write l to path atomically (temporary file, fsync, rename, fsync of the
 * directory), mode 0600. 0 or -errno. */
int vs_quota_file_write(const char *path, const vs_quota_list *l);

/* ---- the broker's quotas ---------------------------------------------------------- */

typedef struct vs_quota_config {
	const char *path;                      /* <store>/quotas; NULL: entries only from set */
	int64_t default_rate[VS_QUOTA_KINDS];  /* per client id; 0: none */
	int64_t burst_ms;                      /* default 1000 */
	int64_t max_throttle_ms;               /* default 10000 */
	uint32_t max_buckets;                  /* default 100000 */
	int64_t reload_ms;                     /* default 1000 */
} vs_quota_config;

void vs_quota_config_default(vs_quota_config *c);

typedef struct vs_quota_stats {
	uint64_t throttled[VS_QUOTA_KINDS];    /* charges that throttled */
	uint64_t throttle_ms[VS_QUOTA_KINDS];  /* their throttle times, summed */
	uint64_t buckets;                      /* now */
	uint64_t entries;                      /* now: entries in force */
	uint64_t overflow;                     /* charges to the overflow bucket */
	uint64_t reloads, reload_errors;
} vs_quota_stats;

typedef struct vs_quotas vs_quotas;

/* Read the file (a malformed one is an error: -EINVAL, message in err). */
int vs_quotas_new(const vs_quota_config *cfg, vs_quotas **out, char *err, size_t cap);
void vs_quotas_free(vs_quotas *q);
/* Re-read the file if reload_ms passed since the last look and it changed:
 * 1 reloaded, 0 nothing to do, -1 the new file is unusable (the entries in
 * force stay; err says why; reported once per change of the file). */
int vs_quotas_maybe_reload(vs_quotas *q, int64_t now_ms, char *err, size_t cap);
/* Replace the entries in force (tests, or a caller without a file). */
void vs_quotas_set_entries(vs_quotas *q, vs_quota_list *l);
/* Whether any quota of kind could apply to anyone. */
int vs_quotas_any(const vs_quotas *q, int kind);

/* Charge amount of kind to the client (principal "User:NAME" or NULL,
 * client id) at now; returns the throttle in ms (0: within its quota). */
int64_t vs_quota_charge(vs_quotas *q, int kind, const char *principal, vs_slice client_id,
			double amount, int64_t now_ms);
/* The throttle the client would get now, charging nothing. */
int64_t vs_quota_throttle(vs_quotas *q, int kind, const char *principal, vs_slice client_id,
			  int64_t now_ms);
/* How much one burst of kind's quota holds for this client (rate *
 * burst_ms), or -1 when no quota applies. */
int64_t vs_quota_window(vs_quotas *q, int kind, const char *principal, vs_slice client_id);

void vs_quotas_stats(const vs_quotas *q, vs_quota_stats *out);

/* ---- answers and requests ------------------------------------------------------ */

/* Set the response's throttle_time_ms (APIs whose answer has one in some
 * version; the encoder leaves it out of versions without it). 1 if the
 * API's response has the field, 0 if not. */
int vs_response_set_throttle(int16_t key, vs_response *r, int32_t ms);
/* Whether a request of this API is charged to the request-rate quota. */
int vs_quota_counts_request(int16_t key);

/* What one request names: topic-partitions (partitions of APIs with
 * per-partition arrays, topics or resources of APIs without) and groups. */
typedef struct vs_request_size {
	uint64_t partitions;
	uint64_t groups;
} vs_request_size;

void vs_request_measure(int16_t key, const vs_request *q, vs_request_size *out);

#endif
