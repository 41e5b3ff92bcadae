/* SPDX-License-Identifier: MIT */
/*
 * crash_util.h -- shared machinery of the crashvfs suites.
 *
 *  - temp directories (tmpfs when available: the suites write hundreds of
 *    thousands of small trees), environment knobs, ASan detection;
 *  - an oracle: the acknowledged state of a store (records by offset, log
 *    starts, topics, committed offsets) plus what the operation in flight may
 *    or may not have done;
 *  - a "world": a store run under the crash VFS, with operations that keep
 *    the oracle (produce, batch, roll, topic create/delete, commit, consumer
 *    commit, retention, compaction, close+reopen) and a hook policy that
 *    takes crash states while they run;
 *  - the check of a crash state: write the tree to a fresh directory, open
 *    it with the real backend (writer; optionally read-only first and a
 *    second writer open after a clean close) and compare everything it
 *    returns with the oracle.
 *
 * What a crash state must satisfy, for the state taken while operation k
 * ran (operations 0..k-1 acknowledged, k in flight):
 *  - the open succeeds;
 *  - every acknowledged topic exists with its partition count; no topic
 *    exists that was never created or whose delete was acknowledged;
 *  - per partition: end offset = acknowledged end, or acknowledged end + the
 *    in-flight batch for that partition (batches are all or nothing);
 *    log start between the acknowledged start and the start the in-flight
 *    retention moved it to; iterating from the start to VARVE_EEND gives no
 *    error, offsets strictly increasing and inside [start, end), each record
 *    byte-identical (key, value, headers, timestamp, null-ness) to the
 *    acknowledged or in-flight record of that offset; dense for non-compacted
 *    topics; for compacted topics the latest acknowledged record of every
 *    key (unless a tombstone) is there;
 *  - every committed offset equals the last acknowledged commit of its key
 *    or the in-flight one, and the in-flight commit call is all or nothing.
 *
 * Relaxed mode (model.relaxed: a world opened with sync=none or interval)
 * keeps a durable floor per partition instead: the records acknowledged
 * before the last call that made them durable (varve_sync, a commit
 * covering them, close, a roll under interval; cu_sync, cu_commit,
 * cu_consumer_commit, cu_reopen, cu_produce) must be there; past the floor,
 * what survives of the acknowledged and in-flight batches is any prefix at
 * batch boundaries. Commit records follow the policy: a committed offset
 * is the one of the last metadata sync (varve_sync, close, topic create or
 * delete) or any acknowledged since, or the in-flight one, and never past
 * the recovered end of its partition (commits sync data first).
 */
#ifndef VARVE_CRASHVFS_UTIL_H
#define VARVE_CRASHVFS_UTIL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "io_crash.h"
#include "varve.h"

/* ---- environment ----------------------------------------------------------- */

int cu_asan(void);
uint64_t cu_env_u64(const char *name, uint64_t dflt);
uint64_t cu_rand(uint64_t *state);
/* VARVE_CRASH_SEED if set, else from the clock; printed by callers. */
uint64_t cu_seed(void);
double cu_now_s(void);

/* VARVE_CRASH_STATES (20,000; 4,000 under ASan) times share: a suite's
 * budget of crash states, at least 1. */
uint64_t cu_budget(double share);
/* VARVE_CRASH_NS forces one namespace model (exploration): subset, prefix,
 * dirprefix, none, all. Default: CV_NS_MIXED (io_crash.h). */
int cu_ns_mode(void);

/* ---- files ------------------------------------------------------------------- */

/* Per-process root: $VARVE_CRASH_TMPDIR, else /dev/shm, else
 * $VARVE_TEST_TMPDIR, else /tmp; plus "/varve-crashvfs-<pid>". */
const char *cu_tmproot(void);
/* A fresh path (not created) under the root. */
void cu_newpath(char *out, size_t cap, const char *tag);
int cu_rm_rf(const char *path);
int cu_copy_tree(const char *src, const char *dst);
uint8_t *cu_read_file(const char *path, size_t *n);
int cu_write_file(const char *path, const void *b, size_t n);
int64_t cu_fsize(const char *path);
int cu_exists(const char *path);
/* Remove the run's root (called from the suites' fini). */
void cu_cleanup(void);

/* ---- the oracle ------------------------------------------------------------------ */

typedef struct m_hdr {
	char key[8];
	size_t klen;
	uint8_t val[16];
	size_t vlen;
	int vnull;
} m_hdr;

typedef struct m_rec {
	int knull, vnull;
	uint8_t *key, *val;
	size_t klen, vlen;
	int64_t ts;
	m_hdr hdr[2];
	size_t nh;
	int batch_end; /* the last record of its batch in its partition */
} m_rec;

typedef struct m_part {
	m_rec *v;         /* v[o] is offset o: [0, n) acknowledged, [n, nin) in flight */
	size_t n, nin, cap;
	int64_t start;    /* acknowledged log start */
	int64_t start_hi; /* the in-flight retention may have moved it up to here */
	size_t dur;       /* relaxed mode: [0, dur) was made durable */
} m_part;

typedef struct m_topic {
	char name[64];
	varve_topic_config cfg;
	m_part *parts;
	int live;     /* creation acknowledged, delete not */
	int creating; /* create in flight */
	int deleting; /* delete in flight */
} m_topic;

typedef struct m_commit {
	char group[32];
	int ti;
	uint32_t part;
	int64_t off;    /* acknowledged; -1 = none */
	int64_t off_in; /* in flight; -2 = none */
	/* relaxed mode: the offset at the last metadata sync (-1 = none) and
	 * the offsets acknowledged since, any of which a crash may leave */
	int64_t off_dur;
	int64_t *hist;
	size_t nhist, hcap;
} m_commit;

typedef struct model {
	m_topic *t;
	size_t nt, tcap;
	m_commit *c;
	size_t nc, ccap;
	int relaxed; /* sync=none/interval: durable floors (see the top) */
} model;

void m_rec_free(m_rec *r);
varve_record m_rec_view(const m_rec *r, varve_header *hdrs);
/* 0 if equal, else 1 and why. */
int m_rec_cmp(const m_rec *want, const varve_record *got, char *why, size_t cap);

/* ---- the world ---------------------------------------------------------------------- */

typedef struct cu_world cu_world;

/* A random capture policy: at a persistence point (datasync, sync_dir)
 * with probability p_sync, at any other event with p_write, take `variants`
 * crash states (every ro_every-th also opened read-only first, every
 * reopen_every-th reopened; see cu_world). Set w->capture =
 * cu_policy_capture and w->capture_ctx to the policy. */
typedef struct cu_policy {
	double p_sync, p_write;
	unsigned variants;
	int ns_mode;           /* namespace model of the states (io_crash.h) */
	uint64_t rng;
	uint64_t taken;
	uint64_t taken_in_map; /* of them, right after a write through a mapping */
} cu_policy;

/* Called for every crash VFS event while an operation runs (VFS lock held):
 * take crash states with cu_take / cu_take_tree. */
typedef void (*cu_capture_fn)(cu_world *w, int event, const char *path);

enum { CU_RO_FIRST = 1, CU_REOPEN = 2 };

struct cu_world {
	char root[1024];  /* modelled by the crash VFS */
	char store[1100]; /* root/store */
	varve_options opts;
	_Atomic int64_t now;
	varve_db *db;
	model m;
	uint64_t rng;
	unsigned dyn; /* dynamic topics named so far (cu_create_dynamic) */
	uint32_t meta_segment_bytes; /* white-box: small metadata segments (0 = default) */
	uint64_t extend_cap;         /* cv_set_extend_cap for this world (0 = 64 KiB) */
	int full_prealloc;           /* no extend cap: the real 16 MiB preallocation */
	int use_mmap;                /* varve's mmap mode (the VFS tracks mapped writes) */
	/* Run the background thread's checkpoint (index flush + recovery point
	 * moved to the active segment) before every cleaning round. Off: the
	 * recovery point may name a segment compaction rewrites
	 * (test_regressions: compaction_stale_recovery_point, fixed). */
	int checkpoint_before_clean;

	cu_capture_fn capture;
	void *capture_ctx;
	unsigned ro_every;     /* read-only open before the writer, every Nth state (0 = never) */
	unsigned reopen_every; /* close and reopen after the check, every Nth state */
	int dedupe;            /* skip trees already checked in this operation */

	struct cu_q {
		cv_tree *t;
		unsigned flags;
		char why[160];
	} *q;
	size_t nq, qcap;
	uint64_t *seen;
	size_t nseen, seen_cap;

	int in_op;
	char op_desc[192];
	uint64_t nops;

	/* figures */
	uint64_t checked, ro_checked, reopen_checked, deduped, with_cuts, opens, ro_mid_swap;
	double check_s;

	int failed;
	char fail[4096];
};

/* Create root and a store in it under the crash VFS; opts may be NULL
 * (defaults below). Takes no crash states until a capture policy is set.
 * A sync policy other than VARVE_SYNC_ALWAYS makes the oracle relaxed. */
void cu_world_init(cu_world *w, const varve_options *opts, uint64_t seed);
/* Close the store, uninstall the crash VFS, remove the tree. */
void cu_world_fini(cu_world *w);
/* The options the suites use: sync=always, 1 KiB segments, index every 64
 * bytes, no background thread, the world's clock. */
void cu_default_opts(cu_world *w, varve_options *o);

/* Queue a random crash state of the current model (from inside capture). */
/* The capture function of a cu_policy (w->capture_ctx). */
void cu_policy_capture(cu_world *w, int ev, const char *path);
void cu_take(cu_world *w, uint64_t seed, int ns_mode, int data_mode, unsigned flags,
	     const char *why);
/* Queue a given tree (owned by the world from here on). */
void cu_take_tree(cu_world *w, cv_tree *t, unsigned flags, const char *why);
/* Take a state now, outside any operation (the acknowledged state alone). */
void cu_take_now(cu_world *w, uint64_t seed);

/* Operations. Each returns 0, or -1 when the world failed (w->fail says
 * why: an unexpected error, or a crash state that broke a promise). */
int cu_create_topic(cu_world *w, const char *name, uint32_t parts, int codec, int policy,
		    int64_t retention_ms, int64_t retention_records);
int cu_create_topic_cfg(cu_world *w, const char *name, const varve_topic_config *cfg);
/* A topic named prefix<n> (n counts per world) with 1..max_parts partitions
 * and a random codec, delete policy. */
int cu_create_dynamic(cu_world *w, uint64_t *rng, const char *prefix, uint32_t max_parts);
int cu_delete_topic(cu_world *w, int ti);
/* n records to topic ti: n == 1 -> varve_produce, else varve_produce_batch
 * spread over the partitions in `parts_mask` (bit p = partition p; 0 = all). */
int cu_produce(cu_world *w, int ti, size_t n, uint32_t parts_mask);
/* Produce single records to (ti, part) until it has one more segment. */
int cu_roll(cu_world *w, int ti, uint32_t part);
int cu_commit(cu_world *w, const char *group, int ti, uint32_t part, int64_t off);
/* A consumer of group `group` on topic ti polls once and commits every
 * assigned partition in one call. */
int cu_consumer_commit(cu_world *w, const char *group, int ti);
/* Advance the clock by advance_ms and run varve_clean_now(db, force). */
int cu_clean(cu_world *w, int64_t advance_ms, int force);
/* varve_close + varve_open (clean close, then open under the crash VFS). */
int cu_reopen(cu_world *w);
/* varve_sync: in relaxed mode everything acknowledged becomes the floor. */
int cu_sync(cu_world *w);
/* What the background thread does every second: flush the active segments'
 * index entries and write recovery points that moved (white-box). */
int cu_checkpoint(cu_world *w);

/* Index of a live topic by name, or -1. */
int cu_topic_index(const cu_world *w, const char *name);

/* Check every queued state now (normally done at the end of each operation). */
int cu_drain(cu_world *w);

/* Verify an open store against the oracle (also used by other tests). */
int cu_verify_db(varve_db *db, const model *m, char *why, size_t cap);
/* Relaxed mode: partitions verified (this process) that ended below their
 * acknowledged end, as the policy allows. */
uint64_t cu_relaxed_short(void);

#endif
