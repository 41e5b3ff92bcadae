/* SPDX-License-Identifier: MIT */
/*
 * test_coord.c -- the group state machine (server/coord/coord.c), driven with
 * a fake clock: join/sync/heartbeat flows, rebalances, expiry, static
 * membership, the commit check, forget, bounds, and a seeded random run that
 * checks the invariants after every step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

typedef struct tmember {
	char id[H_STR];
	int32_t gen;
	join_box jb;
	sync_box sb;
} tmember;

static vs_coord *coord_with(vs_coord_config cfg)
{
	if (!cfg.seed)
		cfg.seed = 42;
	vs_coord *c = vs_coord_new(&cfg);
	cr_assert(c);
	return c;
}

static vs_coord *coord(void)
{
	return coord_with((vs_coord_config){ 0 });
}

static int group_state(const vs_coord *c, const char *group)
{
	vs_group_info info;
	if (!vs_coord_group_info(c, S(group), &info))
		return -1;
	return info.state;
}

static void take_join(tmember *m)
{
	cr_assert_eq(m->jb.calls, 1, "join answered %d times", m->jb.calls);
	cr_assert_eq(m->jb.error, KE_NONE, "join error %d", m->jb.error);
	strcpy(m->id, m->jb.member_id);
	m->gen = m->jb.generation;
}

static void rejoin(vs_coord *c, const char *group, tmember *m, int64_t now)
{
	h_join(c, group, m->id, 3, now, &m->jb);
}

static int leader_index(const tmember *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].jb.leader, m[i].id) == 0)
			return (int)i;
	return -1;
}

/* Followers sync first (held), then the leader with "id=asg-i" for each;
 * every member must get its own assignment. */
static void sync_all(vs_coord *c, const char *group, tmember *m, size_t n, int64_t now)
{
	int lead = leader_index(m, n);
	cr_assert(lead >= 0);
	char pairs[H_MAX_MEMBERS][H_STR];
	const char *pp[H_MAX_MEMBERS];
	for (size_t i = 0; i < n; i++) {
		snprintf(pairs[i], sizeof pairs[i], "%s=asg-%zu", m[i].id, i);
		pp[i] = pairs[i];
	}
	for (size_t i = 0; i < n; i++)
		if ((int)i != lead) {
			h_sync(c, group, m[i].id, m[i].gen, NULL, 0, now, &m[i].sb);
			cr_assert_eq(m[i].sb.calls, 0, "follower sync answered before the leader's");
		}
	h_sync(c, group, m[lead].id, m[lead].gen, pp, n, now, &m[lead].sb);
	for (size_t i = 0; i < n; i++) {
		char want[32];
		snprintf(want, sizeof want, "asg-%zu", i);
		cr_assert_eq(m[i].sb.calls, 1);
		cr_assert_eq(m[i].sb.error, KE_NONE);
		cr_assert_str_eq(m[i].sb.assignment, want);
	}
	cr_assert_eq(group_state(c, group), VS_GROUP_STABLE);
}

/* Build a Stable group of n members the way clients would with no initial
 * delay: each new member forces a rebalance the others rejoin. */
static void form_stable(vs_coord *c, const char *group, tmember *m, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		h_join(c, group, "", 3, now, &m[i].jb);
		for (size_t j = 0; j < i; j++)
			rejoin(c, group, &m[j], now);
		for (size_t j = 0; j <= i; j++)
			take_join(&m[j]);
	}
	sync_all(c, group, m, n, now);
}

/* ---- one member ------------------------------------------------------------------ */

Test(coord, one_member_join_sync_heartbeat)
{
	vs_coord *c = coord();
	tmember a = { 0 };
	h_join(c, "g", "", 3, 1000, &a.jb);
	/* No initial delay: a lone new member gets generation 1 at once. */
	take_join(&a);
	cr_assert_eq(a.gen, 1);
	cr_assert_str_eq(a.jb.leader, a.id);
	cr_assert_str_eq(a.jb.protocol, "range");
	cr_assert_str_eq(a.jb.protocol_type, "consumer");
	cr_assert_eq(a.jb.member_count, 1);
	cr_assert_str_eq(a.jb.members[0], a.id);
	cr_assert_str_eq(a.jb.metadata[0], "meta");
	cr_assert_eq(strncmp(a.id, "client-", 7), 0);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_COMPLETING_REBALANCE);
	/* Heartbeats are fine while the group waits for the assignment. */
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(a.id), VS_SLICE_NULL, 1, 1500), KE_NONE);
	sync_all(c, "g", &a, 1, 2000);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(a.id), VS_SLICE_NULL, 1, 3000), KE_NONE);
	/* A sync in Stable answers the stored assignment at once. */
	h_sync(c, "g", a.id, 1, NULL, 0, 3500, &a.sb);
	cr_assert_eq(a.sb.calls, 1);
	cr_assert_str_eq(a.sb.assignment, "asg-0");
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, session_is_refreshed_by_every_valid_call)
{
	vs_coord *c = coord();
	tmember a = { 0 };
	h_join(c, "g", "", 3, 0, &a.jb);
	take_join(&a);
	sync_all(c, "g", &a, 1, 0);
	/* 10 s sessions; a call every 9 s keeps the member for a minute. */
	for (int64_t t = 9000; t <= 63000; t += 9000) {
		vs_coord_tick(c, t);
		if ((t / 9000) % 3 == 0)
			cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(a.id), VS_SLICE_NULL, 1, t),
				     KE_NONE);
		else if ((t / 9000) % 3 == 1)
			cr_assert_eq(vs_coord_commit_check(c, S("g"), 1, S(a.id), VS_SLICE_NULL, t),
				     KE_NONE);
		else {
			h_sync(c, "g", a.id, 1, NULL, 0, t, &a.sb);
			cr_assert_eq(a.sb.error, KE_NONE);
		}
	}
	cr_assert_eq(group_state(c, "g"), VS_GROUP_STABLE);
	vs_coord_stats st;
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.expired_sessions, 0);
	/* Silence: gone 10 s after the last call. */
	vs_coord_tick(c, 72999);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_STABLE);
	vs_coord_tick(c, 73000);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_EMPTY);
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.expired_sessions, 1);
	vs_coord_free(c);
}

/* ---- MEMBER_ID_REQUIRED (KIP-394) --------------------------------------------------- */

Test(coord, member_id_required_flow)
{
	vs_coord *c = coord();
	join_box b;
	vs_join_req req = h_join_req("g", "", "my-client");
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 0, h_on_join, &b);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	cr_assert_eq(b.generation, -1);
	cr_assert(b.name_null && b.type_null);
	/* "<client_id>-" and a UUID's text form */
	cr_assert_eq(strlen(b.member_id), strlen("my-client-") + 36);
	cr_assert_eq(strncmp(b.member_id, "my-client-", 10), 0);
	cr_assert_eq(b.member_id[18], '-');
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.state, VS_GROUP_EMPTY);
	cr_assert_eq(info.member_count, 0);
	cr_assert_eq(info.pending_count, 1);
	/* The rejoin with that id is admitted. */
	char id[H_STR];
	strcpy(id, b.member_id);
	req.member_id = S(id);
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 100, h_on_join, &b);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.error, KE_NONE);
	cr_assert_str_eq(b.member_id, id);
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.member_count, 1);
	cr_assert_eq(info.pending_count, 0);
	/* Two fresh ids differ. */
	join_box b2;
	req.member_id = S("");
	memset(&b, 0, sizeof b);
	memset(&b2, 0, sizeof b2);
	vs_coord_join(c, &req, 5, 200, h_on_join, &b);
	vs_coord_join(c, &req, 5, 200, h_on_join, &b2);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	cr_assert_eq(b2.error, KE_MEMBER_ID_REQUIRED);
	cr_assert_str_neq(b.member_id, b2.member_id);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, below_v4_admitted_at_once)
{
	vs_coord *c = coord();
	join_box b;
	h_join(c, "g", "", 3, 0, &b);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.error, KE_NONE);
	cr_assert_eq(b.generation, 1);
	vs_coord_free(c);
}

Test(coord, unused_member_id_expires)
{
	vs_coord *c = coord();
	join_box b;
	vs_join_req req = h_join_req("g", "", "cl");
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	/* It lives one session timeout (10 s) of the join that made it. */
	cr_assert_eq(vs_coord_next_deadline(c), 10000);
	vs_coord_tick(c, 9999);
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.pending_count, 1);
	vs_coord_tick(c, 10000);
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.pending_count, 0);
	char id[H_STR];
	strcpy(id, b.member_id);
	req.member_id = S(id);
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 10001, h_on_join, &b);
	cr_assert_eq(b.error, KE_UNKNOWN_MEMBER_ID);
	vs_coord_free(c);
}

Test(coord, unknown_member_id_on_join)
{
	vs_coord *c = coord();
	join_box b;
	/* Unknown group with a member id: refused, no group made. */
	h_join(c, "nope", "ghost-1", 5, 0, &b);
	cr_assert_eq(b.error, KE_UNKNOWN_MEMBER_ID);
	cr_assert_str_eq(b.member_id, "ghost-1");
	cr_assert_eq(group_state(c, "nope"), -1);
	tmember a = { 0 };
	h_join(c, "g", "", 3, 0, &a.jb);
	take_join(&a);
	h_join(c, "g", "ghost-2", 5, 0, &b);
	cr_assert_eq(b.error, KE_UNKNOWN_MEMBER_ID);
	vs_coord_free(c);
}

/* ---- rebalances ----------------------------------------------------------------------- */

Test(coord, initial_delay_puts_starters_in_one_generation)
{
	vs_coord *c = coord_with((vs_coord_config){ .initial_rebalance_delay_ms = 3000 });
	tmember m[3] = { 0 };
	h_join(c, "g", "", 3, 0, &m[0].jb);
	cr_assert_eq(vs_coord_next_deadline(c), 3000);
	h_join(c, "g", "", 3, 1000, &m[1].jb);
	h_join(c, "g", "", 3, 2500, &m[2].jb);
	vs_coord_tick(c, 2999);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(m[i].jb.calls, 0);
	/* Members arrived during the delay: it is extended once more. */
	vs_coord_tick(c, 3000);
	cr_assert_eq(m[0].jb.calls, 0);
	cr_assert_eq(vs_coord_next_deadline(c), 6000);
	vs_coord_tick(c, 5999);
	cr_assert_eq(m[0].jb.calls, 0);
	vs_coord_tick(c, 6000);
	for (int i = 0; i < 3; i++) {
		take_join(&m[i]);
		cr_assert_eq(m[i].gen, 1);
		cr_assert_str_eq(m[i].jb.leader, m[0].jb.leader);
	}
	int lead = leader_index(m, 3);
	cr_assert_eq(m[lead].jb.member_count, 3);
	for (int i = 0; i < 3; i++)
		if (i != lead)
			cr_assert_eq(m[i].jb.member_count, 0);
	sync_all(c, "g", m, 3, 6100);
	vs_coord_stats st;
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.generations, 1);
	cr_assert_eq(st.rebalances, 1);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, initial_delay_ends_without_newcomers)
{
	vs_coord *c = coord_with((vs_coord_config){ .initial_rebalance_delay_ms = 3000 });
	join_box b;
	h_join(c, "g", "", 3, 0, &b);
	/* Even a lone member waits the delay; nobody else came: done. */
	vs_coord_tick(c, 2999);
	cr_assert_eq(b.calls, 0);
	vs_coord_tick(c, 3000);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.generation, 1);
	vs_coord_free(c);
}

Test(coord, initial_delay_capped_by_rebalance_timeout)
{
	vs_coord *c = coord_with((vs_coord_config){ .initial_rebalance_delay_ms = 3000 });
	join_box b[8];
	vs_join_req req = h_join_req("g", "", "cl");
	req.rebalance_timeout_ms = 7000;
	int64_t t = 0;
	for (int i = 0; i < 8; i++) {
		/* A newcomer every 2.9 s would extend forever without a cap. */
		memset(&b[i], 0, sizeof b[i]);
		vs_coord_join(c, &req, 3, t, h_on_join, &b[i]);
		vs_coord_tick(c, t);
		t += 2900;
		if (b[0].calls)
			break;
	}
	/* 3000 + 3000 + 1000 (the 7000 ms rebalance timeout) */
	cr_assert_eq(b[0].calls, 1);
	vs_coord_free(c);
	c = coord_with((vs_coord_config){ .initial_rebalance_delay_ms = 3000 });
	memset(&b[0], 0, sizeof b[0]);
	memset(&b[1], 0, sizeof b[1]);
	vs_coord_join(c, &req, 3, 0, h_on_join, &b[0]);
	vs_coord_join(c, &req, 3, 2000, h_on_join, &b[1]);
	vs_coord_tick(c, 3000);
	cr_assert_eq(vs_coord_next_deadline(c), 6000);
	memset(&b[2], 0, sizeof b[2]);
	vs_coord_join(c, &req, 3, 5000, h_on_join, &b[2]);
	vs_coord_tick(c, 6000);
	/* 1000 ms of the 7000 ms budget are left: the last extension. */
	cr_assert_eq(vs_coord_next_deadline(c), 7000);
	cr_assert_eq(b[0].calls, 0);
	vs_coord_tick(c, 7000);
	cr_assert_eq(b[0].calls, 1);
	cr_assert_eq(b[2].calls, 1);
	cr_assert_eq(b[2].generation, 1);
	vs_coord_free(c);
}

Test(coord, fourth_member_joins_a_stable_group)
{
	vs_coord *c = coord();
	tmember m[4] = { 0 };
	form_stable(c, "g", m, 3, 0);
	int32_t gen = m[0].gen;
	h_join(c, "g", "", 3, 1000, &m[3].jb);
	cr_assert_eq(m[3].jb.calls, 0, "the newcomer waits for the others");
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	for (int i = 0; i < 3; i++) {
		/* Members learn of the rebalance from their heartbeats... */
		cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[i].id), VS_SLICE_NULL, gen, 1100),
			     KE_REBALANCE_IN_PROGRESS);
		/* ...may still commit for their generation (while revoking)... */
		cr_assert_eq(vs_coord_commit_check(c, S("g"), gen, S(m[i].id), VS_SLICE_NULL, 1150),
			     KE_NONE);
		/* ...but a sync is refused. */
		h_sync(c, "g", m[i].id, gen, NULL, 0, 1160, &m[i].sb);
		cr_assert_eq(m[i].sb.error, KE_REBALANCE_IN_PROGRESS);
	}
	rejoin(c, "g", &m[0], 1200);
	rejoin(c, "g", &m[1], 1300);
	cr_assert_eq(m[3].jb.calls, 0);
	rejoin(c, "g", &m[2], 1400);
	for (int i = 0; i < 4; i++) {
		take_join(&m[i]);
		cr_assert_eq(m[i].gen, gen + 1);
		cr_assert_str_eq(m[i].jb.leader, m[0].jb.leader);
	}
	int lead = leader_index(m, 4);
	cr_assert_eq(m[lead].jb.member_count, 4);
	/* Commits wait for the assignment in CompletingRebalance. */
	cr_assert_eq(vs_coord_commit_check(c, S("g"), gen + 1, S(m[0].id), VS_SLICE_NULL, 1500),
		     KE_REBALANCE_IN_PROGRESS);
	/* The old generation is over. */
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[0].id), VS_SLICE_NULL, gen, 1500),
		     KE_ILLEGAL_GENERATION);
	sync_all(c, "g", m, 4, 1600);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), gen + 1, S(m[3].id), VS_SLICE_NULL, 1700),
		     KE_NONE);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, rebalance_timeout_removes_members_that_do_not_rejoin)
{
	vs_coord *c = coord();
	tmember m[3] = { 0 };
	form_stable(c, "g", m, 2, 0);
	int32_t gen = m[0].gen;
	h_join(c, "g", "", 3, 1000, &m[2].jb);
	rejoin(c, "g", &m[0], 1100);
	/* m[1] keeps heartbeating (it stays alive) but never rejoins. */
	for (int64_t t = 4000; t < 31000; t += 3000) {
		cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[1].id), VS_SLICE_NULL, gen, t),
			     KE_REBALANCE_IN_PROGRESS);
		vs_coord_tick(c, t);
	}
	cr_assert_eq(m[0].jb.calls, 0);
	/* Rebalance timeout 30 s from 1000. */
	cr_assert_eq(vs_coord_next_deadline(c) <= 31000, 1);
	vs_coord_tick(c, 31000);
	take_join(&m[0]);
	take_join(&m[2]);
	cr_assert_eq(m[0].gen, gen + 1);
	int lead = strcmp(m[0].jb.leader, m[0].id) == 0 ? 0 : 2;
	cr_assert_eq(m[lead].jb.member_count, 2);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[1].id), VS_SLICE_NULL, gen, 31001),
		     KE_UNKNOWN_MEMBER_ID);
	vs_coord_stats st;
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.removed_at_rebalance, 1);
	vs_coord_free(c);
}

/* A range-like assignment the test's leader computes: partition p goes to
 * member p % n in the leader's member list order. */
static void assign_partitions(const tmember *leader, char out[][H_STR], const char **pp)
{
	size_t n = leader->jb.member_count;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out[i], H_STR, "%s=", leader->jb.members[i]);
		for (int p = 0; p < 6; p++)
			if ((size_t)p % n == i)
				w += snprintf(out[i] + w, (size_t)(H_STR - w), "p%d,", p);
		pp[i] = out[i];
	}
}

static int owns(const char *assignment, int p)
{
	char tok[8];
	snprintf(tok, sizeof tok, "p%d,", p);
	return strstr(assignment, tok) != NULL;
}

Test(coord, silent_member_expires_and_its_partitions_move)
{
	vs_coord *c = coord();
	tmember m[3] = { 0 };
	char pairs[H_MAX_MEMBERS][H_STR];
	const char *pp[H_MAX_MEMBERS];
	form_stable(c, "g", m, 3, 0);
	int lead = leader_index(m, 3);
	/* Reassign partitions: the leader syncs again after a rejoin. */
	for (int i = 0; i < 3; i++)
		rejoin(c, "g", &m[i], 100);
	for (int i = 0; i < 3; i++)
		take_join(&m[i]);
	lead = leader_index(m, 3);
	assign_partitions(&m[lead], pairs, pp);
	for (int i = 0; i < 3; i++)
		if (i != lead)
			h_sync(c, "g", m[i].id, m[i].gen, NULL, 0, 200, &m[i].sb);
	h_sync(c, "g", m[lead].id, m[lead].gen, pp, 3, 200, &m[lead].sb);
	int silent = (lead + 1) % 3;
	int owned = -1;
	for (int p = 0; p < 6; p++)
		if (owns(m[silent].sb.assignment, p))
			owned = p;
	cr_assert(owned >= 0);
	/* The others heartbeat every 3 s; the silent one stops at 200. */
	int64_t t = 200;
	int32_t gen = m[lead].gen;
	for (; t < 10200; t += 3000) {
		for (int i = 0; i < 3; i++)
			if (i != silent)
				cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[i].id), VS_SLICE_NULL,
								gen, t), KE_NONE);
		vs_coord_tick(c, t);
	}
	vs_coord_tick(c, 10199);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_STABLE);
	vs_coord_tick(c, 10200);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[silent].id), VS_SLICE_NULL, gen, 10201),
		     KE_UNKNOWN_MEMBER_ID);
	tmember alive[2];
	int k = 0;
	for (int i = 0; i < 3; i++) {
		if (i == silent)
			continue;
		cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[i].id), VS_SLICE_NULL, gen, 10300),
			     KE_REBALANCE_IN_PROGRESS);
		alive[k] = m[i];
		rejoin(c, "g", &alive[k], 10400);
		k++;
	}
	for (int i = 0; i < 2; i++)
		take_join(&alive[i]);
	cr_assert_eq(alive[0].gen, gen + 1);
	int nl = leader_index(alive, 2);
	cr_assert_eq(alive[nl].jb.member_count, 2);
	assign_partitions(&alive[nl], pairs, pp);
	h_sync(c, "g", alive[1 - nl].id, alive[1 - nl].gen, NULL, 0, 10500, &alive[1 - nl].sb);
	h_sync(c, "g", alive[nl].id, alive[nl].gen, pp, 2, 10500, &alive[nl].sb);
	cr_assert(owns(alive[0].sb.assignment, owned) || owns(alive[1].sb.assignment, owned),
		  "the expired member's partition has a new owner");
	vs_coord_stats st;
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.expired_sessions, 1);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, leader_that_never_syncs_expires)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	h_join(c, "g", "", 3, 0, &m[0].jb);
	take_join(&m[0]);
	h_join(c, "g", "", 3, 0, &m[1].jb);
	rejoin(c, "g", &m[0], 0);
	take_join(&m[0]);
	take_join(&m[1]);
	int lead = leader_index(m, 2), fol = 1 - lead;
	h_sync(c, "g", m[fol].id, m[fol].gen, NULL, 0, 500, &m[fol].sb);
	cr_assert_eq(m[fol].sb.calls, 0);
	/* The follower waits (it does not expire while waiting); the leader
	 * neither syncs nor heartbeats: its session ends at 10 s. */
	vs_coord_tick(c, 9999);
	cr_assert_eq(m[fol].sb.calls, 0);
	vs_coord_tick(c, 10000);
	cr_assert_eq(m[fol].sb.calls, 1);
	cr_assert_eq(m[fol].sb.error, KE_REBALANCE_IN_PROGRESS);
	cr_assert(m[fol].sb.name_null);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	rejoin(c, "g", &m[fol], 10100);
	take_join(&m[fol]);
	cr_assert_str_eq(m[fol].jb.leader, m[fol].id);
	cr_assert_eq(m[fol].jb.member_count, 1);
	vs_coord_free(c);
}

Test(coord, heartbeating_leader_that_never_syncs_is_removed_after_rebalance_timeout)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	h_join(c, "g", "", 3, 0, &m[0].jb);
	take_join(&m[0]);
	h_join(c, "g", "", 3, 0, &m[1].jb);
	rejoin(c, "g", &m[0], 0);
	take_join(&m[0]);
	take_join(&m[1]);
	int lead = leader_index(m, 2), fol = 1 - lead;
	h_sync(c, "g", m[fol].id, m[fol].gen, NULL, 0, 0, &m[fol].sb);
	for (int64_t t = 3000; t < 30000; t += 3000) {
		cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[lead].id), VS_SLICE_NULL,
						m[lead].gen, t), KE_NONE);
		vs_coord_tick(c, t);
	}
	cr_assert_eq(m[fol].sb.calls, 0);
	/* 30 s rebalance timeout after the generation: the member that never
	 * sent SyncGroup is removed. */
	vs_coord_tick(c, 30000);
	cr_assert_eq(m[fol].sb.calls, 1);
	cr_assert_eq(m[fol].sb.error, KE_REBALANCE_IN_PROGRESS);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[lead].id), VS_SLICE_NULL, m[lead].gen,
					30001), KE_UNKNOWN_MEMBER_ID);
	vs_coord_stats st;
	vs_coord_stats_get(c, &st);
	cr_assert_eq(st.removed_at_rebalance, 1);
	vs_coord_free(c);
}

Test(coord, members_leave)
{
	vs_coord *c = coord();
	tmember m[3] = { 0 };
	form_stable(c, "g", m, 3, 0);
	int32_t gen = m[0].gen;
	vs_leave_member lm = { S(m[2].id), VS_SLICE_NULL, -99 };
	cr_assert_eq(vs_coord_leave(c, S("g"), &lm, 1, 100), KE_NONE);
	cr_assert_eq(lm.error, KE_NONE);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	/* Leaving twice: unknown now. */
	cr_assert_eq(vs_coord_leave(c, S("g"), &lm, 1, 110), KE_NONE);
	cr_assert_eq(lm.error, KE_UNKNOWN_MEMBER_ID);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[0].id), VS_SLICE_NULL, gen, 120),
		     KE_REBALANCE_IN_PROGRESS);
	rejoin(c, "g", &m[0], 130);
	cr_assert_eq(m[0].jb.calls, 0);
	/* The last member still expected leaves: the join phase completes
	 * with the ones that rejoined. */
	vs_leave_member several[3] = {
		{ S(m[1].id), VS_SLICE_NULL, -99 },
		{ S("nobody"), VS_SLICE_NULL, -99 },
		{ S(""), VS_SLICE_NULL, -99 },
	};
	cr_assert_eq(vs_coord_leave(c, S("g"), several, 3, 140), KE_NONE);
	cr_assert_eq(several[0].error, KE_NONE);
	cr_assert_eq(several[1].error, KE_UNKNOWN_MEMBER_ID);
	cr_assert_eq(several[2].error, KE_UNKNOWN_MEMBER_ID);
	take_join(&m[0]);
	cr_assert_eq(m[0].gen, gen + 1);
	cr_assert_eq(m[0].jb.member_count, 1);
	sync_all(c, "g", m, 1, 150);
	/* The last member leaves: Empty at once, with a new generation. */
	lm = (vs_leave_member){ S(m[0].id), VS_SLICE_NULL, -99 };
	cr_assert_eq(vs_coord_leave(c, S("g"), &lm, 1, 160), KE_NONE);
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.state, VS_GROUP_EMPTY);
	cr_assert_eq(info.generation_id, gen + 2);
	cr_assert_eq(info.member_count, 0);
	/* Unknown group: per member UNKNOWN_MEMBER_ID. */
	cr_assert_eq(vs_coord_leave(c, S("other"), &lm, 1, 170), KE_NONE);
	cr_assert_eq(lm.error, KE_UNKNOWN_MEMBER_ID);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, leave_answers_what_the_member_holds)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	form_stable(c, "g", m, 2, 0);
	h_join(c, "g", "", 3, 10, &m[1].jb); /* a third one forces a rebalance */
	join_box third = m[1].jb;
	rejoin(c, "g", &m[0], 20);
	cr_assert_eq(m[0].jb.calls, 0);
	vs_leave_member lm = { S(m[0].id), VS_SLICE_NULL, -99 };
	cr_assert_eq(vs_coord_leave(c, S("g"), &lm, 1, 30), KE_NONE);
	/* Its held join is answered: UNKNOWN_MEMBER_ID, no id. */
	cr_assert_eq(m[0].jb.calls, 1);
	cr_assert_eq(m[0].jb.error, KE_UNKNOWN_MEMBER_ID);
	cr_assert_str_eq(m[0].jb.member_id, "");
	(void)third;
	vs_coord_free(c);
}

Test(coord, leave_of_a_pending_id)
{
	vs_coord *c = coord();
	tmember a = { 0 };
	h_join(c, "g", "", 3, 0, &a.jb);
	take_join(&a);
	sync_all(c, "g", &a, 1, 0);
	join_box b;
	vs_join_req req = h_join_req("g", "", "cl");
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 5, 10, h_on_join, &b);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	vs_leave_member lm = { S(b.member_id), VS_SLICE_NULL, -99 };
	cr_assert_eq(vs_coord_leave(c, S("g"), &lm, 1, 20), KE_NONE);
	cr_assert_eq(lm.error, KE_NONE);
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.pending_count, 0);
	cr_assert_eq(info.state, VS_GROUP_STABLE, "a pending id leaving changes nothing else");
	vs_coord_free(c);
}

Test(coord, pending_id_holds_the_join_phase)
{
	vs_coord *c = coord();
	tmember a = { 0 };
	form_stable(c, "g", &a, 1, 0);
	/* A v4 newcomer gets its id; the leader's rejoin starts a rebalance
	 * that waits for the newcomer (Kafka: pending members count). */
	join_box b;
	vs_join_req req = h_join_req("g", "", "cl");
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 100, h_on_join, &b);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	rejoin(c, "g", &a, 200);
	cr_assert_eq(a.jb.calls, 0, "held for the pending id");
	char id[H_STR];
	strcpy(id, b.member_id);
	req.member_id = S(id);
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 300, h_on_join, &b);
	take_join(&a);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.generation, a.gen);
	cr_assert_eq(a.jb.member_count, 2);
	/* An id never used only holds it until it expires (10 s). */
	tmember m[2];
	memset(m, 0, sizeof m);
	m[0] = a;
	m[1].jb = b;
	take_join(&m[1]);
	sync_all(c, "g", m, 2, 400);
	memset(&b, 0, sizeof b);
	req.member_id = S("");
	vs_coord_join(c, &req, 4, 1000, h_on_join, &b);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	rejoin(c, "g", &m[0], 1100);
	rejoin(c, "g", &m[1], 1200);
	cr_assert_eq(m[0].jb.calls, 0);
	vs_coord_tick(c, 10999);
	cr_assert_eq(m[0].jb.calls, 0);
	vs_coord_tick(c, 11000);
	take_join(&m[0]);
	take_join(&m[1]);
	vs_coord_free(c);
}

/* ---- rejoins without a rebalance, superseded joins ------------------------------------ */

Test(coord, rejoin_with_same_metadata_gets_current_generation)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	h_join(c, "g", "", 3, 0, &m[0].jb);
	take_join(&m[0]);
	h_join(c, "g", "", 3, 0, &m[1].jb);
	rejoin(c, "g", &m[0], 0);
	take_join(&m[0]);
	take_join(&m[1]);
	int lead = leader_index(m, 2);
	int32_t gen = m[0].gen;
	/* CompletingRebalance: both get the generation again, the leader with
	 * the member list (it may have lost the first answer). */
	for (int i = 0; i < 2; i++) {
		rejoin(c, "g", &m[i], 100);
		take_join(&m[i]);
		cr_assert_eq(m[i].gen, gen);
		cr_assert_eq(m[i].jb.member_count, i == lead ? 2u : 0u);
	}
	sync_all(c, "g", m, 2, 200);
	/* Stable: a follower gets it at once... */
	rejoin(c, "g", &m[1 - lead], 300);
	take_join(&m[1 - lead]);
	cr_assert_eq(m[1 - lead].gen, gen);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_STABLE);
	/* ...the leader's join rebalances. */
	rejoin(c, "g", &m[lead], 400);
	cr_assert_eq(m[lead].jb.calls, 0);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	vs_coord_free(c);
}

Test(coord, follower_with_new_metadata_rebalances)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	form_stable(c, "g", m, 2, 0);
	int lead = leader_index(m, 2);
	vs_join_protocol p[1] = { { S("range"), S("new-topics") } };
	vs_join_req req = h_join_req("g", m[1 - lead].id, "client");
	req.protocols = p;
	memset(&m[1 - lead].jb, 0, sizeof m[1 - lead].jb);
	vs_coord_join(c, &req, 3, 100, h_on_join, &m[1 - lead].jb);
	cr_assert_eq(m[1 - lead].jb.calls, 0);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	rejoin(c, "g", &m[lead], 200);
	take_join(&m[lead]);
	cr_assert_eq(m[lead].jb.member_count, 2);
	int k = strcmp(m[lead].jb.members[0], m[1 - lead].id) == 0 ? 0 : 1;
	cr_assert_str_eq(m[lead].jb.metadata[k], "new-topics");
	vs_coord_free(c);
}

Test(coord, second_join_from_same_member_supersedes_the_first)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	form_stable(c, "g", m, 2, 0);
	int lead = leader_index(m, 2);
	join_box first;
	h_join(c, "g", m[lead].id, 3, 100, &first);
	cr_assert_eq(first.calls, 0);
	rejoin(c, "g", &m[lead], 200);
	cr_assert_eq(first.calls, 1);
	cr_assert_eq(first.error, KE_REBALANCE_IN_PROGRESS);
	cr_assert_eq(m[lead].jb.calls, 0);
	rejoin(c, "g", &m[1 - lead], 300);
	take_join(&m[lead]);
	cr_assert_eq(first.calls, 1, "a superseded join is answered once");
	vs_coord_free(c);
}

/* ---- protocols ------------------------------------------------------------------------ */

static void join_with(vs_coord *c, const char *group, const char *member, const char *type,
		      const vs_join_protocol *p, size_t n, int64_t now, join_box *b)
{
	vs_join_req req = h_join_req(group, member, "cl");
	req.protocol_type = S(type);
	req.protocols = p;
	req.protocol_count = n;
	memset(b, 0, sizeof *b);
	vs_coord_join(c, &req, 3, now, h_on_join, b);
}

/* Groups started at 0 with a 100 ms initial delay and newcomers in it: the
 * delay runs twice. */
static void settle(vs_coord *c)
{
	vs_coord_tick(c, 100);
	vs_coord_tick(c, 200);
}

Test(coord, protocol_vote)
{
	vs_coord *c = coord_with((vs_coord_config){ .initial_rebalance_delay_ms = 100 });
	vs_join_protocol a[2] = { { S("range"), S("A-range") }, { S("roundrobin"), S("A-rr") } };
	vs_join_protocol b[2] = { { S("roundrobin"), S("B-rr") }, { S("range"), S("B-range") } };
	vs_join_protocol cc[2] = { { S("range"), S("C-range") }, { S("roundrobin"), S("C-rr") } };
	vs_join_protocol rr[1] = { { S("roundrobin"), S("D-rr") } };
	join_box ba, bb, bc;
	/* range: 2 votes, roundrobin: 1 */
	join_with(c, "g1", "", "consumer", a, 2, 0, &ba);
	join_with(c, "g1", "", "consumer", b, 2, 0, &bb);
	join_with(c, "g1", "", "consumer", cc, 2, 0, &bc);
	settle(c);
	cr_assert_str_eq(ba.protocol, "range");
	cr_assert_str_eq(bb.protocol, "range");
	join_box *lead = strcmp(ba.leader, ba.member_id) == 0 ? &ba
			 : strcmp(bb.leader, bb.member_id) == 0 ? &bb : &bc;
	for (size_t i = 0; i < 3; i++)
		cr_assert(strstr(lead->metadata[i], "-range"), "metadata of the chosen protocol");
	/* only roundrobin is common: it wins though two prefer range */
	join_with(c, "g2", "", "consumer", a, 2, 0, &ba);
	join_with(c, "g2", "", "consumer", cc, 2, 0, &bb);
	join_with(c, "g2", "", "consumer", rr, 1, 0, &bc);
	settle(c);
	cr_assert_str_eq(ba.protocol, "roundrobin");
	cr_assert_str_eq(bc.protocol, "roundrobin");
	/* a tie goes to the first member's preference */
	join_with(c, "g3", "", "consumer", b, 2, 0, &ba);
	join_with(c, "g3", "", "consumer", a, 2, 0, &bb);
	settle(c);
	cr_assert_str_eq(ba.protocol, "roundrobin");
	vs_coord_free(c);
}

Test(coord, no_common_protocol_or_type)
{
	vs_coord *c = coord();
	vs_join_protocol range[1] = { { S("range"), S("m") } };
	vs_join_protocol sticky[1] = { { S("sticky"), S("m") } };
	join_box b1, b2;
	join_with(c, "g", "", "consumer", range, 1, 0, &b1);
	cr_assert_eq(b1.error, KE_NONE);
	join_with(c, "g", "", "consumer", sticky, 1, 0, &b2);
	cr_assert_eq(b2.error, KE_INCONSISTENT_GROUP_PROTOCOL);
	cr_assert_str_eq(b2.member_id, "");
	join_with(c, "g", "", "connect", range, 1, 0, &b2);
	cr_assert_eq(b2.error, KE_INCONSISTENT_GROUP_PROTOCOL);
	join_with(c, "g", "", "", range, 1, 0, &b2);
	cr_assert_eq(b2.error, KE_INCONSISTENT_GROUP_PROTOCOL);
	join_with(c, "g", "", "consumer", range, 0, 0, &b2);
	cr_assert_eq(b2.error, KE_INCONSISTENT_GROUP_PROTOCOL);
	/* A lone member may switch protocol; the group's type stays. */
	join_with(c, "g", b1.member_id, "consumer", sticky, 1, 10, &b2);
	cr_assert_eq(b2.error, KE_NONE);
	cr_assert_str_eq(b2.protocol, "sticky");
	/* A failed first join makes no group. */
	join_with(c, "h", "", "", range, 1, 0, &b2);
	cr_assert_eq(group_state(c, "h"), -1);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, repeated_protocol_names_count_once)
{
	vs_coord *c = coord();
	vs_join_protocol dup[3] = { { S("range"), S("first") }, { S("range"), S("second") },
				    { S("rr"), S("x") } };
	join_box b;
	join_with(c, "g", "", "consumer", dup, 3, 0, &b);
	cr_assert_eq(b.error, KE_NONE);
	cr_assert_str_eq(b.protocol, "range");
	cr_assert_str_eq(b.metadata[0], "first");
	vs_coord_free(c);
}

/* ---- errors everywhere ---------------------------------------------------------------- */

Test(coord, wrong_generation_and_unknown_member)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	form_stable(c, "g", m, 2, 0);
	int32_t gen = m[0].gen;
	sync_box sb;
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[0].id), VS_SLICE_NULL, gen + 1, 10),
		     KE_ILLEGAL_GENERATION);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[0].id), VS_SLICE_NULL, gen - 1, 10),
		     KE_ILLEGAL_GENERATION);
	h_sync(c, "g", m[0].id, gen + 1, NULL, 0, 10, &sb);
	cr_assert_eq(sb.error, KE_ILLEGAL_GENERATION);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), gen + 1, S(m[0].id), VS_SLICE_NULL, 10),
		     KE_ILLEGAL_GENERATION);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S("who"), VS_SLICE_NULL, gen, 10),
		     KE_UNKNOWN_MEMBER_ID);
	h_sync(c, "g", "who", gen, NULL, 0, 10, &sb);
	cr_assert_eq(sb.error, KE_UNKNOWN_MEMBER_ID);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), gen, S("who"), VS_SLICE_NULL, 10),
		     KE_UNKNOWN_MEMBER_ID);
	cr_assert_eq(vs_coord_heartbeat(c, S("none"), S(m[0].id), VS_SLICE_NULL, gen, 10),
		     KE_UNKNOWN_MEMBER_ID);
	h_sync(c, "none", m[0].id, gen, NULL, 0, 10, &sb);
	cr_assert_eq(sb.error, KE_UNKNOWN_MEMBER_ID);
	/* Sync naming another protocol (v5+ fields) */
	vs_sync_req sr = { S("g"), S(m[0].id), VS_SLICE_NULL, S("consumer"), S("roundrobin"), gen,
			   NULL, 0 };
	memset(&sb, 0, sizeof sb);
	vs_coord_sync(c, &sr, 10, h_on_sync, &sb);
	cr_assert_eq(sb.error, KE_INCONSISTENT_GROUP_PROTOCOL);
	sr.protocol_name = S("range");
	sr.protocol_type = S("connect");
	memset(&sb, 0, sizeof sb);
	vs_coord_sync(c, &sr, 10, h_on_sync, &sb);
	cr_assert_eq(sb.error, KE_INCONSISTENT_GROUP_PROTOCOL);
	sr.protocol_type = S("consumer");
	memset(&sb, 0, sizeof sb);
	vs_coord_sync(c, &sr, 10, h_on_sync, &sb);
	cr_assert_eq(sb.error, KE_NONE);
	cr_assert_str_eq(sb.protocol, "range");
	vs_coord_free(c);
}

Test(coord, invalid_group_id_and_session_timeout)
{
	vs_coord *c = coord();
	join_box b;
	sync_box sb;
	h_join(c, "", "", 3, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_GROUP_ID);
	h_sync(c, "", "m", 1, NULL, 0, 0, &sb);
	cr_assert_eq(sb.error, KE_INVALID_GROUP_ID);
	cr_assert_eq(vs_coord_heartbeat(c, S(""), S("m"), VS_SLICE_NULL, 1, 0), KE_INVALID_GROUP_ID);
	vs_leave_member lm = { S("m"), VS_SLICE_NULL, -99 };
	cr_assert_eq(vs_coord_leave(c, S(""), &lm, 1, 0), KE_INVALID_GROUP_ID);
	cr_assert_eq(lm.error, KE_INVALID_GROUP_ID);
	/* Commits accept the empty group id, as Kafka's do. */
	cr_assert_eq(vs_coord_commit_check(c, S(""), -1, S(""), VS_SLICE_NULL, 0), KE_NONE);
	int32_t bad[] = { 5999, 1800001, 0, -1 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		vs_join_req req = h_join_req("g", "", "cl");
		req.session_timeout_ms = bad[i];
		memset(&b, 0, sizeof b);
		vs_coord_join(c, &req, 3, 0, h_on_join, &b);
		cr_assert_eq(b.error, KE_INVALID_SESSION_TIMEOUT);
	}
	vs_join_req req = h_join_req("g", "", "cl");
	req.session_timeout_ms = 6000;
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 3, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_NONE);
	vs_coord_free(c);
	/* Configurable bounds */
	c = coord_with((vs_coord_config){ .min_session_timeout_ms = 1000,
					  .max_session_timeout_ms = 2000 });
	req.session_timeout_ms = 1000;
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 3, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_NONE);
	req.session_timeout_ms = 6000;
	req.group_id = S("g2");
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 3, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_INVALID_SESSION_TIMEOUT);
	vs_coord_free(c);
	cr_assert_null(vs_coord_new(&(vs_coord_config){ .min_session_timeout_ms = 5000,
							 .max_session_timeout_ms = 4000 }));
}

/* ---- OffsetCommit check ----------------------------------------------------------------- */

Test(coord, commit_check_rules)
{
	vs_coord *c = coord();
	/* Unknown group: simple consumers (generation -1) may commit. */
	cr_assert_eq(vs_coord_commit_check(c, S("g"), -1, S(""), VS_SLICE_NULL, 0), KE_NONE);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), -1, S("x"), VS_SLICE_NULL, 0), KE_NONE);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), 3, S("x"), VS_SLICE_NULL, 0),
		     KE_ILLEGAL_GENERATION);
	cr_assert_eq(group_state(c, "g"), -1, "a commit check makes no group");
	tmember m[1] = { 0 };
	form_stable(c, "g", m, 1, 0);
	/* A group with members: only its members. */
	cr_assert_eq(vs_coord_commit_check(c, S("g"), -1, S(""), VS_SLICE_NULL, 1),
		     KE_UNKNOWN_MEMBER_ID);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), -1, S(m[0].id), VS_SLICE_NULL, 1),
		     KE_ILLEGAL_GENERATION);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), m[0].gen, S(m[0].id), VS_SLICE_NULL, 1),
		     KE_NONE);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), m[0].gen, S(m[0].id), S("inst"), 1),
		     KE_UNKNOWN_MEMBER_ID);
	vs_leave_member lm = { S(m[0].id), VS_SLICE_NULL, 0 };
	vs_coord_leave(c, S("g"), &lm, 1, 2);
	/* Empty again: generation -1 commits go through, members' do not. */
	cr_assert_eq(vs_coord_commit_check(c, S("g"), -1, S("anything"), VS_SLICE_NULL, 3),
		     KE_NONE);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), m[0].gen, S(m[0].id), VS_SLICE_NULL, 3),
		     KE_UNKNOWN_MEMBER_ID);
	char longid[300];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	cr_assert_eq(vs_coord_commit_check(c, S(longid), -1, S(""), VS_SLICE_NULL, 3),
		     KE_INVALID_GROUP_ID);
	vs_coord_free(c);
}

/* ---- forget --------------------------------------------------------------------------- */

Test(coord, forget_drops_a_closing_connections_join)
{
	vs_coord *c = coord();
	tmember a = { 0 }, b = { 0 };
	form_stable(c, "g", &a, 1, 0);
	h_join(c, "g", "", 3, 100, &b.jb);
	cr_assert_eq(b.jb.calls, 0);
	vs_coord_forget(c, &b.jb, 200);
	rejoin(c, "g", &a, 300);
	/* b no longer waits, so the phase waits for it... */
	cr_assert_eq(a.jb.calls, 0);
	/* ...until its session (10 s from the close) ends. */
	vs_coord_tick(c, 10199);
	cr_assert_eq(a.jb.calls, 0);
	vs_coord_tick(c, 10200);
	take_join(&a);
	cr_assert_eq(a.jb.member_count, 1);
	cr_assert_eq(b.jb.calls, 0, "no callback after forget");
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, forgotten_member_may_come_back_on_a_new_connection)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	form_stable(c, "g", m, 2, 0);
	join_box lost;
	h_join(c, "g", m[0].id, 3, 100, &lost);
	vs_coord_forget(c, &lost, 150);
	rejoin(c, "g", &m[1], 200);
	cr_assert_eq(m[1].jb.calls, 0);
	rejoin(c, "g", &m[0], 300);
	take_join(&m[0]);
	take_join(&m[1]);
	cr_assert_eq(lost.calls, 0);
	vs_coord_free(c);
}

Test(coord, forget_drops_a_held_sync)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	h_join(c, "g", "", 3, 0, &m[0].jb);
	take_join(&m[0]);
	h_join(c, "g", "", 3, 0, &m[1].jb);
	rejoin(c, "g", &m[0], 0);
	take_join(&m[0]);
	take_join(&m[1]);
	int lead = leader_index(m, 2), fol = 1 - lead;
	h_sync(c, "g", m[fol].id, m[fol].gen, NULL, 0, 10, &m[fol].sb);
	vs_coord_forget(c, &m[fol].sb, 20);
	vs_coord_forget(c, (void *)0x1, 20); /* other connections change nothing */
	char pair[H_STR];
	snprintf(pair, sizeof pair, "%s=x", m[fol].id);
	const char *pp[1] = { pair };
	h_sync(c, "g", m[lead].id, m[lead].gen, pp, 1, 30, &m[lead].sb);
	cr_assert_eq(m[lead].sb.calls, 1);
	cr_assert_eq(m[fol].sb.calls, 0, "no callback after forget");
	/* It can fetch its assignment again in Stable. */
	h_sync(c, "g", m[fol].id, m[fol].gen, NULL, 0, 40, &m[fol].sb);
	cr_assert_str_eq(m[fol].sb.assignment, "x");
	h_check_invariants(c);
	vs_coord_free(c);
}

/* ---- static membership ------------------------------------------------------------------- */

static void static_join(vs_coord *c, const char *group, const char *member, const char *inst,
			const char *meta, int16_t version, int64_t now, join_box *b)
{
	static vs_join_protocol p[1];
	p[0] = (vs_join_protocol){ S("range"), S(meta) };
	vs_join_req req = h_join_req(group, member, "cl");
	req.group_instance_id = S(inst);
	req.protocols = p;
	memset(b, 0, sizeof *b);
	vs_coord_join(c, &req, version, now, h_on_join, b);
}

/* A Stable group of a static leader (instance "i1") and a dynamic member. */
static void static_group(vs_coord *c, tmember *m)
{
	static_join(c, "g", "", "i1", "meta", 5, 0, &m[0].jb);
	take_join(&m[0]);
	cr_assert_eq(strncmp(m[0].id, "i1-", 3), 0, "static ids start with the instance id");
	h_join(c, "g", "", 3, 0, &m[1].jb);
	static_join(c, "g", m[0].id, "i1", "meta", 5, 0, &m[0].jb);
	take_join(&m[0]);
	take_join(&m[1]);
	cr_assert_str_eq(m[0].jb.leader, m[0].id);
	sync_all(c, "g", m, 2, 0);
}

Test(coord, static_member_restart_keeps_its_slot)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	static_group(c, m);
	vs_coord_stats before, after;
	vs_coord_stats_get(c, &before);
	char old_id[H_STR];
	strcpy(old_id, m[0].id);
	join_box b;
	static_join(c, "g", "", "i1", "meta", 5, 100, &b);
	cr_assert_eq(b.calls, 1, "answered at once: no rebalance");
	cr_assert_eq(b.error, KE_NONE);
	cr_assert_str_neq(b.member_id, old_id);
	cr_assert_eq(b.generation, m[0].gen);
	/* below v9 the leader named is the old id, so it will not reassign */
	cr_assert_str_eq(b.leader, old_id);
	cr_assert_eq(b.member_count, 0);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_STABLE);
	vs_coord_stats_get(c, &after);
	cr_assert_eq(after.rebalances, before.rebalances);
	/* The old id is fenced, the new one works and gets the assignment. */
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(old_id), S("i1"), m[0].gen, 200),
		     KE_FENCED_INSTANCE_ID);
	cr_assert_eq(vs_coord_commit_check(c, S("g"), m[0].gen, S(old_id), S("i1"), 200),
		     KE_FENCED_INSTANCE_ID);
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(b.member_id), S("i1"), m[0].gen, 200),
		     KE_NONE);
	sync_box sb;
	vs_sync_req sr = { S("g"), S(b.member_id), S("i1"), VS_SLICE_NULL, VS_SLICE_NULL,
			   m[0].gen, NULL, 0 };
	memset(&sb, 0, sizeof sb);
	vs_coord_sync(c, &sr, 300, h_on_sync, &sb);
	cr_assert_eq(sb.error, KE_NONE);
	cr_assert_str_eq(sb.assignment, "asg-0");
	sr.member_id = S(old_id);
	memset(&sb, 0, sizeof sb);
	vs_coord_sync(c, &sr, 300, h_on_sync, &sb);
	cr_assert_eq(sb.error, KE_FENCED_INSTANCE_ID);
	static_join(c, "g", old_id, "i1", "meta", 5, 300, &b);
	cr_assert_eq(b.error, KE_FENCED_INSTANCE_ID);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, static_leader_restart_v9_skips_assignment)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	static_group(c, m);
	join_box b;
	static_join(c, "g", "", "i1", "meta", 9, 100, &b);
	cr_assert_eq(b.error, KE_NONE);
	cr_assert_str_eq(b.leader, b.member_id);
	cr_assert_eq(b.skip_assignment, 1);
	cr_assert_eq(b.member_count, 2);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_STABLE);
	vs_coord_free(c);
}

Test(coord, static_member_with_new_metadata_rebalances)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	static_group(c, m);
	join_box b;
	static_join(c, "g", "", "i1", "other-topics", 5, 100, &b);
	cr_assert_eq(b.calls, 0);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	rejoin(c, "g", &m[1], 200);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.error, KE_NONE);
	cr_assert_eq(b.generation, m[0].gen + 1);
	vs_coord_free(c);
}

Test(coord, static_restart_fences_a_held_join)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	static_group(c, m);
	rejoin(c, "g", &m[1], 50); /* follower... */
	join_box held, b;
	static_join(c, "g", m[0].id, "i1", "changed", 5, 60, &held); /* ...rebalance */
	h_join(c, "g", "", 3, 65, &b);                                   /* hold it open */
	cr_assert_eq(held.calls, 0);
	static_join(c, "g", "", "i1", "changed", 5, 70, &b);
	cr_assert_eq(held.calls, 1);
	cr_assert_eq(held.error, KE_FENCED_INSTANCE_ID);
	vs_coord_free(c);
}

Test(coord, static_member_not_rejoining_stays_until_its_session_ends)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	static_group(c, m);
	int32_t gen = m[0].gen;
	/* The dynamic member forces a rebalance; the static one (leader)
	 * keeps heartbeating but does not rejoin in time. */
	vs_join_protocol p[1] = { { S("range"), S("v2") } };
	vs_join_req req = h_join_req("g", m[1].id, "cl");
	req.protocols = p;
	memset(&m[1].jb, 0, sizeof m[1].jb);
	vs_coord_join(c, &req, 3, 0, h_on_join, &m[1].jb);
	for (int64_t t = 3000; t <= 30000; t += 3000) {
		vs_coord_heartbeat(c, S("g"), S(m[0].id), S("i1"), gen, t);
		vs_coord_tick(c, t);
	}
	take_join(&m[1]);
	/* Kept in the generation, though it did not rejoin (KIP-345). */
	cr_assert_str_eq(m[1].jb.leader, m[1].id);
	cr_assert_eq(m[1].jb.member_count, 2);
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.member_count, 2);
	/* It stops: gone after its session (from the generation at 30 s),
	 * and a rebalance follows; the other member stays alive. */
	cr_assert_eq(vs_coord_heartbeat(c, S("g"), S(m[1].id), VS_SLICE_NULL, m[1].gen, 39000),
		     KE_NONE);
	vs_coord_tick(c, 39999);
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.member_count, 2);
	vs_coord_tick(c, 40000);
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.member_count, 1);
	vs_coord_free(c);
}

Test(coord, leave_by_instance_id)
{
	vs_coord *c = coord();
	tmember m[2] = { 0 };
	static_group(c, m);
	vs_leave_member lm[2] = { { S(""), S("i1"), -99 }, { S(""), S("i9"), -99 } };
	cr_assert_eq(vs_coord_leave(c, S("g"), lm, 2, 10), KE_NONE);
	cr_assert_eq(lm[0].error, KE_NONE);
	cr_assert_eq(lm[1].error, KE_UNKNOWN_MEMBER_ID);
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, S("g"), &info));
	cr_assert_eq(info.member_count, 1);
	/* Fenced leave: right instance, wrong id */
	static_join(c, "g", "", "i2", "meta", 5, 20, &m[0].jb);
	vs_leave_member f = { S("stale-id"), S("i2"), -99 };
	cr_assert_eq(vs_coord_leave(c, S("g"), &f, 1, 30), KE_NONE);
	cr_assert_eq(f.error, KE_FENCED_INSTANCE_ID);
	vs_coord_free(c);
}

/* ---- bounds --------------------------------------------------------------------------------- */

Test(coord, group_max_size)
{
	vs_coord *c = coord_with((vs_coord_config){ .max_group_size = 2 });
	tmember m[2] = { 0 };
	form_stable(c, "g", m, 2, 0);
	join_box b;
	h_join(c, "g", "", 3, 10, &b);
	cr_assert_eq(b.error, KE_GROUP_MAX_SIZE_REACHED);
	cr_assert_str_eq(b.member_id, "");
	vs_join_req req = h_join_req("g", "", "cl");
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 5, 10, h_on_join, &b);
	cr_assert_eq(b.error, KE_GROUP_MAX_SIZE_REACHED);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_STABLE, "the group is left alone");
	/* Members themselves still rejoin. */
	rejoin(c, "g", &m[0], 20);
	rejoin(c, "g", &m[1], 20);
	take_join(&m[0]);
	take_join(&m[1]);
	vs_coord_free(c);
}

Test(coord, pending_ids_are_bounded)
{
	vs_coord *c = coord_with((vs_coord_config){ .max_group_size = 3 });
	join_box b;
	vs_join_req req = h_join_req("g", "", "cl");
	for (int i = 0; i < 3; i++) {
		memset(&b, 0, sizeof b);
		vs_coord_join(c, &req, 4, 0, h_on_join, &b);
		cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	}
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_GROUP_MAX_SIZE_REACHED);
	vs_coord_free(c);
}

Test(coord, group_id_length)
{
	vs_coord *c = coord();
	char id[300];
	memset(id, 'g', sizeof id);
	id[255] = 0;
	join_box b;
	h_join(c, id, "", 3, 0, &b);
	cr_assert_eq(b.error, KE_NONE, "255 bytes are fine");
	id[255] = 'g';
	id[256] = 0;
	h_join(c, id, "", 3, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_GROUP_ID);
	cr_assert_eq(vs_coord_heartbeat(c, S(id), S("m"), VS_SLICE_NULL, 1, 0), KE_INVALID_GROUP_ID);
	vs_coord_free(c);
	/* Group ids are bytes: NUL and high bytes are fine. */
	c = coord();
	static const uint8_t raw[4] = { 'a', 0, 0xff, 'b' };
	vs_join_req req = h_join_req("x", "", "cl");
	req.group_id = (vs_slice){ raw, 4 };
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 3, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_NONE);
	vs_group_info info;
	cr_assert(vs_coord_group_info(c, (vs_slice){ raw, 4 }, &info));
	cr_assert_not(vs_coord_group_info(c, (vs_slice){ raw, 1 }, &info));
	vs_coord_free(c);
}

Test(coord, group_count_bound_evicts_idle_empty_groups)
{
	vs_coord *c = coord_with((vs_coord_config){ .max_groups = 2 });
	tmember a = { 0 }, b = { 0 };
	form_stable(c, "g1", &a, 1, 0);
	form_stable(c, "g2", &b, 1, 0);
	join_box j;
	h_join(c, "g3", "", 3, 10, &j);
	cr_assert_eq(j.error, KE_COORDINATOR_NOT_AVAILABLE);
	cr_assert_eq(group_state(c, "g3"), -1);
	vs_leave_member lm = { S(a.id), VS_SLICE_NULL, 0 };
	vs_coord_leave(c, S("g1"), &lm, 1, 20);
	cr_assert_eq(group_state(c, "g1"), VS_GROUP_EMPTY);
	h_join(c, "g3", "", 3, 30, &j);
	cr_assert_eq(j.error, KE_NONE);
	cr_assert_eq(group_state(c, "g1"), -1, "the idle Empty group made room");
	cr_assert_eq(group_state(c, "g2"), VS_GROUP_STABLE);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, protocol_limits)
{
	vs_coord *c = coord_with((vs_coord_config){ .max_protocols = 2, .max_metadata_bytes = 10 });
	join_box b;
	vs_join_protocol three[3] = { { S("a"), S("") }, { S("b"), S("") }, { S("c"), S("") } };
	join_with(c, "g", "", "consumer", three, 3, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_REQUEST);
	vs_join_protocol big[2] = { { S("a"), S("123456") }, { S("b"), S("12345") } };
	join_with(c, "g", "", "consumer", big, 2, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_REQUEST, "11 bytes of metadata over 10");
	big[1].metadata = S("1234");
	join_with(c, "g", "", "consumer", big, 2, 0, &b);
	cr_assert_eq(b.error, KE_NONE);
	char name[300];
	memset(name, 'n', sizeof name);
	name[256] = 0;
	vs_join_protocol longname[1] = { { S(name), S("") } };
	join_with(c, "h", "", "consumer", longname, 1, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_REQUEST);
	join_with(c, "h", "", name, big, 1, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_REQUEST);
	static_join(c, "h", "", "", "meta", 5, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_REQUEST, "an empty instance id");
	static_join(c, "h", "", name, "meta", 5, 0, &b);
	cr_assert_eq(b.error, KE_INVALID_REQUEST);
	vs_coord_free(c);
}

Test(coord, long_client_id_is_cut_at_a_character)
{
	vs_coord *c = coord();
	/* 254 ASCII bytes then a 3-byte UTF-8 character across the 255 cut */
	char client[300];
	memset(client, 'c', 254);
	memcpy(client + 254, "\xe2\x82\xac", 3);
	strcpy(client + 257, "tail");
	vs_join_req req = h_join_req("g", "", client);
	join_box b;
	memset(&b, 0, sizeof b);
	vs_coord_join(c, &req, 4, 0, h_on_join, &b);
	cr_assert_eq(b.error, KE_MEMBER_ID_REQUIRED);
	cr_assert_eq(strlen(b.member_id), 254 + 37);
	cr_assert_eq(b.member_id[254], '-');
	vs_coord_free(c);
}

Test(coord, oversized_assignment_fails_the_generation)
{
	vs_coord *c = coord_with((vs_coord_config){ .max_assignment_bytes = 8 });
	tmember m[2] = { 0 };
	h_join(c, "g", "", 3, 0, &m[0].jb);
	take_join(&m[0]);
	h_join(c, "g", "", 3, 0, &m[1].jb);
	rejoin(c, "g", &m[0], 0);
	take_join(&m[0]);
	take_join(&m[1]);
	int lead = leader_index(m, 2), fol = 1 - lead;
	h_sync(c, "g", m[fol].id, m[fol].gen, NULL, 0, 10, &m[fol].sb);
	char p0[H_STR], p1[H_STR];
	snprintf(p0, sizeof p0, "%s=ok", m[lead].id);
	snprintf(p1, sizeof p1, "%s=123456789", m[fol].id);
	const char *pp[2] = { p0, p1 };
	h_sync(c, "g", m[lead].id, m[lead].gen, pp, 2, 20, &m[lead].sb);
	cr_assert_eq(m[lead].sb.error, KE_UNKNOWN_SERVER_ERROR);
	cr_assert_eq(m[fol].sb.error, KE_UNKNOWN_SERVER_ERROR);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_PREPARING_REBALANCE);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(coord, too_many_assignments_refused)
{
	vs_coord *c = coord_with((vs_coord_config){ .max_group_size = 2 });
	tmember a = { 0 };
	h_join(c, "g", "", 3, 0, &a.jb);
	take_join(&a);
	const char *pp[3] = { "a=1", "b=2", "c=3" };
	h_sync(c, "g", a.id, a.gen, pp, 3, 10, &a.sb);
	cr_assert_eq(a.sb.error, KE_INVALID_REQUEST);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_COMPLETING_REBALANCE);
	/* The last entry for a member wins; unknown members are ignored. */
	char p0[H_STR], p1[H_STR];
	snprintf(p0, sizeof p0, "%s=first", a.id);
	snprintf(p1, sizeof p1, "%s=second", a.id);
	const char *dup[2] = { p0, p1 };
	h_sync(c, "g", a.id, a.gen, dup, 2, 20, &a.sb);
	cr_assert_str_eq(a.sb.assignment, "second");
	vs_coord_free(c);
}

Test(coord, memory_budget)
{
	vs_coord *c = coord_with((vs_coord_config){ .max_total_bytes = 4096 });
	char meta[1500];
	memset(meta, 'm', sizeof meta - 1);
	meta[sizeof meta - 1] = 0;
	vs_join_protocol p[1] = { { S("range"), S(meta) } };
	join_box b;
	int refused = 0;
	for (int i = 0; i < 5 && !refused; i++) {
		join_with(c, "g", "", "consumer", p, 1, 0, &b);
		refused = b.error == KE_COORDINATOR_NOT_AVAILABLE;
		cr_assert(b.error == KE_NONE || refused);
	}
	cr_assert(refused, "the byte budget refuses joins");
	vs_coord_stats st;
	vs_coord_stats_get(c, &st);
	cr_assert_leq(st.bytes_held, 4096);
	h_check_invariants(c);
	vs_coord_free(c);
}

/* ---- deadlines and callbacks ------------------------------------------------------------ */

Test(coord, next_deadline)
{
	vs_coord *c = coord();
	cr_assert_eq(vs_coord_next_deadline(c), -1);
	tmember a = { 0 };
	h_join(c, "g", "", 3, 1000, &a.jb);
	take_join(&a);
	/* A lower bound: the join phase ended at 1000; a tick makes it exact
	 * (session 10 s; the sync wait, 30 s, is later). */
	cr_assert_leq(vs_coord_next_deadline(c), 11000);
	vs_coord_tick(c, 1000);
	cr_assert_eq(vs_coord_next_deadline(c), 11000);
	sync_all(c, "g", &a, 1, 2000);
	vs_coord_tick(c, 11000);
	cr_assert_eq(vs_coord_next_deadline(c), 12000);
	/* Expire; the Empty group lives 10 minutes, then is forgotten. */
	vs_coord_tick(c, 12000);
	cr_assert_eq(group_state(c, "g"), VS_GROUP_EMPTY);
	cr_assert_eq(vs_coord_next_deadline(c), 12000 + 600000);
	vs_coord_tick(c, 612000);
	cr_assert_eq(group_state(c, "g"), -1);
	cr_assert_eq(vs_coord_next_deadline(c), -1);
	vs_coord_free(c);
}

static vs_coord *reentrant_c;
static int16_t reentrant_result;

static void reentrant_cb(void *ctx, const vs_join_result *r)
{
	(void)r;
	reentrant_result = vs_coord_heartbeat(reentrant_c, S("g"), S("x"), VS_SLICE_NULL, 1, 0);
	*(int *)ctx += 1;
}

Test(coord, callbacks_may_not_reenter)
{
	reentrant_c = coord();
	int calls = 0;
	vs_join_req req = h_join_req("g", "", "cl");
	vs_coord_join(reentrant_c, &req, 3, 0, reentrant_cb, &calls);
	cr_assert_eq(calls, 1);
	cr_assert_eq(reentrant_result, KE_UNKNOWN_SERVER_ERROR);
	vs_coord_free(reentrant_c);
}

/* ---- seeded random run ---------------------------------------------------------------------- */

/*
 * Twelve simulated clients in two groups join, sync, heartbeat, commit, leave,
 * go silent, lose their connections (forget) and restart (static ones keep
 * their instance id), in a seeded random order with a random clock. After
 * every step: the records' invariants (harness), one leader (client) per
 * generation, generations that only grow, every join answered in one step
 * for one group carries the same generation and leader, the leader's list
 * holds exactly the members answered with that generation, assignments are
 * the ones that generation's leader sent, and no callback runs twice or
 * after forget (each client has at most one request out; a callback for a
 * client with none fails the test).
 */

#define R_CLIENTS 12
#define R_OLD_IDS 16

enum { R_IDLE, R_JOINED, R_STABLE, R_SILENT };

typedef struct rclient {
	int idx, group;
	char inst[16];
	int16_t version;
	int32_t session_ms, rebalance_ms;
	const vs_join_protocol *protos;
	size_t nprotos;
	char id[H_STR];
	char old[R_OLD_IDS][H_STR];
	int nold;
	int32_t gen;
	int state;
	int outstanding; /* 0, 1 join, 2 sync */
	int64_t silent_until;
	char leader[H_STR];
	size_t nlisted;
	char listed[H_MAX_MEMBERS][H_STR];
} rclient;

typedef struct revent {
	rclient *cl;
	int is_join;
	int16_t error;
	int32_t gen;
	char member_id[H_STR], leader[H_STR], assignment[H_STR];
	size_t nlisted;
	char listed[H_MAX_MEMBERS][H_STR];
} revent;

static struct rworld {
	vs_coord *c;
	rclient cl[R_CLIENTS];
	revent ev[4 * R_CLIENTS];
	size_t nev;
	int32_t max_gen[2];
	const rclient *gen_leader[2];
	uint64_t rng;
	int64_t now;
	uint32_t max_step_ms;
} W;

static const char *const r_groups[2] = { "alpha", "beta" };

static vs_join_protocol r_p_range[1] = { { { (const uint8_t *)"range", 5 }, { (const uint8_t *)"R", 1 } } };
static vs_join_protocol r_p_both[2] = { { { (const uint8_t *)"range", 5 }, { (const uint8_t *)"R", 1 } },
					{ { (const uint8_t *)"rr", 2 }, { (const uint8_t *)"Q", 1 } } };
static vs_join_protocol r_p_rev[2] = { { { (const uint8_t *)"rr", 2 }, { (const uint8_t *)"Q", 1 } },
				       { { (const uint8_t *)"range", 5 }, { (const uint8_t *)"R", 1 } } };
static vs_join_protocol r_p_rr[1] = { { { (const uint8_t *)"rr", 2 }, { (const uint8_t *)"Q", 1 } } };

static uint32_t rnd(uint32_t n)
{
	W.rng ^= W.rng << 13;
	W.rng ^= W.rng >> 7;
	W.rng ^= W.rng << 17;
	return (uint32_t)(W.rng % n);
}

static void r_forget_id(rclient *cl)
{
	if (cl->id[0]) {
		strcpy(cl->old[cl->nold % R_OLD_IDS], cl->id);
		cl->nold++;
	}
	cl->id[0] = 0;
}

static void r_set_id(rclient *cl, const char *id)
{
	if (strcmp(cl->id, id) != 0)
		r_forget_id(cl);
	strcpy(cl->id, id);
}

static const rclient *r_owner(const char *id)
{
	for (int i = 0; i < R_CLIENTS; i++) {
		const rclient *cl = &W.cl[i];
		if (strcmp(cl->id, id) == 0)
			return cl;
		for (int k = 0; k < R_OLD_IDS && k < cl->nold; k++)
			if (strcmp(cl->old[k], id) == 0)
				return cl;
	}
	return NULL;
}

/* The client behind a member id of a group. A static member's id may be one
 * its client never learned (its held join was forgotten): then the member's
 * instance id names the client. */
static const rclient *r_owner_in(int group, const char *id)
{
	const rclient *cl = r_owner(id);
	if (cl)
		return cl;
	const vs_group *g = vs_group_find(W.c, S(r_groups[group]));
	const vs_member *m = g ? vs_group_member(g, S(id), NULL) : NULL;
	if (!m || !m->instance_id.p)
		return NULL;
	for (int i = 0; i < R_CLIENTS; i++)
		if (vs_own_eq(m->instance_id, S(W.cl[i].inst)))
			return &W.cl[i];
	return NULL;
}

static int r_has_id(const rclient *cl, const char *id)
{
	return r_owner(id) == cl;
}

static revent *r_event(void *ctx, int is_join, int16_t error)
{
	rclient *cl = ctx;
	cr_assert_eq(cl->outstanding, is_join ? 1 : 2,
		     "client %d: callback without its request outstanding (twice or after forget)",
		     cl->idx);
	cl->outstanding = 0;
	cr_assert_lt(W.nev, sizeof W.ev / sizeof W.ev[0]);
	revent *e = &W.ev[W.nev++];
	memset(e, 0, sizeof *e);
	e->cl = cl;
	e->is_join = is_join;
	e->error = error;
	return e;
}

static void r_copy(char *out, vs_slice s)
{
	cr_assert_lt(s.len, (size_t)H_STR);
	if (s.len)
		memcpy(out, s.ptr, s.len);
	out[s.len] = 0;
}

static void r_on_join(void *ctx, const vs_join_result *r)
{
	revent *e = r_event(ctx, 1, r->error);
	e->gen = r->generation_id;
	r_copy(e->member_id, r->member_id);
	r_copy(e->leader, r->leader);
	cr_assert_leq(r->member_count, (size_t)H_MAX_MEMBERS);
	e->nlisted = r->member_count;
	for (size_t i = 0; i < r->member_count; i++)
		r_copy(e->listed[i], r->members[i].member_id);
}

static void r_on_sync(void *ctx, const vs_sync_result *r)
{
	revent *e = r_event(ctx, 0, r->error);
	r_copy(e->assignment, r->assignment);
}

static void r_join_event(revent *e)
{
	rclient *cl = e->cl;
	switch (e->error) {
	case KE_NONE:
		r_set_id(cl, e->member_id);
		cl->gen = e->gen;
		cl->state = R_JOINED;
		strcpy(cl->leader, e->leader);
		cl->nlisted = e->nlisted;
		memcpy(cl->listed, e->listed, sizeof cl->listed);
		break;
	case KE_MEMBER_ID_REQUIRED:
		cr_assert_eq(e->gen, -1);
		r_set_id(cl, e->member_id);
		cl->state = R_IDLE;
		break;
	case KE_REBALANCE_IN_PROGRESS:
		cl->state = R_IDLE;
		break;
	case KE_UNKNOWN_MEMBER_ID:
	case KE_FENCED_INSTANCE_ID:
	case KE_INCONSISTENT_GROUP_PROTOCOL:
	case KE_GROUP_MAX_SIZE_REACHED:
		r_forget_id(cl);
		cl->state = R_IDLE;
		break;
	default:
		cr_assert_fail("client %d: unexpected join error %d", cl->idx, e->error);
	}
}

/* One step's successful joins, per group: one generation, one leader
 * client, a new generation above every earlier one, and the leader's list
 * naming exactly the members answered with it. */
static void r_check_generation(int group)
{
	const revent *lead = NULL;
	int32_t gen = -1;
	for (size_t i = 0; i < W.nev; i++) {
		const revent *e = &W.ev[i];
		if (!e->is_join || e->error || e->cl->group != group)
			continue;
		const rclient *owner = r_owner_in(group, e->leader);
		cr_assert(owner, "leader id of no client");
		cr_assert_eq(owner->group, group);
		if (gen < 0) {
			gen = e->gen;
			cr_assert_geq(gen, W.max_gen[group], "generation went back");
			if (gen > W.max_gen[group]) {
				W.max_gen[group] = gen;
				W.gen_leader[group] = owner;
			}
		}
		cr_assert_eq(e->gen, gen, "one step, one generation per group");
		cr_assert_eq(owner, W.gen_leader[group], "one leader per generation");
		if (e->nlisted) {
			cr_assert_str_eq(e->leader, e->member_id, "only the leader gets the list");
			lead = e;
		}
	}
	if (!lead)
		return;
	for (size_t k = 0; k < lead->nlisted; k++) {
		const rclient *m = r_owner_in(group, lead->listed[k]);
		cr_assert(m && m->group == group, "listed member of no client of the group");
		/* Dynamic members are listed only once they rejoined (answered
		 * now or earlier in this generation); static ones are kept
		 * without rejoining (KIP-345). */
		if (m->inst[0])
			cr_assert_leq(m->gen, gen);
		else
			cr_assert_eq(m->gen, gen, "listed member not in the generation");
	}
	for (size_t i = 0; i < W.nev; i++) {
		const revent *e = &W.ev[i];
		if (!e->is_join || e->error || e->cl->group != group || e->gen != gen)
			continue;
		int found = 0;
		for (size_t k = 0; k < lead->nlisted; k++)
			found |= strcmp(lead->listed[k], e->member_id) == 0;
		cr_assert(found, "answered member missing from the leader's list");
	}
}

static void r_sync_event(revent *e)
{
	rclient *cl = e->cl;
	switch (e->error) {
	case KE_NONE: {
		/* The leader of cl's generation sent "<gen>:<member id>". */
		char want_gen[32];
		snprintf(want_gen, sizeof want_gen, "%d:", cl->gen);
		cr_assert_eq(strncmp(e->assignment, want_gen, strlen(want_gen)), 0,
			     "assignment of another generation: %s (gen %d)", e->assignment,
			     cl->gen);
		cr_assert(r_has_id(cl, e->assignment + strlen(want_gen)), "someone else's assignment");
		cl->state = R_STABLE;
		break;
	}
	case KE_REBALANCE_IN_PROGRESS:
	case KE_ILLEGAL_GENERATION:
		cl->state = R_IDLE;
		break;
	case KE_UNKNOWN_MEMBER_ID:
	case KE_FENCED_INSTANCE_ID:
		r_forget_id(cl);
		cl->state = R_IDLE;
		break;
	default:
		cr_assert_fail("client %d: unexpected sync error %d", cl->idx, e->error);
	}
}

static void r_join(rclient *cl)
{
	vs_join_req req = {
		.group_id = S(r_groups[cl->group]),
		.member_id = S(cl->id),
		.group_instance_id = cl->inst[0] ? S(cl->inst) : VS_SLICE_NULL,
		.client_id = S("rc"),
		.client_host = S("h"),
		.protocol_type = S("consumer"),
		.session_timeout_ms = cl->session_ms,
		.rebalance_timeout_ms = cl->rebalance_ms,
		.protocols = cl->protos,
		.protocol_count = cl->nprotos,
	};
	cl->outstanding = 1;
	vs_coord_join(W.c, &req, cl->version, W.now, r_on_join, cl);
}

static void r_sync(rclient *cl)
{
	vs_sync_assignment a[H_MAX_MEMBERS];
	char bytes[H_MAX_MEMBERS][H_STR + 16];
	size_t n = 0;
	if (strcmp(cl->leader, cl->id) == 0) {
		for (size_t k = 0; k < cl->nlisted; k++) {
			snprintf(bytes[k], sizeof bytes[k], "%d:%s", cl->gen, cl->listed[k]);
			a[k] = (vs_sync_assignment){ S(cl->listed[k]), S(bytes[k]) };
		}
		n = cl->nlisted;
	}
	vs_sync_req req = {
		.group_id = S(r_groups[cl->group]),
		.member_id = S(cl->id),
		.group_instance_id = cl->inst[0] ? S(cl->inst) : VS_SLICE_NULL,
		.generation_id = cl->gen,
		.assignments = a,
		.assignment_count = n,
	};
	cl->outstanding = 2;
	vs_coord_sync(W.c, &req, W.now, r_on_sync, cl);
}

static void r_heartbeat(rclient *cl)
{
	int16_t err = vs_coord_heartbeat(W.c, S(r_groups[cl->group]), S(cl->id),
					 cl->inst[0] ? S(cl->inst) : VS_SLICE_NULL, cl->gen, W.now);
	if (err == KE_REBALANCE_IN_PROGRESS || err == KE_ILLEGAL_GENERATION) {
		cl->state = R_IDLE;
	} else if (err == KE_UNKNOWN_MEMBER_ID || err == KE_FENCED_INSTANCE_ID) {
		r_forget_id(cl);
		cl->state = R_IDLE;
	} else {
		cr_assert_eq(err, KE_NONE, "heartbeat error %d", err);
	}
}

static void r_commit(rclient *cl)
{
	vs_slice inst = cl->inst[0] ? S(cl->inst) : VS_SLICE_NULL;
	int16_t err = vs_coord_commit_check(W.c, S(r_groups[cl->group]), cl->gen, S(cl->id), inst,
					    W.now);
	vs_group_info info;
	if (err == KE_NONE) {
		cr_assert(vs_coord_group_info(W.c, S(r_groups[cl->group]), &info));
		cr_assert_eq(info.generation_id, cl->gen, "commit allowed for an old generation");
		cr_assert(info.state == VS_GROUP_STABLE ||
			  info.state == VS_GROUP_PREPARING_REBALANCE);
	} else {
		cr_assert(err == KE_REBALANCE_IN_PROGRESS || err == KE_ILLEGAL_GENERATION ||
			  err == KE_UNKNOWN_MEMBER_ID || err == KE_FENCED_INSTANCE_ID,
			  "commit check error %d", err);
	}
}

static void r_leave(rclient *cl)
{
	vs_leave_member lm = { S(cl->id), cl->inst[0] ? S(cl->inst) : VS_SLICE_NULL, -99 };
	cr_assert_eq(vs_coord_leave(W.c, S(r_groups[cl->group]), &lm, 1, W.now), KE_NONE);
	cr_assert(lm.error == KE_NONE || lm.error == KE_UNKNOWN_MEMBER_ID ||
		  lm.error == KE_FENCED_INSTANCE_ID);
	r_forget_id(cl);
	cl->state = R_IDLE;
}

/* A member in a generation: mostly heartbeats. */
static void r_member_action(rclient *cl)
{
	uint32_t roll = rnd(100);
	if (cl->state == R_JOINED && roll < 50)
		r_sync(cl);
	else if (roll < 75)
		r_heartbeat(cl);
	else if (roll < 85)
		r_commit(cl);
	else if (roll < 89)
		r_leave(cl);
	else if (roll < 93) {
		cl->state = R_SILENT;
		cl->silent_until = W.now + rnd(30000);
	} else if (roll < 97) {
		r_join(cl); /* a rejoin with the same metadata */
	} else {
		/* A restart: a static client keeps its instance id. */
		r_forget_id(cl);
		r_join(cl);
	}
}

static void r_act(rclient *cl)
{
	if (cl->outstanding) {
		if (rnd(100) < 10) {
			/* The connection closes; the client will rejoin. */
			vs_coord_forget(W.c, cl, W.now);
			cl->outstanding = 0;
			cl->state = R_IDLE;
		}
		return;
	}
	if (cl->state == R_SILENT) {
		if (W.now < cl->silent_until)
			return;
		r_forget_id(cl);
		cl->state = R_IDLE;
	}
	if (cl->state == R_IDLE)
		r_join(cl);
	else
		r_member_action(cl);
}

static void r_setup(uint64_t seed)
{
	memset(&W, 0, sizeof W);
	W.rng = seed * 2654435761u + 1;
	W.c = coord_with((vs_coord_config){ .seed = seed,
					    .max_group_size = 5,
					    .initial_rebalance_delay_ms = (int32_t)rnd(2) * 500 });
	static const vs_join_protocol *const sets[5] = { r_p_range, r_p_both, r_p_rev, r_p_rr,
							 r_p_both };
	static const size_t nsets[5] = { 1, 2, 2, 1, 2 };
	for (int i = 0; i < R_CLIENTS; i++) {
		rclient *cl = &W.cl[i];
		cl->idx = i;
		cl->group = i % 2;
		int k = (int)rnd(5);
		cl->protos = sets[k];
		cl->nprotos = nsets[k];
		cl->version = (int16_t)(3 + rnd(3));
		if (rnd(4) == 0) {
			snprintf(cl->inst, sizeof cl->inst, "inst-%d", i);
			cl->version = 5;
		}
		cl->session_ms = 6000 + (int32_t)rnd(9000);
		cl->rebalance_ms = 5000 + (int32_t)rnd(20000);
	}
}

static void r_step(void)
{
	W.nev = 0;
	r_act(&W.cl[rnd(R_CLIENTS)]);
	W.now += rnd(W.max_step_ms);
	int64_t due = vs_coord_next_deadline(W.c);
	if ((due >= 0 && W.now >= due) || rnd(4) == 0)
		vs_coord_tick(W.c, W.now);
	/* Successful joins first (they set generations and leaders). */
	for (size_t i = 0; i < W.nev; i++)
		if (W.ev[i].is_join && W.ev[i].error == KE_NONE)
			r_join_event(&W.ev[i]);
	for (int gi = 0; gi < 2; gi++)
		r_check_generation(gi);
	for (size_t i = 0; i < W.nev; i++) {
		if (W.ev[i].is_join && W.ev[i].error != KE_NONE)
			r_join_event(&W.ev[i]);
		else if (!W.ev[i].is_join)
			r_sync_event(&W.ev[i]);
	}
	h_check_invariants(W.c);
	vs_group_info info;
	for (int gi = 0; gi < 2; gi++) {
		if (!vs_coord_group_info(W.c, S(r_groups[gi]), &info)) {
			W.max_gen[gi] = 0; /* forgotten: a new group starts over */
			continue;
		}
		cr_assert_geq(info.generation_id, W.max_gen[gi]);
		/* group.max.size bounds those that rejoin (while rebalancing,
		 * the others wait to be removed, never beyond twice the limit);
		 * static members kept without rejoining come on top. */
		size_t statics = 0;
		for (int i = gi; i < R_CLIENTS; i += 2)
			statics += W.cl[i].inst[0] != 0;
		if (info.state == VS_GROUP_PREPARING_REBALANCE) {
			const vs_group *g = vs_group_find(W.c, S(r_groups[gi]));
			size_t waiting = 0;
			for (size_t i = 0; i < g->nmembers; i++)
				waiting += g->members[i]->join_cb != NULL;
			cr_assert_leq(waiting, 5u);
			cr_assert_leq(info.member_count, 10u);
		} else {
			cr_assert_leq(info.member_count, 5u + statics);
		}
	}
}

static void r_run(uint64_t seed, int steps, uint32_t max_step_ms)
{
	r_setup(seed);
	W.max_step_ms = max_step_ms;
	for (int s = 0; s < steps; s++)
		r_step();
	vs_coord_stats st;
	vs_coord_stats_get(W.c, &st);
	/* The run must have exercised the machine, not idled. */
	cr_assert_gt(st.generations, 20u, "seed %llu: only %llu generations",
		     (unsigned long long)seed, (unsigned long long)st.generations);
	cr_assert_gt(st.expired_sessions + st.removed_at_rebalance, 0u);
	/* Drain: every connection closes, time passes; nothing is left. */
	for (int i = 0; i < R_CLIENTS; i++) {
		vs_coord_forget(W.c, &W.cl[i], W.now);
		W.cl[i].outstanding = 0;
	}
	W.now += 3600 * 1000;
	vs_coord_tick(W.c, W.now);
	W.now += 3600 * 1000;
	vs_coord_tick(W.c, W.now);
	vs_coord_stats_get(W.c, &st);
	cr_assert_eq(st.group_count, 0);
	cr_assert_eq(st.bytes_held, 0, "bytes left: %llu", (unsigned long long)st.bytes_held);
	cr_assert_eq(vs_coord_next_deadline(W.c), -1);
	vs_coord_free(W.c);
}

/* A fast clock: sessions end all the time; a slow one: longer Stable runs. */
Test(coord_random, seed_1_fast) { r_run(1, 4000, 1500); }
Test(coord_random, seed_2_fast) { r_run(2, 4000, 1500); }
Test(coord_random, seed_3_slow) { r_run(3, 4000, 300); }
Test(coord_random, seed_4_slow) { r_run(4, 4000, 300); }

/* A callback whose write fails closes its connection and another one's:
 * forget is allowed there, and the other held join is then never answered. */
static vs_coord *forget_c;
static join_box forget_other;

static void forgetting_cb(void *ctx, const vs_join_result *r)
{
	h_on_join(ctx, r);
	vs_group_info info;
	cr_assert(vs_coord_group_info(forget_c, S("g"), &info), "info works in a callback");
	vs_coord_forget(forget_c, &forget_other, 0);
}

Test(coord, forget_inside_a_callback)
{
	forget_c = coord_with((vs_coord_config){ .initial_rebalance_delay_ms = 100 });
	join_box first;
	memset(&first, 0, sizeof first);
	memset(&forget_other, 0, sizeof forget_other);
	vs_join_req req = h_join_req("g", "", "cl");
	vs_coord_join(forget_c, &req, 3, 0, forgetting_cb, &first);
	vs_coord_join(forget_c, &req, 3, 0, h_on_join, &forget_other);
	vs_coord_tick(forget_c, 100);
	vs_coord_tick(forget_c, 200);
	cr_assert_eq(first.calls, 1);
	cr_assert_eq(first.member_count, 2);
	cr_assert_eq(forget_other.calls, 0, "forgotten inside the first callback");
	h_check_invariants(forget_c);
	vs_coord_free(forget_c);
}
