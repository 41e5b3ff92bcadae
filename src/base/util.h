/* SPDX-License-Identifier: MIT */
/*
 * util.h -- small helpers shared by every module: allocation with a test
 * hook, little-endian loads and stores, varints and the clock. The error
 * style and its functions are error.h's (included here).
 */
#ifndef VV_UTIL_H
#define VV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h" /* the error style; every user of util.h had it from here */
#include "varve.h"

#define VV_HIDDEN __attribute__((visibility("hidden")))

/* Allocation goes through here so tests can fail the Nth allocation. */
void *vv_malloc(size_t n);
void *vv_calloc(size_t count, size_t size);
void *vv_realloc(void *p, size_t n);
char *vv_strdup(const char *s);
void vv_free(void *p);

/* Test hook: fail allocation number `countdown` (1 = the next one); when
 * persistent, every later one fails too. countdown 0 disables. */
void vv_alloc_fail_set(long countdown, int persistent);
long vv_alloc_count(void);

/* Little-endian loads and stores. memcpy compiles to one move; the byte
 * order is fixed on disk, so big-endian hosts swap. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VV_LE16(x) __builtin_bswap16(x)
#define VV_LE32(x) __builtin_bswap32(x)
#define VV_LE64(x) __builtin_bswap64(x)
#else
#define VV_LE16(x) (x)
#define VV_LE32(x) (x)
#define VV_LE64(x) (x)
#endif

static inline uint16_t vv_load16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return VV_LE16(v);
}
static inline uint32_t vv_load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return VV_LE32(v);
}
static inline uint64_t vv_load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return VV_LE64(v);
}
static inline void vv_store16(uint8_t *p, uint16_t v)
{
	v = VV_LE16(v);
	memcpy(p, &v, 2);
}
static inline void vv_store32(uint8_t *p, uint32_t v)
{
	v = VV_LE32(v);
	memcpy(p, &v, 4);
}
static inline void vv_store64(uint8_t *p, uint64_t v)
{
	v = VV_LE64(v);
	memcpy(p, &v, 8);
}

/* Unsigned LEB128 varints, at most 10 bytes. */
static inline size_t vv_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}
static inline size_t vv_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}
/* Decode from [*p, end). Returns 0 on success, -1 if truncated or overlong. */
static inline int vv_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	const uint8_t *q = *p;
	if (__builtin_expect(q < end && *q < 0x80, 1)) { /* one byte: the common case */
		*out = *q;
		*p = q + 1;
		return 0;
	}
	if (end - q >= 2 && q[1] < 0x80) { /* two bytes: offset deltas past 127 */
		*out = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
		*p = q + 2;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (q >= end)
			return -1;
		uint8_t b = *q++;
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*p = q;
			*out = v;
			return 0;
		}
	}
	return -1;
}
static inline uint64_t vv_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t vv_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Wall clock and monotonic clock in ms / ns. */
int64_t vv_now_ms(void);
uint64_t vv_mono_ns(void);

#endif
