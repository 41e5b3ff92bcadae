/* SPDX-License-Identifier: MIT */
/*
 * prom.c -- the Prometheus text format writer (see prom.h).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static void put(vs_prom *p, const char *z)
{
	vs_w_raw(p->w, z, strlen(z));
}

void vs_prom_family(vs_prom *p, const char *name, const char *type, const char *help)
{
	put(p, "# HELP ");
	put(p, name);
	put(p, " ");
	put(p, help);
	put(p, "\n# TYPE ");
	put(p, name);
	put(p, " ");
	put(p, type);
	put(p, "\n");
}

void vs_prom_sample(vs_prom *p, const char *name)
{
	put(p, name);
	p->labels = 0;
}

/* Length of a valid UTF-8 sequence at s[0..n), or 0 if it is not one
 * (overlong forms, surrogates and values past U+10FFFF are invalid). */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t min, cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		len = 2, min = 0x80, cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3, min = 0x800, cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

void vs_prom_label(vs_prom *p, const char *key, const void *value, size_t len)
{
	put(p, p->labels++ ? "," : "{");
	put(p, key);
	put(p, "=\"");
	const uint8_t *s = value;
	size_t i = 0;
	while (i < len) {
		size_t k = utf8_len(s + i, len - i);
		if (k == 0) {
			put(p, "\xEF\xBF\xBD"); /* U+FFFD */
			i++;
		} else if (s[i] == '\\') {
			put(p, "\\\\");
			i++;
		} else if (s[i] == '"') {
			put(p, "\\\"");
			i++;
		} else if (s[i] == '\n') {
			put(p, "\\n");
			i++;
		} else {
			vs_w_raw(p->w, s + i, k);
			i += k;
		}
	}
	put(p, "\"");
}

void vs_prom_label_z(vs_prom *p, const char *key, const char *value)
{
	vs_prom_label(p, key, value, strlen(value));
}

void vs_prom_label_i64(vs_prom *p, const char *key, int64_t value)
{
	char buf[24];
	int n = snprintf(buf, sizeof buf, "%" PRId64, value);
	vs_prom_label(p, key, buf, (size_t)n);
}

static void end_labels(vs_prom *p)
{
	if (p->labels)
		put(p, "}");
	p->labels = 0;
}

void vs_prom_value_u64(vs_prom *p, uint64_t v)
{
	char buf[32];
	end_labels(p);
	snprintf(buf, sizeof buf, " %" PRIu64 "\n", v);
	put(p, buf);
}

void vs_prom_value_i64(vs_prom *p, int64_t v)
{
	char buf[32];
	end_labels(p);
	snprintf(buf, sizeof buf, " %" PRId64 "\n", v);
	put(p, buf);
}

void vs_prom_value_f(vs_prom *p, double v)
{
	char buf[40];
	end_labels(p);
	if (isnan(v))
		snprintf(buf, sizeof buf, " NaN\n");
	else if (isinf(v))
		snprintf(buf, sizeof buf, " %s\n", v > 0 ? "+Inf" : "-Inf");
	else {
		/* the shortest of the two that reads back as the same number */
		snprintf(buf, sizeof buf, " %.15g\n", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, sizeof buf, " %.17g\n", v);
	}
	put(p, buf);
}

void vs_prom_u64(vs_prom *p, const char *name, uint64_t v)
{
	vs_prom_sample(p, name);
	vs_prom_value_u64(p, v);
}
