/* SPDX-License-Identifier: MIT */
/*
 * abi_fields.h -- every field of the public structs as version 1 published
 * them: the versioned structs (options, infos, stats) and the frozen ones
 * that never grow (records, headers, messages, cuts, results returned in
 * arrays or written whole). Included by v1_layout.c (built against the
 * frozen varve_v1.h) and by test_abi_table.c (built against today's
 * varve.h), each of which expands ABI_V1_FIELDS with its own header, so the
 * two layouts can be compared field by field. A field added in a later
 * version is not listed here.
 */
#ifndef ABI_FIELDS_H
#define ABI_FIELDS_H

#include <stddef.h>

typedef struct abi_field {
	const char *type, *field;
	size_t offset, size;
} abi_field;

#define ABI_FIELD(type, field) { #type, #field, offsetof(type, field), sizeof(((type *)0)->field) },

/* F(type, field) for each field, in declaration order. */
#define ABI_V1_FIELDS(F) \
	F(varve_options, version) \
	F(varve_options, sync_policy) \
	F(varve_options, sync_interval_ms) \
	F(varve_options, segment_bytes) \
	F(varve_options, segment_ms) \
	F(varve_options, index_interval_bytes) \
	F(varve_options, read_only) \
	F(varve_options, create_if_missing) \
	F(varve_options, log_fn) \
	F(varve_options, log_ctx) \
	F(varve_options, dir_mode) \
	F(varve_options, file_mode) \
	F(varve_options, max_record_bytes) \
	F(varve_options, group_commit_wait_us) \
	F(varve_options, clock_fn) \
	F(varve_options, clock_ctx) \
	F(varve_options, start_cleaner) \
	F(varve_options, max_open_files) \
	F(varve_options, cleaner_interval_ms) \
	F(varve_options, cleaner_memory_bytes) \
	F(varve_options, cleaner_io_bytes_per_sec) \
	F(varve_options, min_free_bytes) \
	F(varve_options, max_inflight_bytes) \
	F(varve_options, inflight_block) \
	F(varve_options, use_mmap) \
	F(varve_options, verify_every_read) \
	F(varve_topic_config, version) \
	F(varve_topic_config, partitions) \
	F(varve_topic_config, codec) \
	F(varve_topic_config, cleanup_policy) \
	F(varve_topic_config, retention_ms) \
	F(varve_topic_config, retention_bytes) \
	F(varve_topic_config, retention_records) \
	F(varve_topic_config, segment_bytes) \
	F(varve_topic_config, segment_ms) \
	F(varve_topic_config, delete_retention_ms) \
	F(varve_topic_config, min_cleanable_dirty_ratio) \
	F(varve_topic_config, timestamp_type) \
	F(varve_topic_config, max_future_skew_ms) \
	F(varve_topic_config, partitioner) \
	F(varve_topic_config, dedup_window_ms) \
	F(varve_topic_config, retention_hard_bytes) \
	F(varve_topic_config, retain_for_groups) \
	F(varve_partition_info, version) \
	F(varve_partition_info, start_offset) \
	F(varve_partition_info, end_offset) \
	F(varve_partition_info, durable_offset) \
	F(varve_partition_info, size_bytes) \
	F(varve_partition_info, segments) \
	F(varve_partition_info, failed) \
	F(varve_produce_options, version) \
	F(varve_produce_options, partition) \
	F(varve_produce_options, expected_end_offset) \
	F(varve_producer_options, version) \
	F(varve_producer_options, name) \
	F(varve_producer_options, resume) \
	F(varve_append_options, version) \
	F(varve_append_options, producer_id) \
	F(varve_append_options, producer_epoch) \
	F(varve_append_options, base_sequence) \
	F(varve_append_options, expected_end_offset) \
	F(varve_batch_info, version) \
	F(varve_batch_info, base_offset) \
	F(varve_batch_info, last_offset) \
	F(varve_batch_info, first_timestamp) \
	F(varve_batch_info, max_timestamp) \
	F(varve_batch_info, append_time) \
	F(varve_batch_info, producer_id) \
	F(varve_batch_info, producer_epoch) \
	F(varve_batch_info, base_sequence) \
	F(varve_batch_info, record_count) \
	F(varve_batch_info, stored_bytes) \
	F(varve_stats, version) \
	F(varve_stats, appends) \
	F(varve_stats, appended_bytes) \
	F(varve_stats, fsyncs) \
	F(varve_stats, fsync_ns) \
	F(varve_stats, dir_syncs) \
	F(varve_stats, segments_deleted) \
	F(varve_stats, bytes_reclaimed) \
	F(varve_stats, compactions) \
	F(varve_stats, compaction_ns) \
	F(varve_stats, compaction_bytes_read) \
	F(varve_stats, compaction_bytes_written) \
	F(varve_stats, compaction_records_kept) \
	F(varve_stats, compaction_records_dropped) \
	F(varve_stats, cleaner_failures) \
	F(varve_stats, lag_alerts) \
	F(varve_stats, inflight_bytes) \
	F(varve_stats, backpressure_waits) \
	F(varve_repair_options, version) \
	F(varve_repair_options, dry_run) \
	F(varve_repair_options, log_fn) \
	F(varve_repair_options, log_ctx) \
	F(varve_repair_report, version) \
	F(varve_repair_report, ranges_damaged) \
	F(varve_repair_report, records_undecodable) \
	F(varve_repair_report, records_kept) \
	F(varve_repair_report, records_dropped) \
	F(varve_repair_report, topics_recreated) \
	F(varve_backup_options, version) \
	F(varve_backup_options, copy_only) \
	F(varve_backup_options, progress_fn) \
	F(varve_backup_options, progress_ctx) \
	F(varve_backup_options, log_fn) \
	F(varve_backup_options, log_ctx) \
	F(varve_backup_report, version) \
	F(varve_backup_report, topics) \
	F(varve_backup_report, partitions) \
	F(varve_backup_report, topics_vanished) \
	F(varve_backup_report, partition_retries) \
	F(varve_backup_report, segments_linked) \
	F(varve_backup_report, segments_copied) \
	F(varve_backup_report, segments_appended) \
	F(varve_backup_report, segments_kept) \
	F(varve_backup_report, segments_removed) \
	F(varve_backup_report, bytes_linked) \
	F(varve_backup_report, bytes_copied) \
	F(varve_backup_report, bytes_total) \
	F(varve_backup_report, elapsed_ms) \
	F(varve_backup_report, repaired) \
	F(varve_consumer_options, version) \
	F(varve_consumer_options, auto_offset_reset) \
	F(varve_consumer_options, auto_commit) \
	F(varve_consumer_options, auto_commit_interval_ms) \
	F(varve_consumer_options, max_records) \
	F(varve_consumer_options, max_bytes) \
	F(varve_consumer_options, min_bytes) \
	F(varve_consumer_options, max_wait_ms) \
	F(varve_consumer_options, notify_fn) \
	F(varve_consumer_options, notify_ctx) \
	F(varve_consumer_options, max_attempts) \
	F(varve_consumer_options, retry_backoff_ms) \
	F(varve_consumer_options, retry_backoff_max_ms) \
	F(varve_consumer_options, dlq_topic) \
	F(varve_commit_info, version) \
	F(varve_commit_info, topic) \
	F(varve_commit_info, partition) \
	F(varve_commit_info, offset) \
	F(varve_commit_info, time) \
	F(varve_commit_info, metadata) \
	F(varve_lag, version) \
	F(varve_lag, committed) \
	F(varve_lag, end_offset) \
	F(varve_lag, records) \
	F(varve_lag, bytes) \
	F(varve_lag, oldest_age_ms) \
	F(varve_record, key) \
	F(varve_record, key_len) \
	F(varve_record, value) \
	F(varve_record, value_len) \
	F(varve_record, headers) \
	F(varve_record, header_count) \
	F(varve_record, timestamp) \
	F(varve_record, partition) \
	F(varve_record, offset) \
	F(varve_record, flags) \
	F(varve_header, key) \
	F(varve_header, key_len) \
	F(varve_header, value) \
	F(varve_header, value_len) \
	F(varve_msg, topic) \
	F(varve_msg, rec) \
	F(varve_recovery_cut, topic) \
	F(varve_recovery_cut, partition) \
	F(varve_recovery_cut, segment_base) \
	F(varve_recovery_cut, position) \
	F(varve_recovery_cut, bytes_lost) \
	F(varve_recovery_cut, first_offset_lost) \
	F(varve_recovery_cut, last_offset_lost) \
	F(varve_recovery_cut, reason) \
	F(varve_append_result, partition) \
	F(varve_append_result, base_offset) \
	F(varve_append_result, last_offset) \
	F(varve_append_result, append_time) \
	F(varve_append_result, flags) \
	F(varve_topic_partition, topic) \
	F(varve_topic_partition, partition) \
	F(varve_commit_item, topic) \
	F(varve_commit_item, partition) \
	F(varve_commit_item, offset) \
	F(varve_commit_item, metadata) \
	F(varve_backup_progress, topic) \
	F(varve_backup_progress, partition) \
	F(varve_backup_progress, partitions_done) \
	F(varve_backup_progress, partitions_total) \
	F(varve_backup_progress, segments_done) \
	F(varve_backup_progress, bytes_linked) \
	F(varve_backup_progress, bytes_copied) \
	F(varve_error_info, code) \
	F(varve_error_info, sys_errno) \
	F(varve_error_info, message)

#endif
