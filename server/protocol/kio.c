/* SPDX-License-Identifier: MIT */
/*
 * kio.c -- the field visitors the message walkers are written with (see
 * kio.h): each reads into or writes from one field, with the flexible
 * (compact) or classic encoding the walk's version calls for. Only kbuf
 * touches bytes; only vs_io_alloc touches the arena.
 */
#include "kio.h"

void vs_io_i8(vs_io *io, int8_t *v)
{
	if (io->r)
		*v = vs_r_i8(io->r);
	else
		vs_w_i8(io->w, *v);
}

void vs_io_i16(vs_io *io, int16_t *v)
{
	if (io->r)
		*v = vs_r_i16(io->r);
	else
		vs_w_i16(io->w, *v);
}

void vs_io_i32(vs_io *io, int32_t *v)
{
	if (io->r)
		*v = vs_r_i32(io->r);
	else
		vs_w_i32(io->w, *v);
}

void vs_io_i64(vs_io *io, int64_t *v)
{
	if (io->r)
		*v = vs_r_i64(io->r);
	else
		vs_w_i64(io->w, *v);
}

void vs_io_bool(vs_io *io, bool *v)
{
	if (io->r)
		*v = vs_r_i8(io->r) != 0;
	else
		vs_w_i8(io->w, *v ? 1 : 0);
}

void vs_io_str(vs_io *io, vs_slice *s)
{
	if (io->r)
		*s = vs_r_string(io->r, io->flex);
	else
		vs_w_string(io->w, io->flex, s->ptr, s->ptr ? s->len : 0);
}

void vs_io_nstr(vs_io *io, vs_slice *s)
{
	if (io->r)
		*s = vs_r_nstring(io->r, io->flex, NULL);
	else
		vs_w_nstring(io->w, io->flex, s->ptr, s->len);
}

void vs_io_bytes(vs_io *io, vs_slice *s)
{
	if (io->r)
		*s = vs_r_bytes(io->r, io->flex);
	else
		vs_w_bytes(io->w, io->flex, s->ptr, s->ptr ? s->len : 0);
}

void vs_io_nbytes(vs_io *io, vs_slice *s)
{
	if (io->r)
		*s = vs_r_nbytes(io->r, io->flex, NULL);
	else
		vs_w_nbytes(io->w, io->flex, s->ptr, s->len);
}

void vs_io_records(vs_io *io, vs_slice *s) { vs_io_nbytes(io, s); }

void vs_io_records_out(vs_io *io, vs_slice *s)
{
	if (io->r)
		*s = vs_r_nbytes(io->r, io->flex, NULL);
	else
		vs_w_bytes(io->w, io->flex, s->ptr, s->ptr ? s->len : 0);
}

void vs_io_tags(vs_io *io)
{
	if (!io->flex)
		return;
	if (io->r)
		vs_r_skip_tags(io->r);
	else
		vs_w_empty_tags(io->w);
}

bool vs_io_count(vs_io *io, int32_t *n, const void *elems, size_t min_elem, bool nullable)
{
	if (vs_io_failed(io)) {
		if (io->r)
			*n = 0;
		return false;
	}
	if (io->r) {
		*n = vs_r_array(io->r, io->flex, min_elem);
		if (*n < 0 && !nullable) {
			io->r->err = VS_KBUF_MALFORMED;
			*n = 0;
		}
		return *n > 0 && !io->r->err;
	}
	if (*n > 0 && !elems) {
		io->err = VS_KBUF_MALFORMED; /* a count with nothing behind it */
		return false;
	}
	vs_w_array(io->w, io->flex, *n < 0 ? (nullable ? -1 : 0) : *n);
	return *n > 0;
}

void *vs_io_alloc(vs_io *io, int32_t *n, size_t elem_size)
{
	void *p = vs_arena_alloc(io->arena, (size_t)*n, elem_size);
	if (!p) {
		io->err = io->arena->err ? io->arena->err : VS_KBUF_NOMEM;
		*n = 0;
	}
	return p;
}
