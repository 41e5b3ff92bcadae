/* SPDX-License-Identifier: MIT */
/*
 * bench_rocksdb.c -- the comparison workloads (bench/README.md) on RocksDB,
 * through its C API with default options (plus create_if_missing).
 */
#include "bench_common.h"

#include <rocksdb/c.h>

#define SYSTEM "rocksdb"

static void check(char *err, const char *what)
{
	if (err)
		bench_die("rocksdb %s: %s", what, err);
}

static rocksdb_t *db_open(const char *path)
{
	rocksdb_options_t *opts = rocksdb_options_create();
	char *err = NULL;

	rocksdb_options_set_create_if_missing(opts, 1);
	rocksdb_t *db = rocksdb_open(opts, path, &err);
	check(err, "open");
	rocksdb_options_destroy(opts);
	return db;
}

static rocksdb_writeoptions_t *write_options(int sync)
{
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(wo, (unsigned char)sync);
	return wo;
}

static void put(rocksdb_t *db, const rocksdb_writeoptions_t *wo, uint64_t seq, long value_bytes)
{
	unsigned char key[BENCH_KEY_BYTES];
	char *err = NULL;

	bench_key(seq, key);
	rocksdb_put(db, wo, (const char *)key, sizeof key,
		    (const char *)bench_value(seq, (size_t)value_bytes), (size_t)value_bytes, &err);
	check(err, "put");
}

/*
 * W1/W2: `records` appends with sync=false, as WriteBatches of `per_batch`
 * records (variant "batch") or one Put per record (per_batch == 1, "single").
 */
static void append(const char *path, const char *workload, long records, long value_bytes,
		   long per_batch)
{
	char config[160];
	if (per_batch > 1)
		snprintf(config, sizeof config,
			 "default options, WAL on, sync=false, WriteBatch of %ld", per_batch);
	else
		snprintf(config, sizeof config, "default options, WAL on, sync=false, single Put");
	struct bench_result r =
		BENCH_RESULT(SYSTEM, workload, per_batch > 1 ? "batch" : "single", config);

	rocksdb_t *db = db_open(path);
	rocksdb_writeoptions_t *wo = write_options(0);
	rocksdb_writebatch_t *batch = rocksdb_writebatch_create();
	unsigned char key[BENCH_KEY_BYTES];
	char *err = NULL;

	struct bench_meter m = bench_meter_start();
	if (per_batch == 1) {
		for (long i = 0; i < records; i++)
			put(db, wo, (uint64_t)i, value_bytes);
	} else {
		for (long i = 0; i < records; i += per_batch) {
			for (long j = i; j < i + per_batch && j < records; j++) {
				bench_key((uint64_t)j, key);
				rocksdb_writebatch_put(
					batch, (const char *)key, sizeof key,
					(const char *)bench_value((uint64_t)j, (size_t)value_bytes),
					(size_t)value_bytes);
			}
			rocksdb_write(db, wo, batch, &err);
			check(err, "write batch");
			rocksdb_writebatch_clear(batch);
		}
	}
	bench_meter_stop(&m, &r, records, value_bytes);

	rocksdb_writebatch_destroy(batch);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_close(db);
	bench_disk_usage(&r, path);
	bench_emit(&r);
}

/* Reads every record in key order once; returns a checksum of touched bytes. */
static uint64_t scan_all(rocksdb_t *db, long *count)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
	uint64_t sum = 0, expect = 0;
	size_t klen, vlen;
	char *err = NULL;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		const unsigned char *k = (const unsigned char *)rocksdb_iter_key(it, &klen);
		const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vlen);
		if (klen != BENCH_KEY_BYTES || bench_key_seq(k) != expect++)
			bench_die("replay: unexpected key at record %llu",
				  (unsigned long long)expect - 1);
		sum += v[0] + vlen;
	}
	rocksdb_iter_get_error(it, &err);
	check(err, "iterate");
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	*count = (long)expect;
	return sum;
}

/* W4: full replay in key order, after one warm-up pass. */
static void replay(const char *path, long records, long value_bytes)
{
	struct bench_result r = BENCH_RESULT(SYSTEM, "W4", "scan",
					     "iterator from first key, warm page cache");
	rocksdb_t *db = db_open(path);
	long count;

	bench_sink += scan_all(db, &count);
	struct bench_meter m = bench_meter_start();
	bench_sink += scan_all(db, &count);
	bench_meter_stop(&m, &r, count, value_bytes);
	if (count != records)
		bench_die("replay saw %ld records, expected %ld", count, records);
	r.syncs_per_record = NAN;
	rocksdb_close(db);
	bench_emit(&r);
}

/* W5: random point reads by key. */
static void random_reads(const char *path, long records, long value_bytes, long reads)
{
	struct bench_result r =
		BENCH_RESULT(SYSTEM, "W5", "get", "rocksdb_get_pinned, warm page cache");
	rocksdb_t *db = db_open(path);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)reads);
	unsigned char key[BENCH_KEY_BYTES];
	char *err = NULL;
	size_t vlen;

	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < reads; i++) {
		uint64_t t0 = bench_now_ns();
		bench_key(bench_random_seq((uint64_t)i, (uint64_t)records), key);
		rocksdb_pinnableslice_t *ps =
			rocksdb_get_pinned(db, ro, (const char *)key, sizeof key, &err);
		check(err, "get");
		const char *v = ps ? rocksdb_pinnableslice_value(ps, &vlen) : NULL;
		if (!v)
			bench_die("get: record not found");
		bench_sink += (unsigned char)v[0];
		rocksdb_pinnableslice_destroy(ps);
		lat[i] = bench_now_ns() - t0;
	}
	bench_meter_stop(&m, &r, reads, value_bytes);
	r.syncs_per_record = NAN;
	bench_latencies(&r, lat, (size_t)reads);

	free(lat);
	rocksdb_readoptions_destroy(ro);
	rocksdb_close(db);
	bench_emit(&r);
}

/* W3: durable appends, sync=true, one Put per record, producers share the db. */
struct durable_ctx {
	rocksdb_t *db;
	const rocksdb_writeoptions_t *wo;
	long value_bytes;
};

static void *durable_producer(void *arg)
{
	struct bench_producer *p = arg;
	const struct durable_ctx *c = p->ctx;

	bench_producer_go(p);
	for (long i = 0; i < p->records; i++) {
		uint64_t t0 = bench_now_ns();
		put(c->db, c->wo, bench_producer_seq(p, i), c->value_bytes);
		p->lat_ns[i] = bench_now_ns() - t0;
	}
	p->end_ns = bench_now_ns();
	return NULL;
}

static void durable_appends(const char *path, int producers, long records, long value_bytes)
{
	char variant[32];
	snprintf(variant, sizeof variant, "%dproducer%s", producers, producers > 1 ? "s" : "");
	struct bench_result r = BENCH_RESULT(SYSTEM, "W3", variant,
					     producers > 1 ? "default options, sync=true, "
							     "single Put, shared db"
							   : "default options, sync=true, single Put");
	rocksdb_writeoptions_t *wo = write_options(1);
	struct durable_ctx c = { db_open(path), wo, value_bytes };

	bench_run_producers(&r, producers, records, value_bytes, &c, durable_producer);
	rocksdb_close(c.db);
	rocksdb_writeoptions_destroy(wo);
	bench_emit(&r);
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv);
	const long w1 = bench_count(&o, 1000000), w2 = bench_count(&o, 200000);
	const long w3 = bench_count(&o, 2000), w5 = bench_count(&o, 10000);
	char *dir;

	bench_log("rocksdb: W1 batch, W4, W5");
	dir = bench_fresh_dir(&o, "rocksdb-w1", 0);
	append(dir, "W1", w1, 100, 1000);
	replay(dir, w1, 100);
	random_reads(dir, w1, 100, w5);
	bench_rmrf(dir);
	free(dir);

	const struct {
		const char *workload;
		long records, value_bytes, per_batch;
	} appends[] = {
		{ "W1", w1, 100, 1 },
		{ "W2", w2, 1024, 1000 },
		{ "W2", w2, 1024, 1 },
	};
	for (size_t i = 0; i < sizeof appends / sizeof appends[0]; i++) {
		bench_log("rocksdb: %s %s", appends[i].workload,
			  appends[i].per_batch > 1 ? "batch" : "single");
		dir = bench_fresh_dir(&o, "rocksdb-append", 0);
		append(dir, appends[i].workload, appends[i].records, appends[i].value_bytes,
		       appends[i].per_batch);
		bench_rmrf(dir);
		free(dir);
	}

	const int producers[] = { 1, 8 };
	for (size_t i = 0; i < sizeof producers / sizeof producers[0]; i++) {
		bench_log("rocksdb: W3 with %d producer(s)", producers[i]);
		dir = bench_fresh_dir(&o, "rocksdb-w3", 0);
		durable_appends(dir, producers[i], w3, 100);
		bench_rmrf(dir);
		free(dir);
	}
	return 0;
}
