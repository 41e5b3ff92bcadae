/* SPDX-License-Identifier: MIT */
/*
 * test_transport.c -- server/net/transport.c, the plain transport: bytes
 * both ways, "would block" with the readiness to wait for, end of stream,
 * a reset peer (an error code, never SIGPIPE), shutdown and close.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/transport.h"

static void pair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

Test(transport, reads_and_writes_bytes)
{
	int sv[2];
	pair(sv);
	vs_transport t;
	vs_transport_plain(&t, sv[0]);
	char buf[16];
	cr_assert_eq(t.ops->read(&t, buf, sizeof buf), VS_TR_AGAIN);
	cr_assert_eq(t.want, VS_TR_WANT_READ);
	struct iovec iov[2] = { { "abc", 3 }, { "defg", 4 } };
	cr_assert_eq(t.ops->writev(&t, iov, 2), 7);
	cr_assert_eq(read(sv[1], buf, sizeof buf), 7);
	cr_assert_eq(memcmp(buf, "abcdefg", 7), 0);
	cr_assert_eq(write(sv[1], "xyz", 3), 3);
	cr_assert_eq(t.ops->read(&t, buf, sizeof buf), 3);
	cr_assert_eq(memcmp(buf, "xyz", 3), 0);
	cr_assert_eq(t.ops->pending(&t), 0);
	t.ops->close(&t);
	cr_assert_eq(t.fd, -1);
	cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "close did not close the socket");
	close(sv[1]);
}

Test(transport, full_socket_would_block_for_write)
{
	int sv[2];
	pair(sv);
	vs_transport t;
	vs_transport_plain(&t, sv[0]);
	static char chunk[65536];
	struct iovec iov = { chunk, sizeof chunk };
	ssize_t n;
	size_t total = 0;
	while ((n = t.ops->writev(&t, &iov, 1)) > 0)
		total += (size_t)n;
	cr_assert_eq(n, VS_TR_AGAIN);
	cr_assert_eq(t.want, VS_TR_WANT_WRITE);
	cr_assert_gt(total, 0);
	t.ops->close(&t);
	close(sv[1]);
}

Test(transport, end_of_stream_and_shutdown)
{
	int sv[2];
	pair(sv);
	vs_transport t;
	vs_transport_plain(&t, sv[0]);
	t.ops->shutdown_write(&t);
	char buf[4];
	cr_assert_eq(read(sv[1], buf, sizeof buf), 0, "the peer did not see our end");
	close(sv[1]);
	cr_assert_eq(t.ops->read(&t, buf, sizeof buf), 0);
	t.ops->close(&t);
}

Test(transport, writing_to_a_closed_peer_is_an_error_not_a_signal)
{
	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this test */
	int sv[2];
	pair(sv);
	vs_transport t;
	vs_transport_plain(&t, sv[0]);
	close(sv[1]);
	struct iovec iov = { "data", 4 };
	ssize_t n = t.ops->writev(&t, &iov, 1);
	cr_assert_eq(n, -EPIPE);
	t.ops->close(&t);
}
