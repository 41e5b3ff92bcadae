/* SPDX-License-Identifier: MIT */
/*
 * cli_json.h -- the little JSON the varve command line needs: a parser for
 * one value (a line of `produce --json`), string and base64 writers for
 * `consume --json`, UTF-8 validation. No global state; the parser takes
 * bytes with a length, bounds its nesting, and is safe on any input (a fuzz
 * target can call cli_json_fuzz_one).
 */
#ifndef VARVE_CLI_JSON_H
#define VARVE_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cj_type { CJ_NULL, CJ_FALSE, CJ_TRUE, CJ_NUMBER, CJ_STRING, CJ_ARRAY, CJ_OBJECT } cj_type;

typedef struct cj_value {
	cj_type type;
	char *str;    /* CJ_STRING: decoded bytes (NUL-terminated, may hold NULs); CJ_NUMBER: text */
	size_t len;
	struct cj_value *items; /* CJ_ARRAY elements, CJ_OBJECT values */
	char **keys;            /* CJ_OBJECT keys (decoded, NUL-terminated) */
	size_t *klens;
	size_t n;
} cj_value;

#define CJ_MAX_DEPTH 32

/** Parse exactly one JSON value (surrounding whitespace allowed). On error
 *  returns -1 and writes a message (with the byte position) to err. */
int cj_parse(const char *s, size_t n, cj_value *out, char *err, size_t errcap);
void cj_free(cj_value *v);
/** Value of the first member named key, or NULL. */
const cj_value *cj_get(const cj_value *obj, const char *key);

/** 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int cj_utf8_valid(const void *s, size_t n);
/** Write a JSON string literal (with quotes). Bytes that are not valid UTF-8
 *  are written as \u00XX (lossy: use base64 for binary). */
void cj_write_string(FILE *f, const void *s, size_t n);
/** Write base64 (RFC 4648, padded) inside quotes. */
void cj_write_base64(FILE *f, const void *s, size_t n);
/** Decode base64 (padding optional, no whitespace) into out, which must
 *  hold n / 4 * 3 + 3 bytes. Returns 0, or -1 on a bad character/length. */
int cj_base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len);

/** Fuzz entry point: parse, walk, and re-encode. Returns 0. */
int cli_json_fuzz_one(const uint8_t *data, size_t size);

#endif
