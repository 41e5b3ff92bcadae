/* SPDX-License-Identifier: MIT */
/* workload.c -- see workload.h. */
#include "workload.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TS0 1700000000000LL

typedef struct wl {
	fu_ledger *l;
	wl_stats *st;
	varve_db *db;
} wl;

static uint64_t last_note;
static int trace_calls = -1;

static void note(wl *w, int rc, const char *what)
{
	if (trace_calls < 0) /* VARVE_FAULTS_TRACE_CALLS=1: calls slower than 5 ms */
		trace_calls = getenv("VARVE_FAULTS_TRACE_CALLS") != NULL;
	if (trace_calls) {
		uint64_t now = fu_now_ns();
		if (last_note && now - last_note > 5000000)
			fprintf(stderr, "slow: %s took %.1f ms (rc %d)\n", what,
				(double)(now - last_note) / 1e6, rc);
		last_note = now;
	}
	w->st->calls++;
	if (rc == 0)
		return;
	w->st->failing_calls++;
	if (rc < 0 && rc > -32)
		w->st->codes[-rc]++;
	char why[512];
	if (fu_check_error(rc, what, why, sizeof why) && w->st->bad++ == 0)
		snprintf(w->st->why, sizeof w->st->why, "%s", why);
}

static void produce(wl *w, int ti, uint32_t ks)
{
	size_t i = fu_ledger_add(w->l, ti, ks, 0);
	w->l->e[i].ts = TS0 + w->l->e[i].uid;
	fu_rec fr;
	fu_rec_make(&fr, w->l->e[i].uid, ks, w->l->e[i].ts);
	int32_t part = -1;
	int64_t off = -1;
	int rc = varve_produce(w->db, w->l->topics[ti].name, &fr.r, &part, &off);
	note(w, rc, "varve_produce");
	if (rc == 0) {
		w->l->e[i].acked = 1;
		w->l->e[i].part = part;
		w->l->e[i].offset = off;
	}
}

static void produce_batch(wl *w, int ti, size_t n)
{
	fu_rec fr[8];
	varve_record recs[8];
	size_t idx[8];
	if (n > 8)
		n = 8;
	for (size_t k = 0; k < n; k++) {
		idx[k] = fu_ledger_add(w->l, ti, 0, 0);
		fu_entry *e = &w->l->e[idx[k]];
		e->ts = TS0 + e->uid;
		fu_rec_make(&fr[k], e->uid, 0, e->ts);
		recs[k] = fr[k].r;
	}
	int rc = varve_produce_batch(w->db, w->l->topics[ti].name, recs, n, NULL);
	note(w, rc, "varve_produce_batch");
	if (rc == 0)
		for (size_t k = 0; k < n; k++) {
			fu_entry *e = &w->l->e[idx[k]];
			e->acked = 1;
			e->part = recs[k].partition;
			e->offset = recs[k].offset;
		}
}

static void create(wl *w, int ti, const varve_topic_config *cfg)
{
	int rc = varve_topic_create(w->db, w->l->topics[ti].name, cfg);
	note(w, rc, "varve_topic_create");
	if (rc == 0)
		w->l->topics[ti].created = 1;
}

/* Read a partition back while faults may be active: errors must be clean,
 * records read must be what was sent. */
static void read_back(wl *w, int ti, uint32_t part)
{
	varve_iter *it = NULL;
	int rc = varve_iter_open(w->db, w->l->topics[ti].name, part, 0, &it);
	note(w, rc, "varve_iter_open");
	if (rc)
		return;
	const varve_record *r;
	while ((rc = varve_iter_next(it, &r)) == 0) {
		int64_t uid = fu_rec_uid(r);
		if (uid < 0 || (size_t)uid >= w->l->n) {
			if (w->st->bad++ == 0)
				snprintf(w->st->why, sizeof w->st->why,
					 "read %s/%u@%" PRId64 " while faulting: unknown record",
					 w->l->topics[ti].name, part, r->offset);
			continue;
		}
		fu_rec want;
		const fu_entry *e = &w->l->e[uid];
		fu_rec_make(&want, e->uid, e->key_space, e->ts);
		char why[64];
		if (fu_rec_cmp(r, &want.r, why, sizeof why) && w->st->bad++ == 0)
			snprintf(w->st->why, sizeof w->st->why, "read %s/%u@%" PRId64 " while faulting: %s",
				 w->l->topics[ti].name, part, r->offset, why);
	}
	if (rc != VARVE_EEND)
		note(w, rc, "varve_iter_next");
	varve_iter_close(it);
}

static void commit_acked(wl *w, int ti)
{
	for (uint32_t p = 0; p < w->l->topics[ti].partitions; p++) {
		int64_t top = -1;
		for (size_t i = 0; i < w->l->n; i++)
			if (w->l->e[i].topic == ti && w->l->e[i].acked && w->l->e[i].part == (int32_t)p &&
			    w->l->e[i].offset > top)
				top = w->l->e[i].offset;
		if (top < 0)
			continue;
		int rc = varve_group_commit(w->db, "g", w->l->topics[ti].name, p, top + 1, "m");
		note(w, rc, "varve_group_commit");
		fu_ledger_commit(w->l, "g", ti, p, top + 1, rc == 0);
	}
}

static void consume(wl *w, int ti)
{
	const char *topics[1] = { w->l->topics[ti].name };
	varve_consumer *c = NULL;
	int rc = varve_consumer_open(w->db, "g2", topics, 1, NULL, &c);
	note(w, rc, "varve_consumer_open");
	if (rc)
		return;
	const varve_msg *msgs;
	size_t n = 0;
	rc = varve_consumer_poll(c, 0, &msgs, &n);
	note(w, rc, "varve_consumer_poll");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int64_t uid = fu_rec_uid(&msgs[i].rec);
		if ((uid < 0 || (size_t)uid >= w->l->n) && w->st->bad++ == 0)
			snprintf(w->st->why, sizeof w->st->why, "poll returned an unknown record");
	}
	rc = varve_consumer_commit(c);
	note(w, rc, "varve_consumer_commit");
	varve_consumer_close(c);
}

void wl_run(const char *path, const struct varve_io_methods *io, fu_ledger *l, wl_stats *st)
{
	memset(st, 0, sizeof *st);
	wl w = { l, st, NULL };
	int T = fu_ledger_topic(l, "t", FU_PLAIN, 3);
	int C = fu_ledger_topic(l, "c", FU_COMPACTED, 1);
	int R = fu_ledger_topic(l, "r", FU_RETAINED, 1);
	int D = fu_ledger_topic(l, "d", FU_PLAIN, 1);

	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = VARVE_SYNC_ALWAYS;
	o.segment_bytes = 1024;
	o.index_interval_bytes = 64;
	o.start_cleaner = 0;
	o.cleaner_memory_bytes = 64 << 10; /* the default 32 MiB key map costs 40 ms a round */
	o.io = io;
	int rc = varve_open(path, &o, &w.db);
	note(&w, rc, "varve_open");
	if (rc)
		return;
	st->opened = 1;

	varve_topic_config tc;
	varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
	tc.partitions = 3;
	create(&w, T, &tc);
	varve_topic_config cc;
	varve_topic_config_init(&cc, VARVE_TOPIC_CONFIG_VERSION);
	cc.cleanup_policy = VARVE_CLEANUP_COMPACT;
	cc.min_cleanable_dirty_ratio = 0.0;
	cc.codec = VARVE_CODEC_LZ4;
	create(&w, C, &cc);
	varve_topic_config rcfg;
	varve_topic_config_init(&rcfg, VARVE_TOPIC_CONFIG_VERSION);
	rcfg.retention_records = 5;
	create(&w, R, &rcfg);

	for (int i = 0; i < 10; i++)
		produce(&w, T, 0);
	produce_batch(&w, T, 6);
	for (int i = 0; i < 12; i++)
		produce(&w, C, 3);
	for (int i = 0; i < 12; i++)
		produce(&w, R, 0);
	read_back(&w, T, 0);
	read_back(&w, C, 0);
	commit_acked(&w, T);
	consume(&w, T);

	rc = varve_clean_now(w.db, 1);
	note(&w, rc, "varve_clean_now");

	for (int i = 0; i < 4; i++)
		produce(&w, T, 0);
	for (int i = 0; i < 3; i++)
		produce(&w, C, 3);
	commit_acked(&w, T);

	create(&w, D, NULL);
	produce(&w, D, 0);
	produce(&w, D, 0);
	l->topics[D].delete_tried = 1;
	rc = varve_topic_delete(w.db, "d");
	note(&w, rc, "varve_topic_delete");
	if (rc == 0)
		l->topics[D].deleted = 1;

	rc = varve_sync(w.db);
	note(&w, rc, "varve_sync");
	rc = varve_close(w.db);
	note(&w, rc, "varve_close");
}

void wl_codes(const long codes[32], char *out, size_t cap)
{
	size_t n = 0;
	out[0] = 0;
	for (int i = 1; i < 32 && n < cap; i++)
		if (codes[i])
			n += (size_t)snprintf(out + n, cap - n, "%s%s %ld", n ? ", " : "",
					      fu_code_name(-i), codes[i]);
}
