"""Lifecycle events: /api/v1/events and the Server-Sent Events stream, in agent mode
(connector EXITs joined with taskstats exit records) and in sidecar mode (pidfds), and
the exact CPU of short-lived processes from taskstats."""

import http.client
import json
import os
import subprocess
import time

import pytest

from nsharness import (Namespace, metric_samples, wait_for)
from test_agent import Agent, initial_namespaces

HERE = os.path.dirname(os.path.abspath(__file__))
BURN_SRC = os.path.join(HERE, "..", "bench", "burn.c")


@pytest.fixture
def target(tmp_path):
    ns = Namespace(tmp_path / "ns", spec={"plain": 2}, pidcar=False)
    ns.start()
    yield ns
    ns.close()


@pytest.fixture
def agent(tmp_path, target):
    a = Agent(tmp_path, "pid:%d" % target.init_host_pid, ["--events_buffer", "5000"])
    yield a
    assert a.stop() == 0


def event_seq(a):
    return a.json("/api/v1/status")["counters"]["event_seq"]


def events_since(a, since, query=""):
    return a.json("/api/v1/events?since=%d%s" % (since + 1, query))


def wait_exit_event(a, since, pred, what):
    def find():
        for e in events_since(a, since, "&type=exit")["events"]:
            if pred(e):
                return e
        return None
    return wait_for(find, 10, what)


@pytest.mark.parametrize("script,check", [
    ("exit 3", lambda e: e["outcome"] == "exited_nonzero" and e["exit_code"] == 3 and
     e["signal"] is None and e["core_dumped"] is None),
    ("kill -TERM $$", lambda e: e["outcome"] == "signaled" and e["exit_code"] is None and
     e["signal"] == "SIGTERM" and e["signal_number"] == 15 and e["core_dumped"] is False),
    ("ulimit -c unlimited; kill -SEGV $$", lambda e: e["signal"] == "SIGSEGV" and
     e["core_dumped"] is True),
])
def test_agent_exit_events_are_decoded(agent, target, tmp_path, script, check):
    s0 = event_seq(agent)
    # The sh is nsenter's child: it lives in the target and dies as the script says.
    # It lives 50 ms: an entrant gone with its parent before pidcar reads its FORK
    # cannot be told from the host's processes (README, "Deployment modes").
    subprocess.run(target.nsenter("sh", "-c", "cd %s && sleep 0.05; %s" % (tmp_path, script)),
                   cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True)
    e = wait_exit_event(agent, s0, lambda e: e["comm"] == "sh", "the sh's exit event")
    assert check(e), e
    assert e["pid"] > 1 and e["host_pid"] != e["pid"]     # the target's number
    assert e["cpu_source"] == "taskstats"
    assert e["cpu_user_seconds"] >= 0 and e["cpu_system_seconds"] >= 0
    assert e["max_rss_bytes"] > 0
    assert 0 <= e["lifetime_seconds"] < 10
    # Its fork came before it, with the same numbers.
    forks = [f for f in events_since(agent, s0, "&type=fork")["events"]
             if f["pid"] == e["pid"]]
    assert forks and forks[0]["seq"] < e["seq"]


def test_agent_exit_in_a_nested_namespace(agent, target):
    """A PID namespace inside the target is part of it: its processes' exits come with
    the target's numbers and their decoded status."""
    s0 = event_seq(agent)
    # The sh is the nested namespace's PID 1 (it would ignore its own SIGTERM).
    target.run("unshare", "--pid", "--fork", "sh", "-c", "/bin/sleep 0.1; exit 3",
               check=False)
    e = wait_exit_event(agent, s0, lambda e: e["comm"] == "sh" and
                        e["exit_code"] == 3, "the nested sh's exit")
    assert e["pid"] > 1 and e["outcome"] == "exited_nonzero"
    sl = wait_exit_event(agent, s0, lambda e: e["comm"] == "sleep", "the nested sleep's exit")
    assert sl["ppid"] == e["pid"] and sl["exit_code"] == 0


def test_agent_fork_exec_exit_of_one_process(agent, target):
    s0 = event_seq(agent)
    target.run("sh", "-c", "/bin/sleep 0.2")
    def chain():
        evs = events_since(agent, s0)["events"]
        sleeps = [e for e in evs if e["type"] == "exec" and e["comm"] == "sleep"]
        if not sleeps:
            return None
        pid = sleeps[0]["pid"]
        mine = [e for e in evs if e["pid"] == pid]
        return mine if [e["type"] for e in mine][-1:] == ["exit"] else None
    mine = wait_for(chain, 10, "fork, exec and exit of the sleep")
    kinds = [e["type"] for e in mine]
    assert kinds[0] == "fork" and "exec" in kinds and kinds[-1] == "exit"
    ex = [e for e in mine if e["type"] == "exec"][0]
    assert ex["exe"] == "/usr/bin/sleep"
    seqs = [e["seq"] for e in mine]
    assert seqs == sorted(seqs)
    assert mine[-1]["exit_code"] == 0 and mine[-1]["lifetime_seconds"] >= 0.15


def test_events_paging_type_filter_and_missed(tmp_path, target):
    a = Agent(tmp_path, "pid:%d" % target.init_host_pid, ["--events_buffer", "16"])
    try:
        s0 = event_seq(a)
        target.run("sh", "-c", "i=0; while [ $i -lt 30 ]; do /bin/true; i=$((i+1)); done")
        wait_for(lambda: event_seq(a) >= s0 + 61, 10, "61 events (30 forks + exits + sh)")
        r = a.json("/api/v1/events?since=%d" % (s0 + 1))
        # The ring holds 16: what fell out before the client asked is counted.
        assert len(r["events"]) == 16
        assert r["missed"] == r["oldest"] - (s0 + 1) > 0
        assert r["next"] == r["events"][-1]["seq"] + 1
        r2 = a.json("/api/v1/events?since=%d&limit=3&type=exit" % r["oldest"])
        assert [e["type"] for e in r2["events"]] == ["exit"] * 3
        assert r2["missed"] == 0
        # Paging on from next gives the rest, never the same event twice.
        r3 = a.json("/api/v1/events?since=%d&type=exit" % r2["next"])
        seen = {e["seq"] for e in r2["events"]}
        assert not seen & {e["seq"] for e in r3["events"]}
        assert r3["next"] >= r2["next"]
    finally:
        assert a.stop() == 0


@pytest.mark.parametrize("query,words", [
    ("type=bogus", "type"), ("type=fork,", "type"), ("since=abc", "since"),
    ("since=-1", "since"), ("limit=x", "limit"), ("sort=pid", "sort"),
    ("since=1&since=2", "twice"),
])
def test_events_bad_queries_name_the_parameter(agent, query, words):
    r = agent.get("/api/v1/events?" + query)
    assert r.status == 400, r.text
    assert words in r.json()["error"]["message"]
    assert agent.get("/healthz").status == 200


class Stream:
    """An SSE client: reads events as (id, type, data) with a deadline."""

    def __init__(self, port, query="", headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", "/api/v1/events/stream" + query, headers=headers or {})
        self.resp = self.conn.getresponse()

    def next_event(self, timeout=10):
        self.conn.sock.settimeout(timeout)
        fields = {}
        while True:
            line = self.resp.readline()
            if not line:
                raise EOFError("stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if "data" in fields:
                    return fields
                fields = {}
                continue
            if line.startswith(":"):
                continue
            k, _, v = line.partition(": ")
            fields[k] = v

    def close(self):
        self.conn.close()


def test_stream_delivers_and_resumes_with_last_event_id(agent, target):
    st = Stream(agent.port, "?type=exit")
    try:
        assert st.resp.status == 200
        assert st.resp.getheader("Content-Type").startswith("text/event-stream")
        target.run("sh", "-c", "sleep 0.05; exit 7", check=False)
        while True:
            try:
                ev = st.next_event()
            except TimeoutError:
                pytest.fail("no exit 7 on the stream; the ring has %s" % agent.json(
                    "/api/v1/events?type=exit")["events"][-3:])
            data = json.loads(ev["data"])
            assert ev["event"] == "exit" and int(ev["id"]) == data["seq"]
            if data["comm"] == "sh" and data["exit_code"] == 7:
                break
        last = int(ev["id"])
    finally:
        st.close()
    # Missed while disconnected: two more exits; a resume starts right after `last`.
    target.run("sh", "-c", "sleep 0.05; exit 8", check=False)
    target.run("sh", "-c", "sleep 0.05; exit 9", check=False)
    st = Stream(agent.port, "?type=exit", {"Last-Event-ID": str(last)})
    try:
        codes = []
        while 9 not in codes:
            data = json.loads(st.next_event()["data"])
            assert data["seq"] > last
            if data["comm"] == "sh":
                codes.append(data["exit_code"])
        assert codes == [8, 9]
    finally:
        st.close()


def test_stream_since_replays_the_ring(agent, target):
    target.run("sh", "-c", "/bin/sleep 0.05; exit 6", check=False)
    wait_exit_event(agent, 0, lambda e: e["exit_code"] == 6, "the exit 6")
    oldest = agent.json("/api/v1/events?limit=0")["oldest"]
    st = Stream(agent.port, "?since=0&type=exit")
    try:
        first = json.loads(st.next_event()["data"])
        assert first["seq"] >= oldest
        while True:
            data = json.loads(st.next_event()["data"])
            if data["exit_code"] == 6:
                break
    finally:
        st.close()


def test_stream_clients_are_capped_and_bad_ids_refused(tmp_path, target):
    a = Agent(tmp_path, "pid:%d" % target.init_host_pid, ["--max_streams", "1"])
    try:
        st = Stream(a.port)
        assert st.resp.status == 200
        r = a.get("/api/v1/events/stream")
        assert r.status == 503 and "max_streams" in r.json()["error"]["message"]
        st.close()
        # The slot comes back when the client goes: noticed at the next event (the sh's
        # child is one for sure), else at the next keep-alive beat.
        target.run("sh", "-c", "/bin/sleep 0.1")
        def slot():
            s = Stream(a.port)
            ok = s.resp.status == 200
            s.close()
            return ok
        wait_for(slot, 20, "the stream slot to be free again")
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
        conn.request("GET", "/api/v1/events/stream", headers={"Last-Event-ID": "12x"})
        r = conn.getresponse()
        assert r.status == 400 and b"Last-Event-ID" in r.read()
        conn.close()
    finally:
        assert a.stop() == 0


def test_sidecar_events_have_exit_codes(tmp_path):
    ns = Namespace(tmp_path / "ns", spec={"plain": 1})
    ns.start()
    try:
        s0 = ns.status()["counters"]["event_seq"]
        assert ns.status()["mode"] == "sidecar"
        s = ns.spawn("sh", "-c", "sleep 0.3; exit 5")
        def ev():
            r = ns.json("/api/v1/events?since=%d" % (s0 + 1))
            ex = [e for e in r["events"] if e["type"] == "exit" and e["pid"] == s.pid]
            return (r["events"], ex[0]) if ex else None
        evs, ex = wait_for(ev, 10, "the sh's exit event")
        assert ex["exit_code"] == 5 and ex["outcome"] == "exited_nonzero"
        assert ex["host_pid"] is None and ex["cpu_source"] in ("final_stat", "last_sample")
        assert any(e["type"] == "fork" and e["pid"] == s.pid for e in evs)
        s.wait()
    finally:
        ns.close()


@pytest.fixture(scope="module")
def burn(tmp_path_factory):
    d = tmp_path_factory.mktemp("burn")
    subprocess.run(["cc", "-O2", "-o", str(d / "burn"), BURN_SRC], check=True)
    # Its children exec it under this name: their comm is the burners' group.
    os.link(str(d / "burn"), str(d / "burn5ms"))
    return str(d / "burn"), str(d / "burn5ms")


def group_cpu(a, group):
    m = metric_samples(a.get("/metrics").text)
    return sum(v for (name, labels), v in m.items()
               if name == "pidcar_group_cpu_seconds_total" and ("group", group) in labels)


def test_short_lived_cpu_is_exact_from_taskstats(tmp_path, target, burn):
    """2 000 processes of ~5 ms CPU each: their group grows by what their parent's
    getrusage(RUSAGE_CHILDREN) says, within 3%; with the parent's group, by that plus
    the parent's own CPU."""
    if not initial_namespaces():
        pytest.skip("taskstats needs the initial namespaces")
    a = Agent(tmp_path, "pid:%d" % target.init_host_pid, ["--refresh_age", "0"])
    try:
        assert a.json("/api/v1/status")["accounting"]["cpu_of_unseen"].startswith("exact")
        kids0, par0 = group_cpu(a, "burn5ms"), group_cpu(a, "burnparent")
        p = subprocess.Popen(target.nsenter(burn[0], "-x", burn[1], "-n", "2000", "-m", "5",
                                            "-j", "2", "-l", "4"),
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        out = dict(kv.split("=", 1) for kv in p.stdout.readline().split())
        kids_truth = float(out["children_cpu_s"])
        self_truth = float(out["self_cpu_s"])
        # Samples of the lingering parent half a second apart: its cutime growth that
        # exit records did not explain (the exit path after the record) is shared out.
        for _ in range(4):
            time.sleep(0.6)
            group_cpu(a, "burnparent")
        kids = group_cpu(a, "burn5ms") - kids0
        both = kids + group_cpu(a, "burnparent") - par0
        p.wait(timeout=30)
        st = a.json("/api/v1/status")
        print("children %.3f s: burn5ms %.3f s (%+.2f%%); with the parent %.3f s: both "
              "groups %.3f s (%+.2f%%); %s" % (
                  kids_truth, kids, 100 * (kids - kids_truth) / kids_truth,
                  kids_truth + self_truth, both,
                  100 * (both - kids_truth - self_truth) / (kids_truth + self_truth),
                  st["accounting"]))
        assert st["counters"]["taskstats_missing"] == 0
        assert abs(kids - kids_truth) <= 0.03 * kids_truth
        assert abs(both - kids_truth - self_truth) <= 0.03 * (kids_truth + self_truth)
    finally:
        assert a.stop() == 0
