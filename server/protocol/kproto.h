/* SPDX-License-Identifier: MIT */
/*
 * kproto.h -- which Kafka APIs the broker speaks, and the frame around
 * every message: the request header (v1, v2) and the response header (v0,
 * v1), with the 4-byte size prefix of a frame.
 *
 * The API table (kproto.c, documented in VERSIONS.md) lists each API with
 * the range of versions implemented by the codecs in kmsg.h and the first
 * version in which the API is "flexible" (KIP-482: compact strings, arrays
 * and bytes, a tagged-field section at the end of every structure). The
 * same table answers ApiVersions, so what is advertised is exactly what
 * decodes.
 *
 * Header versions follow from flexibility: a flexible request uses request
 * header v2 (client_id stays a non-compact nullable string; a tagged-field
 * section follows) and response header v1 (correlation id + empty tagged
 * fields); others use request header v1 and response header v0. The one
 * exception is ApiVersions, whose response header is always v0 so that a
 * client can read the answer whatever version it asked in (KIP-511).
 *
 * Every function here returns a Kafka error code (kerrors.h) where it can
 * fail: KE_NONE on success.
 */
#ifndef VS_KPROTO_H
#define VS_KPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "kbuf.h"

enum vs_api_key {
	VS_API_PRODUCE = 0,
	VS_API_FETCH = 1,
	VS_API_LIST_OFFSETS = 2,
	VS_API_METADATA = 3,
	VS_API_OFFSET_COMMIT = 8,
	VS_API_OFFSET_FETCH = 9,
	VS_API_FIND_COORDINATOR = 10,
	VS_API_JOIN_GROUP = 11,
	VS_API_HEARTBEAT = 12,
	VS_API_LEAVE_GROUP = 13,
	VS_API_SYNC_GROUP = 14,
	VS_API_DESCRIBE_GROUPS = 15,
	VS_API_LIST_GROUPS = 16,
	VS_API_SASL_HANDSHAKE = 17,
	VS_API_API_VERSIONS = 18,
	VS_API_CREATE_TOPICS = 19,
	VS_API_DELETE_TOPICS = 20,
	VS_API_DELETE_RECORDS = 21,
	VS_API_INIT_PRODUCER_ID = 22,
	VS_API_DESCRIBE_ACLS = 29,
	VS_API_CREATE_ACLS = 30,
	VS_API_DELETE_ACLS = 31,
	VS_API_DESCRIBE_CONFIGS = 32,
	VS_API_ALTER_CONFIGS = 33,
	VS_API_SASL_AUTHENTICATE = 36,
	VS_API_CREATE_PARTITIONS = 37,
	VS_API_DELETE_GROUPS = 42,
	VS_API_INCREMENTAL_ALTER_CONFIGS = 44,
	/* varve's own APIs, for varve's tools (VERSIONS.md): keys far outside
	 * Kafka's, served but never advertised in ApiVersions */
	VS_API_VARVE_CLEAN = 30000
};

/* first_flexible for an API with no flexible version in its range */
#define VS_NOT_FLEXIBLE INT16_MAX

typedef struct vs_api_info {
	int16_t key;
	int16_t min_version, max_version;
	int16_t first_flexible;
	const char *name; /* Kafka's name, e.g. "ApiVersions" */
} vs_api_info;

/* The table entry of an API, or NULL for an API not implemented. varve's
 * own APIs (VS_API_VARVE_*) are found here, so their headers parse and
 * their codecs work, but vs_api_count and vs_api_at leave them out: what
 * walks the table (ApiVersions) never shows them to Kafka clients. */
const vs_api_info *vs_api_lookup(int16_t key);
/* 1 if the API is implemented at this version, 0 otherwise. */
int vs_api_supported(int16_t key, int16_t version);
/* Iteration in ascending key order: for (i = 0; i < vs_api_count(); i++). */
size_t vs_api_count(void);
const vs_api_info *vs_api_at(size_t i);
/* 1 if that version of a supported API is flexible. */
int vs_api_flexible(int16_t key, int16_t version);

/* 1 or 2 for a supported API and version, -1 otherwise. */
int vs_request_header_version(int16_t key, int16_t version);
/* 0 or 1 for a supported API and version, -1 otherwise. */
int vs_response_header_version(int16_t key, int16_t version);

typedef struct vs_request_header {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	vs_slice client_id; /* VS_SLICE_NULL when the client sent null */
	int8_t header_version; /* 1 or 2; 0 until the header is fully parsed */
} vs_request_header;

/* The fixed part every request header starts with. */
#define VS_REQUEST_HEADER_FIXED 8

/*
 * Parse the header of a request frame (the bytes after the size prefix).
 * Returns:
 *   KE_NONE                 the API and version are implemented and the
 *                           whole header parsed; *body holds the rest of
 *                           the frame, for vs_request_decode.
 *   KE_UNSUPPORTED_VERSION  api_key, api_version and correlation_id are set,
 *                           but the API is unknown or the version outside
 *                           its range; the rest is not parsed. Kafka answers
 *                           an ApiVersions request in this case with an
 *                           ApiVersions v0 response carrying this error and
 *                           the table, and closes the connection for any
 *                           other API.
 *   KE_INVALID_REQUEST      the header cannot be parsed (fewer than 8 bytes,
 *                           a bad client_id or tagged-field section); when
 *                           len >= 8 the three fixed fields are still set,
 *                           but the connection should be closed.
 */
int vs_request_header_parse(const uint8_t *frame, size_t len, vs_request_header *h, vs_rbuf *body);

/*
 * Frames. A *_begin writes the 4-byte size placeholder and the header and
 * returns the frame's start; the caller writes the body; vs_frame_end
 * patches the size. vs_frame_end returns KE_NONE, or KE_UNKNOWN_SERVER_ERROR
 * if the writer failed (out of memory, a string too long for its type) or
 * the frame grew past INT32_MAX bytes. begin of an unsupported version
 * sets the writer's error, so the end reports it.
 */
size_t vs_response_begin(vs_wbuf *w, int16_t key, int16_t version, int32_t correlation_id);
size_t vs_request_begin(vs_wbuf *w, const vs_request_header *h);
int vs_frame_end(vs_wbuf *w, size_t start);

/* Read a response header (after the size prefix) for a request of that API
 * and version: KE_NONE, KE_INVALID_REQUEST (truncated), or
 * KE_UNSUPPORTED_VERSION (not in the table). */
int vs_response_header_parse(vs_rbuf *r, int16_t key, int16_t version, int32_t *correlation_id);

#endif
