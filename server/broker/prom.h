/* SPDX-License-Identifier: MIT */
/*
 * prom.h -- writing the Prometheus text exposition format (version 0.0.4)
 * into a vs_wbuf: family headers, samples with labels, numbers.
 *
 * Label values are escaped as the format requires (backslash, double quote
 * and newline) and made valid UTF-8 (an invalid byte becomes U+FFFD), so
 * any group id or topic name can be a label value. Metric and label names
 * are the caller's constants.
 *
 * Use: vs_prom_family once per metric family, then for each sample
 * vs_prom_sample, any number of vs_prom_label, and one vs_prom_value_*.
 * Writer errors (out of memory) stay in the wbuf's err.
 */
#ifndef VS_BROKER_PROM_H
#define VS_BROKER_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/kbuf.h"

typedef struct vs_prom {
	vs_wbuf *w;
	int labels; /* labels written for the current sample */
} vs_prom;

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void vs_prom_family(vs_prom *p, const char *name, const char *type, const char *help);
void vs_prom_sample(vs_prom *p, const char *name);
void vs_prom_label(vs_prom *p, const char *key, const void *value, size_t len);
void vs_prom_label_z(vs_prom *p, const char *key, const char *value);
void vs_prom_label_i64(vs_prom *p, const char *key, int64_t value);
void vs_prom_value_u64(vs_prom *p, uint64_t v);
void vs_prom_value_i64(vs_prom *p, int64_t v);
/* Finite values in the shortest of %.15g and %.17g that is exact; NaN and infinities as Prometheus spells them. */
void vs_prom_value_f(vs_prom *p, double v);

/* One whole sample without labels. */
void vs_prom_u64(vs_prom *p, const char *name, uint64_t v);

#endif
