/* SPDX-License-Identifier: MIT */
/*
 * error.c -- error codes to text, and the per-thread detail of the last
 * failure (libgit2's git_error_last model).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

static _Thread_local char detail_buf[512];
static _Thread_local varve_error_info last = { 0, 0, "" };

const char *varve_errmsg(int code)
{
	switch (code) {
	case VARVE_OK: return "success";
	case VARVE_ERROR: return "unclassified error";
	case VARVE_EINVAL: return "invalid argument";
	case VARVE_ENOMEM: return "out of memory";
	case VARVE_EIO: return "I/O error";
	case VARVE_ECORRUPT: return "data corruption detected";
	case VARVE_ENOTFOUND: return "not found";
	case VARVE_EEXISTS: return "already exists";
	case VARVE_ELOCKED: return "store is locked by another writer";
	case VARVE_EREADONLY: return "store is open read-only";
	case VARVE_EFORMAT: return "unsupported on-disk format version";
	case VARVE_EOFFSET: return "offset out of range";
	case VARVE_ETIMEDOUT: return "timed out";
	case VARVE_EAGAIN: return "resource temporarily unavailable, try again";
	case VARVE_ENOSPC: return "no space left on device";
	case VARVE_EEND: return "end of log";
	case VARVE_ETOOBIG: return "record too large";
	case VARVE_ECLOSED: return "handle is closed";
	case VARVE_ENOTSUP: return "operation not supported";
	case VARVE_ECONFLICT: return "expected offset does not match";
	case VARVE_EBUSY: return "resource busy";
	case VARVE_ESEQUENCE: return "producer sequence out of order";
	case VARVE_EFENCED: return "producer fenced by a newer epoch";
	case VARVE_EDUPLICATE: return "duplicate of an earlier batch";
	default: return "unknown error code";
	}
}

const varve_error_info *varve_last_error(void)
{
	if (!last.message)
		last.message = "";
	return &last;
}

int vv_error_set(int code, int sys_errno, const char *fmt, ...)
{
	/* Format into a scratch buffer first: callers often wrap the previous
	 * error ("sealing segment ...: %s", varve_last_error()->message), and
	 * an argument that points into detail_buf must not overlap the output
	 * of vsnprintf (undefined behaviour; found by valgrind memcheck). */
	char tmp[sizeof detail_buf];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	memcpy(detail_buf, tmp, strlen(tmp) + 1);
	last.code = code;
	last.sys_errno = sys_errno;
	last.message = detail_buf;
	return code;
}

void vv_error_clear(void)
{
	last.code = 0;
	last.sys_errno = 0;
	detail_buf[0] = 0;
	last.message = detail_buf;
}

int vv_corrupt_at(const char *file, int line, const char *path, uint64_t pos, const char *what)
{
	(void)file; /* one breakpoint here catches every corruption; the location
		     * of the check is not for users */
	(void)line;
	return vv_error_set(VARVE_ECORRUPT, 0, "corrupt data in %s at byte %llu: %s",
			    path ? path : "?", (unsigned long long)pos, what);
}

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

void vv_error_save(vv_error_saved *e)
{
	e->code = last.code;
	e->sys_errno = last.sys_errno;
	snprintf(e->message, sizeof e->message, "%s", last.message ? last.message : "");
}

void vv_error_restore(const vv_error_saved *e)
{
	vv_error_set(e->code, e->sys_errno, "%s", e->message);
}
