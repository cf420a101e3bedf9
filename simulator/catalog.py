"""The simulated platforms: the `SimPlatform` each registry entry names, loaded on first use.

Loaded by import path (`PlatformSpec.simulator`), so a new platform's simulator module is found
with no list to edit here, and loaded lazily, because the simulator modules import
`simulator.state`, which asks this module for their facts.
"""

from __future__ import annotations

import functools
from importlib import import_module

from ops.foundation import platforms as platform_registry
from simulator.platform import SimPlatform

__all__ = ["names", "simulated", "simulated_platforms"]


def names() -> tuple[str, ...]:
    """The simulated platforms: the registry's, in its order."""
    return platform_registry.PLATFORM_NAMES


@functools.cache
def simulated(platform: str) -> SimPlatform:
    """The simulated `platform`; KeyError for a platform the registry doesn't know."""
    module_name, _, attribute = platform_registry.spec(platform).simulator.partition(":")
    found = getattr(import_module(module_name), attribute)
    if not isinstance(found, SimPlatform) or found.name != platform:
        raise TypeError(f"{module_name}:{attribute} is not the SimPlatform of {platform!r}")
    return found


def simulated_platforms() -> tuple[SimPlatform, ...]:
    return tuple(simulated(name) for name in names())
