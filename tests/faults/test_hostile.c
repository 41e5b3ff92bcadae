/* SPDX-License-Identifier: MIT */
/*
 * test_hostile.c -- hostile input (issue "Reliability", item 11).
 *
 *  - 100,000 generated hostile names (path separators, "..", binary bytes,
 *    long names, UTF-8, trailing dots, "." and "..", ...) given as topic,
 *    group, producer and dead-letter names: each is refused with
 *    VARVE_EINVAL or accepted only if it matches [A-Za-z0-9._-]{1,200} and
 *    is not "." or ".."; nothing appears outside the store directory and
 *    every topic directory is a plain directory directly under topics/.
 *  - Symlinks planted in a store (a topic directory, segment, index,
 *    recovery-point, LOCK and VERSION files) are never written through.
 *  - Crafted segments (overflowing lengths, counts and varints, LZ4 blocks
 *    that expand past records_size or claim more than the configured cap)
 *    give VARVE_ECORRUPT or a recovery cut, never a crash and never a huge
 *    allocation: each case runs in a forked child under RLIMIT_AS (address
 *    space now + 256 MiB; not under ASan, whose shadow needs terabytes), so
 *    an attempt shows up as VARVE_ENOMEM and fails the case.
 *  - Directories 0700 and files 0600 by default under umask 0 and 077, and
 *    exactly options.dir_mode / file_mode when set.
 *  - A read-only open (reads, consumers, failed writes) and varve-dump
 *    leave a store byte-for-byte and mtime-for-mtime unchanged, also an
 *    unclean one with a torn tail.
 *  - 1,000 racing opens of one store by threads and 1,000 by processes
 *    (rounds of 4): exactly one writer per round, the others
 *    VARVE_ELOCKED; and racing creations of a new store.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "fault_util.h"
#include "partition.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

static varve_options quiet_opts(void)
{
	varve_options o;
	varve_options_init(&o, VARVE_OPTIONS_VERSION);
	o.start_cleaner = 0;
	return o;
}

static int is_empty_dir(const char *p)
{
	char *l = fu_tree_listing(p);
	/* the listing holds the directory itself: one line */
	int n = 0;
	for (char *c = l; *c; c++)
		n += *c == '\n';
	free(l);
	return n == 1;
}

/* ---- names ------------------------------------------------------------------- */

static int valid_by_rule(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 200 || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void hostile_name(uint64_t *rs, char *out, size_t cap)
{
	static const char *const parts[] = {
		"/", "..", ".", "../", "/..", "\\", "..\\", "~", "$HOME", "%2e%2e%2f", "etc",
		"passwd", "topics", "meta", "LOCK", "VERSION", "CLEAN", "x", "a", "-", "_",
		"\xc3\xa9", "\xe2\x80\xae", "\xf0\x9f\x98\x80", "\xef\xbb\xbf", " ", "\t", "\n",
		"*", "?", "'", "\"", ":", ";", "|", "&", "`", "00000000000000000000.log",
		"recovery-point", ".tmp", ".swap", ".cleaned", "\x7f", "\x01", "\xff", "\xfe",
		"0", "9", "Z",
	};
	size_t n = 0;
	uint64_t kind = fu_rand(rs) % 10;
	if (kind == 0) { /* a long name, sometimes right at the limit */
		size_t len = 195 + fu_rand(rs) % 12;
		for (; n < len && n + 1 < cap; n++)
			out[n] = "ab.-_9"[fu_rand(rs) % 6];
	} else if (kind == 1) { /* binary, NUL-free */
		size_t len = 1 + fu_rand(rs) % 40;
		for (; n < len && n + 1 < cap; n++)
			out[n] = (char)(1 + fu_rand(rs) % 255);
	} else if (kind == 2) {
		static const char *const fixed[] = { ".", "..", "...", "x.", "x..", ".x", "-",
						     "..\\..", "./x", "x/", "/", "", " .", ". " };
		const char *f = fixed[fu_rand(rs) % (sizeof fixed / sizeof fixed[0])];
		n = strlen(f) < cap ? strlen(f) : cap - 1;
		memcpy(out, f, n);
	} else { /* concatenated fragments */
		size_t k = 1 + fu_rand(rs) % 6;
		for (size_t i = 0; i < k; i++) {
			const char *p = parts[fu_rand(rs) % (sizeof parts / sizeof parts[0])];
			size_t l = strlen(p);
			if (n + l + 1 >= cap)
				break;
			memcpy(out + n, p, l);
			n += l;
		}
	}
	out[n] = 0;
}

/* VARVE_HOSTILE_DIV=k divides the long loops (names, racing rounds) by k
 * (default 1; .ci/valgrind uses a divisor). */
static long hostile_n(long n)
{
	const char *e = getenv("VARVE_HOSTILE_DIV");
	long d = e && *e ? strtol(e, NULL, 10) : 1;
	return d > 1 && n / d > 0 ? n / d : n;
}

Test(hostile, hundred_thousand_hostile_names, .timeout = 900)
{
	const long nnames = hostile_n(100000);
	char *root = fu_fast_tmpdir("names");
	char store[4200], outside[4200];
	snprintf(store, sizeof store, "%s/store", root);
	snprintf(outside, sizeof outside, "%s/outside", root);
	cr_assert_eq(mkdir(outside, 0700), 0);
	varve_options o = quiet_opts();
	o.sync_policy = VARVE_SYNC_NONE;
	varve_db *db;
	cr_assert_eq(varve_open(store, &o, &db), 0);
	uint64_t rs = 0x4e414d45;
	long refused = 0, created = 0, mismatch = 0, wrong_code = 0, groups_ok = 0, producers_ok = 0;
	char first_bad[600] = "";
	char name[512];
	for (long i = 0; i < nnames; i++) {
		hostile_name(&rs, name, sizeof name);
		int valid = valid_by_rule(name);
		int api_valid = varve_name_valid(name);
		int rc = varve_topic_create(db, name, NULL);
		if (valid != api_valid && mismatch++ == 0)
			snprintf(first_bad, sizeof first_bad, "varve_name_valid(\"%.80s\") = %d", name,
				 api_valid);
		if (rc == 0) {
			created++;
			if (!valid && mismatch++ == 0)
				snprintf(first_bad, sizeof first_bad, "topic \"%.80s\" was created", name);
			/* keep the store small: delete it again */
			varve_topic_delete(db, name);
		} else if (rc == VARVE_EINVAL) {
			refused++;
			if (valid && wrong_code++ == 0)
				snprintf(first_bad, sizeof first_bad, "valid \"%.80s\" refused", name);
		} else if (!(valid && (rc == VARVE_EEXISTS || rc == VARVE_EBUSY)) && wrong_code++ == 0) {
			snprintf(first_bad, sizeof first_bad, "topic \"%.80s\": %s (%s)", name,
				 fu_code_name(rc), varve_last_error()->message);
		}
		if (i % 10 == 0) { /* the same names as group, producer and DLQ names */
			/* a group name is any 1..255 bytes but NUL (Kafka's group ids):
			 * it names no file, so it never reaches the disk as a path */
			int gvalid = strlen(name) >= 1 && strlen(name) <= VARVE_MAX_GROUP_NAME;
			int g = varve_group_commit(db, name, "nope", 0, 0, NULL);
			if (g != (gvalid ? VARVE_ENOTFOUND : VARVE_EINVAL) && wrong_code++ == 0)
				snprintf(first_bad, sizeof first_bad, "group \"%.80s\": %s", name,
					 fu_code_name(g));
			groups_ok += g != VARVE_EINVAL;
			varve_producer_options po = VARVE_PRODUCER_OPTIONS_INIT;
			po.name = name;
			varve_producer *pr = NULL;
			int prc = varve_producer_open(db, &po, &pr);
			if (prc == 0) {
				producers_ok++;
				varve_producer_close(pr);
			}
			if ((prc == 0) != valid && wrong_code++ == 0)
				snprintf(first_bad, sizeof first_bad, "producer \"%.80s\": %s", name,
					 fu_code_name(prc));
		}
	}
	varve_close(db);
	/* Outside the store: nothing but the store and the sentinel. */
	char *l = fu_tree_listing(root);
	size_t stray = 0;
	char first_stray[300] = "";
	for (char *line = strtok(l, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, " d", 2) || !strncmp(line, "/store", 6) || !strncmp(line, "/outside ", 9))
			continue;
		if (stray++ == 0)
			snprintf(first_stray, sizeof first_stray, "%.200s", line);
	}
	free(l);
	/* Inside topics/: only plain directories. */
	char tl[4300];
	snprintf(tl, sizeof tl, "%s/topics", store);
	char *tlist = fu_tree_listing(tl);
	size_t links = 0;
	for (char *line = strtok(tlist, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, " l "))
			links++;
	free(tlist);
	int outside_empty = is_empty_dir(outside);
	fu_rm_rf(root);
	free(root);
	printf("hostile[names]: %ld names: %ld refused (VARVE_EINVAL), %ld valid ones created "
	       "and deleted; as group names %ld accepted, as producer names %ld; %ld rule "
	       "mismatches, %ld wrong codes; %zu entries outside the store, %zu symlinks under "
	       "topics/\n",
	       nnames, refused, created, groups_ok, producers_ok, mismatch, wrong_code, stray, links);
	cr_assert_eq(mismatch + wrong_code, 0, "first: %s", first_bad);
	cr_assert_eq(stray, 0, "created outside the store: %s", first_stray);
	cr_assert(outside_empty && links == 0);
}

/* ---- symlinks ------------------------------------------------------------------ */

typedef struct victim {
	char dir[4200];  /* an empty directory outside the store */
	char file[4300]; /* a file outside the store */
	char *before;
} victim;

static void victim_make(victim *v, const char *root)
{
	snprintf(v->dir, sizeof v->dir, "%s/elsewhere", root);
	cr_assert_eq(mkdir(v->dir, 0700), 0);
	snprintf(v->file, sizeof v->file, "%s/victim.log", root);
	FILE *f = fopen(v->file, "w");
	cr_assert_not_null(f);
	fputs("precious bytes that varve must never touch\n", f);
	fclose(f);
	char *a = fu_tree_listing(v->dir);
	struct stat st;
	stat(v->file, &st);
	size_t n = strlen(a) + 128;
	v->before = malloc(n);
	snprintf(v->before, n, "%s|%lld|%lld.%09ld", a, (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	free(a);
}

/* 0 if the victim directory and file are untouched */
static int victim_intact(const victim *v, char *why, size_t cap)
{
	char *a = fu_tree_listing(v->dir);
	struct stat st;
	stat(v->file, &st);
	size_t n = strlen(a) + 128;
	char *now = malloc(n);
	snprintf(now, n, "%s|%lld|%lld.%09ld", a, (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	int same = !strcmp(now, v->before);
	if (!same)
		snprintf(why, cap, "outside the store, before: [%s] after: [%s]", v->before, now);
	free(a);
	free(now);
	return same ? 0 : -1;
}

static void make_store(const char *store, const char *topic, int records)
{
	varve_options o = quiet_opts();
	varve_db *db;
	cr_assert_eq(varve_open(store, &o, &db), 0);
	cr_assert_eq(varve_topic_create(db, topic, NULL), 0);
	for (int i = 0; i < records; i++) {
		fu_rec fr;
		fu_rec_make(&fr, (uint32_t)i, 0, 1700000000000LL + i);
		fr.r.partition = 0;
		cr_assert_eq(varve_produce(db, topic, &fr.r, NULL, NULL), 0);
	}
	cr_assert_eq(varve_close(db), 0);
}

static void replace_with_link(const char *path, const char *target)
{
	fu_rm_rf(path);
	cr_assert_eq(symlink(target, path), 0, "symlink %s: %s", path, strerror(errno));
}

/* Open, append, read, close; whatever the store says, nothing may be
 * written through the planted link. */
static void poke(const char *store, const char *topic, int *open_rc, int *append_rc)
{
	varve_options o = quiet_opts();
	varve_db *db = NULL;
	*open_rc = varve_open(store, &o, &db);
	*append_rc = -999;
	if (*open_rc)
		return;
	fu_rec fr;
	fu_rec_make(&fr, 77, 0, 1700000000000LL);
	fr.r.partition = 0;
	*append_rc = varve_produce(db, topic, &fr.r, NULL, NULL);
	varve_iter *it;
	if (varve_iter_open(db, topic, 0, 0, &it) == 0) {
		const varve_record *r;
		while (varve_iter_next(it, &r) == 0)
			;
		varve_iter_close(it);
	}
	varve_clean_now(db, 1);
	varve_close(db);
}

typedef struct link_case {
	const char *label;
	const char *rel;  /* path inside the store to replace */
	int to_dir;       /* link to the victim directory (else the file) */
	int while_open;   /* plant while the store is open, then create the topic */
} link_case;

static void run_link_case(const link_case *lc)
{
	char *root = fu_fast_tmpdir("links");
	victim v;
	victim_make(&v, root);
	char store[4200], path[4400];
	snprintf(store, sizeof store, "%s/store", root);
	int open_rc = 0, append_rc = 0;
	if (lc->while_open) {
		varve_options o = quiet_opts();
		varve_db *db;
		cr_assert_eq(varve_open(store, &o, &db), 0);
		snprintf(path, sizeof path, "%s/%s", store, lc->rel);
		replace_with_link(path, lc->to_dir ? v.dir : v.file);
		append_rc = varve_topic_create(db, "x", NULL);
		if (append_rc == 0) {
			fu_rec fr;
			fu_rec_make(&fr, 1, 0, 1700000000000LL);
			varve_produce(db, "x", &fr.r, NULL, NULL);
		}
		varve_close(db);
		poke(store, "x", &open_rc, &append_rc);
	} else {
		make_store(store, "x", 5);
		snprintf(path, sizeof path, "%s/%s", store, lc->rel);
		replace_with_link(path, lc->to_dir ? v.dir : v.file);
		poke(store, "x", &open_rc, &append_rc);
	}
	char why[2000] = "";
	int bad = victim_intact(&v, why, sizeof why);
	printf("hostile[symlink %s -> %s]: open %s, append/create %s, outside %s\n", lc->rel,
	       lc->to_dir ? "a directory outside" : "a file outside", fu_code_name(open_rc),
	       append_rc == -999 ? "-" : fu_code_name(append_rc), bad ? "WRITTEN" : "untouched");
	free(v.before);
	fu_rm_rf(root);
	free(root);
	cr_assert_eq(bad, 0, "%s: a symlink planted at <store>/%s was written through: %s%s",
		     lc->label, lc->rel, why,
		     lc->to_dir ? ". Paths are built as strings and resolved by the kernel: "
				  "O_NOFOLLOW guards only the last component, so a symlinked "
				  "directory in the middle (topics/<topic>, a partition) is followed "
				  "by mkdir, open and rename"
				: "");
}

Test(hostile, symlink_topic_dir_planted_while_open)
{
	link_case lc = { "topic dir (new topic)", "topics/x", 1, 1 };
	run_link_case(&lc);
}
Test(hostile, symlink_topic_dir_of_existing_topic)
{
	link_case lc = { "topic dir (existing topic)", "topics/x", 1, 0 };
	run_link_case(&lc);
}
Test(hostile, symlink_partition_dir)
{
	link_case lc = { "partition dir", "topics/x/0", 1, 0 };
	run_link_case(&lc);
}
Test(hostile, symlink_segment_log)
{
	link_case lc = { "segment", "topics/x/0/00000000000000000000.log", 0, 0 };
	run_link_case(&lc);
}
Test(hostile, symlink_segment_index)
{
	link_case lc = { "index", "topics/x/0/00000000000000000000.index", 0, 0 };
	run_link_case(&lc);
}
Test(hostile, symlink_recovery_point)
{
	link_case lc = { "recovery point", "topics/x/0/recovery-point", 0, 0 };
	run_link_case(&lc);
}
Test(hostile, symlink_lock)
{
	link_case lc = { "LOCK", "LOCK", 0, 0 };
	run_link_case(&lc);
}
Test(hostile, symlink_version)
{
	link_case lc = { "VERSION", "VERSION", 0, 0 };
	run_link_case(&lc);
}
Test(hostile, symlink_meta_segment)
{
	link_case lc = { "metadata segment", "meta/00000000000000000000.log", 0, 0 };
	run_link_case(&lc);
}

/* ---- crafted segments --------------------------------------------------------------- */

typedef struct blob {
	uint8_t *p;
	size_t n;
} blob;

static void blob_add(blob *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

/* A valid one-record batch at base. */
static blob good_batch(int64_t base, const char *val, int codec)
{
	vv_batch_builder bb;
	vv_bb_init(&bb);
	vv_bb_reset(&bb);
	varve_record r = { "k", 1, val, strlen(val), NULL, 0, 1700000000000LL, 0, 0, 0 };
	cr_assert_eq(vv_bb_add(&bb, 0, r.timestamp, &r), 0);
	vv_batch_params prm = { base, codec, 1700000000000LL, -1, 0, -1 };
	const uint8_t *out;
	size_t len;
	cr_assert_eq(vv_bb_finish(&bb, &prm, &out, &len), 0);
	blob b = { malloc(len), len };
	memcpy(b.p, out, len);
	vv_bb_free(&bb);
	return b;
}

static void fix_checksum(blob *b)
{
	uint32_t len = vv_load32(b->p + 12);
	if (len <= b->n)
		vv_store64(b->p, vv_batch_checksum(b->p, len));
}

/* A batch with a hand-made records section (no compression). */
static blob raw_batch(int64_t base, const uint8_t *recs, size_t n, uint32_t count)
{
	blob b = { calloc(1, VV_BATCH_HEADER_SIZE), VV_BATCH_HEADER_SIZE };
	blob_add(&b, recs, n);
	vv_store32(b.p + 8, VV_BATCH_MAGIC);
	vv_store32(b.p + 12, (uint32_t)b.n);
	vv_store64(b.p + 16, (uint64_t)base);
	vv_store32(b.p + 24, count - 1);
	vv_store32(b.p + 28, count);
	vv_store32(b.p + 36, (uint32_t)n);
	vv_store64(b.p + 40, 1700000000000ULL);
	vv_store64(b.p + 48, 1700000000000ULL);
	vv_store64(b.p + 56, 1700000000000ULL);
	vv_store64(b.p + 64, (uint64_t)-1);
	vv_store32(b.p + 72, (uint32_t)-1);
	fix_checksum(&b);
	return b;
}

typedef struct craft {
	const char *label;
	blob (*make)(void);
	uint32_t max_record_bytes; /* store option; 0 = default */
} craft;

static blob c_length_max(void)
{
	blob b = good_batch(1, "crafted", 0);
	vv_store32(b.p + 12, 0xffffffffu); /* checksum cannot match: header checks first */
	return b;
}
static blob c_length_past_file(void)
{
	blob b = good_batch(1, "crafted", 0);
	vv_store32(b.p + 12, (uint32_t)b.n + 100000);
	return b;
}
static blob c_length_short(void)
{
	blob b = good_batch(1, "crafted", 0);
	vv_store32(b.p + 12, 80);
	vv_store32(b.p + 36, 0);
	fix_checksum(&b);
	return b;
}
static blob c_lz4_records_size_huge(void)
{
	blob b = good_batch(1, "crafted crafted crafted crafted", VARVE_CODEC_LZ4);
	vv_store32(b.p + 36, 0x7ffffff0u);
	fix_checksum(&b);
	return b;
}
static blob c_lz4_records_size_over_cap(void)
{
	blob b = good_batch(1, "crafted crafted crafted crafted", VARVE_CODEC_LZ4);
	vv_store32(b.p + 36, 32u << 20); /* within the default cap, over the 1 MiB one */
	fix_checksum(&b);
	return b;
}
static blob c_lz4_expands_past(void)
{
	/* a valid LZ4 block of 1 MiB of zeros, declared as 64 bytes */
	size_t src = 1 << 20;
	char *zeros = calloc(1, src);
	int bound = LZ4_compressBound((int)src);
	char *z = malloc((size_t)bound);
	int zn = LZ4_compress_default(zeros, z, (int)src, bound);
	blob b = { calloc(1, VV_BATCH_HEADER_SIZE), VV_BATCH_HEADER_SIZE };
	blob_add(&b, z, (size_t)zn);
	free(zeros);
	free(z);
	vv_store32(b.p + 8, VV_BATCH_MAGIC);
	vv_store32(b.p + 12, (uint32_t)b.n);
	vv_store64(b.p + 16, 1);
	vv_store32(b.p + 28, 1);
	vv_store16(b.p + 32, VARVE_CODEC_LZ4);
	vv_store32(b.p + 36, 64);
	vv_store64(b.p + 40, 1700000000000ULL);
	vv_store64(b.p + 48, 1700000000000ULL);
	vv_store64(b.p + 64, (uint64_t)-1);
	vv_store32(b.p + 72, (uint32_t)-1);
	fix_checksum(&b);
	return b;
}
static blob c_lz4_garbage(void)
{
	uint8_t g[200];
	uint64_t s = 99;
	for (size_t i = 0; i < sizeof g; i++)
		g[i] = (uint8_t)fu_rand(&s);
	blob b = raw_batch(1, g, sizeof g, 1);
	vv_store16(b.p + 32, VARVE_CODEC_LZ4);
	vv_store32(b.p + 36, 4096);
	fix_checksum(&b);
	return b;
}
static blob c_count_huge(void)
{
	blob b = good_batch(1, "crafted", 0);
	vv_store32(b.p + 28, 0xffffffffu);
	vv_store32(b.p + 24, 0xfffffffeu);
	fix_checksum(&b);
	return b;
}
static blob c_delta_overflow(void)
{
	blob b = good_batch(INT64_MAX - 5, "crafted", 0);
	vv_store32(b.p + 24, 0xfffffff0u);
	fix_checksum(&b);
	return b;
}
static blob c_negative_base(void)
{
	blob b = good_batch(-5, "crafted", 0);
	fix_checksum(&b);
	return b;
}
static blob c_key_varint_huge(void)
{
	/* body: len, delta 0, ts 0, key = varint 2^63 + 1 (overlong claim) */
	uint8_t r[32];
	size_t n = 0;
	r[n++] = 14; /* body length, fixed below */
	r[n++] = 0;
	r[n++] = 0;
	n += vv_varint_put(r + n, (1ull << 63) + 1);
	r[n++] = 0;
	r[n++] = 0;
	r[0] = (uint8_t)(n - 1);
	return raw_batch(1, r, n, 1);
}
static blob c_body_varint_overlong(void)
{
	uint8_t r[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0 };
	return raw_batch(1, r, sizeof r, 1);
}
static blob c_headers_huge(void)
{
	/* 65535 headers claimed in a 10-byte body */
	uint8_t r[32];
	size_t n = 1;
	r[n++] = 0; /* delta */
	r[n++] = 0; /* ts */
	r[n++] = 0; /* null key */
	r[n++] = 0; /* null value */
	n += vv_varint_put(r + n, 65535);
	r[n++] = 0;
	r[n++] = 0;
	r[0] = (uint8_t)(n - 1);
	return raw_batch(1, r, n, 1);
}
static blob c_headers_over_limit(void)
{
	uint8_t r[32];
	size_t n = 1;
	r[n++] = 0;
	r[n++] = 0;
	r[n++] = 0;
	r[n++] = 0;
	n += vv_varint_put(r + n, 1ull << 40);
	r[0] = (uint8_t)(n - 1);
	return raw_batch(1, r, n, 1);
}
static blob c_timestamp_overflow(void)
{
	uint8_t r[32];
	size_t n = 1;
	r[n++] = 0;
	n += vv_varint_put(r + n, vv_zigzag(INT64_MAX));
	r[n++] = 0;
	r[n++] = 1; /* empty value */
	r[n++] = 0;
	r[0] = (uint8_t)(n - 1);
	blob b = raw_batch(1, r, n, 1);
	vv_store64(b.p + 40, (uint64_t)INT64_MAX - 10);
	vv_store64(b.p + 48, (uint64_t)INT64_MAX);
	fix_checksum(&b);
	return b;
}

static const craft crafts[] = {
	{ "length 0xffffffff", c_length_max, 0 },
	{ "length past the end of the file", c_length_past_file, 0 },
	{ "length of a bare header", c_length_short, 0 },
	{ "LZ4 records_size 2 GiB", c_lz4_records_size_huge, 0 },
	{ "LZ4 records_size 32 MiB over a 1 MiB cap", c_lz4_records_size_over_cap, 1 << 20 },
	{ "LZ4 records_size 32 MiB under the default cap", c_lz4_records_size_over_cap, 0 },
	{ "LZ4 block expanding past records_size", c_lz4_expands_past, 0 },
	{ "LZ4 garbage", c_lz4_garbage, 0 },
	{ "record_count 2^32-1", c_count_huge, 0 },
	{ "last_offset_delta overflowing int64", c_delta_overflow, 0 },
	{ "negative base offset", c_negative_base, 0 },
	{ "key length varint 2^63", c_key_varint_huge, 0 },
	{ "overlong body varint", c_body_varint_overlong, 0 },
	{ "65535 headers in a 10-byte record", c_headers_huge, 0 },
	{ "2^40 headers", c_headers_over_limit, 0 },
	{ "timestamp delta overflowing", c_timestamp_overflow, 0 },
};

typedef struct craft_result {
	int open_rc, good, final_rc, cuts, nomem;
} craft_result;

static void set_as_limit(void)
{
	if (UNDER_SANITIZER)
		return;
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	rlim_t lim = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256ull << 20);
	struct rlimit rl = { lim, lim };
	setrlimit(RLIMIT_AS, &rl);
}

/* In a child: open the store (mode 0 writer, 1 read-only), read everything. */
static craft_result probe_store(const char *store, int read_only, uint32_t max_rec)
{
	craft_result res = { 0, 0, 0, 0, 0 };
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		set_as_limit();
		varve_options o = quiet_opts();
		o.read_only = read_only;
		if (max_rec)
			o.max_record_bytes = max_rec;
		varve_db *db = NULL;
		craft_result r = { 0, 0, 0, 0, 0 };
		r.open_rc = varve_open(store, &o, &db);
		r.nomem |= r.open_rc == VARVE_ENOMEM;
		if (r.open_rc == 0) {
			const varve_recovery_cut *cuts;
			size_t nc = 0;
			varve_recovery_cuts(db, &cuts, &nc);
			r.cuts = (int)nc;
			varve_iter *it;
			int rc = varve_iter_open(db, "t", 0, 0, &it);
			if (rc == 0) {
				const varve_record *rec;
				for (int i = 0; i < 10 && (rc = varve_iter_next(it, &rec)) == 0; i++)
					r.good++;
				varve_iter_close(it);
			}
			r.final_rc = rc;
			r.nomem |= rc == VARVE_ENOMEM;
			int64_t off;
			rc = varve_offset_for_time(db, "t", 0, 1700000000000LL, &off);
			r.nomem |= rc == VARVE_ENOMEM;
			if (!read_only)
				r.nomem |= varve_clean_now(db, 1) == VARVE_ENOMEM;
			varve_close(db);
		}
		(void)!write(pfd[1], &r, sizeof r);
		_exit(0);
	}
	close(pfd[1]);
	int got = (int)read(pfd[0], &res, sizeof res);
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	if (got != (int)sizeof res || !WIFEXITED(status)) {
		res.open_rc = 999; /* crashed */
		res.final_rc = WIFSIGNALED(status) ? -WTERMSIG(status) : 999;
	}
	return res;
}

static const char *find_dump(void)
{
	static char path[4096];
	const char *env = getenv("VARVE_DUMP");
	if (env && *env && access(env, X_OK) == 0)
		return env;
	static const char *const cands[] = { "../../tools/varve-dump", "../tools/varve-dump",
					     "tools/varve-dump" };
	for (size_t i = 0; i < 3; i++)
		if (access(cands[i], X_OK) == 0) {
			if (!realpath(cands[i], path))
				continue;
			return path;
		}
	return NULL;
}

Test(hostile, crafted_segments_never_crash_or_allocate_hugely, .timeout = 600)
{
	size_t ncases = sizeof crafts / sizeof crafts[0];
	const char *dump = find_dump();
	long failures = 0;
	char first[1200] = "";
	for (size_t ci = 0; ci < ncases; ci++) {
		for (int mode = 0; mode < 3; mode++) { /* 0 scan at open, 1 trusted clean, 2 read-only */
			char *root = fu_fast_tmpdir("craft");
			char store[4200], seg[4400], pdir[4300];
			snprintf(store, sizeof store, "%s/store", root);
			make_store(store, "t", 0);
			snprintf(pdir, sizeof pdir, "%s/topics/t/0", store);
			snprintf(seg, sizeof seg, "%s/00000000000000000000.log", pdir);
			blob a = good_batch(0, "first, good", 0);
			blob x = crafts[ci].make();
			blob c = good_batch(2, "after the crafted one", 0);
			blob file = { NULL, 0 };
			blob_add(&file, a.p, a.n);
			blob_add(&file, x.p, x.n);
			blob_add(&file, c.p, c.n);
			FILE *f = fopen(seg, "w");
			fwrite(file.p, 1, file.n, f);
			fclose(f);
			char p2[4400];
			snprintf(p2, sizeof p2, "%s/00000000000000000000.index", pdir);
			(void)!truncate(p2, 0);
			snprintf(p2, sizeof p2, "%s/00000000000000000000.timeindex", pdir);
			(void)!truncate(p2, 0);
			snprintf(p2, sizeof p2, "%s/producer-snapshot", pdir);
			unlink(p2);
			vv_recovery_point rp = { 3, 0, file.n, 0 };
			if (mode == 0) {
				snprintf(p2, sizeof p2, "%s/CLEAN", store);
				unlink(p2);
				rp.offset = 0;
				rp.position = 0;
			}
			uint8_t rpb[VV_RECOVERY_POINT_SIZE];
			vv_recovery_point_encode(&rp, rpb);
			snprintf(p2, sizeof p2, "%s/recovery-point", pdir);
			f = fopen(p2, "w");
			fwrite(rpb, 1, sizeof rpb, f);
			fclose(f);
			int dump_status = -1;
			if (dump && mode == 0) { /* before the writer's recovery cuts it */
				char cmd[9000];
				/* the same address-space bound (not under a sanitizer) */
				snprintf(cmd, sizeof cmd,
					 "sh -c '%sexec \"%s\" --verify -q \"%s\"' >/dev/null 2>&1",
					 UNDER_SANITIZER ? "" : "ulimit -v 2097152; ", dump, seg);
				int st = system(cmd);
				dump_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			}
			craft_result r = probe_store(store, mode == 2, crafts[ci].max_record_bytes);
			const char *mname[] = { "scan", "trusted", "read-only" };
			printf("hostile[crafted: %s, %s open]: open %s, %d good record(s), then %s%s%s%s\n",
			       crafts[ci].label, mname[mode], r.open_rc == 999 ? "CRASHED" : fu_code_name(r.open_rc),
			       r.good, r.final_rc < 0 && r.final_rc > -64 && r.open_rc == 999
				       ? "signal" : fu_code_name(r.final_rc),
			       r.cuts ? " (recovery cut)" : "", dump_status >= 0 ? ", varve-dump exit " : "",
			       dump_status >= 0 ? (dump_status == 3 ? "3 (damage found)"
						   : dump_status == 0 ? "0 (NO DAMAGE SEEN)" : "other") : "");
			int bad = r.open_rc == 999 || r.nomem || (r.open_rc == 0 && r.good < 1) ||
				  (r.open_rc == 0 && r.final_rc != VARVE_EEND && r.final_rc != VARVE_ECORRUPT &&
				   r.final_rc != 0) ||
				  (r.open_rc && r.open_rc != VARVE_ECORRUPT) ||
				  (dump_status >= 0 && dump_status != 3);
			if (bad && failures++ == 0)
				snprintf(first, sizeof first,
					 "%s (%s open): open %s, %d good, last %s, nomem %d, dump %d",
					 crafts[ci].label, mname[mode], fu_code_name(r.open_rc), r.good,
					 fu_code_name(r.final_rc), r.nomem, dump_status);
			free(a.p);
			free(x.p);
			free(c.p);
			free(file.p);
			fu_rm_rf(root);
			free(root);
		}
	}
	printf("hostile[crafted]: %zu cases x 3 opens%s: %ld failures; address space limit %s\n",
	       ncases, dump ? " (+ varve-dump)" : "", failures,
	       UNDER_SANITIZER ? "off under a sanitizer" : "now + 256 MiB");
	cr_assert_eq(failures, 0, "first: %s", first);
}

/* ---- permissions ---------------------------------------------------------------------- */

/* In a child with the given umask: a store with a topic, records, a commit
 * and a compaction; then every mode under it. */
static int modes_child(mode_t um, unsigned dmode, unsigned fmode, const char *store, char *why,
		       size_t cap)
{
	umask(um);
	varve_options o = quiet_opts();
	if (dmode)
		o.dir_mode = dmode;
	if (fmode)
		o.file_mode = fmode;
	varve_db *db;
	if (varve_open(store, &o, &db))
		return snprintf(why, cap, "open: %s", varve_last_error()->message), -1;
	varve_topic_config c;
	varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.segment_bytes = 1024;
	c.partitions = 2;
	if (varve_topic_create(db, "t", &c))
		return snprintf(why, cap, "create"), -1;
	for (int i = 0; i < 40; i++) {
		fu_rec fr;
		fu_rec_make(&fr, (uint32_t)i, 5, 1700000000000LL + i);
		varve_produce(db, "t", &fr.r, NULL, NULL);
	}
	varve_group_commit(db, "g", "t", 0, 1, NULL);
	varve_clean_now(db, 1);
	varve_close(db);
	unsigned want_d = dmode ? dmode : 0700, want_f = fmode ? fmode : 0600;
	char *l = fu_tree_listing(store);
	int rc = 0;
	for (char *line = strtok(l, "\n"); line && !rc; line = strtok(NULL, "\n")) {
		char path[4096], type;
		unsigned mode;
		if (line[0] == ' ') { /* the root itself: an empty relative path */
			if (sscanf(line, " %c %o", &type, &mode) != 2)
				continue;
			snprintf(path, sizeof path, "(store)");
		} else if (sscanf(line, "%4095s %c %o", path, &type, &mode) != 3) {
			continue;
		}
		unsigned want = type == 'd' ? want_d : want_f;
		if (mode != want) {
			snprintf(why, cap, "%s is %o, want %o (umask %03o)", path, mode, want,
				 (unsigned)um);
			rc = -1;
		}
	}
	free(l);
	return rc;
}

Test(hostile, modes_under_any_umask)
{
	struct {
		mode_t um;
		unsigned d, f;
	} cases[] = { { 0, 0, 0 }, { 077, 0, 0 }, { 022, 0, 0 }, { 0, 0750, 0640 }, { 077, 0750, 0640 },
		      { 0777, 0711, 0604 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *root = fu_fast_tmpdir("modes");
		char store[4200];
		snprintf(store, sizeof store, "%s/store", root);
		int pfd[2];
		cr_assert_eq(pipe(pfd), 0);
		pid_t pid = fork();
		if (pid == 0) {
			char why[600] = "";
			int rc = modes_child(cases[i].um, cases[i].d, cases[i].f, store, why, sizeof why);
			(void)!write(pfd[1], why, sizeof why);
			_exit(rc ? 1 : 0);
		}
		close(pfd[1]);
		char why[600] = "";
		(void)!read(pfd[0], why, sizeof why);
		close(pfd[0]);
		int status;
		waitpid(pid, &status, 0);
		fu_rm_rf(root);
		free(root);
		printf("hostile[modes]: umask %03o, dir_mode %s%o, file_mode %s%o: %s\n",
		       (unsigned)cases[i].um, cases[i].d ? "" : "default ", cases[i].d ? cases[i].d : 0700,
		       cases[i].f ? "" : "default ", cases[i].f ? cases[i].f : 0600,
		       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "every entry right" : why);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", why);
	}
}

/* ---- read-only opens and varve-dump write nothing ---------------------------------------- */

static void build_rich_store(const char *store)
{
	varve_options o = quiet_opts();
	o.segment_bytes = 2048;
	varve_db *db;
	cr_assert_eq(varve_open(store, &o, &db), 0);
	varve_topic_config c;
	varve_topic_config_init(&c, VARVE_TOPIC_CONFIG_VERSION);
	c.partitions = 2;
	cr_assert_eq(varve_topic_create(db, "plain", &c), 0);
	c.codec = VARVE_CODEC_LZ4;
	cr_assert_eq(varve_topic_create(db, "lz4", &c), 0);
	c.codec = VARVE_CODEC_NONE;
	c.cleanup_policy = VARVE_CLEANUP_COMPACT;
	c.min_cleanable_dirty_ratio = 0;
	cr_assert_eq(varve_topic_create(db, "comp", &c), 0);
	const char *ts[] = { "plain", "lz4", "comp" };
	for (int i = 0; i < 150; i++) {
		fu_rec fr;
		fu_rec_make(&fr, (uint32_t)i, i % 3 == 2 ? 7 : 0, 1700000000000LL + i);
		cr_assert_eq(varve_produce(db, ts[i % 3], &fr.r, NULL, NULL), 0);
	}
	cr_assert_eq(varve_group_commit(db, "g", "plain", 0, 3, "m"), 0);
	cr_assert_eq(varve_clean_now(db, 1), 0);
	cr_assert_eq(varve_close(db), 0);
}

static void read_only_session(const char *store, long *reads, int *write_refusals)
{
	varve_options o = quiet_opts();
	o.read_only = 1;
	varve_db *db;
	int rc = varve_open(store, &o, &db);
	cr_assert_eq(rc, 0, "read-only open: %s", varve_last_error()->message);
	const char *ts[] = { "plain", "lz4", "comp" };
	for (int t = 0; t < 3; t++)
		for (uint32_t p = 0; p < 2; p++) {
			varve_iter *it;
			if (varve_iter_open(db, ts[t], p, 0, &it))
				continue;
			const varve_record *r;
			while (varve_iter_next(it, &r) == 0)
				(*reads)++;
			varve_iter_seek(it, 0);
			varve_iter_close(it);
			int64_t off;
			varve_offset_for_time(db, ts[t], p, 1700000000050LL, &off);
			varve_partition_info pi = { VARVE_PARTITION_INFO_VERSION, 0, 0, 0, 0, 0, 0 };
			varve_partition_info_get(db, ts[t], p, &pi);
		}
	int64_t g;
	varve_group_offset(db, "g", "plain", 0, &g);
	varve_lag lag = { .version = VARVE_LAG_VERSION };
	varve_group_lag(db, "g", "plain", 0, &lag);
	const char *topics[1] = { "plain" };
	varve_consumer *c;
	if (varve_consumer_open(db, "g", topics, 1, NULL, &c) == 0) {
		const varve_msg *m;
		size_t n;
		varve_consumer_poll(c, 0, &m, &n);
		*reads += (long)n;
		*write_refusals += varve_consumer_commit(c) != 0;
		varve_consumer_close(c);
	}
	fu_rec fr;
	fu_rec_make(&fr, 1, 0, 1);
	*write_refusals += varve_produce(db, "plain", &fr.r, NULL, NULL) == VARVE_EREADONLY;
	*write_refusals += varve_topic_create(db, "new", NULL) == VARVE_EREADONLY;
	*write_refusals += varve_topic_delete(db, "plain") == VARVE_EREADONLY;
	*write_refusals += varve_group_commit(db, "g", "plain", 0, 1, NULL) != 0;
	*write_refusals += varve_clean_now(db, 1) == VARVE_EREADONLY;
	*write_refusals += varve_sync(db) == 0; /* a no-op */
	varve_close(db);
}

static void ro_case(int unclean)
{
	char *root = fu_tmpdir("ro");
	char store[4200], live[4200];
	snprintf(live, sizeof live, "%s/live", root);
	snprintf(store, sizeof store, "%s/store", root);
	build_rich_store(live);
	if (unclean) {
		/* a copy taken while open (no CLEAN, stale recovery points), with a
		 * torn tail on one segment */
		varve_options o = quiet_opts();
		varve_db *db;
		cr_assert_eq(varve_open(live, &o, &db), 0);
		fu_rec fr;
		fu_rec_make(&fr, 999, 0, 1700000009999LL);
		varve_produce(db, "plain", &fr.r, NULL, NULL);
		cr_assert_eq(fu_copy_tree(live, store), 0);
		varve_close(db);
		char seg[4400];
		snprintf(seg, sizeof seg, "%s/topics/lz4/1", store);
		int64_t bases[1];
		(void)bases;
		char cmd[4600];
		snprintf(cmd, sizeof cmd, "f=$(ls %s/*.log | tail -1); printf 'VRV1torn-garbage' >> $f", seg);
		cr_assert_eq(system(cmd), 0);
	} else {
		cr_assert_eq(fu_copy_tree(live, store), 0);
	}
	sleep(1); /* mtimes have a visible step if anything writes */
	char *before = fu_tree_listing(store);
	long reads = 0;
	int refusals = 0;
	read_only_session(store, &reads, &refusals);
	read_only_session(store, &reads, &refusals);
	char *mid = fu_tree_listing(store);
	const char *dump = find_dump();
	int dump_runs = 0;
	if (dump) {
		char cmd[9000];
		const char *flags[] = { "", "--verify", "-r -x", "-j --verify" };
		for (int i = 0; i < 4; i++) {
			snprintf(cmd, sizeof cmd, "\"%s\" %s \"%s\" >/dev/null 2>&1", dump, flags[i], store);
			int st = system(cmd);
			dump_runs += WIFEXITED(st) && WEXITSTATUS(st) <= 3;
		}
	}
	char *after = fu_tree_listing(store);
	int ro_same = !strcmp(before, mid), dump_same = !strcmp(mid, after);
	printf("hostile[read-only %s store]: 2 read-only sessions read %ld records, %d write "
	       "attempts refused; tree %s; varve-dump %s (%d runs): tree %s\n",
	       unclean ? "unclean (torn tail)" : "clean", reads, refusals,
	       ro_same ? "unchanged" : "CHANGED", dump ? "ran" : "not built", dump_runs,
	       dump_same ? "unchanged" : "CHANGED");
	if (!ro_same)
		fprintf(stderr, "before:\n%s\nafter read-only opens:\n%s\n", before, mid);
	free(before);
	free(mid);
	free(after);
	fu_rm_rf(root);
	free(root);
	cr_assert(ro_same, "a read-only open changed the store");
	cr_assert(dump_same, "varve-dump changed the store");
	cr_assert(reads > 0);
}

Test(hostile, read_only_open_and_dump_write_nothing_clean) { ro_case(0); }
Test(hostile, read_only_open_and_dump_write_nothing_unclean) { ro_case(1); }

/* ---- racing opens ------------------------------------------------------------------------- */

#define RACERS 4

typedef struct race {
	const char *path;
	pthread_barrier_t *go, *done;
	int rc;
} race;

static void *race_thread(void *arg)
{
	race *r = arg;
	varve_options o = quiet_opts();
	varve_db *db = NULL;
	pthread_barrier_wait(r->go);
	r->rc = varve_open(r->path, &o, &db);
	pthread_barrier_wait(r->done); /* everyone has tried before the winner closes */
	if (db)
		varve_close(db);
	return NULL;
}

static void race_threads(const char *path, int rounds, int fresh, long *wins, long *locked,
			 long *other, int *other_code)
{
	for (int round = 0; round < rounds; round++) {
		char p[4300];
		if (fresh)
			snprintf(p, sizeof p, "%s/fresh%d", path, round);
		else
			snprintf(p, sizeof p, "%s", path);
		pthread_barrier_t go, done;
		pthread_barrier_init(&go, NULL, RACERS);
		pthread_barrier_init(&done, NULL, RACERS);
		race rs[RACERS];
		pthread_t th[RACERS];
		for (int i = 0; i < RACERS; i++) {
			rs[i] = (race){ p, &go, &done, 0 };
			pthread_create(&th[i], NULL, race_thread, &rs[i]);
		}
		int w = 0;
		for (int i = 0; i < RACERS; i++) {
			pthread_join(th[i], NULL);
			if (rs[i].rc == 0)
				w++;
			else if (rs[i].rc == VARVE_ELOCKED)
				(*locked)++;
			else {
				(*other)++;
				*other_code = rs[i].rc;
			}
		}
		if (w != 1)
			(*other) += 1000; /* flag the round */
		*wins += w;
		pthread_barrier_destroy(&go);
		pthread_barrier_destroy(&done);
	}
}

Test(hostile, racing_opens_threads, .timeout = 600)
{
	char *root = fu_fast_tmpdir("race");
	char store[4200];
	snprintf(store, sizeof store, "%s/store", root);
	make_store(store, "t", 3);
	long wins = 0, locked = 0, other = 0;
	int code = 0;
	const long r1 = hostile_n(250), r2 = hostile_n(100);
	race_threads(store, (int)r1, 0, &wins, &locked, &other, &code);
	long cwins = 0, clocked = 0, cother = 0;
	int ccode = 0;
	race_threads(root, (int)r2, 1, &cwins, &clocked, &cother, &ccode);
	fu_rm_rf(root);
	free(root);
	printf("hostile[racing opens, threads]: %ld rounds x %d = %ld opens of one store: %ld "
	       "writers, %ld VARVE_ELOCKED, %ld other; %ld rounds x %d racing creations of a new "
	       "store: %ld writers, %ld VARVE_ELOCKED, %ld other%s%s\n",
	       r1, RACERS, r1 * RACERS, wins, locked, other % 1000, r2, RACERS, cwins, clocked,
	       cother % 1000, cother ? ", e.g. " : "", cother ? fu_code_name(ccode) : "");
	cr_assert(wins == r1 && locked == r1 * (RACERS - 1) && other == 0,
		  "racing opens: %ld writers in %ld rounds, %ld locked, other code %s", wins, r1,
		  locked, fu_code_name(code));
	cr_assert(cwins == r2 && cother == 0,
		  "racing creations of a new store: %ld writers in %ld rounds, %ld failed with "
		  "something else than VARVE_ELOCKED (%s: %s). store.c varve_open: a racer that saw "
		  "no directory and lost the mkdir gets VARVE_EEXISTS",
		  cwins, r2, cother % 1000, fu_code_name(ccode),
		  ccode == VARVE_EEXISTS ? "mkdir lost the race" : "?");
}

Test(hostile, racing_opens_processes, .timeout = 600)
{
	char *root = fu_fast_tmpdir("prace");
	char store[4200];
	snprintf(store, sizeof store, "%s/store", root);
	make_store(store, "t", 3);
	long wins = 0, locked = 0, other = 0, bad_rounds = 0;
	int code = 0;
	const int rounds = (int)hostile_n(250);
	for (int round = 0; round < rounds; round++) {
		int go[2], res[2], fin[2];
		cr_assert_eq(pipe(go), 0);
		cr_assert_eq(pipe(res), 0);
		cr_assert_eq(pipe(fin), 0);
		pid_t pids[RACERS];
		for (int i = 0; i < RACERS; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				close(go[1]);
				close(res[0]);
				close(fin[1]);
				char c;
				(void)!read(go[0], &c, 1); /* wait for the start */
				varve_options o = quiet_opts();
				varve_db *db = NULL;
				int rc = varve_open(store, &o, &db);
				(void)!write(res[1], &rc, sizeof rc);
				(void)!read(fin[0], &c, 1); /* hold until everyone tried */
				if (db)
					varve_close(db);
				_exit(0);
			}
		}
		close(go[0]);
		close(res[1]);
		close(fin[0]);
		close(go[1]); /* EOF releases them all at once */
		int w = 0;
		for (int i = 0; i < RACERS; i++) {
			int rc = 1;
			if (read(res[0], &rc, sizeof rc) != (ssize_t)sizeof rc)
				rc = 999;
			if (rc == 0)
				w++;
			else if (rc == VARVE_ELOCKED)
				locked++;
			else {
				other++;
				code = rc;
			}
		}
		close(fin[1]);
		close(res[0]);
		for (int i = 0; i < RACERS; i++)
			waitpid(pids[i], NULL, 0);
		wins += w;
		bad_rounds += w != 1;
	}
	/* the store is still fine */
	varve_options o = quiet_opts();
	varve_db *db;
	int rc = varve_open(store, &o, &db);
	int64_t end = -1;
	if (rc == 0) {
		varve_offsets(db, "t", 0, NULL, &end);
		varve_close(db);
	}
	fu_rm_rf(root);
	free(root);
	printf("hostile[racing opens, processes]: %d rounds x %d = %d opens: %ld writers, %ld "
	       "VARVE_ELOCKED, %ld other, %ld rounds without exactly one writer; store then opens "
	       "(%s) with its 3 records (end %" PRId64 ")\n",
	       rounds, RACERS, rounds * RACERS, wins, locked, other, bad_rounds, fu_code_name(rc), end);
	cr_assert(bad_rounds == 0 && other == 0, "%ld bad rounds, other code %s", bad_rounds,
		  fu_code_name(code));
	cr_assert(rc == 0 && end == 3);
}
