/* SPDX-License-Identifier: MIT */
/*
 * cli_produce.c -- varve produce TOPIC: records from stdin, one per line
 * (optionally "key<SEP>value"), or JSON objects one per line. Lines are
 * grouped into varve_produce_batch calls of --batch records; a pending batch
 * is also sent whenever stdin has nothing more to read right now, so an
 * interactive or slow producer never waits for a full batch.
 *
 * Through a running server (cli_remote.h) the same batches go to an
 * idempotent Kafka producer (acks=all), each acknowledged before the next
 * is read, so --print-offsets and the exit status mean the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_parse.h"
#include "cli_remote.h"
#include "encode.h"

static const char produce_help[] =
	"usage: varve produce TOPIC [OPTIONS] < input\n"
	"\n"
	"Append one record per input line (the newline is not part of the value; an\n"
	"empty line is an empty value). Without a key the topic's partitioner picks the\n"
	"partition; records with the same key go to the same partition.\n"
	"\n"
	"  -K, --key-separator SEP  split each line at the first SEP into key and value\n"
	"                           (a line without SEP has a null key)\n"
	"  -p, --partition P        write every record to partition P\n"
	"  -H, --header K=V         add this header to every record (repeatable; K alone =\n"
	"                           a header without value)\n"
	"  -J, --json               each line is a JSON object:\n"
	"                             {\"key\":..,\"value\":..,\"headers\":{\"k\":\"v\"},\n"
	"                              \"partition\":N,\"timestamp\":MS or \"RFC 3339\"}\n"
	"                           binary-safe: \"key_b64\", \"value_b64\" and \"headers_b64\"\n"
	"                           take base64; a missing or null value is a tombstone;\n"
	"                           other members (topic, offset) are ignored, so the output\n"
	"                           of 'varve consume --json' can be produced again\n"
	"      --print-offsets      print \"PARTITION OFFSET\" for each record, in input order\n"
	"      --batch N            records per produce call (default 1000); a batch is also\n"
	"                           sent at EOF and whenever input pauses\n"
	"      --sync MODE          always (default: each batch is on disk when written),\n"
	"                           interval (fsync every second) or none\n"
	"\n"
	"--partition wins over a record's \"partition\". Needs the writer lock, or goes\n"
	"through the running server (an idempotent Kafka producer, acks=all; the server's\n"
	"--sync then applies).\n"
	"On a bad line the records before it are produced, then varve exits with 1.\n";

enum { O_PRINT_OFFSETS = 256, O_BATCH, O_SYNC };

#define BATCH_BYTES_MAX (8u << 20) /* stay well below max_record_bytes */

/* ---- arena: chunks never move, so records can point into them ---- */
typedef struct chunk {
	struct chunk *next;
	size_t used, cap;
	unsigned char *data;
} chunk;

typedef struct arena {
	chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	if (!a->head || a->head->cap - a->head->used < need) {
		size_t cap = need > (1u << 20) ? need : (1u << 20);
		chunk *c = malloc(sizeof *c);
		if (!c)
			return NULL;
		c->data = malloc(cap);
		if (!c->data) {
			free(c);
			return NULL;
		}
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	void *p = a->head->data + a->head->used;
	a->head->used += need;
	return p;
}

static void *arena_dup(arena *a, const void *d, size_t n)
{
	void *p = arena_alloc(a, n ? n : 1);
	if (p && n)
		memcpy(p, d, n);
	return p;
}

static void arena_reset(arena *a)
{
	/* keep the oldest chunk (the tail), free the rest */
	chunk *c = a->head;
	while (c && c->next) {
		chunk *n = c->next;
		free(c->data);
		free(c);
		c = n;
	}
	a->head = c;
	if (c)
		c->used = 0;
}

static void arena_free(arena *a)
{
	chunk *c = a->head;
	while (c) {
		chunk *n = c->next;
		free(c->data);
		free(c);
		c = n;
	}
	a->head = NULL;
}

/* ---- state ---- */
typedef struct producer {
	cli_ctx *c;
	varve_db *db;
	cli_remote_producer *remote; /* through a server instead of db */
	const char *topic;
	uint32_t nparts;
	int32_t forced;
	const char *sep;
	size_t seplen;
	int json, print_offsets;
	size_t batch;
	varve_header *hdrs; /* from --header */
	size_t nhdrs;

	varve_record *recs;
	uint64_t *lines;
	size_t n, cap, bytes;
	arena ar;
	uint64_t produced;
} producer;

static int flush_batch(producer *p)
{
	if (p->n == 0)
		return CLI_OK;
	char what[96];
	if (p->lines[0] == p->lines[p->n - 1])
		snprintf(what, sizeof what, "line %" PRIu64, p->lines[0]);
	else
		snprintf(what, sizeof what, "lines %" PRIu64 "-%" PRIu64, p->lines[0],
			 p->lines[p->n - 1]);
	if (p->remote) {
		if (cli_remote_produce(p->remote, p->recs, p->n, what))
			return CLI_ERROR;
	} else {
		int rc = varve_produce_batch(p->db, p->topic, p->recs, p->n, NULL);
		if (rc)
			return cli_fail(what, rc);
	}
	if (p->print_offsets) {
		for (size_t i = 0; i < p->n; i++)
			printf("%" PRId32 " %" PRId64 "\n", p->recs[i].partition, p->recs[i].offset);
		fflush(stdout);
	}
	p->produced += p->n;
	p->n = 0;
	p->bytes = 0;
	arena_reset(&p->ar);
	return CLI_OK;
}

static varve_record *new_record(producer *p, uint64_t line)
{
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 64;
		varve_record *nr = realloc(p->recs, nc * sizeof *nr);
		if (!nr)
			return NULL;
		p->recs = nr;
		uint64_t *nl = realloc(p->lines, nc * sizeof *nl);
		if (!nl)
			return NULL;
		p->lines = nl;
		p->cap = nc;
	}
	varve_record *r = &p->recs[p->n];
	memset(r, 0, sizeof *r);
	r->timestamp = VARVE_TIMESTAMP_NOW;
	r->partition = p->forced;
	p->lines[p->n] = line;
	return r;
}

static int line_record(producer *p, const char *s, size_t len, uint64_t line)
{
	varve_record *r = new_record(p, line);
	if (!r)
		goto oom;
	const char *v = s;
	size_t vl = len;
	if (p->sep) {
		const char *at = p->seplen ? memmem(s, len, p->sep, p->seplen) : NULL;
		if (at) {
			r->key = arena_dup(&p->ar, s, (size_t)(at - s));
			r->key_len = (size_t)(at - s);
			if (!r->key)
				goto oom;
			v = at + p->seplen;
			vl = len - (size_t)(at - s) - p->seplen;
		}
	}
	r->value = arena_dup(&p->ar, v, vl);
	if (!r->value)
		goto oom;
	r->value_len = vl;
	r->headers = p->nhdrs ? p->hdrs : NULL;
	r->header_count = p->nhdrs;
	p->bytes += len;
	p->n++;
	return CLI_OK;
oom:
	cli_errf("out of memory");
	return CLI_ERROR;
}

/* Bytes of a string or base64 member; *present = 0 if absent, null -> ptr NULL. */
static int json_bytes(producer *p, const cj_value *o, const char *name, const void **ptr,
		      size_t *len, const char **err)
{
	char b64name[32];
	snprintf(b64name, sizeof b64name, "%s_b64", name);
	const cj_value *s = cj_get(o, name), *b = cj_get(o, b64name);
	*ptr = NULL;
	*len = 0;
	if (s && b) {
		*err = "given both as a string and as _b64";
		return -1;
	}
	if (s) {
		if (s->type == CJ_NULL)
			return 0;
		if (s->type != CJ_STRING) {
			*err = "must be a string or null";
			return -1;
		}
		*ptr = arena_dup(&p->ar, s->str, s->len);
		*len = s->len;
		return *ptr ? 0 : -2;
	}
	if (b) {
		if (b->type == CJ_NULL)
			return 0;
		if (b->type != CJ_STRING) {
			*err = "_b64 must be a base64 string";
			return -1;
		}
		uint8_t *out = arena_alloc(&p->ar, b->len / 4 * 3 + 3);
		if (!out)
			return -2;
		if (enc_base64_decode(b->str, b->len, out, len)) {
			*err = "is not valid base64";
			return -1;
		}
		*ptr = out;
	}
	return 0;
}

/* The record's headers: the --header ones, then "headers" (strings or
 * null) and "headers_b64" (base64 or null). 0, -1 bad input (*field and
 * *what say why), -2 out of memory. */
static int json_headers(producer *p, const cj_value *v, varve_record *r, const char **field,
			const char **what)
{
	const cj_value *h = cj_get(v, "headers"), *hb = cj_get(v, "headers_b64");
	*field = h && h->type != CJ_NULL && h->type != CJ_OBJECT ? "headers" : "headers_b64";
	if ((h && h->type != CJ_NULL && h->type != CJ_OBJECT) ||
	    (hb && hb->type != CJ_NULL && hb->type != CJ_OBJECT)) {
		*what = h && h->type != CJ_NULL && h->type != CJ_OBJECT
				? "must be an object of strings"
				: "must be an object of base64 strings";
		return -1;
	}
	size_t nh = p->nhdrs + (h && h->type == CJ_OBJECT ? h->n : 0) +
		    (hb && hb->type == CJ_OBJECT ? hb->n : 0);
	if (!nh)
		return 0;
	varve_header *hv = arena_alloc(&p->ar, nh * sizeof *hv);
	if (!hv)
		return -2;
	size_t k = 0;
	for (size_t j = 0; j < p->nhdrs; j++)
		hv[k++] = p->hdrs[j];
	for (int pass = 0; pass < 2; pass++) {
		const cj_value *o = pass ? hb : h;
		for (size_t j = 0; o && o->type == CJ_OBJECT && j < o->n; j++) {
			const cj_value *x = &o->items[j];
			varve_header *e = &hv[k++];
			e->key = arena_dup(&p->ar, o->keys[j], o->klens[j]);
			e->key_len = o->klens[j];
			e->value = NULL;
			e->value_len = 0;
			if (!e->key)
				return -2;
			if (x->type == CJ_NULL)
				continue;
			*field = pass ? "headers_b64" : "headers";
			if (x->type != CJ_STRING) {
				*what = "values must be strings or null";
				return -1;
			}
			if (pass == 0) {
				e->value = arena_dup(&p->ar, x->str, x->len);
				e->value_len = x->len;
			} else {
				uint8_t *d = arena_alloc(&p->ar, x->len / 4 * 3 + 3);
				size_t dl = 0;
				if (d && enc_base64_decode(x->str, x->len, d, &dl)) {
					*what = "values must be base64";
					return -1;
				}
				e->value = d;
				e->value_len = dl;
			}
			if (!e->value)
				return -2;
		}
	}
	r->headers = hv;
	r->header_count = k;
	return 0;
}

static int json_record(producer *p, const char *s, size_t len, uint64_t line)
{
	/* blank lines are skipped in JSON mode */
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	if (i == len)
		return CLI_OK;
	cj_value v;
	char err[160];
	if (cj_parse(s, len, &v, err, sizeof err)) {
		flush_batch(p);
		cli_errf("line %" PRIu64 ": invalid JSON: %s", line, err);
		return CLI_ERROR;
	}
	const char *what = NULL, *field = NULL;
	int rc = CLI_OK, bad = 0;
	varve_record *r = NULL;
	if (v.type != CJ_OBJECT) {
		field = "record";
		what = "must be a JSON object";
		bad = 1;
		goto out;
	}
	r = new_record(p, line);
	if (!r)
		goto oom;
	int jr;
	const void *kp, *vp;
	size_t kl, vl;
	if ((jr = json_bytes(p, &v, "key", &kp, &kl, &what))) {
		field = "key";
		bad = jr == -1;
		if (!bad)
			goto oom;
		goto out;
	}
	if ((jr = json_bytes(p, &v, "value", &vp, &vl, &what))) {
		field = "value";
		bad = jr == -1;
		if (!bad)
			goto oom;
		goto out;
	}
	r->key = kp;
	r->key_len = kl;
	r->value = vp;
	r->value_len = vl;
	const cj_value *ph = cj_get(&v, "partition");
	if (ph && ph->type != CJ_NULL && p->forced == VARVE_PARTITION_ANY) {
		int64_t part;
		if (ph->type != CJ_NUMBER || cli_parse_i64(ph->str, &part) || part < 0 ||
		    part > INT32_MAX) {
			field = "partition";
			what = "must be a partition number";
			bad = 1;
			goto out;
		}
		r->partition = (int32_t)part;
	}
	const cj_value *ts = cj_get(&v, "timestamp");
	if (ts && ts->type != CJ_NULL) {
		int64_t t;
		int ok = ts->type == CJ_NUMBER ? cli_parse_i64(ts->str, &t) == 0
					       : ts->type == CJ_STRING &&
							 cli_parse_time_ms(ts->str, cli_now_ms(), &t) == 0;
		if (!ok || t < 0) {
			field = "timestamp";
			what = "must be epoch milliseconds or an RFC 3339 time";
			bad = 1;
			goto out;
		}
		r->timestamp = t;
	}
	if ((jr = json_headers(p, &v, r, &field, &what))) {
		bad = jr == -1;
		if (!bad)
			goto oom;
		goto out;
	}
	p->bytes += len;
	p->n++;
out:
	cj_free(&v);
	if (bad) {
		flush_batch(p);
		cli_errf("line %" PRIu64 ": %s %s", line, field, what);
		return CLI_ERROR;
	}
	return rc;
oom:
	cj_free(&v);
	cli_errf("out of memory");
	return CLI_ERROR;
}

/* ---- input ---- */
typedef struct reader {
	int fd;
	char *buf;
	size_t cap, start, end;
	int eof;
} reader;

/* Next line without its '\n': 1 and (*s, *len); 0 at the end; -1 on error or
 * signal. Before blocking for more input, sends the pending batch. */
static int next_line(reader *r, producer *p, const char **s, size_t *len, int *flush_rc)
{
	for (;;) {
		char *nl = r->end > r->start ? memchr(r->buf + r->start, '\n', r->end - r->start)
					      : NULL;
		if (nl) {
			*s = r->buf + r->start;
			*len = (size_t)(nl - (r->buf + r->start));
			r->start += *len + 1;
			return 1;
		}
		if (r->eof) {
			if (r->start < r->end) {
				*s = r->buf + r->start;
				*len = r->end - r->start;
				r->start = r->end;
				return 1;
			}
			return 0;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == r->cap) {
			size_t nc = r->cap ? r->cap * 2 : 65536;
			char *nb = realloc(r->buf, nc);
			if (!nb) {
				cli_errf("out of memory");
				return -1;
			}
			r->buf = nb;
			r->cap = nc;
		}
		if (p->n) {
			struct pollfd pfd = { r->fd, POLLIN, 0 };
			if (poll(&pfd, 1, 0) == 0 && (*flush_rc = flush_batch(p)))
				return -1;
		}
		ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0) {
			if (errno == EINTR && !cli_stop)
				continue;
			if (errno == EINTR)
				return -1;
			cli_errf("reading stdin: %s", strerror(errno));
			return -1;
		}
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
}

static int add_header(cli_ctx *c, producer *p, const char *arg)
{
	varve_header *nh = realloc(p->hdrs, (p->nhdrs + 1) * sizeof *nh);
	if (!nh) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	p->hdrs = nh;
	const char *eq = strchr(arg, '=');
	varve_header *h = &p->hdrs[p->nhdrs++];
	h->key = arg;
	h->key_len = eq ? (size_t)(eq - arg) : strlen(arg);
	h->value = eq ? eq + 1 : NULL;
	h->value_len = eq ? strlen(eq + 1) : 0;
	if (h->key_len == 0)
		return cli_usage(c, "--header: empty header name in \"%s\"", arg);
	return CLI_OK;
}

int cli_produce_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "key-separator", required_argument, NULL, 'K' },
		{ "partition", required_argument, NULL, 'p' },
		{ "header", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'J' },
		{ "print-offsets", no_argument, NULL, O_PRINT_OFFSETS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "sync", required_argument, NULL, O_SYNC },
		{ NULL, 0, NULL, 0 },
	};
	producer p;
	memset(&p, 0, sizeof p);
	p.c = c;
	p.forced = VARVE_PARTITION_ANY;
	p.batch = 1000;
	int sync = VARVE_SYNC_ALWAYS, sync_given = 0, ch, rc = CLI_OK;
	int64_t v;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "K:p:H:J", lo, produce_help)) != -1) {
		switch (ch) {
		case 'h': rc = -1; goto done;
		case 'K':
			p.sep = optarg;
			p.seplen = strlen(optarg);
			if (!p.seplen) {
				rc = cli_usage(c, "--key-separator must not be empty");
				goto done;
			}
			break;
		case 'p':
			if ((rc = cli_arg_i64(c, "--partition", optarg, 0, VARVE_MAX_PARTITIONS - 1, &v)))
				goto done;
			p.forced = (int32_t)v;
			break;
		case 'H':
			if ((rc = add_header(c, &p, optarg)))
				goto done;
			break;
		case 'J': p.json = 1; break;
		case O_PRINT_OFFSETS: p.print_offsets = 1; break;
		case O_BATCH:
			if ((rc = cli_arg_i64(c, "--batch", optarg, 1, 1000000, &v)))
				goto done;
			p.batch = (size_t)v;
			break;
		case O_SYNC:
			sync_given = 1;
			if (!strcmp(optarg, "always"))
				sync = VARVE_SYNC_ALWAYS;
			else if (!strcmp(optarg, "interval"))
				sync = VARVE_SYNC_INTERVAL;
			else if (!strcmp(optarg, "none"))
				sync = VARVE_SYNC_NONE;
			else {
				rc = cli_usage(c, "--sync: use always, interval or none");
				goto done;
			}
			break;
		default: rc = CLI_USAGE; goto done;
		}
	}
	if ((rc = cli_one_name(c, argc, argv, "topic", &p.topic)))
		goto done;
	if (p.json && p.sep) {
		rc = cli_usage(c, "--key-separator does not apply to --json input");
		goto done;
	}
	cli_open_opts oo = { 1, 0, sync, 1, "produce needs the writer lock", 0, 1 };
	rc = cli_open(c, &oo, &p.db);
	if (rc == CLI_REMOTE) {
		if (sync_given)
			cli_errf("produce: --sync is ignored: through a server, its own --sync "
				 "decides when records are durable");
		rc = cli_remote_producer_open(c, p.topic, &p.remote, &p.nparts);
	} else if (rc == CLI_OK) {
		rc = cli_topic_partitions(p.db, p.topic, &p.nparts);
	}
	if (rc)
		goto done;
	if (p.forced >= 0 && (uint32_t)p.forced >= p.nparts) {
		cli_errf("topic %s has %u partition%s; no partition %d", p.topic, p.nparts,
			 p.nparts == 1 ? "" : "s", p.forced);
		rc = CLI_ERROR;
		goto done;
	}
	cli_catch_signals();
	reader r = { 0, NULL, 0, 0, 0, 0 };
	uint64_t line = 0;
	const char *s;
	size_t len;
	int got, frc = CLI_OK;
	while ((got = next_line(&r, &p, &s, &len, &frc)) == 1) {
		line++;
		rc = p.json ? json_record(&p, s, len, line) : line_record(&p, s, len, line);
		if (rc)
			break;
		if ((p.n >= p.batch || p.bytes >= BATCH_BYTES_MAX) && (rc = flush_batch(&p)))
			break;
	}
	free(r.buf);
	if (rc == CLI_OK && got < 0)
		rc = frc ? frc : (cli_stop ? CLI_OK : CLI_ERROR);
	if (rc == CLI_OK)
		rc = flush_batch(&p);
	if (rc == CLI_OK && cli_stop)
		rc = 128 + (int)cli_stop;
	if (c->verbose)
		cli_errf("produced %" PRIu64 " records to %s", p.produced, p.topic);
done:
	cli_remote_producer_close(p.remote);
	rc = cli_close(p.db, rc);
	free(p.recs);
	free(p.lines);
	free(p.hdrs);
	arena_free(&p.ar);
	return rc < 0 ? CLI_OK : rc;
}
