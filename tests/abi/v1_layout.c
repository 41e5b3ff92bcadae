/* SPDX-License-Identifier: MIT */
/*
 * v1_layout.c -- the offset and size of every field of the public structs
 * as a program built against the version-1 header (varve_v1.h) sees them.
 * Linked into test_abi_table, which compares them with today's header. This
 * file must not include varve.h: both headers define the same types.
 */
#include "varve_v1.h"

#include "abi_fields.h"
#include "v1_layout.h"

const abi_field abi_v1_layout[] = { ABI_V1_FIELDS(ABI_FIELD) };
const size_t abi_v1_layout_count = sizeof abi_v1_layout / sizeof abi_v1_layout[0];
