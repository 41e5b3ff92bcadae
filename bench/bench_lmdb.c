/* SPDX-License-Identifier: MIT */
/*
 * bench_lmdb.c -- the comparison workloads (bench/README.md) on LMDB.
 */
#include "bench_common.h"

#include <lmdb.h>

#define SYSTEM "lmdb"
#define MAP_BYTES ((size_t)8 << 30)

static void check(int rc, const char *what)
{
	if (rc != MDB_SUCCESS)
		bench_die("lmdb %s: %s", what, mdb_strerror(rc));
}

/* Opens the environment in directory `path` (which must exist). */
static MDB_env *env_open(const char *path, unsigned flags)
{
	MDB_env *env;
	check(mdb_env_create(&env), "env_create");
	check(mdb_env_set_mapsize(env, MAP_BYTES), "set_mapsize");
	check(mdb_env_open(env, path, flags, 0644), "env_open");
	return env;
}

/* The unnamed main database. */
static MDB_dbi main_dbi(MDB_env *env)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
	check(mdb_dbi_open(txn, NULL, 0, &dbi), "dbi_open");
	check(mdb_txn_commit(txn), "txn_commit");
	return dbi;
}

static void put(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, long value_bytes, unsigned flags)
{
	unsigned char key[BENCH_KEY_BYTES];
	bench_key(seq, key);
	MDB_val k = { sizeof key, key };
	MDB_val v = { (size_t)value_bytes, (void *)bench_value(seq, (size_t)value_bytes) };
	check(mdb_put(txn, dbi, &k, &v, flags), "put");
}

/* W1/W2: `records` appends with MDB_NOSYNC and MDB_APPEND, `per_txn` per txn. */
static void append_batched(const char *path, const char *workload, long records,
			   long value_bytes, long per_txn)
{
	char config[160];
	snprintf(config, sizeof config, "MDB_NOSYNC, MDB_APPEND, %ld records/txn, map 8 GiB",
		 per_txn);
	struct bench_result r = BENCH_RESULT(SYSTEM, workload, "batch", config);
	MDB_env *env = env_open(path, MDB_NOSYNC);
	MDB_dbi dbi = main_dbi(env);
	MDB_txn *txn;

	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < records; i += per_txn) {
		check(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
		for (long j = i; j < i + per_txn && j < records; j++)
			put(txn, dbi, (uint64_t)j, value_bytes, MDB_APPEND);
		check(mdb_txn_commit(txn), "txn_commit");
	}
	bench_meter_stop(&m, &r, records, value_bytes);
	mdb_env_close(env);
	bench_disk_usage(&r, path);
	bench_emit(&r);
}

/* Reads every record in key order once; returns a checksum of touched bytes. */
static uint64_t scan_all(MDB_env *env, MDB_dbi dbi, long *count)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t sum = 0, expect = 0;
	int rc;

	check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "txn_begin");
	check(mdb_cursor_open(txn, dbi, &cur), "cursor_open");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != BENCH_KEY_BYTES || bench_key_seq(k.mv_data) != expect++)
			bench_die("replay: unexpected key at record %llu",
				  (unsigned long long)expect - 1);
		sum += ((const unsigned char *)v.mv_data)[0] + v.mv_size;
	}
	if (rc != MDB_NOTFOUND)
		check(rc, "cursor_get");
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*count = (long)expect;
	return sum;
}

/* W4: full replay in key order, after one warm-up pass. */
static void replay(const char *path, long records, long value_bytes)
{
	struct bench_result r = BENCH_RESULT(SYSTEM, "W4", "scan",
					     "cursor MDB_NEXT in a read txn, warm page cache");
	MDB_env *env = env_open(path, 0);
	MDB_dbi dbi = main_dbi(env);
	long count;

	bench_sink += scan_all(env, dbi, &count);
	struct bench_meter m = bench_meter_start();
	bench_sink += scan_all(env, dbi, &count);
	bench_meter_stop(&m, &r, count, value_bytes);
	if (count != records)
		bench_die("replay saw %ld records, expected %ld", count, records);
	r.syncs_per_record = NAN;
	mdb_env_close(env);
	bench_emit(&r);
}

/* W5: random point reads by key, all in one read txn. */
static void random_reads(const char *path, long records, long value_bytes, long reads)
{
	struct bench_result r = BENCH_RESULT(SYSTEM, "W5", "get",
					     "mdb_get in one read txn, warm page cache");
	MDB_env *env = env_open(path, 0);
	MDB_dbi dbi = main_dbi(env);
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)reads);
	unsigned char key[BENCH_KEY_BYTES];
	MDB_txn *txn;

	check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "txn_begin");
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < reads; i++) {
		uint64_t t0 = bench_now_ns();
		bench_key(bench_random_seq((uint64_t)i, (uint64_t)records), key);
		MDB_val k = { sizeof key, key }, v;
		check(mdb_get(txn, dbi, &k, &v), "get");
		bench_sink += ((const unsigned char *)v.mv_data)[0];
		lat[i] = bench_now_ns() - t0;
	}
	bench_meter_stop(&m, &r, reads, value_bytes);
	r.syncs_per_record = NAN;
	bench_latencies(&r, lat, (size_t)reads);

	mdb_txn_abort(txn);
	free(lat);
	mdb_env_close(env);
	bench_emit(&r);
}

/* W3: durable appends, default env flags, one write txn per record. */
struct durable_ctx {
	MDB_env *env;
	MDB_dbi dbi;
	long value_bytes;
};

static void *durable_producer(void *arg)
{
	struct bench_producer *p = arg;
	const struct durable_ctx *c = p->ctx;
	MDB_txn *txn;

	bench_producer_go(p);
	for (long i = 0; i < p->records; i++) {
		uint64_t t0 = bench_now_ns();
		check(mdb_txn_begin(c->env, NULL, 0, &txn), "txn_begin");
		put(txn, c->dbi, bench_producer_seq(p, i), c->value_bytes, 0);
		check(mdb_txn_commit(txn), "txn_commit");
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
					     producers > 1 ? "default env flags (sync on commit), "
							     "1 txn/record, shared env"
							   : "default env flags (sync on commit), "
							     "1 txn/record");
	struct durable_ctx c = { env_open(path, 0), 0, value_bytes };

	c.dbi = main_dbi(c.env);
	bench_run_producers(&r, producers, records, value_bytes, &c, durable_producer);
	mdb_env_close(c.env);
	bench_emit(&r);
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv);
	const long w1 = bench_count(&o, 1000000), w2 = bench_count(&o, 200000);
	const long w3 = bench_count(&o, 2000), w5 = bench_count(&o, 10000);
	char *dir;

	bench_log("lmdb %s: W1, W4, W5", mdb_version(NULL, NULL, NULL));
	dir = bench_fresh_dir(&o, "lmdb-w1", 1);
	append_batched(dir, "W1", w1, 100, 1000);
	replay(dir, w1, 100);
	random_reads(dir, w1, 100, w5);
	bench_rmrf(dir);
	free(dir);

	bench_log("lmdb: W2");
	dir = bench_fresh_dir(&o, "lmdb-w2", 1);
	append_batched(dir, "W2", w2, 1024, 1000);
	bench_rmrf(dir);
	free(dir);

	const int producers[] = { 1, 8 };
	for (size_t i = 0; i < sizeof producers / sizeof producers[0]; i++) {
		bench_log("lmdb: W3 with %d producer(s)", producers[i]);
		dir = bench_fresh_dir(&o, "lmdb-w3", 1);
		durable_appends(dir, producers[i], w3, 100);
		bench_rmrf(dir);
		free(dir);
	}
	return 0;
}
