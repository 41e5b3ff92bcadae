/* SPDX-License-Identifier: MIT */
/*
 * dlq.c -- negative acknowledgements: attempt counts kept in the metadata
 * log ('A' records), redelivery after a backoff, dead letters after
 * max_attempts, and moving dead letters back (varve_dlq_replay). May call:
 * consume (groups, consumer), produce through the public API (dead letters
 * are records like any other), meta, topic, base.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "consumer.h"
#include "util.h"

/* Write attempt records (value NULL: forget them) for a group in one batch. */
static int write_attempts(varve_db *db, const char *group, const vv_retry *v, size_t n,
			  int deleted)
{
	vv_meta_rec *r = vv_calloc(1, sizeof *r);
	if (!r)
		return vv_error_set(VARVE_ENOMEM, 0, "attempt records");
	vv_meta_batch b;
	vv_meta_batch_init(&b);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		memset(r, 0, sizeof *r);
		r->kind = VV_META_ATTEMPT;
		r->deleted = deleted;
		snprintf(r->group, sizeof r->group, "%s", group);
		snprintf(r->name, sizeof r->name, "%s", v[i].topic);
		r->partition = v[i].partition;
		r->record_offset = v[i].offset;
		r->attempts = v[i].attempts;
		r->time = v[i].due;
		const char *why = v[i].reason ? v[i].reason : "";
		r->text_len = strlen(why) > VV_MAX_NACK_REASON ? VV_MAX_NACK_REASON : strlen(why);
		memcpy(r->text, why, r->text_len);
		r->text[r->text_len] = 0;
		if ((rc = vv_meta_batch_add(&b, r)) != 0)
			goto out;
	}
	/* applying the records updates the group's retry table */
	rc = vv_meta_write(db->meta, &b, db->env.opts.sync_policy == VARVE_SYNC_ALWAYS);
out:
	vv_meta_batch_free(&b);
	vv_free(r);
	return rc;
}

int vv_dlq_forget_delivered(varve_consumer *c)
{
	varve_db *db = c->db;
	vv_retry gone[16];
	char topics[16][VARVE_MAX_TOPIC_NAME + 1];
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&db->groups->mu);
		vv_group *grp = vv_groups_find(db->groups, c->group, 0);
		for (size_t i = 0; grp && i < grp->nretries && n < 16; i++) {
			vv_retry *r = &grp->retries[i];
			if (!r->delivered || !vv_consumer_find_assigned(c, r->topic, r->partition))
				continue;
			snprintf(topics[n], sizeof topics[n], "%s", r->topic);
			gone[n] = (vv_retry){ topics[n], r->partition, r->offset, 0, 0, NULL, 0 };
			n++;
		}
		pthread_mutex_unlock(&db->groups->mu);
		if (n)
			VV_TRY(write_attempts(db, c->group, gone, n, 1));
		if (n < 16)
			return 0;
	}
}

/* ---- negative acknowledgements and dead letters -------------------------------------------- */

uint32_t varve_consumer_attempts(varve_consumer *c, const varve_msg *m)
{
	if (!c || !m || m < c->msgs || m >= c->msgs + c->mcap)
		return 0;
	return c->att[m - c->msgs];
}

static int dlq_name(varve_consumer *c, const char *topic, char *out, size_t cap)
{
	if (c->o.dlq_topic)
		snprintf(out, cap, "%s", c->o.dlq_topic);
	else
		snprintf(out, cap, "%s.dlq", topic);
	if (!varve_name_valid(out))
		return vv_error_set(VARVE_EINVAL, 0, "dead-letter topic name \"%.40s\" is not valid", out);
	return 0;
}

/* Append m to the dead-letter topic with headers saying where it came from. */
static int dead_letter(varve_consumer *c, const varve_msg *m, uint32_t attempts, const char *reason)
{
	varve_db *db = c->db;
	char dlq[VARVE_MAX_TOPIC_NAME + 16];
	VV_TRY(dlq_name(c, m->topic, dlq, sizeof dlq));
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	int rc = varve_topic_create(db, dlq, &tc);
	if (rc && rc != VARVE_EEXISTS)
		return rc;
	vv_error_clear();
	size_t nh = m->rec.header_count + 5;
	varve_header *h = vv_malloc(nh * sizeof *h);
	if (!h)
		return vv_error_set(VARVE_ENOMEM, 0, "dead letter");
	char part[16], off[24], att[16];
	snprintf(part, sizeof part, "%d", m->rec.partition);
	snprintf(off, sizeof off, "%lld", (long long)m->rec.offset);
	snprintf(att, sizeof att, "%u", attempts);
	const char *why = reason ? reason : "";
	size_t wl = strlen(why) > VV_MAX_NACK_REASON ? VV_MAX_NACK_REASON : strlen(why);
	h[0] = (varve_header){ "dlq-topic", 9, m->topic, strlen(m->topic) };
	h[1] = (varve_header){ "dlq-partition", 13, part, strlen(part) };
	h[2] = (varve_header){ "dlq-offset", 10, off, strlen(off) };
	h[3] = (varve_header){ "dlq-attempts", 12, att, strlen(att) };
	h[4] = (varve_header){ "dlq-reason", 10, why, wl };
	for (size_t i = 0; i < m->rec.header_count; i++)
		h[5 + i] = m->rec.headers[i];
	varve_record r = { m->rec.key, m->rec.key_len, m->rec.value, m->rec.value_len, h, nh,
			   m->rec.timestamp, VARVE_PARTITION_ANY, 0, 0 };
	rc = varve_produce(db, dlq, &r, NULL, NULL);
	vv_free(h);
	VV_TRY(rc);
	vv_env_log(&db->env, VARVE_LOG_WARN,
		   "group %s: %s/%d offset %lld failed %u times (%s); moved to %s", c->group,
		   m->topic, m->rec.partition, (long long)m->rec.offset, attempts, why, dlq);
	return 0;
}

int varve_consumer_nack(varve_consumer *c, const varve_msg *m, const char *reason)
{
	if (!c || !m || !m->topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	varve_db *db = c->db;
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "cannot nack on a read-only store");
	uint32_t done = varve_consumer_attempts(c, m);
	if (done == 0) {
		/* not from the last poll: count what the table knows */
		pthread_mutex_lock(&db->groups->mu);
		vv_group *grp = vv_groups_find(db->groups, c->group, 0);
		vv_retry *r = grp ? vv_group_retry_find(grp, m->topic, (uint32_t)m->rec.partition,
							m->rec.offset)
				  : NULL;
		done = (r ? r->attempts : 0) + 1;
		pthread_mutex_unlock(&db->groups->mu);
	}
	vv_retry one = { (char *)m->topic, (uint32_t)m->rec.partition, m->rec.offset, done, 0,
			 (char *)(reason ? reason : ""), 0 };
	if (done >= c->o.max_attempts) {
		VV_TRY(dead_letter(c, m, done, reason));
		/* forgetting the attempts takes the retry out of the table */
		return write_attempts(db, c->group, &one, 1, 1);
	}
	uint64_t delay = c->o.retry_backoff_ms;
	for (uint32_t i = 1; i < done && delay < c->o.retry_backoff_max_ms; i++)
		delay *= 2;
	if (delay > c->o.retry_backoff_max_ms)
		delay = c->o.retry_backoff_max_ms;
	one.due = vv_env_now(&db->env) + (int64_t)delay;
	return write_attempts(db, c->group, &one, 1, 0);
}

static const varve_header *find_header(const varve_record *r, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < r->header_count; i++)
		if (r->headers[i].key_len == kl && !memcmp(r->headers[i].key, key, kl))
			return &r->headers[i];
	return NULL;
}

static int header_text(const varve_record *r, const char *key, char *out, size_t cap)
{
	const varve_header *h = find_header(r, key);
	if (!h || !h->value || h->value_len >= cap)
		return -1;
	memcpy(out, h->value, h->value_len);
	out[h->value_len] = 0;
	return 0;
}

#define REPLAY_GROUP "__dlq-replay"

/* Move the dead letter r back to the topic and partition its headers name,
 * without its dlq-* headers (*hv: scratch for them). A record without a
 * dlq-topic header, or whose topic is gone, is skipped and logged. *moved
 * says whether it was appended. */
static int replay_one(varve_db *db, const char *dlq_topic, const varve_record *r,
		      varve_header **hv, size_t *hcap, int *moved)
{
	char topic[VARVE_MAX_TOPIC_NAME + 1], pbuf[16];
	*moved = 0;
	if (header_text(r, "dlq-topic", topic, sizeof topic) || !varve_name_valid(topic)) {
		vv_env_log(&db->env, VARVE_LOG_WARN, "%s offset %lld has no dlq-topic header; skipped",
			   dlq_topic, (long long)r->offset);
		return 0;
	}
	int32_t opart = VARVE_PARTITION_ANY;
	if (header_text(r, "dlq-partition", pbuf, sizeof pbuf) == 0)
		opart = (int32_t)strtol(pbuf, NULL, 10);
	if (r->header_count > *hcap) {
		varve_header *nh = vv_realloc(*hv, r->header_count * sizeof *nh);
		if (!nh)
			return vv_error_set(VARVE_ENOMEM, 0, "dlq replay");
		*hv = nh;
		*hcap = r->header_count;
	}
	size_t nh = 0;
	for (size_t i = 0; i < r->header_count; i++)
		if (!(r->headers[i].key_len >= 4 && !memcmp(r->headers[i].key, "dlq-", 4)))
			(*hv)[nh++] = r->headers[i];
	vv_topic *ot;
	if (vv_topics_find(db->topics, topic, &ot)) {
		vv_error_clear();
		vv_env_log(&db->env, VARVE_LOG_WARN, "%s offset %lld: topic %s is gone; skipped",
			   dlq_topic, (long long)r->offset, topic);
		return 0;
	}
	if (opart >= 0 && (uint32_t)opart >= ot->nparts)
		opart = VARVE_PARTITION_ANY;
	vv_topic_unref(ot);
	varve_record out = { r->key, r->key_len, r->value, r->value_len, nh ? *hv : NULL, nh,
			     r->timestamp, opart, 0, 0 };
	VV_TRY(varve_produce(db, topic, &out, NULL, NULL));
	*moved = 1;
	return 0;
}

/* Partition p of the dead-letter topic, from where the last replay
 * stopped, until max_records (0: no limit) have moved in all. */
static int replay_partition(varve_db *db, vv_topic *t, uint32_t p, uint64_t max_records,
			    uint64_t *moved, varve_header **hv, size_t *hcap)
{
	vv_partition *part = t->parts[p];
	int64_t from = atomic_load(&part->start_offset), committed;
	if (varve_group_offset(db, REPLAY_GROUP, t->name, (int32_t)p, &committed) == 0 &&
	    committed > from)
		from = committed;
	vv_error_clear();
	int64_t end = atomic_load(&part->end_offset);
	if (from >= end)
		return 0;
	vv_reader rd;
	const varve_record *r;
	int64_t next = from;
	int rc = vv_reader_init(&rd, part, from);
	if (rc)
		goto out;
	while (!max_records || *moved < max_records) {
		if ((rc = vv_reader_next(&rd, &r)) != 0)
			break;
		next = r->offset + 1;
		int one;
		if ((rc = replay_one(db, t->name, r, hv, hcap, &one)) != 0)
			break;
		*moved += (uint64_t)one;
	}
	if (rc == VARVE_EEND)
		rc = 0;
out:
	vv_reader_free(&rd);
	vv_first_error first = VV_FIRST_ERROR_INIT;
	vv_first_error_note(&first, rc);
	/* at-least-once: a crash before this commit replays these again */
	if (next > from)
		vv_first_error_note(&first, varve_group_commit(db, REPLAY_GROUP, t->name,
							       (int32_t)p, next, NULL));
	return vv_first_error_end(&first);
}

int varve_dlq_replay(varve_db *db, const char *dlq_topic, uint64_t max_records, uint64_t *moved_out)
{
	if (moved_out)
		*moved_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	vv_topic *t;
	VV_TRY(vv_topics_find(db->topics, dlq_topic, &t));
	uint64_t moved = 0;
	int rc = 0;
	varve_header *hv = NULL;
	size_t hcap = 0;
	for (uint32_t p = 0; p < t->nparts; p++)
		if ((rc = replay_partition(db, t, p, max_records, &moved, &hv, &hcap)) != 0)
			break;
	vv_free(hv);
	vv_topic_unref(t);
	if (moved_out)
		*moved_out = moved;
	return rc;
}
