"""A guard that makes any test which tries to reach beyond this machine fail loudly.

`install()` patches the standard library's connection points:

- `socket.socket.connect` / `connect_ex` (every TCP/UDP client: asyncio, asyncpg, aiohttp,
  httpx, urllib, and `ssl.SSLSocket`, which connects through them),
- `socket.create_connection`,
- `socket.getaddrinfo` / `gethostbyname` / `gethostbyname_ex` (name lookups, also those
  asyncio runs in its executor),

so that only loopback is reachable: 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z), the unspecified
address (which Linux routes to this host), the names "localhost" and "*.localhost", and Unix
sockets. Anything else raises `NetworkAccessBlocked` at once, without sending a packet.

Libraries often swallow connection errors and retry (python-telegram-bot turns every exception
into `NetworkError`), so each attempt is also recorded: `check()` raises if any happened since
the last check, which an autouse fixture calls after every test. `uninstall()` restores the
originals; both are idempotent.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "NetworkAccessBlocked",
    "attempts",
    "check",
    "clear",
    "install",
    "installed",
    "is_local_address",
    "is_local_host",
    "uninstall",
]

_INET_FAMILIES = (socket.AF_INET, socket.AF_INET6)


class NetworkAccessBlocked(RuntimeError):
    """A test tried to reach a host that is not this machine.

    A RuntimeError, not an OSError, so that code which retries on OSError (asyncio's
    happy-eyeballs, HTTP clients) does not quietly try the next address.
    """


_lock = threading.Lock()
_attempts: list[str] = []
_originals: dict[str, Any] = {}


def is_local_host(host: str | bytes | None) -> bool:
    """True for a loopback or unspecified address, "localhost"/"*.localhost", None and ""."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = host.strip().rstrip(".").lower()
    if name in ("", "localhost") or name.endswith(".localhost"):
        return True
    return is_local_address(name)


def is_local_address(host: str) -> bool:
    """True for an IP literal that cannot leave this machine; False for names and others."""
    text = host.strip("[]").split("%", 1)[0]  # "[::1]" and scoped "fe80::1%eth0"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _blocked(what: str) -> NetworkAccessBlocked:
    message = f"network access outside this machine is blocked in tests: {what}"
    with _lock:
        _attempts.append(message)
    return NetworkAccessBlocked(message)


def _check_address(sock: socket.socket, address: Any, call: str) -> None:
    if sock.family not in _INET_FAMILIES:
        return  # Unix sockets, netlink, …: local by nature
    if isinstance(address, tuple) and address:
        host = address[0]
        if is_local_host(host):
            return
        raise _blocked(f"{call}({address!r})")
    raise _blocked(f"{call}({address!r})")


def _guarded_connect(original: Callable[..., Any], call: str) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        _check_address(self, address, call)
        return original(self, address)

    connect.__wrapped__ = original  # type: ignore[attr-defined]
    return connect


def _guarded_lookup(original: Callable[..., Any], call: str) -> Callable[..., Any]:
    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local_host(host):
            raise _blocked(f"{call}({host!r})")
        return original(host, *args, **kwargs)

    lookup.__wrapped__ = original  # type: ignore[attr-defined]
    return lookup


def _guarded_create_connection(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_connection(address: tuple[Any, ...], *args: Any, **kwargs: Any) -> Any:
        if not is_local_host(address[0]):
            raise _blocked(f"socket.create_connection({address!r})")
        return original(address, *args, **kwargs)

    create_connection.__wrapped__ = original  # type: ignore[attr-defined]
    return create_connection


def install() -> None:
    """Block non-loopback connections and name lookups in this process (idempotent)."""
    with _lock:
        if _originals:
            return
        _originals.update(
            connect=socket.socket.connect,
            connect_ex=socket.socket.connect_ex,
            create_connection=socket.create_connection,
            getaddrinfo=socket.getaddrinfo,
            gethostbyname=socket.gethostbyname,
            gethostbyname_ex=socket.gethostbyname_ex,
        )
    for name in ("connect", "connect_ex"):
        setattr(socket.socket, name, _guarded_connect(_originals[name], f"socket.{name}"))
    socket.create_connection = _guarded_create_connection(_originals["create_connection"])
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        setattr(socket, name, _guarded_lookup(_originals[name], f"socket.{name}"))


def uninstall() -> None:
    """Put the original socket functions back (idempotent)."""
    with _lock:
        originals = dict(_originals)
        _originals.clear()
    if not originals:
        return
    for name in ("connect", "connect_ex"):
        setattr(socket.socket, name, originals[name])
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        setattr(socket, name, originals[name])


def installed() -> bool:
    return bool(_originals)


def attempts() -> list[str]:
    """The blocked attempts recorded since the last `check()` or `clear()`."""
    with _lock:
        return list(_attempts)


def clear() -> None:
    """Forget recorded attempts (for a test that provokes them on purpose)."""
    with _lock:
        _attempts.clear()


def check() -> None:
    """Raise `NetworkAccessBlocked` listing the attempts since the last check, then forget them.

    Call it after each test: it catches attempts that a library caught and retried.
    """
    with _lock:
        seen = list(_attempts)
        _attempts.clear()
    if seen:
        listed = "\n  ".join(dict.fromkeys(seen))
        raise NetworkAccessBlocked(f"{len(seen)} blocked network attempt(s):\n  {listed}")
