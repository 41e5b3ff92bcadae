/* SPDX-License-Identifier: MIT */
/*
 * db.h -- the store handle: a table of the subsystems of one open store.
 *
 * varve_open (store/store.c, the composition root) creates each subsystem,
 * wires the few callbacks that let a lower one ask a higher one for
 * something (the cleaner's retention floor, the append wake-up), and fills
 * this table; varve_close takes them down in reverse order. Every public
 * function takes the handle and works through the subsystem it belongs to.
 * The subsystems' structures are private to their own folders: outside it,
 * only their functions are used, never their fields.
 *
 *   layer     subsystem         lock(s), in the order they may nest
 *   store     varve_db          (none of its own)
 *   topic     topics  registry  admin_mu (create/delete), then lock (rwlock)
 *   meta      meta    log       write_mu: a metadata write and the
 *                               in-memory change it makes, as one step
 *   consume   groups            mu
 *   produce   producers         mu
 *   log       partition         lock (appenders), segs_lock, segment mu;
 *                               sync_mu is a leaf
 *   consume   notify            mu: a leaf (never held while calling out)
 *   produce   async             mu: a leaf (callbacks run without it)
 *   clean     cleaner           round_mu (one round at a time), then the above
 *
 * So a topic create may write metadata, and a metadata write may update the
 * group table, but the group table never calls into the metadata log while
 * holding its lock.
 */
#ifndef VV_DB_H
#define VV_DB_H

#include <stdatomic.h>

#include "env.h"

struct vv_meta;
struct vv_topics;
struct vv_groups;
struct vv_notify;
struct vv_producers;
struct vv_async;
struct vv_cleaner;
struct vv_report;
struct vv_postab_budget;

struct varve_db {
	vv_env env;
	struct vv_report *report;       /* what recovery cut, commits clamped */
	struct vv_meta *meta;           /* the metadata log */
	struct vv_topics *topics;       /* topics by name */
	struct vv_groups *groups;       /* committed offsets, members, retries */
	struct vv_notify *notify;       /* wake-ups of waiting consumers */
	struct vv_producers *producers; /* producer ids and names */
	struct vv_async *async;         /* asynchronous produce */
	struct vv_cleaner *cleaner;     /* background thread, cleaning rounds */
	void *lock;                     /* the LOCK file (vv_file *) of a writer */
	struct vv_corrupt_sink *corrupt_sink; /* corruption under path -> log_fn */
	_Atomic long open_handles;      /* iterators and consumers still open */
	struct vv_postab_budget *read_cache; /* record position tables (log/postab.h) */
};

#endif
