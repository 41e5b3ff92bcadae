/* SPDX-License-Identifier: MIT */
/*
 * cli_quota.c -- varve quota set|remove|list: the client quotas of `varve
 * serve` (docs/SECURITY.md, "Quotas and limits"), kept in <store>/quotas
 * (server/broker/quota.h has the format and what the entries mean).
 *
 * The command edits the file directly, so it works beside a running
 * server, which re-reads the file within a second of a change; the store
 * itself is not opened. Edits are serialized by an exclusive lock on
 * <store>/quotas.lock and written atomically with mode 0600, so two edits
 * at once cannot lose one another and a reader never sees half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/quota.h"
#include "cli.h"

static const char quota_help[] =
	"usage: varve quota SUBCOMMAND [OPTIONS]\n"
	"\n"
	"Client quotas of `varve serve`, kept in DIR/quotas. A running server picks\n"
	"changes up within a second.\n"
	"\n"
	"  set      set rates of a user or a client id\n"
	"  remove   remove every rate of a user or a client id\n"
	"  list     one line per entity with its rates\n"
	"\n"
	"'varve quota SUBCOMMAND --help' for the options of each.\n";

static const char set_help[] =
	"usage: varve quota set (--user NAME | --client-id ID) [RATES]\n"
	"\n"
	"Set the given rates of NAME (the principal User:NAME; User:ANONYMOUS for\n"
	"clients that did not authenticate) or of client id ID; rates not given keep\n"
	"their value, 'none' clears one. A user's rate applies to all its connections\n"
	"together, a client id's to all connections with that id together. A client\n"
	"over a rate is throttled (throttle_time_ms, and its connection is not read\n"
	"meanwhile), never refused.\n"
	"\n"
	"  --produce-bytes-per-sec N|none  bytes of Produce requests per second\n"
	"  --fetch-bytes-per-sec N|none    record bytes of Fetch answers per second\n"
	"  --requests-per-sec N|none       requests per second\n"
	"Sizes take K, M, G (and KiB, MiB, GiB): all powers of 1024.\n";

static const char remove_help[] =
	"usage: varve quota remove (--user NAME | --client-id ID)\n"
	"\n"
	"Remove every rate of NAME or ID (the server's defaults then apply).\n";

static const char list_help[] =
	"usage: varve quota list\n"
	"\n"
	"One line per entity: user|client-id NAME KIND=RATE..., names with bytes\n"
	"outside [A-Za-z0-9._~:@+-] written %XX (the file's own format).\n";

enum {
	OPT_USER = 256,
	OPT_CLIENT_ID,
	OPT_PRODUCE,
	OPT_FETCH,
	OPT_REQUESTS,
};

/* DIR/quotas and DIR/quotas.lock; CLI_OK, or a message and the exit code. */
static int quota_paths(const cli_ctx *c, char *path, char *lock, size_t cap)
{
	struct stat st;
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: -d DIR or $VARVE_DIR");
	if (stat(c->dir, &st) || !S_ISDIR(st.st_mode)) {
		cli_errf("%s: not a directory", c->dir);
		return CLI_ERROR;
	}
	if ((size_t)snprintf(path, cap, "%s/quotas", c->dir) >= cap ||
	    (size_t)snprintf(lock, cap, "%s/quotas.lock", c->dir) >= cap) {
		cli_errf("%s: path too long", c->dir);
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* The entity option shared by set and remove. */
typedef struct target {
	int entity;
	const char *name;
} target;

static int take_target(const cli_ctx *c, int ch, target *t)
{
	if (t->entity)
		return cli_usage(c, "give one of --user and --client-id, once");
	t->entity = ch == OPT_USER ? VS_QUOTA_USER : VS_QUOTA_CLIENT_ID;
	t->name = optarg;
	size_t n = strlen(optarg);
	if (n < 1 || n > VS_QUOTA_MAX_NAME)
		return cli_usage(c, "%s: a name of 1 to %d bytes is expected",
				 ch == OPT_USER ? "--user" : "--client-id", VS_QUOTA_MAX_NAME);
	return CLI_OK;
}

static int parse_rate(const cli_ctx *c, const char *opt, const char *s, int64_t *out)
{
	if (!strcmp(s, "none")) {
		*out = -1;
		return CLI_OK;
	}
	uint64_t v;
	int rc = cli_arg_size(c, opt, s, &v);
	if (rc)
		return rc;
	if (v < 1 || v > (uint64_t)VS_QUOTA_MAX_RATE)
		return cli_usage(c, "%s: %s is out of range [1, 2^50] (or none)", opt, s);
	*out = (int64_t)v;
	return CLI_OK;
}

/* Lock, read, change, write. edit returns CLI_OK to write. */
static int edit_file(const cli_ctx *c, int (*edit)(const cli_ctx *c, vs_quota_list *l, void *arg),
		     void *arg)
{
	char path[4096], lock[4096], err[600];
	int rc = quota_paths(c, path, lock, sizeof path);
	if (rc)
		return rc;
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX)) {
		cli_errf("%s: %s", lock, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return CLI_ERROR;
	}
	vs_quota_list l = { 0 };
	rc = vs_quota_file_read(path, &l, NULL, err, sizeof err);
	if (rc) {
		cli_errf("%s (fix or remove the file first)", err);
		rc = CLI_ERROR;
	} else {
		rc = edit(c, &l, arg);
	}
	if (rc == CLI_OK) {
		int wrc = vs_quota_file_write(path, &l);
		if (wrc) {
			cli_errf("%s: %s", path, strerror(-wrc));
			rc = CLI_ERROR;
		}
	}
	vs_quota_list_free(&l);
	close(lfd); /* releases the lock */
	return rc;
}

/* ---- set ----------------------------------------------------------------------------- */

typedef struct set_args {
	target t;
	int64_t rate[VS_QUOTA_KINDS];
} set_args;

static int apply_set(const cli_ctx *c, vs_quota_list *l, void *arg)
{
	set_args *a = arg;
	int rc = vs_quota_list_set(l, a->t.entity, a->t.name, a->rate);
	if (rc == -EINVAL)
		return cli_usage(c, "\"%s\" is not a name a quota can have (no NUL byte)",
				 a->t.name);
	if (rc) {
		cli_errf("quota set: %s", rc == -ENOSPC ? "too many entries" : strerror(-rc));
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int quota_set(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "user", required_argument, NULL, OPT_USER },
		{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
		{ "produce-bytes-per-sec", required_argument, NULL, OPT_PRODUCE },
		{ "fetch-bytes-per-sec", required_argument, NULL, OPT_FETCH },
		{ "requests-per-sec", required_argument, NULL, OPT_REQUESTS },
		{ NULL, 0, NULL, 0 },
	};
	set_args a = { { 0, NULL }, { VS_QUOTA_UNSET, VS_QUOTA_UNSET, VS_QUOTA_UNSET } };
	int ch, rc = CLI_OK;
	optind = 0;
	while (rc == CLI_OK &&
	       (ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, set_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch == OPT_USER || ch == OPT_CLIENT_ID)
			rc = take_target(c, ch, &a.t);
		else if (ch == OPT_PRODUCE)
			rc = parse_rate(c, "--produce-bytes-per-sec", optarg, &a.rate[VS_QUOTA_PRODUCE]);
		else if (ch == OPT_FETCH)
			rc = parse_rate(c, "--fetch-bytes-per-sec", optarg, &a.rate[VS_QUOTA_FETCH]);
		else if (ch == OPT_REQUESTS)
			rc = parse_rate(c, "--requests-per-sec", optarg, &a.rate[VS_QUOTA_REQUEST]);
		else
			rc = CLI_USAGE;
	}
	if (rc)
		return rc;
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
	if (!a.t.entity)
		return cli_usage(c, "--user NAME or --client-id ID is needed");
	if (a.rate[0] == VS_QUOTA_UNSET && a.rate[1] == VS_QUOTA_UNSET &&
	    a.rate[2] == VS_QUOTA_UNSET)
		return cli_usage(c, "no rate given (--produce-bytes-per-sec, --fetch-bytes-per-sec, "
				    "--requests-per-sec)");
	return edit_file(c, apply_set, &a);
}

/* ---- remove ------------------------------------------------------------------------- */

static int apply_remove(const cli_ctx *c, vs_quota_list *l, void *arg)
{
	const target *t = arg;
	if (!vs_quota_list_remove(l, t->entity, t->name)) {
		cli_errf("quota remove: %s \"%s\" has no quota",
			 t->entity == VS_QUOTA_USER ? "user" : "client id", t->name);
		(void)c;
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int quota_remove(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "user", required_argument, NULL, OPT_USER },
		{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
		{ NULL, 0, NULL, 0 },
	};
	target t = { 0, NULL };
	int ch, rc = CLI_OK;
	optind = 0;
	while (rc == CLI_OK &&
	       (ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, remove_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		rc = ch == OPT_USER || ch == OPT_CLIENT_ID ? take_target(c, ch, &t) : CLI_USAGE;
	}
	if (rc || (rc = cli_no_operands(c, argc, argv)))
		return rc;
	if (!t.entity)
		return cli_usage(c, "--user NAME or --client-id ID is needed");
	return edit_file(c, apply_remove, &t);
}

/* ---- list ---------------------------------------------------------------------------- */

static int quota_list(cli_ctx *c, int argc, char **argv)
{
	int rc = cli_common_opts(c, argc, argv, list_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
	char path[4096], lock[4096], err[600];
	if ((rc = quota_paths(c, path, lock, sizeof path)))
		return rc;
	vs_quota_list l = { 0 };
	if (vs_quota_file_read(path, &l, NULL, err, sizeof err)) {
		cli_errf("%s", err);
		return CLI_ERROR;
	}
	char *text = vs_quota_format(&l);
	vs_quota_list_free(&l);
	if (!text) {
		cli_errf("quota list: out of memory");
		return CLI_ERROR;
	}
	cli_output_init();
	/* the file's text without its comment line */
	const char *body = strchr(text, '\n');
	fputs(body ? body + 1 : "", stdout);
	free(text);
	return CLI_OK;
}

int cli_quota_main(cli_ctx *c, int argc, char **argv)
{
	static const cli_sub subs[] = {
		{ "set", quota_set, "set rates" },
		{ "remove", quota_remove, "remove an entity's rates" },
		{ "list", quota_list, "list quotas" },
		{ NULL, NULL, NULL },
	};
	return cli_dispatch(c, "quota", subs, quota_help, argc, argv);
}
