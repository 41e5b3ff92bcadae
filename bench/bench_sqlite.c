/* SPDX-License-Identifier: MIT */
/*
 * bench_sqlite.c -- the comparison workloads (bench/README.md) on SQLite.
 *
 * The log is a table keyed by the record's sequence number. Two layouts are
 * available; the default, an INTEGER PRIMARY KEY (rowid) table, beat a
 * 16-byte BLOB key in a WITHOUT ROWID table on W1 (1.6x), W2 (4.4x), W4 and
 * W5, and tied on W3 (sync-bound). Set BENCH_SQLITE_TABLE=without-rowid to
 * measure the other one.
 */
#include "bench_common.h"

#include <sqlite3.h>

#define SYSTEM "sqlite"

struct layout {
	const char *name;
	const char *create;
	const char *insert; /* ?1 key, ?2 value */
	const char *scan;   /* key, value in key order */
	const char *get;    /* value of key ?1 */
	int blob_key;       /* bind the 16-byte key, else the sequence number */
};

static const struct layout layouts[] = {
	{ "INTEGER PRIMARY KEY table (faster than WITHOUT ROWID)",
	  "CREATE TABLE IF NOT EXISTS log(seq INTEGER PRIMARY KEY, v BLOB NOT NULL)",
	  "INSERT INTO log(seq, v) VALUES(?1, ?2)", "SELECT seq, v FROM log ORDER BY seq",
	  "SELECT v FROM log WHERE seq = ?1", 0 },
	{ "BLOB key WITHOUT ROWID table",
	  "CREATE TABLE IF NOT EXISTS log(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
	  "INSERT INTO log(k, v) VALUES(?1, ?2)", "SELECT k, v FROM log ORDER BY k",
	  "SELECT v FROM log WHERE k = ?1", 1 },
};

static const struct layout *layout = &layouts[0];

static void check(sqlite3 *db, int rc, int want, const char *what)
{
	if (rc != want)
		bench_die("sqlite %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static void exec(sqlite3 *db, const char *sql)
{
	check(db, sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, sql);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, sql);
	return st;
}

/* Opens (creating) the database in WAL mode with the given synchronous level. */
static sqlite3 *db_open(const char *path, const char *synchronous)
{
	sqlite3 *db = NULL;
	char sql[64];

	check(db, sqlite3_open(path, &db), SQLITE_OK, path);
	sqlite3_busy_timeout(db, 10000);
	exec(db, "PRAGMA journal_mode=WAL");
	snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", synchronous);
	exec(db, sql);
	exec(db, layout->create);
	return db;
}

static void db_close(sqlite3 *db)
{
	check(db, sqlite3_close(db), SQLITE_OK, "close");
}

static void bind_key(sqlite3_stmt *st, uint64_t seq)
{
	if (layout->blob_key) {
		unsigned char key[BENCH_KEY_BYTES];
		bench_key(seq, key);
		sqlite3_bind_blob(st, 1, key, BENCH_KEY_BYTES, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	}
}

/* Steps an INSERT to completion, retrying while another writer holds the lock. */
static void step_insert(sqlite3 *db, sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_BUSY)
		sqlite3_reset(st);
	check(db, rc, SQLITE_DONE, "insert");
	sqlite3_reset(st);
}

static void insert(sqlite3 *db, sqlite3_stmt *st, uint64_t seq, long value_bytes)
{
	bind_key(st, seq);
	sqlite3_bind_blob(st, 2, bench_value(seq, (size_t)value_bytes), (int)value_bytes,
			  SQLITE_STATIC);
	step_insert(db, st);
}

/* W1/W2: `records` appends, `per_txn` rows per transaction, synchronous=NORMAL. */
static void append_batched(const char *path, const char *workload, long records,
			   long value_bytes, long per_txn)
{
	char config[160];
	snprintf(config, sizeof config,
		 "WAL, synchronous=NORMAL, %ld rows/txn, %s, prepared stmt", per_txn, layout->name);
	struct bench_result r = BENCH_RESULT(SYSTEM, workload, "batch", config);

	sqlite3 *db = db_open(path, "NORMAL");
	sqlite3_stmt *st = prepare(db, layout->insert);
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < records; i += per_txn) {
		exec(db, "BEGIN");
		for (long j = i; j < i + per_txn && j < records; j++)
			insert(db, st, (uint64_t)j, value_bytes);
		exec(db, "COMMIT");
	}
	bench_meter_stop(&m, &r, records, value_bytes);
	sqlite3_finalize(st);
	db_close(db);
	bench_disk_usage(&r, path);
	bench_emit(&r);
}

/* Reads every record in key order once; returns a checksum of touched bytes. */
static uint64_t scan_all(sqlite3 *db, sqlite3_stmt *st, long *count)
{
	uint64_t sum = 0;
	int rc;
	*count = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_blob(st, 1);
		sum += (uint64_t)sqlite3_column_bytes(st, 0) + v[0] +
		       (uint64_t)sqlite3_column_bytes(st, 1);
		++*count;
	}
	check(db, rc, SQLITE_DONE, "scan");
	sqlite3_reset(st);
	return sum;
}

/* W4: full replay in key order, after one warm-up pass. */
static void replay(const char *path, long records, long value_bytes)
{
	struct bench_result r = BENCH_RESULT(SYSTEM, "W4", "scan",
					     "SELECT full scan in key order, warm page cache");
	sqlite3 *db = db_open(path, "NORMAL");
	sqlite3_stmt *st = prepare(db, layout->scan);
	long count;

	bench_sink += scan_all(db, st, &count);
	struct bench_meter m = bench_meter_start();
	bench_sink += scan_all(db, st, &count);
	bench_meter_stop(&m, &r, count, value_bytes);
	if (count != records)
		bench_die("replay saw %ld records, expected %ld", count, records);
	r.syncs_per_record = NAN;
	sqlite3_finalize(st);
	db_close(db);
	bench_emit(&r);
}

/* W5: random point reads by key. */
static void random_reads(const char *path, long records, long value_bytes, long reads)
{
	struct bench_result r = BENCH_RESULT(SYSTEM, "W5", "get",
					     "SELECT by primary key, prepared stmt, warm page cache");
	sqlite3 *db = db_open(path, "NORMAL");
	sqlite3_stmt *st = prepare(db, layout->get);
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)reads);

	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < reads; i++) {
		uint64_t t0 = bench_now_ns();
		bind_key(st, bench_random_seq((uint64_t)i, (uint64_t)records));
		check(db, sqlite3_step(st), SQLITE_ROW, "get");
		const unsigned char *v = sqlite3_column_blob(st, 0);
		bench_sink += v[0];
		sqlite3_reset(st);
		lat[i] = bench_now_ns() - t0;
	}
	bench_meter_stop(&m, &r, reads, value_bytes);
	r.syncs_per_record = NAN;
	bench_latencies(&r, lat, (size_t)reads);
	free(lat);
	sqlite3_finalize(st);
	db_close(db);
	bench_emit(&r);
}

/* W3: durable appends, one transaction per record, a connection per producer. */
struct durable_ctx {
	const char *path;
	long value_bytes;
};

static void *durable_producer(void *arg)
{
	struct bench_producer *p = arg;
	const struct durable_ctx *c = p->ctx;
	sqlite3 *db = db_open(c->path, "FULL");
	sqlite3_stmt *st = prepare(db, layout->insert);

	bench_producer_go(p);
	for (long i = 0; i < p->records; i++) {
		uint64_t t0 = bench_now_ns();
		insert(db, st, bench_producer_seq(p, i), c->value_bytes);
		p->lat_ns[i] = bench_now_ns() - t0;
	}
	p->end_ns = bench_now_ns();
	sqlite3_finalize(st);
	db_close(db);
	return NULL;
}

static void durable_appends(const char *path, int producers, long records, long value_bytes)
{
	char variant[32], config[160];
	snprintf(variant, sizeof variant, "%dproducer%s", producers, producers > 1 ? "s" : "");
	snprintf(config, sizeof config,
		 "WAL, synchronous=FULL, 1 txn/record, %s%s", layout->name,
		 producers > 1 ? ", connection per thread, busy_timeout=10s" : "");
	struct bench_result r = BENCH_RESULT(SYSTEM, "W3", variant, config);
	struct durable_ctx c = { path, value_bytes };

	db_close(db_open(path, "FULL")); /* create the table before the producers start */
	bench_run_producers(&r, producers, records, value_bytes, &c, durable_producer);
	bench_emit(&r);
}

/* A malloc'ed "dir/log.db". */
static char *db_file(const char *dir)
{
	size_t n = strlen(dir) + sizeof "/log.db";
	char *path = bench_xmalloc(n);
	snprintf(path, n, "%s/log.db", dir);
	return path;
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv);
	const char *table = getenv("BENCH_SQLITE_TABLE");
	if (table && strcmp(table, "without-rowid") == 0)
		layout = &layouts[1];
	else if (table && strcmp(table, "rowid") != 0)
		bench_die("BENCH_SQLITE_TABLE must be rowid or without-rowid");

	const long w1 = bench_count(&o, 1000000), w2 = bench_count(&o, 200000);
	const long w3 = bench_count(&o, 2000), w5 = bench_count(&o, 10000);
	char *dir, *path;

	bench_log("sqlite %s: W1, W4, W5", sqlite3_libversion());
	dir = bench_fresh_dir(&o, "sqlite-w1", 1);
	path = db_file(dir);
	append_batched(path, "W1", w1, 100, 1000);
	replay(path, w1, 100);
	random_reads(path, w1, 100, w5);
	bench_rmrf(dir);
	free(path), free(dir);

	bench_log("sqlite: W2");
	dir = bench_fresh_dir(&o, "sqlite-w2", 1);
	path = db_file(dir);
	append_batched(path, "W2", w2, 1024, 1000);
	bench_rmrf(dir);
	free(path), free(dir);

	const int producers[] = { 1, 8 };
	for (size_t i = 0; i < sizeof producers / sizeof producers[0]; i++) {
		bench_log("sqlite: W3 with %d producer(s)", producers[i]);
		dir = bench_fresh_dir(&o, "sqlite-w3", 1);
		path = db_file(dir);
		durable_appends(path, producers[i], w3, 100);
		bench_rmrf(dir);
		free(path), free(dir);
	}
	return 0;
}
