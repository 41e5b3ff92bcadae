/* SPDX-License-Identifier: MIT */
/*
 * transport.c -- the plain TCP transport (see transport.h): read(2), and
 * sendmsg(2) with MSG_NOSIGNAL so a peer that reset the connection costs an
 * EPIPE, never a SIGPIPE. Calls only libc.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

static ssize_t plain_read(vs_transport *t, void *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read(t->fd, buf, cap);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			t->want = VS_TR_WANT_READ;
			return VS_TR_AGAIN;
		}
		return -errno;
	}
}

static ssize_t plain_writev(vs_transport *t, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	for (;;) {
		ssize_t n = sendmsg(t->fd, &msg, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			t->want = VS_TR_WANT_WRITE;
			return VS_TR_AGAIN;
		}
		return -errno;
	}
}

static size_t plain_pending(vs_transport *t)
{
	(void)t;
	return 0;
}

static void plain_shutdown_write(vs_transport *t) { (void)shutdown(t->fd, SHUT_WR); }

static void plain_close(vs_transport *t)
{
	/* no retry on EINTR: Linux has released the descriptor either way */
	if (t->fd >= 0)
		(void)close(t->fd);
	t->fd = -1;
}

static const vs_transport_ops plain_ops = {
	.read = plain_read,
	.writev = plain_writev,
	.pending = plain_pending,
	.shutdown_write = plain_shutdown_write,
	.close = plain_close,
};

void vs_transport_plain(vs_transport *t, int fd)
{
	t->ops = &plain_ops;
	t->fd = fd;
	t->want = 0;
	t->impl = NULL;
}
