"""Configuration: the file, options, environment, -n, --help, reload and stop."""

import os
import re
import signal
import socket

import pytest

from nsharness import (eventually, free_port, port_bindable, port_open, raw_request,
                       run_pidcar, wait_for)

KEYWORDS = ["listen", "target", "log_level", "poll_interval", "scan_interval", "refresh_age",
            "cmdline", "max_connections"]
EX_USAGE, EX_CONFIG = 64, 78

GOOD = """# every keyword, with comments and blank lines
listen 127.0.0.1:%d   # trailing comment

target self
log_level debug
poll_interval 20ms
scan_interval 5s
refresh_age 0.5
cmdline no
max_connections 64
"""


def conf(tmp_path, text, name="pidcar.conf"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_check_only_good(tmp_path):
    port = free_port()
    path = conf(tmp_path, GOOD % port)
    r = run_pidcar(["-n", "-f", str(path)])
    assert r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr)
    assert "warning" not in r.stderr, r.stderr
    assert port_bindable(port), "-n must not start serving"


@pytest.mark.parametrize("text,line,keyword", [
    ("listen nonsense\n", 1, "listen"),
    ("# comment\n\nlisten 127.0.0.1:99999\n", 3, "listen"),
    ("listen 127.0.0.1\n", 1, "listen"),
    ("listen 127.0.0.1:\n", 1, "listen"),
    ("listen\n", 1, "listen"),
    ("target banana\n", 1, "target"),
    ("log_level loud\n", 1, "log_level"),
    ("poll_interval abc\n", 1, "poll_interval"),
    ("poll_interval -5ms\n", 1, "poll_interval"),
    ("scan_interval 10parsecs\n", 1, "scan_interval"),
    ("refresh_age\n", 1, "refresh_age"),
    ("cmdline maybe\n", 1, "cmdline"),
    ("cmdline yes no\n", 1, "cmdline"),
    ("max_connections abc\n", 1, "max_connections"),
    ("max_connections -1\n", 1, "max_connections"),
    ("log_level info\n\n# x\nbogus_keyword 1\n", 4, "bogus_keyword"),
    # listen
    ("listen 127.0.0.1:0\n", 1, "listen"),
    ("listen [::1\n", 1, "listen"),
    ("listen ::1:9723\n", 1, "listen"),
    ("listen 999.1.1.1:80\n", 1, "listen"),
    ("listen 127.0.0.1:http\n", 1, "listen"),
    ("listen :9723\n", 1, "listen"),
    ('listen ""\n', 1, "listen"),
    ('listen "127.0.0.1:9723\n', 1, "listen"),
    ('listen "127.0.0.1:9723"x\n', 1, "listen"),
    # other keywords and their ranges
    ("target pid:0\n", 1, "target"),
    ("log_level INFO\n", 1, "log_level"),
    ("poll_interval 0\n", 1, "poll_interval"),
    ("poll_interval 11s\n", 1, "poll_interval"),
    ("poll_interval 1.5.5s\n", 1, "poll_interval"),
    ("scan_interval 50ms\n", 1, "scan_interval"),
    ("scan_interval 2h\n", 1, "scan_interval"),
    ("refresh_age -1s\n", 1, "refresh_age"),
    ("refresh_age 5 s\n", 1, "refresh_age"),
    ("max_connections 0\n", 1, "max_connections"),
    ("max_connections 10001\n", 1, "max_connections"),
    ("max_connections 1e3\n", 1, "max_connections"),
    ("cmdline YES\n", 1, "cmdline"),
    ("cmdline\n", 1, "cmdline"),
    ("per_process_metrics maybe\n", 1, "per_process_metrics"),
    ("max_groups 0\n", 1, "max_groups"),
    ("connection_timeout 0\n", 1, "connection_timeout"),
    ("max_connections_per_ip abc\n", 1, "max_connections_per_ip"),
    ("auth_token_file /nonexistent/pidcar-token\n", 1, "auth_token_file"),
    ("tls_cert /nonexistent/pidcar-cert.pem\n", 1, "tls_cert"),
    ("group\n", 1, "group"),
    # redaction rules
    ("redact (\n", 1, "redact"),
    ("redact a[\n", 1, "redact"),
    ('redact "(a)\\1"\n', 1, "redact"),
    ("redact ((a{100}){100}){100}\n", 1, "redact"),
    ("redact [[:nope:]]\n", 1, "redact"),
    ("redact\n", 1, "redact"),
    ('redact ""\n', 1, "redact"),
    ("redact a b\n", 1, "redact"),
    ('redact "x\n', 1, "redact"),
    ("redact %s\n" % ("a" * 1025), 1, "redact"),
    ("redact ok=(.*)\nredact (bad\n", 2, "redact"),
    ("redact_defaults maybe\n", 1, "redact_defaults"),
    ("redact_defaults\n", 1, "redact_defaults"),
    ("redact_default no\n", 1, "redact_default"),
    # keywords spelled wrong, lines that are not lines
    ("Listen 127.0.0.1:9723\n", 1, "Listen"),
    ("listen_addr 127.0.0.1:9723\n", 1, "listen_addr"),
    ("poll-interval 50ms\n", 1, "poll-interval"),
    ("\xff\xfe 1\n", 1, "unknown keyword"),
    ("log_level info\n%s\n" % ("x" * 5000), 2, "line longer"),
    ("log_level info\x00\n", 1, "NUL byte"),
    # where in the file: the first bad line, after good ones, whatever the spacing
    ("listen 127.0.0.1:9723\nlog_level info\npoll_interval 50ms\nscan_interval 10s\n"
     "refresh_age 1s\ncmdline yes\nmax_connections 0\n", 7, "max_connections"),
    ("log_level loud\ncmdline maybe\n", 1, "log_level"),
    ("cmdline yes\r\nlisten x\r\n", 2, "listen"),
    ("  \t max_connections   abc   # comment\n", 1, "max_connections"),
])
def test_bad_config_exits_78(tmp_path, text, line, keyword):
    path = conf(tmp_path, text)
    where = "%s:%d" % (path, line)
    # "pidcar: FILE:LINE: keyword: what is wrong", the keyword on the same line.
    said = re.compile(r"^pidcar: %s: [^\n]*%s" % (re.escape(where), re.escape(keyword)), re.M)
    for args in (["-n", "-f", str(path)], ["-f", str(path)]):
        r = run_pidcar(args)
        assert r.returncode == EX_CONFIG, "%s: exit %d: %s" % (args, r.returncode, r.stderr)
        assert said.search(r.stderr), \
            "stderr should say '%s: ...%s': %r" % (where, keyword, r.stderr)


def test_bad_value_from_option_and_env(tmp_path):
    path = conf(tmp_path, "log_level info\n")
    r = run_pidcar(["-n", "-f", str(path), "--cmdline", "maybe"])
    assert r.returncode == EX_CONFIG and "cmdline" in r.stderr, (r.returncode, r.stderr)
    r = run_pidcar(["-n", "-f", str(path)], env={"PIDCAR_POLL_INTERVAL": "soon"})
    assert r.returncode == EX_CONFIG and re.search("poll_interval", r.stderr, re.I), \
        (r.returncode, r.stderr)
    r = run_pidcar(["-n", "-f", str(path), "--listen", "127.0.0.1:99999"])
    assert r.returncode == EX_CONFIG and "listen" in r.stderr, (r.returncode, r.stderr)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.conf"
    r = run_pidcar(["-n", "-f", str(missing)])
    assert r.returncode in (66, EX_CONFIG), (r.returncode, r.stderr)
    assert str(missing) in r.stderr, r.stderr


@pytest.mark.parametrize("args", [["--bogus", "1"], ["-x"], ["--listen"], ["-f"],
                                  ["--no-such-option"]])
def test_unknown_option_exits_64(args):
    r = run_pidcar(args)
    assert r.returncode == EX_USAGE, "%s: exit %d: %s" % (args, r.returncode, r.stderr)
    assert r.stderr.strip(), "a usage message on stderr"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_keyword(flag):
    r = run_pidcar([flag])
    assert r.returncode == 0, (r.returncode, r.stderr)
    out = r.stdout + r.stderr
    for k in KEYWORDS:
        assert re.search(r"(^|[\s-])%s\b" % k, out), "--help does not mention %s:\n%s" % (k, out)
    for opt in ("-f", "-n", "-V"):
        assert opt in out, "--help does not mention %s" % opt


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag):
    r = run_pidcar([flag])
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert re.search(r"\d+\.\d+\.\d+", r.stdout + r.stderr), (r.stdout, r.stderr)


def test_env_listen_beats_file(make_ns):
    p_file, p_env = free_port(), free_port()
    ns = make_ns(spec={"plain": 1}, port=p_env,
                 conf="listen 127.0.0.1:%d\nlog_level info\n" % p_file,
                 env={"PIDCAR_LISTEN": "127.0.0.1:%d" % p_env})
    assert ns.status()["config"]["listen"] == "127.0.0.1:%d" % p_env
    assert not port_open(p_file)


def test_option_beats_env(make_ns):
    p_file, p_env, p_opt = free_port(), free_port(), free_port()
    ns = make_ns(spec={"plain": 1}, port=p_opt,
                 conf="listen 127.0.0.1:%d\nlog_level info\n" % p_file,
                 env={"PIDCAR_LISTEN": "127.0.0.1:%d" % p_env},
                 args=["--listen", "127.0.0.1:%d" % p_opt])
    assert ns.status()["config"]["listen"] == "127.0.0.1:%d" % p_opt
    assert not port_open(p_file) and not port_open(p_env)


def test_env_and_option_for_cmdline(make_ns):
    port = free_port()
    text = "listen 127.0.0.1:%d\ncmdline yes\n" % port
    ns = make_ns(spec={"plain": 1}, port=port, conf=text, env={"PIDCAR_CMDLINE": "no"})
    assert all(p["cmdline"] is None for p in ns.processes()["processes"])
    port2 = free_port()
    text2 = "listen 127.0.0.1:%d\ncmdline yes\n" % port2
    ns2 = make_ns(spec={"plain": 1}, port=port2, conf=text2, env={"PIDCAR_CMDLINE": "no"},
                  args=["--cmdline", "yes"])
    assert ns2.json("/api/v1/processes/%d" % ns2.info["plain"][0])["cmdline"] == \
        ["ptest-plain-0", "86400"]


def test_cmdline_no_hides_arguments_everywhere(make_ns):
    port = free_port()
    ns = make_ns(spec={"plain": 2}, port=port,
                 conf="listen 127.0.0.1:%d\ncmdline no\n" % port)
    procs = ns.processes()["processes"]
    assert procs and all(p["cmdline"] is None for p in procs), procs
    assert ns.status()["config"]["cmdline"] is False
    for path in ("/ps", "/tree", "/api/v1/tree", "/api/v1/processes/%d" % ns.info["plain"][0],
                 "/metrics"):
        # le="86400" is the lifetime histogram's 1-day bucket, not an argument.
        body = ns.get(path).text.replace('le="86400"', "")
        assert "ptest-plain" not in body and "86400" not in body, \
            "%s shows arguments with cmdline no:\n%s" % (path, body)
    assert ns.processes("match=ptest")["count"] == 0, \
        "match= must not see command lines that cmdline no hides"


def test_sighup_applies_a_good_file(make_ns):
    ns = make_ns(spec={"plain": 2})
    pid = ns.info["plain"][0]
    assert ns.json("/api/v1/processes/%d" % pid)["cmdline"] == ["ptest-plain-0", "86400"]
    ns.conf_path.write_text("listen 127.0.0.1:%d\nlog_level info\ncmdline no\n" % ns.port)
    ns.signal_pidcar(signal.SIGHUP)

    def hidden():
        assert ns.status()["config"]["cmdline"] is False
        assert ns.json("/api/v1/processes/%d" % pid)["cmdline"] is None
    eventually(hidden, timeout=5)
    ns.conf_path.write_text("listen 127.0.0.1:%d\nlog_level info\ncmdline yes\n" % ns.port)
    ns.signal_pidcar(signal.SIGHUP)

    def shown():
        assert ns.json("/api/v1/processes/%d" % pid)["cmdline"] == ["ptest-plain-0", "86400"]
    eventually(shown, timeout=5)
    ns.check_alive()


def test_sighup_with_a_bad_file_keeps_the_old_config(make_ns):
    ns = make_ns(spec={"plain": 2})
    ns.allow_warnings(re.escape(str(ns.conf_path)) + ":3")
    ns.conf_path.write_text("listen 127.0.0.1:%d\ncmdline no\ncmdline sometimes\n" % ns.port)
    ns.signal_pidcar(signal.SIGHUP)
    where = "%s:3" % ns.conf_path
    wait_for(lambda: any(ln.startswith("pidcar: warning:") and where in ln and "cmdline" in ln
                         for ln in ns.stderr().splitlines()),
             5, "a warning naming %s and cmdline in:\n%s" % (where, ns.stderr()))
    ns.check_alive()
    assert ns.get("/healthz").status == 200
    st = ns.status()
    assert st["config"]["cmdline"] is True, "the bad file's line 2 must not apply: %r" % st
    pid = ns.info["plain"][0]
    assert ns.json("/api/v1/processes/%d" % pid)["cmdline"] == ["ptest-plain-0", "86400"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_exits_0_and_frees_the_port(make_ns, sig):
    ns = make_ns(spec={"plain": 1})
    assert ns.get("/healthz").status == 200
    st = ns.stop_pidcar(sig)
    assert st["exitcode"] == 0, "pidcar exit record after signal %d: %r\n%s" % (
        sig, st, ns.stderr())
    assert not port_open(ns.port)
    assert port_bindable(ns.port), "port %d still held after pidcar exited" % ns.port
    # And a new pidcar can serve on it at once.
    again = make_ns(spec={"plain": 1}, port=ns.port)
    assert again.get("/healthz").status == 200


def test_port_in_use_fails_clearly(make_ns):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        ns = make_ns(spec={"plain": 1}, port=port, wait_ready=False,
                     conf="listen 127.0.0.1:%d\n" % port)
        ns.stopped_expect_zero = False
        ns.allow_warnings(".")
        st = wait_for(ns.pidcar_exit, 10, "pidcar to give up on a busy port")
        ns.stopped = st
        assert st["exitcode"] not in (0, None), st
        assert str(port) in ns.stderr(), "the error should name the address: %r" % ns.stderr()
    finally:
        holder.close()


def test_log_levels(make_ns):
    port = free_port()
    quiet = make_ns(spec={"plain": 1}, port=port,
                    conf="listen 127.0.0.1:%d\nlog_level error\n" % port)
    quiet.processes()
    port2 = free_port()
    loud = make_ns(spec={"plain": 1}, port=port2,
                   conf="listen 127.0.0.1:%d\nlog_level debug\n" % port2)
    loud.processes()
    wait_for(lambda: "pidcar: debug:" in loud.stderr(), 5, "a debug line at log_level debug")
    quiet.stop_pidcar()
    noisy = [ln for ln in quiet.stderr().splitlines()
             if ln.startswith("pidcar:") and not ln.startswith("pidcar: error")]
    assert not noisy, "log_level error still logs: %r" % noisy


def sockets_of(host_pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % host_pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (host_pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


def fill_connections(port, n):
    """Opens n connections, each with a request that never ends."""
    idle = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        idle.append(s)
    return idle


@pytest.mark.parametrize("knock", [False, True], ids=["full", "full+5th"])
def test_max_connections(make_ns, knock):
    port = free_port()
    ns = make_ns(spec={"plain": 1}, port=port,
                 conf="listen 127.0.0.1:%d\nmax_connections 4\n" % port)
    ns.allow_warnings("connection")

    def served():
        try:
            return ns.get("/healthz", timeout=1).status == 200
        except OSError:
            return False
    idle = fill_connections(port, 4)
    try:
        if knock:
            def refused():
                try:
                    out = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                      timeout=1)
                except OSError:
                    return True
                return out == b""
            wait_for(refused, 5, "a 5th connection to be turned away with max_connections 4")
        else:
            hp = ns.pidcar_host_pid()
            wait_for(lambda: sockets_of(hp) >= 1 + 4, 5, "pidcar to accept the 4 connections")
    finally:
        for s in idle:
            s.close()
    wait_for(served, 5, "pidcar to serve again once the 4 connections closed")
