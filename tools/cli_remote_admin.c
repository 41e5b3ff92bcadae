/* SPDX-License-Identifier: MIT */
/*
 * cli_remote_admin.c -- topic and group administration through a server
 * (cli_remote.h) with librdkafka's Admin API: topics created, deleted,
 * altered and grown; topics and groups listed and described; groups
 * deleted and their offsets reset.
 *
 * Topic settings travel under their Kafka config names, the ones the
 * broker maps onto the store (docs/KAFKA.md); a setting Kafka has no name
 * for (record-count retention, the partitioner, ...) cannot be given
 * through a server, and saying so is better than dropping it. AlterConfigs
 * replaces a topic's whole Kafka config set (librdkafka 2.0 has no
 * IncrementalAlterConfigs), so alter reads the current set first and sends
 * it back with the changes.
 *
 * group reset follows kafka-consumer-groups.sh: the plan from ListOffsets
 * and the committed offsets; --execute refuses a group with active
 * members (Kafka's message), then commits every new offset in one
 * OffsetCommit (AlterConsumerGroupOffsets).
 *
 * May call: cli_remote.c (cli_remote_int.h), cli_common.c, cli_parse.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_parse.h"
#include "cli_remote_int.h"

/* ---- admin calls ------------------------------------------------------------------ */

typedef struct admin_call {
	rd_kafka_queue_t *q;
	rd_kafka_AdminOptions_t *o;
	rd_kafka_event_t *ev;
} admin_call;

static int call_begin(rk_handle *k, rd_kafka_admin_op_t op, const char *what, admin_call *a)
{
	memset(a, 0, sizeof *a);
	a->q = rd_kafka_queue_new(k->rk);
	a->o = a->q ? rk_admin_options(k, op, what) : NULL;
	if (!a->q) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	return a->o ? CLI_OK : CLI_ERROR;
}

/* Wait for the answer into a->ev: CLI_OK, or CLI_ERROR (printed). */
static int call_wait(rk_handle *k, admin_call *a, const char *what)
{
	a->ev = rk_admin_wait(k, a->q, what);
	return a->ev ? CLI_OK : CLI_ERROR;
}

static void call_end(admin_call *a)
{
	if (a->ev)
		rd_kafka_event_destroy(a->ev);
	if (a->o)
		rd_kafka_AdminOptions_destroy(a->o);
	if (a->q)
		rd_kafka_queue_destroy(a->q);
}

static int admin_open(cli_ctx *c, rk_handle **k)
{
	return rk_open(c, RD_KAFKA_PRODUCER, NULL, NULL, NULL, k);
}

/* ---- topic settings under Kafka's names ------------------------------------------- */

static const struct {
	unsigned field;
	const char *kafka; /* NULL: Kafka has no name for it */
	const char *option;
} fields[] = {
	{ CLI_F_POLICY, "cleanup.policy", "--cleanup-policy" },
	{ CLI_F_CODEC, "compression.type", "--codec" },
	{ CLI_F_DELETE_RETENTION, "delete.retention.ms", "--delete-retention" },
	{ CLI_F_TIMESTAMP_TYPE, "message.timestamp.type", "--timestamp-type" },
	{ CLI_F_DIRTY_RATIO, "min.cleanable.dirty.ratio", "--min-dirty-ratio" },
	{ CLI_F_RETENTION_BYTES, "retention.bytes", "--retention-bytes" },
	{ CLI_F_RETENTION_MS, "retention.ms", "--retention" },
	{ CLI_F_SEGMENT_BYTES, "segment.bytes", "--segment-bytes" },
	{ CLI_F_SEGMENT_MS, "segment.ms", "--segment-ms" },
	{ CLI_F_RETENTION_RECORDS, NULL, "--retention-records" },
	{ CLI_F_RETENTION_HARD_BYTES, NULL, "--retention-hard-bytes" },
	{ CLI_F_RETAIN_FOR_GROUPS, NULL, "--retain-for-groups" },
	{ CLI_F_MAX_FUTURE_SKEW, NULL, "--max-future-skew" },
	{ CLI_F_PARTITIONER, NULL, "--partitioner" },
	{ CLI_F_DEDUP_WINDOW, NULL, "--dedup-window" },
};

#define NFIELDS (sizeof fields / sizeof fields[0])

/* The Kafka text of one field's value (tconfig.c reads it back). */
static void config_value(unsigned field, const varve_topic_config *cfg, char *buf, size_t cap)
{
	switch (field) {
	case CLI_F_POLICY: snprintf(buf, cap, "%s", cli_policy_name(cfg->cleanup_policy)); break;
	case CLI_F_CODEC:
		snprintf(buf, cap, "%s", cfg->codec == VARVE_CODEC_LZ4 ? "lz4" : "uncompressed");
		break;
	case CLI_F_TIMESTAMP_TYPE:
		snprintf(buf, cap, "%s",
			 cfg->timestamp_type == VARVE_TIMESTAMP_APPEND ? "LogAppendTime" : "CreateTime");
		break;
	case CLI_F_DIRTY_RATIO: snprintf(buf, cap, "%.17g", cfg->min_cleanable_dirty_ratio); break;
	case CLI_F_DELETE_RETENTION: snprintf(buf, cap, "%" PRId64, cfg->delete_retention_ms); break;
	case CLI_F_RETENTION_BYTES: snprintf(buf, cap, "%" PRId64, cfg->retention_bytes); break;
	case CLI_F_RETENTION_MS: snprintf(buf, cap, "%" PRId64, cfg->retention_ms); break;
	case CLI_F_SEGMENT_BYTES: snprintf(buf, cap, "%" PRId64, cfg->segment_bytes); break;
	default: snprintf(buf, cap, "%" PRId64, cfg->segment_ms); break; /* CLI_F_SEGMENT_MS */
	}
}

/* CLI_OK when every field in mask has a Kafka name; else says which. */
static int kafka_fields_only(const cli_ctx *c, unsigned mask)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		if (!(mask & fields[i].field) || fields[i].kafka)
			continue;
		cli_errf("%s: %s cannot be set through a server: Kafka has no config for it (stop "
			 "the server and run this command on the store, or use the library)",
			 c->bootstrap, fields[i].option);
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* 1 if --config names this Kafka config (it wins over the option). */
static int config_given(const cli_topic_change *ch, const char *name)
{
	for (size_t i = 0; i < ch->n; i++)
		if (!strcmp(ch->names[i], name))
			return 1;
	return 0;
}

/* A growable list of Kafka configs. */
typedef struct kconfigs {
	char **names, **values;
	int *is_default, *read_only;
	size_t n, cap;
} kconfigs;

static void kconfigs_free(kconfigs *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->names[i]);
		free(k->values[i]);
	}
	free(k->names);
	free(k->values);
	free(k->is_default);
	free(k->read_only);
	memset(k, 0, sizeof *k);
}

/* Set name to value (replacing an earlier value). 0, or -1 out of memory. */
static int kconfigs_set(kconfigs *k, const char *name, const char *value, int is_default,
			int read_only)
{
	size_t i = 0;
	while (i < k->n && strcmp(k->names[i], name))
		i++;
	if (i == k->n) {
		if (k->n == k->cap) {
			size_t nc = k->cap ? k->cap * 2 : 16;
			char **nn = realloc(k->names, nc * sizeof *nn);
			if (nn)
				k->names = nn;
			char **nv = nn ? realloc(k->values, nc * sizeof *nv) : NULL;
			if (nv)
				k->values = nv;
			int *nd = nv ? realloc(k->is_default, nc * sizeof *nd) : NULL;
			if (nd)
				k->is_default = nd;
			int *nr = nd ? realloc(k->read_only, nc * sizeof *nr) : NULL;
			if (!nr)
				return -1;
			k->read_only = nr;
			k->cap = nc;
		}
		if (!(k->names[i] = strdup(name)))
			return -1;
		k->values[i] = NULL;
		k->n++;
	}
	free(k->values[i]);
	k->values[i] = value ? strdup(value) : NULL;
	k->is_default[i] = is_default;
	k->read_only[i] = read_only;
	return value && !k->values[i] ? -1 : 0;
}

/* The topic's Kafka configs (DescribeConfigs). */
static int describe_configs(rk_handle *k, const char *topic, kconfigs *out)
{
	char what[300];
	snprintf(what, sizeof what, "topic %s", topic);
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, what, &a);
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	if (rc == CLI_OK && res) {
		rd_kafka_DescribeConfigs(k->rk, &res, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	size_t n = 0;
	const rd_kafka_ConfigResource_t **rs =
		rc ? NULL
		   : rd_kafka_DescribeConfigs_result_resources(
			     rd_kafka_event_DescribeConfigs_result(a.ev), &n);
	if (rc == CLI_OK && n != 1) {
		rc = rk_fail(k, what, "no such topic in the answer");
	} else if (rc == CLI_OK && rd_kafka_ConfigResource_error(rs[0])) {
		rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(rs[0]);
		if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
			cli_errf("%s: no topic named %s", k->c->bootstrap, topic);
			rc = CLI_ERROR;
		} else {
			rc = rk_fail(k, what, rd_kafka_ConfigResource_error_string(rs[0]));
		}
	} else if (rc == CLI_OK) {
		size_t ne;
		const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[0], &ne);
		for (size_t i = 0; i < ne && rc == CLI_OK; i++)
			if (kconfigs_set(out, rd_kafka_ConfigEntry_name(es[i]),
					 rd_kafka_ConfigEntry_value(es[i]),
					 rd_kafka_ConfigEntry_is_default(es[i]),
					 rd_kafka_ConfigEntry_is_read_only(es[i]))) {
				cli_errf("out of memory");
				rc = CLI_ERROR;
			}
	}
	if (res)
		rd_kafka_ConfigResource_destroy(res);
	call_end(&a);
	return rc;
}

/* "  name                 value", one per config, sorted by name as the
 * broker answers them; "(default)" marks defaults. */
static void print_kconfigs(const char *topic, uint32_t partitions, const kconfigs *kc)
{
	printf("topic %s\n", topic);
	printf("  %-26s %u\n", "partitions", partitions);
	for (size_t i = 0; i < kc->n; i++)
		printf("  %-26s %s%s\n", kc->names[i], kc->values[i] ? kc->values[i] : "(null)",
		       kc->is_default[i] ? " (default)" : "");
}

/* The topic's settings after a change, as describe shows them. */
static int print_topic_config(rk_handle *k, const char *topic)
{
	uint32_t parts = 0;
	kconfigs kc;
	memset(&kc, 0, sizeof kc);
	int rc = rk_topic_partitions(k, topic, &parts);
	if (rc == CLI_OK && (rc = describe_configs(k, topic, &kc)) == CLI_OK)
		print_kconfigs(topic, parts, &kc);
	kconfigs_free(&kc);
	return rc;
}

/* ---- topic create, delete, alter, add-partitions -------------------------------------- */

/* The topic's configs for CreateTopics: the options given, then --config. */
static int new_topic_configs(rd_kafka_NewTopic_t *nt, const cli_topic_change *ch, char *err,
			     size_t cap)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		if (!(ch->mask & fields[i].field) || !fields[i].kafka ||
		    config_given(ch, fields[i].kafka))
			continue;
		char value[64];
		config_value(fields[i].field, &ch->cfg, value, sizeof value);
		if (rd_kafka_NewTopic_set_config(nt, fields[i].kafka, value)) {
			snprintf(err, cap, "cannot set %s", fields[i].kafka);
			return -1;
		}
	}
	for (size_t i = 0; i < ch->n; i++)
		if (rd_kafka_NewTopic_set_config(nt, ch->names[i], ch->values[i])) {
			snprintf(err, cap, "cannot set %s", ch->names[i]);
			return -1;
		}
	return 0;
}

int cli_remote_topic_create(cli_ctx *c, const char *name, const cli_topic_change *ch,
			    int if_not_exists)
{
	if (kafka_fields_only(c, ch->mask))
		return CLI_ERROR;
	char what[300], err[256];
	snprintf(what, sizeof what, "topic create %s", name);
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_CREATETOPICS, what, &a);
	rd_kafka_NewTopic_t *nt = rc ? NULL
				     : rd_kafka_NewTopic_new(name, (int)ch->cfg.partitions, 1, err,
							     sizeof err);
	if (rc == CLI_OK && (!nt || new_topic_configs(nt, ch, err, sizeof err)))
		rc = rk_fail(k, what, err);
	if (rc == CLI_OK) {
		rd_kafka_CreateTopics(k->rk, &nt, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(
			rd_kafka_event_CreateTopics_result(a.ev), &n);
		rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(tr[0])
					       : RD_KAFKA_RESP_ERR__BAD_MSG;
		if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && !if_not_exists) {
			cli_errf("%s: topic %s already exists", c->bootstrap, name);
			rc = CLI_ERROR;
		} else if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			const char *m = n == 1 ? rd_kafka_topic_result_error_string(tr[0]) : NULL;
			rc = rk_fail(k, what, m && *m ? m : rd_kafka_err2str(e));
		} else if (!e) {
			printf("created topic %s (%u partition%s)\n", name, ch->cfg.partitions,
			       ch->cfg.partitions == 1 ? "" : "s");
		}
	}
	if (nt)
		rd_kafka_NewTopic_destroy(nt);
	call_end(&a);
	rk_close(k);
	return rc;
}

int cli_remote_topic_delete(cli_ctx *c, const char *name)
{
	char what[300];
	snprintf(what, sizeof what, "topic delete %s", name);
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_DELETETOPICS, what, &a);
	rd_kafka_DeleteTopic_t *dt = rc ? NULL : rd_kafka_DeleteTopic_new(name);
	if (rc == CLI_OK && dt) {
		rd_kafka_DeleteTopics(k->rk, &dt, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_topic_result_t **tr = rd_kafka_DeleteTopics_result_topics(
			rd_kafka_event_DeleteTopics_result(a.ev), &n);
		rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(tr[0])
					       : RD_KAFKA_RESP_ERR__BAD_MSG;
		if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
			cli_errf("%s: no topic named %s", c->bootstrap, name);
			rc = CLI_ERROR;
		} else if (e) {
			rc = rk_fail_err(k, what, e);
		} else {
			printf("deleted topic %s\n", name);
		}
	}
	if (dt)
		rd_kafka_DeleteTopic_destroy(dt);
	call_end(&a);
	rk_close(k);
	return rc;
}

/* The whole new config set: the current non-default values, then the
 * options given, then --config. */
static int altered_configs(const cli_topic_change *ch, const kconfigs *cur, kconfigs *next)
{
	for (size_t i = 0; i < cur->n; i++)
		if (!cur->is_default[i] && !cur->read_only[i] && cur->values[i] &&
		    kconfigs_set(next, cur->names[i], cur->values[i], 0, 0))
			return -1;
	for (size_t i = 0; i < NFIELDS; i++) {
		if (!(ch->mask & fields[i].field) || !fields[i].kafka)
			continue;
		char value[64];
		config_value(fields[i].field, &ch->cfg, value, sizeof value);
		if (kconfigs_set(next, fields[i].kafka, value, 0, 0))
			return -1;
	}
	for (size_t i = 0; i < ch->n; i++)
		if (kconfigs_set(next, ch->names[i], ch->values[i], 0, 0))
			return -1;
	return 0;
}

static int alter_configs(rk_handle *k, const char *name, const kconfigs *next, const char *what)
{
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, what, &a);
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
	for (size_t i = 0; rc == CLI_OK && res && i < next->n; i++)
		if (rd_kafka_ConfigResource_set_config(res, next->names[i], next->values[i]))
			rc = rk_fail(k, what, "out of memory");
	if (rc == CLI_OK && res) {
		rd_kafka_AlterConfigs(k->rk, &res, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_ConfigResource_t **rs = rd_kafka_AlterConfigs_result_resources(
			rd_kafka_event_AlterConfigs_result(a.ev), &n);
		if (n != 1)
			rc = rk_fail(k, what, "no such topic in the answer");
		else if (rd_kafka_ConfigResource_error(rs[0]) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			rc = (cli_errf("%s: no topic named %s", k->c->bootstrap, name), CLI_ERROR);
		else if (rd_kafka_ConfigResource_error(rs[0]))
			rc = rk_fail(k, what, rd_kafka_ConfigResource_error_string(rs[0]));
	}
	if (res)
		rd_kafka_ConfigResource_destroy(res);
	call_end(&a);
	return rc;
}

int cli_remote_topic_alter(cli_ctx *c, const char *name, const cli_topic_change *ch)
{
	if (kafka_fields_only(c, ch->mask))
		return CLI_ERROR;
	char what[300];
	snprintf(what, sizeof what, "topic alter %s", name);
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	kconfigs cur, next;
	memset(&cur, 0, sizeof cur);
	memset(&next, 0, sizeof next);
	int rc = describe_configs(k, name, &cur);
	if (rc == CLI_OK && altered_configs(ch, &cur, &next)) {
		cli_errf("out of memory");
		rc = CLI_ERROR;
	}
	if (rc == CLI_OK)
		rc = alter_configs(k, name, &next, what);
	if (rc == CLI_OK)
		rc = print_topic_config(k, name);
	kconfigs_free(&cur);
	kconfigs_free(&next);
	rk_close(k);
	return rc;
}

int cli_remote_topic_add_partitions(cli_ctx *c, const char *name, uint32_t partitions)
{
	char what[300], err[256];
	snprintf(what, sizeof what, "topic add-partitions %s", name);
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, what, &a);
	rd_kafka_NewPartitions_t *np =
		rc ? NULL : rd_kafka_NewPartitions_new(name, partitions, err, sizeof err);
	if (rc == CLI_OK && !np)
		rc = rk_fail(k, what, err);
	if (rc == CLI_OK) {
		rd_kafka_CreatePartitions(k->rk, &np, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_topic_result_t **tr = rd_kafka_CreatePartitions_result_topics(
			rd_kafka_event_CreatePartitions_result(a.ev), &n);
		rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(tr[0])
					       : RD_KAFKA_RESP_ERR__BAD_MSG;
		const char *m = n == 1 ? rd_kafka_topic_result_error_string(tr[0]) : NULL;
		if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			rc = (cli_errf("%s: no topic named %s", c->bootstrap, name), CLI_ERROR);
		else if (e)
			rc = rk_fail(k, what, m && *m ? m : rd_kafka_err2str(e));
		else
			printf("topic %s now has %u partitions\n", name, partitions);
	}
	if (np)
		rd_kafka_NewPartitions_destroy(np);
	call_end(&a);
	rk_close(k);
	return rc;
}

/* ---- topic list, describe ------------------------------------------------------------- */

int cli_remote_topic_list(cli_ctx *c)
{
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	char **names = NULL;
	size_t n = 0;
	int rc = rk_topic_names(k, &names, &n);
	for (size_t i = 0; rc == CLI_OK && i < n; i++)
		printf("%s\n", names[i]);
	rk_names_free(names, n);
	rk_close(k);
	return rc;
}

int cli_remote_topic_describe(cli_ctx *c, const char *name)
{
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	uint32_t parts = 0;
	int rc = rk_topic_partitions(k, name, &parts);
	if (rc == CLI_OK)
		rc = print_topic_config(k, name);
	if (rc == CLI_OK)
		printf("\n%9s %20s %20s %20s\n", "PARTITION", "START", "END", "RECORDS");
	for (uint32_t p = 0; rc == CLI_OK && p < parts; p++) {
		int64_t start, end;
		if ((rc = rk_watermarks(k, name, (int32_t)p, &start, &end)) == CLI_OK)
			printf("%9u %20" PRId64 " %20" PRId64 " %20" PRId64 "\n", p, start, end,
			       end - start);
	}
	rk_close(k);
	return rc;
}

/* ---- groups: list, state, delete -------------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cli_remote_group_list(cli_ctx *c)
{
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, "listing groups", &a);
	if (rc == CLI_OK) {
		rd_kafka_ListConsumerGroups(k->rk, a.o, a.q);
		rc = call_wait(k, &a, "listing groups");
	}
	if (rc == CLI_OK) {
		const rd_kafka_ListConsumerGroups_result_t *r =
			rd_kafka_event_ListConsumerGroups_result(a.ev);
		size_t n = 0, nerr = 0;
		const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(r, &nerr);
		const rd_kafka_ConsumerGroupListing_t **gs =
			rd_kafka_ListConsumerGroups_result_valid(r, &n);
		/* the names stay in the event until it is destroyed */
		const char **names = nerr ? NULL : calloc(n + 1, sizeof *names);
		if (nerr)
			rc = rk_fail(k, "listing groups", rd_kafka_error_string(errs[0]));
		else if (!names)
			rc = (cli_errf("out of memory"), CLI_ERROR);
		for (size_t i = 0; rc == CLI_OK && i < n; i++)
			names[i] = rd_kafka_ConsumerGroupListing_group_id(gs[i]);
		if (rc == CLI_OK)
			qsort(names, n, sizeof *names, cmp_name);
		for (size_t i = 0; rc == CLI_OK && i < n; i++)
			printf("%s\n", names[i]);
		free(names);
	}
	call_end(&a);
	rk_close(k);
	return rc;
}

/* The group's state (DescribeGroups): "Dead" for a group nobody knows,
 * "Empty" for one without members. state gets the name. */
static int group_state(rk_handle *k, const char *group, char *state, size_t cap, int *members)
{
	char what[300];
	snprintf(what, sizeof what, "group %s", group);
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, what, &a);
	if (rc == CLI_OK) {
		const char *groups[1] = { group };
		rd_kafka_DescribeConsumerGroups(k->rk, groups, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_ConsumerGroupDescription_t **gs =
			rd_kafka_DescribeConsumerGroups_result_groups(
				rd_kafka_event_DescribeConsumerGroups_result(a.ev), &n);
		const rd_kafka_error_t *e = n == 1 ? rd_kafka_ConsumerGroupDescription_error(gs[0])
						   : NULL;
		if (n != 1) {
			rc = rk_fail(k, what, "no such group in the answer");
		} else if (e) {
			rc = rk_fail(k, what, rd_kafka_error_string(e));
		} else {
			snprintf(state, cap, "%s",
				 rd_kafka_consumer_group_state_name(
					 rd_kafka_ConsumerGroupDescription_state(gs[0])));
			*members = (int)rd_kafka_ConsumerGroupDescription_member_count(gs[0]);
		}
	}
	call_end(&a);
	return rc;
}

int cli_remote_group_delete(cli_ctx *c, const char *group)
{
	char what[300];
	snprintf(what, sizeof what, "group delete %s", group);
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_DELETEGROUPS, what, &a);
	rd_kafka_DeleteGroup_t *dg = rc ? NULL : rd_kafka_DeleteGroup_new(group);
	if (rc == CLI_OK && dg) {
		rd_kafka_DeleteGroups(k->rk, &dg, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_DeleteGroups_result_groups(
			rd_kafka_event_DeleteGroups_result(a.ev), &n);
		const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
		rd_kafka_resp_err_t code = e ? rd_kafka_error_code(e) : 0;
		if (n != 1)
			rc = rk_fail(k, what, "no such group in the answer");
		else if (code == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
			rc = (cli_errf("%s: no group named %s", c->bootstrap, group), CLI_ERROR);
		else if (code == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP)
			rc = (cli_errf("%s: group %s has active members: stop its consumers first (%s)",
				       c->bootstrap, group, rd_kafka_err2str(code)),
			      CLI_ERROR);
		else if (e)
			rc = rk_fail(k, what, rd_kafka_error_string(e));
		else
			printf("deleted group %s\n", group);
	}
	if (dg)
		rd_kafka_DeleteGroup_destroy(dg);
	call_end(&a);
	rk_close(k);
	return rc;
}

/* The group's committed offsets: of the partitions in want, or of every
 * partition it has a commit in (want NULL). *out is a copy (destroy it). */
static int committed_offsets(rk_handle *k, const char *group,
			     const rd_kafka_topic_partition_list_t *want,
			     rd_kafka_topic_partition_list_t **out)
{
	char what[300];
	snprintf(what, sizeof what, "offsets of group %s", group);
	*out = NULL;
	admin_call a;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, what, &a);
	rd_kafka_ListConsumerGroupOffsets_t *req =
		rc ? NULL : rd_kafka_ListConsumerGroupOffsets_new(group, want);
	if (rc == CLI_OK && req) {
		rd_kafka_ListConsumerGroupOffsets(k->rk, &req, 1, a.o, a.q);
		rc = call_wait(k, &a, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
			rd_kafka_event_ListConsumerGroupOffsets_result(a.ev), &n);
		const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
		const rd_kafka_topic_partition_list_t *l =
			n == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
		if (n != 1)
			rc = rk_fail(k, what, "no such group in the answer");
		else if (e)
			rc = rk_fail(k, what, rd_kafka_error_string(e));
		else if (!(*out = l ? rd_kafka_topic_partition_list_copy(l)
				    : rd_kafka_topic_partition_list_new(0)))
			rc = (cli_errf("out of memory"), CLI_ERROR);
	}
	if (req)
		rd_kafka_ListConsumerGroupOffsets_destroy(req);
	call_end(&a);
	return rc;
}

/* ---- group describe -------------------------------------------------------------------- */

static int cmp_tp(const void *a, const void *b)
{
	const rd_kafka_topic_partition_t *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void describe_row(const char *group, const rd_kafka_topic_partition_t *tp, int64_t start,
			 int64_t end, int json)
{
	int64_t committed = tp->offset >= 0 ? tp->offset : -1;
	int64_t from = committed < start ? start : committed;
	int64_t lag = end > from ? end - from : 0;
	if (json) {
		fputs("{\"group\":", stdout);
		cli_json_str(group);
		fputs(",\"topic\":", stdout);
		cli_json_str(tp->topic);
		printf(",\"partition\":%" PRId32 ",\"committed\":", tp->partition);
		if (committed < 0)
			fputs("null", stdout);
		else
			printf("%" PRId64, committed);
		printf(",\"end_offset\":%" PRId64 ",\"lag\":%" PRId64
		       ",\"lag_bytes\":null,\"oldest_age_ms\":null}\n",
		       end, lag);
		return;
	}
	char cs[32];
	if (committed < 0)
		snprintf(cs, sizeof cs, "-");
	else
		snprintf(cs, sizeof cs, "%" PRId64, committed);
	printf("%-20s %-20s %9" PRId32 " %12s %12" PRId64 " %12" PRId64 " %12s %12s\n", group,
	       tp->topic, tp->partition, cs, end, lag, "-", "-");
}

int cli_remote_group_describe(cli_ctx *c, const char *group, int json)
{
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	rd_kafka_topic_partition_list_t *l = NULL;
	char state[64];
	int members = 0;
	int rc = committed_offsets(k, group, NULL, &l);
	if (rc == CLI_OK && l->cnt == 0 &&
	    (rc = group_state(k, group, state, sizeof state, &members)) == CLI_OK) {
		if (!strcmp(state, "Dead")) {
			cli_errf("%s: no group named %s", c->bootstrap, group);
			rc = CLI_ERROR;
		} else if (!json) {
			printf("group %s has no committed offsets\n", group);
		}
	}
	if (rc == CLI_OK && l->cnt > 0) {
		qsort(l->elems, (size_t)l->cnt, sizeof *l->elems, cmp_tp);
		if (!json)
			cli_lag_header();
	}
	for (int i = 0; rc == CLI_OK && i < l->cnt; i++) {
		int64_t start, end;
		if ((rc = rk_watermarks(k, l->elems[i].topic, l->elems[i].partition, &start, &end)))
			break;
		describe_row(group, &l->elems[i], start, end, json);
	}
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	rk_close(k);
	return rc;
}

/* ---- group reset ------------------------------------------------------------------------ */

static int64_t offset_of(const rd_kafka_topic_partition_list_t *l, int32_t partition)
{
	for (int i = 0; l && i < l->cnt; i++)
		if (l->elems[i].partition == partition)
			return l->elems[i].offset;
	return -1;
}

/* The new offset of one partition, clamped to [start, end]; *note says so. */
static int reset_one(rk_handle *k, const cli_reset_args *a, int32_t p, int64_t cur,
		     const rd_kafka_topic_partition_list_t *by_time, int64_t *t, const char **note)
{
	int64_t start, end;
	int rc = rk_watermarks(k, a->topic, p, &start, &end);
	if (rc)
		return rc;
	switch (a->mode) {
	case CLI_RESET_EARLIEST: *t = start; break;
	case CLI_RESET_LATEST: *t = end; break;
	case CLI_RESET_OFFSET: *t = a->arg; break;
	case CLI_RESET_SHIFT: *t = (cur >= 0 ? cur : start) + a->arg; break;
	default: /* by time: the end when no record is that recent */
		*t = offset_of(by_time, p);
		if (*t < 0)
			*t = end;
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

/* The group may exist (unless --create) and, to execute, has no members:
 * the refusal of kafka-consumer-groups.sh. */
static int reset_allowed(rk_handle *k, const cli_reset_args *a)
{
	char state[64];
	int members = 0;
	int rc = group_state(k, a->group, state, sizeof state, &members);
	if (rc)
		return rc;
	if (!strcmp(state, "Dead") && !a->create) {
		cli_errf("%s: no group named %s (check the name; --execute --create makes a new one)",
			 k->c->bootstrap, a->group);
		return CLI_ERROR;
	}
	if (a->execute && strcmp(state, "Dead") && (strcmp(state, "Empty") || members > 0)) {
		cli_errf("%s: Assignments can only be reset if the group '%s' is inactive, but the "
			 "current state is %s (%d member%s): stop its consumers first",
			 k->c->bootstrap, a->group, state, members, members == 1 ? "" : "s");
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* Commit the targets in one OffsetCommit. */
static int reset_apply(rk_handle *k, const cli_reset_args *a,
		       const rd_kafka_topic_partition_list_t *targets)
{
	char what[300];
	snprintf(what, sizeof what, "group reset %s", a->group);
	admin_call call;
	int rc = call_begin(k, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, what, &call);
	rd_kafka_AlterConsumerGroupOffsets_t *req =
		rc ? NULL : rd_kafka_AlterConsumerGroupOffsets_new(a->group, targets);
	if (rc == CLI_OK && req) {
		rd_kafka_AlterConsumerGroupOffsets(k->rk, &req, 1, call.o, call.q);
		rc = call_wait(k, &call, what);
	}
	if (rc == CLI_OK) {
		size_t n = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
			rd_kafka_event_AlterConsumerGroupOffsets_result(call.ev), &n);
		const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
		const rd_kafka_topic_partition_list_t *l =
			n == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
		if (n != 1)
			rc = rk_fail(k, what, "no such group in the answer");
		else if (e)
			rc = rk_fail(k, what, rd_kafka_error_string(e));
		for (int i = 0; rc == CLI_OK && l && i < l->cnt; i++)
			if (l->elems[i].err) {
				char part[300];
				snprintf(part, sizeof part, "%s: %s/%" PRId32, what, l->elems[i].topic,
					 l->elems[i].partition);
				rc = rk_fail_err(k, part, l->elems[i].err);
			}
	}
	if (rc == CLI_OK)
		printf("reset %d partition%s of group %s\n", targets->cnt, targets->cnt == 1 ? "" : "s",
		       a->group);
	if (req)
		rd_kafka_AlterConsumerGroupOffsets_destroy(req);
	call_end(&call);
	return rc;
}

/* The plan, printed as the local command prints it; targets get the new
 * offsets. */
static int reset_plan(rk_handle *k, const cli_reset_args *a,
		      rd_kafka_topic_partition_list_t *targets)
{
	rd_kafka_topic_partition_list_t *cur = NULL, *by_time = NULL;
	int rc = committed_offsets(k, a->group, targets, &cur);
	if (rc == CLI_OK && a->mode == CLI_RESET_TIME) {
		if (!(by_time = rd_kafka_topic_partition_list_copy(targets)))
			rc = (cli_errf("out of memory"), CLI_ERROR);
		else
			rc = rk_offsets_for_time(k, by_time, a->arg);
	}
	if (rc == CLI_OK)
		printf("%-20s %-20s %9s %20s %20s\n", "GROUP", "TOPIC", "PARTITION", "CURRENT", "NEW");
	for (int i = 0; rc == CLI_OK && i < targets->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &targets->elems[i];
		int64_t c = offset_of(cur, tp->partition), t;
		const char *note = "";
		c = c >= 0 ? c : -1;
		if ((rc = reset_one(k, a, tp->partition, c, by_time, &t, &note)))
			break;
		tp->offset = t;
		char cs[32];
		if (c < 0)
			snprintf(cs, sizeof cs, "-");
		else
			snprintf(cs, sizeof cs, "%" PRId64, c);
		printf("%-20s %-20s %9" PRId32 " %20s %20" PRId64 "%s\n", a->group, a->topic,
		       tp->partition, cs, t, note);
	}
	if (cur)
		rd_kafka_topic_partition_list_destroy(cur);
	if (by_time)
		rd_kafka_topic_partition_list_destroy(by_time);
	return rc;
}

int cli_remote_group_reset(cli_ctx *c, const cli_reset_args *a)
{
	rk_handle *k;
	if (admin_open(c, &k))
		return CLI_ERROR;
	uint32_t nparts = 0;
	int rc = rk_topic_partitions(k, a->topic, &nparts);
	if (rc == CLI_OK && a->partition >= (int64_t)nparts) {
		cli_errf("%s: topic %s has %u partition%s; no partition %" PRId64, c->bootstrap,
			 a->topic, nparts, nparts == 1 ? "" : "s", a->partition);
		rc = CLI_ERROR;
	}
	if (rc == CLI_OK)
		rc = reset_allowed(k, a);
	uint32_t first = a->partition >= 0 ? (uint32_t)a->partition : 0;
	uint32_t count = a->partition >= 0 ? 1 : nparts;
	rd_kafka_topic_partition_list_t *targets =
		rc ? NULL : rd_kafka_topic_partition_list_new((int)count);
	if (rc == CLI_OK && !targets)
		rc = (cli_errf("out of memory"), CLI_ERROR);
	for (uint32_t i = 0; rc == CLI_OK && i < count; i++)
		rd_kafka_topic_partition_list_add(targets, a->topic, (int32_t)(first + i));
	if (rc == CLI_OK)
		rc = reset_plan(k, a, targets);
	fflush(stdout);
	if (rc == CLI_OK && !a->execute)
		printf("dry run: nothing changed (add --execute to commit these offsets)\n");
	else if (rc == CLI_OK)
		rc = reset_apply(k, a, targets);
	if (targets)
		rd_kafka_topic_partition_list_destroy(targets);
	rk_close(k);
	return rc;
}
