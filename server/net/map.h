/* SPDX-License-Identifier: MIT */
/*
 * map.h -- an open-addressing hash map from 128-bit keys to one value (a
 * pointer or a count), for the network loop's three lookups: connection id
 * -> connection, timer id -> timer, peer address -> connections from it.
 *
 * Linear probing, at most half full, deletion by backward shift (no
 * tombstones, so a long-lived map never degrades). A value pointer returned
 * by vs_map_get/vs_map_put is valid until the next put or del.
 * Not thread-safe: only the loop thread uses its maps. Calls only libc.
 */
#ifndef VS_NET_MAP_H
#define VS_NET_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct vs_key {
	uint64_t hi, lo;
} vs_key;

typedef union vs_map_val {
	void *ptr;
	uint64_t n;
} vs_map_val;

typedef struct vs_map_slot {
	vs_key key;
	vs_map_val val;
	uint8_t used;
} vs_map_slot;

typedef struct vs_map {
	vs_map_slot *slots;
	size_t cap; /* 0 or a power of two */
	size_t count;
} vs_map;

static inline vs_key vs_key_u64(uint64_t v) { return (vs_key){ 0, v }; }

void vs_map_init(vs_map *m);
void vs_map_free(vs_map *m);
/* The value stored for k, or NULL. */
vs_map_val *vs_map_get(const vs_map *m, vs_key k);
/* The value for k, inserted zeroed if absent (*created says which); NULL
 * when growing the table fails (the map is unchanged). */
vs_map_val *vs_map_put(vs_map *m, vs_key k, int *created);
/* 1 if k was present and is removed, 0 otherwise. */
int vs_map_del(vs_map *m, vs_key k);

#endif
