/* SPDX-License-Identifier: MIT */
/*
 * harness.h -- helpers for the coordinator's tests: boxes that record what a
 * join or sync callback received (copied, since the coordinator's slices die
 * when the callback returns), request builders, a white-box invariant check
 * over the coordinator's records (coord_int.h), and a simulated client.
 */
#ifndef VS_COORD_HARNESS_H
#define VS_COORD_HARNESS_H

#include <stdint.h>
#include <stddef.h>

#include "coord/coord_int.h"

#define H_STR 512
#define H_MAX_MEMBERS 64

typedef struct join_box {
	int calls;
	int16_t error;
	int32_t generation;
	int skip_assignment;
	int type_null, name_null;
	char member_id[H_STR], leader[H_STR], protocol[H_STR], protocol_type[H_STR];
	size_t member_count;
	char members[H_MAX_MEMBERS][H_STR];
	char instances[H_MAX_MEMBERS][H_STR];
	char metadata[H_MAX_MEMBERS][H_STR];
} join_box;

typedef struct sync_box {
	int calls;
	int16_t error;
	int name_null;
	char protocol[H_STR];
	char assignment[H_STR];
	size_t assignment_len;
} sync_box;

/* Callbacks: ctx is the box. */
void h_on_join(void *ctx, const vs_join_result *r);
void h_on_sync(void *ctx, const vs_sync_result *r);

vs_slice S(const char *z); /* NULL -> null slice */
int slice_is(vs_slice s, const char *z);

/* A join of one protocol ("range", metadata meta) with session 10 s and
 * rebalance 30 s unless changed afterwards. */
vs_join_req h_join_req(const char *group, const char *member_id, const char *client_id);
extern vs_join_protocol h_range[1];

/* Join and return the box (answered or held). */
void h_join(vs_coord *c, const char *group, const char *member_id, int16_t version,
	    int64_t now, join_box *box);
/* A v4+ member: MEMBER_ID_REQUIRED, then the rejoin, held or answered. */
void h_join_v4(vs_coord *c, const char *group, const char *client, int64_t now,
	       join_box *box);

/* Sync; the leader passes its assignments as "member=bytes" pairs. */
void h_sync(vs_coord *c, const char *group, const char *member_id, int32_t gen,
	    const char *const *pairs, size_t npairs, int64_t now, sync_box *box);

/* The coordinator's records are consistent (coord_int.h invariants); fails
 * the running Criterion test otherwise. */
void h_check_invariants(const vs_coord *c);

#endif
