/* SPDX-License-Identifier: MIT */
/*
 * bench_records -- records/s of the batch decoder and encoder on one core.
 *
 * Batches of 1000 records, 100-byte values (text-like, so LZ4 has
 * something to find), 10-byte keys, no headers: the broker's target is
 * over 1,000,000 records/s decoded and 2,000,000 encoded. Each case runs
 * for about a second of CPU time (argument: seconds per case) and prints
 * records/s and MB/s of record bytes per second of this thread's CPU time,
 * so a busy machine slows the run but not the figures (much). Also prints
 * the CRC-32C speed of both versions.
 *
 *   build/tests/server/records/bench_records [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/kerrors.h"
#include "records/crc32c.h"
#include "records/records.h"

#define PER_BATCH 1000
#define VALUE_LEN 100
#define KEY_LEN 10

static double now(void)
{
	struct timespec ts;
	/* CPU time of this thread: the figure per core, even on a busy machine */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_records(varve_record *r, char (*keys)[KEY_LEN + 1], char (*vals)[VALUE_LEN + 1])
{
	static const char *words[] = { "user", "event", "click", "view", "id", "42", "true", "\"ts\":" };
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < PER_BATCH; i++) {
		snprintf(keys[i], KEY_LEN + 1, "key%07d", i);
		size_t n = 0;
		while (n < VALUE_LEN) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			const char *w = words[x % 8];
			for (size_t k = 0; w[k] && n < VALUE_LEN; k++)
				vals[i][n++] = w[k];
			if (n < VALUE_LEN)
				vals[i][n++] = (char)('a' + (x >> 20) % 26);
		}
		memset(&r[i], 0, sizeof r[i]);
		r[i].key = keys[i];
		r[i].key_len = KEY_LEN;
		r[i].value = vals[i];
		r[i].value_len = VALUE_LEN;
		r[i].offset = 1000000 + i;
		r[i].timestamp = 1700000000000LL + i;
	}
}

static void report(const char *what, double records, double secs)
{
	double bytes = records * (VALUE_LEN + KEY_LEN);
	printf("%-22s %12.0f records/s  %8.1f MB/s\n", what, records / secs, bytes / secs / 1e6);
}

static int bench_encode(const varve_record *r, int codec, double secs, const char *label)
{
	vs_records_encoder e;
	vs_records_encoder_init(&e);
	vs_wbuf out;
	vs_wbuf_init(&out);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.codec = codec;
	double start = now(), t;
	long batches = 0;
	do {
		for (int k = 0; k < 10; k++) {
			vs_wbuf_reset(&out);
			if (vs_records_encode(&e, &out, r, PER_BATCH, &p))
				return -1;
			batches++;
		}
		t = now() - start;
	} while (t < secs);
	report(label, (double)batches * PER_BATCH, t);
	vs_wbuf_free(&out);
	vs_records_encoder_free(&e);
	return 0;
}

static int bench_decode(const varve_record *r, int codec, double secs, const char *label)
{
	vs_records_encoder e;
	vs_records_encoder_init(&e);
	vs_wbuf req;
	vs_wbuf_init(&req);
	vs_batch_params p = VS_BATCH_PARAMS_INIT;
	p.codec = codec;
	/* a Produce request's batch: offsets from 0, as clients send them */
	varve_record *copy = malloc(PER_BATCH * sizeof *copy);
	memcpy(copy, r, PER_BATCH * sizeof *copy);
	for (int i = 0; i < PER_BATCH; i++)
		copy[i].offset = i;
	if (vs_records_encode(&e, &req, copy, PER_BATCH, &p))
		return -1;
	vs_records_decoder d;
	vs_records_decoder_init(&d, NULL);
	vs_decoded out;
	double start = now(), t;
	long batches = 0;
	do {
		for (int k = 0; k < 10; k++) {
			if (vs_records_decode(&d, req.buf, req.len, &out) != KE_NONE) {
				fprintf(stderr, "decode: %s\n", d.reason);
				return -1;
			}
			batches++;
		}
		t = now() - start;
	} while (t < secs);
	report(label, (double)batches * PER_BATCH, t);
	vs_records_decoder_free(&d);
	vs_records_encoder_free(&e);
	vs_wbuf_free(&req);
	free(copy);
	return 0;
}

static void bench_crc(double secs)
{
	size_t n = 1 << 20;
	uint8_t *buf = malloc(n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 131);
	uint32_t (*fns[2])(uint32_t, const void *, size_t) = { vs_crc32c_sw, vs_crc32c_hw };
	const char *names[2] = { "crc32c table", "crc32c sse4.2" };
	for (int f = 0; f < 2; f++) {
		if (f == 1 && !vs_crc32c_hw_available()) {
			printf("%-22s not available on this CPU\n", names[f]);
			continue;
		}
		uint32_t c = 0;
		long rounds = 0;
		double start = now(), t;
		do {
			c += fns[f](0, buf, n);
			rounds++;
			t = now() - start;
		} while (t < secs / 2);
		printf("%-22s %12.0f MB/s (%08x)\n", names[f], (double)rounds * (double)n / t / 1e6,
		       (unsigned)c);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	if (secs <= 0)
		secs = 1.0;
	varve_record *r = malloc(PER_BATCH * sizeof *r);
	char (*keys)[KEY_LEN + 1] = malloc(PER_BATCH * sizeof *keys);
	char (*vals)[VALUE_LEN + 1] = malloc(PER_BATCH * sizeof *vals);
	if (!r || !keys || !vals)
		return 1;
	make_records(r, keys, vals);
	printf("batches of %d records, %d-byte keys, %d-byte values, one core\n", PER_BATCH, KEY_LEN,
	       VALUE_LEN);
	int rc = 0;
	rc |= bench_decode(r, VS_CODEC_NONE, secs, "decode none");
	rc |= bench_decode(r, VS_CODEC_LZ4, secs, "decode lz4");
	rc |= bench_encode(r, VS_CODEC_NONE, secs, "encode none");
	rc |= bench_encode(r, VS_CODEC_LZ4, secs, "encode lz4");
	rc |= bench_decode(r, VS_CODEC_ZSTD, secs / 2, "decode zstd");
	rc |= bench_decode(r, VS_CODEC_GZIP, secs / 2, "decode gzip");
	rc |= bench_decode(r, VS_CODEC_SNAPPY, secs / 2, "decode snappy");
	bench_crc(secs);
	free(r);
	free(keys);
	free(vals);
	return rc ? 1 : 0;
}
