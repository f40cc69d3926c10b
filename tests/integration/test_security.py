"""Access, TLS, limits and hostile input: tokens on every endpoint, HTTPS with a test CA
and a certificate swapped by SIGHUP, per-IP and fd limits, and a corpus of malformed
requests, each of which must be refused (4xx) or closed while /healthz keeps answering.
"""

import concurrent.futures
import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from nsharness import (Namespace, eventually, free_port, http_request, run_pidcar,
                       wait_for)

MAIN_TOKEN = "main-Token_0123456789.abcdef"
METRICS_TOKEN = "prom-Token~0123456789+abc=="
CHALLENGE = 'Bearer realm="pidcar"'
EX_CONFIG = 78

# Every route, and what a request with the main token gets there.
PROTECTED = [("/", 200), ("/api/v1/status", 200), ("/api/v1/processes", 200),
             ("/api/v1/processes?sort=cpu&limit=2", 200), ("/api/v1/processes/1", 200),
             ("/api/v1/tree", 200), ("/ps", 200), ("/tree", 200), ("/metrics", 200),
             ("/nope", 404), ("/api/v1/processes/12abc", 400),
             ("/api/v1/processes?bogus=1", 400)]
PROBES = ["/healthz", "/readyz"]


def write_secret(path, text):
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def bearer(token):
    return {"Authorization": "Bearer " + token}


def error_of(r, status):
    """The message of a JSON error body with this status."""
    assert r.status == status, "expected %d: %r" % (status, r)
    assert r.content_type.startswith("application/json"), r
    body = r.json()
    assert body["error"]["status"] == status, body
    return body["error"]["message"]


class Started:
    """Namespaces made by a test, closed (and checked) at its end."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.made = []

    def __call__(self, conf_lines, spec=None, argv_prefix=(), wait_ready=True, port=None):
        port = port or free_port()
        conf = "listen 127.0.0.1:%d\n" % port + "".join(l + "\n" for l in conf_lines)
        ns = Namespace(self.tmp_path / ("ns%d" % len(self.made)), port=port, conf=conf,
                       spec=spec if spec is not None else {"plain": 2})
        if argv_prefix:
            ns.spec["pidcar"]["argv"] = [*argv_prefix, *ns.spec["pidcar"]["argv"]]
            (ns.dir / "spec.json").write_text(json.dumps(ns.spec))
        self.made.append(ns)
        return ns.start(wait_ready=wait_ready)

    def close(self):
        problems = []
        for ns in self.made:
            problems += ns.close()
        return problems


@pytest.fixture
def start(tmp_path):
    s = Started(tmp_path)
    yield s
    problems = s.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """One namespace with both tokens configured, shared by the access tests."""
    d = tmp_path_factory.mktemp("auth")
    tok = write_secret(d / "token", MAIN_TOKEN + "\n")
    mtok = write_secret(d / "metrics-token", METRICS_TOKEN)
    s = Started(d)
    try:
        ns = s(["auth_token_file %s" % tok, "metrics_token_file %s" % mtok])
    except BaseException:
        s.close()
        raise
    yield ns
    problems = s.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# access

@pytest.mark.parametrize("path,status", PROTECTED)
def test_every_endpoint_needs_the_token(secured, path, status):
    for method in ("GET", "HEAD"):
        r = secured.request(method, path)
        assert r.status == 401, (method, path, r)
        assert r.headers.get("WWW-Authenticate") == CHALLENGE, r.headers
        if method == "GET":
            assert "Authorization: Bearer" in error_of(r, 401)
    for authz in ("Bearer wrong-token-0123456789", "Bearer " + MAIN_TOKEN + "x",
                  "Bearer " + MAIN_TOKEN[:-1], "Basic " + MAIN_TOKEN, MAIN_TOKEN):
        r = secured.get(path, headers={"Authorization": authz})
        assert r.status == 401, (authz, r)
        assert r.headers.get("WWW-Authenticate", "").startswith(CHALLENGE), r.headers
    r = secured.get(path, headers=bearer(MAIN_TOKEN))
    assert r.status == status, r
    r = secured.get(path, headers={"Authorization": "bearer   " + MAIN_TOKEN})
    assert r.status == status, r


def test_wrong_token_says_invalid_token(secured):
    r = secured.get("/api/v1/status", headers=bearer("wrong-token-0123456789"))
    assert r.headers["WWW-Authenticate"] == CHALLENGE + ', error="invalid_token"', r.headers
    error_of(r, 401)


@pytest.mark.parametrize("path,status", PROTECTED)
def test_metrics_token_opens_only_metrics(secured, path, status):
    r = secured.get(path, headers=bearer(METRICS_TOKEN))
    if path == "/metrics":
        assert r.status == 200 and "pidcar_processes" in r.text, r
        return
    msg = error_of(r, 403)
    assert "/metrics only" in msg, msg
    assert r.headers["WWW-Authenticate"] == CHALLENGE + ', error="insufficient_scope"'


@pytest.mark.parametrize("path", PROBES)
def test_probes_stay_open(secured, path):
    for headers in ({}, bearer("wrong-token-0123456789"), bearer(METRICS_TOKEN)):
        r = secured.get(path, headers=headers)
        assert r.status == 200, (headers, r)
    assert secured.request("HEAD", path).status == 200
    # Still strict about everything else.
    error_of(secured.get(path + "?x=1"), 400)
    error_of(secured.request("POST", path, body=b""), 405)


def test_token_protected_process_data_never_leaks(secured):
    """A refused request's body says nothing about processes or paths."""
    for path in ("/api/v1/processes", "/api/v1/processes/1", "/ps", "/metrics"):
        r = secured.get(path)
        assert r.status == 401
        assert b"ptest" not in r.body and b"sleep" not in r.body, r.body


def test_tokens_reload_on_sighup(start, tmp_path):
    tok = write_secret(tmp_path / "tok", "first-token-0123456789")
    mtok = write_secret(tmp_path / "mtok", "first-metrics-0123456789")
    ns = start(["auth_token_file %s" % tok, "metrics_token_file %s" % mtok])
    assert ns.get("/ps", headers=bearer("first-token-0123456789")).status == 200
    write_secret(tok, "second-token-0123456789\n")
    write_secret(mtok, "second-metrics-0123456789\n")
    ns.signal_pidcar(signal.SIGHUP)

    def swapped():
        assert ns.get("/ps", headers=bearer("second-token-0123456789")).status == 200
    eventually(swapped)
    assert ns.get("/ps", headers=bearer("first-token-0123456789")).status == 401
    assert ns.get("/metrics", headers=bearer("second-metrics-0123456789")).status == 200
    assert ns.get("/metrics", headers=bearer("first-metrics-0123456789")).status == 401

    # A broken token file on reload: the running tokens stay.
    ns.allow_warnings(r"reload: .*token.*keeping the running configuration")
    write_secret(tok, "short\n")
    offset = len(ns.stderr())
    ns.signal_pidcar(signal.SIGHUP)
    wait_for(lambda: "keeping the running configuration" in ns.stderr()[offset:], 5,
             "the reload to be refused")
    assert "16-4096 characters" in ns.stderr()[offset:], ns.stderr()[offset:]
    assert ns.get("/ps", headers=bearer("second-token-0123456789")).status == 200
    assert ns.get("/ps", headers=bearer("short")).status == 401


@pytest.mark.parametrize("content,why", [
    ("", "the file is empty"),
    ("\n", "the file is empty"),
    ("short-token", "16-4096 characters"),
    ("a" * 4097, "16-4096 characters"),
    ("has a space in it 0123456789", "cannot carry"),
    ("token-with-quote\"0123456789", "cannot carry"),
    ("two-lines-0123456789\nsecond-line-0123456789", "cannot carry"),
    ("=starts-with-equals-0123456789", "cannot carry"),
    ("nul\0byte-0123456789abcdef", "cannot carry"),
])
def test_bad_token_file_is_a_config_error(tmp_path, content, why):
    tok = tmp_path / "tok"
    tok.write_bytes(content.encode())
    os.chmod(tok, 0o600)
    conf = tmp_path / "c.conf"
    conf.write_text("# tokens\n\nauth_token_file %s\n" % tok)
    r = run_pidcar(["-n", "-f", str(conf)])
    assert r.returncode == EX_CONFIG, r
    assert "%s:3: auth_token_file: " % conf in r.stderr and why in r.stderr, r.stderr


@pytest.mark.parametrize("lines,words", [
    (["auth_token_file /nonexistent/token"], ["c.conf:1: auth_token_file",
                                               "No such file or directory"]),
    (["auth_token_file /"], ["c.conf:1: auth_token_file", "Is a directory"]),
    (["metrics_token_file {mtok}"], ["metrics_token_file needs auth_token_file"]),
    (["auth_token_file {tok}", "metrics_token_file {tok}"], ["the same token"]),
    (["tls_cert {tok}", "tls_key {tok}"], ["c.conf:1: tls_cert", "no PEM certificate"]),
])
def test_access_config_errors(tmp_path, lines, words):
    tok = write_secret(tmp_path / "tok", MAIN_TOKEN)
    mtok = write_secret(tmp_path / "mtok", METRICS_TOKEN)
    conf = tmp_path / "c.conf"
    conf.write_text("".join(l.format(tok=tok, mtok=mtok) + "\n" for l in lines))
    r = run_pidcar(["-n", "-f", str(conf)])
    assert r.returncode == EX_CONFIG, r
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_token_from_environment_and_option(tmp_path):
    tok = write_secret(tmp_path / "tok", MAIN_TOKEN)
    r = run_pidcar(["-n", "-f", "/dev/null"], env={"PIDCAR_AUTH_TOKEN_FILE": "/nonexistent"})
    assert r.returncode == EX_CONFIG and "environment PIDCAR_AUTH_TOKEN_FILE" in r.stderr, r
    r = run_pidcar(["-n", "-f", "/dev/null", "--auth_token_file", str(tok)],
                   env={"PIDCAR_AUTH_TOKEN_FILE": str(tok)})
    assert r.returncode == 0, r


def test_world_readable_token_warns(tmp_path):
    tok = tmp_path / "tok"
    tok.write_text(MAIN_TOKEN)
    os.chmod(tok, 0o644)
    r = run_pidcar(["-n", "-f", "/dev/null", "--auth_token_file", str(tok)])
    assert r.returncode == 0, r
    assert "readable by other users (mode 0644)" in r.stderr, r.stderr


@pytest.mark.parametrize("with_token", [False, True])
def test_warning_beyond_loopback_without_token(start, tmp_path, with_token):
    port = free_port()
    lines = ["listen 0.0.0.0:%d" % port]     # the last listen wins
    if with_token:
        lines.append("auth_token_file %s" % write_secret(tmp_path / "tok", MAIN_TOKEN))
    ns = start(lines, port=port)
    ns.allow_warnings("without auth_token_file")
    warned = "listening on 0.0.0.0:%d without auth_token_file" % port in ns.stderr()
    assert warned != with_token, ns.stderr()


# TLS

def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, (args, r.stderr)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throw-away CA and two server certificates (a, b) for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=pidcar test CA", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for n in ("a", "b"):
        openssl("req", *ec, "-keyout", n + ".key", "-out", n + ".csr",
                "-subj", "/CN=pidcar-" + n, cwd=d)
        openssl("x509", "-req", "-in", n + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", n + ".pem", "-days", "2", "-extfile", "ext.cnf",
                cwd=d)
        os.chmod(d / (n + ".key"), 0o600)
    return d


def served_cert(port, cafile):
    """SHA-256 of the certificate a fresh handshake gets (verified against the CA)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


def fingerprint(pem):
    der = ssl.PEM_cert_to_DER_cert(pem.read_text())
    return hashlib.sha256(der).hexdigest()


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "5", *args], capture_output=True,
                       text=True, timeout=10)
    return r


def test_tls_with_token_and_cert_reload(start, pki, tmp_path):
    cert, key = tmp_path / "served.pem", tmp_path / "served.key"
    shutil.copy(pki / "a.pem", cert)
    shutil.copy(pki / "a.key", key)
    tok = write_secret(tmp_path / "tok", MAIN_TOKEN)
    port = free_port()
    ns = start(["tls_cert %s" % cert, "tls_key %s" % key, "auth_token_file %s" % tok],
               port=port, wait_ready=False)
    base = "https://127.0.0.1:%d" % port

    def ready():
        r = curl("--cacert", str(pki / "ca.pem"), base + "/readyz")
        return r.returncode == 0 and r.stdout.strip() == "ready"
    wait_for(ready, 10, "pidcar to answer over HTTPS")
    assert "listening on https://127.0.0.1:%d/" % port in ns.stderr()
    assert "tls: serving CN=pidcar-a" in ns.stderr()

    r = curl("--cacert", str(pki / "ca.pem"), "-o", "/dev/null", "-w", "%{http_code}",
             base + "/api/v1/processes")
    assert r.stdout == "401", r
    r = curl("--cacert", str(pki / "ca.pem"), "-H", "Authorization: Bearer " + MAIN_TOKEN,
             base + "/api/v1/processes")
    assert r.returncode == 0 and json.loads(r.stdout)["count"] >= 2, r
    # Without the CA the certificate is not trusted; plain HTTP gets no answer.
    r = curl(base + "/healthz")
    assert r.returncode == 60, r     # CURLE_PEER_FAILED_VERIFICATION
    with pytest.raises((OSError, http.client.HTTPException)):
        r = http_request(port, "GET", "/healthz", timeout=3)
        assert r.status != 200
    assert served_cert(port, pki / "ca.pem") == fingerprint(pki / "a.pem")

    # A connection made before the reload keeps working after it.
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    kept = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    kept.request("GET", "/healthz")
    assert kept.getresponse().read() == b"ok\n"

    shutil.copy(pki / "b.pem", cert)
    shutil.copy(pki / "b.key", key)
    ns.signal_pidcar(signal.SIGHUP)
    wait_for(lambda: served_cert(port, pki / "ca.pem") == fingerprint(pki / "b.pem"), 5,
             "the new certificate after SIGHUP")
    assert "tls: new handshakes get CN=pidcar-b" in ns.stderr()
    kept.request("GET", "/api/v1/status", headers=bearer(MAIN_TOKEN))
    resp = kept.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["ready"] is True
    kept.close()

    # A key that does not match: refused, and the running certificate stays.
    ns.allow_warnings(r"reload: tls_cert .* do not match; keeping the running")
    shutil.copy(pki / "a.key", key)
    offset = len(ns.stderr())
    ns.signal_pidcar(signal.SIGHUP)
    wait_for(lambda: "keeping the running configuration" in ns.stderr()[offset:], 5,
             "the bad certificate to be refused")
    assert served_cert(port, pki / "ca.pem") == fingerprint(pki / "b.pem")
    r = curl("--cacert", str(pki / "ca.pem"), base + "/healthz")
    assert r.stdout == "ok\n", r


@pytest.mark.parametrize("lines,words", [
    (["tls_cert {pki}/a.pem"], ["tls_cert and tls_key go together"]),
    (["tls_key {pki}/a.key"], ["tls_cert and tls_key go together"]),
    (["tls_cert {pki}/a.pem", "tls_key {pki}/b.key"], ["do not match"]),
    (["tls_cert {pki}/a.key", "tls_key {pki}/a.key"], [":1: tls_cert", "no PEM certificate"]),
    (["tls_cert {pki}/a.pem", "tls_key {pki}/a.pem"], [":2: tls_key", "no PEM private key"]),
    (["tls_cert {pki}/missing.pem", "tls_key {pki}/a.key"], [":1: tls_cert",
                                                            "No such file"]),
])
def test_tls_config_errors(pki, tmp_path, lines, words):
    conf = tmp_path / "c.conf"
    conf.write_text("".join(l.format(pki=pki) + "\n" for l in lines))
    r = run_pidcar(["-n", "-f", str(conf)])
    assert r.returncode == EX_CONFIG, r
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_tls_config_ok(pki):
    r = run_pidcar(["-n", "-f", "/dev/null", "--tls_cert", str(pki / "a.pem"),
                    "--tls_key", str(pki / "a.key")])
    assert r.returncode == 0, r


# limits

def connect(port, source="127.0.0.1", partial=b"GET /healthz HTTP/1.1\r\n"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    if partial:
        s.sendall(partial)
    return s


def closed_by_server(s, timeout):
    """True when the server closes s (EOF or reset) within timeout without answering."""
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_per_ip_limit_and_timeout(start):
    ns = start(["max_connections_per_ip 3", "connection_timeout 2s"])
    held = [connect(ns.port) for _ in range(3)]
    try:
        # Accepted in order: the 4th comes after the 3 that fill the limit.
        extra = connect(ns.port, partial=b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_by_server(extra, 5), "a 4th connection from one address was served"
        extra.close()
        # Another address is still served.
        other = connect(ns.port, source="127.0.0.2",
                        partial=b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        other.settimeout(5)
        assert other.recv(100).startswith(b"HTTP/1.1 200 "), "127.0.0.2 was refused"
        other.close()
        # connection_timeout closes the idle, never finished requests.
        t0 = time.monotonic()
        for s in held:
            assert closed_by_server(s, 6), "an idle connection outlived connection_timeout"
        assert time.monotonic() - t0 < 6
    finally:
        for s in held:
            s.close()
    assert ns.get("/healthz").status == 200


def cpu_seconds(host_pid):
    f = open("/proc/%d/stat" % host_pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_fds_pauses_accept_without_spinning(start):
    """More connections than RLIMIT_NOFILE allows: accept pauses, CPU stays idle, and
    pidcar serves again once connections close."""
    ns = start(["max_connections 200", "max_connections_per_ip 200"],
               argv_prefix=["/usr/bin/prlimit", "--nofile=40:40", "--"])
    ns.allow_warnings(r"RLIMIT_NOFILE 40 leaves too few fds",
                      r"http: accept: Too many open files")
    hp = ns.pidcar_host_pid()
    held = []
    try:
        for _ in range(60):
            held.append(connect(ns.port))
        wait_for(lambda: "accept: Too many open files" in ns.stderr(), 5,
                 "pidcar to run out of fds")
        assert len(os.listdir("/proc/%d/fd" % hp)) <= 40
        time.sleep(0.3)
        c0, t0 = cpu_seconds(hp), time.monotonic()
        time.sleep(1.5)
        busy = (cpu_seconds(hp) - c0) / (time.monotonic() - t0)
        assert busy < 0.2, "pidcar used %.0f%% CPU while out of fds" % (busy * 100)
    finally:
        for s in held:
            s.close()

    def served():
        try:
            return ns.get("/healthz", timeout=2).status == 200
        except OSError:
            return False
    wait_for(served, 10, "pidcar to serve again once the connections closed")
    assert ns.get("/api/v1/processes", timeout=5).status == 200
    wait_for(lambda: "accepting connections again" in ns.stderr(), 5, "the all-clear")


@pytest.mark.parametrize("req,status", [
    (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /api/v1/processes?name=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
     b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", 431),
], ids=["path-2000", "target-9000", "header-9000", "150-headers"])
def test_size_limits_answer_json(ns, req, status):
    out = raw(ns.port, req)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), out[:200]
    assert json.loads(body)["error"]["status"] == status, body


# robust input

@pytest.mark.parametrize("target,status,words", [
    ("/healthz%00", 400, "NUL"),
    ("/healthz%00/../x", 400, "NUL"),
    ("/api/v1/processes/1%00", 400, "NUL"),
    ("/api/v1/processes?name=a%00b", 400, "NUL"),
    ("/api/v1/processes?na%00me=a", 400, "NUL"),
    ("/api%2fv1/status", 400, "%2F"),
    ("/api%2Fv1%2Fstatus", 400, "%2F"),
    ("/api/v1/../v1/status", 400, ".."),
    ("/api/v1/%2e%2e/v1/status", 400, ".."),
    ("/./healthz", 400, "'.'"),
    ("/api/v1/processes/%2e", 400, "'.'"),
    ("/h\xc3\xa9", 400, "0xc3"),
    ("/api/v1/processes?name=\xff", 400, "0xff"),
    ("/api/v1/processes/1e3", 400, "bad process id"),
    ("/api/v1/processes/%31%32abc", 400, "12abc"),
    ("/api/v1/processes/18446744073709551617", 400, "bad process id"),
    ("/api/v1/processes?limit=18446744073709551617", 400, "limit"),
    ("/api/v1/processes?limit=1e3", 400, "limit"),
    ("/api/v1/processes?match=" + "(" * 40 + "a" + ")" * 40, 400, "match"),
    ("/api/v1/processes?match=%28a%7B255%7D%29%7B255%7D", 400, "too complex"),
    ("/api/v1/processes?match=%28a%29%5C1", 400, "back-reference"),
    ("/api/v1/processes?&&&", 400, "query parameter"),
    ("/api/v1/processes?=1", 400, "query parameter"),
])
def test_hostile_targets(ns, target, status, words):
    out = raw(ns.port, b"GET " + target.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), out[:300]
    msg = json.loads(body)["error"]["message"]
    assert words in msg, msg


@pytest.mark.parametrize("headers,words", [
    (b"", "without a Host"),
    (b"Host: x\r\nHost: y\r\n", "more than one Host"),
    (b"Host: x\r\nBad Name: v\r\n", "malformed header"),
    (b"Host: x\r\nX-\xc3\xa9: a\r\n", "malformed header"),
])
def test_hostile_headers(ns, headers, words):
    out = raw(ns.port, b"GET /healthz HTTP/1.1\r\n" + headers + b"\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), out[:300]
    assert words in json.loads(body)["error"]["message"], body


def raw(port, data, timeout=5.0):
    """Sends data; returns what came back before the server closed (b"" if nothing).
    The server may close while we still send: that counts as closed."""
    out = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                s.sendall(data)
            with contextlib.suppress(socket.timeout, ConnectionResetError):
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
    except ConnectionRefusedError:
        raise
    return out


def corpus():
    """At least 100 malformed or hostile requests: each must get a 4xx or a close."""
    h = b" HTTP/1.1\r\nHost: x\r\n\r\n"
    c = {}
    # methods
    for m in (b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"PROPFIND",
              b"FOO", b"get", b"Get", b"G\xc3\x8bT", b"GE\xffT", b"A" * 5000, b"\x01\x02"):
        c["method " + repr(m[:12])] = m + b" /healthz" + h
    c["CONNECT"] = b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n"
    c["OPTIONS *"] = b"OPTIONS *" + h
    c["POST with body"] = (b"POST /api/v1/processes HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 5\r\n\r\nhello")
    # request lines
    for name, line in [
            ("bare method", b"GET\r\n\r\n"), ("no version", b"GET /healthz\r\n\r\n"),
            ("no method", b"/healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("extra word", b"GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n"),
            ("HTTX", b"GET /healthz HTTX/1.1\r\nHost: x\r\n\r\n"),
            ("HTTP/1", b"GET /healthz HTTP/1\r\nHost: x\r\n\r\n"),
            ("HTTP/1.1.1", b"GET /healthz HTTP/1.1.1\r\nHost: x\r\n\r\n"),
            ("lower version", b"GET /healthz http/1.1\r\nHost: x\r\n\r\n"),
            ("leading space", b" GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("double spaces", b"GET  /healthz  HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("tabs", b"GET\t/healthz\tHTTP/1.1\r\nHost: x\r\n\r\n"),
            ("bare CRs", b"GET /healthz HTTP/1.1\rHost: x\r\r"),
            ("only CRLFs", b"\r\n" * 50), ("only LFs", b"\n" * 50),
            ("NUL in target", b"GET /healthz\x00 HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("NUL in target 2", b"GET /api/v1/processes\x00/1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("NUL after method", b"GET\x00 /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("NUL in version", b"GET /healthz HTTP/1.1\x00\r\nHost: x\r\n\r\n"),
            ("NULs", b"\x00" * 100), ("binary", bytes(range(256)) * 4),
            ("TLS hello on plain HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" +
             b"\x00" * 64),
            ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n"),
            ("Host twice", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            ("relative target", b"GET healthz" + h), ("empty target", b"GET " + h),
    ]:
        c["line " + name] = line
    # paths
    for t in (b"/healthz%00", b"/healthz%00.html", b"/%00", b"/api/v1/processes/1%00",
              b"/api%2fv1/status", b"/api%2Fv1/processes", b"/..", b"/../etc/passwd",
              b"/api/v1/../../etc/passwd", b"/./healthz", b"/%2e%2e/%2e%2e/etc/passwd",
              b"/api/v1/processes/%2E%2E", b"/h\xc3\xa9", b"/h\xc3\x28", b"/\xff\xfe",
              b"/\xed\xa0\x80", b"/\xf4\x90\x80\x80", b"/a\\b", b"/%", b"/%zz", b"/%%%",
              b"/" + b"a" * 1025, b"/" + b"a/" * 600, b"/" + b"a" * 9000, b"/" + b"a" * 40000,
              b"/api/v1/processes/0", b"/api/v1/processes/-1", b"/api/v1/processes/+1",
              b"/api/v1/processes/0x1f", b"/api/v1/processes/007",
              b"/api/v1/processes/1.0", b"/api/v1/processes/%ff",
              b"/api/v1/processes/99999999999999999999999999999999",
              b"/api/v1/processes/4194305", b"/api/v1/processes/1%20",
              b"/api/v1/processes/2147483648", b"//healthz", b"/HEALTHZ", b"/nope",
              b"/healthz/", b"/api/v1/processes/1/"):
        c["path " + repr(t[:40])] = b"GET " + t + h
    # query strings and absurd numbers
    for q in (b"limit=-1", b"limit=1e99", b"limit=99999999999999999999999",
              b"limit=0x10", b"limit=%2B1", b"limit=", b"limit=1&limit=2", b"limit=%00",
              b"limit=18446744073709551616", b"limit=NaN", b"limit=Infinity",
              b"sort=%C3%BC", b"sort=%ff", b"order=sideways", b"state=RR", b"state=",
              b"name=" + b"a" * 65, b"user=" + b"u" * 65, b"group=" + b"g" * 129,
              b"match=" + b"(" * 40 + b"a" + b")" * 40, b"match=%28a%7B255%7D%29%7B255%7D",
              b"match=%28a%29%5C1", b"match=%5B%5B%3Aalpha%3A", b"match=" + b"a" * 600,
              b"match=", b"unknown=1", b"&" * 1000, b"=1", b"a", b"%00=1",
              b"name=a%00b", b"limit=1%00"):
        c["query " + repr(q[:40])] = b"GET /api/v1/processes?" + q + h
    c["query on /healthz"] = b"GET /healthz?x=1" + h
    c["query on a pid"] = b"GET /api/v1/processes/1?limit=1" + h
    # headers
    for name, hdrs in [
            ("9 KB header", b"X-Big: " + b"b" * 9000 + b"\r\n"),
            ("40 KB header", b"X-Big: " + b"b" * 40000 + b"\r\n"),
            ("150 headers", b"".join(b"X-%d: y\r\n" % i for i in range(150))),
            ("header without colon", b"Foo\r\n"),
            ("space in name", b"Bad Header: x\r\n"),
            ("space before colon", b"Bad : x\r\n"),
            ("NUL in name", b"X\x00Y: a\r\n"),
            ("UTF-8 in name", b"X-\xc3\xa9: a\r\n"),
            ("Content-Length -1", b"Content-Length: -1\r\n"),
            ("Content-Length abc", b"Content-Length: abc\r\n"),
            ("Content-Length 2^64", b"Content-Length: 18446744073709551616\r\n"),
            ("Content-Length huge", b"Content-Length: 99999999999999999999999999\r\n"),
            ("huge Authorization", b"Authorization: Bearer " + b"t" * 9000 + b"\r\n"),
    ]:
        c["header " + name] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n"
    # slowloris: never finished, or nothing at all; the idle timeout closes them
    for name, data in [("partial line", b"GET /heal"), ("partial headers",
                       b"GET /healthz HTTP/1.1\r\nHost: x\r\n"), ("one byte", b"G"),
                       ("silence", b""), ("headers, no blank line",
                       b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B: 2\r\n")]:
        c["slow " + name] = data
    return c


CORPUS = corpus()
STATUS_RE = re.compile(rb"HTTP/1\.[01] (\d\d\d) ")


@pytest.fixture(scope="module")
def ns_corpus(tmp_path_factory):
    s = Started(tmp_path_factory.mktemp("corpus"))
    try:
        ns = s(["connection_timeout 2s", "max_connections 128",
                "max_connections_per_ip 64"])
    except BaseException:
        s.close()
        raise
    yield ns
    problems = s.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def ns(ns_corpus):
    offset = len(ns_corpus.stderr())
    yield ns_corpus
    problems = ns_corpus.log_problems(offset)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 100, len(CORPUS)


def test_hostile_corpus(ns):
    """Each request gets a 4xx or a close, and /healthz answers after every one."""
    def one(item):
        name, data = item
        out = raw(ns.port, data, timeout=6)
        m = STATUS_RE.match(out)
        verdict = "closed" if out == b"" else m.group(1).decode() if m else "garbage"
        ok = verdict == "closed" or verdict.startswith("4")
        health = ns.get("/healthz", timeout=5).status
        return name, verdict, ok, health

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, CORPUS.items()))
    bad = ["%s: %s" % (n, v) for n, v, ok, _ in results if not ok]
    assert not bad, "not refused: %s" % bad
    sick = [n for n, _, _, health in results if health != 200]
    assert not sick, "/healthz failed after: %s" % sick
    # Slow requests hold their connection only until connection_timeout (2 s).
    assert time.monotonic() - t0 < 20
    verdicts = {v for _, v, _, _ in results}
    assert {"400", "404", "405", "414", "431", "closed"} <= verdicts, verdicts
    ns.check_alive()


def test_unsupported_versions_answer_505(ns):
    for data in (b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",
                 b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"):
        out = raw(ns.port, data)
        assert out.startswith(b"HTTP/1.1 505 ") or out == b"", out[:100]
        assert ns.get("/healthz").status == 200


def test_slowloris_does_not_block_others(ns):
    slow = [connect(ns.port, partial=b"GET /heal") for _ in range(20)]
    try:
        for _ in range(3):
            for s in slow:
                s.sendall(b"t")
            assert ns.get("/healthz", timeout=2).status == 200
            assert ns.get("/api/v1/processes?limit=1", timeout=5).status == 200
            time.sleep(0.2)
        # They stop trickling: connection_timeout (2 s) closes every one.
        for s in slow:
            assert closed_by_server(s, 4)
    finally:
        for s in slow:
            s.close()
