"""Agent mode: pidcar on the host (initial namespaces) watching a namespace the test made,
through the proc connector, with namespace PIDs and decoded exits."""

import os
import signal
import subprocess
import time

import pytest

from nsharness import (PIDCAR_BIN, Namespace, children_of, clean_env, free_port, http_request,
                       metric_samples, require_binary, wait_for)


def initial_namespaces():
    return (os.stat("/proc/self/ns/pid").st_ino == 0xEFFFFFFC and
            os.stat("/proc/self/ns/user").st_ino == 0xEFFFFFFD)


class Agent:
    """pidcar on the host with --target; stopped with SIGTERM by PID."""

    def __init__(self, workdir, target, args=()):
        require_binary()
        if not initial_namespaces():
            pytest.skip("agent mode needs the initial PID and user namespaces")
        self.port = free_port()
        self.stderr_path = workdir / "agent.stderr"
        env = clean_env()
        env.pop("PIDCAR_BIN", None)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [PIDCAR_BIN, "--listen", "127.0.0.1:%d" % self.port, "--target", target,
                 "--log_level", "info", *args],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)

        def ready():
            if self.proc.poll() is not None:
                pytest.fail("pidcar exited %s: %s" % (self.proc.returncode, self.stderr()),
                            pytrace=False)
            try:
                return http_request(self.port, "GET", "/readyz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(ready, 15, "pidcar in agent mode to be ready")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def get(self, path):
        return http_request(self.port, "GET", path)

    def json(self, path):
        r = self.get(path)
        assert r.status == 200, (path, r.status, r.text)
        return r.json()

    def processes(self):
        return {p["pid"]: p for p in self.json("/api/v1/processes")["processes"]}

    def exits(self):
        return self.json("/api/v1/status")["counters"]["exits"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)


@pytest.fixture
def target(tmp_path):
    ns = Namespace(tmp_path / "ns", spec={"plain": 3, "chains": [2], "threaded": 1},
                   pidcar=False)
    ns.start()
    yield ns
    ns.close()


@pytest.fixture
def agent(tmp_path, target):
    a = Agent(tmp_path, "pid:%d" % target.init_host_pid)
    yield a
    rc = a.stop()
    log = a.stderr()
    assert rc == 0, "pidcar exited %s: %s" % (rc, log)
    bad = [line for line in log.splitlines()
           if line.startswith("pidcar: warning") or "Sanitizer" in line or
           "runtime error" in line]
    assert not bad, log


def test_status_says_agent(agent, target):
    st = agent.json("/api/v1/status")
    assert st["mode"] == "agent"
    assert st["source"] == "proc_connector"
    assert st["target"]["host_pid_of_init"] == target.init_host_pid
    assert st["target"]["pid_namespace"] == os.stat(
        "/proc/%d/ns/pid" % target.init_host_pid).st_ino
    m = metric_samples(agent.get("/metrics").text)
    assert m[("pidcar_info", (("mode", "agent"), ("source", "proc_connector"),
              ("target", "pid:%d" % target.init_host_pid),
              ("version", st["version"])))] == 1


def test_list_matches_ps_with_namespace_pids(agent, target):
    truth = target.ps()
    # The ps that took the truth is not in it; pidcar may have seen it.
    got = {pid: p for pid, p in agent.processes().items()
           if pid in truth or p["comm"] not in ("ps", "nsenter")}
    assert set(got) == set(truth), (sorted(got), sorted(truth))
    for pid, p in got.items():
        assert p["ppid"] == truth[pid]["ppid"], p
        assert p["comm"] == truth[pid]["comm"], p
        assert p["host_pid"] == target.host_pid(pid), p
    assert got[1]["host_pid"] == target.init_host_pid


def test_new_process_is_seen_with_its_namespace_pid(agent, target):
    s = target.spawn("sleep", "30")
    # Seen at FORK (still nsenter's copy), then again at its EXEC.
    p = wait_for(lambda: (lambda p: p if p and p["comm"] == "sleep" and
                          p["cmdline"] == ["sleep", "30"] else None)(
        agent.processes().get(s.pid)), 5, "the new process after its exec")
    assert p["cmdline"] == ["sleep", "30"]
    assert p["host_pid"] == s.host_pid
    s.kill()
    s.wait()
    wait_for(lambda: s.pid not in agent.processes(), 5, "the process to go")


@pytest.mark.parametrize("script,outcome", [
    ("exit 0", "exited_zero"),
    ("exit 3", "exited_nonzero"),
    ("kill -TERM $$", "signaled"),
    ("ulimit -c 0; kill -SEGV $$", "signaled"),
])
def test_exit_outcomes_are_exact(agent, target, script, outcome):
    before = agent.exits()
    # nsenter's own child (the sh) is the only process of the run in the target.  It
    # spins ~50 ms in builtins first: an entrant gone together with nsenter before
    # pidcar reads its FORK cannot be told from a host process (README, "Deployment
    # modes").
    target.run("sh", "-c", "i=0; while [ $i -lt 15000 ]; do i=$((i+1)); done; " + script,
               check=False)
    after = wait_for(lambda: (lambda e: e if e[outcome] > before[outcome] else None)(
        agent.exits()), 5, "the exit to be counted")
    assert after[outcome] == before[outcome] + 1
    assert after["unknown"] == before["unknown"]


def test_short_lived_processes_are_counted(agent, target):
    """Processes that live for microseconds: counted by FORK and EXIT, never read."""
    st0 = agent.json("/api/v1/status")["counters"]
    # dash's [ and $((...)) are built in: exactly 200 children of one sh.
    target.run("sh", "-c", "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done")
    def done():
        c = agent.json("/api/v1/status")["counters"]
        return c if c["exits"]["exited_zero"] >= st0["exits"]["exited_zero"] + 201 else None
    try:
        c = wait_for(done, 10, "201 exits")
    finally:
        print("before", st0, "after", agent.json("/api/v1/status")["counters"])
    # 200 /bin/true plus the sh, all exit 0; nothing unknown, nothing lost.
    assert c["forks"] - st0["forks"] == 201
    assert c["exits"]["unknown"] == st0["exits"]["unknown"]
    assert c["events_lost"] == 0


def test_nested_namespace_is_part_of_the_target(agent, target):
    s = target.spawn("unshare", "--pid", "--fork", "sleep", "30")
    def nested():
        for p in agent.processes().values():
            if p["comm"] == "sleep" and p["ppid"] == s.pid:
                return p
        return None
    p = wait_for(nested, 5, "the nested process")
    assert p["pid"] != 1            # the target's number, not the nested namespace's
    s.kill()
    s.wait()


def test_target_gone(tmp_path):
    ns = Namespace(tmp_path / "ns", spec={"plain": 1}, pidcar=False).start()
    a = Agent(tmp_path, "pid:%d" % ns.init_host_pid)
    try:
        ns.kill_namespace()
        wait_for(lambda: a.get("/readyz").status == 503, 10, "/readyz to say 503")
        m = metric_samples(a.get("/metrics").text)
        assert m[("pidcar_target_up", ())] == 0
        assert a.get("/healthz").status == 200
    finally:
        ns.close()
        assert a.stop() == 0
        assert "its PID 1 exited" in a.stderr()


def test_bad_targets_are_refused(tmp_path):
    require_binary()
    for target, words in [("pid:4194303", "no process 4194303"),
                          ("ns:/etc/passwd", "not a PID namespace"),
                          ("cgroup:/nonexistent-cgroup", "cgroup.procs"),
                          ("container:app1", "Docker")]:
        env = clean_env()
        env["DOCKER_HOST"] = "unix://%s/none.sock" % tmp_path
        r = subprocess.run([PIDCAR_BIN, "--listen", "127.0.0.1:%d" % free_port(),
                            "--target", target], capture_output=True, text=True,
                           timeout=15, env=env)
        assert r.returncode != 0, target
        assert words in r.stderr, (target, r.stderr)


def test_cgroup_target_is_attached_again_when_recreated(tmp_path):
    """A cgroup: target whose processes die and come back in a new PID namespace (what a
    restarted container is): pidcar follows, and its counters never go back."""
    base = "/sys/fs/cgroup/pids"
    if not os.path.isdir(base) or not os.access(base, os.W_OK):
        pytest.skip("no writable cgroup v1 pids hierarchy at %s" % base)
    cg = os.path.join(base, "pidcar-test-%d" % os.getpid())
    os.mkdir(cg)
    nss = []
    a = None
    try:
        def start_ns(name):
            ns = Namespace(tmp_path / name, spec={"plain": 1}, pidcar=False).start()
            nss.append(ns)
            # The namespace's init and its members join the cgroup, as a runtime would.
            for pid in [ns.init_host_pid] + children_of(ns.init_host_pid):
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            return ns
        ns1 = start_ns("ns1")
        a = Agent(tmp_path, "cgroup:" + cg)
        st1 = a.json("/api/v1/status")
        assert st1["target"]["host_pid_of_init"] == ns1.init_host_pid
        ns1.run("sh", "-c", "exit 4", check=False)
        wait_for(lambda: a.exits()["exited_nonzero"] >= 1, 5, "the exit in ns1")
        m1 = metric_samples(a.get("/metrics").text)
        ns1.kill_namespace()
        wait_for(lambda: a.get("/readyz").status == 503, 10, "/readyz 503 after ns1 died")
        ns2 = start_ns("ns2")
        def attached():
            st = a.json("/api/v1/status")
            return st if st["target_up"] and \
                st["target"]["host_pid_of_init"] == ns2.init_host_pid else None
        st2 = wait_for(attached, 10, "pidcar to attach to the new namespace")
        assert st2["target"]["pid_namespace"] != st1["target"]["pid_namespace"]
        s = ns2.spawn("sleep", "30")
        wait_for(lambda: s.pid in a.processes(), 5, "a process of the new namespace")
        # Only the new namespace's processes are listed.
        assert 1 in a.processes() and set(a.processes()) <= set(ns2.ps()) | {s.pid}
        m2 = metric_samples(a.get("/metrics").text)
        for key, v in m1.items():
            if key[0].endswith("_total") and key in m2:
                assert m2[key] >= v, key
        assert m2[("pidcar_target_attaches_total", ())] == 1
        assert m2[("pidcar_target_up", ())] == 1
        kinds = [(e["what"], e["reason"]) for e in
                 a.json("/api/v1/events?type=target")["events"]]
        assert [k[0] for k in kinds] == ["gone", "attached"]
        s.kill()
        s.wait()
    finally:
        if a is not None:
            assert a.stop() == 0
        for ns in nss:
            ns.close()
        wait_for(lambda: not open(os.path.join(cg, "cgroup.procs")).read().strip(), 10,
                 "the test cgroup to empty")
        os.rmdir(cg)
