"""The harness of pidcar's integration tests: a fresh PID namespace per daemon.

Each namespace is `unshare --pid --fork --mount-proc --kill-child` running nsinit.py as
its PID 1.  nsinit builds a known process tree, starts pidcar and reports namespace PIDs;
the test reaches pidcar on 127.0.0.1 and takes ground truth with `nsenter ... ps`.
Everything is cleaned up by PID: killing the namespace's init ends the namespace.
"""

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NSINIT = HERE / "nsinit.py"
PYTHON = "/usr/bin/python3"
PIDCAR_BIN = os.path.abspath(os.environ.get("PIDCAR_BIN", str(REPO / "build" / "pidcar")))

START_TIMEOUT = 10.0      # nsinit + pidcar until /readyz says 200
STOP_TIMEOUT = 10.0       # SIGTERM until pidcar has exited

# A process tree with something of everything: plain sleepers, chains, threads,
# hostile names (a ')' to fool naive stat parsers, a newline, a quote and a backslash
# for the escapers), a zombie, and processes of other users (one not in /etc/passwd).
HOSTILE_NAMES = ["we ird)name", "new\nline", "x) Z 1 2 (", 'q"uo\\te']
DEFAULT_SPEC = {
    "plain": 5,
    "chains": [3, 2],
    "threaded": 2,
    "names": HOSTILE_NAMES,
    "zombies": 1,
    "users": [65534, 4242],
}

SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                          r"runtime error:|ERROR: .*Sanitizer")
BAD_LOG_RE = re.compile(r"^pidcar: (warning|error|fatal|crit)")


def require_namespaces():
    reason = None
    if os.geteuid() != 0:
        reason = "integration tests need root to create PID namespaces (euid %d)" % os.geteuid()
    elif not (shutil.which("unshare") and shutil.which("nsenter")):
        reason = "unshare(1)/nsenter(1) from util-linux are not installed"
    if reason:
        print("SKIP: " + reason, file=sys.stderr)
        pytest.skip(reason)


def require_binary():
    if not os.access(PIDCAR_BIN, os.X_OK):
        pytest.fail("pidcar binary %s does not exist (run `make`, or set PIDCAR_BIN)"
                    % PIDCAR_BIN, pytrace=False)


def clean_env(extra=None):
    """The test's environment without PIDCAR_* (which would configure pidcar), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIDCAR_")}
    env.update(extra or {})
    return env


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_bindable(port):
    """True when a new server could listen on the port, as a restarted pidcar would
    (SO_REUSEADDR, so the TIME_WAIT of closed connections does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
        except OSError:
            return False
        return True


def port_open(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns something truthy; fails naming what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.1fs waiting for %s" % (timeout, what), pytrace=False)
        time.sleep(interval)


def eventually(fn, timeout=5.0, interval=0.1):
    """Runs fn until it stops raising AssertionError; re-raises the last one at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("body is not JSON (%s): %r" % (e, self.body[:500])) from None

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "")

    def __repr__(self):
        return "<HTTP %d %s: %r>" % (self.status, self.content_type, self.body[:300])


def http_request(port, method, path, headers=None, body=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.headers, data)
    finally:
        conn.close()


def raw_request(port, data, timeout=5.0):
    """Sends raw bytes, returns whatever comes back until the server closes (or timeout)."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        with contextlib.suppress(socket.timeout, ConnectionResetError):
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
    return out


def run_pidcar(args, env=None, timeout=15.0):
    """Runs the binary directly (no namespace) for CLI checks; returns CompletedProcess."""
    require_binary()
    r = subprocess.run([PIDCAR_BIN, *args], env=clean_env(env), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    # Under ASan/UBSan a report (a leak at exit included) fails the test.
    bad = [ln for ln in r.stderr.splitlines() if SANITIZER_RE.search(ln)]
    if bad:
        pytest.fail("sanitizer report from pidcar %s:\n%s" % (" ".join(args), r.stderr),
                    pytrace=False)
    return r


def read_proc_nspid(host_pid):
    """The PID of host_pid in its innermost PID namespace, or None if gone."""
    try:
        with open("/proc/%d/status" % host_pid) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except OSError:
        return None
    return None


def children_of(host_pid):
    try:
        with open("/proc/%d/task/%d/children" % (host_pid, host_pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def set_pdeathsig():
    # If pytest dies, unshare dies, and --kill-child takes the namespace with it.
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG


class Spawned:
    """A command started inside the namespace with nsenter (its parent stays outside)."""

    def __init__(self, nsenter, host_pid, ns_pid):
        self.nsenter = nsenter
        self.host_pid = host_pid
        self.pid = ns_pid

    def kill(self, sig=signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.host_pid, sig)

    def wait(self, timeout=10.0):
        return self.nsenter.wait(timeout)


class Namespace:
    """One PID namespace with nsinit as PID 1 and (usually) pidcar in it."""

    stopped_expect_zero = True   # a test that makes pidcar fail on purpose sets False

    def __init__(self, workdir, spec=None, conf=None, args=(), env=None, port=None,
                 pidcar=True, log_level="info"):
        require_namespaces()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spec = dict(DEFAULT_SPEC if spec is None else spec)
        self.port = port or free_port()
        self.conf_path = self.dir / "pidcar.conf"
        if conf is None:
            conf = "listen 127.0.0.1:%d\nlog_level %s\n" % (self.port, log_level)
        self.conf_path.write_text(conf)
        self.stderr_path = self.dir / "pidcar.stderr"
        self.stdout_path = self.dir / "pidcar.stdout"
        self.info_path = self.dir / "info.json"
        self.exit_path = self.dir / "info.json.pidcar-exit"
        self.unshare_err = self.dir / "unshare.stderr"
        self.allowed = []
        self.log_offset = 0
        self.spawned = []
        self.closed = False
        self.stopped = None
        if pidcar:
            require_binary()
            env_pidcar = clean_env(env)
            env_pidcar.pop("PIDCAR_BIN", None)
            self.spec["pidcar"] = {
                "argv": [PIDCAR_BIN, "-f", str(self.conf_path), *args],
                "env": env_pidcar,
                "stdout": str(self.stdout_path),
                "stderr": str(self.stderr_path),
            }
        else:
            self.spec["pidcar"] = None
        (self.dir / "spec.json").write_text(json.dumps(self.spec))

    # life cycle

    def start(self, wait_ready=True):
        with open(self.unshare_err, "wb") as err:
            self.unshare = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
                 PYTHON, str(NSINIT), str(self.dir / "spec.json"), str(self.info_path)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                preexec_fn=set_pdeathsig, close_fds=True)
        try:
            self.init_host_pid = wait_for(self._init_child, START_TIMEOUT, "unshare's child")
            wait_for(self._info_ready, START_TIMEOUT + 20, "nsinit to build the tree")
            self.info = json.loads(self.info_path.read_text())
            self.pidns = os.readlink("/proc/%d/ns/pid" % self.init_host_pid)
            if self.spec.get("pidcar") and wait_ready:
                self.wait_ready()
        except BaseException:
            # The failure already carries pidcar's stderr: nothing more to check at close.
            self.kill_namespace()
            self.closed = True
            raise
        return self

    def _init_child(self):
        if self.unshare.poll() is not None:
            pytest.fail("unshare exited %s: %s" % (self.unshare.returncode,
                        self.unshare_err.read_text()), pytrace=False)
        c = children_of(self.unshare.pid)
        return c[0] if c else None

    def _info_ready(self):
        if self.unshare.poll() is not None:
            pytest.fail("nsinit died (unshare exit %s): %s" % (
                self.unshare.returncode, self.unshare_err.read_text()), pytrace=False)
        return self.info_path.exists()

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            self.check_alive()
            try:
                r = self.get("/readyz", timeout=2)
                if r.status == 200:
                    return
                last = r
            except OSError as e:
                last = e
            if time.monotonic() > deadline:
                pytest.fail("pidcar not ready after %.0fs (last /readyz: %r)\n--- stderr:\n%s"
                            % (timeout, last, self.stderr()), pytrace=False)
            time.sleep(0.05)

    def check_alive(self):
        if self.exit_path.exists():
            pytest.fail("pidcar died: %s\n--- stderr:\n%s" % (
                self.exit_path.read_text(), self.stderr()), pytrace=False)
        if self.unshare.poll() is not None:
            pytest.fail("the namespace died (unshare exit %s): %s\n--- pidcar stderr:\n%s" % (
                self.unshare.returncode, self.unshare_err.read_text(), self.stderr()),
                pytrace=False)

    def pidcar_exit(self):
        """nsinit's record of pidcar's end, or None while it runs."""
        if not self.exit_path.exists():
            return None
        return json.loads(self.exit_path.read_text())

    def stop_pidcar(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals pidcar and waits for nsinit to reap it; returns the exit record."""
        if self.stopped is not None:
            return self.stopped
        self.check_alive()
        os.kill(self.pidcar_host_pid(), sig)
        deadline = time.monotonic() + timeout
        while not self.exit_path.exists():
            if time.monotonic() > deadline:
                pytest.fail("pidcar still running %.0fs after signal %d\n--- stderr:\n%s"
                            % (timeout, sig, self.stderr()), pytrace=False)
            time.sleep(0.02)
        self.stopped = json.loads(self.exit_path.read_text())
        return self.stopped

    def kill_namespace(self):
        init = getattr(self, "init_host_pid", None)
        if init:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, signal.SIGKILL)
        if self.unshare.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.unshare.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.unshare.wait(10)
        for s in self.spawned:
            with contextlib.suppress(subprocess.TimeoutExpired):
                s.nsenter.wait(5)

    def serving(self):
        """For a fixture: starts the namespace, yields it, closes it and fails the
        test with what closing found (warnings in pidcar's log, a bad exit)."""
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        yield self
        problems = self.close()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    def close(self):
        """Stops pidcar with SIGTERM, ends the namespace; returns a list of problems."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        try:
            if self.spec.get("pidcar") and hasattr(self, "info"):
                if self.stopped is None and self.exit_path.exists():
                    problems.append("pidcar died during the test: %s" % self.exit_path.read_text())
                else:
                    try:
                        st = self.stop_pidcar(signal.SIGTERM)
                        if st["exitcode"] != 0 and self.stopped_expect_zero:
                            problems.append("pidcar did not exit 0 on SIGTERM: %s" % st)
                    except BaseException as e:  # noqa: BLE001 - report, keep cleaning up
                        problems.append("stopping pidcar: %s" % e)
                problems += self.log_problems(self.log_offset)
        finally:
            self.kill_namespace()
        if problems:
            problems.append("--- pidcar stderr (%s):\n%s" % (self.stderr_path, self.stderr()))
        return problems

    # talking to pidcar

    def get(self, path, **kw):
        return http_request(self.port, "GET", path, **kw)

    def request(self, method, path, **kw):
        return http_request(self.port, method, path, **kw)

    def json(self, path, status=200):
        r = self.get(path)
        assert r.status == status, "GET %s: %r" % (path, r)
        assert r.content_type.startswith("application/json"), "GET %s: %r" % (path, r)
        return r.json()

    def processes(self, query=""):
        body = self.json("/api/v1/processes" + ("?" + query if query else ""))
        assert body["count"] == len(body["processes"]), body
        return body

    def by_pid(self, query=""):
        return {p["pid"]: p for p in self.processes(query)["processes"]}

    def status(self):
        return self.json("/api/v1/status")

    def metrics_text(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return r.text

    # the log

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def allow_warnings(self, *regexes):
        self.allowed += [re.compile(r) for r in regexes]

    def log_problems(self, offset):
        problems = []
        for line in self.stderr()[offset:].splitlines():
            if SANITIZER_RE.search(line):
                problems.append("sanitizer report in pidcar's stderr: %s" % line)
            elif BAD_LOG_RE.search(line) and not any(r.search(line) for r in self.allowed):
                problems.append("unexpected log line: %s" % line)
        return problems

    # ground truth

    def nsenter(self, *cmd):
        return ["nsenter", "-t", str(self.init_host_pid), "-p", "-m", "--", *cmd]

    def run(self, *cmd, timeout=20, check=True):
        r = subprocess.run(self.nsenter(*cmd), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, "%s: exit %d: %s" % (cmd, r.returncode, r.stderr)
        return r

    def ps(self):
        """ps -e inside the namespace: {pid: {ppid, stat, state, nlwp, euid, comm}}, and
        the PID of that ps itself (which pidcar may or may not have seen)."""
        r = self.run("ps", "-e", "-o", "pid=,ppid=,stat=,nlwp=,euid=,comm=")
        procs = {}
        for line in r.stdout.splitlines():
            f = line.split(None, 5)
            p = {"pid": int(f[0]), "ppid": int(f[1]), "stat": f[2], "state": f[2][0],
                 "nlwp": int(f[3]), "euid": int(f[4]), "comm": f[5] if len(f) > 5 else ""}
            procs[p["pid"]] = p
        own = [p["pid"] for p in procs.values() if p["comm"] == "ps" and p["ppid"] == 0]
        for pid in own:
            del procs[pid]
        return procs

    def proc_file(self, pid, name):
        """/proc/PID/NAME of a namespace PID, read through init's root (its procfs)."""
        with open("/proc/%d/root/proc/%d/%s" % (self.init_host_pid, pid, name), "rb") as f:
            return f.read()

    def host_pid(self, ns_pid):
        """Maps a namespace PID to the host PID, or None."""
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/ns/pid" % name) != self.pidns:
                    continue
            except OSError:
                continue
            if read_proc_nspid(int(name)) == ns_pid:
                return int(name)
        return None

    def pidcar_host_pid(self):
        hp = self.host_pid(self.info["pidcar"])
        assert hp, "pidcar (ns pid %s) not found on the host" % self.info["pidcar"]
        return hp

    def signal_pidcar(self, sig):
        os.kill(self.pidcar_host_pid(), sig)

    def spawn(self, *cmd):
        """Starts cmd inside the namespace; waits until its PID is known."""
        p = subprocess.Popen(self.nsenter(*cmd), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def child():
            if p.poll() is not None:
                pytest.fail("nsenter %s exited %s: %s" % (cmd, p.returncode,
                            p.stderr.read().decode()), pytrace=False)
            c = children_of(p.pid)
            if not c:
                return None
            nspid = read_proc_nspid(c[0])
            return (c[0], nspid) if nspid else None
        hp, nspid = wait_for(child, 10, "nsenter's child")
        s = Spawned(p, hp, nspid)
        self.spawned.append(s)
        return s




def metric_samples(text):
    """Parses Prometheus text with prometheus_client: {(name, sorted label items): value}."""
    from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def release_fifo(path):
    """Lets a `read x < path` finish: opens the FIFO for writing once a reader has it."""
    def opened():
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return None
    fd = wait_for(opened, 5, "a reader on %s" % path)
    os.write(fd, b"go\n")
    os.close(fd)
