/* SPDX-License-Identifier: MIT */
/*
 * listen.c -- listening sockets and accepting: address parsing, binding,
 * the connection limits (total and per peer address), and the pause when
 * the process runs out of descriptors.
 *
 * A connection over a limit is accepted and closed at once, so the client
 * sees an orderly end instead of a hanging connect, and it is counted; the
 * broker never hears of it. Accept errors that concern one connection
 * (ECONNABORTED, ...) are counted and skipped; running out of descriptors
 * or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) or any unexpected error takes
 * every listener out of epoll for VS_ACCEPT_PAUSE_MS: with level-triggered
 * listeners, retrying at once would spin the loop at full CPU while the
 * pending connection stays in the backlog.
 *
 * Peer addresses are keyed as 16 bytes, IPv4 as its IPv4-mapped IPv6 form,
 * so both families share one per-address count. A TLS listener hands its
 * certificate (tls.h) to each connection it accepts. Calls libc, conn.c,
 * and the loop's maps and stats.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net.h"

#define VS_ACCEPTS_PER_EVENT 64
#define VS_LISTEN_BACKLOG 1024

/* ---- addresses ---------------------------------------------------------- */

/* "host:port", "[v6]:port" or ":port" -> host ("" = any) and port. */
static int split_addr(const char *addr, char *host, size_t host_cap, char *port, size_t port_cap)
{
	const char *colon;
	const char *h = addr;
	size_t hlen;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return -1;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			return -1; /* none, or an IPv6 address without brackets */
		hlen = (size_t)(colon - addr);
	}
	const char *p = colon + 1;
	size_t plen = strlen(p);
	if (hlen >= host_cap || plen == 0 || plen >= port_cap)
		return -1;
	unsigned long v = 0;
	for (size_t i = 0; i < plen; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
		if (v > 65535)
			return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = 0;
	memcpy(port, p, plen + 1);
	return 0;
}

static vs_key peer_key(const struct sockaddr_storage *ss)
{
	uint8_t b[16] = { 0 };
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		b[10] = b[11] = 0xff;
		memcpy(b + 12, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		memcpy(b, &s6->sin6_addr, 16);
	}
	return (vs_key){ vs_be64(b), vs_be64(b + 8) };
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

/* strerror, starting in lower case as the loop's messages do. */
static void describe_errno(int err, char *out, size_t cap)
{
	char buf[128];
	const char *msg = strerror_r(err, buf, sizeof buf);
	snprintf(out, cap, "%s", msg);
	if (out[0])
		out[0] = (char)tolower((unsigned char)out[0]);
}

/* ---- listening ---------------------------------------------------------- */

/* A bound, listening, non-blocking socket for one resolved address;
 * the fd or -errno. */
static int open_listener(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int one = 1;
	/* restarting the broker must not wait for TIME_WAIT sockets */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, VS_LISTEN_BACKLOG) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static int bind_addr(vs_loop *l, const char *addr, int *fd_out)
{
	char host[256], port[8];
	if (split_addr(addr, host, sizeof host, port, sizeof port) < 0) {
		vs_loop_set_error(l, EINVAL, "%s: expected host:port, [ipv6]:port or :port", addr);
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		vs_loop_set_error(l, EINVAL, "%s: %s", addr, gai_strerror(gai));
		return -EINVAL;
	}
	int rc = -EADDRNOTAVAIL;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		rc = open_listener(ai);
		if (rc >= 0)
			break;
	}
	freeaddrinfo(res);
	if (rc < 0) {
		char why[128];
		describe_errno(-rc, why, sizeof why);
		vs_loop_set_error(l, -rc, "%s: %s", addr, why);
		return rc;
	}
	*fd_out = rc;
	return 0;
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

static int listen_on(vs_loop *l, const char *addr, int kind, struct vs_tls *tls, int *bound_port)
{
	if (kind != VS_LISTEN_KAFKA && kind != VS_LISTEN_HTTP) {
		vs_loop_set_error(l, EINVAL, "%s: unknown listener kind %d", addr, kind);
		return -EINVAL;
	}
	if (l->draining) {
		vs_loop_set_error(l, ESHUTDOWN, "%s: the loop is stopping", addr);
		return -ESHUTDOWN;
	}
	int fd;
	int rc = bind_addr(l, addr, &fd);
	if (rc < 0)
		return rc;
	vs_listener *ls = calloc(1, sizeof *ls);
	vs_listener **nl = realloc(l->listeners, (l->n_listeners + 1) * sizeof *nl);
	if (nl)
		l->listeners = nl;
	if (!ls || !nl) {
		free(ls);
		close(fd);
		vs_loop_set_error(l, ENOMEM, "%s: out of memory", addr);
		return -ENOMEM;
	}
	ls->h.kind = VS_H_LISTENER;
	ls->loop = l;
	ls->fd = fd;
	ls->kind = kind;
	ls->index = (int)l->n_listeners;
	ls->tls = tls;
	struct epoll_event ev = { .events = l->accept_paused ? 0 : EPOLLIN, .data.ptr = &ls->h };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		free(ls);
		close(fd);
		vs_loop_set_error(l, err, "%s: epoll: %s", addr, strerror(err));
		return -err;
	}
	l->listeners[l->n_listeners++] = ls;
	if (bound_port)
		*bound_port = local_port(fd);
	return 0;
}

int vs_loop_listen(vs_loop *l, const char *addr, int kind, int *bound_port)
{
	return listen_on(l, addr, kind, NULL, bound_port);
}

int vs_loop_listen_tls(vs_loop *l, const char *addr, struct vs_tls *tls, int *bound_port)
{
	if (!tls) {
		vs_loop_set_error(l, EINVAL, "%s: a TLS listener needs a certificate", addr);
		return -EINVAL;
	}
	return listen_on(l, addr, VS_LISTEN_KAFKA, tls, bound_port);
}

void vs_listeners_close(vs_loop *l)
{
	for (size_t i = 0; i < l->n_listeners; i++) {
		vs_listener *ls = l->listeners[i];
		if (ls->fd < 0)
			continue;
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, ls->fd, NULL);
		close(ls->fd);
		ls->fd = -1;
	}
}

/* ---- accepting ---------------------------------------------------------- */

static void set_listeners_events(vs_loop *l, uint32_t events)
{
	for (size_t i = 0; i < l->n_listeners; i++) {
		vs_listener *ls = l->listeners[i];
		if (ls->fd < 0)
			continue;
		struct epoll_event ev = { .events = events, .data.ptr = &ls->h };
		(void)epoll_ctl(l->epfd, EPOLL_CTL_MOD, ls->fd, &ev);
	}
}

static void accept_pause(vs_loop *l)
{
	if (l->accept_paused)
		return;
	l->accept_paused = 1;
	l->accept_resume_ms = l->now_ms + VS_ACCEPT_PAUSE_MS;
	l->st.accept_pauses++;
	set_listeners_events(l, 0);
}

void vs_accept_resume(vs_loop *l)
{
	if (!l->accept_paused)
		return;
	l->accept_paused = 0;
	set_listeners_events(l, EPOLLIN);
}

void vs_peer_unref(vs_loop *l, vs_key key)
{
	vs_map_val *v = vs_map_get(&l->per_ip, key);
	if (v && --v->n == 0)
		vs_map_del(&l->per_ip, key);
}

/* Limits, then a connection for fd (closed here if refused). */
static void admit(vs_listener *ls, int fd, const struct sockaddr_storage *ss)
{
	vs_loop *l = ls->loop;
	vs_key key = peer_key(ss);
	if (l->st.conns_open >= l->cfg.max_connections) {
		l->st.conns_refused_max++;
		close(fd);
		return;
	}
	int created;
	vs_map_val *v = vs_map_put(&l->per_ip, key, &created);
	if (!v) {
		l->st.accept_errors++;
		close(fd);
		return;
	}
	if (v->n >= l->cfg.max_connections_per_ip) {
		l->st.conns_refused_per_ip++;
		close(fd);
		return;
	}
	v->n++;
	int one = 1;
	/* responses are whole frames: never wait to coalesce them */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char peer[64];
	format_peer(ss, peer, sizeof peer);
	if (!vs_conn_new(l, fd, ls, peer, key)) {
		vs_peer_unref(l, key);
		l->st.accept_errors++;
		close(fd);
		return;
	}
	l->st.conns_accepted++;
	l->st.conns_open++;
}

/* Errors that end one pending connection and leave the listener fine. */
static int error_is_per_connection(int err)
{
	switch (err) {
	case ECONNABORTED:
	case EPROTO:
	case EPERM:
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENONET:
	case ENOPROTOOPT:
	case EOPNOTSUPP:
	case ETIMEDOUT:
		return 1;
	default:
		return 0;
	}
}

void vs_listener_on_event(vs_listener *ls)
{
	vs_loop *l = ls->loop;
	for (int i = 0; i < VS_ACCEPTS_PER_EVENT; i++) {
		if (ls->fd < 0 || l->accept_paused || l->draining)
			return;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		memset(&ss, 0, sizeof ss);
		int fd = accept4(ls->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			admit(ls, fd, &ss);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		l->st.accept_errors++;
		if (!error_is_per_connection(errno)) {
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse */
			accept_pause(l);
			return;
		}
	}
}
