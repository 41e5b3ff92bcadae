/* SPDX-License-Identifier: MIT */
/*
 * bench_machine.c -- limits of this machine that bound what a log store can
 * do (bench/README.md):
 *
 *   fdatasync  100-byte write + fdatasync per record, on a file that grows
 *              ("append"), one preallocated with fallocate ("fallocate"),
 *              and one whose blocks were written and synced before
 *              ("prezeroed": no metadata left to flush, the lower bound).
 *   memcpy     memcpy bandwidth on a 256 MiB buffer.
 *   ram_copy   copying key + value of each record into an in-memory buffer:
 *              an in-RAM log with no I/O at all. "growing" grows the buffer
 *              as it goes (paying for fresh pages), "warm" reuses pages that
 *              are already mapped (the copy alone).
 */
#include "bench_common.h"

#include <fcntl.h>

#define SYSTEM "machine"
#define SYNC_WRITE_BYTES 100

enum file_prep { PREP_NONE, PREP_FALLOCATE, PREP_ZEROED };

static void write_all(int fd, const void *buf, size_t n, off_t off)
{
	if (pwrite(fd, buf, n, off) != (ssize_t)n)
		bench_die("pwrite: %s", strerror(errno));
}

static void fdatasync_rate(const struct bench_opts *o, const char *variant, enum file_prep prep,
			   long records)
{
	static const char *configs[] = {
		[PREP_NONE] = "write(100 B) at end of a growing file + fdatasync",
		[PREP_FALLOCATE] = "pwrite(100 B) into fallocate'd file (size set) + fdatasync",
		[PREP_ZEROED] = "pwrite(100 B) into written+synced file + fdatasync",
	};
	struct bench_result r = BENCH_RESULT(SYSTEM, "fdatasync", variant, configs[prep]);
	char *dir = bench_fresh_dir(o, "machine-sync", 1);
	char path[4096];
	snprintf(path, sizeof path, "%s/file", dir);

	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (fd < 0)
		bench_die("open %s: %s", path, strerror(errno));
	off_t size = (off_t)records * SYNC_WRITE_BYTES;
	if (prep == PREP_FALLOCATE && fallocate(fd, 0, 0, size) != 0)
		bench_die("fallocate: %s", strerror(errno));
	if (prep == PREP_ZEROED) {
		char *zeros = calloc(1, (size_t)size);
		if (!zeros)
			bench_die("out of memory");
		write_all(fd, zeros, (size_t)size, 0);
		free(zeros);
	}
	/* Settle the file's creation and preparation before measuring. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0 || fsync(fd) != 0 || fsync(dfd) != 0)
		bench_die("fsync: %s", strerror(errno));
	close(dfd);

	uint64_t *lat = bench_xmalloc(sizeof *lat * (size_t)records);
	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < records; i++) {
		uint64_t t0 = bench_now_ns();
		write_all(fd, bench_value((uint64_t)i, SYNC_WRITE_BYTES), SYNC_WRITE_BYTES,
			  (off_t)i * SYNC_WRITE_BYTES);
		if (fdatasync(fd) != 0)
			bench_die("fdatasync: %s", strerror(errno));
		lat[i] = bench_now_ns() - t0;
	}
	bench_meter_stop(&m, &r, records, SYNC_WRITE_BYTES);
	r.mb_per_s = NAN; /* a record here is a bare 100-byte write, not key + value */
	bench_latencies(&r, lat, (size_t)records);
	bench_emit(&r);

	free(lat);
	close(fd);
	bench_rmrf(dir);
	free(dir);
}

static void memcpy_bandwidth(int reps)
{
	const size_t bytes = (size_t)256 << 20;
	struct bench_result r = BENCH_RESULT(SYSTEM, "memcpy", "256MiB",
					     "memcpy between two 256 MiB buffers, pages faulted in");
	unsigned char *src = bench_xmalloc(bytes), *dst = bench_xmalloc(bytes);
	memset(src, 0x5a, bytes);
	memset(dst, 0, bytes);

	struct bench_meter m = bench_meter_start();
	for (int i = 0; i < reps; i++) {
		src[i] = (unsigned char)i;
		memcpy(dst, src, bytes);
		__asm__ volatile("" : : "r"(dst) : "memory"); /* the copy must happen */
	}
	uint64_t ns = bench_now_ns() - m.start_ns;
	bench_sink += dst[reps - 1];
	r.seconds = (double)ns / 1e9;
	r.mb_per_s = (double)bytes * reps / 1e6 / r.seconds;
	bench_emit(&r);
	free(src);
	free(dst);
}

/*
 * Appends key + value of each record to a buffer. A "growing" buffer starts at
 * 64 KiB and doubles when full, so it also pays for faulting in fresh memory;
 * a "warm" buffer is allocated and touched beforehand, leaving the copy only.
 */
static void ram_copy(const char *variant, long records, long value_bytes, int warm)
{
	struct bench_result r = BENCH_RESULT(SYSTEM, "ram_copy", variant,
					     warm ? "key + value memcpy'd into a pre-faulted buffer"
						  : "key + value memcpy'd into a growing buffer "
						    "(realloc doubling from 64 KiB)");
	const size_t rec = BENCH_KEY_BYTES + (size_t)value_bytes;
	size_t cap = warm ? rec * (size_t)records : (size_t)64 << 10, len = 0;
	unsigned char *buf = bench_xmalloc(cap);
	if (warm)
		memset(buf, 0, cap);

	struct bench_meter m = bench_meter_start();
	for (long i = 0; i < records; i++) {
		if (len + rec > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				bench_die("out of memory");
		}
		bench_key((uint64_t)i, buf + len);
		memcpy(buf + len + BENCH_KEY_BYTES, bench_value((uint64_t)i, (size_t)value_bytes),
		       (size_t)value_bytes);
		len += rec;
	}
	__asm__ volatile("" : : "r"(buf) : "memory"); /* the copies must happen */
	bench_meter_stop(&m, &r, records, value_bytes);
	r.syncs_per_record = NAN;
	bench_sink += buf[len - 1];
	bench_emit(&r);
	free(buf);
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv);
	const long syncs = bench_count(&o, 2000);

	bench_log("machine: fdatasync");
	fdatasync_rate(&o, "append", PREP_NONE, syncs);
	fdatasync_rate(&o, "fallocate", PREP_FALLOCATE, syncs);
	fdatasync_rate(&o, "prezeroed", PREP_ZEROED, syncs);

	bench_log("machine: memcpy, ram_copy");
	memcpy_bandwidth(o.quick ? 3 : 10);
	ram_copy("100B-growing", bench_count(&o, 1000000), 100, 0);
	ram_copy("100B-warm", bench_count(&o, 1000000), 100, 1);
	ram_copy("1KiB-growing", bench_count(&o, 200000), 1024, 0);
	ram_copy("1KiB-warm", bench_count(&o, 200000), 1024, 1);
	return 0;
}
