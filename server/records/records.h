/* SPDX-License-Identifier: MIT */
/*
 * records.h -- Kafka record batches (magic 2) <-> varve records.
 *
 * Wire layout of one batch (all big-endian; "CRC" is CRC-32C over bytes
 * 21..end, i.e. from the attributes on):
 *
 *    0 base offset i64          27 base timestamp i64
 *    8 batch length i32         35 max timestamp i64
 *      (bytes after this field) 43 producer id i64
 *   12 partition leader epoch   51 producer epoch i16
 *   16 magic i8 (= 2)           53 base sequence i32
 *   17 CRC u32                  57 record count i32
 *   21 attributes i16           61 records (compressed as one stream when
 *   23 last offset delta i32       the codec is not none)
 *
 * attributes: bits 0-2 codec (codec.h), bit 3 timestamp type (1 = log
 * append time), bit 4 transactional, bit 5 control. Each record:
 * length varint, attributes i8, timestamp delta varlong, offset delta
 * varint, key (varint length, -1 = null), value (same), header count
 * varint, then per header a key (varint length, never null) and a value
 * (varint length, -1 = null). Varints are zigzag.
 *
 * DECODING a Produce request's records (vs_records_decode) is all or
 * nothing: the whole byte string must be a sequence of valid batches, or
 * the call fails with a Kafka error code (kerrors.h) and a reason string.
 * The rules and the codes:
 *
 *   KE_CORRUPT_MESSAGE              structure: a truncated or short batch,
 *                                   batch length below the header size,
 *                                   CRC-32C mismatch, a magic other than
 *                                   0/1/2, a corrupt compressed stream, a
 *                                   record count that the records present
 *                                   do not match, a record whose length
 *                                   does not match its fields, malformed
 *                                   varints or lengths, bytes after the
 *                                   last batch
 *   KE_UNSUPPORTED_FOR_MESSAGE_FORMAT  magic 0 or 1 (the legacy message
 *                                   sets; this broker speaks magic 2 only)
 *   KE_UNSUPPORTED_COMPRESSION_TYPE codec 5..7
 *   KE_INVALID_RECORD               record count 0 or negative, last offset
 *                                   delta not count - 1, offset deltas not
 *                                   0, 1, ..., n - 1 in order, a null
 *                                   header key, more headers on one record
 *                                   than the store takes, a control batch
 *                                   (Kafka answers clients that write
 *                                   control batches the same way)
 *   KE_INVALID_TXN_STATE            a transactional batch: the broker has
 *                                   no transactions, so no transaction can
 *                                   be in a state that allows one (Kafka
 *                                   answers a transactional write outside
 *                                   an ongoing transaction the same way)
 *   KE_INVALID_TIMESTAMP            base timestamp + delta overflows int64
 *   KE_MESSAGE_TOO_LARGE            one batch over max_batch_bytes on the
 *                                   wire, or over max_inflated_batch_bytes
 *                                   once decompressed
 *   KE_RECORD_LIST_TOO_LARGE        the call's totals over max_total_*,
 *                                   max_records or max_headers
 *   KE_UNKNOWN_SERVER_ERROR         out of memory
 *
 * Empty input (no batch at all) decodes to zero batches; whether that is
 * an error is the caller's policy, as is the number of batches (several
 * are accepted; Kafka's own broker wants exactly one per partition from a
 * client).
 * Which codecs a Produce version allows (zstd needs v7) and whether a
 * producer id is acceptable are the caller's policy too: the decoded
 * batches carry codec and producer fields.
 *
 * Decoded records point into the request bytes (uncompressed batches) or
 * into the decoder's decompression buffer; both must stay untouched, and
 * everything is valid until the next decode call or vs_records_decoder_free.
 * Each record has timestamp = base timestamp + delta, partition = -1
 * (VARVE_PARTITION_ANY), offset = its offset delta (0..n-1), flags 0, and
 * headers in a varve_header array (value NULL = null header value). An
 * empty non-null key or value has a non-NULL pointer.
 *
 * ENCODING (vs_records_encode) builds one batch from varve records read
 * back from the store, for a Fetch response; see the function.
 *
 * Memory: the decoder keeps its buffers between calls (no malloc per batch
 * in steady state); vs_records_decoder_trim gives back big ones. Nothing in
 * here prints, aborts or keeps global state besides the CRC tables.
 */
#ifndef VS_RECORDS_H
#define VS_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "varve.h"

#include "protocol/kbuf.h"
#include "records/codec.h"

#define VS_BATCH_HEADER_SIZE 61
/* Batch length counts the bytes after the length field. */
#define VS_BATCH_LENGTH_OVERHEAD 12
#define VS_BATCH_MAGIC 2

#define VS_ATTR_CODEC_MASK 0x07
#define VS_ATTR_LOG_APPEND_TIME 0x08
#define VS_ATTR_TRANSACTIONAL 0x10
#define VS_ATTR_CONTROL 0x20

/* The store's own cap on headers per record (VV_MAX_HEADERS_PER_RECORD). */
#define VS_RECORDS_MAX_HEADERS_PER_RECORD 65535

/* One decoded batch: its header fields and its records. */
typedef struct vs_batch {
	int64_t base_offset;
	int32_t partition_leader_epoch;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
	/* derived from the above */
	int codec;           /* VS_CODEC_*, attributes & 7 */
	int log_append_time; /* attributes bit 3 */
	size_t wire_size;    /* bytes of the batch in the request */
	size_t records_size; /* bytes of its records, after decompression */
	varve_record *records; /* record_count of them */
} vs_batch;

typedef struct vs_records_limits {
	size_t max_batch_bytes;          /* one batch on the wire; KE_MESSAGE_TOO_LARGE */
	size_t max_inflated_batch_bytes; /* one batch's records decompressed; same */
	size_t max_total_inflated_bytes; /* all batches decompressed; KE_RECORD_LIST_TOO_LARGE */
	size_t max_records;              /* records in one call; KE_RECORD_LIST_TOO_LARGE */
	size_t max_headers;              /* headers in one call; KE_RECORD_LIST_TOO_LARGE */
} vs_records_limits;

/* Defaults: a batch may be 1 MiB + 12 on the wire (Kafka's
 * message.max.bytes, 1048588) and 64 MiB decompressed (the store's default
 * max_record_bytes); 64 MiB decompressed per call; 1 Mi records and 1 Mi
 * headers per call (about 80 and 32 MiB of arrays at most). */
#define VS_RECORDS_LIMITS_DEFAULT \
	{ 1048588, (size_t)64 << 20, (size_t)64 << 20, (size_t)1 << 20, (size_t)1 << 20 }

typedef struct vs_records_decoder {
	vs_records_limits limits;
	vs_codec_ctx codec;
	vs_wbuf inflated;      /* decompressed records of every batch of a call */
	vs_batch *batches;
	size_t batches_cap;
	size_t *inflated_at;   /* per batch: offset into `inflated`, or SIZE_MAX */
	varve_record *records;
	size_t records_cap;
	varve_header *headers;
	size_t headers_cap;
	char reason[192];
} vs_records_decoder;

/* The result of one decode: arrays owned by the decoder. */
typedef struct vs_decoded {
	const vs_batch *batches;
	size_t batch_count;
	varve_record *records; /* every record of every batch, in order */
	size_t record_count;
} vs_decoded;

/* limits may be NULL for VS_RECORDS_LIMITS_DEFAULT. */
void vs_records_decoder_init(vs_records_decoder *d, const vs_records_limits *limits);
void vs_records_decoder_free(vs_records_decoder *d);
/* Free any buffer above keep_bytes, and the compression libraries'
 * contexts (which keep window buffers: zstd up to 16 MiB). The next decode
 * allocates again. For an idle connection. */
void vs_records_decoder_trim(vs_records_decoder *d, size_t keep_bytes);

/*
 * Decode one partition's `records` bytes of a Produce request. Returns
 * KE_NONE and fills *out, or a KE_* code (see above) with *out zeroed and a
 * one-line reason in d->reason (also returned by vs_records_reason).
 */
int vs_records_decode(vs_records_decoder *d, const uint8_t *buf, size_t len, vs_decoded *out);
const char *vs_records_reason(const vs_records_decoder *d);

/* Batch-level parameters of an encoded batch. */
typedef struct vs_batch_params {
	int codec;                      /* VS_CODEC_*; Fetch uses NONE or LZ4 */
	int log_append_time;            /* 1: timestamp type log-append-time */
	int64_t append_time;            /* max timestamp when log_append_time */
	int64_t producer_id;            /* -1: none */
	int16_t producer_epoch;         /* -1: none */
	int32_t base_sequence;          /* -1: none */
	int32_t partition_leader_epoch; /* 0 for this single-node broker */
} vs_batch_params;

#define VS_BATCH_PARAMS_INIT { VS_CODEC_NONE, 0, -1, -1, -1, -1, 0 }

typedef struct vs_records_encoder {
	vs_codec_ctx codec;
	vs_wbuf plain; /* records before compression */
} vs_records_encoder;

void vs_records_encoder_init(vs_records_encoder *e);
void vs_records_encoder_free(vs_records_encoder *e);

enum vs_records_encode_err {
	VS_RECORDS_EINVAL = -1, /* bad arguments: see vs_records_encode */
	VS_RECORDS_ENOMEM = -2
};

/*
 * Append one batch holding recs[0, n) to out. The base offset is
 * recs[0].offset and each record's offset delta is its offset minus that
 * (offsets must increase, gaps allowed as compaction leaves them; the last
 * delta must fit in int32); the record count is n and the last offset
 * delta comes from the last record. The base timestamp is the first
 * record's; the max timestamp is the largest record timestamp, or
 * p->append_time with log_append_time (attribute bit 3). Header keys
 * NULL are written as empty strings. p may be NULL (VS_BATCH_PARAMS_INIT).
 * Returns 0, VS_RECORDS_EINVAL (n == 0, offsets not increasing or out of
 * range, timestamp deltas that overflow, an unknown codec, lengths over
 * INT32_MAX) or VS_RECORDS_ENOMEM; on failure out->len is unchanged.
 */
int vs_records_encode(vs_records_encoder *e, vs_wbuf *out, const varve_record *recs, size_t n,
		      const vs_batch_params *p);

#endif
