/* SPDX-License-Identifier: MIT */
/*
 * codec.h -- Kafka's compression codecs for record batches: gzip, snappy,
 * LZ4 and zstd, both ways.
 *
 * Formats, as Kafka's clients write them for magic 2:
 *   gzip    a gzip stream (RFC 1952); concatenated members are accepted.
 *   snappy  either raw snappy (librdkafka) or the xerial/snappy-java
 *           framing (Java clients, kafka-python): "\x82SNAPPY\0", be32
 *           version, be32 compatible version, then [be32 length, raw snappy
 *           block]*. Decompression tells them apart by that magic.
 *   lz4     the LZ4 frame format (lz4frame.h), not the bare block format.
 *   zstd    zstd frames; the content size may be absent from the header.
 * Concatenated gzip members, LZ4 frames and zstd frames decode as one
 * stream; anything else after the end of the data is corrupt.
 *
 * Decompression is bounded: the caller gives max_out, the most bytes it
 * will accept. A declared size over it (snappy, LZ4/zstd content size) is
 * refused before any allocation; otherwise output grows in steps and the
 * stream is refused as soon as it passes max_out, so a bomb costs at most
 * about twice max_out of memory (the writer's growth), never its full size.
 * zstd frames whose window is over 16 MiB (VS_ZSTD_WINDOW_LOG_MAX) are
 * refused: that is what a hostile header would make the library allocate.
 *
 * Output is appended to a vs_wbuf (server/protocol/kbuf.h), so callers can
 * keep one buffer and reuse it: steady-state decoding does not allocate.
 * The library contexts live in a vs_codec_ctx, made on first use and kept.
 *
 * Errors: 0 or a negative VS_CODEC_E* code, with a static reason string.
 */
#ifndef VS_CODEC_H
#define VS_CODEC_H

#include <stddef.h>

#include "protocol/kbuf.h"

/* The codec ids of the batch attributes' low three bits. */
enum vs_codec {
	VS_CODEC_NONE = 0,
	VS_CODEC_GZIP = 1,
	VS_CODEC_SNAPPY = 2,
	VS_CODEC_LZ4 = 3,
	VS_CODEC_ZSTD = 4
};
#define VS_CODEC_MAX VS_CODEC_ZSTD

/* Compression only: raw snappy without the xerial framing, as librdkafka
 * writes it (VS_CODEC_SNAPPY writes the xerial framing, as Java does). Not a
 * Kafka codec id. */
#define VS_CODEC_SNAPPY_RAW 0x102

enum vs_codec_err {
	VS_CODEC_OK = 0,
	VS_CODEC_ECORRUPT = -1, /* not a valid stream: truncated, bad data, trailing bytes */
	VS_CODEC_ELIMIT = -2,   /* the output would pass max_out */
	VS_CODEC_ENOMEM = -3,   /* allocation failed */
	VS_CODEC_EUNKNOWN = -4  /* not a codec this file knows */
};

#define VS_ZSTD_WINDOW_LOG_MAX 24

/* The libraries' contexts, created on first use (opaque pointers so this
 * header needs none of the libraries' headers). Zero-initialised is valid. */
typedef struct vs_codec_ctx {
	void *gz_inflate, *gz_deflate; /* z_stream */
	void *lz4_d, *lz4_c;           /* LZ4F_dctx, LZ4F_cctx */
	void *zstd_d, *zstd_c;         /* ZSTD_DCtx, ZSTD_CCtx */
} vs_codec_ctx;

void vs_codec_init(vs_codec_ctx *c);
void vs_codec_free(vs_codec_ctx *c);

/* "none", "gzip", "snappy", "lz4", "zstd", or "unknown". */
const char *vs_codec_name(int codec);

/*
 * Decompress in[0, len) written with `codec` (GZIP, SNAPPY, LZ4 or ZSTD) and
 * append the result to out. At most max_out bytes are appended; a stream
 * that holds more fails with VS_CODEC_ELIMIT. On failure out->len is back
 * where it was. *reason (may be NULL) gets a static description.
 */
int vs_decompress(vs_codec_ctx *c, int codec, const void *in, size_t len, size_t max_out,
		  vs_wbuf *out, const char **reason);

/*
 * Compress in[0, len) with `codec` (GZIP, SNAPPY, SNAPPY_RAW, LZ4, ZSTD) at
 * the library's default level and append the result to out. LZ4 frames are
 * written with independent 64 KiB blocks and no content size or checksum
 * (what Java's KafkaLZ4BlockInputStream and librdkafka read); zstd frames
 * carry their content size; snappy uses 32 KiB xerial blocks like
 * snappy-java.
 */
int vs_compress(vs_codec_ctx *c, int codec, const void *in, size_t len, vs_wbuf *out);

#endif
