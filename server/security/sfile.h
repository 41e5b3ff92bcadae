/* SPDX-License-Identifier: MIT */
/*
 * sfile.h -- the small text files the server keeps beside the store (users,
 * acls, quotas): read whole with a bound, written atomically and owner-only,
 * edits serialized by a lock file. Shared by users.c, acl.c and the
 * broker's quota_file.c. Calls the C library only.
 */
#ifndef VS_SFILE_H
#define VS_SFILE_H

#include <stddef.h>

/* Read all of fd into a malloc'd buffer (*out, *len; free it). -EFBIG past
 * max bytes, else 0 or -errno. */
int vs_sfile_read(int fd, size_t max, char **out, size_t *len);

/* Replace path with data atomically: a temporary file beside it
 * (path.tmp.<pid>, never through a symlink) of mode 0600 whatever the umask,
 * written and fsynced, renamed over path, the directory fsynced. The
 * temporary file is removed on failure. 0 or -errno. */
int vs_sfile_write(const char *path, const void *data, size_t n);

/* An exclusive flock on path.lock (made 0600 if missing), waiting for it.
 * The descriptor (>= 0) to pass to vs_sfile_unlock, or -errno; lock_path
 * (cap bytes) receives the lock file's name for messages. */
int vs_sfile_lock(const char *path, char *lock_path, size_t cap);
void vs_sfile_unlock(int fd);

#endif
