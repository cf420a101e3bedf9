"""Which URLs a webhook may be sent to (no SSRF): checked when an endpoint is created, and again
for every connection at delivery time (worker.webhooks.transport), since DNS can change.

A target must be https and every address its host resolves to must be a global unicast address:
never loopback, private (RFC 1918, unique local), link-local (which holds the cloud metadata
address 169.254.169.254), carrier-grade NAT, multicast, reserved or unspecified. With
`allow_loopback_http` (a development setting) http and loopback addresses are allowed too, for
local trials and tests; private and metadata addresses still are not.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
MAX_URL_LENGTH = 2048


class TargetRefused(Exception):
    """The URL is not an allowed webhook target; the message says why (no secret in it)."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"host {host!r} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _address(raw: str) -> IPAddress:
    address = ipaddress.ip_address(raw.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def check_address(raw: str, *, allow_loopback: bool) -> IPAddress:
    """The address if a webhook may connect to it; TargetRefused otherwise."""
    address = _address(raw)
    if address.is_loopback and allow_loopback:
        return address
    # is_global is False for loopback, private, link-local, CGNAT, documentation and reserved
    # ranges; multicast is checked on its own (some multicast ranges count as global).
    if not address.is_global or address.is_multicast:
        raise TargetRefused(f"{address} is not a public address")
    return address


def parse_target(url: str, *, allow_loopback_http: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL shape; TargetRefused otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a URL: {exc}") from exc
    allowed = ("https", "http") if allow_loopback_http else ("https",)
    if parts.scheme not in allowed:
        raise TargetRefused("URL must be https" + ("" if allow_loopback_http else " (http is refused)"))
    if not parts.hostname:
        raise TargetRefused("URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("URL must not carry credentials")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default


def check_target(
    url: str, *, allow_loopback_http: bool, resolve: Resolver = system_resolver
) -> list[IPAddress]:
    """Every address the URL's host resolves to, all allowed; TargetRefused otherwise."""
    _, host, port = parse_target(url, allow_loopback_http=allow_loopback_http)
    addresses = resolve(host, port)
    if not addresses:
        raise TargetRefused(f"host {host!r} does not resolve")
    return [check_address(a, allow_loopback=allow_loopback_http) for a in addresses]
