"""Deployment: the privilege drop as the kernel reports it (/proc/PID/status of the
running daemon) in sidecar and agent mode, sd_notify against a fake NOTIFY_SOCKET,
`make install`, the man pages, and the systemd units through systemd-analyze."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from nsharness import (PIDCAR_BIN, REPO, Namespace, clean_env, free_port,
                       http_request, require_binary, wait_for)

CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_SYS_ADMIN = 2, 12, 19, 21
READ_CAPS = (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_SYS_PTRACE)
SETPRIV = "/usr/bin/setpriv"
NOBODY = 65534


def proc_status(pid):
    """/proc/PID/status as {field: value}; the Cap* fields as ints."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            v = v.strip()
            out[k] = int(v, 16) if k.startswith("Cap") else v
    return out


def ids(s, field):
    return [int(x) for x in s[field].split()]


def skip(reason):
    print("SKIP: " + reason, file=sys.stderr)
    pytest.skip(reason)


def initial_namespaces():
    return (os.stat("/proc/self/ns/pid").st_ino == 0xEFFFFFFC and
            os.stat("/proc/self/ns/user").st_ino == 0xEFFFFFFD)


class HostPidcar:
    """pidcar on the host (agent mode), optionally under a wrapper; SIGTERM by PID."""

    def __init__(self, workdir, args=(), env=None, wrapper=(), warnings=()):
        require_binary()
        if os.geteuid() != 0 or not initial_namespaces():
            skip("agent mode needs root in the initial PID and user namespaces")
        self.port = free_port()
        self.log = workdir / ("host-pidcar-%d.stderr" % self.port)
        self.warnings = [re.compile(w) for w in warnings]
        e = clean_env(env)
        e.pop("PIDCAR_BIN", None)
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(
                [*wrapper, PIDCAR_BIN, "-f", "/dev/null", "--listen",
                 "127.0.0.1:%d" % self.port, *args], env=e, stdin=subprocess.DEVNULL,
                stdout=f, stderr=f)
        wait_for(self.ready, 20, "pidcar on the host to be ready")

    def ready(self):
        if self.proc.poll() is not None:
            pytest.fail("pidcar exited %s:\n%s" % (self.proc.returncode, self.stderr()),
                        pytrace=False)
        try:
            return http_request(self.port, "GET", "/readyz", timeout=2).status == 200
        except OSError:
            return False

    def stderr(self):
        return self.log.read_text(errors="replace")

    def json(self, path):
        r = http_request(self.port, "GET", path)
        assert r.status == 200, (path, r)
        return r.json()

    def stop(self):
        """SIGTERM (the connector's listener count is global); checks a clean exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(15)
        log = self.stderr()
        bad = [ln for ln in log.splitlines()
               if (re.match(r"pidcar: (warning|error|fatal)", ln) and
                   not any(w.search(ln) for w in self.warnings)) or
               "Sanitizer" in ln or "runtime error" in ln]
        assert rc == 0 and not bad, "exit %s, unexpected lines %s\n%s" % (rc, bad, log)


@pytest.fixture
def host_pidcar(tmp_path):
    made = []

    def make(**kw):
        p = HostPidcar(tmp_path, **kw)
        made.append(p)
        return p
    yield make
    for p in made:
        p.stop()


# Sidecar mode: pidcar started as root inside the target's PID namespace.

def test_sidecar_as_root_keeps_only_the_readers(make_ns):
    ns = make_ns()
    s = proc_status(ns.pidcar_host_pid())
    assert ids(s, "Uid") == [0] * 4
    assert s["CapEff"] == READ_CAPS and s["CapPrm"] == READ_CAPS, hex(s["CapEff"])
    assert s["CapBnd"] == READ_CAPS, hex(s["CapBnd"])
    assert s["CapInh"] == 0 and s["CapAmb"] == 0
    assert s["NoNewPrivs"] == "1"
    assert sorted(ns.status()["capabilities"]) == ["cap_dac_read_search", "cap_sys_ptrace"]
    assert "privileges: uid 0 gid 0, capabilities " \
        "cap_dac_read_search,cap_sys_ptrace=ep, no_new_privs" in ns.stderr()


def test_sidecar_user_nobody_still_sees_everything(make_ns):
    ns = make_ns(args=("--user", "nobody"),
                 spec={"plain": 3, "chains": [2], "zombies": 1, "users": [NOBODY, 4242]})
    s = proc_status(ns.pidcar_host_pid())
    assert ids(s, "Uid") == [NOBODY] * 4
    assert ids(s, "Gid") == [NOBODY] * 4
    # initgroups: nobody's own groups, root's supplementary groups gone.
    assert ids(s, "Groups") == [NOBODY], s["Groups"]
    assert s["CapEff"] == READ_CAPS and s["CapBnd"] == READ_CAPS, hex(s["CapEff"])
    assert s["NoNewPrivs"] == "1"

    # The full list, as ps inside the namespace has it, with what needs the
    # capabilities kept: exe and I/O bytes of root's and uid 4242's processes.
    truth = ns.ps()
    got = ns.by_pid()
    assert set(truth) <= set(got), (sorted(truth), sorted(got))
    for pid, t in truth.items():
        p = got[pid]
        assert p["comm"] == t["comm"] and p["uid"] == t["euid"], (p, t)
        if t["state"] != "Z" and t["comm"] == "sleep":
            assert p["exe"] is not None and p["read_bytes"] is not None, p
    assert {0, 4242, NOBODY} <= {p["uid"] for p in got.values()}

    # pidfds opened as root keep working: an exit is seen with its code.
    sp = ns.spawn("sh", "-c", "sleep 0.3; exit 3")
    sp.wait()

    def exited():
        for e in ns.json("/api/v1/events?type=exit")["events"]:
            if e["pid"] == sp.pid and e["comm"] == "sh":
                return e
        return None
    e = wait_for(exited, 5, "the exit of the spawned sh")
    assert (e["outcome"], e["exit_code"]) == ("exited_nonzero", 3), e

    # A reload still reads the (root-only) file.
    ns.signal_pidcar(signal.SIGHUP)
    wait_for(lambda: "reloaded " in ns.stderr(), 5, "the reload")


def test_sidecar_missing_capability_is_named_not_fatal(make_ns, tmp_path):
    """Started without CAP_SYS_PTRACE (not even in the bounding set): an info line
    says what is lost, the daemon runs, exe of other users' processes is null."""
    ns = Namespace(tmp_path / "ns", spec={"plain": 1, "users": [4242]})
    ns.spec["pidcar"]["argv"] = [SETPRIV, "--bounding-set", "-sys_ptrace",
                                 *ns.spec["pidcar"]["argv"]]
    (ns.dir / "spec.json").write_text(json.dumps(ns.spec))
    try:
        ns.start()
        log = ns.stderr()
        assert "privileges: without cap_sys_ptrace: exe," in log, log
        s = proc_status(ns.pidcar_host_pid())
        assert s["CapEff"] == 1 << CAP_DAC_READ_SEARCH, hex(s["CapEff"])
        other = [p for p in ns.by_pid().values() if p["uid"] == 4242]
        assert other and all(p["exe"] is None for p in other), other
        assert ns.get("/readyz").status == 200
    finally:
        problems = ns.close()
    assert not problems, problems


def test_user_that_does_not_exist_is_a_config_error(make_ns, tmp_path):
    require_binary()
    r = subprocess.run([PIDCAR_BIN, "-n", "-f", "/dev/null", "--user", "no-such-user-x"],
                       env=clean_env(), capture_output=True, text=True, timeout=10)
    assert r.returncode == 78, r
    assert "option --user: user: no user 'no-such-user-x'" in r.stderr, r.stderr
    conf = tmp_path / "bad.conf"
    conf.write_text("user 'x'\n")
    r = subprocess.run([PIDCAR_BIN, "-n", "-f", str(conf)], env=clean_env(),
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 78 and "bad.conf:1: user:" in r.stderr, r.stderr


def test_non_root_cannot_switch_user(tmp_path):
    """As nobody, `user root` cannot be honoured: a clear error, exit 1, never a run
    with other privileges than configured."""
    require_binary()
    if os.geteuid() != 0:
        skip("needs root to start pidcar as another user")
    port = free_port()
    r = subprocess.run([SETPRIV, "--reuid", str(NOBODY), "--regid", str(NOBODY),
                        "--clear-groups", PIDCAR_BIN, "-f", "/dev/null", "--listen",
                        "127.0.0.1:%d" % port, "--user", "root"],
                       env=clean_env(), capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r
    assert "user root: cannot switch from uid 65534 to uid 0 without CAP_SETUID" \
        in r.stderr, r.stderr
    # Refused before anything was opened: no proc connector subscription to leak.
    assert "listening" not in r.stderr and "proc connector" not in r.stderr, r.stderr


# Agent mode: pidcar on the host, as root.

# Ask for target before host_pidcar: pidcar stops before its target goes.
@pytest.fixture
def target(tmp_path):
    ns = Namespace(tmp_path / "target", spec={"plain": 2, "users": [4242]}, pidcar=False)
    ns.start()
    yield ns
    ns.close()


def test_agent_drops_net_admin_keeps_readers(target, host_pidcar):
    a = host_pidcar(args=("--target", "pid:%d" % target.init_host_pid))
    s = proc_status(a.proc.pid)
    assert a.json("/api/v1/status")["mode"] == "agent"
    assert ids(s, "Uid") == [0] * 4
    # pid:N names one namespace for good: no CAP_SYS_ADMIN to attach again.
    assert s["CapEff"] == READ_CAPS and s["CapBnd"] == READ_CAPS, hex(s["CapEff"])
    assert s["NoNewPrivs"] == "1"


def test_agent_user_nobody(target, host_pidcar):
    a = host_pidcar(args=("--target", "pid:%d" % target.init_host_pid, "--user", "nobody"))
    s = proc_status(a.proc.pid)
    assert ids(s, "Uid") == [NOBODY] * 4 and ids(s, "Groups") == [NOBODY]
    assert s["CapEff"] == READ_CAPS and s["NoNewPrivs"] == "1"
    truth = target.ps()
    got = {p["pid"]: p for p in a.json("/api/v1/processes")["processes"]}
    assert set(truth) <= set(got)
    assert all(got[pid]["exe"] is not None for pid, t in truth.items()
               if t["comm"] == "sleep")
    # The connector socket opened as root still delivers: an exact exit code.
    target.run("sh", "-c", "sleep 0.3; exit 4", check=False)

    def exit4():
        return any(e["comm"] == "sh" and e["exit_code"] == 4
                   for e in a.json("/api/v1/events?type=exit")["events"])
    wait_for(exit4, 5, "the agent's exit event with code 4")


def test_agent_missing_ptrace_is_a_warning(host_pidcar):
    a = host_pidcar(args=("--target", "self"),
                    wrapper=(SETPRIV, "--bounding-set", "-sys_ptrace"),
                    warnings=[r"privileges: cap_sys_ptrace is not held \(agent mode\)"])
    assert "privileges: cap_sys_ptrace is not held (agent mode): exe, " in a.stderr()
    assert a.json("/api/v1/status")["capabilities"] == ["cap_dac_read_search"]


def test_agent_as_pidcar_service_starts_it(host_pidcar):
    """pidcar.service's privileges, by hand: a non-root user with the unit's ambient
    capabilities and bounding set.  Agent mode works and CAP_NET_ADMIN goes."""
    caps = "+sys_ptrace,+dac_read_search,+net_admin"
    a = host_pidcar(args=("--target", "self"), wrapper=(
        SETPRIV, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
        "--inh-caps", "-all," + caps, "--ambient-caps", "-all," + caps,
        "--bounding-set", "-all," + caps))
    st = a.json("/api/v1/status")
    assert st["mode"] == "agent" and st["source"] == "proc_connector", st
    s = proc_status(a.proc.pid)
    assert ids(s, "Uid") == [NOBODY] * 4
    assert s["CapEff"] == READ_CAPS and s["CapAmb"] == 0, hex(s["CapEff"])
    assert s["NoNewPrivs"] == "1"
    # A root process (this test) read through CAP_SYS_PTRACE.
    me = a.json("/api/v1/processes/%d" % os.getpid())
    assert me["exe"] is not None and me["uid"] == 0, me


# sd_notify

class FakeSystemd:
    """A NOTIFY_SOCKET: a unix datagram socket, by path or abstract (@name)."""

    def __init__(self, path=None, abstract=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.sock.bind("\0" + abstract)
            self.addr = "@" + abstract
        else:
            self.sock.bind(str(path))
            self.addr = str(path)
        self.sock.settimeout(0.2)
        self.got = []

    def drain(self, until, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
            if until(self.got):
                return self.got
        pytest.fail("NOTIFY_SOCKET got %r" % self.got, pytrace=False)

    def close(self):
        self.sock.close()


def count(got, word):
    return sum(1 for m in got if word in m.split("\n"))


@pytest.mark.parametrize("kind", ["path", "abstract", "path-user-nobody"])
def test_sd_notify_ready_watchdog_reload_stopping(make_ns, tmp_path, kind):
    fake = FakeSystemd(abstract="pidcar-test-%d" % os.getpid()) if kind == "abstract" \
        else FakeSystemd(path=tmp_path / "notify.sock")
    try:
        args = ("--user", "nobody") if kind.endswith("nobody") else ()
        ns = make_ns(env={"NOTIFY_SOCKET": fake.addr, "WATCHDOG_USEC": "200000"},
                     args=args, wait_ready=False)
        got = fake.drain(lambda g: count(g, "READY=1") >= 1, 10)
        ready = [m for m in got if "READY=1" in m.split("\n")][0]
        # READY=1 is sent once the first scan is done: /readyz agrees.
        assert ns.get("/readyz").status == 200
        assert "STATUS=watching " in ready and "(mode sidecar" in ready, ready
        t0 = time.monotonic()
        n0 = count(fake.got, "WATCHDOG=1")
        fake.drain(lambda g: count(g, "WATCHDOG=1") >= n0 + 5, 3)
        # Every 100 ms (half of 200 ms): 5 pings in well under a second.
        assert time.monotonic() - t0 < 1.5
        ns.signal_pidcar(signal.SIGHUP)
        got = fake.drain(lambda g: count(g, "READY=1") >= 2, 5)
        reload = [m for m in got if m.startswith("RELOADING=1")]
        assert reload and "MONOTONIC_USEC=" in reload[0], got
        assert got.index(reload[0]) < max(i for i, m in enumerate(got) if "READY=1" in m)
        st = ns.stop_pidcar()
        assert st["exitcode"] == 0
        fake.drain(lambda g: count(g, "STOPPING=1") == 1, 5)
    finally:
        fake.close()


def test_sd_notify_watchdog_for_another_pid_is_ignored(make_ns, tmp_path):
    fake = FakeSystemd(path=tmp_path / "n.sock")
    try:
        ns = make_ns(env={"NOTIFY_SOCKET": fake.addr, "WATCHDOG_USEC": "100000",
                          "WATCHDOG_PID": "1"}, wait_ready=False)
        fake.drain(lambda g: count(g, "READY=1") == 1, 10)
        time.sleep(0.5)
        fake.drain(lambda g: True, 0.3)
        assert count(fake.got, "WATCHDOG=1") == 0, fake.got
        assert ns.get("/readyz").status == 200
    finally:
        fake.close()


def test_bad_notify_socket_is_a_warning_not_a_failure(make_ns):
    ns = make_ns(env={"NOTIFY_SOCKET": "relative/path"})
    ns.allow_warnings(r"NOTIFY_SOCKET 'relative/path' is not an absolute path")
    assert "NOTIFY_SOCKET 'relative/path' is not an absolute path" in ns.stderr()


# make install, man pages, units

def make_install(dest):
    """`make install` of the binary under test into dest, as `make test` may call us:
    without the calling make's MAKEFLAGS (its variables and jobserver)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    # -o: install the binary under test as it is, never rebuild it here.
    return subprocess.run(["make", "-s", "-C", str(REPO), "-o", PIDCAR_BIN, "install",
                           "BUILD=" + os.path.dirname(PIDCAR_BIN), "DESTDIR=" + str(dest),
                           "PREFIX=/usr"], capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    require_binary()
    if shutil.which("make") is None:
        skip("make is not installed")
    dest = tmp_path_factory.mktemp("destdir")
    r = make_install(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest


def test_make_install_lists_the_files(installed):
    files = sorted(str(p.relative_to(installed)) for p in installed.rglob("*") if p.is_file())
    assert files == ["etc/pidcar/pidcar.conf", "usr/lib/systemd/system/pidcar.service",
                     "usr/lib/systemd/system/pidcar@.service", "usr/sbin/pidcar",
                     "usr/share/man/man5/pidcar.conf.5", "usr/share/man/man8/pidcar.8"], files
    assert os.access(installed / "usr/sbin/pidcar", os.X_OK)
    for u in ("pidcar.service", "pidcar@.service"):
        text = (installed / "usr/lib/systemd/system" / u).read_text()
        assert re.search(r"^ExecStart=/usr/sbin/pidcar -f /etc/pidcar/pidcar.conf", text, re.M)
    r = subprocess.run([str(installed / "usr/sbin/pidcar"), "-n", "-f",
                        str(installed / "etc/pidcar/pidcar.conf")],
                       env=clean_env(), capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


def test_make_install_keeps_an_existing_config(installed):
    conf = installed / "etc/pidcar/pidcar.conf"
    conf.write_text("listen 127.0.0.1:9999\n")
    r = make_install(installed)
    assert r.returncode == 0, r.stderr
    assert conf.read_text() == "listen 127.0.0.1:9999\n"


def test_man_pages(installed):
    man = installed / "usr/share/man"
    if shutil.which("mandoc"):
        r = subprocess.run(["mandoc", "-T", "lint", "-W", "style",
                            str(man / "man8/pidcar.8"), str(man / "man5/pidcar.conf.5")],
                           capture_output=True, text=True)
        # Cross references to pages this machine lacks (pidcar's own included, as
        # they are not installed for real) are not problems of the pages.
        problems = [ln for ln in (r.stdout + r.stderr).splitlines()
                    if "mandoc.db" not in ln and "referenced manual not found" not in ln]
        assert not problems, problems
    else:
        print("mandoc not installed: lint skipped, man -l still checked", file=sys.stderr)
    for page, title in (("man8/pidcar.8", "PIDCAR(8)"), ("man5/pidcar.conf.5",
                                                          "PIDCAR.CONF(5)")):
        r = subprocess.run(["man", "-l", str(man / page)], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
        assert r.returncode == 0 and r.stdout.startswith(title), (page, r.stdout[:200],
                                                                   r.stderr)
    # Every keyword pidcar knows is documented.
    text = (man / "man5/pidcar.conf.5").read_text()
    keywords = re.findall(r"^  --(\w+) ", subprocess.run(
        [PIDCAR_BIN, "--help"], capture_output=True, text=True).stdout, re.M)
    assert len(keywords) > 20
    missing = [k for k in keywords if not re.search(r"^\.It Ic %s\b" % k, text, re.M)]
    assert not missing, "keywords missing from pidcar.conf.5: %s" % missing


def analyze(*args, env=None):
    if shutil.which("systemd-analyze") is None:
        skip("systemd-analyze is not installed (Debian package systemd; make deps installs it)")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **(env or {})))


@pytest.fixture(scope="module")
def units(installed, tmp_path_factory):
    """The installed units, ExecStart pointing at the DESTDIR binary so verify finds it."""
    d = tmp_path_factory.mktemp("units")
    for u in ("pidcar.service", "pidcar@.service"):
        text = (installed / "usr/lib/systemd/system" / u).read_text()
        (d / u).write_text(text.replace("/usr/sbin/pidcar", str(installed / "usr/sbin/pidcar")))
    return d


@pytest.mark.parametrize("unit", ["pidcar.service", "pidcar@web.service"])
def test_systemd_analyze_verify(installed, units, unit):
    env = {"MANPATH": str(installed / "usr/share/man")}
    r = analyze("verify", str(units / unit), env=env)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr
    # It would say so: without the man pages verify fails.
    r = analyze("verify", str(units / unit), env={"MANPATH": str(units)})
    assert r.returncode != 0 and "pidcar(8)" in r.stderr, r.stderr


@pytest.mark.parametrize("unit", ["pidcar.service", "pidcar@web.service"])
def test_systemd_analyze_security(units, unit):
    r = analyze("security", "--offline=true", "--no-pager", str(units / unit))
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    print("%s exposure %s" % (unit, m.group(1)), file=sys.stderr)
    assert float(m.group(1)) <= 4.0, r.stdout
    # What DESIGN.md §7 rules out stays out: pidcar must read /proc and setns.
    text = (units / unit.replace("web", "")).read_text()
    assert not re.search(r"^RestrictNamespaces=", text, re.M)
    assert not re.search(r"^ProtectProc=invisible", text, re.M)
    assert re.search(r"^RestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6$",
                     text, re.M)
    assert re.search(r"^Type=notify$", text, re.M) and re.search(r"^WatchdogSec=", text, re.M)


def test_units_allow_what_pidcar_keeps(units):
    """The bounding set of each unit holds what pidcar keeps in its mode."""
    want = {"pidcar.service": {"CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN"},
            "pidcar@.service": {"CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN",
                                "CAP_SYS_ADMIN"}}
    for u, caps in want.items():
        text = (units / u).read_text()
        bnd = set(re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M).group(1).split())
        assert caps <= bnd, (u, caps - bnd)
        assert "--target container:%i" in text or u == "pidcar.service"


# The examples in docker/: what pidcar is given there, it accepts.

def load_yaml(name):
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    return yaml.safe_load((REPO / "docker" / name).read_text())


def pidcar_accepts(env):
    """`pidcar -n` with only these PIDCAR_* variables; compose's ${X:-default} resolved."""
    require_binary()
    env = {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}
    r = subprocess.run([PIDCAR_BIN, "-n", "-f", "/dev/null"], env=clean_env(env),
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, (env, r.stderr)


def test_compose_example():
    svc = load_yaml("compose.yaml")["services"]
    side, agent = svc["pidcar"], svc["pidcar-agent"]
    assert side["pid"] == "service:app" and svc["app"]["container_name"] == "app"
    assert side["cap_drop"] == ["ALL"]
    assert set(side["cap_add"]) == {"SYS_PTRACE", "DAC_READ_SEARCH"}
    assert agent["pid"] == "host" and agent["network_mode"] == "host"
    assert agent["profiles"] == ["agent"]
    # What agent mode on a container: target keeps, plus CAP_NET_ADMIN for the start.
    assert set(agent["cap_add"]) == {"SYS_PTRACE", "DAC_READ_SEARCH", "SYS_ADMIN",
                                     "NET_ADMIN"}
    assert agent["environment"]["PIDCAR_TARGET"] == "container:app"
    assert any(v.endswith(":/var/run/docker.sock:ro") for v in agent["volumes"])
    for s in (side, agent):
        pidcar_accepts(s.get("environment") or {})


def test_k8s_pod_example():
    pod = load_yaml("k8s-pod.yaml")
    spec = pod["spec"]
    assert pod["kind"] == "Pod" and spec["shareProcessNamespace"] is True
    ann = pod["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9723"
    c = {x["name"]: x for x in spec["containers"]}["pidcar"]
    env = {e["name"]: e["value"] for e in c["env"]}
    # PID 1 of such a pod is /pause: the main process is chosen by group.
    assert env["PIDCAR_MAIN"] == "app" and env["PIDCAR_GROUP"].startswith("app ")
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["limits"]["memory"] and c["resources"]["limits"]["cpu"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["capabilities"]["drop"] == ["ALL"]
    pidcar_accepts(env)


def test_prometheus_example():
    load_yaml("prometheus.yml")
    if shutil.which("promtool") is None:
        skip("promtool is not installed (Debian package prometheus; make deps installs it)")
    r = subprocess.run(["promtool", "check", "config", str(REPO / "docker" / "prometheus.yml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "SUCCESS" in r.stdout + r.stderr, r.stdout + r.stderr
