/* SPDX-License-Identifier: MIT */
/*
 * support.h -- shared helpers for the Criterion suites.
 *
 * Only the public header (varve.h) is used here, so the helpers serve the
 * black-box 'api' and 'crash' suites as well as the white-box 'unit' suite.
 *
 *  - temporary directories: one root per run (VARVE_TEST_TMPDIR, else
 *    $TMPDIR or /tmp, plus "/varve-tests"), one fresh directory per call of
 *    t_tmpdir(), all removed by t_teardown() (the suites' .fini);
 *  - file damage: flip a byte, truncate, append zeros or garbage, overwrite;
 *  - directory snapshots (names, types, sizes, modes, mtimes) to prove that
 *    an operation changed nothing;
 *  - record builders and comparison, deterministic pseudo-random bytes;
 *  - store helpers: options with the background thread off, a fake clock,
 *    a log callback that keeps every message;
 *  - running a function in a forked child.
 *
 * Helpers that can only fail because the test environment is broken assert
 * (cr_assert) on their own; they must not be called in forked children.
 */
#ifndef VARVE_TEST_SUPPORT_H
#define VARVE_TEST_SUPPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "varve.h"

/* ---- temporary directories and paths ---------------------------------- */

/* Suite fixtures: .init = t_setup, .fini = t_teardown. */
void t_setup(void);
void t_teardown(void);

/* A new empty directory under the run's temp root; removed at teardown. */
const char *t_tmpdir(void);
/* A path that does not exist yet (inside a fresh temp dir). */
const char *t_newpath(const char *name);
/* printf into a string owned by the fixture (freed at teardown). */
const char *t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- files -------------------------------------------------------------- */

int t_exists(const char *path);
/* Size of a file, or -1 if it does not exist. */
int64_t t_fsize(const char *path);
void t_truncate(const char *path, uint64_t size);
/* XOR the byte at off with mask (mask != 0). */
void t_flip(const char *path, uint64_t off, uint8_t mask);
void t_write_at(const char *path, uint64_t off, const void *buf, size_t n);
void t_append(const char *path, const void *buf, size_t n);
void t_append_zeros(const char *path, size_t n);
void t_append_garbage(const char *path, size_t n, uint64_t seed);
/* Replace the whole content. */
void t_write_file(const char *path, const void *buf, size_t n);
/* Whole file (NUL-terminated for convenience); free with free(). */
uint8_t *t_read_file(const char *path, size_t *n);
void t_unlink(const char *path); /* missing is fine */
void t_rm_rf(const char *path);  /* missing is fine */
void t_copy_tree(const char *src, const char *dst);
/* Number of entries in dir whose name ends with suffix ("" = all). */
size_t t_count_suffix(const char *dir, const char *suffix);
/* Base offsets of the segments (<20 digits>.log) in dir, sorted. */
size_t t_segments(const char *dir, int64_t *bases, size_t max);
/* Path of a partition directory / segment file of a store. */
const char *t_part_dir(const char *store, const char *topic, uint32_t part);
const char *t_seg_path(const char *store, const char *topic, uint32_t part, int64_t base,
		       const char *suffix);
/* Byte positions of the whole batches in a segment file (docs/FORMAT.md:
 * the u32 length at byte 12). Returns the count; *end_out is the position
 * after the last whole batch. */
size_t t_batch_positions(const char *log_path, uint64_t *pos, size_t max, uint64_t *end_out);

/* ---- directory snapshots -------------------------------------------------- */

typedef struct t_snap t_snap;
t_snap *t_snapshot(const char *dir);
/* 0 if equal; otherwise 1 and a description of the first difference. */
int t_snap_diff(const t_snap *a, const t_snap *b, char *why, size_t cap);
void t_snap_free(t_snap *s);

/* ---- bytes and records ---------------------------------------------------- */

uint64_t t_rand(uint64_t *state); /* splitmix64 */
void t_fill(void *buf, size_t n, uint64_t seed);
uint64_t t_hash(const void *p, size_t n); /* FNV-1a 64 */
uint64_t t_seed_from_time(void);

/* A record with partition VARVE_PARTITION_ANY and timestamp NOW. */
varve_record t_rec(const void *key, size_t key_len, const void *value, size_t value_len);
/* Strings; NULL means null. */
varve_record t_rec_s(const char *key, const char *value);
/* Assert that got carries the same key, value, headers and timestamp as want
 * (null and empty distinguished). */
void t_assert_rec_eq(const varve_record *got, const varve_record *want, const char *ctx);

/* ---- store helpers ---------------------------------------------------------- */

/* Defaults, but: sync none, no background thread. */
varve_options t_opts(void);
varve_db *t_open(const char *path, const varve_options *o);
void t_close(varve_db *db);
void t_topic(varve_db *db, const char *name, uint32_t partitions, int codec);
/* Produce one record with explicit partition; returns its offset. */
int64_t t_produce_to(varve_db *db, const char *topic, int32_t part, const char *key,
		     const char *value, int64_t ts);
/* Iterate [start, end) of a partition; asserts dense offsets and EEND at the
 * end. Returns the count. */
int64_t t_count(varve_db *db, const char *topic, uint32_t part);
/* Assert that rc is the expected code, with the last error in the message. */
#define t_assert_rc(rc, want)                                                         \
	cr_assert_eq((rc), (want), "%s:%d: got %d (%s) [%s], want %d (%s)", __FILE__,   \
		     __LINE__, (int)(rc), varve_errmsg(rc), varve_last_error()->message, \
		     (int)(want), varve_errmsg(want))
#define t_ok(expr) t_assert_rc((expr), VARVE_OK)

/* A clock the test moves by hand. */
typedef struct t_clock {
	_Atomic int64_t now;
} t_clock;
int64_t t_clock_fn(void *ctx);

/* Keeps every log message. */
typedef struct t_log {
	pthread_mutex_t mu;
	char **msgs;
	int *levels;
	size_t n;
} t_log;
void t_log_init(t_log *l);
void t_log_free(t_log *l);
void t_log_fn(void *ctx, int level, const char *message);
/* Number of messages containing needle (at level >= min_level). */
size_t t_log_count(t_log *l, const char *needle, int min_level);
void t_log_dump(t_log *l); /* to stderr, for failing tests */

/* ---- child processes ---------------------------------------------------------- */

/* Run fn(arg) in a forked child that _exit()s with its return value.
 * Returns the exit status (0..255), or -signal if it was killed. */
int t_run_child(int (*fn)(void *), void *arg);

#endif
