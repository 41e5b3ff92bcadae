/* SPDX-License-Identifier: MIT */
/*
 * cli.h -- shared pieces of the `varve` command line (tools/varve.c and
 * tools/cli_*.c): exit codes, messages, option handling, opening the store,
 * signals and the output stream, and the lag table group describe and
 * stats both print.
 *
 * Conventions: data goes to stdout, messages to stderr prefixed "varve: ",
 * with control bytes and broken UTF-8 escaped (a rejected name cannot
 * forge output). Exit codes: 0 ok, 1 error, 2 usage, 3 damage found
 * (verify). One file per command: cli_topic.c, cli_produce.c,
 * cli_consume.c, cli_group.c, cli_stats.c, cli_verify.c, cli_clean.c,
 * cli_dlq.c; the helpers here are in cli_common.c (and cli_group.c for the
 * lag table), the value parsers in cli_parse.c.
 *
 * Beside a running server. Commands that need the writer lock can run
 * through a `varve serve` as a Kafka client instead (cli_remote.h): when
 * --bootstrap HOST:PORT (or $VARVE_BOOTSTRAP) names one, or when the lock
 * is taken and <store>/SERVER names a server that answers. cli_open says
 * so by returning CLI_REMOTE with c->bootstrap set.
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
/* cli_open: run through the server at c->bootstrap instead (never an exit code) */
#define CLI_REMOTE 100

/* Remote calls wait at most this long by default (--timeout-ms). */
#define CLI_DEFAULT_TIMEOUT_MS 30000

typedef struct cli_ctx {
	const char *dir; /* the store: -d DIR, else $VARVE_DIR */
	int verbose;     /* -v: library INFO messages, and notes such as skipped files */
	const char *cmd; /* "topic create", for messages */
	/* a varve serve to go through: --bootstrap, $VARVE_BOOTSTRAP, or the
	 * address in <store>/SERVER (then from_server_file is 1) */
	const char *bootstrap;
	int from_server_file;
	int64_t timeout_ms; /* --timeout-ms: the bound of every remote call */
	char found[300];    /* storage for an address read from SERVER */
} cli_ctx;

/* A command: argv[0] is the command word; returns the exit code. */
typedef int (*cli_cmd_fn)(cli_ctx *c, int argc, char **argv);

/* ---- messages (stderr, escaped) ---- */
void cli_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void cli_notef(const cli_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "varve: CMD: msg" and a hint to --help; returns CLI_USAGE. */
int cli_usage(const cli_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "varve: what: <last library error>"; returns CLI_ERROR. */
int cli_fail(const char *what, int rc);

/* ---- options ----
 * Every command accepts -d/--dir, -v/--verbose, -h/--help, --bootstrap and
 * --timeout-ms besides its own options. cli_getopt wraps getopt_long
 * (options may follow operands); it returns the option id, -1 at the end,
 * or '?' after printing a usage message (the caller returns CLI_USAGE).
 * 'h' prints help itself and is returned so the caller can return CLI_OK. */
enum { CLI_OPT_BOOTSTRAP = 0x1000, CLI_OPT_TIMEOUT };
#define CLI_COMMON_LONG                                                    \
	{ "dir", required_argument, NULL, 'd' },                           \
	{ "verbose", no_argument, NULL, 'v' },                             \
	{ "help", no_argument, NULL, 'h' },                                \
	{ "bootstrap", required_argument, NULL, CLI_OPT_BOOTSTRAP },       \
	{ "timeout-ms", required_argument, NULL, CLI_OPT_TIMEOUT }
#define CLI_COMMON_SHORT "d:vh"
int cli_getopt(cli_ctx *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *help);
/* For a command with only the common options: 0, -1 after --help, or
 * CLI_USAGE. */
int cli_common_opts(cli_ctx *c, int argc, char **argv, const char *help);
/* The operands left after option parsing: *ops and their count. */
int cli_operands(int argc, char **argv, char ***ops);
/* Exactly no operand: CLI_OK, or a usage error. */
int cli_no_operands(const cli_ctx *c, int argc, char **argv);
/* Exactly one operand, a valid name of `what` ("topic", "group"). */
int cli_one_name(const cli_ctx *c, int argc, char **argv, const char *what, const char **name);

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
	int corrupt_is_damage; /* VARVE_ECORRUPT: return CLI_DAMAGE, print nothing */
	int remote_ok;   /* the command can run through a server (CLI_REMOTE) */
} cli_open_opts;

/* Open the store; on failure prints why and returns the exit code. A
 * read-only open that meets a segment file removed by the writer's
 * retention between listing and opening is retried. With remote_ok,
 * CLI_REMOTE (nothing opened, nothing printed) when --bootstrap was given,
 * or when the writer lock is taken and <store>/SERVER names a server that
 * answers (c->bootstrap is then that address). */
int cli_open(cli_ctx *c, const cli_open_opts *o, varve_db **db);
/* A read-only command that can also ask a server: 1 when --bootstrap was
 * given and no store (-d, $VARVE_DIR), so it should. */
int cli_remote_read(const cli_ctx *c);
/* Close; reports a failure to flush. Returns rc if rc != 0, else the close's code. */
int cli_close(varve_db *db, int rc);
/* 1 when the last library error says a file was not there (a segment that
 * retention removed under a reader). */
int cli_error_is_missing_file(int rc);
/* The log start as a newly opened read-only handle sees it: a read-only
 * handle does not see the writer's retention, a new one does. */
int cli_fresh_log_start(const cli_ctx *c, const char *topic, uint32_t partition, int64_t *start);
/* varve_iter_next returned rc, and rc says a segment file was not there.
 * If the log start has moved past the iterator, retention removed those
 * records: the iterator is moved to the new start, [*from, *to) are the
 * offsets skipped, and CLI_OK is returned. Else the error is printed and
 * CLI_ERROR returned. */
int cli_iter_skip_removed(const cli_ctx *c, varve_iter *it, const char *topic, uint32_t partition,
			  int rc, int64_t *from, int64_t *to);

/* A topic's configuration; prints "no topic named T" (CLI_ERROR) if there is none. */
int cli_topic_config(varve_db *db, const char *topic, varve_topic_config *tc);
/* Topic's partition count (prints the error and returns CLI_ERROR if missing). */
int cli_topic_partitions(varve_db *db, const char *topic, uint32_t *n);
/* `topic list`, `group list`: the whole command around list (read-only
 * open, one name per line); `what` is "topics" or "groups". */
int cli_list_cmd(cli_ctx *c, int argc, char **argv, const char *help, const char *what,
		 int (*list)(varve_db *db, char ***names, size_t *n), int (*remote)(cli_ctx *c));
/* `topic delete NAME`, `group delete NAME`: the whole command around del
 * (writer lock, "no WHAT named N", "deleted WHAT N"). */
int cli_delete_cmd(cli_ctx *c, int argc, char **argv, const char *help, const char *what,
		   int (*del)(varve_db *db, const char *name),
		   int (*remote)(cli_ctx *c, const char *name));
/* Name of a cleanup policy: "delete", "compact", "compact,delete". */
const char *cli_policy_name(int policy);

/* ---- signals: SIGINT/SIGTERM set cli_stop (no SA_RESTART) ---- */
extern volatile sig_atomic_t cli_stop;
void cli_catch_signals(void);
/* Sleep ms unless a signal arrives. */
void cli_sleep_ms(int ms);

/* ---- stdout ----
 * cli_output_init ignores SIGPIPE: a reader that went away (`| head`) is
 * seen as EPIPE. cli_output_done flushes and says whether to go on:
 * CLI_OK; CLI_ERROR after printing why (a full disk, ...); or -1 when the
 * reader is gone or a signal stopped a blocked write, which is a normal
 * end (exit 0, nothing printed). cli_output_gone polls, without writing,
 * whether the reader of a pipe has gone. */
void cli_output_init(void);
int cli_output_done(void);
int cli_output_gone(void);

/* JSON on stdout: a C string as a string literal; bytes as quoted base64. */
void cli_json_str(const char *s);
void cli_json_b64(const void *p, size_t n);

/* ---- commands ---- */
int cli_topic_main(cli_ctx *c, int argc, char **argv);
int cli_produce_main(cli_ctx *c, int argc, char **argv);
int cli_consume_main(cli_ctx *c, int argc, char **argv);
int cli_group_main(cli_ctx *c, int argc, char **argv);
int cli_stats_main(cli_ctx *c, int argc, char **argv);
int cli_verify_main(cli_ctx *c, int argc, char **argv);
int cli_clean_main(cli_ctx *c, int argc, char **argv);
int cli_dlq_main(cli_ctx *c, int argc, char **argv);
int cli_repair_main(cli_ctx *c, int argc, char **argv);
int cli_serve_main(cli_ctx *c, int argc, char **argv);
int cli_acl_main(cli_ctx *c, int argc, char **argv);
int cli_backup_main(cli_ctx *c, int argc, char **argv);
int cli_user_main(cli_ctx *c, int argc, char **argv);

/* Run a subcommand of a command group ("topic", "group"). */
typedef struct cli_sub {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
} cli_sub;
int cli_dispatch(cli_ctx *c, const char *group, const cli_sub *subs, const char *help, int argc,
		 char **argv);

/* ---- the lag table (cli_group.c; group describe and stats) ---- */
/* Lag of a group for every partition of every topic it has a commit in.
 * fn returns nonzero to stop. */
typedef int (*cli_lag_fn)(void *ctx, const char *group, const char *topic, uint32_t partition,
			  const varve_lag *lag);
int cli_group_lags(varve_db *db, const char *group, cli_lag_fn fn, void *ctx);
/* Text: the header line, then one line per partition. */
void cli_lag_header(void);
void cli_lag_row(const char *group, const char *topic, uint32_t partition, const varve_lag *lag);
/* JSON members of one partition's lag, after "topic" (no braces). */
void cli_lag_json(uint32_t partition, const varve_lag *lag);

#endif
