#!/usr/bin/python3
"""Sidecar mode, measured: pidcar as a sidecar of a target PID namespace.

    tests/bench/sidecar_latency.py TARGET_HOST_PID [--caps perfmon|nocaps]
        [--samples 200] [--storm SECONDS] [--idle SECONDS] [--pidcar PATH]

The target is any namespace's init, e.g. ../shared/bench/target.sh start 10000.  pidcar
runs inside it (nsenter -p -m) as root with only CAP_PERFMON (`--caps perfmon`, as
`docker run --cap-add PERFMON`) or with no capability at all (`--caps nocaps`), and
refresh_age 1h, so that a request never waits for a stats refresh: what is measured is
how soon pidcar's table holds a new process.  Prints:

  idle     pidcar's CPU (utime+stime from /proc) over --idle seconds, % of one core
  latency  a launcher in the target writes CLOCK_MONOTONIC just before
           execve("/bin/sleep", argv "lat-N 60"); this script polls
           /api/v1/events on one keep-alive connection until an event names the PID
           ("first_event": the table has it), then /api/v1/processes/PID until its
           cmdline is the new one ("exec_visible"); --samples of them, p50/p99/max
  storm    storm -m fork -k 2 at full rate for --storm seconds (the shared bench's
           storm.c): processes it made (1 + workers + children) against the change
           of pidcar_forks_total and exits, and events_lost
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED_BENCH = os.path.join(ROOT, "..", "shared", "bench")
CAPS = {"perfmon": "-all,+perfmon", "nocaps": "-all"}

LAUNCHER = r"""
import os, signal, sys, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # the kernel reaps the sleeps
for line in sys.stdin:
    i = line.strip()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, ("%.9f" % time.monotonic()).encode())
        os.close(w)
        os.execv("/bin/sleep", [i, "60"])
    os.close(w)
    t = os.read(r, 64).decode()
    os.close(r)
    print(pid, t, flush=True)
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_of(pid, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                c = f.read().split()
            if c:
                return int(c[0])
        except OSError:
            pass
        time.sleep(0.02)
    sys.exit("no child of %d" % pid)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path):
        for _ in range(2):
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        raise SystemExit("pidcar does not answer")

    def json(self, path):
        st, body = self.get(path)
        if st != 200:
            raise SystemExit("GET %s: %d %s" % (path, st, body[:200]))
        return json.loads(body)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def latency(t, c, samples):
    la = subprocess.Popen(["nsenter", "-t", str(t), "-p", "-m", "--", "/usr/bin/python3",
                           "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, bufsize=1)
    evented, visible, polls = [], [], 0
    since = c.json("/api/v1/events?limit=1")["next"]
    try:
        for i in range(samples):
            tag = "lat-%d-%d" % (os.getpid(), i)
            la.stdin.write(tag + "\n")
            pid, t_exec = la.stdout.readline().split()
            pid, t_exec = int(pid), float(t_exec)
            seen = None
            while True:
                polls += 1
                now = time.monotonic()
                if seen is None:
                    # The events ring: cheap to poll, whatever the table's size.
                    body = c.json("/api/v1/events?since=%d&limit=1000" % since)
                    since = body["next"]
                    if any(e["pid"] == pid for e in body["events"]):
                        seen = time.monotonic()
                else:
                    st, body = c.get("/api/v1/processes/%d" % pid)
                    if st == 200 and json.loads(body).get("cmdline") == [tag, "60"]:
                        now = time.monotonic()
                        break
                if now - t_exec > 5:
                    now = float("inf")
                    break
                time.sleep(0.0002)
            evented.append(((seen or float("inf")) - t_exec) * 1000)
            visible.append((now - t_exec) * 1000)
            subprocess.run(["nsenter", "-t", str(t), "-p", "-m", "--", "kill", str(pid)])
            time.sleep(0.01)
    finally:
        la.stdin.close()
        la.wait(10)

    def summary(ms):
        return {"p50_ms": round(pct(ms, 0.5), 2), "p99_ms": round(pct(ms, 0.99), 2),
                "max_ms": round(max(ms), 2), "over_5s": sum(1 for x in ms if x > 5000)}
    return {"samples": len(evented), "polls": polls, "first_event": summary(evented),
            "exec_visible": summary(visible)}


def storm(t, c, seconds, storm_bin):
    s0 = c.json("/api/v1/status")["counters"]
    r = subprocess.run(["nsenter", "-t", str(t), "-p", "-m", "--", storm_bin, "-m", "fork",
                        "-k", "2", "-d", str(seconds)], capture_output=True, text=True)
    kv = dict(x.split("=", 1) for x in r.stdout.split() if "=" in x)
    made = 1 + int(kv["workers"]) + int(kv["created"])
    end = time.monotonic() + 30
    while True:
        s1 = c.json("/api/v1/status")["counters"]
        exits = sum(s1["exits"].values()) - sum(s0["exits"].values())
        if (s1["forks"] - s0["forks"] >= made and exits >= made) or time.monotonic() > end:
            break
        time.sleep(0.2)
    return {"made": made, "rate_per_s": float(kv["rate_per_s"]),
            "forks_counted": s1["forks"] - s0["forks"], "exits_counted": exits,
            "unknown_exits": s1["exits"]["unknown"] - s0["exits"]["unknown"],
            "events_lost": s1["events_lost"] - s0["events_lost"],
            "resyncs": s1["resyncs"] - s0["resyncs"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target", type=int)
    ap.add_argument("--caps", choices=CAPS, default="perfmon")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--storm", type=float, default=5)
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--pidcar", default=os.path.join(ROOT, "build", "pidcar"))
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    storm_bin = os.path.join(work, "storm")
    subprocess.run(["cc", "-O2", "-o", storm_bin, os.path.join(SHARED_BENCH, "storm.c")],
                   check=True)
    port = free_port()
    p = subprocess.Popen(["nsenter", "-t", str(a.target), "-p", "-m", "--", "setpriv",
                          "--inh-caps=-all", "--ambient-caps=-all",
                          "--bounding-set=" + CAPS[a.caps], "--", a.pidcar,
                          "--listen", "127.0.0.1:%d" % port, "--refresh_age", "1h",
                          "--log_level", "warning"],
                         stderr=open(os.path.join(work, "pidcar.log"), "w"))
    pc = child_of(p.pid)
    c = Client(port)
    try:
        while True:
            try:
                if c.get("/readyz")[0] == 200:
                    break
            except SystemExit:
                pass
            time.sleep(0.1)
        st = c.json("/api/v1/status")
        out = {"target_processes": st["processes"], "source": st["source"],
               "caps": st["capabilities"], "kernel": os.uname().release,
               "load": open("/proc/loadavg").read().split()[:3]}
        c.json("/api/v1/processes?limit=1")       # the one refresh, before measuring
        time.sleep(1)
        c0 = cpu_seconds(pc)
        time.sleep(a.idle)
        out["idle_cpu_percent"] = round((cpu_seconds(pc) - c0) / a.idle * 100, 3)
        out["latency"] = latency(a.target, c, a.samples)
        if a.storm > 0:
            c0 = cpu_seconds(pc)
            out["storm"] = storm(a.target, c, a.storm, storm_bin)
            out["storm"]["pidcar_cpu_seconds"] = round(cpu_seconds(pc) - c0, 2)
        print(json.dumps(out, indent=1))
    finally:
        os.kill(pc, signal.SIGTERM)
        p.wait(10)
        with open(os.path.join(work, "pidcar.log")) as f:
            log = f.read()
        if log.strip():
            print("pidcar log:\n" + log, file=sys.stderr)


if __name__ == "__main__":
    main()
