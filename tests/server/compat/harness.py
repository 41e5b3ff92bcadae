# SPDX-License-Identifier: MIT
"""harness.py -- what the compatibility tests share: a `varve serve` on a
fresh temporary store and a free loopback port, the store's CLI, and a raw
Kafka-protocol client for the bad-input tests.

A Server is started with `--listen 127.0.0.1:0 --metrics 127.0.0.1:0`; the
test waits for its one stdout line ("varve serve: listening on HOST:PORT,
metrics on port N, ...") and reads both ports from it. stop() sends SIGTERM
and checks that the server exits 0 within STOP_TIMEOUT seconds, that it
removed <store>/SERVER, and that the store then opens clean (`varve -v stats`
says "clean", so recovery had nothing to cut).
"""
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request

START_TIMEOUT = 10.0
STOP_TIMEOUT = 8.0


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def wait_for(fn, what, timeout=10.0, step=0.05):
    """Poll fn() until it returns a true value (returned), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure("timed out waiting for " + what)
        time.sleep(step)


class Store:
    """A temporary store directory and the `varve` CLI on it."""

    def __init__(self, varve):
        self.varve = varve
        self.tmp = tempfile.mkdtemp(prefix="varve-compat-")
        self.dir = os.path.join(self.tmp, "store")

    def cli(self, *args, stdin=None, check_rc=True):
        p = subprocess.run([self.varve, "-d", self.dir] + list(args), input=stdin,
                           capture_output=True, text=True, timeout=30)
        if check_rc and p.returncode != 0:
            raise Failure("varve %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def produce(self, topic, lines, *args):
        return self.cli("produce", topic, *args, stdin="".join(l + "\n" for l in lines))

    def check_clean(self):
        p = self.cli("-v", "stats")
        check(re.search(r"opened .*clean\)", p.stderr),
              "store did not open clean after the server stopped: " + p.stderr)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Server:
    def __init__(self, store, *args, metrics=True, listen="127.0.0.1:0"):
        # listen: the first listener (PLAINTEXT); --listen in args adds more
        self.store = store
        cmd = [store.varve, "serve", store.dir, "--listen", listen]
        cmd += ["--metrics", "127.0.0.1:0" if metrics else "none"]
        cmd += list(args)
        self.errfile = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errfile,
                                     text=True)
        self.line = self._ready_line()
        m = re.match(r"varve serve: listening on 127\.0\.0\.1:(\d+)", self.line)
        check(m, "unexpected ready line: %r" % self.line)
        self.port = int(m.group(1))
        m = re.search(r"metrics on port (\d+)", self.line)
        self.metrics_port = int(m.group(1)) if m else None
        self.bootstrap = "127.0.0.1:%d" % self.port

    def _ready_line(self):
        r, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        if not r:
            self.proc.kill()
            raise Failure("no ready line within %.0fs: %s" % (START_TIMEOUT, self.stderr()))
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise Failure("server exited %s before it was ready: %s"
                          % (self.proc.returncode, self.stderr()))
        return line.strip()

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read()

    def alive(self):
        return self.proc.poll() is None

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=5) as r:
            check(r.status == 200, "/metrics answered %d" % r.status)
            return r.headers.get("Content-Type", ""), r.read().decode("utf-8")

    def stop(self, expect_clean=True):
        """SIGTERM; the server must exit 0 soon and leave a clean store."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("server did not stop within %.0fs of SIGTERM" % STOP_TIMEOUT)
        out = self.proc.stdout.read()
        check(out == "", "server wrote more than its ready line on stdout: %r" % out)
        if expect_clean:
            check(rc == 0, "server exited %d after SIGTERM: %s" % (rc, self.stderr()))
            check(not os.path.exists(os.path.join(self.store.dir, "SERVER")),
                  "SERVER left behind after a clean stop")
            self.store.check_clean()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- a raw Kafka client (bad-input tests) -------------------------------------------

def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(key, version, corr, body=b"", client_id=b"compat"):
    """A request frame with header v1 (non-flexible versions)."""
    hdr = struct.pack(">hhih", key, version, corr, len(client_id)) + client_id
    msg = hdr + body
    return struct.pack(">i", len(msg)) + msg


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_frame(s):
    (n,) = struct.unpack(">i", recv_exact(s, 4))
    return recv_exact(s, n)


def closed_by_peer(s, timeout=5.0):
    """True if the server closes the connection within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def api_versions_v0(s, corr=1, version=0):
    """Send ApiVersions (any version number, body empty) and parse a v0 answer:
    (correlation id, error code, {key: (min, max)})."""
    s.sendall(request(18, version, corr))
    f = recv_frame(s)
    c, err, n = struct.unpack(">ihi", f[:10])
    keys = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", f[10 + 6 * i:16 + 6 * i])
        keys[k] = (lo, hi)
    return c, err, keys
