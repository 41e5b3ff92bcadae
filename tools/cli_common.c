/* SPDX-License-Identifier: MIT */
/* cli_common.c -- messages, options, store opening, signals (see cli.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_parse.h"

volatile sig_atomic_t cli_stop;

void cli_errf(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("varve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage(const cli_ctx *c, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "varve: %s%s", c && c->cmd ? c->cmd : "", c && c->cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'varve %s%s--help'.\n", c && c->cmd ? c->cmd : "",
		c && c->cmd ? " " : "");
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
		case 'h':
			fputs(help, stdout);
			return 'h';
		case ':':
		case '?': {
			const char *bad = (prev < argc) ? argv[prev] : "";
			if (optind > 0 && optind - 1 < argc && argv[optind - 1][0] == '-')
				bad = argv[optind - 1];
			if (optopt && optopt != '?' && (!bad[0] || bad[1] != '-')) {
				if (ch == ':')
					cli_usage(c, "option -%c needs a value", optopt);
				else
					cli_usage(c, "unknown option -%c", optopt);
			} else {
				if (ch == ':')
					cli_usage(c, "option %s needs a value", bad);
				else
					cli_usage(c, "unknown option %s", bad);
			}
			return '?';
		}
		default:
			return ch;
		}
	}
}

int cli_operands(int argc, char **argv, char ***ops)
{
	*ops = argv + optind;
	return argc - optind;
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
	if (cli_parse_time_ms(s, cli_now_ms(), out) || *out < 0)
		return cli_usage(c,
				 "%s: \"%s\" is not a time (RFC 3339 like 2026-11-26T10:00:00Z or "
				 "2026-11-26T11:00:00+01:00, epoch milliseconds, now-1h)",
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
	fprintf(stderr, "varve: %s: %s\n", level >= 0 && level <= 3 ? names[level] : "log", message);
}

int cli_open(const cli_ctx *c, const cli_open_opts *o, varve_db **db)
{
	*db = NULL;
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: use -d DIR or set VARVE_DIR");
	varve_options vo;
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	vo.read_only = !o->writer;
	vo.create_if_missing = o->writer && o->create;
	vo.sync_policy = o->sync_policy;
	vo.start_cleaner = o->writer && o->cleaner;
	vo.log_fn = log_cb;
	vo.log_ctx = (void *)c;
	int rc = varve_open(c->dir, &vo, db);
	if (rc == VARVE_OK)
		return CLI_OK;
	if (rc == VARVE_ELOCKED) {
		cli_errf("%s: store is open by a writer; stop it first%s%s%s", c->dir,
			 o->why ? " (" : "", o->why ? o->why : "", o->why ? ")" : "");
		return CLI_ERROR;
	}
	if (rc == VARVE_ENOTFOUND && !o->writer) {
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

int cli_topic_partitions(varve_db *db, const char *topic, uint32_t *n)
{
	varve_topic_config tc;
	varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
	int rc = varve_topic_describe(db, topic, &tc);
	if (rc == VARVE_ENOTFOUND) {
		cli_errf("no topic named %s", topic);
		return CLI_ERROR;
	}
	if (rc)
		return cli_fail(topic, rc);
	*n = tc.partitions;
	return CLI_OK;
}

/* ---- signals ----------------------------------------------------------------------- */

static void on_signal(int sig)
{
	cli_stop = sig;
}

void cli_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking reads and sleeps return EINTR */
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
