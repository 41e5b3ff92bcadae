/* SPDX-License-Identifier: MIT */
/* meta.c -- the metadata log (see meta.h). */
#include <stdio.h>

#include "meta.h"
#include "reader.h"
#include "util.h"

int vv_meta_open(const char *store_path, const vv_part_config *cfg, int clean, vv_meta **out)
{
	*out = NULL;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/meta", store_path);
	vv_meta *m = vv_calloc(1, sizeof *m);
	if (!m)
		return vv_error_set(VARVE_ENOMEM, 0, "metadata log");
	int rc = vv_partition_open(dir, VV_META_TOPIC, 0, cfg, clean, &m->log);
	if (rc) {
		vv_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int vv_meta_close(vv_meta *m, int clean)
{
	if (!m)
		return 0;
	int rc = vv_partition_close(m->log, clean);
	vv_free(m);
	return rc;
}

int vv_meta_replay(vv_meta *m, int (*fn)(void *ctx, const varve_record *r), void *ctx)
{
	vv_reader r;
	VV_TRY(vv_reader_init(&r, m->log, atomic_load(&m->log->start_offset)));
	const varve_record *rec;
	int rc;
	while ((rc = vv_reader_next(&r, &rec)) == 0) {
		if ((rc = fn(ctx, rec)))
			break;
	}
	vv_reader_free(&r);
	return rc == VARVE_EEND ? 0 : rc;
}

int vv_meta_put(vv_meta *m, const void *key, size_t klen, const void *val, size_t vlen, int sync)
{
	varve_record rec = { key, klen, val, vlen, NULL, 0, VARVE_TIMESTAMP_NOW, 0, 0, 0 };
	const varve_record *recs[1] = { &rec };
	vv_append_opts o = { -1, -1, 0, -1, sync, 0, 0, 0 };
	return vv_partition_append(m->log, recs, 1, &o, NULL);
}
