/* SPDX-License-Identifier: MIT */
/*
 * env.h -- what every subsystem of an open store shares: its path, its
 * options, whether it is read-only, the log callback and the clock. Set up
 * once by varve_open and never changed; read without locks.
 */
#ifndef VV_ENV_H
#define VV_ENV_H

#include <stdint.h>

#include "varve.h"

typedef struct vv_env {
	char *path;          /* the store directory, as given to varve_open */
	char *topics_dir;    /* <path>/topics */
	varve_options opts;  /* the caller's options, defaults filled in */
	int read_only;
} vv_env;

/* A message to the log callback (never printed anywhere else). */
void vv_env_log(const vv_env *env, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The store's clock in ms (the caller's clock_fn, else CLOCK_REALTIME). */
int64_t vv_env_now(const vv_env *env);

#endif
