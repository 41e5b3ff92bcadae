/* SPDX-License-Identifier: MIT */
/* topic.c -- topic configuration codec, partitioner, lifetime. */
#include <xxhash.h>

#include "io.h"
#include "topic.h"
#include "util.h"

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
		size_t len = strlen(g);
		if (len > VV_MAX_RETAIN_GROUPS)
			return vv_error_set(VARVE_EINVAL, 0, "topic config: retain_for_groups too long");
		/* comma-separated valid names */
		char name[VARVE_MAX_TOPIC_NAME + 2];
		const char *p = g;
		while (*p) {
			const char *comma = strchr(p, ',');
			size_t l = comma ? (size_t)(comma - p) : strlen(p);
			if (l == 0 || l > VARVE_MAX_TOPIC_NAME)
				return vv_error_set(VARVE_EINVAL, 0, "topic config: bad group list");
			memcpy(name, p, l);
			name[l] = 0;
			if (!varve_name_valid(name))
				return vv_error_set(VARVE_EINVAL, 0, "topic config: bad group name in list");
			p += l + (comma ? 1 : 0);
			if (comma && !*p)
				return vv_error_set(VARVE_EINVAL, 0, "topic config: bad group list");
		}
	}
	return 0;
}

size_t vv_topic_config_encode(const varve_topic_config *c, int64_t created_ms,
			      uint8_t out[VV_TOPIC_CONFIG_MAX])
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

int vv_topic_group_listed(const char *list, const char *group)
{
	if (!list)
		return 0;
	size_t gl = strlen(group);
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		if (l == gl && !memcmp(p, group, l))
			return 1;
		p += l + (comma ? 1 : 0);
	}
	return 0;
}

int vv_topic_config_decode(const uint8_t *b, size_t n, varve_topic_config *c, int64_t *created_ms,
			   char *groups)
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
	if (created_ms)
		*created_ms = (int64_t)vv_load64(p);
	p += 8;
	d.retention_hard_bytes = (int64_t)vv_load64(p);
	p += 8;
	size_t gl = vv_load16(p);
	p += 2;
	if (gl > VV_MAX_RETAIN_GROUPS || (size_t)(p - b) + gl != n)
		return VARVE_ECORRUPT;
	d.retain_for_groups = NULL;
	if (gl) {
		memcpy(groups, p, gl);
		groups[gl] = 0;
		d.retain_for_groups = groups;
	}
	if (vv_topic_config_validate(&d)) {
		vv_error_clear();
		return VARVE_ECORRUPT;
	}
	*c = d;
	return 0;
}

void vv_topic_config_copy_out(varve_topic_config *dst, const varve_topic_config *src)
{
	unsigned v = dst->version;
	/* version 1 is the whole struct today; later versions append fields */
	*dst = *src;
	dst->version = v;
}

uint32_t vv_topic_partition_for_key(const void *key, size_t len, uint32_t nparts)
{
	return (uint32_t)(XXH3_64bits(key, len) % nparts);
}

uint32_t vv_topic_partition_for_null(vv_topic *t, int batch_start)
{
	if (t->cfg.partitioner == VARVE_PARTITIONER_ROUND_ROBIN)
		return atomic_fetch_add(&t->rr_next, 1) % t->nparts;
	if (batch_start)
		return atomic_fetch_add(&t->sticky, 1) % t->nparts;
	return (atomic_load(&t->sticky) + t->nparts - 1) % t->nparts;
}

void vv_topic_ref(vv_topic *t) { atomic_fetch_add(&t->refs, 1); }

void vv_topic_unref(vv_topic *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (uint32_t i = 0; i < t->nparts; i++)
		vv_partition_close(t->parts[i], !atomic_load(&t->deleted));
	if (atomic_load(&t->deleted) && t->dir) {
		vv_error_saved e; /* cleanup must not hide the failure that led here */
		vv_error_save(&e);
		(void)vv_io_remove_tree(t->dir);
		vv_error_restore(&e);
	}
	if (t->dedup) {
		vv_dedup_free(t->dedup);
		vv_free(t->dedup);
	}
	vv_free(t->parts);
	vv_free(t->retain_groups);
	vv_free(t->name);
	vv_free(t->dir);
	vv_free(t);
}
