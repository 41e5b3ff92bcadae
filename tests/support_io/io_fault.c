/* SPDX-License-Identifier: MIT */
/* io_fault.c -- fault-injecting I/O backend; see io_fault.h. */
#include "io_fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define MAX_RULES 8
#define NMETHODS 21

typedef struct rule {
	int used;
	unsigned methods;
	long nth;
	iof_kind kind;
	int persistent;
	char path_sub[256];
	long calls;
	int tripped;
} rule;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rule rules[MAX_RULES];
static long fired;
static long per_method[NMETHODS];
static char first_fault[512];
static const vv_file *short_pending; /* next pwrite on this file fails */
static _Atomic int fast;

static const char *const names[NMETHODS] = {
	"open", "close", "pread", "pwrite", "datasync", "size", "truncate", "allocate",
	"rename", "unlink", "mkdir", "rmdir", "sync_dir", "list_dir", "lock", "stat", "extend",
	"syncfs", "free_space", "map", "map_write",
};

const char *iof_method_name(unsigned bit)
{
	for (int i = 0; i < NMETHODS; i++)
		if (bit == (1u << i))
			return names[i];
	return "?";
}

const char *iof_kind_name(iof_kind k)
{
	switch (k) {
	case IOF_EIO: return "EIO";
	case IOF_ENOSPC: return "ENOSPC";
	case IOF_SHORT: return "short-write";
	case IOF_EMFILE: return "EMFILE";
	}
	return "?";
}

int iof_arm(unsigned methods, long nth, iof_kind kind, int persistent, const char *path_sub)
{
	pthread_mutex_lock(&mu);
	int at = -1;
	for (int i = 0; i < MAX_RULES; i++)
		if (!rules[i].used) {
			at = i;
			break;
		}
	if (at >= 0) {
		rule *r = &rules[at];
		memset(r, 0, sizeof *r);
		r->used = 1;
		r->methods = methods;
		r->nth = nth;
		r->kind = kind;
		r->persistent = persistent;
		if (path_sub)
			snprintf(r->path_sub, sizeof r->path_sub, "%s", path_sub);
	}
	pthread_mutex_unlock(&mu);
	return at;
}

void iof_disarm(void)
{
	pthread_mutex_lock(&mu);
	memset(rules, 0, sizeof rules);
	memset(per_method, 0, sizeof per_method);
	fired = 0;
	first_fault[0] = 0;
	short_pending = NULL;
	pthread_mutex_unlock(&mu);
}

long iof_fired(void)
{
	pthread_mutex_lock(&mu);
	long n = fired;
	pthread_mutex_unlock(&mu);
	return n;
}

long iof_rule_calls(int i)
{
	if (i < 0 || i >= MAX_RULES)
		return 0;
	pthread_mutex_lock(&mu);
	long n = rules[i].calls;
	pthread_mutex_unlock(&mu);
	return n;
}

long iof_calls(unsigned methods)
{
	long n = 0;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < NMETHODS; i++)
		if (methods & (1u << i))
			n += per_method[i];
	pthread_mutex_unlock(&mu);
	return n;
}

const char *iof_first_fault(void) { return first_fault; }

void iof_fast(int on) { atomic_store(&fast, on); }

static int trace_on = -1;

/* Decide the fate of one call: 0 = pass, else the iof_kind + 1. */
static int decide(unsigned bit, const char *path)
{
	int verdict = 0;
	if (trace_on < 0)
		trace_on = getenv("IOF_TRACE") != NULL;
	if (trace_on)
		fprintf(stderr, "iof: %s %s\n", iof_method_name(bit), path ? path : "?");
	pthread_mutex_lock(&mu);
	for (int i = 0; i < NMETHODS; i++)
		if (bit == (1u << i))
			per_method[i]++;
	for (int i = 0; i < MAX_RULES; i++) {
		rule *r = &rules[i];
		if (!r->used || !(r->methods & bit))
			continue;
		if (r->path_sub[0] && (!path || !strstr(path, r->path_sub)))
			continue;
		r->calls++;
		int hit = r->calls == r->nth || (r->persistent && r->calls > r->nth);
		if (hit && !verdict) {
			verdict = (int)r->kind + 1;
			r->tripped = 1;
			if (!fired)
				snprintf(first_fault, sizeof first_fault, "%s %s (%s, call %ld of rule %d)",
					 iof_method_name(bit), path ? path : "?", iof_kind_name(r->kind),
					 r->calls, i);
			fired++;
		}
	}
	pthread_mutex_unlock(&mu);
	return verdict;
}

static int err_of(int verdict)
{
	switch (verdict - 1) {
	case IOF_ENOSPC: return -ENOSPC;
	case IOF_EMFILE: return -EMFILE;
	default: return -EIO;
	}
}

#define P (&vv_io_posix)

static int f_open(const char *path, int flags, unsigned mode, vv_file **out)
{
	int v = decide(IOF_OPEN, path);
	return v ? err_of(v) : P->open(path, flags, mode, out);
}

static int f_close(vv_file *f)
{
	pthread_mutex_lock(&mu);
	if (short_pending == f)
		short_pending = NULL;
	pthread_mutex_unlock(&mu);
	/* A failed close still releases the handle: the caller cannot retry. */
	int v = decide(IOF_CLOSE, f->path);
	int rc = P->close(f);
	return v ? err_of(v) : rc;
}

static int f_pread(vv_file *f, void *buf, size_t n, uint64_t off, size_t *nread)
{
	int v = decide(IOF_PREAD, f->path);
	return v ? err_of(v) : P->pread(f, buf, n, off, nread);
}

static int f_pwrite(vv_file *f, const void *buf, size_t n, uint64_t off, size_t *nw)
{
	pthread_mutex_lock(&mu);
	int pending = short_pending == f;
	if (pending)
		short_pending = NULL;
	pthread_mutex_unlock(&mu);
	if (pending)
		return -ENOSPC; /* the error that follows a short write */
	int v = decide(IOF_PWRITE, f->path);
	if (!v)
		return P->pwrite(f, buf, n, off, nw);
	if (v - 1 != IOF_SHORT || n < 2)
		return err_of(v == IOF_SHORT + 1 ? IOF_ENOSPC + 1 : v);
	size_t part = n / 2;
	int rc = P->pwrite(f, buf, part, off, nw);
	if (rc)
		return rc;
	pthread_mutex_lock(&mu);
	short_pending = f;
	pthread_mutex_unlock(&mu);
	return 0;
}

static int f_datasync(vv_file *f)
{
	int v = decide(IOF_DATASYNC, f->path);
	if (v)
		return err_of(v);
	return atomic_load(&fast) ? 0 : P->datasync(f);
}

static int f_size(vv_file *f, uint64_t *out)
{
	int v = decide(IOF_SIZE, f->path);
	return v ? err_of(v) : P->size(f, out);
}

static int f_truncate(vv_file *f, uint64_t size)
{
	int v = decide(IOF_TRUNCATE, f->path);
	return v ? err_of(v) : P->truncate(f, size);
}

static int f_allocate(vv_file *f, uint64_t off, uint64_t len)
{
	int v = decide(IOF_ALLOCATE, f->path);
	return v ? err_of(v) : P->allocate(f, off, len);
}

static int f_rename(const char *from, const char *to)
{
	int v = decide(IOF_RENAME, from);
	return v ? err_of(v) : P->rename(from, to);
}

static int f_unlink(const char *path)
{
	int v = decide(IOF_UNLINK, path);
	return v ? err_of(v) : P->unlink(path);
}

static int f_mkdir(const char *path, unsigned mode)
{
	int v = decide(IOF_MKDIR, path);
	return v ? err_of(v) : P->mkdir(path, mode);
}

static int f_rmdir(const char *path)
{
	int v = decide(IOF_RMDIR, path);
	return v ? err_of(v) : P->rmdir(path);
}

static int f_sync_dir(const char *path)
{
	int v = decide(IOF_SYNC_DIR, path);
	if (v)
		return err_of(v);
	return atomic_load(&fast) ? 0 : P->sync_dir(path);
}

static int f_list_dir(const char *path, char ***names_out, size_t *count)
{
	int v = decide(IOF_LIST_DIR, path);
	return v ? err_of(v) : P->list_dir(path, names_out, count);
}

static int f_lock(const char *path, unsigned mode, vv_file **out)
{
	int v = decide(IOF_LOCK, path);
	return v ? err_of(v) : P->lock(path, mode, out);
}

static int f_stat(const char *path, uint64_t *size, int *is_dir)
{
	int v = decide(IOF_STAT, path);
	return v ? err_of(v) : P->stat_size(path, size, is_dir);
}

static int f_extend(vv_file *f, uint64_t size)
{
	int v = decide(IOF_EXTEND, f->path);
	if (v)
		return err_of(v);
	if (!atomic_load(&fast))
		return P->extend(f, size);
	uint64_t cur = 0;
	int rc = P->size(f, &cur);
	if (rc == 0 && cur < size)
		rc = P->truncate(f, size);
	return rc;
}

static int f_syncfs(vv_file *f)
{
	int v = decide(IOF_SYNCFS, f->path);
	if (v)
		return err_of(v);
	return atomic_load(&fast) ? 0 : P->syncfs(f);
}

static int f_free_space(const char *path, uint64_t *bytes)
{
	int v = decide(IOF_FREE_SPACE, path);
	return v ? err_of(v) : P->free_space(path, bytes);
}

static int f_map(vv_file *f, size_t len, int writable, uint8_t **out)
{
	int v = decide(IOF_MAP, f->path);
	return v ? err_of(v) : P->map(f, len, writable, out);
}

static int f_map_write(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n)
{
	int v = decide(IOF_MAP_WRITE, f->path);
	return v ? err_of(v) : P->map_write(f, map, off, src, n);
}

static vv_io_methods table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	table = vv_io_posix; /* methods unknown here pass through */
	table.open = f_open;
	table.close = f_close;
	table.pread = f_pread;
	table.pwrite = f_pwrite;
	table.datasync = f_datasync;
	table.size = f_size;
	table.truncate = f_truncate;
	table.allocate = f_allocate;
	table.rename = f_rename;
	table.unlink = f_unlink;
	table.mkdir = f_mkdir;
	table.rmdir = f_rmdir;
	table.sync_dir = f_sync_dir;
	table.list_dir = f_list_dir;
	table.lock = f_lock;
	table.stat_size = f_stat;
	table.extend = f_extend;
	table.syncfs = f_syncfs;
	table.free_space = f_free_space;
	table.map = f_map;
	table.map_write = f_map_write;
}

const vv_io_methods *iof_table(void)
{
	pthread_once(&table_once, table_init);
	return &table;
}

