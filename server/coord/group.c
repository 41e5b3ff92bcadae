/* SPDX-License-Identifier: MIT */
/*
 * group.c -- the coordinator's storage (coord_int.h): copied strings,
 * protocol sets, member and group records, the group table (a chained hash
 * keyed per coordinator), member id generation, byte accounting and the
 * protocol vote. No state machine here: nothing in this file calls a
 * callback or changes a group's state.
 */
#include <stdlib.h>
#include <string.h>

#include "coord_int.h"

/* ---- owned strings -------------------------------------------------------- */

int vs_own_set(vs_own *o, vs_slice s)
{
	if (!s.ptr) {
		vs_own_free(o);
		return 0;
	}
	uint8_t *p = malloc(s.len + 1);
	if (!p)
		return -1;
	if (s.len)
		memcpy(p, s.ptr, s.len);
	p[s.len] = 0;
	free(o->p);
	o->p = p;
	o->len = s.len;
	return 0;
}

void vs_own_free(vs_own *o)
{
	free(o->p);
	o->p = NULL;
	o->len = 0;
}

int vs_own_eq(vs_own o, vs_slice s)
{
	return o.p && s.ptr && o.len == s.len && memcmp(o.p, s.ptr, s.len) == 0;
}

int vs_slice_same(vs_slice a, vs_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ---- protocol sets --------------------------------------------------------- */

/* Index of the first of p[0..i) named like p[i], or -1. */
static int earlier_same_name(const vs_join_protocol *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (vs_slice_same(p[j].name, p[i].name))
			return (int)j;
	return -1;
}

int16_t vs_protoset_new(const vs_join_protocol *p, size_t n, uint32_t max_protocols,
			uint32_t max_metadata_bytes, vs_protoset **out)
{
	*out = NULL;
	if (n == 0)
		return KE_INCONSISTENT_GROUP_PROTOCOL;
	if (n > max_protocols)
		return KE_INVALID_REQUEST;
	size_t unique = 0, meta = 0, names = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i].name.len > VS_COORD_MAX_NAME)
			return KE_INVALID_REQUEST;
		if (earlier_same_name(p, i) >= 0)
			continue;
		unique++;
		names += p[i].name.len + 1;
		/* Checked one by one so the sum cannot overflow. */
		if (p[i].metadata.len > max_metadata_bytes - meta)
			return KE_INVALID_REQUEST;
		meta += p[i].metadata.len;
	}
	size_t head = sizeof(vs_protoset) + unique * sizeof(struct vs_proto);
	vs_protoset *ps = malloc(head + names + meta);
	if (!ps)
		return KE_UNKNOWN_SERVER_ERROR;
	uint8_t *w = (uint8_t *)ps + head;
	ps->n = 0;
	ps->bytes = names + meta;
	for (size_t i = 0; i < n; i++) {
		if (earlier_same_name(p, i) >= 0)
			continue;
		struct vs_proto *d = &ps->p[ps->n++];
		if (p[i].name.len)
			memcpy(w, p[i].name.ptr, p[i].name.len);
		w[p[i].name.len] = 0;
		d->name = (vs_slice){ w, p[i].name.len };
		w += p[i].name.len + 1;
		if (p[i].metadata.len)
			memcpy(w, p[i].metadata.ptr, p[i].metadata.len);
		d->metadata = (vs_slice){ w, p[i].metadata.len };
		w += p[i].metadata.len;
	}
	*out = ps;
	return KE_NONE;
}

int vs_protoset_find(const vs_protoset *ps, vs_slice name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (vs_slice_same(ps->p[i].name, name))
			return (int)i;
	return -1;
}

int vs_protoset_eq(const vs_protoset *a, const vs_protoset *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!vs_slice_same(a->p[i].name, b->p[i].name) ||
		    !vs_slice_same(a->p[i].metadata, b->p[i].metadata))
			return 0;
	return 1;
}

/* ---- members ---------------------------------------------------------------- */

vs_slice vs_utf8_cut(vs_slice s, size_t max)
{
	if (s.len <= max)
		return s;
	size_t n = max;
	/* Back off over continuation bytes (10xxxxxx) so the cut falls before
	 * the lead byte of a split sequence. */
	while (n > 0 && (s.ptr[n] & 0xC0) == 0x80)
		n--;
	return (vs_slice){ s.ptr, n };
}

size_t vs_member_size(const vs_member *m)
{
	return sizeof *m + m->id.len + m->instance_id.len + m->client_id.len +
	       m->client_host.len + m->assignment.len + (m->protos ? m->protos->bytes : 0);
}

void vs_member_account(vs_coord *c, vs_member *m)
{
	size_t now_bytes = vs_member_size(m);
	c->bytes_held = c->bytes_held - m->bytes + now_bytes;
	m->bytes = now_bytes;
}

vs_member *vs_member_new(vs_own *id, const vs_join_req *req, vs_protoset *protos)
{
	vs_member *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	vs_slice client = vs_utf8_cut(req->client_id, VS_COORD_MAX_NAME);
	vs_slice host = vs_utf8_cut(req->client_host, VS_COORD_MAX_NAME);
	/* Kept as "" when the request had null, so views never see null. */
	if (!client.ptr)
		client = (vs_slice){ (const uint8_t *)"", 0 };
	if (!host.ptr)
		host = (vs_slice){ (const uint8_t *)"", 0 };
	if (vs_own_set(&m->instance_id, req->group_instance_id) ||
	    vs_own_set(&m->client_id, client) || vs_own_set(&m->client_host, host)) {
		vs_member_free(m);
		return NULL;
	}
	m->id = *id;
	*id = (vs_own){ NULL, 0 };
	m->protos = protos;
	return m;
}

void vs_member_free(vs_member *m)
{
	if (!m)
		return;
	vs_own_free(&m->id);
	vs_own_free(&m->instance_id);
	vs_own_free(&m->client_id);
	vs_own_free(&m->client_host);
	vs_own_free(&m->assignment);
	free(m->protos);
	free(m);
}

/* splitmix64: a small, well-mixed generator; ids need uniqueness (checked
 * below), not secrecy. */
static uint64_t next_random(vs_coord *c)
{
	uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int id_taken(const vs_group *g, vs_slice id)
{
	return (g && (vs_group_member(g, id, NULL) || vs_group_find_pending(g, id) >= 0));
}

int vs_member_id_new(vs_coord *c, const vs_group *g, vs_slice prefix, vs_own *out)
{
	static const char hex[] = "0123456789abcdef";
	prefix = vs_utf8_cut(prefix, VS_COORD_MAX_NAME);
	size_t len = prefix.len + 37;
	uint8_t *p = malloc(len + 1);
	if (!p)
		return -1;
	if (prefix.len)
		memcpy(p, prefix.ptr, prefix.len);
	p[prefix.len] = '-';
	do {
		uint64_t r[2] = { next_random(c), next_random(c) };
		uint8_t *w = p + prefix.len + 1;
		for (int i = 0; i < 32; i++) {
			/* 8-4-4-4-12 hex digits, like a UUID's text form */
			if (i == 8 || i == 12 || i == 16 || i == 20)
				*w++ = '-';
			*w++ = (uint8_t)hex[(r[i / 16] >> (4 * (i % 16))) & 15];
		}
		p[len] = 0;
	} while (id_taken(g, (vs_slice){ p, len }));
	vs_own_free(out);
	out->p = p;
	out->len = len;
	return 0;
}

/* ---- groups: members and pending ids --------------------------------------- */

vs_member *vs_group_member(const vs_group *g, vs_slice id, size_t *index)
{
	if (!id.ptr)
		return NULL;
	for (size_t i = 0; i < g->nmembers; i++)
		if (vs_own_eq(g->members[i]->id, id)) {
			if (index)
				*index = i;
			return g->members[i];
		}
	return NULL;
}

vs_member *vs_group_static(const vs_group *g, vs_slice instance_id)
{
	if (!instance_id.ptr)
		return NULL;
	for (size_t i = 0; i < g->nmembers; i++)
		if (vs_own_eq(g->members[i]->instance_id, instance_id))
			return g->members[i];
	return NULL;
}

int vs_group_add_member(vs_coord *c, vs_group *g, vs_member *m)
{
	if (g->nmembers == g->members_cap) {
		size_t cap = g->members_cap ? g->members_cap * 2 : 4;
		vs_member **v = realloc(g->members, cap * sizeof *v);
		if (!v)
			return -1;
		g->members = v;
		g->members_cap = cap;
	}
	g->members[g->nmembers++] = m;
	if (!g->leader)
		g->leader = m;
	m->bytes = 0;
	vs_member_account(c, m);
	return 0;
}

void vs_group_drop_member(vs_coord *c, vs_group *g, size_t index)
{
	vs_member *m = g->members[index];
	memmove(&g->members[index], &g->members[index + 1],
		(g->nmembers - index - 1) * sizeof *g->members);
	g->nmembers--;
	if (g->leader == m)
		g->leader = g->nmembers ? g->members[0] : NULL;
	c->bytes_held -= m->bytes;
	vs_member_free(m);
}

int vs_group_find_pending(const vs_group *g, vs_slice id)
{
	if (!id.ptr)
		return -1;
	for (size_t i = 0; i < g->npending; i++)
		if (vs_own_eq(g->pending[i].id, id))
			return (int)i;
	return -1;
}

int vs_group_add_pending(vs_coord *c, vs_group *g, vs_own *id, int64_t deadline)
{
	if (g->npending == g->pending_cap) {
		size_t cap = g->pending_cap ? g->pending_cap * 2 : 4;
		vs_pending *v = realloc(g->pending, cap * sizeof *v);
		if (!v)
			return -1;
		g->pending = v;
		g->pending_cap = cap;
	}
	g->pending[g->npending++] = (vs_pending){ *id, deadline };
	c->bytes_held += sizeof(vs_pending) + id->len;
	*id = (vs_own){ NULL, 0 };
	return 0;
}

void vs_group_drop_pending(vs_coord *c, vs_group *g, size_t index)
{
	c->bytes_held -= sizeof(vs_pending) + g->pending[index].id.len;
	vs_own_free(&g->pending[index].id);
	memmove(&g->pending[index], &g->pending[index + 1],
		(g->npending - index - 1) * sizeof *g->pending);
	g->npending--;
}

/* ---- protocols --------------------------------------------------------------- */

static int all_support(const vs_group *g, vs_slice name, const vs_member *self)
{
	for (size_t i = 0; i < g->nmembers; i++)
		if (g->members[i] != self && vs_protoset_find(g->members[i]->protos, name) < 0)
			return 0;
	return 1;
}

int vs_group_supports(const vs_group *g, vs_slice protocol_type, const vs_protoset *ps,
		      const vs_member *self)
{
	if (protocol_type.len == 0 || ps->n == 0)
		return 0;
	size_t others = g->nmembers - (self ? 1 : 0);
	if (others == 0)
		/* A lone member may change anything but the type: Kafka keeps a
		 * group's protocol type while it has members. */
		return g->nmembers == 0 || !g->has_protocol_type ||
		       vs_slice_same(protocol_type, (vs_slice){ g->protocol_type,
								g->protocol_type_len });
	if (!vs_slice_same(protocol_type, (vs_slice){ g->protocol_type, g->protocol_type_len }))
		return 0;
	for (size_t i = 0; i < ps->n; i++)
		if (all_support(g, ps->p[i].name, self))
			return 1;
	return 0;
}

int vs_group_select_protocol(const vs_group *g, vs_slice *out)
{
	if (g->nmembers == 0)
		return -1;
	/* Candidates in the first member's order of preference. */
	const vs_protoset *first = g->members[0]->protos;
	size_t best = SIZE_MAX, best_votes = 0;
	for (size_t k = 0; k < first->n; k++) {
		vs_slice cand = first->p[k].name;
		if (!all_support(g, cand, NULL))
			continue;
		size_t votes = 0;
		for (size_t i = 0; i < g->nmembers; i++) {
			const vs_protoset *ps = g->members[i]->protos;
			/* A member votes for its first candidate. */
			for (size_t j = 0; j < ps->n; j++) {
				if (!all_support(g, ps->p[j].name, NULL))
					continue;
				votes += vs_slice_same(ps->p[j].name, cand);
				break;
			}
		}
		if (best == SIZE_MAX || votes > best_votes) {
			best = k;
			best_votes = votes;
		}
	}
	if (best == SIZE_MAX)
		return -1;
	*out = first->p[best].name;
	return 0;
}

int32_t vs_group_rebalance_timeout(const vs_group *g)
{
	int32_t t = 0;
	for (size_t i = 0; i < g->nmembers; i++)
		if (g->members[i]->rebalance_timeout_ms > t)
			t = g->members[i]->rebalance_timeout_ms;
	return t;
}

/* ---- the group table ----------------------------------------------------------- */

/* FNV-1a over the id, started from a per-coordinator key. Not a defence
 * against chosen collisions; the chains are bounded by max_groups. */
static uint64_t hash_id(const vs_coord *c, vs_slice id)
{
	uint64_t h = 0xcbf29ce484222325ull ^ c->hash_key;
	for (size_t i = 0; i < id.len; i++) {
		h ^= id.ptr[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 32);
}

vs_group *vs_group_find(const vs_coord *c, vs_slice id)
{
	uint64_t h = hash_id(c, id);
	for (vs_group *g = c->buckets[h & (c->nbuckets - 1)]; g; g = g->next)
		if (g->hash == h && vs_own_eq(g->id, id.ptr ? id : (vs_slice){ (const uint8_t *)"", 0 }))
			return g;
	return NULL;
}

/* Double the buckets when the table is full; on failure keep the chains
 * longer (lookups stay correct). */
static void maybe_grow(vs_coord *c)
{
	if (c->ngroups < c->nbuckets)
		return;
	size_t nb = c->nbuckets * 2;
	vs_group **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		vs_group *g = c->buckets[i];
		while (g) {
			vs_group *next = g->next;
			g->next = b[g->hash & (nb - 1)];
			b[g->hash & (nb - 1)] = g;
			g = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

vs_group *vs_group_create(vs_coord *c, vs_slice id, int64_t now)
{
	vs_group *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	if (!id.ptr)
		id = (vs_slice){ (const uint8_t *)"", 0 };
	if (vs_own_set(&g->id, id)) {
		free(g);
		return NULL;
	}
	maybe_grow(c);
	g->hash = hash_id(c, id);
	g->state = VS_GROUP_EMPTY;
	g->rebalance_deadline = VS_NEVER;
	g->sync_deadline = VS_NEVER;
	g->state_since = now;
	g->lb = VS_NEVER;
	g->bytes = sizeof *g + g->id.len;
	c->bytes_held += g->bytes;
	size_t b = g->hash & (c->nbuckets - 1);
	g->next = c->buckets[b];
	c->buckets[b] = g;
	c->ngroups++;
	/* An Empty group is forgotten after its TTL. */
	vs_coord_arm(c, g, vs_deadline_after(now, c->cfg.empty_group_ttl_ms));
	return g;
}

void vs_group_destroy(vs_coord *c, vs_group *g)
{
	vs_group **pp = &c->buckets[g->hash & (c->nbuckets - 1)];
	while (*pp != g)
		pp = &(*pp)->next;
	*pp = g->next;
	c->ngroups--;
	c->held -= g->held;
	while (g->nmembers)
		vs_group_drop_member(c, g, g->nmembers - 1);
	while (g->npending)
		vs_group_drop_pending(c, g, g->npending - 1);
	c->bytes_held -= g->bytes;
	free(g->members);
	free(g->pending);
	vs_own_free(&g->id);
	free(g);
}

vs_group *vs_group_evictable(const vs_coord *c)
{
	vs_group *best = NULL;
	for (size_t i = 0; i < c->nbuckets; i++)
		for (vs_group *g = c->buckets[i]; g; g = g->next)
			if (g->state == VS_GROUP_EMPTY && g->npending == 0 &&
			    (!best || g->state_since < best->state_since))
				best = g;
	return best;
}

/* ---- scratch rows and deadlines ------------------------------------------------- */

int vs_coord_rows_reserve(vs_coord *c, size_t n)
{
	if (n <= c->rows_cap)
		return 0;
	size_t cap = c->rows_cap ? c->rows_cap : 16;
	while (cap < n)
		cap *= 2;
	vs_join_member *jr = realloc(c->join_rows, cap * sizeof *jr);
	if (!jr)
		return -1;
	c->join_rows = jr;
	vs_member_description *dr = realloc(c->desc_rows, cap * sizeof *dr);
	if (!dr)
		return -1;
	c->desc_rows = dr;
	c->rows_cap = cap;
	return 0;
}

void vs_coord_arm(vs_coord *c, vs_group *g, int64_t deadline)
{
	if (deadline < g->lb)
		g->lb = deadline;
	if (deadline < c->lb)
		c->lb = deadline;
}

int64_t vs_deadline_after(int64_t now, int64_t ms)
{
	if (ms <= 0)
		return now;
	return now > VS_NEVER - 1 - ms ? VS_NEVER - 1 : now + ms;
}
