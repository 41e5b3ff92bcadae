/* SPDX-License-Identifier: MIT */
/*
 * cli_common.c -- messages, options, store opening, signals and stdout
 * handling shared by every `varve` command (see cli.h). Messages are
 * formatted into memory first and written with encode.h's enc_text, so
 * whatever a user or a file name put into them reaches the terminal with
 * control bytes and broken UTF-8 escaped.
 *
 * cli_open also decides when a command goes through a server instead
 * (CLI_REMOTE): --bootstrap, or a taken writer lock and a <store>/SERVER
 * whose server answers (cli_remote_probe).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_parse.h"
#include "cli_remote.h"
#include "encode.h"

volatile sig_atomic_t cli_stop;

/* ---- messages ----------------------------------------------------------------------- */

/* "varve: " + head + the formatted message, escaped, + tail. */
static void vmessage(const char *head, const char *tail, const char *fmt, va_list ap)
{
	char small[1024];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	char *msg = small;
	if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL)
		vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (!msg) /* out of memory: the truncated text is better than none */
		msg = small;
	fflush(stdout);
	fputs("varve: ", stderr);
	enc_text(stderr, head, strlen(head));
	enc_text(stderr, msg, n < 0 ? 0 : strlen(msg));
	fputs(tail, stderr);
	if (msg != small)
		free(msg);
}

void cli_errf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("", "\n", fmt, ap);
	va_end(ap);
}

void cli_notef(const cli_ctx *c, const char *fmt, ...)
{
	if (!c->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmessage("", "\n", fmt, ap);
	va_end(ap);
}

int cli_usage(const cli_ctx *c, const char *fmt, ...)
{
	const char *cmd = c && c->cmd ? c->cmd : NULL;
	char head[80];
	snprintf(head, sizeof head, "%s%s", cmd ? cmd : "", cmd ? ": " : "");
	va_list ap;
	va_start(ap, fmt);
	vmessage(head, "\n", fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'varve %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return CLI_USAGE;
}

int cli_fail(const char *what, int rc)
{
	const varve_error_info *e = varve_last_error();
	const char *msg = (e->code == rc && e->message && *e->message) ? e->message : varve_errmsg(rc);
	cli_errf("%s: %s", what, msg);
	return CLI_ERROR;
}

/* ---- options -------------------------------------------------------------------- */

/* The usage message for a bad option: getopt_long says little about which. */
static void bad_option(cli_ctx *c, int argc, char **argv, int prev, int ch)
{
	const char *bad = (prev < argc) ? argv[prev] : "";
	if (optind > 0 && optind - 1 < argc && argv[optind - 1][0] == '-')
		bad = argv[optind - 1];
	const char *what = ch == ':' ? "needs a value" : NULL;
	if (optopt && optopt != '?' && (!bad[0] || bad[1] != '-')) {
		if (what)
			cli_usage(c, "option -%c %s", optopt, what);
		else
			cli_usage(c, "unknown option -%c", optopt);
	} else {
		if (what)
			cli_usage(c, "option %s %s", bad, what);
		else
			cli_usage(c, "unknown option %s", bad);
	}
}

int cli_getopt(cli_ctx *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *help)
{
	char spec[128];
	snprintf(spec, sizeof spec, ":%s", shortopts);
	opterr = 0;
	for (;;) {
		int prev = optind ? optind : 1;
		int ch = getopt_long(argc, argv, spec, longopts, NULL);
		switch (ch) {
		case 'd':
			c->dir = optarg;
			continue;
		case 'v':
			c->verbose++;
			continue;
		case CLI_OPT_BOOTSTRAP:
			if (!*optarg) {
				cli_usage(c, "--bootstrap needs HOST:PORT");
				return '?';
			}
			c->bootstrap = optarg;
			c->from_server_file = 0;
			continue;
		case CLI_OPT_TIMEOUT:
			if (cli_arg_i64(c, "--timeout-ms", optarg, 1, INT32_MAX, &c->timeout_ms))
				return '?';
			continue;
		case 'h':
			fputs(help, stdout);
			return 'h';
		case ':':
		case '?':
			bad_option(c, argc, argv, prev, ch);
			return '?';
		default:
			return ch;
		}
	}
}

int cli_common_opts(cli_ctx *c, int argc, char **argv, const char *help)
{
	static const struct option lo[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	optind = 0;
	int ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, help);
	if (ch == -1)
		return 0;
	return ch == 'h' ? -1 : CLI_USAGE;
}

int cli_operands(int argc, char **argv, char ***ops)
{
	*ops = argv + optind;
	return argc - optind;
}

int cli_no_operands(const cli_ctx *c, int argc, char **argv)
{
	char **ops;
	if (cli_operands(argc, argv, &ops) > 0)
		return cli_usage(c, "unexpected argument \"%s\"", ops[0]);
	return CLI_OK;
}

int cli_one_name(const cli_ctx *c, int argc, char **argv, const char *what, const char **name)
{
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n < 1)
		return cli_usage(c, "missing %s name", what);
	if (n > 1)
		return cli_usage(c, "unexpected argument \"%s\"", ops[1]);
	*name = ops[0];
	return cli_arg_name(c, what, *name);
}

int cli_arg_i64(const cli_ctx *c, const char *opt, const char *s, int64_t min, int64_t max,
		int64_t *out)
{
	int64_t v;
	if (cli_parse_i64(s, &v))
		return cli_usage(c, "%s: \"%s\" is not an integer", opt, s);
	if (v < min || v > max)
		return cli_usage(c, "%s: %s is out of range [%" PRId64 ", %" PRId64 "]", opt, s, min,
				 max);
	*out = v;
	return 0;
}

int cli_arg_duration(const cli_ctx *c, const char *opt, const char *s, int64_t *out)
{
	if (cli_parse_duration_ms(s, out))
		return cli_usage(c, "%s: \"%s\" is not a duration (like 500ms, 30s, 5m, 1h, 7d, 2w, 1h30m)",
				 opt, s);
	return 0;
}

int cli_arg_size(const cli_ctx *c, const char *opt, const char *s, uint64_t *out)
{
	if (cli_parse_size(s, out))
		return cli_usage(c, "%s: \"%s\" is not a size (like 512, 64K, 10MiB, 1.5G; K = 1024)",
				 opt, s);
	return 0;
}

int cli_arg_time(const cli_ctx *c, const char *opt, const char *s, int64_t *out)
{
	int rc = cli_parse_time_ms(s, cli_now_ms(), out);
	if (rc == CLI_TIME_SECONDS)
		return cli_usage(c,
				 "%s: \"%s\" looks like epoch seconds; write %ss for seconds or %sms "
				 "for milliseconds",
				 opt, s, s, s);
	if (rc || *out < 0)
		return cli_usage(c,
				 "%s: \"%s\" is not a time (RFC 3339 like 2026-11-26T10:00:00Z or "
				 "2026-11-26T11:00:00+01:00, epoch 1795687200s or 1795687200000ms, "
				 "now-1h)",
				 opt, s);
	return 0;
}

int cli_arg_name(const cli_ctx *c, const char *what, const char *s)
{
	if (!varve_name_valid(s))
		return cli_usage(c, "invalid %s name \"%s\": use [A-Za-z0-9._-]{1,200}, not . or ..",
				 what, s);
	return 0;
}

int64_t cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the store ------------------------------------------------------------------- */

static void log_cb(void *ctx, int level, const char *message)
{
	const cli_ctx *c = ctx;
	if (level < VARVE_LOG_WARN && !c->verbose)
		return;
	static const char *names[] = { "debug", "info", "warning", "error" };
	cli_errf("%s: %s", level >= 0 && level <= 3 ? names[level] : "log", message);
}

int cli_error_is_missing_file(int rc)
{
	const varve_error_info *e = varve_last_error();
	return rc == VARVE_ENOTFOUND && e->code == rc && e->sys_errno == ENOENT;
}

/* A segment file (under topics/) that was listed and then not there. */
static int missing_segment_file(int rc)
{
	const char *msg = varve_last_error()->message;
	return cli_error_is_missing_file(rc) && msg && strstr(msg, "/topics/");
}

/* How often a read-only open is tried again when a segment it listed was
 * gone when it opened it: each retention round removes a few, and the next
 * listing no longer has them. */
#define OPEN_MISSING_RETRIES 8

/* The writer lock is taken: is the holder a varve serve that answers?
 * CLI_REMOTE (c->bootstrap set), or 0 with *note saying what was found. */
static int server_in_store(cli_ctx *c, char *note, size_t cap)
{
	char path[4096];
	*note = 0;
	snprintf(path, sizeof path, "%s/SERVER", c->dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char addr[sizeof c->found];
	int ok = fgets(addr, sizeof addr, f) != NULL;
	fclose(f);
	addr[strcspn(addr, "\r\n")] = 0;
	if (!ok || !*addr)
		return 0;
	/* a stale file (a server killed without its clean stop) names an
	 * address where nothing, or something else, answers: ask first */
	char why[256];
	int64_t wait = c->timeout_ms < 3000 ? c->timeout_ms : 3000;
	if (cli_remote_probe(addr, wait, why, sizeof why)) {
		snprintf(note, cap, "; %s names %s, which does not answer (%s)", path, addr, why);
		return 0;
	}
	snprintf(c->found, sizeof c->found, "%s", addr);
	c->bootstrap = c->found;
	c->from_server_file = 1;
	cli_notef(c, "%s: the store is held by the server at %s (from %s): going through it",
		  c->dir, addr, path);
	return CLI_REMOTE;
}

int cli_remote_read(const cli_ctx *c)
{
	return c->bootstrap && (!c->dir || !*c->dir);
}

int cli_open(cli_ctx *c, const cli_open_opts *o, varve_db **db)
{
	*db = NULL;
	if (o->remote_ok && c->bootstrap)
		return CLI_REMOTE;
	if ((!c->dir || !*c->dir) && c->bootstrap)
		return cli_usage(c, "it reads the store itself (also beside a running server): give "
				    "-d DIR; --bootstrap is for commands that write");
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: use -d DIR or set VARVE_DIR%s",
				 o->remote_ok ? " (or --bootstrap HOST:PORT to go through a server)"
					      : "");
	varve_options vo;
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	vo.read_only = !o->writer;
	vo.create_if_missing = o->writer && o->create;
	vo.sync_policy = o->sync_policy;
	vo.start_cleaner = o->writer && o->cleaner;
	vo.log_fn = log_cb;
	vo.log_ctx = (void *)c;
	int rc = varve_open(c->dir, &vo, db);
	for (int i = 0; rc && !o->writer && i < OPEN_MISSING_RETRIES && missing_segment_file(rc); i++) {
		cli_notef(c, "%s: a segment was removed (by retention) while the store was opened: "
			  "%s; opening again", c->dir, varve_last_error()->message);
		rc = varve_open(c->dir, &vo, db);
	}
	if (rc == VARVE_OK)
		return CLI_OK;
	if (rc == VARVE_ECORRUPT && o->corrupt_is_damage)
		return CLI_DAMAGE;
	if (rc == VARVE_ELOCKED) {
		char note[600] = "";
		if (o->remote_ok && server_in_store(c, note, sizeof note) == CLI_REMOTE)
			return CLI_REMOTE;
		cli_errf("%s: store is open by a writer; stop it first%s%s%s%s%s", c->dir,
			 o->why ? " (" : "", o->why ? o->why : "", o->why ? ")" : "",
			 o->remote_ok ? ", or go through a running varve serve with --bootstrap "
					"HOST:PORT"
				      : "",
			 note);
		return CLI_ERROR;
	}
	if (rc == VARVE_ENOTFOUND && !o->writer && !missing_segment_file(rc)) {
		const varve_error_info *e = varve_last_error();
		cli_errf("%s", e->message && *e->message ? e->message : "no store there");
		return CLI_ERROR;
	}
	return cli_fail(c->dir, rc);
}

int cli_close(varve_db *db, int rc)
{
	if (!db)
		return rc;
	int crc = varve_close(db);
	if (crc && rc == CLI_OK) {
		cli_fail("closing the store", crc);
		return CLI_ERROR;
	}
	return rc;
}

int cli_fresh_log_start(const cli_ctx *c, const char *topic, uint32_t partition, int64_t *start)
{
	cli_ctx quiet = *c;
	quiet.verbose = 0;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	varve_db *db;
	int rc = cli_open(&quiet, &oo, &db);
	if (rc)
		return rc;
	int x = varve_offsets(db, topic, partition, start, NULL);
	if (x)
		rc = cli_fail(topic, x);
	return cli_close(db, rc);
}

int cli_iter_skip_removed(const cli_ctx *c, varve_iter *it, const char *topic, uint32_t partition,
			  int rc, int64_t *from, int64_t *to)
{
	int64_t at = varve_iter_position(it), start;
	char why[512];
	const char *msg = varve_last_error()->message;
	snprintf(why, sizeof why, "%s", msg && *msg ? msg : varve_errmsg(rc));
	int x = cli_fresh_log_start(c, topic, partition, &start);
	if (x)
		return x;
	if (start <= at) {
		cli_errf("%s/%u at offset %" PRId64 ": %s", topic, partition, at, why);
		return CLI_ERROR;
	}
	if ((x = varve_iter_seek(it, start))) {
		char what[256];
		snprintf(what, sizeof what, "%s/%u at offset %" PRId64, topic, partition, start);
		return cli_fail(what, x);
	}
	*from = at;
	*to = start;
	return CLI_OK;
}

int cli_topic_config(varve_db *db, const char *topic, varve_topic_config *tc)
{
	varve_topic_config_init(tc, VARVE_TOPIC_CONFIG_VERSION);
	int rc = varve_topic_describe(db, topic, tc);
	if (rc == VARVE_ENOTFOUND) {
		cli_errf("no topic named %s", topic);
		return CLI_ERROR;
	}
	return rc ? cli_fail(topic, rc) : CLI_OK;
}

int cli_topic_partitions(varve_db *db, const char *topic, uint32_t *n)
{
	varve_topic_config tc;
	int rc = cli_topic_config(db, topic, &tc);
	if (rc == CLI_OK)
		*n = tc.partitions;
	return rc;
}

int cli_list_cmd(cli_ctx *c, int argc, char **argv, const char *help, const char *what,
		 int (*list)(varve_db *db, char ***names, size_t *n), int (*remote)(cli_ctx *c))
{
	int rc = cli_common_opts(c, argc, argv, help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
	if (cli_remote_read(c))
		return remote(c);
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	if ((rc = cli_open(c, &oo, &db)))
		return rc;
	char **names;
	size_t n;
	rc = list(db, &names, &n);
	if (rc) {
		char doing[64];
		snprintf(doing, sizeof doing, "listing %s", what);
		rc = cli_fail(doing, rc);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		varve_strings_free(names, n);
	}
	return cli_close(db, rc);
}

int cli_delete_cmd(cli_ctx *c, int argc, char **argv, const char *help, const char *what,
		   int (*del)(varve_db *db, const char *name),
		   int (*remote)(cli_ctx *c, const char *name))
{
	int rc = cli_common_opts(c, argc, argv, help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	const char *name = NULL;
	if ((rc = cli_one_name(c, argc, argv, what, &name)))
		return rc;
	char why[64];
	snprintf(why, sizeof why, "%s delete needs the writer lock", what);
	varve_db *db;
	cli_open_opts oo = { 1, 0, VARVE_SYNC_ALWAYS, 0, why, 0, 1 };
	if ((rc = cli_open(c, &oo, &db)))
		return rc == CLI_REMOTE ? remote(c, name) : rc;
	rc = del(db, name);
	if (rc == VARVE_ENOTFOUND) {
		cli_errf("no %s named %s", what, name);
		rc = CLI_ERROR;
	} else if (rc) {
		rc = cli_fail(name, rc);
	} else {
		printf("deleted %s %s\n", what, name);
	}
	return cli_close(db, rc);
}

const char *cli_policy_name(int policy)
{
	switch (policy) {
	case VARVE_CLEANUP_DELETE: return "delete";
	case VARVE_CLEANUP_COMPACT: return "compact";
	case VARVE_CLEANUP_COMPACT_DELETE: return "compact,delete";
	default: return "?";
	}
}

/* ---- signals ----------------------------------------------------------------------- */

/* stdout's file status flags when it is a pipe, else -1 (see on_signal). */
static int pipe_out_flags = -1;

static void on_signal(int sig)
{
	cli_stop = sig;
	/* A write into a full pipe that starts after the caller checked
	 * cli_stop would block for good: from now on it fails at once
	 * (EAGAIN). Only for a pipe: a terminal's flags are shared with the
	 * shell. cli_output_done puts the flags back. */
	if (pipe_out_flags >= 0)
		(void)fcntl(1, F_SETFL, pipe_out_flags | O_NONBLOCK);
}

void cli_catch_signals(void)
{
	struct stat st;
	if (fstat(1, &st) == 0 && S_ISFIFO(st.st_mode))
		pipe_out_flags = fcntl(1, F_GETFL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking reads, writes and sleeps return EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void cli_sleep_ms(int ms)
{
	if (cli_stop || ms <= 0)
		return;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL); /* EINTR on a signal: the caller checks cli_stop */
}

/* ---- stdout ------------------------------------------------------------------------- */

void cli_output_init(void)
{
	signal(SIGPIPE, SIG_IGN);
}

int cli_output_done(void)
{
	errno = 0;
	int ok = fflush(stdout) == 0 && !ferror(stdout);
	int err = errno;
	if (cli_stop && pipe_out_flags >= 0)
		(void)fcntl(1, F_SETFL, pipe_out_flags);
	if (ok)
		return CLI_OK;
	if (err == EPIPE || cli_stop || cli_output_gone())
		return -1;
	errno = err;
	cli_errf("writing the output failed: %s", strerror(errno ? errno : EIO));
	return CLI_ERROR;
}

int cli_output_gone(void)
{
	struct pollfd pfd = { 1, 0, 0 };
	/* A pipe whose reader closed reports POLLERR; a terminal or file never
	 * does. Nothing is written, so nothing is lost if the answer is no. */
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

void cli_json_str(const char *s)
{
	enc_json_string(stdout, s, strlen(s));
}

void cli_json_b64(const void *p, size_t n)
{
	fputc('"', stdout);
	enc_base64(stdout, p, n);
	fputc('"', stdout);
}

/* ---- command groups ----------------------------------------------------------------- */

int cli_dispatch(cli_ctx *c, const char *group, const cli_sub *subs, const char *help, int argc,
		 char **argv)
{
	if (argc < 2) {
		c->cmd = group;
		return cli_usage(c, "missing subcommand");
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(help, stdout);
		return CLI_OK;
	}
	for (const cli_sub *s = subs; s->name; s++) {
		if (strcmp(s->name, sub))
			continue;
		static char cmd[64];
		snprintf(cmd, sizeof cmd, "%s %s", group, s->name);
		c->cmd = cmd;
		return s->fn(c, argc - 1, argv + 1);
	}
	c->cmd = group;
	return cli_usage(c, "unknown subcommand \"%s\"", sub);
}
