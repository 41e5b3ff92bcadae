/* SPDX-License-Identifier: MIT */
/*
 * cli_json.h -- the JSON reader of the varve command line: a parser for one
 * value (a line of `produce --json`). The writers it pairs with (JSON
 * strings, base64, UTF-8 checks) are in encode.h, shared with varve-dump.
 * No global state; the parser takes bytes with a length, bounds its
 * nesting, and is safe on any input (a fuzz target can call
 * cli_json_fuzz_one).
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

/** Fuzz entry point: parse, walk, and re-encode with the encode.h writers
 *  (JSON strings, base64 both ways, UTF-8 checks). Returns 0. */
int cli_json_fuzz_one(const uint8_t *data, size_t size);

#endif
