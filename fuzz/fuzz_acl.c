/* SPDX-License-Identifier: MIT */
/*
 * fuzz_acl -- the ACL model of `varve serve` (server/security/acl.c) on
 * hostile input: the ACL file's parser and writer, the checks of ACLs and
 * filters as Kafka's ACL APIs deliver them, the matcher, and host parsing.
 *
 * Input layout: byte 0 picks the mode.
 *   even: the rest is an ACL file. If it parses, writing it and parsing
 *         that must give the same set, and writing again the same bytes;
 *         every ACL's own line must parse back to it. Then each ACL is
 *         turned into a question (its principal, an address of its host,
 *         its operation, resource type and a name its pattern covers) and
 *         the matcher (its binary search and its full scan) is checked
 *         against a plain reference, and a DENY must refuse its own
 *         question.
 *   odd:  the rest is a stream of fields as the wire has them: up to 12
 *         bindings (any int8 values; strings of any bytes, NUL included),
 *         added when vs_acl_binding_check accepts them; then up to 16
 *         questions with hostile names, principals and peer addresses
 *         (matcher = reference, also for "some resource of the type"); then
 *         a filter: when vs_acl_filter_check accepts it, removing by it must
 *         remove exactly the ACLs it matches.
 * Any disagreement aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "security/acl.h"

#define TARGET "fuzz_acl"
#define MAX_TEXT (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", TARGET, what);
	abort();
}

/* ---- the reference: Kafka's rules, written out plainly ---------------------------- */

static int ref_name(const vs_acl *a, const uint8_t *name, size_t len)
{
	if (a->pattern == VS_PAT_LITERAL) {
		if (!strcmp(a->name, "*"))
			return 1;
		return a->name_len == len && (len == 0 || !memcmp(a->name, name, len));
	}
	return len >= a->name_len && !memcmp(name, a->name, a->name_len);
}

static int ref_principal(const vs_acl *a, const char *p)
{
	return !strcmp(a->principal, p) || (!strcmp(a->principal, "User:*") && !strncmp(p, "User:", 5));
}

static int ref_host(const vs_acl *a, const vs_acl_addr *h)
{
	if (a->addr.family == 0)
		return 1;
	size_t n = a->addr.family == 4 ? 4 : 16;
	return h->family == a->addr.family && !memcmp(h->a, a->addr.a, n);
}

static int ref_grants(int acl_op, int op)
{
	if (acl_op == VS_OP_ALL || acl_op == op)
		return 1;
	if (op == VS_OP_DESCRIBE)
		return acl_op == VS_OP_READ || acl_op == VS_OP_WRITE || acl_op == VS_OP_DELETE ||
		       acl_op == VS_OP_ALTER;
	return op == VS_OP_DESCRIBE_CONFIGS && acl_op == VS_OP_ALTER_CONFIGS;
}

static int ref_authorize(const vs_acl_set *s, const char *p, const vs_acl_addr *h, int op, int type,
			 const uint8_t *name, size_t len)
{
	if (s->n == 0)
		return 1;
	int deny = 0, allow = 0;
	for (size_t i = 0; i < s->n; i++) {
		const vs_acl *a = &s->v[i];
		if (a->resource_type != type || !ref_name(a, name, len) || !ref_principal(a, p) ||
		    !ref_host(a, h))
			continue;
		if (a->permission == VS_PERM_DENY && (a->operation == op || a->operation == VS_OP_ALL))
			deny = 1;
		if (a->permission == VS_PERM_ALLOW && ref_grants(a->operation, op))
			allow = 1;
	}
	return allow && !deny;
}

static void check_decision(const vs_acl_set *s, const char *p, const vs_acl_addr *h, int op,
			   int type, const uint8_t *name, size_t len)
{
	bool got = vs_acl_authorize(s, p, h, op, type, name, len);
	if (got != (ref_authorize(s, p, h, op, type, name, len) != 0))
		fail("the matcher disagrees with the reference");
	vs_acl_set scan = *s; /* the same ACLs, decided by a full scan */
	scan.sorted = false;
	if (vs_acl_authorize(&scan, p, h, op, type, name, len) != got)
		fail("the sorted set's search disagrees with the full scan");
	/* "some resource": allowed on this one (no deny of the whole type
	 * involved) implies allowed on some; never crashes otherwise */
	bool any = vs_acl_authorize_any(s, p, h, op, type);
	if (s->n == 0 && !any)
		fail("no ACL, yet some resource is refused");
}

/* ---- file mode ------------------------------------------------------------------- */

static void same_sets(const vs_acl_set *a, const vs_acl_set *b)
{
	if (a->n != b->n)
		fail("a written file parses to another number of ACLs");
	for (size_t i = 0; i < a->n; i++) {
		vs_acl_binding x = vs_acl_as_binding(&a->v[i]);
		if (!vs_acl_set_contains(b, &x))
			fail("an ACL is lost by writing and parsing");
	}
}

static void lines_round_trip(const vs_acl_set *s)
{
	static char line[VS_ACL_LINE_MAX];
	for (size_t i = 0; i < s->n; i++) {
		int n = vs_acl_format_line(&s->v[i], line, sizeof line);
		if (n < 0)
			fail("a line does not fit VS_ACL_LINE_MAX");
		vs_acl_set one;
		char msg[256];
		if (vs_acl_parse(line, (size_t)n, &one, msg, sizeof msg) || one.n != 1)
			fail("an ACL's own line does not parse");
		vs_acl_binding b = vs_acl_as_binding(&s->v[i]);
		if (!vs_acl_set_contains(&one, &b))
			fail("an ACL's own line parses to another ACL");
		vs_acl_set_free(&one);
	}
}

/* A question an ACL speaks to: a name its pattern covers. */
static void ask_about(const vs_acl_set *s, const vs_acl *a)
{
	static uint8_t name[VS_ACL_MAX_FIELD + 2];
	size_t len = a->name_len;
	memcpy(name, a->name, len);
	if (a->pattern == VS_PAT_PREFIXED)
		name[len++] = 'x';
	const char *p = strcmp(a->principal, "User:*") ? a->principal : "User:someone";
	vs_acl_addr h = a->addr;
	if (h.family == 0) {
		h.family = 4;
		memcpy(h.a, "\x0a\x00\x00\x01", 4);
	}
	int op = a->operation == VS_OP_ALL ? VS_OP_READ : a->operation;
	check_decision(s, p, &h, op, a->resource_type, name, len);
	if (a->permission == VS_PERM_DENY &&
	    vs_acl_authorize(s, p, &h, op, a->resource_type, name, len))
		fail("a DENY does not refuse its own question");
}

static void file_mode(const uint8_t *data, size_t size)
{
	if (size > MAX_TEXT)
		size = MAX_TEXT;
	vs_acl_set s, back;
	char msg[512];
	int rc = vs_acl_parse((const char *)data, size, &s, msg, sizeof msg);
	if (rc != 0) {
		if (rc != -1 && rc != -ENOMEM)
			fail("vs_acl_parse returned an undocumented code");
		if (s.n != 0)
			fail("a failed parse left ACLs");
		return;
	}
	char *t1, *t2;
	size_t n1, n2;
	if (vs_acl_format(&s, &t1, &n1))
		return;
	if (vs_acl_parse(t1, n1, &back, msg, sizeof msg))
		fail("a written file does not parse");
	same_sets(&s, &back);
	if (vs_acl_format(&back, &t2, &n2) == 0) {
		if (n1 != n2 || memcmp(t1, t2, n1))
			fail("writing a parsed file changes it");
		free(t2);
	}
	free(t1);
	lines_round_trip(&s);
	for (size_t i = 0; i < s.n && i < 64; i++)
		ask_about(&s, &s.v[i]);
	vs_acl_set_free(&s);
	vs_acl_set_free(&back);
}

/* ---- wire mode ------------------------------------------------------------------- */

typedef struct cursor {
	const uint8_t *p;
	size_t n;
} cursor;

static int8_t take8(cursor *c)
{
	if (!c->n)
		return 0;
	c->n--;
	return (int8_t)*c->p++;
}

/* A string of up to 255 bytes, any bytes; a length of 255 is a null slice. */
static vs_slice take_str(cursor *c)
{
	uint8_t len = (uint8_t)take8(c);
	if (len == 255)
		return VS_SLICE_NULL;
	if (len > c->n)
		len = (uint8_t)c->n;
	vs_slice s = { c->p, len };
	c->p += len;
	c->n -= len;
	return s;
}

static vs_acl_binding take_binding(cursor *c)
{
	vs_acl_binding b;
	b.resource_type = take8(c);
	b.pattern = take8(c);
	b.name = take_str(c);
	b.principal = take_str(c);
	b.host = take_str(c);
	b.operation = take8(c);
	b.permission = take8(c);
	return b;
}

static void ask_hostile(const vs_acl_set *s, cursor *c)
{
	char principal[300], peer[80];
	vs_slice p = take_str(c), name = take_str(c), h = take_str(c);
	snprintf(principal, sizeof principal, "%.*s", (int)(p.ptr ? strnlen((const char *)p.ptr, p.len) : 0),
		 p.ptr ? (const char *)p.ptr : "");
	snprintf(peer, sizeof peer, "%.*s", (int)(h.ptr ? strnlen((const char *)h.ptr, h.len) : 0),
		 h.ptr ? (const char *)h.ptr : "");
	vs_acl_addr addr;
	if (vs_acl_addr_of_peer(peer, &addr))
		memset(&addr, 0xff, sizeof addr); /* as the broker does */
	int op = take8(c), type = take8(c);
	check_decision(s, principal, &addr, op, type, name.ptr, name.len);
}

static void filter_removal(vs_acl_set *s, cursor *c)
{
	vs_acl_binding f = take_binding(c);
	char msg[256];
	if (vs_acl_filter_check(&f, msg, sizeof msg))
		return;
	size_t matched = 0;
	for (size_t i = 0; i < s->n; i++)
		matched += vs_acl_filter_matches(&f, &s->v[i]);
	if (vs_acl_set_remove(s, &f, 1) != matched)
		fail("remove took another number of ACLs than the filter matches");
	for (size_t i = 0; i < s->n; i++)
		if (vs_acl_filter_matches(&f, &s->v[i]))
			fail("an ACL the filter matches was kept");
}

static void wire_mode(const uint8_t *data, size_t size)
{
	cursor c = { data, size };
	vs_acl_set s;
	vs_acl_set_init(&s);
	int nb = (uint8_t)take8(&c) % 13;
	for (int i = 0; i < nb; i++) {
		vs_acl_binding b = take_binding(&c);
		char msg[256];
		if (vs_acl_binding_check(&b, msg, sizeof msg) == 0 && vs_acl_set_add(&s, &b))
			break; /* out of memory */
	}
	vs_acl_set_sort(&s);
	for (size_t i = 1; i < s.n; i++) {
		vs_acl_binding b = vs_acl_as_binding(&s.v[i - 1]);
		vs_acl_set one = { &s.v[i], 1, 1, true };
		if (vs_acl_set_contains(&one, &b))
			fail("a sorted set holds a duplicate");
	}
	lines_round_trip(&s);
	int nq = (uint8_t)take8(&c) % 17;
	for (int i = 0; i < nq; i++)
		ask_hostile(&s, &c);
	filter_removal(&s, &c);
	vs_acl_set_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		wire_mode(data + 1, size - 1);
	else
		file_mode(data + 1, size - 1);
	return 0;
}
