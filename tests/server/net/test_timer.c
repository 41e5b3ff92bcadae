/* SPDX-License-Identifier: MIT */
/*
 * test_timer.c -- server/net/timer.c: the heap's order (deadline, then
 * insertion), cancel, the "no timer added during a run fires in it" rule,
 * a random comparison with a sorted reference; and the loop's timers on a
 * running loop (order, cancel, a zero-delay timer that re-arms itself
 * does not starve I/O).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/timer.h"
#include "nettest.h"

typedef struct log_ {
	int fired[4096];
	int n;
} log_;

static log_ g_log;

static void record(void *arg) { g_log.fired[g_log.n++] = (int)(intptr_t)arg; }

Test(timer, fires_by_deadline_then_insertion_order)
{
	vs_timers t;
	vs_timers_init(&t);
	memset(&g_log, 0, sizeof g_log);
	uint64_t a = vs_timers_add(&t, 30, record, (void *)1);
	uint64_t b = vs_timers_add(&t, 10, record, (void *)2);
	vs_timers_add(&t, 20, record, (void *)3);
	vs_timers_add(&t, 10, record, (void *)4); /* same deadline as b: after b */
	cr_assert(a != 0 && b > a, "ids are non-zero and increase");
	cr_assert_eq(vs_timers_next(&t), 10);
	cr_assert_eq(vs_timers_run(&t, 9), 0);
	cr_assert_eq(vs_timers_run(&t, 20), 3);
	cr_assert_eq(g_log.n, 3);
	cr_assert_eq(g_log.fired[0], 2);
	cr_assert_eq(g_log.fired[1], 4);
	cr_assert_eq(g_log.fired[2], 3);
	cr_assert_eq(vs_timers_next(&t), 30);
	cr_assert_eq(vs_timers_run(&t, 1000), 1);
	cr_assert_eq(vs_timers_next(&t), INT64_MAX);
	vs_timers_free(&t);
}

Test(timer, cancel)
{
	vs_timers t;
	vs_timers_init(&t);
	memset(&g_log, 0, sizeof g_log);
	uint64_t ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = vs_timers_add(&t, 10 * (i + 1), record, (void *)(intptr_t)i);
	cr_assert_eq(vs_timers_cancel(&t, ids[2]), 1);
	cr_assert_eq(vs_timers_cancel(&t, ids[2]), 0, "cancelled twice");
	cr_assert_eq(vs_timers_cancel(&t, ids[0]), 1);
	cr_assert_eq(vs_timers_cancel(&t, 999), 0);
	cr_assert_eq(vs_timers_pending(&t), 3);
	vs_timers_run(&t, 100);
	cr_assert_eq(g_log.n, 3);
	cr_assert_eq(g_log.fired[0], 1);
	cr_assert_eq(g_log.fired[1], 3);
	cr_assert_eq(g_log.fired[2], 4);
	cr_assert_eq(vs_timers_cancel(&t, ids[4]), 0, "a fired timer cannot be cancelled");
	vs_timers_free(&t);
}

static vs_timers *g_t;
static int g_rearms;

static void rearm(void *arg)
{
	(void)arg;
	g_rearms++;
	vs_timers_add(g_t, 0, rearm, NULL);
}

Test(timer, timers_added_during_a_run_wait_for_the_next)
{
	vs_timers t;
	vs_timers_init(&t);
	g_t = &t;
	g_rearms = 0;
	vs_timers_add(&t, 0, rearm, NULL);
	cr_assert_eq(vs_timers_run(&t, 0), 1);
	cr_assert_eq(g_rearms, 1);
	cr_assert_eq(vs_timers_run(&t, 0), 1);
	cr_assert_eq(g_rearms, 2);
	vs_timers_free(&t);
}

static vs_timers *g_victim_heap;
static uint64_t g_victim;

static void cancel_victim(void *arg)
{
	record(arg);
	cr_assert_eq(vs_timers_cancel(g_victim_heap, g_victim), 1);
}

Test(timer, a_callback_cancels_a_due_timer)
{
	vs_timers t;
	vs_timers_init(&t);
	memset(&g_log, 0, sizeof g_log);
	g_victim_heap = &t;
	vs_timers_add(&t, 5, cancel_victim, (void *)1);
	g_victim = vs_timers_add(&t, 5, record, (void *)2);
	vs_timers_add(&t, 6, record, (void *)3);
	cr_assert_eq(vs_timers_run(&t, 10), 2);
	cr_assert_eq(g_log.fired[0], 1);
	cr_assert_eq(g_log.fired[1], 3);
	vs_timers_free(&t);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random adds, cancels and runs against a brute-force reference. */
Test(timer, random_schedule_matches_a_reference)
{
	enum { N = 3000 };
	static int64_t deadline[N];
	static int alive[N];
	static uint64_t id[N];
	vs_timers t;
	vs_timers_init(&t);
	memset(&g_log, 0, sizeof g_log);
	uint64_t seed = 12345;
	int64_t now = 0;
	int added = 0, expect_n = 0;
	static int expect[N];
	while (added < N || vs_timers_pending(&t)) {
		uint64_t r = rnd(&seed);
		if (added < N && r % 4 != 0) {
			deadline[added] = now + (int64_t)(r >> 40) % 50;
			id[added] = vs_timers_add(&t, deadline[added], record, (void *)(intptr_t)added);
			alive[added] = 1;
			added++;
		} else if (added && r % 8 == 1) {
			int k = (int)((r >> 20) % (uint64_t)added);
			cr_assert_eq(vs_timers_cancel(&t, id[k]), alive[k]);
			alive[k] = 0;
		} else {
			now += (int64_t)(r >> 50) % 20;
			/* reference: due alive timers by (deadline, index) */
			for (;;) {
				int best = -1;
				for (int i = 0; i < added; i++) {
					if (alive[i] && deadline[i] <= now &&
					    (best < 0 || deadline[i] < deadline[best]))
						best = i;
				}
				if (best < 0)
					break;
				alive[best] = 0;
				expect[expect_n++] = best;
			}
			vs_timers_run(&t, now);
			cr_assert_eq(g_log.n, expect_n);
		}
	}
	for (int i = 0; i < expect_n; i++)
		cr_assert_eq(g_log.fired[i], expect[i], "at %d", i);
	vs_timers_free(&t);
}

/* ---- on a running loop -------------------------------------------------- */

typedef struct loop_log {
	int order[16];
	int n;
	uint64_t cancel_me;
	int64_t added_at, fired_at[16];
	nt_server *s;
} loop_log;

static loop_log g_ll;

static void loop_record(void *arg)
{
	g_ll.fired_at[g_ll.n] = vs_loop_now_ms(g_ll.s->loop);
	g_ll.order[g_ll.n++] = (int)(intptr_t)arg;
}

static void loop_cancel_other(void *arg)
{
	loop_record(arg);
	vs_loop_timer_cancel(g_ll.s->loop, g_ll.cancel_me);
}

static void schedule(nt_server *s, void *arg)
{
	(void)arg;
	vs_loop *l = s->loop;
	g_ll.added_at = vs_loop_now_ms(l);
	vs_loop_timer_add(l, 60, loop_record, (void *)3);
	vs_loop_timer_add(l, 20, loop_record, (void *)1);
	vs_loop_timer_add(l, 40, loop_cancel_other, (void *)2);
	g_ll.cancel_me = vs_loop_timer_add(l, 50, loop_record, (void *)99);
	uint64_t gone = vs_loop_timer_add(l, 30, loop_record, (void *)98);
	vs_loop_timer_cancel(l, gone);
	vs_loop_timer_add(l, -5, loop_record, (void *)0); /* negative: at once */
}

static void read_log(nt_server *s, void *arg)
{
	(void)s;
	*(loop_log *)arg = g_ll;
}

Test(timer, loop_timers_fire_in_order_and_cancel)
{
	nt_server *s = nt_start(NULL, 0);
	memset(&g_ll, 0, sizeof g_ll);
	g_ll.s = s;
	nt_call(s, schedule, NULL);
	loop_log got;
	vs_loop_stats_t st;
	NT_WAIT(s, st, (nt_call(s, read_log, &got), got.n == 4));
	nt_sleep_ms(100); /* the cancelled ones would have fired by now */
	nt_call(s, read_log, &got);
	cr_assert_eq(got.n, 4);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(got.order[i], i);
	cr_assert_geq(got.fired_at[1] - got.added_at, 20, "fired early");
	cr_assert_geq(got.fired_at[3] - got.added_at, 60, "fired early");
	nt_stop(s);
}

static atomic_int g_spins;
static nt_server *g_spin_server;
static int g_spin_stop;

static void spin(void *arg)
{
	(void)arg;
	atomic_fetch_add(&g_spins, 1);
	if (!g_spin_stop)
		vs_loop_timer_add(g_spin_server->loop, 0, spin, NULL);
}

static void start_spin(nt_server *s, void *arg)
{
	(void)arg;
	g_spin_server = s;
	vs_loop_timer_add(s->loop, 0, spin, NULL);
}

static void stop_spin(nt_server *s, void *arg)
{
	(void)s;
	(void)arg;
	g_spin_stop = 1;
}

Test(timer, zero_delay_rearm_does_not_starve_io)
{
	nt_server *s = nt_start(NULL, 0);
	nt_call(s, start_spin, NULL);
	int fd = nt_connect(s->port);
	for (uint64_t i = 0; i < 50; i++) {
		nt_send_req(fd, 'E', "x", 1);
		size_t len;
		uint64_t seq;
		free(nt_recv_frame(fd, &len, &seq));
		cr_assert_eq(seq, i);
	}
	nt_call(s, stop_spin, NULL);
	cr_assert_gt(atomic_load(&g_spins), 50);
	close(fd);
	nt_stop(s);
}
