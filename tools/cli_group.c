/* SPDX-License-Identifier: MIT */
/*
 * cli_group.c -- varve group list|describe|reset|delete, and the lag table
 * that group describe and stats print (cli.h). group reset follows
 * kafka-consumer-groups.sh: it prints the plan and changes nothing unless
 * --execute is given, and refuses a group that does not exist unless
 * --create is given (a misspelt name would silently make a new group).
 *
 * Through a server (cli_remote.h): reset --execute and delete when cli_open
 * says CLI_REMOTE (a reset plan too, with --bootstrap and no store); list
 * and describe with --bootstrap and no store.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"
#include "cli_remote.h"

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
	"Print the group names, sorted, one per line. Opens the store read-only; with\n"
	"--bootstrap and no store, asks the server.\n";

static const char describe_help[] =
	"usage: varve group describe GROUP [--json]\n"
	"\n"
	"For every partition of every topic the group has committed offsets in: the\n"
	"committed offset (next to read; '-' if none), the end offset, the lag in records\n"
	"and in log bytes, and the age of the oldest unconsumed record.\n"
	"\n"
	"  -J, --json   one JSON object per partition, one per line\n"
	"\n"
	"Opens the store read-only. With --bootstrap and no store it asks the server,\n"
	"which knows committed and end offsets but not the lag in bytes or its age ('-').\n";

static const char reset_help[] =
	"usage: varve group reset GROUP --topic T [--partition P] TARGET [--execute [--create]]\n"
	"\n"
	"Plan, and with --execute make, a move of the committed offsets of GROUP for the\n"
	"partitions of topic T (or only P). TARGET is one of:\n"
	"      --to-earliest     the log start\n"
	"      --to-latest       the log end (skip everything stored)\n"
	"      --to-offset N     offset N\n"
	"      --to-time T       the first record with timestamp >= T (RFC 3339, epoch\n"
	"                        1795687200s or 1795687200000ms, now-1h); the end if none\n"
	"      --shift-by N      the committed offset + N (N may be negative; a partition\n"
	"                        without a commit shifts from the log start)\n"
	"      --by-duration D   the first record of the last D (like --to-time now-D)\n"
	"Targets are clamped to [log start, log end].\n"
	"\n"
	"  -t, --topic T     the topic (required)\n"
	"  -p, --partition P only this partition\n"
	"      --execute     commit the new offsets (default: print the plan only)\n"
	"      --create      let --execute create GROUP if it does not exist yet\n"
	"      --dry-run     print the plan only (the default; cannot go with --execute)\n"
	"\n"
	"The plan is printed as GROUP TOPIC PARTITION CURRENT NEW. Without --execute the\n"
	"store is opened read-only and nothing changes. With --execute the new offsets are\n"
	"committed in one batch (all or none); this needs the writer lock, so stop the\n"
	"group's consumers (and any other writer) first. While a varve serve holds the\n"
	"store the reset goes through it, and is refused while the group has active\n"
	"members. A group that does not exist is refused (exit 1) unless --create is given.\n";

static const char delete_help[] =
	"usage: varve group delete GROUP\n"
	"\n"
	"Delete the group and its committed offsets. Needs the writer lock, or goes\n"
	"through the running server (refused there while the group has members).\n";

enum {
	O_TO_EARLIEST = 256,
	O_TO_LATEST,
	O_TO_OFFSET,
	O_TO_TIME,
	O_SHIFT_BY,
	O_BY_DURATION,
	O_DRY_RUN,
	O_EXECUTE,
	O_CREATE,
};

/* ---- the lag table (also used by stats) ------------------------------------------ */

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

void cli_lag_header(void)
{
	printf("%-20s %-20s %9s %12s %12s %12s %12s %12s\n", "GROUP", "TOPIC", "PARTITION",
	       "COMMITTED", "END", "LAG", "LAG-BYTES", "OLDEST-AGE");
}

void cli_lag_row(const char *group, const char *topic, uint32_t partition, const varve_lag *lag)
{
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

void cli_lag_json(uint32_t partition, const varve_lag *lag)
{
	printf(",\"partition\":%u,\"committed\":", partition);
	if (lag->committed < 0)
		fputs("null", stdout);
	else
		printf("%" PRId64, lag->committed);
	printf(",\"end_offset\":%" PRId64 ",\"lag\":%" PRId64 ",\"lag_bytes\":%" PRIu64
	       ",\"oldest_age_ms\":%" PRId64,
	       lag->end_offset, lag->records, lag->bytes, lag->oldest_age_ms);
}

/* ---- helpers --------------------------------------------------------------------- */

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

/* CLI_OK if the group exists, else prints `hint` and returns CLI_ERROR. */
static int need_group(varve_db *db, const char *group, const char *hint)
{
	int exists = 0;
	int rc = group_exists(db, group, &exists);
	if (rc == CLI_OK && !exists) {
		cli_errf("no group named %s%s", group, hint);
		rc = CLI_ERROR;
	}
	return rc;
}

/* ---- list, describe, delete ------------------------------------------------------- */

static int group_list(cli_ctx *c, int argc, char **argv)
{
	return cli_list_cmd(c, argc, argv, list_help, "groups", varve_group_list,
			    cli_remote_group_list);
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
		cli_json_str(group);
		fputs(",\"topic\":", stdout);
		cli_json_str(topic);
		cli_lag_json(partition, lag);
		fputs("}\n", stdout);
	} else {
		if (d->rows == 0)
			cli_lag_header();
		cli_lag_row(group, topic, partition, lag);
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
	const char *group;
	if ((rc = cli_one_name(c, argc, argv, "group", &group)))
		return rc;
	if (cli_remote_read(c))
		return cli_remote_group_describe(c, group, d.json);
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	rc = need_group(db, group, "");
	if (rc == CLI_OK)
		rc = cli_group_lags(db, group, describe_row, &d);
	if (rc == CLI_OK && d.rows == 0 && !d.json)
		printf("group %s has no committed offsets\n", group);
	return cli_close(db, rc);
}

static int group_delete(cli_ctx *c, int argc, char **argv)
{
	return cli_delete_cmd(c, argc, argv, delete_help, "group", varve_group_delete,
			      cli_remote_group_delete);
}

/* ---- reset ------------------------------------------------------------------------- */

typedef cli_reset_args reset_args;

/* Set the one target option; *modes counts them. */
static int reset_target(cli_ctx *c, int ch, reset_args *a, int *modes)
{
	int64_t d;
	(*modes)++;
	switch (ch) {
	case O_TO_OFFSET:
		a->mode = CLI_RESET_OFFSET;
		return cli_arg_i64(c, "--to-offset", optarg, 0, INT64_MAX, &a->arg);
	case O_TO_TIME:
		a->mode = CLI_RESET_TIME;
		return cli_arg_time(c, "--to-time", optarg, &a->arg);
	case O_SHIFT_BY:
		a->mode = CLI_RESET_SHIFT;
		return cli_arg_i64(c, "--shift-by", optarg, INT64_MIN / 2, INT64_MAX / 2, &a->arg);
	case O_BY_DURATION:
		if (cli_arg_duration(c, "--by-duration", optarg, &d))
			return CLI_USAGE;
		a->arg = cli_now_ms() - d;
		a->mode = CLI_RESET_TIME;
		return CLI_OK;
	case O_TO_EARLIEST: a->mode = CLI_RESET_EARLIEST; return CLI_OK;
	default: a->mode = CLI_RESET_LATEST; return CLI_OK;
	}
}

/* -1 after --help, else CLI_OK or CLI_USAGE. */
static int reset_parse(cli_ctx *c, int argc, char **argv, reset_args *a)
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
		{ "execute", no_argument, NULL, O_EXECUTE },
		{ "create", no_argument, NULL, O_CREATE },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc = CLI_OK, modes = 0, dry = 0;
	memset(a, 0, sizeof *a);
	a->partition = -1;
	optind = 0;
	while (rc == CLI_OK &&
	       (ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "t:p:", lo, reset_help)) != -1) {
		switch (ch) {
		case 'h': return -1;
		case 't':
			a->topic = optarg;
			rc = cli_arg_name(c, "topic", a->topic);
			break;
		case 'p':
			rc = cli_arg_i64(c, "--partition", optarg, 0, VARVE_MAX_PARTITIONS - 1,
					 &a->partition);
			break;
		case O_DRY_RUN: dry = 1; break;
		case O_EXECUTE: a->execute = 1; break;
		case O_CREATE: a->create = 1; break;
		case O_TO_EARLIEST:
		case O_TO_LATEST:
		case O_TO_OFFSET:
		case O_TO_TIME:
		case O_SHIFT_BY:
		case O_BY_DURATION: rc = reset_target(c, ch, a, &modes); break;
		default: return CLI_USAGE;
		}
	}
	if (rc || (rc = cli_one_name(c, argc, argv, "group", &a->group)))
		return rc;
	if (!a->topic)
		return cli_usage(c, "--topic is required");
	if (modes == 0)
		return cli_usage(c, "say where to: --to-earliest, --to-latest, --to-offset, --to-time, "
				    "--shift-by or --by-duration");
	if (modes > 1)
		return cli_usage(c, "use only one of --to-earliest, --to-latest, --to-offset, "
				    "--to-time, --shift-by, --by-duration");
	if (dry && a->execute)
		return cli_usage(c, "--dry-run and --execute exclude each other");
	if (a->create && !a->execute)
		return cli_usage(c, "--create only applies with --execute");
	return CLI_OK;
}

/* The new offset of one partition, clamped to [start, end]; *note says so. */
static int reset_one(varve_db *db, const reset_args *a, uint32_t p, int64_t *cur, int64_t *t,
		     const char **note)
{
	int64_t start, end;
	int r = varve_offsets(db, a->topic, p, &start, &end);
	if (r)
		return cli_fail(a->topic, r);
	if (varve_group_offset(db, a->group, a->topic, p, cur))
		*cur = -1;
	switch (a->mode) {
	case CLI_RESET_EARLIEST: *t = start; break;
	case CLI_RESET_LATEST: *t = end; break;
	case CLI_RESET_OFFSET: *t = a->arg; break;
	case CLI_RESET_SHIFT: *t = (*cur >= 0 ? *cur : start) + a->arg; break;
	default: /* by time */
		r = varve_offset_for_time(db, a->topic, p, a->arg, t);
		if (r == VARVE_ENOTFOUND)
			*t = end;
		else if (r)
			return cli_fail(a->topic, r);
	}
	*note = "";
	if (*t < start) {
		*t = start;
		*note = "  (clamped to the log start)";
	} else if (*t > end) {
		*t = end;
		*note = "  (clamped to the log end)";
	}
	return CLI_OK;
}

/* Commit every target in one batch: a consumer commits all its positions
 * in one metadata batch. */
static int reset_apply(varve_db *db, const reset_args *a, uint32_t first, uint32_t count,
		       const int64_t *target)
{
	varve_consumer *cons;
	const char *topics[1] = { a->topic };
	int r = varve_consumer_open(db, a->group, topics, 1, NULL, &cons);
	if (r)
		return cli_fail(a->group, r);
	int rc = CLI_OK;
	for (uint32_t i = 0; i < count && rc == CLI_OK; i++)
		if ((r = varve_consumer_seek(cons, a->topic, first + i, target[i])))
			rc = cli_fail(a->topic, r);
	if (rc == CLI_OK && (r = varve_consumer_commit(cons)))
		rc = cli_fail("commit", r);
	varve_consumer_close(cons);
	if (rc == CLI_OK)
		printf("reset %u partition%s of group %s\n", count, count == 1 ? "" : "s", a->group);
	return rc;
}

static int reset_run(varve_db *db, const reset_args *a)
{
	uint32_t nparts;
	int rc = cli_topic_partitions(db, a->topic, &nparts);
	if (rc)
		return rc;
	if (a->partition >= (int64_t)nparts) {
		cli_errf("topic %s has %u partition%s; no partition %" PRId64, a->topic, nparts,
			 nparts == 1 ? "" : "s", a->partition);
		return CLI_ERROR;
	}
	if (!a->create &&
	    (rc = need_group(db, a->group, " (check the name; --execute --create makes a new one)")))
		return rc;
	uint32_t first = a->partition >= 0 ? (uint32_t)a->partition : 0;
	uint32_t count = a->partition >= 0 ? 1 : nparts;
	int64_t *target = calloc(count, sizeof *target);
	if (!target) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	printf("%-20s %-20s %9s %20s %20s\n", "GROUP", "TOPIC", "PARTITION", "CURRENT", "NEW");
	for (uint32_t i = 0; i < count && rc == CLI_OK; i++) {
		int64_t cur;
		const char *note = "";
		if ((rc = reset_one(db, a, first + i, &cur, &target[i], &note)))
			break;
		char curs[32];
		if (cur < 0)
			snprintf(curs, sizeof curs, "-");
		else
			snprintf(curs, sizeof curs, "%" PRId64, cur);
		printf("%-20s %-20s %9u %20s %20" PRId64 "%s\n", a->group, a->topic, first + i, curs,
		       target[i], note);
	}
	if (rc == CLI_OK && !a->execute)
		printf("dry run: nothing changed (add --execute to commit these offsets)\n");
	else if (rc == CLI_OK)
		rc = reset_apply(db, a, first, count, target);
	free(target);
	return rc;
}

static int group_reset(cli_ctx *c, int argc, char **argv)
{
	reset_args a;
	int rc = reset_parse(c, argc, argv, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (cli_remote_read(c))
		return cli_remote_group_reset(c, &a);
	varve_db *db;
	cli_open_opts oo = { a.execute, 0, VARVE_SYNC_ALWAYS, 0,
			     "group reset --execute commits offsets and needs the writer lock", 0,
			     a.execute };
	if ((rc = cli_open(c, &oo, &db)))
		return rc == CLI_REMOTE ? cli_remote_group_reset(c, &a) : rc;
	return cli_close(db, reset_run(db, &a));
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
