/* SPDX-License-Identifier: MIT */
/*
 * coord_int.h -- the coordinator's records, shared by its three files:
 *   group.c   storage: owned strings, protocol sets, members, groups, the
 *             group table, member ids, byte accounting, protocol voting
 *   coord.c   the state machine (join, sync, heartbeat, leave, expiry)
 *   views.c   ListGroups, DescribeGroups, DeleteGroups, info, metrics
 * Not for the broker: it uses coord.h only.
 *
 * Invariants (checked by the tests after every step of a random run):
 *   - a group's members array holds each member once, in join order; leader
 *     is one of them, or NULL only when there are none;
 *   - the protocols of all members share at least one name (a join that
 *     would break this is refused), so a vote always has a winner;
 *   - a member holds a join callback only in PreparingRebalance and a sync
 *     callback only in CompletingRebalance; a callback is cleared before it
 *     runs, so none runs twice;
 *   - c->bytes_held is the sum of every group's and member's accounted bytes;
 *   - every group's lb and c->lb are at most the earliest deadline they
 *     cover (a lower bound: ticks may find nothing due, never miss a
 *     deadline).
 */
#ifndef VS_COORD_INT_H
#define VS_COORD_INT_H

#include "coord.h"
#include "protocol/kerrors.h"

#define VS_NEVER INT64_MAX

/* A copied byte string: p == NULL means null; a non-null one is NUL-ended
 * (p[len] == 0) so "" is never confused with null. */
typedef struct vs_own {
	uint8_t *p;
	size_t len;
} vs_own;

int vs_own_set(vs_own *o, vs_slice s); /* 0, or -1 out of memory (o kept) */
void vs_own_free(vs_own *o);
static inline vs_slice vs_own_slice(vs_own o) { return (vs_slice){ o.p, o.len }; }
int vs_own_eq(vs_own o, vs_slice s); /* same bytes, both non-null */
int vs_slice_same(vs_slice a, vs_slice b); /* same bytes (null == "") */

/* A member's protocols, preferred first, names unique: one allocation. */
typedef struct vs_protoset {
	size_t n;
	size_t bytes; /* names + metadata */
	struct vs_proto {
		vs_slice name, metadata;
	} p[];
} vs_protoset;

/* Copy protocols (first of each name wins). KE_NONE, INVALID_REQUEST past a
 * limit, INCONSISTENT_GROUP_PROTOCOL for none, UNKNOWN_SERVER_ERROR. */
int16_t vs_protoset_new(const vs_join_protocol *p, size_t n, uint32_t max_protocols,
			uint32_t max_metadata_bytes, vs_protoset **out);
int vs_protoset_find(const vs_protoset *ps, vs_slice name); /* index or -1 */
int vs_protoset_eq(const vs_protoset *a, const vs_protoset *b);

typedef struct vs_member {
	vs_own id;
	vs_own instance_id; /* null for a dynamic member */
	vs_own client_id, client_host;
	int32_t session_timeout_ms, rebalance_timeout_ms;
	vs_protoset *protos;
	vs_own assignment;  /* null = empty */
	int64_t deadline;   /* session end (see coord.c expired()) */
	int is_new;         /* admitted, no generation yet */
	int pending_sync;   /* in the generation, has not sent SyncGroup */
	vs_join_done join_cb;
	void *join_ctx;
	vs_sync_done sync_cb;
	void *sync_ctx;
	size_t bytes;       /* accounted in c->bytes_held */
} vs_member;

typedef struct vs_pending {
	vs_own id;
	int64_t deadline;
} vs_pending;

typedef struct vs_group {
	struct vs_group *next; /* hash chain */
	uint64_t hash;
	vs_own id;
	int state;
	int32_t generation;
	/* Inline, so completing a generation never allocates; both were
	 * checked against VS_COORD_MAX_NAME when a member brought them. */
	uint8_t protocol_type[VS_COORD_MAX_NAME + 1];
	size_t protocol_type_len;
	int has_protocol_type;
	uint8_t protocol_name[VS_COORD_MAX_NAME + 1];
	size_t protocol_name_len;
	int has_protocol_name;
	vs_member **members;
	size_t nmembers, members_cap;
	vs_member *leader;
	vs_pending *pending;
	size_t npending, pending_cap;
	int64_t rebalance_deadline; /* PreparingRebalance: end of the join phase */
	int delay_phase;            /* ... still in the initial delay */
	int new_member_added;       /* ... a member came during this delay */
	int64_t delay_remaining_ms; /* ... how much longer it may be extended */
	int64_t sync_deadline;      /* end of the wait for SyncGroup, or NEVER */
	int64_t state_since;
	int64_t lb;                 /* no deadline of this group is earlier */
	size_t bytes;               /* the group's own accounted bytes */
	size_t held;                /* callbacks its members hold */
} vs_group;

struct vs_coord {
	vs_coord_config cfg; /* defaults filled in */
	vs_group **buckets;
	size_t nbuckets, ngroups;
	uint64_t hash_key;
	uint64_t rng;
	uint64_t bytes_held;
	int64_t lb;          /* no deadline of any group is earlier */
	int in_callback;
	size_t held;         /* callbacks held in all groups */
	/* Leader's member list and DescribeGroups rows; grown when a member is
	 * admitted so completing a generation never allocates. */
	vs_join_member *join_rows;
	vs_member_description *desc_rows;
	size_t rows_cap;
	vs_coord_stats stats; /* counters; the gauges are computed on demand */
};

/* ---- group.c -------------------------------------------------------------- */

vs_group *vs_group_find(const vs_coord *c, vs_slice id);
/* A new Empty group (id checked by the caller); NULL out of memory. */
vs_group *vs_group_create(vs_coord *c, vs_slice id, int64_t now);
/* Unlink and free a group; its held callbacks are dropped, not called. */
void vs_group_destroy(vs_coord *c, vs_group *g);
/* The Empty group, with no pending ids, idle longest; NULL if none. */
vs_group *vs_group_evictable(const vs_coord *c);

vs_member *vs_group_member(const vs_group *g, vs_slice id, size_t *index);
vs_member *vs_group_static(const vs_group *g, vs_slice instance_id);
/* Take m out of g's array and free it (no callbacks are called; the caller
 * answers them first). Picks the first remaining member as leader if m led. */
void vs_group_drop_member(vs_coord *c, vs_group *g, size_t index);
/* Add m (already built and accounted) at the end; -1 out of memory. */
int vs_group_add_member(vs_coord *c, vs_group *g, vs_member *m);

int vs_group_find_pending(const vs_group *g, vs_slice id); /* index or -1 */
int vs_group_add_pending(vs_coord *c, vs_group *g, vs_own *id, int64_t deadline);
void vs_group_drop_pending(vs_coord *c, vs_group *g, size_t index);

/* A new member record; its id is taken from *id (left null). NULL when out of
 * memory (nothing taken). */
vs_member *vs_member_new(vs_own *id, const vs_join_req *req, vs_protoset *protos);
void vs_member_free(vs_member *m);
/* Recompute m->bytes and c->bytes_held after m changed. */
void vs_member_account(vs_coord *c, vs_member *m);
size_t vs_member_size(const vs_member *m);

/* "<prefix>-<uuid>", unique among g's members and pending ids. -1 if out of
 * memory. The prefix is cut to VS_COORD_MAX_NAME bytes. */
int vs_member_id_new(vs_coord *c, const vs_group *g, vs_slice prefix, vs_own *out);
/* s cut to at most max bytes without splitting a UTF-8 sequence. */
vs_slice vs_utf8_cut(vs_slice s, size_t max);

/* Would a member with these protocols fit the group (Kafka's
 * supportsProtocols)? Members other than `self` must all support one of them;
 * the type must match the group's unless the group has no members. */
int vs_group_supports(const vs_group *g, vs_slice protocol_type, const vs_protoset *ps,
		      const vs_member *self);
/* The vote: each member names its most preferred protocol that every member
 * supports; most votes wins, ties go to the first member's preference. -1
 * if there is no common protocol (never, given the invariant). */
int vs_group_select_protocol(const vs_group *g, vs_slice *out);

/* Largest rebalance timeout of the members (0 with none). */
int32_t vs_group_rebalance_timeout(const vs_group *g);

/* Make room for the leader's member list (rows_cap >= n); -1 out of memory. */
int vs_coord_rows_reserve(vs_coord *c, size_t n);

/* Note a deadline: lowers g->lb and c->lb. */
void vs_coord_arm(vs_coord *c, vs_group *g, int64_t deadline);
/* now + ms without overflow. */
int64_t vs_deadline_after(int64_t now, int64_t ms);

#endif
