"""PID 1 of a test PID namespace: builds a known process tree, starts pidcar, reaps orphans.

Run by conftest.py as `unshare --pid --fork --mount-proc --kill-child
/usr/bin/python3 nsinit.py SPEC INFO`.  SPEC is a JSON file:

    {"plain": 5,                  # sleepers, argv[0] "ptest-plain-I"
     "chains": [3, 2],            # parent -> child -> ... chains of sleepers
     "threaded": 2,               # forked children with 3 extra threads, comm "ptest-thr"
     "names": ["we ird)name"],    # forked children that renamed themselves
     "zombies": 1,                # "ptest-zparent" that never waits for its dead child
     "users": [65534],            # sleepers running as these uids
     "argv": [["mysql", "-phunter2"]],  # pausing pythons with exactly this argv
                                  # (str; os.fsdecode'd bytes for non-UTF-8)
     "pidcar": {"argv": [...], "env": {...}, "stdout": PATH, "stderr": PATH} or null}

When everything exists (every sleeper has exec'd, every zombie is a zombie) it writes
INFO atomically (JSON, namespace PIDs) and starts pidcar; when pidcar ends it writes
INFO + ".pidcar-exit" with its wait status.  SIGTERM kills the whole namespace.
"""

import ctypes
import json
import os
import signal
import sys
import threading
import time

SLEEP = "/bin/sleep"
PYTHON = "/usr/bin/python3"
PAUSE = b"import signal; signal.pause()"
PR_SET_NAME = 15

libc = ctypes.CDLL(None, use_errno=True)


def set_comm(name):
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")


def child_reset():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP,
                signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)


def pause_forever():
    while True:
        signal.pause()


class Builder:
    """Forks the processes of a spec; every child reports on one pipe, then closes it."""

    def __init__(self):
        self.rfd, self.wfd = os.pipe()
        os.set_inheritable(self.wfd, False)   # closed by exec in the sleepers

    def report(self, *words):
        os.write(self.wfd, (" ".join(str(w) for w in words) + "\n").encode())

    def fork(self, body):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                child_reset()
                body()
            except BaseException as e:  # noqa: BLE001 - report anything, then die
                try:
                    self.report("error", os.getpid(), repr(e).replace("\n", " "))
                except OSError:
                    pass
                code = 127
            os._exit(code)
        return pid

    def exec_sleep(self, argv0, uid=None):
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.execv(SLEEP, [argv0, "86400"])

    def plain(self, i):
        def body():
            self.report("plain", i, os.getpid())
            self.exec_sleep("ptest-plain-%d" % i)
        self.fork(body)

    def user(self, uid):
        def body():
            self.report("user", uid, os.getpid())
            self.exec_sleep("ptest-user-%d" % uid, uid)
        self.fork(body)

    def chain(self, i, depth):
        def level(k):
            self.report("chain", i, k, os.getpid())
            if k + 1 < depth:
                self.fork(lambda: level(k + 1))
            self.exec_sleep("ptest-chain-%d-%d" % (i, k))
        self.fork(lambda: level(0))

    def threaded(self, i):
        def body():
            set_comm("ptest-thr")
            ev = threading.Event()
            ts = [threading.Thread(target=ev.wait, daemon=True) for _ in range(3)]
            for t in ts:
                t.start()
            self.report("threaded", i, os.getpid())
            os.close(self.wfd)
            pause_forever()
        self.fork(body)

    def argv(self, i, argv):
        # python3 with argv[0] and "-c PAUSE" first: the rest is never parsed.
        # A secret in the environment too, which pidcar must never show.
        def body():
            self.report("argv", i, os.getpid())
            os.execve(PYTHON, [os.fsencode(argv[0]), b"-c", PAUSE] +
                      [os.fsencode(a) for a in argv[1:]],
                      dict(os.environ, SECRET_TOKEN="hunter2-environ"))
        self.fork(body)

    def named(self, name):
        def body():
            set_comm(name)
            self.report("named", json.dumps(name), os.getpid())
            os.close(self.wfd)
            pause_forever()
        self.fork(body)

    def zombie(self, i):
        def body():
            set_comm("ptest-zparent")
            zpid = os.fork()
            if zpid == 0:
                set_comm("ptest-zombie")
                os._exit(0)
            deadline = time.monotonic() + 10
            while zombie_state(zpid) != "Z":
                if time.monotonic() > deadline:
                    raise RuntimeError("child %d never became a zombie" % zpid)
                time.sleep(0.005)
            self.report("zombie", i, os.getpid(), zpid)
            os.close(self.wfd)
            pause_forever()   # never waits: zpid stays a zombie
        self.fork(body)

    def collect(self):
        os.close(self.wfd)
        lines = []
        with os.fdopen(self.rfd, "rb") as f:
            for line in f:
                lines.append(line.decode().split(" ", 3))
        return lines


def zombie_state(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2:][:1].decode()


def wait_comm(pid, comm, deadline):
    while True:
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().rstrip("\n") == comm:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("pid %d never became %r" % (pid, comm))
        time.sleep(0.002)


def wait_cmdline(pid, want, deadline):
    """Waits until pid has exec'd into exactly this command line."""
    while True:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read() == want:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("pid %d never exec'd its argv" % pid)
        time.sleep(0.002)


def build(spec):
    b = Builder()
    for i in range(spec.get("plain", 0)):
        b.plain(i)
    for uid in spec.get("users", []):
        b.user(uid)
    for i, depth in enumerate(spec.get("chains", [])):
        b.chain(i, depth)
    for i in range(spec.get("threaded", 0)):
        b.threaded(i)
    for i, argv in enumerate(spec.get("argv", [])):
        b.argv(i, argv)
    for name in spec.get("names", []):
        b.named(name)
    for i in range(spec.get("zombies", 0)):
        b.zombie(i)
    info = {"init": os.getpid(), "plain": [], "users": {}, "chains": [],
            "threaded": [], "named": {}, "zombie_parents": [], "zombies": [],
            "argv": [0] * len(spec.get("argv", []))}
    sleepers = []
    for words in b.collect():
        kind = words[0]
        if kind == "error":
            raise RuntimeError("child %s: %s" % (words[1], " ".join(words[2:]).strip()))
        if kind == "plain":
            i = int(words[1])
            while len(info["plain"]) <= i:
                info["plain"].append(0)
            info["plain"][i] = int(words[2])
            sleepers.append(int(words[2]))
        elif kind == "user":
            info["users"][words[1]] = int(words[2])
            sleepers.append(int(words[2]))
        elif kind == "chain":
            i, k, pid = int(words[1]), int(words[2]), int(words[3])
            while len(info["chains"]) <= i:
                info["chains"].append([])
            c = info["chains"][i]
            while len(c) <= k:
                c.append(0)
            c[k] = pid
            sleepers.append(pid)
        elif kind == "threaded":
            info["threaded"].append(int(words[2]))
            info["threaded"].sort()
        elif kind == "argv":
            info["argv"][int(words[1])] = int(words[2])
        elif kind == "named":
            # json.dumps of the name has no spaces only if the name has none: rejoin.
            rest = " ".join(words[1:]).rstrip("\n")
            name_json, pid = rest.rsplit(" ", 1)
            info["named"][json.loads(name_json)] = int(pid)
        elif kind == "zombie":
            info["zombie_parents"].append(int(words[2]))
            info["zombies"].append(int(words[3]))
    deadline = time.monotonic() + 10
    for pid in sleepers:
        wait_comm(pid, "sleep", deadline)
    for i, argv in enumerate(spec.get("argv", [])):
        want = b"".join(os.fsencode(a) + b"\0" for a in
                        [argv[0], "-c", PAUSE.decode()] + argv[1:])
        wait_cmdline(info["argv"][i], want, deadline)
    expect = spec.get("plain", 0) + len(spec.get("users", [])) + sum(spec.get("chains", []))
    if len(sleepers) != expect:
        raise RuntimeError("expected %d sleepers, got %d" % (expect, len(sleepers)))
    return info


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def start_pidcar(conf):
    out = os.open(conf["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    err = os.open(conf["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.fork()
    if pid == 0:
        try:
            child_reset()
            os.dup2(out, 1)
            os.dup2(err, 2)
            devnull = os.open("/dev/null", os.O_RDONLY)
            os.dup2(devnull, 0)
            os.execve(conf["argv"][0], conf["argv"], conf["env"])
        except BaseException as e:  # noqa: BLE001
            os.write(2, ("nsinit: exec %s: %r\n" % (conf["argv"][0], e)).encode())
        os._exit(127)
    os.close(out)
    os.close(err)
    return pid


def on_term(signum, frame):
    # kill(-1) from PID 1 reaches every other process of this namespace.
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    os._exit(0)


def main():
    spec_path, info_path = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGCHLD, lambda s, f: None)   # lets pause() return
    with open(spec_path) as f:
        spec = json.load(f)
    info = build(spec)
    pidcar = None
    if spec.get("pidcar"):
        pidcar = start_pidcar(spec["pidcar"])
    info["pidcar"] = pidcar
    write_json(info_path, info)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            signal.pause()
            continue
        if pid == pidcar:
            write_json(info_path + ".pidcar-exit", {
                "status": status,
                "exitcode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            })


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        sys.stderr.write("nsinit: %r\n" % (e,))
        sys.exit(1)
