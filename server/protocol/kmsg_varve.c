/* SPDX-License-Identifier: MIT */
/*
 * kmsg_varve.c -- the walkers (kio.h) of varve's own APIs, which only
 * varve's tools send (kproto.h keeps them out of ApiVersions): VarveClean.
 * Written like Kafka's messages, so the same codecs, limits and tests
 * apply; non-flexible, version 0 only.
 */
#include "kio.h"

/* ---- VarveClean ---------------------------------------------------------- */

void vs_walk_varve_clean_request(vs_io *io, vs_varve_clean_request *m)
{
	vs_io_bool(io, &m->force);
	vs_io_tags(io);
}

void vs_walk_varve_clean_response(vs_io *io, vs_varve_clean_response *m)
{
	vs_io_i32(io, &m->throttle_time_ms);
	vs_io_i16(io, &m->error_code);
	vs_io_nstr(io, &m->error_message);
	vs_io_i64(io, &m->segments_deleted);
	vs_io_i64(io, &m->compactions);
	vs_io_i64(io, &m->records_dropped);
	vs_io_i64(io, &m->bytes_reclaimed);
	vs_io_tags(io);
}
