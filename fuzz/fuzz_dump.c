/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dump -- varve-dump's parsers (tools/dump_core.c) on arbitrary bytes.
 *
 * Input: byte 0 picks the kind (log, meta, index, timeindex,
 * recovery-point, or a whole segment: log + index + time index checked
 * against each other), byte 1 the options (--records, --verify, --json,
 * --quiet, the key/value encoding, a small --max-batch). For a segment,
 * two u16le lengths follow, then the index bytes, the time index bytes,
 * and the log is the rest.
 *
 * Beyond "no crash, no out-of-bounds read" (ASan), the output itself is
 * checked: with --json every line must be one valid JSON object in valid
 * UTF-8; in text mode every byte must be printable ASCII or a newline
 * (keys, values and names are escaped). Violations abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump_core.h"

/* ---- a strict little JSON checker ---------------------------------------- */

/* The checker is not what is being fuzzed: keep its branches out of the
 * coverage map, or the fuzzer spends its time on JSON syntax features. */
#if defined(__clang__)
#define NO_COV __attribute__((no_sanitize("coverage")))
#else
#define NO_COV
#endif

typedef struct jp {
	const unsigned char *p, *end;
	int depth;
} jp;

NO_COV static void ws(jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

NO_COV static int lit(jp *j, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, s, n))
		return -1;
	j->p += n;
	return 0;
}

NO_COV static int hexd(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

NO_COV static int utf8_seq(jp *j)
{
	unsigned char c = *j->p;
	size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
	if (!len || (size_t)(j->end - j->p) < len)
		return -1;
	for (size_t k = 1; k < len; k++)
		if ((j->p[k] & 0xc0) != 0x80)
			return -1;
	unsigned c1 = j->p[1];
	if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
	    (c == 0xf4 && c1 >= 0x90))
		return -1;
	j->p += len;
	return 0;
}

NO_COV static int str(jp *j)
{
	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p;
		if (c == '"') {
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return -1;
			c = *j->p++;
			if (c == 'u') {
				if (j->end - j->p < 4)
					return -1;
				for (int k = 0; k < 4; k++)
					if (!hexd(j->p[k]))
						return -1;
				j->p += 4;
			} else if (!strchr("\"\\/bfnrt", c)) {
				return -1;
			}
			continue;
		}
		if (c >= 0x80) {
			if (utf8_seq(j))
				return -1;
			continue;
		}
		j->p++;
	}
	return -1;
}

NO_COV static int num(jp *j)
{
	const unsigned char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return -1;
	if (*j->p == '0') {
		j->p++;
	} else if (*j->p >= '1' && *j->p <= '9') {
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	} else {
		return -1;
	}
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		const unsigned char *d = j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == d)
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		const unsigned char *d = j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == d)
			return -1;
	}
	return j->p > s ? 0 : -1;
}

static int value(jp *j);

NO_COV static int object(jp *j)
{
	j->p++; /* { */
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		ws(j);
		if (str(j))
			return -1;
		ws(j);
		if (j->p >= j->end || *j->p++ != ':')
			return -1;
		if (value(j))
			return -1;
		ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p == '}') {
			j->p++;
			return 0;
		}
		return -1;
	}
}

NO_COV static int array(jp *j)
{
	j->p++; /* [ */
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (value(j))
			return -1;
		ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p == ']') {
			j->p++;
			return 0;
		}
		return -1;
	}
}

NO_COV static int value(jp *j)
{
	ws(j);
	if (j->p >= j->end || ++j->depth > 32)
		return -1;
	int rc;
	switch (*j->p) {
	case '{': rc = object(j); break;
	case '[': rc = array(j); break;
	case '"': rc = str(j); break;
	case 't': rc = lit(j, "true"); break;
	case 'f': rc = lit(j, "false"); break;
	case 'n': rc = lit(j, "null"); break;
	default: rc = num(j); break;
	}
	j->depth--;
	return rc;
}

NO_COV static void check_output(const char *buf, size_t n, int json)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + n;
	if (n && end[-1] != '\n') {
		fprintf(stderr, "fuzz_dump: output does not end with a newline\n");
		abort();
	}
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		if (json) {
			jp j = { p, nl, 0 };
			ws(&j);
			if (j.p >= j.end || *j.p != '{' || value(&j) || (ws(&j), j.p != j.end)) {
				fprintf(stderr, "fuzz_dump: invalid JSON line: %.*s\n", (int)(nl - p),
					(const char *)p);
				abort();
			}
		} else {
			for (const unsigned char *q = p; q < nl; q++) {
				if (*q < 0x20 || *q >= 0x7f) {
					fprintf(stderr, "fuzz_dump: unescaped byte 0x%02x in text output\n", *q);
					abort();
				}
			}
		}
		p = nl + 1;
	}
}

/* ---- the target ------------------------------------------------------------ */

static const char *const kinds[] = { "log", "meta", "index", "timeindex", "recovery-point" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned sel = data[0] % 6, fl = data[1];
	data += 2;
	size -= 2;
	dump_opts o;
	memset(&o, 0, sizeof o);
	o.records = fl & 1;
	o.verify = (fl >> 1) & 1;
	o.json = (fl >> 2) & 1;
	o.quiet = (fl >> 3) & 1;
	o.enc = (dump_enc)(((fl >> 4) & 3) % 3);
	/* a small cap exercises the "over the limit" paths */
	o.max_batch = (fl & 0x40) ? 4096 : 0;

	char *buf = NULL;
	size_t blen = 0;
	FILE *out = open_memstream(&buf, &blen);
	if (!out)
		return 0;
	int rc;
	if (sel < 5) {
		rc = dump_buffer(data, size, kinds[sel], &o, out);
	} else {
		size_t il = 0, tl = 0;
		if (size >= 4) {
			il = (size_t)(data[0] | data[1] << 8);
			tl = (size_t)(data[2] | data[3] << 8);
			data += 4;
			size -= 4;
		}
		if (il > size)
			il = size;
		if (tl > size - il)
			tl = size - il;
		const uint8_t *idx = data, *tidx = data + il, *log = data + il + tl;
		size_t ll = size - il - tl;
		int64_t base = (fl & 0x80) ? 1000 : 0;
		rc = dump_segment_buffers(log, ll, idx, il, tidx, tl, base, &o, out);
	}
	fclose(out);
	if (rc != 0 && rc != 1 && rc != 3)
		abort();
	check_output(buf, blen, o.json);
	free(buf);
	return 0;
}
