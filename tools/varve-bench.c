/* SPDX-License-Identifier: MIT */
/*
 * varve-bench -- the comparison workloads of bench/README.md on varve, and a
 * few varve-only measurements.
 *
 *   varve-bench [--quick] [--only LIST] [--producers LIST] DIR
 *
 * Writes its stores under DIR (which must be disk-backed, not tmpfs),
 * removes them when done, prints one JSON object per result on stdout (the
 * schema of bench/README.md, "system":"varve") and progress on stderr.
 * --quick divides every count by 10. --only takes a comma-separated list of
 * W1, W2, W3, W4, W5, open, e2e, commit, compact, lz4, rss, "extras" (every
 * varve-only measurement) or workload/variant ("W1/single", "W5/get");
 * default: everything. --producers takes a comma-separated list of producer
 * counts (1,2,4,8,32) and replaces W3's variants by one "Nproducers" run
 * per count (the group-commit curve).
 *
 * Workloads (names line up with bench/bench_{sqlite,rocksdb,lmdb}.c so
 * bench/render.py puts the rows side by side; render.py keys rows by
 * (system, workload, variant), so the sync=interval runs use the variants
 * "batch-interval" and "single-interval"):
 *
 *   W1  1M x 100 B values, 16 B keys, topic with 1 partition, partition 0
 *       batch            varve_produce_batch, 1,000 records per call, sync=none
 *       single           varve_produce per record, sync=none
 *       batch-interval   as batch, sync=interval (1,000 ms)
 *       single-interval  as single, sync=interval
 *       single-buffered  as single, with append_buffer_bytes = 64 KiB (small
 *                        appends gathered into one write; DURABILITY.md)
 *       single-interval-buffered  as single-interval, with the same buffer
 *   W2  200k x 1 KiB values, same variants
 *   W3  sync=always, varve_produce per record, 2,000 records per producer
 *       1producer, 8producers, 8producers-wait50, 8producers-wait100
 *       (group_commit_wait_us); syncs_per_record = varve_stats fsyncs delta
 *   W4  scan: replay the W1 batch data from offset 0 with one iterator
 *       (touching the first byte of every value), after one warm-up pass
 *   W5  10k random single-record reads by offset on the W1 batch data
 *       get            varve_iter_seek + varve_iter_next on one iterator
 *       get-open       varve_iter_open + varve_iter_next + varve_iter_close
 *       get-unbatched  as get, on the W1 single data (one record per batch)
 *
 * varve-only (workload names not shown by render.py; in latest.jsonl):
 *   open     varve_open of a store with 10,000 segments (segment_bytes 4096)
 *            after a clean close, and after a crash (a forked child appends
 *            and _exit()s without closing)
 *   e2e      produce -> varve_consumer_poll latency, consumer blocked in
 *            poll in another thread, one record in flight (sync none/always)
 *   commit   varve_group_commit in a loop (sync none/always)
 *   compact  varve_clean_now(db, 1) on a compacted topic (start_cleaner=0),
 *            and batch appends to a compacted topic with the cleaner
 *            compacting concurrently vs not running
 *   lz4      JSON-like values, codec none vs LZ4: produce and replay MB/s,
 *            disk bytes per payload byte
 *   rss      VmRSS while replaying a 1 GiB log (100 MiB with --quick)
 */
#include "../bench/bench_common.h"

#include <inttypes.h>
#include <sched.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "cli_parse.h"
#include "varve.h"

#define SYSTEM "varve"
#define TOPIC "bench"
#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6

static struct bench_opts g_opts;
static const char *g_only; /* NULL = everything */
static int g_mmap;          /* stores opened with use_mmap = 1 (variants "...-mmap") */
static const char *g_producers; /* --producers: W3's producer counts, NULL = the default set */

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static void vcheck(int rc, const char *what)
{
	if (rc == VARVE_OK)
		return;
	const char *detail = varve_last_error()->message;
	bench_die("varve %s: %s (%s)", what, varve_errmsg(rc), detail ? detail : "-");
}

static long count(long full) { return bench_count(&g_opts, full); }

/* Does one --only item select workload `wl` (and variant `var`, if not NULL)?
 * Items are "W1" (every variant), "W1/batch" (one variant), or "extras". */
static int item_selects(const char *item, size_t l, const char *wl, const char *var)
{
	size_t n = strlen(wl);
	if (wl[0] != 'W' && l == 6 && strncasecmp(item, "extras", 6) == 0)
		return 1;
	if (l < n || strncasecmp(item, wl, n) != 0)
		return 0;
	if (l == n)
		return 1;
	if (item[n] != '/')
		return 0;
	return !var || (l - n - 1 == strlen(var) && strncasecmp(item + n + 1, var, l - n - 1) == 0);
}

/* Selected by --only: workload `wl`, and variant `var` of it unless NULL. */
static int selected_v(const char *wl, const char *var)
{
	if (!g_only)
		return 1;
	const char *cur = g_only, *item;
	size_t l;
	while (cli_list_next(&cur, &item, &l))
		if (item_selects(item, l, wl, var))
			return 1;
	return 0;
}

static int selected(const char *wl) { return selected_v(wl, NULL); }

/* append_buffer_bytes of the append workload being run (0 = off) */
static int64_t g_append_buffer;

static varve_options make_opts(int policy)
{
	varve_options o = VARVE_OPTIONS_INIT;
	o.sync_policy = policy;
	o.use_mmap = g_mmap;
	return o;
}

static varve_db *db_open(const char *path, const varve_options *o)
{
	varve_db *db;
	vcheck(varve_open(path, o, &db), "open");
	return db;
}

static void db_close(varve_db *db) { vcheck(varve_close(db), "close"); }

static void topic_create(varve_db *db, const char *name, const varve_topic_config *cfg)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	vcheck(varve_topic_create(db, name, cfg ? cfg : &c), "topic_create");
}

static varve_stats stats(varve_db *db)
{
	varve_stats s;
	memset(&s, 0, sizeof s);
	s.version = VARVE_STATS_VERSION;
	vcheck(varve_stats_get(db, &s), "stats_get");
	return s;
}

/* fdatasync + directory fsync calls so far (process-wide counters). */
static uint64_t sync_calls(varve_db *db)
{
	varve_stats s = stats(db);
	return s.fsyncs + s.dir_syncs;
}

static const char *policy_name(int policy)
{
	return policy == VARVE_SYNC_NONE ? "none" : policy == VARVE_SYNC_INTERVAL ? "interval"
										  : "always";
}

/* `base`, or `base`-mmap when the stores use mmap. */
static const char *vname(const char *base, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s", base, g_mmap ? "-mmap" : "");
	return buf;
}

static const char *mmap_note(void) { return g_mmap ? ", use_mmap=1" : ""; }

/* A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1. */
static long proc_status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Like bench_emit, with optional extra JSON members (`"a":1,"b":2`). */
static void emit(const struct bench_result *r, const char *extra)
{
	bench_emit_json(r, extra);
	char lat[96] = "";
	if (!isnan(r->p50_us))
		snprintf(lat, sizeof lat, ", p50 %.1f p99 %.1f max %.0f us", r->p50_us, r->p99_us,
			 r->max_us);
	if (!isnan(r->records_per_s))
		bench_log("  varve %s/%s: %.0f records/s, %.1f MB/s%s", r->workload, r->variant,
			  r->records_per_s, isnan(r->mb_per_s) ? 0.0 : r->mb_per_s, lat);
	else
		bench_log("  varve %s/%s: %.3f s%s", r->workload, r->variant, r->seconds, lat);
}

/* ---------------------------------------------------------------------- */
/* Records                                                                 */

/* The record `seq` of bench_common.h: key of seq (or of seq % key_mod when
 * key_mod > 0, for compaction), value bench_value(seq). Partition 0. */
static void fill_record(varve_record *rec, unsigned char key[BENCH_KEY_BYTES], uint64_t seq,
			long value_bytes, uint64_t key_mod)
{
	bench_key(key_mod ? seq % key_mod : seq, key);
	memset(rec, 0, sizeof *rec);
	rec->key = key;
	rec->key_len = BENCH_KEY_BYTES;
	rec->value = bench_value(seq, (size_t)value_bytes);
	rec->value_len = (size_t)value_bytes;
	rec->timestamp = VARVE_TIMESTAMP_NOW;
	rec->partition = 0;
}

struct appender {
	long per_call;
	unsigned char (*keys)[BENCH_KEY_BYTES];
	varve_record *recs;
};

static struct appender appender_new(long per_call)
{
	struct appender a = { per_call, NULL, NULL };
	a.keys = bench_xmalloc(sizeof *a.keys * (size_t)per_call);
	a.recs = bench_xmalloc(sizeof *a.recs * (size_t)per_call);
	return a;
}

static void appender_free(struct appender *a)
{
	free(a->keys);
	free(a->recs);
}

/* Appends records [from, from + n): varve_produce when per_call is 1,
 * else varve_produce_batch of per_call records into partition 0. */
static void append_range(varve_db *db, const char *topic, struct appender *a, uint64_t from,
			 long n, long value_bytes, uint64_t key_mod)
{
	varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
	po.partition = 0;
	for (long i = 0; i < n; i += a->per_call) {
		long k = n - i < a->per_call ? n - i : a->per_call;
		for (long j = 0; j < k; j++)
			fill_record(&a->recs[j], a->keys[j], from + (uint64_t)(i + j), value_bytes,
				    key_mod);
		if (a->per_call == 1)
			vcheck(varve_produce(db, topic, &a->recs[0], NULL, NULL), "produce");
		else
			vcheck(varve_produce_batch(db, topic, a->recs, (size_t)k, &po),
			       "produce_batch");
	}
}

/* Replays partition 0 from offset 0; checks keys when check_keys. Returns
 * a sum of touched bytes; *n gets the record count and *bytes the payload
 * (key + value) bytes. If rss_peak is set, samples VmRSS as it goes. */
static uint64_t replay_all(varve_db *db, const char *topic, int check_keys, long *n,
			   uint64_t *bytes, long *rss_peak)
{
	varve_iter *it;
	const varve_record *rec;
	uint64_t sum = 0, expect = 0, payload = 0;
	int rc;
	vcheck(varve_iter_open(db, topic, 0, 0, &it), "iter_open");
	while ((rc = varve_iter_next(it, &rec)) == VARVE_OK) {
		if (check_keys && (rec->key_len != BENCH_KEY_BYTES || rec->offset != (int64_t)expect ||
				   bench_key_seq(rec->key) != expect))
			bench_die("replay: unexpected record at offset %lld",
				  (long long)rec->offset);
		expect++;
		sum += ((const unsigned char *)rec->value)[0] + rec->value_len;
		payload += rec->key_len + rec->value_len;
		if (rss_peak && (expect & 16383) == 0) {
			long rss = proc_status_kb("VmRSS");
			if (rss > *rss_peak)
				*rss_peak = rss;
		}
	}
	if (rc != VARVE_EEND)
		vcheck(rc, "iter_next");
	varve_iter_close(it);
	*n = (long)expect;
	if (bytes)
		*bytes = payload;
	return sum;
}

/* ---------------------------------------------------------------------- */
/* W1, W2: appends without a sync per record                               */

/*
 * Appends `records` records of value_bytes into a fresh store at `path`
 * under `policy`, per_call records per call, and emits the result (unless
 * quiet). The store is left on disk (closed) for the caller.
 */
static void append_workload(const char *path, const char *workload, long records,
			    long value_bytes, long per_call, int policy, int quiet)
{
	char variant[40], config[200];
	snprintf(variant, sizeof variant, "%s%s%s%s", per_call > 1 ? "batch" : "single",
		 policy == VARVE_SYNC_INTERVAL ? "-interval" : "",
		 g_append_buffer ? "-buffered" : "", g_mmap ? "-mmap" : "");
	if (per_call > 1)
		snprintf(config, sizeof config,
			 "sync=%s%s, varve_produce_batch %ld records/call, 1 partition%s",
			 policy_name(policy), policy == VARVE_SYNC_INTERVAL ? " (1000 ms)" : "",
			 per_call, mmap_note());
	else {
		char buf_note[48] = "";
		if (g_append_buffer)
			snprintf(buf_note, sizeof buf_note, ", append_buffer_bytes %" PRId64,
				 g_append_buffer);
		snprintf(config, sizeof config,
			 "sync=%s%s, varve_produce per record, 1 partition%s%s",
			 policy_name(policy), policy == VARVE_SYNC_INTERVAL ? " (1000 ms)" : "",
			 buf_note, mmap_note());
	}
	struct bench_result r = BENCH_RESULT(SYSTEM, workload, variant, config);
	varve_options o = make_opts(policy);
	o.append_buffer_bytes = g_append_buffer;
	varve_db *db = db_open(path, &o);
	topic_create(db, TOPIC, NULL);
	struct appender a = appender_new(per_call);

	uint64_t s0 = sync_calls(db);
	struct bench_meter m = bench_meter_start();
	append_range(db, TOPIC, &a, 0, records, value_bytes, 0);
	bench_meter_stop(&m, &r, records, value_bytes);
	r.syncs_per_record = (double)(sync_calls(db) - s0) / (double)records;
	appender_free(&a);
	db_close(db);
	bench_disk_usage(&r, path);
	if (!quiet)
		emit(&r, NULL);
}

/* ---------------------------------------------------------------------- */
/* W3: durable appends                                                     */

struct w3_ctx {
	varve_db *db;
	long value_bytes;
};

static void *w3_producer(void *arg)
{
	struct bench_producer *p = arg;
	const struct w3_ctx *c = p->ctx;
	unsigned char key[BENCH_KEY_BYTES];
	varve_record rec;

	bench_producer_go(p);
	for (long i = 0; i < p->records; i++) {
		uint64_t t0 = bench_now_ns();
		fill_record(&rec, key, bench_producer_seq(p, i), c->value_bytes, 0);
		vcheck(varve_produce(c->db, TOPIC, &rec, NULL, NULL), "produce");
		p->lat_ns[i] = bench_now_ns() - t0;
	}
	p->end_ns = bench_now_ns();
	return NULL;
}

static void w3_run(int producers, uint32_t wait_us)
{
	char variant[40], config[200];
	snprintf(variant, sizeof variant, "%dproducer%s", producers, producers > 1 ? "s" : "");
	if (wait_us)
		snprintf(variant + strlen(variant), sizeof variant - strlen(variant), "-wait%u",
			 wait_us);
	if (g_mmap)
		snprintf(variant + strlen(variant), sizeof variant - strlen(variant), "-mmap");
	snprintf(config, sizeof config,
		 "sync=always, varve_produce per record, group_commit_wait_us=%u, %s%s", wait_us,
		 producers > 1 ? "producers share the db and partition 0" : "1 partition",
		 mmap_note());
	struct bench_result r = BENCH_RESULT(SYSTEM, "W3", variant, config);
	char *path = bench_fresh_dir(&g_opts, "varve-w3", 0);
	varve_options o = make_opts(VARVE_SYNC_ALWAYS);
	o.group_commit_wait_us = wait_us;
	struct w3_ctx c = { db_open(path, &o), 100 };
	topic_create(c.db, TOPIC, NULL);

	long records = count(2000);
	uint64_t s0 = sync_calls(c.db);
	bench_run_producers(&r, producers, records, 100, &c, w3_producer);
	r.syncs_per_record = (double)(sync_calls(c.db) - s0) / (double)r.records;
	db_close(c.db);
	bench_rmrf(path);
	free(path);
	emit(&r, NULL);
}

/* ---------------------------------------------------------------------- */
/* W4, W5: reads on the W1 data                                            */

static void w4_replay(const char *path, long records)
{
	char variant[32], config[120];
	snprintf(config, sizeof config, "one varve_iter from offset 0, warm page cache%s",
		 mmap_note());
	struct bench_result r = BENCH_RESULT(SYSTEM, "W4", vname("scan", variant, sizeof variant),
					     config);
	varve_options o = make_opts(VARVE_SYNC_NONE);
	varve_db *db = db_open(path, &o);
	long n;

	bench_sink += replay_all(db, TOPIC, 1, &n, NULL, NULL);
	struct bench_meter m = bench_meter_start();
	bench_sink += replay_all(db, TOPIC, 1, &n, NULL, NULL);
	bench_meter_stop(&m, &r, n, 100);
	if (n != records)
		bench_die("replay saw %ld records, expected %ld", n, records);
	r.syncs_per_record = NAN;
	db_close(db);
	emit(&r, NULL);
}

/* mode 0: seek on one iterator; 1: open + next + close per read. */
static void w5_reads(const char *path, const char *variant, long records, long reads, int mode)
{
	char config[200], vbuf[40];
	snprintf(config, sizeof config, "%s, warm page cache%s%s",
		 mode ? "varve_iter_open + varve_iter_next + varve_iter_close per read"
		      : "varve_iter_seek + varve_iter_next on one iterator",
		 strcmp(variant, "get-unbatched") == 0 ? ", W1 single data (1 record/batch)"
						       : ", W1 batch data (1,000 records/batch)",
		 mmap_note());
	struct bench_result r = BENCH_RESULT(SYSTEM, "W5", vname(variant, vbuf, sizeof vbuf),
					     config);
	varve_options o = make_opts(VARVE_SYNC_NONE);
	varve_db *db = db_open(path, &o);
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)reads);
	varve_iter *it = NULL;
	const varve_record *rec;

	if (mode == 0)
		vcheck(varve_iter_open(db, TOPIC, 0, 0, &it), "iter_open");
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < reads; i++) {
		uint64_t t0 = bench_now_ns();
		uint64_t seq = bench_random_seq((uint64_t)i, (uint64_t)records);
		if (mode == 0)
			vcheck(varve_iter_seek(it, (int64_t)seq), "iter_seek");
		else
			vcheck(varve_iter_open(db, TOPIC, 0, (int64_t)seq, &it), "iter_open");
		vcheck(varve_iter_next(it, &rec), "iter_next");
		if (rec->offset != (int64_t)seq || bench_key_seq(rec->key) != seq)
			bench_die("get %llu returned offset %lld", (unsigned long long)seq,
				  (long long)rec->offset);
		bench_sink += ((const unsigned char *)rec->value)[0];
		if (mode == 1) {
			varve_iter_close(it);
			it = NULL;
		}
		lat[i] = bench_now_ns() - t0;
	}
	bench_meter_stop(&m, &r, reads, 100);
	r.syncs_per_record = NAN;
	bench_latencies(&r, lat, (size_t)reads);
	varve_iter_close(it);
	free(lat);
	db_close(db);
	emit(&r, NULL);
}

/* ---------------------------------------------------------------------- */
/* Extras: open time                                                       */

#define OPEN_SEG_BYTES 4096
#define OPEN_BATCH 28 /* 28 records of 100 B: one ~3.5 KB batch per 4 KiB segment */

static varve_options open_opts(void)
{
	varve_options o = make_opts(VARVE_SYNC_NONE);
	o.segment_bytes = OPEN_SEG_BYTES;
	return o;
}

static uint32_t segment_count(varve_db *db)
{
	varve_partition_info info;
	memset(&info, 0, sizeof info);
	info.version = VARVE_PARTITION_INFO_VERSION;
	vcheck(varve_partition_info_get(db, TOPIC, 0, &info), "partition_info_get");
	return info.segments;
}

static double timed_open_close(const char *path, uint32_t *segs)
{
	varve_options o = open_opts();
	uint64_t t0 = bench_now_ns();
	varve_db *db = db_open(path, &o);
	uint64_t t1 = bench_now_ns();
	*segs = segment_count(db);
	db_close(db);
	return (double)(t1 - t0) / 1e3;
}

static void open_emit(const char *variant, const char *config, double *us, int trials,
		      uint32_t segs)
{
	struct bench_result r = BENCH_RESULT(SYSTEM, "open", variant, config);
	uint64_t ns[8];
	for (int i = 0; i < trials; i++)
		ns[i] = (uint64_t)(us[i] * 1e3);
	bench_latencies(&r, ns, (size_t)trials);
	r.seconds = r.p50_us / 1e6;
	char extra[160];
	snprintf(extra, sizeof extra, "\"segments\":%u,\"trials\":%d,\"open_ms\":%.2f", segs, trials,
		 r.p50_us / 1e3);
	emit(&r, extra);
}

static void open_run(void)
{
	const long nseg = count(10000);
	const int trials = 5;
	char *path = bench_fresh_dir(&g_opts, "varve-open", 0);
	varve_options o = open_opts();
	varve_db *db = db_open(path, &o);
	struct appender a = appender_new(OPEN_BATCH);
	uint64_t t0 = bench_now_ns();

	topic_create(db, TOPIC, NULL);
	/* One batch per segment: a second one never fits in 4 KiB. */
	append_range(db, TOPIC, &a, 0, OPEN_BATCH * nseg, 100, 0);
	uint32_t built = segment_count(db);
	db_close(db);
	bench_log("  built %u segments in %.1f s", built, (double)(bench_now_ns() - t0) / 1e9);

	double us[8];
	uint32_t segs = 0;
	for (int i = 0; i < trials; i++)
		us[i] = timed_open_close(path, &segs);
	char config[200];
	snprintf(config, sizeof config,
		 "varve_open after varve_close, %u segments of 4 KiB (segment_bytes=4096), warm page "
		 "cache, median of %d", segs, trials);
	open_emit("clean", config, us, trials, segs);

	/* Crash: a child reopens, appends a few batches and exits without
	 * closing (no recovery point or clean marker written); we time the
	 * recovering open. */
	uint64_t seq = (uint64_t)OPEN_BATCH * (uint64_t)nseg;
	for (int i = 0; i < trials; i++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			bench_die("fork: %s", strerror(errno));
		if (pid == 0) {
			varve_options co = open_opts();
			varve_db *cdb;
			if (varve_open(path, &co, &cdb) != VARVE_OK)
				_exit(2);
			for (int b = 0; b < 4; b++) {
				varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
				po.partition = 0;
				for (long j = 0; j < OPEN_BATCH; j++)
					fill_record(&a.recs[j], a.keys[j], seq + (uint64_t)(b * OPEN_BATCH + j),
						    100, 0);
				if (varve_produce_batch(cdb, TOPIC, a.recs, OPEN_BATCH, &po) != VARVE_OK)
					_exit(3);
			}
			_exit(0); /* crash: no varve_close */
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			bench_die("crash child failed (status %d)", status);
		seq += 4 * OPEN_BATCH;
		us[i] = timed_open_close(path, &segs);
	}
	snprintf(config, sizeof config,
		 "varve_open after a process crash (child appended 4 batches, _exit without close), "
		 "%u segments of 4 KiB, warm page cache, median of %d", segs, trials);
	open_emit("crash", config, us, trials, segs);
	appender_free(&a);
	bench_rmrf(path);
	free(path);
}

/* ---------------------------------------------------------------------- */
/* Extras: consumer end-to-end latency                                     */

struct e2e_ctx {
	varve_db *db;
	long n;
	uint64_t *sent_ns, *lat_ns;
	atomic_long received;
	atomic_int ready;
};

static void *e2e_consumer(void *arg)
{
	struct e2e_ctx *c = arg;
	const char *topics[] = { TOPIC };
	varve_consumer_options o = VARVE_CONSUMER_OPTIONS_INIT;
	varve_consumer *cons;
	o.auto_offset_reset = VARVE_RESET_EARLIEST;
	vcheck(varve_consumer_open(c->db, "bench-e2e", topics, 1, &o, &cons), "consumer_open");
	atomic_store(&c->ready, 1);
	while (atomic_load(&c->received) < c->n) {
		const varve_msg *msgs;
		size_t k;
		vcheck(varve_consumer_poll(cons, 1000, &msgs, &k), "consumer_poll");
		uint64_t now = bench_now_ns();
		for (size_t j = 0; j < k; j++) {
			int64_t off = msgs[j].rec.offset;
			if (off < 0 || off >= c->n)
				bench_die("e2e: offset %lld out of range", (long long)off);
			c->lat_ns[off] = now - c->sent_ns[off];
		}
		atomic_fetch_add(&c->received, (long)k);
	}
	varve_consumer_close(cons);
	return NULL;
}

static void e2e_run(int policy)
{
	char variant[32], config[200];
	snprintf(variant, sizeof variant, "poll-%s", policy_name(policy));
	snprintf(config, sizeof config,
		 "sync=%s; varve_produce of one 100 B record, consumer thread blocked in "
		 "varve_consumer_poll; next produce after the record arrived", policy_name(policy));
	struct bench_result r = BENCH_RESULT(SYSTEM, "e2e", variant, config);
	char *path = bench_fresh_dir(&g_opts, "varve-e2e", 0);
	varve_options o = make_opts(policy);
	struct e2e_ctx c;
	memset(&c, 0, sizeof c);
	c.db = db_open(path, &o);
	c.n = policy == VARVE_SYNC_ALWAYS ? count(2000) : count(20000);
	c.sent_ns = bench_xmalloc(sizeof *c.sent_ns * (size_t)c.n);
	c.lat_ns = bench_xmalloc(sizeof *c.lat_ns * (size_t)c.n);
	atomic_init(&c.received, 0);
	atomic_init(&c.ready, 0);
	topic_create(c.db, TOPIC, NULL);

	pthread_t tid;
	if (pthread_create(&tid, NULL, e2e_consumer, &c) != 0)
		bench_die("pthread_create failed");
	while (!atomic_load(&c.ready))
		sched_yield();
	usleep(10000); /* let the consumer block in poll */
	unsigned char key[BENCH_KEY_BYTES];
	varve_record rec;
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < c.n; i++) {
		fill_record(&rec, key, (uint64_t)i, 100, 0);
		c.sent_ns[i] = bench_now_ns();
		vcheck(varve_produce(c.db, TOPIC, &rec, NULL, NULL), "produce");
		while (atomic_load(&c.received) <= i)
			sched_yield();
	}
	bench_meter_stop(&m, &r, c.n, 100);
	pthread_join(tid, NULL);
	r.syncs_per_record = NAN;
	bench_latencies(&r, c.lat_ns, (size_t)c.n);
	db_close(c.db);
	bench_rmrf(path);
	free(path);
	free(c.sent_ns);
	free(c.lat_ns);
	emit(&r, NULL);
}

/* ---------------------------------------------------------------------- */
/* Extras: commit throughput                                               */

static void commit_run(int policy)
{
	char variant[32], config[200];
	snprintf(variant, sizeof variant, "commit-%s", policy_name(policy));
	snprintf(config, sizeof config,
		 "sync=%s; varve_group_commit of one partition per call, offsets increasing "
		 "below the durable end", policy_name(policy));
	struct bench_result r = BENCH_RESULT(SYSTEM, "commit", variant, config);
	char *path = bench_fresh_dir(&g_opts, "varve-commit", 0);
	varve_options o = make_opts(policy);
	varve_db *db = db_open(path, &o);
	long n = policy == VARVE_SYNC_ALWAYS ? count(2000) : count(100000);
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)n);
	struct appender a = appender_new(1000);

	topic_create(db, TOPIC, NULL);
	append_range(db, TOPIC, &a, 0, n, 100, 0);
	vcheck(varve_sync(db), "sync"); /* commits need durable data: keep that out */
	uint64_t s0 = sync_calls(db);
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns();
		vcheck(varve_group_commit(db, "bench-commit", TOPIC, 0, i + 1, NULL), "group_commit");
		lat[i] = bench_now_ns() - t0;
	}
	bench_meter_stop(&m, &r, n, 0);
	r.value_bytes = -1;
	r.mb_per_s = NAN;
	r.syncs_per_record = (double)(sync_calls(db) - s0) / (double)n;
	bench_latencies(&r, lat, (size_t)n);
	appender_free(&a);
	db_close(db);
	bench_rmrf(path);
	free(path);
	free(lat);
	emit(&r, NULL);
}

/* ---------------------------------------------------------------------- */
/* Extras: compaction                                                      */

static varve_topic_config compact_topic(int64_t segment_bytes, double dirty_ratio)
{
	varve_topic_config c = VARVE_TOPIC_CONFIG_INIT;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_bytes = segment_bytes;
	c.min_cleanable_dirty_ratio = dirty_ratio;
	return c;
}

static void compact_now_run(void)
{
	const long records = count(1000000), keys = records / 10;
	char config[200];
	snprintf(config, sizeof config,
		 "varve_clean_now(db, 1), start_cleaner=0, %ld records of 100 B over %ld keys, "
		 "segment_bytes 8 MiB; MB/s = compaction bytes read", records, keys);
	struct bench_result r = BENCH_RESULT(SYSTEM, "compact", "clean_now", config);
	char *path = bench_fresh_dir(&g_opts, "varve-compact", 0);
	varve_options o = make_opts(VARVE_SYNC_NONE);
	o.start_cleaner = 0;
	varve_db *db = db_open(path, &o);
	varve_topic_config tc = compact_topic(8 << 20, 0.5);
	struct appender a = appender_new(1000);

	topic_create(db, TOPIC, &tc);
	append_range(db, TOPIC, &a, 0, records, 100, (uint64_t)keys);
	appender_free(&a);
	uint64_t before = bench_du(path);
	varve_stats s0 = stats(db);
	struct bench_meter m = bench_meter_start();
	vcheck(varve_clean_now(db, 1), "clean_now");
	double cpu = bench_cpu_us() - m.start_cpu_us;
	r.seconds = (double)(bench_now_ns() - m.start_ns) / 1e9;
	varve_stats s1 = stats(db);
	uint64_t rd = s1.compaction_bytes_read - s0.compaction_bytes_read;
	uint64_t wr = s1.compaction_bytes_written - s0.compaction_bytes_written;
	uint64_t kept = s1.compaction_records_kept - s0.compaction_records_kept;
	uint64_t dropped = s1.compaction_records_dropped - s0.compaction_records_dropped;
	r.records = (long long)(kept + dropped);
	r.value_bytes = 100;
	r.records_per_s = (double)r.records / r.seconds;
	r.mb_per_s = (double)rd / 1e6 / r.seconds;
	r.cpu_us_per_record = r.records ? cpu / (double)r.records : NAN;
	db_close(db);
	uint64_t after = bench_du(path);
	char extra[300];
	snprintf(extra, sizeof extra,
		 "\"bytes_read\":%llu,\"bytes_written\":%llu,\"records_kept\":%llu,"
		 "\"records_dropped\":%llu,\"compactions\":%llu,\"du_before\":%llu,\"du_after\":%llu",
		 (unsigned long long)rd, (unsigned long long)wr, (unsigned long long)kept,
		 (unsigned long long)dropped,
		 (unsigned long long)(s1.compactions - s0.compactions), (unsigned long long)before,
		 (unsigned long long)after);
	bench_rmrf(path);
	free(path);
	emit(&r, extra);
}

static void compact_append_run(int cleaner)
{
	/* Long enough (~1 s) for the cleaner to finish compactions inside the window. */
	const long records = count(3000000), keys = count(100000);
	char config[240];
	snprintf(config, sizeof config,
		 "sync=none, varve_produce_batch 1000/call into a compacted topic (%ld keys, "
		 "segment_bytes 4 MiB, dirty ratio 0.1), %s", keys,
		 cleaner ? "cleaner thread on (cleaner_interval_ms=100)" : "start_cleaner=0");
	struct bench_result r = BENCH_RESULT(SYSTEM, "compact",
					     cleaner ? "append-cleaner-on" : "append-cleaner-off",
					     config);
	char *path = bench_fresh_dir(&g_opts, "varve-compact", 0);
	varve_options o = make_opts(VARVE_SYNC_NONE);
	o.start_cleaner = cleaner;
	o.cleaner_interval_ms = 100;
	varve_db *db = db_open(path, &o);
	varve_topic_config tc = compact_topic(4 << 20, 0.1);
	struct appender a = appender_new(1000);

	topic_create(db, TOPIC, &tc);
	varve_stats s0 = stats(db);
	struct bench_meter m = bench_meter_start();
	append_range(db, TOPIC, &a, 0, records, 100, (uint64_t)keys);
	bench_meter_stop(&m, &r, records, 100);
	varve_stats s1 = stats(db), s2 = s1;
	/* A compaction still running at the end of the window finishes here
	 * (stats count finished runs), so the report says how much ran. */
	for (int i = 0; cleaner && i < 200 && s2.compactions == s0.compactions; i++) {
		usleep(50000);
		s2 = stats(db);
	}
	r.syncs_per_record = NAN;
	appender_free(&a);
	db_close(db);
	char extra[300];
	snprintf(extra, sizeof extra,
		 "\"compactions_done_in_window\":%llu,\"compactions_done_after\":%llu,"
		 "\"compaction_bytes_read\":%llu,\"compaction_ms\":%.1f",
		 (unsigned long long)(s1.compactions - s0.compactions),
		 (unsigned long long)(s2.compactions - s0.compactions),
		 (unsigned long long)(s2.compaction_bytes_read - s0.compaction_bytes_read),
		 (double)(s2.compaction_ns - s0.compaction_ns) / 1e6);
	bench_rmrf(path);
	free(path);
	emit(&r, extra);
}

/* ---------------------------------------------------------------------- */
/* Extras: LZ4 on JSON-like values                                         */

struct json_data {
	char *buf;
	size_t *off, *len;
	long n;
	uint64_t value_bytes;
};

static struct json_data json_make(long n)
{
	static const char *events[] = { "page_view", "click", "add_to_cart", "purchase",
					 "search",    "login", "logout",      "scroll" };
	struct json_data d = { NULL, NULL, NULL, n, 0 };
	size_t cap = (size_t)n * 400;
	d.buf = bench_xmalloc(cap);
	d.off = bench_xmalloc(sizeof *d.off * (size_t)n);
	d.len = bench_xmalloc(sizeof *d.len * (size_t)n);
	size_t at = 0;
	for (long i = 0; i < n; i++) {
		uint64_t h = bench_mix64((uint64_t)i), h2 = bench_mix64(h);
		int w = snprintf(d.buf + at, cap - at,
				 "{\"id\":%ld,\"ts\":%llu,\"user\":\"user-%05u\",\"session\":\"%016llx\","
				 "\"event\":\"%s\",\"page\":\"/products/%u\",\"referrer\":"
				 "\"https://www.example.com/search?q=item+%u\",\"ua\":\"Mozilla/5.0 "
				 "(X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\","
				 "\"amount\":%u.%02u,\"currency\":\"EUR\",\"ok\":%s}",
				 i, 1700000000000ull + (unsigned long long)i * 7 + (h & 7),
				 (unsigned)(h % 50000), (unsigned long long)h2, events[h % 8],
				 (unsigned)((h >> 8) % 10000), (unsigned)((h >> 24) % 1000),
				 (unsigned)((h >> 32) % 500), (unsigned)((h >> 40) % 100),
				 (h >> 48) & 1 ? "true" : "false");
		if (w < 0 || (size_t)w >= cap - at)
			bench_die("json buffer too small");
		d.off[i] = at;
		d.len[i] = (size_t)w;
		at += (size_t)w;
		d.value_bytes += (uint64_t)w;
	}
	return d;
}

static void json_free(struct json_data *d)
{
	free(d->buf);
	free(d->off);
	free(d->len);
}

static void lz4_run(const struct json_data *d, int codec)
{
	const char *cname = codec == VARVE_CODEC_LZ4 ? "lz4" : "none";
	char variant[32], config[200];
	double payload = (double)d->value_bytes + (double)d->n * BENCH_KEY_BYTES;
	long avg = (long)((double)d->value_bytes / (double)d->n + 0.5);
	snprintf(variant, sizeof variant, "produce-%s", cname);
	snprintf(config, sizeof config,
		 "topic codec %s, JSON-like values (avg %ld B), sync=none, varve_produce_batch "
		 "1000/call", cname, avg);
	struct bench_result r = BENCH_RESULT(SYSTEM, "lz4", variant, config);
	char *path = bench_fresh_dir(&g_opts, "varve-lz4", 0);
	varve_options o = make_opts(VARVE_SYNC_NONE);
	varve_db *db = db_open(path, &o);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.codec = codec;
	topic_create(db, TOPIC, &tc);
	unsigned char(*keys)[BENCH_KEY_BYTES] = bench_xmalloc(sizeof *keys * 1000);
	varve_record *recs = bench_xmalloc(sizeof *recs * 1000);
	varve_produce_options po = VARVE_PRODUCE_OPTIONS_INIT;
	po.partition = 0;

	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < d->n; i += 1000) {
		long k = d->n - i < 1000 ? d->n - i : 1000;
		for (long j = 0; j < k; j++) {
			fill_record(&recs[j], keys[j], (uint64_t)(i + j), 0, 0);
			recs[j].value = d->buf + d->off[i + j];
			recs[j].value_len = d->len[i + j];
		}
		vcheck(varve_produce_batch(db, TOPIC, recs, (size_t)k, &po), "produce_batch");
	}
	bench_meter_stop(&m, &r, d->n, avg);
	r.mb_per_s = payload / 1e6 / r.seconds;
	r.syncs_per_record = NAN;
	db_close(db);
	r.disk_bytes_per_payload_byte = (double)bench_du(path) / payload;
	emit(&r, NULL);

	snprintf(variant, sizeof variant, "replay-%s", cname);
	snprintf(config, sizeof config,
		 "topic codec %s, JSON-like values (avg %ld B), one varve_iter from 0, after a "
		 "warm-up pass", cname, avg);
	struct bench_result rr = BENCH_RESULT(SYSTEM, "lz4", variant, config);
	db = db_open(path, &o);
	long n;
	uint64_t bytes;
	bench_sink += replay_all(db, TOPIC, 1, &n, &bytes, NULL);
	m = bench_meter_start();
	bench_sink += replay_all(db, TOPIC, 1, &n, &bytes, NULL);
	bench_meter_stop(&m, &rr, n, avg);
	if (n != d->n)
		bench_die("lz4 replay saw %ld records, expected %ld", n, d->n);
	rr.mb_per_s = (double)bytes / 1e6 / rr.seconds;
	rr.syncs_per_record = NAN;
	rr.disk_bytes_per_payload_byte = r.disk_bytes_per_payload_byte;
	db_close(db);
	emit(&rr, NULL);
	free(keys);
	free(recs);
	bench_rmrf(path);
	free(path);
}

/* ---------------------------------------------------------------------- */
/* Extras: memory while replaying a large log                              */

static void rss_run(void)
{
	const long records = count(1000000); /* 1 KiB values: ~1 GiB (100 MiB quick) */
	char *path = bench_fresh_dir(&g_opts, "varve-rss", 0);
	varve_options o = make_opts(VARVE_SYNC_NONE);
	o.segment_bytes = 64u << 20;
	varve_db *db = db_open(path, &o);
	struct appender a = appender_new(1000);
	topic_create(db, TOPIC, NULL);
	append_range(db, TOPIC, &a, 0, records, 1024, 0);
	appender_free(&a);
	db_close(db);
	uint64_t du = bench_du(path);

	char config[200];
	snprintf(config, sizeof config,
		 "replay of %ld x 1 KiB records (%.0f MB on disk, segment_bytes 64 MiB) with one "
		 "varve_iter; VmRSS sampled every 16384 records", records, (double)du / 1e6);
	struct bench_result r = BENCH_RESULT(SYSTEM, "rss", "replay", config);
	db = db_open(path, &o);
	long rss0 = proc_status_kb("VmRSS"), peak = rss0, n;
	struct bench_meter m = bench_meter_start();
	bench_sink += replay_all(db, TOPIC, 1, &n, NULL, &peak);
	bench_meter_stop(&m, &r, n, 1024);
	r.syncs_per_record = NAN;
	long rss1 = proc_status_kb("VmRSS");
	db_close(db);
	char extra[200];
	snprintf(extra, sizeof extra,
		 "\"log_bytes\":%llu,\"rss_before_kb\":%ld,\"rss_peak_kb\":%ld,\"rss_after_kb\":%ld",
		 (unsigned long long)du, rss0, peak, rss1);
	bench_rmrf(path);
	free(path);
	emit(&r, extra);
}

/* ---------------------------------------------------------------------- */

/* W1-W5 with the current g_mmap setting. */
static void core_workloads(void)
{
	const long w1 = count(1000000), w2 = count(200000), w5 = count(10000);
	/* W1 batch, then W4 and W5 on its data (as the other programs do). */
	char v1[40], v2[40], v3[40], v4[40];
	int w1b = selected_v("W1", vname("batch", v1, sizeof v1));
	int w1s = selected_v("W1", vname("single", v2, sizeof v2));
	int w4 = selected_v("W4", vname("scan", v3, sizeof v3));
	int w5get = selected_v("W5", vname("get", v4, sizeof v4));
	int w5open = !g_mmap && selected_v("W5", "get-open");
	if (w1b || w4 || w5get || w5open) {
		bench_log("varve: W1 batch%s%s%s", w4 ? ", W4" : "", w5get || w5open ? ", W5" : "",
			  g_mmap ? " (use_mmap)" : "");
		char *dir = bench_fresh_dir(&g_opts, "varve-w1", 0);
		append_workload(dir, "W1", w1, 100, 1000, VARVE_SYNC_NONE, !w1b);
		if (w4)
			w4_replay(dir, w1);
		if (w5get)
			w5_reads(dir, "get", w1, w5, 0);
		if (w5open)
			w5_reads(dir, "get-open", w1, w5, 1);
		bench_rmrf(dir);
		free(dir);
	}
	/* W1 single, and W5 get-unbatched on its data (one record per batch). */
	int w5unb = selected_v("W5", vname("get-unbatched", v4, sizeof v4));
	if (w1s || w5unb) {
		bench_log("varve: W1 single%s%s", w5unb ? ", W5 get-unbatched" : "",
			  g_mmap ? " (use_mmap)" : "");
		char *dir = bench_fresh_dir(&g_opts, "varve-w1", 0);
		append_workload(dir, "W1", w1, 100, 1, VARVE_SYNC_NONE, !w1s);
		if (w5unb)
			w5_reads(dir, "get-unbatched", w1, w5, 0);
		bench_rmrf(dir);
		free(dir);
	}
	const struct {
		const char *workload, *variant;
		long records, value_bytes, per_call;
		int policy;
		int64_t buffer;
	} appends[] = {
		{ "W1", "single-buffered", w1, 100, 1, VARVE_SYNC_NONE, 64 << 10 },
		{ "W1", "batch-interval", w1, 100, 1000, VARVE_SYNC_INTERVAL, 0 },
		{ "W1", "single-interval", w1, 100, 1, VARVE_SYNC_INTERVAL, 0 },
		{ "W1", "single-interval-buffered", w1, 100, 1, VARVE_SYNC_INTERVAL, 64 << 10 },
		{ "W2", "batch", w2, 1024, 1000, VARVE_SYNC_NONE, 0 },
		{ "W2", "single", w2, 1024, 1, VARVE_SYNC_NONE, 0 },
		{ "W2", "batch-interval", w2, 1024, 1000, VARVE_SYNC_INTERVAL, 0 },
		{ "W2", "single-interval", w2, 1024, 1, VARVE_SYNC_INTERVAL, 0 },
	};
	for (size_t i = 0; i < sizeof appends / sizeof appends[0]; i++) {
		if (g_mmap && (strstr(appends[i].variant, "interval") || appends[i].buffer))
			continue; /* the mmap pass runs sync=none only, and has no buffer */
		if (!selected_v(appends[i].workload, vname(appends[i].variant, v1, sizeof v1)))
			continue;
		bench_log("varve: %s %s", appends[i].workload, v1);
		char *dir = bench_fresh_dir(&g_opts, "varve-append", 0);
		g_append_buffer = appends[i].buffer;
		append_workload(dir, appends[i].workload, appends[i].records, appends[i].value_bytes,
				appends[i].per_call, appends[i].policy, 0);
		g_append_buffer = 0;
		bench_rmrf(dir);
		free(dir);
	}
	if (selected("W3") && g_producers) {
		for (const char *c = g_producers; *c;) {
			char *end;
			long n = strtol(c, &end, 10);
			if (end == c || n < 1 || n > 256 || (*end && *end != ','))
				bench_die("--producers: bad count list '%s'", g_producers);
			bench_log("varve: W3 with %ld producer(s)%s", n, g_mmap ? " (use_mmap)" : "");
			w3_run((int)n, 0);
			c = *end ? end + 1 : end;
		}
	} else if (selected("W3")) {
		const struct {
			int producers;
			uint32_t wait_us;
		} w3[] = { { 1, 0 }, { 8, 0 }, { 8, 50 }, { 8, 100 } };
		for (size_t i = 0; i < sizeof w3 / sizeof w3[0]; i++) {
			char v[40];
			snprintf(v, sizeof v, "%dproducer%s", w3[i].producers,
				 w3[i].producers > 1 ? "s" : "");
			if (w3[i].wait_us)
				snprintf(v + strlen(v), sizeof v - strlen(v), "-wait%u", w3[i].wait_us);
			if (g_mmap && w3[i].wait_us)
				continue; /* the mmap pass runs the plain variants only */
			if (g_mmap)
				snprintf(v + strlen(v), sizeof v - strlen(v), "-mmap");
			if (!selected_v("W3", v))
				continue;
			bench_log("varve: W3 with %d producer(s), group_commit_wait_us=%u%s",
				  w3[i].producers, w3[i].wait_us, g_mmap ? " (use_mmap)" : "");
			w3_run(w3[i].producers, w3[i].wait_us);
		}
	}
}

static void usage(const char *argv0)
{
	bench_die("usage: %s [--quick] [--only W1,W2,W3,W4,W5,open,e2e,commit,compact,lz4,rss,"
		  "extras] [--producers 1,2,4,8,32] DIR", argv0);
}

int main(int argc, char **argv)
{
	int created = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			g_opts.quick = 1;
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			g_only = argv[++i];
		else if (strncmp(argv[i], "--only=", 7) == 0)
			g_only = argv[i] + 7;
		else if (strcmp(argv[i], "--producers") == 0 && i + 1 < argc)
			g_producers = argv[++i];
		else if (argv[i][0] == '-' || g_opts.dir)
			usage(argv[0]);
		else
			g_opts.dir = argv[i];
	}
	if (!g_opts.dir)
		usage(argv[0]);
	if (mkdir(g_opts.dir, 0755) == 0)
		created = 1;
	else if (errno != EEXIST)
		bench_die("mkdir %s: %s", g_opts.dir, strerror(errno));
	struct statfs sf;
	if (statfs(g_opts.dir, &sf) != 0)
		bench_die("statfs %s: %s", g_opts.dir, strerror(errno));
	if ((unsigned long)sf.f_type == TMPFS_MAGIC_ || (unsigned long)sf.f_type == RAMFS_MAGIC_)
		bench_die("%s is on tmpfs/ramfs: give a disk-backed directory", g_opts.dir);

	bench_log("varve %s%s", varve_version(NULL, NULL, NULL), g_opts.quick ? " (quick)" : "");

	core_workloads();
	g_mmap = 1;
	core_workloads();
	g_mmap = 0;
	if (selected("open")) {
		bench_log("varve: open with %ld segments", count(10000));
		open_run();
	}
	if (selected("e2e")) {
		bench_log("varve: e2e produce -> poll");
		if (selected_v("e2e", "poll-none"))
			e2e_run(VARVE_SYNC_NONE);
		if (selected_v("e2e", "poll-always"))
			e2e_run(VARVE_SYNC_ALWAYS);
	}
	if (selected("commit")) {
		bench_log("varve: group commits");
		if (selected_v("commit", "commit-none"))
			commit_run(VARVE_SYNC_NONE);
		if (selected_v("commit", "commit-always"))
			commit_run(VARVE_SYNC_ALWAYS);
	}
	if (selected("compact")) {
		bench_log("varve: compaction");
		if (selected_v("compact", "clean_now"))
			compact_now_run();
		if (selected_v("compact", "append-cleaner-off"))
			compact_append_run(0);
		if (selected_v("compact", "append-cleaner-on"))
			compact_append_run(1);
	}
	if (selected("lz4")) {
		bench_log("varve: LZ4 on JSON-like values");
		struct json_data d = json_make(count(200000));
		lz4_run(&d, VARVE_CODEC_NONE);
		lz4_run(&d, VARVE_CODEC_LZ4);
		json_free(&d);
	}
	if (selected("rss")) {
		bench_log("varve: RSS while replaying a large log");
		/* In a child, so the baseline is not what earlier workloads left. */
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			bench_die("fork: %s", strerror(errno));
		if (pid == 0) {
			rss_run();
			fflush(NULL);
			_exit(0);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			bench_die("rss child failed (status %d)", status);
	}
	if (created)
		(void)rmdir(g_opts.dir);
	return 0;
}
