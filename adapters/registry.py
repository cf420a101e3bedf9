"""Builds the adapters from plain configuration values (the composition root calls this)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx

from adapters.base import Platform, PlatformAdapter, PlatformConfig
from adapters.errors import IntegrationBug
from adapters.facebook import FacebookAdapter
from adapters.http import DEFAULT_RETRY, RetryPolicy
from adapters.instagram import InstagramAdapter
from adapters.linkedin import LinkedInAdapter
from adapters.tiktok import TikTokAdapter
from adapters.x import XAdapter


def build_adapter(
    config: PlatformConfig,
    client: httpx.Client,
    *,
    facebook: PlatformConfig | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> PlatformAdapter:
    """One platform's adapter. Instagram also takes the Facebook config (for Facebook Login)."""
    match config.platform:
        case "instagram":
            return InstagramAdapter(config, facebook, client, retry)
        case "facebook":
            return FacebookAdapter(config, client, retry)
        case "x":
            return XAdapter(config, client, retry)
        case "linkedin":
            return LinkedInAdapter(config, client, retry)
        case "tiktok":
            return TikTokAdapter(config, client, retry)
    raise IntegrationBug(f"no adapter for platform {config.platform!r}")


def build_adapters(
    configs: Mapping[Platform, PlatformConfig] | Iterable[PlatformConfig],
    client: httpx.Client,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> dict[Platform, PlatformAdapter]:
    """Every configured platform's adapter, keyed by platform."""
    by_platform = dict(configs) if isinstance(configs, Mapping) else {c.platform: c for c in configs}
    facebook = by_platform.get("facebook")
    return {
        platform: build_adapter(config, client, facebook=facebook, retry=retry)
        for platform, config in by_platform.items()
    }
