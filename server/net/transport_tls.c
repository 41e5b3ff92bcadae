/* SPDX-License-Identifier: MIT */
/*
 * transport_tls.c -- the TLS transport and its server configuration (see
 * tls.h for the guarantees, transport.h for the contract).
 *
 * Reads drive the handshake: the loop reads a new connection when the
 * client's first bytes arrive, and SSL_read answers the ClientHello. One
 * read call takes as many decrypted records as fit the caller's buffer.
 *
 * Writes. SSL_write must be retried with the same bytes after it reported
 * WANT_*; the loop offers its unsent responses again from the same place,
 * but gathered differently. So the transport copies up to one record's
 * worth of the offered iovecs into its own buffer and keeps them there
 * while a write of them is pending: the retry uses that copy, and only
 * bytes OpenSSL took are reported written. Coalescing also keeps small
 * responses from costing one record each.
 *
 * The socket BIO is our own (send with MSG_NOSIGNAL, recv): OpenSSL's uses
 * write(2), which raises SIGPIPE on a reset connection.
 *
 * Invariants: tc->wlen > 0 only while an SSL_write of wbuf[0..wlen) is
 * pending; tc->subject is computed once, after the handshake, from a
 * certificate OpenSSL verified. Calls OpenSSL and libc.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

/* The largest plaintext of one TLS record. */
#define TLS_RECORD_BYTES 16384
/* Records written per writev call before letting the loop go on. */
#define TLS_RECORDS_PER_WRITE 16

struct vs_tls {
	SSL_CTX *ctx; /* the context new connections get */
	char *cert_file, *key_file, *ca_file;
	int client_auth;
	vs_tls_stats st;
};

typedef struct tls_conn {
	SSL *ssl;
	vs_tls *tls;
	char *subject;
	uint8_t handshake_done;
	uint8_t failure_counted;
	uint8_t subject_done;
	uint8_t shut;
	uint8_t broken; /* a fatal error: no close_notify (OpenSSL forbids it) */
	uint8_t *wbuf; /* TLS_RECORD_BYTES, allocated at the first write */
	size_t wlen;
} tls_conn;

/* ---- the socket BIO ---------------------------------------------------------- */

static BIO_METHOD *sock_method;
static pthread_once_t sock_method_once = PTHREAD_ONCE_INIT;

static int bio_fd(BIO *b) { return (int)(intptr_t)BIO_get_data(b); }

static int bio_write(BIO *b, const char *buf, int len)
{
	BIO_clear_retry_flags(b);
	for (;;) {
		ssize_t n = send(bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		return -1;
	}
}

static int bio_read(BIO *b, char *buf, int len)
{
	BIO_clear_retry_flags(b);
	for (;;) {
		ssize_t n = recv(bio_fd(b), buf, (size_t)len, 0);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_read(b);
		return -1;
	}
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* writes go straight to the socket: nothing to flush; every other
	 * control (kernel TLS, peeking) is not supported */
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void make_sock_method(void)
{
	int index = BIO_get_new_index();
	BIO_METHOD *m = index < 0 ? NULL : BIO_meth_new(BIO_TYPE_SOURCE_SINK | index, "varve socket");
	if (!m)
		return;
	if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
		BIO_meth_free(m);
		return;
	}
	sock_method = m;
}

/* ---- contexts ----------------------------------------------------------------- */

/* "what: OpenSSL's reason" into err; the error queue is emptied. */
static void ssl_fail(char *err, size_t cap, const char *what, const char *file)
{
	/* the first error says most (a missing file: "No such file or directory") */
	unsigned long e = ERR_peek_error();
	char reason[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, reason, sizeof reason);
	ERR_clear_error();
	if (err && cap)
		snprintf(err, cap, "%s%s%s: %s", file ? file : "", file ? ": " : "", what, reason);
}

/* An encrypted key must fail to load, not prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int load_verify(SSL_CTX *ctx, const vs_tls *tls, char *err, size_t cap)
{
	if (!SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL)) {
		ssl_fail(err, cap, "cannot load the client CA file", tls->ca_file);
		return -1;
	}
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(tls->ca_file);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	int mode = SSL_VERIFY_PEER;
	if (tls->client_auth != VS_TLS_CLIENT_REQUESTED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	return 0;
}

/* A new context from tls's files, or NULL with a message. */
static SSL_CTX *build_ctx(const vs_tls *tls, char *err, size_t cap)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_fail(err, cap, "cannot make a TLS context", NULL);
		return NULL;
	}
	static const unsigned char sid_ctx[] = "varve";
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* IGNORE_UNEXPECTED_EOF: many clients close without close_notify,
	 * which is an end of stream here, not an error */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	/* resumed sessions of verified clients need a context id */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
	int ok = 0;
	if (!SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file))
		ssl_fail(err, cap, "cannot load the certificate chain", tls->cert_file);
	else if (!SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM))
		ssl_fail(err, cap, "cannot load the private key", tls->key_file);
	else if (!SSL_CTX_check_private_key(ctx))
		ssl_fail(err, cap, "the private key does not match the certificate", tls->key_file);
	else
		ok = !tls->ca_file || load_verify(ctx, tls, err, cap) == 0;
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int vs_tls_new(const vs_tls_config *cfg, vs_tls **out, char *err, size_t err_cap)
{
	*out = NULL;
	if (!cfg || !cfg->cert_file || !cfg->key_file) {
		snprintf(err, err_cap, "TLS needs a certificate file and a key file");
		return -EINVAL;
	}
	pthread_once(&sock_method_once, make_sock_method);
	vs_tls *tls = calloc(1, sizeof *tls);
	if (!tls || !sock_method || !(tls->cert_file = strdup(cfg->cert_file)) ||
	    !(tls->key_file = strdup(cfg->key_file)) ||
	    (cfg->ca_file && !(tls->ca_file = strdup(cfg->ca_file)))) {
		vs_tls_free(tls);
		snprintf(err, err_cap, "TLS: out of memory");
		return -ENOMEM;
	}
	tls->client_auth = cfg->ca_file ? cfg->client_auth : VS_TLS_CLIENT_NONE;
	if (tls->ca_file && tls->client_auth == VS_TLS_CLIENT_NONE)
		tls->client_auth = VS_TLS_CLIENT_REQUIRED;
	tls->ctx = build_ctx(tls, err, err_cap);
	if (!tls->ctx) {
		vs_tls_free(tls);
		return -EINVAL;
	}
	tls->st.loads = 1;
	*out = tls;
	return 0;
}

int vs_tls_reload(vs_tls *tls, char *err, size_t err_cap)
{
	SSL_CTX *ctx = build_ctx(tls, err, err_cap);
	if (!ctx) {
		tls->st.reload_failures++;
		return -EINVAL;
	}
	/* connections made from the old context hold references to it */
	SSL_CTX_free(tls->ctx);
	tls->ctx = ctx;
	tls->st.loads++;
	return 0;
}

void vs_tls_free(vs_tls *tls)
{
	if (!tls)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls->cert_file);
	free(tls->key_file);
	free(tls->ca_file);
	free(tls);
}

void vs_tls_get_stats(const vs_tls *tls, vs_tls_stats *out) { *out = tls->st; }

/* ---- the transport ----------------------------------------------------------- */

static void note_handshake(tls_conn *tc)
{
	if (!tc->handshake_done && SSL_is_init_finished(tc->ssl)) {
		tc->handshake_done = 1;
		tc->tls->st.handshakes++;
	}
}

/* An SSL_read/SSL_write result that moved no bytes, as the contract's
 * return value. */
static ssize_t tls_result(vs_transport *t, tls_conn *tc, int ssl_err, int sys_err)
{
	/* the handshake may have finished inside this call, before the end
	 * of stream or error that stopped it */
	note_handshake(tc);
	switch (ssl_err) {
	case SSL_ERROR_WANT_READ:
		t->want = VS_TR_WANT_READ;
		return VS_TR_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want = VS_TR_WANT_WRITE;
		return VS_TR_AGAIN;
	default:
		break;
	}
	if (!tc->handshake_done && !tc->failure_counted) {
		/* a plaintext client, a protocol older than TLS 1.2, a client
		 * certificate that did not verify, or a client that left */
		tc->failure_counted = 1;
		tc->tls->st.handshake_failures++;
	}
	ERR_clear_error();
	if (ssl_err != SSL_ERROR_ZERO_RETURN)
		tc->broken = 1;
	if (ssl_err == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (ssl_err == SSL_ERROR_SYSCALL)
		return sys_err ? -sys_err : 0;
	return -EPROTO;
}

static ssize_t tls_read(vs_transport *t, void *buf, size_t cap)
{
	tls_conn *tc = t->impl;
	size_t got = 0;
	while (got < cap) {
		size_t want = cap - got < INT_MAX ? cap - got : INT_MAX;
		ERR_clear_error();
		errno = 0;
		int n = SSL_read(tc->ssl, (uint8_t *)buf + got, (int)want);
		int sys = errno;
		if (n > 0) {
			note_handshake(tc);
			got += (size_t)n;
			continue;
		}
		int e = SSL_get_error(tc->ssl, n);
		if (e == SSL_ERROR_SYSCALL && sys == EINTR)
			continue;
		/* bytes first: whatever stopped us happens again next call */
		if (got)
			return (ssize_t)got;
		return tls_result(t, tc, e, sys);
	}
	return (ssize_t)got;
}

/* Copy up to cap bytes of the iovecs, after the first skip bytes. */
static size_t gather(const struct iovec *iov, int iovcnt, size_t skip, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (int i = 0; i < iovcnt && n < cap; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		size_t take = len - skip < cap - n ? len - skip : cap - n;
		memcpy(out + n, (const uint8_t *)iov[i].iov_base + skip, take);
		n += take;
		skip = 0;
	}
	return n;
}

static ssize_t tls_writev(vs_transport *t, const struct iovec *iov, int iovcnt)
{
	tls_conn *tc = t->impl;
	if (!tc->wbuf && !(tc->wbuf = malloc(TLS_RECORD_BYTES)))
		return -ENOMEM;
	size_t done = 0;
	for (int rec = 0; rec < TLS_RECORDS_PER_WRITE;) {
		/* a pending write is retried with its own bytes: they are the
		 * ones the caller offers first again */
		if (!tc->wlen)
			tc->wlen = gather(iov, iovcnt, done, tc->wbuf, TLS_RECORD_BYTES);
		if (!tc->wlen)
			break;
		ERR_clear_error();
		errno = 0;
		int n = SSL_write(tc->ssl, tc->wbuf, (int)tc->wlen);
		int sys = errno;
		if (n > 0) {
			note_handshake(tc);
			done += (size_t)n;
			tc->wlen -= (size_t)n;
			if (tc->wlen)
				memmove(tc->wbuf, tc->wbuf + n, tc->wlen);
			rec++;
			continue;
		}
		int e = SSL_get_error(tc->ssl, n);
		if (e == SSL_ERROR_SYSCALL && sys == EINTR)
			continue;
		if (done)
			return (ssize_t)done;
		tc->wlen = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? tc->wlen : 0;
		ssize_t rc = tls_result(t, tc, e, sys);
		/* the contract: a write that moved nothing is AGAIN or an error */
		return rc == 0 ? -EPIPE : rc;
	}
	return (ssize_t)done;
}

static size_t tls_pending(vs_transport *t)
{
	tls_conn *tc = t->impl;
	int n = SSL_pending(tc->ssl);
	return n > 0 ? (size_t)n : 0;
}

/* close_notify, best effort (the socket is non-blocking): the peer can
 * tell our end from a cut connection. */
static void send_close_notify(tls_conn *tc)
{
	if (tc->handshake_done && !tc->shut && !tc->broken) {
		ERR_clear_error();
		(void)SSL_shutdown(tc->ssl);
		ERR_clear_error();
	}
	tc->shut = 1;
}

static void tls_shutdown_write(vs_transport *t)
{
	tls_conn *tc = t->impl;
	send_close_notify(tc);
	(void)shutdown(t->fd, SHUT_WR);
}

static void tls_close(vs_transport *t)
{
	tls_conn *tc = t->impl;
	if (tc) {
		note_handshake(tc);
		if (!tc->handshake_done && !tc->failure_counted)
			tc->tls->st.handshake_failures++;
		send_close_notify(tc);
		SSL_free(tc->ssl);
		free(tc->subject);
		free(tc->wbuf);
		free(tc);
	}
	t->impl = NULL;
	if (t->fd >= 0)
		(void)close(t->fd);
	t->fd = -1;
}

static const vs_transport_ops tls_ops = {
	.read = tls_read,
	.writev = tls_writev,
	.pending = tls_pending,
	.shutdown_write = tls_shutdown_write,
	.close = tls_close,
};

int vs_transport_tls(vs_transport *t, int fd, vs_tls *tls)
{
	tls_conn *tc = calloc(1, sizeof *tc);
	BIO *bio = NULL;
	if (tc)
		tc->ssl = SSL_new(tls->ctx);
	if (tc && tc->ssl)
		bio = BIO_new(sock_method);
	if (!bio) {
		if (tc)
			SSL_free(tc->ssl);
		free(tc);
		ERR_clear_error();
		return -ENOMEM;
	}
	BIO_set_data(bio, (void *)(intptr_t)fd);
	SSL_set_bio(tc->ssl, bio, bio); /* the SSL owns the BIO; the BIO not the fd */
	SSL_set_accept_state(tc->ssl);
	tc->tls = tls;
	t->ops = &tls_ops;
	t->fd = fd;
	t->want = 0;
	t->impl = tc;
	return 0;
}

/* The RFC 2253 form of a name, UTF-8 kept as it is (as Java prints it). */
static char *name_rfc2253(X509_NAME *name)
{
	BIO *mem = BIO_new(BIO_s_mem());
	if (!mem)
		return NULL;
	char *out = NULL;
	unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
	if (X509_NAME_print_ex(mem, name, 0, flags) >= 0) {
		char *data;
		long len = BIO_get_mem_data(mem, &data);
		if (len >= 0 && (out = malloc((size_t)len + 1))) {
			memcpy(out, data, (size_t)len);
			out[len] = 0;
			/* a NUL inside the name would cut it short: no principal */
			if (strlen(out) != (size_t)len) {
				free(out);
				out = NULL;
			}
		}
	}
	BIO_free(mem);
	return out;
}

const char *vs_transport_tls_subject(vs_transport *t)
{
	if (t->ops != &tls_ops)
		return NULL;
	tls_conn *tc = t->impl;
	if (!tc->subject_done && tc->handshake_done) {
		tc->subject_done = 1;
		X509 *peer = SSL_get0_peer_certificate(tc->ssl);
		if (peer && SSL_get_verify_result(tc->ssl) == X509_V_OK)
			tc->subject = name_rfc2253(X509_get_subject_name(peer));
		ERR_clear_error();
	}
	return tc->subject;
}
