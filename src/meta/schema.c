/* SPDX-License-Identifier: MIT */
/*
 * schema.c -- the byte layout of every metadata record kind (meta.h, and
 * docs/FORMAT.md "Metadata records"). The only code that knows it: the
 * owners of the kinds work with decoded vv_meta_rec values.
 *
 * Decoding trusts nothing: every length is checked against the bytes there,
 * names against their rules, and a value's format byte (1) against what
 * this version writes. A topic config with a newer format byte is
 * VARVE_EFORMAT, not damage.
 */
#include <string.h>

#include "meta.h"
#include "util.h"

int vv_group_name_ok(const char *group)
{
	if (!group)
		return 0;
	size_t n = strlen(group);
	return n >= 1 && n <= VARVE_MAX_GROUP_NAME;
}

/* ---- topic configuration ------------------------------------------------ */

int vv_topic_config_validate(const varve_topic_config *c)
{
	if (!c || c->version < 1)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: bad version");
	if (c->partitions < 1 || c->partitions > VARVE_MAX_PARTITIONS)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: partitions must be 1..%d",
				    VARVE_MAX_PARTITIONS);
	if (c->codec != VARVE_CODEC_NONE && c->codec != VARVE_CODEC_LZ4)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: unknown codec %d", c->codec);
	if (c->cleanup_policy < VARVE_CLEANUP_DELETE ||
	    c->cleanup_policy > VARVE_CLEANUP_COMPACT_DELETE)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: unknown cleanup policy %d",
				    c->cleanup_policy);
	if (c->retention_ms < -1 || c->retention_bytes < -1 || c->retention_records < -1)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: retention must be -1 or >= 0");
	if (c->segment_bytes < 0 || (c->segment_bytes > 0 && c->segment_bytes < 1024) ||
	    c->segment_bytes > (int64_t)UINT32_MAX)
		return vv_error_set(VARVE_EINVAL, 0,
				    "topic config: segment_bytes must be 0 or 1 KiB..4 GiB");
	if (c->segment_ms < 0 || c->delete_retention_ms < 0 || c->max_future_skew_ms < 0 ||
	    c->dedup_window_ms < 0)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: negative duration");
	if (!(c->min_cleanable_dirty_ratio >= 0.0 && c->min_cleanable_dirty_ratio <= 1.0))
		return vv_error_set(VARVE_EINVAL, 0, "topic config: dirty ratio must be in [0, 1]");
	if (c->timestamp_type != VARVE_TIMESTAMP_CREATE && c->timestamp_type != VARVE_TIMESTAMP_APPEND)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: unknown timestamp type");
	if (c->partitioner != VARVE_PARTITIONER_STICKY &&
	    c->partitioner != VARVE_PARTITIONER_ROUND_ROBIN)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: unknown partitioner");
	if (c->retention_hard_bytes < -1)
		return vv_error_set(VARVE_EINVAL, 0, "topic config: retention_hard_bytes must be -1 or >= 0");
	if (c->retain_for_groups) {
		const char *g = c->retain_for_groups;
		if (strlen(g) > VV_MAX_RETAIN_GROUPS)
			return vv_error_set(VARVE_EINVAL, 0, "topic config: retain_for_groups too long");
		/* comma-separated group names */
		const char *p = g;
		while (*p) {
			const char *comma = strchr(p, ',');
			size_t l = comma ? (size_t)(comma - p) : strlen(p);
			if (l == 0 || l > VARVE_MAX_GROUP_NAME)
				return vv_error_set(VARVE_EINVAL, 0, "topic config: bad group list");
			p += l + (comma ? 1 : 0);
			if (comma && !*p)
				return vv_error_set(VARVE_EINVAL, 0, "topic config: bad group list");
		}
	}
	return 0;
}

static size_t topic_config_encode(const varve_topic_config *c, int64_t created_ms, uint8_t *out)
{
	uint8_t *p = out;
	*p++ = 1; /* value format */
	vv_store32(p, c->partitions);
	p += 4;
	*p++ = (uint8_t)c->codec;
	*p++ = (uint8_t)c->cleanup_policy;
	*p++ = (uint8_t)c->timestamp_type;
	*p++ = (uint8_t)c->partitioner;
	int64_t v[] = { c->retention_ms, c->retention_bytes, c->retention_records, c->segment_bytes,
			c->segment_ms, c->delete_retention_ms };
	for (size_t i = 0; i < 6; i++, p += 8)
		vv_store64(p, (uint64_t)v[i]);
	uint64_t bits;
	memcpy(&bits, &c->min_cleanable_dirty_ratio, 8);
	vv_store64(p, bits);
	p += 8;
	vv_store64(p, (uint64_t)c->max_future_skew_ms);
	p += 8;
	vv_store64(p, (uint64_t)c->dedup_window_ms);
	p += 8;
	vv_store64(p, (uint64_t)created_ms);
	p += 8;
	vv_store64(p, (uint64_t)c->retention_hard_bytes);
	p += 8;
	size_t gl = c->retain_for_groups ? strlen(c->retain_for_groups) : 0;
	if (gl > VV_MAX_RETAIN_GROUPS)
		gl = VV_MAX_RETAIN_GROUPS;
	vv_store16(p, (uint16_t)gl);
	p += 2;
	if (gl)
		memcpy(p, c->retain_for_groups, gl);
	return (size_t)(p - out) + gl;
}

/* Structure only: whether the values make sense is the topic layer's check
 * (vv_topic_config_validate) when it applies the record. */
static int topic_config_decode(const uint8_t *b, size_t n, vv_meta_rec *r)
{
	if (n < 1)
		return VARVE_ECORRUPT;
	if (b[0] > 1)
		return VARVE_EFORMAT;
	if (b[0] != 1 || n < VV_TOPIC_CONFIG_FIXED + 10)
		return VARVE_ECORRUPT;
	varve_topic_config d = VARVE_TOPIC_CONFIG_INIT;
	const uint8_t *p = b + 1;
	d.partitions = vv_load32(p);
	p += 4;
	d.codec = *p++;
	d.cleanup_policy = *p++;
	d.timestamp_type = *p++;
	d.partitioner = *p++;
	int64_t v[6];
	for (size_t i = 0; i < 6; i++, p += 8)
		v[i] = (int64_t)vv_load64(p);
	d.retention_ms = v[0];
	d.retention_bytes = v[1];
	d.retention_records = v[2];
	d.segment_bytes = v[3];
	d.segment_ms = v[4];
	d.delete_retention_ms = v[5];
	uint64_t bits = vv_load64(p);
	memcpy(&d.min_cleanable_dirty_ratio, &bits, 8);
	p += 8;
	d.max_future_skew_ms = (int64_t)vv_load64(p);
	p += 8;
	d.dedup_window_ms = (int64_t)vv_load64(p);
	p += 8;
	r->time = (int64_t)vv_load64(p);
	p += 8;
	d.retention_hard_bytes = (int64_t)vv_load64(p);
	p += 8;
	size_t gl = vv_load16(p);
	p += 2;
	if (gl > VV_MAX_RETAIN_GROUPS || (size_t)(p - b) + gl != n || memchr(p, 0, gl))
		return VARVE_ECORRUPT;
	memcpy(r->text, p, gl);
	r->text[gl] = 0;
	r->text_len = gl;
	d.retain_for_groups = gl ? r->text : NULL;
	r->cfg = d;
	return 0;
}

size_t vv_topic_config_encode(const varve_topic_config *cfg, int64_t created_ms, uint8_t *out)
{
	return topic_config_encode(cfg, created_ms, out);
}

int vv_topic_config_decode(const uint8_t *buf, size_t n, varve_topic_config *cfg,
			   int64_t *created_ms, char *groups)
{
	vv_meta_rec *r = vv_malloc(sizeof *r);
	if (!r)
		return vv_error_set(VARVE_ENOMEM, 0, "topic config");
	int rc = topic_config_decode(buf, n, r);
	if (rc)
		goto out;
	if (vv_topic_config_validate(&r->cfg)) { /* no create writes that: damage */
		vv_error_clear();
		rc = VARVE_ECORRUPT;
		goto out;
	}
	*cfg = r->cfg;
	if (created_ms)
		*created_ms = r->time;
	memcpy(groups, r->text, r->text_len + 1);
	cfg->retain_for_groups = r->text_len ? groups : NULL;
out:
	vv_free(r);
	return rc;
}

/* ---- keys ----------------------------------------------------------------- */

/* kind group 0 topic 0 u32 partition */
static size_t group_topic_key(uint8_t *out, uint8_t kind, const char *group, const char *topic,
			      uint32_t partition)
{
	size_t gl = strlen(group), tl = strlen(topic), n = 0;
	out[n++] = kind;
	memcpy(out + n, group, gl);
	n += gl;
	out[n++] = 0;
	memcpy(out + n, topic, tl);
	n += tl;
	out[n++] = 0;
	vv_store32(out + n, partition);
	return n + 4;
}

static int group_topic_key_decode(const uint8_t *k, size_t n, vv_meta_rec *r)
{
	if (n < 1 + 1 + 1 + 1 + 1 + 4)
		return VARVE_ECORRUPT;
	const uint8_t *g = k + 1, *end = k + n - 4;
	const uint8_t *z1 = memchr(g, 0, (size_t)(end - g));
	if (!z1 || z1 == g || (size_t)(z1 - g) > VARVE_MAX_GROUP_NAME)
		return VARVE_ECORRUPT;
	const uint8_t *t = z1 + 1;
	if (t >= end || end[-1] != 0)
		return VARVE_ECORRUPT;
	const uint8_t *z2 = end - 1;
	if (z2 == t || (size_t)(z2 - t) > VARVE_MAX_TOPIC_NAME || memchr(t, 0, (size_t)(z2 - t)))
		return VARVE_ECORRUPT;
	memcpy(r->group, g, (size_t)(z1 - g));
	r->group[z1 - g] = 0;
	memcpy(r->name, t, (size_t)(z2 - t));
	r->name[z2 - t] = 0;
	r->partition = vv_load32(end);
	return varve_name_valid(r->name) ? 0 : VARVE_ECORRUPT;
}

/* A name after the kind byte, up to max bytes, no NUL. */
static int name_key_decode(const uint8_t *k, size_t n, char *out, size_t max)
{
	size_t nl = n - 1;
	if (nl == 0 || nl > max || memchr(k + 1, 0, nl))
		return VARVE_ECORRUPT;
	memcpy(out, k + 1, nl);
	out[nl] = 0;
	return 0;
}

static size_t text_copy(char *dst, size_t max, const uint8_t *src, size_t n)
{
	if (n > max)
		n = max;
	memcpy(dst, src, n);
	dst[n] = 0;
	return n;
}

/* ---- records ---------------------------------------------------------------- */

int vv_meta_encode(const vv_meta_rec *r, uint8_t *key, size_t *klen, uint8_t *val, size_t *vlen)
{
	*klen = *vlen = 0;
	size_t tl;
	switch (r->kind) {
	case VV_META_TOPIC_CONFIG:
		if (!varve_name_valid(r->name))
			return vv_error_set(VARVE_EINVAL, 0, "metadata: invalid topic name");
		tl = strlen(r->name);
		key[0] = VV_META_TOPIC_CONFIG;
		memcpy(key + 1, r->name, tl);
		*klen = tl + 1;
		if (!r->deleted)
			*vlen = topic_config_encode(&r->cfg, r->time, val);
		return 0;
	case VV_META_COMMIT:
	case VV_META_ATTEMPT:
		if (!vv_group_name_ok(r->group) || !varve_name_valid(r->name))
			return vv_error_set(VARVE_EINVAL, 0, "metadata: invalid group or topic name");
		*klen = group_topic_key(key, r->kind, r->group, r->name, r->partition);
		if (r->kind == VV_META_ATTEMPT) {
			vv_store64(key + *klen, (uint64_t)r->record_offset);
			*klen += 8;
		}
		if (r->deleted)
			return 0;
		val[0] = 1;
		tl = r->text_len;
		if (r->kind == VV_META_COMMIT) {
			if (tl > VV_MAX_COMMIT_METADATA)
				tl = VV_MAX_COMMIT_METADATA;
			vv_store64(val + 1, (uint64_t)r->offset);
			vv_store64(val + 9, (uint64_t)r->time);
			memcpy(val + 17, r->text, tl);
			*vlen = 17 + tl;
		} else {
			if (tl > VV_MAX_NACK_REASON)
				tl = VV_MAX_NACK_REASON;
			vv_store32(val + 1, r->attempts);
			vv_store64(val + 5, (uint64_t)r->time);
			memcpy(val + 13, r->text, tl);
			*vlen = 13 + tl;
		}
		return 0;
	case VV_META_GROUP:
		if (!vv_group_name_ok(r->group))
			return vv_error_set(VARVE_EINVAL, 0, "metadata: invalid group name");
		tl = strlen(r->group);
		key[0] = VV_META_GROUP;
		memcpy(key + 1, r->group, tl);
		*klen = tl + 1;
		if (!r->deleted) {
			val[0] = 1;
			vv_store64(val + 1, (uint64_t)r->time);
			*vlen = 9;
		}
		return 0;
	case VV_META_NEXT_PID:
		key[0] = VV_META_NEXT_PID;
		*klen = 1;
		val[0] = 1;
		vv_store64(val + 1, (uint64_t)r->id);
		*vlen = 9;
		return 0;
	case VV_META_PRODUCER:
		if (!varve_name_valid(r->name))
			return vv_error_set(VARVE_EINVAL, 0, "metadata: invalid producer name");
		tl = strlen(r->name);
		key[0] = VV_META_PRODUCER;
		memcpy(key + 1, r->name, tl);
		*klen = tl + 1;
		if (!r->deleted) {
			val[0] = 1;
			vv_store64(val + 1, (uint64_t)r->id);
			vv_store16(val + 9, r->epoch);
			*vlen = 11;
		}
		return 0;
	default:
		return vv_error_set(VARVE_EINVAL, 0, "metadata: unknown record kind %d", r->kind);
	}
}

static int decode_value(const uint8_t *v, size_t n, vv_meta_rec *r)
{
	switch (r->kind) {
	case VV_META_TOPIC_CONFIG:
		VV_TRY(topic_config_decode(v, n, r));
		if (vv_topic_config_validate(&r->cfg)) { /* no create writes that: damage */
			vv_error_clear();
			return VARVE_ECORRUPT;
		}
		return 0;
	case VV_META_COMMIT:
		if (n < 17 || v[0] != 1)
			return VARVE_ECORRUPT;
		r->offset = (int64_t)vv_load64(v + 1);
		r->time = (int64_t)vv_load64(v + 9);
		r->text_len = text_copy(r->text, VV_MAX_COMMIT_METADATA, v + 17, n - 17);
		return 0;
	case VV_META_ATTEMPT:
		if (n < 13 || v[0] != 1)
			return VARVE_ECORRUPT;
		r->attempts = vv_load32(v + 1);
		r->time = (int64_t)vv_load64(v + 5);
		r->text_len = text_copy(r->text, VV_MAX_NACK_REASON, v + 13, n - 13);
		return 0;
	case VV_META_GROUP:
		if (n < 9 || v[0] != 1)
			return VARVE_ECORRUPT;
		r->time = (int64_t)vv_load64(v + 1);
		return 0;
	case VV_META_NEXT_PID:
		if (n < 9 || v[0] != 1)
			return VARVE_ECORRUPT;
		r->id = (int64_t)vv_load64(v + 1);
		return 0;
	case VV_META_PRODUCER:
		if (n < 11 || v[0] != 1)
			return VARVE_ECORRUPT;
		r->id = (int64_t)vv_load64(v + 1);
		r->epoch = vv_load16(v + 9);
		return 0;
	default:
		return VV_META_UNKNOWN;
	}
}

/* A key holding a topic (or producer) name after its kind byte. */
static int topic_name_key_decode(const uint8_t *k, size_t n, char *name)
{
	if (n < 2)
		return VARVE_ECORRUPT;
	VV_TRY(name_key_decode(k, n, name, VARVE_MAX_TOPIC_NAME));
	return varve_name_valid(name) ? 0 : VARVE_ECORRUPT;
}

/* The key of a record; r->kind is set. */
static int decode_key(const uint8_t *k, size_t n, vv_meta_rec *r)
{
	switch (r->kind) {
	case VV_META_TOPIC_CONFIG:
	case VV_META_PRODUCER:
		return topic_name_key_decode(k, n, r->name);
	case VV_META_COMMIT:
		return group_topic_key_decode(k, n, r);
	case VV_META_ATTEMPT:
		if (n <= 8)
			return VARVE_ECORRUPT;
		VV_TRY(group_topic_key_decode(k, n - 8, r));
		r->record_offset = (int64_t)vv_load64(k + n - 8);
		return 0;
	case VV_META_GROUP:
		return n >= 2 ? name_key_decode(k, n, r->group, VARVE_MAX_GROUP_NAME) : VARVE_ECORRUPT;
	case VV_META_NEXT_PID:
		return n == 1 ? 0 : VARVE_ECORRUPT;
	default:
		return VV_META_UNKNOWN;
	}
}

int vv_meta_decode(const varve_record *in, vv_meta_rec *r)
{
	r->deleted = in->value == NULL;
	r->log_offset = in->offset;
	r->text_len = 0;
	r->text[0] = 0;
	const uint8_t *k = in->key;
	if (!k || in->key_len < 1)
		return VV_META_UNKNOWN;
	r->kind = k[0];
	int rc = decode_key(k, in->key_len, r);
	if (rc || r->deleted)
		return rc;
	return decode_value(in->value, in->value_len, r);
}
