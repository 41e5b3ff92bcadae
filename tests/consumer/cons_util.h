/* SPDX-License-Identifier: MIT */
/*
 * cons_util.h -- small helpers shared by the consumer suites (header-only,
 * static inline so that a suite may use any subset).
 *
 * Records produced by fill_part() carry a value that names their partition
 * and offset ("v<part>.<offset>"), so a consumer can check every record it
 * gets without keeping a copy of what was produced.
 */
#ifndef CONS_UTIL_H
#define CONS_UTIL_H

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static inline varve_consumer_options c_opts(void)
{
	varve_consumer_options o;
	cr_assert_eq(varve_consumer_options_init(&o, VARVE_CONSUMER_OPTIONS_VERSION), 0);
	return o;
}

static inline varve_consumer *c_open(varve_db *db, const char *group, const char *topic,
				     const varve_consumer_options *o)
{
	const char *topics[1] = { topic };
	varve_consumer *c = NULL;
	int rc = varve_consumer_open(db, group, topics, 1, o, &c);
	t_assert_rc(rc, VARVE_OK);
	cr_assert_not_null(c);
	return c;
}

/* Produce n records to one partition in batches of up to `batch`; the
 * value of the record at offset o is "v<part>.<o>". Returns the end offset. */
static inline int64_t fill_part(varve_db *db, const char *topic, uint32_t part, int n, int batch)
{
	int64_t end = -1;
	t_ok(varve_offsets(db, topic, part, NULL, &end));
	varve_record *recs = calloc((size_t)batch, sizeof *recs);
	char(*vals)[48] = calloc((size_t)batch, sizeof *vals);
	char(*keys)[24] = calloc((size_t)batch, sizeof *keys);
	cr_assert(recs && vals && keys);
	int done = 0;
	while (done < n) {
		int k = n - done < batch ? n - done : batch;
		for (int i = 0; i < k; i++) {
			snprintf(keys[i], sizeof keys[i], "k%d", (done + i) % 7);
			snprintf(vals[i], sizeof vals[i], "v%u.%" PRId64, part, end + i);
			recs[i] = t_rec_s(keys[i], vals[i]);
			recs[i].partition = (int32_t)part;
		}
		varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
		po.partition = (int32_t)part;
		t_ok(varve_produce_batch(db, topic, recs, (size_t)k, &po));
		for (int i = 0; i < k; i++)
			cr_assert_eq(recs[i].offset, end + i);
		end += k;
		done += k;
	}
	free(recs);
	free(vals);
	free(keys);
	return end;
}

/* Check that a delivered message is the record fill_part wrote there. */
static inline void check_msg(const varve_msg *m, const char *topic)
{
	char want[48];
	snprintf(want, sizeof want, "v%d.%" PRId64, m->rec.partition, m->rec.offset);
	cr_assert_str_eq(m->topic, topic);
	cr_assert_not_null(m->rec.value, "record %d/%" PRId64 " has no value", m->rec.partition,
			   m->rec.offset);
	cr_assert(m->rec.value_len == strlen(want) && !memcmp(m->rec.value, want, m->rec.value_len),
		  "record %d/%" PRId64 " has value %.*s, want %s", m->rec.partition, m->rec.offset,
		  (int)m->rec.value_len, (const char *)m->rec.value, want);
}

/* Poll with timeout 0 until a poll returns nothing; calls fn for every
 * message. Returns the number of messages. */
static inline size_t c_drain(varve_consumer *c, void (*fn)(void *ctx, const varve_msg *m),
			     void *ctx)
{
	size_t total = 0;
	for (;;) {
		const varve_msg *msgs = NULL;
		size_t n = 0;
		t_ok(varve_consumer_poll(c, 0, &msgs, &n));
		if (n == 0)
			return total;
		for (size_t i = 0; i < n; i++)
			if (fn)
				fn(ctx, &msgs[i]);
		total += n;
	}
}

static inline int64_t c_position(varve_consumer *c, const char *topic, uint32_t part)
{
	int64_t pos = -2;
	t_ok(varve_consumer_position(c, topic, part, &pos));
	return pos;
}

static inline int64_t g_offset(varve_db *db, const char *group, const char *topic, uint32_t part)
{
	int64_t off = -2;
	t_ok(varve_group_offset(db, group, topic, part, &off));
	return off;
}

#endif
