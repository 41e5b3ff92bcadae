/* SPDX-License-Identifier: MIT */
/*
 * sasl.h -- the server side of a SASL exchange, one per authenticating
 * connection: PLAIN (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802,
 * RFC 7677). Bytes in from the client's token, bytes out for the answer;
 * framing (SaslAuthenticate, or raw tokens after SaslHandshake v0) is the
 * broker's (server/broker/h_sasl.c).
 *
 * SCRAM: client-first -> server-first (our nonce from a CSPRNG appended to
 * the client's, the salt, the iteration count); client-final -> the proof
 * is checked against StoredKey, and the answer carries the server's
 * signature. A user without a credential for the mechanism gets a
 * server-first made from a salt derived from a per-server secret and the
 * name, and fails at the proof exactly as a wrong password does, so the
 * answers do not tell whether a user exists (RFC 5802 section 5.1).
 *
 * PLAIN: "authzid NUL authcid NUL password"; the password is checked by
 * deriving the user's SCRAM credential from it (SCRAM-SHA-256's if the user
 * has one, else SCRAM-SHA-512's): the server never stores a password. That
 * costs the credential's PBKDF2 rounds per attempt. An unknown user costs
 * the same rounds.
 *
 * In both, an authorization id other than the user's own is refused (as
 * Kafka does), and so is SCRAM's tokenauth extension (varve has no
 * delegation tokens). Secrets (keys, the password in a PLAIN token) are
 * wiped after use; comparisons of keys are constant-time.
 *
 * Calls scram.h, OpenSSL (RAND_bytes, CRYPTO_memcmp) and libc.
 */
#ifndef VS_SECURITY_SASL_H
#define VS_SECURITY_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "scram.h"

/* Mechanisms, as bits of a set. */
enum {
	VS_SASL_PLAIN = 1,
	VS_SASL_SCRAM_SHA_256 = 2,
	VS_SASL_SCRAM_SHA_512 = 4
};
#define VS_SASL_ALL_MECHANISMS (VS_SASL_PLAIN | VS_SASL_SCRAM_SHA_256 | VS_SASL_SCRAM_SHA_512)
#define VS_SASL_DEFAULT_MECHANISMS (VS_SASL_SCRAM_SHA_256 | VS_SASL_SCRAM_SHA_512)
/* The largest token an unauthenticated client may send. */
#define VS_SASL_MAX_TOKEN 65536
/* Room for any answer vs_sasl_step makes. */
#define VS_SASL_MAX_OUT 1024
#define VS_SASL_SECRET_BYTES 32

/* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" for one bit; NULL otherwise. */
const char *vs_sasl_mech_name(unsigned mech);
/* The bit of a name (exact), or 0. */
unsigned vs_sasl_mech_by_name(const char *name, size_t len);
/* A comma-separated list into a set: 0, or -1 with the first unknown name
 * copied into bad (or "" for an empty list). */
int vs_sasl_mechanisms_parse(const char *list, unsigned *out, char *bad, size_t bad_cap);
/* The names of a set, strongest first (SCRAM-SHA-512, SCRAM-SHA-256,
 * PLAIN), into names[]; returns how many. */
size_t vs_sasl_mechanism_names(unsigned set, const char **names, size_t cap);

typedef struct vs_sasl_env {
	/* The SCRAM credential of user for scram_mech (VS_SCRAM_*): 1 and
	 * *out filled, or 0 if there is none. */
	int (*lookup)(void *ctx, const char *user, size_t len, int scram_mech, vs_scram_cred *out);
	void *ctx;
	/* The server's part of a SCRAM nonce into out (cap bytes, printable
	 * ASCII without ','): its length, or 0 on failure. NULL: 24 bytes of
	 * RAND_bytes in base64. (Tests replay RFC vectors with their own.) */
	size_t (*nonce)(void *ctx, char *out, size_t cap);
	/* Random per server: the salts shown for unknown users. */
	uint8_t secret[VS_SASL_SECRET_BYTES];
} vs_sasl_env;

enum {
	VS_SASL_CONTINUE = 0, /* send the answer, expect another token */
	VS_SASL_DONE = 1,     /* authenticated: send the answer (may be empty) */
	VS_SASL_FAILED = -1   /* authentication failed: nothing to send */
};

typedef struct vs_sasl vs_sasl;

/* A session for one mechanism bit (env is copied). NULL when out of
 * memory or for a mechanism that is not one bit of VS_SASL_ALL_MECHANISMS. */
vs_sasl *vs_sasl_new(unsigned mech, const vs_sasl_env *env);
/* Feed one client token; the answer goes to out (cap >= VS_SASL_MAX_OUT
 * always suffices), its length to *out_len. After DONE or FAILED every
 * step fails. */
int vs_sasl_step(vs_sasl *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);
/* After DONE: the authenticated user name (NUL-terminated). */
const char *vs_sasl_user(const vs_sasl *s);
/* After FAILED: why, for the server's log (the client is told only that
 * authentication failed). */
const char *vs_sasl_reason(const vs_sasl *s);
unsigned vs_sasl_mechanism(const vs_sasl *s);
void vs_sasl_free(vs_sasl *s);

#endif
