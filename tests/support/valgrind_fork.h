/* SPDX-License-Identifier: MIT */
/*
 * valgrind_fork.h -- under valgrind memcheck (.ci/valgrind), turn the
 * exit-time leak check off in the processes a test forks.
 *
 * A forked child inherits its parent's whole heap (the parent's open
 * stores, fixtures, Criterion's IPC state) and most children here simulate
 * a crash: they exit or _exit with a store open on purpose. Their leak
 * report would list the parent's live memory, not leaks. Memory errors
 * (invalid reads and writes, uninitialised values, bad frees) are still
 * reported in the child and still make it exit with valgrind's error code.
 * Every process that is not a forked child keeps the full leak check.
 *
 * Included by exactly one source file of each test program (support.c,
 * fault_util.c, crash_util.c); does nothing when valgrind.h is missing or
 * when the program is not running under valgrind.
 */
#ifndef VARVE_TEST_VALGRIND_FORK_H
#define VARVE_TEST_VALGRIND_FORK_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <pthread.h>
#include <valgrind/valgrind.h>
#ifdef VALGRIND_CLO_CHANGE
static void vg_fork_child(void)
{
	if (RUNNING_ON_VALGRIND)
		VALGRIND_CLO_CHANGE("--leak-check=no");
}

__attribute__((constructor)) static void vg_fork_register(void)
{
	pthread_atfork(NULL, NULL, vg_fork_child);
}
#endif
#endif
#endif

#endif
