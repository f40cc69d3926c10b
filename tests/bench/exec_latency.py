#!/usr/bin/python3
"""Exec -> visible latency: how long after a process execs pidcar shows it, in
/api/v1/processes/{pid} (its new command line) and in the event stream (its exec event).

  exec_latency.py URL NSENTER_PREFIX... [--samples N]

NSENTER_PREFIX runs a command inside the target (e.g. nsenter -t PID -p -m --, or
nothing for pidcar's own namespace).  tests/tools/execat prints the moment just
before execve; the client polls every millisecond and listens to the stream at the
same time.  Prints p50/p90/p99/max in milliseconds for both paths."""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def build_execat():
    out = "/tmp/pidcar-execat"
    src = os.path.join(HERE, "..", "tools", "execat.c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["cc", "-O2", "-o", out, src], check=True)
    return out


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    args = sys.argv[1:]
    samples = 200
    if "--samples" in args:
        i = args.index("--samples")
        samples = int(args[i + 1])
        del args[i:i + 2]
    url, prefix = args[0], args[1:]
    u = urllib.parse.urlparse(url)
    host, port = u.hostname, u.port
    execat = build_execat()
    stream_seen = {}
    stop = threading.Event()

    def listen():
        c = http.client.HTTPConnection(host, port, timeout=30)
        c.request("GET", "/api/v1/events/stream?type=exec")
        r = c.getresponse()
        while not stop.is_set():
            line = r.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                e = json.loads(line[6:])
                # execat's own exec is a "execat" one; the timed one becomes sh.
                if e.get("comm") == "sh":
                    stream_seen.setdefault(e["pid"], time.time())
    t = threading.Thread(target=listen, daemon=True)
    t.start()
    time.sleep(0.5)
    api, stream = [], []
    conn = http.client.HTTPConnection(host, port, timeout=10)
    for i in range(samples):
        tag = "pidcar-lat-%d-%d" % (os.getpid(), i)
        p = subprocess.Popen(prefix + [execat, "sh", "-c", "sleep 3", tag],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        f = p.stdout.readline().split()
        # execat's PID as the target sees it is what pidcar shows.
        pid, t0 = int(f[0]), float(f[1])
        while True:
            conn.request("GET", "/api/v1/processes/%d" % pid)
            r = conn.getresponse()
            body = r.read()
            if r.status == 200 and tag.encode() in body:
                api.append((time.time() - t0) * 1000)
                break
            if time.time() - t0 > 5:
                api.append(5000)
                break
            time.sleep(0.001)
        deadline = time.time() + 2
        while pid not in stream_seen and time.time() < deadline:
            time.sleep(0.001)
        stream.append(((stream_seen.get(pid, time.time())) - t0) * 1000)
        p.kill()
        p.wait()
    stop.set()
    for name, v in (("api", api), ("stream", stream)):
        print("%-6s exec->visible ms: n=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f" % (
            name, len(v), pct(v, 50), pct(v, 90), pct(v, 99), max(v)))


if __name__ == "__main__":
    main()
