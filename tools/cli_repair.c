/* SPDX-License-Identifier: MIT */
/*
 * cli_repair.c -- varve repair: rebuild a damaged metadata log
 * (varve_repair). A dry run by default: it prints what it found and what it
 * would do; --execute does it. Needs the writer lock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char repair_help[] =
	"usage: varve repair [--execute]\n"
	"\n"
	"Rebuild the store's metadata log (topic configurations, group offsets, producer\n"
	"ids) when it is damaged and the store no longer opens. What is readable is kept;\n"
	"damaged stretches are skipped and listed; a topic whose configuration was lost\n"
	"gets the default configuration with the partitions it has on disk; commits of\n"
	"topics that do not exist are dropped. Without --execute nothing is changed.\n"
	"With --execute the new log replaces the old one, which is kept as\n"
	"meta.damaged-<ms> in the store directory. Topic data is never touched.\n"
	"Needs the writer lock.\n"
	"\n"
	"  --execute   write the new metadata log (default: only report)\n";

enum { O_EXECUTE = 256 };

/* Findings always go to stderr; steps only with -v. */
static void say(void *ctx, int level, const char *msg)
{
	const cli_ctx *c = ctx;
	if (level >= VARVE_LOG_WARN)
		cli_errf("%s", msg);
	else
		cli_notef(c, "%s", msg);
}

int cli_repair_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "execute", no_argument, NULL, O_EXECUTE },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc, execute = 0;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, repair_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch != O_EXECUTE)
			return CLI_USAGE;
		execute = 1;
	}
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
	if (!c->dir)
		return cli_usage(c, "no store: give -d DIR or set VARVE_DIR");
	varve_repair_options o = VARVE_REPAIR_OPTIONS_INIT;
	o.dry_run = !execute;
	o.log_fn = say;
	o.log_ctx = c;
	varve_repair_report rep = { VARVE_REPAIR_REPORT_VERSION };
	rc = varve_repair(c->dir, &o, &rep);
	if (rc)
		return cli_fail("repair", rc);
	printf("%s: %" PRIu64 " damaged stretches skipped, %" PRIu64 " undecodable records, "
	       "%u topics given a default configuration, %" PRIu64 " commits of missing topics "
	       "dropped, %" PRIu64 " records %s\n",
	       execute ? "repaired" : "dry run", rep.ranges_damaged, rep.records_undecodable,
	       rep.topics_recreated, rep.records_dropped, rep.records_kept,
	       execute ? "written to the new metadata log" : "would be kept");
	if (!execute && (rep.ranges_damaged || rep.topics_recreated || rep.records_dropped))
		printf("run again with --execute to write the new metadata log\n");
	return CLI_OK;
}
