/* SPDX-License-Identifier: MIT */
/* report.c -- the recovery report (see report.h). */
#include <pthread.h>

#include "report.h"
#include "util.h"

struct vv_report {
	pthread_mutex_t mu;
	varve_recovery_cut *v;
	size_t n;
};

int vv_report_new(vv_report **out)
{
	*out = vv_calloc(1, sizeof **out);
	if (!*out)
		return vv_error_set(VARVE_ENOMEM, 0, "recovery report");
	pthread_mutex_init(&(*out)->mu, NULL);
	return 0;
}

void vv_report_free(vv_report *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	vv_free(r->v);
	vv_free(r);
}

void vv_report_add(void *ctx, const varve_recovery_cut *cut)
{
	vv_report *r = ctx;
	pthread_mutex_lock(&r->mu);
	varve_recovery_cut *nv = vv_realloc(r->v, (r->n + 1) * sizeof *nv);
	if (nv) {
		r->v = nv;
		r->v[r->n++] = *cut;
	}
	pthread_mutex_unlock(&r->mu);
}

void vv_report_get(vv_report *r, const varve_recovery_cut **cuts, size_t *n)
{
	*cuts = r->v;
	*n = r->n;
}
