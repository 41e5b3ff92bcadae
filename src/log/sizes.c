/* SPDX-License-Identifier: MIT */
/* sizes.c -- the clean-close segment size list (see sizes.h, docs/FORMAT.md). */
#include <stdio.h>
#include <xxhash.h>

#include "io.h"
#include "sizes.h"
#include "util.h"

#define SIZES_MAGIC 0x5a535256u /* "VRSZ" on disk */
#define SIZES_VERSION 1u
#define SIZES_HEADER 24u        /* magic, version, nonce, count, reserved */
#define SIZES_ENTRY 16u         /* base, size */
#define SIZES_MAX_ENTRIES (1u << 22)

int vv_sizes_write(const vv_io_methods *io, const char *dir, uint64_t nonce,
		   const int64_t *bases, const uint64_t *sizes, size_t n, unsigned mode)
{
	if (n > SIZES_MAX_ENTRIES)
		return vv_error_set(VARVE_ETOOBIG, 0, "too many segments for a size list");
	size_t len = SIZES_HEADER + n * SIZES_ENTRY + 8;
	uint8_t *b = vv_malloc(len);
	if (!b)
		return vv_error_set(VARVE_ENOMEM, 0, "segment size list");
	vv_store32(b, SIZES_MAGIC);
	vv_store32(b + 4, SIZES_VERSION);
	vv_store64(b + 8, nonce);
	vv_store32(b + 16, (uint32_t)n);
	vv_store32(b + 20, 0);
	for (size_t i = 0; i < n; i++) {
		vv_store64(b + SIZES_HEADER + i * SIZES_ENTRY, (uint64_t)bases[i]);
		vv_store64(b + SIZES_HEADER + i * SIZES_ENTRY + 8, sizes[i]);
	}
	vv_store64(b + len - 8, XXH3_64bits(b, len - 8));
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, VV_SIZES_FILE);
	vv_file *f = NULL;
	int rc = vv_io_open(io, path, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, mode, &f);
	if (rc < 0)
		goto out;
	rc = vv_io_pwrite(f, b, len, 0);
	if (rc < 0)
		goto out;
	rc = vv_io_close(f);
	f = NULL;
out:
	if (f)
		(void)f->io->close(f); /* the write's failure is the one reported */
	vv_free(b);
	return rc;
}

int vv_sizes_read(const vv_io_methods *io, const char *dir, uint64_t nonce, const int64_t *bases,
		  size_t n, uint64_t *sizes)
{
	if (nonce == 0 || n > SIZES_MAX_ENTRIES)
		return -1;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, VV_SIZES_FILE);
	uint8_t *b;
	size_t len;
	if (vv_io_read_small(io, path, SIZES_HEADER + SIZES_MAX_ENTRIES * SIZES_ENTRY + 8, &b, &len)) {
		vv_error_clear();
		return -1;
	}
	int ok = len == SIZES_HEADER + n * SIZES_ENTRY + 8 && vv_load32(b) == SIZES_MAGIC &&
		 vv_load32(b + 4) == SIZES_VERSION && vv_load64(b + 8) == nonce &&
		 vv_load32(b + 16) == (uint32_t)n &&
		 vv_load64(b + len - 8) == XXH3_64bits(b, len - 8);
	for (size_t i = 0; ok && i < n; i++) {
		const uint8_t *e = b + SIZES_HEADER + i * SIZES_ENTRY;
		ok = vv_load64(e) == (uint64_t)bases[i] && vv_load64(e + 8) <= UINT32_MAX;
		sizes[i] = vv_load64(e + 8);
	}
	vv_free(b);
	return ok ? 0 : -1;
}
