"""taskd_server: taskd, the lesson's task-manager HTTP API, for Python tests.

The wheel installs the `taskd` binary into the environment's scripts folder; this package starts
it:

    import taskd_server

    with taskd_server.start(token="secret") as server:
        ...  # speak HTTP to server.url

and its pytest plugin (registered through the `pytest11` entry point) offers the `taskd`,
`taskd_session` and `taskd_factory` fixtures and the `@pytest.mark.taskd(...)` marker. See
docs/python.md.
"""

from ._server import BINARY_ENV, Server, TaskdError, find_binary, start

__all__ = ["BINARY_ENV", "Server", "TaskdError", "find_binary", "start"]
