"""Owns one taskd process: finding the installed binary, turning options into flags, reading the
ready line, and stopping it (SIGTERM, a bounded wait, then SIGKILL).

Standard library only (the package has no runtime dependencies) and Python 3.9 syntax.
"""

import os
import re
import selectors
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import weakref
from urllib.parse import urlsplit

# Development override: a taskd built by cargo (target/debug/taskd), used before the installed one.
BINARY_ENV = "TASKD_SERVER_BINARY"

# taskd prints exactly one line on stdout once it listens: `taskd listening on http://ADDR`
# (src/main.rs, `announce`; it is kept byte for byte). Searched for, not matched whole,
# so a prefix or a trailing `\r` cannot hide it.
_READY = re.compile(r"listening on (http://\S+)")

# taskd itself gives in-flight requests 10 s after SIGTERM (SHUTDOWN_GRACE); a little more here,
# then SIGKILL, so a stuck server cannot hang a test session.
DEFAULT_STOP_TIMEOUT = 12.0
DEFAULT_READY_TIMEOUT = 15.0


class TaskdError(RuntimeError):
    """taskd could not be started: it exited, or printed no ready line in time."""


def find_binary(binary=None):
    """The taskd executable: `binary` if given, else $TASKD_SERVER_BINARY, else the one this
    package's wheel installed into the environment's scripts folder (never a `taskd` on PATH,
    which may be another program or another version)."""
    explicit = binary if binary is not None else os.environ.get(BINARY_ENV)
    if explicit:
        path = os.fspath(explicit)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"taskd binary not found: {path}")
        return path
    name = "taskd.exe" if os.name == "nt" else "taskd"
    candidates = [sysconfig.get_path("scripts")]
    # `pip install --user` puts scripts in the user scheme's folder instead.
    user_scheme = "nt_user" if os.name == "nt" else "posix_user"
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        user_scheme = "osx_framework_user"
    try:
        candidates.append(sysconfig.get_path("scripts", user_scheme))
    except KeyError:
        pass
    for folder in candidates:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"taskd binary not found in {' or '.join(candidates)}: install the taskd-server wheel "
        f"into this environment, or set {BINARY_ENV} to a taskd executable"
    )


def _seconds(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return str(value) if isinstance(value, int) else repr(float(value))


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return str(value)


def _flags(addr, data_dir, cors_origin, max_upload_bytes, request_timeout, io_timeout,
           keep_alive_timeout, max_connections, trace, quiet):
    """Options to taskd's flags (`taskd --help`); None leaves taskd's default."""
    args = ["--addr", addr]
    if data_dir is not None:
        args += ["--data-dir", os.fspath(data_dir)]
    if cors_origin is not None:
        origins = [cors_origin] if isinstance(cors_origin, str) else list(cors_origin)
        for origin in origins:
            args += ["--cors-origin", origin]
    if max_upload_bytes is not None:
        args += ["--max-upload-bytes", _count("max_upload_bytes", max_upload_bytes)]
    if request_timeout is not None:
        args += ["--request-timeout", _seconds("request_timeout", request_timeout)]
    if io_timeout is not None:
        args += ["--io-timeout", _seconds("io_timeout", io_timeout)]
    if keep_alive_timeout is not None:
        args += ["--keep-alive-timeout", _seconds("keep_alive_timeout", keep_alive_timeout)]
    if max_connections is not None:
        args += ["--max-connections", _count("max_connections", max_connections)]
    if trace:
        args.append("--trace")
    if quiet:
        args.append("--quiet")
    return args


def _child_environment(token):
    """The caller's environment without any TASKD_* variable (taskd reads its flags from them
    too, so a stray TASKD_DATA_DIR would make a "fresh" server read old data), plus the token.
    The token travels in the environment, never in argv, which any user can read in `ps`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKD_")}
    if token is not None:
        if not token or "\n" in token or "\r" in token:
            raise ValueError("token must be a non-empty single line")
        env["TASKD_TOKEN"] = token
    return env


def _kill(process, stderr_file):
    """Last resort when a Server is garbage-collected or the interpreter exits unstopped."""
    if process.poll() is None:
        process.kill()
        process.wait()
    stderr_file.close()


def start(*, token=None, data_dir=None, cors_origin=None, max_upload_bytes=None,
          request_timeout=None, io_timeout=None, keep_alive_timeout=None, max_connections=None,
          trace=False, quiet=False, addr="127.0.0.1:0", binary=None, log_file=None,
          ready_timeout=DEFAULT_READY_TIMEOUT):
    """Start taskd (by default on 127.0.0.1 at a free port, everything in memory) and return a
    running `Server` once it listens. An unknown option is a TypeError naming it.

    token: require `Authorization: Bearer <token>` (passed as TASKD_TOKEN, not on argv).
    data_dir: keep tasks on disk there. cors_origin: one origin or a list of them.
    max_upload_bytes, max_connections: integers. request_timeout, io_timeout,
    keep_alive_timeout: seconds. trace, quiet: booleans. binary: a taskd executable to use
    instead of the installed one. log_file: where taskd's stderr goes (by default a temporary
    file removed by stop(); read it with `Server.log()`).
    """
    path = find_binary(binary)
    args = [path] + _flags(addr, data_dir, cors_origin, max_upload_bytes, request_timeout,
                           io_timeout, keep_alive_timeout, max_connections, trace, quiet)
    env = _child_environment(token)
    # stderr goes to a file, never to a pipe nobody reads: an unread pipe fills and taskd blocks.
    if log_file is None:
        stderr_file = tempfile.TemporaryFile(prefix="taskd-stderr-")
    else:
        stderr_file = open(os.fspath(log_file), "w+b")
    try:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=stderr_file, env=env, close_fds=True)
    except BaseException:
        stderr_file.close()
        raise
    server = Server(process, stderr_file, token)
    try:
        server._wait_until_ready(ready_timeout)
    except BaseException:
        server.stop()
        raise
    return server


class Server:
    """A running taskd. `url` is its base URL (`http://127.0.0.1:PORT`); `stop()` or leaving a
    `with` block ends it."""

    def __init__(self, process, stderr_file, token):
        self.process = process
        self.token = token
        self.url = None
        self.host = None
        self.port = None
        self._stderr_file = stderr_file
        self._stdout_lines = []
        self._final_log = ""
        self._finalizer = weakref.finalize(self, _kill, process, stderr_file)

    @property
    def pid(self):
        return self.process.pid

    @property
    def addr(self):
        """(host, port), as socket.create_connection takes it."""
        return (self.host, self.port)

    def _wait_until_ready(self, timeout):
        stdout = self.process.stdout
        deadline = time.monotonic() + timeout
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TaskdError(f"taskd printed no ready line within {timeout} s" + self._tail())
                if not selector.select(remaining):
                    continue
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    code = self.process.wait()
                    raise TaskdError(f"taskd exited with status {code} before listening" + self._tail())
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    found = _READY.search(text)
                    if found is None:
                        self._stdout_lines.append(text)
                        continue
                    parts = urlsplit(found.group(1))
                    self.url = f"http://{parts.netloc}"
                    self.host = parts.hostname
                    self.port = parts.port
                    # Anything taskd prints later is read too, so stdout can never fill up.
                    threading.Thread(target=self._drain_stdout, args=(pending,),
                                     name=f"taskd-{self.port}-stdout", daemon=True).start()
                    return

    def _drain_stdout(self, pending):
        stdout = self.process.stdout
        data = pending
        for chunk in iter(lambda: os.read(stdout.fileno(), 4096), b""):
            data += chunk
        stdout.close()
        self._stdout_lines.extend(data.decode("utf-8", "replace").splitlines())

    def _tail(self):
        text = self.log()
        return f"; its stderr:\n{text}" if text else ""

    def log(self):
        """Everything taskd wrote on stderr so far (the access log, hints, warnings)."""
        if self._stderr_file.closed:
            return self._final_log
        self._stderr_file.flush()
        with open(self._stderr_file.fileno(), "rb", closefd=False) as reader:
            reader.seek(0)
            return reader.read().decode("utf-8", "replace")

    def wait_for_log(self, text, timeout=5.0):
        """Wait until `text` appears in taskd's stderr and return the whole log: taskd writes its
        access log from a queue, a moment after the answer. TimeoutError if it never comes."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if text in log:
                return log
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{text!r} not in taskd's stderr after {timeout} s:\n{log}")
            time.sleep(0.02)

    def running(self):
        return self.process.poll() is None

    def stop(self, timeout=DEFAULT_STOP_TIMEOUT):
        """SIGTERM (taskd stops accepting and finishes requests in flight), wait at most
        `timeout` seconds, then SIGKILL. Returns the exit status; calling it again is harmless."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None and self.url is None:
            self.process.stdout.close()
        if not self._stderr_file.closed:
            self._final_log = self.log()
            self._stderr_file.close()
        self._finalizer.detach()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = "running" if self.running() else f"exited {self.process.returncode}"
        return f"<taskd_server.Server {self.url} pid={self.pid} {state}>"
