/* SPDX-License-Identifier: MIT */
/*
 * work.c -- the worker pool (see work.h): a mutex-protected FIFO of
 * intrusive jobs, a condition variable for idle workers, and the post
 * function that carries each finished job back to the loop thread.
 *
 * Invariants: a job is in exactly one place -- the queue, a worker's hands,
 * or handed to post -- so done runs once; `stopping` only goes from 0 to 1,
 * and once set no job enters the queue.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "work.h"

struct vs_work {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	vs_job *head, *tail;
	size_t nqueued, max_queued;
	int stopping;  /* no new jobs */
	int finishing; /* stopping, but workers drain the queue first */
	int joined;
	pthread_t *threads;
	unsigned nthreads;
	vs_post_fn post;
	void *post_ctx;
	vs_work_stats_t st;
};

static void run_done(void *arg)
{
	vs_job *job = arg;
	job->done(job, job->status);
}

/* Hand a job to the loop thread; a failed post (out of memory) is tried
 * again, as dropping it would leave a request unanswered for ever. */
static void post_done(vs_work *w, vs_job *job, int status)
{
	job->status = status;
	job->next = NULL;
	while (w->post(w->post_ctx, run_done, job) != 0) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static vs_job *pop(vs_work *w)
{
	vs_job *job = w->head;
	if (job) {
		w->head = job->next;
		if (!w->head)
			w->tail = NULL;
		w->nqueued--;
	}
	return job;
}

static void *worker_main(void *arg)
{
	vs_work *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head || (w->stopping && !w->finishing))
			break;
		vs_job *job = pop(w);
		w->st.running++;
		pthread_mutex_unlock(&w->mu);
		job->run(job);
		/* counted before the done is posted: whoever drains it may read
		 * the stats at once (and may free the job) */
		pthread_mutex_lock(&w->mu);
		w->st.running--;
		w->st.completed++;
		pthread_mutex_unlock(&w->mu);
		post_done(w, job, VS_WORK_RAN);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void join_threads(vs_work *w)
{
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	w->nthreads = 0;
}

/* Start the threads with every signal blocked (they inherit the mask). */
static int start_threads(vs_work *w, unsigned n)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = 0;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		rc = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (rc == 0)
			w->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

int vs_work_new(unsigned threads, size_t max_queued, vs_post_fn post, void *post_ctx,
		vs_work **out)
{
	*out = NULL;
	if (threads < 1 || threads > VS_WORK_MAX_THREADS || max_queued < 1 || !post)
		return -EINVAL;
	vs_work *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->threads = calloc(threads, sizeof *w->threads);
	if (!w->threads) {
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->max_queued = max_queued;
	w->post = post;
	w->post_ctx = post_ctx;
	int rc = start_threads(w, threads);
	if (rc) {
		vs_work_free(w);
		return rc;
	}
	w->st.threads = threads;
	*out = w;
	return 0;
}

int vs_work_submit(vs_work *w, vs_job *job)
{
	pthread_mutex_lock(&w->mu);
	int rc = 0;
	if (w->stopping)
		rc = -ESHUTDOWN;
	else if (w->nqueued >= w->max_queued)
		rc = -EAGAIN;
	if (rc) {
		w->st.rejected++;
		pthread_mutex_unlock(&w->mu);
		return rc;
	}
	job->next = NULL;
	if (w->tail)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	w->nqueued++;
	w->st.submitted++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void vs_work_stop(vs_work *w, int mode)
{
	pthread_mutex_lock(&w->mu);
	if (w->joined) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	vs_job *cancelled = NULL;
	if (!w->stopping) {
		w->stopping = 1;
		w->finishing = mode == VS_WORK_FINISH_QUEUED;
	}
	if (!w->finishing) {
		cancelled = w->head;
		w->head = w->tail = NULL;
		w->st.cancelled += w->nqueued;
		w->nqueued = 0;
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	while (cancelled) {
		vs_job *next = cancelled->next;
		post_done(w, cancelled, VS_WORK_CANCELLED);
		cancelled = next;
	}
	join_threads(w);
	pthread_mutex_lock(&w->mu);
	w->joined = 1;
	pthread_mutex_unlock(&w->mu);
}

void vs_work_free(vs_work *w)
{
	if (!w)
		return;
	vs_work_stop(w, VS_WORK_CANCEL_QUEUED);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
}

void vs_work_stats(vs_work *w, vs_work_stats_t *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st;
	out->queued = w->nqueued;
	pthread_mutex_unlock(&w->mu);
}
