/* SPDX-License-Identifier: MIT */
/*
 * idempotent.c -- producer handles: ids and epochs allocated durably in the
 * metadata log, sequence numbers per partition, and the send call that the
 * partition checks against its producer state (producer.h).
 *
 * Metadata records (docs/FORMAT.md):
 *   'N'          -> u8 1, i64 next producer id
 *   'P' + name   -> u8 1, i64 producer id, u16 epoch
 */
#include <inttypes.h>
#include <stdio.h>

#include "store.h"
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

int vv_producers_apply(vv_producer_registry *r, const varve_record *rec)
{
	const uint8_t *k = rec->key;
	const uint8_t *v = rec->value;
	if (k[0] == VV_META_KEY_NEXT_PID) {
		if (v && rec->value_len >= 9 && v[0] == 1) {
			int64_t next = (int64_t)vv_load64(v + 1);
			if (next > r->next_pid)
				r->next_pid = next;
		}
		return 0;
	}
	/* 'P' + name */
	size_t nl = rec->key_len - 1;
	if (nl == 0 || nl > VARVE_MAX_TOPIC_NAME)
		return 0;
	char name[VARVE_MAX_TOPIC_NAME + 1];
	memcpy(name, k + 1, nl);
	name[nl] = 0;
	size_t i;
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].name, name))
			break;
	if (!v) {
		if (i < r->n) {
			vv_free(r->v[i].name);
			r->v[i] = r->v[--r->n];
		}
		return 0;
	}
	if (rec->value_len < 11 || v[0] != 1)
		return 0;
	int64_t id = (int64_t)vv_load64(v + 1);
	if (id < 0)
		return 0; /* not an id this store hands out (-1 means none): skip */
	if (i == r->n) {
		if (r->n == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 8;
			void *nv = vv_realloc(r->v, nc * sizeof *r->v);
			if (!nv)
				return vv_error_set(VARVE_ENOMEM, 0, "producer registry");
			r->v = nv;
			r->cap = nc;
		}
		if (!(r->v[i].name = vv_strdup(name)))
			return vv_error_set(VARVE_ENOMEM, 0, "producer registry");
		r->n++;
	}
	r->v[i].id = id;
	r->v[i].epoch = vv_load16(v + 9);
	if (id >= r->next_pid) /* INT64_MAX stays: producer_open refuses to go past it */
		r->next_pid = id < INT64_MAX ? id + 1 : INT64_MAX;
	return 0;
}

void vv_producers_free(vv_producer_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		vv_free(r->v[i].name);
	vv_free(r->v);
	memset(r, 0, sizeof *r);
}

int varve_producer_open(varve_db *db, const varve_producer_options *opts, varve_producer **out)
{
	if (!out)
		return vv_error_set(VARVE_EINVAL, 0, "out is NULL");
	*out = NULL;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->read_only)
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
	vv_producer_registry *r = &db->producers;
	pthread_mutex_lock(&db->commit_mu);
	int64_t id = r->next_pid;
	uint16_t epoch = 0;
	int fresh = 1;
	if (o.name) {
		for (size_t i = 0; i < r->n; i++) {
			if (strcmp(r->v[i].name, o.name))
				continue;
			id = r->v[i].id;
			epoch = o.resume ? r->v[i].epoch : (uint16_t)(r->v[i].epoch + 1);
			fresh = 0;
		}
	}
	if (fresh && id == INT64_MAX) {
		pthread_mutex_unlock(&db->commit_mu);
		pthread_mutex_destroy(&p->mu);
		vv_free(p);
		return vv_error_set(VARVE_ECORRUPT, 0, "producer ids exhausted (the metadata log says %" PRId64 ")",
				    id);
	}
	/* One batch: the id counter and the name's record, synced. */
	uint8_t nk[1] = { VV_META_KEY_NEXT_PID }, nv[9], pk[VARVE_MAX_TOPIC_NAME + 1], pv[11];
	nv[0] = 1;
	vv_store64(nv + 1, (uint64_t)(fresh ? id + 1 : r->next_pid));
	varve_record recs[2];
	const varve_record *ptrs[2];
	size_t nr = 0;
	if (fresh) {
		recs[nr] = (varve_record){ nk, 1, nv, 9, NULL, 0, 0, 0, 0, 0 };
		ptrs[nr] = &recs[nr];
		nr++;
	}
	if (o.name) {
		size_t nl = strlen(o.name);
		pk[0] = VV_META_KEY_PRODUCER;
		memcpy(pk + 1, o.name, nl);
		pv[0] = 1;
		vv_store64(pv + 1, (uint64_t)id);
		vv_store16(pv + 9, epoch);
		recs[nr] = (varve_record){ pk, nl + 1, pv, 11, NULL, 0, 0, 0, 0, 0 };
		ptrs[nr] = &recs[nr];
		nr++;
	}
	int rc = 0;
	if (nr) {
		vv_append_opts ao = { -1, -1, 0, -1, 1, 0, 0, 0 };
		rc = vv_partition_append(db->meta->log, ptrs, nr, &ao, NULL);
	}
	pthread_mutex_lock(&db->producers_mu);
	for (size_t i = 0; rc == 0 && i < nr; i++)
		rc = vv_producers_apply(r, &recs[i]);
	pthread_mutex_unlock(&db->producers_mu);
	pthread_mutex_unlock(&db->commit_mu);
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
	varve_db *db = p->db;
	int rc = 0;
	pthread_mutex_lock(&db->producers_mu);
	for (size_t i = 0; i < db->producers.n; i++)
		if (!strcmp(db->producers.v[i].name, p->name) && db->producers.v[i].epoch != p->epoch)
			rc = vv_error_set(VARVE_EFENCED, 0,
					  "producer %s epoch %u is fenced by epoch %u", p->name,
					  p->epoch, db->producers.v[i].epoch);
	pthread_mutex_unlock(&db->producers_mu);
	return rc;
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
	p->seqs[p->n] = (seqslot){ t, part, (last >= 0 && ep == p->epoch) ? last + 1 : 0 };
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
	VV_TRY(vv_store_topic(p->db, topic, &t));
	uint32_t part;
	int rc = vv_store_pick_partition(t, &recs[0], partition, 1, &part);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = vv_store_check_record(t, &recs[i]);
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
			if (seq + (int32_t)n > ss->next)
				ss->next = seq + (int32_t)n;
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
	VV_TRY(vv_store_partition(p->db, topic, partition, &t, &part));
	uint16_t ep = 0;
	int32_t s = vv_partition_producer_seq(part, p->id, &ep);
	*seq_out = (s >= 0 && ep == p->epoch) ? s : -1;
	vv_topic_unref(t);
	return 0;
}
