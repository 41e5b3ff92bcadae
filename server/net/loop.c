/* SPDX-License-Identifier: MIT */
/*
 * loop.c -- the loop object and vs_loop_run: epoll dispatch, the post
 * queue, timers, watched fds, the idle sweep, graceful stop, stats (the
 * behaviour is described in loop.h, the object lifetimes in net.h).
 *
 * One iteration: wait in epoll (until the next timer, accept resumption or
 * drain deadline), read the clock once, handle every event, run the posts
 * if the eventfd fired, run the due timers, then settle: flush and update
 * every connection marked dirty and reap the closed ones. The loop is
 * level-triggered throughout, so a handler may stop early (a read budget,
 * a cap) and will be called again.
 *
 * The post queue is the only state shared with other threads: a mutex
 * around a FIFO list, and an eventfd written when the list goes from empty
 * to non-empty (the loop reads the eventfd before taking the list, so no
 * post is ever left behind without a wake-up). Stop is an atomic flag
 * plus the same eventfd, which makes vs_loop_stop async-signal-safe.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#define VS_EVENTS_PER_WAIT 256
#define VS_SWEEP_MAX_MS 1000
#define VS_SWEEP_MIN_MS 10

void vs_loop_config_default(vs_loop_config *c)
{
	memset(c, 0, sizeof *c);
	c->max_request_bytes = (size_t)100 << 20;
	c->max_connections = 10000;
	c->max_connections_per_ip = 1000;
	c->max_inflight_requests = 100;
	c->max_output_bytes = (size_t)64 << 20;
	c->idle_timeout_ms = 600000;
	c->shutdown_grace_ms = 5000;
}

static int config_ok(const vs_loop_config *c)
{
	return c->max_request_bytes >= 1 && c->max_request_bytes <= INT32_MAX &&
	       c->max_connections >= 1 && c->max_connections_per_ip >= 1 &&
	       c->max_inflight_requests >= 1 && c->max_inflight_requests <= (1u << 20) &&
	       c->max_output_bytes >= 1 && c->shutdown_grace_ms >= 0;
}

static int64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vs_loop_set_error(vs_loop *l, int err, const char *fmt, ...)
{
	(void)err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, sizeof l->err, fmt, ap);
	va_end(ap);
}

const char *vs_loop_error(const vs_loop *l) { return l->err; }

int vs_loop_new(const vs_loop_config *cfg, const vs_loop_callbacks *cb, vs_loop **out)
{
	*out = NULL;
	vs_loop_config defaults;
	vs_loop_config_default(&defaults);
	if (!cfg)
		cfg = &defaults;
	if (!cb || !cb->on_request || !config_ok(cfg))
		return -EINVAL;
	vs_loop *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	l->cb = *cb;
	l->epfd = l->wake_fd = -1;
	l->wake_h.kind = VS_H_WAKE;
	l->next_conn_id = 1;
	l->now_ms = clock_ms();
	atomic_init(&l->stop_requested, 0);
	vs_map_init(&l->conns);
	vs_map_init(&l->per_ip);
	vs_timers_init(&l->timers);
	int rc = pthread_mutex_init(&l->post_lock, NULL);
	if (rc != 0) {
		free(l);
		return -rc;
	}
	l->scratch = malloc(VS_READ_CHUNK);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->wake_h };
	rc = !l->scratch ? -ENOMEM : l->epfd < 0 || l->wake_fd < 0 ? -errno : 0;
	if (rc == 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0)
		rc = -errno;
	if (rc < 0) {
		vs_loop_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

/* ---- posts -------------------------------------------------------------- */

static void wake(vs_loop *l)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: awake anyway */
	while (write(l->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

int vs_loop_post(vs_loop *l, void (*fn)(void *arg), void *arg)
{
	vs_post *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&l->post_lock);
	int was_empty = l->post_head == NULL;
	if (l->post_tail)
		l->post_tail->next = p;
	else
		l->post_head = p;
	l->post_tail = p;
	pthread_mutex_unlock(&l->post_lock);
	if (was_empty)
		wake(l);
	return 0;
}

static vs_post *take_posts(vs_loop *l)
{
	pthread_mutex_lock(&l->post_lock);
	vs_post *p = l->post_head;
	l->post_head = l->post_tail = NULL;
	pthread_mutex_unlock(&l->post_lock);
	return p;
}

/* Run the posts queued now (not the ones they queue: next iteration). */
static void run_posts(vs_loop *l)
{
	uint64_t v;
	while (read(l->wake_fd, &v, sizeof v) < 0 && errno == EINTR)
		;
	for (vs_post *p = take_posts(l); p;) {
		vs_post *next = p->next;
		p->fn(p->arg);
		free(p);
		l->st.posts_run++;
		p = next;
	}
}

void vs_loop_stop(vs_loop *l)
{
	int saved = errno; /* signal handlers must leave errno alone */
	atomic_store(&l->stop_requested, 1);
	wake(l);
	errno = saved;
}

/* ---- timers and watched fds --------------------------------------------- */

uint64_t vs_loop_timer_add(vs_loop *l, int64_t delay_ms, void (*fn)(void *arg), void *arg)
{
	if (delay_ms < 0)
		delay_ms = 0;
	int64_t deadline = delay_ms > INT64_MAX - l->now_ms ? INT64_MAX : l->now_ms + delay_ms;
	return vs_timers_add(&l->timers, deadline, fn, arg);
}

void vs_loop_timer_cancel(vs_loop *l, uint64_t timer_id)
{
	(void)vs_timers_cancel(&l->timers, timer_id);
}

int64_t vs_loop_now_ms(const vs_loop *l) { return l->now_ms; }

int vs_loop_watch_fd(vs_loop *l, int fd, void (*fn)(void *arg), void *arg)
{
	vs_watch *w = calloc(1, sizeof *w);
	if (!w) {
		vs_loop_set_error(l, ENOMEM, "watching fd %d: out of memory", fd);
		return -ENOMEM;
	}
	w->h.kind = VS_H_WATCH;
	w->fd = fd;
	w->fn = fn;
	w->arg = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->h };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		free(w);
		vs_loop_set_error(l, err, "watching fd %d: %s", fd, strerror(err));
		return -err;
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int vs_loop_unwatch_fd(vs_loop *l, int fd)
{
	for (vs_watch *w = l->watches; w; w = w->next) {
		if (w->removed || w->fd != fd)
			continue;
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		w->removed = 1; /* freed by the next settle: an event may be pending */
		return 0;
	}
	return -ENOENT;
}

static void free_removed_watches(vs_loop *l)
{
	for (vs_watch **pp = &l->watches; *pp;) {
		vs_watch *w = *pp;
		if (w->removed) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* ---- settle, sweep, drain ----------------------------------------------- */

void vs_loop_settle(vs_loop *l)
{
	while (l->dirty || l->dead) {
		while (l->dirty) {
			vs_conn *c = l->dirty;
			l->dirty = c->next_dirty;
			c->next_dirty = NULL;
			vs_conn_settle(c);
		}
		/* one batch: connections closed by on_close callbacks wait
		 * until the dirty list has let go of them */
		vs_conn *dead = l->dead;
		l->dead = NULL;
		while (dead) {
			vs_conn *next = dead->next_dead;
			vs_conn_reap(dead, 1);
			dead = next;
		}
	}
}

static int64_t sweep_interval(const vs_loop *l)
{
	int64_t idle = l->cfg.idle_timeout_ms;
	if (idle <= 0)
		return VS_SWEEP_MAX_MS;
	int64_t iv = idle / 8;
	return iv < VS_SWEEP_MIN_MS ? VS_SWEEP_MIN_MS : iv > VS_SWEEP_MAX_MS ? VS_SWEEP_MAX_MS : iv;
}

static void sweep(void *arg);

/* (Re-)arm the sweep; when out of memory, the next iteration retries. */
static void arm_sweep(vs_loop *l)
{
	if (!l->sweep_timer)
		l->sweep_timer = vs_loop_timer_add(l, sweep_interval(l), sweep, l);
}

static void sweep(void *arg)
{
	vs_loop *l = arg;
	l->sweep_timer = 0;
	for (vs_conn *c = l->all, *next; c; c = next) {
		next = c->next;
		vs_conn_sweep(c, l->now_ms);
	}
	arm_sweep(l);
}

static void begin_drain(vs_loop *l)
{
	l->draining = 1;
	l->drain_deadline_ms = l->now_ms + l->cfg.shutdown_grace_ms;
	vs_listeners_close(l);
	for (vs_conn *c = l->all; c; c = c->next)
		vs_conn_begin_drain(c);
	vs_loop_settle(l);
}

static void close_all(vs_loop *l, int call_on_close)
{
	while (l->all)
		vs_conn_close(l->all, VS_CLOSE_SHUTDOWN);
	if (call_on_close) {
		vs_loop_settle(l);
		return;
	}
	while (l->dead) {
		vs_conn *c = l->dead;
		l->dead = c->next_dead;
		vs_conn_reap(c, 0);
	}
}

/* ---- running ------------------------------------------------------------ */

/* Milliseconds epoll may sleep: until the next deadline, or -1. */
static int wait_timeout(const vs_loop *l)
{
	int64_t next = vs_timers_next(&l->timers);
	if (l->accept_paused && l->accept_resume_ms < next)
		next = l->accept_resume_ms;
	if (l->draining && l->drain_deadline_ms < next)
		next = l->drain_deadline_ms;
	if (next == INT64_MAX)
		return -1;
	int64_t d = next - clock_ms();
	return d <= 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

static void dispatch(const struct epoll_event *ev, int *posted)
{
	vs_handle *h = ev->data.ptr;
	switch (h->kind) {
	case VS_H_WAKE:
		*posted = 1;
		break;
	case VS_H_LISTENER:
		vs_listener_on_event((vs_listener *)h);
		break;
	case VS_H_CONN:
		vs_conn_on_event((vs_conn *)h, ev->events);
		break;
	case VS_H_WATCH: {
		vs_watch *w = (vs_watch *)h;
		if (!w->removed)
			w->fn(w->arg);
		break;
	}
	default:
		break;
	}
}

/* One wait and everything it brings; -errno if epoll fails. */
static int iterate(vs_loop *l, struct epoll_event *evs)
{
	int n = epoll_wait(l->epfd, evs, VS_EVENTS_PER_WAIT, wait_timeout(l));
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	l->now_ms = clock_ms();
	l->st.iterations++;
	int posted = 0;
	for (int i = 0; i < n; i++)
		dispatch(&evs[i], &posted);
	/* closes from I/O reach on_close before any post observes them */
	vs_loop_settle(l);
	if (posted)
		run_posts(l);
	if (l->accept_paused && l->now_ms >= l->accept_resume_ms)
		vs_accept_resume(l);
	l->st.timers_run += vs_timers_run(&l->timers, l->now_ms);
	arm_sweep(l);
	vs_loop_settle(l);
	free_removed_watches(l);
	return 0;
}

int vs_loop_run(vs_loop *l)
{
	struct epoll_event evs[VS_EVENTS_PER_WAIT];
	if (l->ran)
		return -EINVAL;
	l->ran = 1;
	l->now_ms = clock_ms();
	arm_sweep(l);
	int rc = 0;
	for (;;) {
		if (atomic_load(&l->stop_requested) && !l->draining)
			begin_drain(l);
		if (l->draining && (l->all == NULL || l->now_ms >= l->drain_deadline_ms))
			break;
		rc = iterate(l, evs);
		if (rc < 0)
			break;
	}
	vs_listeners_close(l);
	close_all(l, 1);
	return rc;
}

void vs_loop_stats(const vs_loop *l, vs_loop_stats_t *out) { *out = l->st; }

void vs_loop_free(vs_loop *l)
{
	if (!l)
		return;
	close_all(l, 0);
	/* completions still queued hold resources their functions release */
	for (vs_post *p; (p = take_posts(l)) != NULL;) {
		while (p) {
			vs_post *next = p->next;
			p->fn(p->arg);
			free(p);
			p = next;
		}
	}
	if (l->epfd >= 0)
		vs_listeners_close(l);
	for (size_t i = 0; i < l->n_listeners; i++)
		free(l->listeners[i]);
	free(l->listeners);
	for (vs_watch *w = l->watches, *next; w; w = next) {
		next = w->next;
		free(w);
	}
	vs_timers_free(&l->timers);
	vs_map_free(&l->conns);
	vs_map_free(&l->per_ip);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	pthread_mutex_destroy(&l->post_lock);
	free(l->scratch);
	free(l);
}
