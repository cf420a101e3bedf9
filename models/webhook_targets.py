"""Which URLs a webhook may be sent to (no SSRF): checked when an endpoint is created, and again
for every connection at delivery time (worker.webhooks.transport), since DNS can change.

A target must be https and every address its host resolves to must be a global unicast address:
never loopback, private (RFC 1918, unique local), link-local (which holds the cloud metadata
address 169.254.169.254), carrier-grade NAT, multicast, reserved or unspecified. IPv6 forms that
carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96 of RFC 6052, 6to4
2002::/16 of RFC 3056) are judged by the IPv4 address they carry; the local-use NAT64 prefix
64:ff9b:1::/48 (RFC 8215), the deprecated site-local fec0::/10 (RFC 3879) and the IETF protocol
assignments 192.0.0.0/24 (RFC 6890) are refused outright. With `allow_loopback_http` (a
development setting) http and loopback addresses are allowed too, for local trials and tests;
private and metadata addresses still are not.

Refusals of an address or of a name that does not resolve all carry one generic text
(`NOT_PUBLIC`): a caller probing URLs learns nothing of the internal DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
MAX_URL_LENGTH = 2048
# getaddrinfo has no timeout of its own; a name server that never answers must not hold a request
# (or a delivery) longer than this.
RESOLVE_TIMEOUT_SECONDS = 5.0
NOT_PUBLIC = "the host must resolve to public addresses only"

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REFUSED_NETWORKS = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("fec0::/10"),
    ipaddress.IPv4Network("192.0.0.0/24"),
)
# Few threads: a resolution that hangs keeps its thread until the OS gives up, and with every
# thread stuck the next resolutions time out too (refused) instead of piling up threads.
_resolvers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class TargetRefused(Exception):
    """The URL is not an allowed webhook target; the message says why (no secret, no address)."""


class TargetUnresolved(TargetRefused):
    """The host did not resolve (in time). At creation a refusal; at delivery time a failed
    connection that is tried again, since DNS can recover."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolved(NOT_PUBLIC) from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_within(resolve: Resolver, host: str, port: int, timeout: float) -> list[str]:
    """`resolve(host, port)`, given up after `timeout` seconds (TargetUnresolved)."""
    future = _resolvers.submit(resolve, host, port)
    try:
        return list(future.result(timeout=max(timeout, 0.0)))
    except FutureTimeout:
        future.cancel()
        raise TargetUnresolved(NOT_PUBLIC) from None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 translation form carries: IPv4-mapped (::ffff:a.b.c.d),
    IPv4-compatible (::a.b.c.d, RFC 4291 2.5.5.1), NAT64 well-known prefix (RFC 6052) or 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in _NAT64 or (packed >> 32 == 0 and packed > 1):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def _address(raw: str) -> tuple[IPAddress, bool]:
    """The address to judge, and whether it was carried by a translation form (not ::ffff:)."""
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        raise TargetRefused(NOT_PUBLIC) from None
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            return carried, address.ipv4_mapped is None
    return address, False


def check_address(raw: str, *, allow_loopback: bool) -> IPAddress:
    """The address if a webhook may connect to it; TargetRefused otherwise."""
    address, translated = _address(raw)
    # A translated loopback (64:ff9b::127.0.0.1) does not reach this host: never allowed.
    if address.is_loopback and allow_loopback and not translated:
        return address
    # is_global is False for loopback, private, link-local, CGNAT, documentation and reserved
    # ranges; multicast is checked on its own (some multicast ranges count as global), and the
    # ranges of _REFUSED_NETWORKS too (some of their addresses count as global).
    refused = any(address.version == n.version and address in n for n in _REFUSED_NETWORKS)
    if refused or not address.is_global or address.is_multicast:
        raise TargetRefused(NOT_PUBLIC)
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
        raise TargetRefused(
            "URL must be https"
            + (
                ""
                if allow_loopback_http
                else " (http only with DRAVO_WEBHOOK_ALLOW_LOOPBACK_HTTP, for development)"
            )
        )
    if not parts.hostname:
        raise TargetRefused("URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("URL must not carry credentials")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default


def check_target(
    url: str,
    *,
    allow_loopback_http: bool,
    resolve: Resolver = system_resolver,
    timeout: float = RESOLVE_TIMEOUT_SECONDS,
) -> list[IPAddress]:
    """Every address the URL's host resolves to (within `timeout`), all allowed; TargetRefused
    otherwise. It blocks on DNS: call it before opening a transaction, never inside one."""
    _, host, port = parse_target(url, allow_loopback_http=allow_loopback_http)
    addresses = resolve_within(resolve, host, port, timeout)
    if not addresses:
        raise TargetUnresolved(NOT_PUBLIC)
    return [check_address(a, allow_loopback=allow_loopback_http) for a in addresses]
