/* SPDX-License-Identifier: MIT */
/*
 * varve.h -- the public API of libvarve, an embeddable append-only log store.
 *
 * Conventions (see docs/API.md):
 *  - Every function that can fail returns VARVE_OK (0) or a negative VARVE_E*
 *    code. varve_errmsg(code) gives static text; varve_last_error() gives the
 *    detail of the last failure on the calling thread.
 *  - Output parameters come last and are set to NULL / 0 on entry.
 *  - Versioned structs (options, infos, stats) start with `unsigned int
 *    version` and only ever grow at the end; see "Versioned structs" below.
 *  - Handles are opaque. A varve_db may be shared by any number of threads.
 *    An iterator or a consumer belongs to one thread at a time.
 *  - The library never prints, never aborts the process, and never calls
 *    exit(). Diagnostics go to the optional log callback.
 */
#ifndef VARVE_H
#define VARVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define VARVE_API __attribute__((visibility("default")))
#else
#define VARVE_API
#endif

/* ---------------------------------------------------------------------- */
/* Versions                                                                */

#define VARVE_VERSION_MAJOR 0
#define VARVE_VERSION_MINOR 1
#define VARVE_VERSION_PATCH 0
#define VARVE_VERSION_STRING "0.1.0"
#define VARVE_VERSION_NUMBER \
	(VARVE_VERSION_MAJOR * 10000 + VARVE_VERSION_MINOR * 100 + VARVE_VERSION_PATCH)
#define VARVE_VERSION_CHECK(maj, min, pat) \
	(VARVE_VERSION_NUMBER >= ((maj) * 10000 + (min) * 100 + (pat)))
/** On-disk format version written to <store>/VERSION (docs/FORMAT.md). A
 * store of an older version opens; a writer upgrades its VERSION first. */
#define VARVE_FORMAT_VERSION 2

/** Runtime version of the library; any of the out pointers may be NULL. */
VARVE_API const char *varve_version(int *major, int *minor, int *patch);

/* ---------------------------------------------------------------------- */
/* Versioned structs                                                       */

/*
 * Every options, info or stats struct starts with `unsigned int version`
 * and only ever grows at the end; each growth bumps its VARVE_*_VERSION.
 * The version a caller sets says which fields its copy has:
 *  - the library accepts every version from 1 to its own (a higher one is
 *    VARVE_EINVAL), so a program built against an older varve.h runs
 *    against a newer library;
 *  - it reads and writes only the fields of the caller's version: an input
 *    field newer than the caller's version takes its default, an output
 *    field newer than it is not written;
 *  - for every field added after version 1, zero is its default, so
 *    `{ .version = V }` or memset plus the version is a valid struct. The
 *    fields of version 1 keep their meaning of zero, documented per field
 *    where zero is not their default.
 * Fill an input struct with its _INIT macro or its _init(ptr, version)
 * function and change what you need; set `version` of an output struct
 * before the call. The _INIT macros use designated initializers: in C
 * (C99 on) and in C++20 on. Before C++20, C++ has no designated
 * initializers and the macros are not defined: call the _init functions.
 * Each macro names every field of its struct, in declaration order.
 * Structs the library returns in arrays (varve_record, varve_msg,
 * varve_commit_info, varve_recovery_cut, varve_append_result...) never
 * grow: a caller indexes the array with its own sizeof.
 */
#if !defined(__cplusplus) || __cplusplus >= 202002L
#define VARVE_HAVE_INIT_MACROS 1
#endif

/* ---------------------------------------------------------------------- */
/* Errors. Values are frozen: never renumber.                              */

typedef enum varve_error {
	VARVE_OK = 0,
	VARVE_ERROR = -1,      /**< unclassified failure */
	VARVE_EINVAL = -2,     /**< invalid argument (name, option, size) */
	VARVE_ENOMEM = -3,     /**< out of memory */
	VARVE_EIO = -4,        /**< I/O error, or partition failed after an fsync error */
	VARVE_ECORRUPT = -5,   /**< data on disk failed a checksum or bounds check */
	VARVE_ENOTFOUND = -6,  /**< no such topic, partition, group or record */
	VARVE_EEXISTS = -7,    /**< topic or group already exists */
	VARVE_ELOCKED = -8,    /**< the store is opened for writing elsewhere */
	VARVE_EREADONLY = -9,  /**< write attempted on a read-only open */
	VARVE_EFORMAT = -10,   /**< unknown or newer on-disk format version */
	VARVE_EOFFSET = -11,   /**< offset out of range (below log start or past end) */
	VARVE_ETIMEDOUT = -12, /**< a blocking call timed out */
	VARVE_EAGAIN = -13,    /**< try again later (backpressure) */
	VARVE_ENOSPC = -14,    /**< out of disk space (retryable once space is freed) */
	VARVE_EEND = -15,      /**< iterator reached the end of the log */
	VARVE_ETOOBIG = -16,   /**< record or batch larger than the configured maximum */
	VARVE_ECLOSED = -17,   /**< handle is closing or closed */
	VARVE_ENOTSUP = -18,   /**< operation not supported in this configuration */
	VARVE_ECONFLICT = -19, /**< expected offset did not match (optimistic concurrency) */
	VARVE_EBUSY = -20,     /**< resource busy (e.g. topic in use) */
	VARVE_ESEQUENCE = -21, /**< idempotent producer: sequence gap or mismatch */
	VARVE_EFENCED = -22,   /**< idempotent producer: a newer epoch of this producer exists */
	VARVE_EDUPLICATE = -23 /**< a duplicate too old to report its offsets; nothing appended */
} varve_error;

/** Static text for an error code; never NULL. */
VARVE_API const char *varve_errmsg(int code);

typedef struct varve_error_info {
	int code;            /**< the VARVE_E* code of the last failure */
	int sys_errno;       /**< errno behind it, or 0 */
	const char *message; /**< detail text, thread-local, valid until the next failing call */
} varve_error_info;

/** Detail of the last failure on this thread; never NULL (code 0 if none). */
VARVE_API const varve_error_info *varve_last_error(void);

/* ---------------------------------------------------------------------- */
/* Store                                                                   */

typedef struct varve_db varve_db;

typedef enum varve_sync_policy {
	VARVE_SYNC_NONE = 0,     /**< never fsync; the OS writes back (loss on power cut) */
	VARVE_SYNC_INTERVAL = 1, /**< the background thread fsyncs every sync_interval_ms */
	VARVE_SYNC_ALWAYS = 2    /**< an append returns only once it is on disk (default) */
} varve_sync_policy;

typedef enum varve_log_level {
	VARVE_LOG_DEBUG = 0,
	VARVE_LOG_INFO = 1,
	VARVE_LOG_WARN = 2,
	VARVE_LOG_ERROR = 3
} varve_log_level;

/** Log callback: called from any thread; must not call back into the store. */
typedef void (*varve_log_fn)(void *ctx, int level, const char *message);

/** Clock callback returning milliseconds since the epoch (tests inject one). */
typedef int64_t (*varve_clock_fn)(void *ctx);

/** The I/O methods a store uses for every file operation (an internal table,
 *  not part of the stable API: only varve's own test builds make one, to
 *  inject I/O errors and simulate power cuts per store). */
struct varve_io_methods;

/** Version 2 added `io`; version 3 `read_cache_bytes`, `read_with_pread` and
 *  `append_buffer_bytes`. */
#define VARVE_OPTIONS_VERSION 3

typedef struct varve_options {
	unsigned int version;          /**< VARVE_OPTIONS_VERSION */
	int sync_policy;               /**< varve_sync_policy; default VARVE_SYNC_ALWAYS */
	uint32_t sync_interval_ms;     /**< period for VARVE_SYNC_INTERVAL; default 1000 */
	uint64_t segment_bytes;        /**< roll a segment at this size; default 1 GiB */
	int64_t segment_ms;            /**< roll a segment at this age; default 7 days, 0 = never */
	uint32_t index_interval_bytes; /**< bytes of log between index entries; default 4096 */
	int read_only;                 /**< open without the lock; never writes; default 0 */
	int create_if_missing;         /**< create the store directory; default 1 */
	varve_log_fn log_fn;           /**< diagnostics (recovery, cuts); default none */
	void *log_ctx;
	uint32_t dir_mode;             /**< mode of new directories; default 0700 */
	uint32_t file_mode;            /**< mode of new files; default 0600 */
	uint32_t max_record_bytes;     /**< largest encoded batch accepted; default 64 MiB */
	uint32_t group_commit_wait_us; /**< sync=always: a sync's leader waits this long for
					    joiners; default 0 = adaptively (DURABILITY.md) */
	varve_clock_fn clock_fn;       /**< time source in ms; default CLOCK_REALTIME */
	void *clock_ctx;
	int start_cleaner;             /**< run the background thread; default 1 */
	uint32_t max_open_files;       /**< open segment files kept per store; default 512 */
	uint32_t cleaner_interval_ms;  /**< retention / compaction round period; default 15000 */
	uint64_t cleaner_memory_bytes; /**< compaction key map cap; default 32 MiB */
	uint64_t cleaner_io_bytes_per_sec; /**< compaction read rate limit; 0 = none (default) */
	uint64_t min_free_bytes;       /**< appends fail with VARVE_ENOSPC below this free space; 0 = off */
	uint64_t max_inflight_bytes;   /**< async produce: bytes appended but not yet acknowledged; default 64 MiB */
	int inflight_block;            /**< past the bound: 1 = block (default), 0 = VARVE_EAGAIN */
	int use_mmap;                  /**< write and read segments through shared mappings (no
					    syscall per append); a media error while reading a
					    mapped page raises SIGBUS, as with LMDB. Default 0 */
	int verify_every_read;         /**< 1: check a batch's checksum on every read. Default 0:
					    once per batch while the store is open (read-only
					    handles always check every read) */
	const struct varve_io_methods *io; /**< version 2: NULL (the default) = the operating
					    system; any other value must come from varve's own
					    test support */
	int64_t read_cache_bytes;      /**< version 3: memory for the record position tables of
					    batches that seeks landed in (a later seek into the
					    same batch jumps to its record). 0 = the default,
					    64 MiB; -1 = none */
	int read_with_pread;           /**< version 3: 1 = read segments with pread. Default 0:
					    a writer reads them in place through read-only
					    mappings (see use_mmap for SIGBUS on media errors) */
	int64_t append_buffer_bytes;   /**< version 3: per-partition buffer that gathers small
					    appends into one write under VARVE_SYNC_NONE and
					    VARVE_SYNC_INTERVAL (not with use_mmap). A crash can
					    lose up to this many bytes of acknowledged appends per
					    partition (DURABILITY.md). Default 0 = off */
} varve_options;

/* Zero in the version-1 fields of varve_options: the default for
 * read_only, log_fn, group_commit_wait_us, clock_fn, cleaner_io_bytes_per_sec,
 * min_free_bytes, use_mmap and verify_every_read; refused (VARVE_EINVAL)
 * for segment_bytes, index_interval_bytes, max_record_bytes and, under
 * VARVE_SYNC_INTERVAL, sync_interval_ms; taken literally (not the default)
 * for sync_policy (VARVE_SYNC_NONE), segment_ms (never roll by age),
 * create_if_missing (do not create), dir_mode and file_mode (mode 0),
 * start_cleaner (no background thread), max_open_files (no limit),
 * cleaner_interval_ms (rounds only on varve_clean_now),
 * cleaner_memory_bytes (the smallest key map, 1024 slots),
 * max_inflight_bytes (one asynchronous append in flight at a time) and
 * inflight_block (VARVE_EAGAIN). */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_OPTIONS_INIT                                                        \
	{ .version = VARVE_OPTIONS_VERSION, .sync_policy = VARVE_SYNC_ALWAYS,          \
	  .sync_interval_ms = 1000, .segment_bytes = (uint64_t)1 << 30,               \
	  .segment_ms = 7LL * 24 * 3600 * 1000, .index_interval_bytes = 4096,         \
	  .read_only = 0, .create_if_missing = 1, .log_fn = NULL, .log_ctx = NULL,    \
	  .dir_mode = 0700, .file_mode = 0600, .max_record_bytes = 64u << 20,         \
	  .group_commit_wait_us = 0, .clock_fn = NULL, .clock_ctx = NULL,             \
	  .start_cleaner = 1, .max_open_files = 512, .cleaner_interval_ms = 15000,    \
	  .cleaner_memory_bytes = 32u << 20, .cleaner_io_bytes_per_sec = 0,           \
	  .min_free_bytes = 0, .max_inflight_bytes = 64u << 20, .inflight_block = 1,  \
	  .use_mmap = 0, .verify_every_read = 0, .io = NULL, .read_cache_bytes = 0,   \
	  .read_with_pread = 0, .append_buffer_bytes = 0 }
#endif

/** Fill the fields of `version` (1..VARVE_OPTIONS_VERSION) of opts with
 *  their defaults and set opts->version; VARVE_EINVAL for another version.
 *  The other _init functions work the same way. */
VARVE_API int varve_options_init(varve_options *opts, unsigned int version);

/**
 * Open (or create) the store at path.
 * @return VARVE_OK; VARVE_ELOCKED if another writer holds it; VARVE_EFORMAT
 *         for an unknown format version; VARVE_ENOTFOUND if missing and
 *         create_if_missing is 0; VARVE_EIO, VARVE_ECORRUPT, VARVE_ENOMEM.
 * Damage found by recovery is cut and reported (varve_recovery_cuts and the
 * log callback); it does not fail the open.
 */
VARVE_API int varve_open(const char *path, const varve_options *opts, varve_db **db_out);

/** Close the store: stops the background thread, syncs, writes recovery
 *  points and the clean-close marker. NULL is accepted. Returns the first
 *  error met while flushing (the handle is freed anyway). */
VARVE_API int varve_close(varve_db *db);

/** Flush every partition to disk now (fdatasync), whatever the policy. */
VARVE_API int varve_sync(varve_db *db);

/* ---------------------------------------------------------------------- */
/* Topics                                                                  */

typedef enum varve_codec {
	VARVE_CODEC_NONE = 0,
	VARVE_CODEC_LZ4 = 1
} varve_codec;

typedef enum varve_cleanup_policy {
	VARVE_CLEANUP_DELETE = 1,  /**< retention by age / size / count */
	VARVE_CLEANUP_COMPACT = 2, /**< keep the latest record per key */
	VARVE_CLEANUP_COMPACT_DELETE = 3
} varve_cleanup_policy;

typedef enum varve_partitioner {
	VARVE_PARTITIONER_STICKY = 0,      /**< null keys: one partition per batch, then rotate */
	VARVE_PARTITIONER_ROUND_ROBIN = 1  /**< null keys: next partition on every record */
} varve_partitioner;

typedef enum varve_timestamp_type {
	VARVE_TIMESTAMP_CREATE = 0, /**< retention uses the producer's timestamps */
	VARVE_TIMESTAMP_APPEND = 1  /**< retention uses the time the store appended */
} varve_timestamp_type;

#define VARVE_TOPIC_CONFIG_VERSION 1
#define VARVE_MAX_PARTITIONS 4096
#define VARVE_MAX_TOPIC_NAME 200
/** Group names (and group ids from Kafka clients): 1..255 bytes, any bytes
 *  but NUL. */
#define VARVE_MAX_GROUP_NAME 255

typedef struct varve_topic_config {
	unsigned int version;          /**< VARVE_TOPIC_CONFIG_VERSION */
	uint32_t partitions;           /**< 1..VARVE_MAX_PARTITIONS; default 1 */
	int codec;                     /**< varve_codec; default none */
	int cleanup_policy;            /**< varve_cleanup_policy; default delete */
	int64_t retention_ms;          /**< -1 = keep forever (default) */
	int64_t retention_bytes;       /**< per partition; -1 = unlimited (default) */
	int64_t retention_records;     /**< per partition; -1 = unlimited (default) */
	int64_t segment_bytes;         /**< 0 = the store's default */
	int64_t segment_ms;            /**< 0 = the store's default */
	int64_t delete_retention_ms;   /**< tombstone lifetime after compaction; default 1 day */
	double min_cleanable_dirty_ratio; /**< compaction trigger; default 0.5 */
	int timestamp_type;            /**< varve_timestamp_type for retention; default create */
	int64_t max_future_skew_ms;    /**< timestamps further ahead are clamped; default 1 h */
	int partitioner;               /**< varve_partitioner for null keys; default sticky */
	int64_t dedup_window_ms;       /**< message-id duplicate window; 0 = off (default) */
	int64_t retention_hard_bytes;  /**< per partition cap that wins over retain_for_groups; -1 = none */
	const char *retain_for_groups; /**< comma-separated groups whose uncommitted records are
					    kept by retention; NULL = none. Copied by create;
					    describe returns a pointer valid until the topic goes
					    (an alter changes what it points at) */
} varve_topic_config;

/* Zero in the version-1 fields of varve_topic_config: the default for
 * codec, segment_bytes, segment_ms, timestamp_type, partitioner,
 * dedup_window_ms and retain_for_groups (NULL); refused (VARVE_EINVAL) for
 * partitions and cleanup_policy; taken literally (not the default) for
 * retention_ms, retention_bytes, retention_records and retention_hard_bytes
 * (0: that limit keeps no sealed segment; -1 is the default),
 * delete_retention_ms (tombstones go at the next compaction),
 * min_cleanable_dirty_ratio (compact whenever anything is dirty) and
 * max_future_skew_ms (retention reads no timestamp as later than its
 * append time). */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_TOPIC_CONFIG_INIT                                                          \
	{ .version = VARVE_TOPIC_CONFIG_VERSION, .partitions = 1, .codec = VARVE_CODEC_NONE, \
	  .cleanup_policy = VARVE_CLEANUP_DELETE, .retention_ms = -1, .retention_bytes = -1, \
	  .retention_records = -1, .segment_bytes = 0, .segment_ms = 0,                     \
	  .delete_retention_ms = 24LL * 3600 * 1000, .min_cleanable_dirty_ratio = 0.5,      \
	  .timestamp_type = VARVE_TIMESTAMP_CREATE, .max_future_skew_ms = 3600LL * 1000,    \
	  .partitioner = VARVE_PARTITIONER_STICKY, .dedup_window_ms = 0,                    \
	  .retention_hard_bytes = -1, .retain_for_groups = NULL }
#endif

VARVE_API int varve_topic_config_init(varve_topic_config *cfg, unsigned int version);

/** Topic names match [A-Za-z0-9._-]{1,200} and are not "." or "..". */
VARVE_API int varve_name_valid(const char *name);

/** Create a topic. VARVE_EEXISTS if it exists, VARVE_EINVAL for a bad name/config. */
VARVE_API int varve_topic_create(varve_db *db, const char *name, const varve_topic_config *cfg);

/** Delete a topic and its data. Open iterators keep reading what they hold. */
VARVE_API int varve_topic_delete(varve_db *db, const char *name);

/** List topic names, sorted. Free with varve_strings_free. */
VARVE_API int varve_topic_list(varve_db *db, char ***names_out, size_t *count_out);
VARVE_API void varve_strings_free(char **strings, size_t count);

/**
 * Change a topic's settings. cfg is the complete new configuration (start
 * from varve_topic_describe). What may change: retention (ms, bytes,
 * records, hard bytes, retain_for_groups), cleanup_policy,
 * delete_retention_ms, min_cleanable_dirty_ratio, max_future_skew_ms,
 * timestamp_type, partitioner, and for the next segments segment_bytes,
 * segment_ms and codec. partitions and dedup_window_ms must not change
 * (VARVE_EINVAL). Durable on return; the cleaner uses the new settings from
 * its next round.
 */
VARVE_API int varve_topic_alter(varve_db *db, const char *name, const varve_topic_config *cfg);

/** Grow a topic to `partitions` partitions (more than it has, at most
 *  VARVE_MAX_PARTITIONS; partitions are never removed). Keyed records map
 *  to partitions by the new count from then on. Durable on return. */
VARVE_API int varve_topic_add_partitions(varve_db *db, const char *name, uint32_t partitions);

/**
 * Move a partition's log start up to `offset` (at most the end offset;
 * Kafka's DeleteRecords): readers no longer get the records below it, and
 * segments wholly below it are deleted. Durable on return. *start_out (may
 * be NULL) gets the log start after the call (never lower than before).
 * @return VARVE_OK, VARVE_EOFFSET (past the end), VARVE_ENOTFOUND, ...
 */
VARVE_API int varve_delete_records(varve_db *db, const char *topic, int32_t partition,
				   int64_t offset, int64_t *start_out);

/** Copy a topic's configuration into cfg_out (cfg_out->version must be set). */
VARVE_API int varve_topic_describe(varve_db *db, const char *name, varve_topic_config *cfg_out);

#define VARVE_PARTITION_INFO_VERSION 1

typedef struct varve_partition_info {
	unsigned int version;   /**< VARVE_PARTITION_INFO_VERSION */
	int64_t start_offset;   /**< first offset still stored (log start) */
	int64_t end_offset;     /**< next offset to be assigned (log end) */
	int64_t durable_offset; /**< every offset below this is on disk */
	uint64_t size_bytes;    /**< bytes of log segments */
	uint32_t segments;      /**< number of segments */
	int failed;             /**< 1 once an fsync failed: read-only until reopen */
} varve_partition_info;

VARVE_API int varve_partition_info_get(varve_db *db, const char *topic, int32_t partition,
				       varve_partition_info *info_out);

/** Log start (first stored) and end (next to assign) offsets; either may be NULL. */
VARVE_API int varve_offsets(varve_db *db, const char *topic, int32_t partition,
			    int64_t *start_out, int64_t *end_out);

/* ---------------------------------------------------------------------- */
/* Records                                                                 */

typedef struct varve_header {
	const char *key;   /**< bytes, not NUL-terminated */
	size_t key_len;
	const void *value; /**< NULL = header without a value */
	size_t value_len;
} varve_header;

#define VARVE_PARTITION_ANY (-1)
#define VARVE_TIMESTAMP_NOW 0

/**
 * A record. On produce the caller fills key/value/headers/timestamp and
 * optionally partition (VARVE_PARTITION_ANY picks by key); the store writes
 * back partition and offset. On read every pointer refers to memory owned by
 * the iterator, valid until the next call on that iterator.
 * key == NULL means a null key; value == NULL means a tombstone.
 */
typedef struct varve_record {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	const varve_header *headers;
	size_t header_count;
	int64_t timestamp; /**< ms since epoch; VARVE_TIMESTAMP_NOW on produce = now */
	int32_t partition;
	int64_t offset;
	uint32_t flags;    /**< out: VARVE_RECORD_* bits */
} varve_record;

/** Set on produce output when the record was a duplicate (idempotent
 *  producer retry or message-id window): nothing was appended and `offset`
 *  is the offset of the earlier copy. */
#define VARVE_RECORD_DUPLICATE 1u

#define VARVE_NO_EXPECTED_OFFSET (-1)
#define VARVE_PRODUCE_OPTIONS_VERSION 1

typedef struct varve_produce_options {
	unsigned int version;     /**< VARVE_PRODUCE_OPTIONS_VERSION */
	int32_t partition;        /**< force every record here; VARVE_PARTITION_ANY = per record */
	int64_t expected_end_offset; /**< append only if the partition's end offset equals this */
} varve_produce_options;

/* Zero is taken literally: partition 0, expected end offset 0. */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_PRODUCE_OPTIONS_INIT                                              \
	{ .version = VARVE_PRODUCE_OPTIONS_VERSION, .partition = VARVE_PARTITION_ANY, \
	  .expected_end_offset = VARVE_NO_EXPECTED_OFFSET }
#endif
VARVE_API int varve_produce_options_init(varve_produce_options *opts, unsigned int version);

/**
 * Append one record. partition_out / offset_out may be NULL.
 * Under VARVE_SYNC_ALWAYS the call returns after the record is on disk.
 * @return VARVE_OK; VARVE_ENOTFOUND (topic), VARVE_EINVAL, VARVE_ETOOBIG,
 *         VARVE_EIO (the partition failed), VARVE_ENOSPC, VARVE_EREADONLY.
 */
VARVE_API int varve_produce(varve_db *db, const char *topic, const varve_record *rec,
			    int32_t *partition_out, int64_t *offset_out);

/**
 * Append n records. Records for the same partition are written as one batch
 * (all or nothing, one fsync under sync=always); records for different
 * partitions are independent batches. recs[i].partition and recs[i].offset
 * are written back. opts may be NULL.
 */
VARVE_API int varve_produce_batch(varve_db *db, const char *topic, varve_record *recs, size_t n,
				  const varve_produce_options *opts);


/* ---------------------------------------------------------------------- */
/* Idempotent producers                                                    */

/**
 * A producer handle has a producer id and an epoch, allocated durably in the
 * metadata log. Each varve_producer_send is one batch to one partition with
 * a sequence number; the partition remembers the last 5 batches of every
 * producer, so a retried batch (same sequence) is not appended again and
 * returns the original offsets (records get VARVE_RECORD_DUPLICATE). The
 * state survives restarts and crashes.
 *
 * A named producer keeps its id across restarts. Opening it again bumps the
 * epoch, which fences the older handle (its sends fail with VARVE_EFENCED),
 * unless `resume` is set: then the same epoch continues, for a process that
 * restarts after a crash and re-sends what it is unsure about.
 */
typedef struct varve_producer varve_producer;

#define VARVE_PRODUCER_OPTIONS_VERSION 1
#define VARVE_SEQUENCE_AUTO (-1)

typedef struct varve_producer_options {
	unsigned int version; /**< VARVE_PRODUCER_OPTIONS_VERSION */
	const char *name;     /**< NULL: an anonymous producer with a fresh id */
	int resume;           /**< named only: keep the epoch instead of fencing */
} varve_producer_options;

/* Zero (NULL) is the default of every field. */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_PRODUCER_OPTIONS_INIT \
	{ .version = VARVE_PRODUCER_OPTIONS_VERSION, .name = NULL, .resume = 0 }
#endif
VARVE_API int varve_producer_options_init(varve_producer_options *opts, unsigned int version);

VARVE_API int varve_producer_open(varve_db *db, const varve_producer_options *opts,
				  varve_producer **out);
VARVE_API void varve_producer_close(varve_producer *p);
VARVE_API int varve_producer_id(const varve_producer *p, int64_t *id_out, uint16_t *epoch_out);

/**
 * Append recs[0..n) as one batch to one partition: `partition`, or with
 * VARVE_PARTITION_ANY the partition of the first record's key. *sequence is
 * the batch's sequence: VARVE_SEQUENCE_AUTO takes the next one and writes it
 * back; pass the same value again to retry. recs[i].offset/partition/flags
 * are written back.
 * @return VARVE_OK (appended or duplicate), VARVE_EFENCED, VARVE_ESEQUENCE
 *         (gap), VARVE_EDUPLICATE (older than the window; nothing appended).
 */
VARVE_API int varve_producer_send(varve_producer *p, const char *topic, int32_t partition,
				  varve_record *recs, size_t n, int32_t *sequence);

/** Last sequence the partition holds from this producer (-1 if none). */
VARVE_API int varve_producer_last_sequence(varve_producer *p, const char *topic,
					   int32_t partition, int32_t *seq_out);

/** Header key of the message id used by a topic's dedup_window_ms. */
#define VARVE_MSG_ID_HEADER "msg-id"


/* ---------------------------------------------------------------------- */
/* Asynchronous produce and backpressure                                   */

/** Completion of an asynchronous produce: rc is VARVE_OK once the record is
 *  durable under the store's sync policy (always: fsynced; interval: covered
 *  by the periodic sync; none: written), or the error. Called exactly once,
 *  from the store's completion thread, in offset order per partition. Keep
 *  it short; it may call varve_produce_async but must not call varve_close. */
typedef void (*varve_produce_cb)(void *ctx, int rc, int32_t partition, int64_t offset);

/**
 * Append one record without waiting for the disk; cb reports durability.
 * Records appended this way but not yet acknowledged count against
 * max_inflight_bytes: past it the call blocks (inflight_block = 1) or fails
 * with VARVE_EAGAIN. Concurrent asynchronous appends share fsyncs.
 * @return VARVE_OK (cb will be called once) or an error (cb is never called).
 */
VARVE_API int varve_produce_async(varve_db *db, const char *topic, const varve_record *rec,
				  varve_produce_cb cb, void *ctx);

/* Appending one batch to one partition, with a producer id from elsewhere
 * (a Kafka client through the broker). */

#define VARVE_APPEND_OPTIONS_VERSION 1

typedef struct varve_append_options {
	unsigned int version;         /**< VARVE_APPEND_OPTIONS_VERSION */
	int64_t producer_id;          /**< -1 = none; else the batch is checked and remembered
					   like varve_producer_send's (5 batches per producer) */
	uint16_t producer_epoch;
	int32_t base_sequence;        /**< -1 = none */
	int64_t expected_end_offset;  /**< append only if the end offset is this; VARVE_NO_EXPECTED_OFFSET */
} varve_append_options;

/* Zero is taken literally: producer id 0, sequence 0, expected end
 * offset 0 (epoch 0 is the default). */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_APPEND_OPTIONS_INIT                                                    \
	{ .version = VARVE_APPEND_OPTIONS_VERSION, .producer_id = -1, .producer_epoch = 0,   \
	  .base_sequence = -1, .expected_end_offset = VARVE_NO_EXPECTED_OFFSET }
#endif
VARVE_API int varve_append_options_init(varve_append_options *opts, unsigned int version);

typedef struct varve_append_result {
	int32_t partition;
	int64_t base_offset;  /**< first offset of the batch */
	int64_t last_offset;  /**< last offset of the batch */
	int64_t append_time;  /**< the store's clock at the append (log-append time), ms */
	uint32_t flags;       /**< VARVE_RECORD_DUPLICATE: a producer retry, nothing appended;
				   the offsets are the earlier copy's */
} varve_append_result;

/**
 * Append recs[0..n) as one batch (all or nothing) to one partition (>= 0).
 * Timestamps VARVE_TIMESTAMP_NOW become the store's clock. With a producer
 * id, the batch is checked against the partition's producer state: a retry
 * of one of the last 5 batches returns the earlier offsets with
 * VARVE_RECORD_DUPLICATE. Durable under the sync policy on return.
 * @return VARVE_OK; VARVE_ENOTFOUND, VARVE_EINVAL, VARVE_ETOOBIG,
 *         VARVE_ESEQUENCE (gap), VARVE_EFENCED (older epoch),
 *         VARVE_EDUPLICATE (older than the window), VARVE_ECONFLICT,
 *         VARVE_EIO, VARVE_ENOSPC, VARVE_EREADONLY.
 */
VARVE_API int varve_append(varve_db *db, const char *topic, int32_t partition,
			   const varve_record *recs, size_t n, const varve_append_options *opts,
			   varve_append_result *result_out);

/** Completion of varve_append_async: rc is VARVE_OK once the batch is
 *  durable under the sync policy (a duplicate: once the earlier copy is),
 *  or the error. Called exactly once, from the store's completion thread,
 *  in offset order per partition (a duplicate's callback, which reports the
 *  earlier copy's offsets, may follow batches acknowledged before it
 *  arrived); res is valid during the call. */
typedef void (*varve_append_cb)(void *ctx, int rc, const varve_append_result *res);

/**
 * varve_append without waiting for the disk: the batch is appended (its
 * offsets are fixed) before the call returns; cb reports durability. Counts
 * against max_inflight_bytes like varve_produce_async. Concurrent
 * asynchronous appends share fsyncs.
 * @return VARVE_OK (cb will be called once) or an error (cb is never called).
 */
VARVE_API int varve_append_async(varve_db *db, const char *topic, int32_t partition,
				 const varve_record *recs, size_t n, const varve_append_options *opts,
				 varve_append_cb cb, void *ctx);

/** A fresh producer id (allocated durably), for a producer that numbers
 *  its batches itself (epoch 0): Kafka's InitProducerId without a
 *  transactional id. */
VARVE_API int varve_producer_id_new(varve_db *db, int64_t *id_out);

/** Wait until every asynchronous produce issued so far has completed. */
VARVE_API int varve_flush(varve_db *db);

/** Bytes appended asynchronously and not yet acknowledged. */
VARVE_API uint64_t varve_inflight_bytes(varve_db *db);

/** Called by the background thread when a group's lag on a partition
 *  crosses max_lag_records (once per crossing, again after it recovers). */
typedef void (*varve_lag_fn)(void *ctx, const char *group, const char *topic, int32_t partition,
			     int64_t lag_records);

/** Watch a group's lag (in memory, per open store). max_lag_records < 0 removes it. */
VARVE_API int varve_group_set_lag_limit(varve_db *db, const char *group, int64_t max_lag_records,
					varve_lag_fn fn, void *ctx);

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */

typedef struct varve_iter varve_iter;

/**
 * Open an iterator on one partition, positioned at `offset` (the first record
 * at or after it; offsets removed by compaction are skipped). VARVE_EOFFSET if
 * offset is below the log start or past the end offset.
 */
VARVE_API int varve_iter_open(varve_db *db, const char *topic, int32_t partition, int64_t offset,
			      varve_iter **iter_out);

/**
 * Next record. Returns VARVE_OK and sets *rec_out (valid until the next call
 * on this iterator), VARVE_EEND when no more records are available now (call
 * again later to tail), or an error (VARVE_ECORRUPT names file and position).
 */
VARVE_API int varve_iter_next(varve_iter *it, const varve_record **rec_out);

/**
 * Go on past damage: after varve_iter_next returned VARVE_ECORRUPT, move the
 * iterator to the next batch that passes its checks (found by its magic,
 * length and checksum, not by the index). The offsets in [*from_out,
 * *to_out) were passed over: their records are unreadable (or were never
 * there). Either out pointer may be NULL.
 * @return VARVE_OK (the next call to varve_iter_next reads at *to_out),
 *         VARVE_EEND when the damage runs to the end of what is readable
 *         now, or an I/O error.
 */
VARVE_API int varve_iter_skip_damaged(varve_iter *it, int64_t *from_out, int64_t *to_out);

/** Reposition the iterator. An offset after a damaged batch is readable:
 *  only the offsets inside the damage fail with VARVE_ECORRUPT. */
VARVE_API int varve_iter_seek(varve_iter *it, int64_t offset);

/** What varve_iter_next_batch says about the stored batch. */
#define VARVE_BATCH_INFO_VERSION 1

typedef struct varve_batch_info {
	unsigned int version;     /**< VARVE_BATCH_INFO_VERSION */
	int64_t base_offset;      /**< of the stored batch */
	int64_t last_offset;      /**< of the stored batch */
	int64_t first_timestamp;
	int64_t max_timestamp;
	int64_t append_time;      /**< the store's clock at its append */
	int64_t producer_id;      /**< -1 = none */
	uint16_t producer_epoch;
	int32_t base_sequence;    /**< -1 = none */
	uint32_t record_count;    /**< of the stored batch (compaction may have left fewer) */
	uint32_t stored_bytes;    /**< its size in the log */
} varve_batch_info;

/**
 * The records of the next stored batch, from the iterator's position on
 * (records of that batch before the position are left out), and the
 * batch's header: for code that forwards batches whole (a Kafka Fetch).
 * *recs_out and everything it points to, and *info_out, are valid until the
 * next call on the iterator. The iterator moves past the batch.
 * @return VARVE_OK (*count_out >= 1), VARVE_EEND, or an error as
 *         varve_iter_next (VARVE_ECORRUPT: see varve_iter_skip_damaged).
 */
VARVE_API int varve_iter_next_batch(varve_iter *it, const varve_batch_info **info_out,
				    const varve_record **recs_out, size_t *count_out);

/** Offset the next call to varve_iter_next will look at. */
VARVE_API int64_t varve_iter_position(const varve_iter *it);

VARVE_API void varve_iter_close(varve_iter *it);

/**
 * First offset whose record timestamp is >= ts. VARVE_ENOTFOUND when no such
 * record exists (then *offset_out is the end offset).
 */
VARVE_API int varve_offset_for_time(varve_db *db, const char *topic, int32_t partition,
				    int64_t ts, int64_t *offset_out);

/* ---------------------------------------------------------------------- */
/* Maintenance and statistics                                              */

/** Run one retention and compaction round now, in the calling thread
 *  (compaction regardless of the dirty ratio when force is set). */
VARVE_API int varve_clean_now(varve_db *db, int force);

/** Version 2 added `read_cache_bytes`. */
#define VARVE_STATS_VERSION 2

typedef struct varve_stats {
	unsigned int version;        /**< VARVE_STATS_VERSION */
	uint64_t appends;            /**< batches appended (all partitions) */
	uint64_t appended_bytes;
	uint64_t fsyncs;             /**< fdatasync calls (process-wide) */
	uint64_t fsync_ns;           /**< their total latency */
	uint64_t dir_syncs;
	uint64_t segments_deleted;   /**< by retention */
	uint64_t bytes_reclaimed;    /**< by retention and compaction */
	uint64_t compactions;        /**< partition compaction runs */
	uint64_t compaction_ns;
	uint64_t compaction_bytes_read;
	uint64_t compaction_bytes_written;
	uint64_t compaction_records_kept;
	uint64_t compaction_records_dropped;
	uint64_t cleaner_failures;   /**< failed cleanings (retried with backoff) */
	uint64_t lag_alerts;         /**< lag-limit crossings reported */
	uint64_t inflight_bytes;     /**< async produce not yet acknowledged */
	uint64_t backpressure_waits; /**< async produces that blocked or got VARVE_EAGAIN */
	uint64_t read_cache_bytes;   /**< version 2: memory held by record position tables
					  (at most varve_options.read_cache_bytes) */
} varve_stats;

VARVE_API int varve_stats_get(varve_db *db, varve_stats *stats_out);

/* ---------------------------------------------------------------------- */
/* Recovery report                                                         */

typedef struct varve_recovery_cut {
	char topic[VARVE_MAX_TOPIC_NAME + 1]; /**< "__meta" for the metadata log */
	int32_t partition;
	int64_t segment_base;  /**< base offset naming the segment that was cut */
	uint64_t position;     /**< byte position of the cut in that segment */
	uint64_t bytes_lost;   /**< bytes removed from that segment and later ones */
	int64_t first_offset_lost; /**< the new end offset */
	int64_t last_offset_lost;  /**< last offset found in removed, readable data, or -1 */
	char reason[96];
} varve_recovery_cut;

/** What recovery cut during varve_open. Borrowed, valid until varve_close. */
VARVE_API int varve_recovery_cuts(varve_db *db, const varve_recovery_cut **cuts_out,
				  size_t *count_out);


/* ---------------------------------------------------------------------- */
/* Repair                                                                  */

#define VARVE_REPAIR_OPTIONS_VERSION 1

typedef struct varve_repair_options {
	unsigned int version; /**< VARVE_REPAIR_OPTIONS_VERSION */
	int dry_run;          /**< 1 (default): report what would change, change nothing */
	varve_log_fn log_fn;  /**< one message per finding (WARN) and per step (INFO) */
	void *log_ctx;
} varve_repair_options;

/* Zero in dry_run is taken literally: repair for real. */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_REPAIR_OPTIONS_INIT \
	{ .version = VARVE_REPAIR_OPTIONS_VERSION, .dry_run = 1, .log_fn = NULL, .log_ctx = NULL }
#endif
VARVE_API int varve_repair_options_init(varve_repair_options *opts, unsigned int version);

#define VARVE_REPAIR_REPORT_VERSION 1

typedef struct varve_repair_report {
	unsigned int version;          /**< VARVE_REPAIR_REPORT_VERSION */
	uint64_t ranges_damaged;       /**< unreadable stretches of the metadata log skipped */
	uint64_t records_undecodable;  /**< records of a known kind that did not decode */
	uint64_t records_kept;         /**< records written to the new metadata log */
	uint64_t records_dropped;      /**< commits and attempts of topics that do not exist */
	uint32_t topics_recreated;     /**< topic directories given a default configuration */
} varve_repair_report;

/**
 * Rebuild a damaged metadata log (`varve repair`). The store must not be
 * open (it takes the writer's lock). What is readable is kept, the latest
 * record of every key; damaged stretches are skipped and reported; a topic
 * directory whose configuration was lost gets a default one (its partition
 * count from its directories); commits of topics that do not exist are
 * dropped. Unless dry_run, the new log replaces the old one, which is kept
 * as <store>/meta.damaged-<ms>. Segments of topics are never touched.
 * @return VARVE_OK, VARVE_ELOCKED, VARVE_ENOTFOUND (no store), VARVE_EIO...
 */
VARVE_API int varve_repair(const char *path, const varve_repair_options *opts,
			   varve_repair_report *report_out);

/* ---------------------------------------------------------------------- */
/* Backup                                                                  */

/**
 * An online backup: a copy of the store, taken while it is in use, that is
 * itself a store (restore = open the copy; see docs/API.md, "Backup").
 * Sealed segments are hard-linked when the destination is on the same file
 * system (they never change), copied otherwise; the active segment is
 * copied up to its durable end. Every partition holds at least what was
 * durable when the call started, and the metadata log in the copy is
 * consistent with the partitions (no committed offset past the copied
 * data). A second backup into the same destination is incremental: it
 * adds what is new and removes what retention and compaction removed.
 *
 * While it runs the destination holds VARVE_BACKUP_MARKER; varve_open
 * refuses a store holding it (VARVE_EFORMAT, "incomplete backup"): a backup
 * that was interrupted is finished by running it again.
 */

/** File in the destination while a backup runs (and after one failed). */
#define VARVE_BACKUP_MARKER "BACKUP-INCOMPLETE"

/** Where a backup is: passed to the progress callback. The library owns
 *  it and it has no version: it may grow at the end, a callback reads the
 *  fields its header knows. */
typedef struct varve_backup_progress {
	const char *topic;          /**< partition being copied ("__meta" first); NULL at the end */
	int32_t partition;
	uint32_t partitions_done;   /**< partitions finished so far */
	uint32_t partitions_total;  /**< known once the metadata log is copied (0 before) */
	uint64_t segments_done;     /**< segments linked, copied or kept so far */
	uint64_t bytes_linked;      /**< log bytes in hard-linked segments so far */
	uint64_t bytes_copied;      /**< bytes written to the destination so far */
} varve_backup_progress;

/** Progress callback: called in the calling thread when a partition's
 *  segments have been listed (before any is linked or copied), after each
 *  segment, and once at the end (topic NULL). No store lock is held: it
 *  may use the store. */
typedef void (*varve_backup_progress_fn)(void *ctx, const varve_backup_progress *p);

#define VARVE_BACKUP_OPTIONS_VERSION 1

typedef struct varve_backup_options {
	unsigned int version;      /**< VARVE_BACKUP_OPTIONS_VERSION */
	int copy_only;             /**< 1: copy segments even where a hard link would do */
	varve_backup_progress_fn progress_fn; /**< optional */
	void *progress_ctx;
	varve_log_fn log_fn;       /**< what was skipped (WARN), steps (INFO); NULL = the
				        store's log callback */
	void *log_ctx;
} varve_backup_options;

/* Zero (NULL) is the default of every field. */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_BACKUP_OPTIONS_INIT                                                     \
	{ .version = VARVE_BACKUP_OPTIONS_VERSION, .copy_only = 0, .progress_fn = NULL, \
	  .progress_ctx = NULL, .log_fn = NULL, .log_ctx = NULL }
#endif
VARVE_API int varve_backup_options_init(varve_backup_options *opts, unsigned int version);

#define VARVE_BACKUP_REPORT_VERSION 1

typedef struct varve_backup_report {
	unsigned int version;       /**< VARVE_BACKUP_REPORT_VERSION */
	uint32_t topics;            /**< topics in the copy */
	uint32_t partitions;        /**< partitions copied, the metadata log included */
	uint32_t topics_vanished;   /**< deleted while the backup ran: the copy records the delete */
	uint32_t partition_retries; /**< partitions listed again: the source changed under the backup */
	uint64_t segments_linked;   /**< hard-linked (no data written) */
	uint64_t segments_copied;   /**< copied whole or up to the durable end */
	uint64_t segments_appended; /**< already in the destination: only the new tail copied */
	uint64_t segments_kept;     /**< already in the destination, unchanged */
	uint64_t segments_removed;  /**< in the destination but no longer in the store */
	uint64_t bytes_linked;      /**< log bytes in segments linked by this backup */
	uint64_t bytes_copied;      /**< bytes written to the destination (logs, indexes, files) */
	uint64_t bytes_total;       /**< log bytes the copy holds */
	uint64_t elapsed_ms;
	int repaired;               /**< the destination held an interrupted backup */
} varve_backup_report;

/**
 * Back up the store behind db into dest_dir (created if missing; else it
 * must be empty or an earlier backup). Works on writer and read-only
 * handles (a read-only handle copies what is on disk: `varve backup` beside
 * a running writer). opts and report_out may be NULL (report_out->version
 * must be set otherwise).
 * @return VARVE_OK; VARVE_EINVAL (dest_dir is the store or inside it);
 *         VARVE_EEXISTS (dest_dir holds something that is not a backup);
 *         VARVE_ELOCKED (a store open on dest_dir, or another backup into
 *         it); VARVE_EBUSY (the store kept changing under the backup);
 *         VARVE_EIO, VARVE_ENOSPC, VARVE_ENOMEM. On failure dest_dir keeps
 *         VARVE_BACKUP_MARKER.
 */
VARVE_API int varve_backup(varve_db *db, const char *dest_dir, const varve_backup_options *opts,
			   varve_backup_report *report_out);

/* ---------------------------------------------------------------------- */
/* Consumer groups                                                         */

/** Committed offsets live in the metadata log; a group is created by its
 *  first commit or its first consumer. */
typedef struct varve_consumer varve_consumer;

#define VARVE_OFFSET_BEGINNING (-2)
#define VARVE_OFFSET_END (-1)

typedef enum varve_offset_reset {
	VARVE_RESET_EARLIEST = 0, /**< no commit (or below log start): start at log start */
	VARVE_RESET_LATEST = 1,   /**< ... start at the end: only new records */
	VARVE_RESET_NONE = 2      /**< ... poll fails with VARVE_EOFFSET */
} varve_offset_reset;

/** Called (from a producing thread) when records may be available to c.
 *  Keep it short; it must not call back into the store. */
typedef void (*varve_notify_fn)(void *ctx, varve_consumer *c);

#define VARVE_CONSUMER_OPTIONS_VERSION 1

typedef struct varve_consumer_options {
	unsigned int version;           /**< VARVE_CONSUMER_OPTIONS_VERSION */
	int auto_offset_reset;          /**< varve_offset_reset; default earliest */
	int auto_commit;                /**< commit positions during poll; default 0 */
	uint32_t auto_commit_interval_ms; /**< default 5000 */
	uint32_t max_records;           /**< records per poll; default 500 */
	uint32_t max_bytes;             /**< key+value bytes per poll (at least one record); default 1 MiB */
	uint32_t min_bytes;             /**< poll waits for this many bytes...; default 1 */
	uint32_t max_wait_ms;           /**< ...but no longer than this once it has some; default 100 */
	varve_notify_fn notify_fn;      /**< optional */
	void *notify_ctx;
	uint32_t max_attempts;          /**< deliveries of a nacked record before it is dead; default 5 */
	uint32_t retry_backoff_ms;      /**< first redelivery delay, doubled per attempt; default 1000 */
	uint32_t retry_backoff_max_ms;  /**< cap on the delay; default 60000 */
	const char *dlq_topic;          /**< dead letters go here; NULL = "<topic>.dlq" */
} varve_consumer_options;

/* Zero in the version-1 fields of varve_consumer_options: the default
 * for auto_offset_reset (earliest), auto_commit, notify_fn and dlq_topic;
 * taken literally (not the default) for auto_commit_interval_ms (commit on
 * every poll), max_records and max_bytes (one record per poll), min_bytes
 * (return as soon as anything is there), max_wait_ms (do not wait for
 * min_bytes), max_attempts (a nacked record goes to the dead letters at
 * once), retry_backoff_ms and retry_backoff_max_ms (redeliver at once). */
#ifdef VARVE_HAVE_INIT_MACROS
#define VARVE_CONSUMER_OPTIONS_INIT                                                           \
	{ .version = VARVE_CONSUMER_OPTIONS_VERSION, .auto_offset_reset = VARVE_RESET_EARLIEST, \
	  .auto_commit = 0, .auto_commit_interval_ms = 5000, .max_records = 500,                \
	  .max_bytes = 1u << 20, .min_bytes = 1, .max_wait_ms = 100, .notify_fn = NULL,         \
	  .notify_ctx = NULL, .max_attempts = 5, .retry_backoff_ms = 1000,                      \
	  .retry_backoff_max_ms = 60000, .dlq_topic = NULL }
#endif

VARVE_API int varve_consumer_options_init(varve_consumer_options *opts, unsigned int version);

/** A record delivered by a consumer, with the topic it came from. */
typedef struct varve_msg {
	const char *topic;
	varve_record rec; /**< rec.partition and rec.offset identify it */
} varve_msg;

/**
 * Join `group` as a new member subscribed to `topics`. Members of one group
 * in this process split the partitions (range assignment per topic, members
 * in join order); each partition has exactly one owner, and a new owner
 * resumes at the last committed offset. Different groups are independent.
 * On a read-only store the consumer can read and seek but not commit.
 */
VARVE_API int varve_consumer_open(varve_db *db, const char *group, const char *const *topics,
				  size_t ntopics, const varve_consumer_options *opts,
				  varve_consumer **out);

/** Leave the group (its partitions go to the other members) and free c.
 *  Does not commit: call varve_consumer_commit first if you want to. */
VARVE_API void varve_consumer_close(varve_consumer *c);

/**
 * Fetch records from the assigned partitions, rotating across them so a busy
 * partition cannot starve the others. Blocks up to timeout_ms (< 0: forever,
 * 0: return at once) until at least one record is available; then returns
 * once min_bytes are gathered or max_wait_ms passed. On timeout returns
 * VARVE_OK with *count_out = 0. The messages are valid until the next poll,
 * seek or close on c; no allocation per record.
 */
VARVE_API int varve_consumer_poll(varve_consumer *c, int timeout_ms, const varve_msg **msgs_out,
				  size_t *count_out);

/** Commit the position (next offset to read) of every assigned partition.
 *  Durable on return under sync=always; the offsets of one call are
 *  written as one batch (all or nothing after a crash). */
VARVE_API int varve_consumer_commit(varve_consumer *c);

/** Commit an explicit offset (the next offset to read) for one partition. */
VARVE_API int varve_consumer_commit_offset(varve_consumer *c, const char *topic,
					   int32_t partition, int64_t offset,
					   const char *metadata);

/**
 * Negative acknowledgement: `m` (from the last poll) failed with `reason`.
 * It is delivered again by a later poll after a backoff (retry_backoff_ms
 * doubling up to retry_backoff_max_ms), while the consumer goes on with the
 * records after it. After max_attempts deliveries it is appended to the
 * dead-letter topic (created on demand, one partition, same key) with
 * headers dlq-topic, dlq-partition, dlq-offset, dlq-attempts and dlq-reason,
 * and is not delivered again. Attempt counts live in the metadata log, so a
 * restart does not reset them. A redelivered record that is not nacked
 * again counts as done at the next commit.
 */
VARVE_API int varve_consumer_nack(varve_consumer *c, const varve_msg *m, const char *reason);

/** Delivery attempts so far of a message from the last poll (1 = first). */
VARVE_API uint32_t varve_consumer_attempts(varve_consumer *c, const varve_msg *m);

/**
 * Move dead letters back: read `dlq_topic` from where the last replay
 * stopped (group "__dlq-replay"), append each record to the topic and
 * partition named by its dlq-* headers (without those headers), and commit.
 * At most max_records (0 = all). *moved_out may be NULL.
 */
VARVE_API int varve_dlq_replay(varve_db *db, const char *dlq_topic, uint64_t max_records,
			       uint64_t *moved_out);

/** Move the position of an assigned partition: an offset,
 *  VARVE_OFFSET_BEGINNING or VARVE_OFFSET_END. */
VARVE_API int varve_consumer_seek(varve_consumer *c, const char *topic, int32_t partition,
				  int64_t offset);
/** Move to the first record with timestamp >= ts (the end if none). */
VARVE_API int varve_consumer_seek_time(varve_consumer *c, const char *topic, int32_t partition,
				       int64_t ts);

/** Current position (next offset poll returns) of an assigned partition. */
VARVE_API int varve_consumer_position(varve_consumer *c, const char *topic, int32_t partition,
				      int64_t *offset_out);

typedef struct varve_topic_partition {
	const char *topic;
	int32_t partition;
} varve_topic_partition;

/** The partitions assigned to c now; valid until the next call on c. */
VARVE_API int varve_consumer_assignment(varve_consumer *c, const varve_topic_partition **tps_out,
					size_t *count_out);

/** An eventfd that becomes readable when records may be available: put it
 *  in epoll/poll/libuv and call poll(…, 0) when it fires. Owned by c. */
VARVE_API int varve_consumer_fd(varve_consumer *c);

/** How often positions were reset by auto_offset_reset because a committed
 *  offset was below the log start or past the end. */
VARVE_API uint64_t varve_consumer_resets(const varve_consumer *c);

/**
 * Append notifications for event loops: an eventfd that becomes readable
 * after an append to any topic of the store since the watch was last
 * armed, and again when appended records become durable (a Kafka Fetch,
 * which serves only durable records, long-polls on it). Arm before looking at the data:
 * an append after the look cannot then be missed (a spurious wake-up is
 * the price). The fd is owned by the watch.
 */
typedef struct varve_watch varve_watch;
VARVE_API int varve_watch_open(varve_db *db, varve_watch **watch_out);
VARVE_API int varve_watch_fd(const varve_watch *w);
/** Drain the fd and wait for the next append. */
VARVE_API void varve_watch_arm(varve_watch *w);
VARVE_API void varve_watch_close(varve_watch *w);

/* Group administration (work on read-only stores where they only read). */

/** Committed offset of a group for a partition; VARVE_ENOTFOUND if none. */
VARVE_API int varve_group_offset(varve_db *db, const char *group, const char *topic,
				 int32_t partition, int64_t *offset_out);
/** Commit an offset for a group (tools: reset a group while no consumer runs). */
VARVE_API int varve_group_commit(varve_db *db, const char *group, const char *topic,
				 int32_t partition, int64_t offset, const char *metadata);
/** A committed offset with its details. */
#define VARVE_COMMIT_INFO_VERSION 1
#define VARVE_MAX_COMMIT_METADATA 4096

typedef struct varve_commit_info {
	unsigned int version;  /**< VARVE_COMMIT_INFO_VERSION */
	const char *topic;     /**< (varve_group_commits) valid until varve_commits_free */
	int32_t partition;     /**< (varve_group_commits) */
	int64_t offset;        /**< the next offset the group reads */
	int64_t time;          /**< the store's clock at the commit, ms */
	char metadata[VARVE_MAX_COMMIT_METADATA + 1]; /**< the commit's metadata text ("" if none) */
} varve_commit_info;

/** One commit with its metadata and time (set info_out->version first);
 *  VARVE_ENOTFOUND if none. */
VARVE_API int varve_group_committed(varve_db *db, const char *group, const char *topic,
				    int32_t partition, varve_commit_info *info_out);
/** Every commit of a group, sorted by topic and partition (version set in
 *  each). Free with varve_commits_free. VARVE_ENOTFOUND for no such group. */
VARVE_API int varve_group_commits(varve_db *db, const char *group, varve_commit_info **out,
				  size_t *count_out);
VARVE_API void varve_commits_free(varve_commit_info *v, size_t count);

/** One offset of a multi-partition commit. */
typedef struct varve_commit_item {
	const char *topic;
	int32_t partition;
	int64_t offset;       /**< the next offset to read, in [0, end] */
	const char *metadata; /**< NULL = none; at most VARVE_MAX_COMMIT_METADATA bytes */
} varve_commit_item;

/** Commit n offsets of one group as one metadata batch: all or none of them
 *  after a crash. Durable on return under sync=always. */
VARVE_API int varve_group_commit_many(varve_db *db, const char *group,
				      const varve_commit_item *items, size_t n);

/** Group names, sorted. Free with varve_strings_free. */
VARVE_API int varve_group_list(varve_db *db, char ***names_out, size_t *count_out);
/** Delete a group and its commits (VARVE_EBUSY while it has open consumers). */
VARVE_API int varve_group_delete(varve_db *db, const char *group);

#define VARVE_LAG_VERSION 1

typedef struct varve_lag {
	unsigned int version;      /**< VARVE_LAG_VERSION */
	int64_t committed;         /**< committed offset, -1 if none */
	int64_t end_offset;
	int64_t records;           /**< end - committed (end - start without a commit) */
	uint64_t bytes;            /**< log bytes from the committed position to the end */
	int64_t oldest_age_ms;     /**< age of the first unconsumed record; 0 if none */
} varve_lag;

VARVE_API int varve_group_lag(varve_db *db, const char *group, const char *topic,
			      int32_t partition, varve_lag *lag_out);

#ifdef __cplusplus
}
#endif
#endif /* VARVE_H */
