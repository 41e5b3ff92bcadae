/* SPDX-License-Identifier: MIT */
/*
 * test_abi_table.c -- the size table of the versioned structs
 * (src/base/abi.c) and the reads and writes it drives. What it proves:
 *  - layout: every field of the public structs as the version-1 header
 *    (varve_v1.h) lays it out has the same offset and size in today's
 *    varve.h: a field reordered, retyped, or inserted before the end fails
 *    here;
 *  - table: the version-1 row of every struct is the end of its last
 *    version-1 field, rows grow with the version;
 *  - growth: with a made-up struct at version 2, a version-1 caller's copy
 *    (allocated at exactly its size: ASan builds see any access past it)
 *    is read without reading past it, the field it lacks gets its default,
 *    a write to it stops at its end, and an _init fills only its version;
 *    versions 0 and 3 are refused. All real structs are still at version
 *    1, so this made-up one stands for the first that grows: the code path
 *    is the same (vv_abi_read/write/init with the struct's table).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "abi_fields.h"
#include "v1_layout.h"

TestSuite(abi, .timeout = 30);

static const abi_field today[] = { ABI_V1_FIELDS(ABI_FIELD) };

Test(abi, version_1_fields_keep_their_place)
{
	size_t n = sizeof today / sizeof today[0];
	cr_assert_eq(n, abi_v1_layout_count);
	for (size_t i = 0; i < n; i++) {
		const abi_field *t = &today[i], *v = &abi_v1_layout[i];
		cr_assert_str_eq(t->type, v->type);
		cr_assert_str_eq(t->field, v->field);
		cr_expect_eq(t->offset, v->offset, "%s.%s moved: at %zu, version 1 had it at %zu",
			     t->type, t->field, t->offset, v->offset);
		cr_expect_eq(t->size, v->size, "%s.%s is %zu bytes, version 1 had %zu", t->type,
			     t->field, t->size, v->size);
	}
}

/* End of the last version-1 field of a struct, from the frozen header. */
static size_t v1_end(const char *type)
{
	size_t end = 0;
	for (size_t i = 0; i < abi_v1_layout_count; i++) {
		const abi_field *v = &abi_v1_layout[i];
		if (!strcmp(v->type, type) && v->offset + v->size > end)
			end = v->offset + v->size;
	}
	return end;
}

Test(abi, size_table_matches_the_version_1_header)
{
	size_t n;
	const vv_abi *const *all = vv_abi_all(&n);
	cr_assert_eq(n, 15, "every versioned struct of varve.h has a table");
	for (size_t i = 0; i < n; i++) {
		const vv_abi *a = all[i];
		cr_assert_geq(a->current, 1, "%s", a->name);
		size_t want = v1_end(a->name);
		cr_assert_gt(want, 0, "%s is not in the version-1 field list", a->name);
		cr_expect_eq(vv_abi_size(a, 1), want, "%s: version 1 is %zu bytes, the table says %zu",
			     a->name, want, vv_abi_size(a, 1));
		for (unsigned v = 2; v <= a->current; v++)
			cr_expect_gt(vv_abi_size(a, v), vv_abi_size(a, v - 1), "%s v%u", a->name, v);
	}
}

/* A real struct read from a copy of exactly its version-1 size, and an
 * output written into one: no access past it (ASan). */
Test(abi, real_structs_are_read_and_written_within_version_1)
{
	size_t n1 = vv_abi_size(&vv_abi_options, 1);
	varve_options d = VARVE_OPTIONS_INIT, full = VARVE_OPTIONS_INIT;
	unsigned char *caller = malloc(n1);
	memcpy(caller, &d, n1);
	varve_options *c = (varve_options *)(void *)caller;
	c->version = 1;
	c->segment_bytes = 12345;
	cr_assert_eq(vv_abi_read(&vv_abi_options, caller, &full), 0);
	cr_assert_eq(full.segment_bytes, 12345);
	cr_assert_eq(full.version, VARVE_OPTIONS_VERSION);
	free(caller);

	size_t s1 = vv_abi_size(&vv_abi_commit_info, 1);
	cr_assert_lt(s1, sizeof(varve_commit_info), "varve_commit_info has tail padding");
	unsigned char *out = malloc(s1);
	unsigned one = 1;
	memcpy(out, &one, sizeof one);
	varve_commit_info *info = calloc(1, sizeof *info);
	info->version = VARVE_COMMIT_INFO_VERSION;
	info->offset = 42;
	strcpy(info->metadata, "m");
	cr_assert_eq(vv_abi_write(&vv_abi_commit_info, out, info), 0);
	cr_assert_eq(((varve_commit_info *)(void *)out)->offset, 42);
	free(info);
	free(out);
}

/* ---- growth, with a made-up struct at version 2 ----------------------------------------- */

typedef struct fake {
	unsigned int version;
	int32_t a;
	int64_t b;
	int32_t c; /* version 2 */
} fake;

static const size_t fake_size[] = { VV_ABI_END(fake, b), VV_ABI_END(fake, c) };
static const vv_abi fake_abi = { "fake_struct", 2, fake_size };
static const fake fake_defaults = { 2, 7, 8, 9 };

/* A version-1 caller's copy: exactly its bytes. */
static unsigned char *fake_v1(int32_t a, int64_t b)
{
	unsigned char *m = malloc(vv_abi_size(&fake_abi, 1));
	unsigned v = 1;
	memcpy(m, &v, sizeof v);
	memcpy(m + offsetof(fake, a), &a, sizeof a);
	memcpy(m + offsetof(fake, b), &b, sizeof b);
	return m;
}

Test(abi, a_smaller_version_is_read_with_defaults_for_what_it_lacks)
{
	unsigned char *v1 = fake_v1(70, 80);
	fake full = fake_defaults;
	cr_assert_eq(vv_abi_read(&fake_abi, v1, &full), 0);
	cr_assert(full.version == 2 && full.a == 70 && full.b == 80 && full.c == 9,
		  "got %u %d %lld %d", full.version, full.a, (long long)full.b, full.c);
	free(v1);
	/* a version-2 caller: every field its own */
	fake two = { 2, 11, 12, 13 };
	full = fake_defaults;
	cr_assert_eq(vv_abi_read(&fake_abi, &two, &full), 0);
	cr_assert(full.a == 11 && full.b == 12 && full.c == 13);
	/* no caller struct: the defaults */
	full = fake_defaults;
	full.version = 0;
	cr_assert_eq(vv_abi_read(&fake_abi, NULL, &full), 0);
	cr_assert(full.version == 2 && full.a == 7 && full.c == 9);
}

Test(abi, a_smaller_version_is_written_no_further_than_its_end)
{
	fake out = { 2, 1, 2, 3 };
	/* into exactly its bytes (ASan) */
	unsigned char *v1 = fake_v1(0, 0);
	cr_assert_eq(vv_abi_write(&fake_abi, v1, &out), 0);
	fake seen;
	memcpy(&seen, v1, vv_abi_size(&fake_abi, 1));
	cr_assert(seen.version == 1 && seen.a == 1 && seen.b == 2, "the caller's version is kept");
	free(v1);
	/* into a bigger buffer: every byte after version 1's end untouched */
	unsigned char buf[sizeof(fake) + 16];
	memset(buf, 0xA5, sizeof buf);
	unsigned one = 1;
	memcpy(buf, &one, sizeof one);
	cr_assert_eq(vv_abi_write(&fake_abi, buf, &out), 0);
	for (size_t i = vv_abi_size(&fake_abi, 1); i < sizeof buf; i++)
		cr_assert_eq(buf[i], 0xA5, "byte %zu written", i);
	/* _init of version 1: its fields, nothing after */
	memset(buf, 0xA5, sizeof buf);
	cr_assert_eq(vv_abi_init(&fake_abi, buf, 1, &fake_defaults), 0);
	memcpy(&seen, buf, sizeof seen);
	cr_assert(seen.version == 1 && seen.a == 7 && seen.b == 8);
	for (size_t i = vv_abi_size(&fake_abi, 1); i < sizeof buf; i++)
		cr_assert_eq(buf[i], 0xA5, "byte %zu written by init", i);
}

Test(abi, versions_outside_1_to_current_are_refused_untouched)
{
	unsigned bad[] = { 0, 3, 0xffffffffu };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fake caller = { bad[i], 1, 2, 3 }, full = fake_defaults;
		cr_assert_eq(vv_abi_check(&fake_abi, bad[i]), VARVE_EINVAL);
		cr_assert(strstr(varve_last_error()->message, "fake_struct"), "%s",
			  varve_last_error()->message);
		cr_assert_eq(vv_abi_read(&fake_abi, &caller, &full), VARVE_EINVAL);
		cr_assert(full.a == 7 && full.b == 8 && full.c == 9, "defaults overwritten");
		fake before = caller;
		cr_assert_eq(vv_abi_write(&fake_abi, &caller, &fake_defaults), VARVE_EINVAL);
		cr_assert(!memcmp(&before, &caller, sizeof caller), "written though refused");
		cr_assert_eq(vv_abi_init(&fake_abi, &caller, bad[i], &fake_defaults), VARVE_EINVAL);
	}
	cr_assert_eq(vv_abi_check(&fake_abi, 1), 0);
	cr_assert_eq(vv_abi_check(&fake_abi, 2), 0);
}
