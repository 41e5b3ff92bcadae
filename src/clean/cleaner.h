/* SPDX-License-Identifier: MIT */
/*
 * cleaner.h -- the store's background thread and its cleaning rounds
 * (retention and compaction; design in cleaner.c).
 */
#ifndef VV_CLEANER_H
#define VV_CLEANER_H

#include "registry.h"

/* What the cleaner asks of the layers above it. */
typedef struct vv_cleaner_hooks {
	/* Offsets below this may go (INT64_MAX: no limit): the committed
	 * positions of the groups a topic protects (retain_for_groups). */
	int64_t (*retention_floor)(void *ctx, vv_topic *t, uint32_t part);
	/* Called every sync period from the thread (lag-limit checks). */
	void (*periodic)(void *ctx);
	void *ctx;
} vv_cleaner_hooks;

typedef struct vv_cleaner vv_cleaner;

/* A cleaner for a writer's store; no thread until vv_cleaner_start. */
int vv_cleaner_new(const vv_env *env, vv_topics *topics, vv_meta *meta,
		   const vv_cleaner_hooks *hooks, vv_cleaner **out);
int vv_cleaner_start(vv_cleaner *c);
/* Stop and join the thread (if started), free. */
void vv_cleaner_free(vv_cleaner *c);
/* Run a round soon (no-op without a thread). */
void vv_cleaner_wake(vv_cleaner *c);
/* Its counters into the cleaner fields of s. */
void vv_cleaner_stats(vv_cleaner *c, varve_stats *s);

#endif
