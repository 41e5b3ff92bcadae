/* SPDX-License-Identifier: MIT */
/*
 * dump_core.h -- the parsing and printing half of varve-dump, kept apart
 * from the file and directory walking so the fuzz targets can run it on
 * bytes in memory (fuzz/fuzz_dump.c).
 *
 * Nothing here trusts the input: every length is bounded by the bytes
 * actually present and by opts->max_batch, batches are read through a
 * bounded source (dump_src), and compressed records are inflated by the
 * library's bounded path (vv_record_reader_init, LZ4_decompress_safe).
 */
#ifndef VARVE_DUMP_CORE_H
#define VARVE_DUMP_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "partition.h" /* vv_recovery_point */

#define DUMP_MAX_BATCH_DEFAULT (1u << 30) /* 1 GiB: no batch can be larger */

/* Exit codes of varve-dump. */
enum { DUMP_EXIT_OK = 0, DUMP_EXIT_ERROR = 1, DUMP_EXIT_USAGE = 2, DUMP_EXIT_DAMAGE = 3 };

typedef enum dump_enc {
	DUMP_ENC_ESCAPE = 0, /* printable ASCII as is, other bytes \xNN (JSON: \u00NN) */
	DUMP_ENC_HEX = 1,
	DUMP_ENC_BASE64 = 2
} dump_enc;

typedef enum dump_kind {
	DUMP_KIND_UNKNOWN = 0,
	DUMP_KIND_LOG,
	DUMP_KIND_META, /* a .log of the metadata log: records decode as metadata */
	DUMP_KIND_INDEX,
	DUMP_KIND_TIMEINDEX,
	DUMP_KIND_RECOVERY_POINT
} dump_kind;

typedef struct dump_opts {
	int records;        /* print every record */
	int verify;         /* offset continuity, record decoding, index checks */
	int json;           /* one JSON object per line */
	int quiet;          /* print only damage and the summary */
	dump_enc enc;       /* how keys and values are shown */
	uint32_t max_batch; /* largest batch length believed; 0 = DUMP_MAX_BATCH_DEFAULT */
	int verbose;        /* name skipped files on stderr (varve-dump.c) */
} dump_opts;

/* Bounded random access to the bytes of one file (or of a buffer). get()
 * returns n bytes at off, valid until the next call, or NULL on an I/O
 * error (the source prints why through the context). Callers always check
 * off + n <= size first. */
typedef struct dump_src dump_src;
struct dump_src {
	uint64_t size;
	const uint8_t *(*get)(dump_src *s, uint64_t off, size_t n);
	void *ctx;
	int shrank; /* set by get() when the file ended before size (a live writer cut it) */
	/* Optional (NULL for bytes that cannot change): wait a moment, then
	 * take in what a live writer wrote meanwhile (a new size; nothing
	 * read before is kept). Asked before damage at the end of a file is
	 * reported, since a batch in flight looks torn for an instant. */
	void (*settle)(dump_src *s, int wait_ms);
};

/* A source over a buffer in memory. */
void dump_src_mem(dump_src *s, const uint8_t *data, size_t n);

/* State of one run: options, output, the damage found so far. */
typedef struct dump_ctx {
	const dump_opts *o;
	FILE *out;
	uint32_t max_batch;
	uint64_t damage_count;
	char first_file[4096];
	uint64_t first_pos;
	char first_reason[256];
	int errors; /* files that could not be read */
	uint64_t files, batches, records, entries;
	/* reusable decode buffers */
	uint8_t *scratch;
	size_t scratch_cap;
	void *hdrs; /* varve_header array for vv_record_next */
	size_t hcap;
} dump_ctx;

void dump_ctx_init(dump_ctx *c, const dump_opts *o, FILE *out);
void dump_ctx_free(dump_ctx *c);

/* Record damage at a byte position of a file: printed to out at once (the
 * first one is also kept for the final message). */
void dump_damage(dump_ctx *c, const char *file, uint64_t pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error that stops the reading of a file (cannot open, I/O): stderr. */
void dump_error(dump_ctx *c, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A remark that is neither data nor damage (text: "# ...", JSON: note). */
void dump_note(dump_ctx *c, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One file to dump. */
typedef struct dump_file {
	const char *path; /* for messages */
	dump_src *src;
	dump_kind kind;
	int64_t base; /* segment base offset from the file name; -1 = unknown */
} dump_file;

/* What a log segment held, for the index and cross-segment checks. */
typedef struct dump_batch_info {
	uint64_t pos;
	uint32_t length;
	int64_t base_offset, last_offset;
	int64_t max_ts_so_far; /* largest max_timestamp of this and earlier good batches */
	int damaged; /* failed a check: nothing in it is believed; length and offsets are the
			extent up to the next good batch and the offsets between its neighbours */
} dump_batch_info;

typedef struct dump_log_info {
	dump_batch_info *b; /* every batch, and every damaged place, in file order */
	size_t n, cap;
	uint64_t file_size;
	uint64_t readable_end;    /* position after the last whole batch that was read */
	int64_t last_good_offset; /* last offset of the last good batch, -1 if none */
	int damaged;              /* damage found in this file */
} dump_log_info;

void dump_log_info_free(dump_log_info *li);

/* Print (and check) a file of the given kind. `log` is the segment's log
 * for the index / time index checks (NULL: no cross check); `info`
 * receives a log's batches (may be NULL). Returns 0, or -1 when reading
 * had to stop on an I/O or memory error (damage is not an error: see
 * c->damage_count). */
int dump_log(dump_ctx *c, const dump_file *f, dump_log_info *info);
int dump_index(dump_ctx *c, const dump_file *f, const dump_log_info *log);
int dump_timeindex(dump_ctx *c, const dump_file *f, const dump_log_info *log);
/* *rp_ok = 1 and *rp filled when the file decodes. */
int dump_recovery_point(dump_ctx *c, const dump_file *f, vv_recovery_point *rp, int *rp_ok);
/* Check a decoded recovery point against the segment it names. */
void dump_check_recovery_point(dump_ctx *c, const char *rp_path, const vv_recovery_point *rp,
			       const char *seg_path, int64_t seg_base, const dump_log_info *li);

/* Dispatch on kind. */
int dump_file_any(dump_ctx *c, const dump_file *f, dump_log_info *info);

/* "log", "meta", "index", "timeindex", "recovery-point" -> kind. */
dump_kind dump_kind_parse(const char *s);
const char *dump_kind_name(dump_kind k);

/* The whole job for one in-memory file (fuzz entry point): returns the
 * exit code varve-dump would give (0, 1 or 3). */
int dump_buffer(const uint8_t *data, size_t n, const char *kind, const dump_opts *o, FILE *out);
/* A log with its index and time index, checked against each other. */
int dump_segment_buffers(const uint8_t *log, size_t log_n, const uint8_t *idx, size_t idx_n,
			 const uint8_t *tidx, size_t tidx_n, int64_t base, const dump_opts *o,
			 FILE *out);

/* Output helpers shared with varve-dump.c (encode.h on C strings). */
void dump_json_str(FILE *out, const char *s);    /* a C string as a JSON string */
void dump_text_str(FILE *out, const char *s);    /* control bytes, broken UTF-8 escaped */
void dump_print_bytes(dump_ctx *c, const void *p, size_t n); /* NULL -> null */

#endif
