/* SPDX-License-Identifier: MIT */
/*
 * coord.h -- the consumer-group coordinator of `varve serve`: Kafka's classic
 * group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) in memory,
 * plus the views ListGroups / DescribeGroups, DeleteGroups and the member and
 * generation check that OffsetCommit needs. Committed offsets are not kept
 * here: the broker stores them; the coordinator only says whether a commit
 * may go ahead.
 *
 * The model is Kafka's GroupCoordinator / GroupMetadata (states Empty,
 * PreparingRebalance, CompletingRebalance, Stable, Dead). The group leader
 * (a client) computes the assignment; the coordinator only relays member
 * metadata to the leader and the leader's assignment to the members, so every
 * client-side assignor (range, roundrobin, cooperative-sticky) works.
 *
 * Pure logic: no sockets, threads, store or clock. Every call that depends on
 * time takes `now` (milliseconds, any monotonic origin), so tests drive time.
 * It runs on the broker's single event-loop thread and takes no locks.
 *
 * Answers. Heartbeat, LeaveGroup, the commit check and DeleteGroups answer at
 * once (their return value). JoinGroup and SyncGroup answer through a
 * callback, exactly once per call, unless vs_coord_forget() drops it first:
 * either before the call returns, or later from inside another coordinator
 * call (another member's join or sync, a leave, vs_coord_tick). A callback
 * must not call back into the coordinator, except vs_coord_forget (a failed
 * write may close the connection) and vs_coord_group_info / _stats_get;
 * other calls are refused (KE_UNKNOWN_SERVER_ERROR, or nothing done). Every
 * slice a callback receives is borrowed and valid only until it returns.
 *
 * Error style: Kafka error codes (server/protocol/kerrors.h, KE_*), as the
 * matching Kafka response would carry them. Byte strings are vs_slice
 * (server/protocol/kbuf.h); a slice with ptr == NULL is "null", so the broker
 * fills requests straight from its decoded buffers. The coordinator copies
 * whatever it keeps.
 *
 * Limits (vs_coord_config; everything a client can make the coordinator hold
 * is bounded):
 *   group id              <= max_group_id_len bytes (Kafka itself accepts any
 *                         STRING, up to 32767 bytes)     -> INVALID_GROUP_ID
 *   members per group     <= max_group_size (group.max.size); as in Kafka,
 *                         while rebalancing only members that rejoined count
 *                         (old ones are removed when the phase ends, static
 *                         ones only when their session ends), and never more
 *                         than twice that in all -> GROUP_MAX_SIZE_REACHED
 *   ids awaiting a rejoin <= max_group_size per group (MEMBER_ID_REQUIRED)
 *                                                  -> GROUP_MAX_SIZE_REACHED
 *   groups                <= max_groups; an idle Empty group is evicted to
 *                         make room, else         -> COORDINATOR_NOT_AVAILABLE
 *   protocols per member  <= max_protocols                -> INVALID_REQUEST
 *   protocol type / name / group instance id <= VS_COORD_MAX_NAME bytes
 *                                                         -> INVALID_REQUEST
 *   client id, client host: kept cut to VS_COORD_MAX_NAME bytes (at a UTF-8
 *                         boundary); never refused
 *   metadata per member   <= max_metadata_bytes (all its protocols)
 *                                                         -> INVALID_REQUEST
 *   assignment per member <= max_assignment_bytes: the whole generation's
 *                         assignment fails (UNKNOWN_SERVER_ERROR, as Kafka
 *                         answers when it cannot store a group) and the group
 *                         rebalances
 *   bytes held in total   <= max_total_bytes      -> COORDINATOR_NOT_AVAILABLE
 *                         (UNKNOWN_SERVER_ERROR for an assignment)
 */
#ifndef VS_COORD_H
#define VS_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/kbuf.h"

/* Longest protocol type, protocol name, group instance id, kept client id and
 * client host. Generated member ids are "<client id or instance id>-<uuid>",
 * so at most VS_COORD_MAX_NAME + 37 bytes. */
#define VS_COORD_MAX_NAME 255

/* Group states; the names are Kafka's ("Empty", "PreparingRebalance", ...).
 * Dead is only reported for groups the coordinator does not know. */
enum vs_group_state {
	VS_GROUP_EMPTY = 0,
	VS_GROUP_PREPARING_REBALANCE,
	VS_GROUP_COMPLETING_REBALANCE,
	VS_GROUP_STABLE,
	VS_GROUP_DEAD,
	VS_GROUP_STATE_COUNT
};

/* Kafka's name of a state ("Stable"); "" for a value out of range. */
const char *vs_group_state_name(int state);
/* The state named s, compared without case as Kafka's ListGroups filter does;
 * -1 if s names none. */
int vs_group_state_parse(vs_slice s);

/* Every field: 0 (or negative) means the default in brackets. */
typedef struct vs_coord_config {
	int32_t min_session_timeout_ms;     /* [6000] group.min.session.timeout.ms */
	int32_t max_session_timeout_ms;     /* [1800000] group.max.session.timeout.ms */
	int32_t initial_rebalance_delay_ms; /* [0, no delay] group.initial.rebalance.delay.ms */
	int32_t new_member_join_timeout_ms; /* [300000] a new member's held join expires */
	int32_t empty_group_ttl_ms;         /* [600000] an Empty group is forgotten */
	uint32_t max_group_size;            /* [1000] group.max.size */
	uint32_t max_groups;                /* [10000] */
	uint32_t max_group_id_len;          /* [255], at most 32767 */
	uint32_t max_protocols;             /* [32] per member */
	uint32_t max_metadata_bytes;        /* [1 MiB] per member, all protocols */
	uint32_t max_assignment_bytes;      /* [1 MiB] per member */
	uint64_t max_total_bytes;           /* [256 MiB] all groups together */
	uint64_t seed;                      /* [random] member id generator */
} vs_coord_config;

typedef struct vs_coord vs_coord;

/* NULL if out of memory or if the config is inconsistent (minimum session
 * timeout above the maximum). cfg may be NULL (all defaults). */
vs_coord *vs_coord_new(const vs_coord_config *cfg);
/* Frees everything. Held callbacks are dropped without being called. */
void vs_coord_free(vs_coord *c);

/* ---- JoinGroup ----------------------------------------------------------- */

typedef struct vs_join_protocol {
	vs_slice name;
	vs_slice metadata;
} vs_join_protocol;

typedef struct vs_join_req {
	vs_slice group_id;
	vs_slice member_id;         /* "" for a new member */
	vs_slice group_instance_id; /* null: dynamic member (the broker passes
	                               null below JoinGroup v5) */
	vs_slice client_id;
	vs_slice client_host;
	vs_slice protocol_type;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms; /* < 0: same as the session timeout (v0) */
	const vs_join_protocol *protocols; /* preferred first; a repeated name
	                                      counts once (its first entry) */
	size_t protocol_count;
} vs_join_req;

typedef struct vs_join_member {
	vs_slice member_id;
	vs_slice group_instance_id; /* null for a dynamic member */
	vs_slice metadata;          /* for the group's chosen protocol */
} vs_join_member;

typedef struct vs_join_result {
	int16_t error;
	int32_t generation_id;  /* -1 with an error */
	vs_slice protocol_type; /* null with an error (v7+ sends null; older
	                           versions have no such field) */
	vs_slice protocol_name; /* null with an error (write "" below v7) */
	vs_slice leader;        /* "" when none */
	vs_slice member_id;     /* the member's id; the new id with
	                           MEMBER_ID_REQUIRED; "" after some errors */
	int skip_assignment;    /* v9+: the leader must not recompute */
	const vs_join_member *members; /* only for the leader */
	size_t member_count;
} vs_join_result;

typedef void (*vs_join_done)(void *ctx, const vs_join_result *r);

/*
 * JoinGroup of the given request version. Answers through cb(ctx, ...),
 * at once or later (see the top of this file).
 *   - version >= 4 and an empty member id without an instance id: answered at
 *     once with MEMBER_ID_REQUIRED and a fresh id, which the client rejoins
 *     with (KIP-394); below v4 the member is admitted at once.
 *   - otherwise the join starts or joins a rebalance and is held until every
 *     known member has rejoined, the rebalance timeout (the largest of the
 *     members') expires, or a new group's initial delay ends; then every held
 *     join is answered with the new generation.
 *   - a member that rejoins with unchanged metadata in CompletingRebalance,
 *     or a follower doing so in Stable, gets the current generation at once.
 *   - static membership (group_instance_id): a known instance id with an empty
 *     member id takes over the member's slot under a new member id; the old
 *     id is fenced (FENCED_INSTANCE_ID, also for its held join or sync). In
 *     Stable with unchanged metadata this causes no rebalance (answered at
 *     once; below v9 the leader named is the previous leader id so the member
 *     does not reassign; from v9 a rejoining leader gets skip_assignment).
 * Errors answered at once: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT,
 * INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
 * GROUP_MAX_SIZE_REACHED, INVALID_REQUEST, COORDINATOR_NOT_AVAILABLE,
 * UNKNOWN_SERVER_ERROR (out of memory). A held join can still end with
 * UNKNOWN_MEMBER_ID (the member was removed), FENCED_INSTANCE_ID or
 * REBALANCE_IN_PROGRESS (the same member sent a newer JoinGroup).
 */
void vs_coord_join(vs_coord *c, const vs_join_req *req, int16_t version, int64_t now,
		   vs_join_done cb, void *ctx);

/* ---- SyncGroup ----------------------------------------------------------- */

typedef struct vs_sync_assignment {
	vs_slice member_id;
	vs_slice assignment;
} vs_sync_assignment;

typedef struct vs_sync_req {
	vs_slice group_id;
	vs_slice member_id;
	vs_slice group_instance_id; /* null below v3 */
	vs_slice protocol_type;     /* null: not checked (below v5) */
	vs_slice protocol_name;     /* null: not checked (below v5) */
	int32_t generation_id;
	const vs_sync_assignment *assignments; /* the leader's; later entries for
	                                          the same member win */
	size_t assignment_count;
} vs_sync_req;

typedef struct vs_sync_result {
	int16_t error;
	vs_slice protocol_type; /* null with an error */
	vs_slice protocol_name; /* null with an error */
	vs_slice assignment;    /* empty with an error or when the leader gave
	                           this member nothing */
} vs_sync_result;

typedef void (*vs_sync_done)(void *ctx, const vs_sync_result *r);

/*
 * SyncGroup. In CompletingRebalance a follower's sync is held until the
 * leader's arrives; the leader's sync stores the assignment (members it left
 * out get empty bytes), answers every held sync and makes the group Stable.
 * In Stable the member's assignment is answered at once. Errors at once:
 * INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION,
 * INCONSISTENT_GROUP_PROTOCOL, REBALANCE_IN_PROGRESS (PreparingRebalance),
 * INVALID_REQUEST (more assignments than max_group_size). A held sync ends
 * with REBALANCE_IN_PROGRESS if a rebalance starts first, FENCED_INSTANCE_ID,
 * UNKNOWN_MEMBER_ID if the member leaves, or UNKNOWN_SERVER_ERROR if the
 * leader's assignment breaks a limit.
 */
void vs_coord_sync(vs_coord *c, const vs_sync_req *req, int64_t now, vs_sync_done cb,
		   void *ctx);

/* ---- answered at once ---------------------------------------------------- */

/*
 * Heartbeat: NONE in Stable and CompletingRebalance, REBALANCE_IN_PROGRESS in
 * PreparingRebalance (how members learn to rejoin), ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, INVALID_GROUP_ID. Every answer but
 * the errors refreshes the member's session.
 */
int16_t vs_coord_heartbeat(vs_coord *c, vs_slice group_id, vs_slice member_id,
			   vs_slice group_instance_id, int32_t generation_id, int64_t now);

typedef struct vs_leave_member {
	vs_slice member_id;         /* "" with an instance id: remove that static
	                               member (admin tools) */
	vs_slice group_instance_id; /* null if none */
	int16_t error;              /* out */
} vs_leave_member;

/*
 * LeaveGroup of n members (v0-v2 send one; then Kafka answers its error as
 * the top-level error). Returns the top-level error: INVALID_GROUP_ID (every
 * member's error is set to it too) or NONE, with per-member NONE,
 * UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID. A leave starts a rebalance unless
 * the group becomes empty (it then goes Empty, with a new generation, as in
 * Kafka).
 */
int16_t vs_coord_leave(vs_coord *c, vs_slice group_id, vs_leave_member *members, size_t n,
		       int64_t now);

/*
 * May this OffsetCommit go ahead? Kafka's rule (GroupCoordinator
 * validateOffsetCommit + doCommitOffsets):
 *   - generation < 0 on a group that has no members (unknown here, or Empty):
 *     NONE, whatever the member id (simple consumers, admin tools);
 *   - a group unknown here and generation >= 0: ILLEGAL_GENERATION (Kafka
 *     answers GROUP_ID_NOT_FOUND from OffsetCommit v9; the broker maps);
 *   - generation < 0, empty member id, no instance id, on a group with
 *     members: UNKNOWN_MEMBER_ID;
 *   - otherwise the member must be current (UNKNOWN_MEMBER_ID,
 *     FENCED_INSTANCE_ID) and of the current generation (ILLEGAL_GENERATION);
 *     it may commit in Stable and in PreparingRebalance (members commit
 *     while revoking, before they rejoin; the generation has not changed
 *     yet), not in CompletingRebalance (REBALANCE_IN_PROGRESS).
 * An allowed commit by a member refreshes its session. An empty group id is
 * allowed (as Kafka does for commits); an over-long one is INVALID_GROUP_ID.
 */
int16_t vs_coord_commit_check(vs_coord *c, vs_slice group_id, int32_t generation_id,
			      vs_slice member_id, vs_slice group_instance_id, int64_t now);

/* ---- connections and time ------------------------------------------------ */

/*
 * The connection identified by ctx closed: drop every held join or sync
 * callback whose ctx equals it; none of them will be called. The members stay
 * (as in Kafka) but, no longer waiting, they must come back within their
 * session timeout counted from now, else they expire; a rebalance no longer
 * waits for them. Costs nothing while no callback is held anywhere, else a
 * walk over the groups (and the members of those that hold some).
 */
void vs_coord_forget(vs_coord *c, void *ctx, int64_t now);

/*
 * Expire what is due at `now`: member sessions, ids handed out with
 * MEMBER_ID_REQUIRED and never used, rebalance timeouts (members that did not
 * rejoin are removed and the generation completes), the initial delay, the
 * wait for SyncGroup after a generation (members that never synced are
 * removed and a rebalance starts), idle Empty groups. Fires the callbacks
 * that this completes.
 */
void vs_coord_tick(vs_coord *c, int64_t now);

/* When to call vs_coord_tick next: never later than the earliest due event
 * (possibly earlier, then the tick finds nothing to do); -1 if none.
 * Ticking late is harmless (what is due expires at the tick). A due tick
 * walks every group, so a broker with many groups should round its ticks up
 * to a timer granularity (100 ms is plenty for Kafka's timeouts). */
int64_t vs_coord_next_deadline(const vs_coord *c);

/* ---- views and administration ------------------------------------------- */

typedef struct vs_group_overview {
	vs_slice group_id;
	vs_slice protocol_type; /* "" before the first member */
	int state;              /* enum vs_group_state */
} vs_group_overview;

typedef void (*vs_list_fn)(void *ctx, const vs_group_overview *g);

/* ListGroups: calls fn for each known group whose state is one of
 * states[0..nstates) (compared without case; nstates == 0: every group).
 * Returns how many groups it reported. Groups known only to the store (they
 * have offsets but no coordinator state) are the broker's to add, as Empty. */
size_t vs_coord_list(vs_coord *c, const vs_slice *states, size_t nstates, vs_list_fn fn,
		     void *ctx);

typedef struct vs_member_description {
	vs_slice member_id;
	vs_slice group_instance_id; /* null for a dynamic member */
	vs_slice client_id;
	vs_slice client_host;
	vs_slice metadata;   /* empty unless the group is Stable */
	vs_slice assignment; /* empty unless the group is Stable */
} vs_member_description;

typedef struct vs_group_description {
	int known;              /* 0: unknown here; reported as Kafka does, Dead
	                           with no members (v6+ answers GROUP_ID_NOT_FOUND
	                           if the store does not know it either) */
	vs_slice group_id;
	int state;              /* enum vs_group_state */
	vs_slice protocol_type; /* "" if none */
	vs_slice protocol_data; /* the chosen protocol in Stable, else "" */
	const vs_member_description *members;
	size_t member_count;
} vs_group_description;

typedef void (*vs_describe_fn)(void *ctx, const vs_group_description *d);

/* DescribeGroups of one group: calls fn once and returns NONE, or returns
 * INVALID_GROUP_ID (over-long id) or UNKNOWN_SERVER_ERROR (out of memory)
 * without calling it. */
int16_t vs_coord_describe(vs_coord *c, vs_slice group_id, vs_describe_fn fn, void *ctx);

typedef struct vs_group_info {
	int state;              /* enum vs_group_state */
	int32_t generation_id;
	size_t member_count;
	size_t pending_count;   /* ids handed out with MEMBER_ID_REQUIRED */
} vs_group_info;

/* 1 and *out filled if the coordinator knows the group, 0 if not. */
int vs_coord_group_info(const vs_coord *c, vs_slice group_id, vs_group_info *out);

/*
 * DeleteGroups of one group. store_has_group says whether the store holds
 * offsets for it (the broker knows). A group with members (any state but
 * Empty) -> NON_EMPTY_GROUP; an Empty group, or one only the store knows ->
 * NONE, and the coordinator forgets it (the broker then deletes the stored
 * offsets); known to neither -> GROUP_ID_NOT_FOUND; over-long id ->
 * INVALID_GROUP_ID.
 */
int16_t vs_coord_delete(vs_coord *c, vs_slice group_id, int store_has_group);

/* ---- metrics --------------------------------------------------------------- */

typedef struct vs_coord_stats {
	uint64_t groups[VS_GROUP_STATE_COUNT]; /* by state (Dead is always 0) */
	uint64_t group_count;
	uint64_t members;          /* in every group */
	uint64_t pending_members;  /* ids awaiting their rejoin */
	uint64_t bytes_held;       /* ids, names, metadata, assignments */
	uint64_t rebalances;       /* times a group entered PreparingRebalance */
	uint64_t generations;      /* generations completed (Empty ones too) */
	uint64_t expired_sessions; /* members removed by session timeout */
	uint64_t removed_at_rebalance; /* ... by not rejoining or syncing in time */
} vs_coord_stats;

void vs_coord_stats_get(const vs_coord *c, vs_coord_stats *out);

#endif
