/* SPDX-License-Identifier: MIT */
/*
 * coord.c -- the group state machine (coord.h): JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, the OffsetCommit check, forget and expiry. It follows
 * Kafka's GroupCoordinator (the classic protocol) rule by rule; where it
 * differs, the comment says so and why.
 *
 * Time: a member's session ends at m->deadline, refreshed by every valid
 * call. A member waiting for the others (held join, not new) or for the
 * leader (held sync) does not expire; a new member's held join expires after
 * new_member_join_timeout_ms (Kafka's NewMemberJoinTimeoutMs), since a client
 * that gave up on it would otherwise leave a defunct member behind. Group
 * deadlines: rebalance_deadline (the join phase, or the initial delay),
 * sync_deadline (members that never send SyncGroup after a generation are
 * removed, Kafka's DelayedSync), the Empty group TTL. vs_coord_tick visits
 * only groups whose lower bound `lb` is due.
 *
 * Callbacks are answered through call_join / call_sync, which clear the held
 * callback before calling it, so none can run twice. This file calls group.c
 * and nothing outside the coordinator.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "coord_int.h"

static const uint8_t empty_bytes[1];
#define EMPTY_SLICE ((vs_slice){ empty_bytes, 0 })

static vs_slice nonnull(vs_slice s)
{
	return s.ptr ? s : EMPTY_SLICE;
}

static vs_slice group_type(const vs_group *g)
{
	return g->has_protocol_type ? (vs_slice){ g->protocol_type, g->protocol_type_len }
				    : VS_SLICE_NULL;
}

static vs_slice group_protocol(const vs_group *g)
{
	return g->has_protocol_name ? (vs_slice){ g->protocol_name, g->protocol_name_len }
				    : VS_SLICE_NULL;
}

static void set_state(vs_group *g, int state, int64_t now)
{
	g->state = state;
	g->state_since = now;
}

/* ---- configuration ---------------------------------------------------------- */

static void fill_defaults(vs_coord_config *cfg)
{
	if (cfg->min_session_timeout_ms <= 0)
		cfg->min_session_timeout_ms = 6000;
	if (cfg->max_session_timeout_ms <= 0)
		cfg->max_session_timeout_ms = 1800000;
	if (cfg->initial_rebalance_delay_ms < 0)
		cfg->initial_rebalance_delay_ms = 0;
	if (cfg->new_member_join_timeout_ms <= 0)
		cfg->new_member_join_timeout_ms = 300000;
	if (cfg->empty_group_ttl_ms <= 0)
		cfg->empty_group_ttl_ms = 600000;
	if (cfg->max_group_size == 0)
		cfg->max_group_size = 1000;
	if (cfg->max_groups == 0)
		cfg->max_groups = 10000;
	if (cfg->max_group_id_len == 0)
		cfg->max_group_id_len = 255;
	if (cfg->max_protocols == 0)
		cfg->max_protocols = 32;
	if (cfg->max_metadata_bytes == 0)
		cfg->max_metadata_bytes = 1u << 20;
	if (cfg->max_assignment_bytes == 0)
		cfg->max_assignment_bytes = 1u << 20;
	if (cfg->max_total_bytes == 0)
		cfg->max_total_bytes = 256u << 20;
}

vs_coord *vs_coord_new(const vs_coord_config *cfg)
{
	vs_coord_config conf = cfg ? *cfg : (vs_coord_config){ 0 };
	fill_defaults(&conf);
	if (conf.min_session_timeout_ms > conf.max_session_timeout_ms ||
	    conf.max_group_id_len > 32767)
		return NULL;
	vs_coord *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cfg = conf;
	c->nbuckets = 64;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	uint64_t seed = conf.seed;
	if (!seed && getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
		seed = (uint64_t)(uintptr_t)c ^ 0x5DEECE66Dull; /* ids stay unique anyway */
	c->rng = seed;
	c->hash_key = seed * 0x9E3779B97F4A7C15ull;
	c->lb = VS_NEVER;
	return c;
}

void vs_coord_free(vs_coord *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++)
		while (c->buckets[i])
			vs_group_destroy(c, c->buckets[i]);
	free(c->buckets);
	free(c->join_rows);
	free(c->desc_rows);
	free(c);
}

/* ---- callbacks -------------------------------------------------------------- */

static void call_join(vs_coord *c, vs_group *g, vs_member *m, const vs_join_result *r)
{
	vs_join_done cb = m->join_cb;
	void *ctx = m->join_ctx;
	if (!cb)
		return;
	m->join_cb = NULL;
	m->join_ctx = NULL;
	c->held--;
	g->held--;
	c->in_callback++;
	cb(ctx, r);
	c->in_callback--;
}

static void call_sync(vs_coord *c, vs_group *g, vs_member *m, const vs_sync_result *r)
{
	vs_sync_done cb = m->sync_cb;
	void *ctx = m->sync_ctx;
	if (!cb)
		return;
	m->sync_cb = NULL;
	m->sync_ctx = NULL;
	c->held--;
	g->held--;
	c->in_callback++;
	cb(ctx, r);
	c->in_callback--;
}

static void hold_join(vs_coord *c, vs_group *g, vs_member *m, vs_join_done cb, void *ctx)
{
	m->join_cb = cb;
	m->join_ctx = ctx;
	c->held++;
	g->held++;
}

static void hold_sync(vs_coord *c, vs_group *g, vs_member *m, vs_sync_done cb, void *ctx)
{
	m->sync_cb = cb;
	m->sync_ctx = ctx;
	c->held++;
	g->held++;
}

/* An error answer: no generation, no protocol, no leader. */
static vs_join_result join_error_result(vs_slice member_id, int16_t err)
{
	return (vs_join_result){ .error = err, .generation_id = -1,
				 .leader = EMPTY_SLICE, .member_id = nonnull(member_id) };
}

static void answer_join_error(vs_coord *c, vs_join_done cb, void *ctx, vs_slice member_id,
			      int16_t err)
{
	vs_join_result r = join_error_result(member_id, err);
	c->in_callback++;
	cb(ctx, &r);
	c->in_callback--;
}

static void answer_sync_error(vs_coord *c, vs_sync_done cb, void *ctx, int16_t err)
{
	vs_sync_result r = { .error = err, .assignment = EMPTY_SLICE };
	c->in_callback++;
	cb(ctx, &r);
	c->in_callback--;
}

static void fail_held_join(vs_coord *c, vs_group *g, vs_member *m, vs_slice member_id,
			   int16_t err)
{
	vs_join_result r = join_error_result(member_id, err);
	call_join(c, g, m, &r);
}

static void fail_held_sync(vs_coord *c, vs_group *g, vs_member *m, int16_t err)
{
	vs_sync_result r = { .error = err, .assignment = EMPTY_SLICE };
	call_sync(c, g, m, &r);
}

/* The members and their metadata for the chosen protocol, for the leader. */
static size_t leader_rows(vs_coord *c, const vs_group *g)
{
	vs_slice proto = group_protocol(g);
	for (size_t i = 0; i < g->nmembers; i++) {
		const vs_member *m = g->members[i];
		int k = vs_protoset_find(m->protos, proto);
		c->join_rows[i] = (vs_join_member){
			.member_id = vs_own_slice(m->id),
			.group_instance_id = vs_own_slice(m->instance_id),
			.metadata = k >= 0 ? nonnull(m->protos->p[k].metadata) : EMPTY_SLICE,
		};
	}
	return g->nmembers;
}

/* The current generation as m sees it (members only if it leads). */
static vs_join_result current_generation(vs_coord *c, const vs_group *g, const vs_member *m)
{
	vs_join_result r = {
		.error = KE_NONE,
		.generation_id = g->generation,
		.protocol_type = nonnull(group_type(g)),
		.protocol_name = nonnull(group_protocol(g)),
		.leader = g->leader ? vs_own_slice(g->leader->id) : EMPTY_SLICE,
		.member_id = vs_own_slice(m->id),
	};
	if (g->leader == m) {
		r.members = c->join_rows;
		r.member_count = leader_rows(c, g);
	}
	return r;
}

/* ---- sessions ----------------------------------------------------------------- */

/* A new member waiting in its first join gets the long join timeout; every
 * other valid call refreshes the session. */
static void keep_alive(vs_coord *c, vs_group *g, vs_member *m, int64_t now)
{
	int32_t ms = m->is_new && m->join_cb ? c->cfg.new_member_join_timeout_ms
					     : m->session_timeout_ms;
	m->deadline = vs_deadline_after(now, ms);
	vs_coord_arm(c, g, m->deadline);
}

/* When m expires, or NEVER while it waits for the others or the leader. */
static int64_t member_due(const vs_member *m)
{
	if (m->sync_cb || (m->join_cb && !m->is_new))
		return VS_NEVER;
	return m->deadline;
}

static int64_t empty_ttl_due(const vs_coord *c, const vs_group *g)
{
	if (g->state != VS_GROUP_EMPTY || g->npending)
		return VS_NEVER;
	return vs_deadline_after(g->state_since, c->cfg.empty_group_ttl_ms);
}

static void drop_pending(vs_coord *c, vs_group *g, size_t index)
{
	vs_group_drop_pending(c, g, index);
	vs_coord_arm(c, g, empty_ttl_due(c, g));
}

/* ---- rebalance ------------------------------------------------------------------ */

static void propagate_sync(vs_coord *c, vs_group *g, int16_t err, int64_t now)
{
	for (size_t i = 0; i < g->nmembers; i++) {
		vs_member *m = g->members[i];
		if (!m->sync_cb)
			continue;
		vs_sync_result r = { .error = err, .assignment = EMPTY_SLICE };
		if (err == KE_NONE) {
			r.protocol_type = nonnull(group_type(g));
			r.protocol_name = nonnull(group_protocol(g));
			r.assignment = nonnull(vs_own_slice(m->assignment));
		}
		/* Kafka restarts the session of every member it answers. */
		m->deadline = vs_deadline_after(now, m->session_timeout_ms);
		vs_coord_arm(c, g, m->deadline);
		call_sync(c, g, m, &r);
	}
}

static void reset_and_propagate(vs_coord *c, vs_group *g, int16_t err, int64_t now)
{
	for (size_t i = 0; i < g->nmembers; i++) {
		vs_own_free(&g->members[i]->assignment);
		vs_member_account(c, g->members[i]);
	}
	propagate_sync(c, g, err, now);
}

static int all_joined(const vs_group *g)
{
	if (g->npending)
		return 0;
	for (size_t i = 0; i < g->nmembers; i++)
		if (!g->members[i]->join_cb)
			return 0;
	return 1;
}

static vs_member *first_joined(const vs_group *g)
{
	for (size_t i = 0; i < g->nmembers; i++)
		if (g->members[i]->join_cb)
			return g->members[i];
	return NULL;
}

static int32_t next_generation(int32_t gen)
{
	/* Never negative: -1 means "no generation" in commits. */
	return gen == INT32_MAX ? 1 : gen + 1;
}

/* A new generation with the members that rejoined (Kafka's onCompleteJoin). */
static void complete_join(vs_coord *c, vs_group *g, int64_t now)
{
	/* Dynamic members that did not rejoin in time are out; static ones
	 * stay until their session ends (KIP-345). */
	for (size_t i = g->nmembers; i-- > 0;) {
		if (!g->members[i]->join_cb && !g->members[i]->instance_id.p) {
			c->stats.removed_at_rebalance++;
			vs_group_drop_member(c, g, i);
		}
	}
	if (g->nmembers && !g->leader->join_cb) {
		vs_member *joined = first_joined(g);
		if (!joined) {
			/* Only static members that have not rejoined are left:
			 * give them another round (they expire meanwhile if they
			 * are gone). */
			int32_t rt = vs_group_rebalance_timeout(g);
			g->rebalance_deadline =
				vs_deadline_after(now, rt > 0 ? rt : c->cfg.min_session_timeout_ms);
			g->delay_phase = 0;
			vs_coord_arm(c, g, g->rebalance_deadline);
			return;
		}
		g->leader = joined;
	}
	g->generation = next_generation(g->generation);
	c->stats.generations++;
	g->delay_phase = 0;
	g->rebalance_deadline = VS_NEVER;
	g->has_protocol_name = 0;
	vs_slice proto;
	if (!g->nmembers || vs_group_select_protocol(g, &proto)) {
		set_state(g, VS_GROUP_EMPTY, now);
		vs_coord_arm(c, g, empty_ttl_due(c, g));
		return;
	}
	memcpy(g->protocol_name, proto.ptr, proto.len);
	g->protocol_name_len = proto.len;
	g->has_protocol_name = 1;
	set_state(g, VS_GROUP_COMPLETING_REBALANCE, now);
	for (size_t i = 0; i < g->nmembers; i++) {
		vs_member *m = g->members[i];
		m->is_new = 0;
		m->pending_sync = 1;
		m->deadline = vs_deadline_after(now, m->session_timeout_ms);
		vs_coord_arm(c, g, m->deadline);
	}
	g->sync_deadline = vs_deadline_after(now, vs_group_rebalance_timeout(g));
	vs_coord_arm(c, g, g->sync_deadline);
	for (size_t i = 0; i < g->nmembers; i++) {
		vs_member *m = g->members[i];
		if (!m->join_cb)
			continue;
		vs_join_result r = current_generation(c, g, m);
		call_join(c, g, m, &r);
	}
}

/* Complete the join phase if it is due: everyone rejoined, or time is up.
 * During a new group's initial delay only time counts, and a member joining
 * within it extends it (up to the rebalance timeout), as Kafka's
 * InitialDelayedJoin does. Kafka extends only in generation 0; here every
 * start from Empty gets the delay, which is what it is for. */
static void maybe_complete_join(vs_coord *c, vs_group *g, int64_t now)
{
	if (g->state != VS_GROUP_PREPARING_REBALANCE)
		return;
	if (g->delay_phase) {
		if (now < g->rebalance_deadline)
			return;
		if (g->new_member_added && g->delay_remaining_ms > 0) {
			int64_t d = c->cfg.initial_rebalance_delay_ms;
			if (d > g->delay_remaining_ms)
				d = g->delay_remaining_ms;
			g->delay_remaining_ms -= d;
			g->new_member_added = 0;
			g->rebalance_deadline = vs_deadline_after(now, d);
			vs_coord_arm(c, g, g->rebalance_deadline);
			return;
		}
		complete_join(c, g, now);
		return;
	}
	if (now >= g->rebalance_deadline || all_joined(g))
		complete_join(c, g, now);
}

static void prepare_rebalance(vs_coord *c, vs_group *g, int64_t now)
{
	/* Held syncs are cancelled: their members must rejoin. */
	if (g->state == VS_GROUP_COMPLETING_REBALANCE)
		reset_and_propagate(c, g, KE_REBALANCE_IN_PROGRESS, now);
	for (size_t i = 0; i < g->nmembers; i++)
		g->members[i]->pending_sync = 0;
	g->sync_deadline = VS_NEVER;
	int32_t rt = vs_group_rebalance_timeout(g);
	if (g->state == VS_GROUP_EMPTY) {
		int32_t delay = c->cfg.initial_rebalance_delay_ms;
		g->delay_phase = 1;
		g->new_member_added = 0;
		g->rebalance_deadline = vs_deadline_after(now, delay);
		g->delay_remaining_ms = rt > delay ? (int64_t)rt - delay : 0;
	} else {
		g->delay_phase = 0;
		g->rebalance_deadline = vs_deadline_after(now, rt);
	}
	set_state(g, VS_GROUP_PREPARING_REBALANCE, now);
	c->stats.rebalances++;
	vs_coord_arm(c, g, g->rebalance_deadline);
	maybe_complete_join(c, g, now);
}

static void maybe_prepare_rebalance(vs_coord *c, vs_group *g, int64_t now)
{
	if (g->state == VS_GROUP_STABLE || g->state == VS_GROUP_COMPLETING_REBALANCE ||
	    g->state == VS_GROUP_EMPTY)
		prepare_rebalance(c, g, now);
}

/* A member leaves (LeaveGroup, expiry): answer what it holds, drop it, and
 * rebalance or finish the join phase without it. */
static void remove_member(vs_coord *c, vs_group *g, size_t index, int64_t now)
{
	vs_member *m = g->members[index];
	fail_held_join(c, g, m, EMPTY_SLICE, KE_UNKNOWN_MEMBER_ID);
	fail_held_sync(c, g, m, KE_UNKNOWN_MEMBER_ID);
	vs_group_drop_member(c, g, index);
	if (g->state == VS_GROUP_STABLE || g->state == VS_GROUP_COMPLETING_REBALANCE)
		prepare_rebalance(c, g, now);
	else
		maybe_complete_join(c, g, now);
}

/* ---- member checks ----------------------------------------------------------- */

static int16_t check_group_id(const vs_coord *c, vs_slice id, int allow_empty)
{
	if (id.len > c->cfg.max_group_id_len || (!allow_empty && id.len == 0))
		return KE_INVALID_GROUP_ID;
	return KE_NONE;
}

/* Kafka's validateCurrentMember: with an instance id, it must name a static
 * member whose current id is member_id (else fenced); without, member_id
 * must be a member. */
static int16_t current_member(const vs_group *g, vs_slice member_id, vs_slice instance_id,
			      vs_member **out)
{
	vs_member *m;
	if (instance_id.ptr) {
		m = vs_group_static(g, instance_id);
		if (!m)
			return KE_UNKNOWN_MEMBER_ID;
		if (!vs_own_eq(m->id, nonnull(member_id)))
			return KE_FENCED_INSTANCE_ID;
	} else {
		m = vs_group_member(g, member_id, NULL);
		if (!m)
			return KE_UNKNOWN_MEMBER_ID;
	}
	*out = m;
	return KE_NONE;
}

static size_t index_of(const vs_group *g, const vs_member *m)
{
	size_t i = 0;
	while (g->members[i] != m)
		i++;
	return i;
}

/* ---- JoinGroup ------------------------------------------------------------------ */

static int16_t check_join(const vs_coord *c, const vs_join_req *req)
{
	if (check_group_id(c, req->group_id, 0))
		return KE_INVALID_GROUP_ID;
	if (req->session_timeout_ms < c->cfg.min_session_timeout_ms ||
	    req->session_timeout_ms > c->cfg.max_session_timeout_ms)
		return KE_INVALID_SESSION_TIMEOUT;
	if (req->protocol_type.len > VS_COORD_MAX_NAME)
		return KE_INVALID_REQUEST;
	if (req->group_instance_id.ptr &&
	    (req->group_instance_id.len == 0 || req->group_instance_id.len > VS_COORD_MAX_NAME))
		return KE_INVALID_REQUEST;
	return KE_NONE;
}

static size_t awaiting_count(const vs_group *g)
{
	size_t n = 0;
	for (size_t i = 0; i < g->nmembers; i++)
		n += g->members[i]->join_cb != NULL;
	return n;
}

/* Kafka's acceptJoiningMember: in PreparingRebalance count the members that
 * rejoined (the group may be over a lowered limit), otherwise the group's
 * size. Unlike Kafka, a known static instance rejoining is always let back
 * into its own slot, and no group ever holds more than twice the limit:
 * static members are kept without rejoining, so rebalance after rebalance
 * could otherwise pile up members while only rejoined ones are counted. */
static int accept_joining(const vs_coord *c, const vs_group *g, const vs_join_req *req)
{
	const vs_member *m = vs_group_member(g, req->member_id, NULL);
	if (!m && req->member_id.len == 0)
		m = vs_group_static(g, req->group_instance_id);
	switch (g->state) {
	case VS_GROUP_PREPARING_REBALANCE:
		return (m && m->join_cb) ||
		       (awaiting_count(g) < c->cfg.max_group_size &&
			(m || g->nmembers < 2 * (size_t)c->cfg.max_group_size));
	case VS_GROUP_COMPLETING_REBALANCE:
	case VS_GROUP_STABLE:
		return m || g->nmembers < c->cfg.max_group_size;
	default:
		return 1;
	}
}

/* A refused join also costs the member its place (Kafka: group.remove). */
static void shed_member(vs_coord *c, vs_group *g, vs_slice member_id, int64_t now)
{
	size_t index;
	int p = vs_group_find_pending(g, member_id);
	if (p >= 0)
		drop_pending(c, g, (size_t)p);
	else if (member_id.len && vs_group_member(g, member_id, &index))
		remove_member(c, g, index, now);
}

static int over_budget(const vs_coord *c, uint64_t old_bytes, uint64_t new_bytes)
{
	return c->bytes_held - old_bytes + new_bytes > c->cfg.max_total_bytes;
}

static void set_timeouts(vs_member *m, const vs_join_req *req)
{
	m->session_timeout_ms = req->session_timeout_ms;
	m->rebalance_timeout_ms =
		req->rebalance_timeout_ms < 0 ? req->session_timeout_ms : req->rebalance_timeout_ms;
}

/* Admit a member (Kafka's addMemberAndRebalance). id: its id, or null to
 * make one. Takes ps. */
static void add_member(vs_coord *c, vs_group *g, vs_slice id, const vs_join_req *req,
		       vs_protoset *ps, int64_t now, vs_join_done cb, void *ctx)
{
	vs_own own = { NULL, 0 };
	int16_t err = KE_UNKNOWN_SERVER_ERROR;
	vs_slice prefix = req->group_instance_id.ptr ? req->group_instance_id : req->client_id;
	if (id.ptr ? vs_own_set(&own, id) : vs_member_id_new(c, g, prefix, &own))
		goto fail;
	uint64_t need = sizeof(vs_member) + own.len + req->group_instance_id.len + ps->bytes +
			2 * VS_COORD_MAX_NAME;
	if (over_budget(c, 0, need)) {
		err = KE_COORDINATOR_NOT_AVAILABLE;
		goto fail;
	}
	vs_member *m;
	if (vs_coord_rows_reserve(c, g->nmembers + 1) || !(m = vs_member_new(&own, req, ps)))
		goto fail;
	if (vs_group_add_member(c, g, m)) {
		m->protos = NULL; /* freed below with the other failures */
		vs_member_free(m);
		goto fail;
	}
	set_timeouts(m, req);
	if (g->nmembers == 1) {
		memcpy(g->protocol_type, req->protocol_type.ptr, req->protocol_type.len);
		g->protocol_type_len = req->protocol_type.len;
		g->has_protocol_type = 1;
	}
	if (g->state == VS_GROUP_PREPARING_REBALANCE && g->delay_phase)
		g->new_member_added = 1;
	m->is_new = 1;
	hold_join(c, g, m, cb, ctx);
	keep_alive(c, g, m, now);
	int p = vs_group_find_pending(g, vs_own_slice(m->id));
	if (p >= 0)
		drop_pending(c, g, (size_t)p);
	maybe_prepare_rebalance(c, g, now);
	return;
fail:
	vs_own_free(&own);
	free(ps);
	answer_join_error(c, cb, ctx, nonnull(id), err);
}

/* KIP-394: hand out an id and ask the client to rejoin with it. */
static void add_pending(vs_coord *c, vs_group *g, const vs_join_req *req, int64_t now,
			vs_join_done cb, void *ctx)
{
	if (g->npending >= c->cfg.max_group_size) {
		answer_join_error(c, cb, ctx, EMPTY_SLICE, KE_GROUP_MAX_SIZE_REACHED);
		return;
	}
	if (over_budget(c, 0, sizeof(vs_pending) + VS_COORD_MAX_NAME + 37)) {
		answer_join_error(c, cb, ctx, EMPTY_SLICE, KE_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	vs_own id = { NULL, 0 };
	int64_t deadline = vs_deadline_after(now, req->session_timeout_ms);
	if (vs_member_id_new(c, g, req->client_id, &id) ||
	    vs_group_add_pending(c, g, &id, deadline)) {
		vs_own_free(&id);
		answer_join_error(c, cb, ctx, EMPTY_SLICE, KE_UNKNOWN_SERVER_ERROR);
		return;
	}
	vs_coord_arm(c, g, deadline);
	answer_join_error(c, cb, ctx, vs_own_slice(g->pending[g->npending - 1].id),
			  KE_MEMBER_ID_REQUIRED);
}

/* New protocols, timeouts and a held join for m (Kafka's updateMember). A
 * join m still held is superseded: it is answered REBALANCE_IN_PROGRESS
 * (Kafka drops it silently; here every callback gets an answer). Takes ps. */
static int update_member(vs_coord *c, vs_group *g, vs_member *m, const vs_join_req *req,
			 vs_protoset *ps, int64_t now, vs_join_done cb, void *ctx)
{
	if (over_budget(c, m->protos->bytes, ps->bytes)) {
		free(ps);
		answer_join_error(c, cb, ctx, req->member_id, KE_COORDINATOR_NOT_AVAILABLE);
		return -1;
	}
	fail_held_join(c, g, m, vs_own_slice(m->id), KE_REBALANCE_IN_PROGRESS);
	free(m->protos);
	m->protos = ps;
	set_timeouts(m, req);
	vs_member_account(c, m);
	hold_join(c, g, m, cb, ctx);
	keep_alive(c, g, m, now);
	return 0;
}

/* A known instance id joins with an empty member id: it takes over its slot
 * under a new id and the old id is fenced. Kafka rebalances in Stable only if
 * the chosen protocol would change; here also if the member's metadata
 * changed (a restarted member with a new subscription must be assigned
 * accordingly; the leader could not notice otherwise below v9). Takes ps. */
static void static_rejoin(vs_coord *c, vs_group *g, vs_member *m, const vs_join_req *req,
			  int16_t version, vs_protoset *ps, int64_t now, vs_join_done cb,
			  void *ctx)
{
	vs_own new_id = { NULL, 0 };
	if (vs_member_id_new(c, g, req->group_instance_id, &new_id)) {
		free(ps);
		answer_join_error(c, cb, ctx, EMPTY_SLICE, KE_UNKNOWN_SERVER_ERROR);
		return;
	}
	if (over_budget(c, m->protos->bytes + m->id.len, ps->bytes + new_id.len)) {
		vs_own_free(&new_id);
		free(ps);
		answer_join_error(c, cb, ctx, EMPTY_SLICE, KE_COORDINATOR_NOT_AVAILABLE);
		return;
	}
	int unchanged = vs_protoset_eq(m->protos, ps);
	int was_leader = g->leader == m;
	vs_own old_id = m->id;
	fail_held_join(c, g, m, vs_own_slice(old_id), KE_FENCED_INSTANCE_ID);
	fail_held_sync(c, g, m, KE_FENCED_INSTANCE_ID);
	m->id = new_id;
	free(m->protos);
	m->protos = ps;
	set_timeouts(m, req);
	vs_member_account(c, m);
	hold_join(c, g, m, cb, ctx);
	keep_alive(c, g, m, now);
	if (g->state == VS_GROUP_STABLE && unchanged) {
		vs_join_result r = current_generation(c, g, m);
		if (version >= 9) {
			r.skip_assignment = was_leader;
		} else {
			/* Name the old leader id so a rejoining leader does not
			 * think it leads and reassign a Stable group. */
			r.members = NULL;
			r.member_count = 0;
			if (was_leader)
				r.leader = vs_own_slice(old_id);
		}
		call_join(c, g, m, &r);
	} else if (g->state != VS_GROUP_PREPARING_REBALANCE) {
		prepare_rebalance(c, g, now);
	}
	vs_own_free(&old_id);
}

static void join_new_member(vs_coord *c, vs_group *g, const vs_join_req *req, int16_t version,
			    vs_protoset *ps, int64_t now, vs_join_done cb, void *ctx)
{
	if (!vs_group_supports(g, req->protocol_type, ps, NULL)) {
		free(ps);
		answer_join_error(c, cb, ctx, EMPTY_SLICE, KE_INCONSISTENT_GROUP_PROTOCOL);
		return;
	}
	if (req->group_instance_id.ptr) {
		vs_member *m = vs_group_static(g, req->group_instance_id);
		if (m)
			static_rejoin(c, g, m, req, version, ps, now, cb, ctx);
		else
			add_member(c, g, VS_SLICE_NULL, req, ps, now, cb, ctx);
	} else if (version >= 4) {
		free(ps);
		add_pending(c, g, req, now, cb, ctx);
	} else {
		add_member(c, g, VS_SLICE_NULL, req, ps, now, cb, ctx);
	}
}

static void join_known_member(vs_coord *c, vs_group *g, const vs_join_req *req,
			      vs_protoset *ps, int64_t now, vs_join_done cb, void *ctx)
{
	vs_member *m = vs_group_member(g, req->member_id, NULL);
	int16_t err;
	if (!vs_group_supports(g, req->protocol_type, ps, m)) {
		err = KE_INCONSISTENT_GROUP_PROTOCOL;
	} else if (vs_group_find_pending(g, req->member_id) >= 0) {
		/* An id handed out by MEMBER_ID_REQUIRED; never a static one. */
		if (!req->group_instance_id.ptr) {
			add_member(c, g, req->member_id, req, ps, now, cb, ctx);
			return;
		}
		err = KE_UNKNOWN_MEMBER_ID;
	} else {
		err = current_member(g, req->member_id, req->group_instance_id, &m);
	}
	if (err == KE_NONE && g->state != VS_GROUP_PREPARING_REBALANCE &&
	    g->state != VS_GROUP_COMPLETING_REBALANCE && g->state != VS_GROUP_STABLE)
		err = KE_UNKNOWN_MEMBER_ID;
	if (err) {
		free(ps);
		answer_join_error(c, cb, ctx, req->member_id, err);
		return;
	}
	/* Same metadata outside a rebalance: the current generation, at once.
	 * In Stable the leader's join always rebalances (it is how a leader
	 * asks for a new assignment, e.g. after topic metadata changed). */
	int same = vs_protoset_eq(m->protos, ps);
	if ((g->state == VS_GROUP_COMPLETING_REBALANCE && same) ||
	    (g->state == VS_GROUP_STABLE && same && g->leader != m)) {
		free(ps);
		keep_alive(c, g, m, now);
		vs_join_result r = current_generation(c, g, m);
		c->in_callback++;
		cb(ctx, &r);
		c->in_callback--;
		return;
	}
	if (update_member(c, g, m, req, ps, now, cb, ctx) == 0)
		maybe_prepare_rebalance(c, g, now);
}

static vs_group *new_group(vs_coord *c, vs_slice id, int64_t now, int16_t *err)
{
	if (c->ngroups >= c->cfg.max_groups) {
		vs_group *victim = vs_group_evictable(c);
		if (!victim) {
			*err = KE_COORDINATOR_NOT_AVAILABLE;
			return NULL;
		}
		vs_group_destroy(c, victim);
	}
	if (over_budget(c, 0, sizeof(vs_group) + id.len)) {
		*err = KE_COORDINATOR_NOT_AVAILABLE;
		return NULL;
	}
	vs_group *g = vs_group_create(c, id, now);
	if (!g)
		*err = KE_UNKNOWN_SERVER_ERROR;
	return g;
}

void vs_coord_join(vs_coord *c, const vs_join_req *req, int16_t version, int64_t now,
		   vs_join_done cb, void *ctx)
{
	int16_t err = c->in_callback ? KE_UNKNOWN_SERVER_ERROR : check_join(c, req);
	vs_protoset *ps = NULL;
	if (!err)
		err = vs_protoset_new(req->protocols, req->protocol_count, c->cfg.max_protocols,
				      c->cfg.max_metadata_bytes, &ps);
	if (!err && req->protocol_type.len == 0)
		err = KE_INCONSISTENT_GROUP_PROTOCOL;
	vs_group *g = NULL;
	int new_member = req->member_id.len == 0;
	if (!err && !(g = vs_group_find(c, req->group_id))) {
		/* Only a new member creates a group. */
		if (new_member)
			g = new_group(c, req->group_id, now, &err);
		else
			err = KE_UNKNOWN_MEMBER_ID;
	}
	vs_slice reply_id = req->member_id;
	if (!err && !accept_joining(c, g, req)) {
		shed_member(c, g, req->member_id, now);
		err = KE_GROUP_MAX_SIZE_REACHED;
		reply_id = EMPTY_SLICE;
	}
	if (err) {
		free(ps);
		answer_join_error(c, cb, ctx, reply_id, err);
		return;
	}
	if (new_member)
		join_new_member(c, g, req, version, ps, now, cb, ctx);
	else
		join_known_member(c, g, req, ps, now, cb, ctx);
	maybe_complete_join(c, g, now);
}

/* ---- SyncGroup ------------------------------------------------------------------- */

/* The last entry for member_id in the leader's list, or NULL. */
static const vs_sync_assignment *assignment_for(const vs_sync_req *req, vs_own member_id)
{
	for (size_t i = req->assignment_count; i-- > 0;)
		if (vs_own_eq(member_id, nonnull(req->assignments[i].member_id)))
			return &req->assignments[i];
	return NULL;
}

/* Copy the leader's assignment for every member, then make the group Stable
 * and answer the held syncs. All copies are made before any is installed,
 * so a limit or an allocation failure changes nothing; then, as Kafka does
 * when it cannot store a group, the syncs fail and the group rebalances. */
static void apply_assignment(vs_coord *c, vs_group *g, const vs_sync_req *req, int64_t now)
{
	vs_own *fresh = calloc(g->nmembers, sizeof *fresh);
	uint64_t old_total = 0, new_total = 0;
	int ok = fresh != NULL;
	for (size_t i = 0; ok && i < g->nmembers; i++) {
		const vs_sync_assignment *a = assignment_for(req, g->members[i]->id);
		old_total += g->members[i]->assignment.len;
		if (!a || !a->assignment.len)
			continue;
		if (a->assignment.len > c->cfg.max_assignment_bytes ||
		    vs_own_set(&fresh[i], a->assignment))
			ok = 0;
		else
			new_total += a->assignment.len;
	}
	if (ok && over_budget(c, old_total, new_total))
		ok = 0;
	for (size_t i = 0; i < g->nmembers && fresh; i++) {
		if (ok) {
			vs_own_free(&g->members[i]->assignment);
			g->members[i]->assignment = fresh[i];
			vs_member_account(c, g->members[i]);
		} else {
			vs_own_free(&fresh[i]);
		}
	}
	free(fresh);
	if (!ok) {
		reset_and_propagate(c, g, KE_UNKNOWN_SERVER_ERROR, now);
		prepare_rebalance(c, g, now);
		return;
	}
	set_state(g, VS_GROUP_STABLE, now);
	propagate_sync(c, g, KE_NONE, now);
}

/* The wait for SyncGroup ends once every member has sent one. */
static void note_synced(vs_group *g, vs_member *m)
{
	m->pending_sync = 0;
	for (size_t i = 0; i < g->nmembers; i++)
		if (g->members[i]->pending_sync)
			return;
	g->sync_deadline = VS_NEVER;
}

static int16_t check_sync(const vs_coord *c, const vs_group *g, const vs_sync_req *req,
			  vs_member **m)
{
	if (!g)
		return KE_UNKNOWN_MEMBER_ID;
	int16_t err = current_member(g, req->member_id, req->group_instance_id, m);
	if (err)
		return err;
	if (req->generation_id != g->generation)
		return KE_ILLEGAL_GENERATION;
	if ((req->protocol_type.ptr && !vs_slice_same(req->protocol_type, group_type(g))) ||
	    (req->protocol_name.ptr && (!g->has_protocol_name ||
					!vs_slice_same(req->protocol_name, group_protocol(g)))))
		return KE_INCONSISTENT_GROUP_PROTOCOL;
	if (g->state == VS_GROUP_EMPTY)
		return KE_UNKNOWN_MEMBER_ID;
	if (g->state == VS_GROUP_PREPARING_REBALANCE)
		return KE_REBALANCE_IN_PROGRESS;
	if (g->state == VS_GROUP_COMPLETING_REBALANCE && g->leader == *m &&
	    req->assignment_count > c->cfg.max_group_size)
		return KE_INVALID_REQUEST;
	return KE_NONE;
}

void vs_coord_sync(vs_coord *c, const vs_sync_req *req, int64_t now, vs_sync_done cb,
		   void *ctx)
{
	int16_t err = c->in_callback ? KE_UNKNOWN_SERVER_ERROR
				     : check_group_id(c, req->group_id, 0);
	vs_group *g = err ? NULL : vs_group_find(c, req->group_id);
	vs_member *m = NULL;
	if (!err)
		err = check_sync(c, g, req, &m);
	if (err) {
		answer_sync_error(c, cb, ctx, err);
		return;
	}
	keep_alive(c, g, m, now);
	if (g->state == VS_GROUP_STABLE) {
		note_synced(g, m);
		vs_sync_result r = { KE_NONE, nonnull(group_type(g)), nonnull(group_protocol(g)),
				     nonnull(vs_own_slice(m->assignment)) };
		c->in_callback++;
		cb(ctx, &r);
		c->in_callback--;
		return;
	}
	/* CompletingRebalance: hold it until the leader's assignment. */
	fail_held_sync(c, g, m, KE_REBALANCE_IN_PROGRESS);
	hold_sync(c, g, m, cb, ctx);
	note_synced(g, m);
	if (g->leader == m)
		apply_assignment(c, g, req, now);
}

/* ---- Heartbeat, LeaveGroup, OffsetCommit -------------------------------------------- */

int16_t vs_coord_heartbeat(vs_coord *c, vs_slice group_id, vs_slice member_id,
			   vs_slice group_instance_id, int32_t generation_id, int64_t now)
{
	if (c->in_callback)
		return KE_UNKNOWN_SERVER_ERROR;
	if (check_group_id(c, group_id, 0))
		return KE_INVALID_GROUP_ID;
	vs_group *g = vs_group_find(c, group_id);
	vs_member *m;
	if (!g)
		return KE_UNKNOWN_MEMBER_ID;
	int16_t err = current_member(g, member_id, group_instance_id, &m);
	if (err)
		return err;
	if (generation_id != g->generation)
		return KE_ILLEGAL_GENERATION;
	if (g->state == VS_GROUP_EMPTY)
		return KE_UNKNOWN_MEMBER_ID;
	keep_alive(c, g, m, now);
	return g->state == VS_GROUP_PREPARING_REBALANCE ? KE_REBALANCE_IN_PROGRESS : KE_NONE;
}

static int16_t leave_one(vs_coord *c, vs_group *g, const vs_leave_member *lm, int64_t now)
{
	vs_member *m;
	if (lm->member_id.len == 0) {
		/* Admin removal of a static member by its instance id. */
		m = vs_group_static(g, lm->group_instance_id);
		if (!m)
			return KE_UNKNOWN_MEMBER_ID;
	} else {
		int p = vs_group_find_pending(g, lm->member_id);
		if (p >= 0) {
			drop_pending(c, g, (size_t)p);
			maybe_complete_join(c, g, now);
			return KE_NONE;
		}
		int16_t err = current_member(g, lm->member_id, lm->group_instance_id, &m);
		if (err)
			return err;
	}
	remove_member(c, g, index_of(g, m), now);
	return KE_NONE;
}

int16_t vs_coord_leave(vs_coord *c, vs_slice group_id, vs_leave_member *members, size_t n,
		       int64_t now)
{
	int16_t top = c->in_callback ? KE_UNKNOWN_SERVER_ERROR : check_group_id(c, group_id, 0);
	vs_group *g = top ? NULL : vs_group_find(c, group_id);
	for (size_t i = 0; i < n; i++)
		members[i].error = top ? top : g ? leave_one(c, g, &members[i], now)
						 : KE_UNKNOWN_MEMBER_ID;
	return top;
}

int16_t vs_coord_commit_check(vs_coord *c, vs_slice group_id, int32_t generation_id,
			      vs_slice member_id, vs_slice group_instance_id, int64_t now)
{
	if (c->in_callback)
		return KE_UNKNOWN_SERVER_ERROR;
	if (check_group_id(c, group_id, 1))
		return KE_INVALID_GROUP_ID;
	vs_group *g = vs_group_find(c, group_id);
	if (!g)
		return generation_id < 0 ? KE_NONE : KE_ILLEGAL_GENERATION;
	if (generation_id < 0 && g->state == VS_GROUP_EMPTY)
		return KE_NONE;
	vs_member *m = NULL;
	if (generation_id >= 0 || member_id.len || group_instance_id.ptr) {
		int16_t err = current_member(g, member_id, group_instance_id, &m);
		if (err)
			return err;
		if (generation_id != g->generation)
			return KE_ILLEGAL_GENERATION;
	} else {
		/* Without a member id only a group with no members takes commits. */
		return KE_UNKNOWN_MEMBER_ID;
	}
	if (g->state == VS_GROUP_COMPLETING_REBALANCE)
		return KE_REBALANCE_IN_PROGRESS;
	keep_alive(c, g, m, now);
	return KE_NONE;
}

/* ---- forget, tick ------------------------------------------------------------------- */

void vs_coord_forget(vs_coord *c, void *ctx, int64_t now)
{
	/* Safe inside a callback too: it only clears held callbacks. */
	for (size_t b = 0; c->held && b < c->nbuckets; b++) {
		for (vs_group *g = c->buckets[b]; g; g = g->next) {
			for (size_t i = 0; g->held && i < g->nmembers; i++) {
				vs_member *m = g->members[i];
				int hit = 0;
				if (m->join_cb && m->join_ctx == ctx) {
					m->join_cb = NULL;
					m->join_ctx = NULL;
					hit = 1;
				}
				if (m->sync_cb && m->sync_ctx == ctx) {
					m->sync_cb = NULL;
					m->sync_ctx = NULL;
					hit++;
				}
				if (!hit)
					continue;
				c->held -= (size_t)hit;
				g->held -= (size_t)hit;
				m->deadline = vs_deadline_after(now, m->session_timeout_ms);
				vs_coord_arm(c, g, m->deadline);
			}
		}
	}
}

static void expire_sessions(vs_coord *c, vs_group *g, int64_t now)
{
	for (size_t i = g->npending; i-- > 0;)
		if (g->pending[i].deadline <= now)
			drop_pending(c, g, i);
	/* One at a time: each removal may start or finish a rebalance, which
	 * changes who can expire. */
	for (;;) {
		size_t i = 0;
		while (i < g->nmembers && member_due(g->members[i]) > now)
			i++;
		if (i == g->nmembers)
			break;
		c->stats.expired_sessions++;
		remove_member(c, g, i, now);
	}
	maybe_complete_join(c, g, now);
}

/* Members that never sent SyncGroup after the generation are removed and a
 * new rebalance starts (Kafka's DelayedSync). */
static void expire_sync(vs_coord *c, vs_group *g, int64_t now)
{
	if ((g->state != VS_GROUP_COMPLETING_REBALANCE && g->state != VS_GROUP_STABLE) ||
	    g->sync_deadline > now)
		return;
	g->sync_deadline = VS_NEVER;
	int removed = 0;
	for (size_t i = g->nmembers; i-- > 0;) {
		if (g->members[i]->pending_sync) {
			c->stats.removed_at_rebalance++;
			vs_group_drop_member(c, g, i);
			removed = 1;
		}
	}
	if (removed)
		prepare_rebalance(c, g, now);
}

static int64_t group_next_due(const vs_coord *c, const vs_group *g)
{
	int64_t lb = empty_ttl_due(c, g);
	for (size_t i = 0; i < g->npending; i++)
		if (g->pending[i].deadline < lb)
			lb = g->pending[i].deadline;
	for (size_t i = 0; i < g->nmembers; i++)
		if (member_due(g->members[i]) < lb)
			lb = member_due(g->members[i]);
	if (g->state == VS_GROUP_PREPARING_REBALANCE && g->rebalance_deadline < lb)
		lb = g->rebalance_deadline;
	if ((g->state == VS_GROUP_COMPLETING_REBALANCE || g->state == VS_GROUP_STABLE) &&
	    g->sync_deadline < lb)
		lb = g->sync_deadline;
	return lb;
}

/* Everything due in one group; 1 if the group was forgotten. */
static int group_tick(vs_coord *c, vs_group *g, int64_t now)
{
	expire_sessions(c, g, now);
	expire_sync(c, g, now);
	if (empty_ttl_due(c, g) <= now) {
		vs_group_destroy(c, g);
		return 1;
	}
	g->lb = group_next_due(c, g);
	return 0;
}

void vs_coord_tick(vs_coord *c, int64_t now)
{
	if (c->in_callback || now < c->lb)
		return;
	int64_t lb = VS_NEVER;
	for (size_t b = 0; b < c->nbuckets; b++) {
		vs_group *next;
		for (vs_group *g = c->buckets[b]; g; g = next) {
			next = g->next;
			if (g->lb <= now && group_tick(c, g, now))
				continue;
			if (g->lb < lb)
				lb = g->lb;
		}
	}
	c->lb = lb;
}

int64_t vs_coord_next_deadline(const vs_coord *c)
{
	return c->lb == VS_NEVER ? -1 : c->lb;
}
