"""The learner's path through the pytest plugin: the fixtures of the installed wheel, used the way
a learner's suite would (create, 409, upload, download with urllib, a token), run by
.ci/check-python with no Rust toolchain on PATH."""

import json
import os
import sys
import sysconfig
import time

import pytest
import taskd_server
from learner_http import call, multipart


def test_create_answers_201_with_location_and_a_duplicate_title_409(taskd):
    status, headers, body = call(taskd, "POST", "/tasks", {"title": "Write the report"})
    assert status == 201
    assert json.loads(body) == {"id": 1, "title": "Write the report", "priority": "medium",
                                "done": False, "attachment": None}
    assert headers["Location"] == "/tasks/1"

    status, _, body = call(taskd, "POST", "/tasks", {"title": "Write the report"})
    assert status == 409
    assert json.loads(body) == {"detail": "A task with that title already exists"}


def test_each_test_gets_a_fresh_empty_server(taskd):
    # The same title as the test above, and id 1 again: nothing is left from another test.
    status, _, body = call(taskd, "POST", "/tasks", {"title": "Write the report"})
    assert (status, json.loads(body)["id"]) == (201, 1)


def test_upload_then_download_gives_the_bytes_back(taskd):
    call(taskd, "POST", "/tasks", {"title": "With a file"})
    content = b"line one\nline two\n"
    body, headers = multipart("notes.txt", content, "text/plain")
    status, _, answer = call(taskd, "POST", "/tasks/1/attachment", body, headers)
    assert status == 200
    assert json.loads(answer)["attachment"] == {"filename": "notes.txt", "size": len(content)}

    status, headers, answer = call(taskd, "GET", "/tasks/1/attachment")
    assert status == 200
    assert answer == content
    assert headers["Content-Type"] == "text/plain"
    assert 'filename="notes.txt"' in headers["Content-Disposition"]


@pytest.mark.taskd(token="s3cret")
def test_the_marker_sets_a_token(taskd):
    status, headers, _ = call(taskd, "POST", "/tasks", {"title": "No token"})
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, _, _ = call(taskd, "POST", "/tasks", {"title": "With the token"},
                        {"Authorization": "Bearer s3cret"})
    assert status == 201
    assert taskd.token == "s3cret"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.taskd(token="s3cret")
def test_the_token_is_not_on_the_command_line(taskd):
    with open(f"/proc/{taskd.pid}/cmdline", "rb") as cmdline:
        argv = cmdline.read().split(b"\0")
    assert b"s3cret" not in b" ".join(argv)
    assert argv[1:3] == [b"--addr", b"127.0.0.1:0"]


def test_the_factory_starts_servers_with_their_own_options(taskd_factory, tmp_path):
    small = taskd_factory(max_upload_bytes=10, cors_origin=["http://localhost:5173"], quiet=True)
    call(small, "POST", "/tasks", {"title": "Small"})
    body, headers = multipart("big.txt", b"x" * 11, "text/plain")
    status, _, _ = call(small, "POST", "/tasks/1/attachment", body, headers)
    assert status == 413
    status, headers, _ = call(small, "GET", "/tasks/1", headers={"Origin": "http://localhost:5173"})
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"

    # A data directory outlives the server: a second one started on it sees the task.
    first = taskd_factory(data_dir=tmp_path / "data")
    assert call(first, "POST", "/tasks", {"title": "Kept"})[0] == 201
    assert first.stop() == 0
    second = taskd_factory(data_dir=tmp_path / "data")
    status, _, body = call(second, "GET", "/tasks/1")
    assert (status, json.loads(body)["title"]) == (200, "Kept")


def test_the_session_server_is_shared(taskd_session, request):
    # Shared by every test of the session: a title of its own, and no assumption about ids.
    title = f"From {request.node.name}"
    status, headers, _ = call(taskd_session, "POST", "/tasks", {"title": title})
    assert status == 201
    assert call(taskd_session, "GET", headers["Location"])[0] == 200


def test_start_stop_and_the_log():
    with taskd_server.start() as server:
        assert server.running()
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.addr == ("127.0.0.1", server.port)
        call(server, "GET", "/healthz")
        # The access log is written from a queue, a moment after the answer.
        server.wait_for_log('"GET /healthz HTTP/1.1" 200')
    assert not server.running()
    assert server.process.returncode == 0
    assert server.stop() == 0  # a second stop is harmless
    assert '"GET /healthz HTTP/1.1" 200' in server.log()  # and the log is still there


def test_an_unknown_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="tokn"):
        taskd_server.start(tokn="s3cret")


def test_a_server_that_cannot_start_says_why(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(taskd_server.TaskdError, match="exited with status 1 before listening"):
        taskd_server.start(data_dir=blocker / "data")


@pytest.mark.skipif(bool(os.environ.get(taskd_server.BINARY_ENV)),
                    reason=f"{taskd_server.BINARY_ENV} overrides the installed binary")
def test_the_binary_is_the_one_the_wheel_installed():
    expected = os.path.join(sysconfig.get_path("scripts"), "taskd")
    assert taskd_server.find_binary() == expected


def test_no_taskd_variable_leaks_in_from_the_callers_environment(monkeypatch):
    # taskd reads TASKD_TOKEN (and, with issue 18, a variable for every flag) itself: a server
    # asked for without a token must not pick one up from the test runner's environment.
    monkeypatch.setenv("TASKD_TOKEN", "from-the-environment")
    with taskd_server.start() as server:
        assert call(server, "POST", "/tasks", {"title": "Open"})[0] == 201


def fake_binary(tmp_path, script):
    path = tmp_path / "fake-taskd"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def test_the_ready_line_is_found_after_other_output(tmp_path):
    # Anything printed before the ready line (a banner, a warning on stdout) is skipped.
    real = taskd_server.find_binary()
    binary = fake_binary(tmp_path, f'echo "starting up"\nexec "{real}" "$@"\n')
    with taskd_server.start(binary=binary) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert call(server, "GET", "/healthz")[0] == 200


def test_no_ready_line_in_time_is_an_error_and_the_process_is_stopped(tmp_path):
    pid_file = tmp_path / "pid"
    binary = fake_binary(tmp_path, f"echo $$ > {pid_file}\necho 'not ready' >&2\nexec /bin/sleep 30\n")
    started = time.monotonic()
    with pytest.raises(taskd_server.TaskdError, match="no ready line within 0.5 s; its stderr:\nnot ready"):
        taskd_server.start(binary=binary, ready_timeout=0.5)
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left running
        os.kill(int(pid_file.read_text()), 0)
