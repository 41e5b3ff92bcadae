/* SPDX-License-Identifier: MIT */
/*
 * error.c -- error codes to text, the per-thread detail of the last failure
 * (libgit2's git_error_last model), and corruption reports sent to the log
 * callback of the store that holds the damaged file (SQLite's
 * sqlite3ReportError model). See error.h for the error style. Calls libc
 * and pthreads only.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "util.h"

static _Thread_local char detail_buf[512];
static _Thread_local varve_error_info last = { 0, 0, "" };
/* Where the last corruption on this thread was found (NULL: not one). */
static _Thread_local const char *where_file;
static _Thread_local int where_line;

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
	where_file = NULL;
	where_line = 0;
	return code;
}

void vv_error_clear(void)
{
	last.code = 0;
	last.sys_errno = 0;
	detail_buf[0] = 0;
	last.message = detail_buf;
	where_file = NULL;
	where_line = 0;
}

void vv_error_where(const char **file, int *line)
{
	*file = where_file;
	*line = where_line;
}

void vv_error_save(vv_error_saved *e)
{
	e->code = last.code;
	e->sys_errno = last.sys_errno;
	snprintf(e->message, sizeof e->message, "%s", last.message ? last.message : "");
	e->file = where_file;
	e->line = where_line;
}

void vv_error_restore(const vv_error_saved *e)
{
	vv_error_set(e->code, e->sys_errno, "%s", e->message);
	where_file = e->file;
	where_line = e->line;
}

int vv_first_error_note(vv_first_error *f, int rc)
{
	if (rc && !f->rc) {
		f->rc = rc;
		vv_error_save(&f->saved);
	}
	return rc;
}

int vv_first_error_end(const vv_first_error *f)
{
	if (f->rc)
		vv_error_restore(&f->saved);
	return f->rc;
}

/* ---- corruption reports ----------------------------------------------------- */

struct vv_corrupt_sink {
	struct vv_corrupt_sink *next;
	varve_log_fn fn;
	void *ctx;
	size_t dir_len;
	char dir[]; /* the store directory, as its files' paths start */
};

/* Recursive: a callback may open or close another store, which adds or
 * removes a sink on this thread while it holds the lock. */
static pthread_mutex_t sinks_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct vv_corrupt_sink *sinks;
/* Read without the lock: most corruption checks run in processes (tools,
 * verify) with no store open, and the fast path must not take a lock. */
static atomic_int sink_count;
/* Set while this thread runs the sinks: a callback that trips a corruption
 * check is not reported again (it would call itself). */
static _Thread_local int in_sink;
/* Sinks removed by a callback while the sinks run (only the thread running
 * them can, as it holds the lock): unlinked at once but freed after the
 * loop, which may still hold a pointer to them. */
static struct vv_corrupt_sink *removed_while_running;

int vv_corrupt_sink_add(const char *dir, varve_log_fn fn, void *ctx, vv_corrupt_sink **out)
{
	*out = NULL;
	if (!fn)
		return 0;
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/') /* "store/" names the files "store//x" */
		n--;
	struct vv_corrupt_sink *s = vv_malloc(sizeof *s + n + 1);
	if (!s)
		return vv_error_set(VARVE_ENOMEM, 0, "corruption report sink");
	s->fn = fn;
	s->ctx = ctx;
	s->dir_len = n;
	memcpy(s->dir, dir, n);
	s->dir[n] = 0;
	pthread_mutex_lock(&sinks_lock);
	s->next = sinks;
	sinks = s;
	atomic_fetch_add(&sink_count, 1);
	pthread_mutex_unlock(&sinks_lock);
	*out = s;
	return 0;
}

void vv_corrupt_sink_remove(vv_corrupt_sink *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&sinks_lock);
	for (struct vv_corrupt_sink **pp = &sinks; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			atomic_fetch_sub(&sink_count, 1);
			break;
		}
	if (in_sink) {
		/* a callback closes a store: the loop in report_to_sinks may
		 * hold s, or reach it through a removed sink's next */
		s->fn = NULL;
		s->ctx = removed_while_running;
		removed_while_running = s;
		s = NULL;
	}
	pthread_mutex_unlock(&sinks_lock);
	vv_free(s);
}

/* "../src/log/segment.c" (the compiler's path, relative to the build
 * directory) as "src/log/segment.c". */
static const char *source_name(const char *file)
{
	while (!strncmp(file, "../", 3) || !strncmp(file, "./", 2))
		file += file[1] == '.' ? 3 : 2;
	return file;
}

static int under(const struct vv_corrupt_sink *s, const char *path)
{
	return !strncmp(path, s->dir, s->dir_len) && (path[s->dir_len] == '/' || !path[s->dir_len]);
}

static void report_to_sinks(const char *path, const char *message)
{
	if (!atomic_load_explicit(&sink_count, memory_order_relaxed) || in_sink || !path)
		return;
	/* the callback may call the library (varve_errmsg, another store):
	 * the caller still gets this corruption's detail */
	vv_error_saved e;
	vv_error_save(&e);
	pthread_mutex_lock(&sinks_lock);
	in_sink = 1;
	/* A sink added by a callback goes at the head and is not visited; one
	 * removed by a callback keeps its next pointer until the loop ends. */
	for (struct vv_corrupt_sink *s = sinks; s; s = s->next)
		if (s->fn && under(s, path))
			s->fn(s->ctx, VARVE_LOG_WARN, message);
	in_sink = 0;
	while (removed_while_running) {
		struct vv_corrupt_sink *dead = removed_while_running;
		removed_while_running = dead->ctx;
		vv_free(dead);
	}
	pthread_mutex_unlock(&sinks_lock);
	vv_error_restore(&e);
}

int vv_corrupt_at(const char *file, int line, const char *path, uint64_t pos, const char *what)
{
	vv_error_set(VARVE_ECORRUPT, 0, "corrupt data in %s at byte %llu: %s", path ? path : "?",
		     (unsigned long long)pos, what);
	where_file = source_name(file);
	where_line = line;
	if (atomic_load_explicit(&sink_count, memory_order_relaxed)) {
		char msg[sizeof detail_buf + 128];
		snprintf(msg, sizeof msg, "%s (check at %s:%d)", detail_buf, where_file, line);
		report_to_sinks(path, msg);
	}
	return VARVE_ECORRUPT;
}
