"""Helpers for the learner's-path suite: plain urllib, as a learner without `requests` would write.
The fixtures themselves (`taskd`, `taskd_session`, `taskd_factory`) come from the installed
wheel's pytest plugin; nothing here defines one."""

import json
import urllib.error
import urllib.request
import uuid


def call(server, method, path, body=None, headers=None):
    """One request; returns (status, headers, body bytes) for every status, 4xx included."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers=dict(headers or {}))
    if isinstance(body, dict):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def multipart(filename, content, content_type):
    """A multipart/form-data body with one `file` part (RFC 7578), built by hand."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
