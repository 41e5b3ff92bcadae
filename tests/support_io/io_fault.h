/* SPDX-License-Identifier: MIT */
/*
 * io_fault.h -- an I/O backend (src/base/io.h) that wraps vv_io_posix and
 * fails chosen calls: the Nth call of a set of methods fails with EIO or
 * ENOSPC, or (pwrite) writes only a prefix, reports success for it, and
 * fails the next call. A rule fires once (transient) or from the Nth call on
 * (persistent). Several rules may be armed at once; each counts only the
 * calls it matches (methods and an optional path substring).
 *
 * The table is installed per store: a store opened with
 * varve_options.io = iof_table() goes through it, every other store (and
 * the process default) does not see it.
 *
 * Typical use:
 *     iof_arm(IOF_ALL, n, IOF_EIO, 0, NULL);
 *     o.io = iof_table();
 *     ... workload on a store opened with o ...
 *     if (!iof_fired()) break;             // ran past every call: done
 *
 * Thread safe (one mutex around the rule table). Rules and counters are
 * per process: every store given the table shares them.
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
	IOF_SYNCFS = 1u << 17,
	IOF_FREE_SPACE = 1u << 18, /* statvfs (min_free_bytes) */
	IOF_MAP = 1u << 19,        /* mmap (mmap mode, sealed segments' reads) */
	IOF_MAP_WRITE = 1u << 20,  /* the copy of an mmap-mode append into its mapping */
	/* The mutating and syncing calls the I/O-error loop walks through
	 * (write, datasync, sync_dir, rename, unlink, allocate, open,
	 * truncate, mkdir, list_dir, syncfs, map, map_write). */
	IOF_WALK = IOF_OPEN | IOF_PWRITE | IOF_DATASYNC | IOF_TRUNCATE | IOF_ALLOCATE |
		   IOF_RENAME | IOF_UNLINK | IOF_MKDIR | IOF_SYNC_DIR | IOF_LIST_DIR | IOF_EXTEND |
		   IOF_SYNCFS | IOF_MAP | IOF_MAP_WRITE,
	IOF_ALL = 0x1fffffu
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

/* The backend table, for varve_options.io: vv_io_posix with every method
 * this file knows wrapped (methods added to the table later pass straight
 * through). */
struct varve_io_methods;
const struct varve_io_methods *iof_table(void);

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
