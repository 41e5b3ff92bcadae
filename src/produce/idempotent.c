/* SPDX-License-Identifier: MIT */
/*
 * idempotent.c -- producer handles: ids and epochs allocated durably in the
 * metadata log, sequence numbers per partition, and the send call that the
 * partition checks against its producer state (producer.h).
 *
 * Ids and epochs come from the producer registry (producers.h). May call:
 * produce (producers), topic, log, base.
 */
#include <inttypes.h>
#include <stdio.h>

#include "db.h"
#include "producers.h"
#include "registry.h"
#include "util.h"

typedef struct seqslot {
	vv_topic *t;
	uint32_t partition;
	int32_t next;
} seqslot;

struct varve_producer {
	varve_db *db;
	char *name;
	int64_t id;
	uint16_t epoch;
	seqslot *seqs;
	size_t n, cap;
	pthread_mutex_t mu;
};

int varve_producer_open(varve_db *db, const varve_producer_options *opts, varve_producer **out)
{
	if (!out)
		return vv_error_set(VARVE_EINVAL, 0, "out is NULL");
	*out = NULL;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	varve_producer_options o = VARVE_PRODUCER_OPTIONS_INIT;
	if (opts) {
		if (opts->version != VARVE_PRODUCER_OPTIONS_VERSION)
			return vv_error_set(VARVE_EINVAL, 0, "varve_producer_options.version is %u",
					    opts->version);
		o = *opts;
	}
	if (o.name && !varve_name_valid(o.name))
		return vv_error_set(VARVE_EINVAL, 0, "invalid producer name");
	varve_producer *p = vv_calloc(1, sizeof *p);
	if (!p)
		return vv_error_set(VARVE_ENOMEM, 0, "producer");
	pthread_mutex_init(&p->mu, NULL);
	p->db = db;
	int64_t id = -1;
	uint16_t epoch = 0;
	int rc = vv_producers_acquire(db->producers, o.name, o.resume, &id, &epoch);
	if (rc == 0 && o.name && !(p->name = vv_strdup(o.name)))
		rc = vv_error_set(VARVE_ENOMEM, 0, "producer");
	if (rc) {
		pthread_mutex_destroy(&p->mu);
		vv_free(p->name);
		vv_free(p);
		return rc;
	}
	p->id = id;
	p->epoch = epoch;
	*out = p;
	return 0;
}

void varve_producer_close(varve_producer *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		vv_topic_unref(p->seqs[i].t);
	vv_free(p->seqs);
	vv_free(p->name);
	pthread_mutex_destroy(&p->mu);
	vv_free(p);
}

/* A named handle is fenced as soon as a newer epoch was opened. */
static int check_fenced(varve_producer *p)
{
	if (!p->name)
		return 0;
	int ep = vv_producers_epoch(p->db->producers, p->name);
	if (ep >= 0 && ep != p->epoch)
		return vv_error_set(VARVE_EFENCED, 0, "producer %s epoch %u is fenced by epoch %d",
				    p->name, p->epoch, ep);
	return 0;
}

int varve_producer_id(const varve_producer *p, int64_t *id_out, uint16_t *epoch_out)
{
	if (!p)
		return vv_error_set(VARVE_EINVAL, 0, "producer is NULL");
	if (id_out)
		*id_out = p->id;
	if (epoch_out)
		*epoch_out = p->epoch;
	return 0;
}

/* Sequence slot for (t, partition), created from the partition's state. */
static seqslot *slot_for(varve_producer *p, vv_topic *t, uint32_t part)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->seqs[i].t == t && p->seqs[i].partition == part)
			return &p->seqs[i];
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 8;
		seqslot *nv = vv_realloc(p->seqs, nc * sizeof *nv);
		if (!nv)
			return NULL;
		p->seqs = nv;
		p->cap = nc;
	}
	uint16_t ep = 0;
	int32_t last = vv_partition_producer_seq(t->parts[part], p->id, &ep);
	vv_topic_ref(t);
	p->seqs[p->n] = (seqslot){ t, part, (last >= 0 && ep == p->epoch) ? vv_seq_add(last, 1) : 0 };
	return &p->seqs[p->n++];
}

int varve_producer_send(varve_producer *p, const char *topic, int32_t partition,
			varve_record *recs, size_t n, int32_t *sequence)
{
	if (!p || !recs || n == 0 || !sequence)
		return vv_error_set(VARVE_EINVAL, 0, "producer send needs records and a sequence");
	if (n > INT32_MAX)
		return vv_error_set(VARVE_ETOOBIG, 0, "batch too large");
	VV_TRY(check_fenced(p));
	vv_topic *t;
	VV_TRY(vv_topics_find(p->db->topics, topic, &t));
	uint32_t part;
	int rc = vv_topic_pick_partition(t, &recs[0], partition, 1, &part);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = vv_topic_check_record(t, &recs[i]);
	const varve_record **ptrs = rc ? NULL : vv_malloc(n * sizeof *ptrs);
	if (rc == 0 && !ptrs)
		rc = vv_error_set(VARVE_ENOMEM, 0, "producer send");
	pthread_mutex_lock(&p->mu);
	seqslot *ss = rc ? NULL : slot_for(p, t, part);
	if (rc == 0 && !ss)
		rc = vv_error_set(VARVE_ENOMEM, 0, "producer sequences");
	int32_t seq = 0;
	if (rc == 0) {
		seq = *sequence == VARVE_SEQUENCE_AUTO ? ss->next : *sequence;
		if (seq < 0)
			rc = vv_error_set(VARVE_EINVAL, 0, "negative sequence %d", seq);
	}
	if (rc == 0) {
		for (size_t i = 0; i < n; i++)
			ptrs[i] = &recs[i];
		vv_append_opts ao = { -1, p->id, p->epoch, seq, 0, 0, 0, 0 };
		int64_t base = -1;
		rc = vv_partition_append(t->parts[part], ptrs, n, &ao, &base);
		if (rc == 0) {
			for (size_t i = 0; i < n; i++) {
				recs[i].partition = (int32_t)part;
				recs[i].offset = base + (int64_t)i;
				recs[i].flags = ao.duplicate ? VARVE_RECORD_DUPLICATE : 0;
			}
			*sequence = seq;
			/* an explicit older sequence (a retry) does not move next back */
			int32_t end = vv_seq_add(seq, (uint32_t)n);
			if (vv_seq_distance(ss->next, end) < 0x40000000u)
				ss->next = end;
		}
	}
	pthread_mutex_unlock(&p->mu);
	vv_free(ptrs);
	vv_topic_unref(t);
	return rc;
}

int varve_producer_last_sequence(varve_producer *p, const char *topic, int32_t partition,
				 int32_t *seq_out)
{
	if (!seq_out)
		return vv_error_set(VARVE_EINVAL, 0, "seq_out is NULL");
	*seq_out = -1;
	if (!p)
		return vv_error_set(VARVE_EINVAL, 0, "producer is NULL");
	vv_topic *t;
	vv_partition *part;
	VV_TRY(vv_topics_partition(p->db->topics, topic, partition, &t, &part));
	uint16_t ep = 0;
	int32_t s = vv_partition_producer_seq(part, p->id, &ep);
	*seq_out = (s >= 0 && ep == p->epoch) ? s : -1;
	vv_topic_unref(t);
	return 0;
}

int varve_producer_id_new(varve_db *db, int64_t *id_out)
{
	if (!id_out)
		return vv_error_set(VARVE_EINVAL, 0, "id_out is NULL");
	*id_out = -1;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	uint16_t epoch;
	return vv_producers_acquire(db->producers, NULL, 0, id_out, &epoch);
}
