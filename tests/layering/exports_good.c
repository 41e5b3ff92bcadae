/* SPDX-License-Identifier: MIT */
/* exports_good.c -- a library for test_check_exports.sh: only varve_ symbols. */
int varve_fake_answer(void);
extern int varve_fake_counter;

int varve_fake_counter = 1;

static int helper(void) { return 42; }

int varve_fake_answer(void) { return helper() + varve_fake_counter; }
