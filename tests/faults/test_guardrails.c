/* SPDX-License-Identifier: MIT */
/*
 * test_guardrails.c -- guardrails (issue "Reliability", items 13 and 14).
 *
 *  - options.min_free_bytes: appends fail with VARVE_ENOSPC (and a
 *    message) while the filesystem of the store has less free space than
 *    that, before the disk is really full; reads, offsets, time lookups and
 *    consumers keep working; once the floor is met again (here: reopened
 *    with the option off, or space freed) appends work. Checked with a floor
 *    larger than any disk (UINT64_MAX / 2) and with one a few MiB below the
 *    current free space.
 *  - Too many open files: in a forked child with RLIMIT_NOFILE low, appends
 *    to many partitions and reads over many segments either work or fail
 *    with VARVE_EAGAIN / VARVE_EIO and a message, never crash; the store
 *    then reopens (no limit) with every acknowledged record intact. With
 *    max_open_files under the limit, reading 300 segments works.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_util.h"

static varve_options base_opts(void)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	return o;
}

static int produce_uid(varve_db *db, fu_ledger *l, int ti, int32_t part)
{
	size_t i = fu_ledger_add(l, ti, 0, 0);
	l->e[i].ts = 1700000000000LL + l->e[i].uid;
	fu_rec fr;
	fu_rec_make(&fr, l->e[i].uid, 0, l->e[i].ts);
	fr.r.partition = part;
	int32_t p = -1;
	int64_t off = -1;
	int rc = varve_produce(db, l->topics[ti].name, &fr.r, &p, &off);
	if (rc == 0) {
		l->e[i].acked = 1;
		l->e[i].part = p;
		l->e[i].offset = off;
	}
	return rc;
}

Test(guardrails, min_free_bytes_above_any_disk)
{
	char *dir = fu_tmpdir("minfree");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	fu_ledger l;
	fu_ledger_init(&l);
	int T = fu_ledger_topic(&l, "t", FU_PLAIN, 2);
	varve_options o = base_opts();
	varve_db *db;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	varve_topic_config c;
	varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
	c.partitions = 2;
	cr_assert_eq(varve_topic_create(db, "t", &c), 0);
	l.topics[T].created = 1;
	for (int i = 0; i < 20; i++)
		cr_assert_eq(produce_uid(db, &l, T, i % 2), 0);
	cr_assert_eq(varve_close(db), 0);

	o.min_free_bytes = UINT64_MAX / 2;
	int orc = varve_open(path, &o, &db);
	cr_assert_eq(orc, 0, "open with min_free_bytes above the free space: %s (%s)",
		     fu_code_name(orc), varve_last_error()->message);
	int rc1 = produce_uid(db, &l, T, 0);
	char msg1[600];
	snprintf(msg1, sizeof msg1, "%s", varve_last_error()->message);
	fu_rec fr[3];
	varve_record recs[3];
	for (int i = 0; i < 3; i++) {
		fu_rec_make(&fr[i], 900000 + (uint32_t)i, 0, 1);
		recs[i] = fr[i].r;
	}
	int rc2 = varve_produce_batch(db, "t", recs, 3, NULL);
	/* reads keep working */
	long reads = 0;
	int read_rc = 0;
	for (uint32_t p = 0; p < 2; p++) {
		varve_iter *it;
		read_rc = varve_iter_open(db, "t", p, 0, &it);
		if (read_rc)
			break;
		const varve_record *r;
		while ((read_rc = varve_iter_next(it, &r)) == 0)
			reads++;
		varve_iter_close(it);
		if (read_rc != VARVE_EEND)
			break;
		read_rc = 0;
	}
	int64_t off = -1;
	int trc = varve_offset_for_time(db, "t", 0, 1700000000000LL, &off);
	const char *topics[1] = { "t" };
	varve_consumer *cons;
	size_t polled = 0;
	int crc = varve_consumer_open(db, "g", topics, 1, NULL, &cons);
	if (crc == 0) {
		const varve_msg *m;
		crc = varve_consumer_poll(cons, 0, &m, &polled);
		varve_consumer_close(cons);
	}
	varve_partition_info pi = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	varve_partition_info_get(db, "t", 0, &pi);
	varve_close(db);
	/* the floor off again: appends work, nothing was lost */
	o.min_free_bytes = 0;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	int rc3 = produce_uid(db, &l, T, 0);
	varve_close(db);
	fu_report rep;
	int vr = fu_verify(path, NULL, &l, 0, &rep);
	fu_ledger_free(&l);
	fu_rm_rf(dir);
	free(dir);
	printf("guardrails[min_free_bytes = UINT64_MAX/2]: produce %s (\"%s\"), batch %s; reads: "
	       "%ld records (%s), offset_for_time %s, consumer poll %s (%zu records); partition "
	       "failed flag %d; after reopening without the floor: produce %s, %zu acknowledged "
	       "records verified\n",
	       fu_code_name(rc1), msg1, fu_code_name(rc2), reads, fu_code_name(read_rc),
	       fu_code_name(trc), fu_code_name(crc), polled, pi.failed, fu_code_name(rc3),
	       rep.acked_found);
	cr_assert_eq(rc1, VARVE_ENOSPC,
		     "with min_free_bytes above the free space, produce returned %s, not "
		     "VARVE_ENOSPC (options.min_free_bytes not enforced?)",
		     fu_code_name(rc1));
	cr_assert(msg1[0], "VARVE_ENOSPC without a message");
	cr_assert_eq(rc2, VARVE_ENOSPC, "produce_batch returned %s", fu_code_name(rc2));
	cr_assert(read_rc == 0 && reads == 20, "reads under the floor: %s, %ld records",
		  fu_code_name(read_rc), reads);
	cr_assert_eq(trc, 0, "offset_for_time under the floor: %s", fu_code_name(trc));
	cr_assert(crc == 0 && polled > 0, "consumer under the floor: %s, %zu records",
		  fu_code_name(crc), polled);
	cr_assert_eq(pi.failed, 0, "a refused append must not fail the partition");
	cr_assert_eq(rc3, 0, "append after the floor is lifted: %s", fu_code_name(rc3));
	cr_assert_eq(vr, 0, "%s", rep.first_failure);
}

Test(guardrails, min_free_bytes_just_below_free_space, .timeout = 300)
{
	char *dir = fu_tmpdir("minfree2");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	fu_ledger l;
	fu_ledger_init(&l);
	int T = fu_ledger_topic(&l, "t", FU_PLAIN, 1);
	int F = fu_ledger_topic(&l, "filler", FU_PLAIN, 1);
	varve_options o = base_opts();
	o.sync_policy = VARVE_SYNC_NONE;
	varve_db *db;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	cr_assert_eq(varve_topic_create(db, "filler", NULL), 0);
	l.topics[T].created = l.topics[F].created = 1;
	cr_assert_eq(produce_uid(db, &l, T, 0), 0);
	cr_assert_eq(produce_uid(db, &l, F, 0), 0);
	cr_assert_eq(varve_close(db), 0);
	uint64_t free0 = fu_free_bytes(path);
	const uint64_t margin = 48u << 20;
	if (free0 < (256ull << 20))
		cr_skip_test("less than 256 MiB free on the test filesystem");
	o.min_free_bytes = free0 - margin;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	long ok = 0;
	int rc = 0;
	char msg[600] = "";
	/* fill through "filler" until the floor says no (at most 2 x margin) */
	for (long i = 0; i < (long)(2 * margin / 300); i++) {
		rc = produce_uid(db, &l, F, 0);
		if (rc)
			break;
		ok++;
	}
	snprintf(msg, sizeof msg, "%s", varve_last_error()->message);
	uint64_t free_at = fu_free_bytes(path);
	int rrc = produce_uid(db, &l, T, 0); /* every topic is refused */
	/* free space: delete the filler topic; appends work again */
	int drc = varve_topic_delete(db, "filler");
	if (drc == 0)
		l.topics[F].deleted = 1;
	/* The disk is shared: other writers may have eaten the space freed.
	 * Check the append only if the floor is met again. */
	int arc = -1, floor_met = 0;
	for (int i = 0; i < 100 && !floor_met; i++) {
		floor_met = fu_free_bytes(path) > o.min_free_bytes + (1u << 20);
		if (!floor_met)
			usleep(20000);
	}
	for (int i = 0; floor_met && i < 50 && arc; i++) { /* the check is cached 100 ms */
		usleep(20000);
		arc = produce_uid(db, &l, T, 0);
	}
	varve_close(db);
	fu_report rep;
	o.min_free_bytes = 0;
	int vr = fu_verify(path, NULL, &l, 0, &rep);
	fu_ledger_free(&l);
	fu_rm_rf(dir);
	free(dir);
	printf("guardrails[min_free_bytes = free - 48 MiB]: %ld appends of ~300 B, then %s (\"%s\") "
	       "with %" PRIu64 " MiB still free; another topic: %s; after deleting the filler "
	       "topic: delete %s, append %s; %zu acknowledged records verified\n",
	       ok, fu_code_name(rc), msg, free_at >> 20, fu_code_name(rrc), fu_code_name(drc),
	       floor_met ? fu_code_name(arc) : "not tried (other writers used the freed space)",
	       rep.acked_found);
	cr_assert_eq(rc, VARVE_ENOSPC, "appends under the floor returned %s after %ld appends",
		     fu_code_name(rc), ok);
	cr_assert(free_at > (16u << 20), "the disk really filled up");
	cr_assert_eq(rrc, VARVE_ENOSPC);
	cr_assert(!floor_met || arc == 0, "append after freeing space: %s", fu_code_name(arc));
	cr_assert_eq(vr, 0, "%s", rep.first_failure);
}

/* ---- too many open files ------------------------------------------------------------- */

typedef struct ack_msg {
	uint32_t uid;
	int32_t part;
	int64_t offset;
} ack_msg;

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void emfile_case(int spare)
{
	char *dir = fu_tmpdir("emfile");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	const uint32_t parts = 64;
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		varve_options o = base_opts();
		o.segment_bytes = 1024;
		varve_db *db;
		if (varve_open(path, &o, &db))
			_exit(2);
		varve_topic_config c;
		varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
		c.partitions = parts;
		if (varve_topic_create(db, "t", &c))
			_exit(3);
		rlim_t lim = (rlim_t)open_fds() + (rlim_t)spare;
		struct rlimit rl = { lim, lim };
		setrlimit(RLIMIT_NOFILE, &rl);
		long stats[4] = { 0, 0, 0, 0 }; /* ok, eagain, eio, bad */
		uint32_t uid = 0;
		for (int round = 0; round < 6; round++)
			for (uint32_t p = 0; p < parts; p++, uid++) {
				fu_rec fr;
				fu_rec_make(&fr, uid, 0, 1700000000000LL + uid);
				fr.r.partition = (int32_t)p;
				ack_msg a = { uid, -1, -1 };
				int rc = varve_produce(db, "t", &fr.r, &a.part, &a.offset);
				if (rc == 0) {
					stats[0]++;
					(void)!write(pfd[1], &a, sizeof a);
				} else if (rc == VARVE_EAGAIN && varve_last_error()->message[0]) {
					stats[1]++;
				} else if (rc == VARVE_EIO && varve_last_error()->message[0]) {
					stats[2]++;
				} else {
					stats[3]++;
				}
			}
		/* reads across partitions under the limit */
		long reads = 0, read_err = 0, read_bad = 0;
		for (uint32_t p = 0; p < parts; p++) {
			varve_iter *it;
			int rc = varve_iter_open(db, "t", p, 0, &it);
			if (rc) {
				read_err++;
				read_bad += !(rc == VARVE_EAGAIN && varve_last_error()->message[0]);
				continue;
			}
			const varve_record *r;
			while ((rc = varve_iter_next(it, &r)) == 0)
				reads++;
			if (rc != VARVE_EEND) {
				read_err++;
				read_bad += !(rc == VARVE_EAGAIN && varve_last_error()->message[0]);
			}
			varve_iter_close(it);
		}
		int crc = varve_close(db);
		ack_msg end = { 0xffffffffu, (int32_t)stats[1], stats[0] };
		(void)!write(pfd[1], &end, sizeof end);
		ack_msg end2 = { 0xfffffffeu, (int32_t)stats[2], stats[3] + read_bad * 1000000 };
		(void)!write(pfd[1], &end2, sizeof end2);
		ack_msg end3 = { 0xfffffffdu, (int32_t)read_err, reads };
		(void)!write(pfd[1], &end3, sizeof end3);
		ack_msg end4 = { 0xfffffffcu, crc, (int64_t)lim };
		(void)!write(pfd[1], &end4, sizeof end4);
		_exit(0);
	}
	close(pfd[1]);
	fu_ledger l;
	fu_ledger_init(&l);
	int T = fu_ledger_topic(&l, "t", FU_PLAIN, parts);
	l.topics[T].created = 1;
	for (uint32_t u = 0; u < 6 * parts; u++)
		fu_ledger_add(&l, T, 0, 1700000000000LL + u);
	long ok = 0, eagain = 0, eio = 0, bad = 0, reads = 0, read_err = 0, lim = 0;
	int close_rc = 0;
	ack_msg a;
	while (read(pfd[0], &a, sizeof a) == (ssize_t)sizeof a) {
		if (a.uid == 0xffffffffu) {
			eagain = a.part;
			ok = a.offset;
		} else if (a.uid == 0xfffffffeu) {
			eio = a.part;
			bad = a.offset;
		} else if (a.uid == 0xfffffffdu) {
			read_err = a.part;
			reads = a.offset;
		} else if (a.uid == 0xfffffffcu) {
			close_rc = a.part;
			lim = a.offset;
		} else if (a.uid < l.n) {
			l.e[a.uid].acked = 1;
			l.e[a.uid].part = a.part;
			l.e[a.uid].offset = a.offset;
		}
	}
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	if (getenv("VARVE_GUARD_KEEP")) /* debugging: the store as the child left it */
		fu_copy_tree(path, getenv("VARVE_GUARD_KEEP"));
	fu_report rep;
	int vr = fu_verify(path, NULL, &l, 1, &rep);
	fu_ledger_free(&l);
	fu_rm_rf(dir);
	free(dir);
	printf("guardrails[RLIMIT_NOFILE open+%d = %ld, %u partitions, 1 KiB segments]: %ld appends ok, %ld "
	       "VARVE_EAGAIN, %ld VARVE_EIO, %ld bad; reads %ld records, %ld read errors; close %s; "
	       "child %s; after reopen without the limit: %zu acknowledged records verified%s%s\n",
	       spare, lim, parts, ok, eagain, eio, bad, reads, read_err, fu_code_name(close_rc),
	       WIFEXITED(status) ? "exited" : "CRASHED", rep.acked_found, vr ? ": " : "",
	       vr ? rep.first_failure : "");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	cr_assert_eq(bad, 0, "%ld appends / %ld reads failed with a code other than VARVE_EAGAIN "
		     "or VARVE_EIO, or without a message", bad % 1000000, bad / 1000000);
	cr_assert(ok > 0);
	cr_assert_eq(vr, 0, "after too many open files: %s", rep.first_failure);
}

Test(guardrails, too_many_open_files_some_room, .timeout = 300) { emfile_case(64); }
Test(guardrails, too_many_open_files_no_room_to_roll, .timeout = 300) { emfile_case(2); }

Test(guardrails, max_open_files_keeps_reads_under_a_low_fd_limit, .timeout = 300)
{
	char *dir = fu_tmpdir("maxopen");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o = base_opts();
	o.segment_bytes = 1024;
	o.sync_policy = VARVE_SYNC_NONE;
	varve_db *db;
	cr_assert_eq(varve_open(path, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, "t", NULL), 0);
	for (uint32_t i = 0; i < 900; i++) {
		fu_rec fr;
		fu_rec_make(&fr, i, 0, 1700000000000LL + i);
		fr.r.partition = 0;
		cr_assert_eq(varve_produce(db, "t", &fr.r, NULL, NULL), 0);
	}
	varve_partition_info pi = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
	varve_partition_info_get(db, "t", 0, &pi);
	cr_assert_eq(varve_close(db), 0);
	pid_t pid = fork();
	if (pid == 0) {
		varve_options o2 = base_opts();
		o2.max_open_files = 16;
		varve_db *d;
		if (varve_open(path, &o2, &d))
			_exit(2);
		rlim_t lim = (rlim_t)open_fds() + 32;
		struct rlimit rl = { lim, lim };
		setrlimit(RLIMIT_NOFILE, &rl);
		long n = 0;
		int rc = 0;
		for (int pass = 0; pass < 2 && rc == 0; pass++) {
			varve_iter *it;
			if ((rc = varve_iter_open(d, "t", 0, 0, &it)))
				break;
			const varve_record *r;
			while ((rc = varve_iter_next(it, &r)) == 0)
				n++;
			varve_iter_close(it);
			if (rc == VARVE_EEND)
				rc = 0;
			/* random positions too */
			for (int k = 0; k < 200 && rc == 0; k++) {
				int64_t off;
				rc = varve_offset_for_time(d, "t", 0, 1700000000000LL + (k * 37) % 900, &off);
			}
		}
		varve_close(d);
		_exit(rc == 0 && n == 1800 ? 0 : rc == VARVE_EAGAIN ? 10 : rc ? 11 : 12);
	}
	int status;
	waitpid(pid, &status, 0);
	fu_rm_rf(dir);
	free(dir);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	printf("guardrails[max_open_files 16, RLIMIT_NOFILE open+32, %u segments]: two full reads "
	       "and 400 time lookups: %s\n",
	       pi.segments, code == 0 ? "all fine" : code == 10 ? "VARVE_EAGAIN" : "failed");
	cr_assert_eq(code, 0,
		     "with max_open_files (16) below RLIMIT_NOFILE, reading %u segments failed "
		     "(exit %d: 10 = VARVE_EAGAIN, 11 = other error, 12 = short read)",
		     pi.segments, code);
}
