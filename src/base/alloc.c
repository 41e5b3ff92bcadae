/* SPDX-License-Identifier: MIT */
/* alloc.c -- allocation wrappers with a failure hook for out-of-memory tests. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static _Atomic long fail_countdown;
static _Atomic int fail_persistent;
static _Atomic long alloc_count;
static _Atomic int fail_tripped;

void vv_alloc_fail_set(long countdown, int persistent)
{
	atomic_store(&fail_countdown, countdown);
	atomic_store(&fail_persistent, persistent);
	atomic_store(&fail_tripped, 0);
}

long vv_alloc_count(void) { return atomic_load(&alloc_count); }

static int should_fail(void)
{
	atomic_fetch_add(&alloc_count, 1);
	if (atomic_load(&fail_tripped) && atomic_load(&fail_persistent))
		return 1;
	long c = atomic_load(&fail_countdown);
	if (c <= 0)
		return 0;
	if (atomic_fetch_sub(&fail_countdown, 1) == 1) {
		atomic_store(&fail_tripped, 1);
		return 1;
	}
	return 0;
}

void *vv_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *vv_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *vv_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *vv_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = vv_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void vv_free(void *p) { free(p); }
