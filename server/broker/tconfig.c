/* SPDX-License-Identifier: MIT */
/*
 * tconfig.c -- Kafka topic names and configs <-> varve_topic_config (see
 * tconfig.h). One table row per supported Kafka name, sorted by name: how to
 * set it from text, put it back to its default, and print it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kerrors.h"
#include "tconfig.h"

static void say(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t cap, const char *fmt, ...)
{
	if (!cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, cap, fmt, ap);
	va_end(ap);
}

/* ---- names --------------------------------------------------------------- */

static int kafka_name_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int16_t vs_topic_name_check(vs_slice name, char *msg, size_t cap)
{
	say(msg, cap, "%s", "");
	if (!name.ptr || name.len == 0) {
		say(msg, cap, "Topic name is illegal, it can't be empty");
		return KE_INVALID_TOPIC_EXCEPTION;
	}
	if (vs_slice_eq(name, ".") || vs_slice_eq(name, "..")) {
		say(msg, cap, "Topic name cannot be \".\" or \"..\"");
		return KE_INVALID_TOPIC_EXCEPTION;
	}
	for (size_t i = 0; i < name.len; i++)
		if (!kafka_name_char(name.ptr[i])) {
			say(msg, cap, "Topic name is illegal, it contains a character other than "
				      "ASCII alphanumerics, '.', '_' and '-'");
			return KE_INVALID_TOPIC_EXCEPTION;
		}
	if (name.len > VS_KAFKA_MAX_TOPIC_NAME) {
		say(msg, cap, "Topic name is illegal, it can't be longer than %d characters",
		    VS_KAFKA_MAX_TOPIC_NAME);
		return KE_INVALID_TOPIC_EXCEPTION;
	}
	if (name.len > VARVE_MAX_TOPIC_NAME) {
		say(msg, cap, "Topic name is illegal: varve topic names are at most %d characters",
		    VARVE_MAX_TOPIC_NAME);
		return KE_INVALID_TOPIC_EXCEPTION;
	}
	return KE_NONE;
}

/* ---- value parsing ----------------------------------------------------------- */

static int blank(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static vs_slice trim(vs_slice s)
{
	while (s.len && blank(s.ptr[0])) {
		s.ptr++;
		s.len--;
	}
	while (s.len && blank(s.ptr[s.len - 1]))
		s.len--;
	return s;
}

/* A decimal integer in [min, max]: 0, or -1. No overflow is possible: the
 * magnitude is checked before each step. */
static int parse_i64(vs_slice s, int64_t min, int64_t max, int64_t *out)
{
	s = trim(s);
	size_t i = 0;
	int neg = 0;
	if (s.len && (s.ptr[0] == '-' || s.ptr[0] == '+')) {
		neg = s.ptr[0] == '-';
		i = 1;
	}
	if (i == s.len)
		return -1;
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t v = 0;
	for (; i < s.len; i++) {
		uint8_t d = s.ptr[i];
		if (d < '0' || d > '9')
			return -1;
		if (v > (limit - (d - '0')) / 10)
			return -1;
		v = v * 10 + (d - '0');
	}
	int64_t r = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	if (r < min || r > max)
		return -1;
	*out = r;
	return 0;
}

static int parse_ratio(vs_slice s, double *out)
{
	char buf[64];
	s = trim(s);
	if (s.len == 0 || vs_slice_cstr(s, buf, sizeof buf))
		return -1;
	char *end;
	double d = strtod(buf, &end);
	if (*end || !(d >= 0.0 && d <= 1.0))
		return -1;
	*out = d;
	return 0;
}

/* cleanup.policy: a comma-separated list of delete and compact. */
static int parse_policy(vs_slice s, int *out)
{
	int policy = 0;
	size_t i = 0;
	for (;;) {
		size_t j = i;
		while (j < s.len && s.ptr[j] != ',')
			j++;
		vs_slice item = trim((vs_slice){ s.ptr + i, j - i });
		if (vs_slice_eq(item, "delete"))
			policy |= VARVE_CLEANUP_DELETE;
		else if (vs_slice_eq(item, "compact"))
			policy |= VARVE_CLEANUP_COMPACT;
		else
			return -1;
		if (j == s.len)
			break;
		i = j + 1;
	}
	*out = policy;
	return 0;
}

static const char *policy_text(int policy)
{
	switch (policy) {
	case VARVE_CLEANUP_COMPACT:
		return "compact";
	case VARVE_CLEANUP_COMPACT_DELETE:
		return "compact,delete";
	default:
		return "delete";
	}
}

/* ---- the table ------------------------------------------------------------- */

typedef struct row row;
/* Set from text: 0, or -1 with `hint` saying what is valid. */
typedef int (*set_fn)(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim);
typedef void (*reset_fn)(varve_topic_config *cfg);
/* Print; returns 1 when the value is the default. */
typedef int (*get_fn)(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf,
		      size_t cap);

struct row {
	const char *name;
	const char *hint; /* what values are valid, for the error message */
	set_fn set;
	reset_fn reset;
	get_fn get;
};

static const varve_topic_config defaults = VARVE_TOPIC_CONFIG_INIT;

static int set_policy(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)lim;
	return parse_policy(v, &cfg->cleanup_policy);
}
static void reset_policy(varve_topic_config *cfg) { cfg->cleanup_policy = defaults.cleanup_policy; }
static int get_policy(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	(void)lim;
	snprintf(buf, cap, "%s", policy_text(cfg->cleanup_policy));
	return cfg->cleanup_policy == defaults.cleanup_policy;
}

static int set_codec(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)lim;
	v = trim(v);
	if (vs_slice_eq(v, "uncompressed") || vs_slice_eq(v, "producer"))
		cfg->codec = VARVE_CODEC_NONE;
	else if (vs_slice_eq(v, "lz4"))
		cfg->codec = VARVE_CODEC_LZ4;
	else
		return -1;
	return 0;
}
static void reset_codec(varve_topic_config *cfg) { cfg->codec = defaults.codec; }
static int get_codec(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	(void)lim;
	snprintf(buf, cap, "%s", cfg->codec == VARVE_CODEC_LZ4 ? "lz4" : "uncompressed");
	return cfg->codec == defaults.codec;
}

static int set_tstype(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)lim;
	v = trim(v);
	if (vs_slice_eq(v, "CreateTime"))
		cfg->timestamp_type = VARVE_TIMESTAMP_CREATE;
	else if (vs_slice_eq(v, "LogAppendTime"))
		cfg->timestamp_type = VARVE_TIMESTAMP_APPEND;
	else
		return -1;
	return 0;
}
static void reset_tstype(varve_topic_config *cfg) { cfg->timestamp_type = defaults.timestamp_type; }
static int get_tstype(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	(void)lim;
	snprintf(buf, cap, "%s",
		 cfg->timestamp_type == VARVE_TIMESTAMP_APPEND ? "LogAppendTime" : "CreateTime");
	return cfg->timestamp_type == defaults.timestamp_type;
}

static int set_ratio(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)lim;
	return parse_ratio(v, &cfg->min_cleanable_dirty_ratio);
}
static void reset_ratio(varve_topic_config *cfg)
{
	cfg->min_cleanable_dirty_ratio = defaults.min_cleanable_dirty_ratio;
}
static int get_ratio(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	(void)lim;
	snprintf(buf, cap, "%g", cfg->min_cleanable_dirty_ratio);
	return cfg->min_cleanable_dirty_ratio == defaults.min_cleanable_dirty_ratio;
}

/* Integer fields: one setter per field with its range. */
#define INT_FIELD(fn, field, min, max)                                                         \
	static int set_##fn(const row *r, varve_topic_config *cfg, vs_slice v,                 \
			    const vs_tcfg_limits *lim)                                         \
	{                                                                                      \
		(void)r, (void)lim;                                                            \
		return parse_i64(v, (min), (max), &cfg->field);                                \
	}                                                                                      \
	static void reset_##fn(varve_topic_config *cfg) { cfg->field = defaults.field; }       \
	static int get_##fn(const varve_topic_config *cfg, const vs_tcfg_limits *lim,          \
			    char *buf, size_t cap)                                             \
	{                                                                                      \
		(void)lim;                                                                     \
		snprintf(buf, cap, "%" PRId64, cfg->field);                                    \
		return cfg->field == defaults.field;                                           \
	}

INT_FIELD(del_ret, delete_retention_ms, 0, INT64_MAX)
INT_FIELD(ret_bytes, retention_bytes, -1, INT64_MAX)
INT_FIELD(ret_ms, retention_ms, -1, INT64_MAX)

/* segment.bytes / segment.ms: 0 in the topic means the store's default. */
static int set_seg_bytes(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)lim;
	return parse_i64(v, 1024, INT32_MAX, &cfg->segment_bytes);
}
static void reset_seg_bytes(varve_topic_config *cfg) { cfg->segment_bytes = 0; }
static int get_seg_bytes(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	snprintf(buf, cap, "%" PRId64, cfg->segment_bytes ? cfg->segment_bytes : lim->segment_bytes);
	return cfg->segment_bytes == 0;
}
static int set_seg_ms(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)lim;
	return parse_i64(v, 1, INT64_MAX, &cfg->segment_ms);
}
static void reset_seg_ms(varve_topic_config *cfg) { cfg->segment_ms = 0; }
static int get_seg_ms(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	snprintf(buf, cap, "%" PRId64, cfg->segment_ms ? cfg->segment_ms : lim->segment_ms);
	return cfg->segment_ms == 0;
}

/* Names accepted for compatibility that change nothing in the store: a
 * value is checked, never stored. */
static int set_max_msg(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)cfg;
	int64_t x;
	return parse_i64(v, 0, lim->max_message_bytes, &x);
}
static int get_max_msg(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	(void)cfg;
	snprintf(buf, cap, "%" PRIu32, lim->max_message_bytes);
	return 1;
}
static int set_zero(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)cfg, (void)lim;
	int64_t x;
	return parse_i64(v, 0, 0, &x);
}
static int get_zero(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	(void)cfg, (void)lim;
	snprintf(buf, cap, "0");
	return 1;
}
static int set_one(const row *r, varve_topic_config *cfg, vs_slice v, const vs_tcfg_limits *lim)
{
	(void)r, (void)cfg, (void)lim;
	int64_t x;
	return parse_i64(v, 1, 1, &x);
}
static int get_one(const varve_topic_config *cfg, const vs_tcfg_limits *lim, char *buf, size_t cap)
{
	(void)cfg, (void)lim;
	snprintf(buf, cap, "1");
	return 1;
}
static void reset_nothing(varve_topic_config *cfg) { (void)cfg; }

/* Sorted by name (vs_tcfg_find relies on it). */
static const row rows[] = {
	{ "cleanup.policy", "a list of delete and compact", set_policy, reset_policy, get_policy },
	{ "compression.type", "uncompressed, producer or lz4 (the store's codecs)", set_codec,
	  reset_codec, get_codec },
	{ "delete.retention.ms", "a number of milliseconds >= 0", set_del_ret, reset_del_ret,
	  get_del_ret },
	{ "max.message.bytes", "a number of bytes up to the store's limit (the limit is "
			       "store-wide)", set_max_msg, reset_nothing, get_max_msg },
	{ "message.timestamp.type", "CreateTime or LogAppendTime", set_tstype, reset_tstype,
	  get_tstype },
	{ "min.cleanable.dirty.ratio", "a number between 0 and 1", set_ratio, reset_ratio,
	  get_ratio },
	{ "min.compaction.lag.ms", "0 (the store has no compaction lag)", set_zero, reset_nothing,
	  get_zero },
	{ "min.insync.replicas", "1 (one broker)", set_one, reset_nothing, get_one },
	{ "retention.bytes", "-1 or a number of bytes >= 0", set_ret_bytes, reset_ret_bytes,
	  get_ret_bytes },
	{ "retention.ms", "-1 or a number of milliseconds >= 0", set_ret_ms, reset_ret_ms,
	  get_ret_ms },
	{ "segment.bytes", "a number of bytes in 1024..2147483647", set_seg_bytes,
	  reset_seg_bytes, get_seg_bytes },
	{ "segment.ms", "a number of milliseconds >= 1", set_seg_ms, reset_seg_ms, get_seg_ms },
};

#define NROWS (sizeof rows / sizeof rows[0])

size_t vs_tcfg_count(void)
{
	return NROWS;
}

const char *vs_tcfg_name(size_t i)
{
	return i < NROWS ? rows[i].name : NULL;
}

static int slice_cmp(vs_slice s, const char *z)
{
	size_t n = strlen(z);
	int c = memcmp(s.ptr, z, s.len < n ? s.len : n);
	if (c)
		return c;
	return s.len < n ? -1 : s.len > n;
}

int vs_tcfg_find(vs_slice name)
{
	if (!name.ptr)
		return -1;
	size_t lo = 0, hi = NROWS;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = slice_cmp(name, rows[mid].name);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* The name as printable text for a message: cut, and only its first bytes. */
static int shown(vs_slice s)
{
	return s.len > 100 ? 100 : (int)s.len;
}

static const row *lookup(vs_slice name, char *msg, size_t cap)
{
	int i = vs_tcfg_find(name);
	if (i < 0) {
		say(msg, cap, "Unknown topic config name: %.*s", shown(name),
		    name.ptr ? (const char *)name.ptr : "");
		return NULL;
	}
	return &rows[i];
}

int16_t vs_tcfg_set(varve_topic_config *cfg, vs_slice name, vs_slice value,
		    const vs_tcfg_limits *lim, char *msg, size_t cap)
{
	say(msg, cap, "%s", "");
	const row *r = lookup(name, msg, cap);
	if (!r)
		return KE_INVALID_CONFIG;
	varve_topic_config next = *cfg;
	if (!value.ptr) {
		say(msg, cap, "Null value not supported for topic config %s", r->name);
		return KE_INVALID_CONFIG;
	}
	if (r->set(r, &next, value, lim)) {
		say(msg, cap, "Invalid value %.*s for configuration %s: expected %s", shown(value),
		    (const char *)value.ptr, r->name, r->hint);
		return KE_INVALID_CONFIG;
	}
	*cfg = next;
	return KE_NONE;
}

int16_t vs_tcfg_reset(varve_topic_config *cfg, vs_slice name, char *msg, size_t cap)
{
	say(msg, cap, "%s", "");
	const row *r = lookup(name, msg, cap);
	if (!r)
		return KE_INVALID_CONFIG;
	r->reset(cfg);
	return KE_NONE;
}

int16_t vs_tcfg_list_op(varve_topic_config *cfg, vs_slice name, vs_slice value, int add,
			char *msg, size_t cap)
{
	say(msg, cap, "%s", "");
	const row *r = lookup(name, msg, cap);
	if (!r)
		return KE_INVALID_CONFIG;
	if (r->set != set_policy) {
		say(msg, cap, "Config value append or subtract is not allowed for config key %s: "
			      "it is not a list", r->name);
		return KE_INVALID_CONFIG;
	}
	int items;
	if (!value.ptr || parse_policy(value, &items)) {
		say(msg, cap, "Invalid value %.*s for configuration %s: expected %s", shown(value),
		    value.ptr ? (const char *)value.ptr : "", r->name, r->hint);
		return KE_INVALID_CONFIG;
	}
	int policy = add ? cfg->cleanup_policy | items : cfg->cleanup_policy & ~items;
	if (policy == 0) {
		say(msg, cap, "cleanup.policy cannot be empty");
		return KE_INVALID_CONFIG;
	}
	cfg->cleanup_policy = policy;
	return KE_NONE;
}

int vs_tcfg_get(const varve_topic_config *cfg, size_t i, const vs_tcfg_limits *lim, char *buf,
		size_t cap, int *is_default)
{
	if (i >= NROWS || cap == 0)
		return -1;
	*is_default = rows[i].get(cfg, lim, buf, cap);
	return 0;
}
