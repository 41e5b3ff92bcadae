/* SPDX-License-Identifier: MIT */
/*
 * kbuf.h -- Kafka's primitive types on the wire: a bounds-checked reader and
 * a growable writer. Everything the broker parses or builds goes through
 * these two, so no handler ever touches raw bytes.
 *
 * Types (Kafka protocol guide, "Protocol Primitive Types"), all big-endian:
 *   INT8 INT16 INT32 INT64 UINT32      fixed width
 *   VARINT VARLONG                     zigzag, LEB128 (records)
 *   UNSIGNED_VARINT                    LEB128 (flexible versions)
 *   STRING / NULLABLE_STRING           INT16 length (-1 = null) + bytes
 *   COMPACT_[NULLABLE_]STRING          UNSIGNED_VARINT length + 1 (0 = null)
 *   BYTES / COMPACT_BYTES              INT32 / UNSIGNED_VARINT + 1 length
 *   ARRAY / COMPACT_ARRAY              INT32 count (-1 = null) / UVARINT + 1
 *   UUID                               16 bytes
 *   TAGGED_FIELDS                      UVARINT count, then (tag, size, bytes)
 *
 * The reader has a sticky error: once a read runs past the end or meets a
 * malformed value, every later read returns zero/empty and `err` stays set,
 * so a decoder reads a whole structure and checks once at the end. Strings
 * and byte fields are returned as slices into the input, never copied.
 *
 * The writer grows its buffer as needed; an allocation failure (or a value
 * that does not fit its type) sets the sticky `err` and later writes do
 * nothing. Sizes can be reserved and patched once known (frame lengths,
 * batch lengths, CRCs).
 */
#ifndef VS_KBUF_H
#define VS_KBUF_H

#include <stddef.h>
#include <stdint.h>

/* A borrowed run of bytes; ptr == NULL with len == 0 means "null". */
typedef struct vs_slice {
	const uint8_t *ptr;
	size_t len;
} vs_slice;

#define VS_SLICE_NULL ((vs_slice){ NULL, 0 })

/* 1 if s equals the NUL-terminated string z. */
int vs_slice_eq(vs_slice s, const char *z);
/* Copy into a NUL-terminated buffer of cap bytes; 0 if it fits (and holds
 * no NUL byte), -1 otherwise (out is then ""). */
int vs_slice_cstr(vs_slice s, char *out, size_t cap);

enum vs_kbuf_err {
	VS_KBUF_OK = 0,
	VS_KBUF_SHORT = 1,     /* ran past the end of the input */
	VS_KBUF_MALFORMED = 2, /* a length below -1, an overlong varint, ... */
	VS_KBUF_NOMEM = 3,     /* writer: allocation failed */
	VS_KBUF_LIMIT = 4      /* reader: an array or field longer than allowed */
};

typedef struct vs_rbuf {
	const uint8_t *p, *end;
	int err;
} vs_rbuf;

static inline void vs_rbuf_init(vs_rbuf *r, const void *buf, size_t len)
{
	/* an empty input may come as NULL: point at a real byte instead, as
	 * NULL + 0 (and later NULL - NULL) is undefined behaviour */
	static const uint8_t nothing;
	if (!buf) {
		buf = &nothing;
		len = 0;
	}
	r->p = buf;
	r->end = (const uint8_t *)buf + len;
	r->err = 0;
}
static inline size_t vs_rbuf_left(const vs_rbuf *r) { return r->err ? 0 : (size_t)(r->end - r->p); }

int8_t vs_r_i8(vs_rbuf *r);
int16_t vs_r_i16(vs_rbuf *r);
int32_t vs_r_i32(vs_rbuf *r);
int64_t vs_r_i64(vs_rbuf *r);
uint32_t vs_r_u32(vs_rbuf *r);
/* Zigzag varints (record fields). */
int32_t vs_r_varint(vs_rbuf *r);
int64_t vs_r_varlong(vs_rbuf *r);
/* Unsigned LEB128 of at most 5 bytes (flexible-version lengths, tags). */
uint32_t vs_r_uvarint(vs_rbuf *r);
void vs_r_uuid(vs_rbuf *r, uint8_t out[16]);
/* n raw bytes as a slice. */
vs_slice vs_r_raw(vs_rbuf *r, size_t n);

/* STRING / NULLABLE_STRING, or their COMPACT forms when compact != 0.
 * A null string reads as VS_SLICE_NULL; *is_null (may be NULL) tells it
 * apart from "". A null where the type does not allow one is MALFORMED. */
vs_slice vs_r_string(vs_rbuf *r, int compact);
vs_slice vs_r_nstring(vs_rbuf *r, int compact, int *is_null);
/* BYTES / NULLABLE_BYTES (INT32 length) or COMPACT_[NULLABLE_]BYTES. */
vs_slice vs_r_bytes(vs_rbuf *r, int compact);
vs_slice vs_r_nbytes(vs_rbuf *r, int compact, int *is_null);
/* Array count: -1 for a null array. A count larger than the bytes left
 * could hold at min_elem_size bytes each is MALFORMED, so a lying count
 * never drives a large allocation. */
int32_t vs_r_array(vs_rbuf *r, int compact, size_t min_elem_size);
/* Skip a TAGGED_FIELDS section (flexible versions). */
void vs_r_skip_tags(vs_rbuf *r);

typedef struct vs_wbuf {
	uint8_t *buf;
	size_t len, cap;
	int err;
} vs_wbuf;

void vs_wbuf_init(vs_wbuf *w);
void vs_wbuf_free(vs_wbuf *w);
/* Keep the allocation, forget the contents and the error. */
void vs_wbuf_reset(vs_wbuf *w);
/* Make room for n more bytes; returns a pointer to them (advancing len),
 * or NULL once err is set. */
uint8_t *vs_w_reserve(vs_wbuf *w, size_t n);
/* Hand the buffer to the caller (free() it); the writer is reset to empty. */
uint8_t *vs_wbuf_take(vs_wbuf *w, size_t *len);

void vs_w_i8(vs_wbuf *w, int8_t v);
void vs_w_i16(vs_wbuf *w, int16_t v);
void vs_w_i32(vs_wbuf *w, int32_t v);
void vs_w_i64(vs_wbuf *w, int64_t v);
void vs_w_u32(vs_wbuf *w, uint32_t v);
void vs_w_varint(vs_wbuf *w, int32_t v);
void vs_w_varlong(vs_wbuf *w, int64_t v);
void vs_w_uvarint(vs_wbuf *w, uint32_t v);
void vs_w_uuid(vs_wbuf *w, const uint8_t v[16]);
void vs_w_raw(vs_wbuf *w, const void *p, size_t n);
/* STRING (or COMPACT_STRING) of n bytes; NULLABLE forms write null for
 * p == NULL. Lengths that do not fit the type set err. */
void vs_w_string(vs_wbuf *w, int compact, const void *p, size_t n);
void vs_w_nstring(vs_wbuf *w, int compact, const void *p, size_t n);
void vs_w_cstr(vs_wbuf *w, int compact, const char *z); /* NULL = null */
void vs_w_bytes(vs_wbuf *w, int compact, const void *p, size_t n);
void vs_w_nbytes(vs_wbuf *w, int compact, const void *p, size_t n);
/* Array count (-1 = null). */
void vs_w_array(vs_wbuf *w, int compact, int32_t n);
/* An empty TAGGED_FIELDS section. */
void vs_w_empty_tags(vs_wbuf *w);

/* Reserve a big-endian INT32 to patch later; returns its position. */
size_t vs_w_hole32(vs_wbuf *w);
void vs_w_patch32(vs_wbuf *w, size_t at, uint32_t v);

/* Big-endian loads and stores for code that lays out fixed headers. */
static inline uint16_t vs_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t vs_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t vs_be64(const uint8_t *p) { return (uint64_t)vs_be32(p) << 32 | vs_be32(p + 4); }
static inline void vs_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void vs_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void vs_put_be64(uint8_t *p, uint64_t v)
{
	vs_put_be32(p, (uint32_t)(v >> 32));
	vs_put_be32(p + 4, (uint32_t)v);
}

#endif
