/* SPDX-License-Identifier: MIT */
/*
 * cli_remote_int.h -- what the remote paths of the `varve` command line
 * share (cli_remote.c, cli_remote_admin.c, cli_remote_data.c): a
 * librdkafka handle with the command's context, waits bounded by the
 * command's --timeout-ms, error messages that name the server, and the
 * lookups several commands need (a topic's partitions, watermarks,
 * offsets by time).
 *
 * Every function that can fail prints why ("varve: SERVER: what: Kafka's
 * error text") and returns CLI_ERROR, so callers only pass the code on.
 * Nothing here blocks longer than the command's timeout.
 */
#ifndef VARVE_CLI_REMOTE_INT_H
#define VARVE_CLI_REMOTE_INT_H

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "cli_remote.h"

typedef struct rk_handle {
	rd_kafka_t *rk;
	cli_ctx *c;
	char last_error[512]; /* the latest error librdkafka reported (error_cb) */
	void *user;           /* the command's state, for its callbacks */
} rk_handle;

/* Extra configuration for rk_open: NULL-terminated name, value pairs. */
typedef const char *const rk_conf_pairs[];

/* A client of the server at c->bootstrap: checks first that it answers
 * (cli_remote_probe, unless cli_open just did), then makes the handle.
 * conf may be NULL; setup (may be NULL) adds callbacks to the
 * configuration before the handle is made, with ctx. */
int rk_open(cli_ctx *c, rd_kafka_type_t type, rk_conf_pairs conf,
	    void (*setup)(rd_kafka_conf_t *conf, void *ctx), void *ctx, rk_handle **out);
void rk_close(rk_handle *k);

/* Monotonic milliseconds, and a deadline c->timeout_ms from now. */
int64_t rk_now_ms(void);
int64_t rk_deadline(const rk_handle *k);
/* Milliseconds left until deadline, at least 0, at most INT32_MAX. */
int rk_left_ms(int64_t deadline);

/* "varve: SERVER: what: text" and CLI_ERROR. */
int rk_fail(const rk_handle *k, const char *what, const char *text);
int rk_fail_err(const rk_handle *k, const char *what, rd_kafka_resp_err_t err);
/* The same for an error object (destroyed here). */
int rk_fail_error(const rk_handle *k, const char *what, rd_kafka_error_t *error);
/* A wait that ran out: names the timeout and librdkafka's last error. */
int rk_fail_timeout(const rk_handle *k, const char *what);

/* Admin options for op with the command's timeouts. NULL (printed) if
 * out of memory. */
rd_kafka_AdminOptions_t *rk_admin_options(rk_handle *k, rd_kafka_admin_op_t op, const char *what);
/* Wait for the result of an admin call on q: the event (the caller
 * destroys it), or NULL after printing why (timeout, or the call failed
 * as a whole). */
rd_kafka_event_t *rk_admin_wait(rk_handle *k, rd_kafka_queue_t *q, const char *what);

/* A topic's partition count from Metadata (never creates it): CLI_OK, or
 * CLI_ERROR after "no topic named T" or the error. */
int rk_topic_partitions(rk_handle *k, const char *topic, uint32_t *n);
/* The same, but a missing topic returns RK_NO_TOPIC without a message. */
#define RK_NO_TOPIC (-2)
int rk_topic_lookup(rk_handle *k, const char *topic, uint32_t *n);
/* Every topic name, sorted (free with rk_names_free). */
int rk_topic_names(rk_handle *k, char ***names, size_t *n);
void rk_names_free(char **names, size_t n);
/* Log start and end offset of one partition (ListOffsets). */
int rk_watermarks(rk_handle *k, const char *topic, int32_t partition, int64_t *start,
		  int64_t *end);
/* The first offset with a timestamp >= ts in each partition of list
 * (its .offset is set; -1 when there is none). */
int rk_offsets_for_time(rk_handle *k, rd_kafka_topic_partition_list_t *list, int64_t ts);

/* The partition the store gives a keyed record (its key hash), so a key
 * lands in the same partition whichever way it is produced. */
int32_t rk_key_partition(const void *key, size_t len, uint32_t partitions);

#endif
