/* SPDX-License-Identifier: MIT */
/* cli_json.c -- minimal JSON parser and writers (see cli_json.h). */
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"

typedef struct parser {
	const char *s;
	size_t n, pos;
	char *err;
	size_t errcap;
	int failed;
} parser;

static int fail(parser *p, const char *what)
{
	if (!p->failed && p->errcap)
		snprintf(p->err, p->errcap, "%s at byte %zu", what, p->pos);
	p->failed = 1;
	return -1;
}

static void skip_ws(parser *p)
{
	while (p->pos < p->n) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

typedef struct sbuf {
	char *b;
	size_t len, cap;
} sbuf;

static int sb_put(sbuf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 32;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *nb = realloc(b->b, nc);
		if (!nb)
			return -1;
		b->b = nb;
		b->cap = nc;
	}
	memcpy(b->b + b->len, d, n);
	b->len += n;
	b->b[b->len] = 0;
	return 0;
}

static int hex4(parser *p, unsigned *out)
{
	if (p->pos + 4 > p->n)
		return fail(p, "truncated \\u escape");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos + (size_t)i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return fail(p, "bad \\u escape");
		v = v * 16 + d;
	}
	p->pos += 4;
	*out = v;
	return 0;
}

static size_t utf8_encode(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Parse a string literal at p->pos (the opening quote). */
static int parse_string(parser *p, char **out, size_t *out_len)
{
	sbuf b = { 0 };
	p->pos++; /* opening quote */
	if (sb_put(&b, "", 0))
		return fail(p, "out of memory");
	for (;;) {
		if (p->pos >= p->n) {
			free(b.b);
			return fail(p, "unterminated string");
		}
		/* copy a run of plain bytes */
		size_t start = p->pos;
		while (p->pos < p->n && p->s[p->pos] != '"' && p->s[p->pos] != '\\' &&
		       (unsigned char)p->s[p->pos] >= 0x20)
			p->pos++;
		if (p->pos > start && sb_put(&b, p->s + start, p->pos - start)) {
			free(b.b);
			return fail(p, "out of memory");
		}
		if (p->pos >= p->n)
			continue;
		char c = p->s[p->pos];
		if (c == '"') {
			p->pos++;
			break;
		}
		if ((unsigned char)c < 0x20) {
			free(b.b);
			return fail(p, "control character in string");
		}
		/* backslash */
		p->pos++;
		if (p->pos >= p->n) {
			free(b.b);
			return fail(p, "unterminated escape");
		}
		char e = p->s[p->pos++];
		char o[4];
		size_t ol = 1;
		switch (e) {
		case '"': o[0] = '"'; break;
		case '\\': o[0] = '\\'; break;
		case '/': o[0] = '/'; break;
		case 'b': o[0] = '\b'; break;
		case 'f': o[0] = '\f'; break;
		case 'n': o[0] = '\n'; break;
		case 'r': o[0] = '\r'; break;
		case 't': o[0] = '\t'; break;
		case 'u': {
			unsigned cp;
			if (hex4(p, &cp)) {
				free(b.b);
				return -1;
			}
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (p->pos + 2 > p->n || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
					free(b.b);
					return fail(p, "unpaired surrogate");
				}
				p->pos += 2;
				if (hex4(p, &lo)) {
					free(b.b);
					return -1;
				}
				if (lo < 0xDC00 || lo > 0xDFFF) {
					free(b.b);
					return fail(p, "unpaired surrogate");
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				free(b.b);
				return fail(p, "unpaired surrogate");
			}
			ol = utf8_encode(cp, o);
			break;
		}
		default:
			free(b.b);
			return fail(p, "bad escape");
		}
		if (sb_put(&b, o, ol)) {
			free(b.b);
			return fail(p, "out of memory");
		}
	}
	*out = b.b;
	*out_len = b.len;
	return 0;
}

static int parse_value(parser *p, cj_value *v, int depth);

static int parse_number(parser *p, cj_value *v)
{
	size_t start = p->pos;
	if (p->pos < p->n && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->n || !(p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
		return fail(p, "bad number");
	if (p->s[p->pos] == '0') {
		p->pos++;
	} else {
		while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos < p->n && p->s[p->pos] == '.') {
		p->pos++;
		if (p->pos >= p->n || !(p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return fail(p, "bad number");
		while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->n || !(p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return fail(p, "bad number");
		while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	size_t len = p->pos - start;
	v->str = malloc(len + 1);
	if (!v->str)
		return fail(p, "out of memory");
	memcpy(v->str, p->s + start, len);
	v->str[len] = 0;
	v->len = len;
	v->type = CJ_NUMBER;
	return 0;
}

static int literal(parser *p, const char *word, cj_type t, cj_value *v)
{
	size_t l = strlen(word);
	if (p->n - p->pos < l || memcmp(p->s + p->pos, word, l))
		return fail(p, "unexpected character");
	p->pos += l;
	v->type = t;
	return 0;
}

static int grow(cj_value *v, size_t *cap, int object)
{
	if (v->n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 4;
	cj_value *ni = realloc(v->items, nc * sizeof *ni);
	if (!ni)
		return -1;
	v->items = ni;
	if (object) {
		char **nk = realloc(v->keys, nc * sizeof *nk);
		if (!nk)
			return -1;
		v->keys = nk;
		size_t *nl = realloc(v->klens, nc * sizeof *nl);
		if (!nl)
			return -1;
		v->klens = nl;
	}
	*cap = nc;
	return 0;
}

static int parse_container(parser *p, cj_value *v, int depth, int object)
{
	char close = object ? '}' : ']';
	v->type = object ? CJ_OBJECT : CJ_ARRAY;
	p->pos++;
	size_t cap = 0;
	skip_ws(p);
	if (p->pos < p->n && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (grow(v, &cap, object))
			return fail(p, "out of memory");
		if (object) {
			if (p->pos >= p->n || p->s[p->pos] != '"')
				return fail(p, "expected a member name");
			if (parse_string(p, &v->keys[v->n], &v->klens[v->n]))
				return -1;
			skip_ws(p);
			if (p->pos >= p->n || p->s[p->pos] != ':') {
				free(v->keys[v->n]);
				return fail(p, "expected ':'");
			}
			p->pos++;
		}
		memset(&v->items[v->n], 0, sizeof v->items[v->n]);
		v->n++;
		if (parse_value(p, &v->items[v->n - 1], depth + 1))
			return -1;
		skip_ws(p);
		if (p->pos >= p->n)
			return fail(p, object ? "unterminated object" : "unterminated array");
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int parse_value(parser *p, cj_value *v, int depth)
{
	memset(v, 0, sizeof *v);
	if (depth > CJ_MAX_DEPTH)
		return fail(p, "nested too deeply");
	skip_ws(p);
	if (p->pos >= p->n)
		return fail(p, "unexpected end");
	char c = p->s[p->pos];
	switch (c) {
	case '{': return parse_container(p, v, depth, 1);
	case '[': return parse_container(p, v, depth, 0);
	case '"':
		v->type = CJ_STRING;
		return parse_string(p, &v->str, &v->len);
	case 'n': return literal(p, "null", CJ_NULL, v);
	case 't': return literal(p, "true", CJ_TRUE, v);
	case 'f': return literal(p, "false", CJ_FALSE, v);
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return parse_number(p, v);
		return fail(p, "unexpected character");
	}
}

int cj_parse(const char *s, size_t n, cj_value *out, char *err, size_t errcap)
{
	parser p = { s, n, 0, err, errcap, 0 };
	if (errcap)
		err[0] = 0;
	int rc = parse_value(&p, out, 0);
	if (rc == 0) {
		skip_ws(&p);
		if (p.pos != p.n)
			rc = fail(&p, "trailing characters");
	}
	if (rc) {
		cj_free(out);
		return -1;
	}
	return 0;
}

void cj_free(cj_value *v)
{
	if (!v)
		return;
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		cj_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->klens);
	memset(v, 0, sizeof *v);
}

const cj_value *cj_get(const cj_value *obj, const char *key)
{
	if (!obj || obj->type != CJ_OBJECT)
		return NULL;
	size_t kl = strlen(key);
	for (size_t i = 0; i < obj->n; i++)
		if (obj->klens[i] == kl && !memcmp(obj->keys[i], key, kl))
			return &obj->items[i];
	return NULL;
}

/* ---- UTF-8, writers, base64 --------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
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
	unsigned cp = c & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int cj_utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_seq(p + i, n - i);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

void cj_write_string(FILE *f, const void *s, size_t n)
{
	const unsigned char *p = s;
	fputc('"', f);
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c >= 0x80) {
			size_t l = utf8_seq(p + i, n - i);
			if (l) {
				fwrite(p + i, 1, l, f);
				i += l;
			} else {
				fprintf(f, "\\u%04x", c);
				i++;
			}
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
			if (c < 0x20 || c == 0x7F)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
		i++;
	}
	fputc('"', f);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void cj_write_base64(FILE *f, const void *s, size_t n)
{
	const unsigned char *p = s;
	char out[4];
	fputc('"', f);
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[0] = b64[v >> 18];
		out[1] = b64[(v >> 12) & 63];
		out[2] = b64[(v >> 6) & 63];
		out[3] = b64[v & 63];
		fwrite(out, 1, 4, f);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		out[0] = b64[v >> 18];
		out[1] = b64[(v >> 12) & 63];
		out[2] = out[3] = '=';
		fwrite(out, 1, 4, f);
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[0] = b64[v >> 18];
		out[1] = b64[(v >> 12) & 63];
		out[2] = b64[(v >> 6) & 63];
		out[3] = '=';
		fwrite(out, 1, 4, f);
	}
	fputc('"', f);
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int cj_base64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
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

/* ---- fuzzing -------------------------------------------------------------------- */

static void walk(const cj_value *v, FILE *f)
{
	switch (v->type) {
	case CJ_STRING:
		cj_write_string(f, v->str, v->len);
		if (cj_utf8_valid(v->str, v->len) != 1)
			cj_write_base64(f, v->str, v->len);
		break;
	case CJ_ARRAY:
	case CJ_OBJECT:
		for (size_t i = 0; i < v->n; i++) {
			if (v->type == CJ_OBJECT)
				cj_write_string(f, v->keys[i], v->klens[i]);
			walk(&v->items[i], f);
		}
		break;
	default:
		break;
	}
}

int cli_json_fuzz_one(const uint8_t *data, size_t size)
{
	cj_value v;
	char err[128];
	if (cj_parse((const char *)data, size, &v, err, sizeof err) == 0) {
		static FILE *devnull;
		if (!devnull)
			devnull = fopen("/dev/null", "w");
		if (devnull)
			walk(&v, devnull);
		(void)cj_get(&v, "value");
		cj_free(&v);
	}
	uint8_t *out = malloc(size / 4 * 3 + 3);
	size_t ol;
	if (out) {
		(void)cj_base64_decode((const char *)data, size, out, &ol);
		free(out);
	}
	(void)cj_utf8_valid(data, size);
	return 0;
}
