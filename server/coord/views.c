/* SPDX-License-Identifier: MIT */
/*
 * views.c -- what the coordinator shows and what administration may do
 * (coord.h): state names, ListGroups, DescribeGroups, DeleteGroups, group
 * info for the broker, metrics. Nothing here changes a group's membership;
 * DeleteGroups only forgets groups that have no members.
 */
#include <string.h>

#include "coord_int.h"

static const char *const state_names[VS_GROUP_STATE_COUNT] = {
	"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead",
};

static const uint8_t empty_bytes[1];
#define EMPTY_SLICE ((vs_slice){ empty_bytes, 0 })

static vs_slice nonnull(vs_slice s)
{
	return s.ptr ? s : EMPTY_SLICE;
}

const char *vs_group_state_name(int state)
{
	return state >= 0 && state < VS_GROUP_STATE_COUNT ? state_names[state] : "";
}

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

int vs_group_state_parse(vs_slice s)
{
	for (int st = 0; st < VS_GROUP_STATE_COUNT; st++) {
		const char *name = state_names[st];
		size_t n = strlen(name), i = 0;
		if (s.len != n)
			continue;
		while (i < n && lower(s.ptr[i]) == lower((unsigned char)name[i]))
			i++;
		if (i == n)
			return st;
	}
	return -1;
}

static vs_slice type_of(const vs_group *g)
{
	/* An Empty group keeps the type its last members had, as in Kafka. */
	return g->has_protocol_type ? (vs_slice){ g->protocol_type, g->protocol_type_len }
				    : EMPTY_SLICE;
}

size_t vs_coord_list(vs_coord *c, const vs_slice *states, size_t nstates, vs_list_fn fn,
		     void *ctx)
{
	if (c->in_callback)
		return 0;
	unsigned wanted = 0;
	for (size_t i = 0; i < nstates; i++) {
		int st = vs_group_state_parse(states[i]);
		if (st >= 0)
			wanted |= 1u << st;
	}
	size_t listed = 0;
	c->in_callback++;
	for (size_t b = 0; b < c->nbuckets; b++) {
		for (const vs_group *g = c->buckets[b]; g; g = g->next) {
			if (nstates && !(wanted & (1u << g->state)))
				continue;
			vs_group_overview o = { vs_own_slice(g->id), type_of(g), g->state };
			fn(ctx, &o);
			listed++;
		}
	}
	c->in_callback--;
	return listed;
}

/* One DescribeGroups row; metadata and assignment only when Stable, as in
 * Kafka (GroupMetadata.summary). */
static vs_member_description describe_member(const vs_group *g, const vs_member *m)
{
	vs_member_description d = {
		.member_id = vs_own_slice(m->id),
		.group_instance_id = vs_own_slice(m->instance_id),
		.client_id = nonnull(vs_own_slice(m->client_id)),
		.client_host = nonnull(vs_own_slice(m->client_host)),
		.metadata = EMPTY_SLICE,
		.assignment = EMPTY_SLICE,
	};
	if (g->state == VS_GROUP_STABLE && g->has_protocol_name) {
		int k = vs_protoset_find(m->protos,
					 (vs_slice){ g->protocol_name, g->protocol_name_len });
		if (k >= 0)
			d.metadata = nonnull(m->protos->p[k].metadata);
		d.assignment = nonnull(vs_own_slice(m->assignment));
	}
	return d;
}

int16_t vs_coord_describe(vs_coord *c, vs_slice group_id, vs_describe_fn fn, void *ctx)
{
	if (c->in_callback)
		return KE_UNKNOWN_SERVER_ERROR;
	if (group_id.len > c->cfg.max_group_id_len)
		return KE_INVALID_GROUP_ID;
	const vs_group *g = vs_group_find(c, group_id);
	vs_group_description d = {
		.group_id = nonnull(group_id),
		.state = VS_GROUP_DEAD,
		.protocol_type = EMPTY_SLICE,
		.protocol_data = EMPTY_SLICE,
	};
	if (g) {
		/* rows_cap covers every group's size: reserved when a member
		 * is admitted. */
		for (size_t i = 0; i < g->nmembers; i++)
			c->desc_rows[i] = describe_member(g, g->members[i]);
		d.known = 1;
		d.state = g->state;
		d.protocol_type = type_of(g);
		if (g->state == VS_GROUP_STABLE && g->has_protocol_name)
			d.protocol_data = (vs_slice){ g->protocol_name, g->protocol_name_len };
		d.members = c->desc_rows;
		d.member_count = g->nmembers;
	}
	c->in_callback++;
	fn(ctx, &d);
	c->in_callback--;
	return KE_NONE;
}

int vs_coord_group_info(const vs_coord *c, vs_slice group_id, vs_group_info *out)
{
	const vs_group *g = vs_group_find(c, group_id);
	if (!g)
		return 0;
	*out = (vs_group_info){ g->state, g->generation, g->nmembers, g->npending };
	return 1;
}

int16_t vs_coord_delete(vs_coord *c, vs_slice group_id, int store_has_group)
{
	if (c->in_callback)
		return KE_UNKNOWN_SERVER_ERROR;
	if (group_id.len > c->cfg.max_group_id_len)
		return KE_INVALID_GROUP_ID;
	vs_group *g = vs_group_find(c, group_id);
	if (!g)
		return store_has_group ? KE_NONE : KE_GROUP_ID_NOT_FOUND;
	if (g->state != VS_GROUP_EMPTY)
		return KE_NON_EMPTY_GROUP;
	/* Ids handed out with MEMBER_ID_REQUIRED go with it: their rejoin gets
	 * UNKNOWN_MEMBER_ID and starts over, as after Kafka deletes a group. */
	vs_group_destroy(c, g);
	return KE_NONE;
}

void vs_coord_stats_get(const vs_coord *c, vs_coord_stats *out)
{
	*out = c->stats;
	memset(out->groups, 0, sizeof out->groups);
	out->group_count = c->ngroups;
	out->members = out->pending_members = 0;
	out->bytes_held = c->bytes_held;
	for (size_t b = 0; b < c->nbuckets; b++) {
		for (const vs_group *g = c->buckets[b]; g; g = g->next) {
			out->groups[g->state]++;
			out->members += g->nmembers;
			out->pending_members += g->npending;
		}
	}
}
