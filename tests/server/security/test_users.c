/* SPDX-License-Identifier: MIT */
/*
 * test_users.c -- server/security/users.c: the users file round-trips
 * through format and parse; every malformed line refuses the whole file
 * with its line number; saving is atomic, mode 0600 and leaves no
 * temporary file; the server's copy re-reads the file only when it
 * changed, keeps the old users when the new file is broken, and has none
 * when the file is gone; names are checked.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "security/users.h"

static char dir[512], path[600];

static void setup(void)
{
	const char *tmp = getenv("VARVE_TEST_TMPDIR");
	char base[400];
	snprintf(base, sizeof base, "%s", tmp && *tmp ? tmp : "/tmp");
	mkdir(base, 0700);
	snprintf(dir, sizeof dir, "%s/users-XXXXXX", base);
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/users", dir);
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(users, .init = setup, .fini = teardown);

static vs_scram_cred cred(int mech, const char *pw)
{
	vs_scram_cred c;
	cr_assert_eq(vs_scram_derive(mech, pw, strlen(pw), (const uint8_t *)"0123456789abcdef", 16, 4096,
				     &c), 0);
	return c;
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

Test(users, round_trip)
{
	vs_users u, v;
	vs_users_init(&u);
	vs_users_init(&v);
	vs_scram_cred a = cred(VS_SCRAM_SHA_256, "pa"), b = cred(VS_SCRAM_SHA_512, "pb");
	cr_assert_eq(vs_users_put(&u, "alice", &a), 0);
	cr_assert_eq(vs_users_put(&u, "alice", &b), 0);
	cr_assert_eq(vs_users_put(&u, "J\xc3\xbc" "rgen", &a), 0);
	cr_assert_eq(u.n, 3);
	/* the same name and mechanism replaces */
	vs_scram_cred a2 = cred(VS_SCRAM_SHA_256, "other");
	cr_assert_eq(vs_users_put(&u, "alice", &a2), 0);
	cr_assert_eq(u.n, 3);
	char *text;
	size_t len;
	cr_assert_eq(vs_users_format(&u, &text, &len), 0);
	cr_assert_null(strstr(text, "other"), "a password in the file");
	char err[200];
	cr_assert_eq(vs_users_parse(text, len, &v, err, sizeof err), 0, "%s", err);
	cr_assert_eq(v.n, 3);
	const vs_user_cred *e = vs_users_find(&v, "alice", 5, VS_SCRAM_SHA_256);
	cr_assert(e);
	cr_assert_eq(vs_scram_check_password(&e->cred, "other", 5), 1);
	e = vs_users_find(&v, "alice", 5, VS_SCRAM_SHA_512);
	cr_assert(e && vs_scram_check_password(&e->cred, "pb", 2) == 1);
	cr_assert(vs_users_find(&v, "J\xc3\xbc" "rgen", 7, VS_SCRAM_SHA_256));
	cr_assert_null(vs_users_find(&v, "alic", 4, VS_SCRAM_SHA_256));
	/* removing one mechanism, then all */
	cr_assert_eq(vs_users_remove(&v, "alice", VS_SCRAM_SHA_512), 1);
	cr_assert_null(vs_users_find(&v, "alice", 5, VS_SCRAM_SHA_512));
	cr_assert_eq(vs_users_remove(&v, "alice", 0), 1);
	cr_assert_eq(vs_users_remove(&v, "alice", 0), 0);
	cr_assert_eq(v.n, 1);
	free(text);
	vs_users_free(&u);
	vs_users_free(&v);
}

Test(users, malformed_lines_name_their_number)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "# c\nalice SCRAM-SHA-1 4096 MDEyMzQ1Njc4OWFiY2RlZg== AA== AA==\n", "line 2: unknown mechanism" },
		{ "alice SCRAM-SHA-256 4096 MDEy AA== AA==\n", "line 1: bad salt" },
		{ "alice SCRAM-SHA-256 x MDEyMzQ1Njc4OWFiY2RlZg== AA== AA==\n", "line 1: bad iteration" },
		{ "alice SCRAM-SHA-256 4096 MDEyMzQ1Njc4OWFiY2RlZg== AA== AA==\n", "line 1: bad stored key" },
		{ "alice SCRAM-SHA-256 4096\n", "line 1: expected" },
		{ "\n\nalice SCRAM-SHA-256 4096 a b c d\n", "line 3: more than six" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		vs_users u;
		vs_users_init(&u);
		char err[200] = "";
		cr_assert_eq(vs_users_parse(cases[i].text, strlen(cases[i].text), &u, err, sizeof err),
			     -EINVAL, "case %zu", i);
		cr_assert(strncmp(err, cases[i].why, strlen(cases[i].why)) == 0, "case %zu: %s", i, err);
		cr_assert_eq(u.n, 0);
		vs_users_free(&u);
	}
	/* a duplicate credential, and a NUL byte */
	vs_users u;
	vs_users_init(&u);
	vs_scram_cred a = cred(VS_SCRAM_SHA_256, "pa");
	vs_users_put(&u, "alice", &a);
	char *text;
	size_t len;
	vs_users_format(&u, &text, &len);
	char twice[2048];
	snprintf(twice, sizeof twice, "%s%s", text, strstr(text, "\nalice ") + 1);
	char err[200];
	cr_assert_eq(vs_users_parse(twice, strlen(twice), &u, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "second credential"), "%s", err);
	cr_assert_eq(vs_users_parse("a\0b", 3, &u, err, sizeof err), -EINVAL);
	free(text);
	vs_users_free(&u);
}

Test(users, names)
{
	cr_assert(vs_user_name_ok("alice", 5));
	cr_assert(vs_user_name_ok("svc:orders-1@example.com", 24));
	cr_assert(!vs_user_name_ok("", 0));
	cr_assert(!vs_user_name_ok("a b", 3));
	cr_assert(!vs_user_name_ok("#x", 2));
	cr_assert(!vs_user_name_ok("a\tb", 3));
	cr_assert(!vs_user_name_ok("a\x7f", 2));
	cr_assert(!vs_user_name_ok("\xc3\x28", 2));
	char long_name[VS_USERS_MAX_NAME + 2];
	memset(long_name, 'x', sizeof long_name);
	cr_assert(vs_user_name_ok(long_name, VS_USERS_MAX_NAME));
	cr_assert(!vs_user_name_ok(long_name, VS_USERS_MAX_NAME + 1));
	vs_users u;
	vs_users_init(&u);
	vs_scram_cred a = cred(VS_SCRAM_SHA_256, "pa");
	cr_assert_eq(vs_users_put(&u, "a b", &a), -EINVAL);
	a.salt_len = 4;
	cr_assert_eq(vs_users_put(&u, "ab", &a), -EINVAL);
	vs_users_free(&u);
}

Test(users, save_is_private_and_atomic)
{
	vs_users u, v;
	vs_users_init(&u);
	vs_users_init(&v);
	vs_scram_cred a = cred(VS_SCRAM_SHA_256, "pa");
	vs_users_put(&u, "alice", &a);
	umask(022);
	char err[300];
	/* a missing file is no users */
	cr_assert_eq(vs_users_load(path, &v, err, sizeof err), 0);
	cr_assert_eq(v.n, 0);
	cr_assert_eq(vs_users_save(path, &u, err, sizeof err), 0, "%s", err);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(vs_users_load(path, &v, err, sizeof err), 0);
	cr_assert_eq(v.n, 1);
	/* nothing else left in the directory */
	DIR *d = opendir(dir);
	int files = 0;
	for (struct dirent *e; (e = readdir(d));)
		files += e->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(files, 1);
	/* a lock excludes a second editor: flock is per open file */
	int fd = vs_users_lock(path, err, sizeof err);
	cr_assert(fd >= 0, "%s", err);
	vs_users_unlock(fd);
	vs_users_free(&u);
	vs_users_free(&v);
}

Test(users, server_copy_follows_the_file)
{
	vs_users_file f;
	cr_assert_eq(vs_users_file_open(&f, path), 0);
	cr_assert_eq(f.users.n, 0);
	cr_assert_eq(vs_users_file_refresh(&f), 0, "no file, still no file");
	vs_users u;
	vs_users_init(&u);
	vs_scram_cred a = cred(VS_SCRAM_SHA_256, "pa"), b = cred(VS_SCRAM_SHA_512, "pb");
	vs_users_put(&u, "alice", &a);
	char err[300];
	cr_assert_eq(vs_users_save(path, &u, err, sizeof err), 0);
	cr_assert_eq(vs_users_file_refresh(&f), 1);
	cr_assert_eq(f.users.n, 1);
	cr_assert_eq(vs_users_file_refresh(&f), 0, "read again although unchanged");
	/* a new file (rename: a new inode) */
	vs_users_put(&u, "bob", &b);
	cr_assert_eq(vs_users_save(path, &u, err, sizeof err), 0);
	cr_assert_eq(vs_users_file_refresh(&f), 1);
	cr_assert_eq(f.users.n, 2);
	/* broken: the old users stay */
	write_file("bob SCRAM-SHA-256 nope\n");
	cr_assert_eq(vs_users_file_refresh(&f), -1);
	cr_assert_eq(f.users.n, 2);
	cr_assert(strstr(f.error, "line 1"), "%s", f.error);
	cr_assert_eq(f.failures, 1);
	/* gone: nobody */
	unlink(path);
	cr_assert_eq(vs_users_file_refresh(&f), 1);
	cr_assert_eq(f.users.n, 0);
	vs_users_file_close(&f);
	vs_users_free(&u);
}
