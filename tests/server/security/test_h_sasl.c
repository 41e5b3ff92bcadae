/* SPDX-License-Identifier: MIT */
/*
 * test_h_sasl.c -- authentication in the broker (server/broker/h_sasl.c,
 * conns.c, broker.c's gate) over sockets to a broker on a thread with a
 * PLAINTEXT and a SASL_PLAINTEXT listener: ApiVersions offers the SASL APIs
 * on the SASL listener only; SCRAM-SHA-256/512 through SaslHandshake v1 and
 * SaslAuthenticate, and through SaslHandshake v0 with raw tokens (as
 * kafka-python sends them), let the client in under its principal; a
 * wrong password, an unknown user (same error, same message), a mechanism
 * not offered, PLAIN without TLS, a request before authentication, and
 * SaslAuthenticate out of turn each get Kafka's error and the end of the
 * connection; a raw token that fails ends the connection without an answer;
 * users added to the file while the broker runs can log in; each listener
 * advertises its own address.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../broker/bt_util.h"
#include "security/sasl.h"
#include "security/users.h"

static bt t;
static int plain_port;
static char users_path[700];
static char log_text[16384];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_log(void *ctx, int level, const char *message)
{
	(void)ctx;
	(void)level;
	pthread_mutex_lock(&log_lock);
	size_t n = strlen(log_text);
	snprintf(log_text + n, sizeof log_text - n, "%s\n", message);
	pthread_mutex_unlock(&log_lock);
}

static int logged(const char *what)
{
	pthread_mutex_lock(&log_lock);
	int found = strstr(log_text, what) != NULL;
	pthread_mutex_unlock(&log_lock);
	return found;
}

static void add_user(const char *name, const char *pw, int mech)
{
	vs_users u;
	vs_users_init(&u);
	char err[300];
	cr_assert_eq(vs_users_load(users_path, &u, err, sizeof err), 0, "%s", err);
	vs_scram_cred c;
	cr_assert_eq(vs_scram_derive(mech, pw, strlen(pw), (const uint8_t *)"saltysaltysalty!", 16, 4096,
				     &c), 0);
	cr_assert_eq(vs_users_put(&u, name, &c), 0);
	cr_assert_eq(vs_users_save(users_path, &u, err, sizeof err), 0, "%s", err);
	vs_users_free(&u);
}

static void *run(void *arg)
{
	t.run_rc = vs_broker_run(arg);
	return NULL;
}

/* A broker with a PLAINTEXT listener (plain_port) and a SASL_PLAINTEXT one
 * (t.port), users alice/s3cret (SHA-256 and -512). */
static void start_with(unsigned mechanisms, int allow_plain)
{
	memset(&t, 0, sizeof t);
	log_text[0] = 0;
	const char *tmp = getenv("VARVE_TEST_TMPDIR");
	char base[400];
	snprintf(base, sizeof base, "%s", tmp && *tmp ? tmp : "/tmp");
	mkdir(base, 0700);
	snprintf(t.dir, sizeof t.dir, "%s/sasl-XXXXXX", base);
	cr_assert(mkdtemp(t.dir));
	strcat(t.dir, "/store");
	varve_options vo;
	varve_options_init(&vo, VARVE_OPTIONS_VERSION);
	vo.sync_policy = VARVE_SYNC_NONE;
	cr_assert_eq(varve_open(t.dir, &vo, &t.db), 0);
	snprintf(users_path, sizeof users_path, "%s/users", t.dir);
	add_user("alice", "s3cret", VS_SCRAM_SHA_256);
	add_user("alice", "s3cret", VS_SCRAM_SHA_512);
	vs_broker_config cfg;
	vs_broker_config_default(&cfg);
	cfg.db = t.db;
	cfg.cluster_id = "sasl-cluster";
	cfg.users_path = users_path;
	cfg.sasl_mechanisms = mechanisms;
	cfg.allow_plain_without_tls = allow_plain;
	cfg.log_fn = on_log;
	cfg.verbose = 1;
	cr_assert_eq(vs_broker_new(&cfg, &t.b), 0);
	cr_assert_eq(vs_broker_listen(t.b, "127.0.0.1:0", 1, &plain_port), 0);
	cr_assert_eq(vs_broker_listen_secure(t.b, "127.0.0.1:0", VS_SECURITY_SASL_PLAINTEXT, NULL,
					     &t.port), 0);
	cr_assert_eq(vs_broker_listen(t.b, "127.0.0.1:0", 0, &t.http_port), 0);
	cr_assert_eq(vs_broker_advertise(t.b, "plain.example", 1111), 0);
	cr_assert_eq(vs_broker_advertise_listener(t.b, 1, "sasl.example", 2222), 0);
	vs_arena_init(&t.arena, (size_t)64 << 20);
	cr_assert_eq(pthread_create(&t.thread, NULL, run, t.b), 0);
}

static void setup(void) { start_with(0, 0); }
static void teardown(void) { bt_stop(&t); }

TestSuite(sasl, .init = setup, .fini = teardown);

/* ---- a client ------------------------------------------------------------------------- */

static int16_t handshake(int fd, int16_t version, const char *mech, vs_response *r)
{
	vs_request q = { 0 };
	q.sasl_handshake.mechanism = bt_s(mech);
	bt_call(&t, fd, VS_API_SASL_HANDSHAKE, version, &q, r);
	return r->sasl_handshake.error_code;
}

static int16_t authenticate(int fd, const void *p, size_t n, vs_response *r)
{
	vs_request q = { 0 };
	q.sasl_authenticate.auth_bytes = (vs_slice){ p, n };
	bt_call(&t, fd, VS_API_SASL_AUTHENTICATE, 1, &q, r);
	return r->sasl_authenticate.error_code;
}

/* The client-final message answering server_first. */
static void client_final(int mech, const char *pw, const char *bare, const char *server_first,
			 char *out, size_t cap)
{
	size_t hl = vs_scram_hash_len(mech);
	char nonce[600], salt64[200];
	const char *sp = strstr(server_first, ",s="), *ip = strstr(server_first, ",i=");
	snprintf(nonce, sizeof nonce, "%.*s", (int)(sp - server_first - 2), server_first + 2);
	snprintf(salt64, sizeof salt64, "%.*s", (int)(ip - sp - 3), sp + 3);
	uint8_t salt[100], salted[64], ck[64], sk[64], sig[64], proof[64];
	size_t sl;
	cr_assert_eq(vs_b64_decode(salt64, strlen(salt64), salt, sizeof salt, &sl), 0);
	PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)sl, atoi(ip + 3),
			  mech == VS_SCRAM_SHA_256 ? EVP_sha256() : EVP_sha512(), (int)hl, salted);
	char wo[700], auth[2000], p64[100];
	snprintf(wo, sizeof wo, "c=biws,r=%s", nonce);
	snprintf(auth, sizeof auth, "%s,%s,%s", bare, server_first, wo);
	vs_scram_hmac(mech, salted, hl, "Client Key", 10, ck);
	vs_scram_hash(mech, ck, hl, sk);
	vs_scram_hmac(mech, sk, hl, auth, strlen(auth), sig);
	for (size_t i = 0; i < hl; i++)
		proof[i] = ck[i] ^ sig[i];
	vs_b64_encode(proof, hl, p64, sizeof p64);
	snprintf(out, cap, "%s,p=%s", wo, p64);
}

/* SCRAM through SaslAuthenticate: the error of the step that ended it. */
static int16_t scram_login(int fd, const char *mech_name, const char *user, const char *pw)
{
	vs_response r;
	int16_t e = handshake(fd, 1, mech_name, &r);
	if (e)
		return e;
	int mech = vs_scram_mech_by_name(mech_name, strlen(mech_name));
	char first[300], bare[300], sf[1100], final[1200];
	snprintf(bare, sizeof bare, "n=%s,r=clientnonce42", user);
	snprintf(first, sizeof first, "n,,%s", bare);
	if ((e = authenticate(fd, first, strlen(first), &r)))
		return e;
	snprintf(sf, sizeof sf, "%.*s", (int)r.sasl_authenticate.auth_bytes.len,
		 (const char *)r.sasl_authenticate.auth_bytes.ptr);
	client_final(mech, pw, bare, sf, final, sizeof final);
	if ((e = authenticate(fd, final, strlen(final), &r)))
		return e;
	cr_assert(r.sasl_authenticate.auth_bytes.len > 2);
	cr_assert_eq(memcmp(r.sasl_authenticate.auth_bytes.ptr, "v=", 2), 0);
	return 0;
}

/* Metadata v1 for topic "t": the topic's error and the broker's address. */
static int16_t metadata(int fd, char *host, int32_t *port)
{
	vs_slice name = bt_s("t");
	vs_metadata_request_topic topic = { name };
	vs_request q = { 0 };
	q.metadata.topics.v = &topic;
	q.metadata.topics.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_METADATA, 1, &q, &r);
	if (host && r.metadata.brokers.n == 1) {
		vs_slice_cstr(r.metadata.brokers.v[0].host, host, 256);
		*port = r.metadata.brokers.v[0].port;
	}
	cr_assert_eq(r.metadata.topics.n, 1);
	return r.metadata.topics.v[0].error_code;
}

static int offers(int port, int16_t key)
{
	int fd = bt_connect(&(bt){ .port = port });
	vs_request q = { 0 };
	vs_response r;
	bt_call(&t, fd, VS_API_API_VERSIONS, 0, &q, &r);
	close(fd);
	for (int32_t i = 0; i < r.api_versions.api_keys.n; i++)
		if (r.api_versions.api_keys.v[i].api_key == key)
			return 1;
	return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

Test(sasl, api_versions_offers_sasl_on_sasl_listeners_only)
{
	cr_assert(offers(t.port, VS_API_SASL_HANDSHAKE));
	cr_assert(offers(t.port, VS_API_SASL_AUTHENTICATE));
	cr_assert(offers(t.port, VS_API_METADATA));
	cr_assert(!offers(plain_port, VS_API_SASL_HANDSHAKE));
	cr_assert(!offers(plain_port, VS_API_SASL_AUTHENTICATE));
}

Test(sasl, scram_v1_logs_in_and_serves)
{
	const char *mechs[] = { "SCRAM-SHA-256", "SCRAM-SHA-512" };
	for (int i = 0; i < 2; i++) {
		int fd = bt_connect(&t);
		vs_response r;
		vs_request q = { 0 };
		bt_call(&t, fd, VS_API_API_VERSIONS, 3, &q, &r);
		cr_assert_eq(scram_login(fd, mechs[i], "alice", "s3cret"), 0);
		char host[256];
		int32_t port;
		cr_assert_eq(metadata(fd, host, &port), KE_NONE);
		/* this listener's own address */
		cr_assert_str_eq(host, "sasl.example");
		cr_assert_eq(port, 2222);
		/* a second handshake is out of turn, but the client stays in */
		cr_assert_eq(handshake(fd, 1, mechs[i], &r), KE_ILLEGAL_SASL_STATE);
		cr_assert_eq(metadata(fd, NULL, NULL), KE_NONE);
		close(fd);
	}
	cr_assert(logged("authenticated as User:alice (SCRAM-SHA-256)"));
	cr_assert(logged("authenticated as User:alice (SCRAM-SHA-512)"));
	/* the plaintext listener tells its own address */
	int fd = bt_connect(&(bt){ .port = plain_port });
	char host[256];
	int32_t port;
	cr_assert_eq(metadata(fd, host, &port), KE_NONE);
	cr_assert_str_eq(host, "plain.example");
	cr_assert_eq(port, 1111);
	/* and the broker's advertised.listeners names both */
	vs_slice key = bt_s("advertised.listeners");
	vs_describe_configs_resource res = { 4, bt_s("0"), { &key, 1 } };
	vs_request q = { 0 };
	q.describe_configs.resources.v = &res;
	q.describe_configs.resources.n = 1;
	vs_response r;
	bt_call(&t, fd, VS_API_DESCRIBE_CONFIGS, 1, &q, &r);
	cr_assert_eq(r.describe_configs.results.n, 1);
	cr_assert_eq(r.describe_configs.results.v[0].configs.n, 1);
	cr_assert(bt_is(r.describe_configs.results.v[0].configs.v[0].value,
			"PLAINTEXT://plain.example:1111,SASL_PLAINTEXT://sasl.example:2222"));
	close(fd);
}

Test(sasl, wrong_password_and_unknown_user_fail_alike)
{
	const char *users[][2] = { { "alice", "wrong" }, { "mallory", "s3cret" } };
	char msg[2][300];
	for (int i = 0; i < 2; i++) {
		int fd = bt_connect(&t);
		vs_response r;
		cr_assert_eq(handshake(fd, 1, "SCRAM-SHA-256", &r), 0);
		char bare[100], first[100], sf[1100], final[1200];
		snprintf(bare, sizeof bare, "n=%s,r=abcdef", users[i][0]);
		snprintf(first, sizeof first, "n,,%s", bare);
		cr_assert_eq(authenticate(fd, first, strlen(first), &r), 0);
		snprintf(sf, sizeof sf, "%.*s", (int)r.sasl_authenticate.auth_bytes.len,
			 (const char *)r.sasl_authenticate.auth_bytes.ptr);
		client_final(VS_SCRAM_SHA_256, users[i][1], bare, sf, final, sizeof final);
		cr_assert_eq(authenticate(fd, final, strlen(final), &r), KE_SASL_AUTHENTICATION_FAILED);
		vs_slice_cstr(r.sasl_authenticate.error_message, msg[i], sizeof msg[i]);
		cr_assert_eq(r.sasl_authenticate.auth_bytes.len, 0);
		cr_assert(bt_closed(fd, BT_TIMEOUT_MS), "still open after a failed login");
		close(fd);
	}
	cr_assert_str_eq(msg[0], msg[1]);
	cr_assert(strstr(msg[0], "SCRAM-SHA-256"), "%s", msg[0]);
	cr_assert(logged("wrong password"));
	cr_assert(logged("no credential for this user"));
	/* counted, and a good login too */
	int fd = bt_connect(&t);
	cr_assert_eq(scram_login(fd, "SCRAM-SHA-256", "alice", "s3cret"), 0);
	close(fd);
	char *body;
	cr_assert_eq(bt_http_get(&t, "/metrics", &body), 200);
	cr_assert(strstr(body, "varve_kafka_authentications_total{result=\"failed\"} 2\n"), "%s", body);
	cr_assert(strstr(body, "varve_kafka_authentications_total{result=\"ok\"} 1\n"));
	cr_assert_null(strstr(body, "varve_tls_"), "TLS families without a TLS listener");
	free(body);
}

Test(sasl, requests_before_authentication_are_refused)
{
	int fd = bt_connect(&t);
	cr_assert_eq(metadata(fd, NULL, NULL), KE_ILLEGAL_SASL_STATE);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
	char *body;
	cr_assert_eq(bt_http_get(&t, "/metrics", &body), 200);
	cr_assert(strstr(body, "varve_kafka_unauthenticated_requests_total 1\n"), "%s", body);
	free(body);
	/* after the handshake, only SaslAuthenticate */
	fd = bt_connect(&t);
	vs_response r;
	cr_assert_eq(handshake(fd, 1, "SCRAM-SHA-256", &r), 0);
	cr_assert_eq(metadata(fd, NULL, NULL), KE_ILLEGAL_SASL_STATE);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
	/* SaslAuthenticate before any handshake */
	fd = bt_connect(&t);
	cr_assert_eq(authenticate(fd, "n,,n=alice,r=x", 14, &r), KE_ILLEGAL_SASL_STATE);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
	/* the plaintext listener needs none of it */
	fd = bt_connect(&(bt){ .port = plain_port });
	cr_assert_eq(metadata(fd, NULL, NULL), KE_NONE);
	close(fd);
}

Test(sasl, mechanisms_not_offered)
{
	int fd = bt_connect(&t);
	vs_response r;
	cr_assert_eq(handshake(fd, 1, "GSSAPI", &r), KE_UNSUPPORTED_SASL_MECHANISM);
	cr_assert_eq(r.sasl_handshake.mechanisms.n, 2);
	cr_assert(bt_is(r.sasl_handshake.mechanisms.v[0], "SCRAM-SHA-512"));
	cr_assert(bt_is(r.sasl_handshake.mechanisms.v[1], "SCRAM-SHA-256"));
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
	/* PLAIN is not offered without TLS (not even when configured) */
	fd = bt_connect(&t);
	cr_assert_eq(handshake(fd, 1, "PLAIN", &r), KE_UNSUPPORTED_SASL_MECHANISM);
	close(fd);
}

static void setup_plain(void) { start_with(VS_SASL_PLAIN | VS_SASL_SCRAM_SHA_256, 1); }

TestSuite(sasl_plain, .init = setup_plain, .fini = teardown);

Test(sasl_plain, plain_without_tls_when_allowed)
{
	int fd = bt_connect(&t);
	vs_response r;
	cr_assert_eq(handshake(fd, 1, "PLAIN", &r), 0);
	cr_assert_eq(r.sasl_handshake.mechanisms.n, 2);
	cr_assert_eq(authenticate(fd, "\0alice\0s3cret", 13, &r), 0);
	cr_assert_eq(metadata(fd, NULL, NULL), KE_NONE);
	close(fd);
	fd = bt_connect(&t);
	cr_assert_eq(handshake(fd, 1, "PLAIN", &r), 0);
	cr_assert_eq(authenticate(fd, "\0alice\0nope", 11, &r), KE_SASL_AUTHENTICATION_FAILED);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
	/* SCRAM-SHA-512 was left out */
	fd = bt_connect(&t);
	cr_assert_eq(handshake(fd, 1, "SCRAM-SHA-512", &r), KE_UNSUPPORTED_SASL_MECHANISM);
	close(fd);
	/* kafka-python's way: SaslHandshake v0, then the bare token; success
	 * is an empty frame, failure the end of the connection */
	fd = bt_connect(&t);
	cr_assert_eq(handshake(fd, 0, "PLAIN", &r), 0);
	uint8_t tok[] = { 0, 0, 0, 13, 0, 'a', 'l', 'i', 'c', 'e', 0, 's', '3', 'c', 'r', 'e', 't' };
	bt_send_raw(fd, tok, sizeof tok);
	size_t len;
	free(bt_recv_frame(fd, &len));
	cr_assert_eq(len, 0);
	cr_assert_eq(metadata(fd, NULL, NULL), KE_NONE);
	close(fd);
	fd = bt_connect(&t);
	cr_assert_eq(handshake(fd, 0, "PLAIN", &r), 0);
	tok[16] = 'x';
	bt_send_raw(fd, tok, sizeof tok);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
	cr_assert(logged("authenticated as User:alice (PLAIN)"));
}

/* PLAIN checks run on workers, which look the user up while the loop may
 * re-read the users file (a changed file at a SaslHandshake, or a reload):
 * logins in flight while the file changes under them all succeed (and the
 * sanitizer builds see no use after free). */
Test(sasl_plain, plain_logins_while_the_users_file_changes)
{
	enum { ROUNDS = 25, CONNS = 4 };
	for (int round = 0; round < ROUNDS; round++) {
		int fd[CONNS];
		int32_t corr[CONNS];
		vs_response r;
		for (int i = 0; i < CONNS; i++) {
			fd[i] = bt_connect(&t);
			cr_assert_eq(handshake(fd[i], 1, "PLAIN", &r), 0);
		}
		vs_request q = { 0 };
		q.sasl_authenticate.auth_bytes = (vs_slice){ (const uint8_t *)"\0alice\0s3cret", 13 };
		for (int i = 0; i < CONNS; i++)
			corr[i] = bt_send(&t, fd[i], VS_API_SASL_AUTHENTICATE, 1, &q);
		/* meanwhile: a new users file, re-read by the loop (the reload
		 * and the next round's handshakes) */
		char name[32];
		snprintf(name, sizeof name, "u%d", round);
		add_user(name, "pw", VS_SCRAM_SHA_256);
		vs_broker_reload(t.b);
		for (int i = 0; i < CONNS; i++) {
			bt_recv(&t, fd[i], VS_API_SASL_AUTHENTICATE, 1, corr[i], &r);
			cr_assert_eq(r.sasl_authenticate.error_code, 0, "round %d conn %d", round, i);
			close(fd[i]);
		}
	}
	int fd = bt_connect(&t);
	vs_response r;
	cr_assert_eq(handshake(fd, 1, "PLAIN", &r), 0);
	cr_assert_eq(authenticate(fd, "\0u24\0pw", 7, &r), 0);
	close(fd);
}

/* Raw tokens: a 4-byte size and the token, both ways. */
static void send_token(int fd, const char *p, size_t n)
{
	uint8_t h[4];
	vs_put_be32(h, (uint32_t)n);
	bt_send_raw(fd, h, 4);
	bt_send_raw(fd, p, n);
}

Test(sasl, handshake_v0_then_raw_tokens)
{
	int fd = bt_connect(&t);
	vs_response r;
	cr_assert_eq(handshake(fd, 0, "SCRAM-SHA-512", &r), 0);
	const char *first = "n,,n=alice,r=rawnonce";
	send_token(fd, first, strlen(first));
	size_t len;
	uint8_t *sf = bt_recv_frame(fd, &len);
	char server_first[1100], final[1200];
	snprintf(server_first, sizeof server_first, "%.*s", (int)len, (const char *)sf);
	free(sf);
	client_final(VS_SCRAM_SHA_512, "s3cret", "n=alice,r=rawnonce", server_first, final,
		     sizeof final);
	send_token(fd, final, strlen(final));
	uint8_t *v = bt_recv_frame(fd, &len);
	cr_assert(len > 2 && memcmp(v, "v=", 2) == 0);
	free(v);
	/* then ordinary requests */
	cr_assert_eq(metadata(fd, NULL, NULL), KE_NONE);
	close(fd);
	/* a raw token that fails: no answer, the end */
	fd = bt_connect(&t);
	cr_assert_eq(handshake(fd, 0, "SCRAM-SHA-256", &r), 0);
	send_token(fd, "garbage", 7);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
}

Test(sasl, users_added_while_running)
{
	int fd = bt_connect(&t);
	cr_assert_eq(scram_login(fd, "SCRAM-SHA-256", "bob", "pw-bob"), KE_SASL_AUTHENTICATION_FAILED);
	close(fd);
	add_user("bob", "pw-bob", VS_SCRAM_SHA_256);
	fd = bt_connect(&t);
	cr_assert_eq(scram_login(fd, "SCRAM-SHA-256", "bob", "pw-bob"), 0);
	close(fd);
	cr_assert(logged("authenticated as User:bob"));
	/* a reload request (SIGHUP's path) re-reads the file too, and the
	 * loop keeps serving */
	vs_broker_reload(t.b);
	fd = bt_connect(&t);
	cr_assert_eq(scram_login(fd, "SCRAM-SHA-512", "alice", "s3cret"), 0);
	close(fd);
}

Test(sasl, oversized_request_before_authentication_closes)
{
	int fd = bt_connect(&t);
	size_t n = VS_SASL_MAX_TOKEN + 4096;
	uint8_t *f = calloc(1, 4 + n);
	vs_put_be32(f, (uint32_t)n);
	vs_put_be16(f + 4, VS_API_SASL_AUTHENTICATE);
	bt_send_raw(fd, f, 4 + n);
	free(f);
	cr_assert(bt_closed(fd, BT_TIMEOUT_MS));
	close(fd);
}
