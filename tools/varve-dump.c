/* SPDX-License-Identifier: MIT */
/*
 * varve-dump -- print and check varve's files without opening the store.
 *
 *   varve-dump [options] FILE... | DIR...
 *
 * Reads only (O_RDONLY; no lock is taken), so it works on a live store.
 * Parsing and printing are in dump_core.c; this file finds the files,
 * reads them through bounded windows, and runs the checks that span files
 * (index against log, offsets across segments, recovery point against its
 * segment). See docs/TOOLS.md.
 *
 * A live writer's retention deletes the oldest segments (indexes first, the
 * log last) at any time: a file or directory that was listed and is gone
 * when it is opened is skipped, not an error (-v names it on stderr).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dump_core.h"

#include "segment.h"
#include "varve.h"

#define WINDOW (256u * 1024)
#define SMALL_FILE_MAX 4096 /* recovery point, VERSION */

/* ---- reading a file through a bounded window -------------------------- */

typedef struct file_src {
	int fd;
	uint8_t *buf;
	size_t cap;
	uint64_t woff;
	size_t wlen;
	int err; /* errno of the failed read */
} file_src;

static const uint8_t *file_get(dump_src *s, uint64_t off, size_t n)
{
	file_src *fs = s->ctx;
	if (off > s->size || n > s->size - off)
		return NULL;
	if (off >= fs->woff && off - fs->woff <= fs->wlen && n <= fs->wlen - (off - fs->woff))
		return fs->buf + (off - fs->woff);
	size_t want = n < WINDOW ? WINDOW : n;
	if (want > s->size - off)
		want = (size_t)(s->size - off);
	if (want > fs->cap) {
		uint8_t *nb = realloc(fs->buf, want);
		if (!nb) {
			fs->err = ENOMEM;
			return NULL;
		}
		fs->buf = nb;
		fs->cap = want;
	}
	fs->wlen = 0;
	size_t got = 0;
	while (got < want) {
		ssize_t r = pread(fs->fd, fs->buf + got, want - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fs->err = errno;
			return NULL;
		}
		if (r == 0)
			break; /* the file shrank under us (a live store's recovery) */
		got += (size_t)r;
	}
	fs->woff = off;
	fs->wlen = got;
	if (got < n) {
		s->shrank = 1;
		return NULL;
	}
	return fs->buf;
}

/* A live writer may be writing the batch at the end of the file: wait, and
 * take the file as it is now (size, bytes). */
static void file_settle(dump_src *s, int wait_ms)
{
	file_src *fs = s->ctx;
	struct timespec ts = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	struct stat st;
	if (fstat(fs->fd, &st) == 0)
		s->size = (uint64_t)st.st_size;
	s->shrank = 0;
	fs->wlen = 0; /* read again */
}

/* open_file and list_dir: the file was listed, and was gone when opened. */
#define VANISHED (-2)

/* A listed file or directory that is gone: a writer's retention (or a
 * topic deletion) removed it after it was listed. */
static int vanished(dump_ctx *c, const char *path)
{
	if (c->o->verbose) {
		fflush(c->out);
		fputs("varve-dump: ", stderr);
		dump_text_str(stderr, path);
		fputs(": removed after it was listed (by retention?); skipped\n", stderr);
	}
	return VANISHED;
}

/* Open path read-only; refuses anything but a regular file (a FIFO or a
 * device would block or never end). `listed`: path came from a directory
 * listing, so ENOENT means it vanished meanwhile (VANISHED, no error). */
static int open_file(dump_ctx *c, const char *path, dump_src *src, file_src *fs, int listed)
{
	memset(fs, 0, sizeof *fs);
	fs->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fs->fd < 0 && listed && errno == ENOENT)
		return vanished(c, path);
	if (fs->fd < 0) {
		dump_error(c, path, "cannot open: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fs->fd, &st) != 0) {
		dump_error(c, path, "cannot stat: %s", strerror(errno));
		close(fs->fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		dump_error(c, path, "not a regular file");
		close(fs->fd);
		return -1;
	}
	src->size = (uint64_t)st.st_size;
	src->shrank = 0;
	src->get = file_get;
	src->settle = file_settle;
	src->ctx = fs;
	return 0;
}

static void close_file(dump_ctx *c, const char *path, file_src *fs)
{
	if (fs->err > 0)
		dump_error(c, path, "read failed: %s", strerror(fs->err));
	free(fs->buf);
	close(fs->fd);
	memset(fs, 0, sizeof *fs);
	fs->fd = -1;
}

/* Read a whole (small or index) file into memory, up to cap bytes. *data
 * is NULL for a missing file (returns 0 with *exists = 0). */
static int slurp(dump_ctx *c, const char *path, uint64_t cap, uint8_t **data, size_t *n,
		 int *exists)
{
	*data = NULL;
	*n = 0;
	*exists = 0;
	struct stat st;
	if (stat(path, &st) != 0 && errno == ENOENT)
		return 0;
	*exists = 1;
	dump_src src;
	file_src fs;
	int orc = open_file(c, path, &src, &fs, 1);
	if (orc == VANISHED)
		*exists = 0;
	if (orc)
		return orc == VANISHED ? 0 : -1;
	if (src.size > cap) {
		dump_error(c, path, "%" PRIu64 " bytes: larger than the %" PRIu64 " bytes believed",
			   src.size, cap);
		close_file(c, path, &fs);
		return -1;
	}
	uint8_t *b = malloc(src.size ? (size_t)src.size : 1);
	if (!b) {
		dump_error(c, path, "out of memory");
		close_file(c, path, &fs);
		return -1;
	}
	if (src.size) {
		const uint8_t *p = file_get(&src, 0, (size_t)src.size);
		if (!p) {
			if (src.shrank)
				dump_error(c, path, "the file shrank while it was read (a writer cut it?)");
			free(b);
			close_file(c, path, &fs);
			return -1;
		}
		memcpy(b, p, (size_t)src.size);
	}
	*data = b;
	*n = (size_t)src.size;
	close_file(c, path, &fs);
	return 0;
}

/* ---- names --------------------------------------------------------------- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "<20 digits><suffix>" -> base; -1 when the name is not of that form. */
static int64_t seg_base_of(const char *name, const char *suffix)
{
	size_t n = strlen(name), sl = strlen(suffix);
	if (n != VV_SEG_NAME_LEN + sl || strcmp(name + VV_SEG_NAME_LEN, suffix))
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < VV_SEG_NAME_LEN; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	return v > (uint64_t)INT64_MAX ? -1 : (int64_t)v;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), sl = strlen(suffix);
	return n >= sl && !strcmp(s + n - sl, suffix);
}

/* Is the directory holding path named "meta" (the metadata log)? */
static int in_meta_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	char real[PATH_MAX];
	const char *d = realpath(dir, real) ? real : dir;
	return !strcmp(base_name(d), "meta");
}

/* Is dir itself named "meta"? */
static int dir_is_meta(const char *dir)
{
	char real[PATH_MAX];
	const char *d = realpath(dir, real) ? real : dir;
	return !strcmp(base_name(d), "meta");
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- single files ------------------------------------------------------- */

typedef struct run {
	dump_ctx c;
	dump_opts o;
	dump_kind forced; /* --kind */
} run;

static void seg_path(char *out, size_t cap, const char *dir, int64_t base, const char *suffix)
{
	snprintf(out, cap, "%s/%020" PRId64 "%s", dir, base, suffix);
}

/* Dump one file; for an index in --verify mode, check it against the log
 * beside it (read after the index: on a live store the log only grows, so
 * every entry already written points into what is read). */
static void dump_path(run *r, const char *path)
{
	dump_ctx *c = &r->c;
	const char *name = base_name(path);
	dump_kind k = r->forced;
	int64_t base = -1;
	if (k == DUMP_KIND_UNKNOWN) {
		if (!strcmp(name, VV_RECOVERY_POINT_FILE))
			k = DUMP_KIND_RECOVERY_POINT;
		else if (ends_with(name, ".log"))
			k = in_meta_dir(path) ? DUMP_KIND_META : DUMP_KIND_LOG;
		else if (ends_with(name, ".timeindex"))
			k = DUMP_KIND_TIMEINDEX;
		else if (ends_with(name, ".index"))
			k = DUMP_KIND_INDEX;
	}
	switch (k) {
	case DUMP_KIND_LOG:
	case DUMP_KIND_META:
		base = seg_base_of(name, ".log");
		break;
	case DUMP_KIND_INDEX:
		base = seg_base_of(name, ".index");
		break;
	case DUMP_KIND_TIMEINDEX:
		base = seg_base_of(name, ".timeindex");
		break;
	case DUMP_KIND_RECOVERY_POINT:
		break;
	default:
		dump_error(c, path, "cannot tell what kind of file this is (use --kind)");
		return;
	}

	if (r->o.verify && (k == DUMP_KIND_INDEX || k == DUMP_KIND_TIMEINDEX) && base >= 0) {
		uint8_t *data;
		size_t n;
		int ex;
		if (slurp(c, path, DUMP_MAX_BATCH_DEFAULT, &data, &n, &ex) || !ex) {
			if (!ex)
				dump_error(c, path, "cannot open: %s", strerror(ENOENT));
			return;
		}
		char logp[PATH_MAX];
		size_t dl = (size_t)(name - path);
		snprintf(logp, sizeof logp, "%.*s%020" PRId64 ".log", (int)dl, path, base);
		dump_log_info li;
		memset(&li, 0, sizeof li);
		int have_log = 0;
		if (exists(logp)) {
			dump_src ls;
			file_src lfs;
			if (open_file(c, logp, &ls, &lfs, 1) == 0) {
				/* read the log quietly: only its damage is shown */
				dump_opts q = r->o;
				q.quiet = 1;
				q.records = 0;
				const dump_opts *saved = c->o;
				uint64_t files = c->files, nb = c->batches, nr = c->records;
				c->o = &q;
				dump_file lf = { logp, &ls, in_meta_dir(logp) ? DUMP_KIND_META : DUMP_KIND_LOG,
						 base };
				have_log = dump_log(c, &lf, &li) == 0;
				c->o = saved;
				c->files = files; /* counted as the index's helper, not dumped */
				c->batches = nb;
				c->records = nr;
				close_file(c, logp, &lfs);
			}
		} else {
			dump_note(c, path, "no %s beside it: entries not checked against the log",
				  base_name(logp));
		}
		dump_src src;
		dump_src_mem(&src, data, n);
		dump_file f = { path, &src, k, base };
		if (k == DUMP_KIND_INDEX)
			(void)dump_index(c, &f, have_log ? &li : NULL);
		else
			(void)dump_timeindex(c, &f, have_log ? &li : NULL);
		dump_log_info_free(&li);
		free(data);
		return;
	}

	dump_src src;
	file_src fs;
	if (open_file(c, path, &src, &fs, 0))
		return;
	dump_file f = { path, &src, k, base };
	(void)dump_file_any(c, &f, NULL);
	close_file(c, path, &fs);
}

/* ---- directories --------------------------------------------------------- */

typedef struct name_list {
	char **v;
	size_t n, cap;
} name_list;

static void names_free(name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int list_dir(dump_ctx *c, const char *dir, name_list *l)
{
	memset(l, 0, sizeof *l);
	DIR *d = opendir(dir);
	if (!d && errno == ENOENT)
		return vanished(c, dir);
	if (!d) {
		dump_error(c, dir, "cannot open directory: %s", strerror(errno));
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (l->n == l->cap) {
			size_t nc = l->cap ? l->cap * 2 : 32;
			char **nv = realloc(l->v, nc * sizeof *nv);
			if (!nv)
				goto oom;
			l->v = nv;
			l->cap = nc;
		}
		if (!(l->v[l->n] = strdup(e->d_name)))
			goto oom;
		l->n++;
	}
	closedir(d);
	return 0;
oom:
	closedir(d);
	names_free(l);
	dump_error(c, dir, "out of memory");
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int has_base(const int64_t *v, size_t n, int64_t b)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == b)
			return 1;
	return 0;
}

/* What a partition directory's walk carries from segment to segment. */
typedef struct part_walk {
	const char *dir;
	int meta;
	char rpp[PATH_MAX]; /* the recovery point's path */
	vv_recovery_point rp;
	int rp_ok;
	int64_t prev_last; /* last good offset of the segments before */
	char prev_path[PATH_MAX];
} part_walk;

/* An index file read whole (or missing), checked against the log's batches. */
static void dump_index_file(run *r, const char *path, dump_kind kind, int64_t base,
			    const uint8_t *data, size_t n, int exists, int bad,
			    const dump_log_info *li)
{
	if (!exists) {
		dump_note(&r->c, path, "missing (the store rebuilds it from the log)");
		return;
	}
	if (bad)
		return;
	dump_src src;
	dump_src_mem(&src, data, n);
	dump_file f = { path, &src, kind, base };
	if (kind == DUMP_KIND_INDEX)
		(void)dump_index(&r->c, &f, li);
	else
		(void)dump_timeindex(&r->c, &f, li);
}

/* One segment: its log, the checks across segments and against the
 * recovery point, then its indexes (read before the log: see dump_path).
 * A segment retention removed after the listing is skipped. */
static void dump_segment(run *r, part_walk *w, int64_t base)
{
	dump_ctx *c = &r->c;
	char lp[PATH_MAX], ip[PATH_MAX], tp[PATH_MAX];
	seg_path(lp, sizeof lp, w->dir, base, ".log");
	seg_path(ip, sizeof ip, w->dir, base, ".index");
	seg_path(tp, sizeof tp, w->dir, base, ".timeindex");
	uint8_t *idx = NULL, *tidx = NULL;
	size_t idx_n = 0, tidx_n = 0;
	int idx_ex = 0, tidx_ex = 0;
	int idx_bad = slurp(c, ip, DUMP_MAX_BATCH_DEFAULT, &idx, &idx_n, &idx_ex);
	int tidx_bad = slurp(c, tp, DUMP_MAX_BATCH_DEFAULT, &tidx, &tidx_n, &tidx_ex);
	dump_log_info li;
	memset(&li, 0, sizeof li);
	dump_src src;
	file_src fs;
	int log_ok = 0, orc = open_file(c, lp, &src, &fs, 1);
	if (orc == VANISHED) /* retention took the whole segment */
		goto out;
	if (orc == 0) {
		dump_file f = { lp, &src, w->meta ? DUMP_KIND_META : DUMP_KIND_LOG, base };
		log_ok = dump_log(c, &f, &li) == 0;
		close_file(c, lp, &fs);
	}
	if (r->o.verify && log_ok) {
		if (w->prev_last >= 0 && base <= w->prev_last)
			dump_damage(c, lp, 0,
				    "segment base offset %" PRId64
				    " overlaps the previous segment %s, which ends at offset %" PRId64,
				    base, w->prev_path, w->prev_last);
		if (w->rp_ok)
			dump_check_recovery_point(c, w->rpp, &w->rp, lp, base, &li);
	}
	if (li.last_good_offset > w->prev_last)
		w->prev_last = li.last_good_offset;
	snprintf(w->prev_path, sizeof w->prev_path, "%s", lp);
	dump_index_file(r, ip, DUMP_KIND_INDEX, base, idx, idx_n, idx_ex, idx_bad,
			log_ok ? &li : NULL);
	dump_index_file(r, tp, DUMP_KIND_TIMEINDEX, base, tidx, tidx_n, tidx_ex, tidx_bad,
			log_ok ? &li : NULL);
out:
	free(idx);
	free(tidx);
	dump_log_info_free(&li);
}

static void dump_recovery_point_file(run *r, part_walk *w, int present)
{
	snprintf(w->rpp, sizeof w->rpp, "%s/%s", w->dir, VV_RECOVERY_POINT_FILE);
	if (!present) {
		dump_note(&r->c, w->dir, "no recovery point (the store scans the whole partition on open)");
		return;
	}
	dump_src src;
	file_src fs;
	if (open_file(&r->c, w->rpp, &src, &fs, 1) == 0) {
		dump_file f = { w->rpp, &src, DUMP_KIND_RECOVERY_POINT, -1 };
		(void)dump_recovery_point(&r->c, &f, &w->rp, &w->rp_ok);
		close_file(&r->c, w->rpp, &fs);
	}
}

/* Index files without their .log, dumped on their own. */
static void dump_orphans(run *r, const char *dir, const int64_t *orphans, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX];
		seg_path(p, sizeof p, dir, orphans[i], ".index");
		if (exists(p)) {
			dump_note(&r->c, p, "no .log for this index");
			dump_path(r, p);
		}
		seg_path(p, sizeof p, dir, orphans[i], ".timeindex");
		if (exists(p)) {
			dump_note(&r->c, p, "no .log for this time index");
			dump_path(r, p);
		}
	}
}

/* The recovery point must name a segment that is there (or one that
 * retention removed: below the first). */
static void check_rp_segment(run *r, const part_walk *w, const int64_t *logs, size_t nlogs)
{
	const vv_recovery_point *rp = &w->rp;
	if (!r->o.verify || !w->rp_ok || has_base(logs, nlogs, rp->segment_base))
		return;
	if (nlogs == 0 && rp->offset > rp->log_start)
		dump_damage(&r->c, w->rpp, 0,
			    "no segment files, but the recovery point says offsets below %" PRId64
			    " were durable",
			    rp->offset);
	else if (nlogs > 0 && rp->segment_base > logs[nlogs - 1])
		dump_damage(&r->c, w->rpp, 0,
			    "recovery point names segment %020" PRId64 ", past the last segment file",
			    rp->segment_base);
	/* below the first segment: retention removed it; nothing lost */
}

/* A partition directory: recovery point first, then each segment (log,
 * offset index, time index) in offset order, with the checks across them. */
static void dump_partition(run *r, const char *dir, int meta)
{
	dump_ctx *c = &r->c;
	name_list l;
	if (list_dir(c, dir, &l))
		return;
	qsort(l.v, l.n, sizeof *l.v, cmp_str);
	int64_t *logs = malloc((l.n + 1) * sizeof *logs);
	int64_t *orphans = malloc((l.n + 1) * sizeof *orphans);
	size_t nlogs = 0, norph = 0;
	int have_rp = 0;
	if (!logs || !orphans) {
		dump_error(c, dir, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		int64_t b;
		if ((b = seg_base_of(l.v[i], ".log")) >= 0)
			logs[nlogs++] = b;
		else if (!strcmp(l.v[i], VV_RECOVERY_POINT_FILE))
			have_rp = 1;
	}
	qsort(logs, nlogs, sizeof *logs, cmp_i64);
	for (size_t i = 0; i < l.n; i++) {
		int64_t b = seg_base_of(l.v[i], ".index");
		if (b < 0)
			b = seg_base_of(l.v[i], ".timeindex");
		if (b >= 0) {
			if (!has_base(logs, nlogs, b) && !has_base(orphans, norph, b))
				orphans[norph++] = b;
			continue;
		}
		if (seg_base_of(l.v[i], ".log") >= 0 || !strcmp(l.v[i], VV_RECOVERY_POINT_FILE))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, l.v[i]);
		dump_note(c, p, ends_with(l.v[i], ".tmp") ? "ignored (an interrupted atomic write)"
							   : "skipped (a file varve-dump does not read)");
	}
	part_walk w;
	memset(&w, 0, sizeof w);
	w.dir = dir;
	w.meta = meta;
	w.prev_last = -1;
	dump_recovery_point_file(r, &w, have_rp);
	for (size_t i = 0; i < nlogs; i++)
		dump_segment(r, &w, logs[i]);
	dump_orphans(r, dir, orphans, norph);
	check_rp_segment(r, &w, logs, nlogs);
out:
	free(logs);
	free(orphans);
	names_free(&l);
}

static void dump_topic_dir(run *r, const char *dir)
{
	name_list l;
	if (list_dir(&r->c, dir, &l))
		return;
	/* partitions in numeric order */
	int64_t *ids = malloc((l.n + 1) * sizeof *ids);
	size_t n = 0;
	if (!ids) {
		dump_error(&r->c, dir, "out of memory");
		names_free(&l);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, l.v[i]);
		if (all_digits(l.v[i]) && strlen(l.v[i]) <= 9 && is_dir(p))
			ids[n++] = strtoll(l.v[i], NULL, 10);
		else
			dump_note(&r->c, p, "ignored (not a partition directory)");
	}
	qsort(ids, n, sizeof *ids, cmp_i64);
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%" PRId64, dir, ids[i]);
		dump_partition(r, p, 0);
	}
	free(ids);
	names_free(&l);
}

static void dump_store(run *r, const char *dir)
{
	dump_ctx *c = &r->c;
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/VERSION", dir);
	uint8_t *v;
	size_t n;
	int ex;
	long version = -1;
	if (slurp(c, p, SMALL_FILE_MAX, &v, &n, &ex) == 0 && ex) {
		char text[32];
		size_t k = n < sizeof text - 1 ? n : sizeof text - 1;
		memcpy(text, v, k);
		text[k] = 0;
		char *end;
		errno = 0;
		long x = strtol(text, &end, 10);
		while (*end == '\n' || *end == ' ' || *end == '\r')
			end++;
		if (end == text || *end || errno || x < 0 || n > 16)
			dump_damage(c, p, 0, "does not hold a format version number");
		else
			version = x;
		free(v);
	} else if (!ex) {
		dump_note(c, p, "missing");
	}
	snprintf(p, sizeof p, "%s/CLEAN", dir);
	int clean = exists(p);
	if (!r->o.quiet) {
		if (r->o.json) {
			fputs("{\"type\":\"store\",\"path\":", c->out);
			dump_json_str(c->out, dir);
			fprintf(c->out, ",\"format_version\":%ld,\"clean\":%s}\n", version,
				clean ? "true" : "false");
		} else {
			fputs("=== store ", c->out);
			dump_text_str(c->out, dir);
			fprintf(c->out, " (format version %ld%s; %s)\n", version,
				version > VARVE_FORMAT_VERSION ? ", newer than this tool" : "",
				clean ? "closed cleanly" : "open, or not closed cleanly");
		}
	}
	snprintf(p, sizeof p, "%s/meta", dir);
	if (is_dir(p))
		dump_partition(r, p, 1);
	else
		dump_note(c, p, "no metadata log directory");
	snprintf(p, sizeof p, "%s/topics", dir);
	if (!is_dir(p))
		return;
	name_list l;
	if (list_dir(c, p, &l))
		return;
	qsort(l.v, l.n, sizeof *l.v, cmp_str);
	for (size_t i = 0; i < l.n; i++) {
		char t[PATH_MAX];
		snprintf(t, sizeof t, "%s/%s", p, l.v[i]);
		if (is_dir(t))
			dump_topic_dir(r, t);
		else
			dump_note(c, t, "ignored (not a topic directory)");
	}
	names_free(&l);
}

static void dump_dir(run *r, const char *dir)
{
	char p[PATH_MAX];
	int store = 0, topic = 0, logs = 0;
	snprintf(p, sizeof p, "%s/meta", dir);
	store |= is_dir(p);
	snprintf(p, sizeof p, "%s/topics", dir);
	store |= is_dir(p);
	snprintf(p, sizeof p, "%s/VERSION", dir);
	store |= exists(p);
	if (store) {
		dump_store(r, dir);
		return;
	}
	name_list l;
	if (list_dir(&r->c, dir, &l))
		return;
	for (size_t i = 0; i < l.n; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, l.v[i]);
		if (ends_with(l.v[i], ".log") || !strcmp(l.v[i], VV_RECOVERY_POINT_FILE))
			logs = 1;
		else if (all_digits(l.v[i]) && is_dir(p))
			topic = 1;
	}
	if (!logs && !topic) {
		/* a store's topics/ directory: every subdirectory a topic */
		int topics = 0;
		for (size_t i = 0; i < l.n; i++) {
			snprintf(p, sizeof p, "%s/%s", dir, l.v[i]);
			topics |= is_dir(p);
		}
		if (topics) {
			qsort(l.v, l.n, sizeof *l.v, cmp_str);
			for (size_t i = 0; i < l.n; i++) {
				snprintf(p, sizeof p, "%s/%s", dir, l.v[i]);
				if (is_dir(p))
					dump_topic_dir(r, p);
				else
					dump_note(&r->c, p, "ignored (not a topic directory)");
			}
			names_free(&l);
			return;
		}
	}
	names_free(&l);
	if (topic && !logs)
		dump_topic_dir(r, dir);
	else
		dump_partition(r, dir, dir_is_meta(dir));
}

/* ---- main ----------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: varve-dump [options] FILE... | DIR...\n"
	      "\n"
	      "Print and check varve's files: .log segments (and the metadata log in a\n"
	      "store's meta/), .index and .timeindex files, recovery-point files. A DIR is\n"
	      "a partition directory (every segment in offset order), a topic directory,\n"
	      "or a store root (meta/ and topics/*/*). Opens nothing for writing.\n"
	      "\n"
	      "options:\n"
	      "  -r, --records       print every record (offset, timestamp, key, value, headers)\n"
	      "  -x, --hex           show keys, values and headers in hex\n"
	      "  -b, --base64        show keys, values and headers in base64\n"
	      "  -j, --json          one JSON object per line\n"
	      "      --verify        also check record decoding, offset continuity (in and\n"
	      "                      across segments), indexes against the log, and the\n"
	      "                      recovery point against its segment\n"
	      "  -q, --quiet         print only damage and the summary\n"
	      "  -v, --verbose       name on stderr the files skipped because they were removed\n"
	      "                      after they were listed (a live writer's retention)\n"
	      "  -k, --kind KIND     treat every FILE as KIND: log, meta, index, timeindex,\n"
	      "                      recovery-point (default: from the file name)\n"
	      "      --max-batch N   largest batch length believed (default 1 GiB)\n"
	      "  -h, --help          this text\n"
	      "      --version       print the version\n"
	      "\n"
	      "exit status: 0 ok, 1 error (a file could not be read), 2 usage,\n"
	      "             3 damage found (the first damaged file and position go to stderr)\n",
	      f);
}

int main(int argc, char **argv)
{
	static run r;
	memset(&r, 0, sizeof r);
	enum { OPT_VERIFY = 256, OPT_MAX_BATCH, OPT_VERSION };
	static const struct option longopts[] = {
		{ "records", no_argument, NULL, 'r' },
		{ "hex", no_argument, NULL, 'x' },
		{ "base64", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "kind", required_argument, NULL, 'k' },
		{ "max-batch", required_argument, NULL, OPT_MAX_BATCH },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int hex = 0, base64 = 0, opt;
	while ((opt = getopt_long(argc, argv, "rxbjqvk:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': r.o.records = 1; break;
		case 'x': hex = 1; break;
		case 'b': base64 = 1; break;
		case 'j': r.o.json = 1; break;
		case 'q': r.o.quiet = 1; break;
		case 'v': r.o.verbose = 1; break;
		case OPT_VERIFY: r.o.verify = 1; break;
		case 'k':
			r.forced = dump_kind_parse(optarg);
			if (r.forced == DUMP_KIND_UNKNOWN) {
				fprintf(stderr, "varve-dump: unknown kind '%s' (log, meta, index, "
						"timeindex, recovery-point)\n", optarg);
				return DUMP_EXIT_USAGE;
			}
			break;
		case OPT_MAX_BATCH: {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (*end || errno || v < 80 || v > DUMP_MAX_BATCH_DEFAULT || optarg[0] == '-') {
				fprintf(stderr, "varve-dump: --max-batch must be 80..%u\n",
					DUMP_MAX_BATCH_DEFAULT);
				return DUMP_EXIT_USAGE;
			}
			r.o.max_batch = (uint32_t)v;
			break;
		}
		case 'h':
			usage(stdout);
			return DUMP_EXIT_OK;
		case OPT_VERSION:
			printf("varve-dump %s (format %d)\n", varve_version(NULL, NULL, NULL),
			       VARVE_FORMAT_VERSION);
			return DUMP_EXIT_OK;
		default:
			usage(stderr);
			return DUMP_EXIT_USAGE;
		}
	}
	if (hex && base64) {
		fputs("varve-dump: --hex and --base64 exclude each other\n", stderr);
		return DUMP_EXIT_USAGE;
	}
	r.o.enc = hex ? DUMP_ENC_HEX : base64 ? DUMP_ENC_BASE64 : DUMP_ENC_ESCAPE;
	if (optind >= argc) {
		usage(stderr);
		return DUMP_EXIT_USAGE;
	}
	dump_ctx *c = &r.c;
	dump_ctx_init(c, &r.o, stdout);
	for (int i = optind; i < argc; i++) {
		const char *a = argv[i];
		char trimmed[PATH_MAX];
		snprintf(trimmed, sizeof trimmed, "%s", a);
		size_t tl = strlen(trimmed);
		while (tl > 1 && trimmed[tl - 1] == '/')
			trimmed[--tl] = 0;
		if (is_dir(trimmed)) {
			if (r.forced != DUMP_KIND_UNKNOWN)
				dump_note(c, trimmed, "--kind applies to files, not directories");
			dump_dir(&r, trimmed);
		} else {
			dump_path(&r, trimmed);
		}
	}

	int rc = c->damage_count ? DUMP_EXIT_DAMAGE : c->errors ? DUMP_EXIT_ERROR : DUMP_EXIT_OK;
	if (r.o.json) {
		fprintf(c->out, "{\"type\":\"summary\",\"files\":%" PRIu64 ",\"batches\":%" PRIu64
			",\"records\":%" PRIu64 ",\"index_entries\":%" PRIu64 ",\"damage\":%" PRIu64
			",\"errors\":%d,\"verified\":%s",
			c->files, c->batches, c->records, c->entries, c->damage_count, c->errors,
			r.o.verify ? "true" : "false");
		if (c->damage_count) {
			fputs(",\"first_damage\":{\"file\":", c->out);
			dump_json_str(c->out, c->first_file);
			fprintf(c->out, ",\"position\":%" PRIu64 ",\"reason\":", c->first_pos);
			dump_json_str(c->out, c->first_reason);
			fputc('}', c->out);
		}
		fputs("}\n", c->out);
	} else {
		fprintf(c->out, "summary: %" PRIu64 " files, %" PRIu64 " batches, %" PRIu64
			" records, %" PRIu64 " index entries, %" PRIu64 " problems%s\n",
			c->files, c->batches, c->records, c->entries, c->damage_count,
			r.o.verify ? (c->damage_count ? " (verify FAILED)" : " (verify ok)") : "");
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "varve-dump: writing the output failed: %s\n", strerror(errno));
		if (rc == DUMP_EXIT_OK)
			rc = DUMP_EXIT_ERROR;
	}
	if (c->damage_count) {
		fputs("varve-dump: damage in ", stderr);
		dump_text_str(stderr, c->first_file);
		fprintf(stderr, " at position %" PRIu64 ": ", c->first_pos);
		dump_text_str(stderr, c->first_reason);
		if (c->damage_count > 1)
			fprintf(stderr, " (and %" PRIu64 " more problems)", c->damage_count - 1);
		fputc('\n', stderr);
	}
	dump_ctx_free(c);
	return rc;
}
