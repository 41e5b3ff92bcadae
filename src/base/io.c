/* SPDX-License-Identifier: MIT */
/*
 * io.c -- the POSIX backend of the I/O table and the wrappers every module
 * calls. The wrappers own error translation and counters; the backend is a
 * thin layer over the syscalls so that test backends can wrap it. The
 * wrappers pick the table: the caller's for calls that name a path (NULL:
 * the process default), the file's own for calls on an open file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "io.h"
#include "util.h"

/* ---- POSIX backend -------------------------------------------------- */

static int px_open(const char *path, int flags, unsigned mode, vv_file **out)
{
	int of = O_CLOEXEC;
	of |= (flags & VV_O_RDWR) ? O_RDWR : O_RDONLY;
	if (flags & VV_O_CREAT)
		of |= O_CREAT;
	if (flags & VV_O_EXCL)
		of |= O_EXCL;
	if (flags & VV_O_TRUNC)
		of |= O_TRUNC;
	/* O_NOFOLLOW: a symlink planted in the store is never followed. */
	of |= O_NOFOLLOW;
	int rc = -ENOMEM;
	vv_file *f = vv_calloc(1, sizeof *f);
	if (!f || !(f->path = vv_strdup(path)))
		goto fail;
	int fd;
	do
		fd = open(path, of, (mode_t)mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flags & VV_O_CREAT)
		(void)fchmod(fd, (mode_t)mode); /* umask must not widen or narrow our mode */
	f->fd = fd;
	*out = f;
	return 0;
fail:
	if (f)
		vv_free(f->path);
	vv_free(f);
	return rc;
}

static int px_close(vv_file *f)
{
	int rc = close(f->fd) < 0 && errno != EINTR ? -errno : 0;
	vv_free(f->path);
	vv_free(f);
	return rc;
}

static int px_pread(vv_file *f, void *buf, size_t n, uint64_t off, size_t *nread)
{
	ssize_t r;
	do
		r = pread(f->fd, buf, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	*nread = (size_t)r;
	return 0;
}

static int px_pwrite(vv_file *f, const void *buf, size_t n, uint64_t off, size_t *nw)
{
	ssize_t r;
	do
		r = pwrite(f->fd, buf, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	*nw = (size_t)r;
	return 0;
}

static int px_datasync(vv_file *f) { return fdatasync(f->fd) < 0 ? -errno : 0; }

static int px_size(vv_file *f, uint64_t *out)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	*out = (uint64_t)st.st_size;
	return 0;
}

static int px_truncate(vv_file *f, uint64_t size)
{
	return ftruncate(f->fd, (off_t)size) < 0 ? -errno : 0;
}

static int px_allocate(vv_file *f, uint64_t off, uint64_t len)
{
	/* KEEP_SIZE: blocks are reserved but the file size (what recovery scans)
	 * does not change, so preallocated space never reads as log data. */
	int r = fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	if (r < 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
		return 0; /* not all filesystems can; it is only an optimisation */
	return r < 0 ? -errno : 0;
}

static int px_rename(const char *from, const char *to) { return rename(from, to) < 0 ? -errno : 0; }
static int px_unlink(const char *path) { return unlink(path) < 0 ? -errno : 0; }
static int px_mkdir(const char *path, unsigned mode)
{
	if (mkdir(path, (mode_t)mode) < 0)
		return -errno;
	(void)chmod(path, (mode_t)mode);
	return 0;
}
static int px_rmdir(const char *path) { return rmdir(path) < 0 ? -errno : 0; }

static int px_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int px_list_dir(const char *path, char ***names, size_t *count)
{
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nv = vv_realloc(v, nc * sizeof *nv);
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		if (!(v[n] = vv_strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc) {
		vv_io_free_list(v, n);
		return rc;
	}
	*names = v;
	*count = n;
	return 0;
}

static int px_lock(const char *path, unsigned mode, vv_file **out)
{
	vv_file *f;
	int rc = px_open(path, VV_O_RDWR | VV_O_CREAT, mode, &f);
	if (rc)
		return rc;
	if (flock(f->fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno == EWOULDBLOCK ? EWOULDBLOCK : errno;
		px_close(f);
		return -e;
	}
	*out = f;
	return 0;
}

static int px_stat_size(const char *path, uint64_t *size, int *is_dir)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (size)
		*size = (uint64_t)st.st_size;
	if (is_dir)
		*is_dir = S_ISDIR(st.st_mode) ? 1 : S_ISREG(st.st_mode) ? 0 : -1;
	return 0;
}

static void px_file_info(const struct stat *st, vv_file_info *out)
{
	out->dev = (uint64_t)st->st_dev;
	out->ino = (uint64_t)st->st_ino;
	out->nlink = (uint64_t)st->st_nlink;
	out->size = st->st_size > 0 ? (uint64_t)st->st_size : 0;
}

static int px_info(vv_file *f, vv_file_info *out)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	px_file_info(&st, out);
	return 0;
}

static int px_path_info(const char *path, vv_file_info *out)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	px_file_info(&st, out);
	return 0;
}

static int px_link(const char *from, const char *to)
{
	/* linkat without AT_SYMLINK_FOLLOW: a symlink planted in a store is
	 * linked as itself, never its target */
	return linkat(AT_FDCWD, from, AT_FDCWD, to, 0) < 0 ? -errno : 0;
}

static int px_extend(vv_file *f, uint64_t size)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size >= size)
		return 0;
	int r;
	do
		r = fallocate(f->fd, 0, st.st_size, (off_t)(size - (uint64_t)st.st_size));
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
		/* no fallocate here: write the zeros, which allocates as well */
		static const uint8_t zeros[65536];
		uint64_t at = (uint64_t)st.st_size;
		while (at < size) {
			size_t n = size - at < sizeof zeros ? (size_t)(size - at) : sizeof zeros;
			ssize_t w = pwrite(f->fd, zeros, n, (off_t)at);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -ENOSPC;
			at += (uint64_t)w;
		}
		return 0;
	}
	return r < 0 ? -errno : 0;
}

static int px_syncfs(vv_file *f) { return syncfs(f->fd) < 0 ? -errno : 0; }

static int px_free_space(const char *path, uint64_t *bytes)
{
	struct statvfs st;
	if (statvfs(path, &st) < 0)
		return -errno;
	*bytes = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
	return 0;
}

static int px_map(vv_file *f, size_t len, int writable, uint8_t **out)
{
	void *p = mmap(NULL, len ? len : 1, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		       MAP_SHARED, f->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static void px_unmap(vv_file *f, uint8_t *p, size_t len)
{
	(void)f;
	/* munmap fails only for a range we never mapped: nothing to do then */
	(void)munmap(p, len ? len : 1);
}

static void px_prefault(vv_file *f, uint8_t *p, size_t len)
{
	(void)f;
#ifdef MADV_POPULATE_WRITE
	/* Fault the pages in and make them writable in one call, instead of two
	 * faults per page on first write (read fault, then write-protect fault).
	 * Best effort: older kernels say EINVAL and the writes fault as before. */
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(page - 1);
	if (len)
		(void)madvise((void *)a, len + ((uintptr_t)p - a), MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

static int px_map_write(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n)
{
	(void)f;
	memcpy(map + off, src, n);
	return 0;
}

const vv_io_methods vv_io_posix = {
	.open = px_open,
	.close = px_close,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.datasync = px_datasync,
	.size = px_size,
	.truncate = px_truncate,
	.allocate = px_allocate,
	.rename = px_rename,
	.unlink = px_unlink,
	.mkdir = px_mkdir,
	.rmdir = px_rmdir,
	.sync_dir = px_sync_dir,
	.list_dir = px_list_dir,
	.lock = px_lock,
	.stat_size = px_stat_size,
	.file_info = px_info,
	.path_info = px_path_info,
	.link = px_link,
	.extend = px_extend,
	.syncfs = px_syncfs,
	.free_space = px_free_space,
	.map = px_map,
	.unmap = px_unmap,
	.prefault = px_prefault,
	.map_write = px_map_write,
};

/* ---- wrappers --------------------------------------------------------- */

static const vv_io_methods *_Atomic current = &vv_io_posix;
static _Atomic uint64_t n_datasync, ns_datasync, n_dirsync, n_written;

void vv_io_set(const vv_io_methods *m) { atomic_store(&current, m ? m : &vv_io_posix); }
const vv_io_methods *vv_io_get(void) { return atomic_load(&current); }

/* The table for a call given `io` (NULL: the process default). */
static const vv_io_methods *pick(const vv_io_methods *io)
{
	return io ? io : atomic_load(&current);
}

void vv_io_counters_get(vv_io_counters *out)
{
	out->datasyncs = atomic_load(&n_datasync);
	out->datasync_ns = atomic_load(&ns_datasync);
	out->dir_syncs = atomic_load(&n_dirsync);
	out->bytes_written = atomic_load(&n_written);
}

static int fail(int neg_errno, const char *op, const char *path)
{
	int e = -neg_errno;
	int code;
	switch (e) {
	case ENOSPC:
	case EDQUOT: code = VARVE_ENOSPC; break;
	case ENOMEM: code = VARVE_ENOMEM; break;
	case ENOENT: code = VARVE_ENOTFOUND; break;
	case EEXIST: code = VARVE_EEXISTS; break;
	case EMFILE:
	case ENFILE: code = VARVE_EAGAIN; break;
	default: code = VARVE_EIO; break; /* EROFS, EACCES, EPERM and the rest */
	}
	return vv_error_set(code, e, "%s %s: %s", op, path ? path : "?", strerror(e));
}

/* ---- calls that name a path ------------------------------------------- */

int vv_io_open(const vv_io_methods *io, const char *path, int flags, unsigned mode,
	       vv_file **out)
{
	*out = NULL;
	io = pick(io);
	int rc = io->open(path, flags, mode, out);
	if (rc)
		return fail(rc, "open", path);
	(*out)->io = io;
	return 0;
}

int vv_io_rename(const vv_io_methods *io, const char *from, const char *to)
{
	int rc = pick(io)->rename(from, to);
	return rc ? fail(rc, "rename", from) : 0;
}

int vv_io_unlink(const vv_io_methods *io, const char *path)
{
	int rc = pick(io)->unlink(path);
	return rc ? fail(rc, "unlink", path) : 0;
}

int vv_io_mkdir(const vv_io_methods *io, const char *path, unsigned mode)
{
	int rc = pick(io)->mkdir(path, mode);
	return rc ? fail(rc, "mkdir", path) : 0;
}

int vv_io_rmdir(const vv_io_methods *io, const char *path)
{
	int rc = pick(io)->rmdir(path);
	return rc ? fail(rc, "rmdir", path) : 0;
}

int vv_io_sync_dir(const vv_io_methods *io, const char *path)
{
	int rc = pick(io)->sync_dir(path);
	atomic_fetch_add(&n_dirsync, 1);
	return rc ? fail(rc, "fsync directory", path) : 0;
}

int vv_io_list_dir(const vv_io_methods *io, const char *path, char ***names, size_t *count)
{
	*names = NULL;
	*count = 0;
	int rc = pick(io)->list_dir(path, names, count);
	return rc ? fail(rc, "list directory", path) : 0;
}

void vv_io_free_list(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		vv_free(names[i]);
	vv_free(names);
}

int vv_io_lock(const vv_io_methods *io, const char *path, unsigned mode, vv_file **out)
{
	*out = NULL;
	io = pick(io);
	int rc = io->lock(path, mode, out);
	if (rc == -EWOULDBLOCK)
		return vv_error_set(VARVE_ELOCKED, EWOULDBLOCK,
				    "%s is held by another writer (process or handle)", path);
	if (rc)
		return fail(rc, "lock", path);
	(*out)->io = io;
	return 0;
}

int vv_io_stat(const vv_io_methods *io, const char *path, uint64_t *size, int *is_dir)
{
	int rc = pick(io)->stat_size(path, size, is_dir);
	return rc ? fail(rc, "stat", path) : 0;
}

int vv_io_path_info(const vv_io_methods *io, const char *path, vv_file_info *out)
{
	int rc = pick(io)->path_info(path, out);
	return rc ? fail(rc, "stat", path) : 0;
}

int vv_io_link(const vv_io_methods *io, const char *from, const char *to)
{
	int rc = pick(io)->link(from, to);
	return rc ? fail(rc, "link", from) : 0;
}

int vv_io_free_space(const vv_io_methods *io, const char *path, uint64_t *bytes)
{
	int rc = pick(io)->free_space(path, bytes);
	return rc ? fail(rc, "statvfs", path) : 0;
}

int vv_io_write_atomic(const vv_io_methods *io, const char *dir, const char *name,
		       const void *buf, size_t n, unsigned mode)
{
	char tmp[4096], dst[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= sizeof tmp ||
	    (size_t)snprintf(dst, sizeof dst, "%s/%s", dir, name) >= sizeof dst)
		return vv_error_set(VARVE_EINVAL, 0, "path too long: %s/%s", dir, name);
	io = pick(io);
	vv_file *f;
	VV_TRY(vv_io_open(io, tmp, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, mode, &f));
	int rc = vv_io_pwrite(f, buf, n, 0);
	if (rc < 0)
		goto out;
	/* fsync the temp file before the rename, or a crash could leave the new
	 * name pointing at an empty file. */
	rc = vv_io_datasync(f);
	if (rc < 0)
		goto out;
	rc = vv_io_close(f);
	f = NULL;
	if (rc < 0)
		goto out;
	rc = vv_io_rename(io, tmp, dst);
	if (rc < 0)
		goto out;
	/* fsync the directory so the rename itself survives a crash. */
	rc = vv_io_sync_dir(io, dir);
out:
	if (f)
		(void)f->io->close(f); /* the first failure is the one reported */
	if (rc < 0)
		(void)io->unlink(tmp); /* best effort; open removes stray .tmp files */
	return rc;
}

int vv_io_read_small(const vv_io_methods *io, const char *path, size_t max, uint8_t **buf,
		     size_t *n)
{
	*buf = NULL;
	*n = 0;
	vv_file *f;
	VV_TRY(vv_io_open(io, path, VV_O_RDONLY, 0, &f));
	uint8_t *b = NULL;
	size_t got = 0;
	uint64_t sz;
	int rc = vv_io_size(f, &sz);
	if (rc < 0)
		goto out;
	if (sz > max) {
		rc = vv_error_set(VARVE_ECORRUPT, 0, "%s is %llu bytes, more than %zu", path,
				  (unsigned long long)sz, max);
		goto out;
	}
	if (!(b = vv_malloc((size_t)sz + 1))) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "reading %s", path);
		goto out;
	}
	rc = vv_io_pread(f, b, (size_t)sz, 0, &got);
out:
	(void)f->io->close(f); /* read-only: nothing a close could lose */
	if (rc < 0) {
		vv_free(b);
		return rc;
	}
	b[got] = 0;
	*buf = b;
	*n = got;
	return 0;
}

int vv_io_remove_tree(const vv_io_methods *io, const char *path)
{
	int is_dir = 0;
	int rc = vv_io_stat(io, path, NULL, &is_dir);
	if (rc == VARVE_ENOTFOUND)
		return 0;
	VV_TRY(rc);
	if (is_dir != 1)
		return vv_io_unlink(io, path);
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(io, path, &names, &n));
	char sub[4096];
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
		rc = vv_io_remove_tree(io, sub);
		if (rc < 0)
			break;
	}
	vv_io_free_list(names, n);
	VV_TRY(rc);
	return vv_io_rmdir(io, path);
}

/* ---- calls on an open file ----------------------------------------------- */

int vv_io_close(vv_file *f)
{
	if (!f)
		return 0;
	char path[512];
	snprintf(path, sizeof path, "%s", f->path ? f->path : "?");
	int rc = f->io->close(f);
	return rc ? fail(rc, "close", path) : 0;
}

int vv_io_pread(vv_file *f, void *buf, size_t n, uint64_t off, size_t *nread)
{
	size_t got = 0;
	while (got < n) {
		size_t r = 0;
		int rc = f->io->pread(f, (uint8_t *)buf + got, n - got, off + got, &r);
		if (rc)
			return fail(rc, "read", f->path);
		if (r == 0)
			break;
		got += r;
	}
	*nread = got;
	return 0;
}

int vv_io_pread_full(vv_file *f, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	VV_TRY(vv_io_pread(f, buf, n, off, &got));
	if (got != n)
		return vv_error_set(VARVE_EIO, 0, "short read of %s at %llu: %zu of %zu bytes",
				    f->path, (unsigned long long)off, got, n);
	return 0;
}

int vv_io_pwrite(vv_file *f, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		size_t w = 0;
		int rc = f->io->pwrite(f, (const uint8_t *)buf + done, n - done, off + done, &w);
		if (rc)
			return fail(rc, "write", f->path);
		if (w == 0)
			return fail(-ENOSPC, "write (no progress)", f->path);
		done += w;
	}
	atomic_fetch_add(&n_written, n);
	return 0;
}

int vv_io_datasync(vv_file *f)
{
	uint64_t t0 = vv_mono_ns();
	int rc = f->io->datasync(f);
	atomic_fetch_add(&n_datasync, 1);
	atomic_fetch_add(&ns_datasync, vv_mono_ns() - t0);
	return rc ? fail(rc, "fdatasync", f->path) : 0;
}

int vv_io_size(vv_file *f, uint64_t *out)
{
	int rc = f->io->size(f, out);
	return rc ? fail(rc, "stat", f->path) : 0;
}

int vv_io_truncate(vv_file *f, uint64_t size)
{
	int rc = f->io->truncate(f, size);
	return rc ? fail(rc, "truncate", f->path) : 0;
}

int vv_io_allocate(vv_file *f, uint64_t off, uint64_t len)
{
	int rc = f->io->allocate(f, off, len);
	return rc ? fail(rc, "fallocate", f->path) : 0;
}

int vv_io_extend(vv_file *f, uint64_t size)
{
	int rc = f->io->extend(f, size);
	return rc ? fail(rc, "fallocate", f->path) : 0;
}

int vv_io_info(vv_file *f, vv_file_info *out)
{
	int rc = f->io->file_info(f, out);
	return rc ? fail(rc, "stat", f->path) : 0;
}

int vv_io_syncfs(vv_file *f)
{
	uint64_t t0 = vv_mono_ns();
	int rc = f->io->syncfs(f);
	atomic_fetch_add(&n_datasync, 1);
	atomic_fetch_add(&ns_datasync, vv_mono_ns() - t0);
	return rc ? fail(rc, "syncfs", f->path) : 0;
}

int vv_io_map(vv_file *f, size_t len, int writable, uint8_t **out)
{
	*out = NULL;
	int rc = f->io->map(f, len, writable, out);
	return rc ? fail(rc, "mmap", f->path) : 0;
}

void vv_io_map_prefault(vv_file *f, uint8_t *p, size_t len) { f->io->prefault(f, p, len); }

int vv_io_map_write(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n)
{
	int rc = f->io->map_write(f, map, off, src, n);
	if (rc)
		return vv_error_set(VARVE_EIO, -rc, "write through the mapping of %s at %llu: %s",
				    f->path, (unsigned long long)off, strerror(-rc));
	return 0;
}

void vv_io_unmap(vv_file *f, uint8_t *p, size_t len)
{
	if (p)
		f->io->unmap(f, p, len);
}
