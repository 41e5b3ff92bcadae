/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c -- CRC-32C for Kafka record batches (see crc32c.h).
 *
 * Portable path: slicing-by-8. Eight 256-entry tables let the loop fold
 * eight input bytes per step with eight independent lookups; table k maps a
 * byte to its CRC contribution when k more zero bytes follow it. The tables
 * are built once (pthread_once), so concurrent first calls are safe.
 *
 * Hardware path: the SSE4.2 crc32 instruction computes exactly this CRC
 * (same polynomial, same reflection), eight bytes per instruction. It is
 * compiled with a target attribute, so the file needs no -msse4.2, and used
 * only when __builtin_cpu_supports says the CPU has it.
 *
 * Loads go through memcpy or byte assembly: input may sit at any address.
 */
#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VS_CRC32C_X86 1
#include <nmmintrin.h>
#else
#define VS_CRC32C_X86 0
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int bit = 0; bit < 8; bit++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (int k = 1; k < 8; k++)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t prev = crc_table[k - 1][i];
			crc_table[k][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
		}
}

/* Little-endian 64-bit load from any address, on any host byte order. */
static inline uint64_t load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint32_t vs_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_table_once, crc_table_build);
	const uint8_t *p = buf;
	uint32_t c = ~crc;
	while (len >= 8) {
		uint64_t v = load_le64(p) ^ c;
		c = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
		    crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
		    crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
		    crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
	return ~c;
}

#if VS_CRC32C_X86

int vs_crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = (uint32_t)~crc;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8); /* x86 is little-endian, as the CRC wants */
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = _mm_crc32_u8(c32, *p++);
	return ~c32;
}

uint32_t vs_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	if (!vs_crc32c_hw_available())
		return vs_crc32c_sw(crc, buf, len);
	return crc_hw(crc, buf, len);
}

uint32_t vs_crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* __builtin_cpu_supports reads a flag set up before main: cheap */
	if (vs_crc32c_hw_available())
		return crc_hw(crc, buf, len);
	return vs_crc32c_sw(crc, buf, len);
}

#else

int vs_crc32c_hw_available(void) { return 0; }

uint32_t vs_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return vs_crc32c_sw(crc, buf, len);
}

uint32_t vs_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return vs_crc32c_sw(crc, buf, len);
}

#endif
