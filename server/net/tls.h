/* SPDX-License-Identifier: MIT */
/*
 * tls.h -- TLS on the broker's listeners (OpenSSL): a server configuration
 * (certificate chain, private key, and optionally the CAs client
 * certificates must chain to), and the TLS transport (transport.h) each
 * connection accepted on a TLS listener gets.
 *
 * Guarantees: TLS 1.2 is the minimum version; renegotiation and TLS
 * compression are off; the private key must not be encrypted (an encrypted
 * key fails to load instead of prompting on a terminal). With a CA file,
 * client certificates are verified against it: VS_TLS_CLIENT_REQUIRED
 * refuses a handshake without one, VS_TLS_CLIENT_REQUESTED lets it through
 * anonymous. A verified client certificate's subject is available in RFC
 * 2253 form ("CN=app,O=Example"), the name Kafka's default principal builder
 * uses.
 *
 * Reloading. vs_tls_reload builds a new OpenSSL context from the same
 * files; connections accepted afterwards use it, connections already open
 * keep the one they started with (OpenSSL counts references to a context,
 * so the old one lives until its last connection closes). A reload that
 * fails leaves the current context in use.
 *
 * Non-blocking: the handshake happens inside the transport's read and
 * write, which report VS_TR_AGAIN with the readiness they need. The socket
 * is driven through send(MSG_NOSIGNAL)/recv, so a reset peer never raises
 * SIGPIPE. Threads: a vs_tls and its transports belong to the loop thread.
 * Calls OpenSSL and libc only.
 */
#ifndef VS_NET_TLS_H
#define VS_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

typedef struct vs_tls vs_tls;

enum {
	VS_TLS_CLIENT_NONE = 0,      /* no client certificate asked for */
	VS_TLS_CLIENT_REQUESTED = 1, /* asked for; verified when sent */
	VS_TLS_CLIENT_REQUIRED = 2   /* a verified client certificate or no connection */
};

typedef struct vs_tls_config {
	const char *cert_file; /* PEM: the server certificate, then its chain */
	const char *key_file;  /* PEM: its private key, not encrypted */
	const char *ca_file;   /* PEM: CAs for client certificates; NULL: none asked for */
	int client_auth;       /* VS_TLS_CLIENT_*; ignored without ca_file */
} vs_tls_config;

typedef struct vs_tls_stats {
	uint64_t loads;              /* contexts built: the first, then good reloads */
	uint64_t reload_failures;
	uint64_t handshakes;         /* completed */
	uint64_t handshake_failures; /* connections that ended before completing one */
} vs_tls_stats;

/* Load the files into a first context. 0, or -EINVAL / -ENOMEM with a
 * message in err (which file, and OpenSSL's reason). The paths are copied. */
int vs_tls_new(const vs_tls_config *cfg, vs_tls **out, char *err, size_t err_cap);
/* Build a new context from the same files and use it for new connections.
 * 0, or -errno with a message in err (the current context stays). */
int vs_tls_reload(vs_tls *tls, char *err, size_t err_cap);
/* After the last connection using it is closed (the loop is freed). NULL
 * is accepted. */
void vs_tls_free(vs_tls *tls);
void vs_tls_get_stats(const vs_tls *tls, vs_tls_stats *out);

/* A server-side TLS transport over a connected non-blocking socket: 0, or
 * -ENOMEM (then t is unchanged and fd still the caller's). On success the
 * transport owns fd. */
int vs_transport_tls(vs_transport *t, int fd, vs_tls *tls);
/* The RFC 2253 subject of the peer's verified certificate, once the
 * handshake is done; NULL without one, before the handshake, and for a
 * transport that is not TLS. Valid until the transport is closed. */
const char *vs_transport_tls_subject(vs_transport *t);

#endif
