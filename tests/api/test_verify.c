/* SPDX-License-Identifier: MIT */
/*
 * API: when batch checksums are checked. By default a batch's XXH3 is checked
 * the first time it is read and remembered for the life of the segment in
 * this open store (verify_every_read = 0); verify_every_read = 1 checks every
 * read, and read-only handles always check every read. The bytes of a batch
 * are changed behind the store's back after a first read to tell the modes
 * apart.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "varve.h"

TestSuite(verify, .init = t_setup, .fini = t_teardown, .timeout = 60);

#define NBIG 400 /* records in the big batch: about 50 KB, past the 4 KiB "big" mark */

/* A store of 5 small batches (offsets 0..4), a big one (5..NBIG+4) and 5
 * small ones again. Uncompressed, the big batch has a record map. */
static const char *make_store(uint64_t *big_value_pos, int codec)
{
	const char *path = t_newpath("store");
	varve_options o = t_opts();
	varve_db *db = t_open(path, &o);
	t_topic(db, "t", 1, codec);
	static char vals[NBIG][100];
	static varve_record recs[NBIG];
	for (int i = 0; i < NBIG; i++) {
		t_fill(vals[i], sizeof vals[i], (uint64_t)i); /* LZ4 leaves it big too */
		recs[i] = t_rec(NULL, 0, vals[i], sizeof vals[i]);
		recs[i].partition = 0;
	}
	for (int i = 0; i < 5; i++)
		t_produce_to(db, "t", 0, NULL, "small", VARVE_TIMESTAMP_NOW);
	t_ok(varve_produce_batch(db, "t", recs, NBIG, NULL));
	cr_assert_eq(recs[0].offset, 5);
	for (int i = 0; i < 5; i++)
		t_produce_to(db, "t", 0, NULL, "small", VARVE_TIMESTAMP_NOW);
	t_close(db);
	/* a byte inside the value of the big batch's last record */
	const char *log = t_seg_path(path, "t", 0, 0, ".log");
	uint64_t pos[16], end;
	size_t nb = t_batch_positions(log, pos, 16, &end);
	cr_assert_eq(nb, 11, "batches: %zu", nb);
	/* the records end before the batch's record map, if it has one */
	FILE *f = fopen(log, "rb");
	uint8_t hdr[80];
	cr_assert(f && fseek(f, (long)pos[5], SEEK_SET) == 0 && fread(hdr, 1, 80, f) == 80);
	fclose(f);
	uint32_t records_size = (uint32_t)hdr[36] | (uint32_t)hdr[37] << 8 |
				(uint32_t)hdr[38] << 16 | (uint32_t)hdr[39] << 24;
	*big_value_pos = pos[5] + 80 + records_size - 10;
	return path;
}

/* Read every record from `from`; the first error (or VARVE_EEND). */
static int read_all(varve_db *db, int64_t from, int64_t *count)
{
	varve_iter *it;
	int rc = varve_iter_open(db, "t", 0, from, &it);
	if (rc)
		return rc;
	const varve_record *r;
	*count = 0;
	while ((rc = varve_iter_next(it, &r)) == 0)
		(*count)++;
	varve_iter_close(it);
	return rc;
}

static void corrupt_after_first_read(int every_read, int read_only, int64_t from, int want_rc,
				     int codec)
{
	uint64_t at;
	const char *path = make_store(&at, codec);
	varve_options o = t_opts();
	o.verify_every_read = every_read;
	o.read_only = read_only;
	varve_db *db = t_open(path, &o);
	int64_t n;
	t_assert_rc(read_all(db, from, &n), VARVE_EEND);
	cr_assert_eq(n, NBIG + 10 - from);
	t_flip(t_seg_path(path, "t", 0, 0, ".log"), at, 0x01);
	int rc = read_all(db, from, &n);
	cr_assert_eq(rc, want_rc, "every_read=%d read_only=%d from=%" PRId64 ": rc %d (%s)",
		     every_read, read_only, from, rc, varve_last_error()->message);
	if (want_rc == VARVE_ECORRUPT)
		cr_assert(strstr(varve_last_error()->message, "checksum") != NULL, "%s",
			  varve_last_error()->message);
	t_close(db);
	/* the marks live in memory only: a new handle checks again */
	o.verify_every_read = 0;
	o.read_only = 0;
	db = t_open(path, &o);
	t_assert_rc(read_all(db, from, &n), VARVE_ECORRUPT);
	t_close(db);
}

/* Default: a sequential replay checks each batch once. */
Test(verify, once_by_default_sequential)
{
	corrupt_after_first_read(0, 0, 0, VARVE_EEND, VARVE_CODEC_NONE);
}

/* Default: a read starting inside the big batch (no contiguous mark from
 * byte 0) is remembered one big batch at a time (a compressed batch: no
 * record map). */
Test(verify, once_by_default_random)
{
	corrupt_after_first_read(0, 0, NBIG / 2, VARVE_EEND, VARVE_CODEC_LZ4);
}

/* A read starting inside a batch with a record map checks the map and the
 * chunks it reads, and remembers them as it does whole batches. */
Test(verify, once_by_default_random_record_map)
{
	corrupt_after_first_read(0, 0, NBIG / 2, VARVE_EEND, VARVE_CODEC_NONE);
}

Test(verify, every_read_sequential)
{
	corrupt_after_first_read(1, 0, 0, VARVE_ECORRUPT, VARVE_CODEC_NONE);
}

Test(verify, every_read_random)
{
	corrupt_after_first_read(1, 0, NBIG / 2, VARVE_ECORRUPT, VARVE_CODEC_NONE);
}

/* A read-only handle follows a writer that may cut and rewrite a tail. */
Test(verify, read_only_checks_every_read)
{
	corrupt_after_first_read(0, 1, 0, VARVE_ECORRUPT, VARVE_CODEC_NONE);
}

/* Corruption present before the first read is always caught. */
Test(verify, first_read_is_checked)
{
	uint64_t at;
	const char *path = make_store(&at, VARVE_CODEC_NONE);
	t_flip(t_seg_path(path, "t", 0, 0, ".log"), at, 0x80);
	varve_options o = t_opts();
	varve_db *db = t_open(path, &o);
	int64_t n;
	t_assert_rc(read_all(db, NBIG / 2, &n), VARVE_ECORRUPT);
	t_assert_rc(read_all(db, 0, &n), VARVE_ECORRUPT);
	cr_assert_eq(n, 5);
	/* the batches after it are fine and stay readable */
	t_assert_rc(read_all(db, NBIG + 5, &n), VARVE_EEND);
	cr_assert_eq(n, 5);
	t_close(db);
}
