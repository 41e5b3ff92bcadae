/* SPDX-License-Identifier: MIT */
/*
 * map.c -- the loop's hash map (see map.h).
 */
#include <stdlib.h>

#include "map.h"

#define VS_MAP_MIN_CAP 16

/* splitmix64's finalizer: sequential ids spread over the whole table. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static size_t home(const vs_map *m, vs_key k)
{
	return (size_t)(mix(k.hi ^ mix(k.lo)) & (m->cap - 1));
}

static int key_eq(vs_key a, vs_key b) { return a.hi == b.hi && a.lo == b.lo; }

void vs_map_init(vs_map *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}

void vs_map_free(vs_map *m)
{
	free(m->slots);
	vs_map_init(m);
}

/* Index of k's slot, or of the empty slot where it would go. */
static size_t probe(const vs_map *m, vs_key k)
{
	size_t i = home(m, k);
	while (m->slots[i].used && !key_eq(m->slots[i].key, k))
		i = (i + 1) & (m->cap - 1);
	return i;
}

vs_map_val *vs_map_get(const vs_map *m, vs_key k)
{
	if (m->count == 0)
		return NULL;
	size_t i = probe(m, k);
	return m->slots[i].used ? &m->slots[i].val : NULL;
}

static int grow(vs_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : VS_MAP_MIN_CAP;
	if (ncap > SIZE_MAX / sizeof(vs_map_slot))
		return -1;
	vs_map_slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -1;
	vs_map old = *m;
	m->slots = ns;
	m->cap = ncap;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.slots[i].used)
			m->slots[probe(m, old.slots[i].key)] = old.slots[i];
	}
	free(old.slots);
	return 0;
}

vs_map_val *vs_map_put(vs_map *m, vs_key k, int *created)
{
	*created = 0;
	if (m->count > 0) {
		size_t i = probe(m, k);
		if (m->slots[i].used)
			return &m->slots[i].val;
	}
	/* keep the table at most half full so probes stay short */
	if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
		return NULL;
	size_t i = probe(m, k);
	m->slots[i].used = 1;
	m->slots[i].key = k;
	m->slots[i].val.n = 0;
	m->count++;
	*created = 1;
	return &m->slots[i].val;
}

int vs_map_del(vs_map *m, vs_key k)
{
	if (m->count == 0)
		return 0;
	size_t mask = m->cap - 1;
	size_t hole = probe(m, k);
	if (!m->slots[hole].used)
		return 0;
	/* Backward shift: move up every later entry of the run whose home
	 * does not lie (cyclically) between the hole and itself. */
	for (size_t j = (hole + 1) & mask; m->slots[j].used; j = (j + 1) & mask) {
		size_t h = home(m, m->slots[j].key);
		int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
		if (!stays) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].used = 0;
	m->count--;
	return 1;
}
