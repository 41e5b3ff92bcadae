/* SPDX-License-Identifier: MIT */
/*
 * util.c -- the clocks of util.h and the library's version. Calls libc only.
 */
#include <time.h>

#include "util.h"

int64_t vv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t vv_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *varve_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = VARVE_VERSION_MAJOR;
	if (minor)
		*minor = VARVE_VERSION_MINOR;
	if (patch)
		*patch = VARVE_VERSION_PATCH;
	return VARVE_VERSION_STRING;
}
