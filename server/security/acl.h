/* SPDX-License-Identifier: MIT */
/*
 * acl.h -- permissions of `varve serve` (docs/SECURITY.md, "Permissions"):
 * Kafka's ACL model, the matcher that decides a request, and the ACL file
 * of a store (<store>/acls) that the broker, its Kafka ACL APIs and
 * `varve acl` all read and write through this module.
 *
 * The model is Kafka's (AclBinding): an ACL allows or denies one principal
 * ("User:alice", or "User:*" for every user), from one host (an IP address,
 * or "*"), one operation on one resource pattern: a resource type (topic,
 * group, cluster), a name, and how the name matches (literal: the name
 * itself, "*" meaning every resource of the type; prefixed: every name that
 * starts with it). The enum values below are Kafka's wire values.
 *
 * Deciding (vs_acl_authorize), as Kafka's AclAuthorizer does (on a sorted
 * set it looks only at the ACLs of the name, of "*" and the prefixed ones
 * of the type, found by binary search):
 *   - no ACL at all: allowed (a store without ACLs is open);
 *   - else a DENY that matches (its operation, or ALL) wins;
 *   - else an ALLOW that matches allows; READ, WRITE, DELETE and ALTER
 *     imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS, ALL is every
 *     operation;
 *   - else denied (deny by default once any ACL exists).
 *
 * The file: text, one ACL per line, seven fields separated by blanks:
 *   PERMISSION PRINCIPAL HOST OPERATION RESOURCE PATTERN NAME
 *   allow User:alice * read topic literal orders
 * Fields are percent-encoded (bytes below '!' or above '~', and '%' and '#',
 * as %XX), so a principal or a group id with blanks or odd bytes survives;
 * '#' starts a comment line. It is written atomically (a temporary file,
 * fsync, rename, fsync of the directory) with mode 0600; writers take an
 * flock on <file>.lock first, so the server and the CLI never lose each
 * other's changes. Readers need no lock: they see the old or the new file.
 *
 * Everything here is plain data and libc: no broker, no store, no globals.
 * A set belongs to one thread at a time. Hostile input (the wire, the file)
 * is checked before it becomes an ACL; strings never hold a NUL byte.
 */
#ifndef VS_ACL_H
#define VS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol/kbuf.h"

/* Kafka's ResourceType. */
enum {
	VS_RES_UNKNOWN = 0,
	VS_RES_ANY = 1, /* filters only */
	VS_RES_TOPIC = 2,
	VS_RES_GROUP = 3,
	VS_RES_CLUSTER = 4,
	VS_RES_TRANSACTIONAL_ID = 5,
	VS_RES_DELEGATION_TOKEN = 6,
	VS_RES_USER = 7
};

/* Kafka's PatternType. */
enum {
	VS_PAT_UNKNOWN = 0,
	VS_PAT_ANY = 1,   /* filters: any pattern, name compared exactly */
	VS_PAT_MATCH = 2, /* filters: the patterns that would apply to the name */
	VS_PAT_LITERAL = 3,
	VS_PAT_PREFIXED = 4
};

/* Kafka's AclOperation. */
enum {
	VS_OP_UNKNOWN = 0,
	VS_OP_ANY = 1, /* filters only */
	VS_OP_ALL = 2,
	VS_OP_READ = 3,
	VS_OP_WRITE = 4,
	VS_OP_CREATE = 5,
	VS_OP_DELETE = 6,
	VS_OP_ALTER = 7,
	VS_OP_DESCRIBE = 8,
	VS_OP_CLUSTER_ACTION = 9,
	VS_OP_DESCRIBE_CONFIGS = 10,
	VS_OP_ALTER_CONFIGS = 11,
	VS_OP_IDEMPOTENT_WRITE = 12,
	VS_OP_CREATE_TOKENS = 13,
	VS_OP_DESCRIBE_TOKENS = 14
};

/* Kafka's AclPermissionType. */
enum {
	VS_PERM_UNKNOWN = 0,
	VS_PERM_ANY = 1, /* filters only */
	VS_PERM_DENY = 2,
	VS_PERM_ALLOW = 3
};

/* The one cluster resource's name, and the wildcards. */
#define VS_ACL_CLUSTER_NAME "kafka-cluster"
#define VS_ACL_WILDCARD "*"
#define VS_ACL_ANY_USER "User:*"
/* Bounds on what a set holds: bytes of a principal, host or name; ACLs;
 * bytes of the file. */
#define VS_ACL_MAX_FIELD 1024
#define VS_ACL_MAX_COUNT 100000
#define VS_ACL_MAX_FILE ((size_t)64 << 20)

/* A host: any ("*"), or an IPv4 or IPv6 address (an IPv4-mapped IPv6
 * address is its IPv4 address), compared as bytes. */
typedef struct vs_acl_addr {
	uint8_t family; /* 0 any, 4, 6 */
	uint8_t a[16];
} vs_acl_addr;

/* "*", or an address in any form inet_pton takes; 0, or -1. */
int vs_acl_addr_parse(const char *s, size_t len, vs_acl_addr *out);
/* The address of a peer "ip:port" or "[ip]:port"; 0, or -1. */
int vs_acl_addr_of_peer(const char *peer, vs_acl_addr *out);

/* One ACL: owned strings, no NUL inside; name_len is strlen(name). */
typedef struct vs_acl {
	int8_t permission, operation, resource_type, pattern;
	char *principal, *host, *name;
	size_t name_len;
	vs_acl_addr addr; /* host, parsed */
} vs_acl;

typedef struct vs_acl_set {
	vs_acl *v;
	size_t n, cap;
	bool sorted; /* by vs_acl_set_sort, and since: decisions use binary search */
} vs_acl_set;

/* An ACL or a filter as a request or the command line gives it (Kafka's
 * AclBinding and AclBindingFilter). In a filter, a null slice (ptr NULL)
 * and the ANY values match anything. */
typedef struct vs_acl_binding {
	int8_t resource_type, pattern;
	vs_slice name;
	vs_slice principal, host;
	int8_t operation, permission;
} vs_acl_binding;

/* ---- names ------------------------------------------------------------------ */

/* Lower-case names ("read", "describe_configs", "topic", "prefixed",
 * "allow"); "unknown" for a value without one. */
const char *vs_acl_op_name(int op);
const char *vs_acl_resource_name(int type);
const char *vs_acl_pattern_name(int pattern);
const char *vs_acl_permission_name(int permission);
/* The value of a name, ignoring case, '-' and '_' ("DescribeConfigs",
 * "describe-configs"); -1 if none. Filter-only values ("any", "match") are
 * parsed too. */
int vs_acl_op_parse(const char *s);
int vs_acl_resource_parse(const char *s);
int vs_acl_pattern_parse(const char *s);
int vs_acl_permission_parse(const char *s);
/* 1 if op means something on resources of type (Kafka's operations per
 * resource type: topic read, write, create, delete, alter, describe,
 * describe_configs, alter_configs; group read, describe, delete; cluster
 * create, alter, describe, cluster_action, describe_configs,
 * alter_configs, idempotent_write; all on each). */
int vs_acl_op_applies(int op, int type);

/* ---- checking ------------------------------------------------------------------ */

/* 0 if b can be stored as an ACL: a topic, group or cluster resource, a
 * literal or prefixed pattern (cluster: literal "kafka-cluster"), a
 * non-empty name, a principal "User:NAME", a host "*" or an IP address,
 * an operation that applies to the type, allow or deny, every string at
 * most VS_ACL_MAX_FIELD bytes without NUL. Else -1 and why in msg. */
int vs_acl_binding_check(const vs_acl_binding *b, char *msg, size_t cap);
/* 0 if f is a filter Kafka accepts (no UNKNOWN value, every value known),
 * else -1 and why. */
int vs_acl_filter_check(const vs_acl_binding *f, char *msg, size_t cap);
/* 1 if the filter matches the ACL (Kafka's AclBindingFilter.matches). */
bool vs_acl_filter_matches(const vs_acl_binding *f, const vs_acl *a);
/* The ACL as a binding (slices into a). */
vs_acl_binding vs_acl_as_binding(const vs_acl *a);

/* ---- sets ------------------------------------------------------------------------ */

void vs_acl_set_init(vs_acl_set *s);
void vs_acl_set_free(vs_acl_set *s);
/* Append a checked binding (vs_acl_binding_check): 0, -ENOMEM, or -E2BIG
 * past VS_ACL_MAX_COUNT. The set is unsorted after it, and may hold the
 * ACL twice until vs_acl_set_sort. */
int vs_acl_set_add(vs_acl_set *s, const vs_acl_binding *b);
/* Sort into the file's order (resource type, pattern, name, principal,
 * host, operation, permission) and drop duplicates. */
void vs_acl_set_sort(vs_acl_set *s);
/* 1 if the sorted set holds exactly this ACL (binary search), else 0. */
int vs_acl_set_contains(const vs_acl_set *s, const vs_acl_binding *b);
/* Remove every ACL that matches one of the n filters (order kept); the
 * count removed. */
size_t vs_acl_set_remove(vs_acl_set *s, const vs_acl_binding *filters, size_t n);
/* Move src into dst (dst's old ACLs are freed; src is left empty). */
void vs_acl_set_move(vs_acl_set *dst, vs_acl_set *src);

/* ---- deciding ---------------------------------------------------------------------- */

/* May principal, from host, do op on the resource (type, name[0..len))?
 * true or false as described at the top. name may hold any bytes. */
bool vs_acl_authorize(const vs_acl_set *s, const char *principal, const vs_acl_addr *host, int op,
		      int type, const uint8_t *name, size_t len);
/* May principal do op on some resource of type: an ALLOW of op (or ALL)
 * on some pattern of the type that no DENY covers whole (Kafka's
 * authorizeByResourceType; InitProducerId asks it for WRITE on a topic).
 * true with no ACL at all. */
bool vs_acl_authorize_any(const vs_acl_set *s, const char *principal, const vs_acl_addr *host,
			  int op, int type);

/* ---- the file --------------------------------------------------------------------- */

/* Parse a file's text into out (empty first). 0, or -1 with "line N: why"
 * in msg (out is then empty); -ENOMEM. Duplicate lines are kept once. */
int vs_acl_parse(const char *text, size_t len, vs_acl_set *out, char *msg, size_t cap);
/* One ACL as a line of the file, without the newline, into buf; the
 * length, or -1 if it does not fit (a line is at most
 * VS_ACL_LINE_MAX bytes with the NUL). */
#define VS_ACL_LINE_MAX (3 * 3 * VS_ACL_MAX_FIELD + 64)
int vs_acl_format_line(const vs_acl *a, char *buf, size_t cap);
/* The whole file (a header comment, then the set sorted): malloc'd text
 * in *out, its length in *len. 0 or -ENOMEM. The set is sorted. */
int vs_acl_format(vs_acl_set *s, char **out, size_t *len);

/* What a file was when read: a change of any field means it changed. */
typedef struct vs_acl_stamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns, ctime_ns;
} vs_acl_stamp;

/* Stat path: 0 (a missing file is a stamp with exists false), or -errno. */
int vs_acl_stamp_get(const char *path, vs_acl_stamp *st);
bool vs_acl_stamp_eq(const vs_acl_stamp *a, const vs_acl_stamp *b);

/* Read and parse the file (a missing file is an empty set) into out, and
 * its stamp (of the bytes read). 0, or -1 with why in msg (out empty). */
int vs_acl_load(const char *path, vs_acl_set *out, vs_acl_stamp *stamp, char *msg, size_t cap);
/* Write the set as the file, atomically, mode 0600 (the set is sorted).
 * 0, or -1 with why in msg. */
int vs_acl_save(const char *path, vs_acl_set *s, char *msg, size_t cap);
/* Take the writers' lock (<path>.lock, flock, waiting for it): a
 * descriptor to give to vs_acl_unlock, or -1 with why in msg. */
int vs_acl_lock(const char *path, char *msg, size_t cap);
void vs_acl_unlock(int fd);

/* One change under the lock: load the file, call edit(set, ctx) (which
 * returns 1 if it changed the set, 0 if not, -1 to fail with msg set), save
 * if changed. On success (0) *out (whatever it held is overwritten, not
 * freed) holds the file's set after the change, sorted, and *stamp its
 * stamp (out and stamp may be NULL). -1 with why in msg. */
int vs_acl_edit(const char *path, int (*edit)(vs_acl_set *s, void *ctx, char *msg, size_t cap),
		void *ctx, vs_acl_set *out, vs_acl_stamp *stamp, char *msg, size_t cap);

#endif
