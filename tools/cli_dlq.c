/* SPDX-License-Identifier: MIT */
/*
 * cli_dlq.c -- varve dlq replay DLQ_TOPIC: move dead letters back to the
 * topic and partition their dlq-* headers name (varve_dlq_replay), under
 * the writer lock; or through a running server (cli_remote.h) as a Kafka
 * consumer of the DLQ topic and a producer to the origin topics.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"
#include "cli_remote.h"

static const char dlq_help[] =
	"usage: varve dlq replay DLQ_TOPIC [--max N]\n"
	"\n"
	"Move dead letters back: append each record of DLQ_TOPIC (from where the last\n"
	"replay stopped) to the topic and partition named by its dlq-* headers, without\n"
	"those headers (varve_dlq_replay). At-least-once: a crash mid-replay may move\n"
	"some records twice. Needs the writer lock, or goes through the running server.\n"
	"\n"
	"  --max N   move at most N records (default: all)\n";

enum { O_MAX = 256 };

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
	if ((rc = cli_arg_name(c, "topic", ops[1])))
		return rc;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "dlq replay needs the writer lock", 0, 1 };
	if ((rc = cli_open(c, &oo, &db)))
		return rc == CLI_REMOTE ? cli_remote_dlq_replay(c, ops[1], max) : rc;
	uint64_t moved = 0;
	rc = varve_dlq_replay(db, ops[1], max, &moved);
	if (rc)
		rc = cli_fail("dlq replay", rc);
	else
		printf("moved %" PRIu64 " dead letters back from %s\n", moved, ops[1]);
	return cli_close(db, rc);
}
