/* SPDX-License-Identifier: MIT */
/*
 * cli_consume.c -- varve consume TOPIC.
 *
 * Without --group: a read-only open and one iterator per partition, read
 * round-robin (one record per partition per round); --follow polls for
 * growth with short sleeps (10 ms doubling to 200 ms while idle), which is
 * how a read-only handle sees a writer in another process.
 * With --group: a writer open and a consumer in the group; each poll's
 * records are printed, flushed, and only then committed. While a server
 * holds the store (or with --bootstrap) the group member is a Kafka
 * consumer of that server instead (cli_remote.h), printing the same way.
 *
 * Ends without an error (exit 0) on SIGINT / SIGTERM, even while stdout is
 * blocked, and when the reader of stdout goes away (`| head -1`), which an
 * idle follower notices without waiting for the next record.
 *
 * Records the writer's retention removed before they were read are
 * skipped with a note on stderr, never silently: a gap in the offsets of a
 * topic that is not compacted, or a segment file that is gone. Damage
 * (VARVE_ECORRUPT) ends the command with exit 1, unless --skip-damaged:
 * then each damaged range is named on stderr and reading goes on at the
 * next batch that passes its checks (varve_iter_skip_damaged).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_parse.h"
#include "cli_remote.h"
#include "encode.h"

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
	"                           epoch seconds or milliseconds with the unit\n"
	"                           (1795687200s, 1795687200000ms), or now-DURATION (now-1h)\n"
	"  -p, --partition P        only partition P\n"
	"  -g, --group G            resume from group G's committed offsets and commit after\n"
	"                           printing (at-least-once); a partition without a commit\n"
	"                           starts at the log start; a --from-* option moves the\n"
	"                           group's position first. Needs the writer lock, or\n"
	"                           joins the group through the running server.\n"
	"\n"
	"When to stop:\n"
	"  -n, --max N              after N records\n"
	"  -f, --follow             at the end, wait for new records (like tail -f) until\n"
	"                           SIGINT or SIGTERM (exit 0)\n"
	"      --skip-damaged       go on past damaged records, naming each skipped range\n"
	"                           on stderr (default: stop with exit 1 at the first)\n"
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
	"                           %K key length, %S value length (-1 when null), %R value\n"
	"                           length as 4 bytes big-endian (-1 when null), %%;\n"
	"                           escapes \\n \\t \\r \\\\ \\0 \\xNN. Example: -F '%p:%o %k=%s\\n'\n"
	"                           Anything else after % or \\ is a usage error.\n"
	"\n"
	"Without --group the store is opened read-only: it works while a writer runs.\n";

enum { O_FROM_BEGINNING = 256, O_FROM_END, O_FROM_TIME, O_SKIP_DAMAGED };

enum { OUT_RAW, OUT_JSON, OUT_FORMAT };
enum {
	START_DEFAULT = CLI_START_DEFAULT,
	START_BEGINNING = CLI_START_BEGINNING,
	START_END = CLI_START_END,
	START_OFFSET = CLI_START_OFFSET,
	START_TIME = CLI_START_TIME
};

typedef struct consume_opts {
	int out;
	char *fmt; /* compiled: escapes resolved, every '%' starts a known token */
	size_t fmtlen;
	int start;
	int64_t start_arg;
	int64_t partition; /* -1 = all */
	const char *group;
	int64_t max; /* -1 = no limit */
	int follow;
	int skip_damaged;
} consume_opts;

/* ---- output -------------------------------------------------------------------- */

static void put_bytes(const void *p, size_t n)
{
	if (n)
		fwrite(p, 1, n, stdout);
}

static void json_bytes(const char *name, const void *p, size_t n)
{
	if (!p) {
		printf(",\"%s\":null", name);
	} else if (enc_utf8_valid(p, n)) {
		printf(",\"%s\":", name);
		enc_json_string(stdout, p, n);
	} else {
		printf(",\"%s_b64\":", name);
		cli_json_b64(p, n);
	}
}

/* Headers whose value is (binary = 0) or is not (binary = 1) UTF-8 or null. */
static int json_headers(const varve_record *r, int binary)
{
	int n = 0;
	for (size_t i = 0; i < r->header_count; i++) {
		const varve_header *h = &r->headers[i];
		int is_binary = h->value && !enc_utf8_valid(h->value, h->value_len);
		if (is_binary != binary)
			continue;
		if (n++)
			fputc(',', stdout);
		enc_json_string(stdout, h->key, h->key_len);
		fputc(':', stdout);
		if (!h->value)
			fputs("null", stdout);
		else if (binary)
			cli_json_b64(h->value, h->value_len);
		else
			enc_json_string(stdout, h->value, h->value_len);
	}
	return n;
}

static void print_json(const char *topic, const varve_record *r)
{
	fputs("{\"topic\":", stdout);
	cli_json_str(topic);
	printf(",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":%" PRId64, r->partition,
	       r->offset, r->timestamp);
	json_bytes("key", r->key, r->key_len);
	json_bytes("value", r->value, r->value_len);
	fputs(",\"headers\":{", stdout);
	json_headers(r, 0);
	fputc('}', stdout);
	int binary = 0;
	for (size_t i = 0; i < r->header_count; i++)
		binary |= r->headers[i].value &&
			  !enc_utf8_valid(r->headers[i].value, r->headers[i].value_len);
	if (binary) {
		fputs(",\"headers_b64\":{", stdout);
		json_headers(r, 1);
		fputc('}', stdout);
	}
	fputs("}\n", stdout);
}

static void print_token(char k, const char *topic, const varve_record *r)
{
	switch (k) {
	case 't': fputs(topic, stdout); break;
	case 'p': printf("%" PRId32, r->partition); break;
	case 'o': printf("%" PRId64, r->offset); break;
	case 'T': printf("%" PRId64, r->timestamp); break;
	case 'k': put_bytes(r->key, r->key ? r->key_len : 0); break;
	case 's': put_bytes(r->value, r->value ? r->value_len : 0); break;
	case 'K': printf("%lld", r->key ? (long long)r->key_len : -1LL); break;
	case 'S': printf("%lld", r->value ? (long long)r->value_len : -1LL); break;
	case 'R': {
		/* kcat's framing: the value length (-1 for null) as a big-endian
		 * int32; values are at most 64 MiB, so it fits */
		uint32_t len = r->value ? (uint32_t)r->value_len : UINT32_MAX;
		unsigned char be[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
					(unsigned char)(len >> 8), (unsigned char)len };
		put_bytes(be, 4);
		break;
	}
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
	default: fputc('%', stdout); break; /* "%%" */
	}
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
		print_token(pct[1], topic, r); /* compiled: a token always follows */
		f = pct + 2;
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

/* The byte an escape at s[i] (after the backslash) stands for; *used is how
 * many characters it took. -1 for an unknown or unfinished escape. */
static int escape_byte(const char *s, size_t n, size_t i, size_t *used)
{
	*used = 1;
	switch (s[i]) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case '0': return 0;
	case '\\': return '\\';
	case 'x': {
		int hi = i + 1 < n ? enc_hex_digit(s[i + 1]) : -1;
		int lo = i + 2 < n ? enc_hex_digit(s[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			return -1;
		*used = 3;
		return hi * 16 + lo;
	}
	default: return -1;
	}
}

/* Compile a --format string: escapes resolved, a '%' that an escape made
 * doubled (so it stays a literal), tokens checked. Usage errors name the
 * position. */
static int compile_format(const cli_ctx *c, const char *s, consume_opts *o)
{
	size_t n = strlen(s);
	free(o->fmt);
	o->fmt = malloc(2 * n + 1);
	if (!o->fmt) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 1 == n || !strchr("tpoksTKShR%", s[i + 1]))
				return cli_usage(c, "--format: unknown token \"%%%.1s\" at position %zu "
						    "(known: %%t %%p %%o %%k %%s %%T %%h %%K %%S %%R %%%%)",
						 s + i + 1, i + 1);
			o->fmt[k++] = '%';
			o->fmt[k++] = s[++i];
		} else if (s[i] == '\\') {
			size_t used;
			int b = i + 1 < n ? escape_byte(s, n, i + 1, &used) : -1;
			if (b < 0)
				return cli_usage(c, "--format: unknown escape \"\\%.1s\" at position %zu "
						    "(known: \\n \\t \\r \\\\ \\0 \\xNN)",
						 s + i + 1, i + 1);
			o->fmt[k++] = (char)b;
			if (b == '%')
				o->fmt[k++] = '%';
			i += used;
		} else {
			o->fmt[k++] = s[i];
		}
	}
	o->fmtlen = k;
	o->out = OUT_FORMAT;
	return CLI_OK;
}

/* ---- where to start ------------------------------------------------------------------ */

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

/* ---- gaps ----------------------------------------------------------------------------- */

static void removed_note(const char *topic, uint32_t p, int64_t from, int64_t to)
{
	cli_errf("%s/%u: offsets %" PRId64 "..%" PRId64 " were removed by retention before they "
		 "were read", topic, p, from, to - 1);
}

/* A record at `off` when `next` was expected. In a topic that is not
 * compacted only retention makes gaps; in a compacted one only the part
 * below the log start is retention's. */
static void gap_check(varve_db *db, const char *topic, uint32_t p, int compacted, int64_t next,
		      int64_t off)
{
	if (next < 0 || off <= next)
		return;
	int64_t start = off;
	if (compacted && (varve_offsets(db, topic, p, &start, NULL) || start <= next))
		return;
	removed_note(topic, p, next, start < off ? start : off);
}

/* ---- damage (--skip-damaged) ---------------------------------------------------------- */

/* varve_iter_next said VARVE_ECORRUPT: move past the damaged batch.
 * CLI_OK with [*from, *to) skipped; 1 when the damage runs to the end of
 * what can be read now (*from set); else the error is printed. *why gets
 * the library's description of the damage. */
static int skip_damage(varve_iter *it, const char *topic, uint32_t p, int64_t *from, int64_t *to,
		       char *why, size_t whycap)
{
	const char *msg = varve_last_error()->message;
	snprintf(why, whycap, "%s", msg && *msg ? msg : varve_errmsg(VARVE_ECORRUPT));
	*from = varve_iter_position(it);
	int rc = varve_iter_skip_damaged(it, from, to);
	if (rc == VARVE_OK)
		return CLI_OK;
	if (rc == VARVE_EEND)
		return 1;
	char what[256];
	snprintf(what, sizeof what, "%s/%u at offset %" PRId64, topic, p, *from);
	return -cli_fail(what, rc);
}

static void skipped_note(const char *topic, uint32_t p, int64_t from, int64_t to, const char *why)
{
	cli_errf("%s/%u: offsets %" PRId64 "..%" PRId64 " are damaged; skipped them (%s)", topic, p,
		 from, to - 1, why);
}

static void stuck_note(const char *topic, uint32_t p, int64_t from, const char *why)
{
	cli_errf("%s/%u: offsets from %" PRId64 " on are damaged up to the end of what can be read "
		 "(%s)", topic, p, from, why);
}

/* ---- replay (read-only) -------------------------------------------------------------- */

typedef struct part_iter {
	uint32_t p;
	varve_iter *it;
	int64_t next;  /* offset expected next */
	int stuck;     /* --skip-damaged: damage up to the end, already reported */
} part_iter;

typedef struct replay_ctx {
	const cli_ctx *c;
	const consume_opts *o;
	varve_db *db;
	const char *topic;
	int compacted;
	part_iter *its;
	uint32_t count;
} replay_ctx;

static int replay_open(replay_ctx *x, uint32_t first)
{
	for (uint32_t i = 0; i < x->count; i++) {
		part_iter *pi = &x->its[i];
		pi->p = first + i;
		int64_t off;
		int rc = start_offset(x->o, x->db, x->topic, pi->p, &off);
		if (rc)
			return rc;
		int r = varve_iter_open(x->db, x->topic, pi->p, off, &pi->it);
		if (r == VARVE_EOFFSET) { /* the log moved since we looked: start over */
			int64_t s0;
			if (varve_offsets(x->db, x->topic, pi->p, &s0, NULL) == 0 && s0 > off)
				r = varve_iter_open(x->db, x->topic, pi->p, off = s0, &pi->it);
		}
		if (r) {
			char what[256];
			snprintf(what, sizeof what, "%s/%u at offset %" PRId64, x->topic, pi->p, off);
			return cli_fail(what, r);
		}
		pi->next = off;
	}
	return CLI_OK;
}

/* --skip-damaged in replay: 2 moved on, 0 stuck at the end, -(exit code). */
static int replay_skip(replay_ctx *x, part_iter *pi)
{
	int64_t from, to;
	char why[512];
	int rc = skip_damage(pi->it, x->topic, pi->p, &from, &to, why, sizeof why);
	if (rc < 0)
		return rc;
	if (rc == 1) { /* tried again each round (--follow): said once */
		if (!pi->stuck)
			stuck_note(x->topic, pi->p, from, why);
		pi->stuck = 1;
		return 0;
	}
	skipped_note(x->topic, pi->p, from, to, why);
	pi->stuck = 0;
	pi->next = to;
	return 2;
}

/* Next record of one partition: 1 printed, 2 moved past removed or
 * damaged records (nothing printed, more may follow), 0 none now, or
 * -(exit code). */
static int replay_one(replay_ctx *x, part_iter *pi)
{
	const varve_record *r;
	int rc = varve_iter_next(pi->it, &r);
	if (rc == VARVE_EEND)
		return 0;
	if (rc == VARVE_ECORRUPT && x->o->skip_damaged)
		return replay_skip(x, pi);
	if (rc && cli_error_is_missing_file(rc)) {
		int64_t from, to;
		if (cli_iter_skip_removed(x->c, pi->it, x->topic, pi->p, rc, &from, &to))
			return -CLI_ERROR;
		removed_note(x->topic, pi->p, from, to);
		pi->next = to;
		return 2;
	}
	if (rc) {
		char what[256];
		snprintf(what, sizeof what, "%s/%u at offset %" PRId64, x->topic, pi->p,
			 varve_iter_position(pi->it));
		return -cli_fail(what, rc);
	}
	gap_check(x->db, x->topic, pi->p, x->compacted, pi->next, r->offset);
	pi->next = r->offset + 1;
	print_record(x->o, x->topic, r);
	return 1;
}

/* Round-robin over the partitions until the end (or --max, or a signal);
 * with --follow, poll at the end. */
static int replay_loop(replay_ctx *x)
{
	const consume_opts *o = x->o;
	int64_t printed = 0;
	int idle_ms = 10, rc = CLI_OK;
	while (!cli_stop && (o->max < 0 || printed < o->max)) {
		int any = 0;
		for (uint32_t i = 0; i < x->count && (o->max < 0 || printed < o->max); i++) {
			int got = replay_one(x, &x->its[i]);
			if (got < 0)
				return -got;
			printed += got == 1;
			any |= got > 0;
		}
		if (ferror(stdout))
			break; /* the reader went away, or a signal broke a blocked write */
		if (any) {
			idle_ms = 10;
			continue;
		}
		if (!o->follow)
			break;
		/* idle: flush what was printed; a reader that left ends us now */
		if ((rc = cli_output_done()) || cli_output_gone())
			return rc < 0 ? CLI_OK : rc;
		cli_sleep_ms(idle_ms);
		if (idle_ms < 200)
			idle_ms *= 2;
	}
	rc = cli_output_done();
	return rc < 0 ? CLI_OK : rc;
}

static int replay(const cli_ctx *c, const consume_opts *o, varve_db *db, const char *topic,
		  uint32_t nparts, int compacted)
{
	uint32_t first = o->partition >= 0 ? (uint32_t)o->partition : 0;
	replay_ctx x = { c, o, db, topic, compacted, NULL, o->partition >= 0 ? 1 : nparts };
	x.its = calloc(x.count, sizeof *x.its);
	if (!x.its) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	int rc = replay_open(&x, first);
	if (rc == CLI_OK)
		rc = replay_loop(&x);
	for (uint32_t i = 0; i < x.count; i++)
		varve_iter_close(x.its[i].it);
	free(x.its);
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

/* A group member's state: what it prints and commits. */
typedef struct group_ctx {
	const consume_opts *o;
	varve_db *db;
	varve_consumer *cons;
	const char *topic;
	int compacted;
	uint32_t nparts;
	int64_t *next; /* per partition: the first offset not yet printed */
	int64_t printed;
} group_ctx;

static void group_print(group_ctx *g, const char *topic, const varve_record *r)
{
	uint32_t p = (uint32_t)r->partition;
	if (p < g->nparts) {
		gap_check(g->db, topic, p, g->compacted, g->next[p], r->offset);
		g->next[p] = r->offset + 1;
	}
	print_record(g->o, topic, r);
	g->printed++;
}

/* Where each assigned partition starts: the position after group_seek. */
static int group_positions(group_ctx *g)
{
	const varve_topic_partition *tps;
	size_t n;
	int rc = varve_consumer_assignment(g->cons, &tps, &n);
	if (rc)
		return cli_fail("consumer assignment", rc);
	for (size_t i = 0; i < n; i++) {
		int32_t p = tps[i].partition;
		int64_t pos;
		if (p >= 0 && (uint32_t)p < g->nparts &&
		    varve_consumer_position(g->cons, g->topic, p, &pos) == VARVE_OK)
			g->next[p] = pos;
	}
	return CLI_OK;
}

/* Records polled but not printed (--max): move those partitions back to
 * the first of them, so the commit does not pass them. */
static int unpoll(const char *group, varve_consumer *cons, const varve_msg *msgs, size_t k,
		  size_t n)
{
	for (size_t i = k; i < n; i++) {
		int earlier = 0;
		for (size_t j = k; j < i; j++)
			if (msgs[j].rec.partition == msgs[i].rec.partition)
				earlier = 1;
		if (earlier)
			continue;
		int r = varve_consumer_seek(cons, msgs[i].topic, msgs[i].rec.partition,
					    msgs[i].rec.offset);
		if (r)
			return cli_fail(group, r);
	}
	return CLI_OK;
}

/* One partition after a poll failed on damage: print with an iterator what
 * the poll read and did not hand out (from the first offset not printed up
 * to the consumer's position), then, if the damage is there, move the
 * consumer past it. 1 if damage was skipped, 0 if none here, -(exit code). */
static int group_recover_partition(group_ctx *g, int32_t p, int64_t cons_pos)
{
	int64_t pos = g->next[p] >= 0 ? g->next[p] : cons_pos, from, to;
	varve_iter *it;
	if (varve_iter_open(g->db, g->topic, (uint32_t)p, pos, &it))
		return 0;
	int rc = 0;
	while (!cli_stop) {
		const varve_record *r;
		int x = varve_iter_next(it, &r);
		if (x == VARVE_OK && r->offset < cons_pos &&
		    (g->o->max < 0 || g->printed < g->o->max)) {
			group_print(g, g->topic, r);
			continue;
		}
		if (x == VARVE_OK && r->offset < cons_pos) /* --max reached: resume there */
			rc = varve_consumer_seek(g->cons, g->topic, p, r->offset) ? -CLI_ERROR : 0;
		if (x != VARVE_ECORRUPT)
			break;
		char why[512];
		x = skip_damage(it, g->topic, (uint32_t)p, &from, &to, why, sizeof why);
		if (x < 0) {
			rc = x;
		} else {
			if (x == 1) { /* nothing after the damage can be read: past it all */
				stuck_note(g->topic, (uint32_t)p, from, why);
				if (varve_offsets(g->db, g->topic, (uint32_t)p, NULL, &to))
					to = from;
			} else {
				skipped_note(g->topic, (uint32_t)p, from, to, why);
			}
			g->next[p] = to;
			rc = to > from && !varve_consumer_seek(g->cons, g->topic, p, to);
		}
		break;
	}
	varve_iter_close(it);
	return rc;
}

/* --skip-damaged: the poll failed on damage in an assigned partition (and
 * dropped what it had read before it). Recover every partition; CLI_OK
 * when damage was skipped, else the poll's error. */
static int group_skip(group_ctx *g, int poll_rc)
{
	char poll_why[512];
	const char *msg = varve_last_error()->message;
	snprintf(poll_why, sizeof poll_why, "%s", msg && *msg ? msg : varve_errmsg(poll_rc));
	const varve_topic_partition *tps;
	size_t n;
	int rc = varve_consumer_assignment(g->cons, &tps, &n);
	if (rc)
		return cli_fail("consumer assignment", rc);
	int32_t *parts = calloc(n ? n : 1, sizeof *parts);
	if (!parts) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	for (size_t i = 0; i < n; i++) /* copied: valid until the next consumer call */
		parts[i] = tps[i].partition;
	int skipped = 0;
	for (size_t i = 0; i < n && rc == CLI_OK; i++) {
		int64_t cons_pos;
		if (parts[i] < 0 || (uint32_t)parts[i] >= g->nparts ||
		    varve_consumer_position(g->cons, g->topic, parts[i], &cons_pos))
			continue;
		int x = group_recover_partition(g, parts[i], cons_pos);
		if (x < 0)
			rc = -x;
		skipped |= x > 0;
	}
	free(parts);
	if (rc == CLI_OK && !skipped) {
		cli_errf("%s: %s", g->o->group, poll_why);
		rc = CLI_ERROR;
	}
	return rc;
}

/* One poll: print, flush, commit. 1 to go on, 0 at the end, -(exit code). */
static int group_poll(group_ctx *g)
{
	const consume_opts *o = g->o;
	const varve_msg *msgs;
	size_t n;
	int r = varve_consumer_poll(g->cons, o->follow ? 200 : 0, &msgs, &n);
	if (r == VARVE_ECORRUPT && o->skip_damaged)
		r = group_skip(g, r);
	else if (r)
		r = cli_fail(o->group, r);
	else if (n == 0)
		return o->follow && !cli_output_gone();
	size_t k = n;
	if (o->max >= 0 && (int64_t)k > o->max - g->printed)
		k = (size_t)(o->max - g->printed);
	for (size_t i = 0; r == CLI_OK && i < k; i++)
		group_print(g, msgs[i].topic, &msgs[i].rec);
	if (r == CLI_OK && (r = cli_output_done()))
		return r < 0 ? 0 : -r; /* not printed: not committed */
	if (r == CLI_OK)
		r = unpoll(o->group, g->cons, msgs, k, n);
	if (r == CLI_OK && (r = varve_consumer_commit(g->cons)))
		r = cli_fail("commit", r);
	return r ? -r : 1;
}

static int group_consume(const consume_opts *o, varve_db *db, const char *topic, uint32_t nparts,
			 int compacted)
{
	varve_consumer_options co;
	varve_consumer_options_init(&co, VARVE_CONSUMER_OPTIONS_VERSION);
	co.auto_offset_reset = VARVE_RESET_EARLIEST;
	co.auto_commit = 0;
	if (o->max >= 0 && o->max < (int64_t)co.max_records)
		co.max_records = o->max > 0 ? (uint32_t)o->max : 1;
	group_ctx g = { o, db, NULL, topic, compacted, nparts, NULL, 0 };
	g.next = malloc(nparts * sizeof *g.next);
	if (!g.next) {
		cli_errf("out of memory");
		return CLI_ERROR;
	}
	for (uint32_t i = 0; i < nparts; i++)
		g.next[i] = -1; /* unknown until the first record */
	const char *topics[1] = { topic };
	int rc = varve_consumer_open(db, o->group, topics, 1, &co, &g.cons);
	if (rc) {
		free(g.next);
		return cli_fail(o->group, rc);
	}
	if ((rc = group_seek(o, db, g.cons, topic)) == CLI_OK)
		rc = group_positions(&g);
	while (rc == CLI_OK && !cli_stop && (o->max < 0 || g.printed < o->max)) {
		int x = group_poll(&g);
		if (x <= 0) {
			rc = -x;
			break;
		}
	}
	varve_consumer_close(g.cons);
	free(g.next);
	return rc;
}

/* ---- group, through a server --------------------------------------------------------- */

static void remote_print(void *ctx, const char *topic, const varve_record *r)
{
	print_record(ctx, topic, r);
}

static int remote_group_consume(cli_ctx *c, const consume_opts *o, const char *topic)
{
	cli_remote_consume_args a = { topic, o->group, o->start, o->start_arg, o->max, o->follow,
				      remote_print, (void *)o };
	return cli_remote_consume(c, &a);
}

/* ---- the command ------------------------------------------------------------------------ */

/* -1 after --help, else CLI_OK or an exit code. */
static int consume_parse(cli_ctx *c, int argc, char **argv, consume_opts *o, const char **topic)
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
		{ "skip-damaged", no_argument, NULL, O_SKIP_DAMAGED },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc = CLI_OK, starts = 0;
	optind = 0;
	while (rc == CLI_OK && (ch = cli_getopt(c, argc, argv, CLI_COMMON_SHORT "o:p:g:n:fJF:", lo,
						consume_help)) != -1) {
		switch (ch) {
		case 'h': return -1;
		case O_FROM_BEGINNING: o->start = START_BEGINNING; starts++; break;
		case O_FROM_END: o->start = START_END; starts++; break;
		case 'o':
			o->start = START_OFFSET;
			starts++;
			rc = cli_arg_i64(c, "--from-offset", optarg, INT64_MIN + 1, INT64_MAX,
					 &o->start_arg);
			break;
		case O_FROM_TIME:
			o->start = START_TIME;
			starts++;
			rc = cli_arg_time(c, "--from-time", optarg, &o->start_arg);
			break;
		case 'p':
			rc = cli_arg_i64(c, "--partition", optarg, 0, VARVE_MAX_PARTITIONS - 1,
					 &o->partition);
			break;
		case 'g':
			o->group = optarg;
			rc = cli_arg_name(c, "group", optarg);
			break;
		case 'n': rc = cli_arg_i64(c, "--max", optarg, 0, INT64_MAX, &o->max); break;
		case 'f': o->follow = 1; break;
		case O_SKIP_DAMAGED: o->skip_damaged = 1; break;
		case 'J': o->out = OUT_JSON; break;
		case 'F': rc = compile_format(c, optarg, o); break;
		default: return CLI_USAGE;
		}
	}
	if (rc || (rc = cli_one_name(c, argc, argv, "topic", topic)))
		return rc;
	if (starts > 1)
		return cli_usage(c, "use only one of --from-beginning, --from-end, --from-offset, "
				    "--from-time");
	if (o->group && o->partition >= 0)
		return cli_usage(c, "--partition cannot be used with --group (a group member reads "
				    "every partition of the topic)");
	return CLI_OK;
}

/* The topic's partition count and whether it is compacted. */
static int topic_shape(varve_db *db, const consume_opts *o, const char *topic, uint32_t *nparts,
		       int *compacted)
{
	varve_topic_config tc;
	int rc = cli_topic_config(db, topic, &tc);
	if (rc)
		return rc;
	*nparts = tc.partitions;
	*compacted = (tc.cleanup_policy & VARVE_CLEANUP_COMPACT) != 0;
	if (o->partition >= 0 && (uint32_t)o->partition >= tc.partitions) {
		cli_errf("topic %s has %u partition%s; no partition %" PRId64, topic, tc.partitions,
			 tc.partitions == 1 ? "" : "s", o->partition);
		return CLI_ERROR;
	}
	return CLI_OK;
}

int cli_consume_main(cli_ctx *c, int argc, char **argv)
{
	consume_opts o;
	memset(&o, 0, sizeof o);
	o.partition = -1;
	o.max = -1;
	const char *topic = NULL;
	int rc = consume_parse(c, argc, argv, &o, &topic);
	if (rc || o.max == 0)
		goto done;
	varve_db *db;
	cli_open_opts oo = { o.group != NULL, 0, VARVE_SYNC_ALWAYS, o.follow,
			     "consume --group commits offsets and needs the writer lock", 0,
			     o.group != NULL };
	if ((rc = cli_open(c, &oo, &db)) == CLI_REMOTE) {
		if (!isatty(1))
			setvbuf(stdout, NULL, _IOFBF, 1 << 16);
		cli_output_init();
		cli_catch_signals();
		rc = remote_group_consume(c, &o, topic);
		goto done;
	}
	if (rc)
		goto done;
	uint32_t nparts = 0;
	int compacted = 0;
	if ((rc = topic_shape(db, &o, topic, &nparts, &compacted)) == CLI_OK) {
		if (!isatty(1)) /* bigger writes into pipes; --follow flushes when idle */
			setvbuf(stdout, NULL, _IOFBF, 1 << 16);
		cli_output_init();
		cli_catch_signals();
		rc = o.group ? group_consume(&o, db, topic, nparts, compacted)
			     : replay(c, &o, db, topic, nparts, compacted);
	}
	rc = cli_close(db, rc);
done:
	free(o.fmt);
	return rc < 0 ? CLI_OK : rc;
}
