/* SPDX-License-Identifier: MIT */
/*
 * consumer.c -- consumers in groups: assignment, poll with fair rotation,
 * commits to the metadata log, seeks, wake-ups (condition variable and
 * eventfd), lag, and group administration.
 *
 * NOTES ON THE DESIGN
 *  1. poll copies the records it returns into the consumer's arena (one
 *     buffer grown as needed and reused), so a poll can hold many records
 *     of one partition while that partition's reader moves on. Pointers are
 *     fixed up once the poll has gathered everything, as the arena may move.
 *  2. A committed offset is never ahead of the durable data: before the
 *     commit record is written, the partition is synced up to it. After a
 *     crash that cut a tail, commits past the new end are clamped at open
 *     and reported (varve_recovery_cuts, log callback).
 *  3. Wake-ups: every append bumps db->data_gen. Pollers that wait, and
 *     consumers whose eventfd is armed, raise db->interest; only then does
 *     an appender take notify_mu to broadcast and write the eventfds.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"
#include "store.h"
#include "util.h"

typedef struct assigned {
	vv_topic *t;
	uint32_t partition;
	int64_t position;  /* next offset to deliver; -1 until initialized */
	int64_t committed; /* what this consumer last committed, -1 */
	int reader_ok;
	vv_reader r;
} assigned;

typedef struct fixup {
	size_t key, val, hdr; /* arena offsets; SIZE_MAX = NULL */
} fixup;

struct varve_consumer {
	varve_db *db;
	char *group;
	char **topics;
	size_t ntopics;
	varve_consumer_options o;

	assigned *as;
	size_t nas;
	uint64_t as_gen;
	int as_valid;
	size_t rotate;

	varve_msg *msgs;
	fixup *fix;
	uint32_t *att; /* deliveries of each message so far, 1 = first */
	size_t mcap;
	uint8_t *arena;
	size_t acap, alen;
	varve_header *hdrs;
	size_t *hfix; /* two offsets per header */
	size_t hcap, hlen;

	varve_topic_partition *tps;
	size_t tcap;

	int efd;
	int armed; /* guarded by db->notify_mu */
	int64_t last_auto_commit;
	_Atomic uint64_t resets;
};

/* ---- wake-ups ---------------------------------------------------------------------- */

static int wants_topic(const varve_consumer *c, const char *topic)
{
	for (size_t i = 0; i < c->ntopics; i++)
		if (!strcmp(c->topics[i], topic))
			return 1;
	return 0;
}

void vv_store_on_append(void *ctx, vv_partition *p)
{
	varve_db *db = ctx;
	atomic_fetch_add(&db->data_gen, 1);
	if (atomic_load(&db->interest) == 0)
		return;
	pthread_mutex_lock(&db->notify_mu);
	pthread_cond_broadcast(&db->notify_cond);
	for (size_t i = 0; i < db->nconsumers; i++) {
		varve_consumer *c = db->consumers[i];
		if (!c->armed || !wants_topic(c, p->topic))
			continue;
		c->armed = 0;
		atomic_fetch_sub(&db->interest, 1);
		uint64_t one = 1;
		ssize_t w = write(c->efd, &one, sizeof one);
		(void)w;
		if (c->o.notify_fn)
			c->o.notify_fn(c->o.notify_ctx, c);
	}
	pthread_mutex_unlock(&db->notify_mu);
}

static void arm(varve_consumer *c)
{
	varve_db *db = c->db;
	pthread_mutex_lock(&db->notify_mu);
	if (!c->armed) {
		c->armed = 1;
		atomic_fetch_add(&db->interest, 1);
	}
	pthread_mutex_unlock(&db->notify_mu);
}

/* Wait until data_gen moves past gen or the deadline (ns, monotonic; 0 = none). */
static void wait_data(varve_db *db, uint64_t gen, uint64_t deadline_ns)
{
	pthread_mutex_lock(&db->notify_mu);
	atomic_fetch_add(&db->interest, 1);
	while (atomic_load(&db->data_gen) == gen) {
		if (deadline_ns) {
			uint64_t now = vv_mono_ns();
			if (now >= deadline_ns)
				break;
			/* the condvar uses CLOCK_REALTIME: convert the remaining time */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t left = deadline_ns - now;
			ts.tv_sec += (time_t)(left / 1000000000ull);
			ts.tv_nsec += (long)(left % 1000000000ull);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&db->notify_cond, &db->notify_mu, &ts);
		} else {
			pthread_cond_wait(&db->notify_cond, &db->notify_mu);
		}
	}
	atomic_fetch_sub(&db->interest, 1);
	pthread_mutex_unlock(&db->notify_mu);
}

/* ---- commits -------------------------------------------------------------------------- */

int vv_store_commit(varve_db *db, const char *group, const char *const *topics,
		    const uint32_t *parts, const int64_t *offsets, const char *const *metadata,
		    size_t n)
{
	if (db->read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "cannot commit on a read-only store");
	if (n == 0)
		return 0;
	/* Validate, and make the data durable up to every committed offset. */
	for (size_t i = 0; i < n; i++) {
		vv_topic *t;
		vv_partition *p;
		VV_TRY(vv_store_partition(db, topics[i], parts[i], &t, &p));
		int64_t end = atomic_load(&p->end_offset), start = atomic_load(&p->start_offset);
		if (offsets[i] > end) {
			/* a reader may see a batch a moment before the appender
			 * publishes the end offset: let that append finish */
			pthread_mutex_lock(&p->lock);
			pthread_mutex_unlock(&p->lock);
			end = atomic_load(&p->end_offset);
		}
		int rc = 0;
		if (offsets[i] < 0 || offsets[i] > end)
			rc = vv_error_set(VARVE_EOFFSET,
					  0, "commit of offset %" PRId64 " for %s/%u outside [0, %" PRId64 "]",
					  offsets[i], topics[i], parts[i], end);
		else if (offsets[i] > atomic_load(&p->durable_offset))
			rc = vv_partition_sync(p);
		(void)start;
		vv_topic_unref(t);
		if (rc)
			return rc;
	}
	uint8_t *buf = vv_malloc(n * (VV_COMMIT_KEY_MAX + VV_COMMIT_VALUE_MAX) + VV_COMMIT_KEY_MAX + 16);
	varve_record *recs = vv_calloc(n + 1, sizeof *recs);
	const varve_record **ptrs = vv_calloc(n + 1, sizeof *ptrs);
	int rc = 0;
	if (!buf || !recs || !ptrs)
		rc = vv_error_set(VARVE_ENOMEM, 0, "commit");
	int64_t now = vv_store_now(db);
	pthread_mutex_lock(&db->commit_mu);
	pthread_mutex_lock(&db->groups.mu);
	int new_group = vv_groups_find(&db->groups, group, 0) == NULL;
	pthread_mutex_unlock(&db->groups.mu);
	size_t nr = 0;
	uint8_t *q = buf;
	if (rc == 0 && new_group) {
		size_t kl = vv_group_key(q, group);
		size_t vl = vv_group_value(q + kl, now);
		recs[nr] = (varve_record){ q, kl, q + kl, vl, NULL, 0, now, 0, 0, 0 };
		q += kl + vl;
		nr++;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t kl = vv_commit_key(q, group, topics[i], parts[i]);
		size_t vl = vv_commit_value(q + kl, offsets[i], now, metadata ? metadata[i] : NULL);
		recs[nr] = (varve_record){ q, kl, q + kl, vl, NULL, 0, now, 0, 0, 0 };
		q += kl + vl;
		nr++;
	}
	for (size_t i = 0; i < nr; i++)
		ptrs[i] = &recs[i];
	if (rc == 0) {
		vv_append_opts o = { -1, -1, 0, -1, db->opts.sync_policy == VARVE_SYNC_ALWAYS, 0, 0, 0 };
		rc = vv_partition_append(db->meta->log, ptrs, nr, &o, NULL);
	}
	if (rc == 0) {
		pthread_mutex_lock(&db->groups.mu);
		vv_group *grp = vv_groups_find(&db->groups, group, 1);
		if (!grp)
			rc = vv_error_set(VARVE_ENOMEM, 0, "group table");
		if (grp && new_group)
			grp->created_ms = now;
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = vv_group_commit_set(grp, topics[i], parts[i], offsets[i], now,
						 metadata ? metadata[i] : NULL);
		pthread_mutex_unlock(&db->groups.mu);
	}
	pthread_mutex_unlock(&db->commit_mu);
	vv_free(buf);
	vv_free(recs);
	vv_free(ptrs);
	return rc;
}

int vv_store_clamp_commits(varve_db *db)
{
	int rc = 0;
	pthread_mutex_lock(&db->groups.mu);
	size_t cap = 0, n = 0;
	struct clamp {
		char group[VARVE_MAX_TOPIC_NAME + 1], topic[VARVE_MAX_TOPIC_NAME + 1];
		uint32_t part;
		int64_t from, to;
	} *v = NULL;
	for (size_t g = 0; g < db->groups.n; g++) {
		vv_group *grp = db->groups.v[g];
		for (size_t i = 0; i < grp->n; i++) {
			vv_commit *cm = &grp->commits[i];
			vv_topic *t;
			vv_partition *p;
			if (vv_store_partition(db, cm->topic, cm->partition, &t, &p)) {
				vv_error_clear();
				continue;
			}
			int64_t end = atomic_load(&p->end_offset);
			vv_topic_unref(t);
			if (cm->offset <= end)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				void *nv = vv_realloc(v, nc * sizeof *v);
				if (!nv)
					continue;
				v = nv;
				cap = nc;
			}
			snprintf(v[n].group, sizeof v[n].group, "%s", grp->name);
			snprintf(v[n].topic, sizeof v[n].topic, "%s", cm->topic);
			v[n].part = cm->partition;
			v[n].from = cm->offset;
			v[n].to = end;
			cm->offset = end;
			n++;
		}
	}
	pthread_mutex_unlock(&db->groups.mu);
	for (size_t i = 0; i < n; i++) {
		varve_recovery_cut cut;
		memset(&cut, 0, sizeof cut);
		snprintf(cut.topic, sizeof cut.topic, "%s", v[i].topic);
		cut.partition = (int32_t)v[i].part;
		cut.segment_base = -1;
		cut.first_offset_lost = v[i].to;
		cut.last_offset_lost = v[i].from - 1;
		snprintf(cut.reason, sizeof cut.reason, "group %.40s commit %" PRId64 " clamped to end %" PRId64,
			 v[i].group, v[i].from, v[i].to);
		vv_store_report_cut(db, &cut);
		vv_store_log(db, VARVE_LOG_WARN,
			     "group %s: committed offset %" PRId64 " of %s/%u is past the end %" PRId64
			     " after recovery; clamped",
			     v[i].group, v[i].from, v[i].topic, v[i].part, v[i].to);
		if (!db->read_only && rc == 0) {
			const char *tp = v[i].topic;
			rc = vv_store_commit(db, v[i].group, &tp, &v[i].part, &v[i].to, NULL, 1);
		}
	}
	vv_free(v);
	return rc;
}

/* ---- consumer lifetime ------------------------------------------------------------------- */

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
	if (c->efd >= 0)
		close(c->efd);
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
	if (!varve_name_valid(group))
		return vv_error_set(VARVE_EINVAL, 0, "invalid group name");
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
		VV_TRY(vv_store_topic(db, topics[i], &t));
		vv_topic_unref(t);
	}
	varve_consumer *c = vv_calloc(1, sizeof *c);
	if (!c)
		return vv_error_set(VARVE_ENOMEM, 0, "consumer");
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->db = db;
	c->o = o;
	c->group = vv_strdup(group);
	c->topics = vv_calloc(ntopics, sizeof *c->topics);
	int rc = (c->efd < 0) ? vv_error_set(VARVE_EIO, errno, "eventfd") : 0;
	if (rc == 0 && (!c->group || !c->topics))
		rc = vv_error_set(VARVE_ENOMEM, 0, "consumer");
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
	c->last_auto_commit = vv_store_now(db);
	pthread_mutex_lock(&db->groups.mu);
	vv_group *grp = vv_groups_find(&db->groups, group, 1);
	rc = grp ? vv_group_join(&db->groups, grp, c, (const char *const *)c->topics, c->ntopics)
		 : vv_error_set(VARVE_ENOMEM, 0, "group table");
	pthread_mutex_unlock(&db->groups.mu);
	if (rc == 0) {
		pthread_mutex_lock(&db->notify_mu);
		if (db->nconsumers == db->ccap) {
			size_t nc = db->ccap ? db->ccap * 2 : 8;
			varve_consumer **nv = vv_realloc(db->consumers, nc * sizeof *nv);
			if (nv) {
				db->consumers = nv;
				db->ccap = nc;
			} else {
				rc = vv_error_set(VARVE_ENOMEM, 0, "consumer list");
			}
		}
		if (rc == 0)
			db->consumers[db->nconsumers++] = c;
		pthread_mutex_unlock(&db->notify_mu);
		if (rc) {
			pthread_mutex_lock(&db->groups.mu);
			vv_group_leave(grp, c);
			pthread_mutex_unlock(&db->groups.mu);
		}
	}
	if (rc) {
		free_consumer(c);
		return rc;
	}
	atomic_fetch_add(&db->open_handles, 1);
	arm(c);
	*out = c;
	return 0;
}

void varve_consumer_close(varve_consumer *c)
{
	if (!c)
		return;
	varve_db *db = c->db;
	pthread_mutex_lock(&db->groups.mu);
	vv_group *grp = vv_groups_find(&db->groups, c->group, 0);
	if (grp)
		vv_group_leave(grp, c);
	pthread_mutex_unlock(&db->groups.mu);
	pthread_mutex_lock(&db->notify_mu);
	for (size_t i = 0; i < db->nconsumers; i++) {
		if (db->consumers[i] != c)
			continue;
		db->consumers[i] = db->consumers[--db->nconsumers];
		break;
	}
	if (c->armed)
		atomic_fetch_sub(&db->interest, 1);
	c->armed = 0;
	pthread_mutex_unlock(&db->notify_mu);
	atomic_fetch_sub(&db->open_handles, 1);
	free_consumer(c);
}

/* ---- assignment --------------------------------------------------------------------------- */

static assigned *find_assigned(varve_consumer *c, const char *topic, uint32_t partition)
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
	pthread_mutex_lock(&db->groups.mu);
	vv_group *grp = vv_groups_find(&db->groups, c->group, 0);
	uint64_t gen = grp ? grp->generation : 0;
	if (c->as_valid && gen == c->as_gen) {
		pthread_mutex_unlock(&db->groups.mu);
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
		if (vv_store_topic(db, c->topics[i], &t)) {
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
	pthread_mutex_unlock(&db->groups.mu);
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
	vv_store_log(c->db, VARVE_LOG_WARN,
		     "group %s: %s/%u position %" PRId64 " %s; reset to %" PRId64, c->group,
		     a->t->name, a->partition, from, why, to);
}

/* Position a partition: committed offset, or the reset policy. */
static int init_position(varve_consumer *c, assigned *a)
{
	vv_partition *p = a->t->parts[a->partition];
	int64_t start = atomic_load(&p->start_offset), end = atomic_load(&p->end_offset);
	int64_t pos = -1;
	pthread_mutex_lock(&c->db->groups.mu);
	vv_group *grp = vv_groups_find(&c->db->groups, c->group, 0);
	vv_commit *cm = grp ? vv_group_commit_find(grp, a->t->name, a->partition) : NULL;
	if (cm)
		pos = cm->offset;
	pthread_mutex_unlock(&c->db->groups.mu);
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
	int64_t now = vv_store_now(db);
	typedef struct due_rec {
		assigned *a;
		int64_t offset;
		uint32_t attempts;
	} due_rec;
	due_rec due[64];
	size_t nd = 0;
	pthread_mutex_lock(&db->groups.mu);
	vv_group *grp = vv_groups_find(&db->groups, c->group, 0);
	for (size_t i = 0; grp && i < grp->nretries; i++) {
		vv_retry *r = &grp->retries[i];
		if (r->delivered)
			continue;
		assigned *a = find_assigned(c, r->topic, r->partition);
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
	pthread_mutex_unlock(&db->groups.mu);
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
	if (!c->o.auto_commit || c->db->read_only)
		return 0;
	int64_t now = vv_store_now(c->db);
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
	uint64_t drain;
	while (read(c->efd, &drain, sizeof drain) > 0)
		;
	/* Arm before reading: an append from here on writes the eventfd, so one
	 * landing after our last read cannot be missed (a spurious wake-up is
	 * the price). */
	arm(c);
	VV_TRY(maybe_auto_commit(c));
	uint64_t t0 = vv_mono_ns();
	uint64_t deadline = timeout_ms < 0 ? 0 : t0 + (uint64_t)timeout_ms * 1000000ull;
	uint64_t first_data = 0;
	size_t n = 0, bytes = 0;
	int full = 0;
	c->alen = 0;
	c->hlen = 0;
	int rc = 0;
	for (;;) {
		VV_TRY(refresh_assignment(c));
		uint64_t gen = atomic_load(&c->db->data_gen);
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
			int64_t in_ms = next_due - vv_store_now(c->db);
			uint64_t due = now + (uint64_t)(in_ms > 0 ? in_ms : 0) * 1000000ull;
			if (!until || due < until)
				until = due;
		}
		if (c->db->read_only) {
			/* another process appends: look again every 100 ms */
			uint64_t look = vv_mono_ns() + 100000000ull;
			if (!until || look < until)
				until = look;
		}
		wait_data(c->db, gen, until);
	}
done:
	if (rc)
		return rc;
	fix_pointers(c, n);
	*msgs_out = c->msgs;
	*count_out = n;
	return 0;
}

/* ---- commits, seeks, info ---------------------------------------------------------------- */

/* Write one metadata record per (key, value) in one batch; value NULL = delete. */
static int meta_write(varve_db *db, const uint8_t *const *keys, const size_t *klens,
		      const uint8_t *const *vals, const size_t *vlens, size_t n)
{
	varve_record *recs = vv_calloc(n ? n : 1, sizeof *recs);
	const varve_record **ptrs = vv_calloc(n ? n : 1, sizeof *ptrs);
	int rc = (!recs || !ptrs) ? vv_error_set(VARVE_ENOMEM, 0, "metadata write") : 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		recs[i] = (varve_record){ keys[i], klens[i], vals ? vals[i] : NULL, vals ? vlens[i] : 0,
					  NULL, 0, 0, 0, 0, 0 };
		ptrs[i] = &recs[i];
	}
	if (rc == 0 && n) {
		vv_append_opts o = { -1, -1, 0, -1, db->opts.sync_policy == VARVE_SYNC_ALWAYS, 0, 0, 0 };
		rc = vv_partition_append(db->meta->log, ptrs, n, &o, NULL);
	}
	vv_free(recs);
	vv_free(ptrs);
	return rc;
}

/* Redelivered records not nacked again are done once the consumer commits. */
static int forget_delivered_retries(varve_consumer *c)
{
	varve_db *db = c->db;
	uint8_t keys[16][VV_ATTEMPT_KEY_MAX];
	const uint8_t *kp[16];
	size_t kl[16];
	struct {
		char topic[VARVE_MAX_TOPIC_NAME + 1];
		uint32_t partition;
		int64_t offset;
	} gone[16];
	int rc = 0;
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&db->commit_mu);
		pthread_mutex_lock(&db->groups.mu);
		vv_group *grp = vv_groups_find(&db->groups, c->group, 0);
		for (size_t i = 0; grp && i < grp->nretries && n < 16; i++) {
			vv_retry *r = &grp->retries[i];
			if (!r->delivered || !find_assigned(c, r->topic, r->partition))
				continue;
			kl[n] = vv_attempt_key(keys[n], c->group, r->topic, r->partition, r->offset);
			kp[n] = keys[n];
			snprintf(gone[n].topic, sizeof gone[n].topic, "%s", r->topic);
			gone[n].partition = r->partition;
			gone[n].offset = r->offset;
			n++;
		}
		pthread_mutex_unlock(&db->groups.mu);
		if (n)
			rc = meta_write(db, kp, kl, NULL, NULL, n);
		if (rc == 0 && n) {
			pthread_mutex_lock(&db->groups.mu);
			grp = vv_groups_find(&db->groups, c->group, 0);
			for (size_t i = 0; grp && i < n; i++)
				vv_group_retry_del(grp, gone[i].topic, gone[i].partition, gone[i].offset);
			pthread_mutex_unlock(&db->groups.mu);
		}
		pthread_mutex_unlock(&db->commit_mu);
		if (rc || n < 16)
			return rc;
	}
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
		rc = vv_store_commit(c->db, c->group, topics, parts, offs, NULL, n);
	if (rc == 0)
		rc = forget_delivered_retries(c);
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
	if (c->db->read_only)
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
	VV_TRY(vv_store_commit(c->db, c->group, &topic, &part, &offset, &metadata, 1));
	assigned *a = find_assigned(c, topic, part);
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
	assigned *a = find_assigned(c, topic, (uint32_t)partition);
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
	assigned *a = find_assigned(c, topic, (uint32_t)partition);
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

int varve_consumer_fd(varve_consumer *c) { return c ? c->efd : -1; }

uint64_t varve_consumer_resets(const varve_consumer *c) { return c ? atomic_load(&c->resets) : 0; }

/* ---- group administration ------------------------------------------------------------------ */

int varve_group_offset(varve_db *db, const char *group, const char *topic, int32_t partition,
		       int64_t *offset_out)
{
	if (!offset_out)
		return vv_error_set(VARVE_EINVAL, 0, "offset_out is NULL");
	*offset_out = -1;
	if (!db || !group || !topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	VV_TRY(vv_check_partition(partition));
	pthread_mutex_lock(&db->groups.mu);
	vv_group *grp = vv_groups_find(&db->groups, group, 0);
	vv_commit *cm = grp ? vv_group_commit_find(grp, topic, (uint32_t)partition) : NULL;
	if (cm)
		*offset_out = cm->offset;
	pthread_mutex_unlock(&db->groups.mu);
	if (!cm)
		return vv_error_set(VARVE_ENOTFOUND, 0, "group %s has no commit for %s/%d", group,
				    topic, partition);
	return 0;
}

int varve_group_commit(varve_db *db, const char *group, const char *topic, int32_t partition,
		       int64_t offset, const char *metadata)
{
	if (!db || !topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (!varve_name_valid(group))
		return vv_error_set(VARVE_EINVAL, 0, "invalid group name");
	if (metadata && strlen(metadata) > VV_MAX_COMMIT_METADATA)
		return vv_error_set(VARVE_EINVAL, 0, "commit metadata longer than %d bytes",
				    VV_MAX_COMMIT_METADATA);
	VV_TRY(vv_check_partition(partition));
	uint32_t part = (uint32_t)partition;
	return vv_store_commit(db, group, &topic, &part, &offset, &metadata, 1);
}

int varve_group_list(varve_db *db, char ***names_out, size_t *count_out)
{
	if (!names_out || !count_out)
		return vv_error_set(VARVE_EINVAL, 0, "NULL output");
	*names_out = NULL;
	*count_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	pthread_mutex_lock(&db->groups.mu);
	size_t n = db->groups.n;
	char **v = vv_calloc(n ? n : 1, sizeof *v);
	int rc = v ? 0 : VARVE_ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!(v[i] = vv_strdup(db->groups.v[i]->name)))
			rc = VARVE_ENOMEM;
	pthread_mutex_unlock(&db->groups.mu);
	if (rc) {
		varve_strings_free(v, n);
		return vv_error_set(rc, 0, "listing groups");
	}
	*names_out = v;
	*count_out = n;
	return 0;
}

int varve_group_delete(varve_db *db, const char *group)
{
	if (!db || !group)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (db->read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	pthread_mutex_lock(&db->commit_mu);
	pthread_mutex_lock(&db->groups.mu);
	vv_group *grp = vv_groups_find(&db->groups, group, 0);
	int rc = 0;
	size_t n = grp ? grp->n : 0;
	if (!grp)
		rc = vv_error_set(VARVE_ENOTFOUND, 0, "no group named %s", group);
	else if (grp->nmembers)
		rc = vv_error_set(VARVE_EBUSY, 0, "group %s has %zu open consumers", group,
				  grp->nmembers);
	uint8_t *buf = NULL;
	varve_record *recs = NULL;
	const varve_record **ptrs = NULL;
	if (rc == 0) {
		buf = vv_malloc((n + 1) * VV_COMMIT_KEY_MAX);
		recs = vv_calloc(n + 1, sizeof *recs);
		ptrs = vv_calloc(n + 1, sizeof *ptrs);
		if (!buf || !recs || !ptrs)
			rc = vv_error_set(VARVE_ENOMEM, 0, "group delete");
	}
	if (rc == 0) {
		uint8_t *q = buf;
		for (size_t i = 0; i < n; i++) {
			size_t kl = vv_commit_key(q, group, grp->commits[i].topic,
						  grp->commits[i].partition);
			recs[i] = (varve_record){ q, kl, NULL, 0, NULL, 0, 0, 0, 0, 0 };
			q += kl;
		}
		size_t kl = vv_group_key(q, group);
		recs[n] = (varve_record){ q, kl, NULL, 0, NULL, 0, 0, 0, 0, 0 };
		for (size_t i = 0; i <= n; i++)
			ptrs[i] = &recs[i];
	}
	pthread_mutex_unlock(&db->groups.mu);
	if (rc == 0) {
		/* Every tombstone in one batch: the group goes whole or not at all. */
		vv_append_opts o = { -1, -1, 0, -1, 1, 0, 0, 0 };
		rc = vv_partition_append(db->meta->log, ptrs, n + 1, &o, NULL);
	}
	if (rc == 0) {
		pthread_mutex_lock(&db->groups.mu);
		vv_groups_remove(&db->groups, group);
		pthread_mutex_unlock(&db->groups.mu);
	}
	pthread_mutex_unlock(&db->commit_mu);
	vv_free(buf);
	vv_free(recs);
	vv_free(ptrs);
	return rc;
}

int varve_group_lag(varve_db *db, const char *group, const char *topic, int32_t partition,
		    varve_lag *lag)
{
	if (!db || !lag || !group)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	if (lag->version < 1)
		return vv_error_set(VARVE_EINVAL, 0, "set lag->version first");
	vv_topic *t;
	vv_partition *p;
	VV_TRY(vv_store_partition(db, topic, partition, &t, &p));
	if (db->read_only)
		(void)vv_partition_refresh(p);
	int64_t committed = -1;
	if (varve_group_offset(db, group, topic, partition, &committed))
		vv_error_clear();
	int64_t start = atomic_load(&p->start_offset), end = atomic_load(&p->end_offset);
	int64_t from = committed < start ? start : committed;
	if (from > end)
		from = end;
	lag->committed = committed;
	lag->end_offset = end;
	lag->records = end - from;
	lag->bytes = 0;
	lag->oldest_age_ms = 0;
	int rc = 0;
	if (from < end) {
		vv_segment *s;
		rc = vv_partition_segment_for(p, from, &s);
		if (rc == 0) {
			uint64_t pos;
			rc = vv_segment_find(s, from, &pos);
			if (rc == 0)
				lag->bytes = atomic_load(&s->size) - pos;
			vv_segment *nx = vv_partition_next_segment(p, s);
			vv_segment_unref(s);
			while (nx) {
				lag->bytes += atomic_load(&nx->size);
				vv_segment *nn = vv_partition_next_segment(p, nx);
				vv_segment_unref(nx);
				nx = nn;
			}
		}
		vv_reader r;
		if (rc == 0 && (rc = vv_reader_init(&r, p, from)) == 0) {
			const varve_record *rec;
			if (vv_reader_next(&r, &rec) == 0) {
				int64_t age = vv_store_now(db) - rec->timestamp;
				lag->oldest_age_ms = age > 0 ? age : 0;
			}
			vv_error_clear();
		}
		vv_reader_free(&r);
	}
	vv_topic_unref(t);
	return rc;
}

/* ---- lag limits --------------------------------------------------------------------------- */

int varve_group_set_lag_limit(varve_db *db, const char *group, int64_t max_lag_records,
			      varve_lag_fn fn, void *ctx)
{
	if (!db || !varve_name_valid(group))
		return vv_error_set(VARVE_EINVAL, 0, "bad store or group name");
	if (max_lag_records >= 0 && !fn)
		return vv_error_set(VARVE_EINVAL, 0, "a lag limit needs a callback");
	pthread_mutex_lock(&db->groups.mu);
	vv_group *grp = vv_groups_find(&db->groups, group, 1);
	if (grp) {
		grp->lag_limit = max_lag_records < 0 ? -1 : max_lag_records;
		grp->lag_fn = fn;
		grp->lag_ctx = ctx;
		for (size_t i = 0; i < grp->n; i++)
			grp->commits[i].lag_alerted = 0;
	}
	pthread_mutex_unlock(&db->groups.mu);
	return grp ? 0 : vv_error_set(VARVE_ENOMEM, 0, "group table");
}

typedef struct lag_alert {
	varve_lag_fn fn;
	void *ctx;
	char group[VARVE_MAX_TOPIC_NAME + 1], topic[VARVE_MAX_TOPIC_NAME + 1];
	uint32_t partition;
	int64_t lag;
} lag_alert;

void vv_store_check_lag(varve_db *db)
{
	lag_alert *v = NULL;
	size_t n = 0, cap = 0;
	pthread_mutex_lock(&db->groups.mu);
	for (size_t g = 0; g < db->groups.n; g++) {
		vv_group *grp = db->groups.v[g];
		if (grp->lag_limit < 0)
			continue;
		for (size_t i = 0; i < grp->n; i++) {
			vv_commit *cm = &grp->commits[i];
			vv_topic *t;
			vv_partition *p;
			if (vv_store_partition(db, cm->topic, cm->partition, &t, &p)) {
				vv_error_clear();
				continue;
			}
			int64_t lag = atomic_load(&p->end_offset) - cm->offset;
			vv_topic_unref(t);
			if (lag <= grp->lag_limit) {
				cm->lag_alerted = 0;
				continue;
			}
			if (cm->lag_alerted)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				lag_alert *nv = vv_realloc(v, nc * sizeof *nv);
				if (!nv)
					continue;
				v = nv;
				cap = nc;
			}
			cm->lag_alerted = 1;
			lag_alert *a = &v[n++];
			a->fn = grp->lag_fn;
			a->ctx = grp->lag_ctx;
			snprintf(a->group, sizeof a->group, "%s", grp->name);
			snprintf(a->topic, sizeof a->topic, "%s", cm->topic);
			a->partition = cm->partition;
			a->lag = lag;
		}
	}
	pthread_mutex_unlock(&db->groups.mu);
	for (size_t i = 0; i < n; i++) {
		atomic_fetch_add(&db->st_lag_alerts, 1);
		v[i].fn(v[i].ctx, v[i].group, v[i].topic, v[i].partition, v[i].lag);
	}
	vv_free(v);
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
	if (rc == 0)
		vv_store_log(db, VARVE_LOG_WARN,
			     "group %s: %s/%d offset %lld failed %u times (%s); moved to %s", c->group,
			     m->topic, m->rec.partition, (long long)m->rec.offset, attempts, why, dlq);
	return rc;
}

int varve_consumer_nack(varve_consumer *c, const varve_msg *m, const char *reason)
{
	if (!c || !m || !m->topic)
		return vv_error_set(VARVE_EINVAL, 0, "NULL argument");
	varve_db *db = c->db;
	if (db->read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "cannot nack on a read-only store");
	uint32_t done = varve_consumer_attempts(c, m);
	if (done == 0) {
		/* not from the last poll: count what the table knows */
		pthread_mutex_lock(&db->groups.mu);
		vv_group *grp = vv_groups_find(&db->groups, c->group, 0);
		vv_retry *r = grp ? vv_group_retry_find(grp, m->topic, (uint32_t)m->rec.partition,
							m->rec.offset)
				  : NULL;
		done = (r ? r->attempts : 0) + 1;
		pthread_mutex_unlock(&db->groups.mu);
	}
	uint8_t key[VV_ATTEMPT_KEY_MAX], val[VV_ATTEMPT_VALUE_MAX];
	const uint8_t *kp[1] = { key }, *vp[1] = { val };
	size_t kl[1], vl[1];
	kl[0] = vv_attempt_key(key, c->group, m->topic, (uint32_t)m->rec.partition, m->rec.offset);
	int rc;
	if (done >= c->o.max_attempts) {
		rc = dead_letter(c, m, done, reason);
		if (rc == 0) {
			pthread_mutex_lock(&db->commit_mu);
			rc = meta_write(db, kp, kl, NULL, NULL, 1);
			if (rc == 0) {
				pthread_mutex_lock(&db->groups.mu);
				vv_group *grp = vv_groups_find(&db->groups, c->group, 0);
				if (grp)
					vv_group_retry_del(grp, m->topic, (uint32_t)m->rec.partition,
							   m->rec.offset);
				pthread_mutex_unlock(&db->groups.mu);
			}
			pthread_mutex_unlock(&db->commit_mu);
		}
		return rc;
	}
	uint64_t delay = c->o.retry_backoff_ms;
	for (uint32_t i = 1; i < done && delay < c->o.retry_backoff_max_ms; i++)
		delay *= 2;
	if (delay > c->o.retry_backoff_max_ms)
		delay = c->o.retry_backoff_max_ms;
	int64_t due = vv_store_now(db) + (int64_t)delay;
	vl[0] = vv_attempt_value(val, done, due, reason);
	pthread_mutex_lock(&db->commit_mu);
	rc = meta_write(db, kp, kl, vp, vl, 1);
	if (rc == 0) {
		pthread_mutex_lock(&db->groups.mu);
		vv_group *grp = vv_groups_find(&db->groups, c->group, 1);
		rc = grp ? vv_group_retry_set(grp, m->topic, (uint32_t)m->rec.partition, m->rec.offset,
					      done, due, reason)
			 : vv_error_set(VARVE_ENOMEM, 0, "group table");
		pthread_mutex_unlock(&db->groups.mu);
	}
	pthread_mutex_unlock(&db->commit_mu);
	return rc;
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

int varve_dlq_replay(varve_db *db, const char *dlq_topic, uint64_t max_records, uint64_t *moved_out)
{
	static const char group[] = "__dlq-replay";
	if (moved_out)
		*moved_out = 0;
	if (!db)
		return vv_error_set(VARVE_EINVAL, 0, "db is NULL");
	if (db->read_only)
		return vv_error_set(VARVE_EREADONLY, 0, "store is open read-only");
	vv_topic *t;
	VV_TRY(vv_store_topic(db, dlq_topic, &t));
	uint64_t moved = 0;
	int rc = 0;
	varve_header *hv = NULL;
	size_t hcap = 0;
	for (uint32_t p = 0; rc == 0 && p < t->nparts; p++) {
		vv_partition *part = t->parts[p];
		int64_t from = atomic_load(&part->start_offset), committed;
		if (varve_group_offset(db, group, dlq_topic, p, &committed) == 0 && committed > from)
			from = committed;
		vv_error_clear();
		int64_t end = atomic_load(&part->end_offset);
		if (from >= end)
			continue;
		vv_reader rd;
		rc = vv_reader_init(&rd, part, from);
		const varve_record *r;
		int64_t next = from;
		while (rc == 0 && (!max_records || moved < max_records) &&
		       (rc = vv_reader_next(&rd, &r)) == 0) {
			char topic[VARVE_MAX_TOPIC_NAME + 1], pbuf[16];
			next = r->offset + 1;
			if (header_text(r, "dlq-topic", topic, sizeof topic) || !varve_name_valid(topic)) {
				vv_store_log(db, VARVE_LOG_WARN, "%s offset %lld has no dlq-topic header; skipped",
					     dlq_topic, (long long)r->offset);
				continue;
			}
			int32_t opart = VARVE_PARTITION_ANY;
			if (header_text(r, "dlq-partition", pbuf, sizeof pbuf) == 0)
				opart = (int32_t)strtol(pbuf, NULL, 10);
			if (r->header_count > hcap) {
				varve_header *nh = vv_realloc(hv, r->header_count * sizeof *nh);
				if (!nh) {
					rc = vv_error_set(VARVE_ENOMEM, 0, "dlq replay");
					break;
				}
				hv = nh;
				hcap = r->header_count;
			}
			size_t nh = 0;
			for (size_t i = 0; i < r->header_count; i++)
				if (!(r->headers[i].key_len >= 4 && !memcmp(r->headers[i].key, "dlq-", 4)))
					hv[nh++] = r->headers[i];
			vv_topic *ot;
			if (vv_store_topic(db, topic, &ot)) {
				vv_error_clear();
				vv_store_log(db, VARVE_LOG_WARN, "%s offset %lld: topic %s is gone; skipped",
					     dlq_topic, (long long)r->offset, topic);
				continue;
			}
			if (opart >= 0 && (uint32_t)opart >= ot->nparts)
				opart = VARVE_PARTITION_ANY;
			vv_topic_unref(ot);
			varve_record out = { r->key, r->key_len, r->value, r->value_len, nh ? hv : NULL, nh,
					     r->timestamp, opart, 0, 0 };
			if ((rc = varve_produce(db, topic, &out, NULL, NULL)))
				break;
			moved++;
		}
		if (rc == VARVE_EEND)
			rc = 0;
		vv_reader_free(&rd);
		/* at-least-once: a crash before this commit replays these again */
		if (next > from) {
			int crc = varve_group_commit(db, group, dlq_topic, p, next, NULL);
			if (rc == 0)
				rc = crc;
		}
	}
	vv_free(hv);
	vv_topic_unref(t);
	if (moved_out)
		*moved_out = moved;
	return rc;
}
