/* SPDX-License-Identifier: MIT */
/*
 * test_acl.c -- the ACL model, matcher and file (server/security/acl.c),
 * without a broker: names and the operations each resource type has; what
 * an ACL may be; Kafka's decision (no ACL allows all, deny beats allow,
 * implied operations, literal, wildcard and prefixed names, principals and
 * hosts); "some topic" for InitProducerId; Kafka's filters; sets; the file's
 * text (round trip of hostile bytes, every parse error with its line); the
 * file on disk (mode 0600, stamps, a missing file) and the writers' lock
 * (concurrent editors lose nothing).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "security/acl.h"

static vs_slice S(const char *z)
{
	return (vs_slice){ (const uint8_t *)z, strlen(z) };
}

static vs_acl_binding B(int perm, const char *principal, const char *host, int op, int type,
			int pattern, const char *name)
{
	return (vs_acl_binding){ (int8_t)type, (int8_t)pattern, S(name), S(principal), S(host),
				 (int8_t)op, (int8_t)perm };
}

/* A set from "PERMISSION PRINCIPAL HOST OPERATION RESOURCE PATTERN NAME" lines. */
static void set_of(vs_acl_set *s, const char *text)
{
	char msg[256] = "";
	int rc = vs_acl_parse(text, strlen(text), s, msg, sizeof msg);
	cr_assert_eq(rc, 0, "parse: %s", msg);
}

static vs_acl_addr addr(const char *a)
{
	vs_acl_addr out;
	cr_assert_eq(vs_acl_addr_parse(a, strlen(a), &out), 0, "address %s", a);
	return out;
}

static bool may(const vs_acl_set *s, const char *principal, const char *host, int op, int type,
		const char *name)
{
	vs_acl_addr h = addr(host);
	return vs_acl_authorize(s, principal, &h, op, type, (const uint8_t *)name, strlen(name));
}

#define ME "User:alice"
#define LOCAL "127.0.0.1"

/* ---- names ------------------------------------------------------------------------- */

Test(names, every_value_round_trips_and_parsing_is_loose)
{
	for (int op = VS_OP_ANY; op <= VS_OP_DESCRIBE_TOKENS; op++)
		cr_assert_eq(vs_acl_op_parse(vs_acl_op_name(op)), op, "op %d", op);
	for (int t = VS_RES_ANY; t <= VS_RES_USER; t++)
		cr_assert_eq(vs_acl_resource_parse(vs_acl_resource_name(t)), t);
	for (int p = VS_PAT_ANY; p <= VS_PAT_PREFIXED; p++)
		cr_assert_eq(vs_acl_pattern_parse(vs_acl_pattern_name(p)), p);
	for (int p = VS_PERM_ANY; p <= VS_PERM_ALLOW; p++)
		cr_assert_eq(vs_acl_permission_parse(vs_acl_permission_name(p)), p);
	cr_assert_eq(vs_acl_op_parse("DescribeConfigs"), VS_OP_DESCRIBE_CONFIGS);
	cr_assert_eq(vs_acl_op_parse("describe-configs"), VS_OP_DESCRIBE_CONFIGS);
	cr_assert_eq(vs_acl_op_parse("IDEMPOTENT_WRITE"), VS_OP_IDEMPOTENT_WRITE);
	cr_assert_eq(vs_acl_resource_parse("Topic"), VS_RES_TOPIC);
	cr_assert_eq(vs_acl_op_parse("unknown"), -1);
	cr_assert_eq(vs_acl_op_parse("reads"), -1);
	cr_assert_eq(vs_acl_op_parse(""), -1);
	cr_assert_str_eq(vs_acl_op_name(99), "unknown");
	cr_assert_str_eq(vs_acl_op_name(-3), "unknown");
}

Test(names, operations_per_resource_type_are_kafkas)
{
	int topic[] = { VS_OP_ALL, VS_OP_READ, VS_OP_WRITE, VS_OP_CREATE, VS_OP_DELETE, VS_OP_ALTER,
			VS_OP_DESCRIBE, VS_OP_DESCRIBE_CONFIGS, VS_OP_ALTER_CONFIGS };
	int group[] = { VS_OP_ALL, VS_OP_READ, VS_OP_DESCRIBE, VS_OP_DELETE };
	int cluster[] = { VS_OP_ALL, VS_OP_CREATE, VS_OP_ALTER, VS_OP_DESCRIBE, VS_OP_CLUSTER_ACTION,
			  VS_OP_DESCRIBE_CONFIGS, VS_OP_ALTER_CONFIGS, VS_OP_IDEMPOTENT_WRITE };
	int counts[3] = { 0, 0, 0 };
	for (int op = 0; op <= 20; op++) {
		counts[0] += vs_acl_op_applies(op, VS_RES_TOPIC);
		counts[1] += vs_acl_op_applies(op, VS_RES_GROUP);
		counts[2] += vs_acl_op_applies(op, VS_RES_CLUSTER);
		cr_assert(!vs_acl_op_applies(op, VS_RES_TRANSACTIONAL_ID));
	}
	cr_assert_eq(counts[0], 9);
	cr_assert_eq(counts[1], 4);
	cr_assert_eq(counts[2], 8);
	for (size_t i = 0; i < 9; i++)
		cr_assert(vs_acl_op_applies(topic[i], VS_RES_TOPIC));
	for (size_t i = 0; i < 4; i++)
		cr_assert(vs_acl_op_applies(group[i], VS_RES_GROUP));
	for (size_t i = 0; i < 8; i++)
		cr_assert(vs_acl_op_applies(cluster[i], VS_RES_CLUSTER));
}

/* ---- what an ACL may be -------------------------------------------------------------- */

static void refused(vs_acl_binding b, const char *why)
{
	char msg[256] = "";
	cr_assert_eq(vs_acl_binding_check(&b, msg, sizeof msg), -1, "accepted, expected: %s", why);
	cr_assert(strstr(msg, why), "message \"%s\" lacks \"%s\"", msg, why);
}

Test(check, valid_bindings_pass)
{
	vs_acl_binding ok[] = {
		B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "orders"),
		B(VS_PERM_DENY, "User:*", "10.1.2.3", VS_OP_ALL, VS_RES_GROUP, VS_PAT_PREFIXED, "g-"),
		B(VS_PERM_ALLOW, ME, "::1", VS_OP_ALTER, VS_RES_CLUSTER, VS_PAT_LITERAL, "kafka-cluster"),
		B(VS_PERM_ALLOW, "User:CN=a b,O=c", "fe80::1", VS_OP_IDEMPOTENT_WRITE, VS_RES_CLUSTER,
		  VS_PAT_LITERAL, "kafka-cluster"),
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		char msg[256] = "";
		cr_assert_eq(vs_acl_binding_check(&ok[i], msg, sizeof msg), 0, "%zu: %s", i, msg);
	}
}

Test(check, invalid_bindings_say_why)
{
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_WRITE, VS_RES_TRANSACTIONAL_ID, VS_PAT_LITERAL, "t"),
		"no transactional_id resources");
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_ANY, VS_PAT_LITERAL, "t"),
		"topic, group or cluster");
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_MATCH, "t"),
		"literal or prefixed");
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, ""),
		"resource name");
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_ALTER, VS_RES_CLUSTER, VS_PAT_LITERAL, "c"),
		"kafka-cluster");
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_ALTER, VS_RES_CLUSTER, VS_PAT_PREFIXED, "kafka-cluster"),
		"kafka-cluster");
	refused(B(VS_PERM_ALLOW, "alice", "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t"),
		"User:NAME");
	refused(B(VS_PERM_ALLOW, "User:", "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t"),
		"User:NAME");
	refused(B(VS_PERM_ALLOW, ME, "example.com", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t"),
		"IP address");
	refused(B(VS_PERM_ALLOW, ME, "", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t"), "host");
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_WRITE, VS_RES_GROUP, VS_PAT_LITERAL, "g"),
		"does not apply");
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_ANY, VS_RES_TOPIC, VS_PAT_LITERAL, "t"),
		"does not apply");
	refused(B(VS_PERM_ANY, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t"),
		"allow or deny");
	vs_acl_binding nul = B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t");
	nul.name = (vs_slice){ (const uint8_t *)"a\0b", 3 };
	refused(nul, "NUL");
	char long_name[VS_ACL_MAX_FIELD + 2];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = 0;
	refused(B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, long_name),
		"resource name");
	vs_acl_binding missing = B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t");
	missing.principal = VS_SLICE_NULL;
	refused(missing, "missing");
}

Test(check, filters_refuse_unknown_values_only)
{
	char msg[256];
	vs_acl_binding any = { VS_RES_ANY, VS_PAT_ANY, VS_SLICE_NULL, VS_SLICE_NULL, VS_SLICE_NULL,
			       VS_OP_ANY, VS_PERM_ANY };
	cr_assert_eq(vs_acl_filter_check(&any, msg, sizeof msg), 0);
	vs_acl_binding f = any;
	f.resource_type = VS_RES_UNKNOWN;
	cr_assert_eq(vs_acl_filter_check(&f, msg, sizeof msg), -1);
	f = any;
	f.pattern = 9;
	cr_assert_eq(vs_acl_filter_check(&f, msg, sizeof msg), -1);
	f = any;
	f.operation = VS_OP_UNKNOWN;
	cr_assert_eq(vs_acl_filter_check(&f, msg, sizeof msg), -1);
	f = any;
	f.permission = -1;
	cr_assert_eq(vs_acl_filter_check(&f, msg, sizeof msg), -1);
	cr_assert(strstr(msg, "permission"));
}

/* ---- deciding ----------------------------------------------------------------------- */

Test(decide, no_acl_at_all_allows_everything)
{
	vs_acl_set s;
	vs_acl_set_init(&s);
	cr_assert(may(&s, "User:anyone", "10.9.9.9", VS_OP_DELETE, VS_RES_TOPIC, "x"));
	cr_assert(may(&s, "User:anyone", "10.9.9.9", VS_OP_ALTER, VS_RES_CLUSTER, "kafka-cluster"));
	vs_acl_addr h = addr("10.9.9.9");
	cr_assert(vs_acl_authorize_any(&s, "User:anyone", &h, VS_OP_WRITE, VS_RES_TOPIC));
}

Test(decide, one_acl_denies_everything_it_does_not_allow)
{
	vs_acl_set s;
	set_of(&s, "allow User:alice * read topic literal orders\n");
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "orders"));
	cr_assert(!may(&s, ME, LOCAL, VS_OP_WRITE, VS_RES_TOPIC, "orders"), "another operation");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "orders2"), "another topic");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "order"), "a literal is no prefix");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "orders"), "another resource type");
	cr_assert(!may(&s, "User:bob", LOCAL, VS_OP_READ, VS_RES_TOPIC, "orders"), "another principal");
	cr_assert(!may(&s, "User:alice2", LOCAL, VS_OP_READ, VS_RES_TOPIC, "orders"));
	vs_acl_addr h = addr(LOCAL);
	const uint8_t nul_name[] = { 'o', 'r', 'd', 'e', 'r', 's', 0, 'x' };
	cr_assert(!vs_acl_authorize(&s, ME, &h, VS_OP_READ, VS_RES_TOPIC, nul_name, sizeof nul_name),
		  "a NUL byte does not end a name");
	vs_acl_set_free(&s);
}

Test(decide, implied_operations_are_kafkas)
{
	vs_acl_set s;
	set_of(&s, "allow User:alice * read topic literal r\n"
		   "allow User:alice * write topic literal w\n"
		   "allow User:alice * delete topic literal d\n"
		   "allow User:alice * alter topic literal a\n"
		   "allow User:alice * alter_configs topic literal ac\n"
		   "allow User:alice * describe topic literal desc\n"
		   "allow User:alice * all group literal g\n");
	const char *implies_describe[] = { "r", "w", "d", "a" };
	for (int i = 0; i < 4; i++)
		cr_assert(may(&s, ME, LOCAL, VS_OP_DESCRIBE, VS_RES_TOPIC, implies_describe[i]), "%s",
			  implies_describe[i]);
	cr_assert(may(&s, ME, LOCAL, VS_OP_DESCRIBE_CONFIGS, VS_RES_TOPIC, "ac"));
	cr_assert(!may(&s, ME, LOCAL, VS_OP_DESCRIBE, VS_RES_TOPIC, "ac"), "alter_configs: no describe");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "desc"), "describe implies nothing");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_WRITE, VS_RES_TOPIC, "r"), "read is not write");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_DESCRIBE_CONFIGS, VS_RES_TOPIC, "r"));
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "g"), "all");
	cr_assert(may(&s, ME, LOCAL, VS_OP_DELETE, VS_RES_GROUP, "g"), "all");
	vs_acl_set_free(&s);
}

Test(decide, deny_beats_allow)
{
	vs_acl_set s;
	set_of(&s, "allow User:* * all topic prefixed logs-\n"
		   "deny User:alice * write topic literal logs-audit\n"
		   "deny User:* 10.0.0.66 all topic prefixed logs-\n"
		   "deny User:alice * describe topic literal logs-x\n");
	cr_assert(may(&s, ME, LOCAL, VS_OP_WRITE, VS_RES_TOPIC, "logs-app"));
	cr_assert(!may(&s, ME, LOCAL, VS_OP_WRITE, VS_RES_TOPIC, "logs-audit"), "literal deny");
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "logs-audit"), "deny is per operation");
	cr_assert(may(&s, "User:bob", LOCAL, VS_OP_WRITE, VS_RES_TOPIC, "logs-audit"), "per principal");
	cr_assert(!may(&s, "User:bob", "10.0.0.66", VS_OP_READ, VS_RES_TOPIC, "logs-app"),
		  "deny from a host, for every user");
	cr_assert(may(&s, "User:bob", "10.0.0.67", VS_OP_READ, VS_RES_TOPIC, "logs-app"));
	/* Kafka: a DENY of DESCRIBE does not deny what implies it */
	cr_assert(!may(&s, ME, LOCAL, VS_OP_DESCRIBE, VS_RES_TOPIC, "logs-x"));
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "logs-x"));
	vs_acl_set_free(&s);
}

Test(decide, wildcards_and_prefixes)
{
	vs_acl_set s;
	set_of(&s, "allow User:alice * read topic literal *\n"
		   "allow User:alice * read group prefixed team-a.\n"
		   "allow User:alice * read group literal team-a\n");
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "anything"), "literal * is every topic");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "anything"), "but no group");
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "team-a.x"));
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "team-a."), "the prefix itself");
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "team-a"));
	cr_assert(!may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "team-ab"));
	cr_assert(!may(&s, ME, LOCAL, VS_OP_READ, VS_RES_GROUP, "team-"));
	vs_acl_set_free(&s);
}

Test(decide, principals)
{
	vs_acl_set s;
	set_of(&s, "allow User:* * read topic literal open\n"
		   "allow User:CN%3Dsvc,O%3Dexample * read topic literal tls\n");
	cr_assert(may(&s, "User:ANONYMOUS", LOCAL, VS_OP_READ, VS_RES_TOPIC, "open"));
	cr_assert(may(&s, "User:x", LOCAL, VS_OP_READ, VS_RES_TOPIC, "open"));
	cr_assert(!may(&s, "Group:x", LOCAL, VS_OP_READ, VS_RES_TOPIC, "open"), "User:* is users only");
	cr_assert(may(&s, "User:CN=svc,O=example", LOCAL, VS_OP_READ, VS_RES_TOPIC, "tls"));
	cr_assert(!may(&s, "User:CN=svc", LOCAL, VS_OP_READ, VS_RES_TOPIC, "tls"));
	cr_assert(!may(&s, "User:*", LOCAL, VS_OP_READ, VS_RES_TOPIC, "tls"));
	vs_acl_set_free(&s);
}

Test(decide, hosts_compare_as_addresses)
{
	vs_acl_set s;
	set_of(&s, "allow User:alice 0:0:0:0:0:0:0:1 read topic literal six\n"
		   "allow User:alice ::ffff:10.0.0.5 read topic literal mapped\n"
		   "allow User:alice 192.168.1.1 read topic literal four\n");
	cr_assert(may(&s, ME, "::1", VS_OP_READ, VS_RES_TOPIC, "six"), "the same address written longer");
	cr_assert(!may(&s, ME, "::2", VS_OP_READ, VS_RES_TOPIC, "six"));
	cr_assert(may(&s, ME, "10.0.0.5", VS_OP_READ, VS_RES_TOPIC, "mapped"), "IPv4-mapped");
	cr_assert(may(&s, ME, "192.168.1.1", VS_OP_READ, VS_RES_TOPIC, "four"));
	cr_assert(!may(&s, ME, "192.168.1.2", VS_OP_READ, VS_RES_TOPIC, "four"));
	vs_acl_addr peer;
	cr_assert_eq(vs_acl_addr_of_peer("[::1]:9092", &peer), 0);
	cr_assert(vs_acl_authorize(&s, ME, &peer, VS_OP_READ, VS_RES_TOPIC, (const uint8_t *)"six", 3));
	cr_assert_eq(vs_acl_addr_of_peer("192.168.1.1:40000", &peer), 0);
	cr_assert(vs_acl_authorize(&s, ME, &peer, VS_OP_READ, VS_RES_TOPIC, (const uint8_t *)"four", 4));
	cr_assert_eq(vs_acl_addr_of_peer("*:1", &peer), -1, "a peer is never the wildcard");
	cr_assert_eq(vs_acl_addr_of_peer("nonsense", &peer), -1);
	vs_acl_set_free(&s);
}

Test(decide, some_topic_for_idempotent_producers)
{
	vs_acl_addr h = addr(LOCAL);
	struct {
		const char *acls;
		bool want;
	} cases[] = {
		{ "allow User:alice * write topic literal t\n", true },
		{ "allow User:alice * write topic literal t\ndeny User:alice * write topic literal t\n", false },
		{ "allow User:alice * write topic literal t\ndeny User:alice * write topic literal u\n", true },
		{ "allow User:alice * all topic prefixed ab\ndeny User:* * write topic prefixed a\n", false },
		{ "allow User:alice * write topic prefixed a\ndeny User:alice * write topic prefixed ab\n", true },
		{ "allow User:alice * write topic literal *\ndeny User:alice * write topic literal x\n", true },
		{ "allow User:alice * write topic literal t\ndeny User:alice * all topic literal *\n", false },
		{ "allow User:alice * read topic literal t\n", false },
		{ "allow User:bob * write topic literal t\n", false },
		{ "allow User:alice 10.0.0.1 write topic literal t\n", false },
		{ "allow User:alice * write topic literal t\ndeny User:alice 10.0.0.1 write topic literal *\n", true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		vs_acl_set s;
		set_of(&s, cases[i].acls);
		cr_assert_eq(vs_acl_authorize_any(&s, ME, &h, VS_OP_WRITE, VS_RES_TOPIC), cases[i].want,
			     "case %zu: %s", i, cases[i].acls);
		vs_acl_set_free(&s);
	}
}

Test(decide, sorted_search_and_full_scan_agree)
{
	vs_acl_set s;
	set_of(&s, "allow User:alice * read topic literal orders\n"
		   "allow User:alice * write topic literal *\n"
		   "deny User:alice * write topic prefixed ord\n"
		   "allow User:* * describe topic prefixed o\n"
		   "allow User:alice * read topic prefixed orders-\n"
		   "deny User:* 10.0.0.1 read topic literal orders\n"
		   "allow User:alice * read group literal orders\n");
	/* more than the few a search would scan */
	for (int i = 0; i < 20; i++) {
		char line[100];
		snprintf(line, sizeof line, "allow User:u%d * read topic literal t%d\n", i, i);
		vs_acl_set more;
		set_of(&more, line);
		vs_acl_binding b = vs_acl_as_binding(&more.v[0]);
		cr_assert_eq(vs_acl_set_add(&s, &b), 0);
		vs_acl_set_free(&more);
	}
	vs_acl_set_sort(&s);
	cr_assert(s.sorted && s.n > 16);
	vs_acl_set scan = s;
	scan.sorted = false;
	const char *names[] = { "", "o", "or", "ord", "orders", "orders-", "orders-1", "p", "*", "zz" };
	const char *who[] = { ME, "User:bob" };
	const char *hosts[] = { LOCAL, "10.0.0.1" };
	int ops[] = { VS_OP_READ, VS_OP_WRITE, VS_OP_DESCRIBE, VS_OP_DELETE };
	int types[] = { VS_RES_TOPIC, VS_RES_GROUP };
	for (size_t n = 0; n < 10; n++)
		for (size_t w = 0; w < 2; w++)
			for (size_t h = 0; h < 2; h++)
				for (size_t o = 0; o < 4; o++)
					for (size_t t = 0; t < 2; t++)
						cr_assert_eq(may(&s, who[w], hosts[h], ops[o], types[t], names[n]),
							     may(&scan, who[w], hosts[h], ops[o], types[t], names[n]),
							     "%s %s %d %d \"%s\"", who[w], hosts[h], ops[o],
							     types[t], names[n]);
	cr_assert(may(&s, ME, LOCAL, VS_OP_READ, VS_RES_TOPIC, "orders-1"), "a prefixed grant");
	cr_assert(!may(&s, ME, LOCAL, VS_OP_WRITE, VS_RES_TOPIC, "orders"), "a prefixed deny");
	cr_assert(may(&s, ME, LOCAL, VS_OP_WRITE, VS_RES_TOPIC, "p"), "the wildcard");
	vs_acl_set_free(&s);
}

/* ---- filters and sets --------------------------------------------------------------- */

static size_t count_matches(const vs_acl_set *s, vs_acl_binding f)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += vs_acl_filter_matches(&f, &s->v[i]);
	return n;
}

static vs_acl_binding F(int type, int pattern, const char *name)
{
	return (vs_acl_binding){ (int8_t)type, (int8_t)pattern, name ? S(name) : VS_SLICE_NULL,
				 VS_SLICE_NULL, VS_SLICE_NULL, VS_OP_ANY, VS_PERM_ANY };
}

Test(filters, kafkas_pattern_filters)
{
	vs_acl_set s;
	set_of(&s, "allow User:alice * read topic literal orders\n"
		   "allow User:alice * read topic literal *\n"
		   "allow User:alice * read topic prefixed ord\n"
		   "allow User:alice * read topic prefixed orders-eu\n"
		   "deny User:bob 10.0.0.1 write topic literal other\n"
		   "allow User:alice * read group literal orders\n");
	cr_assert_eq(count_matches(&s, F(VS_RES_ANY, VS_PAT_ANY, NULL)), 6);
	cr_assert_eq(count_matches(&s, F(VS_RES_TOPIC, VS_PAT_ANY, NULL)), 5);
	cr_assert_eq(count_matches(&s, F(VS_RES_ANY, VS_PAT_ANY, "orders")), 2, "ANY: exact name");
	cr_assert_eq(count_matches(&s, F(VS_RES_TOPIC, VS_PAT_LITERAL, "orders")), 1);
	cr_assert_eq(count_matches(&s, F(VS_RES_TOPIC, VS_PAT_PREFIXED, "ord")), 1);
	cr_assert_eq(count_matches(&s, F(VS_RES_TOPIC, VS_PAT_PREFIXED, NULL)), 2);
	/* MATCH: what applies to topic orders: literal orders, literal *, prefixed ord */
	cr_assert_eq(count_matches(&s, F(VS_RES_TOPIC, VS_PAT_MATCH, "orders")), 3);
	cr_assert_eq(count_matches(&s, F(VS_RES_TOPIC, VS_PAT_MATCH, "orders-eu-1")), 3);
	vs_acl_binding f = F(VS_RES_ANY, VS_PAT_ANY, NULL);
	f.principal = S("User:bob");
	cr_assert_eq(count_matches(&s, f), 1);
	f.host = S("10.0.0.2");
	cr_assert_eq(count_matches(&s, f), 0, "hosts compare exactly");
	f = F(VS_RES_ANY, VS_PAT_ANY, NULL);
	f.operation = VS_OP_WRITE;
	cr_assert_eq(count_matches(&s, f), 1);
	f.operation = VS_OP_ANY;
	f.permission = VS_PERM_ALLOW;
	cr_assert_eq(count_matches(&s, f), 5);
	vs_acl_set_free(&s);
}

Test(sets, duplicates_sorting_contains_and_removal)
{
	vs_acl_set s;
	vs_acl_set_init(&s);
	vs_acl_binding a = B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_GROUP, VS_PAT_LITERAL, "g");
	vs_acl_binding b = B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t");
	cr_assert_eq(vs_acl_set_add(&s, &a), 0);
	cr_assert_eq(vs_acl_set_add(&s, &b), 0);
	cr_assert_eq(vs_acl_set_add(&s, &a), 0);
	cr_assert_eq(s.n, 3);
	vs_acl_set_sort(&s);
	cr_assert_eq(s.n, 2, "the duplicate goes");
	cr_assert_eq(s.v[0].resource_type, VS_RES_TOPIC, "topics sort first");
	cr_assert(vs_acl_set_contains(&s, &a));
	cr_assert(vs_acl_set_contains(&s, &b));
	vs_acl_binding c = a;
	c.operation = VS_OP_DELETE;
	cr_assert(!vs_acl_set_contains(&s, &c));
	vs_acl_binding f = F(VS_RES_GROUP, VS_PAT_ANY, NULL);
	cr_assert_eq(vs_acl_set_remove(&s, &f, 1), 1);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.v[0].name, "t");
	vs_acl_set empty;
	vs_acl_set_init(&empty);
	vs_acl_set_move(&s, &empty);
	cr_assert_eq(s.n, 0);
	vs_acl_set_free(&s);
}

/* ---- the file's text ------------------------------------------------------------------- */

Test(text, hostile_bytes_round_trip)
{
	const char *names[] = { "a b", "100%", "#not-a-comment", "tab\there", "new\nline",
				"\xc3\xa9t\xc3\xa9", "\x7f\x01", "%00", "*" };
	vs_acl_set s;
	vs_acl_set_init(&s);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		vs_acl_binding b = B(VS_PERM_DENY, "User:CN=x y,O=%#", "*", VS_OP_READ, VS_RES_GROUP,
				     i % 2 ? VS_PAT_PREFIXED : VS_PAT_LITERAL, names[i]);
		char msg[256];
		cr_assert_eq(vs_acl_binding_check(&b, msg, sizeof msg), 0, "%s", msg);
		cr_assert_eq(vs_acl_set_add(&s, &b), 0);
	}
	char *text;
	size_t len;
	cr_assert_eq(vs_acl_format(&s, &text, &len), 0);
	cr_assert_eq(strlen(text), len);
	/* one line per ACL after the header: nothing unescaped broke a line */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	cr_assert_eq(lines, 3 + s.n);
	vs_acl_set back;
	char msg[256] = "";
	cr_assert_eq(vs_acl_parse(text, len, &back, msg, sizeof msg), 0, "%s", msg);
	cr_assert_eq(back.n, s.n);
	for (size_t i = 0; i < s.n; i++) {
		vs_acl_binding b = vs_acl_as_binding(&s.v[i]);
		cr_assert(vs_acl_set_contains(&back, &b), "lost %s", s.v[i].name);
	}
	free(text);
	vs_acl_set_free(&s);
	vs_acl_set_free(&back);
}

static void parse_fails(const char *text, const char *why)
{
	vs_acl_set s;
	char msg[256] = "";
	cr_assert_eq(vs_acl_parse(text, strlen(text), &s, msg, sizeof msg), -1, "parsed: %s", text);
	cr_assert(strstr(msg, why), "message \"%s\" lacks \"%s\"", msg, why);
	cr_assert_eq(s.n, 0);
}

Test(text, errors_name_their_line)
{
	const char *good = "allow User:a * read topic literal t\n";
	char buf[512];
	snprintf(buf, sizeof buf, "%s%s", good, "allow User:a * read topic literal\n");
	parse_fails(buf, "line 2: 6 fields");
	parse_fails("allow User:a * read topic literal t extra\n", "line 1: more than seven");
	parse_fails("# c\n\nallow User:a * read topic literal t%2\n", "line 3: a bad %-escape");
	parse_fails("allow User:a * read topic literal t%00\n", "line 1: a bad %-escape");
	parse_fails("allow User:a * read topic literal t%zz\n", "bad %-escape");
	parse_fails("allow User:a * reed topic literal t\n", "does not apply");
	parse_fails("permit User:a * read topic literal t\n", "allow or deny");
	parse_fails("allow User:a * read user literal t\n", "no user resources");
	parse_fails("allow User:a nowhere read topic literal t\n", "IP address");
	parse_fails("allow User:a * read topic match t\n", "literal or prefixed");
	char nul[] = "allow User:a * read topic literal t\n";
	vs_acl_set s;
	char msg[256];
	nul[20] = 0;
	cr_assert_eq(vs_acl_parse(nul, sizeof nul - 1, &s, msg, sizeof msg), -1);
	cr_assert(strstr(msg, "NUL"), "%s", msg);
	char *big = malloc(VS_ACL_LINE_MAX + 100);
	memset(big, 'a', VS_ACL_LINE_MAX + 99);
	big[VS_ACL_LINE_MAX + 99] = 0;
	parse_fails(big, "too long");
	free(big);
}

Test(text, comments_blanks_and_crlf)
{
	vs_acl_set s;
	set_of(&s, "# a comment\r\n   \r\n\t# indented comment\nallow\tUser:a  *  read topic literal t\r\n"
		   "allow User:a * read topic literal t\n");
	cr_assert_eq(s.n, 1, "duplicates are kept once");
	cr_assert_str_eq(s.v[0].name, "t");
	vs_acl_set_free(&s);
	set_of(&s, "allow User:a * read topic literal t");
	cr_assert_eq(s.n, 1, "the last line needs no newline");
	vs_acl_set_free(&s);
	set_of(&s, "");
	cr_assert_eq(s.n, 0);
}

/* ---- the file on disk ------------------------------------------------------------------- */

static char dir[512];

static void mkdir_tmp(void)
{
	const char *tmp = getenv("VARVE_TEST_TMPDIR");
	char base[400];
	snprintf(base, sizeof base, "%s", tmp && *tmp ? tmp : "/tmp");
	mkdir(base, 0700);
	snprintf(dir, sizeof dir, "%s/acl-XXXXXX", base);
	cr_assert(mkdtemp(dir));
}

TestSuite(file, .init = mkdir_tmp);

static int add_one(vs_acl_set *s, void *ctx, char *msg, size_t cap)
{
	(void)msg;
	(void)cap;
	vs_acl_binding *b = ctx;
	if (vs_acl_set_contains(s, b))
		return 0;
	if (vs_acl_set_add(s, b)) /* no cr_assert: writers run in child processes */
		return -1;
	vs_acl_set_sort(s);
	return 1;
}

Test(file, missing_file_is_no_acl_and_saves_are_private_and_atomic)
{
	char path[600], msg[256];
	snprintf(path, sizeof path, "%s/acls", dir);
	vs_acl_set s;
	vs_acl_stamp st, now;
	cr_assert_eq(vs_acl_load(path, &s, &st, msg, sizeof msg), 0);
	cr_assert_eq(s.n, 0);
	cr_assert(!st.exists);
	cr_assert_eq(vs_acl_stamp_get(path, &now), 0);
	cr_assert(vs_acl_stamp_eq(&st, &now));
	mode_t old = umask(0);
	vs_acl_binding b = B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t");
	vs_acl_set out;
	cr_assert_eq(vs_acl_edit(path, add_one, &b, &out, &st, msg, sizeof msg), 0, "%s", msg);
	umask(old);
	cr_assert_eq(out.n, 1);
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
	cr_assert(st.exists);
	cr_assert_eq(vs_acl_stamp_get(path, &now), 0);
	cr_assert(vs_acl_stamp_eq(&st, &now), "the edit's stamp is the file's");
	char tmp[700];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	cr_assert(access(tmp, F_OK) != 0, "no temporary file left");
	/* an edit that changes nothing does not write */
	cr_assert_eq(vs_acl_edit(path, add_one, &b, NULL, &now, msg, sizeof msg), 0);
	cr_assert(vs_acl_stamp_eq(&st, &now));
	vs_acl_set_free(&out);
	cr_assert_eq(vs_acl_load(path, &s, &st, msg, sizeof msg), 0);
	cr_assert_eq(s.n, 1);
	vs_acl_set_free(&s);
}

Test(file, unreadable_files_are_errors)
{
	char path[600], msg[256] = "";
	vs_acl_set s;
	vs_acl_stamp st;
	cr_assert_eq(vs_acl_load(dir, &s, &st, msg, sizeof msg), -1, "a directory");
	cr_assert(strstr(msg, "regular file"), "%s", msg);
	snprintf(path, sizeof path, "%s/acls", dir);
	FILE *f = fopen(path, "w");
	fputs("allow User:a * read topic literal t\nbogus\n", f);
	fclose(f);
	cr_assert_eq(vs_acl_load(path, &s, &st, msg, sizeof msg), -1);
	cr_assert(strstr(msg, "line 2"), "%s", msg);
	cr_assert_eq(s.n, 0);
	vs_acl_binding b = B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC, VS_PAT_LITERAL, "t");
	cr_assert_eq(vs_acl_edit(path, add_one, &b, NULL, NULL, msg, sizeof msg), -1,
		     "a bad file is not overwritten by an edit");
	f = fopen(path, "r");
	char line[100];
	cr_assert(fgets(line, sizeof line, f) && fgets(line, sizeof line, f));
	cr_assert_str_eq(line, "bogus\n");
	fclose(f);
}

Test(file, concurrent_editors_lose_nothing)
{
	char path[600];
	snprintf(path, sizeof path, "%s/acls", dir);
	enum { WRITERS = 4, EACH = 25 };
	pid_t kids[WRITERS];
	for (int w = 0; w < WRITERS; w++) {
		kids[w] = fork();
		cr_assert(kids[w] >= 0);
		if (kids[w] == 0) {
			for (int i = 0; i < EACH; i++) {
				char name[32], msg[256];
				snprintf(name, sizeof name, "w%d-%d", w, i);
				vs_acl_binding b = B(VS_PERM_ALLOW, ME, "*", VS_OP_READ, VS_RES_TOPIC,
						     VS_PAT_LITERAL, name);
				if (vs_acl_edit(path, add_one, &b, NULL, NULL, msg, sizeof msg))
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		int status;
		cr_assert_eq(waitpid(kids[w], &status, 0), kids[w]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", w);
	}
	vs_acl_set s;
	vs_acl_stamp st;
	char msg[256];
	cr_assert_eq(vs_acl_load(path, &s, &st, msg, sizeof msg), 0, "%s", msg);
	cr_assert_eq(s.n, WRITERS * EACH, "%zu ACLs", s.n);
	vs_acl_set_free(&s);
}
