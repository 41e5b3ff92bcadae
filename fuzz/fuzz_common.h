/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h -- helpers shared by the fuzz targets that build stores on
 * disk (fuzz_recovery, fuzz_index, fuzz_meta): an input cursor, scratch
 * directories under /dev/shm (or $TMPDIR), file writing, recursive removal,
 * and batch repair (recompute checksums so hostile contents get past them).
 *
 * Everything is static inline: each target includes it once and the project
 * builds with -Wmissing-prototypes.
 */
#ifndef VARVE_FUZZ_COMMON_H
#define VARVE_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "util.h"

/* ---- input cursor ------------------------------------------------------ */

typedef struct fz_in {
	const uint8_t *p;
	size_t n;
} fz_in;

/* Little-endian integer of `bytes` bytes; zeros once the input runs out. */
static inline uint64_t fz_take(fz_in *s, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		uint8_t b = 0;
		if (s->n) {
			b = *s->p++;
			s->n--;
		}
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

/* Up to len bytes of the input (fewer when it runs out). */
static inline const uint8_t *fz_bytes(fz_in *s, size_t len, size_t *got)
{
	if (len > s->n)
		len = s->n;
	const uint8_t *p = s->p;
	s->p += len;
	s->n -= len;
	*got = len;
	return p;
}

static inline void fz_fail(const char *target, const char *what)
{
	fprintf(stderr, "%s: invariant broken: %s\n", target, what);
	abort();
}

/* ---- files ------------------------------------------------------------- */

/* A fresh directory under /dev/shm (or $TMPDIR, or /tmp). */
static inline int fz_mkdtemp(char *out, size_t cap, const char *tag)
{
	const char *bases[3] = { "/dev/shm", getenv("TMPDIR"), "/tmp" };
	for (int i = 0; i < 3; i++) {
		if (!bases[i] || !*bases[i])
			continue;
		struct stat st;
		if (stat(bases[i], &st) || !S_ISDIR(st.st_mode) || access(bases[i], W_OK))
			continue;
		snprintf(out, cap, "%s/varve-%s-%ld-XXXXXX", bases[i], tag, (long)getpid());
		if (mkdtemp(out))
			return 0;
	}
	return -1;
}

static inline int fz_write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	const uint8_t *p = data;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	close(fd);
	return 0;
}

static inline int fz_mkdirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *c = tmp + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -1;
		*c = '/';
	}
	return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

/* rm -rf (no symlinks are followed: lstat). */
static inline void fz_rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (d) {
			struct dirent *e;
			while ((e = readdir(d))) {
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				char sub[4096];
				snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
				fz_rm_tree(sub);
			}
			closedir(d);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* ---- batches ------------------------------------------------------------ */

/* Walk buf as a sequence of batches. For every position where a header
 * parses, optionally give the batch base offset `*next` (renumber), and
 * recompute its checksum; stop at the first header that does not parse or a
 * batch that runs past the end. Returns the bytes covered. */
static inline size_t fz_repair_batches(uint8_t *buf, size_t n, int renumber, int64_t *next)
{
	size_t pos = 0;
	while (pos + VV_BATCH_HEADER_SIZE <= n) {
		vv_batch_header h;
		if (vv_batch_parse_header(buf + pos, n - pos, (uint32_t)(n - pos), &h))
			break;
		if (h.length > n - pos)
			break;
		if (renumber && next) {
			vv_store64(buf + pos + 16, (uint64_t)*next);
			*next += (int64_t)h.last_offset_delta + 1;
		}
		vv_store64(buf + pos, vv_batch_checksum(buf + pos, h.length));
		pos += h.length;
	}
	return pos;
}

#endif
