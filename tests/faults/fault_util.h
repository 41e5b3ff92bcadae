/* SPDX-License-Identifier: MIT */
/*
 * fault_util.h -- helpers shared by the reliability suites (tests/faults/):
 * temporary directories, deterministic records identified by a uid, a
 * ledger of what was attempted and what was acknowledged, and the checker
 * that reopens a store and proves that every acknowledged record is intact,
 * nothing partial is readable and every record read is one that was sent.
 *
 * Public API only (varve.h), so the kill -9 child can use it too.
 */
#ifndef VARVE_FAULT_UTIL_H
#define VARVE_FAULT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "varve.h"

/* ---- directories -------------------------------------------------------- */

/* A fresh empty directory under $VARVE_TEST_TMPDIR (or $TMPDIR/varve-faults). */
char *fu_tmpdir(const char *tag);
/* Same, on a filesystem where fsync costs nothing if one is available
 * ($VARVE_FAULTS_FASTDIR, else /dev/shm when it is tmpfs), for loops that
 * reopen a store thousands of times and test error paths, not power loss.
 * Falls back to fu_tmpdir. */
char *fu_fast_tmpdir(const char *tag);
/* rm -rf (missing is fine). Returns 0 or -1. */
int fu_rm_rf(const char *path);
/* cp -a of a tree of regular files and directories. 0 or -1. */
int fu_copy_tree(const char *src, const char *dst);
/* Free bytes of the filesystem holding path. */
uint64_t fu_free_bytes(const char *path);
uint64_t fu_now_ns(void);

/* ---- records -------------------------------------------------------------- */

uint64_t fu_rand(uint64_t *state); /* splitmix64 */

/* A record generated from (uid, key_space): the value starts with the uid so
 * that any record read back can be traced to what was sent. key_space 0 =
 * a unique key per uid; otherwise key = uid % key_space. Holds its own
 * buffers (fu_rec_free). */
typedef struct fu_rec {
	varve_record r;
	varve_header hdrs[3];
	uint8_t buf[640];
} fu_rec;
void fu_rec_make(fu_rec *fr, uint32_t uid, uint32_t key_space, int64_t ts);
/* uid of a record read back, or -1 if the value does not carry one. */
int64_t fu_rec_uid(const varve_record *r);
/* 0 if a and b carry the same key, value, headers and timestamp. */
int fu_rec_cmp(const varve_record *a, const varve_record *b, char *why, size_t cap);

/* ---- ledger ------------------------------------------------------------------ */

enum { FU_PLAIN = 0, FU_RETAINED = 1, FU_COMPACTED = 2 };

typedef struct fu_entry {
	uint32_t uid;
	int topic;      /* index into the ledger's topics */
	int acked;
	int32_t part;   /* when acked */
	int64_t offset; /* when acked */
	uint32_t key_space;
	int64_t ts;
} fu_entry;

typedef struct fu_topic {
	char name[64];
	int kind;     /* FU_PLAIN / FU_RETAINED / FU_COMPACTED */
	int created;  /* create acknowledged */
	int deleted;  /* delete acknowledged */
	int delete_tried; /* delete attempted (outcome unknown if not acknowledged) */
	uint32_t partitions;
} fu_topic;

typedef struct fu_commit {
	char group[32];
	int topic;
	uint32_t part;
	int64_t offset;
	int acked;
} fu_commit;

typedef struct fu_ledger {
	fu_topic topics[8];
	int ntopics;
	fu_entry *e;
	size_t n, cap;
	fu_commit *c;
	size_t nc, ccap;
	uint32_t next_uid;
} fu_ledger;

void fu_ledger_init(fu_ledger *l);
void fu_ledger_free(fu_ledger *l);
int fu_ledger_topic(fu_ledger *l, const char *name, int kind, uint32_t partitions);
/* Append an attempted record; returns its index. */
size_t fu_ledger_add(fu_ledger *l, int topic, uint32_t key_space, int64_t ts);
void fu_ledger_commit(fu_ledger *l, const char *group, int topic, uint32_t part, int64_t off,
		      int acked);

/* Totals found by fu_verify. */
typedef struct fu_report {
	size_t acked, read, acked_found, acked_gone_legit, unacked_found;
	size_t failures;
	char first_failure[1024];
} fu_report;

/* Reopen the store at path with the I/O table io (NULL: the operating
 * system) and check it against the ledger (see the file comment). Returns 0
 * if everything holds. If probe is set, appends one record to every live
 * topic and reads it back. */
int fu_verify(const char *path, const struct varve_io_methods *io, const fu_ledger *l, int probe,
	      fu_report *rep);

/* ---- errors ---------------------------------------------------------------- */

/* A failing call must return a negative code and a non-empty message. Returns
 * 0 if so, else fills why. Codes that are never right for an I/O or memory
 * failure (EINVAL, ECORRUPT, EFORMAT, ERROR, positive values) also fail. */
int fu_check_error(int rc, const char *what, char *why, size_t cap);

/* ---- tree snapshots (read-only proofs) ------------------------------------- */

/* A text listing of every entry under dir: path, type, mode, size, mtime
 * (ns) and an FNV-1a hash of regular files' content. malloc'd. */
char *fu_tree_listing(const char *dir);



/* Failures of a loop, grouped by kind: the text without digits and paths. */
typedef struct fu_failures {
	long failures;
	int kinds;
	char first[8][1200]; /* first failure of each kind */
	char key[8][256];
	long count[8];
} fu_failures;
void fu_fail(fu_failures *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "EIO" for VARVE_EIO etc. */
const char *fu_code_name(int rc);

#endif
