"""Where a push notification may be sent: the URL's host resolved once, checked, and pinned.

A webhook URL is a request the server makes on a client's behalf, so it must not reach what
only the server can reach (loopback, private networks, link-local cloud metadata) unless the
operator allows it. The check is made on the addresses the host resolves to, and the
delivery then connects to the checked address itself: a name that resolves to a public
address when checked and to a private one when used (DNS rebinding) cannot get past it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "PushAddresses",
    "PushTarget",
    "Resolver",
    "UnresolvedPushHost",
    "UnsafePushUrl",
    "netloc",
    "resolve_host",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafePushUrl(ValueError):
    """A push URL this server will not send to, and why (no secret is ever in the reason)."""


class UnresolvedPushHost(UnsafePushUrl):
    """A push URL whose host does not resolve now: not sent to, but it may be configured
    (resolution can fail for a while, and every delivery checks again)."""


@dataclass(frozen=True, slots=True)
class PushTarget:
    """A checked push URL: ``url`` names the address to connect to, ``host`` the name the
    receiver expects (the ``Host`` header, and the TLS server name for https)."""

    url: str
    host: str  # with the port the URL named, as the Host header carries it
    server_name: str  # the bare host name, for TLS
    https: bool


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, through the event loop's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class PushAddresses:
    """The policy on push URLs: http(s), and public addresses unless ``allow_private``."""

    def __init__(self, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
        self.allow_private = allow_private
        self._resolve = resolve

    async def accepts(self, url: str) -> bool:
        """Whether ``url`` may be configured now (the a2a-sdk's push URL validator): not if
        it is no http(s) URL, or its host resolves to an address it may not reach."""
        try:
            await self.target(url)
        except UnresolvedPushHost:
            return True
        except UnsafePushUrl:
            return False
        return True

    async def target(self, url: str) -> PushTarget:
        """``url`` pinned to an address it resolves to now, every address checked."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UnsafePushUrl("the URL cannot be parsed") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsafePushUrl("the URL must be http or https and name a host")
        host = parts.hostname
        try:
            addresses = await self._resolve(host, port)
        except OSError:
            raise UnresolvedPushHost(f"the host {host!r} does not resolve") from None
        if not addresses:
            raise UnresolvedPushHost(f"the host {host!r} does not resolve")
        for address in addresses:
            problem = _address_problem(address, allow_private=self.allow_private)
            if problem is not None:
                raise UnsafePushUrl(f"the host {host!r} {problem}")
        pinned = netloc(addresses[0], parts.port)
        return PushTarget(
            url=urlunsplit((parts.scheme, pinned, parts.path or "/", parts.query, "")),
            host=netloc(host, parts.port),
            server_name=host,
            https=parts.scheme == "https",
        )


def _address_problem(text: str, *, allow_private: bool) -> str | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone is not the address
    except ValueError:
        return f"resolves to {text!r}, which is not an address"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # judged as the IPv4 address it carries
    if address.is_multicast or address.is_unspecified:
        return "resolves to a multicast or unspecified address"
    if not allow_private and not address.is_global:
        return (
            "resolves to a loopback, private, link-local or reserved address "
            "(YMY_ALLOW_PRIVATE_PUSH_URLS=true permits it)"
        )
    return None


def netloc(host: str, port: int | None) -> str:
    """``host:port`` as a URL or a gRPC target writes it: an IPv6 literal in brackets."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return name if port is None else f"{name}:{port}"
