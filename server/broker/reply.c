/* SPDX-License-Identifier: MIT */
/*
 * reply.c -- answers that do not come from a handler's logic:
 *   - vs_reply_error: a whole request refused with one error, shaped like
 *     the request (every topic, partition, group or resource it named gets
 *     the error), as Kafka's AbstractRequest.getErrorResponse does. Used
 *     for APIs that are not implemented and when a call cannot go on (the
 *     workers are busy, out of memory).
 *   - vs_response_errors: how many error codes in a response are not zero,
 *     for the per-API error counters of /metrics.
 *   - vs_kerr_from_store: the Kafka error for a failed store call.
 */
#include <string.h>

#include "broker_int.h"

static const uint8_t nothing[1];
#define EMPTY ((vs_slice){ nothing, 0 })

/* Allocate resp array `out` with as many elements as request array `in`
 * (a null request array gives an empty one); 0, or -1 out of memory. */
#define SHAPE(c, out, in)                                                                   \
	((out).n = (in).n > 0 ? (in).n : 0,                                                 \
	 ((out).v = vs_call_alloc((c), (size_t)(out).n, sizeof *(out).v)) ? 0 : -1)

static int err_produce(vs_call *c, int16_t e)
{
	vs_produce_request *q = &c->req.produce;
	vs_produce_response *r = &c->resp.produce;
	if (SHAPE(c, r->responses, q->topic_data))
		return -1;
	for (int32_t t = 0; t < r->responses.n; t++) {
		vs_produce_topic *qt = &q->topic_data.v[t];
		vs_produce_topic_response *rt = &r->responses.v[t];
		rt->name = qt->name;
		if (SHAPE(c, rt->partition_responses, qt->partition_data))
			return -1;
		for (int32_t p = 0; p < rt->partition_responses.n; p++)
			rt->partition_responses.v[p] = (vs_produce_partition_response){
				qt->partition_data.v[p].index, e, -1, -1, -1
			};
	}
	return 0;
}

static int err_fetch(vs_call *c, int16_t e)
{
	vs_fetch_request *q = &c->req.fetch;
	vs_fetch_response *r = &c->resp.fetch;
	r->error_code = e;
	if (SHAPE(c, r->responses, q->topics))
		return -1;
	for (int32_t t = 0; t < r->responses.n; t++) {
		vs_fetch_topic *qt = &q->topics.v[t];
		vs_fetch_topic_response *rt = &r->responses.v[t];
		rt->topic = qt->topic;
		if (SHAPE(c, rt->partitions, qt->partitions))
			return -1;
		for (int32_t p = 0; p < rt->partitions.n; p++) {
			vs_fetch_partition_data *d = &rt->partitions.v[p];
			d->partition_index = qt->partitions.v[p].partition;
			d->error_code = e;
			d->high_watermark = d->last_stable_offset = d->log_start_offset = -1;
			d->aborted_transactions.n = -1;
			d->preferred_read_replica = -1;
		}
	}
	return 0;
}

static int err_list_offsets(vs_call *c, int16_t e)
{
	vs_list_offsets_request *q = &c->req.list_offsets;
	vs_list_offsets_response *r = &c->resp.list_offsets;
	if (SHAPE(c, r->topics, q->topics))
		return -1;
	for (int32_t t = 0; t < r->topics.n; t++) {
		vs_list_offsets_topic *qt = &q->topics.v[t];
		vs_list_offsets_topic_response *rt = &r->topics.v[t];
		rt->name = qt->name;
		if (SHAPE(c, rt->partitions, qt->partitions))
			return -1;
		for (int32_t p = 0; p < rt->partitions.n; p++) {
			vs_list_offsets_partition_response *d = &rt->partitions.v[p];
			d->partition_index = qt->partitions.v[p].partition_index;
			d->error_code = e;
			d->timestamp = d->offset = -1;
		}
	}
	return 0;
}

static int err_metadata(vs_call *c, int16_t e)
{
	vs_metadata_request *q = &c->req.metadata;
	vs_metadata_response *r = &c->resp.metadata;
	r->controller_id = -1;
	if (SHAPE(c, r->topics, q->topics))
		return -1;
	for (int32_t t = 0; t < r->topics.n; t++) {
		r->topics.v[t].error_code = e;
		r->topics.v[t].name = q->topics.v[t].name;
	}
	return 0;
}

static int err_offset_commit(vs_call *c, int16_t e)
{
	vs_offset_commit_request *q = &c->req.offset_commit;
	vs_offset_commit_response *r = &c->resp.offset_commit;
	if (SHAPE(c, r->topics, q->topics))
		return -1;
	for (int32_t t = 0; t < r->topics.n; t++) {
		vs_offset_commit_topic *qt = &q->topics.v[t];
		vs_offset_commit_topic_response *rt = &r->topics.v[t];
		rt->name = qt->name;
		if (SHAPE(c, rt->partitions, qt->partitions))
			return -1;
		for (int32_t p = 0; p < rt->partitions.n; p++)
			rt->partitions.v[p] = (vs_offset_commit_partition_response){
				qt->partitions.v[p].partition_index, e
			};
	}
	return 0;
}

static int err_offset_fetch(vs_call *c, int16_t e)
{
	vs_offset_fetch_request *q = &c->req.offset_fetch;
	vs_offset_fetch_response *r = &c->resp.offset_fetch;
	r->error_code = e;
	if (SHAPE(c, r->topics, q->topics))
		return -1;
	for (int32_t t = 0; t < r->topics.n; t++) {
		vs_offset_fetch_topic *qt = &q->topics.v[t];
		vs_offset_fetch_topic_response *rt = &r->topics.v[t];
		rt->name = qt->name;
		if (SHAPE(c, rt->partitions, qt->partition_indexes))
			return -1;
		for (int32_t p = 0; p < rt->partitions.n; p++)
			rt->partitions.v[p] = (vs_offset_fetch_partition_response){
				qt->partition_indexes.v[p], -1, -1, EMPTY, e
			};
	}
	return 0;
}

static int err_groups(vs_call *c, int16_t e)
{
	switch (c->key) {
	case VS_API_FIND_COORDINATOR:
		c->resp.find_coordinator = (vs_find_coordinator_response){ 0, e, VS_SLICE_NULL, -1,
									   EMPTY, -1 };
		return 0;
	case VS_API_JOIN_GROUP: {
		vs_join_group_response *r = &c->resp.join_group;
		*r = (vs_join_group_response){ 0, e, -1, EMPTY, EMPTY, EMPTY, { NULL, 0 } };
		r->member_id = c->req.join_group.member_id.ptr ? c->req.join_group.member_id : EMPTY;
		return 0;
	}
	case VS_API_HEARTBEAT:
		c->resp.heartbeat.error_code = e;
		return 0;
	case VS_API_LEAVE_GROUP:
		c->resp.leave_group.error_code = e;
		return 0;
	case VS_API_SYNC_GROUP:
		c->resp.sync_group.error_code = e;
		c->resp.sync_group.assignment = EMPTY;
		return 0;
	case VS_API_LIST_GROUPS:
		c->resp.list_groups.error_code = e;
		return 0;
	default:
		return -1;
	}
}

static int err_describe_groups(vs_call *c, int16_t e)
{
	vs_describe_groups_request *q = &c->req.describe_groups;
	vs_describe_groups_response *r = &c->resp.describe_groups;
	if (SHAPE(c, r->groups, q->groups))
		return -1;
	for (int32_t i = 0; i < r->groups.n; i++)
		r->groups.v[i] = (vs_describe_groups_group){ e, q->groups.v[i], EMPTY, EMPTY, EMPTY,
							     { NULL, 0 }, INT32_MIN };
	return 0;
}

static int err_delete_groups(vs_call *c, int16_t e)
{
	vs_delete_groups_request *q = &c->req.delete_groups;
	vs_delete_groups_response *r = &c->resp.delete_groups;
	if (SHAPE(c, r->results, q->groups_names))
		return -1;
	for (int32_t i = 0; i < r->results.n; i++)
		r->results.v[i] = (vs_delete_groups_result){ q->groups_names.v[i], e };
	return 0;
}

static int err_topics(vs_call *c, int16_t e)
{
	if (c->key == VS_API_CREATE_TOPICS) {
		vs_create_topics_request *q = &c->req.create_topics;
		vs_create_topics_response *r = &c->resp.create_topics;
		if (SHAPE(c, r->topics, q->topics))
			return -1;
		for (int32_t i = 0; i < r->topics.n; i++)
			r->topics.v[i] = (vs_create_topics_result){ q->topics.v[i].name, e,
								    VS_SLICE_NULL };
		return 0;
	}
	if (c->key == VS_API_DELETE_TOPICS) {
		vs_delete_topics_request *q = &c->req.delete_topics;
		vs_delete_topics_response *r = &c->resp.delete_topics;
		if (SHAPE(c, r->responses, q->topic_names))
			return -1;
		for (int32_t i = 0; i < r->responses.n; i++)
			r->responses.v[i] = (vs_delete_topics_result){ q->topic_names.v[i], e };
		return 0;
	}
	vs_create_partitions_request *q = &c->req.create_partitions;
	vs_create_partitions_response *r = &c->resp.create_partitions;
	if (SHAPE(c, r->results, q->topics))
		return -1;
	for (int32_t i = 0; i < r->results.n; i++)
		r->results.v[i] = (vs_create_partitions_result){ q->topics.v[i].name, e,
								 VS_SLICE_NULL };
	return 0;
}

static int err_delete_records(vs_call *c, int16_t e)
{
	vs_delete_records_request *q = &c->req.delete_records;
	vs_delete_records_response *r = &c->resp.delete_records;
	if (SHAPE(c, r->topics, q->topics))
		return -1;
	for (int32_t t = 0; t < r->topics.n; t++) {
		vs_delete_records_topic *qt = &q->topics.v[t];
		vs_delete_records_topic_result *rt = &r->topics.v[t];
		rt->name = qt->name;
		if (SHAPE(c, rt->partitions, qt->partitions))
			return -1;
		for (int32_t p = 0; p < rt->partitions.n; p++)
			rt->partitions.v[p] = (vs_delete_records_partition_result){
				qt->partitions.v[p].partition_index, -1, e
			};
	}
	return 0;
}

static int err_configs(vs_call *c, int16_t e)
{
	if (c->key == VS_API_DESCRIBE_CONFIGS) {
		vs_describe_configs_request *q = &c->req.describe_configs;
		vs_describe_configs_response *r = &c->resp.describe_configs;
		if (SHAPE(c, r->results, q->resources))
			return -1;
		for (int32_t i = 0; i < r->results.n; i++)
			r->results.v[i] = (vs_describe_configs_result){
				e, VS_SLICE_NULL, q->resources.v[i].resource_type,
				q->resources.v[i].resource_name, { NULL, 0 }
			};
		return 0;
	}
	/* AlterConfigs and IncrementalAlterConfigs share their shapes */
	vs_alter_configs_request *q = &c->req.alter_configs;
	vs_alter_configs_response *r = &c->resp.alter_configs;
	if (SHAPE(c, r->responses, q->resources))
		return -1;
	for (int32_t i = 0; i < r->responses.n; i++)
		r->responses.v[i] = (vs_alter_configs_resource_response){
			e, VS_SLICE_NULL, q->resources.v[i].resource_type,
			q->resources.v[i].resource_name
		};
	return 0;
}

static int err_security(vs_call *c, int16_t e)
{
	switch (c->key) {
	case VS_API_SASL_HANDSHAKE:
		c->resp.sasl_handshake.error_code = e;
		return 0;
	case VS_API_SASL_AUTHENTICATE:
		c->resp.sasl_authenticate.error_code = e;
		c->resp.sasl_authenticate.auth_bytes = EMPTY;
		return 0;
	case VS_API_DESCRIBE_ACLS:
		c->resp.describe_acls.error_code = e;
		return 0;
	case VS_API_CREATE_ACLS: {
		vs_create_acls_response *r = &c->resp.create_acls;
		if (SHAPE(c, r->results, c->req.create_acls.creations))
			return -1;
		for (int32_t i = 0; i < r->results.n; i++)
			r->results.v[i].error_code = e;
		return 0;
	}
	case VS_API_DELETE_ACLS: {
		vs_delete_acls_response *r = &c->resp.delete_acls;
		if (SHAPE(c, r->filter_results, c->req.delete_acls.filters))
			return -1;
		for (int32_t i = 0; i < r->filter_results.n; i++)
			r->filter_results.v[i].error_code = e;
		return 0;
	}
	default:
		return -1;
	}
}

int vs_reply_error(vs_call *c, int16_t err)
{
	memset(&c->resp, 0, sizeof c->resp);
	switch (c->key) {
	case VS_API_PRODUCE:
		return err_produce(c, err);
	case VS_API_FETCH:
		return err_fetch(c, err);
	case VS_API_LIST_OFFSETS:
		return err_list_offsets(c, err);
	case VS_API_METADATA:
		return err_metadata(c, err);
	case VS_API_OFFSET_COMMIT:
		return err_offset_commit(c, err);
	case VS_API_OFFSET_FETCH:
		return err_offset_fetch(c, err);
	case VS_API_DESCRIBE_GROUPS:
		return err_describe_groups(c, err);
	case VS_API_DELETE_GROUPS:
		return err_delete_groups(c, err);
	case VS_API_CREATE_TOPICS:
	case VS_API_DELETE_TOPICS:
	case VS_API_CREATE_PARTITIONS:
		return err_topics(c, err);
	case VS_API_DELETE_RECORDS:
		return err_delete_records(c, err);
	case VS_API_INIT_PRODUCER_ID:
		c->resp.init_producer_id = (vs_init_producer_id_response){ 0, err, -1, -1 };
		return 0;
	case VS_API_API_VERSIONS:
		c->resp.api_versions.error_code = err;
		c->resp.api_versions.finalized_features_epoch = -1;
		return 0;
	case VS_API_DESCRIBE_CONFIGS:
	case VS_API_ALTER_CONFIGS:
	case VS_API_INCREMENTAL_ALTER_CONFIGS:
		return err_configs(c, err);
	case VS_API_SASL_HANDSHAKE:
	case VS_API_SASL_AUTHENTICATE:
	case VS_API_DESCRIBE_ACLS:
	case VS_API_CREATE_ACLS:
	case VS_API_DELETE_ACLS:
		return err_security(c, err);
	default:
		return err_groups(c, err);
	}
}

/* ---- counting ----------------------------------------------------------------- */

#define COUNT_NESTED(total, outer, inner, field)                                           \
	for (int32_t i_ = 0; i_ < (outer).n; i_++)                                         \
		for (int32_t j_ = 0; j_ < (outer).v[i_].inner.n; j_++)                     \
			(total) += (outer).v[i_].inner.v[j_].field != 0;
#define COUNT_FLAT(total, arr, field)                \
	for (int32_t i_ = 0; i_ < (arr).n; i_++)     \
		(total) += (arr).v[i_].field != 0;

static uint64_t count_group_errors(int16_t key, const vs_response *r)
{
	uint64_t n = 0;
	switch (key) {
	case VS_API_FIND_COORDINATOR:
		return r->find_coordinator.error_code != 0;
	case VS_API_JOIN_GROUP:
		return r->join_group.error_code != 0;
	case VS_API_HEARTBEAT:
		return r->heartbeat.error_code != 0;
	case VS_API_LEAVE_GROUP:
		return r->leave_group.error_code != 0;
	case VS_API_SYNC_GROUP:
		return r->sync_group.error_code != 0;
	case VS_API_LIST_GROUPS:
		return r->list_groups.error_code != 0;
	case VS_API_DESCRIBE_GROUPS:
		COUNT_FLAT(n, r->describe_groups.groups, error_code);
		return n;
	case VS_API_DELETE_GROUPS:
		COUNT_FLAT(n, r->delete_groups.results, error_code);
		return n;
	case VS_API_OFFSET_COMMIT:
		COUNT_NESTED(n, r->offset_commit.topics, partitions, error_code);
		return n;
	case VS_API_OFFSET_FETCH:
		COUNT_NESTED(n, r->offset_fetch.topics, partitions, error_code);
		return n + (r->offset_fetch.error_code != 0);
	default:
		return 0;
	}
}

uint64_t vs_response_errors(int16_t key, const vs_response *r)
{
	uint64_t n = 0;
	switch (key) {
	case VS_API_PRODUCE:
		COUNT_NESTED(n, r->produce.responses, partition_responses, error_code);
		return n;
	case VS_API_FETCH:
		COUNT_NESTED(n, r->fetch.responses, partitions, error_code);
		return n + (r->fetch.error_code != 0);
	case VS_API_LIST_OFFSETS:
		COUNT_NESTED(n, r->list_offsets.topics, partitions, error_code);
		return n;
	case VS_API_METADATA:
		COUNT_FLAT(n, r->metadata.topics, error_code);
		return n;
	case VS_API_API_VERSIONS:
		return r->api_versions.error_code != 0;
	case VS_API_CREATE_TOPICS:
		COUNT_FLAT(n, r->create_topics.topics, error_code);
		return n;
	case VS_API_DELETE_TOPICS:
		COUNT_FLAT(n, r->delete_topics.responses, error_code);
		return n;
	case VS_API_CREATE_PARTITIONS:
		COUNT_FLAT(n, r->create_partitions.results, error_code);
		return n;
	case VS_API_DELETE_RECORDS:
		COUNT_NESTED(n, r->delete_records.topics, partitions, error_code);
		return n;
	case VS_API_INIT_PRODUCER_ID:
		return r->init_producer_id.error_code != 0;
	case VS_API_DESCRIBE_CONFIGS:
		COUNT_FLAT(n, r->describe_configs.results, error_code);
		return n;
	case VS_API_ALTER_CONFIGS:
	case VS_API_INCREMENTAL_ALTER_CONFIGS:
		COUNT_FLAT(n, r->alter_configs.responses, error_code);
		return n;
	case VS_API_SASL_HANDSHAKE:
		return r->sasl_handshake.error_code != 0;
	case VS_API_SASL_AUTHENTICATE:
		return r->sasl_authenticate.error_code != 0;
	case VS_API_DESCRIBE_ACLS:
		return r->describe_acls.error_code != 0;
	case VS_API_CREATE_ACLS:
		COUNT_FLAT(n, r->create_acls.results, error_code);
		return n;
	case VS_API_DELETE_ACLS:
		COUNT_FLAT(n, r->delete_acls.filter_results, error_code);
		return n;
	default:
		return count_group_errors(key, r);
	}
}

int16_t vs_kerr_from_store(int rc)
{
	switch (rc) {
	case VARVE_OK:
		return KE_NONE;
	case VARVE_ENOTFOUND:
		return KE_UNKNOWN_TOPIC_OR_PARTITION;
	case VARVE_EEXISTS:
		return KE_TOPIC_ALREADY_EXISTS;
	case VARVE_EOFFSET:
		return KE_OFFSET_OUT_OF_RANGE;
	case VARVE_ETOOBIG:
		return KE_MESSAGE_TOO_LARGE;
	case VARVE_EINVAL:
		return KE_INVALID_REQUEST;
	case VARVE_EIO:
	case VARVE_ENOSPC:
	case VARVE_ECORRUPT:
	case VARVE_EREADONLY:
		return KE_KAFKA_STORAGE_ERROR;
	case VARVE_EAGAIN:
	case VARVE_ETIMEDOUT:
		return KE_REQUEST_TIMED_OUT;
	default:
		return KE_UNKNOWN_SERVER_ERROR;
	}
}
