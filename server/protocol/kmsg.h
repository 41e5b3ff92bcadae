/* SPDX-License-Identifier: MIT */
/*
 * kmsg.h -- the request and response messages of every implemented API
 * (kproto.h has the table of versions) as C structs, and their codecs.
 *
 * Field names are Kafka's (the JSON schemas of apache/kafka, folder
 * clients/src/main/resources/common/message) in snake_case, so each struct
 * can be checked against its schema. Every
 * field of every version in the API's range is here:
 *   - decoding a version that lacks a field gives it Kafka's default (the
 *     comment says which when it is not zero/empty/null);
 *   - encoding a version that lacks a field skips it.
 *
 * Types: intN_t for INTn, bool for BOOLEAN, vs_slice for STRING, BYTES and
 * RECORDS (decoded slices point into the frame, which must outlive the
 * struct; a NULL ptr is a null value), VS_ARRAY(T) for arrays: `v` points
 * to `n` elements; n < 0 is a null array (only where the field is nullable:
 * "null" in the comment). Decoded arrays live in the arena given to the
 * decoder.
 *
 * Records are not looked into: a Produce partition's records are the
 * slice the client sent, a Fetch partition's records are copied into the
 * response frame as given (another module builds and parses batches).
 *
 * All functions return a Kafka error code (kerrors.h):
 *   KE_NONE                  success;
 *   KE_UNSUPPORTED_VERSION   the API or version is not in kproto's table;
 *   KE_INVALID_REQUEST       decoding: the bytes are truncated, malformed,
 *                            or need more arena memory than the frame
 *                            justifies;
 *   KE_UNKNOWN_SERVER_ERROR  out of memory; encoding: also a value that
 *                            does not fit its wire type (a string of more
 *                            than 32767 bytes). The writer's err is then
 *                            set: discard what it holds.
 */
#ifndef VS_KMSG_H
#define VS_KMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "karena.h"
#include "kbuf.h"
#include "kproto.h"

#define VS_ARRAY(T)          \
	struct {             \
		T *v;        \
		int32_t n;   \
	}

/*
 * The arena budget a decoder allows for a message of len bytes. A decoded
 * array element is at most VS_ELEM_RATIO times larger than its smallest
 * encoding (checked at compile time, kio.h), arrays nest at most 3 deep,
 * and each allocation is padded to 16 bytes for an array of at least 2
 * wire bytes: an honest message needs less than (3 * 24 + 8) * len. A
 * lying count fails against this budget before it allocates.
 */
#define VS_ELEM_RATIO 24
#define VS_ARENA_BUDGET(len) ((len) * 96 + 4096)

/* ---- Produce (0) ------------------------------------------------------- */

typedef struct vs_produce_partition {
	int32_t index;
	vs_slice records; /* null allowed */
} vs_produce_partition;

typedef struct vs_produce_topic {
	vs_slice name;
	VS_ARRAY(vs_produce_partition) partition_data;
} vs_produce_topic;

typedef struct vs_produce_request {
	vs_slice transactional_id; /* v3+, null */
	int16_t acks;
	int32_t timeout_ms;
	VS_ARRAY(vs_produce_topic) topic_data;
} vs_produce_request;

typedef struct vs_produce_partition_response {
	int32_t index;
	int16_t error_code;
	int64_t base_offset;
	int64_t log_append_time_ms; /* v2+, default -1 */
	int64_t log_start_offset;   /* v5+, default -1 */
} vs_produce_partition_response;

typedef struct vs_produce_topic_response {
	vs_slice name;
	VS_ARRAY(vs_produce_partition_response) partition_responses;
} vs_produce_topic_response;

typedef struct vs_produce_response {
	VS_ARRAY(vs_produce_topic_response) responses;
	int32_t throttle_time_ms; /* v1+ */
} vs_produce_response;

/* ---- Fetch (1) ---------------------------------------------------------- */

typedef struct vs_fetch_partition {
	int32_t partition;
	int32_t current_leader_epoch; /* v9+, default -1 */
	int64_t fetch_offset;
	int64_t log_start_offset; /* v5+, default -1 */
	int32_t partition_max_bytes;
} vs_fetch_partition;

typedef struct vs_fetch_topic {
	vs_slice topic;
	VS_ARRAY(vs_fetch_partition) partitions;
} vs_fetch_topic;

typedef struct vs_fetch_forgotten_topic {
	vs_slice topic;
	VS_ARRAY(int32_t) partitions;
} vs_fetch_forgotten_topic;

typedef struct vs_fetch_request {
	int32_t replica_id; /* -1 for a consumer */
	int32_t max_wait_ms;
	int32_t min_bytes;
	int32_t max_bytes;       /* v3+, default INT32_MAX */
	int8_t isolation_level;  /* v4+ */
	int32_t session_id;      /* v7+ */
	int32_t session_epoch;   /* v7+, default -1 */
	VS_ARRAY(vs_fetch_topic) topics;
	VS_ARRAY(vs_fetch_forgotten_topic) forgotten_topics_data; /* v7+ */
	vs_slice rack_id; /* v11+, default "" */
} vs_fetch_request;

typedef struct vs_fetch_aborted_transaction {
	int64_t producer_id;
	int64_t first_offset;
} vs_fetch_aborted_transaction;

typedef struct vs_fetch_partition_data {
	int32_t partition_index;
	int16_t error_code;
	int64_t high_watermark;
	int64_t last_stable_offset; /* v4+, default -1 */
	int64_t log_start_offset;   /* v5+, default -1 */
	VS_ARRAY(vs_fetch_aborted_transaction) aborted_transactions; /* v4+, null */
	int32_t preferred_read_replica; /* v11+, default -1 */
	vs_slice records; /* copied as is; NULL is sent as empty */
} vs_fetch_partition_data;

typedef struct vs_fetch_topic_response {
	vs_slice topic;
	VS_ARRAY(vs_fetch_partition_data) partitions;
} vs_fetch_topic_response;

typedef struct vs_fetch_response {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;       /* v7+ */
	int32_t session_id;       /* v7+ */
	VS_ARRAY(vs_fetch_topic_response) responses;
} vs_fetch_response;

/* ---- ListOffsets (2) ---------------------------------------------------- */

typedef struct vs_list_offsets_partition {
	int32_t partition_index;
	int64_t timestamp;       /* -1 latest, -2 earliest, else a time */
	int32_t max_num_offsets; /* v0 only, default 1 */
} vs_list_offsets_partition;

typedef struct vs_list_offsets_topic {
	vs_slice name;
	VS_ARRAY(vs_list_offsets_partition) partitions;
} vs_list_offsets_topic;

typedef struct vs_list_offsets_request {
	int32_t replica_id;
	int8_t isolation_level; /* v2+ */
	VS_ARRAY(vs_list_offsets_topic) topics;
} vs_list_offsets_request;

typedef struct vs_list_offsets_partition_response {
	int32_t partition_index;
	int16_t error_code;
	VS_ARRAY(int64_t) old_style_offsets; /* v0 only */
	int64_t timestamp; /* v1+, default -1 */
	int64_t offset;    /* v1+, default -1 */
} vs_list_offsets_partition_response;

typedef struct vs_list_offsets_topic_response {
	vs_slice name;
	VS_ARRAY(vs_list_offsets_partition_response) partitions;
} vs_list_offsets_topic_response;

typedef struct vs_list_offsets_response {
	int32_t throttle_time_ms; /* v2+ */
	VS_ARRAY(vs_list_offsets_topic_response) topics;
} vs_list_offsets_response;

/* ---- Metadata (3) ------------------------------------------------------- */

typedef struct vs_metadata_request_topic {
	vs_slice name;
} vs_metadata_request_topic;

typedef struct vs_metadata_request {
	/* v0: empty means every topic; v1+: null (n < 0) means every topic,
	 * empty means none */
	VS_ARRAY(vs_metadata_request_topic) topics;
	bool allow_auto_topic_creation; /* v4+, default true */
} vs_metadata_request;

typedef struct vs_metadata_broker {
	int32_t node_id;
	vs_slice host;
	int32_t port;
	vs_slice rack; /* v1+, null */
} vs_metadata_broker;

typedef struct vs_metadata_partition {
	int16_t error_code;
	int32_t partition_index;
	int32_t leader_id;
	VS_ARRAY(int32_t) replica_nodes;
	VS_ARRAY(int32_t) isr_nodes;
} vs_metadata_partition;

typedef struct vs_metadata_topic {
	int16_t error_code;
	vs_slice name;
	bool is_internal; /* v1+ */
	VS_ARRAY(vs_metadata_partition) partitions;
} vs_metadata_topic;

typedef struct vs_metadata_response {
	int32_t throttle_time_ms; /* v3+ */
	VS_ARRAY(vs_metadata_broker) brokers;
	vs_slice cluster_id;   /* v2+, null */
	int32_t controller_id; /* v1+, default -1 */
	VS_ARRAY(vs_metadata_topic) topics;
} vs_metadata_response;

/* ---- OffsetCommit (8) --------------------------------------------------- */

typedef struct vs_offset_commit_partition {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch; /* v6+, default -1 */
	int64_t commit_timestamp;       /* v1 only, default -1 */
	vs_slice committed_metadata;    /* null */
} vs_offset_commit_partition;

typedef struct vs_offset_commit_topic {
	vs_slice name;
	VS_ARRAY(vs_offset_commit_partition) partitions;
} vs_offset_commit_topic;

typedef struct vs_offset_commit_request {
	vs_slice group_id;
	int32_t generation_id_or_member_epoch; /* v1+, default -1 */
	vs_slice member_id;                    /* v1+, default "" */
	vs_slice group_instance_id;            /* v7+, null */
	int64_t retention_time_ms;             /* v2-v4, default -1 */
	VS_ARRAY(vs_offset_commit_topic) topics;
} vs_offset_commit_request;

typedef struct vs_offset_commit_partition_response {
	int32_t partition_index;
	int16_t error_code;
} vs_offset_commit_partition_response;

typedef struct vs_offset_commit_topic_response {
	vs_slice name;
	VS_ARRAY(vs_offset_commit_partition_response) partitions;
} vs_offset_commit_topic_response;

typedef struct vs_offset_commit_response {
	int32_t throttle_time_ms; /* v3+ */
	VS_ARRAY(vs_offset_commit_topic_response) topics;
} vs_offset_commit_response;

/* ---- OffsetFetch (9) ---------------------------------------------------- */

typedef struct vs_offset_fetch_topic {
	vs_slice name;
	VS_ARRAY(int32_t) partition_indexes;
} vs_offset_fetch_topic;

typedef struct vs_offset_fetch_request {
	vs_slice group_id;
	VS_ARRAY(vs_offset_fetch_topic) topics; /* null (v2+): every topic */
	bool require_stable;                    /* v7+ */
} vs_offset_fetch_request;

typedef struct vs_offset_fetch_partition_response {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch; /* v5+, default -1 */
	vs_slice metadata;              /* null */
	int16_t error_code;
} vs_offset_fetch_partition_response;

typedef struct vs_offset_fetch_topic_response {
	vs_slice name;
	VS_ARRAY(vs_offset_fetch_partition_response) partitions;
} vs_offset_fetch_topic_response;

typedef struct vs_offset_fetch_response {
	int32_t throttle_time_ms; /* v3+ */
	VS_ARRAY(vs_offset_fetch_topic_response) topics;
	int16_t error_code; /* v2+ */
} vs_offset_fetch_response;

/* ---- FindCoordinator (10) ----------------------------------------------- */

typedef struct vs_find_coordinator_request {
	vs_slice key;
	int8_t key_type; /* v1+: 0 group, 1 transaction */
} vs_find_coordinator_request;

typedef struct vs_find_coordinator_response {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
	vs_slice error_message; /* v1+, null */
	int32_t node_id;
	vs_slice host;
	int32_t port;
} vs_find_coordinator_response;

/* ---- JoinGroup (11) ----------------------------------------------------- */

typedef struct vs_join_group_protocol {
	vs_slice name;
	vs_slice metadata;
} vs_join_group_protocol;

typedef struct vs_join_group_request {
	vs_slice group_id;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms; /* v1+, default -1 */
	vs_slice member_id;
	vs_slice group_instance_id; /* v5+, null */
	vs_slice protocol_type;
	VS_ARRAY(vs_join_group_protocol) protocols;
} vs_join_group_request;

typedef struct vs_join_group_member {
	vs_slice member_id;
	vs_slice group_instance_id; /* v5+, null */
	vs_slice metadata;
} vs_join_group_member;

typedef struct vs_join_group_response {
	int32_t throttle_time_ms; /* v2+ */
	int16_t error_code;
	int32_t generation_id;
	vs_slice protocol_name;
	vs_slice leader;
	vs_slice member_id;
	VS_ARRAY(vs_join_group_member) members;
} vs_join_group_response;

/* ---- Heartbeat (12) ----------------------------------------------------- */

typedef struct vs_heartbeat_request {
	vs_slice group_id;
	int32_t generation_id;
	vs_slice member_id;
	vs_slice group_instance_id; /* v3+, null */
} vs_heartbeat_request;

typedef struct vs_heartbeat_response {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
} vs_heartbeat_response;

/* ---- LeaveGroup (13) ---------------------------------------------------- */

typedef struct vs_leave_group_request {
	vs_slice group_id;
	vs_slice member_id;
} vs_leave_group_request;

typedef struct vs_leave_group_response {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
} vs_leave_group_response;

/* ---- SyncGroup (14) ----------------------------------------------------- */

typedef struct vs_sync_group_assignment {
	vs_slice member_id;
	vs_slice assignment;
} vs_sync_group_assignment;

typedef struct vs_sync_group_request {
	vs_slice group_id;
	int32_t generation_id;
	vs_slice member_id;
	vs_slice group_instance_id; /* v3+, null */
	VS_ARRAY(vs_sync_group_assignment) assignments;
} vs_sync_group_request;

typedef struct vs_sync_group_response {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
	vs_slice assignment;
} vs_sync_group_response;

/* ---- DescribeGroups (15) ------------------------------------------------ */

typedef struct vs_describe_groups_request {
	VS_ARRAY(vs_slice) groups;
	bool include_authorized_operations; /* v3+ */
} vs_describe_groups_request;

typedef struct vs_describe_groups_member {
	vs_slice member_id;
	vs_slice group_instance_id; /* v4+, null */
	vs_slice client_id;
	vs_slice client_host;
	vs_slice member_metadata;
	vs_slice member_assignment;
} vs_describe_groups_member;

typedef struct vs_describe_groups_group {
	int16_t error_code;
	vs_slice group_id;
	vs_slice group_state;
	vs_slice protocol_type;
	vs_slice protocol_data;
	VS_ARRAY(vs_describe_groups_member) members;
	int32_t authorized_operations; /* v3+, default INT32_MIN */
} vs_describe_groups_group;

typedef struct vs_describe_groups_response {
	int32_t throttle_time_ms; /* v1+ */
	VS_ARRAY(vs_describe_groups_group) groups;
} vs_describe_groups_response;

/* ---- ListGroups (16) ---------------------------------------------------- */

typedef struct vs_list_groups_request {
	VS_ARRAY(vs_slice) states_filter; /* v4+ */
} vs_list_groups_request;

typedef struct vs_list_groups_group {
	vs_slice group_id;
	vs_slice protocol_type;
	vs_slice group_state; /* v4+, default "" */
} vs_list_groups_group;

typedef struct vs_list_groups_response {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
	VS_ARRAY(vs_list_groups_group) groups;
} vs_list_groups_response;

/* ---- SaslHandshake (17) ------------------------------------------------- */

typedef struct vs_sasl_handshake_request {
	vs_slice mechanism;
} vs_sasl_handshake_request;

typedef struct vs_sasl_handshake_response {
	int16_t error_code;
	VS_ARRAY(vs_slice) mechanisms;
} vs_sasl_handshake_response;

/* ---- ApiVersions (18) --------------------------------------------------- */

typedef struct vs_api_versions_request {
	vs_slice client_software_name;    /* v3+, default "" */
	vs_slice client_software_version; /* v3+, default "" */
} vs_api_versions_request;

typedef struct vs_api_versions_key {
	int16_t api_key;
	int16_t min_version;
	int16_t max_version;
} vs_api_versions_key;

typedef struct vs_api_versions_feature {
	vs_slice name;
	int16_t min_version;
	int16_t max_version;
} vs_api_versions_feature;

typedef struct vs_api_versions_finalized_feature {
	vs_slice name;
	int16_t max_version_level;
	int16_t min_version_level;
} vs_api_versions_finalized_feature;

typedef struct vs_api_versions_response {
	int16_t error_code;
	VS_ARRAY(vs_api_versions_key) api_keys;
	int32_t throttle_time_ms; /* v1+ */
	/* v3+ tagged fields (tags 0-3), sent only when not the default */
	VS_ARRAY(vs_api_versions_feature) supported_features;
	int64_t finalized_features_epoch; /* default -1 */
	VS_ARRAY(vs_api_versions_finalized_feature) finalized_features;
	bool zk_migration_ready;
} vs_api_versions_response;

/* ---- CreateTopics (19) -------------------------------------------------- */

typedef struct vs_create_topics_assignment {
	int32_t partition_index;
	VS_ARRAY(int32_t) broker_ids;
} vs_create_topics_assignment;

typedef struct vs_create_topics_config {
	vs_slice name;
	vs_slice value; /* null */
} vs_create_topics_config;

typedef struct vs_create_topics_topic {
	vs_slice name;
	int32_t num_partitions;     /* -1: the broker's default */
	int16_t replication_factor; /* -1: the broker's default */
	VS_ARRAY(vs_create_topics_assignment) assignments;
	VS_ARRAY(vs_create_topics_config) configs;
} vs_create_topics_topic;

typedef struct vs_create_topics_request {
	VS_ARRAY(vs_create_topics_topic) topics;
	int32_t timeout_ms;
	bool validate_only; /* v1+ */
} vs_create_topics_request;

typedef struct vs_create_topics_result {
	vs_slice name;
	int16_t error_code;
	vs_slice error_message; /* v1+, null */
} vs_create_topics_result;

typedef struct vs_create_topics_response {
	int32_t throttle_time_ms; /* v2+ */
	VS_ARRAY(vs_create_topics_result) topics;
} vs_create_topics_response;

/* ---- DeleteTopics (20) -------------------------------------------------- */

typedef struct vs_delete_topics_request {
	VS_ARRAY(vs_slice) topic_names;
	int32_t timeout_ms;
} vs_delete_topics_request;

typedef struct vs_delete_topics_result {
	vs_slice name;
	int16_t error_code;
} vs_delete_topics_result;

typedef struct vs_delete_topics_response {
	int32_t throttle_time_ms; /* v1+ */
	VS_ARRAY(vs_delete_topics_result) responses;
} vs_delete_topics_response;

/* ---- DeleteRecords (21) ------------------------------------------------- */

typedef struct vs_delete_records_partition {
	int32_t partition_index;
	int64_t offset; /* delete below this; -1: the high watermark */
} vs_delete_records_partition;

typedef struct vs_delete_records_topic {
	vs_slice name;
	VS_ARRAY(vs_delete_records_partition) partitions;
} vs_delete_records_topic;

typedef struct vs_delete_records_request {
	VS_ARRAY(vs_delete_records_topic) topics;
	int32_t timeout_ms;
} vs_delete_records_request;

typedef struct vs_delete_records_partition_result {
	int32_t partition_index;
	int64_t low_watermark;
	int16_t error_code;
} vs_delete_records_partition_result;

typedef struct vs_delete_records_topic_result {
	vs_slice name;
	VS_ARRAY(vs_delete_records_partition_result) partitions;
} vs_delete_records_topic_result;

typedef struct vs_delete_records_response {
	int32_t throttle_time_ms;
	VS_ARRAY(vs_delete_records_topic_result) topics;
} vs_delete_records_response;

/* ---- InitProducerId (22) ------------------------------------------------ */

typedef struct vs_init_producer_id_request {
	vs_slice transactional_id; /* null: idempotence only */
	int32_t transaction_timeout_ms;
	int64_t producer_id;    /* v3+, default -1 */
	int16_t producer_epoch; /* v3+, default -1 */
} vs_init_producer_id_request;

typedef struct vs_init_producer_id_response {
	int32_t throttle_time_ms;
	int16_t error_code;
	int64_t producer_id;
	int16_t producer_epoch;
} vs_init_producer_id_response;

/* ---- DescribeAcls (29) -------------------------------------------------- */

typedef struct vs_describe_acls_request {
	int8_t resource_type_filter;
	vs_slice resource_name_filter; /* null */
	int8_t pattern_type_filter;    /* v1+, default 3 (literal) */
	vs_slice principal_filter;     /* null */
	vs_slice host_filter;          /* null */
	int8_t operation;
	int8_t permission_type;
} vs_describe_acls_request;

typedef struct vs_acl_description {
	vs_slice principal;
	vs_slice host;
	int8_t operation;
	int8_t permission_type;
} vs_acl_description;

typedef struct vs_describe_acls_resource {
	int8_t resource_type;
	vs_slice resource_name;
	int8_t pattern_type; /* v1+, default 3 */
	VS_ARRAY(vs_acl_description) acls;
} vs_describe_acls_resource;

typedef struct vs_describe_acls_response {
	int32_t throttle_time_ms;
	int16_t error_code;
	vs_slice error_message; /* null */
	VS_ARRAY(vs_describe_acls_resource) resources;
} vs_describe_acls_response;

/* ---- CreateAcls (30) ---------------------------------------------------- */

typedef struct vs_acl_creation {
	int8_t resource_type;
	vs_slice resource_name;
	int8_t resource_pattern_type; /* v1+, default 3 */
	vs_slice principal;
	vs_slice host;
	int8_t operation;
	int8_t permission_type;
} vs_acl_creation;

typedef struct vs_create_acls_request {
	VS_ARRAY(vs_acl_creation) creations;
} vs_create_acls_request;

typedef struct vs_acl_creation_result {
	int16_t error_code;
	vs_slice error_message; /* null */
} vs_acl_creation_result;

typedef struct vs_create_acls_response {
	int32_t throttle_time_ms;
	VS_ARRAY(vs_acl_creation_result) results;
} vs_create_acls_response;

/* ---- DeleteAcls (31) ---------------------------------------------------- */

typedef struct vs_delete_acls_filter {
	int8_t resource_type_filter;
	vs_slice resource_name_filter; /* null */
	int8_t pattern_type_filter;    /* v1+, default 3 */
	vs_slice principal_filter;     /* null */
	vs_slice host_filter;          /* null */
	int8_t operation;
	int8_t permission_type;
} vs_delete_acls_filter;

typedef struct vs_delete_acls_request {
	VS_ARRAY(vs_delete_acls_filter) filters;
} vs_delete_acls_request;

typedef struct vs_delete_acls_matching_acl {
	int16_t error_code;
	vs_slice error_message; /* null */
	int8_t resource_type;
	vs_slice resource_name;
	int8_t pattern_type; /* v1+, default 3 */
	vs_slice principal;
	vs_slice host;
	int8_t operation;
	int8_t permission_type;
} vs_delete_acls_matching_acl;

typedef struct vs_delete_acls_filter_result {
	int16_t error_code;
	vs_slice error_message; /* null */
	VS_ARRAY(vs_delete_acls_matching_acl) matching_acls;
} vs_delete_acls_filter_result;

typedef struct vs_delete_acls_response {
	int32_t throttle_time_ms;
	VS_ARRAY(vs_delete_acls_filter_result) filter_results;
} vs_delete_acls_response;

/* ---- DescribeConfigs (32) ----------------------------------------------- */

typedef struct vs_describe_configs_resource {
	int8_t resource_type; /* 2 topic, 4 broker */
	vs_slice resource_name;
	VS_ARRAY(vs_slice) configuration_keys; /* null: every key */
} vs_describe_configs_resource;

typedef struct vs_describe_configs_request {
	VS_ARRAY(vs_describe_configs_resource) resources;
	bool include_synonyms; /* v1+ */
} vs_describe_configs_request;

typedef struct vs_describe_configs_synonym {
	vs_slice name;
	vs_slice value; /* null */
	int8_t source;
} vs_describe_configs_synonym;

typedef struct vs_describe_configs_entry {
	vs_slice name;
	vs_slice value; /* null */
	bool read_only;
	bool is_default;     /* v0 only */
	int8_t config_source; /* v1+, default -1 */
	bool is_sensitive;
	VS_ARRAY(vs_describe_configs_synonym) synonyms; /* v1+ */
} vs_describe_configs_entry;

typedef struct vs_describe_configs_result {
	int16_t error_code;
	vs_slice error_message; /* null */
	int8_t resource_type;
	vs_slice resource_name;
	VS_ARRAY(vs_describe_configs_entry) configs;
} vs_describe_configs_result;

typedef struct vs_describe_configs_response {
	int32_t throttle_time_ms;
	VS_ARRAY(vs_describe_configs_result) results;
} vs_describe_configs_response;

/* ---- AlterConfigs (33) and IncrementalAlterConfigs (44) ----------------- */

typedef struct vs_alter_configs_entry {
	vs_slice name;
	int8_t config_operation; /* IncrementalAlterConfigs only: 0 set,
				  * 1 delete, 2 append, 3 subtract */
	vs_slice value;          /* null */
} vs_alter_configs_entry;

typedef struct vs_alter_configs_resource {
	int8_t resource_type;
	vs_slice resource_name;
	VS_ARRAY(vs_alter_configs_entry) configs;
} vs_alter_configs_resource;

typedef struct vs_alter_configs_request {
	VS_ARRAY(vs_alter_configs_resource) resources;
	bool validate_only;
} vs_alter_configs_request;

typedef struct vs_alter_configs_resource_response {
	int16_t error_code;
	vs_slice error_message; /* null */
	int8_t resource_type;
	vs_slice resource_name;
} vs_alter_configs_resource_response;

typedef struct vs_alter_configs_response {
	int32_t throttle_time_ms;
	VS_ARRAY(vs_alter_configs_resource_response) responses;
} vs_alter_configs_response;

/* The same shapes; only config_operation differs on the wire. */
typedef vs_alter_configs_request vs_incremental_alter_configs_request;
typedef vs_alter_configs_response vs_incremental_alter_configs_response;

/* ---- SaslAuthenticate (36) ---------------------------------------------- */

typedef struct vs_sasl_authenticate_request {
	vs_slice auth_bytes;
} vs_sasl_authenticate_request;

typedef struct vs_sasl_authenticate_response {
	int16_t error_code;
	vs_slice error_message; /* null */
	vs_slice auth_bytes;
	int64_t session_lifetime_ms; /* v1+ */
} vs_sasl_authenticate_response;

/* ---- CreatePartitions (37) ---------------------------------------------- */

typedef struct vs_create_partitions_assignment {
	VS_ARRAY(int32_t) broker_ids;
} vs_create_partitions_assignment;

typedef struct vs_create_partitions_topic {
	vs_slice name;
	int32_t count; /* the new total */
	VS_ARRAY(vs_create_partitions_assignment) assignments; /* null */
} vs_create_partitions_topic;

typedef struct vs_create_partitions_request {
	VS_ARRAY(vs_create_partitions_topic) topics;
	int32_t timeout_ms;
	bool validate_only;
} vs_create_partitions_request;

typedef struct vs_create_partitions_result {
	vs_slice name;
	int16_t error_code;
	vs_slice error_message; /* null */
} vs_create_partitions_result;

typedef struct vs_create_partitions_response {
	int32_t throttle_time_ms;
	VS_ARRAY(vs_create_partitions_result) results;
} vs_create_partitions_response;

/* ---- DeleteGroups (42) -------------------------------------------------- */

typedef struct vs_delete_groups_request {
	VS_ARRAY(vs_slice) groups_names;
} vs_delete_groups_request;

typedef struct vs_delete_groups_result {
	vs_slice group_id;
	int16_t error_code;
} vs_delete_groups_result;

typedef struct vs_delete_groups_response {
	int32_t throttle_time_ms;
	VS_ARRAY(vs_delete_groups_result) results;
} vs_delete_groups_response;

/* ---- VarveClean (VS_API_VARVE_CLEAN, varve's own; VERSIONS.md) --------- */

/* One retention and compaction round of the store now (varve_clean_now). */
typedef struct vs_varve_clean_request {
	bool force; /* compact whatever the dirty ratio */
} vs_varve_clean_request;

typedef struct vs_varve_clean_response {
	int32_t throttle_time_ms;
	int16_t error_code;
	vs_slice error_message; /* null */
	/* what the store's cleaner counters moved by during the round */
	int64_t segments_deleted;
	int64_t compactions;
	int64_t records_dropped;
	int64_t bytes_reclaimed;
} vs_varve_clean_response;

/* ---- any message -------------------------------------------------------- */

/* The member to use is the one named after the API. */
typedef union vs_request {
	vs_produce_request produce;
	vs_fetch_request fetch;
	vs_list_offsets_request list_offsets;
	vs_metadata_request metadata;
	vs_offset_commit_request offset_commit;
	vs_offset_fetch_request offset_fetch;
	vs_find_coordinator_request find_coordinator;
	vs_join_group_request join_group;
	vs_heartbeat_request heartbeat;
	vs_leave_group_request leave_group;
	vs_sync_group_request sync_group;
	vs_describe_groups_request describe_groups;
	vs_list_groups_request list_groups;
	vs_sasl_handshake_request sasl_handshake;
	vs_api_versions_request api_versions;
	vs_create_topics_request create_topics;
	vs_delete_topics_request delete_topics;
	vs_delete_records_request delete_records;
	vs_init_producer_id_request init_producer_id;
	vs_describe_acls_request describe_acls;
	vs_create_acls_request create_acls;
	vs_delete_acls_request delete_acls;
	vs_describe_configs_request describe_configs;
	vs_alter_configs_request alter_configs;
	vs_sasl_authenticate_request sasl_authenticate;
	vs_create_partitions_request create_partitions;
	vs_delete_groups_request delete_groups;
	vs_incremental_alter_configs_request incremental_alter_configs;
	vs_varve_clean_request varve_clean;
} vs_request;

typedef union vs_response {
	vs_produce_response produce;
	vs_fetch_response fetch;
	vs_list_offsets_response list_offsets;
	vs_metadata_response metadata;
	vs_offset_commit_response offset_commit;
	vs_offset_fetch_response offset_fetch;
	vs_find_coordinator_response find_coordinator;
	vs_join_group_response join_group;
	vs_heartbeat_response heartbeat;
	vs_leave_group_response leave_group;
	vs_sync_group_response sync_group;
	vs_describe_groups_response describe_groups;
	vs_list_groups_response list_groups;
	vs_sasl_handshake_response sasl_handshake;
	vs_api_versions_response api_versions;
	vs_create_topics_response create_topics;
	vs_delete_topics_response delete_topics;
	vs_delete_records_response delete_records;
	vs_init_producer_id_response init_producer_id;
	vs_describe_acls_response describe_acls;
	vs_create_acls_response create_acls;
	vs_delete_acls_response delete_acls;
	vs_describe_configs_response describe_configs;
	vs_alter_configs_response alter_configs;
	vs_sasl_authenticate_response sasl_authenticate;
	vs_create_partitions_response create_partitions;
	vs_delete_groups_response delete_groups;
	vs_incremental_alter_configs_response incremental_alter_configs;
	vs_varve_clean_response varve_clean;
} vs_response;

/*
 * Decode the body of a request (*body as vs_request_header_parse left it)
 * into *out, zeroed first; arrays come from `a`, which may grow by at most
 * VS_ARENA_BUDGET(body length) (and never past its cap). Bytes after the
 * message are left unread in *body (vs_rbuf_left tells how many) and are
 * not an error, as in Kafka's broker: librdkafka 2.0.2 ends its ListGroups
 * v4 request with one tagged-field section too many.
 */
int vs_request_decode(int16_t key, int16_t version, vs_rbuf *body, vs_arena *a, vs_request *out);

/* Append a whole response frame: size, response header (with its version
 * as kproto.h says), body. */
int vs_response_encode(vs_wbuf *w, int16_t key, int16_t version, int32_t correlation_id,
		       const vs_response *resp);

/* The other two directions, for tests, tools and fuzzing: a whole request
 * frame from a header and a message, and a response body (after the
 * response header) into a message. */
int vs_request_encode(vs_wbuf *w, const vs_request_header *h, const vs_request *req);
int vs_response_decode(int16_t key, int16_t version, vs_rbuf *body, vs_arena *a, vs_response *out);

/* Fill resp->api_keys from kproto's table, with room for `cap` entries in
 * keys; returns the number of entries (all of the table fits when cap >=
 * vs_api_count()). */
int32_t vs_api_versions_fill(vs_api_versions_response *resp, vs_api_versions_key *keys, size_t cap);

#endif
