/* SPDX-License-Identifier: MIT */
/* cli_topic.c -- varve topic create|list|describe|delete. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"

static const char topic_help[] =
	"usage: varve topic SUBCOMMAND [OPTIONS]\n"
	"\n"
	"  create NAME     create a topic\n"
	"  list            list topic names, one per line\n"
	"  describe NAME   configuration, then per partition: start and end offsets, size, segments\n"
	"  delete NAME     delete a topic and all its records\n"
	"\n"
	"'varve topic SUBCOMMAND --help' for the options of each.\n";

static const char create_help[] =
	"usage: varve topic create NAME [OPTIONS]\n"
	"\n"
	"Create a topic. Creates the store too if DIR does not exist yet.\n"
	"\n"
	"  --partitions N          number of partitions, 1..4096 (default 1)\n"
	"  --compact               keep the latest record per key (cleanup policy compact;\n"
	"                          with a --retention* option too: compact,delete)\n"
	"  --cleanup-policy P      delete | compact | compact,delete\n"
	"  --retention DURATION    delete records older than this (7d, 12h, 1w; 'forever' = keep;\n"
	"                          default forever)\n"
	"  --retention-bytes SIZE  per-partition size cap (10G, 512MiB; 'unlimited' = default)\n"
	"  --retention-records N   per-partition record cap (default unlimited)\n"
	"  --segment-bytes SIZE    roll segments at this size (1K..4G; default: the store's, 1 GiB)\n"
	"  --segment-ms DURATION   roll segments at this age (default: the store's, 7d)\n"
	"  --codec CODEC           none | lz4 (default none)\n"
	"  --if-not-exists         succeed if the topic already exists\n"
	"\n"
	"Sizes use powers of 1024 for every spelling: K = KB = KiB = 1024, M = 1024 K, ...\n"
	"Durations: ms, s, m, h, d, w, combinable (1h30m).\n"
	"Needs the writer lock.\n";

static const char list_help[] =
	"usage: varve topic list\n"
	"\n"
	"Print the topic names, sorted, one per line. Opens the store read-only.\n";

static const char describe_help[] =
	"usage: varve topic describe NAME\n"
	"\n"
	"Print the topic's configuration, then one line per partition: log start offset,\n"
	"end offset (next to be assigned), records (end - start), size and segments.\n"
	"Opens the store read-only.\n";

static const char delete_help[] =
	"usage: varve topic delete NAME\n"
	"\n"
	"Delete the topic and its records. Needs the writer lock.\n";

enum {
	O_PARTITIONS = 256,
	O_COMPACT,
	O_CLEANUP,
	O_RETENTION,
	O_RETENTION_BYTES,
	O_RETENTION_RECORDS,
	O_SEGMENT_BYTES,
	O_SEGMENT_MS,
	O_CODEC,
	O_IF_NOT_EXISTS,
};

static int one_name(cli_ctx *c, int argc, char **argv, const char **name)
{
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n < 1)
		return cli_usage(c, "missing topic name");
	if (n > 1)
		return cli_usage(c, "unexpected argument \"%s\"", ops[1]);
	*name = ops[0];
	return cli_arg_name(c, "topic", *name);
}

static int topic_create(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "partitions", required_argument, NULL, O_PARTITIONS },
		{ "compact", no_argument, NULL, O_COMPACT },
		{ "cleanup-policy", required_argument, NULL, O_CLEANUP },
		{ "retention", required_argument, NULL, O_RETENTION },
		{ "retention-ms", required_argument, NULL, O_RETENTION },
		{ "retention-bytes", required_argument, NULL, O_RETENTION_BYTES },
		{ "retention-records", required_argument, NULL, O_RETENTION_RECORDS },
		{ "segment-bytes", required_argument, NULL, O_SEGMENT_BYTES },
		{ "segment-ms", required_argument, NULL, O_SEGMENT_MS },
		{ "codec", required_argument, NULL, O_CODEC },
		{ "if-not-exists", no_argument, NULL, O_IF_NOT_EXISTS },
		{ NULL, 0, NULL, 0 },
	};
	varve_topic_config tc;
	varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
	int compact = 0, policy = 0, retention_given = 0, if_not_exists = 0, ch, rc;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, create_help)) != -1) {
		int64_t v;
		uint64_t u;
		switch (ch) {
		case 'h': return CLI_OK;
		case '?': return CLI_USAGE;
		case O_PARTITIONS:
			if ((rc = cli_arg_i64(c, "--partitions", optarg, 1, VARVE_MAX_PARTITIONS, &v)))
				return rc;
			tc.partitions = (uint32_t)v;
			break;
		case O_COMPACT: compact = 1; break;
		case O_CLEANUP:
			if (!strcmp(optarg, "delete"))
				policy = VARVE_CLEANUP_DELETE;
			else if (!strcmp(optarg, "compact"))
				policy = VARVE_CLEANUP_COMPACT;
			else if (!strcmp(optarg, "compact,delete") || !strcmp(optarg, "delete,compact"))
				policy = VARVE_CLEANUP_COMPACT_DELETE;
			else
				return cli_usage(c, "--cleanup-policy: use delete, compact or compact,delete");
			break;
		case O_RETENTION:
			if (!strcmp(optarg, "forever") || !strcmp(optarg, "-1")) {
				tc.retention_ms = -1;
			} else {
				if ((rc = cli_arg_duration(c, "--retention", optarg, &v)))
					return rc;
				tc.retention_ms = v;
				retention_given = 1;
			}
			break;
		case O_RETENTION_BYTES:
			if (!strcmp(optarg, "unlimited") || !strcmp(optarg, "-1")) {
				tc.retention_bytes = -1;
			} else {
				if ((rc = cli_arg_size(c, "--retention-bytes", optarg, &u)))
					return rc;
				if (u > (uint64_t)INT64_MAX)
					return cli_usage(c, "--retention-bytes: too large");
				tc.retention_bytes = (int64_t)u;
				retention_given = 1;
			}
			break;
		case O_RETENTION_RECORDS:
			if (!strcmp(optarg, "unlimited") || !strcmp(optarg, "-1")) {
				tc.retention_records = -1;
			} else {
				if ((rc = cli_arg_i64(c, "--retention-records", optarg, 0, INT64_MAX, &v)))
					return rc;
				tc.retention_records = v;
				retention_given = 1;
			}
			break;
		case O_SEGMENT_BYTES:
			if ((rc = cli_arg_size(c, "--segment-bytes", optarg, &u)))
				return rc;
			if (u < 1024 || u > UINT32_MAX)
				return cli_usage(c, "--segment-bytes: must be 1K..4G");
			tc.segment_bytes = (int64_t)u;
			break;
		case O_SEGMENT_MS:
			if ((rc = cli_arg_duration(c, "--segment-ms", optarg, &v)))
				return rc;
			tc.segment_ms = v;
			break;
		case O_CODEC:
			if (!strcmp(optarg, "none"))
				tc.codec = VARVE_CODEC_NONE;
			else if (!strcmp(optarg, "lz4"))
				tc.codec = VARVE_CODEC_LZ4;
			else
				return cli_usage(c, "--codec: use none or lz4");
			break;
		case O_IF_NOT_EXISTS: if_not_exists = 1; break;
		default: return CLI_USAGE;
		}
	}
	const char *name = NULL;
	if ((rc = one_name(c, argc, argv, &name)))
		return rc;
	if (compact && policy == VARVE_CLEANUP_DELETE)
		return cli_usage(c, "--compact contradicts --cleanup-policy delete");
	if (policy)
		tc.cleanup_policy = policy;
	else if (compact)
		tc.cleanup_policy = retention_given ? VARVE_CLEANUP_COMPACT_DELETE : VARVE_CLEANUP_COMPACT;

	varve_db *db;
	cli_open_opts oo = { 1, 1, VARVE_SYNC_ALWAYS, 0, "topic create needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	rc = varve_topic_create(db, name, &tc);
	if (rc == VARVE_EEXISTS && if_not_exists) {
		rc = CLI_OK;
	} else if (rc == VARVE_EEXISTS) {
		cli_errf("topic %s already exists", name);
		rc = CLI_ERROR;
	} else if (rc) {
		rc = cli_fail(name, rc);
	} else {
		printf("created topic %s (%u partition%s)\n", name, tc.partitions,
		       tc.partitions == 1 ? "" : "s");
	}
	return cli_close(db, rc);
}

static int simple_opts(cli_ctx *c, int argc, char **argv, const char *help)
{
	static const struct option lo[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	int ch;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, help)) != -1) {
		if (ch == 'h')
			return -1;
		return CLI_USAGE;
	}
	return 0;
}

static int topic_list(cli_ctx *c, int argc, char **argv)
{
	int rc = simple_opts(c, argc, argv, list_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	char **ops;
	if (cli_operands(argc, argv, &ops) > 0)
		return cli_usage(c, "unexpected argument \"%s\"", ops[0]);
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	char **names;
	size_t n;
	rc = varve_topic_list(db, &names, &n);
	if (rc) {
		rc = cli_fail("listing topics", rc);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		varve_strings_free(names, n);
	}
	return cli_close(db, rc);
}

static const char *policy_name(int p)
{
	switch (p) {
	case VARVE_CLEANUP_DELETE: return "delete";
	case VARVE_CLEANUP_COMPACT: return "compact";
	case VARVE_CLEANUP_COMPACT_DELETE: return "compact,delete";
	default: return "?";
	}
}

static void print_ms(const char *label, int64_t v, const char *none)
{
	char b[64];
	if (v < 0 || (v == 0 && none && !strcmp(none, "default"))) {
		printf("  %-20s %s\n", label, none);
		return;
	}
	cli_format_duration(v, b, sizeof b);
	printf("  %-20s %s (%" PRId64 " ms)\n", label, b, v);
}

static void print_bytes(const char *label, int64_t v, const char *none)
{
	char b[64];
	if (v < 0 || (v == 0 && !strcmp(none, "default"))) {
		printf("  %-20s %s\n", label, none);
		return;
	}
	cli_format_size((uint64_t)v, b, sizeof b);
	printf("  %-20s %s (%" PRId64 " bytes)\n", label, b, v);
}

static int topic_describe(cli_ctx *c, int argc, char **argv)
{
	int rc = simple_opts(c, argc, argv, describe_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	const char *name = NULL;
	if ((rc = one_name(c, argc, argv, &name)))
		return rc;
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	varve_topic_config tc;
	varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
	rc = varve_topic_describe(db, name, &tc);
	if (rc == VARVE_ENOTFOUND) {
		cli_errf("no topic named %s", name);
		return cli_close(db, CLI_ERROR);
	}
	if (rc)
		return cli_close(db, cli_fail(name, rc));
	printf("topic %s\n", name);
	printf("  %-20s %u\n", "partitions", tc.partitions);
	printf("  %-20s %s\n", "cleanup-policy", policy_name(tc.cleanup_policy));
	printf("  %-20s %s\n", "codec", tc.codec == VARVE_CODEC_LZ4 ? "lz4" : "none");
	print_ms("retention", tc.retention_ms, "forever");
	print_bytes("retention-bytes", tc.retention_bytes, "unlimited");
	if (tc.retention_records < 0)
		printf("  %-20s %s\n", "retention-records", "unlimited");
	else
		printf("  %-20s %" PRId64 "\n", "retention-records", tc.retention_records);
	print_bytes("segment-bytes", tc.segment_bytes, "default");
	print_ms("segment-ms", tc.segment_ms, "default");
	if (tc.cleanup_policy & VARVE_CLEANUP_COMPACT) {
		print_ms("delete-retention", tc.delete_retention_ms, "forever");
		printf("  %-20s %.2f\n", "min-dirty-ratio", tc.min_cleanable_dirty_ratio);
	}
	printf("  %-20s %s\n", "timestamp-type",
	       tc.timestamp_type == VARVE_TIMESTAMP_APPEND ? "append" : "create");
	printf("  %-20s %s\n", "partitioner",
	       tc.partitioner == VARVE_PARTITIONER_ROUND_ROBIN ? "round-robin" : "sticky");
	if (tc.dedup_window_ms > 0)
		print_ms("dedup-window", tc.dedup_window_ms, "off");
	if (tc.retain_for_groups && *tc.retain_for_groups)
		printf("  %-20s %s\n", "retain-for-groups", tc.retain_for_groups);
	if (tc.retention_hard_bytes >= 0)
		print_bytes("retention-hard-bytes", tc.retention_hard_bytes, "none");
	printf("\n%9s %20s %20s %20s %12s %8s\n", "PARTITION", "START", "END", "RECORDS", "SIZE",
	       "SEGMENTS");
	for (uint32_t p = 0; p < tc.partitions; p++) {
		varve_partition_info pi;
		memset(&pi, 0, sizeof pi);
		pi.version = VARVE_PARTITION_INFO_VERSION;
		int r = varve_partition_info_get(db, name, p, &pi);
		if (r) {
			rc = cli_fail(name, r);
			break;
		}
		char sz[32];
		cli_format_size(pi.size_bytes, sz, sizeof sz);
		printf("%9u %20" PRId64 " %20" PRId64 " %20" PRId64 " %12s %8u%s\n", p,
		       pi.start_offset, pi.end_offset, pi.end_offset - pi.start_offset, sz,
		       pi.segments, pi.failed ? "  FAILED (fsync error; reopen)" : "");
	}
	return cli_close(db, rc);
}

static int topic_delete(cli_ctx *c, int argc, char **argv)
{
	int rc = simple_opts(c, argc, argv, delete_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	const char *name = NULL;
	if ((rc = one_name(c, argc, argv, &name)))
		return rc;
	varve_db *db;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "topic delete needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	rc = varve_topic_delete(db, name);
	if (rc == VARVE_ENOTFOUND) {
		cli_errf("no topic named %s", name);
		rc = CLI_ERROR;
	} else if (rc) {
		rc = cli_fail(name, rc);
	} else {
		printf("deleted topic %s\n", name);
	}
	return cli_close(db, rc);
}

static const cli_sub topic_subs[] = {
	{ "create", topic_create, "create a topic" },
	{ "list", topic_list, "list topics" },
	{ "describe", topic_describe, "describe a topic" },
	{ "delete", topic_delete, "delete a topic" },
	{ NULL, NULL, NULL },
};

int cli_topic_main(cli_ctx *c, int argc, char **argv)
{
	return cli_dispatch(c, "topic", topic_subs, topic_help, argc, argv);
}
