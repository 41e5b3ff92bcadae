/* SPDX-License-Identifier: MIT */
/*
 * h_group.c -- consumer groups: membership through the coordinator
 * (server/coord, on the loop thread) and committed offsets in the store.
 *
 *   JoinGroup, SyncGroup   answered through the coordinator's callbacks,
 *                          maybe much later: the call is held (a closed
 *                          connection makes the coordinator forget it)
 *   Heartbeat, LeaveGroup  answered at once
 *   OffsetCommit           vs_coord_commit_check on the loop thread, then
 *                          the store's commit on a worker (it may fsync)
 *   OffsetFetch            the store's committed offsets (memory)
 *   ListGroups, DescribeGroups
 *                          the coordinator's groups, plus groups the store
 *                          knows only by their commits (reported Empty)
 *   DeleteGroups           coordinator rules, then varve_group_delete on a
 *                          worker
 *
 * Group ids: Kafka allows any string; the store holds 1..255 bytes without
 * NUL (VARVE_MAX_GROUP_NAME). Other ids get INVALID_GROUP_ID everywhere.
 *
 * Permissions (Kafka's, checked before anything else about the group):
 * READ on the group for JoinGroup, SyncGroup, Heartbeat, LeaveGroup and
 * OffsetCommit (which also needs READ on each topic); DESCRIBE on the group
 * for OffsetFetch (and DESCRIBE on each topic: a listing of every commit
 * leaves out topics the client may not see) and DescribeGroups; DELETE for
 * DeleteGroups; ListGroups lists every group with DESCRIBE on the cluster,
 * else the groups the client may DESCRIBE.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

static const uint8_t nothing[1];
#define EMPTY ((vs_slice){ nothing, 0 })

static vs_slice nonnull(vs_slice s)
{
	return s.ptr ? s : EMPTY;
}

int vs_group_id_ok(vs_slice id)
{
	return id.ptr && id.len >= 1 && id.len <= VARVE_MAX_GROUP_NAME && !memchr(id.ptr, 0, id.len);
}

/* Kafka reports a member's host as "/ip". */
static vs_slice client_host(vs_call *c)
{
	const char *p = c->peer;
	size_t n = strlen(p);
	const char *colon = strrchr(p, ':');
	if (colon)
		n = (size_t)(colon - p);
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
	}
	return vs_call_printf(c, "/%.*s", (int)n, p);
}

static int64_t now_ms(vs_call *c)
{
	return vs_loop_now_ms(c->b->loop);
}

/* READ on the group, or the whole answer is GROUP_AUTHORIZATION_FAILED:
 * 1 if the handler may go on, else 0 with *ret set. */
static int group_read_ok(vs_call *c, vs_slice group_id, int *ret)
{
	if (vs_authorize(c, VS_OP_READ, VS_RES_GROUP, group_id))
		return 1;
	*ret = vs_reply_error(c, KE_GROUP_AUTHORIZATION_FAILED) ? VS_CLOSE : VS_REPLY;
	return 0;
}

/* ---- JoinGroup -------------------------------------------------------------------- */

static void join_done(void *ctx, const vs_join_result *res)
{
	vs_call *c = ctx;
	vs_call_unhold(c);
	vs_join_group_response *r = &c->resp.join_group;
	r->error_code = res->error;
	r->generation_id = res->generation_id;
	r->protocol_name = nonnull(res->protocol_name);
	r->leader = nonnull(res->leader);
	r->member_id = nonnull(res->member_id);
	vs_join_group_member *m = vs_call_alloc(c, res->member_count, sizeof *m);
	if (!m) {
		vs_call_fail(c, KE_UNKNOWN_SERVER_ERROR);
		return;
	}
	for (size_t i = 0; i < res->member_count; i++) {
		m[i].member_id = res->members[i].member_id;
		m[i].group_instance_id = res->members[i].group_instance_id;
		m[i].metadata = nonnull(res->members[i].metadata);
	}
	r->members.v = m;
	r->members.n = (int32_t)res->member_count;
	/* the slices are the coordinator's until we return: encode now */
	vs_call_reply(c);
}

int vs_h_join_group(vs_call *c)
{
	vs_join_group_request *q = &c->req.join_group;
	vs_broker *b = c->b;
	int ret;
	if (!group_read_ok(c, q->group_id, &ret))
		return ret;
	if (!vs_group_id_ok(q->group_id))
		return vs_reply_error(c, KE_INVALID_GROUP_ID) ? VS_CLOSE : VS_REPLY;
	size_t n = q->protocols.n > 0 ? (size_t)q->protocols.n : 0;
	vs_join_protocol *ps = vs_call_alloc(c, n, sizeof *ps);
	vs_slice host = client_host(c);
	if (!ps || !host.ptr)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++)
		ps[i] = (vs_join_protocol){ q->protocols.v[i].name, q->protocols.v[i].metadata };
	vs_join_req jr = {
		.group_id = q->group_id,
		.member_id = nonnull(q->member_id),
		.group_instance_id = c->version >= 5 ? q->group_instance_id : VS_SLICE_NULL,
		.client_id = nonnull(c->client_id),
		.client_host = host,
		.protocol_type = q->protocol_type,
		.session_timeout_ms = q->session_timeout_ms,
		.rebalance_timeout_ms = c->version >= 1 ? q->rebalance_timeout_ms : -1,
		.protocols = ps,
		.protocol_count = n,
	};
	vs_call_hold(c);
	/* may answer (and free c) before it returns */
	vs_coord_join(b->coord, &jr, c->version, vs_loop_now_ms(b->loop), join_done, c);
	vs_coord_timer_update(b);
	return VS_DEFER;
}

/* ---- SyncGroup --------------------------------------------------------------------- */

static void sync_done(void *ctx, const vs_sync_result *res)
{
	vs_call *c = ctx;
	vs_call_unhold(c);
	c->resp.sync_group.error_code = res->error;
	c->resp.sync_group.assignment = nonnull(res->assignment);
	vs_call_reply(c);
}

int vs_h_sync_group(vs_call *c)
{
	vs_sync_group_request *q = &c->req.sync_group;
	vs_broker *b = c->b;
	int ret;
	if (!group_read_ok(c, q->group_id, &ret))
		return ret;
	if (!vs_group_id_ok(q->group_id))
		return vs_reply_error(c, KE_INVALID_GROUP_ID) ? VS_CLOSE : VS_REPLY;
	size_t n = q->assignments.n > 0 ? (size_t)q->assignments.n : 0;
	vs_sync_assignment *as = vs_call_alloc(c, n, sizeof *as);
	if (!as)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++)
		as[i] = (vs_sync_assignment){ q->assignments.v[i].member_id,
					      q->assignments.v[i].assignment };
	vs_sync_req sr = {
		.group_id = q->group_id,
		.member_id = nonnull(q->member_id),
		.group_instance_id = c->version >= 3 ? q->group_instance_id : VS_SLICE_NULL,
		.protocol_type = VS_SLICE_NULL,
		.protocol_name = VS_SLICE_NULL,
		.generation_id = q->generation_id,
		.assignments = as,
		.assignment_count = n,
	};
	vs_call_hold(c);
	vs_coord_sync(b->coord, &sr, vs_loop_now_ms(b->loop), sync_done, c);
	vs_coord_timer_update(b);
	return VS_DEFER;
}

/* ---- Heartbeat, LeaveGroup ------------------------------------------------------------ */

int vs_h_heartbeat(vs_call *c)
{
	vs_heartbeat_request *q = &c->req.heartbeat;
	int16_t err = KE_INVALID_GROUP_ID;
	int ret;
	if (!group_read_ok(c, q->group_id, &ret))
		return ret;
	if (vs_group_id_ok(q->group_id))
		err = vs_coord_heartbeat(c->b->coord, q->group_id, nonnull(q->member_id),
					 c->version >= 3 ? q->group_instance_id : VS_SLICE_NULL,
					 q->generation_id, now_ms(c));
	c->resp.heartbeat.error_code = err;
	vs_coord_timer_update(c->b);
	return VS_REPLY;
}

int vs_h_leave_group(vs_call *c)
{
	vs_leave_group_request *q = &c->req.leave_group;
	int16_t err = KE_INVALID_GROUP_ID;
	int ret;
	if (!group_read_ok(c, q->group_id, &ret))
		return ret;
	if (vs_group_id_ok(q->group_id)) {
		vs_leave_member m = { nonnull(q->member_id), VS_SLICE_NULL, 0 };
		err = vs_coord_leave(c->b->coord, q->group_id, &m, 1, now_ms(c));
		/* one member (v0-v2): its error is the answer's */
		if (err == KE_NONE)
			err = m.error;
	}
	c->resp.leave_group.error_code = err;
	vs_coord_timer_update(c->b);
	return VS_REPLY;
}

/* ---- store groups ----------------------------------------------------------------------- */

/* The store's group names (sorted) into c->strv; 0, or a store error. */
static int store_groups(vs_call *c)
{
	if (c->strv)
		return 0;
	return varve_group_list(c->b->db, &c->strv, &c->strc);
}

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* 1 if the store has commits of the group (store_groups called first). */
static int store_has(vs_call *c, vs_slice id)
{
	char name[VARVE_MAX_GROUP_NAME + 1];
	if (!c->strv || vs_slice_cstr(id, name, sizeof name))
		return 0;
	return bsearch(name, c->strv, c->strc, sizeof *c->strv, cmp_name) != NULL;
}

/* ---- OffsetCommit -------------------------------------------------------------------------- */

typedef struct commit_item {
	vs_offset_commit_partition_response *out;
	const char *topic;
	int32_t partition;
	int64_t offset;
	const char *metadata;
} commit_item;

typedef struct commit_state {
	const char *group;
	commit_item *v;
	size_t n;
} commit_state;

/* Kafka's offset.metadata.max.bytes, and the store's limit. */
#define MAX_COMMIT_METADATA 4096

static int16_t commit_error(int rc)
{
	switch (rc) {
	case VARVE_OK:
		return KE_NONE;
	case VARVE_ENOTFOUND:
		return KE_UNKNOWN_TOPIC_OR_PARTITION;
	case VARVE_EOFFSET:
		return KE_OFFSET_OUT_OF_RANGE;
	case VARVE_EINVAL:
		return KE_INVALID_COMMIT_OFFSET_SIZE;
	default:
		/* storage trouble: retriable for the client, as in Kafka */
		return KE_COORDINATOR_NOT_AVAILABLE;
	}
}

/* One metadata batch for the whole request: all or nothing. */
static void commit_run(vs_call *c)
{
	commit_state *st = c->state;
	varve_commit_item *items = calloc(st->n, sizeof *items);
	int rc = items ? VARVE_OK : VARVE_ENOMEM;
	for (size_t i = 0; items && i < st->n; i++)
		items[i] = (varve_commit_item){ st->v[i].topic, st->v[i].partition, st->v[i].offset,
						st->v[i].metadata };
	if (items)
		rc = varve_group_commit_many(c->b->db, st->group, items, st->n);
	free(items);
	for (size_t i = 0; i < st->n; i++)
		st->v[i].out->error_code = commit_error(rc);
}

static void commit_done(vs_call *c)
{
	vs_call_reply(c);
}

/* Check one partition's commit; queue it in st when it may go ahead. */
static int commit_one(vs_call *c, const char *topic, uint32_t parts, const vs_offset_commit_partition *p,
		      vs_offset_commit_partition_response *out, commit_state *st)
{
	if (!topic || p->partition_index < 0 || (uint32_t)p->partition_index >= parts) {
		out->error_code = KE_UNKNOWN_TOPIC_OR_PARTITION;
		return 0;
	}
	/* the store holds offsets within the log only: refuse others here, per
	 * partition, so the rest of the request can still commit */
	int64_t end;
	if (varve_offsets(c->b->db, topic, p->partition_index, NULL, &end) != VARVE_OK ||
	    p->committed_offset < 0 || p->committed_offset > end) {
		out->error_code = KE_OFFSET_OUT_OF_RANGE;
		return 0;
	}
	vs_slice md = p->committed_metadata;
	if (md.len > MAX_COMMIT_METADATA) {
		out->error_code = KE_OFFSET_METADATA_TOO_LARGE;
		return 0;
	}
	const char *meta = NULL;
	if (md.ptr && !(meta = vs_call_cstr(c, md, MAX_COMMIT_METADATA))) {
		if (memchr(md.ptr, 0, md.len)) {
			/* the store keeps metadata as text */
			out->error_code = KE_INVALID_COMMIT_OFFSET_SIZE;
			return 0;
		}
		return -1;
	}
	st->v[st->n++] = (commit_item){ out, topic, p->partition_index, p->committed_offset, meta };
	return 0;
}

static size_t commit_count(const vs_offset_commit_request *q)
{
	size_t n = 0;
	for (int32_t t = 0; t < q->topics.n; t++)
		n += q->topics.v[t].partitions.n > 0 ? (size_t)q->topics.v[t].partitions.n : 0;
	return n;
}

int vs_h_offset_commit(vs_call *c)
{
	vs_offset_commit_request *q = &c->req.offset_commit;
	vs_offset_commit_response *r = &c->resp.offset_commit;
	int16_t err = KE_INVALID_GROUP_ID;
	int ret;
	if (!group_read_ok(c, q->group_id, &ret))
		return ret;
	if (vs_group_id_ok(q->group_id))
		err = vs_coord_commit_check(c->b->coord, q->group_id,
					    c->version >= 1 ? q->generation_id_or_member_epoch : -1,
					    c->version >= 1 ? nonnull(q->member_id) : EMPTY,
					    c->version >= 7 ? q->group_instance_id : VS_SLICE_NULL,
					    now_ms(c));
	if (vs_reply_error(c, err))
		return VS_CLOSE;
	if (err)
		return VS_REPLY;
	commit_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (!st || !(st->v = vs_call_alloc(c, commit_count(q), sizeof *st->v)) ||
	    !(st->group = vs_call_cstr(c, q->group_id, VARVE_MAX_GROUP_NAME)))
		return VS_CLOSE;
	for (int32_t t = 0; t < q->topics.n; t++) {
		vs_offset_commit_topic *qt = &q->topics.v[t];
		if (!vs_authorize(c, VS_OP_READ, VS_RES_TOPIC, qt->name)) {
			for (int32_t p = 0; p < qt->partitions.n; p++)
				r->topics.v[t].partitions.v[p].error_code = KE_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		char buf[VARVE_MAX_TOPIC_NAME + 1];
		uint32_t parts = vs_topic_partitions(c->b, qt->name, buf, sizeof buf);
		const char *topic = parts ? vs_call_cstr(c, qt->name, VARVE_MAX_TOPIC_NAME) : NULL;
		for (int32_t p = 0; p < qt->partitions.n; p++)
			if (commit_one(c, topic, parts, &qt->partitions.v[p], &r->topics.v[t].partitions.v[p],
				       st))
				return VS_CLOSE;
	}
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, commit_run, commit_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i].out->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}

/* ---- OffsetFetch ------------------------------------------------------------------------------ */

static void fetched(vs_offset_fetch_partition_response *out, int32_t partition, int64_t offset,
		    vs_slice metadata)
{
	out->partition_index = partition;
	out->committed_offset = offset;
	out->committed_leader_epoch = -1;
	out->metadata = metadata;
	out->error_code = KE_NONE;
}

/* The committed offset (and metadata) of one partition: -1 and "" if none
 * (Kafka's answer for a partition without a commit, even of a topic that
 * does not exist). */
static void fetch_one(vs_call *c, const char *group, const char *topic, int32_t partition,
		      vs_offset_fetch_partition_response *out)
{
	int64_t off = -1;
	vs_slice md = EMPTY;
	if (topic) {
		varve_commit_info info = { VARVE_COMMIT_INFO_VERSION };
		if (varve_group_committed(c->b->db, group, topic, partition, &info) == VARVE_OK) {
			off = info.offset;
			md = vs_call_str(c, info.metadata);
		}
	}
	fetched(out, partition, off, md.ptr ? md : EMPTY);
}

/* Every partition of every topic the group has a commit in: the store's
 * list is sorted by topic, then partition. */
static int fetch_all(vs_call *c, const char *group)
{
	vs_offset_fetch_response *r = &c->resp.offset_fetch;
	varve_commit_info *v = NULL;
	size_t n = 0;
	int src = varve_group_commits(c->b->db, group, &v, &n);
	if (src == VARVE_ENOTFOUND)
		return 0; /* no such group: nothing committed */
	if (src != VARVE_OK) {
		r->error_code = KE_COORDINATOR_NOT_AVAILABLE;
		return 0;
	}
	int rc = (r->topics.v = vs_call_alloc(c, n, sizeof *r->topics.v)) ? 0 : -1;
	vs_offset_fetch_topic_response *t = NULL;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		vs_slice topic = { (const uint8_t *)v[i].topic, strlen(v[i].topic) };
		if (!vs_authorized(c, VS_OP_DESCRIBE, VS_RES_TOPIC, topic))
			continue;
		if (!t || !vs_slice_eq(t->name, v[i].topic)) {
			t = &r->topics.v[r->topics.n++];
			t->name = vs_call_str(c, v[i].topic);
			t->partitions.v = vs_call_alloc(c, n - i, sizeof *t->partitions.v);
			if (!t->name.ptr || !t->partitions.v)
				rc = -1;
		}
		vs_slice md = vs_call_str(c, v[i].metadata);
		if (rc == 0 && !md.ptr)
			rc = -1;
		if (rc == 0)
			fetched(&t->partitions.v[t->partitions.n++], v[i].partition, v[i].offset, md);
	}
	varve_commits_free(v, n);
	return rc;
}

int vs_h_offset_fetch(vs_call *c)
{
	vs_offset_fetch_request *q = &c->req.offset_fetch;
	vs_offset_fetch_response *r = &c->resp.offset_fetch;
	if (!vs_authorize(c, VS_OP_DESCRIBE, VS_RES_GROUP, q->group_id))
		return vs_reply_error(c, KE_GROUP_AUTHORIZATION_FAILED) ? VS_CLOSE : VS_REPLY;
	if (!vs_group_id_ok(q->group_id))
		return vs_reply_error(c, KE_INVALID_GROUP_ID) ? VS_CLOSE : VS_REPLY;
	char *group = vs_call_cstr(c, q->group_id, VARVE_MAX_GROUP_NAME);
	if (!group)
		return VS_CLOSE;
	if (q->topics.n < 0)
		return fetch_all(c, group) ? VS_CLOSE : VS_REPLY;
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	for (int32_t t = 0; t < q->topics.n; t++) {
		vs_offset_fetch_topic *qt = &q->topics.v[t];
		if (!vs_authorize(c, VS_OP_DESCRIBE, VS_RES_TOPIC, qt->name)) {
			/* Kafka's answer: no offset, no metadata, the error */
			for (int32_t p = 0; p < qt->partition_indexes.n; p++)
				r->topics.v[t].partitions.v[p].error_code = KE_TOPIC_AUTHORIZATION_FAILED;
			continue;
		}
		char *topic = qt->name.len <= VARVE_MAX_TOPIC_NAME ? vs_call_cstr(c, qt->name, VARVE_MAX_TOPIC_NAME)
								   : NULL;
		for (int32_t p = 0; p < qt->partition_indexes.n; p++)
			fetch_one(c, group, topic, qt->partition_indexes.v[p],
				  &r->topics.v[t].partitions.v[p]);
	}
	return VS_REPLY;
}

/* ---- ListGroups --------------------------------------------------------------------------------- */

typedef struct list_ctx {
	vs_call *c;
	vs_list_groups_group *v;
	int32_t n, cap;
	int failed;
	bool every_group; /* DESCRIBE on the cluster: no group is left out */
} list_ctx;

static bool may_list(list_ctx *lc, vs_slice group_id)
{
	return lc->every_group || vs_authorized(lc->c, VS_OP_DESCRIBE, VS_RES_GROUP, group_id);
}

static void list_one(void *ctx, const vs_group_overview *g)
{
	list_ctx *lc = ctx;
	if (!may_list(lc, g->group_id))
		return;
	if (lc->n >= lc->cap) {
		lc->failed = 1;
		return;
	}
	vs_list_groups_group *o = &lc->v[lc->n++];
	/* borrowed until we return */
	o->group_id = vs_call_slice(lc->c, g->group_id);
	o->protocol_type = vs_call_slice(lc->c, g->protocol_type);
	o->group_state = vs_call_str(lc->c, vs_group_state_name(g->state));
	if (!o->group_id.ptr || !o->protocol_type.ptr || !o->group_state.ptr)
		lc->failed = 1;
}

static int state_wanted(const vs_list_groups_request *q, int state)
{
	if (q->states_filter.n <= 0)
		return 1;
	for (int32_t i = 0; i < q->states_filter.n; i++)
		if (vs_group_state_parse(q->states_filter.v[i]) == state)
			return 1;
	return 0;
}

int vs_h_list_groups(vs_call *c)
{
	vs_list_groups_request *q = &c->req.list_groups;
	vs_list_groups_response *r = &c->resp.list_groups;
	vs_coord_stats st;
	vs_coord_stats_get(c->b->coord, &st);
	if (store_groups(c)) {
		r->error_code = KE_COORDINATOR_NOT_AVAILABLE;
		return VS_REPLY;
	}
	list_ctx lc = { c, NULL, 0, 0, 0,
			vs_authorized(c, VS_OP_DESCRIBE, VS_RES_CLUSTER, VS_SLICE_NULL) };
	uint64_t cap = st.group_count + c->strc;
	if (cap > INT32_MAX || !(lc.v = vs_call_alloc(c, (size_t)cap, sizeof *lc.v)))
		return VS_CLOSE;
	lc.cap = (int32_t)cap;
	vs_coord_list(c->b->coord, q->states_filter.v, q->states_filter.n > 0 ? (size_t)q->states_filter.n : 0,
		      list_one, &lc);
	if (lc.failed)
		return VS_CLOSE;
	/* groups only the store knows, by their commits, are Empty */
	for (size_t i = 0; i < c->strc && state_wanted(q, VS_GROUP_EMPTY); i++) {
		vs_slice id = { (const uint8_t *)c->strv[i], strlen(c->strv[i]) };
		vs_group_info info;
		if (vs_coord_group_info(c->b->coord, id, &info) || !may_list(&lc, id))
			continue;
		lc.v[lc.n++] = (vs_list_groups_group){ id, EMPTY, vs_call_str(c, "Empty") };
	}
	r->groups.v = lc.v;
	r->groups.n = lc.n;
	return VS_REPLY;
}

/* ---- DescribeGroups ------------------------------------------------------------------------------ */

typedef struct describe_ctx {
	vs_call *c;
	vs_describe_groups_group *out;
	int failed;
} describe_ctx;

static int copy_member(vs_call *c, vs_describe_groups_member *o, const vs_member_description *m)
{
	o->member_id = vs_call_slice(c, m->member_id);
	o->group_instance_id = m->group_instance_id.ptr ? vs_call_slice(c, m->group_instance_id)
							: VS_SLICE_NULL;
	o->client_id = vs_call_slice(c, m->client_id);
	o->client_host = vs_call_slice(c, m->client_host);
	o->member_metadata = vs_call_slice(c, m->metadata);
	o->member_assignment = vs_call_slice(c, m->assignment);
	return o->member_id.ptr && o->client_id.ptr && o->client_host.ptr && o->member_metadata.ptr &&
			       o->member_assignment.ptr && (o->group_instance_id.ptr || !m->group_instance_id.ptr)
		       ? 0
		       : -1;
}

static void describe_one(void *ctx, const vs_group_description *d)
{
	describe_ctx *dc = ctx;
	vs_call *c = dc->c;
	vs_describe_groups_group *o = dc->out;
	o->protocol_type = EMPTY;
	o->protocol_data = EMPTY;
	if (!d->known) {
		/* Kafka (v0-v5): an unknown group is Dead, without an error */
		o->group_state = vs_call_str(c, store_has(c, o->group_id) ? "Empty" : "Dead");
		dc->failed = !o->group_state.ptr;
		return;
	}
	o->group_state = vs_call_str(c, vs_group_state_name(d->state));
	o->protocol_type = vs_call_slice(c, d->protocol_type);
	o->protocol_data = vs_call_slice(c, d->protocol_data);
	o->members.v = vs_call_alloc(c, d->member_count, sizeof *o->members.v);
	if (!o->group_state.ptr || !o->protocol_type.ptr || !o->protocol_data.ptr || !o->members.v) {
		dc->failed = 1;
		return;
	}
	for (size_t i = 0; i < d->member_count; i++)
		if (copy_member(c, &o->members.v[i], &d->members[i]))
			dc->failed = 1;
	o->members.n = (int32_t)d->member_count;
}

int vs_h_describe_groups(vs_call *c)
{
	vs_describe_groups_response *r = &c->resp.describe_groups;
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	/* without the list, groups known only by their commits show as Dead */
	(void)store_groups(c);
	bool with_ops = c->version >= 3 && c->req.describe_groups.include_authorized_operations;
	for (int32_t i = 0; i < r->groups.n; i++) {
		vs_describe_groups_group *o = &r->groups.v[i];
		if (!vs_authorize(c, VS_OP_DESCRIBE, VS_RES_GROUP, o->group_id)) {
			o->error_code = KE_GROUP_AUTHORIZATION_FAILED;
			continue;
		}
		if (with_ops)
			o->authorized_operations = vs_authorized_operations(c, VS_RES_GROUP, o->group_id);
		if (!vs_group_id_ok(o->group_id)) {
			o->error_code = KE_INVALID_GROUP_ID;
			continue;
		}
		describe_ctx dc = { c, o, 0 };
		int16_t err = vs_coord_describe(c->b->coord, o->group_id, describe_one, &dc);
		if (dc.failed)
			return VS_CLOSE;
		o->error_code = err;
	}
	return VS_REPLY;
}

/* ---- DeleteGroups ---------------------------------------------------------------------------------- */

typedef struct delete_state {
	vs_delete_groups_result **v; /* results whose stored commits go */
	size_t n;
} delete_state;

static void delete_groups_run(vs_call *c)
{
	delete_state *st = c->state;
	for (size_t i = 0; i < st->n; i++) {
		char name[VARVE_MAX_GROUP_NAME + 1];
		vs_delete_groups_result *res = st->v[i];
		int rc = vs_slice_cstr(res->group_id, name, sizeof name) ? VARVE_EINVAL
						: varve_group_delete(c->b->db, name);
		res->error_code = rc == VARVE_OK || rc == VARVE_ENOTFOUND ? KE_NONE
				: rc == VARVE_EBUSY ? KE_NON_EMPTY_GROUP
						    : KE_COORDINATOR_NOT_AVAILABLE;
	}
}

static void delete_groups_done(vs_call *c)
{
	vs_call_reply(c);
}

int vs_h_delete_groups(vs_call *c)
{
	vs_delete_groups_response *r = &c->resp.delete_groups;
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	if (store_groups(c))
		return vs_reply_error(c, KE_COORDINATOR_NOT_AVAILABLE) ? VS_CLOSE : VS_REPLY;
	delete_state *st = vs_call_alloc(c, 1, sizeof *st);
	if (!st || !(st->v = vs_call_alloc(c, (size_t)r->results.n, sizeof *st->v)))
		return VS_CLOSE;
	for (int32_t i = 0; i < r->results.n; i++) {
		vs_delete_groups_result *res = &r->results.v[i];
		if (!vs_authorize(c, VS_OP_DELETE, VS_RES_GROUP, res->group_id)) {
			res->error_code = KE_GROUP_AUTHORIZATION_FAILED;
			continue;
		}
		if (!vs_group_id_ok(res->group_id)) {
			res->error_code = KE_INVALID_GROUP_ID;
			continue;
		}
		int has = store_has(c, res->group_id);
		res->error_code = vs_coord_delete(c->b->coord, res->group_id, has);
		if (res->error_code == KE_NONE && has)
			st->v[st->n++] = res;
	}
	vs_coord_timer_update(c->b);
	if (st->n == 0)
		return VS_REPLY;
	c->state = st;
	if (vs_call_submit(c, delete_groups_run, delete_groups_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < st->n; i++)
		st->v[i]->error_code = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}
