/* SPDX-License-Identifier: MIT */
/*
 * work.h -- the broker's worker threads: store calls that may fsync or read
 * the disk slowly (topic create/delete/alter, offset commits, group delete,
 * DeleteRecords, ListOffsets by timestamp, InitProducerId) run here so the
 * event loop never waits on a disk.
 *
 * A job is a struct the caller embeds in its own state (no allocation per
 * submit): run(job) executes on a worker thread, then done(job, status) runs
 * on the loop thread, handed over through the post function given at
 * creation (the broker passes vs_loop_post). done is called exactly once for
 * every job that vs_work_submit accepted: status VS_WORK_RAN after run, or
 * VS_WORK_CANCELLED when the pool stopped before the job started (run was
 * never called). Jobs start in submit order; with several threads they may
 * finish in any order.
 *
 * The queue is bounded (max_queued jobs not yet started): past it
 * vs_work_submit refuses with -EAGAIN and the caller answers "busy".
 *
 * Threads: vs_work_submit and vs_work_stats from the loop thread (or any one
 * thread at a time); vs_work_stop and vs_work_free from the thread that
 * created the pool, never from run or done. Worker threads block every
 * signal, so SIGTERM/SIGINT reach the thread that waits for them.
 *
 * Errors: 0 or a negative errno.
 */
#ifndef VS_BROKER_WORK_H
#define VS_BROKER_WORK_H

#include <stddef.h>
#include <stdint.h>

enum {
	VS_WORK_RAN = 0,
	VS_WORK_CANCELLED = 1
};

typedef struct vs_job vs_job;
struct vs_job {
	void (*run)(vs_job *job);             /* a worker thread */
	void (*done)(vs_job *job, int status); /* the loop thread */
	vs_job *next;                          /* the pool's */
	int status;                            /* the pool's */
};

/* How results reach the loop thread: fn(arg) must run there soon. Returns 0,
 * or a negative errno when it could not queue (the pool then tries again
 * after a millisecond: a completion is never dropped). */
typedef int (*vs_post_fn)(void *ctx, void (*fn)(void *arg), void *arg);

typedef struct vs_work vs_work;

#define VS_WORK_DEFAULT_THREADS 2
#define VS_WORK_MAX_THREADS 64
#define VS_WORK_DEFAULT_QUEUE 1024

/* threads: 1..VS_WORK_MAX_THREADS; max_queued >= 1. -EINVAL, -ENOMEM, or
 * the error of pthread_create (negated). */
int vs_work_new(unsigned threads, size_t max_queued, vs_post_fn post, void *post_ctx,
		vs_work **out);

/* Queue a job: 0, -EAGAIN (the queue is full), -ESHUTDOWN (stopping). On an
 * error done will not be called. */
int vs_work_submit(vs_work *w, vs_job *job);

enum {
	VS_WORK_CANCEL_QUEUED = 0, /* queued jobs are cancelled */
	VS_WORK_FINISH_QUEUED = 1  /* queued jobs run first */
};

/* Refuse new jobs, cancel or finish the queued ones (mode), wait for the
 * running ones and join the threads. The done calls are posted before this
 * returns (they run when the loop runs its posts). Idempotent. */
void vs_work_stop(vs_work *w, int mode);
/* Stop (cancelling) if not stopped, then free. NULL is accepted. */
void vs_work_free(vs_work *w);

typedef struct vs_work_stats_t {
	uint64_t submitted; /* accepted by vs_work_submit */
	uint64_t rejected;  /* refused: full or stopping */
	uint64_t completed; /* run, done posted */
	uint64_t cancelled; /* never run, done posted */
	uint64_t queued;    /* now: waiting for a thread */
	uint64_t running;   /* now: in run */
	uint64_t threads;
} vs_work_stats_t;

void vs_work_stats(vs_work *w, vs_work_stats_t *out);

#endif
