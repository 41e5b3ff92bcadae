/* SPDX-License-Identifier: MIT */
/*
 * h_topics.c -- topic administration: CreateTopics, DeleteTopics,
 * CreatePartitions, DeleteRecords. Requests are checked on the loop thread
 * (names, partition counts, replication, configs through tconfig.h); the
 * store calls, which write and sync the metadata log, run on a worker.
 *
 * Kafka's rules kept: a name repeated in one request fails every copy with
 * INVALID_REQUEST; validate_only checks and changes nothing. Ours: one
 * broker, so replication_factor must be 1 or -1 and replica assignments are
 * refused.
 *
 * Permissions (Kafka's, after the duplicate check and before any other):
 * CreateTopics needs CREATE on the cluster or on the topic, DeleteTopics
 * and DeleteRecords DELETE on the topic, CreatePartitions ALTER on it;
 * a topic refused gets TOPIC_AUTHORIZATION_FAILED, whether it exists or not.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

/* ---- shared ------------------------------------------------------------------- */

typedef struct named {
	vs_slice name;
	size_t index;
} named;

static int cmp_named(const void *a, const void *b)
{
	const named *x = a, *y = b;
	size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
	int c = n ? memcmp(x->name.ptr, y->name.ptr, n) : 0;
	if (c)
		return c;
	return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

/* dup[i] = 1 for every name that occurs more than once; NULL out of memory. */
uint8_t *vs_call_duplicates(vs_call *c, const vs_slice *names, size_t n)
{
	named *v = vs_call_alloc(c, n, sizeof *v);
	uint8_t *dup = vs_call_alloc(c, n, 1);
	if (!v || !dup)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = (named){ names[i], i };
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_named);
	for (size_t i = 1; i < n; i++)
		if (cmp_named(&v[i - 1], &v[i]) == 0)
			dup[v[i - 1].index] = dup[v[i].index] = 1;
	return dup;
}

static const char refused_msg[] = "Authorization failed.";

/* The store's last error text on this thread, in the call's arena. */
static vs_slice store_message(vs_call *c, int rc)
{
	const varve_error_info *e = varve_last_error();
	return vs_call_str(c, e->code == rc && e->message && *e->message ? e->message : varve_errmsg(rc));
}

/* ---- CreateTopics ---------------------------------------------------------------- */

typedef struct ct_item {
	vs_create_topics_result *out;
	char *name;
	varve_topic_config cfg;
} ct_item;

typedef struct ct_state {
	ct_item *v;
	size_t n;
} ct_state;

static int16_t ct_partitions(vs_call *c, const vs_create_topics_topic *t, varve_topic_config *cfg,
			     vs_slice *msg)
{
	int32_t n = t->num_partitions == -1 ? c->b->cfg.default_partitions : t->num_partitions;
	if (n < 1 || n > VARVE_MAX_PARTITIONS) {
		*msg = n < 1 ? vs_call_str(c, "Number of partitions must be larger than 0.")
			     : vs_call_printf(c, "Number of partitions must be at most %d.",
					      VARVE_MAX_PARTITIONS);
		return KE_INVALID_PARTITIONS;
	}
	cfg->partitions = (uint32_t)n;
	if (t->replication_factor != 1 && t->replication_factor != -1) {
		*msg = vs_call_printf(c, "Replication factor: %d larger than available brokers: 1 "
					 "(varve is one broker: use 1 or -1).",
				      t->replication_factor);
		return KE_INVALID_REPLICATION_FACTOR;
	}
	if (t->assignments.n > 0) {
		*msg = vs_call_str(c, "Replica assignments are not supported: every partition is "
				      "on broker 0.");
		return KE_INVALID_REPLICA_ASSIGNMENT;
	}
	return KE_NONE;
}

/* Check one topic; on success its configuration is in *cfg. */
static int16_t ct_check(vs_call *c, const vs_create_topics_topic *t, varve_topic_config *cfg,
			vs_slice *msg)
{
	char buf[VS_TCFG_MSG];
	int16_t err = vs_topic_name_check(t->name, buf, sizeof buf);
	if (err) {
		*msg = vs_call_str(c, buf);
		return err;
	}
	char name[VARVE_MAX_TOPIC_NAME + 1];
	if (vs_topic_partitions(c->b, t->name, name, sizeof name)) {
		*msg = vs_call_printf(c, "Topic '%s' already exists.", name);
		return KE_TOPIC_ALREADY_EXISTS;
	}
	*cfg = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;
	if ((err = ct_partitions(c, t, cfg, msg)))
		return err;
	for (int32_t i = 0; i < t->configs.n; i++) {
		err = vs_tcfg_set(cfg, t->configs.v[i].name, t->configs.v[i].value, &c->b->cfg.limits,
				  buf, sizeof buf);
		if (err) {
			*msg = vs_call_str(c, buf);
			return err;
		}
	}
	return KE_NONE;
}

static void ct_run(vs_call *c)
{
	ct_state *st = c->state;
	for (size_t i = 0; i < st->n; i++) {
		ct_item *it = &st->v[i];
		int rc = varve_topic_create(c->b->db, it->name, &it->cfg);
		if (rc == VARVE_OK)
			continue;
		it->out->error_code = rc == VARVE_EEXISTS ? KE_TOPIC_ALREADY_EXISTS
				    : rc == VARVE_EINVAL ? KE_INVALID_CONFIG
							 : vs_kerr_from_store(rc);
		it->out->error_message = store_message(c, rc);
	}
}

static void ct_done(vs_call *c)
{
	ct_state *st = c->state;
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].out->error_code == KE_NONE) {
			c->b->topics_created++;
			vs_blog(c->b, VARVE_LOG_INFO, "created topic %s (%u partitions) for %s",
				st->v[i].name, st->v[i].cfg.partitions, c->peer);
		}
	vs_call_reply(c);
}

int vs_h_create_topics(vs_call *c)
{
	vs_create_topics_request *q = &c->req.create_topics;
	vs_create_topics_response *r = &c->resp.create_topics;
	size_t n = q->topics.n > 0 ? (size_t)q->topics.n : 0;
	vs_slice *names = vs_call_alloc(c, n, sizeof *names);
	ct_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (vs_reply_error(c, KE_NONE) || !names || !st || !(st->v = vs_call_alloc(c, n, sizeof *st->v)))
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++)
		names[i] = q->topics.v[i].name;
	uint8_t *dup = vs_call_duplicates(c, names, n);
	if (!dup)
		return VS_CLOSE;
	bool cluster_create = n && vs_authorized(c, VS_OP_CREATE, VS_RES_CLUSTER, VS_SLICE_NULL);
	for (size_t i = 0; i < n; i++) {
		vs_create_topics_result *out = &r->topics.v[i];
		ct_item *it = &st->v[st->n];
		if (dup[i]) {
			out->error_code = KE_INVALID_REQUEST;
			out->error_message = vs_call_str(c, "Create topics request from client contains "
							    "multiple entries for this topic.");
			continue;
		}
		if (!cluster_create && !vs_authorize(c, VS_OP_CREATE, VS_RES_TOPIC, names[i])) {
			out->error_code = KE_TOPIC_AUTHORIZATION_FAILED;
			out->error_message = vs_call_str(c, refused_msg);
			continue;
		}
		out->error_code = ct_check(c, &q->topics.v[i], &it->cfg, &out->error_message);
		if (out->error_code || q->validate_only)
			continue;
		it->out = out;
		if (!(it->name = vs_call_cstr(c, names[i], VARVE_MAX_TOPIC_NAME)))
			return VS_CLOSE;
		st->n++;
	}
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, ct_run, ct_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i].out->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}

/* ---- DeleteTopics ------------------------------------------------------------------------ */

typedef struct dt_state {
	vs_delete_topics_result **v;
	char **names;
	size_t n;
} dt_state;

static void dt_run(vs_call *c)
{
	dt_state *st = c->state;
	for (size_t i = 0; i < st->n; i++)
		st->v[i]->error_code = vs_kerr_from_store(varve_topic_delete(c->b->db, st->names[i]));
}

static void dt_done(vs_call *c)
{
	dt_state *st = c->state;
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i]->error_code == KE_NONE) {
			c->b->topics_deleted++;
			vs_blog(c->b, VARVE_LOG_INFO, "deleted topic %s for %s", st->names[i], c->peer);
		}
	vs_call_reply(c);
}

int vs_h_delete_topics(vs_call *c)
{
	vs_delete_topics_request *q = &c->req.delete_topics;
	vs_delete_topics_response *r = &c->resp.delete_topics;
	size_t n = q->topic_names.n > 0 ? (size_t)q->topic_names.n : 0;
	dt_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (vs_reply_error(c, KE_NONE) || !st || !(st->v = vs_call_alloc(c, n, sizeof *st->v)) ||
	    !(st->names = vs_call_alloc(c, n, sizeof *st->names)))
		return VS_CLOSE;
	uint8_t *dup = vs_call_duplicates(c, q->topic_names.v, n);
	if (!dup)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++) {
		vs_delete_topics_result *out = &r->responses.v[i];
		char buf[VARVE_MAX_TOPIC_NAME + 1];
		if (dup[i]) {
			out->error_code = KE_INVALID_REQUEST;
			continue;
		}
		if (!vs_authorize(c, VS_OP_DELETE, VS_RES_TOPIC, out->name)) {
			out->error_code = KE_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		if (!vs_topic_partitions(c->b, out->name, buf, sizeof buf)) {
			out->error_code = KE_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		st->v[st->n] = out;
		if (!(st->names[st->n++] = vs_call_cstr(c, out->name, VARVE_MAX_TOPIC_NAME)))
			return VS_CLOSE;
	}
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, dt_run, dt_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i]->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}


/* ---- CreatePartitions --------------------------------------------------------------------- */

typedef struct cp_item {
	vs_create_partitions_result *out;
	char *name;
	uint32_t count;
} cp_item;

typedef struct cp_state {
	cp_item *v;
	size_t n;
} cp_state;

static int16_t cp_check(vs_call *c, const vs_create_partitions_topic *t, vs_slice *msg)
{
	char name[VARVE_MAX_TOPIC_NAME + 1];
	uint32_t now = vs_topic_partitions(c->b, t->name, name, sizeof name);
	if (!now) {
		*msg = vs_call_str(c, "This server does not host this topic.");
		return KE_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (t->count <= 0 || (uint32_t)t->count <= now) {
		*msg = vs_call_printf(c, "Topic currently has %u partitions, which is higher than "
					 "or equal to the requested %d.", now, t->count);
		return KE_INVALID_PARTITIONS;
	}
	if (t->count > VARVE_MAX_PARTITIONS) {
		*msg = vs_call_printf(c, "Number of partitions must be at most %d.",
				      VARVE_MAX_PARTITIONS);
		return KE_INVALID_PARTITIONS;
	}
	if (t->assignments.n > 0) {
		*msg = vs_call_str(c, "Replica assignments are not supported: every partition is "
				      "on broker 0.");
		return KE_INVALID_REPLICA_ASSIGNMENT;
	}
	return KE_NONE;
}

static void cp_run(vs_call *c)
{
	cp_state *st = c->state;
	for (size_t i = 0; i < st->n; i++) {
		cp_item *it = &st->v[i];
		int rc = varve_topic_add_partitions(c->b->db, it->name, it->count);
		if (rc) {
			it->out->error_code = rc == VARVE_EINVAL ? KE_INVALID_PARTITIONS
								 : vs_kerr_from_store(rc);
			it->out->error_message = store_message(c, rc);
		}
	}
}

static void cp_done(vs_call *c)
{
	vs_call_reply(c);
}

int vs_h_create_partitions(vs_call *c)
{
	vs_create_partitions_request *q = &c->req.create_partitions;
	vs_create_partitions_response *r = &c->resp.create_partitions;
	size_t n = q->topics.n > 0 ? (size_t)q->topics.n : 0;
	vs_slice *names = vs_call_alloc(c, n, sizeof *names);
	cp_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (vs_reply_error(c, KE_NONE) || !names || !st || !(st->v = vs_call_alloc(c, n, sizeof *st->v)))
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++)
		names[i] = q->topics.v[i].name;
	uint8_t *dup = vs_call_duplicates(c, names, n);
	if (!dup)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++) {
		vs_create_partitions_result *out = &r->results.v[i];
		if (dup[i]) {
			out->error_code = KE_INVALID_REQUEST;
			out->error_message = vs_call_str(c, "Duplicate topic in request.");
			continue;
		}
		if (!vs_authorize(c, VS_OP_ALTER, VS_RES_TOPIC, names[i])) {
			out->error_code = KE_TOPIC_AUTHORIZATION_FAILED;
			out->error_message = vs_call_str(c, refused_msg);
			continue;
		}
		out->error_code = cp_check(c, &q->topics.v[i], &out->error_message);
		if (out->error_code || q->validate_only)
			continue;
		cp_item *it = &st->v[st->n];
		it->out = out;
		it->count = (uint32_t)q->topics.v[i].count;
		if (!(it->name = vs_call_cstr(c, names[i], VARVE_MAX_TOPIC_NAME)))
			return VS_CLOSE;
		st->n++;
	}
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, cp_run, cp_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i].out->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}

/* ---- DeleteRecords --------------------------------------------------------------------------- */

typedef struct dr_item {
	vs_delete_records_partition_result *out;
	const char *topic;
	int32_t partition;
	int64_t offset; /* -1: the high watermark */
} dr_item;

typedef struct dr_state {
	dr_item *v;
	size_t n;
} dr_state;

static void dr_run(vs_call *c)
{
	dr_state *st = c->state;
	for (size_t i = 0; i < st->n; i++) {
		dr_item *it = &st->v[i];
		int64_t offset = it->offset, start = -1;
		int rc = VARVE_OK;
		if (offset == -1)
			rc = varve_offsets(c->b->db, it->topic, it->partition, NULL, &offset);
		if (rc == VARVE_OK)
			rc = varve_delete_records(c->b->db, it->topic, it->partition, offset, &start);
		it->out->error_code = vs_kerr_from_store(rc);
		it->out->low_watermark = rc == VARVE_OK ? start : -1;
	}
}

static void dr_done(vs_call *c)
{
	vs_call_reply(c);
}

static size_t dr_count(const vs_delete_records_request *q)
{
	size_t n = 0;
	for (int32_t t = 0; t < q->topics.n; t++)
		n += q->topics.v[t].partitions.n > 0 ? (size_t)q->topics.v[t].partitions.n : 0;
	return n;
}

int vs_h_delete_records(vs_call *c)
{
	vs_delete_records_request *q = &c->req.delete_records;
	vs_delete_records_response *r = &c->resp.delete_records;
	dr_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (vs_reply_error(c, KE_NONE) || !st || !(st->v = vs_call_alloc(c, dr_count(q), sizeof *st->v)))
		return VS_CLOSE;
	for (int32_t t = 0; t < q->topics.n; t++) {
		vs_delete_records_topic *qt = &q->topics.v[t];
		if (!vs_authorize(c, VS_OP_DELETE, VS_RES_TOPIC, qt->name)) {
			for (int32_t p = 0; p < qt->partitions.n; p++)
				r->topics.v[t].partitions.v[p].error_code = KE_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		char buf[VARVE_MAX_TOPIC_NAME + 1];
		uint32_t parts = vs_topic_partitions(c->b, qt->name, buf, sizeof buf);
		const char *topic = parts ? vs_call_cstr(c, qt->name, VARVE_MAX_TOPIC_NAME) : NULL;
		for (int32_t p = 0; p < qt->partitions.n; p++) {
			const vs_delete_records_partition *qp = &qt->partitions.v[p];
			vs_delete_records_partition_result *out = &r->topics.v[t].partitions.v[p];
			if (!topic || qp->partition_index < 0 || (uint32_t)qp->partition_index >= parts)
				out->error_code = KE_UNKNOWN_TOPIC_OR_PARTITION;
			else if (qp->offset < -1)
				out->error_code = KE_OFFSET_OUT_OF_RANGE;
			else
				st->v[st->n++] = (dr_item){ out, topic, qp->partition_index, qp->offset };
		}
	}
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, dr_run, dr_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i].out->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}

