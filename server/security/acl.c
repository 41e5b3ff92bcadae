/* SPDX-License-Identifier: MIT */
/*
 * acl.c -- the ACL model, matcher and file of acl.h.
 *
 * Invariants: every ACL in a set passed vs_acl_binding_check (its strings
 * hold no NUL, its host parsed); a sorted set has no duplicates. Names from
 * the wire are compared as bytes with their lengths, never as C strings,
 * so a NUL byte inside one cannot cut a comparison short.
 *
 * Calls libc only (and kbuf.h's slice type).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "sfile.h"

static void say(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *msg, size_t cap, const char *fmt, ...)
{
	if (!msg || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, cap, fmt, ap);
	va_end(ap);
}

static bool bytes_eq(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool slice_is(vs_slice s, const char *z)
{
	return s.ptr && bytes_eq(s.ptr, s.len, z, strlen(z));
}

/* ---- names ---------------------------------------------------------------------- */

static const char *const op_names[] = {
	"unknown", "any", "all", "read", "write", "create", "delete", "alter", "describe",
	"cluster_action", "describe_configs", "alter_configs", "idempotent_write",
	"create_tokens", "describe_tokens",
};
static const char *const resource_names[] = {
	"unknown", "any", "topic", "group", "cluster", "transactional_id", "delegation_token", "user",
};
static const char *const pattern_names[] = { "unknown", "any", "match", "literal", "prefixed" };
static const char *const permission_names[] = { "unknown", "any", "deny", "allow" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : "unknown";
}

const char *vs_acl_op_name(int op)
{
	return name_of(op_names, COUNT(op_names), op);
}

const char *vs_acl_resource_name(int type)
{
	return name_of(resource_names, COUNT(resource_names), type);
}

const char *vs_acl_pattern_name(int pattern)
{
	return name_of(pattern_names, COUNT(pattern_names), pattern);
}

const char *vs_acl_permission_name(int permission)
{
	return name_of(permission_names, COUNT(permission_names), permission);
}

/* Compare ignoring case, '-' and '_': "DescribeConfigs" is
 * "describe_configs". */
static bool loose_eq(const char *s, const char *name)
{
	for (;;) {
		while (*s == '-' || *s == '_')
			s++;
		while (*name == '_')
			name++;
		if (!*s || !*name)
			return !*s && !*name;
		if (tolower((unsigned char)*s) != *name)
			return false;
		s++;
		name++;
	}
}

/* Index 0 is "unknown": never parsed. */
static int parse_of(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 1; s && i < n; i++)
		if (loose_eq(s, names[i]))
			return (int)i;
	return -1;
}

int vs_acl_op_parse(const char *s)
{
	return parse_of(op_names, COUNT(op_names), s);
}

int vs_acl_resource_parse(const char *s)
{
	return parse_of(resource_names, COUNT(resource_names), s);
}

int vs_acl_pattern_parse(const char *s)
{
	return parse_of(pattern_names, COUNT(pattern_names), s);
}

int vs_acl_permission_parse(const char *s)
{
	return parse_of(permission_names, COUNT(permission_names), s);
}

#define BIT(op) (1u << (op))

int vs_acl_op_applies(int op, int type)
{
	static const unsigned topic = BIT(VS_OP_ALL) | BIT(VS_OP_READ) | BIT(VS_OP_WRITE) |
				      BIT(VS_OP_CREATE) | BIT(VS_OP_DELETE) | BIT(VS_OP_ALTER) |
				      BIT(VS_OP_DESCRIBE) | BIT(VS_OP_DESCRIBE_CONFIGS) |
				      BIT(VS_OP_ALTER_CONFIGS);
	static const unsigned group = BIT(VS_OP_ALL) | BIT(VS_OP_READ) | BIT(VS_OP_DESCRIBE) |
				      BIT(VS_OP_DELETE);
	static const unsigned cluster = BIT(VS_OP_ALL) | BIT(VS_OP_CREATE) | BIT(VS_OP_ALTER) |
					BIT(VS_OP_DESCRIBE) | BIT(VS_OP_CLUSTER_ACTION) |
					BIT(VS_OP_DESCRIBE_CONFIGS) | BIT(VS_OP_ALTER_CONFIGS) |
					BIT(VS_OP_IDEMPOTENT_WRITE);
	if (op < 0 || op > VS_OP_DESCRIBE_TOKENS)
		return 0;
	switch (type) {
	case VS_RES_TOPIC:
		return (topic & BIT(op)) != 0;
	case VS_RES_GROUP:
		return (group & BIT(op)) != 0;
	case VS_RES_CLUSTER:
		return (cluster & BIT(op)) != 0;
	default:
		return 0;
	}
}

/* ---- hosts -------------------------------------------------------------------------- */

int vs_acl_addr_parse(const char *s, size_t len, vs_acl_addr *out)
{
	memset(out, 0, sizeof *out);
	if (bytes_eq(s, len, "*", 1))
		return 0;
	char buf[INET6_ADDRSTRLEN + 1];
	if (!len || len >= sizeof buf || memchr(s, 0, len))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	struct in6_addr a6;
	if (inet_pton(AF_INET, buf, out->a) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return -1;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (!memcmp(a6.s6_addr, mapped, sizeof mapped)) {
		out->family = 4;
		memcpy(out->a, a6.s6_addr + 12, 4);
	} else {
		out->family = 6;
		memcpy(out->a, a6.s6_addr, 16);
	}
	return 0;
}

int vs_acl_addr_of_peer(const char *peer, vs_acl_addr *out)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']')
		return vs_acl_addr_parse(peer + 1, n - 2, out);
	if (n == 1 && peer[0] == '*')
		return -1; /* a peer is an address, never the wildcard */
	return vs_acl_addr_parse(peer, n, out);
}

static bool host_matches(const vs_acl_addr *acl, const vs_acl_addr *peer)
{
	if (acl->family == 0)
		return true;
	return acl->family == peer->family &&
	       !memcmp(acl->a, peer->a, acl->family == 4 ? 4 : 16);
}

/* ---- checking -------------------------------------------------------------------- */

static int check_text(vs_slice s, const char *what, bool empty_ok, char *msg, size_t cap)
{
	if (!s.ptr) {
		say(msg, cap, "the %s is missing", what);
		return -1;
	}
	if ((!s.len && !empty_ok) || s.len > VS_ACL_MAX_FIELD || memchr(s.ptr, 0, s.len)) {
		say(msg, cap, "the %s must be 1 to %d bytes without a NUL byte", what,
		    VS_ACL_MAX_FIELD);
		return -1;
	}
	return 0;
}

static int check_resource(const vs_acl_binding *b, char *msg, size_t cap)
{
	int t = b->resource_type;
	if (t == VS_RES_TRANSACTIONAL_ID || t == VS_RES_DELEGATION_TOKEN || t == VS_RES_USER) {
		say(msg, cap, "varve has no %s resources: ACLs are on topics, groups and the cluster",
		    vs_acl_resource_name(t));
		return -1;
	}
	if (t != VS_RES_TOPIC && t != VS_RES_GROUP && t != VS_RES_CLUSTER) {
		say(msg, cap, "the resource type must be topic, group or cluster");
		return -1;
	}
	if (b->pattern != VS_PAT_LITERAL && b->pattern != VS_PAT_PREFIXED) {
		say(msg, cap, "the pattern type must be literal or prefixed");
		return -1;
	}
	if (check_text(b->name, "resource name", false, msg, cap))
		return -1;
	if (t == VS_RES_CLUSTER && (b->pattern != VS_PAT_LITERAL || !slice_is(b->name, VS_ACL_CLUSTER_NAME))) {
		say(msg, cap, "the cluster resource is the literal name \"%s\"", VS_ACL_CLUSTER_NAME);
		return -1;
	}
	return 0;
}

int vs_acl_binding_check(const vs_acl_binding *b, char *msg, size_t cap)
{
	if (check_resource(b, msg, cap) || check_text(b->principal, "principal", false, msg, cap) ||
	    check_text(b->host, "host", false, msg, cap))
		return -1;
	if (b->principal.len <= 5 || memcmp(b->principal.ptr, "User:", 5)) {
		say(msg, cap, "a principal is \"User:NAME\" (\"User:*\" for every user)");
		return -1;
	}
	vs_acl_addr addr;
	if (vs_acl_addr_parse((const char *)b->host.ptr, b->host.len, &addr)) {
		say(msg, cap, "the host must be \"*\" or an IP address");
		return -1;
	}
	if (!vs_acl_op_applies(b->operation, b->resource_type)) {
		say(msg, cap, "operation %s does not apply to %s resources",
		    vs_acl_op_name(b->operation), vs_acl_resource_name(b->resource_type));
		return -1;
	}
	if (b->permission != VS_PERM_ALLOW && b->permission != VS_PERM_DENY) {
		say(msg, cap, "the permission must be allow or deny");
		return -1;
	}
	return 0;
}

int vs_acl_filter_check(const vs_acl_binding *f, char *msg, size_t cap)
{
	if (f->resource_type < VS_RES_ANY || f->resource_type > VS_RES_USER) {
		say(msg, cap, "unknown resource type %d in the filter", f->resource_type);
		return -1;
	}
	if (f->pattern < VS_PAT_ANY || f->pattern > VS_PAT_PREFIXED) {
		say(msg, cap, "unknown pattern type %d in the filter", f->pattern);
		return -1;
	}
	if (f->operation < VS_OP_ANY || f->operation > VS_OP_DESCRIBE_TOKENS) {
		say(msg, cap, "unknown operation %d in the filter", f->operation);
		return -1;
	}
	if (f->permission < VS_PERM_ANY || f->permission > VS_PERM_ALLOW) {
		say(msg, cap, "unknown permission type %d in the filter", f->permission);
		return -1;
	}
	return 0;
}

static bool text_matches(vs_slice filter, const char *z)
{
	return !filter.ptr || slice_is(filter, z);
}

bool vs_acl_filter_matches(const vs_acl_binding *f, const vs_acl *a)
{
	if (f->resource_type != VS_RES_ANY && f->resource_type != a->resource_type)
		return false;
	if (f->pattern != VS_PAT_ANY && f->pattern != VS_PAT_MATCH && f->pattern != a->pattern)
		return false;
	if (f->name.ptr) {
		if (f->pattern != VS_PAT_MATCH) {
			if (!bytes_eq(f->name.ptr, f->name.len, a->name, a->name_len))
				return false;
		} else if (a->pattern == VS_PAT_LITERAL) {
			if (!bytes_eq(f->name.ptr, f->name.len, a->name, a->name_len) &&
			    strcmp(a->name, VS_ACL_WILDCARD))
				return false;
		} else if (f->name.len < a->name_len || memcmp(f->name.ptr, a->name, a->name_len)) {
			return false;
		}
	}
	return text_matches(f->principal, a->principal) && text_matches(f->host, a->host) &&
	       (f->operation == VS_OP_ANY || f->operation == a->operation) &&
	       (f->permission == VS_PERM_ANY || f->permission == a->permission);
}

static vs_slice zslice(const char *z)
{
	return (vs_slice){ (const uint8_t *)z, strlen(z) };
}

vs_acl_binding vs_acl_as_binding(const vs_acl *a)
{
	return (vs_acl_binding){ a->resource_type, a->pattern, zslice(a->name),
				 zslice(a->principal), zslice(a->host), a->operation,
				 a->permission };
}

/* ---- sets ---------------------------------------------------------------------------- */

void vs_acl_set_init(vs_acl_set *s)
{
	memset(s, 0, sizeof *s);
}

static void acl_free(vs_acl *a)
{
	free(a->principal);
	free(a->host);
	free(a->name);
}

void vs_acl_set_free(vs_acl_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		acl_free(&s->v[i]);
	free(s->v);
	vs_acl_set_init(s);
}

void vs_acl_set_move(vs_acl_set *dst, vs_acl_set *src)
{
	vs_acl_set_free(dst);
	*dst = *src;
	vs_acl_set_init(src);
}

static char *dup_slice(vs_slice s)
{
	char *z = malloc(s.len + 1);
	if (z) {
		if (s.len)
			memcpy(z, s.ptr, s.len);
		z[s.len] = 0;
	}
	return z;
}

int vs_acl_set_add(vs_acl_set *s, const vs_acl_binding *b)
{
	if (s->n >= VS_ACL_MAX_COUNT)
		return -E2BIG;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		vs_acl *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	vs_acl a = { b->permission, b->operation, b->resource_type, b->pattern,
		     dup_slice(b->principal), dup_slice(b->host), dup_slice(b->name), b->name.len,
		     { 0, { 0 } } };
	if (!a.principal || !a.host || !a.name ||
	    vs_acl_addr_parse((const char *)b->host.ptr, b->host.len, &a.addr)) {
		acl_free(&a);
		return -ENOMEM; /* a checked binding's host parses */
	}
	s->v[s->n++] = a;
	s->sorted = false;
	return 0;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	return c ? c : (an > bn) - (an < bn);
}

static int cmp_acl(const vs_acl *x, const vs_acl *y)
{
	int c;
	if (x->resource_type != y->resource_type)
		return x->resource_type - y->resource_type;
	if (x->pattern != y->pattern)
		return x->pattern - y->pattern;
	if ((c = cmp_bytes(x->name, x->name_len, y->name, y->name_len)) ||
	    (c = strcmp(x->principal, y->principal)) || (c = strcmp(x->host, y->host)))
		return c;
	if (x->operation != y->operation)
		return x->operation - y->operation;
	return x->permission - y->permission;
}

static int cmp_acl_q(const void *a, const void *b)
{
	return cmp_acl(a, b);
}

void vs_acl_set_sort(vs_acl_set *s)
{
	s->sorted = true;
	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof *s->v, cmp_acl_q);
	size_t k = 1;
	for (size_t i = 1; i < s->n; i++) {
		if (cmp_acl(&s->v[k - 1], &s->v[i]) == 0)
			acl_free(&s->v[i]);
		else
			s->v[k++] = s->v[i];
	}
	s->n = k;
}

int vs_acl_set_contains(const vs_acl_set *s, const vs_acl_binding *b)
{
	/* a key shaped like an ACL, borrowing b's bytes; only compared */
	char *name = dup_slice(b->name), *principal = dup_slice(b->principal),
	     *host = dup_slice(b->host);
	int found = 0;
	if (name && principal && host) {
		vs_acl key = { b->permission, b->operation, b->resource_type, b->pattern,
			       principal, host, name, b->name.len, { 0, { 0 } } };
		size_t lo = 0, hi = s->n;
		while (lo < hi && !found) {
			size_t mid = lo + (hi - lo) / 2;
			int c = cmp_acl(&key, &s->v[mid]);
			if (c == 0)
				found = 1;
			else if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	free(name);
	free(principal);
	free(host);
	return found;
}

size_t vs_acl_set_remove(vs_acl_set *s, const vs_acl_binding *filters, size_t n)
{
	size_t k = 0, removed = 0;
	for (size_t i = 0; i < s->n; i++) {
		bool hit = false;
		for (size_t f = 0; f < n && !hit; f++)
			hit = vs_acl_filter_matches(&filters[f], &s->v[i]);
		if (hit) {
			acl_free(&s->v[i]);
			removed++;
		} else {
			s->v[k++] = s->v[i];
		}
	}
	s->n = k;
	return removed;
}

/* ---- deciding ---------------------------------------------------------------------- */

static bool principal_matches(const vs_acl *a, const char *principal)
{
	if (!strcmp(a->principal, principal))
		return true;
	return !strcmp(a->principal, VS_ACL_ANY_USER) && !strncmp(principal, "User:", 5);
}

static bool resource_matches(const vs_acl *a, int type, const uint8_t *name, size_t len)
{
	if (a->resource_type != type)
		return false;
	if (a->pattern == VS_PAT_LITERAL)
		return bytes_eq(a->name, a->name_len, name, len) || !strcmp(a->name, VS_ACL_WILDCARD);
	return len >= a->name_len && !memcmp(a->name, name, a->name_len);
}

/* What an ALLOW of acl_op grants: itself, ALL everything, and the
 * implied DESCRIBE and DESCRIBE_CONFIGS (Kafka's AclAuthorizer). */
static bool allow_grants(int acl_op, int op)
{
	if (acl_op == op || acl_op == VS_OP_ALL)
		return true;
	if (op == VS_OP_DESCRIBE)
		return acl_op == VS_OP_READ || acl_op == VS_OP_WRITE || acl_op == VS_OP_DELETE ||
		       acl_op == VS_OP_ALTER;
	return op == VS_OP_DESCRIBE_CONFIGS && acl_op == VS_OP_ALTER_CONFIGS;
}

#define SCAN_MAX 16

typedef struct question {
	const char *principal;
	const vs_acl_addr *host;
	int op, type;
	const uint8_t *name;
	size_t len;
	bool allowed, denied;
} question;

/* Weigh the ACLs [lo, hi) of a set for q. */
static void weigh(const vs_acl *v, size_t lo, size_t hi, question *q)
{
	for (size_t i = lo; i < hi && !q->denied; i++) {
		const vs_acl *a = &v[i];
		if (!resource_matches(a, q->type, q->name, q->len) ||
		    !principal_matches(a, q->principal) || !host_matches(&a->addr, q->host))
			continue;
		if (a->permission == VS_PERM_DENY)
			q->denied = a->operation == q->op || a->operation == VS_OP_ALL;
		else if (allow_grants(a->operation, q->op))
			q->allowed = true;
	}
}

/* Compare (type, pattern, name) with an ACL's, as cmp_acl orders them. */
static int cmp_key(int type, int pattern, const uint8_t *name, size_t len, const vs_acl *a)
{
	if (type != a->resource_type)
		return type < a->resource_type ? -1 : 1;
	if (pattern != a->pattern)
		return pattern < a->pattern ? -1 : 1;
	return cmp_bytes((const char *)name, len, a->name, a->name_len);
}

/* The first ACL of a sorted set whose (type, pattern, name) is >= the key
 * (after: > the key). */
static size_t bound(const vs_acl_set *s, int type, int pattern, const uint8_t *name, size_t len,
		    bool after)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(type, pattern, name, len, &s->v[mid]);
		if (c > 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The ACLs of one literal name, found by binary search. */
static void weigh_literal(const vs_acl_set *s, const uint8_t *name, size_t len, question *q)
{
	size_t lo = bound(s, q->type, VS_PAT_LITERAL, name, len, false);
	size_t hi = bound(s, q->type, VS_PAT_LITERAL, name, len, true);
	weigh(s->v, lo, hi, q);
}

bool vs_acl_authorize(const vs_acl_set *s, const char *principal, const vs_acl_addr *host, int op,
		      int type, const uint8_t *name, size_t len)
{
	if (s->n == 0)
		return true;
	question q = { principal, host, op, type, name, len, false, false };
	/* a few ACLs are scanned faster than searched three times */
	if (!s->sorted || s->n <= SCAN_MAX) {
		weigh(s->v, 0, s->n, &q);
		return q.allowed && !q.denied;
	}
	/* a prefix of the name sorts at or before it: the prefixed ACLs of
	 * the type up to the name itself */
	static const uint8_t none[1];
	weigh_literal(s, len ? name : none, len, &q);
	weigh_literal(s, (const uint8_t *)VS_ACL_WILDCARD, 1, &q);
	weigh(s->v, bound(s, type, VS_PAT_PREFIXED, none, 0, false),
	      bound(s, type, VS_PAT_PREFIXED, len ? name : none, len, true), &q);
	return q.allowed && !q.denied;
}

static bool op_or_all(const vs_acl *a, int op)
{
	return a->operation == op || a->operation == VS_OP_ALL;
}

/* Does a DENY that applies to principal and host cover every name the
 * ALLOW pattern `allow` matches? */
static bool denied_whole(const vs_acl_set *s, const vs_acl *allow, const char *principal,
			 const vs_acl_addr *host, int op)
{
	for (size_t i = 0; i < s->n; i++) {
		const vs_acl *d = &s->v[i];
		if (d->permission != VS_PERM_DENY || d->resource_type != allow->resource_type ||
		    !op_or_all(d, op) || !principal_matches(d, principal) || !host_matches(&d->addr, host))
			continue;
		if (d->pattern == VS_PAT_LITERAL && !strcmp(d->name, VS_ACL_WILDCARD))
			return true;
		if (d->pattern == VS_PAT_PREFIXED && allow->name_len >= d->name_len &&
		    !memcmp(allow->name, d->name, d->name_len) &&
		    !(allow->pattern == VS_PAT_LITERAL && !strcmp(allow->name, VS_ACL_WILDCARD)))
			return true;
		if (d->pattern == VS_PAT_LITERAL && allow->pattern == VS_PAT_LITERAL &&
		    !strcmp(d->name, allow->name))
			return true;
	}
	return false;
}

bool vs_acl_authorize_any(const vs_acl_set *s, const char *principal, const vs_acl_addr *host,
			  int op, int type)
{
	if (s->n == 0)
		return true;
	for (size_t i = 0; i < s->n; i++) {
		const vs_acl *a = &s->v[i];
		if (a->permission == VS_PERM_ALLOW && a->resource_type == type && op_or_all(a, op) &&
		    principal_matches(a, principal) && host_matches(&a->addr, host) &&
		    !denied_whole(s, a, principal, host, op))
			return true;
	}
	return false;
}

/* ---- the file's text ----------------------------------------------------------------- */

static bool must_escape(uint8_t b)
{
	return b <= ' ' || b >= 0x7f || b == '%' || b == '#';
}

/* Percent-encode z into buf at *at; false if it does not fit. */
static bool put_field(char *buf, size_t cap, size_t *at, const char *z, bool first)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!first) {
		if (*at + 1 >= cap)
			return false;
		buf[(*at)++] = ' ';
	}
	for (const uint8_t *p = (const uint8_t *)z; *p; p++) {
		if (*at + 3 >= cap)
			return false;
		if (must_escape(*p)) {
			buf[(*at)++] = '%';
			buf[(*at)++] = hex[*p >> 4];
			buf[(*at)++] = hex[*p & 15];
		} else {
			buf[(*at)++] = (char)*p;
		}
	}
	return true;
}

int vs_acl_format_line(const vs_acl *a, char *buf, size_t cap)
{
	size_t at = 0;
	if (!cap || !put_field(buf, cap, &at, vs_acl_permission_name(a->permission), true) ||
	    !put_field(buf, cap, &at, a->principal, false) || !put_field(buf, cap, &at, a->host, false) ||
	    !put_field(buf, cap, &at, vs_acl_op_name(a->operation), false) ||
	    !put_field(buf, cap, &at, vs_acl_resource_name(a->resource_type), false) ||
	    !put_field(buf, cap, &at, vs_acl_pattern_name(a->pattern), false) ||
	    !put_field(buf, cap, &at, a->name, false))
		return -1;
	buf[at] = 0;
	return (int)at;
}

static const char file_header[] =
	"# varve ACLs (docs/SECURITY.md, \"Permissions\"): change them with `varve acl`\n"
	"# or Kafka's ACL APIs. One ACL per line, fields percent-encoded:\n"
	"# PERMISSION PRINCIPAL HOST OPERATION RESOURCE PATTERN NAME\n";

int vs_acl_format(vs_acl_set *s, char **out, size_t *len)
{
	vs_acl_set_sort(s);
	size_t cap = sizeof file_header, at = sizeof file_header - 1;
	for (size_t i = 0; i < s->n; i++)
		cap += 3 * (strlen(s->v[i].principal) + strlen(s->v[i].host) + s->v[i].name_len) + 64;
	char *text = malloc(cap);
	if (!text)
		return -ENOMEM;
	memcpy(text, file_header, at);
	for (size_t i = 0; i < s->n; i++) {
		int n = vs_acl_format_line(&s->v[i], text + at, cap - at - 1);
		if (n < 0) { /* cannot happen: cap counts the worst case */
			free(text);
			return -ENOMEM;
		}
		at += (size_t)n;
		text[at++] = '\n';
	}
	text[at] = 0;
	*out = text;
	*len = at;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode one field in place (it shrinks); its new length, or -1. */
static long unescape(char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			s[k++] = s[i];
			continue;
		}
		int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
		int lo = hi >= 0 ? hexval((unsigned char)s[i + 2]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0))
			return -1; /* a bad escape, or a NUL byte */
		s[k++] = (char)(hi << 4 | lo);
		i += 2;
	}
	s[k] = 0;
	return (long)k;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Split a line (NUL-ended, writable) into its seven decoded fields. */
static int split_line(char *line, vs_slice f[7], char *msg, size_t cap)
{
	int n = 0;
	char *p = line;
	for (;;) {
		while (blank(*p))
			p++;
		if (!*p)
			break;
		char *start = p;
		while (*p && !blank(*p))
			p++;
		if (n == 7) {
			say(msg, cap, "more than seven fields");
			return -1;
		}
		bool last = !*p;
		*p = 0;
		long len = unescape(start, (size_t)(p - start));
		if (len < 0) {
			say(msg, cap, "a bad %%-escape in field %d", n + 1);
			return -1;
		}
		f[n++] = (vs_slice){ (const uint8_t *)start, (size_t)len };
		if (last)
			break;
		p++;
	}
	if (n != 7) {
		say(msg, cap, "%d fields, not seven (PERMISSION PRINCIPAL HOST OPERATION RESOURCE "
			      "PATTERN NAME)", n);
		return -1;
	}
	return 0;
}

/* One line of the file into the set; 0, 1 for a blank or comment line,
 * -1 (msg), or -ENOMEM / -E2BIG. */
static int parse_line(char *line, vs_acl_set *out, char *msg, size_t cap)
{
	char *p = line;
	while (blank(*p))
		p++;
	if (!*p || *p == '#')
		return 1;
	vs_slice f[7];
	if (split_line(p, f, msg, cap))
		return -1;
	vs_acl_binding b = {
		.permission = (int8_t)vs_acl_permission_parse((const char *)f[0].ptr),
		.principal = f[1],
		.host = f[2],
		.operation = (int8_t)vs_acl_op_parse((const char *)f[3].ptr),
		.resource_type = (int8_t)vs_acl_resource_parse((const char *)f[4].ptr),
		.pattern = (int8_t)vs_acl_pattern_parse((const char *)f[5].ptr),
		.name = f[6],
	};
	char why[256];
	if (vs_acl_binding_check(&b, why, sizeof why)) {
		say(msg, cap, "%s", why);
		return -1;
	}
	return vs_acl_set_add(out, &b);
}

int vs_acl_parse(const char *text, size_t len, vs_acl_set *out, char *msg, size_t cap)
{
	vs_acl_set_init(out);
	char *line = malloc(VS_ACL_LINE_MAX + 1);
	if (!line)
		return -ENOMEM;
	size_t at = 0;
	int rc = 0;
	for (unsigned lineno = 1; at < len && rc >= 0; lineno++) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = (nl ? (size_t)(nl - text) : len) - at;
		char why[300] = "";
		if (n > VS_ACL_LINE_MAX || memchr(text + at, 0, n)) {
			snprintf(why, sizeof why, "too long, or holds a NUL byte");
			rc = -1;
		} else {
			memcpy(line, text + at, n);
			line[n] = 0;
			rc = parse_line(line, out, why, sizeof why);
		}
		if (rc == -1)
			say(msg, cap, "line %u: %s", lineno, why);
		else if (rc == -E2BIG)
			say(msg, cap, "line %u: more than %d ACLs", lineno, VS_ACL_MAX_COUNT);
		at += n + 1;
	}
	free(line);
	if (rc < 0) {
		vs_acl_set_free(out);
		return rc == -ENOMEM ? -ENOMEM : -1;
	}
	vs_acl_set_sort(out);
	return 0;
}

/* ---- the file on disk ------------------------------------------------------------------ */

static void stamp_of(const struct stat *sb, vs_acl_stamp *st)
{
	st->exists = true;
	st->dev = sb->st_dev;
	st->ino = sb->st_ino;
	st->size = sb->st_size;
	st->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
	st->ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec;
}

int vs_acl_stamp_get(const char *path, vs_acl_stamp *st)
{
	memset(st, 0, sizeof *st);
	struct stat sb;
	if (stat(path, &sb))
		return errno == ENOENT ? 0 : -errno;
	stamp_of(&sb, st);
	return 0;
}

bool vs_acl_stamp_eq(const vs_acl_stamp *a, const vs_acl_stamp *b)
{
	if (a->exists != b->exists)
		return false;
	return !a->exists || (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
			      a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns);
}

static int read_all(int fd, char *buf, size_t n)
{
	size_t at = 0;
	while (at < n) {
		ssize_t k = read(fd, buf + at, n - at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO; /* shorter than its size: changed under us */
		at += (size_t)k;
	}
	return 0;
}

int vs_acl_load(const char *path, vs_acl_set *out, vs_acl_stamp *stamp, char *msg, size_t cap)
{
	vs_acl_set_init(out);
	memset(stamp, 0, sizeof *stamp);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb)) {
		say(msg, cap, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size > VS_ACL_MAX_FILE) {
		say(msg, cap, "%s: not a regular file of at most %zu bytes", path, VS_ACL_MAX_FILE);
		close(fd);
		return -1;
	}
	size_t n = (size_t)sb.st_size;
	char *text = malloc(n ? n : 1);
	int rc = text ? read_all(fd, text, n) : -ENOMEM;
	close(fd);
	if (rc) {
		say(msg, cap, "%s: %s", path, strerror(-rc));
		free(text);
		return -1;
	}
	char why[400];
	rc = vs_acl_parse(text, n, out, why, sizeof why);
	free(text);
	if (rc) {
		say(msg, cap, "%s: %s", path, rc == -ENOMEM ? "out of memory" : why);
		return -1;
	}
	stamp_of(&sb, stamp);
	return 0;
}

int vs_acl_save(const char *path, vs_acl_set *s, char *msg, size_t cap)
{
	char *text;
	size_t len;
	if (vs_acl_format(s, &text, &len)) {
		say(msg, cap, "out of memory");
		return -1;
	}
	/* 0600: principals and hosts are not for everyone */
	int rc = vs_sfile_write(path, text, len);
	free(text);
	if (rc) {
		say(msg, cap, "%s: %s", path, strerror(-rc));
		return -1;
	}
	return 0;
}

int vs_acl_lock(const char *path, char *msg, size_t cap)
{
	char lock[4200];
	int fd = vs_sfile_lock(path, lock, sizeof lock);
	if (fd < 0) {
		say(msg, cap, "%s: %s", fd == -ENAMETOOLONG ? path : lock,
		    fd == -ENAMETOOLONG ? "path too long" : strerror(-fd));
		return -1;
	}
	return fd;
}

void vs_acl_unlock(int fd)
{
	vs_sfile_unlock(fd);
}

int vs_acl_edit(const char *path, int (*edit)(vs_acl_set *s, void *ctx, char *msg, size_t cap),
		void *ctx, vs_acl_set *out, vs_acl_stamp *stamp, char *msg, size_t cap)
{
	int lock = vs_acl_lock(path, msg, cap);
	if (lock < 0)
		return -1;
	vs_acl_set s;
	vs_acl_stamp st;
	int rc = vs_acl_load(path, &s, &st, msg, cap);
	if (rc == 0) {
		rc = edit(&s, ctx, msg, cap);
		if (rc > 0) {
			rc = vs_acl_save(path, &s, msg, cap);
			int e = rc == 0 ? vs_acl_stamp_get(path, &st) : 0;
			if (e) {
				say(msg, cap, "%s: %s", path, strerror(-e));
				rc = -1;
			}
		}
	}
	vs_acl_unlock(lock);
	if (rc < 0) {
		vs_acl_set_free(&s);
		return -1;
	}
	if (stamp)
		*stamp = st;
	if (out)
		*out = s; /* out is filled, not freed first */
	else
		vs_acl_set_free(&s);
	return 0;
}
