/* SPDX-License-Identifier: MIT */
/*
 * error.h -- how every function of the library fails, and the per-thread
 * detail of the last failure (varve_last_error). Owns the error codes'
 * text, the detail, corruption reports and where they are sent. Calls
 * nothing but libc and pthreads; every layer may include it.
 *
 * The one error style of the library:
 *
 *  1. Every internal function that can fail returns int: 0 on success or a
 *     negative VARVE_E* code. It records the detail where the failure is
 *     found, with vv_error_set(code, errno_or_0, fmt, ...), which returns
 *     the code (`return vv_error_set(VARVE_EINVAL, 0, "...")`). A caller
 *     that only passes a failure on does not set it again.
 *  2. Corruption (a bounds, magic or checksum check of bytes read from
 *     disk) is reported with VV_CORRUPT(path, pos, what): the detail names
 *     the file and the byte position, the C file and line of the check are
 *     kept (vv_error_where), and the log callback of the store holding the
 *     file hears of it (vv_corrupt_sink_add).
 *  3. Straight-line propagation is VV_TRY(expr): it returns the code when
 *     expr fails. Nothing else: no `if (rc == 0) rc = f();` chains.
 *  4. When resources must be released on failure: one cleanup label at the
 *     end, `goto out;` (or `fail:`), with rc set first; the label releases
 *     in reverse order of acquisition. No nested gotos, no second label
 *     unless a comment says why.
 *  5. A failure deliberately ignored says so: `(void)f();` and a comment
 *     on that line saying why.
 *  6. Cleanup that may itself fail or clear the detail keeps the first
 *     failure's detail with vv_error_save / vv_error_restore.
 *  7. An operation that goes on after a failure (close every subsystem,
 *     sync every partition) returns the first failure, with its detail:
 *     vv_first_error_note after each step, vv_first_error_end at the end.
 */
#ifndef VV_ERROR_H
#define VV_ERROR_H

#include <stdint.h>

#include "varve.h"

/* Record the detail of a failure on this thread; returns code. */
int vv_error_set(int code, int sys_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vv_error_clear(void);

/* Keep the detail of a failure across cleanup that may set or clear it. */
typedef struct vv_error_saved {
	int code, sys_errno;
	char message[512];
	const char *file; /* vv_error_where's, NULL if none */
	int line;
} vv_error_saved;
void vv_error_save(vv_error_saved *e);
void vv_error_restore(const vv_error_saved *e);

/* The first failure of a sequence that goes on after failures (rule 7). */
typedef struct vv_first_error {
	int rc;
	vv_error_saved saved;
} vv_first_error;
#define VV_FIRST_ERROR_INIT { 0 }
/* Keep rc and its detail if it is the first failure; returns rc. */
int vv_first_error_note(vv_first_error *f, int rc);
/* The first failure (its detail restored), or 0. */
int vv_first_error_end(const vv_first_error *f);

/* The C file and line of the check that reported the last corruption on
 * this thread (*file NULL when the last failure was not a corruption). */
void vv_error_where(const char **file, int *line);

#define VV_TRY(expr)                     \
	do {                             \
		int vv_rc_ = (expr);     \
		if (vv_rc_ < 0)          \
			return vv_rc_;   \
	} while (0)

/* Every bounds or checksum failure while reading the disk goes through
 * here, so one breakpoint catches them all (SQLite's *_BKPT): returns
 * VARVE_ECORRUPT. */
int vv_corrupt_at(const char *file, int line, const char *path, uint64_t pos, const char *what);
#define VV_CORRUPT(path, pos, what) vv_corrupt_at(__FILE__, __LINE__, (path), (pos), (what))

/*
 * Where corruption is reported besides the caller's detail: every open
 * store adds its directory and log callback; a corruption found in a file
 * under that directory is sent to the callback at VARVE_LOG_WARN (the
 * failing call returns VARVE_ECORRUPT; the log is for the operator). A
 * lower layer reaches its store's callback this way without knowing the
 * store. The callback runs under the registry's (recursive) lock, on the
 * thread that found the damage, so a store cannot go away while its
 * callback runs; a corruption the callback itself meets is not reported
 * again, and it must not close its own store.
 */
typedef struct vv_corrupt_sink vv_corrupt_sink;
int vv_corrupt_sink_add(const char *dir, varve_log_fn fn, void *ctx, vv_corrupt_sink **out);
/* NULL is accepted. After it returns, fn is not running and not called again. */
void vv_corrupt_sink_remove(vv_corrupt_sink *s);

#endif
