/* SPDX-License-Identifier: MIT */
/*
 * transport.h -- a connection's byte I/O, behind a small interface so a TLS
 * transport can replace plain TCP without touching framing (conn.c) or HTTP
 * (http.c). Everything above this layer sees only bytes in, bytes out, "it
 * would block, wait for this readiness", end of stream and errors.
 *
 * Contract of every transport (loop thread only):
 *  - read: > 0 bytes read, 0 the peer ended the stream, VS_TR_AGAIN when
 *    nothing can be read now (tr->want then says which socket readiness to
 *    wait for: a TLS read may need the socket writable), another -errno
 *    when the connection is broken;
 *  - writev: bytes written (> 0, maybe fewer than offered), VS_TR_AGAIN
 *    (with tr->want set), or -errno. Never raises SIGPIPE;
 *  - pending: bytes already inside the transport that the socket will not
 *    signal again (decrypted TLS records); the loop keeps reading while
 *    this is non-zero. Plain TCP: always 0;
 *  - shutdown_write: end our direction (TLS: close_notify, then FIN);
 *  - close: release everything and close the socket. Called exactly once.
 * EINTR is retried inside the transport and never returned.
 */
#ifndef VS_NET_TRANSPORT_H
#define VS_NET_TRANSPORT_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VS_TR_AGAIN (-EAGAIN)

enum {
	VS_TR_WANT_READ = 1,
	VS_TR_WANT_WRITE = 2
};

typedef struct vs_transport vs_transport;

typedef struct vs_transport_ops {
	ssize_t (*read)(vs_transport *t, void *buf, size_t cap);
	ssize_t (*writev)(vs_transport *t, const struct iovec *iov, int iovcnt);
	size_t (*pending)(vs_transport *t);
	void (*shutdown_write)(vs_transport *t);
	void (*close)(vs_transport *t);
} vs_transport_ops;

struct vs_transport {
	const vs_transport_ops *ops;
	int fd;
	int want;   /* VS_TR_WANT_* after the last VS_TR_AGAIN */
	void *impl; /* the transport's own state (TLS session) */
};

/* Plain TCP over a connected non-blocking socket fd (owned from now on). */
void vs_transport_plain(vs_transport *t, int fd);

#endif
