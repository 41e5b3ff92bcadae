# SPDX-License-Identifier: MIT
"""compat_security.py -- TLS and SASL of `varve serve` against real Kafka
clients: kcat 1.7.1 and confluent-kafka-python 1.7.0 (librdkafka 2.0.2:
SaslHandshake v1 then SaslAuthenticate) and kafka-python 2.0.2
(SaslHandshake v0 then raw tokens), plus raw sockets for what clients do
not send on purpose.

    /usr/bin/python3 compat_security.py VARVE_BINARY TEST_NAME

Certificates (a CA, two server certificates for 127.0.0.1, a client
certificate) are made by the openssl command in each test's temporary
directory. Users are added with `varve user`. The server is the compat
suite's (tests/server/compat/harness.py): a PLAINTEXT listener first, then
the listeners a test asks for, parsed from the ready line; every test ends
with SIGTERM, exit 0 and a store that opens clean.
"""
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import harness  # noqa: E402
from harness import Failure, Server, Store, check, wait_for  # noqa: E402

VARVE = None
TESTS = {}
PASSWORD = "correct horse battery staple"


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


# ---- certificates and users --------------------------------------------------------------

def openssl(cwd, *args):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "openssl %s: %s" % (" ".join(args), p.stderr))


def make_cert(d, name, subj, ca="ca"):
    """name.pem / name.key: EC P-256, signed by ca, valid for 127.0.0.1."""
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "1", "-extfile", name + ".ext")


def make_pki(st):
    d = os.path.join(st.tmp, "pki")
    os.makedirs(d)
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=varve-test-ca")
    make_cert(d, "server", "/CN=server-1")
    make_cert(d, "client", "/O=Acme/CN=client-1")
    return d


def add_user(st, name, password=PASSWORD, *args):
    st.cli("user", "add", name, *args, stdin=password + "\n")


def tls_args(pki, *extra):
    return ["--tls-cert", os.path.join(pki, "server.pem"),
            "--tls-key", os.path.join(pki, "server.key")] + list(extra)


def port_of(srv, proto):
    m = re.search(r"%s://127\.0\.0\.1:(\d+)" % proto, srv.line)
    check(m, "no %s listener in %r" % (proto, srv.line))
    return int(m.group(1))


# ---- clients -------------------------------------------------------------------------------

def rdkafka_conf(port, proto, pki=None, mech=None, user="alice", password=PASSWORD, cert=None):
    """librdkafka settings (kcat -X and confluent-kafka alike)."""
    c = {"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": proto}
    if pki:
        c["ssl.ca.location"] = os.path.join(pki, "ca.pem")
    if mech:
        c.update({"sasl.mechanisms": mech, "sasl.username": user, "sasl.password": password})
    if cert:
        c["ssl.certificate.location"] = os.path.join(pki, cert + ".pem")
        c["ssl.key.location"] = os.path.join(pki, cert + ".key")
    return c


def kcat(conf, *args, timeout=25):
    """(exit code, stdout, stderr) of kcat with conf as -X settings."""
    cmd = ["kcat", "-b", conf["bootstrap.servers"]]
    for k, v in conf.items():
        if k != "bootstrap.servers":
            cmd += ["-X", "%s=%s" % (k, v)]
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def kcat_produce(conf, topic, lines):
    cmd = ["kcat", "-b", conf["bootstrap.servers"], "-P", "-t", topic]
    for k, v in conf.items():
        if k != "bootstrap.servers":
            cmd += ["-X", "%s=%s" % (k, v)]
    p = subprocess.run(cmd, input="".join(l + "\n" for l in lines), capture_output=True,
                       text=True, timeout=25)
    check(p.returncode == 0, "kcat -P: exit %d: %s" % (p.returncode, p.stderr))


def kcat_consume(conf, topic, n):
    rc, out, err = kcat(conf, "-C", "-t", topic, "-o", "beginning", "-c", str(n), "-e",
                        "-m", "10")
    check(rc == 0, "kcat -C: exit %d: %s" % (rc, err))
    return out.splitlines()


def kcat_refused(conf, what):
    """kcat -L must fail: no metadata for a client that may not in."""
    rc, out, err = kcat(conf, "-L", "-m", "4", timeout=30)
    check(rc != 0 and "broker 0 at" not in out, "%s: kcat -L worked: %s" % (what, out))
    return err


def topics(st):
    return st.cli("topic", "list").stdout.split()


def raw_request(sock, key, version, corr, body=b""):
    sock.sendall(harness.request(key, version, corr, body))
    return harness.recv_frame(sock)


def log_has(srv, text, timeout=10.0):
    return wait_for(lambda: text in srv.stderr(), "%r in the server's log" % text, timeout)


# ---- tests -----------------------------------------------------------------------------------

@test
def sasl_ssl_scram_clients(st):
    """SCRAM-SHA-256 and SCRAM-SHA-512 over TLS with kcat, confluent-kafka and
    kafka-python: records produced by one are consumed by another, and the
    server logs each login under the user's principal."""
    pki = make_pki(st)
    add_user(st, "alice")
    srv = Server(st, "--listen", "SASL_SSL://127.0.0.1:0", "-v", *tls_args(pki))
    try:
        port = port_of(srv, "SASL_SSL")
        c256 = rdkafka_conf(port, "SASL_SSL", pki, "SCRAM-SHA-256")
        c512 = rdkafka_conf(port, "SASL_SSL", pki, "SCRAM-SHA-512")
        kcat_produce(c256, "sec", ["one", "two"])
        check(kcat_consume(c512, "sec", 2) == ["one", "two"], "kcat round trip")
        from confluent_kafka import Consumer, Producer
        p = Producer(c512)
        p.produce("sec", b"three")
        check(p.flush(15) == 0, "confluent-kafka: not delivered")
        cons = Consumer(dict(c256, **{"group.id": "g1", "auto.offset.reset": "earliest"}))
        cons.subscribe(["sec"])
        got, deadline = [], time.monotonic() + 20
        while len(got) < 3 and time.monotonic() < deadline:
            m = cons.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        cons.close()
        check(got == [b"one", b"two", b"three"], "confluent-kafka consumed %r" % got)
        from kafka import KafkaConsumer, KafkaProducer
        ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
        kp = dict(bootstrap_servers="127.0.0.1:%d" % port, security_protocol="SASL_SSL",
                  ssl_context=ctx, sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="alice",
                  sasl_plain_password=PASSWORD, api_version=(2, 0, 0))
        prod = KafkaProducer(**kp)
        prod.send("sec", b"four").get(timeout=15)
        prod.close()
        kc = KafkaConsumer("sec", auto_offset_reset="earliest", consumer_timeout_ms=5000,
                           **dict(kp, sasl_mechanism="SCRAM-SHA-512"))
        vals = [m.value for m in kc]
        kc.close()
        check(vals == [b"one", b"two", b"three", b"four"], "kafka-python consumed %r" % vals)
        log_has(srv, "authenticated as User:alice (SCRAM-SHA-256)")
        log_has(srv, "authenticated as User:alice (SCRAM-SHA-512)")
    finally:
        srv.stop()


@test
def sasl_rejects_bad_credentials(st):
    """A wrong password and an unknown user get librdkafka's and
    kafka-python's authentication error and no data: no metadata, nothing
    produced, no topic created."""
    pki = make_pki(st)
    add_user(st, "alice")
    srv = Server(st, "--listen", "SASL_SSL://127.0.0.1:0", "-v", *tls_args(pki))
    try:
        port = port_of(srv, "SASL_SSL")
        for user, pw in (("alice", "wrong"), ("mallory", PASSWORD)):
            conf = rdkafka_conf(port, "SASL_SSL", pki, "SCRAM-SHA-256", user, pw)
            err = kcat_refused(conf, user)
            check("Authentication failed" in err, "kcat %s: %s" % (user, err))
            from confluent_kafka import Producer
            errors = []
            p = Producer(dict(conf, **{"error_cb": errors.append, "message.timeout.ms": 3000}))
            p.produce("secret-topic", b"x")
            deadline = time.monotonic() + 10
            while not errors and time.monotonic() < deadline:
                p.poll(0.1)
            p.purge()
            check(any(e.code() == -169 or "Authentication" in e.str() for e in errors),
                  "confluent-kafka %s: %r" % (user, [e.str() for e in errors]))
        from kafka import KafkaProducer
        from kafka.errors import KafkaError
        ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
        try:
            KafkaProducer(bootstrap_servers="127.0.0.1:%d" % port, security_protocol="SASL_SSL",
                          ssl_context=ctx, sasl_mechanism="SCRAM-SHA-512",
                          sasl_plain_username="alice", sasl_plain_password="wrong",
                          api_version=(2, 0, 0), max_block_ms=4000).send("secret-topic", b"x")
            raise Failure("kafka-python produced with a wrong password")
        except KafkaError:
            pass
        check("secret-topic" not in topics(st), "a topic was created for a refused client")
        log_has(srv, "wrong password")
        log_has(srv, "no credential for this user")
    finally:
        srv.stop()


@test
def tls_refuses_plaintext_clients(st):
    """A client without TLS on the SASL_SSL port, and a TLS client without
    SASL, get nothing: the first is closed before any request, the second
    is refused at its first request."""
    pki = make_pki(st)
    add_user(st, "alice")
    srv = Server(st, "--listen", "SASL_SSL://127.0.0.1:0", *tls_args(pki))
    try:
        port = port_of(srv, "SASL_SSL")
        kcat_refused(rdkafka_conf(port, "PLAINTEXT"), "PLAINTEXT on the TLS port")
        kcat_refused(rdkafka_conf(port, "SASL_PLAINTEXT", None, "SCRAM-SHA-256"),
                     "SASL_PLAINTEXT on the TLS port")
        kcat_refused(rdkafka_conf(port, "SSL", pki), "SSL without SASL")
        s = harness.connect(port)
        s.sendall(harness.request(18, 0, 1))
        s.settimeout(10)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        # at most a TLS alert: never a Kafka answer with our correlation id
        check(struct.pack(">i", 1) not in data[4:8], "a Kafka answer on the TLS port: %r" % data)
        check(len(data) < 64, "data for a plaintext client: %r" % data)
    finally:
        srv.stop()


@test
def unauthenticated_requests_refused(st):
    """On a SASL listener a request before authentication is answered with
    ILLEGAL_SASL_STATE (Kafka's error 34) and the connection closes;
    ApiVersions is answered and lists the SASL APIs (the PLAINTEXT listener
    does not)."""
    add_user(st, "alice")
    srv = Server(st, "--listen", "SASL_PLAINTEXT://127.0.0.1:0")
    try:
        port = port_of(srv, "SASL_PLAINTEXT")
        s = harness.connect(port)
        corr, err, keys = harness.api_versions_v0(s, corr=3)
        check(err == 0 and 17 in keys and 36 in keys, "SASL APIs not offered: %r" % keys)
        # Metadata v1 for topic "t"
        f = raw_request(s, 3, 1, 9, struct.pack(">ih", 1, 1) + b"t")
        corr, nb = struct.unpack(">ii", f[:8])
        check(corr == 9, "correlation id %d" % corr)
        check(struct.pack(">hh", 34, 1) + b"t" in f, "no ILLEGAL_SASL_STATE for the topic: %r" % f)
        check(harness.closed_by_peer(s), "connection still open")
        s = harness.connect(srv.port)
        _, err, keys = harness.api_versions_v0(s)
        check(17 not in keys and 36 not in keys, "SASL APIs offered on PLAINTEXT")
        s.close()
        kcat_refused(rdkafka_conf(port, "PLAINTEXT"), "PLAINTEXT client on a SASL listener")
        check("t" not in topics(st), "auto-created for an unauthenticated client")
    finally:
        srv.stop()


@test
def plain_only_over_tls(st):
    """PLAIN is offered on SASL_SSL and refused on SASL_PLAINTEXT unless
    --allow-plain-without-tls; asking for PLAIN with only plaintext SASL
    listeners is a usage error."""
    pki = make_pki(st)
    add_user(st, "alice", PASSWORD, "--mechanism", "SCRAM-SHA-512")
    p = subprocess.run([VARVE, "serve", st.dir, "--metrics", "none", "--listen",
                        "SASL_PLAINTEXT://127.0.0.1:0", "--sasl-mechanisms", "PLAIN"],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and "allow-plain-without-tls" in p.stderr,
          "PLAIN without TLS: exit %d: %s" % (p.returncode, p.stderr))
    srv = Server(st, "--listen", "SASL_SSL://127.0.0.1:0", "--listen",
                 "SASL_PLAINTEXT://127.0.0.1:0", "--sasl-mechanisms", "PLAIN,SCRAM-SHA-512",
                 *tls_args(pki))
    try:
        tls_port, clear_port = port_of(srv, "SASL_SSL"), port_of(srv, "SASL_PLAINTEXT")
        kcat_produce(rdkafka_conf(tls_port, "SASL_SSL", pki, "PLAIN"), "p", ["over-tls"])
        err = kcat_refused(rdkafka_conf(clear_port, "SASL_PLAINTEXT", None, "PLAIN"),
                           "PLAIN in the clear")
        check("PLAIN" in err, "kcat: %s" % err)
        kcat_produce(rdkafka_conf(clear_port, "SASL_PLAINTEXT", None, "SCRAM-SHA-512"), "p",
                     ["scram-in-clear"])
        wrong = rdkafka_conf(tls_port, "SASL_SSL", pki, "PLAIN", "alice", "nope")
        check("Authentication failed" in kcat_refused(wrong, "PLAIN, wrong password"), "message")
    finally:
        srv.stop()
    srv = Server(st, "--listen", "SASL_PLAINTEXT://127.0.0.1:0", "--sasl-mechanisms", "PLAIN",
                 "--allow-plain-without-tls")
    try:
        port = port_of(srv, "SASL_PLAINTEXT")
        conf = rdkafka_conf(port, "SASL_PLAINTEXT", None, "PLAIN")
        check(kcat_consume(conf, "p", 2) == ["over-tls", "scram-in-clear"], "records")
        # kafka-python: SaslHandshake v0 and a bare PLAIN token
        from kafka import KafkaConsumer
        kc = KafkaConsumer("p", bootstrap_servers="127.0.0.1:%d" % port, api_version=(2, 0, 0),
                           security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                           sasl_plain_username="alice", sasl_plain_password=PASSWORD,
                           auto_offset_reset="earliest", consumer_timeout_ms=5000)
        vals = [m.value for m in kc]
        kc.close()
        check(vals == [b"over-tls", b"scram-in-clear"], "kafka-python PLAIN: %r" % vals)
    finally:
        srv.stop()


@test
def mutual_tls_principal(st):
    """With --tls-ca an SSL listener lets in clients whose certificate chains
    to the CA, under the principal User:<subject in RFC 2253 form>, and
    refuses clients without one."""
    pki = make_pki(st)
    srv = Server(st, "--listen", "SSL://127.0.0.1:0", "-v",
                 *tls_args(pki, "--tls-ca", os.path.join(pki, "ca.pem")))
    try:
        port = port_of(srv, "SSL")
        conf = rdkafka_conf(port, "SSL", pki, cert="client")
        kcat_produce(conf, "m", ["by-cert"])
        check(kcat_consume(conf, "m", 1) == ["by-cert"], "round trip")
        log_has(srv, "client certificate: User:CN=client-1,O=Acme")
        kcat_refused(rdkafka_conf(port, "SSL", pki), "no client certificate")
    finally:
        srv.stop()


def tls_client(port, pki):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="127.0.0.1")
    cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
    return s, cn


@test
def sighup_reloads_certificate(st):
    """SIGHUP makes new connections get the certificate now in the files;
    a connection made before keeps working; a broken file is logged and
    the last good certificate stays."""
    pki = make_pki(st)
    srv = Server(st, "--listen", "SSL://127.0.0.1:0", "-v", *tls_args(pki))
    try:
        port = port_of(srv, "SSL")
        old, cn = tls_client(port, pki)
        check(cn == "server-1", "first certificate %r" % cn)
        check(harness.api_versions_v0(old, corr=1)[1] == 0, "ApiVersions before the reload")
        make_cert(pki, "server", "/CN=server-2")
        srv.proc.send_signal(signal.SIGHUP)
        log_has(srv, "TLS certificate reloaded")
        s, cn = tls_client(port, pki)
        check(cn == "server-2", "after SIGHUP: %r" % cn)
        s.close()
        check(harness.api_versions_v0(old, corr=2)[:2] == (2, 0), "old connection after reload")
        with open(os.path.join(pki, "server.pem"), "w") as f:
            f.write("not a certificate\n")
        srv.proc.send_signal(signal.SIGHUP)
        log_has(srv, "TLS certificate not reloaded")
        s, cn = tls_client(port, pki)
        check(cn == "server-2", "after a failed reload: %r" % cn)
        s.close()
        old.close()
        _, text = srv.metrics()
        for line in ('varve_tls_certificate_loads_total{result="ok"} 2',
                     'varve_tls_certificate_loads_total{result="failed"} 1',
                     'varve_tls_handshakes_total{result="ok"} 3'):
            check(line + "\n" in text, "metrics: no %r in %s" % (line, [l for l in text.splitlines() if "tls" in l]))
    finally:
        srv.stop()


@test
def user_cli(st):
    """varve user add (stdin, --password-file), list, remove: the file is
    private (0600) and holds no password; a running server sees each change
    at the next login, without a restart."""
    add_user(st, "alice")
    pwfile = os.path.join(st.tmp, "pw")
    with open(pwfile, "w") as f:
        f.write("bobs-password\n")
    st.cli("user", "add", "bob", "--password-file", pwfile, "--mechanism", "SCRAM-SHA-256",
           "--iterations", "8192")
    out = st.cli("user", "list").stdout.splitlines()
    check(out == ["alice SCRAM-SHA-256 iterations=4096", "alice SCRAM-SHA-512 iterations=4096",
                  "bob SCRAM-SHA-256 iterations=8192"], "list: %r" % out)
    path = os.path.join(st.dir, "users")
    check(os.stat(path).st_mode & 0o777 == 0o600, "users file mode %o" % os.stat(path).st_mode)
    text = open(path).read()
    check(PASSWORD not in text and "bobs-password" not in text, "a password in the file")
    check(st.cli("user", "remove", "carol", check_rc=False).returncode == 1, "remove unknown")
    check(st.cli("user", "add", "a b", stdin="x\n", check_rc=False).returncode == 2, "bad name")
    check(st.cli("user", "add", "c", "--iterations", "100", stdin="x\n",
                 check_rc=False).returncode == 2, "too few iterations")
    check(st.cli("user", "add", "c", stdin="\n", check_rc=False).returncode == 1, "empty password")
    srv = Server(st, "--listen", "SASL_PLAINTEXT://127.0.0.1:0")
    try:
        port = port_of(srv, "SASL_PLAINTEXT")
        bob = rdkafka_conf(port, "SASL_PLAINTEXT", None, "SCRAM-SHA-256", "bob", "bobs-password")
        kcat_produce(bob, "u", ["from-bob"])
        st.cli("user", "remove", "bob")
        kcat_refused(bob, "removed user")
        add_user(st, "bob", "new-password")
        kcat_produce(dict(bob, **{"sasl.password": "new-password"}), "u", ["again"])
    finally:
        srv.stop()


class ListenersOnly(Server):
    """A server with exactly the listeners given (the harness's Server puts
    a PLAINTEXT one first); stop() is the harness's."""

    def __init__(self, store, *listeners):
        self.store = store
        cmd = [store.varve, "serve", store.dir, "--metrics", "none"]
        for l in listeners:
            cmd += ["--listen", l]
        self.errfile = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errfile,
                                     text=True)
        self.line = self._ready_line()
        self.metrics_port = None


@test
def server_file_names_plaintext_listener(st):
    """<store>/SERVER names the first PLAINTEXT listener, wherever it is in
    the list, so the varve command (which has no credentials) goes through
    it while the server holds the store; without a PLAINTEXT listener it
    names the first listener with its protocol and the command fails,
    saying so."""
    add_user(st, "alice")
    srv = ListenersOnly(st, "SASL_PLAINTEXT://127.0.0.1:0", "127.0.0.1:0")
    try:
        m = re.match(r"varve serve: listening on SASL_PLAINTEXT://127\.0\.0\.1:(\d+), "
                     r"127\.0\.0\.1:(\d+)", srv.line)
        check(m, "ready line %r" % srv.line)
        server = open(os.path.join(st.dir, "SERVER")).read()
        check(server == "127.0.0.1:%s\n" % m.group(2), "SERVER: %r" % server)
        st.cli("topic", "create", "through")
        st.produce("through", ["x", "y"])
        check("through" in topics(st), "topic list through the server: %r" % topics(st))
    finally:
        srv.stop()
    srv = ListenersOnly(st, "SASL_PLAINTEXT://127.0.0.1:0")
    try:
        port = port_of(srv, "SASL_PLAINTEXT")
        server = open(os.path.join(st.dir, "SERVER")).read()
        check(server == "SASL_PLAINTEXT://127.0.0.1:%d\n" % port, "SERVER: %r" % server)
        p = st.cli("produce", "held", stdin="z\n", check_rc=False)
        check(p.returncode != 0 and "SASL_PLAINTEXT://127.0.0.1:%d" % port in p.stderr,
              "produce beside a SASL-only server: exit %d: %s" % (p.returncode, p.stderr))
    finally:
        srv.stop()


def main():
    global VARVE
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        sys.stderr.write("usage: compat_security.py VARVE TEST\ntests: %s\n"
                         % " ".join(sorted(TESTS)))
        return 2
    VARVE = sys.argv[1]
    st = Store(VARVE)
    try:
        TESTS[sys.argv[2]](st)
    except Failure as e:
        print("FAIL %s: %s" % (sys.argv[2], e))
        return 1
    finally:
        st.cleanup()
    print("ok %s" % sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
