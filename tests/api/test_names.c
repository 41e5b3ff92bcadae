/* SPDX-License-Identifier: MIT */
/* API: topic names, the VERSION file, options, error codes and messages. */
#include <criterion/criterion.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(names, .init = t_setup, .fini = t_teardown, .timeout = 60);
TestSuite(version, .init = t_setup, .fini = t_teardown, .timeout = 60);
TestSuite(options, .init = t_setup, .fini = t_teardown, .timeout = 60);
TestSuite(errors, .timeout = 10);

/* ---- names -------------------------------------------------------------------- */

Test(names, invalid_names_are_refused_and_create_nothing)
{
	/* the store lives inside a parent directory we watch as a whole */
	const char *parent = t_tmpdir();
	const char *dir = t_fmt("%s/store", parent);
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	char long201[202];
	memset(long201, 'a', 201);
	long201[201] = 0;
	const char *bad[] = {
		"",          ".",        "..",        "a/b",      "../x",     "/abs",
		"x/",        "a b",      " lead",     "trail ",   "tab\there", "new\nline",
		"caf\xc3\xa9", "\xe2\x82\xac", "\xff\xfe", "a:b",     "a\\b",     "star*",
		"q?",        "semi;colon", "~home",   "$var",     "a,b",      long201,
		"../../../../../../../../tmp/varve-escape",
	};
	t_snap *before = t_snapshot(parent);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(varve_name_valid(bad[i]), 0, "name_valid accepted \"%s\"", bad[i]);
		int rc = varve_topic_create(db, bad[i], NULL);
		cr_assert_eq(rc, VARVE_EINVAL, "create \"%s\": %s", bad[i], varve_errmsg(rc));
		cr_assert_gt(strlen(varve_last_error()->message), 0);
		/* every entry point that takes a name refuses it */
		varve_record r = t_rec("k", 1, "v", 1);
		t_assert_rc(varve_produce(db, bad[i], &r, NULL, NULL), VARVE_EINVAL);
		t_assert_rc(varve_topic_delete(db, bad[i]), VARVE_EINVAL);
		varve_iter *it;
		t_assert_rc(varve_iter_open(db, bad[i], 0, 0, &it), VARVE_EINVAL);
		varve_topic_config c = { .version = 1 };
		t_assert_rc(varve_topic_describe(db, bad[i], &c), VARVE_EINVAL);
		int64_t e;
		t_assert_rc(varve_offsets(db, bad[i], 0, NULL, &e), VARVE_EINVAL);
	}
	cr_assert_eq(varve_name_valid(NULL), 0);
	t_assert_rc(varve_topic_create(db, NULL, NULL), VARVE_EINVAL);
	t_snap *after = t_snapshot(parent);
	char why[512];
	cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0, "%s", why);
	cr_assert(!t_exists("/tmp/varve-escape"));
	t_snap_free(before);
	t_snap_free(after);
	t_close(db);
}

Test(names, valid_names_work)
{
	const char *dir = t_tmpdir();
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	char long200[201];
	memset(long200, 'b', 200);
	long200[200] = 0;
	const char *good[] = { "a.b-c_D9", long200, "x", "...", "-", "_", "a..b", "0", ".hidden" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		cr_assert_eq(varve_name_valid(good[i]), 1, "name_valid refused \"%s\"", good[i]);
		t_ok(varve_topic_create(db, good[i], NULL));
		cr_assert(t_exists(t_fmt("%s/topics/%s/0", dir, good[i])));
		t_produce_to(db, good[i], 0, "k", good[i], VARVE_TIMESTAMP_NOW);
	}
	t_close(db);
	db = t_open(dir, &o);
	char **names;
	size_t n;
	t_ok(varve_topic_list(db, &names, &n));
	cr_assert_eq(n, sizeof good / sizeof good[0]);
	varve_strings_free(names, n);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_assert_eq(t_count(db, good[i], 0), 1, "%s", good[i]);
	t_close(db);
}

/* ---- VERSION -------------------------------------------------------------------- */

static const char *closed_store(void)
{
	const char *dir = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(dir, &o);
	t_topic(db, "t", 2, VARVE_CODEC_NONE);
	t_produce_to(db, "t", 0, "k", "v", VARVE_TIMESTAMP_NOW);
	t_close(db);
	size_t n;
	uint8_t *v = t_read_file(t_fmt("%s/VERSION", dir), &n);
	cr_assert_eq(n, 2);
	cr_assert_str_eq((char *)v, "2\n", "VERSION holds \"%s\"", (char *)v);
	free(v);
	return dir;
}

static void refused_untouched(const char *dir, int read_only, int want, const char *what)
{
	t_snap *before = t_snapshot(dir);
	varve_options o = t_opts();
	o.read_only = read_only;
	o.start_cleaner = 1;
	varve_db *db = (varve_db *)1;
	int rc = varve_open(dir, &o, &db);
	cr_assert_eq(rc, want, "%s: %s (%s)", what, varve_errmsg(rc), varve_last_error()->message);
	cr_assert_null(db);
	cr_assert_gt(strlen(varve_last_error()->message), 0, "%s: no detail", what);
	t_snap *after = t_snapshot(dir);
	char why[512];
	cr_assert_eq(t_snap_diff(before, after, why, sizeof why), 0, "%s: %s", what, why);
	t_snap_free(before);
	t_snap_free(after);
}

static void bad_version(const char *content, size_t n, const char *what)
{
	for (int ro = 0; ro < 2; ro++) {
		const char *dir = closed_store();
		t_write_file(t_fmt("%s/VERSION", dir), content, n);
		/* also unclean, so that a writer would have recovery to do */
		if (ro)
			t_unlink(t_fmt("%s/CLEAN", dir));
		refused_untouched(dir, ro, VARVE_EFORMAT, t_fmt("%s%s", what, ro ? " (read-only)" : ""));
	}
}

Test(version, newer_format_is_refused_untouched) { bad_version("3\n", 2, "VERSION 3"); }
Test(version, format_zero_is_refused_untouched) { bad_version("0\n", 2, "VERSION 0"); }
Test(version, garbage_is_refused_untouched) { bad_version("garbage\n", 8, "VERSION garbage"); }
Test(version, empty_is_refused_untouched) { bad_version("", 0, "empty VERSION"); }
Test(version, trailing_junk_is_refused_untouched) { bad_version("2x\n", 3, "VERSION 2x"); }

/* A format 1 store (no record maps) opens: read-only leaves VERSION alone,
 * a writer rewrites it as 2 before it can append a batch with a map. */
Test(version, format_one_opens_and_a_writer_upgrades_it)
{
	const char *dir = closed_store();
	t_write_file(t_fmt("%s/VERSION", dir), "1\n", 2);
	varve_options o = t_opts();
	o.read_only = 1;
	varve_db *db = t_open(dir, &o);
	cr_assert_eq(t_count(db, "t", 0), 1);
	t_close(db);
	size_t n;
	uint8_t *v = t_read_file(t_fmt("%s/VERSION", dir), &n);
	cr_assert(n == 2 && memcmp(v, "1\n", 2) == 0, "a read-only open changed VERSION");
	free(v);
	o.read_only = 0;
	db = t_open(dir, &o);
	v = t_read_file(t_fmt("%s/VERSION", dir), &n);
	cr_assert(n == 2 && memcmp(v, "2\n", 2) == 0, "the writer did not upgrade VERSION");
	free(v);
	cr_assert_eq(t_count(db, "t", 0), 1);
	t_close(db);
}
Test(version, binary_is_refused_untouched) { bad_version("\x01\x00\xff", 3, "binary VERSION"); }

Test(version, a_foreign_directory_is_not_taken_over)
{
	const char *dir = t_tmpdir();
	t_write_file(t_fmt("%s/precious.txt", dir), "mine", 4);
	refused_untouched(dir, 0, VARVE_EFORMAT, "non-empty directory without VERSION");
	cr_assert(!t_exists(t_fmt("%s/LOCK", dir)));
}

Test(version, missing_store_and_create_if_missing)
{
	const char *path = t_newpath("new");
	varve_options o = t_opts();
	o.create_if_missing = 0;
	varve_db *db = (varve_db *)1;
	t_assert_rc(varve_open(path, &o, &db), VARVE_ENOTFOUND);
	cr_assert_null(db);
	cr_assert(!t_exists(path));
	o.create_if_missing = 1;
	db = t_open(path, &o);
	cr_assert(t_exists(t_fmt("%s/VERSION", path)));
	t_close(db);
	/* a path that is a file */
	const char *file = t_newpath("file");
	t_write_file(file, "x", 1);
	t_assert_rc(varve_open(file, &o, &db), VARVE_EINVAL);
	cr_assert_eq(t_fsize(file), 1);
}

/* ---- options -------------------------------------------------------------------------- */

Test(options, init_and_bad_versions)
{
	varve_options o, d = VARVE_OPTIONS_INIT;
	memset(&o, 0x5a, sizeof o);
	t_ok(varve_options_init(&o, VARVE_OPTIONS_VERSION));
	cr_assert_eq(o.version, VARVE_OPTIONS_VERSION);
	cr_assert_eq(o.sync_policy, d.sync_policy);
	cr_assert_eq(o.segment_bytes, d.segment_bytes);
	cr_assert_eq(o.segment_ms, d.segment_ms);
	cr_assert_eq(o.index_interval_bytes, d.index_interval_bytes);
	cr_assert_eq(o.max_record_bytes, d.max_record_bytes);
	cr_assert_eq(o.read_only, 0);
	cr_assert_eq(o.create_if_missing, 1);
	cr_assert_eq(o.sync_policy, VARVE_SYNC_ALWAYS, "sync=always is the default");
	t_assert_rc(varve_options_init(&o, 0), VARVE_EINVAL);
	t_assert_rc(varve_options_init(&o, VARVE_OPTIONS_VERSION + 1), VARVE_EINVAL);
	t_assert_rc(varve_options_init(NULL, VARVE_OPTIONS_VERSION), VARVE_EINVAL);
}

Test(options, bad_values_are_refused_before_touching_the_disk)
{
	const char *path = t_newpath("never");
	varve_options o;
	varve_db *db;
#define BAD(field, value)                                                                    \
	do {                                                                                 \
		o = t_opts();                                                                \
		o.field = value;                                                             \
		db = (varve_db *)1;                                                          \
		int rc_ = varve_open(path, &o, &db);                                         \
		cr_assert_eq(rc_, VARVE_EINVAL, #field " = " #value ": %s", varve_errmsg(rc_)); \
		cr_assert_null(db);                                                          \
		cr_assert_eq(varve_last_error()->code, VARVE_EINVAL);                        \
		cr_assert_gt(strlen(varve_last_error()->message), 0);                        \
		cr_assert(!t_exists(path), #field " = " #value ": the store was created");  \
	} while (0)
	BAD(version, 0);
	BAD(version, VARVE_OPTIONS_VERSION + 1);
	BAD(sync_policy, -1);
	BAD(sync_policy, 3);
	BAD(segment_bytes, 0);
	BAD(segment_bytes, 1023);
	BAD(segment_bytes, (uint64_t)UINT32_MAX + 1);
	BAD(segment_ms, -1);
	BAD(index_interval_bytes, 0);
	BAD(index_interval_bytes, 63);
	BAD(max_record_bytes, 0);
	BAD(max_record_bytes, 1023);
	BAD(max_record_bytes, (1u << 30) + 1);
#undef BAD
	o = t_opts();
	o.sync_policy = VARVE_SYNC_INTERVAL;
	o.sync_interval_ms = 0;
	t_assert_rc(varve_open(path, &o, &db), VARVE_EINVAL);
	cr_assert(!t_exists(path));
	/* bad arguments */
	o = t_opts();
	t_assert_rc(varve_open(path, &o, NULL), VARVE_EINVAL);
	t_assert_rc(varve_open(NULL, &o, &db), VARVE_EINVAL);
	t_assert_rc(varve_open("", &o, &db), VARVE_EINVAL);
	cr_assert(!t_exists(path));
	/* the limits themselves are fine */
	o.segment_bytes = 1024;
	o.index_interval_bytes = 64;
	o.max_record_bytes = 1024;
	db = t_open(path, &o);
	t_close(db);
	t_ok(varve_close(NULL));
}

/* ---- errors ------------------------------------------------------------------------------ */

Test(errors, every_code_has_a_message)
{
	for (int code = -30; code <= 5; code++) {
		const char *m = varve_errmsg(code);
		cr_assert_not_null(m, "varve_errmsg(%d) is NULL", code);
		cr_assert_gt(strlen(m), 0, "varve_errmsg(%d) is empty", code);
	}
	/* the defined codes have distinct messages */
	for (int a = VARVE_EBUSY; a <= VARVE_OK; a++)
		for (int b = a + 1; b <= VARVE_OK; b++)
			cr_assert_str_neq(varve_errmsg(a), varve_errmsg(b), "codes %d and %d", a, b);
	cr_assert_str_neq(varve_errmsg(VARVE_EEND), varve_errmsg(-999));
	cr_assert_not_null(varve_errmsg(INT32_MIN));
	cr_assert_not_null(varve_errmsg(INT32_MAX));
}

Test(errors, frozen_values)
{
	cr_assert_eq(VARVE_OK, 0);
	cr_assert_eq(VARVE_ERROR, -1);
	cr_assert_eq(VARVE_EINVAL, -2);
	cr_assert_eq(VARVE_ECORRUPT, -5);
	cr_assert_eq(VARVE_ENOTFOUND, -6);
	cr_assert_eq(VARVE_ELOCKED, -8);
	cr_assert_eq(VARVE_EFORMAT, -10);
	cr_assert_eq(VARVE_EOFFSET, -11);
	cr_assert_eq(VARVE_EEND, -15);
	cr_assert_eq(VARVE_EBUSY, -20);
}

Test(errors, last_error_has_detail_after_failures)
{
	const varve_error_info *e = varve_last_error();
	cr_assert_not_null(e);
	cr_assert_not_null(e->message);
	varve_options o = t_opts();
	o.segment_bytes = 1;
	varve_db *db;
	int rc = varve_open("/nonexistent-dir-for-varve-tests/x", &o, &db);
	cr_assert_eq(rc, VARVE_EINVAL);
	e = varve_last_error();
	cr_assert_eq(e->code, VARVE_EINVAL);
	cr_assert_gt(strlen(e->message), 0);
	o = t_opts();
	o.create_if_missing = 0;
	rc = varve_open("/nonexistent-dir-for-varve-tests/x", &o, &db);
	cr_assert_eq(rc, VARVE_ENOTFOUND);
	e = varve_last_error();
	cr_assert_eq(e->code, VARVE_ENOTFOUND);
	cr_assert(strstr(e->message, "nonexistent-dir-for-varve-tests"), "detail: %s", e->message);
}

Test(errors, version_string)
{
	int maj = -1, min = -1, pat = -1;
	const char *v = varve_version(&maj, &min, &pat);
	cr_assert_str_eq(v, VARVE_VERSION_STRING);
	cr_assert_eq(maj, VARVE_VERSION_MAJOR);
	cr_assert_eq(min, VARVE_VERSION_MINOR);
	cr_assert_eq(pat, VARVE_VERSION_PATCH);
	cr_assert_str_eq(varve_version(NULL, NULL, NULL), VARVE_VERSION_STRING);
}

/* A store path that is a symbolic link to a store directory is followed
 * (writer and read-only); one to nothing, or a path that is a file, is a
 * clear error. */
Test(names, store_path_may_be_a_symlink)
{
	const char *real = t_newpath("real");
	varve_options o = t_opts();
	varve_db *db = t_open(real, &o);
	t_topic(db, "t", 1, VARVE_CODEC_NONE);
	t_produce_to(db, "t", 0, "k", "v", 0);
	t_close(db);
	const char *link = t_newpath("link");
	cr_assert_eq(symlink(real, link), 0);
	db = t_open(link, &o);
	cr_assert_eq(t_count(db, "t", 0), 1);
	t_produce_to(db, "t", 0, "k", "w", 0);
	t_close(db);
	varve_options ro = o;
	ro.read_only = 1;
	db = t_open(link, &ro);
	cr_assert_eq(t_count(db, "t", 0), 2);
	t_close(db);
	const char *dangling = t_newpath("dangling");
	cr_assert_eq(symlink(t_newpath("nowhere"), dangling), 0);
	t_assert_rc(varve_open(dangling, &o, &db), VARVE_EINVAL);
	cr_assert(strstr(varve_last_error()->message, "symbolic link"), "%s",
		  varve_last_error()->message);
	const char *file = t_newpath("file");
	t_write_file(file, "x", 1);
	t_assert_rc(varve_open(file, &o, &db), VARVE_EINVAL);
	cr_assert(strstr(varve_last_error()->message, "not a directory"), "%s",
		  varve_last_error()->message);
}
