"""What the simulator needs of one simulated platform, kept beside its routes.

Each simulator module defines a `SimPlatform` per platform it serves (`simulator.meta` serves two)
and the platform's registry entry names it (`PlatformSpec.simulator`, "module:attribute"):
`simulator.catalog` loads it, `simulator.routes` mounts its routes, and the state, the admin API
and the request log read its facts from it. Nothing in the simulator lists the platforms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from starlette.routing import BaseRoute


def _as_given(platform_account_id: str) -> str:
    return platform_account_id


@dataclass(frozen=True)
class SimPlatform:
    name: str  # the registry's name
    # Mount path (e.g. "/x", "/linkedin-oauth") -> the routes served under it, built per app.
    routes: Callable[[], Mapping[str, Sequence[BaseRoute]]]
    # Counters an account starts with unless seeded otherwise (`SimAccount.counter`).
    default_counters: Mapping[str, int]
    # How long an access token the simulator issues lives.
    token_lifetime_seconds: int
    # Scenarios of this platform beyond `simulator.state.COMMON_SCENARIOS`.
    scenarios: tuple[str, ...] = ()
    # The stored form of an account id (LinkedIn stores URNs, whichever form it was given in).
    canonical_id: Callable[[str], str] = field(default=_as_given)
