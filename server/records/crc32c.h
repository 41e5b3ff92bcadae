/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h -- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of Kafka's record batch v2: it covers a batch from its
 * attributes field to its end.
 *
 * The value passed in and returned is the finished CRC (the pre- and
 * post-inversion happen inside), so a buffer can be checksummed in pieces:
 * vs_crc32c(vs_crc32c(0, a, na), b, nb) == vs_crc32c(0, a||b, na + nb).
 * Start with 0. Check value: vs_crc32c(0, "123456789", 9) == 0xE3069283.
 *
 * Two implementations give the same results: a portable table-driven one
 * (slicing-by-8) and one with the SSE4.2 crc32 instruction. vs_crc32c picks
 * the instruction when the CPU has it (checked at run time).
 */
#ifndef VS_CRC32C_H
#define VS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t vs_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable version, always available. */
uint32_t vs_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 if this CPU has the crc32 instruction (x86-64 with SSE4.2). */
int vs_crc32c_hw_available(void);

/* The instruction version; falls back to vs_crc32c_sw without it. */
uint32_t vs_crc32c_hw(uint32_t crc, const void *buf, size_t len);

#endif
