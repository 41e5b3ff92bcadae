/* SPDX-License-Identifier: MIT */
/*
 * test_group.c -- the coordinator's storage (server/coord/group.c), white
 * box: owned strings, protocol sets, UTF-8 cuts, member ids, the protocol
 * vote and support check, the group table, eviction, deadlines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static vs_coord *coord(void)
{
	vs_coord *c = vs_coord_new(&(vs_coord_config){ .seed = 7 });
	cr_assert(c);
	return c;
}

Test(group, owned_strings_keep_null_apart_from_empty)
{
	vs_own o = { NULL, 0 };
	cr_assert_eq(vs_own_set(&o, S("")), 0);
	cr_assert_not_null(o.p, "\"\" is not null");
	cr_assert_eq(o.len, 0);
	cr_assert(vs_own_eq(o, S("")));
	cr_assert_not(vs_own_eq(o, VS_SLICE_NULL));
	cr_assert_eq(vs_own_set(&o, S("abc")), 0);
	cr_assert_eq(o.p[3], 0, "NUL-ended");
	cr_assert(vs_own_eq(o, S("abc")));
	cr_assert_not(vs_own_eq(o, S("abd")));
	cr_assert_not(vs_own_eq(o, S("ab")));
	cr_assert_eq(vs_own_set(&o, VS_SLICE_NULL), 0);
	cr_assert_null(o.p);
	vs_own_free(&o);
	cr_assert(vs_slice_same(VS_SLICE_NULL, S("")));
	cr_assert_not(vs_slice_same(S("a"), S("b")));
}

Test(group, protoset_copies_dedupes_and_limits)
{
	char meta[] = "m1";
	vs_join_protocol p[3] = { { S("range"), S(meta) }, { S("rr"), S("m2") },
				  { S("range"), S("dup") } };
	vs_protoset *ps;
	cr_assert_eq(vs_protoset_new(p, 3, 8, 100, &ps), KE_NONE);
	meta[0] = 'X'; /* a copy, not a borrow */
	cr_assert_eq(ps->n, 2);
	cr_assert(slice_is(ps->p[0].name, "range"));
	cr_assert(slice_is(ps->p[0].metadata, "m1"));
	cr_assert(slice_is(ps->p[1].name, "rr"));
	cr_assert_eq(ps->bytes, strlen("range") + 1 + 2 + strlen("rr") + 1 + 2);
	cr_assert_eq(vs_protoset_find(ps, S("rr")), 1);
	cr_assert_eq(vs_protoset_find(ps, S("sticky")), -1);
	vs_protoset *same;
	cr_assert_eq(vs_protoset_new(p, 2, 8, 100, &same), KE_NONE);
	cr_assert_not(vs_protoset_eq(ps, same), "metadata differs (m1 vs Xm1)");
	free(same);
	p[0].metadata = S("m1");
	cr_assert_eq(vs_protoset_new(p, 2, 8, 100, &same), KE_NONE);
	cr_assert(vs_protoset_eq(ps, same));
	free(same);
	vs_join_protocol swapped[2] = { p[1], p[0] };
	cr_assert_eq(vs_protoset_new(swapped, 2, 8, 100, &same), KE_NONE);
	cr_assert_not(vs_protoset_eq(ps, same), "order is preference");
	free(same);
	free(ps);
	/* limits */
	cr_assert_eq(vs_protoset_new(p, 0, 8, 100, &ps), KE_INCONSISTENT_GROUP_PROTOCOL);
	cr_assert_eq(vs_protoset_new(p, 3, 2, 100, &ps), KE_INVALID_REQUEST);
	cr_assert_eq(vs_protoset_new(p, 2, 8, 3, &ps), KE_INVALID_REQUEST, "4 metadata bytes");
	cr_assert_eq(vs_protoset_new(p, 2, 8, 4, &ps), KE_NONE);
	free(ps);
	/* a duplicate's metadata does not count */
	cr_assert_eq(vs_protoset_new(p, 3, 8, 4, &ps), KE_NONE);
	free(ps);
	/* metadata close to UINT32_MAX cannot wrap the sum */
	vs_join_protocol huge[2] = { { S("a"), { (const uint8_t *)"x", 0xFFFFFFF0u } },
				     { S("b"), { (const uint8_t *)"x", 0x20 } } };
	cr_assert_eq(vs_protoset_new(huge, 2, 8, 0xFFFFFFFFu, &ps), KE_INVALID_REQUEST);
	char name[300];
	memset(name, 'n', sizeof name);
	name[VS_COORD_MAX_NAME + 1] = 0;
	vs_join_protocol longname[1] = { { S(name), S("") } };
	cr_assert_eq(vs_protoset_new(longname, 1, 8, 100, &ps), KE_INVALID_REQUEST);
	name[VS_COORD_MAX_NAME] = 0;
	longname[0].name = S(name);
	cr_assert_eq(vs_protoset_new(longname, 1, 8, 100, &ps), KE_NONE);
	free(ps);
}

Test(group, utf8_cut)
{
	vs_slice s = S("ab\xe2\x82\xac" "cd"); /* a b EURO c d */
	cr_assert_eq(vs_utf8_cut(s, 10).len, 7);
	cr_assert_eq(vs_utf8_cut(s, 5).len, 5, "after the whole character");
	cr_assert_eq(vs_utf8_cut(s, 4).len, 2, "not inside it");
	cr_assert_eq(vs_utf8_cut(s, 3).len, 2);
	cr_assert_eq(vs_utf8_cut(s, 2).len, 2);
	cr_assert_eq(vs_utf8_cut(s, 0).len, 0);
	/* nothing but continuation bytes: cut to nothing, no underflow */
	vs_slice cont = S("\x80\x80\x80\x80");
	cr_assert_eq(vs_utf8_cut(cont, 2).len, 0);
}

Test(group, member_ids_are_unique_and_shaped)
{
	vs_coord *c = coord();
	vs_group *g = vs_group_create(c, S("g"), 0);
	cr_assert(g);
	char seen[200][64];
	for (int i = 0; i < 200; i++) {
		vs_own id = { NULL, 0 };
		cr_assert_eq(vs_member_id_new(c, g, S("cl"), &id), 0);
		cr_assert_eq(id.len, 2 + 37);
		cr_assert_eq(memcmp(id.p, "cl-", 3), 0);
		for (size_t k = 3; k < id.len; k++) {
			size_t pos = k - 3;
			if (pos == 8 || pos == 13 || pos == 18 || pos == 23)
				cr_assert_eq(id.p[k], '-');
			else
				cr_assert(strchr("0123456789abcdef", id.p[k]) && id.p[k]);
		}
		memcpy(seen[i], id.p, id.len + 1);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(seen[i], seen[j]);
		/* keep it taken, as a pending id */
		cr_assert_eq(vs_group_add_pending(c, g, &id, 100), 0);
		vs_coord_arm(c, g, 100);
	}
	/* The same seed gives the same ids: tests can rely on them. */
	vs_coord *c2 = coord();
	vs_own id = { NULL, 0 };
	cr_assert_eq(vs_member_id_new(c2, NULL, S("cl"), &id), 0);
	cr_assert_str_eq((char *)id.p, seen[0]);
	vs_own_free(&id);
	vs_coord_free(c2);
	h_check_invariants(c);
	vs_coord_free(c);
}

/* A member with the given protocols, straight into the group. */
static vs_member *add(vs_coord *c, vs_group *g, const char *id, const vs_join_protocol *p,
		      size_t n, int32_t rebalance_ms)
{
	vs_protoset *ps;
	cr_assert_eq(vs_protoset_new(p, n, 8, 1000, &ps), KE_NONE);
	vs_join_req req = h_join_req("g", id, "cl");
	vs_own own = { NULL, 0 };
	cr_assert_eq(vs_own_set(&own, S(id)), 0);
	cr_assert(vs_coord_rows_reserve(c, g->nmembers + 1) == 0);
	vs_member *m = vs_member_new(&own, &req, ps);
	cr_assert(m);
	cr_assert_null(own.p, "the id was taken");
	m->rebalance_timeout_ms = rebalance_ms;
	cr_assert_eq(vs_group_add_member(c, g, m), 0);
	vs_coord_arm(c, g, m->deadline); /* the state machine's job, done by hand */
	return m;
}

Test(group, vote_and_support)
{
	vs_coord *c = coord();
	vs_group *g = vs_group_create(c, S("g"), 0);
	vs_join_protocol range_rr[2] = { { S("range"), S("") }, { S("rr"), S("") } };
	vs_join_protocol rr_range[2] = { { S("rr"), S("") }, { S("range"), S("") } };
	vs_join_protocol rr[1] = { { S("rr"), S("") } };
	vs_join_protocol sticky[1] = { { S("sticky"), S("") } };
	vs_protoset *ps_sticky, *ps_rr;
	cr_assert_eq(vs_protoset_new(sticky, 1, 8, 100, &ps_sticky), KE_NONE);
	cr_assert_eq(vs_protoset_new(rr, 1, 8, 100, &ps_rr), KE_NONE);
	vs_slice p;
	cr_assert_eq(vs_group_select_protocol(g, &p), -1, "no members, no vote");
	cr_assert(vs_group_supports(g, S("consumer"), ps_sticky, NULL), "anything fits an empty group");
	cr_assert_not(vs_group_supports(g, S(""), ps_sticky, NULL), "but not an empty type");
	vs_member *a = add(c, g, "a", range_rr, 2, 100);
	memcpy(g->protocol_type, "consumer", 8);
	g->protocol_type_len = 8;
	g->has_protocol_type = 1;
	cr_assert_eq(g->leader, a);
	cr_assert_eq(vs_group_select_protocol(g, &p), 0);
	cr_assert(slice_is(p, "range"));
	cr_assert_not(vs_group_supports(g, S("consumer"), ps_sticky, NULL));
	cr_assert(vs_group_supports(g, S("consumer"), ps_sticky, a), "a lone member may switch");
	cr_assert_not(vs_group_supports(g, S("connect"), ps_sticky, a), "not the type");
	cr_assert(vs_group_supports(g, S("consumer"), ps_rr, NULL));
	add(c, g, "b", rr_range, 2, 300);
	cr_assert_eq(vs_group_select_protocol(g, &p), 0);
	cr_assert(slice_is(p, "range"), "1-1 tie: the first member's preference");
	add(c, g, "c", rr_range, 2, 200);
	cr_assert_eq(vs_group_select_protocol(g, &p), 0);
	cr_assert(slice_is(p, "rr"), "2 votes to 1");
	cr_assert_eq(vs_group_rebalance_timeout(g), 300);
	add(c, g, "d", rr, 1, 50);
	cr_assert_eq(vs_group_select_protocol(g, &p), 0);
	cr_assert(slice_is(p, "rr"), "the only common one");
	/* lookups */
	size_t idx = 99;
	cr_assert_eq(vs_group_member(g, S("c"), &idx)->rebalance_timeout_ms, 200);
	cr_assert_eq(idx, 2);
	cr_assert_null(vs_group_member(g, S("zz"), NULL));
	cr_assert_null(vs_group_member(g, VS_SLICE_NULL, NULL));
	cr_assert_null(vs_group_static(g, S("a")), "no instance ids here");
	/* dropping the leader promotes the first remaining member */
	vs_group_drop_member(c, g, 0);
	cr_assert_eq(g->nmembers, 3);
	cr_assert(vs_own_eq(g->leader->id, S("b")));
	h_check_invariants(c);
	free(ps_sticky);
	free(ps_rr);
	vs_coord_free(c);
}

Test(group, table_grows_and_finds_every_group)
{
	vs_coord *c = vs_coord_new(&(vs_coord_config){ .seed = 7, .max_groups = 5000 });
	char name[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof name, "group-%d", i);
		cr_assert(vs_group_create(c, S(name), i));
	}
	cr_assert_geq(c->nbuckets, 3000);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof name, "group-%d", i);
		vs_group *g = vs_group_find(c, S(name));
		cr_assert(g && vs_own_eq(g->id, S(name)));
	}
	cr_assert_null(vs_group_find(c, S("group-3000")));
	/* the empty id is a group id like any other (commits allow it) */
	cr_assert_null(vs_group_find(c, S("")));
	cr_assert(vs_group_create(c, S(""), 0));
	cr_assert(vs_group_find(c, VS_SLICE_NULL));
	h_check_invariants(c);
	/* the Empty group idle longest is the one to evict */
	vs_group *old = vs_group_find(c, S("group-0"));
	cr_assert(old);
	vs_group *victim = vs_group_evictable(c);
	cr_assert(victim == old || victim == vs_group_find(c, S("")), "state_since 0");
	vs_group_destroy(c, victim);
	cr_assert_eq(c->ngroups, 3000);
	h_check_invariants(c);
	vs_coord_free(c);
}

Test(group, eviction_skips_groups_with_pending_ids)
{
	vs_coord *c = coord();
	vs_group *a = vs_group_create(c, S("a"), 0);
	vs_group *b = vs_group_create(c, S("b"), 5);
	vs_own id = { NULL, 0 };
	cr_assert_eq(vs_own_set(&id, S("p")), 0);
	cr_assert_eq(vs_group_add_pending(c, a, &id, 10), 0);
	cr_assert_eq(vs_group_evictable(c), b);
	b->state = VS_GROUP_STABLE;
	cr_assert_null(vs_group_evictable(c));
	b->state = VS_GROUP_EMPTY;
	vs_coord_free(c);
}

Test(group, deadlines_saturate)
{
	cr_assert_eq(vs_deadline_after(1000, 500), 1500);
	cr_assert_eq(vs_deadline_after(1000, 0), 1000);
	cr_assert_eq(vs_deadline_after(1000, -5), 1000);
	cr_assert_eq(vs_deadline_after(INT64_MAX - 10, 1000), INT64_MAX - 1);
	cr_assert_lt(vs_deadline_after(INT64_MAX - 10, 1000), VS_NEVER, "never becomes NEVER");
	cr_assert_eq(vs_deadline_after(-5000, 1000), -4000);
}

Test(group, accounting_follows_changes)
{
	vs_coord *c = coord();
	vs_group *g = vs_group_create(c, S("g"), 0);
	uint64_t base = c->bytes_held;
	cr_assert_eq(base, sizeof(vs_group) + 1);
	vs_join_protocol p[1] = { { S("range"), S("12345") } };
	vs_member *m = add(c, g, "member", p, 1, 10);
	cr_assert_eq(c->bytes_held, base + vs_member_size(m));
	cr_assert_eq(vs_own_set(&m->assignment, S("0123456789")), 0);
	vs_member_account(c, m);
	cr_assert_eq(c->bytes_held, base + vs_member_size(m));
	h_check_invariants(c);
	vs_group_drop_member(c, g, 0);
	cr_assert_eq(c->bytes_held, base);
	vs_group_destroy(c, g);
	cr_assert_eq(c->bytes_held, 0);
	vs_coord_free(c);
}

Test(group, config_defaults_and_checks)
{
	vs_coord *c = vs_coord_new(NULL);
	cr_assert(c);
	cr_assert_eq(c->cfg.min_session_timeout_ms, 6000);
	cr_assert_eq(c->cfg.max_session_timeout_ms, 1800000);
	cr_assert_eq(c->cfg.initial_rebalance_delay_ms, 0);
	cr_assert_eq(c->cfg.max_group_size, 1000);
	cr_assert_eq(c->cfg.max_group_id_len, 255);
	vs_coord_free(c);
	cr_assert_null(vs_coord_new(&(vs_coord_config){ .max_group_id_len = 40000 }));
	c = vs_coord_new(&(vs_coord_config){ .max_group_id_len = 32767 });
	cr_assert(c);
	vs_coord_free(c);
	vs_coord_free(NULL);
}
