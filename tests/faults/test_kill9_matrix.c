/* SPDX-License-Identifier: MIT */
/*
 * test_kill9_matrix.c -- 500 kill -9 points across the three sync policies
 * and interval and none with the append buffer (100 each) with kill9_child
 * (see kill9_child.c for what is checked): always loses nothing
 * acknowledged; interval and none never show a record that was not
 * appended, keep offsets dense and in order, and may lose only a tail (with
 * the buffer, no more than the buffer holds). The long campaign is scripts/kill9-campaign.sh (10,000 points).
 * VARVE_KILL9_POINTS overrides the count, VARVE_KILL9_SEED the seed.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault_util.h"

Test(kill9, matrix_of_500_kill_points, .timeout = 600)
{
	const char *child = getenv("VARVE_KILL9_CHILD");
	if (!child || access(child, X_OK))
		cr_skip_test("VARVE_KILL9_CHILD does not name the kill9_child program");
	const char *pts = getenv("VARVE_KILL9_POINTS");
	const char *seed_env = getenv("VARVE_KILL9_SEED");
	char seed[32];
	snprintf(seed, sizeof seed, "%s",
		 seed_env && *seed_env ? seed_env : "0");
	if (!seed_env || !*seed_env)
		snprintf(seed, sizeof seed, "%" PRIu64, (uint64_t)(fu_now_ns() % 1000000007u));
	char *dir = fu_fast_tmpdir("kill9"); /* kill -9 keeps the page cache: tmpfs is as good */
	char cmd[8192];
	snprintf(cmd, sizeof cmd,
		 "\"%s\" campaign \"%s/c\" %s always,interval,none,interval-buffered,none-buffered "
		 "5 60 %s 2>&1",
		 child, dir, pts && *pts ? pts : "500", seed);
	uint64_t t0 = fu_now_ns();
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char line[2048], last_violation[2048] = "";
	while (fgets(line, sizeof line, p)) {
		fputs(line, stdout);
		if (strstr(line, "VIOLATION") && !last_violation[0])
			snprintf(last_violation, sizeof last_violation, "%s", line);
	}
	int st = pclose(p);
	printf("kill9[matrix]: seed %s, %.1f s\n", seed, (double)(fu_now_ns() - t0) / 1e9);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (code == 0)
		fu_rm_rf(dir);
	free(dir);
	cr_assert_eq(code, 0, "kill -9 campaign failed (exit %d, seed %s): %s", code, seed,
		     last_violation);
}
