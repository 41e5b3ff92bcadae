/* SPDX-License-Identifier: MIT */
/*
 * io_crash.c -- the crash VFS (see io_crash.h).
 *
 * Model: a tree of nodes mirroring the real tree under root. A file node
 * keeps `cur` (what the real file holds, mirrored from every write and
 * truncate) and `dur` (what is durable). A directory node keeps `ecur`
 * (names now) and `edur` (durable names). Unsynced operations live in one
 * list in the order they happened: data operations (write, truncate) target
 * a file, namespace operations (link, unlink, rename) target a directory.
 * datasync(f) folds f's data operations into f->dur; sync_dir(d) folds d's
 * namespace operations into d->edur.
 *
 * A node that no name can reach any more -- no current name, no durable
 * name, no pending namespace operation naming it -- is dead: its pending
 * operations are dropped, so that they neither slow crash states down nor
 * show up in cv_pending.
 *
 * Every real call happens first; the model is updated only when it
 * succeeded, so the model follows what the filesystem did. A mismatch
 * between the two (a bug in the harness, or varve touching the tree behind
 * the I/O table's back) aborts with a message: sizes are compared at every
 * size call, and a file that was mapped writable is compared byte for byte
 * with its model when its last handle closes.
 *
 * Writes through a mapping reach the model like pwrites: varve copies an
 * mmap-mode append into its mapping with the table's map_write method, which
 * this table wraps (SQLite's test VFS sees its mmap copy the same way).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_crash.h"

/* ---- byte buffers ------------------------------------------------------- */

/* Sparse: p holds the first len bytes; [len, n) reads as zeros. Preallocated
 * segments (16 MiB of zeros) cost nothing. */
typedef struct buf {
	uint8_t *p;
	size_t len, cap; /* bytes held */
	size_t n;        /* logical size */
} buf;

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "io_crash: out of memory (%zu bytes)\n", n);
		abort();
	}
	return q;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = xrealloc(NULL, n);
	memcpy(d, s, n);
	return d;
}

/* Hold at least the first len bytes (the new ones are zeros). */
static void buf_hold(buf *b, size_t len)
{
	if (len <= b->len)
		return;
	if (len > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < len)
			nc *= 2;
		b->p = xrealloc(b->p, nc);
		b->cap = nc;
	}
	memset(b->p + b->len, 0, len - b->len);
	b->len = len;
}

static void buf_resize(buf *b, size_t n)
{
	if (n < b->len)
		b->len = n;
	b->n = n;
}

/* data NULL: zeros. */
static void buf_write(buf *b, uint64_t off, const void *data, size_t wlen)
{
	size_t end = (size_t)off + wlen;
	if (!data) {
		if (off < b->len)
			memset(b->p + off, 0, (end < b->len ? end : b->len) - (size_t)off);
	} else {
		buf_hold(b, end);
		memcpy(b->p + off, data, wlen);
	}
	if (end > b->n)
		b->n = end;
}

static void buf_copy(buf *dst, const buf *src)
{
	dst->len = 0;
	buf_hold(dst, src->len);
	if (src->len)
		memcpy(dst->p, src->p, src->len);
	dst->n = src->n;
}

static void buf_free(buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- nodes and names ----------------------------------------------------- */

typedef struct node node;

typedef struct ent {
	char *name;
	node *n;
} ent;

typedef struct ents {
	ent *v;
	size_t n, cap;
} ents;

enum { E_CUR, E_DUR, E_POST };

struct node {
	uint64_t id;
	int is_dir;
	int dead;
	long cur_refs, dur_refs, pend_refs, handles;
	buf cur, dur, post;
	ents ecur, edur, epost;
	uint64_t post_gen; /* post/epost valid for this crash generation */
	node *all_next;
};

typedef struct op {
	int kind;     /* cv_op_kind */
	node *target; /* data: the file; namespace: the directory */
	uint64_t off;
	size_t len;
	uint8_t *data;
	char *name, *name2;
	node *child; /* namespace: the file or directory named */
	char *info;
	struct op *prev, *next;
} op;

typedef struct handle {
	vv_file *inner;
	node *n;
	int mapped_rw; /* a writable mapping was made through this handle */
	struct handle *prev, *next; /* open handles on modelled files */
} handle;

static struct {
	pthread_mutex_t mu;
	int installed;
	const vv_io_methods *lower;
	char root[4096];
	size_t rootlen;
	node *root_node;
	node *all;
	uint64_t next_id;
	op *head, *tail;
	size_t nops;
	cv_hook_fn hook;
	void *hook_ctx;
	uint64_t persist, writes, map_writes;
	uint64_t gen;
	handle *open_handles;
	uint64_t extend_cap;
} S;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t n_states;
static const vv_io_methods cv_methods;

static void init_mutex(void)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&S.mu, &a);
	pthread_mutexattr_destroy(&a);
}

static void lock(void) { pthread_mutex_lock(&S.mu); }
static void unlock(void) { pthread_mutex_unlock(&S.mu); }

static void diverge(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void diverge(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "io_crash: model and filesystem diverged: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static node *node_new(int is_dir)
{
	node *n = xrealloc(NULL, sizeof *n);
	memset(n, 0, sizeof *n);
	n->id = ++S.next_id;
	n->is_dir = is_dir;
	n->all_next = S.all;
	S.all = n;
	return n;
}

static long ents_find(const ents *e, const char *name)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->v[i].name, name))
			return (long)i;
	return -1;
}

static node *ents_get(const ents *e, const char *name)
{
	long i = ents_find(e, name);
	return i < 0 ? NULL : e->v[i].n;
}

static void node_maybe_dead(node *n);

static void ref_adj(node *n, int which, long d)
{
	if (!n || which == E_POST)
		return;
	if (which == E_CUR)
		n->cur_refs += d;
	else
		n->dur_refs += d;
	if (d < 0)
		node_maybe_dead(n);
}

static void ents_set(ents *e, int which, const char *name, node *n)
{
	long i = ents_find(e, name);
	if (i >= 0) {
		node *old = e->v[i].n;
		e->v[i].n = n;
		ref_adj(n, which, 1);
		ref_adj(old, which, -1);
		return;
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->v = xrealloc(e->v, e->cap * sizeof *e->v);
	}
	e->v[e->n].name = xstrdup(name);
	e->v[e->n].n = n;
	e->n++;
	ref_adj(n, which, 1);
}

static void ents_del(ents *e, int which, const char *name)
{
	long i = ents_find(e, name);
	if (i < 0)
		return;
	node *old = e->v[i].n;
	free(e->v[i].name);
	memmove(e->v + i, e->v + i + 1, (e->n - (size_t)i - 1) * sizeof *e->v);
	e->n--;
	ref_adj(old, which, -1);
}

static void ents_clear(ents *e, int which)
{
	while (e->n)
		ents_del(e, which, e->v[e->n - 1].name);
}

static void ents_free(ents *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].name);
	free(e->v);
	memset(e, 0, sizeof *e);
}

static void ents_copy_post(ents *dst, const ents *src)
{
	for (size_t i = 0; i < dst->n; i++)
		free(dst->v[i].name);
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++)
		ents_set(dst, E_POST, src->v[i].name, src->v[i].n);
}

/* ---- the pending list ------------------------------------------------------ */

static int is_ns(int kind) { return kind == CV_OP_LINK || kind == CV_OP_UNLINK || kind == CV_OP_RENAME; }

static op *op_add(int kind, node *target, const char *info)
{
	op *o = xrealloc(NULL, sizeof *o);
	memset(o, 0, sizeof *o);
	o->kind = kind;
	o->target = target;
	o->info = xstrdup(info);
	o->prev = S.tail;
	if (S.tail)
		S.tail->next = o;
	else
		S.head = o;
	S.tail = o;
	S.nops++;
	return o;
}

static void op_remove(op *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else
		S.head = o->next;
	if (o->next)
		o->next->prev = o->prev;
	else
		S.tail = o->prev;
	S.nops--;
	node *child = is_ns(o->kind) ? o->child : NULL;
	free(o->data);
	free(o->name);
	free(o->name2);
	free(o->info);
	free(o);
	if (child) {
		child->pend_refs--;
		node_maybe_dead(child);
	}
}

/* Mark n dead when nothing can name it any more. Its operations are dropped
 * later by reap(), never while a caller walks the list. */
static void node_maybe_dead(node *n)
{
	if (n->dead || n == S.root_node || n->cur_refs > 0 || n->dur_refs > 0 || n->pend_refs > 0)
		return;
	n->dead = 1;
	if (n->is_dir)
		ents_clear(&n->edur, E_DUR); /* may mark children dead */
	buf_free(&n->dur);
	buf_free(&n->post);
}

/* Drop the pending operations of dead nodes (repeat: a dropped namespace
 * operation can make its child dead). */
static void reap(void)
{
	int again = 1;
	while (again) {
		again = 0;
		for (op *o = S.head, *next; o; o = next) {
			next = o->next; /* op_remove frees o only: marking never edits the list */
			if (o->target->dead) {
				op_remove(o);
				again = 1;
			}
		}
	}
}

/* ---- paths ------------------------------------------------------------------ */

/* The part of path below root ("" for root itself), or NULL if outside. */
static const char *relpath(const char *path)
{
	if (!S.installed || strncmp(path, S.root, S.rootlen))
		return NULL;
	if (path[S.rootlen] == 0)
		return path + S.rootlen;
	if (path[S.rootlen] != '/')
		return NULL;
	return path + S.rootlen + 1;
}

/* Split rel into components; walk all but the last when parent_only. */
static node *walk(const char *rel, int parent_only, char *last, size_t cap)
{
	node *d = S.root_node;
	const char *p = rel;
	char comp[1024];
	if (last)
		last[0] = 0;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			return d;
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l >= sizeof comp)
			return NULL;
		memcpy(comp, p, l);
		comp[l] = 0;
		p += l;
		const char *q = p;
		while (*q == '/')
			q++;
		int is_last = *q == 0;
		if (is_last && parent_only) {
			if (l >= cap)
				return NULL;
			memcpy(last, comp, l + 1);
			return d;
		}
		if (!strcmp(comp, "."))
			continue;
		if (!d || !d->is_dir)
			return NULL;
		d = ents_get(&d->ecur, comp);
		if (!d)
			return NULL;
	}
}

static node *lookup(const char *path)
{
	const char *rel = relpath(path);
	return rel ? walk(rel, 0, NULL, 0) : NULL;
}

static node *lookup_parent(const char *path, char *name, size_t cap)
{
	const char *rel = relpath(path);
	if (!rel || !*rel)
		return NULL;
	node *d = walk(rel, 1, name, cap);
	return d && d->is_dir && name[0] ? d : NULL;
}

static void fire(int ev, const char *path)
{
	if (S.hook)
		S.hook(S.hook_ctx, ev, path);
}

/* ---- checks ----------------------------------------------------------------------------- */

/* A file mapped writable must hold exactly what the model says: every
 * byte written through the mapping came through map_write. Lock held. */
static void check_mapped(vv_file *inner, node *n, const char *path)
{
	uint64_t size;
	if (S.lower->size(inner, &size))
		return;
	if (size != n->cur.n)
		diverge("%s is %llu bytes, the model says %zu", path, (unsigned long long)size, n->cur.n);
	uint8_t page[4096];
	for (uint64_t off = 0; off < size; off += sizeof page) {
		size_t want = size - off < sizeof page ? (size_t)(size - off) : sizeof page, got = 0;
		if (S.lower->pread(inner, page, want, off, &got) || got != want)
			return;
		for (size_t i = 0; i < want; i++) {
			uint8_t model = off + i < n->cur.len ? n->cur.p[off + i] : 0;
			if (page[i] != model)
				diverge("%s byte %llu was written behind the I/O table", path,
					(unsigned long long)(off + i));
		}
	}
}

void cv_set_extend_cap(uint64_t cap)
{
	lock();
	S.extend_cap = cap;
	unlock();
}

/* ---- methods ------------------------------------------------------------------ */

static int wrap(vv_file *inner, node *n, const char *path, vv_file **out)
{
	handle *h = xrealloc(NULL, sizeof *h);
	memset(h, 0, sizeof *h);
	h->inner = inner;
	h->n = n;
	vv_file *f = xrealloc(NULL, sizeof *f);
	f->fd = inner->fd;
	f->path = xstrdup(path);
	f->backend = h;
	if (n) {
		n->handles++;
		h->next = S.open_handles;
		if (S.open_handles)
			S.open_handles->prev = h;
		S.open_handles = h;
	}
	*out = f;
	return 0;
}

static int open_common(const char *path, int flags, unsigned mode, vv_file **out, int is_lock)
{
	lock();
	const char *rel = relpath(path);
	vv_file *inner = NULL;
	int rc;
	if (!rel) {
		rc = is_lock ? S.lower->lock(path, mode, &inner) : S.lower->open(path, flags, mode, &inner);
		if (rc == 0)
			wrap(inner, NULL, path, out);
		unlock();
		return rc;
	}
	char name[1024];
	node *dir = lookup_parent(path, name, sizeof name);
	node *n = dir ? ents_get(&dir->ecur, name) : NULL;
	rc = is_lock ? S.lower->lock(path, mode, &inner) : S.lower->open(path, flags, mode, &inner);
	if (rc) {
		unlock();
		return rc;
	}
	int created = 0, truncated = 0;
	if (!n) {
		if (!dir || !(is_lock || (flags & VV_O_CREAT)))
			diverge("open of %s succeeded but the model has no such file", path);
		n = node_new(0);
		ents_set(&dir->ecur, E_CUR, name, n);
		op *o = op_add(CV_OP_LINK, dir, path);
		o->name = xstrdup(name);
		o->child = n;
		n->pend_refs++;
		created = 1;
	} else if (n->is_dir) {
		diverge("open of directory %s as a file", path);
	}
	if (!is_lock && (flags & VV_O_TRUNC) && n->cur.n > 0) {
		buf_resize(&n->cur, 0);
		if (!n->dead) {
			op *o = op_add(CV_OP_TRUNCATE, n, path);
			o->off = 0;
		}
		truncated = 1;
	}
	wrap(inner, n, path, out);
	if (created)
		fire(CV_EV_CREATE, path);
	if (truncated)
		fire(CV_EV_TRUNCATE, path);
	unlock();
	return 0;
}

static int cv_open(const char *path, int flags, unsigned mode, vv_file **out)
{
	return open_common(path, flags, mode, out, 0);
}

static int cv_lock(const char *path, unsigned mode, vv_file **out)
{
	return open_common(path, VV_O_RDWR | VV_O_CREAT, mode, out, 1);
}

static int cv_close(vv_file *f)
{
	handle *h = f->backend;
	lock();
	if (h->n) {
		if (h->mapped_rw)
			check_mapped(h->inner, h->n, f->path);
		h->n->handles--;
		if (h->prev)
			h->prev->next = h->next;
		else
			S.open_handles = h->next;
		if (h->next)
			h->next->prev = h->prev;
	}
	int rc = S.lower->close(h->inner);
	unlock();
	free(h);
	free(f->path);
	free(f);
	return rc;
}

static int cv_pread(vv_file *f, void *b, size_t n, uint64_t off, size_t *nread)
{
	handle *h = f->backend;
	return S.lower->pread(h->inner, b, n, off, nread);
}

static int cv_pwrite(vv_file *f, const void *b, size_t n, uint64_t off, size_t *nw)
{
	handle *h = f->backend;
	lock();
	int rc = S.lower->pwrite(h->inner, b, n, off, nw);
	if (rc == 0 && h->n && *nw > 0) {
		node *nd = h->n;
		buf_write(&nd->cur, off, b, *nw);
		S.writes++;
		if (!nd->dead) {
			op *o = op_add(CV_OP_WRITE, nd, f->path);
			o->off = off;
			o->len = *nw;
			o->data = xrealloc(NULL, *nw);
			memcpy(o->data, b, *nw);
		}
		fire(CV_EV_WRITE, f->path);
	}
	unlock();
	return rc;
}

static void apply_data(buf *b, const op *o)
{
	if (o->kind == CV_OP_WRITE)
		buf_write(b, o->off, o->data, o->len);
	else
		buf_resize(b, (size_t)o->off);
}

static int cv_datasync(vv_file *f)
{
	handle *h = f->backend;
	lock();
	if (!h->n) {
		int rc = S.lower->datasync(h->inner);
		unlock();
		return rc;
	}
	fire(CV_EV_DATASYNC, f->path);
	S.persist++;
	node *n = h->n;
	for (op *o = S.head, *next; o; o = next) {
		next = o->next;
		if (o->target == n && !is_ns(o->kind)) {
			apply_data(&n->dur, o);
			op_remove(o);
		}
	}
	reap();
	unlock();
	return 0;
}

static int cv_size(vv_file *f, uint64_t *out)
{
	handle *h = f->backend;
	lock();
	int rc = S.lower->size(h->inner, out);
	if (rc == 0 && h->n && *out != h->n->cur.n)
		diverge("%s is %llu bytes, the model says %zu", f->path, (unsigned long long)*out,
			h->n->cur.n);
	unlock();
	return rc;
}

static int cv_truncate(vv_file *f, uint64_t size)
{
	handle *h = f->backend;
	lock();
	int rc = S.lower->truncate(h->inner, size);
	if (rc == 0 && h->n) {
		buf_resize(&h->n->cur, (size_t)size);
		if (!h->n->dead) {
			op *o = op_add(CV_OP_TRUNCATE, h->n, f->path);
			o->off = size;
		}
		fire(CV_EV_TRUNCATE, f->path);
	}
	unlock();
	return rc;
}

static int cv_allocate(vv_file *f, uint64_t off, uint64_t len)
{
	handle *h = f->backend;
	return S.lower->allocate(h->inner, off, len);
}

static int cv_extend(vv_file *f, uint64_t size)
{
	handle *h = f->backend;
	lock();
	if (!h->n) {
		int rc = S.lower->extend(h->inner, size);
		unlock();
		return rc;
	}
	int rc = 0;
	if (S.extend_cap && size > S.extend_cap)
		size = S.extend_cap > h->n->cur.n ? S.extend_cap : h->n->cur.n;
	if (size > h->n->cur.n) {
		/* sparse: the same zeros as fallocate, without allocating them */
		rc = S.lower->truncate(h->inner, size);
		if (rc == 0) {
			buf_resize(&h->n->cur, (size_t)size);
			if (!h->n->dead) {
				op *o = op_add(CV_OP_TRUNCATE, h->n, f->path);
				o->off = size;
			}
			fire(CV_EV_TRUNCATE, f->path);
		}
	}
	unlock();
	return rc;
}

static int cv_rename(const char *from, const char *to)
{
	lock();
	const char *rf = relpath(from), *rt = relpath(to);
	if (!rf && !rt) {
		int rc = S.lower->rename(from, to);
		unlock();
		return rc;
	}
	char nf[1024], nt[1024];
	node *df = lookup_parent(from, nf, sizeof nf), *dt = lookup_parent(to, nt, sizeof nt);
	node *n = df ? ents_get(&df->ecur, nf) : NULL;
	int rc = S.lower->rename(from, to);
	if (rc) {
		unlock();
		return rc;
	}
	if (!rf || !rt || !df || !dt || !n)
		diverge("rename %s -> %s succeeded but the model cannot follow it", from, to);
	if (df != dt)
		diverge("rename across directories (%s -> %s) is not modelled", from, to);
	if (!strcmp(nf, nt)) {
		unlock();
		return 0;
	}
	ents_set(&dt->ecur, E_CUR, nt, n);
	ents_del(&df->ecur, E_CUR, nf);
	char info[1024];
	snprintf(info, sizeof info, "%s -> %s", from, nt);
	op *o = op_add(CV_OP_RENAME, df, info);
	o->name = xstrdup(nf);
	o->name2 = xstrdup(nt);
	o->child = n;
	n->pend_refs++;
	fire(CV_EV_RENAME, to);
	reap();
	unlock();
	return 0;
}

static int remove_common(const char *path, int is_dir)
{
	lock();
	if (!relpath(path)) {
		int rc = is_dir ? S.lower->rmdir(path) : S.lower->unlink(path);
		unlock();
		return rc;
	}
	char name[1024];
	node *d = lookup_parent(path, name, sizeof name);
	node *n = d ? ents_get(&d->ecur, name) : NULL;
	int rc = is_dir ? S.lower->rmdir(path) : S.lower->unlink(path);
	if (rc) {
		unlock();
		return rc;
	}
	if (!n)
		diverge("%s of %s succeeded but the model has no such name", is_dir ? "rmdir" : "unlink",
			path);
	op *o = op_add(CV_OP_UNLINK, d, path);
	o->name = xstrdup(name);
	o->child = n;
	n->pend_refs++;
	ents_del(&d->ecur, E_CUR, name);
	fire(is_dir ? CV_EV_RMDIR : CV_EV_UNLINK, path);
	reap();
	unlock();
	return 0;
}

static int cv_unlink(const char *path) { return remove_common(path, 0); }
static int cv_rmdir(const char *path) { return remove_common(path, 1); }

static int cv_mkdir(const char *path, unsigned mode)
{
	lock();
	if (!relpath(path)) {
		int rc = S.lower->mkdir(path, mode);
		unlock();
		return rc;
	}
	char name[1024];
	node *d = lookup_parent(path, name, sizeof name);
	int rc = S.lower->mkdir(path, mode);
	if (rc) {
		unlock();
		return rc;
	}
	if (!d || ents_get(&d->ecur, name))
		diverge("mkdir %s succeeded but the model cannot follow it", path);
	node *n = node_new(1);
	ents_set(&d->ecur, E_CUR, name, n);
	op *o = op_add(CV_OP_LINK, d, path);
	o->name = xstrdup(name);
	o->child = n;
	n->pend_refs++;
	fire(CV_EV_MKDIR, path);
	unlock();
	return 0;
}

static void apply_ns(ents *e, int which, const op *o)
{
	switch (o->kind) {
	case CV_OP_LINK:
		ents_set(e, which, o->name, o->child);
		break;
	case CV_OP_UNLINK:
		ents_del(e, which, o->name);
		break;
	case CV_OP_RENAME:
		if (ents_get(e, o->name) == o->child)
			ents_del(e, which, o->name);
		ents_set(e, which, o->name2, o->child);
		break;
	}
}

static int cv_sync_dir(const char *path)
{
	lock();
	node *d = lookup(path);
	if (!d || !d->is_dir) {
		int rc = S.lower->sync_dir(path);
		unlock();
		return rc;
	}
	fire(CV_EV_SYNC_DIR, path);
	S.persist++;
	for (op *o = S.head, *next; o; o = next) {
		next = o->next;
		if (o->target == d && is_ns(o->kind)) {
			apply_ns(&d->edur, E_DUR, o);
			op_remove(o);
		}
	}
	reap();
	unlock();
	return 0;
}

static int cv_list_dir(const char *path, char ***names, size_t *count)
{
	return S.lower->list_dir(path, names, count);
}

static int cv_stat_size(const char *path, uint64_t *size, int *is_dir)
{
	return S.lower->stat_size(path, size, is_dir);
}

static int cv_file_info(vv_file *f, vv_file_info *out)
{
	handle *h = f->backend;
	return S.lower->file_info(h->inner, out);
}

static int cv_path_info(const char *path, vv_file_info *out)
{
	return S.lower->path_info(path, out);
}

/* The model has one name per file: a hard link would let two names share
 * one model's bytes. Say "another filesystem", which callers (backup) meet
 * by copying instead. */
static int cv_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EXDEV;
}

/* syncfs: a persistence point for every modelled file (varve calls it for
 * many dirty segments at once). */
static int cv_syncfs(vv_file *f)
{
	lock();
	fire(CV_EV_DATASYNC, f->path);
	S.persist++;
	for (op *o = S.head, *next; o; o = next) {
		next = o->next;
		if (!is_ns(o->kind)) {
			apply_data(&o->target->dur, o);
			op_remove(o);
		}
	}
	reap();
	unlock();
	return 0;
}

static int cv_free_space(const char *path, uint64_t *bytes)
{
	return S.lower->free_space(path, bytes);
}

static int cv_map(vv_file *f, size_t len, int writable, uint8_t **out)
{
	handle *h = f->backend;
	int rc = S.lower->map(h->inner, len, writable, out);
	if (rc == 0 && writable) {
		lock();
		h->mapped_rw = 1;
		unlock();
	}
	return rc;
}

static void cv_unmap(vv_file *f, uint8_t *p, size_t len)
{
	handle *h = f->backend;
	S.lower->unmap(h->inner, p, len);
}

static void cv_prefault(vv_file *f, uint8_t *p, size_t len)
{
	handle *h = f->backend;
	S.lower->prefault(h->inner, p, len);
}

/* The mmap-mode append: the bytes reach the file through the mapping and
 * become a pending write, with the fates of a pwrite's. */
static int cv_map_write(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n)
{
	handle *h = f->backend;
	lock();
	int rc = S.lower->map_write(h->inner, map, off, src, n);
	if (rc == 0 && h->n && n > 0) {
		node *nd = h->n;
		if (off + n > nd->cur.n)
			diverge("%s: a write through the mapping at %llu+%zu passes the end (%zu)", f->path,
				(unsigned long long)off, n, nd->cur.n);
		buf_write(&nd->cur, off, src, n);
		S.writes++;
		S.map_writes++;
		if (!nd->dead) {
			op *o = op_add(CV_OP_WRITE, nd, f->path);
			o->off = off;
			o->len = n;
			o->data = xrealloc(NULL, n);
			memcpy(o->data, src, n);
		}
		fire(CV_EV_MAP_WRITE, f->path);
	}
	unlock();
	return rc;
}

static const vv_io_methods cv_methods = {
	.open = cv_open,
	.close = cv_close,
	.pread = cv_pread,
	.pwrite = cv_pwrite,
	.datasync = cv_datasync,
	.size = cv_size,
	.truncate = cv_truncate,
	.allocate = cv_allocate,
	.rename = cv_rename,
	.unlink = cv_unlink,
	.mkdir = cv_mkdir,
	.rmdir = cv_rmdir,
	.sync_dir = cv_sync_dir,
	.list_dir = cv_list_dir,
	.lock = cv_lock,
	.stat_size = cv_stat_size,
	.file_info = cv_file_info,
	.path_info = cv_path_info,
	.link = cv_link,
	.extend = cv_extend,
	.syncfs = cv_syncfs,
	.free_space = cv_free_space,
	.map = cv_map,
	.unmap = cv_unmap,
	.prefault = cv_prefault,
	.map_write = cv_map_write,
};

const vv_io_methods *cv_table(void) { return &cv_methods; }

/* ---- install ------------------------------------------------------------------- */

static int scan(node *d, const char *path)
{
	DIR *dh = opendir(path);
	if (!dh)
		return -errno;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(dh)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[4096];
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		struct stat st;
		if (lstat(sub, &st) < 0) {
			rc = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			node *n = node_new(1);
			ents_set(&d->ecur, E_CUR, e->d_name, n);
			ents_set(&d->edur, E_DUR, e->d_name, n);
			rc = scan(n, sub);
		} else if (S_ISREG(st.st_mode)) {
			node *n = node_new(0);
			ents_set(&d->ecur, E_CUR, e->d_name, n);
			ents_set(&d->edur, E_DUR, e->d_name, n);
			int fd = open(sub, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				rc = -errno;
				break;
			}
			buf_hold(&n->cur, (size_t)st.st_size);
			n->cur.n = (size_t)st.st_size;
			size_t got = 0;
			while (got < n->cur.n) {
				ssize_t r = read(fd, n->cur.p + got, n->cur.n - got);
				if (r <= 0) {
					rc = r < 0 ? -errno : -EIO;
					break;
				}
				got += (size_t)r;
			}
			close(fd);
			buf_copy(&n->dur, &n->cur);
		}
	}
	closedir(dh);
	return rc;
}

static void free_model(void)
{
	while (S.head)
		op_remove(S.head);
	for (node *n = S.all, *next; n; n = next) {
		next = n->all_next;
		buf_free(&n->cur);
		buf_free(&n->dur);
		buf_free(&n->post);
		ents_free(&n->ecur);
		ents_free(&n->edur);
		ents_free(&n->epost);
		free(n);
	}
	S.all = NULL;
	S.root_node = NULL;
}

int cv_install(const char *root)
{
	pthread_once(&once, init_mutex);
	lock();
	if (S.installed) {
		unlock();
		return -EBUSY;
	}
	size_t l = strlen(root);
	while (l > 1 && root[l - 1] == '/')
		l--;
	if (l == 0 || l >= sizeof S.root) {
		unlock();
		return -EINVAL;
	}
	memcpy(S.root, root, l);
	S.root[l] = 0;
	S.rootlen = l;
	S.next_id = 0;
	S.persist = S.writes = S.map_writes = 0;
	S.hook = NULL;
	S.root_node = node_new(1);
	S.root_node->cur_refs = 1;
	int rc = scan(S.root_node, S.root);
	if (rc) {
		free_model();
		unlock();
		return rc;
	}
	S.lower = &vv_io_posix;
	S.installed = 1;
	unlock();
	return 0;
}

void cv_uninstall(void)
{
	lock();
	if (S.installed) {
		S.installed = 0;
		free_model();
		S.hook = NULL;
		S.extend_cap = 0;
		S.open_handles = NULL;
	}
	unlock();
}

void cv_set_hook(cv_hook_fn fn, void *ctx)
{
	lock();
	S.hook = fn;
	S.hook_ctx = ctx;
	unlock();
}

uint64_t cv_persistence_points(void)
{
	lock();
	uint64_t v = S.persist;
	unlock();
	return v;
}

uint64_t cv_write_count(void)
{
	lock();
	uint64_t v = S.writes;
	unlock();
	return v;
}

uint64_t cv_map_write_count(void)
{
	lock();
	uint64_t v = S.map_writes;
	unlock();
	return v;
}

size_t cv_pending(cv_pending_info *out, size_t max)
{
	lock();
	size_t i = 0;
	for (op *o = S.head; o; o = o->next, i++) {
		if (i >= max)
			continue;
		out[i].kind = o->kind;
		out[i].off = o->off;
		out[i].len = o->len;
		snprintf(out[i].path, sizeof out[i].path, "%s", o->info);
	}
	size_t n = S.nops;
	unlock();
	return n;
}

/* ---- crash states --------------------------------------------------------------- */

typedef struct tent {
	char *path;
	int is_dir;
	uint8_t *data;
	size_t len;  /* bytes held (trailing zeros trimmed) */
	size_t size; /* file size */
} tent;

struct cv_tree {
	tent *v;
	size_t n, cap;
	uint64_t bytes;
};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static buf *post_buf(node *n)
{
	if (n->post_gen != S.gen) {
		buf_copy(&n->post, &n->dur);
		n->post_gen = S.gen;
	}
	return &n->post;
}

static ents *post_ents(node *n)
{
	if (n->post_gen != S.gen) {
		ents_copy_post(&n->epost, &n->edur);
		n->post_gen = S.gen;
	}
	return &n->epost;
}

static void tree_add(cv_tree *t, const char *path, int is_dir, const uint8_t *data, size_t len,
		     size_t size)
{
	if (len > size)
		len = size;
	while (len && data[len - 1] == 0)
		len--;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->v = xrealloc(t->v, t->cap * sizeof *t->v);
	}
	tent *e = &t->v[t->n++];
	e->path = xstrdup(path);
	e->is_dir = is_dir;
	e->len = len;
	e->size = size;
	e->data = NULL;
	if (!is_dir) {
		e->data = xrealloc(NULL, len);
		if (len)
			memcpy(e->data, data, len);
		t->bytes += size;
	}
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const ent *)a)->name, ((const ent *)b)->name);
}

static void emit(cv_tree *t, node *d, const char *prefix, int depth)
{
	if (depth > 64)
		diverge("directory tree deeper than 64 levels (a cycle?)");
	const ents *e = d->post_gen == S.gen ? &d->epost : &d->edur;
	size_t n = e->n;
	ent *v = xrealloc(NULL, (n ? n : 1) * sizeof *v);
	if (n)
		memcpy(v, e->v, n * sizeof *v);
	qsort(v, n, sizeof *v, cmp_ent);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", v[i].name);
		node *c = v[i].n;
		if (c->is_dir) {
			tree_add(t, path, 1, NULL, 0, 0);
			emit(t, c, path, depth + 1);
		} else {
			const buf *b = c->post_gen == S.gen ? &c->post : &c->dur;
			tree_add(t, path, 0, b->p, b->len, b->n);
		}
	}
	free(v);
}

/* Build the tree with fates[i] for op i (CV_DROP past nf). Lock held. */
static cv_tree *build(const uint8_t *fates, size_t nf, uint64_t *rng)
{
	S.gen++;
	size_t i = 0;
	for (op *o = S.head; o; o = o->next, i++) {
		int f = i < nf ? fates[i] : CV_DROP;
		if (f == CV_DROP)
			continue;
		if (is_ns(o->kind)) {
			apply_ns(post_ents(o->target), E_POST, o);
			continue;
		}
		buf *b = post_buf(o->target);
		if (o->kind == CV_OP_TRUNCATE) {
			apply_data(b, o);
			continue;
		}
		switch (f) {
		case CV_APPLY:
			buf_write(b, o->off, o->data, o->len);
			break;
		case CV_TEAR:
			if (o->len >= 2)
				buf_write(b, o->off, o->data, 1 + (size_t)(splitmix(rng) % (o->len - 1)));
			break;
		case CV_ZERO:
			buf_write(b, o->off, NULL, o->len);
			break;
		case CV_GARBAGE: {
			uint8_t *g = xrealloc(NULL, o->len);
			for (size_t k = 0; k < o->len; k++)
				g[k] = (uint8_t)splitmix(rng);
			buf_write(b, o->off, g, o->len);
			free(g);
			break;
		}
		}
	}
	cv_tree *t = xrealloc(NULL, sizeof *t);
	memset(t, 0, sizeof *t);
	emit(t, S.root_node, "", 0);
	atomic_fetch_add(&n_states, 1);
	return t;
}

cv_tree *cv_crash_explicit(const uint8_t *fates, size_t n, uint64_t seed)
{
	lock();
	uint64_t rng = seed;
	cv_tree *t = build(fates, n, &rng);
	unlock();
	return t;
}

cv_tree *cv_crash_random(uint64_t seed, int ns_mode, int data_mode)
{
	lock();
	uint64_t rng = seed ^ 0x5bd1e995ull;
	if (ns_mode == CV_NS_MIXED) {
		unsigned r = (unsigned)(splitmix(&rng) % 100);
		ns_mode = r < 15 ? CV_NS_NONE : r < 30 ? CV_NS_ALL : r < 70 ? CV_NS_DIR_PREFIX : CV_NS_PREFIX;
	}
	if (data_mode == CV_DATA_MIXED) {
		unsigned r = (unsigned)(splitmix(&rng) % 100);
		data_mode = r < 10 ? CV_DATA_DROP : r < 20 ? CV_DATA_APPLY : CV_DATA_MIXED;
	}
	size_t n = S.nops, nns = 0;
	uint8_t *fates = xrealloc(NULL, n ? n : 1);
	for (op *o = S.head; o; o = o->next)
		nns += is_ns(o->kind);
	size_t prefix = (size_t)(splitmix(&rng) % (nns + 1));
	/* per directory prefixes: a cut per directory, drawn at its first op */
	typedef struct dcut {
		node *d;
		size_t cut, seen;
	} dcut;
	dcut *cuts = xrealloc(NULL, (nns ? nns : 1) * sizeof *cuts);
	size_t ncuts = 0;
	if (ns_mode == CV_NS_DIR_PREFIX) {
		for (op *o = S.head; o; o = o->next) {
			if (!is_ns(o->kind))
				continue;
			size_t k = 0;
			while (k < ncuts && cuts[k].d != o->target)
				k++;
			if (k == ncuts) {
				cuts[ncuts].d = o->target;
				cuts[ncuts].cut = 0;
				cuts[ncuts].seen = 0;
				ncuts++;
			}
			cuts[k].cut++; /* count first, draw below */
		}
		for (size_t k = 0; k < ncuts; k++)
			cuts[k].cut = (size_t)(splitmix(&rng) % (cuts[k].cut + 1));
	}
	size_t i = 0, ns_i = 0;
	for (op *o = S.head; o; o = o->next, i++) {
		if (is_ns(o->kind)) {
			int apply = 0;
			switch (ns_mode) {
			case CV_NS_NONE: apply = 0; break;
			case CV_NS_ALL: apply = 1; break;
			case CV_NS_PREFIX: apply = ns_i < prefix; break;
			case CV_NS_SUBSET: apply = (splitmix(&rng) & 1) != 0; break;
			default: {
				size_t k = 0;
				while (k < ncuts && cuts[k].d != o->target)
					k++;
				apply = cuts[k].seen++ < cuts[k].cut;
			}
			}
			fates[i] = apply ? CV_APPLY : CV_DROP;
			ns_i++;
			continue;
		}
		if (data_mode == CV_DATA_DROP) {
			fates[i] = CV_DROP;
		} else if (data_mode == CV_DATA_APPLY) {
			fates[i] = CV_APPLY;
		} else {
			unsigned r = (unsigned)(splitmix(&rng) % 100);
			fates[i] = r < 40 ? CV_APPLY : r < 65 ? CV_DROP : r < 80 ? CV_TEAR : r < 90 ? CV_ZERO
											: CV_GARBAGE;
		}
	}
	cv_tree *t = build(fates, n, &rng);
	free(cuts);
	free(fates);
	unlock();
	return t;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int cv_tree_write(const cv_tree *t, const char *dir)
{
	if (mkdir(dir, 0700) < 0)
		return -errno;
	char path[8192];
	for (size_t i = 0; i < t->n; i++) {
		const tent *e = &t->v[i];
		snprintf(path, sizeof path, "%s/%s", dir, e->path);
		if (e->is_dir) {
			if (mkdir(path, 0700) < 0)
				return -errno;
			continue;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		int rc = write_all(fd, e->data, e->len);
		if (rc == 0 && e->size > e->len && ftruncate(fd, (off_t)e->size) < 0)
			rc = -errno;
		close(fd);
		if (rc)
			return rc;
	}
	return 0;
}

uint64_t cv_tree_hash(const cv_tree *t)
{
	uint64_t h = 0xcbf29ce484222325ull;
#define MIX(b) (h = (h ^ (uint8_t)(b)) * 0x100000001b3ull)
	for (size_t i = 0; i < t->n; i++) {
		const tent *e = &t->v[i];
		for (const char *c = e->path; *c; c++)
			MIX(*c);
		MIX(0);
		MIX(e->is_dir);
		for (int k = 0; k < 8; k++)
			MIX(e->size >> (k * 8));
		for (size_t k = 0; k < e->len; k++)
			MIX(e->data[k]);
	}
#undef MIX
	return h;
}

size_t cv_tree_entries(const cv_tree *t) { return t->n; }

int cv_tree_has_suffix(const cv_tree *t, const char *suffix)
{
	size_t sl = strlen(suffix);
	for (size_t i = 0; i < t->n; i++) {
		size_t l = strlen(t->v[i].path);
		if (!t->v[i].is_dir && l >= sl && !strcmp(t->v[i].path + l - sl, suffix))
			return 1;
	}
	return 0;
}
uint64_t cv_tree_bytes(const cv_tree *t) { return t->bytes; }

void cv_tree_free(cv_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].path);
		free(t->v[i].data);
	}
	free(t->v);
	free(t);
}

uint64_t cv_crash_states(void) { return atomic_load(&n_states); }

/* ---- the fast real backend --------------------------------------------------------- */

static int fast_datasync(vv_file *f)
{
	(void)f;
	return 0;
}

static int fast_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int fast_extend(vv_file *f, uint64_t size)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size >= size)
		return 0;
	return ftruncate(f->fd, (off_t)size) < 0 ? -errno : 0;
}

static int fast_open(const char *path, int flags, unsigned mode, vv_file **out)
{
	return vv_io_posix.open(path, flags, mode, out);
}
static int fast_close(vv_file *f) { return vv_io_posix.close(f); }
static int fast_pread(vv_file *f, void *b, size_t n, uint64_t off, size_t *nr)
{
	return vv_io_posix.pread(f, b, n, off, nr);
}
static int fast_pwrite(vv_file *f, const void *b, size_t n, uint64_t off, size_t *nw)
{
	return vv_io_posix.pwrite(f, b, n, off, nw);
}
static int fast_size(vv_file *f, uint64_t *out) { return vv_io_posix.size(f, out); }
static int fast_truncate(vv_file *f, uint64_t size) { return vv_io_posix.truncate(f, size); }
static int fast_allocate(vv_file *f, uint64_t off, uint64_t len)
{
	(void)f;
	(void)off;
	(void)len;
	return 0; /* KEEP_SIZE preallocation: no visible effect */
}
static int fast_rename(const char *a, const char *b) { return vv_io_posix.rename(a, b); }
static int fast_unlink(const char *p) { return vv_io_posix.unlink(p); }
static int fast_mkdir(const char *p, unsigned mode) { return vv_io_posix.mkdir(p, mode); }
static int fast_rmdir(const char *p) { return vv_io_posix.rmdir(p); }
static int fast_list_dir(const char *p, char ***names, size_t *count)
{
	return vv_io_posix.list_dir(p, names, count);
}
static int fast_lock(const char *p, unsigned mode, vv_file **out)
{
	return vv_io_posix.lock(p, mode, out);
}
static int fast_stat_size(const char *p, uint64_t *size, int *is_dir)
{
	return vv_io_posix.stat_size(p, size, is_dir);
}

static int fast_file_info(vv_file *f, vv_file_info *out) { return vv_io_posix.file_info(f, out); }
static int fast_path_info(const char *p, vv_file_info *out) { return vv_io_posix.path_info(p, out); }
static int fast_link(const char *a, const char *b) { return vv_io_posix.link(a, b); }

static int fast_syncfs(vv_file *f)
{
	(void)f;
	return 0;
}
static int fast_free_space(const char *p, uint64_t *bytes)
{
	return vv_io_posix.free_space(p, bytes);
}
static int fast_map(vv_file *f, size_t len, int writable, uint8_t **out)
{
	return vv_io_posix.map(f, len, writable, out);
}
static void fast_unmap(vv_file *f, uint8_t *p, size_t len) { vv_io_posix.unmap(f, p, len); }
static void fast_prefault(vv_file *f, uint8_t *p, size_t len) { vv_io_posix.prefault(f, p, len); }
static int fast_map_write(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n)
{
	return vv_io_posix.map_write(f, map, off, src, n);
}

const vv_io_methods cv_io_fast = {
	.open = fast_open,
	.close = fast_close,
	.pread = fast_pread,
	.pwrite = fast_pwrite,
	.datasync = fast_datasync,
	.size = fast_size,
	.truncate = fast_truncate,
	.allocate = fast_allocate,
	.rename = fast_rename,
	.unlink = fast_unlink,
	.mkdir = fast_mkdir,
	.rmdir = fast_rmdir,
	.sync_dir = fast_sync_dir,
	.list_dir = fast_list_dir,
	.lock = fast_lock,
	.stat_size = fast_stat_size,
	.file_info = fast_file_info,
	.path_info = fast_path_info,
	.link = fast_link,
	.extend = fast_extend,
	.syncfs = fast_syncfs,
	.free_space = fast_free_space,
	.map = fast_map,
	.unmap = fast_unmap,
	.prefault = fast_prefault,
	.map_write = fast_map_write,
};
