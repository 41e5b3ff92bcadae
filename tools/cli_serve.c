/* SPDX-License-Identifier: MIT */
/*
 * cli_serve.c -- varve serve: serve a store to Kafka clients (the broker of
 * server/broker, docs/KAFKA.md).
 *
 * Start: open the store as its writer (a locked store is refused with a
 * message), make sure <store>/CLUSTER_ID exists (a random Kafka-style id
 * made once, so the cluster id is stable across restarts), listen (a taken
 * port is refused with a message), write <store>/SERVER (the advertised
 * address, one line, atomically) and print one line on stdout,
 * "varve serve: listening on HOST:PORT ...", once clients may connect.
 * Nothing else goes to stdout; messages go to stderr (-v for more).
 *
 * Listeners: --listen is repeatable, HOST:PORT (PLAINTEXT) or Kafka's
 * PROTOCOL://HOST:PORT (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); TLS
 * listeners share one certificate (--tls-cert/--tls-key, client
 * certificates verified against --tls-ca), SASL listeners check the SCRAM
 * credentials in <store>/users (`varve user`). SIGHUP reloads the
 * certificate for new connections and re-reads the users file. The ready
 * line's "advertised as" is the first listener's address; SERVER is the
 * first PLAINTEXT listener's (the varve command's way in: it has no
 * credentials), else the first listener's as PROTOCOL://HOST:PORT.
 *
 * Stop on SIGTERM or SIGINT: the broker stops accepting, answers or drops
 * what is in flight (the loop's graceful stop), the workers stop, SERVER is
 * removed and the store is closed cleanly (the next open needs no
 * recovery). Exit 0 after a clean stop, 1 on an error, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/work.h"
#include "cli.h"
#include "net/tls.h"
#include "security/sasl.h"
#include "security/users.h"

static const char serve_help[] =
	"usage: varve serve DIR [options]\n"
	"\n"
	"Serve the store in DIR (or -d DIR) to Kafka clients: a one-node Kafka cluster\n"
	"(node 0). Stop it with SIGTERM or Ctrl-C. See docs/KAFKA.md.\n"
	"\n"
	"  --listen [PROTOCOL://]HOST:PORT  a Kafka listener (default 127.0.0.1:9092; port 0 picks\n"
	"                             one); repeatable. PROTOCOL: PLAINTEXT (the default), SSL,\n"
	"                             SASL_PLAINTEXT, SASL_SSL\n"
	"  --metrics HOST:PORT|none   Prometheus /metrics over HTTP (default 127.0.0.1:9644)\n"
	"  --advertise [PROTOCOL://]HOST:PORT  the address clients of a listener are told to use\n"
	"                             (default: the listener's); without PROTOCOL the first one\n"
	"  --auto-create-topics       create unknown topics a client asks for (default)\n"
	"  --no-auto-create-topics    ... or not\n"
	"  --default-partitions N     partitions of auto-created topics and CreateTopics with -1 (1)\n"
	"  --sync always|interval|none  the store's sync policy (default always)\n"
	"  --max-request-bytes N      largest request accepted (default 100MiB)\n"
	"  --max-message-bytes N      largest record batch the store accepts (default 64MiB)\n"
	"  --max-connections N        (default 10000)\n"
	"  --max-connections-per-ip N (default 1000)\n"
	"  --idle-timeout-ms N        close idle connections after N ms; 0 never (default 600000)\n"
	"  --workers N                threads for store calls that may wait on the disk (default 2)\n"
	"  --lag-refresh-ms N         how often /metrics recomputes group lag (default 5000)\n"
	"  -v                         log the store's and the broker's messages to stderr\n"
	"\n"
	"Limits, backpressure and quotas (docs/SECURITY.md; quotas per user or client id\n"
	"are set with `varve quota` in DIR/quotas):\n"
	"  --max-inflight-requests N  requests read ahead of their answers per connection (100)\n"
	"  --max-output-bytes N       unsent answer bytes per connection before it is not read (64MiB)\n"
	"  --max-inflight-bytes N     produced bytes not yet durable; past it producing\n"
	"                             connections are not read (64MiB)\n"
	"  --max-inflated-batch-bytes N  a Produce batch's records decompressed (64MiB)\n"
	"  --max-partitions-per-request N  topic-partitions one request may name (10000)\n"
	"  --max-groups-per-request N groups one request may name (10000)\n"
	"  --quota-produce-bytes-per-sec N  default produce quota per client id (none)\n"
	"  --quota-fetch-bytes-per-sec N    default fetch quota per client id (none)\n"
	"  --quota-requests-per-sec N       default request quota per client id (none)\n"
	"  --quota-max-throttle-ms N  longest throttle given at once (10000)\n"
	"\n"
	"Security (docs/SECURITY.md):\n"
	"  --tls-cert FILE            PEM certificate chain of SSL and SASL_SSL listeners\n"
	"  --tls-key FILE             its PEM private key (not encrypted)\n"
	"  --tls-ca FILE              verify client certificates against these PEM CAs (mutual\n"
	"                             TLS; principal User:<subject>)\n"
	"  --tls-client-auth required|requested  with --tls-ca: refuse clients without a\n"
	"                             certificate (default), or let them in anonymous\n"
	"  --sasl-mechanisms LIST     offered on SASL listeners: SCRAM-SHA-256, SCRAM-SHA-512,\n"
	"                             PLAIN (default SCRAM-SHA-256,SCRAM-SHA-512); credentials\n"
	"                             from `varve user` in DIR/users\n"
	"  --allow-plain-without-tls  offer PLAIN on SASL_PLAINTEXT listeners too (the password\n"
	"                             crosses the network in the clear)\n"
	"SIGHUP reloads the certificate (new connections) and the users file.\n"
	"Permissions: the ACLs in DIR/acls (see 'varve acl'), re-read when they change\n"
	"and on SIGHUP.\n"
	"  --super-user PRINCIPAL     a principal no ACL applies to, e.g. User:admin (repeatable)\n";

enum {
	OPT_LISTEN = 256,
	OPT_METRICS,
	OPT_ADVERTISE,
	OPT_AUTO,
	OPT_NO_AUTO,
	OPT_PARTITIONS,
	OPT_SYNC,
	OPT_MAX_REQUEST,
	OPT_MAX_MESSAGE,
	OPT_MAX_CONN,
	OPT_MAX_CONN_IP,
	OPT_IDLE,
	OPT_WORKERS,
	OPT_LAG_REFRESH,
	/* limits, backpressure and quotas */
	OPT_MAX_INFLIGHT_REQ,
	OPT_MAX_OUTPUT,
	OPT_MAX_INFLIGHT_BYTES,
	OPT_MAX_INFLATED,
	OPT_MAX_PARTS_REQ,
	OPT_MAX_GROUPS_REQ,
	OPT_QUOTA_PRODUCE,
	OPT_QUOTA_FETCH,
	OPT_QUOTA_REQUESTS,
	OPT_QUOTA_MAX_THROTTLE,
	/* security */
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_TLS_CLIENT_AUTH,
	OPT_SASL_MECHANISMS,
	OPT_ALLOW_PLAIN,
	/* permissions */
	OPT_SUPER_USER,
};

#define MAX_LISTENERS 16

/* One --listen or --advertise: [PROTOCOL://]HOST:PORT. */
typedef struct listener_opt {
	int security;     /* VS_SECURITY_*; -1: not given (--advertise for the first) */
	const char *addr; /* HOST:PORT, inside argv */
} listener_opt;

/* --super-user may be given this many times. */
#define MAX_SUPER_USERS 64

typedef struct serve_opts {
	const char *metrics;
	int auto_create;
	int64_t partitions;
	int sync_policy;
	uint64_t max_request, max_message;
	int64_t max_conn, max_conn_ip, idle_ms, workers, lag_refresh_ms;
	/* limits, backpressure and quotas: 0 is the default */
	int64_t max_inflight_req, max_parts_req, max_groups_req, max_throttle_ms;
	uint64_t max_output, max_inflight_bytes, max_inflated;
	uint64_t quota[VS_QUOTA_KINDS];
	/* listeners and security */
	listener_opt listen[MAX_LISTENERS], advertise[MAX_LISTENERS];
	int n_listen, n_advertise;
	const char *tls_cert, *tls_key, *tls_ca;
	int tls_client_auth;
	unsigned sasl_mechanisms; /* 0: not given */
	int allow_plain;
	/* permissions */
	const char *super_users[MAX_SUPER_USERS];
	size_t super_user_count;
	char acl_file[4200];
} serve_opts;

static vs_broker *volatile running;

static void on_stop_signal(int sig)
{
	(void)sig;
	if (running)
		vs_broker_stop(running);
}

static void on_reload_signal(int sig)
{
	(void)sig;
	if (running)
		vs_broker_reload(running);
}

/* ---- security options ------------------------------------------------------------------ */

/* "[PROTOCOL://]HOST:PORT" into *out; PROTOCOL defaults to dflt. */
static int parse_listener(const cli_ctx *c, const char *opt, const char *s, int dflt,
			  listener_opt *out)
{
	const char *sep = strstr(s, "://");
	out->security = dflt;
	out->addr = s;
	if (sep) {
		out->security = vs_security_by_name(s, (size_t)(sep - s));
		if (out->security < 0)
			return cli_usage(c, "%s: \"%.*s\" is not PLAINTEXT, SSL, SASL_PLAINTEXT or "
					 "SASL_SSL", opt, (int)(sep - s), s);
		out->addr = sep + 3;
	}
	return 0;
}

static int add_listener(const cli_ctx *c, const char *opt, const char *s, int dflt,
			listener_opt *list, int *n)
{
	if (*n >= MAX_LISTENERS)
		return cli_usage(c, "%s: at most %d", opt, MAX_LISTENERS);
	return parse_listener(c, opt, s, dflt, &list[(*n)++]);
}

static int parse_security(cli_ctx *c, int ch, serve_opts *o)
{
	char bad[80];
	switch (ch) {
	case OPT_TLS_CERT:
		o->tls_cert = optarg;
		return 0;
	case OPT_TLS_KEY:
		o->tls_key = optarg;
		return 0;
	case OPT_TLS_CA:
		o->tls_ca = optarg;
		return 0;
	case OPT_TLS_CLIENT_AUTH:
		if (!strcmp(optarg, "required"))
			o->tls_client_auth = VS_TLS_CLIENT_REQUIRED;
		else if (!strcmp(optarg, "requested"))
			o->tls_client_auth = VS_TLS_CLIENT_REQUESTED;
		else
			return cli_usage(c, "--tls-client-auth: \"%s\" is not required or requested",
					 optarg);
		return 0;
	case OPT_SASL_MECHANISMS:
		if (vs_sasl_mechanisms_parse(optarg, &o->sasl_mechanisms, bad, sizeof bad))
			return cli_usage(c, "--sasl-mechanisms: \"%s\" is not SCRAM-SHA-256, "
					 "SCRAM-SHA-512 or PLAIN", bad);
		return 0;
	case OPT_ALLOW_PLAIN:
		o->allow_plain = 1;
		return 0;
	default:
		return CLI_USAGE;
	}
}

static int is_tls(int security)
{
	return security == VS_SECURITY_SSL || security == VS_SECURITY_SASL_SSL;
}

static int is_sasl(int security)
{
	return security == VS_SECURITY_SASL_PLAINTEXT || security == VS_SECURITY_SASL_SSL;
}

/* The security options agree with the listeners: CLI_OK or a usage error. */
static int check_security(const cli_ctx *c, const serve_opts *o)
{
	int tls = 0, sasl = 0, sasl_tls = 0;
	for (int i = 0; i < o->n_listen; i++) {
		tls |= is_tls(o->listen[i].security);
		sasl |= is_sasl(o->listen[i].security);
		sasl_tls |= o->listen[i].security == VS_SECURITY_SASL_SSL;
	}
	if (tls && (!o->tls_cert || !o->tls_key))
		return cli_usage(c, "SSL and SASL_SSL listeners need --tls-cert and --tls-key");
	if (!tls && (o->tls_cert || o->tls_key || o->tls_ca))
		return cli_usage(c, "--tls-cert, --tls-key and --tls-ca need an SSL or SASL_SSL listener");
	if (o->tls_client_auth && !o->tls_ca)
		return cli_usage(c, "--tls-client-auth needs --tls-ca");
	if (!sasl && (o->sasl_mechanisms || o->allow_plain))
		return cli_usage(c, "--sasl-mechanisms and --allow-plain-without-tls need a "
				 "SASL_PLAINTEXT or SASL_SSL listener");
	if ((o->sasl_mechanisms & VS_SASL_PLAIN) && !sasl_tls && !o->allow_plain)
		return cli_usage(c, "PLAIN is offered over TLS only (a SASL_SSL listener), unless "
				 "--allow-plain-without-tls");
	for (int i = 0; i < o->n_advertise; i++) {
		int found = o->advertise[i].security < 0;
		for (int k = 0; k < o->n_listen && !found; k++)
			found = o->listen[k].security == o->advertise[i].security;
		if (!found)
			return cli_usage(c, "--advertise %s://...: no such listener",
					 vs_security_name(o->advertise[i].security));
	}
	return CLI_OK;
}

static int parse_sync(const cli_ctx *c, const char *s, int *out)
{
	if (!strcmp(s, "always"))
		*out = VARVE_SYNC_ALWAYS;
	else if (!strcmp(s, "interval"))
		*out = VARVE_SYNC_INTERVAL;
	else if (!strcmp(s, "none"))
		*out = VARVE_SYNC_NONE;
	else
		return cli_usage(c, "--sync: \"%s\" is not always, interval or none", s);
	return 0;
}

static int parse_size(const cli_ctx *c, const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	int rc = cli_arg_size(c, opt, s, out);
	if (rc == 0 && (*out < 1 || *out > max))
		return cli_usage(c, "%s: %s is out of range [1, %" PRIu64 "]", opt, s, max);
	return rc;
}

/* The limits, backpressure and quota options. */
static int parse_limit(cli_ctx *c, int ch, serve_opts *o)
{
	switch (ch) {
	case OPT_MAX_INFLIGHT_REQ:
		return cli_arg_i64(c, "--max-inflight-requests", optarg, 1, 1 << 20,
				   &o->max_inflight_req);
	case OPT_MAX_OUTPUT:
		return parse_size(c, "--max-output-bytes", optarg, INT64_MAX, &o->max_output);
	case OPT_MAX_INFLIGHT_BYTES:
		return parse_size(c, "--max-inflight-bytes", optarg, INT64_MAX,
				  &o->max_inflight_bytes);
	case OPT_MAX_INFLATED:
		return parse_size(c, "--max-inflated-batch-bytes", optarg, INT32_MAX,
				  &o->max_inflated);
	case OPT_MAX_PARTS_REQ:
		return cli_arg_i64(c, "--max-partitions-per-request", optarg, 1, UINT32_MAX,
				   &o->max_parts_req);
	case OPT_MAX_GROUPS_REQ:
		return cli_arg_i64(c, "--max-groups-per-request", optarg, 1, UINT32_MAX,
				   &o->max_groups_req);
	case OPT_QUOTA_PRODUCE:
		return parse_size(c, "--quota-produce-bytes-per-sec", optarg, VS_QUOTA_MAX_RATE,
				  &o->quota[VS_QUOTA_PRODUCE]);
	case OPT_QUOTA_FETCH:
		return parse_size(c, "--quota-fetch-bytes-per-sec", optarg, VS_QUOTA_MAX_RATE,
				  &o->quota[VS_QUOTA_FETCH]);
	case OPT_QUOTA_REQUESTS:
		return parse_size(c, "--quota-requests-per-sec", optarg, VS_QUOTA_MAX_RATE,
				  &o->quota[VS_QUOTA_REQUEST]);
	case OPT_QUOTA_MAX_THROTTLE:
		return cli_arg_i64(c, "--quota-max-throttle-ms", optarg, 1, INT32_MAX,
				   &o->max_throttle_ms);
	default:
		return CLI_USAGE;
	}
}

static int parse_one(cli_ctx *c, int ch, serve_opts *o)
{
	switch (ch) {
	case OPT_LISTEN:
		return add_listener(c, "--listen", optarg, VS_SECURITY_PLAINTEXT, o->listen, &o->n_listen);
	case OPT_METRICS:
		o->metrics = optarg;
		return 0;
	case OPT_ADVERTISE:
		return add_listener(c, "--advertise", optarg, -1, o->advertise, &o->n_advertise);
	case OPT_AUTO:
	case OPT_NO_AUTO:
		o->auto_create = ch == OPT_AUTO;
		return 0;
	case OPT_PARTITIONS:
		return cli_arg_i64(c, "--default-partitions", optarg, 1, VARVE_MAX_PARTITIONS,
				   &o->partitions);
	case OPT_SYNC:
		return parse_sync(c, optarg, &o->sync_policy);
	case OPT_MAX_REQUEST:
		return parse_size(c, "--max-request-bytes", optarg, INT32_MAX, &o->max_request);
	case OPT_MAX_MESSAGE:
		return parse_size(c, "--max-message-bytes", optarg, UINT32_MAX, &o->max_message);
	case OPT_MAX_CONN:
		return cli_arg_i64(c, "--max-connections", optarg, 1, UINT32_MAX, &o->max_conn);
	case OPT_MAX_CONN_IP:
		return cli_arg_i64(c, "--max-connections-per-ip", optarg, 1, UINT32_MAX,
				   &o->max_conn_ip);
	case OPT_IDLE:
		return cli_arg_i64(c, "--idle-timeout-ms", optarg, 0, INT64_MAX / 2, &o->idle_ms);
	case OPT_WORKERS:
		return cli_arg_i64(c, "--workers", optarg, 1, VS_WORK_MAX_THREADS, &o->workers);
	case OPT_LAG_REFRESH:
		return cli_arg_i64(c, "--lag-refresh-ms", optarg, 1, INT32_MAX, &o->lag_refresh_ms);
	case OPT_SUPER_USER:
		if (strncmp(optarg, "User:", 5) || !optarg[5])
			return cli_usage(c, "--super-user: \"%s\" is not User:NAME", optarg);
		if (o->super_user_count == MAX_SUPER_USERS)
			return cli_usage(c, "--super-user: at most %d", MAX_SUPER_USERS);
		o->super_users[o->super_user_count++] = optarg;
		return 0;
	default:
		/* limits and quotas, then security */
		if (ch <= OPT_QUOTA_MAX_THROTTLE)
			return parse_limit(c, ch, o);
		return parse_security(c, ch, o);
	}
}

/* 0, -1 after --help, or CLI_USAGE. */
static int parse_args(cli_ctx *c, int argc, char **argv, serve_opts *o)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "advertise", required_argument, NULL, OPT_ADVERTISE },
		{ "auto-create-topics", no_argument, NULL, OPT_AUTO },
		{ "no-auto-create-topics", no_argument, NULL, OPT_NO_AUTO },
		{ "default-partitions", required_argument, NULL, OPT_PARTITIONS },
		{ "sync", required_argument, NULL, OPT_SYNC },
		{ "max-request-bytes", required_argument, NULL, OPT_MAX_REQUEST },
		{ "max-message-bytes", required_argument, NULL, OPT_MAX_MESSAGE },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONN },
		{ "max-connections-per-ip", required_argument, NULL, OPT_MAX_CONN_IP },
		{ "idle-timeout-ms", required_argument, NULL, OPT_IDLE },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "lag-refresh-ms", required_argument, NULL, OPT_LAG_REFRESH },
		{ "max-inflight-requests", required_argument, NULL, OPT_MAX_INFLIGHT_REQ },
		{ "max-output-bytes", required_argument, NULL, OPT_MAX_OUTPUT },
		{ "max-inflight-bytes", required_argument, NULL, OPT_MAX_INFLIGHT_BYTES },
		{ "max-inflated-batch-bytes", required_argument, NULL, OPT_MAX_INFLATED },
		{ "max-partitions-per-request", required_argument, NULL, OPT_MAX_PARTS_REQ },
		{ "max-groups-per-request", required_argument, NULL, OPT_MAX_GROUPS_REQ },
		{ "quota-produce-bytes-per-sec", required_argument, NULL, OPT_QUOTA_PRODUCE },
		{ "quota-fetch-bytes-per-sec", required_argument, NULL, OPT_QUOTA_FETCH },
		{ "quota-requests-per-sec", required_argument, NULL, OPT_QUOTA_REQUESTS },
		{ "quota-max-throttle-ms", required_argument, NULL, OPT_QUOTA_MAX_THROTTLE },
		/* security */
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
		{ "tls-client-auth", required_argument, NULL, OPT_TLS_CLIENT_AUTH },
		{ "sasl-mechanisms", required_argument, NULL, OPT_SASL_MECHANISMS },
		{ "allow-plain-without-tls", no_argument, NULL, OPT_ALLOW_PLAIN },
		{ "super-user", required_argument, NULL, OPT_SUPER_USER },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT, lo, serve_help)) != -1) {
		if (ch == 'h')
			return -1;
		if (ch == '?' || parse_one(c, ch, o))
			return CLI_USAGE;
	}
	char **ops;
	int n = cli_operands(argc, argv, &ops);
	if (n > 1)
		return cli_usage(c, "unexpected argument \"%s\"", ops[1]);
	if (n == 1) /* the operand wins over -d and $VARVE_DIR */
		c->dir = ops[0];
	if (!c->dir || !*c->dir)
		return cli_usage(c, "no store given: varve serve DIR (or -d DIR, or $VARVE_DIR)");
	return 0;
}

/* ---- files in the store directory ----------------------------------------------------- */

/* Write text to dir/name atomically: a temporary file, fsync, rename. */
static int write_atomic(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t n = strlen(text);
	int rc = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Kafka cluster ids are 16 random bytes in URL-safe base64 without padding. */
static int make_cluster_id(char out[23])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t r[18] = { 0 };
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t got = read(fd, r, 16);
	close(fd);
	if (got != 16)
		return -EIO;
	for (int i = 0, o = 0; i < 18 && o < 22; i += 3) {
		uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
		for (int k = 3; k >= 0 && o < 22; k--)
			out[o++] = b64[(v >> (6 * k)) & 63];
	}
	out[22] = 0;
	return 0;
}

/* The store's cluster id: <dir>/CLUSTER_ID, made on the first start. */
static int cluster_id(const char *dir, char *out, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/CLUSTER_ID", dir);
	FILE *f = fopen(path, "re");
	if (f) {
		int ok = fgets(out, (int)cap, f) != NULL;
		fclose(f);
		out[strcspn(out, "\r\n")] = 0;
		if (ok && *out)
			return 0;
	}
	char id[23];
	int rc = make_cluster_id(id);
	if (rc == 0) {
		char line[32];
		snprintf(line, sizeof line, "%s\n", id);
		rc = write_atomic(dir, "CLUSTER_ID", line);
	}
	if (rc)
		cli_errf("%s: cannot write CLUSTER_ID: %s", dir, strerror(-rc));
	snprintf(out, cap, "%s", rc ? "" : id);
	return rc;
}

static void server_file_remove(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/SERVER", dir);
	if (unlink(path) && errno != ENOENT)
		cli_errf("%s: %s", path, strerror(errno));
}

/* ---- addresses --------------------------------------------------------------------------- */

/* Split "host:port" ("[v6]:port"); the host may be empty (every interface). */
static int split_addr(const char *addr, char *host, size_t cap, int32_t *port)
{
	const char *colon = strrchr(addr, ':');
	if (!colon)
		return -1;
	const char *h = addr;
	size_t n = (size_t)(colon - addr);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (n >= cap || !colon[1] || *end || p < 0 || p > 65535)
		return -1;
	memcpy(host, h, n);
	host[n] = 0;
	*port = (int32_t)p;
	return 0;
}

static int any_address(const char *host)
{
	return !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

/* The --advertise for listener i: one naming its protocol (for the first
 * listener of that protocol), or one without a protocol for listener 0. */
static const listener_opt *advertise_for(const serve_opts *o, int i)
{
	int first_of_kind = 1;
	for (int k = 0; k < i; k++)
		first_of_kind &= o->listen[k].security != o->listen[i].security;
	for (int k = 0; k < o->n_advertise; k++) {
		const listener_opt *a = &o->advertise[k];
		if ((a->security < 0 && i == 0) || (a->security == o->listen[i].security && first_of_kind))
			return a;
	}
	return NULL;
}

/* What clients of listener i are told: its --advertise, else its host with
 * its real port (the machine's name when it listens on every interface). */
static int advertised(const serve_opts *o, int i, int bound, char *host, size_t cap, int32_t *port)
{
	const listener_opt *a = advertise_for(o, i);
	if (a)
		return split_addr(a->addr, host, cap, port) || !*host || *port == 0 ? -1 : 0;
	if (split_addr(o->listen[i].addr, host, cap, port))
		return -1;
	if (any_address(host) && gethostname(host, cap))
		snprintf(host, cap, "localhost");
	*port = bound;
	return 0;
}

/* ---- running ------------------------------------------------------------------------------ */

static void log_to_stderr(void *ctx, int level, const char *message)
{
	const cli_ctx *c = ctx;
	if (level < VARVE_LOG_WARN && !c->verbose)
		return;
	static const char *const names[] = { "debug", "info", "warning", "error" };
	cli_errf("serve: %s: %s", level >= 0 && level <= 3 ? names[level] : "log", message);
}

static int open_store(cli_ctx *c, const serve_opts *o, varve_db **db)
{
	varve_options vo;
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	vo.sync_policy = o->sync_policy;
	vo.create_if_missing = 1;
	vo.start_cleaner = 1;
	vo.max_record_bytes = (uint32_t)o->max_message;
	/* the broker appends on its network thread: past the in-flight bound
	 * it must be told to wait (VARVE_EAGAIN), not be blocked */
	vo.inflight_block = 0;
	if (o->max_inflight_bytes)
		vo.max_inflight_bytes = o->max_inflight_bytes;
	vo.log_fn = log_to_stderr;
	vo.log_ctx = c;
	int rc = varve_open(c->dir, &vo, db);
	if (rc == VARVE_ELOCKED) {
		cli_errf("%s: the store is locked by another writer (another varve serve? its "
			 "address is in %s/SERVER); stop it first", c->dir, c->dir);
		return CLI_ERROR;
	}
	return rc ? cli_fail(c->dir, rc) : CLI_OK;
}

/* The limits and quotas of the broker (0 in o: the default stays). */
static void limits_config(const serve_opts *o, const char *quotas_path, vs_broker_config *bc)
{
	if (o->max_inflight_req)
		bc->loop.max_inflight_requests = (uint32_t)o->max_inflight_req;
	if (o->max_output)
		bc->loop.max_output_bytes = (size_t)o->max_output;
	if (o->max_inflated) {
		/* one batch per partition: its bound is also the call's */
		bc->records.max_inflated_batch_bytes = (size_t)o->max_inflated;
		bc->records.max_total_inflated_bytes = (size_t)o->max_inflated;
	}
	if (o->max_parts_req)
		bc->max_partitions_per_request = (uint32_t)o->max_parts_req;
	if (o->max_groups_req)
		bc->max_groups_per_request = (uint32_t)o->max_groups_req;
	bc->quota.path = quotas_path;
	for (int k = 0; k < VS_QUOTA_KINDS; k++)
		bc->quota.default_rate[k] = (int64_t)o->quota[k];
	if (o->max_throttle_ms)
		bc->quota.max_throttle_ms = o->max_throttle_ms;
	varve_options vo; /* the store's default, for /metrics */
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	bc->store_inflight_bytes = o->max_inflight_bytes ? o->max_inflight_bytes
							 : vo.max_inflight_bytes;
}

static void broker_config(cli_ctx *c, const serve_opts *o, varve_db *db, const char *id,
			  const char *users_path, const char *quotas_path, vs_broker_config *bc)
{
	vs_broker_config_default(bc);
	bc->db = db;
	bc->cluster_id = id;
	bc->auto_create_topics = o->auto_create;
	bc->default_partitions = (int32_t)o->partitions;
	bc->sync_policy = o->sync_policy;
	bc->limits.max_message_bytes = (uint32_t)o->max_message;
	/* message.max.bytes is Kafka's limit on one batch as sent: the server
	 * takes what it reports */
	bc->records.max_batch_bytes = (size_t)o->max_message;
	bc->loop.max_request_bytes = (size_t)o->max_request;
	bc->loop.max_connections = (uint32_t)o->max_conn;
	bc->loop.max_connections_per_ip = (uint32_t)o->max_conn_ip;
	bc->loop.idle_timeout_ms = o->idle_ms;
	bc->work_threads = (unsigned)o->workers;
	bc->lag_refresh_ms = o->lag_refresh_ms;
	bc->log_fn = log_to_stderr;
	bc->log_ctx = c;
	bc->verbose = c->verbose;
	/* security */
	bc->users_path = users_path;
	bc->sasl_mechanisms = o->sasl_mechanisms;
	bc->allow_plain_without_tls = o->allow_plain;
	/* permissions: the store's ACL file (docs/SECURITY.md) */
	bc->acl_file = o->acl_file;
	bc->super_users = o->super_users;
	bc->super_user_count = o->super_user_count;
	limits_config(o, quotas_path, bc);
}

/* The TLS configuration of SSL and SASL_SSL listeners; NULL if none (or on
 * an error, said). */
static int make_tls(const serve_opts *o, vs_tls **tls)
{
	*tls = NULL;
	if (!o->tls_cert)
		return CLI_OK;
	vs_tls_config tc = { o->tls_cert, o->tls_key, o->tls_ca, o->tls_client_auth };
	char err[512];
	if (vs_tls_new(&tc, tls, err, sizeof err)) {
		cli_errf("TLS: %s", err);
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* A SASL listener with nobody to let in is worth a warning. */
static void check_users(const serve_opts *o, const char *users_path)
{
	int sasl = 0;
	for (int i = 0; i < o->n_listen; i++)
		sasl |= is_sasl(o->listen[i].security);
	if (!sasl)
		return;
	vs_users u;
	vs_users_init(&u);
	char err[300];
	if (vs_users_load(users_path, &u, err, sizeof err))
		cli_errf("serve: warning: %s (fix it with `varve user`)", err);
	else if (u.n == 0)
		cli_errf("serve: warning: %s has no users yet: nobody can authenticate on the SASL "
			 "listeners until `varve user add NAME` (no restart needed)", users_path);
	vs_users_free(&u);
}

static int listen_all(const serve_opts *o, vs_broker *b, vs_tls *tls, int *ports, int *mport)
{
	for (int i = 0; i < o->n_listen; i++) {
		const listener_opt *l = &o->listen[i];
		if (vs_broker_listen_secure(b, l->addr, l->security, is_tls(l->security) ? tls : NULL,
					    &ports[i])) {
			cli_errf("cannot listen: %s", vs_broker_error(b));
			return CLI_ERROR;
		}
	}
	if (o->metrics && vs_broker_listen(b, o->metrics, 0, mport)) {
		cli_errf("cannot listen: %s", vs_broker_error(b));
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* "varve serve: listening on A, SASL_SSL://B, ..." (PLAINTEXT ones bare). */
static void print_listeners(const serve_opts *o, const int *ports)
{
	printf("varve serve: listening on ");
	for (int i = 0; i < o->n_listen; i++) {
		char lhost[256];
		int32_t lport;
		split_addr(o->listen[i].addr, lhost, sizeof lhost, &lport);
		if (i)
			printf(", ");
		if (o->listen[i].security != VS_SECURITY_PLAINTEXT)
			printf("%s://", vs_security_name(o->listen[i].security));
		printf(strchr(lhost, ':') ? "[%s]:%d" : "%s:%d", lhost, ports[i]);
	}
}

/* Listen, advertise, write SERVER, say so: CLI_OK or the exit code. */
static int start(cli_ctx *c, const serve_opts *o, vs_broker *b, vs_tls *tls)
{
	int ports[MAX_LISTENERS] = { 0 }, mport = 0;
	int rc = listen_all(o, b, tls, ports, &mport);
	if (rc)
		return rc;
	char line[300], server_line[320] = "";
	for (int i = 0; i < o->n_listen; i++) {
		char host[256];
		int32_t aport;
		if (advertised(o, i, ports[i], host, sizeof host, &aport) ||
		    vs_broker_advertise_listener(b, i, host, aport) ||
		    (i == 0 && vs_broker_advertise(b, host, aport))) {
			const listener_opt *a = advertise_for(o, i);
			return cli_usage(c, "--advertise: \"%s\" is not HOST:PORT",
					 a ? a->addr : o->listen[i].addr);
		}
		char addr[300];
		snprintf(addr, sizeof addr,
			 strchr(host, ':') ? "[%s]:%" PRId32 "\n" : "%s:%" PRId32 "\n", host, aport);
		if (i == 0)
			snprintf(line, sizeof line, "%s", addr);
		if (!*server_line && o->listen[i].security == VS_SECURITY_PLAINTEXT)
			snprintf(server_line, sizeof server_line, "%s", addr);
	}
	/* SERVER is where the varve command goes when the store is held: a
	 * plaintext listener (it has no credentials). Without one, the first
	 * listener with its protocol, which the command then reports it
	 * cannot use. */
	if (!*server_line)
		snprintf(server_line, sizeof server_line, "%s://%s",
			 vs_security_name(o->listen[0].security), line);
	rc = write_atomic(c->dir, "SERVER", server_line);
	if (rc) {
		cli_errf("%s: cannot write SERVER: %s", c->dir, strerror(-rc));
		return CLI_ERROR;
	}
	print_listeners(o, ports);
	if (o->metrics)
		printf(", metrics on port %d", mport);
	printf(", advertised as %s", line);
	fflush(stdout);
	return CLI_OK;
}

/* A quotas file that cannot be used stops the start, with its line: a
 * server must not run without limits its operator set. */
static int check_quotas_file(const cli_ctx *c)
{
	char path[4096], err[600];
	snprintf(path, sizeof path, "%s/quotas", c->dir);
	vs_quota_list l = { 0 };
	int rc = vs_quota_file_read(path, &l, NULL, err, sizeof err);
	vs_quota_list_free(&l);
	if (rc) {
		cli_errf("%s", err);
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* Every connection is a descriptor: take the hard limit, as servers do, so
 * --max-connections rather than a small default soft limit bounds them. */
static void raise_fd_limit(const cli_ctx *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		cli_notef(c, "serve: cannot raise the open file limit: %s", strerror(errno));
}

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int serve(cli_ctx *c, const serve_opts *o, varve_db *db, vs_tls *tls)
{
	char id[64];
	if (cluster_id(c->dir, id, sizeof id))
		return CLI_ERROR;
	char users_path[4096];
	snprintf(users_path, sizeof users_path, "%s/users", c->dir);
	check_users(o, users_path);
	vs_broker_config bc;
	char quotas_path[4096];
	snprintf(quotas_path, sizeof quotas_path, "%s/quotas", c->dir);
	broker_config(c, o, db, id, users_path, quotas_path, &bc);
	vs_broker *b;
	int rc = vs_broker_new(&bc, &b);
	if (rc) {
		cli_errf("cannot start the broker: %s", strerror(-rc));
		return CLI_ERROR;
	}
	/* signals first: a stop may come as soon as the ready line is out */
	running = b;
	catch_signals();
	int out = start(c, o, b, tls);
	if (out == CLI_OK) {
		if (vs_broker_run(b)) {
			cli_errf("%s", vs_broker_error(b));
			out = CLI_ERROR;
		}
	}
	running = NULL;
	vs_broker_free(b);
	server_file_remove(c->dir);
	if (out == CLI_OK)
		cli_notef(c, "serve: stopped");
	return out;
}

int cli_serve_main(cli_ctx *c, int argc, char **argv)
{
	serve_opts o = { "127.0.0.1:9644", 1, 1, VARVE_SYNC_ALWAYS, 100u << 20, 64u << 20,
			 10000, 1000, 600000, VS_WORK_DEFAULT_THREADS, 5000 };
	int rc = parse_args(c, argc, argv, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (!strcmp(o.metrics, "none"))
		o.metrics = NULL;
	if (o.n_listen == 0)
		o.listen[o.n_listen++] = (listener_opt){ VS_SECURITY_PLAINTEXT, "127.0.0.1:9092" };
	snprintf(o.acl_file, sizeof o.acl_file, "%s/acls", c->dir);
	char host[256];
	int32_t port;
	for (int i = 0; i < o.n_listen; i++)
		if (split_addr(o.listen[i].addr, host, sizeof host, &port))
			return cli_usage(c, "--listen: \"%s\" is not [PROTOCOL://]HOST:PORT",
					 o.listen[i].addr);
	if (o.metrics && split_addr(o.metrics, host, sizeof host, &port))
		return cli_usage(c, "--metrics: \"%s\" is not HOST:PORT or none", o.metrics);
	for (int i = 0; i < o.n_advertise; i++)
		if (split_addr(o.advertise[i].addr, host, sizeof host, &port) || !*host || !port)
			return cli_usage(c, "--advertise: \"%s\" is not [PROTOCOL://]HOST:PORT",
					 o.advertise[i].addr);
	if ((rc = check_quotas_file(c)))
		return rc;
	if ((rc = check_security(c, &o)))
		return rc;
	vs_tls *tls;
	if ((rc = make_tls(&o, &tls)))
		return rc;
	raise_fd_limit(c);
	varve_db *db;
	if ((rc = open_store(c, &o, &db))) {
		vs_tls_free(tls);
		return rc;
	}
	rc = serve(c, &o, db, tls);
	rc = cli_close(db, rc);
	/* after the broker: its connections held the TLS contexts */
	vs_tls_free(tls);
	return rc;
}
