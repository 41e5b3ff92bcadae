/* SPDX-License-Identifier: MIT */
/*
 * users.h -- the SCRAM credentials of `varve serve`: the file <store>/users
 * that `varve user` edits and the server reads (docs/SECURITY.md).
 *
 * The file is text, one credential per line, and never holds a password:
 *
 *   # comment
 *   NAME MECHANISM ITERATIONS SALT STORED_KEY SERVER_KEY
 *
 * MECHANISM is SCRAM-SHA-256 or SCRAM-SHA-512; SALT, STORED_KEY and
 * SERVER_KEY are base64. A user may have one credential per mechanism.
 * NAME is 1..VS_USERS_MAX_NAME bytes of printable ASCII or UTF-8, without
 * spaces or control characters, not starting with '#'. The parser trusts
 * nothing (the file may have been edited by hand): any malformed line
 * refuses the whole file, with its line number.
 *
 * Writing is atomic and private: a temporary file of mode 0600 in the same
 * directory, fsync, rename over the old one, fsync of the directory. Two
 * `varve user` commands at once are serialized by an flock on a lock file
 * beside it, <path>.lock (vs_users_lock); readers need no lock.
 *
 * vs_users_file keeps a loaded copy current for the server: a stat of the
 * file (device, inode, size, modification time) per refresh, and a new
 * read only when one of them changed. A file that disappears means no
 * users; one that fails to parse keeps the previous credentials in use.
 *
 * Calls scram.h and libc.
 */
#ifndef VS_SECURITY_USERS_H
#define VS_SECURITY_USERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scram.h"

#define VS_USERS_MAX_NAME VS_SCRAM_MAX_USER
#define VS_USERS_MAX_FILE ((size_t)16 << 20)

typedef struct vs_user_cred {
	char name[VS_USERS_MAX_NAME + 1];
	vs_scram_cred cred;
} vs_user_cred;

typedef struct vs_users {
	vs_user_cred *v; /* in file order */
	size_t n, cap;
} vs_users;

void vs_users_init(vs_users *u);
void vs_users_free(vs_users *u);

/* 1 if name (len bytes) may be a user name. */
int vs_user_name_ok(const char *name, size_t len);

/* Parse the text of a users file into u (emptied first). 0, -EINVAL with
 * "line N: why" in err, or -ENOMEM. */
int vs_users_parse(const char *text, size_t len, vs_users *u, char *err, size_t err_cap);
/* The file's text for u (malloc'd, NUL-terminated): 0 or -ENOMEM. */
int vs_users_format(const vs_users *u, char **text, size_t *len);

/* Read path into u. A missing file is no users (0). 0, or -errno with a
 * message in err. */
int vs_users_load(const char *path, vs_users *u, char *err, size_t err_cap);
/* Write u to path atomically with mode 0600. 0, or -errno with a message. */
int vs_users_save(const char *path, const vs_users *u, char *err, size_t err_cap);
/* Serialize editors: an exclusive flock on path + ".lock" (mode 0600),
 * waiting for it. The fd to pass to vs_users_unlock, or -errno. */
int vs_users_lock(const char *path, char *err, size_t err_cap);
void vs_users_unlock(int fd);

/* The credential of name for mechanism, or NULL. */
const vs_user_cred *vs_users_find(const vs_users *u, const char *name, size_t len, int mech);
/* Add, or replace the credential of the same name and mechanism: 0, or
 * -EINVAL (bad name or credential), -ENOMEM. */
int vs_users_put(vs_users *u, const char *name, const vs_scram_cred *cred);
/* Remove name's credential for mech (0: every mechanism); how many went. */
size_t vs_users_remove(vs_users *u, const char *name, int mech);

/* ---- the server's copy -------------------------------------------------------- */

typedef struct vs_users_file {
	char *path;
	vs_users users;
	int seen;           /* a stat result is recorded below */
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	uint64_t loads;     /* successful reads */
	uint64_t failures;  /* reads that failed (previous users kept) */
	char error[256];    /* the last failure */
} vs_users_file;

/* Remember path (copied) and read it. 0 (the file read, or missing), a
 * parse or read error (-EINVAL, -errno: message in f->error; f is usable
 * and empty), or -ENOMEM (f unusable). */
int vs_users_file_open(vs_users_file *f, const char *path);
/* Re-read the file if it changed: 1 re-read, 0 unchanged, -1 the new
 * content could not be read (the old stays; f->error says why). */
int vs_users_file_refresh(vs_users_file *f);
void vs_users_file_close(vs_users_file *f);

#endif
