/* SPDX-License-Identifier: MIT */
/*
 * kmsg_admin.c -- the walkers (kio.h) of ApiVersions, Metadata and the
 * admin APIs: CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs. As in
 * kmsg_data.c, version tests follow the JSON schemas literally.
 *
 * ApiVersions v3+ is the one response in kproto's table with known tagged
 * fields; its walker reads and writes them itself (tags 0-3).
 */
#include "kio.h"

/* ---- ApiVersions -------------------------------------------------------- */

void vs_walk_api_versions_request(vs_io *io, vs_api_versions_request *m)
{
	if (io->version >= 3) {
		vs_io_str(io, &m->client_software_name);
		vs_io_str(io, &m->client_software_version);
	} else {
		VS_IO_DEFAULT(io, m->client_software_name, VS_IO_EMPTY);
		VS_IO_DEFAULT(io, m->client_software_version, VS_IO_EMPTY);
	}
	vs_io_tags(io);
}

static void walk_api_versions_key(vs_io *io, vs_api_versions_key *k)
{
	vs_io_i16(io, &k->api_key);
	vs_io_i16(io, &k->min_version);
	vs_io_i16(io, &k->max_version);
	vs_io_tags(io);
}

static void walk_api_versions_feature(vs_io *io, vs_api_versions_feature *f)
{
	vs_io_str(io, &f->name);
	vs_io_i16(io, &f->min_version);
	vs_io_i16(io, &f->max_version);
	vs_io_tags(io);
}

static void walk_api_versions_finalized(vs_io *io, vs_api_versions_finalized_feature *f)
{
	vs_io_str(io, &f->name);
	vs_io_i16(io, &f->max_version_level);
	vs_io_i16(io, &f->min_version_level);
	vs_io_tags(io);
}

/* The value of one known tag, in either direction. */
static void walk_api_versions_tag(vs_io *io, uint32_t tag, vs_api_versions_response *m)
{
	switch (tag) {
	case 0:
		VS_IO_ARRAY(io, m->supported_features, 2 + 2 + VS_MIN_VAR, false,
			    walk_api_versions_feature);
		break;
	case 1:
		vs_io_i64(io, &m->finalized_features_epoch);
		break;
	case 2:
		VS_IO_ARRAY(io, m->finalized_features, 2 + 2 + VS_MIN_VAR, false,
			    walk_api_versions_finalized);
		break;
	case 3:
		vs_io_bool(io, &m->zk_migration_ready);
		break;
	default:
		break;
	}
}

static void read_api_versions_tags(vs_io *io, vs_api_versions_response *m)
{
	vs_rbuf *r = io->r;
	uint32_t count = vs_r_uvarint(r);
	for (uint32_t i = 0; i < count && !vs_io_failed(io); i++) {
		uint32_t tag = vs_r_uvarint(r);
		uint32_t size = vs_r_uvarint(r);
		vs_slice value = vs_r_raw(r, size);
		if (r->err || tag > 3)
			continue; /* unknown tags are skipped */
		vs_rbuf sub;
		vs_rbuf_init(&sub, value.ptr, value.len);
		vs_io sio = { &sub, NULL, io->arena, io->version, true, 0 };
		walk_api_versions_tag(&sio, tag, m);
		/* a known field must fill its tag exactly */
		if (sio.err)
			io->err = sio.err;
		else if (sub.err || sub.p != sub.end)
			r->err = VS_KBUF_MALFORMED;
	}
}

static void write_api_versions_tags(vs_io *io, vs_api_versions_response *m)
{
	bool present[4] = { m->supported_features.n > 0, m->finalized_features_epoch != -1,
			    m->finalized_features.n > 0, m->zk_migration_ready };
	uint32_t count = 0;
	for (uint32_t tag = 0; tag < 4; tag++)
		count += present[tag];
	vs_w_uvarint(io->w, count);
	vs_wbuf value;
	vs_wbuf_init(&value);
	for (uint32_t tag = 0; tag < 4 && !vs_io_failed(io); tag++) {
		if (!present[tag])
			continue;
		/* the size comes first: encode the value aside, then copy */
		vs_wbuf_reset(&value);
		vs_io vio = { NULL, &value, NULL, io->version, true, 0 };
		walk_api_versions_tag(&vio, tag, m);
		if (vio.err || value.err) {
			io->err = vio.err ? vio.err : value.err;
			break;
		}
		vs_w_uvarint(io->w, tag);
		vs_w_uvarint(io->w, (uint32_t)value.len);
		vs_w_raw(io->w, value.buf, value.len);
	}
	vs_wbuf_free(&value);
}

void vs_walk_api_versions_response(vs_io *io, vs_api_versions_response *m)
{
	vs_io_i16(io, &m->error_code);
	VS_IO_ARRAY(io, m->api_keys, 2 + 2 + 2, false, walk_api_versions_key);
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_DEFAULT(io, m->finalized_features_epoch, -1);
	if (!io->flex || vs_io_failed(io))
		return;
	if (vs_io_reading(io))
		read_api_versions_tags(io, m);
	else
		write_api_versions_tags(io, m);
}

int32_t vs_api_versions_fill(vs_api_versions_response *resp, vs_api_versions_key *keys, size_t cap)
{
	size_t n = vs_api_count();
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++) {
		const vs_api_info *a = vs_api_at(i);
		keys[i] = (vs_api_versions_key){ a->key, a->min_version, a->max_version };
	}
	resp->api_keys.v = keys;
	resp->api_keys.n = (int32_t)n;
	return (int32_t)n;
}

/* ---- Metadata ----------------------------------------------------------- */

static void walk_metadata_request_topic(vs_io *io, vs_metadata_request_topic *t)
{
	if (io->version >= 10)
		vs_io_nstr(io, &t->name);
	else
		vs_io_str(io, &t->name);
	vs_io_tags(io);
}

void vs_walk_metadata_request(vs_io *io, vs_metadata_request *m)
{
	VS_IO_ARRAY(io, m->topics, VS_MIN_VAR, io->version >= 1, walk_metadata_request_topic);
	if (io->version >= 4)
		vs_io_bool(io, &m->allow_auto_topic_creation);
	else
		VS_IO_DEFAULT(io, m->allow_auto_topic_creation, true);
	vs_io_tags(io);
}

static void walk_metadata_broker(vs_io *io, vs_metadata_broker *b)
{
	vs_io_i32(io, &b->node_id);
	vs_io_str(io, &b->host);
	vs_io_i32(io, &b->port);
	if (io->version >= 1)
		vs_io_nstr(io, &b->rack);
	vs_io_tags(io);
}

static void walk_metadata_partition(vs_io *io, vs_metadata_partition *p)
{
	vs_io_i16(io, &p->error_code);
	vs_io_i32(io, &p->partition_index);
	vs_io_i32(io, &p->leader_id);
	VS_IO_ARRAY(io, p->replica_nodes, 4, false, vs_io_i32);
	VS_IO_ARRAY(io, p->isr_nodes, 4, false, vs_io_i32);
	vs_io_tags(io);
}

static void walk_metadata_topic(vs_io *io, vs_metadata_topic *t)
{
	vs_io_i16(io, &t->error_code);
	if (io->version >= 12)
		vs_io_nstr(io, &t->name);
	else
		vs_io_str(io, &t->name);
	if (io->version >= 1)
		vs_io_bool(io, &t->is_internal);
	VS_IO_ARRAY(io, t->partitions, 2 + 4 + 4 + 2 * VS_MIN_VAR, false, walk_metadata_partition);
	vs_io_tags(io);
}

void vs_walk_metadata_response(vs_io *io, vs_metadata_response *m)
{
	if (io->version >= 3)
		vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->brokers, 4 + 4 + VS_MIN_VAR, false, walk_metadata_broker);
	if (io->version >= 2)
		vs_io_nstr(io, &m->cluster_id);
	if (io->version >= 1)
		vs_io_i32(io, &m->controller_id);
	else
		VS_IO_DEFAULT(io, m->controller_id, -1);
	VS_IO_ARRAY(io, m->topics, 2 + 2 * VS_MIN_VAR, false, walk_metadata_topic);
	vs_io_tags(io);
}

/* ---- CreateTopics ------------------------------------------------------- */

static void walk_create_topics_assignment(vs_io *io, vs_create_topics_assignment *a)
{
	vs_io_i32(io, &a->partition_index);
	VS_IO_ARRAY(io, a->broker_ids, 4, false, vs_io_i32);
	vs_io_tags(io);
}

static void walk_create_topics_config(vs_io *io, vs_create_topics_config *c)
{
	vs_io_str(io, &c->name);
	vs_io_nstr(io, &c->value);
	vs_io_tags(io);
}

static void walk_create_topics_topic(vs_io *io, vs_create_topics_topic *t)
{
	vs_io_str(io, &t->name);
	vs_io_i32(io, &t->num_partitions);
	vs_io_i16(io, &t->replication_factor);
	VS_IO_ARRAY(io, t->assignments, 4 + VS_MIN_VAR, false, walk_create_topics_assignment);
	VS_IO_ARRAY(io, t->configs, 2 * VS_MIN_VAR, false, walk_create_topics_config);
	vs_io_tags(io);
}

void vs_walk_create_topics_request(vs_io *io, vs_create_topics_request *m)
{
	VS_IO_ARRAY(io, m->topics, 4 + 2 + 3 * VS_MIN_VAR, false, walk_create_topics_topic);
	vs_io_i32(io, &m->timeout_ms);
	if (io->version >= 1)
		vs_io_bool(io, &m->validate_only);
	vs_io_tags(io);
}

static void walk_create_topics_result(vs_io *io, vs_create_topics_result *t)
{
	vs_io_str(io, &t->name);
	vs_io_i16(io, &t->error_code);
	if (io->version >= 1)
		vs_io_nstr(io, &t->error_message);
	vs_io_tags(io);
}

void vs_walk_create_topics_response(vs_io *io, vs_create_topics_response *m)
{
	if (io->version >= 2)
		vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->topics, 2 + VS_MIN_VAR, false, walk_create_topics_result);
	vs_io_tags(io);
}

/* ---- DeleteTopics ------------------------------------------------------- */

void vs_walk_delete_topics_request(vs_io *io, vs_delete_topics_request *m)
{
	if (io->version <= 5)
		VS_IO_ARRAY(io, m->topic_names, VS_MIN_VAR, false, vs_io_str);
	vs_io_i32(io, &m->timeout_ms);
	vs_io_tags(io);
}

static void walk_delete_topics_result(vs_io *io, vs_delete_topics_result *r)
{
	if (io->version >= 6)
		vs_io_nstr(io, &r->name);
	else
		vs_io_str(io, &r->name);
	vs_io_i16(io, &r->error_code);
	vs_io_tags(io);
}

void vs_walk_delete_topics_response(vs_io *io, vs_delete_topics_response *m)
{
	if (io->version >= 1)
		vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->responses, 2 + VS_MIN_VAR, false, walk_delete_topics_result);
	vs_io_tags(io);
}

/* ---- CreatePartitions --------------------------------------------------- */

static void walk_create_partitions_assignment(vs_io *io, vs_create_partitions_assignment *a)
{
	VS_IO_ARRAY(io, a->broker_ids, 4, false, vs_io_i32);
	vs_io_tags(io);
}

static void walk_create_partitions_topic(vs_io *io, vs_create_partitions_topic *t)
{
	vs_io_str(io, &t->name);
	vs_io_i32(io, &t->count);
	VS_IO_ARRAY(io, t->assignments, VS_MIN_VAR, true, walk_create_partitions_assignment);
	vs_io_tags(io);
}

void vs_walk_create_partitions_request(vs_io *io, vs_create_partitions_request *m)
{
	VS_IO_ARRAY(io, m->topics, 4 + 2 * VS_MIN_VAR, false, walk_create_partitions_topic);
	vs_io_i32(io, &m->timeout_ms);
	vs_io_bool(io, &m->validate_only);
	vs_io_tags(io);
}

static void walk_create_partitions_result(vs_io *io, vs_create_partitions_result *r)
{
	vs_io_str(io, &r->name);
	vs_io_i16(io, &r->error_code);
	vs_io_nstr(io, &r->error_message);
	vs_io_tags(io);
}

void vs_walk_create_partitions_response(vs_io *io, vs_create_partitions_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->results, 2 + 2 * VS_MIN_VAR, false, walk_create_partitions_result);
	vs_io_tags(io);
}

/* ---- DescribeConfigs ---------------------------------------------------- */

static void walk_describe_configs_resource(vs_io *io, vs_describe_configs_resource *r)
{
	vs_io_i8(io, &r->resource_type);
	vs_io_str(io, &r->resource_name);
	VS_IO_ARRAY(io, r->configuration_keys, VS_MIN_VAR, true, vs_io_str);
	vs_io_tags(io);
}

void vs_walk_describe_configs_request(vs_io *io, vs_describe_configs_request *m)
{
	VS_IO_ARRAY(io, m->resources, 1 + 2 * VS_MIN_VAR, false, walk_describe_configs_resource);
	if (io->version >= 1)
		vs_io_bool(io, &m->include_synonyms);
	vs_io_tags(io);
}

static void walk_describe_configs_synonym(vs_io *io, vs_describe_configs_synonym *s)
{
	vs_io_str(io, &s->name);
	vs_io_nstr(io, &s->value);
	vs_io_i8(io, &s->source);
	vs_io_tags(io);
}

static void walk_describe_configs_entry(vs_io *io, vs_describe_configs_entry *e)
{
	vs_io_str(io, &e->name);
	vs_io_nstr(io, &e->value);
	vs_io_bool(io, &e->read_only);
	if (io->version == 0)
		vs_io_bool(io, &e->is_default);
	if (io->version >= 1)
		vs_io_i8(io, &e->config_source);
	else
		VS_IO_DEFAULT(io, e->config_source, -1);
	vs_io_bool(io, &e->is_sensitive);
	if (io->version >= 1)
		VS_IO_ARRAY(io, e->synonyms, 1 + 2 * VS_MIN_VAR, false, walk_describe_configs_synonym);
	vs_io_tags(io);
}

static void walk_describe_configs_result(vs_io *io, vs_describe_configs_result *r)
{
	vs_io_i16(io, &r->error_code);
	vs_io_nstr(io, &r->error_message);
	vs_io_i8(io, &r->resource_type);
	vs_io_str(io, &r->resource_name);
	VS_IO_ARRAY(io, r->configs, 2 + 2 * VS_MIN_VAR, false, walk_describe_configs_entry);
	vs_io_tags(io);
}

void vs_walk_describe_configs_response(vs_io *io, vs_describe_configs_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->results, 2 + 1 + 3 * VS_MIN_VAR, false, walk_describe_configs_result);
	vs_io_tags(io);
}

/* ---- AlterConfigs and IncrementalAlterConfigs --------------------------- */

static void walk_alter_configs_entry(vs_io *io, vs_alter_configs_entry *e)
{
	vs_io_str(io, &e->name);
	vs_io_nstr(io, &e->value);
	vs_io_tags(io);
}

static void walk_incremental_alter_configs_entry(vs_io *io, vs_alter_configs_entry *e)
{
	vs_io_str(io, &e->name);
	vs_io_i8(io, &e->config_operation);
	vs_io_nstr(io, &e->value);
	vs_io_tags(io);
}

static void walk_alter_configs_resource(vs_io *io, vs_alter_configs_resource *r)
{
	vs_io_i8(io, &r->resource_type);
	vs_io_str(io, &r->resource_name);
	VS_IO_ARRAY(io, r->configs, 2 * VS_MIN_VAR, false, walk_alter_configs_entry);
	vs_io_tags(io);
}

static void walk_incremental_alter_configs_resource(vs_io *io, vs_alter_configs_resource *r)
{
	vs_io_i8(io, &r->resource_type);
	vs_io_str(io, &r->resource_name);
	VS_IO_ARRAY(io, r->configs, 1 + 2 * VS_MIN_VAR, false, walk_incremental_alter_configs_entry);
	vs_io_tags(io);
}

void vs_walk_alter_configs_request(vs_io *io, vs_alter_configs_request *m)
{
	VS_IO_ARRAY(io, m->resources, 1 + 2 * VS_MIN_VAR, false, walk_alter_configs_resource);
	vs_io_bool(io, &m->validate_only);
	vs_io_tags(io);
}

void vs_walk_incremental_alter_configs_request(vs_io *io, vs_incremental_alter_configs_request *m)
{
	VS_IO_ARRAY(io, m->resources, 1 + 2 * VS_MIN_VAR, false,
		    walk_incremental_alter_configs_resource);
	vs_io_bool(io, &m->validate_only);
	vs_io_tags(io);
}

static void walk_alter_configs_resource_response(vs_io *io, vs_alter_configs_resource_response *r)
{
	vs_io_i16(io, &r->error_code);
	vs_io_nstr(io, &r->error_message);
	vs_io_i8(io, &r->resource_type);
	vs_io_str(io, &r->resource_name);
	vs_io_tags(io);
}

void vs_walk_alter_configs_response(vs_io *io, vs_alter_configs_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	VS_IO_ARRAY(io, m->responses, 2 + 1 + 2 * VS_MIN_VAR, false,
		    walk_alter_configs_resource_response);
	vs_io_tags(io);
}

void vs_walk_incremental_alter_configs_response(vs_io *io, vs_incremental_alter_configs_response *m)
{
	vs_walk_alter_configs_response(io, m); /* the same fields in every version */
}
