/* SPDX-License-Identifier: MIT */
/*
 * swap.c -- the compaction swap protocol: k consecutive segments of a
 * partition S1..Sk are replaced by one new segment N (base of S1), so that a
 * crash at any point leaves either the old set or the new one, never a mix
 * and never a loss. Compaction (clean/compact.c) only writes N's files;
 * this layer installs them, and open-time recovery finishes or rolls back a
 * swap a crash interrupted.
 *
 *   a. N is written as <b>.log.cleaned / .index.cleaned / .timeindex.cleaned
 *      (each fsynced) and <b>.replaces (the bases of S1..Sk, checksummed,
 *      fsynced); fsync the directory
 *   b. rename the index files to .swap, then the log to .swap: the
 *      <b>.log.swap rename is the commit point; fsync the directory
 *   c. unlink S2..Sk; rename the .swap files over S1's names (log last);
 *      unlink <b>.replaces; fsync the directory
 * On open, vv_swap_recover_dir: a <b>.log.swap means N is complete, so step
 * c is finished; without it, every .cleaned/.swap/.replaces file is removed
 * and S1..Sk are intact. Read-only opens change nothing and read a
 * committed swap as it stands (vv_swap_view).
 *
 * Readers holding S1..Sk keep reading them through open descriptors: the
 * old segments are opened before the swap and marked replaced, so nothing
 * touches their files by name again.
 *
 * May call: log (segment, partition), base.
 */
#include <stdio.h>
#include <xxhash.h>

#include "partition.h"
#include "swap.h"
#include "util.h"

#define REPLACES_MAGIC 0x58525256u /* "VRRX" */

static void sfx_path(char *out, size_t cap, const char *dir, int64_t base, const char *sfx)
{
	vv_segment_path(out, cap, dir, base, sfx);
}

static int parse_prefixed(const char *name, const char *suffix, int64_t *base)
{
	size_t n = strlen(name), sl = strlen(suffix);
	if (n != VV_SEG_NAME_LEN + sl || strcmp(name + VV_SEG_NAME_LEN, suffix))
		return -1;
	char tmp[VV_SEG_NAME_LEN + 5];
	memcpy(tmp, name, VV_SEG_NAME_LEN);
	memcpy(tmp + VV_SEG_NAME_LEN, ".log", 5);
	return vv_segment_parse_name(tmp, base);
}

static int read_replaces(const vv_io_methods *io, const char *dir, int64_t base,
			 int64_t **bases, size_t *n)
{
	char path[4096];
	sfx_path(path, sizeof path, dir, base, ".replaces");
	uint8_t *b;
	size_t len;
	*bases = NULL;
	*n = 0;
	VV_TRY(vv_io_read_small(io, path, 1u << 24, &b, &len));
	int rc = 0;
	uint32_t cnt = len >= 16 ? vv_load32(b + 4) : 0;
	if (len < 16 || vv_load32(b) != REPLACES_MAGIC || len != 8 + (size_t)cnt * 8 + 8 ||
	    vv_load64(b + len - 8) != XXH3_64bits(b, len - 8)) {
		rc = vv_error_set(VARVE_ECORRUPT, 0, "%s is damaged", path);
		goto out;
	}
	*bases = vv_malloc((cnt ? cnt : 1) * sizeof **bases);
	if (!*bases) {
		rc = vv_error_set(VARVE_ENOMEM, 0, "reading %s", path);
		goto out;
	}
	for (uint32_t i = 0; i < cnt; i++)
		(*bases)[i] = (int64_t)vv_load64(b + 8 + i * 8);
	*n = cnt;
out:
	vv_free(b);
	return rc;
}

static void unlink_quiet(const vv_io_methods *io, const char *path)
{
	(void)vv_io_unlink(io, path); /* leftovers: the next open removes them */
	vv_error_clear();
}

/* Step c of the swap: old segments out, new files in (log last). */
static int finish_swap(const vv_io_methods *io, const char *dir, int64_t base,
		       const int64_t *old, size_t nold)
{
	char from[4096], to[4096];
	for (size_t i = 0; i < nold; i++)
		if (old[i] != base)
			vv_segment_unlink_files(io, dir, old[i]);
	static const char *const parts[] = { ".index", ".timeindex", ".log" };
	for (size_t i = 0; i < 3; i++) {
		char sfx[32];
		snprintf(sfx, sizeof sfx, "%s.swap", parts[i]);
		sfx_path(from, sizeof from, dir, base, sfx);
		sfx_path(to, sizeof to, dir, base, parts[i]);
		int rc = vv_io_rename(io, from, to);
		if (rc == VARVE_ENOTFOUND && i < 2) {
			vv_error_clear(); /* already moved before a crash */
			continue;
		}
		VV_TRY(rc);
	}
	VV_TRY(vv_io_sync_dir(io, dir));
	sfx_path(from, sizeof from, dir, base, ".replaces");
	unlink_quiet(io, from);
	return 0;
}

int vv_swap_is_file(const char *name)
{
	size_t l = strlen(name);
	return (l > 8 && !strcmp(name + l - 8, ".cleaned")) ||
	       (l > 5 && !strcmp(name + l - 5, ".swap")) ||
	       (l > 9 && !strcmp(name + l - 9, ".replaces"));
}

/* Finish every committed swap in dir (a <b>.log.swap is a whole new
 * segment). *changed says one was. */
static int finish_committed(const vv_io_methods *io, const char *dir, int *changed)
{
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(io, dir, &names, &n));
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t base;
		if (parse_prefixed(names[i], ".log.swap", &base))
			continue;
		int64_t *old;
		size_t nold;
		if (read_replaces(io, dir, base, &old, &nold)) {
			/* Cannot know what it replaces: keep the old set (no loss). */
			vv_error_clear();
			continue;
		}
		rc = finish_swap(io, dir, base, old, nold);
		vv_free(old);
		*changed = 1;
		if (rc < 0)
			break;
	}
	vv_io_free_list(names, n);
	return rc;
}

int vv_swap_recover_dir(const vv_io_methods *io, const char *dir)
{
	int changed = 0;
	VV_TRY(finish_committed(io, dir, &changed));
	/* Then remove what is left of unfinished ones. */
	char **names;
	size_t n;
	VV_TRY(vv_io_list_dir(io, dir, &names, &n));
	for (size_t i = 0; i < n; i++) {
		if (!vv_swap_is_file(names[i]))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink_quiet(io, path);
		changed = 1;
	}
	vv_io_free_list(names, n);
	if (changed)
		VV_TRY(vv_io_sync_dir(io, dir));
	return 0;
}

/* Read-only view of committed swaps; see swap.h. */
int vv_swap_view(const vv_io_methods *io, const char *dir, int64_t *bases, size_t *n,
		 int64_t **swapped, size_t *nswapped)
{
	char **names;
	size_t nn;
	*swapped = NULL;
	*nswapped = 0;
	VV_TRY(vv_io_list_dir(io, dir, &names, &nn));
	int rc = 0;
	for (size_t i = 0; i < nn; i++) {
		int64_t base, *old;
		size_t nold;
		if (parse_prefixed(names[i], ".log.swap", &base))
			continue;
		if (read_replaces(io, dir, base, &old, &nold)) {
			vv_error_clear(); /* not committed: the old set is whole */
			continue;
		}
		int64_t *grown = vv_realloc(*swapped, (*nswapped + 1) * sizeof *grown);
		if (!grown) {
			vv_free(old);
			rc = vv_error_set(VARVE_ENOMEM, 0, "swap view");
			break;
		}
		*swapped = grown;
		grown[(*nswapped)++] = base;
		/* drop what the new segment replaces; its own base stays or joins */
		size_t k = 0;
		int has_base = 0;
		for (size_t j = 0; j < *n; j++) {
			int gone = 0;
			for (size_t m = 0; m < nold && !gone; m++)
				gone = bases[j] == old[m] && bases[j] != base;
			has_base |= bases[j] == base;
			if (!gone)
				bases[k++] = bases[j];
		}
		if (!has_base)
			bases[k++] = base; /* room: the caller sized bases by directory entries */
		*n = k;
		vv_free(old);
	}
	vv_io_free_list(names, nn);
	if (rc) {
		vv_free(*swapped);
		*swapped = NULL;
		*nswapped = 0;
	}
	return rc;
}

/* Write, fdatasync and close a new file holding buf. */
static int write_synced(const vv_io_methods *io, const char *path, const uint8_t *buf,
			size_t len, unsigned mode)
{
	vv_file *f;
	VV_TRY(vv_io_open(io, path, VV_O_RDWR | VV_O_CREAT | VV_O_TRUNC, mode, &f));
	int rc = vv_io_pwrite(f, buf, len, 0);
	if (rc < 0)
		goto out;
	rc = vv_io_datasync(f);
	if (rc < 0)
		goto out;
	rc = vv_io_close(f);
	f = NULL;
out:
	if (f)
		(void)f->io->close(f); /* the write's failure is the one reported */
	return rc;
}

static int write_replaces(const vv_io_methods *io, const char *dir, int64_t base,
			  vv_segment *const *old, size_t k, unsigned mode)
{
	size_t len = 8 + k * 8 + 8;
	uint8_t *b = vv_malloc(len);
	if (!b)
		return vv_error_set(VARVE_ENOMEM, 0, "compaction");
	vv_store32(b, REPLACES_MAGIC);
	vv_store32(b + 4, (uint32_t)k);
	for (size_t i = 0; i < k; i++)
		vv_store64(b + 8 + i * 8, (uint64_t)old[i]->base);
	vv_store64(b + len - 8, XXH3_64bits(b, len - 8));
	char path[4096];
	sfx_path(path, sizeof path, dir, base, ".replaces");
	int rc = write_synced(io, path, b, len, mode);
	vv_free(b);
	return rc;
}

void vv_swap_new_paths(const char *dir, int64_t base, char *log, char *idx, char *tidx, size_t cap)
{
	sfx_path(log, cap, dir, base, ".log.cleaned");
	sfx_path(idx, cap, dir, base, ".index.cleaned");
	sfx_path(tidx, cap, dir, base, ".timeindex.cleaned");
}

void vv_swap_abandon(const vv_io_methods *io, const char *dir, int64_t base)
{
	vv_error_saved e;
	vv_error_save(&e);
	static const char *const sfx[] = { ".log.cleaned", ".index.cleaned", ".timeindex.cleaned",
					   ".replaces" };
	for (size_t i = 0; i < 4; i++) {
		char path[4096];
		sfx_path(path, sizeof path, dir, base, sfx[i]);
		unlink_quiet(io, path);
	}
	vv_error_restore(&e);
}

static int step(const vv_swap_hook *hook, const char *name)
{
	if (hook && hook->fn && hook->fn(hook->ctx, name))
		return vv_error_set(VARVE_EIO, 0, "compaction stopped at step %s (test hook)", name);
	return 0;
}

/* Steps a (the .replaces file) and b (the renames up to the commit point).
 * Before the commit point a failure leaves the old set whole. */
static int commit_swap(vv_partition *p, vv_segment *const *old, size_t k,
		       const vv_swap_hook *hook)
{
	const vv_io_methods *io = p->cfg.seg.io;
	const char *dir = p->dir;
	int64_t base = old[0]->base;
	int rc = write_replaces(io, dir, base, old, k, p->cfg.seg.file_mode);
	if (rc < 0)
		goto abandon;
	rc = vv_io_sync_dir(io, dir);
	if (rc < 0)
		goto abandon;
	rc = step(hook, "cleaned-written");
	if (rc < 0)
		goto abandon;
	/* Readers of the old segments keep their descriptors from here on. */
	for (size_t i = 0; i < k; i++) {
		rc = vv_segment_open_files(old[i]);
		if (rc < 0)
			goto abandon;
	}
	/* Commit point: index files to .swap, then the log. */
	char from[4096], sp[4096];
	sfx_path(from, sizeof from, dir, base, ".index.cleaned");
	sfx_path(sp, sizeof sp, dir, base, ".index.swap");
	VV_TRY(vv_io_rename(io, from, sp));
	sfx_path(from, sizeof from, dir, base, ".timeindex.cleaned");
	sfx_path(sp, sizeof sp, dir, base, ".timeindex.swap");
	VV_TRY(vv_io_rename(io, from, sp));
	VV_TRY(step(hook, "index-swapped"));
	sfx_path(from, sizeof from, dir, base, ".log.cleaned");
	sfx_path(sp, sizeof sp, dir, base, ".log.swap");
	VV_TRY(vv_io_rename(io, from, sp));
	/* until the swap is done in memory too, the files and the segment
	 * objects disagree: no size list at close (sizes.h) */
	p->sizes_stale = 1;
	VV_TRY(vv_io_sync_dir(io, dir));
	return step(hook, "committed");
abandon:
	vv_swap_abandon(io, dir, base);
	return rc;
}

int vv_swap_install(vv_partition *p, vv_segment *const *old, size_t k, int64_t next_base,
		    uint64_t new_size, int64_t new_max_ts, const vv_swap_hook *hook)
{
	int64_t base = old[0]->base;
	int stale_before = p->sizes_stale;
	/* a failure before the commit point leaves the old set whole; open
	 * cleans up what is left */
	VV_TRY(commit_swap(p, old, k, hook));
	for (size_t i = 0; i < k; i++)
		vv_segment_mark_replaced(old[i]);
	int64_t *bases = vv_malloc(k * sizeof *bases);
	if (!bases)
		return vv_error_set(VARVE_ENOMEM, 0, "compaction");
	for (size_t i = 0; i < k; i++)
		bases[i] = old[i]->base;
	int rc = finish_swap(p->cfg.seg.io, p->dir, base, bases, k);
	vv_free(bases);
	VV_TRY(rc); /* the next open finishes the swap from <b>.log.swap */
	vv_segment *nw;
	VV_TRY(vv_segment_attach(p->dir, base, new_size, &p->cfg.seg, &nw));
	nw->sealed = 1;
	atomic_store(&nw->next_offset, next_base);
	atomic_store(&nw->max_ts, new_max_ts);
	rc = vv_partition_replace(p, old, k, nw);
	if (rc < 0) {
		vv_segment_unref(nw);
		return rc;
	}
	p->sizes_stale = stale_before;
	return 0;
}
