/* SPDX-License-Identifier: MIT */
/*
 * test_views.c -- what the coordinator shows (server/coord/views.c): state
 * names, ListGroups with and without a state filter, DescribeGroups in each
 * state, DeleteGroups rules, group info, metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static vs_coord *coord(void)
{
	vs_coord *c = vs_coord_new(&(vs_coord_config){ .seed = 9 });
	cr_assert(c);
	return c;
}

/* ---- recording ListGroups and DescribeGroups -------------------------------------------- */

typedef struct listed {
	int n;
	char ids[16][64];
	char types[16][64];
	int states[16];
} listed;

static void on_list(void *ctx, const vs_group_overview *o)
{
	listed *l = ctx;
	cr_assert_lt(l->n, 16);
	snprintf(l->ids[l->n], 64, "%.*s", (int)o->group_id.len, (const char *)o->group_id.ptr);
	snprintf(l->types[l->n], 64, "%.*s", (int)o->protocol_type.len,
		 (const char *)o->protocol_type.ptr);
	cr_assert_not_null(o->protocol_type.ptr, "never null");
	l->states[l->n] = o->state;
	l->n++;
}

static int listed_state(const listed *l, const char *id)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->ids[i], id) == 0)
			return l->states[i];
	return -1;
}

typedef struct described {
	int calls, known, state;
	char id[64], type[64], proto[64];
	size_t n;
	char members[8][H_STR], instances[8][64], clients[8][64], hosts[8][64];
	int instance_null[8];
	char metadata[8][64], assignment[8][64];
} described;

static void cp(char *out, size_t cap, vs_slice s)
{
	cr_assert_not_null(s.ptr);
	snprintf(out, cap, "%.*s", (int)s.len, (const char *)s.ptr);
}

static void on_describe(void *ctx, const vs_group_description *d)
{
	described *x = ctx;
	x->calls++;
	x->known = d->known;
	x->state = d->state;
	cp(x->id, sizeof x->id, d->group_id);
	cp(x->type, sizeof x->type, d->protocol_type);
	cp(x->proto, sizeof x->proto, d->protocol_data);
	x->n = d->member_count;
	cr_assert_leq(d->member_count, 8);
	for (size_t i = 0; i < d->member_count; i++) {
		const vs_member_description *m = &d->members[i];
		cp(x->members[i], H_STR, m->member_id);
		x->instance_null[i] = m->group_instance_id.ptr == NULL;
		if (m->group_instance_id.ptr)
			cp(x->instances[i], 64, m->group_instance_id);
		cp(x->clients[i], 64, m->client_id);
		cp(x->hosts[i], 64, m->client_host);
		cp(x->metadata[i], 64, m->metadata);
		cp(x->assignment[i], 64, m->assignment);
	}
}

static described describe(vs_coord *c, const char *group)
{
	described d;
	memset(&d, 0, sizeof d);
	cr_assert_eq(vs_coord_describe(c, S(group), on_describe, &d), KE_NONE);
	cr_assert_eq(d.calls, 1);
	return d;
}

/* One member joins (v3) and is answered; returns its id in id. */
static void join_one(vs_coord *c, const char *group, const char *client, const char *inst,
		     char *id, int64_t now)
{
	vs_join_req req = h_join_req(group, "", client);
	req.group_instance_id = S(inst);
	join_box b;
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, inst ? 5 : 3, now, h_on_join, &b);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.error, KE_NONE);
	strcpy(id, b.member_id);
}

/* ---- names ------------------------------------------------------------------------------- */

Test(views, state_names_are_kafkas)
{
	cr_assert_str_eq(vs_group_state_name(VS_GROUP_EMPTY), "Empty");
	cr_assert_str_eq(vs_group_state_name(VS_GROUP_PREPARING_REBALANCE), "PreparingRebalance");
	cr_assert_str_eq(vs_group_state_name(VS_GROUP_COMPLETING_REBALANCE),
			 "CompletingRebalance");
	cr_assert_str_eq(vs_group_state_name(VS_GROUP_STABLE), "Stable");
	cr_assert_str_eq(vs_group_state_name(VS_GROUP_DEAD), "Dead");
	cr_assert_str_eq(vs_group_state_name(VS_GROUP_STATE_COUNT), "");
	cr_assert_str_eq(vs_group_state_name(-1), "");
	cr_assert_eq(vs_group_state_parse(S("Stable")), VS_GROUP_STABLE);
	cr_assert_eq(vs_group_state_parse(S("stable")), VS_GROUP_STABLE, "without case");
	cr_assert_eq(vs_group_state_parse(S("PREPARINGREBALANCE")), VS_GROUP_PREPARING_REBALANCE);
	cr_assert_eq(vs_group_state_parse(S("Stabl")), -1);
	cr_assert_eq(vs_group_state_parse(S("Stable ")), -1);
	cr_assert_eq(vs_group_state_parse(S("")), -1);
	cr_assert_eq(vs_group_state_parse(VS_SLICE_NULL), -1);
}

/* ---- ListGroups ---------------------------------------------------------------------------- */

Test(views, list_groups_with_state_filter)
{
	vs_coord *c = coord();
	char a[H_STR], b[H_STR], x[H_STR];
	join_one(c, "completing", "cl", NULL, a, 0);
	join_one(c, "stable", "cl", NULL, b, 0);
	sync_box sb;
	h_sync(c, "stable", b, 1, NULL, 0, 0, &sb);
	cr_assert_eq(sb.error, KE_NONE);
	join_one(c, "empty", "cl", NULL, x, 0);
	vs_leave_member lm = { S(x), VS_SLICE_NULL, 0 };
	vs_coord_leave(c, S("empty"), &lm, 1, 0);
	join_box jb;
	h_join(c, "stable", "", 3, 10, &jb); /* "stable" now rebalances */
	cr_assert_eq(jb.calls, 0);
	h_join(c, "stable2", "", 3, 0, &jb);
	h_sync(c, "stable2", jb.member_id, 1, NULL, 0, 0, &sb);
	listed l = { 0 };
	cr_assert_eq(vs_coord_list(c, NULL, 0, on_list, &l), 4);
	cr_assert_eq(listed_state(&l, "completing"), VS_GROUP_COMPLETING_REBALANCE);
	cr_assert_eq(listed_state(&l, "stable"), VS_GROUP_PREPARING_REBALANCE);
	cr_assert_eq(listed_state(&l, "stable2"), VS_GROUP_STABLE);
	cr_assert_eq(listed_state(&l, "empty"), VS_GROUP_EMPTY);
	for (int i = 0; i < l.n; i++)
		cr_assert_str_eq(l.types[i], "consumer", "Empty keeps its last type too");
	vs_slice f1[2] = { S("stable"), S("EMPTY") };
	memset(&l, 0, sizeof l);
	cr_assert_eq(vs_coord_list(c, f1, 2, on_list, &l), 2);
	cr_assert_eq(listed_state(&l, "stable2"), VS_GROUP_STABLE);
	cr_assert_eq(listed_state(&l, "empty"), VS_GROUP_EMPTY);
	vs_slice f2[2] = { S("Dead"), S("bogus") };
	memset(&l, 0, sizeof l);
	cr_assert_eq(vs_coord_list(c, f2, 2, on_list, &l), 0, "nothing is Dead; bogus names match nothing");
	vs_coord_free(c);
}

/* ---- DescribeGroups ------------------------------------------------------------------------- */

Test(views, describe_in_each_state)
{
	vs_coord *c = coord();
	char s1[H_STR];
	join_one(c, "g", "static-client", "inst-1", s1, 0);
	/* CompletingRebalance: members, no metadata or protocol yet */
	described d = describe(c, "g");
	cr_assert_eq(d.known, 1);
	cr_assert_eq(d.state, VS_GROUP_COMPLETING_REBALANCE);
	cr_assert_str_eq(d.id, "g");
	cr_assert_str_eq(d.type, "consumer");
	cr_assert_str_eq(d.proto, "");
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(d.members[0], s1);
	cr_assert_str_eq(d.instances[0], "inst-1");
	cr_assert_str_eq(d.clients[0], "static-client");
	cr_assert_str_eq(d.hosts[0], "/127.0.0.1");
	cr_assert_str_eq(d.metadata[0], "");
	cr_assert_str_eq(d.assignment[0], "");
	/* Stable: protocol, metadata for it, assignment */
	sync_box sb;
	vs_sync_assignment a = { S(s1), S("part-0") };
	vs_sync_req sr = { S("g"), S(s1), S("inst-1"), VS_SLICE_NULL, VS_SLICE_NULL, 1, &a, 1 };
	memset(&sb, 0, sizeof sb);
	vs_coord_sync(c, &sr, 10, h_on_sync, &sb);
	cr_assert_eq(sb.error, KE_NONE);
	d = describe(c, "g");
	cr_assert_eq(d.state, VS_GROUP_STABLE);
	cr_assert_str_eq(d.proto, "range");
	cr_assert_str_eq(d.metadata[0], "meta");
	cr_assert_str_eq(d.assignment[0], "part-0");
	/* PreparingRebalance: members listed, metadata and protocol hidden */
	join_box jb;
	vs_join_req req = h_join_req("g", "", "dyn-client");
	req.client_host = VS_SLICE_NULL;
	memset(&jb, 0, sizeof jb);
	vs_coord_join(c, &req, 3, 20, h_on_join, &jb);
	d = describe(c, "g");
	cr_assert_eq(d.state, VS_GROUP_PREPARING_REBALANCE);
	cr_assert_str_eq(d.proto, "");
	cr_assert_eq(d.n, 2);
	cr_assert_str_eq(d.metadata[0], "");
	cr_assert_str_eq(d.assignment[0], "", "hidden (and reset) while rebalancing");
	cr_assert_eq(d.instance_null[1], 1, "a dynamic member has no instance id");
	cr_assert_str_eq(d.clients[1], "dyn-client");
	cr_assert_str_eq(d.hosts[1], "", "a null host reads as \"\"");
	vs_coord_free(c);
}

Test(views, describe_unknown_or_empty)
{
	vs_coord *c = coord();
	described d = describe(c, "nobody");
	cr_assert_eq(d.known, 0);
	cr_assert_eq(d.state, VS_GROUP_DEAD);
	cr_assert_str_eq(d.id, "nobody");
	cr_assert_str_eq(d.type, "");
	cr_assert_eq(d.n, 0);
	char id[H_STR];
	join_one(c, "g", "cl", NULL, id, 0);
	vs_leave_member lm = { S(id), VS_SLICE_NULL, 0 };
	vs_coord_leave(c, S("g"), &lm, 1, 5);
	d = describe(c, "g");
	cr_assert_eq(d.known, 1);
	cr_assert_eq(d.state, VS_GROUP_EMPTY);
	cr_assert_eq(d.n, 0);
	char longid[300];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	described none;
	memset(&none, 0, sizeof none);
	cr_assert_eq(vs_coord_describe(c, S(longid), on_describe, &none), KE_INVALID_GROUP_ID);
	cr_assert_eq(none.calls, 0);
	vs_coord_free(c);
}

/* ---- DeleteGroups ---------------------------------------------------------------------------- */

Test(views, delete_rules)
{
	vs_coord *c = coord();
	char id[H_STR];
	join_one(c, "busy", "cl", NULL, id, 0);
	cr_assert_eq(vs_coord_delete(c, S("busy"), 1), KE_NON_EMPTY_GROUP);
	cr_assert_eq(vs_coord_delete(c, S("busy"), 0), KE_NON_EMPTY_GROUP);
	vs_leave_member lm = { S(id), VS_SLICE_NULL, 0 };
	vs_coord_leave(c, S("busy"), &lm, 1, 5);
	/* Empty: deleted, and forgotten */
	cr_assert_eq(vs_coord_delete(c, S("busy"), 0), KE_NONE);
	vs_group_info info;
	cr_assert_not(vs_coord_group_info(c, S("busy"), &info));
	/* only the store knows it: fine; nobody knows it: not found */
	cr_assert_eq(vs_coord_delete(c, S("stored"), 1), KE_NONE);
	cr_assert_eq(vs_coord_delete(c, S("busy"), 0), KE_GROUP_ID_NOT_FOUND);
	char longid[300];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	cr_assert_eq(vs_coord_delete(c, S(longid), 1), KE_INVALID_GROUP_ID);
	/* a group that holds only pending ids is Empty: deletable; their
	 * rejoin starts over */
	join_box b;
	vs_join_req req = h_join_req("p", "", "cl");
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	cr_assert_eq(vs_coord_delete(c, S("p"), 0), KE_NONE);
	char pid[H_STR];
	strcpy(pid, b.member_id);
	req.member_id = S(pid);
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 1, h_on_join, &b);
	cr_assert_eq(b.error, KE_UNKNOWN_MEMBER_ID);
	h_check_invariants(c);
	vs_coord_free(c);
}

/* ---- info and metrics ------------------------------------------------------------------------ */

Test(views, info_and_stats)
{
	vs_coord *c = coord();
	vs_coord_stats st;
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.group_count, 0);
	cr_assert_eq(st.bytes_held, 0);
	char a[H_STR], b[H_STR];
	join_one(c, "g1", "cl", NULL, a, 0);
	join_one(c, "g2", "cl", NULL, b, 0);
	sync_box sb;
	h_sync(c, "g2", b, 1, NULL, 0, 0, &sb);
	join_box pend;
	vs_join_req req = h_join_req("g2", "", "cl");
	memset(&pend, 0, sizeof pend);
	vs_coord_join(c, &req, 4, 0, h_on_join, &pend);
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, S("g2"), &info));
	cr_assert_eq(info.state, VS_GROUP_STABLE);
	cr_assert_eq(info.generation_id, 1);
	cr_assert_eq(info.member_count, 1);
	cr_assert_eq(info.pending_count, 1);
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.group_count, 2);
	cr_assert_eq(st.groups[VS_GROUP_STABLE], 1);
	cr_assert_eq(st.groups[VS_GROUP_COMPLETING_REBALANCE], 1);
	cr_assert_eq(st.groups[VS_GROUP_EMPTY], 0);
	cr_assert_eq(st.members, 2);
	cr_assert_eq(st.pending_members, 1);
	cr_assert_eq(st.rebalances, 2);
	cr_assert_eq(st.generations, 2);
	cr_assert_gt(st.bytes_held, 2 * sizeof(vs_group));
	/* sessions end: counted */
	vs_coord_tick(c, 60000);
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.expired_sessions, 2);
	cr_assert_eq(st.members, 0);
	cr_assert_eq(st.groups[VS_GROUP_EMPTY], 2);
	cr_assert_eq(st.generations, 4, "going Empty is a generation, as in Kafka");
	vs_coord_free(c);
}
