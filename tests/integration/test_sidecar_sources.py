"""Sidecar mode's event sources, with pidcar as docker starts a sidecar: in the target's
PID namespace, in a network namespace of its own (`unshare --net`), run twice:

  perfmon  root with only CAP_PERFMON (`docker run --cap-add PERFMON`): perf side-band
           task records, source perf_task_events
  nocaps   root with every capability dropped: the ns_last_pid probe, source procfs_poll
  sysadmin root with CAP_SYS_ADMIN (and CAP_SYS_PTRACE, to read /proc/1/root): perf
           records and fanotify exec events, source perf_task_events+fanotify_exec

In both, new processes, exit codes, signals and core dumps, forks without exec and the
status are checked; with CAP_PERFMON also that exec and fork storms are counted exactly
and that the events carry namespace PIDs.
"""

import ctypes
import http.client
import json
import os
import shutil
import signal
import time

import pytest

from nsharness import (PYTHON, Namespace, Response, eventually, metric_samples,
                       release_fifo, wait_for)

CLONE_NEWNET = 0x40000000
LIBC = ctypes.CDLL(None, use_errno=True)

# The net namespace gets its loopback up, then the capabilities go, then pidcar runs.
WRAP = 'ip link set lo up && exec setpriv --inh-caps=-all --ambient-caps=-all ' \
       '--bounding-set="$CAPS" -- "$@"'
CAPS = {"perfmon": "-all,+perfmon", "nocaps": "-all",
        "sysadmin": "-all,+sys_admin,+sys_ptrace"}


def setns(fd):
    if LIBC.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class NetnsConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket is made inside pidcar's network namespace."""

    def __init__(self, netns, port, timeout):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.netns = netns

    def connect(self):
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.netns, os.O_RDONLY)
        try:
            setns(target)
            try:
                super().connect()   # the socket stays in the namespace it was made in
            finally:
                setns(own)
        finally:
            os.close(own)
            os.close(target)


class SidecarNs(Namespace):
    """A Namespace whose pidcar runs under WRAP, reached through its net namespace."""

    def __init__(self, workdir, caps, **kw):
        super().__init__(workdir, **kw)
        argv = self.spec["pidcar"]["argv"]
        self.spec["pidcar"]["argv"] = [shutil.which("unshare"), "--net", "/bin/sh", "-c",
                                       WRAP, "sh", *argv]
        self.spec["pidcar"]["env"]["CAPS"] = CAPS[caps]
        (self.dir / "spec.json").write_text(json.dumps(self.spec))
        self.netns = None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def request(self, method, path, headers=None, body=None, timeout=10.0):
        if self.netns is None:
            self.netns = "/proc/%d/ns/net" % self.pidcar_host_pid()
        conn = NetnsConnection(self.netns, self.port, timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.reason, r.headers, r.read())
        finally:
            conn.close()


@pytest.fixture(scope="module", params=["perfmon", "nocaps", "sysadmin"])
def sc(request, tmp_path_factory):
    ns = SidecarNs(tmp_path_factory.mktemp("sc-" + request.param), request.param,
                   spec={"plain": 2}, conf=None)
    ns.caps = request.param
    yield from ns.serving()


def counters(ns):
    return ns.status()["counters"]


def exit_event(ns, pid, since=0):
    """The exit event of pid (the events API), or None."""
    for e in ns.json("/api/v1/events?since=%d&type=exit&limit=10000" % since)["events"]:
        if e["pid"] == pid:
            return e
    return None


def event_seq(ns):
    return ns.json("/api/v1/events?limit=1")["next"]


def test_runs_as_a_sidecar_and_says_which_source(sc):
    st = sc.status()
    assert st["mode"] == "sidecar", st
    # Not in the test's net namespace: nothing listens there.
    assert os.readlink("/proc/%d/ns/net" % sc.pidcar_host_pid()) != \
        os.readlink("/proc/self/ns/net")
    k = st["kernel"]
    if sc.caps == "perfmon":
        assert st["source"] == "perf_task_events", st
        assert k["perf_task_events"] is True and k["perf_error"] is None, k
        assert k["fanotify_exec"] is False and k["fanotify_error"] == "EPERM", k
        assert "exact" in st["accounting"]["forks"], st["accounting"]
    elif sc.caps == "sysadmin":
        assert st["source"] == "perf_task_events+fanotify_exec", st
        assert k["perf_task_events"] is True and k["fanotify_exec"] is True, k
        assert k["fanotify_error"] is None, k
    else:
        assert st["source"] == "procfs_poll", st
        assert k["perf_task_events"] is False and k["perf_error"] in ("EACCES", "EPERM"), k
        assert st["capabilities"] == [], st["capabilities"]
    info = [key for key in metric_samples(sc.metrics_text()) if key[0] == "pidcar_info"]
    assert len(info) == 1 and ("source", st["source"]) in info[0][1], info


def test_new_process_is_listed(sc):
    t0 = time.monotonic()
    s = sc.spawn("sleep", "1000")
    p = wait_for(lambda: sc.by_pid("name=sleep").get(s.pid), 3, "pid %d listed" % s.pid)
    took = time.monotonic() - t0
    assert p["ppid"] == 0, p      # nsenter's child: its parent is outside
    s.kill(signal.SIGKILL)
    s.wait()
    wait_for(lambda: s.pid not in sc.by_pid(), 3, "pid %d gone" % s.pid)
    assert took < 2.0, took


def core_ok():
    with open("/proc/sys/kernel/core_pattern") as f:
        return not f.read().startswith("|")


@pytest.mark.parametrize("what", ["exit3", "sigterm", "core"])
def test_exits_are_decoded(sc, tmp_path, what):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    before = counters(sc)["exits"]
    since = event_seq(sc)
    if what == "exit3":
        s = sc.spawn("sh", "-c", "read x < %s; exit 3" % fifo)
    else:
        # core_pattern here is a file name, written in the cwd: the test's tmp dir.
        s = sc.spawn("sh", "-c", "cd %s && ulimit -c unlimited && exec sleep 1000" % tmp_path)
    wait_for(lambda: s.pid in sc.by_pid(), 3, "pid %d listed" % s.pid)
    if what == "exit3":
        release_fifo(fifo)
    else:
        wait_for(lambda: sc.by_pid().get(s.pid, {}).get("comm") == "sleep", 3, "the exec")
        s.kill(signal.SIGTERM if what == "sigterm" else signal.SIGSEGV)
    s.wait()
    outcome = "exited_nonzero" if what == "exit3" else "signaled"

    def counted():
        now = counters(sc)["exits"]
        assert now == dict(before, **{outcome: before[outcome] + 1}), (before, now)
    eventually(counted, timeout=3)
    e = eventually(lambda: (lambda e: (e, e is not None or _fail("no exit event")))(
        exit_event(sc, s.pid, since))[0], timeout=3)
    if what == "exit3":
        assert e["exit_code"] == 3 and e["signal"] is None, e
    elif what == "sigterm":
        assert e["signal"] == "SIGTERM" and e["core_dumped"] is False, e
    else:
        assert e["signal"] == "SIGSEGV", e
        if core_ok():
            assert e["core_dumped"] is True, e
            assert (tmp_path / "core").exists() or any(tmp_path.glob("core*"))
    assert e["outcome"] == outcome and e["comm"] in ("sh", "sleep"), e


def _fail(msg):
    raise AssertionError(msg)


FORKER = """
import os, sys, time
n, mode, live = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
pids = []
for i in range(n):
    pid = os.fork()
    if pid == 0:
        if mode == "exec":
            os.execv("/bin/true", ["true"])
        time.sleep(live)
        os._exit(7)
    pids.append(pid)
    os.waitpid(pid, 0)
print(" ".join(map(str, pids)))
"""


def test_fork_without_exec_is_seen(sc):
    since = event_seq(sc)
    before = counters(sc)
    r = sc.run(PYTHON, "-c", FORKER, "1", "fork", "0.3")
    child = int(r.stdout.split()[0])
    e = eventually(lambda: (lambda e: (e, e is not None or _fail("no exit of %d" % child)))(
        exit_event(sc, child, since))[0], timeout=3)
    assert e["exit_code"] == 7 and e["comm"] == "python3", e
    after = counters(sc)
    assert after["forks"] - before["forks"] >= 2, (before, after)   # python, its child


def storm(sc, n, mode):
    c0 = counters(sc)
    since = event_seq(sc)
    r = sc.run(PYTHON, "-c", FORKER, str(n), mode, "0", timeout=120)
    pids = [int(x) for x in r.stdout.split()]
    assert len(pids) == n

    def settled():
        c = counters(sc)
        exits = sum(c["exits"].values()) - sum(c0["exits"].values())
        assert c["forks"] - c0["forks"] == n + 1, (c0, c)      # the python, its children
        assert exits == n + 1, (c0, c)
        return c
    c = eventually(settled, timeout=10)
    assert c["events_lost"] == c0["events_lost"] and c["resyncs"] == c0["resyncs"], (c0, c)
    return c0, c, pids, since


def test_exec_storm_counted_exactly(sc):
    if sc.caps == "nocaps":
        pytest.skip("exact counts of short lives need perf records (CAP_PERFMON)")
    c0, c, pids, since = storm(sc, 500, "exec")
    assert c["execs"] - c0["execs"] == 500 + 1, (c0, c)  # nsenter's child became python


def test_fork_storm_counted_exactly_with_namespace_pids(sc):
    if sc.caps == "nocaps":
        pytest.skip("exact counts of short lives need perf records (CAP_PERFMON)")
    c0, c, pids, since = storm(sc, 2000, "fork")
    forks = {e["pid"] for e in
             sc.json("/api/v1/events?since=%d&type=fork&limit=100000" % since)["events"]}
    # os.fork() returned the namespace PIDs: the events name the same ones.
    assert set(pids) <= forks, sorted(set(pids) - forks)[:10]
    exits = {e["pid"]: e for e in
             sc.json("/api/v1/events?since=%d&type=exit&limit=100000" % since)["events"]}
    assert set(pids) <= set(exits)
    # What pidcar held a pidfd for in time has its code; the rest says unknown.
    codes = [exits[p]["exit_code"] for p in pids]
    assert set(codes) <= {7, -1} or set(codes) <= {7, None}, set(codes)
