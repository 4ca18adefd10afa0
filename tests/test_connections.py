"""Connections held by slow or oversized clients, against a real server process."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from processes import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("connections") / "var",
        settings={"YMY_REQUEST_READ_TIMEOUT_S": "1", "YMY_MAX_HEADER_BYTES": "8192"},
    )
    process.start()
    yield process
    process.stop()


def _read_all(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        chunks.append(b"<still open>")
    return b"".join(chunks)


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        started = time.monotonic()
        answer = _read_all(sock, 10)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 5


def test_headers_sent_a_byte_at_a_time_are_cut_off(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(10):
                time.sleep(0.3)
                sock.sendall(b"X-Slow: 1\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server, as it should be
        answer = _read_all(sock, 10)
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_oversized_headers_get_431(server: ServerProcess) -> None:
    answer = httpx.get(f"{server.url}/health", headers={"X-Big": "x" * 10_000}, timeout=10)
    assert answer.status_code == 431


def test_a_body_sent_too_slowly_gets_408(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"query": '
        )
        answer = _read_all(sock, 10)
    assert b" 408 " in answer.split(b"\r\n", 1)[0], answer
    assert b"longer than 1 s" in answer


def test_keep_alive_requests_and_a_large_body_still_pass(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(3):  # one connection, several requests, each under the limits
            assert http.get("/health").status_code == 200
        query = "design a schema for a library " + "with many books " * 3000
        answer = http.post("/v1/route", json={"query": query[:19_000]})
    assert answer.status_code == 200, answer.text
