/* SPDX-License-Identifier: MIT */
/*
 * test_h_acls.c -- permissions in the broker (server/broker/h_acls.c and
 * the vs_authorize call of every handler) against a broker on a thread
 * (../broker/bt_util.c) whose ACL file is <store>/acls.
 *
 * The principal is the call's (User:ANONYMOUS until authentication
 * exists): ACLs for ME apply to this client, ACLs for OTHER do not.
 *   refused.*  once any ACL exists, a client without a grant gets each
 *              API's authorization error and no data, and nothing changes;
 *   granted.*  the grant each API needs (and no more) makes it work;
 *   model.*    prefixes, deny beating allow, hosts; supers.* super users;
 *   reload.*   file changes seen by new and old connections, a bad file
 *              kept out, no file meaning no ACL; nofile.* no ACL file at all;
 *   apis.*     DescribeAcls, CreateAcls, DeleteAcls in v0 and v1;
 *   counted.*  /metrics and the log-once rule.
 * Every ACL change is followed by a new connection, which looks at the
 * file at once (an old one within a second: reload.old_connection).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bt_util.h"
#include "records/records.h"
#include "security/acl.h"

#define ME "User:ANONYMOUS"
#define OTHER "User:other"

/* ACLs that exist but grant this client nothing. */
#define OTHER_ONLY                                                  \
	"allow " OTHER " * all topic literal *\n"                   \
	"allow " OTHER " * all group literal *\n"                   \
	"allow " OTHER " * all cluster literal kafka-cluster\n"

static bt t;
static char acl_path[600];
static const char *supers[1];
static size_t nsupers;
static bool no_file;

/* The broker's log, for the log-once checks. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char logbuf[1 << 16];
static size_t loglen;

static void capture(void *ctx, int level, const char *message)
{
	(void)ctx;
	(void)level;
	pthread_mutex_lock(&log_mu);
	int n = snprintf(logbuf + loglen, sizeof logbuf - loglen, "%s\n", message);
	if (n > 0 && loglen + (size_t)n < sizeof logbuf)
		loglen += (size_t)n;
	pthread_mutex_unlock(&log_mu);
}

static size_t log_count(const char *needle)
{
	size_t n = 0;
	pthread_mutex_lock(&log_mu);
	for (const char *p = logbuf; (p = strstr(p, needle)); p++)
		n++;
	pthread_mutex_unlock(&log_mu);
	return n;
}

static void tweak(vs_broker_config *cfg)
{
	snprintf(acl_path, sizeof acl_path, "%s/acls", t.dir);
	cfg->acl_file = no_file ? NULL : acl_path;
	cfg->super_users = supers;
	cfg->super_user_count = nsupers;
	cfg->log_fn = capture;
}

/* Replace the ACL file with these lines (as `varve acl` would write it). */
static void acls(const char *text)
{
	vs_acl_set s;
	char msg[256] = "";
	cr_assert_eq(vs_acl_parse(text, strlen(text), &s, msg, sizeof msg), 0, "%s", msg);
	int lock = vs_acl_lock(acl_path, msg, sizeof msg);
	cr_assert(lock >= 0, "%s", msg);
	cr_assert_eq(vs_acl_save(acl_path, &s, msg, sizeof msg), 0, "%s", msg);
	vs_acl_unlock(lock);
	vs_acl_set_free(&s);
}

static void setup(void)
{
	loglen = 0;
	bt_start(&t, tweak);
	bt_topic(&t, "t", 2);
	bt_fill(&t, "t", 0, 3, 1700000000000LL);
	bt_topic(&t, "u", 1);
	cr_assert_eq(varve_group_commit(t.db, "g", "t", 0, 1, "m"), 0);
}

static void teardown(void)
{
	bt_stop(&t);
	nsupers = 0;
	no_file = false;
}

/* ---- requests --------------------------------------------------------------------------- */

static int64_t end_offset(const char *topic, int32_t p)
{
	int64_t end = -1;
	cr_assert_eq(varve_offsets(t.db, topic, p, NULL, &end), 0);
	return end;
}

static bool topic_exists(const char *name)
{
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	return varve_topic_describe(t.db, name, &cfg) == VARVE_OK;
}

static vs_response metadata(int fd, const char *topic, bool auto_create)
{
	vs_metadata_request_topic mt = { bt_s(topic ? topic : "") };
	vs_request q = { 0 };
	q.metadata.topics.v = &mt;
	q.metadata.topics.n = topic ? 1 : -1;
	q.metadata.allow_auto_topic_creation = auto_create;
	vs_response r;
	bt_call(&t, fd, VS_API_METADATA, 4, &q, &r);
	return r;
}

static int16_t produce(int fd, const char *topic, int32_t partition)
{
	varve_record rec = { 0 };
	rec.value = "x";
	rec.value_len = 1;
	rec.timestamp = 1700000000000LL;
	vs_records_encoder e;
	vs_records_encoder_init(&e);
	vs_wbuf w;
	vs_wbuf_init(&w);
	cr_assert_eq(vs_records_encode(&e, &w, &rec, 1, NULL), 0);
	vs_records_encoder_free(&e);
	vs_produce_partition pp = { partition, { w.buf, w.len } };
	vs_produce_topic pt = { bt_s(topic), { &pp, 1 } };
	vs_request q = { 0 };
	q.produce.acks = 1;
	q.produce.timeout_ms = 5000;
	q.produce.topic_data.v = &pt;
	q.produce.topic_data.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_PRODUCE, 7, &q, &r);
	vs_wbuf_free(&w);
	cr_assert_eq(r.produce.responses.n, 1);
	return r.produce.responses.v[0].partition_responses.v[0].error_code;
}

/* Fetch partition 0 of topic from offset 0: its error; *bytes the records. */
static int16_t fetch(int fd, const char *topic, size_t *bytes)
{
	vs_fetch_partition fp = { 0, -1, 0, -1, 1 << 20 };
	vs_fetch_topic ft = { bt_s(topic), { &fp, 1 } };
	vs_request q = { 0 };
	q.fetch.replica_id = -1;
	q.fetch.max_wait_ms = 0;
	q.fetch.max_bytes = 1 << 20;
	q.fetch.session_epoch = -1;
	q.fetch.topics.v = &ft;
	q.fetch.topics.n = 1;
	q.fetch.rack_id = bt_s("");
	vs_response r;
	bt_call(&t, fd, VS_API_FETCH, 11, &q, &r);
	cr_assert_eq(r.fetch.responses.n, 1);
	vs_fetch_partition_data *d = &r.fetch.responses.v[0].partitions.v[0];
	*bytes = d->records.len;
	return d->error_code;
}

static int16_t list_offsets(int fd, const char *topic, int64_t *offset)
{
	vs_list_offsets_partition lp = { 0, -1, 1 };
	vs_list_offsets_topic lt = { bt_s(topic), { &lp, 1 } };
	vs_request q = { 0 };
	q.list_offsets.replica_id = -1;
	q.list_offsets.topics.v = &lt;
	q.list_offsets.topics.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_LIST_OFFSETS, 1, &q, &r);
	*offset = r.list_offsets.topics.v[0].partitions.v[0].offset;
	return r.list_offsets.topics.v[0].partitions.v[0].error_code;
}

static int16_t commit(int fd, const char *group, const char *topic, int64_t offset)
{
	vs_offset_commit_partition cp = { 0, offset, -1, -1, VS_SLICE_NULL };
	vs_offset_commit_topic ct = { bt_s(topic), { &cp, 1 } };
	vs_request q = { 0 };
	q.offset_commit.group_id = bt_s(group);
	q.offset_commit.generation_id_or_member_epoch = -1;
	q.offset_commit.member_id = bt_s("");
	q.offset_commit.retention_time_ms = -1;
	q.offset_commit.topics.v = &ct;
	q.offset_commit.topics.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_OFFSET_COMMIT, 2, &q, &r);
	return r.offset_commit.topics.v[0].partitions.v[0].error_code;
}

/* OffsetFetch v3 of group g: topic NULL asks for every commit. */
static vs_response offset_fetch(int fd, const char *topic)
{
	static int32_t p0 = 0;
	static vs_offset_fetch_topic ft;
	ft = (vs_offset_fetch_topic){ bt_s(topic ? topic : ""), { &p0, 1 } };
	vs_request q = { 0 };
	q.offset_fetch.group_id = bt_s("g");
	q.offset_fetch.topics.v = &ft;
	q.offset_fetch.topics.n = topic ? 1 : -1;
	vs_response r;
	bt_call(&t, fd, VS_API_OFFSET_FETCH, 3, &q, &r);
	return r;
}

static int64_t committed(const char *group)
{
	int64_t off = -1;
	varve_group_offset(t.db, group, "t", 0, &off);
	return off;
}

static const uint8_t proto_meta[] = { 0, 1, 2, 3 };

static vs_response join(int fd, const char *group)
{
	vs_join_group_protocol p = { bt_s("range"), { proto_meta, sizeof proto_meta } };
	vs_request q = { 0 };
	q.join_group.group_id = bt_s(group);
	q.join_group.session_timeout_ms = 10000;
	q.join_group.rebalance_timeout_ms = 10000;
	q.join_group.member_id = bt_s("");
	q.join_group.protocol_type = bt_s("consumer");
	q.join_group.protocols.v = &p;
	q.join_group.protocols.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_JOIN_GROUP, 1, &q, &r);
	return r;
}

static vs_response describe_group(int fd, const char *group, bool with_ops)
{
	vs_slice id = bt_s(group);
	vs_request q = { 0 };
	q.describe_groups.groups.v = &id;
	q.describe_groups.groups.n = 1;
	q.describe_groups.include_authorized_operations = with_ops;
	vs_response r;
	bt_call(&t, fd, VS_API_DESCRIBE_GROUPS, 3, &q, &r);
	cr_assert_eq(r.describe_groups.groups.n, 1);
	return r;
}

static vs_response list_groups(int fd)
{
	vs_request q = { 0 };
	vs_response r;
	bt_call(&t, fd, VS_API_LIST_GROUPS, 2, &q, &r);
	return r;
}

static int16_t delete_group(int fd, const char *group)
{
	vs_slice id = bt_s(group);
	vs_request q = { 0 };
	q.delete_groups.groups_names.v = &id;
	q.delete_groups.groups_names.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_DELETE_GROUPS, 1, &q, &r);
	return r.delete_groups.results.v[0].error_code;
}

static int16_t create_topic(int fd, const char *name)
{
	vs_create_topics_topic ct = { bt_s(name), 1, 1, { NULL, 0 }, { NULL, 0 } };
	vs_request q = { 0 };
	q.create_topics.topics.v = &ct;
	q.create_topics.topics.n = 1;
	q.create_topics.timeout_ms = 5000;
	vs_response r;
	bt_call(&t, fd, VS_API_CREATE_TOPICS, 3, &q, &r);
	return r.create_topics.topics.v[0].error_code;
}

static int16_t delete_topic(int fd, const char *name)
{
	vs_slice n = bt_s(name);
	vs_request q = { 0 };
	q.delete_topics.topic_names.v = &n;
	q.delete_topics.topic_names.n = 1;
	q.delete_topics.timeout_ms = 5000;
	vs_response r;
	bt_call(&t, fd, VS_API_DELETE_TOPICS, 1, &q, &r);
	return r.delete_topics.responses.v[0].error_code;
}

static int16_t delete_records(int fd, const char *topic, int64_t below)
{
	vs_delete_records_partition dp = { 0, below };
	vs_delete_records_topic dt = { bt_s(topic), { &dp, 1 } };
	vs_request q = { 0 };
	q.delete_records.topics.v = &dt;
	q.delete_records.topics.n = 1;
	q.delete_records.timeout_ms = 5000;
	vs_response r;
	bt_call(&t, fd, VS_API_DELETE_RECORDS, 1, &q, &r);
	return r.delete_records.topics.v[0].partitions.v[0].error_code;
}

static int16_t create_partitions(int fd, const char *topic, int32_t count)
{
	vs_create_partitions_topic cp = { bt_s(topic), count, { NULL, -1 } };
	vs_request q = { 0 };
	q.create_partitions.topics.v = &cp;
	q.create_partitions.topics.n = 1;
	q.create_partitions.timeout_ms = 5000;
	vs_response r;
	bt_call(&t, fd, VS_API_CREATE_PARTITIONS, 1, &q, &r);
	return r.create_partitions.results.v[0].error_code;
}

static vs_response describe_configs(int fd, int8_t type, const char *name)
{
	vs_describe_configs_resource res = { type, bt_s(name), { NULL, -1 } };
	vs_request q = { 0 };
	q.describe_configs.resources.v = &res;
	q.describe_configs.resources.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_DESCRIBE_CONFIGS, 1, &q, &r);
	return r;
}

static int16_t alter_configs(int fd, int16_t key, const char *topic)
{
	vs_alter_configs_entry e = { bt_s("retention.ms"), 0, bt_s("60000") };
	vs_alter_configs_resource res = { 2, bt_s(topic), { &e, 1 } };
	vs_request q = { 0 };
	q.alter_configs.resources.v = &res;
	q.alter_configs.resources.n = 1;
	vs_response r;
	bt_call(&t, fd, key, 1, &q, &r);
	return r.alter_configs.responses.v[0].error_code;
}

static int64_t retention_ms(const char *topic)
{
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, topic, &cfg), 0);
	return cfg.retention_ms;
}

static vs_response init_producer_id(int fd)
{
	vs_request q = { 0 };
	q.init_producer_id.transactional_id = VS_SLICE_NULL;
	q.init_producer_id.transaction_timeout_ms = 60000;
	q.init_producer_id.producer_id = -1;
	q.init_producer_id.producer_epoch = -1;
	vs_response r;
	bt_call(&t, fd, VS_API_INIT_PRODUCER_ID, 1, &q, &r);
	return r;
}

static vs_response describe_acls(int fd, int16_t version, int8_t type, int8_t pattern,
				 const char *name)
{
	vs_request q = { 0 };
	q.describe_acls = (vs_describe_acls_request){ type, name ? bt_s(name) : VS_SLICE_NULL,
						      pattern, VS_SLICE_NULL, VS_SLICE_NULL,
						      VS_OP_ANY, VS_PERM_ANY };
	vs_response r;
	bt_call(&t, fd, VS_API_DESCRIBE_ACLS, version, &q, &r);
	return r;
}

static vs_acl_creation creation(int8_t perm, const char *principal, int8_t op, int8_t type,
				int8_t pattern, const char *name)
{
	return (vs_acl_creation){ type, bt_s(name), pattern, bt_s(principal), bt_s("*"), op, perm };
}

static vs_response create_acls(int fd, int16_t version, vs_acl_creation *c, int32_t n)
{
	vs_request q = { 0 };
	q.create_acls.creations.v = c;
	q.create_acls.creations.n = n;
	vs_response r;
	bt_call(&t, fd, VS_API_CREATE_ACLS, version, &q, &r);
	cr_assert_eq(r.create_acls.results.n, n);
	return r;
}

static vs_response delete_acls(int fd, int16_t version, vs_delete_acls_filter *f, int32_t n)
{
	vs_request q = { 0 };
	q.delete_acls.filters.v = f;
	q.delete_acls.filters.n = n;
	vs_response r;
	bt_call(&t, fd, VS_API_DELETE_ACLS, version, &q, &r);
	cr_assert_eq(r.delete_acls.filter_results.n, n);
	return r;
}

static vs_delete_acls_filter any_filter(void)
{
	return (vs_delete_acls_filter){ VS_RES_ANY, VS_SLICE_NULL, VS_PAT_ANY, VS_SLICE_NULL,
					VS_SLICE_NULL, VS_OP_ANY, VS_PERM_ANY };
}

static size_t file_acls(void)
{
	vs_acl_set s;
	vs_acl_stamp st;
	char msg[256];
	cr_assert_eq(vs_acl_load(acl_path, &s, &st, msg, sizeof msg), 0, "%s", msg);
	size_t n = s.n;
	vs_acl_set_free(&s);
	return n;
}

/* ---- refused: no grant, the API's error, no data, nothing changed ---------------------- */

TestSuite(refused, .init = setup, .fini = teardown);

Test(refused, metadata_hides_and_refuses_topics_and_does_not_create)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	vs_response r = metadata(fd, NULL, true);
	cr_assert_eq(r.metadata.topics.n, 0, "every topic is hidden from a listing");
	r = metadata(fd, "t", true);
	cr_assert_eq(r.metadata.topics.v[0].error_code, KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(r.metadata.topics.v[0].partitions.n, 0);
	r = metadata(fd, "newtopic", true);
	cr_assert_eq(r.metadata.topics.v[0].error_code, KE_TOPIC_AUTHORIZATION_FAILED,
		     "the same answer for a topic that does not exist");
	cr_assert(!topic_exists("newtopic"), "not auto-created");
	close(fd);
}

Test(refused, produce_fetch_and_list_offsets)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	cr_assert_eq(produce(fd, "t", 0), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(produce(fd, "nope", 0), KE_TOPIC_AUTHORIZATION_FAILED, "not UNKNOWN_TOPIC");
	cr_assert_eq(end_offset("t", 0), 3, "nothing appended");
	size_t bytes = 99;
	cr_assert_eq(fetch(fd, "t", &bytes), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(bytes, 0, "no records");
	int64_t off = 0;
	cr_assert_eq(list_offsets(fd, "t", &off), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(off, -1);
	close(fd);
}

Test(refused, group_apis)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	cr_assert_eq(commit(fd, "g", "t", 2), KE_GROUP_AUTHORIZATION_FAILED);
	cr_assert_eq(committed("g"), 1, "the commit did not happen");
	vs_response r = offset_fetch(fd, "t");
	cr_assert_eq(r.offset_fetch.error_code, KE_GROUP_AUTHORIZATION_FAILED);
	cr_assert_eq(r.offset_fetch.topics.v[0].partitions.v[0].committed_offset, -1, "no offset");
	vs_request q = { 0 };
	q.find_coordinator.key = bt_s("g");
	bt_call(&t, fd, VS_API_FIND_COORDINATOR, 1, &q, &r);
	cr_assert_eq(r.find_coordinator.error_code, KE_GROUP_AUTHORIZATION_FAILED);
	cr_assert_eq(r.find_coordinator.node_id, -1);
	r = join(fd, "g");
	cr_assert_eq(r.join_group.error_code, KE_GROUP_AUTHORIZATION_FAILED);
	memset(&q, 0, sizeof q);
	q.sync_group.group_id = bt_s("g");
	q.sync_group.member_id = bt_s("m");
	bt_call(&t, fd, VS_API_SYNC_GROUP, 1, &q, &r);
	cr_assert_eq(r.sync_group.error_code, KE_GROUP_AUTHORIZATION_FAILED);
	memset(&q, 0, sizeof q);
	q.heartbeat.group_id = bt_s("g");
	q.heartbeat.member_id = bt_s("m");
	bt_call(&t, fd, VS_API_HEARTBEAT, 1, &q, &r);
	cr_assert_eq(r.heartbeat.error_code, KE_GROUP_AUTHORIZATION_FAILED);
	memset(&q, 0, sizeof q);
	q.leave_group.group_id = bt_s("g");
	q.leave_group.member_id = bt_s("m");
	bt_call(&t, fd, VS_API_LEAVE_GROUP, 1, &q, &r);
	cr_assert_eq(r.leave_group.error_code, KE_GROUP_AUTHORIZATION_FAILED);
	r = describe_group(fd, "g", true);
	cr_assert_eq(r.describe_groups.groups.v[0].error_code, KE_GROUP_AUTHORIZATION_FAILED);
	cr_assert_eq(r.describe_groups.groups.v[0].group_state.len, 0, "no state");
	r = list_groups(fd);
	cr_assert_eq(r.list_groups.error_code, 0);
	cr_assert_eq(r.list_groups.groups.n, 0, "g is hidden");
	cr_assert_eq(delete_group(fd, "g"), KE_GROUP_AUTHORIZATION_FAILED);
	cr_assert_eq(committed("g"), 1, "the group is still there");
	close(fd);
}

Test(refused, topic_administration)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	cr_assert_eq(create_topic(fd, "c1"), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert(!topic_exists("c1"));
	cr_assert_eq(delete_topic(fd, "t"), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(delete_topic(fd, "nope"), KE_TOPIC_AUTHORIZATION_FAILED, "existence not told");
	cr_assert(topic_exists("t"));
	cr_assert_eq(delete_records(fd, "t", 2), KE_TOPIC_AUTHORIZATION_FAILED);
	int64_t start = -1;
	cr_assert_eq(varve_offsets(t.db, "t", 0, &start, NULL), 0);
	cr_assert_eq(start, 0, "no record deleted");
	cr_assert_eq(create_partitions(fd, "t", 4), KE_TOPIC_AUTHORIZATION_FAILED);
	varve_topic_config cfg = { VARVE_TOPIC_CONFIG_VERSION };
	cr_assert_eq(varve_topic_describe(t.db, "t", &cfg), 0);
	cr_assert_eq(cfg.partitions, 2);
	close(fd);
}

Test(refused, configs)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	vs_response r = describe_configs(fd, 2, "t");
	cr_assert_eq(r.describe_configs.results.v[0].error_code, KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(r.describe_configs.results.v[0].configs.n, 0, "no configs");
	r = describe_configs(fd, 4, "0");
	cr_assert_eq(r.describe_configs.results.v[0].error_code, KE_CLUSTER_AUTHORIZATION_FAILED);
	cr_assert_eq(r.describe_configs.results.v[0].configs.n, 0);
	int64_t before = retention_ms("t");
	cr_assert_eq(alter_configs(fd, VS_API_ALTER_CONFIGS, "t"), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(alter_configs(fd, VS_API_INCREMENTAL_ALTER_CONFIGS, "t"),
		     KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(retention_ms("t"), before);
	close(fd);
}

Test(refused, producer_ids_and_acl_apis)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	vs_response r = init_producer_id(fd);
	cr_assert_eq(r.init_producer_id.error_code, KE_CLUSTER_AUTHORIZATION_FAILED);
	cr_assert_eq(r.init_producer_id.producer_id, -1);
	r = describe_acls(fd, 1, VS_RES_ANY, VS_PAT_ANY, NULL);
	cr_assert_eq(r.describe_acls.error_code, KE_CLUSTER_AUTHORIZATION_FAILED);
	cr_assert_eq(r.describe_acls.resources.n, 0, "no ACL shown");
	vs_acl_creation c = creation(VS_PERM_ALLOW, ME, VS_OP_ALL, VS_RES_TOPIC, VS_PAT_LITERAL, "*");
	r = create_acls(fd, 1, &c, 1);
	cr_assert_eq(r.create_acls.results.v[0].error_code, KE_CLUSTER_AUTHORIZATION_FAILED);
	vs_delete_acls_filter f = any_filter();
	r = delete_acls(fd, 1, &f, 1);
	cr_assert_eq(r.delete_acls.filter_results.v[0].error_code, KE_CLUSTER_AUTHORIZATION_FAILED);
	cr_assert_eq(r.delete_acls.filter_results.v[0].matching_acls.n, 0);
	cr_assert_eq(file_acls(), 3, "the file is unchanged");
	close(fd);
}

/* ---- granted: the grant each API needs ----------------------------------------------------- */

TestSuite(granted, .init = setup, .fini = teardown);

Test(granted, no_acl_file_means_everything_is_allowed)
{
	int fd = bt_connect(&t);
	cr_assert_eq(produce(fd, "t", 0), KE_NONE);
	cr_assert_eq(create_topic(fd, "c1"), KE_NONE);
	cr_assert_eq(init_producer_id(fd).init_producer_id.error_code, KE_NONE);
	vs_response r = describe_acls(fd, 1, VS_RES_ANY, VS_PAT_ANY, NULL);
	cr_assert_eq(r.describe_acls.error_code, KE_NONE);
	cr_assert_eq(r.describe_acls.resources.n, 0);
	close(fd);
}

Test(granted, metadata_with_describe_and_auto_creation_with_create)
{
	acls(OTHER_ONLY "allow " ME " * describe topic literal t\n"
			"allow " ME " * describe topic prefixed new\n"
			"allow " ME " * create topic literal new1\n");
	int fd = bt_connect(&t);
	vs_response r = metadata(fd, NULL, true);
	cr_assert_eq(r.metadata.topics.n, 1, "only t is listed");
	cr_assert(bt_is(r.metadata.topics.v[0].name, "t"));
	r = metadata(fd, "t", true);
	cr_assert_eq(r.metadata.topics.v[0].error_code, 0);
	cr_assert_eq(r.metadata.topics.v[0].partitions.n, 2);
	r = metadata(fd, "new1", true);
	cr_assert_eq(r.metadata.topics.v[0].error_code, 0);
	cr_assert(topic_exists("new1"), "created with CREATE on the topic");
	r = metadata(fd, "new2", true);
	cr_assert_eq(r.metadata.topics.v[0].error_code, KE_TOPIC_AUTHORIZATION_FAILED,
		     "DESCRIBE without CREATE");
	cr_assert(!topic_exists("new2"));
	close(fd);
	acls(OTHER_ONLY "allow " ME " * describe topic prefixed new\n"
			"allow " ME " * create cluster literal kafka-cluster\n");
	fd = bt_connect(&t);
	r = metadata(fd, "new2", true);
	cr_assert_eq(r.metadata.topics.v[0].error_code, 0);
	cr_assert(topic_exists("new2"), "created with CREATE on the cluster");
	close(fd);
}

Test(granted, data_apis)
{
	acls(OTHER_ONLY "allow " ME " * write topic literal t\n"
			"allow " ME " * read topic literal u\n");
	int fd = bt_connect(&t);
	cr_assert_eq(produce(fd, "t", 0), KE_NONE);
	cr_assert_eq(end_offset("t", 0), 4);
	size_t bytes = 0;
	cr_assert_eq(fetch(fd, "t", &bytes), KE_TOPIC_AUTHORIZATION_FAILED, "WRITE is not READ");
	cr_assert_eq(produce(fd, "u", 0), KE_TOPIC_AUTHORIZATION_FAILED, "READ is not WRITE");
	int64_t off;
	cr_assert_eq(list_offsets(fd, "t", &off), KE_NONE, "WRITE implies DESCRIBE");
	cr_assert_eq(off, 4);
	cr_assert_eq(list_offsets(fd, "u", &off), KE_NONE, "READ implies DESCRIBE");
	cr_assert_eq(init_producer_id(fd).init_producer_id.error_code, KE_NONE,
		     "WRITE on some topic lets an idempotent producer start");
	close(fd);
	acls(OTHER_ONLY "allow " ME " * read topic literal t\n");
	fd = bt_connect(&t);
	cr_assert_eq(fetch(fd, "t", &bytes), KE_NONE);
	cr_assert(bytes > 0, "records");
	cr_assert_eq(init_producer_id(fd).init_producer_id.error_code, KE_CLUSTER_AUTHORIZATION_FAILED);
	close(fd);
	acls(OTHER_ONLY "allow " ME " * idempotent_write cluster literal kafka-cluster\n");
	fd = bt_connect(&t);
	cr_assert_eq(init_producer_id(fd).init_producer_id.error_code, KE_NONE);
	close(fd);
}

Test(granted, group_apis)
{
	acls(OTHER_ONLY "allow " ME " * read group literal g\n"
			"allow " ME " * read topic literal t\n");
	int fd = bt_connect(&t);
	cr_assert_eq(commit(fd, "g", "t", 2), KE_NONE);
	cr_assert_eq(committed("g"), 2);
	cr_assert_eq(commit(fd, "g", "u", 0), KE_TOPIC_AUTHORIZATION_FAILED, "READ on the group only");
	vs_response r = offset_fetch(fd, "t");
	cr_assert_eq(r.offset_fetch.error_code, 0, "READ implies DESCRIBE");
	cr_assert_eq(r.offset_fetch.topics.v[0].partitions.v[0].committed_offset, 2);
	r = join(fd, "g");
	cr_assert_eq(r.join_group.error_code, 0);
	vs_request q = { 0 };
	q.find_coordinator.key = bt_s("g");
	bt_call(&t, fd, VS_API_FIND_COORDINATOR, 1, &q, &r);
	cr_assert_eq(r.find_coordinator.error_code, 0);
	r = describe_group(fd, "g", true);
	cr_assert_eq(r.describe_groups.groups.v[0].error_code, 0);
	cr_assert_eq(r.describe_groups.groups.v[0].authorized_operations,
		     (1 << VS_OP_READ) | (1 << VS_OP_DESCRIBE), "READ and the DESCRIBE it implies");
	cr_assert_eq(delete_group(fd, "g"), KE_GROUP_AUTHORIZATION_FAILED, "READ is not DELETE");
	close(fd);
}

Test(granted, offset_fetch_filters_topics)
{
	cr_assert_eq(varve_group_commit(t.db, "g", "u", 0, 0, NULL), 0);
	acls(OTHER_ONLY "allow " ME " * describe group literal g\n"
			"allow " ME " * describe topic literal u\n");
	int fd = bt_connect(&t);
	vs_response r = offset_fetch(fd, "t");
	cr_assert_eq(r.offset_fetch.error_code, 0);
	vs_offset_fetch_partition_response *p = &r.offset_fetch.topics.v[0].partitions.v[0];
	cr_assert_eq(p->error_code, KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(p->committed_offset, -1, "t's offset is not told");
	r = offset_fetch(fd, NULL);
	cr_assert_eq(r.offset_fetch.topics.n, 1, "every commit: only the topics it may see");
	cr_assert(bt_is(r.offset_fetch.topics.v[0].name, "u"));
	close(fd);
}

Test(granted, list_and_delete_groups)
{
	cr_assert_eq(varve_group_commit(t.db, "team-a.x", "t", 0, 0, NULL), 0);
	cr_assert_eq(varve_group_commit(t.db, "team-b", "t", 0, 0, NULL), 0);
	acls(OTHER_ONLY "allow " ME " * delete group prefixed team-a.\n");
	int fd = bt_connect(&t);
	vs_response r = list_groups(fd);
	cr_assert_eq(r.list_groups.groups.n, 1, "DELETE implies DESCRIBE: team-a.x only");
	cr_assert(bt_is(r.list_groups.groups.v[0].group_id, "team-a.x"));
	cr_assert_eq(delete_group(fd, "team-a.x"), KE_NONE);
	cr_assert_eq(delete_group(fd, "team-b"), KE_GROUP_AUTHORIZATION_FAILED);
	close(fd);
	acls(OTHER_ONLY "allow " ME " * describe cluster literal kafka-cluster\n");
	fd = bt_connect(&t);
	r = list_groups(fd);
	cr_assert_eq(r.list_groups.groups.n, 2, "DESCRIBE on the cluster lists every group");
	close(fd);
}

Test(granted, topic_administration)
{
	acls(OTHER_ONLY "allow " ME " * create topic literal c1\n"
			"allow " ME " * delete topic literal u\n"
			"allow " ME " * delete topic literal t\n"
			"allow " ME " * alter topic literal t\n");
	int fd = bt_connect(&t);
	cr_assert_eq(create_topic(fd, "c1"), KE_NONE);
	cr_assert_eq(create_topic(fd, "c2"), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(delete_records(fd, "t", 2), KE_NONE);
	int64_t start = -1;
	cr_assert_eq(varve_offsets(t.db, "t", 0, &start, NULL), 0);
	cr_assert_eq(start, 2);
	cr_assert_eq(create_partitions(fd, "t", 3), KE_NONE);
	cr_assert_eq(delete_topic(fd, "u"), KE_NONE);
	cr_assert(!topic_exists("u"));
	close(fd);
	acls(OTHER_ONLY "allow " ME " * create cluster literal kafka-cluster\n");
	fd = bt_connect(&t);
	cr_assert_eq(create_topic(fd, "c2"), KE_NONE, "CREATE on the cluster: any topic");
	close(fd);
}

Test(granted, configs)
{
	acls(OTHER_ONLY "allow " ME " * alter_configs topic literal t\n"
			"allow " ME " * describe_configs cluster literal kafka-cluster\n");
	int fd = bt_connect(&t);
	vs_response r = describe_configs(fd, 2, "t");
	cr_assert_eq(r.describe_configs.results.v[0].error_code, 0, "ALTER_CONFIGS implies DESCRIBE_CONFIGS");
	cr_assert(r.describe_configs.results.v[0].configs.n > 0);
	r = describe_configs(fd, 4, "0");
	cr_assert_eq(r.describe_configs.results.v[0].error_code, 0);
	cr_assert_eq(alter_configs(fd, VS_API_INCREMENTAL_ALTER_CONFIGS, "t"), KE_NONE);
	cr_assert_eq(retention_ms("t"), 60000);
	cr_assert_eq(alter_configs(fd, VS_API_ALTER_CONFIGS, "u"), KE_TOPIC_AUTHORIZATION_FAILED);
	close(fd);
}

/* ---- the model through the broker ---------------------------------------------------------- */

TestSuite(model, .init = setup, .fini = teardown);

Test(model, prefixes_deny_and_hosts)
{
	acls("allow " ME " * all topic prefixed t\n"
	     "deny " ME " * write topic literal t\n");
	int fd = bt_connect(&t);
	size_t bytes;
	cr_assert_eq(fetch(fd, "t", &bytes), KE_NONE, "the prefix allows");
	cr_assert_eq(produce(fd, "t", 0), KE_TOPIC_AUTHORIZATION_FAILED, "the deny wins");
	cr_assert_eq(fetch(fd, "u", &bytes), KE_TOPIC_AUTHORIZATION_FAILED, "u is not under t");
	close(fd);
	acls("allow " ME " 10.0.0.1 read topic literal t\n");
	fd = bt_connect(&t);
	cr_assert_eq(fetch(fd, "t", &bytes), KE_TOPIC_AUTHORIZATION_FAILED, "another host");
	close(fd);
	acls("allow " ME " 127.0.0.1 read topic literal t\n");
	fd = bt_connect(&t);
	cr_assert_eq(fetch(fd, "t", &bytes), KE_NONE, "this client's address");
	close(fd);
	acls("allow User:* * read topic literal t\n"
	     "deny User:* 127.0.0.1 read topic literal t\n");
	fd = bt_connect(&t);
	cr_assert_eq(fetch(fd, "t", &bytes), KE_TOPIC_AUTHORIZATION_FAILED, "denied from here");
	close(fd);
}

static void super_setup(void)
{
	supers[0] = ME;
	nsupers = 1;
	setup();
}

TestSuite(supers, .init = super_setup, .fini = teardown);

Test(supers, bypass_every_acl)
{
	acls(OTHER_ONLY "deny " ME " * all topic literal *\n");
	int fd = bt_connect(&t);
	cr_assert_eq(produce(fd, "t", 0), KE_NONE);
	vs_acl_creation c = creation(VS_PERM_ALLOW, OTHER, VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "x");
	vs_response r = create_acls(fd, 1, &c, 1);
	cr_assert_eq(r.create_acls.results.v[0].error_code, 0);
	close(fd);
}

/* ---- reload ------------------------------------------------------------------------------------- */

TestSuite(reload, .init = setup, .fini = teardown);

Test(reload, old_connection_sees_a_change_within_seconds)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	size_t bytes;
	cr_assert_eq(fetch(fd, "t", &bytes), KE_TOPIC_AUTHORIZATION_FAILED);
	acls(OTHER_ONLY "allow " ME " * read topic literal t\n");
	int16_t err = -1;
	for (int i = 0; i < 100 && err != KE_NONE; i++) {
		err = fetch(fd, "t", &bytes);
		if (err != KE_NONE)
			usleep(50 * 1000);
	}
	cr_assert_eq(err, KE_NONE, "the grant was not seen within 5 s");
	close(fd);
}

Test(reload, a_bad_file_keeps_the_acls_in_force)
{
	acls(OTHER_ONLY "allow " ME " * read topic literal t\n");
	int fd = bt_connect(&t);
	size_t bytes;
	cr_assert_eq(fetch(fd, "t", &bytes), KE_NONE);
	close(fd);
	FILE *f = fopen(acl_path, "w");
	cr_assert(f);
	fputs("allow " ME " * all topic literal *\nthis is not an ACL\n", f);
	fclose(f);
	fd = bt_connect(&t);
	cr_assert_eq(fetch(fd, "t", &bytes), KE_NONE, "the old grant stays");
	cr_assert_eq(produce(fd, "t", 0), KE_TOPIC_AUTHORIZATION_FAILED,
		     "the bad file's grant is not taken");
	close(fd);
	cr_assert_eq(log_count("ACL file not reloaded"), 1);
	cr_assert(log_count("line 2"), "the warning says where");
	char *body;
	cr_assert_eq(bt_http_get(&t, "/metrics", &body), 200);
	cr_assert(strstr(body, "\nvarve_kafka_acl_reload_failures_total 1\n"), "%s", body);
	cr_assert(strstr(body, "\nvarve_kafka_acls 4\n"));
	free(body);
	unlink(acl_path);
	fd = bt_connect(&t);
	cr_assert_eq(produce(fd, "t", 0), KE_NONE, "no file: no ACL, everything allowed");
	close(fd);
}

static void no_file_setup(void)
{
	no_file = true;
	setup();
}

TestSuite(nofile, .init = no_file_setup, .fini = teardown);

Test(nofile, the_acl_apis_are_disabled)
{
	int fd = bt_connect(&t);
	vs_response r = describe_acls(fd, 1, VS_RES_ANY, VS_PAT_ANY, NULL);
	cr_assert_eq(r.describe_acls.error_code, KE_SECURITY_DISABLED);
	vs_acl_creation c = creation(VS_PERM_ALLOW, ME, VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "x");
	r = create_acls(fd, 1, &c, 1);
	cr_assert_eq(r.create_acls.results.v[0].error_code, KE_SECURITY_DISABLED);
	vs_delete_acls_filter f = any_filter();
	r = delete_acls(fd, 1, &f, 1);
	cr_assert_eq(r.delete_acls.filter_results.v[0].error_code, KE_SECURITY_DISABLED);
	cr_assert_eq(produce(fd, "t", 0), KE_NONE);
	close(fd);
}

/* ---- the ACL APIs ------------------------------------------------------------------------------- */

TestSuite(apis, .init = setup, .fini = teardown);

Test(apis, create_describe_delete)
{
	int fd = bt_connect(&t);
	vs_acl_creation c[] = {
		creation(VS_PERM_ALLOW, ME, VS_OP_ALTER, VS_RES_CLUSTER, VS_PAT_LITERAL, "kafka-cluster"),
		creation(VS_PERM_ALLOW, ME, VS_OP_DESCRIBE, VS_RES_CLUSTER, VS_PAT_LITERAL, "kafka-cluster"),
		creation(VS_PERM_ALLOW, OTHER, VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "orders"),
		creation(VS_PERM_ALLOW, OTHER, VS_OP_WRITE, VS_RES_TOPIC, VS_PAT_LITERAL, "orders"),
		creation(VS_PERM_DENY, OTHER, VS_OP_READ, VS_RES_TOPIC, VS_PAT_PREFIXED, "ord"),
		creation(VS_PERM_ALLOW, OTHER, VS_OP_READ, VS_RES_GROUP, VS_PAT_LITERAL, "orders"),
		creation(VS_PERM_ALLOW, OTHER, VS_OP_WRITE, VS_RES_GROUP, VS_PAT_LITERAL, "g"),
		creation(VS_PERM_ALLOW, "nobody", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "x"),
		creation(VS_PERM_ALLOW, OTHER, VS_OP_READ, VS_RES_TRANSACTIONAL_ID, VS_PAT_LITERAL, "x"),
		creation(VS_PERM_ALLOW, OTHER, VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "orders"),
	};
	vs_response r = create_acls(fd, 1, c, 10);
	int16_t want[] = { 0, 0, 0, 0, 0, 0, KE_INVALID_REQUEST, KE_INVALID_REQUEST,
			   KE_INVALID_REQUEST, 0 };
	for (int i = 0; i < 10; i++)
		cr_assert_eq(r.create_acls.results.v[i].error_code, want[i], "creation %d", i);
	cr_assert(r.create_acls.results.v[6].error_message.len > 0, "a reason is given");
	cr_assert_eq(file_acls(), 6, "the file holds the six (a repeat is kept once)");
	close(fd);
	fd = bt_connect(&t);
	r = describe_acls(fd, 1, VS_RES_ANY, VS_PAT_ANY, NULL);
	cr_assert_eq(r.describe_acls.error_code, 0);
	cr_assert_eq(r.describe_acls.resources.n, 4, "topic orders, topic ord*, group orders, cluster");
	vs_describe_acls_resource *res = &r.describe_acls.resources.v[0];
	cr_assert_eq(res->resource_type, VS_RES_TOPIC);
	cr_assert(bt_is(res->resource_name, "orders"));
	cr_assert_eq(res->pattern_type, VS_PAT_LITERAL);
	cr_assert_eq(res->acls.n, 2);
	cr_assert(bt_is(res->acls.v[0].principal, OTHER) && bt_is(res->acls.v[0].host, "*"));
	r = describe_acls(fd, 1, VS_RES_TOPIC, VS_PAT_MATCH, "orders");
	cr_assert_eq(r.describe_acls.resources.n, 2, "what applies to topic orders");
	r = describe_acls(fd, 0, VS_RES_TOPIC, VS_PAT_LITERAL, NULL);
	cr_assert_eq(r.describe_acls.resources.n, 1, "v0 sees literal patterns only");
	r = describe_acls(fd, 1, VS_RES_UNKNOWN, VS_PAT_ANY, NULL);
	cr_assert_eq(r.describe_acls.error_code, KE_INVALID_REQUEST);
	vs_delete_acls_filter f[2] = { any_filter(), any_filter() };
	f[0].resource_type_filter = VS_RES_TOPIC;
	f[0].operation = VS_OP_READ;
	f[1].pattern_type_filter = VS_PAT_PREFIXED;
	r = delete_acls(fd, 1, f, 2);
	vs_delete_acls_filter_result *fr = r.delete_acls.filter_results.v;
	cr_assert_eq(fr[0].error_code, 0);
	cr_assert_eq(fr[0].matching_acls.n, 2, "read on orders, the prefixed deny");
	cr_assert_eq(fr[1].matching_acls.n, 1, "the prefixed deny, reported for both filters");
	cr_assert(bt_is(fr[1].matching_acls.v[0].resource_name, "ord"));
	cr_assert_eq(fr[1].matching_acls.v[0].permission_type, VS_PERM_DENY);
	cr_assert_eq(file_acls(), 4);
	f[0] = any_filter();
	f[0].operation = VS_OP_UNKNOWN;
	r = delete_acls(fd, 0, f, 1);
	cr_assert_eq(r.delete_acls.filter_results.v[0].error_code, KE_INVALID_REQUEST);
	close(fd);
}

Test(apis, created_acls_apply_at_once)
{
	int fd = bt_connect(&t);
	vs_acl_creation c[] = {
		creation(VS_PERM_ALLOW, OTHER, VS_OP_ALL, VS_RES_TOPIC, VS_PAT_LITERAL, "*"),
		creation(VS_PERM_ALLOW, ME, VS_OP_ALTER, VS_RES_CLUSTER, VS_PAT_LITERAL, "kafka-cluster"),
	};
	vs_response r = create_acls(fd, 0, c, 2);
	cr_assert_eq(r.create_acls.results.v[0].error_code, 0);
	size_t bytes;
	cr_assert_eq(fetch(fd, "t", &bytes), KE_TOPIC_AUTHORIZATION_FAILED, "the same connection");
	vs_delete_acls_filter f = any_filter();
	f.principal_filter = bt_s(OTHER);
	r = delete_acls(fd, 0, &f, 1);
	cr_assert_eq(r.delete_acls.filter_results.v[0].matching_acls.n, 1);
	r = describe_acls(fd, 1, VS_RES_ANY, VS_PAT_ANY, NULL);
	cr_assert_eq(r.describe_acls.error_code, 0, "ALTER on the cluster implies DESCRIBE");
	cr_assert_eq(r.describe_acls.resources.n, 1, "only the cluster's ACL is left");
	close(fd);
}

/* ---- counted and logged -------------------------------------------------------------------------- */

TestSuite(counted, .init = setup, .fini = teardown);

static uint64_t metric(const char *sample)
{
	char *body;
	cr_assert_eq(bt_http_get(&t, "/metrics", &body), 200);
	const char *p = strstr(body, sample);
	uint64_t v = 0;
	if (p)
		v = strtoull(p + strlen(sample), NULL, 10);
	free(body);
	return v;
}

Test(counted, refusals_are_counted_each_time_and_logged_once)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(produce(fd, "t", 0), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(commit(fd, "g", "t", 2), KE_GROUP_AUTHORIZATION_FAILED);
	cr_assert_eq(
		metric("varve_kafka_authorization_failures_total{api=\"Produce\",resource_type=\"topic\"} "),
		3);
	cr_assert_eq(metric("varve_kafka_authorization_failures_total{api=\"OffsetCommit\","
			    "resource_type=\"group\"} "),
		     1);
	cr_assert_eq(log_count("on topic \"t\" (Produce)"), 1, "logged once, not per request");
	cr_assert_eq(log_count(ME " (127.0.0.1:"), 2, "one line per principal and resource");
	size_t b;
	cr_assert_eq(fetch(fd, "t", &b), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(log_count("on topic \"t\""), 1, "the same resource through another API");
	close(fd);
	acls(OTHER_ONLY "allow " ME " * read topic literal u\n");
	fd = bt_connect(&t);
	cr_assert_eq(produce(fd, "t", 0), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(log_count("on topic \"t\" (Produce)"), 2, "logged again after an ACL change");
	close(fd);
}

Test(counted, hostile_names_are_escaped_in_the_log)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	cr_assert_eq(produce(fd, "evil\n\"name", 0), KE_TOPIC_AUTHORIZATION_FAILED);
	cr_assert_eq(log_count("\"evil\\x0a\\x22name\""), 1);
	close(fd);
}

static int16_t varve_clean(int fd)
{
	vs_request q = { 0 };
	vs_response r;
	bt_call(&t, fd, VS_API_VARVE_CLEAN, 0, &q, &r);
	return r.varve_clean.error_code;
}

/* varve's own VarveClean (`varve clean` through a server) is an
 * administrator's: ALTER on the cluster. Its refusals are counted under
 * its own name, not under the Kafka API whose key shares its row. */
Test(counted, varve_clean_needs_alter_on_the_cluster)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	cr_assert_eq(varve_clean(fd), KE_CLUSTER_AUTHORIZATION_FAILED);
	cr_assert_eq(metric("varve_kafka_authorization_failures_total{api=\"VarveClean\","
			    "resource_type=\"cluster\"} "),
		     1);
	cr_assert_eq(metric("{api=\"DescribeClientQuotas\""), 0);
	cr_assert_eq(log_count("on cluster \"kafka-cluster\" (VarveClean)"), 1);
	close(fd);
	acls(OTHER_ONLY "allow " ME " * alter cluster literal kafka-cluster\n");
	fd = bt_connect(&t);
	cr_assert_eq(varve_clean(fd), KE_NONE);
	close(fd);
}

/* SIGHUP (vs_broker_reload) reads a changed ACL file at once, without
 * waiting for a request: the reload is counted with no Kafka request sent
 * after the change. */
Test(reload, sighup_reads_a_changed_file)
{
	acls(OTHER_ONLY);
	int fd = bt_connect(&t);
	size_t bytes;
	cr_assert_eq(fetch(fd, "t", &bytes), KE_TOPIC_AUTHORIZATION_FAILED);
	uint64_t before = metric("\nvarve_kafka_acl_reloads_total ");
	acls(OTHER_ONLY "allow " ME " * read topic literal t\n");
	vs_broker_reload(t.b);
	uint64_t reloads = before;
	for (int i = 0; i < 100 && reloads == before; i++) {
		reloads = metric("\nvarve_kafka_acl_reloads_total ");
		if (reloads == before)
			usleep(50 * 1000);
	}
	cr_assert_eq(reloads, before + 1, "SIGHUP did not read the file within 5 s");
	cr_assert_eq(fetch(fd, "t", &bytes), KE_NONE, "the old connection has the grant");
	close(fd);
}
