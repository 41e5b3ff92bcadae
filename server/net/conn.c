/* SPDX-License-Identifier: MIT */
/*
 * conn.c -- one connection: reading, Kafka framing, the response ring,
 * writing, its interest in epoll, closing (see loop.h for the behaviour,
 * net.h for the lifetimes).
 *
 * Reading. Bytes are read into the loop's scratch buffer; whole frames in
 * it go to on_request straight from there, and only a partial frame (or
 * frames held back by a cap) is copied into the connection's own buffer,
 * which grows at most to twice what it holds. A frame's size field is
 * checked against max_request_bytes as soon as its 4 bytes are known and
 * never drives an allocation. Before each frame is dispatched the caps are
 * checked again, so a broker that answers synchronously cannot overshoot
 * max_output_bytes by more than one response.
 *
 * Writing. The ring keeps one slot per request in arrival order; the
 * contiguous ready slots at its head go out together in one writev of up
 * to VS_IOV_BATCH frames; skipped slots are dropped when they reach the
 * head. The ring never holds more than max_inflight_requests slots because
 * reading stops at that count.
 *
 * Invariants: c->waiting counts WAITING slots; c->out_bytes is the sum of
 * the unwritten bytes of READY slots; ring_count(c) <= ring_cap. Calls
 * transport.h, the loop's maps, lists and stats, and the broker callbacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "net.h"
#include "tls.h"

static uint32_t ring_count(const vs_conn *c) { return (uint32_t)(c->next_seq - c->head_seq); }

static vs_slot *slot_at(const vs_conn *c, uint32_t i)
{
	return &c->ring[(c->ring_head + i) % c->ring_cap];
}

static int has_sendable(const vs_conn *c)
{
	return ring_count(c) > 0 && slot_at(c, 0)->state == VS_SLOT_READY;
}

static uint32_t want_events(int want)
{
	return want == VS_TR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
}

/* Kafka connections also watch for the peer's end of stream while they
 * are not being read, so a client that left is noticed (and closed) even
 * when its requests are held back. HTTP ones do not: a client may end its
 * side after the request and still read our answer. */
static uint32_t always_events(const vs_conn *c)
{
	return c->kind == VS_LISTEN_KAFKA ? EPOLLRDHUP : 0;
}

/* Whether the connection may be read now (and a held-back frame
 * dispatched). */
static int reading_allowed(const vs_conn *c)
{
	if (c->closing || c->stop_reading)
		return 0;
	if (c->lingering)
		return 1;
	if (c->close_after_flush)
		return 0;
	if (c->kind == VS_LISTEN_HTTP)
		return 1;
	const vs_loop_config *cfg = &c->loop->cfg;
	return ring_count(c) < cfg->max_inflight_requests && c->out_bytes < cfg->max_output_bytes;
}

vs_conn *vs_conn_new(vs_loop *l, int fd, const vs_listener *ls, const char *peer, vs_key key)
{
	int kind = ls->kind;
	vs_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->h.kind = VS_H_CONN;
	c->loop = l;
	c->kind = kind;
	c->peer_key = key;
	c->info.id = l->next_conn_id;
	c->info.listener = ls->index;
	snprintf(c->info.peer, sizeof c->info.peer, "%s", peer);
	c->read_ev = EPOLLIN;
	c->write_ev = EPOLLOUT;
	c->interest = EPOLLIN | always_events(c);
	c->last_progress_ms = l->now_ms;
	int created;
	vs_map_val *v = vs_map_put(&l->conns, vs_key_u64(c->info.id), &created);
	if (!v) {
		free(c);
		return NULL;
	}
	v->ptr = c;
	struct epoll_event ev = { .events = c->interest, .data.ptr = &c->h };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		vs_map_del(&l->conns, vs_key_u64(c->info.id));
		free(c);
		return NULL;
	}
	/* the transport owns fd only from here: the caller closes it on NULL */
	if (!ls->tls) {
		vs_transport_plain(&c->tr, fd);
	} else if (vs_transport_tls(&c->tr, fd, ls->tls) < 0) {
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		vs_map_del(&l->conns, vs_key_u64(c->info.id));
		free(c);
		return NULL;
	}
	l->next_conn_id++;
	c->next = l->all;
	if (l->all)
		l->all->prev = c;
	l->all = c;
	return c;
}

void vs_conn_mark_dirty(vs_conn *c)
{
	if (c->dirty || c->closing)
		return;
	c->dirty = 1;
	c->next_dirty = c->loop->dirty;
	c->loop->dirty = c;
}

/* ---- closing ------------------------------------------------------------ */

static void count_close(vs_loop_stats_t *st, int reason)
{
	switch (reason) {
	case VS_CLOSE_PEER: st->conns_closed_peer++; break;
	case VS_CLOSE_IDLE: st->conns_closed_idle++; break;
	case VS_CLOSE_OVERSIZE: st->conns_closed_oversize++; break;
	case VS_CLOSE_BROKER: st->conns_closed_broker++; break;
	case VS_CLOSE_SHUTDOWN: st->conns_closed_shutdown++; break;
	default: st->conns_closed_error++; break;
	}
}

static void release_ring(vs_conn *c)
{
	for (uint32_t i = 0; i < ring_count(c); i++) {
		vs_slot *s = slot_at(c, i);
		free(s->frame);
		s->frame = NULL;
	}
	c->loop->st.output_buffered_bytes -= c->out_bytes;
	c->out_bytes = 0;
}

void vs_conn_close(vs_conn *c, int reason)
{
	if (c->closing)
		return;
	vs_loop *l = c->loop;
	c->closing = 1;
	count_close(&l->st, reason);
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->tr.fd, NULL);
	c->tr.ops->close(&c->tr);
	vs_map_del(&l->conns, vs_key_u64(c->info.id));
	if (c->prev)
		c->prev->next = c->next;
	else
		l->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	vs_peer_unref(l, c->peer_key);
	l->st.conns_open--;
	release_ring(c);
	/* c->in stays until the reap: on_request may be reading from it */
	c->next_dead = l->dead;
	l->dead = c;
}

void vs_conn_reap(vs_conn *c, int call_on_close)
{
	vs_loop *l = c->loop;
	if (call_on_close && c->kind == VS_LISTEN_KAFKA && l->cb.on_close)
		l->cb.on_close(l->cb.ctx, l, c->info.id);
	l->st.input_buffered_bytes -= c->in_cap;
	free(c->in);
	free(c->ring);
	free(c);
}

/* ---- input -------------------------------------------------------------- */

int vs_conn_input_append(vs_conn *c, const uint8_t *data, size_t n)
{
	if (n > SIZE_MAX / 2 - c->in_len)
		return -ENOMEM;
	size_t need = c->in_len + n;
	if (need > c->in_cap) {
		size_t ncap = c->in_cap * 2 > need ? c->in_cap * 2 : need;
		uint8_t *nb = realloc(c->in, ncap);
		if (!nb)
			return -ENOMEM;
		c->loop->st.input_buffered_bytes += ncap - c->in_cap;
		c->in = nb;
		c->in_cap = ncap;
	}
	memcpy(c->in + c->in_len, data, n);
	c->in_len = need;
	return 0;
}

/* Drop the first n buffered bytes; free a large buffer once empty. */
static void input_consume(vs_conn *c, size_t n)
{
	c->in_len -= n;
	if (c->in_len)
		memmove(c->in, c->in + n, c->in_len);
	else if (c->in_cap > VS_KEEP_INPUT_CAP) {
		c->loop->st.input_buffered_bytes -= c->in_cap;
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

/* Room for one more slot; the ring grows geometrically up to the cap. */
static int ring_reserve(vs_conn *c)
{
	uint32_t count = ring_count(c);
	if (count < c->ring_cap)
		return 0;
	uint32_t limit = c->kind == VS_LISTEN_KAFKA ? c->loop->cfg.max_inflight_requests : 1;
	uint32_t ncap = c->ring_cap ? c->ring_cap * 2 : 8;
	if (ncap > limit || ncap < c->ring_cap)
		ncap = limit;
	if (ncap <= count)
		return -ENOMEM; /* reading_allowed() keeps us from here */
	vs_slot *nr = malloc((size_t)ncap * sizeof *nr);
	if (!nr)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++)
		nr[i] = *slot_at(c, i);
	free(c->ring);
	c->ring = nr;
	c->ring_cap = ncap;
	c->ring_head = 0;
	return 0;
}

/* Give one whole frame to the broker, with the next seq. */
static void deliver(vs_conn *c, const uint8_t *frame, size_t len)
{
	vs_loop *l = c->loop;
	if (ring_reserve(c) < 0) {
		vs_conn_close(c, VS_CLOSE_ERROR);
		return;
	}
	uint64_t seq = c->next_seq++;
	vs_slot *s = slot_at(c, (uint32_t)(seq - c->head_seq));
	s->state = VS_SLOT_WAITING;
	s->frame = NULL;
	s->len = 0;
	c->waiting++;
	c->last_progress_ms = l->now_ms;
	c->info.tls_subject = vs_transport_tls_subject(&c->tr);
	l->st.frames_in++;
	l->cb.on_request(l->cb.ctx, l, &c->info, seq, frame, len);
}

/* Dispatch the whole frames at the start of data while the caps allow;
 * returns the bytes used. An oversize size field closes the connection. */
static size_t dispatch_frames(vs_conn *c, const uint8_t *data, size_t n)
{
	size_t used = 0;
	while (n - used >= 4 && reading_allowed(c)) {
		uint32_t size = vs_be32(data + used);
		if (size > c->loop->cfg.max_request_bytes) {
			vs_conn_close(c, VS_CLOSE_OVERSIZE);
			return used;
		}
		if (n - used - 4 < size)
			break;
		deliver(c, data + used + 4, size);
		used += 4 + (size_t)size;
		if (c->closing)
			return used;
	}
	return used;
}

/* Dispatch what the connection's own buffer holds, as far as allowed. */
static void dispatch_buffered(vs_conn *c)
{
	size_t used = dispatch_frames(c, c->in, c->in_len);
	if (!c->closing)
		input_consume(c, used);
}

static void kafka_input(vs_conn *c, const uint8_t *data, size_t n)
{
	if (c->in_len == 0) {
		/* the common case: whole frames straight from the read buffer */
		size_t used = dispatch_frames(c, data, n);
		if (c->closing || used == n)
			return;
		data += used;
		n -= used;
		if (n >= 4 && vs_be32(data) > c->loop->cfg.max_request_bytes) {
			vs_conn_close(c, VS_CLOSE_OVERSIZE);
			return;
		}
		if (vs_conn_input_append(c, data, n) < 0)
			vs_conn_close(c, VS_CLOSE_ERROR);
		return;
	}
	if (vs_conn_input_append(c, data, n) < 0) {
		vs_conn_close(c, VS_CLOSE_ERROR);
		return;
	}
	dispatch_buffered(c);
	if (!c->closing && c->in_len >= 4 && vs_be32(c->in) > c->loop->cfg.max_request_bytes)
		vs_conn_close(c, VS_CLOSE_OVERSIZE);
}

static void take_input(vs_conn *c, const uint8_t *data, size_t n)
{
	if (c->lingering) {
		/* HTTP after our response: the client's leftovers are dropped */
		c->linger_discarded += n;
		if (c->linger_discarded > VS_HTTP_LINGER_MAX_BYTES)
			vs_conn_close(c, VS_CLOSE_PEER);
	} else if (c->kind == VS_LISTEN_HTTP) {
		vs_http_input(c, data, n);
	} else {
		kafka_input(c, data, n);
	}
}

static void conn_read(vs_conn *c)
{
	vs_loop *l = c->loop;
	for (int i = 0; i < VS_READS_PER_EVENT && reading_allowed(c); i++) {
		size_t cap = VS_READ_CHUNK;
		if (c->kind == VS_LISTEN_HTTP && !c->lingering) {
			/* one byte past the limit is enough to answer 413 */
			size_t room = VS_HTTP_MAX_REQUEST + 1 - c->in_len;
			cap = room < cap ? room : cap;
		}
		ssize_t n = c->tr.ops->read(&c->tr, l->scratch, cap);
		if (n == VS_TR_AGAIN) {
			c->read_ev = want_events(c->tr.want);
			return;
		}
		if (n <= 0) {
			vs_conn_close(c, n == 0 ? VS_CLOSE_PEER : VS_CLOSE_ERROR);
			return;
		}
		l->st.bytes_in += (uint64_t)n;
		take_input(c, l->scratch, (size_t)n);
		if (c->closing || (size_t)n < cap)
			return;
	}
}

/* ---- output ------------------------------------------------------------- */

static void pop_head(vs_conn *c)
{
	vs_slot *s = slot_at(c, 0);
	free(s->frame);
	s->frame = NULL;
	c->ring_head = (c->ring_head + 1) % c->ring_cap;
	c->head_seq++;
	c->head_sent = 0;
}

static void pop_skipped(vs_conn *c)
{
	while (ring_count(c) > 0 && slot_at(c, 0)->state == VS_SLOT_SKIPPED)
		pop_head(c);
}

/* Account for w written bytes: finished frames leave the ring. */
static void advance(vs_conn *c, size_t w)
{
	vs_loop *l = c->loop;
	l->st.bytes_out += w;
	c->last_progress_ms = l->now_ms;
	while (w > 0) {
		vs_slot *s = slot_at(c, 0);
		size_t left = s->len - c->head_sent;
		size_t take = w < left ? w : left;
		c->head_sent += take;
		c->out_bytes -= take;
		l->st.output_buffered_bytes -= take;
		w -= take;
		if (c->head_sent < s->len)
			break;
		if (c->kind == VS_LISTEN_KAFKA)
			l->st.frames_out++;
		pop_head(c);
		pop_skipped(c);
	}
}

/* iovecs for the ready frames at the head, up to the first waiting one. */
static int gather(const vs_conn *c, struct iovec *iov)
{
	int n = 0;
	uint32_t count = ring_count(c);
	for (uint32_t i = 0; i < count && n < VS_IOV_BATCH; i++) {
		const vs_slot *s = slot_at(c, i);
		if (s->state == VS_SLOT_WAITING)
			break;
		if (s->state == VS_SLOT_SKIPPED)
			continue;
		size_t off = i == 0 ? c->head_sent : 0;
		iov[n].iov_base = s->frame + off;
		iov[n].iov_len = s->len - off;
		n++;
	}
	return n;
}

static void flush(vs_conn *c)
{
	vs_loop *l = c->loop;
	for (int round = 0; round < VS_WRITES_PER_FLUSH && has_sendable(c); round++) {
		struct iovec iov[VS_IOV_BATCH];
		int n = gather(c, iov);
		ssize_t w = c->tr.ops->writev(&c->tr, iov, n);
		l->st.write_calls++;
		if (w == VS_TR_AGAIN) {
			c->write_ev = want_events(c->tr.want);
			c->out_blocked = 1;
			return;
		}
		if (w < 0) {
			/* EPIPE, ECONNRESET: the peer is gone mid-response */
			vs_conn_close(c, VS_CLOSE_ERROR);
			return;
		}
		advance(c, (size_t)w);
	}
}

/* ---- epoll -------------------------------------------------------------- */

static void update_interest(vs_conn *c)
{
	vs_loop *l = c->loop;
	int reading = reading_allowed(c);
	uint32_t want = (reading ? c->read_ev : 0) | (has_sendable(c) ? c->write_ev : 0) |
			always_events(c);
	int paused = !reading && c->kind == VS_LISTEN_KAFKA && !c->stop_reading &&
		     !c->close_after_flush;
	if (paused && !c->paused)
		l->st.read_pauses++;
	c->paused = (uint8_t)paused;
	if (want == c->interest)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = &c->h };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->tr.fd, &ev) < 0) {
		vs_conn_close(c, VS_CLOSE_ERROR);
		return;
	}
	c->interest = want;
}

void vs_conn_on_event(vs_conn *c, uint32_t events)
{
	if (c->closing)
		return;
	if (events & EPOLLERR) {
		vs_conn_close(c, VS_CLOSE_ERROR);
		return;
	}
	if (events & EPOLLHUP) {
		/* both directions are gone: nothing can be written any more */
		vs_conn_close(c, VS_CLOSE_PEER);
		return;
	}
	if (events & c->write_ev)
		c->out_blocked = 0;
	if (has_sendable(c) && !c->out_blocked) {
		flush(c);
		if (c->closing)
			return;
	}
	if ((events & EPOLLRDHUP) && c->kind == VS_LISTEN_KAFKA && !reading_allowed(c)) {
		/* the end of its stream, seen while it is held back: closed
		 * as any end of stream is (Kafka clients never half-close) */
		vs_conn_close(c, VS_CLOSE_PEER);
		return;
	}
	if (events & c->read_ev)
		conn_read(c);
	vs_conn_mark_dirty(c);
}

static void start_linger(vs_conn *c)
{
	c->tr.ops->shutdown_write(&c->tr);
	c->lingering = 1;
	c->linger_until_ms = c->loop->now_ms + VS_HTTP_LINGER_MS;
}

void vs_conn_settle(vs_conn *c)
{
	c->dirty = 0;
	if (c->closing)
		return;
	pop_skipped(c);
	if (has_sendable(c) && !c->out_blocked) {
		flush(c);
		if (c->closing)
			return;
	}
	if (c->kind == VS_LISTEN_KAFKA && c->close_after_flush)
		c->in_len = 0; /* requests after the last answered one are never read */
	if (c->kind == VS_LISTEN_KAFKA && c->in_len && reading_allowed(c)) {
		dispatch_buffered(c);
		/* a synchronous answer made it dirty again: finish there */
		if (c->closing || c->dirty)
			return;
	}
	if (ring_count(c) == 0) {
		if (c->loop->draining) {
			vs_conn_close(c, VS_CLOSE_SHUTDOWN);
			return;
		}
		if (c->close_after_flush && !c->lingering)
			start_linger(c);
	}
	if (reading_allowed(c) && c->tr.ops->pending(&c->tr)) {
		/* a TLS transport holds bytes epoll will not report */
		conn_read(c);
		vs_conn_mark_dirty(c);
		return;
	}
	update_interest(c);
}

void vs_conn_sweep(vs_conn *c, int64_t now)
{
	if (c->lingering) {
		if (now >= c->linger_until_ms)
			vs_conn_close(c, VS_CLOSE_IDLE);
		return;
	}
	int64_t idle = c->loop->cfg.idle_timeout_ms;
	/* a request the broker holds (a long poll) is its business */
	if (idle <= 0 || c->waiting > 0)
		return;
	if (now - c->last_progress_ms >= idle)
		vs_conn_close(c, VS_CLOSE_IDLE);
}

void vs_conn_begin_drain(vs_conn *c)
{
	c->stop_reading = 1;
	c->in_len = 0; /* frames held back are never dispatched */
	vs_conn_mark_dirty(c);
}

int vs_conn_queue_output(vs_conn *c, uint8_t *buf, size_t len)
{
	if (ring_reserve(c) < 0) {
		free(buf);
		return -ENOMEM;
	}
	uint64_t seq = c->next_seq++;
	vs_slot *s = slot_at(c, (uint32_t)(seq - c->head_seq));
	s->state = VS_SLOT_READY;
	s->frame = buf;
	s->len = len;
	c->out_bytes += len;
	c->loop->st.output_buffered_bytes += len;
	vs_conn_mark_dirty(c);
	return 0;
}

/* ---- the broker's side -------------------------------------------------- */

/* The WAITING slot for (id, seq), or NULL (counted when the connection is
 * open: the broker answered an unknown or answered seq). */
static vs_slot *waiting_slot(vs_loop *l, vs_conn_id id, uint64_t seq, vs_conn **out)
{
	vs_map_val *v = vs_map_get(&l->conns, vs_key_u64(id));
	*out = v ? v->ptr : NULL;
	if (!*out)
		return NULL;
	vs_conn *c = *out;
	if (c->kind != VS_LISTEN_KAFKA || seq < c->head_seq || seq >= c->next_seq ||
	    slot_at(c, (uint32_t)(seq - c->head_seq))->state != VS_SLOT_WAITING) {
		l->st.bad_responses++;
		return NULL;
	}
	return slot_at(c, (uint32_t)(seq - c->head_seq));
}

void vs_loop_respond(vs_loop *l, vs_conn_id id, uint64_t seq, uint8_t *frame, size_t len)
{
	vs_conn *c;
	vs_slot *s = waiting_slot(l, id, seq, &c);
	if (!s) {
		free(frame);
		return;
	}
	if (!frame || len < 4 || (uint64_t)vs_be32(frame) != (uint64_t)len - 4) {
		/* the client would lose its place in the stream: end it */
		l->st.bad_responses++;
		free(frame);
		vs_conn_close(c, VS_CLOSE_BROKER);
		return;
	}
	s->state = VS_SLOT_READY;
	s->frame = frame;
	s->len = len;
	c->waiting--;
	c->out_bytes += len;
	l->st.output_buffered_bytes += len;
	vs_conn_mark_dirty(c);
}

void vs_loop_skip_response(vs_loop *l, vs_conn_id id, uint64_t seq)
{
	vs_conn *c;
	vs_slot *s = waiting_slot(l, id, seq, &c);
	if (!s)
		return;
	s->state = VS_SLOT_SKIPPED;
	c->waiting--;
	l->st.responses_skipped++;
	vs_conn_mark_dirty(c);
}

void vs_loop_close_conn(vs_loop *l, vs_conn_id id)
{
	vs_map_val *v = vs_map_get(&l->conns, vs_key_u64(id));
	if (v)
		vs_conn_close(v->ptr, VS_CLOSE_BROKER);
}

void vs_loop_close_after_flush(vs_loop *l, vs_conn_id id)
{
	vs_map_val *v = vs_map_get(&l->conns, vs_key_u64(id));
	if (!v)
		return;
	vs_conn *c = v->ptr;
	/* set now: the frames after this one in the current read are not
	 * dispatched (dispatch_frames checks reading_allowed per frame) */
	c->close_after_flush = 1;
	vs_conn_mark_dirty(c);
}
