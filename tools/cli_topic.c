/* SPDX-License-Identifier: MIT */
/*
 * cli_topic.c -- varve topic create|list|describe|delete|alter|add-partitions.
 * create can set every field of varve_topic_config; describe prints every
 * one; alter changes what varve_topic_alter allows (the same options as
 * create, plus --delete and --config with Kafka's config names).
 *
 * Through a server (cli_remote.h): create, delete, alter and
 * add-partitions when cli_open says CLI_REMOTE; list and describe with
 * --bootstrap and no store. There only settings with a Kafka config name
 * can be given (cli_remote_admin.c refuses the others).
 *
 * --config NAME=VALUE uses the broker's own mapping of Kafka names onto the
 * topic configuration (server/broker/tconfig.h), so a name means the same
 * locally and through a server; a build without the server has no --config.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_parse.h"
#include "cli_remote.h"
#ifdef VARVE_WITH_SERVE
#include "broker/tconfig.h"
#endif

static const char topic_help[] =
	"usage: varve topic SUBCOMMAND [OPTIONS]\n"
	"\n"
	"  create NAME       create a topic\n"
	"  list              list topic names, one per line\n"
	"  describe NAME     configuration, then per partition: start and end offsets, size,\n"
	"                    segments\n"
	"  delete NAME       delete a topic and all its records\n"
	"  alter NAME        change a topic's retention, cleanup policy, segments, ...\n"
	"  add-partitions NAME N  grow a topic to N partitions\n"
	"\n"
	"'varve topic SUBCOMMAND --help' for the options of each.\n";

#define CONFIG_OPTIONS_HELP                                                                   \
	"  --compact                 keep the latest record per key (cleanup policy compact;\n" \
	"                            with a --retention* option too: compact,delete)\n"      \
	"  --cleanup-policy P        delete | compact | compact,delete\n"                      \
	"  --retention DURATION      delete records older than this (7d, 12h, 1w; 'forever' =\n" \
	"                            keep; default forever)\n"                                 \
	"  --retention-bytes SIZE    per-partition size cap (10G, 512MiB; 'unlimited' = default)\n" \
	"  --retention-records N     per-partition record cap (default unlimited)\n"           \
	"  --retention-hard-bytes SIZE  per-partition cap that wins over --retain-for-groups\n" \
	"                            (default unlimited)\n"                                    \
	"  --retain-for-groups G,..  retention keeps what these groups have not committed\n"  \
	"  --segment-bytes SIZE      roll segments at this size (1K..4G, 4G meaning the largest\n" \
	"                            a segment can be, 4 GiB - 1; default: the store's, 1 GiB)\n" \
	"  --segment-ms DURATION     roll segments at this age (default: the store's, 7d)\n"  \
	"  --codec CODEC             none | lz4 (default none)\n"                              \
	"  --delete-retention DURATION  how long compaction keeps a tombstone (default 1d)\n"  \
	"  --min-dirty-ratio R       compact when this share of the log is dirty, 0..1\n"      \
	"                            (default 0.5)\n"                                          \
	"  --timestamp-type T        create | append: the time retention judges by (default\n" \
	"                            create, the producer's)\n"                                \
	"  --max-future-skew DURATION  timestamps further ahead are clamped (default 1h)\n"    \
	"  --partitioner P           sticky | round-robin, for null keys (default sticky)\n"   \
	"  --config NAME=VALUE       a setting by its Kafka config name (retention.ms,\n"      \
	"                            cleanup.policy, segment.bytes, ...; docs/KAFKA.md);\n"  \
	"                            repeatable, applied after the options above\n"

static const char create_help[] =
	"usage: varve topic create NAME [OPTIONS]\n"
	"\n"
	"Create a topic. Creates the store too if DIR does not exist yet.\n"
	"\n"
	"  --partitions N            number of partitions, 1..4096 (default 1)\n"
	CONFIG_OPTIONS_HELP
	"  --dedup-window DURATION   drop records whose message id was seen within it\n"
	"                            (default 0: off)\n"
	"  --if-not-exists           succeed if the topic already exists\n"
	"\n"
	"Sizes use powers of 1024 for every spelling: K = KB = KiB = 1024, M = 1024 K, ...\n"
	"Durations: ms, s, m, h, d, w, combinable (1h30m).\n"
	"Needs the writer lock, or goes through the running server (--bootstrap, or the\n"
	"store's SERVER file): there only settings with a Kafka config name apply.\n";

static const char alter_help[] =
	"usage: varve topic alter NAME [OPTIONS]\n"
	"\n"
	"Change a topic's settings and print its configuration afterwards. Options as for\n"
	"create:\n"
	"\n"
	CONFIG_OPTIONS_HELP
	"  --delete                  cleanup policy delete (with --compact: compact,delete)\n"
	"\n"
	"Settings not named keep their values. The partition count grows with\n"
	"'varve topic add-partitions'; the dedup window cannot change. Segment size, age\n"
	"and codec apply to the segments rolled from now on.\n"
	"Needs the writer lock, or goes through the running server (AlterConfigs): there\n"
	"only settings with a Kafka config name apply.\n";

static const char add_partitions_help[] =
	"usage: varve topic add-partitions NAME N\n"
	"\n"
	"Grow the topic to N partitions (more than it has, at most 4096; partitions are\n"
	"never removed). Keyed records map to partitions by the new count from then on.\n"
	"Needs the writer lock, or goes through the running server (CreatePartitions).\n";

static const char list_help[] =
	"usage: varve topic list\n"
	"\n"
	"Print the topic names, sorted, one per line. Opens the store read-only; with\n"
	"--bootstrap and no store, asks the server.\n";

static const char describe_help[] =
	"usage: varve topic describe NAME\n"
	"\n"
	"Print the topic's configuration, then one line per partition: log start offset,\n"
	"end offset (next to be assigned), records (end - start), size and segments.\n"
	"Opens the store read-only; with --bootstrap and no store, asks the server (its\n"
	"Kafka configs, and offsets without sizes).\n";

static const char delete_help[] =
	"usage: varve topic delete NAME\n"
	"\n"
	"Delete the topic and its records. Needs the writer lock, or goes through the\n"
	"running server.\n";

enum {
	O_PARTITIONS = 256,
	O_COMPACT,
	O_DELETE,
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
	O_CONFIG,
};

/* ---- options shared by create and alter -------------------------------------------- */

typedef struct topic_args {
	cli_topic_change ch; /* ch.cfg holds the values, ch.mask which were given */
	int compact, delete_policy, policy, retention_given, if_not_exists;
} topic_args;

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

static int retention_opt(const cli_ctx *c, int ch, const char *arg, topic_args *a)
{
	varve_topic_config *tc = &a->ch.cfg;
	int64_t v;
	switch (ch) {
	case O_RETENTION:
		a->ch.mask |= CLI_F_RETENTION_MS;
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
		a->ch.mask |= CLI_F_RETENTION_BYTES;
		return size_or_unlimited(c, "--retention-bytes", arg, &tc->retention_bytes,
					 &a->retention_given);
	case O_RETENTION_RECORDS:
		a->ch.mask |= CLI_F_RETENTION_RECORDS;
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
		a->ch.mask |= CLI_F_RETENTION_HARD_BYTES;
		return size_or_unlimited(c, "--retention-hard-bytes", arg, &tc->retention_hard_bytes,
					 &ignored);
	}
	default: /* O_RETAIN_FOR_GROUPS */
		a->ch.mask |= CLI_F_RETAIN_FOR_GROUPS;
		if (check_groups(c, arg))
			return CLI_USAGE;
		tc->retain_for_groups = arg;
		return CLI_OK;
	}
}

/* --config NAME=VALUE: kept in order, checked when applied. */
static int config_opt(const cli_ctx *c, const char *arg, topic_args *a)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return cli_usage(c, "--config: \"%s\" is not NAME=VALUE", arg);
	size_t n = a->ch.n + 1;
	const char **names = realloc((void *)a->ch.names, n * sizeof *names);
	if (names)
		a->ch.names = names;
	const char **values = names ? realloc((void *)a->ch.values, n * sizeof *values) : NULL;
	if (!values) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	a->ch.values = values;
	char *name = strndup(arg, (size_t)(eq - arg));
	if (!name) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	a->ch.names[a->ch.n] = name;
	a->ch.values[a->ch.n] = eq + 1;
	a->ch.n = n;
	return CLI_OK;
}

static void topic_args_free(topic_args *a)
{
	for (size_t i = 0; i < a->ch.n; i++)
		free((void *)a->ch.names[i]);
	free((void *)a->ch.names);
	free((void *)a->ch.values);
}

/* The options whose value is one word or number of a field. */
static int field_opt(const cli_ctx *c, int ch, const char *arg, topic_args *a)
{
	static const char *const codecs[] = { "none", "lz4", NULL };
	static const char *const ts_types[] = { "create", "append", NULL };
	static const char *const partitioners[] = { "sticky", "round-robin", NULL };
	varve_topic_config *tc = &a->ch.cfg;
	switch (ch) {
	case O_SEGMENT_BYTES:
		a->ch.mask |= CLI_F_SEGMENT_BYTES;
		return segment_bytes(c, arg, &tc->segment_bytes);
	case O_SEGMENT_MS:
		a->ch.mask |= CLI_F_SEGMENT_MS;
		return cli_arg_duration(c, "--segment-ms", arg, &tc->segment_ms);
	case O_CODEC:
		a->ch.mask |= CLI_F_CODEC;
		return one_of(c, "--codec", arg, codecs, &tc->codec);
	case O_DELETE_RETENTION:
		a->ch.mask |= CLI_F_DELETE_RETENTION;
		return cli_arg_duration(c, "--delete-retention", arg, &tc->delete_retention_ms);
	case O_MIN_DIRTY_RATIO:
		a->ch.mask |= CLI_F_DIRTY_RATIO;
		return dirty_ratio(c, arg, &tc->min_cleanable_dirty_ratio);
	case O_TIMESTAMP_TYPE:
		a->ch.mask |= CLI_F_TIMESTAMP_TYPE;
		return one_of(c, "--timestamp-type", arg, ts_types, &tc->timestamp_type);
	case O_MAX_FUTURE_SKEW:
		a->ch.mask |= CLI_F_MAX_FUTURE_SKEW;
		return cli_arg_duration(c, "--max-future-skew", arg, &tc->max_future_skew_ms);
	case O_PARTITIONER:
		a->ch.mask |= CLI_F_PARTITIONER;
		return one_of(c, "--partitioner", arg, partitioners, &tc->partitioner);
	default: /* O_DEDUP_WINDOW */
		a->ch.mask |= CLI_F_DEDUP_WINDOW;
		return cli_arg_duration(c, "--dedup-window", arg, &tc->dedup_window_ms);
	}
}

static int topic_opt(const cli_ctx *c, int ch, const char *arg, topic_args *a)
{
	int64_t v;
	switch (ch) {
	case O_PARTITIONS:
		if (cli_arg_i64(c, "--partitions", arg, 1, VARVE_MAX_PARTITIONS, &v))
			return CLI_USAGE;
		a->ch.cfg.partitions = (uint32_t)v;
		a->ch.mask |= CLI_F_PARTITIONS;
		return CLI_OK;
	case O_COMPACT: a->compact = 1; return CLI_OK;
	case O_DELETE: a->delete_policy = 1; return CLI_OK;
	case O_CLEANUP: return parse_policy(c, arg, &a->policy);
	case O_IF_NOT_EXISTS: a->if_not_exists = 1; return CLI_OK;
	case O_CONFIG: return config_opt(c, arg, a);
	case O_RETENTION:
	case O_RETENTION_BYTES:
	case O_RETENTION_RECORDS:
	case O_RETENTION_HARD_BYTES:
	case O_RETAIN_FOR_GROUPS: return retention_opt(c, ch, arg, a);
	case O_SEGMENT_BYTES:
	case O_SEGMENT_MS:
	case O_CODEC:
	case O_DELETE_RETENTION:
	case O_MIN_DIRTY_RATIO:
	case O_TIMESTAMP_TYPE:
	case O_MAX_FUTURE_SKEW:
	case O_PARTITIONER:
	case O_DEDUP_WINDOW: return field_opt(c, ch, arg, a);
	default: return CLI_USAGE;
	}
}

#define TOPIC_LONG_OPTIONS                                                              \
	CLI_COMMON_LONG, { "compact", no_argument, NULL, O_COMPACT },                   \
		{ "cleanup-policy", required_argument, NULL, O_CLEANUP },               \
		{ "retention", required_argument, NULL, O_RETENTION },                  \
		{ "retention-ms", required_argument, NULL, O_RETENTION },               \
		{ "retention-bytes", required_argument, NULL, O_RETENTION_BYTES },      \
		{ "retention-records", required_argument, NULL, O_RETENTION_RECORDS },  \
		{ "retention-hard-bytes", required_argument, NULL, O_RETENTION_HARD_BYTES }, \
		{ "retain-for-groups", required_argument, NULL, O_RETAIN_FOR_GROUPS },  \
		{ "segment-bytes", required_argument, NULL, O_SEGMENT_BYTES },          \
		{ "segment-ms", required_argument, NULL, O_SEGMENT_MS },                \
		{ "codec", required_argument, NULL, O_CODEC },                          \
		{ "delete-retention", required_argument, NULL, O_DELETE_RETENTION },    \
		{ "min-dirty-ratio", required_argument, NULL, O_MIN_DIRTY_RATIO },      \
		{ "timestamp-type", required_argument, NULL, O_TIMESTAMP_TYPE },        \
		{ "max-future-skew", required_argument, NULL, O_MAX_FUTURE_SKEW },      \
		{ "partitioner", required_argument, NULL, O_PARTITIONER },              \
		{ "dedup-window", required_argument, NULL, O_DEDUP_WINDOW },            \
		{ "partitions", required_argument, NULL, O_PARTITIONS },                \
		{ "config", required_argument, NULL, O_CONFIG }

/* Parse create's or alter's options and the topic name; -1 after --help.
 * The cleanup policy options become one value (CLI_F_POLICY). */
static int topic_parse(cli_ctx *c, int argc, char **argv, const struct option *lo,
		       const char *help, topic_args *a, const char **name)
{
	int ch, rc;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, help)) != -1) {
		if (ch == 'h')
			return -1;
		if ((rc = topic_opt(c, ch, optarg, a)))
			return rc;
	}
	if ((rc = cli_one_name(c, argc, argv, "topic", name)))
		return rc;
	if (a->compact && a->policy == VARVE_CLEANUP_DELETE)
		return cli_usage(c, "--compact contradicts --cleanup-policy delete");
	if (a->delete_policy && a->policy == VARVE_CLEANUP_COMPACT)
		return cli_usage(c, "--delete contradicts --cleanup-policy compact");
	int policy = a->policy;
	if (!policy && a->compact)
		policy = a->retention_given || a->delete_policy ? VARVE_CLEANUP_COMPACT_DELETE
								: VARVE_CLEANUP_COMPACT;
	else if (!policy && a->delete_policy)
		policy = VARVE_CLEANUP_DELETE;
	if (policy) {
		a->ch.cfg.cleanup_policy = policy;
		a->ch.mask |= CLI_F_POLICY;
	}
	return CLI_OK;
}

/* Apply the --config settings to cfg, as the server would. CLI_OK or a
 * usage error naming the setting. for_server: checked here, the server
 * applies them (its store-wide limits are its own). */
static int apply_configs(const cli_ctx *c, const cli_topic_change *ch, varve_topic_config *cfg,
			 int for_server)
{
	if (ch->n == 0)
		return CLI_OK;
#ifdef VARVE_WITH_SERVE
	vs_tcfg_limits lim = { for_server ? UINT32_MAX : 64u << 20, (int64_t)1 << 30,
			       7LL * 24 * 3600 * 1000 };
	for (size_t i = 0; i < ch->n; i++) {
		char msg[VS_TCFG_MSG];
		vs_slice name = { (const uint8_t *)ch->names[i], strlen(ch->names[i]) };
		vs_slice value = { (const uint8_t *)ch->values[i], strlen(ch->values[i]) };
		if (vs_tcfg_set(cfg, name, value, &lim, msg, sizeof msg))
			return cli_usage(c, "--config %s=%s: %s", ch->names[i], ch->values[i], msg);
	}
	return CLI_OK;
#else
	(void)cfg, (void)for_server;
	return cli_usage(c, "--config %s: this varve is built without the Kafka config names "
			    "(the server); use the options", ch->names[0]);
#endif
}

/* Copy the fields named in mask from src to dst. */
static void apply_fields(varve_topic_config *dst, const varve_topic_config *src, unsigned mask)
{
#define TAKE(bit, field)              \
	if (mask & (bit))             \
		dst->field = src->field
	TAKE(CLI_F_PARTITIONS, partitions);
	TAKE(CLI_F_POLICY, cleanup_policy);
	TAKE(CLI_F_RETENTION_MS, retention_ms);
	TAKE(CLI_F_RETENTION_BYTES, retention_bytes);
	TAKE(CLI_F_RETENTION_RECORDS, retention_records);
	TAKE(CLI_F_RETENTION_HARD_BYTES, retention_hard_bytes);
	TAKE(CLI_F_RETAIN_FOR_GROUPS, retain_for_groups);
	TAKE(CLI_F_SEGMENT_BYTES, segment_bytes);
	TAKE(CLI_F_SEGMENT_MS, segment_ms);
	TAKE(CLI_F_CODEC, codec);
	TAKE(CLI_F_DELETE_RETENTION, delete_retention_ms);
	TAKE(CLI_F_DIRTY_RATIO, min_cleanable_dirty_ratio);
	TAKE(CLI_F_TIMESTAMP_TYPE, timestamp_type);
	TAKE(CLI_F_MAX_FUTURE_SKEW, max_future_skew_ms);
	TAKE(CLI_F_PARTITIONER, partitioner);
	TAKE(CLI_F_DEDUP_WINDOW, dedup_window_ms);
#undef TAKE
}

/* ---- create -------------------------------------------------------------------------- */

static int topic_create(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		TOPIC_LONG_OPTIONS,
		{ "if-not-exists", no_argument, NULL, O_IF_NOT_EXISTS },
		{ NULL, 0, NULL, 0 },
	};
	topic_args a;
	memset(&a, 0, sizeof a);
	varve_topic_config_init(&a.ch.cfg, VARVE_TOPIC_CONFIG_VERSION);
	const char *name = NULL;
	varve_db *db = NULL;
	int rc = topic_parse(c, argc, argv, lo, create_help, &a, &name);
	if (rc)
		goto out;
	varve_topic_config tc = a.ch.cfg;
	cli_open_opts oo = { 1, 1, VARVE_SYNC_ALWAYS, 0, "topic create needs the writer lock", 0, 1 };
	rc = cli_open(c, &oo, &db);
	if (rc == CLI_REMOTE) {
		if ((rc = apply_configs(c, &a.ch, &tc, 1)) == CLI_OK)
			rc = cli_remote_topic_create(c, name, &a.ch, a.if_not_exists);
		goto out;
	}
	if (rc || (rc = apply_configs(c, &a.ch, &tc, 0)))
		goto out;
	rc = varve_topic_create(db, name, &tc);
	if (rc == VARVE_EEXISTS && a.if_not_exists) {
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
out:
	topic_args_free(&a);
	rc = cli_close(db, rc);
	return rc < 0 ? CLI_OK : rc;
}

/* ---- list, describe, delete -------------------------------------------------------- */

static int topic_list(cli_ctx *c, int argc, char **argv)
{
	return cli_list_cmd(c, argc, argv, list_help, "topics", varve_topic_list,
			    cli_remote_topic_list);
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
	if (cli_remote_read(c))
		return cli_remote_topic_describe(c, name);
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
	return cli_delete_cmd(c, argc, argv, delete_help, "topic", varve_topic_delete,
			      cli_remote_topic_delete);
}

/* ---- alter, add-partitions ------------------------------------------------------------ */

static int alter_local(cli_ctx *c, varve_db *db, const char *name, const topic_args *a)
{
	varve_topic_config tc;
	int rc = cli_topic_config(db, name, &tc);
	if (rc)
		return rc;
	apply_fields(&tc, &a->ch.cfg, a->ch.mask);
	if ((rc = apply_configs(c, &a->ch, &tc, 0)))
		return rc;
	int r = varve_topic_alter(db, name, &tc);
	if (r == VARVE_ENOTFOUND) {
		cli_errf("no topic named %s", name);
		return CLI_ERROR;
	}
	if (r)
		return cli_fail(name, r);
	if ((rc = cli_topic_config(db, name, &tc)) == CLI_OK)
		print_config(name, &tc);
	return rc;
}

static int topic_alter(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		TOPIC_LONG_OPTIONS,
		{ "delete", no_argument, NULL, O_DELETE },
		{ NULL, 0, NULL, 0 },
	};
	topic_args a;
	memset(&a, 0, sizeof a);
	varve_topic_config_init(&a.ch.cfg, VARVE_TOPIC_CONFIG_VERSION);
	const char *name = NULL;
	varve_db *db = NULL;
	int rc = topic_parse(c, argc, argv, lo, alter_help, &a, &name);
	if (rc)
		goto out;
	if (a.ch.mask & CLI_F_PARTITIONS) {
		rc = cli_usage(c, "the partition count is not a setting: grow it with 'varve topic "
				  "add-partitions %s N'", name);
		goto out;
	}
	if (a.ch.mask == 0 && a.ch.n == 0) {
		rc = cli_usage(c, "say what to change (--retention, --compact, --config NAME=VALUE, "
				  "...)");
		goto out;
	}
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "topic alter needs the writer lock", 0, 1 };
	rc = cli_open(c, &oo, &db);
	if (rc == CLI_REMOTE) {
		varve_topic_config check = a.ch.cfg;
		if ((rc = apply_configs(c, &a.ch, &check, 1)) == CLI_OK)
			rc = cli_remote_topic_alter(c, name, &a.ch);
	} else if (rc == CLI_OK) {
		rc = alter_local(c, db, name, &a);
	}
out:
	topic_args_free(&a);
	rc = cli_close(db, rc);
	return rc < 0 ? CLI_OK : rc;
}

static int topic_add_partitions(cli_ctx *c, int argc, char **argv)
{
	int rc = cli_common_opts(c, argc, argv, add_partitions_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n != 2)
		return n < 2 ? cli_usage(c, "usage: varve topic add-partitions NAME N")
			     : cli_usage(c, "unexpected argument \"%s\"", ops[2]);
	int64_t want;
	if ((rc = cli_arg_name(c, "topic", ops[0])) ||
	    (rc = cli_arg_i64(c, "partition count", ops[1], 1, VARVE_MAX_PARTITIONS, &want)))
		return rc;
	varve_db *db;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, "topic add-partitions needs the writer lock",
			     0, 1 };
	if ((rc = cli_open(c, &oo, &db)))
		return rc == CLI_REMOTE ? cli_remote_topic_add_partitions(c, ops[0], (uint32_t)want)
					: rc;
	uint32_t have;
	if ((rc = cli_topic_partitions(db, ops[0], &have)) == CLI_OK && (uint32_t)want <= have) {
		cli_errf("topic %s has %u partition%s: N must be more (partitions are never removed)",
			 ops[0], have, have == 1 ? "" : "s");
		rc = CLI_ERROR;
	}
	int r = rc ? VARVE_OK : varve_topic_add_partitions(db, ops[0], (uint32_t)want);
	if (r)
		rc = cli_fail(ops[0], r);
	else if (rc == CLI_OK)
		printf("topic %s now has %" PRId64 " partitions\n", ops[0], want);
	return cli_close(db, rc);
}

static const cli_sub topic_subs[] = {
	{ "create", topic_create, "create a topic" },
	{ "list", topic_list, "list topics" },
	{ "describe", topic_describe, "describe a topic" },
	{ "delete", topic_delete, "delete a topic" },
	{ "alter", topic_alter, "change a topic's settings" },
	{ "add-partitions", topic_add_partitions, "grow a topic" },
	{ NULL, NULL, NULL },
};

int cli_topic_main(cli_ctx *c, int argc, char **argv)
{
	return cli_dispatch(c, "topic", topic_subs, topic_help, argc, argv);
}
