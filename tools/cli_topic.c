/* SPDX-License-Identifier: MIT */
/*
 * cli_topic.c -- varve topic create|list|describe|delete. create can set
 * every field of varve_topic_config; describe prints every one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
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
	"  --partitions N            number of partitions, 1..4096 (default 1)\n"
	"  --compact                 keep the latest record per key (cleanup policy compact;\n"
	"                            with a --retention* option too: compact,delete)\n"
	"  --cleanup-policy P        delete | compact | compact,delete\n"
	"  --retention DURATION      delete records older than this (7d, 12h, 1w; 'forever' =\n"
	"                            keep; default forever)\n"
	"  --retention-bytes SIZE    per-partition size cap (10G, 512MiB; 'unlimited' = default)\n"
	"  --retention-records N     per-partition record cap (default unlimited)\n"
	"  --retention-hard-bytes SIZE  per-partition cap that wins over --retain-for-groups\n"
	"                            (default unlimited)\n"
	"  --retain-for-groups G,..  retention keeps what these groups have not committed\n"
	"  --segment-bytes SIZE      roll segments at this size (1K..4G, 4G meaning the largest\n"
	"                            a segment can be, 4 GiB - 1; default: the store's, 1 GiB)\n"
	"  --segment-ms DURATION     roll segments at this age (default: the store's, 7d)\n"
	"  --codec CODEC             none | lz4 (default none)\n"
	"  --delete-retention DURATION  how long compaction keeps a tombstone (default 1d)\n"
	"  --min-dirty-ratio R       compact when this share of the log is dirty, 0..1\n"
	"                            (default 0.5)\n"
	"  --timestamp-type T        create | append: the time retention judges by (default\n"
	"                            create, the producer's)\n"
	"  --max-future-skew DURATION  timestamps further ahead are clamped (default 1h)\n"
	"  --partitioner P           sticky | round-robin, for null keys (default sticky)\n"
	"  --dedup-window DURATION   drop records whose message id was seen within it\n"
	"                            (default 0: off)\n"
	"  --if-not-exists           succeed if the topic already exists\n"
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
	O_RETENTION_HARD_BYTES,
	O_RETAIN_FOR_GROUPS,
	O_SEGMENT_BYTES,
	O_SEGMENT_MS,
	O_CODEC,
	O_DELETE_RETENTION,
	O_MIN_DIRTY_RATIO,
	O_TIMESTAMP_TYPE,
	O_MAX_FUTURE_SKEW,
	O_PARTITIONER,
	O_DEDUP_WINDOW,
	O_IF_NOT_EXISTS,
};

/* ---- create -------------------------------------------------------------------------- */

typedef struct create_args {
	varve_topic_config tc;
	int compact, policy, retention_given, if_not_exists;
} create_args;

/* "delete", "compact", or both in either order. */
static int parse_policy(const cli_ctx *c, const char *s, int *policy)
{
	const char *cur = s, *item;
	size_t len;
	*policy = 0;
	while (cli_list_next(&cur, &item, &len)) {
		if (len == 6 && !memcmp(item, "delete", 6))
			*policy |= VARVE_CLEANUP_DELETE;
		else if (len == 7 && !memcmp(item, "compact", 7))
			*policy |= VARVE_CLEANUP_COMPACT;
		else
			return cli_usage(c, "--cleanup-policy: use delete, compact or compact,delete");
	}
	return CLI_OK;
}

/* Every item a valid group name: said here, item by item, rather than
 * the library's one "bad group list". */
static int check_groups(const cli_ctx *c, const char *s)
{
	const char *cur = s, *item;
	size_t len;
	while (cli_list_next(&cur, &item, &len)) {
		char name[VARVE_MAX_TOPIC_NAME + 1];
		if (len == 0 || len > VARVE_MAX_TOPIC_NAME)
			return cli_usage(c, "--retain-for-groups: \"%s\" has an empty or too long name",
					 s);
		memcpy(name, item, len);
		name[len] = 0;
		if (cli_arg_name(c, "group", name))
			return CLI_USAGE;
	}
	return CLI_OK;
}

/* A size or `unlimited` (-1) into *out; *given = 1 for a size. */
static int size_or_unlimited(const cli_ctx *c, const char *opt, const char *s, int64_t *out,
			     int *given)
{
	uint64_t u;
	if (!strcmp(s, "unlimited") || !strcmp(s, "-1")) {
		*out = -1;
		return CLI_OK;
	}
	if (cli_arg_size(c, opt, s, &u))
		return CLI_USAGE;
	if (u > (uint64_t)INT64_MAX)
		return cli_usage(c, "%s: too large", opt);
	*out = (int64_t)u;
	*given = 1;
	return CLI_OK;
}

static int segment_bytes(const cli_ctx *c, const char *s, int64_t *out)
{
	uint64_t u;
	if (cli_arg_size(c, "--segment-bytes", s, &u))
		return CLI_USAGE;
	if (u == (uint64_t)UINT32_MAX + 1)
		u = UINT32_MAX; /* "4G": positions in a segment are 32-bit */
	if (u < 1024 || u > UINT32_MAX)
		return cli_usage(c, "--segment-bytes: %s is out of range: 1K up to 4G (4 GiB - 1 "
				    "bytes, the largest a segment can be)", s);
	*out = (int64_t)u;
	return CLI_OK;
}

static int dirty_ratio(const cli_ctx *c, const char *s, double *out)
{
	char *end;
	errno = 0;
	double r = strtod(s, &end);
	if (end == s || *end || errno || !(r >= 0.0 && r <= 1.0))
		return cli_usage(c, "--min-dirty-ratio: \"%s\" is not a number from 0 to 1", s);
	*out = r;
	return CLI_OK;
}

/* One word of a fixed set: its index into words, or a usage error. */
static int one_of(const cli_ctx *c, const char *opt, const char *s, const char *const *words,
		  int *out)
{
	for (int i = 0; words[i]; i++) {
		if (!strcmp(s, words[i])) {
			*out = i;
			return CLI_OK;
		}
	}
	return cli_usage(c, "%s: use %s or %s", opt, words[0], words[1]);
}

static int retention_opt(const cli_ctx *c, int ch, const char *arg, create_args *a)
{
	varve_topic_config *tc = &a->tc;
	int64_t v;
	switch (ch) {
	case O_RETENTION:
		if (!strcmp(arg, "forever") || !strcmp(arg, "-1")) {
			tc->retention_ms = -1;
			return CLI_OK;
		}
		if (cli_arg_duration(c, "--retention", arg, &v))
			return CLI_USAGE;
		tc->retention_ms = v;
		a->retention_given = 1;
		return CLI_OK;
	case O_RETENTION_BYTES:
		return size_or_unlimited(c, "--retention-bytes", arg, &tc->retention_bytes,
					 &a->retention_given);
	case O_RETENTION_RECORDS:
		if (!strcmp(arg, "unlimited") || !strcmp(arg, "-1")) {
			tc->retention_records = -1;
			return CLI_OK;
		}
		if (cli_arg_i64(c, "--retention-records", arg, 0, INT64_MAX, &v))
			return CLI_USAGE;
		tc->retention_records = v;
		a->retention_given = 1;
		return CLI_OK;
	case O_RETENTION_HARD_BYTES: {
		int ignored = 0;
		return size_or_unlimited(c, "--retention-hard-bytes", arg, &tc->retention_hard_bytes,
					 &ignored);
	}
	default: /* O_RETAIN_FOR_GROUPS */
		if (check_groups(c, arg))
			return CLI_USAGE;
		tc->retain_for_groups = arg;
		return CLI_OK;
	}
}

static int create_opt(const cli_ctx *c, int ch, const char *arg, create_args *a)
{
	static const char *const codecs[] = { "none", "lz4", NULL };
	static const char *const ts_types[] = { "create", "append", NULL };
	static const char *const partitioners[] = { "sticky", "round-robin", NULL };
	varve_topic_config *tc = &a->tc;
	int64_t v;
	switch (ch) {
	case O_PARTITIONS:
		if (cli_arg_i64(c, "--partitions", arg, 1, VARVE_MAX_PARTITIONS, &v))
			return CLI_USAGE;
		tc->partitions = (uint32_t)v;
		return CLI_OK;
	case O_COMPACT: a->compact = 1; return CLI_OK;
	case O_CLEANUP: return parse_policy(c, arg, &a->policy);
	case O_SEGMENT_BYTES: return segment_bytes(c, arg, &tc->segment_bytes);
	case O_SEGMENT_MS: return cli_arg_duration(c, "--segment-ms", arg, &tc->segment_ms);
	case O_CODEC: return one_of(c, "--codec", arg, codecs, &tc->codec);
	case O_DELETE_RETENTION:
		return cli_arg_duration(c, "--delete-retention", arg, &tc->delete_retention_ms);
	case O_MIN_DIRTY_RATIO: return dirty_ratio(c, arg, &tc->min_cleanable_dirty_ratio);
	case O_TIMESTAMP_TYPE: return one_of(c, "--timestamp-type", arg, ts_types, &tc->timestamp_type);
	case O_MAX_FUTURE_SKEW:
		return cli_arg_duration(c, "--max-future-skew", arg, &tc->max_future_skew_ms);
	case O_PARTITIONER: return one_of(c, "--partitioner", arg, partitioners, &tc->partitioner);
	case O_DEDUP_WINDOW: return cli_arg_duration(c, "--dedup-window", arg, &tc->dedup_window_ms);
	case O_IF_NOT_EXISTS: a->if_not_exists = 1; return CLI_OK;
	case O_RETENTION:
	case O_RETENTION_BYTES:
	case O_RETENTION_RECORDS:
	case O_RETENTION_HARD_BYTES:
	case O_RETAIN_FOR_GROUPS: return retention_opt(c, ch, arg, a);
	default: return CLI_USAGE;
	}
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
		{ "retention-hard-bytes", required_argument, NULL, O_RETENTION_HARD_BYTES },
		{ "retain-for-groups", required_argument, NULL, O_RETAIN_FOR_GROUPS },
		{ "segment-bytes", required_argument, NULL, O_SEGMENT_BYTES },
		{ "segment-ms", required_argument, NULL, O_SEGMENT_MS },
		{ "codec", required_argument, NULL, O_CODEC },
		{ "delete-retention", required_argument, NULL, O_DELETE_RETENTION },
		{ "min-dirty-ratio", required_argument, NULL, O_MIN_DIRTY_RATIO },
		{ "timestamp-type", required_argument, NULL, O_TIMESTAMP_TYPE },
		{ "max-future-skew", required_argument, NULL, O_MAX_FUTURE_SKEW },
		{ "partitioner", required_argument, NULL, O_PARTITIONER },
		{ "dedup-window", required_argument, NULL, O_DEDUP_WINDOW },
		{ "if-not-exists", no_argument, NULL, O_IF_NOT_EXISTS },
		{ NULL, 0, NULL, 0 },
	};
	create_args a;
	memset(&a, 0, sizeof a);
	varve_topic_config_init(&a.tc, VARVE_TOPIC_CONFIG_VERSION);
	int ch, rc;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, create_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if ((rc = create_opt(c, ch, optarg, &a)))
			return rc;
	}
	const char *name = NULL;
	if ((rc = cli_one_name(c, argc, argv, "topic", &name)))
		return rc;
	if (a.compact && a.policy == VARVE_CLEANUP_DELETE)
		return cli_usage(c, "--compact contradicts --cleanup-policy delete");
	if (a.policy)
		a.tc.cleanup_policy = a.policy;
	else if (a.compact)
		a.tc.cleanup_policy = a.retention_given ? VARVE_CLEANUP_COMPACT_DELETE
						       : VARVE_CLEANUP_COMPACT;

	varve_db *db;
	cli_open_opts oo = { 1, 1, VARVE_SYNC_ALWAYS, 0, "topic create needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	rc = varve_topic_create(db, name, &a.tc);
	if (rc == VARVE_EEXISTS && a.if_not_exists) {
		rc = CLI_OK;
	} else if (rc == VARVE_EEXISTS) {
		cli_errf("topic %s already exists", name);
		rc = CLI_ERROR;
	} else if (rc) {
		rc = cli_fail(name, rc);
	} else {
		printf("created topic %s (%u partition%s)\n", name, a.tc.partitions,
		       a.tc.partitions == 1 ? "" : "s");
	}
	return cli_close(db, rc);
}

/* ---- list, describe, delete -------------------------------------------------------- */

static int topic_list(cli_ctx *c, int argc, char **argv)
{
	return cli_list_cmd(c, argc, argv, list_help, "topics", varve_topic_list);
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

static void print_config(const char *name, const varve_topic_config *tc)
{
	printf("topic %s\n", name);
	printf("  %-20s %u\n", "partitions", tc->partitions);
	printf("  %-20s %s\n", "cleanup-policy", cli_policy_name(tc->cleanup_policy));
	printf("  %-20s %s\n", "codec", tc->codec == VARVE_CODEC_LZ4 ? "lz4" : "none");
	print_ms("retention", tc->retention_ms, "forever");
	print_bytes("retention-bytes", tc->retention_bytes, "unlimited");
	if (tc->retention_records < 0)
		printf("  %-20s %s\n", "retention-records", "unlimited");
	else
		printf("  %-20s %" PRId64 "\n", "retention-records", tc->retention_records);
	print_bytes("segment-bytes", tc->segment_bytes, "default");
	print_ms("segment-ms", tc->segment_ms, "default");
	if (tc->cleanup_policy & VARVE_CLEANUP_COMPACT) {
		print_ms("delete-retention", tc->delete_retention_ms, "forever");
		printf("  %-20s %.2f\n", "min-dirty-ratio", tc->min_cleanable_dirty_ratio);
	}
	printf("  %-20s %s\n", "timestamp-type",
	       tc->timestamp_type == VARVE_TIMESTAMP_APPEND ? "append" : "create");
	print_ms("max-future-skew", tc->max_future_skew_ms, "none");
	printf("  %-20s %s\n", "partitioner",
	       tc->partitioner == VARVE_PARTITIONER_ROUND_ROBIN ? "round-robin" : "sticky");
	if (tc->dedup_window_ms > 0)
		print_ms("dedup-window", tc->dedup_window_ms, "off");
	if (tc->retain_for_groups && *tc->retain_for_groups)
		printf("  %-20s %s\n", "retain-for-groups", tc->retain_for_groups);
	if (tc->retention_hard_bytes >= 0)
		print_bytes("retention-hard-bytes", tc->retention_hard_bytes, "none");
}

static int print_partitions(varve_db *db, const char *name, uint32_t partitions)
{
	printf("\n%9s %20s %20s %20s %12s %8s\n", "PARTITION", "START", "END", "RECORDS", "SIZE",
	       "SEGMENTS");
	for (uint32_t p = 0; p < partitions; p++) {
		varve_partition_info pi;
		memset(&pi, 0, sizeof pi);
		pi.version = VARVE_PARTITION_INFO_VERSION;
		int r = varve_partition_info_get(db, name, p, &pi);
		if (r)
			return cli_fail(name, r);
		char sz[32];
		cli_format_size(pi.size_bytes, sz, sizeof sz);
		printf("%9u %20" PRId64 " %20" PRId64 " %20" PRId64 " %12s %8u%s\n", p,
		       pi.start_offset, pi.end_offset, pi.end_offset - pi.start_offset, sz,
		       pi.segments, pi.failed ? "  FAILED (fsync error; reopen)" : "");
	}
	return CLI_OK;
}

static int topic_describe(cli_ctx *c, int argc, char **argv)
{
	int rc = cli_common_opts(c, argc, argv, describe_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	const char *name = NULL;
	if ((rc = cli_one_name(c, argc, argv, "topic", &name)))
		return rc;
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	varve_topic_config tc;
	if ((rc = cli_topic_config(db, name, &tc)))
		return cli_close(db, rc);
	print_config(name, &tc);
	return cli_close(db, print_partitions(db, name, tc.partitions));
}

static int topic_delete(cli_ctx *c, int argc, char **argv)
{
	return cli_delete_cmd(c, argc, argv, delete_help, "topic", varve_topic_delete);
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
