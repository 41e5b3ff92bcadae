/* SPDX-License-Identifier: MIT */
/*
 * cli_stats.c -- varve stats: per partition offsets, size and segments, per
 * group lag, and the library's counters of this process, as text, one JSON
 * document or the Prometheus text format. Read-only open; public API only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"
#include "encode.h"

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
	fputs("store ", stdout);
	enc_text(stdout, dir, strlen(dir));
	printf(": %zu topics, %zu partitions, %" PRId64 " records, %s, %zu groups\n\n", s->ntopics,
	       s->np, records, b, s->ngroups);
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
		cli_lag_header();
		for (size_t i = 0; i < s->nl; i++)
			cli_lag_row(s->lags[i].group, s->lags[i].topic, s->lags[i].partition,
				    &s->lags[i].lag);
		printf("\n");
	}
	const varve_stats *st = &s->st;
	printf("counters of this process: appends %" PRIu64 ", appended bytes %" PRIu64
	       ", fsyncs %" PRIu64 " (%.3f s), segments deleted %" PRIu64 ", compactions %" PRIu64
	       ", cleaner failures %" PRIu64 "\n",
	       st->appends, st->appended_bytes, st->fsyncs, (double)st->fsync_ns / 1e9,
	       st->segments_deleted, st->compactions, st->cleaner_failures);
}

static void stats_json(const char *dir, const snapshot *s)
{
	fputs("{\"store\":", stdout);
	cli_json_str(dir);
	fputs(",\"topics\":[", stdout);
	for (size_t i = 0; i < s->np; i++) {
		int first_of_topic = i == 0 || strcmp(s->parts[i - 1].topic, s->parts[i].topic);
		if (first_of_topic) {
			if (i)
				fputs("]},", stdout);
			fputs("{\"name\":", stdout);
			cli_json_str(s->parts[i].topic);
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
			cli_json_str(s->lags[i].group);
			fputs(",\"partitions\":[", stdout);
		} else {
			fputc(',', stdout);
		}
		fputs("{\"topic\":", stdout);
		cli_json_str(s->lags[i].topic);
		cli_lag_json(s->lags[i].partition, &s->lags[i].lag);
		fputc('}', stdout);
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
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
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
