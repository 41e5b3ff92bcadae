/* SPDX-License-Identifier: MIT */
/* golden.c -- see golden.h. */
#include "golden.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- vector files --------------------------------------------------------- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert(f, "cannot open vector file %s", path);
	cr_assert(fseek(f, 0, SEEK_END) == 0);
	long n = ftell(f);
	cr_assert(n >= 0 && n < (1 << 20), "vector file %s: bad size", path);
	rewind(f);
	char *t = malloc((size_t)n + 1);
	cr_assert(t);
	cr_assert(fread(t, 1, (size_t)n, f) == (size_t)n, "reading %s", path);
	t[n] = 0;
	fclose(f);
	return t;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Append the hex digits of one line (comment already cut) to out, or
 * only check them when out is NULL (a part the caller did not ask for). */
static void parse_hex_line(const char *line, const char *file, int lineno, uint8_t *out,
			   size_t *len, size_t cap)
{
	int high = -1;
	for (const char *p = line; *p; p++) {
		if (isspace((unsigned char)*p))
			continue;
		int v = hex_value((unsigned char)*p);
		cr_assert(v >= 0, "%s:%d: '%c' is not a hex digit", file, lineno, *p);
		if (high < 0) {
			high = v;
			continue;
		}
		if (out) {
			cr_assert(*len < cap, "%s: part too large", file);
			out[(*len)++] = (uint8_t)(high << 4 | v);
		}
		high = -1;
	}
	cr_assert(high < 0, "%s:%d: odd number of hex digits", file, lineno);
}

uint8_t *gv_load(const char *file, const char *part, size_t *len)
{
	const char *dir = getenv("VARVE_GOLDEN_DIR");
	cr_assert(dir && *dir, "VARVE_GOLDEN_DIR is not set (run through meson test)");
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	char *text = read_text(path);
	size_t cap = strlen(text) / 2 + 1;
	uint8_t *out = malloc(cap);
	cr_assert(out);
	*len = 0;
	int in_part = 0, found = 0, lineno = 0;
	for (char *line = text; line; ) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '[') {
			char *close = strchr(p, ']');
			cr_assert(close, "%s:%d: unterminated part name", path, lineno);
			*close = 0;
			in_part = strcmp(p + 1, part) == 0;
			cr_assert(!(in_part && found), "%s: part [%s] twice", path, part);
			found |= in_part;
			p = close + 1;
		}
		parse_hex_line(p, path, lineno, in_part ? out : NULL, len, cap);
		line = next;
	}
	free(text);
	cr_assert(found, "%s has no part [%s]", path, part);
	return out;
}

void gv_assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len,
		     const char *what)
{
	size_t n = got_len < want_len ? got_len : want_len;
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "%s: byte %zu is %02x, the vector has %02x", what, i,
			     got[i], want[i]);
	cr_assert_eq(got_len, want_len, "%s: %zu bytes, the vector has %zu", what, got_len,
		     want_len);
}

uint64_t gv_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint32_t gv_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- metadata segment reader ---------------------------------------------------- */

/* Unsigned LEB128 from [*p, end), at most 10 bytes. */
static uint64_t get_varint(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		cr_assert(*p < end, "varint runs past its record");
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	cr_assert_fail("varint longer than 10 bytes");
	return 0;
}

/* A blob: varint length + 1 (0 = null), then the bytes. */
static const uint8_t *get_blob(const uint8_t **p, const uint8_t *end, size_t *len)
{
	uint64_t l = get_varint(p, end);
	*len = 0;
	if (l == 0)
		return NULL;
	cr_assert(l - 1 <= (uint64_t)(end - *p), "blob runs past its record");
	const uint8_t *d = *p;
	*len = (size_t)(l - 1);
	*p += l - 1;
	return d;
}

static void add_record(gv_meta_log *log, const gv_meta_record *r)
{
	gv_meta_record *nr = realloc(log->recs, (log->n + 1) * sizeof *nr);
	cr_assert(nr);
	log->recs = nr;
	log->recs[log->n++] = *r;
}

/* The records section of one batch: record_count records, nothing else. */
static void read_records(gv_meta_log *log, const uint8_t *p, const uint8_t *end, int64_t base,
			 uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		uint64_t body = get_varint(&p, end);
		cr_assert(body <= (uint64_t)(end - p), "record %u runs past its batch", i);
		const uint8_t *rend = p + body;
		gv_meta_record r = { 0 };
		r.offset = base + (int64_t)get_varint(&p, rend);
		(void)get_varint(&p, rend); /* timestamp delta */
		r.key = get_blob(&p, rend, &r.key_len);
		r.value = get_blob(&p, rend, &r.value_len);
		uint64_t headers = get_varint(&p, rend);
		cr_assert_eq(headers, 0, "metadata records carry no headers");
		cr_assert(p == rend, "record %u: bytes left in its body", i);
		add_record(log, &r);
	}
	cr_assert(p == end, "bytes left after the batch's records");
}

void gv_meta_read(const char *path, gv_meta_log *out)
{
	memset(out, 0, sizeof *out);
	FILE *f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	cr_assert(fseek(f, 0, SEEK_END) == 0);
	long n = ftell(f);
	cr_assert(n >= 0 && n < (16 << 20));
	rewind(f);
	out->bytes = malloc((size_t)n + 1);
	cr_assert(out->bytes);
	cr_assert(fread(out->bytes, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	out->len = (size_t)n;
	size_t pos = 0;
	/* a store still open may have zeros past the last batch: free space */
	while (pos + 80 <= out->len && gv_le32(out->bytes + pos + 8) != 0) {
		const uint8_t *b = out->bytes + pos;
		uint32_t length = gv_le32(b + 12);
		cr_assert_eq(gv_le32(b + 8), 0x31565256u, "%s@%zu: magic", path, pos);
		cr_assert(length >= 80 && length <= out->len - pos, "%s@%zu: length", path, pos);
		cr_assert_eq(gv_le64(b), XXH3_64bits(b + 8, length - 8), "%s@%zu: checksum", path,
			     pos);
		cr_assert_eq(b[32] | b[33] << 8, 0, "%s@%zu: metadata batches are not compressed",
			     path, pos);
		cr_assert_eq(gv_le32(b + 36), length - 80, "%s@%zu: records_size", path, pos);
		read_records(out, b + 80, b + length, (int64_t)gv_le64(b + 16), gv_le32(b + 28));
		pos += length;
	}
	cr_assert(out->n > 0, "%s holds no record", path);
}

void gv_meta_free(gv_meta_log *log)
{
	free(log->bytes);
	free(log->recs);
	memset(log, 0, sizeof *log);
}

const gv_meta_record *gv_meta_last(const gv_meta_log *log, const void *key, size_t len)
{
	for (size_t i = log->n; i-- > 0;) {
		const gv_meta_record *r = &log->recs[i];
		if (r->key && r->key_len == len && memcmp(r->key, key, len) == 0)
			return r;
	}
	return NULL;
}
