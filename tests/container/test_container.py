"""The container deployments, run for real: the image is built with podman from
docker/Dockerfile, then the docker CLI talks to `podman system service` on a unix
socket and plays the scene pidcar exists for: an app container (`sleep 1d`), pidcar
as its sidecar (`--pid=container:APP`, the README's command), and pidcar on the host
in agent mode (`--target container:APP`, DOCKER_HOST at the same socket).

Needs root, podman, runc and the docker CLI (`make test-container` installs them
through tests/deps.sh container).  The debian:bookworm-slim base is made locally by
base-image.sh (debootstrap + podman import) and stays cached in podman's store.
Every container and the service are removed at the end, by name and PID.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from nsharness import (PIDCAR_BIN, clean_env, eventually, free_port,  # noqa: E402
                       http_request, require_binary, wait_for)

IMAGE = os.environ.get("PIDCAR_IMAGE", "localhost/pidcar:test")
BASE = "debian:bookworm-slim"
CONTAINERS_CONF = HERE / "containers.conf"
SUFFIX = uuid.uuid4().hex[:8]
CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_SYS_ADMIN = 2, 19, 21
READ_CAPS = (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_SYS_PTRACE)


def skip(reason):
    print("SKIP: " + reason, file=sys.stderr)
    pytest.skip(reason)


def proc_status(pid):
    """The fields of /proc/PID/status as {name: value string}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


class Engine:
    """podman for building, the docker CLI against podman's API service for the rest."""

    def __init__(self, workdir):
        self.dir = workdir
        self.env = dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF))
        self.sock = workdir / "podman.sock"
        self.env["DOCKER_HOST"] = "unix://%s" % self.sock
        self.service = None
        self.containers = []        # removed in reverse order at the end

    def run(self, argv, check=True, timeout=120, **kw):
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL, **kw)
        if check and r.returncode != 0:
            pytest.fail("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                r.stderr), pytrace=False)
        return r

    def docker(self, *args, **kw):
        return self.run(["docker", *args], **kw)

    def podman(self, *args, **kw):
        return self.run(["podman", *args], **kw)

    def inspect(self, name, fmt):
        return self.docker("inspect", "-f", fmt, name).stdout.strip()

    def start_service(self):
        log = open(self.dir / "podman-service.log", "wb")
        self.service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", "unix://%s" % self.sock],
            env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()

        def up():
            if self.service.poll() is not None:
                pytest.fail("podman system service exited %s: %s" % (
                    self.service.returncode,
                    (self.dir / "podman-service.log").read_text()), pytrace=False)
            return self.docker("version", "--format", "{{.Server.Version}}",
                               check=False, timeout=10).returncode == 0
        wait_for(up, 30, "podman's API service to answer the docker CLI", interval=0.2)

    def run_container(self, name, *args):
        self.containers.append(name)
        return self.docker("run", "-d", "--name", name, *args).stdout.strip()

    def close(self):
        for name in reversed(self.containers):
            self.docker("rm", "-f", name, check=False, timeout=60)
        if self.service is not None and self.service.poll() is None:
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(15)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait(5)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    if os.geteuid() != 0:
        skip("the container tests need root (rootful podman; agent mode)")
    missing = [t for t in ("podman", "runc", "docker") if shutil.which(t) is None]
    if missing:
        skip("not installed: %s (make test-container installs them)" % ", ".join(missing))
    e = Engine(tmp_path_factory.mktemp("engine"))
    try:
        t0 = time.monotonic()
        e.run([str(HERE / "base-image.sh")], timeout=900)
        t1 = time.monotonic()
        build = ["build", "--format", "docker", "-q", "-f", str(REPO / "docker" / "Dockerfile")]
        # The build stage tagged too: its layers are the cache of the next run, and
        # what an earlier run left untagged can go.
        e.podman(*build, "--target", "build", "-t", IMAGE + "-build", str(REPO), timeout=1800)
        e.podman(*build, "-t", IMAGE, str(REPO), timeout=1800)
        for label in ("org.pidcar.stage=build", "org.opencontainers.image.title=pidcar"):
            e.podman("image", "prune", "-f", "--filter", "label=" + label, check=False)
        print("base image %.0fs, pidcar image %.0fs" % (t1 - t0, time.monotonic() - t1),
              file=sys.stderr)
        e.start_service()
        yield e
    finally:
        e.close()


@pytest.fixture(scope="module")
def app(engine):
    name = "app1-" + SUFFIX
    engine.run_container(name, BASE, "sleep", "1d")
    return name


class Sidecar:
    """pidcar's image next to app, started as the README shows it."""

    def __init__(self, engine, app, name, *extra):
        self.engine = engine
        self.name = name
        self.port = free_port()
        engine.run_container(name, "--pid=container:%s" % app,
                             "-p", "127.0.0.1:%d:9723" % self.port, *extra, IMAGE)

        def ready():
            if engine.inspect(name, "{{.State.Running}}") != "true":
                pytest.fail("pidcar container exited:\n" + self.logs(), pytrace=False)
            try:
                return http_request(self.port, "GET", "/readyz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(ready, 30, "the pidcar sidecar to be ready", interval=0.2)
        self.host_pid = int(engine.inspect(name, "{{.State.Pid}}"))

    def logs(self):
        r = self.engine.docker("logs", self.name, check=False)
        return r.stdout + r.stderr

    def json(self, path):
        r = http_request(self.port, "GET", path)
        assert r.status == 200, (path, r)
        return r.json()

    def processes(self):
        return {p["pid"]: p for p in self.json("/api/v1/processes")["processes"]}

    def exit_of(self, pid, comm=None):
        for e in self.json("/api/v1/events?type=exit")["events"]:
            if e["pid"] == pid and comm in (None, e["comm"]):
                return e
        return None


@pytest.fixture(scope="module")
def sidecar(engine, app):
    return Sidecar(engine, app, "pidcar-" + SUFFIX)


@pytest.fixture(scope="module")
def sidecar_caps(engine, app):
    return Sidecar(engine, app, "pidcar-caps-" + SUFFIX,
                   "--cap-add", "SYS_PTRACE", "--cap-add", "DAC_READ_SEARCH")


def docker_exec_seen(engine, app, pc, script, seconds):
    """Runs `docker exec APP sh -c SCRIPT`; returns (the sh as pidcar listed it, exit status)."""
    p = subprocess.Popen(["docker", "exec", app, "sh", "-c", script], env=engine.env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        def seen():
            procs = pc.processes()
            for q in procs.values():
                if q["cmdline"] == ["sleep", str(seconds)] and q["ppid"] in procs and \
                        procs[q["ppid"]]["cmdline"][:2] == ["sh", "-c"]:
                    return procs[q["ppid"]], q
            return None
        sh, child = wait_for(seen, seconds + 5, "the docker exec'd processes in pidcar's list")
        assert child["state"] in "SR", child
        return sh, p.wait(seconds + 30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_image_is_small_and_non_root(engine):
    img = json.loads(engine.podman("image", "inspect", IMAGE).stdout)[0]
    base = json.loads(engine.podman("image", "inspect", BASE).stdout)[0]
    cfg = img["Config"]
    print("image %s: %.1f MB (base %.1f MB)" % (IMAGE, img["Size"] / 1e6, base["Size"] / 1e6),
          file=sys.stderr)
    assert cfg["User"] == "pidcar"
    assert "9723/tcp" in cfg["ExposedPorts"]
    assert "PIDCAR_LISTEN=0.0.0.0:9723" in cfg["Env"]
    assert cfg["Entrypoint"] == ["/usr/sbin/pidcar"]
    assert img["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/pidcar-healthcheck"]
    # pidcar and its runtime libraries over the base: a few MB, no compiler.
    assert img["Size"] - base["Size"] < 20e6, (img["Size"], base["Size"])
    r = engine.docker("run", "--rm", IMAGE, "--version")
    assert r.stdout.strip() == "pidcar 0.1.0", r
    r = engine.docker("run", "--rm", "--entrypoint", "sh", IMAGE, "-c",
                      "for t in gcc cc make getcap bash; do command -v $t; done; id -u",
                      check=False)
    # No toolchain, no setcap tools left; bash for the healthcheck.
    assert r.stdout.split() == ["/usr/bin/bash", "10001"], r


def test_sidecar_lists_sleep_as_pid_1(sidecar):
    st = sidecar.json("/api/v1/status")
    assert st["mode"] == "sidecar"
    p1 = sidecar.processes()[1]
    assert p1["comm"] == "sleep" and p1["cmdline"] == ["sleep", "1d"], p1
    assert p1["ppid"] == 0


def test_sidecar_runs_unprivileged(sidecar):
    s = proc_status(sidecar.host_pid)
    assert s["Uid"].split() == ["10001"] * 4, s["Uid"]
    assert s["Gid"].split() == ["10001"] * 4, s["Gid"]
    assert int(s["CapEff"], 16) == 0 and int(s["CapPrm"], 16) == 0, s
    assert s["NoNewPrivs"] == "1"
    assert sidecar.json("/api/v1/status")["capabilities"] == []
    # Listening on 0.0.0.0 without a token is worth its warning.
    assert "without auth_token_file" in sidecar.logs()


def test_sidecar_sees_docker_exec(engine, app, sidecar):
    sh, rc = docker_exec_seen(engine, app, sidecar, "sleep 3; exit 7", 3)
    assert rc == 7
    e = wait_for(lambda: sidecar.exit_of(sh["pid"], "sh"), 5, "the exit event of the sh")
    # Its parent (runc's exec) is outside the namespace.
    assert e["type"] == "exit" and e["ppid"] in (0, None), e
    wait_for(lambda: sh["pid"] not in sidecar.processes(), 5, "the sh to leave the list")


def test_sidecar_exit_code_without_caps(engine, app, sidecar):
    """Without ptrace access the kernel shows 0 in a zombie's stat field 52; the
    exit code must come from PIDFD_GET_INFO at the reap instead."""
    sh, rc = docker_exec_seen(engine, app, sidecar, "sleep 1; exit 7", 1)
    assert rc == 7
    e = wait_for(lambda: sidecar.exit_of(sh["pid"], "sh"), 5, "the exit event of the sh")
    assert (e["outcome"], e["exit_code"]) == ("exited_nonzero", 7), e


def test_healthcheck(engine, sidecar):
    # podman runs HEALTHCHECKs from systemd timers; without systemd, by hand.
    r = engine.podman("healthcheck", "run", sidecar.name, check=False)
    assert r.returncode == 0, r
    assert engine.inspect(sidecar.name, "{{.State.Health.Status}}") == "healthy"
    # The probe can fail: nothing listens on port 1.
    r = engine.docker("exec", "-e", "PIDCAR_LISTEN=0.0.0.0:1", sidecar.name,
                      "/usr/local/bin/pidcar-healthcheck", check=False)
    assert r.returncode != 0, r


def test_sidecar_with_caps_reads_everything(engine, app, sidecar_caps):
    s = proc_status(sidecar_caps.host_pid)
    assert s["Uid"].split() == ["10001"] * 4
    assert int(s["CapEff"], 16) == READ_CAPS, s["CapEff"]
    assert int(s["CapPrm"], 16) == READ_CAPS, s["CapPrm"]
    assert s["NoNewPrivs"] == "1"
    assert sorted(sidecar_caps.json("/api/v1/status")["capabilities"]) == [
        "cap_dac_read_search", "cap_sys_ptrace"]
    p1 = sidecar_caps.processes()[1]
    assert p1["exe"] == "/usr/bin/sleep", p1
    assert p1["read_bytes"] is not None and p1["fds"] is not None, p1
    sh, rc = docker_exec_seen(engine, app, sidecar_caps, "sleep 1; exit 7", 1)
    assert rc == 7
    e = wait_for(lambda: sidecar_caps.exit_of(sh["pid"], "sh"), 5, "the exit event")
    assert (e["outcome"], e["exit_code"]) == ("exited_nonzero", 7), e


class HostAgent:
    """The host-built pidcar in agent mode on container:APP; stopped with SIGTERM."""

    def __init__(self, engine, app, workdir):
        require_binary()
        if not (os.stat("/proc/self/ns/pid").st_ino == 0xEFFFFFFC and
                os.stat("/proc/self/ns/user").st_ino == 0xEFFFFFFD):
            skip("agent mode needs the initial PID and user namespaces")
        self.port = free_port()
        self.log = workdir / "agent.stderr"
        env = clean_env({"DOCKER_HOST": engine.env["DOCKER_HOST"]})
        env.pop("PIDCAR_BIN", None)
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(
                [PIDCAR_BIN, "-f", "/dev/null", "--listen", "127.0.0.1:%d" % self.port,
                 "--target", "container:" + app], env=env, stdin=subprocess.DEVNULL,
                stdout=f, stderr=f)
        wait_for(self.ready, 20, "pidcar in agent mode to be ready")

    def ready(self):
        if self.proc.poll() is not None:
            pytest.fail("agent exited %s: %s" % (self.proc.returncode, self.stderr()),
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

    def processes(self):
        return {p["pid"]: p for p in self.json("/api/v1/processes")["processes"]}

    def exit_of(self, pid, comm=None):
        for e in self.json("/api/v1/events?type=exit")["events"]:
            if e["pid"] == pid and comm in (None, e["comm"]):
                return e
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


@pytest.fixture(scope="module")
def agent(engine, app, sidecar_caps, tmp_path_factory):
    a = HostAgent(engine, app, tmp_path_factory.mktemp("agent"))
    yield a
    rc = a.stop()
    assert rc == 0, a.stderr()


def test_agent_privileges(agent):
    s = proc_status(agent.proc.pid)
    want = READ_CAPS | (1 << CAP_SYS_ADMIN)     # container: may come back
    assert s["Uid"].split() == ["0"] * 4
    assert int(s["CapEff"], 16) == want, s["CapEff"]
    assert int(s["CapBnd"], 16) == want, s["CapBnd"]
    assert s["NoNewPrivs"] == "1"
    st = agent.json("/api/v1/status")
    assert st["mode"] == "agent"
    assert sorted(st["capabilities"]) == ["cap_dac_read_search", "cap_sys_admin",
                                          "cap_sys_ptrace"]


def test_agent_sees_what_the_sidecar_sees(engine, app, sidecar_caps, agent):
    init = int(engine.inspect(app, "{{.State.Pid}}"))

    def same():
        a = {pid: p["comm"] for pid, p in agent.processes().items()}
        s = {pid: p["comm"] for pid, p in sidecar_caps.processes().items()}
        assert a == s, (a, s)
        return a
    got = eventually(same, timeout=10)
    assert got[1] == "sleep"
    assert agent.processes()[1]["host_pid"] == init


def test_agent_sees_docker_exec_with_the_same_pids(engine, app, sidecar_caps, agent):
    sh, rc = docker_exec_seen(engine, app, agent, "sleep 2; exit 5", 2)
    assert rc == 5
    e = wait_for(lambda: agent.exit_of(sh["pid"], "sh"), 5, "the agent's exit event")
    assert (e["outcome"], e["exit_code"]) == ("exited_nonzero", 5), e
    # The same namespace PID in the sidecar's events.  Its comm there may still be
    # runc's: a sidecar polls, and nobody asked it for a refresh meanwhile.
    e2 = wait_for(lambda: sidecar_caps.exit_of(sh["pid"]), 5, "the sidecar's exit event")
    assert e2["exit_code"] == 5, e2


def test_systemd_service(engine):
    """pidcar.service under a real systemd: PID 1 of a container, pidcar installed with
    `make install PREFIX=/usr` (which creates the pidcar user), WatchdogSec=2s."""
    image = "localhost/pidcar-systemd:test"
    engine.podman("build", "--format", "docker", "-q", "-f",
                  str(HERE / "systemd.Containerfile"), "--build-arg",
                  "BUILD_IMAGE=" + IMAGE + "-build", "-t", image, str(REPO), timeout=900)
    engine.podman("image", "prune", "-f", "--filter", "label=org.pidcar.stage=systemd-test",
                  check=False)
    name = "pidcar-systemd-" + SUFFIX
    engine.containers.append(name)
    # --privileged: systemd sets up the unit's sandbox (mount namespaces, devices).
    engine.podman("run", "-d", "--name", name, "--systemd=always", "--privileged", image)

    def sh(cmd, check=True):
        return engine.podman("exec", name, "bash", "-c", cmd, check=check).stdout.strip()

    def prop(p):
        return sh("systemctl show -p %s --value pidcar.service" % p)
    wait_for(lambda: sh("systemctl is-active pidcar.service", check=False) == "active",
             60, "pidcar.service to be active (Type=notify: READY=1 after the first scan)")
    assert prop("StatusText").startswith("watching "), prop("StatusText")
    assert "(mode sidecar" in prop("StatusText")    # no initial namespaces in here
    pid = int(prop("MainPID"))
    st = dict(line.split(":", 1) for line in sh("cat /proc/%d/status" % pid).splitlines())
    uid, gid = sh("id -u pidcar"), sh("id -g pidcar")
    assert int(uid) < 1000, uid                      # a system user, made by make install
    assert st["Uid"].split() == [uid] * 4 and st["Groups"].split() == [gid], st
    # User=pidcar with three ambient capabilities; pidcar kept the two readers.
    assert int(st["CapEff"], 16) == READ_CAPS and int(st["CapAmb"], 16) == 0, st
    assert st["NoNewPrivs"].strip() == "1"
    # WATCHDOG=1 every second for WatchdogSec=2s: systemd's timestamp moves, no restart.
    w0 = int(prop("WatchdogTimestampMonotonic"))
    time.sleep(2.5)
    assert int(prop("WatchdogTimestampMonotonic")) > w0
    assert prop("NRestarts") == "0"
    r = engine.podman("exec", name, "systemctl", "reload", "pidcar.service", check=False)
    assert r.returncode == 0, r
    wait_for(lambda: "reloaded" in sh("journalctl -u pidcar.service --no-pager -o cat"), 10,
             "pidcar's reload in the journal")
    assert sh("systemctl is-active pidcar.service") == "active"
    http = sh("exec 3<>/dev/tcp/127.0.0.1/9723; printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3;"
              " head -n 1 <&3")
    assert http.startswith("HTTP/1.") and " 200 " in http, http
    engine.podman("exec", name, "systemctl", "stop", "pidcar.service")
    assert prop("Result") == "success" and prop("ActiveState") == "inactive"
    assert "stopped" in sh("journalctl -u pidcar.service --no-pager -o cat")


def test_k8s_pod_example(engine, tmp_path):
    """docker/k8s-pod.yaml through `podman play kube`: one PID namespace for the pod,
    PID 1 the pause process, the main process chosen by group.  No registry here: the
    copy swaps the images for local ones and nginx for a sleep (comm=^sleep$)."""
    if shutil.which("catatonit") is None and not os.path.exists("/usr/libexec/podman/catatonit"):
        skip("catatonit is not installed (podman builds its pause image from it; "
             "make test-container installs it)")
    pod = "web-" + SUFFIX
    text = (REPO / "docker" / "k8s-pod.yaml").read_text()
    for a, b in (("name: web\n", "name: %s\n" % pod),
                 ("image: nginx:1.25-bookworm", "image: %s\n      command: [sleep, 1d]" % BASE),
                 ("image: registry.example.com/pidcar:0.1.0", "image: " + IMAGE),
                 ('value: "app comm=^nginx$"', 'value: "app comm=^sleep$"')):
        assert a in text, a
        text = text.replace(a, b)
    (tmp_path / "pod.yaml").write_text(text)
    try:
        engine.podman("play", "kube", str(tmp_path / "pod.yaml"), timeout=120)
        side = pod + "-pidcar"

        def get(path):
            r = engine.podman("exec", side, "bash", "-c",
                              "exec 3<>/dev/tcp/127.0.0.1/9723; printf 'GET %s HTTP/1.0"
                              "\\r\\n\\r\\n' >&3; cat <&3" % path, check=False)
            # text=True has turned CRLF into LF.
            head, _, body = r.stdout.partition("\n\n")
            return (head.splitlines() or [""])[0], body
        wait_for(lambda: " 200 " in get("/readyz")[0], 30, "pidcar in the pod to be ready")

        def main_is_the_sleeper():
            # The pod's containers start one after another: the app may come later.
            st = json.loads(get("/api/v1/status")[1])
            procs = {p["pid"]: p for p in json.loads(get("/api/v1/processes")[1])["processes"]}
            assert st["mode"] == "sidecar" and st["capabilities"] == [], st
            assert procs[1]["comm"] != "sleep", procs[1]       # the pause process
            sleeper = [p for p in procs.values() if p["cmdline"] == ["sleep", "1d"]]
            assert len(sleeper) == 1, procs
            assert st["main"]["selected_by"] == "group" and st["main"]["pid"] == \
                sleeper[0]["pid"] and st["main"]["up"] is True, st["main"]
        eventually(main_is_the_sleeper, timeout=10)
        s = proc_status(int(engine.inspect(side, "{{.State.Pid}}")))
        assert s["Uid"].split() == ["10001"] * 4 and int(s["CapEff"], 16) == 0, s
        assert s["NoNewPrivs"] == "1"
        assert engine.inspect(side, "{{.HostConfig.ReadonlyRootfs}}") == "true"
    finally:
        engine.podman("pod", "rm", "-f", pod, check=False, timeout=60)


def compose_cmd():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    skip("docker-compose is not installed (make test-container installs Debian's)")


def test_compose_sidecar_and_agent(engine, tmp_path):
    """docker/compose.yaml as the README runs it, both profiles, against podman's API;
    an override only swaps the app for a local image with a command and unique names."""
    app = "app-c-" + SUFFIX
    override = tmp_path / "override.yaml"
    override.write_text(
        "services:\n"
        "  app:\n    container_name: %s\n    command: [sleep, 1d]\n"
        "  pidcar-agent:\n    environment:\n      PIDCAR_TARGET: container:%s\n"
        % (app, app))
    port, aport = free_port(), free_port()
    env = dict(engine.env, APP_IMAGE=BASE, PIDCAR_IMAGE=IMAGE, PIDCAR_PORT=str(port),
               PIDCAR_AGENT_PORT=str(aport), DOCKER_SOCKET=str(engine.sock))
    base = [*compose_cmd(), "-p", "pidcar-c-" + SUFFIX, "-f",
            str(REPO / "docker" / "compose.yaml"), "-f", str(override), "--profile", "agent"]

    def compose(*args, check=True):
        r = subprocess.run([*base, *args], env=env, capture_output=True, text=True,
                           timeout=180, stdin=subprocess.DEVNULL)
        assert not check or r.returncode == 0, (args, r.stdout, r.stderr)
        return r
    try:
        compose("up", "-d", "--no-build")

        def ready(p):
            try:
                return http_request(p, "GET", "/readyz", timeout=2).status == 200
            except OSError:
                return False
        wait_for(lambda: ready(port) and ready(aport), 30, "both pidcars of compose.yaml")
        side = http_request(port, "GET", "/api/v1/status").json()
        agent = http_request(aport, "GET", "/api/v1/status").json()
        assert side["mode"] == "sidecar" and agent["mode"] == "agent", (side, agent)
        assert sorted(side["capabilities"]) == ["cap_dac_read_search", "cap_sys_ptrace"]
        assert sorted(agent["capabilities"]) == ["cap_dac_read_search", "cap_sys_admin",
                                                 "cap_sys_ptrace"]

        def same():
            a = {p["pid"]: p["comm"] for p in http_request(
                aport, "GET", "/api/v1/processes").json()["processes"]}
            b = {p["pid"]: p["comm"] for p in http_request(
                port, "GET", "/api/v1/processes").json()["processes"]}
            assert a == b and a[1] == "sleep", (a, b)
        eventually(same, timeout=10)
    finally:
        compose("down", "-t", "5", check=False)
        # podman refuses to remove the app while its sidecar still exists: again.
        engine.docker("rm", "-f", app, check=False)
        compose("down", "-t", "5", check=False)


# Last: the restart ends the app's PID namespace, and the sidecars with it.
def test_agent_follows_docker_restart(engine, app, agent):
    before = agent.processes()[1]
    engine.docker("restart", app, timeout=120)
    init = int(engine.inspect(app, "{{.State.Pid}}"))
    assert init != before["host_pid"]

    def reattached():
        with contextlib.suppress(AssertionError, OSError):
            p1 = agent.processes().get(1)
            if p1 and p1["host_pid"] == init and p1["comm"] == "sleep":
                return p1
        return None
    wait_for(reattached, 20, "the agent to follow the restarted container")
    assert http_request(agent.port, "GET", "/readyz").status == 200
    # Attached again with the privileges left after the drop: the new namespace's
    # processes and exits come through as before.
    sh, rc = docker_exec_seen(engine, app, agent, "sleep 1; exit 6", 1)
    assert rc == 6
    e = wait_for(lambda: agent.exit_of(sh["pid"], "sh"), 5, "the exit after the restart")
    assert e["exit_code"] == 6, e
    assert int(proc_status(agent.proc.pid)["CapEff"], 16) == \
        READ_CAPS | (1 << CAP_SYS_ADMIN)
