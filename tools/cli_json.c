/* SPDX-License-Identifier: MIT */
/* cli_json.c -- minimal JSON parser and writers (see cli_json.h). */
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"
#include "encode.h"

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
		int d = enc_hex_digit(p->s[p->pos + (size_t)i]);
		if (d < 0)
			return fail(p, "bad \\u escape");
		v = v * 16 + (unsigned)d;
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

/* ---- fuzzing -------------------------------------------------------------------- */

static void walk(const cj_value *v, FILE *f)
{
	switch (v->type) {
	case CJ_STRING:
		enc_json_string(f, v->str, v->len);
		enc_text(f, v->str, v->len);
		if (enc_utf8_valid(v->str, v->len) != 1)
			enc_base64(f, v->str, v->len);
		break;
	case CJ_ARRAY:
	case CJ_OBJECT:
		for (size_t i = 0; i < v->n; i++) {
			if (v->type == CJ_OBJECT)
				enc_json_string(f, v->keys[i], v->klens[i]);
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
		(void)enc_base64_decode((const char *)data, size, out, &ol);
		free(out);
	}
	(void)enc_utf8_valid(data, size);
	return 0;
}
