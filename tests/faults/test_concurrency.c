/* SPDX-License-Identifier: MIT */
/*
 * test_concurrency.c -- concurrency stress for ThreadSanitizer (issue
 * "Reliability", item 10). Suites 'faults' and 'tsan'.
 *
 * For VARVE_STRESS_SECONDS (default 5; CI runs 60 under
 * -Db_sanitize=thread), on one store with the background thread running
 * (start_cleaner = 1, cleaner_interval_ms = 20, sync = interval 10 ms):
 *   - 8 producer threads: single records and batches to "s" (4 partitions,
 *     kept forever), to "r" (retention by record count: the cleaner deletes
 *     segments under the readers), to "c" (compacted by the cleaner) and to
 *     the churn topics (which may vanish: VARVE_ENOTFOUND is expected);
 *   - 4 iterator threads: random partitions of s, r and c from random
 *     offsets, seeking now and then: offsets strictly increase (dense on
 *     s and r), every record is well formed (its value carries its own
 *     checksum);
 *   - 4 consumer threads in one group on "s": each sees, per partition it
 *     owns, dense increasing offsets (a partition it newly receives resumes
 *     at the committed offset), and commits as it goes;
 *   - 1 thread creating and deleting topics (with an iterator open on the
 *     topic it deletes: VARVE_EBUSY / VARVE_EEXISTS are expected).
 * Any other error fails the test. Afterwards every acknowledged record of
 * "s" is read back, in place and identical, and a reopen shows them too.
 * VARVE_STRESS_SYNC=always runs under sync=always; VARVE_STRESS_APPEND_BUFFER
 * sets append_buffer_bytes (the test faults_concurrency_buffered: 4096).
 *
 * A plain program (exit 0 = pass, 1 = fail), not a Criterion suite:
 * Criterion's runner cannot set up its shared arena under ThreadSanitizer.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_util.h"

#define NPROD 8
#define NITER 4
#define NCONS 4
#define S_PARTS 4
#define MAX_ACKS (1 << 20)

static varve_db *db;
static _Atomic int stop;
static _Atomic long errors;
static char first_error[1024];
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	pthread_mutex_lock(&err_mu);
	if (atomic_fetch_add(&errors, 1) == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(first_error, sizeof first_error, fmt, ap);
		va_end(ap);
		fprintf(stderr, "stress: %s\n", first_error);
	}
	pthread_mutex_unlock(&err_mu);
}

/* value: producer (4), seq (4), checksum of the rest (8), then bytes */
static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static size_t make_value(uint8_t *v, uint32_t prod, uint32_t seq)
{
	uint64_t s = ((uint64_t)prod << 32) | seq;
	size_t n = 16 + (size_t)(fu_rand(&s) % 200);
	memcpy(v, &prod, 4);
	memcpy(v + 4, &seq, 4);
	for (size_t i = 16; i < n; i++)
		v[i] = (uint8_t)fu_rand(&s);
	uint64_t h = fnv(v + 16, n - 16) ^ ((uint64_t)prod << 32 | seq);
	memcpy(v + 8, &h, 8);
	return n;
}

/* 0 if the value is one make_value produced; sets prod/seq */
static int check_value(const varve_record *r, uint32_t *prod, uint32_t *seq)
{
	if (!r->value || r->value_len < 16)
		return -1;
	const uint8_t *v = r->value;
	uint64_t h;
	memcpy(prod, v, 4);
	memcpy(seq, v + 4, 4);
	memcpy(&h, v + 8, 8);
	if (h != (fnv(v + 16, r->value_len - 16) ^ ((uint64_t)*prod << 32 | *seq)))
		return -1;
	uint8_t w[256];
	size_t n = make_value(w, *prod, *seq);
	return n == r->value_len && memcmp(w, v, n) == 0 ? 0 : -1;
}

typedef struct ack {
	uint32_t seq;
	int32_t part;
	int64_t offset;
} ack;

typedef struct producer {
	uint32_t id;
	ack *acks;
	size_t nacks;
	long sent, enotfound, batches;
} producer;

static const char *const churn[4] = { "churn-0", "churn-1", "churn-2", "churn-3" };

static void *producer_main(void *arg)
{
	producer *p = arg;
	uint64_t rs = 0xabcdef ^ p->id;
	uint32_t seq = 0;
	uint8_t vbuf[8][256];
	char kbuf[8][32];
	while (!atomic_load(&stop)) {
		uint64_t r = fu_rand(&rs) % 100;
		const char *topic = r < 60 ? "s" : r < 75 ? "r" : r < 90 ? "c" : churn[r % 4];
		int batch = fu_rand(&rs) % 4 == 0;
		size_t n = batch ? 1 + fu_rand(&rs) % 8 : 1;
		varve_record recs[8];
		uint32_t seqs[8];
		memset(recs, 0, sizeof recs);
		for (size_t i = 0; i < n; i++) {
			seqs[i] = seq++;
			recs[i].value_len = make_value(vbuf[i], p->id, seqs[i]);
			recs[i].value = vbuf[i];
			int kl = topic[0] == 'c' ? snprintf(kbuf[i], sizeof kbuf[i], "key-%u", seqs[i] % 64)
						 : snprintf(kbuf[i], sizeof kbuf[i], "p%u-%u", p->id, seqs[i]);
			recs[i].key = kbuf[i];
			recs[i].key_len = (size_t)kl;
			uint32_t np = topic[0] == 's' ? S_PARTS : topic[0] == 'c' || topic[0] == 'r' ? 2 : 1;
			recs[i].partition = fu_rand(&rs) % 3 == 0 ? (int32_t)(fu_rand(&rs) % np)
								     : VARVE_PARTITION_ANY;
		}
		int rc;
		if (batch) {
			rc = varve_produce_batch(db, topic, recs, n, NULL);
			p->batches++;
		} else {
			rc = varve_produce(db, topic, &recs[0], &recs[0].partition, &recs[0].offset);
		}
		if (rc == VARVE_ENOTFOUND && !strncmp(topic, "churn", 5)) {
			p->enotfound++;
			continue;
		}
		if (rc) {
			fail("producer %u: produce to %s: %s (%s)", p->id, topic, varve_errmsg(rc),
			     varve_last_error()->message);
			continue;
		}
		p->sent += (long)n;
		if (strcmp(topic, "s"))
			continue;
		for (size_t i = 0; i < n && p->nacks < MAX_ACKS; i++)
			p->acks[p->nacks++] = (ack){ seqs[i], recs[i].partition, recs[i].offset };
	}
	return NULL;
}

typedef struct reader {
	uint32_t id;
	long records, opens, seeks, retention_skips;
} reader;

static void read_some(reader *rd, const char *topic, uint32_t part, uint64_t *rs)
{
	int64_t start = 0, end = 0;
	int rc = varve_offsets(db, topic, part, &start, &end);
	if (rc) {
		fail("reader: offsets %s/%u: %s", topic, part, varve_errmsg(rc));
		return;
	}
	int64_t from = start + (int64_t)(fu_rand(rs) % (uint64_t)(end - start + 1));
	varve_iter *it;
	rc = varve_iter_open(db, topic, part, from, &it);
	if (rc == VARVE_EOFFSET && topic[0] == 'r')
		return; /* retention moved the start since varve_offsets */
	if (rc) {
		fail("reader: iter_open %s/%u at %" PRId64 ": %s (%s)", topic, part, from,
		     varve_errmsg(rc), varve_last_error()->message);
		return;
	}
	rd->opens++;
	int dense = topic[0] != 'c';
	int64_t prev = -1;
	for (int i = 0; i < 400 && !atomic_load(&stop); i++) {
		if (i == 200 && fu_rand(rs) % 2) {
			int64_t s2 = 0, e2 = 0;
			varve_offsets(db, topic, part, &s2, &e2);
			int64_t to = s2 + (int64_t)(fu_rand(rs) % (uint64_t)(e2 - s2 + 1));
			rc = varve_iter_seek(it, to);
			if (rc == VARVE_EOFFSET && topic[0] == 'r')
				break;
			if (rc) {
				fail("reader: seek %s/%u to %" PRId64 ": %s", topic, part, to, varve_errmsg(rc));
				break;
			}
			rd->seeks++;
			prev = -1;
			from = to;
		}
		const varve_record *r;
		rc = varve_iter_next(it, &r);
		if (rc == VARVE_EEND)
			break;
		if (rc) {
			fail("reader: next %s/%u: %s (%s)", topic, part, varve_errmsg(rc),
			     varve_last_error()->message);
			break;
		}
		uint32_t pr, sq;
		if (check_value(r, &pr, &sq))
			fail("reader: %s/%u@%" PRId64 ": malformed value", topic, part, r->offset);
		if (prev >= 0 && dense && r->offset > prev + 1 && topic[0] == 'r') {
			/* A reader behind retention skips what was deleted under it,
			 * never a record that is still stored. */
			int64_t s3 = 0;
			varve_offsets(db, topic, part, &s3, NULL);
			if (s3 < r->offset)
				fail("reader: %s/%u: offset %" PRId64 " after %" PRId64 " while the log "
				     "starts at %" PRId64 ": stored records skipped", topic, part, r->offset,
				     prev, s3);
			rd->retention_skips++;
		} else if (prev >= 0 && (r->offset <= prev || (dense && r->offset != prev + 1))) {
			fail("reader: %s/%u: offset %" PRId64 " after %" PRId64, topic, part, r->offset,
			     prev);
		}
		if (prev < 0 && r->offset < from && topic[0] != 'r')
			fail("reader: %s/%u: first offset %" PRId64 " below %" PRId64, topic, part,
			     r->offset, from);
		prev = r->offset;
		rd->records++;
	}
	varve_iter_close(it);
}

static void *reader_main(void *arg)
{
	reader *rd = arg;
	uint64_t rs = 0x5eed ^ rd->id;
	while (!atomic_load(&stop)) {
		uint64_t r = fu_rand(&rs) % 3;
		const char *topic = r == 0 ? "s" : r == 1 ? "r" : "c";
		uint32_t nparts = topic[0] == 's' ? S_PARTS : 2;
		read_some(rd, topic, (uint32_t)(fu_rand(&rs) % nparts), &rs);
	}
	return NULL;
}

typedef struct consumer_t {
	uint32_t id;
	long records, polls, commits, reassignments;
} consumer_t;

static void *consumer_main(void *arg)
{
	consumer_t *ct = arg;
	const char *topics[1] = { "s" };
	varve_consumer_options co = VARVE_CONSUMER_OPTIONS_INIT;
	co.max_records = 64;
	varve_consumer *c;
	int rc = varve_consumer_open(db, "G", topics, 1, &co, &c);
	if (rc) {
		fail("consumer %u: open: %s", ct->id, varve_errmsg(rc));
		return NULL;
	}
	int64_t next[S_PARTS];
	int owned[S_PARTS];
	for (int i = 0; i < S_PARTS; i++) {
		next[i] = -1;
		owned[i] = 0;
	}
	while (!atomic_load(&stop)) {
		const varve_topic_partition *tps;
		size_t ntp;
		if ((rc = varve_consumer_assignment(c, &tps, &ntp))) {
			fail("consumer %u: assignment: %s", ct->id, varve_errmsg(rc));
			break;
		}
		int now_owned[S_PARTS] = { 0 };
		for (size_t i = 0; i < ntp; i++)
			if (tps[i].partition < S_PARTS)
				now_owned[tps[i].partition] = 1;
		for (int i = 0; i < S_PARTS; i++) {
			if (now_owned[i] && !owned[i]) {
				next[i] = -1; /* resumes at the committed offset */
				ct->reassignments++;
			}
			owned[i] = now_owned[i];
		}
		const varve_msg *msgs;
		size_t n;
		rc = varve_consumer_poll(c, 20, &msgs, &n);
		if (rc) {
			fail("consumer %u: poll: %s (%s)", ct->id, varve_errmsg(rc),
			     varve_last_error()->message);
			break;
		}
		ct->polls++;
		/* The group may have rebalanced inside the poll: then a partition
		 * can have moved away and back, resuming at its committed offset. */
		if ((rc = varve_consumer_assignment(c, &tps, &ntp))) {
			fail("consumer %u: assignment: %s", ct->id, varve_errmsg(rc));
			break;
		}
		int after[S_PARTS] = { 0 };
		for (size_t i = 0; i < ntp; i++)
			if (tps[i].partition < S_PARTS)
				after[tps[i].partition] = 1;
		int moved = memcmp(after, now_owned, sizeof after) != 0;
		if (moved)
			ct->reassignments++;
		int seen[S_PARTS] = { 0 };
		for (size_t i = 0; i < n; i++) {
			const varve_record *r = &msgs[i].rec;
			uint32_t p = (uint32_t)r->partition, pr, sq;
			if (strcmp(msgs[i].topic, "s") || p >= S_PARTS) {
				fail("consumer %u: record from %s/%u", ct->id, msgs[i].topic, p);
				continue;
			}
			if (check_value(r, &pr, &sq))
				fail("consumer %u: s/%u@%" PRId64 ": malformed value", ct->id, p, r->offset);
			if ((!moved || seen[p]) && next[p] >= 0 && r->offset != next[p])
				fail("consumer %u: s/%u: offset %" PRId64 ", expected %" PRId64, ct->id, p,
				     r->offset, next[p]);
			next[p] = r->offset + 1;
			seen[p] = 1;
			ct->records++;
		}
		if (moved)
			for (int i = 0; i < S_PARTS; i++)
				owned[i] = after[i];
		if (ct->polls % 8 == 0) {
			rc = varve_consumer_commit(c);
			if (rc) {
				fail("consumer %u: commit: %s (%s)", ct->id, varve_errmsg(rc),
				     varve_last_error()->message);
				break;
			}
			ct->commits++;
		}
	}
	varve_consumer_close(c);
	return NULL;
}

static long churn_creates, churn_deletes, churn_busy;

static void *churn_main(void *arg)
{
	(void)arg;
	uint64_t rs = 0xc4c4;
	while (!atomic_load(&stop)) {
		const char *name = churn[fu_rand(&rs) % 4];
		varve_topic_config cfg;
		varve_topic_config_init(&cfg, VARVE_TOPIC_CONFIG_VERSION);
		cfg.partitions = 1 + (uint32_t)(fu_rand(&rs) % 2);
		int rc = varve_topic_create(db, name, &cfg);
		if (rc == VARVE_EEXISTS || rc == VARVE_EBUSY) {
			churn_busy++;
		} else if (rc) {
			fail("churn: create %s: %s (%s)", name, varve_errmsg(rc), varve_last_error()->message);
			continue;
		} else {
			churn_creates++;
		}
		/* hold an iterator across the delete */
		varve_iter *it = NULL;
		rc = varve_iter_open(db, name, 0, 0, &it);
		if (rc && rc != VARVE_ENOTFOUND)
			fail("churn: iter_open %s: %s", name, varve_errmsg(rc));
		usleep(1000);
		rc = varve_topic_delete(db, name);
		if (rc == 0)
			churn_deletes++;
		else if (rc != VARVE_ENOTFOUND)
			fail("churn: delete %s: %s (%s)", name, varve_errmsg(rc), varve_last_error()->message);
		if (it) {
			const varve_record *r;
			while ((rc = varve_iter_next(it, &r)) == 0) {
				uint32_t pr, sq;
				if (check_value(r, &pr, &sq))
					fail("churn: %s: malformed record after delete", name);
			}
			if (rc != VARVE_EEND)
				fail("churn: reading deleted %s: %s (%s)", name, varve_errmsg(rc),
				     varve_last_error()->message);
			varve_iter_close(it);
		}
	}
	return NULL;
}

static varve_options stress_opts(void)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.sync_policy = VARVE_SYNC_INTERVAL;
	o.sync_interval_ms = 10;
	/* VARVE_STRESS_SYNC=always: every append waits for its group commit */
	const char *sync = getenv("VARVE_STRESS_SYNC");
	if (sync && strcmp(sync, "always") == 0)
		o.sync_policy = VARVE_SYNC_ALWAYS;
	/* VARVE_STRESS_APPEND_BUFFER=bytes: appends gathered in the append
	 * buffer (readers and the background sync write it out) */
	const char *buf = getenv("VARVE_STRESS_APPEND_BUFFER");
	if (buf && *buf)
		o.append_buffer_bytes = atoll(buf);
	o.start_cleaner = 1;
	o.cleaner_interval_ms = 20;
	o.segment_bytes = 16 << 10;
	o.cleaner_memory_bytes = 1 << 20;
	return o;
}

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "concurrency: FAILED at %s:%d: ", __FILE__, \
				__LINE__);                                      \
			fprintf(stderr, __VA_ARGS__);                           \
			fprintf(stderr, "\n");                                  \
			exit(1);                                                \
		}                                                               \
	} while (0)

int main(void)
{
	const char *env = getenv("VARVE_STRESS_SECONDS");
	int secs = env && *env ? atoi(env) : 5;
	setvbuf(stdout, NULL, _IONBF, 0);
	char *dir = fu_tmpdir("stress");
	char path[4200];
	snprintf(path, sizeof path, "%s/store", dir);
	varve_options o = stress_opts();
	CHECK(varve_open(path, &o, &db) == 0, "open: %s", varve_last_error()->message);
	varve_topic_config cs, cr, cc;
	varve_topic_config_init(&cs, VARVE_TOPIC_CONFIG_VERSION);
	cs.partitions = S_PARTS;
	varve_topic_config_init(&cr, VARVE_TOPIC_CONFIG_VERSION);
	cr.partitions = 2;
	cr.retention_records = 500;
	varve_topic_config_init(&cc, VARVE_TOPIC_CONFIG_VERSION);
	cc.partitions = 2;
	cc.cleanup_policy = VARVE_CLEANUP_COMPACT;
	cc.min_cleanable_dirty_ratio = 0.2;
	CHECK(varve_topic_create(db, "s", &cs) == 0, "create s");
	CHECK(varve_topic_create(db, "r", &cr) == 0, "create r");
	CHECK(varve_topic_create(db, "c", &cc) == 0, "create c");

	static producer prods[NPROD];
	static reader readers[NITER];
	static consumer_t conss[NCONS];
	pthread_t th[NPROD + NITER + NCONS + 1];
	size_t nth = 0;
	atomic_store(&stop, 0);
	for (uint32_t i = 0; i < NPROD; i++) {
		prods[i] = (producer){ .id = i };
		prods[i].acks = malloc(MAX_ACKS * sizeof(ack));
		CHECK(prods[i].acks != NULL, "malloc");
		pthread_create(&th[nth++], NULL, producer_main, &prods[i]);
	}
	for (uint32_t i = 0; i < NITER; i++) {
		readers[i] = (reader){ .id = i };
		pthread_create(&th[nth++], NULL, reader_main, &readers[i]);
	}
	for (uint32_t i = 0; i < NCONS; i++) {
		conss[i] = (consumer_t){ .id = i };
		pthread_create(&th[nth++], NULL, consumer_main, &conss[i]);
	}
	pthread_create(&th[nth++], NULL, churn_main, NULL);
	uint64_t t0 = fu_now_ns();
	for (int s = 0; s < secs * 10 && !atomic_load(&errors); s++)
		usleep(100 * 1000);
	atomic_store(&stop, 1);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	double el = (double)(fu_now_ns() - t0) / 1e9;

	/* Every acknowledged record of s, in place and identical; twice: now and
	 * after a reopen. */
	long acked = 0, checked_live = 0, checked_reopen = 0;
	varve_stats st = { .version = VARVE_STATS_VERSION };
	varve_stats_get(db, &st);
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			CHECK(varve_close(db) == 0, "close: %s", varve_last_error()->message);
			varve_options o2 = stress_opts();
			o2.start_cleaner = 0;
			CHECK(varve_open(path, &o2, &db) == 0, "reopen: %s", varve_last_error()->message);
		}
		/* where is each (producer, seq) in s */
		size_t total = 0;
		for (int i = 0; i < NPROD; i++)
			total += prods[i].nacks;
		acked = (long)total;
		long found = 0;
		for (uint32_t p = 0; p < S_PARTS; p++) {
			varve_iter *it;
			CHECK(varve_iter_open(db, "s", p, 0, &it) == 0, "iter_open s/%u", p);
			const varve_record *r;
			int rc;
			int64_t prev = -1;
			/* index: for each producer, acks are in seq order */
			while ((rc = varve_iter_next(it, &r)) == 0) {
				uint32_t pr, sq;
				if (check_value(r, &pr, &sq) || pr >= NPROD) {
					fail("final: s/%u@%" PRId64 ": malformed", p, r->offset);
					continue;
				}
				if (r->offset != prev + 1)
					fail("final: s/%u: offset %" PRId64 " after %" PRId64, p, r->offset, prev);
				prev = r->offset;
				/* binary search the producer's acks by seq */
				producer *pp = &prods[pr];
				size_t lo = 0, hi = pp->nacks;
				while (lo < hi) {
					size_t mid = (lo + hi) / 2;
					if (pp->acks[mid].seq < sq)
						lo = mid + 1;
					else
						hi = mid;
				}
				if (lo < pp->nacks && pp->acks[lo].seq == sq) {
					if (pp->acks[lo].part != (int32_t)p || pp->acks[lo].offset != r->offset)
						fail("final: producer %u seq %u acknowledged at %d@%" PRId64
						     ", found at %u@%" PRId64, pr, sq, pp->acks[lo].part,
						     pp->acks[lo].offset, p, r->offset);
					found++;
				}
			}
			if (rc != VARVE_EEND)
				fail("final: s/%u: %s (%s)", p, varve_errmsg(rc), varve_last_error()->message);
			varve_iter_close(it);
		}
		if (found != acked)
			fail("final (%s): %ld of %ld acknowledged records of s found",
			     round ? "after reopen" : "live", found, acked);
		if (round == 0)
			checked_live = found;
		else
			checked_reopen = found;
	}
	varve_close(db);
	long sent = 0, enf = 0, reads = 0, opens = 0, seeks = 0, crec = 0, polls = 0, commits = 0,
	     reass = 0, batches = 0, rskips = 0;
	for (int i = 0; i < NPROD; i++) {
		sent += prods[i].sent;
		enf += prods[i].enotfound;
		batches += prods[i].batches;
		free(prods[i].acks);
	}
	for (int i = 0; i < NITER; i++) {
		reads += readers[i].records;
		opens += readers[i].opens;
		seeks += readers[i].seeks;
		rskips += readers[i].retention_skips;
	}
	for (int i = 0; i < NCONS; i++) {
		crec += conss[i].records;
		polls += conss[i].polls;
		commits += conss[i].commits;
		reass += conss[i].reassignments;
	}
	printf("concurrency: %.1f s, %d producers sent %ld records (%ld batches; %ld to deleted "
	       "topics), %d iterator threads read %ld records (%ld opens, %ld seeks, %ld jumps over deleted segments), %d consumers "
	       "got %ld records in %ld polls (%ld commits, %ld partition takeovers), churn: %ld "
	       "creates, %ld deletes, %ld busy/exists; cleaner: %" PRIu64 " segments deleted, %" PRIu64
	       " compactions; %ld acknowledged records of s verified live and %ld after reopen; "
	       "%ld errors\n",
	       el, NPROD, sent, batches, enf, NITER, reads, opens, seeks, rskips, NCONS, crec, polls,
	       commits,
	       reass, churn_creates, churn_deletes, churn_busy, st.segments_deleted, st.compactions,
	       checked_live, checked_reopen, (long)atomic_load(&errors));
	fu_rm_rf(dir);
	free(dir);
	CHECK(atomic_load(&errors) == 0, "%ld errors; first: %s", (long)atomic_load(&errors),
	      first_error);
	CHECK(sent > 0 && crec > 0 && reads > 0, "no progress");
	return 0;
}
