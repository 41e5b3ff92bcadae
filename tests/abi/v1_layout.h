/* SPDX-License-Identifier: MIT */
/*
 * v1_layout.h -- the field layout of the version-1 header (v1_layout.c),
 * for test_abi_table.c. Types only from abi_fields.h: neither varve.h nor
 * varve_v1.h comes with it.
 */
#ifndef V1_LAYOUT_H
#define V1_LAYOUT_H

#include "abi_fields.h"

extern const abi_field abi_v1_layout[];
extern const size_t abi_v1_layout_count;

#endif
