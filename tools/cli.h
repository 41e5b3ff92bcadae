/* SPDX-License-Identifier: MIT */
/*
 * cli.h -- shared pieces of the `varve` command line (tools/varve.c and
 * tools/cli_*.c): exit codes, messages, option handling, opening the store.
 *
 * Conventions: data goes to stdout, messages to stderr prefixed "varve: ".
 * Exit codes: 0 ok, 1 error, 2 usage, 3 damage found (verify).
 */
#ifndef VARVE_CLI_H
#define VARVE_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "varve.h"

#define CLI_OK 0
#define CLI_ERROR 1
#define CLI_USAGE 2
#define CLI_DAMAGE 3

typedef struct cli_ctx {
	const char *dir; /* the store: -d DIR, else $VARVE_DIR */
	int verbose;     /* -v: library INFO messages too */
	const char *cmd; /* "topic create", for messages */
} cli_ctx;

/* A command: argv[0] is the command word; returns the exit code. */
typedef int (*cli_cmd_fn)(cli_ctx *c, int argc, char **argv);

/* ---- messages ---- */
void cli_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "varve: CMD: msg" and a hint to --help; returns CLI_USAGE. */
int cli_usage(const cli_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "varve: what: <last library error>"; returns CLI_ERROR. */
int cli_fail(const char *what, int rc);

/* ---- options ----
 * Every command accepts -d/--dir, -v/--verbose and -h/--help besides its
 * own options. cli_getopt wraps getopt_long (options may follow operands);
 * it returns the option id, -1 at the end, or '?' after printing a usage
 * message (the caller returns CLI_USAGE). 'h' prints help itself and is
 * returned so the caller can return CLI_OK. */
#define CLI_COMMON_LONG                                                    \
	{ "dir", required_argument, NULL, 'd' },                           \
	{ "verbose", no_argument, NULL, 'v' },                             \
	{ "help", no_argument, NULL, 'h' }
#define CLI_COMMON_SHORT "d:vh"
int cli_getopt(cli_ctx *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *help);
/* The n-th operand after option parsing, or NULL. */
int cli_operands(int argc, char **argv, char ***ops);

/* Parse helpers that print a usage error (return CLI_USAGE) on bad input. */
int cli_arg_i64(const cli_ctx *c, const char *opt, const char *s, int64_t min, int64_t max,
		int64_t *out);
int cli_arg_duration(const cli_ctx *c, const char *opt, const char *s, int64_t *out);
int cli_arg_size(const cli_ctx *c, const char *opt, const char *s, uint64_t *out);
int cli_arg_time(const cli_ctx *c, const char *opt, const char *s, int64_t *out);
int cli_arg_name(const cli_ctx *c, const char *what, const char *s);

int64_t cli_now_ms(void);

/* ---- the store ---- */
typedef struct cli_open_opts {
	int writer;      /* 0: read-only (works while a writer runs) */
	int create;      /* create the store if missing (writers) */
	int sync_policy; /* varve_sync_policy for writers */
	int cleaner;     /* start the background thread (long-running writers) */
	const char *why; /* for the "locked" message: what needs the writer lock */
} cli_open_opts;

/* Open the store; on failure prints why and returns the exit code. */
int cli_open(const cli_ctx *c, const cli_open_opts *o, varve_db **db);
/* Close; reports a failure to flush. Returns rc if rc != 0, else the close's code. */
int cli_close(varve_db *db, int rc);

/* Topic's partition count (prints the error and returns CLI_ERROR if missing). */
int cli_topic_partitions(varve_db *db, const char *topic, uint32_t *n);

/* ---- signals: SIGINT/SIGTERM set cli_stop (no SA_RESTART) ---- */
extern volatile sig_atomic_t cli_stop;
void cli_catch_signals(void);
/* Sleep ms unless a signal arrives. */
void cli_sleep_ms(int ms);

/* ---- commands ---- */
int cli_topic_main(cli_ctx *c, int argc, char **argv);
int cli_produce_main(cli_ctx *c, int argc, char **argv);
int cli_consume_main(cli_ctx *c, int argc, char **argv);
int cli_group_main(cli_ctx *c, int argc, char **argv);
int cli_stats_main(cli_ctx *c, int argc, char **argv);
int cli_verify_main(cli_ctx *c, int argc, char **argv);
int cli_clean_main(cli_ctx *c, int argc, char **argv);
int cli_dlq_main(cli_ctx *c, int argc, char **argv);

/* Run a subcommand of a command group ("topic", "group"). */
typedef struct cli_sub {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
} cli_sub;
int cli_dispatch(cli_ctx *c, const char *group, const cli_sub *subs, const char *help, int argc,
		 char **argv);

/* Lag of a group for every partition of every topic it has a commit in
 * (shared by group describe and stats). fn returns nonzero to stop. */
typedef int (*cli_lag_fn)(void *ctx, const char *group, const char *topic, uint32_t partition,
			  const varve_lag *lag);
int cli_group_lags(varve_db *db, const char *group, cli_lag_fn fn, void *ctx);

#endif
