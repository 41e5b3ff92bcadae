/* SPDX-License-Identifier: MIT */
/*
 * kio.h -- internal to server/protocol: the walker the message codecs are
 * written with. Each message has one walk function that visits its fields
 * in wire order; the same function decodes (io->r set: fields are read
 * into the struct) or encodes (io->w set: fields are written from it), so
 * the two directions cannot disagree about layout or versions.
 *
 * Invariants the walk functions keep:
 *   - When encoding, nothing is written into the message: the public
 *     encoders take const pointers and cast the const away for the walk.
 *   - A field absent in the version being walked is skipped; when
 *     decoding it takes Kafka's default: zero from the zeroed struct, or
 *     VS_IO_DEFAULT for other values.
 *   - Flexible versions (io->flex) use compact strings, bytes and arrays
 *     and end every structure with a tagged-field section (vs_io_tags);
 *     unknown tags are skipped on decode, nothing is tagged on encode
 *     unless the walk function handles that tag itself.
 *   - Arrays go through VS_IO_ARRAY: the count is bounded by the bytes
 *     left (at min_elem bytes an element, a true lower bound of the
 *     element's encoding) and the elements come from the arena, so a
 *     lying count fails before it allocates.
 * Errors are sticky (kbuf's err, or io->err for the arena); the walk
 * goes on doing nothing, and the caller checks vs_io_failed at the end.
 */
#ifndef VS_KIO_H
#define VS_KIO_H

#include <stdbool.h>
#include <stdint.h>

#include "karena.h"
#include "kbuf.h"
#include "kmsg.h"

typedef struct vs_io {
	vs_rbuf *r;      /* decoding: the input; NULL when encoding */
	vs_wbuf *w;      /* encoding: the output; NULL when decoding */
	vs_arena *arena; /* decoding: where arrays are allocated */
	int16_t version;
	bool flex;
	int err; /* VS_KBUF_* from the arena (LIMIT, NOMEM) or a bad count */
} vs_io;

static inline bool vs_io_reading(const vs_io *io) { return io->r != NULL; }

static inline bool vs_io_failed(const vs_io *io)
{
	return io->err || (io->r ? io->r->err : io->w->err);
}

/* The default of a STRING field absent in a version: "", not null. */
#define VS_IO_EMPTY ((vs_slice){ (const uint8_t *)"", 0 })

/* Decoding only: give a field absent in this version its default. */
#define VS_IO_DEFAULT(io, lvalue, value)        \
	do {                                    \
		if (vs_io_reading(io))          \
			(lvalue) = (value);     \
	} while (0)

void vs_io_i8(vs_io *io, int8_t *v);
void vs_io_i16(vs_io *io, int16_t *v);
void vs_io_i32(vs_io *io, int32_t *v);
void vs_io_i64(vs_io *io, int64_t *v);
/* BOOLEAN: any non-zero byte decodes as true (as Kafka reads it). */
void vs_io_bool(vs_io *io, bool *v);
/* STRING: null is malformed on decode; a NULL slice encodes as "". */
void vs_io_str(vs_io *io, vs_slice *s);
/* NULLABLE_STRING: a NULL slice is null both ways. */
void vs_io_nstr(vs_io *io, vs_slice *s);
/* BYTES (null is malformed on decode; NULL encodes as empty) and
 * NULLABLE_BYTES. */
void vs_io_bytes(vs_io *io, vs_slice *s);
void vs_io_nbytes(vs_io *io, vs_slice *s);
/* RECORDS as a request carries them: nullable bytes both ways. */
void vs_io_records(vs_io *io, vs_slice *s);
/* RECORDS as a response carries them: a NULL slice is written as empty,
 * never null (what Kafka's broker sends; some clients choke on null). */
void vs_io_records_out(vs_io *io, vs_slice *s);
/* The tagged-field section of a structure with no known tags (flexible
 * versions only; nothing otherwise). */
void vs_io_tags(vs_io *io);

/*
 * The count of an array, read or written. Returns true when there are
 * elements to walk. Decoding: *n is set (-1 for null, only where nullable:
 * a null count of a non-nullable array is malformed). Encoding: a negative
 * *n is written as null when nullable, as an empty array otherwise; a
 * positive *n with elems == NULL is an error.
 */
bool vs_io_count(vs_io *io, int32_t *n, const void *elems, size_t min_elem, bool nullable);
/* Decoding: room for *n elements of elem_size from the arena; on failure
 * io->err is set, *n becomes 0 and NULL is returned. */
void *vs_io_alloc(vs_io *io, int32_t *n, size_t elem_size);

/* Walk an array field `arr` (a VS_ARRAY) with fn(io, &element). min_elem
 * must be a constant: the element's struct may not be more than
 * VS_ELEM_RATIO times larger (kmsg.h, VS_ARENA_BUDGET). */
#define VS_IO_ARRAY(io, arr, min_elem, nullable, fn)                                           \
	do {                                                                                   \
		_Static_assert(sizeof *(arr).v <= VS_ELEM_RATIO * (min_elem),                  \
			       "an element outgrows VS_ARENA_BUDGET: check min_elem");         \
		if (vs_io_count((io), &(arr).n, (arr).v, (min_elem), (nullable))) {            \
			if (vs_io_reading(io))                                                 \
				(arr).v = vs_io_alloc((io), &(arr).n, sizeof *(arr).v);        \
			for (int32_t vs_i_ = 0; vs_i_ < (arr).n && !vs_io_failed(io); vs_i_++) \
				fn((io), &(arr).v[vs_i_]);                                     \
		}                                                                              \
	} while (0)

/* Minimum encoded sizes of variable-length fields, in any version: a
 * compact length is one byte. Element minimums add these to the widths
 * of the fixed fields present in every version of the API's range. */
#define VS_MIN_VAR 1

/* One walk function per message, by API (kmsg_*.c). */
#define VS_WALKERS(X)                                                                      \
	X(produce, PRODUCE)                                                                \
	X(fetch, FETCH)                                                                    \
	X(list_offsets, LIST_OFFSETS)                                                      \
	X(metadata, METADATA)                                                              \
	X(offset_commit, OFFSET_COMMIT)                                                    \
	X(offset_fetch, OFFSET_FETCH)                                                      \
	X(find_coordinator, FIND_COORDINATOR)                                              \
	X(join_group, JOIN_GROUP)                                                          \
	X(heartbeat, HEARTBEAT)                                                            \
	X(leave_group, LEAVE_GROUP)                                                        \
	X(sync_group, SYNC_GROUP)                                                          \
	X(describe_groups, DESCRIBE_GROUPS)                                                \
	X(list_groups, LIST_GROUPS)                                                        \
	X(sasl_handshake, SASL_HANDSHAKE)                                                  \
	X(api_versions, API_VERSIONS)                                                      \
	X(create_topics, CREATE_TOPICS)                                                    \
	X(delete_topics, DELETE_TOPICS)                                                    \
	X(delete_records, DELETE_RECORDS)                                                  \
	X(init_producer_id, INIT_PRODUCER_ID)                                              \
	X(describe_acls, DESCRIBE_ACLS)                                                    \
	X(create_acls, CREATE_ACLS)                                                        \
	X(delete_acls, DELETE_ACLS)                                                        \
	X(describe_configs, DESCRIBE_CONFIGS)                                              \
	X(alter_configs, ALTER_CONFIGS)                                                    \
	X(sasl_authenticate, SASL_AUTHENTICATE)                                            \
	X(create_partitions, CREATE_PARTITIONS)                                            \
	X(delete_groups, DELETE_GROUPS)                                                    \
	X(incremental_alter_configs, INCREMENTAL_ALTER_CONFIGS)                            \
	X(varve_clean, VARVE_CLEAN)

#define VS_DECLARE_WALKERS(name, KEY)                                 \
	void vs_walk_##name##_request(vs_io *io, vs_##name##_request *m); \
	void vs_walk_##name##_response(vs_io *io, vs_##name##_response *m);
VS_WALKERS(VS_DECLARE_WALKERS)
#undef VS_DECLARE_WALKERS

#endif
