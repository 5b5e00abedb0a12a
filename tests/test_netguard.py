"""The network guard: non-loopback connections and lookups fail loudly, loopback ones work.

Each test that provokes a blocked attempt forgets it with `netguard.clear()` (or consumes it
with `netguard.check()`), so the suite's after-test check stays quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import threading
from collections.abc import Iterator

import aiohttp
import httpx
import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import NetworkError

from tests import netguard
from tests.netguard import NetworkAccessBlocked


@pytest.fixture(autouse=True)
def guard() -> Iterator[None]:
    """The guard on (the suite's conftest installs it too), and no attempts left behind."""
    was_installed = netguard.installed()
    netguard.install()
    netguard.clear()
    yield
    netguard.clear()
    if not was_installed:
        netguard.uninstall()


@pytest.fixture
def tcp_echo_port() -> Iterator[int]:
    """A plain threaded TCP server on 127.0.0.1 that answers b"pong" once per connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"pong")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(timeout=2)


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("db.localhost", True),
        (None, True),
        ("10.1.2.3", False),
        ("192.168.1.1", False),
        ("8.8.8.8", False),
        ("2001:db8::1", False),
        ("api.telegram.org", False),
        ("localhost.example.com", False),
    ],
)
def test_what_counts_as_local(host: str | None, local: bool) -> None:
    assert netguard.is_local_host(host) is local


def test_connect_to_a_private_address_is_blocked() -> None:
    with socket.socket() as sock, pytest.raises(NetworkAccessBlocked, match="10.1.2.3"):
        sock.connect(("10.1.2.3", 80))
    with socket.socket() as sock, pytest.raises(NetworkAccessBlocked):
        sock.connect_ex(("10.1.2.3", 80))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(NetworkAccessBlocked),
    ):
        sock.connect(("8.8.8.8", 53))
    assert len(netguard.attempts()) == 3


def test_public_names_are_not_even_looked_up() -> None:
    with pytest.raises(NetworkAccessBlocked, match="api.telegram.org"):
        socket.getaddrinfo("api.telegram.org", 443)
    with pytest.raises(NetworkAccessBlocked):
        socket.gethostbyname("example.com")
    with pytest.raises(NetworkAccessBlocked):
        socket.create_connection(("example.com", 80), timeout=1)
    with pytest.raises(NetworkAccessBlocked):
        socket.create_connection(("10.1.2.3", 80), timeout=1)
    with socket.socket() as sock, pytest.raises(NetworkAccessBlocked):
        sock.connect(("example.com", 80))  # names resolved inside connect() too


async def test_asyncio_aiohttp_and_httpx_are_blocked() -> None:
    with pytest.raises(NetworkAccessBlocked):
        await asyncio.open_connection("10.1.2.3", 80)
    with pytest.raises(NetworkAccessBlocked):
        await asyncio.open_connection("example.com", 443)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(NetworkAccessBlocked):
            await session.get("https://example.com/")
    async with httpx.AsyncClient() as client:
        with pytest.raises(NetworkAccessBlocked):
            await client.get("https://example.com/")
    assert netguard.attempts()


async def test_an_attempt_a_library_swallowed_is_still_reported() -> None:
    with pytest.raises(NetworkError):  # PTB wraps the guard's error into NetworkError
        async with Bot("123:ABC"):  # the default base_url: api.telegram.org
            pass
    with pytest.raises(NetworkAccessBlocked, match="api.telegram.org"):
        netguard.check()
    netguard.check()  # consumed: quiet now


def test_loopback_tcp_works(tcp_echo_port: int) -> None:
    for host in ("127.0.0.1", "localhost"):
        with socket.create_connection((host, tcp_echo_port), timeout=2) as sock:
            assert sock.recv(4) == b"pong"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", tcp_echo_port)) == 0
    assert socket.getaddrinfo("localhost", tcp_echo_port)
    assert socket.gethostbyname("127.0.0.1") == "127.0.0.1"
    assert netguard.attempts() == []


def test_loopback_ipv6_works() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("::1 is not configured")
    with server, socket.create_connection(("::1", server.getsockname()[1]), timeout=2):
        pass
    assert netguard.attempts() == []


def test_unix_sockets_work() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "s")
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(path)
            server.listen()
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(path)
    assert netguard.attempts() == []


async def test_loopback_asyncio_aiohttp_and_httpx_work() -> None:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="xin chào")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        async with aiohttp.ClientSession() as session:
            for host in ("127.0.0.1", "localhost"):
                async with session.get(f"http://{host}:{port}/") as response:
                    assert await response.text() == "xin chào"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "xin chào"
    finally:
        await runner.cleanup()
    assert netguard.attempts() == []


async def test_asyncpg_to_loopback_is_not_blocked() -> None:
    """Refused, or no such role, is fine: it means the guard let the socket through."""
    asyncpg = pytest.importorskip("asyncpg")
    connection = None
    with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError):
        connection = await asyncpg.connect(
            host="127.0.0.1", port=5432, user="postgres", database="postgres", timeout=5
        )
    if connection is not None:
        assert await connection.fetchval("SELECT 1") == 1
        await connection.close()
    assert netguard.attempts() == []


def test_uninstall_restores_and_install_is_idempotent() -> None:
    guarded = socket.socket.connect
    netguard.install()
    assert socket.socket.connect is guarded
    netguard.uninstall()
    try:
        assert socket.socket.connect is not guarded
        assert not netguard.installed()
    finally:
        netguard.install()
    assert netguard.installed()
