/* SPDX-License-Identifier: MIT */
/*
 * test_map.c -- server/net/map.c: lookups, growth, and deletion by
 * backward shift checked against a plain array under random operations.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "net/map.h"

Test(map, empty_map_finds_nothing)
{
	vs_map m;
	vs_map_init(&m);
	cr_assert_null(vs_map_get(&m, vs_key_u64(1)));
	cr_assert_eq(vs_map_del(&m, vs_key_u64(1)), 0);
	vs_map_free(&m);
}

Test(map, put_get_del)
{
	vs_map m;
	vs_map_init(&m);
	int created;
	vs_map_val *v = vs_map_put(&m, vs_key_u64(7), &created);
	cr_assert(v && created);
	cr_assert_eq(v->n, 0, "a new value starts zeroed");
	v->n = 70;
	v = vs_map_put(&m, vs_key_u64(7), &created);
	cr_assert(v && !created);
	cr_assert_eq(v->n, 70);
	/* keys differing only in the high half are different keys */
	v = vs_map_put(&m, (vs_key){ 1, 7 }, &created);
	cr_assert(created);
	v->n = 71;
	cr_assert_eq(vs_map_get(&m, vs_key_u64(7))->n, 70);
	cr_assert_eq(vs_map_get(&m, (vs_key){ 1, 7 })->n, 71);
	cr_assert_eq(m.count, 2);
	cr_assert_eq(vs_map_del(&m, vs_key_u64(7)), 1);
	cr_assert_eq(vs_map_del(&m, vs_key_u64(7)), 0);
	cr_assert_null(vs_map_get(&m, vs_key_u64(7)));
	cr_assert_eq(vs_map_get(&m, (vs_key){ 1, 7 })->n, 71);
	vs_map_free(&m);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random puts and deletes over a small key space (so runs collide and
 * deletions shift entries), checked against an array after every step. */
Test(map, random_operations_match_a_reference)
{
	enum { KEYS = 512, STEPS = 60000 };
	static uint64_t ref[KEYS];
	static int present[KEYS];
	vs_map m;
	vs_map_init(&m);
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t count = 0;
	for (int step = 0; step < STEPS; step++) {
		uint64_t r = rnd(&seed);
		unsigned k = (unsigned)(r % KEYS);
		vs_key key = { k & 3, k * 0x100000001ULL };
		if ((r >> 32) % 3 == 0) {
			cr_assert_eq(vs_map_del(&m, key), present[k]);
			count -= (size_t)present[k];
			present[k] = 0;
		} else {
			int created;
			vs_map_val *v = vs_map_put(&m, key, &created);
			cr_assert(v);
			cr_assert_eq(created, !present[k]);
			count += (size_t)created;
			present[k] = 1;
			v->n = ref[k] = r;
		}
		cr_assert_eq(m.count, count);
		cr_assert_leq(m.count * 2, m.cap, "more than half full");
		if (step % 1000 == 0) {
			for (unsigned i = 0; i < KEYS; i++) {
				vs_map_val *v = vs_map_get(&m, (vs_key){ i & 3, i * 0x100000001ULL });
				cr_assert_eq(v != NULL, present[i], "key %u at step %d", i, step);
				if (v)
					cr_assert_eq(v->n, ref[i]);
			}
		}
	}
	vs_map_free(&m);
}

Test(map, many_sequential_ids)
{
	vs_map m;
	vs_map_init(&m);
	for (uint64_t id = 1; id <= 100000; id++) {
		int created;
		vs_map_val *v = vs_map_put(&m, vs_key_u64(id), &created);
		cr_assert(v && created);
		v->ptr = (void *)(uintptr_t)id;
	}
	for (uint64_t id = 1; id <= 100000; id += 2)
		cr_assert_eq(vs_map_del(&m, vs_key_u64(id)), 1);
	for (uint64_t id = 1; id <= 100000; id++) {
		vs_map_val *v = vs_map_get(&m, vs_key_u64(id));
		if (id % 2)
			cr_assert_null(v);
		else
			cr_assert_eq((uintptr_t)v->ptr, id);
	}
	cr_assert_eq(m.count, 50000);
	vs_map_free(&m);
}
