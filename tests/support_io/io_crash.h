/* SPDX-License-Identifier: MIT */
/*
 * io_crash.h -- a crash VFS for varve's I/O table (SQLite's crash VFS is the
 * model). It wraps vv_io_posix, passes every operation through to a real
 * directory, and keeps a model of what a power cut would leave behind:
 *
 *   - file contents become durable at datasync of that file: the model keeps
 *     per file the durable bytes and the writes/truncates made since;
 *   - namespace operations (create, mkdir, rename, unlink, rmdir) become
 *     durable when their directory is fsynced (sync_dir): the model keeps per
 *     directory the durable name -> file map and the operations since.
 *
 * Everything under `root` is modelled; other paths pass through untouched.
 * What exists under root at install time is taken as durable. The table is
 * a store's (varve_options.io = cv_table()): stores opened without it,
 * such as the ones that check crash states, never touch the model.
 *
 * A simulated power cut (cv_crash_*) builds the post-crash tree in memory:
 * every directory starts from its durable names and applies some of its
 * pending namespace operations (none, all, a prefix in order, or an
 * arbitrary subset), every file reachable through a surviving name starts
 * from its durable bytes and, for each unsynced write in order, applies it,
 * drops it, tears it at a random byte, or fills its range with zeros or
 * garbage. cv_tree_write puts that tree in a fresh directory, where the
 * store is opened again with the real backend.
 *
 * Persistence points are the datasync, syncfs (every modelled file's data)
 * and sync_dir calls. A hook sees every
 * mutating call and every persistence point (before it takes effect), so a
 * test can crash at the Nth persistence point, at a random write, or at every
 * one of them. The hook runs inside the I/O call, with the VFS lock held
 * (recursive: it may call cv_crash_* and cv_pending), from whichever store
 * thread made the call; it must not call into varve.
 *
 * Real fsyncs are skipped (the model decides what is durable), which keeps
 * the suites fast on any filesystem, and preallocation (extend) reaches the
 * real file as a sparse ftruncate: the same bytes (zeros) without the cost
 * of allocating 16 MiB per active segment on tmpfs. Thread-safe: one lock
 * around the model and the pass-through calls.
 *
 * Writes through a shared mapping (varve's mmap mode) come through the
 * table's map_write method: each is a pending write with a pwrite's fates
 * (and a CV_EV_MAP_WRITE event where a pwrite has CV_EV_WRITE), so mmap mode
 * gets the same crash semantics as pwrite mode, byte for byte. A file mapped writable is compared with its
 * model when its last handle closes: a byte written behind the table aborts.
 */
#ifndef VARVE_TEST_IO_CRASH_H
#define VARVE_TEST_IO_CRASH_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

/* Events the hook sees. */
enum cv_event {
	CV_EV_WRITE = 1,
	CV_EV_TRUNCATE,
	CV_EV_CREATE,   /* a new file (open with create, lock) */
	CV_EV_MKDIR,
	CV_EV_RENAME,
	CV_EV_UNLINK,
	CV_EV_RMDIR,
	CV_EV_DATASYNC, /* persistence point, before it takes effect */
	CV_EV_SYNC_DIR, /* persistence point, before it takes effect */
	CV_EV_MAP_WRITE /* a write through a mapping (mmap mode), after it happened */
};

/* Fate of one unsynced operation in a crash state. Truncates and namespace
 * operations only know APPLY and DROP (any other fate counts as APPLY). */
enum cv_fate {
	CV_APPLY = 0,
	CV_DROP,
	CV_TEAR,    /* a random non-empty proper prefix of the write reaches disk */
	CV_ZERO,    /* the range reads as zeros (size extended, data not written) */
	CV_GARBAGE  /* the range holds random bytes */
};

/* Kinds of pending operations (cv_pending). */
enum cv_op_kind {
	CV_OP_WRITE = 1,
	CV_OP_TRUNCATE,
	CV_OP_LINK,   /* create / mkdir: name -> new file or directory */
	CV_OP_UNLINK, /* unlink / rmdir */
	CV_OP_RENAME
};

/* Namespace policy of cv_crash_random. */
enum cv_ns_mode {
	CV_NS_MIXED = 0,   /* a random choice among the modes below, per crash */
	CV_NS_NONE,        /* only durable names */
	CV_NS_ALL,         /* every pending namespace operation applied */
	CV_NS_DIR_PREFIX,  /* per directory, a random prefix of its operations */
	CV_NS_PREFIX,      /* a random prefix of all namespace operations (journal order) */
	CV_NS_SUBSET       /* each operation independently (weakest POSIX reading) */
};

/* Data policy of cv_crash_random. */
enum cv_data_mode {
	CV_DATA_MIXED = 0, /* per write: apply, drop, tear, zeros or garbage */
	CV_DATA_DROP,      /* every unsynced write lost */
	CV_DATA_APPLY      /* every unsynced write reached disk (like kill -9) */
};

typedef void (*cv_hook_fn)(void *ctx, int event, const char *path);

/* Model the tree under root (absolute, no trailing slash; must exist).
 * Everything under root now is durable. Returns 0 or -errno. One crash VFS
 * at a time; stores opened with cv_table() use it. */
int cv_install(const char *root);
/* The crash VFS's table, for varve_options.io. */
const vv_io_methods *cv_table(void);
/* Free the model (every store using the table must be closed). */
void cv_uninstall(void);

/* The real POSIX backend for checking crash states quickly: every call is
 * vv_io_posix except datasync and sync_dir (no-ops: nothing is crashed
 * there) and extend (a sparse ftruncate instead of fallocate: same content).
 * Counts its calls so tests can report them. */
extern const vv_io_methods cv_io_fast;

/* Speed knob: an extend (preallocation) grows a modelled file to at most
 * `cap` bytes (never shrinks it; 0 = no cap, the default). varve preallocates
 * 16 MiB ahead of every active segment and recovery reads that zero tail
 * byte by byte; with a cap the tail is shorter but holds the same zeros, so
 * only the length of a run of zeros past every segment's data changes. */
void cv_set_extend_cap(uint64_t cap);

void cv_set_hook(cv_hook_fn fn, void *ctx);
/* Counters since install. */
uint64_t cv_persistence_points(void);
uint64_t cv_write_count(void);
/* Of those, writes through a mapping (map_write: mmap-mode appends). */
uint64_t cv_map_write_count(void);

/* The unsynced operations, oldest first. */
typedef struct cv_pending_info {
	int kind;          /* cv_op_kind */
	uint64_t off, len; /* WRITE: range; TRUNCATE: new size in off */
	char path[512];    /* file (data ops) or directory/name (namespace ops) */
} cv_pending_info;
/* Number of pending operations; fills out[0..min(n, max)). */
size_t cv_pending(cv_pending_info *out, size_t max);

typedef struct cv_tree cv_tree;

/* A post-crash tree with random fates (seeded: the same seed and the same
 * model give the same tree). */
cv_tree *cv_crash_random(uint64_t seed, int ns_mode, int data_mode);
/* A post-crash tree with the fate of each pending operation given:
 * fates[i] for operation i of cv_pending (missing entries: CV_DROP). The seed
 * picks tear points and garbage. */
cv_tree *cv_crash_explicit(const uint8_t *fates, size_t n, uint64_t seed);

/* Create dir (must not exist; its parent must) and write the tree into it
 * with plain syscalls. 0 or -errno. */
int cv_tree_write(const cv_tree *t, const char *dir);
/* Content hash of the tree (names, kinds, bytes): equal trees, equal hash. */
uint64_t cv_tree_hash(const cv_tree *t);
size_t cv_tree_entries(const cv_tree *t);
/* Whether some file's name ends with suffix. */
int cv_tree_has_suffix(const cv_tree *t, const char *suffix);
uint64_t cv_tree_bytes(const cv_tree *t);
void cv_tree_free(cv_tree *t);

/* Crash states generated by this process (every cv_crash_* call). */
uint64_t cv_crash_states(void);

#endif
