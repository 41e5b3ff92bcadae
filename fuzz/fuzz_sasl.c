/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sasl -- the broker's authentication parsers and state machines
 * (server/security) on hostile bytes.
 *
 * Input layout: byte 0 picks the mode (modulo 5), the rest is the payload.
 *   0 SCRAM: byte 1 picks SHA-256 or SHA-512 and bytes 2-3 (big-endian)
 *     where the payload splits into the client-first and client-final
 *     tokens, fed to one session (a third step must fail). The server
 *     knows one user, RFC 7677's "user" / "pencil" for SHA-256, and uses
 *     RFC 7677's server nonce, so the RFC's exchange authenticates. Every
 *     step must return a documented code with an answer inside the buffer;
 *     a server-first answer must start with "r=" and the client's nonce; a
 *     session that authenticates must name "user", and one whose user the
 *     server does not know must never authenticate.
 *   1 PLAIN: the payload is one token; it authenticates exactly when it is
 *     "\0user\0pencil" or "user\0user\0pencil".
 *   2 the client-message parsers directly: every span they return lies
 *     inside the payload; a decoded name is NUL-free and decodes the same
 *     again from its own escaped form.
 *   3 the users file parser: a file that parses formats back into text
 *     that parses to the same credentials.
 *   4 base64: a payload that decodes is the canonical encoding of what it
 *     decodes to.
 * Anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "security/sasl.h"
#include "security/scram.h"
#include "security/users.h"

#define TARGET "fuzz_sasl"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", TARGET, what);
	abort();
}

/* ---- the one user ---------------------------------------------------------------------- */

static vs_scram_cred cred256, cred_plain;
static int creds_made;

static void make_creds(void)
{
	if (creds_made)
		return;
	static const uint8_t salt[16] = { 0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
					  0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81 };
	/* RFC 7677: "W22ZaJ0SNY7soEsUEjb6gQ==", 4096 rounds */
	if (vs_scram_derive(VS_SCRAM_SHA_256, "pencil", 6, salt, sizeof salt, 4096, &cred256) ||
	    vs_scram_derive(VS_SCRAM_SHA_512, "pencil", 6, salt, sizeof salt, 2, &cred_plain))
		fail("cannot derive the credentials");
	creds_made = 1;
}

static int lookup(void *ctx, const char *user, size_t len, int mech, vs_scram_cred *out)
{
	(void)ctx;
	if (len != 4 || memcmp(user, "user", 4))
		return 0;
	/* SHA-256: RFC 7677's; SHA-512 (PLAIN's fallback): cheap to derive */
	*out = mech == VS_SCRAM_SHA_256 ? cred256 : cred_plain;
	return 1;
}

static size_t rfc_nonce(void *ctx, char *out, size_t cap)
{
	(void)ctx;
	return (size_t)snprintf(out, cap, "%s", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
}

static vs_sasl_env env(void)
{
	vs_sasl_env e;
	memset(&e, 0, sizeof e);
	e.lookup = lookup;
	e.nonce = rfc_nonce;
	memset(e.secret, 0x5a, sizeof e.secret);
	return e;
}

static int run_step(vs_sasl *s, const uint8_t *in, size_t n, uint8_t *out, size_t *out_len)
{
	*out_len = (size_t)-1;
	int rc = vs_sasl_step(s, in, n, out, VS_SASL_MAX_OUT, out_len);
	if (rc != VS_SASL_CONTINUE && rc != VS_SASL_DONE && rc != VS_SASL_FAILED)
		fail("an undocumented step result");
	if (*out_len > VS_SASL_MAX_OUT || (rc == VS_SASL_FAILED && *out_len != 0))
		fail("an answer outside the buffer, or to a failure");
	return rc;
}

/* ---- modes --------------------------------------------------------------------------------- */

static void scram(const uint8_t *p, size_t n)
{
	if (n < 3)
		return;
	unsigned mech = p[0] & 1 ? VS_SASL_SCRAM_SHA_512 : VS_SASL_SCRAM_SHA_256;
	size_t split = (size_t)p[1] << 8 | p[2];
	p += 3;
	n -= 3;
	if (split > n)
		split = n;
	vs_sasl_env e = env();
	vs_sasl *s = vs_sasl_new(mech, &e);
	if (!s)
		fail("no session");
	uint8_t out[VS_SASL_MAX_OUT + 1];
	size_t olen;
	vs_scram_client_first cf;
	int known = vs_scram_parse_client_first((const char *)p, split, &cf) == 0 &&
		    cf.user_len == 4 && memcmp(cf.user, "user", 4) == 0 && mech == VS_SASL_SCRAM_SHA_256;
	int rc = run_step(s, p, split, out, &olen);
	if (rc == VS_SASL_DONE)
		fail("authenticated by a first message");
	if (rc == VS_SASL_CONTINUE) {
		if (olen < 2 || memcmp(out, "r=", 2) || olen - 2 < cf.nonce.n ||
		    memcmp(out + 2, cf.nonce.p, cf.nonce.n))
			fail("a server-first without the client's nonce first");
		rc = run_step(s, p + split, n - split, out, &olen);
		if (rc == VS_SASL_CONTINUE)
			fail("a third step asked for");
		if (rc == VS_SASL_DONE && (!known || strcmp(vs_sasl_user(s), "user")))
			fail("authenticated someone the server does not know");
	}
	if (run_step(s, p, n, out, &olen) != VS_SASL_FAILED)
		fail("a step after the end");
	vs_sasl_free(s);
}

static void plain(const uint8_t *p, size_t n)
{
	vs_sasl_env e = env();
	vs_sasl *s = vs_sasl_new(VS_SASL_PLAIN, &e);
	if (!s)
		fail("no session");
	uint8_t out[VS_SASL_MAX_OUT + 1];
	size_t olen;
	int rc = run_step(s, p, n, out, &olen);
	int good = (n == 12 && memcmp(p, "\0user\0pencil", 12) == 0) ||
		   (n == 16 && memcmp(p, "user\0user\0pencil", 16) == 0);
	if ((rc == VS_SASL_DONE) != good)
		fail(good ? "the right password refused" : "authenticated without the password");
	if (rc == VS_SASL_CONTINUE)
		fail("PLAIN asked for a second step");
	vs_sasl_free(s);
}

static void in_input(vs_scram_span sp, const uint8_t *p, size_t n)
{
	if (sp.n && ((const uint8_t *)sp.p < p || (const uint8_t *)sp.p + sp.n > p + n))
		fail("a span outside the message");
}

/* Escape a decoded name again and decode it: the same name. */
static void name_round_trip(const char *name, size_t len)
{
	char esc[3 * VS_SCRAM_MAX_USER + 1], back[VS_SCRAM_MAX_USER + 1];
	size_t o = 0, blen;
	for (size_t i = 0; i < len; i++) {
		if (!name[i])
			fail("a NUL in a decoded name");
		if (name[i] == ',' || name[i] == '=') {
			memcpy(esc + o, name[i] == ',' ? "=2C" : "=3D", 3);
			o += 3;
		} else {
			esc[o++] = name[i];
		}
	}
	if (vs_scram_decode_name(esc, o, back, sizeof back, &blen) || blen != len ||
	    memcmp(back, name, len))
		fail("a decoded name does not round-trip");
}

static void parsers(const uint8_t *p, size_t n)
{
	vs_scram_client_first f;
	if (vs_scram_parse_client_first((const char *)p, n, &f) == 0) {
		in_input(f.gs2_header, p, n);
		in_input(f.bare, p, n);
		in_input(f.nonce, p, n);
		if (!f.user_len || f.nonce.n == 0)
			fail("a first message without a user or a nonce");
		name_round_trip(f.user, f.user_len);
	}
	vs_scram_client_final c;
	if (vs_scram_parse_client_final((const char *)p, n, &c) == 0) {
		in_input(c.channel_binding, p, n);
		in_input(c.nonce, p, n);
		in_input(c.without_proof, p, n);
		if (c.proof_len == 0 || c.proof_len > VS_SCRAM_MAX_HASH || c.without_proof.n >= n)
			fail("a final message with a bad proof or prefix");
	}
}

static void users_file(const uint8_t *p, size_t n)
{
	vs_users u, v;
	vs_users_init(&u);
	vs_users_init(&v);
	char err[200];
	if (vs_users_parse((const char *)p, n, &u, err, sizeof err) == 0) {
		char *text;
		size_t len;
		if (vs_users_format(&u, &text, &len))
			fail("cannot format a parsed file");
		if (vs_users_parse(text, len, &v, err, sizeof err) || v.n != u.n)
			fail("a formatted file does not parse back");
		for (size_t i = 0; i < u.n; i++)
			if (strcmp(u.v[i].name, v.v[i].name) ||
			    memcmp(&u.v[i].cred, &v.v[i].cred, sizeof u.v[i].cred))
				fail("a credential changed through format and parse");
		free(text);
	} else if (u.n) {
		fail("a refused file left credentials");
	}
	vs_users_free(&u);
	vs_users_free(&v);
}

static void base64(const uint8_t *p, size_t n)
{
	static uint8_t out[4096];
	static char enc[8192];
	size_t len;
	if (n > 4096 || vs_b64_decode((const char *)p, n, out, sizeof out, &len))
		return;
	size_t e = vs_b64_encode(out, len, enc, sizeof enc);
	if (e != n || memcmp(enc, p, n))
		fail("a decoded payload is not its own canonical encoding");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	make_creds();
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 5) {
	case 0: scram(p, n); break;
	case 1: plain(p, n); break;
	case 2: parsers(p, n); break;
	case 3: users_file(p, n); break;
	default: base64(p, n); break;
	}
	return 0;
}
