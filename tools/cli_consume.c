/* SPDX-License-Identifier: MIT */
/*
 * cli_consume.c -- varve consume TOPIC.
 *
 * Without --group: a read-only open and one iterator per partition, read
 * round-robin (one record per partition per round); --follow polls for
 * growth with short sleeps (10 ms doubling to 200 ms while idle), which is
 * how a read-only handle sees a writer in another process.
 * With --group: a writer open and a consumer in the group; each poll's
 * records are printed, flushed, and only then committed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_parse.h"

static const char consume_help[] =
	"usage: varve consume TOPIC [OPTIONS]\n"
	"\n"
	"Print the records of TOPIC, from every partition (interleaved) or one.\n"
	"\n"
	"Where to start (default: the beginning of the log):\n"
	"      --from-beginning     the log start\n"
	"      --from-end           the log end: only records produced from now on\n"
	"  -o, --from-offset N      offset N in each partition (below the log start: the\n"
	"                           start; past the end: the end); negative N = N records\n"
	"                           before the end\n"
	"      --from-time T        the first record with timestamp >= T; T is RFC 3339\n"
	"                           (2026-11-26T10:00:00Z, 2026-11-26T11:00:00+01:00),\n"
	"                           epoch milliseconds, or now-DURATION (now-1h)\n"
	"  -p, --partition P        only partition P\n"
	"  -g, --group G            resume from group G's committed offsets and commit after\n"
	"                           printing (at-least-once); a partition without a commit\n"
	"                           starts at the log start; a --from-* option moves the\n"
	"                           group's position first. Needs the writer lock.\n"
	"\n"
	"When to stop:\n"
	"  -n, --max N              after N records\n"
	"  -f, --follow             at the end, wait for new records (like tail -f) until\n"
	"                           SIGINT or SIGTERM (exit 0)\n"
	"\n"
	"Output (stdout):\n"
	"  (default)                the value of each record, one per line\n"
	"  -J, --json               one JSON object per line: topic, partition, offset,\n"
	"                           timestamp, key, value, headers; a key or value that is\n"
	"                           not valid UTF-8 is written as key_b64 / value_b64 (base64),\n"
	"                           header values likewise in headers_b64; null key or value\n"
	"                           (tombstone) is null\n"
	"  -F, --format FMT         kcat-like: %t topic, %p partition, %o offset, %k key,\n"
	"                           %s value, %T timestamp (ms), %h headers (k=v,k2=v2),\n"
	"                           %K key length, %S value length (-1 when null), %%;\n"
	"                           escapes \\n \\t \\r \\\\ \\0. Example: -F '%p:%o %k=%s\\n'\n"
	"\n"
	"Without --group the store is opened read-only: it works while a writer runs.\n";

enum { O_FROM_BEGINNING = 256, O_FROM_END, O_FROM_TIME };

enum { OUT_RAW, OUT_JSON, OUT_FORMAT };
enum { START_DEFAULT, START_BEGINNING, START_END, START_OFFSET, START_TIME };

typedef struct consume_opts {
	int out;
	char *fmt; /* escapes resolved */
	size_t fmtlen;
	int start;
	int64_t start_arg;
	int64_t partition; /* -1 = all */
	const char *group;
	int64_t max; /* -1 = no limit */
	int follow;
} consume_opts;

/* ---- output -------------------------------------------------------------------- */

static void put_bytes(const void *p, size_t n)
{
	if (n)
		fwrite(p, 1, n, stdout);
}

static void json_bytes(const char *name, const void *p, size_t n, int first)
{
	if (!first)
		fputc(',', stdout);
	if (!p) {
		printf("\"%s\":null", name);
	} else if (cj_utf8_valid(p, n)) {
		printf("\"%s\":", name);
		cj_write_string(stdout, p, n);
	} else {
		printf("\"%s_b64\":", name);
		cj_write_base64(stdout, p, n);
	}
}

static void print_json(const char *topic, const varve_record *r)
{
	fputs("{\"topic\":", stdout);
	cj_write_string(stdout, topic, strlen(topic));
	printf(",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":%" PRId64, r->partition,
	       r->offset, r->timestamp);
	json_bytes("key", r->key, r->key_len, 0);
	json_bytes("value", r->value, r->value_len, 0);
	fputs(",\"headers\":{", stdout);
	int n = 0, binary = 0;
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		if (h->value && !cj_utf8_valid(h->value, h->value_len)) {
			binary++;
			continue;
		}
		if (n++)
			fputc(',', stdout);
		cj_write_string(stdout, h->key, h->key_len);
		fputc(':', stdout);
		if (h->value)
			cj_write_string(stdout, h->value, h->value_len);
		else
			fputs("null", stdout);
	}
	fputc('}', stdout);
	if (binary) {
		fputs(",\"headers_b64\":{", stdout);
		n = 0;
		for (size_t i = 0; i < r->header_count; i++) {
			const varve_header *h = &r->headers[i];
			if (!h->value || cj_utf8_valid(h->value, h->value_len))
				continue;
			if (n++)
				fputc(',', stdout);
			cj_write_string(stdout, h->key, h->key_len);
			fputc(':', stdout);
			cj_write_base64(stdout, h->value, h->value_len);
		}
		fputc('}', stdout);
	}
	fputs("}\n", stdout);
}

static void print_format(const consume_opts *o, const char *topic, const varve_record *r)
{
	const char *f = o->fmt, *end = o->fmt + o->fmtlen;
	while (f < end) {
		const char *pct = memchr(f, '%', (size_t)(end - f));
		if (!pct) {
			put_bytes(f, (size_t)(end - f));
			break;
		}
		put_bytes(f, (size_t)(pct - f));
		if (pct + 1 >= end) {
			fputc('%', stdout);
			break;
		}
		char k = pct[1];
		f = pct + 2;
		switch (k) {
		case 't': fputs(topic, stdout); break;
		case 'p': printf("%" PRId32, r->partition); break;
		case 'o': printf("%" PRId64, r->offset); break;
		case 'T': printf("%" PRId64, r->timestamp); break;
		case 'k': put_bytes(r->key, r->key ? r->key_len : 0); break;
		case 's': put_bytes(r->value, r->value ? r->value_len : 0); break;
		case 'K': printf("%lld", r->key ? (long long)r->key_len : -1LL); break;
		case 'S': printf("%lld", r->value ? (long long)r->value_len : -1LL); break;
		case 'h':
			for (size_t i = 0; i < r->header_count; i++) {
				if (i)
					fputc(',', stdout);
				put_bytes(r->headers[i].key, r->headers[i].key_len);
				if (r->headers[i].value) {
					fputc('=', stdout);
					put_bytes(r->headers[i].value, r->headers[i].value_len);
				}
			}
			break;
		case '%': fputc('%', stdout); break;
		default:
			fputc('%', stdout);
			fputc(k, stdout);
		}
	}
}

static void print_record(const consume_opts *o, const char *topic, const varve_record *r)
{
	switch (o->out) {
	case OUT_JSON: print_json(topic, r); break;
	case OUT_FORMAT: print_format(o, topic, r); break;
	default:
		put_bytes(r->value, r->value ? r->value_len : 0);
		fputc('\n', stdout);
	}
}

/* Resolve \n \t \r \\ \0 in a --format string. */
static int compile_format(const char *s, consume_opts *o)
{
	size_t n = strlen(s);
	o->fmt = malloc(n + 1);
	if (!o->fmt)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			o->fmt[k++] = s[i];
			continue;
		}
		switch (s[++i]) {
		case 'n': o->fmt[k++] = '\n'; break;
		case 't': o->fmt[k++] = '\t'; break;
		case 'r': o->fmt[k++] = '\r'; break;
		case '0': o->fmt[k++] = '\0'; break;
		case '\\': o->fmt[k++] = '\\'; break;
		default:
			o->fmt[k++] = '\\';
			o->fmt[k++] = s[i];
		}
	}
	o->fmtlen = k;
	return 0;
}

static int out_failed(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	cli_errf("writing the output failed");
	return 1;
}

/* ---- replay (read-only) -------------------------------------------------------------- */

typedef struct part_iter {
	uint32_t p;
	varve_iter *it;
} part_iter;

static int start_offset(const consume_opts *o, varve_db *db, const char *topic, uint32_t p,
			int64_t *out)
{
	int64_t start, end;
	int rc = varve_offsets(db, topic, p, &start, &end);
	if (rc)
		return cli_fail(topic, rc);
	switch (o->start) {
	case START_END: *out = end; break;
	case START_OFFSET: {
		int64_t want = o->start_arg;
		if (want < 0)
			want = end + want;
		if (want < start) {
			if (o->start_arg >= 0)
				cli_errf("%s/%u: offset %" PRId64 " is below the log start %" PRId64
					 "; starting there", topic, p, want, start);
			want = start;
		} else if (want > end) {
			cli_errf("%s/%u: offset %" PRId64 " is past the end %" PRId64
				 "; starting at the end", topic, p, want, end);
			want = end;
		}
		*out = want;
		break;
	}
	case START_TIME: {
		int64_t off;
		rc = varve_offset_for_time(db, topic, p, o->start_arg, &off);
		if (rc == VARVE_ENOTFOUND)
			off = end;
		else if (rc)
			return cli_fail(topic, rc);
		*out = off < start ? start : off;
		break;
	}
	default: *out = start;
	}
	return CLI_OK;
}

static int replay(const consume_opts *o, varve_db *db, const char *topic, uint32_t nparts)
{
	uint32_t first = 0, count = nparts;
	if (o->partition >= 0) {
		first = (uint32_t)o->partition;
		count = 1;
	}
	part_iter *its = calloc(count, sizeof *its);
	if (!its) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	int rc = CLI_OK;
	for (uint32_t i = 0; i < count && rc == CLI_OK; i++) {
		its[i].p = first + i;
		int64_t off;
		if ((rc = start_offset(o, db, topic, its[i].p, &off)))
			break;
		int r = varve_iter_open(db, topic, its[i].p, off, &its[i].it);
		if (r == VARVE_EOFFSET) { /* the log moved since we looked: start over */
			int64_t s0;
			if (varve_offsets(db, topic, its[i].p, &s0, NULL) == 0 && s0 > off)
				r = varve_iter_open(db, topic, its[i].p, s0, &its[i].it);
		}
		if (r) {
			char what[256];
			snprintf(what, sizeof what, "%s/%u at offset %" PRId64, topic, its[i].p, off);
			rc = cli_fail(what, r);
		}
	}
	int64_t printed = 0;
	int idle_ms = 10;
	while (rc == CLI_OK && !cli_stop && (o->max < 0 || printed < o->max)) {
		int any = 0;
		for (uint32_t i = 0; i < count && (o->max < 0 || printed < o->max); i++) {
			const varve_record *r;
			int x = varve_iter_next(its[i].it, &r);
			if (x == VARVE_EEND)
				continue;
			if (x) {
				char what[256];
				snprintf(what, sizeof what, "%s/%u at offset %" PRId64, topic, its[i].p,
					 varve_iter_position(its[i].it));
				rc = cli_fail(what, x);
				break;
			}
			print_record(o, topic, r);
			printed++;
			any = 1;
		}
		if (rc || ferror(stdout))
			break;
		if (any) {
			idle_ms = 10;
			continue;
		}
		if (!o->follow)
			break;
		if (out_failed()) {
			rc = CLI_ERROR;
			break;
		}
		cli_sleep_ms(idle_ms);
		if (idle_ms < 200)
			idle_ms *= 2;
	}
	if (rc == CLI_OK && out_failed())
		rc = CLI_ERROR;
	for (uint32_t i = 0; i < count; i++)
		varve_iter_close(its[i].it);
	free(its);
	return rc;
}

/* ---- group (writer) ------------------------------------------------------------------- */

static int group_seek(const consume_opts *o, varve_db *db, varve_consumer *cons, const char *topic)
{
	if (o->start == START_DEFAULT)
		return CLI_OK;
	const varve_topic_partition *tps;
	size_t n;
	int rc = varve_consumer_assignment(cons, &tps, &n);
	if (rc)
		return cli_fail("consumer assignment", rc);
	/* copy: the array is valid only until the next call on the consumer */
	uint32_t *parts = calloc(n ? n : 1, sizeof *parts);
	if (!parts) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	for (size_t i = 0; i < n; i++)
		parts[i] = tps[i].partition;
	for (size_t i = 0; i < n && rc == CLI_OK; i++) {
		int64_t off;
		if ((rc = start_offset(o, db, topic, parts[i], &off)))
			break;
		int r = varve_consumer_seek(cons, topic, parts[i], off);
		if (r)
			rc = cli_fail(topic, r);
	}
	free(parts);
	return rc;
}

static int group_consume(const consume_opts *o, varve_db *db, const char *topic)
{
	varve_consumer_options co;
	varve_consumer_options_init(&co, VARVE_CONSUMER_OPTIONS_VERSION);
	co.auto_offset_reset = VARVE_RESET_EARLIEST;
	co.auto_commit = 0;
	if (o->max >= 0 && o->max < (int64_t)co.max_records)
		co.max_records = o->max > 0 ? (uint32_t)o->max : 1;
	varve_consumer *cons;
	const char *topics[1] = { topic };
	int rc = varve_consumer_open(db, o->group, topics, 1, &co, &cons);
	if (rc)
		return cli_fail(o->group, rc);
	rc = group_seek(o, db, cons, topic);
	int64_t printed = 0;
	while (rc == CLI_OK && !cli_stop && (o->max < 0 || printed < o->max)) {
		const varve_msg *msgs;
		size_t n;
		int r = varve_consumer_poll(cons, o->follow ? 200 : 0, &msgs, &n);
		if (r) {
			rc = cli_fail(o->group, r);
			break;
		}
		if (n == 0) {
			if (!o->follow)
				break;
			continue;
		}
		size_t k = n;
		if (o->max >= 0 && (int64_t)k > o->max - printed)
			k = (size_t)(o->max - printed);
		for (size_t i = 0; i < k; i++)
			print_record(o, msgs[i].topic, &msgs[i].rec);
		if (out_failed()) {
			rc = CLI_ERROR; /* not printed: not committed */
			break;
		}
		/* Records polled but not printed (--max): move those partitions back. */
		for (size_t i = k; i < n && rc == CLI_OK; i++) {
			int earlier = 0;
			for (size_t j = k; j < i; j++)
				if (msgs[j].rec.partition == msgs[i].rec.partition)
					earlier = 1;
			if (earlier)
				continue;
			r = varve_consumer_seek(cons, msgs[i].topic, (uint32_t)msgs[i].rec.partition,
						msgs[i].rec.offset);
			if (r)
				rc = cli_fail(o->group, r);
		}
		if (rc == CLI_OK && (r = varve_consumer_commit(cons)))
			rc = cli_fail("commit", r);
		printed += (int64_t)k;
	}
	varve_consumer_close(cons);
	return rc;
}

int cli_consume_main(cli_ctx *c, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_COMMON_LONG,
		{ "from-beginning", no_argument, NULL, O_FROM_BEGINNING },
		{ "from-end", no_argument, NULL, O_FROM_END },
		{ "from-offset", required_argument, NULL, 'o' },
		{ "from-time", required_argument, NULL, O_FROM_TIME },
		{ "partition", required_argument, NULL, 'p' },
		{ "group", required_argument, NULL, 'g' },
		{ "max", required_argument, NULL, 'n' },
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	consume_opts o;
	memset(&o, 0, sizeof o);
	o.partition = -1;
	o.max = -1;
	int ch, rc = CLI_OK, starts = 0;
	optind = 0;
	while ((ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "o:p:g:n:fJF:", lo, consume_help)) !=
	       -1) {
		switch (ch) {
		case 'h': rc = -1; goto done;
		case O_FROM_BEGINNING: o.start = START_BEGINNING; starts++; break;
		case O_FROM_END: o.start = START_END; starts++; break;
		case 'o':
			o.start = START_OFFSET;
			starts++;
			if ((rc = cli_arg_i64(c, "--from-offset", optarg, INT64_MIN + 1, INT64_MAX,
					      &o.start_arg)))
				goto done;
			break;
		case O_FROM_TIME:
			o.start = START_TIME;
			starts++;
			if ((rc = cli_arg_time(c, "--from-time", optarg, &o.start_arg)))
				goto done;
			break;
		case 'p':
			if ((rc = cli_arg_i64(c, "--partition", optarg, 0, VARVE_MAX_PARTITIONS - 1,
					      &o.partition)))
				goto done;
			break;
		case 'g':
			o.group = optarg;
			if ((rc = cli_arg_name(c, "group", optarg)))
				goto done;
			break;
		case 'n':
			if ((rc = cli_arg_i64(c, "--max", optarg, 0, INT64_MAX, &o.max)))
				goto done;
			break;
		case 'f': o.follow = 1; break;
		case 'J': o.out = OUT_JSON; break;
		case 'F':
			free(o.fmt);
			o.out = OUT_FORMAT;
			if (compile_format(optarg, &o)) {
				cli_errf("out of memory");
				rc = CLI_ERROR;
				goto done;
			}
			break;
		default: rc = CLI_USAGE; goto done;
		}
	}
	char **ops;
	int nops = cli_operands(argc, argv, &ops);
	if (nops < 1) {
		rc = cli_usage(c, "missing topic name");
		goto done;
	}
	if (nops > 1) {
		rc = cli_usage(c, "unexpected argument \"%s\"", ops[1]);
		goto done;
	}
	const char *topic = ops[0];
	if ((rc = cli_arg_name(c, "topic", topic)))
		goto done;
	if (starts > 1) {
		rc = cli_usage(c, "use only one of --from-beginning, --from-end, --from-offset, --from-time");
		goto done;
	}
	if (o.group && o.partition >= 0) {
		rc = cli_usage(c, "--partition cannot be used with --group (a group member reads "
				  "every partition of the topic)");
		goto done;
	}
	if (o.max == 0)
		goto done;
	varve_db *db;
	cli_open_opts oo = { o.group != NULL, 0, VARVE_SYNC_ALWAYS, o.follow,
			     "consume --group commits offsets and needs the writer lock" };
	if ((rc = cli_open(c, &oo, &db)))
		goto done;
	uint32_t nparts;
	if ((rc = cli_topic_partitions(db, topic, &nparts)) == CLI_OK) {
		if (o.partition >= 0 && (uint32_t)o.partition >= nparts) {
			cli_errf("topic %s has %u partition%s; no partition %" PRId64, topic, nparts,
				 nparts == 1 ? "" : "s", o.partition);
			rc = CLI_ERROR;
		}
	}
	if (rc == CLI_OK) {
		if (!isatty(1)) /* bigger writes into pipes; --follow flushes when idle */
			setvbuf(stdout, NULL, _IOFBF, 1 << 16);
		cli_catch_signals();
		rc = o.group ? group_consume(&o, db, topic) : replay(&o, db, topic, nparts);
	}
	rc = cli_close(db, rc);
done:
	free(o.fmt);
	return rc < 0 ? CLI_OK : rc;
}
