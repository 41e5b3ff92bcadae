/* SPDX-License-Identifier: MIT */
/*
 * broker_int.h -- what the broker's files share: the broker state, one
 * request in flight (vs_call), the handler table and the helpers handlers
 * use. Not for the serve command, which uses broker.h.
 *
 * Files:
 *   broker.c    lifecycle, request flow (header, decode, handler, encode,
 *               respond), calls, the coordinator timer, worker submission
 *   handlers.c  the table of handlers with their "implemented" flags
 *   reply.c     per-API error responses and error counting
 *   h_meta.c    ApiVersions, Metadata, FindCoordinator, ListOffsets
 *   h_group.c   JoinGroup .. DeleteGroups, OffsetCommit, OffsetFetch
 *   h_topics.c  CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords
 *   h_configs.c DescribeConfigs, AlterConfigs, IncrementalAlterConfigs
 *   metrics.c   /metrics (prom.c writes the Prometheus text format)
 *   produce.c   Produce, InitProducerId
 *   fetch.c     Fetch and its long poll
 *   conns.c     the per-connection records (conns.h)
 *   h_sasl.c    listeners' security, SaslHandshake, SaslAuthenticate, the
 *               authentication gate, raw SASL tokens, reloading
 *   h_acls.c    DescribeAcls, CreateAcls, DeleteAcls, and vs_authorize: the
 *               check every handler makes per resource it touches
 *
 * A handler runs on the loop thread with the decoded request in c->req and
 * returns VS_REPLY (c->resp is filled: the broker encodes and answers),
 * VS_DEFER (it will call vs_call_reply or vs_call_fail later, on the loop
 * thread; with a worker job, a coordinator callback, ...), or VS_CLOSE (a
 * protocol violation: the connection is closed, as Kafka does). Handlers
 * never touch bytes: they fill the structs of kmsg.h.
 *
 * Memory. Every array of a request and of its response lives in the call's
 * arena (hard cap: max_call_bytes); a deferred API (keep_frame in the table)
 * decodes from the call's own copy of the frame so its slices outlive the
 * loop's buffer. Strings a handler makes (messages, values) go to the arena
 * too (vs_call_str). Everything is released when the call is answered.
 */
#ifndef VS_BROKER_INT_H
#define VS_BROKER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "conns.h"
#include "protocol/karena.h"
#include "protocol/kerrors.h"
#include "protocol/kmsg.h"
#include "protocol/kproto.h"
#include "records/records.h"
#include "security/acl.h"
#include "work.h"

/* Refusals are counted per API and resource type: topic, group, cluster. */
#define VS_ACL_COUNTED_TYPES 3
/* API keys are below this (Kafka's keys go to 6x; ours to 44). */
#define VS_API_SLOTS 64
/* Latency histogram buckets (seconds), plus +Inf. */
#define VS_LAT_BUCKETS 14
extern const double vs_lat_bounds[VS_LAT_BUCKETS];

typedef struct vs_api_stats {
	uint64_t requests, errors;
	uint64_t bytes_in, bytes_out;
	uint64_t lat_buckets[VS_LAT_BUCKETS + 1]; /* not cumulative; the last is +Inf */
	double lat_sum;
} vs_api_stats;

typedef struct vs_call vs_call;
typedef struct vs_broker vs_broker;
typedef struct vs_fetch_state vs_fetch_state;

enum { VS_REPLY = 0, VS_DEFER = 1, VS_CLOSE = 2 };

typedef int (*vs_handler_fn)(vs_call *c);

typedef struct vs_handler {
	int16_t key;
	bool implemented; /* advertised in ApiVersions and served */
	bool keep_frame;  /* may be answered after on_request returns */
	vs_handler_fn fn;
} vs_handler;

/* The entry of key, or NULL for a key not in the table. */
const vs_handler *vs_handler_for(int16_t key);
/* 1 if the API is implemented (served and advertised). */
int vs_api_implemented(int16_t key);

struct vs_call {
	vs_broker *b;
	vs_conn_id conn;
	uint64_t seq;
	int16_t key, version;
	int32_t correlation_id;
	vs_slice client_id;
	char peer[64];       /* "ip:port" */
	const char *principal; /* who sent it: "User:NAME" ("User:ANONYMOUS" without
				* authentication); valid until the call is freed */
	vs_conn_state *cs;   /* its connection's record (conns.h), referenced until
			      * the call is freed, even after the connection closed */
	bool raw_sasl;       /* a bare SASL token (after SaslHandshake v0): answered
			      * with the bare token, or by closing (vs_call_reply) */
	int64_t start_ns;    /* monotonic, for the latency histogram */
	size_t bytes_in;
	uint8_t *frame;      /* the call's copy of its frame (keep_frame) */
	size_t frame_cap;
	size_t frame_held;   /* bytes of it counted in b->deferred_bytes */
	vs_arena arena;
	vs_request req;
	vs_response resp;
	/* deferred work (vs_call_submit) */
	vs_job job;
	void (*work_run)(vs_call *c);
	void (*work_done)(vs_call *c);
	/* what the handler owns until the answer */
	char **strv;         /* from varve_topic_list / varve_group_list */
	size_t strc;
	void *state;         /* the handler's, in the arena (never freed) */
	void (*on_free)(vs_call *c); /* the handler's cleanup, when the call goes */
	/* calls waiting for a coordinator callback */
	vs_call *prev, *next;
	bool held;
	vs_call *free_next;  /* the broker's free list */
};

struct vs_broker {
	vs_broker_config cfg;
	varve_db *db;
	vs_loop *loop;
	vs_coord *coord;
	vs_work *work;
	char error[256];
	char host[256];
	int32_t port;
	char cluster_id[64];
	int32_t node0[1];     /* replica lists: [0] */
	/* the coordinator's tick timer */
	uint64_t coord_timer;
	int64_t coord_timer_at;
	vs_call *held;        /* calls waiting for JoinGroup/SyncGroup answers */
	vs_call *free_calls;  /* answered calls kept for reuse (arena kept) */
	size_t nfree;
	/* metrics (loop thread) */
	vs_api_stats api[VS_API_SLOTS];
	uint64_t unsupported;     /* unknown API or version */
	uint64_t decode_errors;   /* requests that did not decode: closed */
	uint64_t encode_errors;   /* responses that did not encode: closed */
	uint64_t busy;            /* worker queue full */
	uint64_t calls_open;      /* now */
	uint64_t deferred_bytes;  /* now: frames copied by calls (max_deferred_bytes) */
	uint64_t topics_created, topics_deleted;
	/* the lag snapshot for /metrics, made by a worker */
	char *lag_text;
	size_t lag_len;
	bool lag_running;
	uint64_t lag_timer;
	int64_t lag_age_ms;
	vs_job lag_job;
	void *lag_pending;
	bool stopping;
	int stop_fd;          /* eventfd: vs_broker_stop wakes the loop thread */
	/* Produce (produce.c) */
	vs_records_decoder decoder; /* the loop thread's */
	void *produce_wait, *produce_wait_tail; /* calls waiting for the in-flight bound */
	uint64_t produce_inflight;  /* appends not yet completed */
	uint64_t produce_records, produce_duplicates, produce_waits;
	bool loop_done;             /* no more appends: the loop has stopped */
	/* Fetch (fetch.c) */
	varve_watch *watch;
	vs_fetch_state *fetch_waiters;
	uint64_t fetch_waiting;     /* now */
	uint64_t fetch_gen;         /* watch wake-ups */
	uint64_t fetch_bytes, fetch_damaged;
	bool fetch_stopping;
	/* Listeners and authentication (h_sasl.c, conns.c) */
	vs_conns conns;
	struct vs_endpoint *endpoints; /* the Kafka listeners, in listen order */
	size_t n_endpoints;
	int n_listens;              /* loop listeners (Kafka and HTTP) so far */
	struct vs_users_file *users; /* NULL without cfg.users_path */
	/* users is read by workers too (PLAIN's check runs on one) while the
	 * loop may re-read the file: both hold this lock */
	pthread_mutex_t users_lock;
	bool users_lock_made;
	vs_sasl_env sasl_env;
	int reload_fd;              /* eventfd: vs_broker_reload wakes the loop thread */
	uint64_t auth_ok, auth_failed; /* SASL authentications */
	uint64_t auth_refused;      /* requests before authentication, refused */
	uint64_t reloads;
	/* Permissions (h_acls.c) */
	vs_acl_set acls;            /* the ACLs in force (sorted) */
	vs_acl_stamp acl_stamp;     /* of the file they were read from */
	vs_conn_id acl_conn_seen;   /* the newest connection that looked at the file */
	int64_t acl_checked_ms;     /* loop time of the last look */
	bool acl_file_bad;          /* the file does not parse: warned, old ACLs kept */
	uint64_t acl_reloads, acl_reload_failures;
	/* row VS_API_SLOTS: varve's own APIs (VarveClean), whose keys would
	 * otherwise share a Kafka API's row */
	uint64_t acl_refused[VS_API_SLOTS + 1][VS_ACL_COUNTED_TYPES];
	uint64_t *acl_logged;       /* hashes of the (principal, resource) refusals logged */
	size_t acl_logged_n;
	bool acl_log_full;
};

/* ---- calls (broker.c) ------------------------------------------------------ */

/* Encode c->resp, answer, count, free the call. */
void vs_call_reply(vs_call *c);
/* Answer nothing (Produce with acks=0, a dropped long poll) and free. */
void vs_call_skip(vs_call *c);
/* Fill an error response for the whole request (reply.c) and reply; if even
 * that cannot be built, close the connection. */
void vs_call_fail(vs_call *c, int16_t err);
/* Run run(c) on a worker, then done(c) on the loop thread; done must end
 * with vs_call_reply/vs_call_fail. 0, or -EAGAIN/-ESHUTDOWN (nothing will
 * run: answer now, e.g. vs_reply_error with KE_REQUEST_TIMED_OUT). */
int vs_call_submit(vs_call *c, void (*run)(vs_call *c), void (*done)(vs_call *c));
/* n zeroed elements from the call's arena, or NULL. */
void *vs_call_alloc(vs_call *c, size_t n, size_t size);
/* A copy of z (or of s) in the arena; a null slice if out of memory. */
vs_slice vs_call_str(vs_call *c, const char *z);
vs_slice vs_call_slice(vs_call *c, vs_slice s);
/* printf into the arena. */
vs_slice vs_call_printf(vs_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy a slice into a NUL-terminated string in the arena; NULL if it holds
 * a NUL byte or is longer than max bytes (or out of memory). */
char *vs_call_cstr(vs_call *c, vs_slice s, size_t max);
/* dup[i] = 1 for every name that occurs more than once in names[0..n)
 * (sorting, not comparing pairs: n comes from the client). NULL out of
 * memory. (h_topics.c) */
uint8_t *vs_call_duplicates(vs_call *c, const vs_slice *names, size_t n);
/* Wait for a coordinator callback: c is linked into the held list (so a
 * closed connection forgets it). */
void vs_call_hold(vs_call *c);
void vs_call_unhold(vs_call *c);
/* After any coordinator call: re-arm the tick timer. */
void vs_coord_timer_update(vs_broker *b);
/* The broker's log. */
void vs_blog(vs_broker *b, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- responses (reply.c) --------------------------------------------------- */

/* Fill c->resp as the answer to c->req with err everywhere an error fits
 * (Kafka's getErrorResponse). 0, or -1 out of arena memory. */
int vs_reply_error(vs_call *c, int16_t err);
/* The number of non-zero error codes in a response. */
uint64_t vs_response_errors(int16_t key, const vs_response *r);
/* Store error -> Kafka error for a topic/partition operation. */
int16_t vs_kerr_from_store(int rc);
/* A partition's log start offset and high watermark: the offset a consumer
 * may read up to, the durable offset (the end offset under sync_policy
 * none). Fetch answers it and ListOffsets "latest" returns it, as Kafka's
 * leader returns its high watermark, so a client never seeks past what a
 * crash could take back. A VARVE_E* code. */
int vs_partition_watermarks(vs_broker *b, const char *topic, int32_t partition, int64_t *start,
			    int64_t *hw);
/* The same for an append (producer sequence and epoch errors). (produce.c) */
int16_t vs_kerr_from_append(int rc);

/* ---- handlers -------------------------------------------------------------- */

int vs_h_produce(vs_call *c);
int vs_h_fetch(vs_call *c);
int vs_h_init_producer_id(vs_call *c);
int vs_h_api_versions(vs_call *c);
int vs_h_metadata(vs_call *c);
int vs_h_find_coordinator(vs_call *c);
int vs_h_list_offsets(vs_call *c);
int vs_h_join_group(vs_call *c);
int vs_h_sync_group(vs_call *c);
int vs_h_heartbeat(vs_call *c);
int vs_h_leave_group(vs_call *c);
int vs_h_offset_commit(vs_call *c);
int vs_h_offset_fetch(vs_call *c);
int vs_h_list_groups(vs_call *c);
int vs_h_describe_groups(vs_call *c);
int vs_h_delete_groups(vs_call *c);
int vs_h_create_topics(vs_call *c);
int vs_h_delete_topics(vs_call *c);
int vs_h_describe_configs(vs_call *c);
int vs_h_alter_configs(vs_call *c);
int vs_h_incremental_alter_configs(vs_call *c);
int vs_h_create_partitions(vs_call *c);
int vs_h_delete_records(vs_call *c);
int vs_h_describe_acls(vs_call *c);
int vs_h_create_acls(vs_call *c);
int vs_h_delete_acls(vs_call *c);

/* Group ids the store can hold: 1..VARVE_MAX_GROUP_NAME bytes, no NUL. */
int vs_group_id_ok(vs_slice id);
/* The partition count of a topic, or 0 if there is no such topic (or its
 * name is not one the store could hold). */
uint32_t vs_topic_partitions(vs_broker *b, vs_slice topic, char *name_out, size_t cap);

/* ---- produce and fetch ------------------------------------------------------ */

/* The loop has stopped: waiting Produce calls fail, nothing more is
 * appended. (produce.c) */
void vs_produce_stop(vs_broker *b);
/* Open the store's watch and wake long polls from it; 0 or -errno. */
int vs_fetch_start(vs_broker *b);
/* A connection closed: drop its waiting Fetch calls. */
void vs_fetch_conn_closed(vs_broker *b, vs_conn_id conn);
/* Stopping: answer every waiting Fetch now. */
void vs_fetch_stop(vs_broker *b);
void vs_fetch_free(vs_broker *b);

/* ---- listeners and authentication (h_sasl.c) -------------------------------- */

/* A Kafka listener: its security and the address its clients are told. */
typedef struct vs_endpoint {
	int listener;   /* the loop's index */
	int security;   /* VS_SECURITY_* */
	vs_tls *tls;    /* SSL, SASL_SSL */
	bool advertised; /* host/port set for this listener */
	int32_t port;
	char host[256];
} vs_endpoint;

/* The endpoint of a loop listener index, or NULL (HTTP). */
const vs_endpoint *vs_endpoint_of(const vs_broker *b, int listener);
/* What Metadata/FindCoordinator tell c's client: its listener's address. */
void vs_call_advertised(const vs_call *c, const char **host, int32_t *port);
/* Kafka's advertised.listeners: "PLAINTEXT://h:p,SASL_SSL://h:p" (what
 * fits in cap; whole entries only). Returns out. */
const char *vs_advertised_listeners(const vs_broker *b, char *out, size_t cap);
/* The handlers of SaslHandshake and SaslAuthenticate on SASL listeners. */
const vs_handler *vs_sasl_handler(int16_t key);
/* 1 if ApiVersions lists key to c's client: the SASL APIs on SASL
 * listeners, everything else implemented everywhere. */
int vs_api_offered(const vs_call *c, int16_t key);
/* 1 if cs may send key now (authenticated, or a step of authenticating). */
int vs_auth_allows(const vs_conn_state *cs, int16_t key);
/* Answer c with ILLEGAL_SASL_STATE and close after the answer. */
void vs_auth_refuse(vs_call *c);
/* Set up users and the SASL secret (vs_broker_new); 0 or -errno. */
int vs_auth_start(vs_broker *b);
void vs_auth_free(vs_broker *b);
/* vs_broker_reload arrived on the loop thread. */
void vs_auth_reload(vs_broker *b);
/* The authentication and TLS families of /metrics. */
struct vs_prom;
void vs_auth_metrics(vs_broker *b, struct vs_prom *p);
/* ---- permissions (h_acls.c) -------------------------------------------------- */

/* May the call's principal, from its peer's address, do op (VS_OP_*) on
 * the resource (VS_RES_TOPIC, _GROUP with its name; VS_RES_CLUSTER, name
 * ignored)? One call per resource a handler touches, before it looks the
 * resource up (an answer must not tell a refused client whether a topic
 * exists). A refusal is counted in /metrics and logged once per principal
 * and resource; the handler answers its API's authorization error. */
bool vs_authorize(vs_call *c, int op, int type, vs_slice name);
/* The same decision without counting or logging: for filtering what a
 * client may see (Metadata of every topic, ListGroups) and for one of two
 * ways to be allowed (CREATE on the cluster, else on the topic). */
bool vs_authorized(vs_call *c, int op, int type, vs_slice name);
/* op on some resource of type (InitProducerId: WRITE on any topic); quiet. */
bool vs_authorized_any(vs_call *c, int op, int type);
/* Count and log a refusal decided from quiet checks. */
void vs_authorize_refused(vs_call *c, int op, int type, vs_slice name);
/* The bit field of Kafka's authorized_operations (bit n: operation n) for
 * a resource: what the principal may do on it. */
int32_t vs_authorized_operations(vs_call *c, int type, vs_slice name);
/* Read the ACL file at start: 0, or -EINVAL (logged) if it does not parse
 * or cannot be read. */
int vs_acls_start(vs_broker *b);
void vs_acls_free(vs_broker *b);
/* Read the ACL file now if it changed (SIGHUP; vs_broker_reload). */
void vs_acls_reload(vs_broker *b);

/* ---- metrics (metrics.c) --------------------------------------------------- */

int vs_metrics_http(void *ctx, const char *path, vs_wbuf *body, const char **content_type);
/* Start the periodic lag snapshot (a timer and a worker job). */
void vs_metrics_start(vs_broker *b);
void vs_metrics_free(vs_broker *b);

#endif
