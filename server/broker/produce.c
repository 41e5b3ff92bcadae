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
 * (an idempotent producer's sequences depend on it).
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
	struct pp_state *wait_next;
} pp_state;

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

/* Decode, check and append one partition's batch. 0 (appended, or answered
 * with an error), or VARVE_EAGAIN: the store's in-flight bound is reached,
 * nothing was appended, try again later. */
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
		return 0;
	}
	vs_decoded d;
	const vs_slice *rs = &pp->in->records;
	int16_t err = vs_records_decode(&b->decoder, rs->ptr, rs->ptr ? rs->len : 0, &d);
	if (err != KE_NONE) {
		part_error(st, pp, err, vs_records_reason(&b->decoder));
		return 0;
	}
	if (d.batch_count != 1) {
		part_error(st, pp, KE_INVALID_RECORD,
			   d.batch_count ? "more than one record batch" : "no record batch");
		return 0;
	}
	const vs_batch *bt = &d.batches[0];
	if (bt->codec == VS_CODEC_ZSTD && c->version < 7) {
		part_error(st, pp, KE_UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7");
		return 0;
	}
	for (size_t i = 0; i < d.record_count; i++) {
		varve_record *r = &d.records[i];
		if (pp->compacted && !r->key) {
			/* Kafka's answer; the store would refuse it as EINVAL */
			part_error(st, pp, KE_INVALID_RECORD, "a compacted topic needs a key");
			return 0;
		}
		if (pp->log_append_time || r->timestamp == -1) {
			r->timestamp = VARVE_TIMESTAMP_NOW;
		} else if (r->timestamp < 0) {
			part_error(st, pp, KE_INVALID_TIMESTAMP, "negative record timestamp");
			return 0;
		}
	}
	varve_append_options o = VARVE_APPEND_OPTIONS_INIT;
	if (bt->producer_id >= 0) {
		if (bt->producer_epoch < 0) {
			part_error(st, pp, KE_INVALID_PRODUCER_EPOCH, "negative producer epoch");
			return 0;
		}
		o.producer_id = bt->producer_id;
		o.producer_epoch = (uint16_t)bt->producer_epoch;
		o.base_sequence = bt->base_sequence;
	}
	int rc = varve_append_async(b->db, pp->topic, pp->in->index, d.records, d.record_count, &o,
				    on_appended, pp);
	if (rc == VARVE_EAGAIN)
		return VARVE_EAGAIN;
	if (rc != VARVE_OK) {
		part_error(st, pp, vs_kerr_from_append(rc), varve_last_error()->message);
		return 0;
	}
	b->produce_inflight++;
	b->produce_records += d.record_count;
	st->pending++;
	return 0;
}

/* Append from st->next on. Returns false when the store's in-flight bound
 * stopped it (the call must wait), true when every partition was handled. */
static bool append_from(pp_state *st)
{
	while (st->next < st->n) {
		if (append_one(st, &st->v[st->next]) == VARVE_EAGAIN)
			return false;
		st->next++;
	}
	return true;
}

static void wait_push(vs_broker *b, pp_state *st)
{
	st->wait_next = NULL;
	if (b->produce_wait_tail)
		((pp_state *)b->produce_wait_tail)->wait_next = st;
	else
		b->produce_wait = st;
	b->produce_wait_tail = st;
	b->produce_waits++;
}

/* Completions freed space: let waiting requests go on, in order. Only when
 * nothing of ours is in flight does a refusal mean the bound is held by
 * someone else (an embedder's async produce); the append is then retried
 * on the next completion, or fails the request once the broker stops. */
static void resume_waiting(vs_broker *b)
{
	while (b->produce_wait) {
		pp_state *st = b->produce_wait;
		if (b->loop_done) {
			for (size_t i = st->next; i < st->n; i++)
				st->v[i].out->error_code = KE_REQUEST_TIMED_OUT;
			st->next = st->n;
			st->failed = true;
		} else if (!append_from(st)) {
			if (b->produce_inflight == 0)
				vs_blog(b, VARVE_LOG_WARN,
					"Produce waits for the store's in-flight bound with nothing "
					"of the broker's in flight");
			return;
		}
		b->produce_wait = st->wait_next;
		if (!b->produce_wait)
			b->produce_wait_tail = NULL;
		if (st->pending == 0)
			finish(st);
	}
}

void vs_produce_stop(vs_broker *b)
{
	b->loop_done = true;
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
	if (c->b->produce_wait || !append_from(st)) {
		wait_push(c->b, st);
		return VS_DEFER;
	}
	if (st->pending)
		return VS_DEFER;
	if (st->acks == 0) {
		finish(st);
		return VS_DEFER;
	}
	return VS_REPLY;
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
