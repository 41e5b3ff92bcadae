/* SPDX-License-Identifier: MIT */
/*
 * vanish -- an LD_PRELOAD shim for the tools' end-to-end tests: it plays
 * a writer's retention at the worst moment for a reader, deterministically.
 *
 *   VARVE_TEST_VANISH=t/0/00000000000000000000.log[,SUFFIX...] LD_PRELOAD=.../vanish.so cmd
 *
 * The first time the process opens a file whose path ends with one of the
 * suffixes in the list, the shim first deletes that segment as
 * retention does (the .index and .timeindex, then the .log), then lets the
 * open go ahead, which fails with ENOENT: the segment was listed, and is
 * gone when the reader opens it. Works for opens made by the tool itself
 * and by libvarve under it. Test code only: never installed.
 */
/* Both open and open64 are defined here: with 64-bit file offsets the
 * headers would rename open to open64. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_TRIGGERED 64

static char triggered[MAX_TRIGGERED][64];
static int ntriggered;

/* 1 if path ends with an item of the comma-separated list (at a '/') that
 * has not fired yet. */
static int armed(const char *path)
{
	const char *list = getenv("VARVE_TEST_VANISH");
	size_t n = strlen(path);
	if (!list)
		return 0;
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		int match = l > 0 && l < sizeof triggered[0] && l <= n &&
			    !memcmp(path + n - l, p, l) && (l == n || path[n - l - 1] == '/');
		if (match) {
			for (int i = 0; i < ntriggered; i++)
				if (strlen(triggered[i]) == l && !memcmp(triggered[i], p, l))
					return 0;
			if (ntriggered < MAX_TRIGGERED) {
				memcpy(triggered[ntriggered], p, l);
				triggered[ntriggered++][l] = 0;
			}
			return 1;
		}
		p += l + (comma ? 1 : 0);
	}
	return 0;
}

/* Delete the segment the file belongs to, indexes first, log last. */
static void retire(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	const char *dot = strchr(name, '.');
	size_t stem = dot ? (size_t)(dot - path) : strlen(path);
	static const char *const suffixes[] = { ".index", ".timeindex", ".log" };
	for (int i = 0; i < 3; i++) {
		char p[4096];
		if (snprintf(p, sizeof p, "%.*s%s", (int)stem, path, suffixes[i]) < (int)sizeof p)
			(void)unlink(p);
	}
}

static int forward(const char *sym, const char *path, int flags, mode_t mode)
{
	int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, sym);
	if (!real)
		return -1;
	if (armed(path))
		retire(path);
	return real(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return forward("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return forward("open64", path, flags, mode);
}
