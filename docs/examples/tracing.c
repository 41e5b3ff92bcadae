/* SPDX-License-Identifier: MIT */
/*
 * tracing -- carry a W3C trace context through the log (docs/API.md, "Trace
 * context").
 *
 *   tracing DIR     (DIR is removed first if it is a varve store or empty)
 *
 * A producer stamps each order with a `traceparent` header
 * (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>). A consumer in group
 * "shipping" reads it, continues the trace with a child span (same trace
 * id, new span id, the producer's span as parent) and stamps the record it
 * produces downstream with the child's traceparent. varve stores the header
 * like any other; the convention is the application's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "varve.h"

#define ORDERS 3

static int fail(const char *what, int rc)
{
	fprintf(stderr, "tracing: %s: %s (%s)\n", what, varve_errmsg(rc), varve_last_error()->message);
	return 1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int remove_store(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return 0;
	char version[4096];
	snprintf(version, sizeof version, "%s/VERSION", dir);
	int empty = 0;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		empty = 1;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = 0;
		closedir(d);
	}
	if (!empty && access(version, F_OK) != 0) {
		fprintf(stderr, "tracing: %s is neither empty nor a varve store\n", dir);
		return -1;
	}
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

/* ---- W3C trace context (https://www.w3.org/TR/trace-context/) ------------- */

#define TRACEPARENT "traceparent"
#define TRACEPARENT_LEN 55 /* 2 + 1 + 32 + 1 + 16 + 1 + 2 */

typedef struct trace_ctx {
	char trace_id[33]; /* 32 lowercase hex digits, not all zero */
	char span_id[17];  /* 16 lowercase hex digits, not all zero */
	unsigned flags;    /* bit 0: sampled */
} trace_ctx;

/* n random bytes as 2n lowercase hex digits, never all zero. */
static void random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	do {
		if (getrandom(b, nbytes, 0) != (ssize_t)nbytes) { /* fallback: not crypto, fine here */
			for (size_t i = 0; i < nbytes; i++)
				b[i] = (uint8_t)rand();
		}
	} while (!memcmp(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", nbytes));
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = 0;
}

static void format_traceparent(const trace_ctx *t, char out[TRACEPARENT_LEN + 1])
{
	/* the precisions bound each field, so the output fits */
	snprintf(out, TRACEPARENT_LEN + 1, "00-%.32s-%.16s-%02x", t->trace_id, t->span_id,
		 t->flags & 0xff);
}

static int hex_field(const char *p, size_t n, char *out)
{
	int nonzero = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		nonzero |= c != '0';
		out[i] = c;
	}
	out[n] = 0;
	return nonzero ? 0 : -1; /* all-zero ids are invalid */
}

/* Parse version 00 exactly; anything else is "no trace context". */
static int parse_traceparent(const void *value, size_t len, trace_ctx *t)
{
	const char *v = value;
	char flags[3];
	if (!v || len != TRACEPARENT_LEN || v[0] != '0' || v[1] != '0' || v[2] != '-' ||
	    v[35] != '-' || v[52] != '-')
		return -1;
	if (hex_field(v + 3, 32, t->trace_id) || hex_field(v + 36, 16, t->span_id))
		return -1;
	memcpy(flags, v + 53, 2);
	flags[2] = 0;
	char *end;
	t->flags = (unsigned)strtoul(flags, &end, 16);
	return *end ? -1 : 0;
}

static const varve_header *find_header(const varve_record *r, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < r->header_count; i++)
		if (r->headers[i].key_len == kl && !memcmp(r->headers[i].key, key, kl))
			return &r->headers[i];
	return NULL;
}

/* ---- producer and consumer ---------------------------------------------------------- */

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tracing-store";
	if (remove_store(dir))
		return 1;
	varve_options o = VARVE_OPTIONS_INIT;
	varve_db *db;
	int rc = varve_open(dir, &o, &db);
	if (rc)
		return fail("open", rc);
	varve_topic_config tc = VARVE_TOPIC_CONFIG_INIT;
	tc.partitions = 2;
	if ((rc = varve_topic_create(db, "orders", &tc)) ||
	    (rc = varve_topic_create(db, "shipments", &tc)))
		return fail("topic_create", rc);

	/* Producer: each order starts a trace (or would continue the caller's). */
	trace_ctx sent[ORDERS];
	for (int i = 0; i < ORDERS; i++) {
		random_hex(sent[i].trace_id, 16);
		random_hex(sent[i].span_id, 8); /* the span that produced the order */
		sent[i].flags = 0x01;           /* sampled */
		char tp[TRACEPARENT_LEN + 1], key[16], val[32];
		format_traceparent(&sent[i], tp);
		int kl = snprintf(key, sizeof key, "order-%d", i);
		int vl = snprintf(val, sizeof val, "{\"order\":%d}", i);
		varve_header h = { TRACEPARENT, strlen(TRACEPARENT), tp, TRACEPARENT_LEN };
		varve_record r = { .key = key, .key_len = (size_t)kl, .value = val,
				   .value_len = (size_t)vl, .headers = &h, .header_count = 1,
				   .timestamp = VARVE_TIMESTAMP_NOW, .partition = VARVE_PARTITION_ANY };
		int32_t part;
		int64_t off;
		if ((rc = varve_produce(db, "orders", &r, &part, &off)))
			return fail("produce", rc);
		printf("produced order-%d at orders/%d@%" PRId64 " with traceparent %s\n", i, part, off,
		       tp);
	}

	/* Consumer: continue each trace with a child span. */
	const char *topics[] = { "orders" };
	varve_consumer *c;
	if ((rc = varve_consumer_open(db, "shipping", topics, 1, NULL, &c)))
		return fail("consumer_open", rc);
	int handled = 0;
	while (handled < ORDERS) {
		const varve_msg *m;
		size_t n;
		if ((rc = varve_consumer_poll(c, 1000, &m, &n)))
			return fail("poll", rc);
		if (n == 0) {
			fprintf(stderr, "tracing: orders are missing\n");
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			const varve_record *r = &m[i].rec;
			const varve_header *h = find_header(r, TRACEPARENT);
			trace_ctx parent, child;
			if (!h || parse_traceparent(h->value, h->value_len, &parent)) {
				/* No (valid) context: a real consumer would start a new trace. */
				fprintf(stderr, "tracing: %s/%d@%" PRId64 " has no valid traceparent\n",
					m[i].topic, r->partition, r->offset);
				return 1;
			}
			/* The child span: same trace, new span id, parent = producer's span. */
			child = parent;
			random_hex(child.span_id, 8);
			char tp[TRACEPARENT_LEN + 1];
			format_traceparent(&child, tp);
			printf("consumed %.*s: trace %s, parent span %s -> child span %s\n",
			       (int)r->key_len, (const char *)r->key, parent.trace_id, parent.span_id,
			       child.span_id);

			/* Downstream work carries the child's context. */
			varve_header dh = { TRACEPARENT, strlen(TRACEPARENT), tp, TRACEPARENT_LEN };
			varve_record out = { .key = r->key, .key_len = r->key_len, .value = "shipped",
					     .value_len = 7, .headers = &dh, .header_count = 1,
					     .timestamp = VARVE_TIMESTAMP_NOW,
					     .partition = VARVE_PARTITION_ANY };
			if ((rc = varve_produce(db, "shipments", &out, NULL, NULL)))
				return fail("produce shipment", rc);

			/* Check: the trace continues and the span is new. */
			int idx = -1;
			for (int k = 0; k < ORDERS; k++)
				if (!strcmp(sent[k].trace_id, parent.trace_id))
					idx = k;
			if (idx < 0 || strcmp(sent[idx].span_id, parent.span_id) ||
			    !strcmp(child.span_id, parent.span_id)) {
				fprintf(stderr, "tracing: the trace context did not survive\n");
				return 1;
			}
			handled++;
		}
		if ((rc = varve_consumer_commit(c)))
			return fail("commit", rc);
	}
	varve_consumer_close(c);

	/* The shipments carry the same trace ids as the orders. */
	int found = 0;
	for (uint32_t p = 0; p < 2; p++) {
		varve_iter *it;
		if ((rc = varve_iter_open(db, "shipments", p, 0, &it)))
			return fail("iter_open", rc);
		const varve_record *r;
		while ((rc = varve_iter_next(it, &r)) == VARVE_OK) {
			const varve_header *h = find_header(r, TRACEPARENT);
			trace_ctx t;
			if (!h || parse_traceparent(h->value, h->value_len, &t)) {
				fprintf(stderr, "tracing: a shipment lost its traceparent\n");
				return 1;
			}
			for (int k = 0; k < ORDERS; k++)
				found += !strcmp(sent[k].trace_id, t.trace_id);
		}
		varve_iter_close(it);
		if (rc != VARVE_EEND)
			return fail("iter_next", rc);
	}
	if (found != ORDERS) {
		fprintf(stderr, "tracing: %d of %d shipments continue their order's trace\n", found,
			ORDERS);
		return 1;
	}
	printf("verified: %d shipments continue their orders' traces\n", found);
	if ((rc = varve_close(db)))
		return fail("close", rc);
	return 0;
}
