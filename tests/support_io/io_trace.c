/* SPDX-License-Identifier: MIT */
/* io_trace.c -- the tracing backend (see io_trace.h). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "io_trace.h"

typedef struct trh {
	vv_file *inner;
} trh;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const vv_io_methods *lower;
static int reads;
static tr_event *ev;
static size_t nev, cap;

static void add(int op, int rc, const char *p1, const char *p2, uint64_t off, uint64_t len,
		int created, int flags)
{
	pthread_mutex_lock(&mu);
	if (nev == cap) {
		size_t nc = cap ? cap * 2 : 1024;
		tr_event *n = realloc(ev, nc * sizeof *n);
		if (!n) {
			pthread_mutex_unlock(&mu);
			abort();
		}
		ev = n;
		cap = nc;
	}
	tr_event *e = &ev[nev++];
	memset(e, 0, sizeof *e);
	e->op = op;
	e->rc = rc;
	e->created = created;
	e->flags = flags;
	e->off = off;
	e->len = len;
	snprintf(e->path, sizeof e->path, "%s", p1 ? p1 : "");
	snprintf(e->path2, sizeof e->path2, "%s", p2 ? p2 : "");
	pthread_mutex_unlock(&mu);
}

static int wrap(vv_file *inner, const char *path, vv_file **out)
{
	trh *h = malloc(sizeof *h);
	vv_file *f = malloc(sizeof *f);
	char *p = strdup(path);
	if (!h || !f || !p) {
		free(h);
		free(f);
		free(p);
		lower->close(inner);
		return -ENOMEM;
	}
	h->inner = inner;
	f->fd = inner->fd;
	f->path = p;
	f->backend = h;
	*out = f;
	return 0;
}

static int exists(const char *path)
{
	uint64_t sz;
	int d;
	return lower->stat_size(path, &sz, &d) == 0;
}

static int t_open(const char *path, int flags, unsigned mode, vv_file **out)
{
	int before = (flags & VV_O_CREAT) ? exists(path) : 1;
	vv_file *inner;
	int rc = lower->open(path, flags, mode, &inner);
	if (rc == 0)
		rc = wrap(inner, path, out);
	add(TR_OPEN, rc, path, NULL, 0, 0, rc == 0 && !before, flags);
	return rc;
}

static int t_lock(const char *path, unsigned mode, vv_file **out)
{
	int before = exists(path);
	vv_file *inner;
	int rc = lower->lock(path, mode, &inner);
	if (rc == 0)
		rc = wrap(inner, path, out);
	add(TR_LOCK, rc, path, NULL, 0, 0, rc == 0 && !before, VV_O_CREAT);
	return rc;
}

static int t_close(vv_file *f)
{
	trh *h = f->backend;
	int rc = lower->close(h->inner);
	add(TR_CLOSE, rc, f->path, NULL, 0, 0, 0, 0);
	free(h);
	free(f->path);
	free(f);
	return rc;
}

static int t_pread(vv_file *f, void *b, size_t n, uint64_t off, size_t *nr)
{
	trh *h = f->backend;
	int rc = lower->pread(h->inner, b, n, off, nr);
	if (reads)
		add(TR_READ, rc, f->path, NULL, off, n, 0, 0);
	return rc;
}

static int t_pwrite(vv_file *f, const void *b, size_t n, uint64_t off, size_t *nw)
{
	trh *h = f->backend;
	int rc = lower->pwrite(h->inner, b, n, off, nw);
	add(TR_WRITE, rc, f->path, NULL, off, rc ? 0 : *nw, 0, 0);
	return rc;
}

static int t_datasync(vv_file *f)
{
	trh *h = f->backend;
	int rc = lower->datasync(h->inner);
	add(TR_DATASYNC, rc, f->path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_size(vv_file *f, uint64_t *out)
{
	trh *h = f->backend;
	int rc = lower->size(h->inner, out);
	if (reads)
		add(TR_SIZE, rc, f->path, NULL, rc ? 0 : *out, 0, 0, 0);
	return rc;
}

static int t_truncate(vv_file *f, uint64_t size)
{
	trh *h = f->backend;
	int rc = lower->truncate(h->inner, size);
	add(TR_TRUNCATE, rc, f->path, NULL, size, 0, 0, 0);
	return rc;
}

static int t_allocate(vv_file *f, uint64_t off, uint64_t len)
{
	trh *h = f->backend;
	int rc = lower->allocate(h->inner, off, len);
	add(TR_ALLOCATE, rc, f->path, NULL, off, len, 0, 0);
	return rc;
}

static int t_rename(const char *from, const char *to)
{
	int rc = lower->rename(from, to);
	add(TR_RENAME, rc, from, to, 0, 0, 0, 0);
	return rc;
}

static int t_unlink(const char *path)
{
	int rc = lower->unlink(path);
	add(TR_UNLINK, rc, path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_mkdir(const char *path, unsigned mode)
{
	int rc = lower->mkdir(path, mode);
	add(TR_MKDIR, rc, path, NULL, 0, 0, rc == 0, 0);
	return rc;
}

static int t_rmdir(const char *path)
{
	int rc = lower->rmdir(path);
	add(TR_RMDIR, rc, path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_sync_dir(const char *path)
{
	int rc = lower->sync_dir(path);
	add(TR_SYNC_DIR, rc, path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_list_dir(const char *path, char ***names, size_t *count)
{
	int rc = lower->list_dir(path, names, count);
	if (reads)
		add(TR_LIST, rc, path, NULL, 0, rc ? 0 : *count, 0, 0);
	return rc;
}

static int t_stat_size(const char *path, uint64_t *size, int *is_dir)
{
	int rc = lower->stat_size(path, size, is_dir);
	if (reads)
		add(TR_STAT, rc, path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_file_info(vv_file *f, vv_file_info *out)
{
	trh *h = f->backend;
	int rc = lower->file_info(h->inner, out);
	if (reads)
		add(TR_STAT, rc, f->path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_path_info(const char *path, vv_file_info *out)
{
	int rc = lower->path_info(path, out);
	if (reads)
		add(TR_STAT, rc, path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_link(const char *from, const char *to)
{
	int rc = lower->link(from, to);
	add(TR_LINK, rc, from, to, 0, 0, 0, 0);
	return rc;
}

static int t_extend(vv_file *f, uint64_t size)
{
	trh *h = f->backend;
	int rc = lower->extend(h->inner, size);
	add(TR_EXTEND, rc, f->path, NULL, size, 0, 0, 0);
	return rc;
}

static int t_syncfs(vv_file *f)
{
	trh *h = f->backend;
	int rc = lower->syncfs(h->inner);
	add(TR_SYNCFS, rc, f->path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_free_space(const char *path, uint64_t *bytes)
{
	int rc = lower->free_space(path, bytes);
	if (reads)
		add(TR_STAT, rc, path, NULL, 0, 0, 0, 0);
	return rc;
}

static int t_map(vv_file *f, size_t len, int writable, uint8_t **out)
{
	trh *h = f->backend;
	return lower->map(h->inner, len, writable, out);
}

static void t_unmap(vv_file *f, uint8_t *p, size_t len)
{
	trh *h = f->backend;
	lower->unmap(h->inner, p, len);
}

static void t_prefault(vv_file *f, uint8_t *p, size_t len)
{
	trh *h = f->backend;
	lower->prefault(h->inner, p, len);
}

static int t_map_write(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n)
{
	trh *h = f->backend;
	int rc = lower->map_write(h->inner, map, off, src, n);
	add(TR_WRITE, rc, f->path, NULL, off, rc ? 0 : n, 0, 0);
	return rc;
}

static const vv_io_methods tr_methods = {
	.open = t_open,
	.close = t_close,
	.pread = t_pread,
	.pwrite = t_pwrite,
	.datasync = t_datasync,
	.size = t_size,
	.truncate = t_truncate,
	.allocate = t_allocate,
	.rename = t_rename,
	.unlink = t_unlink,
	.mkdir = t_mkdir,
	.rmdir = t_rmdir,
	.sync_dir = t_sync_dir,
	.list_dir = t_list_dir,
	.lock = t_lock,
	.stat_size = t_stat_size,
	.file_info = t_file_info,
	.path_info = t_path_info,
	.link = t_link,
	.extend = t_extend,
	.syncfs = t_syncfs,
	.free_space = t_free_space,
	.map = t_map,
	.unmap = t_unmap,
	.prefault = t_prefault,
	.map_write = t_map_write,
};

const vv_io_methods *tr_table(void)
{
	pthread_mutex_lock(&mu);
	if (!lower)
		lower = &vv_io_posix;
	pthread_mutex_unlock(&mu);
	return &tr_methods;
}

void tr_clear(void)
{
	pthread_mutex_lock(&mu);
	free(ev);
	ev = NULL;
	nev = cap = 0;
	pthread_mutex_unlock(&mu);
}

void tr_record_reads(int on) { reads = on; }

void tr_mark(const char *fmt, ...)
{
	char label[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(label, sizeof label, fmt, ap);
	va_end(ap);
	add(TR_MARK, 0, label, NULL, 0, 0, 0, 0);
}

size_t tr_count(void)
{
	pthread_mutex_lock(&mu);
	size_t n = nev;
	pthread_mutex_unlock(&mu);
	return n;
}

tr_event tr_get(size_t i)
{
	pthread_mutex_lock(&mu);
	tr_event e;
	if (i < nev)
		e = ev[i];
	else
		memset(&e, 0, sizeof e);
	pthread_mutex_unlock(&mu);
	return e;
}

size_t tr_find_mark(const char *label, size_t from)
{
	pthread_mutex_lock(&mu);
	size_t r = SIZE_MAX;
	for (size_t i = from; i < nev; i++)
		if (ev[i].op == TR_MARK && !strcmp(ev[i].path, label)) {
			r = i;
			break;
		}
	pthread_mutex_unlock(&mu);
	return r;
}

const char *tr_op_name(int op)
{
	static const char *const names[] = { "?", "open", "close", "read", "write", "datasync",
					     "size", "truncate", "allocate", "rename", "unlink",
					     "mkdir", "rmdir", "sync_dir", "list", "lock", "stat",
					     "MARK", "extend", "syncfs", "link" };
	return op > 0 && op <= TR_LINK ? names[op] : "?";
}

void tr_dump(FILE *out, size_t from, size_t to)
{
	size_t n = tr_count();
	if (to > n)
		to = n;
	for (size_t i = from; i < to; i++) {
		tr_event e = tr_get(i);
		fprintf(out, "%6zu %-9s %s%s%s", i, tr_op_name(e.op), e.path, e.path2[0] ? " -> " : "",
			e.path2);
		if (e.op == TR_WRITE || e.op == TR_TRUNCATE || e.op == TR_EXTEND)
			fprintf(out, " @%llu+%llu", (unsigned long long)e.off, (unsigned long long)e.len);
		if (e.created)
			fprintf(out, " (created)");
		if (e.rc)
			fprintf(out, " rc=%d", e.rc);
		fprintf(out, "\n");
	}
}

void tr_dirname(const char *path, char *out, size_t outcap)
{
	snprintf(out, outcap, "%s", path);
	char *s = strrchr(out, '/');
	if (s && s != out)
		*s = 0;
	else if (s)
		s[1] = 0;
}
