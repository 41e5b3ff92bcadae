/* SPDX-License-Identifier: MIT */
/*
 * cli_user.c -- varve user add|remove|list: the SCRAM credentials SASL
 * listeners of `varve serve` check (docs/SECURITY.md). The credentials
 * live in <store>/users (server/security/users.h), which this command
 * edits directly: it works beside a running server, which re-reads the
 * file at the next authentication. The store itself is not opened.
 *
 * add derives the credential here (PBKDF2 with a fresh random salt) from a
 * password read from --password-file or stdin (its first line; without
 * echo on a terminal), so the password is never stored and the server
 * never runs the expensive derivation for SCRAM. Edits are serialized by
 * the users file's lock and written atomically with mode 0600. A directory
 * that is not a store yet is made one first (a store is only created in
 * an empty directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli.h"
#include "security/scram.h"
#include "security/users.h"

#define MAX_PASSWORD 1024

static const char user_help[] =
	"usage: varve user SUBCOMMAND [OPTIONS]\n"
	"\n"
	"SCRAM credentials for the SASL listeners of `varve serve`, kept in DIR/users.\n"
	"A running server picks changes up at the next authentication.\n"
	"\n"
	"  add NAME       add a user, or set a new password\n"
	"  remove NAME    remove a user's credentials\n"
	"  list           list users and their mechanisms\n"
	"\n"
	"'varve user SUBCOMMAND --help' for the options of each.\n";

static const char add_help[] =
	"usage: varve user add NAME [--mechanism M] [--iterations N] [--password-file FILE]\n"
	"\n"
	"Store SCRAM credentials for NAME derived from a password (a fresh random salt,\n"
	"PBKDF2); the password itself is not stored. An existing credential of NAME for the\n"
	"same mechanism is replaced. The password is the first line of FILE, or of stdin\n"
	"(read without echo on a terminal). Clients log in with SCRAM-SHA-256,\n"
	"SCRAM-SHA-512, or PLAIN over TLS when the server offers it.\n"
	"\n"
	"  -m, --mechanism M      SCRAM-SHA-256 or SCRAM-SHA-512 (default: both)\n"
	"  -i, --iterations N     PBKDF2 rounds, 4096 to 16384 (default 4096)\n"
	"      --password-file F  read the password from F instead of stdin\n";

static const char remove_help[] =
	"usage: varve user remove NAME [--mechanism M]\n"
	"\n"
	"Remove NAME's credentials (only those of mechanism M with --mechanism).\n"
	"Connections already authenticated stay open.\n";

static const char list_help[] =
	"usage: varve user list\n"
	"\n"
	"One line per credential: NAME MECHANISM iterations=N.\n";

enum { OPT_PASSWORD_FILE = 256 };

/* DIR/users; CLI_OK, or a message and the exit code. */
static int users_path(const cli_ctx *c, char *out, size_t cap)
{
	struct stat st;
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: -d DIR or $VARVE_DIR");
	if (stat(c->dir, &st) || !S_ISDIR(st.st_mode)) {
		cli_errf("%s: not a directory: %s", c->dir, strerror(errno ? errno : ENOTDIR));
		return CLI_ERROR;
	}
	if ((size_t)snprintf(out, cap, "%s/users", c->dir) >= cap) {
		cli_errf("%s: path too long", c->dir);
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* The users file lives in a store: a directory that is not one yet (no
 * VERSION, or no directory) is made a store first, as `varve serve` would,
 * since a store is only created in an empty directory. */
static int ensure_store(cli_ctx *c)
{
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: -d DIR or $VARVE_DIR");
	char version[4200];
	struct stat st;
	snprintf(version, sizeof version, "%s/VERSION", c->dir);
	if (stat(version, &st) == 0)
		return CLI_OK;
	cli_open_opts oo = { .writer = 1, .create = 1, .sync_policy = VARVE_SYNC_ALWAYS,
			     .why = "creating the store for its users file" };
	varve_db *db;
	int rc = cli_open(c, &oo, &db);
	return rc ? rc : cli_close(db, CLI_OK);
}

static int parse_mechanism(const cli_ctx *c, const char *s, int *mech)
{
	*mech = vs_scram_mech_by_name(s, strlen(s));
	if (!*mech)
		return cli_usage(c, "--mechanism: \"%s\" is not SCRAM-SHA-256 or SCRAM-SHA-512", s);
	return CLI_OK;
}

/* ---- passwords ------------------------------------------------------------------------ */

/* The first line of f into pw (NUL-terminated, newline removed). */
static int read_line(FILE *f, const char *from, char *pw, size_t cap)
{
	if (!fgets(pw, (int)cap, f)) {
		cli_errf("no password on %s", from);
		return CLI_ERROR;
	}
	size_t n = strlen(pw);
	if (n && pw[n - 1] != '\n' && !feof(f)) {
		cli_errf("%s: the password is longer than %d bytes", from, MAX_PASSWORD);
		return CLI_ERROR;
	}
	pw[strcspn(pw, "\r\n")] = 0;
	if (!*pw) {
		cli_errf("%s: the password is empty", from);
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int read_password(const char *file, char *pw, size_t cap)
{
	if (file) {
		FILE *f = fopen(file, "re");
		if (!f) {
			cli_errf("%s: %s", file, strerror(errno));
			return CLI_ERROR;
		}
		int rc = read_line(f, file, pw, cap);
		fclose(f);
		return rc;
	}
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fputs("Password: ", stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	int rc = read_line(stdin, "stdin", pw, cap);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return rc;
}

/* ---- add ----------------------------------------------------------------------------- */

/* Derive one credential per mechanism of mechs and put them into u. */
static int derive_into(vs_users *u, const char *name, const char *pw, int mech, int64_t iterations)
{
	for (int m = VS_SCRAM_SHA_256; m <= VS_SCRAM_SHA_512; m++) {
		if (mech && m != mech)
			continue;
		uint8_t salt[VS_SCRAM_SALT_BYTES];
		vs_scram_cred cred;
		if (RAND_bytes(salt, sizeof salt) != 1 ||
		    vs_scram_derive(m, pw, strlen(pw), salt, sizeof salt, (uint32_t)iterations, &cred)) {
			cli_errf("cannot derive the %s credential", vs_scram_mech_name(m));
			return CLI_ERROR;
		}
		int rc = vs_users_put(u, name, &cred);
		OPENSSL_cleanse(&cred, sizeof cred);
		if (rc) {
			cli_errf("%s", rc == -ENOMEM ? "out of memory" : "bad credential");
			return CLI_ERROR;
		}
	}
	return CLI_OK;
}

/* Load, edit (edit returns an exit code), save: under the lock. */
static int edit_users(const char *path, int (*edit)(vs_users *u, void *arg), void *arg)
{
	char err[512];
	int lock = vs_users_lock(path, err, sizeof err);
	if (lock < 0) {
		cli_errf("%s", err);
		return CLI_ERROR;
	}
	vs_users u;
	vs_users_init(&u);
	int rc = vs_users_load(path, &u, err, sizeof err) ? CLI_ERROR : CLI_OK;
	if (rc)
		cli_errf("%s", err);
	if (!rc)
		rc = edit(&u, arg);
	if (!rc && vs_users_save(path, &u, err, sizeof err)) {
		cli_errf("%s", err);
		rc = CLI_ERROR;
	}
	vs_users_free(&u);
	vs_users_unlock(lock);
	return rc;
}

typedef struct add_args {
	const char *name, *pw;
	int mech;
	int64_t iterations;
} add_args;

static int add_edit(vs_users *u, void *arg)
{
	const add_args *a = arg;
	return derive_into(u, a->name, a->pw, a->mech, a->iterations);
}

static int parse_add(cli_ctx *c, int argc, char **argv, add_args *a, const char **pw_file)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "mechanism", required_argument, NULL, 'm' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "m:i:", lo, add_help)) != -1) {
		int rc = CLI_OK;
		if (ch == 'h')
			return -1;
		if (ch == 'm')
			rc = parse_mechanism(c, optarg, &a->mech);
		else if (ch == 'i')
			rc = cli_arg_i64(c, "--iterations", optarg, VS_SCRAM_MIN_ITERATIONS,
					 VS_SCRAM_MAX_ITERATIONS, &a->iterations);
		else if (ch == OPT_PASSWORD_FILE)
			*pw_file = optarg;
		else
			rc = CLI_USAGE;
		if (rc)
			return rc;
	}
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n != 1)
		return cli_usage(c, n ? "unexpected argument \"%s\"" : "missing NAME%s", n ? ops[1] : "");
	a->name = ops[0];
	if (!vs_user_name_ok(a->name, strlen(a->name)))
		return cli_usage(c, "\"%s\" is not a valid user name (1 to %d bytes, no spaces or control "
				 "characters, not starting with '#')", a->name, VS_USERS_MAX_NAME);
	return CLI_OK;
}

static int user_add(cli_ctx *c, int argc, char **argv)
{
	add_args a = { NULL, NULL, 0, VS_SCRAM_DEFAULT_ITERATIONS };
	const char *pw_file = NULL;
	int rc = parse_add(c, argc, argv, &a, &pw_file);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	char path[4200];
	if ((rc = ensure_store(c)) || (rc = users_path(c, path, sizeof path)))
		return rc;
	char pw[MAX_PASSWORD + 2];
	rc = read_password(pw_file, pw, sizeof pw);
	if (!rc) {
		a.pw = pw;
		rc = edit_users(path, add_edit, &a);
	}
	OPENSSL_cleanse(pw, sizeof pw);
	if (!rc)
		cli_notef(c, "user %s: %s credentials stored in %s", a.name,
			  a.mech ? vs_scram_mech_name(a.mech) : "SCRAM-SHA-256 and SCRAM-SHA-512", path);
	return rc;
}

/* ---- remove, list --------------------------------------------------------------------- */

typedef struct remove_args {
	const char *name;
	int mech;
} remove_args;

static int remove_edit(vs_users *u, void *arg)
{
	const remove_args *a = arg;
	if (vs_users_remove(u, a->name, a->mech) == 0) {
		cli_errf("no user named %s%s%s", a->name, a->mech ? " with " : "",
			 a->mech ? vs_scram_mech_name(a->mech) : "");
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int user_remove(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "mechanism", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	remove_args a = { NULL, 0 };
	int ch;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "m:", lo, remove_help)) != -1) {
		if (ch == 'h')
			return CLI_OK;
		if (ch != 'm' || parse_mechanism(c, optarg, &a.mech))
			return CLI_USAGE;
	}
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n != 1)
		return cli_usage(c, n ? "unexpected argument \"%s\"" : "missing NAME%s", n ? ops[1] : "");
	a.name = ops[0];
	char path[4200];
	int rc = users_path(c, path, sizeof path);
	return rc ? rc : edit_users(path, remove_edit, &a);
}

static int user_list(cli_ctx *c, int argc, char **argv)
{
	int rc = cli_common_opts(c, argc, argv, list_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
	char path[4200], err[512];
	if ((rc = users_path(c, path, sizeof path)))
		return rc;
	vs_users u;
	vs_users_init(&u);
	if (vs_users_load(path, &u, err, sizeof err)) {
		cli_errf("%s", err);
		return CLI_ERROR;
	}
	cli_output_init();
	for (size_t i = 0; i < u.n; i++)
		printf("%s %s iterations=%u\n", u.v[i].name, vs_scram_mech_name(u.v[i].cred.mech),
		       (unsigned)u.v[i].cred.iterations);
	vs_users_free(&u);
	rc = cli_output_done();
	return rc < 0 ? CLI_OK : rc;
}

static const cli_sub user_subs[] = {
	{ "add", user_add, "add a user or set its password" },
	{ "remove", user_remove, "remove a user" },
	{ "list", user_list, "list users" },
	{ NULL, NULL, NULL },
};

int cli_user_main(cli_ctx *c, int argc, char **argv)
{
	return cli_dispatch(c, "user", user_subs, user_help, argc, argv);
}
