"""Groups, the main process and their metrics against a namespace the test changes.

Every /metrics body is read in both formats: text 0.0.4 through `promtool check metrics`
and prometheus_client's parser, OpenMetrics through prometheus_client's OpenMetrics
parser; counters are followed across the whole run and must never go down.  The last
test runs a real Prometheus server against pidcar and asks it through its HTTP API.
"""

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families

from nsharness import eventually, free_port, release_fifo, wait_for

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
PYTHON = "/usr/bin/python3"
OM_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
             "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
OUTCOMES = ("exited_zero", "exited_nonzero", "signaled", "unknown")
CONFIGURED = ("app", "workers", "burner", "spawner", "renamed", "nobody_sleep", "never")

RULES = """group app comm=^app$
group {workers} "cmdline=^worker-[0-9]+ "
group burner comm=^burner$
group spawner comm=^spawner$
group renamed comm=^renamed-
group nobody_sleep comm=^sleep$ user=nobody
group never comm=^never-runs$
main app
"""

# Burns CPU until its own CPU time reaches SECONDS, writes it to OUT, exits 0.
BURN = """import os, sys
t = float(sys.argv[1])
while sum(os.times()[:2]) < t:
    pass
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(repr(sum(os.times()[:2])))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
"""

# Forks a child that execs the burner; reaps it only a second later, so the
# zombie's final CPU can be read.
SLOW_REAPER = """import os, sys, time
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], ["burner", "-c", sys.argv[2], "0.3", sys.argv[3]])
time.sleep(1.0)
os.waitpid(pid, 0)
"""

# After FIFO: N children, each burning ~2 ms and gone before a 10 ms probe sees
# most of them, each reaped at once; then writes its own + its children's CPU.
SPAWNER = """import os, signal, sys, time
open(sys.argv[1]).read()
for i in range(150):
    pid = os.fork()
    if pid == 0:
        t = time.process_time()
        while time.process_time() - t < 0.002:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
t = os.times()
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(repr(t[0] + t[1] + t[2] + t[3]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
signal.pause()
"""


def promtool_check(text):
    if not os.access(PROMTOOL, os.X_OK):
        pytest.fail("%s is missing (Debian package prometheus)" % PROMTOOL, pytrace=False)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", \
        "promtool check metrics: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr)


def samples_of(families):
    out, types = {}, {}
    for fam in families:
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, "duplicate series %s" % (key,)
            out[key] = s.value
            types[key] = fam.type
    return out, types


class Scraper:
    """Scrapes /metrics in every format, checks each body, follows the counters."""

    def __init__(self, ns):
        self.ns = ns
        self.counters = {}
        self.scrapes = 0

    def _get(self, headers):
        r = self.ns.get("/metrics", headers=headers)
        assert r.status == 200, r
        return r

    def text(self):
        r = self._get({})
        assert r.content_type == "text/plain; version=0.0.4; charset=utf-8", r
        promtool_check(r.text)
        m, types = samples_of(text_string_to_metric_families(r.text))
        self._follow(m, types)
        return m

    def om(self):
        r = self._get({"Accept": OM_ACCEPT})
        assert r.content_type == \
            "application/openmetrics-text; version=1.0.0; charset=utf-8", r
        assert r.text.endswith("\n# EOF\n") and r.text.count("# EOF") == 1
        fams = list(om_families(r.text))
        types = {f.name: f.type for f in fams}
        assert types["pidcar_main_last_exit"] == "info", types
        assert types["pidcar_group_cpu_seconds"] == "counter", types
        assert types["pidcar_group_process_lifetime_seconds"] == "histogram", types
        m, stypes = samples_of(fams)
        self._follow(m, stypes)
        return m

    def gz(self):
        r = self._get({"Accept-Encoding": "gzip"})
        assert r.headers.get("Content-Encoding") == "gzip", r.headers
        assert "Accept-Encoding" in r.headers.get("Vary", "")
        text = gzip.decompress(r.body).decode()
        promtool_check(text)
        m, types = samples_of(text_string_to_metric_families(text))
        self._follow(m, types)
        return m

    SAME = ("pidcar_group_processes", "pidcar_group_exits_total", "pidcar_group_restarts",
            "pidcar_group_process_lifetime", "pidcar_main_", "pidcar_processes",
            "pidcar_exits_total", "pidcar_forks_total", "pidcar_execs_total", "pidcar_info")

    def both(self):
        """Text and OpenMetrics say the same about everything the test holds still."""
        t = self.text()
        o = self.om()
        for key, v in t.items():
            if key[0].startswith(self.SAME):
                assert o.get(key) == v, "%s: text %s, OpenMetrics %s" % (key, v, o.get(key))
        return t

    def _follow(self, m, types):
        self.scrapes += 1
        for key, v in m.items():
            if types[key] not in ("counter", "histogram"):
                continue
            old = self.counters.get(key)
            assert old is None or v >= old, "counter %s went down: %s -> %s" % (key, old, v)
            self.counters[key] = v


def group_value(m, name, group, **labels):
    key = (name, tuple(sorted(dict(labels, group=group).items())))
    assert key in m, "no series %s{group=%r, %s}" % (name, group, labels)
    return m[key]


def value(m, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in m, "no series %s%s" % (name, labels)
    return m[key]


def cpu(m, group):
    return sum(group_value(m, "pidcar_group_cpu_seconds_total", group, mode=mo)
               for mo in ("user", "system"))


def exits(m, group):
    return {o: group_value(m, "pidcar_group_exits_total", group, outcome=o) for o in OUTCOMES}


def assert_group(m, group, processes, **want_exits):
    assert group_value(m, "pidcar_group_processes", group) == processes, \
        (group, group_value(m, "pidcar_group_processes", group))
    want = {o: want_exits.get(o, 0) for o in OUTCOMES}
    assert exits(m, group) == want, (group, exits(m, group))


def assert_empty(m, group):
    """A configured group nothing ever matched: every series there, every value 0."""
    for name in ("pidcar_group_processes", "pidcar_group_threads",
                 "pidcar_group_resident_memory_bytes", "pidcar_group_virtual_memory_bytes",
                 "pidcar_group_open_fds", "pidcar_group_oldest_start_time_seconds",
                 "pidcar_group_read_bytes_total", "pidcar_group_write_bytes_total",
                 "pidcar_group_restarts_total", "pidcar_group_process_lifetime_seconds_count",
                 "pidcar_group_process_lifetime_seconds_sum"):
        assert group_value(m, name, group) == 0, (name, group)
    assert cpu(m, group) == 0
    assert set(exits(m, group).values()) == {0}
    assert group_value(m, "pidcar_group_process_lifetime_seconds_bucket", group, le="+Inf") == 0


def main_state(m):
    info = [dict(k[1]) for k in m if k[0] == "pidcar_main_last_exit_info"]
    assert len(info) == 1, info
    return {"up": value(m, "pidcar_main_up"), "pid": value(m, "pidcar_main_pid"),
            "restarts": value(m, "pidcar_main_restarts_total"),
            "exits": value(m, "pidcar_main_exits_total"),
            "code": value(m, "pidcar_main_last_exit_code"), "info": info[0]}


def stat_cpu(ns, pid):
    """utime + stime of a namespace PID from its stat, in seconds."""
    f = ns.proc_file(pid, "stat").decode()
    rest = f[f.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def stat_start(ns, pid):
    f = ns.proc_file(pid, "stat").decode()
    start = int(f[f.rindex(")") + 2:].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as st:
        btime = int(re.search(r"^btime (\d+)$", st.read(), re.M).group(1))
    return btime + start


def links(tmp_path):
    """Binaries whose comm is what the rules match: exec takes comm from the path."""
    d = tmp_path / "bin"
    d.mkdir()
    for name, target in (("app", "/bin/sleep"), ("burner", PYTHON), ("spawner", PYTHON)):
        os.symlink(target, d / name)
    return d


def make_conf(port, workers="workers", extra=""):
    return ("listen 127.0.0.1:%d\nlog_level info\npoll_interval 10ms\nrefresh_age 0\n"
            % port) + RULES.format(workers=workers) + extra


def test_groups_through_a_life(make_ns, tmp_path):
    port = free_port()
    ns = make_ns(spec={"plain": 1, "users": [65534]}, port=port, conf=make_conf(port))
    bins = links(tmp_path)
    sc = Scraper(ns)

    # Nothing of ours runs yet: every configured group is there, with zeros.
    m = sc.both()
    sc.gz()
    for g in CONFIGURED:
        if g != "nobody_sleep":
            assert_empty(m, g)
    assert_group(m, "nobody_sleep", 1)     # user=nobody picks the uid-65534 sleeper
    assert_group(m, "sleep", 1)            # the root one goes by comm
    assert main_state(m) == {"up": 0, "pid": 0, "restarts": 0, "exits": 0, "code": -1,
                             "info": {"outcome": "none", "code": "", "signal": ""}}
    st = ns.status()["main"]
    assert st["group"] == "app" and st["up"] is False and st["last_exit"] is None, st

    # The main process starts.
    app = ns.spawn(str(bins / "app"), "1000")

    def app_up():
        m = sc.both()
        assert_group(m, "app", 1)
        assert main_state(m)["up"] == 1 and main_state(m)["pid"] == app.pid, main_state(m)
        assert abs(value(m, "pidcar_main_start_time_seconds") - stat_start(ns, app.pid)) < 0.02
        assert group_value(m, "pidcar_group_oldest_start_time_seconds", "app") == \
            value(m, "pidcar_main_start_time_seconds")
        return m
    eventually(app_up)

    # A shell that execs into a worker: re-matched at the exec, not only when first seen.
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    sh = ns.spawn("bash", "-c", "read x < %s; exec -a worker-1 /bin/sleep 1000" % fifo)

    def in_bash():
        m = sc.text()
        assert group_value(m, "pidcar_group_processes", "bash") == 1
        assert_group(m, "workers", 0)
    eventually(in_bash)
    assert ns.processes("group=bash")["processes"][0]["pid"] == sh.pid
    execs0 = value(sc.text(), "pidcar_execs_total")
    release_fifo(fifo)

    def worker():
        m = sc.both()
        assert_group(m, "workers", 1)
        assert group_value(m, "pidcar_group_processes", "bash") == 0
        assert value(m, "pidcar_execs_total") == execs0 + 1
        assert group_value(m, "pidcar_group_restarts_total", "workers") == 0
        return m
    eventually(worker)
    procs = ns.processes("group=workers")["processes"]
    assert [(p["pid"], p["group"]) for p in procs] == [(sh.pid, "workers")], procs
    assert ns.json("/api/v1/processes/%d" % sh.pid)["group"] == "workers"

    # A rename (prctl) is re-matched too, and is no exec.
    fifo2 = str(tmp_path / "fifo2")
    os.mkfifo(fifo2)
    ren = ns.spawn(PYTHON, "-c", "import ctypes, signal; open(%r).read(); "
                   "ctypes.CDLL(None).prctl(15, b'renamed-x', 0, 0, 0); signal.pause()"
                   % fifo2)
    eventually(lambda: assert_group(sc.text(), "python3", 2))      # with nsinit
    execs0 = value(sc.text(), "pidcar_execs_total")
    release_fifo(fifo2)

    def renamed():
        m = sc.both()
        assert_group(m, "renamed", 1)
        assert_group(m, "python3", 1)
        assert value(m, "pidcar_execs_total") == execs0
    eventually(renamed)
    assert ns.json("/api/v1/processes/%d" % ren.pid)["group"] == "renamed"

    # Exits with a code and with a signal.
    fifo3 = str(tmp_path / "fifo3")
    os.mkfifo(fifo3)
    code = ns.spawn("sh", "-c", "read x < %s; exit 3" % fifo3)
    eventually(lambda: assert_group(sc.text(), "sh", 1))
    release_fifo(fifo3)
    code.wait()
    os.kill(ns.host_pid(int(ns.info["users"]["65534"])), signal.SIGTERM)

    def exited():
        m = sc.both()
        assert_group(m, "sh", 0, exited_nonzero=1)
        assert_group(m, "nobody_sleep", 0, signaled=1)
        assert group_value(m, "pidcar_group_process_lifetime_seconds_count", "sh") == 1
        assert group_value(m, "pidcar_group_process_lifetime_seconds_bucket", "sh",
                           le="0.001") == 0
        assert group_value(m, "pidcar_group_process_lifetime_seconds_bucket", "sh",
                           le="600") == 1
        return m
    eventually(exited)

    # A process that burns 0.3 s of CPU and exits: its CPU stays with the group,
    # exact to the tick because the zombie is read before its parent reaps it.
    out = str(tmp_path / "burn.out")
    ns.spawn(PYTHON, "-c", SLOW_REAPER, str(bins / "burner"), BURN, out)
    wait_for(lambda: os.path.exists(out), 10, "the burner to finish")
    burned = float(open(out).read())

    def burnt():
        m = sc.both()
        assert_group(m, "burner", 0, exited_zero=1)
        assert abs(cpu(m, "burner") - burned) <= 0.03, (cpu(m, "burner"), burned)
        assert group_value(m, "pidcar_group_process_lifetime_seconds_bucket", "burner",
                           le="0.1") == 0
        assert group_value(m, "pidcar_group_process_lifetime_seconds_count", "burner") == 1
        return m
    eventually(burnt, timeout=8)
    acc = ns.status()["accounting"]
    assert acc["exits_with_final_cpu"] >= 1, acc

    # 150 children that live ~2 ms: most are never seen, their CPU is not lost.
    fifo4 = str(tmp_path / "fifo4")
    os.mkfifo(fifo4)
    out = str(tmp_path / "spawn.out")
    spawner = ns.spawn(str(bins / "spawner"), "-c", SPAWNER, fifo4, out)
    eventually(lambda: assert_group(sc.text(), "spawner", 1))
    forks0 = value(sc.text(), "pidcar_forks_total")
    release_fifo(fifo4)
    wait_for(lambda: os.path.exists(out), 20, "the spawner to finish")
    total = float(open(out).read())

    def spawned():
        m = sc.both()
        assert abs(cpu(m, "spawner") - total) <= 0.03, (cpu(m, "spawner"), total)
        return m
    m = eventually(spawned, timeout=5)
    if ns.status()["source"].startswith("perf_task_events"):
        # Perf FORK records count each one, read or not.
        assert value(m, "pidcar_forks_total") - forks0 == 150
    else:
        assert value(m, "pidcar_forks_total") - forks0 < 150, "every child was seen"
    assert ns.status()["accounting"]["unseen_cpu_seconds"] > 0.05
    assert group_value(m, "pidcar_group_processes", "spawner") == 1
    spawner.kill()

    # The main process killed, then started again: a restart.
    app.kill(signal.SIGKILL)

    def main_down():
        m = sc.both()
        assert main_state(m) == {"up": 0, "pid": 0, "restarts": 0, "exits": 1, "code": 137,
                                 "info": {"outcome": "signaled", "code": "",
                                          "signal": "SIGKILL"}}
        assert_group(m, "app", 0, signaled=1)
        assert value(m, "pidcar_main_start_time_seconds") == 0
        assert abs(value(m, "pidcar_main_last_exit_time_seconds") - time.time()) < 5
    eventually(main_down)
    st = ns.status()["main"]
    assert st["up"] is False and st["pid"] is None and st["exits"] == 1, st
    assert st["last_exit"]["signal"] == "SIGKILL" and st["last_exit"]["exit_code"] is None
    app2 = ns.spawn(str(bins / "app"), "1000")

    def main_again():
        m = sc.both()
        assert main_state(m) == {"up": 1, "pid": app2.pid, "restarts": 1, "exits": 1,
                                 "code": 137, "info": {"outcome": "signaled", "code": "",
                                                       "signal": "SIGKILL"}}
        assert_group(m, "app", 1, signaled=1)
        assert group_value(m, "pidcar_group_restarts_total", "app") == 1
        return m
    m = eventually(main_again)
    st = ns.status()["main"]
    assert st["up"] is True and st["pid"] == app2.pid and st["restarts"] == 1, st

    # A reload that renames a group: processes re-matched, no counter goes back.
    ns.conf_path.write_text(make_conf(port, workers="crew"))
    ns.signal_pidcar(signal.SIGHUP)

    def reloaded():
        m = sc.both()
        assert_group(m, "crew", 1)
        assert_group(m, "workers", 0)
        assert main_state(m)["restarts"] == 1 and main_state(m)["up"] == 1
        assert_group(m, "app", 1, signaled=1)
        assert_empty(m, "never")
    eventually(reloaded)
    sc.gz()
    assert sc.scrapes >= 20


def test_cardinality_controls(make_ns):
    port = free_port()
    conf = ("listen 127.0.0.1:%d\nrefresh_age 0\ngroup sleepers comm=^sleep$\n"
            "group never comm=^never$\ngroup_by_comm no\nper_process_metrics yes\n"
            "per_process_limit 2\n" % port)
    ns = make_ns(spec={"plain": 3, "names": ['we"ird\\name\n']}, port=port, conf=conf)
    sc = Scraper(ns)
    procs = ns.processes()["processes"]
    m = sc.both()
    groups = {dict(k[1])["group"] for k in m if k[0] == "pidcar_group_processes"}
    assert groups == {"sleepers", "never", "other"}, groups
    assert group_value(m, "pidcar_group_processes", "sleepers") == 3
    assert group_value(m, "pidcar_group_processes", "other") == len(procs) - 3
    assert_empty(m, "never")
    per = [dict(k[1]) for k in m if k[0] == "pidcar_process_threads"]
    assert len(per) == 2 and all(set(p) == {"pid", "comm"} for p in per), per
    # The two with the most CPU: CPU only grows, so nothing left out had more at the
    # earlier JSON read than the least of the two at the later scrape.
    shown = {int(p["pid"]): sum(v for k, v in m.items()
                                if k[0] == "pidcar_process_cpu_seconds_total" and
                                dict(k[1])["pid"] == p["pid"]) for p in per}
    for p in procs:
        if p["pid"] not in shown:
            assert p["cpu_user_seconds"] + p["cpu_system_seconds"] <= \
                min(shown.values()) + 1e-9, (p, shown)
    cpu_labels = {tuple(sorted(dict(k[1]))) for k in m
                  if k[0] == "pidcar_process_cpu_seconds_total"}
    assert cpu_labels == {("comm", "mode", "pid")}, cpu_labels
    assert all(p["group"] in ("sleepers", "other") for p in procs)


def prometheus_query(port, expr):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def prometheus_scalar(port, expr):
    res = prometheus_query(port, expr)
    assert len(res) == 1, (expr, res)
    return float(res[0]["value"][1])


def test_prometheus_scrapes_pidcar(make_ns, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail("%s is missing (Debian package prometheus)" % PROMETHEUS, pytrace=False)
    port = free_port()
    ns = make_ns(spec={"plain": 1}, port=port, conf=make_conf(port))
    bins = links(tmp_path)
    app = ns.spawn(str(bins / "app"), "1000")
    burner = ns.spawn(str(bins / "burner"), "-c", "while True: pass")
    eventually(lambda: assert_group(Scraper(ns).text(), "burner", 1))

    pport = free_port()
    pdir = tmp_path / "prometheus"
    pdir.mkdir()
    (pdir / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: pidcar\n    static_configs:\n"
        "      - targets: ['127.0.0.1:%d']\n" % port)
    log = open(pdir / "prometheus.log", "wb")
    prom = subprocess.Popen(
        [PROMETHEUS, "--config.file=%s" % (pdir / "prometheus.yml"),
         "--storage.tsdb.path=%s" % (pdir / "data"),
         "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        def up():
            assert prom.poll() is None, (pdir / "prometheus.log").read_text()
            try:
                res = prometheus_query(pport, 'up{job="pidcar"}')
            except OSError as e:
                raise AssertionError(str(e))
            assert res and res[0]["value"][1] == "1", res
        eventually(up, timeout=20, interval=0.25)

        # Prometheus asked for OpenMetrics: it knows the info family by its OM name.
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/metadata?metric="
                                    "pidcar_main_last_exit" % pport, timeout=5) as r:
            meta = json.load(r)["data"]
        assert meta.get("pidcar_main_last_exit", [{}])[0].get("type") == "info", meta

        # Six seconds of scrapes, CPU measured meanwhile from the burner's own stat.
        c0, t0 = stat_cpu(ns, burner.pid), time.monotonic()
        time.sleep(6)
        c1, t1 = stat_cpu(ns, burner.pid), time.monotonic()
        truth = (c1 - c0) / (t1 - t0)
        assert truth > 0.2, "the burner got almost no CPU (%.2f)" % truth
        rate = prometheus_scalar(
            pport, 'sum(rate(pidcar_group_cpu_seconds_total{group="burner"}[5s]))')
        assert abs(rate - truth) < 0.25 * truth, (rate, truth)
        assert prometheus_scalar(pport, 'pidcar_group_processes{group="burner"}') == 1
        assert prometheus_scalar(pport, 'pidcar_group_processes{group="never"}') == 0
        assert prometheus_scalar(pport, "pidcar_main_restarts_total") == 0

        # The main process is killed and started again.
        app.kill(signal.SIGKILL)
        eventually(lambda: assert_group(Scraper(ns).text(), "app", 0, signaled=1))
        app2 = ns.spawn(str(bins / "app"), "1000")

        def restarted():
            assert prometheus_scalar(pport, "pidcar_main_restarts_total") == 1
            assert prometheus_scalar(pport, "pidcar_main_up") == 1
            assert prometheus_scalar(pport, "pidcar_main_pid") == app2.pid
            assert prometheus_scalar(pport, 'pidcar_group_processes{group="app"}') == 1
            assert prometheus_scalar(
                pport, 'pidcar_group_exits_total{group="app",outcome="signaled"}') == 1
        eventually(restarted, timeout=10, interval=0.5)
        assert prometheus_scalar(pport, 'up{job="pidcar"}') == 1
    finally:
        burner.kill()
        prom.terminate()        # by PID
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(5)
        log.close()
        shutil.rmtree(pdir / "data", ignore_errors=True)
