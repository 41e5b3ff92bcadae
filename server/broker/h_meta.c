/* SPDX-License-Identifier: MIT */
/*
 * h_meta.c -- the cluster-level APIs: ApiVersions (what handlers.c marks
 * implemented), Metadata (one broker, node 0, leader of every partition;
 * topic auto-creation on a worker), FindCoordinator (this broker for groups;
 * no transaction coordinator) and ListOffsets (log start and end from
 * memory; by timestamp on a worker, as it reads the time index and a
 * record).
 *
 * Permissions (Kafka's): Metadata shows a topic to those with DESCRIBE on
 * it (hidden from a listing of every topic, TOPIC_AUTHORIZATION_FAILED when
 * named) and auto-creates it for those with CREATE on the cluster or the
 * topic; ListOffsets needs DESCRIBE on the topic; FindCoordinator DESCRIBE
 * on the group.
 */
#include <string.h>

#include "broker_int.h"

static const uint8_t nothing[1];
#define EMPTY ((vs_slice){ nothing, 0 })

uint32_t vs_topic_partitions(vs_broker *b, vs_slice topic, char *name_out, size_t cap)
{
	if (vs_slice_cstr(topic, name_out, cap) || topic.len == 0 || topic.len > VARVE_MAX_TOPIC_NAME)
		return 0;
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	if (varve_topic_describe(b->db, name_out, &cfg) != VARVE_OK)
		return 0;
	return cfg.partitions;
}

/* ---- ApiVersions ------------------------------------------------------------- */

int vs_h_api_versions(vs_call *c)
{
	vs_api_versions_response *r = &c->resp.api_versions;
	r->finalized_features_epoch = -1;
	vs_api_versions_key *keys = vs_call_alloc(c, vs_api_count(), sizeof *keys);
	if (!keys)
		return VS_CLOSE;
	int32_t n = 0;
	for (size_t i = 0; i < vs_api_count(); i++) {
		const vs_api_info *a = vs_api_at(i);
		if (vs_api_offered(c, a->key))
			keys[n++] = (vs_api_versions_key){ a->key, a->min_version, a->max_version };
	}
	r->api_keys.v = keys;
	r->api_keys.n = n;
	return VS_REPLY;
}

/* ---- Metadata ------------------------------------------------------------------ */

/* Topic auto-creation: one entry per requested topic. */
typedef struct meta_state {
	int16_t *err;    /* per topic; PENDING: to be created by the worker */
	uint8_t *created;
} meta_state;

#define PENDING INT16_MIN

static int fill_partitions(vs_call *c, vs_metadata_topic *t, uint32_t parts)
{
	vs_metadata_partition *p = vs_call_alloc(c, parts, sizeof *p);
	if (!p)
		return -1;
	for (uint32_t i = 0; i < parts; i++) {
		p[i].partition_index = (int32_t)i;
		p[i].leader_id = 0;
		p[i].replica_nodes.v = c->b->node0;
		p[i].replica_nodes.n = 1;
		p[i].isr_nodes.v = c->b->node0;
		p[i].isr_nodes.n = 1;
	}
	t->partitions.v = p;
	t->partitions.n = (int32_t)parts;
	return 0;
}

static int fill_cluster(vs_call *c)
{
	vs_broker *b = c->b;
	vs_metadata_response *r = &c->resp.metadata;
	vs_metadata_broker *node = vs_call_alloc(c, 1, sizeof *node);
	if (!node)
		return -1;
	node->node_id = 0;
	const char *host;
	vs_call_advertised(c, &host, &node->port);
	node->host = (vs_slice){ (const uint8_t *)host, strlen(host) };
	r->brokers.v = node;
	r->brokers.n = 1;
	r->cluster_id = b->cluster_id[0] ? (vs_slice){ (const uint8_t *)b->cluster_id,
						       strlen(b->cluster_id) }
					 : VS_SLICE_NULL;
	r->controller_id = 0;
	return 0;
}

static int metadata_all(vs_call *c)
{
	vs_metadata_response *r = &c->resp.metadata;
	int rc = varve_topic_list(c->b->db, &c->strv, &c->strc);
	if (rc)
		return vs_reply_error(c, vs_kerr_from_store(rc)) ? VS_CLOSE : VS_REPLY;
	r->topics.v = vs_call_alloc(c, c->strc, sizeof *r->topics.v);
	if (!r->topics.v)
		return VS_CLOSE;
	int32_t n = 0;
	for (size_t i = 0; i < c->strc; i++) {
		varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
		vs_slice name = { (const uint8_t *)c->strv[i], strlen(c->strv[i]) };
		/* a topic deleted since the listing is left out, and so is one
		 * the client may not see */
		if (!vs_authorized(c, VS_OP_DESCRIBE, VS_RES_TOPIC, name) ||
		    varve_topic_describe(c->b->db, c->strv[i], &cfg) != VARVE_OK)
			continue;
		vs_metadata_topic *t = &r->topics.v[n++];
		t->name = (vs_slice){ (const uint8_t *)c->strv[i], strlen(c->strv[i]) };
		if (fill_partitions(c, t, cfg.partitions))
			return VS_CLOSE;
	}
	r->topics.n = n;
	return VS_REPLY;
}

/* Fill every named topic that is settled; 0, or -1 out of memory. */
static int metadata_fill_named(vs_call *c, const meta_state *st)
{
	vs_metadata_request *q = &c->req.metadata;
	vs_metadata_response *r = &c->resp.metadata;
	for (int32_t i = 0; i < q->topics.n; i++) {
		vs_metadata_topic *t = &r->topics.v[i];
		t->name = q->topics.v[i].name;
		if (st->err[i] == PENDING)
			continue;
		t->error_code = st->err[i];
		if (t->error_code)
			continue;
		char name[VARVE_MAX_TOPIC_NAME + 1];
		uint32_t parts = vs_topic_partitions(c->b, t->name, name, sizeof name);
		if (!parts)
			t->error_code = KE_UNKNOWN_TOPIC_OR_PARTITION;
		else if (fill_partitions(c, t, parts))
			return -1;
	}
	return 0;
}

static void metadata_create_run(vs_call *c)
{
	meta_state *st = c->state;
	vs_metadata_request *q = &c->req.metadata;
	for (int32_t i = 0; i < q->topics.n; i++) {
		if (st->err[i] != PENDING)
			continue;
		char name[VARVE_MAX_TOPIC_NAME + 1];
		varve_topic_config cfg = VARVE_TOPIC_CONFIG_INIT;
		cfg.partitions = (uint32_t)c->b->cfg.default_partitions;
		int rc = vs_slice_cstr(q->topics.v[i].name, name, sizeof name) ? VARVE_EINVAL
						: varve_topic_create(c->b->db, name, &cfg);
		st->created[i] = rc == VARVE_OK;
		/* another request may have created it meanwhile */
		st->err[i] = rc == VARVE_OK || rc == VARVE_EEXISTS ? KE_NONE
			   : rc == VARVE_EINVAL ? KE_INVALID_TOPIC_EXCEPTION
						: KE_UNKNOWN_SERVER_ERROR;
	}
}

static void metadata_create_done(vs_call *c)
{
	meta_state *st = c->state;
	for (int32_t i = 0; i < c->req.metadata.topics.n; i++)
		if (st->created[i]) {
			c->b->topics_created++;
			vs_blog(c->b, VARVE_LOG_INFO, "auto-created topic %.*s (%s)",
				(int)c->req.metadata.topics.v[i].name.len,
				(const char *)c->req.metadata.topics.v[i].name.ptr, c->peer);
		}
	if (metadata_fill_named(c, st)) {
		vs_call_fail(c, KE_UNKNOWN_SERVER_ERROR);
		return;
	}
	vs_call_reply(c);
}

/* Settle each named topic: known, invalid, unknown, or to be created. */
static int metadata_resolve(vs_call *c, meta_state *st, int *to_create)
{
	vs_metadata_request *q = &c->req.metadata;
	bool may_create = c->b->cfg.auto_create_topics && (c->version < 4 || q->allow_auto_topic_creation);
	int cluster_create = -1; /* asked once, when a topic is to be created */
	*to_create = 0;
	for (int32_t i = 0; i < q->topics.n; i++) {
		vs_slice name = q->topics.v[i].name;
		char buf[VARVE_MAX_TOPIC_NAME + 1], msg[VS_TCFG_MSG];
		if (!vs_authorize(c, VS_OP_DESCRIBE, VS_RES_TOPIC, name))
			st->err[i] = KE_TOPIC_AUTHORIZATION_FAILED;
		else if (vs_topic_partitions(c->b, name, buf, sizeof buf))
			st->err[i] = KE_NONE;
		else if (vs_topic_name_check(name, msg, sizeof msg) != KE_NONE)
			st->err[i] = KE_INVALID_TOPIC_EXCEPTION;
		else if (may_create) {
			if (cluster_create < 0)
				cluster_create = vs_authorized(c, VS_OP_CREATE, VS_RES_CLUSTER, VS_SLICE_NULL);
			if (!cluster_create && !vs_authorize(c, VS_OP_CREATE, VS_RES_TOPIC, name)) {
				st->err[i] = KE_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			st->err[i] = PENDING;
			(*to_create)++;
		} else
			st->err[i] = KE_UNKNOWN_TOPIC_OR_PARTITION;
	}
	return 0;
}

int vs_h_metadata(vs_call *c)
{
	vs_metadata_request *q = &c->req.metadata;
	if (fill_cluster(c))
		return VS_CLOSE;
	/* v0: an empty list means every topic; v1+: null does */
	if (q->topics.n < 0 || (c->version == 0 && q->topics.n == 0))
		return metadata_all(c);
	vs_metadata_response *r = &c->resp.metadata;
	size_t n = (size_t)q->topics.n;
	meta_state *st = vs_call_alloc(c, 1, sizeof *st);
	r->topics.v = vs_call_alloc(c, n, sizeof *r->topics.v);
	r->topics.n = q->topics.n;
	if (!st || !r->topics.v || !(st->err = vs_call_alloc(c, n, sizeof *st->err)) ||
	    !(st->created = vs_call_alloc(c, n, 1)))
		return VS_CLOSE;
	int to_create;
	metadata_resolve(c, st, &to_create);
	if (to_create) {
		c->state = st;
		if (vs_call_submit(c, metadata_create_run, metadata_create_done) == 0)
			return VS_DEFER;
		/* workers busy: Kafka's answer while a topic is being created */
		for (int32_t i = 0; i < q->topics.n; i++)
			if (st->err[i] == PENDING)
				st->err[i] = KE_LEADER_NOT_AVAILABLE;
	}
	return metadata_fill_named(c, st) ? VS_CLOSE : VS_REPLY;
}

/* ---- FindCoordinator ------------------------------------------------------------- */

int vs_h_find_coordinator(vs_call *c)
{
	vs_find_coordinator_response *r = &c->resp.find_coordinator;
	int8_t type = c->version >= 1 ? c->req.find_coordinator.key_type : 0;
	if (type == 0 && !vs_authorize(c, VS_OP_DESCRIBE, VS_RES_GROUP, c->req.find_coordinator.key))
		return vs_reply_error(c, KE_GROUP_AUTHORIZATION_FAILED) ? VS_CLOSE : VS_REPLY;
	if (type != 0) {
		r->error_code = type == 1 ? KE_COORDINATOR_NOT_AVAILABLE : KE_INVALID_REQUEST;
		r->error_message = vs_call_str(c, type == 1 ? "transactions are not supported by varve"
							    : "unknown coordinator key type");
		r->node_id = -1;
		r->host = EMPTY;
		r->port = -1;
		return VS_REPLY;
	}
	r->node_id = 0;
	const char *host;
	vs_call_advertised(c, &host, &r->port);
	r->host = (vs_slice){ (const uint8_t *)host, strlen(host) };
	return VS_REPLY;
}

/* ---- ListOffsets ------------------------------------------------------------------- */

/* A partition whose offset is looked up by time on a worker. */
typedef struct lo_pending {
	vs_list_offsets_partition_response *out;
	const char *topic;
	int32_t partition;
	int64_t ts;
} lo_pending;

typedef struct lo_state {
	lo_pending *v;
	size_t n;
} lo_state;

static int set_offset(vs_call *c, vs_list_offsets_partition_response *out, int64_t offset,
		      int64_t ts)
{
	out->offset = offset;
	out->timestamp = ts;
	if (c->version == 0) {
		/* v0 answers a list; an offset that is not there gives none */
		out->old_style_offsets.v = vs_call_alloc(c, 1, sizeof(int64_t));
		if (!out->old_style_offsets.v)
			return -1;
		out->old_style_offsets.n = offset >= 0;
		out->old_style_offsets.v[0] = offset;
	}
	return 0;
}

/* The offset of one partition now (earliest, latest), or queue it for the
 * worker (a timestamp). 0, or -1 out of memory. */
static int list_one(vs_call *c, const char *topic, uint32_t parts, const vs_list_offsets_partition *p,
		    vs_list_offsets_partition_response *out, lo_state *st)
{
	out->partition_index = p->partition_index;
	out->timestamp = out->offset = -1;
	if (!topic || p->partition_index < 0 || (uint32_t)p->partition_index >= parts) {
		out->error_code = KE_UNKNOWN_TOPIC_OR_PARTITION;
		return 0;
	}
	if (p->timestamp >= 0) {
		st->v[st->n++] = (lo_pending){ out, topic, p->partition_index, p->timestamp };
		return 0;
	}
	if (p->timestamp != -1 && p->timestamp != -2) {
		out->error_code = KE_INVALID_REQUEST;
		return 0;
	}
	int64_t start, end;
	int rc = vs_partition_watermarks(c->b, topic, p->partition_index, &start, &end);
	if (rc) {
		out->error_code = vs_kerr_from_store(rc);
		return 0;
	}
	return set_offset(c, out, p->timestamp == -2 ? start : end, -1);
}

static void list_offsets_run(vs_call *c)
{
	lo_state *st = c->state;
	for (size_t i = 0; i < st->n; i++) {
		lo_pending *p = &st->v[i];
		int64_t off, ts = -1;
		int rc = varve_offset_for_time(c->b->db, p->topic, p->partition, p->ts, &off);
		if (rc == VARVE_ENOTFOUND) {
			p->out->offset = -1; /* no record at or after that time */
			continue;
		}
		if (rc) {
			p->out->error_code = vs_kerr_from_store(rc);
			continue;
		}
		/* Kafka answers the found record's own timestamp */
		varve_iter *it;
		const varve_record *rec;
		if (varve_iter_open(c->b->db, p->topic, p->partition, off, &it) == VARVE_OK) {
			if (varve_iter_next(it, &rec) == VARVE_OK) {
				ts = rec->timestamp;
				off = rec->offset;
			}
			varve_iter_close(it);
		}
		p->out->offset = off;
		p->out->timestamp = ts;
	}
}

static void list_offsets_done(vs_call *c)
{
	lo_state *st = c->state;
	for (size_t i = 0; i < st->n; i++) {
		lo_pending *p = &st->v[i];
		if (!p->out->error_code && set_offset(c, p->out, p->out->offset, p->out->timestamp)) {
			vs_call_fail(c, KE_UNKNOWN_SERVER_ERROR);
			return;
		}
	}
	vs_call_reply(c);
}

static size_t count_partitions(const vs_list_offsets_request *q)
{
	size_t n = 0;
	for (int32_t t = 0; t < q->topics.n; t++)
		n += q->topics.v[t].partitions.n > 0 ? (size_t)q->topics.v[t].partitions.n : 0;
	return n;
}

int vs_h_list_offsets(vs_call *c)
{
	vs_list_offsets_request *q = &c->req.list_offsets;
	vs_list_offsets_response *r = &c->resp.list_offsets;
	lo_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (vs_reply_error(c, KE_NONE) || !st ||
	    !(st->v = vs_call_alloc(c, count_partitions(q), sizeof *st->v)))
		return VS_CLOSE;
	for (int32_t t = 0; t < q->topics.n; t++) {
		vs_list_offsets_topic *qt = &q->topics.v[t];
		if (!vs_authorize(c, VS_OP_DESCRIBE, VS_RES_TOPIC, qt->name)) {
			for (int32_t p = 0; p < qt->partitions.n; p++)
				r->topics.v[t].partitions.v[p].error_code = KE_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		char buf[VARVE_MAX_TOPIC_NAME + 1];
		uint32_t parts = vs_topic_partitions(c->b, qt->name, buf, sizeof buf);
		char *topic = parts ? vs_call_cstr(c, qt->name, VARVE_MAX_TOPIC_NAME) : NULL;
		for (int32_t p = 0; p < qt->partitions.n; p++)
			if (list_one(c, topic, parts, &qt->partitions.v[p], &r->topics.v[t].partitions.v[p],
				     st))
				return VS_CLOSE;
	}
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, list_offsets_run, list_offsets_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i].out->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}
