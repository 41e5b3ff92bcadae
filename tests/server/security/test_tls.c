/* SPDX-License-Identifier: MIT */
/*
 * test_tls.c -- the TLS transport (server/net/transport_tls.c) under the
 * network loop, against an OpenSSL client on 127.0.0.1, with certificates
 * made by the openssl command for each test: requests and answers cross
 * TLS; TLS 1.1 and plaintext clients are refused before any request;
 * client certificates are required, verified against the CA and their
 * subject reported in RFC 2253 form (or let through anonymous when only
 * requested); a reload serves the new certificate to new connections while
 * old ones go on, and a failed reload keeps the old one; an 8 MiB answer to
 * a slow reader crosses the retried writes intact; an encrypted key is
 * refused; vs_loop_close_after_flush delivers the answer, then the end.
 *
 * The test server answers each request with "subject|" + the request, or
 * with n pattern bytes for "B<u32 n>", or answers and closes after the
 * answer for "F".
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/loop.h"
#include "net/tls.h"

#define TIMEOUT_S 10

static char dir[512];

/* ---- certificates ---------------------------------------------------------------------- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[4600];
	snprintf(full, sizeof full, "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	cr_assert_eq(system(full), 0, "failed: %s", cmd);
}

static const char *at(const char *name)
{
	static char paths[8][700];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 700, "%s/%s", dir, name);
	return p;
}

/* A CA, and a certificate of subj signed by it (EC P-256, one day). */
static void make_ca(const char *ca)
{
	sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key "
	   "-out %s.pem -days 1 -subj /CN=%s", ca, ca, ca);
}

static void make_cert(const char *ca, const char *name, const char *subj)
{
	sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.csr "
	   "-subj '%s' && printf 'subjectAltName=IP:127.0.0.1\\n' > %s.ext && openssl x509 -req -in "
	   "%s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -out %s.pem -days 1 -extfile %s.ext",
	   name, name, subj, name, name, ca, ca, name, name);
}

static void setup(void)
{
	const char *tmp = getenv("VARVE_TEST_TMPDIR");
	char base[400];
	snprintf(base, sizeof base, "%s", tmp && *tmp ? tmp : "/tmp");
	mkdir(base, 0700);
	snprintf(dir, sizeof dir, "%s/tls-XXXXXX", base);
	cr_assert(mkdtemp(dir));
	make_ca("ca");
	make_cert("ca", "server", "/CN=server-1");
	make_cert("ca", "client", "/O=Acme/CN=client-1");
	signal(SIGPIPE, SIG_IGN);
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(tls, .init = setup, .fini = teardown);

/* ---- the server ------------------------------------------------------------------------ */

typedef struct srv {
	vs_loop *loop;
	vs_tls *tls;
	pthread_t thread;
	int port, plain_port;
	atomic_int requests;
	sem_t done;
	int reload_rc;
	char reload_err[512];
} srv;

static void respond(vs_loop *l, vs_conn_id id, uint64_t seq, const void *p, size_t n, size_t fill)
{
	uint8_t *f = malloc(4 + n + fill);
	cr_assert(f);
	vs_put_be32(f, (uint32_t)(n + fill));
	memcpy(f + 4, p, n);
	for (size_t i = 0; i < fill; i++)
		f[4 + n + i] = (uint8_t)i;
	vs_loop_respond(l, id, seq, f, 4 + n + fill);
}

static void on_request(void *ctx, vs_loop *l, const vs_conn_info *c, uint64_t seq,
		       const uint8_t *frame, size_t len)
{
	srv *s = ctx;
	atomic_fetch_add(&s->requests, 1);
	if (len == 5 && frame[0] == 'B') {
		respond(l, c->id, seq, "", 0, vs_be32(frame + 1));
		return;
	}
	char out[4096];
	int n = snprintf(out, sizeof out, "%s|%.*s", c->tls_subject ? c->tls_subject : "-", (int)len,
			 (const char *)frame);
	respond(l, c->id, seq, out, (size_t)n, 0);
	if (len == 1 && frame[0] == 'F')
		vs_loop_close_after_flush(l, c->id);
}

static void *run(void *arg)
{
	srv *s = arg;
	cr_assert_eq(vs_loop_run(s->loop), 0);
	return NULL;
}

static void start(srv *s, const char *ca, int client_auth)
{
	memset(s, 0, sizeof *s);
	char err[512];
	vs_tls_config tc = { at("server.pem"), at("server.key"), ca ? at(ca) : NULL, client_auth };
	cr_assert_eq(vs_tls_new(&tc, &s->tls, err, sizeof err), 0, "%s", err);
	vs_loop_callbacks cb = { s, on_request, NULL, NULL };
	cr_assert_eq(vs_loop_new(NULL, &cb, &s->loop), 0);
	cr_assert_eq(vs_loop_listen_tls(s->loop, "127.0.0.1:0", s->tls, &s->port), 0);
	cr_assert_eq(vs_loop_listen(s->loop, "127.0.0.1:0", VS_LISTEN_KAFKA, &s->plain_port), 0);
	sem_init(&s->done, 0, 0);
	cr_assert_eq(pthread_create(&s->thread, NULL, run, s), 0);
}

static void stop(srv *s)
{
	vs_loop_stop(s->loop);
	pthread_join(s->thread, NULL);
	vs_loop_free(s->loop);
	vs_tls_free(s->tls);
}

static void reload_on_loop(void *arg)
{
	srv *s = arg;
	s->reload_rc = vs_tls_reload(s->tls, s->reload_err, sizeof s->reload_err);
	sem_post(&s->done);
}

static int reload(srv *s)
{
	cr_assert_eq(vs_loop_post(s->loop, reload_on_loop, s), 0);
	sem_wait(&s->done);
	return s->reload_rc;
}

static void stats_on_loop(void *arg)
{
	srv *s = arg;
	sem_post(&s->done);
}

static vs_tls_stats stats(srv *s)
{
	/* a post round trip orders this read after the loop's updates */
	cr_assert_eq(vs_loop_post(s->loop, stats_on_loop, s), 0);
	sem_wait(&s->done);
	vs_tls_stats st;
	vs_tls_get_stats(s->tls, &st);
	return st;
}

/* ---- the client ------------------------------------------------------------------------ */

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	struct timeval tv = { TIMEOUT_S, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

typedef struct client {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
} client;

/* A TLS client verifying the server against ca.pem, with an optional
 * certificate; 0 if the handshake completed, -1 if not. */
static int tls_connect(client *cl, int port, const char *cert, int max_version)
{
	memset(cl, 0, sizeof *cl);
	cl->ctx = SSL_CTX_new(TLS_client_method());
	cr_assert(cl->ctx);
	SSL_CTX_load_verify_locations(cl->ctx, at("ca.pem"), NULL);
	SSL_CTX_set_verify(cl->ctx, SSL_VERIFY_PEER, NULL);
	if (max_version) {
		/* old protocols need the lowest security level on this side */
		SSL_CTX_set_security_level(cl->ctx, 0);
		SSL_CTX_set_min_proto_version(cl->ctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(cl->ctx, max_version);
		SSL_CTX_set_cipher_list(cl->ctx, "DEFAULT:@SECLEVEL=0");
	}
	if (cert) {
		char pem[64], key[64];
		snprintf(pem, sizeof pem, "%s.pem", cert);
		snprintf(key, sizeof key, "%s.key", cert);
		cr_assert_eq(SSL_CTX_use_certificate_file(cl->ctx, at(pem), SSL_FILETYPE_PEM), 1);
		cr_assert_eq(SSL_CTX_use_PrivateKey_file(cl->ctx, at(key), SSL_FILETYPE_PEM), 1);
	}
	cl->fd = tcp_connect(port);
	cl->ssl = SSL_new(cl->ctx);
	SSL_set_fd(cl->ssl, cl->fd);
	return SSL_connect(cl->ssl) == 1 ? 0 : -1;
}

static void tls_close(client *cl)
{
	SSL_free(cl->ssl);
	SSL_CTX_free(cl->ctx);
	close(cl->fd);
	ERR_clear_error();
}

static int send_frame(client *cl, const void *p, size_t n)
{
	uint8_t *f = malloc(4 + n);
	vs_put_be32(f, (uint32_t)n);
	memcpy(f + 4, p, n);
	int rc = SSL_write(cl->ssl, f, (int)(4 + n)) == (int)(4 + n) ? 0 : -1;
	free(f);
	return rc;
}

static int read_all(client *cl, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		int k = SSL_read(cl->ssl, b, n > INT32_MAX ? INT32_MAX : (int)n);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One answer (malloc'd, NUL-terminated), or NULL if the connection ended. */
static char *recv_frame(client *cl, size_t *len)
{
	uint8_t h[4];
	if (read_all(cl, h, 4))
		return NULL;
	*len = vs_be32(h);
	char *f = malloc(*len + 1);
	if (read_all(cl, f, *len)) {
		free(f);
		return NULL;
	}
	f[*len] = 0;
	return f;
}

static void ask(client *cl, const char *req, const char *want)
{
	size_t len;
	cr_assert_eq(send_frame(cl, req, strlen(req)), 0);
	char *got = recv_frame(cl, &len);
	cr_assert(got, "no answer to %s", req);
	cr_assert_str_eq(got, want);
	free(got);
}

static char *peer_cn(client *cl)
{
	static char cn[128];
	X509 *x = SSL_get_peer_certificate(cl->ssl);
	cr_assert(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	X509_free(x);
	return cn;
}

/* ---- tests ------------------------------------------------------------------------------ */

Test(tls, requests_cross_tls)
{
	srv s;
	start(&s, NULL, 0);
	client c;
	cr_assert_eq(tls_connect(&c, s.port, NULL, 0), 0);
	cr_assert_eq(SSL_version(c.ssl), TLS1_3_VERSION);
	ask(&c, "hello", "-|hello");
	ask(&c, "again", "-|again");
	cr_assert_str_eq(peer_cn(&c), "server-1");
	tls_close(&c);
	/* TLS 1.2 is allowed */
	cr_assert_eq(tls_connect(&c, s.port, NULL, TLS1_2_VERSION), 0);
	ask(&c, "twelve", "-|twelve");
	tls_close(&c);
	cr_assert_eq(stats(&s).handshakes, 2);
	stop(&s);
}

Test(tls, old_protocols_and_plaintext_are_refused)
{
	srv s;
	start(&s, NULL, 0);
	client c;
	cr_assert_eq(tls_connect(&c, s.port, NULL, TLS1_1_VERSION), -1, "TLS 1.1 accepted");
	tls_close(&c);
	/* a Kafka client without TLS: closed, never a request */
	int fd = tcp_connect(s.port);
	uint8_t frame[] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };
	cr_assert_eq(send(fd, frame, sizeof frame, 0), (ssize_t)sizeof frame);
	char buf[4096];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
		;
	cr_assert(n == 0 || errno == ECONNRESET, "still open");
	close(fd);
	cr_assert_eq(atomic_load(&s.requests), 0);
	vs_tls_stats st = stats(&s);
	cr_assert_eq(st.handshake_failures, 2);
	cr_assert_eq(st.handshakes, 0);
	stop(&s);
}

Test(tls, client_certificates_required)
{
	srv s;
	start(&s, "ca.pem", VS_TLS_CLIENT_REQUIRED);
	client c;
	cr_assert_eq(tls_connect(&c, s.port, "client", 0), 0);
	ask(&c, "who", "CN=client-1,O=Acme|who");
	tls_close(&c);
	/* no certificate: TLS 1.3 reports it at the client's first read */
	int hs = tls_connect(&c, s.port, NULL, 0);
	size_t len;
	cr_assert(hs < 0 || send_frame(&c, "x", 1) < 0 || recv_frame(&c, &len) == NULL);
	tls_close(&c);
	/* a certificate from another CA */
	make_ca("rogue-ca");
	make_cert("rogue-ca", "rogue", "/CN=client-1/O=Acme");
	hs = tls_connect(&c, s.port, "rogue", 0);
	cr_assert(hs < 0 || send_frame(&c, "x", 1) < 0 || recv_frame(&c, &len) == NULL);
	tls_close(&c);
	cr_assert_eq(atomic_load(&s.requests), 1);
	stop(&s);
}

Test(tls, client_certificates_requested)
{
	srv s;
	start(&s, "ca.pem", VS_TLS_CLIENT_REQUESTED);
	client c;
	cr_assert_eq(tls_connect(&c, s.port, NULL, 0), 0);
	ask(&c, "anon", "-|anon");
	tls_close(&c);
	cr_assert_eq(tls_connect(&c, s.port, "client", TLS1_2_VERSION), 0);
	ask(&c, "me", "CN=client-1,O=Acme|me");
	tls_close(&c);
	stop(&s);
}

Test(tls, reload_serves_new_connections_only)
{
	srv s;
	start(&s, NULL, 0);
	client old;
	cr_assert_eq(tls_connect(&old, s.port, NULL, 0), 0);
	ask(&old, "one", "-|one");
	/* a new certificate in the same files */
	make_cert("ca", "server", "/CN=server-2");
	cr_assert_eq(reload(&s), 0, "%s", s.reload_err);
	client c;
	cr_assert_eq(tls_connect(&c, s.port, NULL, 0), 0);
	cr_assert_str_eq(peer_cn(&c), "server-2");
	ask(&c, "new", "-|new");
	tls_close(&c);
	/* the old connection goes on with its own */
	ask(&old, "two", "-|two");
	cr_assert_str_eq(peer_cn(&old), "server-1");
	/* a broken file: the reload fails, the last good certificate stays */
	FILE *f = fopen(at("server.pem"), "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	cr_assert_neq(reload(&s), 0);
	cr_assert(strstr(s.reload_err, "server.pem"), "%s", s.reload_err);
	cr_assert_eq(tls_connect(&c, s.port, NULL, 0), 0);
	cr_assert_str_eq(peer_cn(&c), "server-2");
	tls_close(&c);
	vs_tls_stats st = stats(&s);
	cr_assert_eq(st.loads, 2);
	cr_assert_eq(st.reload_failures, 1);
	tls_close(&old);
	stop(&s);
}

Test(tls, large_answer_to_a_slow_reader)
{
	srv s;
	start(&s, NULL, 0);
	client c;
	cr_assert_eq(tls_connect(&c, s.port, NULL, 0), 0);
	uint8_t req[5] = { 'B' };
	size_t want = (size_t)8 << 20;
	vs_put_be32(req + 1, (uint32_t)want);
	cr_assert_eq(send_frame(&c, req, sizeof req), 0);
	/* the socket fills: the server's writes must wait and retry */
	usleep(300 * 1000);
	size_t len;
	char *got = recv_frame(&c, &len);
	cr_assert(got);
	cr_assert_eq(len, want);
	for (size_t i = 0; i < len; i++)
		if ((uint8_t)got[i] != (uint8_t)i)
			cr_assert_fail("byte %zu is %u", i, (unsigned)(uint8_t)got[i]);
	free(got);
	ask(&c, "after", "-|after");
	tls_close(&c);
	stop(&s);
}

Test(tls, close_after_flush_delivers_then_ends)
{
	srv s;
	start(&s, NULL, 0);
	client c;
	cr_assert_eq(tls_connect(&c, s.port, NULL, 0), 0);
	/* two requests in one write: the second is never read */
	uint8_t two[] = { 0, 0, 0, 1, 'F', 0, 0, 0, 1, 'G' };
	cr_assert_eq(SSL_write(c.ssl, two, sizeof two), (int)sizeof two);
	size_t len;
	char *got = recv_frame(&c, &len);
	cr_assert(got);
	cr_assert_str_eq(got, "-|F");
	free(got);
	cr_assert_null(recv_frame(&c, &len), "an answer after the close");
	cr_assert_eq(SSL_get_error(c.ssl, 0), SSL_ERROR_ZERO_RETURN, "no close_notify");
	tls_close(&c);
	/* the same on plain TCP */
	int fd = tcp_connect(s.plain_port);
	cr_assert_eq(send(fd, two, sizeof two, 0), (ssize_t)sizeof two);
	char buf[64];
	size_t got_n = 0;
	ssize_t n;
	while ((n = recv(fd, buf + got_n, sizeof buf - got_n, 0)) > 0)
		got_n += (size_t)n;
	cr_assert_eq(n, 0);
	cr_assert_eq(got_n, 4 + 3);
	cr_assert(memcmp(buf + 4, "-|F", 3) == 0);
	close(fd);
	cr_assert_eq(atomic_load(&s.requests), 2);
	stop(&s);
}

Test(tls, bad_configurations_are_refused)
{
	sh("openssl ec -in server.key -aes128 -passout pass:secret -out enc.key");
	char err[512];
	vs_tls *t;
	vs_tls_config tc = { at("server.pem"), at("enc.key"), NULL, 0 };
	cr_assert_eq(vs_tls_new(&tc, &t, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "enc.key"), "%s", err);
	/* a key of another certificate */
	tc.key_file = at("client.key");
	cr_assert_eq(vs_tls_new(&tc, &t, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "client.key") && strstr(err, "mismatch"), "%s", err);
	tc.key_file = at("server.key");
	tc.cert_file = at("missing.pem");
	cr_assert_eq(vs_tls_new(&tc, &t, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "missing.pem"), "%s", err);
	tc.cert_file = at("server.pem");
	tc.ca_file = at("missing-ca.pem");
	cr_assert_eq(vs_tls_new(&tc, &t, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "missing-ca.pem"), "%s", err);
	tc.cert_file = NULL;
	cr_assert_eq(vs_tls_new(&tc, &t, err, sizeof err), -EINVAL);
	/* a TLS listener without a configuration */
	vs_loop *l;
	vs_loop_callbacks cb = { NULL, on_request, NULL, NULL };
	cr_assert_eq(vs_loop_new(NULL, &cb, &l), 0);
	cr_assert_eq(vs_loop_listen_tls(l, "127.0.0.1:0", NULL, NULL), -EINVAL);
	vs_loop_free(l);
}
