/* SPDX-License-Identifier: MIT */
/*
 * h_configs.c -- DescribeConfigs, AlterConfigs, IncrementalAlterConfigs.
 *
 * Topic configs are the Kafka names of tconfig.h, read from the store's
 * topic configuration (varve_topic_describe, memory) and written with
 * varve_topic_alter on a worker. A value equal to the store's default is
 * reported as DEFAULT_CONFIG (is_default in v0), any other as TOPIC_CONFIG:
 * the store does not remember whether a default was set explicitly.
 * Synonyms are always empty.
 *
 * Broker configs (resource "" or "0") are a small read-only set that says
 * how this server runs (its flags), reported as STATIC_BROKER_CONFIG.
 * Changing them is refused (INVALID_REQUEST): restart with other flags.
 *
 * Permissions (Kafka's): DESCRIBE_CONFIGS (ALTER_CONFIGS to change) on the
 * topic, or on the cluster for the broker's configs; a refused resource
 * gets TOPIC_ or CLUSTER_AUTHORIZATION_FAILED.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker_int.h"

enum {
	RESOURCE_TOPIC = 2,
	RESOURCE_BROKER = 4
};

/* DescribeConfigs config_source values (Kafka's ConfigSource). */
enum {
	SOURCE_TOPIC = 1,
	SOURCE_STATIC_BROKER = 4,
	SOURCE_DEFAULT = 5
};

static vs_slice zslice(const char *z)
{
	return (vs_slice){ (const uint8_t *)z, strlen(z) };
}

static int wanted(const vs_describe_configs_resource *res, const char *name)
{
	if (res->configuration_keys.n < 0)
		return 1;
	for (int32_t i = 0; i < res->configuration_keys.n; i++)
		if (vs_slice_eq(res->configuration_keys.v[i], name))
			return 1;
	return 0;
}

static void entry(vs_describe_configs_entry *e, const char *name, vs_slice value, bool read_only,
		  bool is_default, int8_t source)
{
	e->name = zslice(name);
	e->value = value;
	e->read_only = read_only;
	e->is_default = is_default;
	e->config_source = source;
	e->is_sensitive = false;
}

/* ---- DescribeConfigs ------------------------------------------------------------- */

/* May the client do op on the resource's configs? If not, its answer's
 * error and message are set. Other resource types are left to the caller. */
static bool configs_authorized(vs_call *c, int op, int8_t type, vs_slice name, int16_t *err,
			       vs_slice *msg)
{
	if (type == RESOURCE_TOPIC && !vs_authorize(c, op, VS_RES_TOPIC, name)) {
		*err = KE_TOPIC_AUTHORIZATION_FAILED;
		*msg = vs_call_str(c, "Topic authorization failed.");
		return false;
	}
	if (type == RESOURCE_BROKER && !vs_authorize(c, op, VS_RES_CLUSTER, VS_SLICE_NULL)) {
		*err = KE_CLUSTER_AUTHORIZATION_FAILED;
		*msg = vs_call_str(c, "Cluster authorization failed.");
		return false;
	}
	return true;
}

static int topic_configs(vs_call *c, const vs_describe_configs_resource *res,
			 vs_describe_configs_result *out)
{
	char name[VARVE_MAX_TOPIC_NAME + 1];
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	if (vs_slice_cstr(res->resource_name, name, sizeof name) || !res->resource_name.len ||
	    varve_topic_describe(c->b->db, name, &cfg) != VARVE_OK) {
		out->error_code = KE_UNKNOWN_TOPIC_OR_PARTITION;
		out->error_message = vs_call_str(c, "Topic does not exist.");
		return 0;
	}
	size_t n = vs_tcfg_count();
	vs_describe_configs_entry *v = vs_call_alloc(c, n, sizeof *v);
	if (!v)
		return -1;
	int32_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!wanted(res, vs_tcfg_name(i)))
			continue;
		char buf[128];
		int def;
		vs_tcfg_get(&cfg, i, &c->b->cfg.limits, buf, sizeof buf, &def);
		vs_slice value = vs_call_str(c, buf);
		if (!value.ptr)
			return -1;
		entry(&v[k++], vs_tcfg_name(i), value, false, def, def ? SOURCE_DEFAULT : SOURCE_TOPIC);
	}
	out->configs.v = v;
	out->configs.n = k;
	return 0;
}

typedef struct broker_value {
	const char *name;
	char value[300];
} broker_value;

static const char *sync_name(int policy)
{
	return policy == VARVE_SYNC_NONE ? "none" : policy == VARVE_SYNC_INTERVAL ? "interval" : "always";
}

/* The broker's configs as Kafka names them (and varve.* for the store). */
static size_t broker_values(vs_broker *b, broker_value *v)
{
	const vs_broker_config *k = &b->cfg;
	const vs_coord_config *g = &k->coord;
	size_t n = 0;
	char listeners[sizeof v[0].value];
#define BV(nm, ...) (v[n].name = (nm), snprintf(v[n].value, sizeof v[n].value, __VA_ARGS__), n++)
	BV("advertised.listeners", "%s", vs_advertised_listeners(b, listeners, sizeof listeners));
	BV("auto.create.topics.enable", "%s", k->auto_create_topics ? "true" : "false");
	BV("broker.id", "0");
	BV("connections.max.idle.ms", "%" PRId64, k->loop.idle_timeout_ms);
	BV("default.replication.factor", "1");
	BV("delete.topic.enable", "true");
	BV("group.initial.rebalance.delay.ms", "%" PRId32, g->initial_rebalance_delay_ms);
	BV("group.max.session.timeout.ms", "%" PRId32,
	   g->max_session_timeout_ms > 0 ? g->max_session_timeout_ms : 1800000);
	BV("group.max.size", "%" PRIu32, g->max_group_size ? g->max_group_size : 1000);
	BV("group.min.session.timeout.ms", "%" PRId32,
	   g->min_session_timeout_ms > 0 ? g->min_session_timeout_ms : 6000);
	BV("log.roll.ms", "%" PRId64, k->limits.segment_ms);
	BV("log.segment.bytes", "%" PRId64, k->limits.segment_bytes);
	BV("max.connections", "%" PRIu32, k->loop.max_connections);
	BV("max.connections.per.ip", "%" PRIu32, k->loop.max_connections_per_ip);
	BV("message.max.bytes", "%" PRIu32, k->limits.max_message_bytes);
	BV("num.partitions", "%" PRId32, k->default_partitions);
	BV("offsets.topic.replication.factor", "1");
	BV("socket.request.max.bytes", "%zu", k->loop.max_request_bytes);
	BV("varve.sync.policy", "%s", sync_name(k->sync_policy));
#undef BV
	return n;
}

#define MAX_BROKER_VALUES 24

static int broker_configs(vs_call *c, const vs_describe_configs_resource *res,
			  vs_describe_configs_result *out)
{
	if (res->resource_name.len && !vs_slice_eq(res->resource_name, "0")) {
		out->error_code = KE_INVALID_REQUEST;
		out->error_message = vs_call_str(c, "This is broker 0, the only broker.");
		return 0;
	}
	broker_value bv[MAX_BROKER_VALUES];
	size_t n = broker_values(c->b, bv);
	vs_describe_configs_entry *v = vs_call_alloc(c, n, sizeof *v);
	if (!v)
		return -1;
	int32_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!wanted(res, bv[i].name))
			continue;
		vs_slice value = vs_call_str(c, bv[i].value);
		if (!value.ptr)
			return -1;
		entry(&v[k++], bv[i].name, value, true, false, SOURCE_STATIC_BROKER);
	}
	out->configs.v = v;
	out->configs.n = k;
	return 0;
}

int vs_h_describe_configs(vs_call *c)
{
	vs_describe_configs_request *q = &c->req.describe_configs;
	vs_describe_configs_response *r = &c->resp.describe_configs;
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	for (int32_t i = 0; i < r->results.n; i++) {
		const vs_describe_configs_resource *res = &q->resources.v[i];
		vs_describe_configs_result *out = &r->results.v[i];
		int rc = 0;
		if (!configs_authorized(c, VS_OP_DESCRIBE_CONFIGS, res->resource_type,
					res->resource_name, &out->error_code, &out->error_message))
			continue;
		if (res->resource_type == RESOURCE_TOPIC)
			rc = topic_configs(c, res, out);
		else if (res->resource_type == RESOURCE_BROKER)
			rc = broker_configs(c, res, out);
		else {
			out->error_code = KE_INVALID_REQUEST;
			out->error_message = vs_call_printf(c, "Unsupported resource type %d.",
							    res->resource_type);
		}
		if (rc)
			return VS_CLOSE;
	}
	return VS_REPLY;
}


/* ---- AlterConfigs, IncrementalAlterConfigs ------------------------------------------- */

typedef struct alter_item {
	vs_alter_configs_resource_response *out;
	char *name;
	varve_topic_config cfg;
} alter_item;

typedef struct alter_state {
	alter_item *v;
	size_t n;
} alter_state;

/* AlterConfigs replaces every Kafka config of the topic: the ones not
 * named go back to their defaults. What Kafka has no name for (partitions,
 * record-count retention, the partitioner, ...) is kept. */
static void alter_base(varve_topic_config *next, const varve_topic_config *cur)
{
	*next = (varve_topic_config)VARVE_TOPIC_CONFIG_INIT;
	next->partitions = cur->partitions;
	next->retention_records = cur->retention_records;
	next->max_future_skew_ms = cur->max_future_skew_ms;
	next->partitioner = cur->partitioner;
	next->dedup_window_ms = cur->dedup_window_ms;
	next->retention_hard_bytes = cur->retention_hard_bytes;
	next->retain_for_groups = cur->retain_for_groups;
}

static int16_t alter_entry(vs_call *c, varve_topic_config *cfg, const vs_alter_configs_entry *e,
			   char *msg, size_t cap)
{
	if (c->key == VS_API_ALTER_CONFIGS)
		return vs_tcfg_set(cfg, e->name, e->value, &c->b->cfg.limits, msg, cap);
	switch (e->config_operation) {
	case 0:
		return vs_tcfg_set(cfg, e->name, e->value, &c->b->cfg.limits, msg, cap);
	case 1:
		return vs_tcfg_reset(cfg, e->name, msg, cap);
	case 2:
	case 3:
		return vs_tcfg_list_op(cfg, e->name, e->value, e->config_operation == 2, msg, cap);
	default:
		snprintf(msg, cap, "Unknown config operation %d.", e->config_operation);
		return KE_INVALID_REQUEST;
	}
}

/* Check one resource; on success *it holds the new configuration. */
static int16_t alter_check(vs_call *c, const vs_alter_configs_resource *res, alter_item *it,
			   vs_slice *msg)
{
	if (res->resource_type != RESOURCE_TOPIC) {
		*msg = vs_call_str(c, res->resource_type == RESOURCE_BROKER
					      ? "Broker configs are read-only: restart varve serve "
						"with other flags."
					      : "Unsupported resource type.");
		return KE_INVALID_REQUEST;
	}
	varve_topic_config cur = { VARVE_TOPIC_CONFIG_VERSION };
	it->name = vs_call_cstr(c, res->resource_name, VARVE_MAX_TOPIC_NAME);
	if (!it->name || !*it->name || varve_topic_describe(c->b->db, it->name, &cur) != VARVE_OK) {
		*msg = vs_call_str(c, "Topic does not exist.");
		return KE_UNKNOWN_TOPIC_OR_PARTITION;
	}
	/* the describe's string lives as long as the topic: keep a copy */
	if (cur.retain_for_groups)
		cur.retain_for_groups = (const char *)vs_call_str(c, cur.retain_for_groups).ptr;
	if (c->key == VS_API_ALTER_CONFIGS)
		alter_base(&it->cfg, &cur);
	else
		it->cfg = cur;
	for (int32_t i = 0; i < res->configs.n; i++) {
		char buf[VS_TCFG_MSG];
		int16_t err = alter_entry(c, &it->cfg, &res->configs.v[i], buf, sizeof buf);
		if (err) {
			*msg = vs_call_str(c, buf);
			return err;
		}
	}
	return KE_NONE;
}

static void alter_run(vs_call *c)
{
	alter_state *st = c->state;
	for (size_t i = 0; i < st->n; i++) {
		alter_item *it = &st->v[i];
		int rc = varve_topic_alter(c->b->db, it->name, &it->cfg);
		if (rc == VARVE_OK)
			continue;
		const varve_error_info *e = varve_last_error();
		it->out->error_code = rc == VARVE_EINVAL ? KE_INVALID_CONFIG : vs_kerr_from_store(rc);
		it->out->error_message = vs_call_str(c, e->code == rc && e->message ? e->message
									     : varve_errmsg(rc));
	}
}

static void alter_done(vs_call *c)
{
	vs_call_reply(c);
}

/* Both APIs: the same request and response shapes (kmsg.h). */
static int alter_configs(vs_call *c)
{
	vs_alter_configs_request *q = &c->req.alter_configs;
	vs_alter_configs_response *r = &c->resp.alter_configs;
	size_t n = q->resources.n > 0 ? (size_t)q->resources.n : 0;
	alter_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (vs_reply_error(c, KE_NONE) || !st || !(st->v = vs_call_alloc(c, n, sizeof *st->v)))
		return VS_CLOSE;
	vs_slice *names = vs_call_alloc(c, n, sizeof *names);
	if (!names)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++)
		names[i] = q->resources.v[i].resource_name;
	uint8_t *dup = vs_call_duplicates(c, names, n);
	if (!dup)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++) {
		vs_alter_configs_resource_response *out = &r->responses.v[i];
		alter_item *it = &st->v[st->n];
		if (dup[i]) {
			out->error_code = KE_INVALID_REQUEST;
			out->error_message = vs_call_str(c, "Duplicate resource in request.");
			continue;
		}
		const vs_alter_configs_resource *res = &q->resources.v[i];
		if (!configs_authorized(c, VS_OP_ALTER_CONFIGS, res->resource_type, res->resource_name,
					&out->error_code, &out->error_message))
			continue;
		out->error_code = alter_check(c, res, it, &out->error_message);
		if (out->error_code || q->validate_only)
			continue;
		it->out = out;
		st->n++;
	}
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, alter_run, alter_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i].out->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}

int vs_h_alter_configs(vs_call *c)
{
	return alter_configs(c);
}

int vs_h_incremental_alter_configs(vs_call *c)
{
	return alter_configs(c);
}

