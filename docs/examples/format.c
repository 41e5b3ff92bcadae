/* SPDX-License-Identifier: MIT */
/*
 * format -- writes the store of docs/FORMAT.md, "Example: one batch, byte by
 * byte", and prints its files in the same hex form, so the test
 * 'example-format-in-sync' (docs/meson.build) can compare them with the
 * document: an empty partition, the store's clock fixed at 1700000000123
 * ms, one varve_produce_batch of two records (key "k", value "v1", header
 * h=x, timestamp 1700000000000; then a null key, a tombstone, no headers,
 * timestamp 1700000000005), then a clean close.
 *
 *   format DIR    DIR is removed first (only if it is a varve store or
 *                 empty), then written; the segment, then the recovery
 *                 point, are printed on stdout as `xxd` prints them
 *                 (16 bytes a line, in groups of two)
 *
 * Exit status 0 on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "varve.h"

#define CLOCK_MS 1700000000123LL

static int fail(const char *what, int rc)
{
	fprintf(stderr, "format: %s: %s (%s)\n", what, varve_errmsg(rc), varve_last_error()->message);
	return 1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove DIR if it is a varve store (has VERSION) or an empty directory. */
static int remove_store(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return 0; /* nothing there */
	char version[4096];
	snprintf(version, sizeof version, "%s/VERSION", dir);
	int empty = 0;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		empty = 1;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = 0;
		closedir(d);
	}
	if (!empty && access(version, F_OK) != 0) {
		fprintf(stderr, "format: %s is neither empty nor a varve store\n", dir);
		return -1;
	}
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

static int64_t fixed_clock(void *ctx)
{
	(void)ctx;
	return CLOCK_MS;
}

/* The file as `xxd` prints it: "00000010: 0000 0000 ..." */
static int dump(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	unsigned char b[16];
	size_t n;
	unsigned long at = 0;
	while ((n = fread(b, 1, sizeof b, f)) > 0) {
		printf("%08lx:", at);
		for (size_t i = 0; i < n; i++)
			printf(i % 2 ? "%02x" : " %02x", b[i]);
		printf("\n");
		at += n;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: format DIR\n");
		return 2;
	}
	const char *dir = argv[1];
	if (remove_store(dir))
		return 1;
	varve_options o = VARVE_OPTIONS_INIT;
	o.clock_fn = fixed_clock;
	o.start_cleaner = 0; /* nothing but the batch and the close touch the files */
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	if ((rc = varve_topic_create(db, "t", NULL)))
		return fail("topic_create", rc);
	varve_header h = { "h", 1, "x", 1 };
	varve_record recs[2] = {
		{ .key = "k", .key_len = 1, .value = "v1", .value_len = 2, .headers = &h,
		  .header_count = 1, .timestamp = 1700000000000LL, .partition = 0 },
		{ .key = NULL, .value = NULL, .timestamp = 1700000000005LL, .partition = 0 },
	};
	if ((rc = varve_produce_batch(db, "t", recs, 2, NULL)))
		return fail("produce_batch", rc);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	char path[4200];
	snprintf(path, sizeof path, "%s/topics/t/0/00000000000000000000.log", dir);
	if (dump(path))
		return 1;
	snprintf(path, sizeof path, "%s/topics/t/0/recovery-point", dir);
	if (dump(path))
		return 1;
	return 0;
}
