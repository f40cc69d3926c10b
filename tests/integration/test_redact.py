"""Redaction of command lines in every output, and hostile command lines rendered safely.

The processes are pausing pythons whose argv is exactly what a test gives (nsinit's
"argv" kind); nsinit waits until each has exec'd, so pidcar reads them once, at start.
"""

import json
import os
import re
import signal
import subprocess
from urllib.parse import quote

import pytest

from nsharness import PIDCAR_BIN, eventually, free_port, metric_samples

PAUSE = "import signal; signal.pause()"
PROMTOOL = "/usr/bin/promtool"
OUTPUTS = ("/api/v1/processes", "/api/v1/tree", "/ps", "/tree", "/metrics",
           "/api/v1/processes?match=.", "/ps?sort=name")

# argv as given -> the cmdline pidcar must show.  Every secret holds "hunter2".
SECRETS = [
    (["app", "--password=hunter2a"], ["app", "-c", PAUSE, "--password=***"]),
    (["app", "--password", "hunter2b", "--verbose"],
     ["app", "-c", PAUSE, "--password", "***", "--verbose"]),
    (["app", "--password=my hunter2c phrase"], ["app", "-c", PAUSE, "--password=***"]),
    (["app", "--token", "hunter2d"], ["app", "-c", PAUSE, "--token", "***"]),
    (["app", "--token=hunter2e"], ["app", "-c", PAUSE, "--token=***"]),
    (["app", "--secret-key", "hunter2f", "--client-secret=hunter2g"],
     ["app", "-c", PAUSE, "--secret-key", "***", "--client-secret=***"]),
    (["mysql", "-uroot", "-phunter2h", "appdb"], ["mysql", "-c", PAUSE, "-uroot", "-p***", "appdb"]),
    (["/usr/bin/mysqldump", "-phunter2i", "appdb"],
     ["/usr/bin/mysqldump", "-c", PAUSE, "-p***", "appdb"]),
    (["mariadb", "-P3306", "-phunter2j"], ["mariadb", "-c", PAUSE, "-P3306", "-p***"]),
    (["env", "PASSWORD=hunter2k", "GITHUB_TOKEN=hunter2l", "APP_SECRET=hunter2m", "run"],
     ["env", "-c", PAUSE, "PASSWORD=***", "GITHUB_TOKEN=***", "APP_SECRET=***", "run"]),
    (["curl", "https://alice:hunter2n@db.example:5432/x"],
     ["curl", "-c", PAUSE, "https://alice:***@db.example:5432/x"]),
    (["sh", "mysql -uroot -phunter2o db"], ["sh", "-c", PAUSE, "mysql -uroot -p***"]),
]

# Hostile command lines: each argument as bytes.
HOSTILE = [
    [b"quote", b'he said "hi"', b"'single'", b"back\\slash\\", b"x) Z 1 2 (", b"(paren"],
    [b"newline", b"line1\nline2", b"cr\rtab\t", b"ctl\x01\x1b[31m\x7f", b""],
    [b"bytes", b"\xff\xfe", b"\xc3\x28", b"caf\xc3\xa9 \xe2\x98\x83", b"\xed\xa0\x80",
     b"\xc0\xaf"],
    [b"big", b"A" * 100000, b"after-big"],
]


def utf8_replaced(b):
    """The text pidcar's JSON gives for bytes: each invalid byte is U+FFFD."""
    out, i = [], 0
    while i < len(b):
        for k in (4, 3, 2, 1):
            try:
                ch = b[i:i + k].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(ch)
                i += k
                break
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def keyword_exists(name):
    r = subprocess.run([PIDCAR_BIN, "-h"], capture_output=True, text=True, timeout=10)
    return re.search(r"--%s\b" % re.escape(name), r.stdout) is not None


def base_conf(port, extra=""):
    conf = "listen 127.0.0.1:%d\nlog_level debug\n" % port
    if keyword_exists("per_process_metrics"):
        conf += "per_process_metrics yes\n"
    return conf + extra


def spec_of(argvs):
    return {"argv": [[os.fsdecode(a) if isinstance(a, bytes) else a for a in argv]
                     for argv in argvs]}


def everything(ns):
    """Every output, as text: the list, each detail, the tree, text views and metrics."""
    bodies = {}
    for path in OUTPUTS:
        r = ns.get(path)
        assert r.status == 200, "%s: %r" % (path, r)
        bodies[path] = r.body
    for pid in ns.by_pid():
        r = ns.get("/api/v1/processes/%d" % pid)
        if r.status == 200:    # a ps of a test may have come and gone
            bodies["/api/v1/processes/%d" % pid] = r.body
    return bodies


@pytest.fixture(scope="module")
def secret_ns(tmp_path_factory):
    from nsharness import Namespace
    port = free_port()
    ns = Namespace(tmp_path_factory.mktemp("redact"), spec=spec_of(a for a, _ in SECRETS),
                   port=port, conf=base_conf(port))
    yield from ns.serving()


def test_setup_holds_the_secrets(secret_ns):
    # The kernel has them, so a clean output below means pidcar hid them.
    for (argv, _), pid in zip(SECRETS, secret_ns.info["argv"]):
        raw = secret_ns.proc_file(pid, "cmdline")
        assert b"hunter2" in raw, (argv, raw)
        assert b"hunter2-environ" in secret_ns.proc_file(pid, "environ")


def test_each_default_pattern_redacted(secret_ns):
    got = secret_ns.by_pid()
    for (argv, want), pid in zip(SECRETS, secret_ns.info["argv"]):
        assert got[pid]["cmdline"] == want, "argv %r shown as %r" % (argv, got[pid]["cmdline"])
        detail = secret_ns.json("/api/v1/processes/%d" % pid)
        assert detail["cmdline"] == want, detail


def test_no_output_shows_a_secret(secret_ns):
    bodies = everything(secret_ns)
    assert len(bodies) > len(OUTPUTS) + len(SECRETS)
    for path, body in bodies.items():
        assert b"hunter2" not in body, "%s shows a secret:\n%s" % (
            path, body.decode("utf-8", "replace")[:3000])
    # What stays is shown: the user of a URL, the options around the secrets.
    ps = bodies["/ps"].decode()
    assert "https://alice:***@db.example:5432/x" in ps, ps
    assert "--password *** --verbose" in ps and "-uroot -p*** appdb" in ps, ps
    assert "alice:***@db.example" in bodies["/tree"].decode()


def test_match_cannot_probe_secrets(secret_ns):
    for rx in ("hunter2", "hunter", "hunter2[a-z]", "pass.*hunt", "-phunter"):
        body = secret_ns.processes("match=" + quote(rx, safe=""))
        assert body["count"] == 0, "match=%s found %r" % (rx, body["processes"])
        r = secret_ns.get("/ps?match=" + quote(rx, safe=""))
        assert r.status == 200 and len(r.text.splitlines()) == 1, r.text
    # match= sees the redacted text: every secret process has a mask, alice stays.
    masked = {p["pid"] for p in secret_ns.processes("match=" + quote(r"\*\*\*"))["processes"]}
    assert set(secret_ns.info["argv"]) <= masked, masked
    alice = secret_ns.processes("match=alice")["processes"]
    assert [p["pid"] for p in alice] == [secret_ns.info["argv"][10]], alice


def test_environment_never_shown(secret_ns):
    for path, body in everything(secret_ns).items():
        assert b"environ" not in body and b"SECRET_TOKEN" not in body, path


def test_log_holds_no_secret(secret_ns):
    secret_ns.processes()
    assert "hunter2" not in secret_ns.stderr()


def test_status_counts_rules(secret_ns):
    conf = secret_ns.status()["config"]
    assert conf["redact_defaults"] is True and conf["redact_rules"] == 0, conf


def test_defaults_off_and_own_rules(make_ns):
    port = free_port()
    argvs = [["app", "--password=hunter2a"], ["app", "--token", "hunter2d"],
             ["app", "--db-pass", "hunter2x", "-v"], ["app", "api=hunter2y;keep"]]
    extra = ('redact_defaults no\n'
             'redact "--db-pass[[:space:]](.*)"\n'
             'redact "api=([^;]*)"\n')
    ns = make_ns(spec=spec_of(argvs), port=port, conf=base_conf(port, extra))
    got = ns.by_pid()
    shown = [got[pid]["cmdline"][3:] for pid in ns.info["argv"]]
    assert shown == [["--password=hunter2a"], ["--token", "hunter2d"],
                     ["--db-pass", "***", "-v"], ["api=***;keep"]], shown
    st = ns.status()["config"]
    assert st["redact_defaults"] is False and st["redact_rules"] == 2, st
    assert ns.processes("match=hunter2x")["count"] == 0
    assert ns.processes("match=hunter2a")["count"] == 1


def test_reload_applies_new_rules_to_running_processes(make_ns):
    port = free_port()
    argvs = [["app", "--password=hunter2a"], ["app", "keep=hunter2q"]]
    ns = make_ns(spec=spec_of(argvs), port=port, conf=base_conf(port, "redact_defaults no\n"))
    pid_pw, pid_keep = ns.info["argv"]
    assert ns.json("/api/v1/processes/%d" % pid_keep)["cmdline"][3] == "keep=hunter2q"
    ns.conf_path.write_text(base_conf(port, 'redact "keep=(.*)"\n'))
    ns.signal_pidcar(signal.SIGHUP)

    def hidden():
        assert ns.json("/api/v1/processes/%d" % pid_keep)["cmdline"][3] == "keep=***"
        assert ns.json("/api/v1/processes/%d" % pid_pw)["cmdline"][3] == "--password=***"
        assert ns.processes("match=hunter2")["count"] == 0
    eventually(hidden, timeout=5)
    assert ns.status()["config"]["redact_rules"] == 1
    # A bad rule in a reload keeps the running rules.
    ns.allow_warnings(re.escape("%s:" % ns.conf_path))
    ns.conf_path.write_text(base_conf(port, 'redact_defaults no\nredact "keep=(.*"\n'))
    ns.signal_pidcar(signal.SIGHUP)
    def warned():
        assert re.search(r"warning: .*%s:\d+: redact" % re.escape(str(ns.conf_path)),
                         ns.stderr()), ns.stderr()[-2000:]
    eventually(warned, timeout=5)
    assert ns.json("/api/v1/processes/%d" % pid_pw)["cmdline"][3] == "--password=***"
    assert "hunter2" not in json.dumps(ns.processes())


def test_redact_from_option_and_environment(make_ns):
    port = free_port()
    ns = make_ns(spec=spec_of([["app", "a=hunter2a", "b=hunter2b"]]), port=port,
                 conf=base_conf(port), args=["--redact", "a=(.*)"],
                 env={"PIDCAR_REDACT": "b=(.*)"})
    assert ns.by_pid()[ns.info["argv"][0]]["cmdline"][3:] == ["a=***", "b=***"]
    assert ns.status()["config"]["redact_rules"] == 2


@pytest.fixture(scope="module")
def hostile_ns(tmp_path_factory):
    from nsharness import Namespace
    port = free_port()
    ns = Namespace(tmp_path_factory.mktemp("hostile"), spec=spec_of(HOSTILE), port=port,
                   conf=base_conf(port))
    yield from ns.serving()


def test_hostile_cmdline_json_exact(hostile_ns):
    got = hostile_ns.by_pid()
    tree = hostile_ns.json("/api/v1/tree")
    for argv, pid in zip(HOSTILE, hostile_ns.info["argv"]):
        want = [utf8_replaced(a) for a in [argv[0], b"-c", PAUSE.encode()] + argv[1:]]
        assert got[pid]["cmdline"] == want, "pid %d: %r" % (pid, got[pid]["cmdline"])
        assert hostile_ns.json("/api/v1/processes/%d" % pid)["cmdline"] == want
    assert json.dumps(tree)    # parsed, and every node came through


def test_hostile_cmdline_one_line_per_process(hostile_ns):
    def check():
        n = len(hostile_ns.by_pid())
        for path in ("/ps", "/tree"):
            r = hostile_ns.get(path)
            lines = r.text.split("\n")
            assert lines[-1] == "", path
            want = n + 1 if path == "/ps" else n
            assert len(lines) - 1 == want, "%s: %d lines for %d processes:\n%s" % (
                path, len(lines) - 1, n, r.text[:2000])
            assert "\r" not in r.text and "\x1b" not in r.text and "\x01" not in r.text, path
            assert max(len(ln.encode()) for ln in lines) < 9000, "%s: a line is unbounded" % path
        return r
    eventually(check, timeout=5)
    ps = hostile_ns.get("/ps").text
    assert 'he said "hi"' in ps and "back\\slash\\" in ps and "x) Z 1 2 (" in ps, ps
    row = [ln for ln in ps.splitlines() if "AAAA" in ln]
    assert row and row[0].endswith("..."), "the 100 KB argument is cut in /ps: %r" % row[:1]


def test_hostile_cmdline_match(hostile_ns):
    ids = hostile_ns.info["argv"]
    assert [p["pid"] for p in hostile_ns.processes("match=" + quote("line1.line2"))["processes"]] == [ids[1]]
    assert [p["pid"] for p in hostile_ns.processes("match=after-big$")["processes"]] == [ids[3]]
    assert [p["pid"] for p in hostile_ns.processes("match=" + quote('"hi"'))["processes"]] == \
        [ids[0]]


def test_hostile_cmdline_metrics(hostile_ns):
    text = hostile_ns.metrics_text()
    if not os.access(PROMTOOL, os.X_OK):
        pytest.fail("%s is missing (Debian package prometheus)" % PROMTOOL, pytrace=False)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    samples = metric_samples(text)
    assert samples[("pidcar_processes", ())] == len(hostile_ns.by_pid())
