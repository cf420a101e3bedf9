"""Pure parts of webhooks: the target policy (no SSRF), signatures, the retry schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from models.webhook_admin import new_secret
from models.webhook_targets import TargetRefused, check_address, check_target, parse_target
from worker.webhooks import signing
from worker.webhooks.retry import RetryPolicy


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata (link-local)
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6 (unique local)
        "::ffff:127.0.0.1",  # loopback dressed as IPv6
        "::ffff:169.254.169.254",
        "224.0.0.1",
        "ff02::1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    with pytest.raises(TargetRefused):
        check_target("https://hooks.example.com/x", allow_loopback_http=False, resolve=resolver(address))


def test_public_https_target_is_accepted() -> None:
    found = check_target(
        "https://hooks.example.com/x", allow_loopback_http=False, resolve=resolver("93.184.215.14")
    )
    assert [str(a) for a in found] == ["93.184.215.14"]


def test_one_internal_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(TargetRefused, match="public addresses only"):
        check_target(
            "https://hooks.example.com/x",
            allow_loopback_http=False,
            resolve=resolver("93.184.215.14", "10.0.0.5"),
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com",
        "https://",
        "https://user:pw@hooks.example.com/",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_target(url, allow_loopback_http=False)


def test_development_setting_allows_http_and_loopback_only() -> None:
    assert parse_target("http://127.0.0.1:9000/h", allow_loopback_http=True) == ("http", "127.0.0.1", 9000)
    assert str(check_address("127.0.0.1", allow_loopback=True)) == "127.0.0.1"
    for private in ("10.0.0.1", "169.254.169.254"):
        with pytest.raises(TargetRefused):
            check_address(private, allow_loopback=True)


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(TargetRefused, match="public addresses only"):
        check_target("https://nowhere.invalid/x", allow_loopback_http=False, resolve=resolver())


def test_signature_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    at = datetime.now(UTC)
    content = signing.body({"type": "account.status_changed", "data": {"to": "failed"}})
    headers = signing.signed_headers(secret, "msg_1", at, content)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(content, headers) == {
        "type": "account.status_changed",
        "data": {"to": "failed"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(content, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(content.replace("failed", "synced"), headers)


def test_retries_back_off_exponentially_with_jitter_then_stop_after_the_window() -> None:
    policy = RetryPolicy(base_seconds=5, max_seconds=3600, window=timedelta(hours=24))
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(3600, 5 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 3) for d in delays}) == len(delays)  # jittered
    created = datetime(2026, 12, 1, tzinfo=UTC)
    assert policy.next_attempt(1, created, created + timedelta(seconds=1), rng) is not None
    assert policy.next_attempt(30, created, created + timedelta(hours=23, minutes=59), rng) is None
