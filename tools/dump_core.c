/* SPDX-License-Identifier: MIT */
/*
 * dump_core.c -- parse and print varve's files: log segments, the metadata
 * log, offset and time indexes, recovery points (see dump_core.h).
 *
 * Rules: every read goes through dump_src with off + n <= size checked
 * first; a batch is believed only up to min(file size, max_batch); damage
 * is reported once, with the file and byte position, and the walk goes on
 * at the next batch that passes its checks (magic, header, checksum):
 * nothing in a damaged batch, its length and offsets included, is trusted,
 * so one flipped byte is one report, not one per later batch.
 * Text encodings (JSON strings, base64, escaped text) are encode.h's.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dump_core.h"
#include "encode.h"

#include "batch.h"
#include "index.h"
#include "meta.h"
#include "topic.h"
#include "util.h"

/* ---- sources ------------------------------------------------------------ */

typedef struct mem_src {
	const uint8_t *data;
} mem_src;

static const uint8_t *mem_get(dump_src *s, uint64_t off, size_t n)
{
	if (off > s->size || n > s->size - off)
		return NULL;
	return ((const uint8_t *)s->ctx) + off;
}

void dump_src_mem(dump_src *s, const uint8_t *data, size_t n)
{
	static const uint8_t empty[1];
	s->size = n;
	s->shrank = 0;
	s->settle = NULL;
	s->get = mem_get;
	s->ctx = (void *)(uintptr_t)(data ? data : empty);
}

/* ---- context, damage, messages ------------------------------------------ */

void dump_ctx_init(dump_ctx *c, const dump_opts *o, FILE *out)
{
	memset(c, 0, sizeof *c);
	c->o = o;
	c->out = out;
	c->max_batch = o->max_batch ? o->max_batch : DUMP_MAX_BATCH_DEFAULT;
}

void dump_ctx_free(dump_ctx *c)
{
	vv_free(c->scratch);
	vv_free(c->hdrs);
	c->scratch = NULL;
	c->hdrs = NULL;
	c->scratch_cap = c->hcap = 0;
}

void dump_log_info_free(dump_log_info *li)
{
	free(li->b);
	memset(li, 0, sizeof *li);
}

void dump_json_str(FILE *out, const char *s)
{
	enc_json_string(out, s, strlen(s));
}

void dump_text_str(FILE *out, const char *s)
{
	enc_text(out, s, strlen(s));
}

void dump_damage(dump_ctx *c, const char *file, uint64_t pos, const char *fmt, ...)
{
	char reason[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (c->damage_count++ == 0) {
		snprintf(c->first_file, sizeof c->first_file, "%s", file);
		c->first_pos = pos;
		snprintf(c->first_reason, sizeof c->first_reason, "%s", reason);
	}
	if (c->o->json) {
		fputs("{\"type\":\"damage\",\"file\":", c->out);
		dump_json_str(c->out, file);
		fprintf(c->out, ",\"position\":%" PRIu64 ",\"reason\":", pos);
		dump_json_str(c->out, reason);
		fputs("}\n", c->out);
	} else {
		fputs("DAMAGE ", c->out);
		dump_text_str(c->out, file);
		fprintf(c->out, " at position %" PRIu64 ": ", pos);
		dump_text_str(c->out, reason);
		fputc('\n', c->out);
	}
}

void dump_error(dump_ctx *c, const char *file, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->errors++;
	fflush(c->out);
	fputs("varve-dump: ", stderr);
	dump_text_str(stderr, file);
	fputs(": ", stderr);
	dump_text_str(stderr, msg);
	fputc('\n', stderr);
}

void dump_note(dump_ctx *c, const char *file, const char *fmt, ...)
{
	if (c->o->quiet)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->o->json) {
		fputs("{\"type\":\"note\",\"file\":", c->out);
		dump_json_str(c->out, file);
		fputs(",\"message\":", c->out);
		dump_json_str(c->out, msg);
		fputs("}\n", c->out);
	} else {
		fputs("# ", c->out);
		dump_text_str(c->out, file);
		fputs(": ", c->out);
		dump_text_str(c->out, msg);
		fputc('\n', c->out);
	}
}

/* ---- bytes ------------------------------------------------------------------ */

static void put_bytes_enc(FILE *out, int json, dump_enc enc, const void *vp, size_t n)
{
	const uint8_t *p = vp;
	if (!p) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	if (enc == DUMP_ENC_HEX) {
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%02x", p[i]);
	} else if (enc == DUMP_ENC_BASE64) {
		enc_base64(out, p, n);
	} else {
		for (size_t i = 0; i < n; i++) {
			uint8_t ch = p[i];
			if (ch == '"' || ch == '\\') {
				fputc('\\', out);
				fputc(ch, out);
			} else if (ch >= 0x20 && ch < 0x7f) {
				fputc(ch, out);
			} else if (json) {
				fprintf(out, "\\u%04x", ch);
			} else {
				fprintf(out, "\\x%02x", ch);
			}
		}
	}
	fputc('"', out);
}

void dump_print_bytes(dump_ctx *c, const void *p, size_t n)
{
	put_bytes_enc(c->out, c->o->json, c->o->enc, p, n);
}

/* Names are shown escaped whatever the encoding chosen for data. */
static void print_name(dump_ctx *c, const void *p, size_t n)
{
	put_bytes_enc(c->out, c->o->json, DUMP_ENC_ESCAPE, p, n);
}

static int showing(const dump_ctx *c) { return !c->o->quiet; }

/* ---- kinds ------------------------------------------------------------------ */

static const char *const kind_names[] = { "unknown", "log", "meta", "index", "timeindex",
					  "recovery-point" };

dump_kind dump_kind_parse(const char *s)
{
	for (int k = DUMP_KIND_LOG; k <= DUMP_KIND_RECOVERY_POINT; k++)
		if (!strcmp(s, kind_names[k]))
			return (dump_kind)k;
	return DUMP_KIND_UNKNOWN;
}

const char *dump_kind_name(dump_kind k)
{
	return (unsigned)k <= DUMP_KIND_RECOVERY_POINT ? kind_names[k] : "unknown";
}

static void print_file_header(dump_ctx *c, const dump_file *f, const char *what)
{
	c->files++;
	if (!showing(c))
		return;
	if (c->o->json) {
		fputs("{\"type\":\"file\",\"file\":", c->out);
		dump_json_str(c->out, f->path);
		fprintf(c->out, ",\"kind\":\"%s\",\"size\":%" PRIu64, dump_kind_name(f->kind),
			f->src->size);
		if (f->base >= 0)
			fprintf(c->out, ",\"segment_base\":%" PRId64, f->base);
		fputs("}\n", c->out);
	} else {
		fputs("== ", c->out);
		dump_text_str(c->out, f->path);
		fprintf(c->out, " (%s, %" PRIu64 " bytes", what, f->src->size);
		if (f->base >= 0)
			fprintf(c->out, ", base offset %" PRId64, f->base);
		fputs(")\n", c->out);
	}
}

static const uint8_t *src_get(dump_ctx *c, const dump_file *f, uint64_t off, size_t n)
{
	if (off > f->src->size || n > f->src->size - off)
		return NULL; /* never asked: callers check; kept as a guard */
	const uint8_t *p = f->src->get(f->src, off, n);
	if (!p && f->src->shrank)
		dump_error(c, f->path, "the file shrank under position %" PRIu64 " while it was read "
			   "(a writer cut it?)", off + n);
	else if (!p)
		dump_error(c, f->path, "read of %zu bytes at position %" PRIu64 " failed", n, off);
	return p;
}

/* ---- log segments ---------------------------------------------------------- */

static const char *codec_name(unsigned codec)
{
	return codec == VARVE_CODEC_NONE ? "none" : codec == VARVE_CODEC_LZ4 ? "lz4" : "unknown";
}

/* b: the whole batch, or NULL when it is torn */
static void print_batch(dump_ctx *c, const dump_file *f, uint64_t pos, const vv_batch_header *h,
			const uint8_t *b, int sum_ok)
{
	if (!showing(c))
		return;
	unsigned codec = h->attributes & VV_ATTR_CODEC_MASK;
	/* a record map (format 2): its chunk count, as the trailer says */
	char map_json[48] = "", map_text[40] = "";
	if (b && (h->attributes & VV_ATTR_RECORD_MAP)) {
		uint32_t n = vv_load32(b + h->length - VV_MAP_TRAILER_SIZE);
		snprintf(map_json, sizeof map_json, ",\"record_map_chunks\":%" PRIu32, n);
		snprintf(map_text, sizeof map_text, " record_map_chunks=%" PRIu32, n);
	}
	if (c->o->json) {
		fputs("{\"type\":\"batch\",\"file\":", c->out);
		dump_json_str(c->out, f->path);
		fprintf(c->out,
			",\"position\":%" PRIu64 ",\"base_offset\":%" PRId64 ",\"last_offset\":%" PRId64
			",\"record_count\":%" PRIu32 ",\"first_timestamp\":%" PRId64
			",\"max_timestamp\":%" PRId64 ",\"append_time\":%" PRId64
			",\"codec\":\"%s\",\"stored_size\":%" PRIu32 ",\"records_size\":%" PRIu32
			",\"producer_id\":%" PRId64 ",\"producer_epoch\":%u,\"base_sequence\":%" PRId32
			",\"checksum\":\"0x%016" PRIx64 "\",\"checksum_ok\":%s%s}\n",
			pos, h->base_offset, vv_batch_last_offset(h), h->record_count,
			h->first_timestamp, h->max_timestamp, h->append_time, codec_name(codec),
			h->length, h->records_size, h->producer_id, (unsigned)h->producer_epoch,
			h->base_sequence, h->checksum, sum_ok ? "true" : "false", map_json);
	} else {
		fprintf(c->out,
			"batch position=%" PRIu64 " base_offset=%" PRId64 " last_offset=%" PRId64
			" records=%" PRIu32 " first_timestamp=%" PRId64 " max_timestamp=%" PRId64
			" append_time=%" PRId64 " codec=%s stored_size=%" PRIu32
			" records_size=%" PRIu32 " producer_id=%" PRId64 " producer_epoch=%u"
			" base_sequence=%" PRId32 "%s checksum=0x%016" PRIx64 " %s\n",
			pos, h->base_offset, vv_batch_last_offset(h), h->record_count,
			h->first_timestamp, h->max_timestamp, h->append_time, codec_name(codec),
			h->length, h->records_size, h->producer_id, (unsigned)h->producer_epoch,
			h->base_sequence, map_text, h->checksum, sum_ok ? "ok" : "BAD");
	}
}

static void print_record(dump_ctx *c, const dump_file *f, uint64_t pos, const varve_record *r)
{
	if (!showing(c))
		return;
	if (c->o->json) {
		fputs("{\"type\":\"record\",\"file\":", c->out);
		dump_json_str(c->out, f->path);
		fprintf(c->out, ",\"batch_position\":%" PRIu64 ",\"offset\":%" PRId64
			",\"timestamp\":%" PRId64 ",\"key\":", pos, r->offset, r->timestamp);
		dump_print_bytes(c, r->key, r->key_len);
		fputs(",\"value\":", c->out);
		dump_print_bytes(c, r->value, r->value_len);
		fputs(",\"headers\":[", c->out);
		for (size_t i = 0; i < r->header_count; i++) {
			fputs(i ? ",{\"key\":" : "{\"key\":", c->out);
			dump_print_bytes(c, r->headers[i].key, r->headers[i].key_len);
			fputs(",\"value\":", c->out);
			dump_print_bytes(c, r->headers[i].value, r->headers[i].value_len);
			fputc('}', c->out);
		}
		fputs("]}\n", c->out);
	} else {
		fprintf(c->out, "  record offset=%" PRId64 " timestamp=%" PRId64 " key=", r->offset,
			r->timestamp);
		dump_print_bytes(c, r->key, r->key_len);
		fputs(" value=", c->out);
		dump_print_bytes(c, r->value, r->value_len);
		fputs(" headers=[", c->out);
		for (size_t i = 0; i < r->header_count; i++) {
			if (i)
				fputs(", ", c->out);
			dump_print_bytes(c, r->headers[i].key, r->headers[i].key_len);
			fputc('=', c->out);
			dump_print_bytes(c, r->headers[i].value, r->headers[i].value_len);
		}
		fputs("]\n", c->out);
	}
}

static const char *cleanup_name(int p)
{
	switch (p) {
	case VARVE_CLEANUP_DELETE: return "delete";
	case VARVE_CLEANUP_COMPACT: return "compact";
	case VARVE_CLEANUP_COMPACT_DELETE: return "compact,delete";
	default: return "unknown";
	}
}

static void print_topic_config(dump_ctx *c, const varve_topic_config *t, int64_t created)
{
	int json = c->o->json;
	const char *sep = json ? "," : " ";
	const char *q = json ? "\"" : "";
	const char *eq = json ? "\":" : "=";
	const char *kq = json ? "\"" : "";
#define FIELD_I(name, v) fprintf(c->out, "%s%s" name "%s%" PRId64, first ? "" : sep, kq, eq, (int64_t)(v)), first = 0
#define FIELD_S(name, v) fprintf(c->out, "%s%s" name "%s%s%s%s", first ? "" : sep, kq, eq, q, v, q), first = 0
	int first = 1;
	FIELD_I("partitions", t->partitions);
	FIELD_S("codec", codec_name((unsigned)t->codec));
	FIELD_S("cleanup_policy", cleanup_name(t->cleanup_policy));
	FIELD_I("retention_ms", t->retention_ms);
	FIELD_I("retention_bytes", t->retention_bytes);
	FIELD_I("retention_records", t->retention_records);
	FIELD_I("segment_bytes", t->segment_bytes);
	FIELD_I("segment_ms", t->segment_ms);
	FIELD_I("delete_retention_ms", t->delete_retention_ms);
	if (isfinite(t->min_cleanable_dirty_ratio))
		fprintf(c->out, "%s%smin_cleanable_dirty_ratio%s%.17g", sep, kq, eq,
			t->min_cleanable_dirty_ratio);
	else
		fprintf(c->out, "%s%smin_cleanable_dirty_ratio%snull", sep, kq, eq);
	FIELD_S("timestamp_type", t->timestamp_type == VARVE_TIMESTAMP_APPEND ? "append" : "create");
	FIELD_I("max_future_skew_ms", t->max_future_skew_ms);
	FIELD_S("partitioner",
		t->partitioner == VARVE_PARTITIONER_ROUND_ROBIN ? "round-robin" : "sticky");
	FIELD_I("dedup_window_ms", t->dedup_window_ms);
	FIELD_I("retention_hard_bytes", t->retention_hard_bytes);
	fprintf(c->out, "%s%sretain_for_groups%s", sep, kq, eq);
	if (t->retain_for_groups)
		print_name(c, t->retain_for_groups, strlen(t->retain_for_groups));
	else
		fputs("null", c->out);
	FIELD_I("created_ms", created);
#undef FIELD_I
#undef FIELD_S
}

/* A record of the metadata log. */
static void print_meta(dump_ctx *c, const dump_file *f, uint64_t pos, const varve_record *r)
{
	const uint8_t *k = r->key;
	int json = c->o->json;
	int show = showing(c);
	if (show) {
		if (json) {
			fputs("{\"type\":\"meta\",\"file\":", c->out);
			dump_json_str(c->out, f->path);
			fprintf(c->out, ",\"batch_position\":%" PRIu64 ",\"offset\":%" PRId64
				",\"timestamp\":%" PRId64, pos, r->offset, r->timestamp);
		} else {
			fprintf(c->out, "  meta offset=%" PRId64 " timestamp=%" PRId64, r->offset,
				r->timestamp);
		}
	}
	if (k && r->key_len >= 2 && k[0] == VV_META_TOPIC_CONFIG) {
		if (show) {
			fputs(json ? ",\"kind\":\"topic\",\"topic\":" : " topic ", c->out);
			print_name(c, k + 1, r->key_len - 1);
		}
		if (!r->value) {
			if (show)
				fputs(json ? ",\"deleted\":true}\n" : " deleted (tombstone)\n", c->out);
			return;
		}
		varve_topic_config cfg;
		int64_t created = 0;
		char groups[VV_MAX_RETAIN_GROUPS + 1];
		int rc = vv_topic_config_decode(r->value, r->value_len, &cfg, &created, groups);
		if (rc == 0) {
			if (show) {
				fputs(json ? ",\"config\":{" : " config: ", c->out);
				print_topic_config(c, &cfg, created);
				fputs(json ? "}}\n" : "\n", c->out);
			}
			return;
		}
		unsigned fmt = r->value_len ? ((const uint8_t *)r->value)[0] : 0;
		if (show) {
			if (json) {
				fprintf(c->out, ",\"config_error\":\"%s\",\"value\":",
					rc == VARVE_EFORMAT ? "newer format" : "does not decode");
				dump_print_bytes(c, r->value, r->value_len);
				fputs("}\n", c->out);
			} else {
				if (rc == VARVE_EFORMAT)
					fprintf(c->out, " config in format %u, newer than this tool: value=",
						fmt);
				else
					fputs(" config DOES NOT DECODE: value=", c->out);
				dump_print_bytes(c, r->value, r->value_len);
				fputc('\n', c->out);
			}
		}
		if (rc != VARVE_EFORMAT)
			dump_damage(c, f->path, pos,
				    "metadata record at offset %" PRId64
				    ": topic configuration does not decode (%zu bytes)",
				    r->offset, r->value_len);
		return;
	}
	if (!show)
		return;
	/* A kind this tool does not know (or a key too short to have one):
	 * shown raw so that newer metadata still appears. */
	if (json) {
		fputs(",\"kind\":\"unknown\",\"key_kind\":", c->out);
		if (k && r->key_len)
			print_name(c, k, 1);
		else
			fputs("null", c->out);
		fputs(",\"key\":", c->out);
		dump_print_bytes(c, r->key, r->key_len);
		fputs(",\"value\":", c->out);
		dump_print_bytes(c, r->value, r->value_len);
		fputs("}\n", c->out);
	} else {
		fputs(" kind=", c->out);
		if (k && r->key_len)
			print_name(c, k, 1);
		else
			fputs("null", c->out);
		fputs(" key=", c->out);
		dump_print_bytes(c, r->key, r->key_len);
		fputs(" value=", c->out);
		dump_print_bytes(c, r->value, r->value_len);
		fputc('\n', c->out);
	}
}

static int info_push(dump_ctx *c, const dump_file *f, dump_log_info *li, const dump_batch_info *bi)
{
	if (li->n == li->cap) {
		size_t nc = li->cap ? li->cap * 2 : 64;
		dump_batch_info *nb = realloc(li->b, nc * sizeof *nb);
		if (!nb) {
			dump_error(c, f->path, "out of memory");
			return -1;
		}
		li->b = nb;
		li->cap = nc;
	}
	li->b[li->n++] = *bi;
	return 0;
}

/* A batch's record map (format 2) must describe its records: random
 * reads trust it. 0, or 1 (damage reported unless `quiet_damage`). */
static int check_record_map(dump_ctx *c, const dump_file *f, uint64_t pos, const uint8_t *b,
			    const vv_batch_header *h, int quiet_damage)
{
	if (!(h->attributes & VV_ATTR_RECORD_MAP))
		return 0;
	/* the records decoded already: only the map is left to check */
	if (vv_batch_map_validate(b, h) == 0)
		return 0;
	if (!quiet_damage)
		dump_damage(c, f->path, pos, "the batch's record map does not match its records");
	return 1;
}

/* Decode (and print) the records of the batch at pos. Returns 0, 1 when
 * they do not decode (damage reported unless `quiet_damage`), -1 on ENOMEM. */
static int walk_records(dump_ctx *c, const dump_file *f, uint64_t pos, const uint8_t *b,
			const vv_batch_header *h, int print, int meta, int quiet_damage)
{
	/* the reader refuses an LZ4 records size the block cannot hold before
	 * it allocates anything */
	vv_record_reader rr;
	int rc = vv_record_reader_init(&rr, b, h, &c->scratch, &c->scratch_cap, c->max_batch);
	if (rc == VARVE_ENOMEM) {
		dump_error(c, f->path, "out of memory decoding the batch at position %" PRIu64, pos);
		return -1;
	}
	if (rc) {
		if (!quiet_damage)
			dump_damage(c, f->path, pos,
				    "records of the batch do not decompress (%s): %s (records size "
				    "%" PRIu32 ", %" PRIu32 " byte block)",
				    codec_name(h->attributes & VV_ATTR_CODEC_MASK),
				    rr.fault ? rr.fault : "malformed", h->records_size,
				    h->length - VV_BATCH_HEADER_SIZE);
		return 1;
	}
	uint32_t i = 0;
	for (;; i++) {
		varve_record r;
		memset(&r, 0, sizeof r);
		rc = vv_record_next(&rr, &r, (varve_header **)&c->hdrs, &c->hcap);
		if (rc == VARVE_EEND)
			return check_record_map(c, f, pos, b, h, quiet_damage);
		if (rc == VARVE_ENOMEM) {
			dump_error(c, f->path, "out of memory decoding the batch at position %" PRIu64,
				   pos);
			return -1;
		}
		if (rc) {
			if (!quiet_damage)
				dump_damage(c, f->path, pos,
					    "record %" PRIu32 " of %" PRIu32 " in the batch is malformed: %s",
					    i, h->record_count, rr.fault ? rr.fault : "does not decode");
			return 1;
		}
		c->records++;
		if (print)
			print_record(c, f, pos, &r);
		if (meta)
			print_meta(c, f, pos, &r);
	}
}

/* Are the bytes from pos to the end of the file all zero? 1 yes, 0 no, -1
 * read error. A writer keeps allocated, zeroed space ahead of the data of
 * its active segment (fallocate; trimmed at seal and close): that is not
 * damage, and recovery does not count it as such either. */
static int zero_tail(dump_ctx *c, const dump_file *f, uint64_t pos)
{
	uint64_t size = f->src->size;
	while (pos < size) {
		size_t n = size - pos < 65536 ? (size_t)(size - pos) : 65536;
		const uint8_t *p = f->src->get(f->src, pos, n);
		if (!p && f->src->shrank)
			return 1; /* the writer is trimming its preallocated space */
		if (!p)
			return src_get(c, f, pos, n) ? 0 : -1; /* report the error */
		for (size_t i = 0; i < n; i++)
			if (p[i])
				return 0;
		pos += n;
	}
	return 1;
}

/* What is at a position of a log. */
enum batch_state {
	B_OK,         /* a batch: header parses, fits in the file, checksum matches */
	B_ZEROS,      /* zeros to the end of the file: preallocated space */
	B_SHORT,      /* fewer bytes than a header left, not all zeros */
	B_BAD_HEADER, /* the header does not parse */
	B_TORN,       /* the header parses but the batch runs past the file */
	B_BAD_SUM,    /* the batch is whole but fails its checksum */
	B_IOERR
};

typedef struct batch_at {
	vv_batch_header h;
	const uint8_t *b; /* the whole batch (B_OK, B_BAD_SUM), valid until the next read */
	char why[160];    /* B_BAD_HEADER */
} batch_at;

static enum batch_state look_at(dump_ctx *c, const dump_file *f, uint64_t pos, batch_at *x)
{
	uint64_t size = f->src->size;
	memset(&x->h, 0, sizeof x->h);
	x->b = NULL;
	x->why[0] = 0;
	const uint8_t *hb = NULL;
	if (size - pos >= VV_BATCH_HEADER_SIZE) {
		if (!(hb = src_get(c, f, pos, VV_BATCH_HEADER_SIZE)))
			return B_IOERR;
		if (vv_batch_parse_header(hb, VV_BATCH_HEADER_SIZE, c->max_batch, &x->h) == 0) {
			if (x->h.length > size - pos)
				return B_TORN;
			if (!(x->b = src_get(c, f, pos, x->h.length)))
				return B_IOERR;
			return vv_batch_checksum_ok(x->b, &x->h) == 0 ? B_OK : B_BAD_SUM;
		}
	}
	int z = zero_tail(c, f, pos);
	if (z)
		return z < 0 ? B_IOERR : B_ZEROS;
	if (size - pos < VV_BATCH_HEADER_SIZE)
		return B_SHORT;
	/* zero_tail may have moved the window: read the header again, and
	 * have the decoder say which check it fails */
	if (!(hb = src_get(c, f, pos, VV_BATCH_HEADER_SIZE)))
		return B_IOERR;
	vv_batch_header h;
	vv_batch_why why;
	if (vv_batch_parse_header_why(hb, VV_BATCH_HEADER_SIZE, c->max_batch, &h, &why) == 0)
		snprintf(why.text, sizeof why.text, "bad batch header"); /* it failed a moment ago */
	snprintf(x->why, sizeof x->why, "%s", why.text);
	return B_BAD_HEADER;
}

/* The first position after `from` where a whole batch passes its checks
 * (magic, header, checksum): where reading goes on after damage, since
 * nothing in a damaged batch can be trusted to say where the next one is.
 * 1 and *next, 0 when none follows, -1 on a read error. */
static int next_valid_batch(dump_ctx *c, const dump_file *f, uint64_t from, uint64_t *next)
{
	uint64_t size = f->src->size;
	const uint8_t magic[4] = { (uint8_t)VV_BATCH_MAGIC, (uint8_t)(VV_BATCH_MAGIC >> 8),
				   (uint8_t)(VV_BATCH_MAGIC >> 16), (uint8_t)(VV_BATCH_MAGIC >> 24) };
	for (uint64_t q = from; q < size && size - q >= VV_BATCH_HEADER_SIZE;) {
		/* a window of candidate positions, each with its header inside */
		size_t span = size - q - VV_BATCH_HEADER_SIZE < 65536
				      ? (size_t)(size - q - VV_BATCH_HEADER_SIZE) + 1
				      : 65536;
		const uint8_t *w = src_get(c, f, q, span - 1 + VV_BATCH_HEADER_SIZE);
		if (!w)
			return -1;
		size_t i = 0;
		for (; i < span; i++) {
			if (memcmp(w + i + 8, magic, 4))
				continue;
			batch_at x;
			enum batch_state st = look_at(c, f, q + i, &x);
			if (st == B_IOERR)
				return -1;
			if (st == B_OK) {
				*next = q + i;
				return 1;
			}
			if (st == B_ZEROS)
				return 0;
			/* look_at moved the window: take it again from here */
			i++;
			break;
		}
		q += i;
	}
	return 0;
}

/* The walk over one log file. */
typedef struct log_walk {
	dump_log_info *li;
	int meta;
	int64_t prev_last, max_ts, first_off, last_off;
	uint64_t nb, nrec;
	uint64_t readable_end; /* after the last whole batch */
} log_walk;

/* Continuity checks of a good batch (--verify): 1 when it is damaged. */
static int check_continuity(dump_ctx *c, const dump_file *f, const log_walk *w, uint64_t pos,
			    const vv_batch_header *h)
{
	int64_t last = vv_batch_last_offset(h);
	if (f->base >= 0 && h->base_offset < f->base) {
		dump_damage(c, f->path, pos,
			    "base offset %" PRId64 " is below the segment's base offset %" PRId64,
			    h->base_offset, f->base);
		return 1;
	}
	if (f->base >= 0 && last - f->base > (int64_t)UINT32_MAX) {
		dump_damage(c, f->path, pos,
			    "last offset %" PRId64 " is too far past the segment base %" PRId64, last,
			    f->base);
		return 1;
	}
	if (w->prev_last >= 0 && h->base_offset <= w->prev_last) {
		dump_damage(c, f->path, pos,
			    "base offset %" PRId64 " does not follow the previous batch's last offset %" PRId64,
			    h->base_offset, w->prev_last);
		return 1;
	}
	return 0;
}

/* A batch read whole at pos (checksum ok, or not: `bad`). Its fields are
 * believed only when the checksum matched and the checks passed. */
static int take_batch(dump_ctx *c, const dump_file *f, log_walk *w, uint64_t pos,
		      const vv_batch_header *h, const uint8_t *b, int bad)
{
	print_batch(c, f, pos, h, b, !bad);
	w->nb++;
	c->batches++;
	uint64_t computed = bad ? vv_batch_checksum(b, h->length) : 0;
	if (bad && computed == h->checksum) /* a record map: its chunks did not match */
		dump_damage(c, f->path, pos,
			    "batch checksum mismatch (a chunk of the records does not match its "
			    "hash in the record map)");
	else if (bad)
		dump_damage(c, f->path, pos,
			    "batch checksum mismatch (stored 0x%016" PRIx64 ", computed 0x%016" PRIx64 ")",
			    h->checksum, computed);
	else if (c->o->verify)
		bad = check_continuity(c, f, w, pos, h);
	if (c->o->records || c->o->verify || w->meta) {
		/* A batch already known bad is still shown for forensics, but
		 * its decoding failures are not counted again. */
		if (walk_records(c, f, pos, b, h, c->o->records, w->meta, bad) < 0)
			return -1;
	} else {
		c->records += h->record_count;
	}
	w->nrec += h->record_count;
	w->readable_end = pos + h->length;
	int64_t last = vv_batch_last_offset(h);
	dump_batch_info bi = { pos, h->length, h->base_offset, last, w->max_ts, bad };
	if (!bad) {
		if (h->max_timestamp > w->max_ts)
			bi.max_ts_so_far = w->max_ts = h->max_timestamp;
		if (w->first_off < 0)
			w->first_off = h->base_offset;
		if (last > w->last_off)
			w->last_off = last;
		if (last > w->prev_last)
			w->prev_last = last;
	}
	return info_push(c, f, w->li, &bi);
}

/* After a batch that failed its checksum: its stated length is believed
 * only if a batch that passes its checks (or the end, or zeros) follows
 * there; else reading goes on at the next batch that passes them. */
static int after_bad_sum(dump_ctx *c, const dump_file *f, uint64_t at, uint32_t length,
			 uint64_t *next)
{
	uint64_t size = f->src->size, guess = at + length;
	batch_at y;
	enum batch_state gs = guess < size ? look_at(c, f, guess, &y) : B_ZEROS;
	if (gs == B_IOERR)
		return -1;
	if (gs == B_OK || gs == B_ZEROS) {
		*next = guess;
		return 0;
	}
	int found = next_valid_batch(c, f, at + 1, next);
	if (found < 0)
		return -1;
	if (found)
		dump_note(c, f->path, "the length of the damaged batch at position %" PRIu64
			  " does not lead to a batch; reading goes on at position %" PRIu64, at,
			  *next);
	else
		dump_note(c, f->path, "no batch that passes its checks follows the damaged batch at "
			  "position %" PRIu64 ": %" PRIu64 " bytes after it are unreadable", at,
			  size - guess);
	if (!found)
		*next = size;
	return 0;
}

/* Damage at pos: report it once, and find where reading goes on. *pos
 * moves there. 1 when nothing readable follows (the walk ends), 0 to go
 * on, -1 on a read error. */
static int take_damage(dump_ctx *c, const dump_file *f, log_walk *w, uint64_t *pos,
		       enum batch_state st, const batch_at *x)
{
	uint64_t at = *pos, size = f->src->size, next = size;
	if (st == B_BAD_SUM) {
		if (take_batch(c, f, w, at, &x->h, x->b, 1) < 0 ||
		    after_bad_sum(c, f, at, x->h.length, &next) < 0)
			return -1;
		*pos = next;
		return next >= size;
	}
	int found = next_valid_batch(c, f, at + 1, &next);
	if (found < 0)
		return -1;
	if (!found)
		next = size;
	if (st == B_TORN)
		print_batch(c, f, at, &x->h, NULL, 0);
	char where[96];
	if (next < size)
		snprintf(where, sizeof where, "; the next valid batch is at position %" PRIu64, next);
	else
		snprintf(where, sizeof where, "; %" PRIu64 " bytes from here are unreadable",
			 size - at);
	if (st == B_SHORT)
		dump_damage(c, f->path, at,
			    "torn batch: %" PRIu64 " bytes at the end of the file, less than a header",
			    size - at);
	else if (st == B_TORN)
		dump_damage(c, f->path, at,
			    "torn batch: its length is %" PRIu32 " but only %" PRIu64
			    " bytes are left in the file%s",
			    x->h.length, size - at, next < size ? where : "");
	else
		dump_damage(c, f->path, at, "%s%s", x->why, where);
	uint64_t extent = next - at;
	dump_batch_info bi = { at, extent < UINT32_MAX ? (uint32_t)extent : UINT32_MAX, -1, -1,
			       w->max_ts, 1 };
	if (info_push(c, f, w->li, &bi))
		return -1;
	*pos = next;
	return next >= size;
}

/* Tries, and the first wait, before damage at the end of a file that may
 * be growing is reported (about 0.3 s in all). */
#define SETTLE_TRIES 5
#define SETTLE_FIRST_WAIT_MS 10

/* Damage at pos with nothing readable after it may be a live writer's batch
 * in flight: let the source settle and look again. *st and *x are updated;
 * returns -1 on a read error. */
static int settle_tail(dump_ctx *c, const dump_file *f, uint64_t pos, enum batch_state *st,
		       batch_at *x)
{
	int wait_ms = SETTLE_FIRST_WAIT_MS;
	for (int i = 0; i < SETTLE_TRIES && f->src->settle; i++) {
		uint64_t next;
		int found = next_valid_batch(c, f, pos + 1, &next);
		if (found < 0)
			return -1;
		if (found)
			return 0; /* damage with good batches after it: not a write in flight */
		f->src->settle(f->src, wait_ms);
		wait_ms *= 2;
		if (pos >= f->src->size) { /* the writer trimmed the file: nothing there now */
			*st = B_ZEROS;
			return 0;
		}
		*st = look_at(c, f, pos, x);
		if (*st == B_OK || *st == B_ZEROS || *st == B_IOERR)
			return *st == B_IOERR ? -1 : 0;
	}
	return 0;
}

/* Damaged batches know no offsets: give them the range between their good
 * neighbours, so the index checks can place entries that point into them
 * without reporting the same damage again. */
static void fill_damaged_offsets(dump_log_info *li, int64_t seg_base)
{
	int64_t prev_last = seg_base >= 0 ? seg_base - 1 : -1;
	for (size_t i = 0; i < li->n; i++) {
		dump_batch_info *b = &li->b[i];
		if (!b->damaged) {
			prev_last = b->last_offset;
			continue;
		}
		int64_t next_base = INT64_MAX - 1;
		for (size_t j = i + 1; j < li->n; j++) {
			if (!li->b[j].damaged) {
				next_base = li->b[j].base_offset;
				break;
			}
		}
		b->base_offset = prev_last + 1;
		b->last_offset = next_base - 1 >= b->base_offset ? next_base - 1 : b->base_offset;
	}
}

static void print_file_end(dump_ctx *c, const dump_file *f, const log_walk *w, uint64_t pos,
			   uint64_t damage)
{
	if (!showing(c))
		return;
	if (c->o->json) {
		fputs("{\"type\":\"file_end\",\"file\":", c->out);
		dump_json_str(c->out, f->path);
		fprintf(c->out, ",\"batches\":%" PRIu64 ",\"records\":%" PRIu64
			",\"first_offset\":%" PRId64 ",\"last_offset\":%" PRId64
			",\"readable_end\":%" PRIu64 ",\"damage\":%" PRIu64 "}\n",
			w->nb, w->nrec, w->first_off, w->last_off, pos, damage);
	} else if (w->nb) {
		fprintf(c->out, "-- %" PRIu64 " batches, %" PRIu64 " records, offsets %" PRId64
			"..%" PRId64 ", %" PRIu64 " bytes read\n",
			w->nb, w->nrec, w->first_off, w->last_off, pos);
	} else {
		fprintf(c->out, "-- no batches, %" PRIu64 " bytes read\n", pos);
	}
}

int dump_log(dump_ctx *c, const dump_file *f, dump_log_info *info)
{
	dump_log_info local;
	dump_log_info *li = info ? info : &local;
	memset(li, 0, sizeof *li);
	li->file_size = f->src->size;
	log_walk w = { li, f->kind == DUMP_KIND_META, -1, INT64_MIN, -1, -1, 0, 0, 0 };
	print_file_header(c, f, w.meta ? "metadata log segment" : "log segment");
	uint64_t pos = 0;
	int rc = 0;
	uint64_t damage0 = c->damage_count;
	while (pos < f->src->size) { /* the size can grow: settle_tail */
		batch_at x;
		enum batch_state st = look_at(c, f, pos, &x);
		if (st == B_IOERR) {
			rc = -1;
			break;
		}
		if (st == B_ZEROS) {
			dump_note(c, f->path,
				  "%" PRIu64 " bytes of zeros from position %" PRIu64
				  ": space a writer preallocated ahead of its data, not damage",
				  f->src->size - pos, pos);
			break;
		}
		if (st != B_OK && settle_tail(c, f, pos, &st, &x) < 0) {
			rc = -1;
			break;
		}
		if (st == B_ZEROS)
			continue; /* reported on the next turn, or the file ends here now */
		if (st == B_OK) {
			if (take_batch(c, f, &w, pos, &x.h, x.b, 0) < 0) {
				rc = -1;
				break;
			}
			pos += x.h.length;
			continue;
		}
		int end = take_damage(c, f, &w, &pos, st, &x);
		if (end < 0)
			rc = -1;
		if (end)
			break;
	}
	fill_damaged_offsets(li, f->base);
	li->file_size = f->src->size;
	li->readable_end = w.readable_end;
	li->last_good_offset = w.prev_last;
	li->damaged = c->damage_count != damage0;
	print_file_end(c, f, &w, w.readable_end, c->damage_count - damage0);
	if (!info)
		dump_log_info_free(&local);
	return rc;
}

/* ---- indexes ------------------------------------------------------------------- */

/* Batch starting exactly at pos, or NULL. */
static const dump_batch_info *batch_at_pos(const dump_log_info *li, uint64_t pos)
{
	size_t lo = 0, hi = li->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (li->b[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < li->n && li->b[lo].pos == pos ? &li->b[lo] : NULL;
}

/* Batch whose offsets contain off, or NULL. Base offsets are increasing in
 * a log that passed the continuity checks; if not, the search may miss and
 * the entry is reported, which is right for a log that is already damaged. */
static const dump_batch_info *batch_holding(const dump_log_info *li, int64_t off)
{
	size_t lo = 0, hi = li->n; /* first with base_offset > off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (li->b[mid].base_offset <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const dump_batch_info *b = &li->b[lo - 1];
	return off <= b->last_offset ? b : NULL;
}

int dump_index(dump_ctx *c, const dump_file *f, const dump_log_info *log)
{
	print_file_header(c, f, "offset index");
	uint64_t size = f->src->size;
	uint64_t n = size / VV_INDEX_ENTRY;
	uint32_t prev_rel = 0, prev_pos = 0;
	int verify = c->o->verify;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t at = i * VV_INDEX_ENTRY;
		const uint8_t *e = src_get(c, f, at, VV_INDEX_ENTRY);
		if (!e)
			return -1;
		uint32_t rel = vv_load32(e), pos = vv_load32(e + 4);
		c->entries++;
		if (showing(c)) {
			if (c->o->json) {
				fputs("{\"type\":\"index_entry\",\"file\":", c->out);
				dump_json_str(c->out, f->path);
				fprintf(c->out, ",\"entry\":%" PRIu64 ",\"relative_offset\":%" PRIu32, i,
					rel);
				if (f->base >= 0)
					fprintf(c->out, ",\"offset\":%" PRId64, f->base + (int64_t)rel);
				fprintf(c->out, ",\"log_position\":%" PRIu32 "}\n", pos);
			} else {
				fprintf(c->out, "index entry=%" PRIu64 " relative_offset=%" PRIu32, i, rel);
				if (f->base >= 0)
					fprintf(c->out, " offset=%" PRId64, f->base + (int64_t)rel);
				fprintf(c->out, " log_position=%" PRIu32 "\n", pos);
			}
		}
		if (!verify)
			continue;
		if (i > 0 && (rel <= prev_rel || pos <= prev_pos)) {
			dump_damage(c, f->path, at,
				    "index entry %" PRIu64 " (offset +%" PRIu32 ", position %" PRIu32
				    ") does not follow entry (offset +%" PRIu32 ", position %" PRIu32 ")",
				    i, rel, pos, prev_rel, prev_pos);
		} else if (log) {
			const dump_batch_info *b = batch_at_pos(log, pos);
			if (!b) {
				if (pos >= log->readable_end)
					dump_damage(c, f->path, at,
						    "index entry %" PRIu64 " points at log position %" PRIu32
						    ", past the readable log (%" PRIu64 " bytes)",
						    i, pos, log->readable_end);
				else
					dump_damage(c, f->path, at,
						    "index entry %" PRIu64 " points at log position %" PRIu32
						    ", which is not a batch boundary",
						    i, pos);
			} else if (!b->damaged && f->base >= 0 &&
				   b->base_offset != f->base + (int64_t)rel) {
				dump_damage(c, f->path, at,
					    "index entry %" PRIu64 " says offset %" PRId64
					    " is at log position %" PRIu32
					    ", but the batch there starts at offset %" PRId64,
					    i, f->base + (int64_t)rel, pos, b->base_offset);
			}
		}
		prev_rel = rel;
		prev_pos = pos;
	}
	if (size % VV_INDEX_ENTRY)
		dump_damage(c, f->path, n * VV_INDEX_ENTRY,
			    "%" PRIu64 " trailing bytes: a partial index entry",
			    size % VV_INDEX_ENTRY);
	return 0;
}

int dump_timeindex(dump_ctx *c, const dump_file *f, const dump_log_info *log)
{
	print_file_header(c, f, "time index");
	uint64_t size = f->src->size;
	uint64_t n = size / VV_TIMEINDEX_ENTRY;
	int64_t prev_ts = 0;
	uint32_t prev_rel = 0;
	int verify = c->o->verify;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t at = i * VV_TIMEINDEX_ENTRY;
		const uint8_t *e = src_get(c, f, at, VV_TIMEINDEX_ENTRY);
		if (!e)
			return -1;
		int64_t ts = (int64_t)vv_load64(e);
		uint32_t rel = vv_load32(e + 8);
		c->entries++;
		if (showing(c)) {
			if (c->o->json) {
				fputs("{\"type\":\"timeindex_entry\",\"file\":", c->out);
				dump_json_str(c->out, f->path);
				fprintf(c->out, ",\"entry\":%" PRIu64 ",\"timestamp\":%" PRId64
					",\"relative_offset\":%" PRIu32, i, ts, rel);
				if (f->base >= 0)
					fprintf(c->out, ",\"offset\":%" PRId64, f->base + (int64_t)rel);
				fputs("}\n", c->out);
			} else {
				fprintf(c->out, "timeindex entry=%" PRIu64 " timestamp=%" PRId64
					" relative_offset=%" PRIu32, i, ts, rel);
				if (f->base >= 0)
					fprintf(c->out, " offset=%" PRId64, f->base + (int64_t)rel);
				fputc('\n', c->out);
			}
		}
		if (!verify)
			continue;
		if (i > 0 && (ts <= prev_ts || rel <= prev_rel)) {
			dump_damage(c, f->path, at,
				    "time index entry %" PRIu64 " (timestamp %" PRId64 ", offset +%" PRIu32
				    ") does not follow entry (timestamp %" PRId64 ", offset +%" PRIu32 ")",
				    i, ts, rel, prev_ts, prev_rel);
		} else if (log && f->base >= 0) {
			int64_t off = f->base + (int64_t)rel;
			const dump_batch_info *b = batch_holding(log, off);
			if (!b) {
				if (log->n == 0 || off > log->b[log->n - 1].last_offset)
					dump_damage(c, f->path, at,
						    "time index entry %" PRIu64 " names offset %" PRId64
						    ", past the readable log",
						    i, off);
				else
					dump_damage(c, f->path, at,
						    "time index entry %" PRIu64 " names offset %" PRId64
						    ", which no batch holds",
						    i, off);
			} else if (!b->damaged && b->max_ts_so_far != ts) {
				dump_damage(c, f->path, at,
					    "time index entry %" PRIu64 " says the max timestamp up to offset %" PRId64
					    " is %" PRId64 ", but the log's is %" PRId64
					    " (batch at position %" PRIu64 ")",
					    i, off, ts, b->max_ts_so_far, b->pos);
			}
		}
		prev_ts = ts;
		prev_rel = rel;
	}
	if (size % VV_TIMEINDEX_ENTRY)
		dump_damage(c, f->path, n * VV_TIMEINDEX_ENTRY,
			    "%" PRIu64 " trailing bytes: a partial time index entry",
			    size % VV_TIMEINDEX_ENTRY);
	return 0;
}

/* ---- recovery point ---------------------------------------------------------------- */

int dump_recovery_point(dump_ctx *c, const dump_file *f, vv_recovery_point *rp, int *rp_ok)
{
	*rp_ok = 0;
	print_file_header(c, f, "recovery point");
	uint64_t size = f->src->size;
	const uint8_t *b = NULL;
	if (size == VV_RECOVERY_POINT_SIZE) {
		b = src_get(c, f, 0, VV_RECOVERY_POINT_SIZE);
		if (!b)
			return -1;
	}
	char why[128] = "";
	if (!b) {
		snprintf(why, sizeof why, "size is %" PRIu64 " bytes, not %d", size,
			 VV_RECOVERY_POINT_SIZE);
	} else if (vv_recovery_point_decode(b, VV_RECOVERY_POINT_SIZE, rp) == 0) {
		*rp_ok = 1;
	} else if (vv_load32(b) != VV_RECOVERY_POINT_MAGIC) {
		snprintf(why, sizeof why, "bad magic 0x%08" PRIx32, vv_load32(b));
	} else if (vv_load32(b + 4) != 1) {
		snprintf(why, sizeof why, "unknown version %" PRIu32, vv_load32(b + 4));
	} else {
		/* decode refused the checksum or the fields; tell which */
		vv_recovery_point t = { (int64_t)vv_load64(b + 8), (int64_t)vv_load64(b + 16),
					vv_load64(b + 24), (int64_t)vv_load64(b + 32) };
		uint8_t again[VV_RECOVERY_POINT_SIZE];
		vv_recovery_point_encode(&t, again);
		if (memcmp(again + 40, b + 40, 8))
			snprintf(why, sizeof why, "checksum mismatch");
		else
			snprintf(why, sizeof why,
				 "fields out of range (offset %" PRId64 ", segment %" PRId64
				 ", position %" PRIu64 ", log start %" PRId64 ")",
				 t.offset, t.segment_base, t.position, t.log_start);
	}
	if (*rp_ok) {
		if (showing(c)) {
			if (c->o->json) {
				fputs("{\"type\":\"recovery_point\",\"file\":", c->out);
				dump_json_str(c->out, f->path);
				fprintf(c->out, ",\"damaged\":false,\"offset\":%" PRId64
					",\"segment_base\":%" PRId64 ",\"position\":%" PRIu64
					",\"log_start\":%" PRId64 "}\n",
					rp->offset, rp->segment_base, rp->position, rp->log_start);
			} else {
				fprintf(c->out, "recovery-point offset=%" PRId64 " segment_base=%" PRId64
					" position=%" PRIu64 " log_start=%" PRId64 "\n",
					rp->offset, rp->segment_base, rp->position, rp->log_start);
			}
		}
		return 0;
	}
	if (showing(c)) {
		if (c->o->json) {
			fputs("{\"type\":\"recovery_point\",\"file\":", c->out);
			dump_json_str(c->out, f->path);
			fputs(",\"damaged\":true,\"reason\":", c->out);
			dump_json_str(c->out, why);
			fputs("}\n", c->out);
		} else {
			fputs("recovery-point DAMAGED: ", c->out);
			dump_text_str(c->out, why);
			fputs(" (the store will scan the whole partition on open)\n", c->out);
		}
	}
	dump_damage(c, f->path, 0, "recovery point is damaged: %s", why);
	return 0;
}

void dump_check_recovery_point(dump_ctx *c, const char *rp_path, const vv_recovery_point *rp,
			       const char *seg_path, int64_t seg_base, const dump_log_info *li)
{
	if (rp->segment_base != seg_base)
		return;
	if (rp->position > li->file_size) {
		dump_damage(c, rp_path, 0,
			    "recovery point says %" PRIu64 " bytes of %s are durable, but it holds %" PRIu64,
			    rp->position, seg_path, li->file_size);
		return;
	}
	/* The position must be a batch boundary (or the end of the batches),
	 * and the offset the one that follows the batches before it. */
	int64_t expect = seg_base;
	int unknown = 0; /* a damaged batch before the position: its offsets are unknown */
	size_t i = 0;
	while (i < li->n && li->b[i].pos < rp->position) {
		expect = li->b[i].last_offset + 1;
		unknown |= li->b[i].damaged;
		i++;
	}
	int boundary = (i < li->n && li->b[i].pos == rp->position) ||
		       (i == li->n && rp->position == li->readable_end);
	if (!boundary) {
		dump_damage(c, rp_path, 0,
			    "recovery point position %" PRIu64 " is not a batch boundary of %s",
			    rp->position, seg_path);
		return;
	}
	if (!unknown && rp->offset != expect)
		dump_damage(c, rp_path, 0,
			    "recovery point offset %" PRId64 " does not match offset %" PRId64
			    " at position %" PRIu64 " of %s",
			    rp->offset, expect, rp->position, seg_path);
}

/* ---- entry points ------------------------------------------------------------- */

int dump_file_any(dump_ctx *c, const dump_file *f, dump_log_info *info)
{
	vv_recovery_point rp;
	int ok;
	switch (f->kind) {
	case DUMP_KIND_LOG:
	case DUMP_KIND_META:
		return dump_log(c, f, info);
	case DUMP_KIND_INDEX:
		return dump_index(c, f, NULL);
	case DUMP_KIND_TIMEINDEX:
		return dump_timeindex(c, f, NULL);
	case DUMP_KIND_RECOVERY_POINT:
		return dump_recovery_point(c, f, &rp, &ok);
	default:
		dump_error(c, f->path, "unknown file kind");
		return -1;
	}
}

static int exit_code(const dump_ctx *c)
{
	if (c->damage_count)
		return DUMP_EXIT_DAMAGE;
	return c->errors ? DUMP_EXIT_ERROR : DUMP_EXIT_OK;
}

int dump_buffer(const uint8_t *data, size_t n, const char *kind, const dump_opts *o, FILE *out)
{
	dump_ctx c;
	dump_ctx_init(&c, o, out);
	dump_src src;
	dump_src_mem(&src, data, n);
	dump_kind k = dump_kind_parse(kind);
	dump_file f = { "<buffer>", &src, k, k == DUMP_KIND_INDEX || k == DUMP_KIND_TIMEINDEX ||
					       k == DUMP_KIND_LOG || k == DUMP_KIND_META ? 0 : -1 };
	if (k == DUMP_KIND_UNKNOWN) {
		dump_error(&c, f.path, "unknown kind '%s'", kind);
	} else {
		(void)dump_file_any(&c, &f, NULL);
	}
	int rc = exit_code(&c);
	dump_ctx_free(&c);
	return rc;
}

int dump_segment_buffers(const uint8_t *log, size_t log_n, const uint8_t *idx, size_t idx_n,
			 const uint8_t *tidx, size_t tidx_n, int64_t base, const dump_opts *o,
			 FILE *out)
{
	dump_ctx c;
	dump_ctx_init(&c, o, out);
	dump_src ls, is, ts;
	dump_src_mem(&ls, log, log_n);
	dump_src_mem(&is, idx, idx_n);
	dump_src_mem(&ts, tidx, tidx_n);
	dump_file lf = { "<log>", &ls, DUMP_KIND_LOG, base };
	dump_file xf = { "<index>", &is, DUMP_KIND_INDEX, base };
	dump_file tf = { "<timeindex>", &ts, DUMP_KIND_TIMEINDEX, base };
	dump_log_info li;
	if (dump_log(&c, &lf, &li) == 0) {
		(void)dump_index(&c, &xf, &li);
		(void)dump_timeindex(&c, &tf, &li);
		vv_recovery_point rp = { li.last_good_offset >= 0 ? li.last_good_offset + 1 : base,
					 base, li.readable_end, base };
		dump_check_recovery_point(&c, "<recovery-point>", &rp, lf.path, base, &li);
	}
	dump_log_info_free(&li);
	int rc = exit_code(&c);
	dump_ctx_free(&c);
	return rc;
}
