# SPDX-License-Identifier: MIT
"""acl_e2e.py -- permissions of `varve serve` with real Kafka clients.

    /usr/bin/python3 acl_e2e.py VARVE_BINARY TEST_NAME [CLIENT]

meson registers every test in TESTS as its own test (suite 'compat'). Each
runs on a fresh store with the harness of ../compat (harness.py): the
ACLs are set with `varve acl` (beside the running server, or before it
starts), the clients are kcat, confluent-kafka (librdkafka) and
kafka-python, and the server must stop cleanly at the end.

Who the clients are: CLIENT names an entry of CLIENTS, the principal the
server will see for them and the client settings that make it so.
"anonymous" (the default): User:ANONYMOUS on the PLAINTEXT listener; the
other principal of a test (OTHER, User:other) is then only named in ACLs
and in data made with the CLI. "alice": the server also gets a
SASL_PLAINTEXT listener and two SCRAM users, the test's client
authenticates as User:alice and the other principal is User:bob, a client
too (OTHER_CLIENT): two real principals, each with its own grants (meson
registers these as compat_acl_sasl_*).
"""
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import harness  # noqa: E402
from harness import Failure, Server, Store, check, wait_for  # noqa: E402

VARVE = None
TESTS = {}


class Client:
    """A principal and how a client connects as it: the listener (its
    protocol in the server's ready line), extra settings for confluent-kafka
    (a dict), kcat (-X arguments) and kafka-python (keyword arguments)."""

    def __init__(self, principal, listener="PLAINTEXT", confluent=None, kafka_python=None):
        self.principal = principal
        self.listener = listener
        self.confluent = dict(confluent or {})
        self.kafka_python = dict(kafka_python or {})

    def bootstrap(self, srv):
        if self.listener == "PLAINTEXT":
            return srv.bootstrap
        m = re.search(r"%s://127\.0\.0\.1:(\d+)" % self.listener, srv.line)
        check(m, "no %s listener in %r" % (self.listener, srv.line))
        return "127.0.0.1:%s" % m.group(1)

    def kcat_args(self):
        out = []
        for k, v in sorted(self.confluent.items()):
            out += ["-X", "%s=%s" % (k, v)]
        return out


PASSWORD = "acl-test-password"


def scram_user(name):
    """A SCRAM-SHA-256 user of the SASL_PLAINTEXT listener."""
    return Client("User:" + name, "SASL_PLAINTEXT",
                  confluent={"security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanisms": "SCRAM-SHA-256",
                             "sasl.username": name, "sasl.password": PASSWORD},
                  kafka_python={"security_protocol": "SASL_PLAINTEXT",
                                "sasl_mechanism": "SCRAM-SHA-256",
                                "sasl_plain_username": name,
                                "sasl_plain_password": PASSWORD,
                                "api_version": (2, 0, 0)})


ANONYMOUS = Client("User:ANONYMOUS")
CLIENTS = {"anonymous": ANONYMOUS, "alice": scram_user("alice")}
ME = ANONYMOUS
# The other principal: named in ACLs; with authentication, also a client.
OTHER = Client("User:other")
OTHER_CLIENT = None
SASL = False


def serve(st, *args):
    """`varve serve` on st (PLAINTEXT listener; with SASL clients also a
    SASL_PLAINTEXT one)."""
    if SASL:
        args = ("--listen", "SASL_PLAINTEXT://127.0.0.1:0") + args
    return Server(st, *args)


def test(fn):
    TESTS[fn.__name__] = fn
    return fn


# ---- clients -----------------------------------------------------------------------

def kcat(srv, *args, timeout=20, who=None):
    """kcat as `who` (ME by default): (exit code, stdout, stderr)."""
    who = who or ME
    p = subprocess.run(["kcat", "-b", who.bootstrap(srv)] + who.kcat_args() + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def produce(srv, topic, values, who=None, **extra):
    """confluent-kafka Producer: {value: None or the error's code name}."""
    from confluent_kafka import Producer
    who = who or ME
    conf = {"bootstrap.servers": who.bootstrap(srv), "message.timeout.ms": 8000}
    conf.update(who.confluent)
    conf.update(extra)
    p = Producer(conf)
    out = {}

    def done(err, msg):
        out[msg.value().decode()] = err.name() if err else None
    for v in values:
        p.produce(topic, v.encode(), callback=done)
    p.flush(15)
    check(len(out) == len(values), "not every delivery reported: %r" % out)
    return out


def consume(srv, topic, group, count, who=None, timeout=10.0):
    """A confluent-kafka group consumer from the beginning: (values, error
    names seen); stops at count values, at an authorization error, or after
    timeout."""
    from confluent_kafka import Consumer
    who = who or ME
    conf = {"bootstrap.servers": who.bootstrap(srv), "group.id": group,
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": 6000}
    conf.update(who.confluent)
    c = Consumer(conf)
    c.subscribe([topic])
    values, errors = [], set()
    deadline = time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            errors.add(m.error().name())
            if m.error().name().endswith("AUTHORIZATION_FAILED"):
                break
            continue
        values.append(m.value().decode())
    if values:
        c.commit(asynchronous=False)
    c.close()
    return values, errors


def kafka_admin(srv, who=None):
    from kafka import KafkaAdminClient
    who = who or ME
    return KafkaAdminClient(bootstrap_servers=who.bootstrap(srv), request_timeout_ms=10000,
                            **who.kafka_python)


def acl(st, *args, check_rc=True):
    return st.cli("acl", *args, check_rc=check_rc)


def grant(st, who, ops, *resource, permission="--allow", host=None):
    args = ["add", permission, "--principal", who.principal, "--operation", ops]
    if host:
        args += ["--host", host]
    return acl(st, *(args + list(resource)))


def lines_with(text, needle):
    return sum(1 for line in text.splitlines() if needle in line)


def metric(srv, sample):
    _, text = srv.metrics()
    m = re.search(r"^" + re.escape(sample) + r" (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def end_offset(st, topic):
    out = st.cli("topic", "describe", topic).stdout
    rows = re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s", out, re.M)
    return sum(int(end) for _, _, end in rows)


def others_have_everything(st):
    """ACLs exist, and none is for ME."""
    grant(st, OTHER, "all", "--topic", "*")
    grant(st, OTHER, "all", "--group", "*")
    grant(st, OTHER, "all", "--cluster")


# ---- tests ------------------------------------------------------------------------------

@test
def acl_none_allows_everything(st):
    """Without any ACL every request is allowed: a producer, a group
    consumer, kcat's listing, and kafka-python's DescribeAcls (an empty
    list, no error)."""
    st.cli("topic", "create", "orders")
    srv = serve(st)
    try:
        check(produce(srv, "orders", ["a", "b"]) == {"a": None, "b": None}, "produce")
        values, errors = consume(srv, "orders", "g", 2)
        check(values == ["a", "b"], "consume: %r %r" % (values, errors))
        rc, out, err = kcat(srv, "-L", "-J")
        check(rc == 0 and "orders" in out, "kcat -L: %s" % err)
        from kafka.admin import ACLFilter, ResourcePatternFilter, ResourceType, ACLOperation
        from kafka.admin import ACLPermissionType, ACLResourcePatternType
        a = kafka_admin(srv)
        acls, error = a.describe_acls(ACLFilter(
            principal=None, host=None, operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                   ACLResourcePatternType.ANY)))
        check(acls == [] and error.errno == 0, "describe_acls: %r %r" % (acls, error))
        a.close()
    finally:
        srv.stop()


@test
def acl_refused_gets_the_error_and_no_data(st):
    """Once an ACL exists, a client without a grant is refused everywhere
    with Kafka's authorization errors and gets no data: its producer's
    deliveries fail with TOPIC_AUTHORIZATION_FAILED and nothing is stored,
    kcat cannot read the topic nor see it listed, its consumer group gets
    the authorization error and no record. Each refusal is counted in
    /metrics; the log has one line per principal and resource, not one per
    request."""
    st.cli("topic", "create", "orders")
    st.produce("orders", ["secret1", "secret2"])
    others_have_everything(st)
    srv = serve(st)
    try:
        for _ in range(2):
            r = produce(srv, "orders", ["x", "y"])
            check(set(r.values()) == {"TOPIC_AUTHORIZATION_FAILED"}, "produce: %r" % r)
        rc, out, err = kcat(srv, "-C", "-t", "orders", "-o", "beginning", "-e")
        check("secret" not in out, "kcat read records: %r" % out)
        check("authorization" in err.lower(), "kcat error: %r" % err)
        rc, out, err = kcat(srv, "-L", "-J")
        check(rc == 0 and json.loads(out)["topics"] == [], "listed: %s" % out)
        values, errors = consume(srv, "orders", "g", 1, timeout=8)
        check(values == [], "consumed %r" % values)
        check(errors & {"TOPIC_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED"},
              "consumer errors: %r" % errors)
        # the clients learn of the refusal from Metadata and send no Produce
        check(metric(srv, 'varve_kafka_authorization_failures_total'
                     '{api="Metadata",resource_type="topic"}') >= 2, "Metadata refusals not counted")
        if OTHER_CLIENT:  # the refusal is this principal's: the other one writes
            r = produce(srv, "orders", ["theirs"], who=OTHER_CLIENT)
            check(r == {"theirs": None}, "the other principal's produce: %r" % r)
    finally:
        srv.stop()
    check(end_offset(st, "orders") == (3 if OTHER_CLIENT else 2), "records were appended")
    log = srv.stderr()
    check(lines_with(log, '%s (127.0.0.1:' % ME.principal) >= 1, "no refusal logged: " + log)
    check(lines_with(log, 'on topic "orders" (Metadata)') == 1,
          "the Metadata refusal of orders is not logged exactly once: " + log)


@test
def acl_grants_make_it_work(st):
    """The grants a producer and a consumer group need, added with `varve
    acl` beside the running server, take effect for the next clients:
    WRITE (an idempotent producer needs no more), then READ on the topic and
    the group; the group's commit is stored. Removing the READ grant refuses
    the consumer again."""
    st.cli("topic", "create", "orders")
    others_have_everything(st)
    srv = serve(st)
    try:
        r = produce(srv, "orders", ["a"])
        check(r == {"a": "TOPIC_AUTHORIZATION_FAILED"}, "before the grant: %r" % r)
        grant(st, ME, "write", "--topic", "orders")
        r = produce(srv, "orders", ["a", "b", "c"], **{"enable.idempotence": True})
        check(r == {"a": None, "b": None, "c": None}, "after WRITE: %r" % r)
        if ME is not ANONYMOUS:  # the grant is ME's: an anonymous client is still refused
            r = produce(srv, "orders", ["anon"], who=ANONYMOUS)
            check(r == {"anon": "TOPIC_AUTHORIZATION_FAILED"}, "anonymous: %r" % r)
        grant(st, ME, "read", "--topic", "orders")
        grant(st, ME, "read", "--group", "readers")
        values, errors = consume(srv, "orders", "readers", 3)
        check(values == ["a", "b", "c"], "consume: %r %r" % (values, errors))
        acl(st, "remove", "--principal", ME.principal, "--operation", "read", "--topic", "orders")
        values, errors = consume(srv, "orders", "readers2", 1, timeout=6)
        check(values == [] and errors, "after the removal: %r %r" % (values, errors))
    finally:
        srv.stop()
    out = st.cli("group", "describe", "readers").stdout
    check(re.search(r"orders\s+0\s+3\b", out), "commit of readers: " + out)


@test
def acl_another_principals_group(st):
    """A client reading another principal's group: the other principal may
    read group "theirs", this client may read the topic and its own group
    only. It gets GROUP_AUTHORIZATION_FAILED and no records as a member of
    "theirs", cannot see its offsets or describe it (kafka-python: already
    FindCoordinator is refused), does not
    see it in ListGroups, and the group's commit is unchanged."""
    st.cli("topic", "create", "orders")
    st.produce("orders", ["a", "b", "c"])
    st.cli("group", "reset", "theirs", "--topic", "orders", "--to-offset", "1", "--execute",
           "--create")
    st.cli("group", "reset", "mine", "--topic", "orders", "--to-offset", "2", "--execute",
           "--create")
    grant(st, OTHER, "read", "--group", "theirs")
    grant(st, OTHER, "read", "--topic", "orders")
    grant(st, ME, "read", "--topic", "orders")
    grant(st, ME, "read", "--group", "mine")
    srv = serve(st)
    try:
        values, errors = consume(srv, "orders", "theirs", 1, timeout=8)
        check(values == [], "read through their group: %r" % values)
        check("GROUP_AUTHORIZATION_FAILED" in errors, "errors: %r" % errors)
        from kafka.errors import GroupAuthorizationFailedError
        a = kafka_admin(srv)
        try:
            offs = a.list_consumer_group_offsets("theirs")
            raise Failure("their offsets were shown: %r" % offs)
        except GroupAuthorizationFailedError:
            pass
        try:  # FindCoordinator already needs DESCRIBE on the group
            d = a.describe_consumer_groups(["theirs"])
            raise Failure("their group was described: %r" % (d,))
        except GroupAuthorizationFailedError:
            pass
        check([g[0] for g in a.list_consumer_groups()] == ["mine"], "list_consumer_groups")
        offs = a.list_consumer_group_offsets("mine")
        check([om.offset for om in offs.values()] == [2], "own offsets: %r" % offs)
        a.close()
        if OTHER_CLIENT:  # with authentication: the owner sees its commit, reads on
            a = kafka_admin(srv, who=OTHER_CLIENT)
            offs = a.list_consumer_group_offsets("theirs")
            check([om.offset for om in offs.values()] == [1], "their commit moved: %r" % offs)
            a.close()
            values, _ = consume(srv, "orders", "theirs", 2, who=OTHER_CLIENT)
            check(values == ["b", "c"], "the owner's read: %r" % values)
    finally:
        srv.stop()
    out = st.cli("group", "describe", "theirs").stdout
    want = 3 if OTHER_CLIENT else 1  # the owner's own read committed 3
    check(re.search(r"orders\s+0\s+%d\b" % want, out), "their commit: " + out)


@test
def acl_prefix_deny_and_host(st):
    """A prefixed grant covers every topic under it, a DENY wins over it,
    and an ACL for another host does not apply to this client (at
    127.0.0.1)."""
    for t in ("logs-app", "logs-secret", "metrics"):
        st.cli("topic", "create", t)
    grant(st, ME, "write,read", "--topic-prefix", "logs-")
    grant(st, ME, "write", "--topic", "logs-secret", permission="--deny")
    grant(st, ME, "write", "--topic", "metrics", host="10.9.9.9")
    srv = serve(st)
    try:
        check(produce(srv, "logs-app", ["a"]) == {"a": None}, "under the prefix")
        check(produce(srv, "logs-secret", ["a"]) == {"a": "TOPIC_AUTHORIZATION_FAILED"},
              "the deny")
        check(produce(srv, "metrics", ["a"]) == {"a": "TOPIC_AUTHORIZATION_FAILED"},
              "an ACL for another host")
        grant(st, ME, "write", "--topic", "metrics", host="127.0.0.1")
        check(produce(srv, "metrics", ["a"]) == {"a": None}, "an ACL for this host")
    finally:
        srv.stop()
    check([end_offset(st, t) for t in ("logs-app", "logs-secret", "metrics")] == [1, 0, 1],
          "stored records")


@test
def acl_kafka_admin_apis(st):
    """Kafka's ACL APIs through kafka-python edit the same file as `varve
    acl`: the first ACLs (ALTER and DESCRIBE on the cluster for this client)
    are allowed because none exists; then ACLs for another principal are
    created, described (by a MATCH filter too), deleted, and `varve acl
    list` agrees at each step. Without ALTER on the cluster, CreateAcls is
    refused with CLUSTER_AUTHORIZATION_FAILED."""
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,
                             ACLResourcePatternType, ResourcePattern, ResourcePatternFilter,
                             ResourceType)
    st.cli("topic", "create", "orders")
    srv = serve(st)

    def binding(principal, op, rtype, name, pattern=ACLResourcePatternType.LITERAL):
        return ACL(principal=principal, host="*", operation=op,
                   permission_type=ACLPermissionType.ALLOW,
                   resource_pattern=ResourcePattern(rtype, name, pattern))
    try:
        a = kafka_admin(srv)
        r = a.create_acls([binding(ME.principal, ACLOperation.ALTER, ResourceType.CLUSTER,
                                   "kafka-cluster"),
                           binding(ME.principal, ACLOperation.DESCRIBE, ResourceType.CLUSTER,
                                   "kafka-cluster")])
        check(len(r["succeeded"]) == 2 and not r["failed"], "bootstrap: %r" % r)
        r = a.create_acls([binding(OTHER.principal, ACLOperation.READ, ResourceType.TOPIC,
                                   "orders"),
                           binding(OTHER.principal, ACLOperation.WRITE, ResourceType.TOPIC,
                                   "ord", ACLResourcePatternType.PREFIXED),
                           binding("nobody", ACLOperation.READ, ResourceType.TOPIC, "x")])
        check(len(r["succeeded"]) == 2 and len(r["failed"]) == 1, "create_acls: %r" % r)
        listed = acl(st, "list").stdout.splitlines()
        check(len(listed) == 4 and "allow %s * write topic prefixed ord" % OTHER.principal
              in listed,
              "varve acl list: %r" % listed)
        match = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                          permission_type=ACLPermissionType.ANY,
                          resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, "orders",
                                                                 ACLResourcePatternType.MATCH))
        acls, error = a.describe_acls(match)
        check(error.errno == 0 and len(acls) == 2, "describe_acls MATCH: %r" % acls)
        res = a.delete_acls([ACLFilter(principal=OTHER.principal, host=None,
                                       operation=ACLOperation.ANY,
                                       permission_type=ACLPermissionType.ANY,
                                       resource_pattern=ResourcePatternFilter(
                                           ResourceType.ANY, None, ACLResourcePatternType.ANY))])
        check(len(res[0][1]) == 2, "delete_acls: %r" % res)
        check(len(acl(st, "list").stdout.splitlines()) == 2, "after the delete")
        acl(st, "remove", "--principal", ME.principal, "--operation", "alter", "--cluster")
        a.close()
        a = kafka_admin(srv)
        r = a.create_acls([binding(OTHER.principal, ACLOperation.READ, ResourceType.TOPIC, "t")])
        check(len(r["failed"]) == 1 and r["failed"][0][1].errno == 31,
              "without ALTER: %r" % r)
        a.close()
    finally:
        srv.stop()


@test
def acl_files_and_flags(st):
    """The server refuses to start on an ACL file that does not parse
    (saying which line), keeps the ACLs in force when a running server's
    file goes bad (one warning), and --super-user lets a principal past
    every ACL."""
    st.cli("topic", "create", "orders")
    path = os.path.join(st.dir, "acls")
    with open(path, "w") as f:
        f.write("allow User:a * read topic literal t\nnot an acl\n")
    try:
        serve(st)
        raise Failure("the server started with a bad ACL file")
    except Failure as e:
        check("line 2" in str(e), "no line number: %s" % e)
    os.unlink(path)
    grant(st, ME, "write", "--topic", "orders")
    others_have_everything(st)
    srv = serve(st)
    try:
        check(produce(srv, "orders", ["a"]) == {"a": None}, "granted")
        with open(path, "a") as f:
            f.write("garbage\n")
        check(produce(srv, "orders", ["b"]) == {"b": None}, "the old ACLs stay")
        check(metric(srv, "varve_kafka_acl_reload_failures_total") == 1, "reload failure counted")
    finally:
        srv.stop()
    check(lines_with(srv.stderr(), "ACL file not reloaded") == 1, "one warning: " + srv.stderr())
    with open(path, "w") as f:
        f.write("deny User:* * all topic literal *\n")
    srv = serve(st, "--super-user", ME.principal)
    try:
        check(produce(srv, "orders", ["c"]) == {"c": None}, "a super user")
    finally:
        srv.stop()


@test
def acl_cli(st):
    """`varve acl` on its own: usage errors exit 2 and change nothing, a
    remove that matches nothing exits 1, a directory that is not a store is
    refused, --json gives one object per ACL, a group id with blanks and a
    newline survives the file (mode 0600) and prints as one line."""
    st.cli("topic", "create", "t")
    usage = [
        ["add", "--principal", "User:a", "--operation", "read", "--topic", "t"],
        ["add", "--allow", "--deny", "--principal", "User:a", "--operation", "read", "--topic", "t"],
        ["add", "--allow", "--principal", "a", "--operation", "read", "--topic", "t"],
        ["add", "--allow", "--principal", "User:a", "--operation", "write", "--group", "g"],
        ["add", "--allow", "--principal", "User:a", "--operation", "reed", "--topic", "t"],
        ["add", "--allow", "--principal", "User:a", "--operation", "read", "--host", "h.example",
         "--topic", "t"],
        ["add", "--allow", "--principal", "User:a", "--operation", "read", "--topic", "t",
         "--group", "g"],
        ["remove"],
        ["remove", "--all", "--topic", "t"],
        ["list", "--all"],
    ]
    for args in usage:
        p = acl(st, *args, check_rc=False)
        check(p.returncode == 2, "%r: exit %d (%s)" % (args, p.returncode, p.stderr))
    check(not os.path.exists(os.path.join(st.dir, "acls")), "a usage error wrote the file")
    p = acl(st, "remove", "--topic", "t", check_rc=False)
    check(p.returncode == 1 and "no ACL matched" in p.stderr, "remove of nothing: %r" % p.stderr)
    p = subprocess.run([VARVE, "-d", st.tmp, "acl", "list"], capture_output=True, text=True)
    check(p.returncode == 1 and "not a varve store" in p.stderr, "not a store: %r" % p.stderr)
    odd = "team a\nb%"
    out = grant(st, ME, "read,describe", "--group", odd).stdout.splitlines()
    check(out == ["added: allow %s * read group literal team%%20a%%0Ab%%25" % ME.principal,
                  "added: allow %s * describe group literal team%%20a%%0Ab%%25" % ME.principal],
          "add: %r" % out)
    out = grant(st, ME, "read", "--group", odd).stdout
    check(out.startswith("already there: "), "a repeat: %r" % out)
    check(os.stat(os.path.join(st.dir, "acls")).st_mode & 0o777 == 0o600, "mode")
    rows = [json.loads(line) for line in acl(st, "list", "--json").stdout.splitlines()]
    check(len(rows) == 2 and rows[0]["name"] == odd and rows[0]["resource_type"] == "group"
          and rows[0]["principal"] == ME.principal and rows[0]["host"] == "*",
          "list --json: %r" % rows)
    check(len(acl(st, "list", "--operation", "describe").stdout.splitlines()) == 1, "filter")
    p = acl(st, "remove", "--all")
    check(len(p.stdout.splitlines()) == 2 and "no ACL left" in p.stderr, "remove --all: %r" % p)


def two_users(st):
    """The SASL variant: ME is a SCRAM user, and so is the other principal."""
    global SASL, OTHER, OTHER_CLIENT
    SASL = True
    OTHER = OTHER_CLIENT = scram_user("bob")
    for name in (ME.principal[len("User:"):], "bob"):
        st.cli("user", "add", name, stdin=PASSWORD + "\n")


def main():
    global VARVE, ME
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in TESTS or \
            (len(sys.argv) == 4 and sys.argv[3] not in CLIENTS):
        sys.stderr.write("usage: acl_e2e.py VARVE TEST [CLIENT]\ntests: %s\nclients: %s\n"
                         % (" ".join(sorted(TESTS)), " ".join(sorted(CLIENTS))))
        return 2
    VARVE = sys.argv[1]
    if len(sys.argv) == 4:
        ME = CLIENTS[sys.argv[3]]
    st = Store(VARVE)
    try:
        if ME.listener != "PLAINTEXT":
            two_users(st)
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
