/* SPDX-License-Identifier: MIT */
/*
 * cli_backup.c -- varve backup: an online copy of a store (varve_backup)
 * that is itself a store. The store is opened read-only, so it works beside
 * a running writer (an application, varve serve) and needs no lock; the
 * destination is locked while the copy is made. Progress on stderr when it
 * is a terminal, a summary (or --json) on stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "encode.h"

static const char backup_help[] =
	"usage: varve backup [--copy] [--json] [DIR] DEST\n"
	"\n"
	"Copy the store DIR (or -d DIR, $VARVE_DIR) to DEST while it is in use: the copy\n"
	"is a store, consistent at one point per partition, holding at least every record\n"
	"that was durable when the backup started; restore is opening it (varve -d DEST\n"
	"verify exits 0). The store is opened read-only: a writer may run meanwhile.\n"
	"\n"
	"Sealed segments are hard-linked when DEST is on the same file system (they never\n"
	"change; the copy then shares their blocks with the store), copied otherwise; the\n"
	"active segment is copied up to its last whole batch. DEST must be missing, empty,\n"
	"or an earlier backup: a second backup into it copies only what changed and\n"
	"removes what retention and compaction removed.\n"
	"\n"
	"Until it completes DEST holds " VARVE_BACKUP_MARKER " and does not open; a\n"
	"backup that was interrupted (killed, ^C, a full disk) is finished by running it\n"
	"again.\n"
	"\n"
	"  --copy       copy every segment, even where a hard link would do (a copy that\n"
	"               survives damage to the store's disk needs another disk anyway)\n"
	"  -J, --json   the summary as one JSON document\n"
	"\n"
	"Shows progress on stderr when stderr is a terminal. Exit codes: 0 done, 1 error,\n"
	"2 usage.\n";

enum { O_COPY = 256 };

typedef struct progress {
	int on;
	int64_t last_ms;
} progress;

static void human(char *out, size_t cap, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%" PRIu64 " B", bytes);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void on_progress(void *ctx, const varve_backup_progress *p)
{
	progress *pg = ctx;
	int64_t now = cli_now_ms();
	if (!pg->on || (p->topic && now - pg->last_ms < 100))
		return;
	pg->last_ms = now;
	if (!p->topic) {
		fputs("\r\033[K", stderr);
		return;
	}
	char linked[32], copied[32];
	human(linked, sizeof linked, p->bytes_linked);
	human(copied, sizeof copied, p->bytes_copied);
	fputs("\r\033[Kbackup ", stderr);
	if (p->partitions_total)
		fprintf(stderr, "%u/%u partitions", p->partitions_done, p->partitions_total);
	else
		fputs("metadata", stderr);
	fprintf(stderr, ", %" PRIu64 " segments, %s linked, %s copied", p->segments_done, linked,
		copied);
	fflush(stderr);
}

static void summary_text(const char *src, const char *dest, const varve_backup_report *r)
{
	char linked[32], written[32], total[32];
	human(linked, sizeof linked, r->bytes_linked);
	human(written, sizeof written, r->bytes_copied);
	human(total, sizeof total, r->bytes_total);
	fputs("backup of ", stdout);
	enc_text(stdout, src, strlen(src));
	fputs(" to ", stdout);
	enc_text(stdout, dest, strlen(dest));
	printf(": %u topics, %u partitions%s\n", r->topics, r->partitions,
	       r->repaired ? " (finished an interrupted backup)" : "");
	printf("segments: %" PRIu64 " linked (%s), %" PRIu64 " copied, %" PRIu64
	       " appended to, %" PRIu64 " kept, %" PRIu64 " removed\n",
	       r->segments_linked, linked, r->segments_copied, r->segments_appended,
	       r->segments_kept, r->segments_removed);
	printf("%s written, %s of log in the copy, %.2f s\n", written, total,
	       (double)r->elapsed_ms / 1000.0);
	if (r->topics_vanished)
		printf("%u topics were deleted while the backup ran: the copy records their "
		       "deletion\n", r->topics_vanished);
}

static void summary_json(const char *src, const char *dest, const varve_backup_report *r)
{
	fputs("{\"store\":", stdout);
	cli_json_str(src);
	fputs(",\"dest\":", stdout);
	cli_json_str(dest);
	printf(",\"topics\":%u,\"partitions\":%u,\"topics_vanished\":%u,\"partition_retries\":%u"
	       ",\"segments_linked\":%" PRIu64 ",\"segments_copied\":%" PRIu64
	       ",\"segments_appended\":%" PRIu64 ",\"segments_kept\":%" PRIu64
	       ",\"segments_removed\":%" PRIu64 ",\"bytes_linked\":%" PRIu64
	       ",\"bytes_copied\":%" PRIu64 ",\"bytes_total\":%" PRIu64 ",\"elapsed_ms\":%" PRIu64
	       ",\"repaired\":%s}\n",
	       r->topics, r->partitions, r->topics_vanished, r->partition_retries,
	       r->segments_linked, r->segments_copied, r->segments_appended, r->segments_kept,
	       r->segments_removed, r->bytes_linked, r->bytes_copied, r->bytes_total,
	       r->elapsed_ms, r->repaired ? "true" : "false");
}

/* DIR DEST, or DEST with -d DIR / $VARVE_DIR. */
static int operands(cli_ctx *c, int argc, char **argv, const char **dest)
{
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n < 1)
		return cli_usage(c, "missing destination");
	if (n > 2)
		return cli_usage(c, "unexpected argument \"%s\"", ops[2]);
	if (n == 2)
		c->dir = ops[0];
	*dest = ops[n - 1];
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: varve backup DIR DEST, or -d DIR");
	return CLI_OK;
}

int cli_backup_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "copy", no_argument, NULL, O_COPY },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc, json = 0;
	varve_backup_options bo;
	varve_backup_options_init(&bo, VARVE_BACKUP_OPTIONS_VERSION);
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "J", lo, backup_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch == O_COPY)
			bo.copy_only = 1;
		else if (ch == 'J')
			json = 1;
		else
			return CLI_USAGE;
	}
	const char *dest = NULL;
	if ((rc = operands(c, argc, argv, &dest)))
		return rc;
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	progress pg = { isatty(2), 0 };
	bo.progress_fn = on_progress;
	bo.progress_ctx = &pg;
	varve_backup_report r = { VARVE_BACKUP_REPORT_VERSION };
	int brc = varve_backup(db, dest, &bo, &r);
	if (pg.on)
		fputs("\r\033[K", stderr);
	if (brc) {
		rc = cli_fail(dest, brc);
		if (brc == VARVE_ELOCKED)
			cli_errf("%s is open by a writer, or another backup is writing to it", dest);
	} else if (json) {
		summary_json(c->dir, dest, &r);
	} else {
		summary_text(c->dir, dest, &r);
	}
	return cli_close(db, rc);
}
