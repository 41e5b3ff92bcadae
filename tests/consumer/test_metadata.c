/* SPDX-License-Identifier: MIT */
/*
 * test_metadata.c -- the metadata log stays small under a flood of commits
 * of the same few keys (compaction of the metadata log), and the latest
 * commit of every key survives it.
 *
 * VARVE_META_COMMITS sets the number of commits (default 1,000,000; the
 * meson test sets 250,000 in sanitizer builds, where a million take about
 * 35 s).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cons_util.h"
#include "support.h"

TestSuite(consumer_metadata, .init = t_setup, .fini = t_teardown, .timeout = 280);

/* ---- the metadata log under a flood of commits ------------------------------------------ */

/* Bytes of whole batches in the .log files of dir (an active segment's file
 * may be longer: preallocated zeros past the data). */
static uint64_t dir_log_bytes(const char *dir, size_t *nfiles)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "opendir %s", dir);
	uint64_t total = 0;
	*nfiles = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 4, ".log"))
			continue;
		uint64_t end = 0;
		t_batch_positions(t_fmt("%s/%s", dir, e->d_name), NULL, 0, &end);
		total += end;
		(*nfiles)++;
	}
	closedir(d);
	return total;
}

/* VARVE_META_COMMITS overrides the count (default 1,000,000). */
Test(consumer_metadata, metadata_log_stays_small_under_many_commits)
{
	long total = 1000000;
	const char *env = getenv("VARVE_META_COMMITS");
	if (env && atol(env) > 0)
		total = atol(env);
	const char *dir = t_newpath("s");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 4, VARVE_CODEC_NONE);
	for (uint32_t p = 0; p < 4; p++)
		fill_part(db, "t", p, 1000, 1000);
	const char *groups[3] = { "alpha", "beta", "gamma" };
	int64_t last[3][4];
	memset(last, 0xff, sizeof last);
	const char *meta = t_fmt("%s/meta", dir);
	const uint64_t cap = 4u << 20;
	uint64_t seed = 99;
	size_t nfiles;
	for (long i = 0; i < total; i++) {
		int g = (int)(t_rand(&seed) % 3);
		uint32_t p = (uint32_t)(t_rand(&seed) % 4);
		int64_t off = (int64_t)(t_rand(&seed) % 1001);
		int rc = varve_group_commit(db, groups[g], "t", p, off, (i & 1) ? "md" : NULL);
		if (rc)
			t_assert_rc(rc, VARVE_OK);
		last[g][p] = off;
		if (i % 50000 == 49999) {
			t_ok(varve_clean_now(db, 0));
			uint64_t bytes = dir_log_bytes(meta, &nfiles);
			cr_assert_lt(bytes, cap, "after %ld commits the metadata log is %" PRIu64
				     " bytes in %zu segments", i + 1, bytes, nfiles);
		}
	}
	t_ok(varve_clean_now(db, 1));
	uint64_t bytes = dir_log_bytes(meta, &nfiles);
	cr_assert_lt(bytes, cap, "metadata log is %" PRIu64 " bytes in %zu segments", bytes, nfiles);
	cr_assert_lt(nfiles, 64, "%zu metadata segments", nfiles);
	varve_stats st;
	memset(&st, 0, sizeof st);
	st.version = VARVE_STATS_VERSION;
	t_ok(varve_stats_get(db, &st));
	if (total >= 100000)
		cr_assert_gt(st.compactions, 0);
	t_close(db);

	/* the latest commit of every key survives, twice: clean and not */
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			t_unlink(t_fmt("%s/CLEAN", dir));
		db = t_open(dir, &o);
		for (int g = 0; g < 3; g++)
			for (uint32_t p = 0; p < 4; p++)
				if (last[g][p] >= 0)
					cr_assert_eq(g_offset(db, groups[g], "t", p), last[g][p],
						     "%s/%u", groups[g], p);
		char **names;
		size_t nn;
		t_ok(varve_group_list(db, &names, &nn));
		cr_assert_eq(nn, 3);
		varve_strings_free(names, nn);
		char **topics;
		t_ok(varve_topic_list(db, &topics, &nn));
		cr_assert_eq(nn, 1, "the topic record did not survive metadata compaction");
		varve_strings_free(topics, nn);
		cr_assert_eq(t_count(db, "t", 2), 1000);
		t_close(db);
	}
}
