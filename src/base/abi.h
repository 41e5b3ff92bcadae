/* SPDX-License-Identifier: MIT */
/*
 * abi.h -- the versions of the public structs of include/varve.h, and how
 * an entry point reads or writes a caller's struct of any version
 * (libgit2's git_error__check_version and GIT_INIT_STRUCTURE are the
 * model). Calls error.c only.
 *
 * A struct's `version` says which fields the caller's copy has: version v
 * ends where the last field of version v ends (vv_abi.size[v - 1]). The
 * library accepts every version from 1 to the current one:
 *  - an input struct is read with vv_abi_read: the caller's bytes over the
 *    defaults, so a field newer than the caller's version has its default;
 *  - an output struct is written with vv_abi_write: only the caller's
 *    version's bytes, never past them;
 *  - an _init(ptr, version) function fills only that version's bytes.
 * Adding a field: append it at the end of the struct, bump the header's
 * VARVE_*_VERSION, add a row to the struct's size table in abi.c (the end
 * of the new last field), and choose its meaning so that zero is its
 * default (a caller who builds the struct with `{ .version = N }` or
 * memset gets defaults for what it does not set).
 */
#ifndef VV_ABI_H
#define VV_ABI_H

#include <stddef.h>

#include "varve.h"

typedef struct vv_abi {
	const char *name;    /* the struct's name, for error details */
	unsigned current;    /* the header's VARVE_*_VERSION */
	const size_t *size;  /* size[v - 1]: bytes of version v (end of its last field) */
} vv_abi;

/* Bytes from the start of `type` to the end of `field`. */
#define VV_ABI_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* Inputs */
extern const vv_abi vv_abi_options;
extern const vv_abi vv_abi_topic_config;
extern const vv_abi vv_abi_produce_options;
extern const vv_abi vv_abi_producer_options;
extern const vv_abi vv_abi_append_options;
extern const vv_abi vv_abi_consumer_options;
extern const vv_abi vv_abi_repair_options;
extern const vv_abi vv_abi_backup_options;
/* Outputs written into the caller's struct */
extern const vv_abi vv_abi_partition_info;
extern const vv_abi vv_abi_stats;
extern const vv_abi vv_abi_repair_report;
extern const vv_abi vv_abi_commit_info;
extern const vv_abi vv_abi_lag;
extern const vv_abi vv_abi_backup_report;
/* Outputs the library owns (the caller reads its own version's fields of
 * the library's current struct): listed for the size table only. */
extern const vv_abi vv_abi_batch_info;

/* Every table above, for tests; *n gets the count. */
const vv_abi *const *vv_abi_all(size_t *n);

/* Bytes of version v of a struct (v in 1..current). */
static inline size_t vv_abi_size(const vv_abi *a, unsigned v)
{
	return a->size[v - 1];
}

/* 0 when version is 1..current, else VARVE_EINVAL with the struct named. */
int vv_abi_check(const vv_abi *a, unsigned version);

/* Read an input struct: *full (a struct of the current version) holds the
 * defaults on entry and the caller's struct over them on return, with its
 * version set to the current one. NULL caller: the defaults alone. */
int vv_abi_read(const vv_abi *a, const void *caller, void *full);

/* Write an output struct: the first bytes of *full (current version), as
 * many as the caller's version has, into caller; its version is kept. */
int vv_abi_write(const vv_abi *a, void *caller, const void *full);

/* An _init(ptr, version) function: version's bytes of *defaults into
 * caller, version set. */
int vv_abi_init(const vv_abi *a, void *caller, unsigned version, const void *defaults);

#endif
