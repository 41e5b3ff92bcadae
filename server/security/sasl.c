/* SPDX-License-Identifier: MIT */
/*
 * sasl.c -- the server's SASL state machines (see sasl.h). A session is
 * START until its first token; SCRAM then waits in FINAL for the client's
 * proof; every session ends DONE or FAILED, after which it refuses input.
 *
 * The AuthMessage of SCRAM is client-first-message-bare "," server-first
 * "," client-final-without-proof; the first two parts are kept from the
 * first step (auth_msg), the last is appended at the proof.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "sasl.h"

#define SNONCE_BYTES 24 /* 32 characters of base64 */
#define SNONCE_CHARS 64 /* room for the server's part */
/* what unknown users are shown: the iterations most credentials have */
#define FAKE_ITERATIONS VS_SCRAM_DEFAULT_ITERATIONS
#define PLAIN_MAX_FIELD 1024

enum { S_START, S_FINAL, S_DONE, S_FAILED };

struct vs_sasl {
	unsigned mech;
	int scram; /* VS_SCRAM_*, 0 for PLAIN */
	int state;
	vs_sasl_env env;
	vs_scram_cred cred;
	bool known; /* cred is the user's own, not made up */
	char user[VS_SCRAM_MAX_USER + 1];
	char cbind[VS_B64_LEN(3 * VS_SCRAM_MAX_USER + 8) + 1]; /* c= the client must send */
	char nonce[2 * VS_SCRAM_MAX_NONCE + 1];
	size_t nonce_len;
	char *auth_msg; /* bare "," server-first "," (without-proof added later) */
	size_t auth_len, auth_cap;
	char reason[160];
};

/* ---- mechanism names ---------------------------------------------------------------- */

const char *vs_sasl_mech_name(unsigned mech)
{
	switch (mech) {
	case VS_SASL_PLAIN: return "PLAIN";
	case VS_SASL_SCRAM_SHA_256: return "SCRAM-SHA-256";
	case VS_SASL_SCRAM_SHA_512: return "SCRAM-SHA-512";
	default: return NULL;
	}
}

unsigned vs_sasl_mech_by_name(const char *name, size_t len)
{
	for (unsigned m = 1; m & VS_SASL_ALL_MECHANISMS; m <<= 1) {
		const char *z = vs_sasl_mech_name(m);
		if (strlen(z) == len && memcmp(z, name, len) == 0)
			return m;
	}
	return 0;
}

int vs_sasl_mechanisms_parse(const char *list, unsigned *out, char *bad, size_t bad_cap)
{
	unsigned set = 0;
	const char *p = list;
	if (bad_cap)
		bad[0] = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		unsigned m = vs_sasl_mech_by_name(p, len);
		if (!m) {
			if (bad_cap)
				snprintf(bad, bad_cap, "%.*s", (int)(len < 64 ? len : 64), p);
			return -1;
		}
		set |= m;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = set;
	return 0;
}

size_t vs_sasl_mechanism_names(unsigned set, const char **names, size_t cap)
{
	static const unsigned order[] = { VS_SASL_SCRAM_SHA_512, VS_SASL_SCRAM_SHA_256, VS_SASL_PLAIN };
	size_t n = 0;
	for (size_t i = 0; i < sizeof order / sizeof order[0] && n < cap; i++)
		if (set & order[i])
			names[n++] = vs_sasl_mech_name(order[i]);
	return n;
}

/* ---- sessions ------------------------------------------------------------------------- */

vs_sasl *vs_sasl_new(unsigned mech, const vs_sasl_env *env)
{
	if (!vs_sasl_mech_name(mech))
		return NULL;
	vs_sasl *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->mech = mech;
	s->scram = mech == VS_SASL_SCRAM_SHA_256 ? VS_SCRAM_SHA_256
		   : mech == VS_SASL_SCRAM_SHA_512 ? VS_SCRAM_SHA_512
						   : 0;
	s->env = *env;
	s->state = S_START;
	return s;
}

void vs_sasl_free(vs_sasl *s)
{
	if (!s)
		return;
	if (s->auth_msg) {
		OPENSSL_cleanse(s->auth_msg, s->auth_cap);
		free(s->auth_msg);
	}
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

const char *vs_sasl_user(const vs_sasl *s) { return s->state == S_DONE ? s->user : ""; }
const char *vs_sasl_reason(const vs_sasl *s) { return s->reason; }
unsigned vs_sasl_mechanism(const vs_sasl *s) { return s->mech; }

static int fail(vs_sasl *s, const char *why)
{
	s->state = S_FAILED;
	snprintf(s->reason, sizeof s->reason, "%s", why);
	return VS_SASL_FAILED;
}

/* Our part of the nonce: from a CSPRNG, unless the environment says. */
static size_t server_nonce(vs_sasl *s, char *out, size_t cap)
{
	if (s->env.nonce)
		return s->env.nonce(s->env.ctx, out, cap);
	uint8_t rnd[SNONCE_BYTES];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return 0;
	size_t n = vs_b64_encode(rnd, sizeof rnd, out, cap);
	OPENSSL_cleanse(rnd, sizeof rnd);
	return n;
}

static int lookup(vs_sasl *s, int scram, vs_scram_cred *out)
{
	if (!s->env.lookup)
		return 0;
	return s->env.lookup(s->env.ctx, s->user, strlen(s->user), scram, out) == 1;
}

/* A credential for a user who has none: salt and keys from the server's
 * secret and the name, so the same name always shows the same salt. */
static int fake_cred(vs_sasl *s, int scram, vs_scram_cred *out)
{
	uint8_t mac[VS_SCRAM_MAX_HASH];
	size_t ulen = strlen(s->user);
	char label[VS_SCRAM_MAX_USER + 32];
	memset(out, 0, sizeof *out);
	out->mech = scram;
	out->iterations = FAKE_ITERATIONS;
	out->salt_len = VS_SCRAM_SALT_BYTES;
	int n = snprintf(label, sizeof label, "salt/%d/%s", scram, s->user);
	if (vs_scram_hmac(VS_SCRAM_SHA_512, s->env.secret, sizeof s->env.secret, label, (size_t)n, mac))
		return -1;
	memcpy(out->salt, mac, VS_SCRAM_SALT_BYTES);
	n = snprintf(label, sizeof label, "keys/%d/%.*s", scram, (int)ulen, s->user);
	if (vs_scram_hmac(VS_SCRAM_SHA_512, s->env.secret, sizeof s->env.secret, label, (size_t)n, mac))
		return -1;
	memcpy(out->stored_key, mac, sizeof mac);
	memcpy(out->server_key, mac, sizeof mac);
	return 0;
}

static int auth_append(vs_sasl *s, const char *p, size_t n)
{
	if (s->auth_cap - s->auth_len < n) {
		size_t cap = s->auth_len + n + 256;
		char *nb = malloc(cap);
		if (!nb)
			return -1;
		if (s->auth_len)
			memcpy(nb, s->auth_msg, s->auth_len);
		if (s->auth_msg) {
			OPENSSL_cleanse(s->auth_msg, s->auth_cap);
			free(s->auth_msg);
		}
		s->auth_msg = nb;
		s->auth_cap = cap;
	}
	memcpy(s->auth_msg + s->auth_len, p, n);
	s->auth_len += n;
	return 0;
}

/* ---- SCRAM ---------------------------------------------------------------------------- */

static int scram_first(vs_sasl *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		       size_t *out_len)
{
	vs_scram_client_first cf;
	if (vs_scram_parse_client_first((const char *)in, n, &cf))
		return fail(s, "malformed SCRAM client-first message");
	if (cf.token_auth)
		return fail(s, "delegation tokens (tokenauth) are not supported");
	if (cf.has_authzid && (cf.authzid_len != cf.user_len || memcmp(cf.authzid, cf.user, cf.user_len)))
		return fail(s, "the authorization id is not the user name");
	memcpy(s->user, cf.user, cf.user_len + 1);
	s->known = lookup(s, s->scram, &s->cred);
	if (!s->known && fake_cred(s, s->scram, &s->cred))
		return fail(s, "out of memory");
	if (!vs_b64_encode((const uint8_t *)cf.gs2_header.p, cf.gs2_header.n, s->cbind, sizeof s->cbind))
		return fail(s, "gs2 header too long");
	char snonce[SNONCE_CHARS + 1];
	size_t sn = server_nonce(s, snonce, sizeof snonce);
	if (sn == 0 || sn >= sizeof snonce)
		return fail(s, "no random bytes for the nonce");
	s->nonce_len = (size_t)snprintf(s->nonce, sizeof s->nonce, "%.*s%.*s", (int)cf.nonce.n,
					cf.nonce.p, (int)sn, snonce);
	char salt[VS_B64_LEN(VS_SCRAM_MAX_SALT) + 1];
	vs_b64_encode(s->cred.salt, s->cred.salt_len, salt, sizeof salt);
	int len = snprintf((char *)out, cap, "r=%s,s=%s,i=%u", s->nonce, salt, (unsigned)s->cred.iterations);
	if (len < 0 || (size_t)len >= cap)
		return fail(s, "answer buffer too small");
	if (auth_append(s, cf.bare.p, cf.bare.n) || auth_append(s, ",", 1) ||
	    auth_append(s, (const char *)out, (size_t)len) || auth_append(s, ",", 1))
		return fail(s, "out of memory");
	*out_len = (size_t)len;
	s->state = S_FINAL;
	return VS_SASL_CONTINUE;
}

static int scram_final(vs_sasl *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		       size_t *out_len)
{
	vs_scram_client_final cf;
	size_t hl = vs_scram_hash_len(s->scram);
	if (vs_scram_parse_client_final((const char *)in, n, &cf))
		return fail(s, "malformed SCRAM client-final message");
	if (cf.channel_binding.n != strlen(s->cbind) ||
	    memcmp(cf.channel_binding.p, s->cbind, cf.channel_binding.n))
		return fail(s, "the channel binding does not repeat the gs2 header");
	/* the nonce of this exchange, at the end: librdkafka repeats its own
	 * nonce in front of it, and Kafka accepts that (endsWith); the proof
	 * covers the message as sent either way */
	if (cf.nonce.n < s->nonce_len ||
	    memcmp(cf.nonce.p + cf.nonce.n - s->nonce_len, s->nonce, s->nonce_len))
		return fail(s, "the nonce is not the one of this exchange");
	if (cf.proof_len != hl)
		return fail(s, "the proof has the wrong length");
	if (auth_append(s, cf.without_proof.p, cf.without_proof.n))
		return fail(s, "out of memory");
	uint8_t sig[VS_SCRAM_MAX_HASH], client_key[VS_SCRAM_MAX_HASH], stored[VS_SCRAM_MAX_HASH];
	int rc = vs_scram_hmac(s->scram, s->cred.stored_key, hl, s->auth_msg, s->auth_len, sig);
	for (size_t i = 0; i < hl; i++)
		client_key[i] = cf.proof[i] ^ sig[i];
	rc = rc || vs_scram_hash(s->scram, client_key, hl, stored);
	/* constant time, and the made-up credential of an unknown user never
	 * matches, whatever the proof */
	int good = !rc && CRYPTO_memcmp(stored, s->cred.stored_key, hl) == 0 && s->known;
	OPENSSL_cleanse(client_key, sizeof client_key);
	if (!good)
		return fail(s, s->known ? "wrong password" : "no credential for this user and mechanism");
	if (vs_scram_hmac(s->scram, s->cred.server_key, hl, s->auth_msg, s->auth_len, sig))
		return fail(s, "cannot sign the answer");
	char b64[VS_B64_LEN(VS_SCRAM_MAX_HASH) + 1];
	vs_b64_encode(sig, hl, b64, sizeof b64);
	int len = snprintf((char *)out, cap, "v=%s", b64);
	if (len < 0 || (size_t)len >= cap)
		return fail(s, "answer buffer too small");
	*out_len = (size_t)len;
	s->state = S_DONE;
	return VS_SASL_DONE;
}

/* ---- PLAIN ----------------------------------------------------------------------------- */

static int plain(vs_sasl *s, const uint8_t *in, size_t n, size_t *out_len)
{
	const uint8_t *nul1 = memchr(in, 0, n);
	const uint8_t *nul2 = nul1 ? memchr(nul1 + 1, 0, n - (size_t)(nul1 + 1 - in)) : NULL;
	if (!nul2)
		return fail(s, "malformed PLAIN message");
	size_t zlen = (size_t)(nul1 - in), ulen = (size_t)(nul2 - nul1 - 1);
	const uint8_t *pw = nul2 + 1;
	size_t plen = n - (size_t)(pw - in);
	if (memchr(pw, 0, plen) || plen == 0 || plen > PLAIN_MAX_FIELD || ulen == 0 ||
	    ulen > VS_SCRAM_MAX_USER)
		return fail(s, "malformed PLAIN message");
	if (zlen && (zlen != ulen || memcmp(in, nul1 + 1, ulen)))
		return fail(s, "the authorization id is not the user name");
	memcpy(s->user, nul1 + 1, ulen);
	s->user[ulen] = 0;
	vs_scram_cred cred;
	bool known = lookup(s, VS_SCRAM_SHA_256, &cred) || lookup(s, VS_SCRAM_SHA_512, &cred);
	if (!known && fake_cred(s, VS_SCRAM_SHA_256, &cred))
		return fail(s, "out of memory");
	/* the same PBKDF2 work whether or not the user exists */
	int good = vs_scram_check_password(&cred, pw, plen) && known;
	OPENSSL_cleanse(&cred, sizeof cred);
	if (!good)
		return fail(s, known ? "wrong password" : "no credential for this user");
	*out_len = 0;
	s->state = S_DONE;
	return VS_SASL_DONE;
}

int vs_sasl_step(vs_sasl *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	*out_len = 0;
	if (!in && n)
		return fail(s, "no token");
	if (n > VS_SASL_MAX_TOKEN)
		return fail(s, "token too large");
	static const uint8_t empty;
	if (!in)
		in = &empty;
	switch (s->state) {
	case S_START:
		if (!s->scram)
			return plain(s, in, n, out_len);
		return scram_first(s, in, n, out, cap, out_len);
	case S_FINAL:
		return scram_final(s, in, n, out, cap, out_len);
	default:
		s->state = S_FAILED;
		return VS_SASL_FAILED;
	}
}
