/* SPDX-License-Identifier: MIT */
/*
 * metrics.c -- /metrics on the HTTP listener, in the Prometheus text format
 * (prom.h). Families (docs/KAFKA.md lists them):
 *   varve_*             the store's counters (varve_stats)
 *   varve_kafka_*       per-API requests, errors, bytes, latency histogram;
 *                       requests refused before a handler
 *   varve_net_*         the loop's connections and bytes (vs_loop_stats)
 *   varve_workers_*     the worker pool
 *   varve_groups*, varve_group_* the coordinator (groups by state, members,
 *                       rebalances) and the lag of every group on every
 *                       partition it has a commit on
 *   varve_kafka_authentications_*, varve_tls_* authentication (h_sasl.c)
 *   varve_kafka_authorization_failures_total, varve_kafka_acl*
 *                       refusals by API and resource type, the ACLs in
 *                       force and their reloads (h_acls.c)
 *
 * Everything is read on the loop thread (on_http) from memory, except the
 * lag: varve_group_lag reads the log (the age of the oldest unconsumed
 * record), so a worker renders the lag families every lag_refresh_ms and the
 * page shows the latest snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "prom.h"

/* ---- the lag snapshot (a worker job) ---------------------------------------------- */

typedef struct lag_job {
	vs_job job;
	vs_broker *b;
	vs_wbuf out;
} lag_job;

typedef struct lag_bufs {
	vs_wbuf records, bytes, age;
} lag_bufs;

static void lag_partition(lag_bufs *lb, const char *group, const char *topic, uint32_t p,
			  const varve_lag *lag)
{
	vs_prom r = { &lb->records, 0 }, by = { &lb->bytes, 0 }, a = { &lb->age, 0 };
	vs_prom *all[3] = { &r, &by, &a };
	static const char *const names[3] = { "varve_group_lag_records", "varve_group_lag_bytes",
					      "varve_group_lag_age_seconds" };
	for (int i = 0; i < 3; i++) {
		vs_prom_sample(all[i], names[i]);
		vs_prom_label_z(all[i], "group", group);
		vs_prom_label_z(all[i], "topic", topic);
		vs_prom_label_i64(all[i], "partition", p);
	}
	vs_prom_value_i64(&r, lag->records);
	vs_prom_value_u64(&by, lag->bytes);
	vs_prom_value_f(&a, (double)lag->oldest_age_ms / 1000.0);
}

static void lag_group(varve_db *db, lag_bufs *lb, const char *group, char **topics, size_t ntopics)
{
	for (size_t t = 0; t < ntopics; t++) {
		varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
		if (varve_topic_describe(db, topics[t], &cfg) != VARVE_OK)
			continue;
		for (uint32_t p = 0; p < cfg.partitions; p++) {
			varve_lag lag = { VARVE_LAG_VERSION };
			if (varve_group_lag(db, group, topics[t], (int32_t)p, &lag) == VARVE_OK &&
			    lag.committed >= 0)
				lag_partition(lb, group, topics[t], p, &lag);
		}
	}
}

static void lag_run(vs_job *job)
{
	lag_job *lj = (lag_job *)job;
	varve_db *db = lj->b->db;
	char **groups = NULL, **topics = NULL;
	size_t ng = 0, nt = 0;
	lag_bufs lb;
	vs_wbuf_init(&lb.records);
	vs_wbuf_init(&lb.bytes);
	vs_wbuf_init(&lb.age);
	if (varve_group_list(db, &groups, &ng) == VARVE_OK &&
	    varve_topic_list(db, &topics, &nt) == VARVE_OK)
		for (size_t g = 0; g < ng; g++)
			lag_group(db, &lb, groups[g], topics, nt);
	varve_strings_free(groups, ng);
	varve_strings_free(topics, nt);
	vs_prom p = { &lj->out, 0 };
	vs_prom_family(&p, "varve_group_lag_records", "gauge",
		       "Records from a group's committed offset to the end of a partition.");
	vs_w_raw(&lj->out, lb.records.buf, lb.records.len);
	vs_prom_family(&p, "varve_group_lag_bytes", "gauge",
		       "Log bytes from a group's committed offset to the end of a partition.");
	vs_w_raw(&lj->out, lb.bytes.buf, lb.bytes.len);
	vs_prom_family(&p, "varve_group_lag_age_seconds", "gauge",
		       "Age of the oldest record a group has not consumed on a partition.");
	vs_w_raw(&lj->out, lb.age.buf, lb.age.len);
	if (lb.records.err || lb.bytes.err || lb.age.err)
		lj->out.err = VS_KBUF_NOMEM;
	vs_wbuf_free(&lb.records);
	vs_wbuf_free(&lb.bytes);
	vs_wbuf_free(&lb.age);
}

static void lag_schedule(vs_broker *b);

static void lag_done(vs_job *job, int status)
{
	lag_job *lj = (lag_job *)job;
	vs_broker *b = lj->b;
	b->lag_running = false;
	b->lag_pending = NULL;
	if (status == VS_WORK_RAN && !lj->out.err) {
		free(b->lag_text);
		b->lag_text = (char *)vs_wbuf_take(&lj->out, &b->lag_len);
		b->lag_age_ms = vs_loop_now_ms(b->loop);
	}
	vs_wbuf_free(&lj->out);
	free(lj);
}

static void lag_start(vs_broker *b)
{
	if (b->lag_running || b->stopping)
		return;
	lag_job *lj = calloc(1, sizeof *lj);
	if (!lj)
		return;
	lj->b = b;
	lj->job.run = lag_run;
	lj->job.done = lag_done;
	vs_wbuf_init(&lj->out);
	if (vs_work_submit(b->work, &lj->job)) {
		free(lj);
		return;
	}
	b->lag_running = true;
	b->lag_pending = lj;
}

static void lag_tick(void *arg)
{
	vs_broker *b = arg;
	b->lag_timer = 0;
	lag_start(b);
	lag_schedule(b);
}

static void lag_schedule(vs_broker *b)
{
	if (!b->stopping && !b->lag_timer)
		b->lag_timer = vs_loop_timer_add(b->loop, b->cfg.lag_refresh_ms, lag_tick, b);
}

void vs_metrics_start(vs_broker *b)
{
	lag_start(b);
	lag_schedule(b);
}

void vs_metrics_free(vs_broker *b)
{
	free(b->lag_text);
	b->lag_text = NULL;
}

/* ---- the page ------------------------------------------------------------------------ */

static void counter(vs_prom *p, const char *name, const char *help, uint64_t v)
{
	vs_prom_family(p, name, "counter", help);
	vs_prom_u64(p, name, v);
}

static void gauge(vs_prom *p, const char *name, const char *help, uint64_t v)
{
	vs_prom_family(p, name, "gauge", help);
	vs_prom_u64(p, name, v);
}

static void store_metrics(vs_broker *b, vs_prom *p)
{
	varve_stats s = { VARVE_STATS_VERSION };
	if (varve_stats_get(b->db, &s) != VARVE_OK)
		return;
	counter(p, "varve_appends_total", "Batches appended to the store.", s.appends);
	counter(p, "varve_appended_bytes_total", "Bytes appended to the store.", s.appended_bytes);
	counter(p, "varve_fsyncs_total", "fdatasync calls.", s.fsyncs);
	vs_prom_family(p, "varve_fsync_seconds_total", "counter", "Time spent in fdatasync.");
	vs_prom_sample(p, "varve_fsync_seconds_total");
	vs_prom_value_f(p, (double)s.fsync_ns / 1e9);
	counter(p, "varve_dir_syncs_total", "Directory syncs.", s.dir_syncs);
	counter(p, "varve_segments_deleted_total", "Segments deleted by retention.", s.segments_deleted);
	counter(p, "varve_reclaimed_bytes_total", "Bytes reclaimed by retention and compaction.",
		s.bytes_reclaimed);
	counter(p, "varve_compactions_total", "Partition compaction runs.", s.compactions);
	vs_prom_family(p, "varve_compaction_seconds_total", "counter", "Time spent compacting.");
	vs_prom_sample(p, "varve_compaction_seconds_total");
	vs_prom_value_f(p, (double)s.compaction_ns / 1e9);
	counter(p, "varve_compaction_read_bytes_total", "Bytes read by compaction.",
		s.compaction_bytes_read);
	counter(p, "varve_compaction_written_bytes_total", "Bytes written by compaction.",
		s.compaction_bytes_written);
	counter(p, "varve_compaction_kept_records_total", "Records kept by compaction.",
		s.compaction_records_kept);
	counter(p, "varve_compaction_dropped_records_total", "Records dropped by compaction.",
		s.compaction_records_dropped);
	counter(p, "varve_cleaner_failures_total", "Failed cleaner runs.", s.cleaner_failures);
	counter(p, "varve_lag_alerts_total", "Lag-limit crossings.", s.lag_alerts);
	gauge(p, "varve_inflight_bytes", "Bytes appended asynchronously, not yet durable.",
	      s.inflight_bytes);
	counter(p, "varve_backpressure_waits_total", "Asynchronous appends that met backpressure.",
		s.backpressure_waits);
}

static void api_counter(vs_broker *b, vs_prom *p, const char *name, const char *help,
			size_t field)
{
	vs_prom_family(p, name, "counter", help);
	for (size_t i = 0; i < vs_api_count(); i++) {
		const vs_api_info *a = vs_api_at(i);
		if ((size_t)a->key >= VS_API_SLOTS || !vs_api_implemented(a->key))
			continue;
		vs_prom_sample(p, name);
		vs_prom_label_z(p, "api", a->name);
		vs_prom_value_u64(p, *(const uint64_t *)((const char *)&b->api[a->key] + field));
	}
}

static void api_latency(vs_broker *b, vs_prom *p)
{
	static const char name[] = "varve_kafka_request_duration_seconds";
	vs_prom_family(p, name, "histogram",
		       "Time from a request's arrival to its response being handed to the loop.");
	for (size_t i = 0; i < vs_api_count(); i++) {
		const vs_api_info *a = vs_api_at(i);
		if ((size_t)a->key >= VS_API_SLOTS || !vs_api_implemented(a->key))
			continue;
		const vs_api_stats *s = &b->api[a->key];
		uint64_t cum = 0;
		for (int k = 0; k <= VS_LAT_BUCKETS; k++) {
			char le[24];
			cum += s->lat_buckets[k];
			if (k < VS_LAT_BUCKETS)
				snprintf(le, sizeof le, "%g", vs_lat_bounds[k]);
			else
				snprintf(le, sizeof le, "+Inf");
			vs_prom_sample(p, "varve_kafka_request_duration_seconds_bucket");
			vs_prom_label_z(p, "api", a->name);
			vs_prom_label_z(p, "le", le);
			vs_prom_value_u64(p, cum);
		}
		vs_prom_sample(p, "varve_kafka_request_duration_seconds_sum");
		vs_prom_label_z(p, "api", a->name);
		vs_prom_value_f(p, s->lat_sum);
		vs_prom_sample(p, "varve_kafka_request_duration_seconds_count");
		vs_prom_label_z(p, "api", a->name);
		vs_prom_value_u64(p, cum);
	}
}

static void kafka_metrics(vs_broker *b, vs_prom *p)
{
	api_counter(b, p, "varve_kafka_requests_total", "Requests answered, by API.",
		    offsetof(vs_api_stats, requests));
	api_counter(b, p, "varve_kafka_request_errors_total",
		    "Responses carrying a non-zero error code, by API.", offsetof(vs_api_stats, errors));
	api_counter(b, p, "varve_kafka_request_bytes_total", "Request bytes, by API.",
		    offsetof(vs_api_stats, bytes_in));
	api_counter(b, p, "varve_kafka_response_bytes_total", "Response bytes, by API.",
		    offsetof(vs_api_stats, bytes_out));
	api_latency(b, p);
	counter(p, "varve_kafka_unsupported_requests_total",
		"Requests for an unknown API or version.", b->unsupported);
	counter(p, "varve_kafka_malformed_requests_total",
		"Requests that did not decode (their connection was closed).", b->decode_errors);
	counter(p, "varve_kafka_unencodable_responses_total",
		"Responses that could not be encoded (their connection was closed).",
		b->encode_errors);
	counter(p, "varve_kafka_busy_total", "Requests refused because the workers were busy.",
		b->busy);
	gauge(p, "varve_kafka_requests_in_flight", "Requests received and not answered yet.",
	      b->calls_open);
	gauge(p, "varve_kafka_deferred_frame_bytes",
	      "Request bytes held by requests that may be answered later.", b->deferred_bytes);
	counter(p, "varve_kafka_topics_created_total", "Topics created by Kafka clients.",
		b->topics_created);
	counter(p, "varve_kafka_topics_deleted_total", "Topics deleted by Kafka clients.",
		b->topics_deleted);
	counter(p, "varve_kafka_produced_records_total", "Records appended by Produce requests.",
		b->produce_records);
	counter(p, "varve_kafka_produce_duplicates_total",
		"Produce batches that were an idempotent producer's retry (not appended again).",
		b->produce_duplicates);
	counter(p, "varve_kafka_produce_waits_total",
		"Produce requests that waited for the store's bound on bytes not yet durable.",
		b->produce_waits);
	gauge(p, "varve_kafka_produce_appends_in_flight",
	      "Batches appended by Produce and not yet durable.", b->produce_inflight);
	counter(p, "varve_kafka_fetch_bytes_total", "Record bytes sent in Fetch answers.",
		b->fetch_bytes);
	gauge(p, "varve_kafka_fetch_waiting", "Fetch requests waiting for records (long poll).",
	      b->fetch_waiting);
	counter(p, "varve_kafka_fetch_damaged_batches_total",
		"Stored batches that failed their checks and were passed over by Fetch.",
		b->fetch_damaged);
}

/* Only the (api, resource type) pairs with a refusal: most APIs touch one
 * or two types, and a page of zeros helps nobody. */
static void refusal_samples(vs_prom *p, const char *api, const uint64_t *by_type)
{
	static const char *const types[VS_ACL_COUNTED_TYPES] = { "topic", "group", "cluster" };
	for (int k = 0; k < VS_ACL_COUNTED_TYPES; k++) {
		if (!by_type[k])
			continue;
		vs_prom_sample(p, "varve_kafka_authorization_failures_total");
		vs_prom_label_z(p, "api", api);
		vs_prom_label_z(p, "resource_type", types[k]);
		vs_prom_value_u64(p, by_type[k]);
	}
}

static void acl_metrics(vs_broker *b, vs_prom *p)
{
	vs_prom_family(p, "varve_kafka_authorization_failures_total", "counter",
		       "Resources a request was refused by the ACLs, by API and resource type.");
	for (size_t i = 0; i < vs_api_count(); i++) {
		const vs_api_info *a = vs_api_at(i);
		if ((size_t)a->key < VS_API_SLOTS)
			refusal_samples(p, a->name, b->acl_refused[a->key]);
	}
	/* the last row: varve's own APIs, of which VarveClean is the only one */
	refusal_samples(p, "VarveClean", b->acl_refused[VS_API_SLOTS]);
	gauge(p, "varve_kafka_acls", "ACLs in force (0: every request is allowed).", b->acls.n);
	counter(p, "varve_kafka_acl_reloads_total", "Times the ACL file was read again after a change.",
		b->acl_reloads);
	counter(p, "varve_kafka_acl_reload_failures_total",
		"Changed ACL files that did not parse (the ACLs in force were kept).",
		b->acl_reload_failures);
}

static void closed(vs_prom *p, const char *reason, uint64_t v)
{
	vs_prom_sample(p, "varve_net_connections_closed_total");
	vs_prom_label_z(p, "reason", reason);
	vs_prom_value_u64(p, v);
}

static void net_metrics(vs_broker *b, vs_prom *p)
{
	vs_loop_stats_t s;
	vs_loop_stats(b->loop, &s);
	gauge(p, "varve_net_connections", "Open connections (Kafka and HTTP).", s.conns_open);
	counter(p, "varve_net_connections_accepted_total", "Accepted connections.", s.conns_accepted);
	vs_prom_family(p, "varve_net_connections_refused_total", "counter",
		       "Connections closed at once for a limit.");
	vs_prom_sample(p, "varve_net_connections_refused_total");
	vs_prom_label_z(p, "limit", "max_connections");
	vs_prom_value_u64(p, s.conns_refused_max);
	vs_prom_sample(p, "varve_net_connections_refused_total");
	vs_prom_label_z(p, "limit", "max_connections_per_ip");
	vs_prom_value_u64(p, s.conns_refused_per_ip);
	vs_prom_family(p, "varve_net_connections_closed_total", "counter",
		       "Closed connections, by reason.");
	closed(p, "peer", s.conns_closed_peer);
	closed(p, "error", s.conns_closed_error);
	closed(p, "idle", s.conns_closed_idle);
	closed(p, "oversize", s.conns_closed_oversize);
	closed(p, "broker", s.conns_closed_broker);
	closed(p, "shutdown", s.conns_closed_shutdown);
	counter(p, "varve_net_received_bytes_total", "Bytes received.", s.bytes_in);
	counter(p, "varve_net_sent_bytes_total", "Bytes sent.", s.bytes_out);
	counter(p, "varve_net_requests_total", "Kafka request frames received.", s.frames_in);
	counter(p, "varve_net_responses_total", "Kafka response frames written.", s.frames_out);
	counter(p, "varve_net_read_pauses_total", "Times a connection stopped being read (a cap).",
		s.read_pauses);
	counter(p, "varve_net_http_requests_total", "HTTP requests answered.", s.http_requests);
	gauge(p, "varve_net_input_buffered_bytes", "Bytes held for partial requests.",
	      s.input_buffered_bytes);
	gauge(p, "varve_net_output_buffered_bytes", "Response bytes not written yet.",
	      s.output_buffered_bytes);
}

static void work_metrics(vs_broker *b, vs_prom *p)
{
	vs_work_stats_t s;
	vs_work_stats(b->work, &s);
	gauge(p, "varve_workers", "Worker threads.", s.threads);
	gauge(p, "varve_workers_queued", "Jobs waiting for a worker.", s.queued);
	gauge(p, "varve_workers_running", "Jobs running.", s.running);
	counter(p, "varve_workers_completed_total", "Jobs run.", s.completed);
	counter(p, "varve_workers_rejected_total", "Jobs refused (queue full).", s.rejected);
}

static void group_metrics(vs_broker *b, vs_prom *p)
{
	vs_coord_stats s;
	vs_coord_stats_get(b->coord, &s);
	vs_prom_family(p, "varve_groups", "gauge", "Consumer groups the coordinator knows, by state.");
	for (int st = 0; st < VS_GROUP_DEAD; st++) {
		vs_prom_sample(p, "varve_groups");
		vs_prom_label_z(p, "state", vs_group_state_name(st));
		vs_prom_value_u64(p, s.groups[st]);
	}
	gauge(p, "varve_group_members", "Members of every group.", s.members);
	gauge(p, "varve_group_pending_members", "Member ids awaiting their rejoin.", s.pending_members);
	gauge(p, "varve_group_coordinator_bytes", "Bytes the coordinator holds.", s.bytes_held);
	counter(p, "varve_group_rebalances_total", "Times a group started a rebalance.", s.rebalances);
	counter(p, "varve_group_generations_total", "Generations completed.", s.generations);
	counter(p, "varve_group_expired_sessions_total", "Members removed by session timeout.",
		s.expired_sessions);
	counter(p, "varve_group_removed_at_rebalance_total",
		"Members removed for not rejoining or syncing in time.", s.removed_at_rebalance);
}

int vs_metrics_http(void *ctx, const char *path, vs_wbuf *body, const char **content_type)
{
	vs_broker *b = ctx;
	(void)content_type; /* the loop's default is the Prometheus text type */
	if (strcmp(path, "/metrics") != 0) {
		static const char nf[] = "not found: try /metrics\n";
		vs_w_raw(body, nf, sizeof nf - 1);
		return 404;
	}
	vs_prom p = { body, 0 };
	store_metrics(b, &p);
	kafka_metrics(b, &p);
	acl_metrics(b, &p);
	net_metrics(b, &p);
	work_metrics(b, &p);
	group_metrics(b, &p);
	vs_auth_metrics(b, &p);
	if (b->lag_text)
		vs_w_raw(body, b->lag_text, b->lag_len);
	return body->err ? 500 : 200;
}
