/* SPDX-License-Identifier: MIT */
/*
 * kt_util.h -- helpers shared by the server/protocol test suites: golden
 * vectors (request frames captured from real clients, vectors/NAME.bin, see
 * README.md), hex images of expected bytes, byte comparison that names
 * the first difference, and round trips through the codecs.
 *
 * Helpers assert (cr_assert) on their own when the test cannot go on.
 */
#ifndef KT_UTIL_H
#define KT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/karena.h"
#include "protocol/kbuf.h"
#include "protocol/kerrors.h"
#include "protocol/kmsg.h"
#include "protocol/kproto.h"

/* A decoded request vector. The frame is owned (free with kt_req_free);
 * slices in req point into it. */
typedef struct kt_req {
	uint8_t *frame;
	size_t len;
	vs_request_header h;
	vs_request req;
	vs_arena arena;
	size_t trailing; /* bytes left after the message */
} kt_req;

/* vectors/<name>.bin, malloc'ed. */
uint8_t *kt_load(const char *name, size_t *len);
/* Load, parse the header (must be key/version) and decode the body. */
void kt_req_load(kt_req *k, const char *name, int16_t key, int16_t version);
void kt_req_free(kt_req *k);
/* Encoding k->req with k->h must give the frame back byte for byte (minus
 * k->trailing bytes at the end). */
void kt_req_assert_reencodes(const kt_req *k);

/* 1 if s holds exactly the NUL-terminated z (and is not null). */
int kt_is(vs_slice s, const char *z);
/* A slice of a C string (not null; "" is empty). */
vs_slice kt_s(const char *z);

/* Hex digits to bytes; whitespace and '|' are ignored. Returns the byte
 * count (asserts on odd digits or overflow). */
size_t kt_hex(const char *hex, uint8_t *out, size_t cap);
/* Assert got == want, naming the first differing offset. */
void kt_assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len);
/* Assert that an encoded response frame equals the hex image. */
void kt_assert_frame_hex(const vs_wbuf *w, const char *hex);

/* Encode resp at (key, version), check the frame's size prefix and
 * correlation id, decode the body back into *out (arena a), and check that
 * encoding *out gives the same bytes again. Returns the frame, which *out
 * points into: it stays valid until the next call. */
const vs_wbuf *kt_response_roundtrip(int16_t key, int16_t version, const vs_response *resp,
				     vs_arena *a, vs_response *out);
/* The same for a request: encode, parse the header, decode, re-encode. */
const vs_wbuf *kt_request_roundtrip(int16_t key, int16_t version, const vs_request *req, vs_arena *a,
				    vs_request *out);

#endif
