/* SPDX-License-Identifier: MIT */
/*
 * hash_avx2.c -- XXH3-64 compiled for AVX2 (this file alone is built with
 * -mavx2; hash.c calls it only on a CPU that has AVX2). The header's code is
 * inlined here, so nothing of libxxhash's own build is involved.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stddef.h>
#include <stdint.h>

uint64_t vv_hash64_avx2(const void *p, size_t n);

uint64_t vv_hash64_avx2(const void *p, size_t n) { return XXH3_64bits(p, n); }
