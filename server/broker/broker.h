/* SPDX-License-Identifier: MIT */
/*
 * broker.h -- the Kafka broker of `varve serve`: one varve store served to
 * Kafka clients as a one-node cluster (node id 0). This is the whole API the
 * serve command (tools/cli_serve.c) uses; the request handlers and their
 * shared state are internal (broker_int.h).
 *
 * Design (docs/KAFKA.md, "Design"):
 *   - One event-loop thread (server/net, vs_loop) owns every connection and
 *     all broker state, so the broker takes no locks. vs_broker_run runs the
 *     loop on the calling thread.
 *   - The loop never waits on a disk sync: store calls that may fsync or
 *     read the disk slowly run on a small worker pool (work.h) and come back
 *     through vs_loop_post; such a request keeps its response slot and is
 *     answered later (the loop orders responses per connection).
 *   - Consumer groups are coordinated in memory by server/coord on the loop
 *     thread; committed offsets go to the store.
 *   - The store is used only through its public API (include/varve.h).
 *
 * Lifecycle: vs_broker_new, vs_broker_listen (one or more), vs_broker_run
 * (returns after vs_broker_stop and the graceful stop), vs_broker_free. The
 * store stays the caller's: close it after vs_broker_free.
 *
 * Errors: 0 or a negative errno; vs_broker_error tells what failed.
 */
#ifndef VS_BROKER_H
#define VS_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "coord/coord.h"
#include "net/loop.h"
#include "net/tls.h"
#include "security/sasl.h"
#include "tconfig.h"
#include "varve.h"

/* Log levels of the broker's own messages: the store's (VARVE_LOG_*). */
typedef void (*vs_broker_log_fn)(void *ctx, int level, const char *message);

typedef struct vs_broker_config {
	varve_db *db;                 /* open for writing with inflight_block = 0 (the
				       * broker appends on its loop thread and must
				       * not block there); the caller's */
	const char *cluster_id;       /* reported in Metadata; copied (at most 63 bytes) */
	vs_loop_config loop;          /* connection limits (loop.h) */
	vs_coord_config coord;        /* group limits (coord.h) */
	unsigned work_threads;        /* 0: VS_WORK_DEFAULT_THREADS */
	size_t work_queue;            /* 0: VS_WORK_DEFAULT_QUEUE */
	size_t max_call_bytes;        /* arena cap per request; 0: VS_BROKER_DEFAULT_CALL_BYTES */
	size_t max_deferred_bytes;    /* request frames kept by calls answered later (all
				       * connections); past it such requests are refused
				       * with REQUEST_TIMED_OUT; 0: VS_BROKER_DEFAULT_DEFERRED_BYTES */
	int auto_create_topics;       /* Kafka's auto.create.topics.enable */
	int32_t default_partitions;   /* Kafka's num.partitions (>= 1) */
	vs_tcfg_limits limits;        /* store-wide values topic configs report */
	int sync_policy;              /* the store's, for DescribeConfigs */
	int64_t lag_refresh_ms;       /* /metrics lag snapshot period; 0: 5000 */
	vs_broker_log_fn log_fn;      /* may be NULL */
	void *log_ctx;
	int verbose;                  /* log INFO messages (connections, requests refused) */
	/* Authentication on SASL listeners (docs/SECURITY.md) */
	const char *users_path;       /* SCRAM credentials (security/users.h), re-read when it
				       * changes; NULL: nobody can authenticate */
	unsigned sasl_mechanisms;     /* VS_SASL_* offered; 0: SCRAM-SHA-256 and SCRAM-SHA-512 */
	int allow_plain_without_tls;  /* offer PLAIN on SASL_PLAINTEXT listeners too */
	/* Permissions (h_acls.c; docs/SECURITY.md): the ACL file (<store>/acls),
	 * read at start and again when it changes; NULL: no ACLs, every
	 * request allowed and the ACL APIs answer SECURITY_DISABLED. */
	const char *acl_file;
	const char *const *super_users; /* principals no ACL applies to (the caller keeps them) */
	size_t super_user_count;
} vs_broker_config;

#define VS_BROKER_DEFAULT_CALL_BYTES ((size_t)64 << 20)
#define VS_BROKER_DEFAULT_DEFERRED_BYTES ((size_t)256 << 20)

/* Defaults for everything but db and cluster_id. */
void vs_broker_config_default(vs_broker_config *cfg);

typedef struct vs_broker vs_broker;

int vs_broker_new(const vs_broker_config *cfg, vs_broker **out);
/* NULL is accepted. Stops the workers (queued work is cancelled), runs the
 * completions still queued, frees everything but the store. */
void vs_broker_free(vs_broker *b);
/* The message of the last failure (listen, run). */
const char *vs_broker_error(const vs_broker *b);

/* Security protocols of Kafka listeners, with Kafka's names. */
enum {
	VS_SECURITY_PLAINTEXT = 0,
	VS_SECURITY_SSL = 1,            /* TLS; the principal of a verified client
					 * certificate is "User:" + its subject */
	VS_SECURITY_SASL_PLAINTEXT = 2, /* SASL authentication, no TLS */
	VS_SECURITY_SASL_SSL = 3        /* SASL authentication over TLS */
};
/* "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"; NULL for others. */
const char *vs_security_name(int security);
/* The protocol of a name (case-insensitive), or -1. */
int vs_security_by_name(const char *name, size_t len);

/* Listen for Kafka clients (kafka != 0; PLAINTEXT) or for /metrics over
 * HTTP on "host:port" (loop.h); *bound_port gets the real port. */
int vs_broker_listen(vs_broker *b, const char *addr, int kafka, int *bound_port);
/* A Kafka listener with a security protocol: tls (the caller's, freed after
 * the broker) for SSL and SASL_SSL, NULL for the others. On a SASL
 * listener only ApiVersions, SaslHandshake and SaslAuthenticate are served
 * before authentication; anything else is answered ILLEGAL_SASL_STATE and
 * the connection closes. */
int vs_broker_listen_secure(vs_broker *b, const char *addr, int security, vs_tls *tls,
			    int *bound_port);
/* What Metadata and FindCoordinator tell clients to connect to: host (at
 * most 255 bytes, copied) and port. Call before vs_broker_run. */
int vs_broker_advertise(vs_broker *b, const char *host, int32_t port);
/* The same for the nth Kafka listener (0 = the first listened), whose
 * clients are told its own address; listeners without one get
 * vs_broker_advertise's. */
int vs_broker_advertise_listener(vs_broker *b, int nth, const char *host, int32_t port);
/* Any thread or a signal handler (SIGHUP): on the loop thread, build new
 * TLS contexts from the certificate files for new connections and re-read
 * the users file. Failures are logged and leave what was loaded in use. */
void vs_broker_reload(vs_broker *b);

/* Run the loop on this thread until vs_broker_stop; 0 or -errno. */
int vs_broker_run(vs_broker *b);
/* Any thread or a signal handler: begin the graceful stop. */
void vs_broker_stop(vs_broker *b);

#endif
