/* SPDX-License-Identifier: MIT */
/*
 * golden.h -- helpers of the golden-vector tests: the reader of the byte
 * images in tests/golden/vectors/ and a small, independent reader of a
 * segment file of the metadata log.
 *
 * Vector files are text: "#" starts a comment to the end of the line,
 * "[name]" starts a part, everything else is hex, two digits a byte, spaces
 * ignored. A malformed file is a broken test, so the helpers assert
 * (cr_assert) instead of returning errors.
 *
 * The segment reader follows docs/FORMAT.md only (80-byte header, records
 * of varints and blobs, no compression: the metadata log is written
 * without); it shares no code with libvarve, so a reader and a writer that
 * drift the same way cannot agree with it by accident.
 */
#ifndef VARVE_TEST_GOLDEN_H
#define VARVE_TEST_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

/* The bytes of part `part` of vectors/<file>; *len gets their count. The
 * directory comes from VARVE_GOLDEN_DIR (set by tests/golden/meson.build).
 * Free with free(). */
uint8_t *gv_load(const char *file, const char *part, size_t *len);

/* Assert that got[0..got_len) equals want[0..want_len); on a difference
 * the message names the first differing byte offset and both values. */
void gv_assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len,
		     const char *what);

/* Little-endian loads of the test's own, for decoding by hand. */
uint64_t gv_le64(const uint8_t *p);
uint32_t gv_le32(const uint8_t *p);

/* One record of a metadata segment: pointers into the file's bytes. */
typedef struct gv_meta_record {
	int64_t offset;
	const uint8_t *key; /* NULL = null key */
	size_t key_len;
	const uint8_t *value; /* NULL = null value (a delete) */
	size_t value_len;
} gv_meta_record;

typedef struct gv_meta_log {
	uint8_t *bytes; /* the whole segment file */
	size_t len;
	gv_meta_record *recs;
	size_t n;
} gv_meta_log;

/* Read every record of the segment file at path (asserts that each batch
 * is well formed per docs/FORMAT.md, its XXH3-64 checksum included). */
void gv_meta_read(const char *path, gv_meta_log *out);
void gv_meta_free(gv_meta_log *log);
/* The last record whose key is exactly key[0..len), or NULL. */
const gv_meta_record *gv_meta_last(const gv_meta_log *log, const void *key, size_t len);

#endif
