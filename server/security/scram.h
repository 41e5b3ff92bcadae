/* SPDX-License-Identifier: MIT */
/*
 * scram.h -- SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677): the
 * credential a server keeps (salt, iteration count, StoredKey, ServerKey;
 * never the password), its derivation, and strict parsers of the two
 * client messages. The exchange itself (nonces, proof check, the server's
 * signature) is the server's state machine in sasl.h.
 *
 *   SaltedPassword = PBKDF2-HMAC-H(password, salt, i)
 *   ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey)
 *   ServerKey = HMAC(SaltedPassword, "Server Key")
 *
 * Parsers take bytes from the network: every length is checked against
 * the bytes present, messages longer than VS_SCRAM_MAX_MESSAGE are
 * refused, and results point into the caller's message (spans) or into the
 * result struct (the decoded user name, the proof). What the grammar of RFC
 * 5802 section 7 does not allow is refused, with two exceptions taken from
 * Kafka: extensions after the nonce are accepted in both messages (and
 * reported when they ask for delegation-token authentication, which varve
 * does not offer), and channel binding is refused ("p=").
 *
 * Calls OpenSSL (PBKDF2, HMAC, digests) and libc.
 */
#ifndef VS_SECURITY_SCRAM_H
#define VS_SECURITY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	VS_SCRAM_SHA_256 = 1,
	VS_SCRAM_SHA_512 = 2
};

#define VS_SCRAM_MAX_HASH 64       /* SHA-512 */
#define VS_SCRAM_MIN_SALT 8
#define VS_SCRAM_MAX_SALT 64
#define VS_SCRAM_SALT_BYTES 24     /* what `varve user add` makes */
/* Kafka's bounds for the iteration count; 4096 is its default */
#define VS_SCRAM_MIN_ITERATIONS 4096
#define VS_SCRAM_MAX_ITERATIONS 16384
#define VS_SCRAM_DEFAULT_ITERATIONS 4096
#define VS_SCRAM_MAX_USER 255      /* bytes of a decoded user name */
#define VS_SCRAM_MAX_NONCE 512
#define VS_SCRAM_MAX_MESSAGE 4096

/* A run of bytes inside a message. */
typedef struct vs_scram_span {
	const char *p;
	size_t n;
} vs_scram_span;

typedef struct vs_scram_cred {
	int mech; /* VS_SCRAM_* */
	uint32_t iterations;
	size_t salt_len;
	uint8_t salt[VS_SCRAM_MAX_SALT];
	uint8_t stored_key[VS_SCRAM_MAX_HASH];
	uint8_t server_key[VS_SCRAM_MAX_HASH];
} vs_scram_cred;

/* "SCRAM-SHA-256" / "SCRAM-SHA-512", or NULL. */
const char *vs_scram_mech_name(int mech);
/* The mechanism of a name (exact, case-sensitive), or 0. */
int vs_scram_mech_by_name(const char *name, size_t len);
/* 32 or 64; 0 for an unknown mechanism. */
size_t vs_scram_hash_len(int mech);

/* The credential for password with this salt and iteration count (the
 * iteration count is not checked against the bounds here). 0, or -1 for
 * bad arguments or an OpenSSL failure. */
int vs_scram_derive(int mech, const void *password, size_t password_len, const uint8_t *salt,
		    size_t salt_len, uint32_t iterations, vs_scram_cred *out);
/* 1 if password derives cred's StoredKey (compared in constant time), 0
 * otherwise. Costs cred->iterations rounds of PBKDF2. */
int vs_scram_check_password(const vs_scram_cred *cred, const void *password, size_t password_len);

/* HMAC-H(key, data) into out (vs_scram_hash_len bytes); H(data) likewise. */
int vs_scram_hmac(int mech, const uint8_t *key, size_t key_len, const void *data, size_t len,
		  uint8_t *out);
int vs_scram_hash(int mech, const void *data, size_t len, uint8_t *out);

/* ---- base64 (RFC 4648, with padding) ---------------------------------------- */

/* Encoded length of n bytes (the macro for array sizes). */
#define VS_B64_LEN(n) (((n) + 2) / 3 * 4)
size_t vs_b64_len(size_t n);
/* Encode into out (vs_b64_len(n) + 1 bytes, NUL-terminated); returns the
 * length, or 0 if cap is too small. */
size_t vs_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Decode canonical base64 only (padding required, no whitespace, unused
 * bits zero); *out_len gets the length. 0, or -1 if malformed or longer
 * than cap. */
int vs_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* ---- client messages ---------------------------------------------------------- */

typedef struct vs_scram_client_first {
	vs_scram_span gs2_header; /* "n,," or "y,," or "n,a=NAME,": what c= must encode */
	vs_scram_span bare;       /* client-first-message-bare, for the AuthMessage */
	vs_scram_span nonce;      /* the client's nonce */
	bool has_authzid;
	bool token_auth;          /* the extension tokenauth=true (delegation tokens) */
	size_t user_len;
	char user[VS_SCRAM_MAX_USER + 1]; /* decoded ("=2C" -> ",", "=3D" -> "=") */
	size_t authzid_len;
	char authzid[VS_SCRAM_MAX_USER + 1];
} vs_scram_client_first;

typedef struct vs_scram_client_final {
	vs_scram_span channel_binding; /* the base64 after "c=" */
	vs_scram_span nonce;           /* the whole nonce after "r=" */
	vs_scram_span without_proof;   /* client-final-message-without-proof */
	size_t proof_len;
	uint8_t proof[VS_SCRAM_MAX_HASH];
} vs_scram_client_final;

/* 0, or -1 when the message is not a client-first-message varve accepts. */
int vs_scram_parse_client_first(const char *msg, size_t n, vs_scram_client_first *out);
/* 0, or -1 when the message is not a client-final-message (a proof longer
 * than VS_SCRAM_MAX_HASH bytes included). */
int vs_scram_parse_client_final(const char *msg, size_t n, vs_scram_client_final *out);

/* A SCRAM saslname decoded into out (cap bytes, NUL-terminated): 0, or -1
 * for an empty or malformed name, a NUL byte, broken UTF-8, or one longer
 * than cap - 1 bytes. */
int vs_scram_decode_name(const char *p, size_t n, char *out, size_t cap, size_t *out_len);

#endif
