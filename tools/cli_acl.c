/* SPDX-License-Identifier: MIT */
/*
 * cli_acl.c -- varve acl add|remove|list: the permissions `varve serve`
 * enforces (docs/SECURITY.md, "Permissions"), kept in <store>/acls.
 *
 * The commands edit that file directly, through server/security/acl.h, the
 * module the server reads it with: under the file's lock, written
 * atomically (mode 0600). They need no writer lock on the store, so they
 * work beside a running server, which picks a change up on its next new
 * connection (and within a second for connections it has).
 *
 * What is printed: one line per ACL in the file's own format (percent-
 * encoded fields, so nothing a principal holds can forge output), or one
 * JSON object per line with --json; messages go to stderr. Exit codes as
 * every command: 0, 1 (an error, or nothing matched remove), 2 (usage).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "security/acl.h"

static const char acl_help[] =
	"usage: varve acl add|remove|list [options]\n"
	"\n"
	"The permissions `varve serve` enforces (docs/SECURITY.md). Without any ACL every\n"
	"request is allowed; once one exists, what no ACL allows is refused.\n"
	"\n"
	"  acl add     (--allow|--deny) --principal User:NAME --operation OP[,OP...]\n"
	"              [--host ADDR] RESOURCE\n"
	"  acl remove  [--allow|--deny] [--principal P] [--host H] [--operation OP,...]\n"
	"              [RESOURCE] | --all\n"
	"  acl list    [the same filters] [--json]\n"
	"\n"
	"RESOURCE is one of: --topic NAME, --topic-prefix PREFIX, --group NAME,\n"
	"--group-prefix PREFIX, --cluster. --topic '*' (or --group '*') means every topic\n"
	"(every group). --principal User:* is every user; --host is an IP address or *\n"
	"(the default for add).\n"
	"Operations: topic read, write, create, delete, alter, describe, describe-configs,\n"
	"alter-configs; group read, describe, delete; cluster create, alter, describe,\n"
	"describe-configs, alter-configs, idempotent-write, cluster-action; all.\n"
	"remove and list take ACLs whose fields equal the options given (a resource\n"
	"by its exact name or prefix).\n";

/* At most this many operations in one command. */
#define MAX_OPS 16

typedef struct acl_args {
	int8_t permission;        /* VS_PERM_ANY when not given */
	const char *principal, *host;
	int8_t ops[MAX_OPS];
	size_t nops;
	int8_t resource_type;     /* VS_RES_ANY when not given */
	int8_t pattern;           /* VS_PAT_ANY when not given */
	const char *name;
	int all, json;
} acl_args;

enum {
	OPT_ALLOW = 256,
	OPT_DENY,
	OPT_PRINCIPAL,
	OPT_HOST,
	OPT_OPERATION,
	OPT_TOPIC,
	OPT_TOPIC_PREFIX,
	OPT_GROUP,
	OPT_GROUP_PREFIX,
	OPT_CLUSTER,
	OPT_ALL,
	OPT_JSON,
};

/* ---- options ---------------------------------------------------------------------- */

static int parse_ops(const cli_ctx *c, const char *s, acl_args *a)
{
	char buf[256];
	if (strlen(s) >= sizeof buf)
		return cli_usage(c, "--operation: too long");
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int op = vs_acl_op_parse(tok);
		if (op < VS_OP_ALL || op > VS_OP_IDEMPOTENT_WRITE)
			return cli_usage(c, "--operation: \"%s\" is not an operation", tok);
		if (a->nops == MAX_OPS)
			return cli_usage(c, "--operation: at most %d", MAX_OPS);
		a->ops[a->nops++] = (int8_t)op;
	}
	return a->nops ? 0 : cli_usage(c, "--operation: no operation given");
}

static int set_resource(const cli_ctx *c, acl_args *a, int8_t type, int8_t pattern, const char *name)
{
	if (a->resource_type != VS_RES_ANY)
		return cli_usage(c, "name one resource (--topic, --topic-prefix, --group, "
				    "--group-prefix or --cluster)");
	a->resource_type = type;
	a->pattern = pattern;
	a->name = name;
	return 0;
}

static int set_permission(const cli_ctx *c, acl_args *a, int8_t p)
{
	if (a->permission != VS_PERM_ANY && a->permission != p)
		return cli_usage(c, "--allow and --deny together");
	a->permission = p;
	return 0;
}

static int parse_one(const cli_ctx *c, int ch, acl_args *a)
{
	switch (ch) {
	case OPT_ALLOW:
	case OPT_DENY:
		return set_permission(c, a, ch == OPT_ALLOW ? VS_PERM_ALLOW : VS_PERM_DENY);
	case OPT_PRINCIPAL:
		a->principal = optarg;
		return 0;
	case OPT_HOST:
		a->host = optarg;
		return 0;
	case OPT_OPERATION:
		return parse_ops(c, optarg, a);
	case OPT_TOPIC:
		return set_resource(c, a, VS_RES_TOPIC, VS_PAT_LITERAL, optarg);
	case OPT_TOPIC_PREFIX:
		return set_resource(c, a, VS_RES_TOPIC, VS_PAT_PREFIXED, optarg);
	case OPT_GROUP:
		return set_resource(c, a, VS_RES_GROUP, VS_PAT_LITERAL, optarg);
	case OPT_GROUP_PREFIX:
		return set_resource(c, a, VS_RES_GROUP, VS_PAT_PREFIXED, optarg);
	case OPT_CLUSTER:
		return set_resource(c, a, VS_RES_CLUSTER, VS_PAT_LITERAL, VS_ACL_CLUSTER_NAME);
	case OPT_ALL:
		a->all = 1;
		return 0;
	case OPT_JSON:
		a->json = 1;
		return 0;
	default:
		return CLI_USAGE;
	}
}

/* 0, -1 after --help, or CLI_USAGE. */
static int parse_args(cli_ctx *c, int argc, char **argv, acl_args *a)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "allow", no_argument, NULL, OPT_ALLOW },
		{ "deny", no_argument, NULL, OPT_DENY },
		{ "principal", required_argument, NULL, OPT_PRINCIPAL },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "operation", required_argument, NULL, OPT_OPERATION },
		{ "topic", required_argument, NULL, OPT_TOPIC },
		{ "topic-prefix", required_argument, NULL, OPT_TOPIC_PREFIX },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "group-prefix", required_argument, NULL, OPT_GROUP_PREFIX },
		{ "cluster", no_argument, NULL, OPT_CLUSTER },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	memset(a, 0, sizeof *a);
	a->permission = VS_PERM_ANY;
	a->resource_type = VS_RES_ANY;
	a->pattern = VS_PAT_ANY;
	int ch;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, acl_help)) != -1) {
		if (ch == 'h')
			return -1;
		if (ch == '?' || parse_one(c, ch, a))
			return CLI_USAGE;
	}
	if (cli_no_operands(c, argc, argv))
		return CLI_USAGE;
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: -d DIR or $VARVE_DIR");
	return 0;
}

/* The ACL file of the store, once the directory is known to be a store. */
static int acl_path(const cli_ctx *c, char *path, size_t cap)
{
	char version[4200];
	struct stat sb;
	snprintf(version, sizeof version, "%s/VERSION", c->dir);
	if (stat(version, &sb)) {
		cli_errf("%s: not a varve store (%s)", c->dir, strerror(errno));
		return CLI_ERROR;
	}
	if ((size_t)snprintf(path, cap, "%s/acls", c->dir) >= cap) {
		cli_errf("%s: path too long", c->dir);
		return CLI_ERROR;
	}
	return CLI_OK;
}

static vs_slice zs(const char *z)
{
	return z ? (vs_slice){ (const uint8_t *)z, strlen(z) } : VS_SLICE_NULL;
}

/* The filters the options describe: one per operation (or one for any). */
static size_t filters_of(const acl_args *a, vs_acl_binding *f)
{
	size_t n = a->nops ? a->nops : 1;
	for (size_t i = 0; i < n; i++)
		f[i] = (vs_acl_binding){ a->resource_type, a->pattern, zs(a->name), zs(a->principal),
					 zs(a->host), a->nops ? a->ops[i] : VS_OP_ANY, a->permission };
	return n;
}

/* ---- output ----------------------------------------------------------------------- */

static void print_acl(const vs_acl *acl, const char *prefix, int json)
{
	if (!json) {
		char line[VS_ACL_LINE_MAX];
		if (vs_acl_format_line(acl, line, sizeof line) >= 0)
			printf("%s%s\n", prefix, line);
		return;
	}
	printf("{\"permission\":\"%s\",\"principal\":", vs_acl_permission_name(acl->permission));
	cli_json_str(acl->principal);
	printf(",\"host\":");
	cli_json_str(acl->host);
	printf(",\"operation\":\"%s\",\"resource_type\":\"%s\",\"pattern\":\"%s\",\"name\":",
	       vs_acl_op_name(acl->operation), vs_acl_resource_name(acl->resource_type),
	       vs_acl_pattern_name(acl->pattern));
	cli_json_str(acl->name);
	printf("}\n");
}

/* ---- add -------------------------------------------------------------------------- */

typedef struct add_ctx {
	const vs_acl_binding *b;
	size_t n;
	uint8_t existed[MAX_OPS];
} add_ctx;

static int add_edit(vs_acl_set *s, void *ctx, char *msg, size_t cap)
{
	add_ctx *x = ctx;
	size_t before = s->n;
	for (size_t i = 0; i < x->n; i++)
		x->existed[i] = (uint8_t)vs_acl_set_contains(s, &x->b[i]);
	for (size_t i = 0; i < x->n; i++) {
		int rc = x->existed[i] ? 0 : vs_acl_set_add(s, &x->b[i]);
		if (rc) {
			snprintf(msg, cap, "%s", rc == -E2BIG ? "too many ACLs" : "out of memory");
			return -1;
		}
	}
	vs_acl_set_sort(s);
	return s->n != before;
}

static int acl_add(cli_ctx *c, int argc, char **argv)
{
	acl_args a;
	int rc = parse_args(c, argc, argv, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (a.permission == VS_PERM_ANY)
		return cli_usage(c, "--allow or --deny is required");
	if (!a.principal || !a.nops || a.resource_type == VS_RES_ANY)
		return cli_usage(c, "--principal, --operation and a resource are required");
	if (a.all || a.json)
		return cli_usage(c, "--all and --json are for remove and list");
	if (!a.host)
		a.host = VS_ACL_WILDCARD;
	vs_acl_binding b[MAX_OPS];
	size_t n = filters_of(&a, b);
	for (size_t i = 0; i < n; i++) {
		char why[256];
		if (vs_acl_binding_check(&b[i], why, sizeof why))
			return cli_usage(c, "%s", why);
	}
	char path[4200], msg[512];
	if ((rc = acl_path(c, path, sizeof path)))
		return rc;
	add_ctx x = { b, n, { 0 } };
	vs_acl_set s;
	if (vs_acl_edit(path, add_edit, &x, &s, NULL, msg, sizeof msg)) {
		cli_errf("%s", msg);
		return CLI_ERROR;
	}
	/* print each as the file holds it */
	for (size_t i = 0; i < n; i++) {
		vs_acl_set one;
		vs_acl_set_init(&one);
		if (vs_acl_set_add(&one, &b[i]) == 0)
			print_acl(&one.v[0], x.existed[i] ? "already there: " : "added: ", 0);
		vs_acl_set_free(&one);
	}
	vs_acl_set_free(&s);
	return CLI_OK;
}

/* ---- remove ----------------------------------------------------------------------- */

typedef struct remove_ctx {
	const vs_acl_binding *f;
	size_t n;
	vs_acl_set removed; /* copies, to print */
	int failed;
} remove_ctx;

static int remove_edit(vs_acl_set *s, void *ctx, char *msg, size_t cap)
{
	remove_ctx *x = ctx;
	for (size_t i = 0; i < s->n; i++) {
		bool hit = false;
		for (size_t k = 0; k < x->n && !hit; k++)
			hit = vs_acl_filter_matches(&x->f[k], &s->v[i]);
		vs_acl_binding b = vs_acl_as_binding(&s->v[i]);
		if (hit && vs_acl_set_add(&x->removed, &b)) {
			snprintf(msg, cap, "out of memory");
			return -1;
		}
	}
	return vs_acl_set_remove(s, x->f, x->n) > 0;
}

static int acl_remove(cli_ctx *c, int argc, char **argv)
{
	acl_args a;
	int rc = parse_args(c, argc, argv, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	bool filtered = a.permission != VS_PERM_ANY || a.principal || a.host || a.nops ||
			a.resource_type != VS_RES_ANY;
	if (a.all == filtered)
		return cli_usage(c, a.all ? "--all and filters together"
					  : "name what to remove (filters, or --all for every ACL)");
	if (a.json)
		return cli_usage(c, "--json is for list");
	char path[4200], msg[512];
	if ((rc = acl_path(c, path, sizeof path)))
		return rc;
	vs_acl_binding f[MAX_OPS];
	remove_ctx x = { f, filters_of(&a, f), { NULL, 0, 0 }, 0 };
	vs_acl_set s;
	if (vs_acl_edit(path, remove_edit, &x, &s, NULL, msg, sizeof msg)) {
		cli_errf("%s", msg);
		vs_acl_set_free(&x.removed);
		return CLI_ERROR;
	}
	for (size_t i = 0; i < x.removed.n; i++)
		print_acl(&x.removed.v[i], "removed: ", 0);
	rc = CLI_OK;
	if (x.removed.n == 0) {
		cli_errf("no ACL matched");
		rc = CLI_ERROR;
	} else if (s.n == 0) {
		cli_errf("no ACL left: the server now allows every request");
	}
	vs_acl_set_free(&x.removed);
	vs_acl_set_free(&s);
	return rc;
}

/* ---- list ------------------------------------------------------------------------- */

static int acl_list(cli_ctx *c, int argc, char **argv)
{
	acl_args a;
	int rc = parse_args(c, argc, argv, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (a.all)
		return cli_usage(c, "--all is for remove");
	char path[4200], msg[512];
	if ((rc = acl_path(c, path, sizeof path)))
		return rc;
	vs_acl_set s;
	vs_acl_stamp st;
	if (vs_acl_load(path, &s, &st, msg, sizeof msg)) {
		cli_errf("%s", msg);
		return CLI_ERROR;
	}
	vs_acl_binding f[MAX_OPS];
	size_t n = filters_of(&a, f);
	for (size_t i = 0; i < s.n; i++) {
		bool hit = false;
		for (size_t k = 0; k < n && !hit; k++)
			hit = vs_acl_filter_matches(&f[k], &s.v[i]);
		if (hit)
			print_acl(&s.v[i], "", a.json);
	}
	if (s.n == 0)
		cli_notef(c, "no ACLs: the server allows every request");
	vs_acl_set_free(&s);
	return CLI_OK;
}

static const cli_sub acl_subs[] = {
	{ "add", acl_add, "add ACLs" },
	{ "remove", acl_remove, "remove ACLs" },
	{ "list", acl_list, "list ACLs" },
	{ NULL, NULL, NULL },
};

int cli_acl_main(cli_ctx *c, int argc, char **argv)
{
	return cli_dispatch(c, "acl", acl_subs, acl_help, argc, argv);
}
