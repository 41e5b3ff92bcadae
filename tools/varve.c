/* SPDX-License-Identifier: MIT */
/*
 * varve -- the operator's command line for a varve store.
 *
 *   varve [-d DIR] [--bootstrap HOST:PORT] [-v] COMMAND [ARGS...]
 *
 * Commands: topic (create, list, describe, delete), produce, consume,
 * group (list, describe, reset, delete), stats, verify, clean, dlq, repair,
 * backup, serve, user and acl (the Kafka-protocol broker, its SASL users and
 * its permissions; built when server/ is). The store is -d DIR or
 * $VARVE_DIR. Commands that only read open the store read-only, so they work
 * while a writer runs; commands that write need the writer lock, or go
 * through a running `varve serve` as a Kafka client (cli_remote.h).
 * Exit codes: 0 ok, 1 error, 2 usage, 3 damage found. See docs/TOOLS.md.
 *
 * One file per command: cli_topic.c, cli_produce.c, cli_consume.c,
 * cli_group.c, cli_stats.c, cli_verify.c, cli_clean.c, cli_dlq.c,
 * cli_repair.c, cli_backup.c, cli_serve.c, cli_user.c, cli_acl.c; shared
 * helpers in cli_common.c, the value parsers in cli_parse.c; the remote
 * paths in cli_remote*.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char main_help[] =
	"usage: varve [-d DIR] [--bootstrap HOST:PORT] [-v] COMMAND [ARGS...]\n"
	"\n"
	"The operator's command line for a varve store (an embeddable append-only log).\n"
	"\n"
	"Commands:\n"
	"  topic create NAME      create a topic (--partitions N, --compact, --retention 7d, ...)\n"
	"  topic list             list topics\n"
	"  topic describe NAME    configuration and per-partition offsets, sizes, segments\n"
	"  topic delete NAME      delete a topic and its data\n"
	"  topic alter NAME       change retention, cleanup policy, segments, ... (--config k=v)\n"
	"  topic add-partitions NAME N  grow a topic to N partitions\n"
	"  produce TOPIC          append records read from stdin (lines or --json)\n"
	"  consume TOPIC          print records (replay by offset or time, --follow, --group)\n"
	"  group list             list consumer groups\n"
	"  group describe GROUP   committed offsets and lag per partition\n"
	"  group reset GROUP      plan, or --execute, a move of committed offsets (--to-time, ...)\n"
	"  group delete GROUP     delete a group and its commits\n"
	"  stats                  offsets, sizes, lag (text, --json or --prometheus)\n"
	"  verify                 read every record and report damage (exit 3)\n"
	"  clean                  run retention and compaction now\n"
	"  dlq replay DLQ_TOPIC   move dead letters back to their topics\n"
	"  backup [DIR] DEST      copy the store while it is in use (a store; incremental)\n"
	"  serve DIR              serve the store to Kafka clients (see docs/KAFKA.md)\n"
	"  user add|remove|list   SCRAM users of serve's SASL listeners (docs/SECURITY.md)\n"
	"  acl add|remove|list    the permissions serve enforces (see docs/SECURITY.md)\n"
	"\n"
	"Options:\n"
	"  -d, --dir DIR   the store directory (default: $VARVE_DIR)\n"
	"  -v, --verbose   also print the library's informational messages and notes\n"
	"      --bootstrap HOST:PORT  go through the varve serve there (default: $VARVE_BOOTSTRAP)\n"
	"      --timeout-ms N  the bound of every call to a server (default 30000)\n"
	"  -h, --help      this help; 'varve COMMAND --help' for a command\n"
	"      --version   print the version\n"
	"\n"
	"Read-only commands (list, describe, consume without --group, group reset without\n"
	"--execute, stats, verify, backup) work while another process writes. Commands that\n"
	"write need the writer lock; while a varve serve holds it (its address is in\n"
	"DIR/SERVER) or with --bootstrap they go through that server as a Kafka client.\n"
	"Exit codes: 0 ok, 1 error, 2 usage, 3 damage found. See docs/TOOLS.md.\n";

typedef struct command {
	const char *name;
	cli_cmd_fn fn;
} command;

static const command commands[] = {
	{ "topic", cli_topic_main },     { "produce", cli_produce_main },
	{ "consume", cli_consume_main }, { "group", cli_group_main },
	{ "stats", cli_stats_main },     { "verify", cli_verify_main },
	{ "clean", cli_clean_main },     { "dlq", cli_dlq_main },
	{ "repair", cli_repair_main },   { "backup", cli_backup_main },
#ifdef VARVE_WITH_SERVE
	{ "serve", cli_serve_main },
	{ "user", cli_user_main },
	{ "acl", cli_acl_main },
#endif
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	cli_ctx c = { 0 };
	c.dir = getenv("VARVE_DIR");
	c.bootstrap = getenv("VARVE_BOOTSTRAP");
	if (c.bootstrap && !*c.bootstrap)
		c.bootstrap = NULL;
	c.timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* Options before the command word only ('+': stop at the first operand). */
	opterr = 0;
	optind = 0;
	for (;;) {
		int ch = getopt_long(argc, argv, "+:d:vh", longopts, NULL);
		if (ch == -1)
			break;
		switch (ch) {
		case 'd':
			c.dir = optarg;
			break;
		case 'v':
			c.verbose++;
			break;
		case 'h':
			fputs(main_help, stdout);
			return CLI_OK;
		case CLI_OPT_BOOTSTRAP:
			if (!*optarg)
				return cli_usage(NULL, "--bootstrap needs HOST:PORT");
			c.bootstrap = optarg;
			break;
		case CLI_OPT_TIMEOUT:
			if (cli_arg_i64(NULL, "--timeout-ms", optarg, 1, INT32_MAX, &c.timeout_ms))
				return CLI_USAGE;
			break;
		case 'V':
			printf("varve %s (library %s, format %d)\n", VARVE_VERSION_STRING,
			       varve_version(NULL, NULL, NULL), VARVE_FORMAT_VERSION);
			return CLI_OK;
		case ':':
			return cli_usage(NULL, "option %s needs a value", argv[optind - 1]);
		default:
			return cli_usage(NULL, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage(NULL, "missing command");
	const char *name = argv[optind];
	if (!strcmp(name, "help")) {
		fputs(main_help, stdout);
		return CLI_OK;
	}
	for (const command *k = commands; k->name; k++) {
		if (strcmp(k->name, name))
			continue;
		c.cmd = k->name;
		int rc = k->fn(&c, argc - optind, argv + optind);
		int out = cli_output_done(); /* -1: the reader went away, not an error */
		return rc == CLI_OK && out > 0 ? out : rc;
	}
	return cli_usage(NULL, "unknown command \"%s\"", name);
}
