/* SPDX-License-Identifier: MIT */
/*
 * handlers.c -- which APIs the broker serves: one row per API of kproto's
 * table. `implemented` decides both what ApiVersions advertises and what is
 * served; an API that is not implemented is left out of ApiVersions and, if
 * a client sends it anyway, answered with UNSUPPORTED_VERSION in every
 * error field (reply.c). `keep_frame` marks APIs that may answer after
 * on_request returns (a worker, the coordinator), whose calls keep their own
 * copy of the frame: an answer built later (an error answer shaped like the
 * request, for one) may read the request.
 *
 * The SASL APIs are served by h_sasl.c. The ACL APIs are served by
 * h_acls.c; CreateAcls and DeleteAcls change the ACL file on a worker.
 *
 * varve's own APIs (kproto.h: outside Kafka's key space, never in
 * ApiVersions, which lists kproto's Kafka table only) are served for
 * varve's tools; their handlers are here. VarveClean runs one
 * retention and compaction round (varve_clean_now) on a worker.
 */
#include <string.h>

#include "broker_int.h"

/* ---- VarveClean ----------------------------------------------------------- */

static void clean_run(vs_call *c)
{
	vs_varve_clean_response *r = &c->resp.varve_clean;
	varve_stats before, after;
	memset(&before, 0, sizeof before);
	before.version = VARVE_STATS_VERSION;
	after = before;
	(void)varve_stats_get(c->b->db, &before);
	int rc = varve_clean_now(c->b->db, c->req.varve_clean.force);
	(void)varve_stats_get(c->b->db, &after);
	/* the store's own cleaner may run meanwhile: the counters say what
	 * both reclaimed while this round ran */
	r->segments_deleted = (int64_t)(after.segments_deleted - before.segments_deleted);
	r->compactions = (int64_t)(after.compactions - before.compactions);
	r->records_dropped =
		(int64_t)(after.compaction_records_dropped - before.compaction_records_dropped);
	r->bytes_reclaimed = (int64_t)(after.bytes_reclaimed - before.bytes_reclaimed);
	if (rc == VARVE_OK)
		return;
	const varve_error_info *e = varve_last_error();
	r->error_code = KE_KAFKA_STORAGE_ERROR;
	r->error_message = vs_call_str(c, e->code == rc && e->message ? e->message : varve_errmsg(rc));
}

static void clean_done(vs_call *c)
{
	vs_call_reply(c);
}

static int h_varve_clean(vs_call *c)
{
	memset(&c->resp.varve_clean, 0, sizeof c->resp.varve_clean);
	/* a cleaning round changes every topic's log: an administrator's
	 * operation, like altering the cluster */
	if (!vs_authorize(c, VS_OP_ALTER, VS_RES_CLUSTER, VS_SLICE_NULL)) {
		c->resp.varve_clean.error_code = KE_CLUSTER_AUTHORIZATION_FAILED;
		return VS_REPLY;
	}
	if (vs_call_submit(c, clean_run, clean_done) == 0)
		return VS_DEFER;
	c->resp.varve_clean.error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}

static const vs_handler table[] = {
	{ VS_API_PRODUCE, true, true, vs_h_produce },
	{ VS_API_FETCH, true, true, vs_h_fetch },
	{ VS_API_LIST_OFFSETS, true, true, vs_h_list_offsets },
	{ VS_API_METADATA, true, true, vs_h_metadata },
	{ VS_API_OFFSET_COMMIT, true, true, vs_h_offset_commit },
	{ VS_API_OFFSET_FETCH, true, false, vs_h_offset_fetch },
	{ VS_API_FIND_COORDINATOR, true, false, vs_h_find_coordinator },
	{ VS_API_JOIN_GROUP, true, true, vs_h_join_group },
	{ VS_API_HEARTBEAT, true, false, vs_h_heartbeat },
	{ VS_API_LEAVE_GROUP, true, false, vs_h_leave_group },
	{ VS_API_SYNC_GROUP, true, true, vs_h_sync_group },
	{ VS_API_DESCRIBE_GROUPS, true, false, vs_h_describe_groups },
	{ VS_API_LIST_GROUPS, true, false, vs_h_list_groups },
	{ VS_API_SASL_HANDSHAKE, false, false, NULL },
	{ VS_API_API_VERSIONS, true, false, vs_h_api_versions },
	{ VS_API_CREATE_TOPICS, true, true, vs_h_create_topics },
	{ VS_API_DELETE_TOPICS, true, true, vs_h_delete_topics },
	{ VS_API_DELETE_RECORDS, true, true, vs_h_delete_records },
	{ VS_API_INIT_PRODUCER_ID, true, true, vs_h_init_producer_id },
	{ VS_API_DESCRIBE_ACLS, true, false, vs_h_describe_acls },
	{ VS_API_CREATE_ACLS, true, true, vs_h_create_acls },
	{ VS_API_DELETE_ACLS, true, true, vs_h_delete_acls },
	{ VS_API_DESCRIBE_CONFIGS, true, false, vs_h_describe_configs },
	{ VS_API_ALTER_CONFIGS, true, true, vs_h_alter_configs },
	{ VS_API_SASL_AUTHENTICATE, false, false, NULL },
	{ VS_API_CREATE_PARTITIONS, true, true, vs_h_create_partitions },
	{ VS_API_DELETE_GROUPS, true, true, vs_h_delete_groups },
	{ VS_API_INCREMENTAL_ALTER_CONFIGS, true, true, vs_h_incremental_alter_configs },
	/* its request has nothing a later answer reads: no frame copy. Its
	 * per-API counters share slot key % VS_API_SLOTS = 48 with no API the
	 * broker serves, and /metrics lists Kafka's APIs only. */
	{ VS_API_VARVE_CLEAN, true, false, h_varve_clean },
};

const vs_handler *vs_handler_for(int16_t key)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].key == key)
			return &table[i];
	return NULL;
}

int vs_api_implemented(int16_t key)
{
	const vs_handler *h = vs_handler_for(key);
	return h && h->implemented && h->fn && vs_api_lookup(key);
}
