/* SPDX-License-Identifier: MIT */
/* env.c -- the log callback and the clock of an open store (see env.h). */
#include <stdarg.h>
#include <stdio.h>

#include "env.h"
#include "util.h"

void vv_env_log(const vv_env *env, int level, const char *fmt, ...)
{
	if (!env->opts.log_fn)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	env->opts.log_fn(env->opts.log_ctx, level, msg);
}

int64_t vv_env_now(const vv_env *env)
{
	return env->opts.clock_fn ? env->opts.clock_fn(env->opts.clock_ctx) : vv_now_ms();
}
