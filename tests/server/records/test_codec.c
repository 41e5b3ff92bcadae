/* SPDX-License-Identifier: MIT */
/* Tests of server/records/codec.c: round trips for every codec and both
 * snappy framings, streams made by the command-line tools, truncated,
 * corrupted and trailing-garbage input, exact output limits, bombs refused
 * without allocating their size, concatenated frames, zstd frames without
 * a content size or with a too-large window, and context reuse. */
#include <criterion/criterion.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "rec_util.h"
#include "records/codec.h"

TestSuite(codec, .timeout = 60);

static const int codecs[] = { VS_CODEC_GZIP, VS_CODEC_SNAPPY, VS_CODEC_SNAPPY_RAW, VS_CODEC_LZ4,
			      VS_CODEC_ZSTD };
#define NCODECS (sizeof codecs / sizeof codecs[0])

/* The codec id to decompress what `codec` compressed. */
static int dcodec(int codec) { return codec == VS_CODEC_SNAPPY_RAW ? VS_CODEC_SNAPPY : codec; }

/* Compressible test data: runs of random words. */
static uint8_t *make_data(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	cr_assert_not_null(p);
	static const char *words[] = { "kafka ", "varve ", "record ", "batch ", "\x00\x01\x02", "zz" };
	size_t i = 0;
	while (i < n) {
		const char *w = words[tr_rand(&seed) % 6];
		size_t wl = w[0] ? strlen(w) : 3;
		for (size_t k = 0; k < wl && i < n; k++)
			p[i++] = (uint8_t)w[k];
		if (tr_rand(&seed) % 8 == 0 && i < n)
			p[i++] = (uint8_t)tr_rand(&seed);
	}
	return p;
}

static void compress_ok(vs_codec_ctx *c, int codec, const void *in, size_t n, vs_wbuf *out)
{
	vs_wbuf_reset(out);
	cr_assert_eq(vs_compress(c, codec, in, n, out), 0, "compress %d of %zu bytes", codec, n);
	cr_assert_eq(out->err, 0);
}

Test(codec, round_trip_every_codec_and_size)
{
	static const size_t sizes[] = { 0, 1, 100, 32767, 32768, 32769, 65536, 65537, 100000, 1 << 20 };
	vs_codec_ctx c;
	vs_codec_init(&c);
	vs_wbuf z, back;
	vs_wbuf_init(&z);
	vs_wbuf_init(&back);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		uint8_t *data = make_data(sizes[s], s + 1);
		for (size_t k = 0; k < NCODECS; k++) {
			compress_ok(&c, codecs[k], data, sizes[s], &z);
			vs_wbuf_reset(&back);
			const char *why = "unset";
			int rc = vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, sizes[s], &back, &why);
			cr_assert_eq(rc, 0, "codec %d size %zu: %s", codecs[k], sizes[s], why);
			cr_assert_eq(back.len, sizes[s]);
			cr_assert(sizes[s] == 0 || memcmp(back.buf, data, sizes[s]) == 0);
			if (sizes[s] == 1 << 20)
				cr_assert_lt(z.len, sizes[s] / 2, "codec %d compresses", codecs[k]);
		}
		free(data);
	}
	vs_wbuf_free(&z);
	vs_wbuf_free(&back);
	vs_codec_free(&c);
}

/* Output is appended after what the buffer holds, which stays intact. */
Test(codec, appends_after_existing_contents)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	uint8_t *data = make_data(5000, 9);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	for (size_t k = 0; k < NCODECS; k++) {
		compress_ok(&c, codecs[k], data, 5000, &z);
		vs_wbuf_reset(&out);
		vs_w_raw(&out, "prefix", 6);
		cr_assert_eq(vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, 5000, &out, NULL), 0);
		cr_assert_eq(out.len, 5006);
		cr_assert_eq(memcmp(out.buf, "prefix", 6), 0);
		cr_assert_eq(memcmp(out.buf + 6, data, 5000), 0);
	}
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

/* Frames written by gzip -n, lz4 and zstd (1.9.4 / 1.5.4 command-line
 * tools) from "hello, kafka": the lz4 one has linked blocks, a content
 * checksum and no content size; the zstd one a content size and checksum. */
Test(codec, decodes_streams_made_by_the_command_line_tools)
{
	static const uint8_t gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
				      0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0xc8, 0x4e, 0x4c,
				      0xcb, 0x4e, 0x04, 0x00, 0x6e, 0x16, 0x60, 0x9e, 0x0c, 0x00,
				      0x00, 0x00 };
	static const uint8_t lz[] = { 0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x0c, 0x00, 0x00,
				      0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x6b, 0x61,
				      0x66, 0x6b, 0x61, 0x00, 0x00, 0x00, 0x00, 0x17, 0xd7, 0x87,
				      0xfd };
	static const uint8_t zs[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x0c, 0x61, 0x00, 0x00, 0x68,
				      0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x6b, 0x61, 0x66, 0x6b,
				      0x61, 0x17, 0x7b, 0xcf, 0x89 };
	const struct {
		int codec;
		const uint8_t *p;
		size_t n;
	} v[] = { { VS_CODEC_GZIP, gz, sizeof gz }, { VS_CODEC_LZ4, lz, sizeof lz },
		  { VS_CODEC_ZSTD, zs, sizeof zs } };
	vs_codec_ctx c;
	vs_codec_init(&c);
	vs_wbuf out;
	vs_wbuf_init(&out);
	for (size_t i = 0; i < 3; i++) {
		vs_wbuf_reset(&out);
		cr_assert_eq(vs_decompress(&c, v[i].codec, v[i].p, v[i].n, 100, &out, NULL), 0);
		cr_assert_eq(out.len, 12);
		cr_assert_eq(memcmp(out.buf, "hello, kafka", 12), 0);
		/* a flipped content byte: gzip's CRC, lz4's and zstd's content checksums */
		uint8_t bad[64];
		memcpy(bad, v[i].p, v[i].n);
		bad[v[i].n - 6] ^= 0x20;
		vs_wbuf_reset(&out);
		cr_assert_eq(vs_decompress(&c, v[i].codec, bad, v[i].n, 100, &out, NULL),
			     VS_CODEC_ECORRUPT, "codec %d", v[i].codec);
		cr_assert_eq(out.len, 0);
	}
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

/* The xerial framing byte for byte: magic, version 1, compatible version
 * 1, then per 32 KiB block a be32 length and a raw snappy block; a framing
 * assembled here by hand from raw blocks decodes too. */
Test(codec, snappy_xerial_framing_layout)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	size_t n = 70000;
	uint8_t *data = make_data(n, 3);
	vs_wbuf z;
	vs_wbuf_init(&z);
	compress_ok(&c, VS_CODEC_SNAPPY, data, n, &z);
	static const uint8_t head[16] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1 };
	cr_assert_eq(memcmp(z.buf, head, 16), 0);
	size_t at = 16, blocks = 0, total = 0;
	while (at < z.len) {
		uint32_t bl = vs_be32(z.buf + at);
		size_t ul;
		cr_assert_eq(snappy_uncompressed_length((const char *)z.buf + at + 4, bl, &ul), SNAPPY_OK);
		cr_assert_leq(ul, 32768);
		total += ul;
		at += 4 + bl;
		blocks++;
	}
	cr_assert_eq(at, z.len);
	cr_assert_eq(blocks, 3);
	cr_assert_eq(total, n);

	/* by hand: blocks of 10000 bytes (snappy-java's size is not required) */
	vs_wbuf hand, out;
	vs_wbuf_init(&hand);
	vs_wbuf_init(&out);
	vs_w_raw(&hand, head, 16);
	for (size_t off = 0; off < n; off += 10000) {
		size_t len = n - off < 10000 ? n - off : 10000;
		size_t cap = snappy_max_compressed_length(len);
		char *blk = malloc(cap);
		cr_assert_eq(snappy_compress((const char *)data + off, len, blk, &cap), SNAPPY_OK);
		vs_w_u32(&hand, (uint32_t)cap);
		vs_w_raw(&hand, blk, cap);
		free(blk);
	}
	cr_assert_eq(vs_decompress(&c, VS_CODEC_SNAPPY, hand.buf, hand.len, n, &out, NULL), 0);
	cr_assert_eq(out.len, n);
	cr_assert_eq(memcmp(out.buf, data, n), 0);
	/* raw snappy (librdkafka) does not start with the magic */
	compress_ok(&c, VS_CODEC_SNAPPY_RAW, data, n, &z);
	cr_assert_neq(memcmp(z.buf, head, 8), 0);
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&hand);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

/* Exactly max_out bytes decode; one byte less is ELIMIT, and the buffer's
 * length is back where it was. */
Test(codec, output_limit_is_exact)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	size_t n = 50000;
	uint8_t *data = make_data(n, 5);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	for (size_t k = 0; k < NCODECS; k++) {
		compress_ok(&c, codecs[k], data, n, &z);
		vs_wbuf_reset(&out);
		vs_w_raw(&out, "xy", 2);
		const char *why = NULL;
		cr_assert_eq(vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, n - 1, &out, &why),
			     VS_CODEC_ELIMIT, "codec %d", codecs[k]);
		cr_assert_not_null(why);
		cr_assert(strstr(why, "limit") != NULL, "reason: %s", why);
		cr_assert_eq(out.len, 2);
		cr_assert_eq(out.err, 0);
		cr_assert_eq(vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, n, &out, NULL), 0);
		cr_assert_eq(out.len, n + 2);
	}
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

/* A zstd frame written by streaming, without a content size in its header. */
static void zstd_stream(const void *in, size_t n, int window_log, vs_wbuf *out)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	cr_assert_not_null(cc);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	if (window_log)
		ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, window_log);
	size_t cap = ZSTD_compressBound(n) + 64;
	uint8_t *dst = vs_w_reserve(out, cap);
	cr_assert_not_null(dst);
	ZSTD_outBuffer ob = { dst, cap, 0 };
	ZSTD_inBuffer ib = { in, n, 0 };
	size_t r = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
	cr_assert_eq(r, 0, "one call finishes the frame");
	out->len -= cap - ob.pos;
	cr_assert_eq(ZSTD_getFrameContentSize(dst, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	ZSTD_freeCCtx(cc);
}

/* 100 MB of zeros compressed (a 1000x or better bomb with gzip and zstd;
 * LZ4 and snappy top out near 250x and 21x) is refused against a 1 MB limit:
 * a declared size before any allocation, otherwise after at most about
 * twice the limit. */
Test(codec, bombs_are_refused_without_allocating_their_size, .timeout = 120)
{
	size_t big = 100u << 20, limit = 1u << 20;
	uint8_t *zeros = calloc(1, big);
	cr_assert_not_null(zeros);
	vs_codec_ctx c;
	vs_codec_init(&c);
	vs_wbuf z;
	vs_wbuf_init(&z);
	for (size_t k = 0; k < NCODECS + 1; k++) {
		int codec = k < NCODECS ? codecs[k] : VS_CODEC_ZSTD;
		vs_wbuf_reset(&z);
		if (k < NCODECS)
			compress_ok(&c, codec, zeros, big, &z);
		else
			zstd_stream(zeros, big, 0, &z); /* no declared size */
		if (codec == VS_CODEC_GZIP || codec == VS_CODEC_ZSTD)
			cr_assert_lt(z.len * 1000, big, "codec %d: a 1000x bomb (%zu bytes)", codec, z.len);
		vs_wbuf out;
		vs_wbuf_init(&out);
		const char *why = NULL;
		cr_assert_eq(vs_decompress(&c, dcodec(codec), z.buf, z.len, limit, &out, &why),
			     VS_CODEC_ELIMIT, "codec %d", codec);
		cr_assert(strstr(why, "limit") != NULL, "reason: %s", why);
		cr_assert_eq(out.len, 0);
		int declared = codec == VS_CODEC_ZSTD && k < NCODECS; /* ZSTD_compress2 writes it */
		declared |= codec == VS_CODEC_SNAPPY_RAW;
		if (declared)
			cr_assert_eq(out.cap, 0, "codec %d: refused before allocating", codec);
		else
			cr_assert_leq(out.cap, 2 * (limit + 1), "codec %d: allocated %zu", codec, out.cap);
		vs_wbuf_free(&out);
	}
	vs_wbuf_free(&z);
	vs_codec_free(&c);
	free(zeros);
}

Test(codec, lz4_declared_content_size_over_the_limit_is_refused_before_allocating)
{
	/* an LZ4 frame header claiming 1 GiB, then nothing: refused on the claim */
	uint8_t fr[32] = { 0x04, 0x22, 0x4d, 0x18, 0x68 /* v01, independent, content size */, 0x40 };
	uint64_t size = 1ull << 30;
	for (int i = 0; i < 8; i++)
		fr[6 + i] = (uint8_t)(size >> (8 * i));
	/* header checksum: second byte of XXH32(descriptor); computed by lz4 itself below */
	vs_codec_ctx c;
	vs_codec_init(&c);
	vs_wbuf out;
	vs_wbuf_init(&out);
	int hc_ok = 0;
	for (int hc = 0; hc < 256; hc++) {
		fr[14] = (uint8_t)hc;
		const char *why = NULL;
		int rc = vs_decompress(&c, VS_CODEC_LZ4, fr, 15, 1 << 20, &out, &why);
		if (rc == VS_CODEC_ELIMIT) {
			hc_ok++;
			cr_assert(strstr(why, "declared") != NULL, "%s", why);
		} else {
			cr_assert_eq(rc, VS_CODEC_ECORRUPT);
		}
		cr_assert_eq(out.cap, 0);
	}
	cr_assert_eq(hc_ok, 1, "exactly one header checksum is right");
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

Test(codec, zstd_without_content_size_and_concatenated_frames)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	uint8_t *data = make_data(200000, 11);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	zstd_stream(data, 120000, 0, &z);
	zstd_stream(data + 120000, 80000, 0, &z);
	cr_assert_eq(vs_decompress(&c, VS_CODEC_ZSTD, z.buf, z.len, 200000, &out, NULL), 0);
	cr_assert_eq(out.len, 200000);
	cr_assert_eq(memcmp(out.buf, data, 200000), 0);
	/* the same for the other codecs' concatenations (xerial has no such thing) */
	const int cat[] = { VS_CODEC_GZIP, VS_CODEC_LZ4, VS_CODEC_ZSTD };
	for (int k = 0; k < 3; k++) {
		vs_wbuf_reset(&z);
		cr_assert_eq(vs_compress(&c, cat[k], data, 120000, &z), 0);
		cr_assert_eq(vs_compress(&c, cat[k], data + 120000, 80000, &z), 0);
		vs_wbuf_reset(&out);
		cr_assert_eq(vs_decompress(&c, cat[k], z.buf, z.len, 200000, &out, NULL), 0, "%d", cat[k]);
		cr_assert_eq(out.len, 200000);
		cr_assert_eq(memcmp(out.buf, data, 200000), 0);
		vs_wbuf_reset(&out);
		cr_assert_eq(vs_decompress(&c, cat[k], z.buf, z.len, 199999, &out, NULL), VS_CODEC_ELIMIT);
	}
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

Test(codec, zstd_window_over_the_cap_is_refused)
{
	size_t n = (size_t)40 << 20; /* long enough for the encoder to keep a 32 MiB window */
	uint8_t *data = make_data(n, 13);
	vs_codec_ctx c;
	vs_codec_init(&c);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	zstd_stream(data, n, 25, &z);
	const char *why = NULL;
	cr_assert_eq(vs_decompress(&c, VS_CODEC_ZSTD, z.buf, z.len, n, &out, &why), VS_CODEC_ELIMIT);
	cr_assert(strstr(why, "window") != NULL, "%s", why);
	/* a 16 MiB window is fine */
	vs_wbuf_reset(&z);
	zstd_stream(data, n, VS_ZSTD_WINDOW_LOG_MAX, &z);
	vs_wbuf_reset(&out);
	cr_assert_eq(vs_decompress(&c, VS_CODEC_ZSTD, z.buf, z.len, n, &out, NULL), 0);
	cr_assert_eq(memcmp(out.buf, data, n), 0);
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

/* Every proper prefix of a compressed stream fails, except for xerial the
 * header alone (a framing with zero blocks is the empty stream). */
Test(codec, truncation_at_every_length_is_refused)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	size_t n = 3000;
	uint8_t *data = make_data(n, 17);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	for (size_t k = 0; k < NCODECS; k++) {
		compress_ok(&c, codecs[k], data, n, &z);
		for (size_t cut = 0; cut < z.len; cut++) {
			vs_wbuf_reset(&out);
			int rc = vs_decompress(&c, dcodec(codecs[k]), z.buf, cut, n, &out, NULL);
			if (codecs[k] == VS_CODEC_SNAPPY && cut == 16) {
				cr_assert_eq(rc, 0);
				cr_assert_eq(out.len, 0);
				continue;
			}
			/* a cut xerial magic reads as raw snappy that may declare a big size */
			cr_assert(rc == VS_CODEC_ECORRUPT || (rc == VS_CODEC_ELIMIT && cut < 8),
				  "codec %d cut %zu of %zu: %d", codecs[k], cut, z.len, rc);
			cr_assert_eq(out.len, 0);
		}
	}
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

Test(codec, trailing_garbage_and_bad_framing_are_refused)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	uint8_t *data = make_data(4000, 19);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	static const uint8_t tails[][3] = { { 0 }, { 0xff }, { 0x1f, 0x8b, 0x08 } };
	for (size_t k = 0; k < NCODECS; k++)
		for (size_t t = 0; t < 3; t++) {
			compress_ok(&c, codecs[k], data, 4000, &z);
			vs_w_raw(&z, tails[t], t == 2 ? 3 : 1);
			vs_wbuf_reset(&out);
			cr_assert_eq(vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, 1 << 20, &out, NULL),
				     VS_CODEC_ECORRUPT, "codec %d tail %zu", codecs[k], t);
		}
	/* xerial: a block length past the end, a zero block length, a short length */
	compress_ok(&c, VS_CODEC_SNAPPY, data, 4000, &z);
	uint8_t *copy = malloc(z.len);
	memcpy(copy, z.buf, z.len);
	vs_put_be32(copy + 16, (uint32_t)(z.len - 16 - 4 + 1));
	cr_assert_eq(vs_decompress(&c, VS_CODEC_SNAPPY, copy, z.len, 1 << 20, &out, NULL), VS_CODEC_ECORRUPT);
	vs_put_be32(copy + 16, 0);
	cr_assert_eq(vs_decompress(&c, VS_CODEC_SNAPPY, copy, z.len, 1 << 20, &out, NULL), VS_CODEC_ECORRUPT);
	cr_assert_eq(vs_decompress(&c, VS_CODEC_SNAPPY, copy, 18, 1 << 20, &out, NULL), VS_CODEC_ECORRUPT);
	cr_assert_eq(vs_decompress(&c, VS_CODEC_SNAPPY, copy, 12, 1 << 20, &out, NULL), VS_CODEC_ECORRUPT);
	/* the codec ids that are not compression */
	cr_assert_eq(vs_decompress(&c, VS_CODEC_NONE, data, 10, 100, &out, NULL), VS_CODEC_EUNKNOWN);
	cr_assert_eq(vs_decompress(&c, 5, data, 10, 100, &out, NULL), VS_CODEC_EUNKNOWN);
	cr_assert_eq(vs_compress(&c, VS_CODEC_NONE, data, 10, &out), VS_CODEC_EUNKNOWN);
	cr_assert_str_eq(vs_codec_name(VS_CODEC_LZ4), "lz4");
	cr_assert_str_eq(vs_codec_name(7), "unknown");
	free(copy);
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

/* Checked formats reject any flipped byte in their checked parts; in any
 * case a damaged stream never crashes, never writes past the limit and
 * leaves the context usable for the next, valid stream. */
Test(codec, corruption_is_refused_or_bounded_and_the_context_recovers)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	size_t n = 2000;
	uint8_t *data = make_data(n, 23);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	uint64_t seed = 99;
	for (size_t k = 0; k < NCODECS; k++) {
		compress_ok(&c, codecs[k], data, n, &z);
		uint8_t *copy = malloc(z.len);
		for (size_t pos = 0; pos < z.len; pos++) {
			memcpy(copy, z.buf, z.len);
			copy[pos] ^= (uint8_t)(1 + tr_rand(&seed) % 255);
			vs_wbuf_reset(&out);
			int rc = vs_decompress(&c, dcodec(codecs[k]), copy, z.len, n, &out, NULL);
			cr_assert(rc == 0 || rc == VS_CODEC_ECORRUPT || rc == VS_CODEC_ELIMIT);
			cr_assert_leq(out.len, n);
			/* gzip: everything after the 10-byte header is covered by its CRC-32 and size */
			if (codecs[k] == VS_CODEC_GZIP && pos >= 10)
				cr_assert_neq(rc, 0, "gzip flip at %zu accepted", pos);
			if (rc == 0 && codecs[k] == VS_CODEC_GZIP)
				cr_assert_eq(memcmp(out.buf, data, n), 0, "header-only damage");
			/* the next valid stream decodes */
			vs_wbuf_reset(&out);
			cr_assert_eq(vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, n, &out, NULL), 0);
			cr_assert_eq(memcmp(out.buf, data, n), 0);
		}
		free(copy);
	}
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}

/* Steady state: decoding the same size again reuses the buffer. */
Test(codec, reuse_does_not_reallocate)
{
	vs_codec_ctx c;
	vs_codec_init(&c);
	size_t n = 300000;
	uint8_t *data = make_data(n, 29);
	vs_wbuf z, out;
	vs_wbuf_init(&z);
	vs_wbuf_init(&out);
	for (size_t k = 0; k < NCODECS; k++) {
		compress_ok(&c, codecs[k], data, n, &z);
		vs_wbuf_reset(&out);
		cr_assert_eq(vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, n, &out, NULL), 0);
		uint8_t *buf = out.buf;
		size_t cap = out.cap;
		for (int round = 0; round < 3; round++) {
			vs_wbuf_reset(&out);
			cr_assert_eq(vs_decompress(&c, dcodec(codecs[k]), z.buf, z.len, n, &out, NULL), 0);
			cr_assert_eq(out.buf, buf);
			cr_assert_eq(out.cap, cap);
		}
	}
	free(data);
	vs_wbuf_free(&z);
	vs_wbuf_free(&out);
	vs_codec_free(&c);
}
