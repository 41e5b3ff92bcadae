/* SPDX-License-Identifier: MIT */
/* exports_bad.c -- a library for test_check_exports.sh: leaks two symbols. */
int varve_fake_answer(void);
int leaky_helper(void);
extern int leaky_counter;

int leaky_counter = 1;

int leaky_helper(void) { return 42; }

int varve_fake_answer(void) { return leaky_helper() + leaky_counter; }
