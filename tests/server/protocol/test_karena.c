/* SPDX-License-Identifier: MIT */
/*
 * Tests of server/protocol/karena.c: zeroed and aligned allocations, the
 * cap and the per-request budget (refused before any malloc), overflowing
 * sizes, sticky errors until reset, big blocks, and reuse after reset.
 */
#include <criterion/criterion.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kt_util.h"

TestSuite(karena, .timeout = 10);

Test(karena, zeroed_aligned_and_distinct)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	uint8_t *prev = NULL;
	for (int i = 1; i < 200; i++) {
		uint8_t *p = vs_arena_alloc(&a, (size_t)i, 3);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % alignof(max_align_t), 0);
		for (int k = 0; k < 3 * i; k++)
			cr_assert_eq(p[k], 0);
		memset(p, 0xee, (size_t)(3 * i));
		cr_assert_neq(p, prev);
		prev = p;
	}
	cr_assert_eq(a.err, 0);
	vs_arena_free(&a);
}

Test(karena, zero_elements_is_not_an_error)
{
	vs_arena a;
	vs_arena_init(&a, 0);
	cr_assert_not_null(vs_arena_alloc(&a, 0, 16));
	cr_assert_eq(a.err, 0);
	cr_assert_eq(a.used, 0);
	cr_assert_null(vs_arena_alloc(&a, 1, 1), "a cap of 0 allows nothing else");
	cr_assert_eq(a.err, VS_KBUF_LIMIT);
	vs_arena_free(&a);
}

Test(karena, cap_is_never_exceeded)
{
	vs_arena a;
	vs_arena_init(&a, 1000);
	cr_assert_not_null(vs_arena_alloc(&a, 10, 96)); /* 960 */
	cr_assert_null(vs_arena_alloc(&a, 1, 48), "960 + 48 > 1000");
	cr_assert_eq(a.err, VS_KBUF_LIMIT);
	cr_assert_null(vs_arena_alloc(&a, 1, 1), "the error is sticky");
	vs_arena_reset(&a);
	cr_assert_eq(a.err, 0);
	cr_assert_eq(a.used, 0);
	cr_assert_not_null(vs_arena_alloc(&a, 1, 48), "reset forgets the error and the use");
	vs_arena_free(&a);
}

Test(karena, budget_limits_one_request)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 20);
	cr_assert_not_null(vs_arena_alloc(&a, 1, 100)); /* 112 with padding */
	vs_arena_set_budget(&a, 64);
	cr_assert_eq(a.budget, a.used + 64);
	cr_assert_not_null(vs_arena_alloc(&a, 1, 64));
	cr_assert_null(vs_arena_alloc(&a, 1, 1));
	cr_assert_eq(a.err, VS_KBUF_LIMIT);
	vs_arena_reset(&a);
	cr_assert_eq(a.budget, a.cap, "reset lifts the budget back to the cap");
	vs_arena_set_budget(&a, SIZE_MAX);
	cr_assert_eq(a.budget, a.cap, "the budget never passes the cap");
	vs_arena_free(&a);
}

Test(karena, huge_counts_fail_without_overflow)
{
	vs_arena a;
	vs_arena_init(&a, SIZE_MAX);
	cr_assert_null(vs_arena_alloc(&a, SIZE_MAX / 2, 4), "n * size overflows");
	cr_assert_eq(a.err, VS_KBUF_LIMIT);
	cr_assert_eq(a.used, 0);
	vs_arena_free(&a);
}

Test(karena, big_blocks_and_small_ones_mix)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 24);
	uint8_t *small1 = vs_arena_alloc(&a, 1, 32);
	uint8_t *big = vs_arena_alloc(&a, 1, 3 * VS_ARENA_CHUNK);
	uint8_t *small2 = vs_arena_alloc(&a, 1, 32);
	cr_assert(small1 && big && small2);
	memset(big, 1, 3 * VS_ARENA_CHUNK);
	memset(small1, 2, 32);
	memset(small2, 3, 32);
	/* the small allocations kept sharing the first chunk */
	cr_assert_eq(small2, small1 + 32);
	cr_assert_eq(big[3 * VS_ARENA_CHUNK - 1], 1);
	cr_assert_eq(small1[31], 2);
	vs_arena_free(&a);
}

Test(karena, reset_reuses_memory_and_zeroes_it)
{
	vs_arena a;
	vs_arena_init(&a, 1 << 24);
	uint8_t *p = vs_arena_alloc(&a, 1, 256);
	memset(p, 0xff, 256);
	for (int i = 0; i < 10; i++)
		cr_assert_not_null(vs_arena_alloc(&a, 1, VS_ARENA_CHUNK)); /* more chunks */
	vs_arena_reset(&a);
	uint8_t *q = vs_arena_alloc(&a, 1, 256);
	cr_assert_eq(q, p, "the kept chunk is reused from its start");
	for (int i = 0; i < 256; i++)
		cr_assert_eq(q[i], 0);
	vs_arena_free(&a);
}
