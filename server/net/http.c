/* SPDX-License-Identifier: MIT */
/*
 * http.c -- just enough HTTP/1.1 for a Prometheus scrape on a
 * VS_LISTEN_HTTP connection: one request per connection.
 *
 * The request head (request line and headers, up to the empty line) is
 * collected in the connection's input buffer, at most VS_HTTP_MAX_REQUEST
 * bytes (conn.c never reads further; past that: 413). The request line must
 * be "METHOD SP /path SP HTTP/1.x"; a method other than GET gets 405 with
 * "Allow: GET", anything malformed (a NUL byte, a target that is not an
 * absolute path, an unknown version) gets 400. Headers are not
 * interpreted. A body is never read: it is discarded by the linger that
 * follows every response. The path, cut at '?' or '#', goes to on_http.
 *
 * Every response carries Content-Type, Content-Length and "Connection:
 * close"; it is the connection's only output, and conn.c then ends our side
 * and lingers (see loop.h). Calls conn.c, kbuf.h's writer and on_http.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#define VS_HTTP_MAX_PATH 1024
#define VS_HTTP_DEFAULT_TYPE "text/plain; version=0.0.4"

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

/* A content type from the broker goes into a header: no CR, LF or
 * other control bytes, bounded. */
static int safe_header_value(const char *v)
{
	size_t n = 0;
	for (; v[n]; n++) {
		if ((unsigned char)v[n] < 0x20 || v[n] == 0x7f || n >= 128)
			return 0;
	}
	return n > 0;
}

static void send_response(vs_conn *c, int status, const char *ctype, const uint8_t *body,
			  size_t blen)
{
	char head[320];
	int hn = snprintf(head, sizeof head,
			  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			  "Connection: close\r\n\r\n",
			  status, reason_phrase(status), ctype, blen,
			  status == 405 ? "Allow: GET\r\n" : "");
	vs_wbuf w;
	vs_wbuf_init(&w);
	if (hn > 0 && (size_t)hn < sizeof head)
		vs_w_raw(&w, head, (size_t)hn);
	else
		w.err = VS_KBUF_LIMIT;
	vs_w_raw(&w, body, blen);
	c->close_after_flush = 1;
	if (w.err) {
		vs_wbuf_free(&w);
		vs_conn_close(c, VS_CLOSE_ERROR);
		return;
	}
	size_t len;
	uint8_t *buf = vs_wbuf_take(&w, &len);
	if (vs_conn_queue_output(c, buf, len) < 0)
		vs_conn_close(c, VS_CLOSE_ERROR);
}

/* The loop's own refusals (400, 405, 413). */
static void send_error(vs_conn *c, int status)
{
	char body[64];
	int n = snprintf(body, sizeof body, "%d %s\n", status, reason_phrase(status));
	c->loop->st.http_errors++;
	send_response(c, status, "text/plain; charset=utf-8", (const uint8_t *)body, (size_t)n);
}

/* Length of the request head including its empty line, or 0 if the buffer
 * does not hold it all yet. Bare LF line ends are accepted too. */
static size_t head_length(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

typedef struct http_line {
	const char *method, *target, *version;
	size_t method_len, target_len, version_len;
} http_line;

/* Split "METHOD SP target SP version" (the line without its end); 0 or -1. */
static int split_request_line(const char *p, size_t n, http_line *out)
{
	const char *sp1 = memchr(p, ' ', n);
	if (!sp1)
		return -1;
	const char *rest = sp1 + 1;
	size_t rest_len = n - (size_t)(rest - p);
	const char *sp2 = memchr(rest, ' ', rest_len);
	if (!sp2)
		return -1;
	out->method = p;
	out->method_len = (size_t)(sp1 - p);
	out->target = rest;
	out->target_len = (size_t)(sp2 - rest);
	out->version = sp2 + 1;
	out->version_len = n - (size_t)(out->version - p);
	return 0;
}

static int is_token(const char *p, size_t n)
{
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 'A' || p[i] > 'Z')
			return 0;
	}
	return 1;
}

static int version_ok(const char *v, size_t n)
{
	return n == 8 && (memcmp(v, "HTTP/1.1", 8) == 0 || memcmp(v, "HTTP/1.0", 8) == 0);
}

/* The path part of an origin-form target into path; 0, or -1 if the
 * target is not one. */
static int target_path(const char *t, size_t n, char *path, size_t cap)
{
	if (n == 0 || t[0] != '/')
		return -1;
	size_t len = 0;
	while (len < n && t[len] != '?' && t[len] != '#')
		len++;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f)
			return -1;
	}
	if (len >= cap)
		return -1;
	memcpy(path, t, len);
	path[len] = 0;
	return 0;
}

static void answer_get(vs_conn *c, const char *path)
{
	vs_loop *l = c->loop;
	vs_wbuf body;
	vs_wbuf_init(&body);
	const char *ctype = NULL;
	int status = 404;
	if (l->cb.on_http)
		status = l->cb.on_http(l->cb.ctx, path, &body, &ctype);
	if (status < 200 || status > 599 || body.err) {
		status = 500;
		vs_wbuf_reset(&body);
	}
	if (!ctype || !safe_header_value(ctype))
		ctype = VS_HTTP_DEFAULT_TYPE;
	l->st.http_requests++;
	send_response(c, status, ctype, body.buf, body.len);
	vs_wbuf_free(&body);
}

static void handle_request(vs_conn *c, const uint8_t *head, size_t len)
{
	if (memchr(head, 0, len)) {
		send_error(c, 400);
		return;
	}
	const char *p = (const char *)head;
	/* RFC 9112 2.2: ignore empty lines before the request line */
	while (len && (*p == '\r' || *p == '\n')) {
		p++;
		len--;
	}
	const char *eol = memchr(p, '\n', len);
	if (!eol) {
		send_error(c, 400);
		return;
	}
	size_t line_len = (size_t)(eol - p);
	if (line_len && p[line_len - 1] == '\r')
		line_len--;
	http_line rl;
	char path[VS_HTTP_MAX_PATH];
	if (split_request_line(p, line_len, &rl) < 0 || !is_token(rl.method, rl.method_len) ||
	    !version_ok(rl.version, rl.version_len) ||
	    target_path(rl.target, rl.target_len, path, sizeof path) < 0) {
		send_error(c, 400);
		return;
	}
	if (rl.method_len != 3 || memcmp(rl.method, "GET", 3) != 0) {
		send_error(c, 405);
		return;
	}
	answer_get(c, path);
}

void vs_http_input(vs_conn *c, const uint8_t *data, size_t n)
{
	if (c->close_after_flush)
		return; /* answered already: the rest is the linger's */
	if (vs_conn_input_append(c, data, n) < 0) {
		vs_conn_close(c, VS_CLOSE_ERROR);
		return;
	}
	size_t hl = head_length(c->in, c->in_len);
	if (hl == 0 ? c->in_len > VS_HTTP_MAX_REQUEST : hl > VS_HTTP_MAX_REQUEST) {
		send_error(c, 413);
		return;
	}
	if (hl)
		handle_request(c, c->in, hl);
}
