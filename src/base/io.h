/* SPDX-License-Identifier: MIT */
/*
 * io.h -- every byte varve reads or writes passes through this table, so
 * tests can inject errors, short writes, full disks and power cuts (SQLite's
 * VFS model). Modules call the vv_io_* wrappers, never the syscalls.
 *
 * Backend methods return 0 or -errno. The wrappers turn that into a VARVE_E*
 * code with a detail message naming the operation and the path.
 */
#ifndef VV_IO_H
#define VV_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct vv_file {
	int fd;
	char *path;
	void *backend; /* owned by the backend that opened it */
} vv_file;

enum {
	VV_O_RDONLY = 0,
	VV_O_RDWR = 1,
	VV_O_CREAT = 2,
	VV_O_EXCL = 4,
	VV_O_TRUNC = 8
};

typedef struct vv_io_methods {
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
	/* grow the file to `size` with allocated (zeroed) blocks: fallocate
	 * mode 0, so a later write through a mapping cannot hit ENOSPC */
	int (*extend)(vv_file *f, uint64_t size);
} vv_io_methods;

extern const vv_io_methods vv_io_posix;

/* Swap the backend for the whole process (tests). NULL restores posix. */
void vv_io_set(const vv_io_methods *m);
const vv_io_methods *vv_io_get(void);

/* Counters for stats: fsync calls and their total latency. */
typedef struct vv_io_counters {
	uint64_t datasyncs;
	uint64_t datasync_ns;
	uint64_t dir_syncs;
	uint64_t bytes_written;
} vv_io_counters;
void vv_io_counters_get(vv_io_counters *out);

int vv_io_open(const char *path, int flags, unsigned mode, vv_file **out);
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
int vv_io_rename(const char *from, const char *to);
int vv_io_unlink(const char *path);
int vv_io_mkdir(const char *path, unsigned mode);
int vv_io_rmdir(const char *path);
int vv_io_sync_dir(const char *path);
int vv_io_list_dir(const char *path, char ***names, size_t *count);
void vv_io_free_list(char **names, size_t count);
int vv_io_lock(const char *path, unsigned mode, vv_file **out);
/* VARVE_ENOTFOUND when missing. */
int vv_io_stat(const char *path, uint64_t *size, int *is_dir);

int vv_io_extend(vv_file *f, uint64_t size);
/* syncfs(2) of the filesystem holding f: one call for many dirty files. */
int vv_io_syncfs(vv_file *f);
/* Shared mapping of the first len bytes (mmap mode; see docs/DURABILITY.md). */
int vv_io_map(vv_file *f, size_t len, int writable, uint8_t **out);
/* Pre-fault a writable mapping's range (best effort, never fails). */
void vv_io_map_prefault(uint8_t *p, size_t len);
void vv_io_unmap(uint8_t *p, size_t len);

/* Identity and size of a file (not in the method table, like syncfs):
 * two names are the same file when dev and ino match; nlink > 1 means
 * another name shares its blocks (a hard link). */
typedef struct vv_file_info {
	uint64_t dev, ino, nlink, size;
} vv_file_info;
int vv_io_info(vv_file *f, vv_file_info *out);
/* Of a path, not following a final symlink. VARVE_ENOTFOUND when missing. */
int vv_io_path_info(const char *path, vv_file_info *out);
/* A second name for an existing file (link(2)); never follows a symlink.
 * Fails with the errno in the detail (EXDEV: another filesystem). */
int vv_io_link(const char *from, const char *to);

/* Bytes available to unprivileged users on the filesystem holding path. */
int vv_io_free_space(const char *path, uint64_t *bytes);

/* Write a whole small file atomically: temp, fsync, rename, fsync dir. */
int vv_io_write_atomic(const char *dir, const char *name, const void *buf, size_t n,
		       unsigned mode);
/* Read a whole small file (at most max bytes) into a malloc'd buffer. */
int vv_io_read_small(const char *path, size_t max, uint8_t **buf, size_t *n);
/* Remove a directory tree (files and subdirectories). */
int vv_io_remove_tree(const char *path);

#endif
