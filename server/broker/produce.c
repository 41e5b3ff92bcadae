/* SPDX-License-Identifier: MIT */
/*
 * produce.c -- Produce and InitProducerId.
 *
 * A Produce request is answered from the store's completions, never by
 * waiting on the loop thread:
 *
 *   loop thread:  per partition, decode the record batch (server/records),
 *                 check it, and varve_append_async it: the append itself
 *                 (a write to the page cache) happens here, so offsets and
 *                 their order are fixed in request order;
 *   store thread: the batch is durable under the store's sync policy; the
 *                 completion is posted back to the loop (vs_loop_post);
 *   loop thread:  when every partition of the request has its answer, the
 *                 response goes out (acks 1 and all), or the response slot
 *                 is skipped (acks 0; an error closes the connection then,
 *                 as Kafka does, so the client notices).
 *
 * Backpressure: the store bounds bytes appended but not yet durable
 * (max_inflight_bytes) and, opened with inflight_block = 0, refuses past it
 * with VARVE_EAGAIN instead of blocking the loop. The request then waits in
 * a FIFO (b->produce_wait) and resumes, from the partition it stopped at,
 * when completions free space. Every later Produce queues behind it, so
 * the batches of one connection reach the log in the order they were sent
 * (an idempotent producer's sequences depend on it). While a connection's
 * Produce waits, the connection is not read (vs_loop_pause_reading): its
 * next requests stay in the socket, the client's TCP window closes and
 * the client slows down, instead of the broker queueing them. The pause is
 * set while the request is being handled, so no frame after it is
 * dispatched, and each connection has at most one call in the FIFO; it is
 * lifted when that call leaves the FIFO.
 *
 * Compressed batches are decompressed on a worker thread (work.h), not on
 * the loop: a batch may inflate to max_inflated_batch_bytes (64 MiB by
 * default) from a few kilobytes, and the loop must go on answering
 * everyone else meanwhile. The call's connection is not read while its
 * batch inflates (so its later requests keep their order), the worker
 * decodes one partition at a time into a decoder of the call's own, and
 * the loop appends it when the worker is done; then the next partition.
 * The decoder's memory is given back once its partition is appended. At
 * most as many calls as there are workers hold such a decoder at once (a
 * "slot", from the job's start to the append): a call that needs one while
 * none is free waits in a queue of its own (b->inflate_wait, its
 * connection not read), so decompressed data never takes more than
 * workers * 2 * max_inflated_batch_bytes, and calls without compressed
 * batches never wait behind it. A call whose batch was decompressed and
 * then meets the store's bound goes to the head of the FIFO (it was at its
 * head, or came before the others), so slots always move on. With the
 * workers' queue full the batch is decoded on the loop instead.
 * Uncompressed batches are decoded on the loop: that costs about what
 * reading them did.
 *
 * A large batch leaves the loop's decoder with large buffers (up to twice
 * the decompressed bound); they are given back after the request rather
 * than kept for the next one.
 *
 * Kafka's rules kept here: exactly one batch per partition (v3+), zstd
 * only from v7, acks one of -1, 0, 1; a batch that fails its CRC or any
 * other check appends nothing (CORRUPT_MESSAGE and friends, records.h).
 * Timestamps: a record timestamp of -1 (none) becomes the store's clock; a
 * topic with message.timestamp.type=LogAppendTime gets the store's clock
 * for every record and answers log_append_time_ms.
 *
 * Permissions (Kafka's): Produce needs WRITE on each topic (a refused
 * topic's partitions get TOPIC_AUTHORIZATION_FAILED, whether it exists or
 * not, and nothing is appended to them); InitProducerId for an idempotent
 * producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic,
 * else CLUSTER_AUTHORIZATION_FAILED.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker_int.h"
#include "records/records.h"

/* One partition of a Produce request. The store's thread writes rc and res,
 * then posts the partition to the loop. */
typedef struct pp_part {
	struct pp_state *st;
	vs_produce_partition_response *out;
	const vs_produce_partition *in;
	const char *topic;        /* NULL: unknown topic (out->error_code set) */
	int16_t refused;          /* the topic's authorization error, or KE_NONE */
	int32_t parts;            /* the topic's partition count */
	int log_append_time;      /* the topic's timestamp type */
	int compacted;            /* cleanup.policy has compact: keys required */
	int rc;                   /* the completion's */
	varve_append_result res;
} pp_part;

typedef struct pp_state {
	vs_call *c;
	pp_part *v;
	size_t n;
	size_t next;       /* the next partition to append */
	size_t pending;    /* appends not yet completed */
	int16_t acks;
	bool failed;       /* acks=0: an error closes the connection */
	bool paused;       /* its connection is not read (set_paused) */
	bool inline_only;  /* decode compressed batches on the loop (workers full) */
	bool has_slot;     /* holds one of the decompression slots (produce_inflating) */
	struct pp_state *wait_next;
	/* st->v[st->next] decoded by a worker (inflate_run): pre_ready says
	 * pre and pre_err are set; dec holds what pre points into */
	bool pre_ready;
	int16_t pre_err;
	vs_decoded pre;
	vs_records_decoder *dec;
} pp_state;

/* What append_from stopped at. */
enum { PP_DONE = 0, PP_WAIT_STORE, PP_WAIT_INFLATE };

/* ---- the store's completions ----------------------------------------------------- */

static void resume_waiting(vs_broker *b);
static void part_done_on_loop(void *arg);

static void finish(pp_state *st)
{
	vs_call *c = st->c;
	vs_broker *b = c->b;
	if (st->acks == 0) {
		if (st->failed) {
			vs_blog(b, VARVE_LOG_INFO, "%s: a Produce with acks=0 failed: closing", c->peer);
			vs_loop_close_conn(b->loop, c->conn);
		}
		vs_call_skip(c);
		return;
	}
	vs_call_reply(c);
}

/* Store thread: hand the result to the loop. A post that cannot be queued
 * (out of memory) is tried again: a completion is never dropped. */
static void on_appended(void *ctx, int rc, const varve_append_result *res)
{
	pp_part *pp = ctx;
	pp->rc = rc;
	if (res)
		pp->res = *res;
	while (vs_loop_post(pp->st->c->b->loop, part_done_on_loop, pp) != 0) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void part_done_on_loop(void *arg)
{
	pp_part *pp = arg;
	pp_state *st = pp->st;
	vs_broker *b = st->c->b;
	b->produce_inflight--;
	if (pp->rc == VARVE_OK) {
		pp->out->error_code = KE_NONE;
		pp->out->base_offset = pp->res.base_offset;
		pp->out->log_append_time_ms = pp->log_append_time ? pp->res.append_time : -1;
		int64_t start = -1;
		if (varve_offsets(b->db, pp->topic, pp->in->index, &start, NULL) == VARVE_OK)
			pp->out->log_start_offset = start;
		if (pp->res.flags & VARVE_RECORD_DUPLICATE)
			b->produce_duplicates++;
	} else {
		pp->out->error_code = vs_kerr_from_append(pp->rc);
		st->failed = true;
	}
	if (--st->pending == 0 && st->next == st->n)
		finish(st);
	resume_waiting(b);
}

/* ---- one partition ------------------------------------------------------------------ */

/* Backpressure and ordering: the connection of a call that waits (for the
 * store's bound or for a worker) is not read until it goes on. */
static void set_paused(pp_state *st, bool paused)
{
	vs_broker *b = st->c->b;
	if (st->paused == paused)
		return;
	st->paused = paused;
	vs_loop_pause_reading(b->loop, st->c->conn, paused);
	if (paused)
		b->produce_paused++;
	else
		b->produce_paused--;
}

/* A magic-2 batch whose attributes name a codec: its records inflate. Only
 * the first batch is looked at; a request with more than one is refused
 * after decoding anyway. */
static bool is_compressed(const vs_slice *rs)
{
	if (!rs->ptr || rs->len < VS_BATCH_HEADER_SIZE)
		return false;
	const uint8_t *p = (const uint8_t *)rs->ptr;
	return p[16] == VS_BATCH_MAGIC && (p[22] & VS_ATTR_CODEC_MASK) != 0;
}

/* Give back the worker-decoded partition (appended or answered) and its
 * slot. */
static void release_pre(pp_state *st)
{
	if (st->dec) {
		vs_records_decoder_free(st->dec);
		free(st->dec);
		st->dec = NULL;
	}
	st->pre_ready = false;
	if (st->has_slot) {
		st->has_slot = false;
		st->c->b->produce_inflating--;
	}
}

/* Decode pp's batch: on the loop, or the result a worker left. PP_WAIT_INFLATE:
 * a compressed batch a worker should decode first. */
static int decode_part(pp_state *st, pp_part *pp, vs_decoded *d, const char **why)
{
	vs_broker *b = st->c->b;
	const vs_slice *rs = &pp->in->records;
	if (st->pre_ready) {
		*d = st->pre;
		*why = st->dec ? vs_records_reason(st->dec) : "out of memory";
		return st->pre_err;
	}
	if (!st->inline_only && is_compressed(rs))
		return -PP_WAIT_INFLATE;
	int16_t err = vs_records_decode(&b->decoder, rs->ptr, rs->ptr ? rs->len : 0, d);
	*why = vs_records_reason(&b->decoder);
	return err;
}

int16_t vs_kerr_from_append(int rc)
{
	switch (rc) {
	case VARVE_ESEQUENCE:
		return KE_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case VARVE_EFENCED:
		return KE_INVALID_PRODUCER_EPOCH;
	case VARVE_EDUPLICATE:
		return KE_DUPLICATE_SEQUENCE_NUMBER;
	case VARVE_ECONFLICT:
		return KE_INVALID_REQUEST;
	default:
		return vs_kerr_from_store(rc);
	}
}

static void part_error(pp_state *st, pp_part *pp, int16_t err, const char *why)
{
	vs_call *c = st->c;
	pp->out->error_code = err;
	st->failed = true;
	vs_blog(c->b, VARVE_LOG_INFO, "%s: Produce to %s/%d refused (error %d): %s", c->peer,
		pp->topic ? pp->topic : "(unknown topic)", pp->in->index, err, why);
}

/* Decode, check and append one partition's batch. PP_DONE (appended, or
 * answered with an error), PP_WAIT_STORE: the store's in-flight bound is
 * reached, nothing was appended, try again later, or PP_WAIT_INFLATE: a
 * worker must decode it first. */
static int append_one(pp_state *st, pp_part *pp)
{
	vs_call *c = st->c;
	vs_broker *b = c->b;
	if (pp->refused) {
		pp->out->error_code = pp->refused;
		st->failed = true;
		return 0;
	}
	if (!pp->topic || pp->in->index < 0 || pp->in->index >= pp->parts) {
		pp->out->error_code = KE_UNKNOWN_TOPIC_OR_PARTITION;
		st->failed = true;
		return PP_DONE;
	}
	vs_decoded d;
	const char *why;
	int err = decode_part(st, pp, &d, &why);
	if (err == -PP_WAIT_INFLATE)
		return PP_WAIT_INFLATE;
	if (err == KE_MESSAGE_TOO_LARGE || err == KE_RECORD_LIST_TOO_LARGE)
		b->produce_oversize++;
	if (err != KE_NONE) {
		part_error(st, pp, (int16_t)err, why);
		return PP_DONE;
	}
	if (d.batch_count != 1) {
		part_error(st, pp, KE_INVALID_RECORD,
			   d.batch_count ? "more than one record batch" : "no record batch");
		return PP_DONE;
	}
	const vs_batch *bt = &d.batches[0];
	if (bt->codec == VS_CODEC_ZSTD && c->version < 7) {
		part_error(st, pp, KE_UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7");
		return PP_DONE;
	}
	for (size_t i = 0; i < d.record_count; i++) {
		varve_record *r = &d.records[i];
		if (pp->compacted && !r->key) {
			/* Kafka's answer; the store would refuse it as EINVAL */
			part_error(st, pp, KE_INVALID_RECORD, "a compacted topic needs a key");
			return PP_DONE;
		}
		if (pp->log_append_time || r->timestamp == -1) {
			r->timestamp = VARVE_TIMESTAMP_NOW;
		} else if (r->timestamp < 0) {
			part_error(st, pp, KE_INVALID_TIMESTAMP, "negative record timestamp");
			return PP_DONE;
		}
	}
	varve_append_options o = VARVE_APPEND_OPTIONS_INIT;
	if (bt->producer_id >= 0) {
		if (bt->producer_epoch < 0) {
			part_error(st, pp, KE_INVALID_PRODUCER_EPOCH, "negative producer epoch");
			return PP_DONE;
		}
		o.producer_id = bt->producer_id;
		o.producer_epoch = (uint16_t)bt->producer_epoch;
		o.base_sequence = bt->base_sequence;
	}
	int rc = varve_append_async(b->db, pp->topic, pp->in->index, d.records, d.record_count, &o,
				    on_appended, pp);
	if (rc == VARVE_EAGAIN)
		return PP_WAIT_STORE;
	if (rc != VARVE_OK) {
		part_error(st, pp, vs_kerr_from_append(rc), varve_last_error()->message);
		return PP_DONE;
	}
	b->produce_inflight++;
	b->produce_records += d.record_count;
	st->pending++;
	return PP_DONE;
}

/* Append from st->next on: PP_DONE when every partition was handled, or
 * what the call must wait for (PP_WAIT_STORE, PP_WAIT_INFLATE). */
static int append_from(pp_state *st)
{
	while (st->next < st->n) {
		int rc = append_one(st, &st->v[st->next]);
		if (rc != PP_DONE)
			return rc;
		release_pre(st);
		st->next++;
	}
	return PP_DONE;
}

/* The partitions not appended yet answer err (the broker stops). */
static void fail_rest(pp_state *st, int16_t err)
{
	for (size_t i = st->next; i < st->n; i++)
		st->v[i].out->error_code = err;
	st->next = st->n;
	st->failed = true;
	release_pre(st);
}

/* Queue st in the FIFO: at its tail, or at its head (a call that holds a
 * slot goes first, so the calls behind it can have the slot next). */
static void wait_push(vs_broker *b, pp_state *st, bool at_head)
{
	st->wait_next = NULL;
	if (at_head && b->produce_wait) {
		st->wait_next = b->produce_wait;
		b->produce_wait = st;
	} else if (b->produce_wait_tail) {
		((pp_state *)b->produce_wait_tail)->wait_next = st;
		b->produce_wait_tail = st;
	} else {
		b->produce_wait = st;
		b->produce_wait_tail = st;
	}
	b->produce_waits++;
	/* backpressure: its connection is not read until the call moves on */
	set_paused(st, true);
}

/* Decoder buffers above this are given back after a request. */
#define DECODER_KEEP_BYTES ((size_t)4 << 20)

static void trim_decoder(vs_broker *b)
{
	if (b->decoder.inflated.cap > DECODER_KEEP_BYTES)
		vs_records_decoder_trim(&b->decoder, DECODER_KEEP_BYTES);
}

/* Longest delay between retries of a waiting Produce with nothing of ours
 * in flight. */
#define RETRY_MAX_MS 100

static void retry_waiting(void *arg)
{
	vs_broker *b = arg;
	b->produce_retry_timer = 0;
	resume_waiting(b);
}

/* A refusal with nothing of ours in flight: no completion of ours will
 * come to retry the append. The store runs its completion callbacks before
 * it gives their bytes back, so this happens whenever the loop handles the
 * last completions quickly; or the bound is held by someone else (an
 * embedder's async produce). Retry on a timer, 1 ms doubling up to
 * RETRY_MAX_MS. */
static void arm_retry(vs_broker *b)
{
	if (b->produce_retry_timer || b->loop_done)
		return;
	int64_t ms = b->produce_retry_ms ? b->produce_retry_ms * 2 : 1;
	if (ms >= RETRY_MAX_MS) {
		if (b->produce_retry_ms < RETRY_MAX_MS)
			vs_blog(b, VARVE_LOG_WARN,
				"Produce waits for the store's in-flight bound with nothing of the "
				"broker's in flight");
		ms = RETRY_MAX_MS;
	}
	b->produce_retry_ms = ms;
	b->produce_retry_timer = vs_loop_timer_add(b->loop, ms, retry_waiting, b);
}

/* ---- decompression on a worker -------------------------------------------------- */

/* Worker thread: decode st->v[st->next] into a decoder of the call's own.
 * Touches only st's decode fields and the request bytes (the loop leaves
 * the call alone until inflate_done). */
static void inflate_run(vs_call *c)
{
	pp_state *st = c->state;
	const vs_slice *rs = &st->v[st->next].in->records;
	st->pre_ready = true;
	st->dec = malloc(sizeof *st->dec);
	if (!st->dec) {
		st->pre_err = KE_UNKNOWN_SERVER_ERROR;
		return;
	}
	vs_records_decoder_init(st->dec, &c->b->cfg.records);
	st->pre_err = (int16_t)vs_records_decode(st->dec, rs->ptr, rs->len, &st->pre);
	if (st->pre_err != KE_NONE)
		vs_records_decoder_trim(st->dec, 0); /* only the reason is needed */
}

static void inflate_done(vs_call *c);

enum { INFLATE_STARTED, INFLATE_NO_SLOT, INFLATE_INLINE };

/* Queue st for a decompression slot (give_slots hands them out). */
static void slot_wait_push(vs_broker *b, pp_state *st)
{
	st->wait_next = NULL;
	if (b->inflate_wait_tail)
		((pp_state *)b->inflate_wait_tail)->wait_next = st;
	else
		b->inflate_wait = st;
	b->inflate_wait_tail = st;
	set_paused(st, true);
}

/* Hand st->v[st->next] to a worker: INFLATE_STARTED, INFLATE_NO_SLOT (every
 * slot is taken: wait in the FIFO), or INFLATE_INLINE (the workers' queue
 * is full: st decodes on the loop from now on). */
static int start_inflate(pp_state *st)
{
	vs_call *c = st->c;
	vs_broker *b = c->b;
	if (b->produce_inflating >= b->cfg.work_threads)
		return INFLATE_NO_SLOT;
	vs_work_stats_t ws;
	vs_work_stats(b->work, &ws);
	/* vs_call_submit counts a full queue as a refused request: look first */
	if (ws.queued >= b->cfg.work_queue || vs_call_submit(c, inflate_run, inflate_done)) {
		st->inline_only = true;
		return INFLATE_INLINE;
	}
	set_paused(st, true);
	st->has_slot = true;
	b->produce_inflating++;
	b->produce_inflated++;
	return INFLATE_STARTED;
}

/* Go on with a call that is not in the FIFO: append what can be, wait for
 * the store, a slot or a worker, or be done. first: it holds or held a
 * slot, so it goes before the FIFO. VS_REPLY: answer it now; VS_DEFER: it
 * will be answered (completions, finish). */
static int go_on(pp_state *st, bool first)
{
	vs_broker *b = st->c->b;
	int rc;
	for (;;) {
		if (b->loop_done)
			fail_rest(st, KE_REQUEST_TIMED_OUT);
		/* behind the waiting calls, so the store's bound is shared in order */
		if (!first && b->produce_wait && st->next < st->n)
			rc = PP_WAIT_STORE;
		else
			rc = append_from(st);
		if (rc != PP_WAIT_INFLATE)
			break;
		int how = start_inflate(st);
		if (how == INFLATE_STARTED) {
			trim_decoder(b);
			return VS_DEFER;
		}
		if (how == INFLATE_NO_SLOT) {
			trim_decoder(b);
			slot_wait_push(b, st);
			return VS_DEFER;
		}
	}
	trim_decoder(b);
	if (rc == PP_WAIT_STORE) {
		wait_push(b, st, first);
		if (b->produce_inflight == 0)
			arm_retry(b);
		return VS_DEFER;
	}
	set_paused(st, false);
	if (st->pending)
		return VS_DEFER;
	if (st->acks == 0) {
		finish(st);
		return VS_DEFER;
	}
	return VS_REPLY;
}

/* Loop thread: the worker decoded st->v[st->next]. Its slot may now be
 * free for a call waiting for one. */
static void inflate_done(vs_call *c)
{
	vs_broker *b = c->b;
	if (go_on(c->state, true) == VS_REPLY)
		vs_call_reply(c);
	resume_waiting(b);
}

/* Free slots to the calls waiting for one, in order; once the broker
 * stops, those calls fail. Called where no append is under way. */
static void give_slots(vs_broker *b)
{
	while (b->inflate_wait &&
	       (b->loop_done || b->produce_inflating < b->cfg.work_threads)) {
		pp_state *st = b->inflate_wait;
		b->inflate_wait = st->wait_next;
		if (!b->inflate_wait)
			b->inflate_wait_tail = NULL;
		st->wait_next = NULL;
		if (!b->loop_done && start_inflate(st) == INFLATE_STARTED)
			continue;
		/* decodes on the loop (workers full) or fails (stopping) */
		if (go_on(st, true) == VS_REPLY)
			vs_call_reply(st->c);
	}
}

/* Completions freed space: let the calls in the FIFO go on, in order. A
 * refusal with nothing of ours in flight is retried on a timer
 * (arm_retry); the calls still waiting fail once the broker stops. A call
 * that reaches a compressed batch leaves the FIFO for a worker or for the
 * slot queue (and comes back to the FIFO's head if it must wait again). */
static void resume_fifo(vs_broker *b)
{
	while (b->produce_wait) {
		pp_state *st = b->produce_wait;
		int rc = PP_DONE;
		if (b->loop_done)
			fail_rest(st, KE_REQUEST_TIMED_OUT);
		else
			rc = append_from(st);
		int how = rc == PP_WAIT_INFLATE ? start_inflate(st) : INFLATE_STARTED;
		if (how == INFLATE_INLINE)
			continue; /* the workers are full: st decodes on the loop now */
		trim_decoder(b);
		if (rc == PP_WAIT_STORE) {
			if (b->produce_inflight == 0)
				arm_retry(b);
			return;
		}
		b->produce_retry_ms = 0;
		b->produce_wait = st->wait_next;
		if (!b->produce_wait)
			b->produce_wait_tail = NULL;
		if (how == INFLATE_NO_SLOT)
			slot_wait_push(b, st);
		if (rc == PP_WAIT_INFLATE)
			continue; /* inflate_done or give_slots goes on with it */
		set_paused(st, false);
		if (st->pending == 0)
			finish(st);
	}
}

static void resume_waiting(vs_broker *b)
{
	resume_fifo(b);
	give_slots(b);
}

void vs_produce_stop(vs_broker *b)
{
	b->loop_done = true;
	if (b->produce_retry_timer) {
		vs_loop_timer_cancel(b->loop, b->produce_retry_timer);
		b->produce_retry_timer = 0;
	}
	resume_waiting(b);
}

/* ---- the handler ----------------------------------------------------------------------- */

static size_t count_partitions(const vs_produce_request *q)
{
	size_t n = 0;
	for (int32_t t = 0; t < q->topic_data.n; t++)
		if (q->topic_data.v[t].partition_data.n > 0)
			n += (size_t)q->topic_data.v[t].partition_data.n;
	return n;
}

int vs_h_produce(vs_call *c)
{
	vs_produce_request *q = &c->req.produce;
	vs_produce_response *r = &c->resp.produce;
	/* the response mirrors the request, every partition answered */
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	if (q->acks != 0 && q->acks != 1 && q->acks != -1) {
		vs_reply_error(c, KE_INVALID_REQUIRED_ACKS);
		return VS_REPLY;
	}
	pp_state *st = vs_call_alloc(c, 1, sizeof *st);
	size_t n = count_partitions(q);
	if (!st || (n && !(st->v = vs_call_alloc(c, n, sizeof *st->v))))
		return VS_CLOSE;
	st->c = c;
	st->acks = q->acks;
	for (int32_t t = 0; t < q->topic_data.n; t++) {
		const vs_produce_topic *qt = &q->topic_data.v[t];
		char name[VARVE_MAX_TOPIC_NAME + 1];
		varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
		const char *topic = NULL;
		int16_t refused = vs_authorize(c, VS_OP_WRITE, VS_RES_TOPIC, qt->name)
					  ? KE_NONE
					  : KE_TOPIC_AUTHORIZATION_FAILED;
		if (!refused && !vs_slice_cstr(qt->name, name, sizeof name) && qt->name.len > 0 &&
		    varve_topic_describe(c->b->db, name, &cfg) == VARVE_OK)
			topic = vs_call_cstr(c, qt->name, VARVE_MAX_TOPIC_NAME);
		for (int32_t p = 0; p < qt->partition_data.n; p++) {
			pp_part *pp = &st->v[st->n++];
			pp->st = st;
			pp->in = &qt->partition_data.v[p];
			pp->out = &r->responses.v[t].partition_responses.v[p];
			pp->out->index = pp->in->index;
			pp->out->base_offset = -1;
			pp->out->log_append_time_ms = -1;
			pp->out->log_start_offset = -1;
			pp->topic = topic;
			pp->refused = refused;
			pp->parts = topic ? (int32_t)cfg.partitions : 0;
			pp->log_append_time = cfg.timestamp_type == VARVE_TIMESTAMP_APPEND;
			pp->compacted = (cfg.cleanup_policy & VARVE_CLEANUP_COMPACT) != 0;
		}
	}
	c->state = st;
	return go_on(st, false);
}

/* ---- InitProducerId ------------------------------------------------------------------------- */

typedef struct ipid_state {
	int rc;
	int64_t id;
} ipid_state;

static void init_pid_run(vs_call *c)
{
	ipid_state *st = c->state;
	st->rc = varve_producer_id_new(c->b->db, &st->id);
}

static void init_pid_done(vs_call *c)
{
	ipid_state *st = c->state;
	vs_init_producer_id_response *r = &c->resp.init_producer_id;
	if (st->rc == VARVE_OK) {
		r->producer_id = st->id;
		r->producer_epoch = 0;
	} else {
		r->error_code = vs_kerr_from_store(st->rc);
	}
	vs_call_reply(c);
}

/* Idempotence only: a transactional id is refused (no transaction
 * coordinator). Every call gets a fresh producer id with epoch 0, also
 * when the client asks to bump the epoch of the id it has (KIP-360): a new
 * id starts its sequences over just as a bumped epoch would. */
int vs_h_init_producer_id(vs_call *c)
{
	vs_init_producer_id_request *q = &c->req.init_producer_id;
	vs_init_producer_id_response *r = &c->resp.init_producer_id;
	r->producer_id = -1;
	r->producer_epoch = -1;
	if (q->transactional_id.ptr) {
		r->error_code = KE_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		return VS_REPLY;
	}
	if (!vs_authorized(c, VS_OP_IDEMPOTENT_WRITE, VS_RES_CLUSTER, VS_SLICE_NULL) &&
	    !vs_authorized_any(c, VS_OP_WRITE, VS_RES_TOPIC)) {
		vs_authorize_refused(c, VS_OP_IDEMPOTENT_WRITE, VS_RES_CLUSTER, VS_SLICE_NULL);
		r->error_code = KE_CLUSTER_AUTHORIZATION_FAILED;
		return VS_REPLY;
	}
	ipid_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (!st)
		return VS_CLOSE;
	c->state = st;
	if (vs_call_submit(c, init_pid_run, init_pid_done) == 0)
		return VS_DEFER;
	r->error_code = KE_COORDINATOR_LOAD_IN_PROGRESS;
	return VS_REPLY;
}
