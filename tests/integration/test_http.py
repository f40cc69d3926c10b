"""HTTP behaviour: every error path, methods, HEAD, content types, hostile requests."""

import os
import re
from urllib.parse import quote

import pytest

from nsharness import raw_request


def assert_error(r, status, *words):
    """A JSON error body with the right status whose message names every word."""
    assert r.status == status, "expected %d: %r" % (status, r)
    assert r.content_type.startswith("application/json"), r
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["status"] == status and isinstance(err["message"], str) and err["message"], body
    for w in words:
        assert w in err["message"], "message %r does not name %r" % (err["message"], w)
    return err["message"]


@pytest.mark.parametrize("path", ["/nope", "/api/v1", "/api/v2/processes",
                                  "/api/v1/processes/1/children", "/healthz/x",
                                  "/metrics.txt", "/api/v1/process"])
def test_unknown_path_404(ns, path):
    assert_error(ns.get(path), 404)


@pytest.mark.parametrize("segment", ["12abc", "0", "-1", "abc", "1.5", "+1", " 1",
                                     "99999999999999999999", "0x10"])
def test_bad_pid_400(ns, segment):
    assert_error(ns.get("/api/v1/processes/" + quote(segment, safe="%")), 400)


def test_unknown_pid_404(ns):
    msg = assert_error(ns.get("/api/v1/processes/4000000"), 404)
    assert "4000000" in msg, msg


@pytest.mark.parametrize("path", ["/api/v1/processes", "/ps"])
@pytest.mark.parametrize("query,param", [
    ("bogus=1", "bogus"),
    ("sort=pid&bogus=1", "bogus"),
    ("sort=foo", "sort"),
    ("sort=", "sort"),
    ("order=up", "order"),
    ("order=", "order"),
    ("limit=-1", "limit"),
    ("limit=abc", "limit"),
    ("limit=1.5", "limit"),
    ("limit=", "limit"),
    ("limit=99999999999999999999999", "limit"),
    ("state=QQ", "state"),
    ("state=", "state"),
    ("match=(", "match"),
    ("match=" + quote("a[", safe=""), "match"),
    ("sort=pid&sort=cpu", "sort"),
    ("limit=1&limit=1", "limit"),
    ("name=a&name=b", "name"),
])
def test_bad_query_400(ns, path, query, param):
    assert_error(ns.get(path + "?" + query), 400, param)


@pytest.mark.parametrize("path", ["/api/v1/status", "/api/v1/tree", "/tree", "/healthz",
                                  "/readyz", "/api/v1/processes/1"])
def test_params_on_routes_without_any_400(ns, path):
    assert_error(ns.get(path + "?sort=pid"), 400, "sort")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/healthz", "/api/v1/processes", "/api/v1/processes/1",
                                  "/metrics", "/ps"])
def test_other_methods_405(ns, method, path):
    r = ns.request(method, path, body=b"x=1" if method in ("POST", "PUT", "PATCH") else None)
    assert_error(r, 405)
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
    assert allow == {"GET", "HEAD"}, "Allow: %r" % r.headers.get("Allow")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/v1/processes", "/metrics", "/ps",
                                  "/api/v1/status", "/"])
def test_head_like_get_without_body(ns, path):
    h = ns.request("HEAD", path)
    g = ns.get(path)
    assert h.status == 200 == g.status, (h, g)
    assert h.body == b"", h
    assert h.content_type == g.content_type, (h, g)


def test_head_of_errors(ns):
    r = ns.request("HEAD", "/nope")
    assert r.status == 404 and r.body == b"", r


def test_healthz_readyz(ns):
    r = ns.get("/healthz")
    assert r.status == 200 and r.body.strip() == b"ok", r
    assert r.content_type.startswith("text/plain"), r
    assert ns.get("/readyz").status == 200


@pytest.mark.parametrize("path,ctype", [
    ("/", "text/html"),
    ("/healthz", "text/plain"),
    ("/ps", "text/plain"),
    ("/tree", "text/plain"),
    ("/api/v1/status", "application/json"),
    ("/api/v1/processes", "application/json"),
    ("/api/v1/processes/1", "application/json"),
    ("/api/v1/tree", "application/json"),
])
def test_content_types(ns, path, ctype):
    r = ns.get(path)
    assert r.status == 200, r
    assert r.content_type.split(";")[0].strip() == ctype, r
    if ctype == "application/json":
        r.json()
    if ctype.startswith("text/"):
        r.body.decode("utf-8")


def test_metrics_content_type(ns):
    r = ns.get("/metrics")
    assert r.status == 200, r
    parts = [p.strip() for p in r.content_type.split(";")]
    assert parts[0] == "text/plain" and "version=0.0.4" in parts, r.content_type


def test_landing_page_links(ns):
    page = ns.get("/").text
    for link in ("/api/v1/status", "/api/v1/processes", "/api/v1/tree", "/ps", "/tree",
                 "/metrics", "/healthz", "/readyz", "/api/v1/events",
                 "/api/v1/events/stream"):
        assert re.search(r"""href=["']?%s["'> ]""" % re.escape(link), page), \
            "no link to %s" % link


def test_status(ns):
    s = ns.status()
    assert isinstance(s["version"], str) and re.match(r"\d+\.\d+", s["version"]), s
    # Root in the test namespace holds CAP_PERFMON: perf records, else the probe.
    assert s["mode"] == "sidecar", s
    assert s["source"].split("+")[0] == ("perf_task_events" if s["kernel"][
        "perf_task_events"] else "procfs_poll"), s
    assert s["source"].endswith("+fanotify_exec") == s["kernel"]["fanotify_exec"], s
    assert s["ready"] is True, s
    assert s["target"]["spec"] == "self", s
    ino = int(re.search(r"\d+", ns.pidns).group())
    assert s["target"]["pid_namespace"] in (ino, str(ino), ns.pidns), (s["target"], ns.pidns)
    assert isinstance(s["capabilities"], list) and "cap_sys_ptrace" in \
        [c.lower() for c in s["capabilities"]], s["capabilities"]
    assert s["kernel"]["release"] == os.uname().release, s["kernel"]
    c = s["counters"]
    for k in ("forks", "read_errors"):
        assert isinstance(c[k], int) and c[k] >= 0, c
    assert set(c["exits"]) == {"exited_zero", "exited_nonzero", "signaled", "unknown"}, c
    assert c["forks"] >= len(ns.by_pid()), "every process listed was discovered: %r" % c
    conf = s["config"]
    assert conf["listen"] == "127.0.0.1:%d" % ns.port, conf
    assert conf["poll_interval_seconds"] == pytest.approx(0.05), conf
    assert conf["scan_interval_seconds"] == pytest.approx(10), conf
    assert conf["cmdline"] is True, conf
    assert s["processes"] == ns.processes()["total"], s


def test_percent_decoding(ns):
    pid = ns.info["named"]["we ird)name"]
    for enc in ("we%20ird%29name", "we%20ird)name"):
        body = ns.processes("name=" + enc)
        assert [p["pid"] for p in body["processes"]] == [pid], (enc, body)
    body = ns.processes("name=" + quote("new\nline", safe=""))
    assert [p["pid"] for p in body["processes"]] == [ns.info["named"]["new\nline"]], body
    assert ns.json("/api/v1/processes/%31") is not None   # "%31" is "1"


@pytest.mark.parametrize("what", ["url", "header"])
def test_very_long_request_rejected(ns, what):
    if what == "url":
        req = b"GET /api/v1/processes?match=" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    else:
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n"
    try:
        out = raw_request(ns.port, req)
    except (BrokenPipeError, ConnectionResetError):
        out = None   # closed while we were still sending: refused, if rudely
    if out is not None:
        assert re.match(rb"HTTP/1\.[01] (414|431|400|413) ", out), out[:200]
    assert ns.get("/healthz").status == 200


@pytest.mark.parametrize("junk,rejected", [
    (b"GARBAGE\r\n\r\n", True),
    (b"GET\r\n\r\n", True),
    (b"GET /healthz HTTP/9.9\r\n\r\n", True),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", True),
    (b"\x00\xff\xfe\r\n\r\n", True),
    (b"GET /api/v1/processes?match=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n", False),
    (b"GET /api/v1/processes?%%%=1 HTTP/1.1\r\nHost: x\r\n\r\n", False),
])
def test_malformed_requests_do_not_hurt(ns, junk, rejected):
    out = raw_request(ns.port, junk, timeout=2)   # no answer at all is allowed
    if out:
        assert re.match(rb"HTTP/1\.[01] [2-5]\d\d ", out), out[:200]
        if rejected:
            assert re.match(rb"HTTP/1\.[01] [45]\d\d ", out), out[:200]
    assert ns.get("/healthz").status == 200


def test_many_requests_one_connection(ns):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", ns.port, timeout=10)
    try:
        for _ in range(20):
            conn.request("GET", "/api/v1/processes?limit=1")
            r = conn.getresponse()
            assert r.status == 200
            r.read()
    finally:
        conn.close()
