/* SPDX-License-Identifier: MIT */
/*
 * notify.h -- wake-ups for readers waiting on new records: blocking polls
 * (a condition variable) and eventfds that epoll/poll/libuv loops watch.
 *
 * Every append bumps a generation counter. Waiters that block, and
 * waiters whose eventfd is armed, raise `interest`; only then does an
 * appender take the mutex to broadcast and write the eventfds, so appends
 * cost one atomic increment while nobody waits. A waiter is armed before
 * it reads, so an append that lands after its last read cannot be missed (a
 * spurious wake-up is the price).
 */
#ifndef VV_NOTIFY_H
#define VV_NOTIFY_H

#include <stdint.h>

#include "partition.h"

typedef struct vv_notify vv_notify;

/* A registered waiter: an eventfd written when a topic it follows gets
 * records, and an optional callback. */
typedef struct vv_waiter vv_waiter;
typedef void (*vv_waiter_fn)(void *ctx);

int vv_notify_new(vv_notify **out);
void vv_notify_free(vv_notify *n);

/* The partitions' append callback (ctx is the vv_notify). */
void vv_notify_on_append(void *ctx, vv_partition *p);

/* Register a waiter on the given topics (NULL, 0: every topic). Its
 * eventfd is non-blocking and close-on-exec. */
int vv_notify_add(vv_notify *n, const char *const *topics, size_t ntopics, vv_waiter_fn fn,
		  void *ctx, vv_waiter **out);
void vv_notify_remove(vv_notify *n, vv_waiter *w);
int vv_waiter_fd(const vv_waiter *w);
/* Drain the eventfd and arm the waiter for the next append. */
void vv_waiter_arm(vv_notify *n, vv_waiter *w);

/* The generation now, and a wait until it moves past gen or the monotonic
 * deadline in ns (0 = none). */
uint64_t vv_notify_gen(vv_notify *n);
void vv_notify_wait(vv_notify *n, uint64_t gen, uint64_t deadline_ns);

#endif
