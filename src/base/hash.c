/* SPDX-License-Identifier: MIT */
/*
 * hash.c -- picks XXH3's AVX2 build (hash_avx2.c, compiled with -mavx2 when
 * the compiler targets x86-64) when the CPU has AVX2, otherwise libxxhash.
 */
#include <stdatomic.h>
#include <xxhash.h>

#include "hash.h"

#ifdef VV_HASH_AVX2
uint64_t vv_hash64_avx2(const void *p, size_t n);
#endif

enum { PICK_UNKNOWN, PICK_GENERIC, PICK_AVX2 };
static atomic_int pick = PICK_UNKNOWN;

/* Racing first calls both compute the same answer: no lock needed. */
static int choose(void)
{
	int c = atomic_load_explicit(&pick, memory_order_relaxed);
	if (c != PICK_UNKNOWN)
		return c;
	c = PICK_GENERIC;
#ifdef VV_HASH_AVX2
	__builtin_cpu_init(); /* a shared library may run before the CPU model is filled in */
	if (__builtin_cpu_supports("avx2"))
		c = PICK_AVX2;
#endif
	atomic_store_explicit(&pick, c, memory_order_relaxed);
	return c;
}

uint64_t vv_hash64(const void *p, size_t n)
{
#ifdef VV_HASH_AVX2
	if (choose() == PICK_AVX2)
		return vv_hash64_avx2(p, n);
#endif
	return XXH3_64bits(p, n);
}

const char *vv_hash_impl(void) { return choose() == PICK_AVX2 ? "avx2" : "generic"; }
