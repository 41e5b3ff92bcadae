/* SPDX-License-Identifier: MIT */
/*
 * scram.c -- SCRAM credentials, base64 and the client message parsers (see
 * scram.h). The parsers walk the message attribute by attribute, each
 * "x=value" ending at a comma or the end, and never read past n bytes; the
 * grammar is RFC 5802 section 7's.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "scram.h"

static const EVP_MD *md_of(int mech)
{
	switch (mech) {
	case VS_SCRAM_SHA_256: return EVP_sha256();
	case VS_SCRAM_SHA_512: return EVP_sha512();
	default: return NULL;
	}
}

const char *vs_scram_mech_name(int mech)
{
	switch (mech) {
	case VS_SCRAM_SHA_256: return "SCRAM-SHA-256";
	case VS_SCRAM_SHA_512: return "SCRAM-SHA-512";
	default: return NULL;
	}
}

int vs_scram_mech_by_name(const char *name, size_t len)
{
	for (int m = VS_SCRAM_SHA_256; m <= VS_SCRAM_SHA_512; m++) {
		const char *z = vs_scram_mech_name(m);
		if (strlen(z) == len && memcmp(z, name, len) == 0)
			return m;
	}
	return 0;
}

size_t vs_scram_hash_len(int mech)
{
	return mech == VS_SCRAM_SHA_256 ? 32 : mech == VS_SCRAM_SHA_512 ? 64 : 0;
}

/* ---- crypto ------------------------------------------------------------------- */

int vs_scram_hmac(int mech, const uint8_t *key, size_t key_len, const void *data, size_t len,
		  uint8_t *out)
{
	const EVP_MD *md = md_of(mech);
	unsigned int out_len = 0;
	if (!md || key_len > INT_MAX)
		return -1;
	if (!HMAC(md, key, (int)key_len, data, len, out, &out_len))
		return -1;
	return out_len == vs_scram_hash_len(mech) ? 0 : -1;
}

int vs_scram_hash(int mech, const void *data, size_t len, uint8_t *out)
{
	const EVP_MD *md = md_of(mech);
	unsigned int out_len = 0;
	if (!md || !EVP_Digest(data, len, out, &out_len, md, NULL))
		return -1;
	return out_len == vs_scram_hash_len(mech) ? 0 : -1;
}

/* SaltedPassword -> StoredKey (and ClientKey, for the caller to wipe). */
static int keys_from_salted(int mech, const uint8_t *salted, vs_scram_cred *out)
{
	uint8_t client_key[VS_SCRAM_MAX_HASH];
	size_t hl = vs_scram_hash_len(mech);
	int rc = vs_scram_hmac(mech, salted, hl, "Client Key", 10, client_key) ||
		 vs_scram_hash(mech, client_key, hl, out->stored_key) ||
		 vs_scram_hmac(mech, salted, hl, "Server Key", 10, out->server_key);
	OPENSSL_cleanse(client_key, sizeof client_key);
	return rc ? -1 : 0;
}

int vs_scram_derive(int mech, const void *password, size_t password_len, const uint8_t *salt,
		    size_t salt_len, uint32_t iterations, vs_scram_cred *out)
{
	const EVP_MD *md = md_of(mech);
	if (!md || password_len > INT_MAX || salt_len < 1 || salt_len > VS_SCRAM_MAX_SALT ||
	    iterations < 1 || iterations > INT_MAX)
		return -1;
	memset(out, 0, sizeof *out);
	out->mech = mech;
	out->iterations = iterations;
	out->salt_len = salt_len;
	memcpy(out->salt, salt, salt_len);
	uint8_t salted[VS_SCRAM_MAX_HASH];
	size_t hl = vs_scram_hash_len(mech);
	/* an empty password may come as NULL: PBKDF2 wants a pointer */
	const char *pw = password ? password : "";
	int rc = PKCS5_PBKDF2_HMAC(pw, (int)password_len, salt, (int)salt_len, (int)iterations, md,
				   (int)hl, salted) == 1
			 ? keys_from_salted(mech, salted, out)
			 : -1;
	OPENSSL_cleanse(salted, sizeof salted);
	return rc;
}

int vs_scram_check_password(const vs_scram_cred *cred, const void *password, size_t password_len)
{
	vs_scram_cred got;
	if (vs_scram_derive(cred->mech, password, password_len, cred->salt, cred->salt_len,
			    cred->iterations, &got))
		return 0;
	int same = CRYPTO_memcmp(got.stored_key, cred->stored_key, vs_scram_hash_len(cred->mech)) == 0;
	OPENSSL_cleanse(&got, sizeof got);
	return same;
}

/* ---- base64 ------------------------------------------------------------------- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t vs_b64_len(size_t n) { return (n + 2) / 3 * 4; }

size_t vs_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t len = vs_b64_len(n);
	if (n > SIZE_MAX / 2 || cap < len + 1)
		return 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64_chars[(v >> 18) & 63];
		out[o++] = b64_chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64_chars[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

int vs_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	if (n % 4)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int last = i + 4 == n;
		int pad = last && in[i + 3] == '=' ? (in[i + 2] == '=' ? 2 : 1) : 0;
		uint32_t v = 0;
		for (int k = 0; k < 4 - pad; k++) {
			int d = b64_value(in[i + (size_t)k]);
			if (d < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		v <<= 6 * pad;
		/* canonical only: the bits the padding hides must be zero */
		if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
			return -1;
		size_t take = 3 - (size_t)pad;
		if (cap - o < take)
			return -1;
		for (size_t k = 0; k < take; k++)
			out[o++] = (uint8_t)(v >> (16 - 8 * k));
	}
	*out_len = o;
	return 0;
}

/* ---- names ---------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (>= 1), or 0. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t b = p[0];
	if (b < 0x80)
		return 1;
	size_t len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, UTF-16 surrogates, past U+10FFFF */
	if ((b == 0xe0 && p[1] < 0xa0) || (b == 0xed && p[1] > 0x9f) || (b == 0xf0 && p[1] < 0x90) ||
	    (b == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

int vs_scram_decode_name(const char *p, size_t n, char *out, size_t cap, size_t *out_len)
{
	const uint8_t *s = (const uint8_t *)p;
	size_t o = 0;
	if (n == 0 || cap == 0)
		return -1;
	for (size_t i = 0; i < n;) {
		char ch;
		size_t step = 1;
		if (s[i] == '=') {
			/* "=2C" and "=3D" only */
			if (n - i >= 3 && s[i + 1] == '2' && s[i + 2] == 'C')
				ch = ',';
			else if (n - i >= 3 && s[i + 1] == '3' && s[i + 2] == 'D')
				ch = '=';
			else
				return -1;
			step = 3;
		} else if (s[i] == 0 || s[i] == ',') {
			return -1;
		} else {
			size_t u = utf8_seq(s + i, n - i);
			if (!u)
				return -1;
			if (o + u >= cap)
				return -1;
			memcpy(out + o, s + i, u);
			o += u;
			i += u;
			continue;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = ch;
		i += step;
	}
	out[o] = 0;
	*out_len = o;
	return 0;
}

/* ---- message parsing -------------------------------------------------------------- */

/* The attribute at *pos: its letter, its value (up to the next comma or
 * the end) and *pos moved past the comma. -1 if there is no "x=" here. */
static int next_attr(const char *msg, size_t n, size_t *pos, char *letter, vs_scram_span *val)
{
	size_t i = *pos;
	if (n - i < 2 || msg[i + 1] != '=')
		return -1;
	*letter = msg[i];
	const char *start = msg + i + 2;
	const char *comma = memchr(start, ',', n - i - 2);
	size_t len = comma ? (size_t)(comma - start) : n - i - 2;
	*val = (vs_scram_span){ start, len };
	*pos = i + 2 + len + (comma ? 1 : 0);
	/* a trailing comma promises another attribute */
	if (comma && *pos == n)
		return -1;
	return 0;
}

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* A nonce: printable ASCII without ',' (RFC 5802 "printable"). */
static int nonce_ok(vs_scram_span v, size_t max)
{
	if (v.n == 0 || v.n > max)
		return 0;
	for (size_t i = 0; i < v.n; i++)
		if (v.p[i] < 0x21 || v.p[i] > 0x7e || v.p[i] == ',')
			return 0;
	return 1;
}

/* A value: no NUL (the comma ended it already), well-formed UTF-8. */
static int value_ok(const char *p, size_t n)
{
	const uint8_t *s = (const uint8_t *)p;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t u = s[i] ? utf8_seq(s + i, n - i) : 0;
		if (!u)
			return 0;
		i += u;
	}
	return 1;
}

/* Extensions from pos to n: "name=value" attributes, comma-separated.
 * RFC 5802 names are one letter; Kafka's are words ("tokenauth=true"), so
 * names of letters are accepted. */
static int parse_extensions(const char *msg, size_t n, size_t pos, bool *token_auth)
{
	while (pos < n) {
		const char *start = msg + pos;
		const char *comma = memchr(start, ',', n - pos);
		size_t len = comma ? (size_t)(comma - start) : n - pos;
		const char *eq = memchr(start, '=', len);
		if (!eq || eq == start || !value_ok(eq + 1, len - (size_t)(eq + 1 - start)))
			return -1;
		for (const char *k = start; k < eq; k++)
			if (!is_alpha(*k))
				return -1;
		if (token_auth && len == 14 && memcmp(start, "tokenauth=true", 14) == 0)
			*token_auth = true;
		pos += len + (comma ? 1 : 0);
		if (comma && pos == n)
			return -1; /* a trailing comma */
	}
	return 0;
}

/* The gs2 header: "n," / "y," then an optional "a=saslname", then ",". */
static int parse_gs2(const char *msg, size_t n, size_t *pos, vs_scram_client_first *out)
{
	if (n < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
		return -1; /* "p=": channel binding, which varve does not offer */
	size_t i = 2;
	if (msg[i] == 'a') {
		if (n - i < 2 || msg[i + 1] != '=')
			return -1;
		const char *start = msg + i + 2;
		const char *comma = memchr(start, ',', n - i - 2);
		if (!comma)
			return -1;
		size_t len = (size_t)(comma - start);
		if (vs_scram_decode_name(start, len, out->authzid, sizeof out->authzid,
					 &out->authzid_len))
			return -1;
		out->has_authzid = true;
		i += 2 + len;
	}
	if (i >= n || msg[i] != ',')
		return -1;
	i++;
	out->gs2_header = (vs_scram_span){ msg, i };
	*pos = i;
	return 0;
}

int vs_scram_parse_client_first(const char *msg, size_t n, vs_scram_client_first *out)
{
	memset(out, 0, sizeof *out);
	if (!msg || n == 0 || n > VS_SCRAM_MAX_MESSAGE || memchr(msg, 0, n))
		return -1;
	size_t pos;
	if (parse_gs2(msg, n, &pos, out))
		return -1;
	out->bare = (vs_scram_span){ msg + pos, n - pos };
	char letter;
	vs_scram_span v;
	/* "m=": a mandatory extension this server does not know: fail */
	if (next_attr(msg, n, &pos, &letter, &v) || letter != 'n')
		return -1;
	if (vs_scram_decode_name(v.p, v.n, out->user, sizeof out->user, &out->user_len))
		return -1;
	if (next_attr(msg, n, &pos, &letter, &v) || letter != 'r' || !nonce_ok(v, VS_SCRAM_MAX_NONCE))
		return -1;
	out->nonce = v;
	return parse_extensions(msg, n, pos, &out->token_auth);
}

int vs_scram_parse_client_final(const char *msg, size_t n, vs_scram_client_final *out)
{
	memset(out, 0, sizeof *out);
	if (!msg || n == 0 || n > VS_SCRAM_MAX_MESSAGE || memchr(msg, 0, n))
		return -1;
	size_t pos = 0;
	char letter;
	vs_scram_span v;
	if (next_attr(msg, n, &pos, &letter, &v) || letter != 'c' || v.n == 0)
		return -1;
	out->channel_binding = v;
	/* the whole nonce: the client's and the server's part */
	if (next_attr(msg, n, &pos, &letter, &v) || letter != 'r' ||
	    !nonce_ok(v, 2 * VS_SCRAM_MAX_NONCE))
		return -1;
	out->nonce = v;
	/* the proof is the last attribute; extensions may come between */
	const char *last = NULL;
	for (size_t i = n; i > 0; i--)
		if (msg[i - 1] == ',') {
			last = msg + i;
			break;
		}
	if (!last || last < msg + pos || (size_t)(msg + n - last) < 2 || last[0] != 'p' ||
	    last[1] != '=')
		return -1;
	size_t ext_end = (size_t)(last - msg) - 1; /* the comma before "p=" */
	if (pos < ext_end + 1 && parse_extensions(msg, ext_end, pos, NULL))
		return -1;
	out->without_proof = (vs_scram_span){ msg, ext_end };
	const char *b64 = last + 2;
	size_t b64_len = (size_t)(msg + n - b64);
	if (vs_b64_decode(b64, b64_len, out->proof, sizeof out->proof, &out->proof_len) ||
	    out->proof_len == 0)
		return -1;
	return 0;
}
