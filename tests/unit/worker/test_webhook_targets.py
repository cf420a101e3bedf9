"""The SSRF guard's IPv6 translation forms, its one refusal text and its bounded DNS wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from models.webhook_targets import (
    NOT_PUBLIC,
    TargetRefused,
    TargetUnresolved,
    check_address,
    check_target,
)


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::10.0.0.1",  # NAT64 well-known prefix carrying a private address (RFC 6052)
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the metadata address
        "64:ff9b::127.0.0.1",
        "64:ff9b:1::808:808",  # local-use NAT64 prefix (RFC 8215): refused outright
        "2002:a00:1::1",  # 6to4 of 10.0.0.1 (RFC 3056)
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "::10.0.0.1",  # IPv4-compatible (RFC 4291 2.5.5.1)
        "::127.0.0.1",
        "::169.254.169.254",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "::ffff:192.168.0.1",
        "fec0::1",  # site-local (deprecated by RFC 3879)
        "fec0:0:0:ffff::1",
        "192.0.0.9",  # IETF protocol assignments (RFC 6890), partly "global" to ipaddress
        "192.0.0.170",
    ],
)
def test_translated_and_special_forms_are_refused(address: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        check_target("https://hooks.example.com/x", allow_loopback_http=False, resolve=resolver(address))
    assert str(refused.value) == NOT_PUBLIC


@pytest.mark.parametrize("address", ["64:ff9b::127.0.0.1", "::127.0.0.1", "2002:7f00:1::1"])
def test_translated_loopback_is_refused_even_when_loopback_is_allowed(address: str) -> None:
    with pytest.raises(TargetRefused):
        check_address(address, allow_loopback=True)


@pytest.mark.parametrize(
    ("address", "carried"),
    [("64:ff9b::808:808", "8.8.8.8"), ("2002:808:808::1", "8.8.8.8"), ("::ffff:8.8.4.4", "8.8.4.4")],
)
def test_translated_public_addresses_are_judged_by_the_address_they_carry(address: str, carried: str) -> None:
    assert str(check_address(address, allow_loopback=False)) == carried


def test_refusals_reveal_neither_the_address_nor_the_dns_error() -> None:
    messages: list[str] = []
    for resolve in (resolver("10.20.30.40"), resolver()):
        with pytest.raises(TargetRefused) as refused:
            check_target("https://internal.corp.example/x", allow_loopback_http=False, resolve=resolve)
        messages.append(str(refused.value))
    with pytest.raises(TargetRefused) as refused:
        check_target("https://nowhere.invalid/x", allow_loopback_http=False)
    messages.append(str(refused.value))
    assert set(messages) == {NOT_PUBLIC}
    assert all("10.20" not in m and "corp" not in m and "invalid" not in m for m in messages)


def test_a_name_server_that_never_answers_is_given_up_on() -> None:
    release = threading.Event()

    def hanging(host: str, port: int) -> Sequence[str]:
        release.wait(10)
        return ["93.184.215.14"]

    started = time.monotonic()
    try:
        with pytest.raises(TargetUnresolved):
            check_target(
                "https://slow-dns.example/x", allow_loopback_http=False, resolve=hanging, timeout=0.3
            )
    finally:
        release.set()
    assert time.monotonic() - started < 2
