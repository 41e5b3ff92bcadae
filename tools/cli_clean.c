/* SPDX-License-Identifier: MIT */
/*
 * cli_clean.c -- varve clean: one retention and compaction round now
 * (varve_clean_now) under the writer lock, and what it reclaimed (the
 * difference of the library's counters around the call). Through a running
 * server (cli_remote.h), the server runs the round (VarveClean) and says
 * what its counters moved by.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"
#include "cli_remote.h"

static const char clean_help[] =
	"usage: varve clean [--force]\n"
	"\n"
	"Run one retention and compaction round now (varve_clean_now) and print what it\n"
	"reclaimed. Needs the writer lock, or goes through the running server (then the\n"
	"figures include what the server's own cleaner did meanwhile).\n"
	"\n"
	"  --force   compact compacted topics whatever their dirty ratio\n";

enum { O_FORCE = 256 };

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
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
	varve_db *db;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "clean needs the writer lock", 0, 1 };
	if ((rc = cli_open(c, &oo, &db)))
		return rc == CLI_REMOTE ? cli_remote_clean(c, force) : rc;
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
