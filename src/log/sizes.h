/* SPDX-License-Identifier: MIT */
/*
 * sizes.h -- the segment size list a clean close leaves in each partition
 * directory ("segment-sizes"), so the next clean open needs no stat per
 * segment (with 10,000 segments those stats were most of the open time).
 *
 * The list is advisory and written without an fsync. It is trusted only if
 * its checksum matches, its nonce equals the one in the store's CLEAN file
 * (fsynced after every list was written, so a list from an older close or a
 * torn one never passes), and its bases are exactly the segment logs the
 * directory holds. Anything else: stat each segment as before.
 */
#ifndef VV_SIZES_H
#define VV_SIZES_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define VV_SIZES_FILE "segment-sizes"

/* Write the list (best effort: the caller ignores failures). */
int vv_sizes_write(const vv_io_methods *io, const char *dir, uint64_t nonce,
		   const int64_t *bases, const uint64_t *sizes, size_t n, unsigned mode);

/* Fill sizes[0..n) if the list in dir carries `nonce` and names exactly
 * bases[0..n). 0 if used; nonzero (error detail cleared) if not. */
int vv_sizes_read(const vv_io_methods *io, const char *dir, uint64_t nonce, const int64_t *bases,
		  size_t n, uint64_t *sizes);

#endif
