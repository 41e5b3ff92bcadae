/* SPDX-License-Identifier: MIT */
/* API: a damaged metadata log. Damage in a batch of group commits is
 * skipped and reported (varve_recovery_cuts, the log callback): the store
 * opens and the group falls back to its earlier commit. A lost topic
 * configuration fails the open (data kept) until varve_repair rebuilds the
 * log; its dry run changes nothing. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(repair, .init = t_setup, .fini = t_teardown, .timeout = 60);

/* Position of the first (or second) occurrence of needle in a file. */
static long find_in(const char *path, const void *needle, size_t n, int nth)
{
	size_t len;
	uint8_t *d = t_read_file(path, &len);
	long at = -1;
	for (size_t i = 0; i + n <= len && at < 0; i++)
		if (!memcmp(d + i, needle, n) && --nth == 0)
			at = (long)i;
	free(d);
	return at;
}

static const char *store_with_history(void)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = 3;
	tc.retention_ms = 3600 * 1000;
	t_ok(varve_topic_create(db, "a", &tc));
	t_topic(db, "b", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 10; i++)
		t_produce_to(db, "a", 0, "k", "v", 0);
	t_produce_to(db, "b", 0, "kb", "vb", 0);
	t_ok(varve_group_commit(db, "g", "a", 0, 3, NULL));
	t_ok(varve_group_commit(db, "g", "a", 0, 7, NULL));
	t_close(db);
	return dir;
}

static const char *meta_log(const char *dir) { return t_fmt("%s/meta/%020d.log", dir, 0); }

Test(repair, damaged_commits_fall_back_and_are_reported)
{
	const char *dir = store_with_history();
	static const uint8_t key[] = { 'O', 'g', 0, 'a', 0, 0, 0, 0, 0 };
	long second = find_in(meta_log(dir), key, sizeof key, 2);
	cr_assert_gt(second, 0);
	t_flip(meta_log(dir), (uint64_t)second + 1, 0x40);
	for (int ro = 1; ro >= 0; ro--) {
		varve_options o = t_opts();
		o.read_only = ro;
		t_log log;
		t_log_init(&log);
		o.log_fn = t_log_fn;
		o.log_ctx = &log;
		varve_db *db = t_open(dir, &o);
		int64_t off = -1;
		t_ok(varve_group_offset(db, "g", "a", 0, &off));
		cr_assert_eq(off, 3, "the group falls back to its earlier commit, got %" PRId64, off);
		const varve_recovery_cut *cuts;
		size_t n;
		t_ok(varve_recovery_cuts(db, &cuts, &n));
		size_t meta_cuts = 0;
		for (size_t i = 0; i < n; i++)
			meta_cuts += !strcmp(cuts[i].topic, "__meta");
		cr_assert_eq(meta_cuts, 1, "the skipped damage is in the recovery report");
		cr_assert_geq(t_log_count(&log, "metadata log: offsets", VARVE_LOG_ERROR), 1);
		cr_assert_eq(t_count(db, "a", 0), 10);
		t_close(db);
		t_log_free(&log);
	}
}

Test(repair, lost_topic_config_needs_repair)
{
	const char *dir = store_with_history();
	static const uint8_t key[] = { 3, 'T', 'b' };
	long at = find_in(meta_log(dir), key, sizeof key, 1);
	cr_assert_gt(at, 0);
	t_flip(meta_log(dir), (uint64_t)at + 2, 0x01);
	varve_options o = t_opts();
	varve_db *db;
	t_assert_rc(varve_open(dir, &o, &db), VARVE_ECORRUPT);
	cr_assert(strstr(varve_last_error()->message, "varve repair"), "%s", varve_last_error()->message);
	cr_assert(t_exists(t_part_dir(dir, "b", 0)), "the topic's data is kept");
	o.read_only = 1;
	t_assert_rc(varve_open(dir, &o, &db), VARVE_ECORRUPT);
	/* dry run: a report, no change */
	size_t before_len;
	uint8_t *before = t_read_file(meta_log(dir), &before_len);
	varve_repair_options ro = VARVE_REPAIR_OPTIONS_INIT;
	varve_repair_report rep = { VARVE_REPAIR_REPORT_VERSION };
	t_ok(varve_repair(dir, &ro, &rep));
	cr_assert_eq(rep.ranges_damaged, 1);
	cr_assert_eq(rep.topics_recreated, 1);
	size_t after_len;
	uint8_t *after = t_read_file(meta_log(dir), &after_len);
	cr_assert(before_len == after_len && !memcmp(before, after, before_len), "a dry run wrote");
	free(before);
	free(after);
	/* a store that is open cannot be repaired */
	o.read_only = 0;
	ro.dry_run = 0;
	/* execute */
	t_ok(varve_repair(dir, &ro, &rep));
	cr_assert_gt(rep.records_kept, 0);
	db = t_open(dir, &o);
	varve_topic_config c = { VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "a", &c));
	cr_assert_eq(c.partitions, 3);
	cr_assert_eq(c.retention_ms, 3600 * 1000, "a keeps its configuration");
	t_ok(varve_topic_describe(db, "b", &c));
	cr_assert_eq(c.partitions, 1);
	cr_assert_eq(t_count(db, "b", 0), 1, "b's data is there");
	int64_t off;
	t_ok(varve_group_offset(db, "g", "a", 0, &off));
	cr_assert_eq(off, 7);
	varve_repair_report r2 = { VARVE_REPAIR_REPORT_VERSION };
	t_assert_rc(varve_repair(dir, &ro, &r2), VARVE_ELOCKED);
	t_close(db);
}
