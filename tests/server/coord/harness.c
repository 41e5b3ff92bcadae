/* SPDX-License-Identifier: MIT */
/*
 * harness.c -- see harness.h.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static void copy_slice(char *out, vs_slice s)
{
	size_t n = s.len < H_STR - 1 ? s.len : H_STR - 1;
	if (n)
		memcpy(out, s.ptr, n);
	out[n] = 0;
}

void h_on_join(void *ctx, const vs_join_result *r)
{
	join_box *b = ctx;
	b->calls++;
	b->error = r->error;
	b->generation = r->generation_id;
	b->skip_assignment = r->skip_assignment;
	b->type_null = r->protocol_type.ptr == NULL;
	b->name_null = r->protocol_name.ptr == NULL;
	copy_slice(b->member_id, r->member_id);
	copy_slice(b->leader, r->leader);
	copy_slice(b->protocol, r->protocol_name);
	copy_slice(b->protocol_type, r->protocol_type);
	cr_assert(r->member_count <= H_MAX_MEMBERS);
	b->member_count = r->member_count;
	for (size_t i = 0; i < r->member_count; i++) {
		copy_slice(b->members[i], r->members[i].member_id);
		copy_slice(b->instances[i], r->members[i].group_instance_id);
		copy_slice(b->metadata[i], r->members[i].metadata);
	}
}

void h_on_sync(void *ctx, const vs_sync_result *r)
{
	sync_box *b = ctx;
	b->calls++;
	b->error = r->error;
	b->name_null = r->protocol_name.ptr == NULL;
	copy_slice(b->protocol, r->protocol_name);
	copy_slice(b->assignment, r->assignment);
	b->assignment_len = r->assignment.len;
}

vs_slice S(const char *z)
{
	return z ? (vs_slice){ (const uint8_t *)z, strlen(z) } : VS_SLICE_NULL;
}

int slice_is(vs_slice s, const char *z)
{
	return s.ptr && s.len == strlen(z) && memcmp(s.ptr, z, s.len) == 0;
}

vs_join_protocol h_range[1] = { { { (const uint8_t *)"range", 5 },
				  { (const uint8_t *)"meta", 4 } } };

vs_join_req h_join_req(const char *group, const char *member_id, const char *client_id)
{
	return (vs_join_req){
		.group_id = S(group),
		.member_id = S(member_id),
		.client_id = S(client_id),
		.client_host = S("/127.0.0.1"),
		.protocol_type = S("consumer"),
		.session_timeout_ms = 10000,
		.rebalance_timeout_ms = 30000,
		.protocols = h_range,
		.protocol_count = 1,
	};
}

void h_join(vs_coord *c, const char *group, const char *member_id, int16_t version,
	    int64_t now, join_box *box)
{
	memset(box, 0, sizeof *box);
	vs_join_req req = h_join_req(group, member_id, "client");
	vs_coord_join(c, &req, version, now, h_on_join, box);
}

void h_join_v4(vs_coord *c, const char *group, const char *client, int64_t now,
	       join_box *box)
{
	memset(box, 0, sizeof *box);
	vs_join_req req = h_join_req(group, "", client);
	vs_coord_join(c, &req, 5, now, h_on_join, box);
	cr_assert_eq(box->calls, 1);
	cr_assert_eq(box->error, KE_MEMBER_ID_REQUIRED);
	char id[H_STR];
	strcpy(id, box->member_id);
	memset(box, 0, sizeof *box);
	req.member_id = S(id);
	vs_coord_join(c, &req, 5, now, h_on_join, box);
}

void h_sync(vs_coord *c, const char *group, const char *member_id, int32_t gen,
	    const char *const *pairs, size_t npairs, int64_t now, sync_box *box)
{
	vs_sync_assignment a[H_MAX_MEMBERS];
	cr_assert(npairs <= H_MAX_MEMBERS);
	for (size_t i = 0; i < npairs; i++) {
		const char *eq = strchr(pairs[i], '=');
		cr_assert(eq);
		a[i].member_id = (vs_slice){ (const uint8_t *)pairs[i], (size_t)(eq - pairs[i]) };
		a[i].assignment = S(eq + 1);
	}
	memset(box, 0, sizeof *box);
	vs_sync_req req = {
		.group_id = S(group),
		.member_id = S(member_id),
		.generation_id = gen,
		.assignments = a,
		.assignment_count = npairs,
	};
	vs_coord_sync(c, &req, now, h_on_sync, box);
}

/* ---- invariants --------------------------------------------------------------- */

static int64_t due_of(const vs_member *m)
{
	if (m->sync_cb || (m->join_cb && !m->is_new))
		return VS_NEVER;
	return m->deadline;
}

static void check_group(const vs_coord *c, const vs_group *g, uint64_t *bytes, size_t *held)
{
	size_t group_held = 0;
	*bytes += g->bytes;
	cr_assert(g->state >= VS_GROUP_EMPTY && g->state < VS_GROUP_DEAD);
	cr_assert_eq(g->nmembers == 0, g->leader == NULL, "leader iff members");
	cr_assert(g->nmembers <= c->rows_cap || g->nmembers == 0);
	int leader_seen = 0;
	for (size_t i = 0; i < g->nmembers; i++) {
		const vs_member *m = g->members[i];
		leader_seen += m == g->leader;
		for (size_t j = 0; j < i; j++)
			cr_assert(m != g->members[j], "member listed twice");
		cr_assert_eq(m->bytes, vs_member_size(m));
		*bytes += m->bytes;
		if (m->join_cb)
			cr_assert_eq(g->state, VS_GROUP_PREPARING_REBALANCE,
				     "held join outside PreparingRebalance");
		if (m->sync_cb)
			cr_assert_eq(g->state, VS_GROUP_COMPLETING_REBALANCE,
				     "held sync outside CompletingRebalance");
		group_held += (m->join_cb != NULL) + (m->sync_cb != NULL);
		cr_assert(due_of(m) >= g->lb, "group lb above a member deadline");
	}
	cr_assert(g->nmembers == 0 || leader_seen == 1);
	for (size_t i = 0; i < g->npending; i++) {
		*bytes += sizeof(vs_pending) + g->pending[i].id.len;
		cr_assert(g->pending[i].deadline >= g->lb);
	}
	cr_assert_eq(g->held, group_held);
	*held += group_held;
	if (g->nmembers) {
		vs_slice p;
		cr_assert_eq(vs_group_select_protocol(g, &p), 0, "members share no protocol");
	}
	if (g->state == VS_GROUP_PREPARING_REBALANCE)
		cr_assert(g->rebalance_deadline >= g->lb);
	if (g->state == VS_GROUP_STABLE || g->state == VS_GROUP_COMPLETING_REBALANCE)
		cr_assert(g->sync_deadline >= g->lb && g->has_protocol_name);
	cr_assert(g->lb >= c->lb, "coordinator lb above a group lb");
}

void h_check_invariants(const vs_coord *c)
{
	uint64_t bytes = 0;
	size_t groups = 0, held = 0;
	for (size_t b = 0; b < c->nbuckets; b++) {
		for (const vs_group *g = c->buckets[b]; g; g = g->next) {
			cr_assert_eq(g->hash & (c->nbuckets - 1), b);
			check_group(c, g, &bytes, &held);
			groups++;
		}
	}
	cr_assert_eq(groups, c->ngroups);
	cr_assert(groups <= c->cfg.max_groups);
	cr_assert_eq(bytes, c->bytes_held, "byte accounting drifted");
	cr_assert_eq(held, c->held);
}
