/* SPDX-License-Identifier: MIT */
/*
 * test_durability.c -- commits across crashes: SIGKILL after an
 * acknowledged commit, a tail lost outside varve (the commit is clamped and
 * reported), the metadata log under many commits is in test_metadata.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cons_util.h"
#include "support.h"

TestSuite(consumer_durability, .init = t_setup, .fini = t_teardown, .timeout = 120);

/* ---- SIGKILL after the commit returned ------------------------------------------------ */

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Child: open with sync=always, produce, commit, report, wait to be killed. */
static void child_commit_once(const char *dir, int wfd)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = VARVE_SYNC_ALWAYS;
	o.start_cleaner = 0;
	varve_db *db = NULL;
	if (varve_open(dir, &o, &db))
		_exit(10);
	varve_topic_config tc;
	varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
	tc.partitions = 2;
	if (varve_topic_create(db, "t", &tc))
		_exit(11);
	for (int i = 0; i < 50; i++) {
		varve_record r = t_rec_s("k", "v");
		r.partition = i % 2;
		if (varve_produce(db, "t", &r, NULL, NULL))
			_exit(12);
	}
	const char *topics[1] = { "t" };
	varve_consumer *c = NULL;
	varve_consumer_options co;
	varve_consumer_options_init(&co, VARVE_CONSUMER_OPTIONS_VERSION);
	co.max_records = 9;
	if (varve_consumer_open(db, "g", topics, 1, &co, &c))
		_exit(13);
	const varve_msg *m;
	size_t n;
	if (varve_consumer_poll(c, 0, &m, &n) || n != 9)
		_exit(14);
	/* positions: partition 0 and 1 split the 9 records 5/4 */
	if (varve_consumer_commit(c))
		_exit(15);
	if (varve_consumer_commit_offset(c, "t", 0, 21, "explicit"))
		_exit(16);
	int64_t pos1 = -1;
	if (varve_consumer_position(c, "t", 1, &pos1))
		_exit(17);
	char msg[32];
	int l = snprintf(msg, sizeof msg, "done %" PRId64 "\n", pos1);
	if (write_all(wfd, msg, (size_t)l))
		_exit(18);
	for (;;)
		pause();
}

static pid_t spawn(void (*fn)(const char *, int), const char *dir, int *rfd)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
		close(fds[0]);
		fn(dir, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	*rfd = fds[0];
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "child did not die by SIGKILL (exit status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

Test(consumer_durability, committed_offset_survives_sigkill)
{
	const char *dir = t_newpath("s");
	int rfd;
	pid_t pid = spawn(child_commit_once, dir, &rfd);
	char buf[64] = { 0 };
	size_t got = 0;
	while (got < sizeof buf - 1) {
		ssize_t r = read(rfd, buf + got, sizeof buf - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got))
			break;
	}
	close(rfd);
	if (strncmp(buf, "done ", 5)) {
		int st;
		waitpid(pid, &st, 0);
		cr_assert_fail("child failed before committing (exit %d)",
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	int64_t pos1 = strtoll(buf + 5, NULL, 10);
	kill_and_reap(pid);

	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	cr_assert_eq(g_offset(db, "g", "t", 0), 21);
	cr_assert_eq(g_offset(db, "g", "t", 1), pos1);
	cr_assert_gt(pos1, 0);
	int64_t end;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 25);
	t_ok(varve_offsets(db, "t", 1, NULL, &end));
	cr_assert_eq(end, 25);
	/* a consumer resumes there */
	varve_consumer_options co = c_opts();
	varve_consumer *c = c_open(db, "g", "t", &co);
	cr_assert_eq(c_position(c, "t", 0), 21);
	cr_assert_eq(c_position(c, "t", 1), pos1);
	varve_consumer_close(c);
	t_close(db);
}

/* Child: commit 1, 2, 3, ... and report each after it returned. */
static void child_commit_loop(const char *dir, int wfd)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = VARVE_SYNC_ALWAYS;
	o.start_cleaner = 0;
	varve_db *db = NULL;
	if (varve_open(dir, &o, &db))
		_exit(10);
	const char *topics[1] = { "t" };
	varve_consumer *c = NULL;
	if (varve_consumer_open(db, "g", topics, 1, NULL, &c))
		_exit(13);
	for (int64_t i = 1; i <= 100000; i++) {
		if (varve_consumer_commit_offset(c, "t", (uint32_t)(i % 3), i, NULL))
			_exit(16);
		if (write_all(wfd, &i, sizeof i))
			_exit(18);
	}
	for (;;)
		pause();
}

Test(consumer_durability, every_acknowledged_commit_survives_sigkill)
{
	const char *dir = t_newpath("s");
	{
		varve_options o = t_opts();
		varve_db *db = t_open(dir, &o);
		t_topic(db, "t", 3, VARVE_CODEC_NONE);
		for (uint32_t p = 0; p < 3; p++)
			fill_part(db, "t", p, 100000, 1000);
		t_close(db);
	}
	uint64_t seed = t_seed_from_time();
	for (int round = 0; round < 3; round++) {
		int rfd;
		pid_t pid = spawn(child_commit_loop, dir, &rfd);
		int64_t want = 20 + (int64_t)(t_rand(&seed) % 300), last = 0, v;
		while (last < want) {
			ssize_t r = read(rfd, &v, sizeof v);
			if (r < 0 && errno == EINTR)
				continue;
			cr_assert_eq(r, (ssize_t)sizeof v, "child stopped early (round %d)", round);
			last = v;
		}
		kill_and_reap(pid);
		while (read(rfd, &v, sizeof v) == (ssize_t)sizeof v)
			last = v; /* reported before it died */
		close(rfd);
		varve_options o = t_opts();
		varve_db *db = t_open(dir, &o);
		/* commit `last` returned: it is there; the next one may be too */
		int64_t found[3];
		for (uint32_t p = 0; p < 3; p++)
			found[p] = g_offset(db, "g", "t", p);
		for (int64_t i = last - 1; i <= last; i++)
			cr_assert_eq(found[i % 3], i, "round %d: commit %" PRId64 " lost (partition %"
				     PRId64 " has %" PRId64 ")", round, i, i % 3, found[i % 3]);
		/* the third partition: commit last-2, or last+1 if that one made it */
		int64_t third = found[(last + 1) % 3];
		cr_assert(third == last - 2 || third == last + 1,
			  "round %d: partition %" PRId64 " has %" PRId64 ", want %" PRId64 " or %" PRId64,
			  round, (last + 1) % 3, third, last - 2, last + 1);
		t_close(db);
	}
}

/* ---- a tail lost outside varve: commits are clamped ------------------------------------- */

Test(consumer_durability, commit_past_a_lost_tail_is_clamped_and_reported)
{
	const char *dir = t_newpath("s");
	t_log log;
	t_log_init(&log);
	varve_options o = t_opts();
	o.log_fn = t_log_fn;
	o.log_ctx = &log;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	fill_part(db, "t", 0, 20, 1);
	fill_part(db, "t", 1, 20, 1);
	t_ok(varve_group_commit(db, "g", "t", 0, 20, NULL));
	t_ok(varve_group_commit(db, "g", "t", 1, 20, NULL));
	t_ok(varve_group_commit(db, "h", "t", 0, 9, NULL));
	t_close(db);

	/* cut records 15..19 of partition 0 at a batch boundary */
	const char *seg = t_seg_path(dir, "t", 0, 0, ".log");
	uint64_t pos[32];
	cr_assert_eq(t_batch_positions(seg, pos, 32, NULL), 20);
	t_truncate(seg, pos[15]);
	t_unlink(t_fmt("%s/CLEAN", dir));
	t_unlink(t_fmt("%s/recovery-point", t_part_dir(dir, "t", 0)));

	db = t_open(dir, &o);
	int64_t end;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 15);
	cr_assert_eq(g_offset(db, "g", "t", 0), 15, "commit not clamped to the new end");
	cr_assert_eq(g_offset(db, "g", "t", 1), 20, "an intact partition's commit moved");
	cr_assert_eq(g_offset(db, "h", "t", 0), 9);
	const varve_recovery_cut *cuts;
	size_t ncuts;
	t_ok(varve_recovery_cuts(db, &cuts, &ncuts));
	int clamps = 0;
	for (size_t i = 0; i < ncuts; i++) {
		if (!strstr(cuts[i].reason, "clamp"))
			continue;
		clamps++;
		cr_assert_str_eq(cuts[i].topic, "t");
		cr_assert_eq(cuts[i].partition, 0);
		cr_assert_eq(cuts[i].first_offset_lost, 15);
		cr_assert(strstr(cuts[i].reason, "g"), "reason: %s", cuts[i].reason);
	}
	cr_assert_eq(clamps, 1, "%zu cuts, %d mention a clamp", ncuts, clamps);
	cr_assert_gt(t_log_count(&log, "clamped", VARVE_LOG_WARN), 0);
	/* a consumer resumes at the new end and gets the records produced next */
	varve_consumer_options co = c_opts();
	varve_consumer *c = c_open(db, "g", "t", &co);
	cr_assert_eq(c_position(c, "t", 0), 15);
	fill_part(db, "t", 0, 3, 1);
	const varve_msg *m;
	size_t n;
	t_ok(varve_consumer_poll(c, 0, &m, &n));
	cr_assert_eq(n, 3);
	cr_assert_eq(m[0].rec.offset, 15);
	check_msg(&m[0], "t");
	cr_assert_eq(varve_consumer_resets(c), 0);
	varve_consumer_close(c);
	t_close(db);

	/* the clamp was written: a clean reopen reports nothing and keeps 15 */
	db = t_open(dir, &o);
	t_ok(varve_recovery_cuts(db, &cuts, &ncuts));
	cr_assert_eq(ncuts, 0);
	cr_assert_eq(g_offset(db, "g", "t", 0), 15);
	t_close(db);
	t_log_free(&log);
}
