/* SPDX-License-Identifier: MIT */
/*
 * encode.h -- the text encodings every tool in tools/ reads or writes:
 * UTF-8 validation, JSON string literals, base64 (both ways), hex digits,
 * and text for messages with control bytes and broken UTF-8 escaped. One copy for
 * `varve` (cli_*.c) and `varve-dump` (dump_core.c, varve-dump.c).
 *
 * Header-only (static inline) because the fuzz targets compile
 * dump_core.c and cli_json.c each on their own (fuzz/meson.build): a
 * shared .c file would not be linked into them.
 *
 * Every function takes bytes with a length, never reads past it, and
 * writes to a stdio stream; none allocates.
 */
#ifndef VARVE_TOOLS_ENCODE_H
#define VARVE_TOOLS_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (n >= 1 bytes left), or 0 when
 * the bytes there are not one: no overlongs, no surrogates, <= U+10FFFF. */
static inline size_t enc_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7Fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* 1 if s[0..n) is valid UTF-8. */
static inline int enc_utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s;
	for (size_t i = 0; i < n;) {
		size_t l = enc_utf8_seq(p + i, n - i);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

/* A JSON string literal, quotes included. Valid UTF-8 passes through; a
 * byte that is not part of a valid sequence, and every control byte,
 * becomes an escape, so the output is always valid JSON in UTF-8 (lossy
 * for binary: use base64 for that). */
static inline void enc_json_string(FILE *f, const void *s, size_t n)
{
	const unsigned char *p = s;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t l = c >= 0x80 ? enc_utf8_seq(p + i, n - i) : 0;
		if (l) {
			fwrite(p + i, 1, l, f);
			i += l;
			continue;
		}
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (c < 0x20 || c >= 0x7F)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
		i++;
	}
	fputc('"', f);
}

/* Text for a terminal or a log line: valid UTF-8 and printable ASCII as
 * they are, control bytes and bytes of broken UTF-8 as \xNN. Keeps a
 * hostile name (a newline, an escape sequence) from forging output. */
static inline void enc_text(FILE *f, const void *s, size_t n)
{
	const unsigned char *p = s;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t l = c >= 0x80 ? enc_utf8_seq(p + i, n - i) : 0;
		if (l) {
			fwrite(p + i, 1, l, f);
			i += l;
		} else {
			if (c < 0x20 || c >= 0x7F)
				fprintf(f, "\\x%02x", c);
			else
				fputc(c, f);
			i++;
		}
	}
}

/* Base64 (RFC 4648, padded), no quotes. */
static inline void enc_base64(FILE *f, const void *s, size_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = s;
	char out[4];
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[0] = digits[v >> 18];
		out[1] = digits[(v >> 12) & 63];
		out[2] = digits[(v >> 6) & 63];
		out[3] = digits[v & 63];
		fwrite(out, 1, 4, f);
	}
	if (n - i == 0)
		return;
	uint32_t v = (uint32_t)p[i] << 16 | (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
	out[0] = digits[v >> 18];
	out[1] = digits[(v >> 12) & 63];
	out[2] = n - i == 2 ? digits[(v >> 6) & 63] : '=';
	out[3] = '=';
	fwrite(out, 1, 4, f);
}

/* Value of a hex digit, or -1. */
static inline int enc_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline int enc_base64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-') /* standard and URL-safe alphabets */
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decode base64 (padding optional, no whitespace) into out, which must
 * hold n / 4 * 3 + 3 bytes. 0, or -1 on a bad character or length. */
static inline int enc_base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = enc_base64_digit(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*out_len = o;
	return 0;
}

#endif
