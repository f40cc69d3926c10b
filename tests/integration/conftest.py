"""pytest fixtures over nsharness.py: namespaces that are always cleaned up by PID."""

import os

import pytest

from nsharness import PIDCAR_BIN, Namespace


def pytest_report_header(config):
    return "pidcar binary: %s (%s)" % (
        PIDCAR_BIN, "present" if os.path.exists(PIDCAR_BIN) else "MISSING")


@pytest.fixture
def make_ns(tmp_path):
    """Factory: make_ns(spec=..., conf=..., args=..., env=...) -> started Namespace."""
    made = []

    def make(**kw):
        wait_ready = kw.pop("wait_ready", True)
        ns = Namespace(tmp_path / ("ns%d" % len(made)), **kw)
        made.append(ns)
        return ns.start(wait_ready=wait_ready)
    yield make
    problems = []
    for ns in made:
        problems += ns.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_ns(tmp_path_factory):
    """One namespace with DEFAULT_SPEC shared by the tests of a module."""
    ns = Namespace(tmp_path_factory.mktemp("ns"))
    yield from ns.serving()


@pytest.fixture
def ns(module_ns):
    """The module's namespace; each test's new log lines are checked for warnings."""
    module_ns.check_alive()
    offset = len(module_ns.stderr())
    saved = list(module_ns.allowed)
    yield module_ns
    try:
        problems = module_ns.log_problems(offset)
        if module_ns.exit_path.exists():
            problems.append("pidcar died: %s" % module_ns.exit_path.read_text())
        if problems:
            pytest.fail("\n".join(problems) + "\n--- stderr since test start:\n"
                        + module_ns.stderr()[offset:], pytrace=False)
    finally:
        module_ns.allowed = saved
        module_ns.log_offset = len(module_ns.stderr())
