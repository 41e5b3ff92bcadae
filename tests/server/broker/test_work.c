/* SPDX-License-Identifier: MIT */
/*
 * test_work.c -- the worker pool (server/broker/work.c): jobs run on worker
 * threads and finish on the thread that drains the posts, in submit order
 * with one thread; the queue bound; stopping with queued jobs cancelled or
 * finished; a post that fails is tried again; workers block signals.
 *
 * The "loop" here is a queue of posts that the test thread drains, so the
 * test decides when completions run; jobs that must stay running wait on a
 * gate the test opens.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "broker/work.h"

typedef struct post {
	void (*fn)(void *);
	void *arg;
	struct post *next;
} post;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static post *head, *tail;
static atomic_int fail_posts;  /* the next N posts fail */
static atomic_int posts_failed;

static int fake_post(void *ctx, void (*fn)(void *), void *arg)
{
	(void)ctx;
	if (atomic_load(&fail_posts) > 0) {
		atomic_fetch_sub(&fail_posts, 1);
		atomic_fetch_add(&posts_failed, 1);
		return -ENOMEM;
	}
	post *p = malloc(sizeof *p);
	cr_assert(p);
	*p = (post){ fn, arg, NULL };
	pthread_mutex_lock(&mu);
	if (tail)
		tail->next = p;
	else
		head = p;
	tail = p;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

/* Run the posts queued now; wait up to 5 s for at least `want`. */
static int drain(int want)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	int ran = 0;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (!head && ran < want)
			if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT)
				break;
		post *p = head;
		head = tail = NULL;
		pthread_mutex_unlock(&mu);
		if (!p)
			return ran;
		while (p) {
			post *next = p->next;
			p->fn(p->arg);
			free(p);
			p = next;
			ran++;
		}
		if (ran >= want)
			return ran;
	}
}

/* A gate jobs may wait on. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static atomic_int waiting_at_gate;

static void open_gate(void)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

typedef struct tjob {
	vs_job job;
	int id;
	int wait_gate;
	pthread_t ran_on, done_on;
	int runs, dones, status;
	int sigterm_blocked;
} tjob;

static atomic_int run_order[64];
static atomic_int run_count;

static void tjob_run(vs_job *j)
{
	tjob *t = (tjob *)j;
	t->ran_on = pthread_self();
	t->runs++;
	sigset_t cur;
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	t->sigterm_blocked = sigismember(&cur, SIGTERM);
	atomic_store(&run_order[atomic_fetch_add(&run_count, 1) % 64], t->id);
	if (t->wait_gate) {
		atomic_fetch_add(&waiting_at_gate, 1);
		pthread_mutex_lock(&gate_mu);
		while (!gate_open)
			pthread_cond_wait(&gate_cv, &gate_mu);
		pthread_mutex_unlock(&gate_mu);
	}
}

static void tjob_done(vs_job *j, int status)
{
	tjob *t = (tjob *)j;
	t->done_on = pthread_self();
	t->dones++;
	t->status = status;
}

static void tjob_init(tjob *t, int id, int wait_gate)
{
	*t = (tjob){ .id = id, .wait_gate = wait_gate };
	t->job.run = tjob_run;
	t->job.done = tjob_done;
}

static void wait_at_gate(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&waiting_at_gate) < n; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	cr_assert_eq(atomic_load(&waiting_at_gate), n);
}

Test(work, runs_on_a_worker_and_finishes_on_the_draining_thread)
{
	vs_work *w;
	cr_assert_eq(vs_work_new(2, 16, fake_post, NULL, &w), 0);
	tjob j[8];
	for (int i = 0; i < 8; i++) {
		tjob_init(&j[i], i, 0);
		cr_assert_eq(vs_work_submit(w, &j[i].job), 0);
	}
	cr_assert_eq(drain(8), 8);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(j[i].runs, 1);
		cr_assert_eq(j[i].dones, 1);
		cr_assert_eq(j[i].status, VS_WORK_RAN);
		cr_assert(!pthread_equal(j[i].ran_on, pthread_self()), "run on the test thread");
		cr_assert(pthread_equal(j[i].done_on, pthread_self()), "done off the draining thread");
		cr_assert(j[i].sigterm_blocked, "SIGTERM not blocked in a worker");
	}
	vs_work_stats_t st;
	vs_work_stats(w, &st);
	cr_assert_eq(st.submitted, 8);
	cr_assert_eq(st.completed, 8);
	cr_assert_eq(st.threads, 2);
	vs_work_free(w);
	cr_assert_eq(drain(0), 0, "free posted more");
}

Test(work, one_thread_runs_jobs_in_submit_order)
{
	vs_work *w;
	cr_assert_eq(vs_work_new(1, 64, fake_post, NULL, &w), 0);
	tjob j[20];
	for (int i = 0; i < 20; i++) {
		tjob_init(&j[i], i, 0);
		cr_assert_eq(vs_work_submit(w, &j[i].job), 0);
	}
	cr_assert_eq(drain(20), 20);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(atomic_load(&run_order[i]), i);
	vs_work_free(w);
}

Test(work, a_full_queue_refuses_with_eagain)
{
	vs_work *w;
	cr_assert_eq(vs_work_new(1, 3, fake_post, NULL, &w), 0);
	tjob blocker, q[4];
	tjob_init(&blocker, 100, 1);
	cr_assert_eq(vs_work_submit(w, &blocker.job), 0);
	wait_at_gate(1); /* running: the queue is empty again */
	for (int i = 0; i < 3; i++) {
		tjob_init(&q[i], i, 0);
		cr_assert_eq(vs_work_submit(w, &q[i].job), 0);
	}
	tjob_init(&q[3], 3, 0);
	cr_assert_eq(vs_work_submit(w, &q[3].job), -EAGAIN);
	vs_work_stats_t st;
	vs_work_stats(w, &st);
	cr_assert_eq(st.queued, 3);
	cr_assert_eq(st.running, 1);
	cr_assert_eq(st.rejected, 1);
	open_gate();
	cr_assert_eq(drain(4), 4);
	cr_assert_eq(q[3].runs + q[3].dones, 0, "a refused job ran");
	vs_work_free(w);
}

static void *stop_cancelling(void *arg)
{
	vs_work_stop(arg, VS_WORK_CANCEL_QUEUED);
	return NULL;
}

Test(work, stop_cancels_queued_jobs_and_waits_for_running_ones)
{
	vs_work *w;
	cr_assert_eq(vs_work_new(1, 8, fake_post, NULL, &w), 0);
	tjob blocker, q[5];
	tjob_init(&blocker, 100, 1);
	cr_assert_eq(vs_work_submit(w, &blocker.job), 0);
	wait_at_gate(1);
	for (int i = 0; i < 5; i++) {
		tjob_init(&q[i], i, 0);
		cr_assert_eq(vs_work_submit(w, &q[i].job), 0);
	}
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, stop_cancelling, w), 0);
	/* the cancelled jobs' completions come while the running one waits */
	cr_assert_eq(drain(5), 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(q[i].runs, 0, "a cancelled job ran");
		cr_assert_eq(q[i].dones, 1);
		cr_assert_eq(q[i].status, VS_WORK_CANCELLED);
	}
	cr_assert_eq(blocker.dones, 0);
	tjob late;
	tjob_init(&late, 9, 0);
	cr_assert_eq(vs_work_submit(w, &late.job), -ESHUTDOWN);
	open_gate();
	pthread_join(th, NULL);
	cr_assert_eq(drain(1), 1);
	cr_assert_eq(blocker.status, VS_WORK_RAN);
	cr_assert_eq(blocker.dones, 1);
	vs_work_stats_t st;
	vs_work_stats(w, &st);
	cr_assert_eq(st.cancelled, 5);
	vs_work_free(w);
	cr_assert_eq(drain(0), 0);
}

Test(work, stop_can_finish_queued_jobs)
{
	vs_work *w;
	cr_assert_eq(vs_work_new(2, 32, fake_post, NULL, &w), 0);
	tjob q[20];
	for (int i = 0; i < 20; i++) {
		tjob_init(&q[i], i, 0);
		cr_assert_eq(vs_work_submit(w, &q[i].job), 0);
	}
	vs_work_stop(w, VS_WORK_FINISH_QUEUED);
	cr_assert_eq(drain(20), 20);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(q[i].runs, 1);
		cr_assert_eq(q[i].status, VS_WORK_RAN);
	}
	vs_work_stop(w, VS_WORK_CANCEL_QUEUED); /* idempotent */
	vs_work_free(w);
}

Test(work, a_failed_post_is_tried_again)
{
	vs_work *w;
	cr_assert_eq(vs_work_new(1, 4, fake_post, NULL, &w), 0);
	atomic_store(&fail_posts, 3);
	tjob j;
	tjob_init(&j, 1, 0);
	cr_assert_eq(vs_work_submit(w, &j.job), 0);
	cr_assert_eq(drain(1), 1);
	cr_assert_eq(atomic_load(&posts_failed), 3);
	cr_assert_eq(j.dones, 1);
	vs_work_free(w);
}

Test(work, bad_arguments)
{
	vs_work *w = (vs_work *)1;
	cr_assert_eq(vs_work_new(0, 4, fake_post, NULL, &w), -EINVAL);
	cr_assert_null(w);
	cr_assert_eq(vs_work_new(VS_WORK_MAX_THREADS + 1, 4, fake_post, NULL, &w), -EINVAL);
	cr_assert_eq(vs_work_new(1, 0, fake_post, NULL, &w), -EINVAL);
	cr_assert_eq(vs_work_new(1, 4, NULL, NULL, &w), -EINVAL);
	vs_work_free(NULL);
}
