/* SPDX-License-Identifier: MIT */
/* cli_group.c -- varve group list|describe|reset|delete. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_parse.h"

static const char group_help[] =
	"usage: varve group SUBCOMMAND [OPTIONS]\n"
	"\n"
	"  list              list consumer groups, one per line\n"
	"  describe GROUP    committed offset, end offset and lag per topic partition\n"
	"  reset GROUP       move the committed offsets of a topic's partitions\n"
	"  delete GROUP      delete a group and its committed offsets\n"
	"\n"
	"'varve group SUBCOMMAND --help' for the options of each.\n";

static const char list_help[] =
	"usage: varve group list\n"
	"\n"
	"Print the group names, sorted, one per line. Opens the store read-only.\n";

static const char describe_help[] =
	"usage: varve group describe GROUP [--json]\n"
	"\n"
	"For every partition of every topic the group has committed offsets in: the\n"
	"committed offset (next to read; '-' if none), the end offset, the lag in records\n"
	"and in log bytes, and the age of the oldest unconsumed record.\n"
	"\n"
	"  -J, --json   one JSON object per partition, one per line\n"
	"\n"
	"Opens the store read-only.\n";

static const char reset_help[] =
	"usage: varve group reset GROUP --topic T [--partition P] TARGET [--dry-run]\n"
	"\n"
	"Move the committed offsets of GROUP for the partitions of topic T (or only P).\n"
	"TARGET is one of:\n"
	"      --to-earliest     the log start\n"
	"      --to-latest       the log end (skip everything stored)\n"
	"      --to-offset N     offset N\n"
	"      --to-time T       the first record with timestamp >= T (RFC 3339, epoch ms,\n"
	"                        now-1h); the end if none\n"
	"      --shift-by N      the committed offset + N (N may be negative; a partition\n"
	"                        without a commit shifts from the log start)\n"
	"      --by-duration D   the first record of the last D (like --to-time now-D)\n"
	"Targets are clamped to [log start, log end].\n"
	"\n"
	"  -t, --topic T     the topic (required)\n"
	"  -p, --partition P only this partition\n"
	"      --dry-run     print the plan and change nothing (opens read-only)\n"
	"\n"
	"The plan is printed as GROUP TOPIC PARTITION CURRENT NEW. Without --dry-run the\n"
	"new offsets are committed in one batch (all or none); this needs the writer lock,\n"
	"so stop the group's consumers (and any other writer) first.\n";

static const char delete_help[] =
	"usage: varve group delete GROUP\n"
	"\n"
	"Delete the group and its committed offsets. Needs the writer lock.\n";

enum {
	O_TO_EARLIEST = 256,
	O_TO_LATEST,
	O_TO_OFFSET,
	O_TO_TIME,
	O_SHIFT_BY,
	O_BY_DURATION,
	O_DRY_RUN,
};

/* ---- lag enumeration (also used by stats) ----------------------------------------- */

int cli_group_lags(varve_db *db, const char *group, cli_lag_fn fn, void *ctx)
{
	char **topics;
	size_t nt;
	int rc = varve_topic_list(db, &topics, &nt);
	if (rc)
		return cli_fail("listing topics", rc);
	for (size_t i = 0; i < nt && rc == CLI_OK; i++) {
		varve_topic_config tc;
		varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
		if (varve_topic_describe(db, topics[i], &tc))
			continue; /* deleted meanwhile */
		int any = 0;
		for (uint32_t p = 0; p < tc.partitions && !any; p++) {
			int64_t off;
			any = varve_group_offset(db, group, topics[i], p, &off) == VARVE_OK;
		}
		for (uint32_t p = 0; any && p < tc.partitions && rc == CLI_OK; p++) {
			varve_lag lag;
			memset(&lag, 0, sizeof lag);
			lag.version = VARVE_LAG_VERSION;
			int r = varve_group_lag(db, group, topics[i], p, &lag);
			if (r) {
				rc = cli_fail(topics[i], r);
				break;
			}
			if (fn(ctx, group, topics[i], p, &lag))
				rc = CLI_ERROR;
		}
	}
	varve_strings_free(topics, nt);
	return rc;
}

static int group_exists(varve_db *db, const char *group, int *exists)
{
	char **names;
	size_t n;
	int rc = varve_group_list(db, &names, &n);
	if (rc)
		return cli_fail("listing groups", rc);
	*exists = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], group))
			*exists = 1;
	varve_strings_free(names, n);
	return CLI_OK;
}

static int parse_simple(cli_ctx *c, int argc, char **argv, const char *help, int want_name,
			const char **name)
{
	static const struct option lo[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	int ch;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, help)) != -1)
		return ch == 'h' ? -1 : CLI_USAGE;
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (want_name && n < 1)
		return cli_usage(c, "missing group name");
	if (n > want_name)
		return cli_usage(c, "unexpected argument \"%s\"", ops[want_name]);
	if (want_name) {
		*name = ops[0];
		return cli_arg_name(c, "group", *name);
	}
	return CLI_OK;
}

static int group_list(cli_ctx *c, int argc, char **argv)
{
	int rc = parse_simple(c, argc, argv, list_help, 0, NULL);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	char **names;
	size_t n;
	rc = varve_group_list(db, &names, &n);
	if (rc) {
		rc = cli_fail("listing groups", rc);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		varve_strings_free(names, n);
	}
	return cli_close(db, rc);
}

typedef struct describe_ctx {
	int json;
	size_t rows;
} describe_ctx;

static int describe_row(void *ctx, const char *group, const char *topic, uint32_t partition,
			const varve_lag *lag)
{
	describe_ctx *d = ctx;
	if (d->json) {
		fputs("{\"group\":", stdout);
		cj_write_string(stdout, group, strlen(group));
		fputs(",\"topic\":", stdout);
		cj_write_string(stdout, topic, strlen(topic));
		printf(",\"partition\":%u,\"committed\":", partition);
		if (lag->committed < 0)
			fputs("null", stdout);
		else
			printf("%" PRId64, lag->committed);
		printf(",\"end_offset\":%" PRId64 ",\"lag\":%" PRId64 ",\"lag_bytes\":%" PRIu64
		       ",\"oldest_age_ms\":%" PRId64 "}\n",
		       lag->end_offset, lag->records, lag->bytes, lag->oldest_age_ms);
	} else {
		if (d->rows == 0)
			printf("%-20s %-20s %9s %12s %12s %12s %12s %12s\n", "GROUP", "TOPIC", "PARTITION",
			       "COMMITTED", "END", "LAG", "LAG-BYTES", "OLDEST-AGE");
		char committed[32], age[32], bytes[32];
		if (lag->committed < 0)
			snprintf(committed, sizeof committed, "-");
		else
			snprintf(committed, sizeof committed, "%" PRId64, lag->committed);
		if (lag->records > 0)
			cli_format_duration(lag->oldest_age_ms, age, sizeof age);
		else
			snprintf(age, sizeof age, "-");
		cli_format_size(lag->bytes, bytes, sizeof bytes);
		printf("%-20s %-20s %9u %12s %12" PRId64 " %12" PRId64 " %12s %12s\n", group, topic,
		       partition, committed, lag->end_offset, lag->records, bytes, age);
	}
	d->rows++;
	return 0;
}

static int group_describe(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	describe_ctx d = { 0, 0 };
	int ch, rc;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "J", lo, describe_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch != 'J')
			return CLI_USAGE;
		d.json = 1;
	}
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n < 1)
		return cli_usage(c, "missing group name");
	if (n > 1)
		return cli_usage(c, "unexpected argument \"%s\"", ops[1]);
	const char *group = ops[0];
	if ((rc = cli_arg_name(c, "group", group)))
		return rc;
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	int exists = 0;
	if ((rc = group_exists(db, group, &exists)) == CLI_OK && !exists) {
		cli_errf("no group named %s", group);
		rc = CLI_ERROR;
	}
	if (rc == CLI_OK)
		rc = cli_group_lags(db, group, describe_row, &d);
	if (rc == CLI_OK && d.rows == 0 && !d.json)
		printf("group %s has no committed offsets\n", group);
	return cli_close(db, rc);
}

static int group_reset(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "topic", required_argument, NULL, 't' },
		{ "partition", required_argument, NULL, 'p' },
		{ "to-earliest", no_argument, NULL, O_TO_EARLIEST },
		{ "to-latest", no_argument, NULL, O_TO_LATEST },
		{ "to-offset", required_argument, NULL, O_TO_OFFSET },
		{ "to-time", required_argument, NULL, O_TO_TIME },
		{ "to-datetime", required_argument, NULL, O_TO_TIME },
		{ "shift-by", required_argument, NULL, O_SHIFT_BY },
		{ "by-duration", required_argument, NULL, O_BY_DURATION },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ NULL, 0, NULL, 0 },
	};
	const char *topic = NULL;
	int64_t partition = -1, arg = 0;
	int mode = 0, modes = 0, dry = 0, ch, rc;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "t:p:", lo, reset_help)) != -1) {
		switch (ch) {
		case 'h': return CLI_OK;
		case 't':
			topic = optarg;
			if ((rc = cli_arg_name(c, "topic", topic)))
				return rc;
			break;
		case 'p':
			if ((rc = cli_arg_i64(c, "--partition", optarg, 0, VARVE_MAX_PARTITIONS - 1,
					      &partition)))
				return rc;
			break;
		case O_TO_EARLIEST:
		case O_TO_LATEST:
			mode = ch;
			modes++;
			break;
		case O_TO_OFFSET:
			mode = ch;
			modes++;
			if ((rc = cli_arg_i64(c, "--to-offset", optarg, 0, INT64_MAX, &arg)))
				return rc;
			break;
		case O_TO_TIME:
			mode = ch;
			modes++;
			if ((rc = cli_arg_time(c, "--to-time", optarg, &arg)))
				return rc;
			break;
		case O_SHIFT_BY:
			mode = ch;
			modes++;
			if ((rc = cli_arg_i64(c, "--shift-by", optarg, INT64_MIN / 2, INT64_MAX / 2, &arg)))
				return rc;
			break;
		case O_BY_DURATION: {
			int64_t d;
			mode = ch;
			modes++;
			if ((rc = cli_arg_duration(c, "--by-duration", optarg, &d)))
				return rc;
			arg = cli_now_ms() - d;
			break;
		}
		case O_DRY_RUN: dry = 1; break;
		default: return CLI_USAGE;
		}
	}
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n < 1)
		return cli_usage(c, "missing group name");
	if (n > 1)
		return cli_usage(c, "unexpected argument \"%s\"", ops[1]);
	const char *group = ops[0];
	if ((rc = cli_arg_name(c, "group", group)))
		return rc;
	if (!topic)
		return cli_usage(c, "--topic is required");
	if (modes == 0)
		return cli_usage(c, "say where to: --to-earliest, --to-latest, --to-offset, --to-time, "
				    "--shift-by or --by-duration");
	if (modes > 1)
		return cli_usage(c, "use only one of --to-earliest, --to-latest, --to-offset, "
				    "--to-time, --shift-by, --by-duration");

	varve_db *db;
	cli_open_opts oo = { !dry, 0, VARVE_SYNC_ALWAYS, 0,
			     "group reset commits offsets and needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	uint32_t nparts;
	if ((rc = cli_topic_partitions(db, topic, &nparts)))
		return cli_close(db, rc);
	if (partition >= (int64_t)nparts) {
		cli_errf("topic %s has %u partition%s; no partition %" PRId64, topic, nparts,
			 nparts == 1 ? "" : "s", partition);
		return cli_close(db, CLI_ERROR);
	}
	uint32_t first = partition >= 0 ? (uint32_t)partition : 0;
	uint32_t count = partition >= 0 ? 1 : nparts;
	int64_t *target = calloc(count, sizeof *target);
	if (!target) {
		cli_errf("out of memory");
		return cli_close(db, CLI_ERROR);
	}
	printf("%-20s %-20s %9s %20s %20s\n", "GROUP", "TOPIC", "PARTITION", "CURRENT", "NEW");
	for (uint32_t i = 0; i < count && rc == CLI_OK; i++) {
		uint32_t p = first + i;
		int64_t start, end, cur = -1, t;
		int r = varve_offsets(db, topic, p, &start, &end);
		if (r) {
			rc = cli_fail(topic, r);
			break;
		}
		if (varve_group_offset(db, group, topic, p, &cur))
			cur = -1;
		switch (mode) {
		case O_TO_EARLIEST: t = start; break;
		case O_TO_LATEST: t = end; break;
		case O_TO_OFFSET: t = arg; break;
		case O_SHIFT_BY: t = (cur >= 0 ? cur : start) + arg; break;
		default: /* by time */
			r = varve_offset_for_time(db, topic, p, arg, &t);
			if (r == VARVE_ENOTFOUND) {
				t = end;
			} else if (r) {
				rc = cli_fail(topic, r);
				continue;
			}
		}
		const char *note = "";
		if (t < start) {
			t = start;
			note = "  (clamped to the log start)";
		} else if (t > end) {
			t = end;
			note = "  (clamped to the log end)";
		}
		target[i] = t;
		char curs[32];
		if (cur < 0)
			snprintf(curs, sizeof curs, "-");
		else
			snprintf(curs, sizeof curs, "%" PRId64, cur);
		printf("%-20s %-20s %9u %20s %20" PRId64 "%s\n", group, topic, p, curs, t, note);
	}
	if (rc == CLI_OK && dry) {
		printf("dry run: nothing changed (run without --dry-run to apply)\n");
	} else if (rc == CLI_OK) {
		/* A consumer commits every offset in one metadata batch. */
		varve_consumer *cons;
		const char *topics[1] = { topic };
		int r = varve_consumer_open(db, group, topics, 1, NULL, &cons);
		if (r) {
			rc = cli_fail(group, r);
		} else {
			for (uint32_t i = 0; i < count && rc == CLI_OK; i++)
				if ((r = varve_consumer_seek(cons, topic, first + i, target[i])))
					rc = cli_fail(topic, r);
			if (rc == CLI_OK && (r = varve_consumer_commit(cons)))
				rc = cli_fail("commit", r);
			varve_consumer_close(cons);
		}
		if (rc == CLI_OK)
			printf("reset %u partition%s of group %s\n", count, count == 1 ? "" : "s", group);
	}
	free(target);
	return cli_close(db, rc);
}

static int group_delete(cli_ctx *c, int argc, char **argv)
{
	const char *group = NULL;
	int rc = parse_simple(c, argc, argv, delete_help, 1, &group);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	varve_db *db;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "group delete needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	rc = varve_group_delete(db, group);
	if (rc == VARVE_ENOTFOUND) {
		cli_errf("no group named %s", group);
		rc = CLI_ERROR;
	} else if (rc) {
		rc = cli_fail(group, rc);
	} else {
		printf("deleted group %s\n", group);
	}
	return cli_close(db, rc);
}

static const cli_sub group_subs[] = {
	{ "list", group_list, "list groups" },
	{ "describe", group_describe, "describe a group" },
	{ "reset", group_reset, "reset offsets" },
	{ "delete", group_delete, "delete a group" },
	{ NULL, NULL, NULL },
};

int cli_group_main(cli_ctx *c, int argc, char **argv)
{
	return cli_dispatch(c, "group", group_subs, group_help, argc, argv);
}
