/* SPDX-License-Identifier: MIT */
/*
 * cli_parse.h -- parsing of the values the varve command line accepts:
 * durations, sizes, times, plain integers and comma-separated lists. Pure
 * functions: no I/O, no global state, no allocation, so a fuzz target can
 * call them on any bytes (the input must be NUL-terminated; see
 * cli_parse_fuzz_one).
 *
 * Every parser returns 0 and sets *out, or -1 (and leaves *out untouched)
 * when the text is not valid or the value does not fit.
 *
 *   durations  "500ms" "30s" "5m" "1h" "7d" "2w", compound "1h30m";
 *              units ms, s, m, h, d, w; a bare number is refused except 0
 *   sizes      "512" "4K" "4KB" "4KiB" "1.5G" "10T"; powers of 1024 for every
 *              unit spelling (K = KB = KiB = 1024); case-insensitive
 *   times      RFC 3339 ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00.250+01:00",
 *              'T' may be a space), a date alone ("2026-11-26" = 00:00 UTC),
 *              epoch seconds or milliseconds with their unit ("1795687200s",
 *              "1795687200000ms"), a bare epoch number of milliseconds that
 *              cannot be seconds ("1795687200000", or "0"), "now", "now-1h",
 *              "now+5m"
 *   lists      "a,b,c": the items between commas, empty ones included
 */
#ifndef VARVE_CLI_PARSE_H
#define VARVE_CLI_PARSE_H

#include <stddef.h>
#include <stdint.h>

/** Signed decimal integer (optional leading '-' or '+'). */
int cli_parse_i64(const char *s, int64_t *out);
/** Unsigned decimal integer. */
int cli_parse_u64(const char *s, uint64_t *out);
/** Duration in milliseconds (>= 0). */
int cli_parse_duration_ms(const char *s, int64_t *out);
/** Size in bytes. */
int cli_parse_size(const char *s, uint64_t *out);
/** A bare epoch number below this is taken for seconds, not milliseconds:
 *  10^11 ms is March 1973, 10^11 s is the year 5138. */
#define CLI_TIME_BARE_MIN_MS 100000000000LL
/** cli_parse_time_ms's answer for a bare number below CLI_TIME_BARE_MIN_MS
 *  (other than 0): most likely epoch seconds, so refused. */
#define CLI_TIME_SECONDS (-2)
/** Time as milliseconds since the epoch; now_ms is used by "now[-+D]".
 *  0, -1, or CLI_TIME_SECONDS. */
int cli_parse_time_ms(const char *s, int64_t now_ms, int64_t *out);

/** Next item of a comma-separated list. Start with *cursor = the list.
 *  Returns 1 with *item and *len the bytes up to the next comma or the end
 *  (possibly none), 0 once every item was handed out. "" is one empty
 *  item; "a," is "a" and an empty item. */
int cli_list_next(const char **cursor, const char **item, size_t *len);

/** Days since 1970-01-01 of a proleptic Gregorian date (no range check). */
int64_t cli_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Formatting (always NUL-terminate, truncating to cap). */
/** "1h30m", "250ms", "7d", "0s". */
void cli_format_duration(int64_t ms, char *buf, size_t cap);
/** "1023 B", "1.5 KiB", "10.0 GiB". */
void cli_format_size(uint64_t bytes, char *buf, size_t cap);
/** RFC 3339 UTC with milliseconds: "2026-11-26T10:00:00.000Z". */
void cli_format_time(int64_t ms, char *buf, size_t cap);

/** Fuzz entry point: runs every parser (and formats what parses) on
 *  data[0..size), copied and NUL-terminated. Returns 0; must never crash. */
int cli_parse_fuzz_one(const uint8_t *data, size_t size);

#endif
