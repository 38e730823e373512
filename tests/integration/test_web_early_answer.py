"""An answer given before the request's body was read (413 over the limit, 401 without a
session) reaches a client that is still sending that body, as it reaches a proxy in front
(nginx forwards the whole body before it reads the answer): the app reads the rest of the body
and drops it, instead of closing the connection under the sender (which nginx turns into a 502).
A real ``chorus web`` (uvicorn) and a raw socket client that sends like a proxy."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.toolkit import start_web, stop_process

BODY = 12 * 1024 * 1024  # well beyond what the sockets' buffers hold on either side


@pytest.fixture(scope="module")
def web(database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    log = Path(tmp_path_factory.mktemp("early")) / "web.log"
    proc, base = start_web(log=log, env=dict(os.environ, CHORUS_UPLOAD_MAX_BYTES=str(1024 * 1024)))
    try:
        parts = urlsplit(base)
        yield parts.hostname or "127.0.0.1", parts.port or 80
    finally:
        stop_process(proc)


def send_whole_body_then_read(address: tuple[str, int], head: str) -> bytes:
    """Send the head and all BODY bytes as nginx does (HTTP/1.0 and Connection: close to the
    upstream, the whole body before reading), then read the answer; raises
    ConnectionError (BrokenPipe/ConnectionReset) if the server closed the connection meanwhile."""
    with socket.create_connection(address, timeout=60) as s:
        s.sendall(head.encode())
        chunk = b"x" * 65536
        for _ in range(BODY // len(chunk)):
            s.sendall(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer:
            got = s.recv(65536)
            if not got:
                break
            answer += got
        return answer


def test_a_body_over_the_limit_gets_its_413_after_being_sent_whole(web: tuple[str, int]) -> None:
    head = (
        "POST /api/v1/auth/login HTTP/1.0\r\nHost: chorus.example.org\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n"
    )
    answer = send_whole_body_then_read(web, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer


def test_an_upload_without_a_session_gets_its_401_after_being_sent_whole(web: tuple[str, int]) -> None:
    head = (
        "POST /api/v1/cases/1/evidence HTTP/1.0\r\nHost: chorus.example.org\r\nConnection: close\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {BODY}\r\n\r\n"
    )
    answer = send_whole_body_then_read(web, head)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
