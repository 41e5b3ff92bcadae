/* SPDX-License-Identifier: MIT */
/*
 * bt_util.h -- helpers of the broker's tests: a vs_broker on its own thread
 * over a fresh store in a temporary directory, on 127.0.0.1 with a free
 * port, and a blocking client that sends kmsg.h requests and decodes the
 * answers. Everything asserts (cr_assert) on its own; waits are bounded by
 * BT_TIMEOUT_MS.
 */
#ifndef BT_UTIL_H
#define BT_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "protocol/karena.h"
#include "protocol/kerrors.h"
#include "protocol/kmsg.h"

#define BT_TIMEOUT_MS 10000

typedef struct bt {
	char dir[512];
	varve_db *db;
	vs_broker *b;
	pthread_t thread;
	int port, http_port;
	int run_rc;
	vs_arena arena; /* decoded responses; reset by each bt_call */
	int32_t corr;
} bt;

/* Start a broker (cfg may be adjusted by tweak, which may be NULL). */
void bt_start(bt *t, void (*tweak)(vs_broker_config *cfg));
/* The same with the store's options adjusted first (the broker is told the
 * store's sync policy, as varve serve tells it). */
void bt_start_store(bt *t, void (*store_tweak)(varve_options *o),
		    void (*tweak)(vs_broker_config *cfg));
/* Stop it (SIGTERM's path), join, free, close the store (which must close
 * cleanly). */
void bt_stop(bt *t);

int bt_connect(const bt *t);
/* Send req as (key, version) and decode the answer into *resp (slices
 * point into memory kept by t until the next call). */
void bt_call(bt *t, int fd, int16_t key, int16_t version, const vs_request *req, vs_response *resp);
/* Only send; bt_recv reads the answer later (pipelining). */
int32_t bt_send(bt *t, int fd, int16_t key, int16_t version, const vs_request *req);
void bt_recv(bt *t, int fd, int16_t key, int16_t version, int32_t corr, vs_response *resp);
/* Raw bytes and frames. */
void bt_send_raw(int fd, const void *p, size_t n);
/* One whole frame (malloc'd, without its size). */
uint8_t *bt_recv_frame(int fd, size_t *len);
/* 1 if the server closes fd within ms. */
int bt_closed(int fd, int ms);

/* Slices of C strings. */
vs_slice bt_s(const char *z);
int bt_is(vs_slice s, const char *z);

/* Store helpers. */
void bt_topic(bt *t, const char *name, uint32_t partitions);
void bt_fill(bt *t, const char *topic, int32_t partition, int n, int64_t first_ts);

/* GET path on the HTTP listener: the status; *body (malloc'd, NUL-ended). */
int bt_http_get(const bt *t, const char *path, char **body);

#endif
