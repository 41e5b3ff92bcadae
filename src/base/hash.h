/* SPDX-License-Identifier: MIT */
/*
 * hash.h -- XXH3-64 of a buffer, the fastest way this CPU allows.
 *
 * The batch checksum hashes every byte appended and every byte read the
 * first time; on x86-64 with AVX2 the vector code hashes about three times
 * as fast as the SSE2 code a distribution's libxxhash is built with. XXH3
 * is defined by its output, so both paths give the same 64 bits (a unit
 * test compares them); the choice is made once per process.
 */
#ifndef VV_HASH_H
#define VV_HASH_H

#include <stddef.h>
#include <stdint.h>

/* XXH3_64bits(p, n), seed 0. */
uint64_t vv_hash64(const void *p, size_t n);

/* The implementation vv_hash64 uses: "avx2" or "generic". */
const char *vv_hash_impl(void);

#endif
