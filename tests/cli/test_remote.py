#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end tests of the `varve` command line beside a running server
(suite 'cli'): commands that need the writer lock go through `varve serve`
as Kafka clients, found from <store>/SERVER or given with --bootstrap.

    /usr/bin/python3 tests/cli/test_remote.py BUILD/tools/varve TEST_NAME

Each test starts its own `varve serve` on a fresh temporary store and a free
loopback port (tests/server/compat/harness.py, used as it is) and stops it
at the end, which also checks that the store then opens clean. Exit status
0 when the test passed, 77 (skipped) without the Kafka client libraries.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server", "compat"))
from harness import Failure, Server, Store, check, connect, api_versions_v0, wait_for  # noqa: E402

VARVE = None
TIMEOUT = 60


def run(args, stdin=None, env=None, timeout=TIMEOUT):
    """Run varve ARGS (no -d added): (exit code, stdout, stderr)."""
    e = dict(os.environ)
    for name in ("VARVE_DIR", "VARVE_BOOTSTRAP"):
        e.pop(name, None)
    e.update(env or {})
    p = subprocess.run([VARVE] + [str(a) for a in args], input=stdin, capture_output=True,
                       text=True, env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ok(args, stdin=None, env=None):
    rc, out, err = run(args, stdin, env)
    check(rc == 0, "varve %s: exit %d\nstdout: %s\nstderr: %s" % (" ".join(map(str, args)), rc,
                                                              out[:2000], err[:2000]))
    return out


def fails(args, rc_expected=1, stdin=None, env=None):
    rc, out, err = run(args, stdin, env)
    check(rc == rc_expected, "varve %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
          % (" ".join(map(str, args)), rc, rc_expected, out[:2000], err[:2000]))
    return err


def lags(text):
    """{(topic, partition): (committed, end, lag)} from group describe."""
    rows = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        rows[(f[1], int(f[2]))] = (None if f[3] == "-" else int(f[3]), int(f[4]), int(f[5]))
    return rows


def started(st, *args):
    """A server on st; the SERVER file names it."""
    srv = Server(st, *args, metrics=False)
    with open(os.path.join(st.dir, "SERVER")) as f:
        check(f.read().strip() == srv.bootstrap, "SERVER names the server")
    return srv


# ---- topics ---------------------------------------------------------------------------

def topic_admin(st):
    """topic create / alter / add-partitions / delete through the server: found
    from SERVER with -d, and given with --bootstrap without a store."""
    st.cli("topic", "create", "first")
    srv = started(st)
    d = ["-d", st.dir]
    b = ["--bootstrap", srv.bootstrap]
    try:
        out = ok(d + ["topic", "create", "t1", "--partitions", "3", "--compact",
                      "--retention", "7d", "--segment-bytes", "64K"])
        check(out == "created topic t1 (3 partitions)\n", "create output %r" % out)
        out = ok(b + ["topic", "describe", "t1"])
        check(re.search(r"^  partitions\s+3$", out, re.M), "3 partitions:\n" + out)
        check(re.search(r"^  cleanup\.policy\s+compact,delete$", out, re.M), "policy:\n" + out)
        check(re.search(r"^  retention\.ms\s+604800000$", out, re.M), "retention:\n" + out)
        check(re.search(r"^  segment\.bytes\s+65536$", out, re.M), "segment.bytes:\n" + out)
        err = fails(d + ["topic", "create", "t1"])
        check("already exists" in err and srv.bootstrap in err, "exists: " + err)
        ok(d + ["topic", "create", "t1", "--if-not-exists"])
        # alter: the named settings change, the others keep their values
        out = ok(d + ["topic", "alter", "t1", "--retention", "1d", "--config",
                      "min.cleanable.dirty.ratio=0.25"])
        check(re.search(r"^  retention\.ms\s+86400000$", out, re.M), "altered:\n" + out)
        check(re.search(r"^  min\.cleanable\.dirty\.ratio\s+0\.25$", out, re.M), "ratio:\n" + out)
        check(re.search(r"^  segment\.bytes\s+65536$", out, re.M), "segment.bytes kept:\n" + out)
        check(re.search(r"^  cleanup\.policy\s+compact,delete$", out, re.M), "policy kept:\n" + out)
        out = ok(b + ["topic", "alter", "t1", "--delete"])
        check(re.search(r"^  cleanup\.policy\s+delete \(default\)$", out, re.M), "--delete:\n" + out)
        err = fails(d + ["topic", "alter", "t1", "--retention-records", "5"])
        check("--retention-records cannot be set through a server" in err, "no Kafka name: " + err)
        err = fails(b + ["topic", "alter", "t1", "--config", "bogus.name=1"], 2)
        check("Unknown topic config name" in err, "unknown config: " + err)
        err = fails(b + ["topic", "alter", "nosuch", "--retention", "1d"])
        check("no topic named nosuch" in err, "alter unknown topic: " + err)
        out = ok(d + ["topic", "add-partitions", "t1", "5"])
        check(out == "topic t1 now has 5 partitions\n", "add-partitions: %r" % out)
        err = fails(b + ["topic", "add-partitions", "t1", "2"])
        check("t1" in err and srv.bootstrap in err, "fewer partitions refused: " + err)
        check(ok(b + ["topic", "list"]).split() == ["first", "t1"], "list through the server")
        check(ok(d + ["topic", "list"]).split() == ["first", "t1"], "list from the store")
        check(ok(d + ["topic", "delete", "t1"]) == "deleted topic t1\n", "delete")
        err = fails(b + ["topic", "delete", "t1"])
        check("no topic named t1" in err, "delete unknown: " + err)
        ok(b + ["topic", "create", "t2", "--config", "retention.ms=1000"])
        check(ok(b + ["topic", "list"]).split() == ["first", "t2"], "created with --bootstrap")
        # read-only commands keep reading the store beside the server
        out = ok(d + ["topic", "describe", "t2"])
        check(re.search(r"retention\s+1s \(1000 ms\)", out), "describe from the store:\n" + out)
        err = fails(b + ["stats"], 2)
        check("give -d DIR" in err, "stats needs the store: " + err)
    finally:
        srv.stop()
    # the server's changes are in the store
    out = st.cli("topic", "describe", "t2").stdout
    check(re.search(r"retention\s+1s", out), "store has the server's topic:\n" + out)


# ---- records and groups ----------------------------------------------------------------

def produce_consume_group(st):
    """produce 1,000 lines through the server, consume --group reads them and
    commits: group describe shows lag 0; --json matches the store's records;
    keyed records land where a local produce puts the same key."""
    st.cli("topic", "create", "orders", "--partitions", "3")
    srv = started(st)
    d = ["-d", st.dir]
    try:
        lines = "".join("key%d:value %d\n" % (i % 50, i) for i in range(1000))
        out = ok(d + ["produce", "orders", "-K", ":", "--print-offsets"], stdin=lines)
        offs = [tuple(map(int, l.split())) for l in out.splitlines()]
        check(len(offs) == 1000 and len(set(offs)) == 1000, "1000 distinct offsets")
        by_key = {}
        for i, (p, _) in enumerate(offs):
            by_key.setdefault("key%d" % (i % 50), set()).add(p)
        check(all(len(v) == 1 for v in by_key.values()), "a key stays in one partition")
        out = ok(d + ["consume", "orders", "--group", "g", "--json"])
        recs = [json.loads(l) for l in out.splitlines()]
        check(len(recs) == 1000, "group read %d records" % len(recs))
        check(sorted(r["value"] for r in recs) == sorted("value %d" % i for i in range(1000)),
              "every value once")
        rows = lags(ok(d + ["group", "describe", "g"]))
        check(len(rows) == 3 and all(v[2] == 0 and v[0] == v[1] for v in rows.values()),
              "lag 0 everywhere: %r" % rows)
        rows = lags(ok(["--bootstrap", srv.bootstrap, "group", "describe", "g"]))
        check(len(rows) == 3 and sum(v[1] for v in rows.values()) == 1000 and
              all(v[2] == 0 for v in rows.values()), "lag 0 through the server: %r" % rows)
        # the records as the store has them
        local = [json.loads(l) for l in ok(d + ["consume", "orders", "--json"]).splitlines()]
        key = lambda r: (r["partition"], r["offset"])
        check(sorted(recs, key=key) == sorted(local, key=key), "--json as the store has it")
        # nothing new: a second run prints nothing and ends
        check(ok(d + ["consume", "orders", "--group", "g"]) == "", "nothing left for g")
        # --max: a member prints and commits exactly that many
        check(len(ok(d + ["consume", "orders", "-g", "m", "-n", "10"]).splitlines()) == 10, "-n 10")
        rows = lags(ok(d + ["group", "describe", "m"]))
        check(sum(v[0] or 0 for v in rows.values()) == 10, "10 committed: %r" % rows)
        err = fails(d + ["produce", "nosuch"], stdin="x\n")
        check("no topic named nosuch" in err, "produce to a missing topic: " + err)
        where = {k: p.pop() for k, p in by_key.items()}
    finally:
        srv.stop()
    out = st.cli("produce", "orders", "-K", ":", "--print-offsets",
                 stdin="".join("key%d:local\n" % i for i in range(50))).stdout
    for i, line in enumerate(out.splitlines()):
        check(int(line.split()[0]) == where["key%d" % i], "key%d: same partition locally" % i)


def group_reset_and_delete(st):
    """reset --execute while no member is active, then consume --group reads
    everything again; refused while a member is active (a confluent_kafka
    consumer), as are deletes; delete once it left."""
    from confluent_kafka import Consumer
    st.cli("topic", "create", "r", "--partitions", "2")
    st.produce("r", ["v%d" % i for i in range(50)], "-p", "0")
    st.produce("r", ["v%d" % i for i in range(50, 100)], "-p", "1")
    srv = started(st)
    d = ["-d", st.dir]
    member = None
    try:
        check(len(ok(d + ["consume", "r", "-g", "g"]).splitlines()) == 100, "first read")
        out = ok(d + ["group", "reset", "g", "--topic", "r", "--to-earliest"])
        check("dry run" in out and re.search(r"^g\s+r\s+0\s+\d+\s+0$", out, re.M), "plan:\n" + out)
        check(len(ok(d + ["consume", "r", "-g", "g"]).splitlines()) == 0, "a plan changes nothing")
        out = ok(d + ["group", "reset", "g", "--topic", "r", "--to-earliest", "--execute"])
        check("reset 2 partitions of group g" in out, "executed:\n" + out)
        check(len(ok(d + ["consume", "r", "-g", "g"]).splitlines()) == 100, "read again")
        out = ok(d + ["group", "reset", "g", "--topic", "r", "-p", "1", "--shift-by", "-5",
                      "--execute"])
        check(len(ok(d + ["consume", "r", "-g", "g"]).splitlines()) == 5, "shift-by -5")
        out = ok(["--bootstrap", srv.bootstrap, "group", "reset", "g", "--topic", "r",
                  "--to-time", "now+1h"])
        check(len(re.findall(r"  \(clamped|^g\s+r\s+\d\s+\d+\s+\d+$", out, re.M)) == 2,
              "to-time plan through the server:\n" + out)
        err = fails(d + ["group", "reset", "nosuch", "--topic", "r", "--to-latest", "--execute"])
        check("no group named nosuch" in err, "unknown group: " + err)
        ok(d + ["group", "reset", "fresh", "--topic", "r", "--to-offset", "3", "--execute",
                "--create"])
        check(lags(ok(d + ["group", "describe", "fresh"]))[("r", 0)][0] == 3, "--create")

        member = Consumer({"bootstrap.servers": srv.bootstrap, "group.id": "g",
                           "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                           "log_level": 0})
        assigned = []
        member.subscribe(["r"], on_assign=lambda c, ps: assigned.extend(ps))

        def joined():
            member.poll(0.1)
            return assigned
        wait_for(joined, "the member's assignment", timeout=30)
        err = fails(d + ["group", "reset", "g", "--topic", "r", "--to-earliest", "--execute"])
        check("can only be reset if the group 'g' is inactive" in err and "Stable" in err,
              "refused while active: " + err)
        err = fails(d + ["group", "delete", "g"])
        check("active members" in err, "delete refused while active: " + err)
        member.close()
        member = None
        check(ok(d + ["group", "delete", "g"]) == "deleted group g\n", "deleted once empty")
        err = fails(["--bootstrap", srv.bootstrap, "group", "describe", "g"])
        check("no group named g" in err, "gone: " + err)
        check("g" not in ok(["--bootstrap", srv.bootstrap, "group", "list"]).split(), "not listed")
    finally:
        if member:
            member.close()
        srv.stop()


def consume_follow_group(st):
    """consume --group --follow through the server prints what is produced
    while it runs, and commits it; SIGINT ends it with exit 0."""
    st.cli("topic", "create", "f")
    srv = started(st)
    proc = None
    try:
        proc = subprocess.Popen([VARVE, "-d", st.dir, "consume", "f", "-g", "tail", "-f"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        got = []
        reader = threading.Thread(target=lambda: got.extend(proc.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while len(got) < 3 and time.monotonic() < deadline:
            ok(["-d", st.dir, "produce", "f"], stdin="live\n")
            time.sleep(0.3)
        check(len(got) >= 3 and all(l == "live\n" for l in got), "follower printed: %r" % got)
        proc.send_signal(signal.SIGINT)
        check(proc.wait(20) == 0, "exit 0 on SIGINT: " + proc.stderr.read())
        reader.join(5)
        rows = lags(ok(["-d", st.dir, "group", "describe", "tail"]))
        check(rows[("f", 0)][0] == len(got), "committed what it printed: %r %d" % (rows, len(got)))
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        srv.stop()


def dlq_replay(st):
    """dlq replay through the server moves dead letters back to the topic and
    partition their headers name, without the dlq-* headers, once."""
    st.cli("topic", "create", "jobs", "--partitions", "2")
    st.cli("topic", "create", "jobs.dlq")
    st.cli("produce", "jobs.dlq", "-K", ":", "-H", "dlq-topic=jobs", "-H", "dlq-partition=1",
           "-H", "dlq-reason=boom", "-H", "trace=t1", stdin="k:poison\nk2:again\n")
    st.cli("produce", "jobs.dlq", stdin="no headers\n")
    srv = started(st)
    d = ["-d", st.dir]
    try:
        rc, out, err = run(d + ["dlq", "replay", "jobs.dlq", "--max", "1"])
        check(rc == 0 and out == "moved 1 dead letters back from jobs.dlq\n", "max 1: %r" % out)
        rc, out, err = run(d + ["dlq", "replay", "jobs.dlq"])
        check(rc == 0 and out == "moved 1 dead letters back from jobs.dlq\n", "rest: %r %r" % (out, err))
        check("no dlq-topic header" in err, "skipped record named: " + err)
        recs = [json.loads(l) for l in ok(d + ["consume", "jobs", "--json", "-p", "1"]).splitlines()]
        check([(r["key"], r["value"]) for r in recs] == [("k", "poison"), ("k2", "again")],
              "moved back to partition 1: %r" % recs)
        check(all(r["headers"] == {"trace": "t1"} for r in recs), "dlq-* headers dropped")
        check(ok(d + ["dlq", "replay", "jobs.dlq"]) == "moved 0 dead letters back from jobs.dlq\n",
              "nothing left")
    finally:
        srv.stop()


def clean_through_server(st):
    """clean goes through the server (VarveClean, which ApiVersions never
    shows to Kafka clients): a compacted topic's old duplicates are gone."""
    st.cli("topic", "create", "c", "--compact", "--segment-bytes", "1K")
    # Produced before the server starts, so the server's store has nothing
    # new to checkpoint while clean compacts: the store's background
    # checkpoint and a compaction run from another thread can write a
    # partition's recovery point at the same time, which fails that round.
    lines = "".join("k%d:round %d %s\n" % (k, r, "x" * 40) for r in range(30) for k in range(5))
    st.cli("produce", "c", "-K", ":", "--batch", "5", stdin=lines)
    srv = started(st)
    d = ["-d", st.dir]
    try:
        check(len(ok(d + ["consume", "c"]).splitlines()) == 150, "150 before")
        out = ok(d + ["clean", "--force"])
        m = re.match(r"cleaned: \d+ segments deleted by retention, (\d+) partitions compacted "
                     r"\((\d+) records dropped\), .* reclaimed$", out.strip())
        check(m and int(m.group(1)) >= 1 and int(m.group(2)) >= 100, "clean output %r" % out)
        recs = ok(d + ["consume", "c", "-F", "%k=%s\\n"]).splitlines()
        check(len(recs) <= 25, "duplicates gone: %d left" % len(recs))
        latest = {}
        for r in recs:
            latest[r.split("=")[0]] = r
        check(all("round 29 " in latest["k%d" % k] for k in range(5)), "latest kept: %r" % latest)
        s = connect(srv.port)
        try:
            _, err, keys = api_versions_v0(s)
        finally:
            s.close()
        check(err == 0 and 18 in keys and all(k < 1000 for k in keys),
              "ApiVersions lists Kafka's APIs only: %r" % sorted(keys))
    finally:
        srv.stop()


# ---- without a server, and when nothing answers --------------------------------------

def locked_without_server(st):
    """A writer that is no server (consume --group --follow locally) holds the
    lock: the old error, which now mentions --bootstrap; a stale SERVER file
    whose address does not answer is named."""
    st.cli("topic", "create", "w")
    st.produce("w", ["first"])
    holder = subprocess.Popen([VARVE, "-d", st.dir, "consume", "w", "-g", "live", "-f"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        check(holder.stdout.readline() == "first\n", "the holder runs")
        for args, stdin in ((["produce", "w"], "x\n"), (["topic", "create", "t"], None),
                            (["clean"], None), (["group", "delete", "live"], None)):
            err = fails(["-d", st.dir] + args, stdin=stdin)
            check("store is open by a writer; stop it first" in err and "--bootstrap" in err,
                  "%r: %s" % (args, err))
        with socket.socket() as probe:  # a port where nothing listens
            probe.bind(("127.0.0.1", 0))
            dead = probe.getsockname()[1]
        with open(os.path.join(st.dir, "SERVER"), "w") as f:
            f.write("127.0.0.1:%d\n" % dead)
        err = fails(["-d", st.dir, "produce", "w"], stdin="x\n")
        check("does not answer" in err and "store is open by a writer" in err, "stale: " + err)
    finally:
        holder.send_signal(signal.SIGINT)
        holder.wait(20)
    check(st.cli("consume", "w").stdout == "first\n", "nothing was produced")


def timeouts(st):
    """--timeout-ms bounds every command against a port that accepts and never
    answers; a closed port fails at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    b = ["--bootstrap", "127.0.0.1:%d" % port, "--timeout-ms", "1500"]
    try:
        for args, stdin in ((["topic", "create", "x"], None), (["produce", "x"], "v\n"),
                            (["consume", "x", "-g", "g"], None), (["group", "delete", "g"], None),
                            (["clean"], None), (["topic", "list"], None)):
            t0 = time.monotonic()
            rc, out, err = run(b + args, stdin=stdin, timeout=30)
            took = time.monotonic() - t0
            check(rc == 1 and "127.0.0.1:%d" % port in err and "no answer" in err,
                  "%r: exit %d: %s" % (args, rc, err))
            check(1.3 < took < 10, "%r took %.1fs with --timeout-ms 1500" % (args, took))
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        listener.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    t0 = time.monotonic()
    err = fails(["--bootstrap", "127.0.0.1:%d" % dead, "topic", "delete", "x"])
    check("Connection refused" in err and time.monotonic() - t0 < 5, "closed port: " + err)
    err = fails(["--bootstrap", "nocolon", "clean"])
    check("not HOST:PORT" in err, "bad address: " + err)


TESTS = {f.__name__: f for f in (topic_admin, produce_consume_group, group_reset_and_delete,
                                 consume_follow_group, dlq_replay, clean_through_server,
                                 locked_without_server, timeouts)}


def main():
    global VARVE
    if len(sys.argv) != 3 or sys.argv[2] not in TESTS:
        print("usage: test_remote.py PATH/TO/varve TEST (%s)" % ", ".join(TESTS), file=sys.stderr)
        return 2
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        print("skipped: no confluent_kafka", file=sys.stderr)
        return 77
    VARVE = os.path.abspath(sys.argv[1])
    st = Store(VARVE)
    t0 = time.time()
    try:
        TESTS[sys.argv[2]](st)
    except Failure as e:
        print("FAIL %s: %s" % (sys.argv[2], e), flush=True)
        return 1
    finally:
        st.cleanup()
    print("ok   %s %.2fs" % (sys.argv[2], time.time() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
