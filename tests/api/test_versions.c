/* SPDX-License-Identifier: MIT */
/* API: versioned structs. Every _init function fills exactly what its _INIT
 * macro does and refuses a version outside 1..current; every entry point
 * refuses such a version in an input or output struct (VARVE_EINVAL, the
 * struct named, nothing done); an output struct is written no further than
 * its version's size (bytes after it are untouched); and the zero values
 * the header documents mean what it says. A program built against the
 * version-1 header is tested in tests/abi. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(versions, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* ---- _init functions ---------------------------------------------------------------- */

/* init(ptr, version): refused without a struct or with a version outside
 * 1..current (the struct named in the detail), else filled. */
#define CHECK_INIT(type, init_fn, current, got)                                   \
	do {                                                                      \
		t_assert_rc(init_fn(NULL, current), VARVE_EINVAL);                \
		t_assert_rc(init_fn(&got, 0), VARVE_EINVAL);                      \
		cr_assert(strstr(varve_last_error()->message, #type), "%s",     \
			  varve_last_error()->message);                           \
		t_assert_rc(init_fn(&got, (current) + 1), VARVE_EINVAL);          \
		memset(&got, 0xA5, sizeof got);                                   \
		t_ok(init_fn(&got, current));                                     \
		cr_assert_eq(got.version, (current));                             \
	} while (0)

/* Field by field: padding makes bytes differ. */
Test(versions, init_functions_match_the_macros)
{
	varve_options o, od = VARVE_OPTIONS_INIT;
	t_assert_rc(varve_options_init(NULL, 1), VARVE_EINVAL);
	t_assert_rc(varve_options_init(&o, 0), VARVE_EINVAL);
	t_assert_rc(varve_options_init(&o, VARVE_OPTIONS_VERSION + 1), VARVE_EINVAL);
	cr_assert(strstr(varve_last_error()->message, "varve_options"), "%s",
		  varve_last_error()->message);
	t_ok(varve_options_init(&o, VARVE_OPTIONS_VERSION));
	cr_assert(o.version == od.version && o.sync_policy == od.sync_policy &&
		  o.sync_interval_ms == od.sync_interval_ms && o.segment_bytes == od.segment_bytes &&
		  o.segment_ms == od.segment_ms && o.index_interval_bytes == od.index_interval_bytes &&
		  o.read_only == od.read_only && o.create_if_missing == od.create_if_missing &&
		  o.log_fn == od.log_fn && o.log_ctx == od.log_ctx && o.dir_mode == od.dir_mode &&
		  o.file_mode == od.file_mode && o.max_record_bytes == od.max_record_bytes &&
		  o.group_commit_wait_us == od.group_commit_wait_us && o.clock_fn == od.clock_fn &&
		  o.clock_ctx == od.clock_ctx && o.start_cleaner == od.start_cleaner &&
		  o.max_open_files == od.max_open_files &&
		  o.cleaner_interval_ms == od.cleaner_interval_ms &&
		  o.cleaner_memory_bytes == od.cleaner_memory_bytes &&
		  o.cleaner_io_bytes_per_sec == od.cleaner_io_bytes_per_sec &&
		  o.min_free_bytes == od.min_free_bytes &&
		  o.max_inflight_bytes == od.max_inflight_bytes &&
		  o.inflight_block == od.inflight_block && o.use_mmap == od.use_mmap &&
		  o.verify_every_read == od.verify_every_read && o.io == od.io &&
		  o.read_cache_bytes == od.read_cache_bytes &&
		  o.read_with_pread == od.read_with_pread &&
		  o.append_buffer_bytes == od.append_buffer_bytes);
	/* the macro's defaults are the documented ones */
	cr_assert_eq(od.read_cache_bytes, 0);
	cr_assert_eq(od.read_with_pread, 0);
	cr_assert_eq(od.sync_policy, VARVE_SYNC_ALWAYS);
	cr_assert_eq(od.segment_bytes, (uint64_t)1 << 30);
	cr_assert_eq(od.max_inflight_bytes, 64u << 20);
	cr_assert_eq(od.inflight_block, 1);

	varve_produce_options po, pod = VARVE_PRODUCE_OPTIONS_INIT;
	CHECK_INIT(varve_produce_options, varve_produce_options_init,
		   VARVE_PRODUCE_OPTIONS_VERSION, po);
	cr_assert(po.partition == pod.partition && po.expected_end_offset == pod.expected_end_offset);
	varve_producer_options pr, prd = VARVE_PRODUCER_OPTIONS_INIT;
	CHECK_INIT(varve_producer_options, varve_producer_options_init,
		   VARVE_PRODUCER_OPTIONS_VERSION, pr);
	cr_assert(pr.name == prd.name && pr.resume == prd.resume);
	varve_append_options ap, apd = VARVE_APPEND_OPTIONS_INIT;
	CHECK_INIT(varve_append_options, varve_append_options_init, VARVE_APPEND_OPTIONS_VERSION,
		   ap);
	cr_assert(ap.producer_id == apd.producer_id && ap.producer_epoch == apd.producer_epoch &&
		  ap.base_sequence == apd.base_sequence &&
		  ap.expected_end_offset == apd.expected_end_offset);
	varve_consumer_options co, cod = VARVE_CONSUMER_OPTIONS_INIT;
	CHECK_INIT(varve_consumer_options, varve_consumer_options_init,
		   VARVE_CONSUMER_OPTIONS_VERSION, co);
	cr_assert(co.auto_offset_reset == cod.auto_offset_reset &&
		  co.auto_commit == cod.auto_commit &&
		  co.auto_commit_interval_ms == cod.auto_commit_interval_ms &&
		  co.max_records == cod.max_records && co.max_bytes == cod.max_bytes &&
		  co.min_bytes == cod.min_bytes && co.max_wait_ms == cod.max_wait_ms &&
		  co.notify_fn == cod.notify_fn && co.notify_ctx == cod.notify_ctx &&
		  co.max_attempts == cod.max_attempts && co.retry_backoff_ms == cod.retry_backoff_ms &&
		  co.retry_backoff_max_ms == cod.retry_backoff_max_ms && co.dlq_topic == cod.dlq_topic);
	varve_repair_options ro, rod = VARVE_REPAIR_OPTIONS_INIT;
	CHECK_INIT(varve_repair_options, varve_repair_options_init, VARVE_REPAIR_OPTIONS_VERSION,
		   ro);
	cr_assert(ro.dry_run == rod.dry_run && ro.log_fn == rod.log_fn && ro.log_ctx == rod.log_ctx);
	cr_assert_eq(rod.dry_run, 1);
	varve_backup_options bo, bod = VARVE_BACKUP_OPTIONS_INIT;
	CHECK_INIT(varve_backup_options, varve_backup_options_init, VARVE_BACKUP_OPTIONS_VERSION,
		   bo);
	cr_assert(bo.copy_only == bod.copy_only && bo.progress_fn == bod.progress_fn &&
		  bo.progress_ctx == bod.progress_ctx && bo.log_fn == bod.log_fn &&
		  bo.log_ctx == bod.log_ctx);
	varve_topic_config tc;
	CHECK_INIT(varve_topic_config, varve_topic_config_init, VARVE_TOPIC_CONFIG_VERSION, tc);
	cr_assert(tc.partitions == 1 && tc.retention_ms == -1 && tc.retention_hard_bytes == -1 &&
		  tc.min_cleanable_dirty_ratio == 0.5 && tc.retain_for_groups == NULL);

	/* the documented defaults */
	cr_assert_eq(po.partition, VARVE_PARTITION_ANY);
	cr_assert_eq(po.expected_end_offset, VARVE_NO_EXPECTED_OFFSET);
	cr_assert(ap.producer_id == -1 && ap.base_sequence == -1 &&
		  ap.expected_end_offset == VARVE_NO_EXPECTED_OFFSET);
}

/* ---- entry points refuse unknown versions ---------------------------------------------- */

#define REFUSED(call, name)                                                              \
	do {                                                                             \
		int rc_ = (call);                                                        \
		cr_assert_eq(rc_, VARVE_EINVAL, #call ": %d %s", rc_,                    \
			     varve_last_error()->message);                               \
		cr_assert(strstr(varve_last_error()->message, name), #call ": %s",      \
			  varve_last_error()->message);                                  \
	} while (0)

Test(versions, inputs_with_an_unknown_version_are_refused)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	/* 0, one past each struct's current version (2 for the version-1 ones), 1000 */
	unsigned bad[] = { 0, 2, 1000 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned v = bad[i];
		varve_options bo = t_opts();
		bo.version = v == 2 ? VARVE_OPTIONS_VERSION + 1 : v;
		varve_db *other = NULL;
		REFUSED(varve_open(t_newpath("never"), &bo, &other), "varve_options");
		varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
		tc.version = v;
		REFUSED(varve_topic_create(db, "u", &tc), "varve_topic_config");
		REFUSED(varve_topic_alter(db, "t", &tc), "varve_topic_config");
		varve_record r = t_rec_s("k", "v");
		varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
		po.version = v;
		REFUSED(varve_produce_batch(db, "t", &r, 1, &po), "varve_produce_options");
		varve_producer_options pro = VARVE_PRODUCER_OPTIONS_INIT;
		pro.version = v;
		varve_producer *p = NULL;
		REFUSED(varve_producer_open(db, &pro, &p), "varve_producer_options");
		varve_append_options ao = VARVE_APPEND_OPTIONS_INIT;
		ao.version = v;
		varve_append_result res;
		REFUSED(varve_append(db, "t", 0, &r, 1, &ao, &res), "varve_append_options");
		varve_consumer_options co = VARVE_CONSUMER_OPTIONS_INIT;
		co.version = v;
		const char *topics[] = { "t" };
		varve_consumer *c = NULL;
		REFUSED(varve_consumer_open(db, "g", topics, 1, &co, &c), "varve_consumer_options");
		varve_repair_options ro = VARVE_REPAIR_OPTIONS_INIT;
		ro.version = v;
		varve_repair_report rep = { .version = VARVE_REPAIR_REPORT_VERSION };
		REFUSED(varve_repair(dir, &ro, &rep), "varve_repair_options");
		varve_backup_options bko = VARVE_BACKUP_OPTIONS_INIT;
		bko.version = v;
		REFUSED(varve_backup(db, t_newpath("copy"), &bko, NULL), "varve_backup_options");
	}
	cr_assert(!t_exists(t_newpath("copy")), "a refused backup made its destination");
	/* nothing was done by any of that */
	char **names;
	size_t n;
	t_ok(varve_topic_list(db, &names, &n));
	cr_assert_eq(n, 1);
	varve_strings_free(names, n);
	int64_t end = -1;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 0);
	t_close(db);
}

/* An output struct in a buffer with a canary after it. */
typedef struct canaried {
	union {
		varve_stats stats;
		varve_partition_info info;
		varve_lag lag;
		varve_topic_config cfg;
		varve_commit_info commit;
		varve_repair_report rep;
		varve_backup_report backup;
	} u;
	unsigned char canary[64];
} canaried;

static void arm(canaried *c, unsigned version)
{
	memset(c, 0xA5, sizeof *c);
	memcpy(&c->u, &version, sizeof version); /* every struct starts with it */
}

/* Bytes from the start of a struct to the end of its last field: a
 * struct's tail padding is not the caller's version's to write either. */
#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

static int canary_intact(const canaried *c, size_t struct_size)
{
	const unsigned char *b = (const unsigned char *)c;
	for (size_t i = struct_size; i < sizeof *c; i++)
		if (b[i] != 0xA5)
			return 0;
	return 1;
}

Test(versions, outputs_with_an_unknown_version_are_refused_and_known_ones_stay_in_bounds)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	t_produce_to(db, "t", 0, "k", "v", 0);
	t_ok(varve_group_commit(db, "g", "t", 0, 1, "md"));
	canaried c;
	unsigned bad[] = { 0, 2, 77 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		/* varve_stats is at version 2: its first unknown one is 3 */
		arm(&c, bad[i] == 2 ? VARVE_STATS_VERSION + 1 : bad[i]);
		REFUSED(varve_stats_get(db, &c.u.stats), "varve_stats");
		arm(&c, bad[i]);
		REFUSED(varve_partition_info_get(db, "t", 0, &c.u.info), "varve_partition_info");
		arm(&c, bad[i]);
		REFUSED(varve_group_lag(db, "g", "t", 0, &c.u.lag), "varve_lag");
		arm(&c, bad[i]);
		REFUSED(varve_topic_describe(db, "t", &c.u.cfg), "varve_topic_config");
		arm(&c, bad[i]);
		REFUSED(varve_group_committed(db, "g", "t", 0, &c.u.commit), "varve_commit_info");
		arm(&c, bad[i]);
		REFUSED(varve_backup(db, t_newpath("refused"), NULL, &c.u.backup),
			"varve_backup_report");
	}
	cr_assert(!t_exists(t_newpath("refused")), "a refused backup made its destination");
	/* the current version: filled, and not a byte past its last field (so
	 * not the tail padding of varve_commit_info either) */
	arm(&c, VARVE_STATS_VERSION);
	t_ok(varve_stats_get(db, &c.u.stats));
	cr_assert(canary_intact(&c, END_OF(varve_stats, read_cache_bytes)));
	cr_assert_eq(c.u.stats.version, VARVE_STATS_VERSION);
	cr_assert_eq(c.u.stats.appends, 1);
	arm(&c, 1); /* version 1 ends before read_cache_bytes */
	t_ok(varve_stats_get(db, &c.u.stats));
	cr_assert(canary_intact(&c, END_OF(varve_stats, backpressure_waits)));
	cr_assert_eq(c.u.stats.appends, 1);
	arm(&c, VARVE_PARTITION_INFO_VERSION);
	t_ok(varve_partition_info_get(db, "t", 0, &c.u.info));
	cr_assert(canary_intact(&c, END_OF(varve_partition_info, failed)));
	cr_assert_eq(c.u.info.end_offset, 1);
	arm(&c, VARVE_LAG_VERSION);
	t_ok(varve_group_lag(db, "g", "t", 0, &c.u.lag));
	cr_assert(canary_intact(&c, END_OF(varve_lag, oldest_age_ms)));
	cr_assert(c.u.lag.committed == 1 && c.u.lag.records == 0);
	arm(&c, VARVE_TOPIC_CONFIG_VERSION);
	t_ok(varve_topic_describe(db, "t", &c.u.cfg));
	cr_assert(canary_intact(&c, END_OF(varve_topic_config, retain_for_groups)));
	cr_assert_eq(c.u.cfg.partitions, 1);
	arm(&c, VARVE_COMMIT_INFO_VERSION);
	t_ok(varve_group_committed(db, "g", "t", 0, &c.u.commit));
	cr_assert(canary_intact(&c, END_OF(varve_commit_info, metadata)));
	cr_assert_str_eq(c.u.commit.metadata, "md");
	arm(&c, VARVE_BACKUP_REPORT_VERSION);
	t_ok(varve_backup(db, t_newpath("copy"), NULL, &c.u.backup));
	cr_assert(canary_intact(&c, END_OF(varve_backup_report, repaired)));
	cr_assert(c.u.backup.topics == 1 && c.u.backup.partitions == 2 && c.u.backup.repaired == 0,
		  "%u topics, %u partitions", c.u.backup.topics, c.u.backup.partitions);
	t_close(db);
	/* the repair report, of a store no one has open */
	arm(&c, 0);
	varve_repair_options ro = VARVE_REPAIR_OPTIONS_INIT;
	REFUSED(varve_repair(dir, &ro, &c.u.rep), "varve_repair_report");
	arm(&c, VARVE_REPAIR_REPORT_VERSION);
	t_ok(varve_repair(dir, &ro, &c.u.rep));
	cr_assert(canary_intact(&c, END_OF(varve_repair_report, topics_recreated)));
	cr_assert_eq(c.u.rep.ranges_damaged, 0);
}

/* ---- zero values, as the header documents them ---------------------------------------- */

Test(versions, zero_values_mean_what_the_header_says)
{
	const char *dir = t_tmpdir();
	/* varve_options: zero segment_bytes (and friends) is refused, not a default */
	varve_options z;
	memset(&z, 0, sizeof z);
	z.version = VARVE_OPTIONS_VERSION;
	varve_db *db = NULL;
	t_assert_rc(varve_open(t_newpath("zero"), &z, &db), VARVE_EINVAL);
	varve_options o = t_opts();
	db = t_open(dir, &o);
	/* varve_topic_config: zero partitions is refused */
	varve_topic_config tz = { .version = VARVE_TOPIC_CONFIG_VERSION };
	t_assert_rc(varve_topic_create(db, "t", &tz), VARVE_EINVAL);
	tz.partitions = 2;
	tz.cleanup_policy = VARVE_CLEANUP_DELETE;
	t_ok(varve_topic_create(db, "t", &tz));
	/* zero codec, segment sizes, partitioner, window: their defaults */
	varve_topic_config got = { .version = VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "t", &got));
	cr_assert(got.codec == VARVE_CODEC_NONE && got.partitioner == VARVE_PARTITIONER_STICKY &&
		  got.dedup_window_ms == 0 && got.retain_for_groups == NULL);
	/* varve_producer_options: all zero is an anonymous producer */
	varve_producer_options pz = { .version = VARVE_PRODUCER_OPTIONS_VERSION };
	varve_producer *p;
	t_ok(varve_producer_open(db, &pz, &p));
	varve_producer_close(p);
	/* varve_produce_options: zero is taken literally, partition 0 and
	 * expected end offset 0 */
	varve_produce_options poz = { .version = VARVE_PRODUCE_OPTIONS_VERSION };
	varve_record r[2] = { t_rec_s("a", "1"), t_rec_s("b", "2") };
	t_ok(varve_produce_batch(db, "t", r, 2, &poz));
	cr_assert(r[0].partition == 0 && r[1].partition == 0 && r[0].offset == 0);
	t_assert_rc(varve_produce_batch(db, "t", r, 2, &poz), VARVE_ECONFLICT);
	/* varve_consumer_options: zero max_records means one record per poll */
	varve_consumer_options cz = { .version = VARVE_CONSUMER_OPTIONS_VERSION };
	const char *topics[] = { "t" };
	varve_consumer *c;
	t_ok(varve_consumer_open(db, "g", topics, 1, &cz, &c));
	const varve_msg *msgs;
	size_t n = 0;
	t_ok(varve_consumer_poll(c, 1000, &msgs, &n));
	cr_assert_eq(n, 1);
	varve_consumer_close(c);
	/* varve_backup_options: all zero backs up with hard links where it can,
	 * reporting to the store's log callback */
	varve_backup_options bz = { .version = VARVE_BACKUP_OPTIONS_VERSION };
	varve_backup_report brep = { .version = VARVE_BACKUP_REPORT_VERSION };
	t_ok(varve_backup(db, t_newpath("copy"), &bz, &brep));
	cr_assert_eq(brep.topics, 1);
	t_close(db);
}
