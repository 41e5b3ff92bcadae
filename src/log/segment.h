/* SPDX-License-Identifier: MIT */
/*
 * segment.h -- one .log file and its two index files. segment.c holds the
 * object's life and the append path, segment_read.c the reader, the
 * recovery scan and the lookups.
 *
 * NOTES ON THE DESIGN
 *  1. A segment's published `size` only ever covers whole, checksummed
 *     batches. Readers load it (acquire) and read below it without locks;
 *     the appender stores it (release) after the bytes are written.
 *  2. Segments are reference counted. The partition holds one reference;
 *     readers take one while they read. Retention and compaction mark a
 *     segment deleted and drop the partition's reference; the files are
 *     unlinked when the last reference goes, so a reader in the middle of a
 *     segment finishes the version it started on.
 *  3. Files are opened lazily (a store may hold 100,000 segments) under `mu`.
 *  4. Index entries are hints: a lookup's landing batch is checked against
 *     the log, and a mismatch rebuilds the index from the log.
 */
#ifndef VV_SEGMENT_H
#define VV_SEGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "batch.h"
#include "index.h"
#include "io.h"
#include "postab.h"

#define VV_SEG_NAME_LEN 20
#define VV_INCOMPLETE 1 /* internal: a batch runs past the readable limit */

typedef struct vv_seg_config {
	/* the store's I/O table (NULL: the process default); every file
	 * operation of the partition and its segments goes through it */
	const vv_io_methods *io;
	uint32_t index_interval;
	uint32_t max_batch; /* largest batch accepted when reading */
	unsigned file_mode;
	int read_only;
	/* mmap mode (writer only): the active segment is preallocated in chunks
	 * and written through a shared mapping; reads of any segment go through
	 * read mappings. No syscall per append; see docs/DURABILITY.md. */
	int use_mmap;
	uint64_t map_span; /* mapping size of an active segment */
	/* not mmap mode: read the log through a read-only mapping (writers) */
	int read_map;
	uint64_t segment_bytes; /* roll size, to size preallocation */
	/* the store's budget for record position tables (NULL: none) */
	vv_postab_budget *read_cache;
	/* Check a batch's checksum on every read (1), or once per segment
	 * object while the store is open (0; not for read-only handles, whose
	 * files a writer may cut and rewrite). */
	int verify_always;
} vv_seg_config;

typedef struct vv_segment {
	_Atomic int refs;
	_Atomic int deleted;  /* unlink the files with the last reference */
	_Atomic int replaced; /* compaction put new files under this name: never touch them */
	int64_t base;
	char *dir;
	const vv_seg_config *cfg;

	pthread_mutex_t mu; /* files, index */
	vv_file *_Atomic log; /* read without mu by readers holding a reference */
	vv_file *idx, *tidx;
	uint8_t *_Atomic map; /* the log's mapping (set under mu): mmap mode, or the
			       * default read mapping (vv_segment_read_map_wanted) */
	size_t map_len;
	_Atomic int map_tried; /* the read mapping was attempted since the files opened */
	uint64_t alloc_end;   /* active segment: bytes of the file allocated (zeros past size) */
	int alloc_known;
	int index_ready;
	vv_index ix;

	_Atomic uint64_t size;       /* bytes of whole valid batches */
	_Atomic int64_t next_offset; /* last offset + 1; base when empty */
	_Atomic int64_t max_ts;      /* largest record timestamp; INT64_MIN when empty */
	_Atomic int64_t max_append_time;
	int64_t first_append_time;   /* for rolling by age; 0 = unknown */
	vv_index_cursor ixc;         /* where indexing stands (under mu) */
	_Atomic uint64_t last_used;  /* tick of the last read, for closing idle files */
	_Atomic int dirty;           /* appended to since its last fdatasync */
	int sealed;
	int from_swap; /* read-only view of a committed swap: log is <b>.log.swap */
	/* Batches whose checksum was checked once (cfg->verify_always == 0):
	 * every batch below verified_end, and batches of VV_VERIFY_BIG bytes or
	 * more one by one in vbits (a bit per 4 KiB slot: two such batches never
	 * start in the same slot). vbits is sized at first use and never grows. */
	_Atomic uint64_t verified_end;
	_Atomic uint64_t *_Atomic vbits;
	size_t vbits_slots;
	vv_postab_set ptabs; /* record positions of batches seeks landed in */
} vv_segment;

/* Build "<dir>/<20-digit base><suffix>". */
void vv_segment_path(char *out, size_t cap, const char *dir, int64_t base, const char *suffix);
/* Unlink a segment's three files, the log last (while it exists the segment
 * is still whole). Errors are ignored and cleared; no directory fsync. */
void vv_segment_unlink_files(const vv_io_methods *io, const char *dir, int64_t base);
/* Parse "<20 digits>.log" into base. 0 on success. */
int vv_segment_parse_name(const char *name, int64_t *base);

/* Create a new empty segment (files created; caller fsyncs the directory). */
int vv_segment_create(const char *dir, int64_t base, const vv_seg_config *cfg, vv_segment **out);
/* Describe an existing segment of known size without opening it. */
int vv_segment_attach(const char *dir, int64_t base, uint64_t size, const vv_seg_config *cfg,
		      vv_segment **out);

void vv_segment_ref(vv_segment *s);
/* Drop a reference; the last one closes files, and unlinks them if deleted. */
void vv_segment_unref(vv_segment *s);
/* Ask for deletion once unreferenced. */
void vv_segment_mark_deleted(vv_segment *s);
/* The files under this segment's name now belong to a compacted segment;
 * the object keeps reading through its open descriptors (open them first). */
void vv_segment_mark_replaced(vv_segment *s);

/* Load (or rebuild) the index now (the writer's active segment at open, so
 * appends extend it). */
int vv_segment_load_index(vv_segment *s);

/* Make max_ts and max_append_time known (attached segments learn them from
 * the time index and the last batch headers). */
int vv_segment_load_stats(vv_segment *s);

/* Reads go through a read-only mapping of the log (writers, not mmap
 * mode; see read_map_locked in segment.c). */
static inline int vv_segment_read_map_wanted(const vv_segment *s)
{
	return s->cfg->read_map && !s->cfg->use_mmap && !s->cfg->read_only && s->cfg->map_span > 0;
}

/* Open the log (and index files) if not open. */
int vv_segment_open_files(vv_segment *s);
/* Open the files if needed and, when wanted, make the read mapping (once
 * per opening of the files). */
int vv_segment_map_for_read(vv_segment *s);
/* Close files (and unmap) of a sealed segment if only the partition's
 * reference and caller_refs of the caller's are held. The caller holds the
 * partition's segs_lock for writing, so no reader can take a reference
 * meanwhile. Returns 1 if it closed something. */
int vv_segment_close_idle(vv_segment *s, int caller_refs);
/* Segments with open files in this process, and a clock for LRU order. */
long vv_segment_open_count(void);
uint64_t vv_segment_tick(void);

/* Result of scanning a segment from a position. */
typedef struct vv_scan_result {
	uint64_t valid_end;     /* position after the last whole valid batch */
	uint64_t file_size;
	int64_t next_offset;    /* after the last valid batch; base if none */
	int64_t max_ts, max_append_time, first_append_time;
	int damaged;            /* stopped before file_size */
	uint64_t zero_tail;     /* bytes of zeros after valid_end (preallocated space), not damage */
	int64_t lost_last_offset; /* last offset seen in readable data past the cut, or -1 */
	char reason[96];
} vv_scan_result;

/* Scan from `from` (a batch boundary) to the end of the file: checksum every
 * batch, rebuild index entries past `from`, and set size/next_offset/max_ts.
 * Does not truncate. */
int vv_segment_scan(vv_segment *s, uint64_t from, int64_t from_offset, vv_scan_result *res);
/* Cut the file at pos (recovery), fix the index files, fsync. */
int vv_segment_truncate(vv_segment *s, uint64_t pos);

/* Note index entries for the batch at pos (max_ts: the largest timestamp up
 * to it), as an append does; for the scans that rebuild the index. Caller
 * holds mu. */
int vv_segment_index_batch(vv_segment *s, uint64_t pos, const vv_batch_header *h, int64_t max_ts);

/* Append one encoded batch (already carrying its offsets). Writes (pwrite,
 * or the table's map_write in mmap mode), updates the indexes, publishes
 * size. Caller holds the partition lock. */
int vv_segment_append(vv_segment *s, const uint8_t *batch, size_t len, const vv_batch_header *h);
/* Append a run of whole encoded batches (an append buffer's contents,
 * consecutive offsets) with one write; as vv_segment_append otherwise. A
 * failure publishes nothing: the same run can be appended again. */
int vv_segment_append_run(vv_segment *s, const uint8_t *run, size_t len);

/* Allocate ahead (and map, in mmap mode) the active segment (writer open). */
int vv_segment_prepare(vv_segment *s);

/* Seal the active segment: write pending index entries and a final time
 * entry, give back preallocated space. Writes only, no fsync: a failure (a
 * full disk) leaves the segment unsealed and the seal can be retried. */
int vv_segment_seal(vv_segment *s);
/* fdatasync the log and both index files. */
int vv_segment_sync_all(vv_segment *s);
int vv_segment_sync(vv_segment *s);
/* Give back preallocated space past the data (seal, clean close). */
int vv_segment_trim(vv_segment *s);
/* Write pending index entries (no fsync). */
int vv_segment_flush_index(vv_segment *s);

/* Byte position of the batch containing `offset`, or of the first batch past
 * it; size if past the end. Loads (and if needed rebuilds) the index. */
int vv_segment_find(vv_segment *s, int64_t offset, uint64_t *pos);
/* Position of the batch to start a time scan from (first index time entry
 * at or past ts, one entry back). *found = 0 when no record in this segment
 * can have a timestamp >= ts. */
int vv_segment_find_time(vv_segment *s, int64_t ts, uint64_t *pos, int *found);

/* Reads batches from a segment through a reusable buffer. */
typedef struct vv_seg_reader {
	uint8_t *buf;
	size_t cap;
	uint64_t buf_pos;
	size_t buf_len;
	size_t chunk;    /* next read size: small after a seek, growing while sequential */
	vv_segment *seg; /* buffer belongs to this segment's file */
	/* Check every batch even if it matched before: set by compaction, which
	 * must never copy damaged records under a fresh checksum. */
	int verify_all;
} vv_seg_reader;

void vv_seg_reader_init(vv_seg_reader *r);
void vv_seg_reader_free(vv_seg_reader *r);
void vv_seg_reader_reset(vv_seg_reader *r);
/* Load the batch at pos, reading no further than limit. Returns 0 with a
 * checksummed batch, VARVE_EEND if pos >= limit, VV_INCOMPLETE if a batch
 * header or body runs past limit, VARVE_ECORRUPT (detail names file and
 * position) for a bad header or checksum. */
int vv_seg_reader_batch(vv_seg_reader *r, vv_segment *s, uint64_t pos, uint64_t limit,
			const uint8_t **batch, vv_batch_header *h);
/* vv_seg_reader_batch for a read of offset `target`: when target lies past
 * the start of a batch that has a record map and was not checked whole
 * before, the batch comes back unchecked (*checked = 0) and the caller
 * checks the map and the chunks it reads (or vv_seg_reader_check). The
 * header's length was bounded by limit; nothing else in it is vouched for. */
int vv_seg_reader_batch_for(vv_seg_reader *r, vv_segment *s, uint64_t pos, uint64_t limit,
			    int64_t target, const uint8_t **batch, vv_batch_header *h, int *checked);
/* The whole-batch check vv_seg_reader_batch makes: 0 or VARVE_ECORRUPT
 * (detail names file and position). */
int vv_seg_reader_check(const vv_seg_reader *r, vv_segment *s, const uint8_t *batch, uint64_t pos,
			const vv_batch_header *h, uint64_t limit);

/* After damage at or before `from`: the position of the next whole batch
 * in [from, limit) that parses, passes its checksum and holds offsets in
 * [min_offset, the segment's next offset). 0 with *pos and *h, VARVE_EEND
 * (*pos = limit) when there is none, or an I/O error. */
int vv_segment_resync(vv_segment *s, uint64_t from, uint64_t limit, int64_t min_offset,
		      uint64_t *pos, vv_batch_header *h);

#endif
