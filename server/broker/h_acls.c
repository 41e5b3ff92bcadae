/* SPDX-License-Identifier: MIT */
/*
 * h_acls.c -- permissions in the broker (docs/SECURITY.md, "Permissions"):
 * vs_authorize, which every handler calls for each resource it touches,
 * and Kafka's ACL APIs: DescribeAcls, CreateAcls, DeleteAcls.
 *
 * The ACLs in force (b->acls) are the store's ACL file as last read
 * (security/acl.h has the model and the file). The file changes under us:
 * `varve acl` edits it beside a running server. So the first check made
 * for a new connection, and any check a second after the last look, stats
 * the file, and reads it again when its stamp changed. A file that does not
 * parse is refused with one warning and the ACLs in force stay.
 *
 * CreateAcls and DeleteAcls change the file on a worker (it fsyncs), under
 * the file's lock, from the file as it is then (not from b->acls, which may
 * be a second old), and the new set replaces b->acls when the worker is
 * done. DescribeAcls answers from b->acls.
 *
 * A refusal is counted (acl_refused, for /metrics) and logged once per
 * principal and resource: a table of hashes remembers what was logged,
 * forgotten when the ACLs change; when full (LOG_MAX) one more line says
 * that further refusals are only counted.
 *
 * Everything runs on the loop thread, except the worker halves (create_run,
 * delete_run), which touch only their own call and the file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

/* Look at the file at most this often for connections already seen. */
#define ACL_RECHECK_MS 1000
/* Refusals logged before further ones are only counted; the table has
 * twice as many slots (open addressing stays short). */
#define LOG_MAX 4096
#define LOG_SLOTS (2 * LOG_MAX)

static const uint8_t nothing[1];

static const vs_slice cluster_name = { (const uint8_t *)VS_ACL_CLUSTER_NAME,
				       sizeof VS_ACL_CLUSTER_NAME - 1 };

/* ---- the ACLs in force ------------------------------------------------------------ */

static void forget_logged(vs_broker *b)
{
	if (b->acl_logged)
		memset(b->acl_logged, 0, LOG_SLOTS * sizeof *b->acl_logged);
	b->acl_logged_n = 0;
	b->acl_log_full = false;
}

/* New ACLs: what was refused before may be allowed now, so refusals are
 * logged afresh. */
static void install(vs_broker *b, vs_acl_set *s, const vs_acl_stamp *st)
{
	vs_acl_set_move(&b->acls, s);
	b->acl_stamp = *st;
	b->acl_file_bad = false;
	forget_logged(b);
}

static void reload(vs_broker *b)
{
	vs_acl_stamp now;
	if (vs_acl_stamp_get(b->cfg.acl_file, &now) || vs_acl_stamp_eq(&now, &b->acl_stamp))
		return;
	vs_acl_set s;
	vs_acl_stamp st;
	char msg[512];
	if (vs_acl_load(b->cfg.acl_file, &s, &st, msg, sizeof msg)) {
		b->acl_reload_failures++;
		if (!b->acl_file_bad)
			vs_blog(b, VARVE_LOG_WARN, "ACL file not reloaded, the ACLs in force stay: %s",
				msg);
		b->acl_file_bad = true;
		b->acl_stamp = now; /* read again when it changes again */
		return;
	}
	b->acl_reloads++;
	vs_blog(b, VARVE_LOG_INFO, "ACL file reloaded: %zu ACLs", s.n);
	install(b, &s, &st);
}

void vs_acls_reload(vs_broker *b)
{
	if (b->cfg.acl_file)
		reload(b);
}

static void refresh(vs_call *c)
{
	vs_broker *b = c->b;
	if (!b->cfg.acl_file)
		return;
	int64_t now = vs_loop_now_ms(b->loop);
	if (c->conn <= b->acl_conn_seen && now - b->acl_checked_ms < ACL_RECHECK_MS)
		return;
	if (c->conn > b->acl_conn_seen)
		b->acl_conn_seen = c->conn;
	b->acl_checked_ms = now;
	reload(b);
}

int vs_acls_start(vs_broker *b)
{
	vs_acl_set_init(&b->acls);
	b->acl_logged = calloc(LOG_SLOTS, sizeof *b->acl_logged);
	if (!b->acl_logged)
		return -ENOMEM;
	if (!b->cfg.acl_file)
		return 0;
	vs_acl_set s;
	vs_acl_stamp st;
	char msg[512];
	if (vs_acl_load(b->cfg.acl_file, &s, &st, msg, sizeof msg)) {
		vs_blog(b, VARVE_LOG_ERROR, "%s", msg);
		return -EINVAL;
	}
	install(b, &s, &st);
	return 0;
}

void vs_acls_free(vs_broker *b)
{
	vs_acl_set_free(&b->acls);
	free(b->acl_logged);
	b->acl_logged = NULL;
}

/* ---- deciding ------------------------------------------------------------------------ */

static bool super_user(const vs_broker *b, const char *principal)
{
	for (size_t i = 0; i < b->cfg.super_user_count; i++)
		if (!strcmp(b->cfg.super_users[i], principal))
			return true;
	return false;
}

static void peer_addr(const vs_call *c, vs_acl_addr *host)
{
	/* an unparsable peer matches only ACLs for every host ("*") */
	if (vs_acl_addr_of_peer(c->peer, host))
		memset(host, 0xff, sizeof *host);
}

bool vs_authorized(vs_call *c, int op, int type, vs_slice name)
{
	vs_broker *b = c->b;
	refresh(c);
	if (b->acls.n == 0 || super_user(b, c->principal))
		return true;
	if (type == VS_RES_CLUSTER)
		name = cluster_name;
	vs_acl_addr host;
	peer_addr(c, &host);
	return vs_acl_authorize(&b->acls, c->principal, &host, op, type, name.ptr, name.len);
}

bool vs_authorized_any(vs_call *c, int op, int type)
{
	vs_broker *b = c->b;
	refresh(c);
	if (b->acls.n == 0 || super_user(b, c->principal))
		return true;
	vs_acl_addr host;
	peer_addr(c, &host);
	return vs_acl_authorize_any(&b->acls, c->principal, &host, op, type);
}

int32_t vs_authorized_operations(vs_call *c, int type, vs_slice name)
{
	int32_t bits = 0;
	for (int op = VS_OP_READ; op <= VS_OP_DESCRIBE_TOKENS; op++)
		if (vs_acl_op_applies(op, type) && vs_authorized(c, op, type, name))
			bits |= (int32_t)1 << op;
	return bits;
}

/* ---- refusals ------------------------------------------------------------------------- */

static int counted_type(int type)
{
	return type == VS_RES_TOPIC ? 0 : type == VS_RES_GROUP ? 1 : type == VS_RES_CLUSTER ? 2 : -1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

/* true the first time (principal, type, name) is seen since the ACLs
 * changed; false after, and once the table is full. */
static bool first_refusal(vs_broker *b, const char *principal, int type, vs_slice name)
{
	uint8_t t = (uint8_t)type;
	uint64_t h = fnv(0xcbf29ce484222325ull, principal, strlen(principal) + 1);
	h = fnv(fnv(h, &t, 1), name.ptr ? name.ptr : nothing, name.len);
	h = h ? h : 1; /* 0 marks an empty slot */
	if (!b->acl_logged)
		return false;
	size_t i = (size_t)(h % LOG_SLOTS);
	while (b->acl_logged[i]) {
		if (b->acl_logged[i] == h)
			return false;
		i = (i + 1) % LOG_SLOTS;
	}
	if (b->acl_logged_n >= LOG_MAX) {
		if (!b->acl_log_full)
			vs_blog(b, VARVE_LOG_WARN, "%d refusals logged since the ACLs last changed: "
						   "further ones are counted in /metrics, not logged",
				LOG_MAX);
		b->acl_log_full = true;
		return false;
	}
	b->acl_logged[i] = h;
	b->acl_logged_n++;
	return true;
}

/* A name from the wire, printable: \xNN for other bytes, cut at 200. */
static void printable(vs_slice s, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	for (size_t i = 0; i < s.len && k + 8 < cap; i++) {
		uint8_t ch = s.ptr[i];
		if (ch >= ' ' && ch < 0x7f && ch != '"' && ch != '\\') {
			out[k++] = (char)ch;
		} else {
			out[k++] = '\\';
			out[k++] = 'x';
			out[k++] = hex[ch >> 4];
			out[k++] = hex[ch & 15];
		}
		if (k >= 200 && i + 1 < s.len) {
			memcpy(out + k, "...", 3);
			k += 3;
			break;
		}
	}
	out[k] = 0;
}

void vs_authorize_refused(vs_call *c, int op, int type, vs_slice name)
{
	vs_broker *b = c->b;
	int k = counted_type(type);
	if (k >= 0)
		b->acl_refused[c->key >= 0 && c->key < VS_API_SLOTS ? (size_t)c->key : VS_API_SLOTS][k]++;
	if (type == VS_RES_CLUSTER)
		name = cluster_name;
	if (!first_refusal(b, c->principal, type, name))
		return;
	/* both may hold any byte a client chose */
	char shown[256], who[256];
	printable(name, shown, sizeof shown);
	printable((vs_slice){ (const uint8_t *)c->principal, strlen(c->principal) }, who, sizeof who);
	const vs_api_info *api = vs_api_lookup(c->key);
	vs_blog(b, VARVE_LOG_WARN,
		"%s (%s) refused: %s on %s \"%s\" (%s); later refusals of this principal on this "
		"resource are counted, not logged",
		who, c->peer, vs_acl_op_name(op), vs_acl_resource_name(type), shown,
		api ? api->name : "?");
}

bool vs_authorize(vs_call *c, int op, int type, vs_slice name)
{
	if (vs_authorized(c, op, type, name))
		return true;
	vs_authorize_refused(c, op, type, name);
	return false;
}

/* ---- DescribeAcls ------------------------------------------------------------------------ */

static vs_acl_binding filter_of(int8_t type, vs_slice name, int8_t pattern, vs_slice principal,
				vs_slice host, int8_t op, int8_t permission)
{
	return (vs_acl_binding){ type, pattern, name, principal, host, op, permission };
}

static vs_slice zslice(const char *z)
{
	return (vs_slice){ (const uint8_t *)z, strlen(z) };
}

static bool same_resource(const vs_acl *a, const vs_acl *b)
{
	return a->resource_type == b->resource_type && a->pattern == b->pattern &&
	       !strcmp(a->name, b->name);
}

/* The matching ACLs, grouped by resource: the set is sorted by resource
 * first, so each resource's ACLs are one run. 0, or -1 out of memory. */
static int describe_fill(vs_call *c, const vs_acl_binding *f)
{
	vs_describe_acls_response *r = &c->resp.describe_acls;
	const vs_acl_set *s = &c->b->acls;
	size_t matches = 0;
	for (size_t i = 0; i < s->n; i++)
		matches += vs_acl_filter_matches(f, &s->v[i]);
	vs_describe_acls_resource *res = vs_call_alloc(c, matches, sizeof *res);
	vs_acl_description *d = vs_call_alloc(c, matches, sizeof *d);
	if (!res || !d)
		return -1;
	const vs_acl *last = NULL;
	int32_t nres = 0;
	for (size_t i = 0; i < s->n; i++) {
		const vs_acl *a = &s->v[i];
		if (!vs_acl_filter_matches(f, a))
			continue;
		if (!last || !same_resource(last, a)) {
			vs_describe_acls_resource *o = &res[nres++];
			o->resource_type = a->resource_type;
			o->resource_name = zslice(a->name);
			o->pattern_type = a->pattern;
			o->acls.v = d;
		}
		last = a;
		*d++ = (vs_acl_description){ zslice(a->principal), zslice(a->host), a->operation,
					     a->permission };
		res[nres - 1].acls.n++;
	}
	r->resources.v = res;
	r->resources.n = nres;
	return 0;
}

static const char no_acls_msg[] = "ACLs are not enabled on this server (it has no ACL file).";

int vs_h_describe_acls(vs_call *c)
{
	vs_describe_acls_request *q = &c->req.describe_acls;
	vs_describe_acls_response *r = &c->resp.describe_acls;
	r->resources.v = NULL;
	r->resources.n = 0;
	if (!c->b->cfg.acl_file) {
		r->error_code = KE_SECURITY_DISABLED;
		r->error_message = vs_call_str(c, no_acls_msg);
		return VS_REPLY;
	}
	if (!vs_authorize(c, VS_OP_DESCRIBE, VS_RES_CLUSTER, VS_SLICE_NULL)) {
		r->error_code = KE_CLUSTER_AUTHORIZATION_FAILED;
		r->error_message = vs_call_str(c, "Cluster authorization failed.");
		return VS_REPLY;
	}
	vs_acl_binding f = filter_of(q->resource_type_filter, q->resource_name_filter,
				     q->pattern_type_filter, q->principal_filter, q->host_filter,
				     q->operation, q->permission_type);
	char msg[256];
	if (vs_acl_filter_check(&f, msg, sizeof msg)) {
		r->error_code = KE_INVALID_REQUEST;
		r->error_message = vs_call_str(c, msg);
		return VS_REPLY;
	}
	return describe_fill(c, &f) ? VS_CLOSE : VS_REPLY;
}

/* ---- CreateAcls, DeleteAcls: the worker's edit of the file ------------------------------ */

typedef struct acl_item {
	vs_acl_binding b;
	int16_t *err;      /* its answer's error code and message */
	vs_slice *msg;
	vs_delete_acls_filter_result *deleted; /* DeleteAcls: what it matched */
} acl_item;

typedef struct acl_job {
	vs_call *c;
	acl_item *v;
	size_t n;
	int rc;             /* vs_acl_edit's */
	char msg[512];
	vs_acl_set set;     /* the file after the change */
	vs_acl_stamp stamp;
} acl_job;

static void job_free(vs_call *c)
{
	acl_job *j = c->state;
	vs_acl_set_free(&j->set);
}

static int create_edit(vs_acl_set *s, void *ctx, char *msg, size_t cap)
{
	acl_job *j = ctx;
	size_t before = s->n;
	for (size_t i = 0; i < j->n; i++) {
		int rc = vs_acl_set_add(s, &j->v[i].b);
		if (rc == -E2BIG) {
			*j->v[i].err = KE_INVALID_REQUEST;
			*j->v[i].msg = vs_call_printf(j->c, "This server holds at most %d ACLs.",
						      VS_ACL_MAX_COUNT);
		} else if (rc) {
			snprintf(msg, cap, "out of memory");
			return -1;
		}
	}
	vs_acl_set_sort(s); /* drops what was there already */
	return s->n != before;
}

/* Copy the ACLs filter j->v[i] matches into its answer (the arena). */
static int delete_collect(acl_job *j, const vs_acl_set *s, acl_item *it)
{
	size_t n = 0;
	for (size_t k = 0; k < s->n; k++)
		n += vs_acl_filter_matches(&it->b, &s->v[k]);
	vs_delete_acls_matching_acl *m = vs_call_alloc(j->c, n, sizeof *m);
	if (!m)
		return -1;
	int32_t at = 0;
	for (size_t k = 0; k < s->n; k++) {
		const vs_acl *a = &s->v[k];
		if (!vs_acl_filter_matches(&it->b, a))
			continue;
		m[at] = (vs_delete_acls_matching_acl){
			KE_NONE, VS_SLICE_NULL, a->resource_type, vs_call_str(j->c, a->name),
			a->pattern, vs_call_str(j->c, a->principal), vs_call_str(j->c, a->host),
			a->operation, a->permission
		};
		if (!m[at].resource_name.ptr || !m[at].principal.ptr || !m[at].host.ptr)
			return -1;
		at++;
	}
	it->deleted->matching_acls.v = m;
	it->deleted->matching_acls.n = at;
	return 0;
}

static int delete_edit(vs_acl_set *s, void *ctx, char *msg, size_t cap)
{
	acl_job *j = ctx;
	vs_acl_binding *filters = vs_call_alloc(j->c, j->n, sizeof *filters);
	if (!filters) {
		snprintf(msg, cap, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < j->n; i++) {
		if (delete_collect(j, s, &j->v[i])) {
			snprintf(msg, cap, "out of memory");
			return -1;
		}
		filters[i] = j->v[i].b;
	}
	return vs_acl_set_remove(s, filters, j->n) > 0;
}

static void create_run(vs_call *c)
{
	acl_job *j = c->state;
	j->rc = vs_acl_edit(c->b->cfg.acl_file, create_edit, j, &j->set, &j->stamp, j->msg,
			    sizeof j->msg);
}

static void delete_run(vs_call *c)
{
	acl_job *j = c->state;
	j->rc = vs_acl_edit(c->b->cfg.acl_file, delete_edit, j, &j->set, &j->stamp, j->msg,
			    sizeof j->msg);
}

static void edit_done(vs_call *c)
{
	acl_job *j = c->state;
	vs_broker *b = c->b;
	if (j->rc) {
		vs_blog(b, VARVE_LOG_WARN, "%s: ACLs not changed: %s", c->peer, j->msg);
		for (size_t i = 0; i < j->n; i++) {
			*j->v[i].err = KE_UNKNOWN_SERVER_ERROR;
			*j->v[i].msg = vs_call_str(c, j->msg);
			if (j->v[i].deleted)
				j->v[i].deleted->matching_acls.n = 0;
		}
	} else {
		vs_blog(b, VARVE_LOG_INFO, "%s: %s changed the ACLs: %zu now", c->peer, c->principal,
			j->set.n);
		install(b, &j->set, &j->stamp);
	}
	vs_call_reply(c);
}

/* ---- CreateAcls, DeleteAcls: the handlers ---------------------------------------------- */

/* Why a whole CreateAcls or DeleteAcls is refused, or KE_NONE: no ACL file
 * (Kafka's answer without an authorizer), or no ALTER on the cluster. */
static int16_t edit_refusal(vs_call *c, vs_slice *msg)
{
	if (!c->b->cfg.acl_file) {
		*msg = vs_call_str(c, no_acls_msg);
		return KE_SECURITY_DISABLED;
	}
	if (!vs_authorize(c, VS_OP_ALTER, VS_RES_CLUSTER, VS_SLICE_NULL)) {
		*msg = vs_call_str(c, "Cluster authorization failed.");
		return KE_CLUSTER_AUTHORIZATION_FAILED;
	}
	return KE_NONE;
}

static acl_job *job_new(vs_call *c, size_t n)
{
	acl_job *j = vs_call_alloc(c, 1, sizeof *j);
	if (!j || !(j->v = vs_call_alloc(c, n, sizeof *j->v)))
		return NULL;
	j->c = c;
	vs_acl_set_init(&j->set);
	c->state = j;
	c->on_free = job_free;
	return j;
}

/* Submit the job; when the workers are busy every item gets
 * REQUEST_TIMED_OUT. */
static int job_submit(vs_call *c, acl_job *j, void (*run)(vs_call *c))
{
	if (j->n == 0)
		return VS_REPLY;
	if (vs_call_submit(c, run, edit_done) == 0)
		return VS_DEFER;
	for (size_t i = 0; i < j->n; i++)
		*j->v[i].err = KE_REQUEST_TIMED_OUT;
	return VS_REPLY;
}

int vs_h_create_acls(vs_call *c)
{
	vs_create_acls_request *q = &c->req.create_acls;
	vs_create_acls_response *r = &c->resp.create_acls;
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	size_t n = (size_t)r->results.n;
	vs_acl_creation_result *out = r->results.v;
	vs_slice why;
	int16_t refused = edit_refusal(c, &why);
	for (size_t i = 0; refused && i < n; i++)
		out[i] = (vs_acl_creation_result){ refused, why };
	if (refused)
		return VS_REPLY;
	acl_job *j = job_new(c, n);
	if (!j)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++) {
		const vs_acl_creation *k = &q->creations.v[i];
		vs_acl_binding b = filter_of(k->resource_type, k->resource_name, k->resource_pattern_type,
					     k->principal, k->host, k->operation, k->permission_type);
		char msg[256];
		if (vs_acl_binding_check(&b, msg, sizeof msg)) {
			out[i].error_code = KE_INVALID_REQUEST;
			out[i].error_message = vs_call_str(c, msg);
			continue;
		}
		j->v[j->n++] = (acl_item){ b, &out[i].error_code, &out[i].error_message, NULL };
	}
	return job_submit(c, j, create_run);
}

int vs_h_delete_acls(vs_call *c)
{
	vs_delete_acls_request *q = &c->req.delete_acls;
	vs_delete_acls_response *r = &c->resp.delete_acls;
	if (vs_reply_error(c, KE_NONE))
		return VS_CLOSE;
	size_t n = (size_t)r->filter_results.n;
	vs_delete_acls_filter_result *out = r->filter_results.v;
	vs_slice why;
	int16_t refused = edit_refusal(c, &why);
	for (size_t i = 0; refused && i < n; i++) {
		out[i].error_code = refused;
		out[i].error_message = why;
	}
	if (refused)
		return VS_REPLY;
	acl_job *j = job_new(c, n);
	if (!j)
		return VS_CLOSE;
	for (size_t i = 0; i < n; i++) {
		const vs_delete_acls_filter *k = &q->filters.v[i];
		vs_acl_binding f = filter_of(k->resource_type_filter, k->resource_name_filter,
					     k->pattern_type_filter, k->principal_filter, k->host_filter,
					     k->operation, k->permission_type);
		char msg[256];
		if (vs_acl_filter_check(&f, msg, sizeof msg)) {
			out[i].error_code = KE_INVALID_REQUEST;
			out[i].error_message = vs_call_str(c, msg);
			continue;
		}
		j->v[j->n++] = (acl_item){ f, &out[i].error_code, &out[i].error_message, &out[i] };
	}
	return job_submit(c, j, delete_run);
}
