/* SPDX-License-Identifier: MIT */
/*
 * kmsg.c -- the entry points of kmsg.h: check the API and version against
 * kproto's table, set up a walk (kio.h) in the right direction and
 * flexibility, dispatch to the API's walker, and map the outcome to a
 * Kafka error code. The walkers live in kmsg_data.c, kmsg_admin.c,
 * kmsg_group.c and kmsg_security.c.
 */
#include <string.h>

#include "kerrors.h"
#include "kio.h"

#define CASE_REQUEST(name, KEY)                                     \
	case VS_API_##KEY:                                          \
		vs_walk_##name##_request(io, &((vs_request *)m)->name); \
		break;
#define CASE_RESPONSE(name, KEY)                                      \
	case VS_API_##KEY:                                            \
		vs_walk_##name##_response(io, &((vs_response *)m)->name); \
		break;

/* m is a vs_request or vs_response as `request` says. */
static void walk(vs_io *io, int16_t key, bool request, void *m)
{
	if (request) {
		switch (key) {
			VS_WALKERS(CASE_REQUEST)
		default:
			io->err = VS_KBUF_MALFORMED;
		}
	} else {
		switch (key) {
			VS_WALKERS(CASE_RESPONSE)
		default:
			io->err = VS_KBUF_MALFORMED;
		}
	}
}

static int decode(int16_t key, int16_t version, bool request, vs_rbuf *body, vs_arena *a, void *out,
		  size_t out_size)
{
	memset(out, 0, out_size);
	if (!vs_api_supported(key, version))
		return KE_UNSUPPORTED_VERSION;
	size_t len = vs_rbuf_left(body);
	vs_arena_set_budget(a, len > (SIZE_MAX - 4096) / 96 ? SIZE_MAX : VS_ARENA_BUDGET(len));
	vs_io io = { body, NULL, a, version, vs_api_flexible(key, version), 0 };
	walk(&io, key, request, out);
	if (io.err == VS_KBUF_NOMEM)
		return KE_UNKNOWN_SERVER_ERROR;
	/* bytes after the message are left in *body, unread (kmsg.h) */
	return io.err || body->err ? KE_INVALID_REQUEST : KE_NONE;
}

int vs_request_decode(int16_t key, int16_t version, vs_rbuf *body, vs_arena *a, vs_request *out)
{
	return decode(key, version, true, body, a, out, sizeof *out);
}

int vs_response_decode(int16_t key, int16_t version, vs_rbuf *body, vs_arena *a, vs_response *out)
{
	return decode(key, version, false, body, a, out, sizeof *out);
}

static int encode_body(vs_wbuf *w, int16_t key, int16_t version, bool request, const void *m,
		       size_t start)
{
	vs_io io = { NULL, w, NULL, version, vs_api_flexible(key, version), 0 };
	/* the walk only reads the message when encoding (kio.h) */
	walk(&io, key, request, (void *)m);
	if (io.err && !w->err)
		w->err = io.err;
	return vs_frame_end(w, start);
}

int vs_response_encode(vs_wbuf *w, int16_t key, int16_t version, int32_t correlation_id,
		       const vs_response *resp)
{
	if (!vs_api_supported(key, version))
		return KE_UNSUPPORTED_VERSION;
	size_t start = vs_response_begin(w, key, version, correlation_id);
	return encode_body(w, key, version, false, resp, start);
}

int vs_request_encode(vs_wbuf *w, const vs_request_header *h, const vs_request *req)
{
	if (!vs_api_supported(h->api_key, h->api_version))
		return KE_UNSUPPORTED_VERSION;
	size_t start = vs_request_begin(w, h);
	return encode_body(w, h->api_key, h->api_version, true, req, start);
}
