/* SPDX-License-Identifier: MIT */
/*
 * io_fault.h -- an I/O backend (src/io.h) that wraps vv_io_posix and fails
 * chosen calls: the Nth call of a set of methods fails with EIO or ENOSPC,
 * or (pwrite) writes only a prefix, reports success for it, and fails the
 * next call. A rule fires once (transient) or from the Nth call on
 * (persistent). Several rules may be armed at once; each counts only the
 * calls it matches (methods and an optional path substring).
 *
 * Typical use:
 *     iof_install();                       // vv_io_set(&iof_methods)
 *     iof_arm(IOF_ALL, n, IOF_EIO, 0, NULL);
 *     ... workload ...
 *     if (!iof_fired()) break;             // ran past every call: done
 *     iof_uninstall();                     // back to vv_io_posix
 *
 * Thread safe (one mutex around the rule table). Counters are per process.
 * IOF_TRACE=1 in the environment prints every call (method and path).
 */
#ifndef VARVE_IO_FAULT_H
#define VARVE_IO_FAULT_H

#include <stddef.h>
#include <stdint.h>

/* Methods, as bits. */
enum {
	IOF_OPEN = 1u << 0,
	IOF_CLOSE = 1u << 1,
	IOF_PREAD = 1u << 2,
	IOF_PWRITE = 1u << 3,
	IOF_DATASYNC = 1u << 4,
	IOF_SIZE = 1u << 5,
	IOF_TRUNCATE = 1u << 6,
	IOF_ALLOCATE = 1u << 7,
	IOF_RENAME = 1u << 8,
	IOF_UNLINK = 1u << 9,
	IOF_MKDIR = 1u << 10,
	IOF_RMDIR = 1u << 11,
	IOF_SYNC_DIR = 1u << 12,
	IOF_LIST_DIR = 1u << 13,
	IOF_LOCK = 1u << 14,
	IOF_STAT = 1u << 15,
	IOF_EXTEND = 1u << 16, /* fallocate that grows the file (mmap mode) */
	/* The mutating and syncing calls the I/O-error loop walks through
	 * (write, datasync, sync_dir, rename, unlink, allocate, open,
	 * truncate, mkdir, list_dir). */
	IOF_WALK = IOF_OPEN | IOF_PWRITE | IOF_DATASYNC | IOF_TRUNCATE | IOF_ALLOCATE |
		   IOF_RENAME | IOF_UNLINK | IOF_MKDIR | IOF_SYNC_DIR | IOF_LIST_DIR | IOF_EXTEND,
	IOF_ALL = 0x1ffffu
};

typedef enum iof_kind {
	IOF_EIO = 0,    /* the call fails with -EIO, nothing done */
	IOF_ENOSPC = 1, /* the call fails with -ENOSPC, nothing done */
	IOF_SHORT = 2,  /* pwrite: write the first half (at least 1 byte when
			   n > 1), report it as written, fail the next pwrite of
			   the same file with -ENOSPC. Other methods: -EIO. */
	IOF_EMFILE = 3  /* the call fails with -EMFILE (open: too many files) */
} iof_kind;

const char *iof_kind_name(iof_kind k);

/* The backend table: vv_io_posix with every method this file knows
 * wrapped (methods added to the table later pass straight through).
 * iof_install() is vv_io_set(iof_table()). */
struct vv_io_methods;
const struct vv_io_methods *iof_table(void);
void iof_install(void);
void iof_uninstall(void);

/* Arm a rule (up to 8). `nth` counts calls matching `methods` (and, when
 * path_sub is not NULL, whose path contains it) from now on, 1 = the next.
 * Returns the rule's index. */
int iof_arm(unsigned methods, long nth, iof_kind kind, int persistent, const char *path_sub);
/* Remove every rule and reset the counters. */
void iof_disarm(void);

/* Faults injected since the last arm/disarm (a short write counts once). */
long iof_fired(void);
/* Calls seen by rule i since it was armed. */
long iof_rule_calls(int i);
/* Calls per method since the last iof_disarm (or process start). */
long iof_calls(unsigned methods);
/* Description of the first fault injected ("pwrite /x/y.log (EIO, call 17)"). */
const char *iof_first_fault(void);

/* Fast mode, for loops that test error handling, not power loss or space:
 * datasync and sync_dir are counted (and can be failed) but not passed to
 * the kernel, and extend grows the file with ftruncate (sparse; the same
 * zeros are read back) instead of allocating blocks with fallocate. */
void iof_fast(int on);

/* Symbolic name of one method bit ("pwrite"). */
const char *iof_method_name(unsigned bit);

#endif
