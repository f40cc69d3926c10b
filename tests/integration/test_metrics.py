"""/metrics: valid for promtool and prometheus_client, and true to the namespace."""

import os
import re
import subprocess
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nsharness import HOSTILE_NAMES, eventually, metric_samples, release_fifo, wait_for

PROMTOOL = "/usr/bin/promtool"
OUTCOMES = ("exited_zero", "exited_nonzero", "signaled", "unknown")


def promtool_check(text):
    if not os.access(PROMTOOL, os.X_OK):
        pytest.fail("%s is missing (Debian package prometheus)" % PROMTOOL, pytrace=False)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", \
        "promtool check metrics: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr)


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(m, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in m, "no sample %s%s" % (name, labels)
    return m[key]


def by_label(m, name, label):
    return {dict(k[1])[label]: v for k, v in m.items() if k[0] == name}


def test_promtool_clean(ns):
    promtool_check(ns.metrics_text())


def test_parses_with_prometheus_client(ns):
    text = ns.metrics_text()
    fams = families(text)
    want = {
        "pidcar_info": "gauge", "pidcar_target_up": "gauge", "pidcar_processes": "gauge",
        "pidcar_threads": "gauge", "pidcar_processes_by_state": "gauge",
        "pidcar_forks": "counter", "pidcar_exits": "counter",
        "pidcar_scrape_duration_seconds": "gauge", "pidcar_proc_read_errors": "counter",
        "pidcar_group_processes": "gauge",
        "process_cpu_seconds": "counter", "process_resident_memory_bytes": "gauge",
        "process_virtual_memory_bytes": "gauge", "process_start_time_seconds": "gauge",
        "process_open_fds": "gauge", "process_max_fds": "gauge",
    }
    for name, typ in want.items():
        assert name in fams, "no metric family %s" % name
        assert fams[name].type == typ, "%s is a %s" % (name, fams[name].type)
        assert fams[name].documentation, "%s has no HELP" % name
    for name in ("pidcar_forks_total", "pidcar_exits_total", "pidcar_proc_read_errors_total",
                 "process_cpu_seconds_total"):
        assert re.search(r"^# TYPE %s counter$" % name, text, re.M), name
    assert text.endswith("\n")


def test_info_and_self(ns):
    m = metric_samples(ns.metrics_text())
    status = ns.status()
    info = by_label(m, "pidcar_info", "mode")
    assert info == {"sidecar": 1.0}, info
    key = [k for k in m if k[0] == "pidcar_info"][0]
    labels = dict(key[1])
    assert labels["source"] == status["source"] and labels["target"] == "self", labels
    assert labels["source"].split("+")[0] in ("perf_task_events", "procfs_poll"), labels
    assert labels["version"] == status["version"], labels
    assert value(m, "pidcar_target_up") == 1
    assert value(m, "pidcar_scrape_duration_seconds") >= 0
    assert value(m, "pidcar_proc_read_errors_total") >= 0
    assert value(m, "process_resident_memory_bytes") > 1 << 20
    assert 0 < value(m, "process_open_fds") <= value(m, "process_max_fds")
    assert abs(value(m, "process_start_time_seconds") - (time.time() - status["uptime_seconds"])) < 5
    assert value(m, "process_cpu_seconds_total") >= 0


def test_values_match_the_list(ns):
    def check():
        procs = ns.processes()["processes"]
        m = metric_samples(ns.metrics_text())
        assert value(m, "pidcar_processes") == len(procs)
        assert value(m, "pidcar_threads") == sum(p["threads"] for p in procs)
        states = by_label(m, "pidcar_processes_by_state", "state")
        assert sum(states.values()) == len(procs), states
        # The label may be the letter or a word; the zombie must be counted either way.
        zombies = sum(1 for p in procs if p["state"] == "Z")
        assert zombies == 1 and zombies in (states.get("Z"), states.get("zombie")), states
        groups = by_label(m, "pidcar_group_processes", "group")
        assert sum(groups.values()) == len(procs), groups
        assert groups["sleep"] == sum(1 for p in procs if p["comm"] == "sleep"), groups
        for name in HOSTILE_NAMES:
            assert groups.get(name) == 1, "group %r (escaped label) not read back: %r" % (
                name, sorted(groups))
        assert value(m, "pidcar_forks_total") >= len(procs)
    eventually(check, timeout=5)


def test_exits_grow(ns, tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)

    def exits():
        return by_label(metric_samples(ns.metrics_text()), "pidcar_exits_total", "outcome")
    before = exits()
    assert set(before) == set(OUTCOMES), before
    s = ns.spawn("sh", "-c", "read x < %s; exit 7" % fifo)
    wait_for(lambda: s.pid in ns.by_pid(), 3, "pid %d to be listed" % s.pid)
    t = ns.spawn("sleep", "1000")
    wait_for(lambda: t.pid in ns.by_pid(), 3, "pid %d to be listed" % t.pid)
    release_fifo(fifo)
    t.kill()
    s.wait()
    t.wait()

    def grown():
        now = exits()
        assert now["exited_nonzero"] == before["exited_nonzero"] + 1, (before, now)
        assert now["signaled"] == before["signaled"] + 1, (before, now)
        assert now["unknown"] == before["unknown"], (before, now)
        assert now["exited_zero"] >= before["exited_zero"], (before, now)
        return now
    eventually(grown, timeout=3)

    def same_in_status():
        st = ns.status()["counters"]["exits"]
        assert {k: float(v) for k, v in st.items()} == exits()
    eventually(same_in_status, timeout=3)
    promtool_check(ns.metrics_text())


def test_head_and_repeat_scrapes(ns):
    for _ in range(5):
        promtool_check(ns.metrics_text())
