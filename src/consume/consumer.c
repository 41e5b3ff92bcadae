/* SPDX-License-Identifier: MIT */
/*
 * consumer.c -- consumers in groups: assignment, poll with fair rotation,
 * seeks, positions, auto-commit. May call: consume (groups, notify,
 * offsets, dlq), topic, log, base.
 *
 * NOTES ON THE DESIGN
 *  1. poll copies the records it returns into the consumer's arena (one
 *     buffer grown as needed and reused), so a poll can hold many records
 *     of one partition while that partition's reader moves on. Pointers are
 *     fixed up once the poll has gathered everything, as the arena may move.
 *  2. A committed offset is never ahead of the durable data: before the
 *     commit record is written, the partition is synced up to it (offsets.c).
 *  3. Wake-ups: a consumer registers a waiter (notify.h): its eventfd, and
 *     the condition variable a blocking poll waits on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "consumer.h"
#include "util.h"

/* ---- consumer lifetime ------------------------------------------------------------------- */

/* A record may be there for c: call its notify callback. */
static void notified(void *ctx)
{
	varve_consumer *c = ctx;
	if (c->o.notify_fn)
		c->o.notify_fn(c->o.notify_ctx, c);
}

int varve_consumer_options_init(varve_consumer_options *o, unsigned int version)
{
	if (!o || version != VARVE_CONSUMER_OPTIONS_VERSION)
		return vv_error_set(VARVE_EINVAL, 0, "unknown varve_consumer_options version %u",
				    version);
	varve_consumer_options d = VARVE_CONSUMER_OPTIONS_INIT;
	*o = d;
	return 0;
}

static void drop_assigned(assigned *a)
{
	if (a->reader_ok)
		vv_reader_free(&a->r);
	vv_topic_unref(a->t);
	memset(a, 0, sizeof *a);
}

static void free_consumer(varve_consumer *c)
{
	for (size_t i = 0; i < c->nas; i++)
		drop_assigned(&c->as[i]);
	vv_free(c->as);
	varve_strings_free(c->topics, c->ntopics);
	vv_free(c->group);
	vv_free(c->msgs);
	vv_free(c->fix);
	vv_free(c->att);
	vv_free(c->arena);
	vv_free(c->hdrs);
	vv_free(c->hfix);
	vv_free(c->tps);
	vv_notify_remove(c->db->notify, c->waiter);
	vv_free(c);
}

int varve_consumer_open(varve_db *db, const char *group, const char *const *topics,
			size_t ntopics, const varve_consumer_options *opts, varve_consumer **out)
{
	if (!out)
		return vv_error_set(VARVE_EINVAL, 0, "out is NULL");
	*out = NULL;
	if (!db || !topics || ntopics == 0)
		return vv_error_set(VARVE_EINVAL, 0, "consumer needs a store and at least one topic");
	if (!vv_group_name_ok(group))
		return vv_error_set(VARVE_EINVAL, 0, "invalid group name: 1..%d bytes, no NUL",
				    VARVE_MAX_GROUP_NAME);
	varve_consumer_options o = VARVE_CONSUMER_OPTIONS_INIT;
	if (opts) {
		if (opts->version != VARVE_CONSUMER_OPTIONS_VERSION)
			return vv_error_set(VARVE_EINVAL, 0, "varve_consumer_options.version is %u",
					    opts->version);
		o = *opts;
	}
	if (o.auto_offset_reset < VARVE_RESET_EARLIEST || o.auto_offset_reset > VARVE_RESET_NONE)
		return vv_error_set(VARVE_EINVAL, 0, "unknown auto_offset_reset");
	if (o.max_records == 0)
		o.max_records = 1;
	for (size_t i = 0; i < ntopics; i++) {
		vv_topic *t;
		VV_TRY(vv_topics_find(db->topics, topics[i], &t));
		vv_topic_unref(t);
	}
	varve_consumer *c = vv_calloc(1, sizeof *c);
	if (!c)
		return vv_error_set(VARVE_ENOMEM, 0, "consumer");
	c->db = db;
	c->o = o;
	c->group = vv_strdup(group);
	c->topics = vv_calloc(ntopics, sizeof *c->topics);
	int rc = (!c->group || !c->topics) ? vv_error_set(VARVE_ENOMEM, 0, "consumer") : 0;
	for (size_t i = 0; rc == 0 && i < ntopics; i++) {
		if (!(c->topics[i] = vv_strdup(topics[i])))
			rc = vv_error_set(VARVE_ENOMEM, 0, "consumer");
		else
			c->ntopics = i + 1;
	}
	if (rc) {
		free_consumer(c);
		return rc;
	}
	c->last_auto_commit = vv_env_now(&db->env);
	rc = vv_notify_add(db->notify, (const char *const *)c->topics, c->ntopics, notified, c,
			   &c->waiter);
	if (rc) {
		free_consumer(c);
		return rc;
	}
	vv_groups *g = db->groups;
	pthread_mutex_lock(&g->mu);
	vv_group *grp = vv_groups_find(g, group, 1);
	rc = grp ? vv_group_join(g, grp, c, (const char *const *)c->topics, c->ntopics)
		 : vv_error_set(VARVE_ENOMEM, 0, "group table");
	pthread_mutex_unlock(&g->mu);
	if (rc) {
		free_consumer(c);
		return rc;
	}
	atomic_fetch_add(&db->open_handles, 1);
	vv_waiter_arm(db->notify, c->waiter);
	*out = c;
	return 0;
}

void varve_consumer_close(varve_consumer *c)
{
	if (!c)
		return;
	varve_db *db = c->db;
	pthread_mutex_lock(&db->groups->mu);
	vv_group *grp = vv_groups_find(db->groups, c->group, 0);
	if (grp)
		vv_group_leave(grp, c);
	pthread_mutex_unlock(&db->groups->mu);
	atomic_fetch_sub(&db->open_handles, 1);
	free_consumer(c);
}

/* ---- assignment --------------------------------------------------------------------------- */

assigned *vv_consumer_find_assigned(varve_consumer *c, const char *topic, uint32_t partition)
{
	for (size_t i = 0; i < c->nas; i++)
		if (c->as[i].partition == partition && !strcmp(c->as[i].t->name, topic))
			return &c->as[i];
	return NULL;
}

static int commit_positions(varve_consumer *c, assigned *only, size_t nonly);

/* Recompute the assignment if the group changed; keep positions of
 * partitions we keep, start new ones from the committed offset. */
static int refresh_assignment(varve_consumer *c)
{
	varve_db *db = c->db;
	pthread_mutex_lock(&db->groups->mu);
	vv_group *grp = vv_groups_find(db->groups, c->group, 0);
	uint64_t gen = grp ? grp->generation : 0;
	if (c->as_valid && gen == c->as_gen) {
		pthread_mutex_unlock(&db->groups->mu);
		return 0;
	}
	/* Wanted (topic, partition) pairs. */
	size_t want_n = 0, want_cap = 16;
	struct tp {
		vv_topic *t;
		uint32_t part;
	} *want = vv_malloc(want_cap * sizeof *want);
	int rc = want ? 0 : vv_error_set(VARVE_ENOMEM, 0, "assignment");
	for (size_t i = 0; rc == 0 && grp && i < c->ntopics; i++) {
		vv_topic *t;
		if (vv_topics_find(db->topics, c->topics[i], &t)) {
			vv_error_clear();
			continue; /* deleted since: nothing to read */
		}
		uint32_t first, count;
		vv_group_assigned_range(grp, c, t->name, t->nparts, &first, &count);
		for (uint32_t k = 0; k < count; k++) {
			if (want_n == want_cap) {
				want_cap *= 2;
				void *nw = vv_realloc(want, want_cap * sizeof *want);
				if (!nw) {
					rc = vv_error_set(VARVE_ENOMEM, 0, "assignment");
					break;
				}
				want = nw;
			}
			vv_topic_ref(t);
			want[want_n++] = (struct tp){ t, first + k };
		}
		vv_topic_unref(t);
	}
	pthread_mutex_unlock(&db->groups->mu);
	if (rc) {
		for (size_t i = 0; i < want_n; i++)
			vv_topic_unref(want[i].t);
		vv_free(want);
		return rc;
	}
	assigned *nas = vv_calloc(want_n ? want_n : 1, sizeof *nas);
	if (!nas) {
		for (size_t i = 0; i < want_n; i++)
			vv_topic_unref(want[i].t);
		vv_free(want);
		return vv_error_set(VARVE_ENOMEM, 0, "assignment");
	}
	/* Partitions we lose: commit their progress first if auto-commit is on. */
	for (size_t i = 0; i < c->nas; i++) {
		int keep = 0;
		for (size_t k = 0; k < want_n; k++)
			if (want[k].t == c->as[i].t && want[k].part == c->as[i].partition)
				keep = 1;
		if (!keep && c->o.auto_commit)
			(void)commit_positions(c, &c->as[i], 1);
	}
	for (size_t k = 0; k < want_n; k++) {
		assigned *old = NULL;
		for (size_t i = 0; i < c->nas; i++)
			if (c->as[i].t == want[k].t && c->as[i].partition == want[k].part)
				old = &c->as[i];
		if (old) {
			nas[k] = *old;
			memset(old, 0, sizeof *old); /* moved */
			vv_topic_unref(want[k].t);
		} else {
			nas[k].t = want[k].t;
			nas[k].partition = want[k].part;
			nas[k].position = -1;
			nas[k].committed = -1;
		}
	}
	for (size_t i = 0; i < c->nas; i++)
		if (c->as[i].t)
			drop_assigned(&c->as[i]);
	vv_free(c->as);
	vv_free(want);
	c->as = nas;
	c->nas = want_n;
	c->as_gen = gen;
	c->as_valid = 1;
	c->rotate = 0;
	return 0;
}

static void note_reset(varve_consumer *c, assigned *a, int64_t from, int64_t to, const char *why)
{
	atomic_fetch_add(&c->resets, 1);
	vv_env_log(&c->db->env, VARVE_LOG_WARN,
		     "group %s: %s/%u position %" PRId64 " %s; reset to %" PRId64, c->group,
		     a->t->name, a->partition, from, why, to);
}

/* Position a partition: committed offset, or the reset policy. */
static int init_position(varve_consumer *c, assigned *a)
{
	vv_partition *p = a->t->parts[a->partition];
	int64_t start = atomic_load(&p->start_offset), end = atomic_load(&p->end_offset);
	int64_t pos = -1;
	pthread_mutex_lock(&c->db->groups->mu);
	vv_group *grp = vv_groups_find(c->db->groups, c->group, 0);
	vv_commit *cm = grp ? vv_group_commit_find(grp, a->t->name, a->partition) : NULL;
	if (cm)
		pos = cm->offset;
	pthread_mutex_unlock(&c->db->groups->mu);
	a->committed = pos;
	if (pos >= start && pos <= end) {
		a->position = pos;
		return 0;
	}
	if (c->o.auto_offset_reset == VARVE_RESET_NONE)
		return vv_error_set(VARVE_EOFFSET, 0,
				    "group %s has no valid offset for %s/%u and auto_offset_reset is none",
				    c->group, a->t->name, a->partition);
	int64_t to = c->o.auto_offset_reset == VARVE_RESET_LATEST ? end : start;
	if (pos >= 0)
		note_reset(c, a, pos, to, pos < start ? "is below the log start" : "is past the end");
	a->position = to;
	return 0;
}

/* ---- poll --------------------------------------------------------------------------------- */

static int ensure_msgs(varve_consumer *c, size_t n)
{
	if (n <= c->mcap)
		return 0;
	size_t nc = c->mcap ? c->mcap * 2 : 64;
	while (nc < n)
		nc *= 2;
	varve_msg *nm = vv_realloc(c->msgs, nc * sizeof *nm);
	if (!nm)
		return vv_error_set(VARVE_ENOMEM, 0, "poll buffer");
	c->msgs = nm;
	fixup *nf = vv_realloc(c->fix, nc * sizeof *nf);
	if (!nf)
		return vv_error_set(VARVE_ENOMEM, 0, "poll buffer");
	c->fix = nf;
	uint32_t *na = vv_realloc(c->att, nc * sizeof *na);
	if (!na)
		return vv_error_set(VARVE_ENOMEM, 0, "poll buffer");
	c->att = na;
	c->mcap = nc;
	return 0;
}

static int arena_put(varve_consumer *c, const void *d, size_t n, size_t *off)
{
	if (!d) {
		*off = SIZE_MAX;
		return 0;
	}
	/* an empty non-null field needs a non-null address too: the arena
	 * exists before the first one is placed */
	if (c->alen + n > c->acap || !c->arena) {
		size_t nc = c->acap ? c->acap : 65536;
		while (nc < c->alen + n)
			nc *= 2;
		uint8_t *na = vv_realloc(c->arena, nc);
		if (!na)
			return vv_error_set(VARVE_ENOMEM, 0, "poll arena");
		c->arena = na;
		c->acap = nc;
	}
	if (n)
		memcpy(c->arena + c->alen, d, n);
	*off = c->alen;
	c->alen += n;
	return 0;
}

static int copy_record(varve_consumer *c, size_t i, const char *topic, const varve_record *r)
{
	VV_TRY(ensure_msgs(c, i + 1));
	c->att[i] = 1;
	varve_msg *m = &c->msgs[i];
	m->topic = topic;
	m->rec = *r;
	fixup *f = &c->fix[i];
	VV_TRY(arena_put(c, r->key, r->key_len, &f->key));
	VV_TRY(arena_put(c, r->value, r->value_len, &f->val));
	f->hdr = c->hlen;
	if (c->hlen + r->header_count > c->hcap) {
		size_t nc = c->hcap ? c->hcap * 2 : 64;
		while (nc < c->hlen + r->header_count)
			nc *= 2;
		varve_header *nh = vv_realloc(c->hdrs, nc * sizeof *nh);
		if (!nh)
			return vv_error_set(VARVE_ENOMEM, 0, "poll headers");
		c->hdrs = nh;
		size_t *nf = vv_realloc(c->hfix, nc * 2 * sizeof *nf);
		if (!nf)
			return vv_error_set(VARVE_ENOMEM, 0, "poll headers");
		c->hfix = nf;
		c->hcap = nc;
	}
	for (size_t k = 0; k < r->header_count; k++) {
		size_t h = c->hlen + k;
		c->hdrs[h] = r->headers[k];
		VV_TRY(arena_put(c, r->headers[k].key, r->headers[k].key_len, &c->hfix[2 * h]));
		VV_TRY(arena_put(c, r->headers[k].value, r->headers[k].value_len,
				 &c->hfix[2 * h + 1]));
	}
	c->hlen += r->header_count;
	return 0;
}

static void fix_pointers(varve_consumer *c, size_t n)
{
	for (size_t h = 0; h < c->hlen; h++) {
		c->hdrs[h].key = c->hfix[2 * h] == SIZE_MAX ? NULL : (const char *)c->arena + c->hfix[2 * h];
		c->hdrs[h].value = c->hfix[2 * h + 1] == SIZE_MAX ? NULL : c->arena + c->hfix[2 * h + 1];
		if (!c->hdrs[h].key)
			c->hdrs[h].key = ""; /* a header key is never NULL */
	}
	for (size_t i = 0; i < n; i++) {
		varve_record *r = &c->msgs[i].rec;
		r->key = c->fix[i].key == SIZE_MAX ? NULL : c->arena + c->fix[i].key;
		r->value = c->fix[i].val == SIZE_MAX ? NULL : c->arena + c->fix[i].val;
		r->headers = r->header_count ? &c->hdrs[c->fix[i].hdr] : NULL;
	}
}

/* Hand out nacked records whose backoff has passed. */
static int deliver_retries(varve_consumer *c, size_t *n, size_t *bytes, int64_t *next_due)
{
	varve_db *db = c->db;
	int64_t now = vv_env_now(&db->env);
	typedef struct due_rec {
		assigned *a;
		int64_t offset;
		uint32_t attempts;
	} due_rec;
	due_rec due[64];
	size_t nd = 0;
	pthread_mutex_lock(&db->groups->mu);
	vv_group *grp = vv_groups_find(db->groups, c->group, 0);
	for (size_t i = 0; grp && i < grp->nretries; i++) {
		vv_retry *r = &grp->retries[i];
		if (r->delivered)
			continue;
		assigned *a = vv_consumer_find_assigned(c, r->topic, r->partition);
		if (!a)
			continue;
		if (r->due > now || nd == sizeof due / sizeof *due ||
		    *n + nd >= c->o.max_records) {
			if (r->due < *next_due)
				*next_due = r->due > now ? r->due : now;
			continue;
		}
		r->delivered = 1;
		due[nd++] = (due_rec){ a, r->offset, r->attempts };
	}
	pthread_mutex_unlock(&db->groups->mu);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nd; i++) {
		vv_reader rd;
		const varve_record *r;
		vv_partition *p = due[i].a->t->parts[due[i].a->partition];
		int got = vv_reader_init(&rd, p, due[i].offset) == 0 && vv_reader_next(&rd, &r) == 0 &&
			  r->offset == due[i].offset;
		vv_error_clear();
		if (got) {
			rc = copy_record(c, *n, due[i].a->t->name, r);
			if (rc == 0) {
				c->att[*n] = due[i].attempts + 1;
				*bytes += r->key_len + r->value_len;
				(*n)++;
			}
		}
		/* a record gone (retention, compaction) stays marked delivered:
		 * the next commit forgets it */
		vv_reader_free(&rd);
	}
	return rc;
}

/* Next record of one assigned partition, or VARVE_EEND. */
static int next_of(varve_consumer *c, assigned *a, const varve_record **r)
{
	if (a->position < 0)
		VV_TRY(init_position(c, a));
	vv_partition *p = a->t->parts[a->partition];
	if (!a->reader_ok) {
		int rc = vv_reader_init(&a->r, p, a->position);
		if (rc == VARVE_EOFFSET) {
			vv_reader_free(&a->r);
			int64_t old = a->position;
			int64_t start = atomic_load(&p->start_offset), end = atomic_load(&p->end_offset);
			if (c->o.auto_offset_reset == VARVE_RESET_NONE)
				return rc;
			a->position = c->o.auto_offset_reset == VARVE_RESET_LATEST ? end : start;
			note_reset(c, a, old, a->position,
				   old < start ? "is below the log start (retention)" : "is past the end");
			rc = vv_reader_init(&a->r, p, a->position);
		}
		if (rc) {
			vv_reader_free(&a->r);
			return rc;
		}
		a->reader_ok = 1;
	}
	if (a->position < atomic_load(&p->start_offset)) {
		/* Retention passed us while we were idle. */
		vv_reader_free(&a->r);
		a->reader_ok = 0;
		return next_of(c, a, r);
	}
	return vv_reader_next(&a->r, r);
}

static int maybe_auto_commit(varve_consumer *c)
{
	if (!c->o.auto_commit || c->db->env.read_only)
		return 0;
	int64_t now = vv_env_now(&c->db->env);
	if (now - c->last_auto_commit < (int64_t)c->o.auto_commit_interval_ms)
		return 0;
	c->last_auto_commit = now;
	return commit_positions(c, NULL, 0);
}

int varve_consumer_poll(varve_consumer *c, int timeout_ms, const varve_msg **msgs_out,
			size_t *count_out)
{
	if (!msgs_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*msgs_out = NULL;
	*count_out = 0;
	if (!c)
		return vv_error_set(VARVE_EINVAL, 0, "consumer is NULL");
	/* Arm before reading: an append from here on writes the eventfd, so one
	 * landing after our last read cannot be missed (a spurious wake-up is
	 * the price). */
	vv_waiter_arm(c->db->notify, c->waiter);
	VV_TRY(maybe_auto_commit(c));
	/* From here on, records copied are handed out even when a later step
	 * fails (damage in another partition, say): their positions have moved
	 * on, so dropping them would lose them. The error comes back from the
	 * next poll, which meets it again first. */
	uint64_t t0 = vv_mono_ns();
	uint64_t deadline = timeout_ms < 0 ? 0 : t0 + (uint64_t)timeout_ms * 1000000ull;
	uint64_t first_data = 0;
	size_t n = 0, bytes = 0;
	int full = 0;
	c->alen = 0;
	c->hlen = 0;
	int rc = 0;
	for (;;) {
		if ((rc = refresh_assignment(c)))
			goto done;
		uint64_t gen = vv_notify_gen(c->db->notify);
		int64_t next_due = INT64_MAX;
		if ((rc = deliver_retries(c, &n, &bytes, &next_due)))
			goto done;
		/* One record per partition per round: fair across partitions. */
		int any = 1;
		while (any && n < c->o.max_records && (n == 0 || bytes < c->o.max_bytes)) {
			any = 0;
			for (size_t k = 0; k < c->nas && n < c->o.max_records &&
					   (n == 0 || bytes < c->o.max_bytes); k++) {
				assigned *a = &c->as[(c->rotate + k) % c->nas];
				const varve_record *r;
				rc = next_of(c, a, &r);
				if (rc == VARVE_EEND) {
					rc = 0;
					continue;
				}
				if (rc)
					goto done;
				if (n > 0 && bytes + r->key_len + r->value_len > c->o.max_bytes) {
					/* does not fit this poll: give it back (the reader
					 * restarts at the position next time) */
					vv_reader_free(&a->r);
					a->reader_ok = 0;
					any = 0;
					full = 1;
					break;
				}
				if ((rc = copy_record(c, n, a->t->name, r)))
					goto done;
				a->position = r->offset + 1;
				bytes += r->key_len + r->value_len;
				n++;
				any = 1;
			}
		}
		if (c->nas)
			c->rotate = (c->rotate + 1) % c->nas;
		uint64_t now = vv_mono_ns();
		if (n && !first_data)
			first_data = now;
		if (full || n >= c->o.max_records || (n && bytes >= c->o.min_bytes))
			break;
		if (n && now - first_data >= (uint64_t)c->o.max_wait_ms * 1000000ull)
			break;
		if (timeout_ms == 0 || (deadline && now >= deadline))
			break;
		uint64_t until = deadline;
		if (n) {
			uint64_t mw = first_data + (uint64_t)c->o.max_wait_ms * 1000000ull;
			if (!until || mw < until)
				until = mw;
		}
		if (next_due != INT64_MAX) {
			/* wake up for the next redelivery (store clock, in ms) */
			int64_t in_ms = next_due - vv_env_now(&c->db->env);
			uint64_t due = now + (uint64_t)(in_ms > 0 ? in_ms : 0) * 1000000ull;
			if (!until || due < until)
				until = due;
		}
		if (c->db->env.read_only) {
			/* another process appends: look again every 100 ms */
			uint64_t look = vv_mono_ns() + 100000000ull;
			if (!until || look < until)
				until = look;
		}
		vv_notify_wait(c->db->notify, gen, until);
	}
done:
	if (rc && n == 0)
		return rc;
	if (rc)
		vv_error_clear();
	fix_pointers(c, n);
	*msgs_out = c->msgs;
	*count_out = n;
	return 0;
}

static int commit_positions(varve_consumer *c, assigned *only, size_t nonly)
{
	assigned *v = only ? only : c->as;
	size_t nv = only ? nonly : c->nas;
	const char **topics = vv_malloc((nv ? nv : 1) * sizeof *topics);
	uint32_t *parts = vv_malloc((nv ? nv : 1) * sizeof *parts);
	int64_t *offs = vv_malloc((nv ? nv : 1) * sizeof *offs);
	size_t n = 0;
	int rc = (!topics || !parts || !offs) ? vv_error_set(VARVE_ENOMEM, 0, "commit") : 0;
	for (size_t i = 0; rc == 0 && i < nv; i++) {
		if (v[i].position < 0 || v[i].position == v[i].committed)
			continue;
		topics[n] = v[i].t->name;
		parts[n] = v[i].partition;
		offs[n] = v[i].position;
		n++;
	}
	if (rc == 0 && n)
		rc = vv_offsets_commit(c->db, c->group, topics, parts, offs, NULL, n);
	if (rc == 0)
		rc = vv_dlq_forget_delivered(c);
	if (rc == 0)
		for (size_t i = 0; i < nv; i++)
			if (v[i].position >= 0)
				v[i].committed = v[i].position;
	vv_free(topics);
	vv_free(parts);
	vv_free(offs);
	return rc;
}

int varve_consumer_commit(varve_consumer *c)
{
	if (!c)
		return vv_error_set(VARVE_EINVAL, 0, "consumer is NULL");
	if (c->db->env.read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "cannot commit on a read-only store");
	return commit_positions(c, NULL, 0);
}

int varve_consumer_commit_offset(varve_consumer *c, const char *topic, int32_t partition,
				 int64_t offset, const char *metadata)
{
	if (!c || !topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (metadata && strlen(metadata) > VV_MAX_COMMIT_METADATA)
		return vv_error_set(VARVE_EINVAL, 0, "commit metadata longer than %d bytes",
				    VV_MAX_COMMIT_METADATA);
	VV_TRY(vv_check_partition(partition));
	uint32_t part = (uint32_t)partition;
	VV_TRY(vv_offsets_commit(c->db, c->group, &topic, &part, &offset, &metadata, 1));
	assigned *a = vv_consumer_find_assigned(c, topic, part);
	if (a)
		a->committed = offset;
	return 0;
}

static int seek_to(varve_consumer *c, const char *topic, int32_t partition, int64_t offset,
		   int by_time)
{
	if (!c || !topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_check_partition(partition));
	VV_TRY(refresh_assignment(c));
	assigned *a = vv_consumer_find_assigned(c, topic, (uint32_t)partition);
	if (!a)
		return vv_error_set(VARVE_ENOTFOUND, 0, "%s/%d is not assigned to this consumer",
				    topic, partition);
	vv_partition *p = a->t->parts[partition];
	int64_t target;
	if (by_time) {
		int rc = vv_partition_offset_for_time(p, offset, &target);
		if (rc && rc != VARVE_ENOTFOUND)
			return rc;
		vv_error_clear();
	} else if (offset == VARVE_OFFSET_BEGINNING) {
		target = atomic_load(&p->start_offset);
	} else if (offset == VARVE_OFFSET_END) {
		target = atomic_load(&p->end_offset);
	} else {
		target = offset;
		if (target < atomic_load(&p->start_offset) || target > atomic_load(&p->end_offset))
			return vv_error_set(VARVE_EOFFSET, 0, "offset %" PRId64 " is outside %s/%u",
					    target, topic, partition);
	}
	if (a->reader_ok) {
		vv_reader_free(&a->r);
		a->reader_ok = 0;
	}
	if (a->committed < 0 && a->position < 0)
		init_position(c, a), vv_error_clear();
	a->position = target;
	return 0;
}

int varve_consumer_seek(varve_consumer *c, const char *topic, int32_t partition, int64_t offset)
{
	return seek_to(c, topic, partition, offset, 0);
}

int varve_consumer_seek_time(varve_consumer *c, const char *topic, int32_t partition, int64_t ts)
{
	return seek_to(c, topic, partition, ts, 1);
}

int varve_consumer_position(varve_consumer *c, const char *topic, int32_t partition,
			    int64_t *offset_out)
{
	if (!offset_out)
		return vv_error_set(VARVE_EINVAL, 0, "offset_out is NULL");
	*offset_out = -1;
	if (!c || !topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_check_partition(partition));
	VV_TRY(refresh_assignment(c));
	assigned *a = vv_consumer_find_assigned(c, topic, (uint32_t)partition);
	if (!a)
		return vv_error_set(VARVE_ENOTFOUND, 0, "%s/%d is not assigned to this consumer",
				    topic, partition);
	if (a->position < 0)
		VV_TRY(init_position(c, a));
	*offset_out = a->position;
	return 0;
}

int varve_consumer_assignment(varve_consumer *c, const varve_topic_partition **tps_out,
			      size_t *count_out)
{
	if (!tps_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*tps_out = NULL;
	*count_out = 0;
	if (!c)
		return vv_error_set(VARVE_EINVAL, 0, "consumer is NULL");
	VV_TRY(refresh_assignment(c));
	if (c->nas > c->tcap) {
		varve_topic_partition *nt = vv_realloc(c->tps, c->nas * sizeof *nt);
		if (!nt)
			return vv_error_set(VARVE_ENOMEM, 0, "assignment");
		c->tps = nt;
		c->tcap = c->nas;
	}
	for (size_t i = 0; i < c->nas; i++)
		c->tps[i] = (varve_topic_partition){ c->as[i].t->name, (int32_t)c->as[i].partition };
	*tps_out = c->tps;
	*count_out = c->nas;
	return 0;
}

int varve_consumer_fd(varve_consumer *c) { return c ? vv_waiter_fd(c->waiter) : -1; }

uint64_t varve_consumer_resets(const varve_consumer *c) { return c ? atomic_load(&c->resets) : 0; }
