/* SPDX-License-Identifier: MIT */
/*
 * abi.c -- the size table of every versioned public struct, and the reads
 * and writes of a caller's struct of any version (see abi.h). Calls
 * error.c only.
 */
#include <stdalign.h>
#include <string.h>

#include "abi.h"
#include "error.h"

/* One row per version: the end of the last field of that version. A new
 * field appended without a new row would make the struct longer than its
 * last row (rounded to the alignment): the static assertions catch that
 * (except for a field small enough to hide in the tail padding; the
 * abi_layout test compares every field of version 1 with the frozen
 * header). */
#define ROWS(a) (sizeof(a) / sizeof((a)[0]))
#define ROUND(n, type) (((n) + alignof(type) - 1) / alignof(type) * alignof(type))
#define TABLE(var, type, name_, current_, ...)                                            \
	static const size_t var##_size[] = { __VA_ARGS__ };                              \
	_Static_assert(ROWS(var##_size) == (current_), #type ": one size row per version"); \
	const vv_abi vv_abi_##var = { name_, current_, var##_size }

#define OPTIONS_V1 VV_ABI_END(varve_options, verify_every_read)
#define OPTIONS_V2 VV_ABI_END(varve_options, io)
#define OPTIONS_V3 VV_ABI_END(varve_options, append_buffer_bytes)
_Static_assert(ROUND(OPTIONS_V3, varve_options) == sizeof(varve_options),
	       "varve_options grew: bump VARVE_OPTIONS_VERSION and add a row");
TABLE(options, varve_options, "varve_options", VARVE_OPTIONS_VERSION, OPTIONS_V1, OPTIONS_V2,
      OPTIONS_V3);

#define TOPIC_CONFIG_V1 VV_ABI_END(varve_topic_config, retain_for_groups)
_Static_assert(ROUND(TOPIC_CONFIG_V1, varve_topic_config) == sizeof(varve_topic_config),
	       "varve_topic_config grew: bump its version and add a row");
TABLE(topic_config, varve_topic_config, "varve_topic_config", VARVE_TOPIC_CONFIG_VERSION,
      TOPIC_CONFIG_V1);

#define PRODUCE_OPTIONS_V1 VV_ABI_END(varve_produce_options, expected_end_offset)
_Static_assert(ROUND(PRODUCE_OPTIONS_V1, varve_produce_options) == sizeof(varve_produce_options),
	       "varve_produce_options grew: bump its version and add a row");
TABLE(produce_options, varve_produce_options, "varve_produce_options",
      VARVE_PRODUCE_OPTIONS_VERSION, PRODUCE_OPTIONS_V1);

#define PRODUCER_OPTIONS_V1 VV_ABI_END(varve_producer_options, resume)
_Static_assert(ROUND(PRODUCER_OPTIONS_V1, varve_producer_options) ==
		       sizeof(varve_producer_options),
	       "varve_producer_options grew: bump its version and add a row");
TABLE(producer_options, varve_producer_options, "varve_producer_options",
      VARVE_PRODUCER_OPTIONS_VERSION, PRODUCER_OPTIONS_V1);

#define APPEND_OPTIONS_V1 VV_ABI_END(varve_append_options, expected_end_offset)
_Static_assert(ROUND(APPEND_OPTIONS_V1, varve_append_options) == sizeof(varve_append_options),
	       "varve_append_options grew: bump its version and add a row");
TABLE(append_options, varve_append_options, "varve_append_options",
      VARVE_APPEND_OPTIONS_VERSION, APPEND_OPTIONS_V1);

#define CONSUMER_OPTIONS_V1 VV_ABI_END(varve_consumer_options, dlq_topic)
_Static_assert(ROUND(CONSUMER_OPTIONS_V1, varve_consumer_options) ==
		       sizeof(varve_consumer_options),
	       "varve_consumer_options grew: bump its version and add a row");
TABLE(consumer_options, varve_consumer_options, "varve_consumer_options",
      VARVE_CONSUMER_OPTIONS_VERSION, CONSUMER_OPTIONS_V1);

#define REPAIR_OPTIONS_V1 VV_ABI_END(varve_repair_options, log_ctx)
_Static_assert(ROUND(REPAIR_OPTIONS_V1, varve_repair_options) == sizeof(varve_repair_options),
	       "varve_repair_options grew: bump its version and add a row");
TABLE(repair_options, varve_repair_options, "varve_repair_options",
      VARVE_REPAIR_OPTIONS_VERSION, REPAIR_OPTIONS_V1);

#define BACKUP_OPTIONS_V1 VV_ABI_END(varve_backup_options, log_ctx)
_Static_assert(ROUND(BACKUP_OPTIONS_V1, varve_backup_options) == sizeof(varve_backup_options),
	       "varve_backup_options grew: bump its version and add a row");
TABLE(backup_options, varve_backup_options, "varve_backup_options",
      VARVE_BACKUP_OPTIONS_VERSION, BACKUP_OPTIONS_V1);

#define PARTITION_INFO_V1 VV_ABI_END(varve_partition_info, failed)
_Static_assert(ROUND(PARTITION_INFO_V1, varve_partition_info) == sizeof(varve_partition_info),
	       "varve_partition_info grew: bump its version and add a row");
TABLE(partition_info, varve_partition_info, "varve_partition_info",
      VARVE_PARTITION_INFO_VERSION, PARTITION_INFO_V1);

#define STATS_V1 VV_ABI_END(varve_stats, backpressure_waits)
#define STATS_V2 VV_ABI_END(varve_stats, read_cache_bytes)
_Static_assert(ROUND(STATS_V2, varve_stats) == sizeof(varve_stats),
	       "varve_stats grew: bump VARVE_STATS_VERSION and add a row");
TABLE(stats, varve_stats, "varve_stats", VARVE_STATS_VERSION, STATS_V1, STATS_V2);

#define REPAIR_REPORT_V1 VV_ABI_END(varve_repair_report, topics_recreated)
_Static_assert(ROUND(REPAIR_REPORT_V1, varve_repair_report) == sizeof(varve_repair_report),
	       "varve_repair_report grew: bump its version and add a row");
TABLE(repair_report, varve_repair_report, "varve_repair_report", VARVE_REPAIR_REPORT_VERSION,
      REPAIR_REPORT_V1);

#define COMMIT_INFO_V1 VV_ABI_END(varve_commit_info, metadata)
_Static_assert(ROUND(COMMIT_INFO_V1, varve_commit_info) == sizeof(varve_commit_info),
	       "varve_commit_info grew: it is returned in arrays, see varve.h");
TABLE(commit_info, varve_commit_info, "varve_commit_info", VARVE_COMMIT_INFO_VERSION,
      COMMIT_INFO_V1);

#define LAG_V1 VV_ABI_END(varve_lag, oldest_age_ms)
_Static_assert(ROUND(LAG_V1, varve_lag) == sizeof(varve_lag),
	       "varve_lag grew: bump VARVE_LAG_VERSION and add a row");
TABLE(lag, varve_lag, "varve_lag", VARVE_LAG_VERSION, LAG_V1);

#define BACKUP_REPORT_V1 VV_ABI_END(varve_backup_report, repaired)
_Static_assert(ROUND(BACKUP_REPORT_V1, varve_backup_report) == sizeof(varve_backup_report),
	       "varve_backup_report grew: bump VARVE_BACKUP_REPORT_VERSION and add a row");
TABLE(backup_report, varve_backup_report, "varve_backup_report", VARVE_BACKUP_REPORT_VERSION,
      BACKUP_REPORT_V1);

#define BATCH_INFO_V1 VV_ABI_END(varve_batch_info, stored_bytes)
_Static_assert(ROUND(BATCH_INFO_V1, varve_batch_info) == sizeof(varve_batch_info),
	       "varve_batch_info grew: bump VARVE_BATCH_INFO_VERSION and add a row");
TABLE(batch_info, varve_batch_info, "varve_batch_info", VARVE_BATCH_INFO_VERSION,
      BATCH_INFO_V1);

static const vv_abi *const all[] = {
	&vv_abi_options,	&vv_abi_topic_config,	&vv_abi_produce_options,
	&vv_abi_producer_options, &vv_abi_append_options, &vv_abi_consumer_options,
	&vv_abi_repair_options, &vv_abi_backup_options, &vv_abi_partition_info,
	&vv_abi_stats,		&vv_abi_repair_report,	&vv_abi_commit_info,
	&vv_abi_lag,		&vv_abi_backup_report,	&vv_abi_batch_info,
};

const vv_abi *const *vv_abi_all(size_t *n)
{
	*n = ROWS(all);
	return all;
}

int vv_abi_check(const vv_abi *a, unsigned version)
{
	if (version >= 1 && version <= a->current)
		return 0;
	if (version == 0)
		return vv_error_set(VARVE_EINVAL, 0,
				    "%s.version is 0: set it (an input struct's _INIT macro or "
				    "_init function does)", a->name);
	return vv_error_set(VARVE_EINVAL, 0, "%s.version %u is newer than this library's (%u)",
			    a->name, version, a->current);
}

/* Every versioned struct starts with `unsigned int version`. */
static unsigned version_of(const void *s)
{
	unsigned v;
	memcpy(&v, s, sizeof v);
	return v;
}

int vv_abi_read(const vv_abi *a, const void *caller, void *full)
{
	if (caller) {
		unsigned v = version_of(caller);
		VV_TRY(vv_abi_check(a, v));
		memcpy(full, caller, vv_abi_size(a, v));
	}
	memcpy(full, &a->current, sizeof a->current);
	return 0;
}

int vv_abi_write(const vv_abi *a, void *caller, const void *full)
{
	unsigned v = version_of(caller);
	VV_TRY(vv_abi_check(a, v));
	memcpy(caller, full, vv_abi_size(a, v));
	memcpy(caller, &v, sizeof v);
	return 0;
}

int vv_abi_init(const vv_abi *a, void *caller, unsigned version, const void *defaults)
{
	VV_TRY(vv_abi_check(a, version));
	memcpy(caller, defaults, vv_abi_size(a, version));
	memcpy(caller, &version, sizeof version);
	return 0;
}
