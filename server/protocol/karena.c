/* SPDX-License-Identifier: MIT */
/*
 * karena.c -- the per-request bump allocator (see karena.h). Allocations
 * are carved from chunks of VS_ARENA_CHUNK bytes; a request larger than a
 * chunk gets a chunk of its own. Limits are checked on the bytes handed out,
 * before any malloc, so a refused request costs nothing.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "karena.h"
#include "kbuf.h"

struct vs_arena_chunk {
	vs_arena_chunk *next;
	size_t cap, off;
	alignas(max_align_t) unsigned char data[];
};

#define ALIGN_UP(n) (((n) + (alignof(max_align_t) - 1)) & ~(alignof(max_align_t) - 1))

void vs_arena_init(vs_arena *a, size_t cap)
{
	memset(a, 0, sizeof *a);
	a->cap = cap;
	a->budget = cap;
}

static void free_chunks(vs_arena_chunk *c)
{
	while (c) {
		vs_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
}

void vs_arena_free(vs_arena *a)
{
	free_chunks(a->chunks);
	memset(a, 0, sizeof *a);
}

void vs_arena_reset(vs_arena *a)
{
	/* keep one standard chunk: most requests fit in it */
	vs_arena_chunk *keep = NULL, *c = a->chunks;
	while (c) {
		vs_arena_chunk *next = c->next;
		if (!keep && c->cap == VS_ARENA_CHUNK) {
			keep = c;
			keep->next = NULL;
			keep->off = 0;
		} else {
			free(c);
		}
		c = next;
	}
	a->chunks = keep;
	a->used = 0;
	a->budget = a->cap;
	a->err = 0;
}

void vs_arena_set_budget(vs_arena *a, size_t extra)
{
	size_t b = extra > SIZE_MAX - a->used ? SIZE_MAX : a->used + extra;
	a->budget = b < a->cap ? b : a->cap;
}

static vs_arena_chunk *new_chunk(vs_arena *a, size_t need)
{
	size_t cap = need > VS_ARENA_CHUNK ? need : VS_ARENA_CHUNK;
	vs_arena_chunk *c = malloc(sizeof *c + cap);
	if (!c) {
		a->err = VS_KBUF_NOMEM;
		return NULL;
	}
	c->cap = cap;
	c->off = 0;
	c->next = a->chunks;
	a->chunks = c;
	return c;
}

void *vs_arena_alloc(vs_arena *a, size_t n, size_t size)
{
	static max_align_t nothing;
	if (a->err)
		return NULL;
	if (n == 0 || size == 0)
		return &nothing;
	if (n > (SIZE_MAX / 2) / size) {
		a->err = VS_KBUF_LIMIT;
		return NULL;
	}
	size_t bytes = ALIGN_UP(n * size);
	if (a->used > a->budget || bytes > a->budget - a->used) {
		a->err = VS_KBUF_LIMIT;
		return NULL;
	}
	vs_arena_chunk *c = a->chunks;
	if (!c || c->cap - c->off < bytes) {
		/* a big block goes in a chunk of its own, behind the current one,
		 * so the rest of the current chunk stays usable */
		if (c && bytes > VS_ARENA_CHUNK / 2 && c->cap - c->off >= VS_ARENA_CHUNK / 4) {
			vs_arena_chunk *big = new_chunk(a, bytes);
			if (!big)
				return NULL;
			a->chunks = c;
			big->next = c->next;
			c->next = big;
			big->off = bytes;
			a->used += bytes;
			memset(big->data, 0, bytes);
			return big->data;
		}
		if (!(c = new_chunk(a, bytes)))
			return NULL;
	}
	void *p = c->data + c->off;
	c->off += bytes;
	a->used += bytes;
	memset(p, 0, bytes);
	return p;
}
