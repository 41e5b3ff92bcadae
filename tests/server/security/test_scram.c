/* SPDX-License-Identifier: MIT */
/*
 * test_scram.c -- server/security/scram.c and sasl.c: base64 against RFC
 * 4648's vectors; SCRAM-SHA-256 against RFC 7677's example exchange,
 * replayed through the server's state machine with the RFC's nonce; the
 * shape of RFC 5802's messages through the parsers; SCRAM-SHA-512 and
 * PLAIN against a client computed here; every way an exchange must fail
 * (wrong password, unknown user, tampered channel binding, nonce, proof,
 * authorization id, tokenauth, malformed messages); the answers for an
 * unknown user look like a real user's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "security/sasl.h"
#include "security/scram.h"

static size_t b64d(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	cr_assert_eq(vs_b64_decode(s, strlen(s), out, cap, &n), 0, "decode %s", s);
	return n;
}

/* ---- base64 ------------------------------------------------------------------------ */

Test(base64, rfc4648_vectors_both_ways)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (int i = 0; i < 7; i++) {
		char out[16];
		size_t n = vs_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof out);
		cr_assert_eq(n, strlen(enc[i]));
		cr_assert_str_eq(out, enc[i]);
		uint8_t back[16];
		size_t m = b64d(enc[i], back, sizeof back);
		cr_assert_eq(m, strlen(plain[i]));
		cr_assert(memcmp(back, plain[i], m) == 0);
	}
}

Test(base64, refuses_non_canonical_and_malformed)
{
	uint8_t out[16];
	size_t n;
	const char *bad[] = { "Zg", "Zh==", "Zm9=", "Zm9v\n", "Z===", "Zm 9", "Zm9-", "====" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_eq(vs_b64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n), -1, "%s", bad[i]);
	/* too long for the room given */
	cr_assert_eq(vs_b64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	char small[4];
	cr_assert_eq(vs_b64_encode((const uint8_t *)"foo", 3, small, sizeof small), 0);
}

/* ---- credentials ---------------------------------------------------------------------- */

/* RFC 7677 section 3: user "user", password "pencil". */
#define R7677_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define R7677_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define R7677_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define R7677_FIRST "n,,n=user,r=" R7677_CNONCE
#define R7677_SERVER_FIRST "r=" R7677_CNONCE R7677_SNONCE ",s=" R7677_SALT ",i=4096"
#define R7677_FINAL                                                                    \
	"c=biws,r=" R7677_CNONCE R7677_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define R7677_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static vs_scram_cred rfc_cred(void)
{
	uint8_t salt[32];
	size_t sl = b64d(R7677_SALT, salt, sizeof salt);
	vs_scram_cred c;
	cr_assert_eq(vs_scram_derive(VS_SCRAM_SHA_256, "pencil", 6, salt, sl, 4096, &c), 0);
	return c;
}

Test(scram, derive_and_check_password)
{
	vs_scram_cred c = rfc_cred();
	cr_assert_eq(c.mech, VS_SCRAM_SHA_256);
	cr_assert_eq(c.iterations, 4096);
	cr_assert_eq(vs_scram_check_password(&c, "pencil", 6), 1);
	cr_assert_eq(vs_scram_check_password(&c, "pencil ", 7), 0);
	cr_assert_eq(vs_scram_check_password(&c, "", 0), 0);
	/* another salt, another key */
	vs_scram_cred d;
	cr_assert_eq(vs_scram_derive(VS_SCRAM_SHA_256, "pencil", 6, (const uint8_t *)"12345678", 8,
				     4096, &d), 0);
	cr_assert(memcmp(c.stored_key, d.stored_key, 32) != 0);
	cr_assert_eq(vs_scram_derive(99, "x", 1, (const uint8_t *)"12345678", 8, 4096, &d), -1);
	cr_assert_eq(vs_scram_derive(VS_SCRAM_SHA_512, "x", 1, (const uint8_t *)"1", 0, 4096, &d), -1);
}

Test(scram, mechanism_names)
{
	cr_assert_eq(vs_scram_mech_by_name("SCRAM-SHA-256", 13), VS_SCRAM_SHA_256);
	cr_assert_eq(vs_scram_mech_by_name("SCRAM-SHA-512", 13), VS_SCRAM_SHA_512);
	cr_assert_eq(vs_scram_mech_by_name("scram-sha-256", 13), 0);
	cr_assert_eq(vs_scram_hash_len(VS_SCRAM_SHA_512), 64);
	unsigned set;
	char bad[80];
	cr_assert_eq(vs_sasl_mechanisms_parse("PLAIN,SCRAM-SHA-512", &set, bad, sizeof bad), 0);
	cr_assert_eq(set, VS_SASL_PLAIN | VS_SASL_SCRAM_SHA_512);
	cr_assert_eq(vs_sasl_mechanisms_parse("PLAIN,GSSAPI", &set, bad, sizeof bad), -1);
	cr_assert_str_eq(bad, "GSSAPI");
	cr_assert_eq(vs_sasl_mechanisms_parse("", &set, bad, sizeof bad), -1);
	const char *names[3];
	cr_assert_eq(vs_sasl_mechanism_names(VS_SASL_ALL_MECHANISMS, names, 3), 3);
	cr_assert_str_eq(names[0], "SCRAM-SHA-512");
	cr_assert_str_eq(names[2], "PLAIN");
}

/* ---- the server's state machine ----------------------------------------------------- */

typedef struct users1 {
	const char *name;
	vs_scram_cred cred[3]; /* by VS_SCRAM_* */
	const char *snonce;
} users1;

static int lookup1(void *ctx, const char *user, size_t len, int mech, vs_scram_cred *out)
{
	users1 *u = ctx;
	if (strlen(u->name) != len || memcmp(u->name, user, len) || !u->cred[mech].mech)
		return 0;
	*out = u->cred[mech];
	return 1;
}

static size_t nonce1(void *ctx, char *out, size_t cap)
{
	users1 *u = ctx;
	return (size_t)snprintf(out, cap, "%s", u->snonce);
}

static vs_sasl_env env_for(users1 *u)
{
	vs_sasl_env e;
	memset(&e, 0, sizeof e);
	e.lookup = lookup1;
	e.ctx = u;
	e.nonce = u->snonce ? nonce1 : NULL;
	memset(e.secret, 7, sizeof e.secret);
	return e;
}

static int step(vs_sasl *s, const char *in, char *out)
{
	size_t n = 0;
	int rc = vs_sasl_step(s, (const uint8_t *)in, strlen(in), (uint8_t *)out, VS_SASL_MAX_OUT, &n);
	out[n] = 0;
	return rc;
}

Test(sasl, rfc7677_exchange_replayed)
{
	users1 u = { "user", { { 0 } }, R7677_SNONCE };
	u.cred[VS_SCRAM_SHA_256] = rfc_cred();
	vs_sasl_env e = env_for(&u);
	vs_sasl *s = vs_sasl_new(VS_SASL_SCRAM_SHA_256, &e);
	char out[VS_SASL_MAX_OUT + 1];
	cr_assert_eq(step(s, R7677_FIRST, out), VS_SASL_CONTINUE);
	cr_assert_str_eq(out, R7677_SERVER_FIRST);
	cr_assert_eq(step(s, R7677_FINAL, out), VS_SASL_DONE);
	cr_assert_str_eq(out, R7677_SERVER_FINAL);
	cr_assert_str_eq(vs_sasl_user(s), "user");
	/* nothing more after the end */
	cr_assert_eq(step(s, R7677_FINAL, out), VS_SASL_FAILED);
	vs_sasl_free(s);
}

/* The RFC 7677 exchange with one thing changed in the client's final
 * message: each must fail. */
Test(sasl, rfc7677_tampered_final_messages_fail)
{
	static const char *finals[] = {
		/* one bit of the proof */
		"c=biws,r=" R7677_CNONCE R7677_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=",
		/* channel binding of "y,," */
		"c=eSws,r=" R7677_CNONCE R7677_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* the server's nonce cut short */
		"c=biws,r=" R7677_CNONCE "%hvYDpWUa2,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* no proof */
		"c=biws,r=" R7677_CNONCE R7677_SNONCE,
		/* a proof of the wrong length */
		"c=biws,r=" R7677_CNONCE R7677_SNONCE ",p=dHzbZapWIk4jUhN+",
		/* not base64 */
		"c=biws,r=" R7677_CNONCE R7677_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
		/* attributes out of order */
		"r=" R7677_CNONCE R7677_SNONCE ",c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	};
	for (size_t i = 0; i < sizeof finals / sizeof *finals; i++) {
		users1 u = { "user", { { 0 } }, R7677_SNONCE };
		u.cred[VS_SCRAM_SHA_256] = rfc_cred();
		vs_sasl_env e = env_for(&u);
		vs_sasl *s = vs_sasl_new(VS_SASL_SCRAM_SHA_256, &e);
		char out[VS_SASL_MAX_OUT + 1];
		cr_assert_eq(step(s, R7677_FIRST, out), VS_SASL_CONTINUE);
		cr_assert_eq(step(s, finals[i], out), VS_SASL_FAILED, "final %zu accepted", i);
		cr_assert_str_eq(out, "", "an answer to a failure");
		cr_assert(strlen(vs_sasl_reason(s)) > 0);
		vs_sasl_free(s);
	}
}

Test(sasl, librdkafka_repeated_client_nonce_is_accepted)
{
	/* librdkafka 2.0.2 sends r=<its nonce><the whole server nonce>; the
	 * AuthMessage then has that, so the proof is computed here */
	users1 u = { "user", { { 0 } }, R7677_SNONCE };
	u.cred[VS_SCRAM_SHA_256] = rfc_cred();
	vs_sasl_env e = env_for(&u);
	vs_sasl *s = vs_sasl_new(VS_SASL_SCRAM_SHA_256, &e);
	char out[VS_SASL_MAX_OUT + 1];
	cr_assert_eq(step(s, R7677_FIRST, out), VS_SASL_CONTINUE);
	const char *wo = "c=biws,r=" R7677_CNONCE R7677_CNONCE R7677_SNONCE;
	char auth[512];
	snprintf(auth, sizeof auth, "n=user,r=%s,%s,%s", R7677_CNONCE, R7677_SERVER_FIRST, wo);
	uint8_t salt[32], salted[32], ck[32], sk[32], sig[32], proof[32];
	size_t sl = b64d(R7677_SALT, salt, sizeof salt);
	cr_assert_eq(PKCS5_PBKDF2_HMAC("pencil", 6, salt, (int)sl, 4096, EVP_sha256(), 32, salted), 1);
	vs_scram_hmac(VS_SCRAM_SHA_256, salted, 32, "Client Key", 10, ck);
	vs_scram_hash(VS_SCRAM_SHA_256, ck, 32, sk);
	vs_scram_hmac(VS_SCRAM_SHA_256, sk, 32, auth, strlen(auth), sig);
	for (int i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	char p64[64], final[400];
	vs_b64_encode(proof, 32, p64, sizeof p64);
	snprintf(final, sizeof final, "%s,p=%s", wo, p64);
	cr_assert_eq(step(s, final, out), VS_SASL_DONE, "%s", vs_sasl_reason(s));
	vs_sasl_free(s);
}

/* ---- a client, computed here ------------------------------------------------------ */

/* The client-final message for server_first, as a client with password
 * makes it (gs2 header "n,,", channel binding "biws"). */
static void client_final(int mech, const char *password, const char *bare, const char *server_first,
			 char *out, size_t cap)
{
	const EVP_MD *md = mech == VS_SCRAM_SHA_256 ? EVP_sha256() : EVP_sha512();
	size_t hl = vs_scram_hash_len(mech);
	const char *r = strstr(server_first, "r="), *sp = strstr(server_first, ",s="),
		   *ip = strstr(server_first, ",i=");
	cr_assert(r && sp && ip);
	char nonce[600], salt64[200];
	snprintf(nonce, sizeof nonce, "%.*s", (int)(sp - r - 2), r + 2);
	snprintf(salt64, sizeof salt64, "%.*s", (int)(ip - sp - 3), sp + 3);
	int iters = atoi(ip + 3);
	uint8_t salt[100], salted[64], ck[64], sk[64], sig[64], proof[64];
	size_t sl = b64d(salt64, salt, sizeof salt);
	cr_assert_eq(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)sl, iters, md,
				       (int)hl, salted), 1);
	char wo[700], auth[2000];
	snprintf(wo, sizeof wo, "c=biws,r=%s", nonce);
	snprintf(auth, sizeof auth, "%s,%s,%s", bare, server_first, wo);
	vs_scram_hmac(mech, salted, hl, "Client Key", 10, ck);
	vs_scram_hash(mech, ck, hl, sk);
	vs_scram_hmac(mech, sk, hl, auth, strlen(auth), sig);
	for (size_t i = 0; i < hl; i++)
		proof[i] = ck[i] ^ sig[i];
	char p64[100];
	vs_b64_encode(proof, hl, p64, sizeof p64);
	snprintf(out, cap, "%s,p=%s", wo, p64);
}

static vs_scram_cred cred_for(int mech, const char *password, const char *salt, uint32_t iters)
{
	vs_scram_cred c;
	cr_assert_eq(vs_scram_derive(mech, password, strlen(password), (const uint8_t *)salt,
				     strlen(salt), iters, &c), 0);
	return c;
}

/* One whole exchange as user/password against a server knowing u; the
 * result, and the two answers. */
static int exchange(users1 *u, unsigned mech, const char *first, const char *user_bare,
		    const char *password, char *server_first, char *server_final)
{
	vs_sasl_env e = env_for(u);
	vs_sasl *s = vs_sasl_new(mech, &e);
	cr_assert(s);
	int rc = step(s, first, server_first);
	if (rc == VS_SASL_CONTINUE) {
		char final[1200];
		client_final(mech == VS_SASL_SCRAM_SHA_256 ? VS_SCRAM_SHA_256 : VS_SCRAM_SHA_512,
			     password, user_bare, server_first, final, sizeof final);
		rc = step(s, final, server_final);
	}
	vs_sasl_free(s);
	return rc;
}

Test(sasl, scram_sha512_round_trip_and_signature)
{
	users1 u = { "alice", { { 0 } }, NULL };
	u.cred[VS_SCRAM_SHA_512] = cred_for(VS_SCRAM_SHA_512, "s3cret", "saltsaltsalt", 4096);
	char sf[VS_SASL_MAX_OUT + 1], fin[VS_SASL_MAX_OUT + 1];
	int rc = exchange(&u, VS_SASL_SCRAM_SHA_512, "n,,n=alice,r=abcdefgh", "n=alice,r=abcdefgh",
			  "s3cret", sf, fin);
	cr_assert_eq(rc, VS_SASL_DONE);
	/* our nonce: the client's, then 32 characters from RAND_bytes */
	cr_assert(strncmp(sf, "r=abcdefgh", 10) == 0);
	cr_assert_eq(strcspn(sf + 2, ","), 8 + 32);
	cr_assert(strstr(sf, ",i=4096"));
	/* the signature proves the server knows ServerKey */
	cr_assert_eq(strncmp(fin, "v=", 2), 0);
	cr_assert_eq(strlen(fin), 2 + 88);
	/* two exchanges, two server nonces */
	char sf2[VS_SASL_MAX_OUT + 1];
	exchange(&u, VS_SASL_SCRAM_SHA_512, "n,,n=alice,r=abcdefgh", "n=alice,r=abcdefgh", "s3cret", sf2,
		 fin);
	cr_assert(strcmp(sf, sf2) != 0);
}

Test(sasl, scram_failures)
{
	users1 u = { "alice", { { 0 } }, NULL };
	u.cred[VS_SCRAM_SHA_256] = cred_for(VS_SCRAM_SHA_256, "s3cret", "saltsaltsalt", 4096);
	char sf[VS_SASL_MAX_OUT + 1], fin[VS_SASL_MAX_OUT + 1];
	/* wrong password */
	cr_assert_eq(exchange(&u, VS_SASL_SCRAM_SHA_256, "n,,n=alice,r=abc", "n=alice,r=abc", "wrong",
			      sf, fin), VS_SASL_FAILED);
	/* the user has no SHA-512 credential: fails even with the right password */
	cr_assert_eq(exchange(&u, VS_SASL_SCRAM_SHA_512, "n,,n=alice,r=abc", "n=alice,r=abc", "s3cret",
			      sf, fin), VS_SASL_FAILED);
	/* authzid other than the user */
	cr_assert_eq(exchange(&u, VS_SASL_SCRAM_SHA_256, "n,a=bob,n=alice,r=abc", "n=alice,r=abc",
			      "s3cret", sf, fin), VS_SASL_FAILED);
	/* authzid equal to the user is fine (channel binding then encodes it) */
	vs_sasl_env e = env_for(&u);
	vs_sasl *s = vs_sasl_new(VS_SASL_SCRAM_SHA_256, &e);
	cr_assert_eq(step(s, "n,a=alice,n=alice,r=abc", sf), VS_SASL_CONTINUE);
	vs_sasl_free(s);
	/* delegation tokens */
	cr_assert_eq(exchange(&u, VS_SASL_SCRAM_SHA_256, "n,,n=alice,r=abc,tokenauth=true",
			      "n=alice,r=abc,tokenauth=true", "s3cret", sf, fin), VS_SASL_FAILED);
}

Test(sasl, unknown_user_looks_like_a_known_one)
{
	users1 u = { "alice", { { 0 } }, NULL };
	u.cred[VS_SCRAM_SHA_256] = cred_for(VS_SCRAM_SHA_256, "s3cret", "saltsaltsalt", 4096);
	char sf[VS_SASL_MAX_OUT + 1], sf2[VS_SASL_MAX_OUT + 1], fin[VS_SASL_MAX_OUT + 1];
	cr_assert_eq(exchange(&u, VS_SASL_SCRAM_SHA_256, "n,,n=mallory,r=abc", "n=mallory,r=abc",
			      "s3cret", sf, fin), VS_SASL_FAILED);
	cr_assert_str_eq(fin, "");
	/* a server-first of the same shape: a salt and the usual count */
	cr_assert(strstr(sf, ",s=") && strstr(sf, ",i=4096"));
	/* the same name shows the same salt again (no fresh one to compare) */
	exchange(&u, VS_SASL_SCRAM_SHA_256, "n,,n=mallory,r=abc", "n=mallory,r=abc", "x", sf2, fin);
	cr_assert_str_eq(strstr(sf, ",s="), strstr(sf2, ",s="));
	/* another name, another salt */
	exchange(&u, VS_SASL_SCRAM_SHA_256, "n,,n=eve,r=abc", "n=eve,r=abc", "x", sf2, fin);
	cr_assert_str_neq(strstr(sf, ",s="), strstr(sf2, ",s="));
}

Test(sasl, escaped_names)
{
	users1 u = { "a,b=c", { { 0 } }, NULL };
	u.cred[VS_SCRAM_SHA_256] = cred_for(VS_SCRAM_SHA_256, "pw", "saltsaltsalt", 4096);
	char sf[VS_SASL_MAX_OUT + 1], fin[VS_SASL_MAX_OUT + 1];
	cr_assert_eq(exchange(&u, VS_SASL_SCRAM_SHA_256, "n,,n=a=2Cb=3Dc,r=xyz", "n=a=2Cb=3Dc,r=xyz",
			      "pw", sf, fin), VS_SASL_DONE);
}

/* ---- PLAIN ---------------------------------------------------------------------------- */

static int plain(users1 *u, const char *token, size_t n)
{
	vs_sasl_env e = env_for(u);
	vs_sasl *s = vs_sasl_new(VS_SASL_PLAIN, &e);
	uint8_t out[VS_SASL_MAX_OUT];
	size_t on = 99;
	int rc = vs_sasl_step(s, (const uint8_t *)token, n, out, sizeof out, &on);
	if (rc == VS_SASL_DONE) {
		cr_assert_eq(on, 0, "PLAIN answers nothing");
		cr_assert_str_eq(vs_sasl_user(s), "alice");
	}
	vs_sasl_free(s);
	return rc;
}

#define TOK(s) s, sizeof(s) - 1

Test(sasl, plain_checks_against_the_scram_credential)
{
	users1 u = { "alice", { { 0 } }, NULL };
	u.cred[VS_SCRAM_SHA_512] = cred_for(VS_SCRAM_SHA_512, "s3cret", "saltsaltsalt", 4096);
	cr_assert_eq(plain(&u, TOK("\0alice\0s3cret")), VS_SASL_DONE);
	cr_assert_eq(plain(&u, TOK("alice\0alice\0s3cret")), VS_SASL_DONE);
	cr_assert_eq(plain(&u, TOK("\0alice\0s3cre")), VS_SASL_FAILED);
	cr_assert_eq(plain(&u, TOK("\0bob\0s3cret")), VS_SASL_FAILED);
	cr_assert_eq(plain(&u, TOK("bob\0alice\0s3cret")), VS_SASL_FAILED);
	cr_assert_eq(plain(&u, TOK("\0alice\0")), VS_SASL_FAILED);
	cr_assert_eq(plain(&u, TOK("\0\0s3cret")), VS_SASL_FAILED);
	cr_assert_eq(plain(&u, TOK("alice s3cret")), VS_SASL_FAILED);
	cr_assert_eq(plain(&u, TOK("\0alice\0s3cret\0")), VS_SASL_FAILED);
	cr_assert_eq(plain(&u, "", 0), VS_SASL_FAILED);
}

/* ---- parsers: RFC 5802's shapes ---------------------------------------------------------- */

Test(parse, rfc5802_messages)
{
	vs_scram_client_first f;
	const char *m = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
	cr_assert_eq(vs_scram_parse_client_first(m, strlen(m), &f), 0);
	cr_assert_str_eq(f.user, "user");
	cr_assert_eq(f.nonce.n, 24);
	cr_assert_eq(f.gs2_header.n, 3);
	cr_assert_eq(f.bare.p, m + 3);
	vs_scram_client_final c;
	/* SHA-1's 20-byte proof parses; the length is the session's check */
	m = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
	cr_assert_eq(vs_scram_parse_client_final(m, strlen(m), &c), 0);
	cr_assert_eq(c.proof_len, 20);
	cr_assert_eq(c.without_proof.n, strlen("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"));
	/* extensions before the proof */
	m = "c=biws,r=abc,x=1,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
	cr_assert_eq(vs_scram_parse_client_final(m, strlen(m), &c), 0);
	cr_assert_eq(c.without_proof.n, strlen("c=biws,r=abc,x=1"));
}

Test(parse, refuses_what_the_grammar_does_not_allow)
{
	static const char *firsts[] = {
		"p=tls-unique,,n=user,r=abc", /* channel binding */
		"n,,m=ext,n=user,r=abc",      /* a mandatory extension */
		"n,,n=user",                  /* no nonce */
		"n,,r=abc,n=user",            /* out of order */
		"n,,n=,r=abc",                /* empty name */
		"n,,n=us=41er,r=abc",         /* bad escape */
		"n,,n=us,er,r=abc",           /* a comma in the name */
		"n,,n=user,r=",               /* empty nonce */
		"n,,n=user,r=ab c",           /* space in the nonce */
		"n,,n=user,r=abc,",           /* trailing comma */
		"n,,n=user,r=abc,1x=2",       /* extension name not letters */
		"x,,n=user,r=abc",
		"n,n=user,r=abc",
		"",
		"n,,n=\xc3\x28,r=abc",
	};
	vs_scram_client_first f;
	for (size_t i = 0; i < sizeof firsts / sizeof *firsts; i++)
		cr_assert_eq(vs_scram_parse_client_first(firsts[i], strlen(firsts[i]), &f), -1, "%s",
			     firsts[i]);
	/* broken UTF-8 and a NUL in the name */
	const char bad_utf8[] = "n,,n=\xc3\x28,r=abc";
	cr_assert_eq(vs_scram_parse_client_first(bad_utf8, sizeof bad_utf8 - 1, &f), -1);
	const char nul[] = "n,,n=a\0b,r=abc";
	cr_assert_eq(vs_scram_parse_client_first(nul, sizeof nul - 1, &f), -1);
	/* good UTF-8 is a name */
	const char utf8[] = "n,,n=J\xc3\xbc" "rgen,r=abc";
	cr_assert_eq(vs_scram_parse_client_first(utf8, sizeof utf8 - 1, &f), 0);
	cr_assert_str_eq(f.user, "J\xc3\xbc" "rgen");
	/* the size limit */
	static char big[VS_SCRAM_MAX_MESSAGE + 100];
	memset(big, 'a', sizeof big - 1);
	memcpy(big, "n,,n=u,r=", 9);
	cr_assert_eq(vs_scram_parse_client_first(big, strlen(big), &f), -1);
}
