/* SPDX-License-Identifier: MIT */
/*
 * cli_remote_data.c -- records through a server (cli_remote.h): produce
 * (an idempotent producer, acks=all, each batch acknowledged before the
 * next), consume --group (a member of the group: print, flush, then
 * commit what was printed) and dlq replay (a consumer of the DLQ topic
 * and a producer back to the origin topics, committed once acknowledged).
 *
 * Partitions: a keyed record with no partition goes where the store would
 * put it (rk_key_partition, the store's key hash), so a key lands in the
 * same partition whether it is produced locally or through a server.
 *
 * Bounds: every wait is bounded by the command's --timeout-ms (delivery
 * through message.timeout.ms; the first assignment of a group member; a
 * DLQ replay that stops making progress); a follower waits for records as
 * long as it runs, which is what it is for.
 *
 * May call: cli_remote.c (cli_remote_int.h), cli_common.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_remote_int.h"

/* ---- produce ------------------------------------------------------------------------ */

struct cli_remote_producer {
	rk_handle *k;
	const char *topic;
	uint32_t nparts;
	/* the batch in flight: delivery reports fill it */
	varve_record *recs;
	size_t n, delivered;
	rd_kafka_resp_err_t err; /* the first failure */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	rk_handle *k = opaque;
	cli_remote_producer *p = k->user;
	size_t i = (size_t)(uintptr_t)m->_private;
	if (!p || i >= p->n)
		return;
	p->delivered++;
	if (m->err) {
		if (!p->err)
			p->err = m->err;
		return;
	}
	p->recs[i].partition = m->partition;
	p->recs[i].offset = m->offset;
}

static void producer_setup(rd_kafka_conf_t *conf, void *ctx)
{
	(void)ctx;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
}

/* An idempotent producer bounded by the command's timeout. */
static int producer_handle(cli_ctx *c, rk_handle **k)
{
	char tmo[32];
	snprintf(tmo, sizeof tmo, "%" PRId64, c->timeout_ms);
	rk_conf_pairs conf = { "enable.idempotence", "true", "acks", "all", "message.timeout.ms", tmo,
			       NULL };
	return rk_open(c, RD_KAFKA_PRODUCER, conf, producer_setup, NULL, k);
}

int cli_remote_producer_open(cli_ctx *c, const char *topic, cli_remote_producer **out,
			     uint32_t *partitions)
{
	*out = NULL;
	cli_remote_producer *p = calloc(1, sizeof *p);
	if (!p) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	p->topic = topic;
	int rc = producer_handle(c, &p->k);
	if (rc == CLI_OK) {
		p->k->user = p;
		rc = rk_topic_partitions(p->k, topic, &p->nparts);
	}
	if (rc) {
		cli_remote_producer_close(p);
		return rc;
	}
	*partitions = p->nparts;
	*out = p;
	return CLI_OK;
}

/* Send one record; a full queue is waited out (bounded by deadline). */
static rd_kafka_resp_err_t send_one(rk_handle *k, const char *topic, int32_t partition,
				    const varve_record *r, void *opaque, int64_t deadline)
{
	for (;;) {
		rd_kafka_headers_t *hdrs = NULL;
		if (r->header_count) {
			hdrs = rd_kafka_headers_new(r->header_count);
			for (size_t j = 0; j < r->header_count; j++) {
				const varve_header *h = &r->headers[j];
				rd_kafka_header_add(hdrs, h->key, (ssize_t)h->key_len, h->value,
						    h->value ? (ssize_t)h->value_len : 0);
			}
		}
		rd_kafka_resp_err_t err = rd_kafka_producev(
			k->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
			RD_KAFKA_V_KEY(r->key, r->key ? r->key_len : 0),
			RD_KAFKA_V_VALUE((void *)r->value, r->value ? r->value_len : 0),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(r->timestamp),
			RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
		if (!err)
			return err;
		if (hdrs) /* owned by the message only once it is queued */
			rd_kafka_headers_destroy(hdrs);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || rk_left_ms(deadline) == 0 || cli_stop)
			return err;
		rd_kafka_poll(k->rk, 10);
	}
}

/* Serve delivery reports until *done reaches n, or the deadline. */
static int wait_delivered(rk_handle *k, const size_t *done, size_t n, int64_t deadline)
{
	while (*done < n) {
		int left = rk_left_ms(deadline);
		if (left == 0)
			return -1;
		rd_kafka_flush(k->rk, left < 100 ? left : 100);
	}
	return 0;
}

static int32_t pick_partition(uint32_t nparts, const varve_record *r)
{
	if (r->partition != VARVE_PARTITION_ANY)
		return r->partition;
	return r->key ? rk_key_partition(r->key, r->key_len, nparts) : RD_KAFKA_PARTITION_UA;
}

int cli_remote_produce(cli_remote_producer *p, varve_record *recs, size_t n, const char *what)
{
	rk_handle *k = p->k;
	/* message.timeout.ms bounds each delivery; this bounds the wait for
	 * the reports too, with room for the last of them to come back */
	int64_t deadline = rk_deadline(k) + 1000;
	p->recs = recs;
	p->n = n;
	p->delivered = 0;
	p->err = RD_KAFKA_RESP_ERR_NO_ERROR;
	size_t sent = 0;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (; sent < n && !err; sent++)
		err = send_one(k, p->topic, pick_partition(p->nparts, &recs[sent]), &recs[sent],
			       (void *)(uintptr_t)sent, deadline);
	if (err)
		sent--;
	int late = wait_delivered(k, &p->delivered, sent, deadline);
	p->n = 0; /* reports after this point belong to nothing */
	char text[400];
	snprintf(text, sizeof text, "%s of topic %s", what, p->topic);
	if (late) {
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		return rk_fail_timeout(k, text);
	}
	if (err || p->err)
		return rk_fail_err(k, text, err ? err : p->err);
	return CLI_OK;
}

void cli_remote_producer_close(cli_remote_producer *p)
{
	if (!p)
		return;
	if (p->k) {
		/* every batch was waited for: nothing is left but on an error */
		rd_kafka_purge(p->k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		p->k->user = NULL;
	}
	rk_close(p->k);
	free(p);
}

/* ---- messages as records ---------------------------------------------------------------- */

typedef struct hbuf {
	varve_header *v;
	size_t cap;
} hbuf;

/* The record view of a consumed message; its headers go into hb. */
static int message_record(const rd_kafka_message_t *m, hbuf *hb, varve_record *r)
{
	memset(r, 0, sizeof *r);
	r->key = m->key;
	r->key_len = m->key ? m->key_len : 0;
	r->value = m->payload;
	r->value_len = m->payload ? m->len : 0;
	r->partition = m->partition;
	r->offset = m->offset;
	r->timestamp = rd_kafka_message_timestamp(m, NULL);
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) || !hdrs)
		return 0;
	size_t n = rd_kafka_header_cnt(hdrs);
	if (n > hb->cap) {
		varve_header *nv = realloc(hb->v, n * sizeof *nv);
		if (!nv)
			return -1;
		hb->v = nv;
		hb->cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name;
		const void *val;
		size_t size;
		if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size))
			return -1;
		hb->v[i] = (varve_header){ name, strlen(name), val, val ? size : 0 };
	}
	r->headers = hb->v;
	r->header_count = n;
	return 0;
}

/* ---- consume --group ---------------------------------------------------------------- */

typedef struct member {
	rk_handle *k;
	const cli_remote_consume_args *a;
	uint32_t nparts;
	int64_t *start;   /* per partition: where --from-* puts it, or -1 */
	uint8_t *assigned, *eof;
	int64_t *pending; /* per partition: the offset to commit, or -1 */
	size_t uncommitted;
	int nassigned, rebalanced, gone, rc;
	int64_t printed;
	hbuf hb;
} member;

/* Where --from-* puts each partition, as the local command computes it. */
static int start_offsets(member *g)
{
	const cli_remote_consume_args *a = g->a;
	rd_kafka_topic_partition_list_t *l = NULL;
	int rc = CLI_OK;
	if (a->start == CLI_START_TIME) {
		if (!(l = rd_kafka_topic_partition_list_new((int)g->nparts)))
			return (cli_errf("out of memory"), CLI_ERROR);
		for (uint32_t p = 0; p < g->nparts; p++)
			rd_kafka_topic_partition_list_add(l, a->topic, (int32_t)p);
		rc = rk_offsets_for_time(g->k, l, a->start_arg);
	}
	for (uint32_t p = 0; rc == CLI_OK && p < g->nparts; p++) {
		int64_t s, e, want;
		if ((rc = rk_watermarks(g->k, a->topic, (int32_t)p, &s, &e)))
			break;
		switch (a->start) {
		case CLI_START_BEGINNING: want = s; break;
		case CLI_START_END: want = e; break;
		case CLI_START_TIME:
			want = l->elems[p].offset < 0 ? e : l->elems[p].offset;
			want = want < s ? s : want;
			break;
		default: /* CLI_START_OFFSET */
			want = a->start_arg < 0 ? e + a->start_arg : a->start_arg;
			if (want < s && a->start_arg >= 0)
				cli_errf("%s/%u: offset %" PRId64 " is below the log start %" PRId64
					 "; starting there", a->topic, p, want, s);
			else if (want > e)
				cli_errf("%s/%u: offset %" PRId64 " is past the end %" PRId64
					 "; starting at the end", a->topic, p, want, e);
			want = want < s ? s : want > e ? e : want;
		}
		g->start[p] = want;
	}
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* Flush what was printed, then commit it. A reader that went away ends
 * the member without a commit of what it may not have read. */
static void commit_printed(member *g)
{
	if (!g->uncommitted || g->rc || g->gone)
		return;
	int out = cli_output_done();
	if (out) { /* -1: the reader went away, a normal end; else printed */
		g->gone = 1;
		if (out > 0)
			g->rc = out;
		return;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
	for (uint32_t p = 0; l && p < g->nparts; p++)
		if (g->pending[p] >= 0)
			rd_kafka_topic_partition_list_add(l, g->a->topic, (int32_t)p)->offset =
				g->pending[p];
	rd_kafka_resp_err_t err =
		l ? rd_kafka_commit(g->k->rk, l, 0) : RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE;
	for (int i = 0; l && !err && i < l->cnt; i++)
		err = l->elems[i].err;
	if (err) {
		char what[300];
		snprintf(what, sizeof what, "commit of group %s", g->a->group);
		g->rc = rk_fail_err(g->k, what, err);
	}
	for (uint32_t p = 0; p < g->nparts; p++)
		g->pending[p] = -1;
	g->uncommitted = 0;
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	rk_handle *k = opaque;
	member *g = k->user;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++) {
			int32_t p = parts->elems[i].partition;
			if (p < 0 || (uint32_t)p >= g->nparts)
				continue;
			g->assigned[p] = 1;
			g->eof[p] = 0;
			/* --from-*: once, where the group's position starts */
			if (g->start[p] >= 0) {
				parts->elems[i].offset = g->start[p];
				g->start[p] = -1;
			}
		}
		g->nassigned = parts->cnt;
		g->rebalanced = 1;
		rd_kafka_assign(rk, parts);
		return;
	}
	commit_printed(g); /* before the partitions go to another member */
	memset(g->assigned, 0, g->nparts);
	g->nassigned = 0;
	rd_kafka_assign(rk, NULL);
}

static void member_setup(rd_kafka_conf_t *conf, void *ctx)
{
	(void)ctx;
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
}

/* 1 when every assigned partition has been read to its end. */
static int all_read(const member *g)
{
	if (!g->rebalanced)
		return 0;
	for (uint32_t p = 0; p < g->nparts; p++)
		if (g->assigned[p] && !g->eof[p])
			return 0;
	return 1;
}

/* One message or event from the poll. */
static void member_message(member *g, rd_kafka_message_t *m)
{
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		if (m->partition >= 0 && (uint32_t)m->partition < g->nparts)
			g->eof[m->partition] = 1;
		return;
	}
	if (m->err) {
		char what[300];
		snprintf(what, sizeof what, "group %s", g->a->group);
		if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || rd_kafka_fatal_error(g->k->rk, NULL, 0))
			g->rc = rk_fail(g->k, what, rd_kafka_message_errstr(m));
		else
			cli_notef(g->k->c, "%s: %s: %s", g->k->c->bootstrap, what,
				  rd_kafka_message_errstr(m));
		return;
	}
	varve_record r;
	if (message_record(m, &g->hb, &r)) {
		g->rc = (cli_errf("out of memory"), CLI_ERROR);
		return;
	}
	g->a->print(g->a->ctx, g->a->topic, &r);
	g->printed++;
	if (m->partition >= 0 && (uint32_t)m->partition < g->nparts) {
		g->eof[m->partition] = 0;
		g->pending[m->partition] = m->offset + 1;
		g->uncommitted++;
	}
}

/* Poll, print, commit until the end (or --max, a signal, a reader gone). */
static void member_loop(member *g)
{
	const cli_remote_consume_args *a = g->a;
	int64_t assign_deadline = rk_deadline(g->k);
	while (!cli_stop && !g->rc && !g->gone && (a->max < 0 || g->printed < a->max)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(g->k->rk, 100);
		if (m) {
			member_message(g, m);
			rd_kafka_message_destroy(m);
			if (g->uncommitted >= 1000)
				commit_printed(g);
			if (!all_read(g) || a->follow)
				continue;
		}
		commit_printed(g);
		if (!a->follow && all_read(g))
			break;
		if (a->follow && cli_output_gone())
			break;
		if (!g->rebalanced && rk_left_ms(assign_deadline) == 0) {
			char what[300];
			snprintf(what, sizeof what, "joining group %s", a->group);
			g->rc = rk_fail_timeout(g->k, what);
		}
	}
	commit_printed(g);
	if (!a->follow && g->rebalanced && g->nassigned == 0 && !g->rc)
		cli_errf("%s: group %s: no partition of %s was assigned to this member (other "
			 "members hold them)", g->k->c->bootstrap, a->group, a->topic);
}

/* Leave the group, bounded by the timeout: the revoke commits what was
 * printed. */
static void member_close(member *g)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(g->k->rk);
	rd_kafka_error_t *e = q ? rd_kafka_consumer_close_queue(g->k->rk, q) : NULL;
	if (e)
		rd_kafka_error_destroy(e);
	int64_t deadline = rk_deadline(g->k);
	while (q && !rd_kafka_consumer_closed(g->k->rk) && rk_left_ms(deadline) > 0) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			on_rebalance(g->k->rk, rd_kafka_event_error(ev),
				     rd_kafka_event_topic_partition_list(ev), g->k);
		if (ev)
			rd_kafka_event_destroy(ev);
	}
	if (q)
		rd_kafka_queue_destroy(q);
}

static int member_run(cli_ctx *c, member *g)
{
	const cli_remote_consume_args *a = g->a;
	int rc = rk_topic_partitions(g->k, a->topic, &g->nparts);
	if (rc)
		return rc;
	g->start = malloc(g->nparts * sizeof *g->start);
	g->pending = malloc(g->nparts * sizeof *g->pending);
	g->assigned = calloc(g->nparts, 1);
	g->eof = calloc(g->nparts, 1);
	if (!g->start || !g->pending || !g->assigned || !g->eof)
		return (cli_errf("out of memory"), CLI_ERROR);
	for (uint32_t p = 0; p < g->nparts; p++)
		g->start[p] = g->pending[p] = -1;
	if (a->start != CLI_START_DEFAULT && (rc = start_offsets(g)))
		return rc;
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	if (!sub)
		return (cli_errf("out of memory"), CLI_ERROR);
	rd_kafka_topic_partition_list_add(sub, a->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(g->k->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (err) {
		char what[300];
		snprintf(what, sizeof what, "subscribing to %s", a->topic);
		return rk_fail_err(g->k, what, err);
	}
	rd_kafka_poll_set_consumer(g->k->rk);
	member_loop(g);
	member_close(g);
	(void)c;
	return g->rc;
}

int cli_remote_consume(cli_ctx *c, const cli_remote_consume_args *a)
{
	member g;
	memset(&g, 0, sizeof g);
	g.a = a;
	rk_conf_pairs conf = { "group.id", a->group, "enable.auto.commit", "false",
			       "enable.auto.offset.store", "false", "auto.offset.reset", "earliest",
			       "enable.partition.eof", "true", "fetch.wait.max.ms", "100", NULL };
	int rc = rk_open(c, RD_KAFKA_CONSUMER, conf, member_setup, NULL, &g.k);
	if (rc == CLI_OK) {
		g.k->user = &g;
		rc = member_run(c, &g);
		g.k->user = NULL;
	}
	rk_close(g.k);
	free(g.start);
	free(g.pending);
	free(g.assigned);
	free(g.eof);
	free(g.hb.v);
	return rc;
}

/* ---- dlq replay ------------------------------------------------------------------------ */

#define DLQ_GROUP "__dlq-replay"

/* The topics dead letters go back to: partition counts, 0 for a topic
 * that is gone. */
typedef struct dest {
	char *name;
	uint32_t nparts;
} dest;

typedef struct replay {
	rk_handle *cons, *prod;
	const char *dlq;
	uint32_t nparts;
	int64_t *end, *next; /* per DLQ partition: where to stop, where to commit */
	dest *dests;
	size_t ndests;
	uint64_t moved;
	size_t sent, delivered;
	rd_kafka_resp_err_t err; /* the first failed delivery */
	hbuf hb;
} replay;

static void on_replay_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	rk_handle *k = opaque;
	replay *x = k->user;
	if (!x)
		return;
	x->delivered++;
	if (m->err && !x->err)
		x->err = m->err;
}

static void replay_producer_setup(rd_kafka_conf_t *conf, void *ctx)
{
	(void)ctx;
	rd_kafka_conf_set_dr_msg_cb(conf, on_replay_delivery);
}

/* The origin topic's partition count (cached); 0 when it is gone. */
static int dest_partitions(replay *x, const char *topic, uint32_t *n)
{
	for (size_t i = 0; i < x->ndests; i++)
		if (!strcmp(x->dests[i].name, topic)) {
			*n = x->dests[i].nparts;
			return CLI_OK;
		}
	int rc = rk_topic_lookup(x->prod, topic, n);
	if (rc == RK_NO_TOPIC)
		*n = 0;
	else if (rc)
		return rc;
	dest *nd = realloc(x->dests, (x->ndests + 1) * sizeof *nd);
	char *name = nd ? strdup(topic) : NULL;
	if (nd)
		x->dests = nd;
	if (!name)
		return (cli_errf("out of memory"), CLI_ERROR);
	x->dests[x->ndests++] = (dest){ name, *n };
	return CLI_OK;
}

/* A header's value as text (NUL-terminated into out), or -1. */
static int header_text(const varve_record *r, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		if (h->key_len != kl || memcmp(h->key, key, kl))
			continue;
		if (!h->value || h->value_len >= cap)
			return -1;
		memcpy(out, h->value, h->value_len);
		out[h->value_len] = 0;
		return 0;
	}
	return -1;
}

/* Send one dead letter back, as varve_dlq_replay does: to the topic and
 * partition its headers name, without the dlq-* headers. */
static int replay_one(replay *x, const varve_record *r)
{
	char topic[VARVE_MAX_TOPIC_NAME + 1], pbuf[16];
	if (header_text(r, "dlq-topic", topic, sizeof topic) || !varve_name_valid(topic)) {
		cli_errf("warning: %s offset %" PRId64 " has no dlq-topic header; skipped", x->dlq,
			 r->offset);
		return CLI_OK;
	}
	uint32_t nparts;
	int rc = dest_partitions(x, topic, &nparts);
	if (rc)
		return rc;
	if (nparts == 0) {
		cli_errf("warning: %s offset %" PRId64 ": topic %s is gone; skipped", x->dlq,
			 r->offset, topic);
		return CLI_OK;
	}
	varve_record out = *r;
	out.partition = VARVE_PARTITION_ANY;
	if (header_text(r, "dlq-partition", pbuf, sizeof pbuf) == 0) {
		long p = strtol(pbuf, NULL, 10);
		if (p >= 0 && (uint32_t)p < nparts)
			out.partition = (int32_t)p;
	}
	/* the headers without dlq-*: moved to the front of the record's own array */
	varve_header *h = (varve_header *)r->headers;
	size_t nh = 0;
	for (size_t i = 0; i < r->header_count; i++)
		if (!(h[i].key_len >= 4 && !memcmp(h[i].key, "dlq-", 4)))
			h[nh++] = h[i];
	out.header_count = nh;
	rd_kafka_resp_err_t err = send_one(x->prod, topic, pick_partition(nparts, &out), &out, NULL,
					   rk_deadline(x->prod));
	if (err) {
		char what[300];
		snprintf(what, sizeof what, "dlq replay to %s", topic);
		return rk_fail_err(x->prod, what, err);
	}
	x->sent++;
	x->moved++;
	return CLI_OK;
}

/* Assign the DLQ partitions from the group's commits (or the log start)
 * up to their end now. 1 when there is nothing to read. */
static int replay_assign(replay *x)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)x->nparts);
	if (!l)
		return (cli_errf("out of memory"), CLI_ERROR);
	for (uint32_t p = 0; p < x->nparts; p++)
		rd_kafka_topic_partition_list_add(l, x->dlq, (int32_t)p);
	rd_kafka_resp_err_t err = rd_kafka_committed(x->cons->rk, l, rk_left_ms(rk_deadline(x->cons)));
	int rc = err ? rk_fail_err(x->cons, "offsets of group " DLQ_GROUP, err) : CLI_OK;
	int any = 0;
	for (uint32_t p = 0; rc == CLI_OK && p < x->nparts; p++) {
		int64_t start, end;
		if ((rc = rk_watermarks(x->cons, x->dlq, (int32_t)p, &start, &end)))
			break;
		int64_t from = l->elems[p].offset > start ? l->elems[p].offset : start;
		l->elems[p].offset = from;
		x->next[p] = from;
		x->end[p] = end;
		any |= from < end;
	}
	if (rc == CLI_OK && any && (err = rd_kafka_assign(x->cons->rk, l)))
		rc = rk_fail_err(x->cons, "reading the DLQ", err);
	rd_kafka_topic_partition_list_destroy(l);
	return rc ? rc : !any;
}

static int replay_done(const replay *x, uint64_t max)
{
	if (max && x->moved >= max)
		return 1;
	for (uint32_t p = 0; p < x->nparts; p++)
		if (x->next[p] < x->end[p])
			return 0;
	return 1;
}

/* Read and send until every partition reached its end (or --max). A
 * timeout without a record ends it with an error. */
static int replay_read(replay *x, uint64_t max)
{
	int64_t deadline = rk_deadline(x->cons);
	while (!replay_done(x, max) && !cli_stop) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(x->cons->rk, 100);
		rd_kafka_poll(x->prod->rk, 0);
		if (!m) {
			if (rk_left_ms(deadline) == 0)
				return rk_fail_timeout(x->cons, "reading the DLQ");
			continue;
		}
		deadline = rk_deadline(x->cons);
		int rc = CLI_OK;
		int32_t p = m->partition;
		int ours = p >= 0 && (uint32_t)p < x->nparts;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || (!m->err && ours && m->offset >= x->end[p])) {
			/* everything below the end was read (compaction may
			 * have left no record at the last offsets) */
			if (ours && m->offset >= x->end[p] && x->next[p] < x->end[p])
				x->next[p] = x->end[p];
		} else if (m->err) {
			rc = rk_fail(x->cons, "reading the DLQ", rd_kafka_message_errstr(m));
		} else if (ours) {
			varve_record r;
			if (message_record(m, &x->hb, &r))
				rc = (cli_errf("out of memory"), CLI_ERROR);
			else if ((rc = replay_one(x, &r)) == CLI_OK)
				x->next[p] = m->offset + 1;
		}
		rd_kafka_message_destroy(m);
		if (rc)
			return rc;
	}
	return cli_stop ? CLI_ERROR : CLI_OK;
}

/* Once every record sent is acknowledged: commit where reading got to. */
static int replay_commit(replay *x)
{
	if (wait_delivered(x->prod, &x->delivered, x->sent, rk_deadline(x->prod) + 1000)) {
		rd_kafka_purge(x->prod->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		return rk_fail_timeout(x->prod, "dlq replay");
	}
	if (x->err)
		return rk_fail_err(x->prod, "dlq replay", x->err);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)x->nparts);
	if (!l)
		return (cli_errf("out of memory"), CLI_ERROR);
	for (uint32_t p = 0; p < x->nparts; p++)
		rd_kafka_topic_partition_list_add(l, x->dlq, (int32_t)p)->offset = x->next[p];
	rd_kafka_resp_err_t err = rd_kafka_commit(x->cons->rk, l, 0);
	for (int i = 0; !err && i < l->cnt; i++)
		err = l->elems[i].err;
	rd_kafka_topic_partition_list_destroy(l);
	return err ? rk_fail_err(x->cons, "commit of group " DLQ_GROUP, err) : CLI_OK;
}

static int replay_run(replay *x, uint64_t max)
{
	int rc = rk_topic_partitions(x->cons, x->dlq, &x->nparts);
	if (rc)
		return rc;
	x->end = calloc(x->nparts, sizeof *x->end);
	x->next = calloc(x->nparts, sizeof *x->next);
	if (!x->end || !x->next)
		return (cli_errf("out of memory"), CLI_ERROR);
	rc = replay_assign(x);
	if (rc == 1) /* nothing new: no commit needed */
		return CLI_OK;
	if (rc == CLI_OK)
		rc = replay_read(x, max);
	/* what was sent goes on being delivered: the commit waits for it */
	if (rc == CLI_OK)
		rc = replay_commit(x);
	return rc;
}

int cli_remote_dlq_replay(cli_ctx *c, const char *dlq_topic, uint64_t max)
{
	replay x;
	memset(&x, 0, sizeof x);
	x.dlq = dlq_topic;
	char tmo[32];
	snprintf(tmo, sizeof tmo, "%" PRId64, c->timeout_ms);
	rk_conf_pairs cconf = { "group.id", DLQ_GROUP, "enable.auto.commit", "false",
				"enable.auto.offset.store", "false", "enable.partition.eof", "true",
				"fetch.wait.max.ms", "100", NULL };
	rk_conf_pairs pconf = { "enable.idempotence", "true", "acks", "all", "message.timeout.ms",
				tmo, NULL };
	int rc = rk_open(c, RD_KAFKA_CONSUMER, cconf, NULL, NULL, &x.cons);
	if (rc == CLI_OK) {
		/* one probe is enough */
		int probed = c->from_server_file;
		c->from_server_file = 1;
		rc = rk_open(c, RD_KAFKA_PRODUCER, pconf, replay_producer_setup, NULL, &x.prod);
		c->from_server_file = probed;
	}
	if (rc == CLI_OK) {
		x.prod->user = &x;
		rd_kafka_poll_set_consumer(x.cons->rk);
		rc = replay_run(&x, max);
		x.prod->user = NULL;
	}
	if (rc == CLI_OK)
		printf("moved %" PRIu64 " dead letters back from %s\n", x.moved, dlq_topic);
	if (x.prod)
		rd_kafka_purge(x.prod->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rk_close(x.prod);
	if (x.cons)
		rd_kafka_consumer_close(x.cons->rk);
	rk_close(x.cons);
	for (size_t i = 0; i < x.ndests; i++)
		free(x.dests[i].name);
	free(x.dests);
	free(x.end);
	free(x.next);
	free(x.hb.v);
	return rc;
}
