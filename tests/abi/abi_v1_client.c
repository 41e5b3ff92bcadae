/* SPDX-License-Identifier: MIT */
/*
 * abi_v1_client.c -- a program built against the version-1 header
 * (varve_v1.h, never varve.h) and linked against today's shared library,
 * as an embedder's old binary would be. It fills every struct the way
 * that header offers (its positional _INIT macros, version 1), keeps each
 * struct in a heap block of exactly the size the version-1 header gives it
 * plus a guard zone, and goes through the API: open, create a topic,
 * produce (one record, a batch, an append), read records and whole
 * batches, describe the topic, partition info, stats, a consumer with
 * commits, lag and committed offsets, a producer, a backup with a
 * progress callback, a repair dry run. It
 * checks the answers and that no output struct was written past its
 * version-1 size (the guard zone; ASan builds also see reads past it).
 * Exit 0 on success, 1 with a message on stderr otherwise.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "varve_v1.h"

#define GUARD 32

static int failures;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "abi_v1_client:%d: ", __LINE__);          \
			fprintf(stderr, __VA_ARGS__);                             \
			fprintf(stderr, " [last error: %s]\n",                    \
				varve_last_error()->message);                     \
			failures++;                                               \
		}                                                                 \
	} while (0)

#define OK(expr) CHECK((expr) == VARVE_OK, "%s failed", #expr)

/* A block of n bytes followed by a guard zone of 0x5A bytes. */
static void *guarded(size_t n)
{
	unsigned char *p = malloc(n + GUARD);
	if (!p) {
		fprintf(stderr, "abi_v1_client: out of memory\n");
		exit(1);
	}
	memset(p, 0x5A, n + GUARD);
	return p;
}

static int guard_intact(const void *block, size_t n)
{
	const unsigned char *p = block;
	for (size_t i = n; i < n + GUARD; i++)
		if (p[i] != 0x5A)
			return 0;
	return 1;
}

/* Allocate a struct of the version-1 size and copy an initializer in. */
#define NEW_FROM(type, init) ((type *)memcpy(guarded(sizeof(type)), &(type)init, sizeof(type)))

static const char *store_dir(void)
{
	static char dir[4096];
	const char *root = getenv("VARVE_TEST_TMPDIR");
	snprintf(dir, sizeof dir, "%s/abi-v1-XXXXXX", root && *root ? root : "/tmp");
	mkdir(root && *root ? root : "/tmp", 0700);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	return dir;
}

static void check_outputs(varve_db *db)
{
	varve_topic_config *cfg = guarded(sizeof *cfg);
	cfg->version = VARVE_TOPIC_CONFIG_VERSION;
	OK(varve_topic_describe(db, "orders", cfg));
	CHECK(cfg->partitions == 2 && cfg->retention_ms == -1, "describe: %u partitions",
	      cfg->partitions);
	CHECK(cfg->version == 1, "describe changed the version to %u", cfg->version);
	CHECK(guard_intact(cfg, sizeof *cfg), "describe wrote past the struct");

	varve_partition_info *info = guarded(sizeof *info);
	info->version = VARVE_PARTITION_INFO_VERSION;
	OK(varve_partition_info_get(db, "orders", 0, info));
	CHECK(info->end_offset == 4 && info->segments >= 1, "partition info: end %lld",
	      (long long)info->end_offset);
	CHECK(guard_intact(info, sizeof *info), "partition info wrote past the struct");

	varve_stats *st = guarded(sizeof *st);
	st->version = VARVE_STATS_VERSION;
	OK(varve_stats_get(db, st));
	CHECK(st->appends == 3, "stats: %llu appends", (unsigned long long)st->appends);
	CHECK(guard_intact(st, sizeof *st), "stats wrote past the struct");

	varve_lag *lag = guarded(sizeof *lag);
	lag->version = VARVE_LAG_VERSION;
	OK(varve_group_lag(db, "g", "orders", 0, lag));
	CHECK(lag->committed == 4 && lag->records == 0, "lag: committed %lld",
	      (long long)lag->committed);
	CHECK(guard_intact(lag, sizeof *lag), "lag wrote past the struct");

	varve_commit_info *ci = guarded(sizeof *ci);
	ci->version = VARVE_COMMIT_INFO_VERSION;
	OK(varve_group_committed(db, "g", "orders", 0, ci));
	CHECK(ci->offset == 4, "committed: %lld", (long long)ci->offset);
	CHECK(guard_intact(ci, sizeof *ci), "committed wrote past the struct");
	free(cfg);
	free(info);
	free(st);
	free(lag);
	free(ci);
}

static void produce_all(varve_db *db)
{
	varve_record r = { "k", 1, "one", 3, NULL, 0, VARVE_TIMESTAMP_NOW, 0, 0, 0 };
	int32_t part = -1;
	int64_t off = -1;
	OK(varve_produce(db, "orders", &r, &part, &off));
	CHECK(part == 0 && off == 0, "produce: %d/%lld", part, (long long)off);

	varve_produce_options *po = NEW_FROM(varve_produce_options, VARVE_PRODUCE_OPTIONS_INIT);
	po->partition = 0;
	varve_record two[2] = { { "k", 1, "two", 3, NULL, 0, VARVE_TIMESTAMP_NOW, 0, 0, 0 },
				{ "k", 1, "three", 5, NULL, 0, VARVE_TIMESTAMP_NOW, 0, 0, 0 } };
	OK(varve_produce_batch(db, "orders", two, 2, po));
	CHECK(two[1].offset == 2, "batch: offset %lld", (long long)two[1].offset);

	varve_append_options *ao = NEW_FROM(varve_append_options, VARVE_APPEND_OPTIONS_INIT);
	ao->expected_end_offset = 3;
	varve_append_result res;
	varve_record four = { "k", 1, "four", 4, NULL, 0, VARVE_TIMESTAMP_NOW, 0, 0, 0 };
	OK(varve_append(db, "orders", 0, &four, 1, ao, &res));
	CHECK(res.base_offset == 3, "append: offset %lld", (long long)res.base_offset);
	free(po);
	free(ao);
}

static void read_all(varve_db *db)
{
	varve_iter *it;
	OK(varve_iter_open(db, "orders", 0, 0, &it));
	const varve_record *rec;
	int n = 0, rc;
	while ((rc = varve_iter_next(it, &rec)) == VARVE_OK)
		n++;
	CHECK(rc == VARVE_EEND && n == 4, "read %d records, then %d", n, rc);
	OK(varve_iter_seek(it, 1));
	const varve_batch_info *bi;
	const varve_record *recs;
	size_t count;
	OK(varve_iter_next_batch(it, &bi, &recs, &count));
	CHECK(count == 2 && bi->base_offset == 1 && bi->record_count == 2 && bi->producer_id == -1,
	      "batch info: %zu records from %lld", count, (long long)bi->base_offset);
	varve_iter_close(it);
}

static void consume(varve_db *db)
{
	varve_consumer_options *co = NEW_FROM(varve_consumer_options, VARVE_CONSUMER_OPTIONS_INIT);
	const char *topics[] = { "orders" };
	varve_consumer *c = NULL;
	OK(varve_consumer_open(db, "g", topics, 1, co, &c));
	const varve_msg *msgs;
	size_t n = 0;
	OK(varve_consumer_poll(c, 1000, &msgs, &n));
	CHECK(n == 4, "poll: %zu records", n);
	OK(varve_consumer_commit(c));
	varve_consumer_close(c);
	free(co);

	varve_producer_options *pro = NEW_FROM(varve_producer_options, VARVE_PRODUCER_OPTIONS_INIT);
	pro->name = "v1-producer";
	varve_producer *p = NULL;
	OK(varve_producer_open(db, pro, &p));
	int64_t id = -1;
	OK(varve_producer_id(p, &id, NULL));
	CHECK(id >= 0, "producer id %lld", (long long)id);
	varve_producer_close(p);
	free(pro);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void on_progress(void *ctx, const varve_backup_progress *p)
{
	if (!p->topic)
		*(uint32_t *)ctx = p->partitions_done;
}

/* A backup into <dir>.copy: options of version 1, a report of its size. */
static void backup(varve_db *db, const char *dir)
{
	char dest[4200];
	snprintf(dest, sizeof dest, "%s.copy", dir);
	uint32_t done = 0;
	varve_backup_options *bo = NEW_FROM(varve_backup_options, VARVE_BACKUP_OPTIONS_INIT);
	bo->copy_only = 1;
	bo->progress_fn = on_progress;
	bo->progress_ctx = &done;
	varve_backup_report *rep = guarded(sizeof *rep);
	rep->version = VARVE_BACKUP_REPORT_VERSION;
	OK(varve_backup(db, dest, bo, rep));
	CHECK(rep->topics == 1 && rep->partitions == 3 && rep->segments_linked == 0,
	      "backup: %u topics, %u partitions, %llu linked", rep->topics, rep->partitions,
	      (unsigned long long)rep->segments_linked);
	CHECK(done == 3, "backup progress: %u partitions done", done);
	CHECK(guard_intact(rep, sizeof *rep), "backup wrote past the report");
	varve_db *copy = NULL;
	varve_options *o = NEW_FROM(varve_options, VARVE_OPTIONS_INIT);
	o->read_only = 1;
	o->create_if_missing = 0;
	OK(varve_open(dest, o, &copy));
	if (copy) {
		int64_t end = -1;
		OK(varve_offsets(copy, "orders", 0, NULL, &end));
		CHECK(end > 0, "the copy's orders/0 ends at %lld", (long long)end);
		OK(varve_close(copy));
	}
	free(o);
	free(rep);
	free(bo);
	CHECK(nftw(dest, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "removing %s", dest);
}

int main(void)
{
	const char *dir = store_dir();
	varve_options *o = NEW_FROM(varve_options, VARVE_OPTIONS_INIT);
	o->sync_policy = VARVE_SYNC_NONE;
	o->start_cleaner = 0;
	varve_db *db = NULL;
	OK(varve_open(dir, o, &db));
	if (!db)
		return 1;
	varve_topic_config *tc = NEW_FROM(varve_topic_config, VARVE_TOPIC_CONFIG_INIT);
	tc->partitions = 2;
	OK(varve_topic_create(db, "orders", tc));
	produce_all(db);
	read_all(db);
	consume(db);
	check_outputs(db);
	backup(db, dir);
	OK(varve_close(db));

	varve_repair_options *ro = NEW_FROM(varve_repair_options, VARVE_REPAIR_OPTIONS_INIT);
	varve_repair_report *rep = guarded(sizeof *rep);
	rep->version = VARVE_REPAIR_REPORT_VERSION;
	OK(varve_repair(dir, ro, rep));
	CHECK(rep->ranges_damaged == 0 && rep->topics_recreated == 0, "repair: %llu damaged",
	      (unsigned long long)rep->ranges_damaged);
	CHECK(guard_intact(rep, sizeof *rep), "repair wrote past the report");
	free(ro);
	free(rep);
	free(tc);
	free(o);
	if (failures) {
		fprintf(stderr, "abi_v1_client: %d failures (store kept at %s)\n", failures, dir);
		return 1;
	}
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : 1;
}
