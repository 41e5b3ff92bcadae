/* SPDX-License-Identifier: MIT */
/* Unit tests: the group commit's gather under sync=always (partition.c,
 * design note 6 of partition.h). fdatasyncs are counted with the I/O
 * counters, which are per process: Criterion runs each test in its own. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "io.h"
#include "partition.h"
#include "support.h"
#include "util.h"

TestSuite(gather, .init = t_setup, .fini = t_teardown, .timeout = 60);

static vv_part_config always_cfg(uint32_t wait_us)
{
	vv_part_config c;
	memset(&c, 0, sizeof c);
	c.seg.index_interval = 4096;
	c.seg.max_batch = 1u << 20;
	c.seg.file_mode = 0600;
	c.segment_bytes = 64u << 20; /* no roll: every sync is one segment's */
	c.sync_policy = VARVE_SYNC_ALWAYS;
	c.codec = VARVE_CODEC_NONE;
	c.dir_mode = 0700;
	c.group_commit_wait_us = wait_us;
	return c;
}

static vv_partition *open_always(uint32_t wait_us)
{
	vv_part_config c = always_cfg(wait_us);
	vv_partition *p = NULL;
	int rc = vv_partition_open(t_fmt("%s/p", t_tmpdir()), "t", 0, &c, 0, &p);
	cr_assert_eq(rc, 0, "open: %d (%s)", rc, varve_last_error()->message);
	return p;
}

/* The gather's bound is half the smoothed fdatasync time: set that time so
 * the bound is `bound_ns` for the next gather. */
static void set_bound(vv_partition *p, uint64_t bound_ns)
{
	pthread_mutex_lock(&p->sync_mu);
	p->sync_ns_avg = 2 * bound_ns;
	pthread_mutex_unlock(&p->sync_mu);
}

static int append_one(vv_partition *p, int no_wait)
{
	varve_record r = t_rec_s("k", "a value");
	const varve_record *rp = &r;
	vv_append_opts o = { .expected_end = -1, .producer_id = -1, .base_sequence = -1,
			     .no_wait = no_wait };
	return vv_partition_append(p, &rp, 1, &o, NULL);
}

static uint64_t datasyncs(void)
{
	vv_io_counters c;
	vv_io_counters_get(&c);
	return c.datasyncs;
}

/* Three appends pending at one sync: leaders now expect groups of three.
 * Returns the fdatasyncs one group commit costs. */
static uint64_t expect_groups_of_three(vv_partition *p)
{
	cr_assert_eq(append_one(p, 1), 0);
	cr_assert_eq(append_one(p, 1), 0);
	uint64_t before = datasyncs();
	cr_assert_eq(append_one(p, 0), 0, "%s", varve_last_error()->message);
	uint64_t per_sync = datasyncs() - before;
	cr_assert_gt(per_sync, 0, "a sync=always append did not sync");
	pthread_mutex_lock(&p->sync_mu);
	uint64_t target = p->gather_target;
	pthread_mutex_unlock(&p->sync_mu);
	cr_assert_eq(target, 3, "expected group %llu, want 3", (unsigned long long)target);
	cr_assert_eq(atomic_load(&p->gather_waits), 0, "a full group must not wait");
	return per_sync;
}

static void *appender(void *arg)
{
	vv_partition *p = arg;
	return (void *)(intptr_t)append_one(p, 0);
}

static int is_gathering(vv_partition *p)
{
	pthread_mutex_lock(&p->sync_mu);
	int g = p->gathering;
	pthread_mutex_unlock(&p->sync_mu);
	return g;
}

/* A leader holds its sync for the producers it expects; the two who join
 * inside the window are covered by the same fdatasync, and their arrival
 * (not the bound, 30 s here) ends the wait. */
Test(gather, joiners_within_the_window_share_one_sync)
{
	vv_partition *p = open_always(0);
	uint64_t per_sync = expect_groups_of_three(p);
	set_bound(p, 30ull * 1000 * 1000 * 1000);

	pthread_t leader, joiners[2];
	cr_assert_eq(pthread_create(&leader, NULL, appender, p), 0);
	uint64_t deadline = vv_mono_ns() + 20ull * 1000 * 1000 * 1000;
	while (!is_gathering(p)) {
		cr_assert_lt(vv_mono_ns(), deadline, "the leader never gathered");
		sched_yield();
	}
	uint64_t before = datasyncs();
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&joiners[i], NULL, appender, p), 0);
	void *rc;
	pthread_join(leader, &rc);
	cr_assert_eq((intptr_t)rc, 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(joiners[i], &rc);
		cr_assert_eq((intptr_t)rc, 0);
	}
	cr_assert_eq(datasyncs() - before, per_sync, "three appends took %llu fdatasyncs, one sync is %llu",
		     (unsigned long long)(datasyncs() - before), (unsigned long long)per_sync);
	cr_assert_eq(atomic_load(&p->durable_offset), 6);
	cr_assert_eq(atomic_load(&p->gather_waits), 1);
	cr_assert_eq(atomic_load(&p->gather_timeouts), 0, "the joiners' arrival must end the wait");
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

/* A lone producer after a group of three: its leader waits the bound once
 * (at least the 50 ms asked, well under the generous ceiling), lowers its
 * expectation to what came, and the next append does not wait at all. */
Test(gather, a_lone_producer_waits_at_most_the_bound_once)
{
	vv_partition *p = open_always(0);
	(void)expect_groups_of_three(p);
	set_bound(p, 50ull * 1000 * 1000);

	uint64_t t0 = vv_mono_ns();
	cr_assert_eq(append_one(p, 0), 0);
	uint64_t took = vv_mono_ns() - t0;
	cr_assert_geq(took, 50ull * 1000 * 1000, "gathered %llu ns, bound 50 ms",
		      (unsigned long long)took);
	cr_assert_lt(took, 10ull * 1000 * 1000 * 1000, "a lone producer waited %llu ns",
		     (unsigned long long)took);
	cr_assert_eq(atomic_load(&p->gather_waits), 1);
	cr_assert_eq(atomic_load(&p->gather_timeouts), 1);

	for (int i = 0; i < 5; i++)
		cr_assert_eq(append_one(p, 0), 0);
	cr_assert_eq(atomic_load(&p->gather_waits), 1, "a lone producer kept waiting");
	cr_assert_eq(atomic_load(&p->durable_offset), 9);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

/* The bound is half the measured fdatasync time: the lone producer's one
 * wait ends by timing out, and only once. */
Test(gather, the_default_bound_follows_the_sync_time)
{
	vv_partition *p = open_always(0);
	(void)expect_groups_of_three(p);
	pthread_mutex_lock(&p->sync_mu);
	uint64_t avg = p->sync_ns_avg;
	pthread_mutex_unlock(&p->sync_mu);
	cr_assert_gt(avg, 0, "no fdatasync time was measured");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(append_one(p, 0), 0);
	cr_assert_eq(atomic_load(&p->gather_waits), 1);
	cr_assert_eq(atomic_load(&p->gather_timeouts), 1);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

Test(gather, bound)
{
	cr_assert_eq(vv_gather_bound_ns(0), 0, "no sync measured yet: no wait");
	cr_assert_eq(vv_gather_bound_ns(120000), 60000, "half the sync time");
}

/* group_commit_wait_us set: the fixed wait of earlier releases, before
 * every appender's sync, a lone producer's included; no gather. */
Test(gather, group_commit_wait_us_is_a_fixed_wait)
{
	vv_partition *p = open_always(20 * 1000);
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = vv_mono_ns();
		cr_assert_eq(append_one(p, 0), 0);
		cr_assert_geq(vv_mono_ns() - t0, 20ull * 1000 * 1000, "append %d did not wait", i);
	}
	cr_assert_eq(atomic_load(&p->gather_waits), 0);
	cr_assert_eq(atomic_load(&p->durable_offset), 3);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}

/* Waits that are not an appender's (varve_sync, the interval flush, the
 * asynchronous producer) never gather. */
Test(gather, explicit_syncs_do_not_gather)
{
	vv_partition *p = open_always(0);
	(void)expect_groups_of_three(p);
	set_bound(p, 30ull * 1000 * 1000 * 1000);
	cr_assert_eq(append_one(p, 1), 0);
	cr_assert_eq(vv_partition_sync(p), 0);
	cr_assert_eq(append_one(p, 1), 0);
	cr_assert_eq(vv_partition_wait_durable(p, atomic_load(&p->end_offset)), 0);
	cr_assert_eq(atomic_load(&p->durable_offset), 5);
	cr_assert_eq(atomic_load(&p->gather_waits), 0);
	cr_assert_eq(vv_partition_close(p, 1), 0);
}
