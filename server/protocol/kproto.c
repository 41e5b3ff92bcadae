/* SPDX-License-Identifier: MIT */
/*
 * kproto.c -- the table of implemented APIs and the request/response
 * headers (see kproto.h). Why each range is what it is, client by client,
 * is in VERSIONS.md; a change here must change the codecs in kmsg_*.c and
 * that file too.
 */
#include "kerrors.h"
#include "kproto.h"

/* Ascending key order (vs_api_lookup relies on it). first_flexible is
 * Kafka's, also when it lies past max_version. */
static const vs_api_info api_table[] = {
	{ VS_API_PRODUCE, 3, 7, 9, "Produce" },
	{ VS_API_FETCH, 4, 11, 12, "Fetch" },
	{ VS_API_LIST_OFFSETS, 0, 2, 6, "ListOffsets" },
	{ VS_API_METADATA, 0, 4, 9, "Metadata" },
	{ VS_API_OFFSET_COMMIT, 0, 7, 8, "OffsetCommit" },
	{ VS_API_OFFSET_FETCH, 0, 7, 6, "OffsetFetch" },
	{ VS_API_FIND_COORDINATOR, 0, 2, 3, "FindCoordinator" },
	{ VS_API_JOIN_GROUP, 0, 5, 6, "JoinGroup" },
	{ VS_API_HEARTBEAT, 0, 3, 4, "Heartbeat" },
	{ VS_API_LEAVE_GROUP, 0, 1, 4, "LeaveGroup" },
	{ VS_API_SYNC_GROUP, 0, 3, 4, "SyncGroup" },
	{ VS_API_DESCRIBE_GROUPS, 0, 4, 5, "DescribeGroups" },
	{ VS_API_LIST_GROUPS, 0, 4, 3, "ListGroups" },
	{ VS_API_SASL_HANDSHAKE, 0, 1, VS_NOT_FLEXIBLE, "SaslHandshake" },
	{ VS_API_API_VERSIONS, 0, 3, 3, "ApiVersions" },
	{ VS_API_CREATE_TOPICS, 0, 4, 5, "CreateTopics" },
	{ VS_API_DELETE_TOPICS, 0, 3, 4, "DeleteTopics" },
	{ VS_API_DELETE_RECORDS, 0, 1, 2, "DeleteRecords" },
	{ VS_API_INIT_PRODUCER_ID, 0, 4, 2, "InitProducerId" },
	{ VS_API_DESCRIBE_ACLS, 0, 1, 2, "DescribeAcls" },
	{ VS_API_CREATE_ACLS, 0, 1, 2, "CreateAcls" },
	{ VS_API_DELETE_ACLS, 0, 1, 2, "DeleteAcls" },
	{ VS_API_DESCRIBE_CONFIGS, 0, 2, 4, "DescribeConfigs" },
	{ VS_API_ALTER_CONFIGS, 0, 1, 2, "AlterConfigs" },
	{ VS_API_SASL_AUTHENTICATE, 0, 1, 2, "SaslAuthenticate" },
	{ VS_API_CREATE_PARTITIONS, 0, 1, 2, "CreatePartitions" },
	{ VS_API_DELETE_GROUPS, 0, 1, 2, "DeleteGroups" },
	{ VS_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, 1, "IncrementalAlterConfigs" },
};

#define API_COUNT (sizeof api_table / sizeof api_table[0])

/* varve's own APIs (kproto.h): found by vs_api_lookup, not listed by
 * vs_api_count / vs_api_at. */
static const vs_api_info private_table[] = {
	{ VS_API_VARVE_CLEAN, 0, 0, VS_NOT_FLEXIBLE, "VarveClean" },
};

const vs_api_info *vs_api_lookup(int16_t key)
{
	size_t lo = 0, hi = API_COUNT;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (api_table[mid].key == key)
			return &api_table[mid];
		if (api_table[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = 0; i < sizeof private_table / sizeof private_table[0]; i++)
		if (private_table[i].key == key)
			return &private_table[i];
	return NULL;
}

int vs_api_supported(int16_t key, int16_t version)
{
	const vs_api_info *a = vs_api_lookup(key);
	return a && version >= a->min_version && version <= a->max_version;
}

size_t vs_api_count(void) { return API_COUNT; }

const vs_api_info *vs_api_at(size_t i) { return i < API_COUNT ? &api_table[i] : NULL; }

int vs_api_flexible(int16_t key, int16_t version)
{
	const vs_api_info *a = vs_api_lookup(key);
	return a && vs_api_supported(key, version) && version >= a->first_flexible;
}

int vs_request_header_version(int16_t key, int16_t version)
{
	if (!vs_api_supported(key, version))
		return -1;
	return vs_api_flexible(key, version) ? 2 : 1;
}

int vs_response_header_version(int16_t key, int16_t version)
{
	if (!vs_api_supported(key, version))
		return -1;
	if (key == VS_API_API_VERSIONS)
		return 0; /* KIP-511: always v0, so any client can read it */
	return vs_api_flexible(key, version) ? 1 : 0;
}

int vs_request_header_parse(const uint8_t *frame, size_t len, vs_request_header *h, vs_rbuf *body)
{
	vs_rbuf r;
	vs_rbuf_init(&r, frame, len);
	h->api_key = vs_r_i16(&r);
	h->api_version = vs_r_i16(&r);
	h->correlation_id = vs_r_i32(&r);
	h->client_id = VS_SLICE_NULL;
	h->header_version = 0;
	vs_rbuf_init(body, NULL, 0);
	if (r.err)
		return KE_INVALID_REQUEST;
	int hv = vs_request_header_version(h->api_key, h->api_version);
	if (hv < 0)
		return KE_UNSUPPORTED_VERSION;
	/* client_id is a plain NULLABLE_STRING in header v2 too (KIP-482) */
	h->client_id = vs_r_nstring(&r, 0, NULL);
	if (hv >= 2)
		vs_r_skip_tags(&r);
	if (r.err) {
		h->client_id = VS_SLICE_NULL;
		return KE_INVALID_REQUEST;
	}
	h->header_version = (int8_t)hv;
	*body = r;
	return KE_NONE;
}

size_t vs_response_begin(vs_wbuf *w, int16_t key, int16_t version, int32_t correlation_id)
{
	size_t start = vs_w_hole32(w);
	int hv = vs_response_header_version(key, version);
	if (hv < 0 && !w->err)
		w->err = VS_KBUF_LIMIT;
	vs_w_i32(w, correlation_id);
	if (hv >= 1)
		vs_w_empty_tags(w);
	return start;
}

size_t vs_request_begin(vs_wbuf *w, const vs_request_header *h)
{
	size_t start = vs_w_hole32(w);
	int hv = vs_request_header_version(h->api_key, h->api_version);
	if (hv < 0 && !w->err)
		w->err = VS_KBUF_LIMIT;
	vs_w_i16(w, h->api_key);
	vs_w_i16(w, h->api_version);
	vs_w_i32(w, h->correlation_id);
	vs_w_nstring(w, 0, h->client_id.ptr, h->client_id.len);
	if (hv >= 2)
		vs_w_empty_tags(w);
	return start;
}

int vs_frame_end(vs_wbuf *w, size_t start)
{
	if (w->err)
		return KE_UNKNOWN_SERVER_ERROR;
	size_t size = w->len - start - 4;
	if (size > INT32_MAX) {
		w->err = VS_KBUF_LIMIT;
		return KE_UNKNOWN_SERVER_ERROR;
	}
	vs_w_patch32(w, start, (uint32_t)size);
	return KE_NONE;
}

int vs_response_header_parse(vs_rbuf *r, int16_t key, int16_t version, int32_t *correlation_id)
{
	int hv = vs_response_header_version(key, version);
	if (hv < 0)
		return KE_UNSUPPORTED_VERSION;
	*correlation_id = vs_r_i32(r);
	if (hv >= 1)
		vs_r_skip_tags(r);
	return r->err ? KE_INVALID_REQUEST : KE_NONE;
}
