/* SPDX-License-Identifier: MIT */
/*
 * async.h -- asynchronous produce: appends in the caller's thread, a
 * completion thread makes them durable and calls the callbacks (design
 * notes in async.c).
 */
#ifndef VV_ASYNC_H
#define VV_ASYNC_H

#include <stdint.h>

#include "env.h"

typedef struct vv_async vv_async;

int vv_async_new(const vv_env *env, vv_async **out);
/* Stop the completion thread after it has called every pending callback. */
void vv_async_free(vv_async *a);
/* Bytes appended but not yet acknowledged. */
uint64_t vv_async_inflight(vv_async *a);
/* Produces that blocked or got VARVE_EAGAIN at the in-flight bound. */
uint64_t vv_async_backpressure_waits(vv_async *a);

#endif
