"""Builds the adapters from plain configuration values (the composition root calls this).

Which adapter serves a platform is its registry entry's `adapter`, an object reference
"module:attribute" (dotted attributes allowed, as in an entry point) of a factory
(`AdapterFactory`): the adapter class's `build`, `AdapterBase.build` unless the class overrides
it (Instagram does). The module is imported here, on first use, so this list of platforms has no
second copy and the registry imports no adapter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint
from typing import cast

import httpx

from adapters.base import Platform, PlatformAdapter, PlatformConfig
from adapters.errors import IntegrationBug
from adapters.http import DEFAULT_RETRY, RetryPolicy
from ops.foundation import platforms as platform_registry

# (the platform's config, the shared client, the retry policy, every platform's config) -> adapter.
# Every config: Instagram's adapter also takes Facebook's (for Facebook Login).
AdapterFactory = Callable[
    [PlatformConfig, httpx.Client, RetryPolicy, Mapping[Platform, PlatformConfig]], PlatformAdapter
]


@functools.cache
def adapter_factory(platform: str) -> AdapterFactory:
    """The factory the registry names for `platform`; IntegrationBug for an unknown platform."""
    try:
        reference = platform_registry.spec(platform).adapter
    except KeyError:
        raise IntegrationBug(f"no adapter for platform {platform!r}") from None
    # The entry point object reference syntax, resolved by the standard library
    # (https://packaging.python.org/en/latest/specifications/entry-points/#data-model).
    factory = EntryPoint(name=platform, value=reference, group="").load()
    if not callable(factory):
        raise IntegrationBug(f"the adapter of {platform!r} ({reference}) is not a factory")
    return cast("AdapterFactory", factory)


def build_adapter(
    config: PlatformConfig,
    client: httpx.Client,
    *,
    configs: Mapping[Platform, PlatformConfig] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> PlatformAdapter:
    """One platform's adapter; `configs` are the other platforms' (Instagram reads Facebook's)."""
    return adapter_factory(config.platform)(config, client, retry, configs or {config.platform: config})


def build_adapters(
    configs: Mapping[Platform, PlatformConfig] | Iterable[PlatformConfig],
    client: httpx.Client,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> dict[Platform, PlatformAdapter]:
    """Every configured platform's adapter, keyed by platform."""
    by_platform = dict(configs) if isinstance(configs, Mapping) else {c.platform: c for c in configs}
    return {
        platform: build_adapter(config, client, configs=by_platform, retry=retry)
        for platform, config in by_platform.items()
    }
