/* SPDX-License-Identifier: MIT */
/*
 * fetch.c -- Fetch: reading stored batches back as Kafka record batches,
 * with Kafka's long poll.
 *
 * A Fetch is read on a worker thread (a cold segment may need the disk):
 * per partition, an iterator at fetch_offset hands over whole stored
 * batches (varve_iter_next_batch), each re-encoded as one Kafka batch
 * (magic 2, uncompressed) with its offsets, timestamps, producer id, epoch
 * and sequence. Reading stops at the high watermark, at partition_max_bytes
 * and at max_bytes, but the first batch of the answer is always sent whole
 * however large (KIP-74: a consumer must be able to make progress).
 *
 * The high watermark is the partition's durable offset (its end offset
 * under sync=none): a consumer never sees a record that a crash of the
 * machine could still take back, nor one its producer has not been told
 * about.
 *
 * Long poll: with fewer than min_bytes read, no error and max_wait_ms not
 * over, the call waits in b->fetch_waiters. The store's watch (an eventfd
 * that fires after appends and again when they become durable) wakes the
 * loop; each waiter whose partitions moved past its offsets is read again.
 * A wake generation closes the race with a read already on a worker: if
 * the watch fired while a call was being read, that call is read again
 * instead of sleeping. A timer ends the wait at max_wait_ms with whatever
 * the last read found. Nothing polls.
 *
 * Damage: a stored batch that fails its checks is passed over (the
 * iterator resyncs on the next good batch), counted and logged with its
 * offsets, so one bad batch does not stall every consumer of a partition.
 *
 * Fetch sessions (KIP-227) are declined: session_id 0 in every answer, so
 * clients send full fetches.
 *
 * Permissions (Kafka's): READ on each topic; a refused topic's partitions
 * get TOPIC_AUTHORIZATION_FAILED (whether it exists or not) and no records.
 */
#include <errno.h>
#include <string.h>

#include "broker_int.h"
#include "records/records.h"

typedef struct fp_part {
	vs_fetch_partition_data *out;
	const vs_fetch_partition *in;
	const char *topic;   /* NULL: unknown (out->error_code set) */
	int log_append_time; /* the topic's timestamp type */
	size_t at, len;      /* its records in st->buf (worker) */
	int16_t err;         /* worker's answer */
	int64_t hw, lso, start;
} fp_part;

struct vs_fetch_state {
	vs_call *c;
	fp_part *v;
	size_t n;
	int32_t min_bytes, max_bytes;
	int64_t deadline_ms;
	uint64_t timer;
	uint64_t gen;       /* b->fetch_gen when the last read was submitted */
	vs_wbuf buf;        /* records of every partition */
	size_t total;       /* bytes read by the last read */
	int any_error;
	bool running, waiting, expired, dropped;
	uint64_t skipped;   /* damaged batches passed over */
	vs_fetch_state *prev, *next;
};

/* ---- reading (worker thread) -------------------------------------------------------- */

static int64_t high_watermark(vs_broker *b, const varve_partition_info *pi)
{
	return b->cfg.sync_policy == VARVE_SYNC_NONE ? pi->end_offset : pi->durable_offset;
}

int vs_partition_watermarks(vs_broker *b, const char *topic, int32_t partition, int64_t *start,
			    int64_t *hw)
{
	varve_partition_info pi = { .version = VARVE_PARTITION_INFO_VERSION };
	int rc = varve_partition_info_get(b->db, topic, partition, &pi);
	if (rc != VARVE_OK)
		return rc;
	*start = pi.start_offset;
	*hw = high_watermark(b, &pi);
	return VARVE_OK;
}

/* Read one partition from its fetch offset into st->buf. */
static void read_partition(vs_fetch_state *st, fp_part *fp, vs_records_encoder *enc)
{
	vs_broker *b = st->c->b;
	fp->at = st->buf.len;
	fp->len = 0;
	fp->err = KE_NONE;
	varve_partition_info pi = { .version = VARVE_PARTITION_INFO_VERSION };
	int rc = varve_partition_info_get(b->db, fp->topic, fp->in->partition, &pi);
	if (rc != VARVE_OK) {
		fp->err = vs_kerr_from_store(rc);
		return;
	}
	fp->hw = fp->lso = high_watermark(b, &pi);
	fp->start = pi.start_offset;
	int64_t off = fp->in->fetch_offset;
	if (off < pi.start_offset || off > pi.end_offset) {
		fp->err = KE_OFFSET_OUT_OF_RANGE;
		return;
	}
	if (off >= fp->hw || (st->total > 0 && st->total >= (size_t)st->max_bytes))
		return;
	varve_iter *it;
	rc = varve_iter_open(b->db, fp->topic, fp->in->partition, off, &it);
	if (rc != VARVE_OK) {
		fp->err = rc == VARVE_EOFFSET ? KE_OFFSET_OUT_OF_RANGE : vs_kerr_from_store(rc);
		return;
	}
	size_t part_max = fp->in->partition_max_bytes > 0 ? (size_t)fp->in->partition_max_bytes : 0;
	for (;;) {
		const varve_batch_info *bi;
		const varve_record *recs;
		size_t n;
		rc = varve_iter_next_batch(it, &bi, &recs, &n);
		if (rc == VARVE_ECORRUPT) {
			int64_t from = -1, to = -1;
			if (varve_iter_skip_damaged(it, &from, &to) != VARVE_OK)
				break;
			st->skipped++;
			continue;
		}
		if (rc != VARVE_OK || recs[0].offset >= fp->hw)
			break;
		/* records of the batch past the watermark stay for the next fetch */
		while (n > 0 && recs[n - 1].offset >= fp->hw)
			n--;
		vs_batch_params p = VS_BATCH_PARAMS_INIT;
		p.log_append_time = fp->log_append_time;
		p.append_time = bi->append_time;
		p.producer_id = bi->producer_id;
		p.producer_epoch = bi->producer_id >= 0 ? (int16_t)bi->producer_epoch : -1;
		if (bi->base_sequence >= 0) /* sequences wrap at INT32_MAX, as Kafka's */
			p.base_sequence = (int32_t)(((uint32_t)bi->base_sequence +
						     (uint32_t)(recs[0].offset - bi->base_offset)) %
						    0x80000000u);
		size_t before = st->buf.len;
		if (vs_records_encode(enc, &st->buf, recs, n, &p) != 0) {
			fp->err = KE_UNKNOWN_SERVER_ERROR;
			break;
		}
		size_t add = st->buf.len - before;
		bool first = st->total == 0;
		if (!first && (fp->len + add > part_max || st->total + add > (size_t)st->max_bytes)) {
			st->buf.len = before; /* over a limit: the next fetch gets it */
			break;
		}
		fp->len += add;
		st->total += add;
		if (fp->len >= part_max || st->total >= (size_t)st->max_bytes)
			break;
	}
	varve_iter_close(it);
}

static void fetch_run(vs_call *c)
{
	vs_fetch_state *st = c->state;
	vs_records_encoder enc;
	vs_records_encoder_init(&enc);
	vs_wbuf_reset(&st->buf);
	st->total = 0;
	st->any_error = 0;
	for (size_t i = 0; i < st->n; i++) {
		fp_part *fp = &st->v[i];
		if (!fp->topic)
			continue;
		read_partition(st, fp, &enc);
		if (fp->err != KE_NONE)
			st->any_error = 1;
	}
	if (st->buf.err) {
		/* out of memory: answer what fits nothing, with an error */
		for (size_t i = 0; i < st->n; i++) {
			st->v[i].len = 0;
			if (st->v[i].topic)
				st->v[i].err = KE_UNKNOWN_SERVER_ERROR;
		}
		st->total = 0;
		st->any_error = 1;
	}
	vs_records_encoder_free(&enc);
}

/* ---- answering (loop thread) ------------------------------------------------------ */

static void waiter_unlink(vs_broker *b, vs_fetch_state *st)
{
	if (!st->waiting)
		return;
	if (st->prev)
		st->prev->next = st->next;
	else
		b->fetch_waiters = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->prev = st->next = NULL;
	st->waiting = false;
	b->fetch_waiting--;
}

static void answer(vs_fetch_state *st)
{
	vs_call *c = st->c;
	vs_broker *b = c->b;
	waiter_unlink(b, st);
	if (st->timer) {
		vs_loop_timer_cancel(b->loop, st->timer);
		st->timer = 0;
	}
	b->fetch_damaged += st->skipped;
	if (st->skipped)
		vs_blog(b, VARVE_LOG_WARN, "%s: Fetch passed over %llu damaged batches", c->peer,
			(unsigned long long)st->skipped);
	for (size_t i = 0; i < st->n; i++) {
		fp_part *fp = &st->v[i];
		if (!fp->topic)
			continue;
		fp->out->error_code = fp->err;
		fp->out->high_watermark = fp->hw;
		fp->out->last_stable_offset = fp->lso;
		fp->out->log_start_offset = fp->start;
		fp->out->records = (vs_slice){ st->buf.buf + fp->at, fp->len };
	}
	b->fetch_bytes += st->total;
	if (st->dropped)
		vs_call_skip(c);
	else
		vs_call_reply(c); /* fetch_free_state runs when the call goes */
}

/* The call is going (answered, or its job cancelled at a stop). */
static void fetch_free_state(vs_call *c)
{
	vs_fetch_state *st = c->state;
	waiter_unlink(c->b, st);
	if (st->timer) {
		vs_loop_timer_cancel(c->b->loop, st->timer);
		st->timer = 0;
	}
	vs_wbuf_free(&st->buf);
}

static void submit_read(vs_fetch_state *st);

static void on_timeout(void *arg)
{
	vs_fetch_state *st = arg;
	st->timer = 0;
	if (st->running) {
		st->expired = true; /* answered when the read comes back */
		return;
	}
	answer(st);
}

static void fetch_done(vs_call *c)
{
	vs_fetch_state *st = c->state;
	vs_broker *b = c->b;
	st->running = false;
	int64_t now = vs_loop_now_ms(b->loop);
	if (st->dropped || st->expired || st->any_error || b->fetch_stopping ||
	    st->total >= (size_t)(st->min_bytes > 0 ? st->min_bytes : 0) || now >= st->deadline_ms) {
		answer(st);
		return;
	}
	if (st->gen != b->fetch_gen) {
		/* the watch fired while this was read: read again, do not sleep */
		submit_read(st);
		return;
	}
	if (!st->waiting) {
		st->next = b->fetch_waiters;
		st->prev = NULL;
		if (st->next)
			st->next->prev = st;
		b->fetch_waiters = st;
		st->waiting = true;
		b->fetch_waiting++;
	}
	if (!st->timer) {
		st->timer = vs_loop_timer_add(b->loop, st->deadline_ms - now, on_timeout, st);
		if (!st->timer)
			answer(st); /* out of memory: answer now rather than never */
	}
}

static void submit_read(vs_fetch_state *st)
{
	vs_broker *b = st->c->b;
	st->gen = b->fetch_gen;
	st->running = true;
	if (vs_call_submit(st->c, fetch_run, fetch_done) != 0) {
		st->running = false;
		if (!st->waiting && !st->timer) {
			/* the workers are saturated and nothing was read yet */
			for (size_t i = 0; i < st->n; i++)
				if (st->v[i].topic)
					st->v[i].err = KE_REQUEST_TIMED_OUT;
			answer(st);
		}
		/* a waiter keeps waiting: its timer answers it */
	}
}

/* Has any partition of a waiting call moved past its fetch offset? */
static bool has_news(vs_broker *b, const vs_fetch_state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		const fp_part *fp = &st->v[i];
		if (!fp->topic)
			continue;
		varve_partition_info pi = { .version = VARVE_PARTITION_INFO_VERSION };
		if (varve_partition_info_get(b->db, fp->topic, fp->in->partition, &pi) != VARVE_OK)
			return true; /* let the read report it */
		if (high_watermark(b, &pi) > fp->in->fetch_offset ||
		    pi.start_offset > fp->in->fetch_offset)
			return true;
	}
	return false;
}

static void on_watch(void *arg)
{
	vs_broker *b = arg;
	varve_watch_arm(b->watch); /* before looking: a later append fires again */
	b->fetch_gen++;
	for (vs_fetch_state *st = b->fetch_waiters, *next; st; st = next) {
		next = st->next;
		if (!st->running && has_news(b, st))
			submit_read(st);
	}
}

/* ---- the handler -------------------------------------------------------------------- */

static size_t count_partitions(const vs_fetch_request *q)
{
	size_t n = 0;
	for (int32_t t = 0; t < q->topics.n; t++)
		if (q->topics.v[t].partitions.n > 0)
			n += (size_t)q->topics.v[t].partitions.n;
	return n;
}

int vs_h_fetch(vs_call *c)
{
	vs_fetch_request *q = &c->req.fetch;
	vs_fetch_response *r = &c->resp.fetch;
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	r->session_id = 0;
	if (c->version >= 7 && q->session_id != 0) {
		vs_reply_error(c, KE_FETCH_SESSION_ID_NOT_FOUND);
		return VS_REPLY;
	}
	if (c->version >= 7 && q->session_epoch > 0) {
		vs_reply_error(c, KE_INVALID_FETCH_SESSION_EPOCH);
		return VS_REPLY;
	}
	vs_fetch_state *st = vs_call_alloc(c, 1, sizeof *st);
	size_t n = count_partitions(q);
	if (!st || (n && !(st->v = vs_call_alloc(c, n, sizeof *st->v))))
		return VS_CLOSE;
	st->c = c;
	st->min_bytes = q->min_bytes;
	st->max_bytes = q->max_bytes > 0 ? q->max_bytes : 1;
	int64_t wait = q->max_wait_ms > 0 ? q->max_wait_ms : 0;
	st->deadline_ms = vs_loop_now_ms(c->b->loop) + wait;
	vs_wbuf_init(&st->buf);
	for (int32_t t = 0; t < q->topics.n; t++) {
		const vs_fetch_topic *qt = &q->topics.v[t];
		char name[VARVE_MAX_TOPIC_NAME + 1];
		varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
		const char *topic = NULL;
		bool allowed = vs_authorize(c, VS_OP_READ, VS_RES_TOPIC, qt->topic);
		if (allowed && !vs_slice_cstr(qt->topic, name, sizeof name) && qt->topic.len > 0 &&
		    varve_topic_describe(c->b->db, name, &cfg) == VARVE_OK)
			topic = vs_call_cstr(c, qt->topic, VARVE_MAX_TOPIC_NAME);
		for (int32_t p = 0; p < qt->partitions.n; p++) {
			fp_part *fp = &st->v[st->n++];
			fp->in = &qt->partitions.v[p];
			fp->out = &r->responses.v[t].partitions.v[p];
			fp->hw = fp->lso = fp->start = -1;
			if (!topic || fp->in->partition < 0 ||
			    (uint32_t)fp->in->partition >= cfg.partitions) {
				fp->out->error_code = allowed ? KE_UNKNOWN_TOPIC_OR_PARTITION
							      : KE_TOPIC_AUTHORIZATION_FAILED;
				st->any_error = 1;
				continue;
			}
			fp->topic = topic;
			fp->log_append_time = cfg.timestamp_type == VARVE_TIMESTAMP_APPEND;
		}
	}
	c->state = st;
	c->on_free = fetch_free_state;
	submit_read(st);
	return VS_DEFER;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int vs_fetch_start(vs_broker *b)
{
	int rc = varve_watch_open(b->db, &b->watch);
	if (rc != VARVE_OK)
		return rc == VARVE_ENOMEM ? -ENOMEM : -EIO;
	return vs_loop_watch_fd(b->loop, varve_watch_fd(b->watch), on_watch, b);
}

void vs_fetch_conn_closed(vs_broker *b, vs_conn_id conn)
{
	for (vs_fetch_state *st = b->fetch_waiters, *next; st; st = next) {
		next = st->next;
		if (st->c->conn != conn)
			continue;
		st->dropped = true; /* one on a worker is dropped when it returns */
		if (!st->running)
			answer(st);
	}
}

void vs_fetch_stop(vs_broker *b)
{
	b->fetch_stopping = true;
	while (b->fetch_waiters) {
		vs_fetch_state *st = b->fetch_waiters;
		if (st->running) {
			waiter_unlink(b, st); /* its read's end answers it */
			continue;
		}
		answer(st);
	}
}

void vs_fetch_free(vs_broker *b)
{
	/* The loop may end without having run the stop (a signal that
	 * interrupts its wait when no connection is left): waiters would keep
	 * their calls forever. Answer them now, while the loop still exists. */
	vs_fetch_stop(b);
	if (b->watch) {
		if (b->loop)
			vs_loop_unwatch_fd(b->loop, varve_watch_fd(b->watch));
		varve_watch_close(b->watch);
		b->watch = NULL;
	}
}
