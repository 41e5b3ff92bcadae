/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kafka_request -- the broker's Kafka request codec (server/protocol)
 * on hostile bytes: the request header parser, every request decoder, and
 * (for the other direction) every response decoder, with the encoders
 * checked against them.
 *
 * Input layout: byte 0 picks the mode.
 *   even: the rest is a request frame as the broker gets it (the bytes after
 *         the 4-byte size). The header is parsed; a supported API is decoded
 *         with an arena capped at 4 MiB. A decoded request must re-encode to
 *         a frame that parses and decodes again, and encoding that second
 *         decode must give the same bytes (the codec is a fixed point after
 *         one pass: bytes it ignores, such as unknown tags or trailing
 *         bytes, are dropped once). The client id must lie inside the
 *         input; other slices are read by the encoder, so ASan sees one
 *         that points outside it.
 *   odd:  byte 1 picks an API from kproto's table (modulo its size), byte 2
 *         a version in its range; the rest is a response body. A decoded
 *         response must re-encode, decode and encode to the same bytes.
 * The header parser's three outcomes are checked against vs_api_supported.
 *
 * Only decoding failures with KE_INVALID_REQUEST (or KE_UNKNOWN_SERVER_ERROR
 * for the arena) are allowed; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/karena.h"
#include "protocol/kbuf.h"
#include "protocol/kerrors.h"
#include "protocol/kmsg.h"
#include "protocol/kproto.h"

#define TARGET "fuzz_kafka_request"
#define ARENA_CAP (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", TARGET, what);
	abort();
}

static void check_decode_rc(int rc)
{
	if (rc != KE_NONE && rc != KE_INVALID_REQUEST && rc != KE_UNKNOWN_SERVER_ERROR)
		fail("a decoder returned an undocumented code");
}

/* Encode, decode and encode again: the two encodings must be equal. */
static void request_fixed_point(const vs_request_header *h, const vs_request *req, vs_arena *a)
{
	vs_wbuf w1, w2;
	vs_wbuf_init(&w1);
	vs_wbuf_init(&w2);
	if (vs_request_encode(&w1, h, req) != KE_NONE)
		fail("a decoded request does not encode");
	vs_request_header h2;
	vs_rbuf body;
	if (vs_request_header_parse(w1.buf + 4, w1.len - 4, &h2, &body) != KE_NONE)
		fail("an encoded request header does not parse");
	if (h2.api_key != h->api_key || h2.api_version != h->api_version ||
	    h2.correlation_id != h->correlation_id)
		fail("the header changed through encode and parse");
	vs_request again;
	vs_arena_reset(a);
	if (vs_request_decode(h2.api_key, h2.api_version, &body, a, &again) != KE_NONE)
		fail("an encoded request does not decode");
	if (vs_rbuf_left(&body) != 0)
		fail("an encoded request has trailing bytes");
	if (vs_request_encode(&w2, &h2, &again) != KE_NONE)
		fail("a re-decoded request does not encode");
	if (w1.len != w2.len || memcmp(w1.buf, w2.buf, w1.len) != 0)
		fail("request encode(decode(encode(x))) differs from encode(x)");
	vs_wbuf_free(&w1);
	vs_wbuf_free(&w2);
}

/* Decoded slices are checked through the encoder, which needs no per-API
 * code: it copies every slice, and one pointing outside the input (which
 * has a heap block of its own) is an out-of-bounds read for ASan. */
static void run_request(const uint8_t *frame, size_t len, vs_arena *a)
{
	vs_request_header h;
	vs_rbuf body;
	int rc = vs_request_header_parse(frame, len, &h, &body);
	if (rc == KE_INVALID_REQUEST)
		return;
	if (rc == KE_UNSUPPORTED_VERSION) {
		if (vs_api_supported(h.api_key, h.api_version))
			fail("a supported version was called unsupported");
		return;
	}
	if (rc != KE_NONE || !vs_api_supported(h.api_key, h.api_version))
		fail("the header parser accepted an unsupported version");
	if (h.client_id.ptr && (h.client_id.ptr < frame || h.client_id.ptr + h.client_id.len > frame + len))
		fail("client_id outside the frame");
	vs_request req;
	vs_arena_reset(a);
	rc = vs_request_decode(h.api_key, h.api_version, &body, a, &req);
	check_decode_rc(rc);
	if (rc != KE_NONE)
		return;
	if (a->used > ARENA_CAP)
		fail("the arena passed its cap");
	request_fixed_point(&h, &req, a);
}

static void run_response(const uint8_t *data, size_t size, vs_arena *a)
{
	if (size < 3)
		return;
	const vs_api_info *api = vs_api_at(data[1] % vs_api_count());
	int span = api->max_version - api->min_version + 1;
	int16_t v = (int16_t)(api->min_version + data[2] % span);
	vs_rbuf body;
	vs_rbuf_init(&body, data + 3, size - 3);
	vs_response resp;
	vs_arena_reset(a);
	int rc = vs_response_decode(api->key, v, &body, a, &resp);
	check_decode_rc(rc);
	if (rc != KE_NONE)
		return;
	vs_wbuf w1, w2;
	vs_wbuf_init(&w1);
	vs_wbuf_init(&w2);
	if (vs_response_encode(&w1, api->key, v, 1, &resp) != KE_NONE)
		fail("a decoded response does not encode");
	vs_rbuf r;
	vs_rbuf_init(&r, w1.buf + 4, w1.len - 4);
	int32_t corr;
	if (vs_response_header_parse(&r, api->key, v, &corr) != KE_NONE || corr != 1)
		fail("an encoded response header does not parse");
	vs_response again;
	vs_arena_reset(a);
	if (vs_response_decode(api->key, v, &r, a, &again) != KE_NONE)
		fail("an encoded response does not decode");
	if (vs_response_encode(&w2, api->key, v, 1, &again) != KE_NONE)
		fail("a re-decoded response does not encode");
	if (w1.len != w2.len || memcmp(w1.buf, w2.buf, w1.len) != 0)
		fail("response encode(decode(encode(x))) differs from encode(x)");
	vs_wbuf_free(&w1);
	vs_wbuf_free(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	/* the frame in a buffer of its own, so an overread hits ASan */
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	vs_arena a;
	vs_arena_init(&a, ARENA_CAP);
	if (copy[0] & 1)
		run_response(copy, size, &a);
	else
		run_request(copy + 1, size - 1, &a);
	vs_arena_free(&a);
	free(copy);
	return 0;
}
