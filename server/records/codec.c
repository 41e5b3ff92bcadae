/* SPDX-License-Identifier: MIT */
/*
 * codec.c -- gzip (zlib), snappy, LZ4 frame and zstd for Kafka record
 * batches (see codec.h). Calls only the four libraries and kbuf's writer.
 *
 * Every decompressor writes through a `sink`: the caller's vs_wbuf plus the
 * limit. The sink hands out room at most one byte past the limit, so output
 * that reaches limit + 1 bytes proves the stream is too big without ever
 * holding more than that. Room grows by doubling (from a hint: a declared
 * size, or a multiple of the input) so big outputs take few reallocations.
 *
 * Library contexts are created on first use and reset per call; a failed
 * call leaves them reusable (each decompressor resets before it starts).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"

#define MIN_ROOM 4096
/* Inputs and outputs are record batches: at most INT32_MAX bytes. */
#define MAX_COMPRESS_INPUT ((size_t)INT32_MAX)

static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
#define XERIAL_HEADER 16
#define XERIAL_BLOCK (32 * 1024)

static int fail(const char **reason, const char *why, int code)
{
	if (reason)
		*reason = why;
	return code;
}

const char *vs_codec_name(int codec)
{
	switch (codec) {
	case VS_CODEC_NONE: return "none";
	case VS_CODEC_GZIP: return "gzip";
	case VS_CODEC_SNAPPY: return "snappy";
	case VS_CODEC_LZ4: return "lz4";
	case VS_CODEC_ZSTD: return "zstd";
	default: return "unknown";
	}
}

void vs_codec_init(vs_codec_ctx *c) { memset(c, 0, sizeof *c); }

void vs_codec_free(vs_codec_ctx *c)
{
	if (c->gz_inflate) {
		inflateEnd(c->gz_inflate);
		free(c->gz_inflate);
	}
	if (c->gz_deflate) {
		deflateEnd(c->gz_deflate);
		free(c->gz_deflate);
	}
	if (c->lz4_d)
		LZ4F_freeDecompressionContext(c->lz4_d);
	if (c->lz4_c)
		LZ4F_freeCompressionContext(c->lz4_c);
	ZSTD_freeDCtx(c->zstd_d);
	ZSTD_freeCCtx(c->zstd_c);
	memset(c, 0, sizeof *c);
}

/* ---- bounded output ------------------------------------------------------ */

typedef struct sink {
	vs_wbuf *w;
	size_t start; /* w->len when the call began */
	size_t limit; /* max bytes this call may append */
} sink;

static size_t sink_produced(const sink *s) { return s->w->len - s->start; }

/* Free bytes at w->buf + w->len: at least min(want, allowance) where the
 * allowance is what the limit still permits plus one (to see an overrun).
 * Returns the usable room (never above the allowance), 0 on ENOMEM. */
static size_t sink_room(sink *s, size_t want)
{
	size_t allowance = s->limit - sink_produced(s);
	if (allowance < SIZE_MAX)
		allowance++;
	size_t produced = sink_produced(s);
	if (want < produced)
		want = produced; /* double what is there */
	if (want < MIN_ROOM)
		want = MIN_ROOM;
	if (want > allowance)
		want = allowance;
	vs_wbuf *w = s->w;
	if (w->err)
		return 0;
	if (w->cap - w->len < want) {
		if (!vs_w_reserve(w, want))
			return 0;
		w->len -= want; /* only the room was wanted, not the bytes */
	}
	size_t room = w->cap - w->len;
	return room < allowance ? room : allowance;
}

static uint8_t *sink_ptr(const sink *s) { return s->w->buf + s->w->len; }

/* Account n bytes written at sink_ptr; 1 once past the limit. */
static int sink_commit(sink *s, size_t n)
{
	s->w->len += n;
	return sink_produced(s) > s->limit;
}

/* ---- gzip ------------------------------------------------------------------ */

static int gz_inflater(vs_codec_ctx *c, z_stream **out)
{
	z_stream *z = c->gz_inflate;
	if (z) {
		inflateReset(z);
	} else {
		z = calloc(1, sizeof *z);
		if (!z)
			return VS_CODEC_ENOMEM;
		if (inflateInit2(z, 16 + MAX_WBITS) != Z_OK) { /* 16: gzip framing only */
			free(z);
			return VS_CODEC_ENOMEM;
		}
		c->gz_inflate = z;
	}
	*out = z;
	return 0;
}

static int gz_decompress(vs_codec_ctx *c, const uint8_t *in, size_t len, sink *s,
			 const char **reason)
{
	z_stream *z;
	if (gz_inflater(c, &z))
		return fail(reason, "gzip: out of memory", VS_CODEC_ENOMEM);
	size_t left = len; /* not yet handed to zlib */
	z->next_in = in;
	z->avail_in = 0;
	for (;;) {
		if (z->avail_in == 0 && left) {
			uInt chunk = left > UINT_MAX ? UINT_MAX : (uInt)left;
			z->avail_in = chunk;
			left -= chunk;
		}
		size_t room = sink_room(s, len * 4);
		if (!room)
			return fail(reason, "gzip: out of memory", VS_CODEC_ENOMEM);
		uInt avail = room > UINT_MAX ? UINT_MAX : (uInt)room;
		z->next_out = sink_ptr(s);
		z->avail_out = avail;
		int rc = inflate(z, Z_NO_FLUSH);
		if (sink_commit(s, avail - z->avail_out))
			return fail(reason, "gzip: decompressed size over the limit", VS_CODEC_ELIMIT);
		int input_done = z->avail_in == 0 && left == 0;
		if (rc == Z_STREAM_END) {
			if (input_done)
				return 0;
			inflateReset(z); /* another member follows (or garbage: inflate says so) */
			continue;
		}
		if (rc == Z_MEM_ERROR)
			return fail(reason, "gzip: out of memory", VS_CODEC_ENOMEM);
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return fail(reason, "gzip: corrupt stream", VS_CODEC_ECORRUPT);
		/* room left over means zlib used up its input: refill, or it ends early */
		if (z->avail_out != 0 && !(z->avail_in == 0 && left))
			return fail(reason, "gzip: truncated stream", VS_CODEC_ECORRUPT);
	}
}

static int gz_compress(vs_codec_ctx *c, const uint8_t *in, size_t len, vs_wbuf *out)
{
	z_stream *z = c->gz_deflate;
	if (z) {
		deflateReset(z);
	} else {
		z = calloc(1, sizeof *z);
		if (!z)
			return VS_CODEC_ENOMEM;
		if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			free(z);
			return VS_CODEC_ENOMEM;
		}
		c->gz_deflate = z;
	}
	size_t bound = deflateBound(z, (uLong)len);
	uint8_t *dst = vs_w_reserve(out, bound);
	if (!dst)
		return VS_CODEC_ENOMEM;
	z->next_in = in;
	z->avail_in = (uInt)len;
	z->next_out = dst;
	z->avail_out = (uInt)bound;
	int rc = deflate(z, Z_FINISH);
	out->len -= z->avail_out;
	return rc == Z_STREAM_END ? 0 : VS_CODEC_ENOMEM;
}

/* ---- snappy ---------------------------------------------------------------- */

static int snappy_block(const uint8_t *in, size_t len, sink *s, const char **reason)
{
	size_t n;
	if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
		return fail(reason, "snappy: corrupt block header", VS_CODEC_ECORRUPT);
	if (n > s->limit - sink_produced(s)) /* declared: refuse before allocating */
		return fail(reason, "snappy: decompressed size over the limit", VS_CODEC_ELIMIT);
	size_t room = sink_room(s, n + 1); /* the allowance is at least n + 1 */
	if (room <= n)
		return fail(reason, "snappy: out of memory", VS_CODEC_ENOMEM);
	size_t got = room;
	if (snappy_uncompress((const char *)in, len, (char *)sink_ptr(s), &got) != SNAPPY_OK ||
	    got != n)
		return fail(reason, "snappy: corrupt block", VS_CODEC_ECORRUPT);
	sink_commit(s, n);
	return 0;
}

/* snappy-java's framing: header, then [be32 length, raw block]*. */
static int xerial_decompress(const uint8_t *in, size_t len, sink *s, const char **reason)
{
	if (len < XERIAL_HEADER)
		return fail(reason, "snappy: truncated xerial header", VS_CODEC_ECORRUPT);
	const uint8_t *p = in + XERIAL_HEADER;
	size_t rest = len - XERIAL_HEADER;
	while (rest) {
		if (rest < 4)
			return fail(reason, "snappy: truncated xerial block length", VS_CODEC_ECORRUPT);
		uint32_t blen = vs_be32(p);
		p += 4;
		rest -= 4;
		if (blen == 0 || blen > rest)
			return fail(reason, "snappy: xerial block length out of range", VS_CODEC_ECORRUPT);
		int rc = snappy_block(p, blen, s, reason);
		if (rc)
			return rc;
		p += blen;
		rest -= blen;
	}
	return 0;
}

static int snappy_decompress(const uint8_t *in, size_t len, sink *s, const char **reason)
{
	if (len >= sizeof xerial_magic && memcmp(in, xerial_magic, sizeof xerial_magic) == 0)
		return xerial_decompress(in, len, s, reason);
	return snappy_block(in, len, s, reason);
}

static int snappy_compress_raw(const uint8_t *in, size_t len, vs_wbuf *out)
{
	size_t bound = snappy_max_compressed_length(len);
	uint8_t *dst = vs_w_reserve(out, bound);
	if (!dst)
		return VS_CODEC_ENOMEM;
	size_t got = bound;
	if (snappy_compress((const char *)in, len, (char *)dst, &got) != SNAPPY_OK)
		return VS_CODEC_ENOMEM;
	out->len -= bound - got;
	return 0;
}

static int snappy_compress_xerial(const uint8_t *in, size_t len, vs_wbuf *out)
{
	uint8_t *h = vs_w_reserve(out, XERIAL_HEADER);
	if (!h)
		return VS_CODEC_ENOMEM;
	memcpy(h, xerial_magic, sizeof xerial_magic);
	vs_put_be32(h + 8, 1);  /* version */
	vs_put_be32(h + 12, 1); /* minimum compatible version */
	for (size_t off = 0; off < len; off += XERIAL_BLOCK) {
		size_t n = len - off < XERIAL_BLOCK ? len - off : XERIAL_BLOCK;
		size_t at = vs_w_hole32(out);
		int rc = snappy_compress_raw(in + off, n, out);
		if (rc || out->err)
			return VS_CODEC_ENOMEM;
		vs_w_patch32(out, at, (uint32_t)(out->len - at - 4));
	}
	return out->err ? VS_CODEC_ENOMEM : 0;
}

/* ---- LZ4 frame ------------------------------------------------------------- */

static int lz4_decompress(vs_codec_ctx *c, const uint8_t *in, size_t len, sink *s,
			  const char **reason)
{
	if (!c->lz4_d) {
		LZ4F_dctx *d;
		if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
			return fail(reason, "lz4: out of memory", VS_CODEC_ENOMEM);
		c->lz4_d = d;
	}
	LZ4F_dctx *d = c->lz4_d;
	LZ4F_resetDecompressionContext(d);
	LZ4F_frameInfo_t fi;
	size_t pos = len;
	if (LZ4F_isError(LZ4F_getFrameInfo(d, &fi, in, &pos)))
		return fail(reason, "lz4: corrupt or truncated frame header", VS_CODEC_ECORRUPT);
	if (fi.contentSize > s->limit)
		return fail(reason, "lz4: declared content size over the limit", VS_CODEC_ELIMIT);
	size_t hint = fi.contentSize ? (size_t)fi.contentSize + 1 : len * 4;
	for (;;) {
		size_t room = sink_room(s, hint);
		if (!room)
			return fail(reason, "lz4: out of memory", VS_CODEC_ENOMEM);
		size_t dst = room, src = len - pos;
		size_t r = LZ4F_decompress(d, sink_ptr(s), &dst, in + pos, &src, NULL);
		if (LZ4F_isError(r))
			return fail(reason, "lz4: corrupt frame", VS_CODEC_ECORRUPT);
		pos += src;
		if (sink_commit(s, dst))
			return fail(reason, "lz4: decompressed size over the limit", VS_CODEC_ELIMIT);
		if (r == 0 && pos == len)
			return 0;
		if (r == 0)
			continue; /* end of a frame; the next one follows */
		if (pos == len && dst < room)
			return fail(reason, "lz4: truncated frame", VS_CODEC_ECORRUPT);
		if (src == 0 && dst == 0)
			return fail(reason, "lz4: frame makes no progress", VS_CODEC_ECORRUPT);
	}
}

static int lz4_compress(vs_codec_ctx *c, const uint8_t *in, size_t len, vs_wbuf *out)
{
	if (!c->lz4_c) {
		LZ4F_cctx *cc;
		if (LZ4F_isError(LZ4F_createCompressionContext(&cc, LZ4F_VERSION)))
			return VS_CODEC_ENOMEM;
		c->lz4_c = cc;
	}
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent; /* Kafka's Java reader needs it */
	prefs.autoFlush = 1;                              /* no copy into the context's buffer */
	size_t bound = LZ4F_HEADER_SIZE_MAX + LZ4F_compressBound(len, &prefs) +
		       LZ4F_compressBound(0, &prefs);
	uint8_t *dst = vs_w_reserve(out, bound);
	if (!dst)
		return VS_CODEC_ENOMEM;
	size_t at = 0;
	size_t r = LZ4F_compressBegin(c->lz4_c, dst, bound, &prefs);
	if (!LZ4F_isError(r)) {
		at += r;
		r = LZ4F_compressUpdate(c->lz4_c, dst + at, bound - at, in, len, NULL);
	}
	if (!LZ4F_isError(r)) {
		at += r;
		r = LZ4F_compressEnd(c->lz4_c, dst + at, bound - at, NULL);
	}
	if (LZ4F_isError(r)) {
		out->len -= bound;
		return VS_CODEC_ENOMEM;
	}
	at += r;
	out->len -= bound - at;
	return 0;
}

/* ---- zstd ------------------------------------------------------------------ */

static int zstd_decoder(vs_codec_ctx *c, ZSTD_DCtx **out)
{
	if (!c->zstd_d) {
		ZSTD_DCtx *d = ZSTD_createDCtx();
		if (!d)
			return VS_CODEC_ENOMEM;
		/* a hostile header may ask for a huge window: cap what we allocate */
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, VS_ZSTD_WINDOW_LOG_MAX))) {
			ZSTD_freeDCtx(d);
			return VS_CODEC_ENOMEM;
		}
		c->zstd_d = d;
	}
	ZSTD_DCtx_reset(c->zstd_d, ZSTD_reset_session_only);
	*out = c->zstd_d;
	return 0;
}

static int zstd_error(size_t r, const char **reason)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_frameParameter_windowTooLarge:
		return fail(reason, "zstd: window over the 16 MiB limit", VS_CODEC_ELIMIT);
	case ZSTD_error_memory_allocation:
		return fail(reason, "zstd: out of memory", VS_CODEC_ENOMEM);
	default:
		return fail(reason, "zstd: corrupt frame", VS_CODEC_ECORRUPT);
	}
}

static int zstd_decompress(vs_codec_ctx *c, const uint8_t *in, size_t len, sink *s,
			   const char **reason)
{
	ZSTD_DCtx *d;
	if (zstd_decoder(c, &d))
		return fail(reason, "zstd: out of memory", VS_CODEC_ENOMEM);
	unsigned long long declared = ZSTD_getFrameContentSize(in, len);
	if (declared == ZSTD_CONTENTSIZE_ERROR)
		return fail(reason, "zstd: corrupt or truncated frame header", VS_CODEC_ECORRUPT);
	size_t hint = len * 4;
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN) {
		if (declared > s->limit)
			return fail(reason, "zstd: declared content size over the limit", VS_CODEC_ELIMIT);
		hint = (size_t)declared + 1;
	}
	ZSTD_inBuffer ib = { in, len, 0 };
	for (;;) {
		size_t room = sink_room(s, hint);
		if (!room)
			return fail(reason, "zstd: out of memory", VS_CODEC_ENOMEM);
		ZSTD_outBuffer ob = { sink_ptr(s), room, 0 };
		size_t before = ib.pos;
		size_t r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r))
			return zstd_error(r, reason);
		if (sink_commit(s, ob.pos))
			return fail(reason, "zstd: decompressed size over the limit", VS_CODEC_ELIMIT);
		if (r == 0 && ib.pos == ib.size)
			return 0;
		if (r == 0)
			continue; /* end of a frame; the next one follows */
		if (ib.pos == ib.size && ob.pos < ob.size)
			return fail(reason, "zstd: truncated frame", VS_CODEC_ECORRUPT);
		if (ib.pos == before && ob.pos == 0)
			return fail(reason, "zstd: frame makes no progress", VS_CODEC_ECORRUPT);
	}
}

static int zstd_compress(vs_codec_ctx *c, const uint8_t *in, size_t len, vs_wbuf *out)
{
	if (!c->zstd_c) {
		c->zstd_c = ZSTD_createCCtx();
		if (!c->zstd_c)
			return VS_CODEC_ENOMEM;
	}
	size_t bound = ZSTD_compressBound(len);
	uint8_t *dst = vs_w_reserve(out, bound);
	if (!dst)
		return VS_CODEC_ENOMEM;
	size_t r = ZSTD_compress2(c->zstd_c, dst, bound, in, len);
	if (ZSTD_isError(r)) {
		out->len -= bound;
		return VS_CODEC_ENOMEM;
	}
	out->len -= bound - r;
	return 0;
}

/* ---- entry points ---------------------------------------------------------- */

int vs_decompress(vs_codec_ctx *c, int codec, const void *in, size_t len, size_t max_out,
		  vs_wbuf *out, const char **reason)
{
	sink s = { out, out->len, max_out };
	int rc;
	if (reason)
		*reason = NULL;
	if (out->err)
		return fail(reason, "output buffer in error", VS_CODEC_ENOMEM);
	switch (codec) {
	case VS_CODEC_GZIP: rc = gz_decompress(c, in, len, &s, reason); break;
	case VS_CODEC_SNAPPY: rc = snappy_decompress(in, len, &s, reason); break;
	case VS_CODEC_LZ4: rc = lz4_decompress(c, in, len, &s, reason); break;
	case VS_CODEC_ZSTD: rc = zstd_decompress(c, in, len, &s, reason); break;
	default: rc = fail(reason, "unknown compression codec", VS_CODEC_EUNKNOWN); break;
	}
	if (rc) {
		out->len = s.start;
		if (out->err == VS_KBUF_NOMEM)
			out->err = 0; /* the failed growth left the old buffer intact */
	}
	return rc;
}

int vs_compress(vs_codec_ctx *c, int codec, const void *in, size_t len, vs_wbuf *out)
{
	size_t start = out->len;
	int rc;
	if (out->err)
		return VS_CODEC_ENOMEM;
	if (len > MAX_COMPRESS_INPUT)
		return VS_CODEC_ELIMIT;
	switch (codec) {
	case VS_CODEC_GZIP: rc = gz_compress(c, in, len, out); break;
	case VS_CODEC_SNAPPY: rc = snappy_compress_xerial(in, len, out); break;
	case VS_CODEC_SNAPPY_RAW: rc = snappy_compress_raw(in, len, out); break;
	case VS_CODEC_LZ4: rc = lz4_compress(c, in, len, out); break;
	case VS_CODEC_ZSTD: rc = zstd_compress(c, in, len, out); break;
	default: rc = VS_CODEC_EUNKNOWN; break;
	}
	if (rc && !out->err)
		out->len = start;
	return rc;
}
