"""The pytest plugin (entry point `pytest11`): fixtures that hand a test a running taskd.

    def test_create(taskd):                      # a fresh, empty server for this test
        ...  # taskd.url

    @pytest.mark.taskd(token="secret")           # the `taskd` fixture's options
    def test_needs_a_token(taskd): ...

    def test_two_servers(taskd_factory):         # as many as you like, each with its options
        a = taskd_factory(); b = taskd_factory(max_upload_bytes=1024)

    def test_shared(taskd_session): ...          # one server for the whole session

The options are `taskd_server.start`'s. Imports only pytest and the standard library (through
taskd_server), so loading it costs nothing when a suite does not use it.
"""

import pytest

from ._server import start

_MARKER = "taskd"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): start the `taskd` fixture's server with these options "
        "(token=..., data_dir=..., cors_origin=[...], max_upload_bytes=..., ...; see taskd_server.start)",
    )


def _attach_log(request, server, label):
    """taskd's stderr (access log, hints) is shown in the report of a test that fails."""
    text = server.log()
    if text:
        request.node.add_report_section("teardown", label, text)


def _marker_options(request):
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return {}
    if marker.args:
        raise TypeError(f"@pytest.mark.{_MARKER} takes keyword options only, got {marker.args!r}")
    return dict(marker.kwargs)


@pytest.fixture
def taskd(request):
    """A running taskd, fresh and empty (in memory) for this test; `@pytest.mark.taskd(...)`
    sets its options. Stopped after the test."""
    server = start(**_marker_options(request))
    try:
        yield server
    finally:
        server.stop()
        _attach_log(request, server, f"taskd stderr ({server.url})")


@pytest.fixture(scope="session")
def taskd_session():
    """One running taskd (default options) shared by the whole session: tasks created by one
    test are seen by the next, so give each test its own titles."""
    server = start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def taskd_factory(request):
    """A function `taskd_factory(**options) -> Server`; every server it started is stopped
    after the test."""
    servers = []

    def factory(**options):
        server = start(**options)
        servers.append(server)
        return server

    try:
        yield factory
    finally:
        for server in reversed(servers):
            server.stop()
            _attach_log(request, server, f"taskd stderr ({server.url})")
