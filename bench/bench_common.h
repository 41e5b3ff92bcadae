/* SPDX-License-Identifier: MIT */
/*
 * bench_common.h -- shared helpers for the comparison benchmarks.
 *
 * Header-only: include it first, from exactly one translation unit per
 * program (it defines fsync()/fdatasync() wrappers, see "Sync counting").
 *
 * Every program takes `[--quick] DIR`, writes its databases under DIR,
 * removes them when done, prints one JSON object per result line on stdout
 * and progress on stderr. The JSON schema and the workloads are described in
 * bench/README.md.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT, nftw, fallocate */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Diagnostics                                                             */

__attribute__((format(printf, 1, 2))) static inline void bench_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

__attribute__((format(printf, 1, 2), noreturn)) static inline void bench_die(const char *fmt, ...)
{
	va_list ap;
	fputs("fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline void *bench_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		bench_die("out of memory (%zu bytes)", n);
	return p;
}

/* ---------------------------------------------------------------------- */
/* Command line and scale                                                  */

struct bench_opts {
	const char *dir; /* parent directory for this program's data */
	int quick;       /* --quick: every count divided by 10 */
};

static inline struct bench_opts bench_parse_args(int argc, char **argv)
{
	struct bench_opts o = {0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			o.quick = 1;
		else if (argv[i][0] == '-' || o.dir)
			bench_die("usage: %s [--quick] DIR", argv[0]);
		else
			o.dir = argv[i];
	}
	if (!o.dir)
		bench_die("usage: %s [--quick] DIR", argv[0]);
	if (mkdir(o.dir, 0755) != 0 && errno != EEXIST)
		bench_die("mkdir %s: %s", o.dir, strerror(errno));
	return o;
}

/* A full-run count, scaled down 10x by --quick. */
static inline long bench_count(const struct bench_opts *o, long full)
{
	return o->quick ? full / 10 : full;
}

/* ---------------------------------------------------------------------- */
/* Clocks                                                                  */

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* User + system CPU time of the whole process (all threads), in µs. */
static inline double bench_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* ---------------------------------------------------------------------- */
/* Sync counting                                                           */
/*
 * The executable defines fsync() and fdatasync(). The dynamic linker binds
 * the calls made by libsqlite3, librocksdb and liblmdb to these definitions
 * (the executable comes first in symbol lookup), so every durability sync a
 * database issues is counted before being passed to libc.
 */

static atomic_ulong bench_sync_calls;
static int (*bench_real_fsync)(int);
static int (*bench_real_fdatasync)(int);

__attribute__((constructor)) static void bench_resolve_syncs(void)
{
	bench_real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	bench_real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (!bench_real_fsync || !bench_real_fdatasync)
		bench_die("cannot resolve fsync/fdatasync in libc");
}

int fsync(int fd)
{
	atomic_fetch_add(&bench_sync_calls, 1);
	return bench_real_fsync(fd);
}

int fdatasync(int fd)
{
	atomic_fetch_add(&bench_sync_calls, 1);
	return bench_real_fdatasync(fd);
}

/* ---------------------------------------------------------------------- */
/* Deterministic data                                                      */
/*
 * Record `seq` has a 16-byte key: 8 zero bytes then seq as a big-endian
 * uint64, so appends arrive in key order. Its value is `len` bytes taken at a
 * seq-dependent offset of a 1 MiB pool of pseudo-random bytes: deterministic,
 * incompressible within a record, and free to produce (no per-record
 * generation cost lands in the measurement).
 */

#define BENCH_KEY_BYTES 16
#define BENCH_POOL_BYTES (1u << 20)

static unsigned char bench_pool[BENCH_POOL_BYTES];

/* splitmix64 finalizer: a cheap, well-mixed hash of a 64-bit value. */
static inline uint64_t bench_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

__attribute__((constructor)) static void bench_fill_pool(void)
{
	for (size_t i = 0; i < BENCH_POOL_BYTES; i += 8) {
		uint64_t r = bench_mix64(i);
		memcpy(bench_pool + i, &r, 8);
	}
}

static inline void bench_key(uint64_t seq, unsigned char key[BENCH_KEY_BYTES])
{
	memset(key, 0, 8);
	for (int i = 0; i < 8; i++)
		key[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

static inline uint64_t bench_key_seq(const unsigned char key[BENCH_KEY_BYTES])
{
	uint64_t seq = 0;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | key[8 + i];
	return seq;
}

static inline const unsigned char *bench_value(uint64_t seq, size_t len)
{
	if (len >= BENCH_POOL_BYTES)
		bench_die("value of %zu bytes is larger than the data pool", len);
	return bench_pool + bench_mix64(seq) % (BENCH_POOL_BYTES - len);
}

/* The i-th key of the W5 random-read sequence over records [0, n). */
static inline uint64_t bench_random_seq(uint64_t i, uint64_t n)
{
	return bench_mix64(i ^ 0x5eed5eed5eed5eedull) % n;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

static uint64_t bench_du_total;

static inline int bench_du_visit(const char *path, const struct stat *st, int type,
				 struct FTW *ftw)
{
	(void)path, (void)type, (void)ftw;
	bench_du_total += (uint64_t)st->st_blocks * 512u;
	return 0;
}

/* Bytes allocated on disk under `path`, like `du -s --block-size=1`. */
static inline uint64_t bench_du(const char *path)
{
	bench_du_total = 0;
	if (nftw(path, bench_du_visit, 16, FTW_PHYS) != 0)
		bench_die("du %s: %s", path, strerror(errno));
	return bench_du_total;
}

static inline int bench_rm_visit(const char *path, const struct stat *st, int type,
				 struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	if (remove(path) != 0)
		bench_die("remove %s: %s", path, strerror(errno));
	return 0;
}

/* rm -rf path (a missing path is fine). */
static inline void bench_rmrf(const char *path)
{
	if (access(path, F_OK) != 0)
		return;
	if (nftw(path, bench_rm_visit, 16, FTW_DEPTH | FTW_PHYS) != 0)
		bench_die("rm -r %s: %s", path, strerror(errno));
}

/* Returns a malloc'ed "DIR/name", removed and (if mkdir_it) created empty. */
static inline char *bench_fresh_dir(const struct bench_opts *o, const char *name,
				     int mkdir_it)
{
	size_t n = strlen(o->dir) + strlen(name) + 2;
	char *path = bench_xmalloc(n);
	snprintf(path, n, "%s/%s", o->dir, name);
	bench_rmrf(path);
	if (mkdir_it && mkdir(path, 0755) != 0)
		bench_die("mkdir %s: %s", path, strerror(errno));
	return path;
}

/* ---------------------------------------------------------------------- */
/* Results                                                                 */

/* One JSON line. Strings left NULL, counts < 0 and NaN numbers are omitted. */
struct bench_result {
	const char *system, *workload, *variant, *config;
	long long records, value_bytes;
	double seconds, records_per_s, mb_per_s, cpu_us_per_record;
	double disk_bytes_per_payload_byte, p50_us, p99_us, max_us, syncs_per_record;
};

#define BENCH_RESULT(sys, wl, var, cfg)                                                  \
	((struct bench_result){ .system = (sys), .workload = (wl), .variant = (var),     \
				.config = (cfg), .records = -1, .value_bytes = -1,        \
				.seconds = NAN, .records_per_s = NAN, .mb_per_s = NAN,    \
				.cpu_us_per_record = NAN,                                 \
				.disk_bytes_per_payload_byte = NAN, .p50_us = NAN,        \
				.p99_us = NAN, .max_us = NAN, .syncs_per_record = NAN })

static inline void bench_json_str(const char *name, const char *s, int *first)
{
	if (!s)
		return;
	printf("%s\"%s\":\"", *first ? "" : ",", name);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
	*first = 0;
}

static inline void bench_json_num(const char *name, double v, int *first)
{
	if (isnan(v) || isinf(v))
		return;
	/* Large numbers as integers-ish, small ones with 4 significant digits. */
	if (fabs(v) >= 1000)
		printf("%s\"%s\":%.0f", *first ? "" : ",", name, v);
	else
		printf("%s\"%s\":%.4g", *first ? "" : ",", name, v);
	*first = 0;
}

/* One result as one JSON line, with optional extra members (`"a":1,"b":2`,
 * or NULL): the line every program of the comparison prints. */
static inline void bench_emit_json(const struct bench_result *r, const char *extra)
{
	int first = 1;
	putchar('{');
	bench_json_str("system", r->system, &first);
	bench_json_str("workload", r->workload, &first);
	bench_json_str("variant", r->variant, &first);
	bench_json_str("config", r->config, &first);
	if (r->records >= 0)
		bench_json_num("records", (double)r->records, &first);
	if (r->value_bytes >= 0)
		bench_json_num("value_bytes", (double)r->value_bytes, &first);
	bench_json_num("seconds", r->seconds, &first);
	bench_json_num("records_per_s", r->records_per_s, &first);
	bench_json_num("mb_per_s", r->mb_per_s, &first);
	bench_json_num("cpu_us_per_record", r->cpu_us_per_record, &first);
	bench_json_num("disk_bytes_per_payload_byte", r->disk_bytes_per_payload_byte, &first);
	bench_json_num("p50_us", r->p50_us, &first);
	bench_json_num("p99_us", r->p99_us, &first);
	bench_json_num("max_us", r->max_us, &first);
	bench_json_num("syncs_per_record", r->syncs_per_record, &first);
	if (extra && *extra)
		printf("%s%s", first ? "" : ",", extra);
	puts("}");
	fflush(stdout);
}

static inline void bench_emit(const struct bench_result *r)
{
	bench_emit_json(r, NULL);
	if (isnan(r->records_per_s))
		bench_log("  %s %s/%s: %.0f MB/s", r->system, r->workload,
			  r->variant ? r->variant : "-", r->mb_per_s);
	else
		bench_log("  %s %s/%s: %.0f records/s", r->system, r->workload,
			  r->variant ? r->variant : "-", r->records_per_s);
}

/* ---------------------------------------------------------------------- */
/* Measuring a phase                                                       */

struct bench_meter {
	uint64_t start_ns;
	double start_cpu_us;
	unsigned long start_syncs;
};

static inline struct bench_meter bench_meter_start(void)
{
	struct bench_meter m;
	m.start_syncs = atomic_load(&bench_sync_calls);
	m.start_cpu_us = bench_cpu_us();
	m.start_ns = bench_now_ns();
	return m;
}

/*
 * Ends a phase that processed `records` records of `value_bytes` each and
 * fills seconds, records/s, MB/s (payload = key + value), CPU µs per record
 * and syncs per record.
 */
static inline void bench_meter_stop(const struct bench_meter *m, struct bench_result *r,
				    long long records, long long value_bytes)
{
	uint64_t end_ns = bench_now_ns();
	double cpu = bench_cpu_us() - m->start_cpu_us;
	unsigned long syncs = atomic_load(&bench_sync_calls) - m->start_syncs;
	double payload = (double)records * (double)(BENCH_KEY_BYTES + value_bytes);

	r->records = records;
	r->value_bytes = value_bytes;
	r->seconds = (double)(end_ns - m->start_ns) / 1e9;
	r->records_per_s = (double)records / r->seconds;
	r->mb_per_s = payload / 1e6 / r->seconds;
	r->cpu_us_per_record = cpu / (double)records;
	r->syncs_per_record = (double)syncs / (double)records;
}

/* Sets disk_bytes_per_payload_byte from the size of `path` on disk. */
static inline void bench_disk_usage(struct bench_result *r, const char *path)
{
	double payload = (double)r->records * (double)(BENCH_KEY_BYTES + r->value_bytes);
	r->disk_bytes_per_payload_byte = (double)bench_du(path) / payload;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Sets p50/p99/max (µs, nearest rank) from n latencies in ns; sorts lat_ns. */
static inline void bench_latencies(struct bench_result *r, uint64_t *lat_ns, size_t n)
{
	if (n == 0)
		return;
	qsort(lat_ns, n, sizeof *lat_ns, bench_cmp_u64);
	size_t i50 = (size_t)ceil(0.50 * (double)n) - 1;
	size_t i99 = (size_t)ceil(0.99 * (double)n) - 1;
	r->p50_us = (double)lat_ns[i50] / 1e3;
	r->p99_us = (double)lat_ns[i99] / 1e3;
	r->max_us = (double)lat_ns[n - 1] / 1e3;
}

/* ---------------------------------------------------------------------- */
/* Producers (W3)                                                          */
/*
 * A producer thread does its own setup, calls bench_producer_go(), appends
 * `records` records timing each ack into lat_ns[], sets end_ns, then tears
 * down. Producer `id` of `n` writes seq = i * n + id for i in [0, records),
 * so the producers together write 0 .. n*records-1 roughly in order.
 */
struct bench_producer {
	int id, n;
	long records;
	uint64_t *lat_ns;
	uint64_t start_ns, end_ns;
	void *ctx;
	pthread_barrier_t *go;
};

static inline void bench_producer_go(struct bench_producer *p)
{
	pthread_barrier_wait(p->go);
	p->start_ns = bench_now_ns();
}

static inline uint64_t bench_producer_seq(const struct bench_producer *p, long i)
{
	return (uint64_t)i * (uint64_t)p->n + (uint64_t)p->id;
}

/*
 * Runs n producers of fn(struct bench_producer *) over the shared ctx and
 * reports the aggregate into r: records/s over the span from the first
 * start to the last ack, CPU and syncs per record, ack latency percentiles.
 */
static inline void bench_run_producers(struct bench_result *r, int n, long records,
				       long value_bytes, void *ctx, void *(*fn)(void *))
{
	struct bench_producer *ps = bench_xmalloc(sizeof *ps * (size_t)n);
	pthread_t *tids = bench_xmalloc(sizeof *tids * (size_t)n);
	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)n * (size_t)records);
	pthread_barrier_t go;

	pthread_barrier_init(&go, NULL, (unsigned)n);
	struct bench_meter m = bench_meter_start();
	for (int i = 0; i < n; i++) {
		ps[i] = (struct bench_producer){ .id = i, .n = n, .records = records,
						 .lat_ns = lat + (size_t)i * (size_t)records,
						 .ctx = ctx, .go = &go };
		if (pthread_create(&tids[i], NULL, fn, &ps[i]) != 0)
			bench_die("pthread_create failed");
	}
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	bench_meter_stop(&m, r, (long long)n * records, value_bytes);

	uint64_t start = UINT64_MAX, end = 0;
	for (int i = 0; i < n; i++) {
		start = ps[i].start_ns < start ? ps[i].start_ns : start;
		end = ps[i].end_ns > end ? ps[i].end_ns : end;
	}
	double payload = (double)r->records * (double)(BENCH_KEY_BYTES + value_bytes);
	r->seconds = (double)(end - start) / 1e9;
	r->records_per_s = (double)r->records / r->seconds;
	r->mb_per_s = payload / 1e6 / r->seconds;
	bench_latencies(r, lat, (size_t)n * (size_t)records);

	pthread_barrier_destroy(&go);
	free(lat);
	free(tids);
	free(ps);
}

/* Keeps the compiler from discarding a value computed from read data. */
static volatile uint64_t bench_sink;

#endif /* BENCH_COMMON_H */
