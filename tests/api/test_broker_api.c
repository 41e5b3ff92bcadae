/* SPDX-License-Identifier: MIT */
/* API: what a broker (varve serve) needs from the library, each call on its
 * own: one batch to one partition with a producer id from the wire (sync
 * and async), fresh producer ids, whole batches read back, append
 * notifications for an event loop, group commits with metadata, topic
 * alter, more partitions, and deleting records before an offset. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "varve.h"

TestSuite(broker_api, .init = t_setup, .fini = t_teardown, .timeout = 60);

static varve_db *store(const char **dir_out)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	if (dir_out)
		*dir_out = dir;
	return t_open(dir, &o);
}

static void recs3(varve_record r[3], const char *tag)
{
	static char v[3][32];
	for (int i = 0; i < 3; i++) {
		snprintf(v[i], sizeof v[i], "%s-%d", tag, i);
		r[i] = t_rec("k", 1, v[i], strlen(v[i]));
	}
}

/* ---- varve_append ---------------------------------------------------------- */

Test(broker_api, append_one_batch_with_a_producer_id)
{
	varve_db *db = store(NULL);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	int64_t pid;
	t_ok(varve_producer_id_new(db, &pid));
	int64_t pid2;
	t_ok(varve_producer_id_new(db, &pid2));
	cr_assert_neq(pid, pid2, "producer ids are not reused");
	varve_record r[3];
	recs3(r, "a");
	varve_append_options o = VARVE_APPEND_OPTIONS_INIT;
	o.producer_id = pid;
	o.base_sequence = 0;
	varve_append_result res;
	t_ok(varve_append(db, "t", 1, r, 3, &o, &res));
	cr_assert_eq(res.partition, 1);
	cr_assert_eq(res.base_offset, 0);
	cr_assert_eq(res.last_offset, 2);
	cr_assert_eq(res.flags, 0);
	cr_assert_gt(res.append_time, 0);
	/* the same batch again: a retry, the earlier offsets */
	t_ok(varve_append(db, "t", 1, r, 3, &o, &res));
	cr_assert_eq(res.flags, VARVE_RECORD_DUPLICATE);
	cr_assert_eq(res.base_offset, 0);
	cr_assert_eq(res.last_offset, 2);
	/* a gap, then the next sequence */
	o.base_sequence = 5;
	t_assert_rc(varve_append(db, "t", 1, r, 3, &o, &res), VARVE_ESEQUENCE);
	o.base_sequence = 3;
	t_ok(varve_append(db, "t", 1, r, 3, &o, &res));
	cr_assert_eq(res.base_offset, 3);
	/* a newer epoch fences the older one */
	o.producer_epoch = 1;
	o.base_sequence = 0;
	t_ok(varve_append(db, "t", 1, r, 1, &o, &res));
	o.producer_epoch = 0;
	o.base_sequence = 6;
	t_assert_rc(varve_append(db, "t", 1, r, 1, &o, &res), VARVE_EFENCED);
	/* expected end offset */
	varve_append_options e = VARVE_APPEND_OPTIONS_INIT;
	e.expected_end_offset = 0;
	t_assert_rc(varve_append(db, "t", 0, r, 1, &e, &res), VARVE_OK);
	t_assert_rc(varve_append(db, "t", 0, r, 1, &e, &res), VARVE_ECONFLICT);
	/* arguments */
	t_assert_rc(varve_append(db, "t", 2, r, 1, NULL, &res), VARVE_ENOTFOUND);
	t_assert_rc(varve_append(db, "t", -1, r, 1, NULL, &res), VARVE_EINVAL);
	t_assert_rc(varve_append(db, "t", 0, r, 0, NULL, &res), VARVE_EINVAL);
	t_assert_rc(varve_append(db, "nope", 0, r, 1, NULL, &res), VARVE_ENOTFOUND);
	t_close(db);
}

/* Sequences wrap from INT32_MAX to 0 (Kafka's rule): a producer that has
 * sent 2^31 records goes on, its retries across the wrap are recognised,
 * and the state survives a reopen. */
Test(broker_api, producer_sequences_wrap_at_int32_max)
{
	const char *dir;
	varve_db *db = store(&dir);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	int64_t pid;
	t_ok(varve_producer_id_new(db, &pid));
	varve_record r[3];
	recs3(r, "w");
	varve_append_options o = VARVE_APPEND_OPTIONS_INIT;
	o.producer_id = pid;
	o.base_sequence = INT32_MAX - 4; /* an unknown producer may start anywhere */
	varve_append_result res;
	t_ok(varve_append(db, "t", 0, r, 3, &o, &res)); /* MAX-4 .. MAX-2 */
	o.base_sequence = INT32_MAX - 1;
	t_ok(varve_append(db, "t", 0, r, 3, &o, &res)); /* MAX-1, MAX, 0 */
	cr_assert_eq(res.base_offset, 3);
	o.base_sequence = 1;
	t_ok(varve_append(db, "t", 0, r, 2, &o, &res)); /* 1, 2 */
	cr_assert_eq(res.base_offset, 6);
	/* a retry of the batch across the wrap: its earlier offsets */
	o.base_sequence = INT32_MAX - 1;
	t_ok(varve_append(db, "t", 0, r, 3, &o, &res));
	cr_assert_eq(res.flags, VARVE_RECORD_DUPLICATE);
	cr_assert_eq(res.base_offset, 3);
	/* behind the window, before the wrap: an old duplicate, not a gap */
	o.base_sequence = INT32_MAX - 100;
	t_assert_rc(varve_append(db, "t", 0, r, 1, &o, &res), VARVE_EDUPLICATE);
	/* ahead: a gap */
	o.base_sequence = 10;
	t_assert_rc(varve_append(db, "t", 0, r, 1, &o, &res), VARVE_ESEQUENCE);
	t_close(db);
	varve_options vo = t_opts();
	db = t_open(dir, &vo);
	o.base_sequence = 3; /* the next one, after a reopen */
	t_ok(varve_append(db, "t", 0, r, 1, &o, &res));
	cr_assert_eq(res.base_offset, 8);
	cr_assert_eq(res.flags, 0);
	t_close(db);
}

typedef struct done {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	int rc[16];
	varve_append_result res[16];
} done;

static void on_done(void *ctx, int rc, const varve_append_result *res)
{
	done *d = ctx;
	pthread_mutex_lock(&d->mu);
	d->rc[d->n] = rc;
	d->res[d->n] = *res;
	d->n++;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

Test(broker_api, append_async_completes_in_order_once_durable)
{
	const char *dir;
	varve_db *db = store(&dir);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	done d = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { 0 }, { { 0 } } };
	varve_record r[3];
	recs3(r, "b");
	int64_t pid;
	t_ok(varve_producer_id_new(db, &pid));
	varve_append_options o = VARVE_APPEND_OPTIONS_INIT;
	o.producer_id = pid;
	for (int i = 0; i < 4; i++) {
		o.base_sequence = 3 * i;
		t_ok(varve_append_async(db, "t", 0, r, 3, &o, on_done, &d));
	}
	o.base_sequence = 3; /* a retry of the second batch */
	t_ok(varve_append_async(db, "t", 0, r, 3, &o, on_done, &d));
	t_ok(varve_flush(db));
	cr_assert_eq(d.n, 5);
	/* the four batches in offset order; the retry reports the second batch's
	 * offsets wherever it fell (the batches after it may have been
	 * acknowledged before the retry arrived) */
	int64_t want_next = 0;
	int dups = 0;
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(d.rc[i], 0);
		int64_t base = d.res[i].base_offset;
		cr_assert_eq(d.res[i].last_offset, base + 2);
		if (d.res[i].flags == VARVE_RECORD_DUPLICATE) {
			dups++;
			cr_assert_eq(base, 3, "callback %d: the retry reported base %" PRId64, i, base);
			continue;
		}
		cr_assert_eq(base, want_next, "callback %d: base %" PRId64, i, base);
		want_next += 3;
	}
	cr_assert_eq(dups, 1);
	int64_t end;
	t_ok(varve_offsets(db, "t", 0, NULL, &end));
	cr_assert_eq(end, 12);
	/* an error before the append: no callback */
	t_assert_rc(varve_append_async(db, "t", 3, r, 1, NULL, on_done, &d), VARVE_ENOTFOUND);
	t_close(db);
	cr_assert_eq(d.n, 5);
}

/* ---- whole batches ---------------------------------------------------------- */

Test(broker_api, next_batch_returns_stored_batches)
{
	varve_db *db = store(NULL);
	t_topic(db, "t", 1, VARVE_CODEC_LZ4);
	varve_record r[3];
	recs3(r, "c");
	varve_header h[2] = { { "h1", 2, "v1", 2 }, { "h2", 2, NULL, 0 } };
	r[1].headers = h;
	r[1].header_count = 2;
	int64_t pid;
	t_ok(varve_producer_id_new(db, &pid));
	varve_append_options o = VARVE_APPEND_OPTIONS_INIT;
	o.producer_id = pid;
	o.base_sequence = 0;
	t_ok(varve_append(db, "t", 0, r, 3, &o, NULL));
	t_ok(varve_append(db, "t", 0, r, 2, NULL, NULL));
	varve_iter *it;
	t_ok(varve_iter_open(db, "t", 0, 1, &it)); /* inside the first batch */
	const varve_batch_info *bi;
	const varve_record *v;
	size_t n;
	t_ok(varve_iter_next_batch(it, &bi, &v, &n));
	cr_assert_eq(n, 2, "records of the batch from the position on");
	cr_assert_eq(bi->base_offset, 0);
	cr_assert_eq(bi->last_offset, 2);
	cr_assert_eq(bi->record_count, 3);
	cr_assert_eq(bi->producer_id, pid);
	cr_assert_eq(bi->base_sequence, 0);
	cr_assert_gt(bi->stored_bytes, 80);
	cr_assert_eq(v[0].offset, 1);
	cr_assert_eq(v[1].offset, 2);
	cr_assert_eq(v[0].header_count, 2);
	cr_assert(v[0].headers[0].key_len == 2 && !memcmp(v[0].headers[0].key, "h1", 2));
	cr_assert(v[0].headers[1].value == NULL, "a null header value stays null");
	cr_assert(v[1].value_len == 3 && !memcmp(v[1].value, "c-2", 3));
	t_ok(varve_iter_next_batch(it, &bi, &v, &n));
	cr_assert_eq(n, 2);
	cr_assert_eq(bi->base_offset, 3);
	cr_assert_eq(bi->producer_id, -1);
	cr_assert(v[1].value_len == 3 && !memcmp(v[1].value, "c-1", 3));
	t_assert_rc(varve_iter_next_batch(it, &bi, &v, &n), VARVE_EEND);
	/* mixed with varve_iter_next */
	t_ok(varve_iter_seek(it, 0));
	const varve_record *one;
	t_ok(varve_iter_next(it, &one));
	cr_assert_eq(one->offset, 0);
	t_ok(varve_iter_next_batch(it, &bi, &v, &n));
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].offset, 1);
	varve_iter_close(it);
	t_close(db);
}

/* ---- append notifications ------------------------------------------------------ */

static int readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 0) == 1;
}

Test(broker_api, watch_fd_wakes_on_appends)
{
	varve_db *db = store(NULL);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	t_topic(db, "u", 1, VARVE_CODEC_NONE);
	varve_watch *w;
	t_ok(varve_watch_open(db, &w));
	int fd = varve_watch_fd(w);
	cr_assert_geq(fd, 0);
	cr_assert(!readable(fd), "nothing appended yet");
	t_produce_to(db, "t", 0, "k", "v", 0);
	cr_assert(readable(fd), "an append wakes the watch");
	varve_watch_arm(w);
	cr_assert(!readable(fd), "arming drains it");
	t_produce_to(db, "u", 0, "k", "v", 0);
	cr_assert(readable(fd), "any topic wakes it");
	varve_watch_close(w);
	t_close(db);
}

static void note_done(void *ctx, int rc, const varve_append_result *res)
{
	(void)res;
	atomic_store((_Atomic int *)ctx, rc == VARVE_OK ? 1 : -1);
}

Test(broker_api, watch_fd_wakes_again_when_records_become_durable)
{
	/* A reader that serves only durable records (the broker's high
	 * watermark) must be woken when the fsync lands, not only at the
	 * append: under sync=interval that is up to an interval later. */
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	o.sync_policy = VARVE_SYNC_INTERVAL;
	o.sync_interval_ms = 300;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	varve_watch *w;
	t_ok(varve_watch_open(db, &w));
	int fd = varve_watch_fd(w);
	varve_record r = t_rec("k", 1, "v", 1);
	varve_append_options ao = VARVE_APPEND_OPTIONS_INIT;
	_Atomic int finished = 0;
	t_ok(varve_append_async(db, "t", 0, &r, 1, &ao, note_done, (void *)&finished));
	varve_partition_info pi = { .version = VARVE_PARTITION_INFO_VERSION };
	t_ok(varve_partition_info_get(db, "t", 0, &pi));
	cr_assert_eq(pi.end_offset, 1);
	cr_assert_eq(pi.durable_offset, 0, "not durable before the interval");
	cr_assert(readable(fd), "the append wakes the watch");
	varve_watch_arm(w);
	cr_assert(!readable(fd));
	for (int i = 0; i < 500 && !atomic_load(&finished); i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&finished), 1, "the append completed");
	t_ok(varve_partition_info_get(db, "t", 0, &pi));
	cr_assert_eq(pi.durable_offset, 1);
	cr_assert(readable(fd), "durability wakes the watch again");
	varve_watch_close(w);
	t_close(db);
}

/* ---- group commits ----------------------------------------------------------------- */

Test(broker_api, group_commits_with_metadata)
{
	const char *dir;
	varve_db *db = store(&dir);
	t_topic(db, "b", 2, VARVE_CODEC_NONE);
	t_topic(db, "a", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 5; i++) {
		t_produce_to(db, "a", 0, "k", "v", 0);
		t_produce_to(db, "b", 1, "k", "v", 0);
	}
	const char *group = "any group id: spaces, ünïcode, ../";
	varve_commit_item items[3] = {
		{ "b", 1, 4, "meta-b1" }, { "a", 0, 5, NULL }, { "b", 0, 0, "" }
	};
	t_ok(varve_group_commit_many(db, group, items, 3));
	varve_commit_info ci = { VARVE_COMMIT_INFO_VERSION };
	t_ok(varve_group_committed(db, group, "b", 1, &ci));
	cr_assert_eq(ci.offset, 4);
	cr_assert_str_eq(ci.metadata, "meta-b1");
	cr_assert_gt(ci.time, 0);
	t_assert_rc(varve_group_committed(db, group, "b", 5, &ci), VARVE_ENOTFOUND);
	varve_commit_item bad[2] = { { "a", 0, 1, NULL }, { "a", 0, 99, NULL } };
	t_assert_rc(varve_group_commit_many(db, group, bad, 2), VARVE_EOFFSET);
	t_close(db);
	varve_options o = t_opts();
	o.read_only = 1;
	db = t_open(dir, &o);
	varve_commit_info *v;
	size_t n;
	t_ok(varve_group_commits(db, group, &v, &n));
	cr_assert_eq(n, 3, "the failed commit changed nothing");
	cr_assert(!strcmp(v[0].topic, "a") && v[0].partition == 0 && v[0].offset == 5);
	cr_assert(!strcmp(v[1].topic, "b") && v[1].partition == 0 && v[1].offset == 0);
	cr_assert(!strcmp(v[2].topic, "b") && v[2].partition == 1 && v[2].offset == 4);
	cr_assert_str_eq(v[2].metadata, "meta-b1");
	varve_commits_free(v, n);
	t_assert_rc(varve_group_commits(db, "nobody", &v, &n), VARVE_ENOTFOUND);
	t_close(db);
}

/* ---- topic changes ----------------------------------------------------------------- */

Test(broker_api, alter_changes_what_may_change_and_persists)
{
	const char *dir;
	varve_db *db = store(&dir);
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.partitions = 2;
	t_ok(varve_topic_create(db, "t", &c));
	varve_topic_config d = { VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "t", &d));
	d.retention_ms = 60000;
	d.cleanup_policy = VARVE_CLEANUP_COMPACT_DELETE;
	d.segment_bytes = 8192;
	d.retain_for_groups = "g1,g 2";
	t_ok(varve_topic_alter(db, "t", &d));
	varve_topic_config e = { VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "t", &e));
	cr_assert_eq(e.retention_ms, 60000);
	cr_assert_eq(e.cleanup_policy, VARVE_CLEANUP_COMPACT_DELETE);
	cr_assert_str_eq(e.retain_for_groups, "g1,g 2");
	/* now compacted: a null key is refused */
	varve_record nk = t_rec(NULL, 0, "v", 1);
	t_assert_rc(varve_produce(db, "t", &nk, NULL, NULL), VARVE_EINVAL);
	d.partitions = 3;
	t_assert_rc(varve_topic_alter(db, "t", &d), VARVE_EINVAL);
	d.partitions = 2;
	d.dedup_window_ms = 1000;
	t_assert_rc(varve_topic_alter(db, "t", &d), VARVE_EINVAL);
	d.dedup_window_ms = 0;
	d.retention_ms = -5;
	t_assert_rc(varve_topic_alter(db, "t", &d), VARVE_EINVAL);
	t_assert_rc(varve_topic_alter(db, "nope", &e), VARVE_ENOTFOUND);
	t_close(db);
	varve_options o = t_opts();
	db = t_open(dir, &o);
	varve_topic_config f = { VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "t", &f));
	cr_assert_eq(f.retention_ms, 60000, "the change survives a reopen");
	cr_assert_eq(f.segment_bytes, 8192);
	cr_assert_eq(f.partitions, 2);
	t_close(db);
}

Test(broker_api, add_partitions_grows_a_topic)
{
	const char *dir;
	varve_db *db = store(&dir);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	t_ok(varve_topic_add_partitions(db, "t", 5));
	varve_topic_config c = { VARVE_TOPIC_CONFIG_VERSION };
	t_ok(varve_topic_describe(db, "t", &c));
	cr_assert_eq(c.partitions, 5);
	t_produce_to(db, "t", 4, "k", "v", 0);
	cr_assert_eq(t_count(db, "t", 4), 1);
	t_assert_rc(varve_topic_add_partitions(db, "t", 5), VARVE_EINVAL);
	t_assert_rc(varve_topic_add_partitions(db, "t", 3), VARVE_EINVAL);
	t_assert_rc(varve_topic_add_partitions(db, "t", VARVE_MAX_PARTITIONS + 1), VARVE_EINVAL);
	/* keys spread over every partition now */
	uint32_t seen = 0;
	for (int i = 0; i < 200; i++) {
		char k[16];
		snprintf(k, sizeof k, "key-%d", i);
		varve_record r = t_rec(k, strlen(k), "v", 1);
		int32_t p;
		t_ok(varve_produce(db, "t", &r, &p, NULL));
		seen |= 1u << p;
	}
	cr_assert_eq(seen, 0x1f);
	t_close(db);
	varve_options o = t_opts();
	db = t_open(dir, &o);
	t_ok(varve_topic_describe(db, "t", &c));
	cr_assert_eq(c.partitions, 5, "the new count survives a reopen");
	cr_assert_geq(t_count(db, "t", 4), 1);
	t_close(db);
}

Test(broker_api, delete_records_moves_the_log_start)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	o.segment_bytes = 1024;
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	for (int i = 0; i < 100; i++)
		t_produce_to(db, "t", 0, "key", "a value of some length, to fill segments", 0);
	varve_partition_info before = { VARVE_PARTITION_INFO_VERSION };
	t_ok(varve_partition_info_get(db, "t", 0, &before));
	int64_t start;
	t_ok(varve_delete_records(db, "t", 0, 57, &start));
	cr_assert_eq(start, 57);
	varve_partition_info after = { VARVE_PARTITION_INFO_VERSION };
	t_ok(varve_partition_info_get(db, "t", 0, &after));
	cr_assert_eq(after.start_offset, 57);
	cr_assert_lt(after.segments, before.segments, "whole segments below went");
	varve_iter *it;
	t_assert_rc(varve_iter_open(db, "t", 0, 56, &it), VARVE_EOFFSET);
	t_ok(varve_iter_open(db, "t", 0, 57, &it));
	const varve_record *r;
	t_ok(varve_iter_next(it, &r));
	cr_assert_eq(r->offset, 57);
	varve_iter_close(it);
	/* never back; not past the end */
	t_ok(varve_delete_records(db, "t", 0, 10, &start));
	cr_assert_eq(start, 57);
	t_assert_rc(varve_delete_records(db, "t", 0, 101, &start), VARVE_EOFFSET);
	t_ok(varve_delete_records(db, "t", 0, 100, &start));
	cr_assert_eq(start, 100);
	t_close(db);
	db = t_open(dir, &o);
	int64_t s, e;
	t_ok(varve_offsets(db, "t", 0, &s, &e));
	cr_assert_eq(s, 100, "the log start survives a reopen");
	cr_assert_eq(e, 100);
	t_close(db);
}
