/* SPDX-License-Identifier: MIT */
/*
 * io_trace.h -- a tracing backend for varve's I/O table: every call of a
 * store opened with varve_options.io = tr_table() goes through to
 * vv_io_posix and is recorded (operation, path(s), range, result) in one
 * process-wide list, in the order the calls completed (a write through a
 * mapping is a TR_WRITE like a pwrite). Tests put labelled marks in the list around API calls
 * (tr_mark) and then check orderings on it, e.g. "every create, rename and
 * unlink is followed by an fsync of its directory before the call that
 * depends on it returns".
 *
 * Opens record whether they created the file (TR_OPEN with created = 1).
 * Thread-safe.
 */
#ifndef VARVE_TEST_IO_TRACE_H
#define VARVE_TEST_IO_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io.h"

enum tr_op {
	TR_OPEN = 1,
	TR_CLOSE,
	TR_READ,
	TR_WRITE,
	TR_DATASYNC,
	TR_SIZE,
	TR_TRUNCATE,
	TR_ALLOCATE,
	TR_RENAME,
	TR_UNLINK,
	TR_MKDIR,
	TR_RMDIR,
	TR_SYNC_DIR,
	TR_LIST,
	TR_LOCK,
	TR_STAT,
	TR_MARK, /* a label the test inserted */
	TR_EXTEND, /* preallocation: off = new size */
	TR_SYNCFS,
	TR_LINK /* path: the existing name, path2: the new one */
};

typedef struct tr_event {
	int op;
	int rc;          /* the backend's result: 0 or -errno */
	int created;     /* TR_OPEN / TR_LOCK: the file did not exist before */
	int flags;       /* TR_OPEN: VV_O_* flags */
	uint64_t off, len;
	char path[512];  /* file, directory, rename source, or the mark's label */
	char path2[512]; /* rename target */
} tr_event;

/* The tracing table, for varve_options.io. Events stay until tr_clear. */
const vv_io_methods *tr_table(void);
void tr_clear(void);
/* Record reads (TR_READ) and sizes/stats too; off by default (noise). */
void tr_record_reads(int on);

void tr_mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t tr_count(void);
/* Event i (a copy, stable while events are added). */
tr_event tr_get(size_t i);
/* Index of the first mark whose label equals label at or after from, or
 * SIZE_MAX. */
size_t tr_find_mark(const char *label, size_t from);

const char *tr_op_name(int op);
void tr_dump(FILE *out, size_t from, size_t to);

/* "<dir>/<name>" -> "<dir>" into out. */
void tr_dirname(const char *path, char *out, size_t cap);

#endif
