/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cli_json -- the varve command line's JSON reader and writers
 * (tools/cli_json.c) on arbitrary bytes: cj_parse (bounded nesting), a walk
 * that re-encodes every string (cj_write_string, cj_write_base64 for bytes
 * that are not UTF-8), cj_get, cj_base64_decode and cj_utf8_valid.
 */
#include <stddef.h>
#include <stdint.h>

#include "cli_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	return cli_json_fuzz_one(data, size);
}
