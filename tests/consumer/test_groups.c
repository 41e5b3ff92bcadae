/* SPDX-License-Identifier: MIT */
/*
 * test_groups.c -- consumer groups: resuming at the committed offset after a
 * reopen, partition assignment among members, hand-over of partitions, and
 * independent groups.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cons_util.h"
#include "support.h"

TestSuite(consumer_groups, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define NP 16
#define PER 300

typedef struct seen {
	int64_t first[NP]; /* first offset delivered per partition, -1 */
	int64_t next[NP];  /* offset expected next per partition */
	size_t n;
} seen;

static void seen_init(seen *s, const int64_t *start)
{
	for (int p = 0; p < NP; p++) {
		s->first[p] = -1;
		s->next[p] = start ? start[p] : 0;
	}
	s->n = 0;
}

/* Every partition's records arrive in offset order, without a gap. */
static void seen_fn(void *ctx, const varve_msg *m)
{
	seen *s = ctx;
	check_msg(m, "t");
	int p = m->rec.partition;
	cr_assert(p >= 0 && p < NP);
	if (s->first[p] < 0)
		s->first[p] = m->rec.offset;
	cr_assert_eq(m->rec.offset, s->next[p],
		     "partition %d: got offset %" PRId64 ", want %" PRId64 " (skip or repeat)", p,
		     m->rec.offset, s->next[p]);
	s->next[p]++;
	s->n++;
}

static void poll_some(varve_consumer *c, seen *s, size_t at_least)
{
	while (s->n < at_least) {
		const varve_msg *msgs;
		size_t n;
		t_ok(varve_consumer_poll(c, 0, &msgs, &n));
		cr_assert(n > 0, "poll returned nothing with %zu records seen", s->n);
		for (size_t i = 0; i < n; i++)
			seen_fn(s, &msgs[i]);
	}
}

Test(consumer_groups, resume_exactly_at_committed_offset_after_reopen)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", NP, VARVE_CODEC_NONE);
	for (uint32_t p = 0; p < NP; p++)
		fill_part(db, "t", p, PER + (int)p * 7, 1 + (int)p % 5);

	varve_consumer_options co = c_opts();
	co.max_records = 37;
	varve_consumer *c = c_open(db, "g", "t", &co);
	seen s;
	seen_init(&s, NULL);
	poll_some(c, &s, 900);
	/* varve_consumer_commit: every assigned partition at its position */
	int64_t committed[NP];
	t_ok(varve_consumer_commit(c));
	for (uint32_t p = 0; p < NP; p++) {
		committed[p] = c_position(c, "t", p);
		cr_assert_eq(committed[p], s.next[p]);
		cr_assert_eq(g_offset(db, "g", "t", p), committed[p]);
	}
	/* read on, then commit explicit offsets for some partitions only */
	poll_some(c, &s, 2500);
	for (uint32_t p = 0; p < NP; p++) {
		if (p % 3 == 0) {
			int64_t pos = c_position(c, "t", p);
			t_ok(varve_consumer_commit_offset(c, "t", p, pos, "meta"));
			committed[p] = pos;
		} else if (p % 3 == 1 && s.next[p] > 3) {
			/* explicitly rewind the commit: the next run re-reads from here */
			committed[p] = s.next[p] - 3;
			t_ok(varve_consumer_commit_offset(c, "t", p, committed[p], NULL));
		}
	}
	varve_consumer_close(c);
	t_close(db);

	db = t_open(dir, &o);
	for (uint32_t p = 0; p < NP; p++)
		cr_assert_eq(g_offset(db, "g", "t", p), committed[p], "partition %u", p);
	c = c_open(db, "g", "t", &co);
	for (uint32_t p = 0; p < NP; p++)
		cr_assert_eq(c_position(c, "t", p), committed[p], "partition %u", p);
	seen s2;
	seen_init(&s2, committed);
	c_drain(c, seen_fn, &s2);
	for (uint32_t p = 0; p < NP; p++) {
		int64_t end = PER + (int)p * 7;
		cr_assert_eq(s2.next[p], end, "partition %u read to %" PRId64, p, s2.next[p]);
		if (committed[p] < end)
			cr_assert_eq(s2.first[p], committed[p],
				     "partition %u resumed at %" PRId64 ", committed %" PRId64, p,
				     s2.first[p], committed[p]);
		else
			cr_assert_eq(s2.first[p], -1);
		/* nothing below the commit came back, nothing at or above it was lost */
		cr_assert_leq(committed[p], s.next[p]);
	}
	varve_consumer_close(c);
	t_close(db);
}

/* ---- assignment ----------------------------------------------------------- */

static void get_assignment(varve_consumer *c, int *owner, int who, uint32_t nparts)
{
	const varve_topic_partition *tps;
	size_t n;
	t_ok(varve_consumer_assignment(c, &tps, &n));
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(tps[i].topic, "t");
		cr_assert_lt(tps[i].partition, nparts);
		cr_assert_eq(owner[tps[i].partition], -1,
			     "partition %u assigned to consumers %d and %d", tps[i].partition,
			     owner[tps[i].partition], who);
		owner[tps[i].partition] = who;
	}
}

/* No overlap, no gap; sizes differ by at most one; range assignment in
 * join order (varve.h). */
static void check_split(varve_consumer **cs, size_t ncs, uint32_t nparts)
{
	int owner[64];
	for (uint32_t p = 0; p < nparts; p++)
		owner[p] = -1;
	for (size_t i = 0; i < ncs; i++)
		get_assignment(cs[i], owner, (int)i, nparts);
	uint32_t count[8] = { 0 };
	for (uint32_t p = 0; p < nparts; p++) {
		cr_assert_neq(owner[p], -1, "partition %u has no owner", p);
		count[owner[p]]++;
	}
	uint32_t per = nparts / (uint32_t)ncs, extra = nparts % (uint32_t)ncs;
	uint32_t first = 0;
	for (size_t i = 0; i < ncs; i++) {
		uint32_t want = per + (i < extra ? 1 : 0);
		cr_assert_eq(count[i], want, "consumer %zu owns %u partitions, want %u", i, count[i],
			     want);
		for (uint32_t p = first; p < first + want; p++)
			cr_assert_eq(owner[p], (int)i, "range assignment: partition %u", p);
		first += want;
	}
}

Test(consumer_groups, members_split_partitions_without_overlap_or_gap)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 10, VARVE_CODEC_NONE);
	for (uint32_t p = 0; p < 10; p++)
		fill_part(db, "t", p, 40, 4);
	varve_consumer_options co = c_opts();
	varve_consumer *cs[3];
	cs[0] = c_open(db, "g", "t", &co);
	check_split(cs, 1, 10);
	cs[1] = c_open(db, "g", "t", &co);
	check_split(cs, 2, 10);
	cs[2] = c_open(db, "g", "t", &co);
	check_split(cs, 3, 10); /* 4 + 3 + 3 */

	/* Every record is delivered once across the three members. */
	int64_t next[10] = { 0 };
	for (int i = 0; i < 3; i++) {
		const varve_msg *msgs;
		size_t n;
		for (;;) {
			t_ok(varve_consumer_poll(cs[i], 0, &msgs, &n));
			if (!n)
				break;
			for (size_t k = 0; k < n; k++) {
				check_msg(&msgs[k], "t");
				int p = msgs[k].rec.partition;
				cr_assert_eq(msgs[k].rec.offset, next[p]);
				next[p]++;
			}
		}
	}
	for (int p = 0; p < 10; p++)
		cr_assert_eq(next[p], 40, "partition %d read to %" PRId64, p, next[p]);

	/* The middle member commits distinct offsets for its partitions, then leaves. */
	const varve_topic_partition *tps;
	size_t n1;
	t_ok(varve_consumer_assignment(cs[1], &tps, &n1));
	cr_assert_eq(n1, 3);
	uint32_t mid[3];
	for (size_t i = 0; i < 3; i++) {
		mid[i] = tps[i].partition;
		t_ok(varve_consumer_commit_offset(cs[1], "t", mid[i], 5 + 7 * (int64_t)i, NULL));
	}
	/* the others commit what they read */
	t_ok(varve_consumer_commit(cs[0]));
	t_ok(varve_consumer_commit(cs[2]));
	varve_consumer_close(cs[1]);
	varve_consumer *two[2] = { cs[0], cs[2] };
	check_split(two, 2, 10); /* 5 + 5 */

	/* New owners of the middle partitions resume at the last commit. */
	for (size_t i = 0; i < 3; i++) {
		varve_consumer *owner = NULL;
		for (int k = 0; k < 2; k++) {
			int64_t pos;
			if (varve_consumer_position(two[k], "t", mid[i], &pos) == VARVE_OK) {
				cr_assert_null(owner, "two owners");
				owner = two[k];
				cr_assert_eq(pos, 5 + 7 * (int64_t)i, "partition %u resumes at %" PRId64,
					     mid[i], pos);
			}
		}
		cr_assert_not_null(owner, "partition %u has no owner", mid[i]);
	}
	/* ...and their polls deliver exactly the rest of those partitions. */
	int64_t from[10];
	for (int p = 0; p < 10; p++)
		from[p] = 40;
	for (size_t i = 0; i < 3; i++)
		from[mid[i]] = 5 + 7 * (int64_t)i;
	for (int k = 0; k < 2; k++) {
		const varve_msg *msgs;
		size_t n;
		for (;;) {
			t_ok(varve_consumer_poll(two[k], 0, &msgs, &n));
			if (!n)
				break;
			for (size_t j = 0; j < n; j++) {
				check_msg(&msgs[j], "t");
				int p = msgs[j].rec.partition;
				cr_assert_eq(msgs[j].rec.offset, from[p], "partition %d", p);
				from[p]++;
			}
		}
	}
	for (int p = 0; p < 10; p++)
		cr_assert_eq(from[p], 40, "partition %d", p);

	/* A third member joins again: back to three ranges. */
	cs[1] = c_open(db, "g", "t", &co);
	varve_consumer *again[3] = { cs[0], cs[2], cs[1] };
	check_split(again, 3, 10);
	varve_consumer_close(cs[0]);
	varve_consumer_close(cs[1]);
	varve_consumer_close(cs[2]);
	t_close(db);
}

Test(consumer_groups, sixteen_partitions_two_and_three_members)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 16, VARVE_CODEC_NONE);
	varve_consumer_options co = c_opts();
	varve_consumer *cs[3];
	cs[0] = c_open(db, "g", "t", &co);
	cs[1] = c_open(db, "g", "t", &co);
	check_split(cs, 2, 16);
	cs[2] = c_open(db, "g", "t", &co);
	check_split(cs, 3, 16);
	varve_consumer_close(cs[0]);
	varve_consumer *rest[2] = { cs[1], cs[2] };
	check_split(rest, 2, 16);
	/* a member of another group does not take partitions from this one */
	varve_consumer *other = c_open(db, "h", "t", &co);
	check_split(rest, 2, 16);
	check_split(&other, 1, 16);
	varve_consumer_close(other);
	varve_consumer_close(cs[1]);
	varve_consumer_close(cs[2]);
	t_close(db);
}

/* ---- independent groups ---------------------------------------------------- */

typedef struct count_ctx {
	int64_t next[4];
	size_t n;
} count_ctx;

static void count_fn(void *ctx, const varve_msg *m)
{
	count_ctx *c = ctx;
	check_msg(m, "t");
	cr_assert_eq(m->rec.offset, c->next[m->rec.partition]);
	c->next[m->rec.partition]++;
	c->n++;
}

Test(consumer_groups, two_groups_read_independently)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 4, VARVE_CODEC_LZ4);
	for (uint32_t p = 0; p < 4; p++)
		fill_part(db, "t", p, 250, 10);
	varve_consumer_options co = c_opts();
	co.max_records = 64;
	varve_consumer *a = c_open(db, "ga", "t", &co);
	varve_consumer *b = c_open(db, "gb", "t", &co);
	count_ctx ca = { { 0 }, 0 }, cb = { { 0 }, 0 };
	/* interleave the two groups' polls */
	for (;;) {
		const varve_msg *m;
		size_t na, nb;
		t_ok(varve_consumer_poll(a, 0, &m, &na));
		for (size_t i = 0; i < na; i++)
			count_fn(&ca, &m[i]);
		t_ok(varve_consumer_poll(b, 0, &m, &nb));
		for (size_t i = 0; i < nb; i++)
			count_fn(&cb, &m[i]);
		if (!na && !nb)
			break;
	}
	cr_assert_eq(ca.n, 1000);
	cr_assert_eq(cb.n, 1000);
	t_ok(varve_consumer_commit(a));
	for (uint32_t p = 0; p < 4; p++) {
		cr_assert_eq(g_offset(db, "ga", "t", p), 250);
		int64_t off;
		t_assert_rc(varve_group_offset(db, "gb", "t", p, &off), VARVE_ENOTFOUND);
	}
	/* a commit of one group does not move the other */
	t_ok(varve_consumer_commit_offset(b, "t", 2, 17, NULL));
	cr_assert_eq(g_offset(db, "ga", "t", 2), 250);
	cr_assert_eq(g_offset(db, "gb", "t", 2), 17);
	char **names;
	size_t nn;
	t_ok(varve_group_list(db, &names, &nn));
	cr_assert_eq(nn, 2);
	cr_assert_str_eq(names[0], "ga");
	cr_assert_str_eq(names[1], "gb");
	varve_strings_free(names, nn);
	varve_consumer_close(a);
	varve_consumer_close(b);
	t_close(db);
}
