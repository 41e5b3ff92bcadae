/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cli_parse -- the varve command line's value parsers on arbitrary
 * bytes (tools/cli_parse.c): integers, durations ("1h30m", "250ms"), sizes
 * ("10GiB", "1.5 KiB"), times (RFC 3339, epoch ms, "now-1h"), and the
 * formatters of what parses. cli_parse_fuzz_one also checks that a parsed
 * duration formats to text that parses back to the same value.
 */
#include <stddef.h>
#include <stdint.h>

#include "cli_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	return cli_parse_fuzz_one(data, size);
}
