/* SPDX-License-Identifier: MIT */
/*
 * io.h -- every byte varve reads or writes passes through an I/O table, so
 * tests can inject errors, short writes, full disks and power cuts (SQLite's
 * VFS model). Modules call the vv_io_* wrappers, never the syscalls; that
 * includes shared mappings: mapping, unmapping, pre-faulting and the copy of
 * an mmap-mode append into its mapping are methods too (SQLite's xFetch /
 * xUnfetch and the mmap copy inside unixWrite), so a test table sees every
 * write whichever way it reaches the file.
 *
 * THE TABLE BELONGS TO THE STORE
 *  - A store's table is varve_options.io (src/store passes it down: the
 *    partition and segment configurations carry it, the other modules read
 *    it from the env). Calls that name a path take the table as their first
 *    argument; calls on an open file use the table that opened it
 *    (vv_file.io), so a file never changes tables.
 *  - NULL means the process default: vv_io_posix unless vv_io_set changed
 *    it (tools and code without a store). It is looked up at each call.
 *
 * Backend methods return 0 or -errno. The wrappers turn that into a VARVE_E*
 * code with a detail message naming the operation and the path (vv_error_set).
 * May call: util (allocation, errors, clock). Nothing else.
 */
#ifndef VV_IO_H
#define VV_IO_H

#include <stddef.h>
#include <stdint.h>

/* The public header declares the tag only: the table is internal. */
typedef struct varve_io_methods vv_io_methods;

typedef struct vv_file {
	int fd;
	char *path;
	void *backend;          /* owned by the backend that opened it */
	const vv_io_methods *io; /* the table that opened it (set by vv_io_open / vv_io_lock) */
} vv_file;

enum {
	VV_O_RDONLY = 0,
	VV_O_RDWR = 1,
	VV_O_CREAT = 2,
	VV_O_EXCL = 4,
	VV_O_TRUNC = 8
};

/* Identity and size of a file: two names are the same file when dev and ino
 * match; nlink > 1 means another name shares its blocks (a hard link). */
typedef struct vv_file_info {
	uint64_t dev, ino, nlink, size;
} vv_file_info;

/* Every method is required; a table that wraps another copies it and
 * replaces the methods it cares about (tests/support_io). */
struct varve_io_methods {
	int (*open)(const char *path, int flags, unsigned mode, vv_file **out);
	int (*close)(vv_file *f);
	int (*pread)(vv_file *f, void *buf, size_t n, uint64_t off, size_t *nread);
	int (*pwrite)(vv_file *f, const void *buf, size_t n, uint64_t off, size_t *nwritten);
	int (*datasync)(vv_file *f);
	int (*size)(vv_file *f, uint64_t *out);
	int (*truncate)(vv_file *f, uint64_t size);
	int (*allocate)(vv_file *f, uint64_t off, uint64_t len);
	int (*rename)(const char *from, const char *to);
	int (*unlink)(const char *path);
	int (*mkdir)(const char *path, unsigned mode);
	int (*rmdir)(const char *path);
	int (*sync_dir)(const char *path);
	/* names in the directory, "." and ".." excluded; free each and the array */
	int (*list_dir)(const char *path, char ***names, size_t *count);
	/* open path (creating it) and take an exclusive flock without waiting */
	int (*lock)(const char *path, unsigned mode, vv_file **out);
	int (*stat_size)(const char *path, uint64_t *size, int *is_dir);
	/* identity of an open file (fstat) and of a path, not following a final
	 * symlink (lstat) */
	int (*file_info)(vv_file *f, vv_file_info *out);
	int (*path_info)(const char *path, vv_file_info *out);
	/* a second name for an existing file (link(2)), never following a
	 * symlink; a table that cannot link says -EXDEV */
	int (*link)(const char *from, const char *to);
	/* grow the file to `size` with allocated (zeroed) blocks: fallocate
	 * mode 0, so a later write through a mapping cannot hit ENOSPC */
	int (*extend)(vv_file *f, uint64_t size);
	/* syncfs(2) of the filesystem holding f: one call for many dirty files */
	int (*syncfs)(vv_file *f);
	/* bytes available to unprivileged users on the filesystem holding path */
	int (*free_space)(const char *path, uint64_t *bytes);
	/* shared mapping of the first len bytes of f (len 0 maps one byte) */
	int (*map)(vv_file *f, size_t len, int writable, uint8_t **out);
	void (*unmap)(vv_file *f, uint8_t *p, size_t len);
	/* fault in [p, p + len) of a writable mapping of f; best effort */
	void (*prefault)(vv_file *f, uint8_t *p, size_t len);
	/* the mmap-mode write: copy n bytes from src to byte `off` of f, through
	 * f's writable mapping `map` (off + n within the mapped length) */
	int (*map_write)(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n);
};

extern const vv_io_methods vv_io_posix;

/* The process default, for calls given no table (NULL restores posix). */
void vv_io_set(const vv_io_methods *m);
const vv_io_methods *vv_io_get(void);

/* Counters for stats (process-wide): fsync calls and their total latency. */
typedef struct vv_io_counters {
	uint64_t datasyncs;
	uint64_t datasync_ns;
	uint64_t dir_syncs;
	uint64_t bytes_written;
} vv_io_counters;
void vv_io_counters_get(vv_io_counters *out);

/* ---- calls that name a path: the table comes first (NULL: the default) ---- */

int vv_io_open(const vv_io_methods *io, const char *path, int flags, unsigned mode,
	       vv_file **out);
int vv_io_rename(const vv_io_methods *io, const char *from, const char *to);
int vv_io_unlink(const vv_io_methods *io, const char *path);
int vv_io_mkdir(const vv_io_methods *io, const char *path, unsigned mode);
int vv_io_rmdir(const vv_io_methods *io, const char *path);
int vv_io_sync_dir(const vv_io_methods *io, const char *path);
int vv_io_list_dir(const vv_io_methods *io, const char *path, char ***names, size_t *count);
void vv_io_free_list(char **names, size_t count);
int vv_io_lock(const vv_io_methods *io, const char *path, unsigned mode, vv_file **out);
/* VARVE_ENOTFOUND when missing. */
int vv_io_stat(const vv_io_methods *io, const char *path, uint64_t *size, int *is_dir);
/* Identity of a path, not following a final symlink. VARVE_ENOTFOUND when
 * missing. */
int vv_io_path_info(const vv_io_methods *io, const char *path, vv_file_info *out);
/* A second name for an existing file (link(2)); never follows a symlink.
 * Fails with the errno in the detail (EXDEV: another filesystem, or a table
 * that cannot link). */
int vv_io_link(const vv_io_methods *io, const char *from, const char *to);
/* Bytes available to unprivileged users on the filesystem holding path
 * (statvfs). A failure is VARVE_EIO (VARVE_ENOTFOUND for a missing path). */
int vv_io_free_space(const vv_io_methods *io, const char *path, uint64_t *bytes);
/* Write a whole small file atomically: temp, fsync, rename, fsync dir. */
int vv_io_write_atomic(const vv_io_methods *io, const char *dir, const char *name,
		       const void *buf, size_t n, unsigned mode);
/* Read a whole small file (at most max bytes) into a malloc'd buffer. */
int vv_io_read_small(const vv_io_methods *io, const char *path, size_t max, uint8_t **buf,
		     size_t *n);
/* Remove a directory tree (files and subdirectories). */
int vv_io_remove_tree(const vv_io_methods *io, const char *path);

/* ---- calls on an open file: its own table ------------------------------- */

int vv_io_close(vv_file *f);
/* Reads up to n bytes; *nread < n only at end of file. */
int vv_io_pread(vv_file *f, void *buf, size_t n, uint64_t off, size_t *nread);
/* Reads exactly n bytes or fails (VARVE_ECORRUPT-free: short read = VARVE_EIO). */
int vv_io_pread_full(vv_file *f, void *buf, size_t n, uint64_t off);
/* Writes all n bytes (retrying short writes) or fails. */
int vv_io_pwrite(vv_file *f, const void *buf, size_t n, uint64_t off);
int vv_io_datasync(vv_file *f);
int vv_io_size(vv_file *f, uint64_t *out);
int vv_io_truncate(vv_file *f, uint64_t size);
int vv_io_allocate(vv_file *f, uint64_t off, uint64_t len);
int vv_io_extend(vv_file *f, uint64_t size);
/* Identity and size of an open file. */
int vv_io_info(vv_file *f, vv_file_info *out);
/* syncfs(2) of the filesystem holding f; counted and failed like a
 * datasync (VARVE_EIO, or VARVE_ENOSPC when writeback met a full disk). */
int vv_io_syncfs(vv_file *f);

/* Shared mapping of the first len bytes (mmap mode; see docs/DURABILITY.md).
 * A failure is VARVE_ENOMEM when the address space ran out, else VARVE_EIO
 * (the errno in the detail). */
int vv_io_map(vv_file *f, size_t len, int writable, uint8_t **out);
/* Pre-fault a writable mapping's range (best effort, never fails). */
void vv_io_map_prefault(vv_file *f, uint8_t *p, size_t len);
/* Copy n bytes into f's writable mapping at byte off (the mmap-mode append).
 * A failure is VARVE_EIO; nothing is promised about the range then. */
int vv_io_map_write(vv_file *f, uint8_t *map, uint64_t off, const void *src, size_t n);
/* Unmap (p NULL: nothing). munmap of a mapping we made cannot fail in a way
 * the caller could act on. */
void vv_io_unmap(vv_file *f, uint8_t *p, size_t len);

#endif
