/* SPDX-License-Identifier: MIT */
/* cli_admin.c -- varve stats, verify, clean. */
#include <dirent.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_parse.h"

static const char stats_help[] =
	"usage: varve stats [--json | --prometheus]\n"
	"\n"
	"Per partition: log start and end offsets, records, size, segments; per group:\n"
	"committed offset and lag; then the library's counters.\n"
	"\n"
	"  -J, --json         one JSON document\n"
	"  -P, --prometheus   Prometheus text exposition format (HELP/TYPE lines), e.g. for\n"
	"                     node_exporter's textfile collector\n"
	"\n"
	"The library's counters (appends, fsyncs, compactions, ...) count what the process\n"
	"that reads them did: here the varve command itself, so they are (near) zero. The\n"
	"partition and group figures come from the files and are what a dashboard wants.\n"
	"Opens the store read-only.\n";

static const char verify_help[] =
	"usage: varve verify\n"
	"\n"
	"Open the store read-only (nothing is repaired; it works while a writer runs), read\n"
	"the metadata log (the open replays all of it) and every record of every partition,\n"
	"and report damage: the file and byte position of a batch that fails its checksum\n"
	"or does not decode, and segment bytes past the readable end of a partition (a torn\n"
	"or damaged tail that the next writer open would cut).\n"
	"Shows a progress bar on stderr when stderr is a terminal.\n"
	"Exit status: 0 no damage, 3 damage found, 1 the check could not run.\n";

static const char clean_help[] =
	"usage: varve clean [--force]\n"
	"\n"
	"Run one retention and compaction round now (varve_clean_now) and print what it\n"
	"reclaimed. Needs the writer lock.\n"
	"\n"
	"  --force   compact compacted topics whatever their dirty ratio\n";

static const char dlq_help[] =
	"usage: varve dlq replay DLQ_TOPIC [--max N]\n"
	"\n"
	"Move dead letters back: append each record of DLQ_TOPIC (from where the last\n"
	"replay stopped) to the topic and partition named by its dlq-* headers, without\n"
	"those headers (varve_dlq_replay). At-least-once: a crash mid-replay may move\n"
	"some records twice. Needs the writer lock.\n"
	"\n"
	"  --max N   move at most N records (default: all)\n";

enum { O_FORCE = 256, O_MAX };

/* ---- collecting ---------------------------------------------------------------- */

typedef struct part_row {
	char *topic;
	uint32_t partition;
	varve_partition_info info;
} part_row;

typedef struct lag_row {
	char *group, *topic;
	uint32_t partition;
	varve_lag lag;
} lag_row;

typedef struct snapshot {
	part_row *parts;
	size_t np, pcap;
	lag_row *lags;
	size_t nl, lcap;
	size_t ntopics, ngroups;
	varve_stats st;
} snapshot;

static int add_lag(void *ctx, const char *group, const char *topic, uint32_t partition,
		   const varve_lag *lag)
{
	snapshot *s = ctx;
	if (s->nl == s->lcap) {
		size_t nc = s->lcap ? s->lcap * 2 : 32;
		lag_row *nv = realloc(s->lags, nc * sizeof *nv);
		if (!nv)
			return -1;
		s->lags = nv;
		s->lcap = nc;
	}
	lag_row *r = &s->lags[s->nl];
	r->group = strdup(group);
	r->topic = strdup(topic);
	if (!r->group || !r->topic) {
		free(r->group);
		free(r->topic);
		return -1;
	}
	r->partition = partition;
	r->lag = *lag;
	s->nl++;
	return 0;
}

static void snapshot_free(snapshot *s)
{
	for (size_t i = 0; i < s->np; i++)
		free(s->parts[i].topic);
	for (size_t i = 0; i < s->nl; i++) {
		free(s->lags[i].group);
		free(s->lags[i].topic);
	}
	free(s->parts);
	free(s->lags);
}

static int collect(varve_db *db, snapshot *s)
{
	memset(s, 0, sizeof *s);
	char **topics;
	size_t nt;
	int rc = varve_topic_list(db, &topics, &nt);
	if (rc)
		return cli_fail("listing topics", rc);
	s->ntopics = nt;
	for (size_t i = 0; i < nt && rc == CLI_OK; i++) {
		varve_topic_config tc;
		varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
		if (varve_topic_describe(db, topics[i], &tc))
			continue;
		for (uint32_t p = 0; p < tc.partitions; p++) {
			if (s->np == s->pcap) {
				size_t nc = s->pcap ? s->pcap * 2 : 64;
				part_row *nv = realloc(s->parts, nc * sizeof *nv);
				if (!nv) {
					cli_errf("out of memory");
					rc = CLI_ERROR;
					break;
				}
				s->parts = nv;
				s->pcap = nc;
			}
			part_row *r = &s->parts[s->np];
			memset(r, 0, sizeof *r);
			r->info.version = VARVE_PARTITION_INFO_VERSION;
			int x = varve_partition_info_get(db, topics[i], p, &r->info);
			if (x) {
				rc = cli_fail(topics[i], x);
				break;
			}
			if (!(r->topic = strdup(topics[i]))) {
				cli_errf("out of memory");
				rc = CLI_ERROR;
				break;
			}
			r->partition = p;
			s->np++;
		}
	}
	varve_strings_free(topics, nt);
	if (rc)
		return rc;
	char **groups;
	size_t ng;
	if ((rc = varve_group_list(db, &groups, &ng)))
		return cli_fail("listing groups", rc);
	s->ngroups = ng;
	for (size_t i = 0; i < ng && rc == CLI_OK; i++)
		rc = cli_group_lags(db, groups[i], add_lag, s);
	varve_strings_free(groups, ng);
	if (rc)
		return rc;
	s->st.version = VARVE_STATS_VERSION;
	if ((rc = varve_stats_get(db, &s->st)))
		return cli_fail("stats", rc);
	return CLI_OK;
}

/* ---- stats output ------------------------------------------------------------------- */

static void stats_text(const char *dir, const snapshot *s)
{
	uint64_t bytes = 0;
	int64_t records = 0;
	for (size_t i = 0; i < s->np; i++) {
		bytes += s->parts[i].info.size_bytes;
		records += s->parts[i].info.end_offset - s->parts[i].info.start_offset;
	}
	char b[32];
	cli_format_size(bytes, b, sizeof b);
	printf("store %s: %zu topics, %zu partitions, %" PRId64 " records, %s, %zu groups\n\n", dir,
	       s->ntopics, s->np, records, b, s->ngroups);
	if (s->np) {
		printf("%-20s %9s %16s %16s %16s %12s %8s\n", "TOPIC", "PARTITION", "START", "END",
		       "RECORDS", "SIZE", "SEGMENTS");
		for (size_t i = 0; i < s->np; i++) {
			const varve_partition_info *pi = &s->parts[i].info;
			cli_format_size(pi->size_bytes, b, sizeof b);
			printf("%-20s %9u %16" PRId64 " %16" PRId64 " %16" PRId64 " %12s %8u%s\n",
			       s->parts[i].topic, s->parts[i].partition, pi->start_offset, pi->end_offset,
			       pi->end_offset - pi->start_offset, b, pi->segments,
			       pi->failed ? "  FAILED" : "");
		}
		printf("\n");
	}
	if (s->nl) {
		printf("%-20s %-20s %9s %12s %12s %12s %12s %12s\n", "GROUP", "TOPIC", "PARTITION",
		       "COMMITTED", "END", "LAG", "LAG-BYTES", "OLDEST-AGE");
		for (size_t i = 0; i < s->nl; i++) {
			const varve_lag *l = &s->lags[i].lag;
			char c[32], age[32];
			if (l->committed < 0)
				snprintf(c, sizeof c, "-");
			else
				snprintf(c, sizeof c, "%" PRId64, l->committed);
			if (l->records > 0)
				cli_format_duration(l->oldest_age_ms, age, sizeof age);
			else
				snprintf(age, sizeof age, "-");
			cli_format_size(l->bytes, b, sizeof b);
			printf("%-20s %-20s %9u %12s %12" PRId64 " %12" PRId64 " %12s %12s\n",
			       s->lags[i].group, s->lags[i].topic, s->lags[i].partition, c,
			       l->end_offset, l->records, b, age);
		}
		printf("\n");
	}
	const varve_stats *st = &s->st;
	printf("counters of this process: appends %" PRIu64 ", appended bytes %" PRIu64
	       ", fsyncs %" PRIu64 " (%.3f s), segments deleted %" PRIu64 ", compactions %" PRIu64
	       ", cleaner failures %" PRIu64 "\n",
	       st->appends, st->appended_bytes, st->fsyncs, (double)st->fsync_ns / 1e9,
	       st->segments_deleted, st->compactions, st->cleaner_failures);
}

static void json_str(const char *s) { cj_write_string(stdout, s, strlen(s)); }

static void stats_json(const char *dir, const snapshot *s)
{
	fputs("{\"store\":", stdout);
	json_str(dir);
	fputs(",\"topics\":[", stdout);
	for (size_t i = 0; i < s->np; i++) {
		int first_of_topic = i == 0 || strcmp(s->parts[i - 1].topic, s->parts[i].topic);
		if (first_of_topic) {
			if (i)
				fputs("]},", stdout);
			fputs("{\"name\":", stdout);
			json_str(s->parts[i].topic);
			fputs(",\"partitions\":[", stdout);
		} else {
			fputc(',', stdout);
		}
		const varve_partition_info *pi = &s->parts[i].info;
		printf("{\"partition\":%u,\"start_offset\":%" PRId64 ",\"end_offset\":%" PRId64
		       ",\"durable_offset\":%" PRId64 ",\"records\":%" PRId64 ",\"size_bytes\":%" PRIu64
		       ",\"segments\":%u,\"failed\":%s}",
		       s->parts[i].partition, pi->start_offset, pi->end_offset, pi->durable_offset,
		       pi->end_offset - pi->start_offset, pi->size_bytes, pi->segments,
		       pi->failed ? "true" : "false");
	}
	if (s->np)
		fputs("]}", stdout);
	fputs("],\"groups\":[", stdout);
	for (size_t i = 0; i < s->nl; i++) {
		int first_of_group = i == 0 || strcmp(s->lags[i - 1].group, s->lags[i].group);
		if (first_of_group) {
			if (i)
				fputs("]},", stdout);
			fputs("{\"name\":", stdout);
			json_str(s->lags[i].group);
			fputs(",\"partitions\":[", stdout);
		} else {
			fputc(',', stdout);
		}
		const varve_lag *l = &s->lags[i].lag;
		fputs("{\"topic\":", stdout);
		json_str(s->lags[i].topic);
		printf(",\"partition\":%u,\"committed\":", s->lags[i].partition);
		if (l->committed < 0)
			fputs("null", stdout);
		else
			printf("%" PRId64, l->committed);
		printf(",\"end_offset\":%" PRId64 ",\"lag\":%" PRId64 ",\"lag_bytes\":%" PRIu64
		       ",\"oldest_age_ms\":%" PRId64 "}",
		       l->end_offset, l->records, l->bytes, l->oldest_age_ms);
	}
	if (s->nl)
		fputs("]}", stdout);
	const varve_stats *st = &s->st;
	printf("],\"process\":{\"appends\":%" PRIu64 ",\"appended_bytes\":%" PRIu64
	       ",\"fsyncs\":%" PRIu64 ",\"fsync_ns\":%" PRIu64 ",\"dir_syncs\":%" PRIu64
	       ",\"segments_deleted\":%" PRIu64 ",\"bytes_reclaimed\":%" PRIu64
	       ",\"compactions\":%" PRIu64 ",\"compaction_ns\":%" PRIu64
	       ",\"compaction_bytes_read\":%" PRIu64 ",\"compaction_bytes_written\":%" PRIu64
	       ",\"compaction_records_kept\":%" PRIu64 ",\"compaction_records_dropped\":%" PRIu64
	       ",\"cleaner_failures\":%" PRIu64 "}}\n",
	       st->appends, st->appended_bytes, st->fsyncs, st->fsync_ns, st->dir_syncs,
	       st->segments_deleted, st->bytes_reclaimed, st->compactions, st->compaction_ns,
	       st->compaction_bytes_read, st->compaction_bytes_written, st->compaction_records_kept,
	       st->compaction_records_dropped, st->cleaner_failures);
}

/* Prometheus label values: escape \ " and newline. */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void prom_family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum { PF_START, PF_END, PF_DURABLE, PF_SIZE, PF_SEGMENTS, PF_RECORDS, PF_FAILED };
enum { LF_RECORDS, LF_BYTES, LF_COMMITTED, LF_AGE };

static void stats_prometheus(const snapshot *s)
{
	static const struct {
		const char *name, *help;
	} pf[] = {
		{ "varve_partition_start_offset", "First offset still stored (log start)." },
		{ "varve_partition_end_offset", "Next offset to be assigned (log end)." },
		{ "varve_partition_durable_offset", "Every offset below this is on disk." },
		{ "varve_partition_size_bytes", "Bytes of log segments." },
		{ "varve_partition_segments", "Number of log segments." },
		{ "varve_partition_records", "Records between log start and end (end - start)." },
		{ "varve_partition_failed", "1 once an fsync failed (read-only until reopened)." },
	};
	for (int f = 0; f < (int)(sizeof pf / sizeof pf[0]); f++) {
		if (!s->np)
			break;
		prom_family(pf[f].name, "gauge", pf[f].help);
		for (size_t i = 0; i < s->np; i++) {
			const varve_partition_info *pi = &s->parts[i].info;
			int64_t v = 0;
			switch (f) {
			case PF_START: v = pi->start_offset; break;
			case PF_END: v = pi->end_offset; break;
			case PF_DURABLE: v = pi->durable_offset; break;
			case PF_SIZE: v = (int64_t)pi->size_bytes; break;
			case PF_SEGMENTS: v = pi->segments; break;
			case PF_RECORDS: v = pi->end_offset - pi->start_offset; break;
			default: v = pi->failed; break;
			}
			printf("%s{topic=\"", pf[f].name);
			prom_label(s->parts[i].topic);
			printf("\",partition=\"%u\"} %" PRId64 "\n", s->parts[i].partition, v);
		}
	}
	static const struct {
		const char *name, *help;
	} lf[] = {
		{ "varve_group_lag_records", "Records from the group's committed offset to the end." },
		{ "varve_group_lag_bytes", "Log bytes from the group's committed offset to the end." },
		{ "varve_group_committed_offset", "The group's committed offset (next to read); -1 if none." },
		{ "varve_group_oldest_age_seconds", "Age of the oldest record the group has not consumed." },
	};
	for (int f = 0; f < (int)(sizeof lf / sizeof lf[0]); f++) {
		if (!s->nl)
			break;
		prom_family(lf[f].name, "gauge", lf[f].help);
		for (size_t i = 0; i < s->nl; i++) {
			const varve_lag *l = &s->lags[i].lag;
			printf("%s{group=\"", lf[f].name);
			prom_label(s->lags[i].group);
			printf("\",topic=\"");
			prom_label(s->lags[i].topic);
			printf("\",partition=\"%u\"} ", s->lags[i].partition);
			switch (f) {
			case LF_RECORDS: printf("%" PRId64 "\n", l->records); break;
			case LF_BYTES: printf("%" PRIu64 "\n", l->bytes); break;
			case LF_COMMITTED: printf("%" PRId64 "\n", l->committed); break;
			default: printf("%.3f\n", (double)l->oldest_age_ms / 1000.0); break;
			}
		}
	}
	prom_family("varve_topics", "gauge", "Number of topics.");
	printf("varve_topics %zu\n", s->ntopics);
	prom_family("varve_groups", "gauge", "Number of consumer groups.");
	printf("varve_groups %zu\n", s->ngroups);
	const varve_stats *st = &s->st;
	static const char proc[] = " (in the process that collected these metrics)";
	const struct {
		const char *name, *help;
		double v;
		int seconds;
	} cf[] = {
		{ "varve_appends_total", "Batches appended", (double)st->appends, 0 },
		{ "varve_appended_bytes_total", "Bytes appended", (double)st->appended_bytes, 0 },
		{ "varve_fsyncs_total", "fdatasync calls", (double)st->fsyncs, 0 },
		{ "varve_fsync_seconds_total", "Time spent in fdatasync", (double)st->fsync_ns / 1e9, 1 },
		{ "varve_dir_syncs_total", "Directory fsyncs", (double)st->dir_syncs, 0 },
		{ "varve_segments_deleted_total", "Segments deleted by retention",
		  (double)st->segments_deleted, 0 },
		{ "varve_bytes_reclaimed_total", "Bytes reclaimed by retention and compaction",
		  (double)st->bytes_reclaimed, 0 },
		{ "varve_compactions_total", "Partition compaction runs", (double)st->compactions, 0 },
		{ "varve_compaction_seconds_total", "Time spent compacting",
		  (double)st->compaction_ns / 1e9, 1 },
		{ "varve_compaction_bytes_read_total", "Bytes read by compaction",
		  (double)st->compaction_bytes_read, 0 },
		{ "varve_compaction_bytes_written_total", "Bytes written by compaction",
		  (double)st->compaction_bytes_written, 0 },
		{ "varve_compaction_records_kept_total", "Records kept by compaction",
		  (double)st->compaction_records_kept, 0 },
		{ "varve_compaction_records_dropped_total", "Records dropped by compaction",
		  (double)st->compaction_records_dropped, 0 },
		{ "varve_cleaner_failures_total", "Failed partition cleanings",
		  (double)st->cleaner_failures, 0 },
	};
	for (size_t f = 0; f < sizeof cf / sizeof cf[0]; f++) {
		printf("# HELP %s %s%s.\n# TYPE %s counter\n", cf[f].name, cf[f].help, proc, cf[f].name);
		if (cf[f].seconds)
			printf("%s %.9f\n", cf[f].name, cf[f].v);
		else
			printf("%s %.0f\n", cf[f].name, cf[f].v);
	}
}

int cli_stats_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "json", no_argument, NULL, 'J' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, mode = 0, rc;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "JP", lo, stats_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch != 'J' && ch != 'P')
			return CLI_USAGE;
		if (mode && mode != ch)
			return cli_usage(c, "use --json or --prometheus, not both");
		mode = ch;
	}
	char **ops;
	if (cli_operands(argc, argv, &ops) > 0)
		return cli_usage(c, "unexpected argument \"%s\"", ops[0]);
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	snapshot s;
	rc = collect(db, &s);
	if (rc == CLI_OK) {
		if (mode == 'J')
			stats_json(c->dir, &s);
		else if (mode == 'P')
			stats_prometheus(&s);
		else
			stats_text(c->dir, &s);
	}
	snapshot_free(&s);
	return cli_close(db, rc);
}

/* ---- verify --------------------------------------------------------------------------- */

typedef struct progress {
	int on;
	int64_t total, done;
	int64_t last_ms;
} progress;

static void progress_show(progress *pg, int force)
{
	if (!pg->on)
		return;
	int64_t now = cli_now_ms();
	if (!force && now - pg->last_ms < 100)
		return;
	pg->last_ms = now;
	int pct = pg->total > 0 ? (int)(pg->done * 100 / pg->total) : 100;
	if (pct > 100)
		pct = 100;
	char bar[31];
	int fill = pct * 30 / 100;
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = 0;
	fprintf(stderr, "\rverify %3d%% [%s] %" PRId64 "/%" PRId64 " records", pct, bar, pg->done,
		pg->total);
	fflush(stderr);
}

static void progress_clear(progress *pg)
{
	if (pg->on)
		fputs("\r\033[K", stderr);
}

typedef struct verify_state {
	const char *dir;
	progress pg;
	uint64_t damage, warnings, records, partitions;
} verify_state;

static void damage(verify_state *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void damage(verify_state *v, const char *fmt, ...)
{
	progress_clear(&v->pg);
	va_list ap;
	va_start(ap, fmt);
	fputs("damage: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	v->damage++;
}

/* Sum of the sizes of the partition's .log files from the segment holding
 * `start` on; *first_base is that segment's base. */
static int segment_file_bytes(const char *pdir, int64_t start, uint64_t *sum)
{
	DIR *d = opendir(pdir);
	if (!d)
		return -1;
	struct dirent *e;
	int64_t first = -1;
	/* pass 1: the base of the segment holding start */
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l != 24 || strcmp(e->d_name + 20, ".log"))
			continue;
		int64_t base = strtoll(e->d_name, NULL, 10);
		if (base <= start && base > first)
			first = base;
	}
	rewinddir(d);
	*sum = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l != 24 || strcmp(e->d_name + 20, ".log"))
			continue;
		int64_t base = strtoll(e->d_name, NULL, 10);
		if (base < first)
			continue;
		char path[8192];
		snprintf(path, sizeof path, "%s/%s", pdir, e->d_name);
		struct stat st;
		if (stat(path, &st) == 0)
			*sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return 0;
}

/* Bytes in segment files that the read-only view of the partition does not
 * cover: a read-only open stops silently before damage in the part of the log
 * it scans (the tail after the recovery point). Rechecked to let a live
 * writer's appends settle. */
static void tail_check(verify_state *v, varve_db *db, const char *topic, uint32_t p)
{
	char pdir[8192];
	snprintf(pdir, sizeof pdir, "%s/topics/%s/%u", v->dir, topic, p);
	uint64_t extra = 0, prev_sum = UINT64_MAX;
	int64_t end = 0;
	for (int attempt = 0; attempt < 4; attempt++) {
		varve_partition_info pi;
		memset(&pi, 0, sizeof pi);
		pi.version = VARVE_PARTITION_INFO_VERSION;
		uint64_t sum;
		if (varve_partition_info_get(db, topic, p, &pi) ||
		    segment_file_bytes(pdir, pi.start_offset, &sum))
			return;
		end = pi.end_offset;
		if (sum <= pi.size_bytes)
			return;
		extra = sum - pi.size_bytes;
		if (sum == prev_sum)
			break;
		prev_sum = sum;
		cli_sleep_ms(50);
	}
	damage(v, "%s/%u: %" PRIu64 " bytes of segment files past the readable end (offset %" PRId64
		  ") cannot be read: a damaged or torn tail (the next writer open cuts it) in %s",
	       topic, p, extra, end, pdir);
}

/* Offset of the first record read after seeking to `target`, or -1. */
static int64_t readable_from(varve_iter *it, int64_t target)
{
	const varve_record *r;
	if (varve_iter_seek(it, target) != VARVE_OK || varve_iter_next(it, &r) != VARVE_OK)
		return -1;
	return r->offset;
}

static int verify_partition(verify_state *v, varve_db *db, const char *topic, uint32_t p,
			    int compacted)
{
	int64_t start, end;
	int rc = varve_offsets(db, topic, p, &start, &end);
	if (rc)
		return cli_fail(topic, rc);
	varve_iter *it;
	rc = varve_iter_open(db, topic, p, start, &it);
	if (rc)
		return cli_fail(topic, rc);
	int64_t expect = start;
	for (;;) {
		const varve_record *r;
		rc = varve_iter_next(it, &r);
		if (rc == VARVE_EEND) {
			rc = 0;
			break;
		}
		if (rc == VARVE_ECORRUPT) {
			int64_t at = varve_iter_position(it);
			const char *msg = varve_last_error()->message;
			damage(v, "%s/%u at offset %" PRId64 ": %s", topic, p, at, msg);
			/* Resume past the damage: seek further and further ahead until a
			 * record reads (an index entry past the damaged batch). */
			int64_t lo = at, hi = -1, step = 1;
			while (at + step < end && !cli_stop) {
				if (readable_from(it, at + step) >= 0) {
					hi = at + step;
					break;
				}
				lo = at + step;
				step *= 2;
			}
			if (hi < 0) {
				printf("        offsets %" PRId64 "..%" PRId64 " cannot be read\n", at, end - 1);
				rc = 0;
				break;
			}
			while (hi - lo > 1) { /* the first target that reads again */
				int64_t mid = lo + (hi - lo) / 2;
				if (readable_from(it, mid) >= 0)
					hi = mid;
				else
					lo = mid;
			}
			int64_t resumed = readable_from(it, hi);
			if (resumed < 0 || varve_iter_seek(it, resumed) != VARVE_OK ||
			    varve_iter_next(it, &r) != VARVE_OK) {
				printf("        offsets %" PRId64 "..%" PRId64 " cannot be read\n", at, end - 1);
				rc = 0;
				break;
			}
			printf("        offsets %" PRId64 "..%" PRId64 " cannot be read; reading again from %"
			       PRId64 "\n", at, resumed - 1, resumed);
			v->pg.done += resumed - at;
			expect = resumed;
		} else if (rc) {
			char what[256];
			snprintf(what, sizeof what, "%s/%u at offset %" PRId64, topic, p,
				 varve_iter_position(it));
			varve_iter_close(it);
			return cli_fail(what, rc);
		}
		if (r->offset < expect) {
			damage(v, "%s/%u: offset %" PRId64 " after %" PRId64 " (out of order)", topic, p,
			       r->offset, expect - 1);
		} else if (r->offset > expect && !compacted) {
			progress_clear(&v->pg);
			printf("warning: %s/%u: offsets %" PRId64 "..%" PRId64 " missing\n", topic, p, expect,
			       r->offset - 1);
			v->warnings++;
		}
		expect = r->offset + 1;
		v->records++;
		v->pg.done++;
		progress_show(&v->pg, 0);
		if (cli_stop)
			break;
	}
	varve_iter_close(it);
	v->partitions++;
	if (rc == 0 && !cli_stop)
		tail_check(v, db, topic, p);
	return rc;
}

int cli_verify_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	int ch, rc;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, verify_help)) != -1)
		return ch == 'h' ? CLI_OK : CLI_USAGE;
	char **ops;
	if (cli_operands(argc, argv, &ops) > 0)
		return cli_usage(c, "unexpected argument \"%s\"", ops[0]);
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: use -d DIR or set VARVE_DIR");
	verify_state v;
	memset(&v, 0, sizeof v);
	v.dir = c->dir;
	v.pg.on = isatty(2);
	varve_db *db;
	varve_options vo;
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	vo.read_only = 1;
	rc = varve_open(c->dir, &vo, &db);
	if (rc == VARVE_ECORRUPT) {
		damage(&v, "opening the store (metadata log): %s", varve_last_error()->message);
		return CLI_DAMAGE;
	}
	if (rc)
		return cli_fail(c->dir, rc);
	cli_catch_signals();
	char **topics;
	size_t nt;
	rc = varve_topic_list(db, &topics, &nt);
	if (rc)
		return cli_close(db, cli_fail("listing topics", rc));
	for (size_t i = 0; i < nt; i++) {
		varve_topic_config tc;
		varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
		if (varve_topic_describe(db, topics[i], &tc))
			continue;
		for (uint32_t p = 0; p < tc.partitions; p++) {
			int64_t s0, e0;
			if (varve_offsets(db, topics[i], p, &s0, &e0) == 0)
				v.pg.total += e0 - s0;
		}
	}
	progress_show(&v.pg, 1);
	for (size_t i = 0; i < nt && rc == CLI_OK && !cli_stop; i++) {
		varve_topic_config tc;
		varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
		if (varve_topic_describe(db, topics[i], &tc))
			continue;
		int compacted = (tc.cleanup_policy & VARVE_CLEANUP_COMPACT) != 0;
		for (uint32_t p = 0; p < tc.partitions && rc == CLI_OK && !cli_stop; p++)
			rc = verify_partition(&v, db, topics[i], p, compacted);
	}
	progress_show(&v.pg, 1);
	progress_clear(&v.pg);
	varve_strings_free(topics, nt);
	if (rc == CLI_OK && cli_stop) {
		cli_errf("interrupted");
		rc = CLI_ERROR;
	}
	if (rc == CLI_OK) {
		printf("%s: %zu topics, %" PRIu64 " partitions, %" PRIu64 " records read: ", c->dir, nt,
		       v.partitions, v.records);
		if (v.damage)
			printf("%" PRIu64 " damaged place%s found\n", v.damage, v.damage == 1 ? "" : "s");
		else
			printf("no damage found%s\n", v.warnings ? " (see warnings)" : "");
		if (v.damage)
			rc = CLI_DAMAGE;
	}
	return cli_close(db, rc);
}

/* ---- clean --------------------------------------------------------------------------------- */

int cli_clean_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "force", no_argument, NULL, O_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc, force = 0;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, clean_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch != O_FORCE)
			return CLI_USAGE;
		force = 1;
	}
	char **ops;
	if (cli_operands(argc, argv, &ops) > 0)
		return cli_usage(c, "unexpected argument \"%s\"", ops[0]);
	varve_db *db;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "clean needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	varve_stats before, after;
	memset(&before, 0, sizeof before);
	before.version = VARVE_STATS_VERSION;
	after = before;
	(void)varve_stats_get(db, &before);
	rc = varve_clean_now(db, force);
	if (rc)
		rc = cli_fail("clean", rc);
	(void)varve_stats_get(db, &after);
	char b[32];
	cli_format_size(after.bytes_reclaimed - before.bytes_reclaimed, b, sizeof b);
	printf("cleaned: %" PRIu64 " segments deleted by retention, %" PRIu64
	       " partitions compacted (%" PRIu64 " records dropped), %s reclaimed\n",
	       after.segments_deleted - before.segments_deleted, after.compactions - before.compactions,
	       after.compaction_records_dropped - before.compaction_records_dropped, b);
	return cli_close(db, rc);
}

int cli_dlq_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "max", required_argument, NULL, O_MAX },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc;
	uint64_t max = 0;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, dlq_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch != O_MAX)
			return CLI_USAGE;
		if (cli_parse_u64(optarg, &max))
			return cli_usage(c, "--max needs a count, not \"%s\"", optarg);
	}
	char **ops;
	int nops = cli_operands(argc, argv, &ops);
	if (nops != 2 || strcmp(ops[0], "replay"))
		return cli_usage(c, "usage: varve dlq replay DLQ_TOPIC [--max N]");
	varve_db *db;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "dlq replay needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	uint64_t moved = 0;
	rc = varve_dlq_replay(db, ops[1], max, &moved);
	if (rc)
		rc = cli_fail("dlq replay", rc);
	else
		printf("moved %" PRIu64 " dead letters back from %s\n", moved, ops[1]);
	return cli_close(db, rc);
}
