/* SPDX-License-Identifier: MIT */
/* cli_parse.c -- durations, sizes, times, integers, lists (see cli_parse.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_parse.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Digits at *p into *v (no sign); advances *p. -1 on no digits or overflow. */
static int digits_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	if (!is_digit(*s))
		return -1;
	while (is_digit(*s)) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
		s++;
	}
	*p = s;
	*v = x;
	return 0;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	if (!s)
		return -1;
	uint64_t v;
	if (*s == '+')
		s++;
	if (digits_u64(&s, &v) || *s)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_i64(const char *s, int64_t *out)
{
	if (!s)
		return -1;
	int neg = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	uint64_t v;
	if (digits_u64(&s, &v) || *s)
		return -1;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -1;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return -1;
		*out = (int64_t)v;
	}
	return 0;
}

/* ---- durations -------------------------------------------------------------- */

/* Parse a duration starting at s; stops at the first character that cannot
 * continue it and stores that position in *end. */
static int duration_prefix(const char *s, const char **end, int64_t *out)
{
	uint64_t total = 0;
	int parts = 0;
	const char *p = s;
	while (is_digit(*p)) {
		uint64_t v;
		if (digits_u64(&p, &v))
			return -1;
		uint64_t mult;
		if (p[0] == 'm' && p[1] == 's') {
			mult = 1;
			p += 2;
		} else {
			switch (*p) {
			case 's': mult = 1000; break;
			case 'm': mult = 60ull * 1000; break;
			case 'h': mult = 3600ull * 1000; break;
			case 'd': mult = 86400ull * 1000; break;
			case 'w': mult = 7ull * 86400 * 1000; break;
			default:
				/* a bare number: only "0" alone */
				if (parts == 0 && v == 0 && p - s == 1 && !is_digit(*p)) {
					*end = p;
					*out = 0;
					return 0;
				}
				return -1;
			}
			p++;
		}
		if (v > (uint64_t)INT64_MAX / mult)
			return -1;
		v *= mult;
		if (total > (uint64_t)INT64_MAX - v)
			return -1;
		total += v;
		parts++;
	}
	if (parts == 0)
		return -1;
	*end = p;
	*out = (int64_t)total;
	return 0;
}

int cli_parse_duration_ms(const char *s, int64_t *out)
{
	if (!s)
		return -1;
	const char *end;
	int64_t v;
	if (duration_prefix(s, &end, &v) || *end)
		return -1;
	*out = v;
	return 0;
}

/* ---- sizes ---------------------------------------------------------------------- */

int cli_parse_size(const char *s, uint64_t *out)
{
	if (!s)
		return -1;
	const char *p = s;
	uint64_t ip;
	if (digits_u64(&p, &ip))
		return -1;
	uint64_t frac = 0, fscale = 1;
	int has_frac = 0;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -1;
		has_frac = 1;
		while (is_digit(*p)) {
			if (fscale < 1000000000ull) { /* nine digits are plenty */
				frac = frac * 10 + (uint64_t)(*p - '0');
				fscale *= 10;
			}
			p++;
		}
	}
	char u[4] = { 0 };
	size_t ul = strlen(p);
	if (ul > 3)
		return -1;
	for (size_t i = 0; i < ul; i++)
		u[i] = lower(p[i]);
	unsigned shift;
	if (ul == 0 || !strcmp(u, "b")) {
		shift = 0;
	} else {
		const char *units = "kmgtp";
		const char *at = strchr(units, u[0]);
		if (!at || u[0] == 0)
			return -1;
		shift = 10u * (unsigned)(at - units + 1);
		const char *rest = u + 1;
		if (*rest && strcmp(rest, "b") && strcmp(rest, "ib"))
			return -1;
	}
	if (has_frac && shift == 0)
		return -1; /* a fraction of a byte */
	if (shift && ip > (UINT64_MAX >> shift))
		return -1;
	uint64_t v = ip << shift;
	if (has_frac) {
		/* frac/fscale of 2^shift; 2^50 * 10^9 overflows, so split */
		uint64_t unit = (uint64_t)1 << shift;
		uint64_t add = (unit / fscale) * frac + ((unit % fscale) * frac) / fscale;
		if (v > UINT64_MAX - add)
			return -1;
		v += add;
	}
	*out = v;
	return 0;
}

/* ---- times ---------------------------------------------------------------------- */

int64_t cli_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* H. Hinnant's days_from_civil */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static int fixed_digits(const char **p, int n, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return -1;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int rfc3339(const char *s, int64_t *out)
{
	const char *p = s;
	unsigned y, mo, d, h = 0, mi = 0, se = 0, ms = 0;
	if (fixed_digits(&p, 4, &y) || *p++ != '-' || fixed_digits(&p, 2, &mo) || *p++ != '-' ||
	    fixed_digits(&p, 2, &d))
		return -1;
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -1;
	int64_t tz_ms = 0;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (fixed_digits(&p, 2, &h) || *p++ != ':' || fixed_digits(&p, 2, &mi))
			return -1;
		if (*p == ':') {
			p++;
			if (fixed_digits(&p, 2, &se))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				if (!is_digit(*p))
					return -1;
				unsigned scale = 100;
				while (is_digit(*p)) {
					ms += (unsigned)(*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
		if (h > 23 || mi > 59 || se > 60)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int neg = *p++ == '-';
			unsigned th, tm;
			if (fixed_digits(&p, 2, &th))
				return -1;
			if (*p == ':')
				p++;
			if (fixed_digits(&p, 2, &tm) || th > 23 || tm > 59)
				return -1;
			tz_ms = ((int64_t)th * 60 + tm) * 60000;
			if (neg)
				tz_ms = -tz_ms;
		} else {
			return -1; /* a local time without a zone is ambiguous */
		}
		if (*p)
			return -1;
	}
	int64_t days = cli_days_from_civil((int64_t)y, mo, d);
	int64_t v = ((days * 24 + h) * 60 + mi) * 60 + se;
	*out = v * 1000 + ms - tz_ms;
	return 0;
}

/* Digits [s, unit) and a unit: "" (milliseconds, refused when it is more
 * likely seconds), "s" or "ms". */
static int epoch_number(const char *s, const char *unit, int64_t *out)
{
	uint64_t v;
	const char *p = s;
	if (digits_u64(&p, &v) || v > (uint64_t)INT64_MAX)
		return -1;
	if (!strcmp(unit, "s")) {
		if (v > (uint64_t)INT64_MAX / 1000)
			return -1;
		*out = (int64_t)v * 1000;
		return 0;
	}
	if (!*unit && v != 0 && v < (uint64_t)CLI_TIME_BARE_MIN_MS)
		return CLI_TIME_SECONDS;
	*out = (int64_t)v;
	return 0;
}

int cli_parse_time_ms(const char *s, int64_t now_ms, int64_t *out)
{
	if (!s || !*s)
		return -1;
	if (!strncmp(s, "now", 3)) {
		const char *p = s + 3;
		if (!*p) {
			*out = now_ms;
			return 0;
		}
		if (*p != '-' && *p != '+')
			return -1;
		int neg = *p++ == '-';
		int64_t d;
		if (cli_parse_duration_ms(p, &d))
			return -1;
		if (neg ? now_ms < INT64_MIN + d : now_ms > INT64_MAX - d)
			return -1;
		*out = neg ? now_ms - d : now_ms + d;
		return 0;
	}
	const char *p = s;
	while (is_digit(*p))
		p++;
	if (p > s && (!*p || !strcmp(p, "s") || !strcmp(p, "ms")))
		return epoch_number(s, p, out);
	return rfc3339(s, out);
}

/* ---- lists ------------------------------------------------------------------------ */

int cli_list_next(const char **cursor, const char **item, size_t *len)
{
	const char *p = *cursor;
	if (!p)
		return 0;
	const char *comma = strchr(p, ',');
	*item = p;
	*len = comma ? (size_t)(comma - p) : strlen(p);
	*cursor = comma ? comma + 1 : NULL; /* NULL: the last item was handed out */
	return 1;
}

/* ---- formatting -------------------------------------------------------------------- */

void cli_format_duration(int64_t ms, char *buf, size_t cap)
{
	if (!cap)
		return;
	buf[0] = 0;
	size_t n = 0;
	uint64_t v;
	if (ms < 0) {
		n += (size_t)snprintf(buf, cap, "-");
		v = ms == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-ms;
	} else {
		v = (uint64_t)ms;
	}
	if (v == 0) {
		snprintf(buf + (n < cap ? n : cap - 1), cap - (n < cap ? n : cap - 1), "0s");
		return;
	}
	static const struct {
		uint64_t ms;
		const char *unit;
	} u[] = { { 86400000ull, "d" }, { 3600000ull, "h" }, { 60000ull, "m" }, { 1000ull, "s" },
		  { 1ull, "ms" } };
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		uint64_t k = v / u[i].ms;
		v %= u[i].ms;
		if (!k || n >= cap)
			continue;
		n += (size_t)snprintf(buf + n, cap - n, "%" PRIu64 "%s", k, u[i].unit);
	}
}

void cli_format_size(uint64_t bytes, char *buf, size_t cap)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (bytes < 1024) {
		snprintf(buf, cap, "%" PRIu64 " B", bytes);
		return;
	}
	unsigned i = 0;
	uint64_t div = 1;
	while (i < 6 && bytes / div >= 1024) {
		div <<= 10;
		i++;
	}
	if (bytes % div == 0)
		snprintf(buf, cap, "%" PRIu64 " %s", bytes / div, units[i]);
	else
		snprintf(buf, cap, "%.1f %s", (double)bytes / (double)div, units[i]);
}

void cli_format_time(int64_t ms, char *buf, size_t cap)
{
	int64_t secs = ms / 1000, rem = ms % 1000;
	if (rem < 0) {
		rem += 1000;
		secs--;
	}
	int64_t days = secs / 86400, sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, cap, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d,
		 (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
		 (unsigned)rem);
}

/* ---- fuzzing -------------------------------------------------------------------------- */

int cli_parse_fuzz_one(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	if (size)
		memcpy(s, data, size);
	s[size] = 0;
	char buf[128];
	int64_t i;
	uint64_t u;
	if (cli_parse_i64(s, &i) == 0)
		cli_format_duration(i, buf, sizeof buf);
	if (cli_parse_u64(s, &u) == 0)
		cli_format_size(u, buf, sizeof buf);
	if (cli_parse_duration_ms(s, &i) == 0) {
		cli_format_duration(i, buf, sizeof buf);
		int64_t back;
		if (cli_parse_duration_ms(buf, &back) || back != i)
			abort(); /* formatting a duration must parse back to it */
	}
	if (cli_parse_size(s, &u) == 0)
		cli_format_size(u, buf, sizeof buf);
	if (cli_parse_time_ms(s, 1795687200000LL, &i) == 0 && i > -62135596800000LL &&
	    i < 253402300800000LL)
		cli_format_time(i, buf, sizeof buf);
	const char *cur = s, *item;
	size_t len, total = 0, sl = strlen(s);
	while (cli_list_next(&cur, &item, &len)) {
		if (item < s || len > sl || (size_t)(item - s) > sl - len)
			abort(); /* an item must lie inside the list */
		total += len + 1;
	}
	if (total != sl + 1)
		abort(); /* the items and their commas cover the list exactly */
	free(s);
	return 0;
}
