/* SPDX-License-Identifier: MIT */
/*
 * backup_int.h -- private to varve_backup: the state of one backup and of one
 * partition being copied, shared by backup.c (the order of a backup, the
 * topics, the destination, the entry points) and backup_part.c (copying one
 * partition and its segments). The design notes are at the top of backup.c.
 */
#ifndef VV_BACKUP_INT_H
#define VV_BACKUP_INT_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "abi.h"
#include "db.h"
#include "io.h"
#include "meta.h"
#include "partition.h"
#include "registry.h"
#include "segment.h"
#include "sizes.h"
#include "util.h"

#define BACKUP_FILE "BACKUP"
#define COPY_CHUNK (1u << 20)
#define TAIL_CHECK 4096   /* bytes compared at the end of a kept segment */
#define MAX_ATTEMPTS 16   /* listings of a partition that got no further: VARVE_EBUSY */
#define PIN_WINDOW 64     /* segments pinned at a time (3 descriptors each) */
#define VANISHED 1        /* internal: a file of the listing is gone; list again */
#define CHANGED 2         /* internal: a name holds another file than listed; again */
#define CLEANER_CHECKPOINT_FILE VV_CLEANER_CHECKPOINT_FILE
#define PRODUCER_SNAPSHOT_FILE "producer-snapshot"

/* A topic the copied metadata log names. */
typedef struct named_topic {
	char name[VARVE_MAX_TOPIC_NAME + 1];
	uint32_t partitions;
	int64_t created_ms;
	int live;     /* not deleted by a later record */
	int vanished; /* gone from the store while the backup ran */
} named_topic;

typedef struct bk {
	varve_db *db;
	varve_backup_options o;
	varve_backup_report *rep;
	const char *src;
	char dst[3072];
	vv_file *lock;
	const vv_io_methods *io; /* the store's I/O table, for both trees */
	int link_ok;           /* hard links are still worth trying */
	unsigned file_mode, dir_mode;
	vv_part_config ro_cfg; /* read-only opens of the source and the copy */
	uint8_t *buf;          /* COPY_CHUNK bytes */
	uint64_t nonce;        /* of the copy's CLEAN and segment-sizes lists */
	named_topic *tv;
	size_t tn, tcap;
	varve_backup_progress pg;
} bk;

/* One segment to copy, and how much of it. */
typedef struct pick {
	vv_segment *s; /* referenced by the listing; NULL once copied */
	size_t at;     /* its place in the listing */
	int64_t base;
	uint64_t size; /* bytes of its log */
	int whole;     /* sealed and copied whole: may be linked */
} pick;

/* A segment log's file as a name held it before a read-only view opened. */
typedef struct seg_id {
	int64_t base;
	uint64_t dev, ino;
} seg_id;

/* One partition being copied. */
typedef struct part_job {
	vv_partition *p;
	const char *topic;
	uint32_t id;
	const char *dir;  /* destination partition directory */
	int64_t limit;    /* copy the offsets below this */
	int64_t start;    /* log start */
	vv_segment **v;   /* the listing, referenced (NULL once released) */
	size_t n;
	pick *picks;
	size_t np;
	seg_id *ids;      /* read-only views: the files listed before the open */
	size_t nids;
	size_t changed_at; /* VANISHED or CHANGED: in the window starting here */
} part_job;

/* How a segment's log reached the destination (positive: errors are not). */
enum { KEPT = 1, KEPT_LINK, LINKED, COPIED, APPENDED, REPLACE };


/* Helpers of backup.c that copying a partition uses too. */
void vv_bk_say(const bk *b, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vv_bk_progress(bk *b, const char *topic, uint32_t part);
int vv_bk_path_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vv_bk_unlink_quiet(const vv_io_methods *io, const char *path);
int vv_bk_same_file(const vv_file_info *a, const vv_file_info *b);
/* A directory that survives a crash: made if missing, its parent synced. */
int vv_bk_make_dir(const bk *b, const char *dir);

/* Copy one partition (the live one when the handle is a writer, else NULL:
 * a read-only view of sdir) into ddir up to its durable end (backup_part.c).
 * *gone: the partition is no longer in the store. */
int vv_bk_partition(bk *b, vv_partition *live, const char *sdir, const char *topic,
			    uint32_t id, const char *ddir, int *gone);

#endif
