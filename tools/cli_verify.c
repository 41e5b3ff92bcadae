/* SPDX-License-Identifier: MIT */
/*
 * cli_verify.c -- varve verify: can every record be read back, as the
 * library reads it? A read-only open (which replays the whole metadata
 * log), then every record of every partition up to the end offset the
 * partition had when verify reached it, then a look at the bytes of the
 * partition's segment files past what the library can read.
 *
 * What it reports as damage (stdout, exit 3): a batch that fails its
 * checksum or does not decode (reading goes on at the next batch that
 * passes its checks: varve_iter_skip_damaged), offsets out of order, and
 * bytes past the
 * readable end that are not free space. A writer preallocates zeros ahead
 * of its data (docs/FORMAT.md, "Preallocated tail"): zeros are free space,
 * the same rule varve-dump applies. Anything else there is a torn or
 * damaged tail, which the next writer open would cut.
 *
 * A writer may run meanwhile. It appends past the end verify read to, and
 * its retention removes the oldest segments; neither is damage:
 *   - a tail that is not zeros is looked at again with new read-only
 *     handles, with short waits, before it is called damage: a batch in
 *     flight becomes readable, damage does not;
 *   - a segment file that is gone when verify (or the library under it)
 *     opens it is skipped once a new handle confirms the log start moved
 *     past it (-v says so).
 *
 * It does not check the index, time index or recovery-point files: the
 * library takes them as hints and checks them as it loads them
 * (docs/FORMAT.md). `varve-dump --verify` checks those files byte by byte.
 *
 * Public API only, plus directory listings and plain reads of the segment
 * files for the tail (no format knowledge: it looks for non-zero bytes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "encode.h"

static const char verify_help[] =
	"usage: varve verify\n"
	"\n"
	"Open the store read-only (nothing is repaired; it works while a writer runs), read\n"
	"the metadata log (the open replays all of it) and every record of every partition,\n"
	"and report damage: the file and byte position of a batch that fails its checksum\n"
	"or does not decode, offsets out of order, and segment bytes past the readable end\n"
	"of a partition that are not free space (zeros a writer preallocated): a torn or\n"
	"damaged tail that the next writer open would cut.\n"
	"\n"
	"Index, time index and recovery-point files are not checked here (the library\n"
	"checks them as it loads them); 'varve-dump --verify DIR' checks every file.\n"
	"With -v, segments that the writer's retention removed while verify ran are named.\n"
	"Shows a progress bar on stderr when stderr is a terminal.\n"
	"Exit status: 0 no damage, 3 damage found, 1 the check could not run.\n";

/* Tries at a tail that is not free space before it counts as damage, and
 * the first wait between tries (doubled each time: about 1.3 s in all). */
#define TAIL_TRIES 8
#define TAIL_FIRST_WAIT_MS 10
/* Tries at records that retention removed under the iterator. */
#define MISSING_TRIES 16

/* ---- progress bar ----------------------------------------------------------------- */

typedef struct progress {
	int on;
	int64_t total, done;
	int64_t last_ms;
} progress;

static void progress_show(progress *pg, int force)
{
	if (!pg->on)
		return;
	int64_t now = cli_now_ms();
	if (!force && now - pg->last_ms < 100)
		return;
	pg->last_ms = now;
	int pct = pg->total > 0 ? (int)(pg->done * 100 / pg->total) : 100;
	if (pct > 100)
		pct = 100;
	char bar[31];
	int fill = pct * 30 / 100;
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = 0;
	fprintf(stderr, "\rverify %3d%% [%s] %" PRId64 "/%" PRId64 " records", pct, bar, pg->done,
		pg->total);
	fflush(stderr);
}

static void progress_clear(progress *pg)
{
	if (pg->on)
		fputs("\r\033[K", stderr);
}

/* ---- state and reports ------------------------------------------------------------- */

typedef struct verify_state {
	const cli_ctx *c;
	progress pg;
	uint64_t damage, warnings, records, partitions, skipped;
} verify_state;

static void damage(verify_state *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The line names files (the store's path) and carries the library's
 * text: written escaped, one line per damaged place whatever they hold. */
static void damage(verify_state *v, const char *fmt, ...)
{
	progress_clear(&v->pg);
	char line[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fputs("damage: ", stdout);
	enc_text(stdout, line, strlen(line));
	fputc('\n', stdout);
	fflush(stdout);
	v->damage++;
}

/* ---- the tail: bytes past the readable end ------------------------------------------ */

/* A place in a partition's segment files: (segment base, byte position). */
typedef struct seg_pos {
	int64_t base;
	uint64_t pos;
} seg_pos;

static int pos_after(seg_pos a, seg_pos b)
{
	return a.base > b.base || (a.base == b.base && a.pos > b.pos);
}

typedef struct tail_scan {
	seg_pos end;       /* the readable end, as a place in the files */
	int found;         /* a byte past it is not zero */
	seg_pos first_bad; /* the first such byte */
	uint64_t bad_bytes; /* from there to the end of that file */
	int inconclusive;  /* the handle's first segment file is gone */
} tail_scan;

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Bases of the partition's .log files, sorted; NULL on failure. */
static int64_t *list_bases(const char *pdir, size_t *n)
{
	*n = 0;
	DIR *d = opendir(pdir);
	if (!d)
		return NULL;
	size_t cap = 16;
	int64_t *v = malloc(cap * sizeof *v);
	struct dirent *e;
	while (v && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l != 24 || strcmp(e->d_name + 20, ".log") ||
		    strspn(e->d_name, "0123456789") != 20)
			continue;
		if (*n == cap) {
			int64_t *nv = realloc(v, (cap *= 2) * sizeof *nv);
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
		}
		v[(*n)++] = strtoll(e->d_name, NULL, 10);
	}
	closedir(d);
	if (v)
		qsort(v, *n, sizeof *v, cmp_i64);
	return v;
}

/* Look for a non-zero byte in fd from `from` on; *at receives it. 1 found,
 * 0 none, -1 read error. */
static int first_nonzero(int fd, uint64_t from, uint64_t size, uint64_t *at)
{
	static unsigned char buf[65536];
	while (from < size) {
		size_t want = size - from < sizeof buf ? (size_t)(size - from) : sizeof buf;
		ssize_t got = pread(fd, buf, want, (off_t)from);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			return 0; /* shrank: a writer trimmed its preallocated space */
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i]) {
				*at = from + (uint64_t)i;
				return 1;
			}
		}
		from += (uint64_t)got;
	}
	return 0;
}

/* The library reads `readable` bytes of the partition's segment files from
 * the one holding `start` on (whole sealed segments, then a part of the
 * last one it knows). Find the first non-zero byte past that. A file that
 * is gone was removed by retention: skipped. */
static int scan_tail(verify_state *v, const char *pdir, int64_t start, uint64_t readable,
		     tail_scan *ts)
{
	memset(ts, 0, sizeof *ts);
	size_t n;
	int64_t *bases = list_bases(pdir, &n);
	if (!bases) {
		cli_errf("%s: cannot list the segments: %s", pdir, strerror(errno));
		return CLI_ERROR;
	}
	size_t first = 0;
	while (first + 1 < n && bases[first + 1] <= start)
		first++;
	if (n > 0 && bases[first] > start)
		ts->inconclusive = 1; /* this handle's first segment is gone */
	uint64_t left = readable;
	int rc = CLI_OK;
	for (size_t i = first; i < n && !ts->found && !ts->inconclusive; i++) {
		char path[8192];
		snprintf(path, sizeof path, "%s/%020" PRId64 ".log", pdir, bases[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		struct stat st;
		if (fd < 0 && errno == ENOENT) {
			cli_notef(v->c, "%s: removed (by retention) while verify ran; skipped", path);
			continue;
		}
		if (fd < 0 || fstat(fd, &st) != 0) {
			cli_errf("%s: %s", path, strerror(errno));
			rc = CLI_ERROR;
			if (fd >= 0)
				close(fd);
			break;
		}
		uint64_t size = (uint64_t)st.st_size;
		uint64_t from = left < size ? left : size;
		left -= from;
		ts->end = (seg_pos){ bases[i], from };
		if (from < size) {
			uint64_t at;
			int z = first_nonzero(fd, from, size, &at);
			if (z < 0) {
				cli_errf("%s: read failed: %s", path, strerror(errno));
				rc = CLI_ERROR;
			} else if (z > 0) {
				ts->found = 1;
				ts->first_bad = (seg_pos){ bases[i], at };
				ts->bad_bytes = size - at;
			}
		}
		close(fd);
		if (rc)
			break;
	}
	free(bases);
	return rc;
}

/* The partition as a handle sees it: log start and readable bytes. */
static int handle_view(varve_db *db, const char *topic, uint32_t p, int64_t *start,
		       uint64_t *readable)
{
	varve_partition_info pi;
	memset(&pi, 0, sizeof pi);
	pi.version = VARVE_PARTITION_INFO_VERSION;
	int rc = varve_partition_info_get(db, topic, p, &pi);
	if (rc)
		return cli_fail(topic, rc);
	*start = pi.start_offset;
	*readable = pi.size_bytes;
	return CLI_OK;
}

/* Bytes past the readable end must be zeros. A live writer's batch in
 * flight is not zeros for a moment, and a handle opened earlier may not
 * know the writer's latest segments: a suspicious tail is looked at again
 * through new handles until what was suspicious reads, or TAIL_TRIES. */
static int tail_check(verify_state *v, varve_db *db, const char *topic, uint32_t p)
{
	char pdir[8192];
	snprintf(pdir, sizeof pdir, "%s/topics/%s/%u", v->c->dir, topic, p);
	seg_pos suspect = { -1, 0 };
	uint64_t suspect_bytes = 0;
	int64_t suspect_offset = -1;
	int wait_ms = TAIL_FIRST_WAIT_MS;
	for (int try = 0; try < TAIL_TRIES && !cli_stop; try++) {
		varve_db *h = db;
		int rc = CLI_OK;
		if (try > 0) {
			cli_sleep_ms(wait_ms);
			wait_ms *= 2;
			cli_ctx quiet = *v->c;
			quiet.verbose = 0;
			cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
			if ((rc = cli_open(&quiet, &oo, &h)))
				return rc;
		}
		int64_t start = 0, end = -1;
		uint64_t readable = 0;
		tail_scan ts;
		if (!(rc = handle_view(h, topic, p, &start, &readable)))
			rc = scan_tail(v, pdir, start, readable, &ts);
		if (!rc && ts.found && suspect.base < 0)
			(void)varve_offsets(h, topic, p, NULL, &end);
		if (h != db)
			rc = cli_close(h, rc);
		if (rc)
			return rc;
		if (ts.inconclusive)
			continue;
		if (!ts.found)
			return CLI_OK;
		if (suspect.base >= 0 && pos_after(ts.end, suspect))
			return CLI_OK; /* what looked bad reads now: a batch in flight */
		if (suspect.base < 0) {
			suspect = ts.first_bad;
			suspect_bytes = ts.bad_bytes;
			suspect_offset = end;
		}
	}
	if (cli_stop || suspect.base < 0)
		return CLI_OK;
	damage(v, "%s/%u: bytes past the readable end (offset %" PRId64 ") are not free space: "
		  "%s/%020" PRId64 ".log from byte %" PRIu64 " (%" PRIu64 " bytes to its end) "
		  "cannot be read: a damaged or torn tail (the next writer open cuts it)",
	       topic, p, suspect_offset, pdir, suspect.base, suspect.pos, suspect_bytes);
	return CLI_OK;
}

/* ---- records ------------------------------------------------------------------------- */

/* The iterator met a segment file that is gone: if retention removed it,
 * go on from the new log start (-v says so). */
static int skip_removed(verify_state *v, varve_iter *it, const char *topic, uint32_t p, int rc)
{
	int64_t from, to;
	int x = cli_iter_skip_removed(v->c, it, topic, p, rc, &from, &to);
	if (x)
		return x;
	cli_notef(v->c, "%s/%u: offsets %" PRId64 "..%" PRId64 " were removed by retention while "
		  "verify read them; skipped", topic, p, from, to - 1);
	v->skipped += (uint64_t)(to - from);
	v->pg.done += to - from;
	return CLI_OK;
}

/* Report damage at the iterator and move past it to the next batch that
 * passes its checks. 1 when nothing past it below `end` can be read
 * (stop), 0 to go on, or -(exit code). *expect is the next offset. */
static int past_damage(verify_state *v, varve_iter *it, const char *topic, uint32_t p,
		       int64_t end, int64_t *expect)
{
	int64_t at = varve_iter_position(it), from = at, to = end;
	damage(v, "%s/%u at offset %" PRId64 ": %s", topic, p, at, varve_last_error()->message);
	int rc = varve_iter_skip_damaged(it, &from, &to);
	if (rc != VARVE_OK && rc != VARVE_EEND) {
		char what[256];
		snprintf(what, sizeof what, "%s/%u at offset %" PRId64, topic, p, at);
		return -cli_fail(what, rc);
	}
	if (rc == VARVE_EEND || to >= end) {
		printf("        offsets %" PRId64 "..%" PRId64 " cannot be read\n", from, end - 1);
		return 1;
	}
	printf("        offsets %" PRId64 "..%" PRId64 " cannot be read; reading again from %" PRId64
	       "\n", from, to - 1, to);
	v->pg.done += to - from;
	*expect = to;
	return 0;
}

static void check_order(verify_state *v, const char *topic, uint32_t p, int compacted,
			int64_t off, int64_t expect)
{
	if (off < expect) {
		damage(v, "%s/%u: offset %" PRId64 " after %" PRId64 " (out of order)", topic, p, off,
		       expect - 1);
	} else if (off > expect && !compacted) {
		progress_clear(&v->pg);
		printf("warning: %s/%u: offsets %" PRId64 "..%" PRId64 " missing\n", topic, p, expect,
		       off - 1);
		v->warnings++;
	}
}

/* Every record from the log start to the end offset the partition has now
 * (a live writer's later records are not waited for), then the tail. */
static int verify_partition(verify_state *v, varve_db *db, const char *topic, uint32_t p,
			    int compacted)
{
	int64_t start, end;
	int rc = varve_offsets(db, topic, p, &start, &end);
	if (rc)
		return cli_fail(topic, rc);
	varve_iter *it;
	if ((rc = varve_iter_open(db, topic, p, start, &it)))
		return cli_fail(topic, rc);
	int64_t expect = start;
	int missing = 0;
	while (!cli_stop) {
		const varve_record *r;
		rc = varve_iter_next(it, &r);
		if (rc == VARVE_EEND) {
			rc = CLI_OK;
			break;
		}
		if (rc == VARVE_ECORRUPT) {
			int x = past_damage(v, it, topic, p, end, &expect);
			rc = x < 0 ? -x : CLI_OK;
			if (x)
				break;
			continue;
		}
		if (rc && cli_error_is_missing_file(rc) && missing++ < MISSING_TRIES) {
			if ((rc = skip_removed(v, it, topic, p, rc)))
				break;
			expect = varve_iter_position(it);
			continue;
		}
		if (rc) {
			char what[256];
			snprintf(what, sizeof what, "%s/%u at offset %" PRId64, topic, p,
				 varve_iter_position(it));
			rc = cli_fail(what, rc);
			break;
		}
		if (r->offset >= end)
			break; /* appended after verify came here */
		check_order(v, topic, p, compacted, r->offset, expect);
		expect = r->offset + 1;
		v->records++;
		v->pg.done++;
		progress_show(&v->pg, 0);
	}
	varve_iter_close(it);
	v->partitions++;
	if (rc == CLI_OK && !cli_stop)
		rc = tail_check(v, db, topic, p);
	return rc;
}

/* ---- the command ------------------------------------------------------------------------ */

static int64_t count_records(varve_db *db, char **topics, size_t nt)
{
	int64_t total = 0;
	for (size_t i = 0; i < nt; i++) {
		varve_topic_config tc;
		varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
		if (varve_topic_describe(db, topics[i], &tc))
			continue;
		for (uint32_t p = 0; p < tc.partitions; p++) {
			int64_t s0, e0;
			if (varve_offsets(db, topics[i], p, &s0, &e0) == 0)
				total += e0 - s0;
		}
	}
	return total;
}

static int verify_topics(verify_state *v, varve_db *db, char **topics, size_t nt)
{
	int rc = CLI_OK;
	for (size_t i = 0; i < nt && rc == CLI_OK && !cli_stop; i++) {
		varve_topic_config tc;
		varve_topic_config_init(&tc, VARVE_TOPIC_CONFIG_VERSION);
		if (varve_topic_describe(db, topics[i], &tc))
			continue; /* deleted meanwhile */
		int compacted = (tc.cleanup_policy & VARVE_CLEANUP_COMPACT) != 0;
		for (uint32_t p = 0; p < tc.partitions && rc == CLI_OK && !cli_stop; p++)
			rc = verify_partition(v, db, topics[i], p, compacted);
	}
	return rc;
}

static void summary(const verify_state *v, size_t ntopics)
{
	enc_text(stdout, v->c->dir, strlen(v->c->dir));
	printf(": %zu topics, %" PRIu64 " partitions, %" PRIu64 " records read: ", ntopics,
	       v->partitions, v->records);
	if (v->damage)
		printf("%" PRIu64 " damaged place%s found", v->damage, v->damage == 1 ? "" : "s");
	else
		printf("no damage found%s", v->warnings ? " (see warnings)" : "");
	if (v->skipped)
		printf(" (%" PRIu64 " records removed by retention meanwhile)", v->skipped);
	putchar('\n');
}

int cli_verify_main(cli_ctx *c, int argc, char **argv)
{
	int rc = cli_common_opts(c, argc, argv, verify_help);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if ((rc = cli_no_operands(c, argc, argv)))
		return rc;
	verify_state v;
	memset(&v, 0, sizeof v);
	v.c = c;
	v.pg.on = isatty(2);
	varve_db *db;
	cli_open_opts oo = { 0, 0, VARVE_SYNC_ALWAYS, 0, NULL };
	oo.corrupt_is_damage = 1;
	rc = cli_open(c, &oo, &db);
	if (rc == CLI_DAMAGE) {
		damage(&v, "opening the store (metadata log): %s", varve_last_error()->message);
		return CLI_DAMAGE;
	}
	if (rc)
		return rc;
	cli_catch_signals();
	char **topics;
	size_t nt;
	if ((rc = varve_topic_list(db, &topics, &nt)))
		return cli_close(db, cli_fail("listing topics", rc));
	v.pg.total = count_records(db, topics, nt);
	progress_show(&v.pg, 1);
	rc = verify_topics(&v, db, topics, nt);
	progress_show(&v.pg, 1);
	progress_clear(&v.pg);
	varve_strings_free(topics, nt);
	if (rc == CLI_OK && cli_stop) {
		cli_errf("interrupted");
		rc = CLI_ERROR;
	}
	if (rc == CLI_OK) {
		summary(&v, nt);
		if (v.damage)
			rc = CLI_DAMAGE;
	}
	return cli_close(db, rc);
}
